//! Sync for the host: a one-shot "sync now" with its result, a background sync on an interval
//! (nudged after every local change), and an observer (implemented by the app) that sees
//! progress and state changes.
//!
//! All network work happens on threads of this library (core's `client` feature does the
//! I/O); the exported calls that wait for it are `suspend`/`async`, so nothing blocks the
//! caller's UI thread. Network failures come back as [`ApiError::Network`] values and as
//! [`SyncEvent::Failed`]; the work stays on the phone for the next sync.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use zhichao_core::client::{
    self, BackgroundConfig, BackgroundSync, ClientError, SyncObserver as CoreObserver, SyncReport,
};
use zhichao_core::store::DocStore;

use crate::error::{ApiError, Result};
use crate::store::{FieldStore, Inner};

/// Where sync stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SyncState {
    /// No background sync; nothing running.
    Stopped,
    /// Background sync on, waiting for the next interval or change.
    Idle,
    /// A sync is running.
    Syncing,
    /// The last sync failed (no signal, server down); background sync retries with backoff.
    Offline,
}

/// What kind of failure ended a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SyncFailureKind {
    /// No network, timeout, server failing: retried later by itself.
    Network,
    /// The device must be enrolled again (revoked, expired).
    Unauthorized,
    /// The phone's storage or secret store failed.
    Storage,
    /// Anything else (an incompatible server …).
    Other,
}

/// A document the server refused, with its reason; it is not sent again.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RejectedDocument {
    /// The document.
    pub doc_id: String,
    /// The server's reason.
    pub reason: String,
}

/// A photo whose upload failed in this sync (it stays queued).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PhotoFailure {
    /// The blob.
    pub sha256: String,
    /// Why.
    pub reason: String,
}

/// The outcome of one sync.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncResult {
    /// Documents sent to the server and confirmed.
    pub pushed: u64,
    /// Documents received or updated from the server.
    pub pulled: u64,
    /// Documents the server refused, with the reason.
    pub rejected: Vec<RejectedDocument>,
    /// Photo blobs uploaded.
    pub photos_uploaded: u64,
    /// Photo blobs still waiting.
    pub photos_pending: u64,
    /// Photo bytes sent.
    pub photo_bytes_sent: u64,
    /// Photo uploads that failed (they stay queued).
    pub photo_failures: Vec<PhotoFailure>,
    /// Documents still waiting to be sent after this sync.
    pub documents_pending: u64,
    /// Bytes sent on the sync connection.
    pub bytes_sent: u64,
    /// Bytes received on the sync connection.
    pub bytes_received: u64,
    /// WebSocket messages sent.
    pub messages_sent: u64,
    /// WebSocket messages received.
    pub messages_received: u64,
    /// Wall time, milliseconds.
    pub duration_ms: u64,
}

impl SyncResult {
    fn from_core(r: &SyncReport, documents_pending: u64) -> Self {
        SyncResult {
            pushed: r.pushed,
            pulled: r.pulled,
            rejected: r
                .rejected
                .iter()
                .map(|(doc, reason)| RejectedDocument {
                    doc_id: doc.to_string(),
                    reason: reason.clone(),
                })
                .collect(),
            photos_uploaded: r.photos_uploaded,
            photos_pending: r.photos_pending,
            photo_bytes_sent: r.photo_bytes_sent,
            photo_failures: r
                .photo_failures
                .iter()
                .map(|(sha, reason)| PhotoFailure {
                    sha256: sha.to_string(),
                    reason: reason.clone(),
                })
                .collect(),
            documents_pending,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            messages_sent: r.frames_sent,
            messages_received: r.frames_received,
            duration_ms: r.duration_ms,
        }
    }
}

/// Something that happened during sync.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SyncEvent {
    /// The sync state changed.
    StateChanged {
        /// The new state.
        state: SyncState,
    },
    /// Connecting to the server.
    Connecting,
    /// Connected; the server will announce this many documents, when it says.
    Connected {
        /// Documents announced.
        announced: Option<u64>,
    },
    /// Documents pushed and pulled so far.
    Progress {
        /// Pushed and confirmed.
        pushed: u64,
        /// Still to push.
        pushes_left: u64,
        /// Received.
        pulled: u64,
    },
    /// The server refused a document.
    Rejected {
        /// The document.
        doc_id: String,
        /// The server's reason.
        reason: String,
    },
    /// A photo blob is uploading.
    Photo {
        /// The blob.
        sha256: String,
        /// Bytes the server holds.
        offset: u64,
        /// Its size.
        total: u64,
        /// Blobs done in this sync.
        done: u64,
        /// Blobs in this sync.
        of: u64,
    },
    /// The sync finished.
    Done {
        /// Its outcome.
        result: SyncResult,
    },
    /// The sync failed; the work stays on the phone.
    Failed {
        /// What kind of failure.
        kind: SyncFailureKind,
        /// Why (no personal data).
        reason: String,
    },
}

/// Receives sync events (implemented by the app). Called on the library's sync threads:
/// hand the event to the UI thread yourself.
#[uniffi::export(with_foreign)]
pub trait SyncObserver: Send + Sync {
    /// One event.
    ///
    /// # Errors
    /// Whatever the app's code throws is caught and logged; sync goes on. (Declared fallible
    /// so that an exception in the app's observer becomes a value here, never a panic inside
    /// a sync.)
    fn on_event(&self, event: SyncEvent) -> Result<()>;
}

/// The app's observer, shared with the thread that calls it.
type HostObserver = Arc<RwLock<Option<Arc<dyn SyncObserver>>>>;

/// Forwards core's events to the host's observer and keeps the state.
///
/// The observer is called on a thread of its own (`zhichao-sync-events`), in order, never on
/// a sync thread: the app may call back into the store from `on_event` (stop the background
/// sync, sync again, read the state) without waiting on the sync that is reporting.
struct Hub {
    inner: Arc<Inner>,
    host: HostObserver,
    events: Mutex<std::sync::mpsc::Sender<SyncEvent>>,
    state: Mutex<SyncState>,
    background: Mutex<bool>,
}

impl Hub {
    fn emit(&self, event: SyncEvent) {
        // Fails only when the events thread is gone (the store is closing).
        let _ = self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(event);
    }

    /// The error to report for a failed sync: a secret store that could not be read is a
    /// storage failure (a locked Keystore), not "enroll again".
    fn api_error(&self, e: ClientError) -> ApiError {
        inner_error(&self.inner, e)
    }

    fn set_state(&self, state: SyncState) {
        let changed = {
            let mut current = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *current, state) != state
        };
        if changed {
            self.emit(SyncEvent::StateChanged { state });
        }
    }

    fn background(&self) -> bool {
        *self
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn pending_documents(&self) -> u64 {
        self.inner
            .docs
            .store()
            .pending()
            .map_or(0, |p| p.len() as u64)
    }
}

/// The error to report for a failed network call: a secret store that could not be read is a
/// storage failure (a locked Keystore), not "enroll again".
fn inner_error(inner: &Inner, e: ClientError) -> ApiError {
    match ApiError::from(e) {
        ApiError::Unauthorized => match inner.host.take_load_failure() {
            Some(reason) => ApiError::Storage { reason },
            None => ApiError::Unauthorized,
        },
        other => other,
    }
}

fn failure_kind(e: &ApiError) -> SyncFailureKind {
    match e {
        ApiError::Network { .. } => SyncFailureKind::Network,
        ApiError::Unauthorized => SyncFailureKind::Unauthorized,
        ApiError::Storage { .. } => SyncFailureKind::Storage,
        _ => SyncFailureKind::Other,
    }
}

impl CoreObserver for Hub {
    fn on_event(&self, event: &client::SyncEvent) {
        use client::SyncEvent as E;
        let mapped = match event {
            E::Connecting => {
                self.set_state(SyncState::Syncing);
                SyncEvent::Connecting
            }
            E::Connected { announced } => SyncEvent::Connected {
                announced: *announced,
            },
            E::Progress {
                pushed,
                pushes_left,
                pulled,
            } => SyncEvent::Progress {
                pushed: *pushed,
                pushes_left: *pushes_left,
                pulled: *pulled,
            },
            E::Rejected { doc, reason } => SyncEvent::Rejected {
                doc_id: doc.to_string(),
                reason: reason.clone(),
            },
            E::Photo(p) => SyncEvent::Photo {
                sha256: p.sha256.to_string(),
                offset: p.offset,
                total: p.total,
                done: p.done,
                of: p.of,
            },
            E::Done(report) => {
                // Before the app hears of it, so what it reads after `Done` is pruned.
                self.inner.prune_watchlists();
                let result = SyncResult::from_core(report, self.pending_documents());
                self.emit(SyncEvent::Done { result });
                self.set_state(if self.background() {
                    SyncState::Idle
                } else {
                    SyncState::Stopped
                });
                return;
            }
            // Cancelled: a one-shot sync paused the background sync, or it is stopping;
            // nothing failed.
            E::Failed(ClientError::Cancelled) => {
                self.set_state(if self.background() {
                    SyncState::Idle
                } else {
                    SyncState::Stopped
                });
                return;
            }
            E::Failed(e) => {
                let error = self.api_error(e.clone());
                self.emit(SyncEvent::Failed {
                    kind: failure_kind(&error),
                    reason: error.to_string(),
                });
                self.set_state(if self.background() {
                    SyncState::Offline
                } else {
                    SyncState::Stopped
                });
                return;
            }
            _ => return,
        };
        self.emit(mapped);
    }
}

/// The sync side of a [`FieldStore`].
pub(crate) struct SyncControl {
    hub: Arc<Hub>,
    running: Mutex<Option<BackgroundSync>>,
    /// The background interval while background sync is on (also while a one-shot sync
    /// pauses it).
    interval: Mutex<Option<Duration>>,
    /// Held by a one-shot sync for its whole run: one at a time.
    one_shot: Arc<Mutex<()>>,
}

impl SyncControl {
    /// The sync side of a store, with the thread that calls the app's observer.
    ///
    /// # Errors
    /// [`ApiError::Internal`] when the thread cannot be started (out of resources).
    pub(crate) fn new(inner: Arc<Inner>) -> Result<Self> {
        let host: HostObserver = Arc::new(RwLock::new(None));
        let (events, received) = std::sync::mpsc::channel::<SyncEvent>();
        let observer = Arc::clone(&host);
        std::thread::Builder::new()
            .name("zhichao-sync-events".to_owned())
            .spawn(move || {
                // Ends when the store (the only sender) is dropped.
                for event in received {
                    let current = observer
                        .read()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    if let Some(current) = current
                        && let Err(e) = current.on_event(event)
                    {
                        tracing::warn!(error = %e, "the app's sync observer failed");
                    }
                }
            })
            .map_err(|e| ApiError::internal(format!("cannot start the sync events thread: {e}")))?;
        Ok(SyncControl {
            hub: Arc::new(Hub {
                inner,
                host,
                events: Mutex::new(events),
                state: Mutex::new(SyncState::Stopped),
                background: Mutex::new(false),
            }),
            running: Mutex::new(None),
            interval: Mutex::new(None),
            one_shot: Arc::new(Mutex::new(())),
        })
    }

    /// Asks the background sync (if on) to sync soon: after a local change.
    pub(crate) fn nudge(&self) {
        if let Some(bg) = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            bg.nudge();
        }
    }

    fn start(&self, interval: Duration) -> Result<()> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = running.take() {
            // The old sync may be waiting on the network (an HTTP timeout): it is cancelled
            // and joined on a thread of its own, never on the caller's.
            stop_detached(old);
        }
        *self
            .hub
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        let bg = BackgroundSync::start(
            Arc::clone(&self.hub.inner.client),
            Arc::clone(&self.hub) as Arc<dyn CoreObserver>,
            BackgroundConfig {
                interval,
                ..BackgroundConfig::default()
            },
        )?;
        *running = Some(bg);
        Ok(())
    }

    /// True while a background sync runs.
    #[cfg(test)]
    pub(crate) fn is_running(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// The interval of the background sync, while it is on.
    fn interval(&self) -> Option<Duration> {
        *self.interval.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops a background sync on a thread of its own: stopping waits for a sync in progress to
/// notice (up to an HTTP timeout), never on the app's thread.
fn stop_detached(bg: BackgroundSync) {
    if let Err(e) = std::thread::Builder::new()
        .name("zhichao-sync-stop".to_owned())
        .spawn(move || bg.stop())
    {
        tracing::warn!(error = %e, "cannot stop the background sync on its own thread");
    }
}

impl Drop for SyncControl {
    fn drop(&mut self) {
        if let Some(bg) = self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            stop_detached(bg);
        }
    }
}

/// Resumes the background sync a one-shot sync paused, however the one-shot sync ends:
/// finished, failed, or cancelled by the app (its coroutine or task dropped mid-way).
struct ResumeAfter<'a> {
    control: &'a SyncControl,
}

impl Drop for ResumeAfter<'_> {
    fn drop(&mut self) {
        // Unless `stop_sync` was called meanwhile, or another call resumed it already.
        let Some(interval) = self.control.interval() else {
            return;
        };
        let idle = self
            .control
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none();
        if idle && let Err(e) = self.control.start(interval) {
            tracing::error!(error = %e, "cannot resume the background sync");
        }
    }
}

/// Shortest background interval accepted, seconds.
pub const MIN_INTERVAL_SECS: u32 = 5;

#[uniffi::export]
impl FieldStore {
    /// Syncs once now: pushes what this phone changed, receives what the server has for this
    /// account (new notices, reviews, the county's rules in force), then uploads queued
    /// photos. Runs on a background thread. While the background sync is on, it is paused for
    /// this sync and resumed after.
    ///
    /// # Errors
    /// [`ApiError::Network`] when the server cannot be reached or the connection drops (the
    /// work stays on the phone); [`ApiError::Unauthorized`] when the device must be enrolled
    /// again; [`ApiError::Storage`].
    pub async fn sync_now(&self) -> Result<SyncResult> {
        let paused = self
            .sync
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let _resume = paused.is_some().then_some(ResumeAfter {
            control: &self.sync,
        });
        if let Some(bg) = paused {
            // Joining may wait for a sync in progress to cancel: off the caller's thread.
            blocking::unblock(move || bg.stop()).await;
        }
        let hub = Arc::clone(&self.sync.hub);
        let lock = Arc::clone(&self.sync.one_shot);
        blocking::unblock(move || {
            let _one = lock.lock().unwrap_or_else(PoisonError::into_inner);
            match hub.inner.client.sync_now(hub.as_ref()) {
                Ok(report) => Ok(SyncResult::from_core(&report, hub.pending_documents())),
                Err(e) => Err(hub.api_error(e)),
            }
        })
        .await
    }

    /// Starts syncing in the background: now, then every `interval_secs` (at least
    /// [`MIN_INTERVAL_SECS`]), soon after every local change, and with growing pauses after
    /// failures (no signal). Replaces a background sync already on.
    ///
    /// # Errors
    /// [`ApiError::Network`] when the sync thread cannot be started.
    pub fn start_sync(&self, interval_secs: u32) -> Result<()> {
        let secs = interval_secs.max(MIN_INTERVAL_SECS);
        *self
            .sync
            .interval
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Duration::from_secs(secs.into()));
        self.sync.start(Duration::from_secs(secs.into()))
    }

    /// Stops the background sync, cancelling a sync in progress; returns once it stopped
    /// (a background wait). Work stays on the phone.
    pub async fn stop_sync(&self) {
        *self
            .sync
            .interval
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        let bg = self
            .sync
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        *self
            .sync
            .hub
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = false;
        blocking::unblock(move || {
            if let Some(bg) = bg {
                bg.stop();
            }
        })
        .await;
        self.sync.hub.set_state(SyncState::Stopped);
    }

    /// Signs this device out: stops the background sync and removes the credentials from the
    /// host's secret store. The documents and photos stay in the directory (work not yet
    /// synced is kept); the device must be enrolled again to sync, and this store cannot sync
    /// any more.
    ///
    /// # Errors
    /// [`ApiError::Storage`] when the secret store cannot remove the secret.
    pub async fn sign_out(&self) -> Result<()> {
        // Signed out at once, even if the secret store fails to clear: nothing is read or
        // saved through it from now on.
        let cleared = self.sync.hub.inner.host.sign_out();
        self.stop_sync().await;
        tracing::info!("signed out");
        cleared
    }

    /// Downloads a photo blob this phone does not hold — a teammate's photo, a notice's
    /// evidence copy or thumbnail, an enterprise's response photo — verified against its
    /// SHA-256, and returns its file on this phone (read-only) for display. Nothing is
    /// downloaded when it is here already. Runs on a background thread.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a malformed hash; [`ApiError::NotFound`] when the server
    /// does not hold it (not uploaded yet by the phone that took it) or will not show it to
    /// this account (an original to an enterprise); [`ApiError::Network`];
    /// [`ApiError::Unauthorized`]; [`ApiError::Storage`].
    pub async fn fetch_photo(&self, sha256: String) -> Result<String> {
        let sha = crate::records::parse_sha(&sha256)?;
        let inner = Arc::clone(&self.sync.hub.inner);
        blocking::unblock(move || {
            let api = client::ServerApi::new(inner.client.url().clone());
            match client::fetch_photo(&api, inner.client.session(), &inner.photos, &sha) {
                Ok(()) => {}
                // Not (yet) on the server, or not shown to this account.
                Err(ClientError::Server { status: 404, .. }) => return Err(ApiError::NotFound),
                Err(e) => return Err(inner_error(&inner, e)),
            }
            inner
                .photos
                .local_path(&sha)
                .map(|p| p.to_string_lossy().into_owned())
                .ok_or_else(|| ApiError::internal("a fetched photo is not on the phone"))
        })
        .await
    }

    /// Where sync stands now.
    pub fn sync_state(&self) -> SyncState {
        *self
            .sync
            .hub
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets (or with `None` removes) the observer of sync events and state changes.
    pub fn set_sync_observer(&self, observer: Option<Arc<dyn SyncObserver>>) {
        *self
            .sync
            .hub
            .host
            .write()
            .unwrap_or_else(PoisonError::into_inner) = observer;
    }
}
