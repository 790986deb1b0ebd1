//! Settings: loaded in layers (defaults → optional file → `REGISTRY_PROXY_*` environment →
//! command line, [`Cli`]) by `service_kit::settings`, then validated once into a
//! [`ProxyConfig`] so the rest of the crate only sees values that make sense. The listen
//! address, HTTP limits and logging are the shared pieces of `service_kit`.

use crate::path::PathPrefix;
use clap::Parser;
use serde::{Deserialize, Serialize};
use service_kit::http::{HttpArgs, HttpSettings, LimitError, Limits};
/// Durations are written as everywhere else (`500ms`, `10s`, `2m`, bare seconds).
pub use service_kit::settings::DurationSetting;
use service_kit::settings::{
    ConfigFileArg, ListenArgs, ListenHostError, ListenSettings, SettingsError,
};
use service_kit::telemetry::LogArgs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Prefix of the environment variables (`REGISTRY_PROXY_UPSTREAM_URL`, ...).
pub const ENV_PREFIX: &str = "REGISTRY_PROXY";

/// The raw settings, as an operator writes them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub listen: ListenSettings,
    /// Base URL of the Confluent-compatible registry, e.g.
    /// `http://schema-registry:8081` or `http://registry/apis/ccompat/v7`.
    pub upstream_url: Option<String>,
    /// PEM file with the CA certificate(s) that sign the upstream's certificate (https only);
    /// added to the system roots.
    pub upstream_ca_file: Option<PathBuf>,
    /// How long one upstream request may take before the client gets a 504.
    pub upstream_timeout: DurationSetting,
    /// Served path prefix, stripped before forwarding (`/schema-registry`); empty for none.
    pub path_prefix: String,
    /// Upper bound of the immutable-schema cache, in bytes of response bodies.
    pub cache_max_bytes: u64,
    /// Time-to-live of the cache for other GETs (`/subjects`, ...); 0 turns it off.
    pub passthrough_cache_ttl: DurationSetting,
    /// How often `/readyz` re-checks that the upstream answers.
    pub readiness_interval: DurationSetting,
    /// The HTTP server's timeouts and connection limit (`[http]`, `--http-*`).
    pub http: HttpSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: ListenSettings::new("0.0.0.0", 8080),
            upstream_url: None,
            upstream_ca_file: None,
            upstream_timeout: DurationSetting(Duration::from_secs(10)),
            path_prefix: String::new(),
            cache_max_bytes: 32 * 1024 * 1024,
            passthrough_cache_ttl: DurationSetting(Duration::ZERO),
            readiness_interval: DurationSetting(Duration::from_secs(10)),
            http: HttpSettings::default(),
        }
    }
}

/// The command line: the shared pieces flattened, then the proxy's own flags. Every flag is
/// optional: an absent flag leaves the file and `REGISTRY_PROXY_*` environment layers in
/// force; the struct serializes to the settings' keys (the top layer).
#[derive(Debug, Clone, Default, Parser, Serialize)]
#[command(
    name = "registry-proxy",
    version,
    about = "Read-only, caching reverse proxy in front of a Confluent-compatible schema registry"
)]
pub struct Cli {
    #[command(flatten)]
    #[serde(skip)]
    pub config: ConfigFileArg,
    /// --listen-*: the address of the proxy [default: 0.0.0.0:8080].
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Base URL of the registry (http or https), e.g. http://schema-registry:8081.
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_url: Option<String>,
    /// PEM file of CA certificates for an https upstream (added to the system roots).
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_ca_file: Option<PathBuf>,
    /// Deadline of one upstream request (500ms, 10s, 1m) [default: 10s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_timeout: Option<DurationSetting>,
    /// Serve the registry under this path prefix (e.g. /schema-registry), stripped before
    /// forwarding [default: none].
    #[arg(long, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Bound of the schema-by-id cache, in bytes [default: 33554432].
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_max_bytes: Option<u64>,
    /// TTL of the cache for other GETs; 0 turns it off [default: 0].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passthrough_cache_ttl: Option<DurationSetting>,
    /// How often /readyz re-checks the upstream [default: 10s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_interval: Option<DurationSetting>,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub log: LogArgs,
}

impl Cli {
    /// Loads the settings: defaults → `--config` file → environment → these flags.
    /// (Boxed: `SettingsError` carries a whole `config` error and is large.)
    pub fn settings(&self) -> Result<Settings, Box<SettingsError>> {
        self.config.load(ENV_PREFIX, &[], self)
    }
}

/// What is wrong with the settings; each message names the setting and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--upstream-url (REGISTRY_PROXY_UPSTREAM_URL) is required: the base URL of the schema registry, e.g. http://schema-registry:8081")]
    MissingUpstream,
    #[error("--upstream-url {url:?} is not a valid URL: {reason}")]
    InvalidUpstream { url: String, reason: String },
    #[error("--upstream-ca-file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("--upstream-ca-file is set but --upstream-url {0:?} is not https")]
    CaWithoutHttps(String),
    #[error(transparent)]
    ListenHost(#[from] ListenHostError),
    #[error("--path-prefix {prefix:?}: {reason}")]
    PathPrefix { prefix: String, reason: String },
    #[error("--upstream-timeout must be more than zero")]
    ZeroTimeout,
    #[error("--readiness-interval must be more than zero")]
    ZeroReadinessInterval,
    #[error("--cache-max-bytes must be more than zero")]
    ZeroCache,
    #[error(transparent)]
    Http(#[from] LimitError),
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Upstream base URL without a trailing slash; request paths are appended to it.
    pub upstream_base: String,
    /// PEM bytes of the extra CA certificates.
    pub upstream_ca_pem: Option<Vec<u8>>,
    pub upstream_timeout: Duration,
    pub listen: SocketAddr,
    pub path_prefix: Option<PathPrefix>,
    pub cache_max_bytes: u64,
    pub passthrough_cache_ttl: Option<Duration>,
    pub readiness_interval: Duration,
    pub http: Limits,
}

impl Settings {
    /// Checks every value and reads the CA file.
    pub fn validate(&self) -> Result<ProxyConfig, ConfigError> {
        let raw_url = self
            .upstream_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or(ConfigError::MissingUpstream)?;
        let upstream_base = validate_upstream(raw_url)?;
        let upstream_ca_pem = match &self.upstream_ca_file {
            None => None,
            Some(path) => {
                if !upstream_base.starts_with("https://") {
                    return Err(ConfigError::CaWithoutHttps(raw_url.to_owned()));
                }
                let pem = std::fs::read(path).map_err(|e| ConfigError::CaFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                match reqwest::Certificate::from_pem_bundle(&pem) {
                    Ok(certs) if !certs.is_empty() => {}
                    Ok(_) => {
                        return Err(ConfigError::CaFile {
                            path: path.clone(),
                            reason: "no PEM certificate in the file".into(),
                        })
                    }
                    Err(e) => {
                        return Err(ConfigError::CaFile {
                            path: path.clone(),
                            reason: format!("not a PEM certificate bundle: {e}"),
                        })
                    }
                }
                Some(pem)
            }
        };
        let listen = self.listen.socket_addr()?;
        let path_prefix =
            PathPrefix::parse(&self.path_prefix).map_err(|reason| ConfigError::PathPrefix {
                prefix: self.path_prefix.clone(),
                reason: reason.to_owned(),
            })?;
        if self.upstream_timeout.0.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if self.readiness_interval.0.is_zero() {
            return Err(ConfigError::ZeroReadinessInterval);
        }
        if self.cache_max_bytes == 0 {
            return Err(ConfigError::ZeroCache);
        }
        Ok(ProxyConfig {
            upstream_base,
            upstream_ca_pem,
            upstream_timeout: self.upstream_timeout.0,
            listen,
            path_prefix,
            cache_max_bytes: self.cache_max_bytes,
            passthrough_cache_ttl: Some(self.passthrough_cache_ttl.0).filter(|d| !d.is_zero()),
            readiness_interval: self.readiness_interval.0,
            http: self.http.validate()?,
        })
    }
}

fn validate_upstream(raw: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidUpstream {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials in the URL are not supported (they would show in logs)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL takes no query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_upstream(url: &str) -> Settings {
        Settings {
            upstream_url: Some(url.into()),
            ..Settings::default()
        }
    }

    #[test]
    fn a_base_url_with_a_path_is_kept_without_trailing_slash() {
        let config = with_upstream("http://127.0.0.1:8081/apis/ccompat/v7/")
            .validate()
            .unwrap();
        assert_eq!(
            config.upstream_base,
            "http://127.0.0.1:8081/apis/ccompat/v7"
        );
        let config = with_upstream("https://registry.example")
            .validate()
            .unwrap();
        assert_eq!(config.upstream_base, "https://registry.example");
    }

    #[test]
    fn bad_upstreams_are_refused_with_the_reason() {
        let err = |url: &str| with_upstream(url).validate().unwrap_err().to_string();
        assert!(Settings::default()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--upstream-url"));
        assert!(err("not a url").contains("not a valid URL"));
        assert!(err("ftp://host/").contains("http or https"));
        assert!(err("http://user:pw@host/").contains("credentials"));
        assert!(err("http://host/?a=b").contains("no query"));
    }

    #[test]
    fn other_settings_are_checked() {
        let mut s = with_upstream("http://host");
        s.listen.host = "localhost".into();
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--listen-host"));
        let mut s = with_upstream("http://host");
        s.path_prefix = "/a/../b".into();
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--path-prefix"));
        let mut s = with_upstream("http://host");
        s.upstream_timeout = DurationSetting(Duration::ZERO);
        assert!(matches!(s.validate(), Err(ConfigError::ZeroTimeout)));
        let mut s = with_upstream("http://host");
        s.cache_max_bytes = 0;
        assert!(matches!(s.validate(), Err(ConfigError::ZeroCache)));
    }

    #[test]
    fn ca_files_are_read_and_checked() {
        let mut s = with_upstream("http://host");
        s.upstream_ca_file = Some("/nonexistent/ca.pem".into());
        assert!(matches!(s.validate(), Err(ConfigError::CaWithoutHttps(_))));
        let mut s = with_upstream("https://host");
        s.upstream_ca_file = Some("/nonexistent/ca.pem".into());
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/ca.pem"));
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "not a certificate").unwrap();
        s.upstream_ca_file = Some(file.path().into());
        let message = s.validate().unwrap_err().to_string();
        assert!(message.contains("certificate"), "{message}");
    }

    #[test]
    fn passthrough_ttl_zero_means_off() {
        let config = with_upstream("http://host").validate().unwrap();
        assert_eq!(config.passthrough_cache_ttl, None);
        let mut s = with_upstream("http://host");
        s.passthrough_cache_ttl = DurationSetting(Duration::from_secs(2));
        assert_eq!(
            s.validate().unwrap().passthrough_cache_ttl,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn layered_loading_reads_the_environment() {
        std::env::set_var("RPTEST_UPSTREAM_URL", "http://from-env:8081");
        std::env::set_var("RPTEST_UPSTREAM_TIMEOUT", "250ms");
        std::env::set_var("RPTEST_LISTEN__PORT", "9999");
        std::env::set_var("RPTEST_LISTEN__HOST", "127.0.0.1");
        let cli = Cli::try_parse_from(["registry-proxy", "--listen-port", "7000"]).unwrap();
        let settings: Settings = service_kit::settings::load(
            service_kit::settings::Layers {
                file: None,
                env_prefix: "RPTEST",
                list_keys: &[],
            },
            &cli,
        )
        .unwrap();
        assert_eq!(
            settings.upstream_url.as_deref(),
            Some("http://from-env:8081")
        );
        assert_eq!(settings.upstream_timeout.0, Duration::from_millis(250));
        assert_eq!(settings.listen.port, 7000, "the command line wins");
        assert_eq!(settings.listen.host, "127.0.0.1");
    }

    #[test]
    fn flags_become_settings() {
        let cli = Cli::try_parse_from([
            "registry-proxy",
            "--upstream-url",
            "http://127.0.0.1:8081/apis/ccompat/v7",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            "9000",
            "--path-prefix",
            "/schema-registry",
            "--upstream-timeout",
            "1500ms",
            "--passthrough-cache-ttl",
            "2",
            "--http-header-timeout",
            "3s",
            "--verbose",
        ])
        .unwrap();
        let config = cli.settings().unwrap().validate().unwrap();
        assert_eq!(
            config.upstream_base,
            "http://127.0.0.1:8081/apis/ccompat/v7"
        );
        assert_eq!(config.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.path_prefix.unwrap().as_path(), "/schema-registry");
        assert_eq!(config.upstream_timeout, Duration::from_millis(1500));
        assert_eq!(config.passthrough_cache_ttl, Some(Duration::from_secs(2)));
        assert_eq!(config.http.header_timeout, Duration::from_secs(3));
        assert_eq!(config.http.idle_timeout, Duration::from_secs(60));
        assert_eq!(cli.log.directive("warn"), "info");
    }

    #[test]
    fn bad_flags_are_refused_by_name() {
        let err = Cli::try_parse_from(["registry-proxy", "--upstream-timeout", "soon"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--upstream-timeout"), "{err}");
        assert!(Cli::try_parse_from(["registry-proxy", "--listen-port", "99999"]).is_err());
        assert!(Cli::try_parse_from(["registry-proxy", "--no-such-flag"]).is_err());
    }

    #[test]
    fn a_missing_config_file_is_named() {
        let cli =
            Cli::try_parse_from(["registry-proxy", "--config", "/nonexistent/proxy.toml"]).unwrap();
        let err = cli.settings().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/proxy.toml"), "{err}");
    }
}
