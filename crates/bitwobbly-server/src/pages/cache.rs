//! The rendered-bytes cache of one snapshot, HTTP caching (ETag, Last-Modified, `304`,
//! Cache-Control, precompressed variants) and cross-node invalidation.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bitwobbly_store::types::{Timestamp, WorkspaceId};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{PagesConfig, Snapshot};
use crate::state::AppState;

/// The PostgreSQL channel that carries invalidations between nodes.
pub const CHANNEL: &str = "bitwobbly_pages";

/// Bodies shorter than this are not compressed (the headers would outweigh the savings).
const COMPRESS_MIN: usize = 256;

/// One snapshot with everything rendered from it so far.
#[derive(Debug)]
pub struct Cached {
    /// The snapshot.
    pub snapshot: Arc<Snapshot>,
    /// When it was built (for [`PagesConfig::max_age`]).
    pub built: Instant,
    /// When the page's password was set, when it is protected (signed into cookies, so a new
    /// password logs visitors out).
    pub protected: Option<Timestamp>,
    cache_control: HeaderValue,
    last_modified: HeaderValue,
    modified: OffsetDateTime,
    variants: RwLock<HashMap<String, Arc<Variant>>>,
}

/// One representation of a snapshot: the bytes and their compressed forms.
#[derive(Debug)]
pub struct Variant {
    content_type: HeaderValue,
    identity: Encoded,
    gzip: Option<Encoded>,
    br: Option<Encoded>,
    cache_control: HeaderValue,
    last_modified: HeaderValue,
    modified: OffsetDateTime,
}

/// Bytes with their strong ETag.
#[derive(Debug)]
struct Encoded {
    body: Bytes,
    etag: HeaderValue,
}

impl Encoded {
    fn new(body: Vec<u8>, suffix: &str) -> Self {
        let digest = Sha256::digest(&body);
        let tag = format!("\"{}{suffix}\"", super::password::hex(&digest[..12]));
        Self {
            body: Bytes::from(body),
            etag: HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\"")),
        }
    }
}

const HTTP_DATE: &[time::format_description::BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// `t` as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(t: OffsetDateTime) -> String {
    t.format(HTTP_DATE).unwrap_or_default()
}

fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s.trim(), HTTP_DATE)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

impl Cached {
    /// A cache over `snapshot`; `protected` is when the page's password was set, if it has
    /// one.
    pub fn new(
        snapshot: Arc<Snapshot>,
        protected: Option<Timestamp>,
        config: &PagesConfig,
    ) -> Self {
        let cache_control = if protected.is_some() {
            HeaderValue::from_static("private, no-cache")
        } else {
            HeaderValue::from_str(&format!(
                "public, max-age={}, stale-while-revalidate={}",
                config.client_max_age.as_secs(),
                config.stale_while_revalidate.as_secs()
            ))
            .unwrap_or(HeaderValue::from_static("public, max-age=10"))
        };
        // When this content was read (monitor states change what the page shows without a
        // stored change time); whole seconds: HTTP dates have no fractions.
        let modified =
            OffsetDateTime::from_unix_timestamp(snapshot.built_at.as_millis().div_euclid(1000))
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self {
            last_modified: HeaderValue::from_str(&http_date(modified))
                .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            modified,
            snapshot,
            built: Instant::now(),
            protected,
            cache_control,
            variants: RwLock::new(HashMap::new()),
        }
    }

    /// The representation `key` under link prefix `base`, if it was rendered already (for
    /// representations that need more than the snapshot to render).
    pub fn cached(&self, base: &str, key: &str) -> Option<Arc<Variant>> {
        self.variants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&full_key(base, key))
            .cloned()
    }

    /// The representation `key` under link prefix `base`, rendered by `render` the first
    /// time.
    pub fn variant(
        &self,
        base: &str,
        key: &str,
        content_type: &'static str,
        render: impl FnOnce() -> Vec<u8>,
    ) -> Arc<Variant> {
        let full = full_key(base, key);
        if let Some(v) = self
            .variants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&full)
        {
            return v.clone();
        }
        let body = render();
        let variant = Arc::new(Variant::new(
            HeaderValue::from_static(content_type),
            body,
            self.cache_control.clone(),
            self.last_modified.clone(),
            self.modified,
        ));
        self.variants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(full)
            .or_insert(variant)
            .clone()
    }
}

fn full_key(base: &str, key: &str) -> String {
    let mut full = String::with_capacity(base.len() + key.len() + 1);
    full.push_str(base);
    full.push('\0');
    full.push_str(key);
    full
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(body).ok()?;
    enc.finish().ok()
}

fn brotli(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
    Some(out)
}

/// Accepted encodings, from an `Accept-Encoding` header (`q=0` refuses one).
fn accepts(req: &HeaderMap) -> (bool, bool) {
    let (mut br, mut gz) = (false, false);
    for value in req.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if name.eq_ignore_ascii_case("br") {
                br = !refused;
            } else if name.eq_ignore_ascii_case("gzip") {
                gz = !refused;
            }
        }
    }
    (br, gz)
}

impl Variant {
    fn new(
        content_type: HeaderValue,
        body: Vec<u8>,
        cache_control: HeaderValue,
        last_modified: HeaderValue,
        modified: OffsetDateTime,
    ) -> Self {
        let (gzip, br) = if body.len() >= COMPRESS_MIN {
            (
                gzip(&body).map(|b| Encoded::new(b, "-gz")),
                brotli(&body).map(|b| Encoded::new(b, "-br")),
            )
        } else {
            (None, None)
        };
        Self {
            content_type,
            identity: Encoded::new(body, ""),
            gzip,
            br,
            cache_control,
            last_modified,
            modified,
        }
    }

    /// The uncompressed bytes.
    pub fn body(&self) -> &Bytes {
        &self.identity.body
    }

    /// Whether the request's validators match: `If-None-Match` against any encoding's tag
    /// (it wins when present), else `If-Modified-Since` not older than the content.
    fn not_modified(&self, req: &HeaderMap) -> bool {
        let tags = req.get_all(header::IF_NONE_MATCH);
        let mut any = false;
        for value in tags {
            any = true;
            let Ok(value) = value.to_str() else { continue };
            for tag in value.split(',') {
                let tag = tag.trim();
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                if tag == "*"
                    || [Some(&self.identity), self.gzip.as_ref(), self.br.as_ref()]
                        .into_iter()
                        .flatten()
                        .any(|e| e.etag.as_bytes() == tag.as_bytes())
                {
                    return true;
                }
            }
        }
        if any {
            return false;
        }
        req.get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date)
            .is_some_and(|since| since >= self.modified)
    }

    /// The response to `req`: `304` when its validators match, else the best encoding.
    pub fn respond(&self, req: &HeaderMap) -> Response {
        let (br, gz) = accepts(req);
        let (encoded, encoding) = match (&self.br, &self.gzip) {
            (Some(b), _) if br => (b, Some("br")),
            (_, Some(g)) if gz => (g, Some("gzip")),
            _ => (&self.identity, None),
        };
        let not_modified = self.not_modified(req);
        let mut res = if not_modified {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            Response::new(Body::from(encoded.body.clone()))
        };
        let h = res.headers_mut();
        if !not_modified {
            h.insert(header::CONTENT_TYPE, self.content_type.clone());
            if let Some(e) = encoding {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
            }
        }
        h.insert(header::ETAG, encoded.etag.clone());
        h.insert(header::LAST_MODIFIED, self.last_modified.clone());
        h.insert(header::CACHE_CONTROL, self.cache_control.clone());
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        res
    }
}

/// Tells other nodes about this node's invalidations and applies theirs (PostgreSQL); on
/// SQLite only drains the queue. Runs until shutdown.
pub(crate) async fn cross_node(state: AppState, mut rx: mpsc::UnboundedReceiver<WorkspaceId>) {
    let node = state.node.clone();
    let mut listener = loop {
        match state.store.listen(CHANNEL).await {
            Ok(l) => break l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for page invalidations; retrying");
                tokio::select! {
                    () = state.shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    loop {
        let heard = async {
            match listener.as_mut() {
                Some(l) => l.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            ws = rx.recv() => {
                let Some(ws) = ws else { return };
                if listener.is_some() {
                    let payload = format!("{} {node}", ws.0);
                    if let Err(e) = state.store.notify(CHANNEL, &payload).await {
                        tracing::warn!(error = %e, "cannot announce a page invalidation");
                    }
                }
            }
            msg = heard => match msg {
                Ok(payload) => {
                    if let Some((ws, from)) = payload.split_once(' ')
                        && from != node
                        && let Ok(ws) = ws.parse::<i64>()
                    {
                        state.pages.invalidate_local(WorkspaceId(ws));
                    }
                }
                Err(e) => {
                    // Announcements may have been missed while the connection was down.
                    tracing::warn!(error = %e, "page invalidation listener lost its connection");
                    state.pages.invalidate_all();
                    tokio::select! {
                        () = state.shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            },
        }
    }
}

/// `ts` as an RFC 3339 time with milliseconds and offset (`2024-05-01T12:00:00.000+00:00`),
/// as Statuspage writes times.
pub fn rfc3339_ms(ts: Timestamp) -> String {
    const F: &[time::format_description::BorrowedFormatItem<'static>] = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+00:00"
    );
    ts.to_datetime().format(F).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn accept_encoding_honours_q_zero() {
        assert_eq!(accepts(&headers(&[])), (false, false));
        assert_eq!(
            accepts(&headers(&[("accept-encoding", "gzip, deflate, br")])),
            (true, true)
        );
        assert_eq!(
            accepts(&headers(&[("accept-encoding", "br;q=0, GZIP;q=0.5")])),
            (false, true)
        );
        assert_eq!(
            accepts(&headers(&[("accept-encoding", "identity")])),
            (false, false)
        );
    }

    #[test]
    fn http_dates_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp(784_111_777).unwrap();
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(
            rfc3339_ms(Timestamp::from_millis(784_111_777_042)),
            "1994-11-06T08:49:37.042+00:00"
        );
    }

    #[test]
    fn variants_compress_and_validate() {
        let body = b"status ".repeat(100);
        let v = Variant::new(
            HeaderValue::from_static("text/plain"),
            body,
            HeaderValue::from_static("public"),
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
            OffsetDateTime::from_unix_timestamp(784_111_777).unwrap(),
        );
        let plain = v.respond(&headers(&[]));
        assert_eq!(plain.status(), StatusCode::OK);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let br = v.respond(&headers(&[("accept-encoding", "br, gzip")]));
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        assert_ne!(br.headers()[header::ETAG], plain.headers()[header::ETAG]);
        // A tag of any encoding validates.
        let tag = br.headers()[header::ETAG].to_str().unwrap().to_owned();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&tag).unwrap());
        assert_eq!(v.respond(&h).status(), StatusCode::NOT_MODIFIED);
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", W/{tag}")).unwrap(),
        );
        assert_eq!(v.respond(&h).status(), StatusCode::NOT_MODIFIED);
        // If-Modified-Since: equal or later is not modified; earlier is.
        let later = headers(&[("if-modified-since", "Mon, 07 Nov 1994 00:00:00 GMT")]);
        assert_eq!(v.respond(&later).status(), StatusCode::NOT_MODIFIED);
        let earlier = headers(&[("if-modified-since", "Sat, 05 Nov 1994 00:00:00 GMT")]);
        assert_eq!(v.respond(&earlier).status(), StatusCode::OK);
        let junk = headers(&[("if-modified-since", "garbage")]);
        assert_eq!(v.respond(&junk).status(), StatusCode::OK);
        // Small bodies are not compressed.
        let small = Variant::new(
            HeaderValue::from_static("text/plain"),
            b"ok".to_vec(),
            HeaderValue::from_static("public"),
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
            OffsetDateTime::UNIX_EPOCH,
        );
        let r = small.respond(&headers(&[("accept-encoding", "gzip")]));
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
