//! Password-protected pages: a form that checks the page's password and sets a signed cookie
//! (HMAC-SHA-256 with the server's key over the page, an expiry and when the password was
//! set, so a new password logs every visitor out). Without a valid cookie every public
//! representation is refused: HTML with the form (`401`), everything else with a JSON `401`.

use axum::Form;
use axum::extract::{FromRequest, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bitwobbly_store::api::PageDirectory;
use bitwobbly_store::types::{StatusPageId, Timestamp};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Cached, Resolved, html, resolve};
use crate::error::ApiError;
use crate::state::AppState;

/// The longest password accepted from the form.
const MAX_PASSWORD: usize = 1024;

/// A cookie key from a configured secret.
pub(crate) fn derive_key(secret: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"bitwobbly pages cookie\0");
    h.update(secret);
    h.finalize().into()
}

fn cookie_name(page: StatusPageId) -> String {
    format!("bw_page_{}", page.0)
}

fn mac(key: &[u8; 32], page: StatusPageId, expires: i64, set_at: Timestamp) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{}.{expires}.{}", page.0, set_at.as_millis()).as_bytes());
    mac
}

/// Lowercase hex digits of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The cookie value for a page whose password was set at `set_at`, valid until `expires`
/// (milliseconds).
fn cookie_value(key: &[u8; 32], page: StatusPageId, expires: i64, set_at: Timestamp) -> String {
    let tag = mac(key, page, expires, set_at).finalize().into_bytes();
    format!("{expires}.{}", hex(&tag))
}

/// Whether the request carries a valid, unexpired cookie for the entry's page and password.
pub(crate) fn cookie_ok(
    key: &[u8; 32],
    headers: &HeaderMap,
    entry: &Cached,
    now: Timestamp,
) -> bool {
    let Some(set_at) = entry.protected else {
        return true;
    };
    let page = entry.snapshot.page.id;
    let name = cookie_name(page);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .any(|(_, value)| {
            let Some((expires, tag)) = value.split_once('.') else {
                return false;
            };
            let (Ok(expires), Some(tag)) = (expires.parse::<i64>(), unhex(tag)) else {
                return false;
            };
            expires > now.as_millis() && mac(key, page, expires, set_at).verify_slice(&tag).is_ok()
        })
}

/// Whether a request wants HTML (a browser navigating).
fn wants_html(parts: &Parts) -> bool {
    parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// The answer without a valid cookie: the password form for a browser, else JSON.
pub(crate) fn refuse(parts: &Parts, entry: &Cached, base: &str) -> Response {
    if wants_html(parts) {
        let next = parts.uri.path();
        let body = html::unlock(&entry.snapshot, base, next, false);
        return html_response(StatusCode::UNAUTHORIZED, body);
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "password_required",
        "this status page is protected by a password",
    )
    .into_response()
}

fn html_response(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct Unlock {
    password: String,
    #[serde(default)]
    next: String,
}

/// `GET {base}/unlock`: the password form.
pub(crate) async fn form(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let Resolved { entry, base, .. } = match resolve(&mut parts, &state).await {
        Ok(r) => r,
        Err(res) => return res,
    };
    let next = if base.is_empty() { "/" } else { &base };
    html_response(
        StatusCode::OK,
        html::unlock(&entry.snapshot, &base, next, false),
    )
}

/// Where to go after unlocking: a path on this page, else the page.
fn safe_next<'a>(next: &'a str, base: &'a str) -> &'a str {
    let home = if base.is_empty() { "/" } else { base };
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 512
        && next.bytes().all(|b| b.is_ascii_graphic());
    let on_page = base.is_empty() || next == base || next.starts_with(&format!("{base}/"));
    if local && on_page { next } else { home }
}

/// `POST {base}/unlock`: checks the password and sets the cookie.
pub(crate) async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let Resolved { page, entry, base } = match resolve(&mut parts, &state).await {
        Ok(r) => r,
        Err(res) => return res,
    };
    let req = Request::from_parts(parts, body);
    let Form(input) = match Form::<Unlock>::from_request(req, &state).await {
        Ok(f) => f,
        Err(e) => {
            return ApiError::bad_request(format!("bad form: {}", e.body_text())).into_response();
        }
    };
    let Some(set_at) = entry.protected else {
        // An open page needs no password.
        return see_other(safe_next(&input.next, &base));
    };
    if input.password.len() > MAX_PASSWORD {
        return ApiError::invalid("password", "the password is too long").into_response();
    }
    let ok = match state
        .store
        .global()
        .verify_status_page_password(page.id, &input.password)
        .await
    {
        Ok(ok) => ok,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let next = safe_next(&input.next, &base);
    if !ok {
        return html_response(
            StatusCode::UNAUTHORIZED,
            html::unlock(&entry.snapshot, &base, next, true),
        );
    }
    let ttl = state.pages.config.password_ttl;
    let expires = state.clock.now().plus(ttl).as_millis();
    let value = cookie_value(&state.pages.cookie_key, page.id, expires, set_at);
    let secure = if crate::auth::secure_cookies(&state) {
        "; Secure"
    } else {
        ""
    };
    let path = if base.is_empty() { "/" } else { &base };
    let cookie = format!(
        "{}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        cookie_name(page.id),
        ttl.as_secs()
    );
    let mut res = see_other(next);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_page() {
        assert_eq!(safe_next("/s/a/history", "/s/a"), "/s/a/history");
        assert_eq!(safe_next("/s/ab/history", "/s/a"), "/s/a");
        assert_eq!(safe_next("//evil.example/", "/s/a"), "/s/a");
        assert_eq!(safe_next("https://evil.example/", ""), "/");
        assert_eq!(safe_next("/history", ""), "/history");
        assert_eq!(safe_next("/x\\y", ""), "/");
    }

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&"a".repeat(200)), None);
    }
}
