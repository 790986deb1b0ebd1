//! HEALPix (nested scheme) for the index's `healpix29` column and cone queries.
//!
//! The column holds the order-29 nested index (cells of ~0.4 milliarcseconds), as an `i64`
//! (the largest order-29 index is 12·4²⁹ − 1 < 2⁶³). The nested scheme keeps every cell's
//! children contiguous, so the index at any coarser order `k` is `healpix29 >> (2·(29 − k))`
//! and a cell at order `k` is one contiguous range of order-29 indices: sorting by
//! `healpix29` clusters the sky, and a cone is a short list of ranges that Parquet min/max
//! statistics can test.

use std::ops::Range;

/// The deepest HEALPix order, whose nested index is stored.
pub const ORDER: u8 = 29;

/// The order-29 nested HEALPix index of a position in degrees.
pub fn healpix29(ra_deg: f64, dec_deg: f64) -> i64 {
    cdshealpix::nested::hash(ORDER, ra_deg.to_radians(), dec_deg.to_radians()) as i64
}

/// The index at order `k` (≤ 29) of an order-29 index.
pub fn at_order(healpix29: i64, order: u8) -> i64 {
    healpix29 >> (2 * u32::from(ORDER - order.min(ORDER)))
}

/// Order-29 index ranges (half-open) covering a cone: a superset, to be refined by the exact
/// distance. The coverage is computed at an order whose cells are a little smaller than the
/// radius, so a small cone is a handful of ranges.
pub fn cone_ranges(ra_deg: f64, dec_deg: f64, radius_deg: f64) -> Vec<Range<i64>> {
    let radius = radius_deg.to_radians();
    let order = (cdshealpix::best_starting_depth(radius) + 2).min(ORDER);
    let bmoc = cdshealpix::nested::cone_coverage_approx(
        order,
        ra_deg.to_radians(),
        dec_deg.to_radians(),
        radius,
    );
    let shift = 2 * u32::from(ORDER - order);
    let mut ranges: Vec<Range<i64>> = bmoc
        .to_ranges()
        .iter()
        .map(|r| ((r.start << shift) as i64)..((r.end << shift) as i64))
        .collect();
    ranges.sort_by_key(|r| r.start);
    ranges
}

/// Great-circle distance between two positions, degrees (haversine: accurate for the
/// arcsecond-to-arcminute radii the index is asked about).
pub fn distance_deg(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (d1, d2) = (dec1.to_radians(), dec2.to_radians());
    let dd = d2 - d1;
    let dr = (ra2 - ra1).to_radians();
    let a = (dd / 2.0).sin().powi(2) + d1.cos() * d2.cos() * (dr / 2.0).sin().powi(2);
    (2.0 * a.sqrt().min(1.0).asin()).to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarser_orders_are_shifts() {
        let h = healpix29(150.1, -30.2);
        let h10 = cdshealpix::nested::hash(10, 150.1f64.to_radians(), (-30.2f64).to_radians());
        assert_eq!(at_order(h, 10), h10 as i64);
        assert!((0..12 * (1i64 << 58)).contains(&h));
    }

    #[test]
    fn a_cone_covers_its_points() {
        let (ra, dec, r) = (10.0, 45.0, 1.0 / 60.0);
        let ranges = cone_ranges(ra, dec, r);
        assert!(!ranges.is_empty() && ranges.len() < 64, "{}", ranges.len());
        for k in 0..200 {
            let a = k as f64 * 0.1;
            let (pra, pdec) = (
                ra + 0.9 * r * a.cos() / dec.to_radians().cos(),
                dec + 0.9 * r * a.sin(),
            );
            assert!(distance_deg(ra, dec, pra, pdec) <= r);
            let h = healpix29(pra, pdec);
            assert!(ranges.iter().any(|x| x.contains(&h)), "point {k} outside");
        }
        assert!((distance_deg(0.0, 0.0, 1.0, 0.0) - 1.0).abs() < 1e-12);
        assert!((distance_deg(359.9, 0.0, 0.1, 0.0) - 0.2).abs() < 1e-9);
    }
}
