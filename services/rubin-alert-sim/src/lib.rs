//! The Rubin alert stream simulator.
//!
//! Community brokers test against a live stream before the telescope runs: the simulator loads
//! a visit of alerts into a static Kafka topic once (`create-stream`) and copies it into the
//! live topic every 37 s (`play-stream`), paced as the alerts were observed. It replaces
//! upstream's Python `rubin-alert-sim` with the same subcommands, flags and defaults, and
//! fixes what operators tripped over: the schema id comes from the registry instead of a flag,
//! the static topic keeps its infinite retention across reloads, passes start on a fixed
//! schedule without drift, and `print-stream` reads any schema version.
//!
//! - [`loader`] runs `create-stream`;
//! - [`replayer`] runs `play-stream`, with Prometheus metrics and health endpoints;
//! - [`printer`] runs `print-stream`;
//! - [`topics`] creates and deletes topics;
//! - `generate` writes a synthetic visit with `alert_packet::generate`.

pub mod cli;
pub mod loader;
pub mod printer;
pub mod replayer;
pub mod topics;

use alert_packet::container::Codec;
use alert_packet::generate::{write_visit, AlertGenerator, GeneratorConfig, VisitSpec};
use alert_packet::tree::{SchemaTree, SchemaVersion};
use anyhow::{bail, Context};
use cli::{Cli, Command, Generate};
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// Runs one subcommand until it finishes or `shutdown` is cancelled.
pub async fn run(cli: Cli, shutdown: CancellationToken) -> anyhow::Result<()> {
    match cli.command {
        Command::CreateStream(args) => {
            let report = loader::create_stream(&args, shutdown).await?;
            println!(
                "successfully preloaded stream with {} alerts",
                report.alerts
            );
        }
        Command::PlayStream(args) => {
            let address = args.listen().socket_addr()?;
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            let report = replayer::serve(&args, listener, shutdown, None).await?;
            println!("played {} alerts from the stream", report.alerts);
        }
        Command::PrintStream(args) => {
            printer::print_stream(&args, &mut std::io::stdout(), shutdown).await?;
        }
        Command::Generate(args) => {
            let summary = generate(&args)?;
            println!(
                "wrote {} alerts ({:.1} KB each on average) to {}",
                summary.alerts,
                summary.body_bytes as f64 / summary.alerts.max(1) as f64 / 1000.0,
                args.output.display()
            );
        }
    }
    Ok(())
}

/// Loads the schema tree from `dir`, or from `ALERT_SCHEMA_DIR` / the installed package.
pub fn load_tree(dir: Option<&Path>) -> anyhow::Result<SchemaTree> {
    Ok(match dir {
        Some(dir) => SchemaTree::load(dir)?,
        None => SchemaTree::load_default()?,
    })
}

/// The named version of the tree, or its latest.
pub fn pick_version(tree: &SchemaTree, version: Option<&str>) -> anyhow::Result<SchemaVersion> {
    Ok(match version {
        Some(text) => tree.get(text.parse()?)?.version,
        None => tree.latest().version,
    })
}

fn generate(args: &Generate) -> anyhow::Result<alert_packet::generate::VisitSummary> {
    let tree = load_tree(args.schema_dir.as_deref())?;
    let version = pick_version(&tree, args.schema_version.as_deref())?;
    let codec = Codec::from_name(&args.codec).with_context(|| {
        format!(
            "unknown codec `{}`; use null, deflate, snappy or zstandard",
            args.codec
        )
    })?;
    if args.alerts == 0 {
        bail!("--alerts must be at least 1");
    }
    let defaults = GeneratorConfig::default();
    let config = GeneratorConfig {
        seed: args.seed,
        prv_sources: args.prv_sources.unwrap_or(defaults.prv_sources),
        prv_forced_sources: args
            .prv_forced_sources
            .unwrap_or(defaults.prv_forced_sources),
        cutout_bytes: if args.no_cutouts {
            None
        } else {
            defaults.cutout_bytes
        },
        ..defaults
    };
    let mut generator = AlertGenerator::new(tree.get(version)?.schema.clone(), config)?;
    let spec = VisitSpec {
        alerts: args.alerts,
        ..VisitSpec::default()
    };
    // Write beside the target and rename, so a failed run never leaves a half file.
    let partial = args.output.with_extension("partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let (writer, summary) =
        write_visit(&mut generator, &spec, std::io::BufWriter::new(file), codec)?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    std::fs::rename(&partial, &args.output)?;
    Ok(summary)
}
