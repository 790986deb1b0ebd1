//! Each service's README documents exactly the flags its command line accepts.
//!
//! The flags come from the clap definitions themselves (what `--help` prints: every long flag
//! and visible alias that is not hidden); the documented ones from the README's tables (every
//! `--flag` in the first cell of a table row). A flag added without documentation, or
//! documentation left behind for a flag that is gone, fails here with its name.

use clap::CommandFactory;
use std::collections::BTreeSet;
use std::path::Path;

/// Long flags and visible aliases of `command` and its subcommands, as `--help` shows them.
fn help_flags(command: &clap::Command) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for arg in command.get_arguments() {
        if arg.is_hide_set() {
            continue;
        }
        if let Some(long) = arg.get_long() {
            if long != "help" && long != "version" {
                flags.insert(format!("--{long}"));
            }
        }
        for alias in arg.get_visible_aliases().unwrap_or_default() {
            flags.insert(format!("--{alias}"));
        }
    }
    for sub in command.get_subcommands() {
        flags.extend(help_flags(sub));
    }
    flags
}

/// Every `--flag` in the first cell of a Markdown table row of `readme`.
fn documented_flags(readme: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for line in readme.lines() {
        let Some(row) = line.trim().strip_prefix('|') else {
            continue;
        };
        let first_cell = row.split(" | ").next().unwrap_or_default();
        let mut rest = first_cell;
        while let Some(start) = rest.find("`--") {
            let flag: String = rest[start + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if flag.len() > 2 {
                flags.insert(flag);
            }
            rest = &rest[start + 3..];
        }
    }
    flags
}

fn check(service: &str, command: clap::Command) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../services")
        .join(service)
        .join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let accepted = help_flags(&command);
    let documented = documented_flags(&readme);
    assert!(
        accepted.len() >= 3,
        "{service}: too few flags found ({accepted:?})"
    );
    let undocumented: Vec<_> = accepted.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        undocumented.is_empty() && stale.is_empty(),
        "{service}/README.md's flag tables differ from --help:\n  not in the README: {undocumented:?}\n  in the README, not accepted: {stale:?}"
    );
}

#[test]
fn alertdb_ingester_readme_lists_every_flag() {
    check(
        "alertdb-ingester",
        alertdb_ingester::settings::Cli::command(),
    );
}

#[test]
fn alertdb_server_readme_lists_every_flag() {
    check("alertdb-server", alertdb_server::Cli::command());
}

#[test]
fn registry_proxy_readme_lists_every_flag() {
    check("registry-proxy", registry_proxy::settings::Cli::command());
}

#[test]
fn schema_sync_readme_lists_every_flag() {
    check("schema-sync", schema_sync::Cli::command());
}

#[test]
fn rubin_alert_sim_readme_lists_every_flag() {
    check("rubin-alert-sim", rubin_alert_sim::cli::Cli::command());
}

#[test]
fn the_table_parser_finds_flags_and_aliases_in_first_cells_only() {
    let readme = "| flag | setting |\n|---|---|\n| `--kafka-topics A,B` (`--kafka-topic`) | `topics` |\n| `--a`, `--b-c` | see `--not-this` |\ntext `--nor-this`\n";
    let flags: Vec<String> = documented_flags(readme).into_iter().collect();
    assert_eq!(flags, ["--a", "--b-c", "--kafka-topic", "--kafka-topics"]);
}
