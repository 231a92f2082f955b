//! Step 5 continued: the patrol inspects the ceramics plant on site, finds its display screen
//! dark, and serves a rectification notice; the plant answers from its phone, and the answer
//! is left **awaiting the office's review** — the work the supervisors' console shows first.

use zhichao_mobile::{CheckStatus, ChecklistItem, NoticeInput, SiteInspectionInput, Stage};

use super::world::DemoUnit;
use super::{Cast, DemoError, Narrator, SyncLine, china_time, now_ms, patrol, sync_and_record};

/// What the inspection left for the office.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingReview {
    /// The site inspection's case number.
    pub case_number: String,
    /// The case's document id.
    pub case_id: String,
    /// The notice's document id.
    pub notice_id: String,
    /// The plant's submitted response, not yet reviewed.
    pub response_id: String,
    /// The unit's name.
    pub unit_name: String,
}

/// Runs the inspection, the notice and the plant's answer.
pub(super) fn inspection_flow(
    cast: &Cast,
    unit: &DemoUnit,
    syncs: &mut Vec<SyncLine>,
    n: &mut Narrator<'_>,
) -> Result<PendingReview, DemoError> {
    let wang = &cast.wang.store;
    let case = wang
        .create_site_inspection(SiteInspectionInput {
            source_unit: unit.uscc.to_string(),
            place: format!("{}出厂称重点", unit.name),
            officers: patrol(),
            gps: None,
            started_at_ms: None,
        })
        .map_err(|e| DemoError::step("opening the site inspection", e))?;
    for (item, status, note) in [
        (ChecklistItem::Weighing, CheckStatus::Working, ""),
        (ChecklistItem::Video, CheckStatus::Working, ""),
        (
            ChecklistItem::DisplayScreen,
            CheckStatus::Faulty,
            "出口电子显示屏黑屏，未显示称重结果。",
        ),
        (ChecklistItem::DataUpload, CheckStatus::Working, ""),
    ] {
        wang.set_check_item(case.id.clone(), item, status, note.to_owned())
            .map_err(|e| DemoError::step("the inspection's checklist", e))?;
    }
    wang.set_findings(
        case.id.clone(),
        "现场检查发现出口电子显示屏故障，过磅车辆无法看到称重结果。".to_owned(),
    )
    .map_err(|e| DemoError::step("the inspection's findings", e))?;
    for stage in [Stage::Registered, Stage::Investigating] {
        wang.record_stage(case.id.clone(), stage, String::new())
            .map_err(|e| DemoError::step("recording the inspection's stage", e))?;
    }
    let deadline = china_time(now_ms()).date_naive() + chrono::Days::new(7);
    let notice = wang
        .issue_notice(NoticeInput {
            case_id: case.id.clone(),
            unit_name: unit.name.to_owned(),
            facts: "你单位出口电子显示屏故障，未按规定公示称重结果。".to_owned(),
            legal_basis: "《阳城县源头治超实施方案》第三条".to_owned(),
            officers: patrol(),
            review_body: "阳城县人民政府".to_owned(),
            appeal_body: "阳城县人民法院".to_owned(),
            deadline_date: Some(deadline.format("%Y-%m-%d").to_string()),
            source_unit: None,
            legal_representative: None,
            include_case_photos: false,
        })
        .map_err(|e| DemoError::step("issuing the inspection's notice", e))?;
    wang.record_stage(
        case.id.clone(),
        Stage::Notified,
        "整改通知书已送达".to_owned(),
    )
    .map_err(|e| DemoError::step("recording the inspection's notice", e))?;
    sync_and_record(syncs, &cast.wang, "inspection notice issued")?;
    sync_and_record(syncs, &cast.ceramics, "receives the inspection notice")?;
    let plant = &cast.ceramics.store;
    let draft = plant
        .respond(
            notice.id.clone(),
            "已联系厂家更换显示屏控制卡，显示屏恢复显示。".to_owned(),
        )
        .map_err(|e| DemoError::step("the plant's response", e))?;
    plant
        .submit_response(draft.id.clone())
        .map_err(|e| DemoError::step("submitting the plant's response", e))?;
    sync_and_record(syncs, &cast.ceramics, "inspection response sent")?;
    n.say(format_args!(
        "site inspection {} at {}: display screen dark; notice served; the plant answers and \
         the answer waits for the office's review",
        case.case_number, unit.name
    ));
    Ok(PendingReview {
        case_number: case.case_number,
        case_id: case.id,
        notice_id: notice.id,
        response_id: draft.id,
        unit_name: unit.name.to_owned(),
    })
}
