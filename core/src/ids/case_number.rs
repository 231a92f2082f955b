//! [`CaseNumber`] (案号): made on the device, offline, unique across devices.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The short code a device receives at enrollment (2–8 of `A–Z 0–9`), unique per device within
/// the county. It prefixes the case numbers the device makes, so two phones without a network
/// never make the same number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DevicePrefix(String);

/// A case number (案号): `{device prefix}-{year}-{sequence:05}`, e.g. `K7Q2-2026-00017`. The
/// sequence is the device's own counter, persisted before the number is handed out; the year
/// is the device year at registration and only decorates (uniqueness comes from prefix and
/// sequence).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseNumber {
    prefix: DevicePrefix,
    year: u16,
    sequence: u32,
}

/// Why a text is not a device prefix or a case number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaseNumberError {
    /// Prefix not 2–8 of `A–Z 0–9`.
    #[error("device prefix {0:?} must be 2 to 8 characters of A-Z 0-9")]
    Prefix(String),
    /// Not `PREFIX-YYYY-NNNNN`.
    #[error("case number {0:?} is not PREFIX-YEAR-SEQUENCE (e.g. K7Q2-2026-00017)")]
    Shape(String),
    /// Sequence 0 or year out of 2000–2999.
    #[error("case number {0:?} has a year outside 2000-2999 or a sequence of 0")]
    Range(String),
}

impl DevicePrefix {
    /// Validates a prefix (upper-cased).
    ///
    /// # Errors
    /// [`CaseNumberError::Prefix`].
    pub fn new(text: &str) -> Result<Self, CaseNumberError> {
        let upper = text.trim().to_ascii_uppercase();
        let ok = (2..=8).contains(&upper.len())
            && upper
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok {
            Ok(DevicePrefix(upper))
        } else {
            Err(CaseNumberError::Prefix(text.to_owned()))
        }
    }

    /// The prefix text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix of the enrolled device `device`: eight characters of `A–Z 0–9` taken from
    /// the SHA-256 of its storage id (base 36, about 2.8 × 10¹² values). The server keeps
    /// storage ids unique, so two phones of a county get the same prefix only with negligible
    /// probability, and a phone reinstalled under the same storage id keeps its prefix (its
    /// durable sequence continues in its store).
    pub fn for_device(device: &super::StorageId) -> Self {
        use sha2::{Digest, Sha256};
        const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let digest = Sha256::digest(format!("zhichao/device-prefix/v1/{}", device.as_str()));
        let mut n = u64::from_be_bytes(
            digest[..8]
                .try_into()
                .unwrap_or_else(|_| unreachable!("a SHA-256 digest has 32 bytes")),
        );
        let mut text = String::with_capacity(8);
        for _ in 0..8 {
            text.push(char::from(ALPHABET[(n % 36) as usize]));
            n /= 36;
        }
        DevicePrefix(text)
    }
}

impl CaseNumber {
    /// A case number from its parts.
    ///
    /// # Errors
    /// [`CaseNumberError::Range`] for a sequence of 0 or a year outside 2000–2999.
    pub fn new(prefix: DevicePrefix, year: u16, sequence: u32) -> Result<Self, CaseNumberError> {
        if sequence == 0 || !(2000..=2999).contains(&year) {
            return Err(CaseNumberError::Range(format!(
                "{}-{year}-{sequence}",
                prefix.0
            )));
        }
        Ok(CaseNumber {
            prefix,
            year,
            sequence,
        })
    }

    /// The device prefix.
    pub fn prefix(&self) -> &DevicePrefix {
        &self.prefix
    }

    /// The year part.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The device sequence number, ≥ 1.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Parses `PREFIX-YYYY-NNNNN` (case-insensitive prefix).
    ///
    /// # Errors
    /// [`CaseNumberError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, CaseNumberError> {
        let shape = || CaseNumberError::Shape(text.to_owned());
        let mut parts = text.trim().split('-');
        let (Some(prefix), Some(year), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(shape());
        };
        let prefix = DevicePrefix::new(prefix)?;
        let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        if !digits(year) || year.len() != 4 || !digits(seq) || seq.len() > 9 {
            return Err(shape());
        }
        let year: u16 = year.parse().map_err(|_| shape())?;
        let sequence: u32 = seq.parse().map_err(|_| shape())?;
        Self::new(prefix, year, sequence)
    }
}

impl fmt::Display for DevicePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DevicePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePrefix({})", self.0)
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:05}", self.prefix, self.year, self.sequence)
    }
}

impl fmt::Debug for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaseNumber({self})")
    }
}

impl FromStr for DevicePrefix {
    type Err = CaseNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl FromStr for CaseNumber {
    type Err = CaseNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for DevicePrefix {
    type Error = CaseNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl TryFrom<String> for CaseNumber {
    type Error = CaseNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DevicePrefix> for String {
    fn from(p: DevicePrefix) -> Self {
        p.0
    }
}

impl From<CaseNumber> for String {
    fn from(n: CaseNumber) -> Self {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_prefixes_are_stable_valid_and_distinct() {
        let a = super::super::StorageId::new("android-3f2a").unwrap();
        let b = super::super::StorageId::new("android-3f2b").unwrap();
        let pa = DevicePrefix::for_device(&a);
        assert_eq!(pa, DevicePrefix::for_device(&a));
        assert_ne!(pa, DevicePrefix::for_device(&b));
        assert_eq!(DevicePrefix::new(pa.as_str()).unwrap(), pa);
        assert_eq!(pa.as_str().len(), 8);
    }

    #[test]
    fn formats_and_parses() {
        let n = CaseNumber::new(DevicePrefix::new("k7q2").unwrap(), 2026, 17).unwrap();
        assert_eq!(n.to_string(), "K7Q2-2026-00017");
        assert_eq!(CaseNumber::parse("K7Q2-2026-00017").unwrap(), n);
        assert_eq!(CaseNumber::parse("k7q2-2026-17").unwrap(), n);
        let big = CaseNumber::new(DevicePrefix::new("AB").unwrap(), 2026, 123_456).unwrap();
        assert_eq!(CaseNumber::parse(&big.to_string()).unwrap(), big);
    }

    #[test]
    fn rejects_malformed_numbers() {
        for bad in [
            "",
            "K7Q2",
            "K7Q2-2026",
            "K7Q2-2026-0",
            "K7Q2-1999-1",
            "K7Q2-26-1",
            "K-2026-1",
            "K7Q2-2026-1-2",
            "K7Q2-2026-+1",
            "K7Q2-2026-9999999999",
            "晋E-2026-1",
        ] {
            assert!(CaseNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
