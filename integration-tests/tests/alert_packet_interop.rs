//! alert-packet against the Python reference (fastavro, lsst-alert-packet) for every schema
//! version the package ships: canonical forms, byte-identical encodings, container files both
//! ways, round trips of generated alerts and re-encoding between versions.

use alert_packet::container::{Codec, ContainerReader, ContainerWriter};
use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::resolve::Resolution;
use alert_packet::tree::{locate_with_python, SchemaTree, SchemaVersion};
use alert_packet::value::{decode, encode, from_json, to_json, BytesAs};
use integration_tests::Stack;
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn reference_script() -> PathBuf {
    integration_tests::repo_root().join("integration-tests/python/avro_reference.py")
}

fn tree() -> SchemaTree {
    let dir = locate_with_python(&Stack::get().python).expect("lsst-alert-packet in the venv");
    SchemaTree::load(&dir).expect("schema tree loads")
}

fn write_bodies(path: &Path, bodies: &[Vec<u8>]) {
    let mut data = Vec::new();
    for body in bodies {
        data.extend_from_slice(&(body.len() as u32).to_be_bytes());
        data.extend_from_slice(body);
    }
    std::fs::write(path, data).unwrap();
}

/// Runs the manifest's checks in Python and fails with every failed check.
fn verify(dir: &Path, checks: Vec<Json>) {
    let manifest = dir.join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::to_vec(&json!({ "checks": checks })).unwrap(),
    )
    .unwrap();
    let output = Command::new(&Stack::get().python)
        .arg(reference_script())
        .arg("verify")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    let failures: Vec<&Json> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] != true)
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} checks failed: {failures:#?}",
        failures.len(),
        checks_len(&report)
    );
}

/// The path of the first place two JSON values differ, with both sides, for short messages.
fn first_difference(ours: &Json, theirs: &Json, path: &str) -> Option<String> {
    match (ours, theirs) {
        (Json::Object(a), Json::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                let (x, y) = (
                    a.get(key).unwrap_or(&Json::Null),
                    b.get(key).unwrap_or(&Json::Null),
                );
                if let Some(d) = first_difference(x, y, &format!("{path}.{key}")) {
                    return Some(d);
                }
            }
            None
        }
        (Json::Array(a), Json::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]"))),
        _ if ours == theirs => None,
        _ => Some(format!("{path}: ours {ours}, fastavro {theirs}")),
    }
}

fn checks_len(report: &Json) -> usize {
    report["results"].as_array().map_or(0, Vec::len)
}

fn small_alerts(seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        seed,
        prv_sources: 3,
        prv_forced_sources: 3,
        cutout_bytes: Some(3000),
        null_one_in: 20,
    }
}

fn generate(
    tree: &SchemaTree,
    version: SchemaVersion,
    count: usize,
    config: GeneratorConfig,
) -> Vec<Vec<u8>> {
    let schema = tree.get(version).unwrap().schema.clone();
    let mut generator = AlertGenerator::new(schema, config).unwrap();
    let spec = VisitSpec {
        alerts: count,
        ..VisitSpec::default()
    };
    let mut rng = SplitMix64::new(7);
    (0..count)
        .map(|i| generator.alert_body(&spec.context(i, &mut rng)))
        .collect()
}

#[test]
fn every_version_matches_fastavro() {
    let tree = tree();
    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("reference");
    let status = Command::new(&Stack::get().python)
        .arg(reference_script())
        .arg("reference")
        .arg(tree.root())
        .arg(&reference)
        .status()
        .unwrap();
    assert!(status.success());

    let mut checks = Vec::new();
    let mut versions_seen = 0;
    for versioned in tree.versions() {
        versions_seen += 1;
        let version = versioned.version.to_string();
        let schema = &versioned.schema;
        let dir = reference.join(&version);
        let out = work.path().join(&version);
        std::fs::create_dir_all(&out).unwrap();

        // Canonical form.
        let theirs = std::fs::read_to_string(dir.join("canonical.txt")).unwrap();
        assert_eq!(
            versioned.canonical_form, theirs,
            "canonical form of {version}"
        );

        // fastavro's encoding of the sample decodes, with us, to what fastavro decodes.
        let sample_bin = std::fs::read(dir.join("sample.bin")).unwrap();
        let expected: Json =
            serde_json::from_slice(&std::fs::read(dir.join("sample.json")).unwrap()).unwrap();
        let value = decode(schema, &sample_bin).unwrap_or_else(|e| panic!("{version}: {e}"));
        let ours_json = to_json(schema, schema.root(), &value, BytesAs::Base64);
        if let Some(difference) = first_difference(&ours_json, &expected, "$") {
            panic!("decoded sample of {version} differs at {difference}");
        }

        // Our encoding of the package's alert.json is byte-identical to fastavro's.
        let sample_json: Json = serde_json::from_slice(
            &std::fs::read(versioned.sample_data_dir().join("alert.json")).unwrap(),
        )
        .unwrap();
        let ours = encode(
            schema,
            &from_json(schema, schema.root(), &sample_json, BytesAs::Latin1).unwrap(),
        )
        .unwrap();
        assert_eq!(ours, sample_bin, "our encoding of {version}'s alert.json");

        // The package's fakeAlert.avro reads.
        let file = std::fs::File::open(versioned.sample_data_dir().join("fakeAlert.avro")).unwrap();
        let mut reader = ContainerReader::new(std::io::BufReader::new(file)).unwrap();
        let writer_schema = reader.schema().clone();
        let mut fake = 0;
        while let Some(datum) = reader.next_datum() {
            decode(&writer_schema, datum.unwrap()).unwrap();
            fake += 1;
        }
        assert_eq!(fake, 1, "{version} fakeAlert.avro");

        // fastavro decodes our bytes to the same values.
        write_bodies(&out.join("ours.bin"), &[ours]);
        checks.push(json!({"kind": "decode_equals", "name": format!("{version} sample"),
            "schema": versioned.path, "bodies": out.join("ours.bin"), "expected_json": dir.join("sample.json")}));

        // Generated alerts round-trip through fastavro unchanged: 1,000 for the newest minor
        // version of each major, 100 for the others.
        let newest_of_major = tree
            .versions()
            .filter(|v| v.version.major == versioned.version.major)
            .last()
            .map(|v| v.version);
        let count = if newest_of_major == Some(versioned.version) {
            1000
        } else {
            100
        };
        let generated = generate(
            &tree,
            versioned.version,
            count,
            small_alerts(versioned.version.registry_id().into()),
        );
        write_bodies(&out.join("generated.bin"), &generated);
        checks.push(
            json!({"kind": "roundtrip", "name": format!("{version} {count} generated"),
            "schema": versioned.path, "bodies": out.join("generated.bin")}),
        );

        // Our container files read in fastavro and lsst.alert.packet.
        for codec in [Codec::Null, Codec::Deflate] {
            let path = out.join(format!("visit-{}.avro", codec.name()));
            let mut writer = ContainerWriter::new(
                std::fs::File::create(&path).unwrap(),
                &schema.to_json().to_string(),
                codec,
                [3; 16],
            )
            .unwrap()
            .with_block_bytes(16_000);
            for body in &generated[..20] {
                writer.append_datum(body).unwrap();
            }
            writer.finish().unwrap();
            write_bodies(&out.join("first20.bin"), &generated[..20]);
            checks.push(json!({"kind": "container", "name": format!("{version} container {}", codec.name()),
                "schema": versioned.path, "file": path, "codec": codec.name(), "bodies": out.join("first20.bin")}));
        }
    }
    assert!(
        versions_seen >= 15,
        "the package ships 3.0 to 11.1; found {versions_seen}"
    );
    verify(work.path(), checks);
}

#[test]
fn reencoding_between_versions_matches_fastavro() {
    let tree = tree();
    let work = tempfile::tempdir().unwrap();
    let latest = tree.latest();
    let mut checks = Vec::new();
    for from in ["10.0", "11.0", "11.1"] {
        let from: SchemaVersion = from.parse().unwrap();
        let writer = tree.get(from).unwrap();
        let resolution = Resolution::new(writer.schema.clone(), latest.schema.clone())
            .unwrap_or_else(|e| panic!("{from} -> {}: {e}", latest.version));
        assert_eq!(resolution.is_identity(), from == latest.version);
        // Fields nullable in 10.0 but required in 11.1 (e.g. trailNdata) must hold values for
        // the re-encoding to be possible at all, so these alerts have no nulls.
        let bodies = generate(
            &tree,
            from,
            200,
            GeneratorConfig {
                prv_sources: 20,
                null_one_in: 0,
                ..small_alerts(11)
            },
        );
        let reencoded: Vec<Vec<u8>> = bodies
            .iter()
            .map(|body| {
                let mut out = Vec::new();
                resolution
                    .reencode(body, &mut out)
                    .unwrap_or_else(|e| panic!("{from}: {e}"));
                out
            })
            .collect();
        let dir = work.path().join(from.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        write_bodies(&dir.join("bodies.bin"), &bodies);
        write_bodies(&dir.join("ours.bin"), &reencoded);
        checks.push(json!({"kind": "reencode", "name": format!("{from} -> {}", latest.version),
            "writer": writer.path, "reader": latest.path, "bodies": dir.join("bodies.bin"), "expected": dir.join("ours.bin")}));
    }
    verify(work.path(), checks);
}
