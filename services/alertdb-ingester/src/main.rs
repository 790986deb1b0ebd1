//! `alertdb-ingester`: settings → run. Everything else is in the library.

use alertdb_ingester::rebuild::Command;
use alertdb_ingester::settings::Cli;
use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(cli.log.directive("info"));
    // Few blocking threads: only local-file writes run there (gzip runs on the workers), and
    // every extra thread brings its own malloc arena (resident memory) and more context
    // switches without adding cores. 4 against 16: faster in 4 alternating runs of 4 (the
    // median 1.04x; docs/benchmarks.md).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(start(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "alertdb-ingester failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn start(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::RebuildIndex(args)) = &cli.command {
        let report = alertdb_ingester::rebuild::rebuild_from_args(args)
            .await
            .context("rebuilding the index")?;
        println!(
            "{} alert objects: {} rows added, {} already indexed, {} unreadable",
            report.objects, report.added, report.already_indexed, report.unreadable
        );
        return Ok(());
    }
    let config = cli
        .load()
        .context("loading settings")?
        .validate()
        .context("invalid settings")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let shutdown = service_kit::shutdown::on_signals();
    alertdb_ingester::run(config, listener, shutdown).await?;
    Ok(())
}
