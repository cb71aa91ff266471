//! The `s3` backend: any S3-compatible store through `object_store` (requests signed by it,
//! never by hand; no checksum headers, which Ceph RGW of some versions rejects — terraform
//! #34086). Writes are compare-and-swap (`If-Match` on the ETag read; `If-None-Match: *`
//! for the first), the lock is an object created with `If-None-Match: *` beside the state
//! (`<key>.tflock`), and [`Backend::prove`] checks the store refuses a second conditional
//! create, since a store that ignores the header would let every lock succeed (incus #3651).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion};

use crate::{Backend, BackendError, HeldLock, LockInfo, Snapshot, lock_json, parse_lock, rt};

const ARGS: &[&str] = &[
    "bucket",
    "key",
    "region",
    "endpoints.s3",
    "endpoint",
    "access_key",
    "secret_key",
    "use_path_style",
    "use_lockfile",
    "workspace_key_prefix",
    "skip_credentials_validation",
    "skip_region_validation",
    "skip_requesting_account_id",
    "skip_metadata_api_check",
    "skip_s3_checksum",
];

pub(crate) struct S3 {
    store: Arc<AmazonS3>,
    bucket: String,
    key: String,
    prefix: String,
}

impl S3 {
    pub(crate) fn new(s: &BTreeMap<String, String>) -> Result<S3, BackendError> {
        crate::only("s3", s, ARGS)?;
        let need = |k: &str| {
            s.get(k)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| BackendError::Config(format!("the s3 backend needs {k:?}")))
        };
        let bucket = need("bucket")?;
        let key = need("key")?;
        if key.starts_with('/') || key.ends_with('/') {
            return Err(BackendError::Config(format!(
                "key {key:?} must not start or end with /"
            )));
        }
        if s.get("use_lockfile").is_some_and(|v| v == "false") {
            return Err(BackendError::Config(
                "use_lockfile = false would leave the state unlocked; brick's s3 backend always locks with a lock object (DynamoDB locking is not supported)".into(),
            ));
        }
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_region(s.get("region").map_or("us-east-1", String::as_str))
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            });
        if let Some(e) = s.get("endpoints.s3").or_else(|| s.get("endpoint")) {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        // Path style unless asked otherwise: what S3-compatible stores serve without DNS.
        let path_style = s.get("use_path_style").is_none_or(|v| v != "false");
        b = b.with_virtual_hosted_style_request(!path_style);
        if let Some(a) = s.get("access_key") {
            b = b.with_access_key_id(a);
        }
        if let Some(k) = s.get("secret_key") {
            b = b.with_secret_access_key(k);
        }
        let store = b
            .build()
            .map_err(|e| BackendError::Config(format!("s3: {e}")))?;
        let prefix = s
            .get("workspace_key_prefix")
            .cloned()
            .unwrap_or_else(|| "env:".into());
        Ok(S3 {
            store: Arc::new(store),
            bucket,
            key,
            prefix,
        })
    }

    fn state_key(&self, workspace: &str) -> String {
        if workspace == "default" {
            self.key.clone()
        } else {
            format!("{}/{workspace}/{}", self.prefix, self.key)
        }
    }

    fn path(&self, key: &str) -> Result<Path, BackendError> {
        Path::parse(key).map_err(|e| BackendError::Config(format!("s3 key {key:?}: {e}")))
    }

    fn lock_key(&self, workspace: &str) -> String {
        format!("{}.tflock", self.state_key(workspace))
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The object at `key` with its ETag.
    fn get(&self, key: &str) -> Result<Option<Snapshot>, BackendError> {
        let path = self.path(key)?;
        let store = self.store.clone();
        let what = self.url(key);
        rt::run(async move {
            match store.get(&path).await {
                Ok(r) => {
                    let version = r.meta.e_tag.clone().unwrap_or_default();
                    let bytes = r.bytes().await.map_err(|e| store_err("read", &what, e))?;
                    Ok(Some(Snapshot {
                        bytes: bytes.to_vec(),
                        version,
                    }))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(store_err("read", &what, e)),
            }
        })
    }

    /// A conditional put: create-if-absent (`expected` `None`) or if-match. An ETag as read
    /// is quoted (`"abc"`); Ceph RGW 16 compares `If-Match` with its stored ETag without
    /// unquoting it, so a refused quoted one is tried once more bare (each try is itself
    /// conditional: the second succeeds only if the ETag really matches).
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<Result<String, object_store::Error>, BackendError> {
        let first = self.put_once(key, bytes.clone(), expected)?;
        match (&first, expected) {
            (Err(e), Some(tag))
                if refused(e) && tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2 =>
            {
                self.put_once(key, bytes, Some(&tag[1..tag.len() - 1]))
            }
            _ => Ok(first),
        }
    }

    fn put_once(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<Result<String, object_store::Error>, BackendError> {
        let path = self.path(key)?;
        let store = self.store.clone();
        let mode = match expected {
            None => PutMode::Create,
            Some(tag) => PutMode::Update(UpdateVersion {
                e_tag: Some(tag.to_string()),
                version: None,
            }),
        };
        Ok(rt::run(async move {
            store
                .put_opts(&path, PutPayload::from(bytes), PutOptions::from(mode))
                .await
                .map(|r| r.e_tag.unwrap_or_default())
        }))
    }

    fn delete(&self, key: &str) -> Result<(), BackendError> {
        let path = self.path(key)?;
        let store = self.store.clone();
        let what = self.url(key);
        rt::run(async move {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(store_err("delete", &what, e)),
            }
        })
    }
}

fn store_err(action: &'static str, what: &str, e: object_store::Error) -> BackendError {
    BackendError::Store {
        action,
        what: what.to_string(),
        detail: e.to_string(),
    }
}

fn refused(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
    )
}

impl Backend for S3 {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn describe(&self, workspace: &str) -> String {
        self.url(&self.state_key(workspace))
    }

    fn read(&self, workspace: &str) -> Result<Option<Snapshot>, BackendError> {
        self.get(&self.state_key(workspace))
    }

    fn write(
        &self,
        workspace: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<String, BackendError> {
        let key = self.state_key(workspace);
        match self.put(&key, bytes, expected)? {
            Ok(tag) => Ok(tag),
            Err(e) if refused(&e) => Err(BackendError::Conflict {
                what: self.url(&key),
            }),
            Err(e) => Err(store_err("write", &self.url(&key), e)),
        }
    }

    fn lock(&self, workspace: &str, info: &LockInfo) -> Result<Box<dyn HeldLock>, BackendError> {
        let key = self.lock_key(workspace);
        let what = self.describe(workspace);
        // A lock removed between our failed create and our read, or a stale one taken over
        // by someone else meanwhile: look again, a few times.
        for _ in 0..5 {
            match self.put(&key, lock_json(info), None)? {
                Ok(_) => {
                    return Ok(Box::new(S3Lock {
                        s3: self.clone_handle(),
                        key,
                        id: info.id.clone(),
                    }));
                }
                Err(e) if refused(&e) => {}
                Err(e) => return Err(store_err("create the lock", &self.url(&key), e)),
            }
            let Some(current) = self.get(&key)? else {
                continue;
            };
            let holder = parse_lock(&current.bytes, &self.url(&key))?;
            if !(holder.is_stale() && holder.path == info.path) {
                return Err(BackendError::Locked {
                    what,
                    holder: Box::new(holder),
                });
            }
            // Its holder ran on this host, in this working copy (where its journal is), and is
            // gone: replace exactly that lock object
            // (If-Match on its ETag), so of two bricks taking it over only one wins.
            if let Ok(Ok(_)) = self.put(&key, lock_json(info), Some(&current.version)) {
                return Ok(Box::new(S3Lock {
                    s3: self.clone_handle(),
                    key,
                    id: info.id.clone(),
                }));
            }
        }
        Err(BackendError::Store {
            action: "take the lock of",
            what,
            detail: "the lock object kept changing".into(),
        })
    }

    fn holder(&self, workspace: &str) -> Result<Option<LockInfo>, BackendError> {
        let key = self.lock_key(workspace);
        self.get(&key)?
            .map(|s| parse_lock(&s.bytes, &self.url(&key)))
            .transpose()
    }

    fn force_unlock(&self, workspace: &str, id: &str) -> Result<LockInfo, BackendError> {
        let Some(holder) = self.holder(workspace)? else {
            return Err(BackendError::NotLocked {
                what: self.describe(workspace),
            });
        };
        if holder.id != id {
            return Err(BackendError::LockIdMismatch {
                what: self.describe(workspace),
                given: id.into(),
                actual: holder.id,
            });
        }
        self.delete(&self.lock_key(workspace))?;
        Ok(holder)
    }

    fn workspaces(&self) -> Result<Vec<String>, BackendError> {
        let prefix = Path::from(self.prefix.as_str());
        let store = self.store.clone();
        let what = self.url(&self.prefix);
        let key = self.key.clone();
        let listed: Vec<String> = rt::run(async move {
            let mut out = Vec::new();
            let mut list = store.list(Some(&prefix));
            while let Some(item) = list.next().await {
                let meta = item.map_err(|e| store_err("list", &what, e))?;
                out.push(meta.location.to_string());
            }
            Ok::<_, BackendError>(out)
        })?;
        let mut names = vec!["default".to_string()];
        let head = format!("{}/", self.prefix);
        let tail = format!("/{key}");
        for loc in listed {
            if let Some(ws) = loc
                .strip_prefix(&head)
                .and_then(|r| r.strip_suffix(&tail))
                .filter(|w| !w.contains('/'))
            {
                names.push(ws.to_string());
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn delete_workspace(&self, workspace: &str) -> Result<(), BackendError> {
        self.delete(&self.state_key(workspace))
    }

    fn prove(&self) -> Result<String, BackendError> {
        let probe = format!("{}.brick-probe-{}", self.key, uuid::Uuid::new_v4());
        let what = self.url(&probe);
        let no = |detail: String| BackendError::NoConditionalWrites {
            store: format!("The S3 store behind s3://{}", self.bucket),
            detail,
        };
        let first = self.put(&probe, b"1".to_vec(), None)?;
        let tag = match first {
            Ok(tag) => tag,
            Err(e) => {
                let _ = self.delete(&probe);
                return Err(if refused(&e) {
                    no(format!(
                        "a create-if-absent (If-None-Match: *) of the new object {what} was refused"
                    ))
                } else {
                    store_err("write the probe object", &what, e)
                });
            }
        };
        let second = self.put(&probe, b"2".to_vec(), None)?;
        let stale = self.put(&probe, b"3".to_vec(), Some("\"0000brick-not-an-etag\""))?;
        let after = self.get(&probe)?;
        // And a write against the right ETag goes through (else no state write ever would).
        let right = self.put(&probe, b"4".to_vec(), Some(&tag))?;
        self.delete(&probe)?;
        match second {
            Ok(_) => {
                return Err(no(format!(
                    "a second create-if-absent (If-None-Match: *) of {what} succeeded; its lock would never hold"
                )));
            }
            Err(e) if refused(&e) => {}
            Err(e) => return Err(store_err("write the probe object", &what, e)),
        }
        match stale {
            Ok(_) => {
                return Err(no(format!(
                    "a write of {what} with If-Match on a wrong ETag succeeded; compare-and-swap would not hold"
                )));
            }
            Err(e) if refused(&e) => {}
            Err(e) => return Err(store_err("write the probe object", &what, e)),
        }
        if after.is_none_or(|a| a.bytes != b"1" || a.version != tag) {
            return Err(no(format!(
                "{what} changed although both conditional writes were refused"
            )));
        }
        if let Err(e) = right {
            return Err(no(format!(
                "a write of {what} with If-Match on its current ETag {tag} was refused ({e}); compare-and-swap would never succeed"
            )));
        }
        Ok(format!(
            "s3://{}: a second If-None-Match create and a stale If-Match write were both refused (412), a current If-Match write accepted",
            self.bucket
        ))
    }
}

impl S3 {
    fn clone_handle(&self) -> S3 {
        S3 {
            store: self.store.clone(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

struct S3Lock {
    s3: S3,
    key: String,
    id: String,
}

impl HeldLock for S3Lock {
    fn release(self: Box<Self>) -> Result<(), BackendError> {
        match self.s3.get(&self.key)? {
            Some(s) if parse_lock(&s.bytes, &self.key).is_ok_and(|h| h.id == self.id) => {
                self.s3.delete(&self.key)
            }
            // Gone or someone else's (force-unlocked and retaken): not ours to remove.
            _ => Ok(()),
        }
    }
}
