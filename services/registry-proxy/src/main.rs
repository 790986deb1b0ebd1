//! `registry-proxy`: flags and environment → settings → bind → run until SIGTERM.

use anyhow::Context;
use clap::Parser;
use registry_proxy::settings::Cli;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(cli.log.directive("info"));
    match serve(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "registry-proxy failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let config = cli.settings()?.validate()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let shutdown = service_kit::shutdown::on_signals();
    registry_proxy::run(config, listener, shutdown).await?;
    Ok(())
}
