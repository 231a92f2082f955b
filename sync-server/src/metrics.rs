//! [`Metrics`]: counters of the server, served as Prometheus text at `/metrics`.
//!
//! Plain atomics, no registry: the handful of numbers an operator watches (connections, docs
//! synced, bytes, refusals, failed authentications, photo blobs) cost one relaxed add each on the hot path.
//! The sync route increments them through the `record_*` methods and holds a
//! [`ConnectionGuard`] per connection so the gauge of open connections never drifts, whatever
//! way a connection ends.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The server's counters. Shared as `Arc<Metrics>` in [`crate::AppState`].
#[derive(Debug, Default)]
pub struct Metrics {
    connections_total: AtomicU64,
    connections_open: AtomicU64,
    docs_synced: AtomicU64,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
    refusals: AtomicU64,
    auth_failures: AtomicU64,
    tickets_issued: AtomicU64,
    blobs_stored: AtomicU64,
    blob_bytes_received: AtomicU64,
    blobs_rejected: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Sync connections accepted since start.
    pub connections_total: u64,
    /// Sync connections open now.
    pub connections_open: u64,
    /// Document sync exchanges completed (a document brought up to date with a peer).
    pub docs_synced: u64,
    /// Sync payload bytes received.
    pub bytes_received: u64,
    /// Sync payload bytes sent.
    pub bytes_sent: u64,
    /// Changes or requests refused for lack of rights.
    pub refusals: u64,
    /// Requests refused for missing, invalid, expired or revoked credentials.
    pub auth_failures: u64,
    /// WebSocket tickets issued.
    pub tickets_issued: u64,
    /// Photo blobs completed and verified.
    pub blobs_stored: u64,
    /// Photo blob chunk bytes stored (before verification).
    pub blob_bytes_received: u64,
    /// Photo blob uploads refused (bad range, out of order, too large, hash mismatch).
    pub blobs_rejected: u64,
}

/// Counts one open connection; dropping it closes the count.
#[derive(Debug)]
#[must_use = "the connection counts as open only while the guard lives"]
pub struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// A sync connection was accepted: counts it and returns the guard that keeps it open in
    /// the `connections_open` gauge until dropped.
    pub fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(Arc::clone(self))
    }

    /// A document finished syncing with a peer.
    pub fn record_doc_synced(&self) {
        self.docs_synced.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` bytes arrived on a sync connection.
    pub fn record_bytes_received(&self, n: usize) {
        self.bytes_received.fetch_add(as_u64(n), Ordering::Relaxed);
    }

    /// `n` bytes were sent on a sync connection.
    pub fn record_bytes_sent(&self, n: usize) {
        self.bytes_sent.fetch_add(as_u64(n), Ordering::Relaxed);
    }

    /// A change or request was refused for lack of rights.
    pub fn record_refusal(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was refused for its credentials.
    pub fn record_auth_failure(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A WebSocket ticket was issued.
    pub fn record_ticket_issued(&self) {
        self.tickets_issued.fetch_add(1, Ordering::Relaxed);
    }

    /// A photo blob was completed and its hash verified.
    pub fn record_blob_stored(&self) {
        self.blobs_stored.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` bytes of a photo blob upload were stored.
    pub fn record_blob_bytes_received(&self, n: u64) {
        self.blob_bytes_received.fetch_add(n, Ordering::Relaxed);
    }

    /// A photo blob upload was refused.
    pub fn record_blob_rejected(&self) {
        self.blobs_rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            connections_total: get(&self.connections_total),
            connections_open: get(&self.connections_open),
            docs_synced: get(&self.docs_synced),
            bytes_received: get(&self.bytes_received),
            bytes_sent: get(&self.bytes_sent),
            refusals: get(&self.refusals),
            auth_failures: get(&self.auth_failures),
            tickets_issued: get(&self.tickets_issued),
            blobs_stored: get(&self.blobs_stored),
            blob_bytes_received: get(&self.blob_bytes_received),
            blobs_rejected: get(&self.blobs_rejected),
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let s = self.snapshot();
        let rows: [(&str, &str, &str, u64); 11] = [
            (
                "zhichao_sync_connections_total",
                "counter",
                "Sync connections accepted.",
                s.connections_total,
            ),
            (
                "zhichao_sync_connections_open",
                "gauge",
                "Sync connections open now.",
                s.connections_open,
            ),
            (
                "zhichao_docs_synced_total",
                "counter",
                "Documents brought up to date with a peer.",
                s.docs_synced,
            ),
            (
                "zhichao_sync_received_bytes_total",
                "counter",
                "Sync message bytes received.",
                s.bytes_received,
            ),
            (
                "zhichao_sync_sent_bytes_total",
                "counter",
                "Sync message bytes sent.",
                s.bytes_sent,
            ),
            (
                "zhichao_refusals_total",
                "counter",
                "Changes or requests refused for lack of rights.",
                s.refusals,
            ),
            (
                "zhichao_auth_failures_total",
                "counter",
                "Requests refused for missing, invalid, expired or revoked credentials.",
                s.auth_failures,
            ),
            (
                "zhichao_tickets_issued_total",
                "counter",
                "WebSocket tickets issued.",
                s.tickets_issued,
            ),
            (
                "zhichao_blobs_stored_total",
                "counter",
                "Photo blobs completed and verified.",
                s.blobs_stored,
            ),
            (
                "zhichao_blob_received_bytes_total",
                "counter",
                "Photo blob chunk bytes stored.",
                s.blob_bytes_received,
            ),
            (
                "zhichao_blobs_rejected_total",
                "counter",
                "Photo blob uploads refused.",
                s.blobs_rejected,
            ),
        ];
        let mut out = String::with_capacity(1024);
        for (name, kind, help, value) in rows {
            // Writing to a String cannot fail.
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        }
        out
    }
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_closes_the_gauge() {
        let m = Arc::new(Metrics::default());
        let a = m.connection();
        let b = m.connection();
        assert_eq!(m.snapshot().connections_open, 2);
        drop(a);
        assert_eq!(m.snapshot().connections_open, 1);
        drop(b);
        let s = m.snapshot();
        assert_eq!((s.connections_total, s.connections_open), (2, 0));
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.record_bytes_received(10);
        m.record_bytes_sent(7);
        m.record_doc_synced();
        m.record_refusal();
        m.record_refusal();
        let text = m.render();
        assert!(text.contains("# TYPE zhichao_refusals_total counter\nzhichao_refusals_total 2\n"));
        assert!(text.contains("\nzhichao_sync_received_bytes_total 10\n"));
        assert!(text.contains("\nzhichao_sync_connections_open 0\n"));
        for line in text.lines() {
            assert!(
                line.starts_with('#') || line.split(' ').count() == 2,
                "{line}"
            );
        }
    }
}
