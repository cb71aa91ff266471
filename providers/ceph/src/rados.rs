//! A minimal client for Ceph's monitors through librados, loaded at run time.
//!
//! brick manages pools with monitor commands (the JSON the `ceph` CLI sends, such as
//! `{"prefix":"osd pool create","pool":"p"}`). librados is the C library every Ceph client uses;
//! we load `librados.so.2` with `libloading` when a connection is made, so brick builds and runs
//! on machines without Ceph and only needs the library where the Ceph provider is actually used.
//! Only the handful of entry points needed for monitor commands are bound.
#![allow(
    unsafe_code,
    reason = "librados is a C library loaded at run time with libloading: FFI calls"
)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::ptr;

/// The shared library names tried in order.
const LIBRARY_NAMES: &[&str] = &["librados.so.2", "librados.so"];

/// An error from loading librados or from a librados call.
#[derive(Debug, thiserror::Error)]
pub enum RadosError {
    /// librados could not be loaded (not installed, or a missing symbol).
    #[error("could not load librados ({tried}): {source}")]
    Load {
        /// The library names tried.
        tried: String,
        /// The loader's error.
        #[source]
        source: libloading::Error,
    },
    /// A string argument contained a NUL byte.
    #[error("{what} contains a NUL byte")]
    Nul {
        /// Which argument.
        what: &'static str,
    },
    /// A librados call returned a negative errno.
    #[error("{call} failed: {message} (errno {errno}){}", detail_suffix(.detail))]
    // message: the errno's description without Rust's " (os error N)" suffix.
    Call {
        /// The librados function or monitor command that failed.
        call: String,
        /// The positive errno value.
        errno: i32,
        /// The errno's description.
        message: String,
        /// The status text the monitor sent back, if any.
        detail: String,
    },
    /// A monitor command's output was not the JSON we asked for.
    #[error("monitor command {prefix:?} returned output that is not JSON: {source}")]
    Json {
        /// The command's prefix.
        prefix: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl RadosError {
    /// The positive errno of a failed call, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            RadosError::Call { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

type RadosT = *mut c_void;
type Create2Fn = unsafe extern "C" fn(*mut RadosT, *const c_char, *const c_char, u64) -> c_int;
type ConfReadFileFn = unsafe extern "C" fn(RadosT, *const c_char) -> c_int;
type ConfSetFn = unsafe extern "C" fn(RadosT, *const c_char, *const c_char) -> c_int;
type ConnectFn = unsafe extern "C" fn(RadosT) -> c_int;
type MonCommandFn = unsafe extern "C" fn(
    RadosT,
    *mut *const c_char,
    usize,
    *const c_char,
    usize,
    *mut *mut c_char,
    *mut usize,
    *mut *mut c_char,
    *mut usize,
) -> c_int;
type BufferFreeFn = unsafe extern "C" fn(*mut c_char);
type ShutdownFn = unsafe extern "C" fn(RadosT);

/// The librados entry points we use, resolved once.
struct Api {
    create2: Create2Fn,
    conf_read_file: ConfReadFileFn,
    conf_set: ConfSetFn,
    connect: ConnectFn,
    mon_command: MonCommandFn,
    buffer_free: BufferFreeFn,
    shutdown: ShutdownFn,
    // Keeps the function pointers above valid; dropped last.
    _lib: libloading::Library,
}

impl Api {
    fn load() -> Result<Api, RadosError> {
        let mut last = None;
        for name in LIBRARY_NAMES {
            // SAFETY: librados' initialisers have no preconditions on the loading thread.
            match unsafe { libloading::Library::new(*name) } {
                Ok(lib) => return Api::resolve(lib),
                Err(e) => last = Some(e),
            }
        }
        Err(RadosError::Load {
            tried: LIBRARY_NAMES.join(", "),
            source: last.expect("at least one library name"),
        })
    }

    fn resolve(lib: libloading::Library) -> Result<Api, RadosError> {
        let load_err = |source| RadosError::Load {
            tried: LIBRARY_NAMES.join(", "),
            source,
        };
        // SAFETY: the signatures match librados.h (rados_create2, rados_conf_read_file,
        // rados_conf_set, rados_connect, rados_mon_command, rados_buffer_free, rados_shutdown).
        unsafe {
            Ok(Api {
                create2: *lib.get::<Create2Fn>(b"rados_create2\0").map_err(load_err)?,
                conf_read_file: *lib
                    .get::<ConfReadFileFn>(b"rados_conf_read_file\0")
                    .map_err(load_err)?,
                conf_set: *lib
                    .get::<ConfSetFn>(b"rados_conf_set\0")
                    .map_err(load_err)?,
                connect: *lib.get::<ConnectFn>(b"rados_connect\0").map_err(load_err)?,
                mon_command: *lib
                    .get::<MonCommandFn>(b"rados_mon_command\0")
                    .map_err(load_err)?,
                buffer_free: *lib
                    .get::<BufferFreeFn>(b"rados_buffer_free\0")
                    .map_err(load_err)?,
                shutdown: *lib
                    .get::<ShutdownFn>(b"rados_shutdown\0")
                    .map_err(load_err)?,
                _lib: lib,
            })
        }
    }
}

/// How to reach a cluster: a ceph.conf, optionally a keyring and a client name.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Path of the cluster's `ceph.conf`.
    pub conf: PathBuf,
    /// A keyring to use instead of the one the configuration names.
    pub keyring: Option<PathBuf>,
    /// The client's name without the `client.` prefix (`admin` when `None`).
    pub user: Option<String>,
    /// Seconds before connecting gives up (`client_mount_timeout`; librados waits 300 s by
    /// default when no monitor answers).
    pub timeout_secs: u32,
    /// Seconds before a monitor or OSD operation gives up (`rados_mon_op_timeout`,
    /// `rados_osd_op_timeout`; librados waits forever by default).
    pub op_timeout_secs: u32,
}

impl ConnectOptions {
    /// Options for `conf` with the admin user, a 10-second connect timeout and 30-second
    /// operation timeouts.
    pub fn new(conf: impl AsRef<Path>) -> ConnectOptions {
        ConnectOptions {
            conf: conf.as_ref().to_path_buf(),
            keyring: None,
            user: None,
            timeout_secs: 10,
            op_timeout_secs: 30,
        }
    }
}

/// The answer to a monitor command: its output buffer and its status text.
#[derive(Debug, Clone, Default)]
pub struct MonReply {
    /// The command's output (JSON when the command asked for `"format":"json"`).
    pub out: Vec<u8>,
    /// The human-readable status line (for example `pool 'p' created`).
    pub status: String,
}

/// A connected librados cluster handle.
pub struct Rados {
    handle: RadosT,
    api: Api,
}

// SAFETY: a connected rados_t may be used from several threads at once; librados serialises
// internally (documented in librados.h: "the cluster handle is thread-safe").
unsafe impl Send for Rados {}
// SAFETY: as above.
unsafe impl Sync for Rados {}

impl std::fmt::Debug for Rados {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rados").finish_non_exhaustive()
    }
}

fn cstring(what: &'static str, s: &str) -> Result<CString, RadosError> {
    CString::new(s).map_err(|_| RadosError::Nul { what })
}

fn check(call: &str, rc: c_int, detail: String) -> Result<(), RadosError> {
    if rc >= 0 {
        return Ok(());
    }
    let errno = -rc;
    Err(RadosError::Call {
        call: call.to_string(),
        errno,
        message: errno_text(errno),
        detail,
    })
}

/// The C library's description of an errno ("Connection timed out").
fn errno_text(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

impl Rados {
    /// Loads librados, reads the configuration and connects to the monitors.
    pub fn connect(opts: &ConnectOptions) -> Result<Rados, RadosError> {
        let api = Api::load()?;
        let conf = cstring("the configuration path", &opts.conf.to_string_lossy())?;
        // rados_create2 wants the cluster name and the full entity name ("client.admin").
        let cluster = cstring("the cluster name", "ceph")?;
        let user = cstring(
            "the user name",
            &format!("client.{}", opts.user.as_deref().unwrap_or("admin")),
        )?;
        let mut handle: RadosT = ptr::null_mut();
        // SAFETY: handle is a valid out-pointer; both names are valid C strings.
        let rc = unsafe { (api.create2)(&mut handle, cluster.as_ptr(), user.as_ptr(), 0) };
        check("rados_create2", rc, String::new())?;
        // From here on, Drop shuts the handle down on every error path.
        let rados = Rados { handle, api };
        // SAFETY: handle was created above; conf is a valid C string.
        let rc = unsafe { (rados.api.conf_read_file)(rados.handle, conf.as_ptr()) };
        check(
            "rados_conf_read_file",
            rc,
            format!("reading {}", opts.conf.display()),
        )?;
        if let Some(keyring) = &opts.keyring {
            rados.conf_set("keyring", &keyring.to_string_lossy())?;
        }
        rados.conf_set("client_mount_timeout", &opts.timeout_secs.to_string())?;
        let op_timeout = opts.op_timeout_secs.to_string();
        rados.conf_set("rados_mon_op_timeout", &op_timeout)?;
        rados.conf_set("rados_osd_op_timeout", &op_timeout)?;
        // SAFETY: handle was created and configured above.
        let rc = unsafe { (rados.api.connect)(rados.handle) };
        check("rados_connect", rc, String::new())?;
        Ok(rados)
    }

    fn conf_set(&self, option: &str, value: &str) -> Result<(), RadosError> {
        let o = cstring("a configuration option", option)?;
        let v = cstring("a configuration value", value)?;
        // SAFETY: valid handle and C strings.
        let rc = unsafe { (self.api.conf_set)(self.handle, o.as_ptr(), v.as_ptr()) };
        check("rados_conf_set", rc, format!("setting {option}"))
    }

    /// Sends one monitor command (a JSON object with a `prefix`) and returns its reply.
    /// A negative return code becomes [`RadosError::Call`] carrying the monitor's status text.
    pub fn mon_command(&self, cmd: &serde_json::Value) -> Result<MonReply, RadosError> {
        let prefix = cmd
            .get("prefix")
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_string();
        let text = cstring("the monitor command", &cmd.to_string())?;
        let mut cmds = [text.as_ptr()];
        let mut outbuf: *mut c_char = ptr::null_mut();
        let mut outlen: usize = 0;
        let mut outs: *mut c_char = ptr::null_mut();
        let mut outslen: usize = 0;
        // SAFETY: cmds holds one valid C string; the out-pointers are valid; librados allocates
        // the output buffers, which we free with rados_buffer_free below.
        let rc = unsafe {
            (self.api.mon_command)(
                self.handle,
                cmds.as_mut_ptr(),
                1,
                ptr::null(),
                0,
                &mut outbuf,
                &mut outlen,
                &mut outs,
                &mut outslen,
            )
        };
        let out = self.take_buffer(outbuf, outlen);
        let status = String::from_utf8_lossy(&self.take_buffer(outs, outslen)).into_owned();
        check(&format!("monitor command {prefix:?}"), rc, status.clone())?;
        Ok(MonReply { out, status })
    }

    /// Sends a monitor command with `"format":"json"` added and parses its output.
    pub fn mon_command_json(
        &self,
        cmd: &serde_json::Value,
    ) -> Result<serde_json::Value, RadosError> {
        let mut cmd = cmd.clone();
        if let Some(obj) = cmd.as_object_mut() {
            obj.insert("format".into(), "json".into());
        }
        let reply = self.mon_command(&cmd)?;
        serde_json::from_slice(&reply.out).map_err(|source| RadosError::Json {
            prefix: cmd
                .get("prefix")
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_string(),
            source,
        })
    }

    /// Copies a librados-allocated buffer and frees it.
    fn take_buffer(&self, buf: *mut c_char, len: usize) -> Vec<u8> {
        if buf.is_null() {
            return Vec::new();
        }
        // SAFETY: librados returned buf with len valid bytes; we copy before freeing it.
        let bytes = unsafe { std::slice::from_raw_parts(buf as *const u8, len) }.to_vec();
        // SAFETY: buf came from librados and is freed exactly once.
        unsafe { (self.api.buffer_free)(buf) };
        bytes
    }
}

impl Drop for Rados {
    fn drop(&mut self) {
        // SAFETY: handle came from rados_create2 and is shut down exactly once.
        unsafe { (self.api.shutdown)(self.handle) };
    }
}
