//! Photo blobs over HTTP (`HEAD`/`PUT`/`GET /v1/blobs/{sha256}`) on a server whose data
//! directory is a temporary one (real files, real sled), through `tower::ServiceExt::oneshot`
//! and, for what hyper adds, a real server on 127.0.0.1. Documents that reference the blobs
//! are written through the sync hub (`SyncService::write`: the hub's rights checks and the
//! driver's group flush, where references are recorded), as a phone's push would be.

// The edit closures' error type is `TypedDoc::update`'s (`DocError`), large by design.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use automerge::ActorId;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use zhichao_core::access::Principal;
use zhichao_core::docs::{
    Case, Deadline, DerivativeRef, DocBody, DocKind, EvidenceRef, Header, Notice, NoticePhoto,
    PhotoDerivatives, Response, TypedDoc,
};
use zhichao_core::fixtures::{
    case, case_body, case_header, county, joint_patrol, officer, officer_elsewhere, other_county,
    pid,
};
use zhichao_core::ids::{DocumentId, EvidenceId};
use zhichao_core::uscc::Uscc;
use zhichao_server::clock::ManualClock;
use zhichao_server::config::ServerConfig;
use zhichao_server::{AppState, app, serve};

const NOW: u64 = 1_780_000_000_000;
const UNIT_A: &str = "914403001922038216";
const UNIT_B: &str = "91110000802100433B";

struct Harness {
    state: AppState,
    clock: ManualClock,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The error code of an error answer (asserting the server's error shape).
    fn code(&self) -> String {
        let v = self.json();
        assert!(v["error"]["message"].is_string(), "{v}");
        v["error"]["code"].as_str().expect("a code").to_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn offset(&self) -> Option<u64> {
        self.header("upload-offset").and_then(|v| v.parse().ok())
    }
}

async fn harness_with(edit: impl FnOnce(&mut ServerConfig)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = ServerConfig {
        data_dir: data.clone(),
        ..ServerConfig::default()
    };
    edit(&mut config);
    let clock = ManualClock::new(NOW);
    let state = AppState::open(config, Arc::new(clock.clone()))
        .await
        .expect("state");
    Harness {
        state,
        clock,
        data,
        _dir: dir,
    }
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

fn uscc(text: &str) -> Uscc {
    text.parse().unwrap()
}

fn enterprise(name: &str, unit: &str) -> Principal {
    Principal::Enterprise {
        id: pid(name),
        unit: uscc(unit),
    }
}

fn supervisor() -> Principal {
    Principal::Supervisor {
        id: pid("supervisor:zhao"),
        scope: county(),
    }
}

/// `n` bytes that sniff as a JPEG, different for each seed.
fn photo_bytes(n: usize, seed: u8) -> Vec<u8> {
    let mut out = vec![0xff, 0xd8, 0xff, 0xe0];
    out.extend((0..n.saturating_sub(4)).map(|i| (i.wrapping_mul(31) % 251) as u8 ^ seed));
    out
}

/// Stand-in bytes of an original of `original_len` bytes and its evidence copy (900 bytes)
/// and thumbnail (200 bytes), from seeds `seed`, `seed + 1`, `seed + 2`.
fn photo_set(original_len: usize, seed: u8) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        photo_bytes(original_len, seed),
        photo_bytes(900, seed + 1),
        photo_bytes(200, seed + 2),
    )
}

fn derivative(bytes: &[u8]) -> DerivativeRef {
    DerivativeRef {
        sha256: EvidenceId::of(bytes),
        byte_len: bytes.len() as u64,
        width: 64,
        height: 48,
    }
}

/// A case photo reference: the original and its two derivatives.
fn evidence(original: &[u8], copy: &[u8], thumb: &[u8], by: &str) -> EvidenceRef {
    EvidenceRef {
        sha256: EvidenceId::of(original),
        caption: "车牌".to_owned(),
        captured_at_ms: None,
        gps: None,
        taken_by: pid(by),
        format: Some("jpeg".to_owned()),
        byte_len: Some(original.len() as u64),
        width: Some(640),
        height: Some(480),
        derivatives: Some(PhotoDerivatives {
            evidence_copy: derivative(copy),
            thumbnail: derivative(thumb),
        }),
    }
}

fn notice_photo(copy: &[u8], thumb: &[u8]) -> NoticePhoto {
    NoticePhoto::from_derivatives(
        &PhotoDerivatives {
            evidence_copy: derivative(copy),
            thumbnail: derivative(thumb),
        },
        "现场照片",
    )
}

fn notice(
    seed: u8,
    team: &str,
    unit: &str,
    case: DocumentId,
    photos: Vec<NoticePhoto>,
) -> TypedDoc<Notice> {
    let header = Header {
        kind: DocKind::Notice,
        unit: Some(uscc(unit)),
        ..zhichao_core::fixtures::case_header("officer:wang", team)
    };
    let body = Notice {
        case,
        unit_name: "某某煤业有限公司".to_owned(),
        legal_representative: None,
        facts: "放行超限车辆".into(),
        legal_basis: "公路安全保护条例 第四十一条".into(),
        deadline: Deadline::Immediately,
        issued_by: joint_patrol(),
        issued_at_ms: 0,
        review_body: "阳城县人民政府".to_owned(),
        appeal_body: "阳城县人民法院".to_owned(),
        photos,
    };
    TypedDoc::create(
        DocumentId::from_bytes([seed; 16]),
        ActorId::random(),
        &header,
        &body,
    )
    .unwrap()
}

fn response(
    seed: u8,
    by: &str,
    unit: &str,
    notice: DocumentId,
    photos: Vec<EvidenceRef>,
) -> TypedDoc<Response> {
    let header = Header {
        kind: DocKind::Response,
        team: None,
        unit: Some(uscc(unit)),
        parent: Some(notice),
        ..zhichao_core::fixtures::case_header(by, "team-1")
    };
    let body = Response {
        statement: "已整改".into(),
        evidence: photos,
        submitted_at_ms: None,
    };
    TypedDoc::create(
        DocumentId::from_bytes([seed; 16]),
        ActorId::random(),
        &header,
        &body,
    )
    .unwrap()
}

/// A case of team 1 by officer Wang with one photo.
fn case_with(seed: u64, photo: EvidenceRef) -> TypedDoc<Case> {
    let mut doc = case(seed, "officer:wang", "team-1");
    doc.update(&pid("officer:wang"), 0, |c| {
        c.evidence.push(photo);
        Ok(())
    })
    .unwrap();
    doc
}

impl Harness {
    async fn token(&self, principal: Principal) -> String {
        self.state
            .auth
            .issue(principal, None, Duration::from_secs(86_400 * 30), NOW)
            .await
            .expect("issue")
            .token
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = app(self.state.clone())
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    fn request(method: Method, path: &str, token: Option<&str>) -> axum::http::request::Builder {
        let mut r = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            r = r.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        r
    }

    async fn head(&self, token: &str, id: &str) -> Answer {
        let r = Self::request(Method::HEAD, &format!("/v1/blobs/{id}"), Some(token));
        self.send(r.body(Body::empty()).unwrap()).await
    }

    /// A chunk `start..start+bytes.len()` of a blob of `total` bytes.
    async fn put_chunk(
        &self,
        token: &str,
        id: &str,
        start: u64,
        total: u64,
        bytes: &[u8],
    ) -> Answer {
        let end = start + bytes.len() as u64 - 1;
        let r = Self::request(Method::PUT, &format!("/v1/blobs/{id}"), Some(token))
            .header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{total}"),
            )
            .header(header::CONTENT_LENGTH, bytes.len())
            .header(header::CONTENT_TYPE, "application/octet-stream");
        self.send(r.body(Body::from(bytes.to_vec())).unwrap()).await
    }

    /// Writes `docs` (each by its principal) queued one after the other behind a large
    /// unrelated write (a [`blocker`] from `seed`, created by officer Wang `wang`) that keeps
    /// the driver busy, so they are drained together and ride on one save; each must be
    /// accepted.
    async fn write_together(
        &self,
        seed: u64,
        wang: &Principal,
        docs: &[(&TypedDoc<Case>, &Principal)],
    ) {
        let big = blocker(seed);
        let mut pending =
            vec![
                self.state
                    .sync
                    .write(big.id(), big.automerge().save(), wang.clone()),
            ];
        for (doc, by) in docs {
            pending.push(
                self.state
                    .sync
                    .write(doc.id(), doc.automerge().save(), (*by).clone()),
            );
        }
        for written in pending {
            assert_eq!(written.await.unwrap(), Ok(()));
        }
    }

    /// Unit A (`a`, token `at`) uploads a photo with its derivatives and lists them in its
    /// response 45 to `notice`; returns original, evidence copy and thumbnail.
    async fn unit_a_answers_with_a_photo(
        &self,
        a: &Principal,
        at: &str,
        notice: DocumentId,
    ) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (ap, ac, athumb) = photo_set(2_000, 131);
        for blob in [&ap, &ac, &athumb] {
            assert_eq!(self.put_whole(at, blob).await.status, StatusCode::CREATED);
        }
        let r = response(
            45,
            "unit:a",
            UNIT_A,
            notice,
            vec![evidence(&ap, &ac, &athumb, "unit:a")],
        );
        self.push(&r, a).await;
        (ap, ac, athumb)
    }

    /// The whole blob in one request, without `Content-Range`.
    async fn put_whole(&self, token: &str, bytes: &[u8]) -> Answer {
        let id = EvidenceId::of(bytes).to_string();
        let r = Self::request(Method::PUT, &format!("/v1/blobs/{id}"), Some(token))
            .header(header::CONTENT_LENGTH, bytes.len());
        self.send(r.body(Body::from(bytes.to_vec())).unwrap()).await
    }

    async fn get(&self, token: &str, id: &str, headers: &[(&str, &str)]) -> Answer {
        let mut r = Self::request(Method::GET, &format!("/v1/blobs/{id}"), Some(token));
        for (name, value) in headers {
            r = r.header(*name, *value);
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    /// Writes a document through the sync hub as `by` (rights checked, flushed, references
    /// recorded), like a phone's push.
    async fn push<T: DocBody>(&self, doc: &TypedDoc<T>, by: &Principal) {
        let written = self
            .state
            .sync
            .write(doc.id(), doc.automerge().save(), by.clone())
            .await
            .expect("the hub answers");
        assert_eq!(written, Ok(()), "the hub accepts the document");
    }

    /// Every file under the data directory, relative to it.
    fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else {
                    out.push(path.strip_prefix(base).unwrap().to_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.data, &self.data, &mut out);
        out
    }

    /// The blob files (complete and partial), relative to `blobs/`.
    fn blob_files(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .files()
            .into_iter()
            .filter_map(|p| {
                let p = p.strip_prefix("blobs").ok()?.to_owned();
                (p.starts_with("objects") || p.starts_with("partial"))
                    .then(|| p.to_string_lossy().into_owned())
            })
            .collect();
        out.sort();
        out
    }
}

fn object_file(sha: &str) -> String {
    format!("objects/{}/{sha}", &sha[..2])
}

#[tokio::test]
async fn a_whole_upload_is_served_once_a_document_references_it() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let (original, copy, thumb) = photo_set(5000, 1);
    let id = EvidenceId::of(&original).to_string();

    let a = h.head(&token, &id).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        (a.offset(), a.header("upload-complete")),
        (Some(0), Some("false"))
    );

    let a = h.put_whole(&token, &original).await;
    assert_eq!(
        a.status,
        StatusCode::CREATED,
        "{:?}",
        String::from_utf8_lossy(&a.body)
    );
    let body = a.json();
    assert_eq!(body["sha256"], id.as_str());
    assert_eq!(
        (body["offset"].as_u64(), body["complete"].as_bool()),
        (Some(5000), Some(true))
    );
    assert_eq!(h.blob_files(), [object_file(&id)]);

    let a = h.head(&token, &id).await;
    assert_eq!(
        (a.offset(), a.header("upload-complete")),
        (Some(5000), Some("true"))
    );
    assert_eq!(a.header("content-length"), Some("5000"));

    // Not referenced yet: not served, to anyone.
    let a = h.get(&token, &id, &[]).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::NOT_FOUND, "blob_not_found")
    );

    let doc = case_with(11, evidence(&original, &copy, &thumb, "officer:wang"));
    h.push(&doc, &wang).await;

    let a = h.get(&token, &id, &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, original);
    assert_eq!(a.header("etag"), Some(format!("\"{id}\"").as_str()));
    assert_eq!(
        a.header("cache-control"),
        Some("private, max-age=31536000, immutable")
    );
    assert_eq!(a.header("content-type"), Some("image/jpeg"));
    assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(a.header("content-length"), Some("5000"));

    let a = h
        .get(&token, &id, &[("if-none-match", &format!("\"{id}\""))])
        .await;
    assert_eq!(a.status, StatusCode::NOT_MODIFIED);
    assert!(a.body.is_empty());

    // Again: already complete, nothing rewritten (the body is not even read).
    let a = h.put_whole(&token, &original).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["complete"], true);

    // The derivatives are referenced too: uploaded later, they are served at once.
    assert_eq!(h.put_whole(&token, &copy).await.status, StatusCode::CREATED);
    assert_eq!(
        h.get(&token, &EvidenceId::of(&copy).to_string(), &[])
            .await
            .body,
        copy
    );

    let m = h.state.metrics.snapshot();
    assert_eq!(
        (m.blobs_stored, m.blob_bytes_received, m.blobs_rejected),
        (2, 5900, 0)
    );
    let text = h.state.metrics.render();
    assert!(text.contains("\nzhichao_blobs_stored_total 2\n"), "{text}");
}

#[tokio::test]
async fn uploads_need_a_token_and_a_role_that_writes_photos() {
    let h = harness().await;
    let id = EvidenceId::of(b"x").to_string();
    for method in [Method::HEAD, Method::PUT, Method::GET] {
        let r = Harness::request(method.clone(), &format!("/v1/blobs/{id}"), None);
        let a = h.send(r.body(Body::from("x")).unwrap()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method}");
        let r = Harness::request(
            method.clone(),
            &format!("/v1/blobs/{id}"),
            Some("zat_nonsense"),
        );
        let a = h.send(r.body(Body::from("x")).unwrap()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method}");
    }
    let admin = h
        .token(Principal::Admin {
            id: pid("admin:li"),
        })
        .await;
    let a = h.head(&admin, &id).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = h.put_whole(&admin, b"x").await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    assert_eq!(h.get(&admin, &id, &[]).await.status, StatusCode::NOT_FOUND);
    for p in [enterprise("unit:a", UNIT_A), supervisor()] {
        let token = h.token(p).await;
        assert_eq!(h.head(&token, &id).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_chunked_upload_resumes_from_head_after_an_interruption() {
    let h = harness().await;
    let token = h.token(officer("officer:wang", "team-1")).await;
    let data = photo_bytes(10_000, 4);
    let total = data.len() as u64;
    let id = EvidenceId::of(&data).to_string();
    const CHUNK: usize = 3_000;
    let mut accepted_starts = Vec::new();

    // Two chunks go through.
    for start in [0, CHUNK] {
        let a = h
            .put_chunk(
                &token,
                &id,
                start as u64,
                total,
                &data[start..start + CHUNK],
            )
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED);
        assert_eq!(a.offset(), Some((start + CHUNK) as u64));
        assert_eq!(a.json()["complete"], false);
        accepted_starts.push(start as u64);
    }
    // The third is cut off mid-body (the app was killed, the network dropped).
    let start = 2 * CHUNK;
    let r = Harness::request(Method::PUT, &format!("/v1/blobs/{id}"), Some(&token)).header(
        header::CONTENT_RANGE,
        format!("bytes {start}-{}/{total}", start + CHUNK - 1),
    );
    let half = Bytes::copy_from_slice(&data[start..start + CHUNK / 2]);
    let cut = futures_util::stream::iter(vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "cut",
        )),
    ]);
    let a = h.send(r.body(Body::from_stream(cut)).unwrap()).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::BAD_REQUEST, "incomplete_chunk")
    );

    // The phone asks where to go on: nothing of the cut chunk was kept.
    let mut offset = h.head(&token, &id).await.offset().unwrap();
    assert_eq!(offset, 2 * CHUNK as u64);
    assert!(!h.blob_files().iter().any(|f| f.starts_with("objects")));
    loop {
        let from = usize::try_from(offset).unwrap();
        let to = (from + CHUNK).min(data.len());
        let a = h
            .put_chunk(&token, &id, offset, total, &data[from..to])
            .await;
        accepted_starts.push(offset);
        if a.status == StatusCode::CREATED {
            break;
        }
        assert_eq!(a.status, StatusCode::ACCEPTED);
        offset = a.offset().unwrap();
    }
    assert_eq!(
        accepted_starts,
        [0, 3_000, 6_000, 9_000],
        "no chunk sent twice"
    );
    assert_eq!(h.blob_files(), [object_file(&id)]);
    let stored = std::fs::read(h.data.join("blobs").join(object_file(&id))).unwrap();
    assert_eq!(stored, data);
}

#[tokio::test]
async fn chunks_out_of_order_or_of_another_size_are_refused_with_the_offset() {
    let h = harness().await;
    let token = h.token(officer("officer:wang", "team-1")).await;
    let data = photo_bytes(4_000, 5);
    let id = EvidenceId::of(&data).to_string();
    assert_eq!(
        h.put_chunk(&token, &id, 0, 4_000, &data[..1_000])
            .await
            .status,
        StatusCode::ACCEPTED
    );

    // Skipping ahead, and repeating the first chunk.
    for start in [2_000usize, 0] {
        let a = h
            .put_chunk(
                &token,
                &id,
                start as u64,
                4_000,
                &data[start..start + 1_000],
            )
            .await;
        assert_eq!(a.status, StatusCode::CONFLICT);
        assert_eq!(a.code(), "blob_offset_mismatch");
        assert_eq!(a.offset(), Some(1_000));
    }
    // Another total than the first chunk declared.
    let a = h
        .put_chunk(&token, &id, 1_000, 5_000, &data[1_000..2_000])
        .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::CONFLICT, "blob_total_mismatch")
    );
    assert_eq!(a.offset(), Some(1_000));
    // A body of another length than the range: refused before anything is written.
    let r = Harness::request(Method::PUT, &format!("/v1/blobs/{id}"), Some(&token))
        .header(header::CONTENT_RANGE, "bytes 1000-1999/4000");
    let a = h
        .send(r.body(Body::from(data[1_000..1_500].to_vec())).unwrap())
        .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::BAD_REQUEST, "chunk_length_mismatch")
    );
    // Malformed ranges.
    for range in [
        "bytes 1000-999/4000",
        "bytes 1000-4000/4000",
        "bytes */4000",
        "1000-1999/4000",
    ] {
        let r = Harness::request(Method::PUT, &format!("/v1/blobs/{id}"), Some(&token))
            .header(header::CONTENT_RANGE, range);
        let a = h.send(r.body(Body::from(vec![0u8; 1_000])).unwrap()).await;
        assert_eq!(
            (a.status, a.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_content_range"),
            "{range}"
        );
    }
    assert_eq!(h.head(&token, &id).await.offset(), Some(1_000));
    assert_eq!(h.state.metrics.snapshot().blobs_rejected, 8);
    // The right chunk still goes on.
    assert_eq!(
        h.put_chunk(&token, &id, 1_000, 4_000, &data[1_000..])
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_blob_over_the_cap_is_refused_before_its_body_is_read() {
    let h = harness_with(|c| c.blobs.max_blob_bytes = 10_000).await;
    let token = h.token(officer("officer:wang", "team-1")).await;
    let id = EvidenceId::of(b"big").to_string();
    let read = Arc::new(AtomicBool::new(false));
    let body = {
        let read = Arc::clone(&read);
        futures_util::stream::once(async move {
            read.store(true, Ordering::SeqCst);
            Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 1_000]))
        })
    };
    let r = Harness::request(Method::PUT, &format!("/v1/blobs/{id}"), Some(&token))
        .header(header::CONTENT_RANGE, "bytes 0-999/10001");
    let a = h.send(r.body(Body::from_stream(body)).unwrap()).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "blob_too_large")
    );
    assert!(!read.load(Ordering::SeqCst), "the body was not read");
    // The whole blob in one request, by its Content-Length.
    let a = h.put_whole(&token, &photo_bytes(10_001, 6)).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "blob_too_large")
    );
    // At the cap is fine.
    assert_eq!(
        h.put_whole(&token, &photo_bytes(10_000, 6)).await.status,
        StatusCode::CREATED
    );

    // One request over the per-request limit, within the cap.
    let h = harness().await;
    let token = h.token(officer("officer:wang", "team-1")).await;
    let r = Harness::request(Method::PUT, &format!("/v1/blobs/{id}"), Some(&token)).header(
        header::CONTENT_RANGE,
        format!("bytes 0-{}/20000000", 9 * 1024 * 1024 - 1),
    );
    let a = h.send(r.body(Body::empty()).unwrap()).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "chunk_too_large")
    );
    assert!(h.blob_files().is_empty());
}

#[tokio::test]
async fn a_hash_mismatch_is_refused_and_leaves_nothing() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let claimed = photo_bytes(3_000, 7);
    let id = EvidenceId::of(&claimed).to_string();
    let other = photo_bytes(3_000, 8);
    assert_eq!(
        h.put_chunk(&token, &id, 0, 3_000, &other[..2_000])
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let a = h
        .put_chunk(&token, &id, 2_000, 3_000, &other[2_000..])
        .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "blob_hash_mismatch")
    );
    let a = h.head(&token, &id).await;
    assert_eq!(
        (a.offset(), a.header("upload-complete")),
        (Some(0), Some("false"))
    );
    assert!(h.blob_files().is_empty(), "{:?}", h.blob_files());
    // Even referenced, there is nothing to serve.
    let doc = case_with(12, evidence(&claimed, b"c", b"t", "officer:wang"));
    h.push(&doc, &wang).await;
    assert_eq!(h.get(&token, &id, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.state.metrics.snapshot().blobs_rejected, 1);
    // The right bytes are then taken from zero.
    assert_eq!(
        h.put_whole(&token, &claimed).await.status,
        StatusCode::CREATED
    );
    assert_eq!(h.get(&token, &id, &[]).await.body, claimed);
}

#[tokio::test]
async fn bad_ids_never_reach_the_file_system() {
    let h = harness().await;
    let token = h.token(officer("officer:wang", "team-1")).await;
    let data = photo_bytes(100, 9);
    let id = EvidenceId::of(&data).to_string();
    for bad in [
        "../etc".to_owned(),
        "..%2f..%2fetc%2fpasswd".to_owned(),
        "%2e%2e".to_owned(),
        id[..63].to_owned(),
        format!("{id}0"),
        format!("+{}", &id[1..]),
        format!("%20{}", &id[1..]),
        format!("{}%00", &id[..63]),
        format!("{}.jpg", &id[..60]),
        "%ff%fe".to_owned(),
    ] {
        for method in [Method::HEAD, Method::PUT, Method::GET] {
            let r = Harness::request(method.clone(), &format!("/v1/blobs/{bad}"), Some(&token))
                .header(header::CONTENT_LENGTH, data.len());
            let a = h.send(r.body(Body::from(data.clone())).unwrap()).await;
            assert!(
                a.status == StatusCode::BAD_REQUEST || a.status == StatusCode::NOT_FOUND,
                "{method} {bad}: {}",
                a.status
            );
            if a.status == StatusCode::BAD_REQUEST && method != Method::HEAD {
                assert_eq!(a.code(), "invalid_blob_id", "{method} {bad}");
            }
        }
    }
    // Paths with more segments do not match the route at all.
    for bad in ["../../etc/passwd", &format!("{id}/x"), &format!("x/{id}")] {
        let r = Harness::request(Method::PUT, &format!("/v1/blobs/{bad}"), Some(&token));
        let a = h.send(r.body(Body::from(data.clone())).unwrap()).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{bad}");
    }
    assert!(h.blob_files().is_empty());

    // Upper case is the same id, stored under its lower-case name.
    let upper = id.to_uppercase();
    let r = Harness::request(Method::PUT, &format!("/v1/blobs/{upper}"), Some(&token));
    let a = h.send(r.body(Body::from(data.clone())).unwrap()).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.json()["sha256"], id.as_str());
    assert_eq!(
        h.head(&token, &id).await.header("upload-complete"),
        Some("true")
    );
    assert_eq!(h.blob_files(), [object_file(&id)]);
    for file in h.files() {
        let top = file
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        assert!(
            ["docs", "auth", "log", "blobs", "ingest"].contains(&top.as_str()),
            "{}",
            file.display()
        );
    }
}

#[tokio::test]
async fn unreferenced_blobs_are_hidden_then_swept_and_referenced_ones_stay() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let (kept, lone) = (photo_bytes(800, 10), photo_bytes(800, 11));
    let unfinished = photo_bytes(800, 12);
    for blob in [&kept, &lone] {
        assert_eq!(h.put_whole(&token, blob).await.status, StatusCode::CREATED);
    }
    let unfinished_id = EvidenceId::of(&unfinished).to_string();
    h.put_chunk(&token, &unfinished_id, 0, 800, &unfinished[..400])
        .await;
    let doc = case_with(13, evidence(&kept, b"copy", b"thumb", "officer:wang"));
    h.push(&doc, &wang).await;
    let (kept_id, lone_id) = (
        EvidenceId::of(&kept).to_string(),
        EvidenceId::of(&lone).to_string(),
    );
    assert_eq!(h.get(&token, &kept_id, &[]).await.status, StatusCode::OK);
    assert_eq!(
        h.get(&token, &lone_id, &[]).await.status,
        StatusCode::NOT_FOUND
    );

    let ttl = h.state.config.blobs.unreferenced_ttl;
    assert_eq!(ttl, Duration::from_secs(72 * 3_600));
    h.clock.advance(ttl - Duration::from_secs(60));
    let report = h.state.blobs.sweep(h.state.now_ms(), ttl).unwrap();
    assert_eq!((report.blobs_removed, report.partials_removed), (0, 0));
    h.clock.advance(Duration::from_secs(60));
    let report = h.state.blobs.sweep(h.state.now_ms(), ttl).unwrap();
    assert_eq!((report.blobs_removed, report.partials_removed), (1, 1));
    assert_eq!(report.bytes_freed, 800 + 400);

    assert_eq!(h.head(&token, &lone_id).await.offset(), Some(0));
    assert_eq!(h.head(&token, &unfinished_id).await.offset(), Some(0));
    let a = h.get(&token, &kept_id, &[]).await;
    assert_eq!((a.status, a.body.len()), (StatusCode::OK, 800));
    assert_eq!(h.blob_files(), [object_file(&kept_id)]);
}

#[tokio::test]
async fn ranges_are_served_from_the_file() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let data = photo_bytes(1_000, 13);
    let id = EvidenceId::of(&data).to_string();
    h.put_whole(&token, &data).await;
    let doc = case_with(14, evidence(&data, b"copy", b"thumb", "officer:wang"));
    h.push(&doc, &wang).await;

    let a = h.get(&token, &id, &[("range", "bytes=100-199")]).await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(a.body, &data[100..200]);
    assert_eq!(a.header("content-range"), Some("bytes 100-199/1000"));
    assert_eq!(a.header("content-type"), Some("image/jpeg"));
    assert_eq!(a.header("etag"), Some(format!("\"{id}\"").as_str()));
    let a = h.get(&token, &id, &[("range", "bytes=-10")]).await;
    assert_eq!(
        (a.status, a.body.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &data[990..])
    );
    let a = h.get(&token, &id, &[("range", "bytes=900-")]).await;
    assert_eq!(a.body, &data[900..]);
    // Several ranges: the whole blob.
    let a = h.get(&token, &id, &[("range", "bytes=0-9,20-29")]).await;
    assert_eq!((a.status, a.body.len()), (StatusCode::OK, 1_000));
    // Outside the blob.
    let a = h.get(&token, &id, &[("range", "bytes=5000-6000")]).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
    );
    assert_eq!(a.header("content-range"), Some("bytes */1000"));
    // If-Range with another validator: the whole blob; with ours: the range.
    let a = h
        .get(
            &token,
            &id,
            &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
        )
        .await;
    assert_eq!((a.status, a.body.len()), (StatusCode::OK, 1_000));
    let etag = format!("\"{id}\"");
    let a = h
        .get(&token, &id, &[("range", "bytes=0-9"), ("if-range", &etag)])
        .await;
    assert_eq!(
        (a.status, a.body.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &data[..10])
    );
}

/// A case of team 1 with one photo (original, evidence copy, thumbnail), a notice of team 1
/// to unit A listing its derivatives, and a notice-only photo.
struct Evidence {
    original: Vec<u8>,
    copy: Vec<u8>,
    thumb: Vec<u8>,
    notice_only: Vec<u8>,
}

async fn case_and_notice(h: &Harness) -> Evidence {
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let e = Evidence {
        original: photo_bytes(3_000, 20),
        copy: photo_bytes(1_000, 21),
        thumb: photo_bytes(300, 22),
        notice_only: photo_bytes(1_000, 23),
    };
    for blob in [&e.original, &e.copy, &e.thumb, &e.notice_only] {
        assert_eq!(h.put_whole(&token, blob).await.status, StatusCode::CREATED);
    }
    let doc = case_with(15, evidence(&e.original, &e.copy, &e.thumb, "officer:wang"));
    h.push(&doc, &wang).await;
    let n = notice(
        40,
        "team-1",
        UNIT_A,
        doc.id(),
        vec![
            notice_photo(&e.copy, &e.thumb),
            notice_photo(&e.notice_only, &e.thumb[..100]),
        ],
    );
    h.push(&n, &wang).await;
    e
}

#[tokio::test]
async fn read_access_follows_the_documents_that_reference_a_blob() {
    let h = harness().await;
    let e = case_and_notice(&h).await;
    let id = |b: &[u8]| EvidenceId::of(b).to_string();
    let status = async |p: Principal, blob: &[u8]| {
        let token = h.token(p).await;
        h.get(&token, &id(blob), &[]).await.status
    };
    let (ok, none) = (StatusCode::OK, StatusCode::NOT_FOUND);
    // The team that wrote them reads everything; the county's supervisor too.
    for blob in [&e.original, &e.copy, &e.thumb, &e.notice_only] {
        assert_eq!(status(officer("officer:li", "team-1"), blob).await, ok);
        assert_eq!(status(supervisor(), blob).await, ok);
    }
    // Another team of the county reads the county's cases (so their photos), not another
    // team's notices.
    let zhou = officer("officer:zhou", "team-2");
    assert_eq!(status(zhou.clone(), &e.original).await, ok);
    assert_eq!(status(zhou, &e.notice_only).await, none);
    // An officer of another county: nothing.
    for blob in [&e.original, &e.copy, &e.notice_only] {
        assert_eq!(status(officer_elsewhere("officer:qin"), blob).await, none);
    }
    // The unit the notice is addressed to sees the notice's derivatives, never the original;
    // another enterprise sees nothing — the same 404 as for a blob that does not exist.
    let unit_a = enterprise("unit:a", UNIT_A);
    assert_eq!(status(unit_a.clone(), &e.copy).await, ok);
    assert_eq!(status(unit_a.clone(), &e.notice_only).await, ok);
    assert_eq!(status(unit_a.clone(), &e.original).await, none);
    let unit_b = enterprise("unit:b", UNIT_B);
    let token_b = h.token(unit_b).await;
    let missing = h.get(&token_b, &id(b"never uploaded"), &[]).await;
    let hidden = h.get(&token_b, &id(&e.copy), &[]).await;
    assert_eq!((hidden.status, hidden.body), (missing.status, missing.body));
}

#[tokio::test]
async fn an_enterprise_never_gets_a_case_original_even_when_a_notice_lists_it() {
    let h = harness().await;
    let e = case_and_notice(&h).await;
    let wang = officer("officer:wang", "team-1");
    // A notice that wrongly lists the case's original as an "evidence copy".
    let wrong = notice(
        41,
        "team-1",
        UNIT_A,
        DocumentId::from_bytes([9; 16]),
        vec![notice_photo(&e.original, &e.thumb)],
    );
    h.push(&wrong, &wang).await;
    let original = EvidenceId::of(&e.original).to_string();
    let unit_a = h.token(enterprise("unit:a", UNIT_A)).await;
    let a = h.get(&unit_a, &original, &[]).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::NOT_FOUND, "blob_not_found")
    );
    let a = h.get(&unit_a, &original, &[("range", "bytes=0-9")]).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // The officers still read it.
    let officer_token = h.token(wang.clone()).await;
    assert_eq!(h.get(&officer_token, &original, &[]).await.body, e.original);

    // The enterprise's own originals, in its response, reach it and the notice's team.
    let own = photo_bytes(2_000, 30);
    let (own_copy, own_thumb) = (photo_bytes(500, 31), photo_bytes(100, 32));
    assert_eq!(h.put_whole(&unit_a, &own).await.status, StatusCode::CREATED);
    let answer = response(
        50,
        "unit:a",
        UNIT_A,
        DocumentId::from_bytes([40; 16]),
        vec![evidence(&own, &own_copy, &own_thumb, "unit:a")],
    );
    h.push(&answer, &enterprise("unit:a", UNIT_A)).await;
    let own_id = EvidenceId::of(&own).to_string();
    assert_eq!(h.get(&unit_a, &own_id, &[]).await.body, own);
    assert_eq!(h.get(&officer_token, &own_id, &[]).await.body, own);
    let unit_b = h.token(enterprise("unit:b", UNIT_B)).await;
    assert_eq!(
        h.get(&unit_b, &own_id, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let zhou = h.token(officer("officer:zhou", "team-2")).await;
    assert_eq!(
        h.get(&zhou, &own_id, &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_of_the_same_chunk_do_not_corrupt_the_blob() {
    let h = Arc::new(harness().await);
    let token = h.token(officer("officer:wang", "team-1")).await;
    let data = Arc::new(photo_bytes(200_000, 40));
    let id = EvidenceId::of(&data).to_string();
    let total = data.len() as u64;
    let round = async |start: usize, end: usize| {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (h, token, id, data) =
                    (Arc::clone(&h), token.clone(), id.clone(), Arc::clone(&data));
                tokio::spawn(async move {
                    let a = h
                        .put_chunk(&token, &id, start as u64, total, &data[start..end])
                        .await;
                    (a.status, a.offset())
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        answers
    };
    let first = round(0, 100_000).await;
    let taken = first
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .count();
    assert_eq!(taken, 1, "{first:?}");
    assert!(
        first.iter().all(|(s, o)| *o == Some(100_000)
            && (*s == StatusCode::ACCEPTED || *s == StatusCode::CONFLICT)),
        "{first:?}"
    );
    let last = round(100_000, 200_000).await;
    let created = last
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{last:?}");
    assert!(
        last.iter()
            .all(|(s, _)| [StatusCode::CREATED, StatusCode::OK, StatusCode::CONFLICT].contains(s)),
        "{last:?}"
    );
    let stored = std::fs::read(h.data.join("blobs").join(object_file(&id))).unwrap();
    assert!(stored == *data, "the stored blob is the uploaded one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_server_speaks_the_same_contract() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = h.state.clone();
    let server = tokio::spawn(async move {
        let stop = serving.shutdown_signal();
        let _ = serve(listener, serving, stop).await;
    });
    let data = photo_bytes(300_000, 50);
    let id = EvidenceId::of(&data).to_string();
    let doc = case_with(16, evidence(&data, b"copy", b"thumb", "officer:wang"));
    h.push(&doc, &wang).await;
    let url = format!("http://{addr}/v1/blobs/{id}");
    let expected = data.clone();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let auth = format!("Bearer {token}");
        let head = || {
            agent
                .head(&url)
                .header("Authorization", &auth)
                .call()
                .unwrap()
        };
        let r = head();
        assert_eq!(r.headers()["upload-offset"], "0");
        const CHUNK: usize = 128 * 1024;
        let mut offset = 0;
        while offset < data.len() {
            let end = (offset + CHUNK).min(data.len());
            let r = agent
                .put(&url)
                .header("Authorization", &auth)
                .header(
                    "Content-Range",
                    format!("bytes {offset}-{}/{}", end - 1, data.len()),
                )
                .send(&data[offset..end])
                .unwrap();
            let want = if end == data.len() { 201 } else { 202 };
            assert_eq!(r.status().as_u16(), want);
            assert_eq!(r.headers()["upload-offset"], end.to_string().as_str());
            offset = end;
        }
        let r = head();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["upload-complete"], "true");
        assert_eq!(
            r.headers()["content-length"],
            data.len().to_string().as_str()
        );
        let mut r = agent
            .get(&url)
            .header("Authorization", &auth)
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body = r
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .unwrap();
        assert!(body == expected);
        let mut r = agent
            .get(&url)
            .header("Authorization", &auth)
            .header("Range", "bytes=1000-1999")
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 206);
        assert!(r.body_mut().read_to_vec().unwrap() == expected[1000..2000]);
    })
    .await
    .unwrap();
    h.state.request_shutdown();
    let _ = server.await;
}

/// A case of officer Qin's team in another county listing `photo`: a reference by hash.
fn foreign_case(seed: u8, photo: EvidenceRef) -> TypedDoc<Case> {
    let header = Header {
        scope: other_county(),
        ..case_header("officer:qin", "team-9")
    };
    let mut doc = TypedDoc::create(
        DocumentId::from_bytes([seed; 16]),
        ActorId::random(),
        &header,
        &case_body(u32::from(seed)),
    )
    .unwrap();
    doc.update(&pid("officer:qin"), 0, |c| {
        c.evidence.push(photo);
        Ok(())
    })
    .unwrap();
    doc
}

/// A notice of officer Qin's team in another county to `unit`, listing `photos`.
fn foreign_notice(seed: u8, unit: &str, photos: Vec<NoticePhoto>) -> TypedDoc<Notice> {
    // The body of the fixture notice, under Qin's header.
    let body = notice(
        seed,
        "team-9",
        unit,
        DocumentId::from_bytes([9; 16]),
        photos,
    )
    .body()
    .unwrap();
    let header = Header {
        kind: DocKind::Notice,
        scope: other_county(),
        unit: Some(uscc(unit)),
        ..case_header("officer:qin", "team-9")
    };
    TypedDoc::create(
        DocumentId::from_bytes([seed; 16]),
        ActorId::random(),
        &header,
        &body,
    )
    .unwrap()
}

#[tokio::test]
async fn a_hash_learned_elsewhere_and_referenced_in_ones_own_document_grants_nothing() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let (original, copy, thumb) = photo_set(3_000, 60);
    for blob in [&original, &copy, &thumb] {
        assert_eq!(h.put_whole(&token, blob).await.status, StatusCode::CREATED);
    }
    let photo = evidence(&original, &copy, &thumb, "officer:wang");
    let own = case_with(17, photo.clone());
    h.push(&own, &wang).await;
    let id = EvidenceId::of(&original).to_string();
    assert_eq!(h.get(&token, &id, &[]).await.body, original);

    // Officer Qin of another county learns the hash and lists it as evidence of his own case:
    // the hub accepts the case and the reference is recorded…
    let qin = officer_elsewhere("officer:qin");
    let qin_token = h.token(qin.clone()).await;
    let theirs = foreign_case(70, photo);
    h.push(&theirs, &qin).await;
    let refs = h.state.blobs.refs_of(&EvidenceId::of(&original)).unwrap();
    assert!(refs.iter().any(|r| r.doc == theirs.id()), "{refs:?}");
    // …but Wang, the uploader, cannot read Qin's case: it grants nothing.
    for blob in [&original, &copy, &thumb] {
        let a = h
            .get(&qin_token, &EvidenceId::of(blob).to_string(), &[])
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_eq!(a.code(), "blob_not_found");
    }
    // A notice of Qin's team listing Wang's evidence copy does not deliver it to the
    // addressed enterprise either.
    let accomplice = notice_photo(&copy, &thumb);
    h.push(&foreign_notice(71, UNIT_B, vec![accomplice]), &qin)
        .await;
    let unit_b = h.token(enterprise("unit:b", UNIT_B)).await;
    let a = h
        .get(&unit_b, &EvidenceId::of(&copy).to_string(), &[])
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // Those who read Wang's case still do.
    let li = h.token(officer("officer:li", "team-1")).await;
    assert_eq!(h.get(&li, &id, &[]).await.body, original);
}

#[tokio::test]
async fn head_tells_a_stranger_nothing_about_a_complete_blob() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let data = photo_bytes(2_000, 63);
    let id = EvidenceId::of(&data).to_string();
    assert_eq!(h.put_whole(&token, &data).await.status, StatusCode::CREATED);
    let doc = case_with(18, evidence(&data, b"copy", b"thumb", "officer:wang"));
    h.push(&doc, &wang).await;

    // Officers of the county read the case: complete. Strangers: 0, not complete, no size.
    let zhou = h.token(officer("officer:zhou", "team-2")).await;
    let a = h.head(&zhou, &id).await;
    assert_eq!(
        (a.offset(), a.header("upload-complete")),
        (Some(2_000), Some("true"))
    );
    for stranger in [
        officer_elsewhere("officer:qin"),
        enterprise("unit:a", UNIT_A),
        Principal::Supervisor {
            id: pid("supervisor:qinshui"),
            scope: other_county(),
        },
    ] {
        let t = h.token(stranger.clone()).await;
        let a = h.head(&t, &id).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(
            (a.offset(), a.header("upload-complete")),
            (Some(0), Some("false")),
            "{stranger:?}"
        );
        // The same as for a hash nobody uploaded.
        let never = h.head(&t, &EvidenceId::of(b"never").to_string()).await;
        for name in ["upload-offset", "upload-complete", "content-length"] {
            assert_eq!(a.header(name), never.header(name), "{name}");
        }
    }
    // A PUT is a normal upload for them, starting from their own offset: a chunk elsewhere
    // is told 0.
    let qin = h.token(officer_elsewhere("officer:qin")).await;
    let a = h.put_chunk(&qin, &id, 1_000, 2_000, &data[1_000..]).await;
    assert_eq!(
        (a.status, a.code().as_str(), a.offset()),
        (StatusCode::CONFLICT, "blob_offset_mismatch", Some(0))
    );
}

#[tokio::test]
async fn uploading_the_bytes_proves_possession() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let (original, copy, thumb) = photo_set(3_000, 64);
    let id = EvidenceId::of(&original).to_string();
    assert_eq!(
        h.put_whole(&token, &original).await.status,
        StatusCode::CREATED
    );
    let photo = evidence(&original, &copy, &thumb, "officer:wang");
    h.push(&case_with(19, photo.clone()), &wang).await;

    // Officer Qin of another county holds the same photo (it reached him another way) and
    // sends it, in chunks like a phone: a normal upload, which ends in 201 without storing
    // the bytes twice.
    let qin = officer_elsewhere("officer:qin");
    let qin_token = h.token(qin.clone()).await;
    let a = h
        .put_chunk(&qin_token, &id, 0, 3_000, &original[..1_000])
        .await;
    assert_eq!((a.status, a.offset()), (StatusCode::ACCEPTED, Some(1_000)));
    let a = h.head(&qin_token, &id).await;
    assert_eq!(
        (a.offset(), a.header("upload-complete")),
        (Some(1_000), Some("false"))
    );
    let a = h
        .put_chunk(&qin_token, &id, 1_000, 3_000, &original[1_000..])
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(
        (a.json()["offset"].as_u64(), a.json()["complete"].as_bool()),
        (Some(3_000), Some(true))
    );
    assert_eq!(h.blob_files(), [object_file(&id)], "stored once");
    let a = h.head(&qin_token, &id).await;
    assert_eq!(
        (a.offset(), a.header("upload-complete")),
        (Some(3_000), Some("true"))
    );
    assert_eq!(a.header("content-length"), Some("3000"));
    // Again: already complete for him now (the body is not read).
    assert_eq!(
        h.put_whole(&qin_token, &original).await.status,
        StatusCode::OK
    );
    // Possession is not access to Wang's case: only his own documents grant him the photo.
    assert_eq!(
        h.get(&qin_token, &id, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    h.push(&foreign_case(72, photo), &qin).await;
    assert_eq!(h.get(&qin_token, &id, &[]).await.body, original);
    let m = h.state.metrics.snapshot();
    assert_eq!((m.blobs_stored, m.blob_bytes_received), (1, 6_000));
}

#[tokio::test]
async fn an_enterprise_cannot_squat_on_someone_elses_upload() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let token = h.token(wang.clone()).await;
    let data = photo_bytes(5_000, 67);
    let id = EvidenceId::of(&data).to_string();
    let unit_a = h.token(enterprise("unit:a", UNIT_A)).await;
    // Unit A declares a total of 64 MiB for Wang's hash…
    let a = h.put_chunk(&unit_a, &id, 0, 64 * 1024 * 1024, &[0]).await;
    assert_eq!((a.status, a.offset()), (StatusCode::ACCEPTED, Some(1)));
    // …and, for good measure, unit B the right total with garbage bytes.
    let unit_b = h.token(enterprise("unit:b", UNIT_B)).await;
    let a = h.put_chunk(&unit_b, &id, 0, 5_000, &vec![0u8; 4_000]).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);

    // Wang's upload knows nothing of theirs and completes normally.
    let a = h.head(&token, &id).await;
    assert_eq!(
        (a.offset(), a.header("upload-complete")),
        (Some(0), Some("false"))
    );
    let a = h.put_chunk(&token, &id, 0, 5_000, &data[..3_000]).await;
    assert_eq!((a.status, a.offset()), (StatusCode::ACCEPTED, Some(3_000)));
    let a = h.put_chunk(&token, &id, 3_000, 5_000, &data[3_000..]).await;
    assert_eq!(a.status, StatusCode::CREATED);
    let doc = case_with(20, evidence(&data, b"copy", b"thumb", "officer:wang"));
    h.push(&doc, &wang).await;
    assert_eq!(h.get(&token, &id, &[]).await.body, data);

    // The squatters still see only their own uploads; unit B's garbage ends in its 422.
    let a = h.head(&unit_a, &id).await;
    assert_eq!(
        (a.offset(), a.header("upload-complete")),
        (Some(1), Some("false"))
    );
    let a = h.put_chunk(&unit_b, &id, 4_000, 5_000, &[0u8; 1_000]).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "blob_hash_mismatch")
    );
    assert_eq!(h.get(&token, &id, &[]).await.body, data, "untouched");

    // A principal that declared a wrong total itself starts over with a chunk at 0.
    let other = photo_bytes(2_000, 68);
    let other_id = EvidenceId::of(&other).to_string();
    let a = h
        .put_chunk(&token, &other_id, 0, 2_500, &other[..1_000])
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let a = h
        .put_chunk(&token, &other_id, 1_000, 2_000, &other[1_000..])
        .await;
    assert_eq!(
        (a.status, a.code().as_str(), a.offset()),
        (StatusCode::CONFLICT, "blob_total_mismatch", Some(1_000))
    );
    let a = h.put_chunk(&token, &other_id, 0, 2_000, &other).await;
    assert_eq!(a.status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_enterprises_own_response_photos_reach_it_and_the_officers_who_read_the_response() {
    let h = harness().await;
    let e = case_and_notice(&h).await;
    let wang = officer("officer:wang", "team-1");
    let (unit_a, unit_b) = (enterprise("unit:a", UNIT_A), enterprise("unit:b", UNIT_B));
    let (token_a, token_b) = (h.token(unit_a.clone()).await, h.token(unit_b.clone()).await);
    let own = [
        photo_bytes(2_000, 80),
        photo_bytes(500, 81),
        photo_bytes(100, 82),
    ];
    for blob in &own {
        assert_eq!(
            h.put_whole(&token_a, blob).await.status,
            StatusCode::CREATED
        );
    }
    let answer = response(
        51,
        "unit:a",
        UNIT_A,
        DocumentId::from_bytes([40; 16]),
        vec![evidence(&own[0], &own[1], &own[2], "unit:a")],
    );
    h.push(&answer, &unit_a).await;
    let status = async |p: Principal, blob: &[u8]| {
        let token = h.token(p).await;
        h.get(&token, &EvidenceId::of(blob).to_string(), &[])
            .await
            .status
    };
    let (ok, none) = (StatusCode::OK, StatusCode::NOT_FOUND);
    for blob in &own {
        assert_eq!(status(unit_a.clone(), blob).await, ok);
        assert_eq!(status(wang.clone(), blob).await, ok);
        assert_eq!(status(officer("officer:li", "team-1"), blob).await, ok);
        assert_eq!(status(supervisor(), blob).await, ok);
        // Not the notice's team; another enterprise.
        assert_eq!(status(officer("officer:zhou", "team-2"), blob).await, none);
        assert_eq!(status(unit_b.clone(), blob).await, none);
    }
    let a = h.head(&token_a, &EvidenceId::of(&own[0]).to_string()).await;
    assert_eq!(a.header("upload-complete"), Some("true"));

    // Unit B, answering a notice of its own, lists unit A's photo by hash: nothing for it.
    let to_b = notice(
        42,
        "team-1",
        UNIT_B,
        DocumentId::from_bytes([9; 16]),
        vec![],
    );
    h.push(&to_b, &wang).await;
    let copycat = response(
        52,
        "unit:b",
        UNIT_B,
        to_b.id(),
        vec![evidence(&own[0], &own[1], &own[2], "unit:b")],
    );
    h.push(&copycat, &unit_b).await;
    assert_eq!(status(unit_b.clone(), &own[0]).await, none);
    let a = h.head(&token_b, &EvidenceId::of(&own[0]).to_string()).await;
    assert_eq!(a.header("upload-complete"), Some("false"));
    // Nor does listing a case original in a response deliver it to the enterprise.
    let greedy = response(
        53,
        "unit:a",
        UNIT_A,
        DocumentId::from_bytes([40; 16]),
        vec![evidence(&e.original, &e.copy, &e.thumb, "unit:a")],
    );
    h.push(&greedy, &unit_a).await;
    assert_eq!(status(unit_a, &e.original).await, none);
}

/// The second breaker round: a reference grants only when an uploader (or someone who could
/// read the blob already) added it. An enterprise listing an officer's other photo in its
/// response, or an officer of another county addressing a notice to an enterprise and listing
/// the enterprise's photo, gains nothing — though the uploader could read those documents.
#[tokio::test]
async fn a_reference_added_by_someone_who_could_not_read_the_blob_grants_nothing() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let wt = h.token(wang.clone()).await;
    let (o1, c1, t1) = photo_set(3_000, 101);
    let (o2, c2, t2) = photo_set(3_000, 111);
    for blob in [&o1, &c1, &t1, &o2, &c2, &t2] {
        assert_eq!(h.put_whole(&wt, blob).await.status, StatusCode::CREATED);
    }
    let case1 = case_with(41, evidence(&o1, &c1, &t1, "officer:wang"));
    h.push(&case1, &wang).await;
    let case2 = case_with(42, evidence(&o2, &c2, &t2, "officer:wang"));
    h.push(&case2, &wang).await;
    // Li, Wang's teammate, issues the notice with case 2's derivatives: he never uploaded
    // them but could read them through the case, so his notice shows them to unit A.
    let li = officer("officer:li", "team-1");
    let n = {
        let by_wang = notice(
            43,
            "team-1",
            UNIT_A,
            case2.id(),
            vec![notice_photo(&c2, &t2)],
        );
        let header = Header {
            created_by: pid("officer:li"),
            ..by_wang.header().unwrap()
        };
        TypedDoc::create(
            by_wang.id(),
            ActorId::random(),
            &header,
            &by_wang.body().unwrap(),
        )
        .unwrap()
    };
    h.push(&n, &li).await;
    let a = enterprise("unit:a", UNIT_A);
    let at = h.token(a.clone()).await;
    let c1_id = EvidenceId::of(&c1).to_string();
    assert_eq!(
        h.get(&at, &EvidenceId::of(&c2).to_string(), &[])
            .await
            .status,
        StatusCode::OK,
        "the notice's photo reaches the unit"
    );
    assert_eq!(h.get(&at, &c1_id, &[]).await.status, StatusCode::NOT_FOUND);

    // Unit A lists case 1's evidence copy (hash learned elsewhere) in its response.
    let (x1, x2) = (photo_bytes(50, 120), photo_bytes(40, 121));
    let r = response(
        44,
        "unit:a",
        UNIT_A,
        n.id(),
        vec![evidence(&c1, &x1, &x2, "unit:a")],
    );
    h.push(&r, &a).await;
    assert_eq!(h.get(&at, &c1_id, &[]).await.status, StatusCode::NOT_FOUND);
    let head = h.head(&at, &c1_id).await;
    assert_eq!(head.header("upload-complete"), Some("false"));

    // Unit A's own photo in its response reaches the officers who read the response …
    let (ap, ac, _) = h.unit_a_answers_with_a_photo(&a, &at, n.id()).await;
    let ap_id = EvidenceId::of(&ap).to_string();
    assert_eq!(h.get(&wt, &ap_id, &[]).await.status, StatusCode::OK);
    // … but not Qin, who addresses a notice of his own to unit A listing that photo.
    let qin = officer_elsewhere("officer:qin");
    let qt = h.token(qin.clone()).await;
    let q_notice = foreign_notice(46, UNIT_A, vec![notice_photo(&ap, &ac)]);
    h.push(&q_notice, &qin).await;
    assert_eq!(h.get(&qt, &ap_id, &[]).await.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Who added a reference (the third breaker round): the hub credits each reference to the
// principal whose change introduced it, not to whoever else's changes ride on the same save.

fn township_officer(id: &str, team: &str) -> Principal {
    Principal::Officer {
        id: pid(id),
        team: zhichao_core::ids::TeamId::new(team).unwrap(),
        scope: town(),
    }
}

fn town() -> zhichao_core::scope::Scope {
    zhichao_core::scope::Scope::township(
        zhichao_core::jurisdiction::YANGCHENG_COUNTY,
        "140522100".parse().unwrap(),
    )
    .unwrap()
}

/// A team-1 case in the township, created by `by`, no photos.
fn town_case(seed: u8, by: &str) -> TypedDoc<Case> {
    let header = Header {
        scope: town(),
        ..case_header(by, "team-1")
    };
    let mut body = case_body(u32::from(seed));
    body.source_unit = Some(uscc(UNIT_A));
    TypedDoc::create(
        DocumentId::from_bytes([seed; 16]),
        ActorId::random(),
        &header,
        &body,
    )
    .unwrap()
}

fn fork<T: DocBody>(d: &TypedDoc<T>) -> TypedDoc<T> {
    TypedDoc::open(d.id(), d.automerge().fork()).unwrap()
}

/// Another replica of case `d` on which `by` added `photo`.
fn with_photo(d: &TypedDoc<Case>, by: &str, photo: EvidenceRef) -> TypedDoc<Case> {
    let mut copy = fork(d);
    copy.update(&pid(by), 0, |c| {
        c.evidence.push(photo);
        Ok(())
    })
    .unwrap();
    copy
}

/// A harmless photo of `by`'s (stand-in bytes), for an edit that must not matter.
fn unrelated_photo(by: &str) -> EvidenceRef {
    evidence(
        &photo_bytes(10, 1),
        &photo_bytes(11, 2),
        &photo_bytes(12, 3),
        by,
    )
}

/// A big unrelated case, pushed first without awaiting, so the driver thread is busy while the
/// next writes queue up (they are then drained together, one flush).
fn blocker(seed: u64) -> TypedDoc<Case> {
    // A large document whose save keeps the driver busy, so the next writes arrive in one
    // drain and ride on one save.
    let mut doc = case(seed, "officer:wang", "team-1");
    let photos: Vec<EvidenceRef> = (0..300usize)
        .map(|i| {
            let (o, c, t) = (
                photo_bytes(40 + i, 1),
                photo_bytes(400 + i, 1),
                photo_bytes(800 + i, 1),
            );
            let mut e = evidence(&o, &c, &t, "officer:wang");
            e.caption = format!("padding {i} {}", "x".repeat(2000));
            e
        })
        .collect();
    doc.update(&pid("officer:wang"), 0, |c| {
        c.evidence.extend(photos);
        Ok(())
    })
    .unwrap();
    doc
}

/// Setup: officer Zhou of team 2 uploads a photo and lists it in a county-wide case of team 2.
async fn zhou_photo(h: &Harness) -> (Vec<u8>, Vec<u8>, Vec<u8>, EvidenceRef) {
    let zhou = officer("officer:zhou", "team-2");
    let zt = h.token(zhou.clone()).await;
    let (o, c, t) = photo_set(3_000, 200);
    for b in [&o, &c, &t] {
        assert_eq!(h.put_whole(&zt, b).await.status, StatusCode::CREATED);
    }
    let mut zc = case(77, "officer:zhou", "team-2");
    let e = evidence(&o, &c, &t, "officer:zhou");
    zc.update(&pid("officer:zhou"), 0, |c| {
        c.evidence.push(e.clone());
        Ok(())
    })
    .unwrap();
    h.push(&zc, &zhou).await;
    (o, c, t, e)
}

/// F1: a township officer (cannot read county-wide cases) piggybacks a reference to a photo
/// he cannot read on a save that also carries his county-scoped teammate's change.
#[tokio::test]
async fn a_reference_riding_on_a_teammates_save_is_still_its_adders() {
    let h = harness().await;
    let (o, _c, _t, e) = zhou_photo(&h).await;
    let oid = EvidenceId::of(&o).to_string();
    let x = township_officer("officer:xu", "team-1"); // attacker
    let y = officer("officer:wang", "team-1"); // county scope, reads Zhou's case
    let xt = h.token(x.clone()).await;
    let yt = h.token(y.clone()).await;
    assert_eq!(
        h.get(&xt, &oid, &[]).await.status,
        StatusCode::NOT_FOUND,
        "X cannot read it"
    );
    assert_eq!(h.get(&yt, &oid, &[]).await.status, StatusCode::OK, "Y can");

    // D: a township case of team 1, created by Y; both may write it.
    let d = town_case(90, "officer:wang");
    h.push(&d, &y).await;

    // Control: X alone adds the reference -> nothing (tested on another case).
    let d2 = town_case(91, "officer:xu");
    h.push(&d2, &x).await;
    let d2x = with_photo(&d2, "officer:xu", e.clone());
    h.push(&d2x, &x).await;
    assert_eq!(
        h.get(&xt, &oid, &[]).await.status,
        StatusCode::NOT_FOUND,
        "control"
    );

    // Attack: Y edits something harmless; X adds the reference; both queued in one drain.
    let dy = with_photo(&d, "officer:wang", unrelated_photo("officer:wang"));
    let dx = with_photo(&d, "officer:xu", e.clone());
    h.write_together(4242, &y, &[(&dy, &y), (&dx, &x)]).await;
    assert_eq!(
        h.get(&xt, &oid, &[]).await.status,
        StatusCode::NOT_FOUND,
        "X's reference rode on Wang's save but is X's: it grants nothing"
    );
}

/// F2 (false denial): the uploader's own reference rides on a save whose first change is a
/// teammate's unrelated edit: recorded as the teammate's, unvouched, the photo is lost to all.
#[tokio::test]
async fn an_uploaders_reference_stays_his_when_a_teammate_edits_at_the_same_time() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let li = officer("officer:li", "team-1");
    let wt = h.token(wang.clone()).await;
    let (o, c, t) = photo_set(3_000, 150);
    for b in [&o, &c, &t] {
        assert_eq!(h.put_whole(&wt, b).await.status, StatusCode::CREATED);
    }
    let d = case(93, "officer:wang", "team-1");
    h.push(&d, &wang).await;
    let dl = with_photo(&d, "officer:li", unrelated_photo("officer:li"));
    let dw = with_photo(&d, "officer:wang", evidence(&o, &c, &t, "officer:wang"));
    h.write_together(4343, &wang, &[(&dl, &li), (&dw, &wang)])
        .await;
    let oid = EvidenceId::of(&o).to_string();
    assert_eq!(
        h.get(&wt, &oid, &[]).await.status,
        StatusCode::OK,
        "Wang's reference is Wang's, though Li's edit rode on the same save"
    );
    assert_eq!(
        h.get(&h.token(li.clone()).await, &oid, &[]).await.status,
        StatusCode::OK,
        "and his teammate reads it through the case"
    );
}

/// F3 (false denial): a reference first recorded by an unvouched adder stays unvouched when
/// someone who could vouch lists the same photo again in the same document.
#[tokio::test]
async fn a_reference_added_again_by_someone_who_may_read_the_photo_is_vouched_for() {
    let h = harness().await;
    let (o, _c, _t, e) = zhou_photo(&h).await;
    let oid = EvidenceId::of(&o).to_string();
    let x = township_officer("officer:xu", "team-1");
    let y = officer("officer:wang", "team-1");
    let yt = h.token(y.clone()).await;
    let tt = h.token(township_officer("officer:ma", "team-1")).await;
    let d = town_case(94, "officer:xu");
    h.push(&d, &x).await;
    let dx = with_photo(&d, "officer:xu", e.clone());
    h.push(&dx, &x).await;
    // Y, who reads Zhou's case, lists the photo himself in the same case.
    let mut dy = fork(&dx);
    dy.update(&pid("officer:wang"), 0, |c| {
        c.evidence.clear();
        Ok(())
    })
    .unwrap();
    h.push(&dy, &y).await;
    assert!(
        h.state
            .blobs
            .refs_of(&EvidenceId::of(&o))
            .unwrap()
            .iter()
            .any(|r| r.doc == d.id()),
        "ref kept after removal"
    );
    dy.update(&pid("officer:wang"), 0, |c| {
        c.evidence.push(e.clone());
        Ok(())
    })
    .unwrap();
    h.push(&dy, &y).await;
    assert_eq!(h.get(&yt, &oid, &[]).await.status, StatusCode::OK);
    assert_eq!(
        h.get(&tt, &oid, &[]).await.status,
        StatusCode::OK,
        "Wang, who reads the photo, added it again: his adding vouches for the reference"
    );
}

/// F4 (denial): any officer anywhere listing an enterprise's own response photo as a case
/// Original hides it from the enterprise itself.
#[tokio::test]
async fn a_foreign_case_cannot_hide_an_enterprises_own_photo() {
    let h = harness().await;
    let wang = officer("officer:wang", "team-1");
    let n = notice(
        40,
        "team-1",
        UNIT_A,
        DocumentId::from_bytes([9; 16]),
        vec![],
    );
    h.push(&n, &wang).await;
    let a = enterprise("unit:a", UNIT_A);
    let at = h.token(a.clone()).await;
    let (ap, ac, athumb) = h.unit_a_answers_with_a_photo(&a, &at, n.id()).await;
    let ap_id = EvidenceId::of(&ap).to_string();
    assert_eq!(h.get(&at, &ap_id, &[]).await.status, StatusCode::OK);
    let qin = officer_elsewhere("officer:qin");
    h.push(
        &foreign_case(70, evidence(&ap, &ac, &athumb, "officer:qin")),
        &qin,
    )
    .await;
    assert_eq!(
        h.get(&at, &ap_id, &[]).await.status,
        StatusCode::OK,
        "a foreign case listing it as an original (vouched by nobody) hides nothing"
    );
}
