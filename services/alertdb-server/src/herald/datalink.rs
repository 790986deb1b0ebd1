//! IVOA DataLink: the `{prefix}/links?ID=` VOTable, and the public base URL its access URLs
//! are built from.
//!
//! The table is Herald's: VOTable 1.4 in the 1.3 namespace, one `results` resource, the
//! DataLink columns, and four rows per alert: the Avro packet and the FITS file (`#this`), the
//! cutouts (`#cutout`) and the schema (`#detached-header`). We add the `QUERY_STATUS` INFO
//! that DALI asks of every results resource (Herald leaves it out; readers that look for it,
//! like pyvo, then assume OK).

use axum::http::header::{self, HeaderMap};
use axum::http::Uri;

/// The DataLink content type.
pub const VOTABLE_CONTENT_TYPE: &str = "application/x-votable+xml";

/// The Avro object-container content type Herald uses.
pub const AVRO_OCF_CONTENT_TYPE: &str = "application/x-avro-ocf";

/// The columns of a DataLink table: name, datatype, arraysize, UCD.
const FIELDS: [(&str, &str, Option<&str>, &str); 8] = [
    ("ID", "char", Some("*"), "meta.id;meta.main"),
    ("access_url", "char", Some("*"), "meta.ref.url"),
    ("service_def", "char", Some("*"), "meta.ref"),
    ("error_message", "char", Some("*"), "meta.code.error"),
    ("description", "char", Some("*"), "meta.note"),
    ("semantics", "char", Some("*"), "meta.code"),
    ("content_type", "char", Some("*"), "meta.code.mime"),
    ("content_length", "long", None, "phys.size;meta.file"),
];

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// The links of alert `alert_id` (the id as Python prints the integer), whose API answers at
/// `base_url` (no trailing slash).
pub fn links_votable(alert_id: &str, base_url: &str) -> String {
    let rows = [
        (
            format!("{base_url}?ID={alert_id}"),
            "Alert packet (Avro OCF)",
            "#this",
            AVRO_OCF_CONTENT_TYPE,
        ),
        (
            format!("{base_url}?ID={alert_id}&RESPONSEFORMAT=fits"),
            "Alert packet (FITS)",
            "#this",
            "application/fits",
        ),
        (
            format!("{base_url}/cutouts?ID={alert_id}"),
            "Cutout images (FITS)",
            "#cutout",
            "application/fits",
        ),
        (
            format!("{base_url}/schema?ID={alert_id}"),
            "Avro schema (JSON)",
            "#detached-header",
            "application/json",
        ),
    ];
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version='1.0' encoding='utf-8'?>\n");
    out.push_str(
        "<VOTABLE xmlns=\"http://www.ivoa.net/xml/VOTable/v1.3\" version=\"1.4\">\
<RESOURCE type=\"results\"><INFO name=\"QUERY_STATUS\" value=\"OK\"/><TABLE>",
    );
    for (name, datatype, arraysize, ucd) in FIELDS {
        out.push_str("<FIELD name=\"");
        out.push_str(name);
        out.push_str("\" datatype=\"");
        out.push_str(datatype);
        out.push_str("\" ucd=\"");
        out.push_str(ucd);
        out.push('"');
        if let Some(size) = arraysize {
            out.push_str(" arraysize=\"");
            out.push_str(size);
            out.push('"');
        }
        out.push_str("/>");
    }
    out.push_str("<DATA><TABLEDATA>");
    let id = alert_id;
    for (url, description, semantics, content_type) in &rows {
        out.push_str("<TR>");
        for value in [id, url, "", "", description, semantics, content_type, ""] {
            if value.is_empty() {
                out.push_str("<TD/>");
            } else {
                out.push_str("<TD>");
                escape(value, &mut out);
                out.push_str("</TD>");
            }
        }
        out.push_str("</TR>");
    }
    out.push_str("</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>");
    out
}

/// The first value of a comma-separated forwarding header.
fn forwarded<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .split(',')
        .next()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether `host` is a plausible `host[:port]` (no path, user info or spaces), so a header
/// cannot put arbitrary text into the access URLs.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c))
}

/// Whether `prefix` is a plausible path prefix (`/a/b`).
fn plausible_prefix(prefix: &str) -> bool {
    prefix.starts_with('/')
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/%".contains(c))
}

/// The public URL of the API that answered `uri` (the route's path without `/links`), as
/// clients outside reach it. With `public_url` configured, that URL stands for this server's
/// root and the forwarding headers are not read; else `X-Forwarded-Proto`, `X-Forwarded-Host`
/// (or `Host`) and `X-Forwarded-Prefix` say how the request reached us, as an ingress sets them.
pub fn base_url(public_url: Option<&str>, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path();
    let path = path.strip_suffix("/links").unwrap_or(path);
    if let Some(public) = public_url {
        return format!("{}{path}", public.trim_end_matches('/'));
    }
    let scheme = forwarded(headers, "x-forwarded-proto")
        .filter(|p| p.eq_ignore_ascii_case("http") || p.eq_ignore_ascii_case("https"))
        .map_or("http".to_owned(), str::to_ascii_lowercase);
    let host = forwarded(headers, "x-forwarded-host")
        .filter(|h| plausible_host(h))
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| plausible_host(h))
        })
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let prefix = forwarded(headers, "x-forwarded-prefix")
        .filter(|p| plausible_prefix(p))
        .map_or("", |p| p.trim_end_matches('/'));
    format!("{scheme}://{host}{prefix}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn base_urls_follow_the_proxy_or_the_setting() {
        let uri: Uri = "/api/alerts/links?ID=1".parse().unwrap();
        assert_eq!(
            base_url(None, &headers(&[("host", "example.org:8080")]), &uri),
            "http://example.org:8080/api/alerts"
        );
        assert_eq!(
            base_url(
                None,
                &headers(&[
                    ("host", "10.0.0.1:5000"),
                    ("x-forwarded-proto", "https, http"),
                    ("x-forwarded-host", "data.lsst.cloud"),
                    ("x-forwarded-prefix", "/alertdb/"),
                ]),
                &uri
            ),
            "https://data.lsst.cloud/alertdb/api/alerts"
        );
        // Implausible values are ignored, not copied into the URLs.
        assert_eq!(
            base_url(
                None,
                &headers(&[
                    ("host", "h"),
                    ("x-forwarded-proto", "javascript"),
                    ("x-forwarded-host", "evil/<x>"),
                    ("x-forwarded-prefix", "no-slash"),
                ]),
                &uri
            ),
            "http://h/api/alerts"
        );
        assert_eq!(
            base_url(
                Some("https://alerts.example.org/archive/"),
                &headers(&[("x-forwarded-host", "ignored")]),
                &uri
            ),
            "https://alerts.example.org/archive/api/alerts"
        );
    }

    #[test]
    fn the_table_lists_four_links_escaped() {
        let table = links_votable("42", "https://h/api/alerts");
        assert!(table.starts_with("<?xml version='1.0' encoding='utf-8'?>\n<VOTABLE xmlns=\"http://www.ivoa.net/xml/VOTable/v1.3\" version=\"1.4\">"));
        assert_eq!(table.matches("<TR>").count(), 4);
        assert!(table.contains("<TD>https://h/api/alerts?ID=42&amp;RESPONSEFORMAT=fits</TD>"));
        assert!(table.contains("<TD>#cutout</TD>"));
        assert!(table.contains("<TD>application/x-avro-ocf</TD>"));
    }
}
