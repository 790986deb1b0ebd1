//! `rubin-alert-sim`: command line → run. Everything else is in the library.

use clap::Parser;
use rubin_alert_sim::cli::Cli;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(cli.log_level());
    let shutdown = service_kit::shutdown::on_signals();
    match rubin_alert_sim::run(cli, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "rubin-alert-sim failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
