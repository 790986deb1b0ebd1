//! `schema-sync`: puts the `lsst-alert-packet` alert schemas into the Confluent schema
//! registry (BRIEF §2, "Schema registry"; design note "Schema Synchronization Job").
//!
//! It runs as a Kubernetes Job on every Argo CD sync (or a compose service), so it must be
//! safe to run again and again: schemas already in place are skipped, a conflicting one stops
//! the run before anything changes, and nothing is deleted unless `--prune` is given (upstream
//! deleted every subject first). In the default `--mode import` every version gets upstream's
//! id `major*100 + minor` through the registry's IMPORT mode; `--mode latest` registers only
//! the latest and lets the registry choose the id, like upstream's
//! `syncLatestSchemaToRegistry.py`.
//!
//! - [`settings`]: flags, file and `SCHEMA_SYNC_*` environment;
//! - [`plan`]: what to do, decided from the tree and a snapshot of the registry (pure);
//! - [`sync`]: waiting for the registry, snapshots, carrying out the plan and checking it.
//!
//! This is a one-shot job, not a daemon: it serves no port, so `run` takes no listener; a
//! SIGTERM stops it between registry calls with the subject modes restored.

pub mod plan;
pub mod settings;
pub mod sync;

pub use settings::{Cli, Mode, Settings};
pub use sync::{run, Outcome, SyncError};
