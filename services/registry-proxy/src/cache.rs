//! What the caches hold: a registry response ready to send again, with its `ETag`.
//!
//! Two caches use it. The immutable cache holds `GET /schemas/ids/{id}` answers forever (a
//! schema id never changes meaning), bounded by total body bytes; the passthrough cache holds
//! other GETs for a short TTL when the operator turns it on. Only 200 answers are stored: a
//! 404 for an unknown id may become a 200 once the schema is registered.

use crate::upstream::UpstreamResponse;
use axum::http::{HeaderValue, StatusCode};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// A cache key: the forwarded target and the `Accept` header (it decides the content type).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub target: String,
    pub accept: Option<HeaderValue>,
}

/// A stored response.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
    pub etag: HeaderValue,
}

impl Stored {
    pub fn new(response: UpstreamResponse) -> Self {
        let etag = etag(response.content_type.as_ref(), &response.body);
        Self {
            status: response.status,
            content_type: response.content_type,
            body: response.body,
            etag,
        }
    }
}

/// A strong ETag from the content: FNV-1a over content type and body (stable across
/// restarts and replicas, unlike `DefaultHasher`).
pub fn etag(content_type: Option<&HeaderValue>, body: &[u8]) -> HeaderValue {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let content_type = content_type.map(HeaderValue::as_bytes).unwrap_or_default();
    for byte in content_type.iter().chain([0u8].iter()).chain(body.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    let text = format!("\"{hash:016x}-{}\"", body.len());
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// Does an `If-None-Match` header match `etag`?
pub fn matches_if_none_match(header: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(text) = header.to_str() else {
        return false;
    };
    let etag = etag.to_str().unwrap_or_default();
    text.split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

pub type ResponseCache = moka::future::Cache<CacheKey, Arc<Stored>>;

fn weigh(key: &CacheKey, value: &Arc<Stored>) -> u32 {
    let bytes = key.target.len() + value.body.len() + 128;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The forever cache of schemas by id, bounded by `max_bytes`.
pub fn immutable(max_bytes: u64) -> ResponseCache {
    moka::future::Cache::builder()
        .name("immutable")
        .max_capacity(max_bytes)
        .weigher(weigh)
        .build()
}

/// The short-lived cache of other GETs.
pub fn passthrough(ttl: Duration, max_bytes: u64) -> ResponseCache {
    moka::future::Cache::builder()
        .name("passthrough")
        .max_capacity(max_bytes)
        .weigher(weigh)
        .time_to_live(ttl)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_depend_on_body_and_content_type() {
        let json = HeaderValue::from_static("application/json");
        let confluent = HeaderValue::from_static("application/vnd.schemaregistry.v1+json");
        let a = etag(Some(&json), b"{\"schema\":\"1\"}");
        assert_eq!(a, etag(Some(&json), b"{\"schema\":\"1\"}"), "deterministic");
        assert_ne!(a, etag(Some(&json), b"{\"schema\":\"2\"}"));
        assert_ne!(a, etag(Some(&confluent), b"{\"schema\":\"1\"}"));
        assert!(a.to_str().unwrap().starts_with('"') && a.to_str().unwrap().ends_with('"'));
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let tag = HeaderValue::from_static("\"abc-1\"");
        let check = |h: &'static str| matches_if_none_match(&HeaderValue::from_static(h), &tag);
        assert!(check("\"abc-1\""));
        assert!(check("\"x\", \"abc-1\""));
        assert!(check("W/\"abc-1\""));
        assert!(check("*"));
        assert!(!check("\"abc-2\""));
        assert!(!check(""));
    }
}
