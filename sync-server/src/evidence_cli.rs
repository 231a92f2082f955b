//! `zhichao evidence FILE... [--json] [--out DIR]`: runs the photo evidence pipeline
//! ([`zhichao_core::evidence::photo`]) on files, the way a phone will on a photo just taken,
//! and reports per file what a case record would hold — SHA-256, format, size, capture time,
//! GPS, camera — or why the photo cannot be evidence.
//!
//! Exit codes: 0 when every file gave a photo with derivatives; [`EXIT_INVALID_INPUT`] (2) when
//! any file did not: refused (unreadable, not a regular file, not a photo, truncated, too
//! large, corrupt), or a HEIF photo — kept as evidence (hash and EXIF printed) but without a
//! preview, and counted apart from the refusals; [`EXIT_OUTPUT_FAILED`] (1) when the output or
//! a derivative file cannot be written.
//!
//! Human output is for terminals: control characters in file names and in texts from the
//! files (EXIF make and model) are shown escaped (`\u{1b}`), never sent raw. File names that
//! are not UTF-8 are shown (and put in the JSON) lossily, with U+FFFD for the invalid bytes.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use zhichao_core::evidence::photo::{
    CaptureTime, CaptureTimeSource, Derivative, EvidenceError, Photo, PhotoFormat, PhotoLimits,
    detect_format, process_photo,
};
use zhichao_core::ids::EvidenceId;

use crate::cli::{EXIT_INVALID_INPUT, EXIT_OUTPUT_FAILED};

/// Arguments of `zhichao evidence`.
#[derive(Debug, Args)]
#[command(after_long_help = EVIDENCE_AFTER_HELP)]
pub struct EvidenceArgs {
    /// Photo files: JPEG, PNG or HEIC/HEIF (the format is read from the content, not the
    /// name). Only regular files are read. Limits: 64 MiB a file, 100 megapixels, 65 535
    /// pixels a side, 512 MiB of working memory.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per file, one per line, instead of text blocks.
    #[arg(long)]
    pub json: bool,
    /// Write each photo's derivatives to DIR (created when missing) as
    /// `<sha256>.evidence.jpg` (long side ≤ 2048 px) and `<sha256>.thumb.jpg` (≤ 320 px),
    /// named by the original's SHA-256. Files appear complete or not at all.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Help text after the options.
const EVIDENCE_AFTER_HELP: &str = "\
Output:
  Per file: the SHA-256 of the exact bytes (the evidence id), the format, the size as stored
  and as shown (after the EXIF orientation), the capture time (with its UTC offset when the
  camera wrote one, and a note when it is only the file's modification time), the GPS fix,
  the camera make and model — or the error kind and message: UnsupportedFormat, Truncated,
  TooLarge, Corrupt, Empty, Unreadable (also for anything that is not a regular file). HEIC
  photos are kept as evidence (hash, size and EXIF printed) without a preview: HEVC pixels
  are not decoded; in JSON their error_kind is PreviewUnavailable.
  --json prints one object per line with file, ok, sha256, format, width, height (as shown),
  stored_width, stored_height, orientation, captured_at, captured_at_source (original,
  digitized or modified), utc_offset_minutes, captured_at_utc_ms, gps {lat, lon, accuracy_m},
  make, model, evidence_copy, thumbnail, and error_kind/error when it failed.

Exit status: 0 when every file gave evidence with derivatives, 2 when any file was refused or
is a HEIC without preview, 1 when the output (or a file under --out) cannot be written.
";

/// One file's outcome.
struct Report {
    file: String,
    /// SHA-256 of the bytes read (`None` when the file could not be read in full).
    sha256: Option<EvidenceId>,
    byte_len: Option<u64>,
    /// The format sniffed from the content, also for files that failed later.
    format: Option<&'static str>,
    result: Result<Photo, Failure>,
    written: Option<Result<(PathBuf, PathBuf), String>>,
}

/// Why a file gave no photo.
enum Failure {
    /// It could not be read.
    Unreadable(String),
    /// The pipeline refused it.
    Evidence(EvidenceError),
}

impl Failure {
    fn kind(&self) -> &'static str {
        match self {
            Failure::Unreadable(_) => "Unreadable",
            Failure::Evidence(e) => e.kind(),
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Unreadable(m) => m.clone(),
            Failure::Evidence(e) => e.to_string(),
        }
    }
}

impl Report {
    /// The error that makes this file a failure (including a HEIF's missing preview).
    fn error(&self) -> Option<(&'static str, String)> {
        match &self.result {
            Err(f) => Some((f.kind(), f.message())),
            Ok(photo) => photo
                .derivatives
                .as_ref()
                .err()
                .map(|e| (e.kind(), e.to_string())),
        }
    }
}

/// Runs `zhichao evidence`: processes every file, prints a block (or a JSON line) for each,
/// writes derivatives under `--out`.
///
/// # Errors
/// Writing to `out` fails, or the `--out` directory cannot be created. Files that fail are
/// reported in the output, not as errors; the exit code says whether any did.
pub fn run(
    args: &EvidenceArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<ExitCode> {
    let limits = PhotoLimits::default();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    let mut refused = 0usize;
    let mut without_preview = 0usize;
    let mut write_failed = false;
    for (i, path) in args.files.iter().enumerate() {
        let mut report = examine(path, &limits);
        if let (Some(dir), Ok(photo)) = (&args.out, &report.result)
            && let Ok(derivatives) = &photo.derivatives
        {
            let written = write_pair(
                dir,
                &photo.sha256,
                &derivatives.evidence_copy,
                &derivatives.thumbnail,
            );
            write_failed |= written.is_err();
            report.written = Some(written);
        }
        match &report.result {
            Err(_) => refused += 1,
            Ok(photo) if photo.derivatives.is_err() => without_preview += 1,
            Ok(_) => {}
        }
        if args.json {
            let line =
                serde_json::to_string(&JsonReport::from(&report)).map_err(std::io::Error::other)?;
            writeln!(out, "{line}")?;
        } else {
            if i > 0 {
                writeln!(out)?;
            }
            write_block(out, &report)?;
        }
    }
    out.flush()?;
    if write_failed {
        let _ = writeln!(err, "error: some derivatives could not be written");
        return Ok(ExitCode::from(EXIT_OUTPUT_FAILED));
    }
    let total = args.files.len();
    let heic = format!("{without_preview} HEIC kept as evidence without preview");
    match (refused, without_preview) {
        (0, 0) => return Ok(ExitCode::SUCCESS),
        (0, _) => {
            let _ = writeln!(err, "note: {heic} (of {total} file(s))");
        }
        (_, 0) => {
            let _ = writeln!(err, "error: {refused} of {total} file(s) refused");
        }
        _ => {
            let _ = writeln!(err, "error: {refused} of {total} file(s) refused; {heic}");
        }
    }
    Ok(ExitCode::from(EXIT_INVALID_INPUT))
}

/// What a non-regular file is, for the message.
fn file_kind(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Reads one file and runs the pipeline. Only regular files are read: anything else (a FIFO
/// would block forever, `/dev/zero` never ends) is refused before it is opened. A file over the
/// input limit is refused before reading by its size, and again if it grew while being read;
/// its SHA-256 is only given for a file read in full.
fn examine(path: &Path, limits: &PhotoLimits) -> Report {
    let file = path.display().to_string();
    let unreadable = |message: String| Report {
        file: file.clone(),
        sha256: None,
        byte_len: None,
        format: None,
        result: Err(Failure::Unreadable(message)),
        written: None,
    };
    let not_regular = |t: std::fs::FileType| {
        unreadable(format!(
            "cannot read {file}: not a regular file ({})",
            file_kind(t)
        ))
    };
    let too_large = |len: u64, e: EvidenceError| Report {
        file: file.clone(),
        sha256: None,
        byte_len: Some(len),
        format: None,
        result: Err(Failure::Evidence(e)),
        written: None,
    };
    // Follows symbolic links, like `open`, but does not open: opening a FIFO blocks.
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return not_regular(m.file_type()),
        Ok(_) => {}
        Err(e) => return unreadable(format!("cannot read {file}: {e}")),
    }
    let mut handle = match File::open(path) {
        Ok(h) => h,
        Err(e) => return unreadable(format!("cannot read {file}: {e}")),
    };
    // Again on the open file: the path may have been replaced in between.
    let len = match handle.metadata() {
        Ok(m) if !m.is_file() => return not_regular(m.file_type()),
        Ok(m) => m.len(),
        Err(e) => return unreadable(format!("cannot read {file}: {e}")),
    };
    if let Err(e) = limits.check_input_len(len)
        && len > 0
    {
        return too_large(len, e);
    }
    // One byte more than allowed, so a file that grew since `metadata` is still refused.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    if let Err(e) = Read::by_ref(&mut handle)
        .take(limits.max_input_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
    {
        return unreadable(format!("cannot read {file}: {e}"));
    }
    let read = bytes.len() as u64;
    if read > limits.max_input_bytes {
        // Not read to its end: no hash of a part.
        let e = EvidenceError::TooLarge {
            detail: format!(
                "the file grew while being read, past the limit of {} bytes; not read in full",
                group(limits.max_input_bytes)
            ),
        };
        return too_large(read, e);
    }
    let result = process_photo(&bytes, limits).map_err(Failure::Evidence);
    Report {
        file,
        sha256: Some(EvidenceId::of(&bytes)),
        byte_len: Some(bytes.len() as u64),
        format: detect_format(&bytes).ok().map(|f| f.as_str()),
        result,
        written: None,
    }
}

/// Writes both derivatives, both or neither: when the thumbnail cannot be written, the evidence
/// copy just written is removed again (unless a thumbnail from an earlier run is in place,
/// which completes the pair: derivatives are named by the original's hash and deterministic).
/// Returns their paths or what went wrong.
fn write_pair(
    dir: &Path,
    original: &EvidenceId,
    evidence: &Derivative,
    thumbnail: &Derivative,
) -> Result<(PathBuf, PathBuf), String> {
    let evidence_path = dir.join(format!("{original}.evidence.jpg"));
    let thumb_path = dir.join(format!("{original}.thumb.jpg"));
    write_atomically(&evidence_path, &evidence.jpeg)?;
    if let Err(e) = write_atomically(&thumb_path, &thumbnail.jpeg) {
        if !thumb_path.is_file() {
            return Err(match std::fs::remove_file(&evidence_path) {
                Ok(()) => format!("{e} (the evidence copy was removed again)"),
                Err(r) => format!(
                    "{e}; the evidence copy {} could not be removed: {r}",
                    evidence_path.display()
                ),
            });
        }
        return Err(e);
    }
    Ok((evidence_path, thumb_path))
}

/// Writes `bytes` to a temporary name beside `path`, syncs, then renames it into place, so
/// `path` is either absent, the old file, or complete.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// A derivative in the JSON output.
#[derive(Serialize)]
struct JsonDerivative {
    sha256: String,
    width: u32,
    height: u32,
    bytes: usize,
    /// Where `--out` wrote it.
    path: Option<String>,
}

/// The GPS fix in the JSON output, decimal degrees (WGS-84).
#[derive(Serialize)]
struct JsonGps {
    lat: f64,
    lon: f64,
    accuracy_m: Option<u32>,
}

/// One line of `--json` output.
#[derive(Serialize)]
struct JsonReport {
    file: String,
    ok: bool,
    sha256: Option<String>,
    byte_len: Option<u64>,
    format: Option<&'static str>,
    /// Width as shown (after orientation).
    width: Option<u32>,
    /// Height as shown (after orientation).
    height: Option<u32>,
    stored_width: Option<u32>,
    stored_height: Option<u32>,
    orientation: Option<u8>,
    captured_at: Option<String>,
    /// Which EXIF time: `original`, `digitized` or `modified` (the file's save time).
    captured_at_source: Option<CaptureTimeSource>,
    utc_offset_minutes: Option<i32>,
    captured_at_utc_ms: Option<i64>,
    gps: Option<JsonGps>,
    make: Option<String>,
    model: Option<String>,
    evidence_copy: Option<JsonDerivative>,
    thumbnail: Option<JsonDerivative>,
    write_error: Option<String>,
    error_kind: Option<&'static str>,
    error: Option<String>,
}

impl From<&Report> for JsonReport {
    fn from(r: &Report) -> Self {
        let error = r.error();
        let photo = r.result.as_ref().ok();
        let meta = photo.map(|p| &p.metadata);
        let derivative = |which: fn(&zhichao_core::evidence::photo::Derivatives) -> &Derivative,
                          path: fn(&(PathBuf, PathBuf)) -> &PathBuf| {
            let d = which(photo?.derivatives.as_ref().ok()?);
            Some(JsonDerivative {
                sha256: d.sha256.to_string(),
                width: d.width,
                height: d.height,
                bytes: d.jpeg.len(),
                path: r
                    .written
                    .as_ref()
                    .and_then(|w| w.as_ref().ok())
                    .map(|p| path(p).display().to_string()),
            })
        };
        let captured = meta.and_then(|m| m.captured_at.as_ref());
        JsonReport {
            file: r.file.clone(),
            ok: error.is_none() && !matches!(r.written, Some(Err(_))),
            sha256: r.sha256.map(|s| s.to_string()),
            byte_len: r.byte_len,
            format: r.format,
            width: photo.and_then(|p| p.oriented_size).map(|s| s.0),
            height: photo.and_then(|p| p.oriented_size).map(|s| s.1),
            stored_width: photo.and_then(|p| p.stored_size).map(|s| s.0),
            stored_height: photo.and_then(|p| p.stored_size).map(|s| s.1),
            orientation: meta.map(|m| m.orientation),
            captured_at: captured.map(|c| c.local.clone()),
            captured_at_source: captured.map(|c| c.source),
            utc_offset_minutes: captured.and_then(|c| c.offset_minutes),
            captured_at_utc_ms: captured.and_then(|c| c.utc_ms),
            gps: meta.and_then(|m| m.gps).map(|g| JsonGps {
                lat: e7_to_degrees(g.lat_e7),
                lon: e7_to_degrees(g.lon_e7),
                accuracy_m: g.accuracy_m,
            }),
            make: meta.and_then(|m| m.make.clone()),
            model: meta.and_then(|m| m.model.clone()),
            evidence_copy: derivative(|d| &d.evidence_copy, |p| &p.0),
            thumbnail: derivative(|d| &d.thumbnail, |p| &p.1),
            write_error: r.written.as_ref().and_then(|w| w.as_ref().err().cloned()),
            error_kind: error.as_ref().map(|e| e.0),
            error: error.map(|e| e.1),
        }
    }
}

/// Degrees × 10⁷ → degrees (exact to the 7 decimals stored).
fn e7_to_degrees(value: i64) -> f64 {
    value as f64 / 1e7
}

/// `1234567` → `1 234 567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Writes one line of a text block, control characters escaped ([`escape_controls`]).
fn row(out: &mut dyn Write, label: &str, value: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let value = value.to_string();
    writeln!(out, "{label:<11}{}", escape_controls(&value))
}

/// `text` with control characters (C0, DEL, C1) and the bidirectional formatting characters
/// (which reorder what a terminal shows) escaped (`\u{1b}`, `\n`); everything else — CJK,
/// accents — as it is.
fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn capture_text(c: &CaptureTime) -> String {
    let time = match c.offset_minutes {
        Some(offset) => {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            format!("{}{sign}{:02}:{:02}", c.local, abs / 60, abs % 60)
        }
        None => format!("{} (camera clock, UTC offset unknown)", c.local),
    };
    match c.source {
        CaptureTimeSource::Original => time,
        CaptureTimeSource::Digitized => format!("{time} (EXIF DateTimeDigitized)"),
        CaptureTimeSource::Modified => {
            format!("{time} (EXIF DateTime: when the file was last saved, not necessarily taken)")
        }
    }
}

fn size_text(size: Option<(u32, u32)>) -> String {
    size.map_or_else(|| "unknown".to_owned(), |(w, h)| format!("{w} × {h} px"))
}

/// The text block of one file.
fn write_block(out: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    row(out, "file", format_args!("{}", r.file))?;
    if let Some(sha) = &r.sha256 {
        row(out, "sha256", format_args!("{sha}"))?;
    }
    match (r.format, r.byte_len) {
        (Some(f), Some(n)) => row(out, "format", format_args!("{f}, {} bytes", group(n)))?,
        (None, Some(n)) => row(out, "size", format_args!("{} bytes", group(n)))?,
        _ => {}
    }
    if let Ok(p) = &r.result {
        let m = &p.metadata;
        row(out, "stored", format_args!("{}", size_text(p.stored_size)))?;
        let how = if p.format == PhotoFormat::Heif {
            "after the container's crop and rotation".to_owned()
        } else {
            format!("EXIF orientation {}", m.orientation)
        };
        row(
            out,
            "oriented",
            format_args!("{} ({how})", size_text(p.oriented_size)),
        )?;
        let captured = m
            .captured_at
            .as_ref()
            .map_or_else(|| "-".to_owned(), capture_text);
        row(out, "captured", format_args!("{captured}"))?;
        let gps = m.gps.map_or_else(
            || "-".to_owned(),
            |g| {
                let accuracy = g
                    .accuracy_m
                    .map(|a| format!(" (±{a} m)"))
                    .unwrap_or_default();
                format!(
                    "{:.7}, {:.7}{accuracy}",
                    e7_to_degrees(g.lat_e7),
                    e7_to_degrees(g.lon_e7)
                )
            },
        );
        row(out, "gps", format_args!("{gps}"))?;
        row(
            out,
            "make",
            format_args!("{}", m.make.as_deref().unwrap_or("-")),
        )?;
        row(
            out,
            "model",
            format_args!("{}", m.model.as_deref().unwrap_or("-")),
        )?;
        if let Ok(d) = &p.derivatives {
            let written = r.written.as_ref().and_then(|w| w.as_ref().ok());
            for (label, deriv, path) in [
                ("evidence", &d.evidence_copy, written.map(|w| &w.0)),
                ("thumbnail", &d.thumbnail, written.map(|w| &w.1)),
            ] {
                row(
                    out,
                    label,
                    format_args!(
                        "{} × {} px JPEG, {} bytes",
                        deriv.width,
                        deriv.height,
                        group(deriv.jpeg.len() as u64),
                    ),
                )?;
                row(out, "", format_args!("sha256 {}", deriv.sha256))?;
                if let Some(path) = path {
                    row(out, "", format_args!("→ {}", path.display()))?;
                }
            }
        }
        if let Some(Err(e)) = &r.written {
            row(out, "write", format_args!("FAILED: {e}"))?;
        }
    }
    match &r.result {
        Err(f) => row(out, "error", format_args!("{}: {}", f.kind(), f.message()))?,
        // Kept as evidence: not an error, just no picture to show.
        Ok(p) => match &p.derivatives {
            Err(EvidenceError::PreviewUnavailable { detail }) => {
                row(out, "preview", format_args!("none: {detail}"))?;
            }
            Err(e) => row(out, "preview", format_args!("none: {e}"))?,
            Ok(_) => {}
        },
    }
    Ok(())
}
