//! [`EvidenceId`]: the SHA-256 of a photo's original bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The id of a piece of photo evidence: the SHA-256 of the exact original bytes, shown as 64
/// lower-case hex digits. Documents reference photos by it, never carry their bytes; anyone can
/// re-hash the original to prove it is the one taken.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EvidenceId([u8; 32]);

/// Why a text is not an evidence id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("evidence id must be 64 hex digits (a SHA-256), got {0:?}")]
pub struct EvidenceIdError(String);

impl EvidenceId {
    /// The id from the 32 digest bytes.
    pub const fn from_digest(bytes: [u8; 32]) -> Self {
        EvidenceId(bytes)
    }

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        EvidenceId(sha2::Sha256::digest(bytes).into())
    }

    /// The 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    /// [`EvidenceIdError`].
    pub fn parse(text: &str) -> Result<Self, EvidenceIdError> {
        let err = || EvidenceIdError(text.chars().take(80).collect());
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return Err(err());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = text.get(2 * i..2 * i + 2).ok_or_else(err)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| err())?;
        }
        Ok(EvidenceId(bytes))
    }
}

impl fmt::Display for EvidenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for EvidenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EvidenceId({self})")
    }
}

impl FromStr for EvidenceId {
    type Err = EvidenceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for EvidenceId {
    type Error = EvidenceIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<EvidenceId> for String {
    fn from(id: EvidenceId) -> Self {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_round_trips() {
        let id = EvidenceId::of(b"abc");
        assert_eq!(
            id.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            EvidenceId::parse(&id.to_string().to_uppercase()).unwrap(),
            id
        );
        for bad in ["", "xyz", &"g".repeat(64), &"a".repeat(63), &"é".repeat(32)] {
            assert!(EvidenceId::parse(bad).is_err(), "{bad}");
        }
    }
}
