//! [`Mapping`]: which CSV column fills which field of a [`WeighingRecord`], the mass unit, the
//! time formats and the words a weighbridge program writes for the result (过磅结果).
//!
//! The built-in mapping ([`Mapping::default`]) recognises the headers common Chinese
//! weighbridge software writes (车号, 毛重, 皮重, 净重, 过磅时间 …, see
//! [`Field::default_headers`]); a mapping file (TOML, [`Mapping::from_toml`]) adds to it or
//! overrides it field by field. The format is in the module docs of [`crate::import`].
//!
//! [`WeighingRecord`]: zhichao_core::weighing::WeighingRecord

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use zhichao_core::weighing::WeighingResult;

/// A field of a weighing record that a CSV column can fill (the key of `[columns]` in a
/// mapping file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The unit's own record id (流水号, 磅单号).
    RecordId,
    /// Licence plate (车牌号).
    Plate,
    /// Plate colour (车牌颜色).
    PlateColour,
    /// Axle count (轴数).
    Axles,
    /// Gross mass (毛重).
    Gross,
    /// Tare (皮重).
    Tare,
    /// Net mass (净重).
    Net,
    /// Cargo (货物名称).
    Cargo,
    /// Loading-slip number (装载单号).
    LoadingSlipNo,
    /// Lane or weighbridge (磅号, 通道).
    Lane,
    /// Entry time (进场时间).
    EntryAt,
    /// Weighing time (过磅时间).
    WeighedAt,
    /// Exit time (出场时间).
    ExitAt,
    /// What the site did (过磅结果): passed, blocked, unloaded and re-weighed.
    Result,
}

impl Field {
    /// Every field, in the order of the record.
    pub const ALL: [Field; 14] = [
        Field::RecordId,
        Field::Plate,
        Field::PlateColour,
        Field::Axles,
        Field::Gross,
        Field::Tare,
        Field::Net,
        Field::Cargo,
        Field::LoadingSlipNo,
        Field::Lane,
        Field::EntryAt,
        Field::WeighedAt,
        Field::ExitAt,
        Field::Result,
    ];

    /// The name in a mapping file and in messages: `record_id`, `plate`, `gross` ….
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::RecordId => "record_id",
            Field::Plate => "plate",
            Field::PlateColour => "plate_colour",
            Field::Axles => "axles",
            Field::Gross => "gross",
            Field::Tare => "tare",
            Field::Net => "net",
            Field::Cargo => "cargo",
            Field::LoadingSlipNo => "loading_slip_no",
            Field::Lane => "lane",
            Field::EntryAt => "entry_at",
            Field::WeighedAt => "weighed_at",
            Field::ExitAt => "exit_at",
            Field::Result => "result",
        }
    }

    /// The headers the built-in mapping recognises, besides the field's own name
    /// ([`Field::as_str`]). A header may carry a unit in brackets (`毛重(吨)`, `毛重（kg）`):
    /// it matches the name before the bracket.
    pub const fn default_headers(self) -> &'static [&'static str] {
        match self {
            Field::RecordId => &["流水号", "单号", "磅单号"],
            Field::Plate => &["车号", "车牌号", "车牌", "车牌号码"],
            Field::PlateColour => &["车牌颜色"],
            Field::Axles => &["轴数"],
            Field::Gross => &["毛重"],
            Field::Tare => &["皮重"],
            Field::Net => &["净重"],
            Field::Cargo => &["货物", "货名", "货物名称"],
            Field::LoadingSlipNo => &["装载单号"],
            Field::Lane => &["磅号", "通道"],
            Field::EntryAt => &["进场时间"],
            Field::WeighedAt => &["过磅时间", "称重时间"],
            Field::ExitAt => &["出场时间"],
            Field::Result => &["结果", "过磅结果"],
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit of the mass columns (`mass_unit` in a mapping file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum MassUnitSetting {
    /// Tonnes with up to three decimals (`"t"`): `52.30` is 52 300 kg.
    #[serde(rename = "t")]
    Tonnes,
    /// Whole kilograms (`"kg"`): `52300`.
    #[serde(rename = "kg")]
    Kilograms,
    /// Decided per file (`"auto"`, the default): a unit in the gross column's header
    /// (`毛重(吨)`, `毛重(kg)`) decides; otherwise tonnes when any gross value has a decimal
    /// point or every gross value is below 1000, kilograms else.
    #[default]
    #[serde(rename = "auto")]
    Auto,
}

/// Time formats tried after those of the mapping file (chrono `strftime` syntax), all read as
/// China Standard Time. chrono reads `%m`, `%d` and `%H` with or without a leading zero, so
/// `2026/11/29 8:15` matches `%Y/%m/%d %H:%M`. Times with an explicit offset
/// (`2026-11-29T08:15:30+08:00`, RFC 3339) are read as such.
pub const DEFAULT_TIME_FORMATS: [&str; 11] = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y%m%d%H%M%S",
];

/// Result words the built-in mapping knows (after trimming, ASCII case ignored); a mapping
/// file's `[result_values]` adds to them and wins on the same word.
pub const DEFAULT_RESULT_VALUES: [(&str, WeighingResult); 12] = [
    ("放行", WeighingResult::Passed),
    ("通过", WeighingResult::Passed),
    ("正常", WeighingResult::Passed),
    ("passed", WeighingResult::Passed),
    ("拦截", WeighingResult::Blocked),
    ("禁止出场", WeighingResult::Blocked),
    ("blocked", WeighingResult::Blocked),
    ("卸载复磅", WeighingResult::UnloadedAndReweighed),
    ("卸货复磅", WeighingResult::UnloadedAndReweighed),
    ("复磅", WeighingResult::UnloadedAndReweighed),
    (
        "unloaded_and_reweighed",
        WeighingResult::UnloadedAndReweighed,
    ),
    ("reweighed", WeighingResult::UnloadedAndReweighed),
];

/// Why a mapping file is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The file cannot be read.
    #[error("cannot read the mapping file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key or value.
    #[error("mapping file: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value is out of range or contradicts another.
    #[error("mapping file: {0}")]
    Invalid(String),
}

/// One header name or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The file as written; unknown keys are errors, so a misspelt key is not silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    mass_unit: MassUnitSetting,
    #[serde(default)]
    time_formats: Vec<String>,
    #[serde(default)]
    default_axles: Option<u8>,
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default)]
    columns: BTreeMap<Field, OneOrMany>,
    #[serde(default)]
    result_values: BTreeMap<String, WeighingResult>,
}

/// How to read one weighbridge program's CSV export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Normalised header names per field ([`normalize_header`]), in order of preference.
    columns: BTreeMap<Field, Vec<String>>,
    /// The unit of the mass columns.
    pub mass_unit: MassUnitSetting,
    /// The mapping file's own time formats, tried before [`DEFAULT_TIME_FORMATS`].
    time_formats: Vec<String>,
    /// Axle count for every line when the file has no axle column (a site weighing one kind of
    /// truck); a line's own value wins.
    pub default_axles: Option<u8>,
    /// Result words, normalised (trimmed, ASCII lower case).
    result_values: BTreeMap<String, WeighingResult>,
    /// The field separator, one ASCII character (default `,`).
    pub delimiter: u8,
}

impl Default for Mapping {
    /// The built-in mapping: every field's [`Field::default_headers`] and own name, unit
    /// `auto`, [`DEFAULT_TIME_FORMATS`], [`DEFAULT_RESULT_VALUES`], comma-separated.
    fn default() -> Self {
        let columns = Field::ALL
            .iter()
            .map(|&f| {
                let names = std::iter::once(f.as_str())
                    .chain(f.default_headers().iter().copied())
                    .map(|n| normalize_header(n).0)
                    .collect();
                (f, names)
            })
            .collect();
        let result_values = DEFAULT_RESULT_VALUES
            .iter()
            .map(|&(word, result)| (normalize_value(word), result))
            .collect();
        Mapping {
            columns,
            mass_unit: MassUnitSetting::Auto,
            time_formats: Vec::new(),
            default_axles: None,
            result_values,
            delimiter: b',',
        }
    }
}

impl Mapping {
    /// Reads a mapping file (TOML) and lays it over the built-in mapping: a field listed under
    /// `[columns]` is looked up under the listed headers only, the others keep the built-in
    /// names; `time_formats` are tried before the built-in ones; `[result_values]` add to the
    /// built-in words.
    ///
    /// # Errors
    /// [`MappingError::Toml`] for malformed TOML, an unknown key, field or result;
    /// [`MappingError::Invalid`] for an empty header name, one header named for two fields, a
    /// time format chrono cannot read, an axle count of 0, or a delimiter that is not one
    /// ASCII character.
    pub fn from_toml(text: &str) -> Result<Self, MappingError> {
        let file: MappingFile = toml::from_str(text)?;
        let mut mapping = Mapping::default();
        let mut owner: BTreeMap<String, Field> = BTreeMap::new();
        for (field, names) in file.columns {
            let names = match names {
                OneOrMany::One(n) => vec![n],
                OneOrMany::Many(ns) => ns,
            };
            if names.is_empty() {
                return Err(MappingError::Invalid(format!(
                    "columns.{field}: give at least one header name"
                )));
            }
            let mut normalised = Vec::with_capacity(names.len());
            for name in names {
                let (key, _) = normalize_header(&name);
                if key.is_empty() {
                    return Err(MappingError::Invalid(format!(
                        "columns.{field}: an empty header name"
                    )));
                }
                if let Some(other) = owner.insert(key.clone(), field)
                    && other != field
                {
                    return Err(MappingError::Invalid(format!(
                        "header {name:?} is named for both {other} and {field}"
                    )));
                }
                normalised.push(key);
            }
            mapping.columns.insert(field, normalised);
        }
        // A header the file names for one field is no longer a built-in name of another
        // (`cargo = "车号"` takes 车号 away from plate).
        for (key, field) in &owner {
            for (other, names) in &mut mapping.columns {
                if other != field {
                    names.retain(|n| n != key);
                }
            }
        }
        for format in &file.time_formats {
            let bad = chrono::format::StrftimeItems::new(format)
                .any(|item| matches!(item, chrono::format::Item::Error));
            if bad || format.trim().is_empty() {
                return Err(MappingError::Invalid(format!(
                    "time_formats: {format:?} is not a chrono format (e.g. \"%Y-%m-%d %H:%M:%S\")"
                )));
            }
        }
        if file.default_axles == Some(0) {
            return Err(MappingError::Invalid(
                "default_axles: must be at least 1".to_owned(),
            ));
        }
        if let Some(d) = &file.delimiter {
            match d.as_bytes() {
                [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => mapping.delimiter = *b,
                _ => {
                    return Err(MappingError::Invalid(format!(
                        "delimiter: {d:?} is not one ASCII character (\",\", \";\", \"\\t\")"
                    )));
                }
            }
        }
        for (word, result) in file.result_values {
            let key = normalize_value(&word);
            if key.is_empty() {
                return Err(MappingError::Invalid(
                    "result_values: an empty word".to_owned(),
                ));
            }
            mapping.result_values.insert(key, result);
        }
        mapping.mass_unit = file.mass_unit;
        mapping.time_formats = file.time_formats;
        mapping.default_axles = file.default_axles;
        Ok(mapping)
    }

    /// Reads the mapping file at `path` ([`Mapping::from_toml`]).
    ///
    /// # Errors
    /// [`MappingError::Read`] when the file cannot be read, else as [`Mapping::from_toml`].
    pub fn load(path: &Path) -> Result<Self, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Mapping::from_toml(&text)
    }

    /// The normalised header names `field` is looked up under, in order of preference.
    pub fn header_names(&self, field: Field) -> &[String] {
        self.columns.get(&field).map_or(&[], Vec::as_slice)
    }

    /// The result a cell's word stands for (trimmed, ASCII case ignored).
    pub fn result_value(&self, word: &str) -> Option<WeighingResult> {
        self.result_values.get(&normalize_value(word)).copied()
    }

    /// The result words known, for messages.
    pub fn result_words(&self) -> impl Iterator<Item = &str> {
        self.result_values.keys().map(String::as_str)
    }

    /// The time formats to try, the mapping file's first.
    pub fn time_formats(&self) -> impl Iterator<Item = &str> + Clone {
        self.time_formats
            .iter()
            .map(String::as_str)
            .chain(DEFAULT_TIME_FORMATS)
    }
}

/// A header as it is compared: without whitespace (also inside: `车 号`), BOM and quotes,
/// full-width brackets made ASCII, ASCII lower case; and the unit in a trailing bracket, if
/// any (`毛重（吨）` → (`毛重(吨)`, `Some("吨")`)).
pub fn normalize_header(header: &str) -> (String, Option<String>) {
    let key: String = header
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\u{feff}' | '"'))
        .map(|c| match c {
            '（' | '[' | '【' => '(',
            '）' | ']' | '】' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let unit = key
        .strip_suffix(')')
        .and_then(|k| k.rsplit_once('('))
        .map(|(_, unit)| unit.to_owned());
    (key, unit)
}

/// The header without its trailing bracket (`毛重(吨)` → `毛重`).
pub(crate) fn header_base(key: &str) -> &str {
    match key.strip_suffix(')').and_then(|k| k.rsplit_once('(')) {
        Some((base, _)) => base,
        None => key,
    }
}

fn normalize_value(word: &str) -> String {
    word.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_compared_without_spaces_case_or_full_width_brackets() {
        assert_eq!(
            normalize_header(" 毛重（吨） "),
            ("毛重(吨)".to_owned(), Some("吨".to_owned()))
        );
        assert_eq!(normalize_header("\u{feff}车 号"), ("车号".to_owned(), None));
        assert_eq!(
            normalize_header("Gross(KG)"),
            ("gross(kg)".to_owned(), Some("kg".to_owned()))
        );
        assert_eq!(header_base("毛重(吨)"), "毛重");
        assert_eq!(header_base("毛重"), "毛重");
    }

    #[test]
    fn a_mapping_file_overrides_the_fields_it_names_and_keeps_the_others() {
        let m = Mapping::from_toml(
            r#"
            mass_unit = "kg"
            time_formats = ["%d.%m.%Y %H:%M"]
            default_axles = 6
            delimiter = ";"
            [columns]
            plate = "车辆号码"
            gross = ["总重", "毛重(kg)"]
            [result_values]
            "出厂" = "passed"
            "扣车" = "blocked"
            "#,
        )
        .unwrap();
        assert_eq!(m.header_names(Field::Plate), ["车辆号码"]);
        assert_eq!(m.header_names(Field::Gross), ["总重", "毛重(kg)"]);
        assert!(m.header_names(Field::Tare).contains(&"皮重".to_owned()));
        let m2 = Mapping::from_toml("[columns]\ncargo = \"车号\"").unwrap();
        assert_eq!(m2.header_names(Field::Cargo), ["车号"]);
        assert!(
            !m2.header_names(Field::Plate).contains(&"车号".to_owned()),
            "taken from the built-in plate names"
        );
        assert_eq!(m.mass_unit, MassUnitSetting::Kilograms);
        assert_eq!((m.default_axles, m.delimiter), (Some(6), b';'));
        assert_eq!(m.time_formats().next(), Some("%d.%m.%Y %H:%M"));
        assert_eq!(m.result_value(" 扣车 "), Some(WeighingResult::Blocked));
        assert_eq!(m.result_value("出厂"), Some(WeighingResult::Passed));
        assert_eq!(
            m.result_value("卸载复磅"),
            Some(WeighingResult::UnloadedAndReweighed),
            "the built-in words stay"
        );
        assert_eq!(m.result_value("Passed"), Some(WeighingResult::Passed));
        assert_eq!(m.result_value("什么"), None);
    }

    #[test]
    fn bad_mapping_files_are_refused_with_the_key_named() {
        for (text, needle) in [
            ("mass_unit = \"lb\"", "mass_unit"),
            ("[columns]\nplates = \"车号\"", "plates"),
            ("colums = 1", "colums"),
            ("[result_values]\n\"放行\" = \"gone\"", "gone"),
            ("[columns]\nplate = \"车号\"\ncargo = \"车号\"", "both"),
            ("[columns]\nplate = []", "at least one"),
            ("[columns]\nplate = \" \"", "empty"),
            ("time_formats = [\"%Y-%Q\"]", "time_formats"),
            ("default_axles = 0", "default_axles"),
            ("delimiter = \";;\"", "delimiter"),
        ] {
            let e = Mapping::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
