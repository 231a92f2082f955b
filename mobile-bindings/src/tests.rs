//! The facade without a server: enrollment state, the roadside and site-inspection flows,
//! verdicts, photos, notices → responses → reviews moved between devices as sync would, the
//! local access checks, error mapping, logging, and a sync against an unreachable server.
//! The same flows against a real server run in the Kotlin JVM tests (`android/jvm-tests`).

use std::sync::{Arc, Mutex};

use futures_lite::future::block_on;
use zhichao_core::access::Principal;
use zhichao_core::calendar::LocalDay;
use zhichao_core::client::Credentials;
use zhichao_core::docs::{
    DocKind, Header, SCHEMA_VERSION, TypedDoc, WATCHLIST_DAYS, WatchEntry, WatchList,
    watchlist_document_id,
};
use zhichao_core::fixtures;
use zhichao_core::ids::{DocumentId, StorageId};
use zhichao_core::store::DocStore;

use super::*;
use std::future::Future as _;

const UNIT: &str = "914403001922038216";

/// The host's secret store, in memory.
#[derive(Default)]
struct MemorySecrets(Mutex<Option<String>>);

impl SecretStore for MemorySecrets {
    fn load(&self) -> Result<Option<String>, ApiError> {
        Ok(self.0.lock().unwrap().clone())
    }
    fn save(&self, secret: String) -> Result<(), ApiError> {
        *self.0.lock().unwrap() = Some(secret);
        Ok(())
    }
    fn clear(&self) -> Result<(), ApiError> {
        *self.0.lock().unwrap() = None;
        Ok(())
    }
}

fn secrets_for(principal: Principal, device: &str) -> Arc<MemorySecrets> {
    let credentials = Credentials {
        access_token: "zat_test".to_owned(),
        access_expires_at_ms: None,
        refresh_token: "zrt_test".to_owned(),
        refresh_expires_at_ms: None,
        device: StorageId::new(device).unwrap(),
        principal,
    };
    let secrets = MemorySecrets::default();
    secrets
        .save(serde_json::to_string(&credentials).unwrap())
        .unwrap();
    Arc::new(secrets)
}

fn enterprise() -> Principal {
    Principal::Enterprise {
        id: fixtures::pid("unit:914403001922038216"),
        unit: UNIT.parse().unwrap(),
    }
}

fn supervisor() -> Principal {
    Principal::Supervisor {
        id: fixtures::pid("supervisor:zhao"),
        scope: fixtures::county(),
    }
}

/// A device of `principal` with its store in a fresh directory; the server URL points
/// nowhere (port 1), so nothing here touches a network unless a test syncs.
struct Device {
    store: Arc<FieldStore>,
    _dir: tempfile::TempDir,
}

impl Device {
    fn new(principal: Principal, device: &str) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let store = FieldStore::open(
            dir.path().to_string_lossy().into_owned(),
            "http://127.0.0.1:1".to_owned(),
            secrets_for(principal, device),
        )
        .unwrap();
        Device { store, _dir: dir }
    }

    fn officer() -> Device {
        Device::new(fixtures::officer("officer:wang", "team-1"), "phone-wang")
    }

    /// Copies document `id` from `other` into this device, as a sync would deliver it.
    fn receive(&self, other: &Device, id: &str) {
        let id = DocumentId::parse(id).unwrap();
        let loaded = other.store.inner.docs.store().load(&id).unwrap().unwrap();
        self.store.inner.docs.save_synced(&id, &loaded.doc).unwrap();
    }
}

fn patrol() -> Vec<OfficerInfo> {
    vec![
        OfficerInfo {
            name: "王强".to_owned(),
            enforcement_id: "14052219001".to_owned(),
            agency: Agency::Transport,
        },
        OfficerInfo {
            name: "李明".to_owned(),
            enforcement_id: "140522".to_owned(),
            agency: Agency::TrafficPolice,
        },
    ]
}

fn six_axle_articulated() -> VehicleConfig {
    VehicleConfig {
        axles: 6,
        kind: Some(BodyKind::Articulated),
        drive_axles: Some(2),
        drive_tyres: None,
        suspension: None,
        single_tyre_axles: Some(0),
        wide_base_tyre_axles: None,
        registration_kg: None,
    }
}

fn roadside(plate: &str) -> RoadsideCheckInput {
    RoadsideCheckInput {
        plate: plate.to_owned(),
        configuration: six_axle_articulated(),
        place: "S329 K12+300".to_owned(),
        officers: patrol(),
        gps: Some(GeoFix {
            latitude: 35.4866,
            longitude: 112.415,
            accuracy_m: Some(8),
        }),
        plate_colour: Some("黄".to_owned()),
        source_unit: None,
        started_at_ms: None,
    }
}

fn measurement(gross_kg: u32) -> MeasurementInput {
    MeasurementInput {
        gross_kg,
        height_mm: None,
        width_mm: None,
        length_mm: None,
        rated_payload_kg: None,
        curb_kg: None,
        measured_at_ms: None,
        scale: Some("便携式称重仪 #3".to_owned()),
    }
}

fn is_validation(e: &ApiError, needle: &str) -> bool {
    matches!(e, ApiError::Validation { reason } if reason.contains(needle))
}

#[test]
fn normalizes_and_maps_errors() {
    let p = normalize_plate("晋e·１２３４５").unwrap();
    assert_eq!(p.plate, "晋E12345");
    assert_eq!(p.printed, "晋E·12345");
    let err = normalize_plate("晋EI2345").unwrap_err();
    assert!(err.to_string().contains("letter I"), "{err}");
}

#[test]
fn a_device_without_credentials_is_not_enrolled() {
    let dir = tempfile::tempdir().unwrap();
    let open = |secrets: Arc<MemorySecrets>| {
        FieldStore::open(
            dir.path().to_string_lossy().into_owned(),
            "http://127.0.0.1:1".to_owned(),
            secrets,
        )
    };
    assert!(matches!(
        open(Arc::new(MemorySecrets::default())),
        Err(ApiError::Unauthorized)
    ));
    // A damaged secret reads as not enrolled, and the secret is not quoted anywhere.
    let damaged = MemorySecrets::default();
    damaged
        .save("{\"access_token\": \"zat_secret".to_owned())
        .unwrap();
    assert!(matches!(
        open(Arc::new(damaged)),
        Err(ApiError::Unauthorized)
    ));
    // A weighbridge system's token cannot run the field app.
    let system = Principal::SourceUnitSystem {
        id: fixtures::pid("system:1"),
        unit: UNIT.parse().unwrap(),
    };
    assert!(matches!(
        open(secrets_for(system, "wb-1")),
        Err(ApiError::Unauthorized)
    ));
    // A malformed server URL.
    let e = FieldStore::open(
        dir.path().to_string_lossy().into_owned(),
        "ftp://x".to_owned(),
        secrets_for(fixtures::officer("officer:wang", "team-1"), "phone-wang"),
    )
    .err()
    .unwrap();
    assert!(matches!(e, ApiError::Validation { .. }), "{e:?}");
}

#[test]
fn a_roadside_check_is_recorded_classified_and_found() {
    let phone = Device::officer();
    let account = phone.store.account().unwrap();
    assert_eq!(account.role, Role::Officer);
    assert_eq!(account.team.as_deref(), Some("team-1"));

    let case = phone
        .store
        .create_roadside_check(roadside("晋e·12345"))
        .unwrap();
    assert_eq!(case.status, CaseStatus::Draft);
    assert_eq!(case.plate.as_deref(), Some("晋E12345"));
    assert_eq!(case.plate_printed.as_deref(), Some("晋E·12345"));
    assert!(
        case.case_number
            .starts_with(&format!("{}-", account.device_prefix)),
        "{} / {}",
        case.case_number,
        account.device_prefix
    );
    assert!(case.classification.is_none());

    // 52.3 t on a 49 t six-axle articulated vehicle (62号令 Art. 3, 43).
    let verdict = phone
        .store
        .record_measurement(case.id.clone(), measurement(52_300))
        .unwrap();
    assert!(verdict.over_limit);
    assert_eq!((verdict.limit_kg, verdict.excess_kg), (49_000, 3_300));
    assert_eq!(verdict.rate_bp, 673);
    assert_eq!(verdict.rate_text, "6.73%");
    assert_eq!(verdict.penalty_max_yuan, 2_000);
    assert!(!verdict.configuration_assumed);
    assert!(
        verdict.subjects.contains(&"货运源头单位".to_owned()),
        "{:?}",
        verdict.subjects
    );

    let stored = phone.store.case(case.id.clone()).unwrap();
    assert_eq!(stored.classification.as_ref(), Some(&verdict));
    assert_eq!(
        stored.measurement.as_ref().map(|m| m.gross_kg),
        Some(52_300)
    );

    // Text fields take the whole new text.
    phone
        .store
        .set_findings(case.id.clone(), "驾驶人称货物来自某煤矿".to_owned())
        .unwrap();
    let stored = phone
        .store
        .set_findings(
            case.id.clone(),
            "驾驶人称货物来自某煤矿，出具装载单".to_owned(),
        )
        .unwrap();
    assert_eq!(stored.findings, "驾驶人称货物来自某煤矿，出具装载单");

    // Found by plate (as typed), by status, by unit once set.
    let by_plate = phone.store.cases_by_plate("晋E·12345".to_owned()).unwrap();
    assert_eq!(by_plate.len(), 1);
    assert_eq!(by_plate[0].id, case.id);
    assert_eq!(
        phone
            .store
            .cases_by_status(CaseStatus::Draft)
            .unwrap()
            .len(),
        1
    );
    phone
        .store
        .set_source_unit(case.id.clone(), UNIT.to_owned())
        .unwrap();
    assert_eq!(phone.store.cases_by_unit(UNIT.to_owned()).unwrap().len(), 1);

    // Stages in order only.
    let registered = phone
        .store
        .record_stage(case.id.clone(), Stage::Registered, "立案".to_owned())
        .unwrap();
    assert_eq!(registered.status, CaseStatus::Registered);
    assert!(registered.decision_due_at_ms.is_some());
    let e = phone
        .store
        .record_stage(case.id.clone(), Stage::Decided, String::new())
        .unwrap_err();
    assert!(is_validation(&e, "cannot record"), "{e:?}");
    assert!(
        phone
            .store
            .cases_by_status(CaseStatus::Draft)
            .unwrap()
            .is_empty()
    );
    assert!(phone.store.pending_documents().unwrap() >= 1);

    // A refused case takes no number: the next one follows without a gap.
    let mut alone = roadside("晋E54321");
    alone.officers.truncate(1);
    assert!(phone.store.create_roadside_check(alone).is_err());
    let second = phone
        .store
        .create_roadside_check(roadside("晋E54321"))
        .unwrap();
    let sequence = |n: &str| n.rsplit('-').next().unwrap().parse::<u32>().unwrap();
    assert_eq!(
        sequence(&second.case_number),
        sequence(&case.case_number) + 1
    );
}

#[test]
fn bad_input_is_a_validation_error_and_changes_nothing() {
    let phone = Device::officer();
    let e = phone
        .store
        .create_roadside_check(roadside("晋EI2345"))
        .unwrap_err();
    assert!(is_validation(&e, "letter I"), "{e:?}");
    let mut one_officer = roadside("晋E12345");
    one_officer.officers.truncate(1);
    let e = phone.store.create_roadside_check(one_officer).unwrap_err();
    assert!(is_validation(&e, "two officers"), "{e:?}");
    let mut no_fix = roadside("晋E12345");
    no_fix.gps = Some(GeoFix {
        latitude: f64::NAN,
        longitude: 112.0,
        accuracy_m: None,
    });
    assert!(matches!(
        phone.store.create_roadside_check(no_fix),
        Err(ApiError::Validation { .. })
    ));
    let mut impossible = roadside("晋E12345");
    impossible.configuration = VehicleConfig {
        axles: 5,
        kind: Some(BodyKind::Truck),
        ..six_axle_articulated()
    };
    let e = phone.store.create_roadside_check(impossible).unwrap_err();
    assert!(is_validation(&e, "not in the Art. 3 table"), "{e:?}");
    assert!(
        phone
            .store
            .cases_by_status(CaseStatus::Draft)
            .unwrap()
            .is_empty()
    );

    let case = phone
        .store
        .create_roadside_check(roadside("晋E12345"))
        .unwrap();
    for gross in [0, 2_000_000] {
        let e = phone
            .store
            .record_measurement(case.id.clone(), measurement(gross))
            .unwrap_err();
        assert!(matches!(e, ApiError::Validation { .. }), "{e:?}");
    }
    assert!(
        phone
            .store
            .case(case.id.clone())
            .unwrap()
            .measurement
            .is_none()
    );
    assert!(matches!(
        phone.store.case("not-an-id".to_owned()),
        Err(ApiError::Validation { .. })
    ));
    let unknown = DocumentId::from_bytes([7; 16]).to_string();
    assert!(matches!(phone.store.case(unknown), Err(ApiError::NotFound)));
    assert!(matches!(
        phone.store.set_check_item(
            case.id,
            ChecklistItem::Video,
            CheckStatus::Faulty,
            String::new()
        ),
        Err(ApiError::Validation { .. })
    ));
}

#[test]
fn a_site_inspection_keeps_its_checklist() {
    let phone = Device::officer();
    let case = phone
        .store
        .create_site_inspection(SiteInspectionInput {
            source_unit: UNIT.to_owned(),
            place: "某煤业出场口".to_owned(),
            officers: patrol(),
            gps: None,
            started_at_ms: None,
        })
        .unwrap();
    assert_eq!(case.kind, CaseKind::SiteInspection);
    assert_eq!(case.checklist.len(), 4);
    assert!(
        case.checklist
            .iter()
            .all(|i| i.status == CheckStatus::NotChecked)
    );
    let case = phone
        .store
        .set_check_item(
            case.id,
            ChecklistItem::DisplayScreen,
            CheckStatus::Faulty,
            "屏幕不显示超限信息".to_owned(),
        )
        .unwrap();
    let screen = case
        .checklist
        .iter()
        .find(|i| i.item == ChecklistItem::DisplayScreen)
        .unwrap();
    assert_eq!(screen.status, CheckStatus::Faulty);
    assert_eq!(screen.note, "屏幕不显示超限信息");
    assert_eq!(case.source_unit.as_deref(), Some(UNIT));
}

#[test]
fn photos_are_checked_stored_queued_and_listed() {
    let phone = Device::officer();
    let case = phone
        .store
        .create_roadside_check(roadside("晋E12345"))
        .unwrap();
    let jpeg = fixtures::photo_jpeg(800, 600, 3);
    let added = block_on(phone.store.add_photo_bytes(
        case.id.clone(),
        jpeg.clone(),
        "车牌".to_owned(),
        None,
    ))
    .unwrap();
    assert!(!added.already_listed);
    assert_eq!(added.time_source, CaptureTimeSource::Device);
    assert_eq!(
        added.evidence.sha256,
        zhichao_core::ids::EvidenceId::of(&jpeg).to_string()
    );
    assert_eq!(
        (added.evidence.width, added.evidence.height),
        (Some(800), Some(600))
    );
    assert!(matches!(
        added.evidence.upload,
        UploadStatus::Queued { attempts: 0, .. }
    ));
    let thumb = added
        .evidence
        .thumbnail_path
        .clone()
        .expect("thumbnail on the phone");
    assert!(std::path::Path::new(&thumb).is_file());
    assert_eq!(
        phone.store.pending_photos().unwrap(),
        3,
        "original and two derivatives"
    );
    assert_eq!(
        phone.store.photo_bytes(added.evidence.sha256).unwrap(),
        jpeg
    );

    // The same photo again: listed once.
    let again = block_on(phone.store.add_photo_bytes(
        case.id.clone(),
        jpeg.clone(),
        "车牌".to_owned(),
        None,
    ))
    .unwrap();
    assert!(again.already_listed);
    assert_eq!(phone.store.evidence(case.id.clone()).unwrap().len(), 1);

    // From a file, and refused when cut short: nothing is listed or queued.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.jpg");
    std::fs::write(&path, &jpeg[..jpeg.len() / 2]).unwrap();
    let e = block_on(phone.store.add_photo_file(
        case.id.clone(),
        path.to_string_lossy().into_owned(),
        "磅单".to_owned(),
        None,
    ))
    .unwrap_err();
    assert!(is_validation(&e, "truncated"), "{e:?}");
    let e = block_on(phone.store.add_photo_file(
        case.id.clone(),
        dir.path().join("none.jpg").to_string_lossy().into_owned(),
        String::new(),
        None,
    ))
    .unwrap_err();
    assert!(matches!(e, ApiError::Validation { .. }), "{e:?}");
    assert_eq!(phone.store.evidence(case.id.clone()).unwrap().len(), 1);
    assert_eq!(phone.store.pending_photos().unwrap(), 3);
    assert_eq!(phone.store.case(case.id).unwrap().photo_count, 1);
}

#[test]
fn a_notice_is_answered_and_reviewed_across_devices() {
    let officer = Device::officer();
    let company = Device::new(enterprise(), "phone-company");
    let office = Device::new(supervisor(), "pc-office");

    let mut input = roadside("晋E12345");
    input.source_unit = Some(UNIT.to_owned());
    let case = officer.store.create_roadside_check(input).unwrap();
    block_on(officer.store.add_photo_bytes(
        case.id.clone(),
        fixtures::photo_jpeg(640, 480, 9),
        "超限车辆".to_owned(),
        None,
    ))
    .unwrap();
    let notice = officer
        .store
        .issue_notice(NoticeInput {
            case_id: case.id.clone(),
            unit_name: "某某煤业有限公司".to_owned(),
            facts: "放行超限车辆出场".to_owned(),
            legal_basis: "公路安全保护条例 第四十一条".to_owned(),
            officers: patrol(),
            review_body: "阳城县人民政府".to_owned(),
            appeal_body: "阳城县人民法院".to_owned(),
            deadline_date: Some("2026-12-31".to_owned()),
            source_unit: None,
            legal_representative: None,
            include_case_photos: true,
        })
        .unwrap();
    assert!(notice.open);
    assert_eq!(notice.unit, UNIT);
    assert_eq!(notice.photos.len(), 1, "derivatives of the case photo");
    assert_eq!(officer.store.open_notices().unwrap().len(), 1);

    // Only what each account may do.
    assert!(matches!(
        company.store.create_roadside_check(roadside("晋E12345")),
        Err(ApiError::Unauthorized)
    ));
    assert!(matches!(
        officer
            .store
            .review(case.id.clone(), ReviewDecision::Accept, String::new()),
        Err(ApiError::Unauthorized)
    ));
    assert!(matches!(
        officer.store.my_notices(),
        Err(ApiError::Unauthorized)
    ));

    // The enterprise receives the notice and answers with a photo.
    company.receive(&officer, &notice.id);
    let mine = company.store.my_notices().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].facts, "放行超限车辆出场");
    let response = company
        .store
        .respond(notice.id.clone(), "已整改".to_owned())
        .unwrap();
    block_on(company.store.add_photo_bytes(
        response.id.clone(),
        fixtures::photo_jpeg(320, 240, 10),
        "整改后的显示屏".to_owned(),
        None,
    ))
    .unwrap();
    let submitted = company.store.submit_response(response.id.clone()).unwrap();
    assert!(submitted.submitted_at_ms.is_some());
    assert_eq!(submitted.evidence.len(), 1);
    assert!(matches!(
        company.store.submit_response(response.id.clone()),
        Err(ApiError::Conflict)
    ));
    assert!(matches!(
        company
            .store
            .set_response_statement(response.id.clone(), "改".to_owned()),
        Err(ApiError::Conflict)
    ));

    // The supervisor returns it with a reason, then accepts: the notice is settled.
    office.receive(&officer, &notice.id);
    office.receive(&company, &response.id);
    let e = office
        .store
        .review(
            response.id.clone(),
            ReviewDecision::Return {
                reasons: vec!["  ".to_owned()],
            },
            String::new(),
        )
        .unwrap_err();
    assert!(is_validation(&e, "reason"), "{e:?}");
    let returned = office
        .store
        .review(
            response.id.clone(),
            ReviewDecision::Return {
                reasons: vec!["照片不清晰".to_owned()],
            },
            "请补拍".to_owned(),
        )
        .unwrap();
    assert_eq!(returned.reviewer, "supervisor:zhao");
    assert!(office.store.notice(notice.id.clone()).unwrap().open);
    office
        .store
        .review(response.id.clone(), ReviewDecision::Accept, String::new())
        .unwrap();
    assert!(!office.store.notice(notice.id.clone()).unwrap().open);
    assert_eq!(office.store.reviews(response.id).unwrap().len(), 2);
    let seen = office.store.responses(notice.id).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].reviews.len(), 2);
    // Reviewing something that is not on this device.
    assert!(matches!(
        office
            .store
            .review(case.id, ReviewDecision::Accept, String::new()),
        Err(ApiError::NotFound)
    ));
}

#[test]
fn log_events_reach_the_host_sink() {
    #[derive(Default)]
    struct Collect(Mutex<Vec<LogRecord>>);
    impl LogSink for Collect {
        fn log(&self, record: LogRecord) -> Result<(), ApiError> {
            // A sink that logs itself must not recurse.
            tracing::warn!("from inside the sink");
            self.0.lock().unwrap().push(record);
            Ok(())
        }
    }
    let sink = Arc::new(Collect::default());
    set_log_sink(sink.clone(), LogLevel::Info);
    tracing::info!(pushed = 3, "sync done");
    tracing::debug!("too detailed");
    clear_log_sink();
    tracing::info!("after clearing");
    let seen = sink.0.lock().unwrap();
    let mine: Vec<_> = seen
        .iter()
        .filter(|r| r.message != "field store opened")
        .collect();
    assert!(
        mine.iter().any(|r| r.message == "sync done"
            && r.fields == "pushed=3"
            && r.level == LogLevel::Info),
        "{mine:?}"
    );
    assert!(
        !mine
            .iter()
            .any(|r| r.message == "too detailed" || r.message == "after clearing")
    );
    assert!(!mine.iter().any(|r| r.message == "from inside the sink"));
}

#[test]
fn a_sync_without_a_server_is_a_network_error_value() {
    #[derive(Default)]
    struct Events(Mutex<Vec<SyncEvent>>);
    impl SyncObserver for Events {
        fn on_event(&self, event: SyncEvent) -> Result<(), ApiError> {
            self.0.lock().unwrap().push(event);
            Ok(())
        }
    }
    let phone = Device::officer();
    phone
        .store
        .create_roadside_check(roadside("晋E12345"))
        .unwrap();
    let events = Arc::new(Events::default());
    phone.store.set_sync_observer(Some(events.clone()));
    let e = block_on(phone.store.sync_now()).unwrap_err();
    assert!(matches!(e, ApiError::Network { .. }), "{e:?}");
    assert_eq!(phone.store.sync_state(), SyncState::Stopped);
    // Events reach the observer on its own thread, in order, shortly after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let seen = loop {
        let seen = events.0.lock().unwrap().clone();
        if seen.iter().any(|e| matches!(e, SyncEvent::Failed { .. }))
            || std::time::Instant::now() > deadline
        {
            break seen;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(seen.contains(&SyncEvent::Connecting), "{seen:?}");
    assert!(
        seen.iter().any(|e| matches!(
            e,
            SyncEvent::Failed {
                kind: sync::SyncFailureKind::Network,
                ..
            }
        )),
        "{seen:?}"
    );
    // The case is still waiting to be sent.
    assert_eq!(phone.store.pending_documents().unwrap(), 1);

    // Background sync: on, then off; state reported.
    phone.store.start_sync(60).unwrap();
    block_on(phone.store.stop_sync());
    assert_eq!(phone.store.sync_state(), SyncState::Stopped);

    // Photos come from the server too: a network error when there is none.
    let sha = zhichao_core::ids::EvidenceId::of(b"x").to_string();
    assert!(matches!(
        block_on(phone.store.fetch_photo(sha)),
        Err(ApiError::Network { .. })
    ));
    assert!(matches!(
        block_on(phone.store.fetch_photo("abc".to_owned())),
        Err(ApiError::Validation { .. })
    ));

    // Signed out: the secret is gone, the work stays, and syncing says so.
    block_on(phone.store.sign_out()).unwrap();
    assert!(phone.store.inner.host.is_signed_out());
    assert_eq!(phone.store.pending_documents().unwrap(), 1);
    assert!(matches!(
        block_on(phone.store.sync_now()),
        Err(ApiError::Unauthorized)
    ));
}

#[test]
fn a_store_directory_and_its_secret_belong_to_one_account() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_string_lossy().into_owned();
    let open = |secrets: Arc<MemorySecrets>| {
        FieldStore::open(path.clone(), "http://127.0.0.1:1".to_owned(), secrets)
    };
    let wang = secrets_for(fixtures::officer("officer:wang", "team-1"), "phone-wang");
    let store = open(wang.clone()).unwrap();
    store.create_roadside_check(roadside("晋E12345")).unwrap();

    // The secret store now holds another officer's credentials (the phone changed hands):
    // nothing is synced under that name, and the case stays pending for Wang.
    let li = secrets_for(fixtures::officer("officer:li", "team-1"), "phone-wang");
    *wang.0.lock().unwrap() = li.0.lock().unwrap().clone();
    assert!(matches!(
        block_on(store.sync_now()),
        Err(ApiError::Unauthorized)
    ));
    assert_eq!(store.pending_documents().unwrap(), 1);
    drop(store);

    // Wang's directory cannot be opened by another account or device.
    let enterprise_secrets = secrets_for(enterprise(), "phone-company");
    assert!(matches!(
        open(enterprise_secrets),
        Err(ApiError::Unauthorized)
    ));
    let other_device = secrets_for(fixtures::officer("officer:wang", "team-1"), "phone-new");
    assert!(matches!(open(other_device), Err(ApiError::Unauthorized)));
    // Wang himself can.
    let again = secrets_for(fixtures::officer("officer:wang", "team-1"), "phone-wang");
    assert_eq!(open(again).unwrap().pending_documents().unwrap(), 1);
}

#[test]
fn a_locked_secret_store_is_a_storage_error_not_enroll_again() {
    struct Locked;
    impl SecretStore for Locked {
        fn load(&self) -> Result<Option<String>, ApiError> {
            Err(ApiError::Storage {
                reason: "keystore locked".to_owned(),
            })
        }
        fn save(&self, _: String) -> Result<(), ApiError> {
            Ok(())
        }
        fn clear(&self) -> Result<(), ApiError> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let e = FieldStore::open(
        dir.path().to_string_lossy().into_owned(),
        "http://127.0.0.1:1".to_owned(),
        Arc::new(Locked),
    )
    .err()
    .unwrap();
    assert!(
        matches!(&e, ApiError::Storage { reason } if reason == "keystore locked"),
        "{e:?}"
    );
}

#[test]
fn signing_out_is_final_for_this_store() {
    let phone = Device::officer();
    block_on(phone.store.sign_out()).unwrap();
    assert!(matches!(phone.store.account(), Err(ApiError::Unauthorized)));
    // A rotated pair still in memory cannot be written back.
    let credentials = phone.store.inner.credentials.clone();
    assert!(
        zhichao_core::client::CredentialStore::save(phone.store.inner.host.as_ref(), &credentials)
            .is_err()
    );
}

#[test]
fn inputs_are_bounded() {
    let phone = Device::officer();
    let case = phone
        .store
        .create_roadside_check(roadside("晋E12345"))
        .unwrap();
    let e = phone
        .store
        .set_findings(case.id.clone(), "超".repeat(MAX_TEXT_CHARS + 1))
        .unwrap_err();
    assert!(is_validation(&e, "at most 4000"), "{e:?}");
    phone
        .store
        .set_findings(case.id, "超".repeat(MAX_TEXT_CHARS))
        .unwrap();
    let mut crowd = roadside("晋E12345");
    crowd.officers = (0..=MAX_OFFICERS)
        .map(|i| OfficerInfo {
            name: format!("官{i}"),
            enforcement_id: format!("1405{i:04}"),
            agency: Agency::Transport,
        })
        .collect();
    assert!(is_validation(
        &phone.store.create_roadside_check(crowd).unwrap_err(),
        "at most 20"
    ));
    // A huge id is refused before any parsing.
    let started = std::time::Instant::now();
    assert!(matches!(
        phone.store.case("x".repeat(1_000_000)),
        Err(ApiError::Validation { .. })
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // Extreme times do not overflow.
    let mut late = roadside("晋E12345");
    late.started_at_ms = Some(i64::MAX);
    assert!(phone.store.create_roadside_check(late).is_ok());
    let mut early = roadside("晋E12345");
    early.started_at_ms = Some(i64::MIN);
    assert!(phone.store.create_roadside_check(early).is_ok());
    // Secrets never appear in error messages: a URL with a password is not quoted.
    let dir = tempfile::tempdir().unwrap();
    let e = FieldStore::open(
        dir.path().to_string_lossy().into_owned(),
        "https://officer:s3cret@example.invalid".to_owned(),
        secrets_for(fixtures::officer("officer:wang", "team-1"), "phone-wang"),
    )
    .err()
    .unwrap();
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[test]
fn another_teams_officer_cannot_issue_a_notice_on_a_case() {
    let mine = Device::officer();
    let theirs = Device::new(fixtures::officer("officer:zhou", "team-9"), "phone-zhou");
    let mut input = roadside("晋E12345");
    input.source_unit = Some(UNIT.to_owned());
    let case = mine.store.create_roadside_check(input).unwrap();
    theirs.receive(&mine, &case.id);
    let e = theirs
        .store
        .issue_notice(NoticeInput {
            case_id: case.id,
            unit_name: "某某煤业".to_owned(),
            facts: "放行超限车辆".to_owned(),
            legal_basis: "公路安全保护条例 第四十一条".to_owned(),
            officers: patrol(),
            review_body: "阳城县人民政府".to_owned(),
            appeal_body: "阳城县人民法院".to_owned(),
            deadline_date: None,
            source_unit: None,
            legal_representative: None,
            include_case_photos: true,
        })
        .unwrap_err();
    assert!(matches!(e, ApiError::Unauthorized), "{e:?}");
}

#[test]
fn a_cancelled_sync_now_resumes_the_background_sync_and_observers_may_call_back() {
    use std::sync::Weak;
    use std::sync::mpsc;

    let phone = Device::officer();
    phone.store.start_sync(60).unwrap();
    // The app's coroutine is cancelled right after starting a one-shot sync.
    {
        let mut sync = std::pin::pin!(phone.store.sync_now());
        let waker = std::task::Waker::noop();
        let _ = sync
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
    }
    assert!(
        phone.store.sync.is_running(),
        "the background sync runs again"
    );

    // An observer that stops the sync from inside a failure event does not deadlock.
    struct StopOnFailure {
        store: Mutex<Weak<FieldStore>>,
        done: Mutex<mpsc::Sender<()>>,
    }
    impl SyncObserver for StopOnFailure {
        fn on_event(&self, event: SyncEvent) -> Result<(), ApiError> {
            if matches!(event, SyncEvent::Failed { .. })
                && let Some(store) = self.store.lock().unwrap().upgrade()
            {
                block_on(store.stop_sync());
                let _ = self.done.lock().unwrap().send(());
            }
            Ok(())
        }
    }
    let (tx, rx) = mpsc::channel();
    phone.store.set_sync_observer(Some(Arc::new(StopOnFailure {
        store: Mutex::new(Arc::downgrade(&phone.store)),
        done: Mutex::new(tx),
    })));
    phone.store.start_sync(5).unwrap();
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .expect("stopped from inside the observer");
    assert_eq!(phone.store.sync_state(), SyncState::Stopped);
}

#[test]
fn second_breaker_round_ownership_refresh_and_locked_keystore() {
    // A directory that holds data but lost its owner record is nobody's to take.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_string_lossy().into_owned();
    let wang = || secrets_for(fixtures::officer("officer:wang", "team-1"), "phone-wang");
    let store = FieldStore::open(path.clone(), "http://127.0.0.1:1".to_owned(), wang()).unwrap();
    store.create_roadside_check(roadside("晋E12345")).unwrap();
    drop(store);
    std::fs::remove_file(dir.path().join("owner.json")).unwrap();
    let company = secrets_for(enterprise(), "phone-company");
    assert!(matches!(
        FieldStore::open(path, "http://127.0.0.1:1".to_owned(), company),
        Err(ApiError::Unauthorized)
    ));

    // A refreshed pair is never saved over another account's credentials.
    let phone = Device::officer();
    let other = secrets_for(fixtures::officer("officer:li", "team-1"), "phone-li");
    let li_secret = other.0.lock().unwrap().clone();
    let host = crate::account::HostCredentials::new(other.clone());
    host.bind(&phone.store.inner.credentials);
    assert!(
        zhichao_core::client::CredentialStore::save(&host, &phone.store.inner.credentials).is_err()
    );
    assert_eq!(*other.0.lock().unwrap(), li_secret, "Li's credentials kept");

    // A Keystore that locks after the store opened: syncing reports Storage, not "enroll".
    struct LocksLater {
        inner: Arc<MemorySecrets>,
        calls: Mutex<u32>,
    }
    impl SecretStore for LocksLater {
        fn load(&self) -> Result<Option<String>, ApiError> {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            if *calls > 1 {
                return Err(ApiError::Storage {
                    reason: "keystore locked".to_owned(),
                });
            }
            self.inner.load()
        }
        fn save(&self, secret: String) -> Result<(), ApiError> {
            self.inner.save(secret)
        }
        fn clear(&self) -> Result<(), ApiError> {
            self.inner.clear()
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = FieldStore::open(
        dir.path().to_string_lossy().into_owned(),
        "http://127.0.0.1:1".to_owned(),
        Arc::new(LocksLater {
            inner: wang(),
            calls: Mutex::new(0),
        }),
    )
    .unwrap();
    let e = block_on(store.sync_now()).unwrap_err();
    assert!(
        matches!(&e, ApiError::Storage { reason } if reason == "keystore locked"),
        "{e:?}"
    );
}

/// A departure on a watch list, as the server's weighing ingest writes it.
fn departure(record: &str, plate: &str, weighed_at_ms: i64, year_count: u32) -> WatchEntry {
    WatchEntry {
        plate: plate.to_owned(),
        unit: "91140522MA0000000K".to_owned(),
        unit_name: "某煤矿".to_owned(),
        record_id: record.to_owned(),
        weighed_at_ms,
        exit_at_ms: None,
        gross_kg: 52_300,
        limit_kg: 49_000,
        excess_kg: 3_300,
        configuration_assumed: true,
        year_count,
    }
}

/// The county's watch list of `day` built as the server builds it (a server document, only
/// the server may write it), and put into `store` the way synced documents arrive.
#[expect(clippy::result_large_err, reason = "the signature is core's")]
fn deliver_watchlist(store: &FieldStore, day: LocalDay, entries: &[WatchEntry]) -> DocumentId {
    let server = Principal::Server {
        id: fixtures::pid("server"),
        scope: fixtures::county(),
    };
    let header = Header {
        kind: DocKind::WatchList,
        schema: SCHEMA_VERSION,
        scope: fixtures::county(),
        team: None,
        unit: None,
        parent: None,
        created_by: server.id().clone(),
        created_at_ms: day.start_ms(),
    };
    assert!(zhichao_core::access::can_write(&server, &header, &[]));
    let id = watchlist_document_id(&fixtures::county(), day);
    let mut doc = TypedDoc::create(
        id,
        automerge::ActorId::random(),
        &header,
        &WatchList {
            day: day.to_string(),
            entries: Default::default(),
        },
    )
    .unwrap();
    // Entries arrive one by one as the weighbridge uploads.
    for entry in entries {
        doc.update(server.id(), entry.weighed_at_ms, |list: &mut WatchList| {
            list.entries.insert(entry.key(), entry.clone());
            Ok(())
        })
        .unwrap();
    }
    store.inner.docs.save_synced(&id, doc.automerge()).unwrap();
    id
}

#[test]
fn a_plate_is_looked_up_on_the_watch_lists_and_old_lists_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_string_lossy().into_owned();
    let secrets = secrets_for(fixtures::officer("officer:wang", "team-1"), "phone-wang");
    let open = || {
        FieldStore::open(
            path.clone(),
            "http://127.0.0.1:1".to_owned(),
            secrets.clone(),
        )
    };
    let store = open().unwrap();
    let today = LocalDay::of_ms(store::now_ms()).unwrap();
    let days = today.recent(WATCHLIST_DAYS + 1);
    let (yesterday, too_old) = (days[1], days[WATCHLIST_DAYS]);
    let this_morning = today.start_ms() + 6 * 3_600_000;
    deliver_watchlist(
        &store,
        today,
        &[
            departure("r9", "晋E12345", this_morning, 4),
            departure("r8", "晋E54321", this_morning, 1),
        ],
    );
    let recent = deliver_watchlist(
        &store,
        yesterday,
        &[departure("r5", "晋E12345", yesterday.start_ms(), 3)],
    );
    let old = deliver_watchlist(
        &store,
        too_old,
        &[departure("r1", "晋E12345", too_old.start_ms(), 2)],
    );

    // Typed at the roadside, with the dot and in lower case: today's and yesterday's, newest
    // first, with the count this year (4: past Art. 66's three) on both — unless today is
    // New Year's Day, when yesterday's counts for last year.
    let hits = store.watchlist_lookup("晋e·12345".to_owned()).unwrap();
    let seen: Vec<(&str, String, u32, bool)> = hits
        .iter()
        .map(|h| {
            let count = (h.year_count, h.revocation_threshold_crossed);
            (h.record_id.as_str(), h.day.clone(), count.0, count.1)
        })
        .collect();
    let yesterday_count = if today.year() == yesterday.year() {
        4
    } else {
        3
    };
    assert_eq!(
        seen,
        [
            ("r9", today.to_string(), 4, true),
            (
                "r5",
                yesterday.to_string(),
                yesterday_count,
                yesterday_count > 3
            ),
        ]
    );
    let newest = &hits[0];
    assert_eq!(newest.plate, "晋E12345");
    assert_eq!(newest.plate_printed, "晋E·12345");
    assert_eq!(newest.unit, "91140522MA0000000K");
    assert_eq!(newest.unit_name, "某煤矿");
    assert_eq!(newest.weighed_at_ms, this_morning);
    assert_eq!(
        (newest.gross_kg, newest.limit_kg, newest.excess_kg),
        (52_300, 49_000, 3_300)
    );
    assert!(newest.configuration_assumed);
    assert!(newest.revocation_threshold_crossed);

    let other = store.watchlist_lookup("晋E54321".to_owned()).unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(
        (other[0].year_count, other[0].revocation_threshold_crossed),
        (1, false)
    );
    // A plate on no list; a plate that is not one.
    assert!(
        store
            .watchlist_lookup("晋E99999".to_owned())
            .unwrap()
            .is_empty()
    );
    let err = store.watchlist_lookup("晋EI2345".to_owned()).unwrap_err();
    assert!(is_validation(&err, "letter I"), "{err}");
    assert!(matches!(
        store.watchlist_lookup("x".repeat(MAX_ID_CHARS + 1)),
        Err(ApiError::Validation { .. })
    ));

    // The list of a day the phone no longer keeps is dropped when the store opens (and after
    // every sync); the recent ones stay.
    let docs = |store: &FieldStore| store.inner.docs.store().ids().unwrap();
    assert!(docs(&store).contains(&old));
    drop(store);
    let store = open().unwrap();
    assert!(!docs(&store).contains(&old));
    assert!(docs(&store).contains(&recent));
    assert_eq!(
        store.watchlist_lookup("晋E12345".to_owned()).unwrap().len(),
        2
    );

    // Enterprises do not read the watch lists.
    let company = Device::new(enterprise(), "phone-company");
    assert!(matches!(
        company.store.watchlist_lookup("晋E12345".to_owned()),
        Err(ApiError::Unauthorized)
    ));
}
