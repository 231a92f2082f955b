//! The console's 整改 pages (`/console/notices`, `/console/notices/{id}`), the review form
//! (`POST /console/reviews`) and the JSON routes (`/v1/notices`, `/v1/reviews`), through
//! `tower::ServiceExt::oneshot` on documents written through the sync hub as the phones write
//! them: who sees what, the response state and overdue marker, and that a review is a
//! `review` document stored by the hub with the supervisor as principal, readable by the
//! enterprise — or that nothing is stored when the request is refused.

use std::sync::Arc;
use std::time::Duration;

use automerge::ActorId;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use zhichao_core::access::{Principal, can_read, concerns};
use zhichao_core::docs::{
    Deadline, DerivativeRef, DocKind, EvidenceRef, Header, Notice, PhotoDerivatives, Response,
    Review, ReviewDecision, SCHEMA_VERSION, TypedDoc, UnitProfile,
};
use zhichao_core::fixtures::{case_body, joint_patrol};
use zhichao_core::ids::{DocumentId, EvidenceId, PrincipalId, TeamId};
use zhichao_core::jurisdiction::SourceUnitKind;
use zhichao_core::scope::Scope;
use zhichao_core::uscc::{Uscc, check_char};
use zhichao_server::clock::ManualClock;
use zhichao_server::config::{Secret, ServerConfig};
use zhichao_server::console::session::testing::login;
use zhichao_server::{AppState, app};

const ADMIN: &str = "admin-bootstrap-token-for-tests-0001";
/// 2026-11-29 00:00 China Standard Time.
const MIDNIGHT: u64 = 1_795_881_600_000;
const HOUR: u64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// Now: 2026-11-29 10:00 China time.
const NOW: u64 = MIDNIGHT + 10 * HOUR;
const TOWNSHIP_A: &str = "140522100";
const TOWNSHIP_B: &str = "140522101";

fn pid(s: &str) -> PrincipalId {
    PrincipalId::new(s).unwrap()
}

fn county() -> Scope {
    Scope::parse("140522").unwrap()
}

fn township(code: &str) -> Scope {
    Scope::parse(&format!("140522/township/{code}")).unwrap()
}

fn unit(n: u32) -> Uscc {
    let first17 = format!("91140522MA{n:07}");
    let code = format!("{first17}{}", check_char(&first17).unwrap());
    code.parse().unwrap()
}

fn officer_a() -> Principal {
    Principal::Officer {
        id: pid("officer:wang"),
        team: TeamId::new("team-a").unwrap(),
        scope: township(TOWNSHIP_A),
    }
}

fn enterprise(n: u32) -> Principal {
    Principal::Enterprise {
        id: pid(&format!("ent:{n}")),
        unit: unit(n),
    }
}

fn supervisor(name: &str, scope: Scope) -> Principal {
    Principal::Supervisor {
        id: pid(name),
        scope,
    }
}

fn sup_county() -> Principal {
    supervisor("sup:county", county())
}

fn sup_b() -> Principal {
    supervisor("sup:township-b", township(TOWNSHIP_B))
}

/// A notice's documents.
struct Seeded {
    case: DocumentId,
    notice: DocumentId,
    response: Option<DocumentId>,
}

struct Harness {
    state: AppState,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

async fn harness() -> Harness {
    let state = AppState::temporary(
        ServerConfig {
            admin_token: Some(Secret::new(ADMIN)),
            ..ServerConfig::default()
        },
        Arc::new(ManualClock::new(NOW)),
    )
    .await
    .expect("state");
    Harness { state }
}

fn new_id() -> DocumentId {
    DocumentId::generate(&mut rand::rng())
}

/// A photo reference with distinct evidence copy and thumbnail.
fn photo(seed: u8) -> EvidenceRef {
    let derivative = |tag: u8| DerivativeRef {
        sha256: EvidenceId::of(&[seed, tag]),
        byte_len: 1_000,
        width: 320,
        height: 240,
    };
    EvidenceRef {
        sha256: EvidenceId::of(&[seed]),
        caption: "整改后的车辆出场照片".to_owned(),
        captured_at_ms: Some(i64::try_from(NOW).unwrap() - DAY),
        gps: None,
        taken_by: pid("ent:1"),
        format: Some("jpeg".to_owned()),
        byte_len: Some(2_000),
        width: Some(640),
        height: Some(480),
        derivatives: Some(PhotoDerivatives {
            evidence_copy: derivative(1),
            thumbnail: derivative(2),
        }),
    }
}

impl Harness {
    /// Writes a document through the hub as `principal`, as a phone's sync would.
    async fn write(&self, id: DocumentId, changes: Vec<u8>, principal: Principal) {
        let answer = tokio::time::timeout(
            Duration::from_secs(30),
            self.state.sync.write(id, changes, principal),
        )
        .await
        .expect("the hub answers")
        .expect("the hub runs");
        answer.expect("the hub stores the document");
    }

    /// The unit's profile in township A, by the county supervisor.
    async fn unit_profile(&self, n: u32, name: &str) {
        let id = new_id();
        let header = Header {
            kind: DocKind::Unit,
            schema: SCHEMA_VERSION,
            scope: township(TOWNSHIP_A),
            team: None,
            unit: Some(unit(n)),
            parent: None,
            created_by: pid("sup:county"),
            created_at_ms: 1,
        };
        let profile = UnitProfile {
            name: name.to_owned(),
            kind: SourceUnitKind::CoalMine,
            township: TOWNSHIP_A.parse().unwrap(),
            supervising_department: None,
            address: "町店镇".to_owned(),
            location: None,
            listed: true,
        };
        let doc = TypedDoc::create(id, ActorId::random(), &header, &profile).unwrap();
        self.write(id, doc.automerge().save(), sup_county()).await;
    }

    /// A case and a notice of township A's team to unit `n` issued `issued_days_ago`, and when
    /// `response` is given a response of the unit (submitted or a draft).
    async fn seed(
        &self,
        n: u32,
        deadline: Deadline,
        issued_days_ago: i64,
        response: Option<bool>,
    ) -> Seeded {
        let team = TeamId::new("team-a").unwrap();
        let issued_at_ms = i64::try_from(NOW).unwrap() - issued_days_ago * DAY;
        let case = new_id();
        let case_header = Header {
            kind: DocKind::Case,
            schema: SCHEMA_VERSION,
            scope: township(TOWNSHIP_A),
            team: Some(team.clone()),
            unit: None,
            parent: None,
            created_by: pid("officer:wang"),
            created_at_ms: issued_at_ms,
        };
        let mut body = case_body(n);
        body.source_unit = Some(unit(n));
        let doc = TypedDoc::create(case, ActorId::random(), &case_header, &body).unwrap();
        self.write(case, doc.automerge().save(), officer_a()).await;

        let notice = new_id();
        let notice_header = Header {
            kind: DocKind::Notice,
            unit: Some(unit(n)),
            ..case_header.clone()
        };
        let body = Notice {
            case,
            unit_name: format!("通知书上的单位名称{n}"),
            legal_representative: Some("张三".to_owned()),
            facts: "放行超限车辆出场".into(),
            legal_basis: "《公路安全保护条例》第六十五条".into(),
            deadline,
            issued_by: joint_patrol(),
            issued_at_ms,
            review_body: "阳城县人民政府".to_owned(),
            appeal_body: "阳城县人民法院".to_owned(),
            photos: Vec::new(),
        };
        let doc = TypedDoc::create(notice, ActorId::random(), &notice_header, &body).unwrap();
        self.write(notice, doc.automerge().save(), officer_a())
            .await;

        let response = match response {
            None => None,
            Some(submitted) => {
                let id = new_id();
                let header = Header {
                    kind: DocKind::Response,
                    schema: SCHEMA_VERSION,
                    scope: township(TOWNSHIP_A),
                    team: None,
                    unit: Some(unit(n)),
                    parent: Some(notice),
                    created_by: enterprise(n).id().clone(),
                    created_at_ms: issued_at_ms + 1,
                };
                let body = Response {
                    statement: "已安装出场称重拦截装置，超限车辆不再放行".into(),
                    evidence: vec![photo(u8::try_from(n).unwrap())],
                    submitted_at_ms: submitted.then_some(issued_at_ms + 2),
                };
                let doc = TypedDoc::create(id, ActorId::random(), &header, &body).unwrap();
                self.write(id, doc.automerge().save(), enterprise(n)).await;
                Some(id)
            }
        };
        Seeded {
            case,
            notice,
            response,
        }
    }

    async fn send(&self, request: Request<Body>) -> Page {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Page {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn page(&self, path: &str, cookie: &str) -> Page {
        let request = Request::builder().uri(path);
        let request = if cookie.is_empty() {
            request
        } else {
            request.header(header::COOKIE, cookie)
        };
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn form(&self, path: &str, cookie: &str, body: &str) -> Page {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.send(request).await
    }

    async fn token(&self, principal: Value) -> String {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1/admin/tokens")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "principal": principal }).to_string()))
            .unwrap();
        let page = self.send(request).await;
        assert_eq!(page.status, StatusCode::CREATED, "{}", page.body);
        let v: Value = serde_json::from_str(&page.body).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let request = match body {
            Some(v) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let page = self.send(request).await;
        let value = serde_json::from_str(&page.body).unwrap_or(Value::Null);
        (page.status, value)
    }

    /// Every stored review: id, header, ancestors' headers, body.
    fn reviews(&self) -> Vec<(DocumentId, Header, Vec<Header>, Review)> {
        let mut out = Vec::new();
        for (id, _) in self.state.log.changed_since(0).unwrap() {
            let (header, ancestors) = self.state.log.header_chain(&id).unwrap().unwrap();
            if header.kind != DocKind::Review {
                continue;
            }
            let loaded = self.state.docs.load(&id).unwrap().unwrap();
            let body = TypedDoc::<Review>::open(id, loaded.doc)
                .unwrap()
                .body()
                .unwrap();
            out.push((id, header, ancestors, body));
        }
        out
    }
}

fn form_body(csrf: &str, parent: &DocumentId, decision: &str, reasons: &str) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "csrf={}&parent={parent}&decision={decision}&reasons={}&comments={}",
        encode(csrf),
        encode(reasons),
        encode("请按期复查")
    )
}

#[tokio::test]
async fn a_county_supervisor_sees_the_notice_and_the_response_with_its_photo() {
    let h = harness().await;
    h.unit_profile(1, "阳城县某某煤业有限公司").await;
    let seeded = h
        .seed(
            1,
            Deadline::By {
                date: "2026-12-15".to_owned(),
            },
            3,
            Some(true),
        )
        .await;
    let response = seeded.response.unwrap();
    for principal in [
        sup_county(),
        supervisor("sup:township-a", township(TOWNSHIP_A)),
    ] {
        let (cookie, _) = login(&h.state, principal);
        let list = h.page("/console/notices", &cookie).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        assert!(
            list.body
                .contains(&format!("/console/notices/{}", seeded.notice))
        );
        assert!(
            list.body
                .contains(&format!("/console/cases/{}", seeded.case))
        );
        // The name from the unit's profile, not the one typed on the notice.
        assert!(
            list.body.contains("阳城县某某煤业有限公司"),
            "{}",
            list.body
        );
        assert!(list.body.contains("2026-12-15"));
        assert!(list.body.contains("待复核"));
        assert!(!list.body.contains("class=\"badge danger\">逾期"));

        let detail = h
            .page(&format!("/console/notices/{}", seeded.notice), &cookie)
            .await;
        assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
        assert!(detail.body.contains("已安装出场称重拦截装置"));
        assert!(detail.body.contains("《公路安全保护条例》第六十五条"));
        let thumb = photo(1).derivatives.unwrap().thumbnail.sha256;
        assert!(
            detail
                .body
                .contains(&format!("<img src=\"/console/blobs/{thumb}\"")),
            "{}",
            detail.body
        );
        assert!(detail.body.contains("action=\"/console/reviews\""));
        assert!(
            detail
                .body
                .contains(&format!("name=\"parent\" value=\"{response}\""))
        );
    }

    let token = h
        .token(json!({ "role": "supervisor", "name": "sup:json", "scope": "140522" }))
        .await;
    let (status, list) = h.json(Method::GET, "/v1/notices", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["notices"][0]["id"], seeded.notice.to_string());
    assert_eq!(list["notices"][0]["state"], "submitted");
    assert_eq!(list["notices"][0]["overdue"], false);
    assert_eq!(list["notices"][0]["unit_name"], "阳城县某某煤业有限公司");
    let (status, detail) = h
        .json(
            Method::GET,
            &format!("/v1/notices/{}", seeded.notice),
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["responses"][0]["id"], response.to_string());
    assert_eq!(detail["responses"][0]["awaiting_review"], true);
    assert_eq!(
        detail["responses"][0]["photos"][0]["original"],
        photo(1).sha256.to_string()
    );
}

#[tokio::test]
async fn another_townships_supervisor_neither_sees_nor_reviews_the_notice() {
    let h = harness().await;
    let seeded = h.seed(1, Deadline::Immediately, 0, Some(true)).await;
    let (cookie, csrf) = login(&h.state, sup_b());
    let list = h.page("/console/notices", &cookie).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains(&seeded.notice.to_string()));
    let detail = h
        .page(&format!("/console/notices/{}", seeded.notice), &cookie)
        .await;
    assert_eq!(detail.status, StatusCode::NOT_FOUND);
    // Reviewing the response it cannot see: 404, nothing stored.
    let post = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body(&csrf, &seeded.response.unwrap(), "accept", ""),
        )
        .await;
    assert_eq!(post.status, StatusCode::NOT_FOUND, "{}", post.body);
    assert!(h.reviews().is_empty());

    let token = h
        .token(json!({ "role": "supervisor", "name": "sup:b", "scope": format!("140522/township/{TOWNSHIP_B}") }))
        .await;
    let (status, list) = h.json(Method::GET, "/v1/notices", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["notices"], json!([]));
    let (status, body) = h
        .json(
            Method::GET,
            &format!("/v1/notices/{}", seeded.notice),
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "notice_not_found");

    // No session: back to the login page.
    let anonymous = h.page("/console/notices", "").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert!(anonymous.location.unwrap().starts_with("/console/login"));
}

#[tokio::test]
async fn a_passed_deadline_without_an_accepted_response_is_overdue() {
    let h = harness().await;
    let late = h
        .seed(
            1,
            Deadline::By {
                date: "2026-11-20".to_owned(),
            },
            20,
            None,
        )
        .await;
    let today = h.seed(2, Deadline::Immediately, 0, None).await;
    let yesterday = h.seed(3, Deadline::Immediately, 1, Some(true)).await;
    let future = h
        .seed(
            4,
            Deadline::By {
                date: "2026-12-31".to_owned(),
            },
            1,
            None,
        )
        .await;
    let token = h
        .token(json!({ "role": "supervisor", "name": "sup:json", "scope": "140522" }))
        .await;
    let (status, list) = h.json(Method::GET, "/v1/notices", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let rows: Vec<(String, bool)> = list["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_owned(),
                n["overdue"].as_bool().unwrap(),
            )
        })
        .collect();
    // 立即改正 first (by issue time), then by date.
    assert_eq!(
        rows,
        vec![
            (yesterday.notice.to_string(), true),
            (today.notice.to_string(), false),
            (late.notice.to_string(), true),
            (future.notice.to_string(), false),
        ]
    );
    let (_, overdue) = h
        .json(Method::GET, "/v1/notices?overdue=1", &token, None)
        .await;
    assert_eq!(overdue["notices"].as_array().unwrap().len(), 2);
    let (status, _) = h
        .json(Method::GET, "/v1/notices?colour=red", &token, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (cookie, _) = login(&h.state, sup_county());
    let page = h.page("/console/notices?overdue=1", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&late.notice.to_string()));
    assert!(!page.body.contains(&future.notice.to_string()));
    assert_eq!(
        page.body.matches("class=\"badge danger\">逾期").count(),
        2,
        "{}",
        page.body
    );
    let detail = h
        .page(&format!("/console/notices/{}", late.notice), &cookie)
        .await;
    assert!(detail.body.contains("class=\"overdue\""), "{}", detail.body);
    assert!(detail.body.contains("逾期"));

    // Accepting yesterday's response settles it: no longer overdue.
    let (status, _) = h
        .json(
            Method::POST,
            "/v1/reviews",
            &token,
            Some(
                json!({ "parent": yesterday.response.unwrap().to_string(), "decision": "accept" }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = h
        .json(Method::GET, "/v1/notices?state=accepted", &token, None)
        .await;
    assert_eq!(list["notices"][0]["id"], yesterday.notice.to_string());
    assert_eq!(list["notices"][0]["overdue"], false);
}

#[tokio::test]
async fn a_returned_response_is_a_review_document_the_enterprise_reads() {
    let h = harness().await;
    let seeded = h.seed(1, Deadline::Immediately, 0, Some(true)).await;
    let response = seeded.response.unwrap();
    let (cookie, csrf) = login(&h.state, sup_county());
    let post = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body(
                &csrf,
                &response,
                "return",
                "照片不清晰\r\n\r\n  缺少称重记录  ",
            ),
        )
        .await;
    assert_eq!(post.status, StatusCode::SEE_OTHER, "{}", post.body);
    assert_eq!(
        post.location.as_deref(),
        Some(format!("/console/notices/{}?reviewed=1", seeded.notice).as_str())
    );
    let reviews = h.reviews();
    assert_eq!(reviews.len(), 1);
    let (id, header, ancestors, body) = &reviews[0];
    assert_eq!(header.parent, Some(response));
    assert_eq!(header.created_by, pid("sup:county"));
    assert_eq!(header.scope, township(TOWNSHIP_A));
    assert_eq!(
        body.decision,
        ReviewDecision::Return {
            reasons: vec!["照片不清晰".to_owned(), "缺少称重记录".to_owned()]
        }
    );
    assert_eq!(body.comments.as_str(), "请按期复查");
    // Stored by the hub with the supervisor as principal.
    let latest = h.state.log.latest(id).unwrap().unwrap();
    assert_eq!(latest.principal, pid("sup:county"));
    // The enterprise reads it and discovery brings it to its phone, as to the officers'; not
    // to another unit.
    assert!(can_read(&enterprise(1), header, ancestors));
    assert!(concerns(&enterprise(1), header, ancestors));
    assert!(concerns(&officer_a(), header, ancestors));
    assert!(!can_read(&enterprise(2), header, ancestors));

    let detail = h
        .page(
            &format!("/console/notices/{}?reviewed=1", seeded.notice),
            &cookie,
        )
        .await;
    assert!(detail.body.contains("复核已保存"));
    assert!(detail.body.contains("缺少称重记录"));
    assert!(!detail.body.contains("action=\"/console/reviews\""));
    let list = h.page("/console/notices?state=returned", &cookie).await;
    assert!(list.body.contains(&seeded.notice.to_string()));
}

#[tokio::test]
async fn refused_reviews_store_nothing() {
    let h = harness().await;
    let seeded = h.seed(1, Deadline::Immediately, 0, Some(true)).await;
    let draft = h.seed(2, Deadline::Immediately, 0, Some(false)).await;
    let response = seeded.response.unwrap();
    let (cookie, csrf) = login(&h.state, sup_county());

    let no_reason = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body(&csrf, &response, "return", " \n "),
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert!(no_reason.body.contains("退回理由"), "{}", no_reason.body);

    let wrong_csrf = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body("not-the-token", &response, "accept", ""),
        )
        .await;
    assert_eq!(wrong_csrf.status, StatusCode::FORBIDDEN);
    let no_csrf = h
        .form(
            "/console/reviews",
            &cookie,
            &format!("parent={response}&decision=accept"),
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);

    let control = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body(&csrf, &response, "return", "照片\u{7}不清晰"),
        )
        .await;
    assert_eq!(control.status, StatusCode::BAD_REQUEST);
    let long = "长".repeat(201);
    let too_long = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body(&csrf, &response, "return", &long),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);

    // A notice is not reviewed; a draft response is not either; an unknown id is 404.
    let notice = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body(&csrf, &seeded.notice, "accept", ""),
        )
        .await;
    assert_eq!(notice.status, StatusCode::BAD_REQUEST);
    let drafted = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body(&csrf, &draft.response.unwrap(), "accept", ""),
        )
        .await;
    assert_eq!(drafted.status, StatusCode::CONFLICT);
    let unknown = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body(&csrf, &new_id(), "accept", ""),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(h.reviews().is_empty());

    // JSON: an officer may not review, a return needs a reason.
    let officer = h
        .token(json!({ "role": "officer", "name": "officer:wang", "team": "team-a" }))
        .await;
    let (status, body) = h
        .json(
            Method::POST,
            "/v1/reviews",
            &officer,
            Some(json!({ "parent": response.to_string(), "decision": "accept" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, _) = h.json(Method::GET, "/v1/notices", &officer, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let supervisor = h
        .token(json!({ "role": "supervisor", "name": "sup:json", "scope": "140522" }))
        .await;
    let (status, _) = h
        .json(
            Method::POST,
            "/v1/reviews",
            &supervisor,
            Some(json!({ "parent": response.to_string(), "decision": "return", "reasons": [" "] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(h.reviews().is_empty());

    let (status, created) = h
        .json(
            Method::POST,
            "/v1/reviews",
            &supervisor,
            Some(json!({ "parent": response.to_string(), "decision": "return", "reasons": ["缺少照片"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let reviews = h.reviews();
    assert_eq!(reviews.len(), 1);
    assert_eq!(created["id"], reviews[0].0.to_string());
    assert_eq!(reviews[0].1.created_by, pid("sup:json"));
}

#[tokio::test]
async fn the_openapi_document_lists_the_notice_routes() {
    let h = harness().await;
    let page = h.page("/v1/openapi.json", "").await;
    assert_eq!(page.status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&page.body).unwrap();
    for path in ["/v1/notices", "/v1/notices/{id}", "/v1/reviews"] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["NoticeDetail"].is_object());
}

/// The reviews stored of `parent`.
fn reviews_of(h: &Harness, parent: &DocumentId) -> Vec<(DocumentId, Review)> {
    h.reviews()
        .into_iter()
        .filter(|(_, header, _, _)| header.parent == Some(*parent))
        .map(|(id, _, _, body)| (id, body))
        .collect()
}

#[tokio::test]
async fn a_double_posted_review_form_stores_one_review() {
    let h = harness().await;
    let seeded = h.seed(1, Deadline::Immediately, 0, Some(true)).await;
    let response = seeded.response.unwrap();
    let (cookie, csrf) = login(&h.state, sup_county());
    let body = form_body(&csrf, &response, "return", "照片不清晰");
    // A double-click: the browser posts the form twice, the second before the first answers;
    // then "back" and "resend".
    let (first, second) = tokio::join!(
        h.form("/console/reviews", &cookie, &body),
        h.form("/console/reviews", &cookie, &body)
    );
    let third = h.form("/console/reviews", &cookie, &body).await;
    for post in [&first, &second, &third] {
        assert_eq!(post.status, StatusCode::SEE_OTHER, "{}", post.body);
        assert_eq!(
            post.location.as_deref(),
            Some(format!("/console/notices/{}?reviewed=1", seeded.notice).as_str())
        );
    }
    // The enterprise gets one return, not three.
    assert_eq!(reviews_of(&h, &response).len(), 1);

    // The same through JSON: a client retrying its request gets the same review.
    let other = h.seed(2, Deadline::Immediately, 0, Some(true)).await;
    let token = h
        .token(json!({ "role": "supervisor", "name": "sup:json", "scope": "140522" }))
        .await;
    let request = json!({ "parent": other.response.unwrap().to_string(), "decision": "accept" });
    let (a, b) = tokio::join!(
        h.json(Method::POST, "/v1/reviews", &token, Some(request.clone())),
        h.json(Method::POST, "/v1/reviews", &token, Some(request.clone()))
    );
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.1);
    assert_eq!(b.0, StatusCode::CREATED, "{}", b.1);
    assert_eq!(a.1["id"], b.1["id"]);
    assert_eq!(reviews_of(&h, &other.response.unwrap()).len(), 1);
}

#[tokio::test]
async fn a_response_reviewed_by_one_supervisor_is_not_reviewed_again_by_another() {
    // The county office and township A's supervisor both have the notice open; the county
    // accepts; township A, on its stale page, returns it. The enterprise must not receive a
    // return of a response the office accepted (the notice stays "accepted" on the console).
    let h = harness().await;
    let seeded = h.seed(1, Deadline::Immediately, 0, Some(true)).await;
    let response = seeded.response.unwrap();
    let county = h
        .token(json!({ "role": "supervisor", "name": "sup:county", "scope": "140522" }))
        .await;
    let (status, body) = h
        .json(
            Method::POST,
            "/v1/reviews",
            &county,
            Some(json!({ "parent": response.to_string(), "decision": "accept" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (cookie, csrf) = login(&h.state, supervisor("sup:township-a", township(TOWNSHIP_A)));
    let late = h
        .form(
            "/console/reviews",
            &cookie,
            &form_body(&csrf, &response, "return", "照片不清晰"),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert!(late.body.contains("已复核"), "{}", late.body);
    let (status, _) = h
        .json(
            Method::POST,
            "/v1/reviews",
            &county,
            Some(json!({ "parent": response.to_string(), "decision": "return", "reasons": ["再看看"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let stored = reviews_of(&h, &response);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].1.accepts());
}

#[tokio::test]
async fn an_accepted_case_is_final_and_a_repeated_return_is_stored_once() {
    let h = harness().await;
    let seeded = h.seed(1, Deadline::Immediately, 0, None).await;
    let case = seeded.case;
    let (cookie, csrf) = login(&h.state, sup_county());
    let page = format!("/console/cases/{case}?reviewed=1");
    let returned = form_body(&csrf, &case, "return", "缺少询问笔录");
    for _ in 0..2 {
        let post = h.form("/console/reviews", &cookie, &returned).await;
        assert_eq!(post.status, StatusCode::SEE_OTHER, "{}", post.body);
        assert_eq!(post.location.as_deref(), Some(page.as_str()));
    }
    assert_eq!(reviews_of(&h, &case).len(), 1);
    // After a return the office decides again: an acceptance is a new review.
    let accepted = form_body(&csrf, &case, "accept", "");
    let post = h.form("/console/reviews", &cookie, &accepted).await;
    assert_eq!(post.status, StatusCode::SEE_OTHER, "{}", post.body);
    assert_eq!(reviews_of(&h, &case).len(), 2);
    // Posted again, it is the same acceptance; another supervisor's return after it is refused.
    let post = h.form("/console/reviews", &cookie, &accepted).await;
    assert_eq!(post.status, StatusCode::SEE_OTHER, "{}", post.body);
    let (cookie_a, csrf_a) = login(&h.state, supervisor("sup:township-a", township(TOWNSHIP_A)));
    let late = h
        .form(
            "/console/reviews",
            &cookie_a,
            &form_body(&csrf_a, &case, "return", "证据不足"),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert_eq!(reviews_of(&h, &case).len(), 2);
}
