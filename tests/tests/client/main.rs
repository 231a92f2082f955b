//! End to end: the phone's sync transport (`zhichao_core::client`, feature `client`) against
//! our server on 127.0.0.1.
//!
//! Each test starts the server in-process on 127.0.0.1:0 (its own tokio runtime; the phones
//! are blocking, as on a worker thread of the app), has an administrator issue enrollment
//! codes through the admin API, and enrolls phones the way a device does
//! (`POST /v1/auth/enroll`). The phones keep their documents in a `FieldStore<MemoryStore>`.
//!
//! Every wait is bounded (the client's own timeouts): a regression fails, it never hangs CI.

use std::sync::Arc;
use std::time::Duration;

use zhichao_core::client::{
    self, CredentialStore, Credentials, MemoryCredentials, NoObserver, SyncClient, SyncConfig,
    SyncReport,
};
use zhichao_core::docs::{Case, RulesVersions, rules_document_id};
use zhichao_core::evidence::blobs::BlobDir;
use zhichao_core::field::FieldStore;
use zhichao_core::fixtures;
use zhichao_core::ids::{DocumentId, StorageId};
use zhichao_core::store::{DocStore, MemoryStore};
use zhichao_e2e::TestServer;
use zhichao_server::config::TokenConfig;

mod concurrent;
mod photos;

/// The patrol team of both officers.
const TEAM: &str = "team-1";

/// Our server in-process (see [`TestServer`]).
type Server = TestServer;

/// A phone: its documents, its photos, its credentials and its sync client.
struct Phone {
    store: Arc<FieldStore<MemoryStore>>,
    photos: Arc<BlobDir>,
    credentials: Arc<MemoryCredentials>,
    client: SyncClient<MemoryStore>,
    _photo_dir: tempfile::TempDir,
}

impl Phone {
    /// Enrolls officer `name` of [`TEAM`] on a new phone with storage id `device`.
    fn enroll(server: &Server, name: &str, device: &str) -> Phone {
        let device = StorageId::new(device).expect("storage id");
        let code = server.officer_code(name, TEAM, &device);
        let credentials = Arc::new(MemoryCredentials::new());
        let enrolled = client::enroll(&server.url(), &code, &device, credentials.as_ref())
            .expect("enrollment");
        assert_eq!(enrolled.device, device);
        assert_eq!(enrolled.principal.id().as_str(), name);
        assert_eq!(credentials.load(), Some(enrolled));
        let store = Arc::new(FieldStore::new(MemoryStore::new()));
        let photo_dir = tempfile::tempdir().expect("photo directory");
        let photos = Arc::new(BlobDir::open(photo_dir.path()).expect("photo store"));
        let config = SyncConfig {
            idle_timeout: Duration::from_secs(15),
            ..SyncConfig::default()
        };
        let client = SyncClient::new(
            Arc::clone(&store),
            &server.url(),
            Arc::clone(&credentials) as Arc<dyn CredentialStore>,
            config,
        )
        .expect("sync client")
        .with_photos(Arc::clone(&photos));
        Phone {
            store,
            photos,
            credentials,
            client,
            _photo_dir: photo_dir,
        }
    }

    fn sync(&self) -> SyncReport {
        self.client.sync_now(&NoObserver).expect("sync")
    }

    fn pending(&self) -> Vec<DocumentId> {
        self.store.store().pending().expect("pending list")
    }

    fn credentials(&self) -> Credentials {
        self.credentials.load().expect("credentials")
    }
}

#[test]
fn a_case_travels_from_one_phone_to_a_teammate() {
    let server = Server::start(TokenConfig::default());
    let wang = Phone::enroll(&server, "officer:wang", "phone-wang");
    let li = Phone::enroll(&server, "officer:li", "phone-li");

    // Officer Wang records a case offline.
    let case = fixtures::case(1, "officer:wang", TEAM);
    let id = case.id();
    wang.store.save(&case).expect("saved on the phone");
    assert_eq!(wang.pending(), [id]);

    let report = wang.sync();
    assert_eq!(report.pushed, 1, "{report:?}");
    // The first sync also brings the county's rules in force (a server document).
    assert_eq!(report.pulled, 1, "{report:?}");
    let rules = rules_document_id(&server.state.config.county);
    let in_force = wang
        .store
        .open::<RulesVersions>(&rules)
        .expect("readable")
        .expect("the rules document is on Wang's phone")
        .doc
        .body()
        .expect("a rules body");
    assert_eq!(
        in_force.in_force().map(|v| v.id.as_str()),
        Some(server.state.config.rules.id.as_str())
    );
    assert!(report.rejected.is_empty(), "{report:?}");
    assert!(
        report.frames_sent >= 2 && report.frames_received >= 2,
        "{report:?}"
    );
    assert!(
        report.bytes_sent > 0 && report.bytes_received > 0,
        "{report:?}"
    );
    assert!(wang.pending().is_empty(), "acknowledged");
    assert!(server.has(&id), "the server stored the case");

    // His teammate's phone receives it through discovery.
    let report = li.sync();
    assert_eq!(report.pulled, 2, "the case and the rules: {report:?}");
    assert_eq!(report.pushed, 0, "{report:?}");
    assert_eq!(report.announced, Some(2), "{report:?}");
    let received = li
        .store
        .open::<Case>(&id)
        .expect("readable")
        .expect("the case is on Li's phone");
    assert_eq!(
        received.doc.body().expect("a case body"),
        case.body().expect("a case body")
    );
    assert!(li.pending().is_empty(), "a received case is not pending");

    // Nothing changed: nothing moves.
    for phone in [&wang, &li] {
        let report = phone.sync();
        assert_eq!((report.pushed, report.pulled), (0, 0), "{report:?}");
        assert!(report.rejected.is_empty(), "{report:?}");
    }

    server.stop();
}

#[test]
fn expired_access_tokens_are_refreshed_with_the_server() {
    // Access tokens live one second: the phone refreshes before every sync (they are within
    // the expiry margin), and a token the phone believes valid is refused as expired.
    let server = Server::start(TokenConfig {
        access_ttl: Duration::from_secs(1),
        ..TokenConfig::default()
    });
    let wang = Phone::enroll(&server, "officer:wang", "phone-wang");
    let enrolled = wang.credentials();

    let case = fixtures::case(2, "officer:wang", TEAM);
    wang.store.save(&case).expect("saved on the phone");
    assert_eq!(wang.sync().pushed, 1);
    let first = wang.credentials();
    assert_ne!(
        first.refresh_token, enrolled.refresh_token,
        "rotated before use"
    );

    // The phone's clock says the token is good; the server's says otherwise.
    let mut stale = first.clone();
    stale.access_expires_at_ms = None;
    wang.credentials.save(&stale).expect("saved");
    // Offline meanwhile, the officer records another case; the token expires.
    let offline = fixtures::case(3, "officer:wang", TEAM);
    wang.store.save(&offline).expect("saved on the phone");
    std::thread::sleep(Duration::from_millis(1_200));
    let report = wang.sync();
    assert_eq!((report.pushed, report.pulled), (1, 0), "{report:?}");
    assert!(wang.pending().is_empty(), "nothing left behind");
    assert!(server.has(&offline.id()));
    let second = wang.credentials();
    assert_ne!(
        second.refresh_token, first.refresh_token,
        "refreshed after the refusal"
    );

    server.stop();
}

#[test]
fn a_revoked_device_is_told_so() {
    let server = Server::start(TokenConfig::default());
    let wang = Phone::enroll(&server, "officer:wang", "phone-wang");
    let admin = zhichao_server::client::AdminClient::new(&server.url(), zhichao_e2e::ADMIN)
        .expect("admin client");
    admin
        .revoke(&zhichao_server::api::RevokeRequest {
            device: Some("phone-wang".to_owned()),
            ..Default::default()
        })
        .expect("revoked");
    let e = wang.client.sync_now(&NoObserver).unwrap_err();
    assert!(
        matches!(&e, client::ClientError::Unauthorized { code, .. } if code == "token_revoked"),
        "{e:?}"
    );
    server.stop();
}
