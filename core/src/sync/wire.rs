//! The automerge-repo network protocol, version 1: CBOR messages over WebSocket.
//!
//! Source: the "Wire Protocol" section of the README of the npm package
//! `@automerge/automerge-repo-network-websocket` (2.5), and samod-core 0.16's
//! `network/wire_protocol.rs`, whose decoder is the strictest peer we must satisfy:
//!
//! - one binary WebSocket message = one **definite-length** CBOR map with text keys;
//! - `data` is a CBOR **byte string**; `documentId` is bs58check text (16 raw bytes accepted);
//! - `count` / `timestamp` may arrive as unsigned integers or floats (JS sends float64);
//! - handshake metadata is sent as `peerMetadata` (the README says `metadata`; both are read);
//!   `storageId` is omitted rather than sent as null, which samod refuses;
//! - an unknown `type` is a decode error (samod closes the connection on it), so we never send
//!   one and refuse one with [`WireError::UnknownType`].
//!
//! Encoding writes keys in samod's order so byte-level comparisons with samod are possible.

use std::collections::BTreeMap;

use minicbor::data::Type;
use minicbor::{Decoder, Encoder};

use crate::ids::{DocumentId, PeerId, StorageId};

/// The only protocol version spoken.
pub const PROTOCOL_VERSION: &str = "1";

/// Metadata a peer announces in the handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerMetadata {
    /// The peer's persistent storage id, if it has persistent storage.
    pub storage_id: Option<StorageId>,
    /// True for peers that keep nothing (a browser tab without storage).
    pub is_ephemeral: bool,
    /// zhichao extension, server → client (key `zhichaoAnnounced`): how many documents
    /// discovery announces on this connection. Stock peers skip unknown metadata keys (samod
    /// 0.16's decoder does; the JS adapter passes the object through).
    pub announced: Option<u64>,
    /// zhichao extension, client → server (key `zhichaoDiscovery`): the client wants an
    /// `ephemeral` [`discovery-complete`](crate::sync::hub::discovery_complete_payload) message
    /// once every announced document is in sync. Only our own client sets it, so stock peers
    /// never receive that message.
    pub discovery_marker: bool,
}

/// The heads a peer with a storage id has of a document, as gossiped in
/// `remote-heads-changed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteHeads {
    /// Change hashes, as the sender encoded them (text).
    pub heads: Vec<String>,
    /// Sender's time, UTC milliseconds.
    pub timestamp: u64,
}

/// One protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireMessage {
    /// Client → server, first message: who I am and which versions I speak.
    Join {
        /// The client's peer id.
        sender_id: PeerId,
        /// Versions the client speaks; must contain "1".
        supported_protocol_versions: Vec<String>,
        /// Handshake metadata.
        peer_metadata: Option<PeerMetadata>,
    },
    /// Server → client, answer to `join`.
    Peer {
        /// The server's peer id.
        sender_id: PeerId,
        /// "1".
        selected_protocol_version: String,
        /// The client's peer id from its `join`.
        target_id: PeerId,
        /// Handshake metadata.
        peer_metadata: Option<PeerMetadata>,
    },
    /// Advisory before disconnecting.
    Leave {
        /// Who leaves.
        sender_id: PeerId,
    },
    /// "I do not have this document: send it, or tell me you do not have it either."
    Request {
        /// Document.
        document_id: DocumentId,
        /// Sender.
        sender_id: PeerId,
        /// Recipient.
        target_id: PeerId,
        /// An encoded automerge sync message.
        data: Vec<u8>,
    },
    /// An automerge sync message for a document.
    Sync {
        /// Document.
        document_id: DocumentId,
        /// Sender.
        sender_id: PeerId,
        /// Recipient.
        target_id: PeerId,
        /// An encoded automerge sync message.
        data: Vec<u8>,
    },
    /// Answer to `request` when the document is not available (or may not be read).
    DocUnavailable {
        /// Sender.
        sender_id: PeerId,
        /// Recipient.
        target_id: PeerId,
        /// Document.
        document_id: DocumentId,
    },
    /// Ephemeral data about a document (presence, or our `rejected` notices).
    Ephemeral {
        /// Original author.
        sender_id: PeerId,
        /// Recipient.
        target_id: PeerId,
        /// Per-session counter, for de-duplication.
        count: u64,
        /// Author's session id.
        session_id: String,
        /// Document.
        document_id: DocumentId,
        /// Payload (CBOR by convention).
        data: Vec<u8>,
    },
    /// A protocol error; the sender closes the connection after it.
    Error {
        /// What went wrong.
        message: String,
    },
    /// Subscribe to / unsubscribe from remote heads of storage ids.
    RemoteSubscriptionChange {
        /// Sender.
        sender_id: PeerId,
        /// Recipient.
        target_id: PeerId,
        /// Storage ids to add.
        add: Vec<StorageId>,
        /// Storage ids to remove.
        remove: Vec<StorageId>,
    },
    /// Gossip of the heads other storage ids have of a document.
    RemoteHeadsChanged {
        /// Sender.
        sender_id: PeerId,
        /// Recipient.
        target_id: PeerId,
        /// Document.
        document_id: DocumentId,
        /// Heads per storage id.
        new_heads: BTreeMap<StorageId, RemoteHeads>,
    },
}

/// Why bytes are not a protocol message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Not well-formed CBOR, or a value of the wrong CBOR type.
    #[error("malformed CBOR: {0}")]
    Cbor(String),
    /// The top-level item is not a map.
    #[error("a message must be a CBOR map")]
    NotAMap,
    /// The `type` field is missing.
    #[error("message has no type")]
    MissingType,
    /// A `type` this protocol version does not know.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A required field is missing.
    #[error("{kind} message lacks {field}")]
    MissingField {
        /// Message type.
        kind: &'static str,
        /// Field name.
        field: &'static str,
    },
    /// A field value is invalid (bad document id, empty peer id …).
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// Field name.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Bytes left after the message.
    #[error("trailing bytes after the message")]
    TrailingBytes,
}

impl From<minicbor::decode::Error> for WireError {
    fn from(e: minicbor::decode::Error) -> Self {
        WireError::Cbor(e.to_string())
    }
}

/// Nesting limit when skipping unknown values: deeper input is refused, not recursed into.
const MAX_SKIP_DEPTH: usize = 16;

impl WireMessage {
    /// The message's `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            WireMessage::Join { .. } => "join",
            WireMessage::Peer { .. } => "peer",
            WireMessage::Leave { .. } => "leave",
            WireMessage::Request { .. } => "request",
            WireMessage::Sync { .. } => "sync",
            WireMessage::DocUnavailable { .. } => "doc-unavailable",
            WireMessage::Ephemeral { .. } => "ephemeral",
            WireMessage::Error { .. } => "error",
            WireMessage::RemoteSubscriptionChange { .. } => "remote-subscription-change",
            WireMessage::RemoteHeadsChanged { .. } => "remote-heads-changed",
        }
    }

    /// The document a message is about, if any.
    pub fn document_id(&self) -> Option<DocumentId> {
        match self {
            WireMessage::Request { document_id, .. }
            | WireMessage::Sync { document_id, .. }
            | WireMessage::DocUnavailable { document_id, .. }
            | WireMessage::Ephemeral { document_id, .. }
            | WireMessage::RemoteHeadsChanged { document_id, .. } => Some(*document_id),
            _ => None,
        }
    }

    /// Encodes as one definite-length CBOR map, keys in samod's order.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        // Writing into a Vec cannot fail.
        let _ = self.encode_into(&mut e, false);
        buf
    }

    /// As [`encode`](Self::encode), with `documentId` as its 16 raw bytes instead of 28
    /// characters of bs58check: 12 bytes less per message. Only between our own client and
    /// server (each reads both forms, as samod 0.16 does); the stock JavaScript peers expect
    /// text and never receive it.
    pub fn encode_compact(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        let _ = self.encode_into(&mut e, true);
        buf
    }

    fn encode_into(
        &self,
        e: &mut Encoder<&mut Vec<u8>>,
        compact: bool,
    ) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
        let doc_id = |e: &mut Encoder<&mut Vec<u8>>, id: &DocumentId| {
            e.str("documentId")?;
            if compact {
                e.bytes(id.as_bytes())?;
            } else {
                e.str(&id.to_string())?;
            }
            Ok::<_, minicbor::encode::Error<std::convert::Infallible>>(())
        };
        match self {
            WireMessage::Join {
                sender_id,
                supported_protocol_versions,
                peer_metadata,
            } => {
                e.map(3 + u64::from(peer_metadata.is_some()))?;
                e.str("type")?.str("join")?;
                e.str("senderId")?.str(sender_id.as_str())?;
                e.str("supportedProtocolVersions")?
                    .array(supported_protocol_versions.len() as u64)?;
                for v in supported_protocol_versions {
                    e.str(v)?;
                }
                if let Some(m) = peer_metadata {
                    e.str("peerMetadata")?;
                    encode_metadata(e, m)?;
                }
            }
            WireMessage::Peer {
                sender_id,
                selected_protocol_version,
                target_id,
                peer_metadata,
            } => {
                e.map(4 + u64::from(peer_metadata.is_some()))?;
                e.str("type")?.str("peer")?;
                e.str("senderId")?.str(sender_id.as_str())?;
                e.str("selectedProtocolVersion")?
                    .str(selected_protocol_version)?;
                e.str("targetId")?.str(target_id.as_str())?;
                if let Some(m) = peer_metadata {
                    e.str("peerMetadata")?;
                    encode_metadata(e, m)?;
                }
            }
            WireMessage::Leave { sender_id } => {
                e.map(2)?;
                e.str("type")?.str("leave")?;
                e.str("senderId")?.str(sender_id.as_str())?;
            }
            WireMessage::Request {
                document_id,
                sender_id,
                target_id,
                data,
            }
            | WireMessage::Sync {
                document_id,
                sender_id,
                target_id,
                data,
            } => {
                e.map(5)?;
                e.str("type")?.str(self.type_name())?;
                doc_id(e, document_id)?;
                e.str("senderId")?.str(sender_id.as_str())?;
                e.str("targetId")?.str(target_id.as_str())?;
                e.str("data")?.bytes(data)?;
            }
            WireMessage::DocUnavailable {
                sender_id,
                target_id,
                document_id,
            } => {
                e.map(4)?;
                e.str("type")?.str("doc-unavailable")?;
                e.str("senderId")?.str(sender_id.as_str())?;
                e.str("targetId")?.str(target_id.as_str())?;
                doc_id(e, document_id)?;
            }
            WireMessage::Ephemeral {
                sender_id,
                target_id,
                count,
                session_id,
                document_id,
                data,
            } => {
                e.map(7)?;
                e.str("type")?.str("ephemeral")?;
                e.str("senderId")?.str(sender_id.as_str())?;
                e.str("targetId")?.str(target_id.as_str())?;
                e.str("count")?.u64(*count)?;
                e.str("sessionId")?.str(session_id)?;
                doc_id(e, document_id)?;
                e.str("data")?.bytes(data)?;
            }
            WireMessage::Error { message } => {
                e.map(2)?;
                e.str("type")?.str("error")?;
                e.str("message")?.str(message)?;
            }
            WireMessage::RemoteSubscriptionChange {
                sender_id,
                target_id,
                add,
                remove,
            } => {
                e.map(5)?;
                e.str("type")?.str("remote-subscription-change")?;
                e.str("senderId")?.str(sender_id.as_str())?;
                e.str("targetId")?.str(target_id.as_str())?;
                e.str("add")?.array(add.len() as u64)?;
                for s in add {
                    e.str(s.as_str())?;
                }
                e.str("remove")?.array(remove.len() as u64)?;
                for s in remove {
                    e.str(s.as_str())?;
                }
            }
            WireMessage::RemoteHeadsChanged {
                sender_id,
                target_id,
                document_id,
                new_heads,
            } => {
                e.map(5)?;
                e.str("type")?.str("remote-heads-changed")?;
                e.str("senderId")?.str(sender_id.as_str())?;
                e.str("targetId")?.str(target_id.as_str())?;
                doc_id(e, document_id)?;
                e.str("newHeads")?.map(new_heads.len() as u64)?;
                for (storage, heads) in new_heads {
                    e.str(storage.as_str())?.map(2)?;
                    e.str("heads")?.array(heads.heads.len() as u64)?;
                    for h in &heads.heads {
                        e.str(h)?;
                    }
                    e.str("timestamp")?.u64(heads.timestamp)?;
                }
            }
        }
        Ok(())
    }

    /// Decodes one message. Unknown keys are skipped; unknown types are refused.
    ///
    /// # Errors
    /// [`WireError`] saying what is wrong. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut d = Decoder::new(bytes);
        let fields = Fields::read(&mut d)?;
        if d.position() != bytes.len() {
            return Err(WireError::TrailingBytes);
        }
        fields.into_message()
    }
}

fn encode_metadata(
    e: &mut Encoder<&mut Vec<u8>>,
    m: &PeerMetadata,
) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
    e.map(
        1 + u64::from(m.storage_id.is_some())
            + u64::from(m.announced.is_some())
            + u64::from(m.discovery_marker),
    )?;
    if let Some(s) = &m.storage_id {
        e.str("storageId")?.str(s.as_str())?;
    }
    e.str("isEphemeral")?.bool(m.is_ephemeral)?;
    if let Some(n) = m.announced {
        e.str("zhichaoAnnounced")?.u64(n)?;
    }
    if m.discovery_marker {
        e.str("zhichaoDiscovery")?.bool(true)?;
    }
    Ok(())
}

/// The fields of a message map, as read; converted into a [`WireMessage`] by type.
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    sender_id: Option<String>,
    target_id: Option<String>,
    document_id: Option<DocumentId>,
    data: Option<Vec<u8>>,
    supported_protocol_versions: Option<Vec<String>>,
    selected_protocol_version: Option<String>,
    peer_metadata: Option<PeerMetadata>,
    count: Option<u64>,
    session_id: Option<String>,
    message: Option<String>,
    add: Option<Vec<String>>,
    remove: Option<Vec<String>>,
    new_heads: Option<BTreeMap<StorageId, RemoteHeads>>,
}

/// Reads a map header (definite or indefinite) and calls `entry` for each key.
fn read_map<'b>(
    d: &mut Decoder<'b>,
    mut entry: impl FnMut(&mut Decoder<'b>, &str) -> Result<(), WireError>,
) -> Result<(), WireError> {
    if d.datatype()? != Type::Map && d.datatype()? != Type::MapIndef {
        return Err(WireError::NotAMap);
    }
    match d.map()? {
        Some(n) => {
            for _ in 0..n {
                let key = d.str()?;
                entry(d, key)?;
            }
        }
        None => loop {
            if d.datatype()? == Type::Break {
                d.skip()?;
                break;
            }
            let key = d.str()?;
            entry(d, key)?;
        },
    }
    Ok(())
}

fn read_str_array(d: &mut Decoder<'_>) -> Result<Vec<String>, WireError> {
    let mut out = Vec::new();
    match d.array()? {
        Some(n) => {
            for _ in 0..n {
                out.push(d.str()?.to_owned());
            }
        }
        None => loop {
            if d.datatype()? == Type::Break {
                d.skip()?;
                break;
            }
            out.push(d.str()?.to_owned());
        },
    }
    Ok(out)
}

/// An unsigned integer, or a float truncated to one (JS sends `Date.now()` as float64).
fn read_count(d: &mut Decoder<'_>) -> Result<u64, WireError> {
    match d.datatype()? {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Ok(d.u64()?),
        Type::F32 => Ok(f64::from(d.f32()?) as u64),
        Type::F64 => Ok(d.f64()? as u64),
        other => Err(WireError::Cbor(format!("expected a number, found {other}"))),
    }
}

/// Skips a value, refusing nesting deeper than [`MAX_SKIP_DEPTH`].
fn skip(d: &mut Decoder<'_>, depth: usize) -> Result<(), WireError> {
    if depth > MAX_SKIP_DEPTH {
        return Err(WireError::Cbor("nesting too deep".to_owned()));
    }
    match d.datatype()? {
        Type::Array | Type::ArrayIndef => match d.array()? {
            Some(n) => (0..n).try_for_each(|_| skip(d, depth + 1)),
            None => loop {
                if d.datatype()? == Type::Break {
                    d.skip()?;
                    return Ok(());
                }
                skip(d, depth + 1)?;
            },
        },
        Type::Map | Type::MapIndef => match d.map()? {
            Some(n) => (0..n).try_for_each(|_| {
                skip(d, depth + 1)?;
                skip(d, depth + 1)
            }),
            None => loop {
                if d.datatype()? == Type::Break {
                    d.skip()?;
                    return Ok(());
                }
                skip(d, depth + 1)?;
                skip(d, depth + 1)?;
            },
        },
        Type::Tag => {
            d.tag()?;
            skip(d, depth + 1)
        }
        _ => Ok(d.skip()?),
    }
}

fn read_document_id(d: &mut Decoder<'_>) -> Result<DocumentId, WireError> {
    let invalid = |reason: String| WireError::InvalidField {
        field: "documentId",
        reason,
    };
    match d.datatype()? {
        Type::String => DocumentId::parse(d.str()?).map_err(|e| invalid(e.to_string())),
        Type::Bytes => {
            let bytes: [u8; 16] = d
                .bytes()?
                .try_into()
                .map_err(|_| invalid("raw ids are 16 bytes".to_owned()))?;
            Ok(DocumentId::from_bytes(bytes))
        }
        other => Err(invalid(format!("expected text or bytes, found {other}"))),
    }
}

fn read_metadata(d: &mut Decoder<'_>) -> Result<PeerMetadata, WireError> {
    let mut m = PeerMetadata::default();
    read_map(d, |d, key| {
        match key {
            "storageId" => match d.datatype()? {
                Type::Undefined | Type::Null => d.skip()?,
                _ => {
                    m.storage_id =
                        Some(
                            StorageId::new(d.str()?).map_err(|e| WireError::InvalidField {
                                field: "storageId",
                                reason: e.to_string(),
                            })?,
                        );
                }
            },
            "isEphemeral" => m.is_ephemeral = d.bool()?,
            "zhichaoAnnounced" => m.announced = Some(d.u64()?),
            "zhichaoDiscovery" => m.discovery_marker = d.bool()?,
            _ => skip(d, 1)?,
        }
        Ok(())
    })?;
    Ok(m)
}

fn read_new_heads(d: &mut Decoder<'_>) -> Result<BTreeMap<StorageId, RemoteHeads>, WireError> {
    let mut out = BTreeMap::new();
    read_map(d, |d, storage| {
        let storage = StorageId::new(storage).map_err(|e| WireError::InvalidField {
            field: "newHeads",
            reason: e.to_string(),
        })?;
        let mut heads = RemoteHeads {
            heads: Vec::new(),
            timestamp: 0,
        };
        read_map(d, |d, key| {
            match key {
                "heads" => heads.heads = read_str_array(d)?,
                "timestamp" => heads.timestamp = read_count(d)?,
                _ => skip(d, 2)?,
            }
            Ok(())
        })?;
        out.insert(storage, heads);
        Ok(())
    })?;
    Ok(out)
}

impl Fields {
    fn read(d: &mut Decoder<'_>) -> Result<Self, WireError> {
        let mut f = Fields::default();
        read_map(d, |d, key| {
            match key {
                "type" => f.kind = Some(d.str()?.to_owned()),
                "senderId" => f.sender_id = Some(d.str()?.to_owned()),
                "targetId" => f.target_id = Some(d.str()?.to_owned()),
                "documentId" => f.document_id = Some(read_document_id(d)?),
                "data" => f.data = Some(d.bytes()?.to_vec()),
                "supportedProtocolVersions" => {
                    f.supported_protocol_versions = Some(read_str_array(d)?);
                }
                "selectedProtocolVersion" => {
                    f.selected_protocol_version = Some(d.str()?.to_owned());
                }
                "peerMetadata" | "metadata" => f.peer_metadata = Some(read_metadata(d)?),
                "count" => f.count = Some(read_count(d)?),
                "sessionId" => f.session_id = Some(d.str()?.to_owned()),
                "message" => f.message = Some(d.str()?.to_owned()),
                "add" | "remove" if matches!(d.datatype()?, Type::Array | Type::ArrayIndef) => {
                    let list = Some(read_str_array(d)?);
                    if key == "add" {
                        f.add = list;
                    } else {
                        f.remove = list;
                    }
                }
                "newHeads" => f.new_heads = Some(read_new_heads(d)?),
                _ => skip(d, 1)?,
            }
            Ok(())
        })?;
        Ok(f)
    }

    fn into_message(self) -> Result<WireMessage, WireError> {
        let kind = self.kind.clone().ok_or(WireError::MissingType)?;
        let kind: &'static str = match kind.as_str() {
            "join" => "join",
            "peer" => "peer",
            "leave" => "leave",
            "request" => "request",
            "sync" => "sync",
            "doc-unavailable" => "doc-unavailable",
            "ephemeral" => "ephemeral",
            "error" => "error",
            "remote-subscription-change" => "remote-subscription-change",
            "remote-heads-changed" => "remote-heads-changed",
            _ => return Err(WireError::UnknownType(kind.chars().take(64).collect())),
        };
        let missing = |field| WireError::MissingField { kind, field };
        let peer = |field: &'static str, v: Option<String>| -> Result<PeerId, WireError> {
            let v = v.ok_or(missing(field))?;
            PeerId::new(&v).map_err(|e| WireError::InvalidField {
                field,
                reason: e.to_string(),
            })
        };
        let storage_ids = |field: &'static str, v: Option<Vec<String>>| {
            v.unwrap_or_default()
                .iter()
                .map(|s| {
                    StorageId::new(s).map_err(|e| WireError::InvalidField {
                        field,
                        reason: e.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match kind {
            "join" => WireMessage::Join {
                sender_id: peer("senderId", self.sender_id)?,
                supported_protocol_versions: self
                    .supported_protocol_versions
                    .ok_or(missing("supportedProtocolVersions"))?,
                peer_metadata: self.peer_metadata,
            },
            "peer" => WireMessage::Peer {
                sender_id: peer("senderId", self.sender_id)?,
                selected_protocol_version: self
                    .selected_protocol_version
                    .ok_or(missing("selectedProtocolVersion"))?,
                target_id: peer("targetId", self.target_id)?,
                peer_metadata: self.peer_metadata,
            },
            "leave" => WireMessage::Leave {
                sender_id: peer("senderId", self.sender_id)?,
            },
            "request" | "sync" => {
                let document_id = self.document_id.ok_or(missing("documentId"))?;
                let sender_id = peer("senderId", self.sender_id)?;
                let target_id = peer("targetId", self.target_id)?;
                let data = self.data.ok_or(missing("data"))?;
                if kind == "request" {
                    WireMessage::Request {
                        document_id,
                        sender_id,
                        target_id,
                        data,
                    }
                } else {
                    WireMessage::Sync {
                        document_id,
                        sender_id,
                        target_id,
                        data,
                    }
                }
            }
            "doc-unavailable" => WireMessage::DocUnavailable {
                sender_id: peer("senderId", self.sender_id)?,
                target_id: peer("targetId", self.target_id)?,
                document_id: self.document_id.ok_or(missing("documentId"))?,
            },
            "ephemeral" => WireMessage::Ephemeral {
                sender_id: peer("senderId", self.sender_id)?,
                target_id: peer("targetId", self.target_id)?,
                count: self.count.ok_or(missing("count"))?,
                session_id: self.session_id.ok_or(missing("sessionId"))?,
                document_id: self.document_id.ok_or(missing("documentId"))?,
                data: self.data.ok_or(missing("data"))?,
            },
            "error" => WireMessage::Error {
                message: self.message.unwrap_or_default(),
            },
            "remote-subscription-change" => WireMessage::RemoteSubscriptionChange {
                sender_id: peer("senderId", self.sender_id)?,
                target_id: peer("targetId", self.target_id)?,
                add: storage_ids("add", self.add)?,
                remove: storage_ids("remove", self.remove)?,
            },
            _ => WireMessage::RemoteHeadsChanged {
                sender_id: peer("senderId", self.sender_id)?,
                target_id: peer("targetId", self.target_id)?,
                document_id: self.document_id.ok_or(missing("documentId"))?,
                new_heads: self.new_heads.unwrap_or_default(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pid(s: &str) -> PeerId {
        PeerId::new(s).unwrap()
    }

    fn doc() -> DocumentId {
        DocumentId::from_bytes(*b"0123456789abcdef")
    }

    fn every_kind() -> Vec<WireMessage> {
        let meta = Some(PeerMetadata {
            storage_id: Some(StorageId::new("c4d691a5-76af-4f9a-9550-48c572aedc29").unwrap()),
            is_ephemeral: false,
            announced: Some(3),
            discovery_marker: true,
        });
        vec![
            WireMessage::Join {
                sender_id: pid("peer-1"),
                supported_protocol_versions: vec!["1".to_owned()],
                peer_metadata: meta,
            },
            WireMessage::Peer {
                sender_id: pid("server"),
                selected_protocol_version: "1".to_owned(),
                target_id: pid("peer-1"),
                peer_metadata: Some(PeerMetadata::default()),
            },
            WireMessage::Leave {
                sender_id: pid("peer-1"),
            },
            WireMessage::Request {
                document_id: doc(),
                sender_id: pid("peer-1"),
                target_id: pid("server"),
                data: vec![0x42, 0, 1],
            },
            WireMessage::Sync {
                document_id: doc(),
                sender_id: pid("peer-1"),
                target_id: pid("server"),
                data: vec![],
            },
            WireMessage::DocUnavailable {
                sender_id: pid("server"),
                target_id: pid("peer-1"),
                document_id: doc(),
            },
            WireMessage::Ephemeral {
                sender_id: pid("server"),
                target_id: pid("peer-1"),
                count: 7,
                session_id: "s".to_owned(),
                document_id: doc(),
                data: vec![0xa0],
            },
            WireMessage::Error {
                message: "expected a join message".to_owned(),
            },
            WireMessage::RemoteSubscriptionChange {
                sender_id: pid("peer-1"),
                target_id: pid("server"),
                add: vec![StorageId::new("a").unwrap()],
                remove: vec![],
            },
            WireMessage::RemoteHeadsChanged {
                sender_id: pid("server"),
                target_id: pid("peer-1"),
                document_id: doc(),
                new_heads: BTreeMap::from([(
                    StorageId::new("a").unwrap(),
                    RemoteHeads {
                        heads: vec!["abc".to_owned()],
                        timestamp: 1_700_000_000_000,
                    },
                )]),
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in every_kind() {
            let bytes = m.encode();
            assert_eq!(WireMessage::decode(&bytes).unwrap(), m, "{}", m.type_name());
            // The compact form (raw document id) reads back the same, 12 bytes shorter when
            // the message names a document.
            let compact = m.encode_compact();
            assert_eq!(
                WireMessage::decode(&compact).unwrap(),
                m,
                "{}",
                m.type_name()
            );
            let saved = if m.document_id().is_some() { 12 } else { 0 };
            assert_eq!(compact.len() + saved, bytes.len(), "{}", m.type_name());
        }
    }

    /// The exact bytes of a `sync` message: definite map of 5, samod's key order, `data` as a
    /// byte string (major type 2), `documentId` as bs58check text.
    #[test]
    fn sync_bytes_are_what_samod_expects() {
        let m = WireMessage::Sync {
            document_id: doc(),
            sender_id: pid("s"),
            target_id: pid("c"),
            data: vec![1, 2],
        };
        let bytes = m.encode();
        let mut expected = vec![0xa5, 0x64];
        expected.extend_from_slice(b"type");
        expected.push(0x64);
        expected.extend_from_slice(b"sync");
        expected.push(0x6a);
        expected.extend_from_slice(b"documentId");
        let id = doc().to_string();
        // Text of 24..=255 bytes: major type 3 with a one-byte length.
        expected.extend_from_slice(&[0x78, u8::try_from(id.len()).unwrap()]);
        expected.extend_from_slice(id.as_bytes());
        expected.push(0x68);
        expected.extend_from_slice(b"senderId");
        expected.extend_from_slice(&[0x61, b's', 0x68]);
        expected.extend_from_slice(b"targetId");
        expected.extend_from_slice(&[0x61, b'c', 0x64]);
        expected.extend_from_slice(b"data");
        expected.extend_from_slice(&[0x42, 1, 2]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn lenient_where_peers_differ() {
        // JS: float count, `metadata` instead of `peerMetadata`, raw 16-byte document id,
        // indefinite-length map, undefined storage id, unknown extra keys.
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        e.begin_map().unwrap();
        e.str("type").unwrap().str("ephemeral").unwrap();
        e.str("senderId").unwrap().str("a").unwrap();
        e.str("targetId").unwrap().str("b").unwrap();
        e.str("count").unwrap().f64(3.0).unwrap();
        e.str("sessionId").unwrap().str("x").unwrap();
        e.str("documentId")
            .unwrap()
            .bytes(b"0123456789abcdef")
            .unwrap();
        e.str("data").unwrap().bytes(&[]).unwrap();
        e.str("extra")
            .unwrap()
            .array(2)
            .unwrap()
            .u8(1)
            .unwrap()
            .map(0)
            .unwrap();
        e.end().unwrap();
        match WireMessage::decode(&buf).unwrap() {
            WireMessage::Ephemeral {
                count, document_id, ..
            } => {
                assert_eq!(count, 3);
                assert_eq!(document_id, doc());
            }
            other => panic!("{other:?}"),
        }
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        e.map(4).unwrap();
        e.str("type").unwrap().str("join").unwrap();
        e.str("senderId").unwrap().str("a").unwrap();
        e.str("supportedProtocolVersions")
            .unwrap()
            .array(1)
            .unwrap()
            .str("1")
            .unwrap();
        e.str("metadata").unwrap().map(2).unwrap();
        e.str("storageId").unwrap().undefined().unwrap();
        e.str("isEphemeral").unwrap().bool(true).unwrap();
        let m = WireMessage::decode(&buf).unwrap();
        assert_eq!(
            m,
            WireMessage::Join {
                sender_id: pid("a"),
                supported_protocol_versions: vec!["1".to_owned()],
                peer_metadata: Some(PeerMetadata {
                    storage_id: None,
                    is_ephemeral: true,
                    ..PeerMetadata::default()
                }),
            }
        );
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        let sync = WireMessage::Sync {
            document_id: doc(),
            sender_id: pid("s"),
            target_id: pid("c"),
            data: vec![1],
        }
        .encode();
        assert!(WireMessage::decode(&[]).is_err());
        assert_eq!(WireMessage::decode(&[0x01]), Err(WireError::NotAMap));
        let mut trailing = sync.clone();
        trailing.push(0);
        assert_eq!(
            WireMessage::decode(&trailing),
            Err(WireError::TrailingBytes)
        );
        assert!(WireMessage::decode(&sync[..sync.len() - 1]).is_err());
        let unknown = {
            let mut buf = Vec::new();
            let mut e = Encoder::new(&mut buf);
            e.map(1).unwrap().str("type").unwrap().str("hello").unwrap();
            buf
        };
        assert_eq!(
            WireMessage::decode(&unknown),
            Err(WireError::UnknownType("hello".to_owned()))
        );
        let no_type = {
            let mut buf = Vec::new();
            Encoder::new(&mut buf).map(0).unwrap();
            buf
        };
        assert_eq!(WireMessage::decode(&no_type), Err(WireError::MissingType));
        // `data` as an array of integers (the serde mistake) is refused.
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        e.map(5).unwrap();
        e.str("type").unwrap().str("sync").unwrap();
        e.str("documentId")
            .unwrap()
            .str(&doc().to_string())
            .unwrap();
        e.str("senderId").unwrap().str("s").unwrap();
        e.str("targetId").unwrap().str("c").unwrap();
        e.str("data").unwrap().array(1).unwrap().u8(1).unwrap();
        assert!(matches!(WireMessage::decode(&buf), Err(WireError::Cbor(_))));
        // A bad document id names the field.
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        e.map(2).unwrap();
        e.str("type").unwrap().str("doc-unavailable").unwrap();
        e.str("documentId").unwrap().str("not-an-id").unwrap();
        assert!(matches!(
            WireMessage::decode(&buf),
            Err(WireError::InvalidField {
                field: "documentId",
                ..
            })
        ));
        // Deep nesting in an unknown key is refused, not recursed into.
        let mut deep = vec![0xa2, 0x64];
        deep.extend_from_slice(b"type");
        deep.push(0x64);
        deep.extend_from_slice(b"sync");
        deep.push(0x61);
        deep.push(b'x');
        deep.extend(std::iter::repeat_n(0x81, 10_000));
        deep.push(0x00);
        assert!(WireMessage::decode(&deep).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = WireMessage::decode(&bytes);
        }

        #[test]
        fn mutated_messages_never_panic(
            which in 0usize..10,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        ) {
            let mut bytes = every_kind()[which].encode();
            for (at, value) in flips {
                let n = bytes.len();
                bytes[at % n] = value;
            }
            let _ = WireMessage::decode(&bytes);
        }
    }
}
