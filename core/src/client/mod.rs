//! The phone's sync transport (feature `client`): the blocking I/O around the sans-I/O
//! [`Replica`](crate::sync::Replica).
//!
//! The sync engine computes; this module does the sockets, the clock and the tokens, for
//! callers whose store is synchronous (the mobile bindings, tools, end-to-end tests):
//!
//! - [`enroll`]: exchange a one-time enrollment code for the device's first tokens.
//! - [`Session`] over a [`CredentialStore`]: a valid access token, refreshed before use when
//!   expired and after a `token_expired` answer; the rotated pair is saved before it is used.
//! - [`SyncClient::sync_now`]: one sync over `GET /v1/sync` ([`SyncSocket`]), reported as a
//!   [`SyncReport`] and [`SyncEvent`]s.
//! - [`BackgroundSync`]: sync on its own thread, on an interval, when nudged after a save, and
//!   with backoff after failures.
//!
//! Plain HTTP and `ws://` only: TLS ends at the reverse proxy in front of the server.
//! Tokens never appear in URLs, errors or logs.
//!
//! Modules (everything is re-exported here): [`server_url`], [`error`], [`http`] (the device
//! API), [`credentials`] (tokens and [`Session`]), [`transport`] (the WebSocket),
//! [`runner`] ([`SyncClient`]), [`background`] ([`BackgroundSync`], [`Backoff`]).

pub mod background;
pub mod blobs;
pub mod credentials;
pub mod error;
pub mod http;
pub mod runner;
pub mod server_url;
pub mod transport;

pub use background::{BackgroundConfig, BackgroundSync, Backoff};
pub use blobs::{
    BlobStatus, UploadProgress, UploadReport, confirm_photos, fetch_photo, upload_queued,
};
pub use credentials::{CredentialStore, Credentials, EXPIRY_MARGIN_MS, MemoryCredentials, Session};
pub use error::{ClientError, Result};
pub use http::{CONNECT_TIMEOUT, REQUEST_TIMEOUT, ServerApi};
pub use runner::{NoObserver, SyncClient, SyncConfig, SyncEvent, SyncObserver, SyncReport};
pub use server_url::ServerUrl;
pub use transport::{Incoming, SYNC_PATH, SyncSocket, TransportConfig, TransportStats};

use crate::ids::StorageId;

/// Enrolls this device: exchanges the one-time `code` an administrator issued for `device`
/// (this phone's storage id) at the server `server` (`http://HOST[:PORT]`), saves the
/// credentials to `store`, and returns them.
///
/// # Errors
/// [`ClientError::Url`]; [`ClientError::Unauthorized`] for an unknown, used, expired or
/// revoked code or one made for another device; [`ClientError::Network`],
/// [`ClientError::Server`], [`ClientError::Decode`] (also when the server bound the tokens to
/// another device); [`ClientError::CredentialStore`] when the credentials cannot be saved
/// (the code is spent then: ask for a new one).
pub fn enroll(
    server: &str,
    code: &str,
    device: &StorageId,
    store: &dyn CredentialStore,
) -> Result<Credentials> {
    let api = ServerApi::new(ServerUrl::parse(server)?);
    let credentials = Credentials::from(api.enroll(code, Some(device))?);
    if credentials.device != *device {
        return Err(ClientError::Decode {
            reason: format!(
                "the server enrolled device {} instead of {device}",
                credentials.device
            ),
        });
    }
    store
        .save(&credentials)
        .map_err(|reason| ClientError::CredentialStore { reason })?;
    tracing::info!(device = %device, principal = %credentials.principal.id(), "device enrolled");
    Ok(credentials)
}
