//! The `rules` document: a server document holding every version of the rules
//! ([`RulesConfig`]) a county has put in force, so a phone classifies offline under the
//! version a case records (`Case::rules_id`), including versions replaced since.
//!
//! Written only by the server ([`crate::access`]); read by officers and supervisors whose scope
//! lies in the county or covers it. One per county, with a deterministic id
//! ([`rules_document_id`]) so a phone can open it without listing anything.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::DocumentId;
use crate::rules::RulesConfig;
use crate::scope::Scope;

use super::typed::{DocBody, DocError, DocKind, Header, check_header_fields};

/// One version of the rules, as put in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct RulesVersion {
    /// The version's id ([`RulesConfig::id`]).
    pub id: String,
    /// When the server put it in force, UTC milliseconds.
    pub in_force_from_ms: i64,
    /// The configuration as TOML ([`RulesConfig::from_toml_str`] reads it).
    pub config_toml: String,
}

impl RulesVersion {
    /// The version as a configuration.
    ///
    /// # Errors
    /// [`DocError::Rule`] when the stored TOML does not read (a document checked by
    /// [`DocBody::check`] always reads).
    pub fn config(&self) -> Result<RulesConfig, DocError> {
        RulesConfig::from_toml_str(&self.config_toml)
            .map_err(|e| DocError::Rule(format!("rules version {}: {e}", self.id)))
    }

    /// A version of `config`, in force from `in_force_from_ms`.
    ///
    /// # Errors
    /// [`DocError::Rule`] when the configuration cannot be written as TOML.
    pub fn of(config: &RulesConfig, in_force_from_ms: i64) -> Result<Self, DocError> {
        Ok(RulesVersion {
            id: config.id.clone(),
            in_force_from_ms,
            config_toml: toml::to_string(config)
                .map_err(|e| DocError::Rule(format!("rules {} as TOML: {e}", config.id)))?,
        })
    }
}

/// The body of a `rules` document: versions in the order they were put in force; the last
/// one is in force. Append-only. An id may appear again (rules put back in force, e.g. a
/// rollback) but always with the same settings: cases record the id, so it must mean one
/// thing forever.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct RulesVersions {
    /// Versions, oldest first.
    pub versions: Vec<RulesVersion>,
}

impl RulesVersions {
    /// The version in force (the last one).
    pub fn in_force(&self) -> Option<&RulesVersion> {
        self.versions.last()
    }

    /// The version with this id, if it was ever put in force (all its entries hold the same
    /// settings).
    pub fn version(&self, id: &str) -> Option<&RulesVersion> {
        self.versions.iter().rev().find(|v| v.id == id)
    }
}

impl DocBody for RulesVersions {
    const KIND: DocKind = DocKind::Rules;

    fn check_header(header: &Header) -> Result<(), DocError> {
        check_header_fields(header, false, false, false)
    }

    fn check(&self, before: Option<&Self>) -> Result<(), DocError> {
        if self.versions.is_empty() {
            return Err(DocError::Rule(
                "a rules document needs a version".to_owned(),
            ));
        }
        for (i, v) in self.versions.iter().enumerate() {
            let config = v.config()?;
            if config.id != v.id {
                return Err(DocError::Rule(format!(
                    "rules version {} holds a configuration with id {}",
                    v.id, config.id
                )));
            }
            if let Some(earlier) = self.versions[..i].iter().find(|w| w.id == v.id)
                && earlier.config()? != config
            {
                return Err(DocError::Rule(format!(
                    "rules version {} appears twice with different settings",
                    v.id
                )));
            }
        }
        if let Some(before) = before
            && !self.versions.starts_with(&before.versions)
        {
            return Err(DocError::Rule("rules versions are append-only".to_owned()));
        }
        Ok(())
    }
}

/// The id of a county's rules document: the first 16 bytes of
/// SHA-256(`"zhichao/rules/v1/"` + scope text). Deterministic, so every phone and the server
/// agree on it without a lookup.
pub fn rules_document_id(scope: &Scope) -> DocumentId {
    let digest = Sha256::digest(format!("zhichao/rules/v1/{scope}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    DocumentId::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{county, other_county};

    fn version(id: &str, tolerance_kg: u32) -> RulesVersion {
        RulesVersion::of(
            &RulesConfig {
                id: id.to_owned(),
                tolerance_kg,
                ..RulesConfig::default()
            },
            1,
        )
        .unwrap()
    }

    #[test]
    fn versions_are_append_only_unique_and_read_back() {
        let one = RulesVersions {
            versions: vec![version("a-2026", 0)],
        };
        one.check(None).unwrap();
        let two = RulesVersions {
            versions: vec![version("a-2026", 0), version("a-2027", 500)],
        };
        two.check(Some(&one)).unwrap();
        assert_eq!(two.in_force().unwrap().config().unwrap().tolerance_kg, 500);
        assert_eq!(
            two.version("a-2026")
                .unwrap()
                .config()
                .unwrap()
                .tolerance_kg,
            0
        );
        // Rewriting history, repeating an id, an empty document: refused.
        let rewritten = RulesVersions {
            versions: vec![version("a-2026", 100), version("a-2027", 500)],
        };
        assert!(rewritten.check(Some(&two)).is_err());
        // Put back in force (a rollback): the same id with the same settings is fine; with
        // other settings it is refused.
        let rolled_back = RulesVersions {
            versions: vec![
                version("a-2026", 0),
                version("a-2027", 500),
                version("a-2026", 0),
            ],
        };
        rolled_back.check(Some(&two)).unwrap();
        assert_eq!(rolled_back.in_force().unwrap().id, "a-2026");
        let redefined = RulesVersions {
            versions: vec![version("a-2026", 0), version("a-2026", 100)],
        };
        assert!(redefined.check(None).is_err());
        assert!(RulesVersions::default().check(None).is_err());
        // A version whose TOML names another id.
        let mut mislabelled = version("a-2026", 0);
        mislabelled.id = "b".to_owned();
        let bad = RulesVersions {
            versions: vec![mislabelled],
        };
        assert!(bad.check(None).is_err());
    }

    #[test]
    fn each_county_has_its_own_fixed_document_id() {
        assert_eq!(rules_document_id(&county()), rules_document_id(&county()));
        assert_ne!(
            rules_document_id(&county()),
            rules_document_id(&other_county())
        );
    }
}
