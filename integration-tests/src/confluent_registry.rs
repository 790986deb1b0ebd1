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

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
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
    global_mode: String,
    modes: HashMap<String, String>,
    global_compatibility: String,
    compatibility: HashMap<String, String>,
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
            global_mode: "READWRITE".into(),
            modes: HashMap::new(),
            global_compatibility: "BACKWARD".into(),
            compatibility: HashMap::new(),
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
        .route("/mode", get(get_global_mode).put(put_global_mode))
        .route(
            "/mode/{subject}",
            get(get_mode).put(put_mode).delete(delete_mode),
        )
        .route("/config", get(get_global_config).put(put_global_config))
        .route("/config/{subject}", get(get_config).put(put_config))
        .fallback(|| async { error(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found") })
        .with_state(state)
}

fn answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    answer(StatusCode::OK, body)
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    answer(status, json!({ "error_code": code, "message": message }))
}

/// A refused request: what the parsing helpers return, turned into an error answer by the
/// handler.
#[derive(Debug)]
struct Refusal {
    code: u32,
    message: String,
}

impl Refusal {
    fn unprocessable(code: u32, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(StatusCode::UNPROCESSABLE_ENTITY, self.code, &self.message)
    }
}

fn subject_not_found(subject: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        40401,
        &format!("Subject '{subject}' not found."),
    )
}

fn not_permitted(message: &str) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, 42205, message)
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
fn schema_of(body: &Value) -> Result<String, Refusal> {
    let invalid = |why: &str| Refusal::unprocessable(42201, why);
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

fn parse_body(body: &str) -> Result<Value, Refusal> {
    serde_json::from_str(body)
        .map_err(|e| Refusal::unprocessable(42201, format!("Unrecognized request body: {e}")))
}

fn live(versions: &[Version]) -> impl Iterator<Item = &Version> {
    versions.iter().filter(|v| !v.deleted)
}

impl Registry {
    fn mode(&self, subject: &str) -> &str {
        self.modes.get(subject).unwrap_or(&self.global_mode)
    }

    fn has_live(&self, subject: &str) -> bool {
        self.subjects
            .get(subject)
            .is_some_and(|v| live(v).next().is_some())
    }

    /// Drops schemas no version refers to any more (after permanent deletes).
    fn collect_garbage(&mut self) {
        let used: Vec<u32> = self.subjects.values().flatten().map(|v| v.id).collect();
        self.schemas.retain(|id, _| used.contains(id));
    }
}

async fn list_subjects(State(state): State<Shared>) -> Response {
    let registry = state.lock().unwrap();
    let names: Vec<&String> = registry
        .subjects
        .iter()
        .filter(|(_, v)| live(v).next().is_some())
        .map(|(name, _)| name)
        .collect();
    ok(json!(names))
}

async fn list_versions(State(state): State<Shared>, Path(subject): Path<String>) -> Response {
    let registry = state.lock().unwrap();
    match registry.subjects.get(&subject) {
        Some(versions) if live(versions).next().is_some() => {
            ok(json!(live(versions).map(|v| v.version).collect::<Vec<_>>()))
        }
        _ => subject_not_found(&subject),
    }
}

fn version_body(registry: &Registry, subject: &str, v: &Version) -> Value {
    json!({
        "subject": subject,
        "version": v.version,
        "id": v.id,
        "schema": registry.schemas[&v.id],
    })
}

async fn get_version(
    State(state): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    let registry = state.lock().unwrap();
    let Some(versions) = registry
        .subjects
        .get(&subject)
        .filter(|v| live(v).next().is_some())
    else {
        return subject_not_found(&subject);
    };
    let found = if version == "latest" {
        live(versions).max_by_key(|v| v.version)
    } else {
        match version.parse::<u32>() {
            Ok(n) => live(versions).find(|v| v.version == n),
            Err(_) => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    42202,
                    &format!("The specified version '{version}' is not a valid version id."),
                )
            }
        }
    };
    match found {
        Some(v) => ok(version_body(&registry, &subject, v)),
        None => error(
            StatusCode::NOT_FOUND,
            40402,
            &format!("Version {version} not found."),
        ),
    }
}

async fn schema_by_id(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let registry = state.lock().unwrap();
    match id
        .parse::<u32>()
        .ok()
        .and_then(|id| registry.schemas.get(&id))
    {
        Some(text) => ok(json!({ "schema": text })),
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

async fn lookup(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    body: String,
) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let schema = match schema_of(&body) {
        Ok(schema) => schema,
        Err(refusal) => return refusal.into_response(),
    };
    let registry = state.lock().unwrap();
    let Some(versions) = registry
        .subjects
        .get(&subject)
        .filter(|v| live(v).next().is_some())
    else {
        return subject_not_found(&subject);
    };
    let found = live(versions).find(|v| same_schema(&registry.schemas[&v.id], &schema));
    match found {
        Some(v) => ok(version_body(&registry, &subject, v)),
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

async fn register(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    body: String,
) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let schema = match schema_of(&body) {
        Ok(schema) => schema,
        Err(refusal) => return refusal.into_response(),
    };
    let wanted_id = body["id"].as_u64().map(|v| v as u32);
    let wanted_version = body["version"].as_u64().map(|v| v as u32);
    let mut registry = state.lock().unwrap();
    let mode = registry.mode(&subject).to_owned();
    if mode == "READONLY" || mode == "READONLY_OVERRIDE" {
        return not_permitted(&format!("Subject {subject} is in read-only mode"));
    }
    let import = mode == "IMPORT";
    if wanted_id.is_some() && !import {
        return not_permitted(&format!(
            "Subject {subject} is not in import mode; a schema id can only be given in IMPORT mode"
        ));
    }
    // An identical schema already under the subject keeps its registration.
    if let Some(existing) = registry.subjects.get(&subject).and_then(|versions| {
        live(versions)
            .find(|v| same_schema(&registry.schemas[&v.id], &schema))
            .cloned()
    }) {
        if wanted_id.is_none_or(|id| id == existing.id) {
            return ok(json!({ "id": existing.id }));
        }
        return not_permitted(&format!(
            "Schema already registered under subject {subject} with id {}, not {}",
            existing.id,
            wanted_id.unwrap_or_default()
        ));
    }
    let id = match wanted_id {
        Some(id) => {
            if let Some(text) = registry.schemas.get(&id) {
                if !same_schema(text, &schema) {
                    return not_permitted(&format!(
                        "Overwrite new schema with id {id} is not permitted."
                    ));
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
                return not_permitted(&format!(
                    "Overwrite new schema with version {version} of subject {subject} is not permitted."
                ));
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
    ok(json!({ "id": id }))
}

async fn delete_subject(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(query): Params,
) -> Response {
    let permanent = query.get("permanent").is_some_and(|v| v == "true");
    let mut registry = state.lock().unwrap();
    let Some(versions) = registry.subjects.get_mut(&subject) else {
        return subject_not_found(&subject);
    };
    let any_live = live(versions).next().is_some();
    if permanent {
        if any_live {
            return error(
                StatusCode::NOT_FOUND,
                40405,
                &format!(
                    "Subject '{subject}' was not deleted first before being permanently deleted"
                ),
            );
        }
        let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
        registry.subjects.remove(&subject);
        registry.modes.remove(&subject);
        registry.compatibility.remove(&subject);
        registry.collect_garbage();
        return ok(json!(numbers));
    }
    if !any_live {
        return error(
            StatusCode::NOT_FOUND,
            40404,
            &format!("Subject '{subject}' was soft deleted."),
        );
    }
    let mut numbers = Vec::new();
    for v in versions.iter_mut().filter(|v| !v.deleted) {
        v.deleted = true;
        numbers.push(v.version);
    }
    ok(json!(numbers))
}

async fn delete_version(
    State(state): State<Shared>,
    Path((subject, version)): Path<(String, u32)>,
    Query(query): Params,
) -> Response {
    let permanent = query.get("permanent").is_some_and(|v| v == "true");
    let mut registry = state.lock().unwrap();
    let Some(versions) = registry.subjects.get_mut(&subject) else {
        return subject_not_found(&subject);
    };
    let Some(index) = versions.iter().position(|v| v.version == version) else {
        return error(
            StatusCode::NOT_FOUND,
            40402,
            &format!("Version {version} not found."),
        );
    };
    if permanent {
        if !versions[index].deleted {
            return error(
                StatusCode::NOT_FOUND,
                40407,
                &format!("Subject '{subject}' Version {version} was not deleted first before being permanently deleted"),
            );
        }
        versions.remove(index);
        if versions.is_empty() {
            registry.subjects.remove(&subject);
        }
        registry.collect_garbage();
    } else {
        if versions[index].deleted {
            return error(
                StatusCode::NOT_FOUND,
                40406,
                &format!("Subject '{subject}' Version {version} was soft deleted."),
            );
        }
        versions[index].deleted = true;
    }
    ok(json!(version))
}

fn mode_of(body: &str) -> Result<String, Refusal> {
    let body = parse_body(body)?;
    match body["mode"].as_str() {
        Some(mode @ ("READWRITE" | "READONLY" | "READONLY_OVERRIDE" | "IMPORT")) => {
            Ok(mode.to_owned())
        }
        _ => Err(Refusal::unprocessable(
            42204,
            "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT.",
        )),
    }
}

async fn get_global_mode(State(state): State<Shared>) -> Response {
    ok(json!({ "mode": state.lock().unwrap().global_mode }))
}

async fn put_global_mode(
    State(state): State<Shared>,
    Query(query): Params,
    body: String,
) -> Response {
    let mode = match mode_of(&body) {
        Ok(mode) => mode,
        Err(refusal) => return refusal.into_response(),
    };
    let mut registry = state.lock().unwrap();
    let force = query.get("force").is_some_and(|v| v == "true");
    let any_live = registry.subjects.keys().any(|s| registry.has_live(s));
    if mode == "IMPORT" && any_live && !force {
        return not_permitted("Cannot import since found existing subjects");
    }
    registry.global_mode = mode.clone();
    ok(json!({ "mode": mode }))
}

async fn get_mode(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(query): Params,
) -> Response {
    let registry = state.lock().unwrap();
    match registry.modes.get(&subject) {
        Some(mode) => ok(json!({ "mode": mode })),
        None if query.get("defaultToGlobal").is_some_and(|v| v == "true") => {
            ok(json!({ "mode": registry.global_mode }))
        }
        None => error(
            StatusCode::NOT_FOUND,
            40409,
            &format!("Subject '{subject}' does not have subject-level mode configured"),
        ),
    }
}

async fn put_mode(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(query): Params,
    body: String,
) -> Response {
    let mode = match mode_of(&body) {
        Ok(mode) => mode,
        Err(refusal) => return refusal.into_response(),
    };
    let mut registry = state.lock().unwrap();
    let force = query.get("force").is_some_and(|v| v == "true");
    if mode == "IMPORT" && registry.has_live(&subject) && !force {
        return not_permitted("Cannot import since found existing subjects");
    }
    registry.modes.insert(subject, mode.clone());
    ok(json!({ "mode": mode }))
}

async fn delete_mode(State(state): State<Shared>, Path(subject): Path<String>) -> Response {
    let mut registry = state.lock().unwrap();
    match registry.modes.remove(&subject) {
        Some(mode) => ok(json!({ "mode": mode })),
        None => subject_not_found(&subject),
    }
}

fn level_of(body: &str) -> Result<String, Refusal> {
    let body = parse_body(body)?;
    match body["compatibility"].as_str() {
        Some(
            level @ ("NONE"
            | "BACKWARD"
            | "BACKWARD_TRANSITIVE"
            | "FORWARD"
            | "FORWARD_TRANSITIVE"
            | "FULL"
            | "FULL_TRANSITIVE"),
        ) => Ok(level.to_owned()),
        _ => Err(Refusal::unprocessable(42203, "Invalid compatibility level")),
    }
}

async fn get_global_config(State(state): State<Shared>) -> Response {
    ok(json!({ "compatibilityLevel": state.lock().unwrap().global_compatibility }))
}

async fn put_global_config(State(state): State<Shared>, body: String) -> Response {
    let level = match level_of(&body) {
        Ok(level) => level,
        Err(refusal) => return refusal.into_response(),
    };
    state.lock().unwrap().global_compatibility = level.clone();
    ok(json!({ "compatibility": level }))
}

async fn get_config(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(query): Params,
) -> Response {
    let registry = state.lock().unwrap();
    match registry.compatibility.get(&subject) {
        Some(level) => ok(json!({ "compatibilityLevel": level })),
        None if query.get("defaultToGlobal").is_some_and(|v| v == "true") => {
            ok(json!({ "compatibilityLevel": registry.global_compatibility }))
        }
        None => error(
            StatusCode::NOT_FOUND,
            40408,
            &format!("Subject '{subject}' does not have subject-level compatibility configured"),
        ),
    }
}

async fn put_config(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    body: String,
) -> Response {
    let level = match level_of(&body) {
        Ok(level) => level,
        Err(refusal) => return refusal.into_response(),
    };
    state
        .lock()
        .unwrap()
        .compatibility
        .insert(subject, level.clone());
    ok(json!({ "compatibility": level }))
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
