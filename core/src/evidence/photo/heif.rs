//! HEIF/HEIC (ISO/IEC 23008-12) containers: the brand in the `ftyp` box, completeness of the
//! top-level boxes, and the primary item's size from its properties (`ispe`, `clap`, `irot`).
//!
//! HEIF pixels are HEVC-coded and not decoded here; but the size and the capture metadata
//! are in the container, and a record of a HEIC photo should carry them.

use super::{EvidenceError, PhotoFormat, group};

/// Brands of HEIF image files (ISO/IEC 23008-12 Annex B): HEVC-coded (`heic`, `heix`, `heim`,
/// `heis`; sequences `hevc`, `hevx`) and the generic image/sequence brands (`mif1`, `msf1`).
const HEIF_BRANDS: [&[u8; 4]; 8] = [
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
];

/// AVIF brands (AV1 in HEIF): a different codec, not accepted.
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];

/// The `ftyp` box's brands when `bytes` starts with one (size, `ftyp`, major brand, minor
/// version, compatible brands).
fn ftyp_brands(bytes: &[u8]) -> Option<Vec<[u8; 4]>> {
    if bytes.get(4..8)? != b"ftyp" {
        return None;
    }
    let size = usize::try_from(read_u32(bytes, 0)?).ok()?;
    if size < 16 || size > bytes.len() {
        return None;
    }
    let mut brands = vec![bytes.get(8..12)?.try_into().ok()?];
    brands.extend(
        bytes[16..size]
            .chunks_exact(4)
            .filter_map(|c| <[u8; 4]>::try_from(c).ok()),
    );
    Some(brands)
}

/// `Some` when the bytes are an ISO-BMFF file: `Ok(Heif)` for a HEIF brand,
/// `UnsupportedFormat` for AVIF and other ISO-BMFF files (MP4, MOV, …).
pub(super) fn sniff(bytes: &[u8]) -> Option<Result<PhotoFormat, EvidenceError>> {
    if bytes.get(4..8) == Some(b"ftyp")
        && read_u32(bytes, 0).is_some_and(|size| u64::from(size) > bytes.len() as u64)
    {
        return Some(Err(EvidenceError::truncated(format!(
            "the file ends inside its file-type box (ftyp), after {} bytes",
            bytes.len()
        ))));
    }
    let brands = ftyp_brands(bytes)?;
    let is = |set: &[&[u8; 4]]| brands.iter().any(|b| set.contains(&b));
    let hevc_brands = &HEIF_BRANDS[..6];
    Some(if is(hevc_brands) {
        Ok(PhotoFormat::Heif)
    } else if is(&AVIF_BRANDS) {
        Err(EvidenceError::unsupported(
            "AVIF (AV1 in HEIF) is not accepted as photo evidence; use JPEG, PNG or HEIC",
        ))
    } else if is(&HEIF_BRANDS) {
        Ok(PhotoFormat::Heif)
    } else {
        let major = String::from_utf8_lossy(&brands[0]).into_owned();
        Err(EvidenceError::unsupported(format!(
            "an ISO media file of brand {major:?} (a video?), not a HEIF photo"
        )))
    })
}

/// What the container says about the primary image's size.
#[derive(Debug, Default)]
pub(super) struct HeifInfo {
    /// `ispe` of the primary item: (width, height) as coded.
    pub(super) stored_size: Option<(u32, u32)>,
    /// After the primary item's transformative properties (`clap`, `irot`) in order.
    pub(super) oriented_size: Option<(u32, u32)>,
}

/// Checks that the top-level boxes fill the file and reads the primary item's size.
///
/// # Errors
/// `Truncated` when a box runs past the end of the file, `Corrupt` when there is no `meta`
/// box (no image items at all) or a box size is invalid.
pub(super) fn walk(bytes: &[u8]) -> Result<HeifInfo, EvidenceError> {
    let mut meta = None;
    for item in Boxes::new(bytes) {
        let (kind, body) = match item {
            Ok(b) => b,
            Err(BoxError::PastEnd { kind, at, size }) => {
                return Err(EvidenceError::truncated(format!(
                    "the box {:?} at offset {at} claims {} bytes, but the file ends after {} bytes",
                    String::from_utf8_lossy(&kind),
                    group(size),
                    group(bytes.len() as u64)
                )));
            }
            Err(BoxError::Header { at }) => {
                return Err(EvidenceError::truncated(format!(
                    "the file ends inside a box header at offset {at}, after {} bytes",
                    group(bytes.len() as u64)
                )));
            }
            Err(BoxError::Invalid { at }) => {
                return Err(EvidenceError::corrupt(format!(
                    "invalid box size at offset {at}"
                )));
            }
        };
        if &kind == b"meta" && meta.is_none() {
            meta = Some(body);
        }
    }
    let meta = meta.ok_or_else(|| {
        EvidenceError::corrupt("no metadata box (meta): the file holds no image items")
    })?;
    Ok(primary_geometry(meta).unwrap_or_default())
}

/// The primary item's `ispe`, and its size after `clap`/`irot` in association order.
fn primary_geometry(meta: &[u8]) -> Option<HeifInfo> {
    // `meta` is a FullBox: version and flags first.
    let children = meta.get(4..)?;
    let mut primary = None;
    let mut ipco = None;
    let mut ipma = None;
    for (kind, body) in Boxes::new(children).map_while(Result::ok) {
        match &kind {
            b"pitm" => {
                primary = match *body.first()? {
                    0 => read_u16(body, 4).map(u32::from),
                    _ => read_u32(body, 4),
                };
            }
            b"iprp" => {
                for (kind, body) in Boxes::new(body).map_while(Result::ok) {
                    match &kind {
                        b"ipco" if ipco.is_none() => ipco = Some(body),
                        b"ipma" if ipma.is_none() => ipma = Some(body),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let primary = primary?;
    let properties: Vec<([u8; 4], &[u8])> = Boxes::new(ipco?).map_while(Result::ok).collect();
    let associated = associations(ipma?, primary)?;
    let mut info = HeifInfo::default();
    let mut size: Option<(u32, u32)> = None;
    for index in associated {
        // Property indices are 1-based; 0 means "no property".
        let Some((kind, body)) = index.checked_sub(1).and_then(|i| properties.get(i)) else {
            continue;
        };
        match kind {
            b"ispe" if info.stored_size.is_none() => {
                let (w, h) = (read_u32(body, 4)?, read_u32(body, 8)?);
                if w > 0 && h > 0 {
                    info.stored_size = Some((w, h));
                    size = Some((w, h));
                }
            }
            b"clap" => {
                if let (Some((w, h)), Some(crop)) = (size, clean_aperture(body)) {
                    let (cw, ch) = crop;
                    if cw <= w && ch <= h {
                        size = Some(crop);
                    }
                }
            }
            b"irot" => {
                let angle = body.first()? & 0x03;
                if angle % 2 == 1 {
                    size = size.map(|(w, h)| (h, w));
                }
            }
            _ => {}
        }
    }
    info.oriented_size = size;
    Some(info)
}

/// The clean aperture's (width, height), rounded to whole pixels.
fn clean_aperture(body: &[u8]) -> Option<(u32, u32)> {
    let ratio = |at: usize| -> Option<u32> {
        let n = u64::from(read_u32(body, at)?);
        let d = u64::from(read_u32(body, at + 4)?);
        if d == 0 {
            return None;
        }
        let value = (2 * n + d) / (2 * d);
        u32::try_from(value).ok().filter(|&v| v > 0)
    };
    Some((ratio(0)?, ratio(8)?))
}

/// The property indices associated with `item` in an `ipma` box, in order.
fn associations(ipma: &[u8], item: u32) -> Option<Vec<usize>> {
    let version = *ipma.first()?;
    let large_index = ipma.get(3)? & 1 == 1;
    let count = read_u32(ipma, 4)?;
    let mut at = 8;
    for _ in 0..count {
        let id = if version < 1 {
            let id = u32::from(read_u16(ipma, at)?);
            at += 2;
            id
        } else {
            let id = read_u32(ipma, at)?;
            at += 4;
            id
        };
        let n = usize::from(*ipma.get(at)?);
        at += 1;
        let mut indices = Vec::with_capacity(n);
        for _ in 0..n {
            if large_index {
                indices.push(usize::from(read_u16(ipma, at)? & 0x7FFF));
                at += 2;
            } else {
                indices.push(usize::from(ipma.get(at)? & 0x7F));
                at += 1;
            }
        }
        if id == item {
            return Some(indices);
        }
    }
    None
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[derive(Debug)]
enum BoxError {
    /// Fewer bytes left than a box header needs.
    Header { at: usize },
    /// A box size smaller than its header.
    Invalid { at: usize },
    /// A box claiming more bytes than there are.
    PastEnd { kind: [u8; 4], at: usize, size: u64 },
}

/// The boxes in `bytes` (ISO/IEC 14496-12 §4.2): (type, body). Stops after the first error.
struct Boxes<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Boxes<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Boxes {
            bytes,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Boxes<'a> {
    type Item = Result<([u8; 4], &'a [u8]), BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.bytes.len() {
            return None;
        }
        let at = self.pos;
        let bytes: &'a [u8] = self.bytes;
        let result = (|| {
            let left = bytes.len() - at;
            if left < 8 {
                return Err(BoxError::Header { at });
            }
            let size32 = read_u32(bytes, at).ok_or(BoxError::Header { at })?;
            let kind: [u8; 4] = bytes[at + 4..at + 8]
                .try_into()
                .map_err(|_| BoxError::Header { at })?;
            let (size, header) = match size32 {
                // Extends to the end of the enclosing box / file.
                0 => (left as u64, 8),
                1 => (read_u64(bytes, at + 8).ok_or(BoxError::Header { at })?, 16),
                n => (u64::from(n), 8),
            };
            if size < header as u64 {
                return Err(BoxError::Invalid { at });
            }
            if size > left as u64 {
                return Err(BoxError::PastEnd { kind, at, size });
            }
            // size ≤ left, so it fits in usize.
            let end = at + size as usize;
            Ok((kind, &bytes[at + header..end], end))
        })();
        match result {
            Ok((kind, body, end)) => {
                self.pos = end;
                Some(Ok((kind, body)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
