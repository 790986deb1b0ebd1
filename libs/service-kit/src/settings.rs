//! Typed settings loaded in layers: defaults → optional file → environment → command line.
//!
//! Each daemon declares one `Settings` struct deriving `Deserialize` with `#[serde(default)]`
//! (the defaults layer) and calls [`load`]. The file may be TOML, YAML or JSON (by extension).
//! Environment variables carry a prefix and use `__` between sections, so with prefix `ALERTDB`
//! the field `kafka.username` is `ALERTDB_KAFKA__USERNAME`. Command-line flags are passed as
//! [`Overrides`] and win over everything else.
//!
//! Durations are written one way everywhere: [`DurationSetting`] (`500ms`, `10s`, `2m`, `1h`,
//! or bare seconds), in files, environment variables and flags alike.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
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

/// Values given on the command line, by dotted key (`kafka.username`).
#[derive(Debug, Default, Clone)]
pub struct Overrides(Vec<(String, config::Value)>);

impl Overrides {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key = value` when the flag was given; `None` leaves lower layers in force.
    pub fn set<V: Into<config::Value>>(mut self, key: &str, value: Option<V>) -> Self {
        if let Some(value) = value {
            self.0.push((key.to_owned(), value.into()));
        }
        self
    }
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
    pub overrides: Overrides,
}

/// Loads `T` from the layers. Unknown keys in the file are ignored by serde unless `T` says
/// `deny_unknown_fields`.
pub fn load<T: DeserializeOwned>(layers: Layers<'_>) -> Result<T, SettingsError> {
    let mut builder = config::Config::builder();
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
    for (key, value) in layers.overrides.0 {
        builder = builder
            .set_override(key, value)
            .map_err(SettingsError::Invalid)?;
    }
    builder
        .build()
        .map_err(SettingsError::Invalid)?
        .try_deserialize()
        .map_err(SettingsError::Invalid)
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

    #[derive(Debug, Deserialize)]
    #[serde(default)]
    struct Example {
        port: u16,
        name: String,
        kafka: ExampleKafka,
    }

    #[derive(Debug, Deserialize, Default)]
    #[serde(default)]
    struct ExampleKafka {
        username: Option<String>,
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

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let s: Example = load(Layers {
            file: None,
            env_prefix: "SKTEST_NONE",
            list_keys: &[],
            overrides: Overrides::new(),
        })
        .unwrap();
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
        let s: Example = load(Layers {
            file: Some(file.path()),
            env_prefix: "SKTEST_LAYERS",
            list_keys: &[],
            overrides: Overrides::new()
                .set("kafka.username", Some("cli-user"))
                .set::<String>("name", None),
        })
        .unwrap();
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
        assert_eq!(s.kafka.password.as_ref().unwrap().expose(), "env-secret");
        assert!(
            !format!("{s:?}").contains("env-secret"),
            "Debug hides secrets"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = load::<Example>(Layers {
            file: Some(Path::new("/nonexistent/alertdb.toml")),
            env_prefix: "SKTEST_MISSING",
            list_keys: &[],
            overrides: Overrides::new(),
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/alertdb.toml"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_file_is_named() {
        let file = toml_file("port = [unclosed\n");
        let err = load::<Example>(Layers {
            file: Some(file.path()),
            env_prefix: "SKTEST_BAD",
            list_keys: &[],
            overrides: Overrides::new(),
        })
        .unwrap_err();
        assert!(
            err.to_string().contains(&file.path().display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn a_wrongly_typed_value_is_an_error() {
        let err = load::<Example>(Layers {
            file: None,
            env_prefix: "SKTEST_TYPE",
            list_keys: &[],
            overrides: Overrides::new().set("port", Some("not-a-number")),
        })
        .unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }
}
