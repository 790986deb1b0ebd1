//! The Herald-compatible API's errors and the one place they become responses.
//!
//! Herald answers errors as `text/plain` (a DALI service's habit), unlike the `/v1` routes'
//! JSON `detail`, so its routes have their own error type; the words are Herald's, so clients
//! written against Herald see the same messages.

use crate::archive::ArchiveError;
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a Herald-style request failed.
#[derive(Debug, thiserror::Error)]
pub enum HeraldError {
    /// No `ID` parameter: FastAPI's validation error, a 422 in FastAPI's JSON.
    #[error("Field required")]
    MissingId,
    #[error("Invalid parameter '{name}' in query string '?{query}'")]
    UnknownParameter { name: String, query: String },
    #[error("Non-LSST alert ID '{0}'")]
    NonLsstId(String),
    #[error("Invalid alert ID format in '{0}'")]
    MalformedId(String),
    #[error("Invalid response format '{0}'; accepted formats are application/fits, application/json, fits, json")]
    UnsupportedFormat(String),
    #[error("No data found for alert ID '{0}'")]
    AlertNotFound(String),
    #[error("Schema {0} not found")]
    SchemaNotFound(u32),
    /// The store failed; the cause is logged, the client is told to retry.
    #[error("the alert archive's object store is unavailable; retry later")]
    Unavailable,
    /// The archive holds something that cannot be served (Herald's `CorruptAlertError`).
    #[error("Alert {alert_id}: {detail}")]
    Corrupt { alert_id: u64, detail: String },
}

impl HeraldError {
    /// Maps an archive error of the alert `alert_id`.
    pub fn from_archive(alert_id: u64, error: ArchiveError) -> Self {
        match error {
            ArchiveError::AlertNotFound => HeraldError::AlertNotFound(alert_id.to_string()),
            ArchiveError::SchemaNotFound => HeraldError::Corrupt {
                alert_id,
                detail: "its schema is not in the archive".into(),
            },
            ArchiveError::AlertSchemaMissing { schema_id, .. } => {
                HeraldError::SchemaNotFound(schema_id)
            }
            ArchiveError::Store { key, source } => {
                tracing::error!(%key, error = %source, "object store failed");
                HeraldError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "archive holds an unreadable object");
                HeraldError::Corrupt {
                    alert_id,
                    detail: other.to_string(),
                }
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            HeraldError::MissingId => StatusCode::UNPROCESSABLE_ENTITY,
            HeraldError::UnknownParameter { .. }
            | HeraldError::NonLsstId(_)
            | HeraldError::MalformedId(_) => StatusCode::BAD_REQUEST,
            HeraldError::UnsupportedFormat(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HeraldError::AlertNotFound(_) | HeraldError::SchemaNotFound(_) => StatusCode::NOT_FOUND,
            HeraldError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            HeraldError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for HeraldError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let HeraldError::MissingId = self {
            // What FastAPI (pydantic 2) answers for a missing required query parameter.
            let body = r#"{"detail":[{"type":"missing","loc":["query","ID"],"msg":"Field required","input":null}]}"#;
            return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.to_string(),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}
