//! Arbitrary bytes through everything that parses untrusted alert data: the Confluent frame,
//! the alert id fast path, decoding and skipping with the latest schema, re-encoding from
//! 10.0 to the latest, the source-time accessor, and the container-file reader. Nothing may
//! panic, hang or allocate beyond the input's size.
//!
//! Needs `ALERT_SCHEMA_DIR` (the lsst-alert-packet `schema` directory):
//! `ALERT_SCHEMA_DIR=$(scripts/install/schema-dir.sh) cargo +nightly fuzz run unframe_decode`
#![no_main]

use alert_packet::alert::{alert_id, AlertLayout};
use alert_packet::binary::Cursor;
use alert_packet::container::ContainerReader;
use alert_packet::resolve::Resolution;
use alert_packet::tree::SchemaTree;
use alert_packet::value::{decode, skip_node};
use alert_packet::wire::unframe;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Fixture {
    tree: SchemaTree,
    upgrade: Resolution,
    layout: AlertLayout,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let tree = SchemaTree::load_default().expect("set ALERT_SCHEMA_DIR to the schema tree");
        let old = tree.get("10.0".parse().expect("version")).expect("10.0").schema.clone();
        let upgrade = Resolution::new(old, tree.latest().schema.clone()).expect("10.0 resolves to latest");
        let layout = AlertLayout::of(&tree.latest().schema).expect("latest is an alert schema");
        Fixture { tree, upgrade, layout }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let latest = &fixture.tree.latest().schema;
    let body = match unframe(data) {
        Ok(frame) => frame.body,
        Err(_) => data,
    };
    let _ = alert_id(body);
    let _ = decode(latest, body);
    let _ = skip_node(latest, latest.root(), &mut Cursor::new(body));
    let _ = fixture.layout.source_time(latest, body);
    let mut out = Vec::new();
    let _ = fixture.upgrade.reencode(body, &mut out);
    if let Ok(mut reader) = ContainerReader::new(data) {
        while let Some(datum) = reader.next_datum() {
            if datum.is_err() {
                break;
            }
        }
    }
});
