//! The apply journal: intents and results, group commit, compaction, and recovery after a
//! crash (dropped journal, torn last record, kill -9).

use std::fs;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::pin::pin;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll, Wake};

use brick_state::{
    Change, Durability, IndexKey, InstanceAddr, IntentAction, ObjectState, Output, ResourceAddr,
    State, StateError, StateStore,
};
use serde_json::json;
use tempfile::TempDir;

const PROVIDER: &str = "provider[\"brick/maas\"]";

fn store(dir: &TempDir) -> StateStore {
    StateStore::new(dir.path().join("brick.state.json"), "0.1.0-test")
}

fn machine(name: &str) -> InstanceAddr {
    ResourceAddr::managed("maas_machine", "node").instance(IndexKey::String(name.into()))
}

/// A store with a saved empty state at serial 1.
fn saved(dir: &TempDir) -> (StateStore, brick_state::StateLock, State) {
    let store = store(dir);
    let lock = store.lock("apply").unwrap();
    let mut state = State::with_lineage("lineage-1", "0.1.0");
    state.serial = 1;
    store.save(&lock, &state).unwrap();
    (store, lock, state)
}

fn created(intent: u64, name: &str) -> Change {
    Change::Set {
        intent: Some(intent),
        addr: machine(name),
        deposed: None,
        provider: PROVIDER.into(),
        object: ObjectState::new(json!({"hostname": name, "system_id": format!("id-{name}")})),
    }
}

#[test]
fn finishing_an_apply_folds_the_journal_into_the_next_serial_and_removes_it() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    assert!(store.journal_path().exists());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(store.journal_path()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    for name in ["kvm1", "kvm2"] {
        let id = journal
            .record_intent(
                machine(name),
                None,
                IntentAction::Create,
                PROVIDER,
                json!({"hostname": name}),
            )
            .unwrap();
        journal
            .record(created(id, name), Durability::Batched)
            .unwrap();
    }
    let out = Output {
        value: json!("10.0.0.1"),
        type_: json!("string"),
        sensitive: false,
    };
    journal
        .record(
            Change::SetOutput {
                name: "ip".into(),
                output: Some(out.clone()),
            },
            Durability::Batched,
        )
        .unwrap();
    let finished = journal.finish().unwrap();
    assert_eq!(finished.serial, 2);
    assert!(finished.pending.is_empty());
    assert!(!store.journal_path().exists());
    let on_disk = store.load().unwrap().unwrap();
    assert!(on_disk.replay.is_none());
    assert_eq!(on_disk.state, finished);
    assert_eq!(
        on_disk
            .state
            .object(&machine("kvm2"))
            .unwrap()
            .attributes
            .value()["system_id"],
        "id-kvm2"
    );
    assert_eq!(on_disk.state.outputs["ip"], out);
}

#[test]
fn finishing_an_apply_that_recorded_nothing_keeps_the_serial() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let before = fs::read(store.path()).unwrap();
    let finished = store.begin_apply(&lock, state).unwrap().finish().unwrap();
    assert_eq!(finished.serial, 1);
    assert_eq!(fs::read(store.path()).unwrap(), before);
    assert!(!store.journal_path().exists());
}

#[test]
fn after_a_crash_loading_replays_results_and_reports_intents_without_result() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    let a = journal
        .record_intent(
            machine("kvm1"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    journal
        .record(created(a, "kvm1"), Durability::Batched)
        .unwrap();
    let b = journal
        .record_intent(
            machine("kvm2"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({"hostname": "kvm2"}),
        )
        .unwrap();
    journal.flush().unwrap();
    // The process dies here: the journal is never finished.
    drop(journal);
    drop(lock);

    let loaded = store.load().unwrap().unwrap();
    let replay = loaded.replay.clone().unwrap();
    assert_eq!(
        (
            replay.base_serial,
            replay.records,
            replay.torn_tail,
            replay.stale
        ),
        (1, 3, false, false)
    );
    assert_eq!(loaded.state.serial, 1, "load alone writes nothing");
    assert!(loaded.state.object(&machine("kvm1")).is_some());
    assert!(loaded.state.object(&machine("kvm2")).is_none());
    let pending: Vec<_> = loaded.state.pending.values().collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, b);
    assert_eq!(pending[0].addr, machine("kvm2"));
    assert_eq!(pending[0].action, IntentAction::Create);
    assert_eq!(pending[0].planned, json!({"hostname": "kvm2"}));
    assert!(store.journal_path().exists());
}

#[test]
fn loading_under_the_lock_folds_the_journal_and_keeps_unfinished_intents_until_resolved() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    let a = journal
        .record_intent(
            machine("kvm1"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    drop(journal);

    // A journal that was not folded cannot be started over.
    let stale_state = store.read_snapshot().unwrap().unwrap();
    assert!(matches!(
        store.begin_apply(&lock, stale_state),
        Err(StateError::JournalPending { .. })
    ));

    let loaded = store.load_locked(&lock).unwrap().unwrap();
    assert_eq!(loaded.state.serial, 2);
    assert!(!store.journal_path().exists());
    // The unfinished intent survived into the snapshot itself.
    let snapshot = store.read_snapshot().unwrap().unwrap();
    assert_eq!(snapshot, loaded.state);
    assert_eq!(snapshot.pending[&a].addr, machine("kvm1"));

    // The engine asks the provider, finds the machine, and records it against the intent.
    let journal = store.begin_apply(&lock, loaded.state).unwrap();
    let b = journal.next_intent_id();
    assert!(b > a, "intent ids are never reused within a lineage");
    journal
        .record(created(a, "kvm1"), Durability::Batched)
        .unwrap();
    let done = journal.finish().unwrap();
    assert_eq!(done.serial, 3);
    assert!(done.pending.is_empty());
    assert!(done.object(&machine("kvm1")).is_some());
}

#[test]
fn a_torn_last_record_is_dropped_and_everything_before_it_is_kept() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    let a = journal
        .record_intent(
            machine("kvm1"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    journal
        .record(created(a, "kvm1"), Durability::Sync)
        .unwrap();
    let b = journal
        .record_intent(
            machine("kvm2"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    journal
        .record(created(b, "kvm2"), Durability::Sync)
        .unwrap();
    drop(journal);
    let full = fs::read(store.journal_path()).unwrap();
    let last_line_start = full[..full.len() - 1]
        .iter()
        .rposition(|&c| c == b'\n')
        .unwrap()
        + 1;
    // Cut the last record at every length, and also damage a byte of it.
    let mut variants: Vec<Vec<u8>> = (last_line_start + 1..full.len() - 1)
        .step_by(7)
        .map(|cut| full[..cut].to_vec())
        .collect();
    let mut flipped = full.clone();
    flipped[full.len() - 5] ^= 0x20;
    variants.push(flipped);
    let mut zero_tail = full[..last_line_start].to_vec();
    zero_tail.extend(std::iter::repeat_n(0u8, 4096));
    variants.push(zero_tail);
    for bytes in variants {
        fs::write(store.journal_path(), &bytes).unwrap();
        let loaded = store.load().unwrap().unwrap();
        let replay = loaded.replay.unwrap();
        assert!(replay.torn_tail, "{} bytes", bytes.len());
        assert_eq!(replay.records, 3);
        assert!(loaded.state.object(&machine("kvm1")).is_some());
        assert!(loaded.state.object(&machine("kvm2")).is_none());
        assert!(
            loaded.state.pending.contains_key(&b),
            "the intent whose result was torn is unfinished"
        );
    }
}

#[test]
fn a_damaged_record_followed_by_valid_ones_is_an_error_not_silently_dropped() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    for name in ["kvm1", "kvm2", "kvm3"] {
        let id = journal
            .record_intent(
                machine(name),
                None,
                IntentAction::Create,
                PROVIDER,
                json!({}),
            )
            .unwrap();
        journal
            .record(created(id, name), Durability::Batched)
            .unwrap();
    }
    drop(journal);
    let mut bytes = fs::read(store.journal_path()).unwrap();
    let second_line = bytes.iter().position(|&c| c == b'\n').unwrap() + 1;
    bytes[second_line + 20] ^= 0x01;
    fs::write(store.journal_path(), &bytes).unwrap();
    let err = store.load().unwrap_err();
    assert!(
        matches!(err, StateError::JournalCorrupt { offset, .. } if offset == second_line as u64),
        "{err:?}"
    );
    assert_eq!(
        miette::Diagnostic::code(&err).unwrap().to_string(),
        "brick::state::journal_corrupt"
    );
}

#[test]
fn a_journal_already_folded_into_the_snapshot_is_ignored_and_then_removed() {
    // A crash after the snapshot was written but before the journal was removed.
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    let a = journal
        .record_intent(
            machine("kvm1"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    journal
        .record(created(a, "kvm1"), Durability::Batched)
        .unwrap();
    journal.flush().unwrap();
    let copy = fs::read(store.journal_path()).unwrap();
    let finished = journal.finish().unwrap();
    fs::write(store.journal_path(), copy).unwrap();

    let loaded = store.load().unwrap().unwrap();
    assert!(loaded.replay.unwrap().stale);
    assert_eq!(loaded.state, finished);
    let loaded = store.load_locked(&lock).unwrap().unwrap();
    assert_eq!(loaded.state.serial, finished.serial);
    assert!(!store.journal_path().exists());
}

#[test]
fn a_journal_of_another_lineage_is_refused() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    journal
        .record_intent(
            machine("kvm1"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    drop(journal);
    // Another state file (another lineage) appears at the same path.
    let other = State::with_lineage("lineage-2", "0.1.0");
    fs::write(store.path(), brick_state::to_bytes(&other)).unwrap();
    assert!(matches!(
        store.load(),
        Err(StateError::JournalLineage { .. })
    ));
}

#[test]
fn an_apply_from_no_state_file_recovers_from_its_journal_alone() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    let journal = store
        .begin_apply(&lock, State::with_lineage("fresh", "0.1.0"))
        .unwrap();
    let a = journal
        .record_intent(
            machine("kvm1"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    drop(journal);
    assert!(!store.path().exists());
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.state.lineage, "fresh");
    assert!(loaded.state.pending.contains_key(&a));
    let folded = store.load_locked(&lock).unwrap().unwrap();
    assert_eq!(folded.state.serial, 1);
    assert_eq!(store.read_snapshot().unwrap().unwrap().pending.len(), 1);
}

#[test]
fn a_journal_whose_begin_record_never_reached_the_disk_is_ignored() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    fs::write(store.journal_path(), b"1a2b3c4d {\"begin\":{\"lin").unwrap();
    let loaded = store.load().unwrap().unwrap();
    assert!(loaded.replay.is_none());
    assert_eq!(loaded.state, state);
    store.begin_apply(&lock, state).unwrap().finish().unwrap();
}

#[test]
fn create_before_destroy_deposes_the_old_object_then_destroys_it() {
    let dir = TempDir::new().unwrap();
    let (store, lock, mut state) = saved(&dir);
    state.apply(&created(0, "kvm1"));
    state.serial += 1;
    store.save(&lock, &state).unwrap();
    let journal = store.begin_apply(&lock, state).unwrap();
    let key = brick_state::new_deposed_key();
    journal
        .record(
            Change::Depose {
                addr: machine("kvm1"),
                key: key.clone(),
            },
            Durability::Batched,
        )
        .unwrap();
    let c = journal
        .record_intent(
            machine("kvm1"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    let mut new = ObjectState::new(json!({"hostname": "kvm1", "system_id": "new"}));
    new.create_before_destroy = true;
    journal
        .record(
            Change::Set {
                intent: Some(c),
                addr: machine("kvm1"),
                deposed: None,
                provider: PROVIDER.into(),
                object: new,
            },
            Durability::Batched,
        )
        .unwrap();
    let mid = journal.with_state(|s| s.instance(&machine("kvm1")).unwrap().clone());
    assert_eq!(mid.deposed[&key].attributes.value()["system_id"], "id-kvm1");
    assert_eq!(
        mid.current.as_ref().unwrap().attributes.value()["system_id"],
        "new"
    );
    let d = journal
        .record_intent(
            machine("kvm1"),
            Some(key.clone()),
            IntentAction::Delete,
            PROVIDER,
            json!({"system_id": "id-kvm1"}),
        )
        .unwrap();
    journal
        .record(
            Change::Remove {
                intent: Some(d),
                addr: machine("kvm1"),
                deposed: Some(key),
            },
            Durability::Batched,
        )
        .unwrap();
    let done = journal.finish().unwrap();
    let inst = done.instance(&machine("kvm1")).unwrap();
    assert!(inst.deposed.is_empty());
    assert_eq!(
        inst.current.as_ref().unwrap().attributes.value()["system_id"],
        "new"
    );
    assert!(done.pending.is_empty());
}

#[test]
fn a_failed_call_resolves_its_intent_without_changing_the_state() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    let a = journal
        .record_intent(
            machine("kvm1"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    journal
        .record(
            Change::Resolve {
                intent: a,
                message: "409 conflict".into(),
            },
            Durability::Batched,
        )
        .unwrap();
    let done = journal.finish().unwrap();
    assert!(done.pending.is_empty());
    assert!(done.resources.is_empty());
}

#[test]
fn many_batched_results_share_fsyncs_and_are_all_durable_after_flush() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = Arc::new(store.begin_apply(&lock, state).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let journal = Arc::clone(&journal);
            std::thread::spawn(move || {
                for i in 0..250 {
                    let name = format!("n{t}-{i}");
                    let id = journal
                        .record_intent(
                            machine(&name),
                            None,
                            IntentAction::Create,
                            PROVIDER,
                            json!({}),
                        )
                        .unwrap();
                    journal
                        .record(created(id, &name), Durability::Batched)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    journal.flush().unwrap();
    let stats = journal.stats();
    assert_eq!(stats.records, 2000);
    assert!(stats.fsyncs < stats.records, "{stats:?}");
    let journal = Arc::into_inner(journal).unwrap();
    drop(journal);
    // Everything flushed is in the file, in a replayable order.
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.replay.unwrap().records, 2000);
    assert_eq!(loaded.state.object_count(), 1000);
    assert!(loaded.state.pending.is_empty());
}

struct ThreadWaker(std::thread::Thread);
impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Arc::new(ThreadWaker(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn the_async_record_resolves_once_the_record_is_durable() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    let id = journal.next_intent_id();
    let intent = brick_state::Intent {
        id,
        addr: machine("kvm1"),
        deposed: None,
        action: IntentAction::Create,
        provider: PROVIDER.into(),
        planned: json!({}),
    };
    block_on(journal.record_async(Change::Intent(intent), Durability::Sync)).unwrap();
    // Durable means readable by another process right now.
    let seen = brick_state::StateStore::new(store.path(), "x")
        .load()
        .unwrap()
        .unwrap();
    assert!(seen.state.pending.contains_key(&id));
    block_on(journal.record_async(created(id, "kvm1"), Durability::Batched)).unwrap();
    assert!(journal.finish().unwrap().object(&machine("kvm1")).is_some());
}

const CHILD_ENV: &str = "BRICK_STATE_TEST_JOURNAL_CHILD";

/// Not a test of its own: the body of a child process that applies forever (intent, then
/// result, for machine after machine) until the test kills it with SIGKILL.
#[test]
#[ignore = "the body of a child process the other tests spawn (with --ignored)"]
fn child_process_applies_until_killed_when_asked() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = StateStore::new(path, "0.1.0-child");
    let lock = store.lock("apply").unwrap();
    let state = store
        .load_locked(&lock)
        .unwrap()
        .map_or_else(|| State::with_lineage("crash", "0.1.0"), |l| l.state);
    let journal = store.begin_apply(&lock, state).unwrap();
    for i in 0.. {
        let name = format!("m{i}");
        let id = journal
            .record_intent(
                machine(&name),
                None,
                IntentAction::Create,
                PROVIDER,
                json!({"n": i}),
            )
            .unwrap();
        journal
            .record(created(id, &name), Durability::Batched)
            .unwrap();
        if i == 300 {
            println!("PROGRESS");
            std::io::stdout().flush().unwrap();
        }
    }
}

#[test]
fn a_process_killed_mid_apply_leaves_a_state_that_loads_and_tracks_every_machine() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_applies_until_killed_when_asked",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, store.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // libtest prints the test's name on the same line, before the test's output.
    while !lines
        .next()
        .expect("the child ended early")
        .unwrap()
        .contains("PROGRESS")
    {}
    std::thread::sleep(std::time::Duration::from_millis(30));
    child.kill().unwrap();
    child.wait().unwrap();

    let loaded = store.load().unwrap().unwrap();
    let state = &loaded.state;
    // Every machine the child started is either recorded or an unfinished intent, and the
    // child got at least as far as it said.
    let mut highest = None;
    for i in 0.. {
        let name = format!("m{i}");
        let recorded = state.object(&machine(&name)).is_some();
        let pending = state.pending.values().any(|p| p.addr == machine(&name));
        if !recorded && !pending {
            break;
        }
        assert!(
            !(recorded && pending),
            "{name} is both recorded and pending"
        );
        highest = Some(i);
    }
    let highest = highest.expect("nothing recorded");
    assert!(highest >= 300, "only {highest} machines recorded");
    assert_eq!(
        state.object_count() + state.pending.len(),
        highest + 1,
        "no gaps, nothing extra"
    );
    assert!(
        state.pending.len() <= 1,
        "intents are synchronous, so at most the last is open"
    );

    // The next run (after the stale lock is removed) folds the journal and carries on.
    let holder = store.lock_status().unwrap().unwrap();
    assert!(holder.stale);
    store.force_unlock(&holder.holder.id).unwrap();
    let lock = store.lock("apply").unwrap();
    let folded = store.load_locked(&lock).unwrap().unwrap();
    assert_eq!(folded.state.object_count(), state.object_count());
    assert_eq!(folded.state.pending.len(), state.pending.len());
}

#[test]
fn intents_recorded_together_share_one_fsync_and_an_unstarted_one_resolves_cleanly() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state).unwrap();
    let ids: Vec<u64> = (0..20).map(|_| journal.next_intent_id()).collect();
    let intents = ids.iter().map(|&id| {
        Change::Intent(brick_state::Intent {
            id,
            addr: machine(&format!("m{id}")),
            deposed: None,
            action: IntentAction::Create,
            provider: PROVIDER.into(),
            planned: json!({}),
        })
    });
    let before = journal.stats().fsyncs;
    journal.record_all(intents, Durability::Sync).unwrap();
    assert_eq!(journal.stats().fsyncs - before, 1);
    // Nineteen calls ran; the last never started (the run was interrupted), so recovery asks
    // the provider, finds nothing, and resolves it.
    for &id in &ids[..19] {
        journal
            .record(created(id, &format!("m{id}")), Durability::Batched)
            .unwrap();
    }
    drop(journal);
    let loaded = store.load_locked(&lock).unwrap().unwrap();
    assert_eq!(
        loaded.state.pending.keys().copied().collect::<Vec<_>>(),
        vec![ids[19]]
    );
    let journal = store.begin_apply(&lock, loaded.state).unwrap();
    journal
        .record(
            Change::Resolve {
                intent: ids[19],
                message: "not found on recovery".into(),
            },
            Durability::Batched,
        )
        .unwrap();
    let done = journal.finish().unwrap();
    assert!(done.pending.is_empty());
    assert_eq!(done.object_count(), 19);
}

const FULL_ENV: &str = "BRICK_STATE_TEST_DISK_FULL_CHILD";

/// Not a test of its own: the body of a child process whose file size limit makes the
/// journal's writes fail part-way, as a full disk would.
#[test]
#[ignore = "the body of a child process the other tests spawn (with --ignored)"]
fn child_process_runs_out_of_space_when_asked() {
    let Ok(path) = std::env::var(FULL_ENV) else {
        return;
    };
    let store = StateStore::new(path, "0.1.0-child");
    let lock = store.lock("apply").unwrap();
    let journal = store
        .begin_apply(&lock, State::with_lineage("full", "0.1.0"))
        .unwrap();
    let a = journal
        .record_intent(
            machine("kvm1"),
            None,
            IntentAction::Create,
            PROVIDER,
            json!({}),
        )
        .unwrap();
    journal
        .record(created(a, "kvm1"), Durability::Sync)
        .unwrap();
    let size = fs::metadata(store.journal_path()).unwrap().len();
    // SAFETY: plain libc calls on this process; writes past the limit fail with EFBIG
    // instead of killing the process once SIGXFSZ is ignored.
    #[allow(
        unsafe_code,
        reason = "setrlimit and signal have no safe std equivalent"
    )]
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit {
            rlim_cur: size + 100,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let big = json!({"blob": "x".repeat(1000)});
    let err = journal
        .record_intent(
            machine("kvm2"),
            None,
            IntentAction::Create,
            PROVIDER,
            big.clone(),
        )
        .unwrap_err();
    assert!(matches!(err, StateError::JournalFailed { .. }), "{err:?}");
    // Once failed, the journal refuses everything, and finishing reports the failure.
    let again = journal
        .record(created(a, "kvm1"), Durability::Batched)
        .unwrap_err();
    assert!(matches!(again, StateError::JournalFailed { .. }));
    assert!(matches!(
        journal.finish(),
        Err(StateError::JournalFailed { .. })
    ));
    println!("CHILD-OK");
}

#[test]
fn a_journal_that_cannot_be_written_fails_every_later_record_and_keeps_what_was_written() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_runs_out_of_space_when_asked",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FULL_ENV, store.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD-OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let loaded = store.load().unwrap().unwrap();
    assert!(loaded.state.object(&machine("kvm1")).is_some());
    assert!(loaded.state.object(&machine("kvm2")).is_none());
}

#[test]
fn a_journal_its_writer_still_holds_is_never_folded_or_removed_by_another_locker() {
    // Issue 10, item 7: the lock was broken while an apply ran; the next locker must not
    // fold (nor drop) the journal the apply is still appending to.
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state.clone()).unwrap();
    journal
        .record(created(1, "kvm1"), Durability::Sync)
        .unwrap();
    store.force_unlock(&lock.info().id.clone()).unwrap();
    let second = store.lock("apply").unwrap();
    assert!(matches!(
        store.load_locked(&second),
        Err(StateError::JournalInUse { .. })
    ));
    assert!(matches!(
        store.begin_apply(&second, state),
        Err(StateError::JournalInUse { .. })
    ));
    assert!(store.journal_path().exists());
    drop(second);
    // The writer finishes normally: everything it recorded is in the state.
    let folded = journal.finish().unwrap();
    assert_eq!(folded.serial, 2);
    assert!(!store.journal_path().exists());
    drop(lock);
}

#[test]
fn a_fold_that_finds_a_newer_state_names_what_it_could_not_record_and_keeps_the_journal_aside() {
    let dir = TempDir::new().unwrap();
    let (store, lock, state) = saved(&dir);
    let journal = store.begin_apply(&lock, state.clone()).unwrap();
    journal
        .record(created(1, "kvm1"), Durability::Sync)
        .unwrap();
    // Someone else writes serial 5 meanwhile.
    let mut newer = state;
    newer.serial = 5;
    store.save(&lock, &newer).unwrap();
    let err = journal.finish().unwrap_err();
    match &err {
        StateError::NotRecorded {
            objects, journal, ..
        } => {
            assert_eq!(objects, &[r#"maas_machine.node["kvm1"]"#.to_string()]);
            assert!(journal.ends_with("brick.state.json.journal.unrecorded"));
            assert!(journal.exists());
        }
        other => panic!("expected NotRecorded, got {other:?}"),
    }
    assert!(
        err.to_string().contains(r#"maas_machine.node["kvm1"]"#),
        "{err}"
    );
    assert!(!store.journal_path().exists());
}
