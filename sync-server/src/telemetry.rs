//! Logging: `tracing` events to standard error, as text or JSON lines.
//!
//! Standard output is left to the command's results (`zhichao serve` prints its bound address
//! there on the first line). Fields never include tokens, query strings or request bodies.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogConfig, LogFormat};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The filter does not parse.
    #[error("log filter: {0}")]
    Filter(String),
    /// A global subscriber is already installed (e.g. by a test harness).
    #[error("a log subscriber is already installed")]
    AlreadyInstalled,
}

/// Installs the global subscriber for `config`.
///
/// # Errors
/// [`TelemetryError`]; callers may ignore [`TelemetryError::AlreadyInstalled`].
pub fn init(config: &LogConfig) -> Result<(), TelemetryError> {
    let filter: Targets =
        config
            .filter
            .parse()
            .map_err(|e: tracing_subscriber::filter::ParseError| {
                TelemetryError::Filter(e.to_string())
            })?;
    // Colour only on a terminal: logs redirected to files or journald stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(true);
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.format {
        LogFormat::Text => registry.with(layer).try_init(),
        LogFormat::Json => registry.with(layer.json()).try_init(),
    };
    result.map_err(|_| TelemetryError::AlreadyInstalled)
}
