//! Encryption at rest of the local files: with an [`Encryption`] as the store's seal, the
//! snapshot, its backup and the apply journal hold no plain byte of the state; a wrong key or
//! no key is a clear error that changes nothing; an unencrypted state is encrypted in place
//! (with its backup) when allowed once.

use std::fs;
use std::sync::Arc;

use brick_state::{
    Change, Durability, IndexKey, ObjectState, ResourceAddr, Seal, State, StateError, StateStore,
};
use brick_state_backends::{Encryption, Key, KeySource};
use serde_json::json;
use tempfile::TempDir;

const SECRET: &str = "hunter2-very-secret-password";

fn pass(source: &str, value: &str) -> Key {
    Key::load(KeySource::Passphrase { source, value }).unwrap()
}

fn enc(value: &str, allow_unencrypted: bool) -> Option<Arc<dyn Seal>> {
    Some(Arc::new(Encryption::new(
        pass("BRICK_STATE_PASSPHRASE", value),
        None,
        allow_unencrypted,
    )))
}

fn store(dir: &TempDir, seal: Option<Arc<dyn Seal>>) -> StateStore {
    StateStore::new(dir.path().join("brick.state.json"), "0.1.0-test").with_seal(seal)
}

fn with_secret(mut state: State, name: &str) -> State {
    state.apply(&Change::Set {
        intent: None,
        addr: ResourceAddr::managed("maas_machine", name).instance(IndexKey::None),
        deposed: None,
        provider: "provider[\"brick/maas\"]".into(),
        object: ObjectState::new(json!({"hostname": name, "password": SECRET})),
    });
    state
}

/// Every file in `dir`, by name, with its bytes.
fn files(dir: &TempDir) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn no_plain_secret(dir: &TempDir) {
    for (name, bytes) in files(dir) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET),
            "{name} holds the secret in plain text"
        );
        assert!(
            !text.contains("kvm1"),
            "{name} holds an address in plain text"
        );
    }
}

#[test]
fn snapshot_backup_and_journal_hold_no_plain_text() {
    let dir = TempDir::new().unwrap();
    let key = "correct horse battery staple";
    let s = store(&dir, enc(key, false));
    let lock = s.lock("apply").unwrap();
    let mut state = with_secret(State::new("0.1.0"), "kvm1");
    s.save(&lock, &state).unwrap();
    state.serial += 1;
    state = with_secret(state, "kvm1b");
    s.save(&lock, &state).unwrap();
    assert!(s.backup_path().exists());
    // An apply killed half-way: its journal stays, with a new object recorded.
    let journal = s.begin_apply(&lock, state.clone()).unwrap();
    journal
        .record(
            Change::Set {
                intent: None,
                addr: ResourceAddr::managed("maas_machine", "kvm1c").instance(IndexKey::None),
                deposed: None,
                provider: "provider[\"brick/maas\"]".into(),
                object: ObjectState::new(json!({"password": SECRET})),
            },
            Durability::Sync,
        )
        .unwrap();
    drop(journal);
    drop(lock);
    assert!(s.journal_path().exists());
    no_plain_secret(&dir);

    // Read back with the key: the snapshot and the journal's record.
    let loaded = s.load().unwrap().unwrap();
    let replay = loaded.replay.expect("the journal is replayed");
    assert_eq!(replay.records, 1);
    let text = String::from_utf8_lossy(&brick_state::to_bytes(&loaded.state)).into_owned();
    assert!(text.contains("kvm1c") && text.contains(SECRET), "{text}");

    // A wrong key, or none: a clear error naming the key source, and nothing changes.
    let before = files(&dir);
    let wrong = store(&dir, enc("not the passphrase at all", false));
    let e = wrong.load().unwrap_err();
    assert!(matches!(e, StateError::Decrypt { .. }), "{e}");
    assert!(e.to_string().contains("BRICK_STATE_PASSPHRASE"), "{e}");
    let lock = wrong.lock("apply").unwrap();
    assert!(matches!(
        wrong.load_locked(&lock),
        Err(StateError::Decrypt { .. })
    ));
    drop(lock);
    let e = store(&dir, None).load().unwrap_err();
    assert!(e.to_string().contains("no key is configured"), "{e}");
    assert_eq!(files(&dir), before, "a failed read changes nothing");

    // The right key folds the journal: still nothing in plain text.
    let lock = s.lock("plan").unwrap();
    let folded = s.load_locked(&lock).unwrap().unwrap();
    assert!(folded.replay.is_some());
    drop(lock);
    assert!(!s.journal_path().exists());
    no_plain_secret(&dir);
}

#[test]
fn an_unencrypted_state_is_encrypted_in_place_only_when_allowed() {
    let dir = TempDir::new().unwrap();
    let plain = store(&dir, None);
    let lock = plain.lock("apply").unwrap();
    let mut state = with_secret(State::new("0.1.0"), "kvm1");
    plain.save(&lock, &state).unwrap();
    state.serial += 1;
    state = with_secret(state, "kvm1b");
    plain.save(&lock, &state).unwrap();
    drop(lock);
    assert!(String::from_utf8_lossy(&fs::read(plain.backup_path()).unwrap()).contains(SECRET));

    // Encryption on, plain state, not allowed: refused with the way out, nothing changed.
    let before = files(&dir);
    let strict = store(&dir, enc("correct horse battery staple", false));
    let e = strict.load().unwrap_err();
    assert!(
        e.to_string().contains("BRICK_STATE_ALLOW_UNENCRYPTED"),
        "{e}"
    );
    assert_eq!(files(&dir), before);

    // Allowed once: the next locked load seals the snapshot and its backup in place.
    let migrating = store(&dir, enc("correct horse battery staple", true));
    let lock = migrating.lock("plan").unwrap();
    let loaded = migrating.load_locked(&lock).unwrap().unwrap();
    assert_eq!(loaded.state, state);
    drop(lock);
    no_plain_secret(&dir);
    // From now on the strict store reads it.
    assert_eq!(strict.load().unwrap().unwrap().state, state);
}
