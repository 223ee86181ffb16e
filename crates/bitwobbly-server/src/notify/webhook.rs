//! The generic webhook, signed per the Standard Webhooks spec v1.
//!
//! Settings: `{"url": "...", "secret": "whsec_..."}`. The body is the alert as JSON plus
//! `type` (the event, e.g. `incident.opened`); the headers are `webhook-id` (`msg_<outbox
//! id>`, the same on every retry: receivers de-duplicate on it), `webhook-timestamp` (Unix
//! seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//! keyed with the secret's decoded bytes).

use ::http::HeaderValue;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bitwobbly_core::alert::Alert;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use url::Url;

use super::fields::Fields;
use super::text::truncate_bytes;
use super::{SendCtx, SendError, http};
use crate::error::ApiError;

/// The prefix of a symmetric Standard Webhooks secret.
pub(crate) const SECRET_PREFIX: &str = "whsec_";

/// Bytes of a generated secret (the spec allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// Largest body sent; a longer reason is cut (the spec suggests staying under 20 kB).
const MAX_REASON_BYTES: usize = 8 * 1024;
const MAX_NAME_BYTES: usize = 1024;

/// A webhook channel's settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    url: Url,
    key: Option<Vec<u8>>,
}

impl Settings {
    pub(crate) fn parse(config: &Value) -> Result<Self, ApiError> {
        let f = Fields::new(config, "config", &["url", "secret"])?;
        let url = f.http_url("url")?;
        let key = match f.opt_string("secret")? {
            None => None,
            Some(secret) => Some(decode_secret(secret).map_err(|m| f.invalid("secret", m))?),
        };
        Ok(Self { url, key })
    }

    /// A webhook without a signing secret (status-page subscribers' webhooks).
    pub(crate) fn unsigned(url: Url) -> Self {
        Self { url, key: None }
    }

    pub(crate) async fn send(&self, ctx: &SendCtx<'_>, alert: &Alert) -> Result<(), SendError> {
        self.post(ctx, body(alert, ctx.event)).await
    }

    /// Posts a JSON `body` with the Standard Webhooks headers (signed when there is a secret).
    pub(crate) async fn post(&self, ctx: &SendCtx<'_>, body: Vec<u8>) -> Result<(), SendError> {
        let timestamp = ctx.now.unix_timestamp();
        let mut headers = http::json_headers();
        headers.insert("webhook-id", header_value(ctx.message_id)?);
        headers.insert("webhook-timestamp", header_value(&timestamp.to_string())?);
        if let Some(key) = &self.key {
            let sig = sign(key, ctx.message_id, timestamp, &body);
            headers.insert("webhook-signature", header_value(&sig)?);
        }
        http::post(ctx, &self.url, headers, body).await
    }
}

fn header_value(s: &str) -> Result<HeaderValue, SendError> {
    HeaderValue::from_str(s).map_err(|e| SendError::new(format!("bad header value: {e}")))
}

/// A new random secret: `whsec_` and 32 random bytes in base64.
pub(crate) fn new_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::fill(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The key bytes of a `whsec_` secret.
pub(crate) fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    let Some(b64) = secret.strip_prefix(SECRET_PREFIX) else {
        return Err(format!(
            "must start with {SECRET_PREFIX} followed by base64 (leave it out to have one made)"
        ));
    };
    let key = STANDARD
        .decode(b64)
        .map_err(|e| format!("is not valid base64 after {SECRET_PREFIX}: {e}"))?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!(
            "must hold 24 to 64 bytes of key, not {}",
            key.len()
        ));
    }
    Ok(key)
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub(crate) fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The JSON body: the alert (long texts cut) plus `type`.
pub(crate) fn body(alert: &Alert, event: &str) -> Vec<u8> {
    let mut alert = alert.clone();
    alert.monitor = truncate_bytes(&alert.monitor, MAX_NAME_BYTES);
    alert.target = truncate_bytes(&alert.target, MAX_NAME_BYTES);
    alert.reason = alert.reason.map(|r| truncate_bytes(&r, MAX_REASON_BYTES));
    let mut value = serde_json::to_value(&alert).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.insert("type".to_owned(), Value::String(event.to_owned()));
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_signature() {
        // The Standard Webhooks spec's own test vector.
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_checked() {
        assert!(decode_secret(&new_secret()).is_ok());
        assert!(decode_secret("nope").is_err());
        assert!(decode_secret("whsec_!!!").is_err());
        assert!(decode_secret("whsec_AAAA").is_err());
    }
}
