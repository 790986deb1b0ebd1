//! The OpenAPI 3.1 description of every route (`/v1/openapi.json`) and a docs page for people
//! (`/v1/docs`), both built once at start-up from the same table.

use serde_json::{json, Value as Json};

struct Route {
    path: &'static str,
    summary: &'static str,
    description: &'static str,
    example: &'static str,
}

const ROUTES: [Route; 12] = [
    Route {
        path: "/v1/health",
        summary: "Liveness of the API",
        description: "Answers `OK` while the server runs.",
        example: "/v1/health",
    },
    Route {
        path: "/v1/alerts/{alert_id}",
        summary: "An alert by id",
        description: "The alert's Confluent wire-format bytes (magic byte 0, 4-byte big-endian schema id, Avro body). Sent gzip-encoded (`Content-Encoding: gzip`) when the client accepts gzip, else decompressed. With `?format=json`, the alert decoded with its schema, bytes fields in base64. A browser, whose `Accept` lists `text/html` first, gets the alert's page (as `/view`) unless `format` is given; `*/*` or no `Accept` keeps the bytes.",
        example: "/v1/alerts/170032483741696?format=json",
    },
    Route {
        path: "/v1/alerts/{alert_id}/view",
        summary: "An alert's page, for people",
        description: "HTML: the alert's ids and IAU name, time (UTC and MJD TAI), position (degrees and sexagesimal), band; its three cutouts as images with size and orientation; the light curve of its history (prvDiaSources and forced photometry, per band, error bars) as inline SVG; the diaSource and diaObject with units; links to every download. No script, nothing loaded from elsewhere.",
        example: "/v1/alerts/170032483741696/view",
    },
    Route {
        path: "/v1/alerts/{alert_id}/cutouts/{kind}",
        summary: "A cutout image of an alert",
        description: "The FITS bytes of the alert's `cutoutDifference`, `cutoutScience` or `cutoutTemplate`; 404 when the alert has none.",
        example: "/v1/alerts/170032483741696/cutouts/difference",
    },
    Route {
        path: "/v1/alerts/{alert_id}/cutouts/{kind}.png",
        summary: "A cutout as a PNG image",
        description: "The cutout rendered on the server as 8-bit grey: astropy's ZScaleInterval, then the stretch (`asinh` by default, a = 0.1; `linear`; `log`, a = 1000; `sqrt`); FITS row 1 at the bottom; non-finite pixels black. `size` scales the longer side to that many pixels (nearest neighbour); without it, one PNG pixel per cutout pixel.",
        example: "/v1/alerts/170032483741696/cutouts/science.png?stretch=asinh&size=256",
    },
    Route {
        path: "/v1/objects/{dia_object_id}/view",
        summary: "An object's page, for people",
        description: "HTML: the object's light curve merged from all its archived alerts, the alerts, the newest alert's cutouts and diaObject. Needs the archive's alert index; without it the answer is 501 with a page that says the index is not enabled.",
        example: "/v1/objects/85000000000000/view",
    },
    Route {
        path: "/v1/schemas/{schema_id}",
        summary: "An alert schema by id",
        description: "The Avro schema (JSON) that the schema id in an alert's header names.",
        example: "/v1/schemas/1101",
    },
    Route {
        path: "/v1/objects/{dia_object_id}/alerts",
        summary: "Every archived alert of a diaObject",
        description: "From the alert index: one row per alert of the object (ids, time as MJD TAI and UTC, position, band, PSF flux, reliability, schema id) with each alert's URL, oldest first. `format=json` (default), `csv` or `parquet`; paged with `limit` and `cursor`. 404 when the archive has no index.",
        example: "/v1/objects/170032483741697/alerts",
    },
    Route {
        path: "/v1/alerts/search",
        summary: "Alerts in a time range",
        description: "From the alert index: alerts whose diaSource midpoint is in [`since`, `until`), each an ISO-8601 UTC time (`2025-01-02T03:04:05Z`) or an MJD TAI number (`60677.128`); at most `--index-max-range` (31 days by default) per query. Paged with `limit` and `cursor` (the previous page's `next_cursor`); also in `csv` and `parquet`.",
        example: "/v1/alerts/search?since=2025-01-02T00:00:00Z&until=2025-01-02T01:00:00Z",
    },
    Route {
        path: "/v1/alerts/cone",
        summary: "Alerts within a radius of a position",
        description: "From the alert index: alerts whose diaSource position (ICRS) is within `radius` degrees (at most `--index-max-radius-deg`, 1 by default) of (`ra`, `dec`) degrees, nearest HEALPix cells first. Paged with `limit` and `cursor`; also in `csv` and `parquet`.",
        example: "/v1/alerts/cone?ra=150.1&dec=2.2&radius=0.0167",
    },
    Route {
        path: "/v1/openapi.json",
        summary: "This document",
        description: "The OpenAPI description of the API.",
        example: "/v1/openapi.json",
    },
    Route {
        path: "/v1/docs",
        summary: "Documentation page",
        description: "A page describing the API for people.",
        example: "/v1/docs",
    },
];

fn detail_response(description: &str) -> Json {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Detail"}}}
    })
}

fn immutable_headers() -> Json {
    json!({
        "ETag": {"schema": {"type": "string"}, "description": "Strong validator of this representation"},
        "Cache-Control": {"schema": {"type": "string"}, "description": "public, max-age=31536000, immutable"}
    })
}

/// The OpenAPI document; `herald_prefix`: where the Herald-compatible API answers, if it does.
pub fn document(herald_prefix: Option<&str>) -> Json {
    let alert_id = json!({
        "name": "alert_id", "in": "path", "required": true,
        "description": "Alert id: a decimal integer of at most 20 digits that fits in 64 bits (larger values are refused with 400; the pattern describes a slightly smaller range that is always valid)",
        "schema": {"type": "string", "pattern": "^(?:[0-9]{1,19}|1[0-7][0-9]{18})$"},
        "example": "170032483741696"
    });
    let schema_id = json!({
        "name": "schema_id", "in": "path", "required": true,
        "description": "Schema id: a decimal integer that fits in 32 bits (larger values are refused with 400)",
        "schema": {"type": "string", "pattern": "^(?:[0-9]{1,9}|[1-3][0-9]{9}|4[01][0-9]{8})$"},
        "example": "1101"
    });
    let if_none_match = json!({
        "name": "If-None-Match", "in": "header", "required": false,
        "schema": {"type": "string"}
    });
    let errors = |extra: &[(&str, &str)]| {
        let mut responses = serde_json::Map::new();
        responses.insert(
            "304".into(),
            json!({"description": "Not modified (the If-None-Match tag matches)"}),
        );
        responses.insert("400".into(), detail_response("Invalid id or parameter"));
        for (status, description) in extra {
            responses.insert((*status).into(), detail_response(description));
        }
        responses.insert(
            "503".into(),
            detail_response("The object store is unavailable"),
        );
        responses.insert(
            "500".into(),
            detail_response("The archive holds an unreadable object"),
        );
        responses
    };
    let mut alert_responses = errors(&[("404", "No alert with this id")]);
    alert_responses.insert(
        "200".into(),
        json!({
            "description": "The alert: wire-format bytes, or JSON with format=json",
            "headers": immutable_headers(),
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object"}}
            }
        }),
    );
    let mut cutout_responses = errors(&[("404", "No alert with this id, or no such cutout")]);
    cutout_responses.insert(
        "200".into(),
        json!({
            "description": "The cutout's FITS bytes",
            "headers": immutable_headers(),
            "content": {"application/fits": {"schema": {"type": "string", "format": "binary"}}}
        }),
    );
    let page = |description: &str| json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}});
    let mut view_responses = serde_json::Map::new();
    view_responses.insert("200".into(), page("The alert's page"));
    view_responses.insert(
        "304".into(),
        json!({"description": "Not modified (the If-None-Match tag matches)"}),
    );
    view_responses.insert("400".into(), page("Invalid id (an HTML page saying so)"));
    view_responses.insert("404".into(), page("No alert with this id"));
    view_responses.insert("503".into(), page("The object store is unavailable"));
    let mut png_responses = errors(&[(
        "404",
        "No alert with this id, no such cutout kind, or the alert has no such cutout",
    )]);
    png_responses.insert(
        "200".into(),
        json!({
            "description": "The cutout as an 8-bit greyscale PNG",
            "headers": immutable_headers(),
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}
        }),
    );
    let mut object_responses = serde_json::Map::new();
    object_responses.insert("200".into(), page("The object's page"));
    object_responses.insert("400".into(), page("Invalid diaObjectId"));
    object_responses.insert("404".into(), page("The index has no alert of this object"));
    object_responses.insert(
        "501".into(),
        page("The archive's alert index is not enabled on this server: a page saying so"),
    );
    object_responses.insert(
        "503".into(),
        page("The index or the object store is unavailable"),
    );
    let mut schema_responses = errors(&[("404", "No schema with this id")]);
    schema_responses.insert(
        "200".into(),
        json!({
            "description": "The Avro schema",
            "headers": immutable_headers(),
            "content": {"application/vnd.schemaregistry.v1+json": {"schema": {"type": "object"}}}
        }),
    );
    // The cursor's first letter names its query (o, t, c): another query's cursor is a 400.
    let page_params = |kind: char| {
        [
            json!({"name": "format", "in": "query", "required": false,
               "description": "json (also when empty), csv or parquet",
               "schema": {"type": "string", "enum": ["json", "csv", "parquet", ""], "default": "json"}}),
            json!({"name": "limit", "in": "query", "required": false,
               "description": "Rows per page, 1 to --index-max-rows (10000 by default, the maximum documented here)",
               "schema": {"type": "integer", "minimum": 1, "maximum": crate::search::DEFAULT_MAX_ROWS, "default": 1000}}),
            json!({"name": "cursor", "in": "query", "required": false,
               "description": "The `next_cursor` of the previous page of the same query, unchanged (another query's cursor is a 400); empty is the first page",
               "schema": {"type": "string", "pattern": format!("^(|{kind}[0-9a-f]{{16}}\\.-?[0-9]{{1,19}})$")}}),
        ]
    };
    let degrees = |name: &str, description: &str, range: Json| {
        let mut schema = json!({"type": "number"});
        if let (Some(schema), Some(range)) = (schema.as_object_mut(), range.as_object()) {
            schema.extend(range.clone());
        }
        json!({"name": name, "in": "query", "required": true, "description": description,
               "schema": schema})
    };
    let time = |name: &str| {
        json!({"name": name, "in": "query", "required": true,
               "description": "ISO-8601 UTC (2025-01-02T03:04:05Z, or a date) or MJD TAI (60677.128). `until` must be after `since`, at most --index-max-range (31 days by default) later: a 400 otherwise",
               "schema": {"type": "string", "pattern": "^((0|[1-9][0-9]{0,4}|1[0-5][0-9]{4})(\\.[0-9]+)?|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|\\+00:00)?)?)$"}})
    };
    let mut page_responses = serde_json::Map::new();
    page_responses.insert("200".into(), json!({
        "description": "A page of index rows. JSON: `{count, alerts: [...], next_cursor, next}`; CSV and Parquet: the same columns. A `Link: <...>; rel=\"next\"` header when more rows follow.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/IndexPage"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}
        }
    }));
    page_responses.insert(
        "400".into(),
        detail_response("A parameter is missing, malformed or out of range (the detail names it)"),
    );
    page_responses.insert(
        "404".into(),
        detail_response("The archive has no alert index, or the server runs with --no-index"),
    );
    page_responses.insert(
        "503".into(),
        detail_response(
            "The object store is unavailable, or the query took longer than --index-query-timeout",
        ),
    );
    page_responses.insert(
        "500".into(),
        detail_response("The index table is unreadable"),
    );
    let operation = |route: &Route, extra: Json| {
        let mut op = json!({
            "summary": route.summary,
            "description": route.description,
            "operationId": route.path.trim_start_matches("/v1/").replace(['/', '{', '}', '.'], "_"),
        });
        if let (Some(op), Some(extra)) = (op.as_object_mut(), extra.as_object()) {
            op.extend(extra.clone());
        }
        json!({ "get": op })
    };
    let mut paths = serde_json::Map::new();
    for route in &ROUTES {
        let extra = match route.path {
            "/v1/health" => json!({"responses": {"200": {
                "description": "OK", "content": {"text/plain": {"schema": {"type": "string", "const": "OK"}}}}}}),
            "/v1/alerts/{alert_id}" => json!({
                "parameters": [alert_id, {
                    "name": "format", "in": "query", "required": false,
                    "schema": {"type": "string", "enum": ["avro", "json"]}
                }, if_none_match, {
                    "name": "Accept-Encoding", "in": "header", "required": false,
                    "schema": {"type": "string"}
                }],
                "responses": alert_responses.clone(),
            }),
            "/v1/alerts/{alert_id}/cutouts/{kind}" => json!({
                "parameters": [alert_id, {
                    "name": "kind", "in": "path", "required": true,
                    "schema": {"type": "string", "enum": ["difference", "science", "template"]}
                }, if_none_match],
                "responses": cutout_responses.clone(),
            }),
            "/v1/alerts/{alert_id}/view" => json!({
                "parameters": [alert_id, if_none_match],
                "responses": view_responses.clone(),
            }),
            "/v1/alerts/{alert_id}/cutouts/{kind}.png" => json!({
                "parameters": [alert_id, {
                    "name": "kind", "in": "path", "required": true,
                    "schema": {"type": "string", "enum": ["difference", "science", "template"]}
                }, {
                    "name": "stretch", "in": "query", "required": false,
                    "schema": {"type": "string", "enum": ["asinh", "linear", "log", "sqrt"], "default": "asinh"}
                }, {
                    "name": "size", "in": "query", "required": false,
                    "description": "Pixels of the longer side (nearest neighbour); default: the cutout's own size",
                    "schema": {"type": "integer", "minimum": 8, "maximum": 1024}
                }, if_none_match],
                "responses": png_responses.clone(),
            }),
            "/v1/objects/{dia_object_id}/view" => json!({
                "parameters": [{
                    "name": "dia_object_id", "in": "path", "required": true,
                    "description": "diaObjectId: a decimal integer of at most 19 digits that fits in a signed 64-bit integer",
                    "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                    "example": "85000000000000"
                }],
                "responses": object_responses.clone(),
            }),
            "/v1/schemas/{schema_id}" => json!({
                "parameters": [schema_id, if_none_match],
                "responses": schema_responses.clone(),
            }),
            "/v1/objects/{dia_object_id}/alerts" => {
                let mut parameters = vec![json!({
                    "name": "dia_object_id", "in": "path", "required": true,
                    "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}
                })];
                parameters.extend(page_params('o'));
                json!({"parameters": parameters, "responses": page_responses.clone()})
            }
            "/v1/alerts/search" => {
                let mut parameters = vec![time("since"), time("until")];
                parameters.extend(page_params('t'));
                json!({"parameters": parameters, "responses": page_responses.clone()})
            }
            "/v1/alerts/cone" => {
                let mut parameters = vec![
                    degrees("ra", "Right ascension, degrees (ICRS), 0 to 360",
                            json!({"minimum": 0, "maximum": 360})),
                    degrees("dec", "Declination, degrees (ICRS), -90 to 90",
                            json!({"minimum": -90, "maximum": 90})),
                    degrees("radius", "Radius, degrees, more than 0 and at most --index-max-radius-deg (1 by default, the maximum documented here)",
                            json!({"exclusiveMinimum": 0, "maximum": crate::search::DEFAULT_MAX_RADIUS_DEG})),
                ];
                parameters.extend(page_params('c'));
                json!({"parameters": parameters, "responses": page_responses.clone()})
            }
            "/v1/openapi.json" => json!({"responses": {"200": {
                "description": "This document", "content": {"application/json": {"schema": {"type": "object"}}}}}}),
            _ => json!({"responses": {"200": {
                "description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}}),
        };
        paths.insert(route.path.into(), operation(route, extra));
    }
    if let Some(prefix) = herald_prefix {
        paths.extend(herald_paths(prefix));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Rubin alert database",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Archived Rubin alerts and their schemas, by id. Alerts and schemas never change once written: responses may be cached forever.",
        },
        "paths": paths,
        "components": {"schemas": {"Detail": {
            "type": "object",
            "required": ["detail"],
            "properties": {"detail": {"type": "string"}}
        }, "IndexPage": {
            "type": "object",
            "required": ["count", "alerts", "next_cursor", "next"],
            "properties": {
                "count": {"type": "integer"},
                "next_cursor": {"type": ["string", "null"]},
                "next": {"type": ["string", "null"], "description": "URL of the next page"},
                "alerts": {"type": "array", "items": {"type": "object", "properties": {
                    "alertId": {"type": "integer"},
                    "diaSourceId": {"type": "integer"},
                    "diaObjectId": {"type": ["integer", "null"]},
                    "ssObjectId": {"type": ["integer", "null"]},
                    "midpointMjdTai": {"type": "number"},
                    "time": {"type": "string", "format": "date-time"},
                    "ra": {"type": "number"},
                    "dec": {"type": "number"},
                    "healpix29": {"type": "integer", "description": "HEALPix order 29, nested"},
                    "band": {"type": ["string", "null"]},
                    "psfFlux": {"type": ["number", "null"]},
                    "psfFluxErr": {"type": ["number", "null"]},
                    "reliability": {"type": ["number", "null"]},
                    "schemaId": {"type": "integer"},
                    "url": {"type": "string", "format": "uri"}
                }}}
            }
        }}}
    })
}

/// The Herald-compatible routes (`crate::herald`).
fn herald_paths(prefix: &str) -> serde_json::Map<String, Json> {
    let id = json!({
        "name": "ID", "in": "query", "required": true,
        "description": "Alert id: a decimal integer or the IAU form LSST-AP-DS-{id}. The pattern describes ids that are always accepted; the service reads the number as Python's int() does (whitespace, a sign, _ between digits, digits of other scripts), as Herald does, and refuses anything else with 400. Parameter names are matched without regard to case (IVOA DALI).",
        "schema": {"type": "string", "pattern": "^(LSST-AP-DS-)?[0-9]{1,19}$"},
        "example": "LSST-AP-DS-170000000000000"
    });
    let format = json!({
        "name": "RESPONSEFORMAT", "in": "query", "required": false,
        "description": "json or application/json: the alert as JSON; fits or application/fits: a multi-extension FITS file; absent: an Avro object container file",
        "schema": {"type": "string", "enum": ["json", "application/json", "fits", "application/fits"]}
    });
    let text = |description: &str| json!({"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}});
    let errors = |not_found: bool| {
        let mut responses = serde_json::Map::new();
        responses.insert(
            "304".into(),
            json!({"description": "Not modified (the If-None-Match tag matches)"}),
        );
        responses.insert(
            "400".into(),
            text("Unknown parameter (named in the message) or malformed ID"),
        );
        if not_found {
            responses.insert(
                "404".into(),
                text("No alert with this id, or its schema is missing"),
            );
            responses.insert("500".into(), text("The archive holds an unreadable alert"));
            responses.insert("503".into(), text("The object store is unavailable; retry"));
        }
        responses.insert(
            "422".into(),
            json!({"description": "ID is missing (FastAPI's validation error)",
            "content": {"application/json": {"schema": {"type": "object"}}}}),
        );
        responses
    };
    let binary = |content_type: &str, description: &str| {
        json!({"description": description, "headers": immutable_headers(),
            "content": {content_type: {"schema": {"type": "string", "format": "binary"}}}})
    };
    let mut alert = errors(true);
    alert.insert(
        "415".into(),
        text("RESPONSEFORMAT names a format that is not served"),
    );
    alert.insert("200".into(), json!({
        "description": "The alert (Content-Disposition: attachment; filename=\"alert-{id}.avro\" or .fits)",
        "headers": immutable_headers(),
        "content": {
            "application/x-avro-ocf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}},
            "application/fits": {"schema": {"type": "string", "format": "binary"}}
        }
    }));
    let mut cutouts = errors(true);
    cutouts.insert("200".into(), binary("application/fits", "The cutouts as one FITS file: image extensions DIFFIM, SCIENCE, TEMPLATE (those the alert has)"));
    let mut schema = errors(true);
    schema.insert(
        "200".into(),
        json!({"description": "The alert's writer schema",
        "headers": immutable_headers(),
        "content": {"application/json": {"schema": {"type": "object"}}}}),
    );
    let mut links = errors(false);
    links.insert("200".into(), json!({"description": "IVOA DataLink table (VOTable 1.4): Avro and FITS (#this), cutouts (#cutout), schema (#detached-header)",
        "content": {"application/x-votable+xml": {"schema": {"type": "string"}}}}));
    let op = |id: &str,
              summary: &str,
              description: &str,
              parameters: Json,
              responses: serde_json::Map<String, Json>| {
        json!({"get": {"operationId": id, "summary": summary, "description": description,
            "tags": ["herald"], "parameters": parameters, "responses": responses}})
    };
    let mut paths = serde_json::Map::new();
    paths.insert(prefix.to_owned(), op("herald_alert", "An alert (Herald)",
        "The alert by id: an Avro object container file with its writer schema (default), JSON or multi-extension FITS (ALERT, DIFFIM, SCIENCE, TEMPLATE, DIASOURCE, FORCEDPHOT, ... tables with units), as Herald serves them.",
        json!([id, format]), alert));
    paths.insert(
        format!("{prefix}/cutouts"),
        op(
            "herald_cutouts",
            "An alert's cutouts (Herald)",
            "The difference, science and template cutouts as one FITS file.",
            json!([id]),
            cutouts,
        ),
    );
    paths.insert(
        format!("{prefix}/schema"),
        op(
            "herald_schema",
            "An alert's schema (Herald)",
            "The Avro schema the alert was written with, named by the schema id in its header.",
            json!([id]),
            schema,
        ),
    );
    paths.insert(format!("{prefix}/links"), op("herald_links", "DataLink links of an alert (Herald)",
        "An IVOA DataLink VOTable listing the alert's access URLs, built from this server's public URL (--public-url) or the request's Host and X-Forwarded-* headers.",
        json!([id]), links));
    paths.insert(format!("{prefix}/"), json!({"get": {"operationId": "herald_index", "summary": "Application metadata (Herald)",
        "tags": ["herald"],
        "responses": {"200": {"description": "name, version, description, repository_url, documentation_url",
            "content": {"application/json": {"schema": {"type": "object", "required": ["metadata"]}}}}}}}));
    paths
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Rows of the docs page for the Herald-compatible API: (path, summary, example).
const HERALD_DOCS: [(&str, &str, &str); 7] = [
    ("?ID={id}", "An alert as an Avro object container file with its writer schema (Herald's default)", "?ID=LSST-AP-DS-170032483741696"),
    ("?ID={id}&RESPONSEFORMAT=json", "The alert as JSON (bytes in base64, NaN as null)", "?ID=170032483741696&RESPONSEFORMAT=json"),
    ("?ID={id}&RESPONSEFORMAT=fits", "The alert as a multi-extension FITS file: ALERT, DIFFIM, SCIENCE, TEMPLATE, DIASOURCE, FORCEDPHOT, ... with column units", "?ID=170032483741696&RESPONSEFORMAT=fits"),
    ("/cutouts?ID={id}", "The three cutouts as one FITS file", "/cutouts?ID=170032483741696"),
    ("/schema?ID={id}", "The alert's writer schema (JSON)", "/schema?ID=170032483741696"),
    ("/links?ID={id}", "IVOA DataLink VOTable of the above (#this, #cutout, #detached-header)", "/links?ID=170032483741696"),
    ("/", "Application metadata", "/"),
];

/// A self-contained HTML page (no scripts, no external assets) listing the routes.
pub fn docs_page(prefix: &str, herald_prefix: Option<&str>) -> String {
    let mut rows = String::new();
    for route in &ROUTES {
        rows.push_str(&format!(
            "<tr><td><code>GET {}{}</code></td><td><b>{}</b><br>{}<br>e.g. <code>curl -sf {}{}</code></td></tr>\n",
            escape(prefix),
            escape(route.path),
            escape(route.summary),
            escape(route.description),
            escape(prefix),
            escape(route.example),
        ));
    }
    let mut herald = String::new();
    if let Some(api) = herald_prefix {
        herald.push_str("<h2>Herald-compatible API</h2>\n<p>The archive API of Rubin's Herald service. \
<code>ID</code> is an alert id or <code>LSST-AP-DS-{id}</code>; parameter names are case-insensitive (IVOA DALI). \
Errors are plain text: 400 for an unknown parameter or a malformed id, 415 for an unknown RESPONSEFORMAT, 404 for a missing alert.</p>\n<table>\n");
        for (path, summary, example) in HERALD_DOCS {
            let url = format!("{prefix}{api}{example}");
            herald.push_str(&format!(
                "<tr><td><code>GET {}{}{}</code></td><td>{}<br>e.g. <code>curl -sf '{}'</code></td></tr>\n",
                escape(prefix),
                escape(api),
                escape(path),
                escape(summary),
                escape(&url),
            ));
        }
        herald.push_str("</table>\n");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Rubin alert database</title>\
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{vertical-align:top;padding:.4em;border-bottom:1px solid #ddd}}</style></head>\n\
<body><h1>Rubin alert database</h1>\n<p>Archived alerts and schemas by id. Every route also answers HEAD; responses carry a strong ETag \
and may be cached forever. Errors are JSON: <code>{{\"detail\": \"...\"}}</code>. Machine-readable description: \
<a href=\"openapi.json\">openapi.json</a>.</p>\n<table>\n{rows}</table>\n{herald}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let doc = document(None);
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), ROUTES.len());
        for route in &ROUTES {
            assert!(
                paths[route.path]["get"]["responses"]["200"].is_object(),
                "{}",
                route.path
            );
        }
        assert!(docs_page("/alertdb", None).contains("/alertdb/v1/alerts/{alert_id}"));
        assert!(!docs_page("", None).contains("Herald"));
    }

    #[test]
    fn the_herald_routes_are_described_under_their_prefix() {
        let doc = document(Some("/api/alerts"));
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), ROUTES.len() + 5);
        for path in [
            "/api/alerts",
            "/api/alerts/",
            "/api/alerts/cutouts",
            "/api/alerts/schema",
            "/api/alerts/links",
        ] {
            assert!(paths[path]["get"]["responses"]["200"].is_object(), "{path}");
        }
        let alert = &paths["/api/alerts"]["get"]["responses"];
        for status in ["400", "404", "415", "422"] {
            assert!(alert[status].is_object(), "{status}");
        }
        let page = docs_page("/alertdb", Some("/api/alerts"));
        assert!(page.contains("/alertdb/api/alerts?ID=170032483741696&amp;RESPONSEFORMAT=fits"));
    }
}
