//! [`DocumentId`]: the id of one CRDT document, as automerge-repo spells it.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The id of one document: 16 random bytes, shown as base58check (bitcoin alphabet, 4-byte
/// double-SHA-256 checksum) exactly as automerge-repo shows it in `automerge:` URLs, so ids are
/// interchangeable with automerge-repo peers.
///
/// Ids are drawn from an injected random source ([`DocumentId::generate`]) so tests and
/// simulations are deterministic.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentId([u8; 16]);

/// Why a text is not a [`DocumentId`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentIdError {
    /// Not base58 (bitcoin alphabet).
    #[error("document id is not base58: {0}")]
    NotBase58(String),
    /// Decoded to the wrong number of bytes.
    #[error("document id must decode to 16 bytes and a 4-byte checksum, got {0} bytes")]
    WrongLength(usize),
    /// The checksum does not match: a typo or a truncated id.
    #[error("document id checksum does not match")]
    Checksum,
}

const URL_PREFIX: &str = "automerge:";

fn checksum(bytes: &[u8]) -> [u8; 4] {
    let twice = Sha256::digest(Sha256::digest(bytes));
    [twice[0], twice[1], twice[2], twice[3]]
}

impl DocumentId {
    /// Draws a new id from `rng`.
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        DocumentId(bytes)
    }

    /// The id from its 16 raw bytes (as carried in the automerge-repo wire protocol).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        DocumentId(bytes)
    }

    /// The 16 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The `automerge:` URL of the document.
    pub fn url(&self) -> String {
        format!("{URL_PREFIX}{self}")
    }

    /// Parses the base58check form, with or without the `automerge:` prefix.
    ///
    /// # Errors
    /// [`DocumentIdError`] when the text is not base58, has the wrong length or a bad checksum.
    pub fn parse(text: &str) -> Result<Self, DocumentIdError> {
        let text = text.trim();
        let text = text.strip_prefix(URL_PREFIX).unwrap_or(text);
        let decoded = bs58::decode(text)
            .into_vec()
            .map_err(|e| DocumentIdError::NotBase58(e.to_string()))?;
        if decoded.len() != 20 {
            return Err(DocumentIdError::WrongLength(decoded.len()));
        }
        let (body, check) = decoded.split_at(16);
        if checksum(body) != check {
            return Err(DocumentIdError::Checksum);
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(body);
        Ok(DocumentId(bytes))
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut with_check = [0u8; 20];
        with_check[..16].copy_from_slice(&self.0);
        with_check[16..].copy_from_slice(&checksum(&self.0));
        f.write_str(&bs58::encode(with_check).into_string())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

impl FromStr for DocumentId {
    type Err = DocumentIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for DocumentId {
    type Error = DocumentIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DocumentId> for String {
    fn from(id: DocumentId) -> Self {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn round_trips_and_is_deterministic_under_a_seed() {
        let a = DocumentId::generate(&mut StdRng::seed_from_u64(7));
        let b = DocumentId::generate(&mut StdRng::seed_from_u64(7));
        assert_eq!(a, b);
        let text = a.to_string();
        assert_eq!(text.parse::<DocumentId>().unwrap(), a);
        assert_eq!(DocumentId::parse(&a.url()).unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<DocumentId>(&json).unwrap(), a);
    }

    #[test]
    fn matches_automerge_repo_encoding() {
        // automerge-repo: bs58check.encode(uuid bytes); all-zero bytes give this id.
        let zero = DocumentId::from_bytes([0; 16]);
        let text = zero.to_string();
        assert!(text.starts_with("1111111111111111"), "{text}");
        assert_eq!(DocumentId::parse(&text).unwrap(), zero);
    }

    #[test]
    fn rejects_typos_truncation_and_garbage() {
        let id = DocumentId::from_bytes(*b"0123456789abcdef").to_string();
        let mut typo: Vec<char> = id.chars().collect();
        typo[3] = if typo[3] == 'z' { 'y' } else { 'z' };
        let typo: String = typo.into_iter().collect();
        assert_eq!(
            DocumentId::parse(&typo),
            Err(DocumentIdError::Checksum),
            "{typo}"
        );
        assert!(matches!(
            DocumentId::parse(&id[..id.len() - 2]),
            Err(DocumentIdError::WrongLength(_) | DocumentIdError::Checksum)
        ));
        assert!(matches!(
            DocumentId::parse("0OIl"),
            Err(DocumentIdError::NotBase58(_))
        ));
        assert!(DocumentId::parse("").is_err());
        assert!(DocumentId::parse("晋E12345").is_err());
    }
}
