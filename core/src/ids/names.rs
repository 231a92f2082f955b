//! Token-like identifiers: principals, patrol teams, officers' enforcement IDs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a text is not a valid token identifier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty or too long.
    #[error("{what} must be {min} to {max} characters, got {got}")]
    Length {
        /// Which identifier.
        what: &'static str,
        /// Shortest allowed.
        min: usize,
        /// Longest allowed.
        max: usize,
        /// Characters given.
        got: usize,
    },
    /// A character outside the allowed set.
    #[error("{what} may not contain {found:?} (allowed: {allowed})")]
    Character {
        /// Which identifier.
        what: &'static str,
        /// The offending character.
        found: char,
        /// Description of the allowed set.
        allowed: &'static str,
    },
}

macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:literal, $max:literal, $allowed:literal, $pred:expr) => {
        token_id!($(#[$doc])* $name, $what, $min, $max, $allowed, $pred, |s: &str| s.to_owned());
    };
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:literal, $max:literal, $allowed:literal, $pred:expr, $norm:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `text` (trimmed).
            ///
            /// # Errors
            #[doc = concat!("[`NameError`] when it is not ", $min, " to ", $max, " characters of ", $allowed, ".")]
            pub fn new(text: &str) -> Result<Self, NameError> {
                let text = text.trim();
                let got = text.chars().count();
                if !($min..=$max).contains(&got) {
                    return Err(NameError::Length { what: $what, min: $min, max: $max, got });
                }
                let pred: fn(char) -> bool = $pred;
                if let Some(found) = text.chars().find(|c| !pred(*c)) {
                    return Err(NameError::Character { what: $what, found, allowed: $allowed });
                }
                Ok($name(Self::normalise(text)))
            }

            fn normalise(text: &str) -> String {
                let norm: fn(&str) -> String = $norm;
                norm(text)
            }

            /// The identifier text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
}

token_id!(
    /// Who acts: an account of an officer, a supervisor, an enterprise or the server, e.g.
    /// `officer:zhang-wei-0417`, `unit:91140522MA0K1234X5`, `server`. Recorded in document
    /// headers and the server's change log; it names a person or organisation, not a device.
    PrincipalId, "principal id", 1, 64, "A-Z a-z 0-9 . _ : -", token_char
);

token_id!(
    /// A patrol team (执法小组), e.g. a joint transport–police team of a township. The officers of
    /// a team write its `case` and `notice` documents.
    TeamId, "team id", 1, 64, "A-Z a-z 0-9 . _ : -", token_char
);

token_id!(
    /// An officer's enforcement certificate number (执法证号, 交通运输行政执法证 or the police
    /// badge number), recorded on the on-site record (交通运输行政执法程序规定: at least two
    /// officers with their enforcement ID numbers).
    EnforcementId, "enforcement id", 4, 32, "A-Z a-z 0-9 -", |c: char| c.is_ascii_alphanumeric() || c == '-',
    |s: &str| s.to_ascii_uppercase()
);

token_id!(
    /// The storage id a peer announces in the automerge-repo handshake (`storageId`): identifies
    /// the peer's persistent storage, so sync state kept per (document, storage id) survives
    /// reconnects. Usually a UUID; bound to the device's token by the server.
    StorageId, "storage id", 1, 128, "A-Z a-z 0-9 . _ : -", token_char
);

token_id!(
    /// A peer id in the automerge-repo protocol (`senderId` / `targetId`): free text chosen by
    /// the peer (samod: `peer-<random>`, JS: a random string), one per connection.
    PeerId, "peer id", 1, 256, "printable characters", |c: char| !c.is_control()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_tokens() {
        assert_eq!(
            PrincipalId::new(" officer:zhang-01 ").unwrap().as_str(),
            "officer:zhang-01"
        );
        assert!(matches!(
            PrincipalId::new(""),
            Err(NameError::Length { got: 0, .. })
        ));
        assert!(matches!(
            TeamId::new("team 1"),
            Err(NameError::Character { found: ' ', .. })
        ));
        assert_eq!(
            EnforcementId::new("晋14052219001").unwrap_err().to_string(),
            "enforcement id may not contain '晋' (allowed: A-Z a-z 0-9 -)"
        );
        assert!(EnforcementId::new("123").is_err());
        assert!(EnforcementId::new("14052219001").is_ok());
        // Letters are one officer whatever their case.
        assert_eq!(
            EnforcementId::new("ab12").unwrap(),
            EnforcementId::new("AB12").unwrap()
        );
        let json = serde_json::to_string(&TeamId::new("yc-fengcheng-1").unwrap()).unwrap();
        assert_eq!(json, "\"yc-fengcheng-1\"");
        assert!(serde_json::from_str::<TeamId>("\"a b\"").is_err());
    }
}
