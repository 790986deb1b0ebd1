//! Cutouts as PNG images: the FITS image read, a zscale interval, a stretch, 8-bit grey.
//!
//! The rendering is astropy's, so a page shows what an astronomer sees in a notebook:
//! `ZScaleInterval()` (IRAF's zscale with astropy's defaults: 1000 samples, contrast 0.25,
//! 2.5σ rejection, at most 5 iterations) maps the pixels to [0, 1], clipped, then
//! `AsinhStretch()` (a = 0.1), `LogStretch()` (a = 1000), `SqrtStretch()` or none, and the
//! result × 255, rounded, is the grey level. Rows go bottom to top as in ds9 and matplotlib's
//! `origin="lower"`: FITS row 1 is the bottom row of the PNG. Pixels that are not finite
//! (NaN, ±inf, `BLANK`) are left out of the interval and drawn black.
//!
//! The reader takes the first HDU with a two-dimensional image (an alert's cutouts have it in
//! the primary HDU; an afw `Exposure` file keeps it in its first extension), BITPIX 8, 16, 32,
//! 64, -32 or -64, with `BZERO`/`BSCALE`/`BLANK`, and the CD (or PC × CDELT) matrix when there
//! is one, for the orientation marks.

use std::fmt;

const BLOCK: usize = 2880;
const CARD: usize = 80;
/// The largest image read: real cutouts are ~30–100 pixels a side.
const MAX_PIXELS: usize = 4096 * 4096;
/// The largest PNG side `size=` may ask for.
pub const MAX_SIZE: u32 = 1024;
/// The smallest PNG side `size=` may ask for.
pub const MIN_SIZE: u32 = 8;

/// Why a cutout could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cutout is not a FITS image this server can read: {0}")]
pub struct ImageError(String);

fn bad(reason: impl Into<String>) -> ImageError {
    ImageError(reason.into())
}

/// A two-dimensional FITS image, rows bottom to top as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    /// Physical values (`BZERO + BSCALE × stored`), `width × height`, row 1 first.
    pub pixels: Vec<f64>,
    /// The CD matrix (`[CD1_1, CD1_2, CD2_1, CD2_2]`, degrees per pixel), when the header has
    /// a celestial WCS.
    pub cd: Option<[f64; 4]>,
}

/// A header's keyword values, as text.
#[derive(Debug, Default)]
struct Cards<'a> {
    cards: Vec<(&'a str, &'a str)>,
}

impl<'a> Cards<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        self.cards.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.get(key)?.parse().ok()
    }

    fn float(&self, key: &str) -> Option<f64> {
        // FITS allows a `D` exponent.
        self.get(key)?.replace(['D', 'd'], "E").parse().ok()
    }
}

/// The value text of a `KEY     = value / comment` card (strings keep their quotes).
fn card_value(card: &str) -> Option<&str> {
    let rest = card.get(8..)?.strip_prefix("= ")?;
    let rest = rest.trim_start();
    if rest.starts_with('\'') {
        return Some(rest.split('/').next().unwrap_or(rest).trim());
    }
    Some(rest.split('/').next().unwrap_or("").trim())
}

/// Reads the first two-dimensional image of a FITS file.
pub fn read_image(fits: &[u8]) -> Result<Image, ImageError> {
    if !fits.starts_with(b"SIMPLE  =") {
        return Err(bad("it does not start with SIMPLE"));
    }
    let mut offset = 0usize;
    loop {
        let (cards, data_start) = header_at(fits, offset)?;
        let bitpix = cards
            .int("BITPIX")
            .ok_or_else(|| bad("BITPIX is missing"))?;
        if ![8, 16, 32, 64, -32, -64].contains(&bitpix) {
            return Err(bad(format!("BITPIX {bitpix} is not a FITS type")));
        }
        let naxis = cards.int("NAXIS").ok_or_else(|| bad("NAXIS is missing"))?;
        if !(0..=999).contains(&naxis) {
            return Err(bad("NAXIS is out of range"));
        }
        let axes: Vec<u64> = (1..=naxis)
            .map(|i| {
                cards
                    .int(&format!("NAXIS{i}"))
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| bad(format!("NAXIS{i} is missing")))
            })
            .collect::<Result<_, _>>()?;
        let pcount = cards.int("PCOUNT").unwrap_or(0).max(0) as u64;
        let gcount = cards.int("GCOUNT").unwrap_or(1).max(1) as u64;
        let elements = if axes.is_empty() {
            0
        } else {
            axes.iter()
                .try_fold(1u64, |n, a| n.checked_mul(*a))
                .ok_or_else(|| bad("the image size overflows"))?
        };
        let image = cards.get("XTENSION").is_none_or(|x| x.contains("IMAGE"));
        // A cube with one plane (NAXIS3 = 1) is an image too.
        if image && axes.len() >= 2 && axes[2..].iter().all(|a| *a == 1) && elements > 0 {
            return image_of(fits, &cards, data_start, bitpix, axes[0], axes[1]);
        }
        let data_len = (bitpix.unsigned_abs() / 8)
            .checked_mul(gcount)
            .and_then(|n| n.checked_mul(pcount.checked_add(elements)?))
            .ok_or_else(|| bad("an HDU's size overflows"))?;
        let next = (data_start as u64)
            .checked_add(data_len.div_ceil(BLOCK as u64) * BLOCK as u64)
            .ok_or_else(|| bad("an HDU's size overflows"))?;
        if next >= fits.len() as u64 {
            return Err(bad("it has no two-dimensional image"));
        }
        offset = next as usize;
    }
}

/// The cards of the header starting at `offset`, and where its data starts.
fn header_at(fits: &[u8], offset: usize) -> Result<(Cards<'_>, usize), ImageError> {
    let mut cards = Cards::default();
    let rest = fits
        .get(offset..)
        .ok_or_else(|| bad("it ends in a header"))?;
    for (i, card) in rest.chunks_exact(CARD).enumerate() {
        let card = std::str::from_utf8(card).map_err(|_| bad("a header card is not ASCII"))?;
        let key = card[..8].trim_end();
        if key == "END" {
            let data_start = offset + (i + 1).div_ceil(BLOCK / CARD) * BLOCK;
            return Ok((cards, data_start));
        }
        if let Some(value) = card_value(card) {
            cards.cards.push((key, value));
        }
    }
    Err(bad("a header has no END"))
}

fn image_of(
    fits: &[u8],
    cards: &Cards<'_>,
    data_start: usize,
    bitpix: i64,
    width: u64,
    height: u64,
) -> Result<Image, ImageError> {
    let count = width
        .checked_mul(height)
        .filter(|n| *n as usize <= MAX_PIXELS)
        .ok_or_else(|| bad(format!("{width} × {height} pixels is too large")))?
        as usize;
    let size = bitpix.unsigned_abs() as usize / 8;
    let data = fits
        .get(data_start..data_start + count * size)
        .ok_or_else(|| bad("its data is shorter than its header says"))?;
    let zero = cards.float("BZERO").unwrap_or(0.0);
    let scale = cards.float("BSCALE").unwrap_or(1.0);
    let blank = cards.int("BLANK");
    let integer = |raw: i64| {
        if Some(raw) == blank {
            f64::NAN
        } else {
            zero + scale * raw as f64
        }
    };
    let pixels: Vec<f64> = match bitpix {
        8 => data.iter().map(|b| integer(i64::from(*b))).collect(),
        16 => data
            .chunks_exact(2)
            .map(|c| integer(i64::from(i16::from_be_bytes([c[0], c[1]]))))
            .collect(),
        32 => data
            .chunks_exact(4)
            .map(|c| {
                integer(i64::from(i32::from_be_bytes(
                    c.try_into().unwrap_or([0; 4]),
                )))
            })
            .collect(),
        64 => data
            .chunks_exact(8)
            .map(|c| integer(i64::from_be_bytes(c.try_into().unwrap_or([0; 8]))))
            .collect(),
        -32 => data
            .chunks_exact(4)
            .map(|c| zero + scale * f64::from(f32::from_be_bytes(c.try_into().unwrap_or([0; 4]))))
            .collect(),
        _ => data
            .chunks_exact(8)
            .map(|c| zero + scale * f64::from_be_bytes(c.try_into().unwrap_or([0; 8])))
            .collect(),
    };
    Ok(Image {
        width: width as usize,
        height: height as usize,
        pixels,
        cd: cd_matrix(cards),
    })
}

/// The CD matrix of a celestial WCS: the `CDi_j` cards, else `PCi_j × CDELTi`.
fn cd_matrix(cards: &Cards<'_>) -> Option<[f64; 4]> {
    let celestial = cards
        .get("CTYPE1")
        .is_some_and(|t| t.contains("RA") || t.contains("GLON") || t.contains("ELON"));
    let cd = ["CD1_1", "CD1_2", "CD2_1", "CD2_2"].map(|k| cards.float(k));
    let matrix = if cd.iter().any(Option::is_some) {
        cd.map(|v| v.unwrap_or(0.0))
    } else {
        let (d1, d2) = (cards.float("CDELT1")?, cards.float("CDELT2")?);
        let pc = |k: &str, default: f64| cards.float(k).unwrap_or(default);
        [
            d1 * pc("PC1_1", 1.0),
            d1 * pc("PC1_2", 0.0),
            d2 * pc("PC2_1", 0.0),
            d2 * pc("PC2_2", 1.0),
        ]
    };
    let det = matrix[0] * matrix[3] - matrix[1] * matrix[2];
    (celestial && det.is_finite() && det != 0.0).then_some(matrix)
}

impl Image {
    /// Pixel scale in arcseconds (the square root of the CD matrix's area), if there is a WCS.
    pub fn arcsec_per_pixel(&self) -> Option<f64> {
        let cd = self.cd?;
        Some((cd[0] * cd[3] - cd[1] * cd[2]).abs().sqrt() * 3600.0)
    }

    /// The directions of north and east on the PNG (x right, y down), unit vectors, if there
    /// is a WCS: the pixel offsets the inverse CD matrix gives for +Dec and +RA, with the
    /// vertical flip of the rendering.
    pub fn north_east(&self) -> Option<([f64; 2], [f64; 2])> {
        let [a, b, c, d] = self.cd?;
        let det = a * d - b * c;
        // inverse(CD) × (ξ, η): pixel offsets (dx, dy) for an intermediate-world offset.
        let to_pixel = |xi: f64, eta: f64| [(d * xi - b * eta) / det, (-c * xi + a * eta) / det];
        let unit = |[x, y]: [f64; 2]| {
            let n = x.hypot(y);
            [x / n, -y / n]
        };
        Some((unit(to_pixel(0.0, 1.0)), unit(to_pixel(1.0, 0.0))))
    }
}

/// How grey levels follow the interval-normalised value `x` in [0, 1] (astropy's stretches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stretch {
    /// `asinh(x / 0.1) / asinh(10)`: faint detail and bright cores both visible.
    #[default]
    Asinh,
    Linear,
    /// `log(1000 x + 1) / log(1001)`.
    Log,
    Sqrt,
}

impl Stretch {
    pub const NAMES: &'static str = "asinh, linear, log or sqrt";

    pub fn parse(text: &str) -> Option<Stretch> {
        Some(match text {
            "asinh" => Stretch::Asinh,
            "linear" => Stretch::Linear,
            "log" => Stretch::Log,
            "sqrt" => Stretch::Sqrt,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Stretch::Asinh => "asinh",
            Stretch::Linear => "linear",
            Stretch::Log => "log",
            Stretch::Sqrt => "sqrt",
        }
    }

    fn apply(self, x: f64) -> f64 {
        match self {
            Stretch::Asinh => (x / 0.1).asinh() / 10f64.asinh(),
            Stretch::Linear => x,
            Stretch::Log => (1000.0 * x + 1.0).ln() / 1001f64.ln(),
            Stretch::Sqrt => x.sqrt(),
        }
    }
}

impl fmt::Display for Stretch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// astropy's `ZScaleInterval().get_limits`, step for step (see the module docs).
pub fn zscale(pixels: &[f64]) -> (f64, f64) {
    const N_SAMPLES: usize = 1000;
    const CONTRAST: f64 = 0.25;
    const MAX_REJECT: f64 = 0.5;
    const MIN_NPIXELS: usize = 5;
    const KREJ: f64 = 2.5;
    const MAX_ITERATIONS: usize = 5;
    let finite: Vec<f64> = pixels.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return (0.0, 1.0);
    }
    // `int(max(1.0, size / n_samples))`, then every stride-th value, at most n_samples.
    let stride = (finite.len() as f64 / N_SAMPLES as f64).max(1.0) as usize;
    let mut samples: Vec<f64> = finite
        .iter()
        .step_by(stride)
        .take(N_SAMPLES)
        .copied()
        .collect();
    samples.sort_by(f64::total_cmp);
    let npix = samples.len();
    let (mut vmin, mut vmax) = (samples[0], samples[npix - 1]);
    let minpix = MIN_NPIXELS.max((npix as f64 * MAX_REJECT) as usize);
    let mut ngood = npix;
    let mut last_ngood = npix + 1;
    let mut bad = vec![false; npix];
    let ngrow = 1.max((npix as f64 * 0.01) as usize);
    let mut slope = None;
    for _ in 0..MAX_ITERATIONS {
        if ngood >= last_ngood || ngood < minpix {
            break;
        }
        // Least squares over the good samples (np.polyfit with 0/1 weights).
        let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, (y, b)) in samples.iter().zip(&bad).enumerate() {
            if !b {
                let x = i as f64;
                n += 1.0;
                sx += x;
                sy += y;
                sxx += x * x;
                sxy += x * y;
            }
        }
        let fitted_slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
        let intercept = (sy - fitted_slope * sx) / n;
        slope = Some(fitted_slope);
        let flat: Vec<f64> = samples
            .iter()
            .enumerate()
            .map(|(i, y)| y - (intercept + fitted_slope * i as f64))
            .collect();
        let good: Vec<f64> = flat
            .iter()
            .zip(&bad)
            .filter(|(_, b)| !**b)
            .map(|(v, _)| *v)
            .collect();
        let mean = good.iter().sum::<f64>() / good.len() as f64;
        let std = (good.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / good.len() as f64).sqrt();
        let threshold = KREJ * std;
        for (b, v) in bad.iter_mut().zip(&flat) {
            if *v < -threshold || *v > threshold {
                *b = true;
            }
        }
        // np.convolve(bad, ones(ngrow), mode="same"): out[i] = any(bad[i + (ngrow-1)/2 - j]).
        let shift = (ngrow - 1) / 2;
        let dilated: Vec<bool> = (0..npix)
            .map(|i| {
                (0..ngrow).any(|j| {
                    (i + shift)
                        .checked_sub(j)
                        .and_then(|k| bad.get(k))
                        .copied()
                        .unwrap_or(false)
                })
            })
            .collect();
        bad = dilated;
        last_ngood = ngood;
        ngood = bad.iter().filter(|b| !**b).count();
    }
    if let Some(slope) = slope.filter(|_| ngood >= minpix) {
        let slope = slope / CONTRAST;
        let center = ((npix - 1) / 2) as f64;
        let median = if npix % 2 == 1 {
            samples[npix / 2]
        } else {
            (samples[npix / 2 - 1] + samples[npix / 2]) / 2.0
        };
        vmin = vmin.max(median - (center - 1.0) * slope);
        vmax = vmax.min(median + (npix as f64 - center) * slope);
    }
    (vmin, vmax)
}

/// The image as 8-bit grey levels, rows top to bottom (FITS row 1 at the bottom), `width`
/// × `height` of the output: nearest-neighbour when resized.
pub fn grey_levels(
    image: &Image,
    stretch: Stretch,
    out_width: usize,
    out_height: usize,
) -> Vec<u8> {
    let (vmin, vmax) = zscale(&image.pixels);
    let range = vmax - vmin;
    // Each source pixel's level once (a 37×37 cutout drawn at 256×256 would otherwise take
    // ~48 stretches per pixel), then nearest-neighbour copies.
    let levels: Vec<u8> = image
        .pixels
        .iter()
        .map(|v| {
            // `range` is NaN or not positive when every pixel is the same (or none is finite).
            if !v.is_finite() || range.is_nan() || range <= 0.0 {
                return 0;
            }
            let x = ((v - vmin) / range).clamp(0.0, 1.0);
            (stretch.apply(x) * 255.0).round() as u8
        })
        .collect();
    let columns: Vec<usize> = (0..out_width)
        .map(|column| column * image.width / out_width)
        .collect();
    let mut out = Vec::with_capacity(out_width * out_height);
    let mut previous_row = usize::MAX;
    for row in 0..out_height {
        let source_row = image.height - 1 - row * image.height / out_height;
        if source_row == previous_row {
            // The same source row as the line before: copy that line.
            out.extend_from_within(out.len() - out_width..);
            continue;
        }
        previous_row = source_row;
        let line = &levels[source_row * image.width..][..image.width];
        out.extend(columns.iter().map(|c| line[*c]));
    }
    out
}

/// The PNG's size for `size=` (the longer side; the other keeps the aspect ratio), or the
/// image's own size.
pub fn output_size(image: &Image, size: Option<u32>) -> (usize, usize) {
    let Some(size) = size else {
        return (image.width, image.height);
    };
    let size = size as usize;
    if image.width >= image.height {
        (size, (size * image.height / image.width).max(1))
    } else {
        ((size * image.width / image.height).max(1), size)
    }
}

/// An 8-bit greyscale PNG.
pub fn encode_png(grey: &[u8], width: usize, height: usize) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::with_capacity(grey.len() / 2 + 128);
    let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    // Cutouts are small and noisy: a fast deflate level compresses them nearly as well.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .map_err(|e| bad(format!("PNG header: {e}")))?;
    writer
        .write_image_data(grey)
        .map_err(|e| bad(format!("PNG data: {e}")))?;
    writer.finish().map_err(|e| bad(format!("PNG end: {e}")))?;
    Ok(out)
}

/// The cutout `fits` as a PNG.
pub fn render_png(fits: &[u8], stretch: Stretch, size: Option<u32>) -> Result<Vec<u8>, ImageError> {
    let image = read_image(fits)?;
    let (width, height) = output_size(&image, size);
    encode_png(&grey_levels(&image, stretch, width, height), width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FITS file of one image with extra header cards.
    fn fits(bitpix: i64, width: usize, height: usize, extra: &[String], data: &[u8]) -> Vec<u8> {
        let mut cards = vec![
            "SIMPLE  =                    T".to_owned(),
            format!("BITPIX  = {bitpix:>20}"),
            "NAXIS   =                    2".to_owned(),
            format!("NAXIS1  = {width:>20}"),
            format!("NAXIS2  = {height:>20}"),
        ];
        cards.extend(extra.iter().cloned());
        cards.push("END".to_owned());
        let mut out: Vec<u8> = cards
            .iter()
            .flat_map(|c| format!("{c:<80}").into_bytes())
            .collect();
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, b' ');
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    #[test]
    fn reads_scaled_integers_blanks_and_floats() {
        let data: Vec<u8> = [1i16, -2, 7, 3]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let file = fits(
            16,
            2,
            2,
            &[
                "BZERO   =                 10.0".into(),
                "BSCALE  =                  0.5 / half".into(),
                "BLANK   =                    7".into(),
            ],
            &data,
        );
        let image = read_image(&file).unwrap();
        assert_eq!((image.width, image.height), (2, 2));
        assert_eq!(image.pixels[..2], [10.5, 9.0]);
        assert!(image.pixels[2].is_nan());
        assert_eq!(image.pixels[3], 11.5);
        assert_eq!(image.cd, None);
        let floats: Vec<u8> = [1.5f32, f32::NAN]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let image = read_image(&fits(-32, 2, 1, &[], &floats)).unwrap();
        assert_eq!(image.pixels[0], 1.5);
        assert!(image.pixels[1].is_nan());
    }

    #[test]
    fn finds_the_image_in_an_extension_and_its_wcs() {
        // A primary HDU without data, as afw writes it.
        let mut file = fits(8, 0, 0, &[], &[]);
        let mut extension = fits(
            -64,
            1,
            1,
            &[
                "CTYPE1  = 'RA---TAN'".into(),
                "CTYPE2  = 'DEC--TAN'".into(),
                "CD1_1   =         -5.5555E-05".into(),
                "CD2_2   =          5.5555D-05".into(),
            ],
            &2.0f64.to_be_bytes(),
        );
        extension[..80].copy_from_slice(format!("{:<80}", "XTENSION= 'IMAGE   '").as_bytes());
        file.extend(extension);
        let image = read_image(&file).unwrap();
        assert_eq!(image.pixels, [2.0]);
        let scale = image.arcsec_per_pixel().unwrap();
        assert!((scale - 0.199998).abs() < 1e-6, "{scale}");
        // RA grows to the left (CD1_1 < 0), Dec upwards: north is up (-y on screen), east left.
        let (north, east) = image.north_east().unwrap();
        assert!(
            (north[0]).abs() < 1e-12 && (north[1] + 1.0).abs() < 1e-12,
            "{north:?}"
        );
        assert!(
            (east[0] + 1.0).abs() < 1e-12 && east[1].abs() < 1e-12,
            "{east:?}"
        );
    }

    #[test]
    fn refuses_what_is_not_an_image() {
        for bad_file in [
            b"not fits".to_vec(),
            fits(12, 2, 2, &[], &[0; 16]),
            fits(8, 0, 0, &[], &[]),
            fits(-32, 100, 100, &[], &[0; 16])[..2880 * 2].to_vec(),
            b"SIMPLE  =                    T".to_vec(),
        ] {
            assert!(read_image(&bad_file).is_err());
        }
    }

    #[test]
    fn zscale_of_a_ramp_is_its_range_and_outliers_are_rejected() {
        let ramp: Vec<f64> = (0..100).map(f64::from).collect();
        let (lo, hi) = zscale(&ramp);
        assert_eq!((lo, hi), (0.0, 99.0));
        // Flat noise with one very bright pixel: the interval ignores the bright pixel.
        let mut noise: Vec<f64> = (0..400).map(|i| 100.0 + ((i * 37) % 17) as f64).collect();
        noise[5] = 1e6;
        let (lo, hi) = zscale(&noise);
        assert!(lo >= 100.0 && hi < 1000.0, "{lo} {hi}");
    }

    #[test]
    fn renders_bottom_row_last_and_resizes_by_nearest_neighbour() {
        // 2×2: bottom row dark, top row bright.
        let data: Vec<u8> = [0.0f32, 0.0, 100.0, 100.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let image = read_image(&fits(-32, 2, 2, &[], &data)).unwrap();
        assert_eq!(grey_levels(&image, Stretch::Linear, 2, 2), [255, 255, 0, 0]);
        assert_eq!(output_size(&image, Some(4)), (4, 4));
        assert_eq!(
            grey_levels(&image, Stretch::Linear, 4, 4),
            [[255; 4], [255; 4], [0; 4], [0; 4]].concat()
        );
        let png = render_png(&fits(-32, 2, 2, &[], &data), Stretch::Asinh, Some(16)).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (16, 16));
    }
}
