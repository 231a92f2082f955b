//! Weighing ingest (称重数据接入): what source units' systems upload, and what the county
//! platform makes of it.
//!
//! - [`alerts`]: the alerts supervisors and patrols act on — over-limit departures (超限出场)
//!   and upload interruptions — routed by jurisdiction, with their acknowledge → dispatch →
//!   close history.
//! - [`weighings`]: the weighing records (称重记录), once per (unit, record id), with their exit
//!   verdicts, departure alerts, conflicting versions (audit) and the plates' yearly counts.
//! - [`units`]: a unit's name and supervising authority, from its synced profile.
//! - [`watchlist`]: the server-written daily watch-list documents of over-limit departures,
//!   for the patrols' offline plate lookup.
//! - [`heartbeats`]: equipment heartbeats and the upload-interrupted monitor.
//!
//! Everything lives in one sled database of its own, `<data_dir>/ingest`, separate from the
//! document store: weighing records are not CRDT documents (one writer, append-only, keyed by
//! the unit's record id), and writes that belong together (a record and the alert it raises)
//! go in one sled transaction, flushed before the answer leaves.

pub mod alerts;
pub mod heartbeats;
pub mod units;
pub mod watchlist;
pub mod weighings;

use std::path::Path;

use std::sync::Arc;

use crate::ingest::alerts::AlertStore;
use crate::ingest::weighings::WeighingStore;

/// Why the ingest database failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// sled failed (disk, another process holds the database).
    #[error(transparent)]
    Sled(#[from] sled::Error),
    /// A stored record does not read.
    #[error("corrupt ingest record {key}: {reason}")]
    Corrupt {
        /// The record's key, printable.
        key: String,
        /// Why.
        reason: String,
    },
}

/// Result alias of this module.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;

/// Version byte in front of every stored record's JSON (weighings, alerts, heartbeats).
const RECORD_VERSION: u8 = 1;

/// A stored record: the version byte, then `value` as JSON.
///
/// # Errors
/// [`IngestError::Corrupt`] naming `key` when `value` cannot be serialised.
pub(crate) fn encode<T: serde::Serialize>(key: &[u8], value: &T) -> Result<Vec<u8>> {
    let mut bytes = vec![RECORD_VERSION];
    serde_json::to_writer(&mut bytes, value).map_err(|e| IngestError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })?;
    Ok(bytes)
}

/// Reads a record [`encode`] wrote under `key`.
///
/// # Errors
/// [`IngestError::Corrupt`]: empty, another version, or JSON of another shape.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    let corrupt = |reason: String| IngestError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    match bytes.split_first() {
        Some((&RECORD_VERSION, json)) => {
            serde_json::from_slice(json).map_err(|e| corrupt(e.to_string()))
        }
        Some((v, _)) => Err(corrupt(format!("unknown record version {v}"))),
        None => Err(corrupt("empty".to_owned())),
    }
}

/// The ingest database and its stores; cheap to clone (sled handles are shared).
#[derive(Clone, Debug)]
pub struct Ingest {
    db: sled::Db,
    /// The alerts.
    pub alerts: AlertStore,
    /// The weighing records.
    pub weighings: WeighingStore,
    /// Held while a watch-list document is written ([`watchlist`]): one writer at a time, so
    /// each write reads the document the previous one left.
    watchlist_writes: Arc<tokio::sync::Mutex<()>>,
}

impl Ingest {
    /// Opens (creating) the database in `dir`.
    ///
    /// # Errors
    /// [`IngestError::Sled`] when another process holds it or the disk fails.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::from_db(zhichao_core::store::open_sled(
            &sled::Config::new().path(dir),
        )?)
    }

    /// A database that lives in memory (router tests, simulations).
    ///
    /// # Errors
    /// [`IngestError::Sled`].
    pub fn temporary() -> Result<Self> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Self> {
        let alerts = AlertStore::open(&db)?;
        let weighings = WeighingStore::open(&db)?;
        Ok(Ingest {
            db,
            alerts,
            weighings,
            watchlist_writes: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The sled database, for stores that add their own trees.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Flushes everything written so far to disk.
    ///
    /// # Errors
    /// [`IngestError::Sled`].
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }
}
