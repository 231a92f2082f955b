//! HEIF/HEIC (ISO/IEC 23008-12) containers: the brand in the `ftyp` box, completeness of the
//! top-level boxes and of the primary image's and EXIF's data (`iloc`), and the primary
//! item's size from its properties (`ispe`, `clap`, `irot`).
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

/// `Some` when the bytes are an ISO-BMFF file (a `ftyp` box first): `Ok(Heif)` for a HEIF
/// brand, `UnsupportedFormat` for AVIF and other ISO-BMFF files (MP4, MOV, …), `Truncated`
/// when the file ends inside the box, `Corrupt` when the box is too small for its fields.
pub(super) fn sniff(bytes: &[u8]) -> Option<Result<PhotoFormat, EvidenceError>> {
    if bytes.get(4..8) != Some(b"ftyp") {
        return None;
    }
    let body = match Boxes::new(bytes).next()? {
        Ok((_, body)) => body,
        Err(BoxError::PastEnd { .. } | BoxError::Header { .. }) => {
            return Some(Err(EvidenceError::truncated(format!(
                "the file ends inside its file-type box (ftyp), after {} bytes",
                bytes.len()
            ))));
        }
        Err(BoxError::Invalid { .. }) => {
            return Some(Err(EvidenceError::corrupt(format!(
                "the file-type box (ftyp) claims {} bytes, less than its own header",
                read_u32(bytes, 0).unwrap_or(0)
            ))));
        }
    };
    // Major brand, minor version, then compatible brands.
    if body.len() < 8 {
        return Some(Err(EvidenceError::corrupt(format!(
            "the file-type box (ftyp) has {} bytes of content, fewer than the 8 of its brand and \
             version",
            body.len()
        ))));
    }
    let mut brands: Vec<[u8; 4]> = vec![[body[0], body[1], body[2], body[3]]];
    brands.extend(body[8..].chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]));
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

/// Checks that the top-level boxes fill the file and that the data of the primary image (its
/// tiles for a grid) and of the EXIF items lies inside it ([`check_item_data`]), and reads
/// the primary item's size.
///
/// # Errors
/// `Truncated` when a box runs past the end of the file or item data lies past it, `Corrupt`
/// when there is no `meta` box (no image items at all), a box size is invalid, or the item
/// locations are missing or invalid.
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
    check_item_data(meta, bytes.len())?;
    Ok(primary_geometry(meta).unwrap_or_default())
}

/// The boxes of `meta` this module reads.
#[derive(Default)]
struct MetaBoxes<'a> {
    pitm: Option<&'a [u8]>,
    iinf: Option<&'a [u8]>,
    iloc: Option<&'a [u8]>,
    iref: Option<&'a [u8]>,
    idat: Option<&'a [u8]>,
}

fn meta_boxes(meta: &[u8]) -> MetaBoxes<'_> {
    let mut found = MetaBoxes::default();
    // `meta` is a FullBox: version and flags first.
    let Some(children) = meta.get(4..) else {
        return found;
    };
    for (kind, body) in Boxes::new(children).map_while(Result::ok) {
        let slot = match &kind {
            b"pitm" => &mut found.pitm,
            b"iinf" => &mut found.iinf,
            b"iloc" => &mut found.iloc,
            b"iref" => &mut found.iref,
            b"idat" => &mut found.idat,
            _ => continue,
        };
        slot.get_or_insert(body);
    }
    found
}

/// The item location box (`iloc`, ISO/IEC 14496-12 §8.11.3) of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ItemLocation {
    pub(super) item: u32,
    /// 0: offsets in this file; 1: in the `idat` box; 2: in another item.
    pub(super) construction_method: u8,
    /// 0: this file; otherwise an entry of `dref` (another file).
    pub(super) data_reference_index: u16,
    /// (offset, length) of each extent, base offset added; length 0 means "to the end".
    pub(super) extents: Vec<(u64, u64)>,
}

/// Most extents an `iloc` box may list over all its items (an iPhone's 48-tile grid uses
/// about 50).
pub(super) const MAX_ILOC_EXTENTS: u64 = 4096;

/// Parses an `iloc` box body (versions 0, 1 and 2; field sizes 0, 4 or 8 bytes).
///
/// # Errors
/// A message for a short box, an unknown version or field size, or more than
/// [`MAX_ILOC_EXTENTS`] extents.
pub(super) fn parse_iloc(body: &[u8]) -> Result<Vec<ItemLocation>, String> {
    let short = || "the item location box (iloc) is too short".to_owned();
    let version = *body.first().ok_or_else(short)?;
    if version > 2 {
        return Err(format!(
            "the item location box (iloc) has version {version}"
        ));
    }
    let sizes = *body.get(4).ok_or_else(short)?;
    let sizes2 = *body.get(5).ok_or_else(short)?;
    let (offset_size, length_size) = (sizes >> 4, sizes & 0x0F);
    let base_offset_size = sizes2 >> 4;
    let index_size = if version >= 1 { sizes2 & 0x0F } else { 0 };
    for size in [offset_size, length_size, base_offset_size, index_size] {
        if !matches!(size, 0 | 4 | 8) {
            return Err(format!(
                "the item location box (iloc) uses a field size of {size} bytes"
            ));
        }
    }
    let mut at = 6;
    let mut read = |n: u8| -> Result<u64, String> {
        let n = usize::from(n);
        let field = body.get(at..at + n).ok_or_else(short)?;
        at += n;
        Ok(field.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)))
    };
    let count = if version < 2 { read(2)? } else { read(4)? };
    let mut total_extents = 0u64;
    let mut items = Vec::new();
    for _ in 0..count {
        // At least 2 bytes an item: a count larger than the box is caught by `read`.
        let item = if version < 2 { read(2)? } else { read(4)? };
        let construction_method = if version >= 1 {
            (read(2)? & 0x0F) as u8
        } else {
            0
        };
        let data_reference_index = read(2)? as u16;
        let base = read(base_offset_size)?;
        let extent_count = read(2)?;
        // Extents whose fields all have size 0 take no bytes, so the box length bounds
        // nothing: a 40 KB file could claim billions. A real photo has a few dozen.
        total_extents = total_extents.saturating_add(extent_count);
        if total_extents > MAX_ILOC_EXTENTS {
            return Err(format!(
                "the item location box (iloc) lists more than {MAX_ILOC_EXTENTS} extents"
            ));
        }
        let mut extents = Vec::new();
        for _ in 0..extent_count {
            read(index_size)?;
            let offset = read(offset_size)?;
            let length = read(length_size)?;
            extents.push((base.saturating_add(offset), length));
        }
        items.push(ItemLocation {
            // Read from 2 or 4 bytes.
            item: item as u32,
            construction_method,
            data_reference_index,
            extents,
        });
    }
    Ok(items)
}

/// Item types by item id, from `iinf` (`infe` versions 2 and 3; older entries have no type).
fn item_types(iinf: &[u8]) -> Vec<(u32, [u8; 4])> {
    let Some(&version) = iinf.first() else {
        return Vec::new();
    };
    let entries = if version == 0 {
        iinf.get(6..)
    } else {
        iinf.get(8..)
    };
    let Some(entries) = entries else {
        return Vec::new();
    };
    Boxes::new(entries)
        .map_while(Result::ok)
        .filter(|(kind, _)| kind == b"infe")
        .filter_map(|(_, infe)| match infe.first()? {
            2 => Some((
                u32::from(read_u16(infe, 4)?),
                infe.get(8..12)?.try_into().ok()?,
            )),
            3 => Some((read_u32(infe, 4)?, infe.get(10..14)?.try_into().ok()?)),
            _ => None,
        })
        .collect()
}

/// The items referenced from `from` with reference type `kind` in `iref`, in order.
fn references(iref: &[u8], kind: &[u8; 4], from: u32) -> Vec<u32> {
    let Some(&version) = iref.first() else {
        return Vec::new();
    };
    let id_size = if version == 0 { 2 } else { 4 };
    let read_id = |b: &[u8], at: usize| {
        if id_size == 2 {
            read_u16(b, at).map(u32::from)
        } else {
            read_u32(b, at)
        }
    };
    let mut out = Vec::new();
    for (k, body) in Boxes::new(iref.get(4..).unwrap_or_default()).map_while(Result::ok) {
        if &k != kind || read_id(body, 0) != Some(from) {
            continue;
        }
        let count = usize::from(read_u16(body, id_size).unwrap_or(0));
        out.extend((0..count).map_while(|i| read_id(body, id_size + 2 + i * id_size)));
    }
    out
}

/// Checks that the coded data of the primary image — for a derived image (`grid`, `iovl`,
/// `iden`), that of its source items (`iref` `dimg`) too — and of every EXIF item lies inside
/// the file (or its `idat` box). A HEIC cut after its `meta` box, or with its `mdat` cut, has
/// every box it needs and no pixels.
///
/// Not checked: data in other files (`data_reference_index` ≠ 0) or in other items
/// (construction method 2), and the coded data itself (HEVC is not decoded).
fn check_item_data(meta: &[u8], file_len: usize) -> Result<(), EvidenceError> {
    let boxes = meta_boxes(meta);
    let primary = boxes
        .pitm
        .and_then(|pitm| match *pitm.first()? {
            0 => read_u16(pitm, 4).map(u32::from),
            _ => read_u32(pitm, 4),
        })
        .ok_or_else(|| EvidenceError::corrupt("no primary image item (pitm)"))?;
    let iloc = boxes.iloc.ok_or_else(|| {
        EvidenceError::corrupt("no item locations (iloc): the file says where no image data is")
    })?;
    let locations = parse_iloc(iloc).map_err(EvidenceError::corrupt)?;
    let types = boxes.iinf.map(item_types).unwrap_or_default();
    let type_of = |item: u32| types.iter().find(|t| t.0 == item).map(|t| t.1);

    // (item, what it is, whether it must have data).
    let mut wanted: Vec<(u32, String, bool)> = Vec::new();
    let primary_type = type_of(primary);
    wanted.push((
        primary,
        format!("the primary image (item {primary})"),
        primary_type != Some(*b"iden"),
    ));
    if matches!(&primary_type, Some(t) if [b"grid", b"iovl", b"iden"].contains(&t)) {
        let sources = references(boxes.iref.unwrap_or_default(), b"dimg", primary);
        let count = sources.len();
        for (n, source) in sources.into_iter().enumerate() {
            wanted.push((
                source,
                format!(
                    "tile {} of {count} (item {source}) of the primary image (item {primary})",
                    n + 1
                ),
                true,
            ));
        }
    }
    for (item, kind) in &types {
        if kind == b"Exif" {
            wanted.push((*item, format!("the EXIF data (item {item})"), true));
        }
    }

    let idat_len = boxes.idat.map_or(0, <[u8]>::len) as u64;
    let file_len = file_len as u64;
    for (item, what, needs_data) in wanted {
        let Some(location) = locations.iter().find(|l| l.item == item) else {
            if needs_data {
                return Err(EvidenceError::corrupt(format!(
                    "{what} has no data location (iloc)"
                )));
            }
            continue;
        };
        if needs_data && location.extents.is_empty() {
            return Err(EvidenceError::corrupt(format!(
                "{what} has no data (no extents)"
            )));
        }
        if location.data_reference_index != 0 {
            tracing::debug!(item, "HEIF item data in another file; not checked");
            continue;
        }
        for &(offset, length) in &location.extents {
            let end = offset.saturating_add(length.max(1));
            match location.construction_method {
                0 if end > file_len => {
                    return Err(EvidenceError::truncated(format!(
                        "{what} lies at bytes {}..{}, past the end of the file ({} bytes)",
                        group(offset),
                        group(offset.saturating_add(length)),
                        group(file_len)
                    )));
                }
                1 if end > idat_len => {
                    return Err(EvidenceError::corrupt(format!(
                        "{what} lies at bytes {}..{} of the item data box (idat), which has {} \
                         bytes",
                        group(offset),
                        group(offset.saturating_add(length)),
                        group(idat_len)
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(())
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
            b"pitm" if primary.is_none() => {
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
