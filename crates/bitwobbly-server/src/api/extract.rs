//! Request extractors whose every rejection is an [`ApiError`] in the API's error shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body, read under `config.http.max_body_bytes` and parsed with the path of
/// any bad field.
///
/// Rejections: 415 `unsupported_media_type` unless `Content-Type` is JSON, 413
/// `payload_too_large`, 400 `invalid_json` for malformed JSON, 422 `unknown_field` for a field
/// the endpoint does not take, and 422 `validation_failed` for a missing field or a value of
/// the wrong type (each with `field`).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// Like [`ApiJson`], but an empty body (with or without a content type) is `None`.
#[derive(Debug, Clone)]
pub struct MaybeJson<T>(pub Option<T>);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads the whole body under `limit` bytes.
async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.into_inner()
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some();
            if too_large {
                ApiError::payload_too_large(limit)
            } else {
                ApiError::bad_request("the request body could not be read")
            }
        })
}

/// Parses JSON into `T`, mapping every failure to the error shape with the field's path.
///
/// # Errors
/// As [`ApiJson`] (400 `invalid_json`, 422 `unknown_field`, 422 `validation_failed`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(e, ""))?;
    de.end()
        .map_err(|e| ApiError::invalid_json(format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// Deserialises `T` from an already parsed JSON value; field paths start with `prefix`
/// (e.g. `spec`).
///
/// # Errors
/// 422 `unknown_field` or `validation_failed`, with the field's full path.
pub fn from_value<T: DeserializeOwned>(
    value: &serde_json::Value,
    prefix: &str,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| json_error(e, prefix))
}

/// Joins a path prefix and a serde path (`.` meaning the root).
fn join_path(prefix: &str, path: &str) -> String {
    let path = if path == "." { "" } else { path };
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) if path.starts_with('[') => format!("{prefix}{path}"),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// The error shape of a deserialisation failure.
fn json_error(e: serde_path_to_error::Error<serde_json::Error>, prefix: &str) -> ApiError {
    let path = join_path(prefix, &e.path().to_string());
    let inner = e.into_inner();
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::invalid_json(format!("malformed JSON: {inner}"))
        }
        Category::Data => {
            // serde reports an unknown field only through the text of a custom error
            // (`Error::unknown_field` has a default body and serde_json keeps no kind), so
            // this is the one place where an error is told apart by its message.
            let text = strip_position(&inner.to_string());
            if let Some(name) = unknown_field_name(&text) {
                // The path may or may not already end with the unknown key.
                let field = if path.is_empty() {
                    name
                } else if path.ends_with(name.as_str()) {
                    path
                } else {
                    join_path(&path, &name)
                };
                ApiError::unknown_field(field, text)
            } else {
                let field = if path.is_empty() {
                    "body".to_owned()
                } else {
                    path
                };
                ApiError::invalid(field, text)
            }
        }
    }
}

/// serde_json appends " at line L column C"; the field path says more to an API caller.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn unknown_field_name(msg: &str) -> Option<String> {
    const MARK: &str = "unknown field `";
    let rest = &msg[msg.find(MARK)? + MARK.len()..];
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::unsupported_media_type(
                "the request body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = read_body(req, state.config.http.max_body_bytes).await?;
        parse_json(&bytes).map(Self)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for MaybeJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let json = is_json(req.headers());
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        let bytes = read_body(req, state.config.http.max_body_bytes).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if !json {
            return Err(ApiError::unsupported_media_type(if has_type {
                "the request body must be JSON (Content-Type: application/json)"
            } else {
                "a request body needs Content-Type: application/json"
            }));
        }
        parse_json(&bytes).map(|v| Self(Some(v)))
    }
}

/// Query parameters; a parameter the endpoint does not take, or a malformed query, is a 422.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let q = axum::extract::Query::<T>::try_from_uri(&parts.uri).map_err(|e| {
            use std::error::Error as _;
            let text = e.source().map_or_else(|| e.body_text(), |s| s.to_string());
            match unknown_field_name(&text) {
                Some(name) => ApiError::unknown_field(name, text),
                None => ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    format!("invalid query: {text}"),
                )
                .with_field("query"),
            }
        })?;
        Ok(Self(q.0))
    }
}

/// Path parameters; a path that names no resource (say, a non-numeric id) is a 404.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|_| ApiError::not_found("resource"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
        list: Option<Vec<Inner>>,
    }

    #[test]
    fn malformed_json_is_invalid_json() {
        let e = parse_json::<Outer>(b"{\"name\": ").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "invalid_json"));
        let e = parse_json::<Outer>(b"{\"name\": \"a\"} trailing").unwrap_err();
        assert_eq!(e.code, "invalid_json");
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let e = parse_json::<Outer>(br#"{"name":"a","bogus":1}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (422, "unknown_field"));
        assert_eq!(e.field.as_deref(), Some("bogus"));
        let e = parse_json::<Outer>(br#"{"name":"a","inner":{"n":1,"x":2}}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("inner.x"));
        let e = parse_json::<Outer>(br#"{"name":"a","list":[{"n":1},{"y":2}]}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("list[1].y"));
    }

    #[test]
    fn wrong_types_and_missing_fields_are_validation_failures() {
        let e = parse_json::<Outer>(br#"{"name":5}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (422, "validation_failed"));
        assert_eq!(e.field.as_deref(), Some("name"));
        let e = parse_json::<Outer>(br#"{"name":"a","inner":{"n":"x"}}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("inner.n"));
        let e = parse_json::<Outer>(br#"{}"#).unwrap_err();
        assert_eq!(e.code, "validation_failed");
        assert!(e.message.contains("name"), "{}", e.message);
    }

    #[test]
    fn prefixes_join_paths() {
        assert_eq!(join_path("spec", "."), "spec");
        assert_eq!(join_path("spec", "url"), "spec.url");
        assert_eq!(join_path("spec", "[1].a"), "spec[1].a");
        assert_eq!(join_path("", "url"), "url");
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
    }
}
