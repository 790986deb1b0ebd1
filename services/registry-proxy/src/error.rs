//! Every error the proxy answers itself, and the one place that maps them to HTTP.
//!
//! Bodies are Confluent-shaped (`{"error_code": <code>, "message": "..."}`) with the registry's
//! content type, so registry clients report them like the registry's own errors.

use crate::path::PathError;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// The content type of Confluent registry responses.
pub const CONFLUENT_JSON: &str = "application/vnd.schemaregistry.v1+json";

/// Why the proxy answered instead of the upstream.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProxyError {
    #[error("method {0} is not allowed: this schema registry endpoint is read-only (GET, HEAD)")]
    MethodNotAllowed(Method),
    #[error("a {0} request may not carry a body")]
    BodyNotAllowed(Method),
    #[error("invalid request path: {0}")]
    BadPath(#[from] PathError),
    #[error("not found: this proxy serves the schema registry under {0}")]
    OutsidePrefix(String),
    #[error("the schema registry is unreachable: {0}")]
    UpstreamUnreachable(String),
    #[error("the schema registry did not answer within {0:?}")]
    UpstreamTimeout(Duration),
    #[error("the schema registry's response is larger than {0} bytes")]
    UpstreamTooLarge(usize),
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::BodyNotAllowed(_) | ProxyError::BadPath(_) => StatusCode::BAD_REQUEST,
            ProxyError::OutsidePrefix(_) => StatusCode::NOT_FOUND,
            ProxyError::UpstreamUnreachable(_) | ProxyError::UpstreamTooLarge(_) => {
                StatusCode::BAD_GATEWAY
            }
            ProxyError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// A Confluent-shaped error body: `error_code` is the HTTP status, as Confluent does for errors
/// that are not its own 4xxxx/5xxxx codes.
pub fn confluent_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error_code": status.as_u16(), "message": message });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(CONFLUENT_JSON),
        )],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let mut response = confluent_error(self.status(), &self.to_string());
        if let ProxyError::MethodNotAllowed(_) = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn parts(error: ProxyError) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn method_not_allowed_names_the_allowed_methods() {
        let (status, headers, body) = parts(ProxyError::MethodNotAllowed(Method::POST)).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "GET, HEAD");
        assert_eq!(headers[header::CONTENT_TYPE], CONFLUENT_JSON);
        assert_eq!(body["error_code"], 405);
        assert!(body["message"].as_str().unwrap().contains("read-only"));
    }

    #[tokio::test]
    async fn upstream_failures_are_gateway_errors() {
        let (status, headers, body) =
            parts(ProxyError::UpstreamUnreachable("connection refused".into())).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(headers.get(header::ALLOW).is_none());
        assert_eq!(body["error_code"], 502);
        let (status, _, body) = parts(ProxyError::UpstreamTimeout(Duration::from_secs(2))).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(body["error_code"], 504);
        let (status, _, _) = parts(ProxyError::BadPath(PathError::EncodedSeparator)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
