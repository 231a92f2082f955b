//! `POST /v1/weighings`: a source unit's weighbridge system uploads its weighing records
//! (称重记录, REFERENCE.md §3) in real time, and reads the exit verdict off the answer.
//!
//! **Who**: only a source-unit system (`Principal::SourceUnitSystem`, token issued with
//! `zhichao admin issue-token --role source-unit-system --unit USCC …`); the unit is the
//! token's, never the body's. Anyone else gets 403 `forbidden`.
//!
//! **Body** (JSON, at most [`MAX_WEIGHINGS_BODY_BYTES`]): one record
//! ([`WeighingRecord`], unknown fields refused) or a batch `{"records": [ … ]}` of at most
//! [`MAX_BATCH_RECORDS`]. Each element of a batch is read on its own, so a malformed element is
//! `invalid` with the parser's message and the others are still stored.
//!
//! ```json
//! {"record_id": "20261129-0001", "lane": "1号磅", "plate": "晋E12345",
//!  "vehicle": {"axles": 6}, "gross_kg": 52300, "tare_kg": 15200,
//!  "weighed_at_ms": 1795911600000, "exit_at_ms": 1795911660000, "result": "passed"}
//! ```
//!
//! **Answers**:
//!
//! | request | outcome | status | body |
//! |---|---|---|---|
//! | one record | stored now | 201 | [`RecordOutcome`] `stored` |
//! | one record | same id, same content (a retry) | 200 | [`RecordOutcome`] `duplicate` |
//! | one record | same id, other content | 409 | `{"error": {"code": "conflict", …}}` |
//! | one record | refused by the checks | 400 | `{"error": {"code": "invalid_record", …}}` |
//! | batch | any mix | 200 | [`BatchOutcome`]: one [`RecordOutcome`] per element, in order |
//! | either | not a JSON object, `records` not an array, other keys beside `records` | 400 | `invalid_request` / `invalid_json` |
//! | batch | more than [`MAX_BATCH_RECORDS`] records | 413 | `too_many_records` |
//!
//! ```json
//! {"index": 0, "record_id": "20261129-0001", "status": "stored",
//!  "exit": {"verdict": "stop", "over_limit": true, "configuration_assumed": true,
//!           "gross_kg": 52300, "limit_kg": 49000, "excess_kg": 3300, "rate_bp": 673,
//!           "rules_id": "…", "departure": true,
//!           "display_text": "晋E12345 毛重52.30t 限重49.00t 超限3.30t 禁止出场"},
//!  "alert_ids": ["dep-…"]}
//! ```
//!
//! `exit` is what the exit screen shows and the barrier does (`stop`: 禁止出场); a duplicate
//! gets the verdict given when the record was first stored. Idempotency is per (unit, record
//! id) with the content compared after normalisation ([`zhichao_core::weighing`]): a retry
//! after a lost answer stores nothing new and raises no second alert; other content under a
//! stored id is refused and kept for audit ([`crate::ingest::weighings`]).
//!
//! **Effects**, in this order: the records are checked and classified with the rules in force
//! (`[rules]`); the new ones, their over-limit departure (超限出场) alerts — routed to the
//! unit's supervising authority and the county office ([`crate::ingest::units`]) — and the
//! plates' yearly counts are stored in one transaction and **flushed before the answer**, so
//! an acknowledged record survives `kill -9`; then the departures are added to the watch list
//! of their day ([`crate::ingest::watchlist`]). A failed watch-list write does not fail the
//! upload (logged; repaired at the next start).

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use zhichao_core::weighing::{
    BatchOutcome, MAX_BATCH_RECORDS, RecordOutcome, RecordStatus, WeighingRecord,
};

use crate::AppState;
use crate::auth::SourceUnitSystem;
use crate::error::{ApiError, ApiResult, Json};
use crate::ingest::watchlist;
use crate::ingest::weighings::{Incoming, Stored};
use crate::ingest::{heartbeats, units};

/// Largest body of `POST /v1/weighings`, bytes (4 MiB): a full batch of
/// [`MAX_BATCH_RECORDS`] records of about 1 KiB each with room to spare; larger than the
/// global JSON limit (`limits.max_body_bytes`, 64 KiB), which would cap a batch at ~60 records.
pub const MAX_WEIGHINGS_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/weighings", post(upload))
        .layer(DefaultBodyLimit::max(MAX_WEIGHINGS_BODY_BYTES))
}

/// One element of the upload, parsed and checked or refused with the reason.
enum Parsed {
    Valid(Box<Incoming>),
    Invalid {
        record_id: Option<String>,
        reason: String,
    },
}

/// The body as a list of elements, and whether it was a batch.
fn elements(body: Value) -> ApiResult<(Vec<Value>, bool)> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::invalid(
            "the body must be a JSON object: one record, or {\"records\": [...]}",
        ));
    };
    let Some(records) = map.remove("records") else {
        return Ok((vec![Value::Object(map)], false));
    };
    if let Some(other) = map.keys().next() {
        return Err(ApiError::invalid(format!(
            "a batch has only \"records\"; unknown field {other:?}"
        )));
    }
    let Value::Array(items) = records else {
        return Err(ApiError::invalid("\"records\" must be an array of records"));
    };
    if items.len() > MAX_BATCH_RECORDS {
        return Err(ApiError::Invalid {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_many_records",
            message: format!(
                "{} records in one batch; at most {MAX_BATCH_RECORDS}",
                items.len()
            ),
        });
    }
    Ok((items, true))
}

fn parse(element: Value, now_ms: i64, state: &AppState) -> Parsed {
    let record_id = element
        .get("record_id")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let record: WeighingRecord = match serde_json::from_value(element) {
        Ok(r) => r,
        Err(e) => {
            return Parsed::Invalid {
                record_id,
                reason: e.to_string(),
            };
        }
    };
    match Incoming::new(&record, now_ms, &state.config.rules) {
        Ok(incoming) => Parsed::Valid(Box::new(incoming)),
        Err(e) => Parsed::Invalid {
            record_id,
            reason: e.to_string(),
        },
    }
}

async fn upload(
    SourceUnitSystem { unit, .. }: SourceUnitSystem,
    State(state): State<AppState>,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    let received_at_ms = state.now_ms();
    let now_ms = i64::try_from(received_at_ms).unwrap_or(i64::MAX);
    let (elements, batch) = elements(body)?;
    let parsed: Vec<Parsed> = elements
        .into_iter()
        .map(|e| parse(e, now_ms, &state))
        .collect();
    let valid: Vec<Incoming> = parsed
        .iter()
        .filter_map(|p| match p {
            Parsed::Valid(i) => Some((**i).clone()),
            Parsed::Invalid { .. } => None,
        })
        .collect();

    let stored = if valid.is_empty() {
        Vec::new()
    } else {
        let blocking = state.clone();
        let unit = unit.clone();
        tokio::task::spawn_blocking(move || -> ApiResult<Vec<Stored>> {
            let info = units::lookup(blocking.docs.as_ref(), &unit).map_err(ApiError::internal)?;
            let server = blocking.server_principal();
            let stored = blocking
                .ingest
                .weighings
                .store(
                    &info,
                    &valid,
                    received_at_ms,
                    &blocking.ingest.alerts,
                    server.id(),
                )
                .map_err(ApiError::internal)?;
            // An upload is a sign of life of the weighing equipment (flushed below with the
            // records); failing to note it must not fail the upload.
            if let Err(e) = heartbeats::seen(
                &blocking.ingest,
                &unit,
                zhichao_core::weighing::EquipmentKind::Weighing,
                received_at_ms,
            ) {
                tracing::warn!(error = %e, unit = %unit, "cannot note the weighing upload as a heartbeat");
            }
            Ok(stored)
        })
        .await
        .map_err(ApiError::internal)??
    };
    // Also after a duplicate: it may have read a concurrent upload's write not yet flushed.
    if !stored.is_empty() {
        state.ingest.flush().await.map_err(ApiError::internal)?;
    }

    let entries = stored
        .iter()
        .filter_map(|s| match s {
            Stored::New(w) | Stored::Duplicate(w) => w.watch_entry(),
            Stored::Conflict { .. } => None,
        })
        .collect::<Vec<_>>();
    let published = watchlist::publish(&state, entries).await;
    if published.failed > 0 {
        tracing::warn!(
            unit = %unit,
            failed = published.failed,
            "stored departures are not on their watch lists yet"
        );
    }

    let mut stored = stored.into_iter();
    let mut outcomes = Vec::with_capacity(parsed.len());
    for (index, p) in parsed.into_iter().enumerate() {
        let outcome = match p {
            Parsed::Invalid { record_id, reason } => RecordOutcome {
                index,
                record_id,
                status: RecordStatus::Invalid,
                reason: Some(reason),
                exit: None,
                alert_ids: Vec::new(),
            },
            Parsed::Valid(incoming) => {
                let record_id = incoming.checked.record.record_id.clone();
                let Some(s) = stored.next() else {
                    return Err(ApiError::internal("the store answered fewer records"));
                };
                match s {
                    Stored::New(w) => RecordOutcome {
                        index,
                        record_id: Some(record_id),
                        status: RecordStatus::Stored,
                        reason: None,
                        exit: Some(w.exit),
                        alert_ids: w.alert_ids,
                    },
                    Stored::Duplicate(w) => RecordOutcome {
                        index,
                        record_id: Some(record_id),
                        status: RecordStatus::Duplicate,
                        reason: None,
                        exit: Some(w.exit),
                        alert_ids: w.alert_ids,
                    },
                    Stored::Conflict { stored } => RecordOutcome {
                        index,
                        reason: Some(format!(
                            "record {record_id:?} of unit {unit} was stored at {} ms with other \
                             content; the stored version stands and this one is kept for audit",
                            stored.received_at_ms
                        )),
                        record_id: Some(record_id),
                        status: RecordStatus::Conflict,
                        exit: None,
                        alert_ids: Vec::new(),
                    },
                }
            }
        };
        outcomes.push(outcome);
    }

    if batch {
        let mut answer = BatchOutcome::default();
        for o in &outcomes {
            match o.status {
                RecordStatus::Stored => answer.stored += 1,
                RecordStatus::Duplicate => answer.duplicates += 1,
                RecordStatus::Conflict => answer.conflicts += 1,
                RecordStatus::Invalid => answer.invalid += 1,
            }
        }
        answer.records = outcomes;
        return Ok(Json(answer).into_response());
    }
    let Some(outcome) = outcomes.pop() else {
        return Err(ApiError::internal("a single upload without an outcome"));
    };
    match outcome.status {
        RecordStatus::Stored => Ok((StatusCode::CREATED, Json(outcome)).into_response()),
        RecordStatus::Duplicate => Ok(Json(outcome).into_response()),
        RecordStatus::Conflict => Err(ApiError::Conflict {
            message: outcome.reason.unwrap_or_default(),
        }),
        RecordStatus::Invalid => Err(ApiError::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_record",
            message: outcome.reason.unwrap_or_default(),
        }),
    }
}
