//! Photo evidence end to end: a phone records a photo, attaches it to a case and syncs; the
//! originals and derivatives reach the server as blobs, an interrupted upload resumes without
//! sending a stored chunk again, and a teammate fetches the evidence copy verified.

use std::sync::atomic::AtomicBool;

use std::time::Duration;

use zhichao_core::client::{ServerApi, ServerUrl, confirm_photos, fetch_photo, upload_queued};
use zhichao_core::docs::{BlobRole, BlobUse, Case};
use zhichao_core::evidence::blobs::UploadState;
use zhichao_core::evidence::photo::PhotoLimits;
use zhichao_core::evidence::record::{CaptureContext, attach_photo, photo_progress, record_photo};
use zhichao_core::fixtures;

use super::{Phone, Server, TEAM};

const T0: i64 = 1_780_000_000_000;

fn api(server: &Server) -> ServerApi {
    ServerApi::new(ServerUrl::parse(&server.url()).expect("server url"))
}

#[test]
fn photos_follow_their_case_and_an_interrupted_upload_resumes() {
    let server = Server::start(zhichao_server::config::TokenConfig::default());
    let wang = Phone::enroll(&server, "officer:wang", "phone-wang");
    let li = Phone::enroll(&server, "officer:li", "phone-li");

    // Offline at the roadside: a case and a photo of the truck on the scale.
    let case = fixtures::case(11, "officer:wang", TEAM);
    let id = case.id();
    wang.store.save(&case).expect("case saved");
    let jpeg = fixtures::photo_jpeg(1200, 900, 7);
    assert!(
        jpeg.len() > 2 * zhichao_core::client::blobs::UPLOAD_CHUNK_BYTES,
        "the photo spans several chunks ({} bytes)",
        jpeg.len()
    );
    let record = record_photo(
        &wang.photos,
        &jpeg,
        &CaptureContext {
            taken_by: fixtures::pid("officer:wang"),
            device_time_ms: T0,
            device_gps: None,
            caption: "过磅".to_owned(),
        },
        &PhotoLimits::default(),
    )
    .expect("photo recorded");
    let original = record.reference.sha256;
    assert_eq!(original, zhichao_core::ids::EvidenceId::of(&jpeg));
    let derivatives = record.reference.derivatives.expect("a JPEG has previews");
    assert!(
        attach_photo::<Case, _>(
            &wang.store,
            &id,
            &record.reference,
            &fixtures::pid("officer:wang"),
            T0
        )
        .expect("attached")
    );
    let before = photo_progress(&wang.store, &wang.photos, &id)
        .expect("readable")
        .expect("the case is on the phone");
    assert_eq!(before.expected.len(), 3, "{before:?}");
    assert_eq!(before.on_server, 0);
    assert!(!before.is_complete());

    // The signal comes and goes: the first chunk of the original reaches the server, then
    // the connection drops.
    let token = wang.credentials().access_token;
    let chunk = &jpeg[..zhichao_core::client::blobs::UPLOAD_CHUNK_BYTES];
    let status = api(&server)
        .put_blob_chunk(&token, &original, 0, chunk, jpeg.len() as u64)
        .expect("first chunk");
    assert_eq!(
        (status.offset, status.complete),
        (chunk.len() as u64, false)
    );

    // The next sync pushes the case and sends only what the server lacks.
    let report = wang.sync();
    assert_eq!(report.pushed, 1, "{report:?}");
    assert_eq!(report.photos_uploaded, 3, "{report:?}");
    assert_eq!(report.photos_pending, 0, "{report:?}");
    assert!(report.photo_failures.is_empty(), "{report:?}");
    let derivative_bytes = derivatives.evidence_copy.byte_len + derivatives.thumbnail.byte_len;
    assert_eq!(
        report.photo_bytes_sent,
        jpeg.len() as u64 - chunk.len() as u64 + derivative_bytes,
        "the stored chunk is not sent again"
    );
    let after = photo_progress(&wang.store, &wang.photos, &id)
        .expect("readable")
        .expect("the case is on the phone");
    assert!(after.is_complete(), "{after:?}");
    let status = api(&server).blob_status(&token, &original).expect("status");
    assert_eq!((status.offset, status.complete), (jpeg.len() as u64, true));

    // Nothing is sent twice.
    let again = wang.sync();
    assert_eq!(
        (again.photos_uploaded, again.photo_bytes_sent),
        (0, 0),
        "{again:?}"
    );

    // The teammate receives the case and fetches its evidence copy, verified.
    let report = li.sync();
    assert!(report.pulled >= 1, "{report:?}");
    let on_li = photo_progress(&li.store, &li.photos, &id)
        .expect("readable")
        .expect("the case reached Li");
    assert!(
        on_li
            .missing
            .iter()
            .all(|(_, state)| *state == UploadState::Missing),
        "Li's phone does not hold Wang's photos yet: {on_li:?}"
    );
    let copy = derivatives.evidence_copy.sha256;
    fetch_photo(&api(&server), li.client.session(), &li.photos, &copy).expect("fetched");
    let bytes = li.photos.read(&copy).expect("stored on Li's phone");
    assert_eq!(bytes.len() as u64, derivatives.evidence_copy.byte_len);
    assert_eq!(li.photos.upload_state(&copy), UploadState::OnServer);
    assert!(
        on_li
            .expected
            .iter()
            .any(|u| u.sha256 == copy && u.role == BlobRole::EvidenceCopy)
    );

    server.stop();
}

#[test]
fn a_photo_without_its_case_waits_and_a_damaged_one_is_not_sent() {
    let server = Server::start(zhichao_server::config::TokenConfig::default());
    let wang = Phone::enroll(&server, "officer:wang", "phone-wang");
    let li = Phone::enroll(&server, "officer:li", "phone-li");

    // A blob may arrive before the document that references it: stored, but not served.
    let jpeg = fixtures::photo_jpeg(64, 48, 1);
    let sha = wang.photos.put(&jpeg).expect("stored");
    wang.photos.enqueue_upload(sha, T0).expect("queued");
    let report = upload_queued(
        &api(&server),
        wang.client.session(),
        &wang.photos,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("upload runs");
    assert_eq!((report.uploaded, report.pending), (1, 0), "{report:?}");
    let e = fetch_photo(&api(&server), li.client.session(), &li.photos, &sha).unwrap_err();
    assert!(
        matches!(
            &e,
            zhichao_core::client::ClientError::Server { status: 404, .. }
        ),
        "unreferenced blobs are not served: {e:?}"
    );
    assert!(!li.photos.contains(&sha));

    // Nothing ever referenced it, so the server sweeps it; the phone still believes it is
    // there until it asks, then queues it again.
    assert_eq!(wang.photos.upload_state(&sha), UploadState::OnServer);
    let swept = server
        .state
        .blobs
        .sweep(now_ms() + 10 * 24 * 3_600_000, Duration::from_secs(3_600))
        .expect("sweep");
    assert!(swept.blobs_removed >= 1, "{swept:?}");
    let use_of = BlobUse {
        sha256: sha,
        role: BlobRole::Original,
        byte_len: Some(jpeg.len() as u64),
    };
    let progress = confirm_photos(
        &api(&server),
        wang.client.session(),
        &wang.photos,
        vec![use_of],
    )
    .expect("asked the server");
    assert!(!progress.is_complete(), "{progress:?}");
    assert!(matches!(
        wang.photos.upload_state(&sha),
        UploadState::Queued { .. }
    ));
    let report = wang.sync();
    assert_eq!(report.photos_uploaded, 1, "sent again: {report:?}");

    // A partial upload of this phone's own that declared another size (a bug, an older
    // version): the client starts over from the first byte and the upload completes.
    let third = fixtures::photo_jpeg(80, 60, 3);
    let odd = wang.photos.put(&third).expect("stored");
    let status = api(&server)
        .put_blob_chunk(
            &wang.credentials().access_token,
            &odd,
            0,
            &third[..10],
            999_999,
        )
        .expect("a first chunk with a wrong total");
    assert_eq!((status.offset, status.complete), (10, false));
    wang.photos.enqueue_upload(odd, T0).expect("queued");
    let report = wang.sync();
    assert_eq!(
        (report.photos_uploaded, report.photos_pending),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(wang.photos.upload_state(&odd), UploadState::OnServer);

    // A local file that no longer matches its hash (a storage fault) is not sent: it leaves
    // the queue as damaged, with the reason, until the right bytes are stored again.
    let other = fixtures::photo_jpeg(64, 48, 2);
    let bad = wang.photos.put(&other).expect("stored");
    wang.photos.enqueue_upload(bad, T0).expect("queued");
    let path = wang
        .photos
        .root()
        .join("objects")
        .join(&bad.to_string()[..2])
        .join(bad.to_string());
    let mut damaged = other.clone();
    damaged[other.len() / 2] ^= 0xff;
    std::fs::write(&path, &damaged).expect("damaged on disk");
    let report = wang.sync();
    assert_eq!(report.photos_pending, 0, "{report:?}");
    assert_eq!(report.photo_bytes_sent, 0, "nothing sent: {report:?}");
    assert_eq!(report.photo_failures.len(), 1, "{report:?}");
    assert!(report.photo_failures[0].1.contains("damaged"), "{report:?}");
    assert_eq!(wang.photos.upload_state(&bad), UploadState::Damaged);
    let status = api(&server)
        .blob_status(&wang.credentials().access_token, &bad)
        .expect("status");
    assert_eq!(
        status.offset, 0,
        "no byte of the damaged file reached the server"
    );

    // Copied again from the camera roll: repaired, queued and sent.
    assert_eq!(wang.photos.put(&other).expect("stored again"), bad);
    wang.photos.enqueue_upload(bad, T0).expect("queued again");
    let report = wang.sync();
    assert_eq!(
        (report.photos_uploaded, report.photos_pending),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(wang.photos.upload_state(&bad), UploadState::OnServer);

    server.stop();
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
