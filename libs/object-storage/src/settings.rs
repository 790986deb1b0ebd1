//! Where a daemon's stores are, as an operator writes it: one [`StoreSettings`] (the `[store]`
//! section of a settings file, `<PREFIX>_STORE__*` in the environment) and one [`StoreArgs`]
//! (the flags), shared by the ingester and the server so a flag means the same in both.
//!
//! Two styles name the stores:
//! - URLs: `--alerts-url` (and `--schemas-url`, the alerts' store when unset);
//! - upstream's flags: `--bucket-alerts`/`--bucket-schemas` with `--backend google-cloud|s3`,
//!   or `--backend local-files --local-file-root DIR`. Without `--backend`, buckets are GCS
//!   ones, or S3 ones when `--endpoint-url` is given (upstream ingester's rule).
//!
//! `--endpoint-url` is the endpoint of an S3-compatible store and applies to S3 stores only.
//! [`StoreSettings::resolve`] turns either style into two URLs and the [`StoreOptions`] that
//! [`crate::open`] takes; mixing the styles is an error.

use crate::StoreOptions;
use serde::{Deserialize, Serialize};
use service_kit::secret::Secret;
use service_kit::settings::not;
use std::path::PathBuf;

/// Upstream alertdb's `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// A directory on local disk (`--local-file-root`).
    LocalFiles,
    /// Google Cloud Storage buckets.
    GoogleCloud,
    /// S3 or S3-compatible buckets (`--endpoint-url`).
    S3,
}

/// The stores as an operator writes them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// Store of the alerts: `gs://BUCKET[/PREFIX]`, `s3://...`, `file:///DIR`, `memory://`.
    pub alerts_url: Option<String>,
    /// Store of the schemas; the alerts' store when unset.
    pub schemas_url: Option<String>,
    /// Upstream compatibility: `local-files`, `google-cloud` or `s3`.
    pub backend: Option<Backend>,
    /// Upstream compatibility: root directory of the `local-files` backend.
    pub local_file_root: Option<PathBuf>,
    /// Upstream compatibility: bucket of the alerts.
    pub bucket_alerts: Option<String>,
    /// Upstream compatibility: bucket of the schemas (defaults to the alerts' bucket).
    pub bucket_schemas: Option<String>,
    /// Endpoint of an S3-compatible store, e.g. `http://127.0.0.1:9000`.
    pub endpoint_url: Option<String>,
    /// GCS: a service-account JSON file (otherwise application default credentials).
    pub gcs_service_account_path: Option<PathBuf>,
    /// S3: region (default: `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`).
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    #[serde(skip_serializing)]
    pub s3_secret_access_key: Option<Secret>,
    /// file:// stores: fsync each written object and its directory before the write returns.
    pub fsync_local_files: bool,
}

/// The store flags, flattened into the command line of every daemon with stores and
/// serialized as its `store` section. Absent flags leave the lower layers in force.
#[derive(Debug, Clone, Default, clap::Args, Serialize)]
pub struct StoreArgs {
    /// Store of the alerts (gs://BUCKET[/PREFIX], s3://BUCKET[/PREFIX], file:///DIR, memory://).
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts_url: Option<String>,
    /// Store of the schemas [default: the alerts' store].
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schemas_url: Option<String>,
    /// Upstream compatibility: the kind of store the bucket flags name [default: s3 with
    /// --endpoint-url, else google-cloud].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// Upstream compatibility: root directory of the local-files backend.
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_file_root: Option<PathBuf>,
    /// Upstream compatibility: bucket of the alerts.
    #[arg(long, visible_alias = "gcp-bucket-alerts", value_name = "BUCKET")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_alerts: Option<String>,
    /// Upstream compatibility: bucket of the schemas [default: the alerts' bucket].
    #[arg(long, visible_alias = "gcp-bucket-schemas", value_name = "BUCKET")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_schemas: Option<String>,
    /// Endpoint of an S3-compatible store (S3 stores only).
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Upstream compatibility: accepted and ignored (the credentials name the project).
    #[arg(long, hide = true)]
    #[serde(skip)]
    pub gcp_project: Option<String>,
    /// GCS service-account JSON file [default: application default credentials].
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcs_service_account_path: Option<PathBuf>,
    /// file:// stores that are written: fsync every object and its directory before the write
    /// counts as done (survives an OS crash or power cut; costs a disk flush per object).
    #[arg(long)]
    #[serde(skip_serializing_if = "not")]
    pub fsync_local_files: bool,
}

/// What is wrong with the store settings; each message names the flag and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreSettingsError {
    #[error("--alerts-url is required: where the archive is, e.g. gs://alerts-bucket, s3://alerts-bucket or file:///var/lib/alertdb (or upstream's --bucket-alerts, --backend local-files --local-file-root DIR)")]
    Missing,
    #[error("give either --alerts-url/--schemas-url or upstream's --backend/--bucket-*/--local-file-root flags, not both")]
    BothStyles,
    #[error("--backend local-files requires --local-file-root")]
    MissingFileRoot,
    #[error("--local-file-root only applies to --backend local-files")]
    FileRootWithoutLocalFiles,
    #[error("--local-file-root {path}: {reason}")]
    FileRoot { path: PathBuf, reason: String },
    #[error("--backend {0} requires --bucket-alerts")]
    MissingBucket(&'static str),
    #[error("--bucket-alerts/--bucket-schemas {0:?} is not a bucket name")]
    InvalidBucket(String),
    #[error("--endpoint-url only applies to S3 stores (for a GCS emulator, set gcs_base_url in the --gcs-service-account-path file)")]
    EndpointWithoutS3,
    #[error(transparent)]
    Store(#[from] crate::StorageError),
}

/// The stores, resolved: what [`crate::open`] takes.
#[derive(Debug, Clone)]
pub struct Stores {
    pub alerts_url: String,
    pub schemas_url: String,
    pub options: StoreOptions,
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn bucket_url(scheme: &str, bucket: &str) -> Result<String, StoreSettingsError> {
    let valid = !bucket.is_empty()
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(StoreSettingsError::InvalidBucket(bucket.to_owned()));
    }
    Ok(format!("{scheme}://{bucket}"))
}

impl StoreSettings {
    /// Turns either style into the stores' URLs and options, and opens each once to check
    /// scheme, bucket and credentials configuration (no request is made).
    pub fn resolve(&self) -> Result<Stores, StoreSettingsError> {
        let endpoint = non_empty(&self.endpoint_url);
        let upstream_style = self.backend.is_some()
            || self.local_file_root.is_some()
            || non_empty(&self.bucket_alerts).is_some()
            || non_empty(&self.bucket_schemas).is_some();
        let url_style =
            non_empty(&self.alerts_url).is_some() || non_empty(&self.schemas_url).is_some();
        let (alerts_url, schemas_url) = match (url_style, upstream_style) {
            (true, true) => return Err(StoreSettingsError::BothStyles),
            (false, false) => return Err(StoreSettingsError::Missing),
            (true, false) => {
                let alerts = non_empty(&self.alerts_url).ok_or(StoreSettingsError::Missing)?;
                let schemas = non_empty(&self.schemas_url).unwrap_or_else(|| alerts.clone());
                (alerts, schemas)
            }
            (false, true) => self.upstream_urls(endpoint.is_some())?,
        };
        if endpoint.is_some()
            && !alerts_url.starts_with("s3://")
            && !schemas_url.starts_with("s3://")
        {
            return Err(StoreSettingsError::EndpointWithoutS3);
        }
        let options = StoreOptions {
            gcs_service_account_path: self.gcs_service_account_path.clone(),
            s3_endpoint: endpoint,
            s3_region: non_empty(&self.s3_region),
            s3_access_key_id: non_empty(&self.s3_access_key_id),
            s3_secret_access_key: self.s3_secret_access_key.clone(),
            fsync_local_files: self.fsync_local_files,
        };
        crate::open(&alerts_url, &options)?;
        crate::open(&schemas_url, &options)?;
        Ok(Stores {
            alerts_url,
            schemas_url,
            options,
        })
    }

    fn upstream_urls(&self, has_endpoint: bool) -> Result<(String, String), StoreSettingsError> {
        let backend = self.backend.unwrap_or(if has_endpoint {
            Backend::S3
        } else {
            Backend::GoogleCloud
        });
        if backend != Backend::LocalFiles && self.local_file_root.is_some() {
            return Err(StoreSettingsError::FileRootWithoutLocalFiles);
        }
        let scheme = match backend {
            Backend::LocalFiles => {
                if self.bucket_alerts.is_some() || self.bucket_schemas.is_some() {
                    return Err(StoreSettingsError::BothStyles);
                }
                let root = self
                    .local_file_root
                    .as_ref()
                    .ok_or(StoreSettingsError::MissingFileRoot)?;
                let file_root = |reason: String| StoreSettingsError::FileRoot {
                    path: root.clone(),
                    reason,
                };
                let absolute = std::path::absolute(root).map_err(|e| file_root(e.to_string()))?;
                let url = url::Url::from_directory_path(&absolute)
                    .map_err(|()| file_root("not a usable directory path".into()))?;
                return Ok((url.to_string(), url.to_string()));
            }
            Backend::GoogleCloud => "gs",
            Backend::S3 => "s3",
        };
        let name = if backend == Backend::S3 {
            "s3"
        } else {
            "google-cloud"
        };
        let alerts =
            non_empty(&self.bucket_alerts).ok_or(StoreSettingsError::MissingBucket(name))?;
        let schemas = non_empty(&self.bucket_schemas).unwrap_or_else(|| alerts.clone());
        Ok((bucket_url(scheme, &alerts)?, bucket_url(scheme, &schemas)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        store: StoreArgs,
    }

    #[derive(Default, Deserialize, Serialize)]
    struct Daemon {
        store: StoreSettings,
    }

    #[derive(Serialize)]
    struct DaemonCli<'a> {
        store: &'a StoreArgs,
    }

    fn resolve(args: &[&str]) -> Result<Stores, StoreSettingsError> {
        let mut all = vec!["x"];
        all.extend_from_slice(args);
        let cli = Cli::try_parse_from(all).unwrap();
        let daemon: Daemon = service_kit::settings::load(
            service_kit::settings::Layers {
                file: None,
                env_prefix: "OSTEST_STORE_NONE",
                list_keys: &[],
            },
            &DaemonCli { store: &cli.store },
        )
        .unwrap();
        daemon.store.resolve()
    }

    #[test]
    fn urls_name_the_stores() {
        let stores = resolve(&["--alerts-url", "memory://"]).unwrap();
        assert_eq!(stores.alerts_url, "memory://");
        assert_eq!(stores.schemas_url, "memory://");
        assert!(!stores.options.fsync_local_files);
        let stores = resolve(&[
            "--alerts-url",
            "s3://alerts",
            "--schemas-url",
            "s3://schemas/prefix",
            "--endpoint-url",
            "http://127.0.0.1:9000",
        ])
        .unwrap();
        assert_eq!(stores.schemas_url, "s3://schemas/prefix");
        assert_eq!(
            stores.options.s3_endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn upstream_buckets_are_gcs_or_s3_with_an_endpoint() {
        let gcs = resolve(&["--bucket-alerts", "alerts", "--bucket-schemas", "schemas"]).unwrap();
        assert_eq!(
            (gcs.alerts_url.as_str(), gcs.schemas_url.as_str()),
            ("gs://alerts", "gs://schemas")
        );
        let aliases = resolve(&["--gcp-bucket-alerts", "a", "--gcp-project", "p"]).unwrap();
        assert_eq!(aliases.schemas_url, "gs://a");
        let s3 = resolve(&[
            "--bucket-alerts",
            "alerts",
            "--endpoint-url",
            "http://minio:9000",
        ])
        .unwrap();
        assert_eq!(s3.alerts_url, "s3://alerts");
        assert_eq!(s3.options.s3_endpoint.as_deref(), Some("http://minio:9000"));
        let explicit = resolve(&["--backend", "s3", "--bucket-alerts", "alerts"]).unwrap();
        assert_eq!(explicit.alerts_url, "s3://alerts");
        let google = resolve(&["--backend", "google-cloud", "--bucket-alerts", "b"]).unwrap();
        assert_eq!(google.alerts_url, "gs://b");
    }

    #[test]
    fn upstream_local_files_become_a_file_url() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let stores = resolve(&["--backend", "local-files", "--local-file-root", root]).unwrap();
        assert!(
            stores.alerts_url.starts_with("file:///"),
            "{}",
            stores.alerts_url
        );
        assert_eq!(stores.alerts_url, stores.schemas_url);
    }

    #[test]
    fn contradictions_are_refused_by_flag() {
        let err = |args: &[&str]| resolve(args).unwrap_err();
        assert!(matches!(err(&[]), StoreSettingsError::Missing));
        assert!(matches!(
            err(&["--alerts-url", "memory://", "--bucket-alerts", "b"]),
            StoreSettingsError::BothStyles
        ));
        assert!(matches!(
            err(&["--schemas-url", "memory://", "--backend", "s3"]),
            StoreSettingsError::BothStyles
        ));
        assert!(matches!(
            err(&["--backend", "local-files"]),
            StoreSettingsError::MissingFileRoot
        ));
        assert!(matches!(
            err(&["--backend", "s3"]),
            StoreSettingsError::MissingBucket("s3")
        ));
        assert!(matches!(
            err(&["--bucket-alerts", "no/slash"]),
            StoreSettingsError::InvalidBucket(_)
        ));
        assert!(matches!(
            err(&["--local-file-root", "/tmp", "--bucket-alerts", "b"]),
            StoreSettingsError::FileRootWithoutLocalFiles
        ));
        assert!(matches!(
            err(&["--alerts-url", "memory://", "--endpoint-url", "http://x"]),
            StoreSettingsError::EndpointWithoutS3
        ));
        assert!(matches!(
            err(&["--alerts-url", "ftp://x"]),
            StoreSettingsError::Store(_)
        ));
        assert!(err(&["--alerts-url", "gs://"])
            .to_string()
            .contains("names no bucket"));
        assert!(Cli::try_parse_from(["x", "--backend", "azure"]).is_err());
    }

    #[test]
    fn fsync_is_a_flag_or_a_setting() {
        assert!(
            resolve(&["--alerts-url", "memory://", "--fsync-local-files"])
                .unwrap()
                .options
                .fsync_local_files
        );
        let settings = StoreSettings {
            alerts_url: Some("memory://".into()),
            fsync_local_files: true,
            ..StoreSettings::default()
        };
        assert!(settings.resolve().unwrap().options.fsync_local_files);
    }
}
