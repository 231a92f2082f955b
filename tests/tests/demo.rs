//! End to end: `zhichao demo`'s scenario, run in-process, and its outcome asserted — the
//! statuses, the counts, the photos' hashes on the server, and no lost edit from either
//! officer. Twice with one seed: the outcome that the seed decides is the same.

use std::collections::BTreeSet;

use zhichao_server::demo::{self, DemoOptions, DemoReport};
use zhichao_server::ingest::alerts::{AlertKind, AlertStatus};

fn run(seed: u64, dir: &std::path::Path) -> DemoReport {
    let options = DemoOptions {
        seed,
        dir: dir.to_owned(),
        // The team's samples when present (real photos, some refused), else generated ones.
        photos: None,
        records_per_unit: 40,
        ..DemoOptions::default()
    };
    let mut narration = Vec::new();
    let report = demo::run(&options, &mut narration).unwrap_or_else(|e| {
        panic!(
            "the demo failed: {e}\n{}",
            String::from_utf8_lossy(&narration)
        )
    });
    let text = String::from_utf8_lossy(&narration);
    assert!(text.contains("6/6 summary"), "{text}");
    report
}

#[test]
fn the_demo_plays_the_county_day_and_says_what_happened() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("demo");
    let report = run(7, &dir);
    let summary = report.to_string();

    // Weighings: every record stored once; the retried batch only duplicates; one conflict.
    let w = &report.weighings;
    assert_eq!(w.sent, 5 * 40 + 1, "{w:?}");
    assert_eq!(w.stored, w.sent, "{w:?}");
    assert_eq!(w.duplicates_on_retry, 40, "{w:?}");
    assert_eq!((w.conflicts, w.invalid), (1, 0), "{w:?}");
    assert!(w.departures >= 1 && w.over_limit >= w.departures, "{w:?}");
    assert!(w.configuration_assumed > 0, "{w:?}");
    assert!(
        report.flagged_display.ends_with("禁止出场")
            && report.flagged_display.contains("超限3.30t"),
        "{}",
        report.flagged_display
    );

    // Alerts: one per departure, one for the silent unit; routed by jurisdiction.
    let departures: Vec<_> = report
        .alerts
        .iter()
        .filter(|a| a.kind == AlertKind::OverLimitDeparture)
        .collect();
    assert_eq!(departures.len(), w.departures, "{summary}");
    let interrupted: Vec<_> = report
        .alerts
        .iter()
        .filter(|a| a.kind == AlertKind::UploadInterrupted)
        .collect();
    assert!(!interrupted.is_empty(), "{summary}");
    assert!(
        interrupted
            .iter()
            .all(|a| a.unit.as_str() == report.silent_unit),
        "only the silent unit: {summary}"
    );
    let closed = report
        .alerts
        .iter()
        .find(|a| a.id == report.closed_alert)
        .expect("the flagged alert is listed");
    assert_eq!(closed.status, AlertStatus::Closed);
    assert_eq!(
        closed.case.map(|c| c.to_string()),
        Some(report.case_id.clone())
    );
    let seen: Vec<usize> = report
        .alerts_by_jurisdiction
        .iter()
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(
        seen.last().copied(),
        Some(report.alerts.len()),
        "the county office sees every alert: {summary}"
    );
    assert_eq!(
        seen[..seen.len() - 1].iter().sum::<usize>(),
        report.alerts.len(),
        "every alert has exactly one supervising authority besides the office: {summary}"
    );

    // The roadside case: found offline on the watch list, merged, closed.
    assert!(
        report.watch_hit.contains(&report.flagged_plate),
        "{summary}"
    );
    assert!(report.watch_hit.contains("3.30 t over"), "{summary}");
    assert_eq!(report.case_status, "Closed");
    for edit in &report.edits {
        assert!(
            report.findings.contains(edit.as_str()),
            "an officer's edit was lost: {edit:?} not in {:?}",
            report.findings
        );
    }
    assert!(!report.notice.1, "the accepted response settles the notice");

    // The site inspection's response reached the server and waits for the office's review.
    let pending = &report.pending_review;
    assert_ne!(pending.case_id, report.case_id);
    assert!(
        summary.contains(&format!("response {} awaits", pending.response_id)),
        "{summary}"
    );
    let sent = report
        .syncs
        .iter()
        .find(|s| s.when == "inspection response sent")
        .expect("the plant's sync");
    assert!(sent.pushed >= 1, "{sent:?}");

    // Photos: every one on the server, under its hash; the cut upload resumed.
    assert_eq!(report.case_photos.len(), 3, "{summary}");
    assert_eq!(report.response_photos.len(), 1, "{summary}");
    for p in report.case_photos.iter().chain(&report.response_photos) {
        assert!(p.on_server, "{p:?}");
        assert_eq!(p.sha256.len(), 64);
    }
    let (sha, held, total) = &report.resumed;
    assert!(*held > 0 && held < total, "{:?}", report.resumed);
    assert!(report.case_photos.iter().any(|p| p.sha256 == *sha));
    let li_back = report
        .syncs
        .iter()
        .find(|s| s.who.contains("Li") && s.when == "back online")
        .expect("Li's sync after the cut");
    assert_eq!(
        li_back.photo_bytes_sent,
        report.resumed_blob_bytes - held,
        "the cut photo resumed where it stopped rather than starting over: {li_back:?}"
    );
    assert!(report.syncs.iter().all(|s| s.rejected == 0), "{summary}");
    assert!(summary.contains("zhichao serve --config"), "{summary}");
    // The configuration it suggests names the townships, and the server reads it.
    let config = report.dir.join(zhichao_server::demo::CONFIG_FILE);
    let config = zhichao_server::config::ServerConfig::load(Some(&config), |_| None).unwrap();
    assert_eq!(
        config.township_label(&"140522102".parse().unwrap()),
        "润城镇"
    );
    assert!(report.server_data_dir.join("docs").is_dir());
    // The console account and its password are in the summary, and the server's data keeps
    // them: the password logs the supervisor in.
    let (account, password) = &report.console;
    assert_eq!(account, "supervisor:zhao");
    assert!(
        summary.contains(&format!("账号 {account}, 密码 {password}"))
            && summary.contains("/console/"),
        "{summary}"
    );
    {
        let auth = zhichao_server::auth::Auth::open(
            &report.server_data_dir.join("auth"),
            zhichao_server::config::TokenConfig::default(),
            3,
        )
        .expect("the demo's token database");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let outcome = runtime
            .block_on(auth.passwords().verify(account, password, 0))
            .expect("verify");
        assert!(
            matches!(
                outcome,
                zhichao_server::console::passwords::LoginOutcome::Accepted(_)
            ),
            "{outcome:?}"
        );
    }

    // The same seed again (rerun in the same directory): the same county, records and
    // outcomes.
    let again = run(7, &dir);
    assert_eq!(
        report.units.iter().map(|u| &u.uscc).collect::<Vec<_>>(),
        again.units.iter().map(|u| &u.uscc).collect::<Vec<_>>()
    );
    assert_eq!(report.weighings, again.weighings);
    assert_eq!(report.case_number, again.case_number);
    let ids = |r: &DemoReport| {
        r.alerts
            .iter()
            .filter(|a| a.kind == AlertKind::OverLimitDeparture)
            .map(|a| a.id.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(ids(&report), ids(&again));
    assert_eq!(report.flagged_display, again.flagged_display);
    let hashes = |r: &DemoReport| {
        r.case_photos
            .iter()
            .chain(&r.response_photos)
            .map(|p| p.sha256.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(hashes(&report), hashes(&again));
}

#[test]
fn the_demo_never_replaces_a_directory_it_did_not_make() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    std::fs::write(tmp.path().join("precious.txt"), "not a demo").expect("written");
    let options = DemoOptions {
        dir: tmp.path().to_owned(),
        ..DemoOptions::default()
    };
    let e = demo::run(&options, &mut Vec::new()).unwrap_err();
    assert!(matches!(e, demo::DemoError::ForeignDirectory { .. }), "{e}");
    assert!(tmp.path().join("precious.txt").is_file(), "left untouched");
    // Nor a file.
    let options = DemoOptions {
        dir: tmp.path().join("precious.txt"),
        ..DemoOptions::default()
    };
    let e = demo::run(&options, &mut Vec::new()).unwrap_err();
    assert!(matches!(e, demo::DemoError::ForeignDirectory { .. }), "{e}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("precious.txt")).unwrap(),
        "not a demo"
    );
}
