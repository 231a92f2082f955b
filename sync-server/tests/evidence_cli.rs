//! `zhichao evidence` as a user runs it: photo files in, text blocks or JSON lines, derivative
//! files under `--out` and an exit code out.
//!
//! The tests over generated files always run; those over the team's sample photos in
//! `../shared/fixtures/photos` are skipped when that folder is missing, except under CI (`CI`
//! set), where that is an error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zhichao_core::evidence::photo::{PhotoFormat, PhotoLimits, process_photo};
use zhichao_core::ids::EvidenceId;

/// The fixture folder, or `None` (after saying so) when it is missing outside CI.
fn fixtures() -> Option<PathBuf> {
    zhichao_core::fixtures::photo_fixtures()
}

fn zhichao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zhichao"))
        .args(args)
        .output()
        .expect("run the zhichao binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

/// The JSON lines of `--json` output, one value per line.
fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a JSON line: {e}: {l}")))
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// CRC-32 as PNG uses it.
/// CRC-32 (ISO 3309, as PNG uses it).
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(data.len())
        .expect("chunk fits")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&[&kind[..], data].concat());
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// A valid RGB PNG of `width` × `height` (≤ 21 845 bytes of pixels), written by hand: zlib
/// with one stored deflate block, so no encoder is needed.
fn png(width: u32, height: u32) -> Vec<u8> {
    png_with_exif(width, height, None)
}

/// [`png`] with an `eXIf` chunk holding `tiff`.
fn png_with_exif(width: u32, height: u32, tiff: Option<&[u8]>) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[(x * 6) as u8, (y * 8) as u8, 128]);
        }
    }
    let len = u16::try_from(raw.len()).expect("one stored block");
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    [
        vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A],
        chunk(b"IHDR", &ihdr),
        tiff.map(|t| chunk(b"eXIf", t)).unwrap_or_default(),
        chunk(b"IDAT", &zlib),
        chunk(b"IEND", &[]),
    ]
    .concat()
}

/// A little-endian TIFF structure (EXIF) with ASCII fields in IFD0, `(tag, text)` sorted by
/// tag: 0x010F Make, 0x0110 Model, 0x0132 DateTime.
fn tiff_ascii(fields: &[(u16, &[u8])]) -> Vec<u8> {
    let count = u16::try_from(fields.len()).expect("few fields");
    let data_start = 8 + 2 + 12 * fields.len() + 4;
    let mut ifd = count.to_le_bytes().to_vec();
    let mut data = Vec::new();
    for (tag, text) in fields {
        let mut value = text.to_vec();
        value.push(0);
        ifd.extend_from_slice(&tag.to_le_bytes());
        ifd.extend_from_slice(&2u16.to_le_bytes());
        ifd.extend_from_slice(&u32::try_from(value.len()).expect("short").to_le_bytes());
        if value.len() <= 4 {
            value.resize(4, 0);
            ifd.extend_from_slice(&value);
        } else {
            let offset = u32::try_from(data_start + data.len()).expect("small");
            ifd.extend_from_slice(&offset.to_le_bytes());
            data.extend_from_slice(&value);
        }
    }
    ifd.extend_from_slice(&0u32.to_le_bytes());
    [b"II*\0".to_vec(), 8u32.to_le_bytes().to_vec(), ifd, data].concat()
}

fn iso_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(body.len() + 8)
        .expect("small box")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

fn full_box(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
    iso_box(kind, &[&[version, 0, 0, 0][..], body].concat())
}

/// A minimal HEIC: one coded image item (its 32 bytes of "HEVC" data in `mdat`, located by
/// `iloc`), 4032 × 3024 by its `ispe` property.
fn heic() -> Vec<u8> {
    let ftyp = iso_box(b"ftyp", b"heic\0\0\0\0mif1heic");
    let meta = |mdat_start: u32| {
        let hdlr = full_box(b"hdlr", 0, b"\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let pitm = full_box(b"pitm", 0, &[0, 1]);
        let infe = full_box(b"infe", 2, b"\0\x01\0\0hvc1\0");
        let iinf = full_box(b"iinf", 0, &[&[0, 1][..], &infe].concat());
        // Version 0, offsets and lengths of 4 bytes, no base offset: item 1, one extent.
        let mut iloc = vec![0x44, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
        iloc.extend_from_slice(&mdat_start.to_be_bytes());
        iloc.extend_from_slice(&32u32.to_be_bytes());
        let iloc = full_box(b"iloc", 0, &iloc);
        let mut ispe = 4032u32.to_be_bytes().to_vec();
        ispe.extend_from_slice(&3024u32.to_be_bytes());
        let ipco = iso_box(b"ipco", &full_box(b"ispe", 0, &ispe));
        let ipma = full_box(b"ipma", 0, &[0, 0, 0, 1, 0, 1, 1, 0x81]);
        let iprp = iso_box(b"iprp", &[ipco, ipma].concat());
        full_box(b"meta", 0, &[hdlr, pitm, iinf, iloc, iprp].concat())
    };
    let mdat_start = u32::try_from(ftyp.len() + meta(0).len() + 8).expect("small");
    [ftyp, meta(mdat_start), iso_box(b"mdat", &[0x42; 32])].concat()
}

/// Runs `zhichao` with `args`, killing it (and failing) after `seconds`.
fn zhichao_within(seconds: u64, args: &[&str]) -> Output {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_zhichao"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the zhichao binary");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("zhichao {args:?} did not finish within {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Checks that `--out` wrote exactly the two derivatives of each `(sha256, line)`, as complete
/// JPEGs of the sizes and hashes the JSON reported.
fn check_written(dir: &Path, lines: &[&serde_json::Value]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list --out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = lines
        .iter()
        .flat_map(|l| {
            let sha = l["sha256"].as_str().expect("sha256");
            [format!("{sha}.evidence.jpg"), format!("{sha}.thumb.jpg")]
        })
        .collect();
    want.sort();
    assert_eq!(names, want, "exactly the derivatives, no temporary files");
    for line in lines {
        let sha = line["sha256"].as_str().expect("sha256");
        for (suffix, key) in [("evidence", "evidence_copy"), ("thumb", "thumbnail")] {
            let path = dir.join(format!("{sha}.{suffix}.jpg"));
            let bytes = std::fs::read(&path).expect("read derivative");
            let reported = &line[key];
            assert_eq!(
                reported["sha256"].as_str(),
                Some(EvidenceId::of(&bytes).to_string().as_str()),
                "{key} hash"
            );
            assert_eq!(reported["path"].as_str(), Some(path_str(&path)));
            // Decodes as a JPEG of the reported size, upright and without EXIF.
            let photo = process_photo(&bytes, &PhotoLimits::default()).expect("derivative");
            assert_eq!(photo.format, PhotoFormat::Jpeg);
            let size = (
                u32::try_from(reported["width"].as_u64().expect("width")).expect("u32"),
                u32::try_from(reported["height"].as_u64().expect("height")).expect("u32"),
            );
            assert_eq!(photo.oriented_size, Some(size), "{key} size");
            assert_eq!(photo.metadata.make, None, "{key} carries no EXIF");
            assert_eq!(photo.metadata.orientation, 1);
        }
    }
}

#[test]
fn a_generated_png_gives_json_and_derivatives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("photo.png");
    let bytes = png(40, 30);
    std::fs::write(&file, &bytes).expect("write");
    let out = dir.path().join("out/nested");
    let o = zhichao(&[
        "evidence",
        "--json",
        "--out",
        path_str(&out),
        path_str(&file),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(l["file"], path_str(&file));
    assert_eq!(l["ok"], true);
    assert_eq!(l["sha256"], EvidenceId::of(&bytes).to_string());
    assert_eq!(l["format"], "png");
    assert_eq!(
        (l["width"].as_u64(), l["height"].as_u64()),
        (Some(40), Some(30))
    );
    assert_eq!(l["stored_width"], 40);
    assert_eq!(l["orientation"], 1);
    assert_eq!(l["error_kind"], serde_json::Value::Null);
    assert_eq!(l["gps"], serde_json::Value::Null);
    check_written(&out, &[l]);
}

#[test]
fn any_failing_file_gives_exit_code_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.png");
    std::fs::write(&good, png(8, 8)).expect("write");
    let text_file = dir.path().join("notes.jpg");
    std::fs::write(&text_file, b"not a photo, whatever the name says").expect("write");
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").expect("write");
    let cut = dir.path().join("cut.png");
    let full = png(8, 8);
    std::fs::write(&cut, &full[..full.len() - 12]).expect("write");
    let missing = dir.path().join("missing.jpg");
    let files = [&good, &text_file, &empty, &cut, &missing].map(|p| path_str(p).to_owned());
    let mut args = vec!["evidence", "--json"];
    args.extend(files.iter().map(String::as_str));
    let o = zhichao(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let kinds: Vec<_> = json_lines(&o)
        .iter()
        .map(|l| {
            (
                l["ok"].as_bool(),
                l["error_kind"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (Some(true), None),
            (Some(false), Some("UnsupportedFormat".to_owned())),
            (Some(false), Some("Empty".to_owned())),
            (Some(false), Some("Truncated".to_owned())),
            (Some(false), Some("Unreadable".to_owned())),
        ]
    );
    assert!(
        text(&o.stderr).contains("error: 4 of 5 file(s) refused"),
        "{}",
        text(&o.stderr)
    );

    // The same as text: one block per file, errors named.
    let mut args = vec!["evidence"];
    args.extend(files.iter().map(String::as_str));
    let o = zhichao(&args);
    assert_eq!(o.status.code(), Some(2));
    let out = text(&o.stdout);
    assert_eq!(out.split("\n\n").count(), 5, "{out}");
    assert!(out.contains("format     png, "), "{out}");
    assert!(
        out.contains("oriented   8 × 8 px (EXIF orientation 1)"),
        "{out}"
    );
    assert!(out.contains("error      UnsupportedFormat: "), "{out}");
    assert!(out.contains("error      Truncated: "), "{out}");
    assert!(out.contains("error      Empty: "), "{out}");
    assert!(out.contains("error      Unreadable: cannot read"), "{out}");
}

#[test]
fn usage_errors_and_unwritable_output() {
    let o = zhichao(&["evidence"]);
    assert_eq!(o.status.code(), Some(2), "no files is a usage error");
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.png");
    std::fs::write(&good, png(8, 8)).expect("write");
    // --out names an existing file: the directory cannot be created.
    let o = zhichao(&["evidence", "--out", path_str(&good), path_str(&good)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("cannot create"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn fixture_photos_report_their_evidence() {
    let Some(fixtures) = fixtures() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("ev");
    let rel = [
        "large/derived_ianare_IMG_5195_8.5MP.jpg",
        "orientation/recurser_Portrait_6.jpg",
        "heic/ianare_IMG_5195_iPhone11ProMax.HEIC",
        "corrupt/derived_recurser_Portrait_6_trunc60pct.jpg",
        "corrupt/synthetic_png_header_100000x100000.png",
    ];
    let paths: Vec<String> = rel
        .iter()
        .map(|r| path_str(&fixtures.join(r)).to_owned())
        .collect();
    let mut args = vec!["evidence", "--json", "--out", path_str(&out)];
    args.extend(paths.iter().map(String::as_str));
    let o = zhichao(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), rel.len());

    let large = &lines[0];
    assert_eq!(large["ok"], true);
    assert_eq!(large["format"], "jpeg");
    assert_eq!(
        (large["width"].as_u64(), large["height"].as_u64()),
        (Some(2566), Some(3313))
    );
    assert_eq!(large["make"], "Apple");
    assert_eq!(large["model"], "iPhone 11 Pro Max");
    assert_eq!(large["captured_at"], "2021-04-11T15:47:53");
    assert_eq!(large["captured_at_source"], "original");
    assert_eq!(large["utc_offset_minutes"], -300);
    let lat = large["gps"]["lat"].as_f64().expect("lat");
    let lon = large["gps"]["lon"].as_f64().expect("lon");
    assert!((lat - 39.051_344).abs() < 1e-4 && (lon + 94.288_772).abs() < 1e-4);
    assert_eq!(large["evidence_copy"]["width"], 1586);
    assert_eq!(large["thumbnail"]["height"], 320);

    let portrait = &lines[1];
    assert_eq!(portrait["ok"], true);
    assert_eq!(portrait["orientation"], 6);
    assert_eq!(
        (
            portrait["stored_width"].as_u64(),
            portrait["width"].as_u64()
        ),
        (Some(1800), Some(1200)),
        "stored landscape, shown portrait"
    );

    let heic = &lines[2];
    assert_eq!(heic["ok"], false);
    assert_eq!(heic["format"], "heif");
    assert_eq!(heic["error_kind"], "PreviewUnavailable");
    let message = heic["error"].as_str().expect("message");
    assert!(!message.contains("on this device"), "{message}");
    assert_eq!(heic["make"], "Apple", "EXIF is still read");
    assert_eq!(heic["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(heic["evidence_copy"], serde_json::Value::Null);

    assert_eq!(lines[3]["error_kind"], "Truncated");
    assert_eq!(lines[3]["format"], "jpeg");
    assert_eq!(lines[4]["error_kind"], "TooLarge");
    let message = lines[4]["error"].as_str().expect("message");
    assert!(
        message.contains("100 000 000 pixels"),
        "names the limit: {message}"
    );

    check_written(&out, &[large, portrait]);
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_refused_without_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("photo.jpg");
    let made = Command::new("mkfifo").arg(&fifo).status();
    let mut files = vec!["/dev/zero".to_owned()];
    if made.is_ok_and(|s| s.success()) {
        files.push(path_str(&fifo).to_owned());
    } else {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "mkfifo not available: FIFO case skipped");
    }
    let mut args = vec!["evidence", "--json"];
    args.extend(files.iter().map(String::as_str));
    // Reading a FIFO without a writer blocks forever; /dev/zero never ends.
    let o = zhichao_within(60, &args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), files.len());
    for line in &lines {
        assert_eq!(line["error_kind"], "Unreadable", "{line}");
        let message = line["error"].as_str().expect("message");
        assert!(message.contains("not a regular file"), "{message}");
        assert_eq!(
            line["sha256"],
            serde_json::Value::Null,
            "no hash of a partial read"
        );
        assert_eq!(line["byte_len"], serde_json::Value::Null);
    }
    assert!(
        lines[0]["error"]
            .as_str()
            .is_some_and(|m| m.contains("character device")),
        "{}",
        lines[0]
    );
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = "photo\u{1b}]0;pwned\u{7}\n\u{202e}gnp.png";
    let file = dir.path().join(name);
    let tiff = tiff_ascii(&[
        (0x010F, "\u{1b}[2J\u{1b}[31mXiaomi\u{1b}[0m\r".as_bytes()),
        (0x0110, "小米 13\u{9b}1m".as_bytes()),
    ]);
    std::fs::write(&file, png_with_exif(8, 8, Some(&tiff))).expect("write");
    let o = zhichao(&["evidence", path_str(&file)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}'] {
        assert!(!out.contains(c), "{c:?} reached the terminal: {out:?}");
    }
    assert_eq!(out.lines().count(), out.matches('\n').count(), "{out:?}");
    // The file name is shown escaped; EXIF texts have their control characters removed.
    assert!(
        out.contains("photo\\u{1b}]0;pwned\\u{7}\\n\\u{202e}gnp.png"),
        "{out}"
    );
    assert!(out.contains("make       [2J[31mXiaomi[0m\n"), "{out}");
    assert!(out.contains("model      小米 131m\n"), "CJK kept: {out}");
    // JSON escapes by itself and keeps the name.
    let o = zhichao(&["evidence", "--json", path_str(&file)]);
    let lines = json_lines(&o);
    assert_eq!(lines[0]["file"], path_str(&file));
    assert_eq!(lines[0]["model"], "小米 131m");
}

#[test]
fn a_failed_thumbnail_write_takes_the_evidence_copy_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("photo.png");
    let bytes = png(40, 30);
    std::fs::write(&file, &bytes).expect("write");
    let out = dir.path().join("out");
    let sha = EvidenceId::of(&bytes).to_string();
    // A directory where the thumbnail goes: its rename fails.
    std::fs::create_dir_all(out.join(format!("{sha}.thumb.jpg"))).expect("mkdir");
    let o = zhichao(&[
        "evidence",
        "--json",
        "--out",
        path_str(&out),
        path_str(&file),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let line = &json_lines(&o)[0];
    assert_eq!(line["ok"], false);
    let error = line["write_error"].as_str().expect("write error");
    assert!(error.contains("evidence copy was removed"), "{error}");
    assert!(
        !out.join(format!("{sha}.evidence.jpg")).exists(),
        "both or neither"
    );
    let names: Vec<_> = std::fs::read_dir(&out)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary files left: {names:?}");
}

#[test]
fn a_heic_is_kept_as_evidence_not_counted_as_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let heic_file = dir.path().join("IMG_0001.HEIC");
    std::fs::write(&heic_file, heic()).expect("write");
    let good = dir.path().join("good.png");
    std::fs::write(&good, png(8, 8)).expect("write");
    let bad = dir.path().join("bad.jpg");
    std::fs::write(&bad, b"not a photo").expect("write");
    let files = [&heic_file, &good, &bad].map(|p| path_str(p).to_owned());

    let mut args = vec!["evidence"];
    args.extend(files.iter().map(String::as_str));
    let o = zhichao(&args);
    assert_eq!(o.status.code(), Some(2), "not every file has derivatives");
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("error: 1 of 3 file(s) refused; 1 HEIC kept as evidence without preview"),
        "{stderr}"
    );
    assert!(!stderr.contains("no usable evidence"), "{stderr}");
    let out = text(&o.stdout);
    let heic_block = out.split("\n\n").next().expect("first block");
    assert!(heic_block.contains("format     heif, "), "{heic_block}");
    assert!(
        heic_block.contains("stored     4032 × 3024 px"),
        "{heic_block}"
    );
    assert!(heic_block.contains("preview    none: "), "{heic_block}");
    assert!(!heic_block.contains("error"), "{heic_block}");
    assert!(!heic_block.contains("on this device"), "{heic_block}");

    // JSON keeps the error kind (ok is false: no derivatives).
    let o = zhichao(&["evidence", "--json", path_str(&heic_file)]);
    assert_eq!(o.status.code(), Some(2));
    let line = &json_lines(&o)[0];
    assert_eq!(line["ok"], false);
    assert_eq!(line["error_kind"], "PreviewUnavailable");
    assert_eq!(line["sha256"].as_str().map(str::len), Some(64));
    assert!(
        text(&o.stderr).contains("note: 1 HEIC kept as evidence without preview"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_capture_time_that_is_the_save_time_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("edited.png");
    let tiff = tiff_ascii(&[(0x0132, b"2014:12:18 17:45:02")]);
    std::fs::write(&file, png_with_exif(8, 8, Some(&tiff))).expect("write");
    let o = zhichao(&["evidence", path_str(&file)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains(
            "captured   2014-12-18T17:45:02 (camera clock, UTC offset unknown) (EXIF DateTime: \
             when the file was last saved, not necessarily taken)"
        ),
        "{}",
        text(&o.stdout)
    );
    let o = zhichao(&["evidence", "--json", path_str(&file)]);
    let line = &json_lines(&o)[0];
    assert_eq!(line["captured_at"], "2014-12-18T17:45:02");
    assert_eq!(line["captured_at_source"], "modified");
}
