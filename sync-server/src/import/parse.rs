//! The pure part of the import: bytes and a [`Mapping`] in, weighing records with their CSV
//! line numbers, rejected lines with reasons, and what was detected out ([`parse`]).
//!
//! Nothing here touches the network, the terminal or the clock: the caller passes `now_ms` for
//! the record checks ([`WeighingRecord::check`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use encoding_rs::{DecoderResult, GB18030};
use sha2::{Digest, Sha256};
use zhichao_core::calendar::CHINA_STANDARD_TIME_OFFSET_SECS;
use zhichao_core::plate::Plate;
use zhichao_core::rules::VehicleConfiguration;
use zhichao_core::weighing::{WeighingRecord, WeighingResult};

use super::mapping::{Field, Mapping, MassUnitSetting, header_base, normalize_header};

/// Largest file read, bytes (a year of a busy site's weighings is a few tens of MB).
pub const MAX_FILE_BYTES: usize = 256 * 1024 * 1024;

/// How many lines from the top are searched for the header line (exports often start with a
/// title line such as `过磅记录表` or the unit's name).
pub const MAX_TITLE_LINES: usize = 10;

/// Prefix of record ids derived from the content ([`derived_record_id`]).
pub const DERIVED_ID_PREFIX: &str = "csv-";

/// The character encoding a file was read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (Excel's "CSV UTF-8").
    Utf8Bom,
    /// GB18030, the superset of GBK and GB2312 (Excel's "CSV" on Chinese Windows).
    Gb18030,
}

impl std::fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 (with BOM)",
            TextEncoding::Gb18030 => "GBK/GB18030",
        })
    }
}

/// Why a whole file cannot be imported (no line of it is sent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("the file has {0} bytes; at most {MAX_FILE_BYTES} are read (split it)")]
    TooLarge(usize),
    /// A UTF-16 byte-order mark (Excel's "Unicode text").
    #[error("the file is UTF-16; save it as CSV (UTF-8 or GBK)")]
    Utf16,
    /// Bytes that are neither UTF-8 nor GB18030.
    #[error(
        "the file is neither UTF-8 nor GBK/GB18030: undecodable bytes at byte offset {offset} (line {line}) when read as {encoding}"
    )]
    Undecodable {
        /// The encoding tried last.
        encoding: TextEncoding,
        /// Offset of the first bad byte from the start of the file.
        offset: usize,
        /// Its line, from 1.
        line: usize,
    },
    /// Nothing but blank lines.
    #[error("the file has no header line")]
    Empty,
    /// A required column is missing.
    #[error("no column for {field} (looked for {tried}); the header line {line} has: {found}")]
    MissingColumn {
        /// The field.
        field: Field,
        /// The header names looked for.
        tried: String,
        /// The header line, from 1.
        line: u64,
        /// The headers found.
        found: String,
    },
    /// Two columns answer to one field's header name (two `车号` columns): which one holds
    /// the value cannot be guessed.
    #[error(
        "columns {columns} of the header line {line} are all {header:?} ({field}): rename one, \
         or name the right one in a mapping file"
    )]
    AmbiguousColumn {
        /// The field.
        field: Field,
        /// The header name.
        header: String,
        /// The columns, from 1 (`3 and 7`).
        columns: String,
        /// The header line, from 1.
        line: u64,
    },
}

/// The unit the mass columns were read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MassUnit {
    /// Tonnes, up to three decimals.
    Tonnes,
    /// Whole kilograms.
    Kilograms,
}

impl std::fmt::Display for MassUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MassUnit::Tonnes => "t",
            MassUnit::Kilograms => "kg",
        })
    }
}

/// Why the mass unit is what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MassUnitReason {
    /// The mapping file says so.
    Mapping,
    /// The gross column's header says so (`毛重(吨)`).
    Header(String),
    /// `auto`: a gross value has a decimal point.
    DecimalPoint,
    /// `auto`: every gross value is below 1000.
    AllBelow1000,
    /// `auto`: whole numbers, some of 1000 or more.
    WholeNumbers,
    /// `auto`: no gross value to decide by.
    NoValues,
}

impl std::fmt::Display for MassUnitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MassUnitReason::Mapping => f.write_str("from the mapping file"),
            MassUnitReason::Header(h) => write!(f, "from the header {h:?}"),
            MassUnitReason::DecimalPoint => {
                f.write_str("detected: gross values have a decimal point")
            }
            MassUnitReason::AllBelow1000 => {
                f.write_str("detected: every gross value is below 1000")
            }
            MassUnitReason::WholeNumbers => {
                f.write_str("detected: whole gross values of 1000 or more")
            }
            MassUnitReason::NoValues => f.write_str("no gross values"),
        }
    }
}

/// What [`parse`] found out about the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    /// The character encoding.
    pub encoding: TextEncoding,
    /// The unit of the gross column (the others follow it unless their header names one).
    pub mass_unit: MassUnit,
    /// Why.
    pub mass_unit_reason: MassUnitReason,
    /// The header line, from 1.
    pub header_line: u64,
    /// Which column filled which field: (field, header as written).
    pub columns: Vec<(Field, String)>,
    /// Data lines read (not counting blank ones).
    pub data_lines: usize,
}

/// A line that is not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// CSV line number, from 1 (the line where the record starts).
    pub line: u64,
    /// Why, naming the column or field.
    pub reason: String,
}

/// A record read from a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedLine {
    /// CSV line number, from 1.
    pub line: u64,
    /// The record, normalised by [`WeighingRecord::check`].
    pub record: WeighingRecord,
}

/// A line that repeats an earlier line's record exactly (same id, same content): not sent again,
/// counted as a duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// The repeating line.
    pub line: u64,
    /// The line it repeats.
    pub first_line: u64,
}

/// The result of [`parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Records that passed the checks, in file order.
    pub records: Vec<ParsedLine>,
    /// Lines refused locally, in file order.
    pub rejected: Vec<Rejection>,
    /// Lines repeating an earlier line.
    pub repeats: Vec<Repeat>,
    /// Encoding, mass unit, columns.
    pub detected: Detected,
}

/// Decodes a file: a UTF-8 byte-order mark or valid UTF-8 → UTF-8, otherwise GB18030 (which
/// includes GBK and GB2312). A file that would need replacement characters is refused rather
/// than imported with garbled plates.
///
/// # Errors
/// [`FileError::Utf16`] for a UTF-16 byte-order mark; [`FileError::Undecodable`] with the
/// offset and line of the first bad byte.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, TextEncoding), FileError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(FileError::Utf16);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return match std::str::from_utf8(rest) {
            Ok(text) => Ok((Cow::Borrowed(text), TextEncoding::Utf8Bom)),
            Err(e) => {
                let offset = 3 + e.valid_up_to();
                Err(FileError::Undecodable {
                    encoding: TextEncoding::Utf8Bom,
                    offset,
                    line: line_of(bytes, offset),
                })
            }
        };
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((Cow::Borrowed(text), TextEncoding::Utf8));
    }
    let mut decoder = GB18030.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len().saturating_mul(2));
    let mut text = String::with_capacity(capacity);
    let mut read_total = 0;
    loop {
        let (result, read) =
            decoder.decode_to_string_without_replacement(&bytes[read_total..], &mut text, true);
        read_total += read;
        match result {
            DecoderResult::InputEmpty => return Ok((Cow::Owned(text), TextEncoding::Gb18030)),
            DecoderResult::OutputFull => text.reserve(bytes.len() - read_total + 16),
            DecoderResult::Malformed(bad, after) => {
                let offset = read_total
                    .saturating_sub(usize::from(after))
                    .saturating_sub(usize::from(bad));
                return Err(FileError::Undecodable {
                    encoding: TextEncoding::Gb18030,
                    offset,
                    line: line_of(bytes, offset),
                });
            }
        }
    }
}

/// Line numbers from the byte offsets of records. The csv crate's own line numbers are off
/// after CRLF terminators and blank lines (rust-csv issues 184, 208, 395); its byte offsets
/// point at the start of the record or at the line breaks the reader skipped before it.
struct LineCounter<'t> {
    text: &'t [u8],
    /// Offset counted up to, and the line it is on (from 1).
    byte: usize,
    line: u64,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t [u8]) -> Self {
        LineCounter {
            text,
            byte: 0,
            line: 1,
        }
    }

    /// The line of the first character at or after `offset` that is not a line break. Offsets
    /// must not decrease between calls (records come in order).
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .clamp(self.byte, self.text.len());
        while matches!(self.text.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        for (i, &b) in self.text[self.byte..start].iter().enumerate() {
            let at = self.byte + i;
            // "\n", "\r\n" and a lone "\r" each end a line.
            if b == b'\n' || (b == b'\r' && self.text.get(at + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.byte = start;
        self.line
    }
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// (field, header as written) of each column found.
type FoundColumns = Vec<(Field, String)>;

/// Column positions of the fields found in the header.
struct Columns {
    index: HashMap<Field, usize>,
    /// A field whose header name more than one column has: (field, name, columns from 0).
    ambiguous: Option<(Field, String, Vec<usize>)>,
    /// Unit named in a mass column's header.
    unit_hint: HashMap<Field, MassUnit>,
    width: usize,
}

impl Columns {
    /// Finds each field's column: the header matching the earliest of the field's names, by
    /// the whole header or by its part before a unit bracket. `None` when there is no plate
    /// column (not the header line).
    fn find(
        headers: &csv::StringRecord,
        mapping: &Mapping,
    ) -> Option<(Self, Vec<(Field, String)>)> {
        let keys: Vec<(String, Option<String>)> = headers.iter().map(normalize_header).collect();
        let mut index = HashMap::new();
        let mut unit_hint = HashMap::new();
        let mut found = Vec::new();
        let mut ambiguous = None;
        for field in Field::ALL {
            let matches = |name: &String| -> Vec<usize> {
                keys.iter()
                    .enumerate()
                    .filter(|(_, (key, _))| key == name || header_base(key) == name)
                    .map(|(i, _)| i)
                    .collect()
            };
            let hit = mapping.header_names(field).iter().find_map(|name| {
                let columns = matches(name);
                (!columns.is_empty()).then(|| (name.clone(), columns))
            });
            if let Some((name, columns)) = &hit
                && columns.len() > 1
                && ambiguous.is_none()
            {
                ambiguous = Some((field, name.clone(), columns.clone()));
            }
            let position = hit.map(|(_, columns)| columns[0]);
            if let Some(i) = position {
                index.insert(field, i);
                found.push((field, headers.get(i).unwrap_or_default().trim().to_owned()));
                if let Some(unit) = keys[i].1.as_deref().and_then(unit_word) {
                    unit_hint.insert(field, unit);
                }
            }
        }
        index.contains_key(&Field::Plate).then_some((
            Columns {
                index,
                ambiguous,
                unit_hint,
                width: headers.len(),
            },
            found,
        ))
    }

    fn cell<'r>(&self, row: &'r csv::StringRecord, field: Field) -> Option<&'r str> {
        self.index
            .get(&field)
            .and_then(|&i| row.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

fn unit_word(word: &str) -> Option<MassUnit> {
    match word {
        "t" | "吨" => Some(MassUnit::Tonnes),
        "kg" | "公斤" | "千克" => Some(MassUnit::Kilograms),
        _ => None,
    }
}

/// Reads a weighbridge export: decodes it ([`decode`]), finds the header line among the first
/// [`MAX_TITLE_LINES`] (the first naming a plate column), maps the columns ([`Mapping`]),
/// decides the mass unit, converts each line to a [`WeighingRecord`] and checks it with
/// [`WeighingRecord::check`] at `now_ms` (UTC ms).
///
/// Each line either becomes a record, a [`Rejection`] with its line number and reason (a bad
/// mass, time, plate, too many or too few fields, a record id reused with other content …) or
/// a [`Repeat`] of an earlier line. Lines whose cells are all empty are skipped.
///
/// # Errors
/// [`FileError`] when the file as a whole cannot be read: undecodable, empty, or without a
/// column for a required field (plate, gross, weighed_at, and axles unless the mapping has
/// `default_axles`).
pub fn parse(bytes: &[u8], mapping: &Mapping, now_ms: i64) -> Result<Parsed, FileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge(bytes.len()));
    }
    let (text, encoding) = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(mapping.delimiter)
        .from_reader(text.as_bytes());

    let mut lines = LineCounter::new(text.as_bytes());
    let mut rejected = Vec::new();
    let mut rows: Vec<(u64, csv::StringRecord)> = Vec::new();
    // The header line, its columns, and (field, header) of each column found.
    let mut header: Option<(u64, Columns, FoundColumns)> = None;
    let mut first_line: Option<(u64, csv::StringRecord)> = None;
    let mut lines_before_header = 0;
    for result in reader.records() {
        let row = match result {
            Ok(row) => row,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                rejected.push(Rejection {
                    line,
                    reason: format!("not CSV: {e}"),
                });
                continue;
            }
        };
        let line = row.position().map_or(0, |p| lines.line_at(p.byte()));
        if row.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if header.is_some() {
            rows.push((line, row));
            continue;
        }
        if let Some((columns, found)) = Columns::find(&row, mapping) {
            header = Some((line, columns, found));
        } else {
            if first_line.is_none() {
                first_line = Some((line, row));
            }
            lines_before_header += 1;
            if lines_before_header >= MAX_TITLE_LINES {
                break;
            }
        }
    }
    let Some((header_line, columns, found)) = header else {
        return Err(match first_line {
            Some((line, row)) => missing(Field::Plate, mapping, line, &row),
            None => FileError::Empty,
        });
    };
    if let Some((field, header, at)) = &columns.ambiguous {
        let at: Vec<String> = at.iter().map(|i| (i + 1).to_string()).collect();
        return Err(FileError::AmbiguousColumn {
            field: *field,
            header: header.clone(),
            columns: at.join(" and "),
            line: header_line,
        });
    }
    for field in [Field::Gross, Field::WeighedAt] {
        if !columns.index.contains_key(&field) {
            return Err(missing_in(field, mapping, header_line, &found));
        }
    }
    if !columns.index.contains_key(&Field::Axles) && mapping.default_axles.is_none() {
        return Err(missing_in(Field::Axles, mapping, header_line, &found));
    }

    let (mass_unit, mass_unit_reason) = decide_mass_unit(mapping, &columns, &rows, &found);
    let mut records: Vec<ParsedLine> = Vec::new();
    let mut repeats = Vec::new();
    // record id → (line, fingerprint) of its first occurrence.
    let mut seen: HashMap<String, (u64, String)> = HashMap::new();
    for (line, row) in &rows {
        let line = *line;
        if row.len() != columns.width {
            rejected.push(Rejection {
                line,
                reason: format!(
                    "{} fields; the header line {header_line} has {}",
                    row.len(),
                    columns.width
                ),
            });
            continue;
        }
        let checked = convert(row, &columns, mapping, mass_unit)
            .and_then(|record| record.check(now_ms).map_err(|e| format!("{e}")));
        let checked = match checked {
            Ok(c) => c,
            Err(reason) => {
                rejected.push(Rejection { line, reason });
                continue;
            }
        };
        let fingerprint = checked.fingerprint();
        match seen.get(&checked.record.record_id) {
            Some((first_line, first)) if *first == fingerprint => {
                repeats.push(Repeat {
                    line,
                    first_line: *first_line,
                });
            }
            Some((first_line, _)) => rejected.push(Rejection {
                line,
                reason: format!(
                    "record id {:?} is also on line {first_line} with other content",
                    checked.record.record_id
                ),
            }),
            None => {
                seen.insert(checked.record.record_id.clone(), (line, fingerprint));
                records.push(ParsedLine {
                    line,
                    record: checked.record,
                });
            }
        }
    }
    rejected.sort_by_key(|r| r.line);
    Ok(Parsed {
        records,
        rejected,
        repeats,
        detected: Detected {
            encoding,
            mass_unit,
            mass_unit_reason,
            header_line,
            columns: found,
            data_lines: rows.len(),
        },
    })
}

fn missing(field: Field, mapping: &Mapping, line: u64, row: &csv::StringRecord) -> FileError {
    FileError::MissingColumn {
        field,
        tried: mapping.header_names(field).join(", "),
        line,
        found: row.iter().map(str::trim).collect::<Vec<_>>().join(", "),
    }
}

fn missing_in(field: Field, mapping: &Mapping, line: u64, found: &[(Field, String)]) -> FileError {
    let hint = if field == Field::Axles {
        " (or set default_axles in a mapping file)"
    } else {
        ""
    };
    FileError::MissingColumn {
        field,
        tried: format!("{}{hint}", mapping.header_names(field).join(", ")),
        line,
        found: found
            .iter()
            .map(|(f, h)| format!("{h} ({f})"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The mass unit of the gross column: the mapping's, else its header's, else by the values
/// (`auto`).
fn decide_mass_unit(
    mapping: &Mapping,
    columns: &Columns,
    rows: &[(u64, csv::StringRecord)],
    found: &[(Field, String)],
) -> (MassUnit, MassUnitReason) {
    match mapping.mass_unit {
        MassUnitSetting::Tonnes => return (MassUnit::Tonnes, MassUnitReason::Mapping),
        MassUnitSetting::Kilograms => return (MassUnit::Kilograms, MassUnitReason::Mapping),
        MassUnitSetting::Auto => {}
    }
    if let Some(&unit) = columns.unit_hint.get(&Field::Gross) {
        let header = found
            .iter()
            .find(|(f, _)| *f == Field::Gross)
            .map(|(_, h)| h.clone())
            .unwrap_or_default();
        return (unit, MassUnitReason::Header(header));
    }
    let values: Vec<&str> = rows
        .iter()
        .filter_map(|(_, row)| columns.cell(row, Field::Gross))
        .filter(|v| v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .collect();
    if values.is_empty() {
        (MassUnit::Kilograms, MassUnitReason::NoValues)
    } else if values.iter().any(|v| v.contains('.')) {
        (MassUnit::Tonnes, MassUnitReason::DecimalPoint)
    } else if values
        .iter()
        .all(|v| v.parse::<u64>().is_ok_and(|n| n < 1000))
    {
        (MassUnit::Tonnes, MassUnitReason::AllBelow1000)
    } else {
        (MassUnit::Kilograms, MassUnitReason::WholeNumbers)
    }
}

/// One line to a record (not yet checked). The error names the column's field.
fn convert(
    row: &csv::StringRecord,
    columns: &Columns,
    mapping: &Mapping,
    file_unit: MassUnit,
) -> Result<WeighingRecord, String> {
    let cell = |field| columns.cell(row, field);
    let text = |field| cell(field).map(str::to_owned);
    let mass = |field: Field| -> Result<Option<u32>, String> {
        let unit = if mapping.mass_unit == MassUnitSetting::Auto {
            columns.unit_hint.get(&field).copied().unwrap_or(file_unit)
        } else {
            file_unit
        };
        cell(field)
            .map(|v| parse_mass_kg(v, unit).map_err(|e| format!("{field}: {v:?}: {e}")))
            .transpose()
    };
    let time = |field: Field| -> Result<Option<i64>, String> {
        cell(field)
            .map(|v| {
                parse_local_time_ms(v, mapping.time_formats())
                    .map_err(|e| format!("{field}: {v:?}: {e}"))
            })
            .transpose()
    };

    let plate = cell(Field::Plate).ok_or("plate: empty")?.to_owned();
    let gross_kg = mass(Field::Gross)?.ok_or("gross: empty")?;
    let weighed_at_ms = time(Field::WeighedAt)?.ok_or("weighed_at: empty")?;
    let axles = match cell(Field::Axles) {
        Some(v) => parse_axles(v).map_err(|e| format!("axles: {v:?}: {e}"))?,
        None => mapping.default_axles.ok_or("axles: empty")?,
    };
    let result = match cell(Field::Result) {
        Some(v) => mapping.result_value(v).ok_or_else(|| {
            format!(
                "result: {v:?} is not a known result (known: {}; add it under [result_values] in a mapping file)",
                mapping.result_words().collect::<Vec<_>>().join(", ")
            )
        })?,
        None => WeighingResult::Passed,
    };
    let record_id =
        text(Field::RecordId).unwrap_or_else(|| derived_record_id(&plate, weighed_at_ms, gross_kg));
    Ok(WeighingRecord {
        record_id,
        lane: text(Field::Lane),
        plate,
        plate_colour: text(Field::PlateColour),
        vehicle: VehicleConfiguration::axles_only(axles),
        gross_kg,
        tare_kg: mass(Field::Tare)?,
        net_kg: mass(Field::Net)?,
        cargo: text(Field::Cargo),
        loading_slip_no: text(Field::LoadingSlipNo),
        entry_at_ms: time(Field::EntryAt)?,
        weighed_at_ms,
        exit_at_ms: time(Field::ExitAt)?,
        photos: Vec::new(),
        result,
    })
}

/// A mass cell to kilograms, exactly: the text is read as a decimal, never as a float, so
/// `52.30` t is 52 300 kg.
///
/// # Errors
/// A message for anything but digits with at most one decimal point; a negative value; more
/// than three decimals in tonnes (finer than 1 kg) or a fraction in kilograms; more than
/// `u32::MAX` kg.
pub fn parse_mass_kg(text: &str, unit: MassUnit) -> Result<u32, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err("negative".to_owned());
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err("not a number".to_owned());
    }
    let too_big = || "too large".to_owned();
    let whole: u32 = whole.parse().map_err(|_| too_big())?;
    match unit {
        MassUnit::Tonnes => {
            if fraction.len() > 3 {
                return Err(format!(
                    "{} decimals in tonnes; at most 3 (1 kg)",
                    fraction.len()
                ));
            }
            let grams_digits = format!("{fraction:0<3}");
            let part: u32 = grams_digits.parse().map_err(|_| too_big())?;
            whole
                .checked_mul(1000)
                .and_then(|kg| kg.checked_add(part))
                .ok_or_else(too_big)
        }
        MassUnit::Kilograms => {
            if fraction.bytes().any(|b| b != b'0') {
                return Err("a fraction of a kilogram (is the column in tonnes?)".to_owned());
            }
            Ok(whole)
        }
    }
}

/// An axle count: `6`, or `6轴`.
fn parse_axles(text: &str) -> Result<u8, String> {
    let digits = text.trim().trim_end_matches('轴').trim();
    digits
        .parse::<u8>()
        .map_err(|_| "not a whole number of axles".to_owned())
}

/// A local time to UTC ms: RFC 3339 with its own offset, or one of `formats` read as China
/// Standard Time (UTC+8, [`CHINA_STANDARD_TIME_OFFSET_SECS`]).
///
/// # Errors
/// A message listing the formats when none matches.
pub fn parse_local_time_ms<'f>(
    text: &str,
    formats: impl Iterator<Item = &'f str> + Clone,
) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let cst = FixedOffset::east_opt(CHINA_STANDARD_TIME_OFFSET_SECS)
        .ok_or_else(|| "no China Standard Time offset".to_owned())?;
    for format in formats.clone() {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format)
            && let Some(t) = naive.and_local_timezone(cst).single()
        {
            return Ok(t.timestamp_millis());
        }
    }
    let mut message = "not a date and time in a known format (".to_owned();
    for (i, format) in formats.enumerate() {
        let _ = write!(message, "{}{format}", if i == 0 { "" } else { ", " });
    }
    message.push(')');
    Err(message)
}

/// The record id of a line without one: `csv-` and the first 32 hex digits of the SHA-256 of
/// `plate|weighed_at_ms|gross_kg` (the plate normalised when it parses, so `晋e·12345` and
/// `晋E12345` agree). Importing the same file again gives the same ids, so the server answers
/// duplicates instead of storing the weighings twice; two weighings of one truck in the same
/// second (or minute, when the export has no seconds) with the same gross are taken as one.
pub fn derived_record_id(plate: &str, weighed_at_ms: i64, gross_kg: u32) -> String {
    let plate = Plate::parse(plate).map_or_else(|_| plate.trim().to_owned(), |p| p.to_string());
    let digest = Sha256::digest(format!("{plate}|{weighed_at_ms}|{gross_kg}").as_bytes());
    let mut id = DERIVED_ID_PREFIX.to_owned();
    for b in &digest[..16] {
        let _ = write!(id, "{b:02x}");
    }
    id
}
