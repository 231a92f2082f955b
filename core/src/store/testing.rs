//! Hooks for tests that damage a store's records on purpose, so that one conformance suite can
//! check how both stores load and repair damaged documents. Not part of the store's API:
//! hidden from the docs, and nothing outside tests should call it.

use automerge::ChangeHash;

use super::codec::{self, Meta};
use super::error::Result;
use super::{MemoryStore, SledStore};
use crate::ids::DocumentId;

/// One stored record of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// The metadata record (stored heads, chunk sizes).
    Meta(DocumentId),
    /// The index entry record.
    Entry(DocumentId),
    /// The snapshot.
    Snapshot(DocumentId),
    /// Chunk number `seq`, framed.
    Chunk(DocumentId, u64),
}

/// Raw access to the records of a store.
pub trait Tamper {
    /// The stored bytes of `record`.
    fn raw(&self, record: Record) -> Option<Vec<u8>>;
    /// Replaces (`Some`) or removes (`None`) `record`, bypassing every check.
    fn set_raw(&self, record: Record, value: Option<&[u8]>);
    /// The sequence numbers of the stored chunks of `id`, in order.
    fn chunk_seqs(&self, id: &DocumentId) -> Vec<u64>;
    /// The records of `id` moved aside by repairing saves.
    fn quarantined(&self, id: &DocumentId) -> Vec<Vec<u8>>;
}

/// The fields of a metadata record, to read and forge one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaFields {
    /// Heads of everything stored.
    pub heads: Vec<ChangeHash>,
    /// Size of the snapshot.
    pub snapshot_bytes: u64,
    /// Total size of the chunks (headers included).
    pub chunk_bytes: u64,
    /// Number of chunks.
    pub chunks: u64,
    /// Sequence number of the next chunk.
    pub next_chunk: u64,
}

impl MetaFields {
    /// Decodes a metadata record (with the checks a store makes).
    ///
    /// # Errors
    /// As the store: [`StoreError::Corrupt`](super::StoreError::Corrupt) and
    /// [`StoreError::UnsupportedFormat`](super::StoreError::UnsupportedFormat).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let meta = Meta::decode(bytes)?;
        Ok(MetaFields {
            heads: meta.heads,
            snapshot_bytes: meta.snapshot_bytes,
            chunk_bytes: meta.chunk_bytes,
            chunks: meta.chunks,
            next_chunk: meta.next_chunk,
        })
    }

    /// Encodes the record as a store writes it (without checking it).
    ///
    /// # Errors
    /// Never in practice (postcard encodes these fields).
    pub fn encode(&self) -> Result<Vec<u8>> {
        Meta {
            heads: self.heads.clone(),
            snapshot_bytes: self.snapshot_bytes,
            chunk_bytes: self.chunk_bytes,
            chunks: self.chunks,
            next_chunk: self.next_chunk,
        }
        .encode()
    }
}

impl SledStore {
    fn record_tree(&self, record: Record) -> (&sled::Tree, Vec<u8>) {
        let (tree, key) = match record {
            Record::Meta(id) => ("meta", codec::doc_key(&id).to_vec()),
            Record::Entry(id) => ("entries", codec::doc_key(&id).to_vec()),
            Record::Snapshot(id) => ("snapshots", codec::doc_key(&id).to_vec()),
            Record::Chunk(id, seq) => ("chunks", codec::chunk_key(&id, seq).to_vec()),
        };
        (self.raw_tree(tree).expect("a tree of the store"), key)
    }
}

impl Tamper for SledStore {
    fn raw(&self, record: Record) -> Option<Vec<u8>> {
        let (tree, key) = self.record_tree(record);
        tree.get(key).expect("sled reads").map(|v| v.to_vec())
    }

    fn set_raw(&self, record: Record, value: Option<&[u8]>) {
        let (tree, key) = self.record_tree(record);
        match value {
            Some(value) => tree.insert(key, value).map(drop),
            None => tree.remove(key).map(drop),
        }
        .expect("sled writes");
    }

    fn chunk_seqs(&self, id: &DocumentId) -> Vec<u64> {
        let (tree, _) = self.record_tree(Record::Chunk(*id, 0));
        tree.scan_prefix(codec::doc_key(id))
            .keys()
            .map(|k| codec::chunk_seq(&k.expect("sled reads")).expect("a chunk key"))
            .collect()
    }

    fn quarantined(&self, id: &DocumentId) -> Vec<Vec<u8>> {
        SledStore::quarantined(self, id).expect("sled reads")
    }
}

impl Tamper for MemoryStore {
    fn raw(&self, record: Record) -> Option<Vec<u8>> {
        self.raw_record(record)
    }

    fn set_raw(&self, record: Record, value: Option<&[u8]>) {
        self.set_raw_record(record, value);
    }

    fn chunk_seqs(&self, id: &DocumentId) -> Vec<u64> {
        self.chunk_seqs(id)
    }

    fn quarantined(&self, id: &DocumentId) -> Vec<Vec<u8>> {
        MemoryStore::quarantined(self, id).expect("never fails")
    }
}
