//! The request path: refuse writes, normalise, strip the prefix, then answer from a cache or
//! from the registry.

use crate::cache::{self, CacheKey, ResponseCache, Stored};
use crate::error::ProxyError;
use crate::metrics::Metrics;
use crate::path::{NormalPath, PathPrefix};
use crate::settings::ProxyConfig;
use crate::upstream::{Upstream, UpstreamResponse};
use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// `Cache-Control` of schema-by-id responses: an id never changes meaning.
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// Query parameters that do not change what an id means (`format` picks a rendering; `subject`
/// a context), so answers carrying only these stay immutable. Anything else (`fetchMaxId`
/// adds the current maximum id) makes the request an ordinary pass-through.
const IMMUTABLE_QUERY_KEYS: &[&str] = &["subject", "format"];

/// Route classes, the `route` label of the request metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// `GET /schemas/ids/{id}` and `/schemas/ids/{id}/schema`: immutable, cached forever.
    SchemaById,
    Schemas,
    Subjects,
    Config,
    Mode,
    Other,
    /// A refused write (any method but GET and HEAD).
    Denied,
    /// A request the proxy refused before classifying it (bad path, outside the prefix).
    Invalid,
}

impl RouteClass {
    pub fn label(self) -> &'static str {
        match self {
            RouteClass::SchemaById => "schema_by_id",
            RouteClass::Schemas => "schemas",
            RouteClass::Subjects => "subjects",
            RouteClass::Config => "config",
            RouteClass::Mode => "mode",
            RouteClass::Other => "other",
            RouteClass::Denied => "denied",
            RouteClass::Invalid => "invalid",
        }
    }

    /// Classifies a normalised, prefix-stripped path and its query.
    pub fn of(path: &NormalPath, query: Option<&str>) -> Self {
        let segments: Vec<&str> = path.segments().iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["schemas", "ids", id] | ["schemas", "ids", id, "schema"]
                if is_schema_id(id) && query_is_immutable(query) =>
            {
                RouteClass::SchemaById
            }
            ["schemas", ..] => RouteClass::Schemas,
            ["subjects", ..] => RouteClass::Subjects,
            ["config", ..] => RouteClass::Config,
            ["mode", ..] => RouteClass::Mode,
            _ => RouteClass::Other,
        }
    }
}

/// A Confluent schema id is a non-negative 32-bit integer, written in plain digits.
fn is_schema_id(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<i32>().is_ok()
}

fn query_is_immutable(query: Option<&str>) -> bool {
    query.unwrap_or_default().split('&').all(|pair| {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        pair.is_empty() || IMMUTABLE_QUERY_KEYS.contains(&key)
    })
}

/// The shared state of the request handler.
#[derive(Debug)]
pub struct Proxy {
    upstream: Upstream,
    prefix: Option<PathPrefix>,
    immutable: ResponseCache,
    passthrough: Option<ResponseCache>,
    metrics: Metrics,
}

/// A response that was not stored: the registry's own non-200 answer, or a failure.
#[derive(Debug)]
enum NotStored {
    Response(UpstreamResponse),
    Failed(ProxyError),
}

impl Proxy {
    pub fn new(config: &ProxyConfig, upstream: Upstream, metrics: Metrics) -> Self {
        Self {
            upstream,
            prefix: config.path_prefix.clone(),
            immutable: cache::immutable(config.cache_max_bytes),
            passthrough: config
                .passthrough_cache_ttl
                .map(|ttl| cache::passthrough(ttl, config.cache_max_bytes)),
            metrics,
        }
    }

    /// Answers one request; returns its route class for the metrics.
    async fn respond(&self, request: Request) -> (RouteClass, Response) {
        let method = request.method();
        if method != Method::GET && method != Method::HEAD {
            self.metrics
                .denied_writes
                .with_label_values(&[Metrics::method_label(method)])
                .inc();
            tracing::debug!(method = %method, path = request.uri().path(), "write refused");
            return (
                RouteClass::Denied,
                ProxyError::MethodNotAllowed(method.clone()).into_response(),
            );
        }
        // hyper knows an empty body exactly: no Content-Length (or 0) and no chunked encoding.
        if request.body().size_hint().exact() != Some(0) {
            return (
                RouteClass::Invalid,
                ProxyError::BodyNotAllowed(method.clone()).into_response(),
            );
        }
        let path = match self.forwarded_path(request.uri().path()) {
            Ok(path) => path,
            Err(error) => return (RouteClass::Invalid, error.into_response()),
        };
        let query = request.uri().query().filter(|q| !q.is_empty());
        let class = RouteClass::of(&path, query);
        let mut target = path.encoded();
        if let Some(query) = query {
            target.push('?');
            target.push_str(query);
        }
        let key = CacheKey {
            target,
            accept: request.headers().get(header::ACCEPT).cloned(),
        };
        let response = match (class, &self.passthrough) {
            (RouteClass::SchemaById, _) => {
                self.cached(&self.immutable, "immutable", key, request.headers(), true)
                    .await
            }
            (_, Some(passthrough)) => {
                self.cached(passthrough, "passthrough", key, request.headers(), false)
                    .await
            }
            (_, None) => match self.fetch(&key).await {
                Ok(response) => plain_response(response),
                Err(error) => error.into_response(),
            },
        };
        (class, response)
    }

    fn forwarded_path(&self, raw: &str) -> Result<NormalPath, ProxyError> {
        let path = NormalPath::parse(raw)?;
        match &self.prefix {
            None => Ok(path),
            Some(prefix) => path
                .strip_prefix(prefix)
                .ok_or_else(|| ProxyError::OutsidePrefix(prefix.as_path())),
        }
    }

    /// Serves from `cache`, or fetches once for every concurrent request of the same key and
    /// stores a 200 answer.
    async fn cached(
        &self,
        cache: &ResponseCache,
        cache_name: &'static str,
        key: CacheKey,
        request_headers: &HeaderMap,
        immutable: bool,
    ) -> Response {
        let lookups = &self.metrics.cache_lookups;
        if let Some(stored) = cache.get(&key).await {
            lookups.with_label_values(&[cache_name, "hit"]).inc();
            return stored_response(&stored, request_headers, immutable);
        }
        let fetched_here = AtomicBool::new(false);
        let result = cache
            .try_get_with_by_ref(&key, async {
                fetched_here.store(true, Ordering::Relaxed);
                match self.fetch(&key).await {
                    Ok(response) if response.status == StatusCode::OK => {
                        Ok(Arc::new(Stored::new(response)))
                    }
                    Ok(response) => Err(NotStored::Response(response)),
                    Err(error) => Err(NotStored::Failed(error)),
                }
            })
            .await;
        let result_label = if fetched_here.load(Ordering::Relaxed) {
            "miss"
        } else {
            "collapsed"
        };
        lookups.with_label_values(&[cache_name, result_label]).inc();
        match result {
            Ok(stored) => stored_response(&stored, request_headers, immutable),
            Err(not_stored) => match &*not_stored {
                NotStored::Response(response) => plain_response(response.clone()),
                NotStored::Failed(error) => error.clone().into_response(),
            },
        }
    }

    async fn fetch(&self, key: &CacheKey) -> Result<UpstreamResponse, ProxyError> {
        let (outcome, elapsed, result) =
            match self.upstream.get(&key.target, key.accept.as_ref()).await {
                Ok((response, elapsed)) => ("response", elapsed, Ok(response)),
                Err((error, elapsed)) => {
                    let outcome = match error {
                        ProxyError::UpstreamTimeout(_) => "timeout",
                        _ => "unreachable",
                    };
                    tracing::warn!(target = %key.target, error = %error, "upstream request failed");
                    (outcome, elapsed, Err(error))
                }
            };
        self.metrics
            .upstream_duration
            .with_label_values(&[outcome])
            .observe(elapsed.as_secs_f64());
        result
    }
}

/// The registry's answer as it came: status, content type, body.
fn plain_response(response: UpstreamResponse) -> Response {
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = response.status;
    if let Some(content_type) = response.content_type {
        out.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    out
}

fn stored_response(stored: &Stored, request_headers: &HeaderMap, immutable: bool) -> Response {
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|h| cache::matches_if_none_match(h, &stored.etag));
    let mut out = if not_modified {
        let mut out = Response::new(Body::empty());
        *out.status_mut() = StatusCode::NOT_MODIFIED;
        out
    } else {
        let mut out = Response::new(Body::from(stored.body.clone()));
        *out.status_mut() = stored.status;
        if let Some(content_type) = &stored.content_type {
            out.headers_mut()
                .insert(header::CONTENT_TYPE, content_type.clone());
        }
        out
    };
    let headers = out.headers_mut();
    headers.insert(header::ETAG, stored.etag.clone());
    // The content type follows the client's Accept, so shared caches must key on it too.
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    if immutable {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(IMMUTABLE_CACHE_CONTROL),
        );
    }
    out
}

/// The axum fallback: every request that is not an ops route.
pub async fn handle(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let started = Instant::now();
    let (class, response) = proxy.respond(request).await;
    let metrics = &proxy.metrics;
    metrics
        .requests
        .with_label_values(&[class.label(), response.status().as_str()])
        .inc();
    metrics
        .request_duration
        .observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(path: &str, query: Option<&str>) -> RouteClass {
        RouteClass::of(&NormalPath::parse(path).unwrap(), query)
    }

    #[test]
    fn schema_by_id_is_recognised_only_in_its_exact_shapes() {
        assert_eq!(class("/schemas/ids/1101", None), RouteClass::SchemaById);
        assert_eq!(class("/schemas/ids/7/schema", None), RouteClass::SchemaById);
        assert_eq!(
            class("/schemas/ids/7", Some("subject=alert-packet")),
            RouteClass::SchemaById
        );
        assert_eq!(
            class("/schemas/ids/7", Some("fetchMaxId=true")),
            RouteClass::Schemas
        );
        assert_eq!(class("/schemas/ids/abc", None), RouteClass::Schemas);
        assert_eq!(class("/schemas/ids/-1", None), RouteClass::Schemas);
        assert_eq!(class("/schemas/ids/99999999999", None), RouteClass::Schemas);
        assert_eq!(class("/schemas/ids/7/versions", None), RouteClass::Schemas);
        assert_eq!(class("/subjects/a/versions", None), RouteClass::Subjects);
        assert_eq!(class("/config", None), RouteClass::Config);
        assert_eq!(class("/mode/a", None), RouteClass::Mode);
        assert_eq!(class("/", None), RouteClass::Other);
    }
}
