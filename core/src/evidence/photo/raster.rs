//! Pixels: decode once under limits, downscale, turn upright, encode the derivatives.
//!
//! The order is chosen for speed and memory on a phone: the full-size image is decoded (8-bit
//! RGB or grey when the source is 8-bit), immediately downscaled to the evidence copy's size
//! in its stored orientation (the long side does not depend on orientation), and dropped; the
//! orientation is then applied to the smaller image, its colours are converted to sRGB, the
//! result is encoded, and the thumbnail is made from the upright evidence copy's pixels.
//!
//! Colour: the derivatives are untagged JPEGs, which every viewer shows as sRGB. A JPEG with
//! an RGB ICC profile other than sRGB (Display P3: iPhones and many Android phones) is
//! converted with moxcms ([`to_srgb`]); CMYK and YCCK JPEGs are turned into RGB by the
//! decoder (zune-jpeg, Adobe inverted CMYK), without their profile.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageError, ImageFormat, ImageReader};

use super::{
    DERIVATIVE_JPEG_QUALITY, Derivative, Derivatives, EVIDENCE_COPY_LONG_SIDE_PX, EvidenceError,
    PhotoFormat, PhotoLimits, THUMBNAIL_LONG_SIDE_PX, group, mib,
};
use crate::ids::EvidenceId;

/// An 8-bit image in memory, rows top to bottom, no padding.
#[derive(Debug)]
pub(super) struct Raster {
    pub(super) width: u32,
    pub(super) height: u32,
    /// 1 (grey) or 3 (RGB) bytes per pixel.
    pub(super) channels: u8,
    pub(super) pixels: Vec<u8>,
}

impl Raster {
    fn pixel_type(&self) -> PixelType {
        if self.channels == 1 {
            PixelType::U8
        } else {
            PixelType::U8x3
        }
    }

    /// The same image as RGB (grey expanded; RGB returned as is).
    fn into_rgb(self) -> Raster {
        if self.channels == 3 {
            return self;
        }
        let pixels = self.pixels.iter().flat_map(|&v| [v, v, v]).collect();
        Raster {
            channels: 3,
            pixels,
            ..self
        }
    }
}

/// Decodes, downscales, orients and encodes both derivatives.
pub(super) fn derive(
    bytes: &[u8],
    format: PhotoFormat,
    orientation: u8,
    icc: Option<&[u8]>,
    limits: &PhotoLimits,
) -> Result<Derivatives, EvidenceError> {
    let full = decode(bytes, format, limits)?;
    let evidence = downscale(&full, EVIDENCE_COPY_LONG_SIDE_PX)?;
    // The evidence copy may be the full image itself (small photos are never upscaled).
    let evidence = match evidence {
        Some(smaller) => {
            drop(full);
            smaller
        }
        None => full,
    };
    let mut evidence = orient(evidence, orientation).into_rgb();
    if let Some(icc) = icc {
        to_srgb(&mut evidence, icc);
    }
    let evidence_copy = encode(&evidence)?;
    let thumbnail = match downscale(&evidence, THUMBNAIL_LONG_SIDE_PX)? {
        Some(thumb) => encode(&thumb)?,
        None => evidence_copy.clone(),
    };
    Ok(Derivatives {
        evidence_copy,
        thumbnail,
    })
}

/// Decodes the whole image to 8-bit grey or RGB, alpha flattened on white, with
/// `image::Limits` set on the decoder so the output buffer is checked before it is allocated.
pub(super) fn decode(
    bytes: &[u8],
    format: PhotoFormat,
    limits: &PhotoLimits,
) -> Result<Raster, EvidenceError> {
    let image_format = match format {
        PhotoFormat::Jpeg => ImageFormat::Jpeg,
        PhotoFormat::Png => ImageFormat::Png,
        PhotoFormat::Heif => {
            return Err(EvidenceError::PreviewUnavailable {
                detail: "HEIF pixels are not decoded".to_owned(),
            });
        }
    };
    let mut decode_limits = image::Limits::default();
    decode_limits.max_alloc = Some(limits.max_alloc_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    reader.limits(decode_limits);
    // `ImageReader::decode` reserves the output buffer against `max_alloc` before allocating it
    // (unlike `into_decoder` + `DynamicImage::from_decoder`). A decoder bug must not take the
    // process down: a panic is a corrupt file.
    let decoded = catch_unwind(AssertUnwindSafe(move || reader.decode()))
        .map_err(|_| EvidenceError::corrupt(format!("the {format} decoder failed on this file")))?
        .map_err(|e| map_image_error(&e, format, limits))?;
    Ok(to_raster(decoded))
}

fn map_image_error(e: &ImageError, format: PhotoFormat, limits: &PhotoLimits) -> EvidenceError {
    match e {
        ImageError::Limits(_) => EvidenceError::too_large(format!(
            "decoding it needs more than the decode allocation limit of {} bytes ({})",
            group(limits.max_alloc_bytes),
            mib(limits.max_alloc_bytes)
        )),
        ImageError::Unsupported(u) => {
            EvidenceError::unsupported(format!("this {format} variant is not supported: {u}"))
        }
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            EvidenceError::truncated(format!("the {format} image data ends early"))
        }
        other => {
            let text = other.to_string();
            let lower = text.to_lowercase();
            if lower.contains("unexpected end") || lower.contains("eof") {
                EvidenceError::truncated(format!("the {format} image data ends early: {text}"))
            } else {
                EvidenceError::corrupt(format!("the {format} image data is invalid: {text}"))
            }
        }
    }
}

/// 8-bit grey or RGB from whatever the decoder produced: 16-bit and float samples are rounded
/// to 8 bits, alpha is composited on white.
fn to_raster(image: DynamicImage) -> Raster {
    let (width, height) = (image.width(), image.height());
    match image {
        DynamicImage::ImageRgb8(buf) => Raster {
            width,
            height,
            channels: 3,
            pixels: buf.into_raw(),
        },
        DynamicImage::ImageLuma8(buf) => Raster {
            width,
            height,
            channels: 1,
            pixels: buf.into_raw(),
        },
        other if other.color().has_alpha() => {
            let mut pixels = other.into_rgba8().into_raw();
            // In place: pixel i's RGB goes to 3i, read from 4i ≥ 3i.
            let n = pixels.len() / 4;
            for i in 0..n {
                let a = u32::from(pixels[4 * i + 3]);
                for c in 0..3 {
                    let v = u32::from(pixels[4 * i + c]);
                    // v·a + 255·(255 − a), divided by 255, rounded: at most 255.
                    pixels[3 * i + c] = ((v * a + 255 * (255 - a) + 127) / 255) as u8;
                }
            }
            pixels.truncate(3 * n);
            pixels.shrink_to_fit();
            Raster {
                width,
                height,
                channels: 3,
                pixels,
            }
        }
        other if other.color().has_color() => Raster {
            width,
            height,
            channels: 3,
            pixels: other.into_rgb8().into_raw(),
        },
        other => Raster {
            width,
            height,
            channels: 1,
            pixels: other.into_luma8().into_raw(),
        },
    }
}

/// The size with the long side at most `long_side`, keeping the aspect ratio (short side
/// rounded, at least 1); `None` when the image already fits.
pub(super) fn fit(width: u32, height: u32, long_side: u32) -> Option<(u32, u32)> {
    let long = width.max(height);
    if long <= long_side {
        return None;
    }
    let scale = |short: u32| -> u32 {
        let scaled =
            (u64::from(short) * u64::from(long_side) + u64::from(long) / 2) / u64::from(long);
        // ≤ long_side, so it fits.
        (scaled as u32).max(1)
    };
    Some(if width >= height {
        (long_side, scale(height))
    } else {
        (scale(width), long_side)
    })
}

/// Downscales with a Lanczos3 convolution (fast_image_resize, SIMD) so the long side is at
/// most `long_side`; `None` when the image already fits (never upscales).
pub(super) fn downscale(src: &Raster, long_side: u32) -> Result<Option<Raster>, EvidenceError> {
    let Some((width, height)) = fit(src.width, src.height, long_side) else {
        return Ok(None);
    };
    let resize_failed = |e: &dyn std::fmt::Display| {
        EvidenceError::corrupt(format!("the image cannot be resized: {e}"))
    };
    let pixel_type = src.pixel_type();
    let src_view = ImageRef::new(src.width, src.height, &src.pixels, pixel_type)
        .map_err(|e| resize_failed(&e))?;
    let mut dst = Image::new(width, height, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&src_view, &mut dst, &options)
        .map_err(|e| resize_failed(&e))?;
    Ok(Some(Raster {
        width,
        height,
        channels: src.channels,
        pixels: dst.into_vec(),
    }))
}

/// sRGB's colorants (D50-adapted XYZ), as moxcms builds its sRGB profile.
fn srgb_colorants() -> [moxcms::Xyzd; 3] {
    let srgb = moxcms::ColorProfile::new_srgb();
    [srgb.red_colorant, srgb.green_colorant, srgb.blue_colorant]
}

/// The transform of an embedded RGB ICC profile (ICC.1:2010) to sRGB, through moxcms;
/// `None` when the profile does not read, is not RGB (CMYK and YCCK are turned into RGB by the
/// decoder without their profile), or has sRGB's colorants (nothing to convert).
pub(super) fn srgb_transform(icc: &[u8]) -> Option<std::sync::Arc<moxcms::Transform8BitExecutor>> {
    let profile = match moxcms::ColorProfile::new_from_slice(icc) {
        Ok(profile) => profile,
        Err(e) => {
            tracing::debug!(error = %e, "ICC profile not read; taken as sRGB");
            return None;
        }
    };
    if profile.color_space != moxcms::DataColorSpace::Rgb {
        return None;
    }
    let colorants = [
        profile.red_colorant,
        profile.green_colorant,
        profile.blue_colorant,
    ];
    let like_srgb = colorants.iter().zip(srgb_colorants()).all(|(a, b)| {
        (a.x - b.x).abs() < 0.005 && (a.y - b.y).abs() < 0.005 && (a.z - b.z).abs() < 0.005
    });
    if like_srgb {
        return None;
    }
    match profile.create_transform_8bit(
        moxcms::Layout::Rgb,
        &moxcms::ColorProfile::new_srgb(),
        moxcms::Layout::Rgb,
        moxcms::TransformOptions::default(),
    ) {
        Ok(transform) => Some(transform),
        Err(e) => {
            tracing::debug!(error = %e, "no transform from the ICC profile; taken as sRGB");
            None
        }
    }
}

/// Converts an RGB raster from the photo's ICC profile to sRGB in place (see
/// [`srgb_transform`]); leaves it as it is when there is nothing to convert.
pub(super) fn to_srgb(raster: &mut Raster, icc: &[u8]) {
    if raster.channels != 3 {
        return;
    }
    let Some(transform) = srgb_transform(icc) else {
        return;
    };
    let mut out = vec![0u8; raster.pixels.len()];
    match transform.transform(&raster.pixels, &mut out) {
        Ok(()) => raster.pixels = out,
        Err(e) => tracing::debug!(error = %e, "colour conversion failed; kept as is"),
    }
}

/// Applies EXIF orientation 1..=8 (CIPA DC-008 §4.6.4 A, tag 0x0112): returns the upright
/// image. For each upright pixel (x, y) the stored pixel is taken from:
/// 1 (x, y) · 2 (w−1−x, y) · 3 (w−1−x, h−1−y) · 4 (x, h−1−y) ·
/// 5 (y, x) · 6 (y, h−1−x) · 7 (w−1−y, h−1−x) · 8 (w−1−y, x), where w, h are the stored size.
pub(super) fn orient(src: Raster, orientation: u8) -> Raster {
    if !(2..=8).contains(&orientation) {
        return src;
    }
    let (w, h) = (src.width as usize, src.height as usize);
    let c = usize::from(src.channels);
    let swap = orientation >= 5;
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    let mut out = vec![0u8; src.pixels.len()];
    for y in 0..oh {
        let row = &mut out[y * ow * c..(y + 1) * ow * c];
        for x in 0..ow {
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x),
            };
            let from = (sy * w + sx) * c;
            row[x * c..x * c + c].copy_from_slice(&src.pixels[from..from + c]);
        }
    }
    Raster {
        // ow, oh are the stored sides swapped or not: they fit in u32.
        width: ow as u32,
        height: oh as u32,
        channels: src.channels,
        pixels: out,
    }
}

/// Encodes an RGB raster as a baseline JPEG (quality [`DERIVATIVE_JPEG_QUALITY`], 4:2:0,
/// JFIF header only) and hashes it.
pub(super) fn encode(raster: &Raster) -> Result<Derivative, EvidenceError> {
    let failed = |e: &dyn std::fmt::Display| {
        EvidenceError::corrupt(format!("the derivative cannot be encoded: {e}"))
    };
    let width = u16::try_from(raster.width).map_err(|e| failed(&e))?;
    let height = u16::try_from(raster.height).map_err(|e| failed(&e))?;
    let mut jpeg = Vec::with_capacity(raster.pixels.len() / 8 + 1024);
    let color = if raster.channels == 1 {
        jpeg_encoder::ColorType::Luma
    } else {
        jpeg_encoder::ColorType::Rgb
    };
    jpeg_encoder::Encoder::new(&mut jpeg, DERIVATIVE_JPEG_QUALITY)
        .encode(&raster.pixels, width, height, color)
        .map_err(|e| failed(&e))?;
    Ok(Derivative {
        sha256: EvidenceId::of(&jpeg),
        width: raster.width,
        height: raster.height,
        jpeg,
    })
}
