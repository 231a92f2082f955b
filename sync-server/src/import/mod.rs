//! `zhichao import-weighings`: a weighbridge program's CSV export into the county platform,
//! through the HTTP API (`POST /v1/weighings`) with the unit's source-unit-system token.
//!
//! Source units that cannot yet upload in real time (REFERENCE.md §3) still keep every weighing
//! in their weighbridge software, which exports CSV: Chinese headers (车号, 毛重, 皮重, 净重,
//! 过磅时间 …), masses in tonnes with decimals or in kilograms, GBK on Chinese Windows or UTF-8.
//! This module reads such a file ([`parse::parse`], pure: bytes and a [`Mapping`] in, records
//! with line numbers, rejected lines with reasons and what was detected out), sends the records
//! in batches of [`upload::BATCH_RECORDS`] ([`upload::upload`], with a progress bar on standard
//! error), and prints a summary on standard output ([`upload::write_summary`]).
//!
//! How a file is read:
//! - **Encoding**: a UTF-8 byte-order mark or valid UTF-8 is UTF-8, anything else is read as
//!   GB18030 (a superset of GBK and GB2312). A file that still does not decode is refused with
//!   the byte offset and line of the first bad byte; nothing is sent.
//! - **Header**: the first line (of the first [`parse::MAX_TITLE_LINES`]) naming a plate
//!   column; lines above it (a title such as `过磅记录表`) are skipped. Headers are compared
//!   without spaces and ASCII case, and `毛重(吨)` matches `毛重`.
//! - **Columns**: the built-in names ([`mapping::Field::default_headers`]) or a mapping file.
//!   Required: plate, gross, weighed_at, and axles unless the mapping has `default_axles`.
//! - **Masses**: `t` (up to three decimals, read as text so `52.30` is exactly 52 300 kg), `kg`
//!   (whole kilograms), or `auto`: a unit in the gross header (`毛重(吨)`, `毛重(kg)`) decides,
//!   else tonnes when any gross value has a decimal point or every one is below 1000, else
//!   kilograms. The summary says which and why.
//! - **Times**: China Standard Time, `2026-11-29 08:15:30`, `2026/11/29 8:15`,
//!   `2026-11-29T08:15:30`, `2026年11月29日 08:15` … ([`mapping::DEFAULT_TIME_FORMATS`]), the
//!   mapping file's formats first; RFC 3339 with an offset as written.
//! - **Result**: without a result column, or with an empty cell, a line is **passed** (放行):
//!   the truck left. Words are mapped by [`mapping::DEFAULT_RESULT_VALUES`] and the mapping
//!   file's `[result_values]`; an unknown word rejects the line.
//! - **Record id**: the id column, or when there is none (or the cell is empty) an id derived
//!   from plate, weighing time and gross ([`parse::derived_record_id`]), so importing the same
//!   file twice is answered with duplicates, never stored twice.
//! - **Checks**: each record passes [`WeighingRecord::check`] locally (the server's own checks)
//!   before it is sent. A line that fails — a bad mass or time, a missing plate, too many
//!   fields, a record id reused with other content — is rejected with its line number and
//!   reason and not sent; a line repeating an earlier one exactly is counted as a duplicate.
//!   The server's `invalid` and `conflict` answers are reported by line too.
//!
//! A mapping file (TOML) lays over the built-in mapping; unknown keys are errors. Example:
//!
//! ```toml
#![doc = include_str!("example-mapping.toml")]
//! ```
//!
//! Exit codes: 0 when every line was imported or already there; 1 when some lines were
//! rejected or in conflict (the others are imported); 2 for usage errors, an unreadable file or
//! mapping, a refused token, or a network or server failure. When the upload stops midway (a
//! batch failed twice on the network, or the server refused it), the summary says what was
//! imported so far; running the same command again is safe, as the uploads are idempotent.
//!
//! [`WeighingRecord::check`]: zhichao_core::weighing::WeighingRecord::check

use std::io::{IsTerminal as _, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use zhichao_core::access::Principal;
use zhichao_core::uscc::Uscc;

pub mod mapping;
pub mod parse;
pub mod upload;

#[cfg(test)]
mod tests;

pub use mapping::{Field, Mapping, MappingError, MassUnitSetting};
pub use parse::{FileError, Parsed, ParsedLine, Rejection, TextEncoding, parse};

use crate::client::{ClientError, UnitClient};

/// The example mapping file shown in `--help` and the module docs.
pub const EXAMPLE_MAPPING: &str = include_str!("example-mapping.toml");

/// What to import, from the command line.
#[derive(Debug)]
pub struct ImportOptions {
    /// The server's base URL, `http://HOST:PORT`.
    pub server: String,
    /// The CSV file.
    pub file: PathBuf,
    /// The unit whose weighings these are (its token's unit).
    pub unit: Uscc,
    /// A mapping file, if any.
    pub mapping: Option<PathBuf>,
    /// The unit's source-unit-system access token.
    pub token: String,
    /// No progress bar.
    pub quiet: bool,
    /// Now, UTC ms: the records are checked against it (times at most a day ahead).
    pub now_ms: i64,
}

/// How an import that ran to the end went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Every line was imported or was already there.
    Complete,
    /// Some lines were rejected (locally or by the server) or in conflict; the others were
    /// imported.
    SomeRejected,
}

/// Why an import failed as a whole (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The mapping file is unusable.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The CSV file cannot be imported at all.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: FileError,
    },
    /// The server URL is unusable.
    #[error(transparent)]
    Url(ClientError),
    /// The token is another unit's: nothing was sent.
    #[error(
        "the token is unit {token}'s, not {given}'s: nothing was sent; give unit {given}'s \
         source-unit-system token, or --unit {token}"
    )]
    WrongUnit {
        /// The token's unit.
        token: Uscc,
        /// `--unit`.
        given: Uscc,
    },
    /// The token is not a source-unit system's: nothing was sent.
    #[error(
        "the token is a {role}'s, not a source-unit system's: nothing was sent; give unit \
         {given}'s source-unit-system token"
    )]
    NotAUnitToken {
        /// The token's role.
        role: crate::api::Role,
        /// `--unit`.
        given: Uscc,
    },
    /// The server cannot be reached or failed (before anything was sent).
    #[error("{0}; nothing was sent, running the same command again is safe")]
    Unreachable(ClientError),
    /// The server refused the token (401/403).
    #[error(
        "the server refused the token ({0}); give a source-unit-system access token of unit {1} with --token or ZHICHAO_TOKEN"
    )]
    Unauthorized(ClientError, Uscc),
    /// The upload stopped midway (network or server); the summary was written.
    #[error(
        "stopped at the batch starting on line {line}: {error}; {imported} record(s) were imported before; running the same command again is safe"
    )]
    Stopped {
        /// The first line not imported.
        line: u64,
        /// Why.
        error: ClientError,
        /// Records stored before.
        imported: usize,
    },
    /// The summary cannot be written.
    #[error("cannot write the summary: {0}")]
    Output(#[from] std::io::Error),
}

/// Imports the file: parse, upload, summary on `out` (also when the upload stops midway).
///
/// # Errors
/// [`ImportError`]: nothing was sent (file, mapping, URL) or the upload stopped.
pub fn run(options: &ImportOptions, out: &mut dyn Write) -> Result<ImportOutcome, ImportError> {
    let mapping = match &options.mapping {
        Some(path) => Mapping::load(path)?,
        None => Mapping::default(),
    };
    let file = options.file.display().to_string();
    let read_error = |source| ImportError::Read {
        path: file.clone(),
        source,
    };
    // Refuse a huge file before reading it into memory.
    let size = std::fs::metadata(&options.file).map_err(read_error)?.len();
    if size > parse::MAX_FILE_BYTES as u64 {
        return Err(ImportError::File {
            path: file.clone(),
            source: FileError::TooLarge(usize::try_from(size).unwrap_or(usize::MAX)),
        });
    }
    let bytes = std::fs::read(&options.file).map_err(read_error)?;
    let parsed = parse(&bytes, &mapping, options.now_ms).map_err(|source| ImportError::File {
        path: file.clone(),
        source,
    })?;
    let client = UnitClient::new(&options.server, &options.token).map_err(ImportError::Url)?;
    // The server files records under the token's unit: check it is the unit given, before
    // anything is sent.
    match client.me() {
        Ok(me) => match me.principal {
            Principal::SourceUnitSystem { unit, .. } if unit == options.unit => {}
            Principal::SourceUnitSystem { unit, .. } => {
                return Err(ImportError::WrongUnit {
                    token: unit,
                    given: options.unit.clone(),
                });
            }
            other => {
                return Err(ImportError::NotAUnitToken {
                    role: crate::api::Role::of(&other),
                    given: options.unit.clone(),
                });
            }
        },
        Err(e) if e.is_unauthorized() => {
            return Err(ImportError::Unauthorized(e, options.unit.clone()));
        }
        Err(e) => return Err(ImportError::Unreachable(e)),
    }

    let progress = if options.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(
            Some(parsed.records.len() as u64),
            ProgressDrawTarget::stderr(),
        );
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} records {elapsed} {msg}")
        {
            bar.set_style(style);
        }
        bar
    };
    let mut tally = upload::Tally::default();
    let result = upload::upload(
        |records| client.upload_weighings(records),
        &parsed.records,
        &progress,
        &mut tally,
    );
    progress.finish_and_clear();
    let stopped = result.err();
    let info = upload::RunInfo {
        file: &file,
        unit: options.unit.as_str(),
        server: &options.server,
        stopped: stopped
            .as_ref()
            .map(|s| (s, parsed.records.len() - tally.sent)),
    };
    upload::write_summary(out, &parsed, &tally, &info)?;
    out.flush()?;
    if let Some(s) = stopped {
        return Err(if s.error.is_unauthorized() {
            ImportError::Unauthorized(s.error, options.unit.clone())
        } else {
            ImportError::Stopped {
                line: s.line,
                error: s.error,
                imported: tally.imported,
            }
        });
    }
    let clean =
        parsed.rejected.is_empty() && tally.invalid.is_empty() && tally.conflicts.is_empty();
    Ok(if clean {
        ImportOutcome::Complete
    } else {
        ImportOutcome::SomeRejected
    })
}
