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
    /// The latest entry of each document, keyed by its sequence number (so discovery reads
    /// one entry per changed document, not every change), and each document's key in it.
    latest: sled::Tree,
    latest_of: sled::Tree,
    /// The latest entry of each document again, under each *audience* it concerns
    /// ([`Audience`]): key = audience tag, 0, sequence number; value = document id. Discovery
    /// for an officer or an enterprise reads its audiences only, not the whole county.
    audience: sled::Tree,
    /// Every save of each document: key = document id (16 bytes), sequence number; empty
    /// value. [`ChangeLog::history`] reads one document's saves without scanning the log.
    /// Complete up to the sequence stored under [`BY_DOC_UPTO`] in the default tree.
    by_doc: sled::Tree,
}

/// Key (in the log's default tree) of the sequence number up to which `by_doc` is complete.
const BY_DOC_UPTO: &[u8] = b"by_doc_upto";

fn by_doc_key(doc: &DocumentId, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(24);
    key.extend_from_slice(doc.as_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// Who a document concerns, as far as discovery needs to find it quickly: derived from the
/// immutable headers of the document and its ancestors, so it never changes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Audience {
    /// A patrol team: its cases and notices, responses to its notices, reviews of its cases
    /// and of responses to its notices.
    Team(String),
    /// A source unit: notices to it, its responses and their reviews, its profile.
    Unit(String),
    /// Everyone in scope: unit profiles and server documents (rules, watch-list).
    Shared,
}

impl Audience {
    fn tag(&self) -> Vec<u8> {
        let mut tag = match self {
            Audience::Team(t) => format!("t:{t}"),
            Audience::Unit(u) => format!("u:{u}"),
            Audience::Shared => "s:".to_owned(),
        }
        .into_bytes();
        tag.push(0);
        tag
    }

    /// The audiences of a document with `header` and `ancestors` (parent, grandparent).
    pub fn of(header: &Header, ancestors: &[Header]) -> Vec<Audience> {
        use zhichao_core::docs::DocKind;
        let team = |h: &Header| h.team.as_ref().map(|t| Audience::Team(t.to_string()));
        let unit = |h: &Header| h.unit.as_ref().map(|u| Audience::Unit(u.to_string()));
        let mut out: Vec<Audience> = match header.kind {
            DocKind::Case => team(header).into_iter().collect(),
            DocKind::Notice => team(header).into_iter().chain(unit(header)).collect(),
            DocKind::Response => unit(header)
                .into_iter()
                .chain(ancestors.first().and_then(team))
                .collect(),
            DocKind::Review => ancestors
                .iter()
                .take(2)
                .flat_map(|a| team(a).into_iter().chain(unit(a)))
                .collect(),
            DocKind::Unit => std::iter::once(Audience::Shared)
                .chain(unit(header))
                .collect(),
            DocKind::Rules | DocKind::WatchList => vec![Audience::Shared],
        };
        out.sort();
        out.dedup();
        out
    }
}

impl ChangeLog {
    /// Opens (creating) the log in `dir`.
    ///
    /// # Errors
    /// [`ChangeLogError::Sled`] (another process holds it, a disk error).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::from_db(zhichao_core::store::open_sled(
            &sled::Config::new().path(dir),
        )?)
    }

    /// A log in memory (tests, simulations).
    ///
    /// # Errors
    /// [`ChangeLogError::Sled`].
    pub fn temporary() -> Result<Self> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Self> {
        let log = ChangeLog {
            log: db.open_tree("log")?,
            headers: db.open_tree("headers")?,
            delivered: db.open_tree("delivered")?,
            latest: db.open_tree("latest")?,
            latest_of: db.open_tree("latest_of")?,
            audience: db.open_tree("audience")?,
            by_doc: db.open_tree("by_doc")?,
            db,
        };
        log.catch_up_latest()?;
        log.catch_up_by_doc()?;
        Ok(log)
    }

    /// The sequence number up to which the per-document index is complete.
    fn by_doc_upto(&self) -> Result<u64> {
        match self.db.get(BY_DOC_UPTO)? {
            Some(v) => seq_of(&v),
            None => Ok(0),
        }
    }

    /// Brings the per-document index up to the log: logs written before it existed have
    /// none, and a crash between the log and the index leaves it behind.
    fn catch_up_by_doc(&self) -> Result<()> {
        let upto = self.by_doc_upto()?;
        let mut batch = sled::Batch::default();
        let mut last = upto;
        for item in self.log.range((upto + 1).to_be_bytes()..) {
            let (k, v) = item?;
            let record: Record =
                serde_json::from_slice(&v).map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
            last = seq_of(&k)?;
            batch.insert(by_doc_key(&record.doc, last), &[][..]);
        }
        if last > upto {
            self.by_doc.apply_batch(batch)?;
            self.db.insert(BY_DOC_UPTO, &last.to_be_bytes())?;
            tracing::info!(
                replayed = last - upto,
                "per-document change index brought up to date"
            );
            self.db.flush()?;
        }
        Ok(())
    }

    /// Brings the latest-entry index up to the log: it is written after the log (a crash in
    /// between leaves it behind), and logs from before the index existed have none.
    fn catch_up_latest(&self) -> Result<()> {
        let indexed = match self.latest.last()? {
            Some((k, _)) => seq_of(&k)?,
            None => 0,
        };
        let mut replayed = 0u64;
        for item in self.log.range((indexed + 1).to_be_bytes()..) {
            let (k, v) = item?;
            let record: Record =
                serde_json::from_slice(&v).map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
            self.index_latest(&record.doc, seq_of(&k)?, &v)?;
            replayed += 1;
        }
        if replayed > 0 {
            tracing::info!(replayed, "change log index brought up to date");
            self.db.flush()?;
        }
        Ok(())
    }

    /// Makes `seq` (with its record bytes) the latest entry of `doc`, in the latest index and
    /// under each of the document's audiences.
    fn index_latest(&self, doc: &DocumentId, seq: u64, record: &[u8]) -> Result<()> {
        let audiences = match self.header_chain(doc)? {
            Some((header, ancestors)) => Audience::of(&header, &ancestors),
            None => Vec::new(),
        };
        let key = |a: &Audience, seq: &[u8]| {
            let mut k = a.tag();
            k.extend_from_slice(seq);
            k
        };
        if let Some(old) = self.latest_of.insert(doc.as_bytes(), &seq.to_be_bytes())? {
            self.latest.remove(&old)?;
            for a in &audiences {
                self.audience.remove(key(a, &old))?;
            }
        }
        self.latest.insert(seq.to_be_bytes(), record)?;
        for a in &audiences {
            self.audience
                .insert(key(a, &seq.to_be_bytes()), &doc.as_bytes()[..])?;
        }
        Ok(())
    }

    /// Documents of `audiences` changed after `since`, each once, with its latest entry: what
    /// [`changed_since`](Self::changed_since) gives, restricted to those audiences, reading
    /// only their index entries.
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`].
    pub fn changed_since_for(
        &self,
        audiences: &[Audience],
        since: u64,
    ) -> Result<BTreeMap<DocumentId, LogEntry>> {
        let mut out = BTreeMap::new();
        for a in audiences {
            let tag = a.tag();
            let mut start = tag.clone();
            start.extend_from_slice(&(since + 1).to_be_bytes());
            for item in self.audience.range(start..) {
                let (k, v) = item?;
                if !k.starts_with(&tag) {
                    break;
                }
                let seq = seq_of(&k[tag.len()..])?;
                let doc = DocumentId::from_bytes(v.as_ref().try_into().map_err(|_| {
                    ChangeLogError::Corrupt("audience entry is not a document id".to_owned())
                })?);
                if out.contains_key(&doc) {
                    continue;
                }
                let Some(bytes) = self.latest.get(seq.to_be_bytes())? else {
                    continue; // replaced meanwhile: the newer entry is found under its own key
                };
                let record: Record = serde_json::from_slice(&bytes)
                    .map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
                out.insert(
                    doc,
                    LogEntry {
                        seq,
                        doc,
                        principal: record.principal,
                        received_ms: record.received_ms,
                        heads: record.heads,
                    },
                );
            }
        }
        Ok(out)
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
        let first = self.last_seq()?;
        let mut seq = first;
        let mut log = sled::Batch::default();
        let mut headers = sled::Batch::default();
        let mut by_doc = sled::Batch::default();
        let mut latest = Vec::with_capacity(saves.len());
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
            log.insert(&seq.to_be_bytes(), bytes.clone());
            by_doc.insert(by_doc_key(doc, seq), &[][..]);
            latest.push((*doc, seq, bytes));
            let header =
                serde_json::to_vec(header).map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
            headers.insert(&doc.as_bytes()[..], header);
        }
        // Headers first: the indexes derive audiences from them, and a crash between the two
        // must leave every logged document's header readable for the catch-up on open.
        self.headers.apply_batch(headers)?;
        self.log.apply_batch(log)?;
        for (doc, seq, bytes) in latest {
            self.index_latest(&doc, seq, &bytes)?;
        }
        self.by_doc.apply_batch(by_doc)?;
        // Complete only if it was before (an index write that failed earlier leaves a gap
        // that the catch-up on open fills; `history` reads the tail meanwhile).
        if self.by_doc_upto()? == first {
            self.db.insert(BY_DOC_UPTO, &seq.to_be_bytes())?;
        }
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
        // One entry per document: its latest.
        for item in self.latest.range((since + 1).to_be_bytes()..) {
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

    /// The sequence number up to which every save is in the latest-entry index (and the
    /// per-document one): a [`changed_since`](Self::changed_since) started after this returns
    /// is complete up to it, whatever is being appended meanwhile. At most
    /// [`last_seq`](Self::last_seq); behind it while a save is being indexed, or after an index
    /// write failed (until the next open catches up).
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`].
    pub fn indexed_upto(&self) -> Result<u64> {
        self.by_doc_upto()
    }

    /// Every save after `since`, oldest first, read from the log itself (each append is one
    /// atomic batch, so what this returns is always a whole prefix of the log: no save is
    /// skipped that a later call would find before one it returns).
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`].
    pub fn saves_since(&self, since: u64) -> Result<Vec<LogEntry>> {
        let mut out = Vec::new();
        for item in self.log.range((since.saturating_add(1)).to_be_bytes()..) {
            let (k, v) = item?;
            let record: Record =
                serde_json::from_slice(&v).map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
            out.push(LogEntry {
                seq: seq_of(&k)?,
                doc: record.doc,
                principal: record.principal,
                received_ms: record.received_ms,
                heads: record.heads,
            });
        }
        Ok(out)
    }

    /// The latest entry of one document (`None`: never logged).
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`].
    pub fn latest(&self, doc: &DocumentId) -> Result<Option<LogEntry>> {
        let Some(seq) = self.latest_of.get(doc.as_bytes())? else {
            return Ok(None);
        };
        let Some(v) = self.latest.get(&seq)? else {
            return Ok(None);
        };
        let record: Record =
            serde_json::from_slice(&v).map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
        Ok(Some(LogEntry {
            seq: seq_of(&seq)?,
            doc: record.doc,
            principal: record.principal,
            received_ms: record.received_ms,
            heads: record.heads,
        }))
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

    /// The history of one document, oldest first (for the audit route and the console):
    /// read from the per-document index, plus the end of the log not indexed yet.
    ///
    /// # Errors
    /// Storage errors, [`ChangeLogError::Corrupt`].
    pub fn history(&self, doc: &DocumentId) -> Result<Vec<LogEntry>> {
        let mut out = BTreeMap::new();
        let entry = |seq: u64, bytes: &[u8]| -> Result<LogEntry> {
            let record: Record = serde_json::from_slice(bytes)
                .map_err(|e| ChangeLogError::Corrupt(e.to_string()))?;
            Ok(LogEntry {
                seq,
                doc: record.doc,
                principal: record.principal,
                received_ms: record.received_ms,
                heads: record.heads,
            })
        };
        for item in self.by_doc.scan_prefix(doc.as_bytes()) {
            let (k, _) = item?;
            let seq = seq_of(k.get(16..).unwrap_or_default())?;
            if let Some(v) = self.log.get(seq.to_be_bytes())? {
                let e = entry(seq, &v)?;
                if e.doc == *doc {
                    out.insert(seq, e);
                }
            }
        }
        for item in self.log.range((self.by_doc_upto()? + 1).to_be_bytes()..) {
            let (k, v) = item?;
            let seq = seq_of(&k)?;
            if out.contains_key(&seq) {
                continue;
            }
            let e = entry(seq, &v)?;
            if e.doc == *doc {
                out.insert(seq, e);
            }
        }
        Ok(out.into_values().collect())
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
    fn saves_since_reads_every_save_in_order_and_indexed_upto_follows_appends() {
        let log = ChangeLog::temporary().unwrap();
        assert_eq!(log.indexed_upto().unwrap(), 0);
        assert!(log.saves_since(0).unwrap().is_empty());
        let a = case(1, "officer:wang", "team-1").id();
        let b = case(2, "officer:wang", "team-1").id();
        let h = case_header("officer:wang", "team-1");
        log.append(
            &[
                (a, h.clone(), pid("officer:wang"), vec![]),
                (b, h.clone(), pid("officer:wang"), vec![]),
            ],
            1,
        )
        .unwrap();
        log.append(&[(a, h, pid("officer:li"), vec!["bb".to_owned()])], 2)
            .unwrap();
        assert_eq!(log.indexed_upto().unwrap(), 3);
        let all = log.saves_since(0).unwrap();
        assert_eq!(
            all.iter().map(|e| (e.seq, e.doc)).collect::<Vec<_>>(),
            [(1, a), (2, b), (3, a)],
            "every save, not only each document's latest"
        );
        assert_eq!(all[2].principal, pid("officer:li"));
        assert_eq!(all[2].heads, ["bb"]);
        assert_eq!(log.saves_since(2).unwrap(), all[2..]);
        assert!(log.saves_since(3).unwrap().is_empty());
    }

    #[test]
    fn the_latest_index_catches_up_after_a_crash_between_log_and_index() {
        let dir = tempfile::tempdir().unwrap();
        let a = case(1, "officer:wang", "team-1").id();
        let h = case_header("officer:wang", "team-1");
        {
            let log = ChangeLog::open(dir.path()).unwrap();
            log.append(&[(a, h.clone(), pid("officer:wang"), vec![])], 1)
                .unwrap();
            // As if the process died after writing the log but before the index.
            log.latest.clear().unwrap();
            log.latest_of.clear().unwrap();
            log.db.flush().unwrap();
            assert!(log.changed_since(0).unwrap().is_empty());
        }
        let log = ChangeLog::open(dir.path()).unwrap();
        assert_eq!(log.changed_since(0).unwrap()[&a].seq, 1);
        // A later save of the same document replaces its entry.
        log.append(&[(a, h, pid("officer:li"), vec![])], 2).unwrap();
        let changed = log.changed_since(0).unwrap();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[&a].seq, 2);
        assert_eq!(log.latest.len(), 1, "one index entry per document");
    }

    #[test]
    fn discovery_reads_only_the_audiences_of_a_principal() {
        use zhichao_core::docs::DocKind;
        use zhichao_core::ids::DocumentId;
        let log = ChangeLog::temporary().unwrap();
        let unit = "914403001922038216";
        let with = |kind, team: Option<&str>, unit: Option<&str>, parent: Option<DocumentId>| {
            let mut h = case_header("x:1", "team-1");
            h.kind = kind;
            h.team = team.map(|t| zhichao_core::ids::TeamId::new(t).unwrap());
            h.unit = unit.map(|u| u.parse().unwrap());
            h.parent = parent;
            h
        };
        let id = |n: u8| DocumentId::from_bytes([n; 16]);
        let by = pid("x:1");
        let entries = [
            (id(1), with(DocKind::Case, Some("team-1"), None, None)),
            (id(2), with(DocKind::Case, Some("team-2"), None, None)),
            (
                id(3),
                with(DocKind::Notice, Some("team-2"), Some(unit), None),
            ),
            (
                id(4),
                with(DocKind::Response, None, Some(unit), Some(id(3))),
            ),
            (id(5), with(DocKind::Review, None, None, Some(id(4)))),
            (id(6), with(DocKind::Rules, None, None, None)),
        ];
        for (doc, header) in &entries {
            log.append(&[(*doc, header.clone(), by.clone(), vec![])], 1)
                .unwrap();
        }
        let found = |audiences: &[Audience]| {
            log.changed_since_for(audiences, 0)
                .unwrap()
                .into_keys()
                .collect::<Vec<_>>()
        };
        // Team 1: its case and the shared rules; not team 2's case or notice.
        assert_eq!(
            found(&[Audience::Team("team-1".to_owned()), Audience::Shared]),
            [id(1), id(6)]
        );
        // Team 2: its case, its notice, the response to it and the review of that response.
        assert_eq!(
            found(&[Audience::Team("team-2".to_owned())]),
            [id(2), id(3), id(4), id(5)]
        );
        // The unit: the notice to it, its response, the review.
        assert_eq!(
            found(&[Audience::Unit(unit.to_owned())]),
            [id(3), id(4), id(5)]
        );
        // A later save moves the document's entry: found once, with the new sequence.
        log.append(&[(id(1), entries[0].1.clone(), by, vec![])], 2)
            .unwrap();
        let again = log
            .changed_since_for(&[Audience::Team("team-1".to_owned())], 6)
            .unwrap();
        assert_eq!(again.keys().copied().collect::<Vec<_>>(), [id(1)]);
        assert_eq!(again[&id(1)].seq, 7);
    }

    #[test]
    fn history_reads_the_per_document_index_and_catches_up_older_logs() {
        let dir = tempfile::tempdir().unwrap();
        let a = case(1, "officer:wang", "team-1").id();
        let b = case(2, "officer:wang", "team-1").id();
        let h = case_header("officer:wang", "team-1");
        {
            let log = ChangeLog::open(dir.path()).unwrap();
            for (doc, by, at) in [
                (a, "officer:wang", 1),
                (b, "officer:wang", 2),
                (a, "officer:li", 3),
            ] {
                log.append(&[(doc, h.clone(), pid(by), vec![])], at)
                    .unwrap();
            }
            assert_eq!(log.by_doc.len(), 3);
            let seqs: Vec<u64> = log.history(&a).unwrap().iter().map(|e| e.seq).collect();
            assert_eq!(seqs, [1, 3]);
            // As if the log had been written before the index existed.
            log.by_doc.clear().unwrap();
            log.db.remove(BY_DOC_UPTO).unwrap();
            log.db.flush().unwrap();
            // Still complete meanwhile: the unindexed tail is scanned.
            assert_eq!(log.history(&a).unwrap().len(), 2);
        }
        let log = ChangeLog::open(dir.path()).unwrap();
        assert_eq!(log.by_doc.len(), 3, "caught up on open");
        assert_eq!(log.by_doc_upto().unwrap(), 3);
        let history = log.history(&a).unwrap();
        assert_eq!(
            history
                .iter()
                .map(|e| (e.seq, e.principal.as_str(), e.received_ms))
                .collect::<Vec<_>>(),
            [(1, "officer:wang", 1), (3, "officer:li", 3)]
        );
        assert_eq!(log.history(&b).unwrap().len(), 1);
        log.append(&[(b, h, pid("officer:li"), vec![])], 4).unwrap();
        assert_eq!(log.by_doc_upto().unwrap(), 4);
        assert_eq!(log.history(&b).unwrap().len(), 2);
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
        log.latest
            .insert(1u64.to_be_bytes(), &b"garbage"[..])
            .unwrap();
        assert!(matches!(
            log.changed_since(0),
            Err(ChangeLogError::Corrupt(_))
        ));
        log.delivered.insert("p", &b"xx"[..]).unwrap();
        assert!(log.delivered(&StorageId::new("p").unwrap()).is_err());
    }
}
