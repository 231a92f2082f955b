//! The photo pipeline: one photo's bytes in, an evidence record ([`Photo`]) or a typed error
//! ([`EvidenceError`]) out — never a panic, never a silently damaged image.
//!
//! A roadside check or site inspection stands on its photos, so the pipeline is strict about
//! what it accepts and careful with what it produces:
//!
//! 1. The evidence id is the SHA-256 of the exact input bytes ([`EvidenceId`]); the input is
//!    never modified, the derivatives are new files with their own hashes.
//! 2. The format is sniffed from the content (magic bytes), never from a file name:
//!    JPEG, PNG, or HEIF/HEIC (an ISO-BMFF `ftyp` box with a HEIF brand).
//! 3. Completeness is checked structurally before any decode: a JPEG's marker segments are
//!    walked up to its end-of-image marker and every scan's coded data is counted block by
//!    block (a JPEG cut mid-scan with an end-of-image marker appended has all its markers but
//!    not all its blocks), a PNG's chunks are walked up to `IEND`, a HEIF's top-level boxes to
//!    the end of the file and the data of its primary image (and EXIF) located inside it.
//!    Decoders happily return grey-filled or invented pixels for a cut file; a cut file is
//!    [`EvidenceError::Truncated`] here.
//! 4. Metadata (capture time, GPS, orientation, camera) comes from EXIF; a broken EXIF block is
//!    ignored, not fatal (a photo without EXIF is still evidence).
//! 5. Pixels are decoded once, under [`PhotoLimits`] checked *before* any pixel buffer exists,
//!    then downscaled, turned upright and re-encoded as the [`Derivatives`]: an evidence copy
//!    (long side ≤ [`EVIDENCE_COPY_LONG_SIDE_PX`]) and a thumbnail (long side ≤
//!    [`THUMBNAIL_LONG_SIDE_PX`]), baseline JPEG in 8-bit sRGB without any metadata
//!    (16-bit samples rounded, alpha flattened on white, Display P3 converted to sRGB).
//!    HEIF pixels are not decoded (no HEVC decoder ships with the core): a HEIF photo is
//!    still recorded — the original hashed and kept, its size and EXIF read — with
//!    [`EvidenceError::PreviewUnavailable`] in place of its derivatives.
//!
//! The output is deterministic: the same input bytes give the same record and the same
//! derivative bytes on the same machine (SIMD paths are chosen by CPU features, so derivative
//! bytes may differ between machines; the original's hash never does).

mod container;
mod entropy;
mod heif;
mod metadata;
mod raster;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use crate::docs::GeoPoint;
use crate::ids::EvidenceId;

/// The long side, in pixels, of the evidence copy ([`Derivatives::evidence_copy`]): large
/// enough to read a plate or a weighbridge display on a phone screen, small enough to sync
/// over a mountain road's mobile link. Smaller photos are never upscaled.
pub const EVIDENCE_COPY_LONG_SIDE_PX: u32 = 2048;

/// The long side, in pixels, of the thumbnail ([`Derivatives::thumbnail`]) shown in case lists.
pub const THUMBNAIL_LONG_SIDE_PX: u32 = 320;

/// JPEG quality (1–100, libjpeg scale) of the evidence copy; below 90 the encoder subsamples
/// chroma 2×2 (4:2:0), as phone cameras do.
pub const DERIVATIVE_JPEG_QUALITY: u8 = 85;

/// JPEG quality of the thumbnail. Different from [`DERIVATIVE_JPEG_QUALITY`] so that the two
/// derivatives are always distinct blobs, also for a photo of at most
/// [`THUMBNAIL_LONG_SIDE_PX`] whose thumbnail has the evidence copy's pixels (documents refuse
/// a photo whose derivatives share a hash: each blob has one role).
pub const THUMBNAIL_JPEG_QUALITY: u8 = 80;

/// The container format of a photo, sniffed from its first bytes ([`detect_format`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoFormat {
    /// JPEG (JFIF/EXIF, ITU-T T.81): starts with `FF D8 FF`.
    Jpeg,
    /// PNG (ISO/IEC 15948): starts with the 8-byte signature `89 50 4E 47 0D 0A 1A 0A`.
    Png,
    /// HEIF/HEIC (ISO/IEC 23008-12), as iPhones and many Android phones save photos: an
    /// ISO-BMFF `ftyp` box with a HEIF brand (`heic`, `heix`, `hevc`, `hevx`, `heim`, `heis`,
    /// `mif1`, `msf1`). Metadata only: its pixels are not decoded.
    Heif,
}

impl PhotoFormat {
    /// The lower-case name: `"jpeg"`, `"png"` or `"heif"` (also the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpeg",
            PhotoFormat::Png => "png",
            PhotoFormat::Heif => "heif",
        }
    }

    /// The media type of an original in this format (`image/jpeg`, `image/png`, `image/heif`).
    pub const fn mime_type(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "image/jpeg",
            PhotoFormat::Png => "image/png",
            PhotoFormat::Heif => "image/heif",
        }
    }
}

impl fmt::Display for PhotoFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which EXIF time a [`CaptureTime`] comes from. Serialized `"original"`, `"digitized"`,
/// `"modified"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureTimeSource {
    /// `DateTimeOriginal` (0x9003): when the shutter was pressed.
    Original,
    /// `DateTimeDigitized` (0x9004): when the image was stored digitally — for a camera the
    /// same moment, for a scan the time of scanning.
    Digitized,
    /// `DateTime` (0x0132): when the file was last changed. Editors (Photoshop, phone photo
    /// editors) rewrite it on save, so it is not necessarily when the photo was taken.
    Modified,
}

impl CaptureTimeSource {
    /// The EXIF tag's name: `"DateTimeOriginal"`, `"DateTimeDigitized"`, `"DateTime"`.
    pub const fn exif_tag(self) -> &'static str {
        match self {
            CaptureTimeSource::Original => "DateTimeOriginal",
            CaptureTimeSource::Digitized => "DateTimeDigitized",
            CaptureTimeSource::Modified => "DateTime",
        }
    }
}

/// When a photo was taken, from EXIF `DateTimeOriginal` (0x9003), falling back to
/// `DateTimeDigitized` (0x9004), then to `DateTime` (0x0132, the file's modification time);
/// [`CaptureTime::source`] says which.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaptureTime {
    /// The camera's wall-clock time as written, `YYYY-MM-DDTHH:MM:SS` (no zone): EXIF does
    /// not say which zone the clock was set to unless an offset tag is present.
    pub local: String,
    /// The offset of that clock from UTC, minutes east (`+08:00` → 480, `-05:00` → −300), from
    /// EXIF `OffsetTimeOriginal` (0x9011), falling back to `OffsetTime` (0x9010); `None` when
    /// neither is present or valid (older cameras and many Android phones).
    pub offset_minutes: Option<i32>,
    /// The instant, UTC milliseconds since 1970-01-01, only when the offset is known
    /// (`local` − `offset_minutes`); whole seconds.
    pub utc_ms: Option<i64>,
    /// The EXIF tag the time comes from. The offset is read from the matching offset tag
    /// (`OffsetTimeOriginal`, `OffsetTimeDigitized`, `OffsetTime`), falling back to the others.
    pub source: CaptureTimeSource,
}

/// What a photo's EXIF says about it. Every field is optional: a photo without EXIF (a
/// screenshot, a messaging app's re-encode) is still evidence, and a broken EXIF block is
/// ignored rather than failing the photo.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhotoMetadata {
    /// Capture time (see [`CaptureTime`]).
    pub captured_at: Option<CaptureTime>,
    /// GPS fix from the EXIF GPS IFD (`GPSLatitude`/`GPSLongitude` with their `Ref`s: S and W
    /// negate; `GPSHPositioningError` rounded up to whole metres as `accuracy_m`). A fix at
    /// exactly 0,0, out of range, or without its N/S or E/W reference is treated as no fix.
    pub gps: Option<GeoPoint>,
    /// EXIF `Orientation` (0x0112) of the primary image, 1..=8 (1 = stored upright, 6 = turn
    /// 90° clockwise to view, …); a missing tag, 0 or out-of-range value is 1. For HEIF the
    /// container's `irot`/`imir` properties, not this tag, decide how the image is shown.
    pub orientation: u8,
    /// Camera maker (EXIF `Make`): invalid UTF-8 replaced (U+FFFD), control characters
    /// (NUL, ESC, newlines, … — never meaningful in a maker's name, and a way to inject
    /// terminal escape sequences into whoever prints it) removed, trimmed, at most 128
    /// characters; empty → `None`.
    pub make: Option<String>,
    /// Camera model (EXIF `Model`), cleaned like [`PhotoMetadata::make`].
    pub model: Option<String>,
}

impl Default for PhotoMetadata {
    fn default() -> Self {
        PhotoMetadata {
            captured_at: None,
            gps: None,
            orientation: 1,
            make: None,
            model: None,
        }
    }
}

/// One derived image: an upright, 8-bit sRGB, baseline JPEG without any metadata (no EXIF, no
/// GPS, no ICC profile: only the JFIF header).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Derivative {
    /// SHA-256 of [`Derivative::jpeg`].
    pub sha256: EvidenceId,
    /// Width in pixels (upright).
    pub width: u32,
    /// Height in pixels (upright).
    pub height: u32,
    /// The JPEG file's bytes (quality [`DERIVATIVE_JPEG_QUALITY`]). Not serialized.
    #[serde(skip)]
    pub jpeg: Vec<u8>,
}

impl fmt::Debug for Derivative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Derivative")
            .field("sha256", &self.sha256)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("jpeg_bytes", &self.jpeg.len())
            .finish()
    }
}

/// The two images derived from an original, both upright and metadata-free.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Derivatives {
    /// Long side ≤ [`EVIDENCE_COPY_LONG_SIDE_PX`] (never upscaled): what reviewers look at.
    pub evidence_copy: Derivative,
    /// Long side ≤ [`THUMBNAIL_LONG_SIDE_PX`], made from the evidence copy's pixels.
    pub thumbnail: Derivative,
}

/// The evidence record of one photo (照片证据).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Photo {
    /// SHA-256 of the exact input bytes: the photo's evidence id.
    pub sha256: EvidenceId,
    /// The container format, from the content.
    pub format: PhotoFormat,
    /// Length of the input, bytes.
    pub byte_len: u64,
    /// (width, height) in pixels as stored, before orientation: from the JPEG frame header,
    /// the PNG `IHDR`, or the HEIF primary item's `ispe` property (`None` when the HEIF file
    /// has none).
    pub stored_size: Option<(u32, u32)>,
    /// (width, height) in pixels as shown: JPEG/PNG swap the stored size for EXIF orientations
    /// 5..=8; HEIF applies the primary item's `clap` (crop) and `irot` (rotation) properties.
    pub oriented_size: Option<(u32, u32)>,
    /// What the EXIF says.
    pub metadata: PhotoMetadata,
    /// The evidence copy and thumbnail; for HEIF `Err(`[`EvidenceError::PreviewUnavailable`]`)`.
    /// Serialized as the [`Derivatives`] object, or `{"error": {"kind", "message"}}`.
    #[serde(serialize_with = "serialize_derivatives")]
    pub derivatives: Result<Derivatives, EvidenceError>,
}

fn serialize_derivatives<S: Serializer>(
    value: &Result<Derivatives, EvidenceError>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Failed<'a> {
        error: &'a EvidenceError,
    }
    match value {
        Ok(d) => d.serialize(serializer),
        Err(error) => Failed { error }.serialize(serializer),
    }
}

/// Resource limits of [`process_photo`], checked before the work they bound is done: a
/// "decompression bomb" (a small file whose header claims a huge image) is refused with
/// [`EvidenceError::TooLarge`] before any pixel buffer is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhotoLimits {
    /// Largest accepted input, bytes. Default 64 MiB (67 108 864): a phone JPEG is 2–8 MB, a
    /// 50 MP HEIC or an uncompressed-ish PNG screenshot stays well below.
    pub max_input_bytes: u64,
    /// Largest accepted stored image, pixels (width × height from the header). Default
    /// 100 000 000 (100 MP): more than any phone camera (a 108 MP sensor bins to 12 MP).
    /// Also applied to the size a HEIF's `ispe` property claims.
    pub max_pixels: u64,
    /// Largest accepted side (width or height), pixels, from the header. Default 65 535, the
    /// largest side a JPEG can have. Also bounds the resizer: its weights grow with the ratio
    /// of a side to the derivative's (a 100 000 000 × 1 PNG, well within the pixel limit,
    /// would need gigabytes of them), and with sides ≤ 65 535 they stay about 4 MB. Also
    /// applied to HEIF sizes.
    #[serde(default = "default_max_side_px")]
    pub max_side_px: u32,
    /// Largest accepted working memory for one photo, bytes, estimated from the header before
    /// anything is decoded — so it bounds the peak memory of the pipeline, not just one buffer:
    /// - the decoded image (1 to 8 bytes a pixel: 8-bit grey JPEG to 16-bit RGBA PNG), made
    ///   8-bit grey or RGB in place (no second full-size buffer);
    /// - joined at the peak by the largest of: the decoder's own memory (the coefficients of a
    ///   progressive or multi-scan JPEG, 2 bytes a sample; row buffers), the resizer's (weights,
    ///   intermediate and output images), or the finishing of the derivatives;
    /// - and 4 MiB for the small allocations (tables, decoder state).
    ///
    /// The decoders are also bounded by it (`png`'s internal buffers, the output buffer checked
    /// again before it is allocated). Default 512 MiB (536 870 912). Not counted: the input
    /// bytes themselves and allocator overhead. (The scan check of a progressive JPEG, which
    /// runs beside the decoder, is counted: 8 bytes a block.)
    pub max_alloc_bytes: u64,
}

fn default_max_side_px() -> u32 {
    PhotoLimits::DEFAULT.max_side_px
}

impl PhotoLimits {
    /// The defaults: 64 MiB input, 100 megapixels, 65 535 pixels a side, 512 MiB working
    /// memory.
    pub const DEFAULT: PhotoLimits = PhotoLimits {
        max_input_bytes: 64 * 1024 * 1024,
        max_pixels: 100_000_000,
        max_side_px: 65_535,
        max_alloc_bytes: 512 * 1024 * 1024,
    };

    /// Checks an input length against [`PhotoLimits::max_input_bytes`] (callers reading a file
    /// can check its length before reading it).
    ///
    /// # Errors
    /// [`EvidenceError::Empty`] for 0 bytes, [`EvidenceError::TooLarge`] over the limit.
    pub fn check_input_len(&self, len: u64) -> Result<(), EvidenceError> {
        if len == 0 {
            return Err(EvidenceError::Empty);
        }
        if len > self.max_input_bytes {
            return Err(EvidenceError::TooLarge {
                detail: format!(
                    "the file is {} bytes, over the limit of {} bytes ({})",
                    group(len),
                    group(self.max_input_bytes),
                    mib(self.max_input_bytes)
                ),
            });
        }
        Ok(())
    }
}

impl Default for PhotoLimits {
    fn default() -> Self {
        PhotoLimits::DEFAULT
    }
}

/// Why a photo cannot be taken as evidence, or why it has no preview. The `detail` texts are
/// meant for people (officers, reviewers): they say what was found and, for limits, the limit.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum EvidenceError {
    /// The input has no bytes.
    #[error("the file is empty (0 bytes)")]
    Empty,
    /// Not a JPEG, PNG or HEIF photo (by content), or a variant of one the decoder does not
    /// support (arithmetic-coded or lossless JPEG, AVIF, …).
    #[error("unsupported format: {detail}")]
    UnsupportedFormat {
        /// What was found.
        detail: String,
    },
    /// The file ends early: a JPEG without its end-of-image marker, or whose image data ends
    /// before all its blocks (also when an end-of-image marker was appended to a cut file), a
    /// PNG without `IEND` or with a cut chunk, a HEIF whose boxes run past the end or whose
    /// image or EXIF data lies past the end. Usually an interrupted copy or upload: take the
    /// original again.
    #[error("the file is truncated: {detail}")]
    Truncated {
        /// Where it ends and what is missing.
        detail: String,
    },
    /// Over a [`PhotoLimits`] limit: input bytes, pixels, side, or working memory.
    #[error("the photo is too large: {detail}")]
    TooLarge {
        /// What the file claims and the limit it exceeds.
        detail: String,
    },
    /// The structure or the compressed data is invalid.
    #[error("the file is corrupt: {detail}")]
    Corrupt {
        /// What is wrong.
        detail: String,
    },
    /// The photo is recorded as evidence (hashed, its metadata read) but no derivatives can be
    /// made (HEIF: its HEVC pixels are not decoded). Only ever found in
    /// [`Photo::derivatives`]: not a refusal.
    #[error("no preview can be made: {detail}")]
    PreviewUnavailable {
        /// Why.
        detail: String,
    },
}

impl EvidenceError {
    /// The variant's name: `"Empty"`, `"UnsupportedFormat"`, `"Truncated"`, `"TooLarge"`,
    /// `"Corrupt"` or `"PreviewUnavailable"` (stable: used in JSON output and by the phones).
    pub fn kind(&self) -> &'static str {
        match self {
            EvidenceError::Empty => "Empty",
            EvidenceError::UnsupportedFormat { .. } => "UnsupportedFormat",
            EvidenceError::Truncated { .. } => "Truncated",
            EvidenceError::TooLarge { .. } => "TooLarge",
            EvidenceError::Corrupt { .. } => "Corrupt",
            EvidenceError::PreviewUnavailable { .. } => "PreviewUnavailable",
        }
    }

    fn unsupported(detail: impl Into<String>) -> Self {
        EvidenceError::UnsupportedFormat {
            detail: detail.into(),
        }
    }

    fn truncated(detail: impl Into<String>) -> Self {
        EvidenceError::Truncated {
            detail: detail.into(),
        }
    }

    fn corrupt(detail: impl Into<String>) -> Self {
        EvidenceError::Corrupt {
            detail: detail.into(),
        }
    }

    fn too_large(detail: impl Into<String>) -> Self {
        EvidenceError::TooLarge {
            detail: detail.into(),
        }
    }
}

/// Serialized as `{"kind": "Truncated", "message": "the file is truncated: …"}`.
impl Serialize for EvidenceError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("EvidenceError", 2)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

/// Sniffs the container format from the first bytes (never a file name).
///
/// # Errors
/// [`EvidenceError::Empty`] for no bytes; [`EvidenceError::Truncated`] when the bytes are a
/// proper prefix of a signature (a file cut in its first bytes);
/// [`EvidenceError::UnsupportedFormat`] otherwise, naming the format when it is a known other
/// one (GIF, WebP, TIFF, AVIF, PDF, …).
pub fn detect_format(bytes: &[u8]) -> Result<PhotoFormat, EvidenceError> {
    container::detect_format(bytes)
}

/// Runs the pipeline on one photo's bytes: hash, sniff, completeness check, metadata, decode
/// under `limits`, derivatives.
///
/// The input is only read. The SHA-256 is of these exact bytes.
///
/// # Errors
/// - [`EvidenceError::Empty`]: no bytes.
/// - [`EvidenceError::UnsupportedFormat`]: not JPEG/PNG/HEIF by content, or an unsupported
///   coding of one.
/// - [`EvidenceError::Truncated`]: the file ends before its structure does.
/// - [`EvidenceError::TooLarge`]: over a limit of [`PhotoLimits`] (checked from the header
///   before decoding; for HEIF, the size its `ispe` property claims).
/// - [`EvidenceError::Corrupt`]: invalid structure or compressed data.
///
/// A HEIF photo gives `Ok` with `derivatives: Err(PreviewUnavailable)`.
pub fn process_photo(bytes: &[u8], limits: &PhotoLimits) -> Result<Photo, EvidenceError> {
    limits.check_input_len(bytes.len() as u64)?;
    let format = detect_format(bytes)?;
    let (stored_size, oriented_size, metadata, derivatives) = match format {
        PhotoFormat::Jpeg => {
            let info = container::walk_jpeg(bytes)?;
            if info.end < bytes.len() {
                // Kept: the original is never modified. Phones append MPF images, depth maps.
                tracing::debug!(
                    trailing_bytes = bytes.len() - info.end,
                    "data after the JPEG end-of-image marker"
                );
            }
            let metadata = metadata::from_exif_block(info.exif);
            let size = (info.width, info.height);
            check_decode(
                size,
                info.decoded_bytes(),
                info.decoder_working_bytes(),
                info.channels(),
                limits,
            )?;
            let full = decode_checked(bytes, limits, || {
                entropy::check_scans(&info.frame, &info.scans)
            })?;
            let derivatives = raster::derive(full, metadata.orientation, info.icc.as_deref())?;
            let oriented = orient_size(size, metadata.orientation);
            (Some(size), Some(oriented), metadata, Ok(derivatives))
        }
        PhotoFormat::Png => {
            let info = container::walk_png(bytes)?;
            let metadata = metadata::from_exif_block(info.exif);
            let size = (info.width, info.height);
            check_decode(
                size,
                info.decoded_bytes(),
                info.decoder_working_bytes(),
                info.channels(),
                limits,
            )?;
            let full = raster::decode(bytes, format, limits)?;
            // PNG colour profiles (iCCP, cICP) are not read: PNGs are taken as sRGB.
            let derivatives = raster::derive(full, metadata.orientation, None)?;
            let oriented = orient_size(size, metadata.orientation);
            (Some(size), Some(oriented), metadata, Ok(derivatives))
        }
        PhotoFormat::Heif => {
            let info = heif::walk(bytes)?;
            // The sizes are claims of the container (nothing is decoded), but a record must not
            // carry a size no photo can have: the same limits as for JPEG and PNG.
            for size in [info.stored_size, info.oriented_size].into_iter().flatten() {
                check_size(size, limits)?;
            }
            let metadata = metadata::from_heif(bytes);
            let unavailable = EvidenceError::PreviewUnavailable {
                detail: "HEIF/HEIC pixels (HEVC) are not decoded by zhichao; the original is kept \
                         as evidence with its metadata"
                    .to_owned(),
            };
            (
                info.stored_size,
                info.oriented_size,
                metadata,
                Err(unavailable),
            )
        }
    };
    let photo = Photo {
        sha256: EvidenceId::of(bytes),
        format,
        byte_len: bytes.len() as u64,
        stored_size,
        oriented_size,
        metadata,
        derivatives,
    };
    tracing::debug!(
        sha256 = %photo.sha256,
        format = %photo.format,
        byte_len = photo.byte_len,
        "photo processed"
    );
    Ok(photo)
}

/// Decodes a JPEG while `check` (the scan check, [`entropy::check_scans`]) runs on another
/// thread: the check costs about 40 % of the decode (it reads every Huffman code), and on a
/// phone or server with a second core it then costs no time. The decoded image is only used
/// when the check passes; a failed check is the error, whatever the decoder said (the decoder
/// fills what is missing). Without a thread (it cannot be created), the check runs first.
fn decode_checked(
    bytes: &[u8],
    limits: &PhotoLimits,
    check: impl FnOnce() -> Result<(), EvidenceError> + Send,
) -> Result<raster::Raster, EvidenceError> {
    fn run(check: Option<impl FnOnce() -> Result<(), EvidenceError>>) -> Result<(), EvidenceError> {
        let failed =
            || EvidenceError::corrupt("the check of the JPEG image data failed on this file");
        match check {
            Some(check) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(check))
                .unwrap_or_else(|_| Err(failed())),
            None => Err(failed()),
        }
    }
    let mut pending = Some(check);
    let outcome = std::thread::scope(|scope| {
        let slot = &mut pending;
        let spawned = std::thread::Builder::new()
            .name("jpeg-scan-check".to_owned())
            .spawn_scoped(scope, move || run(slot.take()));
        match spawned {
            Ok(checking) => {
                let decoded = raster::decode(bytes, PhotoFormat::Jpeg, limits);
                let checked = checking
                    .join()
                    .unwrap_or_else(|_| run(None::<fn() -> Result<(), EvidenceError>>));
                Some(checked.and(decoded))
            }
            Err(e) => {
                tracing::debug!(error = %e, "no thread for the scan check; checking first");
                None
            }
        }
    });
    match outcome {
        Some(result) => result,
        None => {
            run(pending.take())?;
            raster::decode(bytes, PhotoFormat::Jpeg, limits)
        }
    }
}

/// The size shown after applying EXIF orientation `orientation` (5..=8 swap the sides).
fn orient_size((w, h): (u32, u32), orientation: u8) -> (u32, u32) {
    if (5..=8).contains(&orientation) {
        (h, w)
    } else {
        (w, h)
    }
}

/// Checks a size from a header against [`PhotoLimits::max_pixels`] and
/// [`PhotoLimits::max_side_px`].
fn check_size((w, h): (u32, u32), limits: &PhotoLimits) -> Result<(), EvidenceError> {
    if w == 0 || h == 0 {
        return Err(EvidenceError::corrupt(format!(
            "the header gives an empty image ({w} × {h} pixels)"
        )));
    }
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        return Err(EvidenceError::too_large(format!(
            "the image claims {w} × {h} pixels ({}), over the limit of {} pixels",
            group(pixels),
            group(limits.max_pixels)
        )));
    }
    if w.max(h) > limits.max_side_px {
        return Err(EvidenceError::too_large(format!(
            "the image claims {w} × {h} pixels, a side over the limit of {} pixels a side",
            group(u64::from(limits.max_side_px))
        )));
    }
    Ok(())
}

/// The size and the peak memory of decoding it ([`raster::peak_bytes`] of the decoder's
/// output, its working memory and the channels kept) against `limits`, before anything is
/// allocated.
fn check_decode(
    size: (u32, u32),
    decoded_bytes: u64,
    working_bytes: u64,
    channels: u8,
    limits: &PhotoLimits,
) -> Result<(), EvidenceError> {
    check_size(size, limits)?;
    check_alloc(
        raster::peak_bytes(size, decoded_bytes, working_bytes, channels),
        limits,
    )
}

fn check_alloc(bytes: u64, limits: &PhotoLimits) -> Result<(), EvidenceError> {
    if bytes > limits.max_alloc_bytes {
        return Err(EvidenceError::too_large(format!(
            "decoding it and making its derivatives needs {} bytes ({}), over the decode \
             allocation limit of {} bytes ({})",
            group(bytes),
            mib(bytes),
            group(limits.max_alloc_bytes),
            mib(limits.max_alloc_bytes)
        )));
    }
    Ok(())
}

/// `1234567` → `1 234 567` (thin groups, as the command line prints weights).
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// `67108864` → `64 MiB`, `1500000` → `1.4 MiB`.
fn mib(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n.is_multiple_of(MIB) {
        format!("{} MiB", group(n / MIB))
    } else {
        // Display only: the exact count is printed beside it.
        let value = n as f64 / MIB as f64;
        format!("{value:.1} MiB")
    }
}
