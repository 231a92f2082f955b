//! `zhichao evidence FILE... [--json] [--out DIR]`: runs the photo evidence pipeline
//! ([`zhichao_core::evidence::photo`]) on files, the way a phone will on a photo just taken,
//! and reports per file what a case record would hold — SHA-256, format, size, capture time,
//! GPS, camera — or why the photo cannot be evidence.
//!
//! Exit codes: 0 when every file gave a photo with derivatives; [`EXIT_INVALID_INPUT`] (2) when
//! any file failed (unreadable, not a photo, truncated, too large, corrupt, or a HEIF whose
//! preview cannot be made — its hash and EXIF are still printed); [`EXIT_OUTPUT_FAILED`] (1)
//! when the output or a derivative file cannot be written.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use zhichao_core::evidence::photo::{
    CaptureTime, Derivative, EvidenceError, Photo, PhotoFormat, PhotoLimits, detect_format,
    process_photo,
};
use zhichao_core::ids::EvidenceId;

use crate::cli::{EXIT_INVALID_INPUT, EXIT_OUTPUT_FAILED};

/// Arguments of `zhichao evidence`.
#[derive(Debug, Args)]
#[command(after_long_help = EVIDENCE_AFTER_HELP)]
pub struct EvidenceArgs {
    /// Photo files: JPEG, PNG or HEIC/HEIF (the format is read from the content, not the
    /// name). Limits: 64 MiB a file, 100 megapixels, 512 MiB to decode.
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
  camera wrote one), the GPS fix, the camera make and model — or the error kind and message:
  UnsupportedFormat, Truncated, TooLarge, Corrupt, Empty, Unreadable, and for HEIC photos
  PreviewUnavailable (HEVC pixels are not decoded; the hash and EXIF are still printed).
  --json prints one object per line with file, ok, sha256, format, width, height (as shown),
  stored_width, stored_height, orientation, captured_at, utc_offset_minutes,
  captured_at_utc_ms, gps {lat, lon, accuracy_m}, make, model, evidence_copy, thumbnail, and
  error_kind/error when it failed.

Exit status: 0 when every file gave evidence with derivatives, 2 when any file failed, 1 when
the output (or a file under --out) cannot be written.
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
    let mut failed = 0usize;
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
        if report.error().is_some() {
            failed += 1;
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
    if failed > 0 {
        let _ = writeln!(
            err,
            "error: {failed} of {} file(s) gave no usable evidence",
            args.files.len()
        );
        return Ok(ExitCode::from(EXIT_INVALID_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads one file (refusing one over the input limit before reading it) and runs the pipeline.
fn examine(path: &Path, limits: &PhotoLimits) -> Report {
    let file = path.display().to_string();
    let unreadable = |e: std::io::Error| Report {
        file: file.clone(),
        sha256: None,
        byte_len: None,
        format: None,
        result: Err(Failure::Unreadable(format!("cannot read {file}: {e}"))),
        written: None,
    };
    let mut handle = match File::open(path) {
        Ok(h) => h,
        Err(e) => return unreadable(e),
    };
    let len = match handle.metadata() {
        Ok(m) if m.is_dir() => {
            return unreadable(std::io::Error::other("it is a directory"));
        }
        Ok(m) => m.len(),
        Err(e) => return unreadable(e),
    };
    if let Err(e) = limits.check_input_len(len)
        && len > 0
    {
        return Report {
            file,
            sha256: None,
            byte_len: Some(len),
            format: None,
            result: Err(Failure::Evidence(e)),
            written: None,
        };
    }
    // One byte more than allowed, so a file that grew since `metadata` is still refused.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    if let Err(e) = Read::by_ref(&mut handle)
        .take(limits.max_input_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
    {
        return unreadable(e);
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

/// Writes both derivatives; returns their paths or what went wrong.
fn write_pair(
    dir: &Path,
    original: &EvidenceId,
    evidence: &Derivative,
    thumbnail: &Derivative,
) -> Result<(PathBuf, PathBuf), String> {
    let evidence_path = dir.join(format!("{original}.evidence.jpg"));
    let thumb_path = dir.join(format!("{original}.thumb.jpg"));
    write_atomically(&evidence_path, &evidence.jpeg)?;
    write_atomically(&thumb_path, &thumbnail.jpeg)?;
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

fn row(out: &mut dyn Write, label: &str, value: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    writeln!(out, "{label:<11}{value}")
}

fn capture_text(c: &CaptureTime) -> String {
    match c.offset_minutes {
        Some(offset) => {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            format!("{}{sign}{:02}:{:02}", c.local, abs / 60, abs % 60)
        }
        None => format!("{} (camera clock, UTC offset unknown)", c.local),
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
    if let Some((kind, message)) = r.error() {
        row(out, "error", format_args!("{kind}: {message}"))?;
    }
    Ok(())
}
