//! Replication-factor changes in place: a partition reassignment (AlterPartitionReassignments,
//! KIP-455 — what kafka-reassign-partitions.sh sends), which librdkafka lacks, over
//! [`crate::wire`], then waited on through ListPartitionReassignments with progress. The topic
//! keeps its data: new replicas copy it from the current ones before old ones are dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey, BrokerId,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::error::RDKafkaErrorCode;

use crate::client::{CONNECT_TIMEOUT, Settings};
use crate::ffi::AdminError;
use crate::wire::{Conn, kafka_code};

/// The replicas of each partition (in partition order) after changing the replication factor
/// to `rf`: a shrinking partition keeps its first replicas (the preferred leader stays); a
/// growing one keeps all of its replicas and adds the brokers that hold the fewest replicas of
/// this topic. Every partition keeps at least one of its current replicas, so no data moves
/// that need not.
pub fn new_assignment(current: &[Vec<i32>], brokers: &[i32], rf: usize) -> Vec<Vec<i32>> {
    let mut load: BTreeMap<i32, usize> = brokers.iter().map(|b| (*b, 0)).collect();
    for r in current.iter().flatten() {
        *load.entry(*r).or_default() += 1;
    }
    current
        .iter()
        .enumerate()
        .map(|(p, replicas)| {
            let mut out: Vec<i32> = replicas.iter().copied().take(rf).collect();
            for dropped in replicas.iter().skip(rf) {
                if let Some(l) = load.get_mut(dropped) {
                    *l = l.saturating_sub(1);
                }
            }
            while out.len() < rf {
                // The least-loaded broker not yet a replica; ties rotate with the partition.
                let n = brokers.len().max(1);
                let pick = (0..brokers.len())
                    .map(|i| brokers[(i + p) % n])
                    .filter(|b| !out.contains(b))
                    .min_by_key(|b| load.get(b).copied().unwrap_or(0));
                let Some(b) = pick else { break };
                *load.entry(b).or_default() += 1;
                out.push(b);
            }
            out
        })
        .collect()
}

fn text(s: &Option<StrBytes>) -> Option<String> {
    s.as_ref().map(|m| m.to_string())
}

/// Starts the reassignment of `topic` to `assignment` (one request for all partitions).
pub fn start(settings: &Settings, topic: &str, assignment: &[Vec<i32>]) -> Result<(), AdminError> {
    let mut conn = Conn::open(settings, CONNECT_TIMEOUT)?;
    let partitions = assignment
        .iter()
        .enumerate()
        .map(|(p, r)| {
            ReassignablePartition::default()
                .with_partition_index(p as i32)
                .with_replicas(Some(r.iter().map(|b| BrokerId(*b)).collect()))
        })
        .collect();
    let req = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![
            ReassignableTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partitions(partitions),
        ]);
    let r: AlterPartitionReassignmentsResponse =
        conn.call(ApiKey::AlterPartitionReassignments, 0, &req)?;
    kafka_code(r.error_code, text(&r.error_message).as_deref())?;
    for t in r.responses {
        for p in t.partitions {
            kafka_code(p.error_code, text(&p.error_message).as_deref()).map_err(|e| {
                AdminError {
                    message: format!("partition {}: {}", p.partition_index, e.message),
                    ..e
                }
            })?;
        }
    }
    Ok(())
}

/// How many of `topic`'s `partitions` are still being reassigned.
pub fn ongoing(settings: &Settings, topic: &str, partitions: usize) -> Result<usize, AdminError> {
    let mut conn = Conn::open(settings, CONNECT_TIMEOUT)?;
    let req = ListPartitionReassignmentsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(Some(vec![
            ListPartitionReassignmentsTopics::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partition_indexes((0..partitions as i32).collect()),
        ]));
    let r: ListPartitionReassignmentsResponse =
        conn.call(ApiKey::ListPartitionReassignments, 0, &req)?;
    kafka_code(r.error_code, text(&r.error_message).as_deref())?;
    Ok(r.topics.iter().map(|t| t.partitions.len()).sum())
}

/// How long a reassignment may take before brick stops waiting (it goes on in Kafka).
pub const REASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// The error for a reassignment still running when brick stops waiting.
pub fn still_running(topic: &str, left: usize) -> AdminError {
    AdminError {
        code: RDKafkaErrorCode::OperationTimedOut,
        message: format!(
            "the reassignment of topic {topic} is still running ({left} partition(s) left); it goes on in Kafka, and the next refresh reads the result"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_keeps_every_replica_and_spreads_the_new_ones() {
        let current = vec![vec![1], vec![2], vec![3], vec![1]];
        let next = new_assignment(&current, &[1, 2, 3], 3);
        for (was, now) in current.iter().zip(&next) {
            assert_eq!(now[0], was[0], "the preferred leader stays");
            assert_eq!(now.len(), 3);
            let mut d = now.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), 3, "distinct brokers: {now:?}");
        }
        let two = new_assignment(&current, &[1, 2, 3], 2);
        let mut per_broker = BTreeMap::new();
        for r in two.iter().flatten() {
            *per_broker.entry(*r).or_insert(0) += 1;
        }
        assert!(
            per_broker.values().all(|n| (2..=3).contains(n)),
            "{per_broker:?}"
        );
    }

    #[test]
    fn shrinking_keeps_the_first_replicas() {
        let current = vec![vec![2, 3, 1], vec![3, 1, 2]];
        assert_eq!(
            new_assignment(&current, &[1, 2, 3], 1),
            vec![vec![2], vec![3]]
        );
    }
}
