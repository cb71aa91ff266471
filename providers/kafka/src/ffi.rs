//! The librdkafka admin calls that rdkafka has no safe wrapper for — IncrementalAlterConfigs,
//! CreateAcls, DescribeAcls and DeleteAcls — each behind one safe, blocking function (callers
//! run them on a blocking thread).
//!
//! Why unsafe code is allowed here, and only here (the crate denies it everywhere else): these
//! are plain C calls into the same bundled librdkafka rdkafka uses, on the client handle rdkafka
//! owns. Each function keeps librdkafka's documented ownership rules: what we create with a
//! `_new` call we destroy after the request is enqueued (librdkafka copies what it needs), a
//! result belongs to its event and is copied into owned Rust values before the event is
//! destroyed, and every C string is copied out at once.
#![allow(
    unsafe_code,
    reason = "librdkafka admin calls rdkafka has no safe wrapper for (see above)"
)]

use std::ffi::{CStr, CString, c_char};
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka_sys as sys;
use sys::{
    rd_kafka_AclOperation_t as Op, rd_kafka_AclPermissionType_t as Perm,
    rd_kafka_ResourcePatternType_t as Pattern, rd_kafka_ResourceType_t as ResType,
};

pub type Admin = AdminClient<DefaultClientContext>;

/// An error of a whole request or of one of its items, as the broker or librdkafka said it.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminError {
    pub code: RDKafkaErrorCode,
    pub message: String,
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} ({})", self.message, self.code)
        }
    }
}

/// One change of a topic's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigChange {
    Set(String, String),
    /// Back to the broker's (or the cluster's) default.
    Delete(String),
}

/// One ACL binding; as a filter, `Any` values and null strings match everything.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acl {
    pub resource_type: AclResource,
    pub resource_name: String,
    pub pattern: AclPattern,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

macro_rules! c_enum {
    ($(#[$m:meta])* $name:ident : $c:ty { $($v:ident = $cv:ident / $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($v),* }
        impl $name {
            /// Every value with the name the user writes (Kafka's own spelling).
            pub const ALL: &'static [($name, &'static str)] = &[$(($name::$v, $text)),*];
            pub fn name(self) -> &'static str {
                match self { $($name::$v => $text),* }
            }
            /// Reads Kafka's spelling, case-insensitively (`Topic`, `TOPIC`, `topic`).
            pub fn parse(text: &str) -> Option<$name> {
                let t = text.replace(['_', '-'], "").to_ascii_lowercase();
                $name::ALL.iter().find(|(_, n)| n.replace('_', "").to_ascii_lowercase() == t).map(|(v, _)| *v)
            }
            fn to_c(self) -> $c {
                match self { $($name::$v => <$c>::$cv),* }
            }
            fn from_c(c: $c) -> Option<$name> {
                match c { $(<$c>::$cv => Some($name::$v),)* _ => None }
            }
        }
    };
}

c_enum!(
    /// What an ACL is about.
    AclResource: ResType {
        Any = RD_KAFKA_RESOURCE_ANY / "Any",
        Topic = RD_KAFKA_RESOURCE_TOPIC / "Topic",
        Group = RD_KAFKA_RESOURCE_GROUP / "Group",
        Cluster = RD_KAFKA_RESOURCE_BROKER / "Cluster",
        TransactionalId = RD_KAFKA_RESOURCE_TRANSACTIONAL_ID / "TransactionalID",
    }
);
c_enum!(
    /// How an ACL's resource name matches.
    AclPattern: Pattern {
        Any = RD_KAFKA_RESOURCE_PATTERN_ANY / "Any",
        Match = RD_KAFKA_RESOURCE_PATTERN_MATCH / "Match",
        Literal = RD_KAFKA_RESOURCE_PATTERN_LITERAL / "Literal",
        Prefixed = RD_KAFKA_RESOURCE_PATTERN_PREFIXED / "Prefixed",
    }
);
c_enum!(
    /// What an ACL allows or denies.
    AclOperation: Op {
        Any = RD_KAFKA_ACL_OPERATION_ANY / "Any",
        All = RD_KAFKA_ACL_OPERATION_ALL / "All",
        Read = RD_KAFKA_ACL_OPERATION_READ / "Read",
        Write = RD_KAFKA_ACL_OPERATION_WRITE / "Write",
        Create = RD_KAFKA_ACL_OPERATION_CREATE / "Create",
        Delete = RD_KAFKA_ACL_OPERATION_DELETE / "Delete",
        Alter = RD_KAFKA_ACL_OPERATION_ALTER / "Alter",
        Describe = RD_KAFKA_ACL_OPERATION_DESCRIBE / "Describe",
        ClusterAction = RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION / "ClusterAction",
        DescribeConfigs = RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS / "DescribeConfigs",
        AlterConfigs = RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS / "AlterConfigs",
        IdempotentWrite = RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE / "IdempotentWrite",
    }
);
c_enum!(
    /// Whether an ACL allows or denies.
    AclPermission: Perm {
        Any = RD_KAFKA_ACL_PERMISSION_TYPE_ANY / "Any",
        Deny = RD_KAFKA_ACL_PERMISSION_TYPE_DENY / "Deny",
        Allow = RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW / "Allow",
    }
);

/// Owns an event from the result queue.
struct Event(*mut sys::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: the pointer came from rd_kafka_queue_poll and is destroyed once.
        unsafe { sys::rd_kafka_event_destroy(self.0) }
    }
}

/// Copies a C string out (null gives "").
fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: librdkafka returns NUL-terminated strings valid until their owner is destroyed;
    // we copy at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn cstring(s: &str) -> Result<CString, AdminError> {
    CString::new(s).map_err(|_| AdminError {
        code: RDKafkaErrorCode::InvalidArgument,
        message: format!("{s:?} contains a NUL character"),
    })
}

/// An `rd_kafka_error_t` as an [`AdminError`] (null: no error); the error is not destroyed
/// (callers own that where they must).
fn error_of(e: *const sys::rd_kafka_error_t) -> Option<AdminError> {
    if e.is_null() {
        return None;
    }
    // SAFETY: a non-null error from librdkafka.
    let (code, msg) = unsafe { (sys::rd_kafka_error_code(e), sys::rd_kafka_error_string(e)) };
    Some(AdminError {
        code: code.into(),
        message: text(msg),
    })
}

/// Runs one admin request: `start` enqueues it with the given options and result queue; the
/// result event is awaited for at most `timeout` (plus a margin for librdkafka's own timeout
/// to fire first) and returned when the request as a whole succeeded.
fn call(
    admin: &Admin,
    op: sys::rd_kafka_admin_op_t,
    timeout: Duration,
    start: impl FnOnce(
        *mut sys::rd_kafka_t,
        *const sys::rd_kafka_AdminOptions_t,
        *mut sys::rd_kafka_queue_t,
    ),
) -> Result<Event, AdminError> {
    let rk = admin.inner().native_ptr();
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: `rk` is the live client handle `admin` owns for the whole call; options and the
    // queue are created and destroyed here; the event is owned by the returned `Event`.
    unsafe {
        let queue = sys::rd_kafka_queue_new(rk);
        let opts = sys::rd_kafka_AdminOptions_new(rk, op);
        let mut errbuf = [0 as c_char; 512];
        sys::rd_kafka_AdminOptions_set_request_timeout(opts, ms, errbuf.as_mut_ptr(), errbuf.len());
        start(rk, opts, queue);
        sys::rd_kafka_AdminOptions_destroy(opts);
        let ev = sys::rd_kafka_queue_poll(queue, ms.saturating_add(5_000));
        sys::rd_kafka_queue_destroy(queue);
        if ev.is_null() {
            return Err(AdminError {
                code: RDKafkaErrorCode::OperationTimedOut,
                message: format!("no answer within {} s", timeout.as_secs()),
            });
        }
        let ev = Event(ev);
        let err = sys::rd_kafka_event_error(ev.0);
        if err != sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(AdminError {
                code: err.into(),
                message: text(sys::rd_kafka_event_error_string(ev.0)),
            });
        }
        Ok(ev)
    }
}

/// The cluster's broker ids from a Metadata request for no topics (rdkafka's safe call asks for
/// every topic, which on a cluster of thousands of topics costs a large answer for a count).
/// Blocking, for at most `timeout`.
pub fn broker_ids(admin: &Admin, timeout: Duration) -> Result<Vec<i32>, AdminError> {
    let rk = admin.inner().native_ptr();
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let mut md: *const sys::rd_kafka_metadata_t = std::ptr::null();
    // SAFETY: `rk` is the live handle `admin` owns; with all_topics = 0 and no topic handle
    // librdkafka asks for the topics it knows locally (none for an admin client); the metadata
    // it returns is ours to read and is destroyed before returning.
    unsafe {
        let err = sys::rd_kafka_metadata(rk, 0, std::ptr::null_mut(), &mut md, ms);
        if err != sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(AdminError {
                code: err.into(),
                message: String::new(),
            });
        }
        let m = &*md;
        let ids = if m.brokers.is_null() || m.broker_cnt <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(m.brokers, m.broker_cnt as usize)
                .iter()
                .map(|b| b.id)
                .collect()
        };
        sys::rd_kafka_metadata_destroy(md);
        Ok(ids)
    }
}

/// IncrementalAlterConfigs for topics, in one request: each topic's result in order.
pub fn alter_topic_configs(
    admin: &Admin,
    changes: &[(String, Vec<ConfigChange>)],
    timeout: Duration,
) -> Result<Vec<Result<(), AdminError>>, AdminError> {
    let mut names = Vec::with_capacity(changes.len());
    for (topic, _) in changes {
        names.push(cstring(topic)?);
    }
    let mut items = Vec::new();
    for (_, ops) in changes {
        let mut v = Vec::new();
        for op in ops {
            v.push(match op {
                ConfigChange::Set(k, val) => (
                    cstring(k)?,
                    Some(cstring(val)?),
                    sys::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                ),
                ConfigChange::Delete(k) => (
                    cstring(k)?,
                    None,
                    sys::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE,
                ),
            });
        }
        items.push(v);
    }
    // SAFETY: resources are created here, handed to librdkafka (which copies them) and
    // destroyed after the request is enqueued.
    let mut resources: Vec<*mut sys::rd_kafka_ConfigResource_t> = Vec::new();
    let mut add_error = None;
    unsafe {
        for (name, ops) in names.iter().zip(&items) {
            let r =
                sys::rd_kafka_ConfigResource_new(ResType::RD_KAFKA_RESOURCE_TOPIC, name.as_ptr());
            for (k, v, op) in ops {
                let e = sys::rd_kafka_ConfigResource_add_incremental_config(
                    r,
                    k.as_ptr(),
                    *op,
                    v.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
                );
                if !e.is_null() {
                    add_error = error_of(e);
                    sys::rd_kafka_error_destroy(e);
                }
            }
            resources.push(r);
        }
    }
    let result = match add_error {
        Some(e) => Err(e),
        None => call(
            admin,
            sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
            timeout,
            |rk, opts, queue| unsafe {
                sys::rd_kafka_IncrementalAlterConfigs(
                    rk,
                    resources.as_mut_ptr(),
                    resources.len(),
                    opts,
                    queue,
                )
            },
        ),
    };
    unsafe {
        for r in &resources {
            sys::rd_kafka_ConfigResource_destroy(*r);
        }
    }
    let ev = result?;
    // SAFETY: the result and its resources live as long as `ev`; names are copied out.
    let mut by_name = std::collections::HashMap::new();
    unsafe {
        let res = sys::rd_kafka_event_IncrementalAlterConfigs_result(ev.0);
        let mut n = 0usize;
        let arr = sys::rd_kafka_IncrementalAlterConfigs_result_resources(res, &mut n);
        for i in 0..n {
            let r = *arr.add(i);
            let err = sys::rd_kafka_ConfigResource_error(r);
            let outcome = if err == sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Ok(())
            } else {
                Err(AdminError {
                    code: err.into(),
                    message: text(sys::rd_kafka_ConfigResource_error_string(r)),
                })
            };
            by_name.insert(text(sys::rd_kafka_ConfigResource_name(r)), outcome);
        }
    }
    Ok(changes
        .iter()
        .map(|(t, _)| {
            by_name.remove(t).unwrap_or_else(|| {
                Err(AdminError {
                    code: RDKafkaErrorCode::Unknown,
                    message: format!("the broker did not answer for topic {t}"),
                })
            })
        })
        .collect())
}

/// A new binding or filter; null strings in a filter match everything.
unsafe fn binding(acl: &Acl, filter: bool) -> Result<*mut sys::rd_kafka_AclBinding_t, AdminError> {
    let name = cstring(&acl.resource_name)?;
    let principal = cstring(&acl.principal)?;
    let host = cstring(&acl.host)?;
    let mut errbuf = [0 as c_char; 512];
    let p = unsafe {
        if filter {
            sys::rd_kafka_AclBindingFilter_new(
                acl.resource_type.to_c(),
                name.as_ptr(),
                acl.pattern.to_c(),
                principal.as_ptr(),
                host.as_ptr(),
                acl.operation.to_c(),
                acl.permission.to_c(),
                errbuf.as_mut_ptr(),
                errbuf.len(),
            )
        } else {
            sys::rd_kafka_AclBinding_new(
                acl.resource_type.to_c(),
                name.as_ptr(),
                acl.pattern.to_c(),
                principal.as_ptr(),
                host.as_ptr(),
                acl.operation.to_c(),
                acl.permission.to_c(),
                errbuf.as_mut_ptr(),
                errbuf.len(),
            )
        }
    };
    if p.is_null() {
        return Err(AdminError {
            code: RDKafkaErrorCode::InvalidArgument,
            message: text(errbuf.as_ptr()),
        });
    }
    Ok(p)
}

/// Reads a binding librdkafka returned.
unsafe fn read_binding(b: *const sys::rd_kafka_AclBinding_t) -> Option<Acl> {
    unsafe {
        Some(Acl {
            resource_type: AclResource::from_c(sys::rd_kafka_AclBinding_restype(b))?,
            resource_name: text(sys::rd_kafka_AclBinding_name(b)),
            pattern: AclPattern::from_c(sys::rd_kafka_AclBinding_resource_pattern_type(b))?,
            principal: text(sys::rd_kafka_AclBinding_principal(b)),
            host: text(sys::rd_kafka_AclBinding_host(b)),
            operation: AclOperation::from_c(sys::rd_kafka_AclBinding_operation(b))?,
            permission: AclPermission::from_c(sys::rd_kafka_AclBinding_permission_type(b))?,
        })
    }
}

/// CreateAcls: adds exactly these bindings (others are untouched); each one's result in order.
pub fn create_acls(
    admin: &Admin,
    acls: &[Acl],
    timeout: Duration,
) -> Result<Vec<Result<(), AdminError>>, AdminError> {
    let mut bindings = Vec::new();
    let mut bad = None;
    for a in acls {
        // SAFETY: destroyed below.
        match unsafe { binding(a, false) } {
            Ok(b) => bindings.push(b),
            Err(e) => bad = Some(e),
        }
    }
    let result = match bad {
        Some(e) => Err(e),
        None => call(
            admin,
            sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS,
            timeout,
            |rk, opts, queue| unsafe {
                sys::rd_kafka_CreateAcls(rk, bindings.as_mut_ptr(), bindings.len(), opts, queue)
            },
        ),
    };
    unsafe {
        for b in &bindings {
            sys::rd_kafka_AclBinding_destroy(*b);
        }
    }
    let ev = result?;
    let mut out = Vec::new();
    // SAFETY: results live as long as `ev`.
    unsafe {
        let res = sys::rd_kafka_event_CreateAcls_result(ev.0);
        let mut n = 0usize;
        let arr = sys::rd_kafka_CreateAcls_result_acls(res, &mut n);
        for i in 0..n {
            let e = sys::rd_kafka_acl_result_error(*arr.add(i));
            out.push(error_of(e).map_or(Ok(()), Err));
        }
    }
    Ok(out)
}

/// DescribeAcls: every binding that matches `filter`.
pub fn describe_acls(
    admin: &Admin,
    filter: &Acl,
    timeout: Duration,
) -> Result<Vec<Acl>, AdminError> {
    // SAFETY: destroyed below.
    let f = unsafe { binding(filter, true)? };
    let result = call(
        admin,
        sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEACLS,
        timeout,
        |rk, opts, queue| unsafe { sys::rd_kafka_DescribeAcls(rk, f, opts, queue) },
    );
    unsafe { sys::rd_kafka_AclBinding_destroy(f) };
    let ev = result?;
    let mut out = Vec::new();
    // SAFETY: bindings live as long as `ev`.
    unsafe {
        let res = sys::rd_kafka_event_DescribeAcls_result(ev.0);
        let mut n = 0usize;
        let arr = sys::rd_kafka_DescribeAcls_result_acls(res, &mut n);
        for i in 0..n {
            if let Some(a) = read_binding(*arr.add(i)) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// DeleteAcls: removes the bindings matching each filter; for each filter, what it removed.
pub fn delete_acls(
    admin: &Admin,
    filters: &[Acl],
    timeout: Duration,
) -> Result<Vec<Result<Vec<Acl>, AdminError>>, AdminError> {
    let mut fs = Vec::new();
    let mut bad = None;
    for a in filters {
        // SAFETY: destroyed below.
        match unsafe { binding(a, true) } {
            Ok(b) => fs.push(b),
            Err(e) => bad = Some(e),
        }
    }
    let result = match bad {
        Some(e) => Err(e),
        None => call(
            admin,
            sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETEACLS,
            timeout,
            |rk, opts, queue| unsafe {
                sys::rd_kafka_DeleteAcls(rk, fs.as_mut_ptr(), fs.len(), opts, queue)
            },
        ),
    };
    unsafe {
        for b in &fs {
            sys::rd_kafka_AclBinding_destroy(*b);
        }
    }
    let ev = result?;
    let mut out = Vec::new();
    // SAFETY: responses and their bindings live as long as `ev`.
    unsafe {
        let res = sys::rd_kafka_event_DeleteAcls_result(ev.0);
        let mut n = 0usize;
        let arr = sys::rd_kafka_DeleteAcls_result_responses(res, &mut n);
        for i in 0..n {
            let r = *arr.add(i);
            if let Some(e) = error_of(sys::rd_kafka_DeleteAcls_result_response_error(r)) {
                out.push(Err(e));
                continue;
            }
            let mut m = 0usize;
            let matched = sys::rd_kafka_DeleteAcls_result_response_matching_acls(r, &mut m);
            out.push(Ok((0..m)
                .filter_map(|j| read_binding(*matched.add(j)))
                .collect()));
        }
    }
    Ok(out)
}
