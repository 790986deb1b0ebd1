//! Talking to the registry: wait for it, read what it holds, carry out a plan, and check the
//! result.

use crate::plan::{self, Action, Entry, Held, Plan, Snapshot, SubjectState, Target};
use crate::settings::{Mode, Settings};
use alert_packet::tree::{SchemaTree, TreeError};
use registry_client::{RegistryClient, RegistryError};
use std::io::Write;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Why a run failed. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot load the alert schemas: {0}")]
    Tree(#[from] TreeError),
    #[error("invalid settings: {0}")]
    Settings(String),
    #[error(
        "the schema registry at {url} did not answer within {waited_seconds} s ({reason}); \
         check --schema-registry-url, or raise --wait if it is still starting"
    )]
    Unreachable {
        url: String,
        waited_seconds: u64,
        reason: String,
    },
    #[error("{doing}: {source}")]
    Registry {
        doing: String,
        #[source]
        source: RegistryError,
    },
    #[error("{} conflict(s), nothing was changed:\n  {}", .0.len(), .0.join("\n  "))]
    Conflicts(Vec<String>),
    #[error(
        "the registry ignored the requested schema id {requested} for `{name}` under {subject} \
         and assigned id {assigned}; it does not support IMPORT mode (Apicurio does not), so \
         ids cannot follow major*100+minor there: use --mode latest{rollback}"
    )]
    IgnoredId {
        name: String,
        subject: String,
        requested: u32,
        assigned: u32,
        /// What happened to the registration the registry made anyway.
        rollback: String,
    },
    #[error("after the run these schemas are still not in place: {}", .0.join("; "))]
    NotInPlace(Vec<String>),
    #[error("interrupted by a signal; the subject modes were restored")]
    Interrupted,
}

fn registry(doing: impl Into<String>) -> impl FnOnce(RegistryError) -> SyncError {
    let doing = doing.into();
    move |source| SyncError::Registry { doing, source }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub registered: usize,
    pub in_place: usize,
    pub deleted: usize,
    pub compatibility_set: usize,
    pub dry_run: bool,
}

/// Waits until the registry answers `GET /subjects`, up to `wait`. Only transient failures
/// (refused, timeout, 5xx) are waited out; a wrong URL path fails at once.
pub async fn wait_for_registry(
    client: &RegistryClient,
    wait: Duration,
    shutdown: &CancellationToken,
) -> Result<(), SyncError> {
    let deadline = Instant::now() + wait;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match client.subjects().await {
            Ok(_) => {
                if attempts > 1 {
                    tracing::info!(attempts, "schema registry answers");
                }
                return Ok(());
            }
            Err(error) if error.is_transient() => {
                if Instant::now() >= deadline {
                    return Err(SyncError::Unreachable {
                        url: client.base_url().to_owned(),
                        waited_seconds: wait.as_secs(),
                        reason: error.to_string(),
                    });
                }
                if attempts == 1 {
                    tracing::info!(error = %error, wait_seconds = wait.as_secs(), "waiting for the schema registry");
                }
                let pause = Duration::from_millis(500).min(deadline - Instant::now());
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.cancelled() => return Err(SyncError::Interrupted),
                }
            }
            Err(error) => {
                return Err(SyncError::Registry {
                    doing: format!(
                        "GET {}/subjects (is this the registry's Confluent API root? for Apicurio it ends in /apis/ccompat/v7)",
                        client.base_url()
                    ),
                    source: error,
                })
            }
        }
    }
}

/// Reads what the registry holds for the targets' subjects and ids.
pub async fn snapshot(client: &RegistryClient, targets: &[Target]) -> Result<Snapshot, SyncError> {
    let mut snapshot = Snapshot::default();
    for target in targets {
        if snapshot.subjects.contains_key(&target.subject) {
            continue;
        }
        let subject = target.subject.as_str();
        let versions = match client.subject_versions(subject).await {
            Ok(versions) => versions,
            Err(RegistryError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(registry(format!("listing the versions of {subject}"))(e)),
        };
        let mut entries = Vec::new();
        for version in versions {
            match client.subject_version(subject, version).await {
                Ok(found) => entries.push(Entry {
                    version: found.version,
                    id: found.id,
                    held: Held::from_text(&found.schema),
                }),
                // Deleted between the two calls: nothing to compare with.
                Err(RegistryError::NotFound { .. }) => {}
                Err(e) => {
                    return Err(registry(format!("reading version {version} of {subject}"))(
                        e,
                    ))
                }
            }
        }
        let compatibility = client
            .get_config(Some(subject))
            .await
            .map_err(registry(format!(
                "reading the compatibility level of {subject}"
            )))?;
        snapshot.subjects.insert(
            subject.to_owned(),
            SubjectState {
                entries,
                compatibility,
            },
        );
    }
    for id in targets.iter().filter_map(|t| t.id) {
        if snapshot.ids.contains_key(&id) {
            continue;
        }
        let held = match client.get_schema(id).await {
            Ok(text) => Some(Held::from_text(&text)),
            Err(RegistryError::NotFound { .. }) => None,
            Err(e) => return Err(registry(format!("reading schema id {id}"))(e)),
        };
        snapshot.ids.insert(id, held);
    }
    Ok(snapshot)
}

/// Runs a whole sync: load the tree, wait for the registry, plan, print the plan (dry run) or
/// carry it out, then check every schema is in place. Plan lines and the summary go to `out`.
pub async fn run(
    settings: &Settings,
    shutdown: CancellationToken,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, SyncError> {
    settings.validate().map_err(SyncError::Settings)?;
    let root = match &settings.schema_dir {
        Some(dir) => dir.clone(),
        None => alert_packet::tree::locate()?,
    };
    let tree = SchemaTree::load(&root)?;
    tracing::info!(
        schema_dir = %root.display(),
        versions = tree.versions().count(),
        latest = %tree.latest().version,
        "loaded the schema tree"
    );
    let client = RegistryClient::new(
        &settings.schema_registry_url,
        settings.request_timeout_duration(),
    )
    .map_err(registry("configuring the registry client"))?;
    wait_for_registry(&client, settings.wait_duration(), &shutdown).await?;

    let targets = plan::targets(
        &tree,
        &settings.subject,
        settings.mode,
        settings.per_version_subjects,
    );
    let before = snapshot(&client, &targets).await?;
    let plan = plan::plan(&targets, &before, settings.prune);
    let mut outcome = Outcome {
        in_place: plan
            .notes
            .iter()
            .filter(|n| matches!(n, plan::Note::InPlace { .. }))
            .count(),
        dry_run: settings.dry_run,
        ..Outcome::default()
    };
    if settings.dry_run {
        let _ = write!(out, "{plan}");
        if !plan.conflicts.is_empty() {
            return Err(SyncError::Conflicts(plan.conflicts));
        }
        return Ok(outcome);
    }
    if !plan.conflicts.is_empty() {
        return Err(SyncError::Conflicts(plan.conflicts));
    }
    for note in &plan.notes {
        tracing::info!(note = %note, "unchanged");
    }
    execute(&client, &plan, settings.mode, &shutdown, &mut outcome).await?;

    // Exit 0 only when every schema is really there, as the registry now says.
    let after = snapshot(&client, &targets).await?;
    let missing: Vec<String> = targets
        .iter()
        .filter(|t| {
            !after.subjects.get(&t.subject).is_some_and(|s| {
                s.entries.iter().any(|e| {
                    e.held.canonical_form == t.canonical_form && t.id.is_none_or(|id| id == e.id)
                })
            })
        })
        .map(|t| format!("`{}` under {}", t.name, t.subject))
        .collect();
    if !missing.is_empty() {
        return Err(SyncError::NotInPlace(missing));
    }
    let _ = writeln!(
        out,
        "schema-sync: {} registered, {} already in place, {} deleted, {} compatibility level(s) set to NONE",
        outcome.registered, outcome.in_place, outcome.deleted, outcome.compatibility_set
    );
    Ok(outcome)
}

async fn execute(
    client: &RegistryClient,
    plan: &Plan,
    mode: Mode,
    shutdown: &CancellationToken,
    outcome: &mut Outcome,
) -> Result<(), SyncError> {
    for action in &plan.actions {
        if shutdown.is_cancelled() {
            return Err(SyncError::Interrupted);
        }
        match action {
            Action::SetCompatibilityNone { subject, .. } => {
                client
                    .set_config(Some(subject), "NONE")
                    .await
                    .map_err(registry(format!(
                        "setting the compatibility of {subject} to NONE"
                    )))?;
                outcome.compatibility_set += 1;
            }
            Action::Delete { subject, entry } => {
                for permanent in [false, true] {
                    client
                        .delete_version(subject, entry.version, permanent)
                        .await
                        .map_err(registry(format!(
                            "deleting version {} of {subject}",
                            entry.version
                        )))?;
                }
                outcome.deleted += 1;
            }
            Action::Register(_) => continue,
        }
        tracing::info!(action = %action, "done");
    }
    // Registrations, grouped by subject so each subject is switched to IMPORT once.
    let mut subjects: Vec<&str> = Vec::new();
    for target in plan.registrations() {
        if !subjects.contains(&target.subject.as_str()) {
            subjects.push(&target.subject);
        }
    }
    for subject in subjects {
        let targets: Vec<&Target> = plan
            .registrations()
            .filter(|t| t.subject == subject)
            .collect();
        match mode {
            Mode::Latest => {
                for target in targets {
                    register(client, target, outcome).await?;
                }
            }
            Mode::Import => {
                let previous = client
                    .get_mode(Some(subject))
                    .await
                    .map_err(registry(format!("reading the mode of {subject}")))?;
                let switch = previous.as_deref() != Some("IMPORT");
                if switch {
                    client
                        .set_mode(Some(subject), "IMPORT", true)
                        .await
                        .map_err(registry(format!(
                            "switching {subject} to IMPORT mode (the registry must allow it)"
                        )))?;
                    tracing::info!(
                        subject,
                        previous = previous.as_deref().unwrap_or("not set"),
                        "subject in IMPORT mode"
                    );
                }
                let mut result = Ok(());
                for target in targets {
                    if shutdown.is_cancelled() {
                        result = Err(SyncError::Interrupted);
                        break;
                    }
                    if let Err(error) = register(client, target, outcome).await {
                        result = Err(error);
                        break;
                    }
                }
                // Restore the mode whatever happened, so producers can register again.
                if switch {
                    let restored = match previous.as_deref() {
                        None => client.delete_mode(subject).await,
                        Some(mode) => client.set_mode(Some(subject), mode, false).await,
                    };
                    match restored {
                        Ok(()) => {
                            tracing::info!(
                                subject,
                                mode = previous.as_deref().unwrap_or("not set"),
                                "subject mode restored"
                            )
                        }
                        Err(error) => {
                            tracing::error!(subject, error = %error, "cannot restore the subject mode");
                            result = result.and(Err(SyncError::Registry {
                                doing: format!(
                                    "restoring the mode of {subject} to {}",
                                    previous.as_deref().unwrap_or("the global mode")
                                ),
                                source: error,
                            }));
                        }
                    }
                }
                result?;
            }
        }
    }
    Ok(())
}

async fn register(
    client: &RegistryClient,
    target: &Target,
    outcome: &mut Outcome,
) -> Result<(), SyncError> {
    let assigned = client
        .register(
            &target.subject,
            &target.schema,
            target.id,
            target.subject_version,
        )
        .await
        .map_err(registry(format!(
            "registering `{}` under {}",
            target.name, target.subject
        )))?;
    if let Some(requested) = target.id {
        if assigned != requested {
            let rollback = roll_back(client, target, assigned).await;
            return Err(SyncError::IgnoredId {
                name: target.name.clone(),
                subject: target.subject.clone(),
                requested,
                assigned,
                rollback,
            });
        }
    }
    outcome.registered += 1;
    tracing::info!(
        subject = %target.subject,
        schema = %target.name,
        id = assigned,
        "registered"
    );
    Ok(())
}

/// Removes the registration a registry made under an id it chose itself, so a refused import
/// leaves the subject as it was. Returns what to add to the error message.
async fn roll_back(client: &RegistryClient, target: &Target, assigned: u32) -> String {
    let found = match client.lookup(&target.subject, &target.schema).await {
        Ok(Some(found)) if found.id == assigned => found,
        Ok(_) => return String::new(),
        Err(error) => {
            return format!(
                "; the registration it made (id {assigned}) may still be under {}: {error}",
                target.subject
            )
        }
    };
    for permanent in [false, true] {
        if let Err(error) = client
            .delete_version(&target.subject, found.version, permanent)
            .await
        {
            return format!(
                "; removing the registration it made (version {} of {}, id {assigned}) failed: {error}",
                found.version, target.subject
            );
        }
    }
    format!(
        "; the registration it made (version {} of {}, id {assigned}) was removed again",
        found.version, target.subject
    )
}
