//! Settings: loaded in layers (defaults → optional file → `ALERTDB_INGESTER_*` environment →
//! command line) by `service_kit::settings`, then validated once into an [`IngesterConfig`]
//! so the rest of the crate only sees values that make sense.
//!
//! Upstream's flags (`--kafka-host`, `--kafka-topics`, `--kafka-auth-mechanism`,
//! `--bucket-alerts`, ...) are accepted too and mapped onto the same settings, so existing
//! deployment arguments keep working; upstream's password variable `ALERTDB_KAFKA_PASSWORD`
//! is read as well.

use alert_archive::Layout;
use clap::Parser;
use object_storage::StoreOptions;
use serde::Deserialize;
use service_kit::kafka::{KafkaConfigError, KafkaSettings, SecurityProtocol};
use service_kit::secret::Secret;
use service_kit::settings::{self, DurationSetting, Layers, Overrides, SettingsError};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Prefix of the layered environment variables (`ALERTDB_INGESTER_ALERTS_URL`, ...).
pub const ENV_PREFIX: &str = "ALERTDB_INGESTER";
/// Upstream's password variable, still honoured.
pub const UPSTREAM_PASSWORD_ENV: &str = "ALERTDB_KAFKA_PASSWORD";

/// Upstream's `--kafka-auth-mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AuthMechanism {
    /// SCRAM-SHA-512 over a plain connection (SASL_PLAINTEXT), as upstream.
    Scram,
    /// TLS with client certificates (SSL).
    Mtls,
    /// PLAINTEXT: in-cluster listeners without authentication.
    None,
}

/// Where a new consumer group starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    Earliest,
    Latest,
}

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
    /// Upstream compatibility: bucket of the alerts (GCS, or S3 with `endpoint_url`).
    pub bucket_alerts: Option<String>,
    /// Upstream compatibility: bucket of the schemas (defaults to the alerts' bucket).
    pub bucket_schemas: Option<String>,
    /// Upstream compatibility: endpoint of an S3-compatible store; makes the buckets S3 ones.
    pub endpoint_url: Option<String>,
    pub store: StoreOptions,
    pub layout: String,
    /// Topics to archive.
    pub topics: Vec<String>,
    pub group: String,
    pub auto_offset_reset: OffsetReset,
    /// Upstream compatibility: overrides `kafka.security_protocol` when set.
    pub kafka_auth_mechanism: Option<AuthMechanism>,
    pub kafka: KafkaSettings,
    /// Confluent schema registry base URL.
    pub schema_registry_address: Option<String>,
    pub registry_timeout_ms: u64,
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
    pub commit_interval_ms: u64,
    pub retry_initial_backoff_ms: u64,
    pub retry_max_backoff_ms: u64,
    /// How long SIGTERM waits for in-flight writes before abandoning them.
    pub drain_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_host: "127.0.0.1".into(),
            listen_port: 8080,
            alerts_url: None,
            schemas_url: None,
            bucket_alerts: None,
            bucket_schemas: None,
            endpoint_url: None,
            store: StoreOptions::default(),
            layout: "v2".into(),
            topics: Vec::new(),
            group: "alertdb-ingester".into(),
            auto_offset_reset: OffsetReset::Earliest,
            kafka_auth_mechanism: None,
            kafka: KafkaSettings::default(),
            schema_registry_address: None,
            registry_timeout_ms: 5_000,
            dlq_enabled: true,
            dlq_topic: None,
            create_dlq_topic: false,
            liveness_deadline: DurationSetting(DEFAULT_LIVENESS_DEADLINE),
            max_in_flight: 64,
            gzip_level: DEFAULT_GZIP_LEVEL,
            commit_interval_ms: 500,
            retry_initial_backoff_ms: 100,
            retry_max_backoff_ms: 5_000,
            drain_timeout_secs: 20,
        }
    }
}

/// Long enough for a store or registry outage of a minute or two to be ridden out with
/// retries (not ready, not restarted); a loop stuck longer is restarted.
pub const DEFAULT_LIVENESS_DEADLINE: Duration = Duration::from_secs(120);

/// Chosen by measurement (docs/benchmarks.md, `gzip_levels`): level 1 is ISA-L's igzip, ~3× as
/// fast as any other implementation's level 1 or above, for 2–4% more bytes than levels 2–9.
pub const DEFAULT_GZIP_LEVEL: u32 = 1;

/// The command line. Every flag is optional so that unset flags leave the file and the
/// environment in force.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "alertdb-ingester",
    version,
    about = "Archive alerts from Kafka into object storage (gzip of each message, schemas beside them)"
)]
pub struct Cli {
    /// Settings file (TOML, YAML or JSON).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of /metrics, /healthz and /readyz [default: 127.0.0.1].
    #[arg(long)]
    pub listen_host: Option<String>,
    /// Port of /metrics, /healthz and /readyz [default: 8080].
    #[arg(long)]
    pub listen_port: Option<u16>,
    /// Store of the alerts (gs://BUCKET[/PREFIX], s3://BUCKET[/PREFIX], file:///DIR, memory://).
    #[arg(long, value_name = "URL")]
    pub alerts_url: Option<String>,
    /// Store of the schemas [default: the alerts' store].
    #[arg(long, value_name = "URL")]
    pub schemas_url: Option<String>,
    /// Upstream compatibility: bucket of the alerts (GCS; S3 with --endpoint-url).
    #[arg(long, visible_alias = "gcp-bucket-alerts", value_name = "BUCKET")]
    pub bucket_alerts: Option<String>,
    /// Upstream compatibility: bucket of the schemas [default: the alerts' bucket].
    #[arg(long, visible_alias = "gcp-bucket-schemas", value_name = "BUCKET")]
    pub bucket_schemas: Option<String>,
    /// Upstream compatibility: endpoint of an S3-compatible store.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Upstream compatibility: accepted and ignored (credentials name the project).
    #[arg(long, hide = true)]
    pub gcp_project: Option<String>,
    /// GCS service-account JSON file [default: application default credentials].
    #[arg(long, value_name = "FILE")]
    pub gcs_service_account_path: Option<PathBuf>,
    /// file:// stores: fsync every object and its directory before its offset can be
    /// committed (survives an OS crash or power cut; costs a disk flush per alert).
    #[arg(long)]
    pub fsync_local_files: bool,
    /// Archive key layout: v2 or v1 [default: v2].
    #[arg(long)]
    pub layout: Option<String>,
    /// Kafka bootstrap servers, host:port[,host:port...].
    #[arg(long, value_name = "HOST:PORT")]
    pub kafka_host: Option<String>,
    /// Topics to archive, comma-separated.
    #[arg(
        long,
        visible_alias = "kafka-topic",
        value_delimiter = ',',
        value_name = "TOPICS"
    )]
    pub kafka_topics: Option<Vec<String>>,
    /// Consumer group [default: alertdb-ingester].
    #[arg(long)]
    pub kafka_group: Option<String>,
    /// scram (SASL_PLAINTEXT, SCRAM-SHA-512), mtls (SSL with client certificates) or none
    /// (PLAINTEXT).
    #[arg(long, value_enum)]
    pub kafka_auth_mechanism: Option<AuthMechanism>,
    /// SCRAM user name; the password comes from ALERTDB_KAFKA_PASSWORD.
    #[arg(long)]
    pub kafka_username: Option<String>,
    /// CA certificate of the brokers (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_server_ca_crt_location: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_client_crt_location: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_client_key_location: Option<PathBuf>,
    /// Where a new consumer group starts [default: earliest].
    #[arg(long, value_enum)]
    pub auto_offset_reset: Option<OffsetReset>,
    /// Schema registry base URL, e.g. http://registry:8081.
    #[arg(long, value_name = "URL")]
    pub schema_registry_address: Option<String>,
    /// Dead-letter topic for poison messages [default: <topic>.dlq].
    #[arg(long, value_name = "TOPIC")]
    pub dlq_topic: Option<String>,
    /// No dead-letter topic: stop at the first poison message and report not ready.
    #[arg(long)]
    pub no_dlq: bool,
    /// Create a missing dead-letter topic at start (broker defaults; needs the ACL to create
    /// topics). Without it the ingester waits, not ready, until the topic exists.
    #[arg(long)]
    pub create_dlq_topic: bool,
    /// /healthz fails when the consume loop has not turned for this long (500ms, 10s, 2m)
    /// [default: 2m].
    #[arg(long, value_name = "DURATION")]
    pub liveness_deadline: Option<DurationSetting>,
    /// Alert writes in flight at once [default: 64].
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// gzip level 0–9 [default: 1, ISA-L's igzip; 0 and 2–9 are libdeflate's].
    #[arg(long)]
    pub gzip_level: Option<u32>,
    /// Upstream compatibility: log at info level.
    #[arg(long)]
    pub verbose: bool,
    /// Upstream compatibility: log at debug level.
    #[arg(long)]
    pub debug: bool,
}

impl Cli {
    /// The default log directive, from upstream's `--verbose`/`--debug`.
    pub fn log_level(&self) -> &'static str {
        if self.debug {
            "debug"
        } else {
            "info"
        }
    }

    /// Loads the settings with this command line as the top layer.
    pub fn load(&self) -> Result<Settings, Box<SettingsError>> {
        let path_string = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let overrides = Overrides::new()
            .set("listen_host", self.listen_host.clone())
            .set("listen_port", self.listen_port.map(i64::from))
            .set("alerts_url", self.alerts_url.clone())
            .set("schemas_url", self.schemas_url.clone())
            .set("bucket_alerts", self.bucket_alerts.clone())
            .set("bucket_schemas", self.bucket_schemas.clone())
            .set("endpoint_url", self.endpoint_url.clone())
            .set(
                "store.gcs_service_account_path",
                path_string(&self.gcs_service_account_path),
            )
            .set(
                "store.fsync_local_files",
                self.fsync_local_files.then_some(true),
            )
            .set("layout", self.layout.clone())
            .set("kafka.bootstrap_servers", self.kafka_host.clone())
            .set("topics", self.kafka_topics.clone())
            .set("group", self.kafka_group.clone())
            .set(
                "kafka_auth_mechanism",
                self.kafka_auth_mechanism.map(|m| match m {
                    AuthMechanism::Scram => "scram",
                    AuthMechanism::Mtls => "mtls",
                    AuthMechanism::None => "none",
                }),
            )
            .set("kafka.username", self.kafka_username.clone())
            .set(
                "kafka.tls.server_ca_crt_location",
                path_string(&self.tls_server_ca_crt_location),
            )
            .set(
                "kafka.tls.client_crt_location",
                path_string(&self.tls_client_crt_location),
            )
            .set(
                "kafka.tls.client_key_location",
                path_string(&self.tls_client_key_location),
            )
            .set(
                "auto_offset_reset",
                self.auto_offset_reset.map(|r| match r {
                    OffsetReset::Earliest => "earliest",
                    OffsetReset::Latest => "latest",
                }),
            )
            .set(
                "schema_registry_address",
                self.schema_registry_address.clone(),
            )
            .set("dlq_topic", self.dlq_topic.clone())
            .set("dlq_enabled", self.no_dlq.then_some(false))
            .set("create_dlq_topic", self.create_dlq_topic.then_some(true))
            .set(
                "liveness_deadline",
                self.liveness_deadline.map(|d| d.0.as_secs_f64()),
            )
            .set("max_in_flight", self.max_in_flight.map(|n| n as i64))
            .set("gzip_level", self.gzip_level.map(i64::from));
        let mut settings: Settings = settings::load(Layers {
            file: self.config.as_deref(),
            env_prefix: ENV_PREFIX,
            list_keys: &["topics"],
            overrides,
        })
        .map_err(Box::new)?;
        if settings.kafka.password.is_none() {
            if let Ok(password) = std::env::var(UPSTREAM_PASSWORD_ENV) {
                settings.kafka.password = Some(Secret::new(password));
            }
        }
        Ok(settings)
    }
}

/// What is wrong with the settings; each message names the setting and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--alerts-url (ALERTDB_INGESTER_ALERTS_URL) is required: where to archive alerts, e.g. gs://alerts-bucket or file:///var/lib/alertdb (or upstream's --bucket-alerts)")]
    MissingStore,
    #[error("give either --alerts-url/--schemas-url or upstream's --bucket-alerts/--bucket-schemas, not both")]
    BothStoreStyles,
    #[error("--bucket-alerts/--bucket-schemas {0:?} is not a bucket name")]
    InvalidBucket(String),
    #[error("store: {0}")]
    Store(#[from] object_storage::StorageError),
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
    #[error("--listen-host {0:?} is not an IP address (use 0.0.0.0 for every interface)")]
    ListenHost(String),
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
}

fn bucket_url(bucket: &str, s3: bool) -> Result<String, ConfigError> {
    let valid = !bucket.is_empty()
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(ConfigError::InvalidBucket(bucket.to_owned()));
    }
    Ok(format!("{}://{bucket}", if s3 { "s3" } else { "gs" }))
}

impl Settings {
    /// Checks everything that can be checked without a network and resolves defaults.
    pub fn validate(self) -> Result<IngesterConfig, ConfigError> {
        let host: IpAddr = self
            .listen_host
            .parse()
            .map_err(|_| ConfigError::ListenHost(self.listen_host.clone()))?;
        let mut store = self.store.clone();
        let upstream_style = self.bucket_alerts.is_some() || self.bucket_schemas.is_some();
        let (alerts_url, schemas_url) = if upstream_style {
            if self.alerts_url.is_some() || self.schemas_url.is_some() {
                return Err(ConfigError::BothStoreStyles);
            }
            let s3 = self.endpoint_url.is_some();
            if s3 {
                store.s3_endpoint = self.endpoint_url.clone();
            }
            let alerts = bucket_url(
                self.bucket_alerts
                    .as_deref()
                    .ok_or(ConfigError::MissingStore)?,
                s3,
            )?;
            let schemas = match &self.bucket_schemas {
                Some(bucket) => bucket_url(bucket, s3)?,
                None => alerts.clone(),
            };
            (alerts, schemas)
        } else {
            let alerts = self.alerts_url.clone().ok_or(ConfigError::MissingStore)?;
            let schemas = self.schemas_url.clone().unwrap_or_else(|| alerts.clone());
            if let Some(endpoint) = &self.endpoint_url {
                store.s3_endpoint = Some(endpoint.clone());
            }
            (alerts, schemas)
        };
        // Opening checks scheme, bucket and credentials configuration without a request.
        object_storage::open(&alerts_url, &store)?;
        object_storage::open(&schemas_url, &store)?;
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
        let mut kafka = self.kafka.clone();
        match self.kafka_auth_mechanism {
            Some(AuthMechanism::Scram) => kafka.security_protocol = SecurityProtocol::SaslPlaintext,
            Some(AuthMechanism::Mtls) => kafka.security_protocol = SecurityProtocol::Ssl,
            Some(AuthMechanism::None) => kafka.security_protocol = SecurityProtocol::Plaintext,
            None => {}
        }
        kafka.validate()?;

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
        Ok(IngesterConfig {
            listen: SocketAddr::new(host, self.listen_port),
            alerts_url,
            schemas_url,
            store,
            layout,
            topics,
            group: self.group.trim().to_owned(),
            auto_offset_reset: self.auto_offset_reset,
            kafka,
            registry_url,
            registry_timeout: Duration::from_millis(self.registry_timeout_ms.max(1)),
            dead_letters,
            create_dlq_topic: self.create_dlq_topic,
            liveness_deadline: self.liveness_deadline.0,
            max_in_flight: self.max_in_flight,
            gzip_level: self.gzip_level,
            commit_interval: Duration::from_millis(self.commit_interval_ms.max(10)),
            retry_initial_backoff: Duration::from_millis(self.retry_initial_backoff_ms.max(1)),
            retry_max_backoff: Duration::from_millis(
                self.retry_max_backoff_ms
                    .max(self.retry_initial_backoff_ms.max(1)),
            ),
            drain_timeout: Duration::from_secs(self.drain_timeout_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(config.kafka.security_protocol, SecurityProtocol::Plaintext);
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
        assert!(matches!(err, ConfigError::MissingStore), "{err}");
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
        assert!(matches!(err, ConfigError::BothStoreStyles), "{err}");
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
}
