//! Path safety: what reaches the upstream is one canonical shape of the request path.
//!
//! The proxy never forwards the client's bytes as they came. It splits the path into
//! segments, resolves `.` and `..` (never above the root, so nothing escapes the upstream base
//! path), drops empty segments, percent-decodes each segment and encodes it again with one
//! fixed set. A segment whose *encoded* form hides a separator or a dot segment (`%2f`, `%5c`,
//! `%2e%2e`) is refused rather than guessed at: an upstream that decodes it differently from us
//! would otherwise see a different path than the one we checked.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// Bytes encoded in a forwarded segment: everything but RFC 3986 unreserved characters,
/// sub-delimiters, `:` and `@` (the characters a path segment may carry literally).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Why a request path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the request target must be an absolute path starting with '/'")]
    NotAbsolute,
    #[error("encoded path separators (%2F, %5C) are not allowed")]
    EncodedSeparator,
    #[error("encoded dot segments (%2E%2E) are not allowed")]
    EncodedDotSegment,
    #[error("malformed percent-encoding in the path")]
    BadEncoding,
    #[error("control characters and backslashes are not allowed in the path")]
    ForbiddenCharacter,
}

/// The canonical form of a request path (always starts with `/`, no empty, `.` or `..`
/// segments, each segment encoded one way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalPath {
    /// Decoded segments.
    segments: Vec<String>,
}

impl NormalPath {
    /// Normalises the path part of a request target (no query).
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if !raw.starts_with('/') {
            return Err(PathError::NotAbsolute);
        }
        let mut segments: Vec<String> = Vec::new();
        for raw_segment in raw.split('/') {
            if raw_segment.contains('\\') || raw_segment.bytes().any(|b| b.is_ascii_control()) {
                return Err(PathError::ForbiddenCharacter);
            }
            check_escapes(raw_segment)?;
            let decoded = percent_decode_str(raw_segment)
                .decode_utf8()
                .map_err(|_| PathError::BadEncoding)?;
            let was_encoded = decoded != raw_segment;
            if was_encoded {
                if decoded.contains('/') || decoded.contains('\\') {
                    return Err(PathError::EncodedSeparator);
                }
                if decoded == "." || decoded == ".." {
                    return Err(PathError::EncodedDotSegment);
                }
                if decoded.chars().any(char::is_control) {
                    return Err(PathError::ForbiddenCharacter);
                }
            }
            match &*decoded {
                "" | "." => {}
                ".." => {
                    segments.pop();
                }
                _ => segments.push(decoded.into_owned()),
            }
        }
        Ok(Self { segments })
    }

    /// Decoded segments, e.g. `["schemas", "ids", "1101"]`.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The path with `prefix`'s segments removed from the front, if it starts with them.
    pub fn strip_prefix(&self, prefix: &PathPrefix) -> Option<NormalPath> {
        self.segments
            .strip_prefix(prefix.segments.as_slice())
            .map(|rest| NormalPath {
                segments: rest.to_vec(),
            })
    }

    /// The canonical encoded form, e.g. `/subjects/my%20subject/versions`.
    pub fn encoded(&self) -> String {
        if self.segments.is_empty() {
            return "/".to_owned();
        }
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            out.extend(utf8_percent_encode(segment, SEGMENT));
        }
        out
    }
}

/// Every `%` must start a two-hex-digit escape.
fn check_escapes(segment: &str) -> Result<(), PathError> {
    let bytes = segment.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEncoding)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(PathError::BadEncoding);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// The `--path-prefix` the proxy serves under, as segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPrefix {
    segments: Vec<String>,
}

impl PathPrefix {
    /// `""` or `"/"` mean no prefix. A prefix is plain segments: no dot segments, no
    /// escapes, no query.
    pub fn parse(raw: &str) -> Result<Option<Self>, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() || raw == "/" {
            return Ok(None);
        }
        if !raw.starts_with('/') {
            return Err("it must start with '/'");
        }
        if raw.contains(['%', '?', '#', '\\']) {
            return Err("it may not contain '%', '?', '#' or '\\'");
        }
        let mut segments = Vec::new();
        for segment in raw.split('/').filter(|s| !s.is_empty()) {
            if segment == "." || segment == ".." {
                return Err("it may not contain '.' or '..' segments");
            }
            if segment.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                return Err("it may not contain spaces or control characters");
            }
            segments.push(segment.to_owned());
        }
        Ok(Some(Self { segments }))
    }

    /// The prefix as a path, e.g. `/schema-registry`.
    pub fn as_path(&self) -> String {
        NormalPath {
            segments: self.segments.clone(),
        }
        .encoded()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> Result<String, PathError> {
        NormalPath::parse(raw).map(|p| p.encoded())
    }

    #[test]
    fn plain_paths_are_unchanged() {
        assert_eq!(norm("/schemas/ids/1101").unwrap(), "/schemas/ids/1101");
        assert_eq!(
            norm("/subjects/alert-packet/versions/latest").unwrap(),
            "/subjects/alert-packet/versions/latest"
        );
        assert_eq!(norm("/").unwrap(), "/");
    }

    #[test]
    fn dot_and_empty_segments_are_resolved_without_escaping_the_root() {
        assert_eq!(norm("//subjects//").unwrap(), "/subjects");
        assert_eq!(norm("/a/./b/../c").unwrap(), "/a/c");
        assert_eq!(norm("/../../../etc/passwd").unwrap(), "/etc/passwd");
        assert_eq!(norm("/subjects/..").unwrap(), "/");
    }

    #[test]
    fn encoded_traversal_is_refused() {
        assert_eq!(norm("/%2e%2e/config"), Err(PathError::EncodedDotSegment));
        assert_eq!(norm("/%2E%2E/config"), Err(PathError::EncodedDotSegment));
        assert_eq!(norm("/.%2e/config"), Err(PathError::EncodedDotSegment));
        assert_eq!(norm("/subjects/%2e"), Err(PathError::EncodedDotSegment));
        assert_eq!(
            norm("/subjects/a%2f..%2fconfig"),
            Err(PathError::EncodedSeparator)
        );
        assert_eq!(norm("/subjects/a%2Fb"), Err(PathError::EncodedSeparator));
        assert_eq!(norm("/subjects/a%5cb"), Err(PathError::EncodedSeparator));
        assert_eq!(norm("/subjects/a\\b"), Err(PathError::ForbiddenCharacter));
        assert_eq!(norm("/subjects/a%00b"), Err(PathError::ForbiddenCharacter));
    }

    #[test]
    fn malformed_targets_are_refused() {
        assert_eq!(norm("subjects"), Err(PathError::NotAbsolute));
        assert_eq!(norm("*"), Err(PathError::NotAbsolute));
        assert_eq!(norm("/subjects/%zz"), Err(PathError::BadEncoding));
        assert_eq!(norm("/subjects/%4"), Err(PathError::BadEncoding));
        assert_eq!(norm("/subjects/%ff"), Err(PathError::BadEncoding));
    }

    #[test]
    fn segments_are_reencoded_one_way() {
        assert_eq!(norm("/subjects/a%20b").unwrap(), "/subjects/a%20b");
        assert_eq!(norm("/subjects/%61lert").unwrap(), "/subjects/alert");
        assert_eq!(
            norm("/subjects/:.ctx:name@x").unwrap(),
            "/subjects/:.ctx:name@x"
        );
        assert_eq!(norm("/subjects/caf%C3%A9").unwrap(), "/subjects/caf%C3%A9");
    }

    #[test]
    fn prefixes_strip_whole_segments_only() {
        let prefix = PathPrefix::parse("/schema-registry/").unwrap().unwrap();
        assert_eq!(prefix.as_path(), "/schema-registry");
        let strip = |raw: &str| {
            NormalPath::parse(raw)
                .unwrap()
                .strip_prefix(&prefix)
                .map(|p| p.encoded())
        };
        assert_eq!(
            strip("/schema-registry/subjects").as_deref(),
            Some("/subjects")
        );
        assert_eq!(strip("/schema-registry").as_deref(), Some("/"));
        assert_eq!(strip("/schema-registryx/subjects"), None);
        assert_eq!(strip("/subjects"), None);
        assert_eq!(
            strip("/schema-registry/../subjects"),
            None,
            "traversal out of the prefix is resolved first"
        );
    }

    #[test]
    fn bad_prefixes_are_refused() {
        assert_eq!(PathPrefix::parse("").unwrap(), None);
        assert_eq!(PathPrefix::parse("/").unwrap(), None);
        assert!(PathPrefix::parse("schema").is_err());
        assert!(PathPrefix::parse("/a/../b").is_err());
        assert!(PathPrefix::parse("/a%2fb").is_err());
        assert!(PathPrefix::parse("/a?b").is_err());
        assert!(PathPrefix::parse("/a b").is_err());
    }
}
