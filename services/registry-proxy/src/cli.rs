//! The command line. Every flag is optional here: an absent flag leaves the file and
//! `REGISTRY_PROXY_*` environment layers in force (see [`crate::settings`]).

use crate::settings::{DurationSetting, Settings, ENV_PREFIX};
use clap::Parser;
use service_kit::http::HttpArgs;
use service_kit::settings::{Layers, Overrides, SettingsError};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "registry-proxy",
    version,
    about = "Read-only, caching reverse proxy in front of a Confluent-compatible schema registry"
)]
pub struct Cli {
    /// Settings file (TOML, YAML or JSON); flags and REGISTRY_PROXY_* variables override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Base URL of the registry (http or https), e.g. http://schema-registry:8081.
    #[arg(long, value_name = "URL")]
    pub upstream_url: Option<String>,
    /// PEM file of CA certificates for an https upstream (added to the system roots).
    #[arg(long, value_name = "FILE")]
    pub upstream_ca_file: Option<PathBuf>,
    /// Deadline of one upstream request (seconds, or 500ms / 10s / 1m) [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub upstream_timeout: Option<String>,
    /// Address to listen on [default: 0.0.0.0].
    #[arg(long, value_name = "IP")]
    pub listen_host: Option<String>,
    /// Port to listen on [default: 8080].
    #[arg(long, value_name = "PORT")]
    pub listen_port: Option<u16>,
    /// Serve the registry under this path prefix (e.g. /schema-registry), stripped before
    /// forwarding [default: none].
    #[arg(long, value_name = "PATH")]
    pub path_prefix: Option<String>,
    /// Bound of the schema-by-id cache, in bytes [default: 33554432].
    #[arg(long, value_name = "BYTES")]
    pub cache_max_bytes: Option<u64>,
    /// TTL of the cache for other GETs; 0 turns it off [default: 0].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub passthrough_cache_ttl: Option<String>,
    /// How often /readyz re-checks the upstream [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub readiness_interval: Option<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Checks the duration syntax at parse time; the text is passed on to the settings layers.
fn parse_duration(text: &str) -> Result<String, String> {
    text.parse::<DurationSetting>()?;
    Ok(text.to_owned())
}

impl Cli {
    /// Loads the settings: defaults → `--config` file → environment → these flags.
    /// (Boxed: `SettingsError` carries a whole `config` error and is large.)
    pub fn settings(&self) -> Result<Settings, Box<SettingsError>> {
        let overrides = Overrides::new()
            .set("upstream_url", self.upstream_url.clone())
            .set(
                "upstream_ca_file",
                self.upstream_ca_file
                    .as_ref()
                    .map(|p| p.display().to_string()),
            )
            .set("upstream_timeout", self.upstream_timeout.clone())
            .set("listen_host", self.listen_host.clone())
            .set("listen_port", self.listen_port.map(i64::from))
            .set("path_prefix", self.path_prefix.clone())
            .set(
                "cache_max_bytes",
                self.cache_max_bytes
                    .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            )
            .set("passthrough_cache_ttl", self.passthrough_cache_ttl.clone())
            .set("readiness_interval", self.readiness_interval.clone());
        let overrides = self.http.overrides(overrides);
        service_kit::settings::load(Layers {
            file: self.config.as_deref(),
            env_prefix: ENV_PREFIX,
            list_keys: &[],
            overrides,
        })
        .map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        ])
        .unwrap();
        let config = cli.settings().unwrap().validate().unwrap();
        assert_eq!(
            config.upstream_base,
            "http://127.0.0.1:8081/apis/ccompat/v7"
        );
        assert_eq!(config.listen_port, 9000);
        assert_eq!(config.listen_host.to_string(), "127.0.0.1");
        assert_eq!(config.path_prefix.unwrap().as_path(), "/schema-registry");
        assert_eq!(config.upstream_timeout, Duration::from_millis(1500));
        assert_eq!(config.passthrough_cache_ttl, Some(Duration::from_secs(2)));
        assert_eq!(config.http.header_timeout, Duration::from_secs(3));
        assert_eq!(config.http.idle_timeout, Duration::from_secs(60));
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
