//! Settings: defaults → optional file (`--config`) → `SCHEMA_SYNC_*` environment → flags.
//!
//! The flags upstream's `syncLatestSchemaToRegistry.py` had (`--schema-registry-url`,
//! `--subject`) keep their names, so an existing Job's arguments work unchanged.

use clap::Parser;
use serde::{Deserialize, Serialize};
use service_kit::settings::{self, not, ConfigFileArg, DurationSetting};
use service_kit::telemetry::LogArgs;
use std::path::PathBuf;
use std::time::Duration;

/// Prefix of the environment variables (`SCHEMA_SYNC_SCHEMA_REGISTRY_URL`, `SCHEMA_SYNC_MODE`, ...).
pub const ENV_PREFIX: &str = "SCHEMA_SYNC";

/// Which schemas go into the registry, and with which ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every version, id = major*100 + minor and version = id, through the registry's IMPORT
    /// mode (upstream's id rule: 11.1 → 1101).
    Import,
    /// Only the latest version; the registry assigns the id (what the original Job did).
    Latest,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Import => "import",
            Mode::Latest => "latest",
        })
    }
}

/// Everything a run needs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The registry's Confluent API root (Apicurio: `.../apis/ccompat/v7`).
    pub schema_registry_url: String,
    /// The subject every alert schema goes under.
    pub subject: String,
    pub mode: Mode,
    /// The `lsst-alert-packet` `schema` directory; `None` = `ALERT_SCHEMA_DIR` or the Python
    /// package (alert_packet::tree::locate).
    pub schema_dir: Option<PathBuf>,
    /// Also register each version under `lsst-alerts-v{M.m}-value`.
    pub per_version_subjects: bool,
    /// Delete versions of the managed subjects whose schema is not in the tree.
    pub prune: bool,
    /// Print the plan and change nothing.
    pub dry_run: bool,
    /// How long to wait for the registry to answer at start-up.
    pub wait: DurationSetting,
    /// Bound on each registry request.
    pub request_timeout: DurationSetting,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            schema_registry_url: "http://localhost:8081".into(),
            subject: "alert-packet".into(),
            mode: Mode::Import,
            schema_dir: None,
            per_version_subjects: false,
            prune: false,
            dry_run: false,
            wait: DurationSetting(Duration::from_secs(30)),
            request_timeout: DurationSetting(Duration::from_secs(10)),
        }
    }
}

impl Settings {
    pub fn wait_duration(&self) -> Duration {
        self.wait.0
    }

    pub fn request_timeout_duration(&self) -> Duration {
        self.request_timeout.0.max(Duration::from_millis(100))
    }

    /// Checks what serde cannot: values that parse but make no sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.subject.trim().is_empty() {
            return Err("--subject must not be empty".into());
        }
        if self.schema_registry_url.trim().is_empty() {
            return Err("--schema-registry-url must not be empty".into());
        }
        Ok(())
    }
}

/// Register the lsst-alert-packet alert schemas in a Confluent schema registry.
///
/// Safe to run on every deployment: schemas already in place are skipped, a conflicting one
/// stops the run with an error naming both, and nothing is deleted unless --prune is given.
#[derive(Debug, Parser, Serialize)]
#[command(name = "schema-sync", version)]
pub struct Cli {
    #[command(flatten)]
    #[serde(skip)]
    pub config: ConfigFileArg,
    /// URL of the schema registry's Confluent REST API [default: http://localhost:8081].
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_registry_url: Option<String>,
    /// Subject to register the alert schemas under [default: alert-packet].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `import`: every version with id major*100+minor (needs IMPORT mode); `latest`: only
    /// the latest, id chosen by the registry [default: import].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The lsst-alert-packet `schema` directory [default: $ALERT_SCHEMA_DIR, else the
    /// package imported by $ALERT_SCHEMA_PYTHON or python3].
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_dir: Option<PathBuf>,
    /// Also register each version under its topic subject `lsst-alerts-v{M.m}-value`.
    #[arg(long)]
    #[serde(skip_serializing_if = "not")]
    pub per_version_subjects: bool,
    /// Delete versions of the managed subjects whose schema is not in the tree.
    #[arg(long)]
    #[serde(skip_serializing_if = "not")]
    pub prune: bool,
    /// Print what would be done and change nothing.
    #[arg(long)]
    #[serde(skip_serializing_if = "not")]
    pub dry_run: bool,
    /// How long to wait for the registry to answer before giving up (seconds, or 500ms,
    /// 10s, 2m) [default: 30s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<DurationSetting>,
    /// How long each registry request may take [default: 10s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<DurationSetting>,
    #[command(flatten)]
    #[serde(skip)]
    pub log: LogArgs,
}

impl Cli {
    /// The settings from every layer, flags winning. (Boxed: `SettingsError` carries a whole
    /// `config` error and is large.)
    pub fn settings(&self) -> Result<Settings, Box<settings::SettingsError>> {
        self.config.load(ENV_PREFIX, &[], self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("schema-sync").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_match_upstream() {
        let settings = parse(&[]).unwrap().settings().unwrap();
        assert_eq!(settings.subject, "alert-packet");
        assert_eq!(settings.mode, Mode::Import);
        assert_eq!(settings.schema_registry_url, "http://localhost:8081");
        assert!(!settings.prune && !settings.dry_run && !settings.per_version_subjects);
    }

    #[test]
    fn flags_override_the_file() {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(
            &mut file,
            b"subject = \"from-file\"\nmode = \"latest\"\nwait = 5\n",
        )
        .unwrap();
        let path = file.path().to_str().unwrap();
        let settings = parse(&["--config", path, "--subject", "from-flag", "--prune"])
            .unwrap()
            .settings()
            .unwrap();
        assert_eq!(settings.subject, "from-flag");
        assert_eq!(settings.mode, Mode::Latest);
        assert_eq!(settings.wait_duration(), Duration::from_secs(5));
        assert!(settings.prune);
        let settings = parse(&["--wait", "1500ms", "--request-timeout", "2"])
            .unwrap()
            .settings()
            .unwrap();
        assert_eq!(settings.wait_duration(), Duration::from_millis(1500));
        assert_eq!(settings.request_timeout_duration(), Duration::from_secs(2));
        assert!(!settings.prune, "an absent switch leaves the default");
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        let err = parse(&["--mode", "everything"]).unwrap_err().to_string();
        assert!(err.contains("everything"), "{err}");
        assert!(parse(&["--wait", "soon"]).is_err());
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"subjcet = \"typo\"\n").unwrap();
        let err = parse(&["--config", file.path().to_str().unwrap()])
            .unwrap()
            .settings()
            .unwrap_err()
            .to_string();
        assert!(err.contains("subjcet"), "{err}");
        let err = parse(&["--config", "/nonexistent/schema-sync.toml"])
            .unwrap()
            .settings()
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        let settings = parse(&["--subject", " "]).unwrap().settings().unwrap();
        assert!(settings.validate().is_err());
    }
}
