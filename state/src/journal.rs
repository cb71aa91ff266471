//! The apply journal: an append-only file `<state>.journal` of changes made during an apply,
//! written by one background thread with group commit, replayed after a crash and folded into
//! a new snapshot when the apply ends.
//!
//! Each record is one line: eight hex digits of the CRC-32 of the JSON that follows, a space,
//! the JSON record, a newline. The first record is `begin` (lineage and serial of the
//! snapshot the apply started from); the others are [`Change`]s in the order they were made.

use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{StateError, io as io_err};
use crate::format::{KeyOut, key_from_json};
use crate::model::{
    Change, InstanceAddr, Intent, IntentAction, Mode, ObjectState, Output, ResourceAddr, State,
};
use crate::seal::Seal;
use crate::store::{ENVELOPE, StateStore};
use crate::sys;

/// How long a caller of [`Journal::record`] waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Return once the record is on disk (fsynced). For intents: the provider call must not
    /// start before its intent is durable.
    Sync,
    /// Return once the record is queued; it reaches disk with the next batch, in order.
    /// For results: a crash may lose the last few, and their intents are then reported as
    /// unfinished, so nothing is lost track of.
    Batched,
}

/// What reading a journal found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// The serial of the snapshot the apply started from.
    pub base_serial: u64,
    /// Changes replayed (0 when the journal was stale: already folded into the snapshot).
    pub records: usize,
    /// A torn last record (the process died while writing it) was dropped.
    pub torn_tail: bool,
    /// The journal had already been folded into the snapshot and was ignored.
    pub stale: bool,
}

/// A journal file as read.
pub(crate) struct JournalFile {
    pub(crate) base_serial: u64,
    lineage: String,
    brick_version: String,
    changes: Vec<Change>,
    torn_tail: bool,
}

impl JournalFile {
    pub(crate) fn records(&self) -> usize {
        self.changes.len()
    }
}

#[derive(Deserialize)]
struct DocAddr {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    module: String,
    mode: Mode,
    #[serde(rename = "type")]
    type_name: String,
    name: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    index_key: Value,
}

impl DocAddr {
    fn into_addr(self) -> Result<InstanceAddr, String> {
        Ok(InstanceAddr {
            key: key_from_json(&self.index_key)?,
            resource: ResourceAddr {
                module: self.module,
                mode: self.mode,
                type_name: self.type_name,
                name: self.name,
            },
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Record {
    Begin {
        lineage: String,
        serial: u64,
        brick_version: String,
    },
    Intent {
        id: u64,
        addr: DocAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deposed: Option<String>,
        action: IntentAction,
        provider: String,
        planned: Value,
    },
    Set {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intent: Option<u64>,
        addr: DocAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deposed: Option<String>,
        provider: String,
        object: ObjectState,
    },
    Remove {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intent: Option<u64>,
        addr: DocAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deposed: Option<String>,
    },
    Depose {
        addr: DocAddr,
        key: String,
    },
    Resolve {
        intent: u64,
        message: String,
    },
    Output {
        name: String,
        output: Option<Output>,
    },
}

/// A record borrowed from a [`Change`], for writing without copying attributes.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum RecordOut<'a> {
    Begin {
        lineage: &'a str,
        serial: u64,
        brick_version: &'a str,
    },
    Intent {
        id: u64,
        addr: AddrOut<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        deposed: Option<&'a str>,
        action: IntentAction,
        provider: &'a str,
        planned: &'a Value,
    },
    Set {
        #[serde(skip_serializing_if = "Option::is_none")]
        intent: Option<u64>,
        addr: AddrOut<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        deposed: Option<&'a str>,
        provider: &'a str,
        object: &'a ObjectState,
    },
    Remove {
        #[serde(skip_serializing_if = "Option::is_none")]
        intent: Option<u64>,
        addr: AddrOut<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        deposed: Option<&'a str>,
    },
    Depose {
        addr: AddrOut<'a>,
        key: &'a str,
    },
    Resolve {
        intent: u64,
        message: &'a str,
    },
    Output {
        name: &'a str,
        output: Option<&'a Output>,
    },
}

#[derive(Serialize)]
struct AddrOut<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    module: &'a str,
    mode: Mode,
    #[serde(rename = "type")]
    type_name: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "KeyOut::is_none")]
    index_key: KeyOut<'a>,
}

impl<'a> AddrOut<'a> {
    fn from(a: &'a InstanceAddr) -> AddrOut<'a> {
        AddrOut {
            module: &a.resource.module,
            mode: a.resource.mode,
            type_name: &a.resource.type_name,
            name: &a.resource.name,
            index_key: KeyOut(&a.key),
        }
    }
}

impl<'a> RecordOut<'a> {
    fn from_change(c: &'a Change) -> RecordOut<'a> {
        match c {
            Change::Intent(i) => RecordOut::Intent {
                id: i.id,
                addr: AddrOut::from(&i.addr),
                deposed: i.deposed.as_deref(),
                action: i.action,
                provider: &i.provider,
                planned: &i.planned,
            },
            Change::Set {
                intent,
                addr,
                deposed,
                provider,
                object,
            } => RecordOut::Set {
                intent: *intent,
                addr: AddrOut::from(addr),
                deposed: deposed.as_deref(),
                provider,
                object,
            },
            Change::Remove {
                intent,
                addr,
                deposed,
            } => RecordOut::Remove {
                intent: *intent,
                addr: AddrOut::from(addr),
                deposed: deposed.as_deref(),
            },
            Change::Depose { addr, key } => RecordOut::Depose {
                addr: AddrOut::from(addr),
                key,
            },
            Change::Resolve { intent, message } => RecordOut::Resolve {
                intent: *intent,
                message,
            },
            Change::SetOutput { name, output } => RecordOut::Output {
                name,
                output: output.as_ref(),
            },
        }
    }
}

impl Record {
    fn into_change(self) -> Result<Change, String> {
        Ok(match self {
            Record::Begin { .. } => return Err("a second begin record".into()),
            Record::Intent {
                id,
                addr,
                deposed,
                action,
                provider,
                planned,
            } => Change::Intent(Intent {
                id,
                addr: addr.into_addr()?,
                deposed,
                action,
                provider,
                planned,
            }),
            Record::Set {
                intent,
                addr,
                deposed,
                provider,
                object,
            } => Change::Set {
                intent,
                addr: addr.into_addr()?,
                deposed,
                provider,
                object,
            },
            Record::Remove {
                intent,
                addr,
                deposed,
            } => Change::Remove {
                intent,
                addr: addr.into_addr()?,
                deposed,
            },
            Record::Depose { addr, key } => Change::Depose {
                addr: addr.into_addr()?,
                key,
            },
            Record::Resolve { intent, message } => Change::Resolve { intent, message },
            Record::Output { name, output } => Change::SetOutput { name, output },
        })
    }
}

/// Appends `record` to `out`; with a seal, the JSON is sealed (one line) and the CRC covers
/// the sealed bytes, so a torn record is found without a key.
fn encode(
    record: &RecordOut<'_>,
    seal: Option<&dyn Seal>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let start = out.len();
    out.extend_from_slice(b"00000000 ");
    match seal {
        None => {
            serde_json::to_writer(&mut *out, record).expect("a journal record always serializes")
        }
        Some(seal) => {
            let plain = serde_json::to_vec(record).expect("a journal record always serializes");
            match seal.seal(&plain) {
                Ok(sealed) => out.extend_from_slice(&sealed),
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
    }
    let crc = crc32fast::hash(&out[start + 9..]);
    out[start..start + 8].copy_from_slice(format!("{crc:08x}").as_bytes());
    out.push(b'\n');
    Ok(())
}

/// Decodes one line (without its newline); `Ok(None)` when it is damaged, an error when it
/// is whole but cannot be decrypted (a wrong key must never pass for a torn record).
fn decode(line: &[u8], seal: Option<&dyn Seal>) -> Result<Option<Record>, String> {
    if line.len() < 10 || line[8] != b' ' {
        return Ok(None);
    }
    let Some(crc) = std::str::from_utf8(&line[..8])
        .ok()
        .and_then(|h| u32::from_str_radix(h, 16).ok())
    else {
        return Ok(None);
    };
    let json = &line[9..];
    if crc32fast::hash(json) != crc {
        return Ok(None);
    }
    let plain = match seal {
        Some(seal) => std::borrow::Cow::Owned(seal.open(json)?),
        None if json.starts_with(ENVELOPE) => {
            return Err("it is encrypted, and no key is configured".into());
        }
        None => std::borrow::Cow::Borrowed(json),
    };
    Ok(serde_json::from_slice(&plain).ok())
}

/// Reads the journal at `path`. `None` when there is none, or when not even its begin record
/// reached the disk (nothing was done yet).
pub(crate) fn read(
    path: &Path,
    seal: Option<&dyn Seal>,
) -> Result<Option<JournalFile>, StateError> {
    let bytes = match sys::read_bounded(path, sys::MAX_STATE_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read the journal", path)(e)),
    };
    let corrupt = |offset: usize, detail: String| StateError::JournalCorrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        detail,
    };
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| start + p);
        lines.push((start, &bytes[start..end]));
        start = end + 1;
    }
    let mut records = Vec::new();
    let mut torn_tail = false;
    for (n, &(offset, line)) in lines.iter().enumerate() {
        match decode(line, seal) {
            Ok(Some(r)) => records.push((offset, r)),
            Err(detail) => {
                return Err(StateError::Decrypt {
                    path: path.to_path_buf(),
                    detail: format!("the record at byte {offset}: {detail}"),
                });
            }
            Ok(None) => {
                // A damaged record is a torn tail only if nothing valid follows it.
                if let Some(&(later, _)) = lines[n + 1..]
                    .iter()
                    .find(|(_, l)| !matches!(decode(l, seal), Ok(None)))
                {
                    return Err(corrupt(
                        offset,
                        format!("a damaged record is followed by a valid one at byte {later}"),
                    ));
                }
                torn_tail = true;
                break;
            }
        }
    }
    let mut records = records.into_iter();
    let Some((_, first)) = records.next() else {
        return Ok(None);
    };
    let Record::Begin {
        lineage,
        serial,
        brick_version,
    } = first
    else {
        return Err(corrupt(0, "the first record is not a begin record".into()));
    };
    let mut changes = Vec::new();
    for (offset, r) in records {
        changes.push(r.into_change().map_err(|d| corrupt(offset, d))?);
    }
    Ok(Some(JournalFile {
        base_serial: serial,
        lineage,
        brick_version,
        changes,
        torn_tail,
    }))
}

/// Replays `journal` onto `snapshot`. A journal older than the snapshot was already folded
/// into it and is ignored.
pub(crate) fn replay(
    path: &Path,
    snapshot: Option<State>,
    journal: JournalFile,
) -> Result<(Option<State>, Option<Replay>), StateError> {
    let mut state = match snapshot {
        Some(s) => {
            if s.lineage != journal.lineage {
                return Err(StateError::JournalLineage {
                    path: path.to_path_buf(),
                    journal: journal.lineage,
                    state: s.lineage,
                });
            }
            if s.serial > journal.base_serial {
                let replay = Replay {
                    base_serial: journal.base_serial,
                    records: 0,
                    torn_tail: journal.torn_tail,
                    stale: true,
                };
                return Ok((Some(s), Some(replay)));
            }
            if s.serial < journal.base_serial {
                return Err(StateError::JournalSerial {
                    path: path.to_path_buf(),
                    journal: journal.base_serial,
                    state: s.serial,
                });
            }
            s
        }
        None if journal.base_serial == 0 => {
            State::with_lineage(journal.lineage.clone(), journal.brick_version.clone())
        }
        None => {
            return Err(StateError::JournalSerial {
                path: path.to_path_buf(),
                journal: journal.base_serial,
                state: 0,
            });
        }
    };
    let records = journal.changes.len();
    for c in journal.changes {
        state.apply_owned(c);
    }
    let replay = Replay {
        base_serial: journal.base_serial,
        records,
        torn_tail: journal.torn_tail,
        stale: false,
    };
    Ok((Some(state), Some(replay)))
}

/// Counters of a journal's work, for measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Changes recorded.
    pub records: u64,
    /// Batches written, each with one fsync.
    pub fsyncs: u64,
}

struct Shared {
    state: State,
    /// Encoded records not yet handed to the writer.
    buf: Vec<u8>,
    /// Sequence number of the last record queued.
    queued: u64,
    /// Sequence number of the last record on disk.
    durable: u64,
    failed: Option<String>,
    closing: bool,
    wakers: Vec<(u64, Waker)>,
    next_intent: u64,
    stats: JournalStats,
    /// The objects this journal recorded a result for (`Set`, `Remove`, `Depose`), as
    /// `ADDR` or `ADDR (id "…")`, for the error that names them when they cannot be folded.
    touched: std::collections::BTreeSet<String>,
}

struct Inner {
    path: PathBuf,
    shared: Mutex<Shared>,
    /// The writer waits here for records.
    work: Condvar,
    /// Callers wait here for durability.
    done: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed(&self, detail: &str) -> StateError {
        StateError::JournalFailed {
            path: self.path.clone(),
            detail: detail.to_string(),
        }
    }
}

/// An open apply journal. Shareable between threads (`&self` methods); the state it holds is
/// the snapshot it started from with every recorded change applied.
///
/// Dropping it without [`Journal::finish`] writes out what is queued and leaves the journal on
/// disk, as a crash would: the next [`StateStore::load`] replays it.
pub struct Journal {
    inner: Arc<Inner>,
    writer: Option<JoinHandle<()>>,
    store: StateStore,
    base_serial: u64,
    /// The journal file, open for as long as this journal lives, holding an exclusive
    /// `flock`: how another process knows a live writer still appends to it (see
    /// [`sys::in_use`]). The kernel drops the `flock` when this process dies.
    _writer_lock: File,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.inner.path)
            .field("base_serial", &self.base_serial)
            .finish_non_exhaustive()
    }
}

impl Journal {
    pub(crate) fn create(store: StateStore, state: State) -> Result<Journal, StateError> {
        let path = store.journal_path();
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("create the journal", &path))?;
        let writer_lock = file
            .try_clone()
            .and_then(|f| sys::lock_exclusive(&f).map(|()| f))
            .map_err(io_err("lock the journal", &path))?;
        let mut begin = Vec::new();
        encode(
            &RecordOut::Begin {
                lineage: &state.lineage,
                serial: state.serial,
                brick_version: &state.brick_version,
            },
            store.seal(),
            &mut begin,
        )
        .map_err(|detail| StateError::Encrypt {
            path: path.clone(),
            detail,
        })?;
        file.write_all(&begin)
            .and_then(|()| file.sync_all())
            .and_then(|()| sys::sync_dir(&sys::parent_dir(&path)))
            .map_err(io_err("write the journal", &path))?;
        let next_intent = state.pending.keys().next_back().map_or(1, |k| k + 1);
        let base_serial = state.serial;
        let inner = Arc::new(Inner {
            path,
            shared: Mutex::new(Shared {
                state,
                buf: Vec::new(),
                queued: 0,
                durable: 0,
                failed: None,
                closing: false,
                wakers: Vec::new(),
                next_intent,
                stats: JournalStats::default(),
                touched: Default::default(),
            }),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let writer_inner = Arc::clone(&inner);
        let writer = std::thread::Builder::new()
            .name("brick-journal".into())
            .spawn(move || write_loop(&writer_inner, file))
            .map_err(io_err("start the journal writer for", &inner.path))?;
        Ok(Journal {
            inner,
            writer: Some(writer),
            store,
            base_serial,
            _writer_lock: writer_lock,
        })
    }

    /// A fresh intent id, unique within the lineage.
    pub fn next_intent_id(&self) -> u64 {
        let mut s = self.inner.lock();
        let id = s.next_intent;
        s.next_intent += 1;
        id
    }

    /// Records a change: applies it to the journal's state and queues it for the disk, in
    /// the order of calls. With [`Durability::Sync`] returns once it is fsynced.
    pub fn record(&self, change: Change, durability: Durability) -> Result<(), StateError> {
        let seq = self.enqueue(change)?;
        if durability == Durability::Sync {
            self.wait_durable(seq)?;
        }
        Ok(())
    }

    /// Records several changes in order with one wait: e.g. the intents of every operation
    /// about to start, made durable by a single fsync. An intent whose call then never
    /// starts is harmless: recovery finds no object and resolves it.
    pub fn record_all(
        &self,
        changes: impl IntoIterator<Item = Change>,
        durability: Durability,
    ) -> Result<(), StateError> {
        let last = self.enqueue_all(changes)?;
        if durability == Durability::Sync && last > 0 {
            self.wait_durable(last)?;
        }
        Ok(())
    }

    /// Like [`Journal::record`] but waits without blocking the thread: the future resolves
    /// when the record is durable (at once for [`Durability::Batched`]). The record is
    /// queued when this is called, not when the future is first polled.
    pub fn record_async(
        &self,
        change: Change,
        durability: Durability,
    ) -> impl Future<Output = Result<(), StateError>> + Send + 'static {
        let queued = self.enqueue(change);
        let inner = Arc::clone(&self.inner);
        DurableFuture {
            inner,
            seq: match (&queued, durability) {
                (Ok(seq), Durability::Sync) => *seq,
                _ => 0,
            },
            queued: Some(queued.map(|_| ())),
        }
    }

    /// Records the intent of a provider call durably and returns its id; the result must
    /// name it (`Set`/`Remove` with `intent: Some(id)`, or `Resolve`).
    pub fn record_intent(
        &self,
        addr: InstanceAddr,
        deposed: Option<String>,
        action: IntentAction,
        provider: impl Into<String>,
        planned: Value,
    ) -> Result<u64, StateError> {
        let id = self.next_intent_id();
        let intent = Intent {
            id,
            addr,
            deposed,
            action,
            provider: provider.into(),
            planned,
        };
        self.record(Change::Intent(intent), Durability::Sync)?;
        Ok(id)
    }

    fn enqueue(&self, change: Change) -> Result<u64, StateError> {
        self.enqueue_all(std::iter::once(change))
    }

    /// Queues changes as one unit (the writer sees all or none of them); returns the
    /// sequence number of the last, 0 for none.
    fn enqueue_all(&self, changes: impl IntoIterator<Item = Change>) -> Result<u64, StateError> {
        let mut s = self.inner.lock();
        if let Some(f) = &s.failed {
            return Err(self.inner.failed(f));
        }
        if s.closing {
            return Err(self.inner.failed("the journal is closed"));
        }
        let mut last = 0;
        for change in changes {
            if let Change::Intent(i) = &change
                && i.id >= s.next_intent
            {
                s.next_intent = i.id + 1;
            }
            if let Err(e) = encode(
                &RecordOut::from_change(&change),
                self.store.seal(),
                &mut s.buf,
            ) {
                return Err(self.inner.failed(&format!("cannot encrypt a record: {e}")));
            }
            if let Some(name) = touched(&change) {
                s.touched.insert(name);
            }
            s.state.apply_owned(change);
            s.queued += 1;
            s.stats.records += 1;
            last = s.queued;
        }
        drop(s);
        if last > 0 {
            self.inner.work.notify_one();
        }
        Ok(last)
    }

    fn wait_durable(&self, seq: u64) -> Result<(), StateError> {
        let mut s = self.inner.lock();
        loop {
            if s.durable >= seq {
                return Ok(());
            }
            if let Some(f) = &s.failed {
                return Err(self.inner.failed(f));
            }
            s = self.inner.done.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits until every change recorded so far is on disk.
    pub fn flush(&self) -> Result<(), StateError> {
        let seq = self.inner.lock().queued;
        self.wait_durable(seq)
    }

    /// Reads the journal's current state.
    pub fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.inner.lock().state)
    }

    pub fn stats(&self) -> JournalStats {
        self.inner.lock().stats
    }

    /// Ends the apply: waits for the journal to be on disk, folds it into a new snapshot
    /// (serial + 1; unresolved intents stay in `pending`), writes that atomically, removes the
    /// journal, and returns the snapshot. When nothing was recorded the snapshot is not
    /// rewritten.
    pub fn finish(mut self) -> Result<State, StateError> {
        self.flush()?;
        self.stop_writer();
        let (mut state, records) = {
            let mut s = self.inner.lock();
            if let Some(f) = &s.failed {
                return Err(self.inner.failed(f));
            }
            let placeholder = State::with_lineage(String::new(), String::new());
            (
                std::mem::replace(&mut s.state, placeholder),
                s.stats.records,
            )
        };
        if records > 0 {
            state.serial = self.base_serial + 1;
            if let Err(e) = self.store.write(&state) {
                return Err(self.not_recorded(e));
            }
        }
        self.store.remove_journal()?;
        Ok(state)
    }

    /// The error of a fold that failed: names the objects this journal recorded. When the
    /// state moved on under it (another writer), the journal is moved aside to
    /// `<journal>.unrecorded`, where no later run folds or removes it.
    fn not_recorded(&self, e: StateError) -> StateError {
        let objects: Vec<String> = self.inner.lock().touched.iter().cloned().collect();
        if objects.is_empty() {
            return e;
        }
        let mut journal = self.inner.path.clone();
        if matches!(
            e,
            StateError::SerialRegression { .. } | StateError::LineageMismatch { .. }
        ) {
            let aside = sys::with_suffix(&journal, ".unrecorded");
            if fs::rename(&journal, &aside).is_ok() {
                let _ = sys::sync_dir(&sys::parent_dir(&aside));
                journal = aside;
            }
        }
        StateError::NotRecorded {
            journal,
            objects,
            source: Box::new(e),
        }
    }

    fn stop_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            self.inner.lock().closing = true;
            self.inner.work.notify_one();
            let _ = w.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

/// How an object a change records a result for is named in [`StateError::NotRecorded`].
fn touched(change: &Change) -> Option<String> {
    let (addr, deposed, id) = match change {
        Change::Set {
            addr,
            deposed,
            object,
            ..
        } => {
            let secret = object.sensitive_paths.iter().any(|p| {
                p.is_empty()
                    || matches!(p.first(), Some(crate::model::PathStep::Attr(a)) if a == "id")
            });
            let id = object.attributes.get("id");
            let id = id.as_ref().and_then(Value::as_str).map(str::to_string);
            (addr, deposed, id.filter(|_| !secret))
        }
        Change::Remove { addr, deposed, .. } => (addr, deposed, None),
        Change::Depose { addr, .. } => (addr, &None, None),
        _ => return None,
    };
    let mut name = addr.to_string();
    if let Some(d) = deposed {
        name.push_str(&format!(" (deposed {d})"));
    }
    if let Some(id) = id {
        name.push_str(&format!(" (id {id:?})"));
    }
    Some(name)
}

/// The writer thread: takes everything queued, writes it with one `write` and one
/// `fdatasync`, marks it durable, repeats. Records queued while a batch is being synced go
/// into the next batch: that is the group commit.
fn write_loop(inner: &Inner, mut file: File) {
    loop {
        let (batch, upto) = {
            let mut s = inner.lock();
            while s.buf.is_empty() && !s.closing {
                s = inner.work.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.buf.is_empty() {
                return;
            }
            (std::mem::take(&mut s.buf), s.queued)
        };
        let result = file.write_all(&batch).and_then(|()| file.sync_data());
        let wakers = {
            let mut s = inner.lock();
            match result {
                Ok(()) => {
                    s.durable = upto;
                    s.stats.fsyncs += 1;
                    let (ready, waiting) = std::mem::take(&mut s.wakers)
                        .into_iter()
                        .partition(|(seq, _)| *seq <= upto);
                    s.wakers = waiting;
                    ready
                }
                Err(e) => {
                    s.failed = Some(e.to_string());
                    std::mem::take(&mut s.wakers)
                }
            }
        };
        inner.done.notify_all();
        for (_, w) in wakers {
            w.wake();
        }
        if inner.lock().failed.is_some() {
            return;
        }
    }
}

struct DurableFuture {
    inner: Arc<Inner>,
    /// 0: nothing to wait for.
    seq: u64,
    queued: Option<Result<(), StateError>>,
}

impl Future for DurableFuture {
    type Output = Result<(), StateError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(Err(e)) = self.queued.take() {
            return Poll::Ready(Err(e));
        }
        if self.seq == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut s = self.inner.lock();
        if s.durable >= self.seq {
            return Poll::Ready(Ok(()));
        }
        if let Some(f) = &s.failed {
            let e = self.inner.failed(f);
            return Poll::Ready(Err(e));
        }
        let seq = self.seq;
        s.wakers.push((seq, cx.waker().clone()));
        Poll::Pending
    }
}
