//! API versions that current releases of well-known operators no longer serve, with what to
//! write instead: the help of an "Unknown kind" diagnostic for a manifest written for an older
//! release (the seed's `kafka.strimzi.io/v1beta2` Kafka with ZooKeeper, say).

/// (API group, the only version its current release serves, what to write instead).
const REMOVED: &[(&str, &str, &str)] = &[(
    "kafka.strimzi.io",
    "v1",
    "Strimzi 1.x serves only kafka.strimzi.io/v1 (v1beta2 and older were removed), and runs Kafka only in KRaft mode with KafkaNodePools: a Kafka has no `zookeeper` block, and its brokers' replicas, roles and storage are in a KafkaNodePool labelled strimzi.io/cluster=<the Kafka's name>. Write apiVersion kafka.strimzi.io/v1 in that shape (KafkaTopic and KafkaUser only change apiVersion), or use the strimzi provider's strimzi_kafka and strimzi_topic resources, which write it for you.",
)];

/// What to write instead of `api_version`, when it is a version of a well-known group that
/// its current release no longer serves (`None` otherwise).
pub fn unknown_kind_help(api_version: &str) -> Option<&'static str> {
    let (group, version) = api_version.split_once('/')?;
    REMOVED
        .iter()
        .find(|(g, served, _)| *g == group && *served != version)
        .map(|(_, _, help)| *help)
}

#[cfg(test)]
mod tests {
    use super::unknown_kind_help;

    #[test]
    fn an_old_strimzi_version_gets_the_hint_and_the_served_one_does_not() {
        let help = unknown_kind_help("kafka.strimzi.io/v1beta2").expect("a hint");
        assert!(help.contains("kafka.strimzi.io/v1 ") && help.contains("KafkaNodePool"));
        assert_eq!(unknown_kind_help("kafka.strimzi.io/v1"), None);
        assert_eq!(unknown_kind_help("v1"), None);
        assert_eq!(unknown_kind_help("apps/v1beta2"), None);
    }
}
