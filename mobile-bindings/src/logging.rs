//! Forwards the library's `tracing` events to the host's log (Logcat, `os_log`) through a
//! foreign-implemented [`LogSink`].
//!
//! One global subscriber is installed on the first [`set_log_sink`]; later calls replace the
//! sink and the level. Events raised while the sink runs on the same thread (the host calling
//! back into the library from its logger) are dropped rather than recursing.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Severity of a log record, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something is wrong but work goes on (a sync failed and will be retried …).
    Warn,
    /// Milestones (a sync done, a device enrolled).
    Info,
    /// Details for developers.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    fn of(level: &Level) -> Self {
        match *level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Trace,
        }
    }
}

/// One log event.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// The module that logged, e.g. `zhichao_core::client::runner` (a Logcat tag).
    pub target: String,
    /// The message.
    pub message: String,
    /// The event's fields as `key=value` pairs separated by spaces, e.g. `pushed=3 pulled=1`.
    pub fields: String,
}

/// Receives the library's log events (implemented by the app). Called from any thread; keep
/// it quick and never block on the UI thread.
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    /// One event at or above the level given to [`set_log_sink`].
    ///
    /// # Errors
    /// Whatever the app's code throws is dropped with the record. (Declared fallible so that
    /// an exception in the app's logger becomes a value here, never a panic in the middle of
    /// the library's work.)
    fn log(&self, record: LogRecord) -> crate::error::Result<()>;
}

struct Forwarding {
    sink: Arc<dyn LogSink>,
    max: LogLevel,
}

fn current() -> &'static RwLock<Option<Forwarding>> {
    static CURRENT: OnceLock<RwLock<Option<Forwarding>>> = OnceLock::new();
    CURRENT.get_or_init(|| RwLock::new(None))
}

thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Sends this library's log events at `max_level` and above to `sink`, replacing any earlier
/// sink. The first call installs the library's global `tracing` subscriber; if the process
/// already has another one (a host embedding several Rust libraries), that one stays and a
/// warning is logged to it.
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, max_level: LogLevel) {
    *current().write().unwrap_or_else(PoisonError::into_inner) = Some(Forwarding {
        sink,
        max: max_level,
    });
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if tracing_subscriber::registry()
            .with(ToSink)
            .try_init()
            .is_err()
        {
            tracing::warn!(
                "a tracing subscriber was already installed; the log sink receives nothing"
            );
        }
    });
}

/// Stops forwarding log events (the subscriber stays installed and drops them).
#[uniffi::export]
pub fn clear_log_sink() {
    *current().write().unwrap_or_else(PoisonError::into_inner) = None;
}

struct ToSink;

impl<S: Subscriber> Layer<S> for ToSink {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = LogLevel::of(event.metadata().level());
        let guard = current().read().unwrap_or_else(PoisonError::into_inner);
        let Some(forwarding) = guard.as_ref() else {
            return;
        };
        if level > forwarding.max || IN_SINK.with(Cell::get) {
            return;
        }
        let mut visitor = Fields::default();
        event.record(&mut visitor);
        let record = LogRecord {
            level,
            target: event.metadata().target().to_owned(),
            message: visitor.message,
            fields: visitor.fields,
        };
        let sink = Arc::clone(&forwarding.sink);
        drop(guard);
        IN_SINK.with(|f| f.set(true));
        // A failing sink loses this record; reporting it would go through the same sink.
        let _ = sink.log(record);
        IN_SINK.with(|f| f.set(false));
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.push(field, format_args!("{value}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.push(field, format_args!("{value:?}"));
        }
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{}={value}", field.name());
    }
}
