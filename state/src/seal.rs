//! Encryption at the storage boundary: a [`Seal`] turns the bytes of a snapshot, its backup
//! and each journal record into ciphertext as they are written and back as they are read.
//! The state model and the document format never see it; the cipher itself lives outside
//! this crate (`brick-state-backends`' AES-256-GCM envelopes).

/// Seals and opens documents. `open` also decides what an unsealed document means (read as
/// is while migrating an unencrypted state, or an error).
pub trait Seal: Send + Sync + std::fmt::Debug {
    /// `plain` sealed, on one line (no newline inside, none at the end).
    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, String>;
    /// Whether `bytes` is sealed.
    fn is_sealed(&self, bytes: &[u8]) -> bool;
    /// The plain bytes of `bytes` (sealed, or unsealed when that is allowed); the error names
    /// the keys tried, never their value.
    fn open(&self, bytes: &[u8]) -> Result<Vec<u8>, String>;
}
