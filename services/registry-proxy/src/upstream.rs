//! The client side: one GET to the registry, with a deadline, read into memory.
//!
//! Only the normalised path, the query and the client's `Accept` header are forwarded; the
//! request is built from scratch, so method-override, hop-by-hop and any other client headers
//! never reach the registry. `Accept` matters: a registry may answer `application/json` unless
//! asked for `application/vnd.schemaregistry.v1+json`, and the client must see what it asked for.

use crate::error::ProxyError;
use crate::settings::ProxyConfig;
use axum::http::{header, HeaderValue, StatusCode};
use bytes::{Bytes, BytesMut};
use std::time::{Duration, Instant};

/// Registry responses are small JSON documents; anything bigger is refused, not buffered.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// What the registry answered.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

/// The registry client.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: reqwest::Client,
    base: String,
    timeout: Duration,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the upstream HTTP client: {0}")]
pub struct ClientBuildError(#[from] reqwest::Error);

impl Upstream {
    pub fn new(config: &ProxyConfig) -> Result<Self, ClientBuildError> {
        let mut builder = reqwest::Client::builder()
            // A proxy in the environment must not silently sit between us and the registry.
            .no_proxy()
            // Redirects would make us fetch a URL the client never asked for.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.upstream_timeout)
            .timeout(config.upstream_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(30));
        if let Some(pem) = &config.upstream_ca_pem {
            builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem)?);
        }
        Ok(Self {
            client: builder.build()?,
            base: config.upstream_base.clone(),
            timeout: config.upstream_timeout,
        })
    }

    /// The base URL requests are appended to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs `base + path_and_query`. Upstream HTTP errors are responses, not errors; only a
    /// registry that cannot be reached, is too slow or sends too much is an error.
    pub async fn get(
        &self,
        path_and_query: &str,
        accept: Option<&HeaderValue>,
    ) -> Result<(UpstreamResponse, Duration), (ProxyError, Duration)> {
        let started = Instant::now();
        let result = self.fetch(path_and_query, accept).await;
        let elapsed = started.elapsed();
        result.map(|r| (r, elapsed)).map_err(|e| (e, elapsed))
    }

    async fn fetch(
        &self,
        path_and_query: &str,
        accept: Option<&HeaderValue>,
    ) -> Result<UpstreamResponse, ProxyError> {
        let url = format!("{}{}", self.base, path_and_query);
        let mut request = self.client.get(&url);
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept.clone());
        }
        let mut response = request.send().await.map_err(|e| self.classify(e))?;
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(ProxyError::UpstreamTooLarge(MAX_RESPONSE_BYTES));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ProxyError::UpstreamTooLarge(MAX_RESPONSE_BYTES));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(UpstreamResponse {
            status,
            content_type,
            body: body.freeze(),
        })
    }

    fn classify(&self, error: reqwest::Error) -> ProxyError {
        if error.is_timeout() {
            ProxyError::UpstreamTimeout(self.timeout)
        } else {
            // The full chain says "connection refused", "dns error", "certificate ...".
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            // Do not echo the internal URL to the internet.
            ProxyError::UpstreamUnreachable(message.replace(&self.base, "<upstream>"))
        }
    }
}
