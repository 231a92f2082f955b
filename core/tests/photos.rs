//! The photo pipeline over the team's sample photos in `../shared/fixtures/photos` (real phone
//! photos and crafted broken files; see that folder's README for what each exercises).
//!
//! Every file in the folder must have an expectation here: a new fixture fails the test until
//! someone writes down what it should give. When the folder is missing the tests are skipped,
//! except under CI (`CI` set), where that is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zhichao_core::evidence::photo::{
    CaptureTimeSource, Derivative, EVIDENCE_COPY_LONG_SIDE_PX, EvidenceError, Photo, PhotoFormat,
    PhotoLimits, THUMBNAIL_LONG_SIDE_PX, process_photo,
};

/// Files of the folder that are not photos.
const DOCUMENTS: [&str; 2] = ["README.md", "LICENSES.md"];

/// The fixture folder, or `None` (after saying so) when it is missing outside CI.
fn fixtures() -> Option<PathBuf> {
    zhichao_core::fixtures::photo_fixtures()
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn process(dir: &Path, rel: &str) -> Result<Photo, EvidenceError> {
    process_photo(&read(dir, rel), &PhotoLimits::default())
}

fn photo(dir: &Path, rel: &str) -> Photo {
    process(dir, rel).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// What one fixture must give.
#[derive(Debug, Clone, Default)]
struct Expected {
    /// `Some(kind)` when `process_photo` must fail with that error kind.
    error: Option<&'static str>,
    format: Option<PhotoFormat>,
    stored: Option<(u32, u32)>,
    oriented: Option<(u32, u32)>,
    orientation: u8,
    make: Option<&'static str>,
    model: Option<&'static str>,
    /// `local`, offset minutes, UTC ms, which EXIF time.
    captured: Option<(&'static str, Option<i32>, Option<i64>, CaptureTimeSource)>,
    /// Degrees (lat, lon), compared to 1e-4, and accuracy in metres.
    gps: Option<(f64, f64, Option<u32>)>,
    /// (evidence copy, thumbnail) sizes; `None` when there are none (HEIF).
    derivatives: Option<((u32, u32), (u32, u32))>,
}

fn ok(format: PhotoFormat, stored: (u32, u32), oriented: (u32, u32)) -> Expected {
    Expected {
        format: Some(format),
        stored: Some(stored),
        oriented: Some(oriented),
        orientation: 1,
        ..Expected::default()
    }
}

fn failing(kind: &'static str) -> Expected {
    Expected {
        error: Some(kind),
        ..Expected::default()
    }
}

/// The expectation of every fixture, by path relative to the folder.
fn expectations() -> BTreeMap<String, Expected> {
    use PhotoFormat::{Heif, Jpeg, Png};
    let mut e = BTreeMap::new();
    let portrait_thumb = ((1200, 1800), (213, 320));
    for n in 0..=8u8 {
        let stored = if n >= 5 { (1800, 1200) } else { (1200, 1800) };
        e.insert(
            format!("orientation/recurser_Portrait_{n}.jpg"),
            Expected {
                orientation: n.max(1),
                derivatives: Some(portrait_thumb),
                ..ok(Jpeg, stored, (1200, 1800))
            },
        );
    }
    e.insert(
        "gps/mei_HTC_Desire_gps.jpg".into(),
        Expected {
            make: Some("HTC"),
            model: Some("HTC Desire"),
            captured: Some((
                "2011-05-06T09:59:48",
                None,
                None,
                CaptureTimeSource::Original,
            )),
            gps: Some((45.500_667, 9.110_333, None)),
            derivatives: Some(((776, 909), (273, 320))),
            ..ok(Jpeg, (776, 909), (776, 909))
        },
    );
    e.insert(
        "gps/mei_Apple_iPhone_4_gps.jpg".into(),
        Expected {
            make: Some("Apple"),
            model: Some("iPhone 4"),
            captured: Some((
                "2011-01-13T14:33:39",
                None,
                None,
                CaptureTimeSource::Original,
            )),
            gps: Some((41.853, 12.488_833, None)),
            derivatives: Some(((1296, 968), (320, 239))),
            ..ok(Jpeg, (1296, 968), (1296, 968))
        },
    );
    e.insert(
        "cmyk/mei_Multiple_ICC_segments_ycck_exif.jpg".into(),
        Expected {
            // No DateTimeOriginal nor DateTimeDigitized: the fallback is IFD0 DateTime
            // (Photoshop's save time), and the record says so.
            captured: Some((
                "2014-12-18T17:45:02",
                None,
                None,
                CaptureTimeSource::Modified,
            )),
            derivatives: Some(((140, 140), (140, 140))),
            ..ok(Jpeg, (140, 140), (140, 140))
        },
    );
    e.insert(
        "progressive/mei_Sony_DSC-P12_progressive_exif.jpg".into(),
        Expected {
            make: Some("SONY"),
            model: Some("DSC-P12"),
            // IFD1 (the EXIF thumbnail) says orientation 6; the primary image says 1.
            captured: Some((
                "2003-08-27T13:09:56",
                None,
                None,
                CaptureTimeSource::Original,
            )),
            derivatives: Some(((1536, 2048), (240, 320))),
            ..ok(Jpeg, (1536, 2048), (1536, 2048))
        },
    );
    e.insert(
        "corrupt/derived_recurser_Portrait_6_trunc60pct.jpg".into(),
        failing("Truncated"),
    );
    e.insert(
        "corrupt/synthetic_png_header_100000x100000.png".into(),
        failing("TooLarge"),
    );
    let iphone = Expected {
        make: Some("Apple"),
        model: Some("iPhone 11 Pro Max"),
        captured: Some((
            "2021-04-11T15:47:53",
            Some(-300),
            Some(1_618_174_073_000),
            CaptureTimeSource::Original,
        )),
        gps: Some((39.051_344, -94.288_772, Some(39))),
        ..Expected::default()
    };
    e.insert(
        "heic/ianare_IMG_5195_iPhone11ProMax.HEIC".into(),
        Expected {
            // The primary item is a 2566x3313 tile grid with irot 0 (libheif decodes it to
            // the same size: see large/).
            ..ok(Heif, (2566, 3313), (2566, 3313))
        }
        .with(&iphone),
    );
    e.insert(
        "heic/kamadak_exif_minimal.heic".into(),
        ok(Heif, (64, 64), (64, 64)),
    );
    e.insert(
        "png16/pngsuite_basn2c16_rgb16.png".into(),
        Expected {
            derivatives: Some(((32, 32), (32, 32))),
            ..ok(Png, (32, 32), (32, 32))
        },
    );
    e.insert(
        "png16/pngsuite_basn6a16_rgba16.png".into(),
        Expected {
            derivatives: Some(((32, 32), (32, 32))),
            ..ok(Png, (32, 32), (32, 32))
        },
    );
    e.insert(
        "large/derived_ianare_IMG_5195_8.5MP.jpg".into(),
        Expected {
            derivatives: Some(((1586, 2048), (248, 320))),
            ..ok(Jpeg, (2566, 3313), (2566, 3313))
        }
        .with(&iphone),
    );
    e
}

impl Expected {
    /// Copies the camera metadata of `other` into `self`.
    fn with(mut self, other: &Expected) -> Expected {
        self.make = other.make;
        self.model = other.model;
        self.captured = other.captured;
        self.gps = other.gps;
        self
    }
}

/// Every file below `dir`, as `/`-separated paths relative to it.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("below the root");
                let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// True when the JPEG has an `APP1` segment starting `Exif` (walks the segments up to SOS).
fn has_exif_segment(jpeg: &[u8]) -> bool {
    let mut pos = 2;
    while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF {
        let marker = jpeg[pos + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        if marker == 0xDA {
            return false;
        }
        if marker == 0xE1 && jpeg[pos + 4..].starts_with(b"Exif") {
            return true;
        }
        pos += 2 + len;
    }
    false
}

/// Checks that a derivative is what it claims: a metadata-free JPEG of its size and hash.
fn check_derivative(rel: &str, which: &str, d: &Derivative, size: (u32, u32)) {
    assert_eq!((d.width, d.height), size, "{rel}: {which} size");
    assert!(
        d.jpeg.starts_with(&[0xFF, 0xD8, 0xFF]),
        "{rel}: {which} is a JPEG"
    );
    assert!(
        d.jpeg.ends_with(&[0xFF, 0xD9]),
        "{rel}: {which} ends with EOI"
    );
    assert!(!has_exif_segment(&d.jpeg), "{rel}: {which} carries EXIF");
    assert_eq!(
        d.sha256,
        zhichao_core::ids::EvidenceId::of(&d.jpeg),
        "{rel}: {which} hash"
    );
    let decoded = image::load_from_memory_with_format(&d.jpeg, image::ImageFormat::Jpeg)
        .unwrap_or_else(|e| panic!("{rel}: {which} decodes: {e}"));
    assert_eq!(
        (decoded.width(), decoded.height()),
        size,
        "{rel}: {which} decodes to its size"
    );
    let long = size.0.max(size.1);
    let limit = match which {
        "thumbnail" => THUMBNAIL_LONG_SIDE_PX,
        _ => EVIDENCE_COPY_LONG_SIDE_PX,
    };
    assert!(long <= limit, "{rel}: {which} long side {long} > {limit}");
}

fn check(rel: &str, bytes: &[u8], want: &Expected) {
    let result = process_photo(bytes, &PhotoLimits::default());
    if let Some(kind) = want.error {
        match result {
            Err(e) => {
                assert_eq!(e.kind(), kind, "{rel}: {e}");
                assert!(!e.to_string().is_empty());
            }
            Ok(p) => panic!("{rel}: expected {kind}, got a photo {p:?}"),
        }
        return;
    }
    let photo = result.unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(photo.sha256.to_string().len(), 64);
    assert_eq!(
        photo.sha256,
        zhichao_core::ids::EvidenceId::of(bytes),
        "{rel}"
    );
    assert_eq!(photo.byte_len, bytes.len() as u64, "{rel}");
    assert_eq!(Some(photo.format), want.format, "{rel}: format");
    assert_eq!(photo.stored_size, want.stored, "{rel}: stored size");
    assert_eq!(photo.oriented_size, want.oriented, "{rel}: oriented size");
    let m = &photo.metadata;
    assert_eq!(m.orientation, want.orientation, "{rel}: orientation");
    assert_eq!(m.make.as_deref(), want.make, "{rel}: make");
    assert_eq!(m.model.as_deref(), want.model, "{rel}: model");
    let captured = m
        .captured_at
        .as_ref()
        .map(|c| (c.local.as_str(), c.offset_minutes, c.utc_ms, c.source));
    assert_eq!(captured, want.captured, "{rel}: capture time");
    match (m.gps, want.gps) {
        (None, None) => {}
        (Some(got), Some((lat, lon, accuracy))) => {
            let (glat, glon) = (got.lat_e7 as f64 / 1e7, got.lon_e7 as f64 / 1e7);
            assert!(
                (glat - lat).abs() < 1e-4 && (glon - lon).abs() < 1e-4,
                "{rel}: GPS {glat}, {glon} ≠ {lat}, {lon}"
            );
            assert_eq!(got.accuracy_m, accuracy, "{rel}: GPS accuracy");
        }
        (got, want) => panic!("{rel}: GPS {got:?}, expected {want:?}"),
    }
    match (&photo.derivatives, want.derivatives) {
        (Ok(d), Some((evidence, thumb))) => {
            check_derivative(rel, "evidence copy", &d.evidence_copy, evidence);
            check_derivative(rel, "thumbnail", &d.thumbnail, thumb);
        }
        (Err(e), None) => {
            assert_eq!(photo.format, PhotoFormat::Heif, "{rel}: {e}");
            assert_eq!(e.kind(), "PreviewUnavailable", "{rel}: {e}");
        }
        (got, want) => panic!("{rel}: derivatives {got:?}, expected {want:?}"),
    }
    // The record serializes (without the JPEG bytes).
    let json = serde_json::to_value(&photo).expect("serialize");
    assert_eq!(json["sha256"], photo.sha256.to_string());
    assert_eq!(json["format"], photo.format.as_str());
}

#[test]
fn every_fixture_gives_its_expected_outcome() {
    let Some(dir) = fixtures() else { return };
    let mut expected = expectations();
    let mut unknown = Vec::new();
    for rel in files(&dir) {
        if DOCUMENTS.contains(&rel.as_str()) {
            continue;
        }
        match expected.remove(&rel) {
            Some(want) => check(&rel, &read(&dir, &rel), &want),
            None => unknown.push(rel),
        }
    }
    assert!(
        unknown.is_empty(),
        "fixtures without an expectation in core/tests/photos.rs (add one): {unknown:?}"
    );
    let missing: Vec<_> = expected.keys().collect();
    assert!(
        missing.is_empty(),
        "expected fixtures not found in ../shared/fixtures/photos: {missing:?}"
    );
}

/// RGB pixels of a derivative.
fn pixels(d: &Derivative) -> image::RgbImage {
    image::load_from_memory_with_format(&d.jpeg, image::ImageFormat::Jpeg)
        .expect("derivative decodes")
        .to_rgb8()
}

fn evidence_pixels(photo: &Photo) -> image::RgbImage {
    let d = photo.derivatives.as_ref().expect("derivatives");
    pixels(&d.evidence_copy)
}

/// Mean absolute difference per sample, 0..=255.
fn mean_abs_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn every_orientation_gives_an_upright_evidence_copy() {
    let Some(dir) = fixtures() else { return };
    let reference = evidence_pixels(&photo(&dir, "orientation/recurser_Portrait_1.jpg"));
    // What a wrong turn looks like: the reference against its own mirror image and its
    // half-turn. A correct orientation must be far closer than these.
    let mirrored = image::imageops::flip_horizontal(&reference);
    let turned = image::imageops::rotate180(&reference);
    let wrong = mean_abs_diff(&reference, &mirrored).min(mean_abs_diff(&reference, &turned));
    assert!(
        wrong > 20.0,
        "the check cannot tell a wrong turn ({wrong:.1})"
    );
    for n in [0, 2, 3, 4, 5, 6, 7, 8] {
        let rel = format!("orientation/recurser_Portrait_{n}.jpg");
        let upright = evidence_pixels(&photo(&dir, &rel));
        let diff = mean_abs_diff(&reference, &upright);
        assert!(
            diff < 4.0,
            "{rel}: evidence copy differs from Portrait_1 by {diff:.2} per sample (a wrong turn \
             differs by {wrong:.1})"
        );
        // The thumbnail is upright too (it is made from the evidence copy).
        let thumb = pixels(
            &photo(&dir, &rel)
                .derivatives
                .expect("derivatives")
                .thumbnail,
        );
        assert_eq!(thumb.dimensions(), (213, 320), "{rel}");
    }
}

#[test]
fn progressive_jpeg_decodes_to_black() {
    let Some(dir) = fixtures() else { return };
    let p = photo(&dir, "progressive/mei_Sony_DSC-P12_progressive_exif.jpg");
    let img = evidence_pixels(&p);
    assert_eq!(img.dimensions(), (1536, 2048));
    let max = img.as_raw().iter().copied().max().unwrap_or(0);
    assert!(max <= 8, "every pixel black (max sample {max})");
}

#[test]
fn cmyk_jpeg_decodes_to_plausible_colours() {
    // The file is the VivaReal logo as an Adobe YCCK JPEG: a navy house and "Viva" on white,
    // "Real" in green. Inverted CMYK would give a dark background and light letters.
    let Some(dir) = fixtures() else { return };
    let p = photo(&dir, "cmyk/mei_Multiple_ICC_segments_ycck_exif.jpg");
    let img = evidence_pixels(&p);
    assert_eq!(img.dimensions(), (140, 140));
    for (x, y) in [(2, 2), (137, 2), (2, 137), (137, 137)] {
        let px = img.get_pixel(x, y).0;
        assert!(
            px.iter().all(|&v| v >= 230),
            "corner ({x}, {y}) is white: {px:?}"
        );
    }
    let mean =
        |c: usize| img.pixels().map(|p| f64::from(p.0[c])).sum::<f64>() / f64::from(140 * 140);
    assert!(
        mean(0) > 150.0 && mean(1) > 150.0 && mean(2) > 150.0,
        "mostly white background: mean {:.0} {:.0} {:.0}",
        mean(0),
        mean(1),
        mean(2)
    );
    // The house: navy (blue well above red, dark).
    let house = img.get_pixel(35, 46).0;
    assert!(
        house[2] > house[0] + 40 && house[0] < 90,
        "the house is navy: {house:?}"
    );
    // "Real": green dominates.
    let real = img.get_pixel(70, 105).0;
    assert!(
        real[1] > real[0] + 40 && real[1] > real[2] + 40,
        "\"Real\" is green: {real:?}"
    );
}

#[test]
fn sixteen_bit_alpha_png_is_flattened_on_white() {
    let Some(dir) = fixtures() else { return };
    let p = photo(&dir, "png16/pngsuite_basn6a16_rgba16.png");
    let img = evidence_pixels(&p);
    assert_eq!(img.dimensions(), (32, 32));
    // Fully transparent pixels become white, not black.
    let max_luma = img
        .pixels()
        .map(|p| p.0.iter().map(|&v| u32::from(v)).sum::<u32>())
        .max()
        .unwrap_or(0);
    assert!(
        max_luma >= 3 * 240,
        "some pixel is (near) white: {max_luma}"
    );
}

#[test]
fn derivatives_are_deterministic() {
    let Some(dir) = fixtures() else { return };
    let rel = "gps/mei_HTC_Desire_gps.jpg";
    let a = photo(&dir, rel);
    let b = photo(&dir, rel);
    assert_eq!(a, b, "same input, same record and derivative bytes");
}

#[test]
fn a_heic_without_its_pixel_data_is_truncated() {
    let Some(dir) = fixtures() else { return };
    let rel = "heic/ianare_IMG_5195_iPhone11ProMax.HEIC";
    let bytes = read(&dir, rel);
    photo(&dir, rel);
    // The top-level boxes: ftyp, meta, then mdat (its header at 3 015).
    let mdat = 3015;
    assert_eq!(&bytes[mdat + 4..mdat + 8], b"mdat");
    // Only ftyp and meta: every box is complete, the image data is gone.
    let err = process_photo(&bytes[..mdat], &PhotoLimits::default()).unwrap_err();
    assert_eq!(err.kind(), "Truncated", "{err}");
    assert!(err.to_string().contains("tile 1 of 42"), "{err}");
    // mdat with size 0 ("to the end of the file"), cut anywhere.
    let mut open_ended = bytes.clone();
    open_ended[mdat..mdat + 4].copy_from_slice(&0u32.to_be_bytes());
    photo_of(&open_ended, "size-0 mdat, complete");
    for cut in (mdat + 8..bytes.len())
        .step_by(49_999)
        .chain([bytes.len() - 1])
    {
        let err = process_photo(&open_ended[..cut], &PhotoLimits::default()).unwrap_err();
        assert_eq!(err.kind(), "Truncated", "cut at {cut}: {err}");
    }
}

fn photo_of(bytes: &[u8], what: &str) -> Photo {
    process_photo(bytes, &PhotoLimits::default()).unwrap_or_else(|e| panic!("{what}: {e}"))
}
