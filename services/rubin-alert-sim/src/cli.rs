//! The command line, compatible with upstream's `rubin-alert-sim` (same subcommands, flags and
//! defaults), plus authentication, registry lookup, pacing and metrics options.

use clap::{Args, Parser, Subcommand, ValueEnum};
pub use service_kit::kafka::KafkaArgs;
use service_kit::kafka::KafkaSettings;
use service_kit::settings::{DurationSetting, ListenArgs, ListenSettings, SettingsError};
use service_kit::telemetry::LogArgs;
use std::path::PathBuf;
use std::time::Duration;

/// Environment variable holding the SCRAM password (never a flag: flags show in `ps`).
pub const PASSWORD_ENV: &str = "ALERTSIM_KAFKA_PASSWORD";
/// Prefix of the environment variables (`ALERTSIM_KAFKA__BOOTSTRAP_SERVERS`, ...).
pub const ENV_PREFIX: &str = "ALERTSIM";

#[derive(Debug, Parser)]
#[command(
    name = "rubin-alert-sim",
    version,
    about = "Rubin alert stream simulator"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Default log filter when `RUST_LOG` is unset.
    pub fn log_level(&self) -> &'static str {
        self.log.directive("warn,rubin_alert_sim=info")
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load alerts from Avro container files into a static topic (the reservoir).
    CreateStream(CreateStream),
    /// Replay the static topic into the live topic, once or every --repeat-interval seconds.
    PlayStream(PlayStream),
    /// Print each message of a topic as it arrives: time, id, history length, size.
    PrintStream(PrintStream),
    /// Write a synthetic visit of alerts to an Avro container file.
    Generate(Generate),
}

/// The Kafka settings of a subcommand: defaults → `ALERTSIM_KAFKA__*` environment → the
/// shared Kafka flags, and the password from [`PASSWORD_ENV`].
pub fn kafka_settings(args: &KafkaArgs) -> Result<KafkaSettings, Box<SettingsError>> {
    let defaults = KafkaSettings {
        connect_timeout: DurationSetting(Duration::from_secs(15)),
        ..KafkaSettings::default()
    };
    args.load(ENV_PREFIX, PASSWORD_ENV, defaults)
}

#[derive(Debug, Clone, Args)]
pub struct CreateStream {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The static topic to load.
    #[arg(long, default_value = "alerts-reservoir")]
    pub dst_topic: String,
    /// Delete and recreate the static topic first (infinite retention). `--force` is
    /// upstream's name for it.
    #[arg(long, visible_alias = "force")]
    pub create_topic: bool,
    /// Partitions of a topic created with --create-topic.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// Replication factor of a topic created with --create-topic.
    #[arg(long, default_value_t = 1)]
    pub replication_factor: i32,
    /// Seconds to wait for every delivery report at the end.
    #[arg(long, default_value_t = 10.0)]
    pub timeout_sec: f64,
    /// Schema id for the message header; by default the registry's id of the schema.
    #[arg(long)]
    pub schema_id: Option<u32>,
    /// Schema registry, asked for the schema id when --schema-id is not given.
    #[arg(
        long,
        default_value = "http://localhost:8081",
        env = "ALERTSIM_SCHEMA_REGISTRY_URL"
    )]
    pub schema_registry_url: String,
    /// Registry subject the alert schemas are registered under.
    #[arg(long, default_value = "alert-packet")]
    pub subject: String,
    /// Schema version to re-encode every alert to (default: the latest).
    #[arg(long)]
    pub schema_version: Option<String>,
    /// The lsst-alert-packet `schema` directory (default: ALERT_SCHEMA_DIR or the installed package).
    #[arg(long, env = "ALERT_SCHEMA_DIR")]
    pub schema_dir: Option<PathBuf>,
    /// Avro container files of alerts, of any schema version.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pacing {
    /// Follow each alert's `alertsim-time-offset` header, like upstream.
    Offsets,
    /// As fast as possible.
    None,
}

#[derive(Debug, Clone, Args)]
pub struct PlayStream {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The static topic to replay.
    #[arg(long, default_value = "alerts-reservoir")]
    pub src_topic: String,
    /// The live topic to replay into.
    #[arg(long, default_value = "alerts-stream")]
    pub dst_topic: String,
    /// Partitions of a destination topic created with --create-dst-topic.
    #[arg(long, default_value_t = 1)]
    pub dst_topic_partitions: i32,
    /// Delete and recreate the destination topic first.
    #[arg(long)]
    pub create_dst_topic: bool,
    /// Seconds between pass starts; below 0, play once.
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
    pub repeat_interval: f64,
    /// Stop after this many passes (default: never, when repeating).
    #[arg(long)]
    pub passes: Option<u64>,
    /// Pacing within a pass.
    #[arg(long, value_enum, default_value = "offsets")]
    pub pacing: Pacing,
    /// Give every pass fresh alert ids (original id + the pass's start time in microseconds
    /// since the epoch), so each replay looks like a new visit downstream.
    #[arg(long)]
    pub renumber_ids: bool,
    /// --listen-*: the address of /metrics, /healthz and /readyz (port 0: any free port)
    /// [default: 127.0.0.1:9100].
    #[command(flatten)]
    pub listen: ListenArgs,
    /// /healthz fails when the replay loop has made no progress (no delivery confirmed while
    /// alerts are in flight, or no pass able to start) for this long (500ms, 10s, 2m).
    #[arg(
        long,
        default_value = "2m",
        env = "ALERTSIM_LIVENESS_DEADLINE",
        value_name = "DURATION"
    )]
    pub liveness_deadline: DurationSetting,
}

impl PlayStream {
    /// The ops listener's address, the flags over the defaults.
    pub fn listen(&self) -> ListenSettings {
        ListenSettings {
            host: self
                .listen
                .listen_host
                .clone()
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: self.listen.listen_port.unwrap_or(9100),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct PrintStream {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The topic to print.
    #[arg(long, default_value = "alerts-reservoir")]
    pub src_topic: String,
    /// Schema registry to fetch each message's schema from, by its id.
    #[arg(
        long,
        default_value = "http://localhost:8081",
        env = "ALERTSIM_SCHEMA_REGISTRY_URL"
    )]
    pub schema_registry_url: String,
    /// Start from the beginning of the topic instead of only new messages.
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop after this many messages.
    #[arg(long)]
    pub max_messages: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct Generate {
    /// Number of alerts in the visit.
    #[arg(long, default_value_t = 10_000)]
    pub alerts: usize,
    /// The container file to write.
    #[arg(long)]
    pub output: PathBuf,
    /// Schema version (default: the latest).
    #[arg(long)]
    pub schema_version: Option<String>,
    /// Seed: the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Alerts without cutouts (~84 KB instead of ~108 KB).
    #[arg(long)]
    pub no_cutouts: bool,
    /// Previous detections per alert.
    #[arg(long)]
    pub prv_sources: Option<usize>,
    /// Forced-photometry points per alert.
    #[arg(long)]
    pub prv_forced_sources: Option<usize>,
    /// Container codec: null, deflate, snappy or zstandard.
    #[arg(long, default_value = "deflate")]
    pub codec: String,
    /// The lsst-alert-packet `schema` directory (default: ALERT_SCHEMA_DIR or the installed package).
    #[arg(long, env = "ALERT_SCHEMA_DIR")]
    pub schema_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::kafka::SecurityProtocol;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rubin-alert-sim").chain(args.iter().copied()))
    }

    #[test]
    fn upstream_arguments_parse_unchanged() {
        let cli = parse(&[
            "create-stream",
            "--broker",
            "kafka:9092",
            "--dst-topic",
            "alerts-static",
            "--force",
            "--schema-id",
            "1",
            "--tls-client-key-location",
            "/k",
            "--tls-client-crt-location",
            "/c",
            "--tls-server-ca-crt-location",
            "/ca",
            "visit.avro",
        ])
        .unwrap();
        let Command::CreateStream(create) = cli.command else {
            panic!()
        };
        assert!(create.create_topic, "--force is --create-topic");
        assert_eq!(create.schema_id, Some(1));
        assert_eq!(
            kafka_settings(&create.kafka).unwrap().protocol(),
            SecurityProtocol::Ssl
        );

        let cli = parse(&[
            "play-stream",
            "-B",
            "kafka:9092",
            "--src-topic",
            "alerts-static",
            "--dst-topic",
            "alerts-simulated",
            "--dst-topic-partitions",
            "4",
            "--create-dst-topic",
            "--repeat-interval",
            "37",
        ])
        .unwrap();
        let Command::PlayStream(play) = cli.command else {
            panic!()
        };
        assert_eq!(play.repeat_interval, 37.0);
        assert_eq!(play.dst_topic_partitions, 4);
        assert_eq!(play.pacing, Pacing::Offsets);
        assert_eq!(
            play.liveness_deadline.0,
            std::time::Duration::from_secs(120)
        );
        assert_eq!(play.listen(), ListenSettings::new("127.0.0.1", 9100));

        let cli = parse(&["play-stream", "--repeat-interval", "-1"]).unwrap();
        let Command::PlayStream(play) = cli.command else {
            panic!()
        };
        assert_eq!(
            (play.src_topic.as_str(), play.dst_topic.as_str()),
            ("alerts-reservoir", "alerts-stream")
        );
        assert!(play.repeat_interval < 0.0);
    }

    #[test]
    fn defaults_match_upstream() {
        let Command::PrintStream(print) = parse(&["print-stream"]).unwrap().command else {
            panic!()
        };
        let kafka = kafka_settings(&print.kafka).unwrap();
        assert_eq!(kafka.bootstrap_servers, "localhost:9092");
        assert_eq!(kafka.connect_timeout(), Duration::from_secs(15));
        assert_eq!(print.src_topic, "alerts-reservoir");
        assert_eq!(kafka.protocol(), SecurityProtocol::Plaintext);
    }

    #[test]
    fn a_username_means_scram() {
        let Command::PrintStream(print) = parse(&["print-stream", "--kafka-username", "alerce"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(
            kafka_settings(&print.kafka).unwrap().protocol(),
            SecurityProtocol::SaslPlaintext
        );
    }

    #[test]
    fn create_stream_needs_a_file() {
        assert!(parse(&["create-stream"]).is_err());
        assert!(parse(&["bogus-command"]).is_err());
        assert!(parse(&["play-stream", "--pacing", "sometimes"]).is_err());
        assert!(parse(&["play-stream", "--liveness-deadline", "soon"]).is_err());
        let Command::PlayStream(play) = parse(&["play-stream", "--liveness-deadline", "1500ms"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(
            play.liveness_deadline.0,
            std::time::Duration::from_millis(1500)
        );
    }
}
