//! The `notice` (整改通知书) and `response` documents.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, EvidenceId};

use super::case::EvidenceRef;
use super::common::{Officer, TextField, has_two_officers};
use super::typed::{DocBody, DocError, DocKind, Header, check_header_fields};

/// When the unit must have corrected: "immediately" (责令立即改正) or by a date (限期改正),
/// set case by case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub enum Deadline {
    /// Correct immediately.
    Immediately,
    /// Correct by this local date, `YYYY-MM-DD`.
    By {
        /// The date, `YYYY-MM-DD` (checked on write).
        date: String,
    },
}

impl Deadline {
    fn is_valid(&self) -> bool {
        match self {
            Deadline::Immediately => true,
            Deadline::By { date } => {
                let b = date.as_bytes();
                b.len() == 10
                    && b[4] == b'-'
                    && b[7] == b'-'
                    && b.iter()
                        .enumerate()
                        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
                    && date.get(5..7).is_some_and(|m| ("01"..="12").contains(&m))
                    && date.get(8..10).is_some_and(|d| ("01"..="31").contains(&d))
            }
        }
    }
}

/// The body of a `notice` document: a rectification notice to one source unit. The unit's
/// USCC is in the header (`unit`), since access depends on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Notice {
    /// The case it arises from.
    pub case: DocumentId,
    /// The unit's registered name.
    pub unit_name: String,
    /// The unit's legal representative, when known.
    pub legal_representative: Option<String>,
    /// Facts found.
    pub facts: TextField,
    /// Legal basis (articles).
    pub legal_basis: TextField,
    /// Deadline.
    pub deadline: Deadline,
    /// The issuing officers: at least two.
    pub issued_by: Vec<Officer>,
    /// Device time of issue, UTC milliseconds.
    pub issued_at_ms: i64,
    /// Where the unit may apply for administrative review (行政复议机关).
    pub review_body: String,
    /// Where the unit may bring an administrative suit (行政诉讼法院).
    pub appeal_body: String,
}

impl DocBody for Notice {
    const KIND: DocKind = DocKind::Notice;

    fn check_header(header: &Header) -> Result<(), DocError> {
        check_header_fields(header, true, true, false)
    }

    fn check(&self, _before: Option<&Self>) -> Result<(), DocError> {
        if !has_two_officers(&self.issued_by) {
            return Err(DocError::Rule(
                "a notice is issued by at least two officers with distinct enforcement IDs"
                    .to_owned(),
            ));
        }
        if !self.deadline.is_valid() {
            return Err(DocError::Rule(
                "deadline date must be YYYY-MM-DD".to_owned(),
            ));
        }
        if self.unit_name.trim().is_empty() {
            return Err(DocError::Rule("the unit's name is required".to_owned()));
        }
        Ok(())
    }
}

/// The body of a `response` document: the enterprise's answer to one notice (the header's
/// `parent`), written by that enterprise only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Response {
    /// What the unit did.
    pub statement: TextField,
    /// Photos proving it.
    pub evidence: Vec<EvidenceRef>,
    /// When the unit submitted it (device time, UTC ms); `None` while a draft.
    pub submitted_at_ms: Option<i64>,
}

impl Response {
    /// The evidence ids referenced.
    pub fn evidence_ids(&self) -> Vec<EvidenceId> {
        self.evidence.iter().map(|e| e.sha256).collect()
    }
}

impl DocBody for Response {
    const KIND: DocKind = DocKind::Response;

    fn check_header(header: &Header) -> Result<(), DocError> {
        check_header_fields(header, false, true, true)
    }

    fn check(&self, before: Option<&Self>) -> Result<(), DocError> {
        if let Some(before) = before
            && before.submitted_at_ms.is_some()
            && self.submitted_at_ms != before.submitted_at_ms
        {
            return Err(DocError::Rule(
                "a submitted response cannot be withdrawn or re-dated".to_owned(),
            ));
        }
        Ok(())
    }
}
