//! The light curve as inline SVG: PSF flux of the difference image against time, one colour
//! per band, error bars, detections filled, forced photometry hollow, the alert's own source
//! ringed.
//!
//! Every point is a `<g class="pt">` carrying `data-band`, `data-kind`, `data-mjd` and
//! `data-flux`, with a `<title>` a screen reader or a hover reads; the page also gives the
//! same numbers as a table. Colours have at least 3:1 contrast on white (WCAG 1.4.11) and
//! are never the only cue: the legend names each band and the tooltips say it.

use super::model::{Point, PointKind};
use super::render::Escaped;
use std::fmt::Write as _;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 52.0;

/// The LSST bands in wavelength order, with their colours.
pub const BANDS: [(&str, &str); 6] = [
    ("u", "#5b2fc9"),
    ("g", "#1a7f37"),
    ("r", "#c0362c"),
    ("i", "#8a5a00"),
    ("z", "#0b6e99"),
    ("y", "#5c5c5c"),
];
/// The colour of a band this list does not know.
const OTHER: &str = "#222222";

pub fn colour(band: &str) -> &'static str {
    BANDS
        .iter()
        .find(|(b, _)| *b == band)
        .map_or(OTHER, |(_, c)| c)
}

/// The order bands are drawn and listed in: u..y, then others by name.
pub fn band_order(points: &[Point]) -> Vec<String> {
    let mut bands: Vec<String> = points.iter().map(|p| p.band.clone()).collect();
    bands.sort_by_key(|b| {
        (
            BANDS
                .iter()
                .position(|(k, _)| k == b)
                .unwrap_or(BANDS.len()),
            b.clone(),
        )
    });
    bands.dedup();
    bands
}

/// A "nice" tick step (1, 2 or 5 × 10^k) for about `count` ticks over `range`.
fn tick_step(range: f64, count: f64) -> f64 {
    let raw = range / count;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction < 1.5 {
        1.0
    } else if fraction < 3.5 {
        2.0
    } else if fraction < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

fn ticks(lo: f64, hi: f64, count: f64) -> (Vec<f64>, usize) {
    let step = tick_step(hi - lo, count);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    ((first..=last).map(|k| k as f64 * step).collect(), decimals)
}

/// Data limits with a margin; a single value gets a range around it.
fn limits(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        lo -= 1.0;
        hi += 1.0;
    }
    let margin = (hi - lo) * pad;
    (lo - margin, hi + margin)
}

/// The SVG of `points`; `label` names what it is the light curve of (for its title).
pub fn svg(points: &[Point], label: &str) -> String {
    let mut out = String::with_capacity(600 + points.len() * 360);
    let _ = write!(
        out,
        "<svg id=\"lightcurve\" class=\"lightcurve\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
aria-labelledby=\"lc-title lc-desc\" xmlns=\"http://www.w3.org/2000/svg\">\
<title id=\"lc-title\">Light curve of {}</title>\
<desc id=\"lc-desc\">PSF flux of the difference image in nJy against MJD (TAI), {} points; \
filled circles are detections, hollow ones forced photometry, the ringed one this alert's source. \
The same values are in the table below.</desc>",
        Escaped(label),
        points.len()
    );
    if points.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"axis-label\">no measurements to plot</text></svg>",
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return out;
    }
    let (x0, x1) = limits(points.iter().map(|p| p.mjd), 0.04);
    let (y0, y1) = limits(
        points.iter().flat_map(|p| {
            let e = p.err.unwrap_or(0.0);
            [p.flux - e, p.flux + e]
        }),
        0.08,
    );
    let px = |mjd: f64| LEFT + (mjd - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT);
    let py = |flux: f64| TOP + (y1 - flux) / (y1 - y0) * (HEIGHT - TOP - BOTTOM);
    // Frame, grid and ticks.
    let _ = write!(
        out,
        "<rect class=\"frame\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\"/>",
        WIDTH - LEFT - RIGHT,
        HEIGHT - TOP - BOTTOM
    );
    let (xticks, xdec) = ticks(x0, x1, 6.0);
    for t in xticks {
        let x = px(t);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{t:.xdec$}</text>",
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 16.0
        );
    }
    let (yticks, ydec) = ticks(y0, y1, 5.0);
    for t in yticks {
        let y = py(t);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{t:.ydec$}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
    }
    if y0 < 0.0 && y1 > 0.0 {
        let y = py(0.0);
        let _ = write!(
            out,
            "<line class=\"zero\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>",
            WIDTH - RIGHT
        );
    }
    let _ = write!(
        out,
        "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">MJD (TAI)</text>\
<text class=\"axis-label\" transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">PSF flux, difference image (nJy)</text>",
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        HEIGHT - 10.0,
        TOP + (HEIGHT - TOP - BOTTOM) / 2.0
    );
    // Points, band by band; the alert's own source last so that it is on top.
    let order = band_order(points);
    let mut drawn: Vec<&Point> = points.iter().collect();
    drawn.sort_by_key(|p| {
        (
            p.kind == PointKind::Current,
            order.iter().position(|b| *b == p.band),
        )
    });
    for p in drawn {
        let (x, y) = (px(p.mjd), py(p.flux));
        let c = colour(&p.band);
        let err = p.err.map_or(String::new(), |e| format!(" ± {e}"));
        let _ = write!(
            out,
            "<g class=\"pt {}\" data-band=\"{}\" data-kind=\"{}\" data-mjd=\"{}\" data-flux=\"{}\">\
<title>{} band, {}, MJD {}: {}{} nJy</title>",
            p.kind.name(),
            Escaped(&p.band),
            p.kind.name(),
            p.mjd,
            p.flux,
            Escaped(&p.band),
            match p.kind {
                PointKind::Current => "this alert's source",
                PointKind::Detection => "detection",
                PointKind::Forced => "forced photometry",
            },
            p.mjd,
            p.flux,
            err
        );
        if let Some(e) = p.err {
            let _ = write!(
                out,
                "<line class=\"err\" stroke=\"{c}\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>",
                py(p.flux + e),
                py(p.flux - e)
            );
        }
        let (fill, r) = match p.kind {
            PointKind::Forced => ("#ffffff", 3.5),
            _ => (c, 4.0),
        };
        let _ = write!(
            out,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"{fill}\" stroke=\"{c}\" stroke-width=\"1.5\"/>"
        );
        if p.kind == PointKind::Current {
            let _ = write!(
                out,
                "<circle class=\"ring\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"9\" fill=\"none\" stroke=\"#000000\" stroke-width=\"2\"/>"
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(band: &str, kind: PointKind, mjd: f64, flux: f64) -> Point {
        Point {
            mjd,
            flux,
            err: Some(1.0),
            band: band.into(),
            kind,
            id: None,
        }
    }

    #[test]
    fn one_group_per_point_with_its_band_and_kind() {
        let points = [
            point("g", PointKind::Detection, 60000.0, 10.0),
            point("g", PointKind::Forced, 60001.0, -3.0),
            point("r", PointKind::Current, 60002.0, 12.5),
            point("<b>", PointKind::Detection, 60003.0, 1.0),
        ];
        let svg = svg(&points, "alert <1>");
        assert_eq!(svg.matches("<g class=\"pt ").count(), 4);
        assert_eq!(svg.matches("data-band=\"g\"").count(), 2);
        assert_eq!(svg.matches("data-kind=\"current\"").count(), 1);
        assert!(svg.contains("class=\"ring\""));
        assert!(svg.contains("data-band=\"&lt;b&gt;\""));
        assert!(svg.contains("alert &lt;1&gt;"));
        assert!(!svg.contains("<b>") && !svg.contains("<1>"));
        assert!(
            svg.contains("class=\"zero\""),
            "the zero line: fluxes on both sides"
        );
    }

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        let (t, decimals) = ticks(60000.3, 60011.7, 6.0);
        assert_eq!(t, [60002.0, 60004.0, 60006.0, 60008.0, 60010.0]);
        assert_eq!(decimals, 0);
        let (t, decimals) = ticks(-0.013, 0.042, 5.0);
        assert_eq!(decimals, 2);
        assert_eq!(t.len(), 6);
        assert!(svg(&[], "nothing").contains("no measurements"));
    }
}
