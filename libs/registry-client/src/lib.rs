//! A client of the Confluent Schema Registry REST API (BRIEF §2).
//!
//! Every service that touches the registry uses this one client. Its errors separate what
//! callers must treat differently: [`RegistryError::NotFound`] (the registry answered that the
//! schema or subject does not exist: a poison message for the ingester, "run schema-sync" for
//! the loader) from [`RegistryError::Unavailable`] (connection refused, timeout, 5xx:
//! transient, retry) and [`RegistryError::Protocol`] (an answer that is not the API's).

use serde::Deserialize;
use std::time::Duration;

pub mod admin;

/// The registry's media type; Confluent clients send it as `Accept` and `Content-Type`.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema registry URL `{url}` is invalid: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{what} not found in the schema registry (error code {code})")]
    NotFound { what: String, code: i64 },
    #[error("schema registry unavailable: {reason}")]
    Unavailable { reason: String },
    #[error("schema registry refused the request: HTTP {status}, error code {code}: {message}")]
    Rejected {
        status: u16,
        code: i64,
        message: String,
    },
    #[error("unexpected answer from the schema registry: {reason}")]
    Protocol { reason: String },
}

impl RegistryError {
    /// Worth retrying: the registry may answer later.
    pub fn is_transient(&self) -> bool {
        matches!(self, RegistryError::Unavailable { .. })
    }
}

/// A schema registered under a subject.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Registered {
    pub id: u32,
    pub version: u32,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error_code: Option<i64>,
    message: Option<String>,
}

/// A registry client for one base URL (which may carry a path, e.g. Apicurio's
/// `/apis/ccompat/v7`).
#[derive(Debug, Clone)]
pub struct RegistryClient {
    base: String,
    http: reqwest::Client,
}

impl RegistryClient {
    /// `timeout` bounds every request, connection included.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, RegistryError> {
        let parsed = url::Url::parse(base_url).map_err(|e| RegistryError::InvalidUrl {
            url: base_url.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(RegistryError::InvalidUrl {
                url: base_url.to_owned(),
                reason: "use http:// or https://".into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| RegistryError::InvalidUrl {
                url: base_url.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and returns the body of a 2xx answer; maps everything else to a
    /// [`RegistryError`]. `what` names the thing asked for, for NotFound messages.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let response = request
            .header(reqwest::header::ACCEPT, CONTENT_TYPE)
            .send()
            .await
            .map_err(|e| RegistryError::Unavailable {
                reason: describe(&e),
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| RegistryError::Unavailable {
                reason: describe(&e),
            })?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        let code = parsed
            .as_ref()
            .and_then(|b| b.error_code)
            .unwrap_or(i64::from(status.as_u16()));
        let message = parsed
            .and_then(|b| b.message)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        if status.is_server_error() {
            return Err(RegistryError::Unavailable {
                reason: format!("HTTP {status}: {message}"),
            });
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(RegistryError::NotFound {
                what: what.to_owned(),
                code,
            });
        }
        Err(RegistryError::Rejected {
            status: status.as_u16(),
            code,
            message,
        })
    }

    /// The schema string registered under `id` (`GET /schemas/ids/{id}`).
    pub async fn get_schema(&self, id: u32) -> Result<String, RegistryError> {
        #[derive(Deserialize)]
        struct SchemaBody {
            schema: String,
        }
        let body = self
            .send(
                self.http.get(self.url(&format!("/schemas/ids/{id}"))),
                &format!("schema id {id}"),
            )
            .await?;
        let parsed: SchemaBody =
            serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                reason: format!("GET /schemas/ids/{id}: {e}"),
            })?;
        Ok(parsed.schema)
    }

    /// The id and version of `schema` under `subject` (`POST /subjects/{subject}`), or `None`
    /// when the subject or the schema under it does not exist.
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<Option<Registered>, RegistryError> {
        let request = self
            .http
            .post(self.url(&format!("/subjects/{}", encode_segment(subject))))
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(serde_json::json!({ "schema": schema }).to_string());
        match self
            .send(request, &format!("schema under subject {subject}"))
            .await
        {
            Ok(body) => {
                serde_json::from_slice(&body)
                    .map(Some)
                    .map_err(|e| RegistryError::Protocol {
                        reason: format!("POST /subjects/{subject}: {e}"),
                    })
            }
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

/// Percent-encodes a path segment (subject names may hold characters URLs reserve).
pub(crate) fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use axum::Router;

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}/apis/ccompat/v7")
    }

    fn client(url: &str) -> RegistryClient {
        RegistryClient::new(url, Duration::from_secs(2)).unwrap()
    }

    #[tokio::test]
    async fn schemas_are_read_by_id_under_a_base_path() {
        let url = serve(Router::new().route(
            "/apis/ccompat/v7/schemas/ids/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<u32>| async move {
                    if id == 1101 {
                        (
                            StatusCode::OK,
                            r#"{"schema":"{\"type\":\"long\"}"}"#.to_owned(),
                        )
                    } else {
                        (
                            StatusCode::NOT_FOUND,
                            r#"{"error_code":40403,"message":"Schema not found"}"#.to_owned(),
                        )
                    }
                },
            ),
        ))
        .await;
        let client = client(&url);
        assert_eq!(client.get_schema(1101).await.unwrap(), r#"{"type":"long"}"#);
        let err = client.get_schema(7).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::NotFound { code: 40403, .. }),
            "{err}"
        );
        assert!(!err.is_transient());
    }

    #[tokio::test]
    async fn server_errors_and_refused_connections_are_transient() {
        let url = serve(Router::new().route(
            "/apis/ccompat/v7/schemas/ids/{id}",
            get(|| async {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    r#"{"error_code":50001,"message":"store error"}"#,
                )
            }),
        ))
        .await;
        let err = client(&url).get_schema(1).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("store error"), "{err}");
        let err = client("http://127.0.0.1:1")
            .get_schema(1)
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[tokio::test]
    async fn garbage_and_slow_answers_are_errors_not_hangs() {
        let url = serve(
            Router::new()
                .route(
                    "/apis/ccompat/v7/schemas/ids/1",
                    get(|| async { "<html>proxy error</html>" }),
                )
                .route(
                    "/apis/ccompat/v7/schemas/ids/2",
                    get(|| async {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        "{}"
                    }),
                ),
        )
        .await;
        let client = client(&url);
        assert!(matches!(
            client.get_schema(1).await.unwrap_err(),
            RegistryError::Protocol { .. }
        ));
        let started = std::time::Instant::now();
        assert!(client.get_schema(2).await.unwrap_err().is_transient());
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn lookup_maps_missing_subjects_and_schemas_to_none() {
        let url = serve(Router::new().route(
            "/apis/ccompat/v7/subjects/{subject}",
            post(
                |axum::extract::Path(subject): axum::extract::Path<String>| async move {
                    match subject.as_str() {
                        "alert-packet" => (
                            StatusCode::OK,
                            r#"{"subject":"alert-packet","id":1101,"version":3,"schema":"x"}"#,
                        ),
                        "other" => (
                            StatusCode::NOT_FOUND,
                            r#"{"error_code":40403,"message":"Schema not found"}"#,
                        ),
                        _ => (
                            StatusCode::NOT_FOUND,
                            r#"{"error_code":40401,"message":"Subject not found"}"#,
                        ),
                    }
                },
            ),
        ))
        .await;
        let client = client(&url);
        assert_eq!(
            client.lookup("alert-packet", "x").await.unwrap(),
            Some(Registered {
                id: 1101,
                version: 3
            })
        );
        assert_eq!(client.lookup("other", "x").await.unwrap(), None);
        assert_eq!(client.lookup("missing", "x").await.unwrap(), None);
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(RegistryClient::new("registry:8081", Duration::from_secs(1)).is_err());
        assert!(RegistryClient::new("ftp://registry", Duration::from_secs(1)).is_err());
    }
}
