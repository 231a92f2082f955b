//! The `zhichao` binary as a user runs it: arguments in, text or JSON and an exit code out.

use std::process::{Command, Output};

fn zhichao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zhichao"))
        .args(args)
        .output()
        .expect("run the zhichao binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

fn json(args: &[&str]) -> serde_json::Value {
    let o = zhichao(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

#[test]
fn classify_json_over_limit() {
    let v = json(&[
        "classify",
        "--kind",
        "articulated",
        "--axles",
        "6",
        "--drive-axles",
        "2",
        "--gross-kg",
        "52300",
        "--json",
    ]);
    assert_eq!(v["over_limit"], true);
    assert_eq!(v["limit_kg"], 49_000);
    assert_eq!(v["excess_kg"], 3_300);
    assert_eq!(v["rate_bp"], 673);
    assert_eq!(v["penalty_yuan_max"], 2_000);
    assert_eq!(v["configuration_assumed"], true, "tyres were not given");
    assert_eq!(v["subjects"].as_array().map(Vec::len), Some(4));
}

#[test]
fn classify_at_the_limit_is_compliant_and_one_kg_over_is_not() {
    let base = [
        "classify",
        "--kind",
        "truck",
        "--axles",
        "2",
        "--single-tyre-axles",
        "0",
        "--json",
        "--gross-kg",
    ];
    let at = json(&[&base[..], &["18000"]].concat());
    assert_eq!(
        (at["over_limit"].clone(), at["excess_kg"].clone()),
        (false.into(), 0.into())
    );
    assert_eq!(at["configuration_assumed"], false);
    let over = json(&[&base[..], &["18001"]].concat());
    assert_eq!(over["over_limit"], true);
    assert_eq!(over["penalty"]["mass_warning_only"], true);
}

#[test]
fn classify_without_kind_uses_the_highest_limit_for_the_axle_count() {
    let v = json(&["classify", "--axles", "3", "--gross-kg", "26500", "--json"]);
    assert_eq!(
        v["limit_kg"], 27_000,
        "a 3-axle combination, not a 25 t truck"
    );
    assert_eq!(v["over_limit"], false);
    assert_eq!(v["configuration_assumed"], true);
}

#[test]
fn classify_table_output_names_limit_excess_and_penalty() {
    let o = zhichao(&[
        "classify",
        "--kind",
        "truck",
        "--axles",
        "3",
        "--drive-axles",
        "2",
        "--drive-tyres",
        "dual",
        "--suspension",
        "air",
        "--gross-kg",
        "30000",
        "--height-mm",
        "4300",
        "--rated-payload-kg",
        "15000",
        "--curb-kg",
        "10000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "OVER LIMIT 超限 (mass and dimensions)",
        "26 000 kg",
        "4 000 kg",
        "15.38%",
        "¥2 000 for the mass, Art. 43 (2)",
        "¥200–1 000 for the dimensions, Art. 43 (1)",
        "height 车货总高度     4 300 mm, 300 mm over the 4 000 mm limit",
        "yes: 5 000 kg over the maximum total mass 25 000 kg (20.00%; 33.33% of the rated payload 15 000 kg); 1 licence point(s)",
        "up to 最高罚款        ¥3 000",
        "一超四罚",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn classify_rules_file_changes_tolerance_and_subjects() {
    let dir = std::env::temp_dir().join(format!("zhichao-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "id = \"county-2024\"\ntolerance_kg = 500\nsubjects = [\"vehicle\", \"source_unit\"]\n",
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    let args = [
        "classify", "--kind", "truck", "--axles", "2", "--json", "--rules", rules,
    ];
    let within = json(&[&args[..], &["--gross-kg", "18500"]].concat());
    assert_eq!(within["over_limit"], false);
    let over = json(&[&args[..], &["--gross-kg", "18501"]].concat());
    assert_eq!(over["over_limit"], true);
    assert_eq!(over["rules_id"], "county-2024");
    assert_eq!(
        over["subjects"],
        serde_json::json!(["vehicle", "source_unit"])
    );

    std::fs::write(dir.join("bad.toml"), "tolerance = 5").unwrap();
    let o = zhichao(&[
        "classify",
        "--axles",
        "2",
        "--gross-kg",
        "1",
        "--rules",
        dir.join("bad.toml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown field"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn classify_invalid_input_exits_2_with_a_message() {
    let o = zhichao(&[
        "classify",
        "--kind",
        "truck",
        "--axles",
        "5",
        "--gross-kg",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not in the Art. 3 table"),
        "{}",
        stderr(&o)
    );
    let o = zhichao(&["classify", "--axles", "6", "--gross-kg", "-3"]);
    assert_eq!(o.status.code(), Some(2));
    let o = zhichao(&[
        "classify",
        "--axles",
        "6",
        "--gross-kg",
        "1",
        "--kind",
        "bus",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("possible values"), "{}", stderr(&o));
    let o = zhichao(&[
        "classify",
        "--kind",
        "registration-limited",
        "--axles",
        "2",
        "--gross-kg",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("registration"), "{}", stderr(&o));
}

#[test]
fn help_documents_every_classify_flag() {
    let o = zhichao(&["classify", "--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for flag in [
        "--kind",
        "--axles",
        "--drive-axles",
        "--drive-tyres",
        "--suspension",
        "--single-tyre-axles",
        "--wide-base-axles",
        "--registration-kg",
        "--gross-kg",
        "--height-mm",
        "--width-mm",
        "--length-mm",
        "--rated-payload-kg",
        "--curb-kg",
        "--rules",
        "--json",
        "centre-axle",
        "full-trailer",
    ] {
        assert!(text.contains(flag), "help lacks {flag}:\n{text}");
    }
}

#[test]
fn plate_normalises_and_reports_the_kind() {
    let v = json(&["plate", "晋e·１２３４５", "--json"]);
    assert_eq!(v["plate"], "晋E12345");
    assert_eq!(v["printed"], "晋E·12345");
    assert_eq!(v["input"], "晋e·１２３４５");
    let o = zhichao(&["plate", "晋E 1234挂"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("plate    晋E1234挂\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn plate_invalid_exits_2_with_the_reason() {
    let o = zhichao(&["plate", "晋EI2345"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("letter I"), "{}", stderr(&o));
    let o = zhichao(&["plate", "X12345"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("province"), "{}", stderr(&o));
}

#[test]
fn classify_names_the_unknown_details_to_check() {
    let o = zhichao(&[
        "classify",
        "--kind",
        "articulated",
        "--axles",
        "6",
        "--drive-axles",
        "2",
        "--gross-kg",
        "52300",
    ]);
    let text = stdout(&o);
    assert!(
        text.contains("unknown --single-tyre-axles could lower the limit to 40 000 kg"),
        "{text}"
    );
    let v = json(&[
        "classify",
        "--kind",
        "articulated",
        "--axles",
        "6",
        "--drive-axles",
        "2",
        "--single-tyre-axles",
        "0",
        "--gross-kg",
        "52300",
        "--json",
    ]);
    assert_eq!(v["configuration_assumed"], false);
    assert_eq!(v["limit"]["unknown_details"], serde_json::json!([]));
}

#[test]
fn classify_warning_only_shows_no_fine() {
    let o = zhichao(&[
        "classify",
        "--kind",
        "truck",
        "--axles",
        "2",
        "--gross-kg",
        "18500",
    ]);
    let text = stdout(&o);
    assert!(text.contains("warning (警告)"), "{text}");
    assert!(!text.contains("最高罚款"), "{text}");
}

#[test]
fn classify_refuses_fifos_and_directories_as_rules_without_blocking() {
    let dir = std::env::temp_dir().join(format!("zhichao-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("rules.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success());
    let targets = if made.is_ok_and(|ok| ok) {
        vec![dir.clone(), fifo]
    } else {
        vec![dir.clone()]
    };
    for target in targets {
        let o = zhichao(&[
            "classify",
            "--axles",
            "2",
            "--gross-kg",
            "1",
            "--rules",
            target.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn output_failure_exits_1_not_2() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let Ok(full) = full else {
        eprintln!("skipped: /dev/full is not available");
        return;
    };
    let status = Command::new(env!("CARGO_BIN_EXE_zhichao"))
        .args(["plate", "晋E12345"])
        .stdout(full)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn usage_errors_are_plain_text() {
    let o = zhichao(&["classify", "--axles", "x", "--gross-kg", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !stderr(&o).contains('\u{1b}'),
        "ANSI escapes in {:?}",
        stderr(&o)
    );
}
