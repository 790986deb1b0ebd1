//! `registry-proxy`: flags and environment → settings → bind → run until SIGTERM.

use anyhow::Context;
use clap::Parser;
use registry_proxy::cli::Cli;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    service_kit::telemetry::init("info");
    match serve(Cli::parse()).await {
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
    let address = (config.listen_host, config.listen_port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {}:{}", address.0, address.1))?;
    let shutdown = service_kit::shutdown::on_signals();
    registry_proxy::run(config, listener, shutdown).await?;
    Ok(())
}
