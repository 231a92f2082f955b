//! Photos for the demo: real ones from a folder (`--photos DIR`, by default the team's samples
//! in `../shared/fixtures/photos` when present), or generated JPEGs with EXIF (capture time,
//! GPS of the roadside, camera) — and the demo says which.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use exif::{Field, In, Rational, Tag, Value};

/// Where the demo's photos come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoSource {
    /// Files from this folder (sorted by path; those the pipeline refuses are reported).
    Folder(PathBuf),
    /// Generated JPEGs with EXIF.
    Generated,
}

impl std::fmt::Display for PhotoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhotoSource::Folder(dir) => write!(f, "real photos from {}", dir.display()),
            PhotoSource::Generated => {
                f.write_str("generated JPEGs with EXIF (no photo folder found; give --photos DIR)")
            }
        }
    }
}

/// The default folder: `../shared/fixtures/photos` from the working directory, or beside the
/// source tree this binary was built from.
pub fn default_folder() -> Option<PathBuf> {
    [
        PathBuf::from("../shared/fixtures/photos"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/photos"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

/// A photo to attach: its name (for the narration) and bytes.
#[derive(Clone, Debug)]
pub(crate) struct DemoPhoto {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
}

/// Every file under `dir` whose extension is a photo's, sorted by path.
///
/// # Errors
/// The folder cannot be read.
pub(crate) fn folder_photos(dir: &Path) -> std::io::Result<Vec<DemoPhoto>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "jpg" | "jpeg" | "png" | "heic" | "heif"
                )
            }) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            Ok(DemoPhoto {
                name: path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
                bytes: std::fs::read(&path)?,
            })
        })
        .collect()
}

fn ascii(s: &str) -> Value {
    Value::Ascii(vec![s.as_bytes().to_vec()])
}

/// Degrees as EXIF degrees/minutes/seconds rationals.
fn dms(degrees: f64) -> Value {
    let d = degrees.abs();
    let whole = d.trunc();
    let minutes = (d - whole) * 60.0;
    let m = minutes.trunc();
    let seconds_x100 = ((minutes - m) * 60.0 * 100.0).round();
    // The values are small positive numbers by construction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let parts = [(whole as u32, 1), (m as u32, 1), (seconds_x100 as u32, 100)];
    Value::Rational(parts.iter().map(|&p| Rational::from(p)).collect())
}

/// A generated 1280 × 960 roadside photo: a gradient with noise from `seed`, EXIF capture time
/// `taken_local` (`YYYY:MM:DD HH:MM:SS`, China Standard Time, offset +08:00), the GPS fix of
/// the checkpoint and a camera make and model.
pub(crate) fn generated(seed: u64, taken_local: &str, lat: f64, lon: f64) -> DemoPhoto {
    use rand::{RngExt, SeedableRng};
    let (width, height) = (1280u16, 960u16);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..u32::from(height) {
        for x in 0..u32::from(width) {
            let noise: u8 = rng.random_range(0..24);
            let [r, g] = [x * 200 / u32::from(width), y * 200 / u32::from(height)]
                .map(|v| u8::try_from(v).unwrap_or(u8::MAX));
            pixels.extend([r.saturating_add(noise), g.saturating_add(noise), 90 + noise]);
        }
    }
    let fields = [
        Field {
            tag: Tag::Make,
            ifd_num: In::PRIMARY,
            value: ascii("zhichao-demo"),
        },
        Field {
            tag: Tag::Model,
            ifd_num: In::PRIMARY,
            value: ascii("generated roadside camera"),
        },
        Field {
            tag: Tag::DateTimeOriginal,
            ifd_num: In::PRIMARY,
            value: ascii(taken_local),
        },
        Field {
            tag: Tag::OffsetTimeOriginal,
            ifd_num: In::PRIMARY,
            value: ascii("+08:00"),
        },
        Field {
            tag: Tag::GPSLatitudeRef,
            ifd_num: In::PRIMARY,
            value: ascii(if lat >= 0.0 { "N" } else { "S" }),
        },
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: dms(lat),
        },
        Field {
            tag: Tag::GPSLongitudeRef,
            ifd_num: In::PRIMARY,
            value: ascii(if lon >= 0.0 { "E" } else { "W" }),
        },
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: dms(lon),
        },
    ];
    let mut writer = exif::experimental::Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 88);
    let exif_ok =
        writer.write(&mut tiff, false).is_ok() && encoder.add_exif_metadata(tiff.get_ref()).is_ok();
    if !exif_ok {
        tracing::warn!("the generated photo has no EXIF");
    }
    if let Err(e) = encoder.encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb) {
        tracing::warn!(error = %e, "cannot encode a generated photo");
    }
    DemoPhoto {
        name: format!("generated-{seed}.jpg"),
        bytes: out,
    }
}
