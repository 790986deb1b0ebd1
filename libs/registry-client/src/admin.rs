//! The registry's write and administration calls: what `schema-sync` needs to put schemas in
//! place (register, list, modes, compatibility, deletes).
//!
//! Read paths that every service uses ([`RegistryClient::get_schema`],
//! [`RegistryClient::lookup`]) live in the crate root; these are kept apart because only the
//! job that owns the registry's contents should call them.
//!
//! Confluent answers "not configured" for a subject's own mode or compatibility level with a
//! 404 (40408/40409); [`RegistryClient::get_mode`] and [`RegistryClient::get_config`] turn that
//! into `None` so a caller can restore exactly what was there before.

use crate::{encode_segment, RegistryClient, RegistryError, CONTENT_TYPE};
use serde::Deserialize;

/// One version of a subject (`GET /subjects/{subject}/versions/{version}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    /// The registry's schema string (JSON text).
    pub schema: String,
}

impl RegistryClient {
    fn protocol(what: &str, error: serde_json::Error) -> RegistryError {
        RegistryError::Protocol {
            reason: format!("{what}: {error}"),
        }
    }

    fn scoped(kind: &str, subject: Option<&str>) -> String {
        match subject {
            Some(subject) => format!("/{kind}/{}", encode_segment(subject)),
            None => format!("/{kind}"),
        }
    }

    /// Registers `schema` under `subject` (`POST /subjects/{subject}/versions`) and returns the
    /// id the registry gave it. `id` and `version` are only honoured by a registry whose subject
    /// is in IMPORT mode; callers that ask for an id must check the answer, because some
    /// registries (Apicurio 3.x) silently ignore it.
    pub async fn register(
        &self,
        subject: &str,
        schema: &str,
        id: Option<u32>,
        version: Option<u32>,
    ) -> Result<u32, RegistryError> {
        let mut body = serde_json::json!({ "schema": schema });
        if let Some(id) = id {
            body["id"] = id.into();
        }
        if let Some(version) = version {
            body["version"] = version.into();
        }
        let path = format!("/subjects/{}/versions", encode_segment(subject));
        let request = self
            .http
            .post(self.url(&path))
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body.to_string());
        let answer = self.send(request, &format!("subject {subject}")).await?;
        #[derive(Deserialize)]
        struct Id {
            id: u32,
        }
        let parsed: Id = serde_json::from_slice(&answer)
            .map_err(|e| Self::protocol(&format!("POST {path}"), e))?;
        Ok(parsed.id)
    }

    /// Every subject (`GET /subjects`).
    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let answer = self
            .send(self.http.get(self.url("/subjects")), "subjects")
            .await?;
        serde_json::from_slice(&answer).map_err(|e| Self::protocol("GET /subjects", e))
    }

    /// The version numbers under `subject` (`GET /subjects/{subject}/versions`); a subject that
    /// does not exist is [`RegistryError::NotFound`] (40401).
    pub async fn subject_versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let path = format!("/subjects/{}/versions", encode_segment(subject));
        let answer = self
            .send(
                self.http.get(self.url(&path)),
                &format!("subject {subject}"),
            )
            .await?;
        serde_json::from_slice(&answer).map_err(|e| Self::protocol(&format!("GET {path}"), e))
    }

    /// One version of `subject` with its id and schema text.
    pub async fn subject_version(
        &self,
        subject: &str,
        version: u32,
    ) -> Result<SubjectVersion, RegistryError> {
        let path = format!("/subjects/{}/versions/{version}", encode_segment(subject));
        let answer = self
            .send(
                self.http.get(self.url(&path)),
                &format!("version {version} of subject {subject}"),
            )
            .await?;
        serde_json::from_slice(&answer).map_err(|e| Self::protocol(&format!("GET {path}"), e))
    }

    /// The mode (`READWRITE`, `READONLY`, `IMPORT`, ...) of `subject`, or the global mode when
    /// `subject` is `None`; `None` when the subject has no mode of its own.
    pub async fn get_mode(&self, subject: Option<&str>) -> Result<Option<String>, RegistryError> {
        let path = Self::scoped("mode", subject);
        match self.send(self.http.get(self.url(&path)), "mode").await {
            Ok(answer) => {
                #[derive(Deserialize)]
                struct Mode {
                    mode: String,
                }
                let parsed: Mode = serde_json::from_slice(&answer)
                    .map_err(|e| Self::protocol(&format!("GET {path}"), e))?;
                Ok(Some(parsed.mode))
            }
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Sets the mode of `subject` (or the global mode). `force` lets Confluent switch a
    /// non-empty subject to IMPORT (otherwise refused with 42205).
    pub async fn set_mode(
        &self,
        subject: Option<&str>,
        mode: &str,
        force: bool,
    ) -> Result<(), RegistryError> {
        let mut path = Self::scoped("mode", subject);
        if force {
            path.push_str("?force=true");
        }
        let request = self
            .http
            .put(self.url(&path))
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(serde_json::json!({ "mode": mode }).to_string());
        self.send(request, "mode").await.map(drop)
    }

    /// Removes the subject's own mode, so the global mode applies again.
    pub async fn delete_mode(&self, subject: &str) -> Result<(), RegistryError> {
        let path = Self::scoped("mode", Some(subject));
        match self.send(self.http.delete(self.url(&path)), "mode").await {
            Ok(_) | Err(RegistryError::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// The compatibility level of `subject` (or the global one), `None` when the subject has no
    /// level of its own.
    pub async fn get_config(&self, subject: Option<&str>) -> Result<Option<String>, RegistryError> {
        let path = Self::scoped("config", subject);
        match self
            .send(self.http.get(self.url(&path)), "compatibility config")
            .await
        {
            Ok(answer) => {
                // Confluent answers `compatibilityLevel`; the PUT echo uses `compatibility`.
                #[derive(Deserialize)]
                struct Config {
                    #[serde(rename = "compatibilityLevel", alias = "compatibility")]
                    level: String,
                }
                let parsed: Config = serde_json::from_slice(&answer)
                    .map_err(|e| Self::protocol(&format!("GET {path}"), e))?;
                Ok(Some(parsed.level))
            }
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Sets the compatibility level (`NONE`, `BACKWARD`, ...) of `subject` or globally.
    pub async fn set_config(
        &self,
        subject: Option<&str>,
        level: &str,
    ) -> Result<(), RegistryError> {
        let path = Self::scoped("config", subject);
        let request = self
            .http
            .put(self.url(&path))
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(serde_json::json!({ "compatibility": level }).to_string());
        self.send(request, "compatibility config").await.map(drop)
    }

    /// Deletes a subject (soft, or `permanent` after a soft delete) and returns the versions
    /// it held.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let mut path = format!("/subjects/{}", encode_segment(subject));
        if permanent {
            path.push_str("?permanent=true");
        }
        let answer = self
            .send(
                self.http.delete(self.url(&path)),
                &format!("subject {subject}"),
            )
            .await?;
        serde_json::from_slice(&answer).map_err(|e| Self::protocol(&format!("DELETE {path}"), e))
    }

    /// Deletes one version of a subject (soft, or `permanent` after a soft delete).
    pub async fn delete_version(
        &self,
        subject: &str,
        version: u32,
        permanent: bool,
    ) -> Result<(), RegistryError> {
        let mut path = format!("/subjects/{}/versions/{version}", encode_segment(subject));
        if permanent {
            path.push_str("?permanent=true");
        }
        self.send(
            self.http.delete(self.url(&path)),
            &format!("version {version} of subject {subject}"),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// What the test server saw: method, path with query, and body.
    type Seen = Arc<Mutex<Vec<String>>>;

    async fn serve(router: Router) -> RegistryClient {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        RegistryClient::new(
            &format!("http://{address}/apis/ccompat/v7"),
            Duration::from_secs(2),
        )
        .unwrap()
    }

    fn not_found(code: i64) -> (StatusCode, String) {
        (
            StatusCode::NOT_FOUND,
            format!(r#"{{"error_code":{code},"message":"not found"}}"#),
        )
    }

    #[tokio::test]
    async fn register_sends_the_schema_and_the_requested_id_and_version() {
        let seen: Seen = Arc::default();
        let router = Router::new()
            .route(
                "/apis/ccompat/v7/subjects/{subject}/versions",
                post(
                    |State(seen): State<Seen>,
                     Path(subject): Path<String>,
                     headers: HeaderMap,
                     body: String| async move {
                        seen.lock().unwrap().push(format!(
                            "{subject}\t{}\t{body}",
                            headers["content-type"].to_str().unwrap()
                        ));
                        if subject == "broken" {
                            return (
                                StatusCode::UNPROCESSABLE_ENTITY,
                                r#"{"error_code":42201,"message":"Invalid schema"}"#.to_owned(),
                            );
                        }
                        (StatusCode::OK, r#"{"id":1101}"#.to_owned())
                    },
                ),
            )
            .with_state(seen.clone());
        let client = serve(router).await;
        let id = client
            .register("alert packet", r#"{"type":"long"}"#, Some(1101), Some(1101))
            .await
            .unwrap();
        assert_eq!(id, 1101);
        client
            .register("plain", r#"{"type":"long"}"#, None, None)
            .await
            .unwrap();
        let err = client
            .register("broken", "x", None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::Rejected {
                    code: 42201,
                    status: 422,
                    ..
                }
            ),
            "{err}"
        );
        let seen = seen.lock().unwrap();
        let fields: Vec<&str> = seen[0].split('\t').collect();
        assert_eq!(fields[..2], ["alert packet", CONTENT_TYPE]);
        let first: serde_json::Value = serde_json::from_str(fields[2]).unwrap();
        assert_eq!(first["id"], 1101);
        assert_eq!(first["version"], 1101);
        assert_eq!(first["schema"], r#"{"type":"long"}"#);
        assert!(!seen[1].contains("\"id\""), "{}", seen[1]);
    }

    #[tokio::test]
    async fn subjects_versions_and_missing_subjects() {
        let router = Router::new()
            .route(
                "/apis/ccompat/v7/subjects",
                get(|| async { r#"["alert-packet","other"]"# }),
            )
            .route(
                "/apis/ccompat/v7/subjects/{subject}/versions",
                get(|Path(subject): Path<String>| async move {
                    if subject == "alert-packet" {
                        (StatusCode::OK, "[1,2]".to_owned())
                    } else {
                        not_found(40401)
                    }
                }),
            )
            .route(
                "/apis/ccompat/v7/subjects/{subject}/versions/{version}",
                get(|Path((subject, version)): Path<(String, u32)>| async move {
                    if version == 2 {
                        (
                            StatusCode::OK,
                            format!(
                                r#"{{"subject":"{subject}","version":2,"id":7,"schema":"\"long\""}}"#
                            ),
                        )
                    } else if version == 3 {
                        (StatusCode::OK, r#"{"unexpected":true}"#.to_owned())
                    } else {
                        not_found(40402)
                    }
                }),
            );
        let client = serve(router).await;
        assert_eq!(client.subjects().await.unwrap(), ["alert-packet", "other"]);
        assert_eq!(
            client.subject_versions("alert-packet").await.unwrap(),
            [1, 2]
        );
        assert!(matches!(
            client.subject_versions("missing").await.unwrap_err(),
            RegistryError::NotFound { code: 40401, .. }
        ));
        assert_eq!(
            client.subject_version("alert-packet", 2).await.unwrap(),
            SubjectVersion {
                subject: "alert-packet".into(),
                version: 2,
                id: 7,
                schema: "\"long\"".into()
            }
        );
        assert!(matches!(
            client.subject_version("alert-packet", 1).await.unwrap_err(),
            RegistryError::NotFound { code: 40402, .. }
        ));
        assert!(matches!(
            client.subject_version("alert-packet", 3).await.unwrap_err(),
            RegistryError::Protocol { .. }
        ));
    }

    #[tokio::test]
    async fn modes_and_configs_round_trip_and_unset_is_none() {
        let seen: Seen = Arc::default();
        let record = |seen: &Seen, line: String| seen.lock().unwrap().push(line);
        let router = Router::new()
            .route(
                "/apis/ccompat/v7/mode/{subject}",
                get(|Path(subject): Path<String>| async move {
                    match subject.as_str() {
                        "imported" => (StatusCode::OK, r#"{"mode":"IMPORT"}"#.to_owned()),
                        _ => not_found(40409),
                    }
                })
                .put(
                    move |State(seen): State<Seen>,
                          Path(subject): Path<String>,
                          Query(query): Query<HashMap<String, String>>,
                          body: String| async move {
                        record(&seen, format!("PUT mode {subject} {query:?} {body}"));
                        body
                    },
                )
                .delete(
                    |State(seen): State<Seen>, Path(subject): Path<String>| async move {
                        seen.lock().unwrap().push(format!("DELETE mode {subject}"));
                        r#"{"mode":"READWRITE"}"#
                    },
                ),
            )
            .route(
                "/apis/ccompat/v7/mode",
                get(|| async { r#"{"mode":"READWRITE"}"# }),
            )
            .route(
                "/apis/ccompat/v7/config",
                get(|| async { r#"{"compatibilityLevel":"BACKWARD"}"# }),
            )
            .route(
                "/apis/ccompat/v7/config/{subject}",
                get(|Path(subject): Path<String>| async move {
                    match subject.as_str() {
                        "alert-packet" => {
                            (StatusCode::OK, r#"{"compatibilityLevel":"NONE"}"#.to_owned())
                        }
                        _ => not_found(40408),
                    }
                })
                .put(
                    |State(seen): State<Seen>, Path(subject): Path<String>, body: String| async move {
                        seen.lock().unwrap().push(format!("PUT config {subject} {body}"));
                        Json(serde_json::from_str::<serde_json::Value>(&body).unwrap())
                    },
                ),
            )
            .with_state(seen.clone());
        let client = serve(router).await;
        assert_eq!(
            client.get_mode(None).await.unwrap().as_deref(),
            Some("READWRITE")
        );
        assert_eq!(
            client.get_mode(Some("imported")).await.unwrap().as_deref(),
            Some("IMPORT")
        );
        assert_eq!(client.get_mode(Some("plain")).await.unwrap(), None);
        client.set_mode(Some("a/b"), "IMPORT", true).await.unwrap();
        client
            .set_mode(Some("c"), "READWRITE", false)
            .await
            .unwrap();
        client.delete_mode("c").await.unwrap();
        assert_eq!(
            client.get_config(None).await.unwrap().as_deref(),
            Some("BACKWARD")
        );
        assert_eq!(
            client
                .get_config(Some("alert-packet"))
                .await
                .unwrap()
                .as_deref(),
            Some("NONE")
        );
        assert_eq!(client.get_config(Some("other")).await.unwrap(), None);
        client.set_config(Some("other"), "NONE").await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(
            *seen,
            [
                r#"PUT mode a/b {"force": "true"} {"mode":"IMPORT"}"#,
                r#"PUT mode c {} {"mode":"READWRITE"}"#,
                "DELETE mode c",
                r#"PUT config other {"compatibility":"NONE"}"#,
            ]
        );
    }

    #[tokio::test]
    async fn deletes_are_soft_unless_permanent() {
        let seen: Seen = Arc::default();
        let router = Router::new()
            .route(
                "/apis/ccompat/v7/subjects/{subject}",
                axum::routing::delete(
                    |State(seen): State<Seen>,
                     Path(subject): Path<String>,
                     Query(query): Query<HashMap<String, String>>| async move {
                        seen.lock().unwrap().push(format!("{subject} {query:?}"));
                        if subject == "missing" {
                            return not_found(40401);
                        }
                        (StatusCode::OK, "[1,2]".to_owned())
                    },
                ),
            )
            .route(
                "/apis/ccompat/v7/subjects/{subject}/versions/{version}",
                axum::routing::delete(
                    |State(seen): State<Seen>,
                     Path((subject, version)): Path<(String, u32)>,
                     Query(query): Query<HashMap<String, String>>| async move {
                        seen.lock()
                            .unwrap()
                            .push(format!("{subject} v{version} {query:?}"));
                        version.to_string()
                    },
                ),
            )
            .with_state(seen.clone());
        let client = serve(router).await;
        assert_eq!(client.delete_subject("s", false).await.unwrap(), [1, 2]);
        assert_eq!(client.delete_subject("s", true).await.unwrap(), [1, 2]);
        assert!(matches!(
            client.delete_subject("missing", false).await.unwrap_err(),
            RegistryError::NotFound { code: 40401, .. }
        ));
        client.delete_version("s", 2, false).await.unwrap();
        client.delete_version("s", 2, true).await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(
            *seen,
            [
                "s {}",
                r#"s {"permanent": "true"}"#,
                "missing {}",
                "s v2 {}",
                r#"s v2 {"permanent": "true"}"#,
            ]
        );
    }
}
