//! `alert-index`: maintenance of the alert index table.
//!
//! - `alert-index compact --alerts-url URL`: merges the small files appends leave into large
//!   sky-clustered files (the Helm CronJob runs this); safe while ingesters write.
//! - `alert-index info --alerts-url URL`: the table's version, files and rows.

use alert_index::{CompactOptions, FileLayout, IndexTable, TABLE_PREFIX};
use anyhow::Context;
use clap::{Parser, Subcommand};
use object_storage::{StoreArgs, StoreSettings};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Maintains the alert index table (a Delta Lake table under index/alerts/ in the alerts' store)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct TableArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The table's prefix in the alerts' store.
    #[arg(long, default_value = TABLE_PREFIX)]
    table_prefix: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Merge small files into large files sorted by sky position (HEALPix), in time order.
    Compact {
        #[command(flatten)]
        table: TableArgs,
        /// Rows per compacted file.
        #[arg(long, default_value_t = 1_000_000)]
        target_rows: u64,
        /// Files with fewer rows are merged [default: half of --target-rows].
        #[arg(long)]
        small_file_rows: Option<u64>,
        /// Rows per Parquet row group of the compacted files.
        #[arg(long, default_value_t = FileLayout::default().row_group_rows)]
        row_group_rows: usize,
        /// Stop after this many groups (one commit each).
        #[arg(long)]
        max_groups: Option<usize>,
        /// Report what would be merged, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Then delete the objects of files compaction removed more than this many minutes
        /// ago (readers still on an older snapshot have had that long); 0: never.
        #[arg(long, default_value_t = 60)]
        vacuum_after_minutes: u64,
    },
    /// Print the table's version, files and rows.
    Info {
        #[command(flatten)]
        table: TableArgs,
    },
}

async fn open(args: &TableArgs) -> anyhow::Result<IndexTable> {
    let settings: StoreSettings =
        serde_json::from_value(serde_json::to_value(&args.store)?).context("store flags")?;
    let stores = settings.resolve()?;
    let store = object_storage::open(&stores.alerts_url, &stores.options)?;
    IndexTable::open_or_create(store, &args.table_prefix)
        .await
        .with_context(|| {
            format!(
                "opening the index table {}/{}",
                stores.alerts_url, args.table_prefix
            )
        })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("info");
    match Cli::parse().command {
        Command::Compact {
            table,
            target_rows,
            small_file_rows,
            row_group_rows,
            max_groups,
            dry_run,
            vacuum_after_minutes,
        } => {
            let index = open(&table).await?;
            let options = CompactOptions {
                target_rows,
                small_file_rows: small_file_rows.unwrap_or(target_rows / 2),
                layout: FileLayout {
                    row_group_rows,
                    ..FileLayout::default()
                },
                max_groups,
                dry_run,
            };
            let report = index.compact(options).await.context("compacting")?;
            tracing::info!(
                groups = report.groups,
                files_removed = report.files_removed,
                files_added = report.files_added,
                rows = report.rows,
                conflicts = report.conflicts,
                dry_run,
                "compaction done"
            );
            if vacuum_after_minutes > 0 && !dry_run {
                let retention = std::time::Duration::from_secs(vacuum_after_minutes * 60);
                let deleted = index.vacuum(retention).await.context("vacuuming")?;
                tracing::info!(deleted, vacuum_after_minutes, "removed files deleted");
            }
        }
        Command::Info { table } => {
            let index = open(&table).await?;
            let snapshot = index.snapshot().await?;
            println!(
                "{}",
                serde_json::json!({
                    "version": snapshot.version(),
                    "files": snapshot.files().len(),
                    "rows": snapshot.num_records(),
                })
            );
        }
    }
    Ok(())
}
