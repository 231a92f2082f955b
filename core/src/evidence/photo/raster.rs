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
use image::ImageError;

use super::{
    DERIVATIVE_JPEG_QUALITY, Derivative, Derivatives, EVIDENCE_COPY_LONG_SIDE_PX, EvidenceError,
    PhotoFormat, PhotoLimits, THUMBNAIL_JPEG_QUALITY, THUMBNAIL_LONG_SIDE_PX, group, mib,
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

/// Downscales the decoded image ([`decode`]), orients and encodes both derivatives.
pub(super) fn derive(
    full: Raster,
    orientation: u8,
    icc: Option<&[u8]>,
) -> Result<Derivatives, EvidenceError> {
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
    let evidence_copy = encode(&evidence, DERIVATIVE_JPEG_QUALITY)?;
    let thumbnail = match downscale(&evidence, THUMBNAIL_LONG_SIDE_PX)? {
        Some(thumb) => encode(&thumb, THUMBNAIL_JPEG_QUALITY)?,
        // A small photo: the evidence copy's pixels, at the thumbnail's own quality, so the
        // two blobs differ.
        None => encode(&evidence, THUMBNAIL_JPEG_QUALITY)?,
    };
    Ok(Derivatives {
        evidence_copy,
        thumbnail,
    })
}

/// Decodes the whole image to 8-bit grey or RGB, alpha flattened on white. The decoders
/// write into one buffer allocated here (after checking its size against
/// [`PhotoLimits::max_alloc_bytes`], fallibly: a failed allocation is `TooLarge`, not an
/// abort), and the 8-bit image is made in that same buffer ([`to_raster`]).
///
/// JPEG: zune-jpeg in strict mode (a decoding error is an error, not grey fill), at most
/// [`PhotoLimits::max_side_px`] a side. PNG: the `png` crate through `image`, its internal
/// buffers bounded by the same allocation limit. A decoder panic is caught and reported as a
/// corrupt file.
pub(super) fn decode(
    bytes: &[u8],
    format: PhotoFormat,
    limits: &PhotoLimits,
) -> Result<Raster, EvidenceError> {
    let decoded = catch_unwind(AssertUnwindSafe(|| match format {
        PhotoFormat::Jpeg => decode_jpeg(bytes, limits),
        PhotoFormat::Png => decode_png(bytes, limits),
        PhotoFormat::Heif => Err(EvidenceError::PreviewUnavailable {
            detail: "HEIF pixels are not decoded".to_owned(),
        }),
    }));
    decoded.unwrap_or_else(|_| {
        Err(EvidenceError::corrupt(format!(
            "the {format} decoder failed on this file"
        )))
    })
}

/// A zeroed buffer of `len` bytes, refused over the allocation limit or when the allocation
/// fails.
fn buffer(len: u64, limits: &PhotoLimits) -> Result<Vec<u8>, EvidenceError> {
    let too_large = || {
        EvidenceError::too_large(format!(
            "the decoded image needs {} bytes ({}), over the decode allocation limit of {} bytes ({})",
            group(len),
            mib(len),
            group(limits.max_alloc_bytes),
            mib(limits.max_alloc_bytes)
        ))
    };
    if len > limits.max_alloc_bytes {
        return Err(too_large());
    }
    let len = usize::try_from(len).map_err(|_| too_large())?;
    let mut pixels = Vec::new();
    pixels.try_reserve_exact(len).map_err(|_| {
        EvidenceError::too_large(format!(
            "the memory for the decoded image ({} bytes, {}) cannot be allocated",
            group(len as u64),
            mib(len as u64)
        ))
    })?;
    pixels.resize(len, 0);
    Ok(pixels)
}

fn decode_jpeg(bytes: &[u8], limits: &PhotoLimits) -> Result<Raster, EvidenceError> {
    use zune_jpeg::JpegDecoder;
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;

    let side = limits.max_side_px.min(u32::from(u16::MAX)) as usize;
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(side)
        .set_max_height(side);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| map_jpeg_error(&e, limits))?;
    let (Some((width, height)), Some(input)) = (decoder.dimensions(), decoder.input_colorspace())
    else {
        return Err(EvidenceError::corrupt("the JPEG headers cannot be read"));
    };
    // Grey stays grey; YCbCr, RGB, CMYK and YCCK become RGB.
    let (output, channels) = if input == ColorSpace::Luma {
        (ColorSpace::Luma, 1)
    } else {
        (ColorSpace::RGB, 3)
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(output));
    let len = (width as u64) * (height as u64) * u64::from(channels);
    let mut pixels = buffer(len, limits)?;
    decoder
        .decode_into(&mut pixels)
        .map_err(|e| map_jpeg_error(&e, limits))?;
    Ok(Raster {
        // At most 65 535 each (a JPEG frame header has 16-bit sides).
        width: width as u32,
        height: height as u32,
        channels,
        pixels,
    })
}

fn map_jpeg_error(e: &zune_jpeg::errors::DecodeErrors, limits: &PhotoLimits) -> EvidenceError {
    use zune_jpeg::errors::DecodeErrors;
    let text = e.to_string();
    match e {
        DecodeErrors::LargeDimensions(_) => EvidenceError::too_large(format!(
            "the JPEG is larger than the limit of {} pixels a side",
            group(u64::from(limits.max_side_px))
        )),
        DecodeErrors::Unsupported(_) => {
            EvidenceError::unsupported(format!("this JPEG variant is not supported: {text}"))
        }
        DecodeErrors::ExhaustedData | DecodeErrors::IoErrors(_) => {
            EvidenceError::truncated(format!("the JPEG image data ends early: {text}"))
        }
        _ if text.to_lowercase().contains("premature end") => {
            EvidenceError::truncated(format!("the JPEG image data ends early: {text}"))
        }
        _ => EvidenceError::corrupt(format!("the JPEG image data is invalid: {text}")),
    }
}

fn decode_png(bytes: &[u8], limits: &PhotoLimits) -> Result<Raster, EvidenceError> {
    use image::ImageDecoder;
    use image::codecs::png::PngDecoder;

    let mut decode_limits = image::Limits::default();
    decode_limits.max_alloc = Some(limits.max_alloc_bytes);
    decode_limits.max_image_width = Some(limits.max_side_px);
    decode_limits.max_image_height = Some(limits.max_side_px);
    let decoder = PngDecoder::with_limits(Cursor::new(bytes), decode_limits)
        .map_err(|e| map_image_error(&e, PhotoFormat::Png, limits))?;
    let (width, height) = decoder.dimensions();
    let color = decoder.color_type();
    let mut pixels = buffer(decoder.total_bytes(), limits)?;
    decoder
        .read_image(&mut pixels)
        .map_err(|e| map_image_error(&e, PhotoFormat::Png, limits))?;
    to_raster(pixels, width, height, color)
}

fn map_image_error(e: &ImageError, format: PhotoFormat, limits: &PhotoLimits) -> EvidenceError {
    match e {
        ImageError::Limits(_) => EvidenceError::too_large(format!(
            "decoding it needs more than the decode allocation limit of {} bytes ({}) or is over \
             {} pixels a side",
            group(limits.max_alloc_bytes),
            mib(limits.max_alloc_bytes),
            group(u64::from(limits.max_side_px))
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

/// 8-bit grey or RGB from a decoded buffer laid out as `color` (16-bit samples in native byte
/// order, as `image` decoders write them), converted in place — the result uses the same
/// allocation, so no second full-size buffer exists: 16-bit samples are rounded to 8 bits,
/// alpha is composited on white (grey with alpha stays grey).
///
/// # Errors
/// `UnsupportedFormat` for a layout the PNG and JPEG decoders never produce (float samples).
pub(super) fn to_raster(
    mut pixels: Vec<u8>,
    width: u32,
    height: u32,
    color: image::ColorType,
) -> Result<Raster, EvidenceError> {
    use image::ColorType;
    let (in_channels, wide, alpha) = match color {
        ColorType::L8 => (1, false, false),
        ColorType::La8 => (2, false, true),
        ColorType::Rgb8 => (3, false, false),
        ColorType::Rgba8 => (4, false, true),
        ColorType::L16 => (1, true, false),
        ColorType::La16 => (2, true, true),
        ColorType::Rgb16 => (3, true, false),
        ColorType::Rgba16 => (4, true, true),
        other => {
            return Err(EvidenceError::unsupported(format!(
                "decoded pixels of type {other:?} are not supported"
            )));
        }
    };
    let out_channels: usize = if in_channels >= 3 { 3 } else { 1 };
    let pixel_count = width as usize * height as usize;
    let in_bpp = in_channels * if wide { 2 } else { 1 };
    if pixels.len() < pixel_count * in_bpp {
        return Err(EvidenceError::corrupt(
            "the decoder returned fewer pixels than the image has",
        ));
    }
    if !wide && !alpha {
        pixels.truncate(pixel_count * in_bpp);
    } else {
        let max: u32 = if wide { 65_535 } else { 255 };
        // In place: pixel i is read from in_bpp·i and written to out_channels·i ≤ in_bpp·i,
        // never past in_bpp·(i + 1), where pixel i + 1 starts.
        let mut samples = [0u32; 4];
        for i in 0..pixel_count {
            let from = i * in_bpp;
            for (c, sample) in samples.iter_mut().enumerate().take(in_channels) {
                *sample = if wide {
                    let at = from + 2 * c;
                    u32::from(u16::from_ne_bytes([pixels[at], pixels[at + 1]]))
                } else {
                    u32::from(pixels[from + c])
                };
            }
            let a = if alpha { samples[in_channels - 1] } else { max };
            for (c, &v) in samples.iter().enumerate().take(out_channels) {
                // v·a + max·(max − a) over max, rounded: the colour over white; then to 8 bits.
                let flat = (v * a + max * (max - a) + max / 2) / max;
                let eight = if wide {
                    (flat * 255 + 32_767) / 65_535
                } else {
                    flat
                };
                // At most 255.
                pixels[out_channels * i + c] = eight as u8;
            }
        }
        pixels.truncate(pixel_count * out_channels);
    }
    Ok(Raster {
        width,
        height,
        channels: out_channels as u8,
        pixels,
    })
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

/// Bytes the resizer allocates to downscale `src` to `dst` ([`downscale`]: Lanczos3
/// convolution in fast_image_resize, vertical pass first for 8-bit pixels): for each axis that
/// changes, its coefficient table (per output pixel a window of 2·⌈3·scale⌉ + 1 `f64`
/// weights, then an `i16` copy, plus bounds and chunk headers); the intermediate image
/// (source width × output height) when both axes change; and the output image.
///
/// The window grows with the scale: 100 000 000 × 1 px to 2 048 px would need about 4.8 GB
/// of weights, which is why the sides are limited ([`PhotoLimits::max_side_px`]) and this is
/// counted in the allocation estimate.
pub(super) fn resize_bytes(src: (u32, u32), dst: (u32, u32), channels: u8) -> u64 {
    fn table(input: u32, output: u32) -> u64 {
        if input == output || output == 0 {
            return 0;
        }
        let scale = (f64::from(input) / f64::from(output)).max(1.0);
        // Finite and below 2^33 for u32 sides.
        let window = 2 * (3.0 * scale).ceil() as u64 + 1;
        u64::from(output).saturating_mul(window.saturating_mul(8 + 2).saturating_add(40))
    }
    let c = u64::from(channels);
    let horizontal = table(src.0, dst.0);
    let vertical = table(src.1, dst.1);
    let intermediate = if horizontal > 0 && vertical > 0 {
        u64::from(src.0) * u64::from(dst.1) * c
    } else {
        0
    };
    let output = u64::from(dst.0) * u64::from(dst.1) * c;
    horizontal
        .saturating_add(vertical)
        .saturating_add(intermediate)
        .saturating_add(output)
}

/// Bytes counted by [`peak_bytes`] for the many small allocations beside the large buffers.
pub(super) const SMALL_ALLOCATIONS: u64 = 4 * 1024 * 1024;

/// The peak working memory of [`derive`] for an image of `width` × `height` whose decoded
/// buffer is `decoded` bytes, the decoder needing `decoder_working` bytes besides it, and
/// whose 8-bit form has `channels` (1 or 3) bytes a pixel, made in place in the decoded buffer.
/// The decoded buffer lives through the decode and the first downscale; at the peak it is
/// joined by the largest of:
/// - the decoder's working memory;
/// - the resizer's buffers for the evidence copy ([`resize_bytes`]);
/// - the finishing of the derivatives: per evidence-copy pixel the turned copy, the RGB
///   copy, the colour-converted copy and the encoded JPEG (10 bytes counted), plus the
///   thumbnail's resize;
///
/// and [`SMALL_ALLOCATIONS`] for the rest (Huffman and colour tables, decoder state).
///
/// Not counted: the input bytes and allocator overhead. (The EXIF parser's copy of the EXIF
/// block is freed before decoding starts.)
pub(super) fn peak_bytes(
    (width, height): (u32, u32),
    decoded: u64,
    decoder_working: u64,
    channels: u8,
) -> u64 {
    let evidence = fit(width, height, EVIDENCE_COPY_LONG_SIDE_PX);
    let downscale = evidence.map_or(0, |dst| resize_bytes((width, height), dst, channels));
    let (ew, eh) = evidence.unwrap_or((width, height));
    let thumbnail =
        fit(ew, eh, THUMBNAIL_LONG_SIDE_PX).map_or(0, |dst| resize_bytes((ew, eh), dst, 3));
    let finishing = (u64::from(ew) * u64::from(eh)).saturating_mul(10) + thumbnail;
    decoded
        .saturating_add(decoder_working.max(downscale).max(finishing))
        .saturating_add(SMALL_ALLOCATIONS)
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

/// Encodes an RGB raster as a baseline JPEG (`quality`: [`DERIVATIVE_JPEG_QUALITY`] or
/// [`THUMBNAIL_JPEG_QUALITY`]; 4:2:0, JFIF header only) and hashes it.
pub(super) fn encode(raster: &Raster, quality: u8) -> Result<Derivative, EvidenceError> {
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
    jpeg_encoder::Encoder::new(&mut jpeg, quality)
        .encode(&raster.pixels, width, height, color)
        .map_err(|e| failed(&e))?;
    Ok(Derivative {
        sha256: EvidenceId::of(&jpeg),
        width: raster.width,
        height: raster.height,
        jpeg,
    })
}
