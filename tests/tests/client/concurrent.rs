//! Two officers of one team edit the same case offline, then sync one after the other: the
//! second one's push crosses the server's announcement of the first one's edit (a joint
//! patrol's phones do this all the time). Every sync must finish, and the edits merge.

use zhichao_core::docs::{Case, MeasurementRecord};
use zhichao_core::fixtures::{self, pid};
use zhichao_core::rules::Measurement;
use zhichao_server::config::TokenConfig;

use super::{Phone, Server, TEAM};

const T0: i64 = 1_780_000_000_000;

/// Edits the case on a phone (one change) and saves it there (pending).
#[allow(clippy::result_large_err)] // the closure's error type is `TypedDoc::update`'s
fn edit(
    phone: &Phone,
    id: &zhichao_core::ids::DocumentId,
    by: &str,
    at: i64,
    f: impl FnOnce(&mut Case),
) {
    let mut doc = phone
        .store
        .open::<Case>(id)
        .expect("readable")
        .expect("the case is on the phone")
        .doc;
    doc.update(&pid(by), at, |c| {
        f(c);
        Ok(())
    })
    .expect("edited");
    phone.store.save(&doc).expect("saved on the phone");
}

/// Li's sync pushes Li's edit while the server announces Wang's. It used to wait for an
/// acknowledgement that never came (until the idle timeout) about one time in four, when
/// Li's second message reached the server before Li's changes were flushed. Many rounds, so
/// that the server's group commit falls both ways.
#[test]
fn concurrent_edits_of_one_case_sync_and_merge_every_time() {
    let server = Server::start(TokenConfig::default());
    let wang = Phone::enroll(&server, "officer:wang", "phone-wang");
    let li = Phone::enroll(&server, "officer:li", "phone-li");
    for round in 0..30u64 {
        let case = fixtures::case(500 + round, "officer:wang", TEAM);
        let id = case.id();
        wang.store.save(&case).expect("saved on the phone");
        edit(&wang, &id, "officer:wang", T0, |c| {
            c.findings = "超限运输".into();
        });
        let report = wang.sync();
        assert_eq!(report.pushed, 1, "round {round}: {report:?}");
        let report = li.sync();
        assert!(report.pulled >= 1, "round {round}: {report:?}");

        // Offline, both edit the case: different places of the findings, and Li weighs.
        edit(&wang, &id, "officer:wang", T0 + 1_000, |c| {
            c.findings = "驾驶人张某称：超限运输".into();
        });
        edit(&li, &id, "officer:li", T0 + 2_000, |c| {
            c.findings = "超限运输，货物为煤炭".into();
        });
        edit(&li, &id, "officer:li", T0 + 3_000, |c| {
            c.measurement = Some(MeasurementRecord {
                measurement: Measurement {
                    gross_kg: 55_000,
                    ..Measurement::default()
                },
                measured_at_ms: T0 + 3_000,
                scale: None,
            });
        });

        let report = wang.sync();
        assert_eq!(
            (report.pushed, report.pulled),
            (1, 0),
            "round {round}: {report:?}"
        );
        // Li pushes and receives Wang's edit in the same sync.
        let report = li.sync();
        assert_eq!(
            (report.pushed, report.pulled),
            (1, 1),
            "round {round}: {report:?}"
        );
        assert!(li.pending().is_empty(), "round {round}");
        let report = wang.sync();
        assert_eq!(
            (report.pushed, report.pulled),
            (0, 1),
            "round {round}: {report:?}"
        );

        for phone in [&wang, &li] {
            let body = phone
                .store
                .open::<Case>(&id)
                .expect("readable")
                .expect("the case is on the phone")
                .doc
                .body()
                .expect("a case body");
            assert_eq!(
                body.findings.as_str(),
                "驾驶人张某称：超限运输，货物为煤炭",
                "round {round}"
            );
            assert_eq!(
                body.measurement.map(|m| m.measurement.gross_kg),
                Some(55_000),
                "round {round}"
            );
        }
    }
    server.stop();
}
