//! Settings: loaded in layers (defaults → optional file → `ALERTDB_SERVER_*` environment →
//! command line) by `service_kit::settings`, then validated once into a [`ServerConfig`] so
//! the rest of the crate only sees values that make sense.
//!
//! Stores are named by URL (`--alerts-url`, `--schemas-url`). Upstream's flags
//! (`--backend local-files|google-cloud|s3`, `--local-file-root`, `--bucket-alerts`,
//! `--bucket-schemas`, `--endpoint-url`) are accepted too and turned into the same URLs, so an
//! operator can swap this server in without changing its arguments.

use clap::Parser;
use object_storage::StoreOptions;
use serde::Deserialize;
use service_kit::http::{HttpArgs, HttpSettings, LimitError, Limits};
use service_kit::settings::{self, Layers, Overrides, SettingsError};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Prefix of the environment variables (`ALERTDB_SERVER_ALERTS_URL`, ...).
pub const ENV_PREFIX: &str = "ALERTDB_SERVER";

/// The raw settings, as an operator writes them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub listen_host: String,
    pub listen_port: u16,
    /// Store of the alerts: `gs://BUCKET[/PREFIX]`, `s3://...`, `file:///DIR`, `memory://`.
    pub alerts_url: Option<String>,
    /// Store of the schemas; the alerts' store when unset.
    pub schemas_url: Option<String>,
    /// Served path prefix (`/alertdb`); routes answer at the root and under it. Empty for none.
    pub path_prefix: String,
    /// Upstream compatibility: `local-files`, `google-cloud` or `s3`.
    pub backend: Option<String>,
    /// Upstream compatibility: root directory of the `local-files` backend.
    pub local_file_root: Option<PathBuf>,
    /// Upstream compatibility: bucket of the alerts (`google-cloud`, `s3`).
    pub bucket_alerts: Option<String>,
    /// Upstream compatibility: bucket of the schemas (defaults to the alerts' bucket).
    pub bucket_schemas: Option<String>,
    /// Upstream compatibility: endpoint of an S3-compatible store (`s3` backend).
    pub endpoint_url: Option<String>,
    /// Backend options that do not fit in a URL (credentials file, S3 keys, ...).
    pub store: StoreOptions,
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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            // Upstream's defaults; containers set --listen-host 0.0.0.0.
            listen_host: "127.0.0.1".into(),
            listen_port: 5000,
            alerts_url: None,
            schemas_url: None,
            path_prefix: "/alertdb".into(),
            backend: None,
            local_file_root: None,
            bucket_alerts: None,
            bucket_schemas: None,
            endpoint_url: None,
            store: StoreOptions::default(),
            schema_cache_bytes: 64 * 1024 * 1024,
            alert_cache_bytes: 0,
            max_alert_bytes: 64 * 1024 * 1024,
            http: HttpSettings::default(),
            api_prefix: crate::herald::DEFAULT_PREFIX.into(),
            public_url: None,
        }
    }
}

/// The command line. Every flag is optional so that unset flags leave the file and the
/// environment in force.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "alertdb-server",
    version,
    about = "Serve archived alerts and schemas over HTTP (GET /v1/alerts/{id}, /v1/schemas/{id})"
)]
pub struct Cli {
    /// Settings file (TOML, YAML or JSON).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long)]
    pub listen_host: Option<String>,
    /// Port to listen on [default: 5000].
    #[arg(long)]
    pub listen_port: Option<u16>,
    /// Store of the alerts (gs://BUCKET[/PREFIX], s3://BUCKET[/PREFIX], file:///DIR, memory://).
    #[arg(long, value_name = "URL")]
    pub alerts_url: Option<String>,
    /// Store of the schemas [default: the alerts' store].
    #[arg(long, value_name = "URL")]
    pub schemas_url: Option<String>,
    /// Path prefix served besides the root; "" for none [default: /alertdb].
    #[arg(long, value_name = "PREFIX")]
    pub path_prefix: Option<String>,
    /// Upstream compatibility: local-files, google-cloud or s3 (use --alerts-url instead).
    #[arg(long)]
    pub backend: Option<String>,
    /// Upstream compatibility: root directory of the local-files backend.
    #[arg(long, value_name = "DIR")]
    pub local_file_root: Option<PathBuf>,
    /// Upstream compatibility: bucket of the alerts.
    #[arg(long, visible_alias = "gcp-bucket-alerts", value_name = "BUCKET")]
    pub bucket_alerts: Option<String>,
    /// Upstream compatibility: bucket of the schemas [default: the alerts' bucket].
    #[arg(long, visible_alias = "gcp-bucket-schemas", value_name = "BUCKET")]
    pub bucket_schemas: Option<String>,
    /// Upstream compatibility: endpoint of an S3-compatible store (with --backend s3).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Upstream compatibility: accepted and ignored (the project comes with the credentials).
    #[arg(long, hide = true)]
    pub gcp_project: Option<String>,
    /// GCS service-account JSON file [default: application default credentials].
    #[arg(long, value_name = "FILE")]
    pub gcs_service_account_path: Option<PathBuf>,
    /// Upper bound of the schema cache in bytes [default: 64 MiB].
    #[arg(long, value_name = "BYTES")]
    pub schema_cache_bytes: Option<u64>,
    /// Upper bound of the alert cache in bytes; 0 turns it off [default: 0].
    #[arg(long, value_name = "BYTES")]
    pub alert_cache_bytes: Option<u64>,
    /// Largest decompressed alert served, in bytes [default: 64 MiB].
    #[arg(long, value_name = "BYTES")]
    pub max_alert_bytes: Option<u64>,
    #[command(flatten)]
    pub http: HttpArgs,
    /// Path of the Herald-compatible API; "" turns it off [default: /api/alerts].
    #[arg(long, value_name = "PREFIX")]
    pub api_prefix: Option<String>,
    /// External URL of this server's root, for DataLink access URLs [default: from each
    /// request's Host and X-Forwarded-* headers].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

impl Cli {
    /// Loads the settings with this command line as the top layer.
    pub fn load(&self) -> Result<Settings, Box<SettingsError>> {
        let path_string = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let overrides = Overrides::new()
            .set("listen_host", self.listen_host.clone())
            .set("listen_port", self.listen_port.map(i64::from))
            .set("alerts_url", self.alerts_url.clone())
            .set("schemas_url", self.schemas_url.clone())
            .set("path_prefix", self.path_prefix.clone())
            .set("backend", self.backend.clone())
            .set("local_file_root", path_string(&self.local_file_root))
            .set("bucket_alerts", self.bucket_alerts.clone())
            .set("bucket_schemas", self.bucket_schemas.clone())
            .set("endpoint_url", self.endpoint_url.clone())
            .set(
                "store.gcs_service_account_path",
                path_string(&self.gcs_service_account_path),
            )
            .set("schema_cache_bytes", self.schema_cache_bytes)
            .set("alert_cache_bytes", self.alert_cache_bytes)
            .set("max_alert_bytes", self.max_alert_bytes)
            .set("api_prefix", self.api_prefix.clone())
            .set("public_url", self.public_url.clone());
        let overrides = self.http.overrides(overrides);
        settings::load(Layers {
            file: self.config.as_deref(),
            env_prefix: ENV_PREFIX,
            list_keys: &[],
            overrides,
        })
        .map_err(Box::new)
    }
}

/// What is wrong with the settings; each message names the setting and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--alerts-url (ALERTDB_SERVER_ALERTS_URL) is required: where the archive is, e.g. gs://alerts-bucket or file:///var/lib/alertdb (or upstream's --backend with its flags)")]
    MissingStore,
    #[error("give either --alerts-url/--schemas-url or upstream's --backend flags, not both")]
    BothStoreStyles,
    #[error("--backend {0:?} is not known; use local-files, google-cloud or s3")]
    UnknownBackend(String),
    #[error("--backend local-files requires --local-file-root")]
    MissingFileRoot,
    #[error("--local-file-root {path}: {reason}")]
    FileRoot { path: PathBuf, reason: String },
    #[error("--backend {0} requires --bucket-alerts")]
    MissingBucket(String),
    #[error("--bucket-alerts/--bucket-schemas {0:?} is not a bucket name")]
    InvalidBucket(String),
    #[error("--endpoint-url only applies to S3 stores (for a GCS emulator, set gcs_base_url in the --gcs-service-account-path file)")]
    EndpointWithoutS3,
    #[error("--listen-host {0:?} is not an IP address (use 0.0.0.0 for every interface)")]
    ListenHost(String),
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
        }
    }
}

impl Settings {
    /// Checks every value and resolves upstream's flags into store URLs.
    pub fn validate(&self) -> Result<ServerConfig, ConfigError> {
        let mut store = self.store.clone();
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let alerts_url = non_empty(&self.alerts_url);
        let schemas_url = non_empty(&self.schemas_url);
        let backend = non_empty(&self.backend);
        let (alerts_url, schemas_url) = match (alerts_url, backend) {
            (Some(_), Some(_)) => return Err(ConfigError::BothStoreStyles),
            (None, None) => return Err(ConfigError::MissingStore),
            (Some(alerts), None) => {
                if self.local_file_root.is_some()
                    || self.bucket_alerts.is_some()
                    || self.bucket_schemas.is_some()
                {
                    return Err(ConfigError::BothStoreStyles);
                }
                let schemas = schemas_url.unwrap_or_else(|| alerts.clone());
                (alerts, schemas)
            }
            (None, Some(backend)) => {
                if schemas_url.is_some() {
                    return Err(ConfigError::BothStoreStyles);
                }
                self.upstream_urls(&backend)?
            }
        };
        if let Some(endpoint) = non_empty(&self.endpoint_url) {
            if !alerts_url.starts_with("s3://") && !schemas_url.starts_with("s3://") {
                return Err(ConfigError::EndpointWithoutS3);
            }
            store.s3_endpoint = Some(endpoint);
        }
        let listen_host: IpAddr = self
            .listen_host
            .trim()
            .parse()
            .map_err(|_| ConfigError::ListenHost(self.listen_host.clone()))?;
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
        Ok(ServerConfig {
            listen: SocketAddr::new(listen_host, self.listen_port),
            alerts_url,
            schemas_url,
            store,
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

    fn upstream_urls(&self, backend: &str) -> Result<(String, String), ConfigError> {
        match backend {
            "local-files" => {
                let root = self
                    .local_file_root
                    .as_ref()
                    .ok_or(ConfigError::MissingFileRoot)?;
                let absolute = std::path::absolute(root).map_err(|e| ConfigError::FileRoot {
                    path: root.clone(),
                    reason: e.to_string(),
                })?;
                let url = url::Url::from_directory_path(&absolute).map_err(|()| {
                    ConfigError::FileRoot {
                        path: root.clone(),
                        reason: "not a usable directory path".into(),
                    }
                })?;
                Ok((url.to_string(), url.to_string()))
            }
            "google-cloud" | "s3" => {
                let scheme = if backend == "s3" { "s3" } else { "gs" };
                let alerts = self
                    .bucket_alerts
                    .as_deref()
                    .ok_or_else(|| ConfigError::MissingBucket(backend.to_owned()))?;
                let schemas = self.bucket_schemas.as_deref().unwrap_or(alerts);
                for bucket in [alerts, schemas] {
                    let valid = !bucket.is_empty()
                        && bucket
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                    if !valid {
                        return Err(ConfigError::InvalidBucket(bucket.to_owned()));
                    }
                }
                Ok((
                    format!("{scheme}://{alerts}"),
                    format!("{scheme}://{schemas}"),
                ))
            }
            other => Err(ConfigError::UnknownBackend(other.to_owned())),
        }
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

    fn settings() -> Settings {
        Settings {
            alerts_url: Some("memory://".into()),
            ..Settings::default()
        }
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
        assert!(matches!(err, ConfigError::MissingStore));
        assert!(err.to_string().contains("--alerts-url"), "{err}");
    }

    #[test]
    fn upstream_local_files_becomes_a_file_url() {
        let dir = tempfile::tempdir().unwrap();
        let config = Settings {
            backend: Some("local-files".into()),
            local_file_root: Some(dir.path().to_owned()),
            ..Settings::default()
        }
        .validate()
        .unwrap();
        assert!(config.alerts_url.starts_with("file:///"), "{config:?}");
        assert_eq!(config.alerts_url, config.schemas_url);
        let err = Settings {
            backend: Some("local-files".into()),
            ..Settings::default()
        }
        .validate()
        .unwrap_err();
        assert!(matches!(err, ConfigError::MissingFileRoot), "{err}");
    }

    #[test]
    fn upstream_buckets_become_urls() {
        let config = Settings {
            backend: Some("google-cloud".into()),
            bucket_alerts: Some("alert-packets".into()),
            bucket_schemas: Some("alert-schemas".into()),
            ..Settings::default()
        }
        .validate()
        .unwrap();
        assert_eq!(config.alerts_url, "gs://alert-packets");
        assert_eq!(config.schemas_url, "gs://alert-schemas");
        let config = Settings {
            backend: Some("s3".into()),
            bucket_alerts: Some("alerts".into()),
            endpoint_url: Some("http://127.0.0.1:9000".into()),
            ..Settings::default()
        }
        .validate()
        .unwrap();
        assert_eq!(config.schemas_url, "s3://alerts");
        assert_eq!(
            config.store.s3_endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn bad_store_settings_are_named() {
        let cases: Vec<(Settings, &str)> = vec![
            (
                Settings {
                    backend: Some("azure".into()),
                    ..Settings::default()
                },
                "azure",
            ),
            (
                Settings {
                    backend: Some("google-cloud".into()),
                    ..Settings::default()
                },
                "--bucket-alerts",
            ),
            (
                Settings {
                    backend: Some("google-cloud".into()),
                    bucket_alerts: Some("a/../b".into()),
                    ..Settings::default()
                },
                "a/../b",
            ),
            (
                Settings {
                    backend: Some("google-cloud".into()),
                    bucket_alerts: Some("a".into()),
                    endpoint_url: Some("http://x".into()),
                    ..Settings::default()
                },
                "--endpoint-url",
            ),
            (
                Settings {
                    backend: Some("s3".into()),
                    bucket_alerts: Some("a".into()),
                    ..settings()
                },
                "not both",
            ),
            (
                Settings {
                    bucket_alerts: Some("a".into()),
                    ..settings()
                },
                "not both",
            ),
            (
                Settings {
                    listen_host: "localhost".into(),
                    ..settings()
                },
                "localhost",
            ),
            (
                Settings {
                    schema_cache_bytes: 0,
                    ..settings()
                },
                "--schema-cache-bytes",
            ),
            (
                Settings {
                    max_alert_bytes: 0,
                    ..settings()
                },
                "--max-alert-bytes",
            ),
        ];
        for (settings, needle) in cases {
            let err = settings.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
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
        let cli = Cli::try_parse_from([
            "alertdb-server",
            "--alerts-url",
            "memory://",
            "--listen-port",
            "3000",
            "--path-prefix",
            "",
            "--gcp-bucket-alerts",
            "x",
            "--http-idle-timeout",
            "90s",
            "--http-max-connections",
            "500",
        ])
        .unwrap();
        assert_eq!(cli.bucket_alerts.as_deref(), Some("x"));
        let loaded = Cli {
            bucket_alerts: None,
            ..cli
        }
        .load()
        .unwrap();
        assert_eq!(loaded.listen_port, 3000);
        let config = loaded.validate().unwrap();
        assert_eq!(config.path_prefix, None);
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
        let base = Settings {
            alerts_url: Some("memory://".into()),
            ..Settings::default()
        };
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
