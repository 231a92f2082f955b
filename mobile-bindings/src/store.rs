//! [`FieldStore`]: one enrolled device's documents, photos and sync, in one directory.
//!
//! Each method parses its inputs, checks locally what the server would refuse (who may create
//! or edit which document, per `zhichao_core::access`), and calls core: documents through
//! `zhichao_core::field::FieldStore` over sled, photos through the evidence pipeline and the
//! blob store, sync through `zhichao_core::client`. Every edit opens the stored document,
//! applies one change stamped with the account and the device time, saves it durably, and
//! nudges the background sync when it runs.
//!
//! Layout of the directory: `docs/` (sled: documents, indexes, sync states, case-number
//! sequence), `photos/` (content-addressed blobs and the upload queue). The credentials are
//! not in it: they live in the host's secret store.

// uniffi hands every argument over owned; taking references would only add copies.
#![allow(clippy::needless_pass_by_value)]
// Edits are closures returning core's `DocError` (the error type of `TypedDoc::update`).
#![allow(clippy::result_large_err)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use zhichao_core::access::{self, Principal};
use zhichao_core::calendar::LocalDay;
use zhichao_core::client::{Credentials, SyncClient, SyncConfig};
use zhichao_core::docs::{
    self, Case, DocBody, DocError, DocKind, EvidenceRef, Header, Notice, NoticePhoto, Response,
    Review, RulesVersions, SCHEMA_VERSION, TextField, TypedDoc,
};
use zhichao_core::evidence::blobs::BlobDir;
use zhichao_core::evidence::photo::PhotoLimits;
use zhichao_core::evidence::record::{self, CaptureContext, TimeSource, WithEvidence};
use zhichao_core::field;
use zhichao_core::ids::{DevicePrefix, DocumentId, EvidenceId, TeamId};
use zhichao_core::rules::RulesConfig;
use zhichao_core::scope::Scope;
use zhichao_core::store::{DocStore, SledStore};
use zhichao_core::uscc::Uscc;

use crate::account::{HostCredentials, SecretStore, account_of, county_of};
use crate::error::{ApiError, Result};
use crate::records::*;
use crate::sync::SyncControl;

/// The core field store this facade wraps.
pub(crate) type CoreStore = field::FieldStore<SledStore>;

/// One enrolled device's documents, photos and sync (see the module docs). Open one per
/// directory and process; every method may be called from any thread. Local operations are
/// quick (milliseconds, one durable write); `add_photo_*` and `sync_now` are `suspend`/`async`
/// and run on background threads.
#[derive(uniffi::Object)]
pub struct FieldStore {
    pub(crate) inner: Arc<Inner>,
    pub(crate) sync: SyncControl,
}

/// What the exported methods share with background work.
pub(crate) struct Inner {
    pub(crate) docs: Arc<CoreStore>,
    pub(crate) photos: Arc<BlobDir>,
    pub(crate) client: Arc<SyncClient<SledStore>>,
    pub(crate) principal: Principal,
    pub(crate) credentials: Credentials,
    pub(crate) prefix: DevicePrefix,
    pub(crate) host: Arc<HostCredentials>,
    /// Held while a response is checked and changed (statement, photo, submission), so a
    /// photo or a new statement never slips into a response submitted meanwhile.
    pub(crate) responses: std::sync::Mutex<()>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn year_of(ms: i64) -> u16 {
    // Civil year of a UTC instant (days since 1970-01-01 → proleptic Gregorian), shifted to
    // China Standard Time (UTC+8), where every case of this system is registered.
    let days = ms.saturating_add(8 * 3_600_000).div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    u16::try_from(year).unwrap_or(2000).clamp(2000, 2999)
}

fn path_text(path: Option<PathBuf>) -> Option<String> {
    path.map(|p| p.to_string_lossy().into_owned())
}

#[uniffi::export]
impl FieldStore {
    /// Opens (creating it if needed) the field store of the enrolled device in `directory`,
    /// with the credentials `secrets` holds, syncing with `server_url` (`http://HOST[:PORT]`).
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] when the device is not enrolled (enroll first) or the
    /// account cannot use the field app; [`ApiError::Validation`] for a malformed URL;
    /// [`ApiError::Storage`] when the directory cannot be opened (another `FieldStore` of this
    /// process holds it, no space, damaged files).
    #[uniffi::constructor]
    pub fn open(
        directory: String,
        server_url: String,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Arc<Self>> {
        let host = Arc::new(HostCredentials::new(secrets));
        let credentials =
            zhichao_core::client::CredentialStore::load(host.as_ref()).ok_or_else(|| match host
                .take_load_failure()
            {
                Some(reason) => ApiError::Storage { reason },
                None => ApiError::Unauthorized,
            })?;
        account_of(&credentials)?;
        host.bind(&credentials);
        let root = Path::new(&directory);
        std::fs::create_dir_all(root).map_err(|e| ApiError::Storage {
            reason: format!("cannot create the store directory: {e}"),
        })?;
        claim_directory(root, &credentials)?;
        let docs = Arc::new(field::FieldStore::new(SledStore::open(root.join("docs"))?));
        let photos = Arc::new(BlobDir::open(root.join("photos"))?);
        let client = SyncClient::new(
            Arc::clone(&docs),
            &server_url,
            Arc::clone(&host) as Arc<dyn zhichao_core::client::CredentialStore>,
            SyncConfig::default(),
        )?
        .with_photos(Arc::clone(&photos));
        let inner = Arc::new(Inner {
            docs,
            photos,
            client: Arc::new(client),
            principal: credentials.principal.clone(),
            prefix: DevicePrefix::for_device(&credentials.device),
            credentials,
            host,
            responses: std::sync::Mutex::new(()),
        });
        tracing::info!(device = %inner.credentials.device, "field store opened");
        inner.prune_watchlists();
        Ok(Arc::new(FieldStore {
            sync: SyncControl::new(Arc::clone(&inner))?,
            inner,
        }))
    }

    /// The enrolled account (no secret).
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] when the account cannot use the field app.
    pub fn account(&self) -> Result<Account> {
        if self.inner.host.is_signed_out() {
            return Err(ApiError::Unauthorized);
        }
        let current = self
            .inner
            .client
            .session()
            .current()
            .unwrap_or_else(|| self.inner.credentials.clone());
        account_of(&current)
    }

    // -----------------------------------------------------------------------------------------
    // Roadside checks and site inspections

    /// Creates a roadside check (路面检查): a draft case with the vehicle, place and officers.
    /// Returns it as stored.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a malformed plate, USCC, enforcement id or GPS fix, an
    /// impossible vehicle configuration, or fewer than two officers; [`ApiError::Unauthorized`]
    /// for accounts other than officers.
    pub fn create_roadside_check(&self, input: RoadsideCheckInput) -> Result<CaseView> {
        let plate = parse_plate(&input.plate)?;
        let colour = parse_colour(input.plate_colour.as_deref())?;
        let configuration = input.configuration.to_core()?;
        let unit = input.source_unit.as_deref().map(parse_uscc).transpose()?;
        let onsite = self.inner.onsite(
            &input.place,
            input.gps,
            &input.officers,
            input.started_at_ms,
        )?;
        let mut case = self.inner.new_case(docs::CaseKind::RoadsideCheck, onsite)?;
        case.vehicle = Some(docs::Vehicle {
            plate,
            plate_as_typed: input.plate.trim().to_owned(),
            colour,
            configuration,
        });
        case.source_unit = unit;
        let doc = self.inner.create_case(&case)?;
        self.sync.nudge();
        self.inner.case_view(&doc)
    }

    /// Creates a site inspection (现场检查) of a source unit, with the equipment checklist
    /// (weighing, video, display screen, data upload) not yet checked.
    ///
    /// # Errors
    /// As [`FieldStore::create_roadside_check`].
    pub fn create_site_inspection(&self, input: SiteInspectionInput) -> Result<CaseView> {
        let unit = parse_uscc(&input.source_unit)?;
        let onsite = self.inner.onsite(
            &input.place,
            input.gps,
            &input.officers,
            input.started_at_ms,
        )?;
        let mut case = self
            .inner
            .new_case(docs::CaseKind::SiteInspection, onsite)?;
        case.source_unit = Some(unit);
        let doc = self.inner.create_case(&case)?;
        self.sync.nudge();
        self.inner.case_view(&doc)
    }

    /// A case as stored on this device, with its verdict computed now.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] when the case is not on this device; [`ApiError::Validation`]
    /// for a malformed id.
    pub fn case(&self, case_id: String) -> Result<CaseView> {
        let doc = self.inner.open::<Case>(&case_id)?;
        self.inner.case_view(&doc)
    }

    /// Records the measurement of a roadside check and returns the verdict (limit, excess,
    /// 超限率, penalty estimate per 62号令 Art. 3 and 43).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for an implausible measurement (0 kg, over 1 000 t) or a case
    /// without a vehicle; [`ApiError::NotFound`]; [`ApiError::Unauthorized`].
    pub fn record_measurement(
        &self,
        case_id: String,
        measurement: MeasurementInput,
    ) -> Result<ClassificationView> {
        let doc = self.inner.open::<Case>(&case_id)?;
        let case = doc.body()?;
        let Some(vehicle) = &case.vehicle else {
            return Err(ApiError::invalid(
                "record the vehicle before its measurement",
            ));
        };
        let scale = measurement
            .scale
            .clone()
            .map(|s| bounded("the scale", s, MAX_SHORT_TEXT_CHARS))
            .transpose()?;
        let rules = self.inner.rules(Some(&case.rules_id))?;
        // Classified before it is stored: an implausible measurement is refused here.
        let verdict = zhichao_core::rules::classify(
            &vehicle.configuration,
            &measurement.measurement(),
            &rules,
        )
        .map_err(|e| ApiError::invalid(e.to_string()))?;
        let record = docs::MeasurementRecord {
            measurement: measurement.measurement(),
            measured_at_ms: measurement.measured_at_ms.unwrap_or_else(now_ms),
            scale,
        };
        self.inner.edit(doc, |c: &mut Case| {
            c.measurement = Some(record);
            Ok(())
        })?;
        self.sync.nudge();
        Ok(ClassificationView::from_core(&verdict))
    }

    /// Sets the vehicle of a case (plate as typed, colour, configuration).
    ///
    /// # Errors
    /// [`ApiError::Validation`], [`ApiError::NotFound`], [`ApiError::Unauthorized`].
    #[uniffi::method(default(plate_colour = None))]
    pub fn set_vehicle(
        &self,
        case_id: String,
        plate: String,
        configuration: VehicleConfig,
        plate_colour: Option<String>,
    ) -> Result<CaseView> {
        let vehicle = docs::Vehicle {
            plate: parse_plate(&plate)?,
            plate_as_typed: plate.trim().to_owned(),
            colour: parse_colour(plate_colour.as_deref())?,
            configuration: configuration.to_core()?,
        };
        self.edit_case(&case_id, |c| {
            c.vehicle = Some(vehicle);
            Ok(())
        })
    }

    /// Sets the place (as written) and its GPS fix.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for an invalid fix; [`ApiError::NotFound`];
    /// [`ApiError::Unauthorized`].
    pub fn set_place(
        &self,
        case_id: String,
        place: String,
        gps: Option<GeoFix>,
    ) -> Result<CaseView> {
        let gps = gps.map(GeoFix::to_core).transpose()?;
        let place = bounded("the place", place, MAX_SHORT_TEXT_CHARS)?;
        self.edit_case(&case_id, |c| {
            c.onsite.place = TextField(place);
            c.onsite.gps = gps;
            Ok(())
        })
    }

    /// Replaces the officers of the on-site record (at least two, distinct enforcement ids).
    ///
    /// # Errors
    /// [`ApiError::Validation`], [`ApiError::NotFound`], [`ApiError::Unauthorized`].
    pub fn set_officers(&self, case_id: String, officers: Vec<OfficerInfo>) -> Result<CaseView> {
        let officers = officers_to_core(&officers)?;
        self.edit_case(&case_id, |c| {
            c.onsite.officers = officers;
            Ok(())
        })
    }

    /// Sets the facts found to `text`, the whole new text: core turns it into the edits that
    /// lead there, so a teammate's concurrent edit elsewhere in the text survives the merge.
    ///
    /// # Errors
    /// [`ApiError::NotFound`], [`ApiError::Unauthorized`].
    pub fn set_findings(&self, case_id: String, text: String) -> Result<CaseView> {
        let text = bounded("the findings", text, MAX_TEXT_CHARS)?;
        self.edit_case(&case_id, |c| {
            c.findings = TextField(text);
            Ok(())
        })
    }

    /// Sets the source unit a case concerns (the unit that loaded the truck).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a malformed USCC; [`ApiError::NotFound`];
    /// [`ApiError::Unauthorized`].
    pub fn set_source_unit(&self, case_id: String, source_unit: String) -> Result<CaseView> {
        let unit = parse_uscc(&source_unit)?;
        self.edit_case(&case_id, |c| {
            c.source_unit = Some(unit);
            Ok(())
        })
    }

    /// Sets one item of a site inspection's checklist; `note` is the whole new note text.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a roadside check (it has no checklist);
    /// [`ApiError::NotFound`]; [`ApiError::Unauthorized`].
    pub fn set_check_item(
        &self,
        case_id: String,
        item: ChecklistItem,
        status: CheckStatus,
        note: String,
    ) -> Result<CaseView> {
        let note = bounded("the note", note, MAX_TEXT_CHARS)?;
        self.edit_case(&case_id, |c| {
            let Some(checklist) = c.checklist.as_mut() else {
                return Err(DocError::Rule(
                    "only a site inspection has an equipment checklist".to_owned(),
                ));
            };
            let entry = checklist_item_mut(checklist, item);
            entry.status = status.into();
            entry.note = TextField(note);
            Ok(())
        })
    }

    /// Records the next lifecycle stage (立案 first, then in order; 结案 takes effect with a
    /// supervisor's accepting review).
    ///
    /// # Errors
    /// [`ApiError::Validation`] naming the expected stage; [`ApiError::NotFound`];
    /// [`ApiError::Unauthorized`].
    pub fn record_stage(&self, case_id: String, stage: Stage, note: String) -> Result<CaseView> {
        let note = bounded("the note", note, MAX_SHORT_TEXT_CHARS)?;
        let by = self.inner.principal.id().clone();
        let at = now_ms();
        self.edit_case(&case_id, |c| c.record_stage(stage.into(), at, by, note))
    }

    /// Classifies a measurement of a configuration under the rules in force on this phone,
    /// without any case (a quick check at the roadside).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for an impossible configuration or implausible measurement.
    pub fn classify(
        &self,
        configuration: VehicleConfig,
        measurement: MeasurementInput,
    ) -> Result<ClassificationView> {
        let rules = self.inner.rules(None)?;
        let verdict = zhichao_core::rules::classify(
            &configuration.to_core()?,
            &measurement.measurement(),
            &rules,
        )
        .map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok(ClassificationView::from_core(&verdict))
    }

    // -----------------------------------------------------------------------------------------
    // Photos

    /// Adds the photo in the file at `path` to a case or a response: checks it (format by
    /// content, complete, within size limits), reads its EXIF (capture time, GPS, camera),
    /// makes its evidence copy and thumbnail, stores all three and queues them for upload,
    /// and lists it on the document. Runs on a background thread (about 0.1 s for a 8.5 MP
    /// photo). Hand JPEG: HEIC (the iPhone default) is kept but gets no preview.
    ///
    /// `device_gps` is used when the photo carries no GPS; the device clock when it carries
    /// no capture time with a UTC offset.
    ///
    /// # Errors
    /// [`ApiError::Validation`] when the photo is refused (empty, truncated, too large, not a
    /// JPEG/PNG/HEIF) or the file cannot be read — nothing is stored then;
    /// [`ApiError::NotFound`]; [`ApiError::Unauthorized`]; [`ApiError::Storage`].
    #[uniffi::method(default(device_gps = None))]
    pub async fn add_photo_file(
        &self,
        doc_id: String,
        path: String,
        caption: String,
        device_gps: Option<GeoFix>,
    ) -> Result<PhotoAdded> {
        let inner = Arc::clone(&self.inner);
        let added = blocking::unblock(move || {
            let bytes = read_photo_file(Path::new(&path))?;
            inner.add_photo(&doc_id, &bytes, caption, device_gps)
        })
        .await?;
        self.sync.nudge();
        Ok(added)
    }

    /// [`FieldStore::add_photo_file`] for a photo in memory (a camera callback's JPEG).
    ///
    /// # Errors
    /// As [`FieldStore::add_photo_file`].
    #[uniffi::method(default(device_gps = None))]
    pub async fn add_photo_bytes(
        &self,
        doc_id: String,
        bytes: Vec<u8>,
        caption: String,
        device_gps: Option<GeoFix>,
    ) -> Result<PhotoAdded> {
        let inner = Arc::clone(&self.inner);
        let added =
            blocking::unblock(move || inner.add_photo(&doc_id, &bytes, caption, device_gps))
                .await?;
        self.sync.nudge();
        Ok(added)
    }

    /// The photos a case or response lists, with their upload state.
    ///
    /// # Errors
    /// [`ApiError::NotFound`]; [`ApiError::Validation`] for a malformed id.
    pub fn evidence(&self, doc_id: String) -> Result<Vec<EvidenceView>> {
        let id = parse_doc_id(&doc_id)?;
        match self.inner.kind_of(&id)? {
            DocKind::Case => Ok(self
                .inner
                .evidence_views(&self.inner.open_id::<Case>(&id)?.body()?.evidence)),
            DocKind::Response => Ok(self
                .inner
                .evidence_views(&self.inner.open_id::<Response>(&id)?.body()?.evidence)),
            _ => Err(ApiError::NotFound),
        }
    }

    /// The bytes of a photo blob on this phone (original, evidence copy or thumbnail),
    /// checked against its SHA-256.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] when it is not on this phone; [`ApiError::Storage`] when the
    /// file no longer matches its hash (it is marked damaged).
    pub fn photo_bytes(&self, sha256: String) -> Result<Vec<u8>> {
        let sha = parse_sha(&sha256)?;
        let bytes = self.inner.photos.read(&sha)?;
        if EvidenceId::of(&bytes) != sha {
            let _ = self.inner.photos.mark_damaged(&sha);
            return Err(ApiError::Storage {
                reason: format!("photo {sha} on this phone is damaged"),
            });
        }
        Ok(bytes)
    }

    // -----------------------------------------------------------------------------------------
    // Queries

    /// The cases of a vehicle on this device (the plate as typed at the roadside).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a malformed plate; [`ApiError::Storage`].
    pub fn cases_by_plate(&self, plate: String) -> Result<Vec<CaseView>> {
        let plate = parse_plate(&plate)?;
        let ids = self.inner.docs.cases_by_plate(&plate)?;
        self.inner.case_views(ids)
    }

    /// The cases in a status on this device.
    ///
    /// # Errors
    /// [`ApiError::Storage`].
    pub fn cases_by_status(&self, status: CaseStatus) -> Result<Vec<CaseView>> {
        let ids = self.inner.docs.cases_by_status(status.into())?;
        self.inner.case_views(ids)
    }

    /// The cases concerning a source unit on this device.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a malformed USCC; [`ApiError::Storage`].
    pub fn cases_by_unit(&self, source_unit: String) -> Result<Vec<CaseView>> {
        let unit = parse_uscc(&source_unit)?;
        let ids = self.inner.docs.cases_by_unit(&unit)?;
        self.inner.case_views(ids)
    }

    /// Officers and supervisors: the over-limit departures (超限出场) of a vehicle on the
    /// county's watch lists this phone keeps — today and the two days before (China Standard
    /// Time, by the device clock) — newest first, each with the plate's count of over-limit
    /// findings this year and whether 公路安全保护条例 Art. 66 (more than three) is crossed.
    /// Works offline: the lists come with every sync. Empty when the plate is on none of them
    /// (or no list is on the phone yet).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a malformed plate; [`ApiError::Unauthorized`] for
    /// enterprise accounts; [`ApiError::Storage`].
    pub fn watchlist_lookup(&self, plate: String) -> Result<Vec<WatchHitRecord>> {
        let plate = parse_plate(&plate)?;
        let county = match &self.inner.principal {
            Principal::Officer { scope, .. } | Principal::Supervisor { scope, .. } => {
                county_of(scope)?
            }
            _ => return Err(ApiError::Unauthorized),
        };
        let today = LocalDay::of_ms(now_ms())
            .ok_or_else(|| ApiError::internal("the device clock is out of range"))?;
        let hits = self.inner.docs.watchlist_lookup(&county, &plate, today)?;
        Ok(hits.iter().map(WatchHitRecord::from_core).collect())
    }

    /// Notices on this device not yet settled by an accepted response, earliest issued
    /// first.
    ///
    /// # Errors
    /// [`ApiError::Storage`].
    pub fn open_notices(&self) -> Result<Vec<NoticeView>> {
        let ids = self.inner.docs.open_notices()?;
        self.inner.notice_views(ids)
    }

    /// A notice on this device.
    ///
    /// # Errors
    /// [`ApiError::NotFound`]; [`ApiError::Validation`] for a malformed id.
    pub fn notice(&self, notice_id: String) -> Result<NoticeView> {
        let doc = self.inner.open::<Notice>(&notice_id)?;
        self.inner.notice_view(&doc)
    }

    /// Enterprises: every notice addressed to their unit (open and settled), earliest issued
    /// first.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] for other accounts; [`ApiError::Storage`].
    pub fn my_notices(&self) -> Result<Vec<NoticeView>> {
        let Principal::Enterprise { unit, .. } = &self.inner.principal else {
            return Err(ApiError::Unauthorized);
        };
        let ids = self.inner.docs.by_unit(unit, DocKind::Notice)?;
        self.inner.notice_views(ids)
    }

    /// The responses to a notice on this device.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a malformed id; [`ApiError::Storage`].
    pub fn responses(&self, notice_id: String) -> Result<Vec<ResponseView>> {
        let id = parse_doc_id(&notice_id)?;
        let mut out = Vec::new();
        for response in self.inner.docs.children(&id, DocKind::Response)? {
            out.push(self.inner.response_view(&self.inner.open_id(&response)?)?);
        }
        out.sort_by_key(|r| r.submitted_at_ms.unwrap_or(i64::MAX));
        Ok(out)
    }

    /// A response on this device.
    ///
    /// # Errors
    /// [`ApiError::NotFound`]; [`ApiError::Validation`] for a malformed id.
    pub fn response(&self, response_id: String) -> Result<ResponseView> {
        let doc = self.inner.open::<Response>(&response_id)?;
        self.inner.response_view(&doc)
    }

    /// The reviews of a case or response on this device.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a malformed id; [`ApiError::Storage`].
    pub fn reviews(&self, parent_id: String) -> Result<Vec<ReviewView>> {
        let id = parse_doc_id(&parent_id)?;
        self.inner.review_views(&id)
    }

    // -----------------------------------------------------------------------------------------
    // Notices, responses, reviews

    /// Officers: issues a rectification notice (整改通知书) to the case's source unit, with
    /// the case's photos as evidence copies and thumbnails (never originals).
    ///
    /// # Errors
    /// [`ApiError::Validation`] (no unit, fewer than two officers, a bad date, an empty unit
    /// name); [`ApiError::NotFound`] when the case is not on this device;
    /// [`ApiError::Unauthorized`] for other accounts or another team's case.
    pub fn issue_notice(&self, input: NoticeInput) -> Result<NoticeView> {
        let Principal::Officer { team, scope, .. } = &self.inner.principal else {
            return Err(ApiError::Unauthorized);
        };
        let case_doc = self.inner.open::<Case>(&input.case_id)?;
        // Only the team that holds the case issues its notices.
        let case_header = case_doc.header()?;
        if !access::can_write(&self.inner.principal, &case_header, &[]) {
            return Err(ApiError::Unauthorized);
        }
        let case = case_doc.body()?;
        let unit = match input.source_unit.as_deref() {
            Some(text) => parse_uscc(text)?,
            None => case.source_unit.clone().ok_or_else(|| {
                ApiError::invalid("the case names no source unit: give the notice's unit")
            })?,
        };
        let photos = if input.include_case_photos {
            case.evidence
                .iter()
                .filter_map(|e| {
                    e.derivatives
                        .as_ref()
                        .map(|d| NoticePhoto::from_derivatives(d, &e.caption))
                })
                .collect()
        } else {
            Vec::new()
        };
        let now = now_ms();
        let short = |what: &str, v: &str| bounded(what, v.trim().to_owned(), MAX_SHORT_TEXT_CHARS);
        let body = Notice {
            case: case_doc.id(),
            unit_name: short("the unit's name", &input.unit_name)?,
            legal_representative: input
                .legal_representative
                .as_deref()
                .map(|r| short("the legal representative", r))
                .transpose()?,
            facts: TextField(bounded("the facts", input.facts.clone(), MAX_TEXT_CHARS)?),
            legal_basis: TextField(bounded(
                "the legal basis",
                input.legal_basis.clone(),
                MAX_TEXT_CHARS,
            )?),
            deadline: match input.deadline_date.as_deref().map(str::trim) {
                None | Some("") => docs::Deadline::Immediately,
                Some(date) => docs::Deadline::By {
                    date: bounded("the deadline", date.to_owned(), 10)?,
                },
            },
            issued_by: officers_to_core(&input.officers)?,
            issued_at_ms: now,
            review_body: short("the review body", &input.review_body)?,
            appeal_body: short("the appeal body", &input.appeal_body)?,
            photos,
        };
        let header = self.inner.header(
            DocKind::Notice,
            *scope,
            Some(team.clone()),
            Some(unit),
            None,
        );
        let doc = self.inner.create(&header, &body)?;
        self.sync.nudge();
        self.inner.notice_view(&doc)
    }

    /// Enterprises: starts a response (整改回复) to a notice addressed to their unit, as a
    /// draft with `statement`. Add photos with `add_photo_*`, then submit it.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] when the notice is not on this device;
    /// [`ApiError::Unauthorized`] for other accounts or another unit's notice.
    pub fn respond(&self, notice_id: String, statement: String) -> Result<ResponseView> {
        let Principal::Enterprise { unit, .. } = &self.inner.principal else {
            return Err(ApiError::Unauthorized);
        };
        let notice = self.inner.open::<Notice>(&notice_id)?;
        let notice_header = notice.header()?;
        let header = self.inner.header(
            DocKind::Response,
            notice_header.scope,
            None,
            Some(unit.clone()),
            Some(notice.id()),
        );
        let body = Response {
            statement: TextField(bounded("the statement", statement, MAX_TEXT_CHARS)?),
            evidence: Vec::new(),
            submitted_at_ms: None,
        };
        let doc = self.inner.create(&header, &body)?;
        self.sync.nudge();
        self.inner.response_view(&doc)
    }

    /// Enterprises: sets a draft response's statement to `text` (the whole new text).
    ///
    /// # Errors
    /// [`ApiError::Conflict`] when it was submitted already; [`ApiError::NotFound`];
    /// [`ApiError::Unauthorized`].
    pub fn set_response_statement(
        &self,
        response_id: String,
        text: String,
    ) -> Result<ResponseView> {
        let text = bounded("the statement", text, MAX_TEXT_CHARS)?;
        let _response = self.inner.lock_responses();
        let doc = self.inner.open::<Response>(&response_id)?;
        if doc.body()?.submitted_at_ms.is_some() {
            return Err(ApiError::Conflict);
        }
        let doc = self.inner.edit(doc, |r: &mut Response| {
            r.statement = TextField(text);
            Ok(())
        })?;
        self.sync.nudge();
        self.inner.response_view(&doc)
    }

    /// Enterprises: submits a response (its time is recorded and it can no longer change).
    ///
    /// # Errors
    /// [`ApiError::Conflict`] when it was submitted already; [`ApiError::Validation`] when
    /// the statement is empty; [`ApiError::NotFound`]; [`ApiError::Unauthorized`].
    pub fn submit_response(&self, response_id: String) -> Result<ResponseView> {
        let _response = self.inner.lock_responses();
        let doc = self.inner.open::<Response>(&response_id)?;
        let body = doc.body()?;
        if body.submitted_at_ms.is_some() {
            return Err(ApiError::Conflict);
        }
        if body.statement.as_str().trim().is_empty() && body.evidence.is_empty() {
            return Err(ApiError::invalid(
                "say what was done or add a photo before submitting",
            ));
        }
        let at = now_ms();
        let doc = self.inner.edit(doc, |r: &mut Response| {
            r.submitted_at_ms = Some(at);
            Ok(())
        })?;
        self.sync.nudge();
        self.inner.response_view(&doc)
    }

    /// Supervisors: reviews a case (accepting closes a case whose 结案 is recorded) or a
    /// response (accepting settles its notice). A decision is final: to change it, write a
    /// new review.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a return without a reason; [`ApiError::NotFound`] when
    /// the case or response is not on this device; [`ApiError::Unauthorized`] for other
    /// accounts or outside the supervisor's scope.
    pub fn review(
        &self,
        parent_id: String,
        decision: ReviewDecision,
        comments: String,
    ) -> Result<ReviewView> {
        if !matches!(self.inner.principal, Principal::Supervisor { .. }) {
            return Err(ApiError::Unauthorized);
        }
        let parent = parse_doc_id(&parent_id)?;
        let parent_header = self
            .inner
            .stored_header(&parent)?
            .ok_or(ApiError::NotFound)?;
        if !matches!(parent_header.kind, DocKind::Case | DocKind::Response) {
            return Err(ApiError::invalid("only a case or a response is reviewed"));
        }
        let comments = bounded("the comments", comments, MAX_TEXT_CHARS)?;
        let decision = match decision {
            ReviewDecision::Accept => docs::ReviewDecision::Accept,
            ReviewDecision::Return { reasons } => {
                if reasons.len() > MAX_REASONS {
                    return Err(ApiError::invalid(format!(
                        "{} reasons; at most {MAX_REASONS} are accepted",
                        reasons.len()
                    )));
                }
                let mut kept = Vec::with_capacity(reasons.len());
                for reason in reasons {
                    let reason =
                        bounded("a reason", reason.trim().to_owned(), MAX_SHORT_TEXT_CHARS)?;
                    if !reason.is_empty() {
                        kept.push(reason);
                    }
                }
                docs::ReviewDecision::Return { reasons: kept }
            }
        };
        let header = self.inner.header(
            DocKind::Review,
            parent_header.scope,
            None,
            None,
            Some(parent),
        );
        let body = Review {
            decision,
            comments: TextField(comments),
            reviewed_at_ms: now_ms(),
        };
        let doc = self.inner.create(&header, &body)?;
        self.sync.nudge();
        Inner::review_view(&doc)
    }

    /// Documents changed on this device and not yet confirmed by the server.
    ///
    /// # Errors
    /// [`ApiError::Storage`].
    pub fn pending_documents(&self) -> Result<u32> {
        let n = self.inner.docs.store().pending()?.len();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Photo blobs waiting for upload.
    ///
    /// # Errors
    /// [`ApiError::Storage`].
    pub fn pending_photos(&self) -> Result<u32> {
        let n = self.inner.photos.queued()?.len();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

impl FieldStore {
    fn edit_case(
        &self,
        case_id: &str,
        edit: impl FnOnce(&mut Case) -> std::result::Result<(), DocError>,
    ) -> Result<CaseView> {
        let doc = self.inner.open::<Case>(case_id)?;
        let doc = self.inner.edit(doc, edit)?;
        self.sync.nudge();
        self.inner.case_view(&doc)
    }
}

/// The device and account a store directory belongs to, recorded at its first opening
/// (`owner.json`): the directory holds that account's pending work, which must never be
/// synced, read or edited under another account.
///
/// # Errors
/// [`ApiError::Unauthorized`] when the directory belongs to another device or account;
/// [`ApiError::Storage`] when the record cannot be read or written.
fn claim_directory(root: &Path, credentials: &Credentials) -> Result<()> {
    let path = root.join("owner.json");
    let mine = serde_json::json!({
        "device": credentials.device.as_str(),
        "principal": credentials.principal.id().as_str(),
    });
    let storage = |what: &str, e: &dyn std::fmt::Display| ApiError::Storage {
        reason: format!("{what} the store directory's owner record: {e}"),
    };
    let claim = |bytes: &[u8]| -> Result<()> {
        let theirs: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| storage("cannot read", &e))?;
        if theirs != mine {
            tracing::warn!("this store directory belongs to another device or account");
            return Err(ApiError::Unauthorized);
        }
        Ok(())
    };
    match std::fs::read(&path) {
        Ok(bytes) => claim(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && root.join("docs").exists() => {
            // Data without an owner record (deleted, or restored without it): whose it is
            // cannot be known, so nobody may take it over.
            tracing::warn!("this store directory holds data but no owner record");
            Err(ApiError::Unauthorized)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write as _;
            // A temporary file of our own, linked into place only if no owner record exists
            // yet: two first openings at once cannot both claim the directory.
            let tmp = root.join(format!("owner.json.{:016x}.tmp", rand::random::<u64>()));
            let written = std::fs::File::create(&tmp).and_then(|mut file| {
                file.write_all(mine.to_string().as_bytes())?;
                file.sync_all()
            });
            let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    if let Ok(dir) = std::fs::File::open(root) {
                        let _ = dir.sync_all();
                    }
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let bytes = std::fs::read(&path).map_err(|e| storage("cannot read", &e))?;
                    claim(&bytes)
                }
                Err(e) => Err(storage("cannot write", &e)),
            }
        }
        Err(e) => Err(storage("cannot read", &e)),
    }
}

/// Reads a photo file, refusing what is over the size limit before reading it.
fn read_photo_file(path: &Path) -> Result<Vec<u8>> {
    let limits = PhotoLimits::default();
    let meta = std::fs::metadata(path)
        .map_err(|e| ApiError::invalid(format!("cannot read the photo file: {e}")))?;
    if !meta.is_file() {
        return Err(ApiError::invalid("the photo path is not a file"));
    }
    limits.check_input_len(meta.len())?;
    let file = std::fs::File::open(path)
        .map_err(|e| ApiError::invalid(format!("cannot read the photo file: {e}")))?;
    let mut bytes = Vec::new();
    file.take(limits.max_input_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ApiError::invalid(format!("cannot read the photo file: {e}")))?;
    limits.check_input_len(bytes.len() as u64)?;
    Ok(bytes)
}

impl Inner {
    /// Drops the watch lists older than the days a phone keeps (by the device clock). A
    /// failure is logged, never returned: it must not fail opening the store or a sync, and
    /// the next sync tries again.
    pub(crate) fn prune_watchlists(&self) {
        let Some(today) = LocalDay::of_ms(now_ms()) else {
            tracing::warn!("the device clock is out of range; watch lists not pruned");
            return;
        };
        match self.docs.prune_watchlists(today) {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "old watch lists pruned"),
            Err(e) => tracing::warn!(error = %e, "could not prune old watch lists"),
        }
    }

    fn lock_responses(&self) -> std::sync::MutexGuard<'_, ()> {
        self.responses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A header for a new document created now by this account.
    fn header(
        &self,
        kind: DocKind,
        scope: Scope,
        team: Option<TeamId>,
        unit: Option<Uscc>,
        parent: Option<DocumentId>,
    ) -> Header {
        Header {
            kind,
            schema: SCHEMA_VERSION,
            scope,
            team,
            unit,
            parent,
            created_by: self.principal.id().clone(),
            created_at_ms: now_ms(),
        }
    }

    /// The stored header of a document, `None` when it is not on this device.
    pub(crate) fn stored_header(&self, id: &DocumentId) -> Result<Option<Header>> {
        match self.docs.store().load(id)? {
            Some(loaded) => Ok(Some(docs::read_header(&loaded.doc)?)),
            None => Ok(None),
        }
    }

    /// The headers of a header's parent and grandparent that are on this device.
    fn ancestors(&self, header: &Header) -> Result<Vec<Header>> {
        let mut out = Vec::new();
        let mut next = header.parent;
        while let Some(id) = next
            && out.len() < 2
        {
            let Some(h) = self.stored_header(&id)? else {
                break;
            };
            next = h.parent;
            out.push(h);
        }
        Ok(out)
    }

    fn kind_of(&self, id: &DocumentId) -> Result<DocKind> {
        Ok(self.stored_header(id)?.ok_or(ApiError::NotFound)?.kind)
    }

    fn open_id<T: DocBody>(&self, id: &DocumentId) -> Result<TypedDoc<T>> {
        let opened = self.docs.open::<T>(id)?.ok_or(ApiError::NotFound)?;
        if !opened.report.is_complete() {
            tracing::warn!(doc_id = %id, "document loaded with losses");
        }
        Ok(opened.doc)
    }

    fn open<T: DocBody>(&self, id: &str) -> Result<TypedDoc<T>> {
        self.open_id(&parse_doc_id(id)?)
    }

    /// Creates a document after checking this account may (as the server will).
    fn create<T: DocBody>(&self, header: &Header, body: &T) -> Result<TypedDoc<T>> {
        let ancestors = self.ancestors(header)?;
        if header.parent.is_some() && ancestors.is_empty() {
            return Err(ApiError::NotFound);
        }
        if !access::can_create(&self.principal, header, &ancestors) {
            tracing::warn!(kind = %header.kind, "this account may not create this document");
            return Err(ApiError::Unauthorized);
        }
        Ok(self.docs.create(&mut rand::rng(), header, body)?)
    }

    /// Applies one edit to a document after checking this account may write it, and saves.
    fn edit<T: DocBody>(
        &self,
        mut doc: TypedDoc<T>,
        edit: impl FnOnce(&mut T) -> std::result::Result<(), DocError>,
    ) -> Result<TypedDoc<T>> {
        let header = doc.header()?;
        if !access::can_write(&self.principal, &header, &self.ancestors(&header)?) {
            tracing::warn!(kind = %header.kind, "this account may not edit this document");
            return Err(ApiError::Unauthorized);
        }
        if doc.update(self.principal.id(), now_ms(), edit)? {
            self.docs.save(&doc)?;
        }
        Ok(doc)
    }

    fn onsite(
        &self,
        place: &str,
        gps: Option<GeoFix>,
        officers: &[OfficerInfo],
        started_at_ms: Option<i64>,
    ) -> Result<docs::OnSiteRecord> {
        Ok(docs::OnSiteRecord {
            place: TextField(bounded(
                "the place",
                place.trim().to_owned(),
                MAX_SHORT_TEXT_CHARS,
            )?),
            gps: gps.map(GeoFix::to_core).transpose()?,
            started_at_ms: started_at_ms.unwrap_or_else(now_ms),
            ended_at_ms: None,
            officers: officers_to_core(officers)?,
            person_on_site: None,
        })
    }

    /// A new case body numbered from this device's durable sequence, under the rules in
    /// force on this phone.
    fn new_case(&self, kind: docs::CaseKind, onsite: docs::OnSiteRecord) -> Result<Case> {
        if !matches!(self.principal, Principal::Officer { .. }) {
            return Err(ApiError::Unauthorized);
        }
        let rules = self.rules(None)?;
        let year = year_of(onsite.started_at_ms);
        // The on-site record is checked (two officers, a valid GPS fix) before a number is
        // taken from the durable sequence, so a refused case leaves no gap in the numbers.
        let draft_number = zhichao_core::ids::CaseNumber::new(self.prefix.clone(), year, 1)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let draft = Case::new(draft_number, kind, &rules, onsite);
        draft.check(None)?;
        let number = self.docs.next_case_number(&self.prefix, year)?;
        Ok(Case {
            case_number: number,
            ..draft
        })
    }

    /// Creates a case: scoped to the officer's scope when it names a source unit, else to the
    /// whole county (a roadside case belongs to the county).
    fn create_case(&self, case: &Case) -> Result<TypedDoc<Case>> {
        let Principal::Officer { team, scope, .. } = &self.principal else {
            return Err(ApiError::Unauthorized);
        };
        let scope = if case.source_unit.is_some() {
            *scope
        } else {
            county_of(scope)?
        };
        let header = self.header(DocKind::Case, scope, Some(team.clone()), None, None);
        self.create(&header, case)
    }

    /// The rules version `id` (or the one in force), from the county's rules document this
    /// phone synced; before the first sync, the national defaults.
    fn rules(&self, id: Option<&str>) -> Result<RulesConfig> {
        let scope = match &self.principal {
            Principal::Officer { scope, .. } | Principal::Supervisor { scope, .. } => {
                Some(county_of(scope)?)
            }
            _ => None,
        };
        if let Some(scope) = scope
            && let Some(opened) = self
                .docs
                .open::<RulesVersions>(&docs::rules_document_id(&scope))?
        {
            let versions = opened.doc.body()?;
            let version = match id {
                Some(id) => versions.version(id),
                None => versions.in_force(),
            };
            if let Some(v) = version {
                return Ok(v.config()?);
            }
        }
        let defaults = RulesConfig::default();
        match id {
            None => Ok(defaults),
            Some(id) if id == defaults.id => Ok(defaults),
            Some(id) => Err(ApiError::invalid(format!(
                "rules version {id} is not on this phone yet: sync first"
            ))),
        }
    }

    fn case_views(&self, ids: Vec<DocumentId>) -> Result<Vec<CaseView>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.open_id::<Case>(&id).and_then(|d| self.case_view(&d)) {
                Ok(view) => out.push(view),
                // One damaged document must not hide the others.
                Err(e) => tracing::warn!(doc_id = %id, error = %e, "a case does not read"),
            }
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.created_at_ms));
        Ok(out)
    }

    pub(crate) fn case_view(&self, doc: &TypedDoc<Case>) -> Result<CaseView> {
        let header = doc.header()?;
        let case = doc.body()?;
        let reviews = self.docs.reviews(&doc.id())?;
        let status = docs::case_status(&case, &reviews);
        let (classification, classification_error) = if case.measurement.is_some() {
            match self
                .rules(Some(&case.rules_id))
                .and_then(|rules| Ok(case.classify(&rules)?))
            {
                Ok(Some(c)) => (Some(ClassificationView::from_core(&c)), None),
                Ok(None) => (None, None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        Ok(CaseView {
            id: doc.id().to_string(),
            case_number: case.case_number.to_string(),
            kind: case.kind.into(),
            status: status.into(),
            plate: case.vehicle.as_ref().map(|v| v.plate.to_string()),
            plate_printed: case.vehicle.as_ref().map(|v| format!("{:#}", v.plate)),
            configuration: case
                .vehicle
                .as_ref()
                .map(|v| VehicleConfig::from_core(&v.configuration)),
            source_unit: case.source_unit.as_ref().map(ToString::to_string),
            place: case.onsite.place.as_str().to_owned(),
            gps: case.onsite.gps.as_ref().map(GeoFix::from_core),
            officers: case
                .onsite
                .officers
                .iter()
                .map(OfficerInfo::from_core)
                .collect(),
            findings: case.findings.as_str().to_owned(),
            measurement: case.measurement.as_ref().map(MeasurementInput::from_core),
            classification,
            classification_error,
            checklist: case
                .checklist
                .as_ref()
                .map(checklist_view)
                .unwrap_or_default(),
            photo_count: u32::try_from(case.evidence.len()).unwrap_or(u32::MAX),
            events: case
                .events
                .iter()
                .map(|e| StageEvent {
                    stage: e.stage.into(),
                    stage_zh: e.stage.chinese_name().to_owned(),
                    at_ms: e.at_ms,
                    by: e.by.to_string(),
                    note: e.note.clone(),
                })
                .collect(),
            decision_due_at_ms: docs::decision_due_ms(&case),
            created_by: header.created_by.to_string(),
            created_at_ms: header.created_at_ms,
        })
    }

    fn add_photo(
        &self,
        doc_id: &str,
        bytes: &[u8],
        caption: String,
        device_gps: Option<GeoFix>,
    ) -> Result<PhotoAdded> {
        let id = parse_doc_id(doc_id)?;
        let header = self.stored_header(&id)?.ok_or(ApiError::NotFound)?;
        if !matches!(header.kind, DocKind::Case | DocKind::Response) {
            return Err(ApiError::invalid(
                "photos are added to a case or a response",
            ));
        }
        if !access::can_write(&self.principal, &header, &self.ancestors(&header)?) {
            return Err(ApiError::Unauthorized);
        }
        if header.kind == DocKind::Response
            && self
                .open_id::<Response>(&id)?
                .body()?
                .submitted_at_ms
                .is_some()
        {
            return Err(ApiError::Conflict);
        }
        let context = CaptureContext {
            taken_by: self.principal.id().clone(),
            device_time_ms: now_ms(),
            device_gps: device_gps.map(GeoFix::to_core).transpose()?,
            caption: bounded("the caption", caption, MAX_SHORT_TEXT_CHARS)?,
        };
        let recorded =
            record::record_photo(&self.photos, bytes, &context, &PhotoLimits::default())?;
        // Processing took a while: the response may have been submitted meanwhile. Checked
        // and attached under the responses' lock, as one step.
        let _response = (header.kind == DocKind::Response).then(|| self.lock_responses());
        if header.kind == DocKind::Response
            && self
                .open_id::<Response>(&id)?
                .body()?
                .submitted_at_ms
                .is_some()
        {
            return Err(ApiError::Conflict);
        }
        let by = self.principal.id().clone();
        let changed = match header.kind {
            DocKind::Case => self.attach::<Case>(&id, &recorded.reference, &by)?,
            _ => self.attach::<Response>(&id, &recorded.reference, &by)?,
        };
        let camera = match (
            &recorded.photo.metadata.make,
            &recorded.photo.metadata.model,
        ) {
            (Some(make), Some(model)) => Some(format!("{make} {model}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        };
        Ok(PhotoAdded {
            evidence: self.evidence_view(&recorded.reference),
            time_source: match recorded.time_source {
                TimeSource::Exif => CaptureTimeSource::Exif,
                TimeSource::Device => CaptureTimeSource::Device,
            },
            preview_error: recorded.preview_error.map(|e| e.to_string()),
            camera,
            already_listed: !changed,
        })
    }

    fn attach<T: WithEvidence>(
        &self,
        id: &DocumentId,
        reference: &EvidenceRef,
        by: &zhichao_core::ids::PrincipalId,
    ) -> Result<bool> {
        Ok(record::attach_photo::<T, _>(
            &self.docs,
            id,
            reference,
            by,
            now_ms(),
        )?)
    }

    fn evidence_views(&self, evidence: &[EvidenceRef]) -> Vec<EvidenceView> {
        evidence.iter().map(|e| self.evidence_view(e)).collect()
    }

    fn evidence_view(&self, e: &EvidenceRef) -> EvidenceView {
        let d = e.derivatives.as_ref();
        let complete = self.photos.is_on_server(&e.sha256)
            && d.is_none_or(|d| {
                self.photos.is_on_server(&d.evidence_copy.sha256)
                    && self.photos.is_on_server(&d.thumbnail.sha256)
            });
        EvidenceView {
            sha256: e.sha256.to_string(),
            caption: e.caption.clone(),
            captured_at_ms: e.captured_at_ms,
            gps: e.gps.as_ref().map(GeoFix::from_core),
            taken_by: e.taken_by.to_string(),
            format: e.format.clone(),
            byte_len: e.byte_len,
            width: e.width,
            height: e.height,
            upload: UploadStatus::from_core(self.photos.upload_state(&e.sha256)),
            complete_on_server: complete,
            thumbnail_sha256: d.map(|d| d.thumbnail.sha256.to_string()),
            evidence_copy_sha256: d.map(|d| d.evidence_copy.sha256.to_string()),
            thumbnail_path: path_text(d.and_then(|d| self.photos.local_path(&d.thumbnail.sha256))),
            evidence_copy_path: path_text(
                d.and_then(|d| self.photos.local_path(&d.evidence_copy.sha256)),
            ),
        }
    }

    fn notice_views(&self, ids: Vec<DocumentId>) -> Result<Vec<NoticeView>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self
                .open_id::<Notice>(&id)
                .and_then(|d| self.notice_view(&d))
            {
                Ok(view) => out.push(view),
                Err(e) => tracing::warn!(doc_id = %id, error = %e, "a notice does not read"),
            }
        }
        out.sort_by_key(|n| n.issued_at_ms);
        Ok(out)
    }

    fn notice_view(&self, doc: &TypedDoc<Notice>) -> Result<NoticeView> {
        let header = doc.header()?;
        let notice = doc.body()?;
        let open = self.docs.open_notices()?.contains(&doc.id());
        let responses = self.docs.children(&doc.id(), DocKind::Response)?;
        Ok(NoticeView {
            id: doc.id().to_string(),
            case_id: notice.case.to_string(),
            unit: header
                .unit
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            unit_name: notice.unit_name.clone(),
            facts: notice.facts.as_str().to_owned(),
            legal_basis: notice.legal_basis.as_str().to_owned(),
            deadline_date: match &notice.deadline {
                docs::Deadline::Immediately => None,
                docs::Deadline::By { date } => Some(date.clone()),
            },
            issued_by: notice
                .issued_by
                .iter()
                .map(OfficerInfo::from_core)
                .collect(),
            issued_at_ms: notice.issued_at_ms,
            review_body: notice.review_body.clone(),
            appeal_body: notice.appeal_body.clone(),
            open,
            photos: notice
                .photos
                .iter()
                .map(|p| NoticePhotoView {
                    sha256: p.sha256.to_string(),
                    thumbnail_sha256: p.thumbnail.sha256.to_string(),
                    caption: p.caption.clone(),
                    path: path_text(self.photos.local_path(&p.sha256)),
                    thumbnail_path: path_text(self.photos.local_path(&p.thumbnail.sha256)),
                })
                .collect(),
            response_ids: responses.iter().map(ToString::to_string).collect(),
        })
    }

    fn response_view(&self, doc: &TypedDoc<Response>) -> Result<ResponseView> {
        let header = doc.header()?;
        let response = doc.body()?;
        Ok(ResponseView {
            id: doc.id().to_string(),
            notice_id: header.parent.map(|p| p.to_string()).unwrap_or_default(),
            unit: header
                .unit
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            statement: response.statement.as_str().to_owned(),
            evidence: self.evidence_views(&response.evidence),
            submitted_at_ms: response.submitted_at_ms,
            reviews: self.review_views(&doc.id())?,
        })
    }

    fn review_views(&self, parent: &DocumentId) -> Result<Vec<ReviewView>> {
        let mut out = Vec::new();
        for id in self.docs.children(parent, DocKind::Review)? {
            out.push(Self::review_view(&self.open_id::<Review>(&id)?)?);
        }
        out.sort_by_key(|r| r.reviewed_at_ms);
        Ok(out)
    }

    fn review_view(doc: &TypedDoc<Review>) -> Result<ReviewView> {
        let header = doc.header()?;
        let review = doc.body()?;
        Ok(ReviewView {
            id: doc.id().to_string(),
            parent_id: header.parent.map(|p| p.to_string()).unwrap_or_default(),
            decision: match review.decision {
                docs::ReviewDecision::Accept => ReviewDecision::Accept,
                docs::ReviewDecision::Return { reasons } => ReviewDecision::Return { reasons },
            },
            comments: review.comments.as_str().to_owned(),
            reviewed_at_ms: review.reviewed_at_ms,
            reviewer: header.created_by.to_string(),
        })
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("device", &self.credentials.device)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::year_of;

    #[test]
    fn years_are_civil_years_in_china_standard_time() {
        // 2026-12-31T16:00:00Z is 2027-01-01 00:00 in Beijing.
        assert_eq!(year_of(1_798_732_800_000), 2027);
        assert_eq!(year_of(1_798_732_799_999), 2026);
        assert_eq!(year_of(1_780_000_000_000), 2026);
        assert_eq!(year_of(0), 2000, "clamped to the case-number range");
    }
}
