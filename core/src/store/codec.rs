//! How the store lays out its records: keys, the chunk frame and the metadata record. Shared by
//! both stores so that they agree on sizes (the [`SaveReport`](super::SaveReport) figures) and
//! so that every decoder of stored bytes is in one place, returning
//! [`StoreError::Corrupt`] instead of panicking.

use std::str::FromStr;

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::IndexEntry;
use super::error::{Result, StoreError};
use crate::ids::DocumentId;

/// The version of the on-disk layout (keys, chunk frame, metadata record).
pub(crate) const FORMAT: u32 = 1;

/// Bytes of the header in front of every stored chunk: a version byte, the payload length
/// (u32, little endian) and the first 4 bytes of the payload's SHA-256. With it a torn or
/// truncated chunk is recognised exactly, without parsing automerge's bytes.
pub const CHUNK_HEADER_LEN: usize = 9;

const CHUNK_VERSION: u8 = 1;

fn checksum(payload: &[u8]) -> [u8; 4] {
    let digest = Sha256::digest(payload);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Frames an automerge chunk for storage.
pub(crate) fn frame_chunk(payload: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(payload.len()).map_err(|_| StoreError::KeyTooLong {
        what: "chunk",
        len: payload.len(),
    })?;
    let mut framed = Vec::with_capacity(CHUNK_HEADER_LEN + payload.len());
    framed.push(CHUNK_VERSION);
    framed.extend_from_slice(&len.to_le_bytes());
    framed.extend_from_slice(&checksum(payload));
    framed.extend_from_slice(payload);
    Ok(framed)
}

/// The payload of a stored chunk, or `None` when it is torn, truncated, extended or corrupt.
pub(crate) fn unframe_chunk(stored: &[u8]) -> Option<&[u8]> {
    let (header, payload) = stored.split_at_checked(CHUNK_HEADER_LEN)?;
    if header[0] != CHUNK_VERSION {
        return None;
    }
    let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    if usize::try_from(len).ok()? != payload.len() || checksum(payload) != header[5..9] {
        return None;
    }
    Some(payload)
}

/// Key of a document's records in the per-document trees: its 16 bytes.
pub(crate) fn doc_key(id: &DocumentId) -> [u8; 16] {
    *id.as_bytes()
}

/// A document id from a key that is exactly the id.
pub(crate) fn id_from_key(key: &[u8]) -> Result<DocumentId> {
    let bytes: [u8; 16] = key.try_into().map_err(|_| {
        StoreError::corrupt("document key", format!("{} bytes instead of 16", key.len()))
    })?;
    Ok(DocumentId::from_bytes(bytes))
}

/// Key of chunk `seq` of a document: id, then the sequence big-endian, so a prefix scan
/// returns the chunks in the order they were written.
pub(crate) fn chunk_key(id: &DocumentId, seq: u64) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(id.as_bytes());
    key[16..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The sequence number of a chunk key.
pub(crate) fn chunk_seq(key: &[u8]) -> Result<u64> {
    let seq: [u8; 8] = key
        .get(16..)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            StoreError::corrupt("chunk key", format!("{} bytes instead of 24", key.len()))
        })?;
    Ok(u64::from_be_bytes(seq))
}

/// Prefix of the index keys of `(index, value)`: both length-prefixed, so no pair's prefix is
/// a prefix of another pair's, whatever bytes the names hold.
pub(crate) fn index_prefix(index: &str, value: &str) -> Result<Vec<u8>> {
    let index_len = u16::try_from(index.len()).map_err(|_| StoreError::KeyTooLong {
        what: "index name",
        len: index.len(),
    })?;
    let value_len = u32::try_from(value.len()).map_err(|_| StoreError::KeyTooLong {
        what: "index value",
        len: value.len(),
    })?;
    let mut key = Vec::with_capacity(6 + index.len() + value.len() + 16);
    key.extend_from_slice(&index_len.to_be_bytes());
    key.extend_from_slice(index.as_bytes());
    key.extend_from_slice(&value_len.to_be_bytes());
    key.extend_from_slice(value.as_bytes());
    Ok(key)
}

/// Index key: [`index_prefix`] then the document id.
pub(crate) fn index_key(index: &str, value: &str, id: &DocumentId) -> Result<Vec<u8>> {
    let mut key = index_prefix(index, value)?;
    key.extend_from_slice(id.as_bytes());
    Ok(key)
}

/// The document id at the end of an index key found under `prefix`.
pub(crate) fn id_from_index_key(key: &[u8], prefix_len: usize) -> Result<DocumentId> {
    match key.get(prefix_len..) {
        Some(rest) => id_from_key(rest),
        None => Err(StoreError::corrupt("index key", "shorter than its prefix")),
    }
}

/// Key of the sync state of a document with a peer: id, then the peer's storage id.
pub(crate) fn sync_key(id: &DocumentId, peer: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + peer.len());
    key.extend_from_slice(id.as_bytes());
    key.extend_from_slice(peer.as_bytes());
    key
}

/// A durable counter's value.
pub(crate) fn decode_counter(bytes: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = bytes.try_into().map_err(|_| {
        StoreError::corrupt("sequence", format!("{} bytes instead of 8", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(bytes))
}

/// What the store knows about one document without loading it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Heads of everything stored (snapshot and chunks).
    pub(crate) heads: Vec<ChangeHash>,
    /// Size of the snapshot.
    pub(crate) snapshot_bytes: u64,
    /// Total size of the chunks (headers included).
    pub(crate) chunk_bytes: u64,
    /// Number of chunks.
    pub(crate) chunks: u64,
    /// Sequence number of the next chunk (never reused).
    pub(crate) next_chunk: u64,
    /// The index entry of the last save.
    pub(crate) index: IndexEntry,
}

/// The metadata record as stored: TOML, heads in hex, with a format number to migrate by.
#[derive(Serialize, Deserialize)]
struct MetaRecord {
    format: u32,
    heads: Vec<String>,
    snapshot_bytes: u64,
    chunk_bytes: u64,
    chunks: u64,
    next_chunk: u64,
    index: IndexEntry,
}

impl Meta {
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let record = MetaRecord {
            format: FORMAT,
            heads: self.heads.iter().map(ToString::to_string).collect(),
            snapshot_bytes: self.snapshot_bytes,
            chunk_bytes: self.chunk_bytes,
            chunks: self.chunks,
            next_chunk: self.next_chunk,
            index: self.index.clone(),
        };
        // Sizes are far below i64::MAX and strings are always representable, so this only
        // fails on a bug; still reported, never unwrapped.
        toml::to_string(&record)
            .map(String::into_bytes)
            .map_err(|e| StoreError::corrupt("metadata record", format!("cannot encode: {e}")))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Meta> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| StoreError::corrupt("metadata record", e.to_string()))?;
        let record: MetaRecord = toml::from_str(text)
            .map_err(|e| StoreError::corrupt("metadata record", e.message().to_owned()))?;
        if record.format != FORMAT {
            return Err(StoreError::UnsupportedFormat {
                found: record.format.to_string(),
                supported: FORMAT,
            });
        }
        let heads = record
            .heads
            .iter()
            .map(|h| ChangeHash::from_str(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::corrupt("metadata record", e.to_string()))?;
        Ok(Meta {
            heads,
            snapshot_bytes: record.snapshot_bytes,
            chunk_bytes: record.chunk_bytes,
            chunks: record.chunks,
            next_chunk: record.next_chunk,
            index: record.index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_frame_round_trips_and_rejects_every_truncation() {
        let payload: Vec<u8> = (0..200u8).collect();
        let framed = frame_chunk(&payload).unwrap();
        assert_eq!(framed.len(), payload.len() + CHUNK_HEADER_LEN);
        assert_eq!(unframe_chunk(&framed), Some(&payload[..]));
        for len in 0..framed.len() {
            assert_eq!(unframe_chunk(&framed[..len]), None, "truncated to {len}");
        }
        let mut extended = framed.clone();
        extended.push(0);
        assert_eq!(unframe_chunk(&extended), None);
        for i in 0..framed.len() {
            let mut flipped = framed.clone();
            flipped[i] ^= 0x10;
            assert_eq!(unframe_chunk(&flipped), None, "bit flip at {i}");
        }
        assert_eq!(unframe_chunk(&frame_chunk(&[]).unwrap()), Some(&[][..]));
    }

    #[test]
    fn index_prefixes_never_nest() {
        let a = index_prefix("a", "b\0c").unwrap();
        let b = index_prefix("a\0b", "c").unwrap();
        assert!(!a.starts_with(&b) && !b.starts_with(&a));
        let c = index_prefix("plate", "晋E1").unwrap();
        let d = index_prefix("plate", "晋E12").unwrap();
        assert!(!d.starts_with(&c));
        let id = DocumentId::from_bytes([7; 16]);
        let key = index_key("plate", "晋E1", &id).unwrap();
        assert_eq!(id_from_index_key(&key, c.len()).unwrap(), id);
        assert!(id_from_index_key(&key[..key.len() - 1], c.len()).is_err());
        assert!(index_prefix(&"x".repeat(70_000), "").is_err());
    }

    #[test]
    fn keys_decode_or_fail_typed() {
        let id = DocumentId::from_bytes([3; 16]);
        assert_eq!(id_from_key(&doc_key(&id)).unwrap(), id);
        assert!(matches!(
            id_from_key(b"short"),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(chunk_seq(&chunk_key(&id, 42)).unwrap(), 42);
        assert!(chunk_seq(&[1, 2, 3]).is_err());
        assert_eq!(decode_counter(&7u64.to_be_bytes()).unwrap(), 7);
        assert!(decode_counter(&[1]).is_err());
    }

    #[test]
    fn meta_round_trips_and_garbage_is_a_typed_error() {
        let meta = Meta {
            heads: vec![ChangeHash([9; 32]), ChangeHash([1; 32])],
            snapshot_bytes: 1234,
            chunk_bytes: 56,
            chunks: 2,
            next_chunk: 7,
            index: IndexEntry::new("case")
                .with("plate", "晋E·12345 🚛")
                .with("weird", "a\0b\"c\n"),
        };
        assert_eq!(Meta::decode(&meta.encode().unwrap()).unwrap(), meta);
        for garbage in [
            &b""[..],
            b"\xff\xfe",
            b"format = 1",
            b"[[[",
            b"format = \"x\"",
        ] {
            assert!(matches!(
                Meta::decode(garbage),
                Err(StoreError::Corrupt { .. })
            ));
        }
        let future = String::from_utf8(meta.encode().unwrap())
            .unwrap()
            .replace("format = 1", "format = 99");
        assert!(matches!(
            Meta::decode(future.as_bytes()),
            Err(StoreError::UnsupportedFormat { .. })
        ));
        let encoded = meta.encode().unwrap();
        for len in 0..encoded.len() {
            // Any prefix either decodes (to something) or is a typed error; never a panic.
            let _ = Meta::decode(&encoded[..len]);
        }
    }
}
