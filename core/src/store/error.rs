//! [`StoreError`]: what can go wrong in a [`DocStore`](super::DocStore).

use crate::ids::DocumentId;

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store operation failed. Messages carry no document content or index values (plates,
/// names): only ids, sizes and the kind of record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The sled database failed (I/O error, or a sled-level corruption found on open).
    #[error(transparent)]
    Sled(#[from] sled::Error),
    /// A file operation of the store itself failed (syncing sled's log).
    #[error("store i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Automerge rejected a document while merging it with the stored one.
    #[error(transparent)]
    Automerge(Box<automerge::AutomergeError>),
    /// A stored record does not decode: a metadata record, a key, a counter or a sync state.
    #[error("corrupt {what} in the store: {reason}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The snapshot of a document does not load. Snapshots are written atomically and sled
    /// checksums its own records, so this is damage outside the store's failure model.
    #[error("stored snapshot of document {id} does not load: {source}")]
    CorruptDocument {
        /// The document.
        id: DocumentId,
        /// Automerge's reason.
        #[source]
        source: Box<automerge::AutomergeError>,
    },
    /// The database was written by an unknown (newer) version of the store.
    #[error("store format {found} is not supported (this build reads format {supported})")]
    UnsupportedFormat {
        /// The format found in the database.
        found: String,
        /// The format this build reads and writes.
        supported: u32,
    },
    /// A key is too long to be encoded (an index name over 65 535 bytes).
    #[error("{what} is too long: {len} bytes")]
    KeyTooLong {
        /// Which key.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A durable counter reached `u64::MAX`.
    #[error("sequence is exhausted")]
    SequenceExhausted,
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str, reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            what,
            reason: reason.into(),
        }
    }
}

impl From<automerge::AutomergeError> for StoreError {
    fn from(error: automerge::AutomergeError) -> Self {
        StoreError::Automerge(Box::new(error))
    }
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(error: sled::transaction::TransactionError<StoreError>) -> Self {
        match error {
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
            // A transaction aborts only on a check of its own, with the reason.
            sled::transaction::TransactionError::Abort(e) => e,
        }
    }
}
