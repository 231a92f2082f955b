//! Tests of the documents: rules of each kind, merges of concurrent edits, the derived status,
//! the immutable header and the schema migration.

use automerge::{ActorId, Automerge, ReadDoc};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::ids::{CaseNumber, DevicePrefix, DocumentId, EnforcementId, PrincipalId, TeamId};
use crate::jurisdiction::YANGCHENG_COUNTY;
use crate::rules::{BodyType, Measurement, RulesConfig, VehicleConfiguration};
use crate::scope::Scope;

const T0: i64 = 1_780_000_000_000;

fn officer(name: &str, id: &str, agency: Agency) -> Officer {
    Officer {
        name: name.to_owned(),
        enforcement_id: EnforcementId::new(id).unwrap(),
        agency,
    }
}

fn principal(s: &str) -> PrincipalId {
    PrincipalId::new(s).unwrap()
}

fn case_header() -> Header {
    Header {
        kind: DocKind::Case,
        schema: SCHEMA_VERSION,
        scope: Scope::county(YANGCHENG_COUNTY).unwrap(),
        team: Some(TeamId::new("yc-joint-1").unwrap()),
        unit: None,
        parent: None,
        created_by: principal("officer:wang"),
        created_at_ms: T0,
    }
}

fn new_case() -> Case {
    let onsite = OnSiteRecord {
        place: "S329 阳城段 K12".into(),
        gps: Some(GeoPoint {
            lat_e7: 354_866_000,
            lon_e7: 1_124_150_000,
            accuracy_m: Some(8),
        }),
        started_at_ms: T0,
        ended_at_ms: None,
        officers: vec![
            officer("王强", "14052219001", Agency::Transport),
            officer("李明", "140522", Agency::TrafficPolice),
        ],
        person_on_site: None,
    };
    Case::new(
        CaseNumber::new(DevicePrefix::new("K7Q2").unwrap(), 2026, 1).unwrap(),
        CaseKind::RoadsideCheck,
        &RulesConfig::default(),
        onsite,
    )
}

fn doc_id(seed: u64) -> DocumentId {
    DocumentId::generate(&mut StdRng::seed_from_u64(seed))
}

fn create_case() -> TypedDoc<Case> {
    TypedDoc::create(
        doc_id(1),
        ActorId::from(&[1u8; 16][..]),
        &case_header(),
        &new_case(),
    )
    .unwrap()
}

/// A second replica of `doc`, as another phone that synced it, with its own actor.
fn fork<T: DocBody>(doc: &TypedDoc<T>, actor: u8) -> TypedDoc<T> {
    let bytes = doc.automerge().save();
    let am = Automerge::load(&bytes)
        .unwrap()
        .with_actor(ActorId::from(&[actor; 16][..]));
    TypedDoc::open(doc.id(), am).unwrap()
}

fn merge<T: DocBody>(a: &mut TypedDoc<T>, b: &TypedDoc<T>) {
    a.merge(&mut b.automerge().clone()).unwrap();
}

#[test]
fn create_read_and_edit_a_case() {
    let mut doc = create_case();
    assert_eq!(doc.header().unwrap(), case_header());
    let case = doc.body().unwrap();
    assert_eq!(case.subjects.len(), 4);
    assert_eq!(case_status(&case, &[]), CaseStatus::Draft);
    let wang = principal("officer:wang");
    let changed = doc
        .update(&wang, T0 + 1_000, |c| {
            c.findings = "车货总质量 52 300 kg".into();
            c.record_stage(Stage::Registered, T0 + 1_000, wang.clone(), "")
        })
        .unwrap();
    assert!(changed);
    let case = doc.body().unwrap();
    assert_eq!(case.findings.as_str(), "车货总质量 52 300 kg");
    assert_eq!(case_status(&case, &[]), CaseStatus::Registered);
    assert_eq!(
        decision_due_ms(&case),
        Some(T0 + 1_000 + 90 * 24 * 3600 * 1000)
    );
    // An edit that changes nothing writes nothing.
    assert!(!doc.update(&wang, T0 + 2_000, |_| Ok(())).unwrap());
    // The change records the principal and the device time.
    let change = doc.automerge().get_changes(&[]).last().cloned().unwrap();
    assert_eq!(change.message(), Some("officer:wang"));
    assert_eq!(change.timestamp(), T0 + 1_000);
}

#[test]
fn rules_of_a_case_are_enforced_and_nothing_is_half_written() {
    let mut doc = create_case();
    let heads = doc.automerge().get_heads();
    let wang = principal("officer:wang");
    let err = doc
        .update(&wang, T0, |c| {
            c.onsite.officers.pop();
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("two officers"), "{err}");
    let err = doc
        .update(&wang, T0, |c| {
            c.record_stage(Stage::Decided, T0, wang.clone(), "")
        })
        .unwrap_err();
    assert!(err.to_string().contains("cannot record"), "{err}");
    doc.update(&wang, T0, |c| {
        c.record_stage(Stage::Registered, T0, wang.clone(), "")
    })
    .unwrap();
    let after_register = doc.automerge().get_heads();
    let err = doc
        .update(&wang, T0, |c| {
            c.events.clear();
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_ne!(heads, after_register);
    assert_eq!(doc.automerge().get_heads(), after_register);
    // Two officers with the same enforcement ID are one officer.
    let mut body = new_case();
    body.onsite.officers[1].enforcement_id = body.onsite.officers[0].enforcement_id.clone();
    assert!(TypedDoc::create(doc_id(2), ActorId::random(), &case_header(), &body).is_err());
}

#[test]
fn headers_must_fit_their_kind() {
    let mut h = case_header();
    h.team = None;
    let err = TypedDoc::create(doc_id(3), ActorId::random(), &h, &new_case()).unwrap_err();
    assert!(err.to_string().contains("needs a team"), "{err}");
    let mut h = case_header();
    h.kind = DocKind::Notice;
    assert!(matches!(
        TypedDoc::create(doc_id(3), ActorId::random(), &h, &new_case()),
        Err(DocError::WrongKind { .. })
    ));
    // A case with no source unit belongs to the county, not to a township.
    let mut h = case_header();
    h.scope = Scope::township(YANGCHENG_COUNTY, "140522100".parse().unwrap()).unwrap();
    let err = TypedDoc::create(doc_id(3), ActorId::random(), &h, &new_case()).unwrap_err();
    assert!(err.to_string().contains("scoped to the county"), "{err}");
    let mut with_unit = new_case();
    with_unit.source_unit = Some("914403001922038216".parse().unwrap());
    TypedDoc::create(doc_id(3), ActorId::random(), &h, &with_unit).unwrap();
    // Opening as another kind is refused.
    let doc = create_case();
    let err = TypedDoc::<Review>::open(doc.id(), doc.automerge().clone()).unwrap_err();
    assert!(matches!(err, DocError::WrongKind { .. }), "{err}");
    // A document that is not one of ours.
    assert!(matches!(
        TypedDoc::<Case>::open(doc_id(4), Automerge::new()),
        Err(DocError::MissingHeader)
    ));
}

#[test]
fn a_header_written_after_creation_is_refused() {
    use automerge::transaction::Transactable;
    let doc = create_case();
    let mut am = doc.automerge().clone();
    let header_obj = match am.get(automerge::ROOT, "header").unwrap() {
        Some((_, id)) => id,
        None => unreachable!(),
    };
    // Even the creator's own later write is refused.
    am.transact(|tx| tx.put(&header_obj, "created_by", "officer:zhang"))
        .unwrap();
    assert!(matches!(
        TypedDoc::<Case>::open(doc.id(), am),
        Err(DocError::HeaderConflict)
    ));
}

#[test]
fn a_replaced_header_is_refused_on_merge_and_open() {
    use autosurgeon::reconcile_prop;
    let mut a = create_case();
    let b = fork(&a, 2);
    // A later change on another replica puts a whole new header (and body) in place.
    let mut forged = b.automerge().clone();
    let mut evil = case_header();
    evil.team = Some(TeamId::new("attacker-team").unwrap());
    forged
        .transact(|tx| -> Result<(), DocError> {
            use automerge::transaction::Transactable;
            let h = tx.put_object(automerge::ROOT, "header", automerge::ObjType::Map)?;
            reconcile_prop(tx, &h, "kind", DocKind::Case)?;
            let _ = h;
            reconcile_prop(tx, automerge::ROOT, "header", &evil)?;
            reconcile_prop(tx, automerge::ROOT, "body", new_case())?;
            Ok(())
        })
        .unwrap();
    let before = a.automerge().get_heads();
    assert!(matches!(
        a.merge(&mut forged.clone()),
        Err(DocError::HeaderConflict)
    ));
    assert_eq!(a.automerge().get_heads(), before);
    assert_eq!(a.header().unwrap(), case_header());
    assert!(matches!(
        TypedDoc::<Case>::open(a.id(), forged),
        Err(DocError::HeaderConflict)
    ));
}

#[test]
fn concurrent_edits_of_two_officers_never_mix_names_and_numbers() {
    let mut a = create_case();
    let mut b = fork(&a, 2);
    let wang = principal("officer:wang");
    // a removes the first officer and adds a replacement; b corrects the first officer's name.
    a.update(&wang, T0, |c| {
        c.onsite.officers.remove(0);
        c.onsite
            .officers
            .push(officer("赵刚", "14052219003", Agency::Transport));
        Ok(())
    })
    .unwrap();
    b.update(&principal("officer:li"), T0, |c| {
        c.onsite.officers[0].name = "王强强".to_owned();
        Ok(())
    })
    .unwrap();
    merge(&mut a, &b);
    merge(&mut b, &a);
    let officers = a.body().unwrap().onsite.officers;
    assert_eq!(officers, b.body().unwrap().onsite.officers);
    for o in &officers {
        let expected = match o.enforcement_id.as_str() {
            "14052219001" => "王强强",
            "140522" => "李明",
            "14052219003" => "赵刚",
            other => panic!("unexpected officer {other}"),
        };
        assert_eq!(o.name, expected, "{officers:?}");
    }
}

#[test]
fn a_merge_that_leaves_one_officer_keeps_the_case_editable() {
    let mut a = create_case();
    a.update(&principal("officer:wang"), T0, |c| {
        c.onsite
            .officers
            .push(officer("赵刚", "14052219003", Agency::Transport));
        Ok(())
    })
    .unwrap();
    let mut b = fork(&a, 2);
    a.update(&principal("officer:wang"), T0, |c| {
        c.onsite.officers.retain(|o| o.name != "王强");
        Ok(())
    })
    .unwrap();
    b.update(&principal("officer:li"), T0, |c| {
        c.onsite.officers.retain(|o| o.name != "赵刚");
        Ok(())
    })
    .unwrap();
    merge(&mut a, &b);
    assert_eq!(a.body().unwrap().onsite.officers.len(), 1);
    // Findings can still be written, and adding an officer back is allowed.
    a.update(&principal("officer:li"), T0, |c| {
        c.findings = "补录".into();
        Ok(())
    })
    .unwrap();
    a.update(&principal("officer:li"), T0, |c| {
        c.onsite
            .officers
            .push(officer("赵刚", "14052219003", Agency::Transport));
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_concurrently_changed_header_is_refused_on_merge() {
    use automerge::transaction::Transactable;
    let mut a = create_case();
    let mut b = fork(&a, 2);
    // Someone writes the header behind the API's back on replica b.
    let header_obj = match b.automerge().get(automerge::ROOT, "header").unwrap() {
        Some((_, id)) => id,
        None => unreachable!(),
    };
    b.automerge_mut()
        .transact(|tx| tx.put(&header_obj, "team", "other-team"))
        .unwrap();
    a.update(&principal("officer:wang"), T0, |c| {
        c.findings = "x".into();
        Ok(())
    })
    .unwrap();
    let before = a.automerge().get_heads();
    let err = a.merge(&mut b.automerge().clone()).unwrap_err();
    assert!(matches!(err, DocError::HeaderConflict), "{err}");
    assert_eq!(
        a.automerge().get_heads(),
        before,
        "the merged state is not kept"
    );
}

#[test]
fn cjk_and_emoji_survive_concurrent_text_edits() {
    let original = "晋E·12345 超限 🚛👨‍👩‍👧🇨🇳";
    let mut a = create_case();
    let wang = principal("officer:wang");
    a.update(&wang, T0, |c| {
        c.findings = original.into();
        Ok(())
    })
    .unwrap();
    let mut b = fork(&a, 2);
    let li = principal("officer:li");
    // a edits the start and the middle; b edits after the emoji family and at the end.
    a.update(&wang, T0 + 1, |c| {
        c.findings = "现场：晋E·12345 严重超限 🚛👨‍👩‍👧🇨🇳".into();
        Ok(())
    })
    .unwrap();
    b.update(&li, T0 + 2, |c| {
        c.findings = "晋E·12345 超限 🚛👨‍👩‍👧（一家三口）🇨🇳 已拍照".into();
        Ok(())
    })
    .unwrap();
    merge(&mut a, &b);
    merge(&mut b, &a);
    let expected = "现场：晋E·12345 严重超限 🚛👨‍👩‍👧（一家三口）🇨🇳 已拍照";
    assert_eq!(a.body().unwrap().findings.as_str(), expected);
    assert_eq!(b.body().unwrap().findings.as_str(), expected);
    assert_eq!(a.automerge().get_heads(), b.automerge().get_heads());
}

#[test]
fn concurrent_mass_and_configuration_edits_classify_from_the_merge() {
    let rules = RulesConfig::default();
    let mut a = create_case();
    let wang = principal("officer:wang");
    a.update(&wang, T0, |c| {
        let mut config = VehicleConfiguration::new(BodyType::Articulated, 6);
        config.drive_axles = Some(2);
        config.single_tyre_axles = Some(0);
        c.vehicle = Some(Vehicle {
            plate: "晋E12345".parse().unwrap(),
            plate_as_typed: "晋e·12345".to_owned(),
            colour: None,
            configuration: config,
        });
        c.measurement = Some(MeasurementRecord {
            measurement: Measurement {
                gross_kg: 48_000,
                ..Default::default()
            },
            measured_at_ms: T0,
            scale: None,
        });
        Ok(())
    })
    .unwrap();
    assert!(
        !a.body()
            .unwrap()
            .classify(&rules)
            .unwrap()
            .unwrap()
            .over_limit
    );
    let mut b = fork(&a, 2);
    // a corrects the mass; b corrects the configuration (one drive axle → 46 t).
    a.update(&wang, T0 + 1, |c| {
        if let Some(m) = &mut c.measurement {
            m.measurement.gross_kg = 47_000;
        }
        Ok(())
    })
    .unwrap();
    b.update(&principal("officer:li"), T0 + 2, |c| {
        if let Some(v) = &mut c.vehicle {
            v.configuration.drive_axles = Some(1);
        }
        Ok(())
    })
    .unwrap();
    assert!(
        !a.body()
            .unwrap()
            .classify(&rules)
            .unwrap()
            .unwrap()
            .over_limit
    );
    assert!(
        b.body()
            .unwrap()
            .classify(&rules)
            .unwrap()
            .unwrap()
            .over_limit
    );
    merge(&mut a, &b);
    let verdict = a.body().unwrap().classify(&rules).unwrap().unwrap();
    assert_eq!((verdict.limit_kg, verdict.excess_kg), (46_000, 1_000));
    // Classifying under another rules version is refused.
    let other = RulesConfig {
        id: "county-2027".to_owned(),
        ..RulesConfig::default()
    };
    assert!(a.body().unwrap().classify(&other).is_err());
}

#[test]
fn closing_needs_an_accepting_review() {
    let mut doc = create_case();
    let wang = principal("officer:wang");
    doc.update(&wang, T0, |c| {
        for stage in Stage::ALL {
            c.record_stage(stage, T0, wang.clone(), "")?;
        }
        Ok(())
    })
    .unwrap();
    let case = doc.body().unwrap();
    let review = |decision| Review {
        decision,
        comments: TextField::default(),
        reviewed_at_ms: T0,
    };
    assert_eq!(case_status(&case, &[]), CaseStatus::ClosePending);
    let returned = review(ReviewDecision::Return {
        reasons: vec!["照片不清".to_owned()],
    });
    assert_eq!(
        case_status(&case, std::slice::from_ref(&returned)),
        CaseStatus::ClosePending
    );
    assert_eq!(
        case_status(&case, &[returned, review(ReviewDecision::Accept)]),
        CaseStatus::Closed
    );
}

fn review_header(parent: DocumentId) -> Header {
    Header {
        kind: DocKind::Review,
        schema: SCHEMA_VERSION,
        scope: Scope::county(YANGCHENG_COUNTY).unwrap(),
        team: None,
        unit: None,
        parent: Some(parent),
        created_by: principal("supervisor:zhao"),
        created_at_ms: T0,
    }
}

#[test]
fn reviews_notices_responses_and_units_check_their_rules() {
    let review = Review {
        decision: ReviewDecision::Return { reasons: vec![] },
        comments: TextField::default(),
        reviewed_at_ms: T0,
    };
    let err = TypedDoc::create(
        doc_id(5),
        ActorId::random(),
        &review_header(doc_id(1)),
        &review,
    )
    .unwrap_err();
    assert!(err.to_string().contains("at least one reason"), "{err}");
    let mut accept = TypedDoc::create(
        doc_id(5),
        ActorId::random(),
        &review_header(doc_id(1)),
        &Review {
            decision: ReviewDecision::Accept,
            comments: "证据充分".into(),
            reviewed_at_ms: T0,
        },
    )
    .unwrap();
    let err = accept
        .update(&principal("supervisor:zhao"), T0, |r| {
            r.decision = ReviewDecision::Return {
                reasons: vec!["x".to_owned()],
            };
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("final"), "{err}");

    let uscc: crate::uscc::Uscc = "914403001922038216".parse().unwrap();
    let notice_header = Header {
        kind: DocKind::Notice,
        unit: Some(uscc.clone()),
        ..case_header()
    };
    let notice = Notice {
        case: doc_id(1),
        unit_name: "某某煤业有限公司".to_owned(),
        legal_representative: None,
        facts: "放行超限车辆".into(),
        legal_basis: "公路安全保护条例 第四十一条".into(),
        deadline: Deadline::By {
            date: "2026-13-01".to_owned(),
        },
        issued_by: new_case().onsite.officers,
        issued_at_ms: T0,
        review_body: "阳城县人民政府".to_owned(),
        appeal_body: "阳城县人民法院".to_owned(),
        photos: Vec::new(),
    };
    let err = TypedDoc::create(doc_id(6), ActorId::random(), &notice_header, &notice).unwrap_err();
    assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
    let ok = Notice {
        deadline: Deadline::By {
            date: "2026-12-31".to_owned(),
        },
        ..notice
    };
    let n = TypedDoc::create(doc_id(6), ActorId::random(), &notice_header, &ok).unwrap();
    assert_eq!(n.body().unwrap().deadline, ok.deadline);

    let response_header = Header {
        kind: DocKind::Response,
        team: None,
        unit: Some(uscc.clone()),
        parent: Some(doc_id(6)),
        created_by: principal("unit:914403001922038216"),
        ..case_header()
    };
    let mut response = TypedDoc::create(
        doc_id(7),
        ActorId::random(),
        &response_header,
        &Response::default(),
    )
    .unwrap();
    let unit_principal = principal("unit:914403001922038216");
    response
        .update(&unit_principal, T0, |r| {
            r.statement = "已整改，加装道闸".into();
            r.submitted_at_ms = Some(T0);
            Ok(())
        })
        .unwrap();
    assert!(
        response
            .update(&unit_principal, T0, |r| {
                r.submitted_at_ms = None;
                Ok(())
            })
            .is_err()
    );

    let unit_header = Header {
        kind: DocKind::Unit,
        team: None,
        unit: Some(uscc),
        ..case_header()
    };
    let profile = UnitProfile {
        name: "某某煤业有限公司".to_owned(),
        kind: crate::jurisdiction::SourceUnitKind::CoalMine,
        township: "140522100".parse().unwrap(),
        supervising_department: Some("emergency_management".to_owned()),
        address: "阳城县".to_owned(),
        location: None,
        listed: true,
    };
    TypedDoc::create(doc_id(8), ActorId::random(), &unit_header, &profile).unwrap();
    let bad = UnitProfile {
        township: "140522".parse().unwrap(),
        ..profile
    };
    assert!(TypedDoc::create(doc_id(8), ActorId::random(), &unit_header, &bad).is_err());
}

/// The frozen version-1 case: made by the version-1 writer below, committed as bytes.
fn photo_ref(seed: &str, with_derivatives: bool) -> EvidenceRef {
    let derivative = |suffix: &str, side: u32| DerivativeRef {
        sha256: crate::ids::EvidenceId::of(format!("{seed}{suffix}").as_bytes()),
        byte_len: 1000,
        width: side,
        height: side * 3 / 4,
    };
    EvidenceRef {
        sha256: crate::ids::EvidenceId::of(seed.as_bytes()),
        caption: "车牌".to_owned(),
        captured_at_ms: Some(T0),
        gps: None,
        taken_by: principal("officer:wang"),
        format: Some("jpeg".to_owned()),
        byte_len: Some(4000),
        width: Some(4000),
        height: Some(3000),
        derivatives: with_derivatives.then(|| PhotoDerivatives {
            evidence_copy: derivative("-evidence", 2048),
            thumbnail: derivative("-thumb", 320),
        }),
    }
}

#[test]
fn documents_say_which_photo_blobs_they_need_and_in_what_role() {
    let mut case = create_case();
    assert_eq!(
        referenced_blobs(DocKind::Case, case.automerge()).unwrap(),
        []
    );
    let with = photo_ref("plate", true);
    let heic = photo_ref("heic", false);
    case.update(&principal("officer:wang"), T0, |c| {
        c.evidence.extend([with.clone(), heic.clone()]);
        Ok(())
    })
    .unwrap();
    let uses = referenced_blobs(DocKind::Case, case.automerge()).unwrap();
    let d = with.derivatives.unwrap();
    let mut expected = vec![
        BlobUse {
            sha256: with.sha256,
            role: BlobRole::Original,
            byte_len: Some(4000),
        },
        BlobUse {
            sha256: heic.sha256,
            role: BlobRole::Original,
            byte_len: Some(4000),
        },
        BlobUse {
            sha256: d.evidence_copy.sha256,
            role: BlobRole::EvidenceCopy,
            byte_len: Some(1000),
        },
        BlobUse {
            sha256: d.thumbnail.sha256,
            role: BlobRole::Thumbnail,
            byte_len: Some(1000),
        },
    ];
    expected.sort();
    assert_eq!(uses, expected);
    // Reading as another kind fails instead of inventing references.
    assert!(referenced_blobs(DocKind::Notice, case.automerge()).is_err());
    assert_eq!(
        referenced_blobs(DocKind::Review, case.automerge()).unwrap(),
        []
    );

    // A notice lists derivatives only: no original reaches the enterprise through it.
    let uscc: crate::uscc::Uscc = "914403001922038216".parse().unwrap();
    let notice_header = Header {
        kind: DocKind::Notice,
        unit: Some(uscc),
        ..case_header()
    };
    let notice = Notice {
        case: case.id(),
        unit_name: "某某煤业有限公司".to_owned(),
        legal_representative: None,
        facts: "放行超限车辆".into(),
        legal_basis: "公路安全保护条例 第四十一条".into(),
        deadline: Deadline::Immediately,
        issued_by: new_case().onsite.officers,
        issued_at_ms: T0,
        review_body: "阳城县人民政府".to_owned(),
        appeal_body: "阳城县人民法院".to_owned(),
        photos: vec![NoticePhoto::from_derivatives(&d, "车牌")],
    };
    let n = TypedDoc::create(doc_id(6), ActorId::random(), &notice_header, &notice).unwrap();
    let uses = referenced_blobs(DocKind::Notice, n.automerge()).unwrap();
    assert_eq!(uses.len(), 2);
    assert!(uses.iter().all(|u| u.role != BlobRole::Original));
    assert!(uses.iter().all(|u| u.sha256 != with.sha256));
}

#[test]
fn photo_references_are_checked() {
    let mut case = create_case();
    let by = principal("officer:wang");
    let good = photo_ref("plate", true);
    // The same photo twice.
    let err = case
        .update(&by, T0, |c| {
            c.evidence.extend([good.clone(), good.clone()]);
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    // A derivative that is the original itself.
    let mut same = good.clone();
    if let Some(d) = &mut same.derivatives {
        d.thumbnail.sha256 = same.sha256;
    }
    let err = case
        .update(&by, T0, |c| {
            c.evidence.push(same.clone());
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("distinct"), "{err}");
    // Nothing was written by the refused edits.
    assert!(case.body().unwrap().evidence.is_empty());
    case.update(&by, T0, |c| {
        c.evidence.push(good.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(case.body().unwrap().evidence, [good]);
}

const CASE_V1: &[u8] = include_bytes!("../../tests/fixtures/case-v1.automerge");

#[test]
fn a_frozen_version_1_document_opens_and_merges_after_migration() {
    let am = Automerge::load(CASE_V1).expect("frozen v1 bytes load");
    let mut a =
        TypedDoc::<Case>::open(doc_id(9), am.with_actor(ActorId::from(&[3u8; 16][..]))).unwrap();
    let header = a.header().unwrap();
    assert_eq!(header.schema, 1, "the header keeps the creation schema");
    let case = a.body().unwrap();
    assert_eq!(case.findings.as_str(), "v1 findings 超限");
    assert_eq!(case.onsite.place.as_str(), "S329 K12");
    assert_eq!(
        case.source_unit, None,
        "a field added in schema 2 reads as absent"
    );
    // After migration the texts are text objects: concurrent edits merge instead of one winning.
    let mut b = fork(&a, 4);
    a.update(&principal("officer:wang"), T0, |c| {
        c.findings = "A: v1 findings 超限".into();
        Ok(())
    })
    .unwrap();
    b.update(&principal("officer:li"), T0, |c| {
        c.findings = "v1 findings 超限 :B".into();
        Ok(())
    })
    .unwrap();
    merge(&mut a, &b);
    assert_eq!(
        a.body().unwrap().findings.as_str(),
        "A: v1 findings 超限 :B"
    );
}

/// Writes the frozen version-1 fixture. Run once by hand (`cargo test -p zhichao-core
/// write_case_v1_fixture -- --ignored`) when it must be regenerated; version 1 stored texts as
/// plain strings and had no `body_schema` key.
#[test]
#[ignore = "writes the frozen fixture"]
fn write_case_v1_fixture() {
    use automerge::transaction::Transactable;
    use autosurgeon::reconcile_prop;
    let mut header = case_header();
    header.schema = 1;
    let mut am = Automerge::new().with_actor(ActorId::from(&[1u8; 16][..]));
    // One creating change, as version 1 wrote it: texts as plain strings, no `body_schema`.
    am.transact(|tx| -> Result<(), DocError> {
        reconcile_prop(tx, automerge::ROOT, "header", &header)?;
        reconcile_prop(tx, automerge::ROOT, "body", new_case())?;
        let body = match tx.get(automerge::ROOT, "body")? {
            Some((_, id)) => id,
            None => unreachable!(),
        };
        tx.put(&body, "findings", "v1 findings 超限")?;
        let onsite = match tx.get(&body, "onsite")? {
            Some((_, id)) => id,
            None => unreachable!(),
        };
        tx.put(&onsite, "place", "S329 K12")?;
        Ok(())
    })
    .unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/case-v1.automerge"
    );
    std::fs::write(path, am.save()).unwrap();
}

/// One edit a replica may make, for the convergence property.
#[derive(Clone, Debug)]
enum Edit {
    Findings(String),
    Gross(u32),
    Axles(u8),
    NextStage,
    AddOfficer(u8),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        "[a-z晋超限🚛 ]{0,12}".prop_map(Edit::Findings),
        (1u32..80_000).prop_map(Edit::Gross),
        (2u8..8).prop_map(Edit::Axles),
        Just(Edit::NextStage),
        (0u8..5).prop_map(Edit::AddOfficer),
    ]
}

fn apply(doc: &mut TypedDoc<Case>, edit: &Edit, by: &PrincipalId) {
    let _ = doc.update(by, T0, |c| {
        match edit {
            Edit::Findings(s) => {
                let mut text = c.findings.0.clone();
                text.push_str(s);
                c.findings = text.into();
            }
            Edit::Gross(g) => {
                c.measurement = Some(MeasurementRecord {
                    measurement: Measurement {
                        gross_kg: *g,
                        ..Default::default()
                    },
                    measured_at_ms: T0,
                    scale: None,
                });
            }
            Edit::Axles(n) => {
                c.vehicle = Some(Vehicle {
                    plate: "晋E12345"
                        .parse()
                        .map_err(|_| DocError::Rule(String::new()))?,
                    plate_as_typed: String::new(),
                    colour: None,
                    configuration: VehicleConfiguration::axles_only(*n),
                });
            }
            Edit::NextStage => {
                let next = c
                    .events
                    .iter()
                    .map(|e| e.stage)
                    .max()
                    .map_or(Some(Stage::Registered), |s| {
                        Stage::ALL.iter().copied().find(|x| x.previous() == Some(s))
                    });
                if let Some(stage) = next {
                    c.record_stage(stage, T0, by.clone(), "")?;
                }
            }
            Edit::AddOfficer(i) => {
                c.onsite
                    .officers
                    .push(officer("增援", &format!("9000{i}"), Agency::Transport))
            }
        }
        Ok(())
    });
}

proptest! {
    /// Any interleaving of edits and merges across 2–4 replicas converges once every replica
    /// has seen every change: equal heads, equal bodies, equal status.
    #[test]
    fn replicas_converge(
        replicas in 2usize..=4,
        steps in proptest::collection::vec((0usize..4, edit_strategy(), 0usize..4), 1..24),
    ) {
        let origin = create_case();
        let mut docs: Vec<TypedDoc<Case>> =
            (0..replicas).map(|i| fork(&origin, 10 + i as u8)).collect();
        let by = principal("officer:wang");
        for (who, edit, sync_with) in &steps {
            let who = who % replicas;
            apply(&mut docs[who], edit, &by);
            let other = sync_with % replicas;
            if other != who {
                let snapshot = docs[other].automerge().clone();
                docs[who].merge(&mut snapshot.clone()).unwrap();
            }
        }
        // Full exchange: everyone merges everyone.
        for i in 0..replicas {
            for j in 0..replicas {
                if i != j {
                    let snapshot = docs[j].automerge().clone();
                    docs[i].merge(&mut snapshot.clone()).unwrap();
                }
            }
        }
        let first = docs[0].body().unwrap();
        let heads = docs[0].automerge().get_heads();
        for d in &docs[1..] {
            prop_assert_eq!(d.automerge().get_heads(), heads.clone());
            let body = d.body().unwrap();
            prop_assert_eq!(case_status(&body, &[]), case_status(&first, &[]));
            prop_assert_eq!(body, first.clone());
        }
    }
}
