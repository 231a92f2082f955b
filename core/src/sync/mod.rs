//! Sync: the automerge-repo network protocol and the sans-I/O engine that drives it.
//!
//! Nothing here opens a socket, reads a clock or draws randomness: callers pass messages in,
//! take messages out, and supply `now` and ids. The phone (through the `client` feature), the
//! sync server and deterministic simulations all drive the same code.
//!
//! - [`wire`]: the CBOR messages of automerge-repo protocol version 1.
//! - [`connection`]: the handshake and per-message identity checks of one connection.
//! - [`session`]: the automerge sync state of one document with one peer, bounded.
//! - [`hub`]: the server side: connections, loaded documents, access control, save-then-ack.
//! - [`replica`]: the phone side: push pending documents, receive announced ones, save-then-ack.

pub mod connection;
pub mod hub;
pub mod replica;
pub mod session;
pub mod wire;

pub use connection::{Connection, ProtocolError, Received, Role};
pub use hub::{
    Announcement, ConnId, Hub, HubConfig, HubInput, HubOutput, discovery_complete_payload,
    peer_storage_key, rejection_payload,
};
pub use replica::{
    MAX_INCOMING_MESSAGE_BYTES, MAX_MESSAGE_BYTES, Replica, ReplicaConfig, ReplicaInput,
    ReplicaOutput, ReplicaProgress, drive, drive_outputs,
};
pub use session::{MAX_IDLE_ROUNDS, SessionError, SyncSession};
pub use wire::{PROTOCOL_VERSION, PeerMetadata, RemoteHeads, WireError, WireMessage};

#[cfg(test)]
mod hub_tests;
#[cfg(test)]
mod replica_tests;
