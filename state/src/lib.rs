//! brick's state: the versioned on-disk format, atomic writes, locking and the apply journal.
//! It knows no provider: attributes are stored as JSON.
