//! The change history of a document (变更记录): every save the server accepted, who made it
//! (the person the server authenticated, not a device key), the device time of its Automerge
//! changes and the server receipt time, and which top-level fields of the body it touched.
//!
//! Sources: the change log ([`crate::changelog::ChangeLog::history`]: principal, receipt time,
//! heads after each save) and the stored Automerge document. A save's changes are those that
//! its heads reach and no earlier save's heads did; each change carries the writer's principal
//! id as its message and the device time as its time (`core::docs::typed` stamps every commit
//! so). What changed is read from automerge's `diff` between the previous save's heads and this
//! save's heads: the first key under `body` of each patch's path.
//!
//! Used by the case page ([`super::cases`]) and reusable for any document kind.

use std::collections::{BTreeSet, HashSet};

use automerge::{Automerge, ChangeHash, Prop};
use maud::{Markup, html};
use serde::Serialize;
use zhichao_core::docs::DocKind;

use crate::AppState;

use super::ConsoleResult;
use super::layout::{datetime_seconds, server_time};
use super::model::{self, DocRef};

/// One accepted save of a document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// Sequence number of the save in the server's change log.
    pub seq: u64,
    /// The person whose save it was: the principal the server authenticated.
    pub principal: String,
    /// Server receipt time, UTC milliseconds.
    pub received_ms: u64,
    /// True for the save that created the document.
    pub created: bool,
    /// The Automerge changes the save brought, oldest device time first (several when a phone
    /// saved offline edits in one sync).
    pub changes: Vec<ChangeInfo>,
    /// The top-level body fields the save touched, in body order of first appearance (empty
    /// for the creating save: everything was new).
    pub fields: Vec<FieldChange>,
}

/// One Automerge change of a save.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChangeInfo {
    /// The change hash (hex).
    pub hash: String,
    /// The commit message: the writer's principal id, as the device stamped it.
    pub message: Option<String>,
    /// The commit time: device time, UTC milliseconds.
    pub device_time_ms: i64,
}

/// A top-level body field touched by a save.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// The field's key in the document body (`onsite`, `evidence`, …).
    pub key: String,
    /// Its Chinese label (the key itself when none is known).
    pub label: String,
}

/// The Chinese label of a top-level body field of a document of `kind`.
pub fn field_label(kind: DocKind, key: &str) -> Option<&'static str> {
    Some(match (kind, key) {
        (DocKind::Case, "case_number") => "案号",
        (DocKind::Case, "kind") => "案件类型",
        (DocKind::Case, "source_unit") => "源头单位",
        (DocKind::Case, "rules_id") => "规则版本",
        (DocKind::Case, "onsite") => "现场笔录",
        (DocKind::Case, "vehicle") => "车辆",
        (DocKind::Case, "measurement") => "称重测量",
        (DocKind::Case, "subjects") => "一超四罚对象",
        (DocKind::Case, "findings") => "查明事实",
        (DocKind::Case, "checklist") => "设备检查",
        (DocKind::Case | DocKind::Response, "evidence") => "照片证据",
        (DocKind::Case, "events") => "办案环节",
        (DocKind::Notice, "case") => "关联案件",
        (DocKind::Notice, "unit_name") => "单位名称",
        (DocKind::Notice, "legal_representative") => "法定代表人",
        (DocKind::Notice, "facts") => "违法事实",
        (DocKind::Notice, "legal_basis") => "法律依据",
        (DocKind::Notice, "deadline") => "整改期限",
        (DocKind::Notice, "issued_by") => "签发执法人员",
        (DocKind::Notice, "issued_at_ms") => "签发时间",
        (DocKind::Notice, "review_body") => "行政复议机关",
        (DocKind::Notice, "appeal_body") => "行政诉讼法院",
        (DocKind::Notice, "photos") => "照片",
        (DocKind::Response, "statement") => "整改说明",
        (DocKind::Response, "submitted_at_ms") => "提交时间",
        (DocKind::Review, "decision") => "复核结论",
        (DocKind::Review, "comments") => "复核意见",
        (DocKind::Review, "reviewed_at_ms") => "复核时间",
        (DocKind::Unit, "name") => "单位名称",
        (DocKind::Unit, "kind") => "单位类型",
        (DocKind::Unit, "township") => "所在乡镇",
        (DocKind::Unit, "supervising_department") => "监管部门",
        (DocKind::Unit, "address") => "地址",
        (DocKind::Unit, "location") => "位置",
        (DocKind::Unit, "listed") => "公示名单",
        _ => return None,
    })
}

/// The history of a readable document, oldest save first.
///
/// # Errors
/// As [`model::automerge`]; [`super::ConsoleError::Internal`] when the change log cannot be
/// read.
pub fn history(state: &AppState, doc: &DocRef) -> ConsoleResult<Vec<HistoryEntry>> {
    let entries = state
        .log
        .history(&doc.id)
        .map_err(super::ConsoleError::internal)?;
    let automerge = model::automerge(state, doc)?;
    let mut all = entries_of(
        &automerge,
        doc.header.kind,
        entries
            .into_iter()
            .map(|e| (e.seq, e.principal.to_string(), e.received_ms, e.heads)),
        MAX_HISTORY_ROWS,
    );
    let older = all.len().saturating_sub(MAX_HISTORY_ROWS);
    Ok(all.split_off(older))
}

/// Most saves a history shows, newest kept: a document edited all day long (hundreds of
/// saves) stays a page that loads; the full trail is `GET /v1/admin/docs/{id}/history`.
pub const MAX_HISTORY_ROWS: usize = 200;

/// The history entries of `doc` for saves `(seq, principal, received_ms, heads as hex)`,
/// oldest first. Heads that do not parse or are not in the document (a damaged log) give an
/// entry without changes or fields.
fn entries_of(
    doc: &Automerge,
    kind: DocKind,
    saves: impl ExactSizeIterator<Item = (u64, String, u64, Vec<String>)>,
    newest: usize,
) -> Vec<HistoryEntry> {
    // Only the newest `newest` saves get their fields (a diff each); the older ones still
    // count their changes, so each change appears once, with the save that brought it.
    let diff_from = saves.len().saturating_sub(newest);
    let mut seen: HashSet<ChangeHash> = HashSet::new();
    let mut before: Vec<ChangeHash> = Vec::new();
    let mut out = Vec::new();
    for (seq, principal, received_ms, heads) in saves {
        let heads: Vec<ChangeHash> = heads
            .iter()
            .filter_map(|h| h.parse().ok())
            .filter(|h| doc.get_change_meta_by_hash(h).is_some())
            .collect();
        let created = out.is_empty();
        let changes = new_changes(doc, &heads, &mut seen);
        let fields = if created || heads.is_empty() || out.len() < diff_from {
            Vec::new()
        } else {
            touched_fields(doc, kind, &before, &heads)
        };
        if !heads.is_empty() {
            before = heads;
        }
        out.push(HistoryEntry {
            seq,
            principal,
            received_ms,
            created,
            changes,
            fields,
        });
    }
    out
}

/// The changes reachable from `heads` not in `seen` (which they are added to), by device
/// time.
fn new_changes(
    doc: &Automerge,
    heads: &[ChangeHash],
    seen: &mut HashSet<ChangeHash>,
) -> Vec<ChangeInfo> {
    let mut stack = heads.to_vec();
    let mut out = Vec::new();
    while let Some(hash) = stack.pop() {
        if !seen.insert(hash) {
            continue;
        }
        let Some(meta) = doc.get_change_meta_by_hash(&hash) else {
            continue;
        };
        stack.extend(meta.deps.iter().copied());
        out.push(ChangeInfo {
            hash: hash.to_string(),
            message: meta.message.as_deref().map(str::to_owned),
            device_time_ms: meta.timestamp,
        });
    }
    out.sort_by(|a, b| (a.device_time_ms, &a.hash).cmp(&(b.device_time_ms, &b.hash)));
    out
}

/// The top-level body fields the patches from `before` to `after` touch.
fn touched_fields(
    doc: &Automerge,
    kind: DocKind,
    before: &[ChangeHash],
    after: &[ChangeHash],
) -> Vec<FieldChange> {
    use automerge::PatchAction;
    let mut keys: Vec<String> = Vec::new();
    for patch in doc.diff(before, after) {
        let key = match patch.path.as_slice() {
            // A change inside a body field's object: the field is the path's second step.
            [(_, Prop::Map(root)), (_, Prop::Map(field)), ..] if root == "body" => {
                Some(field.clone())
            }
            // A change of a scalar field of the body itself.
            [(_, Prop::Map(root))] if root == "body" => match &patch.action {
                PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => {
                    Some(key.clone())
                }
                PatchAction::Conflict {
                    prop: Prop::Map(key),
                }
                | PatchAction::Increment {
                    prop: Prop::Map(key),
                    ..
                } => Some(key.clone()),
                _ => None,
            },
            _ => None,
        };
        if let Some(key) = key
            && !keys.contains(&key)
        {
            keys.push(key);
        }
    }
    keys.into_iter()
        .map(|key| FieldChange {
            label: field_label(kind, &key).unwrap_or(&key).to_owned(),
            key,
        })
        .collect()
}

/// The history as a table: save, person, device time(s), server receipt time, fields.
pub fn render(entries: &[HistoryEntry]) -> Markup {
    html! {
        @if entries.is_empty() {
            p.muted { "暂无变更记录。" }
        } @else {
            table.history {
                thead { tr {
                    th.num { "序号" } th { "人员" } th { "设备时间" } th { "服务器接收时间" }
                    th { "修改内容" }
                } }
                tbody {
                    @for e in entries {
                        tr {
                            td.num { (e.seq) }
                            td.person { (e.principal) }
                            td {
                                // Several changes of one second are one line.
                                @let times: BTreeSet<String> = e
                                    .changes
                                    .iter()
                                    .map(|c| datetime_seconds(c.device_time_ms))
                                    .collect();
                                @for (i, t) in times.iter().enumerate() {
                                    @if i > 0 { br; }
                                    (t)
                                }
                                @for c in &e.changes {
                                    @if c.message.as_deref().is_some_and(|m| m != e.principal) {
                                        br;
                                        span.muted { "（设备署名 " (c.message.as_deref().unwrap_or("")) "）" }
                                    }
                                }
                            }
                            td { (server_time(e.received_ms)) }
                            td.fields {
                                @if e.created {
                                    "新建"
                                } @else if e.fields.is_empty() {
                                    span.muted { "无内容变化（合并）" }
                                } @else {
                                    @for (i, f) in e.fields.iter().enumerate() {
                                        @if i > 0 { "、" }
                                        span title=(f.key) { (f.label) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;

    #[test]
    fn only_the_newest_saves_are_diffed_and_every_change_is_counted_once() {
        let mut doc = AutoCommit::new();
        let body = doc
            .put_object(ROOT, "body", automerge::ObjType::Map)
            .unwrap();
        let mut saves = Vec::new();
        for i in 0..250_u64 {
            doc.put(&body, "findings", i).unwrap();
            doc.commit();
            let heads = doc.get_heads().iter().map(ToString::to_string).collect();
            saves.push((i + 1, "officer:wang".to_owned(), i, heads));
        }
        let doc = doc.document().clone();
        let entries = entries_of(&doc, DocKind::Case, saves.into_iter(), 200);
        assert_eq!(entries.len(), 250);
        assert!(
            entries.iter().all(|e| e.changes.len() == 1),
            "one change per save"
        );
        assert!(
            entries[..50].iter().all(|e| e.fields.is_empty()),
            "older: not diffed"
        );
        assert!(
            entries[50..].iter().all(|e| !e.fields.is_empty()),
            "newest 200: their fields"
        );
    }
}
