//! Support for tests that run against the real local stack.
//!
//! `scripts/stack.sh start` starts Kafka, the schema registry, fake-gcs-server and an S3 server
//! (moto) on loopback and writes `.run/stack.env`; [`Stack::get`] reads it (or the same variables from the
//! environment, which win). Tests never fall back to mocks: without a running stack they fail
//! and say how to start it.
//!
//! Every test names its own topics, groups, users and buckets with [`unique_name`], so tests
//! can run in parallel and in any order against one stack.
//!
//! The harness: [`daemon`] runs a service in-process (one handle for every service, logs
//! only with `ALERTDIST_TEST_LOG`), [`process`] runs one as a child process, [`faults`] holds
//! the dependencies a test owns in order to break them (forwarders, a private Kafka, a private
//! fake-gcs-server), [`confluent_registry`] is a Confluent registry for what the stack's
//! cannot do, and [`kafka_io`] produces and consumes.

use anyhow::{bail, Context, Result};
use rand::Rng;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use service_kit::kafka::{KafkaSettings, SecurityProtocol, TlsFiles};
use service_kit::secret::Secret;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub mod confluent_registry;
pub mod daemon;
pub mod faults;
pub mod kafka_io;
pub mod process;

/// Addresses and credentials of the running local stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub repo: PathBuf,
    pub kafka_plaintext: String,
    pub kafka_mtls: String,
    pub kafka_scram: String,
    pub kafka_admin_user: String,
    pub kafka_admin_password: Secret,
    pub tls_ca: PathBuf,
    pub tls_client_crt: PathBuf,
    pub tls_client_key: PathBuf,
    pub registry_url: String,
    pub gcs_endpoint: String,
    pub gcs_service_account: PathBuf,
    /// The S3 server (moto): endpoint, region and the keys every client of the stack uses.
    pub s3_endpoint: String,
    pub s3_region: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: Secret,
    pub python: PathBuf,
}

static STACK: OnceLock<Stack> = OnceLock::new();

/// The repository root (this crate's parent directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl Stack {
    /// The running stack. Panics with instructions when it is not running.
    pub fn get() -> &'static Stack {
        STACK.get_or_init(|| match Stack::load() {
            Ok(stack) => stack,
            Err(error) => panic!(
                "the local stack is not available ({error:#}); start it with `scripts/stack.sh start` \
                 or run every test with `scripts/test.sh`"
            ),
        })
    }

    fn load() -> Result<Stack> {
        let repo = repo_root();
        let env_file = std::env::var_os("ALERTDIST_STACK_ENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join(".run/stack.env"));
        let mut values: HashMap<String, String> = HashMap::new();
        if env_file.is_file() {
            let text = std::fs::read_to_string(&env_file)
                .with_context(|| format!("reading {}", env_file.display()))?;
            for line in text.lines() {
                let line = line.trim().trim_start_matches("export ").trim();
                if let Some((key, value)) = line.split_once('=') {
                    values.insert(key.to_owned(), value.trim_matches('"').to_owned());
                }
            }
        }
        let var = |key: &str| -> Result<String> {
            std::env::var(key)
                .ok()
                .or_else(|| values.get(key).cloned())
                .with_context(|| format!("{key} is not set and not in {}", env_file.display()))
        };
        let path = |key: &str| -> Result<PathBuf> { Ok(PathBuf::from(var(key)?)) };
        let admin_password_file = path("ALERTDIST_KAFKA_ADMIN_PASSWORD_FILE")?;
        let admin_password = std::fs::read_to_string(&admin_password_file)
            .with_context(|| format!("reading {}", admin_password_file.display()))?;
        Ok(Stack {
            repo,
            kafka_plaintext: var("ALERTDIST_KAFKA_PLAINTEXT")?,
            kafka_mtls: var("ALERTDIST_KAFKA_MTLS")?,
            kafka_scram: var("ALERTDIST_KAFKA_SCRAM")?,
            kafka_admin_user: var("ALERTDIST_KAFKA_ADMIN_USER")?,
            kafka_admin_password: Secret::new(admin_password.trim()),
            tls_ca: path("ALERTDIST_TLS_CA")?,
            tls_client_crt: path("ALERTDIST_TLS_CLIENT_CRT")?,
            tls_client_key: path("ALERTDIST_TLS_CLIENT_KEY")?,
            registry_url: var("ALERTDIST_SCHEMA_REGISTRY_URL")?,
            gcs_endpoint: var("ALERTDIST_GCS_ENDPOINT")?,
            gcs_service_account: path("ALERTDIST_GCS_SERVICE_ACCOUNT")?,
            s3_endpoint: var("ALERTDIST_S3_ENDPOINT")?,
            s3_region: var("ALERTDIST_S3_REGION")?,
            s3_access_key_id: var("ALERTDIST_S3_ACCESS_KEY_ID")?,
            s3_secret_access_key: Secret::new(var("ALERTDIST_S3_SECRET_ACCESS_KEY")?),
            python: path("ALERTDIST_PYTHON")?,
        })
    }

    /// The in-cluster listener: no authentication.
    pub fn kafka_plaintext(&self) -> KafkaSettings {
        KafkaSettings {
            bootstrap_servers: self.kafka_plaintext.clone(),
            ..KafkaSettings::default()
        }
    }

    /// The community-broker listener, as `username`.
    pub fn kafka_scram(&self, username: &str, password: &str) -> KafkaSettings {
        KafkaSettings {
            bootstrap_servers: self.kafka_scram.clone(),
            security_protocol: Some(SecurityProtocol::SaslPlaintext),
            username: Some(username.to_owned()),
            password: Some(Secret::new(password)),
            ..KafkaSettings::default()
        }
    }

    /// The mTLS listener with the client certificate the scripts made.
    pub fn kafka_mtls(&self) -> KafkaSettings {
        KafkaSettings {
            bootstrap_servers: self.kafka_mtls.clone(),
            security_protocol: Some(SecurityProtocol::Ssl),
            tls: TlsFiles {
                server_ca_crt_location: Some(self.tls_ca.clone()),
                client_crt_location: Some(self.tls_client_crt.clone()),
                client_key_location: Some(self.tls_client_key.clone()),
            },
            ..KafkaSettings::default()
        }
    }

    /// Creates topics on the plaintext listener and waits until they exist.
    pub async fn create_topics(&self, names: &[&str], partitions: i32) -> Result<()> {
        let admin: AdminClient<DefaultClientContext> =
            self.kafka_plaintext().client_config()?.create()?;
        let topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(1)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.create_topics(&topics, &options).await? {
            if let Err((topic, code)) = result {
                bail!("creating topic {topic}: {code}");
            }
        }
        Ok(())
    }

    /// Deletes topics (a test's big ones, so repeated runs do not fill the disk).
    pub async fn delete_topics(&self, names: &[&str]) -> Result<()> {
        let admin: AdminClient<DefaultClientContext> =
            self.kafka_plaintext().client_config()?.create()?;
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.delete_topics(names, &options).await? {
            if let Err((topic, code)) = result {
                bail!("deleting topic {topic}: {code}");
            }
        }
        Ok(())
    }

    /// Applies a users file (BRIEF §2 shape) with `scripts/kafka/users.sh`; returns each
    /// user's password (generated by the script into a private secrets directory).
    pub fn apply_users(&self, users: &serde_json::Value) -> Result<BTreeMap<String, String>> {
        let dir = std::env::temp_dir().join(unique_name("users"));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("users.json");
        std::fs::write(&file, serde_json::to_vec_pretty(users)?)?;
        let secrets = dir.join("secrets");
        std::fs::create_dir_all(&secrets)?;
        let output = Command::new(self.repo.join("scripts/kafka/users.sh"))
            .arg("apply")
            .arg("--users")
            .arg(&file)
            .arg("--secrets")
            .arg(&secrets)
            .output()
            .context("running scripts/kafka/users.sh")?;
        if !output.status.success() {
            bail!(
                "users.sh apply failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let mut passwords = BTreeMap::new();
        for user in users["users"].as_array().into_iter().flatten() {
            let name = user["username"].as_str().context("username")?;
            let password = std::fs::read_to_string(secrets.join(format!("{name}-password")))
                .with_context(|| format!("password of {name}"))?;
            passwords.insert(name.to_owned(), password.trim().to_owned());
        }
        Ok(passwords)
    }

    /// Creates a bucket in fake-gcs-server.
    pub async fn create_gcs_bucket(&self, name: &str) -> Result<()> {
        let response = reqwest::Client::new()
            .post(format!("{}/storage/v1/b?project=test", self.gcs_endpoint))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!(
                "creating bucket {name}: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Store options that reach the S3 server (`s3://BUCKET[/PREFIX]` URLs).
    pub fn s3_options(&self) -> object_storage::StoreOptions {
        object_storage::StoreOptions {
            s3_endpoint: Some(self.s3_endpoint.clone()),
            s3_region: Some(self.s3_region.clone()),
            s3_access_key_id: Some(self.s3_access_key_id.clone()),
            s3_secret_access_key: Some(self.s3_secret_access_key.clone()),
            ..object_storage::StoreOptions::default()
        }
    }

    /// Creates a bucket in the S3 server: `PUT /BUCKET/` (CreateBucket, path style), signed
    /// with SigV4 as `object_store` signs (a presigned URL), so it works on a server that checks
    /// signatures too. A bucket that already exists is fine.
    pub async fn create_s3_bucket(&self, name: &str) -> Result<()> {
        use object_storage::object_store::aws::AmazonS3Builder;
        use object_storage::object_store::signer::Signer;
        let signer = AmazonS3Builder::new()
            .with_bucket_name(name)
            .with_endpoint(&self.s3_endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region(&self.s3_region)
            .with_access_key_id(&self.s3_access_key_id)
            .with_secret_access_key(self.s3_secret_access_key.expose())
            .build()?;
        let url = signer
            .signed_url(
                reqwest::Method::PUT,
                &object_storage::object_store::path::Path::from(""),
                Duration::from_secs(60),
            )
            .await?;
        let response = reqwest::Client::new()
            .put(url)
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() && !body.contains("BucketAlreadyOwnedByYou") {
            bail!("creating S3 bucket {name}: {status} {body}");
        }
        Ok(())
    }
}

/// The path of a workspace binary built with the profile this test was built with
/// (`target/debug/NAME` under `cargo test`, `target/release/NAME` under `cargo test --release`,
/// as `scripts/test.sh` runs), built first if need be, so tests can run a daemon or CLI as a
/// process: exit codes, stderr, signals. Cargo releases its build lock before running tests,
/// so building from a test is safe.
pub fn service_binary(name: &str) -> PathBuf {
    let (profile_dir, profile) = test_profile();
    workspace_binary(name, &profile_dir, &profile)
}

/// The path of a workspace binary built with the release profile (`target/release/NAME`),
/// built first if need be. For tests whose figures mean something only with optimised code
/// (the whole-system visit test).
pub fn release_binary(name: &str) -> PathBuf {
    let (profile_dir, _) = test_profile();
    let target_dir = profile_dir
        .parent()
        .expect("a profile directory is in the target directory");
    workspace_binary(name, &target_dir.join("release"), "release")
}

/// The directory of the profile this test executable was built with (`target/<dir>/deps/<test>`)
/// and the profile's name (the directory `debug` is the profile `dev`).
fn test_profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps")
        .to_path_buf();
    let dir_name = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .expect("a profile directory name");
    let profile = if dir_name == "debug" { "dev" } else { dir_name }.to_owned();
    (profile_dir, profile)
}

/// Builds every binary of the workspace with `profile` once per test process, exactly as
/// `scripts/test.sh` does before the tests (`cargo build --workspace --bins`): building one
/// package alone would resolve its dependencies' features differently, recompile them and
/// replace the binary the script built.
fn workspace_binary(name: &str, profile_dir: &Path, profile: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|p| p == profile) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(repo_root())
            .args(["build", "--quiet", "--locked", "--workspace", "--bins"])
            .args(["--profile", profile])
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build the services: {e}"));
        assert!(
            status.success(),
            "building the workspace's binaries ({profile}) failed"
        );
        built.push(profile.to_owned());
    }
    profile_dir.join(name)
}

/// `prefix-<8 random hex digits>`: a topic, group, user or bucket name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::rng().random::<u32>())
}

/// The alert schemas of every version (`ALERT_SCHEMA_DIR`, else what
/// `scripts/install/schema-dir.sh` fetched from the `lsst-alert-packet` package), loaded once.
pub fn schema_tree() -> &'static alert_packet::tree::SchemaTree {
    static TREE: std::sync::OnceLock<alert_packet::tree::SchemaTree> = std::sync::OnceLock::new();
    TREE.get_or_init(|| {
        let dir = std::env::var("ALERT_SCHEMA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                let output =
                    std::process::Command::new(repo_root().join("scripts/install/schema-dir.sh"))
                        .output()
                        .expect("scripts/install/schema-dir.sh");
                PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
            });
        alert_packet::tree::SchemaTree::load(&dir).expect("schema tree")
    })
}

/// Registers the alert schema `version` (major, minor) with the stack's registry under a new
/// subject named from `subject_prefix`; returns its id.
pub async fn register_alert_schema(version: (u32, u32), subject_prefix: &str) -> u32 {
    let schema = schema_tree()
        .get(alert_packet::tree::SchemaVersion::new(version.0, version.1))
        .unwrap();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/subjects/{}/versions",
            Stack::get().registry_url,
            unique_name(subject_prefix)
        ))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .body(serde_json::json!({ "schema": schema.schema.to_json().to_string() }).to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_u64().unwrap() as u32
}
