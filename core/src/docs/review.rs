//! The `review` document: a supervisor's decision on a case or a response.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::common::TextField;
use super::typed::{DocBody, DocError, DocKind, Header, check_header_fields};

/// A supervisor's decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub enum ReviewDecision {
    /// Accepted: a case may close; a response settles its notice.
    Accept,
    /// Returned for more work, with the reasons.
    Return {
        /// What must be done; at least one reason.
        reasons: Vec<String>,
    },
}

/// The body of a `review` document; the reviewed case or response is the header's `parent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Review {
    /// The decision.
    pub decision: ReviewDecision,
    /// Comments.
    pub comments: TextField,
    /// Device time of the review, UTC milliseconds.
    pub reviewed_at_ms: i64,
}

impl Review {
    /// True for an accepting review.
    pub fn accepts(&self) -> bool {
        self.decision == ReviewDecision::Accept
    }
}

impl DocBody for Review {
    const KIND: DocKind = DocKind::Review;

    fn check_header(header: &Header) -> Result<(), DocError> {
        check_header_fields(header, false, false, true)
    }

    fn check(&self, before: Option<&Self>) -> Result<(), DocError> {
        if let ReviewDecision::Return { reasons } = &self.decision
            && reasons.iter().all(|r| r.trim().is_empty())
        {
            return Err(DocError::Rule(
                "a returned review gives at least one reason".to_owned(),
            ));
        }
        if before.is_some_and(|b| b.decision != self.decision) {
            return Err(DocError::Rule(
                "a review's decision is final; write a new review".to_owned(),
            ));
        }
        Ok(())
    }
}
