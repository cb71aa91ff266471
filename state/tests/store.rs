//! The state store: atomic writes, the backup, file modes, and the rules that refuse a write.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use brick_state::{
    Change, IndexKey, ObjectState, ResourceAddr, State, StateError, StateStore, to_bytes,
};
use serde_json::json;
use tempfile::TempDir;

fn store(dir: &TempDir) -> StateStore {
    StateStore::new(dir.path().join("brick.state.json"), "0.1.0-test")
}

fn with_machine(mut state: State, name: &str) -> State {
    state.apply(&Change::Set {
        intent: None,
        addr: ResourceAddr::managed("maas_machine", name).instance(IndexKey::None),
        deposed: None,
        provider: "provider[\"brick/maas\"]".into(),
        object: ObjectState::new(json!({"hostname": name})),
    });
    state
}

#[test]
fn a_saved_state_loads_back_equal_with_mode_0600() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    assert!(store.load().unwrap().is_none());
    let lock = store.lock("apply").unwrap();
    let state = with_machine(State::new("0.1.0"), "kvm1");
    store.save(&lock, &state).unwrap();
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.state, state);
    assert!(loaded.replay.is_none());
    let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(fs::read(store.path()).unwrap(), to_bytes(&state));
}

#[test]
fn each_write_keeps_the_previous_file_as_the_backup() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    let mut state = with_machine(State::new("0.1.0"), "kvm1");
    store.save(&lock, &state).unwrap();
    assert!(!store.backup_path().exists());
    let first = fs::read(store.path()).unwrap();
    state = with_machine(state, "kvm2");
    state.serial += 1;
    store.save(&lock, &state).unwrap();
    assert_eq!(fs::read(store.backup_path()).unwrap(), first);
    let mode = fs::metadata(store.backup_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // No temporary files are left behind.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp.")), "{names:?}");
}

#[test]
fn a_lower_or_equal_serial_is_never_written_over_a_newer_state() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    let mut state = with_machine(State::new("0.1.0"), "kvm1");
    state.serial = 5;
    store.save(&lock, &state).unwrap();
    let on_disk = fs::read(store.path()).unwrap();
    for serial in [4, 5] {
        let mut older = with_machine(state.clone(), "other");
        older.serial = serial;
        match store.save(&lock, &older) {
            Err(StateError::SerialRegression {
                on_disk: 5, ours, ..
            }) => assert_eq!(ours, serial),
            other => panic!("serial {serial}: expected a serial regression, got {other:?}"),
        }
    }
    assert_eq!(fs::read(store.path()).unwrap(), on_disk);
    // Writing exactly what is on disk is a harmless no-op.
    store.save(&lock, &state).unwrap();
}

#[test]
fn a_state_of_another_lineage_is_never_written_over_this_one() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    store
        .save(&lock, &State::with_lineage("mine", "0.1.0"))
        .unwrap();
    let mut theirs = State::with_lineage("theirs", "0.1.0");
    theirs.serial = 100;
    let err = store.save(&lock, &theirs).unwrap_err();
    assert!(
        matches!(&err, StateError::LineageMismatch { on_disk, ours, .. } if on_disk == "mine" && ours == "theirs")
    );
    assert_eq!(store.read_snapshot().unwrap().unwrap().lineage, "mine");
}

#[test]
fn a_truncated_state_file_is_an_error_and_saving_over_it_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    let state = with_machine(State::new("0.1.0"), "kvm1");
    store.save(&lock, &state).unwrap();
    let bytes = fs::read(store.path()).unwrap();
    for cut in [1, bytes.len() / 3, bytes.len() - 3] {
        fs::write(store.path(), &bytes[..cut]).unwrap();
        let err = store.load().unwrap_err();
        assert!(
            matches!(err, StateError::Corrupt { .. }),
            "cut at {cut}: {err:?}"
        );
        let mut next = state.clone();
        next.serial += 1;
        assert!(matches!(
            store.save(&lock, &next),
            Err(StateError::Corrupt { .. })
        ));
        assert_eq!(fs::read(store.path()).unwrap(), &bytes[..cut]);
        assert!(!store.backup_path().exists());
    }
}

#[test]
fn a_crash_before_the_rename_leaves_the_old_state_whole() {
    // Simulate a process killed after writing its temporary file but before the rename:
    // the state file is untouched and the leftover temporary file is ignored.
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    let state = with_machine(State::new("0.1.0"), "kvm1");
    store.save(&lock, &state).unwrap();
    let mut next = with_machine(state.clone(), "kvm2");
    next.serial += 1;
    let half = to_bytes(&next);
    fs::write(
        dir.path().join("brick.state.json.tmp.999.0"),
        &half[..half.len() / 2],
    )
    .unwrap();
    assert_eq!(store.load().unwrap().unwrap().state, state);
    store.save(&lock, &next).unwrap();
    assert_eq!(store.load().unwrap().unwrap().state, next);
}

#[test]
fn a_newer_format_on_disk_is_neither_read_nor_overwritten() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    let newer = "{\"format_version\": 99, \"serial\": 1, \"lineage\": \"l\"}\n";
    fs::write(store.path(), newer).unwrap();
    assert!(matches!(
        store.load(),
        Err(StateError::NewerFormat { found: 99, .. })
    ));
    let mut state = State::with_lineage("l", "0.1.0");
    state.serial = 2;
    assert!(matches!(
        store.save(&lock, &state),
        Err(StateError::NewerFormat { found: 99, .. })
    ));
    assert_eq!(fs::read_to_string(store.path()).unwrap(), newer);
}

#[test]
fn saving_needs_the_lock_of_the_same_state() {
    let dir = TempDir::new().unwrap();
    let a = StateStore::new(dir.path().join("a.json"), "0.1.0");
    let b = StateStore::new(dir.path().join("b.json"), "0.1.0");
    let lock_b = b.lock("apply").unwrap();
    let err = a.save(&lock_b, &State::new("0.1.0")).unwrap_err();
    assert!(matches!(err, StateError::WrongLock { .. }));
    assert!(!a.path().exists());
}

const CHILD_ENV: &str = "BRICK_STATE_TEST_SAVE_CHILD";

/// Not a test of its own: the body of a child process that saves a growing state over and
/// over until the test kills it with SIGKILL.
#[test]
#[ignore = "the body of a child process the other tests spawn (with --ignored)"]
fn child_process_saves_until_killed_when_asked() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = StateStore::new(path, "0.1.0-child");
    let lock = store.lock("apply").unwrap();
    let mut state = State::with_lineage("saver", "0.1.0");
    for i in 0.. {
        state = with_machine(state, &format!("m{i}"));
        state.serial += 1;
        store.save(&lock, &state).unwrap();
        if i == 20 {
            println!("PROGRESS");
            std::io::Write::flush(&mut std::io::stdout()).unwrap();
        }
    }
}

#[test]
fn a_process_killed_while_saving_leaves_a_whole_state_and_a_whole_backup() {
    use std::io::BufRead;
    for round in 0..3 {
        let dir = TempDir::new().unwrap();
        let store = store(&dir);
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process_saves_until_killed_when_asked",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, store.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        // libtest prints the test's name on the same line, before the test's output.
        while !lines
            .next()
            .expect("the child ended early")
            .unwrap()
            .contains("PROGRESS")
        {}
        std::thread::sleep(std::time::Duration::from_millis(10 + 17 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        let state = store.load().unwrap().unwrap().state;
        let backup = brick_state::from_bytes(
            &fs::read(store.backup_path()).unwrap(),
            &store.backup_path(),
        )
        .unwrap();
        assert!(state.serial > 20);
        assert_eq!(
            state.object_count() as u64,
            state.serial,
            "serial n holds n machines"
        );
        // Killed between keeping the backup and renaming the new file: both hold the same.
        assert!(backup.serial <= state.serial);
        assert_eq!(backup.object_count() as u64, backup.serial);
    }
}

#[test]
fn a_state_that_is_a_symbolic_link_is_written_through_to_its_target_with_the_backup_beside_it() {
    // Issue 10, item 6: the link stays a link, the target receives every write.
    let dir = TempDir::new().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    let target = dir.path().join("real/state.json");
    std::os::unix::fs::symlink("real/state.json", dir.path().join("brick.state.json")).unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    let mut state = with_machine(State::new("0.1.0"), "kvm1");
    store.save(&lock, &state).unwrap();
    let first = fs::read(&target).unwrap();
    state = with_machine(state, "kvm2");
    state.serial += 1;
    store.save(&lock, &state).unwrap();
    assert!(
        fs::symlink_metadata(store.path())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&target).unwrap(), to_bytes(&state));
    assert_eq!(
        store.backup_path(),
        dir.path().join("real/state.json.backup")
    );
    assert_eq!(fs::read(store.backup_path()).unwrap(), first);
    assert_eq!(store.load().unwrap().unwrap().state, state);
    let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_state_path_that_is_no_regular_file_is_refused_at_once() {
    // Issue 10, item 5: `--state /dev/zero` must not be read until memory runs out.
    let store = StateStore::new("/dev/zero", "0.1.0-test");
    let err = store.read_snapshot().unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn a_state_read_before_the_lock_is_used_only_while_its_file_is_unchanged() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    assert!(store.preread().is_none(), "no snapshot, nothing read");
    let lock = store.lock("apply").unwrap();
    let first = with_machine(State::new("0.1.0"), "kvm1");
    store.save(&lock, &first).unwrap();
    lock.release().unwrap();

    // Unchanged: the early read is what the lock gives.
    let pre = store.preread().unwrap();
    assert_eq!(pre.state, first);
    let lock = store.lock("plan").unwrap();
    let loaded = store
        .load_locked_preread(&lock, Some(pre))
        .unwrap()
        .unwrap();
    assert!(loaded.from_preread);
    assert_eq!(loaded.state, first);

    // Another brick saved between the early read and the lock: read again, under the lock.
    let pre = store.preread().unwrap();
    let mut second = with_machine(first.clone(), "kvm2");
    second.serial += 1;
    store.save(&lock, &second).unwrap();
    let loaded = store
        .load_locked_preread(&lock, Some(pre))
        .unwrap()
        .unwrap();
    assert!(!loaded.from_preread);
    assert_eq!(loaded.state, second);

    // Edited in place, same size and inode: the status-change time tells.
    let pre = store.preread().unwrap();
    let bytes = fs::read(store.path()).unwrap();
    let edited = String::from_utf8(bytes).unwrap().replace("kvm2", "kvm3");
    // Past the clock's tick: file times may be as coarse as the kernel's timer.
    std::thread::sleep(std::time::Duration::from_millis(50));
    fs::write(store.path(), edited).unwrap();
    let loaded = store
        .load_locked_preread(&lock, Some(pre))
        .unwrap()
        .unwrap();
    assert!(!loaded.from_preread);
    assert!(
        loaded.state.resources.keys().any(|r| r.name == "kvm3"),
        "the edit is read"
    );
    lock.release().unwrap();
}

#[test]
fn no_state_is_read_early_while_a_journal_is_present() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let lock = store.lock("apply").unwrap();
    store
        .save(&lock, &with_machine(State::new("0.1.0"), "kvm1"))
        .unwrap();
    fs::write(store.journal_path(), b"").unwrap();
    assert!(store.preread().is_none());
    lock.release().unwrap();
}
