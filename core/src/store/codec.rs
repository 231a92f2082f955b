//! How the store lays out its records: keys, the chunk frame, the metadata and index entry
//! records. Shared by
//! both stores so that they agree on sizes (the [`SaveReport`](super::SaveReport) figures) and
//! so that every decoder of stored bytes is in one place, returning
//! [`StoreError::Corrupt`] instead of panicking.

use automerge::ChangeHash;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::IndexEntry;
use super::error::{Result, StoreError};
use crate::ids::DocumentId;

/// The version of the on-disk layout (trees, keys, chunk frame, records). 2: binary metadata
/// and index entry records, the index entry in a record of its own.
pub(crate) const FORMAT: u32 = 2;

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

/// The magic bytes at the start of every automerge storage chunk.
const AUTOMERGE_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Whether `bytes` are an intact snapshot: one or more automerge chunks, the first a document
/// chunk, each with its magic bytes, a length that fits, and automerge's own checksum (the
/// first 4 bytes of the SHA-256 of chunk type, length and contents) matching. The same checks
/// automerge makes before it parses a chunk, without parsing the contents, so a save can tell
/// cheaply whether the stored snapshot is the one it wrote. A compressed change chunk (type 2,
/// checksummed over its inflated contents; never written by the store) counts as not intact.
pub(crate) fn snapshot_intact(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    let mut first = true;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some((header, after)) = rest.split_at_checked(9) else {
            return false;
        };
        let chunk_type = header[8];
        if header[..4] != AUTOMERGE_MAGIC || !(chunk_type == 0 || (chunk_type == 1 && !first)) {
            return false;
        }
        let Some((len, after)) = read_uleb(after) else {
            return false;
        };
        let Some((data, after)) = usize::try_from(len)
            .ok()
            .and_then(|len| after.split_at_checked(len))
        else {
            return false;
        };
        let mut hasher = Sha256::new();
        hasher.update([chunk_type]);
        hasher.update(uleb(len));
        hasher.update(data);
        if hasher.finalize()[..4] != header[4..8] {
            return false;
        }
        rest = after;
        first = false;
    }
    true
}

/// An unsigned LEB128 number at the start of `bytes`, and what follows it.
fn read_uleb(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

/// `value` in unsigned LEB128, as automerge writes lengths (and hashes them).
fn uleb(mut value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
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

/// Key of the `number`-th record a repairing save moved aside for a document: id, then the
/// number big-endian (records moved aside by earlier versions of the store are keyed by id and
/// chunk sequence: the same shape). Numbers are never reused, so nothing moved aside is ever
/// overwritten.
pub(crate) fn quarantine_key(id: &DocumentId, number: u64) -> [u8; 24] {
    chunk_key(id, number)
}

/// The number of the next quarantine record of a document, after the last `key` of its
/// quarantine records (any malformed key counts as number 0).
pub(crate) fn next_quarantine_number(last: Option<&[u8]>) -> u64 {
    last.map_or(0, |key| chunk_seq(key).unwrap_or(0).saturating_add(1))
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

/// What the store knows about one document without loading it. Rewritten by every save that
/// stores changes (its heads move), so it holds nothing that changes less often: the index
/// entry is a record of its own, written only when it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Heads of everything stored (snapshot and chunks), sorted as automerge's `get_heads`.
    pub(crate) heads: Vec<ChangeHash>,
    /// Size of the snapshot.
    pub(crate) snapshot_bytes: u64,
    /// Total size of the chunks (headers included).
    pub(crate) chunk_bytes: u64,
    /// Number of chunks.
    pub(crate) chunks: u64,
    /// Sequence number of the next chunk (never reused).
    pub(crate) next_chunk: u64,
}

/// The first byte of every metadata and index-entry record: the records are postcard after
/// it, and a later layout of them gets another number (with the store [`FORMAT`]).
pub(crate) const RECORD_VERSION: u8 = 2;
const _: () = assert!(RECORD_VERSION as u32 == FORMAT);

/// The metadata record as stored, after the version byte: postcard, so the heads take their 32
/// raw bytes and the sizes a varint each (about 40 bytes for a document with one head).
#[derive(Serialize, Deserialize)]
struct MetaRecord {
    heads: Vec<[u8; 32]>,
    snapshot_bytes: u64,
    chunk_bytes: u64,
    chunks: u64,
    next_chunk: u64,
}

/// The version byte, then `value` in postcard.
fn encode_record<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>> {
    // Postcard fails only on types it cannot represent (none here); still reported, never
    // unwrapped.
    postcard::to_extend(value, vec![RECORD_VERSION])
        .map_err(|e| StoreError::corrupt(what, format!("cannot encode: {e}")))
}

/// Decodes a record of [`encode_record`]: the version must be [`RECORD_VERSION`] (a larger one
/// is [`StoreError::UnsupportedFormat`]), and the postcard value must take every byte after
/// it. Any other deviation is [`StoreError::Corrupt`]; nothing here panics on any input.
fn decode_record<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    let Some((&version, body)) = bytes.split_first() else {
        return Err(StoreError::corrupt(what, "empty record"));
    };
    if version != RECORD_VERSION {
        return Err(if version > RECORD_VERSION {
            StoreError::UnsupportedFormat {
                found: format!("{version} ({what})"),
                supported: FORMAT,
            }
        } else {
            StoreError::corrupt(what, format!("unknown record version {version}"))
        });
    }
    let (value, rest) =
        postcard::take_from_bytes(body).map_err(|e| StoreError::corrupt(what, e.to_string()))?;
    if !rest.is_empty() {
        return Err(StoreError::corrupt(
            what,
            format!("{} bytes after the record", rest.len()),
        ));
    }
    Ok(value)
}

impl Meta {
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        encode_record(
            "metadata record",
            &MetaRecord {
                heads: self.heads.iter().map(|h| h.0).collect(),
                snapshot_bytes: self.snapshot_bytes,
                chunk_bytes: self.chunk_bytes,
                chunks: self.chunks,
                next_chunk: self.next_chunk,
            },
        )
    }

    /// Decodes a metadata record and checks what every record the store writes satisfies
    /// (heads sorted without duplicates, chunk sizes consistent with the chunk count), so
    /// damaged bytes that happen to parse are still reported.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Meta> {
        const WHAT: &str = "metadata record";
        let record: MetaRecord = decode_record(WHAT, bytes)?;
        if !record.heads.is_sorted_by(|a, b| a < b) {
            return Err(StoreError::corrupt(WHAT, "heads not sorted"));
        }
        let min_chunk_bytes = record.chunks.checked_mul(CHUNK_HEADER_LEN as u64);
        if (record.chunks == 0) != (record.chunk_bytes == 0)
            || min_chunk_bytes.is_none_or(|min| record.chunk_bytes < min)
            || record.chunks > record.next_chunk
        {
            return Err(StoreError::corrupt(WHAT, "inconsistent chunk sizes"));
        }
        Ok(Meta {
            heads: record.heads.into_iter().map(ChangeHash).collect(),
            snapshot_bytes: record.snapshot_bytes,
            chunk_bytes: record.chunk_bytes,
            chunks: record.chunks,
            next_chunk: record.next_chunk,
        })
    }
}

/// The index entry record of a document: the version byte, then the entry in postcard.
pub(crate) fn encode_entry(entry: &IndexEntry) -> Result<Vec<u8>> {
    encode_record("index entry record", entry)
}

/// Decodes an index entry record; a typed error on any malformed input.
pub(crate) fn decode_entry(bytes: &[u8]) -> Result<IndexEntry> {
    decode_record("index entry record", bytes)
}

/// A document's stored metadata and index entry, decoded. The two records are written
/// together, so one without the other is damage and reported as [`StoreError::Corrupt`].
pub(crate) fn decode_stored(
    meta: Option<&[u8]>,
    entry: Option<&[u8]>,
) -> Result<Option<(Meta, IndexEntry)>> {
    match (meta, entry) {
        (Some(meta), Some(entry)) => Ok(Some((Meta::decode(meta)?, decode_entry(entry)?))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(StoreError::corrupt(
            "index entry record",
            "missing beside the metadata record",
        )),
        (None, Some(_)) => Err(StoreError::corrupt(
            "metadata record",
            "missing beside the index entry record",
        )),
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
    fn snapshots_are_checked_like_automerge_checks_them() {
        use automerge::transaction::Transactable;
        let empty = automerge::Automerge::new().save();
        assert!(snapshot_intact(&empty), "{empty:?}");
        let mut doc = automerge::Automerge::new();
        for i in 0..50 {
            let mut tx = doc.transaction();
            tx.put(automerge::ROOT, format!("k{}", i % 7), i).unwrap();
            tx.commit();
        }
        let snapshot = doc.save();
        assert!(snapshot_intact(&snapshot));
        // A snapshot followed by change chunks (as `save()` writes orphans) is intact too.
        let mut with_changes = snapshot.clone();
        with_changes.extend(doc.save_after(&[]));
        assert!(snapshot_intact(&with_changes));
        // Change chunks alone are not a snapshot.
        assert!(!snapshot_intact(&doc.save_after(&[])));
        assert!(!snapshot_intact(&[]));
        for len in 0..snapshot.len() {
            assert!(!snapshot_intact(&snapshot[..len]), "truncated to {len}");
        }
        for i in 0..snapshot.len() {
            let mut flipped = snapshot.clone();
            flipped[i] ^= 0x01;
            assert!(!snapshot_intact(&flipped), "bit flip at {i}");
        }
        let mut extended = snapshot;
        extended.push(0);
        assert!(!snapshot_intact(&extended));
        for value in [0, 1, 127, 128, 300, 1 << 40, u64::MAX] {
            let encoded = uleb(value);
            let mut input = encoded.clone();
            input.push(0xAA);
            assert_eq!(read_uleb(&input), Some((value, &[0xAA][..])), "{value}");
        }
        assert_eq!(read_uleb(&[0x80; 11]), None);
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

    fn sample_meta() -> Meta {
        Meta {
            heads: vec![ChangeHash([1; 32]), ChangeHash([9; 32])],
            snapshot_bytes: 1234,
            chunk_bytes: 56,
            chunks: 2,
            next_chunk: 7,
        }
    }

    fn is_typed_decoding_error<T>(result: &Result<T>) -> bool {
        matches!(
            result,
            Err(StoreError::Corrupt { .. } | StoreError::UnsupportedFormat { .. })
        )
    }

    #[test]
    fn meta_round_trips_compactly_and_garbage_is_a_typed_error() {
        let meta = sample_meta();
        let encoded = meta.encode().unwrap();
        assert_eq!(encoded[0], RECORD_VERSION);
        // Version, head count, two raw heads, four small varints.
        assert_eq!(encoded.len(), 1 + 1 + 64 + 2 + 1 + 1 + 1);
        assert_eq!(Meta::decode(&encoded).unwrap(), meta);
        assert_eq!(
            Meta::decode(&Meta::default().encode().unwrap()).unwrap(),
            Meta::default()
        );

        for garbage in [&b""[..], b"\x02", b"\x00", b"\x01\x00", b"\x02\xff\xff\xff"] {
            assert!(
                matches!(Meta::decode(garbage), Err(StoreError::Corrupt { .. })),
                "{garbage:?}"
            );
        }
        // A TOML record of format 1 (never shipped) is refused, typed.
        assert!(is_typed_decoding_error(&Meta::decode(
            b"format = 1\nheads = []\n"
        )));
        let mut future = encoded.clone();
        future[0] = RECORD_VERSION + 1;
        assert!(matches!(
            Meta::decode(&future),
            Err(StoreError::UnsupportedFormat { .. })
        ));
        // Every truncation and extension is an error (postcard must use every byte).
        for len in 0..encoded.len() {
            assert!(
                matches!(
                    Meta::decode(&encoded[..len]),
                    Err(StoreError::Corrupt { .. })
                ),
                "truncated to {len}"
            );
        }
        let mut extended = encoded;
        extended.push(0);
        assert!(matches!(
            Meta::decode(&extended),
            Err(StoreError::Corrupt { .. })
        ));
        // Records that parse but break what the store always writes.
        let unsorted = Meta {
            heads: vec![ChangeHash([9; 32]), ChangeHash([1; 32])],
            ..sample_meta()
        };
        let inconsistent = Meta {
            chunk_bytes: 3,
            ..sample_meta()
        };
        let no_chunks = Meta {
            chunks: 0,
            ..sample_meta()
        };
        for bad in [unsorted, inconsistent, no_chunks] {
            assert!(matches!(
                Meta::decode(&bad.encode().unwrap()),
                Err(StoreError::Corrupt { .. })
            ));
        }
    }

    #[test]
    fn random_bytes_in_a_meta_or_entry_record_are_typed_errors_never_panics() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
        for case in 0..20_000 {
            let len = rng.random_range(0..160);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            // Half of the cases past the version check, into postcard and the checks.
            if case % 2 == 0 && !bytes.is_empty() {
                bytes[0] = RECORD_VERSION;
            }
            let meta = Meta::decode(&bytes);
            assert!(is_typed_decoding_error(&meta), "{bytes:?} gave {meta:?}");
            // An entry record may parse by chance (any short UTF-8 strings are an entry);
            // then it is what it says, and re-encodes to the same bytes.
            match decode_entry(&bytes) {
                Ok(entry) => assert_eq!(encode_entry(&entry).unwrap(), bytes),
                other => assert!(is_typed_decoding_error(&other), "{bytes:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn entry_records_round_trip_and_pair_with_meta() {
        let entry = IndexEntry::new("case")
            .with("plate", "晋E·12345 🚛")
            .with("weird", "a\0b\"c\n");
        let encoded = encode_entry(&entry).unwrap();
        assert_eq!(decode_entry(&encoded).unwrap(), entry);
        for len in 0..encoded.len() {
            assert!(is_typed_decoding_error(&decode_entry(&encoded[..len])));
        }
        let meta = sample_meta().encode().unwrap();
        assert_eq!(
            decode_stored(Some(&meta), Some(&encoded)).unwrap(),
            Some((sample_meta(), entry))
        );
        assert_eq!(decode_stored(None, None).unwrap(), None);
        assert!(matches!(
            decode_stored(Some(&meta), None),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            decode_stored(None, Some(&encoded)),
            Err(StoreError::Corrupt { .. })
        ));
        // Invalid UTF-8 in a string is an error, not a panic.
        let mut bad_utf8 = encode_entry(&IndexEntry::new("ab")).unwrap();
        bad_utf8[2] = 0xff;
        assert!(matches!(
            decode_entry(&bad_utf8),
            Err(StoreError::Corrupt { .. })
        ));
    }
}

/// A rejection record: the heads the server refused and its reason.
#[derive(Serialize, Deserialize)]
struct RejectionRecord {
    heads: Vec<[u8; 32]>,
    reason: String,
}

/// Encodes a rejection record (version byte, then postcard).
pub(crate) fn encode_rejection(heads: &[ChangeHash], reason: &str) -> Result<Vec<u8>> {
    encode_record(
        "rejection record",
        &RejectionRecord {
            heads: heads.iter().map(|h| h.0).collect(),
            reason: reason.to_owned(),
        },
    )
}

/// Decodes a rejection record; a typed error on any malformed input.
pub(crate) fn decode_rejection(bytes: &[u8]) -> Result<(Vec<ChangeHash>, String)> {
    let record: RejectionRecord = decode_record("rejection record", bytes)?;
    Ok((
        record.heads.into_iter().map(ChangeHash).collect(),
        record.reason,
    ))
}
