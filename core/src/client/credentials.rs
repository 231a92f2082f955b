//! A device's tokens ([`Credentials`]), where the phone keeps them ([`CredentialStore`]), and
//! [`Session`], which hands out a valid access token and rotates the pair when needed.
//!
//! A refresh token works once: the server rotates it on every refresh and revokes all of a
//! device's tokens when a spent one comes back (`refresh_reused`). So the session
//! - refreshes under a lock (two syncs of one process never spend the same refresh token),
//! - saves the new pair to the [`CredentialStore`] *before* using it, so a crash right after a
//!   refresh cannot lose the only valid refresh token, and keeps a pair it could not save in
//!   memory, saving it before anything else on the next call,
//! - after a `token_expired` answer refreshes only if nobody else already did.
//!
//! The clock is passed in (`now_ms`, UTC milliseconds): the decisions are testable, and a
//! phone whose clock is wrong is corrected by the server's `token_expired` answer.

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::api::TokenPairResponse;
use crate::ids::StorageId;

use super::error::{ClientError, Result};
use super::http::ServerApi;

/// An access token counts as expired this long before its expiry (UTC ms), so it does not run
/// out while a sync connects.
pub const EXPIRY_MARGIN_MS: u64 = 30_000;

/// What a device keeps to talk to the server: the current token pair and whom it speaks for.
/// Secret: keep it in the platform's secure storage (Keychain, Android Keystore). `Debug`
/// shows no token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Bearer token for HTTP and sync.
    pub access_token: String,
    /// Its expiry, UTC ms (`None`: does not expire).
    pub access_expires_at_ms: Option<u64>,
    /// Exchanged once for the next pair.
    pub refresh_token: String,
    /// Its expiry, UTC ms (`None`: does not expire). Past it the device must be enrolled
    /// again.
    pub refresh_expires_at_ms: Option<u64>,
    /// The device the tokens are bound to: the storage id this phone announces when syncing.
    pub device: StorageId,
    /// Who the tokens speak for.
    pub principal: Principal,
}

impl Credentials {
    /// Whether the access token should be refreshed before use at `now_ms` (UTC ms): it
    /// expires within [`EXPIRY_MARGIN_MS`].
    pub fn access_expired(&self, now_ms: u64) -> bool {
        self.access_expires_at_ms
            .is_some_and(|at| at <= now_ms.saturating_add(EXPIRY_MARGIN_MS))
    }
}

impl From<TokenPairResponse> for Credentials {
    fn from(pair: TokenPairResponse) -> Self {
        Credentials {
            access_token: pair.access_token,
            access_expires_at_ms: pair.access_expires_at_ms,
            refresh_token: pair.refresh_token,
            refresh_expires_at_ms: pair.refresh_expires_at_ms,
            device: pair.device,
            principal: pair.principal,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_expires_at_ms", &self.access_expires_at_ms)
            .field("refresh_expires_at_ms", &self.refresh_expires_at_ms)
            .field("device", &self.device)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// Where a device keeps its [`Credentials`]: the mobile layer implements it over the Keychain
/// or the Android Keystore; [`MemoryCredentials`] is for tests and tools.
pub trait CredentialStore: Send + Sync {
    /// The stored credentials, `None` before enrollment (or when they cannot be read).
    fn load(&self) -> Option<Credentials>;

    /// Replaces the stored credentials; returns only once they are durable (a refresh token
    /// is spent as soon as the server rotated it).
    ///
    /// # Errors
    /// Why the credentials could not be stored (shown to people and logged: no secrets).
    fn save(&self, credentials: &Credentials) -> std::result::Result<(), String>;
}

/// Credentials in memory (tests, tools): lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryCredentials {
    inner: Mutex<Option<Credentials>>,
}

impl MemoryCredentials {
    /// An empty store (not enrolled).
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `credentials`.
    pub fn with(credentials: Credentials) -> Self {
        MemoryCredentials {
            inner: Mutex::new(Some(credentials)),
        }
    }
}

impl CredentialStore for MemoryCredentials {
    fn load(&self) -> Option<Credentials> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn save(&self, credentials: &Credentials) -> std::result::Result<(), String> {
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = Some(credentials.clone());
        Ok(())
    }
}

/// The server call a [`Session`] needs; [`ServerApi`] in production, a fake in tests.
pub(crate) trait Refresh: Send + Sync {
    /// `POST /v1/auth/refresh`.
    fn refresh(&self, refresh_token: &str) -> Result<TokenPairResponse>;
}

impl Refresh for ServerApi {
    fn refresh(&self, refresh_token: &str) -> Result<TokenPairResponse> {
        ServerApi::refresh(self, refresh_token)
    }
}

/// Valid access tokens for one device: see the [module docs](self). One session per device
/// and process (two sessions over one store could spend one refresh token twice).
pub struct Session {
    refresher: Box<dyn Refresh>,
    store: Arc<dyn CredentialStore>,
    /// Held during every decision and refresh; holds a rotated pair the store refused.
    unsaved: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    /// A session refreshing through `api`, keeping the pairs in `store`.
    pub fn new(api: ServerApi, store: Arc<dyn CredentialStore>) -> Self {
        Self::with_refresher(Box::new(api), store)
    }

    pub(crate) fn with_refresher(
        refresher: Box<dyn Refresh>,
        store: Arc<dyn CredentialStore>,
    ) -> Self {
        Session {
            refresher,
            store,
            unsaved: Mutex::new(None),
        }
    }

    /// The credentials in use now (a pair not yet saved, else the stored one), without any
    /// check or refresh.
    pub fn current(&self) -> Option<Credentials> {
        let unsaved = self.unsaved.lock().unwrap_or_else(PoisonError::into_inner);
        unsaved.clone().or_else(|| self.store.load())
    }

    /// Credentials whose access token is valid at `now_ms` (UTC ms) as far as this phone can
    /// tell: the stored ones, refreshed first when the access token is expired or about to
    /// (see [`Credentials::access_expired`]).
    ///
    /// # Errors
    /// [`ClientError::NotEnrolled`]; [`ClientError::CredentialStore`] when a rotated pair
    /// cannot be saved; the errors of [`ServerApi::refresh`] (an
    /// [`ClientError::Unauthorized`] one means: enroll again).
    pub fn valid(&self, now_ms: u64) -> Result<Credentials> {
        let mut unsaved = self.unsaved.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.settle(&mut unsaved)?;
        if current.access_expired(now_ms) {
            tracing::debug!("access token expired; refreshing before use");
            self.rotate(&mut unsaved, &current)
        } else {
            Ok(current)
        }
    }

    /// Credentials to retry with after the server answered `token_expired` to `refused`:
    /// the current ones if another caller already rotated the pair, else freshly refreshed.
    ///
    /// # Errors
    /// As [`Session::valid`].
    pub fn after_expired(&self, refused: &Credentials) -> Result<Credentials> {
        let mut unsaved = self.unsaved.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.settle(&mut unsaved)?;
        if current.access_token != refused.access_token {
            return Ok(current);
        }
        tracing::debug!("access token refused as expired; refreshing");
        self.rotate(&mut unsaved, &current)
    }

    /// Runs `op` with valid credentials; when it fails with [`ClientError::TokenExpired`],
    /// refreshes once ([`Session::after_expired`]) and runs it again.
    ///
    /// # Errors
    /// As [`Session::valid`], and whatever `op` returns (a second
    /// [`ClientError::TokenExpired`] included).
    pub fn with_valid<T>(
        &self,
        now_ms: u64,
        mut op: impl FnMut(&Credentials) -> Result<T>,
    ) -> Result<T> {
        let credentials = self.valid(now_ms)?;
        match op(&credentials) {
            Err(ClientError::TokenExpired) => {
                let credentials = self.after_expired(&credentials)?;
                op(&credentials)
            }
            other => other,
        }
    }

    /// The credentials to use: saves a pending rotated pair first.
    fn settle(&self, unsaved: &mut Option<Credentials>) -> Result<Credentials> {
        if let Some(pending) = unsaved.as_ref() {
            self.store
                .save(pending)
                .map_err(|reason| ClientError::CredentialStore { reason })?;
            return unsaved.take().ok_or(ClientError::NotEnrolled);
        }
        self.store.load().ok_or(ClientError::NotEnrolled)
    }

    /// Spends `current`'s refresh token; saves the new pair before returning it.
    fn rotate(
        &self,
        unsaved: &mut Option<Credentials>,
        current: &Credentials,
    ) -> Result<Credentials> {
        let fresh = Credentials::from(self.refresher.refresh(&current.refresh_token)?);
        if fresh.device != current.device {
            tracing::warn!(old = %current.device, new = %fresh.device, "refresh moved the tokens to another device");
        }
        match self.store.save(&fresh) {
            Ok(()) => Ok(fresh),
            Err(reason) => {
                tracing::error!(%reason, "cannot save the rotated credentials; keeping them in memory");
                *unsaved = Some(fresh);
                Err(ClientError::CredentialStore { reason })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::fixtures::officer;

    /// Rotates `zrt_N` into `zat_{N+1}` / `zrt_{N+1}` expiring at `expires`; refuses a spent
    /// token as the server does.
    struct FakeServer {
        calls: AtomicUsize,
        spent: Mutex<Vec<String>>,
        expires: u64,
        down: AtomicBool,
    }

    impl FakeServer {
        fn new(expires: u64) -> Arc<FakeServer> {
            Arc::new(FakeServer {
                calls: AtomicUsize::new(0),
                spent: Mutex::new(Vec::new()),
                expires,
                down: AtomicBool::new(false),
            })
        }
    }

    impl Refresh for Arc<FakeServer> {
        fn refresh(&self, refresh_token: &str) -> Result<TokenPairResponse> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(ClientError::network("cannot connect"));
            }
            let mut spent = self.spent.lock().unwrap();
            if spent.iter().any(|t| t == refresh_token) {
                return Err(ClientError::Unauthorized {
                    code: "refresh_reused".to_owned(),
                    message: "reused".to_owned(),
                });
            }
            spent.push(refresh_token.to_owned());
            let n: u32 = refresh_token.trim_start_matches("zrt_").parse().unwrap();
            Ok(TokenPairResponse {
                access_token: format!("zat_{}", n + 1),
                access_expires_at_ms: Some(self.expires),
                refresh_token: format!("zrt_{}", n + 1),
                refresh_expires_at_ms: None,
                principal: officer("officer:wang", "team-1"),
                device: StorageId::new("phone-1").unwrap(),
            })
        }
    }

    /// Records every save; fails them while `failing`.
    #[derive(Default)]
    struct Recorder {
        inner: MemoryCredentials,
        saved: Mutex<Vec<String>>,
        failing: AtomicBool,
    }

    impl CredentialStore for Recorder {
        fn load(&self) -> Option<Credentials> {
            self.inner.load()
        }
        fn save(&self, c: &Credentials) -> std::result::Result<(), String> {
            if self.failing.load(Ordering::SeqCst) {
                return Err("keystore locked".to_owned());
            }
            self.saved.lock().unwrap().push(c.refresh_token.clone());
            self.inner.save(c)
        }
    }

    fn creds(n: u32, expires: Option<u64>) -> Credentials {
        Credentials {
            access_token: format!("zat_{n}"),
            access_expires_at_ms: expires,
            refresh_token: format!("zrt_{n}"),
            refresh_expires_at_ms: None,
            device: StorageId::new("phone-1").unwrap(),
            principal: officer("officer:wang", "team-1"),
        }
    }

    fn session(server: &Arc<FakeServer>, stored: Option<Credentials>) -> (Session, Arc<Recorder>) {
        let store = Arc::new(Recorder::default());
        if let Some(c) = stored {
            store.inner.save(&c).unwrap();
        }
        let s = Session::with_refresher(Box::new(Arc::clone(server)), store.clone());
        (s, store)
    }

    #[test]
    fn a_live_token_is_used_as_is() {
        let server = FakeServer::new(10_000_000);
        let (s, store) = session(&server, Some(creds(1, Some(1_000_000))));
        assert_eq!(s.valid(0).unwrap().access_token, "zat_1");
        // No expiry at all: never refreshed.
        let (s2, _) = session(&server, Some(creds(1, None)));
        assert_eq!(s2.valid(u64::MAX).unwrap().access_token, "zat_1");
        assert_eq!(server.calls.load(Ordering::SeqCst), 0);
        assert!(store.saved.lock().unwrap().is_empty());
    }

    #[test]
    fn an_expired_token_is_refreshed_and_saved_before_use() {
        let server = FakeServer::new(10_000_000);
        let (s, store) = session(&server, Some(creds(1, Some(1_000_000))));
        // Within the margin counts as expired.
        let now = 1_000_000 - EXPIRY_MARGIN_MS;
        let c = s.valid(now).unwrap();
        assert_eq!(c.access_token, "zat_2");
        assert_eq!(*store.saved.lock().unwrap(), ["zrt_2"]);
        assert_eq!(store.load().unwrap(), c);
        // The new one is used from now on.
        assert_eq!(s.valid(now).unwrap().access_token, "zat_2");
        assert_eq!(server.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn token_expired_answers_refresh_once_and_retry() {
        let server = FakeServer::new(10_000_000);
        let (s, _) = session(&server, Some(creds(1, Some(1_000_000))));
        let mut used = Vec::new();
        let answer = s
            .with_valid(0, |c| {
                used.push(c.access_token.clone());
                if c.access_token == "zat_1" {
                    Err(ClientError::TokenExpired)
                } else {
                    Ok(42)
                }
            })
            .unwrap();
        assert_eq!(answer, 42);
        assert_eq!(used, ["zat_1", "zat_2"]);
        // Refused twice: the error comes back, with a single refresh.
        let e = s.with_valid(0, |_| Err::<(), _>(ClientError::TokenExpired));
        assert_eq!(e, Err(ClientError::TokenExpired));
        assert_eq!(server.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_pair_rotated_by_another_caller_is_not_refreshed_again() {
        let server = FakeServer::new(10_000_000);
        let (s, _) = session(&server, Some(creds(1, Some(1_000_000))));
        let refused = s.valid(0).unwrap();
        let first = s.after_expired(&refused).unwrap();
        // A second caller refused with the same old token takes the rotated pair.
        let second = s.after_expired(&refused).unwrap();
        assert_eq!(first, second);
        assert_eq!(server.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn concurrent_callers_spend_a_refresh_token_once() {
        let server = FakeServer::new(10_000_000);
        let (s, _) = session(&server, Some(creds(1, Some(0))));
        let s = Arc::new(s);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || s.valid(100).unwrap().access_token)
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), "zat_2");
        }
        assert_eq!(server.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_unsaved_pair_is_kept_and_saved_before_anything_else() {
        let server = FakeServer::new(10_000_000);
        let (s, store) = session(&server, Some(creds(1, Some(0))));
        store.failing.store(true, Ordering::SeqCst);
        assert!(matches!(
            s.valid(100),
            Err(ClientError::CredentialStore { reason }) if reason == "keystore locked"
        ));
        // Never handed out unsaved; the spent zrt_1 is not sent again.
        assert!(matches!(
            s.valid(100),
            Err(ClientError::CredentialStore { .. })
        ));
        assert_eq!(s.current().unwrap().refresh_token, "zrt_2");
        store.failing.store(false, Ordering::SeqCst);
        let c = s.valid(100).unwrap();
        assert_eq!(c.refresh_token, "zrt_2");
        assert_eq!(store.load().unwrap().refresh_token, "zrt_2");
        assert_eq!(server.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn failures_keep_the_old_pair() {
        let server = FakeServer::new(10_000_000);
        let (s, store) = session(&server, Some(creds(1, Some(0))));
        server.down.store(true, Ordering::SeqCst);
        assert!(matches!(s.valid(100), Err(ClientError::Network { .. })));
        assert_eq!(store.load().unwrap().refresh_token, "zrt_1");
        server.down.store(false, Ordering::SeqCst);
        assert_eq!(s.valid(100).unwrap().access_token, "zat_2");
        // Not enrolled.
        let (empty, _) = session(&server, None);
        assert_eq!(empty.valid(0), Err(ClientError::NotEnrolled));
    }

    #[test]
    fn debug_shows_no_secret() {
        let c = creds(7, Some(1));
        let text = format!("{c:?}");
        assert!(!text.contains("zat_7") && !text.contains("zrt_7"), "{text}");
        assert!(text.contains("phone-1"), "{text}");
    }
}
