//! Prints the encoded size of generated alerts for a few shapes, to check the generator's
//! defaults against the sizes the observatory quotes (~83 KB without cutouts, ~112 KB with).
//!
//! `cargo run -p alert-packet --example alert_sizes -- <schema dir>`

use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::tree::SchemaTree;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: alert_sizes SCHEMA_DIR")?;
    let tree = SchemaTree::load(std::path::Path::new(&dir))?;
    let spec = VisitSpec::default();
    for version in ["11.1", "10.0", "7.4", "3.0"] {
        let schema = tree.get(version.parse()?)?.schema.clone();
        for (label, config) in [
            ("default", GeneratorConfig::default()),
            (
                "no cutouts",
                GeneratorConfig {
                    cutout_bytes: None,
                    ..GeneratorConfig::default()
                },
            ),
        ] {
            let mut generator = AlertGenerator::new(schema.clone(), config)?;
            let mut rng = SplitMix64::new(1);
            let sizes: Vec<usize> = (0..20)
                .map(|i| generator.alert_body(&spec.context(i, &mut rng)).len())
                .collect();
            let mean = sizes.iter().sum::<usize>() / sizes.len();
            println!(
                "{version:>5} {label:<11} mean {:>7} bytes ({:.1} KB)",
                mean,
                mean as f64 / 1000.0
            );
        }
    }
    Ok(())
}
