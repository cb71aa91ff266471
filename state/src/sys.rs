//! The few operating-system facts and file operations the state needs: atomic replacement of
//! a file, directory fsync, host name, user, process liveness.
#![allow(
    unsafe_code,
    reason = "gethostname, getuid and kill(pid, 0) are libc calls with no safe std equivalent"
)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes the entries of a directory (creations, renames, removals) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `<path><suffix>`, e.g. `brick.state.json.backup`.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Where `path` leads: the file at the end of its chain of symbolic links (relative links
/// read from their own directory), or `path` itself when it is no link. A chain longer than
/// 40 links (a loop) stops there; the write then fails as the system says.
pub(crate) fn resolve_links(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::read_link(&p) {
            Ok(to) if to.is_absolute() => p = to,
            Ok(to) => p = parent_dir(&p).join(to),
            Err(_) => break,
        }
    }
    p
}

/// A temporary name beside `path`, unique to this process and call.
pub(crate) fn temp_beside(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    with_suffix(path, &format!(".tmp.{}.{n}", std::process::id()))
}

/// Writes `bytes` to a new file (mode 0600) at `tmp` and fsyncs it. The file must not exist.
pub(crate) fn write_new(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The most brick reads of a state, a journal or a lock file: far above a real one, low
/// enough that a wrong file (`--state /dev/zero`) is refused before it fills memory.
pub(crate) const MAX_STATE_BYTES: u64 = 1 << 30;
pub(crate) const MAX_LOCK_BYTES: u64 = 1 << 20;

/// Reads `path` whole, refusing one that is not a regular file (links followed) or is
/// longer than `limit` bytes, without reading more than `limit + 1` of it.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is larger than {} MiB, more than brick reads",
                limit >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// Takes an exclusive `flock` on `file`, waiting for it.
pub(crate) fn lock_exclusive(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a valid open descriptor.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether another open file description holds a `flock` on `path` (a journal whose
/// writer still runs); `false` when the file does not exist.
pub(crate) fn in_use(path: &Path) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    // SAFETY: flock on a valid open descriptor; the lock goes with `file`.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0 {
        return Ok(false);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(true)
    } else {
        Err(e)
    }
}

/// This host's name.
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if end > 0 {
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    "localhost".into()
}

/// The user running this process.
pub(crate) fn username() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            // SAFETY: getuid cannot fail.
            format!("uid {}", unsafe { libc::getuid() })
        })
}

/// The start time of a process in clock ticks since boot (Linux `/proc/PID/stat` field 22),
/// which tells a live process from a later one that reused its pid.
pub(crate) fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; fields resume after the
    // last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The one-letter state of a process (`R`, `S`, `Z` for a zombie...), on Linux.
fn process_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// Whether the process `pid` (with start time `start`, when known) still runs on this host.
pub(crate) fn process_alive(pid: u32, start: Option<u64>) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(raw, 0) };
    let exists = rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    if process_state(pid) == Some('Z') {
        return false;
    }
    match (start, process_start(pid)) {
        (Some(recorded), Some(now)) => recorded == now,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_with_its_own_start_time() {
        let me = std::process::id();
        assert!(process_alive(me, process_start(me)));
    }

    #[test]
    fn a_reaped_child_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid, None));
    }

    #[test]
    fn a_zombie_child_is_not_alive() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not yet reaped: a zombie once it has exited.
        for _ in 0..200 {
            if process_state(pid) == Some('Z') {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!process_alive(pid, None));
        drop(child);
    }

    #[test]
    fn a_suffix_is_appended_to_the_whole_file_name() {
        assert_eq!(
            with_suffix(Path::new("a/b.json"), ".lock"),
            PathBuf::from("a/b.json.lock")
        );
        assert_eq!(parent_dir(Path::new("b.json")), PathBuf::from("."));
    }
}
