//! The case status: a pure function of the case's events and the supervisors' reviews, so
//! concurrent transitions merge to the same status on every replica.

use serde::{Deserialize, Serialize};

use super::case::{Case, Stage};
use super::review::Review;

/// Days from registration (立案) to the decision deadline (行政处罚法 Art. 60).
pub const DECISION_DUE_DAYS: i64 = 90;

/// Where a case stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// No lifecycle event yet (on-site record being written).
    Draft,
    /// 立案.
    Registered,
    /// 调查取证.
    Investigating,
    /// 违法行为通知.
    Notified,
    /// 处罚决定.
    Decided,
    /// 送达.
    Served,
    /// 执行.
    Enforced,
    /// Closing recorded, waiting for a supervisor's accepting review.
    ClosePending,
    /// 结案: closing recorded and accepted by a supervisor.
    Closed,
}

impl CaseStatus {
    /// The stable snake_case name, as used in indexes.
    pub const fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Draft => "draft",
            CaseStatus::Registered => "registered",
            CaseStatus::Investigating => "investigating",
            CaseStatus::Notified => "notified",
            CaseStatus::Decided => "decided",
            CaseStatus::Served => "served",
            CaseStatus::Enforced => "enforced",
            CaseStatus::ClosePending => "close_pending",
            CaseStatus::Closed => "closed",
        }
    }
}

/// The status of `case` given the reviews whose parent is this case: the furthest stage
/// recorded (stages are recorded only in order, so every replica's events form a chain and the
/// merge of two chains is the longer one); [`Stage::Closed`] counts only with an accepting
/// review, otherwise the case is [`CaseStatus::ClosePending`].
pub fn case_status(case: &Case, reviews: &[Review]) -> CaseStatus {
    match case.events.iter().map(|e| e.stage).max() {
        None => CaseStatus::Draft,
        Some(Stage::Registered) => CaseStatus::Registered,
        Some(Stage::Investigating) => CaseStatus::Investigating,
        Some(Stage::Notified) => CaseStatus::Notified,
        Some(Stage::Decided) => CaseStatus::Decided,
        Some(Stage::Served) => CaseStatus::Served,
        Some(Stage::Enforced) => CaseStatus::Enforced,
        Some(Stage::Closed) if reviews.iter().any(Review::accepts) => CaseStatus::Closed,
        Some(Stage::Closed) => CaseStatus::ClosePending,
    }
}

/// The decision deadline, UTC milliseconds: 90 days after the earliest registration event
/// (concurrent registrations on two phones: the earlier device time counts, the stricter
/// deadline). `None` before registration.
pub fn decision_due_ms(case: &Case) -> Option<i64> {
    case.events
        .iter()
        .filter(|e| e.stage == Stage::Registered)
        .map(|e| e.at_ms)
        .min()
        .map(|at| at.saturating_add(DECISION_DUE_DAYS * 24 * 3600 * 1000))
}
