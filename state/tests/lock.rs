//! Locking: contention between processes, stale locks, force-unlock and release on drop.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use brick_state::{StateError, StateStore};
use tempfile::TempDir;

const CHILD_ENV: &str = "BRICK_STATE_TEST_LOCK_CHILD";

/// Not a test of its own: the body a child process runs when spawned by the tests below.
/// It takes the lock of the state named in the environment, prints the lock id, and holds
/// the lock until its stdin closes (or it is killed).
#[test]
#[ignore = "the body of a child process the other tests spawn (with --ignored)"]
fn child_process_holds_the_lock_when_asked() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = StateStore::new(path, "0.1.0-child");
    let lock = store.lock("apply").unwrap();
    println!("LOCKED {}", lock.info().id);
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(lock);
}

fn spawn_holder(store: &StateStore) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_holds_the_lock_when_asked",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, store.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let id = loop {
        let line = lines
            .next()
            .expect("the child exited before locking")
            .unwrap();
        // libtest prints the test's name on the same line, before the test's output.
        if let Some((_, id)) = line.split_once("LOCKED ") {
            break id.trim().to_string();
        }
    };
    // Keep reading so the child never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, id)
}

fn store(dir: &TempDir) -> StateStore {
    StateStore::new(dir.path().join("brick.state.json"), "0.1.0-test")
}

#[test]
fn a_second_process_fails_at_once_with_an_error_naming_the_holder() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let (mut child, id) = spawn_holder(&store);
    let err = store.lock("plan").unwrap_err();
    match &err {
        StateError::Locked { holder, .. } => {
            assert_eq!(holder.id, id);
            assert_eq!(holder.pid, child.id());
            assert_eq!(holder.operation, "apply");
            assert_eq!(holder.brick_version, "0.1.0-child");
            assert!(!holder.user.is_empty() && !holder.host.is_empty());
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&id) && msg.contains(&format!("pid {}", child.id())),
        "{msg}"
    );
    let status = store.lock_status().unwrap().unwrap();
    assert!(!status.stale);
    // The child releases the lock when it ends normally; then we can take it.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert!(store.lock_status().unwrap().is_none());
    store.lock("apply").unwrap();
}

#[test]
fn a_lock_left_by_a_killed_process_is_stale_and_force_unlock_needs_its_id() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let (mut child, id) = spawn_holder(&store);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(store.lock_status().unwrap().unwrap().stale);

    let wrong = store.force_unlock("not-the-id").unwrap_err();
    assert!(matches!(&wrong, StateError::LockIdMismatch { actual, .. } if *actual == id));
    assert!(store.lock_path().exists());

    let holder = store.force_unlock(&id).unwrap();
    assert_eq!(holder.id, id);
    assert!(!store.lock_path().exists());
    assert!(matches!(
        store.force_unlock(&id),
        Err(StateError::NotLocked { .. })
    ));
    let lock = store.lock("apply").unwrap();
    assert!(lock.taken_over().is_none());
}

#[test]
fn the_lock_of_a_killed_process_of_this_host_is_taken_over_and_named() {
    // Issue 10, item 8: after kill -9, the next locker takes the lock over (and says whose
    // it was) instead of refusing until someone runs force-unlock.
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let (mut child, id) = spawn_holder(&store);
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let lock = store.lock("apply").unwrap();
    let old = lock.taken_over().expect("the stale lock was taken over");
    assert_eq!((old.id.as_str(), old.pid), (id.as_str(), pid));
    assert_eq!(
        store.lock_status().unwrap().unwrap().holder.id,
        lock.info().id
    );
    // Ours now: a third locker is refused, and it is released as any lock.
    assert!(matches!(store.lock("plan"), Err(StateError::Locked { .. })));
    drop(lock);
    assert!(!store.lock_path().exists());
}

#[test]
fn many_lockers_racing_for_one_stale_lock_end_with_exactly_one_holder() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    for _round in 0..20 {
        let (mut child, _) = spawn_holder(&store);
        child.kill().unwrap();
        child.wait().unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let winners: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    store.lock("apply").ok()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(winners.len(), 1, "exactly one locker wins");
        let winner = winners.into_iter().next().unwrap();
        assert_eq!(
            store.lock_status().unwrap().unwrap().holder.id,
            winner.info().id
        );
        drop(winner);
    }
}

#[test]
fn a_lock_is_released_when_dropped_and_is_exclusive_within_a_process_too() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    assert!(matches!(
        store.lock("apply"),
        Err(StateError::Locked { .. })
    ));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(store.lock_path()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    drop(lock);
    assert!(!store.lock_path().exists());
    let again = store.lock("apply").unwrap();
    again.release().unwrap();
    assert!(!store.lock_path().exists());
}

#[test]
fn dropping_a_lock_that_was_forcibly_taken_over_leaves_the_new_holders_lock_alone() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let first = store.lock("apply").unwrap();
    store.force_unlock(&first.info().id.clone()).unwrap();
    let second = store.lock("apply").unwrap();
    drop(first);
    assert_eq!(
        store.lock_status().unwrap().unwrap().holder.id,
        second.info().id
    );
}

fn write_lock(store: &StateStore, host: &str, pid: u32, pid_start: Option<u64>) {
    let info = serde_json::json!({
        "id": "11111111-2222-3333-4444-555555555555",
        "operation": "apply",
        "user": "someone",
        "host": host,
        "pid": pid,
        "pid_start": pid_start,
        "created": "2026-01-01T00:00:00Z",
        "brick_version": "0.0.9",
        "path": store.path().display().to_string(),
    });
    std::fs::write(store.lock_path(), serde_json::to_vec_pretty(&info).unwrap()).unwrap();
}

#[test]
fn a_lock_held_on_another_host_is_never_called_stale() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    write_lock(&store, "some-other-host.invalid", 999_999_999, None);
    assert!(matches!(
        store.lock("apply"),
        Err(StateError::Locked { .. })
    ));
    assert!(!store.lock_status().unwrap().unwrap().stale);
}

#[test]
fn a_lock_whose_pid_was_reused_by_another_process_is_stale() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let me = std::process::id();
    let host = StateStore::new(dir.path().join("probe"), "x")
        .lock("probe")
        .unwrap()
        .info()
        .host
        .clone();
    // Our own pid with the right start time: alive.
    let start = {
        let probe = StateStore::new(dir.path().join("probe2"), "x")
            .lock("probe")
            .unwrap();
        probe.info().pid_start
    };
    write_lock(&store, &host, me, start);
    assert!(matches!(
        store.lock("apply"),
        Err(StateError::Locked { .. })
    ));
    // Our pid but another start time: the recorded process is gone, the pid reused.
    if let Some(s) = start {
        write_lock(&store, &host, me, Some(s + 1));
        assert!(store.lock_status().unwrap().unwrap().stale);
        let lock = store.lock("apply").unwrap();
        assert_eq!(lock.taken_over().unwrap().pid, me);
    } else {
        eprintln!("skipped the pid-reuse half: no process start time on this system");
    }
}

#[test]
fn an_unreadable_lock_file_is_an_error_not_a_free_lock() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    std::fs::write(store.lock_path(), b"garbage").unwrap();
    assert!(matches!(
        store.lock("apply"),
        Err(StateError::Corrupt { .. })
    ));
    assert_eq!(std::fs::read(store.lock_path()).unwrap(), b"garbage");
}
