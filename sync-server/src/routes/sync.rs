//! `GET /v1/sync`: the WebSocket sync route (automerge-repo network protocol v1).
//!
//! The connection is authenticated before the upgrade (bearer header, or a one-time
//! `?ticket=` for browsers; see [`crate::auth::SyncAuth`]). After it, every binary message goes
//! to the sync hub's thread ([`crate::sync_service::SyncService`]) and whatever the hub sends
//! comes back on the connection's own bounded queue. A text message is a protocol error.
//!
//! Limits: at most `limits.max_connections` connections at once (503 beyond); a send that
//! the peer does not take within [`SEND_TIMEOUT`] ends the connection; the token is checked
//! again every [`RECHECK_EVERY`] and at its expiry, so a revoked or expired token does not
//! keep an open connection syncing.

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use zhichao_core::sync::WireMessage;

use crate::AppState;
use crate::auth::{Grant, SyncAuth};
use crate::error::ApiError;
use crate::sync_service::Outgoing;

/// How long one message may take to reach a peer before the connection is dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How often an open connection checks that its token is still live.
pub const RECHECK_EVERY: Duration = Duration::from_secs(30);

/// The sync route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sync", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    SyncAuth(grant): SyncAuth,
    ws: WebSocketUpgrade,
) -> Response {
    let open = state.metrics.snapshot().connections_open;
    if open >= state.config.limits.max_connections as u64 {
        tracing::warn!(open, "sync connection refused: too many open");
        return ApiError::Unavailable {
            code: "too_many_connections",
            message: "too many sync connections; retry later",
        }
        .into_response();
    }
    let limit = state.config.limits.max_message_bytes;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection(socket, state, grant))
}

async fn connection(mut socket: WebSocket, state: AppState, grant: Grant) {
    let _guard = state.metrics.connection();
    let sync = state.sync.clone();
    let mut registered = sync.connect(grant.principal.clone(), grant.device.clone());
    let conn = registered.conn;
    let shutdown = state.shutdown_signal();
    tokio::pin!(shutdown);
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.tick().await;
    let expiry = grant.expires_at_ms.map_or(Duration::MAX, |at| {
        Duration::from_millis(at.saturating_sub(state.now_ms()))
    });
    let expired = tokio::time::sleep(expiry.min(Duration::from_secs(86_400 * 365)));
    tokio::pin!(expired);
    loop {
        tokio::select! {
            _ = recheck.tick() => {
                if let Err(e) = state.auth.recheck(&grant, state.now_ms()) {
                    tracing::info!(conn, reason = %e, "token no longer valid; closing");
                    close(&mut socket, "token no longer valid").await;
                    break;
                }
            }
            () = &mut expired => {
                tracing::info!(conn, "token expired; closing");
                close(&mut socket, "token expired").await;
                break;
            }
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
                    let sent =
                        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Binary(bytes.into())))
                            .await;
                    if !matches!(sent, Ok(Ok(()))) {
                        tracing::info!(conn, "peer does not take its messages; closing");
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

/// Sends a close frame (policy violation) with `reason`, waiting at most [`SEND_TIMEOUT`].
async fn close(socket: &mut WebSocket, reason: &str) {
    let frame = Message::Close(Some(CloseFrame {
        code: axum::extract::ws::close_code::POLICY,
        reason: reason.to_owned().into(),
    }));
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(frame)).await;
}
