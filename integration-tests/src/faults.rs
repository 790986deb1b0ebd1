//! Fault fixtures: dependencies a test owns so that it can make them fail without touching the
//! shared stack, which other tests use at the same time.
//!
//! - [`Forwarder`]: a TCP forwarder put between a service and a dependency, which the test
//!   opens, holds (a dependency that hangs), cuts (one that is gone) or stops (a port that
//!   refuses);
//! - [`PrivateKafka`]: a single-node Kafka started by the project's own `scripts/kafka/kafka.sh`
//!   in a directory and on ports of its own, so a test can stop and restart a broker;
//! - [`PrivateGcs`]: a fake-gcs-server of the test's own (in memory).
//!
//! Each is stopped when dropped, so a failing test leaves nothing listening.

use crate::process::free_port;
use crate::{unique_name, Stack};
use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------------
// Forwarder

/// What a [`Forwarder`] does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passage {
    /// Forwards every connection, including those it was holding.
    Open,
    /// Accepts connections and holds them without a byte either way: a dependency that hangs
    /// (a request neither fails nor ends).
    Hold,
    /// Closes every connection and closes new ones as soon as they are accepted: a dependency
    /// that is gone (the client sees resets, not a timeout).
    Cut,
}

/// A TCP forwarder to one target, on a port of its own on 127.0.0.1.
///
/// [`Passage`] changes apply to connections already made as well as new ones.
/// [`Forwarder::stop`] goes further and closes the port itself, so that connecting is refused.
#[derive(Debug)]
pub struct Forwarder {
    address: SocketAddr,
    passage: watch::Sender<Passage>,
    stopped: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Forwarder {
    /// An open forwarder to `target` (`host:port`).
    pub async fn start(target: impl Into<String>) -> Forwarder {
        Forwarder::start_in(target, Passage::Open).await
    }

    /// A forwarder to `target` that starts in `passage`.
    pub async fn start_in(target: impl Into<String>, passage: Passage) -> Forwarder {
        let target = target.into();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port");
        let address = listener.local_addr().expect("the listener's address");
        let (sender, receiver) = watch::channel(passage);
        let stopped = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, target, receiver, stopped.clone()));
        Forwarder {
            address,
            passage: sender,
            stopped,
            task: Some(task),
        }
    }

    /// The forwarder's own address (what the service under test is told to connect to).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Forwards again, including connections held so far.
    pub fn open(&self) {
        self.set(Passage::Open);
    }

    /// Holds new connections (connections already forwarding go on).
    pub fn hold(&self) {
        self.set(Passage::Hold);
    }

    /// Closes every connection and every new one until [`Forwarder::open`].
    pub fn cut(&self) {
        self.set(Passage::Cut);
    }

    pub fn set(&self, passage: Passage) {
        self.passage.send_replace(passage);
    }

    /// Closes the port and every connection, and waits until they are closed: from then on
    /// connecting is refused.
    pub async fn stop(mut self) {
        self.stopped.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("the forwarder's accept loop");
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stopped.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: String,
    passage: watch::Receiver<Passage>,
    stopped: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((inbound, _)) = accepted else { continue };
                connections.spawn(forward(inbound, target.clone(), passage.clone()));
                // Reap finished connections so a long test does not accumulate them.
                while connections.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    connections.shutdown().await;
}

async fn forward(mut inbound: TcpStream, target: String, mut passage: watch::Receiver<Passage>) {
    // A closed result means the forwarder was dropped: the connection ends with it.
    let cut = match passage.wait_for(|p| *p != Passage::Hold).await {
        Ok(passage) => *passage == Passage::Cut,
        Err(_) => return,
    };
    if cut {
        return;
    }
    let Ok(mut outbound) = TcpStream::connect(&target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = passage.wait_for(|p| *p == Passage::Cut) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// PrivateKafka

/// A single-node Kafka of the test's own, started by `scripts/kafka/kafka.sh` with another run
/// directory and ports, so the test can stop and restart its broker (the shared one is never
/// stopped). Starting and stopping block for seconds: call them from `spawn_blocking` or
/// `block_in_place`.
#[derive(Debug)]
pub struct PrivateKafka {
    dir: PathBuf,
    /// plaintext, mTLS, SCRAM, controller
    ports: [u16; 4],
}

impl PrivateKafka {
    /// Starts the broker and waits until the script says it is up.
    pub fn start() -> PrivateKafka {
        let dir = std::env::temp_dir().join(unique_name("private-kafka"));
        std::fs::create_dir_all(&dir).expect("creating the private Kafka's directory");
        let kafka = PrivateKafka {
            dir,
            ports: [free_port(), free_port(), free_port(), free_port()],
        };
        kafka.script("start");
        kafka
    }

    /// `kafka.sh ACTION` for this broker.
    pub fn command(&self, action: &str) -> Command {
        let [plaintext, mtls, scram, controller] = self.ports;
        let mut command = Command::new(Stack::get().repo.join("scripts/kafka/kafka.sh"));
        command
            .arg(action)
            .env("ALERTDIST_RUN_DIR", &self.dir)
            .env("ALERTDIST_KAFKA_PLAINTEXT_PORT", plaintext.to_string())
            .env("ALERTDIST_KAFKA_MTLS_PORT", mtls.to_string())
            .env("ALERTDIST_KAFKA_SCRAM_PORT", scram.to_string())
            .env("ALERTDIST_KAFKA_CONTROLLER_PORT", controller.to_string());
        command
    }

    /// Runs `kafka.sh ACTION` (`start`, `stop`) and panics with its output if it fails.
    pub fn script(&self, action: &str) {
        let output = self.command(action).output().expect("running kafka.sh");
        assert!(
            output.status.success(),
            "kafka.sh {action}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The plaintext listener, `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.ports[0])
    }

    /// Connection settings for the plaintext listener.
    pub fn settings(&self) -> service_kit::kafka::KafkaSettings {
        service_kit::kafka::KafkaSettings {
            bootstrap_servers: self.bootstrap(),
            ..Default::default()
        }
    }

    /// A client configuration for the plaintext listener.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        self.settings()
            .client_config()
            .expect("a client configuration of plain settings")
    }

    /// Creates a topic and waits until it exists.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        let admin: AdminClient<rdkafka::client::DefaultClientContext> =
            self.client_config().create()?;
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for result in admin.create_topics(&[topic], &options).await? {
            if let Err((topic, code)) = result {
                bail!("creating topic {topic}: {code}");
            }
        }
        Ok(())
    }
}

impl Drop for PrivateKafka {
    fn drop(&mut self) {
        let _ = self.command("stop").output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// PrivateGcs

/// A fake-gcs-server of the test's own (in memory), killed when dropped. Its public host is
/// `127.0.0.1` without a port, so it accepts XML API requests addressed to any port of
/// 127.0.0.1: a service can reach it through a [`Forwarder`] while the test reads it
/// directly.
#[derive(Debug)]
pub struct PrivateGcs {
    port: u16,
    child: Child,
}

impl PrivateGcs {
    /// Starts the server the stack's scripts installed and waits until it accepts
    /// connections (blocking, for up to 20 s).
    pub fn start() -> Result<PrivateGcs> {
        let port = free_port();
        let binary = Stack::get().repo.join(".cache/go/bin/fake-gcs");
        let child = Command::new(&binary)
            .args(["-host", "127.0.0.1", "-port", &port.to_string()])
            .args(["-public-host", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        // Owned from here, so an early return kills it.
        let gcs = PrivateGcs { port, child };
        let started = Instant::now();
        while std::net::TcpStream::connect(gcs.address()).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("the private fake-gcs-server did not start within 20 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(gcs)
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The JSON API root, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address())
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, name: &str) -> Result<()> {
        let response = reqwest::Client::new()
            .post(format!("{}/storage/v1/b?project=test", self.endpoint()))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("creating bucket {name}: {}", response.status());
        }
        Ok(())
    }
}

impl Drop for PrivateGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An echo server: the forwarder's target.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        address
    }

    /// Sends a line and reads what comes back within `wait`: `Some(bytes)` (empty at a
    /// close), `None` when nothing came.
    async fn round_trip(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
        if stream.write_all(b"ping").await.is_err() {
            return Some(Vec::new());
        }
        let mut buffer = [0u8; 4];
        match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
            Ok(Ok(n)) => Some(buffer[..n].to_vec()),
            Ok(Err(_)) => Some(Vec::new()),
            Err(_) => None,
        }
    }

    const WAIT: Duration = Duration::from_secs(5);
    const BRIEFLY: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn a_forwarder_forwards_holds_cuts_and_stops() {
        let forwarder = Forwarder::start(echo().await.to_string()).await;
        let mut open = TcpStream::connect(forwarder.address()).await.unwrap();
        assert_eq!(round_trip(&mut open, WAIT).await, Some(b"ping".to_vec()));

        // Held: a new connection gets nothing until the forwarder opens, then its answer.
        forwarder.hold();
        let mut held = TcpStream::connect(forwarder.address()).await.unwrap();
        assert_eq!(round_trip(&mut held, BRIEFLY).await, None);
        forwarder.open();
        let mut answer = [0u8; 4];
        tokio::time::timeout(WAIT, held.read_exact(&mut answer))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&answer, b"ping");

        // Cut: connections made before are closed, new ones closed at once.
        forwarder.cut();
        assert_eq!(round_trip(&mut open, WAIT).await, Some(Vec::new()));
        let mut during = TcpStream::connect(forwarder.address()).await.unwrap();
        assert_eq!(round_trip(&mut during, WAIT).await, Some(Vec::new()));
        forwarder.open();
        let mut after = TcpStream::connect(forwarder.address()).await.unwrap();
        assert_eq!(round_trip(&mut after, WAIT).await, Some(b"ping".to_vec()));

        // Stopped: the port refuses.
        let address = forwarder.address();
        forwarder.stop().await;
        assert!(TcpStream::connect(address).await.is_err());
    }

    #[tokio::test]
    async fn a_forwarder_can_start_holding() {
        let forwarder = Forwarder::start_in(echo().await.to_string(), Passage::Hold).await;
        let mut held = TcpStream::connect(forwarder.address()).await.unwrap();
        assert_eq!(round_trip(&mut held, BRIEFLY).await, None);
        forwarder.set(Passage::Open);
        let mut answer = [0u8; 4];
        tokio::time::timeout(WAIT, held.read_exact(&mut answer))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&answer, b"ping");
    }
}
