//! FITS column units (`TUNITn`) of alert fields, by field name.
//!
//! The units are the Rubin APDB's (sdm_schemas `apdb.yaml`, `fits:tunit`), for the same field
//! names Herald gives units to, so a FITS table from us and one from Herald carry the same
//! `TUNITn`s. A name means the same quantity in every record that has it (`ra` is degrees in
//! `diaSource`, `diaObject` and `ssSource` alike), so one flat table serves every HDU. Names
//! not listed get no unit.

/// Per-band statistics (`g_psfFluxMean`, ...): the band letter, `_`, then one of these.
const PER_BAND: [(&str, &str); 11] = [
    ("fpFluxMean", "nJy"),
    ("fpFluxMeanErr", "nJy"),
    ("psfFluxErrMean", "nJy"),
    ("psfFluxMax", "nJy"),
    ("psfFluxMaxSlope", "nJy/d"),
    ("psfFluxMean", "nJy"),
    ("psfFluxMeanErr", "nJy"),
    ("psfFluxMin", "nJy"),
    ("psfFluxSigma", "nJy"),
    ("scienceFluxMean", "nJy"),
    ("scienceFluxMeanErr", "nJy"),
];

const BANDS: &str = "ugrizy";

/// Every other field with a unit, grouped by unit.
const BY_UNIT: [(&str, &[&str]); 14] = [
    (
        "deg",
        &[
            "argperi",
            "argperi_unc",
            "dec",
            "decErr",
            "dipoleAngle",
            "eclBeta",
            "eclLambda",
            "elongation",
            "ephDec",
            "ephRa",
            "galLat",
            "galLon",
            "i",
            "i_unc",
            "mean_anomaly",
            "mean_anomaly_unc",
            "node",
            "node_unc",
            "phaseAngle",
            "ra",
            "raErr",
            "trailAngle",
            "trailAngleErr",
            "trailDec",
            "trailDecErr",
            "trailRa",
            "trailRaErr",
        ],
    ),
    (
        "nJy",
        &[
            "apFlux",
            "apFluxErr",
            "dipoleFluxDiff",
            "dipoleFluxDiffErr",
            "dipoleMeanFlux",
            "dipoleMeanFluxErr",
            "psfFlux",
            "psfFluxErr",
            "scienceFlux",
            "scienceFluxErr",
            "templateFlux",
            "templateFluxErr",
            "trailFlux",
            "trailFluxErr",
        ],
    ),
    (
        "d",
        &[
            "arc_length_sel",
            "arc_length_total",
            "epoch_mjd",
            "firstDiaSourceMjdTai",
            "lastDiaSourceMjdTai",
            "midpointMjdTai",
            "peri_time",
            "peri_time_unc",
            "period",
            "period_unc",
            "timeProcessedMjdTai",
            "timeWithdrawnMjdTai",
            "validityStartMjdTai",
        ],
    ),
    (
        "AU",
        &[
            "a",
            "a_unc",
            "earth_moid",
            "helioRange",
            "helio_x",
            "helio_y",
            "helio_z",
            "q",
            "q_unc",
            "topoRange",
            "topo_x",
            "topo_y",
            "topo_z",
        ],
    ),
    (
        "km/s",
        &[
            "helioRangeRate",
            "helio_vtot",
            "helio_vx",
            "helio_vy",
            "helio_vz",
            "topoRangeRate",
            "topo_vtot",
            "topo_vx",
            "topo_vy",
            "topo_vz",
        ],
    ),
    (
        "arcsec",
        &[
            "dipoleLength",
            "ephOffset",
            "ephOffsetAlongTrack",
            "ephOffsetCrossTrack",
            "ephOffsetDec",
            "ephOffsetRa",
            "not_normalized_rms",
            "trailLength",
            "trailLengthErr",
        ],
    ),
    (
        "m2.t-1",
        &[
            "a1", "a1_unc", "a2", "a2_unc", "a3", "a3_unc", "srp", "srp_unc",
        ],
    ),
    ("pixel", &["bboxSize", "x", "xErr", "y", "yErr"]),
    (
        "arcsec2",
        &["ixx", "ixxPSF", "ixy", "ixyPSF", "iyy", "iyyPSF"],
    ),
    ("deg/d", &["ephRate", "ephRateDec", "ephRateRa"]),
    ("mag", &["ephVmag", "h"]),
    ("deg.d-1", &["mean_motion", "mean_motion_unc"]),
    ("deg**2", &["ra_dec_Cov"]),
    ("1e-10.au.d-2", &["yarkovsky", "yarkovsky_unc"]),
];

/// The unit of the column named `name`, if it has one.
pub fn unit_of(name: &str) -> Option<&'static str> {
    for (unit, names) in BY_UNIT {
        if names.contains(&name) {
            return Some(unit);
        }
    }
    let (band, rest) = name.split_at_checked(1)?;
    let statistic = rest.strip_prefix('_')?;
    if !BANDS.contains(band) {
        return None;
    }
    PER_BAND
        .iter()
        .find(|(suffix, _)| *suffix == statistic)
        .map(|(_, unit)| *unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_by_name() {
        assert_eq!(unit_of("ra"), Some("deg"));
        assert_eq!(unit_of("midpointMjdTai"), Some("d"));
        assert_eq!(unit_of("psfFlux"), Some("nJy"));
        assert_eq!(unit_of("r_psfFluxMaxSlope"), Some("nJy/d"));
        assert_eq!(unit_of("y_scienceFluxMeanErr"), Some("nJy"));
        assert_eq!(unit_of("i_unc"), Some("deg"));
        assert_eq!(unit_of("ixxPSF"), Some("arcsec2"));
        assert_eq!(unit_of("yarkovsky"), Some("1e-10.au.d-2"));
        for none in [
            "",
            "diaSourceId",
            "decl",
            "x_psfFluxMean",
            "g_",
            "g_psfFlux",
            "é",
        ] {
            assert_eq!(unit_of(none), None, "{none}");
        }
    }

    #[test]
    fn the_table_has_herald_s_181_names_once_each() {
        let mut names: Vec<String> = BY_UNIT
            .iter()
            .flat_map(|(_, names)| names.iter().map(|n| n.to_string()))
            .collect();
        for band in BANDS.chars() {
            for (suffix, _) in PER_BAND {
                names.push(format!("{band}_{suffix}"));
            }
        }
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "a name is listed twice");
        assert_eq!(count, 181);
    }
}
