//! Settings: loaded in layers (defaults → optional file → `ALERTDB_SERVER_*` environment →
//! command line) by `service_kit::settings`, then validated once into a [`ServerConfig`] so
//! the rest of the crate only sees values that make sense.
//!
//! The listen address, the stores, the HTTP limits and logging are the shared pieces
//! (`service_kit`, `object_storage`), with the same flags and meaning as in the ingester.
//! Upstream's store flags (`--backend local-files|google-cloud|s3`, `--local-file-root`,
//! `--bucket-alerts`, `--bucket-schemas`, `--endpoint-url`) are among them, so an operator
//! can swap this server in without changing its arguments.

use clap::Parser;
use object_storage::{StoreArgs, StoreOptions, StoreSettings, StoreSettingsError};
use serde::{Deserialize, Serialize};
use service_kit::http::{HttpArgs, HttpSettings, LimitError, Limits};
use service_kit::settings::{
    not, ConfigFileArg, DurationSetting, ListenArgs, ListenHostError, ListenSettings, SettingsError,
};
use service_kit::telemetry::LogArgs;
use std::net::SocketAddr;

/// Prefix of the environment variables (`ALERTDB_SERVER_STORE__ALERTS_URL`, ...).
pub const ENV_PREFIX: &str = "ALERTDB_SERVER";

/// The raw settings, as an operator writes them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub listen: ListenSettings,
    /// Where the archive is.
    pub store: StoreSettings,
    /// Served path prefix (`/alertdb`); routes answer at the root and under it. Empty for none.
    pub path_prefix: String,
    /// Upper bound of the schema cache, in bytes of schema text.
    pub schema_cache_bytes: u64,
    /// Upper bound of the alert cache, in bytes of stored objects; 0 turns it off.
    pub alert_cache_bytes: u64,
    /// Largest decompressed alert the server will produce; bigger objects are refused as
    /// corrupt (a gzip bomb must not take the server down).
    pub max_alert_bytes: u64,
    /// The HTTP server's timeouts and connection limit (`[http]`, `--http-*`).
    pub http: HttpSettings,
    /// Where the Herald-compatible API answers (`/api/alerts`, Herald's default); empty turns
    /// it off. Like the `/v1` routes, it answers at the root and under `path_prefix`.
    pub api_prefix: String,
    /// The external URL of this server's root (`https://data.example.org/alertdb`), for the
    /// access URLs of DataLink tables; unset, they are built from each request's `Host` and
    /// `X-Forwarded-Proto/Host/Prefix` headers.
    pub public_url: Option<String>,
    /// Whether the index routes answer (when the alerts store holds the index table).
    pub index_enabled: bool,
    /// Most rows one index query answers (its `limit` at most).
    pub index_max_rows: usize,
    /// Largest cone radius, in degrees.
    pub index_max_radius_deg: f64,
    /// Longest `since`–`until` span of one time-range query.
    pub index_max_range: DurationSetting,
    /// Time one index query may take before it is answered 503.
    pub index_query_timeout: DurationSetting,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            // Upstream's defaults; containers set --listen-host 0.0.0.0.
            listen: ListenSettings::new("127.0.0.1", 5000),
            store: StoreSettings::default(),
            path_prefix: "/alertdb".into(),
            schema_cache_bytes: 64 * 1024 * 1024,
            alert_cache_bytes: 0,
            max_alert_bytes: 64 * 1024 * 1024,
            http: HttpSettings::default(),
            api_prefix: crate::herald::DEFAULT_PREFIX.into(),
            public_url: None,
            index_enabled: true,
            index_max_rows: crate::search::DEFAULT_MAX_ROWS,
            index_max_radius_deg: crate::search::DEFAULT_MAX_RADIUS_DEG,
            index_max_range: DurationSetting(crate::search::DEFAULT_MAX_RANGE),
            index_query_timeout: DurationSetting(crate::search::DEFAULT_QUERY_TIMEOUT),
        }
    }
}

/// The command line: the shared pieces flattened, then the server's own flags. Every flag is
/// optional so that unset flags leave the file and the environment in force; the struct
/// serializes to the settings' keys (the top layer).
#[derive(Debug, Clone, Default, Parser, Serialize)]
#[command(
    name = "alertdb-server",
    version,
    about = "Serve archived alerts and schemas over HTTP (GET /v1/alerts/{id}, /v1/schemas/{id})"
)]
pub struct Cli {
    #[command(flatten)]
    #[serde(skip)]
    pub config: ConfigFileArg,
    /// --listen-*: the address of the API [default: 127.0.0.1:5000].
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Path prefix served besides the root; "" for none [default: /alertdb].
    #[arg(long, value_name = "PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Upper bound of the schema cache in bytes [default: 64 MiB].
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_cache_bytes: Option<u64>,
    /// Upper bound of the alert cache in bytes; 0 turns it off [default: 0].
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_cache_bytes: Option<u64>,
    /// Largest decompressed alert served, in bytes [default: 64 MiB].
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_alert_bytes: Option<u64>,
    #[command(flatten)]
    pub http: HttpArgs,
    /// Path of the Herald-compatible API; "" turns it off [default: /api/alerts].
    #[arg(long, value_name = "PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_prefix: Option<String>,
    /// External URL of this server's root, for DataLink access URLs [default: from each
    /// request's Host and X-Forwarded-* headers].
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Do not serve the index routes (/v1/objects/{id}/alerts, /v1/alerts/search, /v1/alerts/cone).
    #[arg(long)]
    #[serde(
        rename = "index_enabled",
        skip_serializing_if = "not",
        serialize_with = "service_kit::settings::serialize_negated"
    )]
    pub no_index: bool,
    /// Most rows one index query answers (the largest `limit`) [default: 10000].
    #[arg(long, value_name = "ROWS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_max_rows: Option<usize>,
    /// Largest cone-search radius, in degrees [default: 1].
    #[arg(long, value_name = "DEGREES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_max_radius_deg: Option<f64>,
    /// Longest since–until span of one time-range search (24h, 31d) [default: 31d].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_max_range: Option<DurationSetting>,
    /// Time one index query may take before it is answered 503 (500ms, 10s) [default: 10s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_query_timeout: Option<DurationSetting>,
    #[command(flatten)]
    #[serde(skip)]
    pub log: LogArgs,
}

impl Cli {
    /// Loads the settings with this command line as the top layer.
    pub fn load(&self) -> Result<Settings, Box<SettingsError>> {
        self.config.load(ENV_PREFIX, &[], self)
    }
}

/// What is wrong with the settings; each message names the setting and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Store(#[from] StoreSettingsError),
    #[error(transparent)]
    ListenHost(#[from] ListenHostError),
    #[error("--path-prefix {prefix:?}: {reason}")]
    PathPrefix { prefix: String, reason: String },
    #[error("--schema-cache-bytes must be more than zero")]
    ZeroSchemaCache,
    #[error("--max-alert-bytes must be more than zero")]
    ZeroMaxAlert,
    #[error(transparent)]
    Http(#[from] LimitError),
    #[error("--api-prefix {prefix:?}: {reason}")]
    ApiPrefix { prefix: String, reason: String },
    #[error("--public-url {url:?}: {reason}; give the http(s) URL of this server's root, e.g. https://data.example.org/alertdb")]
    PublicUrl { url: String, reason: String },
    #[error("--index-max-rows must be between 1 and 1000000")]
    IndexMaxRows,
    #[error("--index-max-radius-deg must be more than 0 and at most 180")]
    IndexMaxRadius,
    #[error("--index-max-range must be at least 1s")]
    IndexMaxRange,
    #[error("--index-query-timeout must be at least 10ms")]
    IndexQueryTimeout,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub alerts_url: String,
    pub schemas_url: String,
    pub store: StoreOptions,
    /// `/alertdb`-style prefix (leading slash, no trailing slash), or `None`.
    pub path_prefix: Option<String>,
    pub schema_cache_bytes: u64,
    /// `None` when the alert cache is off.
    pub alert_cache_bytes: Option<u64>,
    pub max_alert_bytes: u64,
    /// Timeouts and connection limit of the HTTP server.
    pub http: Limits,
    /// Where the Herald-compatible API answers, or `None`.
    pub api_prefix: Option<String>,
    /// External URL of the server's root (no trailing slash), for DataLink access URLs.
    pub public_url: Option<String>,
    /// The index routes' limits; `None` with `--no-index`.
    pub index: Option<crate::search::SearchLimits>,
}

impl ServerConfig {
    /// A configuration for tests and embedding: both stores at `alerts_url`, no prefix,
    /// default caches and HTTP limits.
    pub fn for_url(alerts_url: &str) -> Self {
        let defaults = Settings::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            alerts_url: alerts_url.to_owned(),
            schemas_url: alerts_url.to_owned(),
            store: StoreOptions::default(),
            path_prefix: None,
            schema_cache_bytes: defaults.schema_cache_bytes,
            alert_cache_bytes: None,
            max_alert_bytes: defaults.max_alert_bytes,
            http: Limits::default(),
            api_prefix: Some(crate::herald::DEFAULT_PREFIX.into()),
            public_url: None,
            index: Some(crate::search::SearchLimits::default()),
        }
    }
}

impl Settings {
    /// Checks every value and resolves the stores.
    pub fn validate(&self) -> Result<ServerConfig, ConfigError> {
        let stores = self.store.resolve()?;
        let listen = self.listen.socket_addr()?;
        let path_prefix =
            parse_path_prefix(&self.path_prefix).map_err(|reason| ConfigError::PathPrefix {
                prefix: self.path_prefix.clone(),
                reason: reason.to_owned(),
            })?;
        if self.schema_cache_bytes == 0 {
            return Err(ConfigError::ZeroSchemaCache);
        }
        if self.max_alert_bytes == 0 {
            return Err(ConfigError::ZeroMaxAlert);
        }
        let index = if self.index_enabled {
            if self.index_max_rows == 0 || self.index_max_rows > 1_000_000 {
                return Err(ConfigError::IndexMaxRows);
            }
            if !(self.index_max_radius_deg > 0.0 && self.index_max_radius_deg <= 180.0) {
                return Err(ConfigError::IndexMaxRadius);
            }
            if self.index_max_range.0 < std::time::Duration::from_secs(1) {
                return Err(ConfigError::IndexMaxRange);
            }
            if self.index_query_timeout.0 < std::time::Duration::from_millis(10) {
                return Err(ConfigError::IndexQueryTimeout);
            }
            Some(crate::search::SearchLimits {
                max_rows: self.index_max_rows,
                max_radius_deg: self.index_max_radius_deg,
                max_range: self.index_max_range.0,
                query_timeout: self.index_query_timeout.0,
            })
        } else {
            None
        };
        Ok(ServerConfig {
            index,
            listen,
            alerts_url: stores.alerts_url,
            schemas_url: stores.schemas_url,
            store: stores.options,
            path_prefix,
            schema_cache_bytes: self.schema_cache_bytes,
            alert_cache_bytes: Some(self.alert_cache_bytes).filter(|b| *b > 0),
            max_alert_bytes: self.max_alert_bytes,
            http: self.http.validate()?,
            api_prefix: parse_path_prefix(&self.api_prefix).map_err(|reason| {
                ConfigError::ApiPrefix {
                    prefix: self.api_prefix.clone(),
                    reason: reason.to_owned(),
                }
            })?,
            public_url: self
                .public_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(parse_public_url)
                .transpose()?,
        })
    }
}

/// An `http`/`https` URL without query or fragment, trailing slash dropped.
pub fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    let error = |reason: &str| ConfigError::PublicUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(raw).map_err(|e| error(&e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(error("the scheme is not http or https"));
    }
    if url.host_str().is_none() {
        return Err(error("there is no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(error(
            "a query, fragment or user name does not belong in it",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `""` or `"/"` → no prefix; otherwise `/seg[/seg...]` of URL-safe characters, trailing
/// slash dropped.
pub fn parse_path_prefix(raw: &str) -> Result<Option<String>, &'static str> {
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(None);
    }
    if !trimmed.starts_with('/') {
        return Err("a path prefix starts with `/`, e.g. /alertdb");
    }
    for segment in trimmed[1..].split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err("empty, `.` and `..` segments are not allowed");
        }
        if !segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
        {
            return Err("use only letters, digits and - _ . ~ in a path prefix");
        }
    }
    Ok(Some(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(alerts_url: &str) -> StoreSettings {
        StoreSettings {
            alerts_url: Some(alerts_url.into()),
            ..StoreSettings::default()
        }
    }

    fn settings() -> Settings {
        Settings {
            store: store("memory://"),
            ..Settings::default()
        }
    }

    fn cli(args: &[&str]) -> Result<ServerConfig, String> {
        let mut all = vec!["alertdb-server"];
        all.extend_from_slice(args);
        let cli = Cli::try_parse_from(all).map_err(|e| e.to_string())?;
        let loaded = cli.load().map_err(|e| e.to_string())?;
        loaded.validate().map_err(|e| e.to_string())
    }

    #[test]
    fn schemas_default_to_the_alerts_store() {
        let config = settings().validate().unwrap();
        assert_eq!(config.schemas_url, "memory://");
        assert_eq!(config.path_prefix.as_deref(), Some("/alertdb"));
        assert_eq!(config.listen, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(config.alert_cache_bytes, None);
    }

    #[test]
    fn a_store_is_required() {
        let err = Settings::default().validate().unwrap_err();
        assert!(
            matches!(err, ConfigError::Store(StoreSettingsError::Missing)),
            "{err}"
        );
        assert!(err.to_string().contains("--alerts-url"), "{err}");
    }

    /// Every flag upstream's alertdb server (alertdb/server.py) takes, as its deployments
    /// pass them.
    #[test]
    fn every_upstream_flag_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let local = cli(&[
            "--listen-host",
            "0.0.0.0",
            "--listen-port",
            "5000",
            "--backend",
            "local-files",
            "--local-file-root",
            root,
            "--verbose",
        ])
        .unwrap();
        assert!(local.alerts_url.starts_with("file:///"), "{local:?}");
        assert_eq!(local.alerts_url, local.schemas_url);
        let gcs = cli(&[
            "--backend",
            "google-cloud",
            "--gcp-project",
            "rubin",
            "--gcp-bucket-alerts",
            "alert-packets",
            "--gcp-bucket-schemas",
            "alert-schemas",
        ])
        .unwrap();
        assert_eq!(gcs.alerts_url, "gs://alert-packets");
        assert_eq!(gcs.schemas_url, "gs://alert-schemas");
        let s3 = cli(&[
            "--backend",
            "s3",
            "--bucket-alerts",
            "alerts",
            "--endpoint-url",
            "http://127.0.0.1:9000",
        ])
        .unwrap();
        assert_eq!(s3.schemas_url, "s3://alerts");
        assert_eq!(
            s3.store.s3_endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        let err = cli(&["--backend", "local-files"]).unwrap_err();
        assert!(err.contains("--local-file-root"), "{err}");
    }

    #[test]
    fn bad_settings_are_named() {
        let cases: Vec<(&[&str], &str)> = vec![
            (&["--backend", "azure"], "azure"),
            (&["--backend", "google-cloud"], "--bucket-alerts"),
            (&["--bucket-alerts", "a/../b"], "a/../b"),
            (
                &[
                    "--backend",
                    "google-cloud",
                    "--bucket-alerts",
                    "a",
                    "--endpoint-url",
                    "http://x",
                ],
                "--endpoint-url",
            ),
            (
                &["--alerts-url", "memory://", "--backend", "s3"],
                "not both",
            ),
            (
                &["--alerts-url", "memory://", "--bucket-alerts", "a"],
                "not both",
            ),
            (
                &["--alerts-url", "memory://", "--listen-host", "localhost"],
                "localhost",
            ),
            (
                &["--alerts-url", "memory://", "--schema-cache-bytes", "0"],
                "--schema-cache-bytes",
            ),
            (
                &["--alerts-url", "memory://", "--max-alert-bytes", "0"],
                "--max-alert-bytes",
            ),
            (
                &["--alerts-url", "memory://", "--path-prefix", "alertdb"],
                "--path-prefix",
            ),
            (
                &["--alerts-url", "memory://", "--http-max-connections", "0"],
                "--http-max-connections",
            ),
        ];
        for (args, needle) in cases {
            let err = cli(args).unwrap_err();
            assert!(err.contains(needle), "{args:?} → {err}");
        }
    }

    #[test]
    fn path_prefixes_are_checked() {
        assert_eq!(parse_path_prefix("").unwrap(), None);
        assert_eq!(parse_path_prefix("/").unwrap(), None);
        assert_eq!(
            parse_path_prefix("/alertdb/").unwrap().as_deref(),
            Some("/alertdb")
        );
        assert_eq!(parse_path_prefix("/a/b").unwrap().as_deref(), Some("/a/b"));
        for bad in ["alertdb", "/a//b", "/a/../b", "/a b", "/{id}", "/a?x"] {
            assert!(parse_path_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_command_line_wins_and_bad_flags_are_refused() {
        let mut toml = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(
            &mut toml,
            b"path_prefix = \"/archive\"\n[listen]\nport = 4000\n[store]\nalerts_url = \"memory://\"\n[http]\nmax_connections = 7\n",
        )
        .unwrap();
        let config = cli(&[
            "--config",
            toml.path().to_str().unwrap(),
            "--listen-port",
            "3000",
            "--path-prefix",
            "",
            "--http-idle-timeout",
            "90s",
            "--http-max-connections",
            "500",
        ])
        .unwrap();
        assert_eq!(config.listen.port(), 3000);
        assert_eq!(config.path_prefix, None);
        assert_eq!(config.alerts_url, "memory://");
        assert_eq!(config.http.idle_timeout, std::time::Duration::from_secs(90));
        assert_eq!(config.http.max_connections, 500);
        assert_eq!(
            config.http.header_timeout,
            std::time::Duration::from_secs(10)
        );
        assert!(Cli::try_parse_from(["alertdb-server", "--listen-port", "http"]).is_err());
        assert!(Cli::try_parse_from(["alertdb-server", "--no-such-flag"]).is_err());
    }

    #[test]
    fn the_herald_api_prefix_and_public_url_are_checked() {
        let base = settings();
        let config = base.validate().unwrap();
        assert_eq!(config.api_prefix.as_deref(), Some("/api/alerts"));
        assert_eq!(config.public_url, None);
        let config = Settings {
            api_prefix: String::new(),
            public_url: Some("https://data.example.org/alertdb/".into()),
            ..base.clone()
        }
        .validate()
        .unwrap();
        assert_eq!(config.api_prefix, None);
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://data.example.org/alertdb")
        );
        for bad in [
            "data.example.org",
            "ftp://x",
            "https://x/?a=1",
            "https://x/#f",
            "http://u@x",
        ] {
            let error = Settings {
                public_url: Some(bad.into()),
                ..base.clone()
            }
            .validate()
            .unwrap_err();
            assert!(
                matches!(error, ConfigError::PublicUrl { .. }),
                "{bad}: {error}"
            );
            assert!(error.to_string().contains("--public-url"));
        }
        assert!(matches!(
            Settings {
                api_prefix: "api".into(),
                ..base
            }
            .validate(),
            Err(ConfigError::ApiPrefix { .. })
        ));
    }
}
