//! The `lsst-alert-packet` schema tree: every published alert schema version.
//!
//! The tree is `schema/{MAJOR}/{MINOR}/lsst.v{M}_{m}.alert.avsc`, each alert schema referring to
//! sub-schemas (`lsst.v{M}_{m}.diaSource`, ...) by full name, each defined in a file named after
//! it in the same directory, and `schema/latest.txt` naming the latest version. The files come
//! from the pip-installed package (found with [`locate`]) or a directory given in config; they
//! are never committed to this repository.

use crate::schema::{Schema, SchemaError};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// An alert schema version, `MAJOR.MINOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaVersion {
    pub major: u32,
    pub minor: u32,
}

impl SchemaVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Upstream's registry id rule: `major*100 + minor` (7.4 → 704, 11.1 → 1101).
    pub const fn registry_id(self) -> u32 {
        self.major * 100 + self.minor
    }

    /// The version a registry id stands for under the upstream rule.
    pub const fn from_registry_id(id: u32) -> Self {
        Self {
            major: id / 100,
            minor: id % 100,
        }
    }

    /// The alert schema's full name, `lsst.v11_1.alert`.
    pub fn alert_name(self) -> String {
        format!("lsst.v{}_{}.alert", self.major, self.minor)
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for SchemaVersion {
    type Err = TreeError;

    fn from_str(text: &str) -> Result<Self, TreeError> {
        let bad = || TreeError::BadVersion {
            text: text.to_owned(),
        };
        let (major, minor) = text.trim().split_once('.').ok_or_else(bad)?;
        Ok(Self {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
        })
    }
}

/// Why the schema tree could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("`{text}` is not a schema version; write MAJOR.MINOR, e.g. 11.1")]
    BadVersion { text: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Schema {
        path: PathBuf,
        #[source]
        source: SchemaError,
    },
    #[error("{path}: latest.txt names version {version}, which the tree does not have")]
    LatestMissing {
        path: PathBuf,
        version: SchemaVersion,
    },
    #[error(
        "{path} holds no alert schema versions (expected {{MAJOR}}/{{MINOR}}/lsst.vM_m.alert.avsc)"
    )]
    Empty { path: PathBuf },
    #[error("schema version {version} is not in the tree at {path}; it has {available}")]
    UnknownVersion {
        version: SchemaVersion,
        path: PathBuf,
        available: String,
    },
    #[error("no schema version has registry id {id} under the upstream rule (major*100 + minor); known: {available}")]
    UnknownSchemaId { id: u32, available: String },
    #[error("cannot find the lsst-alert-packet schema tree: {reason}; set ALERT_SCHEMA_DIR to its `schema` directory")]
    NotFound { reason: String },
}

/// One version of the alert schema.
#[derive(Debug, Clone)]
pub struct VersionedSchema {
    pub version: SchemaVersion,
    pub schema: Arc<Schema>,
    /// Parsing Canonical Form of the alert schema.
    pub canonical_form: String,
    /// The root `.avsc` file.
    pub path: PathBuf,
}

impl VersionedSchema {
    /// Directory with `alert.json` and `fakeAlert.avro` for this version.
    pub fn sample_data_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(|p| p.join("sample_data"))
            .unwrap_or_default()
    }
}

/// Every alert schema version in a tree.
#[derive(Debug, Clone)]
pub struct SchemaTree {
    root: PathBuf,
    versions: BTreeMap<SchemaVersion, VersionedSchema>,
    latest: SchemaVersion,
}

/// Loads one `.avsc` file whose references are resolved from sibling files named
/// `{fullname}.avsc`, like fastavro's `load_schema`.
pub fn load_schema_file(path: &Path) -> Result<Schema, TreeError> {
    let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    let json = read_json(path)?;
    let mut failure: Option<TreeError> = None;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let result = Schema::parse_with(&json, |name| {
        let candidate = dir.join(format!("{name}.avsc"));
        if !candidate.is_file() {
            return Err(SchemaError::Resolver(format!(
                "{file_name} refers to type `{name}`, but {} does not exist",
                candidate.display()
            )));
        }
        match read_json(&candidate) {
            Ok(json) => Ok(Some(json)),
            Err(error) => {
                let message = error.to_string();
                failure = Some(error);
                Err(SchemaError::Resolver(message))
            }
        }
    });
    match (result, failure) {
        (Ok(schema), _) => Ok(schema),
        (Err(_), Some(error)) => Err(error),
        (Err(source), None) => Err(TreeError::Schema {
            path: path.to_owned(),
            source,
        }),
    }
}

fn read_json(path: &Path) -> Result<Json, TreeError> {
    let text = std::fs::read(path).map_err(|source| TreeError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| TreeError::Json {
        path: path.to_owned(),
        source,
    })
}

impl SchemaTree {
    /// Loads every version under `root` (the package's `schema` directory).
    pub fn load(root: &Path) -> Result<SchemaTree, TreeError> {
        let mut versions = BTreeMap::new();
        let entries = |dir: &Path| -> Result<Vec<(u32, PathBuf)>, TreeError> {
            let mut found = Vec::new();
            let read = std::fs::read_dir(dir).map_err(|source| TreeError::Io {
                path: dir.to_owned(),
                source,
            })?;
            for entry in read.flatten() {
                let path = entry.path();
                if let Some(n) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    if path.is_dir() {
                        found.push((n, path));
                    }
                }
            }
            Ok(found)
        };
        for (major, major_dir) in entries(root)? {
            for (minor, minor_dir) in entries(&major_dir)? {
                let version = SchemaVersion::new(major, minor);
                let path = minor_dir.join(format!("lsst.v{major}_{minor}.alert.avsc"));
                if !path.is_file() {
                    continue;
                }
                let schema = load_schema_file(&path)?;
                let canonical_form = schema.canonical_form();
                versions.insert(
                    version,
                    VersionedSchema {
                        version,
                        schema: Arc::new(schema),
                        canonical_form,
                        path,
                    },
                );
            }
        }
        if versions.is_empty() {
            return Err(TreeError::Empty {
                path: root.to_owned(),
            });
        }
        let latest_path = root.join("latest.txt");
        let latest = match std::fs::read_to_string(&latest_path) {
            Ok(text) => {
                let version: SchemaVersion = text.parse()?;
                if !versions.contains_key(&version) {
                    return Err(TreeError::LatestMissing {
                        path: latest_path,
                        version,
                    });
                }
                version
            }
            // Without latest.txt the highest version is the latest.
            Err(_) => *versions
                .keys()
                .next_back()
                .unwrap_or(&SchemaVersion::new(0, 0)),
        };
        Ok(SchemaTree {
            root: root.to_owned(),
            versions,
            latest,
        })
    }

    /// Loads the tree from [`locate`].
    pub fn load_default() -> Result<SchemaTree, TreeError> {
        Self::load(&locate()?)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn latest(&self) -> &VersionedSchema {
        &self.versions[&self.latest]
    }

    pub fn get(&self, version: SchemaVersion) -> Result<&VersionedSchema, TreeError> {
        self.versions
            .get(&version)
            .ok_or_else(|| TreeError::UnknownVersion {
                version,
                path: self.root.clone(),
                available: self
                    .versions
                    .keys()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = &VersionedSchema> {
        self.versions.values()
    }

    /// The version whose upstream registry id (`major*100 + minor`) is `id`.
    pub fn by_registry_id(&self, id: u32) -> Result<&VersionedSchema, TreeError> {
        self.versions
            .get(&SchemaVersion::from_registry_id(id))
            .ok_or_else(|| TreeError::UnknownSchemaId {
                id,
                available: self
                    .versions
                    .keys()
                    .map(|v| v.registry_id().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The version whose canonical form equals `canonical_form`, if any.
    pub fn find_canonical(&self, canonical_form: &str) -> Option<&VersionedSchema> {
        self.versions
            .values()
            .find(|v| v.canonical_form == canonical_form)
    }
}

/// Finds the schema tree: `ALERT_SCHEMA_DIR` if set, else the `lsst-alert-packet` package of
/// the Python interpreter named by `ALERT_SCHEMA_PYTHON` (default `python3`).
pub fn locate() -> Result<PathBuf, TreeError> {
    if let Some(dir) = std::env::var_os("ALERT_SCHEMA_DIR") {
        let dir = PathBuf::from(dir);
        if dir.is_dir() {
            return Ok(dir);
        }
        return Err(TreeError::NotFound {
            reason: format!("ALERT_SCHEMA_DIR={} is not a directory", dir.display()),
        });
    }
    let python = std::env::var("ALERT_SCHEMA_PYTHON").unwrap_or_else(|_| "python3".into());
    locate_with_python(Path::new(&python))
}

/// The schema tree of the `lsst-alert-packet` package that `python` imports.
pub fn locate_with_python(python: &Path) -> Result<PathBuf, TreeError> {
    let python = python.display().to_string();
    let output = std::process::Command::new(&python)
        .args(["-c", "import lsst.alert.packet, os; print(os.path.join(os.path.dirname(lsst.alert.packet.__file__), 'schema'))"])
        .output()
        .map_err(|e| TreeError::NotFound { reason: format!("cannot run {python}: {e}") })?;
    if !output.status.success() {
        return Err(TreeError::NotFound {
            reason: format!(
                "{python} cannot import lsst.alert.packet ({})",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(TreeError::NotFound {
            reason: format!("{} does not exist", dir.display()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_follow_the_id_rule() {
        let v: SchemaVersion = "7.4".parse().unwrap();
        assert_eq!(v.registry_id(), 704);
        assert_eq!("11.1".parse::<SchemaVersion>().unwrap().registry_id(), 1101);
        assert_eq!(
            SchemaVersion::from_registry_id(1101),
            SchemaVersion::new(11, 1)
        );
        assert_eq!(v.alert_name(), "lsst.v7_4.alert");
        for bad in ["11", "x.1", "11.", "", "1.2.3"] {
            assert!(bad.parse::<SchemaVersion>().is_err(), "{bad}");
        }
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn a_small_tree_loads_with_cross_file_references() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("1/0");
        std::fs::create_dir_all(&dir).unwrap();
        write(
            &dir,
            "lsst.v1_0.alert.avsc",
            r#"{"type":"record","name":"alert","namespace":"lsst.v1_0","fields":[{"name":"alertId","type":"long"},{"name":"diaSource","type":"lsst.v1_0.diaSource"}]}"#,
        );
        write(
            &dir,
            "lsst.v1_0.diaSource.avsc",
            r#"{"type":"record","name":"diaSource","namespace":"lsst.v1_0","fields":[{"name":"midPointTai","type":"double"}]}"#,
        );
        write(root.path(), "latest.txt", "1.0\n");
        let tree = SchemaTree::load(root.path()).unwrap();
        assert_eq!(tree.latest().version, SchemaVersion::new(1, 0));
        assert!(tree.latest().canonical_form.contains("lsst.v1_0.diaSource"));
        assert!(tree
            .get(SchemaVersion::new(9, 9))
            .unwrap_err()
            .to_string()
            .contains("1.0"));
    }

    #[test]
    fn a_missing_referenced_file_is_named() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("1/0");
        std::fs::create_dir_all(&dir).unwrap();
        write(
            &dir,
            "lsst.v1_0.alert.avsc",
            r#"{"type":"record","name":"alert","namespace":"lsst.v1_0","fields":[{"name":"diaSource","type":"lsst.v1_0.diaSource"}]}"#,
        );
        let err = SchemaTree::load(root.path()).unwrap_err().to_string();
        assert!(err.contains("lsst.v1_0.alert.avsc"), "{err}");
        assert!(
            err.contains("lsst.v1_0.diaSource.avsc does not exist"),
            "{err}"
        );
    }

    #[test]
    fn a_broken_sub_schema_is_named() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("1/0");
        std::fs::create_dir_all(&dir).unwrap();
        write(
            &dir,
            "lsst.v1_0.alert.avsc",
            r#"{"type":"record","name":"alert","namespace":"lsst.v1_0","fields":[{"name":"diaSource","type":"lsst.v1_0.diaSource"}]}"#,
        );
        write(
            &dir,
            "lsst.v1_0.diaSource.avsc",
            r#"{"type":"record", oops"#,
        );
        let err = SchemaTree::load(root.path()).unwrap_err().to_string();
        assert!(
            err.contains("lsst.v1_0.diaSource.avsc is not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn latest_must_exist_in_the_tree() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("1/0");
        std::fs::create_dir_all(&dir).unwrap();
        write(
            &dir,
            "lsst.v1_0.alert.avsc",
            r#"{"type":"record","name":"alert","namespace":"lsst.v1_0","fields":[]}"#,
        );
        write(root.path(), "latest.txt", "2.0");
        assert!(matches!(
            SchemaTree::load(root.path()),
            Err(TreeError::LatestMissing { .. })
        ));
    }
}
