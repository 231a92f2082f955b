//! One connection's protocol state: the `join` / `peer` handshake, then identity checks on
//! every message, as samod-core 0.16 and the JS automerge-repo do them.
//!
//! Sans-I/O: [`Connection::receive`] takes the bytes of one binary WebSocket message and says
//! what to do; the caller owns the socket.

use crate::ids::PeerId;

use super::wire::{PROTOCOL_VERSION, PeerMetadata, WireError, WireMessage};

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection and wait for `join`.
    Server,
    /// We dialled and sent `join`; we wait for `peer`.
    Client,
}

/// What a received message means for the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// The handshake completed; send `reply` (server side) and start syncing.
    Established {
        /// The remote peer id.
        remote: PeerId,
        /// The remote's handshake metadata.
        metadata: Option<PeerMetadata>,
        /// Our `peer` message to send (server side), `None` on the client side.
        reply: Option<WireMessage>,
    },
    /// A message of the established phase, identity already checked.
    Message(WireMessage),
    /// The remote said it leaves (or reported an error): close without answering.
    Closed {
        /// Why, for the log.
        reason: String,
    },
}

/// A protocol violation: send `error` with [`ProtocolError::message`], then close.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The bytes are not a message.
    #[error("message decode error: {0}")]
    Decode(#[from] WireError),
    /// First message on a server connection was not `join`.
    #[error("expected a join message")]
    ExpectedJoin,
    /// First message on a client connection was not `peer`.
    #[error("expected a peer message")]
    ExpectedPeer,
    /// No common protocol version.
    #[error("unsupported protocol version")]
    UnsupportedVersion,
    /// A second handshake message.
    #[error("unexpected join or peer message")]
    UnexpectedHandshake,
    /// `senderId` is not the peer of the handshake.
    #[error("peer ID mismatch: expected {expected}, received {actual}")]
    PeerMismatch {
        /// The peer id of the handshake.
        expected: PeerId,
        /// The peer id in the message.
        actual: PeerId,
    },
    /// `targetId` is not us.
    #[error("target peer ID mismatch: expected {expected}, received {actual}")]
    TargetMismatch {
        /// Our peer id.
        expected: PeerId,
        /// The target in the message.
        actual: PeerId,
    },
}

impl ProtocolError {
    /// The `error` message to send before closing.
    pub fn message(&self) -> WireMessage {
        WireMessage::Error {
            message: self.to_string(),
        }
    }
}

/// The protocol state of one connection.
#[derive(Clone, Debug)]
pub struct Connection {
    role: Role,
    local: PeerId,
    local_metadata: PeerMetadata,
    remote: Option<PeerId>,
}

impl Connection {
    /// A server-side connection waiting for `join`.
    pub fn server(local: PeerId, local_metadata: PeerMetadata) -> Self {
        Connection {
            role: Role::Server,
            local,
            local_metadata,
            remote: None,
        }
    }

    /// A client-side connection and the `join` message to send first.
    pub fn client(local: PeerId, local_metadata: PeerMetadata) -> (Self, WireMessage) {
        let join = WireMessage::Join {
            sender_id: local.clone(),
            supported_protocol_versions: vec![PROTOCOL_VERSION.to_owned()],
            peer_metadata: Some(local_metadata.clone()),
        };
        (
            Connection {
                role: Role::Client,
                local,
                local_metadata,
                remote: None,
            },
            join,
        )
    }

    /// Our peer id.
    pub fn local(&self) -> &PeerId {
        &self.local
    }

    /// The remote peer id, once established.
    pub fn remote(&self) -> Option<&PeerId> {
        self.remote.as_ref()
    }

    /// True once the handshake completed.
    pub fn is_established(&self) -> bool {
        self.remote.is_some()
    }

    /// Interprets one received binary message.
    ///
    /// # Errors
    /// [`ProtocolError`]: send its [`ProtocolError::message`] and close the connection.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Received, ProtocolError> {
        let message = WireMessage::decode(bytes)?;
        let Some(remote) = self.remote.clone() else {
            return self.handshake(message);
        };
        match &message {
            WireMessage::Join { .. } | WireMessage::Peer { .. } => {
                return Err(ProtocolError::UnexpectedHandshake);
            }
            WireMessage::Leave { .. } => {
                return Ok(Received::Closed {
                    reason: "peer left".to_owned(),
                });
            }
            WireMessage::Error { message } => {
                return Ok(Received::Closed {
                    reason: format!("peer reported an error: {message}"),
                });
            }
            _ => {}
        }
        if let Some(sender) = sender_of(&message)
            && *sender != remote
        {
            return Err(ProtocolError::PeerMismatch {
                expected: remote,
                actual: sender.clone(),
            });
        }
        if let Some(target) = target_of(&message)
            && *target != self.local
        {
            return Err(ProtocolError::TargetMismatch {
                expected: self.local.clone(),
                actual: target.clone(),
            });
        }
        Ok(Received::Message(message))
    }

    fn handshake(&mut self, message: WireMessage) -> Result<Received, ProtocolError> {
        match (self.role, message) {
            (
                Role::Server,
                WireMessage::Join {
                    sender_id,
                    supported_protocol_versions,
                    peer_metadata,
                },
            ) => {
                if !supported_protocol_versions
                    .iter()
                    .any(|v| v == PROTOCOL_VERSION)
                {
                    return Err(ProtocolError::UnsupportedVersion);
                }
                self.remote = Some(sender_id.clone());
                Ok(Received::Established {
                    reply: Some(WireMessage::Peer {
                        sender_id: self.local.clone(),
                        selected_protocol_version: PROTOCOL_VERSION.to_owned(),
                        target_id: sender_id.clone(),
                        peer_metadata: Some(self.local_metadata.clone()),
                    }),
                    remote: sender_id,
                    metadata: peer_metadata,
                })
            }
            (Role::Server, _) => Err(ProtocolError::ExpectedJoin),
            (
                Role::Client,
                WireMessage::Peer {
                    sender_id,
                    selected_protocol_version,
                    target_id,
                    peer_metadata,
                },
            ) => {
                if selected_protocol_version != PROTOCOL_VERSION {
                    return Err(ProtocolError::UnsupportedVersion);
                }
                if target_id != self.local {
                    return Err(ProtocolError::TargetMismatch {
                        expected: self.local.clone(),
                        actual: target_id,
                    });
                }
                self.remote = Some(sender_id.clone());
                Ok(Received::Established {
                    remote: sender_id,
                    metadata: peer_metadata,
                    reply: None,
                })
            }
            // The server refused the join (a wrong storage id, say): keep its reason.
            (Role::Client, WireMessage::Error { message }) => Ok(Received::Closed {
                reason: format!("the server refused the connection: {message}"),
            }),
            (Role::Client, _) => Err(ProtocolError::ExpectedPeer),
        }
    }
}

/// The `senderId` samod checks (not for `ephemeral`, which carries the original author).
fn sender_of(m: &WireMessage) -> Option<&PeerId> {
    match m {
        WireMessage::Request { sender_id, .. }
        | WireMessage::Sync { sender_id, .. }
        | WireMessage::DocUnavailable { sender_id, .. }
        | WireMessage::RemoteSubscriptionChange { sender_id, .. }
        | WireMessage::RemoteHeadsChanged { sender_id, .. } => Some(sender_id),
        _ => None,
    }
}

fn target_of(m: &WireMessage) -> Option<&PeerId> {
    match m {
        WireMessage::Request { target_id, .. }
        | WireMessage::Sync { target_id, .. }
        | WireMessage::DocUnavailable { target_id, .. }
        | WireMessage::Ephemeral { target_id, .. }
        | WireMessage::RemoteSubscriptionChange { target_id, .. }
        | WireMessage::RemoteHeadsChanged { target_id, .. } => Some(target_id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DocumentId;

    fn pid(s: &str) -> PeerId {
        PeerId::new(s).unwrap()
    }

    fn sync(from: &str, to: &str) -> Vec<u8> {
        WireMessage::Sync {
            document_id: DocumentId::from_bytes([1; 16]),
            sender_id: pid(from),
            target_id: pid(to),
            data: vec![],
        }
        .encode()
    }

    #[test]
    fn client_and_server_shake_hands_then_exchange() {
        let mut server = Connection::server(pid("server"), PeerMetadata::default());
        let (mut client, join) = Connection::client(pid("phone"), PeerMetadata::default());
        let Received::Established { remote, reply, .. } = server.receive(&join.encode()).unwrap()
        else {
            panic!("not established");
        };
        assert_eq!(remote, pid("phone"));
        let reply = reply.unwrap();
        let Received::Established { remote, .. } = client.receive(&reply.encode()).unwrap() else {
            panic!("not established");
        };
        assert_eq!(remote, pid("server"));
        assert!(matches!(
            server.receive(&sync("phone", "server")).unwrap(),
            Received::Message(WireMessage::Sync { .. })
        ));
        assert!(matches!(
            client.receive(&sync("server", "phone")).unwrap(),
            Received::Message(WireMessage::Sync { .. })
        ));
    }

    #[test]
    fn violations_get_samods_error_texts() {
        let mut server = Connection::server(pid("server"), PeerMetadata::default());
        let err = server.receive(&sync("phone", "server")).unwrap_err();
        assert_eq!(err.to_string(), "expected a join message");
        assert!(matches!(err.message(), WireMessage::Error { .. }));

        let mut server = Connection::server(pid("server"), PeerMetadata::default());
        let join = WireMessage::Join {
            sender_id: pid("phone"),
            supported_protocol_versions: vec!["2".to_owned()],
            peer_metadata: None,
        };
        assert_eq!(
            server.receive(&join.encode()),
            Err(ProtocolError::UnsupportedVersion)
        );

        let mut server = Connection::server(pid("server"), PeerMetadata::default());
        let (_, join) = Connection::client(pid("phone"), PeerMetadata::default());
        server.receive(&join.encode()).unwrap();
        assert_eq!(
            server
                .receive(&sync("intruder", "server"))
                .unwrap_err()
                .to_string(),
            "peer ID mismatch: expected phone, received intruder"
        );
        assert_eq!(
            server
                .receive(&sync("phone", "other"))
                .unwrap_err()
                .to_string(),
            "target peer ID mismatch: expected server, received other"
        );
        assert_eq!(
            server.receive(&join.encode()),
            Err(ProtocolError::UnexpectedHandshake)
        );
        assert!(matches!(
            server.receive(&[0xff, 0x00]),
            Err(ProtocolError::Decode(_))
        ));
        assert!(matches!(
            server.receive(
                &WireMessage::Leave {
                    sender_id: pid("phone")
                }
                .encode()
            ),
            Ok(Received::Closed { .. })
        ));
    }

    #[test]
    fn a_client_checks_the_peer_reply() {
        let (mut client, _) = Connection::client(pid("phone"), PeerMetadata::default());
        let wrong_target = WireMessage::Peer {
            sender_id: pid("server"),
            selected_protocol_version: "1".to_owned(),
            target_id: pid("someone-else"),
            peer_metadata: None,
        };
        assert!(matches!(
            client.receive(&wrong_target.encode()),
            Err(ProtocolError::TargetMismatch { .. })
        ));
        let (mut client, _) = Connection::client(pid("phone"), PeerMetadata::default());
        assert_eq!(
            client.receive(&sync("server", "phone")),
            Err(ProtocolError::ExpectedPeer)
        );
    }
}
