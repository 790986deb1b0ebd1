//! Object stores for the alert archive, chosen by URL.
//!
//! The ingester writes and the server reads the same buckets; both name them with a URL so an
//! operator can move between Google Cloud Storage, an S3-compatible store and local files
//! without code changes:
//!
//! | URL | store |
//! |---|---|
//! | `gs://BUCKET[/PREFIX]` | Google Cloud Storage: application default credentials (Workload Identity) or a service-account file |
//! | `s3://BUCKET[/PREFIX]` | S3, or an S3-compatible store at an endpoint URL (the local stack's is moto), with keys |
//! | `file:///ABSOLUTE/PATH` | a directory on local disk (created if absent) |
//! | `memory://` | a fresh in-memory store (tests) |
//!
//! Every store is returned as `Arc<dyn ObjectStore>`, so callers have one code path whatever
//! the backend, and a `PREFIX` is applied with [`PrefixStore`] so keys stay the layout's own.

use object_store::aws::AmazonS3Builder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
use service_kit::secret::Secret;
use std::path::PathBuf;
use std::sync::Arc;
use url::Url;

pub use object_store;

pub mod settings;
pub use settings::{Backend, StoreArgs, StoreSettings, StoreSettingsError, Stores};

/// Backend options that do not fit in a URL, resolved from [`StoreSettings`]. All are
/// optional; the environment variables that `object_store` reads
/// (`GOOGLE_APPLICATION_CREDENTIALS`, `AWS_ACCESS_KEY_ID`, ...) apply too.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// GCS: a service-account JSON file (otherwise application default credentials).
    pub gcs_service_account_path: Option<PathBuf>,
    /// S3: endpoint of an S3-compatible store, e.g. `http://127.0.0.1:9000`.
    pub s3_endpoint: Option<String>,
    /// S3: region (default: `AWS_REGION` or `AWS_DEFAULT_REGION`, else `us-east-1`, which
    /// S3-compatible stores accept).
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<Secret>,
    /// file://: fsync each written object and its directory before the write returns, so a
    /// write survives an OS crash or a power cut, not only a crash of the process. Off by
    /// default: it costs a disk flush per object; cloud stores acknowledge durable writes.
    pub fsync_local_files: bool,
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("`{url}` is not a valid store URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "`{url}`: unsupported store scheme `{scheme}`; use gs://, s3://, file:// or memory://"
    )]
    UnsupportedScheme { url: String, scheme: String },
    #[error("`{url}` names no bucket; write it as {scheme}://BUCKET[/PREFIX]")]
    MissingBucket { url: String, scheme: String },
    #[error("`{url}`: cannot use local directory {path}: {source}")]
    LocalDirectory {
        url: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{url}`: {source}")]
    Backend {
        url: String,
        #[source]
        source: object_store::Error,
    },
}

/// Opens the store a URL names. Opening checks the configuration only; the first request
/// shows whether the bucket exists and the credentials work.
pub fn open(url: &str, options: &StoreOptions) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let parsed = Url::parse(url).map_err(|e| StorageError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let backend_error = |source| StorageError::Backend {
        url: url.to_owned(),
        source,
    };
    let scheme = parsed.scheme().to_owned();
    let bucket = || -> Result<String, StorageError> {
        match parsed.host_str() {
            Some(bucket) if !bucket.is_empty() => Ok(bucket.to_owned()),
            _ => Err(StorageError::MissingBucket {
                url: url.to_owned(),
                scheme: scheme.clone(),
            }),
        }
    };
    let prefix = parsed.path().trim_matches('/').to_owned();
    let store: Arc<dyn ObjectStore> = match scheme.as_str() {
        "gs" => {
            let mut builder = GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket()?);
            if let Some(path) = &options.gcs_service_account_path {
                builder = builder.with_service_account_path(path.to_string_lossy());
            }
            with_prefix(Arc::new(builder.build().map_err(backend_error)?), &prefix)
        }
        "s3" => {
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket()?);
            // Unset, the builder keeps AWS_REGION / AWS_DEFAULT_REGION, else us-east-1.
            if let Some(region) = &options.s3_region {
                builder = builder.with_region(region);
            }
            if let Some(endpoint) = &options.s3_endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_virtual_hosted_style_request(false);
            }
            if let Some(key) = &options.s3_access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &options.s3_secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            with_prefix(Arc::new(builder.build().map_err(backend_error)?), &prefix)
        }
        "file" => {
            let path = parsed
                .to_file_path()
                .map_err(|()| StorageError::InvalidUrl {
                    url: url.to_owned(),
                    reason: "a file URL needs an absolute path: file:///path/to/dir".into(),
                })?;
            std::fs::create_dir_all(&path).map_err(|source| StorageError::LocalDirectory {
                url: url.to_owned(),
                path: path.clone(),
                source,
            })?;
            Arc::new(
                LocalFileSystem::new_with_prefix(&path)
                    .map_err(backend_error)?
                    .with_fsync(options.fsync_local_files),
            )
        }
        "memory" => with_prefix(Arc::new(InMemory::new()), &prefix),
        _ => {
            return Err(StorageError::UnsupportedScheme {
                url: url.to_owned(),
                scheme,
            })
        }
    };
    Ok(store)
}

fn with_prefix(store: Arc<dyn ObjectStore>, prefix: &str) -> Arc<dyn ObjectStore> {
    if prefix.is_empty() {
        store
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use object_store::path::Path;
    use object_store::{ObjectStoreExt, PutPayload};

    #[test]
    fn unknown_scheme_is_named() {
        let err = open("ftp://bucket/x", &StoreOptions::default()).unwrap_err();
        assert!(matches!(err, StorageError::UnsupportedScheme { .. }));
        assert!(err.to_string().contains("ftp"), "{err}");
    }

    #[test]
    fn a_bucketless_url_is_refused() {
        for url in ["gs:///alerts", "s3:///alerts", "gs://"] {
            let err = open(url, &StoreOptions::default()).unwrap_err();
            assert!(
                matches!(
                    err,
                    StorageError::MissingBucket { .. } | StorageError::InvalidUrl { .. }
                ),
                "{url}: {err}"
            );
        }
    }

    #[test]
    fn not_a_url_is_refused() {
        let err = open("alerts-bucket", &StoreOptions::default()).unwrap_err();
        assert!(matches!(err, StorageError::InvalidUrl { .. }), "{err}");
    }

    #[test]
    fn gcs_with_a_service_account_file_opens() {
        let dir = tempfile::tempdir().unwrap();
        let account = dir.path().join("sa.json");
        std::fs::write(
            &account,
            r#"{"gcs_base_url":"http://127.0.0.1:1","disable_oauth":true,"client_email":"","private_key":"","private_key_id":""}"#,
        )
        .unwrap();
        let options = StoreOptions {
            gcs_service_account_path: Some(account),
            ..StoreOptions::default()
        };
        open("gs://alerts/archive", &options).unwrap();
    }

    #[test]
    fn s3_region_is_the_setting_else_the_environment_else_us_east_1() {
        // object_store keeps its configuration private; its Debug output is where it shows.
        let options = StoreOptions {
            s3_region: Some("eu-west-3".into()),
            ..StoreOptions::default()
        };
        let store = open("s3://alerts", &options).unwrap();
        assert!(
            format!("{store:?}").contains("region: \"eu-west-3\""),
            "{store:?}"
        );
        let from_env = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|key| std::env::var(key).ok())
            .unwrap_or_else(|| "us-east-1".into());
        let store = open("s3://alerts", &StoreOptions::default()).unwrap();
        assert!(
            format!("{store:?}").contains(&format!("region: \"{from_env}\"")),
            "{store:?}"
        );
    }

    #[tokio::test]
    async fn local_files_with_a_prefix_keep_keys_under_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/nested/root", dir.path().display());
        let store = open(&url, &StoreOptions::default()).unwrap();
        store
            .put(
                &Path::from("v2/alerts/123456/1234567.avro.gz"),
                PutPayload::from_static(b"x"),
            )
            .await
            .unwrap();
        assert!(dir
            .path()
            .join("nested/root/v2/alerts/123456/1234567.avro.gz")
            .is_file());
        let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
        assert_eq!(listed.len(), 1);
    }

    #[tokio::test]
    async fn local_files_are_fsynced_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let plain = open(&url, &StoreOptions::default()).unwrap();
        let synced = open(
            &url,
            &StoreOptions {
                fsync_local_files: true,
                ..StoreOptions::default()
            },
        )
        .unwrap();
        // object_store keeps the choice private; its Debug output is where it shows.
        assert!(format!("{plain:?}").contains("fsync: false"), "{plain:?}");
        assert!(format!("{synced:?}").contains("fsync: true"), "{synced:?}");
        let key = Path::from("v2/alerts/1/1.avro.gz");
        synced
            .put(&key, PutPayload::from_static(b"alert"))
            .await
            .unwrap();
        let read = plain.get(&key).await.unwrap().bytes().await.unwrap();
        assert_eq!(&read[..], b"alert");
    }

    #[tokio::test]
    async fn memory_stores_are_independent() {
        let a = open("memory://", &StoreOptions::default()).unwrap();
        let b = open("memory://", &StoreOptions::default()).unwrap();
        a.put(&Path::from("k"), PutPayload::from_static(b"v"))
            .await
            .unwrap();
        assert!(b.head(&Path::from("k")).await.is_err());
    }
}
