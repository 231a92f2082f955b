//! Format sniffing and the structural walks of JPEG and PNG files: where the image starts and
//! ends, its size from the header, and its EXIF block — without decoding a pixel.
//!
//! Decoders are lenient by design: zune-jpeg (behind `image`) fills a cut scan with grey and
//! reports success. Evidence must not be silently damaged, so completeness is decided here,
//! from the file's own structure, before anything is decoded.

use super::entropy::{Frame, FrameComponent, MAX_SCANS, ScanSegment};
use super::{EvidenceError, PhotoFormat, group, heif};

/// The PNG signature (ISO/IEC 15948 §5.2).
pub(super) const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// The JPEG start: SOI (`FF D8`) followed by the first marker's `FF`.
const JPEG_SIGNATURE: [u8; 3] = [0xFF, 0xD8, 0xFF];

pub(super) fn detect_format(bytes: &[u8]) -> Result<PhotoFormat, EvidenceError> {
    if bytes.is_empty() {
        return Err(EvidenceError::Empty);
    }
    if bytes.starts_with(&JPEG_SIGNATURE) {
        return Ok(PhotoFormat::Jpeg);
    }
    if bytes.starts_with(&PNG_SIGNATURE) {
        return Ok(PhotoFormat::Png);
    }
    if let Some(result) = heif::sniff(bytes) {
        return result;
    }
    if bytes.len() < PNG_SIGNATURE.len()
        && (JPEG_SIGNATURE.starts_with(bytes) || PNG_SIGNATURE.starts_with(bytes))
    {
        return Err(EvidenceError::truncated(format!(
            "only {} byte(s), the start of a JPEG or PNG signature",
            bytes.len()
        )));
    }
    Err(EvidenceError::unsupported(match other_format(bytes) {
        Some(name) => format!("{name} is not accepted as photo evidence; use JPEG, PNG or HEIC"),
        None => format!(
            "not a JPEG, PNG or HEIF photo (the file starts with {})",
            hex_prefix(bytes)
        ),
    }))
}

/// Names a few formats people send instead of photos, for a clearer message.
fn other_format(bytes: &[u8]) -> Option<&'static str> {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("GIF")
    } else if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("WebP")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("TIFF (or a camera raw file)")
    } else if starts(b"%PDF") {
        Some("PDF")
    } else if starts(b"BM") && bytes.len() >= 26 {
        Some("BMP")
    } else if starts(&[0, 0, 0, 0x0C, b'j', b'P', b' ', b' ']) {
        Some("JPEG 2000")
    } else if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL ") {
        Some("JPEG XL")
    } else {
        None
    }
}

/// Up to the first 8 bytes as hex, for messages.
pub(super) fn hex_prefix(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 8 { " …" } else { "" };
    format!("{}{more}", shown.join(" "))
}

/// What the marker walk of a JPEG found.
#[derive(Debug)]
pub(super) struct JpegInfo<'a> {
    /// Frame width, pixels (SOF).
    pub(super) width: u32,
    /// Frame height, pixels (SOF).
    pub(super) height: u32,
    /// Number of components (1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK).
    pub(super) components: u8,
    /// Progressive (SOF2): the decoder keeps every coefficient until the last scan.
    pub(super) progressive: bool,
    /// Blocks of 8×8 samples over all components, rounded to whole MCUs (the decoder's
    /// coefficient store).
    pub(super) blocks: u64,
    /// The frame header: components with their sampling factors.
    pub(super) frame: Frame,
    /// Every scan in file order, with the coding tables in force (checked by
    /// [`super::entropy::check_scans`]).
    pub(super) scans: Vec<ScanSegment<'a>>,
    /// The TIFF structure of the first `APP1` EXIF segment (after `Exif\0\0`).
    pub(super) exif: Option<&'a [u8]>,
    /// The embedded ICC profile (`APP2 ICC_PROFILE` chunks joined), when complete.
    pub(super) icc: Option<Vec<u8>>,
    /// Offset just after the end-of-image marker (anything after it is trailing data).
    pub(super) end: usize,
}

/// The ICC profile from `APP2 ICC_PROFILE` chunks (sequence number, count, data), joined in
/// order; `None` when chunks are missing or inconsistent.
fn join_icc(chunks: &mut [(u8, u8, &[u8])]) -> Option<Vec<u8>> {
    chunks.sort_by_key(|c| c.0);
    let total = chunks.first()?.1;
    let complete = usize::from(total) == chunks.len()
        && chunks
            .iter()
            .enumerate()
            .all(|(i, c)| usize::from(c.0) == i + 1 && c.1 == total);
    complete.then(|| chunks.iter().flat_map(|c| c.2.iter().copied()).collect())
}

impl JpegInfo<'_> {
    /// Bytes per pixel of the decoded image: 1 for grey, 3 for everything else (CMYK and
    /// YCCK are converted to RGB by the decoder).
    pub(super) fn channels(&self) -> u8 {
        if self.components == 1 { 1 } else { 3 }
    }

    /// Bytes of the decoded image (the buffer the decoder writes into).
    pub(super) fn decoded_bytes(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * u64::from(self.channels())
    }

    /// Bytes allocated besides the decoder's output while it decodes: the coefficients of
    /// every block (64 × i16) when the image comes in several scans (progressive, or sequential
    /// with one scan per component), and its row buffers (per component some MCU rows of 16-bit
    /// samples, before and after upsampling; counted generously as 512 bytes per column); and,
    /// for a progressive image, the scan check's 8 bytes a block (it runs at the same time).
    pub(super) fn decoder_working_bytes(&self) -> u64 {
        let multi_scan = self.progressive
            || self
                .scans
                .first()
                .and_then(|s| s.header.first())
                .is_some_and(|&ns| usize::from(ns) < self.frame.components.len());
        let coefficients = if multi_scan {
            self.blocks.saturating_mul(128)
        } else {
            0
        };
        let scan_check = if self.progressive {
            self.blocks.saturating_mul(8)
        } else {
            0
        };
        let padded_width = u64::from(self.width).div_ceil(32) * 32;
        let rows = padded_width * u64::from(self.components) * 512;
        coefficients.saturating_add(scan_check).saturating_add(rows)
    }
}

/// Walks the marker segments of a JPEG (ITU-T T.81 Annex B) from SOI to EOI: segment lengths
/// are followed (so an EXIF thumbnail's own SOI/EOI inside `APP1` is skipped), and after each
/// SOS the entropy-coded data is scanned to the marker that ends it (`FF 00` stuffing and
/// `RSTn` belong to the data). Bytes after EOI are accepted (some phones append data). Stray
/// bytes between segments are skipped here; the decoder (strict mode) refuses more than 3.
///
/// The Huffman tables (DHT) and restart interval (DRI) in force at each scan are recorded with
/// it, for [`super::entropy::check_scans`] — which is not run here: it allocates per block, so it runs
/// after the size is checked against the limits.
///
/// # Errors
/// `Truncated` when the file ends before EOI (inside a segment or a scan), `Corrupt` for a
/// structure that cannot be a JPEG, `UnsupportedFormat` for codings the decoder lacks
/// (lossless, hierarchical, arithmetic).
pub(super) fn walk_jpeg(bytes: &[u8]) -> Result<JpegInfo<'_>, EvidenceError> {
    let len = bytes.len();
    let mut pos = 2; // after SOI
    let mut frame: Option<(Frame, u64)> = None;
    let mut exif = None;
    let mut icc: Vec<(u8, u8, &[u8])> = Vec::new();
    let mut tables: [Option<&[u8]>; 8] = [None; 8];
    let mut restart_interval = 0u16;
    let mut scans: Vec<ScanSegment<'_>> = Vec::new();
    loop {
        // Find the next marker. Bytes other than FF between segments are tolerated (libjpeg
        // warns about "extraneous bytes" and skips them too); FF fill bytes are skipped.
        while pos < len && bytes[pos] != 0xFF {
            pos += 1;
        }
        while pos < len && bytes[pos] == 0xFF {
            pos += 1;
        }
        if pos >= len {
            return Err(missing_eoi(len, scans.len()));
        }
        let marker = bytes[pos];
        let marker_at = pos - 1;
        pos += 1;
        match marker {
            // End of image.
            0xD9 => {
                let Some((frame, blocks)) = frame else {
                    return Err(EvidenceError::corrupt(
                        "the JPEG ends (end-of-image marker) without a frame header",
                    ));
                };
                if scans.is_empty() {
                    return Err(EvidenceError::corrupt(
                        "the JPEG ends (end-of-image marker) without any image data (no scan)",
                    ));
                }
                return Ok(JpegInfo {
                    width: frame.width,
                    height: frame.height,
                    // 1, 3 or 4 (checked by `parse_sof`).
                    components: frame.components.len() as u8,
                    progressive: frame.progressive,
                    blocks,
                    frame,
                    scans,
                    exif,
                    icc: join_icc(&mut icc),
                    end: pos,
                });
            }
            0xD8 => {
                return Err(EvidenceError::corrupt(format!(
                    "a second start-of-image marker at offset {marker_at}"
                )));
            }
            // Stand-alone markers: TEM, RSTn (outside a scan they carry nothing).
            0x01 | 0xD0..=0xD7 => continue,
            // FF 00 outside a scan: stray stuffing, tolerated like other extraneous bytes.
            0x00 => continue,
            _ => {}
        }
        // A segment with a length.
        if pos + 2 > len {
            return Err(EvidenceError::truncated(format!(
                "the file ends inside the header of the segment at offset {marker_at} (FF {marker:02X}), \
                 after {} bytes; no end-of-image marker",
                group(len as u64)
            )));
        }
        let seg_len = usize::from(u16::from_be_bytes([bytes[pos], bytes[pos + 1]]));
        if seg_len < 2 {
            return Err(EvidenceError::corrupt(format!(
                "the segment at offset {marker_at} (FF {marker:02X}) has an invalid length {seg_len}"
            )));
        }
        let body_start = pos + 2;
        let seg_end = pos + seg_len;
        if seg_end > len {
            return Err(EvidenceError::truncated(format!(
                "the file ends inside the segment at offset {marker_at} (FF {marker:02X}, {seg_len} bytes), \
                 after {} bytes; no end-of-image marker",
                group(len as u64)
            )));
        }
        let body = &bytes[body_start..seg_end];
        match marker {
            // APP1: the first one starting "Exif\0" holds the EXIF TIFF structure.
            0xE1 if exif.is_none() && body.len() >= 6 && body.starts_with(b"Exif\0") => {
                exif = Some(&body[6..]);
            }
            // APP2 ICC profile chunks: "ICC_PROFILE\0", sequence number, count, data.
            0xE2 if body.len() > 14 && body.starts_with(b"ICC_PROFILE\0") && icc.len() < 255 => {
                icc.push((body[12], body[13], &body[14..]));
            }
            // Baseline, extended sequential, progressive (Huffman).
            0xC0..=0xC2 => {
                if frame.is_some() {
                    return Err(EvidenceError::corrupt(format!(
                        "a second frame header at offset {marker_at} (FF {marker:02X})"
                    )));
                }
                frame = Some(parse_sof(body, marker, marker_at)?);
            }
            // Lossless, hierarchical, arithmetic coding: outside what zune-jpeg decodes.
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                let kind = match marker {
                    0xC3 => "lossless",
                    0xC5..=0xC7 => "hierarchical",
                    _ => "arithmetic-coded",
                };
                return Err(EvidenceError::unsupported(format!(
                    "{kind} JPEG (frame marker FF {marker:02X}) is not supported"
                )));
            }
            // Huffman tables.
            0xC4 => parse_dht(body, marker_at, &mut tables)?,
            // Restart interval.
            0xDD => {
                let [hi, lo] = body else {
                    return Err(EvidenceError::corrupt(format!(
                        "the restart interval segment at offset {marker_at} has {} bytes, not 2",
                        body.len()
                    )));
                };
                restart_interval = u16::from_be_bytes([*hi, *lo]);
            }
            0xDA => {
                if frame.is_none() {
                    return Err(EvidenceError::corrupt(format!(
                        "image data (scan at offset {marker_at}) before the frame header"
                    )));
                }
                if scans.len() >= MAX_SCANS {
                    return Err(EvidenceError::corrupt(format!(
                        "more than {MAX_SCANS} scans (a JPEG has at most a few dozen)"
                    )));
                }
                let number = scans.len() + 1;
                let data_end = skip_entropy_data(bytes, seg_end).ok_or_else(|| {
                    EvidenceError::truncated(format!(
                        "the image data of scan {number} (from offset {seg_end}) runs to the end of the file \
                         ({} bytes) without an end-of-image marker",
                        group(len as u64)
                    ))
                })?;
                // `skip_entropy_data` stops at the last FF before a marker byte.
                let last = bytes.get(data_end + 1) == Some(&0xD9);
                scans.push(ScanSegment {
                    marker_at,
                    header: body,
                    data: &bytes[seg_end..data_end],
                    restart_interval,
                    tables,
                    last,
                });
                pos = data_end;
                continue;
            }
            _ => {}
        }
        pos = seg_end;
    }
}

fn missing_eoi(len: usize, scans: usize) -> EvidenceError {
    if scans == 0 {
        EvidenceError::truncated(format!(
            "the file ends after {} bytes, before any image data; no end-of-image marker",
            group(len as u64)
        ))
    } else {
        EvidenceError::truncated(format!(
            "no end-of-image marker (FF D9) after {} bytes",
            group(len as u64)
        ))
    }
}

/// Records the Huffman tables of a DHT segment (T.81 B.2.4.2): per table, class and number,
/// 16 code-length counts, then the symbols.
fn parse_dht<'a>(
    mut body: &'a [u8],
    marker_at: usize,
    tables: &mut [Option<&'a [u8]>; 8],
) -> Result<(), EvidenceError> {
    let bad = |what: &str| {
        EvidenceError::corrupt(format!(
            "the Huffman table segment at offset {marker_at} {what}"
        ))
    };
    while let Some((&tc_th, rest)) = body.split_first() {
        let (class, number) = (tc_th >> 4, tc_th & 0x0F);
        if class > 1 || number > 3 {
            return Err(bad(&format!("defines table class {class} number {number}")));
        }
        let counts = rest.get(..16).ok_or_else(|| bad("is too short"))?;
        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if n == 0 || n > 256 {
            return Err(bad(&format!("defines a table of {n} codes")));
        }
        let spec = rest.get(..16 + n).ok_or_else(|| bad("is too short"))?;
        tables[usize::from(class) * 4 + usize::from(number)] = Some(spec);
        body = &rest[16 + n..];
    }
    Ok(())
}

/// From the first byte of entropy-coded data, the offset of the `FF` of the marker that ends
/// it; `None` when the data runs to the end of the file.
fn skip_entropy_data(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let ff = pos + bytes.get(pos..)?.iter().position(|&b| b == 0xFF)?;
        // FF FF… is fill before a marker; FF 00 is a stuffed data byte; FF D0..D7 restart
        // markers are part of the scan.
        let mut next = ff + 1;
        while *bytes.get(next)? == 0xFF {
            next += 1;
        }
        match bytes[next] {
            0x00 | 0xD0..=0xD7 => pos = next + 1,
            _ => return Some(next - 1),
        }
    }
}

/// Parses a frame header (SOF0..SOF2): precision, size, components and their sampling; also
/// returns the blocks of all components, rounded to whole MCUs.
fn parse_sof(body: &[u8], marker: u8, marker_at: usize) -> Result<(Frame, u64), EvidenceError> {
    let bad = |what: &str| {
        EvidenceError::corrupt(format!(
            "the frame header at offset {marker_at} (FF {marker:02X}) {what}"
        ))
    };
    if body.len() < 6 {
        return Err(bad("is too short"));
    }
    let precision = body[0];
    let height = u32::from(u16::from_be_bytes([body[1], body[2]]));
    let width = u32::from(u16::from_be_bytes([body[3], body[4]]));
    let count = body[5];
    if precision != 8 {
        return Err(EvidenceError::unsupported(format!(
            "{precision}-bit JPEG samples are not supported (only 8-bit)"
        )));
    }
    if height == 0 {
        return Err(EvidenceError::unsupported(
            "JPEG whose height is defined later (DNL marker) is not supported",
        ));
    }
    if width == 0 {
        return Err(bad("gives a width of 0"));
    }
    if !matches!(count, 1 | 3 | 4) {
        return Err(bad(&format!("has {count} components (expected 1, 3 or 4)")));
    }
    let n = usize::from(count);
    if body.len() < 6 + 3 * n {
        return Err(bad("is too short for its components"));
    }
    let components: Vec<FrameComponent> = (0..n)
        .map(|i| {
            let s = body[6 + 3 * i + 1];
            FrameComponent {
                id: body[6 + 3 * i],
                h: s >> 4,
                v: s & 0x0F,
            }
        })
        .collect();
    if components
        .iter()
        .any(|c| !(1..=4).contains(&c.h) || !(1..=4).contains(&c.v))
    {
        return Err(bad("has an invalid sampling factor"));
    }
    if (1..n).any(|i| components[..i].iter().any(|c| c.id == components[i].id)) {
        return Err(bad("names a component twice"));
    }
    let h_max = components.iter().map(|c| u32::from(c.h)).max().unwrap_or(1);
    let v_max = components.iter().map(|c| u32::from(c.v)).max().unwrap_or(1);
    let blocks = components
        .iter()
        .map(|c| {
            let (h, v) = (u32::from(c.h), u32::from(c.v));
            let cw = (u64::from(width) * u64::from(h)).div_ceil(u64::from(h_max));
            let ch = (u64::from(height) * u64::from(v)).div_ceil(u64::from(v_max));
            // Whole MCUs are coded: round up to the component's MCU size.
            let bw = cw.div_ceil(8 * u64::from(h)) * u64::from(h);
            let bh = ch.div_ceil(8 * u64::from(v)) * u64::from(v);
            bw * bh
        })
        .sum();
    let frame = Frame {
        width,
        height,
        components,
        progressive: marker == 0xC2,
    };
    Ok((frame, blocks))
}

/// What the chunk walk of a PNG found.
#[derive(Debug)]
pub(super) struct PngInfo<'a> {
    /// Width, pixels (IHDR).
    pub(super) width: u32,
    /// Height, pixels (IHDR).
    pub(super) height: u32,
    /// Colour type (IHDR): 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA.
    pub(super) colour_type: u8,
    /// Bits per sample (IHDR): 1, 2, 4, 8 or 16.
    pub(super) bit_depth: u8,
    /// A transparency chunk (`tRNS`) before the image data: the decoder adds an alpha channel.
    pub(super) transparency: bool,
    /// The `eXIf` chunk's TIFF structure.
    pub(super) exif: Option<&'a [u8]>,
}

impl PngInfo<'_> {
    /// Bytes per pixel of the decoded buffer, as the decoder (`png` with `EXPAND`, behind
    /// `image`) produces it: low bit depths and palettes expanded to 8 bits, `tRNS` to an
    /// alpha channel, 16-bit samples kept.
    pub(super) fn decoded_bytes_per_pixel(&self) -> u64 {
        let channels: u64 = match self.colour_type {
            0 => 1,
            2 | 3 => 3,
            4 => 2,
            _ => 4,
        };
        let alpha = u64::from(self.transparency && matches!(self.colour_type, 0 | 2 | 3));
        let sample = if self.bit_depth == 16 { 2 } else { 1 };
        (channels + alpha) * sample
    }

    /// Bytes of the decoded image.
    pub(super) fn decoded_bytes(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * self.decoded_bytes_per_pixel()
    }

    /// Bytes of the 8-bit image made from it in place: grey (1) or RGB (3) per pixel — alpha is
    /// flattened, grey with alpha stays grey.
    pub(super) fn channels(&self) -> u8 {
        if matches!(self.colour_type, 0 | 4) {
            1
        } else {
            3
        }
    }

    /// Bytes the decoder allocates besides its output: a window of filtered rows (the `png`
    /// crate keeps at least 4 rows or 128 KiB before it shifts its buffer back; counted as 8
    /// rows and 1 MiB) and an output row.
    pub(super) fn decoder_working_bytes(&self) -> u64 {
        let bits_per_pixel = u64::from(self.bit_depth)
            * match self.colour_type {
                0 | 3 => 1,
                2 => 3,
                4 => 2,
                _ => 4,
            };
        let raw_row = (u64::from(self.width) * bits_per_pixel).div_ceil(8) + 1;
        let out_row = u64::from(self.width) * self.decoded_bytes_per_pixel();
        raw_row * 8 + out_row + 1024 * 1024
    }
}

/// Walks the chunks of a PNG from `IHDR` to `IEND` (ISO/IEC 15948 §5.3): each chunk is length,
/// type, data, CRC. Bytes after `IEND` are accepted. CRCs and the compressed data are checked
/// by the decoder. Not checked: palette indices beyond the palette, which the decoder (`png`)
/// shows as opaque black without an error.
///
/// # Errors
/// `Truncated` when the file ends inside a chunk or before `IEND`, `Corrupt` for an invalid
/// structure (no `IHDR` first, no `IDAT`, a chunk length over 2³¹ − 1).
pub(super) fn walk_png(bytes: &[u8]) -> Result<PngInfo<'_>, EvidenceError> {
    let len = bytes.len();
    let mut pos = PNG_SIGNATURE.len();
    let mut header: Option<(u32, u32, u8, u8)> = None;
    let mut exif = None;
    let mut idat = false;
    let mut transparency = false;
    loop {
        if pos + 8 > len {
            return Err(EvidenceError::truncated(format!(
                "the file ends after {} bytes without the end chunk (IEND){}",
                group(len as u64),
                if idat { "" } else { ", before any image data" }
            )));
        }
        let chunk_len =
            u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
        let kind = &bytes[pos + 4..pos + 8];
        let name = String::from_utf8_lossy(kind).into_owned();
        if chunk_len > i32::MAX as u32 {
            return Err(EvidenceError::corrupt(format!(
                "the chunk {name:?} at offset {pos} claims {chunk_len} bytes (over 2^31 - 1)"
            )));
        }
        let data_start = pos + 8;
        let data_end = data_start + chunk_len as usize;
        let chunk_end = data_end + 4;
        if chunk_end > len {
            return Err(EvidenceError::truncated(format!(
                "the file ends inside the chunk {name:?} at offset {pos} ({} bytes), after {} bytes; \
                 no end chunk (IEND)",
                group(u64::from(chunk_len)),
                group(len as u64)
            )));
        }
        let data = &bytes[data_start..data_end];
        if header.is_none() && kind != b"IHDR" {
            return Err(EvidenceError::corrupt(format!(
                "the first chunk is {name:?}, not the header (IHDR)"
            )));
        }
        match kind {
            b"IHDR" => {
                if header.is_some() {
                    return Err(EvidenceError::corrupt("a second header chunk (IHDR)"));
                }
                header = Some(parse_ihdr(data)?);
            }
            b"IDAT" => idat = true,
            b"tRNS" if !idat => transparency = true,
            b"eXIf" if exif.is_none() => {
                // Some writers keep the JPEG APP1 prefix; the chunk should start with the
                // TIFF header itself.
                exif = Some(data.strip_prefix(b"Exif\0\0").unwrap_or(data));
            }
            b"IEND" => {
                let Some((width, height, colour_type, bit_depth)) = header else {
                    return Err(EvidenceError::corrupt("no header chunk (IHDR)"));
                };
                if !idat {
                    return Err(EvidenceError::corrupt("no image data chunk (IDAT)"));
                }
                return Ok(PngInfo {
                    width,
                    height,
                    colour_type,
                    bit_depth,
                    transparency,
                    exif,
                });
            }
            _ => {}
        }
        pos = chunk_end;
    }
}

/// Width, height, colour type and bit depth from IHDR data.
fn parse_ihdr(data: &[u8]) -> Result<(u32, u32, u8, u8), EvidenceError> {
    if data.len() != 13 {
        return Err(EvidenceError::corrupt(format!(
            "the header chunk (IHDR) has {} bytes, not 13",
            data.len()
        )));
    }
    let width = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let height = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    let depth = data[8];
    let colour = data[9];
    let limit = i32::MAX as u32;
    if width == 0 || height == 0 || width > limit || height > limit {
        return Err(EvidenceError::corrupt(format!(
            "the header chunk (IHDR) gives an invalid size {width} × {height}"
        )));
    }
    let valid = matches!(
        (colour, depth),
        (0, 1 | 2 | 4 | 8 | 16) | (2, 8 | 16) | (3, 1 | 2 | 4 | 8) | (4, 8 | 16) | (6, 8 | 16)
    );
    if !valid {
        return Err(EvidenceError::corrupt(format!(
            "the header chunk (IHDR) gives an invalid colour type {colour} with bit depth {depth}"
        )));
    }
    Ok((width, height, colour, depth))
}
