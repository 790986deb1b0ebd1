//! Typed settings loaded in layers: defaults → optional file → environment → command line.
//!
//! Each daemon declares one `Settings` struct deriving `Deserialize` with `#[serde(default)]`
//! (the defaults layer) and calls [`load`]. The file may be TOML, YAML or JSON (by extension).
//! Environment variables carry a prefix and use `__` between sections, so with prefix `ALERTDB`
//! the field `kafka.username` is `ALERTDB_KAFKA__USERNAME`. The command line is the top layer:
//! each daemon's clap `Cli` also derives `Serialize` into the same keys, leaving out the flags
//! that were not given, so no flag is mapped to a key by hand. The shared pieces (listen
//! address, HTTP limits, Kafka connection, object store, logging) are declared once, as a clap
//! `Args` struct and a serde settings struct, and flattened into every daemon that uses them.
//!
//! Durations are written one way everywhere: [`DurationSetting`] (`500ms`, `10s`, `2m`, `1h`,
//! or bare seconds), in files, environment variables and flags alike.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings file {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: config::ConfigError,
    },
    #[error("settings file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid settings: {0}")]
    Invalid(#[source] config::ConfigError),
}

/// Where the layers come from.
#[derive(Debug, Clone)]
pub struct Layers<'a> {
    /// An optional settings file; when given it must exist.
    pub file: Option<&'a Path>,
    /// Prefix of environment variables, without the trailing underscore (e.g. `ALERTDB`).
    pub env_prefix: &'a str,
    /// Keys whose environment value is a comma-separated list (e.g. `kafka.topics`).
    pub list_keys: &'a [&'a str],
}

/// Loads `T` from the layers, with `T::default()` as the bottom one and `cli` as the top one.
///
/// The defaults are a layer like the others (not serde's field defaults), so a settings file
/// or an environment variable that gives one key of a section leaves the section's other keys
/// at the daemon's defaults. `cli` is the daemon's parsed command line (or any `Serialize` value of the same shape as
/// `T`): it serializes to the keys of `T`, with every flag that was not given left out
/// (`#[serde(skip_serializing_if = "Option::is_none")]`), so an absent flag leaves the lower
/// layers in force. Nested sections merge key by key.
pub fn load<T: DeserializeOwned + Serialize + Default>(
    layers: Layers<'_>,
    cli: &impl Serialize,
) -> Result<T, SettingsError> {
    load_over(&T::default(), layers, cli)
}

/// [`load`] with the given defaults instead of `T::default()`.
pub fn load_over<T: DeserializeOwned + Serialize>(
    defaults: &T,
    layers: Layers<'_>,
    cli: &impl Serialize,
) -> Result<T, SettingsError> {
    let defaults = config::Config::try_from(defaults).map_err(SettingsError::Invalid)?;
    let mut builder = config::Config::builder().add_source(defaults);
    if let Some(path) = layers.file {
        if !path.exists() {
            return Err(SettingsError::MissingFile(path.to_owned()));
        }
        // Parse the file on its own first so an error names it.
        config::Config::builder()
            .add_source(config::File::from(path))
            .build()
            .map_err(|source| SettingsError::File {
                path: path.to_owned(),
                source,
            })?;
        builder = builder.add_source(config::File::from(path));
    }
    let mut environment = config::Environment::with_prefix(layers.env_prefix)
        .prefix_separator("_")
        .separator("__")
        .try_parsing(true)
        .ignore_empty(true);
    if !layers.list_keys.is_empty() {
        environment = environment.list_separator(",");
        for key in layers.list_keys {
            environment = environment.with_list_parse_key(key);
        }
    }
    builder = builder.add_source(environment);
    let flags = config::Config::try_from(cli).map_err(SettingsError::Invalid)?;
    builder
        .add_source(flags)
        .build()
        .map_err(SettingsError::Invalid)?
        .try_deserialize()
        .map_err(SettingsError::Invalid)
}

/// `--config FILE`, flattened into every daemon's command line (`#[serde(skip)]`: it names a
/// layer, it is not a setting).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigFileArg {
    /// Settings file (TOML, YAML or JSON); the environment and the flags override it.
    #[arg(long = "config", value_name = "FILE")]
    pub path: Option<PathBuf>,
}

impl ConfigFileArg {
    /// Loads `T`: its defaults → this file → `<env_prefix>_*` environment → `cli` (the
    /// daemon's whole command line, serialized). Boxed: a `SettingsError` carries a whole
    /// `config` error and is large.
    pub fn load<T: DeserializeOwned + Serialize + Default>(
        &self,
        env_prefix: &str,
        list_keys: &[&str],
        cli: &impl Serialize,
    ) -> Result<T, Box<SettingsError>> {
        let layers = Layers {
            file: self.path.as_deref(),
            env_prefix,
            list_keys,
        };
        load(layers, cli).map_err(Box::new)
    }
}

/// For `#[serde(skip_serializing_if = "not")]` on boolean flags: an absent switch is no
/// setting at all, not `false`.
pub fn not(flag: &bool) -> bool {
    !flag
}

/// For a `--no-X` switch stored as `X = false`: `#[serde(rename = "X", skip_serializing_if =
/// "not", serialize_with = "serialize_negated")]`.
pub fn serialize_negated<S: Serializer>(flag: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(!flag)
}

/// The listen address of a daemon's HTTP server (its API, or its `/metrics`, `/healthz` and
/// `/readyz`): `[listen]` in a settings file, `<PREFIX>_LISTEN__HOST`/`__PORT` in the
/// environment, `--listen-host`/`--listen-port` on the command line. Each daemon chooses its
/// defaults (upstream's: the API servers 127.0.0.1, the proxy 0.0.0.0).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListenSettings {
    pub host: String,
    pub port: u16,
}

/// A listen host that is not an IP address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--listen-host {0:?} is not an IP address (use 0.0.0.0 for every interface)")]
pub struct ListenHostError(pub String);

impl ListenSettings {
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_owned(),
            port,
        }
    }

    /// The socket address to bind.
    pub fn socket_addr(&self) -> Result<SocketAddr, ListenHostError> {
        let host: IpAddr = self
            .host
            .trim()
            .parse()
            .map_err(|_| ListenHostError(self.host.clone()))?;
        Ok(SocketAddr::new(host, self.port))
    }
}

/// `--listen-host` and `--listen-port`, flattened into each daemon's command line.
#[derive(Debug, Clone, Default, clap::Args, Serialize)]
pub struct ListenArgs {
    /// Address to listen on (an IP; 0.0.0.0 for every interface).
    #[arg(long = "listen-host", value_name = "IP")]
    #[serde(rename = "host", skip_serializing_if = "Option::is_none")]
    pub listen_host: Option<String>,
    /// Port to listen on.
    #[arg(long = "listen-port", value_name = "PORT")]
    #[serde(rename = "port", skip_serializing_if = "Option::is_none")]
    pub listen_port: Option<u16>,
}

/// A duration written as seconds (`10`, `0.5`) or with a unit (`500ms`, `10s`, `2m`, `1h`).
/// Parses from a flag (`FromStr`) and from a settings file or the environment (a number of
/// seconds or such a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationSetting(pub Duration);

impl std::str::FromStr for DurationSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: f64 = number.parse().map_err(|_| {
            format!("{text:?} is not a duration (write e.g. 10, 0.5, 500ms, 10s, 2m or 1h)")
        })?;
        let scale = match unit.trim() {
            "" | "s" => 1.0,
            "ms" => 0.001,
            "m" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!(
                    "{text:?} has an unknown unit {other:?} (use ms, s, m or h)"
                ))
            }
        };
        Duration::try_from_secs_f64(value * scale)
            .map(DurationSetting)
            .map_err(|_| format!("{text:?} is out of range"))
    }
}

impl std::fmt::Display for DurationSetting {
    /// The shortest exact form that [`FromStr`](std::str::FromStr) reads back: `250ms`,
    /// `10s`, `1.5s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let millis = self.0.as_millis();
        if self.0.subsec_nanos().is_multiple_of(1_000_000) && !millis.is_multiple_of(1000) {
            write!(f, "{millis}ms")
        } else {
            write!(f, "{}s", self.0.as_secs_f64())
        }
    }
}

impl Serialize for DurationSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DurationSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(s) => Duration::try_from_secs_f64(s)
                .map(DurationSetting)
                .map_err(|_| serde::de::Error::custom(format!("{s} is not a valid duration"))),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use std::io::Write;

    #[test]
    fn durations_parse_with_and_without_units() {
        let d = |s: &str| s.parse::<DurationSetting>().map(|d| d.0);
        assert_eq!(d("10"), Ok(Duration::from_secs(10)));
        assert_eq!(d("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(d(" 1h "), Ok(Duration::from_secs(3600)));
        assert!(d("ten").unwrap_err().contains("not a duration"));
        assert!(d("5 parsecs").unwrap_err().contains("unknown unit"));
        assert!(d("").is_err());
        assert!(d("-1").is_err());
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(default)]
    struct Example {
        port: u16,
        name: String,
        kafka: ExampleKafka,
    }

    #[derive(Debug, Deserialize, Serialize, Default)]
    #[serde(default)]
    struct ExampleKafka {
        username: Option<String>,
        #[serde(skip_serializing)]
        password: Option<Secret>,
    }

    impl Default for Example {
        fn default() -> Self {
            Self {
                port: 5000,
                name: "default".into(),
                kafka: ExampleKafka::default(),
            }
        }
    }

    fn toml_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    /// A command line of the same shape as [`Example`], as daemons declare theirs.
    #[derive(Debug, Default, Serialize)]
    struct ExampleCli {
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        kafka: ExampleKafkaCli,
    }

    #[derive(Debug, Default, Serialize)]
    struct ExampleKafkaCli {
        #[serde(skip_serializing_if = "Option::is_none")]
        username: Option<String>,
    }

    fn layers<'a>(file: Option<&'a Path>, env_prefix: &'a str) -> Layers<'a> {
        Layers {
            file,
            env_prefix,
            list_keys: &[],
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let s: Example = load(layers(None, "SKTEST_NONE"), &ExampleCli::default()).unwrap();
        assert_eq!(s.port, 5000);
        assert_eq!(s.name, "default");
    }

    #[test]
    fn each_layer_overrides_the_one_below() {
        let file =
            toml_file("port = 6000\nname = \"from-file\"\n[kafka]\nusername = \"file-user\"\n");
        std::env::set_var("SKTEST_LAYERS_NAME", "from-env");
        std::env::set_var("SKTEST_LAYERS_KAFKA__USERNAME", "env-user");
        std::env::set_var("SKTEST_LAYERS_KAFKA__PASSWORD", "env-secret");
        let cli = ExampleCli {
            kafka: ExampleKafkaCli {
                username: Some("cli-user".into()),
            },
            ..ExampleCli::default()
        };
        let s: Example = load(layers(Some(file.path()), "SKTEST_LAYERS"), &cli).unwrap();
        assert_eq!(s.port, 6000, "file beats default");
        assert_eq!(
            s.name, "from-env",
            "env beats file; an absent flag changes nothing"
        );
        assert_eq!(
            s.kafka.username.as_deref(),
            Some("cli-user"),
            "CLI beats env"
        );
        assert_eq!(
            s.kafka.password.as_ref().unwrap().expose(),
            "env-secret",
            "a flag in a section leaves the section's other keys in force"
        );
        assert!(
            !format!("{s:?}").contains("env-secret"),
            "Debug hides secrets"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = load::<Example>(
            layers(
                Some(Path::new("/nonexistent/alertdb.toml")),
                "SKTEST_MISSING",
            ),
            &ExampleCli::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/alertdb.toml"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_file_is_named() {
        let file = toml_file("port = [unclosed\n");
        let err = load::<Example>(
            layers(Some(file.path()), "SKTEST_BAD"),
            &ExampleCli::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains(&file.path().display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn a_wrongly_typed_value_is_an_error() {
        std::env::set_var("SKTEST_TYPE_PORT", "not-a-number");
        let err = load::<Example>(layers(None, "SKTEST_TYPE"), &ExampleCli::default()).unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn durations_serialize_to_text_that_parses_back() {
        for text in ["250ms", "1500ms", "10s", "0.0001s", "0s", "3600s"] {
            let d: DurationSetting = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
            assert_eq!(d.to_string().parse::<DurationSetting>(), Ok(d));
        }
        assert_eq!("2m".parse::<DurationSetting>().unwrap().to_string(), "120s");
    }

    #[test]
    fn listen_flags_and_settings() {
        #[derive(Debug, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        struct Daemon {
            listen: ListenSettings,
        }
        impl Default for Daemon {
            fn default() -> Self {
                Self {
                    listen: ListenSettings::new("127.0.0.1", 8080),
                }
            }
        }
        #[derive(Serialize)]
        struct DaemonCli {
            listen: ListenArgs,
        }
        let file = toml_file("[listen]\nhost = \"0.0.0.0\"\n");
        let daemon: Daemon = load(
            layers(Some(file.path()), "SKTEST_LISTEN0"),
            &ExampleCli::default(),
        )
        .unwrap();
        assert_eq!(
            daemon.listen.port, 8080,
            "a partial section keeps the defaults"
        );
        let cli = DaemonCli {
            listen: ListenArgs {
                listen_host: None,
                listen_port: Some(8081),
            },
        };
        let daemon: Daemon = load(layers(Some(file.path()), "SKTEST_LISTEN"), &cli).unwrap();
        assert_eq!(
            daemon.listen.socket_addr().unwrap(),
            "0.0.0.0:8081".parse().unwrap()
        );
        let err = ListenSettings::new("localhost", 1)
            .socket_addr()
            .unwrap_err();
        assert!(err.to_string().contains("0.0.0.0"), "{err}");
    }
}
