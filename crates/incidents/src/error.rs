//! The store's error type. Its own module, so that the parts of the store
//! that [`crate::store`] names (staged uploads) can fail with it without
//! depending on the trait.

use std::path::PathBuf;

use crate::incident::DomainError;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The thing doesn't exist or the viewer may not see it (the two are
    /// deliberately indistinguishable).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The viewer can see the thing but may not do this to it.
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    /// A domain rule refused the change.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The input is invalid (field and reason in the message).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The change conflicts with existing data (duplicate name, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller did this too often recently (reports per hour); it may
    /// try again after `retry_after_secs`.
    #[error("{message}")]
    RateLimited {
        /// What the limit is, for the caller.
        message: String,
        /// Seconds until the oldest counted action leaves the window.
        retry_after_secs: u64,
    },
    /// An upload is larger than the per-file limit, or than what is left of
    /// the uploader's or the store's attachment quota.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Attachment file IO failed.
    #[error("attachment storage error at {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Stored data can't be decoded (a corrupted row).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The audit key file can't be read or created.
    #[error(transparent)]
    AuditKeyFile(#[from] crate::audit::AuditKeyError),
    /// The audit key does not fit this database's chain (another key, or a
    /// chain written without a key that only a new key may re-key).
    #[error("audit key: {0}")]
    AuditKey(String),
    /// The URL or path names no supported backend.
    #[error("unsupported database url {0:?}: use sqlite:PATH, a file path, or postgres://...")]
    UnsupportedUrl(String),
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
