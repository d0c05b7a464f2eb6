//! [`StagedAttachment`]: an upload on its way into the store, streamed to a
//! private temporary file in the data directory while it is hashed and
//! counted, so that an upload is never held whole in memory.
//!
//! A staged file is created by [`crate::Store::stage_attachment`] with an
//! allowance (the smallest of the per-file limit and what is left of the
//! uploader's and the store's attachment quotas); a chunk that would pass
//! it is refused with [`StoreError::QuotaExceeded`] and nothing more is
//! written. [`crate::Store::add_staged_attachment`] moves the file to its
//! content-addressed place and records it. A staged file that is dropped
//! instead (a refused or abandoned upload) is deleted.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{Result, StoreError};

/// An upload being written to a temporary file; see the module docs.
#[derive(Debug)]
pub struct StagedAttachment {
    file: Option<tokio::fs::File>,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    allowance: u64,
    over: String,
    kept: bool,
}

/// A staged file, complete: where it is, its hash and its size.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    pub(crate) size: u64,
    /// Deletes the file if it is not moved into place.
    pub(crate) guard: TempGuard,
}

/// Deletes a temporary file when dropped, unless disarmed.
#[derive(Debug)]
pub(crate) struct TempGuard(Option<PathBuf>);

impl TempGuard {
    /// The file is no longer temporary (it was moved away).
    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl StagedAttachment {
    /// Creates the temporary file `path` (owner-only, `0600`), refusing
    /// more than `allowance` bytes with `over` as the message.
    pub(crate) async fn create(path: PathBuf, allowance: u64, over: String) -> Result<Self> {
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&path).await.map_err(io(&path))?;
        Ok(Self {
            file: Some(file),
            path,
            hasher: Sha256::new(),
            size: 0,
            allowance,
            over,
            kept: false,
        })
    }

    /// Appends a chunk. Past the allowance, nothing is written and the
    /// answer is [`StoreError::QuotaExceeded`] (the staged file is then of
    /// no use: drop it).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        if self.size.saturating_add(len) > self.allowance {
            return Err(StoreError::QuotaExceeded(self.over.clone()));
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| StoreError::Corrupt("staged attachment already finished".into()))?;
        file.write_all(chunk).await.map_err(io(&self.path))?;
        self.hasher.update(chunk);
        self.size += len;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes and closes the file; the result deletes it unless it is
    /// moved into place.
    pub(crate) async fn finish(mut self) -> Result<Finished> {
        if let Some(mut file) = self.file.take() {
            file.flush().await.map_err(io(&self.path))?;
            file.sync_data().await.map_err(io(&self.path))?;
        }
        self.kept = true;
        let hasher = std::mem::take(&mut self.hasher);
        Ok(Finished {
            path: self.path.clone(),
            sha256: hex::encode(hasher.finalize()),
            size: self.size,
            guard: TempGuard(Some(self.path.clone())),
        })
    }
}

impl Drop for StagedAttachment {
    fn drop(&mut self) {
        if !self.kept {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// An IO error at `path` as a store error.
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + use<> {
    let path = path.to_owned();
    move |source| StoreError::Io { path, source }
}
