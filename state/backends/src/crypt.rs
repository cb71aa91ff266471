//! Encryption at rest: a state document (or a saved plan) sealed with AES-256-GCM (RustCrypto's
//! `aes-gcm`) under a key from a passphrase (argon2id, its salt and costs kept in the
//! envelope), a key file or a key in the environment; a fallback key for rotation (read with
//! either, written with the primary).
//!
//! The envelope is compact JSON whose first field is `brick_encryption`:
//! `{"brick_encryption":1,"cipher":"AES-256-GCM","key":{"kind":"passphrase","kdf":"argon2id",
//! "salt":…,"m_cost":…,"t_cost":…,"p_cost":…}|{"kind":"raw"},"nonce":…,"ciphertext":…}`
//! (base64). A fresh salt and nonce every write; the associated data is the envelope's
//! version tag, so a ciphertext cannot be replayed as something else.
//!
//! [`Encryption`] is also the working copy's [`brick_state::Seal`]: the local snapshot, its
//! backup and every journal record are sealed the same way. A passphrase's argon2id key is
//! derived once per process for writing (one fresh salt per process, a fresh nonce per
//! document) and once per salt for reading, so sealing thousands of journal records costs
//! one key derivation, not thousands.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::BackendError;

const AAD: &[u8] = b"brick-encryption-v1";
const MAGIC: &[u8] = b"{\"brick_encryption\":";
/// argon2id costs (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Key material.
#[derive(Clone)]
enum Material {
    Passphrase(String),
    Raw([u8; 32]),
}

/// A key and where it came from (named in every error about it; never its value).
#[derive(Clone)]
pub struct Key {
    source: String,
    material: Material,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.source)
    }
}

/// Where a key comes from, for [`Key::load`].
pub enum KeySource<'a> {
    /// A passphrase (at least 16 characters), named `source`.
    Passphrase { source: &'a str, value: &'a str },
    /// 32 bytes as base64 or hex text, named `source`.
    Text { source: &'a str, value: &'a str },
    /// A key file's content: 32 raw bytes, or base64/hex text.
    File { source: &'a str, bytes: &'a [u8] },
}

impl Key {
    pub fn load(from: KeySource<'_>) -> Result<Key, BackendError> {
        let bad = |source: &str, detail: &str| BackendError::BadKey {
            source_name: source.to_string(),
            detail: detail.to_string(),
        };
        match from {
            KeySource::Passphrase { source, value } => {
                if value.chars().count() < 16 {
                    return Err(bad(source, "the passphrase is shorter than 16 characters"));
                }
                Ok(Key {
                    source: source.to_string(),
                    material: Material::Passphrase(value.to_string()),
                })
            }
            KeySource::Text { source, value } => Ok(Key {
                source: source.to_string(),
                material: Material::Raw(
                    parse_text(value.trim())
                        .ok_or_else(|| bad(source, "not 32 bytes of base64 or hex"))?,
                ),
            }),
            KeySource::File { source, bytes } => {
                let raw = if bytes.len() == 32 {
                    bytes.try_into().ok()
                } else {
                    std::str::from_utf8(bytes)
                        .ok()
                        .and_then(|t| parse_text(t.trim()))
                };
                Ok(Key {
                    source: source.to_string(),
                    material: Material::Raw(raw.ok_or_else(|| {
                        bad(source, "not 32 raw bytes, nor 32 bytes of base64 or hex")
                    })?),
                })
            }
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    fn derive(&self, kdf: &KeyParams) -> Result<[u8; 32], String> {
        match (&self.material, kdf) {
            (Material::Raw(k), KeyParams::Raw) => Ok(*k),
            (
                Material::Passphrase(p),
                KeyParams::Passphrase {
                    salt,
                    m_cost,
                    t_cost,
                    p_cost,
                    ..
                },
            ) => {
                let salt = B64.decode(salt).map_err(|e| format!("bad salt: {e}"))?;
                let params = argon2::Params::new(*m_cost, *t_cost, *p_cost, Some(32))
                    .map_err(|e| format!("bad argon2 parameters: {e}"))?;
                let mut out = [0u8; 32];
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                    .hash_password_into(p.as_bytes(), &salt, &mut out)
                    .map_err(|e| format!("argon2: {e}"))?;
                Ok(out)
            }
            (Material::Raw(_), KeyParams::Passphrase { .. }) => {
                Err("it was encrypted under a passphrase, and this key is a raw key".into())
            }
            (Material::Passphrase(_), KeyParams::Raw) => {
                Err("it was encrypted under a raw key, and this key is a passphrase".into())
            }
        }
    }
}

fn parse_text(t: &str) -> Option<[u8; 32]> {
    let bytes = if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        B64.decode(t).ok()?
    };
    bytes.try_into().ok()
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum KeyParams {
    Passphrase {
        kdf: String,
        salt: String,
        m_cost: u32,
        t_cost: u32,
        p_cost: u32,
    },
    Raw,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    brick_encryption: u32,
    cipher: String,
    key: KeyParams,
    nonce: String,
    ciphertext: String,
}

/// How documents are sealed and opened: the primary key, a fallback for rotation, and
/// whether an unencrypted document may be read (once, to encrypt an existing state).
#[derive(Clone)]
pub struct Encryption {
    pub primary: Key,
    pub fallback: Option<Key>,
    pub allow_unencrypted: bool,
    /// The primary key as derived for writing, with its parameters (salt).
    session: Arc<OnceLock<(KeyParams, [u8; 32])>>,
    /// Keys derived for reading, by key source and parameters.
    derived: Arc<Mutex<HashMap<String, [u8; 32]>>>,
}

/// Names the keys' sources, never their material.
impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("primary", &self.primary)
            .field("fallback", &self.fallback)
            .field("allow_unencrypted", &self.allow_unencrypted)
            .finish_non_exhaustive()
    }
}

/// Whether `bytes` is an encrypted envelope.
pub fn is_encrypted(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

impl Encryption {
    pub fn new(primary: Key, fallback: Option<Key>, allow_unencrypted: bool) -> Encryption {
        Encryption {
            primary,
            fallback,
            allow_unencrypted,
            session: Arc::default(),
            derived: Arc::default(),
        }
    }

    /// The primary key and its parameters for writing: derived once.
    fn session_key(&self) -> Result<&(KeyParams, [u8; 32]), BackendError> {
        if let Some(k) = self.session.get() {
            return Ok(k);
        }
        let params = match &self.primary.material {
            Material::Raw(_) => KeyParams::Raw,
            Material::Passphrase(_) => {
                let mut salt = [0u8; 16];
                OsRng.fill_bytes(&mut salt);
                KeyParams::Passphrase {
                    kdf: "argon2id".into(),
                    salt: B64.encode(salt),
                    m_cost: M_COST,
                    t_cost: T_COST,
                    p_cost: P_COST,
                }
            }
        };
        let key = self
            .primary
            .derive(&params)
            .map_err(|detail| BackendError::BadKey {
                source_name: self.primary.source.clone(),
                detail,
            })?;
        Ok(self.session.get_or_init(|| (params, key)))
    }

    /// `key` derived for `params`, from the cache when it was derived before.
    fn derive_cached(&self, key: &Key, params: &KeyParams) -> Result<[u8; 32], String> {
        if matches!(params, KeyParams::Raw) {
            return key.derive(params);
        }
        let id = format!(
            "{}|{}",
            key.source,
            serde_json::to_string(params).expect("serializes")
        );
        if let Some(k) = self.derived.lock().expect("not poisoned").get(&id) {
            return Ok(*k);
        }
        let k = key.derive(params)?;
        self.derived.lock().expect("not poisoned").insert(id, k);
        Ok(k)
    }

    /// Seals `plain` under the primary key: the envelope and a newline.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, BackendError> {
        let mut out = self.seal_line(plain)?;
        out.push(b'\n');
        Ok(out)
    }

    /// Seals `plain` under the primary key: the envelope, on one line.
    fn seal_line(&self, plain: &[u8]) -> Result<Vec<u8>, BackendError> {
        let (params, key) = self.session_key()?;
        let params = params.clone();
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new_from_slice(key).expect("a 32-byte key");
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: AAD,
                },
            )
            .map_err(|_| BackendError::BadKey {
                source_name: self.primary.source.clone(),
                detail: "encryption failed".into(),
            })?;
        let env = Envelope {
            brick_encryption: 1,
            cipher: "AES-256-GCM".into(),
            key: params,
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(sealed),
        };
        Ok(serde_json::to_vec(&env).expect("an envelope serializes"))
    }

    /// Opens `bytes` (read from `what`) with the primary key, then the fallback.
    pub fn open(&self, bytes: &[u8], what: &str) -> Result<Vec<u8>, BackendError> {
        if !is_encrypted(bytes) {
            if self.allow_unencrypted {
                return Ok(bytes.to_vec());
            }
            return Err(BackendError::NotEncrypted {
                what: what.to_string(),
                source_name: self.primary.source.clone(),
            });
        }
        let env: Envelope = serde_json::from_slice(bytes).map_err(|e| BackendError::Decrypt {
            what: what.to_string(),
            tried: "no key".into(),
            detail: format!("the envelope is damaged ({e})"),
        })?;
        if env.brick_encryption != 1 || env.cipher != "AES-256-GCM" {
            return Err(BackendError::Decrypt {
                what: what.to_string(),
                tried: "no key".into(),
                detail: format!(
                    "unknown envelope version {} / cipher {}",
                    env.brick_encryption, env.cipher
                ),
            });
        }
        let nonce = B64.decode(&env.nonce).ok().filter(|n| n.len() == 12);
        let sealed = B64.decode(&env.ciphertext).ok();
        let (Some(nonce), Some(sealed)) = (nonce, sealed) else {
            return Err(BackendError::Decrypt {
                what: what.to_string(),
                tried: "no key".into(),
                detail: "the envelope's nonce or ciphertext is not valid base64".into(),
            });
        };
        let mut tried = Vec::new();
        let mut why = Vec::new();
        for key in std::iter::once(&self.primary).chain(self.fallback.as_ref()) {
            tried.push(format!("the key from {}", key.source));
            let k = match self.derive_cached(key, &env.key) {
                Ok(k) => k,
                Err(e) => {
                    why.push(e);
                    continue;
                }
            };
            let cipher = Aes256Gcm::new_from_slice(&k).expect("a 32-byte key");
            match cipher.decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: AAD,
                },
            ) {
                Ok(plain) => return Ok(plain),
                Err(_) => why.push(
                    "authentication failed (a wrong key, or the document was altered)".into(),
                ),
            }
        }
        Err(BackendError::Decrypt {
            what: what.to_string(),
            tried: tried.join(" or "),
            detail: why.join("; "),
        })
    }
}

impl brick_state::Seal for Encryption {
    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, String> {
        self.seal_line(plain).map_err(|e| e.to_string())
    }

    fn is_sealed(&self, bytes: &[u8]) -> bool {
        is_encrypted(bytes)
    }

    fn open(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        Encryption::open(self, bytes, "it").map_err(|e| match e {
            BackendError::Decrypt { tried, detail, .. } => format!("tried {tried}: {detail}"),
            BackendError::NotEncrypted { source_name, .. } => format!(
                "it is not encrypted, and encryption is on (key from {source_name}); BRICK_STATE_ALLOW_UNENCRYPTED=1 reads it once, to encrypt it"
            ),
            other => other.to_string(),
        })
    }
}

/// Opens a document read from `what`: through `enc` when encryption is on; refused when
/// it is encrypted and no key is configured.
pub fn open_document(
    enc: Option<&Encryption>,
    bytes: Vec<u8>,
    what: &str,
) -> Result<Vec<u8>, BackendError> {
    match enc {
        Some(e) => e.open(&bytes, what),
        None if is_encrypted(&bytes) => Err(BackendError::Encrypted {
            what: what.to_string(),
        }),
        None => Ok(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(p: &str) -> Key {
        Key::load(KeySource::Passphrase {
            source: "TEST",
            value: p,
        })
        .unwrap()
    }

    #[test]
    fn round_trip_rotation_and_wrong_key() {
        let a = Encryption::new(pass("correct horse battery staple"), None, false);
        let sealed = a.seal(b"{\"secret\":\"hunter2\"}").unwrap();
        assert!(is_encrypted(&sealed));
        assert!(!String::from_utf8_lossy(&sealed).contains("hunter2"));
        assert_eq!(a.open(&sealed, "x").unwrap(), b"{\"secret\":\"hunter2\"}");
        let wrong = Encryption::new(pass("a different passphrase"), None, false);
        let e = wrong.open(&sealed, "s3://b/k").unwrap_err();
        assert!(matches!(e, BackendError::Decrypt { .. }), "{e}");
        assert!(e.to_string().contains("the key from TEST"), "{e}");
        let rotated = Encryption::new(
            Key::load(KeySource::Text {
                source: "NEW",
                value: &"ab".repeat(32),
            })
            .unwrap(),
            Some(pass("correct horse battery staple")),
            false,
        );
        assert_eq!(
            rotated.open(&sealed, "x").unwrap(),
            b"{\"secret\":\"hunter2\"}"
        );
        assert!(matches!(
            a.open(b"{\"serial\":1}", "x"),
            Err(BackendError::NotEncrypted { .. })
        ));
        assert!(matches!(
            open_document(None, sealed, "x"),
            Err(BackendError::Encrypted { .. })
        ));
    }
}
