//! The common ground of every alert-distribution daemon.
//!
//! Each daemon (`rubin-alert-sim`, `schema-sync`, `alertdb-ingester`, `alertdb-server`,
//! `registry-proxy`) is a library plus a thin `main.rs`; the pieces every one of them needs
//! live here so there is exactly one way to do each of them:
//!
//! - [`telemetry`]: JSON logs through `tracing`, level from `RUST_LOG`, one init call;
//! - [`settings`]: typed settings loaded in layers (defaults → optional file → environment → CLI);
//! - [`secret`]: a string that never shows itself in `Debug` or logs;
//! - [`kafka`]: librdkafka client configuration for PLAINTEXT, SCRAM-SHA-512 and mTLS, validated
//!   at start-up, and a bounded connectivity check that tells a wrong password from a dead broker;
//! - [`ops`]: the `/metrics`, `/healthz` and `/readyz` routes, mountable beside a service's own;
//! - [`http`]: the one HTTP server of every daemon (header, idle and request timeouts, a
//!   connection limit, graceful shutdown);
//! - [`shutdown`]: one token cancelled on SIGTERM or SIGINT and cloned into every task.

pub mod http;
pub mod kafka;
pub mod ops;
pub mod secret;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
