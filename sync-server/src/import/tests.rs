//! Reading weighbridge exports: encodings, headers, masses, times, results, bad lines, ids;
//! and the upload's batching, retry and answers.

use std::cell::Cell;

use indicatif::ProgressBar;
use zhichao_core::weighing::{BatchOutcome, RecordOutcome, RecordStatus, WeighingResult};

use super::mapping::{DEFAULT_TIME_FORMATS, Field, Mapping};
use super::parse::{
    FileError, MassUnit, MassUnitReason, TextEncoding, decode, derived_record_id, parse,
    parse_local_time_ms, parse_mass_kg,
};
use super::upload::{self, BATCH_RECORDS, Tally};
use crate::client::ClientError;

/// 2026-11-30 08:53:20 China Standard Time.
const NOW: i64 = 1_796_000_000_000;
/// 2026-11-29 08:15:30 China Standard Time, UTC ms.
const AT_0815_30: i64 = 1_795_911_330_000;

const HEADER: &str = "流水号,车号,轴数,毛重,皮重,净重,货物,过磅时间,结果";

fn csv(lines: &[&str]) -> String {
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}

fn parse_default(text: &str) -> super::Parsed {
    parse(text.as_bytes(), &Mapping::default(), NOW).unwrap()
}

#[test]
fn utf8_with_and_without_bom_and_gbk_are_detected() {
    let text = csv(&[
        HEADER,
        "1,晋E12345,6,52.30,15.20,37.10,原煤,2026-11-29 08:15:30,放行",
    ]);
    let (decoded, enc) = decode(text.as_bytes()).unwrap();
    assert_eq!((decoded.as_ref(), enc), (text.as_str(), TextEncoding::Utf8));

    let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    let (decoded, enc) = decode(&with_bom).unwrap();
    assert_eq!(
        (decoded.as_ref(), enc),
        (text.as_str(), TextEncoding::Utf8Bom)
    );

    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "GBK bytes are not UTF-8"
    );
    let (decoded, enc) = decode(&gbk).unwrap();
    assert_eq!(
        (decoded.as_ref(), enc),
        (text.as_str(), TextEncoding::Gb18030)
    );

    // The same records whatever the encoding.
    let a = parse(text.as_bytes(), &Mapping::default(), NOW).unwrap();
    let b = parse(&with_bom, &Mapping::default(), NOW).unwrap();
    let c = parse(&gbk, &Mapping::default(), NOW).unwrap();
    assert_eq!(a.records, b.records);
    assert_eq!(a.records, c.records);
    assert_eq!(a.records.len(), 1);
    assert_eq!(c.detected.encoding, TextEncoding::Gb18030);
}

#[test]
fn undecodable_files_are_refused_with_offset_and_line() {
    // Line 2 has 0xFF, which is neither UTF-8 nor GB18030.
    let mut bytes = encoding_rs::GBK
        .encode(&csv(&[HEADER, "1,晋E12345"]))
        .0
        .into_owned();
    let bad_offset = bytes.len();
    bytes.extend_from_slice(b"\xFF,x\r\n");
    match decode(&bytes) {
        Err(FileError::Undecodable {
            encoding: TextEncoding::Gb18030,
            offset,
            line,
        }) => {
            assert_eq!(offset, bad_offset);
            assert_eq!(line, 3);
        }
        other => panic!("{other:?}"),
    }
    // A BOM promises UTF-8: invalid UTF-8 after it is not read as GBK.
    let mut bytes = b"\xEF\xBB\xBFab\r\n".to_vec();
    bytes.extend_from_slice(&encoding_rs::GBK.encode("车号").0);
    assert!(matches!(
        decode(&bytes),
        Err(FileError::Undecodable {
            encoding: TextEncoding::Utf8Bom,
            offset: 7,
            line: 2
        })
    ));
    assert!(matches!(decode(b"\xFF\xFEa\x00"), Err(FileError::Utf16)));
}

#[test]
fn default_headers_are_recognised_in_their_variants() {
    let text = csv(&[
        "过磅记录表",
        "",
        "磅单号, 车牌号 ,车牌颜色,轴数,毛重（吨）,皮重(吨),净重(吨),货物名称,装载单号,磅号,进场时间,称重时间,出场时间,过磅结果",
        "A-1,晋E12345,黄色,6,52.3,15.2,37.1,原煤,ZZ-9,1号磅,2026-11-29 08:05,2026-11-29 08:15:30,2026-11-29 08:20,卸载复磅",
    ]);
    let p = parse_default(&text);
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    assert_eq!(p.detected.header_line, 3, "the title line is skipped");
    assert_eq!(p.detected.columns.len(), Field::ALL.len());
    assert_eq!(
        p.detected.mass_unit_reason,
        MassUnitReason::Header("毛重（吨）".to_owned())
    );
    let [line] = p.records.as_slice() else {
        panic!("{:?}", p.records)
    };
    assert_eq!(line.line, 4);
    let r = &line.record;
    assert_eq!(r.record_id, "A-1");
    assert_eq!(r.plate, "晋E12345");
    assert_eq!(r.plate_colour.as_deref(), Some("yellow"));
    assert_eq!(r.vehicle.axles, 6);
    assert_eq!(
        (r.gross_kg, r.tare_kg, r.net_kg),
        (52_300, Some(15_200), Some(37_100))
    );
    assert_eq!(r.cargo.as_deref(), Some("原煤"));
    assert_eq!(r.loading_slip_no.as_deref(), Some("ZZ-9"));
    assert_eq!(r.lane.as_deref(), Some("1号磅"));
    assert_eq!(r.entry_at_ms, Some(AT_0815_30 - 630_000));
    assert_eq!(r.weighed_at_ms, AT_0815_30);
    assert_eq!(r.exit_at_ms, Some(AT_0815_30 + 270_000));
    assert_eq!(r.result, WeighingResult::UnloadedAndReweighed);
}

#[test]
fn missing_required_columns_refuse_the_file() {
    for (header, field) in [
        ("车号,轴数,过磅时间", Field::Gross),
        ("车号,轴数,毛重", Field::WeighedAt),
        ("车号,毛重,过磅时间", Field::Axles),
        ("车辆,轴数,毛重,过磅时间", Field::Plate),
    ] {
        let text = csv(&[header, "a,b,c,d"]);
        match parse(text.as_bytes(), &Mapping::default(), NOW) {
            Err(FileError::MissingColumn { field: f, .. }) => assert_eq!(f, field, "{header}"),
            other => panic!("{header}: {other:?}"),
        }
    }
    assert!(matches!(
        parse(b"\r\n \r\n", &Mapping::default(), NOW),
        Err(FileError::Empty)
    ));
    // default_axles stands in for the axle column.
    let mapping = Mapping::from_toml("default_axles = 5").unwrap();
    let text = csv(&["车号,毛重,过磅时间", "晋E12345,30.5,2026-11-29 08:15:30"]);
    let p = parse(text.as_bytes(), &mapping, NOW).unwrap();
    assert_eq!(p.records[0].record.vehicle.axles, 5);
}

#[test]
fn two_columns_with_one_fields_name_refuse_the_file() {
    let text = csv(&[
        "车号,轴数,毛重,过磅时间,车号",
        "晋E12345,6,40.00,2026-11-29 08:00:00,晋E54321",
    ]);
    match parse(text.as_bytes(), &Mapping::default(), NOW) {
        Err(
            e @ FileError::AmbiguousColumn {
                field: Field::Plate,
                ..
            },
        ) => {
            let message = e.to_string();
            assert!(message.contains("columns 1 and 5"), "{message}");
            assert!(message.contains("车号"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn masses_in_tonnes_are_exact_and_kilograms_are_whole() {
    use MassUnit::{Kilograms, Tonnes};
    assert_eq!(parse_mass_kg("52.30", Tonnes), Ok(52_300));
    assert_eq!(parse_mass_kg("52.3", Tonnes), Ok(52_300));
    assert_eq!(parse_mass_kg("52.305", Tonnes), Ok(52_305));
    assert_eq!(parse_mass_kg("0.001", Tonnes), Ok(1));
    assert_eq!(parse_mass_kg("49", Tonnes), Ok(49_000));
    assert_eq!(parse_mass_kg(" 49. ", Tonnes), Ok(49_000));
    // 0.1 + 0.2 style float errors cannot happen: 4.35 t is 4 350 kg, not 4 349.
    assert_eq!(parse_mass_kg("4.35", Tonnes), Ok(4_350));
    assert_eq!(parse_mass_kg("52300", Kilograms), Ok(52_300));
    assert_eq!(parse_mass_kg("52300.00", Kilograms), Ok(52_300));
    for (text, unit, needle) in [
        ("52.3051", Tonnes, "at most 3"),
        ("52300.5", Kilograms, "fraction"),
        ("-1", Tonnes, "negative"),
        ("5x.3", Tonnes, "not a number"),
        ("52,30", Tonnes, "not a number"),
        ("1.2.3", Tonnes, "not a number"),
        (".5", Tonnes, "not a number"),
        ("", Kilograms, "not a number"),
        ("4294968", Tonnes, "too large"),
        ("99999999999", Kilograms, "too large"),
    ] {
        let e = parse_mass_kg(text, unit).unwrap_err();
        assert!(e.contains(needle), "{text}: {e}");
    }
}

#[test]
fn auto_mass_unit_is_decided_per_file() {
    let file = |grosses: &[&str]| {
        let mut lines = vec!["车号,轴数,毛重,过磅时间".to_owned()];
        for (i, g) in grosses.iter().enumerate() {
            lines.push(format!("晋E1234{i},6,{g},2026-11-29 08:15:3{i}"));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        parse_default(&csv(&refs))
    };
    let p = file(&["52.3", "30"]);
    assert_eq!(
        (p.detected.mass_unit, p.detected.mass_unit_reason.clone()),
        (MassUnit::Tonnes, MassUnitReason::DecimalPoint)
    );
    assert_eq!(p.records[1].record.gross_kg, 30_000);
    let p = file(&["49", "30"]);
    assert_eq!(
        (p.detected.mass_unit, p.detected.mass_unit_reason.clone()),
        (MassUnit::Tonnes, MassUnitReason::AllBelow1000)
    );
    assert_eq!(p.records[0].record.gross_kg, 49_000);
    let p = file(&["52300", "800"]);
    assert_eq!(
        (p.detected.mass_unit, p.detected.mass_unit_reason.clone()),
        (MassUnit::Kilograms, MassUnitReason::WholeNumbers)
    );
    assert_eq!(p.records[0].record.gross_kg, 52_300);
    assert_eq!(p.records[1].record.gross_kg, 800);

    // The mapping's unit wins over the values.
    let text = csv(&[
        "车号,轴数,毛重,过磅时间",
        "晋E12345,6,52,2026-11-29 08:15:30",
    ]);
    let kg = Mapping::from_toml("mass_unit = \"kg\"").unwrap();
    let p = parse(text.as_bytes(), &kg, NOW).unwrap();
    assert_eq!(p.detected.mass_unit_reason, MassUnitReason::Mapping);
    assert_eq!(p.records[0].record.gross_kg, 52);
    // And the header's over the values: 毛重(kg) with small values stays kg.
    let text = csv(&[
        "车号,轴数,毛重(kg),过磅时间",
        "晋E12345,2,900,2026-11-29 08:15:30",
    ]);
    let p = parse_default(&text);
    assert_eq!(p.detected.mass_unit, MassUnit::Kilograms);
    assert_eq!(p.records[0].record.gross_kg, 900);
}

#[test]
fn local_times_are_china_standard_time() {
    let formats = DEFAULT_TIME_FORMATS.iter().copied();
    for text in [
        "2026-11-29 08:15:30",
        "2026-11-29T08:15:30",
        "2026/11/29 08:15:30",
        "2026/11/29 8:15:30",
        "2026-11-29 08:15:30.000",
        "2026年11月29日 08:15:30",
        "20261129081530",
        "2026-11-29T00:15:30Z",
        "2026-11-29T08:15:30+08:00",
        " 2026-11-29 08:15:30 ",
    ] {
        assert_eq!(
            parse_local_time_ms(text, formats.clone()),
            Ok(AT_0815_30),
            "{text}"
        );
    }
    assert_eq!(
        parse_local_time_ms("2026/11/29 8:15", formats.clone()),
        Ok(AT_0815_30 - 30_000)
    );
    for bad in ["2026-11-29", "29/11/2026 08:15", "2026-13-01 08:00", "昨天"] {
        let e = parse_local_time_ms(bad, formats.clone()).unwrap_err();
        assert!(e.contains("%Y-%m-%d %H:%M:%S"), "{bad}: {e}");
    }
    // A mapping's own format is tried first.
    let m = Mapping::from_toml("time_formats = [\"%d.%m.%Y %H:%M:%S\"]").unwrap();
    assert_eq!(
        parse_local_time_ms("29.11.2026 08:15:30", m.time_formats()),
        Ok(AT_0815_30)
    );
}

#[test]
fn result_words_are_mapped_and_an_absent_column_means_passed() {
    let text = csv(&[
        "车号,轴数,毛重,过磅时间,结果",
        "晋E12341,6,30,2026-11-29 08:15:31,放行",
        "晋E12342,6,30,2026-11-29 08:15:32,拦截",
        "晋E12343,6,30,2026-11-29 08:15:33,卸载复磅",
        "晋E12344,6,30,2026-11-29 08:15:34,",
        "晋E12345,6,30,2026-11-29 08:15:35,扣车",
        "晋E12346,6,30,2026-11-29 08:15:36,Blocked",
    ]);
    let p = parse_default(&text);
    let results: Vec<_> = p
        .records
        .iter()
        .map(|l| (l.line, l.record.result))
        .collect();
    assert_eq!(
        results,
        [
            (2, WeighingResult::Passed),
            (3, WeighingResult::Blocked),
            (4, WeighingResult::UnloadedAndReweighed),
            (5, WeighingResult::Passed),
            (7, WeighingResult::Blocked),
        ]
    );
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(p.rejected[0].line, 6);
    assert!(
        p.rejected[0].reason.contains("扣车"),
        "{}",
        p.rejected[0].reason
    );

    let m = Mapping::from_toml("[result_values]\n\"扣车\" = \"blocked\"").unwrap();
    let p = parse(text.as_bytes(), &m, NOW).unwrap();
    assert!(p.rejected.is_empty());
    assert_eq!(p.records[4].record.result, WeighingResult::Blocked);

    let text = csv(&[
        "车号,轴数,毛重,过磅时间",
        "晋E12345,6,30,2026-11-29 08:15:30",
    ]);
    assert_eq!(
        parse_default(&text).records[0].record.result,
        WeighingResult::Passed
    );
}

#[test]
fn bad_lines_are_rejected_each_with_its_line_number() {
    let text = csv(&[
        HEADER,
        "1,晋E12345,6,52.30,15.20,37.10,原煤,2026-11-29 08:15:30,放行", // 2 good
        "2,,6,52.30,,,原煤,2026-11-29 08:16:00,放行",                   // 3 no plate
        "3,晋E12346,6,5x.3,,,原煤,2026-11-29 08:17:00,放行",            // 4 bad gross
        "4,晋E12347,6,40,,,原煤,昨天,放行",                             // 5 bad time
        "5,晋E12348,6,40,,,原煤,2026-11-29 08:18:00",                   // 6 too few fields
        "6,ABC,6,40,,,原煤,2026-11-29 08:19:00,放行",                   // 7 bad plate
        "7,晋E12349,6,40,10,20,原煤,2026-11-29 08:20:00,放行",          // 8 masses
        "",                                                             // 9 blank
        "8,晋E12340,6,40,,,\"煤,块\",2026-11-29 08:21:00,放行",         // 10 good, quoted comma
        "9,晋E12341,1,40,,,原煤,2026-11-29 08:22:00,放行",              // 11 one axle
        "10,晋E12342,6,40,,,原煤,2036-11-29 08:22:00,放行",             // 12 future
        "11,晋E12343,六,40,,,原煤,2026-11-29 08:23:00,放行",            // 13 bad axles
        "12,晋E12344,6,40,,,原煤,2026-11-29 08:24:00,放行,多余",        // 14 too many fields
        ",,,,,,,,",                                                     // 15 empty cells
    ]);
    let p = parse_default(&text);
    let good: Vec<u64> = p.records.iter().map(|l| l.line).collect();
    assert_eq!(good, [2, 10]);
    assert_eq!(p.records[1].record.cargo.as_deref(), Some("煤,块"));
    let rejected: Vec<(u64, &str)> = p
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    let expect = [
        (3, "plate"),
        (4, "gross"),
        (5, "weighed_at"),
        (6, "8 fields; the header line 1 has 9"),
        (7, "plate"),
        (8, "masses do not add up"),
        (11, "classify"),
        (12, "future"),
        (13, "axles"),
        (14, "10 fields"),
    ];
    assert_eq!(rejected.len(), expect.len(), "{rejected:?}");
    for ((line, reason), (want_line, needle)) in rejected.iter().zip(expect) {
        assert_eq!(*line, want_line, "{reason}");
        assert!(
            reason.contains(needle),
            "line {line}: {reason:?} lacks {needle:?}"
        );
    }
    assert_eq!(p.detected.data_lines, 12, "blank lines are not data");
}

#[test]
fn record_ids_without_a_column_are_derived_and_stable() {
    let text = csv(&[
        "车号,轴数,毛重,过磅时间",
        "晋e·12345,6,52.3,2026-11-29 08:15:30",
        "晋E12346,6,52.3,2026-11-29 08:15:30",
    ]);
    let a = parse_default(&text);
    let b = parse_default(&text);
    assert_eq!(a.records, b.records, "a re-import gives the same ids");
    let id = &a.records[0].record.record_id;
    assert!(id.starts_with("csv-") && id.len() == 36, "{id}");
    assert_eq!(
        *id,
        derived_record_id("晋E12345", AT_0815_30, 52_300),
        "the plate is normalised"
    );
    assert_ne!(a.records[0].record.record_id, a.records[1].record.record_id);
    assert_ne!(
        derived_record_id("晋E12345", AT_0815_30, 52_300),
        derived_record_id("晋E12345", AT_0815_30, 52_310)
    );
    assert_ne!(
        derived_record_id("晋E12345", AT_0815_30, 52_300),
        derived_record_id("晋E12345", AT_0815_30 + 1000, 52_300)
    );
}

#[test]
fn repeated_lines_are_duplicates_and_reused_ids_are_rejected() {
    let text = csv(&[
        HEADER,
        "1,晋E12345,6,52.30,15.20,37.10,原煤,2026-11-29 08:15:30,放行",
        "1,晋e·12345,6,52.3,15.2,37.1,原煤,2026-11-29 08:15:30,放行",
        "1,晋E12345,6,52.40,15.20,37.20,原煤,2026-11-29 08:15:30,放行",
    ]);
    let p = parse_default(&text);
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.repeats.len(), 1);
    assert_eq!((p.repeats[0].line, p.repeats[0].first_line), (3, 2));
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(p.rejected[0].line, 4);
    assert!(p.rejected[0].reason.contains("also on line 2"));
}

#[test]
fn a_mapping_file_reads_another_programs_export() {
    let mapping = Mapping::from_toml(
        r#"
        mass_unit = "kg"
        delimiter = ";"
        time_formats = ["%d.%m.%Y %H:%M:%S"]
        [columns]
        plate = "车辆号码"
        gross = "总重"
        weighed_at = "时间"
        axles = "车轴"
        record_id = "票号"
        result = "状态"
        [result_values]
        "出厂" = "passed"
        "#,
    )
    .unwrap();
    let text = csv(&[
        "票号;车辆号码;车轴;总重;时间;状态",
        "T-7;晋E12345;6;52300;29.11.2026 08:15:30;出厂",
    ]);
    let p = parse(text.as_bytes(), &mapping, NOW).unwrap();
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    let r = &p.records[0].record;
    assert_eq!(
        (r.record_id.as_str(), r.gross_kg, r.weighed_at_ms, r.result),
        ("T-7", 52_300, AT_0815_30, WeighingResult::Passed)
    );
}

#[test]
fn the_example_mapping_of_the_help_is_valid() {
    let m = Mapping::from_toml(super::EXAMPLE_MAPPING).unwrap();
    assert_eq!(m.default_axles, Some(6));
    assert_eq!(m.header_names(Field::Gross), ["毛重(吨)"]);
}

fn lines(n: usize) -> Vec<super::ParsedLine> {
    let mut rows = vec!["车号,轴数,毛重,过磅时间".to_owned()];
    for i in 0..n {
        rows.push(format!(
            "晋E{:05},6,30,2026-11-29 08:{:02}:{:02}",
            i,
            i / 60 % 60,
            i % 60
        ));
    }
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let p = parse_default(&csv(&refs));
    assert_eq!(p.records.len(), n, "{:?}", p.rejected);
    p.records
}

fn answer(
    records: &[zhichao_core::weighing::WeighingRecord],
    status: RecordStatus,
) -> BatchOutcome {
    BatchOutcome {
        records: (0..records.len())
            .map(|index| RecordOutcome {
                index,
                record_id: Some(records[index].record_id.clone()),
                status,
                reason: None,
                exit: None,
                alert_ids: Vec::new(),
            })
            .collect(),
        ..BatchOutcome::default()
    }
}

#[test]
fn records_go_in_batches_and_the_answers_map_back_to_lines() {
    let records = lines(250);
    let mut sizes = Vec::new();
    let mut tally = Tally::default();
    upload::upload(
        |batch| {
            sizes.push(batch.len());
            let mut outcome = answer(batch, RecordStatus::Stored);
            if sizes.len() == 2 {
                outcome.records[0].status = RecordStatus::Duplicate;
                outcome.records[1].status = RecordStatus::Conflict;
                outcome.records[1].reason = Some("other content".to_owned());
                outcome.records[2].status = RecordStatus::Invalid;
                outcome.records[2].reason = Some("times: too late".to_owned());
            }
            Ok(outcome)
        },
        &records,
        &ProgressBar::hidden(),
        &mut tally,
    )
    .unwrap();
    assert_eq!(sizes, [BATCH_RECORDS, BATCH_RECORDS, 50]);
    assert_eq!(
        (tally.imported, tally.duplicates, tally.sent),
        (247, 1, 250)
    );
    // Batch 2 starts with the 101st record, on line 102.
    assert_eq!(tally.conflicts.len(), 1);
    assert_eq!(tally.conflicts[0].line, 103);
    assert!(tally.conflicts[0].reason.contains("other content"));
    assert_eq!(tally.invalid.len(), 1);
    assert_eq!(tally.invalid[0].line, 104);
    assert!(tally.invalid[0].reason.contains("times: too late"));
}

fn transport_error() -> ClientError {
    ClientError::Transport(ureq::Error::Io(std::io::Error::other("connection reset")))
}

#[test]
fn a_batch_is_retried_once_after_a_network_error_then_the_upload_stops() {
    let records = lines(150);
    // One failure: retried, everything imported.
    let calls = Cell::new(0);
    let mut tally = Tally::default();
    upload::upload(
        |batch| {
            calls.set(calls.get() + 1);
            if calls.get() == 2 {
                return Err(transport_error());
            }
            Ok(answer(batch, RecordStatus::Stored))
        },
        &records,
        &ProgressBar::hidden(),
        &mut tally,
    )
    .unwrap();
    assert_eq!((calls.get(), tally.imported), (3, 150));

    // Two failures of the second batch: stop there, the first batch stays counted.
    let calls = Cell::new(0);
    let mut tally = Tally::default();
    let stopped = upload::upload(
        |batch| {
            calls.set(calls.get() + 1);
            if calls.get() >= 2 {
                return Err(transport_error());
            }
            Ok(answer(batch, RecordStatus::Stored))
        },
        &records,
        &ProgressBar::hidden(),
        &mut tally,
    )
    .unwrap_err();
    assert_eq!((calls.get(), tally.imported, tally.sent), (3, 100, 100));
    assert_eq!(stopped.line, 102);

    // A refusal of the server is not retried.
    let calls = Cell::new(0);
    let stopped = upload::upload(
        |_| {
            calls.set(calls.get() + 1);
            Err(ClientError::Server {
                status: 401,
                code: "unauthorized".to_owned(),
                message: "bad token".to_owned(),
            })
        },
        &records,
        &ProgressBar::hidden(),
        &mut Tally::default(),
    )
    .unwrap_err();
    assert_eq!(calls.get(), 1);
    assert!(stopped.error.is_unauthorized());
}

#[test]
fn an_answer_about_a_record_outside_the_batch_stops_the_upload() {
    let records = lines(3);
    let stopped = upload::upload(
        |batch| {
            let mut outcome = answer(batch, RecordStatus::Stored);
            outcome.records[2].index = 7;
            Ok(outcome)
        },
        &records,
        &ProgressBar::hidden(),
        &mut Tally::default(),
    )
    .unwrap_err();
    assert!(matches!(stopped.error, ClientError::Decode(_)));
}

#[test]
fn the_summary_lists_rejections_by_line_and_caps_the_list() {
    let mut rows = vec![HEADER.to_owned()];
    for i in 0..60 {
        rows.push(format!(
            "{i},晋E12345,6,bad,,,原煤,2026-11-29 08:15:30,放行"
        ));
    }
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let p = parse_default(&csv(&refs));
    assert_eq!(p.rejected.len(), 60);
    let mut out = Vec::new();
    let info = upload::RunInfo {
        file: "x.csv",
        unit: "91140522MA0K000000",
        server: "http://127.0.0.1:1",
        stopped: None,
    };
    upload::write_summary(&mut out, &p, &Tally::default(), &info).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("encoding    UTF-8"), "{text}");
    assert!(text.contains("rejected    60"), "{text}");
    assert!(
        text.contains("  line 2: gross: \"bad\": not a number"),
        "{text}"
    );
    assert!(text.contains("  line 51: "), "{text}");
    assert!(!text.contains("  line 52: "), "{text}");
    assert!(text.contains("… and 10 more"), "{text}");
}

#[test]
fn line_numbers_hold_with_any_line_ending_blank_lines_and_quoted_line_breaks() {
    let rows = [
        "车号,轴数,毛重,过磅时间,货物",
        "晋E12341,6,30,2026-11-29 08:15:31,原煤",
        "",
        "",
        "晋E12342,6,30,2026-11-29 08:15:32,\"原煤",
        "块煤\"",
        "晋E12343,6,bad,2026-11-29 08:15:33,原煤",
        "晋E12344,6,30,2026-11-29 08:15:34,原煤",
    ];
    for ending in ["\n", "\r\n", "\r"] {
        let text = rows.join(ending);
        let p = parse_default(&text);
        let good: Vec<u64> = p.records.iter().map(|l| l.line).collect();
        assert_eq!(good, [2, 8], "{ending:?}");
        let rejected: Vec<(u64, bool)> = p
            .rejected
            .iter()
            .map(|r| {
                (
                    r.line,
                    r.reason
                        .starts_with(if r.line == 5 { "cargo" } else { "gross" }),
                )
            })
            .collect();
        // A line break inside a cell is refused by the record checks (control character).
        assert_eq!(
            rejected,
            [(5, true), (7, true)],
            "{ending:?}: {:?}",
            p.rejected
        );
    }
}
