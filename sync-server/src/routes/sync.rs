//! `GET /v1/sync`: the WebSocket sync route (automerge-repo network protocol v1).
//!
//! The connection is authenticated before the upgrade (bearer header, or a one-time
//! `?ticket=` for browsers; see [`crate::auth::SyncAuth`]). After it, every binary message goes
//! to the sync hub's thread ([`crate::sync_service::SyncService`]) and whatever the hub sends
//! comes back on the connection's own bounded queue. A text message is a protocol error.

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use zhichao_core::access::Principal;
use zhichao_core::ids::StorageId;
use zhichao_core::sync::WireMessage;

use crate::AppState;
use crate::auth::SyncAuth;
use crate::sync_service::Outgoing;

/// The sync route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sync", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    SyncAuth(grant): SyncAuth,
    ws: WebSocketUpgrade,
) -> Response {
    let limit = state.config.limits.max_message_bytes;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection(socket, state, grant.principal, grant.device))
}

async fn connection(
    mut socket: WebSocket,
    state: AppState,
    principal: Principal,
    device: Option<StorageId>,
) {
    let _guard = state.metrics.connection();
    let sync = state.sync.clone();
    let mut registered = sync.connect(principal, device);
    let conn = registered.conn;
    let shutdown = state.shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Binary(bytes))) => sync.frame(conn, bytes.to_vec()),
                Some(Ok(Message::Text(_))) => {
                    let error = WireMessage::Error {
                        message: "text messages are not part of the protocol".to_owned(),
                    };
                    let _ = socket.send(Message::Binary(error.encode().into())).await;
                    break;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            },
            outgoing = registered.outgoing.recv() => match outgoing {
                Some(Outgoing::Frame(bytes)) => {
                    if socket.send(Message::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close(reason)) => {
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame {
                            code: axum::extract::ws::close_code::POLICY,
                            reason: reason.chars().take(120).collect::<String>().into(),
                        })))
                        .await;
                    break;
                }
                None => break,
            },
            () = &mut shutdown => {
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
        }
    }
    sync.disconnect(conn);
}
