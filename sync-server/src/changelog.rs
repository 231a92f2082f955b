//! [`ChangeLog`]: what the server accepted, from whom and when, and what each peer has been
//! given.
//!
//! Document ids are random and the protocol cannot list documents, so the server keeps a log:
//! a sequence number for every accepted save of a document, with the principal who made the
//! changes (a person, not a device key), the server's receipt time and the document's heads.
//! Per peer storage id it remembers the sequence that peer has been brought up to. On connect
//! the server announces exactly the documents in the peer's read scope that changed since then
//! — how an enterprise receives a new notice, an officer a review — so a reconnect with
//! nothing changed costs the same few bytes whatever the number of documents.
//!
//! The server's receipt times live here, never in documents.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zhichao_core::docs::Header;
use zhichao_core::ids::{DocumentId, PrincipalId, StorageId};

/// Why the log failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeLogError {
    /// sled failed.
    #[error("change log storage: {0}")]
    Sled(#[from] sled::Error),
    /// A record does not decode.
    #[error("corrupt change log record: {0}")]
    Corrupt(String),
}

/// Result alias of this module.
pub type Result<T, E = ChangeLogError> = std::result::Result<T, E>;

/// One accepted save.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Sequence number, from 1.
    pub seq: u64,
    /// The document.
    pub doc: DocumentId,
    /// Who made the changes.
    pub principal: PrincipalId,
    /// Server receipt time, UTC milliseconds.
    pub received_ms: u64,
    /// The document's heads after the save (hex).
    pub heads: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Record {
    doc: DocumentId,
    principal: PrincipalId,
    received_ms: u64,
    heads: Vec<String>,
}

/// The change log (a sled database of its own).
#[derive(Clone, Debug)]
pub struct ChangeLog {
    db: sled::Db,
    log: sled::Tree,
    headers: sled::Tree,
    delivered: sled::Tree,
}

impl ChangeLog {
    /// Opens (creating) the log in `dir`.
    ///
    /// # Errors
    /// [`ChangeLogError::Sled`] (another process holds it, a disk error).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::from_db(sled::Config::new().path(dir).open()?)
    }

    /// A log in memory (tests, simulations).
    ///
    /// # Errors
    /// [`ChangeLogError::Sled`].
    pub fn temporary() -> Result<Self> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Self> {
        Ok(ChangeLog {
            log: db.open_tree("log")?,
            headers: db.open_tree("headers")?,
            delivered: db.open_tree("delivered")?,
            db,
        })
    }

    /// The last sequence number (0 when empty).
    ///
    /// # Errors
    /// Storage errors.
    pub fn last_seq(&self) -> Result<u64> {
        Ok(match self.log.last()? {
            Some((k, _)) => seq_of(&k)?,
            None => 0,
        })
    }

    /// Appends one entry per saved document (with its header, kept for discovery) and flushes:
    /// the caller acknowledges the changes only after this returns.
    ///
    /// # Errors
    /// Storage errors; nothing is appended then.
    pub fn append(
        &self,
        saves: &[(DocumentId, Header, PrincipalId, Vec<String>)],
        received_ms: u64,
    ) -> Result<u64> {
        let mut seq = self.last_seq()?;
        let mut log = sled::Batch::default();
        let mut headers = sled::Batch::default();
        for (doc, header, principal, heads) in saves {
            seq += 1;
            let record = Record {
                doc: *doc,
                principal: principal.clone(),
                received_ms,
                heads: heads.clone(),
            };
            let bytes =
                serde_json::to_vec(&record).map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
            log.insert(&seq.to_be_bytes(), bytes);
            let header =
                serde_json::to_vec(header).map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
            headers.insert(&doc.as_bytes()[..], header);
        }
        self.log.apply_batch(log)?;
        self.headers.apply_batch(headers)?;
        self.db.flush()?;
        Ok(seq)
    }

    /// The header of a logged document.
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`].
    pub fn header(&self, doc: &DocumentId) -> Result<Option<Header>> {
        self.headers
            .get(doc.as_bytes())?
            .map(|v| serde_json::from_slice(&v).map_err(|e| ChangeLogError::Corrupt(e.to_string())))
            .transpose()
    }

    /// The header of a document followed by its ancestors' (parent, grandparent), as far as
    /// they are logged.
    ///
    /// # Errors
    /// As [`ChangeLog::header`].
    pub fn header_chain(&self, doc: &DocumentId) -> Result<Option<(Header, Vec<Header>)>> {
        let Some(header) = self.header(doc)? else {
            return Ok(None);
        };
        let mut ancestors = Vec::new();
        let mut next = header.parent;
        while let Some(id) = next {
            if ancestors.len() >= 2 {
                break;
            }
            match self.header(&id)? {
                Some(h) => {
                    next = h.parent;
                    ancestors.push(h);
                }
                None => break,
            }
        }
        Ok(Some((header, ancestors)))
    }

    /// Documents changed after `since`, each once, with its latest entry (sequence number,
    /// heads after that save).
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`].
    pub fn changed_since(&self, since: u64) -> Result<BTreeMap<DocumentId, LogEntry>> {
        let mut out = BTreeMap::new();
        for item in self.log.range((since + 1).to_be_bytes()..) {
            let (k, v) = item?;
            let record: Record =
                serde_json::from_slice(&v).map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
            out.insert(
                record.doc,
                LogEntry {
                    seq: seq_of(&k)?,
                    doc: record.doc,
                    principal: record.principal,
                    received_ms: record.received_ms,
                    heads: record.heads,
                },
            );
        }
        Ok(out)
    }

    /// The server's own storage id, announced in every handshake: drawn at random the first
    /// time and kept, so phones key their sync states to this server's data (a server
    /// restored elsewhere from scratch gets a new one, and phones start fresh states).
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`] for a stored id that does not parse, or no
    /// system randomness.
    pub fn storage_id(&self) -> Result<StorageId> {
        const KEY: &[u8] = b"server_storage_id";
        if let Some(v) = self.db.get(KEY)? {
            let text = std::str::from_utf8(&v)
                .map_err(|e| ChangeLogError::Corrupt(format!("server storage id: {e}")))?;
            return StorageId::new(text)
                .map_err(|e| ChangeLogError::Corrupt(format!("server storage id: {e}")));
        }
        let mut bytes = [0u8; 16];
        rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut bytes)
            .map_err(|e| ChangeLogError::Corrupt(format!("no randomness: {e}")))?;
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let id = StorageId::new(&text)
            .map_err(|e| ChangeLogError::Corrupt(format!("server storage id: {e}")))?;
        // Compare-and-swap: two starts racing keep one id.
        let _ = self
            .db
            .compare_and_swap(KEY, None as Option<&[u8]>, Some(text.as_bytes()))?;
        self.db.flush()?;
        match self.db.get(KEY)? {
            Some(v) if v.as_ref() == text.as_bytes() => Ok(id),
            _ => self.storage_id(),
        }
    }

    /// The history of one document, oldest first (for the audit route).
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`].
    pub fn history(&self, doc: &DocumentId) -> Result<Vec<LogEntry>> {
        let mut out = Vec::new();
        for item in self.log.iter() {
            let (k, v) = item?;
            let record: Record =
                serde_json::from_slice(&v).map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
            if record.doc == *doc {
                out.push(LogEntry {
                    seq: seq_of(&k)?,
                    doc: record.doc,
                    principal: record.principal,
                    received_ms: record.received_ms,
                    heads: record.heads,
                });
            }
        }
        Ok(out)
    }

    /// The sequence a peer storage id has been brought up to (0: never).
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`].
    pub fn delivered(&self, peer: &StorageId) -> Result<u64> {
        match self.delivered.get(peer.as_str())? {
            Some(v) => seq_of(&v),
            None => Ok(0),
        }
    }

    /// Records that `peer` has everything up to `seq`. Not flushed: losing it costs only a
    /// re-announcement.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_delivered(&self, peer: &StorageId, seq: u64) -> Result<()> {
        self.delivered.insert(peer.as_str(), &seq.to_be_bytes())?;
        Ok(())
    }
}

fn seq_of(bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| ChangeLogError::Corrupt("sequence key is not 8 bytes".to_owned()))?;
    Ok(u64::from_be_bytes(array))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhichao_core::fixtures::{case, case_header, pid};

    #[test]
    fn appends_discovers_and_remembers_delivery() {
        let log = ChangeLog::temporary().unwrap();
        assert_eq!(log.last_seq().unwrap(), 0);
        let a = case(1, "officer:wang", "team-1").id();
        let b = case(2, "officer:wang", "team-1").id();
        let h = case_header("officer:wang", "team-1");
        let seq = log
            .append(
                &[
                    (a, h.clone(), pid("officer:wang"), vec!["aa".to_owned()]),
                    (b, h.clone(), pid("officer:wang"), vec![]),
                ],
                1_000,
            )
            .unwrap();
        assert_eq!(seq, 2);
        log.append(&[(a, h.clone(), pid("officer:li"), vec![])], 2_000)
            .unwrap();
        let changed = log.changed_since(0).unwrap();
        assert_eq!(changed.get(&a).map(|e| e.seq), Some(3));
        assert_eq!(changed.get(&b).map(|e| e.seq), Some(2));
        assert_eq!(changed[&b].heads, Vec::<String>::new());
        assert_eq!(log.changed_since(2).unwrap().len(), 1);
        assert!(log.changed_since(3).unwrap().is_empty());
        let history = log.history(&a).unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].principal, pid("officer:li"));
        assert_eq!(history[1].received_ms, 2_000);
        assert_eq!(log.header(&a).unwrap(), Some(h));
        let peer = StorageId::new("phone-1").unwrap();
        assert_eq!(log.delivered(&peer).unwrap(), 0);
        log.set_delivered(&peer, 3).unwrap();
        assert_eq!(log.delivered(&peer).unwrap(), 3);
    }

    #[test]
    fn the_server_storage_id_is_drawn_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = ChangeLog::open(dir.path()).unwrap().storage_id().unwrap();
        assert_eq!(first.as_str().len(), 32);
        let again = ChangeLog::open(dir.path()).unwrap().storage_id().unwrap();
        assert_eq!(first, again);
        let other = ChangeLog::temporary().unwrap().storage_id().unwrap();
        assert_ne!(first, other);
    }

    #[test]
    fn corrupt_records_are_typed_errors() {
        let log = ChangeLog::temporary().unwrap();
        log.log.insert(1u64.to_be_bytes(), &b"garbage"[..]).unwrap();
        assert!(matches!(
            log.changed_since(0),
            Err(ChangeLogError::Corrupt(_))
        ));
        log.delivered.insert("p", &b"xx"[..]).unwrap();
        assert!(log.delivered(&StorageId::new("p").unwrap()).is_err());
    }
}
