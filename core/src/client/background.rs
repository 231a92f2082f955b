//! [`BackgroundSync`]: syncs on its own thread, again and again, so the UI never waits on the
//! network.
//!
//! After a successful sync it waits [`BackgroundConfig::interval`] or until [`nudge`]d (the
//! app nudges after a local save, so an officer's case leaves the phone as soon as there is
//! signal). After a failure it waits an exponentially growing, jittered delay ([`Backoff`]:
//! 1 s doubling to 5 min), so a county's phones coming back into coverage together do not
//! hammer the server in lockstep; nudges during a backoff are remembered but do not cut it
//! short. [`stop`] cancels a sync in progress and joins the thread.
//!
//! [`nudge`]: BackgroundSync::nudge
//! [`stop`]: BackgroundSync::stop

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, RngExt};

use crate::store::DocStore;

use super::error::ClientError;
use super::runner::{SyncClient, SyncObserver};

/// Exponential backoff with jitter: the `n`-th consecutive failure (from 1) waits a random
/// delay in `[d/2, d]` where `d = min(max, initial × 2^(n-1))` ("equal jitter": the delay
/// grows, yet phones that failed together spread out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first delay (default 1 s).
    pub initial: Duration,
    /// The largest delay (default 5 min).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The ceiling `d` of the delay after `failures` consecutive failures (0 is treated as 1).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// The delay after `failures` consecutive failures, drawn from `rng`: within
    /// `[ceiling / 2, ceiling]`.
    pub fn delay<R: Rng + ?Sized>(&self, failures: u32, rng: &mut R) -> Duration {
        let ceiling = self.ceiling(failures);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rng.random_range(0..=spread))
    }
}

/// Settings of a [`BackgroundSync`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackgroundConfig {
    /// Wait after a successful sync (default 60 s), unless nudged.
    pub interval: Duration,
    /// Waits after failures.
    pub backoff: Backoff,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        BackgroundConfig {
            interval: Duration::from_secs(60),
            backoff: Backoff::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Flags {
    nudged: bool,
    stopping: bool,
}

#[derive(Debug, Default)]
struct Shared {
    flags: Mutex<Flags>,
    wake: Condvar,
    cancel: AtomicBool,
}

impl Shared {
    fn flags(&self) -> std::sync::MutexGuard<'_, Flags> {
        self.flags.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `deadline`, a stop, or (when `nudgeable`) a nudge. Returns false when
    /// stopping.
    fn wait(&self, deadline: Instant, nudgeable: bool) -> bool {
        let mut flags = self.flags();
        loop {
            if flags.stopping {
                return false;
            }
            if nudgeable && flags.nudged {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            flags = self
                .wake
                .wait_timeout(flags, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Runs [`SyncClient::sync_cancellable`] on its own thread, repeatedly. See the
/// [module docs](self). Stops (and joins) when dropped.
#[derive(Debug)]
pub struct BackgroundSync {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundSync {
    /// Starts syncing `client` now, then as configured; `observer` sees every sync's events.
    ///
    /// # Errors
    /// [`ClientError::Network`] when the thread cannot be spawned (out of resources).
    pub fn start<S: DocStore + 'static>(
        client: Arc<SyncClient<S>>,
        observer: Arc<dyn SyncObserver>,
        config: BackgroundConfig,
    ) -> Result<Self, ClientError> {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("zhichao-sync".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&client, observer.as_ref(), &config, &shared)
            })
            .map_err(|e| ClientError::network(format!("cannot start the sync thread: {e}")))?;
        Ok(BackgroundSync {
            shared,
            thread: Some(thread),
        })
    }

    /// Asks for a sync soon: at once when waiting after a success, after the current sync
    /// when one runs, at the end of the backoff after a failure.
    pub fn nudge(&self) {
        self.shared.flags().nudged = true;
        self.shared.wake.notify_all();
    }

    /// Stops: cancels a sync in progress (within the socket's poll interval, or an HTTP
    /// timeout while a token is refreshed) and joins the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.flags().stopping = true;
        self.shared.cancel.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the sync thread panicked");
        }
    }
}

impl Drop for BackgroundSync {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run<S: DocStore>(
    client: &SyncClient<S>,
    observer: &dyn SyncObserver,
    config: &BackgroundConfig,
    shared: &Shared,
) {
    let mut failures: u32 = 0;
    let mut rng = rand::rng();
    loop {
        {
            let mut flags = shared.flags();
            if flags.stopping {
                return;
            }
            // A nudge from now on asks for another sync after this one.
            flags.nudged = false;
        }
        let (wait, nudgeable) = match client.sync_cancellable(observer, &shared.cancel) {
            Ok(report) if !report.photos_incomplete() => {
                failures = 0;
                (config.interval, true)
            }
            Err(ClientError::Cancelled) => return,
            Ok(report) => {
                // Documents synced but photos are stuck: retry them with backoff.
                failures = failures.saturating_add(1);
                let delay = config.backoff.delay(failures, &mut rng);
                tracing::debug!(
                    pending = report.photos_pending,
                    failures,
                    delay_ms = delay.as_millis() as u64,
                    "photo upload incomplete; backing off"
                );
                (delay, true)
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let delay = config.backoff.delay(failures, &mut rng);
                tracing::debug!(error = %e, failures, delay_ms = delay.as_millis() as u64, "sync failed; backing off");
                (delay, false)
            }
        };
        if !shared.wait(Instant::now() + wait, nudgeable) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let b = Backoff::default();
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(2), Duration::from_secs(2));
        assert_eq!(b.ceiling(9), Duration::from_secs(256));
        assert_eq!(b.ceiling(10), Duration::from_secs(300));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(300));
        let mut previous_floor = Duration::ZERO;
        for failures in 1..=40 {
            let ceiling = b.ceiling(failures);
            assert!(ceiling / 2 >= previous_floor, "floors never shrink");
            previous_floor = ceiling / 2;
            for _ in 0..50 {
                let d = b.delay(failures, &mut rng);
                assert!(d >= ceiling / 2 && d <= ceiling, "{failures}: {d:?}");
                assert!(d <= b.max);
            }
        }
        // Jitter: delays after the same failure count differ.
        let draws: std::collections::BTreeSet<_> = (0..20).map(|_| b.delay(8, &mut rng)).collect();
        assert!(draws.len() > 10, "{draws:?}");
    }

    #[test]
    fn failures_back_off_and_stop_is_prompt() {
        use std::sync::atomic::AtomicU32;

        use crate::client::{MemoryCredentials, SyncConfig, SyncEvent};
        use crate::field::FieldStore;
        use crate::store::MemoryStore;

        #[derive(Default)]
        struct Failures(AtomicU32);
        impl SyncObserver for Failures {
            fn on_event(&self, e: &SyncEvent) {
                if let SyncEvent::Failed(ClientError::NotEnrolled) = e {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let client = Arc::new(
            SyncClient::new(
                Arc::new(FieldStore::new(MemoryStore::new())),
                "http://127.0.0.1:1",
                Arc::new(MemoryCredentials::new()),
                SyncConfig::default(),
            )
            .unwrap(),
        );
        let observer = Arc::new(Failures::default());
        let background = BackgroundSync::start(
            client,
            observer.clone(),
            BackgroundConfig {
                interval: Duration::from_secs(3600),
                backoff: Backoff {
                    initial: Duration::from_millis(5),
                    max: Duration::from_millis(20),
                },
            },
        )
        .unwrap();
        let t0 = Instant::now();
        while observer.0.load(Ordering::SeqCst) < 3 {
            assert!(t0.elapsed() < Duration::from_secs(10), "no retries");
            std::thread::sleep(Duration::from_millis(5));
        }
        background.nudge();
        let t0 = Instant::now();
        background.stop();
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn waits_end_on_deadline_nudge_or_stop() {
        let shared = Arc::new(Shared::default());
        let t0 = Instant::now();
        assert!(shared.wait(t0 + Duration::from_millis(30), true));
        assert!(t0.elapsed() >= Duration::from_millis(30));

        shared.flags().nudged = true;
        let t0 = Instant::now();
        assert!(
            shared.wait(t0 + Duration::from_secs(60), true),
            "a nudge ends the wait"
        );
        assert!(t0.elapsed() < Duration::from_secs(5));
        // During a backoff a nudge does not end the wait.
        let t0 = Instant::now();
        assert!(shared.wait(t0 + Duration::from_millis(30), false));
        assert!(t0.elapsed() >= Duration::from_millis(30));

        let stopper = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                shared.flags().stopping = true;
                shared.wake.notify_all();
            })
        };
        let t0 = Instant::now();
        assert!(!shared.wait(t0 + Duration::from_secs(60), false));
        assert!(t0.elapsed() < Duration::from_secs(5));
        stopper.join().unwrap();
    }
}
