//! [`RulesConfig`]: the figures of overload control that no verified text fixes.
//!
//! REFERENCE.md marks them *configurable*: the measurement tolerance, how part-tonnes of excess
//! are rounded for the Art. 43 fine, the subjects of "一超四罚", and the per-vehicle fine on a
//! source unit that releases an over-limit truck. A county sets them in a TOML file; every case
//! records the [`RulesConfig::id`] it was measured under so the phone, the server and the console
//! classify it alike.
//!
//! ```toml
//! id = "national-2016"
//! tolerance_kg = 0
//! part_tonne_rounding = "up"
//! subjects = ["vehicle", "driver", "transport_company", "source_unit"]
//! # source_unit_release_fine_yuan = 5000
//! ```

use std::path::Path;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

/// Largest tolerance accepted, kg: a larger value is a typo, not a policy.
pub const MAX_TOLERANCE_KG: u32 = 5_000;

/// Largest per-vehicle fine on a source unit accepted, yuan.
pub const MAX_RELEASE_FINE_YUAN: u32 = 1_000_000;

/// Largest rules file read, bytes: a rules file is a few lines.
pub const MAX_RULES_FILE_BYTES: u64 = 64 * 1024;

/// How a part-tonne of excess mass counts for the fine of 62号令 Art. 43 (2) ("每超1000千克罚款
/// 500元"). No text defines it (REFERENCE.md §2: configurable, default round up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartTonneRounding {
    /// Every 1 000 kg started counts (1 001 kg → 2 × ¥500). The default.
    #[default]
    Up,
    /// Only whole 1 000 kg count (1 999 kg → 1 × ¥500).
    Down,
}

/// A party that an over-limit finding may lead to action against ("一超四罚"). The usual four are
/// vehicle, driver, transport company and source unit; law does not fix them (Shanxi press,
/// 2023), so the list is configuration.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Hydrate,
    Reconcile,
)]
#[serde(rename_all = "snake_case")]
pub enum PenaltySubject {
    /// The vehicle (车辆): operating certificate, Art. 66 count.
    Vehicle,
    /// The driver (驾驶人).
    Driver,
    /// The transport company (运输企业).
    TransportCompany,
    /// The freight source unit that loaded it (货运源头单位).
    SourceUnit,
    /// The shipper (货主), where a county names it.
    Shipper,
}

impl PenaltySubject {
    /// The Chinese term.
    pub fn chinese_name(self) -> &'static str {
        match self {
            PenaltySubject::Vehicle => "车辆",
            PenaltySubject::Driver => "驾驶人",
            PenaltySubject::TransportCompany => "运输企业",
            PenaltySubject::SourceUnit => "货运源头单位",
            PenaltySubject::Shipper => "货主",
        }
    }
}

/// The configurable part of the rules, with the defaults of REFERENCE.md.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Identifier of this rules version, recorded on every case measured under it
    /// (1–64 characters of `A–Z a–z 0–9 . _ -`).
    pub id: String,
    /// Measurement tolerance, kg, deducted from the measured gross mass in the party's favour
    /// before comparing with the limit. Default 0: none found in national law.
    pub tolerance_kg: u32,
    /// Rounding of part-tonnes for the Art. 43 (2) fine. Default [`PartTonneRounding::Up`].
    pub part_tonne_rounding: PartTonneRounding,
    /// The "一超四罚" subjects, in display order; at least one, no repeats.
    pub subjects: Vec<PenaltySubject>,
    /// Fine per vehicle on a source unit that releases an over-limit truck, yuan, where a county
    /// sets one (not verified in any text; default none).
    pub source_unit_release_fine_yuan: Option<u32>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            id: "national-2016".to_owned(),
            tolerance_kg: 0,
            part_tonne_rounding: PartTonneRounding::Up,
            subjects: vec![
                PenaltySubject::Vehicle,
                PenaltySubject::Driver,
                PenaltySubject::TransportCompany,
                PenaltySubject::SourceUnit,
            ],
            source_unit_release_fine_yuan: None,
        }
    }
}

/// Why a rules configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesConfigError {
    /// The file could not be read.
    #[error("cannot read rules file {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML or has unknown or mistyped fields.
    #[error("invalid rules TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value is out of range.
    #[error("invalid rules: {0}")]
    Invalid(String),
}

impl RulesConfig {
    /// Parses and validates a TOML text; missing fields take their defaults.
    ///
    /// # Errors
    /// [`RulesConfigError::Toml`] for bad syntax, unknown fields or values of the wrong type;
    /// [`RulesConfigError::Invalid`] for out-of-range values (empty or repeated subjects, a
    /// tolerance above [`MAX_TOLERANCE_KG`], a malformed id).
    pub fn from_toml_str(text: &str) -> Result<Self, RulesConfigError> {
        let config: RulesConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads [`RulesConfig::from_toml_str`] from a file.
    ///
    /// # Errors
    /// [`RulesConfigError::Read`] when the file cannot be read, else as `from_toml_str`.
    pub fn load(path: &Path) -> Result<Self, RulesConfigError> {
        use std::io::Read;
        let read_error = |source| RulesConfigError::Read {
            path: path.display().to_string(),
            source,
        };
        // Checked before opening: opening a FIFO for reading would block.
        let meta = std::fs::metadata(path).map_err(read_error)?;
        if !meta.is_file() {
            return Err(RulesConfigError::Invalid(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let file = std::fs::File::open(path).map_err(read_error)?;
        // Bounded even if the file grows while being read.
        let mut text = String::new();
        file.take(MAX_RULES_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        if text.len() as u64 > MAX_RULES_FILE_BYTES {
            return Err(RulesConfigError::Invalid(format!(
                "{} is larger than {MAX_RULES_FILE_BYTES} bytes",
                path.display()
            )));
        }
        Self::from_toml_str(&text)
    }

    /// Checks the ranges documented on each field.
    ///
    /// # Errors
    /// [`RulesConfigError::Invalid`] naming the field.
    pub fn validate(&self) -> Result<(), RulesConfigError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !id_ok {
            return Err(RulesConfigError::Invalid(format!(
                "id {:?} must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
                self.id
            )));
        }
        if self.tolerance_kg > MAX_TOLERANCE_KG {
            return Err(RulesConfigError::Invalid(format!(
                "tolerance_kg {} is above the maximum of {MAX_TOLERANCE_KG}",
                self.tolerance_kg
            )));
        }
        if let Some(fine) = self.source_unit_release_fine_yuan
            && !(1..=MAX_RELEASE_FINE_YUAN).contains(&fine)
        {
            return Err(RulesConfigError::Invalid(format!(
                "source_unit_release_fine_yuan {fine} must be 1 to {MAX_RELEASE_FINE_YUAN} (omit it for none)"
            )));
        }
        if self.subjects.is_empty() {
            return Err(RulesConfigError::Invalid(
                "subjects must name at least one party".to_owned(),
            ));
        }
        let mut seen = self.subjects.clone();
        seen.sort();
        if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(RulesConfigError::Invalid(format!(
                "subject {:?} is listed twice",
                w[0]
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_those_of_the_reference() {
        let c = RulesConfig::default();
        assert_eq!(c.tolerance_kg, 0);
        assert_eq!(c.part_tonne_rounding, PartTonneRounding::Up);
        assert_eq!(c.subjects.len(), 4);
        assert_eq!(c.source_unit_release_fine_yuan, None);
        c.validate().unwrap();
        assert_eq!(RulesConfig::from_toml_str("").unwrap(), c);
    }

    #[test]
    fn loads_every_field_from_toml() {
        let c = RulesConfig::from_toml_str(
            r#"
            id = "shanxi-2023.1"
            tolerance_kg = 500
            part_tonne_rounding = "down"
            subjects = ["vehicle", "source_unit", "shipper"]
            source_unit_release_fine_yuan = 5000
            "#,
        )
        .unwrap();
        assert_eq!(c.id, "shanxi-2023.1");
        assert_eq!(c.tolerance_kg, 500);
        assert_eq!(c.part_tonne_rounding, PartTonneRounding::Down);
        assert_eq!(
            c.subjects,
            [
                PenaltySubject::Vehicle,
                PenaltySubject::SourceUnit,
                PenaltySubject::Shipper
            ]
        );
        assert_eq!(c.source_unit_release_fine_yuan, Some(5000));
        // Round-trips through TOML.
        let text = toml::to_string(&c).unwrap();
        assert_eq!(RulesConfig::from_toml_str(&text).unwrap(), c);
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        let cases = [
            ("tolerance = 5", "unknown field"),
            ("tolerance_kg = -1", "invalid"),
            ("tolerance_kg = 20000", "tolerance_kg 20000"),
            ("tolerance_kg = 99999999999", "invalid"),
            ("source_unit_release_fine_yuan = 0", "must be 1"),
            ("source_unit_release_fine_yuan = 4294967295", "must be 1"),
            ("part_tonne_rounding = \"nearest\"", "unknown variant"),
            ("subjects = []", "at least one"),
            ("subjects = [\"vehicle\", \"vehicle\"]", "listed twice"),
            ("subjects = [\"owner\"]", "unknown variant"),
            ("id = \"\"", "id"),
            ("id = \"a b\"", "id"),
            ("id = ", "invalid rules TOML"),
        ];
        for (text, needle) in cases {
            let err = RulesConfig::from_toml_str(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn directories_and_huge_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = RulesConfig::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, "#".repeat(100_000)).unwrap();
        let err = RulesConfig::load(&big).unwrap_err().to_string();
        assert!(err.contains("larger than"), "{err}");
        let binary = dir.path().join("bin.toml");
        std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x01]).unwrap();
        assert!(RulesConfig::load(&binary).is_err());
    }

    #[test]
    fn a_missing_file_says_which() {
        let err = RulesConfig::load(Path::new("/nonexistent/rules.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/rules.toml"), "{err}");
    }
}
