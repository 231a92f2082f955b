//! zhichao-e2e: end-to-end tests of zhichao.
//!
//! The library holds what the test binaries and bench binaries share: [`TestServer`], our
//! sync server in-process on 127.0.0.1:0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use zhichao_core::ids::{DocumentId, StorageId};
use zhichao_core::store::DocStore;
use zhichao_server::api::{CreateEnrollmentRequest, PrincipalSpec, Role};
use zhichao_server::client::AdminClient;
use zhichao_server::clock::SystemClock;
use zhichao_server::config::{Secret, ServerConfig, TokenConfig};
use zhichao_server::{AppState, serve};

/// The bootstrap admin token of a [`TestServer`].
pub const ADMIN: &str = "admin-bootstrap-token-for-e2e-client-0001";

/// Our server on 127.0.0.1:0 with stores in a temporary directory and the system clock, on
/// its own tokio runtime (the phones are blocking, as on a worker thread of the app).
pub struct TestServer {
    runtime: tokio::runtime::Runtime,
    /// The server's state (stores, configuration).
    pub state: AppState,
    addr: SocketAddr,
    serving: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts a server with `tokens` settings.
    ///
    /// # Panics
    /// When the runtime, the state or the socket cannot be made (a test cannot go on).
    pub fn start(tokens: TokenConfig) -> TestServer {
        Self::start_with(
            ServerConfig {
                tokens,
                ..ServerConfig::default()
            },
            false,
        )
    }

    /// Starts a server with `config` (its admin token replaced by [`ADMIN`]): with its stores
    /// on disk in `config.data_dir` when `on_disk`, in memory otherwise.
    ///
    /// # Panics
    /// When the runtime, the state or the socket cannot be made (a test cannot go on).
    pub fn start_with(config: ServerConfig, on_disk: bool) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let config = ServerConfig {
            admin_token: Some(Secret::new(ADMIN)),
            ..config
        };
        let (state, listener) = runtime.block_on(async {
            let state = if on_disk {
                AppState::open(config, Arc::new(SystemClock)).await
            } else {
                AppState::temporary(config, Arc::new(SystemClock)).await
            }
            .expect("server state");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            (state, listener)
        });
        let addr = listener.local_addr().expect("bound address");
        let serving_state = state.clone();
        let serving = runtime.spawn(async move {
            let stop = serving_state.shutdown_signal();
            serve(listener, serving_state, stop).await.expect("serve");
        });
        TestServer {
            runtime,
            state,
            addr,
            serving,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A one-time enrollment code for officer `name` of `team` on `device`, from the admin
    /// API.
    ///
    /// # Panics
    /// When the admin API refuses.
    pub fn officer_code(&self, name: &str, team: &str, device: &StorageId) -> String {
        self.enrollment_code(
            PrincipalSpec {
                role: Role::Officer,
                name: name.to_owned(),
                team: Some(team.to_owned()),
                scope: None,
                unit: None,
            },
            device,
        )
    }

    /// A one-time enrollment code for `principal` on `device`, from the admin API.
    ///
    /// # Panics
    /// When the admin API refuses.
    pub fn enrollment_code(&self, principal: PrincipalSpec, device: &StorageId) -> String {
        let admin = AdminClient::new(&self.url(), ADMIN).expect("admin client");
        admin
            .create_enrollment(&CreateEnrollmentRequest {
                principal,
                device: device.as_str().to_owned(),
                ttl: None,
            })
            .expect("enrollment code")
            .code
    }

    /// Whether the server stored document `id`.
    ///
    /// # Panics
    /// When the server's store cannot be read.
    pub fn has(&self, id: &DocumentId) -> bool {
        self.state
            .docs
            .load(id)
            .expect("server store readable")
            .is_some()
    }

    /// Stops the server and waits (at most 15 s) for it.
    ///
    /// # Panics
    /// When it does not stop in time.
    pub fn stop(self) {
        self.state.request_shutdown();
        self.runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(15), self.serving).await })
            .expect("server stops in time")
            .expect("serve task");
        self.state.sync.shutdown();
    }
}
