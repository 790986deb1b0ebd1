//! `alert-index`: maintenance of the alert index table (compaction, inspection).

fn main() {
    eprintln!("alert-index: see --help");
}
