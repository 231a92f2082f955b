//! Sending the parsed records in batches ([`upload`]), mapping the server's answers back to CSV
//! lines ([`apply_outcome`]), and the summary ([`write_summary`]).

use std::io::Write;

use indicatif::ProgressBar;
use zhichao_core::weighing::{BatchOutcome, RecordStatus, WeighingRecord};

use super::parse::{Parsed, ParsedLine, Rejection};
use crate::client::ClientError;

/// Records per request (well within [`zhichao_core::weighing::MAX_BATCH_RECORDS`], so a
/// request stays small and the progress bar moves).
pub const BATCH_RECORDS: usize = 100;

/// How many rejected (or conflicting) lines the summary lists; the rest are counted.
pub const MAX_LISTED: usize = 50;

/// What the server made of the records sent so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records stored now.
    pub imported: usize,
    /// Records the server had already (a re-import).
    pub duplicates: usize,
    /// Lines whose record id the server holds with other content.
    pub conflicts: Vec<Rejection>,
    /// Lines the server refused as invalid.
    pub invalid: Vec<Rejection>,
    /// Records sent and answered.
    pub sent: usize,
    /// Of the records stored now: over the limit (the exit verdict was `stop`).
    pub over_limit: usize,
    /// Of the records stored now: over-limit departures (超限出场), each an alert.
    pub departures: usize,
}

/// The upload stopped: a batch failed twice on the network, or the server refused it.
#[derive(Debug)]
pub struct Stopped {
    /// The first line of the batch that was not imported.
    pub line: u64,
    /// Why.
    pub error: ClientError,
}

/// Adds a batch's answer to `tally`, mapping each outcome to its line by its `index`.
///
/// # Errors
/// A message when an outcome's index is outside the batch (a server bug); the tally then holds
/// the outcomes before it.
pub fn apply_outcome(
    batch: &[ParsedLine],
    outcome: &BatchOutcome,
    tally: &mut Tally,
) -> Result<(), String> {
    for r in &outcome.records {
        let Some(sent) = batch.get(r.index) else {
            return Err(format!(
                "the server answered about record {} of a batch of {}",
                r.index,
                batch.len()
            ));
        };
        let reason = || {
            r.reason
                .clone()
                .unwrap_or_else(|| "no reason given".to_owned())
        };
        match r.status {
            RecordStatus::Stored => {
                tally.imported += 1;
                if let Some(exit) = &r.exit {
                    tally.over_limit += usize::from(exit.over_limit);
                    tally.departures += usize::from(exit.departure);
                }
            }
            RecordStatus::Duplicate => tally.duplicates += 1,
            RecordStatus::Conflict => tally.conflicts.push(Rejection {
                line: sent.line,
                reason: format!(
                    "record id {:?} is stored with other content: {}",
                    sent.record.record_id,
                    reason()
                ),
            }),
            RecordStatus::Invalid => tally.invalid.push(Rejection {
                line: sent.line,
                reason: format!("refused by the server: {}", reason()),
            }),
        }
        tally.sent += 1;
    }
    Ok(())
}

/// Sends `records` in batches of [`BATCH_RECORDS`] through `send` (the HTTP call), in order,
/// adding the answers to `tally` and moving `progress`. A batch that fails on the network is
/// sent once more; a second failure, or any answer of the server other than a batch outcome,
/// stops the upload (the batches before stay imported: uploads are idempotent, so running the
/// import again is safe).
///
/// # Errors
/// [`Stopped`] with the first line of the batch that was not imported.
pub fn upload(
    mut send: impl FnMut(&[WeighingRecord]) -> Result<BatchOutcome, ClientError>,
    records: &[ParsedLine],
    progress: &ProgressBar,
    tally: &mut Tally,
) -> Result<(), Stopped> {
    for batch in records.chunks(BATCH_RECORDS) {
        let line = batch.first().map_or(0, |p| p.line);
        let bodies: Vec<WeighingRecord> = batch.iter().map(|p| p.record.clone()).collect();
        let outcome = match send(&bodies) {
            Err(ClientError::Transport(first)) => {
                progress.set_message(format!("retrying after: {first}"));
                send(&bodies)
            }
            other => other,
        }
        .map_err(|error| Stopped { line, error })?;
        apply_outcome(batch, &outcome, tally).map_err(|message| Stopped {
            line,
            error: ClientError::Decode(message),
        })?;
        progress.set_message("");
        progress.inc(batch.len() as u64);
    }
    Ok(())
}

/// What the summary says about the run besides the parse and the tally.
#[derive(Debug)]
pub struct RunInfo<'a> {
    /// The file, as given.
    pub file: &'a str,
    /// The unit (USCC).
    pub unit: &'a str,
    /// The server's URL.
    pub server: &'a str,
    /// Where the upload stopped, if it did, and the records not sent.
    pub stopped: Option<(&'a Stopped, usize)>,
}

/// Writes the summary: the encoding and mass unit detected, the columns used, the counts, and
/// every rejected and conflicting line with its reason (the first [`MAX_LISTED`] of each and a
/// count of the rest).
///
/// # Errors
/// Errors of `out`.
pub fn write_summary(
    out: &mut dyn Write,
    parsed: &Parsed,
    tally: &Tally,
    info: &RunInfo<'_>,
) -> std::io::Result<()> {
    let d = &parsed.detected;
    writeln!(out, "file        {}", info.file)?;
    writeln!(out, "unit        {} → {}", info.unit, info.server)?;
    writeln!(out, "encoding    {}", d.encoding)?;
    writeln!(out, "mass unit   {} ({})", d.mass_unit, d.mass_unit_reason)?;
    let columns: Vec<String> = d
        .columns
        .iter()
        .map(|(field, header)| format!("{header}→{field}"))
        .collect();
    writeln!(
        out,
        "columns     line {}: {}",
        d.header_line,
        columns.join(", ")
    )?;
    writeln!(out, "data lines  {}", d.data_lines)?;
    writeln!(out, "imported    {}", tally.imported)?;
    if tally.over_limit > 0 {
        writeln!(
            out,
            "over limit  {} (of them {} over-limit departures: an alert each)",
            tally.over_limit, tally.departures
        )?;
    }
    let repeats = parsed.repeats.len();
    if repeats > 0 {
        writeln!(
            out,
            "duplicates  {} ({} already on the server, {repeats} repeating an earlier line)",
            tally.duplicates + repeats,
            tally.duplicates
        )?;
    } else {
        writeln!(out, "duplicates  {}", tally.duplicates)?;
    }
    writeln!(out, "conflicts   {}", tally.conflicts.len())?;
    list(out, &tally.conflicts)?;
    let mut rejected: Vec<&Rejection> = parsed.rejected.iter().chain(&tally.invalid).collect();
    rejected.sort_by_key(|r| r.line);
    writeln!(out, "rejected    {}", rejected.len())?;
    list(out, rejected)?;
    if let Some((stopped, not_sent)) = info.stopped {
        writeln!(
            out,
            "STOPPED     at the batch starting on line {}: {not_sent} record(s) not sent",
            stopped.line
        )?;
        writeln!(
            out,
            "            running the same command again is safe: records already stored are answered as duplicates"
        )?;
    }
    Ok(())
}

fn list<'a>(
    out: &mut dyn Write,
    items: impl IntoIterator<Item = &'a Rejection>,
) -> std::io::Result<()> {
    let items: Vec<&Rejection> = items.into_iter().collect();
    for r in items.iter().take(MAX_LISTED) {
        writeln!(out, "  line {}: {}", r.line, r.reason)?;
    }
    if items.len() > MAX_LISTED {
        writeln!(out, "  … and {} more", items.len() - MAX_LISTED)?;
    }
    Ok(())
}
