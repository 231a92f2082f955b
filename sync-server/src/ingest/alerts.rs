//! Alerts (告警): the events the county platform raises for people to act on.
//!
//! - **Over-limit departure** (超限出场): a source unit's weighing record shows a truck left
//!   the site over the limit. Raised by the weighing ingest, one per (unit, record id), so a
//!   retried upload never raises it twice.
//! - **Upload interrupted** (数据上传中断): a unit's weighing, video or display equipment has
//!   been silent longer than the configured gap during operating hours (the plan requires
//!   stable equipment and real-time upload).
//!
//! Routing (county plan 阳政办发〔2024〕42号, [`zhichao_core::jurisdiction::alert_recipients`]):
//! coal mines → 应急管理局, ceramics plants → 开发区, every other unit → its township, and the
//! county overload office (县治超办) always. A unit without a synced profile is routed to the
//! county office alone ([`Alert::jurisdiction`] is `None`) — the office then registers it.
//!
//! Who sees an alert ([`Alert::visible_to`]): a supervisor whose scope contains one of the
//! recipients' scopes (the county office's scope is the whole county); an officer whose team
//! it was dispatched to. Life: open → acknowledged → dispatched (to a patrol team) → closed
//! with the case that handled it; every step is kept in [`Alert::history`] with who and when.
//!
//! Storage: tree `alerts` (id → JSON, version byte first) and tree `alerts_by_time`
//! (raised_at_ms big-endian ++ id → nothing) for listing newest first.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zhichao_core::access::Principal;
use zhichao_core::ids::{DocumentId, PrincipalId, TeamId};
use zhichao_core::jurisdiction::Jurisdiction;
use zhichao_core::scope::Scope;
use zhichao_core::uscc::Uscc;
use zhichao_core::weighing::EquipmentKind;

use super::{IngestError, Result};

const ALERTS_TREE: &str = "alerts";
const BY_TIME_TREE: &str = "alerts_by_time";

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// 超限出场: a truck left a source unit over the limit.
    OverLimitDeparture,
    /// 数据上传中断: equipment silent longer than the allowed gap in operating hours.
    UploadInterrupted,
}

impl AlertKind {
    /// Chinese name: 超限出场, 数据上传中断.
    pub const fn chinese_name(self) -> &'static str {
        match self {
            Self::OverLimitDeparture => "超限出场",
            Self::UploadInterrupted => "数据上传中断",
        }
    }
}

/// Where an alert is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Raised, nobody has looked at it (待处理).
    Open,
    /// A supervisor has seen it (已确认).
    Acknowledged,
    /// Sent to a patrol team (已派发).
    Dispatched,
    /// Handled; for a departure, by the case linked (已办结).
    Closed,
}

impl AlertStatus {
    /// Stable name: `open`, `acknowledged`, `dispatched`, `closed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Dispatched => "dispatched",
            Self::Closed => "closed",
        }
    }

    /// Chinese name: 待处理, 已确认, 已派发, 已办结.
    pub const fn chinese_name(self) -> &'static str {
        match self {
            Self::Open => "待处理",
            Self::Acknowledged => "已确认",
            Self::Dispatched => "已派发",
            Self::Closed => "已办结",
        }
    }
}

/// The departure an [`AlertKind::OverLimitDeparture`] alert is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Departure {
    /// The unit's record id.
    pub record_id: String,
    /// Plate, canonical form.
    pub plate: String,
    /// Weighing time, UTC ms.
    pub weighed_at_ms: i64,
    /// Exit time, UTC ms, when reported.
    pub exit_at_ms: Option<i64>,
    /// Gross mass, kg.
    pub gross_kg: u32,
    /// Limit applied, kg.
    pub limit_kg: u32,
    /// Over the limit after the tolerance, kg.
    pub excess_kg: u32,
    /// 超限率, basis points.
    pub rate_bp: u64,
    /// Only the axle count was known: the highest possible limit was applied.
    pub configuration_assumed: bool,
    /// Over-limit findings of the plate this calendar year, this one included
    /// (公路安全保护条例 Art. 66: more than three revokes the operating certificate).
    pub year_count: u32,
}

/// The silence an [`AlertKind::UploadInterrupted`] alert is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Interruption {
    /// The silent equipment: `weighing`, `video` or `display`.
    #[schema(value_type = String)]
    pub equipment: EquipmentKind,
    /// Its last report, UTC ms (`None`: silent since monitoring began).
    pub last_seen_ms: Option<u64>,
    /// The silence counted when the alert was raised, ms (operating hours only).
    pub silent_ms: u64,
    /// When it reported again, UTC ms (the alert stays for a supervisor to close).
    pub resumed_at_ms: Option<u64>,
}

/// One step in an alert's life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AlertAction {
    /// Raised by the platform.
    Raised,
    /// Acknowledged by a supervisor.
    Acknowledged {
        /// What the supervisor noted (at most 500 characters); absent in older records.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Dispatched to a patrol team.
    Dispatched {
        /// The team.
        #[schema(value_type = String)]
        team: TeamId,
        /// What the supervisor noted for the team (at most 500 characters).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Closed, with the case that handled it when there was one.
    Closed {
        /// The case document.
        #[schema(value_type = Option<String>)]
        case: Option<DocumentId>,
        /// A note (at most 500 characters).
        note: Option<String>,
    },
    /// The silent equipment reported again.
    Resumed,
}

/// A step with who and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertEvent {
    /// Server time, UTC ms.
    pub at_ms: u64,
    /// Who (a person's account, or `server`).
    #[schema(value_type = String)]
    pub by: PrincipalId,
    /// What.
    #[serde(flatten)]
    pub action: AlertAction,
}

/// An alert. JSON of `GET /v1/alerts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    /// Deterministic id: `dep-…` for a departure (of unit and record id), `int-…` for an
    /// interruption (of unit, equipment and the silence's start).
    pub id: String,
    /// What it is about.
    pub kind: AlertKind,
    /// Where it is in its life.
    pub status: AlertStatus,
    /// The source unit (USCC).
    #[schema(value_type = String)]
    pub unit: Uscc,
    /// The unit's name from its profile, when synced.
    pub unit_name: Option<String>,
    /// The supervising authority (监管主体); `None` when the unit has no profile yet.
    /// `{"kind": "township", "code": "140522100"}`, `{"kind": "county_office"}`, …
    #[schema(value_type = Option<Object>)]
    pub jurisdiction: Option<Jurisdiction>,
    /// Everyone it is routed to: the supervising authority and the county office.
    #[schema(value_type = Vec<Object>)]
    pub recipients: Vec<Jurisdiction>,
    /// When raised, server time, UTC ms.
    pub raised_at_ms: u64,
    /// The departure, for [`AlertKind::OverLimitDeparture`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departure: Option<Departure>,
    /// The silence, for [`AlertKind::UploadInterrupted`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interruption: Option<Interruption>,
    /// The patrol team it was dispatched to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub dispatched_to: Option<TeamId>,
    /// The case that handled it (a `case` document id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub case: Option<DocumentId>,
    /// Every step, oldest first.
    pub history: Vec<AlertEvent>,
}

/// The recipients of an alert about a unit with this supervising authority (or none known).
pub fn recipients(jurisdiction: Option<Jurisdiction>) -> Vec<Jurisdiction> {
    let mut out: Vec<Jurisdiction> = jurisdiction.into_iter().collect();
    if !out.contains(&Jurisdiction::CountyOffice) {
        out.push(Jurisdiction::CountyOffice);
    }
    out
}

fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The id of the departure alert of a unit's record: `dep-` + 24 hex digits.
pub fn departure_alert_id(unit: &Uscc, record_id: &str) -> String {
    format!("dep-{}", short_hash(&format!("{unit}/{record_id}")))
}

/// The id of the interruption alert of a unit's equipment silent since `since_ms`.
pub fn interruption_alert_id(unit: &Uscc, equipment: EquipmentKind, since_ms: u64) -> String {
    format!(
        "int-{}",
        short_hash(&format!("{unit}/{}/{since_ms}", equipment.as_str()))
    )
}

impl Alert {
    /// The plate, for a departure.
    pub fn plate(&self) -> Option<&str> {
        self.departure.as_ref().map(|d| d.plate.as_str())
    }

    /// May `p` see this alert? Supervisors whose scope contains a recipient's scope in
    /// `county`; officers of the team it was dispatched to. Nobody else.
    pub fn visible_to(&self, p: &Principal, county: &Scope) -> bool {
        match p {
            Principal::Supervisor { scope, .. } => self.recipients.iter().any(|r| {
                Scope::of_jurisdiction(county.county_code(), r).is_ok_and(|s| scope.contains(&s))
            }),
            Principal::Officer { team, .. } => self.dispatched_to.as_ref() == Some(team),
            _ => false,
        }
    }

    /// The JSON bytes stored for the alert (version byte first).
    ///
    /// # Errors
    /// [`IngestError::Corrupt`] when it cannot be serialised (never for alerts built here).
    pub fn encode(&self) -> Result<Vec<u8>> {
        super::encode(self.id.as_bytes(), self)
    }

    /// Reads stored bytes.
    ///
    /// # Errors
    /// [`IngestError::Corrupt`].
    pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Self> {
        super::decode(key, bytes)
    }

    /// The key of the alert in the time index.
    pub fn time_key(&self) -> Vec<u8> {
        let mut key = self.raised_at_ms.to_be_bytes().to_vec();
        key.extend_from_slice(self.id.as_bytes());
        key
    }
}

/// The alerts trees. Inserting is done inside the caller's transaction
/// ([`AlertStore::trees`], [`insert_in`]) so a record and its alert are stored together.
#[derive(Clone, Debug)]
pub struct AlertStore {
    alerts: sled::Tree,
    by_time: sled::Tree,
}

/// Inserts `alert` within a transaction over [`AlertStore::trees`] (alerts, by time), unless
/// an alert with its id is already stored; returns whether it was inserted.
///
/// # Errors
/// The transaction's error when writing fails, or [`IngestError::Corrupt`] (aborting) when the
/// alert cannot be encoded.
pub fn insert_in(
    alerts: &sled::transaction::TransactionalTree,
    by_time: &sled::transaction::TransactionalTree,
    alert: &Alert,
) -> sled::transaction::ConflictableTransactionResult<bool, IngestError> {
    if alerts.get(alert.id.as_bytes())?.is_some() {
        return Ok(false);
    }
    let bytes = alert
        .encode()
        .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
    alerts.insert(alert.id.as_bytes(), bytes)?;
    by_time.insert(alert.time_key(), &[][..])?;
    Ok(true)
}

impl AlertStore {
    /// Opens the trees in `db`.
    ///
    /// # Errors
    /// [`IngestError::Sled`].
    pub fn open(db: &sled::Db) -> Result<Self> {
        Ok(AlertStore {
            alerts: db.open_tree(ALERTS_TREE)?,
            by_time: db.open_tree(BY_TIME_TREE)?,
        })
    }

    /// The trees (alerts, by time), for a transaction that inserts with [`insert_in`].
    pub fn trees(&self) -> (&sled::Tree, &sled::Tree) {
        (&self.alerts, &self.by_time)
    }

    /// Inserts `alert` unless its id is stored; returns whether it was inserted. Not flushed.
    ///
    /// # Errors
    /// [`IngestError`].
    pub fn insert(&self, alert: &Alert) -> Result<bool> {
        use sled::Transactional as _;
        (&self.alerts, &self.by_time)
            .transaction(|(alerts, by_time)| insert_in(alerts, by_time, alert))
            .map_err(|e| match e {
                sled::transaction::TransactionError::Abort(e) => e,
                sled::transaction::TransactionError::Storage(e) => IngestError::Sled(e),
            })
    }

    /// The alert with this id.
    ///
    /// # Errors
    /// [`IngestError`].
    pub fn get(&self, id: &str) -> Result<Option<Alert>> {
        self.alerts
            .get(id.as_bytes())?
            .map(|bytes| Alert::decode(id.as_bytes(), &bytes))
            .transpose()
    }

    /// Alerts raised in `[from_ms, to_ms)`, newest first, that `keep` accepts, at most
    /// `limit`.
    ///
    /// # Errors
    /// [`IngestError`].
    pub fn list(
        &self,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
        mut keep: impl FnMut(&Alert) -> bool,
    ) -> Result<Vec<Alert>> {
        let mut out = Vec::new();
        if from_ms >= to_ms {
            return Ok(out);
        }
        let range = from_ms.to_be_bytes().to_vec()..to_ms.to_be_bytes().to_vec();
        for item in self.by_time.range(range).rev() {
            if out.len() >= limit {
                break;
            }
            let (key, _) = item?;
            let Some(id) = key.get(8..) else { continue };
            let Some(bytes) = self.alerts.get(id)? else {
                continue;
            };
            let alert = Alert::decode(id, &bytes)?;
            if keep(&alert) {
                out.push(alert);
            }
        }
        Ok(out)
    }

    /// Changes the alert `id` with `change` (compare-and-swap, retried on a concurrent
    /// change); `change` returns `Err` to refuse (nothing is written). Returns the alert as
    /// stored, `None` when there is no such alert. Not flushed.
    ///
    /// # Errors
    /// `E` from `change`, or an [`IngestError`] converted into `E`.
    pub fn update<E: From<IngestError>>(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Alert) -> Result<(), E>,
    ) -> Result<Option<Alert>, E> {
        loop {
            let Some(old) = self.alerts.get(id.as_bytes()).map_err(IngestError::from)? else {
                return Ok(None);
            };
            let mut alert = Alert::decode(id.as_bytes(), &old)?;
            change(&mut alert)?;
            let new = alert.encode()?;
            match self
                .alerts
                .compare_and_swap(id.as_bytes(), Some(&old), Some(new))
                .map_err(IngestError::from)?
            {
                Ok(()) => return Ok(Some(alert)),
                Err(_) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhichao_core::jurisdiction::AdminCode;

    fn county() -> Scope {
        Scope::parse("140522").unwrap()
    }

    fn alert(id: &str, at: u64, j: Option<Jurisdiction>) -> Alert {
        Alert {
            id: id.to_owned(),
            kind: AlertKind::OverLimitDeparture,
            status: AlertStatus::Open,
            unit: "91140522MA0000000K".parse().unwrap(),
            unit_name: None,
            jurisdiction: j,
            recipients: recipients(j),
            raised_at_ms: at,
            departure: None,
            interruption: None,
            dispatched_to: None,
            case: None,
            history: vec![AlertEvent {
                at_ms: at,
                by: PrincipalId::new("server").unwrap(),
                action: AlertAction::Raised,
            }],
        }
    }

    fn supervisor(scope: &str) -> Principal {
        Principal::Supervisor {
            id: PrincipalId::new("sup").unwrap(),
            scope: Scope::parse(scope).unwrap(),
        }
    }

    #[test]
    fn alerts_are_stored_once_listed_newest_first_and_updated() {
        let ingest = super::super::Ingest::temporary().unwrap();
        let store = &ingest.alerts;
        assert!(store.insert(&alert("a", 10, None)).unwrap());
        assert!(store.insert(&alert("b", 20, None)).unwrap());
        assert!(
            !store.insert(&alert("a", 30, None)).unwrap(),
            "same id: kept once"
        );
        let ids: Vec<String> = store
            .list(0, u64::MAX, 10, |_| true)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(store.list(15, 25, 10, |_| true).unwrap().len(), 1);
        let updated = store
            .update::<IngestError>("a", |a| {
                a.status = AlertStatus::Acknowledged;
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(updated.status, AlertStatus::Acknowledged);
        assert_eq!(
            store.get("a").unwrap().unwrap().status,
            AlertStatus::Acknowledged
        );
        assert!(
            store
                .update::<IngestError>("zz", |_| Ok(()))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn supervisors_see_what_is_routed_to_their_scope() {
        let township: AdminCode = "140522100".parse().unwrap();
        let a = alert("a", 1, Some(Jurisdiction::Township(township)));
        assert!(a.visible_to(&supervisor("140522"), &county()));
        assert!(a.visible_to(&supervisor("140522/township/140522100"), &county()));
        assert!(!a.visible_to(&supervisor("140522/township/140522101"), &county()));
        assert!(!a.visible_to(&supervisor("140522/dept/emergency_management"), &county()));
        let coal = alert("b", 1, Some(Jurisdiction::EmergencyManagementBureau));
        assert!(coal.visible_to(&supervisor("140522/dept/emergency_management"), &county()));
        let unregistered = alert("c", 1, None);
        assert_eq!(unregistered.recipients, [Jurisdiction::CountyOffice]);
        assert!(!unregistered.visible_to(&supervisor("140522/township/140522100"), &county()));
        let officer = Principal::Officer {
            id: PrincipalId::new("wang").unwrap(),
            team: TeamId::new("team-1").unwrap(),
            scope: county(),
        };
        assert!(!a.visible_to(&officer, &county()));
        let mut dispatched = a;
        dispatched.dispatched_to = Some(TeamId::new("team-1").unwrap());
        assert!(dispatched.visible_to(&officer, &county()));
    }

    #[test]
    fn events_stored_before_notes_still_read() {
        let old = br#"{"at_ms":5,"by":"sup","action":"acknowledged"}"#;
        let e: AlertEvent = serde_json::from_slice(old).unwrap();
        assert_eq!(e.action, AlertAction::Acknowledged { note: None });
        let old = br#"{"at_ms":5,"by":"sup","action":"dispatched","team":"team-1"}"#;
        let e: AlertEvent = serde_json::from_slice(old).unwrap();
        assert_eq!(
            e.action,
            AlertAction::Dispatched {
                team: TeamId::new("team-1").unwrap(),
                note: None
            }
        );
        let new = AlertEvent {
            at_ms: 6,
            by: PrincipalId::new("sup").unwrap(),
            action: AlertAction::Acknowledged {
                note: Some("已核实".to_owned()),
            },
        };
        let json = serde_json::to_value(&new).unwrap();
        assert_eq!(json["note"], "已核实");
        assert_eq!(serde_json::from_value::<AlertEvent>(json).unwrap(), new);
    }

    #[test]
    fn ids_are_deterministic() {
        let unit: Uscc = "91140522MA0000000K".parse().unwrap();
        assert_eq!(
            departure_alert_id(&unit, "r1"),
            departure_alert_id(&unit, "r1")
        );
        assert_ne!(
            departure_alert_id(&unit, "r1"),
            departure_alert_id(&unit, "r2")
        );
        assert!(departure_alert_id(&unit, "r1").starts_with("dep-"));
        assert_eq!(departure_alert_id(&unit, "r1").len(), 28);
        assert_ne!(
            interruption_alert_id(&unit, EquipmentKind::Video, 1),
            interruption_alert_id(&unit, EquipmentKind::Weighing, 1)
        );
    }
}
