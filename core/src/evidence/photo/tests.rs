//! Unit tests of the photo pipeline on generated inputs (the team's sample photos are tested
//! in `core/tests/photos.rs`).

use std::io::Cursor;

use exif::{Field, In, Rational, Tag, Value};
use proptest::prelude::*;

use super::metadata::{parse_datetime, parse_offset};
use super::raster::{Raster, fit, orient};
use super::*;

fn limits() -> PhotoLimits {
    PhotoLimits::default()
}

fn kind(result: Result<Photo, EvidenceError>) -> &'static str {
    match result {
        Ok(_) => "Ok",
        Err(e) => e.kind(),
    }
}

/// A smooth, asymmetric RGB test image (no two corners alike).
fn gradient(width: u32, height: u32) -> Vec<u8> {
    let mut px = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            px.push((x * 255 / width.max(2)) as u8);
            px.push((y * 255 / height.max(2)) as u8);
            px.push(((x + 2 * y) % 256) as u8);
        }
    }
    px
}

/// A baseline JPEG of [`gradient`], with an EXIF APP1 segment when given its TIFF bytes.
fn jpeg(width: u16, height: u16, exif: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    if let Some(exif) = exif {
        encoder.add_exif_metadata(exif).expect("exif fits");
    }
    encoder
        .encode(
            &gradient(width.into(), height.into()),
            width,
            height,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("encode");
    out
}

/// EXIF (TIFF structure) with the given fields; `thumbnail` adds an IFD1 JPEG thumbnail.
fn exif_tiff(fields: &[Field], thumbnail: Option<&[u8]>) -> Vec<u8> {
    let mut writer = exif::experimental::Writer::new();
    for f in fields {
        writer.push_field(f);
    }
    if let Some(thumb) = thumbnail {
        writer.set_jpeg(thumb, In::THUMBNAIL);
    }
    let mut out = Cursor::new(Vec::new());
    writer.write(&mut out, false).expect("write exif");
    out.into_inner()
}

fn field(tag: Tag, value: Value) -> Field {
    Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    }
}

fn ascii(s: &str) -> Value {
    Value::Ascii(vec![s.as_bytes().to_vec()])
}

fn rationals(v: &[(u32, u32)]) -> Value {
    Value::Rational(v.iter().map(|&(n, d)| Rational::from((n, d))).collect())
}

/// CRC-32 (ISO 3309, as PNG uses it).
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A PNG encoded by the `image` crate (RGBA when `alpha` is given as the alpha of every pixel).
fn png(width: u32, height: u32, alpha: Option<u8>) -> Vec<u8> {
    use image::ImageEncoder;
    let rgb = gradient(width, height);
    let mut out = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut out);
    match alpha {
        None => encoder
            .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
            .expect("png"),
        Some(a) => {
            let rgba: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[0], p[1], p[2], a]).collect();
            encoder
                .write_image(&rgba, width, height, image::ExtendedColorType::Rgba8)
                .expect("png")
        }
    }
    out
}

/// Inserts a chunk right after IHDR (signature 8 + IHDR 25 bytes).
fn with_chunk_after_ihdr(png: &[u8], chunk: &[u8]) -> Vec<u8> {
    let mut out = png[..33].to_vec();
    out.extend_from_slice(chunk);
    out.extend_from_slice(&png[33..]);
    out
}

fn decode_rgb(jpeg: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("derivative decodes")
        .to_rgb8()
}

/// True when the JPEG has an `APP1` segment starting `Exif` before its first scan.
fn has_exif_segment(jpeg: &[u8]) -> bool {
    let mut pos = 2;
    while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF {
        let marker = jpeg[pos + 1];
        if marker == 0xDA {
            return false;
        }
        if marker == 0xE1 && jpeg[pos + 4..].starts_with(b"Exif") {
            return true;
        }
        pos += 2 + usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Sniffing and errors

#[test]
fn empty_input_is_empty() {
    let err = process_photo(&[], &limits()).unwrap_err();
    assert_eq!(err, EvidenceError::Empty);
    assert_eq!(err.kind(), "Empty");
}

#[test]
fn random_bytes_are_unsupported() {
    let bytes: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let err = process_photo(&bytes, &limits()).unwrap_err();
    assert_eq!(err.kind(), "UnsupportedFormat", "{err}");
    assert!(err.to_string().contains("not a JPEG, PNG or HEIF"), "{err}");
    for (bytes, name) in [
        (&b"GIF89a\x01\x00\x01\x00"[..], "GIF"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "WebP"),
        (b"%PDF-1.7\n", "PDF"),
        (b"<html><body>", "not a JPEG"),
    ] {
        let err = detect_format(bytes).unwrap_err();
        assert_eq!(err.kind(), "UnsupportedFormat");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn the_start_of_a_signature_is_truncated() {
    let heic = fake_heic(b"heic", &[b"mif1"]);
    for bytes in [&[0xFF, 0xD8][..], &[0xFF], &PNG_START[..5], &heic[..18]] {
        assert_eq!(detect_format(bytes).unwrap_err().kind(), "Truncated");
    }
}

const PNG_START: [u8; 8] = container::PNG_SIGNATURE;

#[test]
fn error_kinds_and_messages() {
    let errors = [
        (EvidenceError::Empty, "Empty"),
        (EvidenceError::unsupported("x"), "UnsupportedFormat"),
        (EvidenceError::truncated("x"), "Truncated"),
        (EvidenceError::too_large("x"), "TooLarge"),
        (EvidenceError::corrupt("x"), "Corrupt"),
        (
            EvidenceError::PreviewUnavailable { detail: "x".into() },
            "PreviewUnavailable",
        ),
    ];
    for (e, kind) in errors {
        assert_eq!(e.kind(), kind);
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(json["kind"], kind);
        assert_eq!(json["message"], e.to_string());
    }
    let e = PhotoLimits::default()
        .check_input_len(70_000_000)
        .unwrap_err();
    assert_eq!(e.kind(), "TooLarge");
    assert_eq!(
        e.to_string(),
        "the photo is too large: the file is 70 000 000 bytes, over the limit of \
         67 108 864 bytes (64 MiB)"
    );
}

#[test]
fn input_over_the_byte_limit_is_too_large() {
    let bytes = jpeg(16, 16, None);
    let small = PhotoLimits {
        max_input_bytes: 100,
        ..PhotoLimits::default()
    };
    let err = process_photo(&bytes, &small).unwrap_err();
    assert_eq!(err.kind(), "TooLarge");
    assert!(
        err.to_string().contains("over the limit of 100 bytes"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// JPEG

#[test]
fn a_small_jpeg_gives_its_record_and_derivatives() {
    let bytes = jpeg(64, 48, None);
    let photo = process_photo(&bytes, &limits()).expect("photo");
    assert_eq!(photo.sha256, EvidenceId::of(&bytes));
    assert_eq!(photo.format, PhotoFormat::Jpeg);
    assert_eq!(photo.byte_len, bytes.len() as u64);
    assert_eq!(photo.stored_size, Some((64, 48)));
    assert_eq!(photo.oriented_size, Some((64, 48)));
    assert_eq!(photo.metadata, PhotoMetadata::default());
    let d = photo.derivatives.expect("derivatives");
    // Never upscaled.
    assert_eq!((d.evidence_copy.width, d.evidence_copy.height), (64, 48));
    assert_eq!((d.thumbnail.width, d.thumbnail.height), (64, 48));
    // Same pixels, yet distinct blobs: a document refuses derivatives sharing a hash.
    assert_ne!(d.thumbnail.sha256, d.evidence_copy.sha256);
    assert_eq!(
        d.evidence_copy.sha256,
        EvidenceId::of(&d.evidence_copy.jpeg)
    );
    let img = decode_rgb(&d.evidence_copy.jpeg);
    assert_eq!(img.dimensions(), (64, 48));
    // Pixels survive: the top-left is dark, the bottom-right bright in red.
    assert!(img.get_pixel(0, 0).0[0] < 30);
    assert!(img.get_pixel(63, 47).0[0] > 200);
}

#[test]
fn every_cut_of_a_jpeg_is_truncated() {
    let thumb = jpeg(8, 8, None);
    let tiff = exif_tiff(&[field(Tag::Make, ascii("Cut"))], Some(&thumb));
    let bytes = jpeg(40, 24, Some(&tiff));
    assert_eq!(kind(process_photo(&bytes, &limits())), "Ok");
    // The EXIF thumbnail's own end-of-image marker (inside APP1) must not count.
    let embedded_eoi = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xD9])
        .expect("thumbnail EOI");
    assert!(embedded_eoi < bytes.len() - 2);
    for cut in 1..bytes.len() {
        let result = process_photo(&bytes[..cut], &limits());
        assert_eq!(kind(result), "Truncated", "cut at {cut} of {}", bytes.len());
    }
}

#[test]
fn truncation_message_says_where() {
    let bytes = jpeg(40, 24, None);
    let err = process_photo(&bytes[..bytes.len() - 20], &limits()).unwrap_err();
    assert_eq!(err.kind(), "Truncated");
    assert!(err.to_string().contains("end-of-image"), "{err}");
}

#[test]
fn trailing_bytes_after_the_end_of_image_are_accepted() {
    let bytes = jpeg(40, 24, None);
    let plain = process_photo(&bytes, &limits()).expect("photo");
    let mut trailing = bytes;
    trailing.extend_from_slice(b"\0\0\xFF\xD8 trailing data, e.g. an MPF image \xFF\xD9");
    let photo = process_photo(&trailing, &limits()).expect("trailing data accepted");
    assert_ne!(photo.sha256, plain.sha256, "the hash covers every byte");
    assert_eq!(photo.byte_len, trailing.len() as u64);
    assert_eq!(photo.derivatives, plain.derivatives, "same pixels");
}

#[test]
fn a_jpeg_without_a_scan_is_corrupt() {
    // SOI, APP0-like segment, EOI.
    let bytes = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xD9];
    assert_eq!(kind(process_photo(&bytes, &limits())), "Corrupt");
}

#[test]
fn arithmetic_coded_jpeg_is_unsupported() {
    let mut bytes = jpeg(16, 16, None);
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("SOF0");
    bytes[sof + 1] = 0xC9;
    let err = process_photo(&bytes, &limits()).unwrap_err();
    assert_eq!(err.kind(), "UnsupportedFormat");
    assert!(err.to_string().contains("arithmetic"), "{err}");
}

#[test]
fn exif_metadata_is_read() {
    let fields = [
        field(Tag::Make, ascii("  Xiaomi\0\0")),
        field(Tag::Model, ascii("Redmi Note 12 ")),
        field(Tag::Orientation, Value::Short(vec![6])),
        field(Tag::DateTimeOriginal, ascii("2024:03:05 08:30:00")),
        field(Tag::OffsetTimeOriginal, ascii("+08:00")),
        field(Tag::GPSLatitudeRef, ascii("S")),
        field(
            Tag::GPSLatitude,
            rationals(&[(33, 1), (52, 1), (1234, 100)]),
        ),
        field(Tag::GPSLongitudeRef, ascii("W")),
        field(
            Tag::GPSLongitude,
            rationals(&[(151, 1), (12, 1), (3000, 100)]),
        ),
        field(Tag::GPSHPositioningError, rationals(&[(47, 10)])),
    ];
    let bytes = jpeg(64, 48, Some(&exif_tiff(&fields, None)));
    let photo = process_photo(&bytes, &limits()).expect("photo");
    let m = &photo.metadata;
    assert_eq!(m.make.as_deref(), Some("Xiaomi"));
    assert_eq!(m.model.as_deref(), Some("Redmi Note 12"));
    assert_eq!(m.orientation, 6);
    let t = m.captured_at.as_ref().expect("capture time");
    assert_eq!(t.local, "2024-03-05T08:30:00");
    assert_eq!(t.offset_minutes, Some(480));
    // 2024-03-05T00:30:00Z
    assert_eq!(t.utc_ms, Some(1_709_598_600_000));
    let gps = m.gps.expect("gps");
    // S and W negate: 33°52'12.34" S, 151°12'30" W.
    assert_eq!(gps.lat_e7, -338_700_944);
    assert_eq!(gps.lon_e7, -1_512_083_333);
    assert_eq!(gps.accuracy_m, Some(5));
    // Orientation 6 swaps the sides, and the derivatives are upright.
    assert_eq!(photo.stored_size, Some((64, 48)));
    assert_eq!(photo.oriented_size, Some((48, 64)));
    let d = photo.derivatives.expect("derivatives");
    assert_eq!((d.evidence_copy.width, d.evidence_copy.height), (48, 64));
    // Turned 90° clockwise: the stored bottom-left (dark red, bright green) is now top-left.
    let img = decode_rgb(&d.evidence_copy.jpeg);
    let top_left = img.get_pixel(1, 1).0;
    assert!(top_left[0] < 40 && top_left[1] > 200, "{top_left:?}");
    // The derivatives carry no EXIF (no GPS, no camera).
    assert!(has_exif_segment(&bytes));
    assert!(!has_exif_segment(&d.evidence_copy.jpeg));
    assert!(!has_exif_segment(&d.thumbnail.jpeg));
}

#[test]
fn control_characters_are_removed_from_make_and_model() {
    let fields = [
        field(Tag::Make, ascii("\u{1b}[31mEVIL\u{1b}[0m\n\r")),
        field(Tag::Model, ascii("小米\t13\u{7}\u{9b}2J")),
    ];
    let bytes = jpeg(16, 16, Some(&exif_tiff(&fields, None)));
    let m = process_photo(&bytes, &limits()).expect("photo").metadata;
    assert_eq!(m.make.as_deref(), Some("[31mEVIL[0m"));
    assert_eq!(m.model.as_deref(), Some("小米132J"), "CJK kept");
}

#[test]
fn the_capture_time_says_which_exif_time_it_is() {
    let time = |tag: Tag, t: &str| field(tag, ascii(t));
    let cases = [
        (
            vec![time(Tag::DateTime, "2014:12:18 17:45:02")],
            ("2014-12-18T17:45:02", CaptureTimeSource::Modified, None),
        ),
        (
            vec![
                time(Tag::DateTime, "2020:01:01 00:00:00"),
                time(Tag::DateTimeDigitized, "2019:05:06 07:08:09"),
                time(Tag::OffsetTimeDigitized, "+05:30"),
                time(Tag::OffsetTime, "+01:00"),
            ],
            (
                "2019-05-06T07:08:09",
                CaptureTimeSource::Digitized,
                Some(330),
            ),
        ),
        (
            vec![
                time(Tag::DateTime, "2020:01:01 00:00:00"),
                time(Tag::DateTimeDigitized, "2019:05:06 07:08:09"),
                time(Tag::DateTimeOriginal, "2019:05:06 07:08:08"),
                time(Tag::OffsetTime, "+01:00"),
            ],
            ("2019-05-06T07:08:08", CaptureTimeSource::Original, Some(60)),
        ),
        (
            // A blank original time does not count.
            vec![
                time(Tag::DateTime, "2020:01:01 00:00:00"),
                time(Tag::DateTimeOriginal, "    :  :     :  :  "),
            ],
            ("2020-01-01T00:00:00", CaptureTimeSource::Modified, None),
        ),
    ];
    for (fields, (local, source, offset)) in cases {
        let bytes = jpeg(16, 16, Some(&exif_tiff(&fields, None)));
        let t = process_photo(&bytes, &limits())
            .expect("photo")
            .metadata
            .captured_at
            .expect("a time");
        assert_eq!(
            (t.local.as_str(), t.source, t.offset_minutes),
            (local, source, offset)
        );
    }
    assert_eq!(
        serde_json::to_value(CaptureTimeSource::Modified).expect("json"),
        "modified"
    );
    assert_eq!(CaptureTimeSource::Modified.exif_tag(), "DateTime");
}

#[test]
fn gps_at_zero_zero_or_without_reference_is_no_fix() {
    let zero = [
        field(Tag::GPSLatitudeRef, ascii("N")),
        field(Tag::GPSLatitude, rationals(&[(0, 1), (0, 1), (0, 1)])),
        field(Tag::GPSLongitudeRef, ascii("E")),
        field(Tag::GPSLongitude, rationals(&[(0, 1), (0, 1), (0, 1)])),
    ];
    let no_ref = [
        field(Tag::GPSLatitude, rationals(&[(37, 1), (0, 1), (0, 1)])),
        field(Tag::GPSLongitude, rationals(&[(112, 1), (0, 1), (0, 1)])),
    ];
    let zero_denominator = [
        field(Tag::GPSLatitudeRef, ascii("N")),
        field(Tag::GPSLatitude, rationals(&[(37, 0), (0, 1), (0, 1)])),
        field(Tag::GPSLongitudeRef, ascii("E")),
        field(Tag::GPSLongitude, rationals(&[(112, 1), (0, 1), (0, 1)])),
    ];
    for fields in [&zero[..], &no_ref, &zero_denominator] {
        let bytes = jpeg(16, 16, Some(&exif_tiff(fields, None)));
        let photo = process_photo(&bytes, &limits()).expect("photo");
        assert_eq!(photo.metadata.gps, None, "{fields:?}");
    }
}

#[test]
fn out_of_range_orientation_and_blank_texts_are_defaults() {
    for o in [0u16, 9, 300] {
        let fields = [
            field(Tag::Orientation, Value::Short(vec![o])),
            field(Tag::Make, ascii("   ")),
            field(Tag::DateTimeOriginal, ascii("    :  :     :  :  ")),
        ];
        let bytes = jpeg(16, 8, Some(&exif_tiff(&fields, None)));
        let photo = process_photo(&bytes, &limits()).expect("photo");
        assert_eq!(photo.metadata, PhotoMetadata::default(), "orientation {o}");
        assert_eq!(photo.oriented_size, Some((16, 8)));
    }
}

#[test]
fn a_broken_exif_block_is_ignored() {
    for garbage in [
        &b"MM\0*\0\0\0\x08\xFF\xFF"[..],
        b"II*\0\xFF\xFF\xFF\x7F",
        b"not tiff at all",
        b"",
    ] {
        let bytes = jpeg(16, 16, Some(garbage));
        let photo = process_photo(&bytes, &limits()).expect("a broken EXIF does not fail");
        assert_eq!(photo.metadata, PhotoMetadata::default());
        assert!(photo.derivatives.is_ok());
    }
}

#[test]
fn large_images_are_downscaled_never_upscaled() {
    let bytes = jpeg(3000, 1000, None);
    let photo = process_photo(&bytes, &limits()).expect("photo");
    let d = photo.derivatives.expect("derivatives");
    assert_eq!((d.evidence_copy.width, d.evidence_copy.height), (2048, 683));
    assert_eq!((d.thumbnail.width, d.thumbnail.height), (320, 107));
    assert_eq!(decode_rgb(&d.thumbnail.jpeg).dimensions(), (320, 107));

    assert_eq!(fit(2048, 10, 2048), None);
    assert_eq!(fit(10, 2049, 2048), Some((10, 2048)));
    assert_eq!(fit(4000, 1, 320), Some((320, 1)), "at least one pixel");
    assert_eq!(fit(2566, 3313, 2048), Some((1586, 2048)));
    assert_eq!(fit(1586, 2048, 320), Some((248, 320)));
}

#[test]
fn orientation_transforms_match_the_exif_definitions() {
    // 3×2 image, one grey level per pixel: stored
    //   0 1 2
    //   3 4 5
    let src = || Raster {
        width: 3,
        height: 2,
        channels: 1,
        pixels: vec![0, 1, 2, 3, 4, 5],
    };
    let cases: [(u8, (u32, u32), [u8; 6]); 8] = [
        (1, (3, 2), [0, 1, 2, 3, 4, 5]),
        (2, (3, 2), [2, 1, 0, 5, 4, 3]),
        (3, (3, 2), [5, 4, 3, 2, 1, 0]),
        (4, (3, 2), [3, 4, 5, 0, 1, 2]),
        (5, (2, 3), [0, 3, 1, 4, 2, 5]),
        (6, (2, 3), [3, 0, 4, 1, 5, 2]),
        (7, (2, 3), [5, 2, 4, 1, 3, 0]),
        (8, (2, 3), [2, 5, 1, 4, 0, 3]),
    ];
    for (o, size, want) in cases {
        let out = orient(src(), o);
        assert_eq!((out.width, out.height), size, "orientation {o}");
        assert_eq!(out.pixels, want, "orientation {o}");
    }
}

/// Says that a test is skipped because the team's sample photos are missing — on the process's
/// stderr itself, which libtest does not capture (it captures `println!` and `eprintln!`, and
/// shows them only for failing tests). Under CI (`CI` set) a missing folder is a failure.
fn skipped_without_fixtures(what: &str) {
    use std::io::Write;
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing: CI must provide the team's shared folder ../shared/fixtures/photos \
         beside the clone"
    );
    let _ = writeln!(std::io::stderr(), "skipped: {what} not found");
}

/// The ICC profile embedded in a fixture JPEG, when the fixture is there.
fn fixture_icc(rel: &str) -> Option<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/photos");
    let bytes = std::fs::read(format!("{dir}/{rel}")).ok()?;
    Some(
        container::walk_jpeg(&bytes)
            .expect("jpeg")
            .icc
            .expect("an ICC profile"),
    )
}

#[test]
fn display_p3_is_converted_to_srgb_and_srgb_is_left_alone() {
    let (Some(p3), Some(srgb)) = (
        fixture_icc("large/derived_ianare_IMG_5195_8.5MP.jpg"),
        fixture_icc("gps/mei_HTC_Desire_gps.jpg"),
    ) else {
        skipped_without_fixtures("../shared/fixtures/photos");
        return;
    };
    assert!(raster::srgb_transform(&p3).is_some(), "Apple Display P3");
    assert!(raster::srgb_transform(&srgb).is_none(), "IEC sRGB");
    assert!(raster::srgb_transform(b"not a profile").is_none());

    // Grey stays grey; a P3 orange becomes more saturated in sRGB values (red up, blue down).
    let mut raster = Raster {
        width: 2,
        height: 1,
        channels: 3,
        pixels: vec![128, 128, 128, 200, 100, 50],
    };
    raster::to_srgb(&mut raster, &p3);
    let p = &raster.pixels;
    assert!(p[..3].iter().all(|&v| v.abs_diff(128) <= 2), "{p:?}");
    assert!(p[3] > 200 && p[5] < 50, "{p:?}");
    let mut untouched = Raster {
        width: 2,
        height: 1,
        channels: 3,
        pixels: vec![128, 128, 128, 200, 100, 50],
    };
    raster::to_srgb(&mut untouched, &srgb);
    assert_eq!(untouched.pixels, [128, 128, 128, 200, 100, 50]);
}

#[test]
fn cmyk_profiles_are_not_applied_to_rgb_pixels() {
    let Some(cmyk) = fixture_icc("cmyk/mei_Multiple_ICC_segments_ycck_exif.jpg") else {
        skipped_without_fixtures("../shared/fixtures/photos");
        return;
    };
    assert!(
        raster::srgb_transform(&cmyk).is_none(),
        "CMYK profile in 9 chunks"
    );
    assert!(
        container::walk_jpeg(&jpeg(8, 8, None))
            .expect("jpeg")
            .icc
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------------
// PNG

#[test]
fn a_tiny_png_gives_its_record_and_derivatives() {
    let bytes = png(20, 10, None);
    let photo = process_photo(&bytes, &limits()).expect("photo");
    assert_eq!(photo.format, PhotoFormat::Png);
    assert_eq!(photo.stored_size, Some((20, 10)));
    let d = photo.derivatives.expect("derivatives");
    assert_eq!((d.evidence_copy.width, d.evidence_copy.height), (20, 10));
    assert!(!has_exif_segment(&d.evidence_copy.jpeg));
}

#[test]
fn transparent_png_is_flattened_on_white() {
    let bytes = png(16, 16, Some(0));
    let d = process_photo(&bytes, &limits())
        .expect("photo")
        .derivatives
        .expect("derivatives");
    let img = decode_rgb(&d.evidence_copy.jpeg);
    assert!(
        img.pixels().all(|p| p.0.iter().all(|&v| v >= 250)),
        "fully transparent → white"
    );
}

#[test]
fn png_exif_chunk_is_read() {
    let tiff = exif_tiff(
        &[
            field(Tag::Orientation, Value::Short(vec![8])),
            field(Tag::Model, ascii("Screenshot")),
        ],
        None,
    );
    let bytes = with_chunk_after_ihdr(&png(30, 20, None), &png_chunk(b"eXIf", &tiff));
    let photo = process_photo(&bytes, &limits()).expect("photo");
    assert_eq!(photo.metadata.orientation, 8);
    assert_eq!(photo.metadata.model.as_deref(), Some("Screenshot"));
    assert_eq!(photo.oriented_size, Some((20, 30)));
}

#[test]
fn cut_pngs_are_truncated() {
    let bytes = png(32, 32, None);
    for cut in [
        9,
        20,
        33,
        40,
        bytes.len() - 12,
        bytes.len() - 5,
        bytes.len() - 1,
    ] {
        let err = process_photo(&bytes[..cut], &limits()).unwrap_err();
        assert_eq!(err.kind(), "Truncated", "cut at {cut}: {err}");
    }
    // Without IEND.
    let err = process_photo(&bytes[..bytes.len() - 12], &limits()).unwrap_err();
    assert!(err.to_string().contains("IEND"), "{err}");
}

/// A PNG whose header claims `width` × `height` RGBA, with a tiny (invalid) IDAT and IEND.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut out = PNG_START.to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00]));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

#[test]
fn a_png_header_claiming_a_huge_image_is_too_large() {
    let err = process_photo(&png_claiming(100_000, 100_000), &limits()).unwrap_err();
    assert_eq!(err.kind(), "TooLarge");
    let text = err.to_string();
    assert!(
        text.contains("100000 × 100000") && text.contains("100 000 000 pixels"),
        "names the claim and the limit: {text}"
    );
    // Within the pixel limit but over the allocation limit: 20 000 × 5 000 RGBA = 400 MB.
    let tight = PhotoLimits {
        max_alloc_bytes: 64 * 1024 * 1024,
        ..PhotoLimits::default()
    };
    let err = process_photo(&png_claiming(20_000, 5_000), &tight).unwrap_err();
    assert_eq!(err.kind(), "TooLarge");
    assert!(err.to_string().contains("64 MiB"), "{err}");
}

#[test]
fn the_decoder_enforces_the_allocation_limit_too() {
    // The header estimate passes (1 byte/px grey), the decoder's own check does not.
    let bytes = png(64, 64, None);
    let tight = PhotoLimits {
        max_alloc_bytes: 64 * 64,
        ..PhotoLimits::default()
    };
    let err = raster::decode(&bytes, PhotoFormat::Png, &tight).unwrap_err();
    assert_eq!(err.kind(), "TooLarge", "{err}");
}

#[test]
fn png_with_corrupt_data_is_corrupt() {
    let bytes = png_claiming(4, 4);
    assert_eq!(kind(process_photo(&bytes, &limits())), "Corrupt");
    let mut bad_crc = png(8, 8, None);
    let idat = bad_crc.windows(4).position(|w| w == b"IDAT").expect("IDAT");
    bad_crc[idat + 6] ^= 0xFF;
    assert_ne!(kind(process_photo(&bad_crc, &limits())), "Ok");
}

// ---------------------------------------------------------------------------------------------
// HEIF

fn iso_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

fn full_box(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = vec![version];
    b.extend_from_slice(&flags.to_be_bytes()[1..]);
    b.extend_from_slice(body);
    iso_box(kind, &b)
}

/// Where a generated HEIF item's data goes.
#[derive(Clone)]
enum Place {
    /// In the `mdat` box (construction method 0: file offsets).
    Mdat(Vec<u8>),
    /// In the `idat` box inside `meta` (construction method 1; `iloc` version ≥ 1).
    Idat(Vec<u8>),
    /// No `iloc` entry.
    Nowhere,
}

/// A generated HEIF file: items, their locations and the primary item's properties.
#[derive(Clone)]
struct Heif {
    major: [u8; 4],
    compatible: Vec<[u8; 4]>,
    /// (item id, item type, data).
    items: Vec<(u32, [u8; 4], Place)>,
    primary: u32,
    /// `ispe` of the primary item, with `irot` 90° after it.
    ispe: (u32, u32),
    /// `iref` `dimg` from the primary item.
    dimg: Vec<u32>,
    /// `iloc` version 0, 1 or 2 (`None`: no `iloc` box).
    iloc_version: Option<u8>,
}

impl Heif {
    /// One coded image (item 1, 32 bytes in `mdat`), `ispe` 4032×3024 with `irot` 90°.
    fn new(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Heif {
        Heif {
            major: *major,
            compatible: compatible.iter().map(|b| **b).collect(),
            items: vec![(1, *b"hvc1", Place::Mdat(vec![0x42; 32]))],
            primary: 1,
            ispe: (4032, 3024),
            dimg: Vec::new(),
            iloc_version: Some(1),
        }
    }

    /// Adds an EXIF item (id 9) holding `tiff` as HEIF stores it: a 4-byte offset to the TIFF
    /// header, then `Exif\0\0` and the TIFF structure.
    fn with_exif(mut self, tiff: &[u8]) -> Heif {
        let mut data = 6u32.to_be_bytes().to_vec();
        data.extend_from_slice(b"Exif\0\0");
        data.extend_from_slice(tiff);
        self.items.push((9, *b"Exif", Place::Mdat(data)));
        self
    }

    /// Makes the primary item (1) a 2×1 grid (descriptor in `idat`) of tiles 2 and 3.
    fn grid(mut self) -> Heif {
        self.items = vec![
            (
                1,
                *b"grid",
                Place::Idat(vec![0, 0, 0, 1, 0x0F, 0xC0, 0x0B, 0xD0]),
            ),
            (2, *b"hvc1", Place::Mdat(vec![0x21; 40])),
            (3, *b"hvc1", Place::Mdat(vec![0x22; 40])),
        ];
        self.dimg = vec![2, 3];
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut ftyp = self.major.to_vec();
        ftyp.extend_from_slice(&0u32.to_be_bytes());
        for b in &self.compatible {
            ftyp.extend_from_slice(b);
        }
        let ftyp = iso_box(b"ftyp", &ftyp);
        // The meta box has the same length whatever the offsets: build it once to learn where
        // `mdat` starts, then again with the offsets.
        let meta_len = self.meta(0).len();
        let mdat_start = (ftyp.len() + meta_len + 8) as u32;
        let mut mdat = Vec::new();
        for (_, _, place) in &self.items {
            if let Place::Mdat(data) = place {
                mdat.extend_from_slice(data);
            }
        }
        [ftyp, self.meta(mdat_start), iso_box(b"mdat", &mdat)].concat()
    }

    fn meta(&self, mdat_start: u32) -> Vec<u8> {
        let hdlr = full_box(b"hdlr", 0, 0, b"\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let pitm = full_box(b"pitm", 0, 0, &(self.primary as u16).to_be_bytes());
        let mut infes = Vec::new();
        for (id, kind, _) in &self.items {
            let mut body = (*id as u16).to_be_bytes().to_vec();
            body.extend_from_slice(&[0, 0]);
            body.extend_from_slice(kind);
            body.push(0);
            infes.extend(full_box(b"infe", 2, 0, &body));
        }
        let mut iinf = (self.items.len() as u16).to_be_bytes().to_vec();
        iinf.extend(infes);
        let iinf = full_box(b"iinf", 0, 0, &iinf);
        let mut ispe = self.ispe.0.to_be_bytes().to_vec();
        ispe.extend_from_slice(&self.ispe.1.to_be_bytes());
        let ipco = [full_box(b"ispe", 0, 0, &ispe), iso_box(b"irot", &[1])].concat();
        // ipma: one entry, the primary item, two associations (1 not essential, 2 essential).
        let mut ipma = vec![0, 0, 0, 1];
        ipma.extend_from_slice(&(self.primary as u16).to_be_bytes());
        ipma.extend_from_slice(&[2, 0x01, 0x82]);
        let iprp = iso_box(
            b"iprp",
            &[iso_box(b"ipco", &ipco), full_box(b"ipma", 0, 0, &ipma)].concat(),
        );
        let mut children = [hdlr, pitm, iinf, iprp].concat();
        if !self.dimg.is_empty() {
            let mut dimg = (self.primary as u16).to_be_bytes().to_vec();
            dimg.extend_from_slice(&(self.dimg.len() as u16).to_be_bytes());
            for id in &self.dimg {
                dimg.extend_from_slice(&(*id as u16).to_be_bytes());
            }
            children.extend(full_box(b"iref", 0, 0, &iso_box(b"dimg", &dimg)));
        }
        let mut idat = Vec::new();
        if let Some(version) = self.iloc_version {
            // Offset and length 4 bytes, base offset 4 bytes (mdat's start; offsets relative
            // to it), index size 0.
            let mut iloc = vec![0x44, 0x40];
            let entries: Vec<_> = self
                .items
                .iter()
                .filter(|(_, _, p)| !matches!(p, Place::Nowhere))
                .collect();
            if version < 2 {
                iloc.extend_from_slice(&(entries.len() as u16).to_be_bytes());
            } else {
                iloc.extend_from_slice(&(entries.len() as u32).to_be_bytes());
            }
            let mut in_mdat = 0u32;
            for (id, _, place) in entries {
                if version < 2 {
                    iloc.extend_from_slice(&(*id as u16).to_be_bytes());
                } else {
                    iloc.extend_from_slice(&id.to_be_bytes());
                }
                let (method, base, offset, len) = match place {
                    Place::Mdat(data) => {
                        let at = in_mdat;
                        in_mdat += data.len() as u32;
                        (0u16, mdat_start, at, data.len() as u32)
                    }
                    Place::Idat(data) => {
                        let at = idat.len() as u32;
                        idat.extend_from_slice(data);
                        (1, 0, at, data.len() as u32)
                    }
                    Place::Nowhere => unreachable!(),
                };
                if version >= 1 {
                    iloc.extend_from_slice(&method.to_be_bytes());
                }
                iloc.extend_from_slice(&[0, 0]); // data reference index
                iloc.extend_from_slice(&base.to_be_bytes());
                iloc.extend_from_slice(&1u16.to_be_bytes());
                iloc.extend_from_slice(&offset.to_be_bytes());
                iloc.extend_from_slice(&len.to_be_bytes());
            }
            children.extend(full_box(b"iloc", version, 0, &iloc));
        }
        if !idat.is_empty() {
            children.extend(iso_box(b"idat", &idat));
        }
        full_box(b"meta", 0, 0, &children)
    }
}

/// A HEIF with one coded image: `ispe` 4032×3024, `irot` 90°, data in `mdat`.
fn fake_heic(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    Heif::new(major, compatible).build()
}

#[test]
fn a_fake_heic_is_recorded_without_preview() {
    let bytes = fake_heic(b"heic", &[b"mif1", b"heic"]);
    let photo = process_photo(&bytes, &limits()).expect("photo");
    assert_eq!(photo.format, PhotoFormat::Heif);
    assert_eq!(photo.sha256, EvidenceId::of(&bytes));
    assert_eq!(photo.stored_size, Some((4032, 3024)));
    assert_eq!(photo.oriented_size, Some((3024, 4032)), "irot 90° swaps");
    assert_eq!(photo.metadata, PhotoMetadata::default());
    let err = photo.derivatives.unwrap_err();
    assert_eq!(err.kind(), "PreviewUnavailable");
    // Generic HEIF brand only.
    let generic = fake_heic(b"mif1", &[b"mif1"]);
    assert_eq!(detect_format(&generic), Ok(PhotoFormat::Heif));
}

#[test]
fn avif_and_videos_are_unsupported() {
    let avif = fake_heic(b"avif", &[b"mif1", b"avif", b"miaf"]);
    let err = process_photo(&avif, &limits()).unwrap_err();
    assert_eq!(err.kind(), "UnsupportedFormat");
    assert!(err.to_string().contains("AVIF"), "{err}");
    let mp4 = fake_heic(b"isom", &[b"isom", b"mp41"]);
    assert_eq!(kind(process_photo(&mp4, &limits())), "UnsupportedFormat");
}

#[test]
fn a_cut_heic_is_truncated() {
    let bytes = fake_heic(b"heic", &[b"mif1"]);
    for cut in [bytes.len() - 1, bytes.len() - 20, 40] {
        let err = process_photo(&bytes[..cut], &limits()).unwrap_err();
        assert_eq!(err.kind(), "Truncated", "cut at {cut}: {err}");
    }
}

#[test]
fn heif_without_its_image_data_is_truncated() {
    let heif = Heif::new(b"heic", &[b"mif1", b"heic"]);
    let bytes = heif.build();
    assert_eq!(kind(process_photo(&bytes, &limits())), "Ok");
    let mdat = bytes.len() - 8 - 32;
    // Only ftyp and meta: every box complete, no pixels.
    let err = process_photo(&bytes[..mdat], &limits()).unwrap_err();
    assert_eq!(err.kind(), "Truncated", "{err}");
    assert!(err.to_string().contains("primary image (item 1)"), "{err}");
    // mdat with size 0 ("to the end of the file"), cut anywhere inside its data.
    let mut open_ended = bytes;
    open_ended[mdat..mdat + 4].copy_from_slice(&0u32.to_be_bytes());
    assert_eq!(kind(process_photo(&open_ended, &limits())), "Ok");
    for cut in mdat + 8..open_ended.len() {
        let err = process_photo(&open_ended[..cut], &limits()).unwrap_err();
        assert_eq!(err.kind(), "Truncated", "cut at {cut}: {err}");
    }
}

#[test]
fn heif_exif_and_grid_tiles_must_lie_in_the_file() {
    let tiff = exif_tiff(&[field(Tag::Make, ascii("Apple"))], None);
    let with_exif = Heif::new(b"heic", &[b"mif1"]).with_exif(&tiff);
    let bytes = with_exif.build();
    let photo = process_photo(&bytes, &limits()).expect("photo");
    assert_eq!(
        photo.metadata.make.as_deref(),
        Some("Apple"),
        "EXIF item read"
    );
    // The EXIF item is last in mdat: one byte short.
    let err = process_photo(&[&bytes[..bytes.len() - 1]].concat(), &limits()).unwrap_err();
    assert_eq!(err.kind(), "Truncated", "{err}");
    let mut open_ended = bytes.clone();
    let mdat = bytes.len() - 8 - 32 - (10 + tiff.len());
    open_ended[mdat..mdat + 4].copy_from_slice(&0u32.to_be_bytes());
    let err = process_photo(&open_ended[..open_ended.len() - 3], &limits()).unwrap_err();
    assert!(err.to_string().contains("EXIF data (item 9)"), "{err}");

    // A grid: its descriptor in idat, its tiles in mdat.
    let grid = Heif::new(b"heic", &[b"mif1"]).grid();
    for version in [1, 2] {
        let bytes = Heif {
            iloc_version: Some(version),
            ..grid.clone()
        }
        .build();
        assert_eq!(
            kind(process_photo(&bytes, &limits())),
            "Ok",
            "iloc v{version}"
        );
        let mut open_ended = bytes.clone();
        let mdat = bytes.len() - 8 - 80;
        open_ended[mdat..mdat + 4].copy_from_slice(&0u32.to_be_bytes());
        let err = process_photo(&open_ended[..bytes.len() - 1], &limits()).unwrap_err();
        assert_eq!(err.kind(), "Truncated", "{err}");
        assert!(err.to_string().contains("tile 2 of 2"), "{err}");
    }
    // A tile without a location, a primary item without one, no iloc at all.
    let mut no_tile = grid;
    no_tile.items[2].2 = Place::Nowhere;
    let err = process_photo(&no_tile.build(), &limits()).unwrap_err();
    assert_eq!(err.kind(), "Corrupt", "{err}");
    let mut no_primary = Heif::new(b"heic", &[b"mif1"]);
    no_primary.items[0].2 = Place::Nowhere;
    assert_eq!(
        kind(process_photo(&no_primary.build(), &limits())),
        "Corrupt"
    );
    let no_iloc = Heif {
        iloc_version: None,
        ..Heif::new(b"heic", &[b"mif1"])
    };
    assert_eq!(kind(process_photo(&no_iloc.build(), &limits())), "Corrupt");
}

#[test]
fn iloc_versions_and_field_sizes_parse() {
    // Version 0: offset 4, length 8, base 0; one item with two extents.
    let mut v0 = vec![0, 0, 0, 0, 0x48, 0x00, 0, 1, 0, 7, 0, 0, 0, 2];
    v0.extend_from_slice(&100u32.to_be_bytes());
    v0.extend_from_slice(&10u64.to_be_bytes());
    v0.extend_from_slice(&200u32.to_be_bytes());
    v0.extend_from_slice(&0u64.to_be_bytes());
    let items = heif::parse_iloc(&v0).expect("v0");
    assert_eq!(
        items,
        [heif::ItemLocation {
            item: 7,
            construction_method: 0,
            data_reference_index: 0,
            extents: vec![(100, 10), (200, 0)],
        }]
    );
    // Version 2: 32-bit ids and count, offset 8, length 4, base 8, index 4, method 1.
    let mut v2 = vec![2, 0, 0, 0, 0x84, 0x84];
    v2.extend_from_slice(&1u32.to_be_bytes());
    v2.extend_from_slice(&70_000u32.to_be_bytes());
    v2.extend_from_slice(&1u16.to_be_bytes());
    v2.extend_from_slice(&0u16.to_be_bytes());
    v2.extend_from_slice(&1000u64.to_be_bytes());
    v2.extend_from_slice(&1u16.to_be_bytes());
    v2.extend_from_slice(&5u32.to_be_bytes()); // extent index
    v2.extend_from_slice(&24u64.to_be_bytes());
    v2.extend_from_slice(&8u32.to_be_bytes());
    let items = heif::parse_iloc(&v2).expect("v2");
    assert_eq!(items[0].item, 70_000);
    assert_eq!(items[0].construction_method, 1);
    assert_eq!(items[0].extents, [(1024, 8)]);
    // Cut short, a field size of 2, version 3.
    assert!(heif::parse_iloc(&v2[..v2.len() - 1]).is_err());
    assert!(heif::parse_iloc(&[1, 0, 0, 0, 0x24, 0x00, 0, 0]).is_err());
    assert!(heif::parse_iloc(&[3, 0, 0, 0, 0x44, 0x00, 0, 0]).is_err());
    // A count far larger than the box: an error, not a huge allocation.
    assert!(heif::parse_iloc(&[2, 0, 0, 0, 0x44, 0x00, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
}

#[test]
fn extents_that_take_no_bytes_cannot_be_claimed_by_the_billion() {
    // Version 1 with every field size 0: an extent takes no bytes of the box, so 6 bytes an
    // item can claim 65 535 extents each. 5 000 such items made 5 GB of extents before.
    let mut bomb = vec![1, 0, 0, 0, 0x00, 0x00];
    bomb.extend_from_slice(&5_000u16.to_be_bytes());
    for item in 1..=5_000u16 {
        bomb.extend_from_slice(&item.to_be_bytes());
        bomb.extend_from_slice(&[0, 0]); // construction method
        bomb.extend_from_slice(&[0, 0]); // data reference index
        bomb.extend_from_slice(&[0xFF, 0xFF]); // extent count
    }
    let err = heif::parse_iloc(&bomb).unwrap_err();
    assert!(err.contains("more than 4096 extents"), "{err}");
    // A few zero-size extents (a real, if odd, file) still parse.
    let mut few = vec![1, 0, 0, 0, 0x00, 0x00, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3];
    few.truncate(16);
    assert_eq!(
        heif::parse_iloc(&few).expect("three extents")[0]
            .extents
            .len(),
        3
    );
}

#[test]
fn heif_sizes_are_held_to_the_limits() {
    for ispe in [(u32::MAX, u32::MAX), (70_000, 10), (20_000, 20_000)] {
        let bytes = Heif {
            ispe,
            ..Heif::new(b"heic", &[b"mif1"])
        }
        .build();
        let err = process_photo(&bytes, &limits()).unwrap_err();
        assert_eq!(err.kind(), "TooLarge", "{ispe:?}: {err}");
    }
}

#[test]
fn a_file_type_box_too_small_for_its_fields_is_corrupt() {
    // ftyp of 8 and 12 bytes (no room for brand and version), and of 4 (less than a header).
    for size in [8u32, 12, 4] {
        let mut bytes = size.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"ftypheic\0\0\0\0mif1");
        bytes.extend(iso_box(b"meta", &[0; 16]));
        let err = detect_format(&bytes).unwrap_err();
        assert_eq!(err.kind(), "Corrupt", "size {size}: {err}");
        assert!(err.to_string().contains("ftyp"), "{err}");
    }
}

#[test]
fn photo_serializes_without_jpeg_bytes() {
    let photo = process_photo(&jpeg(32, 16, None), &limits()).expect("photo");
    let json = serde_json::to_value(&photo).expect("json");
    assert_eq!(json["format"], "jpeg");
    assert_eq!(json["stored_size"], serde_json::json!([32, 16]));
    assert_eq!(json["metadata"]["orientation"], 1);
    let copy = &json["derivatives"]["evidence_copy"];
    assert_eq!(copy["width"], 32);
    assert!(copy.get("jpeg").is_none());
    let heic = process_photo(&fake_heic(b"heic", &[b"mif1"]), &limits()).expect("photo");
    let json = serde_json::to_value(&heic).expect("json");
    assert_eq!(json["format"], "heif");
    assert_eq!(json["derivatives"]["error"]["kind"], "PreviewUnavailable");
}

// ---------------------------------------------------------------------------------------------
// Limits: sides, the resizer, the peak working memory

/// A zlib stream of `n` zero bytes, compressed (fixed-Huffman deflate: a literal 0, then
/// matches of 258 bytes at distance 1), so a huge all-zero PNG image stays small.
fn zlib_zeros(n: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        count: u32,
    }
    impl Bits {
        /// `value`'s low `count` bits, least significant first.
        fn put(&mut self, value: u32, count: u32) {
            for i in 0..count {
                self.acc |= ((value >> i) & 1) << self.count;
                self.count += 1;
                if self.count == 8 {
                    self.out.push(self.acc as u8);
                    self.acc = 0;
                    self.count = 0;
                }
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            self.put(code.reverse_bits() >> (32 - len), len);
        }
    }
    let mut bits = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        count: 0,
    };
    bits.put(1, 1); // last block
    bits.put(1, 2); // fixed Huffman codes
    let literal_zero = |bits: &mut Bits| bits.code(0x30, 8);
    let mut left = n;
    if left > 0 {
        literal_zero(&mut bits);
        left -= 1;
    }
    while left >= 258 {
        bits.code(0xC5, 8); // length 258 (code 285)
        bits.code(0, 5); // distance 1 (code 0)
        left -= 258;
    }
    for _ in 0..left {
        literal_zero(&mut bits);
    }
    bits.code(0, 7); // end of block
    if bits.count > 0 {
        bits.out.push(bits.acc as u8);
    }
    // Adler-32 of n zeros: a = 1, b = n.
    let adler = (((n % 65_521) as u32) << 16) | 1;
    bits.out.extend_from_slice(&adler.to_be_bytes());
    bits.out
}

/// A PNG of all-zero samples: colour type, bit depth, optional tRNS (and PLTE for palettes).
fn zero_png(width: u32, height: u32, colour: u8, depth: u8, transparency: bool) -> Vec<u8> {
    let channels = match colour {
        0 | 3 => 1,
        2 => 3,
        4 => 2,
        _ => 4,
    };
    let row = (width as usize * channels * usize::from(depth)).div_ceil(8) + 1;
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut out = PNG_START.to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    if colour == 3 {
        out.extend(png_chunk(b"PLTE", &[10, 20, 30, 200, 100, 50]));
    }
    if transparency {
        let trns: &[u8] = match colour {
            0 => &[0, 0],
            2 => &[0, 0, 0, 0, 0, 0],
            _ => &[128],
        };
        out.extend(png_chunk(b"tRNS", trns));
    }
    out.extend(png_chunk(b"IDAT", &zlib_zeros(row * height as usize)));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

#[test]
fn an_extreme_aspect_ratio_is_refused_from_the_header() {
    // 100 000 000 × 1 grey, within 100 MP and 512 MiB of pixels: the resizer's weights for
    // it would take about 4.8 GB (an abort). Refused from the header, before any decoding.
    let bytes = zero_png(100_000_000, 1, 0, 8, false);
    assert!(bytes.len() < 1_000_000, "{} bytes", bytes.len());
    let err = process_photo(&bytes, &limits()).unwrap_err();
    assert_eq!(err.kind(), "TooLarge", "{err}");
    assert!(err.to_string().contains("65 535"), "names the limit: {err}");
    let tall = zero_png(3, 30_000_000, 0, 8, false);
    assert_eq!(kind(process_photo(&tall, &limits())), "TooLarge");
    // With the side limit lifted, the weights are counted in the allocation estimate.
    assert!(raster::resize_bytes((100_000_000, 1), (2048, 1), 1) > 4_000_000_000);
    let no_side_limit = PhotoLimits {
        max_side_px: u32::MAX,
        ..PhotoLimits::default()
    };
    let err = process_photo(&bytes, &no_side_limit).unwrap_err();
    assert_eq!(err.kind(), "TooLarge", "{err}");
    assert!(err.to_string().contains("allocation limit"), "{err}");
}

#[test]
fn the_longest_allowed_side_gives_derivatives() {
    // The resizer's weights for 65 535 → 2 048 px: a few MB.
    assert!(raster::resize_bytes((65_535, 1), (2048, 1), 1) < 8_000_000);
    for (w, h) in [(65_535, 1), (1, 65_535)] {
        let photo = process_photo(&zero_png(w, h, 0, 8, false), &limits()).expect("photo");
        let d = photo.derivatives.expect("derivatives");
        let long = |w: u32, h: u32| w.max(h);
        assert_eq!(long(d.evidence_copy.width, d.evidence_copy.height), 2048);
        assert_eq!(d.evidence_copy.width.min(d.evidence_copy.height), 1);
        assert_eq!(long(d.thumbnail.width, d.thumbnail.height), 320);
        assert_eq!(d.thumbnail.width.min(d.thumbnail.height), 1);
    }
    let one_more = zero_png(65_536, 1, 0, 8, false);
    assert_eq!(kind(process_photo(&one_more, &limits())), "TooLarge");
}

#[test]
fn the_png_estimate_is_the_decoders_buffer_and_no_second_buffer_is_made() {
    use image::ImageDecoder;
    let (w, h) = (13, 5);
    let cases: [(u8, &[u8]); 5] = [
        (0, &[1, 2, 4, 8, 16]),
        (2, &[8, 16]),
        (3, &[1, 2, 4, 8]),
        (4, &[8, 16]),
        (6, &[8, 16]),
    ];
    for (colour, depths) in cases {
        for &depth in depths {
            for transparency in [false, true] {
                if transparency && colour >= 4 {
                    continue;
                }
                let case = format!("colour {colour}, depth {depth}, tRNS {transparency}");
                let bytes = zero_png(w, h, colour, depth, transparency);
                let info = container::walk_png(&bytes).expect("walk");
                let decoder = image::codecs::png::PngDecoder::new(Cursor::new(&bytes[..]))
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(info.decoded_bytes(), decoder.total_bytes(), "{case}");
                // The 8-bit image is made in the decoder's buffer: its allocation is the
                // decoded size, not the (smaller or equal) 8-bit size.
                let raster = raster::decode(&bytes, PhotoFormat::Png, &limits())
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                let channels = usize::from(info.channels());
                assert_eq!(raster.channels, info.channels(), "{case}");
                assert_eq!(raster.pixels.len(), (w * h) as usize * channels, "{case}");
                assert_eq!(
                    raster.pixels.capacity() as u64,
                    info.decoded_bytes(),
                    "{case}: one buffer"
                );
                // The peak estimate counts that buffer and the working memory beside it.
                let peak = raster::peak_bytes(
                    (w, h),
                    info.decoded_bytes(),
                    info.decoder_working_bytes(),
                    info.channels(),
                );
                assert!(
                    peak >= info.decoded_bytes() + info.decoder_working_bytes(),
                    "{case}"
                );
                assert_eq!(kind(process_photo(&bytes, &limits())), "Ok", "{case}");
            }
        }
    }
}

#[test]
fn the_allocation_limit_bounds_the_whole_decode() {
    // 4000 × 3000 grey + alpha, 16-bit: 48 MB decoded. Converting it through a second
    // full-size buffer used to be uncounted; now the limit is checked against the peak.
    let bytes = zero_png(4000, 3000, 4, 16, false);
    let info = container::walk_png(&bytes).expect("walk");
    assert_eq!(info.decoded_bytes(), 48_000_000);
    let peak = raster::peak_bytes(
        (4000, 3000),
        info.decoded_bytes(),
        info.decoder_working_bytes(),
        1,
    );
    // The buffer, then the resizer's intermediate image (4000 × 1536, grey) and its output.
    assert!(peak >= 48_000_000 + 4000 * 1536 + 2048 * 1536, "{peak}");
    let just_under = PhotoLimits {
        max_alloc_bytes: peak - 1,
        ..PhotoLimits::default()
    };
    let err = process_photo(&bytes, &just_under).unwrap_err();
    assert_eq!(err.kind(), "TooLarge", "{err}");
    let enough = PhotoLimits {
        max_alloc_bytes: peak,
        ..PhotoLimits::default()
    };
    assert_eq!(kind(process_photo(&bytes, &enough)), "Ok");
}

#[test]
fn conversion_to_eight_bits_rounds_and_flattens_on_white() {
    use image::ColorType;
    let wide = |v: &[u16]| v.iter().flat_map(|s| s.to_ne_bytes()).collect::<Vec<u8>>();
    // Grey + alpha 16-bit: transparent → white, opaque kept (rounded), half → between.
    let raster = raster::to_raster(
        wide(&[0, 0, 0x8080, 0xFFFF, 0, 0x8000]),
        3,
        1,
        ColorType::La16,
    )
    .expect("La16");
    assert_eq!(raster.channels, 1);
    assert_eq!(raster.pixels, [255, 128, 127]);
    // RGBA 8-bit at alpha 128 over white.
    let raster = raster::to_raster(vec![100, 50, 0, 128, 1, 2, 3, 255], 2, 1, ColorType::Rgba8)
        .expect("Rgba8");
    let over = |v: u32| ((v * 128 + 255 * 127 + 127) / 255) as u8;
    assert_eq!(raster.pixels, [over(100), over(50), over(0), 1, 2, 3]);
    // RGB 16-bit: rounded.
    let raster =
        raster::to_raster(wide(&[0xFFFF, 0x0080, 0x7FFF]), 1, 1, ColorType::Rgb16).expect("Rgb16");
    assert_eq!(raster.pixels, [255, 0, 127]);
    assert_eq!(
        raster::to_raster(vec![0; 12], 1, 1, ColorType::Rgb32F)
            .unwrap_err()
            .kind(),
        "UnsupportedFormat"
    );
}

// ---------------------------------------------------------------------------------------------
// JPEG scan data: counted block by block

/// A noisy RGB image (compresses poorly, so scans have data to cut).
fn noisy(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_F491_u32;
    gradient(width, height)
        .into_iter()
        .map(|v| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            v.wrapping_add((state % 48) as u8)
        })
        .collect()
}

/// JPEG variants the encoder can write: baseline 4:2:0, 4:4:4 and 4:2:2, with a restart
/// interval, progressive (spectral selection), grey.
fn jpeg_variants(width: u16, height: u16) -> Vec<(&'static str, Vec<u8>)> {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
    let rgb = noisy(width.into(), height.into());
    let grey: Vec<u8> = rgb.chunks(3).map(|p| p[1]).collect();
    let encode =
        |name: &'static str, setup: &dyn Fn(&mut Encoder<&mut Vec<u8>>), grey_image: bool| {
            let mut out = Vec::new();
            let mut encoder = Encoder::new(&mut out, 90);
            setup(&mut encoder);
            let (pixels, color) = if grey_image {
                (&grey, ColorType::Luma)
            } else {
                (&rgb, ColorType::Rgb)
            };
            encoder
                .encode(pixels, width, height, color)
                .expect("encode");
            (name, out)
        };
    vec![
        encode(
            "baseline 4:2:0",
            &|e| e.set_sampling_factor(SamplingFactor::F_2_2),
            false,
        ),
        encode(
            "4:4:4",
            &|e| e.set_sampling_factor(SamplingFactor::F_1_1),
            false,
        ),
        encode(
            "4:2:2",
            &|e| e.set_sampling_factor(SamplingFactor::F_2_1),
            false,
        ),
        encode("restart interval 3", &|e| e.set_restart_interval(3), false),
        encode("progressive", &|e| e.set_progressive(true), false),
        encode(
            "progressive with restarts",
            &|e| {
                e.set_progressive(true);
                e.set_restart_interval(2);
            },
            false,
        ),
        encode("grey", &|_| {}, true),
    ]
}

/// Offset of the first byte after the first SOS segment.
fn first_scan_data(jpeg: &[u8]) -> usize {
    let sos = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("SOS");
    sos + 2 + usize::from(u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]))
}

#[test]
fn a_jpeg_cut_mid_scan_with_an_end_marker_appended_is_refused() {
    for (name, bytes) in jpeg_variants(96, 72) {
        let photo = process_photo(&bytes, &limits()).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Same pixels as image's decoder (zune-jpeg, lenient) gives for the intact file.
        let reference = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
            .expect("decodes")
            .to_rgb8();
        let evidence = decode_rgb(&photo.derivatives.expect("derivatives").evidence_copy.jpeg);
        assert_eq!(evidence.dimensions(), reference.dimensions(), "{name}");
        let start = first_scan_data(&bytes);
        let end = bytes.len() - 2;
        let mut refused = 0;
        for cut in (start..end).step_by(((end - start) / 40).max(1)) {
            let mut cut_file = bytes[..cut].to_vec();
            cut_file.extend_from_slice(&[0xFF, 0xD9]);
            let result = process_photo(&cut_file, &limits());
            let k = kind(result);
            assert!(
                k == "Truncated" || k == "Corrupt",
                "{name}: cut at {cut} of {} + FF D9 gave {k}",
                bytes.len()
            );
            refused += 1;
        }
        assert!(refused >= 20, "{name}: {refused} cuts");
    }
}

#[test]
fn the_message_of_a_cut_scan_says_what_is_missing() {
    let bytes = &jpeg_variants(96, 72)[0].1;
    let start = first_scan_data(bytes);
    let mut cut = bytes[..(start + bytes.len()) / 2].to_vec();
    cut.extend_from_slice(&[0xFF, 0xD9]);
    let err = process_photo(&cut, &limits()).unwrap_err();
    assert_eq!(err.kind(), "Truncated", "{err}");
    // 96 × 72 at 4:2:0: MCUs of 16 × 16, 6 across and 5 down.
    assert!(err.to_string().contains("of its 30 MCUs"), "{err}");
}

#[test]
fn a_frame_header_patched_to_another_size_is_refused() {
    use jpeg_encoder::{ColorType, Encoder};
    let mut bytes = Vec::new();
    Encoder::new(&mut bytes, 90)
        .encode(&noisy(320, 240), 320, 240, ColorType::Rgb)
        .expect("encode");
    assert_eq!(kind(process_photo(&bytes, &limits())), "Ok");
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("SOF0");
    let patched = |w: u16, h: u16| {
        let mut b = bytes.clone();
        b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        b
    };
    // Larger: the data runs out (a decoder would invent the rest).
    for (w, h) in [(10_000, 10_000), (320, 480), (640, 240)] {
        let err = process_photo(&patched(w, h), &limits()).unwrap_err();
        assert!(
            matches!(err.kind(), "Truncated" | "Corrupt"),
            "{w} × {h}: {err}"
        );
    }
    // Smaller: most of the data is left over.
    let err = process_photo(&patched(160, 120), &limits()).unwrap_err();
    assert_eq!(err.kind(), "Corrupt", "{err}");
    assert!(err.to_string().contains("frame header"), "{err}");
}

/// A 24 × 16 progressive JPEG as libjpeg writes them, with successive approximation (DC and AC
/// refinement scans, which jpeg-encoder does not write): made with ImageMagick 6.9
/// (libjpeg-turbo) from a plasma image, `convert -size 24x16 plasma:fractal -interlace JPEG
/// -quality 80`, JFIF segment removed.
const LIBJPEG_PROGRESSIVE: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00, 0x06, 0x04, 0x05, 0x06, 0x05, 0x04, 0x06, 0x06, 0x05,
    0x06, 0x07, 0x07, 0x06, 0x08, 0x0A, 0x10, 0x0A, 0x0A, 0x09, 0x09, 0x0A, 0x14, 0x0E, 0x0F, 0x0C,
    0x10, 0x17, 0x14, 0x18, 0x18, 0x17, 0x14, 0x16, 0x16, 0x1A, 0x1D, 0x25, 0x1F, 0x1A, 0x1B, 0x23,
    0x1C, 0x16, 0x16, 0x20, 0x2C, 0x20, 0x23, 0x26, 0x27, 0x29, 0x2A, 0x29, 0x19, 0x1F, 0x2D, 0x30,
    0x2D, 0x28, 0x30, 0x25, 0x28, 0x29, 0x28, 0xFF, 0xDB, 0x00, 0x43, 0x01, 0x07, 0x07, 0x07, 0x0A,
    0x08, 0x0A, 0x13, 0x0A, 0x0A, 0x13, 0x28, 0x1A, 0x16, 0x1A, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28,
    0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28,
    0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28,
    0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0xFF, 0xC2, 0x00, 0x11,
    0x08, 0x00, 0x10, 0x00, 0x18, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF,
    0xC4, 0x00, 0x18, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x06, 0x03, 0x04, 0xFF, 0xC4, 0x00, 0x16, 0x01, 0x01, 0x01,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01,
    0x03, 0xFF, 0xDA, 0x00, 0x0C, 0x03, 0x01, 0x00, 0x02, 0x10, 0x03, 0x10, 0x00, 0x00, 0x01, 0x53,
    0x82, 0xFE, 0x38, 0x6A, 0x89, 0x91, 0xE3, 0xFF, 0xC4, 0x00, 0x1C, 0x10, 0x00, 0x03, 0x00, 0x01,
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x13,
    0x00, 0x04, 0x11, 0x12, 0x21, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x05, 0x02, 0x5B,
    0xF8, 0x1F, 0x86, 0xCF, 0xD5, 0x77, 0x91, 0xA4, 0x69, 0x98, 0x38, 0x95, 0x06, 0xBF, 0xFF, 0xC4,
    0x00, 0x19, 0x11, 0x01, 0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 0x11, 0x31, 0x51, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x03, 0x01,
    0x01, 0x3F, 0x01, 0xBB, 0x8C, 0x29, 0x43, 0x59, 0x9F, 0xFF, 0xC4, 0x00, 0x19, 0x11, 0x00, 0x02,
    0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x02, 0x04, 0x12, 0x22, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x02, 0x01, 0x01, 0x3F, 0x01, 0x72, 0x15,
    0x4D, 0x74, 0xCF, 0xFF, 0xC4, 0x00, 0x1B, 0x10, 0x00, 0x02, 0x02, 0x03, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x01, 0x21, 0x02, 0x12, 0x31, 0x32,
    0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x3F, 0x02, 0x4C, 0xF4, 0x74, 0x9D, 0x45, 0x95,
    0x48, 0xA6, 0xCF, 0xFF, 0xC4, 0x00, 0x1B, 0x10, 0x01, 0x00, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x11, 0x21, 0x31, 0x41, 0x61, 0x71,
    0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3F, 0x21, 0xDE, 0xAC, 0x57, 0x23, 0x1B, 0x9F,
    0xAC, 0x3D, 0x03, 0x3C, 0x11, 0xBC, 0x8A, 0xC4, 0xC2, 0x97, 0x41, 0x97, 0x3F, 0xFF, 0xDA, 0x00,
    0x0C, 0x03, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10, 0xBB, 0x2F, 0xFF, 0xC4, 0x00,
    0x18, 0x11, 0x01, 0x00, 0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x11, 0x21, 0x51, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x03, 0x01, 0x01, 0x3F,
    0x10, 0xB2, 0x19, 0x90, 0x21, 0x87, 0x6E, 0x7F, 0xFF, 0xC4, 0x00, 0x18, 0x11, 0x01, 0x00, 0x03,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x11,
    0x21, 0x31, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x02, 0x01, 0x01, 0x3F, 0x10, 0x21, 0xB3, 0x18, 0xE6,
    0x8E, 0xCF, 0xFF, 0xC4, 0x00, 0x1D, 0x10, 0x01, 0x01, 0x00, 0x02, 0x02, 0x03, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x21, 0x31, 0x71, 0x41, 0x51, 0x81,
    0xC1, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3F, 0x10, 0x2A, 0x11, 0x88, 0xE4, 0xE9,
    0xB3, 0x0C, 0x92, 0x2A, 0x81, 0x43, 0xDE, 0x18, 0x50, 0x87, 0x04, 0x7F, 0x75, 0x90, 0x08, 0x6A,
    0xDA, 0x5E, 0xB3, 0x43, 0x01, 0xB9, 0xE3, 0xBD, 0xCB, 0xB3, 0xEE, 0x2B, 0x7D, 0x20, 0x48, 0x4D,
    0xFA, 0xF9, 0x9F, 0xFF, 0xD9,
];

/// Offsets of the SOS markers.
fn scan_markers(jpeg: &[u8]) -> Vec<usize> {
    let info = container::walk_jpeg(jpeg).expect("walk");
    info.scans.iter().map(|s| s.marker_at).collect()
}

#[test]
fn progressive_refinement_scans_are_counted_too() {
    let bytes = LIBJPEG_PROGRESSIVE;
    let photo = process_photo(bytes, &limits()).expect("photo");
    assert_eq!(photo.stored_size, Some((24, 16)));
    let scans = scan_markers(bytes);
    assert_eq!(scans.len(), 10);
    // Every cut inside the scans, with an end-of-image marker appended.
    for cut in scans[0]..bytes.len() - 2 {
        let mut cut_file = bytes[..cut].to_vec();
        cut_file.extend_from_slice(&[0xFF, 0xD9]);
        let k = kind(process_photo(&cut_file, &limits()));
        assert!(
            k == "Truncated" || k == "Corrupt",
            "cut at {cut} + FF D9 gave {k}"
        );
    }
    // Cut cleanly between two scans: every remaining scan is complete, scans are missing.
    for &at in &scans[1..] {
        let mut cut_file = bytes[..at].to_vec();
        cut_file.extend_from_slice(&[0xFF, 0xD9]);
        let err = process_photo(&cut_file, &limits()).unwrap_err();
        assert_eq!(
            err.kind(),
            "Truncated",
            "cut before the scan at {at}: {err}"
        );
        assert!(err.to_string().contains("scans are missing"), "{err}");
    }
}

#[test]
fn restart_markers_must_come_in_sequence() {
    let variants = jpeg_variants(96, 72);
    let (name, bytes) = &variants[3];
    assert_eq!(*name, "restart interval 3");
    let start = first_scan_data(bytes);
    let rst = start
        + bytes[start..]
            .windows(2)
            .position(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
            .expect("a restart marker");
    assert_eq!(bytes[rst + 1], 0xD0);
    let mut wrong = bytes.to_vec();
    wrong[rst + 1] = 0xD5;
    let err = process_photo(&wrong, &limits()).unwrap_err();
    assert_eq!(err.kind(), "Corrupt", "{err}");
    assert!(err.to_string().contains("restart marker"), "{err}");
}

#[test]
fn a_sequential_jpeg_missing_a_component_scan_is_truncated() {
    // Three scans of one component each is legal; cut after the first two.
    let mut frame = entropy::Frame {
        width: 8,
        height: 8,
        components: vec![
            entropy::FrameComponent { id: 1, h: 1, v: 1 },
            entropy::FrameComponent { id: 2, h: 1, v: 1 },
        ],
        progressive: false,
    };
    // DC table: one code "0" for category 0; AC table: one code "0" for EOB.
    let mut table = vec![1];
    table.extend_from_slice(&[0; 15]);
    table.push(0);
    let mut tables = [None; 8];
    tables[0] = Some(&table[..]);
    tables[4] = Some(&table[..]);
    let headers = [[1u8, 1, 0x00, 0, 63, 0], [1, 2, 0x00, 0, 63, 0]];
    let scan = |id: u8| entropy::ScanSegment {
        marker_at: 0,
        header: &headers[usize::from(id) - 1],
        // "0" (DC 0) "0" (EOB), padded with ones.
        data: &[0x3F],
        restart_interval: 0,
        tables,
        last: id == 2,
    };
    assert!(entropy::check_scans(&frame, &[scan(1), scan(2)]).is_ok());
    let err = entropy::check_scans(&frame, &[scan(1)]).unwrap_err();
    assert_eq!(err.kind(), "Truncated", "{err}");
    frame
        .components
        .push(entropy::FrameComponent { id: 3, h: 1, v: 1 });
    assert!(entropy::check_scans(&frame, &[scan(1), scan(2)]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Dates

#[test]
fn exif_dates_and_offsets_parse() {
    let dt = parse_datetime("2021:04:11 15:47:53").expect("date");
    assert_eq!(
        dt,
        parse_datetime("2021-04-11T15:47:53").expect("other separators")
    );
    for bad in [
        "",
        "    :  :     :  :  ",
        "0000:00:00 00:00:00",
        "2021:02:29 10:00:00",
        "2021:13:01 10:00:00",
        "2021:04:11 24:00:00",
        "2021:04:11 15:47",
        "20210411 154753",
    ] {
        assert_eq!(parse_datetime(bad), None, "{bad:?}");
    }
    assert!(parse_datetime("2024:02:29 10:00:00").is_some(), "leap day");
    assert_eq!(parse_offset("+08:00"), Some(480));
    assert_eq!(parse_offset("-05:00"), Some(-300));
    assert_eq!(parse_offset("+0530"), Some(330));
    assert_eq!(parse_offset("Z"), Some(0));
    for bad in ["", "   :  ", "08:00", "+15:00", "+08:61", "+8"] {
        assert_eq!(parse_offset(bad), None, "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = process_photo(&bytes, &limits());
    }

    #[test]
    fn arbitrary_bytes_behind_a_signature_never_panic(
        which in 0usize..4,
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let head: Vec<u8> = match which {
            0 => vec![0xFF, 0xD8, 0xFF],
            1 => PNG_START.to_vec(),
            2 => iso_box(b"ftyp", b"heic\0\0\0\0mif1heic"),
            _ => [PNG_START.to_vec(), png_chunk(b"IHDR", &[0, 0, 0, 9, 0, 0, 0, 9, 8, 2, 0, 0, 0])].concat(),
        };
        let bytes = [head, tail].concat();
        let _ = process_photo(&bytes, &limits());
    }

    #[test]
    fn damaged_photos_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut bytes = if which == 0 {
            let tiff = exif_tiff(&[field(Tag::Make, ascii("Fuzz")), field(Tag::Orientation, Value::Short(vec![5]))], None);
            jpeg(24, 16, Some(&tiff))
        } else if which == 1 {
            png(24, 16, Some(200))
        } else {
            LIBJPEG_PROGRESSIVE.to_vec()
        };
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len()).max(1));
        }
        if let Ok(photo) = process_photo(&bytes, &limits()) {
            let d = photo.derivatives.expect("JPEG/PNG photos have derivatives");
            prop_assert!(d.evidence_copy.jpeg.starts_with(&[0xFF, 0xD8]));
            // A damaged size field can make the image larger than the evidence copy.
            let (w, h) = photo.oriented_size.expect("size");
            let want = fit(w, h, EVIDENCE_COPY_LONG_SIDE_PX).unwrap_or((w, h));
            prop_assert_eq!((d.evidence_copy.width, d.evidence_copy.height), want);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The scan check itself (outside the pipeline's catch of panics) on damaged scan data.
    #[test]
    fn the_scan_check_never_panics(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = match which {
            0 => LIBJPEG_PROGRESSIVE.to_vec(),
            1 => jpeg_variants(24, 16).swap_remove(5).1,
            _ => jpeg_variants(24, 16).swap_remove(3).1,
        };
        let start = first_scan_data(&bytes);
        for (at, value) in edits {
            let i = start + at.index(bytes.len() - 2 - start);
            bytes[i] = value;
        }
        if let Ok(info) = container::walk_jpeg(&bytes) {
            let _ = entropy::check_scans(&info.frame, &info.scans);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Timing (not a test of speed: prints a split; run in release)
//
//   cargo test --release -p zhichao-core --lib evidence::photo::tests::timing -- --ignored --nocapture

#[test]
#[ignore = "prints a timing split of the 8.5 MP fixture; run in release with --ignored --nocapture"]
fn timing_split_of_the_large_fixture() {
    use std::time::Instant;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/photos/large/derived_ianare_IMG_5195_8.5MP.jpg"
    );
    let Ok(bytes) = std::fs::read(path) else {
        skipped_without_fixtures(path);
        return;
    };
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    for _ in 0..3 {
        let t = Instant::now();
        let _ = EvidenceId::of(&bytes);
        let hash = ms(t);
        let t = Instant::now();
        let info = container::walk_jpeg(&bytes).expect("jpeg");
        let meta = metadata::from_exif_block(info.exif);
        let parse = ms(t);
        let t = Instant::now();
        entropy::check_scans(&info.frame, &info.scans).expect("complete scans");
        let scan_check = ms(t);
        let t = Instant::now();
        let full = raster::decode(&bytes, PhotoFormat::Jpeg, &limits()).expect("decode");
        let decode = ms(t);
        let t = Instant::now();
        let evidence = raster::downscale(&full, EVIDENCE_COPY_LONG_SIDE_PX)
            .expect("resize")
            .expect("smaller");
        drop(full);
        let resize = ms(t);
        let t = Instant::now();
        let mut evidence = orient(evidence, meta.orientation);
        let rotate = ms(t);
        let t = Instant::now();
        if let Some(icc) = &info.icc {
            raster::to_srgb(&mut evidence, icc);
        }
        let colour = ms(t);
        let t = Instant::now();
        let copy = raster::encode(&evidence, DERIVATIVE_JPEG_QUALITY).expect("encode");
        let encode = ms(t);
        let t = Instant::now();
        let photo = process_photo(&bytes, &limits()).expect("photo");
        let total = ms(t);
        println!(
            "hash {hash:.1} ms, markers+exif {parse:.1} ms, scan check {scan_check:.1} ms, \
             decode {decode:.1} ms, resize {resize:.1} ms, \
             orient {rotate:.1} ms, ICC→sRGB {colour:.1} ms, encode evidence copy {encode:.1} ms ({} bytes); \
             whole pipeline {total:.1} ms ({}x{})",
            copy.jpeg.len(),
            photo.oriented_size.unwrap_or_default().0,
            photo.oriented_size.unwrap_or_default().1,
        );
    }
}
