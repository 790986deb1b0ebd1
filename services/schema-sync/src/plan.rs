//! What to do, decided from the schema tree and a snapshot of the registry, before anything is
//! changed: so a conflict stops the run with the registry untouched, and `--dry-run` prints
//! exactly what a real run would do.
//!
//! "The same schema" means the same Avro Parsing Canonical Form: docs, defaults and key order
//! may differ (registries store and return the text in their own way) and it still counts as
//! in place. A schema's identity is its full name (`lsst.v11_1.alert`): a registered schema
//! with our name but another canonical form means the package changed a published version, and
//! that is a conflict, never silently registered next to it.

use crate::settings::Mode;
use alert_packet::schema::Schema;
use alert_packet::tree::{SchemaTree, SchemaVersion};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The topic subject of one version (`lsst-alerts-v11.1-value`).
pub fn version_subject(version: SchemaVersion) -> String {
    format!("lsst-alerts-v{version}-value")
}

/// One schema that must be registered under one subject.
#[derive(Debug, Clone)]
pub struct Target {
    pub subject: String,
    pub version: SchemaVersion,
    /// Full name of the alert record (`lsst.v11_1.alert`).
    pub name: String,
    /// What is registered: the resolved schema with docs and defaults, which readers need.
    pub schema: String,
    pub canonical_form: String,
    /// The id and subject version to ask for (import mode), or `None` (the registry picks).
    pub id: Option<u32>,
    pub subject_version: Option<u32>,
    /// The `.avsc` file it came from, for messages.
    pub path: PathBuf,
}

/// The targets for a tree: every version (import) or the latest (latest), under the main
/// subject and optionally under each version's topic subject. Oldest first, so subject
/// versions grow with schema versions.
pub fn targets(
    tree: &SchemaTree,
    subject: &str,
    mode: Mode,
    per_version_subjects: bool,
) -> Vec<Target> {
    let versions: Vec<_> = match mode {
        Mode::Import => tree.versions().collect(),
        Mode::Latest => vec![tree.latest()],
    };
    let mut out = Vec::new();
    let mut subjects = vec![None];
    if per_version_subjects {
        subjects.push(Some(()));
    }
    for per_version in subjects {
        for versioned in &versions {
            let id = (mode == Mode::Import).then(|| versioned.version.registry_id());
            out.push(Target {
                subject: match per_version {
                    None => subject.to_owned(),
                    Some(()) => version_subject(versioned.version),
                },
                version: versioned.version,
                name: versioned.version.alert_name(),
                schema: versioned.schema.to_json().to_string(),
                canonical_form: versioned.canonical_form.clone(),
                id,
                subject_version: id,
                path: versioned.path.clone(),
            });
        }
    }
    out
}

/// A schema as the registry holds it, reduced to what comparisons need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Full name of the root type, when the text parses as a named Avro schema.
    pub name: Option<String>,
    /// Parsing Canonical Form, or the raw text when it does not parse (it then equals nothing
    /// of ours).
    pub canonical_form: String,
}

impl Held {
    pub fn from_text(text: &str) -> Held {
        match Schema::parse_str(text) {
            Ok(schema) => Held {
                name: schema.name().map(str::to_owned),
                canonical_form: schema.canonical_form(),
            },
            Err(_) => Held {
                name: None,
                canonical_form: text.to_owned(),
            },
        }
    }

    fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("`{name}`"),
            None => "a schema that is not a named Avro schema".into(),
        }
    }
}

/// One registered version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub version: u32,
    pub id: u32,
    pub held: Held,
}

/// What one subject holds now.
#[derive(Debug, Clone, Default)]
pub struct SubjectState {
    pub entries: Vec<Entry>,
    /// The subject's own compatibility level (`None`: not set, the global level applies).
    pub compatibility: Option<String>,
}

/// The registry as the plan sees it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub subjects: BTreeMap<String, SubjectState>,
    /// What each id that import mode will ask for holds now (`None`: free).
    pub ids: BTreeMap<u32, Option<Held>>,
}

/// One step.
#[derive(Debug, Clone)]
pub enum Action {
    /// Set the subject's compatibility level to NONE (BRIEF §2).
    SetCompatibilityNone {
        subject: String,
        was: Option<String>,
    },
    /// Delete a version that is not in the tree (`--prune` only).
    Delete {
        subject: String,
        entry: Entry,
    },
    Register(Target),
}

/// One target that needs nothing, or one version left alone.
#[derive(Debug, Clone)]
pub enum Note {
    InPlace {
        target: Target,
        id: u32,
        version: u32,
    },
    /// A version not in the tree, kept because `--prune` was not given.
    Kept { subject: String, entry: Entry },
}

/// The whole plan: actions in order, notes, and conflicts (any conflict stops the run).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub notes: Vec<Note>,
    pub conflicts: Vec<String>,
}

impl Plan {
    pub fn registrations(&self) -> impl Iterator<Item = &Target> {
        self.actions.iter().filter_map(|a| match a {
            Action::Register(t) => Some(t),
            _ => None,
        })
    }
}

/// Where two canonical forms first differ, with a little context from each, so a conflict
/// message shows what changed.
fn first_difference(ours: &str, theirs: &str) -> String {
    let at = ours
        .bytes()
        .zip(theirs.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| ours.len().min(theirs.len()));
    let excerpt = |text: &str| -> String {
        let start = text.floor_char_boundary_compat(at.saturating_sub(30));
        let end = text.floor_char_boundary_compat((at + 50).min(text.len()));
        text[start..end].to_owned()
    };
    format!(
        "canonical forms differ at byte {at}: registry `…{}…`, tree `…{}…`",
        excerpt(theirs),
        excerpt(ours)
    )
}

trait CharBoundary {
    fn floor_char_boundary_compat(&self, index: usize) -> usize;
}

impl CharBoundary for str {
    fn floor_char_boundary_compat(&self, mut index: usize) -> usize {
        index = index.min(self.len());
        while !self.is_char_boundary(index) {
            index -= 1;
        }
        index
    }
}

/// Decides what to do. Pure: the same tree and snapshot give the same plan.
pub fn plan(targets: &[Target], snapshot: &Snapshot, prune: bool) -> Plan {
    let mut plan = Plan::default();
    let empty = SubjectState::default();
    let mut subjects: Vec<&str> = Vec::new();
    for target in targets {
        if !subjects.contains(&target.subject.as_str()) {
            subjects.push(&target.subject);
        }
    }
    // Ids freed by pruning: a pruned entry may hold an id a target needs.
    let mut pruned_ids: Vec<u32> = Vec::new();
    for subject in &subjects {
        let state = snapshot.subjects.get(*subject).unwrap_or(&empty);
        let ours: Vec<&Target> = targets.iter().filter(|t| t.subject == *subject).collect();
        if state.compatibility.as_deref() != Some("NONE") {
            plan.actions.push(Action::SetCompatibilityNone {
                subject: subject.to_string(),
                was: state.compatibility.clone(),
            });
        }
        for entry in &state.entries {
            if ours
                .iter()
                .any(|t| t.canonical_form == entry.held.canonical_form)
            {
                continue;
            }
            if prune {
                pruned_ids.push(entry.id);
                plan.actions.push(Action::Delete {
                    subject: subject.to_string(),
                    entry: entry.clone(),
                });
            } else {
                plan.notes.push(Note::Kept {
                    subject: subject.to_string(),
                    entry: entry.clone(),
                });
            }
        }
    }
    for target in targets {
        let state = snapshot.subjects.get(&target.subject).unwrap_or(&empty);
        // Entries that survive pruning.
        let remaining: Vec<&Entry> = state
            .entries
            .iter()
            .filter(|e| {
                !prune
                    || targets.iter().any(|t| {
                        t.subject == target.subject && t.canonical_form == e.held.canonical_form
                    })
            })
            .collect();
        if let Some(entry) = remaining
            .iter()
            .find(|e| e.held.canonical_form == target.canonical_form)
        {
            match target.id {
                Some(id) if entry.id != id => plan.conflicts.push(format!(
                    "`{}` is already registered under subject {} with id {} (version {}), not \
                     with id {id} as the id rule major*100+minor requires (it was probably \
                     registered by --mode latest or another tool); delete version {} of {} by \
                     hand if no producer uses id {}, or run with --mode latest",
                    target.name,
                    target.subject,
                    entry.id,
                    entry.version,
                    entry.version,
                    target.subject,
                    entry.id
                )),
                _ => plan.notes.push(Note::InPlace {
                    target: target.clone(),
                    id: entry.id,
                    version: entry.version,
                }),
            }
            continue;
        }
        if let Some(entry) = remaining
            .iter()
            .find(|e| e.held.name.as_deref() == Some(target.name.as_str()))
        {
            plan.conflicts.push(format!(
                "subject {} version {} (id {}) holds a different `{}` than {} ({}); a published \
                 schema version must not change: restore the package's schema, or delete that \
                 version (--prune) if nothing uses it",
                target.subject,
                entry.version,
                entry.id,
                target.name,
                target.path.display(),
                first_difference(&target.canonical_form, &entry.held.canonical_form)
            ));
            continue;
        }
        if let Some(id) = target.id {
            if let Some(Some(held)) = snapshot.ids.get(&id) {
                if held.canonical_form != target.canonical_form && !pruned_ids.contains(&id) {
                    plan.conflicts.push(format!(
                        "schema id {id} is already taken by {} in the registry, but `{}` from {} \
                         must have id {id} (major*100+minor); {}",
                        held.describe(),
                        target.name,
                        target.path.display(),
                        first_difference(&target.canonical_form, &held.canonical_form)
                    ));
                    continue;
                }
            }
        }
        if let Some(version) = target.subject_version {
            if let Some(entry) = remaining.iter().find(|e| e.version == version) {
                plan.conflicts.push(format!(
                    "version {version} of subject {} is taken by {} (id {}), but `{}` must be \
                     registered as version {version}",
                    target.subject,
                    entry.held.describe(),
                    entry.id,
                    target.name
                ));
                continue;
            }
        }
        plan.actions.push(Action::Register(target.clone()));
    }
    plan
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SetCompatibilityNone { subject, was } => write!(
                f,
                "set compatibility of {subject} to NONE (now {})",
                was.as_deref()
                    .unwrap_or("not set: the global level applies")
            ),
            Action::Delete { subject, entry } => write!(
                f,
                "delete version {} of {subject} (id {}, {}): not in the schema tree (--prune)",
                entry.version,
                entry.id,
                entry.held.describe()
            ),
            Action::Register(t) => match (t.id, t.subject_version) {
                (Some(id), Some(version)) => write!(
                    f,
                    "register `{}` under {} with id {id}, version {version}",
                    t.name, t.subject
                ),
                _ => write!(
                    f,
                    "register `{}` under {} (the registry picks the id)",
                    t.name, t.subject
                ),
            },
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::InPlace {
                target,
                id,
                version,
            } => write!(
                f,
                "skip `{}` under {}: already in place as id {id}, version {version}",
                target.name, target.subject
            ),
            Note::Kept { subject, entry } => write!(
                f,
                "keep version {} of {subject} (id {}, {}): not in the schema tree; --prune would delete it",
                entry.version,
                entry.id,
                entry.held.describe()
            ),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for note in &self.notes {
            writeln!(f, "{note}")?;
        }
        for action in &self.actions {
            writeln!(f, "{action}")?;
        }
        for conflict in &self.conflicts {
            writeln!(f, "CONFLICT: {conflict}")?;
        }
        if self.actions.is_empty() && self.conflicts.is_empty() {
            writeln!(f, "nothing to do: every schema is in place")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn write_version(root: &Path, major: u32, minor: u32, extra_field: &str) {
        let dir = root.join(format!("{major}/{minor}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("lsst.v{major}_{minor}.alert.avsc")),
            format!(
                r#"{{"type":"record","name":"alert","namespace":"lsst.v{major}_{minor}","doc":"an alert",
                   "fields":[{{"name":"diaSourceId","type":"long","doc":"id"}}{extra_field}]}}"#
            ),
        )
        .unwrap();
    }

    fn tree() -> (tempfile::TempDir, SchemaTree) {
        let root = tempfile::tempdir().unwrap();
        write_version(root.path(), 7, 4, "");
        write_version(root.path(), 11, 1, "");
        std::fs::write(root.path().join("latest.txt"), "11.1\n").unwrap();
        let tree = SchemaTree::load(root.path()).unwrap();
        (root, tree)
    }

    fn entry(version: u32, id: u32, target: &Target) -> Entry {
        Entry {
            version,
            id,
            held: Held::from_text(&target.schema),
        }
    }

    fn in_place(targets: &[Target]) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for t in targets {
            let state = snapshot.subjects.entry(t.subject.clone()).or_default();
            state.compatibility = Some("NONE".into());
            state
                .entries
                .push(entry(t.subject_version.unwrap(), t.id.unwrap(), t));
            snapshot
                .ids
                .insert(t.id.unwrap(), Some(Held::from_text(&t.schema)));
        }
        snapshot
    }

    #[test]
    fn import_targets_follow_the_id_rule_and_keep_docs() {
        let (_dir, tree) = tree();
        let targets = targets(&tree, "alert-packet", Mode::Import, true);
        let got: Vec<(String, Option<u32>, Option<u32>)> = targets
            .iter()
            .map(|t| (t.subject.clone(), t.id, t.subject_version))
            .collect();
        assert_eq!(
            got,
            [
                ("alert-packet".into(), Some(704), Some(704)),
                ("alert-packet".into(), Some(1101), Some(1101)),
                ("lsst-alerts-v7.4-value".into(), Some(704), Some(704)),
                ("lsst-alerts-v11.1-value".into(), Some(1101), Some(1101)),
            ]
        );
        assert!(
            targets[0].schema.contains("\"doc\""),
            "{}",
            targets[0].schema
        );
        let latest = super::targets(&tree, "s", Mode::Latest, false);
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].name, "lsst.v11_1.alert");
        assert_eq!(latest[0].id, None);
    }

    #[test]
    fn an_empty_registry_gets_everything_and_compatibility_none() {
        let (_dir, tree) = tree();
        let targets = targets(&tree, "alert-packet", Mode::Import, false);
        let plan = plan(&targets, &Snapshot::default(), false);
        assert!(plan.conflicts.is_empty());
        assert!(matches!(
            plan.actions[0],
            Action::SetCompatibilityNone { ref was, .. } if was.is_none()
        ));
        assert_eq!(plan.registrations().count(), 2);
        let text = plan.to_string();
        assert!(
            text.contains(
                "register `lsst.v11_1.alert` under alert-packet with id 1101, version 1101"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_second_run_does_nothing_even_if_the_registry_rewrote_the_text() {
        let (_dir, tree) = tree();
        let targets = targets(&tree, "alert-packet", Mode::Import, false);
        let mut snapshot = in_place(&targets);
        // Registries may store the text without docs: the canonical form is what counts.
        for entry in &mut snapshot.subjects.get_mut("alert-packet").unwrap().entries {
            let stripped = Schema::parse_str(&entry.held.canonical_form).unwrap();
            entry.held = Held::from_text(&stripped.canonical_form());
        }
        let plan = plan(&targets, &snapshot, false);
        assert!(plan.actions.is_empty(), "{plan}");
        assert!(plan.conflicts.is_empty(), "{plan}");
        assert!(plan.to_string().contains("nothing to do"), "{plan}");
        assert_eq!(plan.notes.len(), 2);
    }

    #[test]
    fn a_changed_published_version_is_a_conflict_naming_both() {
        let (dir, tree) = tree();
        let targets = targets(&tree, "alert-packet", Mode::Latest, false);
        // The registry holds an earlier edition of 11.1 (one more field).
        write_version(dir.path(), 11, 1, r#",{"name":"extra","type":"int"}"#);
        let edited = SchemaTree::load(dir.path()).unwrap();
        let mut snapshot = Snapshot::default();
        snapshot.subjects.insert(
            "alert-packet".into(),
            SubjectState {
                entries: vec![Entry {
                    version: 1,
                    id: 3,
                    held: Held::from_text(&edited.latest().schema.to_json().to_string()),
                }],
                compatibility: Some("NONE".into()),
            },
        );
        let plan = plan(&targets, &snapshot, false);
        assert_eq!(plan.conflicts.len(), 1, "{plan}");
        let conflict = &plan.conflicts[0];
        assert!(conflict.contains("version 1 (id 3)"), "{conflict}");
        assert!(conflict.contains("lsst.v11_1.alert"), "{conflict}");
        assert!(conflict.contains("lsst.v11_1.alert.avsc"), "{conflict}");
        assert!(conflict.contains("extra"), "{conflict}");
        // --prune removes the stale edition and registers the tree's.
        let pruned = super::plan(&targets, &snapshot, true);
        assert!(pruned.conflicts.is_empty(), "{pruned}");
        assert!(matches!(pruned.actions[0], Action::Delete { .. }));
        assert!(matches!(pruned.actions[1], Action::Register(_)));
    }

    #[test]
    fn an_id_held_by_another_schema_is_a_conflict() {
        let (_dir, tree) = tree();
        let targets = targets(&tree, "alert-packet", Mode::Import, false);
        let mut snapshot = Snapshot::default();
        snapshot.ids.insert(
            1101,
            Some(Held::from_text(
                r#"{"type":"record","name":"other","fields":[]}"#,
            )),
        );
        let plan = plan(&targets, &snapshot, false);
        assert_eq!(plan.conflicts.len(), 1, "{plan}");
        assert!(plan.conflicts[0].contains("schema id 1101 is already taken by `other`"));
        assert!(plan.conflicts[0].contains("lsst.v11_1.alert"));
        assert_eq!(plan.registrations().count(), 1, "7.4 is still planned");
    }

    #[test]
    fn a_schema_registered_with_another_id_is_a_conflict_in_import_mode_only() {
        let (_dir, tree) = tree();
        let import = targets(&tree, "alert-packet", Mode::Import, false);
        let mut snapshot = Snapshot::default();
        snapshot.subjects.insert(
            "alert-packet".into(),
            SubjectState {
                entries: vec![entry(1, 12, &import[1])],
                compatibility: Some("NONE".into()),
            },
        );
        let plan = plan(&import, &snapshot, false);
        assert_eq!(plan.conflicts.len(), 1, "{plan}");
        assert!(plan.conflicts[0].contains("with id 12 (version 1), not with id 1101"));
        let latest = targets(&tree, "alert-packet", Mode::Latest, false);
        let plan = super::plan(&latest, &snapshot, false);
        assert!(
            plan.conflicts.is_empty() && plan.actions.is_empty(),
            "{plan}"
        );
    }

    #[test]
    fn other_versions_are_kept_unless_pruned() {
        let (_dir, tree) = tree();
        let import = targets(&tree, "alert-packet", Mode::Import, false);
        let latest = targets(&tree, "alert-packet", Mode::Latest, false);
        let mut snapshot = Snapshot::default();
        snapshot.subjects.insert(
            "alert-packet".into(),
            SubjectState {
                entries: vec![entry(1, 5, &import[0]), entry(2, 6, &import[1])],
                compatibility: Some("BACKWARD".into()),
            },
        );
        let kept = plan(&latest, &snapshot, false);
        assert!(
            kept.to_string()
                .contains("keep version 1 of alert-packet (id 5, `lsst.v7_4.alert`)"),
            "{kept}"
        );
        assert_eq!(
            kept.actions.len(),
            1,
            "only the compatibility change: {kept}"
        );
        let pruned = plan(&latest, &snapshot, true);
        let text = pruned.to_string();
        assert!(
            text.contains("delete version 1 of alert-packet (id 5"),
            "{text}"
        );
        assert!(
            text.contains("set compatibility of alert-packet to NONE (now BACKWARD)"),
            "{text}"
        );
    }

    #[test]
    fn a_taken_subject_version_is_a_conflict() {
        let (_dir, tree) = tree();
        let import = targets(&tree, "alert-packet", Mode::Import, false);
        let mut snapshot = Snapshot::default();
        snapshot.subjects.insert(
            "alert-packet".into(),
            SubjectState {
                entries: vec![Entry {
                    version: 704,
                    id: 9,
                    held: Held::from_text(r#"{"type":"record","name":"x","fields":[]}"#),
                }],
                compatibility: None,
            },
        );
        let plan = plan(&import, &snapshot, false);
        assert_eq!(plan.conflicts.len(), 1, "{plan}");
        assert!(plan.conflicts[0].contains("version 704 of subject alert-packet is taken by `x`"));
    }

    #[test]
    fn differences_are_shown_around_the_first_changed_byte() {
        let text = first_difference(r#"{"a":"long","é":1}"#, r#"{"a":"int","é":1}"#);
        assert!(text.contains("byte 6"), "{text}");
        assert!(text.contains("int") && text.contains("long"), "{text}");
        assert!(first_difference("abc", "abcdef").contains("byte 3"));
    }
}
