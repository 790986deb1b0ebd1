//! Logging: one call at start-up, JSON lines on stderr, level from `RUST_LOG`.
//!
//! Logs go to stderr so a CLI's own output on stdout (for example `print-stream`) stays clean,
//! and JSON so Kubernetes log collectors can index the fields. `LOG_FORMAT=text` switches to
//! human-readable lines for a terminal.

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// `LOG_FORMAT=text` gives text; anything else (or nothing) gives JSON.
    pub fn from_env() -> Self {
        match std::env::var("LOG_FORMAT") {
            Ok(v) if v.eq_ignore_ascii_case("text") => LogFormat::Text,
            _ => LogFormat::Json,
        }
    }
}

/// `--verbose` and `--debug`, flattened into every daemon's command line (upstream's
/// services had both). `RUST_LOG`, when set, wins over them.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct LogArgs {
    /// Log at info level.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Log at debug level.
    #[arg(short, long, global = true)]
    pub debug: bool,
}

impl LogArgs {
    /// The log directive: debug with `--debug`, info with `--verbose`, else `default`.
    pub fn directive<'a>(&self, default: &'a str) -> &'a str {
        if self.debug {
            "debug"
        } else if self.verbose {
            "info"
        } else {
            default
        }
    }
}

/// Installs the global subscriber. `default_directive` is used when `RUST_LOG` is unset,
/// e.g. `"info"`. Calling it twice is harmless (the second call does nothing), which keeps
/// tests that start several daemons in one process simple.
pub fn init(default_directive: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_directive));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match LogFormat::from_env() {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init(),
    };
    // An error here only means a subscriber is already installed.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn log_flags_choose_the_directive() {
        let level = |args: &[&str]| {
            let mut all = vec!["x"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).unwrap().log.directive("warn")
        };
        assert_eq!(level(&[]), "warn");
        assert_eq!(level(&["--verbose"]), "info");
        assert_eq!(level(&["-v", "-d"]), "debug");
        assert_eq!(level(&["--debug"]), "debug");
    }
}
