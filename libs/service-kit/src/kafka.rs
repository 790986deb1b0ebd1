//! Kafka client configuration, validated once at start-up, and a bounded connectivity check.
//!
//! The observatory's brokers expose three kinds of listener (BRIEF §2): PLAINTEXT inside the
//! cluster, SCRAM-SHA-512 for community brokers (SASL_PLAINTEXT, or SASL_SSL from outside) and
//! SSL with client certificates (mTLS) for in-cluster services. [`KafkaSettings`] covers all of
//! them; [`KafkaSettings::client_config`] refuses a half-configured client with an error that
//! names the missing option, and [`check_connection`] tells a wrong password from a broker that
//! cannot be reached, within a bounded time, instead of letting librdkafka retry forever.

use crate::secret::Secret;
use crate::settings::{DurationSetting, Layers, SettingsError};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the client talks to the broker (librdkafka's `security.protocol`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecurityProtocol {
    /// No encryption, no authentication: in-cluster listeners only.
    #[default]
    Plaintext,
    /// SCRAM over a plain connection.
    SaslPlaintext,
    /// SCRAM over TLS.
    SaslSsl,
    /// TLS; with client certificates this is mTLS.
    Ssl,
}

impl SecurityProtocol {
    fn as_librdkafka(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
            SecurityProtocol::Ssl => "ssl",
        }
    }

    fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::SaslSsl | SecurityProtocol::Ssl)
    }
}

/// The SASL mechanism. Only SCRAM is offered: it is what the observatory's brokers accept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum SaslMechanism {
    #[default]
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
}

impl SaslMechanism {
    fn as_librdkafka(self) -> &'static str {
        match self {
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }
}

/// The three TLS files, named after upstream's `--tls-*-location` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsFiles {
    /// CA certificate that signed the broker's certificate (`--tls-server-ca-crt-location`).
    pub server_ca_crt_location: Option<PathBuf>,
    /// Client certificate, PEM (`--tls-client-crt-location`).
    pub client_crt_location: Option<PathBuf>,
    /// Client private key, PEM (`--tls-client-key-location`).
    pub client_key_location: Option<PathBuf>,
}

impl TlsFiles {
    const FLAGS: [&'static str; 3] = [
        "--tls-server-ca-crt-location",
        "--tls-client-crt-location",
        "--tls-client-key-location",
    ];

    fn entries(&self) -> [(&'static str, Option<&Path>); 3] {
        [
            (Self::FLAGS[0], self.server_ca_crt_location.as_deref()),
            (Self::FLAGS[1], self.client_crt_location.as_deref()),
            (Self::FLAGS[2], self.client_key_location.as_deref()),
        ]
    }

    fn is_empty(&self) -> bool {
        self.entries().iter().all(|(_, path)| path.is_none())
    }

    /// All three or none; every given file must exist.
    pub fn validate(&self) -> Result<(), KafkaConfigError> {
        let entries = self.entries();
        let given: Vec<&str> = entries
            .iter()
            .filter(|(_, p)| p.is_some())
            .map(|(f, _)| *f)
            .collect();
        let missing: Vec<&str> = entries
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(f, _)| *f)
            .collect();
        if !given.is_empty() && !missing.is_empty() {
            return Err(KafkaConfigError::PartialTls { given, missing });
        }
        for (flag, path) in entries {
            if let Some(path) = path {
                if !path.is_file() {
                    return Err(KafkaConfigError::MissingFile {
                        option: flag,
                        path: path.to_owned(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Connection settings shared by every Kafka client of every daemon: the `[kafka]` section of
/// a settings file, `<PREFIX>_KAFKA__*` in the environment, [`KafkaArgs`] on the command line.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    /// Comma-separated `host:port` list.
    pub bootstrap_servers: String,
    /// `None`: inferred, see [`KafkaSettings::protocol`].
    pub security_protocol: Option<SecurityProtocol>,
    pub sasl_mechanism: SaslMechanism,
    /// SCRAM user name; required with SASL protocols.
    pub username: Option<String>,
    /// SCRAM password; required with SASL protocols. Never logged, never serialized.
    #[serde(skip_serializing)]
    pub password: Option<Secret>,
    pub tls: TlsFiles,
    /// How long to keep trying to reach the brokers before reporting them unreachable.
    pub connect_timeout: DurationSetting,
    /// Further librdkafka properties, passed through unchanged (e.g. `client.id`).
    pub extra: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            bootstrap_servers: "localhost:9092".into(),
            security_protocol: None,
            sasl_mechanism: SaslMechanism::ScramSha512,
            username: None,
            password: None,
            tls: TlsFiles::default(),
            connect_timeout: DurationSetting(Duration::from_secs(10)),
            extra: BTreeMap::new(),
        }
    }
}

/// A configuration that cannot work, found before any connection is attempted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KafkaConfigError {
    #[error(
        "TLS options are all or none: {} {} set but {} {} not; give all three or none",
        given.join(", "), if given.len() == 1 { "is" } else { "are" },
        missing.join(", "), if missing.len() == 1 { "is" } else { "are" }
    )]
    PartialTls {
        given: Vec<&'static str>,
        missing: Vec<&'static str>,
    },
    #[error("{option} names {path}, which is not a readable file")]
    MissingFile { option: &'static str, path: PathBuf },
    #[error("security protocol {protocol:?} needs a Kafka username (--kafka-username)")]
    MissingUsername { protocol: SecurityProtocol },
    #[error("Kafka user `{username}` has no password: set the password environment variable or the `kafka.password` setting")]
    MissingPassword { username: String },
    #[error("security protocol SSL needs a client certificate: give --tls-server-ca-crt-location, --tls-client-crt-location and --tls-client-key-location")]
    MissingClientCertificate,
    #[error("a Kafka username is set but security protocol is {protocol:?}; use SASL_PLAINTEXT or SASL_SSL for SCRAM")]
    UsernameWithoutSasl { protocol: SecurityProtocol },
    #[error("no Kafka bootstrap servers given")]
    NoBootstrapServers,
}

impl KafkaSettings {
    /// Checks that the settings describe a usable client.
    pub fn validate(&self) -> Result<(), KafkaConfigError> {
        if self.bootstrap_servers.trim().is_empty() {
            return Err(KafkaConfigError::NoBootstrapServers);
        }
        self.tls.validate()?;
        let protocol = self.protocol();
        if protocol.uses_sasl() {
            let username = self
                .username
                .as_deref()
                .filter(|u| !u.is_empty())
                .ok_or(KafkaConfigError::MissingUsername { protocol })?;
            if self.password.as_ref().is_none_or(|p| p.expose().is_empty()) {
                return Err(KafkaConfigError::MissingPassword {
                    username: username.to_owned(),
                });
            }
        } else if self.username.is_some() {
            return Err(KafkaConfigError::UsernameWithoutSasl { protocol });
        }
        if protocol == SecurityProtocol::Ssl && self.tls.is_empty() {
            return Err(KafkaConfigError::MissingClientCertificate);
        }
        Ok(())
    }

    /// The librdkafka configuration for these settings, after [`validate`](Self::validate).
    ///
    /// The result holds the password: never log it (use [`describe`](Self::describe)).
    pub fn client_config(&self) -> Result<ClientConfig, KafkaConfigError> {
        self.validate()?;
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("security.protocol", self.protocol().as_librdkafka())
            // Fail a connection attempt quickly so a dead broker is reported, not waited on.
            .set("socket.connection.setup.timeout.ms", "10000")
            .set_log_level(RDKafkaLogLevel::Warning);
        if self.protocol().uses_sasl() {
            config.set("sasl.mechanism", self.sasl_mechanism.as_librdkafka());
            if let Some(username) = &self.username {
                config.set("sasl.username", username);
            }
            if let Some(password) = &self.password {
                config.set("sasl.password", password.expose());
            }
        }
        if let Some(ca) = &self.tls.server_ca_crt_location {
            config.set("ssl.ca.location", ca.to_string_lossy());
        }
        if self.protocol().uses_tls() {
            if let Some(crt) = &self.tls.client_crt_location {
                config.set("ssl.certificate.location", crt.to_string_lossy());
            }
            if let Some(key) = &self.tls.client_key_location {
                config.set("ssl.key.location", key.to_string_lossy());
            }
        }
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        Ok(config)
    }

    /// A one-line description safe for logs: servers, protocol and user, never the password.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} via {}",
            self.bootstrap_servers,
            self.protocol().as_librdkafka()
        );
        if let Some(user) = &self.username {
            text.push_str(&format!(
                " as {user} ({})",
                self.sasl_mechanism.as_librdkafka()
            ));
        }
        if self.tls.client_crt_location.is_some() {
            text.push_str(" with client certificate");
        }
        text
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.0.max(Duration::from_secs(1))
    }

    /// The security protocol: the one given, else SASL_PLAINTEXT with a username, SSL with TLS
    /// client files, SASL_SSL with both, PLAINTEXT with neither.
    pub fn protocol(&self) -> SecurityProtocol {
        if let Some(protocol) = self.security_protocol {
            return protocol;
        }
        match (self.username.is_some(), !self.tls.is_empty()) {
            (true, true) => SecurityProtocol::SaslSsl,
            (true, false) => SecurityProtocol::SaslPlaintext,
            (false, true) => SecurityProtocol::Ssl,
            (false, false) => SecurityProtocol::Plaintext,
        }
    }

    /// Takes the password from `variable` when no layer gave one: upstream's deployments pass
    /// it in a variable of their own (`ALERTDB_KAFKA_PASSWORD`, `ALERTSIM_KAFKA_PASSWORD`).
    pub fn password_from_env(&mut self, variable: &str) {
        if self.password.is_none() {
            if let Ok(password) = std::env::var(variable) {
                if !password.is_empty() {
                    self.password = Some(Secret::new(password));
                }
            }
        }
    }
}

/// Upstream alertdb-ingester's `--kafka-auth-mechanism`, another spelling of the security
/// protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum AuthMechanism {
    /// SCRAM-SHA-512 over a plain connection (SASL_PLAINTEXT).
    #[serde(rename = "SASL_PLAINTEXT")]
    Scram,
    /// TLS with client certificates (SSL).
    #[serde(rename = "SSL")]
    Mtls,
    /// PLAINTEXT: in-cluster listeners without authentication.
    #[serde(rename = "PLAINTEXT")]
    None,
}

/// The Kafka flags every Kafka client daemon flattens into its command line, serialized as
/// its `kafka` section (see [`crate::settings`]). The password is never a flag (flags show in
/// `ps`): it comes from the settings file, the environment or a daemon's password variable.
#[derive(Debug, Clone, Default, clap::Args, Serialize)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, host:port[,host:port...] [default: localhost:9092].
    #[arg(
        long = "kafka-host",
        short = 'B',
        visible_alias = "broker",
        value_name = "HOST:PORT"
    )]
    #[serde(rename = "bootstrap_servers", skip_serializing_if = "Option::is_none")]
    pub kafka_host: Option<String>,
    /// SCRAM user; the password comes from the daemon's password variable or settings.
    #[arg(long, value_name = "USER")]
    #[serde(rename = "username", skip_serializing_if = "Option::is_none")]
    pub kafka_username: Option<String>,
    /// Security protocol [default: SASL_PLAINTEXT with a username, SSL with the TLS files,
    /// SASL_SSL with both, PLAINTEXT otherwise].
    #[arg(long, value_enum, ignore_case = true, value_name = "PROTOCOL")]
    #[serde(rename = "security_protocol", skip_serializing_if = "Option::is_none")]
    pub kafka_security_protocol: Option<SecurityProtocol>,
    /// Upstream alertdb-ingester's spelling of the protocol: scram (SASL_PLAINTEXT,
    /// SCRAM-SHA-512), mtls (SSL with client certificates) or none (PLAINTEXT).
    #[arg(long, value_enum, conflicts_with = "kafka_security_protocol")]
    #[serde(rename = "security_protocol", skip_serializing_if = "Option::is_none")]
    pub kafka_auth_mechanism: Option<AuthMechanism>,
    #[command(flatten)]
    #[serde(rename = "tls")]
    pub tls: TlsArgs,
    /// How long to try reaching the brokers before giving up (500ms, 10s, 2m)
    /// [default: 10s].
    #[arg(long, value_name = "DURATION")]
    #[serde(rename = "connect_timeout", skip_serializing_if = "Option::is_none")]
    pub kafka_connect_timeout: Option<DurationSetting>,
}

/// The three `--tls-*-location` flags (upstream's names); all three or none.
#[derive(Debug, Clone, Default, clap::Args, Serialize)]
pub struct TlsArgs {
    /// CA certificate that signed the brokers' certificate (PEM).
    #[arg(long, value_name = "FILE")]
    #[serde(
        rename = "server_ca_crt_location",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_server_ca_crt_location: Option<PathBuf>,
    /// Client certificate (PEM), for mTLS.
    #[arg(long, value_name = "FILE")]
    #[serde(
        rename = "client_crt_location",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_client_crt_location: Option<PathBuf>,
    /// Client private key (PEM), for mTLS.
    #[arg(long, value_name = "FILE")]
    #[serde(
        rename = "client_key_location",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_client_key_location: Option<PathBuf>,
}

impl KafkaArgs {
    /// The Kafka settings of a command-line tool without a settings file: `defaults` →
    /// `<env_prefix>_KAFKA__*` environment → these flags, then the password from
    /// `password_env` when no layer gave one.
    pub fn load(
        &self,
        env_prefix: &str,
        password_env: &str,
        defaults: KafkaSettings,
    ) -> Result<KafkaSettings, Box<SettingsError>> {
        #[derive(Deserialize, Serialize)]
        struct Section<T> {
            kafka: T,
        }
        let layers = Layers {
            file: None,
            env_prefix,
            list_keys: &[],
        };
        let mut kafka = crate::settings::load_over::<Section<KafkaSettings>>(
            &Section { kafka: defaults },
            layers,
            &Section { kafka: self },
        )
        .map_err(Box::new)?
        .kafka;
        kafka.password_from_env(password_env);
        Ok(kafka)
    }
}

/// Why the brokers could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("Kafka authentication failed ({detail}); check the username and password")]
    Authentication { detail: String },
    #[error("TLS handshake with the Kafka brokers failed ({detail}); check the CA, client certificate and key")]
    Tls { detail: String },
    #[error("Kafka brokers {servers} unreachable after {waited:?} ({detail})")]
    Unreachable {
        servers: String,
        waited: Duration,
        detail: String,
    },
    #[error(transparent)]
    Config(#[from] KafkaConfigError),
    #[error("invalid Kafka client configuration: {0}")]
    Client(#[source] KafkaError),
}

/// A client context that remembers the errors librdkafka reports through its error callback,
/// which is where authentication and transport failures surface.
#[derive(Debug, Default, Clone)]
pub struct RecordingContext {
    errors: Arc<Mutex<Vec<(RDKafkaErrorCode, String)>>>,
}

impl RecordingContext {
    fn first_matching(&self, codes: &[RDKafkaErrorCode]) -> Option<String> {
        let errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        errors
            .iter()
            .find(|(code, _)| codes.contains(code))
            .map(|(_, reason)| reason.clone())
    }

    fn last(&self) -> Option<String> {
        let errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        errors.last().map(|(_, reason)| reason.clone())
    }
}

impl ClientContext for RecordingContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, reason, "kafka client error");
        let code = error.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail);
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < 64 {
            errors.push((code, reason.to_owned()));
        }
    }
}

impl rdkafka::producer::ProducerContext for RecordingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// Brokers seen by [`check_connection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    pub brokers: usize,
    pub topics: usize,
}

/// Connects with `settings` and fetches cluster metadata, giving up after the settings'
/// connect timeout. Returns as soon as authentication is refused.
pub async fn check_connection(settings: &KafkaSettings) -> Result<ClusterInfo, ConnectionError> {
    let config = settings.client_config()?;
    check_client_config(
        &config,
        &settings.bootstrap_servers,
        settings.connect_timeout(),
    )
    .await
}

/// [`check_connection`] for a raw librdkafka configuration.
pub async fn check_client_config(
    config: &ClientConfig,
    servers: &str,
    timeout: Duration,
) -> Result<ClusterInfo, ConnectionError> {
    let config = config.clone();
    let servers = servers.to_owned();
    tokio::task::spawn_blocking(move || check_connection_blocking(&config, &servers, timeout))
        .await
        .unwrap_or_else(|join| {
            Err(ConnectionError::Unreachable {
                servers: String::new(),
                waited: Duration::ZERO,
                detail: format!("connectivity check panicked: {join}"),
            })
        })
}

fn check_connection_blocking(
    config: &ClientConfig,
    servers: &str,
    timeout: Duration,
) -> Result<ClusterInfo, ConnectionError> {
    let context = RecordingContext::default();
    let producer: BaseProducer<RecordingContext> = config
        .create_with_context(context.clone())
        .map_err(ConnectionError::Client)?;
    let started = Instant::now();
    loop {
        let remaining = timeout.saturating_sub(started.elapsed());
        match producer
            .client()
            .fetch_metadata(None, remaining.min(Duration::from_millis(500)))
        {
            Ok(metadata) => {
                return Ok(ClusterInfo {
                    brokers: metadata.brokers().len(),
                    topics: metadata.topics().len(),
                })
            }
            Err(error) => {
                // Serve the error callbacks queued meanwhile.
                producer.poll(Duration::ZERO);
                if let Some(detail) = context.first_matching(&[RDKafkaErrorCode::Authentication]) {
                    return Err(ConnectionError::Authentication { detail });
                }
                if started.elapsed() >= timeout {
                    if let Some(detail) = context.first_matching(&[RDKafkaErrorCode::SSL]) {
                        return Err(ConnectionError::Tls { detail });
                    }
                    let detail = context.last().unwrap_or_else(|| error.to_string());
                    return Err(ConnectionError::Unreachable {
                        servers: servers.to_owned(),
                        waited: started.elapsed(),
                        detail,
                    });
                }
            }
        }
    }
}

/// The topics of `topics` the cluster does not have (or reports with an error, e.g. not
/// authorised to describe), asked through a consumer handle so the question never creates a
/// topic (librdkafka's `allow.auto.create.topics` is off for consumers).
pub async fn missing_topics(
    config: &ClientConfig,
    topics: &[String],
    timeout: Duration,
) -> Result<Vec<String>, KafkaError> {
    let mut config = config.clone();
    config.set("allow.auto.create.topics", "false");
    let topics = topics.to_vec();
    tokio::task::spawn_blocking(move || {
        let consumer: rdkafka::consumer::BaseConsumer = config.create()?;
        let mut missing = Vec::new();
        for topic in topics {
            let metadata =
                rdkafka::consumer::Consumer::fetch_metadata(&consumer, Some(&topic), timeout)?;
            let present = metadata
                .topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
            if !present {
                missing.push(topic);
            }
        }
        Ok(missing)
    })
    .await
    .unwrap_or_else(|join| {
        Err(KafkaError::MetadataFetch(if join.is_panic() {
            RDKafkaErrorCode::Fail
        } else {
            RDKafkaErrorCode::OperationTimedOut
        }))
    })
}

/// Creates `topics` with the brokers' default partitions and replication; a topic that
/// already exists is fine. The error names the topic and Kafka's reason (e.g.
/// `TopicAuthorizationFailed` when ACLs forbid it).
pub async fn create_topics(config: &ClientConfig, topics: &[String]) -> Result<(), String> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = config
        .create()
        .map_err(|e| format!("creating a Kafka admin client: {e}"))?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, -1, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new, &options)
        .await
        .map_err(|e| e.to_string())?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(format!("creating topic {topic}: {code}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scram(username: Option<&str>, password: Option<&str>) -> KafkaSettings {
        KafkaSettings {
            security_protocol: Some(SecurityProtocol::SaslPlaintext),
            username: username.map(str::to_owned),
            password: password.map(Secret::new),
            ..KafkaSettings::default()
        }
    }

    #[test]
    fn plaintext_is_the_default_and_valid() {
        let config = KafkaSettings::default().client_config().unwrap();
        assert_eq!(config.get("security.protocol"), Some("plaintext"));
        assert_eq!(config.get("bootstrap.servers"), Some("localhost:9092"));
        assert_eq!(config.get("sasl.username"), None);
    }

    #[test]
    fn scram_sets_mechanism_user_and_password() {
        let config = scram(Some("broker-a"), Some("pw")).client_config().unwrap();
        assert_eq!(config.get("security.protocol"), Some("sasl_plaintext"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(config.get("sasl.username"), Some("broker-a"));
        assert_eq!(config.get("sasl.password"), Some("pw"));
    }

    #[test]
    fn scram_without_password_names_the_user() {
        let err = scram(Some("broker-a"), None).validate().unwrap_err();
        assert_eq!(
            err,
            KafkaConfigError::MissingPassword {
                username: "broker-a".into()
            }
        );
        assert!(err.to_string().contains("broker-a"));
        let err = scram(Some("broker-a"), Some("")).validate().unwrap_err();
        assert!(matches!(err, KafkaConfigError::MissingPassword { .. }));
        let err = scram(None, Some("pw")).validate().unwrap_err();
        assert!(matches!(err, KafkaConfigError::MissingUsername { .. }));
    }

    #[test]
    fn partial_tls_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client.key");
        std::fs::write(&key, "key").unwrap();
        let settings = KafkaSettings {
            security_protocol: Some(SecurityProtocol::Ssl),
            tls: TlsFiles {
                client_key_location: Some(key),
                ..TlsFiles::default()
            },
            ..KafkaSettings::default()
        };
        let err = settings.validate().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("--tls-client-key-location is set"), "{text}");
        assert!(text.contains("--tls-client-crt-location"), "{text}");
        assert!(text.contains("--tls-server-ca-crt-location"), "{text}");
        assert!(text.contains("give all three or none"), "{text}");
    }

    #[test]
    fn missing_tls_file_is_named() {
        let settings = KafkaSettings {
            security_protocol: Some(SecurityProtocol::Ssl),
            tls: TlsFiles {
                server_ca_crt_location: Some("/nonexistent/ca.crt".into()),
                client_crt_location: Some("/nonexistent/client.crt".into()),
                client_key_location: Some("/nonexistent/client.key".into()),
            },
            ..KafkaSettings::default()
        };
        let err = settings.validate().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.crt"), "{err}");
    }

    #[test]
    fn ssl_without_certificates_is_refused() {
        let settings = KafkaSettings {
            security_protocol: Some(SecurityProtocol::Ssl),
            ..KafkaSettings::default()
        };
        assert_eq!(
            settings.validate().unwrap_err(),
            KafkaConfigError::MissingClientCertificate
        );
    }

    #[test]
    fn full_mtls_sets_the_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, "pem").unwrap();
            Some(p)
        };
        let settings = KafkaSettings {
            security_protocol: Some(SecurityProtocol::Ssl),
            tls: TlsFiles {
                server_ca_crt_location: path("ca.crt"),
                client_crt_location: path("client.crt"),
                client_key_location: path("client.key"),
            },
            ..KafkaSettings::default()
        };
        let config = settings.client_config().unwrap();
        assert!(config.get("ssl.ca.location").unwrap().ends_with("ca.crt"));
        assert!(config
            .get("ssl.certificate.location")
            .unwrap()
            .ends_with("client.crt"));
        assert!(config
            .get("ssl.key.location")
            .unwrap()
            .ends_with("client.key"));
    }

    #[test]
    fn username_on_plaintext_is_a_mistake() {
        let settings = KafkaSettings {
            username: Some("x".into()),
            security_protocol: Some(SecurityProtocol::Plaintext),
            ..KafkaSettings::default()
        };
        assert!(matches!(
            settings.validate(),
            Err(KafkaConfigError::UsernameWithoutSasl { .. })
        ));
    }

    #[test]
    fn describe_never_shows_the_password() {
        let settings = scram(Some("broker-a"), Some("pa55word"));
        let text = settings.describe();
        assert!(text.contains("broker-a"));
        assert!(!text.contains("pa55word"));
        assert!(!format!("{settings:?}").contains("pa55word"));
    }

    #[test]
    fn deserializes_protocol_names_as_librdkafka_spells_them() {
        let settings: KafkaSettings = serde_json::from_str(
            r#"{"security_protocol":"SASL_SSL","sasl_mechanism":"SCRAM-SHA-512","username":"u","password":"p"}"#,
        )
        .unwrap();
        assert_eq!(settings.protocol(), SecurityProtocol::SaslSsl);
        assert_eq!(settings.bootstrap_servers, "localhost:9092");
    }

    #[tokio::test]
    async fn an_unreachable_broker_is_reported_within_the_timeout() {
        // Port 1 on loopback: nothing listens there, connections are refused at once.
        let settings = KafkaSettings {
            bootstrap_servers: "127.0.0.1:1".into(),
            connect_timeout: DurationSetting(Duration::from_secs(2)),
            ..KafkaSettings::default()
        };
        let started = Instant::now();
        let err = check_connection(&settings).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "took {:?}",
            started.elapsed()
        );
        assert!(matches!(err, ConnectionError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    }

    #[derive(Debug, clap::Parser)]
    struct Tool {
        #[command(flatten)]
        kafka: KafkaArgs,
    }

    fn tool(args: &[&str]) -> Result<KafkaSettings, String> {
        use clap::Parser;
        let mut all = vec!["tool"];
        all.extend_from_slice(args);
        let parsed = Tool::try_parse_from(all).map_err(|e| e.to_string())?;
        parsed
            .kafka
            .load(
                "SKTEST_KAFKA_TOOL",
                "SKTEST_KAFKA_TOOL_PASSWORD",
                KafkaSettings::default(),
            )
            .map_err(|e| e.to_string())
    }

    #[test]
    fn kafka_flags_have_one_spelling_and_upstream_aliases() {
        let settings = tool(&["--kafka-host", "k:9092", "--kafka-connect-timeout", "3s"]).unwrap();
        assert_eq!(settings.bootstrap_servers, "k:9092");
        assert_eq!(settings.connect_timeout(), Duration::from_secs(3));
        assert_eq!(settings.protocol(), SecurityProtocol::Plaintext);
        for alias in ["--broker", "-B"] {
            assert_eq!(tool(&[alias, "b:1"]).unwrap().bootstrap_servers, "b:1");
        }
        assert_eq!(
            tool(&[]).unwrap().bootstrap_servers,
            "localhost:9092",
            "defaults stay when no flag is given"
        );
        let scram = tool(&["--kafka-auth-mechanism", "scram"]).unwrap();
        assert_eq!(scram.protocol(), SecurityProtocol::SaslPlaintext);
        let mtls = tool(&["--kafka-auth-mechanism", "mtls"]).unwrap();
        assert_eq!(mtls.protocol(), SecurityProtocol::Ssl);
        let explicit = tool(&["--kafka-security-protocol", "sasl_ssl"]).unwrap();
        assert_eq!(explicit.protocol(), SecurityProtocol::SaslSsl);
        let err = tool(&[
            "--kafka-auth-mechanism",
            "scram",
            "--kafka-security-protocol",
            "SSL",
        ])
        .unwrap_err();
        assert!(err.contains("cannot be used with"), "{err}");
        assert!(tool(&["--kafka-auth-mechanism", "kerberos"]).is_err());
        assert!(tool(&["--kafka-connect-timeout", "soon"]).is_err());
    }

    #[test]
    fn the_protocol_is_inferred_from_user_and_certificates() {
        let user = tool(&["--kafka-username", "broker-a"]).unwrap();
        assert_eq!(user.protocol(), SecurityProtocol::SaslPlaintext);
        let tls = tool(&[
            "--tls-server-ca-crt-location",
            "/ca",
            "--tls-client-crt-location",
            "/crt",
            "--tls-client-key-location",
            "/key",
        ])
        .unwrap();
        assert_eq!(tls.protocol(), SecurityProtocol::Ssl);
        assert_eq!(
            tls.tls.client_key_location.as_deref(),
            Some(Path::new("/key"))
        );
        let both = KafkaSettings {
            username: Some("u".into()),
            ..tls
        };
        assert_eq!(both.protocol(), SecurityProtocol::SaslSsl);
    }

    #[test]
    fn the_password_comes_from_the_environment_not_a_flag() {
        std::env::set_var("SKTEST_KAFKA_PW_PASSWORD", "from-upstream-variable");
        let mut settings = KafkaSettings::default();
        settings.password_from_env("SKTEST_KAFKA_PW_PASSWORD");
        assert_eq!(
            settings.password.as_ref().map(Secret::expose),
            Some("from-upstream-variable")
        );
        settings.password = Some(Secret::new("from-settings"));
        settings.password_from_env("SKTEST_KAFKA_PW_PASSWORD");
        assert_eq!(
            settings.password.as_ref().map(Secret::expose),
            Some("from-settings"),
            "a layer's password wins"
        );
        use clap::Parser;
        assert!(Tool::try_parse_from(["tool", "--kafka-password", "x"]).is_err());
    }
}
