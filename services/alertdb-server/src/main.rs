//! `alertdb-server`: flags, file and environment → settings → [`alertdb_server::run`].

use alertdb_server::Cli;
use anyhow::Context;
use clap::Parser;

// This runtime only accepts connections and watches the stores: requests are served on
// `alertdb_server::serve`'s own threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    service_kit::telemetry::init(cli.log.directive("info"));
    let config = cli
        .load()
        .context("loading settings")?
        .validate()
        .context("invalid settings")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let shutdown = service_kit::shutdown::on_signals();
    alertdb_server::run(config, listener, shutdown).await?;
    Ok(())
}
