//! Malformed channel settings are refused with 422 and the field at fault.

use bitwobbly_server::notify::{new_webhook_secret, validate_channel};
use bitwobbly_store::types::ChannelKind;
use serde_json::{Value, json};

fn smtp(extra: Value) -> Value {
    let mut smtp = json!({ "host": "smtp.example.test", "port": 587, "tls": "starttls", "from": "bw@example.test" });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            smtp.as_object_mut().unwrap().remove(k);
        } else {
            smtp[k] = v.clone();
        }
    }
    json!({ "to": ["ops@example.test"], "smtp": smtp })
}

#[test]
fn malformed_settings_name_the_field() {
    use ChannelKind::*;
    let cases: Vec<(ChannelKind, Value, &str)> = vec![
        (Webhook, json!("http://x"), "config"),
        (Webhook, json!({}), "config.url"),
        (Webhook, json!({ "url": 5 }), "config.url"),
        (
            Webhook,
            json!({ "url": "ftp://example.test/" }),
            "config.url",
        ),
        (Webhook, json!({ "url": "not a url" }), "config.url"),
        (
            Webhook,
            json!({ "url": "https://user:pw@example.test/" }),
            "config.url",
        ),
        (
            Webhook,
            json!({ "url": "https://example.test/", "secret": "abc" }),
            "config.secret",
        ),
        (
            Webhook,
            json!({ "url": "https://example.test/", "secret": "whsec_AAAA" }),
            "config.secret",
        ),
        (
            Webhook,
            json!({ "url": "https://example.test/", "extra": 1 }),
            "config.extra",
        ),
        (Slack, json!({ "url": "" }), "config.url"),
        (Discord, json!({ "url": null }), "config.url"),
        (
            Teams,
            json!({ "webhook": "https://example.test/" }),
            "config.webhook",
        ),
        (PagerDuty, json!({}), "config.routing_key"),
        (
            PagerDuty,
            json!({ "routing_key": "has spaces in it" }),
            "config.routing_key",
        ),
        (
            PagerDuty,
            json!({ "routing_key": "abc123", "url": "nope" }),
            "config.url",
        ),
        (Ntfy, json!({ "url": "https://ntfy.sh" }), "config.topic"),
        (
            Ntfy,
            json!({ "url": "https://ntfy.sh", "topic": "a/b" }),
            "config.topic",
        ),
        (
            Ntfy,
            json!({ "url": "https://ntfy.sh", "topic": "ops", "priority": 9 }),
            "config.priority",
        ),
        (
            Ntfy,
            json!({ "url": "https://ntfy.sh", "topic": "ops", "priority": "loud" }),
            "config.priority",
        ),
        (
            Ntfy,
            json!({ "url": "https://ntfy.sh", "topic": "ops", "token": 5 }),
            "config.token",
        ),
        (Email, json!({ "smtp": {} }), "config.to"),
        (Email, json!({ "to": [], "smtp": {} }), "config.to"),
        (
            Email,
            json!({ "to": "ops@example.test", "smtp": {} }),
            "config.to",
        ),
        (
            Email,
            json!({ "to": ["ops@example.test", "not an address"], "smtp": {} }),
            "config.to[1]",
        ),
        (Email, json!({ "to": ["ops@example.test"] }), "config.smtp"),
        (Email, smtp(json!({ "host": null })), "config.smtp.host"),
        (Email, smtp(json!({ "port": 0 })), "config.smtp.port"),
        (Email, smtp(json!({ "port": 70000 })), "config.smtp.port"),
        (Email, smtp(json!({ "port": "25" })), "config.smtp.port"),
        (Email, smtp(json!({ "tls": "ssl" })), "config.smtp.tls"),
        (
            Email,
            smtp(json!({ "username": "u" })),
            "config.smtp.password",
        ),
        (
            Email,
            smtp(json!({ "password": "p" })),
            "config.smtp.username",
        ),
        (Email, smtp(json!({ "from": "nobody" })), "config.smtp.from"),
        (Email, smtp(json!({ "from": null })), "config.smtp.from"),
        (Email, smtp(json!({ "helo": "x" })), "config.smtp.helo"),
    ];
    for (kind, config, field) in cases {
        let e = validate_channel(kind, &config).expect_err(&format!("{kind} {config} is refused"));
        assert_eq!(e.status.as_u16(), 422, "{kind} {config}");
        assert_eq!(e.code, "validation_failed");
        assert_eq!(
            e.field.as_deref(),
            Some(field),
            "{kind} {config}: {}",
            e.message
        );
        assert!(!e.message.is_empty());
    }
}

#[test]
fn good_settings_pass() {
    use ChannelKind::*;
    let cases: Vec<(ChannelKind, Value)> = vec![
        (Webhook, json!({ "url": "https://example.test/hook" })),
        (
            Webhook,
            json!({ "url": "http://127.0.0.1:9/hook", "secret": new_webhook_secret() }),
        ),
        (
            Slack,
            json!({ "url": "https://hooks.slack.com/services/T/B/x" }),
        ),
        (
            Discord,
            json!({ "url": "https://discord.com/api/webhooks/1/t" }),
        ),
        (
            Teams,
            json!({ "url": "https://example.logic.azure.com/workflows/1" }),
        ),
        (
            PagerDuty,
            json!({ "routing_key": "R0123456789abcdef0123456789ABCDE" }),
        ),
        (
            Ntfy,
            json!({ "url": "https://ntfy.sh", "topic": "ops_1-a", "token": "tk_x", "priority": 4 }),
        ),
        (Email, smtp(json!({}))),
        (
            Email,
            smtp(json!({ "tls": "implicit", "port": null, "username": "u", "password": "p" })),
        ),
        (Email, smtp(json!({ "tls": null, "port": null }))),
    ];
    for (kind, config) in cases {
        validate_channel(kind, &config).unwrap_or_else(|e| panic!("{kind} {config}: {e}"));
    }
}

#[test]
fn generated_secrets_are_standard() {
    let a = new_webhook_secret();
    let b = new_webhook_secret();
    assert_ne!(a, b);
    assert!(a.starts_with("whsec_"));
    let key = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        a.trim_start_matches("whsec_"),
    )
    .unwrap();
    assert!((24..=64).contains(&key.len()));
}
