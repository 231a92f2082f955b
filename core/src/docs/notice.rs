//! The `notice` (整改通知书) and `response` documents.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, EvidenceId};

use super::case::EvidenceRef;
use super::common::{Officer, TextField, has_two_officers};
use super::photos::{NoticePhoto, check_evidence, check_notice_photos};
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
            Deadline::By { date } => valid_date(date),
        }
    }
}

/// True for a real calendar date `YYYY-MM-DD` (leap years included).
fn valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = date.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (2000..=2999).contains(&y) && (1..=days).contains(&d)
}

#[cfg(test)]
mod date_tests {
    #[test]
    fn calendar_dates_only() {
        for ok in ["2026-12-31", "2024-02-29", "2000-02-29"] {
            assert!(super::valid_date(ok), "{ok}");
        }
        for bad in [
            "2024-02-30",
            "2023-02-29",
            "2100-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "２０２６-01-01",
            "1999-01-01",
        ] {
            assert!(!super::valid_date(bad), "{bad}");
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
    /// Photos shown to the unit: derivatives of the case's photos only, never an original.
    /// (Added with photo derivatives; absent in older notices.)
    #[autosurgeon(missing = "Vec::new")]
    #[serde(default)]
    pub photos: Vec<NoticePhoto>,
}

impl DocBody for Notice {
    const KIND: DocKind = DocKind::Notice;

    fn check_header(header: &Header) -> Result<(), DocError> {
        check_header_fields(header, true, true, false)
    }

    fn check_merge(&self, _before: &Self) -> Result<(), DocError> {
        // Not the two-officer rule (a merge of concurrent removals may break it alone).
        if !self.deadline.is_valid() {
            return Err(DocError::Rule(
                "deadline date must be YYYY-MM-DD".to_owned(),
            ));
        }
        Ok(())
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
        check_notice_photos(&self.photos)
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
        if before.is_none_or(|b| b.evidence != self.evidence) {
            check_evidence(&self.evidence)?;
        }
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
