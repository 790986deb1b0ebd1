//! HTML of the pages, written directly into a string.
//!
//! Every text that comes from an alert goes through [`Escaped`], in element content and in
//! attribute values alike (`&`, `<`, `>`, `"` and `'` all replaced), so a string field
//! holding markup shows as text. Numbers are written by the formatter and need none. The
//! pages carry no script at all and their one stylesheet is inline, so nothing is loaded
//! from elsewhere (the responses also carry a Content-Security-Policy saying so).

use super::image::Image;
use super::lightcurve;
use super::model::{base_type, light_curve, AlertView, Point, Rec, DEC, FLUX};
use crate::herald::units::unit_of;
use alert_packet::schema::Node;
use alert_packet::value::Value;
use std::fmt::{self, Write as _};

/// Text made safe for HTML content and attribute values.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// TAI − UTC since 2017-01-01 (no leap second has been announced since).
const TAI_MINUS_UTC: f64 = 37.0;

/// MJD (TAI) as UTC, ISO 8601 to the millisecond.
pub fn utc_of_mjd_tai(mjd: f64) -> String {
    if !mjd.is_finite() || !(0.0..1e7).contains(&mjd) {
        return "—".into();
    }
    let millis = ((mjd - 40587.0) * 86_400_000.0 - TAI_MINUS_UTC * 1000.0).round() as i64;
    let days = millis.div_euclid(86_400_000);
    let ms = millis.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Right ascension in degrees as `HHhMMmSS.SSSs`.
pub fn ra_hms(ra: f64) -> String {
    if !ra.is_finite() {
        return "—".into();
    }
    // In thousandths of a second of time, rounded once so that 59.9996 s carries.
    let total = (ra.rem_euclid(360.0) / 15.0 * 3_600_000.0).round() as i64 % (24 * 3_600_000);
    format!(
        "{:02}h{:02}m{:02}.{:03}s",
        total / 3_600_000,
        total / 60_000 % 60,
        total / 1000 % 60,
        total % 1000
    )
}

/// Declination in degrees as `±DD°MM′SS.SS″`.
pub fn dec_dms(dec: f64) -> String {
    if !dec.is_finite() {
        return "—".into();
    }
    let sign = if dec < 0.0 { '−' } else { '+' };
    let total = (dec.abs() * 360_000.0).round() as i64;
    format!(
        "{sign}{:02}°{:02}′{:02}.{:02}″",
        total / 360_000,
        total / 6000 % 60,
        total / 100 % 60,
        total % 100
    )
}

/// A value for a table cell (shortest text that reads back as the same number).
fn value_text(rec: &Rec<'_>, index: usize, value: &Value) -> String {
    match super::model::plain(value) {
        Value::Null => String::new(),
        Value::Boolean(b) => b.to_string(),
        Value::Int(v) => v.to_string(),
        Value::Long(v) => v.to_string(),
        Value::Float(v) => zmij::Buffer::new().format(*v).to_owned(),
        Value::Double(v) => zmij::Buffer::new().format(*v).to_owned(),
        Value::String(s) => s.clone(),
        Value::Bytes(b) | Value::Fixed(b) => format!("({} bytes)", b.len()),
        Value::Enum(i) => {
            let node = base_type(rec.schema, rec.record.fields[index].schema);
            match rec.schema.node(node) {
                Node::Enum(e) => e.symbols.get(*i as usize).cloned().unwrap_or_default(),
                _ => i.to_string(),
            }
        }
        Value::Array(items) => format!("({} items)", items.len()),
        Value::Map(items) => format!("({} entries)", items.len()),
        Value::Record(_) | Value::Union(..) => "(record)".into(),
    }
}

/// A table of every field of a record: name, value, unit.
fn fields_table(out: &mut String, id: &str, caption: &str, rec: &Rec<'_>) {
    let _ = write!(
        out,
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"{id}-caption\">\
<table id=\"{id}\" class=\"fields\"><caption id=\"{id}-caption\">{}</caption>\
<thead><tr><th scope=\"col\">Field</th><th scope=\"col\">Value</th><th scope=\"col\">Unit</th></tr></thead><tbody>",
        Escaped(caption)
    );
    for (index, (field, value)) in rec.record.fields.iter().zip(rec.values).enumerate() {
        let plain = super::model::plain(value);
        let (class, text) = if matches!(plain, Value::Null) {
            (" class=\"null\"", "null".to_owned())
        } else {
            ("", value_text(rec, index, value))
        };
        let unit = unit_of(&field.name).unwrap_or("");
        let _ = write!(
            out,
            "<tr data-field=\"{}\"><th scope=\"row\">{}</th><td{class}>{}</td><td>{}</td></tr>",
            Escaped(&field.name),
            Escaped(&field.name),
            Escaped(&text),
            unit
        );
    }
    out.push_str("</tbody></table></div>");
}

/// The stylesheet of every page: readable on a phone (one column, tables scroll sideways),
/// dark text on white (contrast above 7:1), visible focus.
const STYLE: &str = "\
:root{--fg:#1b1b1b;--muted:#4a4a4a;--line:#c8c8c8;--link:#0645ad;--bg:#ffffff;--band:#f3f4f6}\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}\
main{max-width:72rem;margin:0 auto;padding:1rem}\
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:1}\
a{color:var(--link)}a:focus,[tabindex]:focus{outline:3px solid #1b1b1b;outline-offset:2px}\
h1{font-size:1.6rem;margin:.2rem 0;overflow-wrap:anywhere}h2{font-size:1.25rem;margin:1.6rem 0 .6rem;border-bottom:1px solid var(--line)}\
.sub{color:var(--muted);margin:0 0 1rem}\
dl.identity{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}\
dl.identity dt{font-weight:600}dl.identity dd{margin:0;overflow-wrap:anywhere}\
.cutouts{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1rem}\
figure{margin:0;padding:.5rem;background:var(--band);border-radius:.4rem}\
figure img{display:block;width:100%;height:auto;image-rendering:pixelated;background:#000}\
figcaption{font-size:.9rem;color:var(--muted);display:flex;gap:.5rem;align-items:center;justify-content:space-between}\
figcaption strong{color:var(--fg)}svg.compass{width:3.2rem;height:3.2rem;flex:none}\
svg.lightcurve{width:100%;height:auto;max-height:26rem;background:#fff}\
svg .frame{fill:none;stroke:#6b6b6b}svg .grid{stroke:#e3e3e3}svg .zero{stroke:#6b6b6b;stroke-dasharray:4 3}\
svg .tick{font-size:12px;fill:#333}svg .axis-label{font-size:13px;fill:#1b1b1b}svg .err{stroke-width:1.2}\
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;margin:.4rem 0}\
ul.legend svg{width:1rem;height:1rem;vertical-align:-.15rem}\
.scroll{overflow-x:auto;max-width:100%}\
table{border-collapse:collapse;font-size:.92rem;margin:.4rem 0}caption{text-align:left;font-weight:600;padding:.2rem 0}\
th,td{border-bottom:1px solid var(--line);padding:.25rem .6rem;text-align:left;vertical-align:top}\
td{font-variant-numeric:tabular-nums;overflow-wrap:anywhere}td.null{color:var(--muted);font-style:italic}\
ul.downloads{padding-left:1.2rem}ul.downloads li{margin:.2rem 0}\
.notice{border-left:4px solid #8a5a00;background:#fff8e6;padding:.8rem 1rem}\
footer{color:var(--muted);font-size:.85rem;margin-top:2rem}\
@media (max-width:40rem){main{padding:.6rem}dl.identity{grid-template-columns:1fr}dl.identity dd{margin-bottom:.4rem}}";

/// The start of a page, up to the opening of `<main>`.
fn head(out: &mut String, title: &str, base: Option<&str>) {
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    );
    if let Some(base) = base {
        let _ = write!(out, "<base href=\"{}\">", Escaped(base));
    }
    let _ = write!(
        out,
        "<title>{}</title><style>{STYLE}</style></head><body>\
<a class=\"skip\" href=\"#content\">Skip to content</a><main id=\"content\">",
        Escaped(title)
    );
}

fn foot(out: &mut String) {
    let _ = write!(
        out,
        "<footer>Rubin Observatory alert archive · alertdb-server {} · times are TAI \
(UTC = TAI − 37 s) · fluxes are the PSF flux of the difference image</footer></main></body></html>",
        env!("CARGO_PKG_VERSION")
    );
}

/// A cutout as the page shows it: which one, and what its FITS header says, if it reads.
#[derive(Debug, Clone)]
pub struct CutoutInfo {
    /// Route name: `difference`, `science`, `template`.
    pub kind: &'static str,
    /// What the page calls it.
    pub title: &'static str,
    /// `Ok` with the image's header facts, `Err` with why it is missing or unreadable.
    pub image: Result<CutoutFacts, String>,
}

/// What a cutout's header says: size, scale, orientation.
#[derive(Debug, Clone, PartialEq)]
pub struct CutoutFacts {
    pub width: usize,
    pub height: usize,
    pub arcsec_per_pixel: Option<f64>,
    /// North and east on the rendered PNG (x right, y down), when the cutout has a WCS.
    pub north_east: Option<([f64; 2], [f64; 2])>,
}

impl CutoutFacts {
    pub fn of(image: &Image) -> Self {
        CutoutFacts {
            width: image.width,
            height: image.height,
            arcsec_per_pixel: image.arcsec_per_pixel(),
            north_east: image.north_east(),
        }
    }
}

/// Display width of a cutout PNG on the page: `size=` makes it this many pixels.
pub const CUTOUT_DISPLAY: u32 = 256;

/// An arrow of the compass from the centre of a 48-unit box.
fn arrow(out: &mut String, [dx, dy]: [f64; 2], label: &str) {
    let (x, y) = (24.0 + dx * 15.0, 24.0 + dy * 15.0);
    let (tx, ty) = (24.0 + dx * 21.0, 24.0 + dy * 21.0 + 4.0);
    let _ = write!(
        out,
        "<line x1=\"24\" y1=\"24\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"#1b1b1b\" stroke-width=\"2\"/>\
<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2\" fill=\"#1b1b1b\"/>\
<text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#1b1b1b\">{label}</text>"
    );
}

fn cutout_figure(out: &mut String, cutout: &CutoutInfo, prefix: &str, alert_id: u64) {
    out.push_str("<figure>");
    match &cutout.image {
        Ok(facts) => {
            let (w, h) = if facts.width >= facts.height {
                (
                    CUTOUT_DISPLAY,
                    (CUTOUT_DISPLAY as usize * facts.height / facts.width).max(1) as u32,
                )
            } else {
                (
                    (CUTOUT_DISPLAY as usize * facts.width / facts.height).max(1) as u32,
                    CUTOUT_DISPLAY,
                )
            };
            let scale = facts.arcsec_per_pixel.map_or(String::new(), |s| {
                format!(
                    ", {:.1}″ × {:.1}″ ({s:.3}″/pixel)",
                    s * facts.width as f64,
                    s * facts.height as f64
                )
            });
            let orientation = if facts.north_east.is_some() {
                "north and east as the compass shows"
            } else {
                "no sky orientation in its header: pixel axes shown, x right, y up"
            };
            let _ = write!(
                out,
                "<img id=\"cutout-{kind}\" src=\"{prefix}cutouts/{kind}.png?size={CUTOUT_DISPLAY}\" width=\"{w}\" height=\"{h}\" \
alt=\"{title} cutout of alert {alert_id}: {}×{} pixels{scale}, zscale interval, asinh stretch; {orientation}\">\
<figcaption><span><strong>{title}</strong><br>{}×{} px{scale}<br>zscale, asinh</span>",
                facts.width,
                facts.height,
                facts.width,
                facts.height,
                kind = cutout.kind,
                title = cutout.title,
            );
            // The compass: north and east, or the pixel axes.
            let _ = write!(
                out,
                "<svg class=\"compass\" viewBox=\"0 0 48 48\" role=\"img\" aria-label=\"{}\">",
                if facts.north_east.is_some() {
                    "orientation: north and east arrows"
                } else {
                    "orientation: pixel x to the right, y up"
                }
            );
            match facts.north_east {
                Some((north, east)) => {
                    arrow(out, north, "N");
                    arrow(out, east, "E");
                }
                None => {
                    arrow(out, [1.0, 0.0], "x");
                    arrow(out, [0.0, -1.0], "y");
                }
            }
            out.push_str("</svg></figcaption>");
        }
        Err(why) => {
            let _ = write!(
                out,
                "<p class=\"notice\" id=\"cutout-{}\"><strong>{}</strong>: {}</p>",
                cutout.kind,
                cutout.title,
                Escaped(why)
            );
        }
    }
    out.push_str("</figure>");
}

fn legend(out: &mut String, points: &[Point], skipped: usize) {
    out.push_str("<ul class=\"legend\" aria-label=\"Bands\">");
    for band in lightcurve::band_order(points) {
        let count = points.iter().filter(|p| p.band == band).count();
        let _ = write!(
            out,
            "<li><svg viewBox=\"0 0 10 10\" aria-hidden=\"true\"><circle cx=\"5\" cy=\"5\" r=\"4\" fill=\"{}\"/></svg> \
{} band: {count} point{}</li>",
            lightcurve::colour(&band),
            Escaped(&band),
            if count == 1 { "" } else { "s" }
        );
    }
    out.push_str("<li>● detection · ○ forced photometry · ◎ this alert</li></ul>");
    if skipped > 0 {
        let _ = write!(
            out,
            "<p class=\"sub\">{skipped} row{} without a time, flux or band cannot be plotted.</p>",
            if skipped == 1 { "" } else { "s" }
        );
    }
}

fn points_table(out: &mut String, points: &[Point]) {
    let _ = write!(
        out,
        "<details><summary>Light-curve data ({} points)</summary><div class=\"scroll\">\
<table id=\"lightcurve-data\"><thead><tr><th scope=\"col\">MJD (TAI)</th><th scope=\"col\">Band</th>\
<th scope=\"col\">PSF flux (nJy)</th><th scope=\"col\">Error (nJy)</th><th scope=\"col\">Kind</th></tr></thead><tbody>",
        points.len()
    );
    let mut sorted: Vec<&Point> = points.iter().collect();
    sorted.sort_by(|a, b| a.mjd.total_cmp(&b.mjd));
    for p in sorted {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.mjd,
            Escaped(&p.band),
            p.flux,
            p.err.map_or(String::new(), |e| e.to_string()),
            p.kind.name()
        );
    }
    out.push_str("</tbody></table></div></details>");
}

fn identity_row(out: &mut String, key: &str, label: &str, value: &str) {
    let _ = write!(
        out,
        "<dt>{label}</dt><dd data-key=\"{key}\">{}</dd>",
        Escaped(value)
    );
}

/// Where the other routes are, from the page's base URL (`/v1/alerts/{id}/`).
#[derive(Debug, Clone)]
pub struct Links {
    /// The Herald-compatible API's prefix (`/api/alerts`), if it is served.
    pub herald_prefix: Option<String>,
    /// Whether object pages can list the object's alerts (the index is enabled).
    pub objects: bool,
}

/// The alert page. `base`: the `<base href>` when the page is not served at
/// `/v1/alerts/{id}/view` (relative links are written for that place).
pub fn alert_page(
    alert: &AlertView<'_>,
    cutouts: &[CutoutInfo],
    links: &Links,
    base: Option<&str>,
) -> String {
    let id = alert.alert_id;
    let mut out = String::with_capacity(64 * 1024);
    let source_id = alert.dia_source_id();
    let iau = source_id.map(|s| format!("{}{s}", crate::herald::params::IAU_ALERT_PREFIX));
    head(
        &mut out,
        &format!(
            "Alert {id}{}",
            iau.as_deref().map_or(String::new(), |i| format!(" ({i})"))
        ),
        base,
    );
    let _ = write!(
        out,
        "<h1>Alert <span data-key=\"alertId\">{id}</span></h1><p class=\"sub\">{} · schema {} (<code>{}</code>)</p>",
        Escaped(iau.as_deref().unwrap_or("no diaSource")),
        alert.schema_id,
        Escaped(alert.schema_name)
    );

    out.push_str("<section aria-labelledby=\"h-identity\"><h2 id=\"h-identity\">Identity</h2><dl class=\"identity\">");
    identity_row(&mut out, "alertId", "Alert id", &id.to_string());
    if let Some(iau) = &iau {
        identity_row(&mut out, "iau", "IAU name", iau);
    }
    identity_row(
        &mut out,
        "diaSourceId",
        "diaSourceId",
        &source_id.map_or("—".into(), |s| s.to_string()),
    );
    match alert.dia_object_id() {
        Some(object) => {
            let _ = write!(
                out,
                "<dt>diaObjectId</dt><dd><a data-key=\"diaObjectId\" href=\"../../objects/{object}/view\">{object}</a>{}</dd>",
                if links.objects { "" } else { " (object pages need the archive's index)" }
            );
        }
        None => identity_row(&mut out, "diaObjectId", "diaObjectId", "—"),
    }
    let mjd = alert.mjd();
    identity_row(
        &mut out,
        "utc",
        "Time (UTC)",
        &mjd.map_or("—".into(), utc_of_mjd_tai),
    );
    identity_row(
        &mut out,
        "mjd",
        "Time (MJD, TAI)",
        &mjd.map_or("—".into(), |m| m.to_string()),
    );
    let source = alert.dia_source;
    let ra = source.and_then(|s| s.f64(&["ra"]));
    let dec = source.and_then(|s| s.f64(&DEC));
    identity_row(
        &mut out,
        "ra",
        "RA (deg)",
        &ra.map_or("—".into(), |v| v.to_string()),
    );
    identity_row(
        &mut out,
        "dec",
        "Dec (deg)",
        &dec.map_or("—".into(), |v| v.to_string()),
    );
    identity_row(
        &mut out,
        "ra_hms",
        "RA (h m s)",
        &ra.map_or("—".into(), ra_hms),
    );
    identity_row(
        &mut out,
        "dec_dms",
        "Dec (° ′ ″)",
        &dec.map_or("—".into(), dec_dms),
    );
    identity_row(&mut out, "band", "Band", alert.band().unwrap_or("—"));
    if let Some(flux) = source.and_then(|s| s.f64(&FLUX)) {
        identity_row(&mut out, "psfFlux", "PSF flux (nJy)", &flux.to_string());
    }
    out.push_str("</dl></section>");

    out.push_str("<section aria-labelledby=\"h-cutouts\"><h2 id=\"h-cutouts\">Cutouts</h2><div class=\"cutouts\">");
    for cutout in cutouts {
        cutout_figure(&mut out, cutout, "", id);
    }
    out.push_str("</div></section>");

    let (points, skipped) = light_curve(alert);
    out.push_str("<section aria-labelledby=\"h-lc\"><h2 id=\"h-lc\">Light curve</h2>");
    let label = format!("alert {id}'s object (this alert and its history)");
    out.push_str(&lightcurve::svg(&points, &label));
    legend(&mut out, &points, skipped);
    points_table(&mut out, &points);
    out.push_str("</section>");

    if let Some(source) = &alert.dia_source {
        out.push_str("<section aria-labelledby=\"h-source\"><h2 id=\"h-source\">diaSource</h2>");
        fields_table(
            &mut out,
            "diaSource",
            "The source that triggered the alert",
            source,
        );
        out.push_str("</section>");
    }
    if let Some(object) = &alert.dia_object {
        out.push_str("<section aria-labelledby=\"h-object\"><h2 id=\"h-object\">diaObject</h2>");
        fields_table(
            &mut out,
            "diaObject",
            "The object's summary at the time of the alert",
            object,
        );
        out.push_str("</section>");
    }

    out.push_str("<section aria-labelledby=\"h-downloads\"><h2 id=\"h-downloads\">Downloads</h2><ul class=\"downloads\">");
    let _ = write!(
        out,
        "<li><a href=\"../{id}\">Alert, Avro (Confluent wire format)</a></li>\
<li><a href=\"../{id}?format=json\">Alert, JSON</a></li>"
    );
    for cutout in cutouts {
        let _ = write!(
            out,
            "<li>{} cutout: <a href=\"cutouts/{kind}\">FITS</a> · <a href=\"cutouts/{kind}.png\">PNG</a></li>",
            cutout.title,
            kind = cutout.kind
        );
    }
    let _ = write!(
        out,
        "<li><a href=\"../../schemas/{}\">Writer schema {}</a></li>",
        alert.schema_id, alert.schema_id
    );
    if let Some(herald) = &links.herald_prefix {
        let api = format!("../../..{herald}");
        let _ = write!(
            out,
            "<li>Herald API: <a href=\"{api}?ID={id}\">Avro file</a> · \
<a href=\"{api}?ID={id}&amp;RESPONSEFORMAT=json\">JSON</a> · \
<a href=\"{api}?ID={id}&amp;RESPONSEFORMAT=fits\">FITS</a> · \
<a href=\"{api}/cutouts?ID={id}\">cutouts FITS</a> · \
<a href=\"{api}/links?ID={id}\">DataLink links</a> · \
<a href=\"{api}/schema?ID={id}\">schema</a></li>",
            api = Escaped(&api)
        );
    }
    out.push_str("<li><a href=\"../../docs\">API documentation</a></li></ul></section>");
    foot(&mut out);
    out
}

/// One archived alert of an object, for the object page's table.
#[derive(Debug, Clone)]
pub struct ObjectAlert {
    pub alert_id: u64,
    pub mjd: Option<f64>,
    pub band: Option<String>,
    pub flux: Option<f64>,
    pub ra: Option<f64>,
    pub dec: Option<f64>,
}

/// The object page: the newest alert's object summary and cutouts, the light curve merged
/// from every alert (a source in several alerts' histories counts once), the alerts.
pub fn object_page(
    object_id: i64,
    alerts: &[ObjectAlert],
    points: &[Point],
    latest: Option<(&AlertView<'_>, &[CutoutInfo])>,
    total: usize,
    skipped: usize,
) -> String {
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, &format!("Object {object_id}"), None);
    let _ = write!(
        out,
        "<h1>Object <span data-key=\"diaObjectId\">{object_id}</span></h1>\
<p class=\"sub\">{total} archived alert{}{}</p>",
        if total == 1 { "" } else { "s" },
        if alerts.len() < total {
            format!(", the newest {} shown", alerts.len())
        } else {
            String::new()
        }
    );
    out.push_str("<section aria-labelledby=\"h-lc\"><h2 id=\"h-lc\">Light curve</h2>");
    out.push_str(&lightcurve::svg(points, &format!("object {object_id}")));
    legend(&mut out, points, skipped);
    points_table(&mut out, points);
    out.push_str("</section>");

    out.push_str("<section aria-labelledby=\"h-alerts\"><h2 id=\"h-alerts\">Alerts</h2><div class=\"scroll\">\
<table id=\"alerts\"><thead><tr><th scope=\"col\">Alert</th><th scope=\"col\">Time (UTC)</th><th scope=\"col\">MJD (TAI)</th>\
<th scope=\"col\">Band</th><th scope=\"col\">PSF flux (nJy)</th><th scope=\"col\">RA (deg)</th><th scope=\"col\">Dec (deg)</th></tr></thead><tbody>");
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for a in alerts {
        let _ = write!(
            out,
            "<tr data-alert=\"{id}\"><td><a href=\"../../alerts/{id}/view\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.mjd.map_or(String::new(), utc_of_mjd_tai),
            opt(a.mjd),
            Escaped(a.band.as_deref().unwrap_or("")),
            opt(a.flux),
            opt(a.ra),
            opt(a.dec),
            id = a.alert_id
        );
    }
    out.push_str("</tbody></table></div></section>");

    if let Some((alert, cutouts)) = latest {
        let _ = write!(
            out,
            "<section aria-labelledby=\"h-cutouts\"><h2 id=\"h-cutouts\">Cutouts of the newest alert, {}</h2><div class=\"cutouts\">",
            alert.alert_id
        );
        let prefix = format!("../../alerts/{}/", alert.alert_id);
        for cutout in cutouts {
            cutout_figure(&mut out, cutout, &prefix, alert.alert_id);
        }
        out.push_str("</div></section>");
        if let Some(object) = &alert.dia_object {
            out.push_str(
                "<section aria-labelledby=\"h-object\"><h2 id=\"h-object\">diaObject</h2>",
            );
            fields_table(
                &mut out,
                "diaObject",
                "The object's summary in its newest alert",
                object,
            );
            out.push_str("</section>");
        }
    }
    foot(&mut out);
    out
}

/// A page that says why there is nothing to show (an error, the index not enabled).
pub fn notice_page(title: &str, status: u16, message: &str) -> String {
    let mut out = String::with_capacity(4096);
    head(&mut out, title, None);
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"notice\" role=\"alert\" data-status=\"{status}\">{}</p>\
",
        Escaped(title),
        Escaped(message)
    );
    foot(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            Escaped("<script>alert('x' & \"y\")</script>").to_string(),
            "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(Escaped("plain").to_string(), "plain");
    }

    #[test]
    fn times_and_angles() {
        // MJD 61367.1 TAI = 2026-11-23 02:24:00 TAI = 02:23:23 UTC.
        assert_eq!(utc_of_mjd_tai(61367.1), "2026-11-23T02:23:23.000Z");
        assert_eq!(
            utc_of_mjd_tai(51544.5 + 37.0 / 86400.0),
            "2000-01-01T12:00:00.000Z"
        );
        assert_eq!(ra_hms(0.0), "00h00m00.000s");
        assert_eq!(ra_hms(359.99999999), "00h00m00.000s");
        assert_eq!(ra_hms(83.633), "05h34m31.920s");
        assert_eq!(dec_dms(-5.5), "−05°30′00.00″");
        assert_eq!(dec_dms(22.0145), "+22°00′52.20″");
        assert_eq!(utc_of_mjd_tai(f64::NAN), "—");
    }

    #[test]
    fn notice_pages_escape_their_message() {
        let page = notice_page("Not <found>", 404, "alert \"<1>\" is not archived");
        assert!(page.contains("Not &lt;found&gt;"));
        assert!(page.contains("alert &quot;&lt;1&gt;&quot; is not archived"));
        assert!(!page.contains("<found>"));
    }
}
