//! Settings: loaded in layers (defaults → optional file → `ALERTDB_INGESTER_*` environment →
//! command line) by `service_kit::settings`, then validated once into an [`IngesterConfig`]
//! so the rest of the crate only sees values that make sense.
//!
//! The listen address, the Kafka connection, the stores and logging are the shared pieces
//! (`service_kit`, `object_storage`), with the same flags and meaning in every daemon; this
//! module holds what is the ingester's own. Upstream's flags (`--kafka-host`, `--kafka-topics`,
//! `--kafka-auth-mechanism`, `--bucket-alerts`, `--endpoint-url`, ...) are accepted, so
//! existing deployment arguments keep working; upstream's password variable
//! `ALERTDB_KAFKA_PASSWORD` is read as well.

use alert_archive::Layout;
use clap::Parser;
use object_storage::{StoreArgs, StoreOptions, StoreSettings, StoreSettingsError};
use serde::{Deserialize, Serialize};
use service_kit::http::{HttpArgs, HttpSettings, LimitError, Limits};
use service_kit::kafka::{KafkaArgs, KafkaConfigError, KafkaSettings};
use service_kit::settings::{
    self, not, ConfigFileArg, DurationSetting, ListenArgs, ListenHostError, ListenSettings,
    SettingsError,
};
use service_kit::telemetry::LogArgs;
use std::net::SocketAddr;
use std::time::Duration;

/// Prefix of the layered environment variables (`ALERTDB_INGESTER_STORE__ALERTS_URL`, ...).
pub const ENV_PREFIX: &str = "ALERTDB_INGESTER";
/// Upstream's password variable, still honoured.
pub const UPSTREAM_PASSWORD_ENV: &str = "ALERTDB_KAFKA_PASSWORD";

/// Where a new consumer group starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    Earliest,
    Latest,
}

/// The raw settings, as an operator writes them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address of /metrics, /healthz and /readyz.
    pub listen: ListenSettings,
    /// Where alerts and schemas are written.
    pub store: StoreSettings,
    pub kafka: KafkaSettings,
    pub layout: String,
    /// Topics to archive.
    pub topics: Vec<String>,
    pub group: String,
    pub auto_offset_reset: OffsetReset,
    /// Confluent schema registry base URL.
    pub schema_registry_address: Option<String>,
    pub registry_timeout: DurationSetting,
    /// Whether poison messages go to a dead-letter topic (otherwise the ingester stops and
    /// reports not ready).
    pub dlq_enabled: bool,
    /// Dead-letter topic; `<source topic>.dlq` when unset.
    pub dlq_topic: Option<String>,
    /// Create missing dead-letter topics at start (broker defaults for partitions and
    /// replication) instead of waiting for an operator to.
    pub create_dlq_topic: bool,
    /// `/healthz` fails when the consume loop has not turned for this long.
    pub liveness_deadline: DurationSetting,
    /// Alert writes in flight at once.
    pub max_in_flight: usize,
    /// gzip level, 0–9.
    pub gzip_level: u32,
    pub commit_interval: DurationSetting,
    pub retry_initial_backoff: DurationSetting,
    pub retry_max_backoff: DurationSetting,
    /// How long SIGTERM waits for in-flight writes before abandoning them.
    pub drain_timeout: DurationSetting,
    /// Timeouts and connection limit of the ops listener (`[http]`, `--http-*`).
    pub http: HttpSettings,
    /// Whether each archived alert gets a row in the index table (`{alerts store}/index/alerts/`).
    pub index_enabled: bool,
    /// The longest an archived alert's index row may wait in the buffer before a flush.
    pub index_interval: DurationSetting,
    /// A buffer holding this many rows is flushed at once, whatever its age.
    pub index_max_rows: usize,
}

impl Default for Settings {
    fn default() -> Self {
        let ms = |n| DurationSetting(Duration::from_millis(n));
        Self {
            // Upstream's defaults; containers set --listen-host 0.0.0.0.
            listen: ListenSettings::new("127.0.0.1", 8080),
            store: StoreSettings::default(),
            kafka: KafkaSettings::default(),
            layout: "v2".into(),
            topics: Vec::new(),
            group: "alertdb-ingester".into(),
            auto_offset_reset: OffsetReset::Earliest,
            schema_registry_address: None,
            registry_timeout: ms(5_000),
            dlq_enabled: true,
            dlq_topic: None,
            create_dlq_topic: false,
            liveness_deadline: DurationSetting(DEFAULT_LIVENESS_DEADLINE),
            max_in_flight: 64,
            gzip_level: DEFAULT_GZIP_LEVEL,
            commit_interval: ms(500),
            retry_initial_backoff: ms(100),
            retry_max_backoff: ms(5_000),
            drain_timeout: ms(20_000),
            http: HttpSettings::default(),
            index_enabled: true,
            index_interval: DurationSetting(DEFAULT_INDEX_INTERVAL),
            index_max_rows: DEFAULT_INDEX_MAX_ROWS,
        }
    }
}

/// The issue's bound on how long an index row may lag its alert.
pub const DEFAULT_INDEX_INTERVAL: Duration = Duration::from_secs(60);
/// ~100 s of alerts at the survey's peak rate per instance; a batch's Parquet file stays a few
/// MB and its rows a few tens of MB in memory.
pub const DEFAULT_INDEX_MAX_ROWS: usize = 100_000;

/// Long enough for a store or registry outage of a minute or two to be ridden out with
/// retries (not ready, not restarted); a loop stuck longer is restarted.
pub const DEFAULT_LIVENESS_DEADLINE: Duration = Duration::from_secs(120);

/// Chosen by measurement (docs/benchmarks.md, `gzip_levels`): level 1 is ISA-L's igzip, ~3× as
/// fast as any other implementation's level 1 or above, for 2–4% more bytes than levels 2–9.
pub const DEFAULT_GZIP_LEVEL: u32 = 1;

/// The command line: the shared pieces flattened, then the ingester's own flags. Every flag
/// is optional so that unset flags leave the file and the environment in force; the struct
/// serializes to the settings' keys (the top layer).
#[derive(Debug, Clone, Default, Parser, Serialize)]
#[command(
    name = "alertdb-ingester",
    version,
    about = "Archive alerts from Kafka into object storage (gzip of each message, schemas beside them)"
)]
pub struct Cli {
    #[command(flatten)]
    #[serde(skip)]
    pub config: ConfigFileArg,
    /// --listen-*: the address of /metrics, /healthz and /readyz [default: 127.0.0.1:8080].
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Archive key layout: v2 or v1 [default: v2].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Topics to archive, comma-separated.
    #[arg(
        long,
        visible_alias = "kafka-topic",
        value_delimiter = ',',
        value_name = "TOPICS"
    )]
    #[serde(rename = "topics", skip_serializing_if = "Option::is_none")]
    pub kafka_topics: Option<Vec<String>>,
    /// Consumer group [default: alertdb-ingester].
    #[arg(long)]
    #[serde(rename = "group", skip_serializing_if = "Option::is_none")]
    pub kafka_group: Option<String>,
    /// Where a new consumer group starts [default: earliest].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_offset_reset: Option<OffsetReset>,
    /// Schema registry base URL, e.g. http://registry:8081.
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_registry_address: Option<String>,
    /// Dead-letter topic for poison messages [default: <topic>.dlq].
    #[arg(long, value_name = "TOPIC")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlq_topic: Option<String>,
    /// No dead-letter topic: stop at the first poison message and report not ready.
    #[arg(long)]
    #[serde(
        rename = "dlq_enabled",
        skip_serializing_if = "not",
        serialize_with = "settings::serialize_negated"
    )]
    pub no_dlq: bool,
    /// Create a missing dead-letter topic at start (broker defaults; needs the ACL to create
    /// topics). Without it the ingester waits, not ready, until the topic exists.
    #[arg(long)]
    #[serde(skip_serializing_if = "not")]
    pub create_dlq_topic: bool,
    /// /healthz fails when the consume loop has not turned for this long (500ms, 10s, 2m)
    /// [default: 2m].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_deadline: Option<DurationSetting>,
    /// Alert writes in flight at once [default: 64].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    /// gzip level 0–9 [default: 1, ISA-L's igzip; 0 and 2–9 are libdeflate's].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gzip_level: Option<u32>,
    /// The ops listener's limits.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Do not write index rows (the archive alone, as before the index existed).
    #[arg(long)]
    #[serde(
        rename = "index_enabled",
        skip_serializing_if = "not",
        serialize_with = "settings::serialize_negated"
    )]
    pub no_index: bool,
    /// The longest an index row waits before it is written (500ms, 10s, 2m) [default: 60s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_interval: Option<DurationSetting>,
    /// Index rows buffered before a flush, whatever their age [default: 100000].
    #[arg(long, value_name = "ROWS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_max_rows: Option<usize>,
    #[command(flatten)]
    #[serde(skip)]
    pub log: LogArgs,
    /// A one-off job instead of the daemon.
    #[command(subcommand)]
    #[serde(skip)]
    pub command: Option<crate::rebuild::Command>,
}

impl Cli {
    /// Loads the settings with this command line as the top layer, then upstream's password
    /// variable when no layer gave a password.
    pub fn load(&self) -> Result<Settings, Box<SettingsError>> {
        let mut settings: Settings = self.config.load(ENV_PREFIX, &["topics"], self)?;
        settings.kafka.password_from_env(UPSTREAM_PASSWORD_ENV);
        Ok(settings)
    }
}

/// What is wrong with the settings; each message names the setting and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Store(#[from] StoreSettingsError),
    #[error("--layout: {0}")]
    Layout(String),
    #[error("--kafka-topics (ALERTDB_INGESTER_TOPICS) is required: the topics to archive, comma-separated")]
    NoTopics,
    #[error("--kafka-topics has an empty topic name")]
    EmptyTopic,
    #[error("--kafka-group must not be empty")]
    EmptyGroup,
    #[error("--schema-registry-address (ALERTDB_INGESTER_SCHEMA_REGISTRY_ADDRESS) is required, e.g. http://schema-registry:8081")]
    MissingRegistry,
    #[error("--schema-registry-address: {0}")]
    Registry(#[from] registry_client::RegistryError),
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaConfigError),
    #[error(transparent)]
    ListenHost(#[from] ListenHostError),
    #[error("--max-in-flight must be at least 1")]
    ZeroInFlight,
    #[error("--gzip-level {0} is out of range; use 0 to 9")]
    GzipLevel(u32),
    #[error("--dlq-topic must not be empty (use --no-dlq to turn the dead-letter topic off)")]
    EmptyDlqTopic,
    #[error("--dlq-topic {0} is also a source topic; dead letters would be read back")]
    DlqIsSource(String),
    #[error("--liveness-deadline must be at least 100ms")]
    LivenessDeadline,
    #[error(transparent)]
    Http(#[from] LimitError),
    #[error("--index-interval must be between 100ms and 1h (the bound on how long an alert may be missing from the index)")]
    IndexInterval,
    #[error("--index-max-rows must be at least 1")]
    IndexMaxRows,
}

/// How archived alerts are indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexConfig {
    /// The longest a row waits in the buffer.
    pub interval: Duration,
    /// A buffer this full is flushed at once.
    pub max_rows: usize,
}

/// Where poison messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetters {
    /// `<source topic>.dlq`.
    PerTopic,
    /// One topic for every source.
    Topic(String),
    /// Stop at the first poison message and report not ready.
    Disabled,
}

impl DeadLetters {
    /// The dead-letter topic of a message from `source`, if any.
    pub fn topic_for(&self, source: &str) -> Option<String> {
        match self {
            DeadLetters::PerTopic => Some(format!("{source}.dlq")),
            DeadLetters::Topic(topic) => Some(topic.clone()),
            DeadLetters::Disabled => None,
        }
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct IngesterConfig {
    pub listen: SocketAddr,
    pub alerts_url: String,
    pub schemas_url: String,
    pub store: StoreOptions,
    pub layout: Layout,
    pub topics: Vec<String>,
    pub group: String,
    pub auto_offset_reset: OffsetReset,
    pub kafka: KafkaSettings,
    pub registry_url: String,
    pub registry_timeout: Duration,
    pub dead_letters: DeadLetters,
    pub create_dlq_topic: bool,
    pub liveness_deadline: Duration,
    pub max_in_flight: usize,
    pub gzip_level: u32,
    pub commit_interval: Duration,
    pub retry_initial_backoff: Duration,
    pub retry_max_backoff: Duration,
    pub drain_timeout: Duration,
    /// Timeouts and connection limit of the ops listener.
    pub http: Limits,
    /// `None` with `--no-index`.
    pub index: Option<IndexConfig>,
}

impl Settings {
    /// Checks everything that can be checked without a network and resolves defaults.
    pub fn validate(self) -> Result<IngesterConfig, ConfigError> {
        let listen = self.listen.socket_addr()?;
        let stores = self.store.resolve()?;
        let layout: Layout = self.layout.parse().map_err(ConfigError::Layout)?;

        if self.topics.is_empty() {
            return Err(ConfigError::NoTopics);
        }
        let topics: Vec<String> = self.topics.iter().map(|t| t.trim().to_owned()).collect();
        if topics.iter().any(String::is_empty) {
            return Err(ConfigError::EmptyTopic);
        }
        if self.group.trim().is_empty() {
            return Err(ConfigError::EmptyGroup);
        }
        self.kafka.validate()?;

        let registry_url = self
            .schema_registry_address
            .clone()
            .filter(|a| !a.trim().is_empty())
            .ok_or(ConfigError::MissingRegistry)?;
        registry_client::RegistryClient::new(&registry_url, Duration::from_secs(1))?;

        let dead_letters = match (&self.dlq_topic, self.dlq_enabled) {
            (_, false) => DeadLetters::Disabled,
            (Some(topic), true) if topic.trim().is_empty() => {
                return Err(ConfigError::EmptyDlqTopic)
            }
            (Some(topic), true) => {
                if topics.contains(topic) {
                    return Err(ConfigError::DlqIsSource(topic.clone()));
                }
                DeadLetters::Topic(topic.clone())
            }
            (None, true) => DeadLetters::PerTopic,
        };
        if self.max_in_flight == 0 {
            return Err(ConfigError::ZeroInFlight);
        }
        if self.liveness_deadline.0 < Duration::from_millis(100) {
            return Err(ConfigError::LivenessDeadline);
        }
        if self.gzip_level > 9 {
            return Err(ConfigError::GzipLevel(self.gzip_level));
        }
        let index = if self.index_enabled {
            let interval = self.index_interval.0;
            if interval < Duration::from_millis(100) || interval > Duration::from_secs(3600) {
                return Err(ConfigError::IndexInterval);
            }
            if self.index_max_rows == 0 {
                return Err(ConfigError::IndexMaxRows);
            }
            Some(IndexConfig {
                interval,
                max_rows: self.index_max_rows,
            })
        } else {
            None
        };
        let at_least = |d: DurationSetting, min: Duration| d.0.max(min);
        let retry_initial_backoff = at_least(self.retry_initial_backoff, Duration::from_millis(1));
        Ok(IngesterConfig {
            listen,
            alerts_url: stores.alerts_url,
            schemas_url: stores.schemas_url,
            store: stores.options,
            layout,
            topics,
            group: self.group.trim().to_owned(),
            auto_offset_reset: self.auto_offset_reset,
            kafka: self.kafka,
            registry_url,
            registry_timeout: at_least(self.registry_timeout, Duration::from_millis(1)),
            dead_letters,
            create_dlq_topic: self.create_dlq_topic,
            liveness_deadline: self.liveness_deadline.0,
            max_in_flight: self.max_in_flight,
            gzip_level: self.gzip_level,
            commit_interval: at_least(self.commit_interval, Duration::from_millis(10)),
            retry_initial_backoff,
            retry_max_backoff: at_least(self.retry_max_backoff, retry_initial_backoff),
            drain_timeout: self.drain_timeout.0,
            http: self.http.validate()?,
            index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::kafka::SecurityProtocol;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["alertdb-ingester"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    }

    fn base() -> Vec<&'static str> {
        vec![
            "--alerts-url",
            "memory://",
            "--kafka-topics",
            "alerts-simulated",
            "--schema-registry-address",
            "http://127.0.0.1:8081",
        ]
    }

    /// The base flags, minus those `extra` gives itself, then `extra`.
    fn config(extra: &[&str]) -> Result<IngesterConfig, ConfigError> {
        let mut args: Vec<&str> = Vec::new();
        for pair in base().chunks(2) {
            if !extra.contains(&pair[0]) {
                args.extend_from_slice(pair);
            }
        }
        args.extend_from_slice(extra);
        cli(&args).load().unwrap().validate()
    }

    #[test]
    fn minimal_flags_give_upstream_defaults() {
        let config = config(&[]).unwrap();
        assert_eq!(config.group, "alertdb-ingester");
        assert_eq!(config.schemas_url, "memory://");
        assert_eq!(config.layout, Layout::V2);
        assert_eq!(config.dead_letters, DeadLetters::PerTopic);
        assert_eq!(
            config.dead_letters.topic_for("alerts-simulated").as_deref(),
            Some("alerts-simulated.dlq")
        );
        assert_eq!(config.kafka.protocol(), SecurityProtocol::Plaintext);
        assert!(!config.store.fsync_local_files);
        assert!(!config.create_dlq_topic);
        assert_eq!(config.liveness_deadline, Duration::from_secs(120));
    }

    #[test]
    fn liveness_deadline_and_dlq_creation_are_flags_or_settings() {
        let flags = config(&["--liveness-deadline", "90s", "--create-dlq-topic"]).unwrap();
        assert_eq!(flags.liveness_deadline, Duration::from_secs(90));
        assert!(flags.create_dlq_topic);
        let mut toml = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(
            &mut toml,
            b"liveness_deadline = \"1500ms\"\ncreate_dlq_topic = true\n",
        )
        .unwrap();
        let path = toml.path().to_str().unwrap();
        let file = config(&["--config", path]).unwrap();
        assert_eq!(file.liveness_deadline, Duration::from_millis(1500));
        assert!(file.create_dlq_topic);
        let err = config_err(&["--liveness-deadline", "10ms"]);
        assert!(matches!(err, ConfigError::LivenessDeadline), "{err}");
        assert!(Cli::try_parse_from(["x", "--liveness-deadline", "soon"]).is_err());
    }

    #[test]
    fn indexing_is_on_by_default_and_tunable() {
        let index = config(&[]).unwrap().index.unwrap();
        assert_eq!(index.interval, Duration::from_secs(60));
        assert_eq!(index.max_rows, 100_000);
        let index = config(&["--index-interval", "5s", "--index-max-rows", "10"])
            .unwrap()
            .index
            .unwrap();
        assert_eq!(
            (index.interval, index.max_rows),
            (Duration::from_secs(5), 10)
        );
        assert_eq!(config(&["--no-index"]).unwrap().index, None);
        let mut toml = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut toml, b"index_enabled = false\n").unwrap();
        let path = toml.path().to_str().unwrap();
        assert_eq!(config(&["--config", path]).unwrap().index, None);
        for bad in [["--index-interval", "10ms"], ["--index-interval", "2h"]] {
            assert!(matches!(config_err(&bad), ConfigError::IndexInterval));
        }
        assert!(matches!(
            config_err(&["--index-max-rows", "0"]),
            ConfigError::IndexMaxRows
        ));
    }

    fn config_err(extra: &[&str]) -> ConfigError {
        config(extra).unwrap_err()
    }

    #[test]
    fn fsync_of_local_files_is_a_flag_or_a_store_setting() {
        assert!(
            config(&["--fsync-local-files"])
                .unwrap()
                .store
                .fsync_local_files
        );
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"[store]\nfsync_local_files = true\n").unwrap();
        let path = file.path().to_str().unwrap();
        assert!(config(&["--config", path]).unwrap().store.fsync_local_files);
    }

    #[test]
    fn upstream_flags_map_onto_settings() {
        let config = config(&[
            "--kafka-host",
            "kafka:9092",
            "--kafka-topics",
            "a,b",
            "--kafka-group",
            "g",
            "--layout",
            "v1",
            "--dlq-topic",
            "dead",
        ])
        .unwrap();
        assert_eq!(config.kafka.bootstrap_servers, "kafka:9092");
        assert_eq!(config.topics, ["a", "b"]);
        assert_eq!(config.group, "g");
        assert_eq!(config.layout, Layout::V1);
        assert_eq!(config.dead_letters, DeadLetters::Topic("dead".into()));
        let config = config_no_dlq();
        assert_eq!(config.dead_letters, DeadLetters::Disabled);
    }

    fn config_no_dlq() -> IngesterConfig {
        config(&["--no-dlq"]).unwrap()
    }

    #[test]
    fn upstream_buckets_become_gcs_or_s3_urls() {
        let c = cli(&[
            "--bucket-alerts",
            "alerts",
            "--bucket-schemas",
            "schemas",
            "--kafka-topics",
            "t",
            "--schema-registry-address",
            "http://r:8081",
        ])
        .load()
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(c.alerts_url, "gs://alerts");
        assert_eq!(c.schemas_url, "gs://schemas");
        let c = cli(&[
            "--bucket-alerts",
            "alerts",
            "--endpoint-url",
            "http://minio:9000",
            "--kafka-topics",
            "t",
            "--schema-registry-address",
            "http://r:8081",
        ])
        .load()
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(c.alerts_url, "s3://alerts");
        assert_eq!(c.schemas_url, "s3://alerts");
        assert_eq!(c.store.s3_endpoint.as_deref(), Some("http://minio:9000"));
    }

    #[test]
    fn config_errors_name_the_setting() {
        let err = cli(&[
            "--kafka-topics",
            "t",
            "--schema-registry-address",
            "http://r",
        ])
        .load()
        .unwrap()
        .validate()
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::Store(StoreSettingsError::Missing)),
            "{err}"
        );
        let err = config(&["--alerts-url", "ftp://x"]).unwrap_err();
        assert!(err.to_string().contains("ftp"), "{err}");
        let err = config(&["--alerts-url", "gs://"]).unwrap_err();
        assert!(matches!(err, ConfigError::Store(_)), "{err}");
        let err = config(&["--layout", "v3"]).unwrap_err();
        assert!(err.to_string().contains("v3"), "{err}");
        let err = config(&["--gzip-level", "10"]).unwrap_err();
        assert!(matches!(err, ConfigError::GzipLevel(10)), "{err}");
        let err = config(&["--max-in-flight", "0"]).unwrap_err();
        assert!(matches!(err, ConfigError::ZeroInFlight), "{err}");
        let err = config(&["--listen-host", "localhost"]).unwrap_err();
        assert!(matches!(err, ConfigError::ListenHost(_)), "{err}");
        let err = config(&["--schema-registry-address", "registry:8081"]).unwrap_err();
        assert!(matches!(err, ConfigError::Registry(_)), "{err}");
        let err = config(&["--dlq-topic", "alerts-simulated"]).unwrap_err();
        assert!(matches!(err, ConfigError::DlqIsSource(_)), "{err}");
        let err = config(&["--bucket-alerts", "x"]).unwrap_err();
        assert!(
            matches!(err, ConfigError::Store(StoreSettingsError::BothStyles)),
            "{err}"
        );
        let err = cli(&[
            "--alerts-url",
            "memory://",
            "--schema-registry-address",
            "http://r",
        ])
        .load()
        .unwrap()
        .validate()
        .unwrap_err();
        assert!(matches!(err, ConfigError::NoTopics), "{err}");
        let err = cli(&["--alerts-url", "memory://", "--kafka-topics", "t"])
            .load()
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(matches!(err, ConfigError::MissingRegistry), "{err}");
    }

    #[test]
    fn kafka_auth_errors_are_reported() {
        let err = config(&["--kafka-auth-mechanism", "scram", "--kafka-username", "u"]);
        // The password may be in the test environment; only assert when it is not.
        if std::env::var(UPSTREAM_PASSWORD_ENV).is_err() {
            let err = err.unwrap_err();
            assert!(err.to_string().contains("password"), "{err}");
        }
        let err = config(&[
            "--kafka-auth-mechanism",
            "mtls",
            "--tls-client-key-location",
            "/nonexistent/key",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("all three or none"), "{err}");
        assert!(Cli::try_parse_from(["x", "--kafka-auth-mechanism", "kerberos"]).is_err());
    }

    /// Every flag upstream's alertdb-ingester takes, as its deployments pass them.
    #[test]
    fn every_upstream_flag_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, "pem").unwrap();
            path.to_str().unwrap().to_owned()
        };
        let (key, crt, ca) = (file("key"), file("crt"), file("ca"));
        let cli = Cli::try_parse_from([
            "alertdb-ingester",
            "--kafka-host",
            "kafka:9092",
            "--kafka-topic",
            "alerts-simulated",
            "--kafka-group",
            "alertdb-ingester",
            "--kafka-auth-mechanism",
            "mtls",
            "--tls-client-key-location",
            &key,
            "--tls-client-crt-location",
            &crt,
            "--tls-server-ca-crt-location",
            &ca,
            "--schema-registry-address",
            "http://registry:8081",
            "--gcp-project",
            "rubin",
            "--gcp-bucket-alerts",
            "alerts",
            "--gcp-bucket-schemas",
            "schemas",
            "--verbose",
            "--debug",
        ])
        .unwrap();
        assert_eq!(cli.log.directive("warn"), "debug");
        let upstream = cli.load().unwrap().validate().unwrap();
        assert_eq!(upstream.kafka.protocol(), SecurityProtocol::Ssl);
        assert_eq!(upstream.alerts_url, "gs://alerts");
        assert_eq!(upstream.schemas_url, "gs://schemas");
        assert_eq!(upstream.topics, ["alerts-simulated"]);
        // Upstream's S3 flags.
        let s3 = config(&[
            "--alerts-url",
            "s3://alerts",
            "--endpoint-url",
            "http://127.0.0.1:9000",
        ])
        .unwrap();
        assert_eq!(
            s3.store.s3_endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn shared_settings_come_from_sections_of_the_file_and_environment() {
        let mut toml = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(
            &mut toml,
            b"commit_interval = \"2s\"\n[listen]\nport = 9100\n[store]\nalerts_url = \"memory://\"\n[kafka]\nbootstrap_servers = \"file:9092\"\n",
        )
        .unwrap();
        let path = toml.path().to_str().unwrap();
        let config = cli(&[
            "--config",
            path,
            "--kafka-topics",
            "t",
            "--schema-registry-address",
            "http://r:8081",
            "--listen-host",
            "0.0.0.0",
        ])
        .load()
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9100".parse().unwrap());
        assert_eq!(config.alerts_url, "memory://");
        assert_eq!(config.kafka.bootstrap_servers, "file:9092");
        assert_eq!(config.commit_interval, Duration::from_secs(2));
        let mut bad = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut bad, b"commit_interval_ms = 500\n").unwrap();
        let err = cli(&["--config", bad.path().to_str().unwrap()])
            .load()
            .unwrap_err();
        assert!(err.to_string().contains("commit_interval_ms"), "{err}");
    }
}
