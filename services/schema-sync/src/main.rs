//! `schema-sync`: flags → settings → run. Everything else is in the library.
//!
//! Exit status: 0 when every schema is in place (or, with `--dry-run`, when the plan has no
//! conflict); 1 when anything failed; 2 for unusable flags or settings.

use clap::Parser;
use schema_sync::Cli;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(cli.log.directive("info"));
    let settings = match cli.settings() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = settings.validate() {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    let shutdown = service_kit::shutdown::on_signals();
    match schema_sync::run(&settings, shutdown, &mut std::io::stdout()).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "schema-sync failed");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
