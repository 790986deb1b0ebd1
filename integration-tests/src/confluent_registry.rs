//! A small Confluent Schema Registry for tests of what the stack's registry cannot do.
//!
//! The local stack runs Apicurio Registry 3.3.3 (README, "Which real components"), whose
//! Confluent API accepts `PUT /mode/{subject}` `IMPORT` but ignores a client-chosen id. Tests
//! of the import path (ids `major*100 + minor`) therefore run against this server, which
//! implements the part of Confluent's REST API that `schema-sync` and the other clients use,
//! with Confluent's semantics:
//!
//! - `GET /subjects`, `GET /subjects/{s}/versions`, `GET /subjects/{s}/versions/{v|latest}`,
//!   `GET /schemas/ids/{id}`, `POST /subjects/{s}` (lookup);
//! - `POST /subjects/{s}/versions`: in READWRITE mode the registry picks the id (an identical
//!   schema keeps its id) and a client-chosen `id` is refused with 42205; in IMPORT mode the
//!   chosen `id` and `version` are honoured, and an id or version already holding another
//!   schema is refused with 42205; READONLY refuses every write with 42205;
//! - `GET/PUT /mode[/{s}]` (IMPORT on a subject with live versions needs `?force=true`, else
//!   42205), `DELETE /mode/{s}`; `GET/PUT /config[/{s}]`; a subject without its own mode or
//!   level answers 40409 / 40408 unless `?defaultToGlobal=true`;
//! - `DELETE /subjects/{s}[/versions/{v}]`, soft first, then `?permanent=true` (40405/40407
//!   otherwise);
//! - errors as `{"error_code": ..., "message": ...}` with Confluent's codes (40401 subject,
//!   40402 version, 40403 schema not found, 42201 invalid schema, 42203 invalid compatibility
//!   level, 42205 operation not permitted), everything as `application/vnd.schemaregistry.v1+json`.
//!
//! Two schemas are "the same" when their JSON values are equal (key order and whitespace do
//! not matter, docs do), as Confluent compares Avro's normalised `toString()`. Compatibility
//! levels are stored but not enforced. It is test support only: never deployed.
//!
//! Modes and compatibility levels are enums (`Mode`, `Level`) parsed once from a request;
//! both are a global value plus per-subject ones, so `/mode[/{s}]` and `/config[/{s}]` are
//! served by the same generic handlers (the `Setting` trait says what differs). Handlers
//! return `Result<_, ApiError>`, and `ApiError` renders Confluent's error body.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Debug, Clone)]
struct Version {
    version: u32,
    id: u32,
    deleted: bool,
}

#[derive(Debug)]
struct Registry {
    /// Schema text by id, as first registered.
    schemas: BTreeMap<u32, String>,
    subjects: BTreeMap<String, Vec<Version>>,
    modes: Scoped<Mode>,
    levels: Scoped<Level>,
}

type Shared = Arc<Mutex<Registry>>;
type Params = Query<HashMap<String, String>>;

/// A running test registry; stops when dropped.
#[derive(Debug)]
pub struct ConfluentRegistry {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl ConfluentRegistry {
    /// Starts an empty registry on a free loopback port (global mode READWRITE, compatibility
    /// BACKWARD, like Confluent's defaults).
    pub async fn start() -> ConfluentRegistry {
        let state: Shared = Arc::new(Mutex::new(Registry {
            schemas: BTreeMap::new(),
            subjects: BTreeMap::new(),
            modes: Scoped::new(Mode::ReadWrite),
            levels: Scoped::new(Level::Backward),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router(state)).await;
        });
        ConfluentRegistry { url, task }
    }

    /// The API root, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ConfluentRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/mode", get(get_global::<Mode>).put(put_global::<Mode>))
        .route(
            "/mode/{subject}",
            get(get_subject::<Mode>)
                .put(put_subject::<Mode>)
                .delete(delete_mode),
        )
        .route("/config", get(get_global::<Level>).put(put_global::<Level>))
        .route(
            "/config/{subject}",
            get(get_subject::<Level>).put(put_subject::<Level>),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found") })
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Answers and errors

/// A 200 answer with a JSON body, typed as Confluent's clients expect.
struct Reply(Value);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        answer(StatusCode::OK, &self.0)
    }
}

fn answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// A refused request, answered as `{"error_code": ..., "message": ...}`: handlers return it
/// with `?` from wherever the refusal is found.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: u32,
    message: String,
}

type Answer = Result<Reply, ApiError>;

impl ApiError {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn not_found(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    fn unprocessable(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    fn subject_not_found(subject: &str) -> ApiError {
        ApiError::not_found(40401, format!("Subject '{subject}' not found."))
    }

    fn version_not_found(version: impl std::fmt::Display) -> ApiError {
        ApiError::not_found(40402, format!("Version {version} not found."))
    }

    fn schema_not_found() -> ApiError {
        ApiError::not_found(40403, "Schema not found")
    }

    fn not_permitted(message: impl Into<String>) -> ApiError {
        ApiError::unprocessable(42205, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        answer(
            self.status,
            &json!({ "error_code": self.code, "message": self.message }),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Subjects, versions and schemas

/// Whether `?name=true`.
fn flag(query: &HashMap<String, String>, name: &str) -> bool {
    query.get(name).is_some_and(|v| v == "true")
}

fn same_schema(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The `schema` field of a request body, if it is a JSON document Avro could accept.
fn schema_of(body: &Value) -> Result<String, ApiError> {
    let invalid = |why: &str| ApiError::unprocessable(42201, why);
    let text = body["schema"]
        .as_str()
        .ok_or_else(|| invalid("Invalid schema: the body has no `schema` string"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::String(_) | Value::Array(_)) => Ok(text.to_owned()),
        Ok(Value::Object(object)) if object.contains_key("type") => Ok(text.to_owned()),
        Ok(_) => Err(invalid("Invalid schema: not an Avro schema")),
        Err(e) => Err(invalid(&format!("Invalid schema: {e}"))),
    }
}

fn parse_body(body: &str) -> Result<Value, ApiError> {
    serde_json::from_str(body)
        .map_err(|e| ApiError::unprocessable(42201, format!("Unrecognized request body: {e}")))
}

fn live(versions: &[Version]) -> impl Iterator<Item = &Version> {
    versions.iter().filter(|v| !v.deleted)
}

impl Registry {
    fn has_live(&self, subject: &str) -> bool {
        self.subjects
            .get(subject)
            .is_some_and(|v| live(v).next().is_some())
    }

    /// Whether `scope` (one subject, or any for the global scope) has live versions.
    fn has_live_in(&self, scope: Scope<'_>) -> bool {
        match scope {
            Scope::Global => self.subjects.keys().any(|s| self.has_live(s)),
            Scope::Subject(subject) => self.has_live(subject),
        }
    }

    /// The versions of a subject that has live ones; 40401 otherwise.
    fn live_subject(&self, subject: &str) -> Result<&[Version], ApiError> {
        self.subjects
            .get(subject)
            .filter(|v| live(v).next().is_some())
            .map(Vec::as_slice)
            .ok_or_else(|| ApiError::subject_not_found(subject))
    }

    fn version_body(&self, subject: &str, v: &Version) -> Value {
        json!({
            "subject": subject,
            "version": v.version,
            "id": v.id,
            "schema": self.schemas[&v.id],
        })
    }

    /// Drops schemas no version refers to any more (after permanent deletes).
    fn collect_garbage(&mut self) {
        let used: Vec<u32> = self.subjects.values().flatten().map(|v| v.id).collect();
        self.schemas.retain(|id, _| used.contains(id));
    }
}

async fn list_subjects(State(state): State<Shared>) -> Reply {
    let registry = state.lock().unwrap();
    let names: Vec<&String> = registry
        .subjects
        .iter()
        .filter(|(_, v)| live(v).next().is_some())
        .map(|(name, _)| name)
        .collect();
    Reply(json!(names))
}

async fn list_versions(State(state): State<Shared>, Path(subject): Path<String>) -> Answer {
    let registry = state.lock().unwrap();
    let versions = registry.live_subject(&subject)?;
    Ok(Reply(json!(live(versions)
        .map(|v| v.version)
        .collect::<Vec<_>>())))
}

async fn get_version(
    State(state): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    let registry = state.lock().unwrap();
    let versions = registry.live_subject(&subject)?;
    let found = if version == "latest" {
        live(versions).max_by_key(|v| v.version)
    } else {
        let n = version.parse::<u32>().map_err(|_| {
            ApiError::unprocessable(
                42202,
                format!("The specified version '{version}' is not a valid version id."),
            )
        })?;
        live(versions).find(|v| v.version == n)
    };
    let found = found.ok_or_else(|| ApiError::version_not_found(&version))?;
    Ok(Reply(registry.version_body(&subject, found)))
}

async fn schema_by_id(State(state): State<Shared>, Path(id): Path<String>) -> Answer {
    let registry = state.lock().unwrap();
    let text = id
        .parse::<u32>()
        .ok()
        .and_then(|id| registry.schemas.get(&id))
        .ok_or_else(ApiError::schema_not_found)?;
    Ok(Reply(json!({ "schema": text })))
}

async fn lookup(State(state): State<Shared>, Path(subject): Path<String>, body: String) -> Answer {
    let schema = schema_of(&parse_body(&body)?)?;
    let registry = state.lock().unwrap();
    let versions = registry.live_subject(&subject)?;
    let found = live(versions)
        .find(|v| same_schema(&registry.schemas[&v.id], &schema))
        .ok_or_else(ApiError::schema_not_found)?;
    Ok(Reply(registry.version_body(&subject, found)))
}

async fn register(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    body: String,
) -> Answer {
    let body = parse_body(&body)?;
    let schema = schema_of(&body)?;
    let wanted_id = body["id"].as_u64().map(|v| v as u32);
    let wanted_version = body["version"].as_u64().map(|v| v as u32);
    let mut registry = state.lock().unwrap();
    let mode = registry.modes.effective(&subject);
    if matches!(mode, Mode::ReadOnly | Mode::ReadOnlyOverride) {
        return Err(ApiError::not_permitted(format!(
            "Subject {subject} is in read-only mode"
        )));
    }
    let import = mode == Mode::Import;
    if wanted_id.is_some() && !import {
        return Err(ApiError::not_permitted(format!(
            "Subject {subject} is not in import mode; a schema id can only be given in IMPORT mode"
        )));
    }
    // An identical schema already under the subject keeps its registration.
    if let Some(existing) = registry.subjects.get(&subject).and_then(|versions| {
        live(versions)
            .find(|v| same_schema(&registry.schemas[&v.id], &schema))
            .cloned()
    }) {
        if wanted_id.is_none_or(|id| id == existing.id) {
            return Ok(Reply(json!({ "id": existing.id })));
        }
        return Err(ApiError::not_permitted(format!(
            "Schema already registered under subject {subject} with id {}, not {}",
            existing.id,
            wanted_id.unwrap_or_default()
        )));
    }
    let id = match wanted_id {
        Some(id) => {
            if let Some(text) = registry.schemas.get(&id) {
                if !same_schema(text, &schema) {
                    return Err(ApiError::not_permitted(format!(
                        "Overwrite new schema with id {id} is not permitted."
                    )));
                }
            }
            id
        }
        None => registry
            .schemas
            .iter()
            .find(|(_, text)| same_schema(text, &schema))
            .map(|(id, _)| *id)
            .unwrap_or_else(|| registry.schemas.keys().next_back().map_or(1, |id| id + 1)),
    };
    let versions = registry.subjects.entry(subject.clone()).or_default();
    let version = match wanted_version.filter(|_| import) {
        Some(version) => {
            if versions.iter().any(|v| v.version == version) {
                return Err(ApiError::not_permitted(format!(
                    "Overwrite new schema with version {version} of subject {subject} is not permitted."
                )));
            }
            version
        }
        None => versions.iter().map(|v| v.version).max().unwrap_or(0) + 1,
    };
    versions.push(Version {
        version,
        id,
        deleted: false,
    });
    versions.sort_by_key(|v| v.version);
    registry.schemas.entry(id).or_insert(schema);
    Ok(Reply(json!({ "id": id })))
}

async fn delete_subject(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(query): Params,
) -> Answer {
    let mut registry = state.lock().unwrap();
    let versions = registry
        .subjects
        .get_mut(&subject)
        .ok_or_else(|| ApiError::subject_not_found(&subject))?;
    let any_live = live(versions).next().is_some();
    if flag(&query, "permanent") {
        if any_live {
            return Err(ApiError::not_found(
                40405,
                format!(
                    "Subject '{subject}' was not deleted first before being permanently deleted"
                ),
            ));
        }
        let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
        registry.subjects.remove(&subject);
        registry.modes.subjects.remove(&subject);
        registry.levels.subjects.remove(&subject);
        registry.collect_garbage();
        return Ok(Reply(json!(numbers)));
    }
    if !any_live {
        return Err(ApiError::not_found(
            40404,
            format!("Subject '{subject}' was soft deleted."),
        ));
    }
    let mut numbers = Vec::new();
    for v in versions.iter_mut().filter(|v| !v.deleted) {
        v.deleted = true;
        numbers.push(v.version);
    }
    Ok(Reply(json!(numbers)))
}

async fn delete_version(
    State(state): State<Shared>,
    Path((subject, version)): Path<(String, u32)>,
    Query(query): Params,
) -> Answer {
    let mut registry = state.lock().unwrap();
    let versions = registry
        .subjects
        .get_mut(&subject)
        .ok_or_else(|| ApiError::subject_not_found(&subject))?;
    let index = versions
        .iter()
        .position(|v| v.version == version)
        .ok_or_else(|| ApiError::version_not_found(version))?;
    if flag(&query, "permanent") {
        if !versions[index].deleted {
            return Err(ApiError::not_found(
                40407,
                format!("Subject '{subject}' Version {version} was not deleted first before being permanently deleted"),
            ));
        }
        versions.remove(index);
        if versions.is_empty() {
            registry.subjects.remove(&subject);
        }
        registry.collect_garbage();
    } else {
        if versions[index].deleted {
            return Err(ApiError::not_found(
                40406,
                format!("Subject '{subject}' Version {version} was soft deleted."),
            ));
        }
        versions[index].deleted = true;
    }
    Ok(Reply(json!(version)))
}

// ---------------------------------------------------------------------------------------------
// Modes and compatibility levels: typed, held globally and per subject

/// A subject's mode: what writes it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    ReadWrite,
    ReadOnly,
    ReadOnlyOverride,
    Import,
}

/// A compatibility level: stored and answered, never enforced (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

/// What differs between the two settings that `/mode` and `/config` manage the same way: a
/// global value, a value per subject, `?defaultToGlobal=true` reads.
trait Setting: Copy + PartialEq + Send + 'static {
    /// Every value with its name in the API.
    const NAMES: &'static [(Self, &'static str)];
    /// The field a PUT's body names it with and its answer repeats.
    const PUT_FIELD: &'static str;
    /// The field a GET answers it with.
    const GET_FIELD: &'static str;
    /// The error for a PUT of an unknown value.
    const INVALID: (u32, &'static str);
    /// The error code of a subject without a value of its own.
    const NOT_CONFIGURED: u32;
    /// The setting's name in the not-configured message.
    const WHAT: &'static str;

    fn scoped(registry: &Registry) -> &Scoped<Self>;
    fn scoped_mut(registry: &mut Registry) -> &mut Scoped<Self>;

    /// Refuses a change the registry's state does not allow (`force` is `?force=true`).
    fn check_put(
        _registry: &Registry,
        _scope: Scope<'_>,
        _value: Self,
        _force: bool,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(value, _)| *value == self)
            .map(|(_, name)| *name)
            .expect("every value is named")
    }

    /// The value a PUT's body names, parsed once.
    fn from_body(body: &str) -> Result<Self, ApiError> {
        let body = parse_body(body)?;
        let name = body[Self::PUT_FIELD].as_str();
        Self::NAMES
            .iter()
            .find(|(_, known)| Some(*known) == name)
            .map(|(value, _)| *value)
            .ok_or_else(|| ApiError::unprocessable(Self::INVALID.0, Self::INVALID.1))
    }
}

impl Setting for Mode {
    const NAMES: &'static [(Mode, &'static str)] = &[
        (Mode::ReadWrite, "READWRITE"),
        (Mode::ReadOnly, "READONLY"),
        (Mode::ReadOnlyOverride, "READONLY_OVERRIDE"),
        (Mode::Import, "IMPORT"),
    ];
    const PUT_FIELD: &'static str = "mode";
    const GET_FIELD: &'static str = "mode";
    const INVALID: (u32, &'static str) = (
        42204,
        "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT.",
    );
    const NOT_CONFIGURED: u32 = 40409;
    const WHAT: &'static str = "mode";

    fn scoped(registry: &Registry) -> &Scoped<Mode> {
        &registry.modes
    }

    fn scoped_mut(registry: &mut Registry) -> &mut Scoped<Mode> {
        &mut registry.modes
    }

    /// IMPORT where live versions exist could give a chosen id to a schema clients already
    /// know by another: Confluent asks for `?force=true`.
    fn check_put(
        registry: &Registry,
        scope: Scope<'_>,
        mode: Mode,
        force: bool,
    ) -> Result<(), ApiError> {
        if mode == Mode::Import && registry.has_live_in(scope) && !force {
            return Err(ApiError::not_permitted(
                "Cannot import since found existing subjects",
            ));
        }
        Ok(())
    }
}

impl Setting for Level {
    const NAMES: &'static [(Level, &'static str)] = &[
        (Level::None, "NONE"),
        (Level::Backward, "BACKWARD"),
        (Level::BackwardTransitive, "BACKWARD_TRANSITIVE"),
        (Level::Forward, "FORWARD"),
        (Level::ForwardTransitive, "FORWARD_TRANSITIVE"),
        (Level::Full, "FULL"),
        (Level::FullTransitive, "FULL_TRANSITIVE"),
    ];
    const PUT_FIELD: &'static str = "compatibility";
    const GET_FIELD: &'static str = "compatibilityLevel";
    const INVALID: (u32, &'static str) = (42203, "Invalid compatibility level");
    const NOT_CONFIGURED: u32 = 40408;
    const WHAT: &'static str = "compatibility";

    fn scoped(registry: &Registry) -> &Scoped<Level> {
        &registry.levels
    }

    fn scoped_mut(registry: &mut Registry) -> &mut Scoped<Level> {
        &mut registry.levels
    }
}

/// Which value a request is about: `/mode` or `/mode/{subject}` (and `/config` alike).
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    Global,
    Subject(&'a str),
}

/// A global value and the subjects' own.
#[derive(Debug)]
struct Scoped<T> {
    global: T,
    subjects: HashMap<String, T>,
}

impl<T: Copy> Scoped<T> {
    fn new(global: T) -> Scoped<T> {
        Scoped {
            global,
            subjects: HashMap::new(),
        }
    }

    /// The value that applies to `subject`: its own, else the global one.
    fn effective(&self, subject: &str) -> T {
        self.subjects.get(subject).copied().unwrap_or(self.global)
    }

    /// The value set at `scope`, if any; a subject without its own value has the global one
    /// when `default_to_global`.
    fn get(&self, scope: Scope<'_>, default_to_global: bool) -> Option<T> {
        match scope {
            Scope::Global => Some(self.global),
            Scope::Subject(subject) => self
                .subjects
                .get(subject)
                .copied()
                .or(default_to_global.then_some(self.global)),
        }
    }

    fn set(&mut self, scope: Scope<'_>, value: T) {
        match scope {
            Scope::Global => self.global = value,
            Scope::Subject(subject) => {
                self.subjects.insert(subject.to_owned(), value);
            }
        }
    }
}

/// `{FIELD: NAME}`.
fn field(name: &str, value: &str) -> Value {
    Value::Object(Map::from_iter([(name.to_owned(), Value::from(value))]))
}

fn read_setting<S: Setting>(
    registry: &Registry,
    scope: Scope<'_>,
    query: &HashMap<String, String>,
) -> Answer {
    match S::scoped(registry).get(scope, flag(query, "defaultToGlobal")) {
        Some(value) => Ok(Reply(field(S::GET_FIELD, value.name()))),
        None => {
            let Scope::Subject(subject) = scope else {
                unreachable!("the global value is always set")
            };
            Err(ApiError::not_found(
                S::NOT_CONFIGURED,
                format!(
                    "Subject '{subject}' does not have subject-level {} configured",
                    S::WHAT
                ),
            ))
        }
    }
}

fn write_setting<S: Setting>(
    registry: &mut Registry,
    scope: Scope<'_>,
    query: &HashMap<String, String>,
    body: &str,
) -> Answer {
    let value = S::from_body(body)?;
    S::check_put(registry, scope, value, flag(query, "force"))?;
    S::scoped_mut(registry).set(scope, value);
    Ok(Reply(field(S::PUT_FIELD, value.name())))
}

async fn get_global<S: Setting>(State(state): State<Shared>, Query(query): Params) -> Answer {
    read_setting::<S>(&state.lock().unwrap(), Scope::Global, &query)
}

async fn get_subject<S: Setting>(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(query): Params,
) -> Answer {
    read_setting::<S>(&state.lock().unwrap(), Scope::Subject(&subject), &query)
}

async fn put_global<S: Setting>(
    State(state): State<Shared>,
    Query(query): Params,
    body: String,
) -> Answer {
    write_setting::<S>(&mut state.lock().unwrap(), Scope::Global, &query, &body)
}

async fn put_subject<S: Setting>(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(query): Params,
    body: String,
) -> Answer {
    write_setting::<S>(
        &mut state.lock().unwrap(),
        Scope::Subject(&subject),
        &query,
        &body,
    )
}

async fn delete_mode(State(state): State<Shared>, Path(subject): Path<String>) -> Answer {
    let mut registry = state.lock().unwrap();
    match registry.modes.subjects.remove(&subject) {
        Some(mode) => Ok(Reply(field(Mode::PUT_FIELD, mode.name()))),
        None => Err(ApiError::subject_not_found(&subject)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call(
        registry: &ConfluentRegistry,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, String) {
        let mut request =
            reqwest::Client::new().request(method, format!("{}{path}", registry.url()));
        if let Some(body) = body {
            request = request
                .header("content-type", CONTENT_TYPE)
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, content_type)
    }

    fn schema(name: &str) -> String {
        json!({"type": "record", "name": name, "fields": [{"name": "a", "type": "long"}]})
            .to_string()
    }

    #[tokio::test]
    async fn readwrite_assigns_ids_and_refuses_chosen_ones() {
        use reqwest::Method;
        let r = ConfluentRegistry::start().await;
        let (status, body, content_type) = call(
            &r,
            Method::POST,
            "/subjects/s/versions",
            Some(json!({"schema": schema("x")})),
        )
        .await;
        assert_eq!((status, body["id"].as_u64()), (200, Some(1)));
        assert_eq!(content_type, CONTENT_TYPE);
        // The same schema again keeps its id and version.
        let (_, body, _) = call(
            &r,
            Method::POST,
            "/subjects/s/versions",
            Some(json!({"schema": schema("x")})),
        )
        .await;
        assert_eq!(body["id"], 1);
        assert_eq!(
            call(&r, Method::GET, "/subjects/s/versions", None).await.1,
            json!([1])
        );
        let (status, body, _) = call(
            &r,
            Method::POST,
            "/subjects/s/versions",
            Some(json!({"schema": schema("y"), "id": 1101})),
        )
        .await;
        assert_eq!((status, body["error_code"].as_u64()), (422, Some(42205)));
        let (status, body, _) = call(
            &r,
            Method::POST,
            "/subjects/s/versions",
            Some(json!({"schema": "{not json"})),
        )
        .await;
        assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)));
    }

    #[tokio::test]
    async fn import_mode_honours_ids_and_versions_and_refuses_overwrites() {
        use reqwest::Method;
        let r = ConfluentRegistry::start().await;
        call(
            &r,
            Method::POST,
            "/subjects/s/versions",
            Some(json!({"schema": schema("x")})),
        )
        .await;
        // A subject with versions needs force to go to IMPORT.
        let (status, body, _) =
            call(&r, Method::PUT, "/mode/s", Some(json!({"mode": "IMPORT"}))).await;
        assert_eq!((status, body["error_code"].as_u64()), (422, Some(42205)));
        let (status, _, _) = call(
            &r,
            Method::PUT,
            "/mode/s?force=true",
            Some(json!({"mode": "IMPORT"})),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body, _) = call(
            &r,
            Method::POST,
            "/subjects/s/versions",
            Some(json!({"schema": schema("y"), "id": 1101, "version": 1101})),
        )
        .await;
        assert_eq!((status, body["id"].as_u64()), (200, Some(1101)), "{body}");
        let (_, body, _) = call(&r, Method::GET, "/subjects/s/versions/1101", None).await;
        assert_eq!(body["id"], 1101);
        let (status, body, _) = call(
            &r,
            Method::POST,
            "/subjects/t/versions",
            Some(json!({"schema": schema("z"), "id": 1101})),
        )
        .await;
        assert_eq!(status, 422, "t is not in IMPORT mode: {body}");
        call(&r, Method::PUT, "/mode/t", Some(json!({"mode": "IMPORT"}))).await;
        let (status, body, _) = call(
            &r,
            Method::POST,
            "/subjects/t/versions",
            Some(json!({"schema": schema("z"), "id": 1101})),
        )
        .await;
        assert_eq!(
            (status, body["error_code"].as_u64()),
            (422, Some(42205)),
            "{body}"
        );
        let (_, body, _) = call(&r, Method::GET, "/schemas/ids/1101", None).await;
        assert_eq!(body["schema"], schema("y"));
    }

    #[tokio::test]
    async fn lookups_modes_configs_and_deletes_use_confluent_codes() {
        use reqwest::Method;
        let r = ConfluentRegistry::start().await;
        let missing = call(
            &r,
            Method::POST,
            "/subjects/s",
            Some(json!({"schema": schema("x")})),
        )
        .await;
        assert_eq!(
            (missing.0, missing.1["error_code"].as_u64()),
            (404, Some(40401))
        );
        call(
            &r,
            Method::POST,
            "/subjects/s/versions",
            Some(json!({"schema": schema("x")})),
        )
        .await;
        let other = call(
            &r,
            Method::POST,
            "/subjects/s",
            Some(json!({"schema": schema("y")})),
        )
        .await;
        assert_eq!(other.1["error_code"], 40403);
        let found = call(
            &r,
            Method::POST,
            "/subjects/s",
            Some(json!({"schema": schema("x")})),
        )
        .await;
        assert_eq!(
            (found.1["id"].as_u64(), found.1["version"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(
            call(&r, Method::GET, "/subjects/s/versions/9", None)
                .await
                .1["error_code"],
            40402
        );
        assert_eq!(
            call(&r, Method::GET, "/schemas/ids/9", None).await.1["error_code"],
            40403
        );
        assert_eq!(
            call(&r, Method::GET, "/mode/s", None).await.1["error_code"],
            40409
        );
        assert_eq!(
            call(&r, Method::GET, "/mode/s?defaultToGlobal=true", None)
                .await
                .1["mode"],
            "READWRITE"
        );
        assert_eq!(
            call(&r, Method::GET, "/config/s", None).await.1["error_code"],
            40408
        );
        assert_eq!(
            call(
                &r,
                Method::PUT,
                "/config/s",
                Some(json!({"compatibility": "SOMETIMES"}))
            )
            .await
            .1["error_code"],
            42203
        );
        call(
            &r,
            Method::PUT,
            "/config/s",
            Some(json!({"compatibility": "NONE"})),
        )
        .await;
        assert_eq!(
            call(&r, Method::GET, "/config/s", None).await.1["compatibilityLevel"],
            "NONE"
        );
        assert_eq!(
            call(&r, Method::DELETE, "/subjects/s?permanent=true", None)
                .await
                .1["error_code"],
            40405
        );
        assert_eq!(
            call(&r, Method::DELETE, "/subjects/s", None).await.1,
            json!([1])
        );
        assert_eq!(call(&r, Method::GET, "/subjects", None).await.1, json!([]));
        // Soft-deleted schemas are still readable by id; a permanent delete frees the id.
        assert_eq!(call(&r, Method::GET, "/schemas/ids/1", None).await.0, 200);
        assert_eq!(
            call(&r, Method::DELETE, "/subjects/s?permanent=true", None)
                .await
                .1,
            json!([1])
        );
        assert_eq!(call(&r, Method::GET, "/schemas/ids/1", None).await.0, 404);
        assert_eq!(call(&r, Method::GET, "/nowhere", None).await.0, 404);
    }
}
