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
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
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
        println!("skipped: ../shared/fixtures/photos not found");
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
        println!("skipped: ../shared/fixtures/photos not found");
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

/// A HEIF skeleton: ftyp, meta (pitm item 1; ispe 4032×3024, irot 90° on item 1), mdat.
fn fake_heic(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    let mut ftyp = major.to_vec();
    ftyp.extend_from_slice(&0u32.to_be_bytes());
    for b in compatible {
        ftyp.extend_from_slice(*b);
    }
    let mut ispe = Vec::new();
    ispe.extend_from_slice(&4032u32.to_be_bytes());
    ispe.extend_from_slice(&3024u32.to_be_bytes());
    let ipco = [full_box(b"ispe", 0, 0, &ispe), iso_box(b"irot", &[1])].concat();
    // ipma: one entry, item 1, two associations (1 essential=0, 2 essential=1).
    let ipma = full_box(b"ipma", 0, 0, &[0, 0, 0, 1, 0, 1, 2, 0x01, 0x82]);
    let iprp = iso_box(b"iprp", &[iso_box(b"ipco", &ipco), ipma].concat());
    let pitm = full_box(b"pitm", 0, 0, &[0, 1]);
    let meta = full_box(b"meta", 0, 0, &[pitm, iprp].concat());
    [iso_box(b"ftyp", &ftyp), meta, iso_box(b"mdat", &[0; 32])].concat()
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
        which in 0usize..2,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut bytes = if which == 0 {
            let tiff = exif_tiff(&[field(Tag::Make, ascii("Fuzz")), field(Tag::Orientation, Value::Short(vec![5]))], None);
            jpeg(24, 16, Some(&tiff))
        } else {
            png(24, 16, Some(200))
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
        println!("skipped: {path} not found");
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
        let copy = raster::encode(&evidence).expect("encode");
        let encode = ms(t);
        let t = Instant::now();
        let photo = process_photo(&bytes, &limits()).expect("photo");
        let total = ms(t);
        println!(
            "hash {hash:.1} ms, markers+exif {parse:.1} ms, decode {decode:.1} ms, resize {resize:.1} ms, \
             orient {rotate:.1} ms, ICC→sRGB {colour:.1} ms, encode evidence copy {encode:.1} ms ({} bytes); \
             whole pipeline {total:.1} ms ({}x{})",
            copy.jpeg.len(),
            photo.oriented_size.unwrap_or_default().0,
            photo.oriented_size.unwrap_or_default().1,
        );
    }
}
