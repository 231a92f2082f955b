//! EXIF (CIPA DC-008) → [`PhotoMetadata`]: capture time with its UTC offset, GPS fix,
//! orientation, camera make and model, read with kamadak-exif.
//!
//! Metadata is best effort: a missing, broken or partly broken EXIF block never fails a
//! photo. What parses is used, the rest is logged at debug level and left `None`.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use exif::{Exif, Field, In, Tag, Value};

use super::{CaptureTime, CaptureTimeSource, PhotoMetadata};
use crate::docs::GeoPoint;

/// Metadata from a TIFF-structured EXIF block (JPEG `APP1` after `Exif\0\0`, PNG `eXIf`).
pub(super) fn from_exif_block(block: Option<&[u8]>) -> PhotoMetadata {
    let Some(block) = block else {
        return PhotoMetadata::default();
    };
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        exif::Reader::new()
            .continue_on_error(true)
            .read_raw(block.to_vec())
    }));
    from_parsed(parsed)
}

/// Metadata from the EXIF item of a HEIF container.
pub(super) fn from_heif(bytes: &[u8]) -> PhotoMetadata {
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        exif::Reader::new()
            .continue_on_error(true)
            .read_from_container(&mut Cursor::new(bytes))
    }));
    from_parsed(parsed)
}

fn from_parsed(parsed: std::thread::Result<Result<Exif, exif::Error>>) -> PhotoMetadata {
    let result = match parsed {
        Ok(result) => result,
        Err(_) => {
            tracing::debug!("EXIF parser panicked; metadata ignored");
            return PhotoMetadata::default();
        }
    };
    let exif = match result {
        Ok(exif) => exif,
        Err(exif::Error::PartialResult(partial)) => {
            let (exif, errors) = partial.into_inner();
            tracing::debug!(errors = errors.len(), first = ?errors.first(), "EXIF partly broken; using what parsed");
            exif
        }
        Err(exif::Error::NotFound(_)) => return PhotoMetadata::default(),
        Err(e) => {
            tracing::debug!(error = %e, "EXIF unreadable; metadata ignored");
            return PhotoMetadata::default();
        }
    };
    from_exif(&exif)
}

fn from_exif(exif: &Exif) -> PhotoMetadata {
    let field = |tag: Tag| exif.get_field(tag, In::PRIMARY);
    let orientation = field(Tag::Orientation)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|o| u8::try_from(o).ok())
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1);
    PhotoMetadata {
        captured_at: capture_time(exif),
        gps: gps(exif),
        orientation,
        make: field(Tag::Make).and_then(text),
        model: field(Tag::Model).and_then(text),
    }
}

/// An ASCII field's first string: invalid UTF-8 replaced, control characters (C0, DEL, C1:
/// NUL padding, ESC sequences, newlines) removed, trimmed, at most 128 characters; empty →
/// None. Control characters carry no meaning in EXIF texts, and printed raw they can drive a
/// terminal.
fn text(field: &Field) -> Option<String> {
    let Value::Ascii(ref strings) = field.value else {
        return None;
    };
    let s = String::from_utf8_lossy(strings.first()?);
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    let s: String = s.trim().chars().take(128).collect();
    let s = s.trim_end().to_owned();
    (!s.is_empty()).then_some(s)
}

fn ascii(exif: &Exif, tag: Tag) -> Option<String> {
    exif.get_field(tag, In::PRIMARY).and_then(text)
}

/// The first valid time of `DateTimeOriginal`, `DateTimeDigitized`, `DateTime`, with the
/// offset of its own offset tag first, then of the others.
fn capture_time(exif: &Exif) -> Option<CaptureTime> {
    let candidates = [
        (
            Tag::DateTimeOriginal,
            CaptureTimeSource::Original,
            [
                Tag::OffsetTimeOriginal,
                Tag::OffsetTime,
                Tag::OffsetTimeDigitized,
            ],
        ),
        (
            Tag::DateTimeDigitized,
            CaptureTimeSource::Digitized,
            [
                Tag::OffsetTimeDigitized,
                Tag::OffsetTimeOriginal,
                Tag::OffsetTime,
            ],
        ),
        (
            Tag::DateTime,
            CaptureTimeSource::Modified,
            [
                Tag::OffsetTime,
                Tag::OffsetTimeOriginal,
                Tag::OffsetTimeDigitized,
            ],
        ),
    ];
    let (local, source, offsets) = candidates.iter().find_map(|&(tag, source, offsets)| {
        let local = ascii(exif, tag).and_then(|t| parse_datetime(&t))?;
        Some((local, source, offsets))
    })?;
    let offset_minutes = offsets
        .iter()
        .find_map(|&tag| ascii(exif, tag).and_then(|t| parse_offset(&t)));
    Some(local.into_capture_time(offset_minutes, source))
}

/// A calendar date and wall-clock time, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LocalDateTime {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl LocalDateTime {
    fn into_capture_time(
        self,
        offset_minutes: Option<i32>,
        source: CaptureTimeSource,
    ) -> CaptureTime {
        let local = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        let utc_ms = offset_minutes.map(|offset| {
            let days = days_from_civil(self.year, self.month, self.day);
            let seconds = days * 86_400
                + i64::from(self.hour) * 3_600
                + i64::from(self.minute) * 60
                + i64::from(self.second)
                - i64::from(offset) * 60;
            seconds * 1_000
        });
        CaptureTime {
            local,
            offset_minutes,
            utc_ms,
            source,
        }
    }
}

/// Parses EXIF's `YYYY:MM:DD HH:MM:SS` (any single non-digit separators are accepted:
/// `2021-04-11 15:47:53`, `2021:04:11T15:47:53`); blanks (unknown), zeros and impossible
/// dates are `None`.
pub(super) fn parse_datetime(text: &str) -> Option<LocalDateTime> {
    let b = text.trim().as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = b.get(from..to)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    for sep in [4, 7, 10, 13, 16] {
        if b[sep].is_ascii_digit() {
            return None;
        }
    }
    if b.len() > 19 && b[19].is_ascii_digit() {
        return None;
    }
    let year = i32::try_from(num(0, 4)?).ok()?;
    let (month, day) = (num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let valid = year >= 1
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    valid.then_some(LocalDateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    })
}

/// Parses an EXIF 2.31 offset `±HH:MM` (also `±HHMM`, `±HH`, `Z`) to minutes east of UTC;
/// blanks and offsets beyond ±14:00 are `None`.
pub(super) fn parse_offset(text: &str) -> Option<i32> {
    let t = text.trim();
    if t == "Z" {
        return Some(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if minutes > 59 {
        return None;
    }
    let total = hours * 60 + minutes;
    (total <= 14 * 60).then_some(sign * total)
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn gps(exif: &Exif) -> Option<GeoPoint> {
    let lat = coordinate(
        exif,
        Tag::GPSLatitude,
        Tag::GPSLatitudeRef,
        b'N',
        b'S',
        90.0,
    )?;
    let lon = coordinate(
        exif,
        Tag::GPSLongitude,
        Tag::GPSLongitudeRef,
        b'E',
        b'W',
        180.0,
    )?;
    let accuracy_m = exif
        .get_field(Tag::GPSHPositioningError, In::PRIMARY)
        .and_then(|f| match f.value {
            Value::Rational(ref v) => v.first().map(exif::Rational::to_f64),
            _ => None,
        })
        .filter(|m| m.is_finite() && *m >= 0.0 && *m < f64::from(u32::MAX))
        // In range by the filter above.
        .map(|m| m.ceil() as u32);
    let point = GeoPoint {
        lat_e7: degrees_e7(lat),
        lon_e7: degrees_e7(lon),
        accuracy_m,
    };
    point.is_valid().then_some(point)
}

/// Degrees × 10⁷, rounded.
fn degrees_e7(degrees: f64) -> i64 {
    // |degrees| ≤ 180 (checked by the caller), so the product fits.
    (degrees * 1e7).round() as i64
}

/// A signed coordinate in degrees from (degrees, minutes, seconds) rationals and its
/// reference letter; `None` without a valid reference, with a zero denominator or out of range.
fn coordinate(exif: &Exif, value: Tag, reference: Tag, pos: u8, neg: u8, max: f64) -> Option<f64> {
    let sign = match ascii(exif, reference)?
        .as_bytes()
        .first()?
        .to_ascii_uppercase()
    {
        c if c == pos => 1.0,
        c if c == neg => -1.0,
        _ => return None,
    };
    let parts: Vec<f64> = match exif.get_field(value, In::PRIMARY)?.value {
        Value::Rational(ref v) => v
            .iter()
            .take(3)
            .map(|r| (r.denom != 0).then(|| r.to_f64()))
            .collect::<Option<_>>()?,
        Value::SRational(ref v) => v
            .iter()
            .take(3)
            .map(|r| (r.denom != 0).then(|| r.to_f64()))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    if parts.is_empty() || parts.iter().any(|p| !p.is_finite() || *p < 0.0) {
        return None;
    }
    let scale = [1.0, 60.0, 3600.0];
    let degrees: f64 = parts.iter().zip(scale).map(|(p, s)| p / s).sum();
    (degrees <= max).then_some(sign * degrees)
}
