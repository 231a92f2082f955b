//! zhichao-server: the county's sync server and the `zhichao` command line.
//!
//! The server is a library: [`app`] builds the axum [`Router`] from an [`AppState`], and
//! [`serve`] runs it on a listener until a shutdown future resolves, so tests call the router
//! with `tower::ServiceExt::oneshot` or bind `127.0.0.1:0`. `main.rs` only calls [`cli::run`].
//!
//! - [`config`]: settings from defaults, a TOML file and the environment.
//! - [`auth`]: tokens stored as hashes, enrollment, refresh rotation, WebSocket tickets, and
//!   the extractors ([`auth::Authenticated`], [`auth::Admin`], [`auth::SyncAuth`]).
//! - [`routes`]: one module per resource, each with its own `router()`.
//! - [`metrics`], [`clock`], [`error`], [`api`] (request and response bodies), [`client`]
//!   (the command line's HTTP clients), [`telemetry`] (logging), [`import`] (weighbridge CSV
//!   exports uploaded by `zhichao import-weighings`).
//!
//! Data directory layout: `<data_dir>/docs` is the document store ([`SledStore`]),
//! `<data_dir>/auth` the token database, `<data_dir>/log` the change log, `<data_dir>/blobs`
//! the photo blobs ([`blobs`]), `<data_dir>/ingest` weighings, heartbeats and alerts
//! ([`ingest`]). sled locks each, so one server process owns a data
//! directory; admin commands go through the HTTP API.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use zhichao_core::access::Principal;
use zhichao_core::ids::{PeerId, PrincipalId};
use zhichao_core::store::{DocStore, MemoryStore, SledStore, StoreError};
use zhichao_core::sync::{HubConfig, PeerMetadata};

pub mod api;
pub mod auth;
pub mod blobs;
pub mod changelog;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod console;
pub mod demo;
pub mod error;
pub mod evidence_cli;
pub mod import;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod server_docs;
pub mod sync_service;
pub mod telemetry;

use crate::auth::{Auth, AuthError};
use crate::changelog::ChangeLog;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// The principal id of the server itself (see [`AppState::server_principal`]).
pub const SERVER_PRINCIPAL_ID: &str = "server";

/// How often [`serve`] removes long-expired token records.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(3_600);

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The document store cannot be opened.
    #[error("cannot open the document store: {0}")]
    Store(#[from] StoreError),
    /// The token database cannot be opened or the admin token registered.
    #[error("cannot open the token database: {0}")]
    Auth(#[from] AuthError),
    /// A server document (the rules in force) cannot be published.
    #[error("cannot publish a server document: {0}")]
    ServerDoc(#[from] server_docs::ServerDocError),
    /// A directory cannot be created.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Everything a request handler needs; cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    /// The settings.
    pub config: Arc<ServerConfig>,
    /// The document store (sled in production, memory in router tests).
    pub docs: Arc<dyn DocStore>,
    /// Tokens, enrollment, tickets.
    pub auth: Arc<Auth>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// The sync hub's thread (WebSocket connections talk to it).
    pub sync: sync_service::SyncService,
    /// The change log: who changed which document when (audit), and discovery.
    pub log: ChangeLog,
    /// Photo blobs and the documents that reference them.
    pub blobs: blobs::BlobStore,
    /// Weighing records, heartbeats and alerts ([`ingest`]).
    pub ingest: ingest::Ingest,
    /// The supervisors' web console: sessions, cached bodies ([`console`]).
    pub console: Arc<console::ConsoleState>,
    shutdown: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .field("metrics", &self.metrics.snapshot())
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens the stores under `config.data_dir` (`docs/`, `auth/`) and registers the admin
    /// bootstrap token of `config.admin_token` (removing an earlier one when unset). Then
    /// publishes the rules in force and re-publishes the over-limit departures of the last
    /// days that the watch lists lack ([`ingest::watchlist::reconcile`]).
    ///
    /// # Errors
    /// [`StartError`] when a directory cannot be created or a store opened (another process
    /// holds it, or it is of another format).
    pub async fn open(config: ServerConfig, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let docs_dir = config.docs_dir();
        let auth_dir = config.auth_dir();
        let log_dir = config.log_dir();
        for dir in [&docs_dir, &auth_dir, &log_dir] {
            std::fs::create_dir_all(dir).map_err(|source| StartError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let docs = tokio::task::spawn_blocking(move || SledStore::open(docs_dir))
            .await
            .map_err(|e| StartError::Io {
                path: "docs".to_owned(),
                source: std::io::Error::other(e),
            })??;
        let auth = Auth::open(&auth_dir, config.tokens.clone(), config.limits.max_tickets)?;
        let log = ChangeLog::open(&log_dir).map_err(|e| StartError::Io {
            path: log_dir.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        let blobs_dir = config.blobs_dir();
        let blobs = blobs::BlobStore::open(&blobs_dir).map_err(|e| StartError::Io {
            path: blobs_dir.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        let ingest_dir = config.ingest_dir();
        let ingest = ingest::Ingest::open(&ingest_dir).map_err(|e| StartError::Io {
            path: ingest_dir.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        Self::assemble(config, Arc::new(docs), auth, log, blobs, ingest, clock).await
    }

    /// A state whose stores live in memory (router tests, simulations).
    ///
    /// # Errors
    /// [`StartError::Auth`] when the temporary token database cannot be created.
    pub async fn temporary(
        config: ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let auth = Auth::temporary(config.tokens.clone(), config.limits.max_tickets)?;
        let log = ChangeLog::temporary().map_err(|e| StartError::Io {
            path: "temporary change log".to_owned(),
            source: std::io::Error::other(e),
        })?;
        let blobs = blobs::BlobStore::temporary().map_err(|e| StartError::Io {
            path: "temporary blob store".to_owned(),
            source: std::io::Error::other(e),
        })?;
        let ingest = ingest::Ingest::temporary().map_err(|e| StartError::Io {
            path: "temporary ingest database".to_owned(),
            source: std::io::Error::other(e),
        })?;
        Self::assemble(
            config,
            Arc::new(MemoryStore::new()),
            auth,
            log,
            blobs,
            ingest,
            clock,
        )
        .await
    }

    async fn assemble(
        config: ServerConfig,
        docs: Arc<dyn DocStore>,
        auth: Auth,
        log: ChangeLog,
        blobs: blobs::BlobStore,
        ingest: ingest::Ingest,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        auth.bootstrap_admin(config.admin_token.as_ref(), clock.now_ms())
            .await?;
        let (shutdown, _) = watch::channel(false);
        let metrics = Arc::new(Metrics::default());
        let sync = sync_service::SyncService::start(
            Arc::clone(&docs),
            log.clone(),
            blobs.clone(),
            Arc::clone(&clock),
            HubConfig {
                peer_id: PeerId::new(SERVER_PRINCIPAL_ID).unwrap_or_else(|_| unreachable!()),
                metadata: PeerMetadata::default(),
                max_message_bytes: config.limits.max_message_bytes,
                max_idle_docs: config.limits.max_idle_docs,
                session_id: String::new(),
                announce_window: config.limits.announce_window,
            },
            Arc::clone(&metrics),
        )
        .map_err(|source| StartError::Io {
            path: "sync thread".to_owned(),
            source,
        })?;
        let state = AppState {
            config: Arc::new(config),
            docs,
            auth: Arc::new(auth),
            metrics,
            clock,
            sync,
            log,
            blobs,
            ingest,
            console: Arc::default(),
            shutdown: Arc::new(shutdown),
        };
        let now_ms = i64::try_from(state.now_ms()).unwrap_or(i64::MAX);
        let rules = state.config.rules.clone();
        if let Err(e) = server_docs::publish_rules(&state, &rules, now_ms).await {
            state.sync.shutdown();
            return Err(e.into());
        }
        // A crash between a weighing upload's flush and its watch-list write leaves departures
        // off the lists: re-publish the recent ones (never fatal: the records are stored).
        if let Err(e) = ingest::watchlist::reconcile(&state).await {
            tracing::warn!(error = %e, "cannot re-publish the recent watch lists");
        }
        Ok(state)
    }

    /// The server itself as a principal ([`SERVER_PRINCIPAL_ID`], scoped to the county): the
    /// writer of server documents (rules in force, watch-list).
    pub fn server_principal(&self) -> Principal {
        Principal::Server {
            id: PrincipalId::new(SERVER_PRINCIPAL_ID).unwrap_or_else(|_| unreachable!()),
            scope: self.config.county,
        }
    }

    /// Now, UTC milliseconds, from the state's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Starts the shutdown: [`AppState::shutdown_signal`] resolves everywhere.
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Resolves when the server starts shutting down; long-lived tasks (WebSocket
    /// connections) select on it to close cleanly, since a graceful shutdown does not wait for
    /// upgraded connections.
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.subscribe();
        async move {
            // An error means the sender is gone: the state was dropped, so shut down too.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// The HTTP application: every route, JSON 404/405 answers, the request body limit, panic
/// containment and request logging (method and path only: query strings can carry tickets).
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.limits.max_body_bytes;
    Router::new()
        .merge(routes::health::router())
        .merge(routes::metrics::router())
        .merge(routes::admin::router())
        .merge(routes::auth::router())
        .merge(routes::ticket::router())
        .merge(routes::sync::router())
        .merge(routes::blobs::router())
        .merge(routes::weighings::router())
        .merge(routes::heartbeats::router())
        .merge(routes::alerts::router())
        .merge(routes::cases::router())
        .merge(routes::notices::router())
        .merge(routes::units::router())
        .merge(routes::stats::router())
        .merge(openapi::router())
        .merge(console::router())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}

/// The span of one request: method and path, never the query string or headers.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
    )
}

#[allow(clippy::needless_pass_by_value)] // the signature `CatchPanicLayer::custom` takes
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then stops accepting, signals
/// [`AppState::shutdown_signal`] and waits for in-flight HTTP requests. Also purges
/// long-expired tokens every [`PURGE_INTERVAL`], sweeps unreferenced photo blobs
/// ([`blobs::sweep_loop`]) and watches for silent source-unit equipment
/// ([`ingest::heartbeats::monitor_loop`]).
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purge = tokio::spawn(purge_loop(state.clone()));
    let sweep = tokio::spawn(blobs::sweep_loop(state.clone()));
    let monitor = tokio::spawn(ingest::heartbeats::monitor_loop(state.clone()));
    // The console's index and parsed bodies, ready before the first supervisor asks
    // (`console::model::warm_up`); it stops by itself at shutdown.
    let warm_state = state.clone();
    drop(tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        match console::model::warm_up(&warm_state) {
            Ok(documents) => tracing::info!(
                documents,
                ms = started.elapsed().as_millis(),
                "console caches warmed"
            ),
            Err(e) => tracing::warn!(error = %e, "warming the console caches failed"),
        }
    }));
    let signal_state = state.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down");
        signal_state.request_shutdown();
    };
    // Sync is many small WebSocket messages answered one after the other: without
    // TCP_NODELAY, Nagle's algorithm meets the peer's delayed ACK and stalls each exchange by
    // up to 40 ms (measured: "sync now" of 20 cases from the mobile facade took 60 ms instead
    // of 17).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
        }
    });
    let result = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .await;
    state.request_shutdown();
    purge.abort();
    sweep.abort();
    monitor.abort();
    result
}

async fn purge_loop(state: AppState) {
    let mut stop = std::pin::pin!(state.shutdown_signal());
    loop {
        match state.auth.purge_expired(state.now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "purged expired tokens"),
            Err(e) => tracing::warn!(error = %e, "purging expired tokens failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(PURGE_INTERVAL) => {}
            () = &mut stop => return,
        }
    }
}
