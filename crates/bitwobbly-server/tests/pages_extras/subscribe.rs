//! Subscribing to a page end to end: the form, the confirmation mail through a real SMTP
//! server (aiosmtpd), the confirm link, incident mail from a monitor that fails, and the
//! one-click unsubscribe link; webhooks confirmed by their first ping; hostile input and
//! rate limits.

use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::Backend;
use bitwobbly_test_support::http::TestServer;
use bitwobbly_test_support::smtp::{Smtp, unfold};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::json;

use crate::harness::{PUBLIC_URL, Running, Target, both, client, eventually, seed};

/// The first link in `mail` that starts with `prefix`.
fn link(mail: &str, prefix: &str) -> String {
    let start = mail
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in\n{mail}"));
    mail[start..]
        .split(|c: char| c.is_whitespace() || c == '>')
        .next()
        .unwrap()
        .to_owned()
}

fn smtp_config(port: u16) -> serde_json::Value {
    json!({"host": "127.0.0.1", "port": port, "tls": "none", "from": "Acme status <status@example.test>"})
}

async fn email_subscription_end_to_end(backend: Backend) {
    let smtp = Smtp::start(&[]).await;
    let target = Target::start();
    let server = Running::start(backend, |c| {
        c.pages.subscribers.smtp = Some(smtp_config(smtp.port));
        c.pages.subscribers.requests_per_minute = 100;
    })
    .await;
    let s = seed(&server.store, "acme", &target.url(), 1).await;
    let http = client();

    // The page offers the form (no JavaScript needed), and so does /subscribe.
    let page = http
        .get(server.url("/s/acme"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("action=\"/s/acme/subscribe\""),
        "the page has the form"
    );
    let res = http
        .get(server.url("/s/acme/subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("name=\"email\""));

    // Subscribe with the form.
    let res = http
        .post(server.url("/s/acme/subscribe"))
        .form(&[("email", "Alice@Example.TEST")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(res.text().await.unwrap().contains("Check your inbox"));

    let mails = smtp.wait_for(1).await;
    let m = unfold(&mails[0]);
    assert!(m.contains("To: alice@example.test"), "{m}");
    assert!(
        m.contains("Subject: Confirm your subscription to acme status"),
        "{m}"
    );
    let unsubscribe = link(&m, &format!("{PUBLIC_URL}/s/acme/unsubscribe?token="));
    assert!(
        m.contains(&format!("List-Unsubscribe: <{unsubscribe}>")),
        "{m}"
    );
    assert!(
        m.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{m}"
    );
    let confirm = link(&m, &format!("{PUBLIC_URL}/s/acme/subscribe/confirm?token="));

    // Not confirmed yet: an incident now would not reach alice.
    let subs = server
        .store
        .workspace(s.ws)
        .subscribers(s.page.id)
        .await
        .unwrap();
    assert_eq!(subs.len(), 1);
    assert!(!subs[0].confirmed);

    // A confirm link for another page's slug, or a made-up token, finds nothing.
    let token = confirm.rsplit('=').next().unwrap();
    for bad in [
        format!("/s/other/subscribe/confirm?token={token}"),
        "/s/acme/subscribe/confirm?token=00000000000000000000000000000000".to_owned(),
        "/s/acme/subscribe/confirm?token=../../etc".to_owned(),
        "/s/acme/subscribe/confirm".to_owned(),
        format!("/s/acme/subscribe/confirm?token={}", "a".repeat(5000)),
    ] {
        let res = http.get(server.url(&bad)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{bad}");
    }

    let res = http.get(server.local(&confirm)).send().await.unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{confirm}: {body}");
    assert!(body.contains("Subscription confirmed"));
    let subs = server
        .store
        .workspace(s.ws)
        .subscribers(s.page.id)
        .await
        .unwrap();
    assert!(subs[0].confirmed);

    // The monitor's target fails: an incident opens and alice hears of it.
    target.set(500);
    let mails = smtp.wait_for(2).await;
    let m = unfold(&mails[1]);
    assert!(m.contains("To: alice@example.test"), "{m}");
    assert!(m.contains("Subject: [acme status] "), "{m}");
    assert!(m.contains(": Investigating"), "{m}");
    assert!(
        m.contains(&format!("Details: {PUBLIC_URL}/s/acme/incidents/")),
        "{m}"
    );
    assert!(
        m.contains(&format!("List-Unsubscribe: <{unsubscribe}>")),
        "{m}"
    );
    assert!(
        m.contains(&unsubscribe),
        "every message has the unsubscribe link"
    );

    // It recovers: the resolution reaches her too.
    target.set(200);
    let mails = smtp.wait_for(3).await;
    let m = unfold(&mails[2]);
    assert!(m.contains(": Resolved"), "{m}");
    assert!(m.contains(&unsubscribe), "{m}");

    // One click on the link unsubscribes.
    let res = http.get(server.local(&unsubscribe)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Unsubscribed"));
    assert!(
        server
            .store
            .workspace(s.ws)
            .subscribers(s.page.id)
            .await
            .unwrap()
            .is_empty()
    );
    // The link does nothing more once used.
    let res = http.get(server.local(&unsubscribe)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The next incident puts nothing in the outbox for her.
    let incidents_before = incidents(&server, s.ws).await;
    target.set(500);
    eventually("the next incident", || async {
        (incidents(&server, s.ws).await > incidents_before).then_some(())
    })
    .await;
    let rows = server
        .store
        .workspace(s.ws)
        .notifications(None, 100)
        .await
        .unwrap();
    let to_subscribers = rows.iter().filter(|r| r.subscriber_id.is_some()).count();
    assert_eq!(to_subscribers, 0, "rows of a removed subscriber go with it");
    assert_eq!(smtp.messages().len(), 3);

    // RFC 8058 one-click POST works as well (a second subscriber, confirmed by the link).
    let res = http
        .post(server.url("/s/acme/subscribe"))
        .json(&json!({"email": "bob@example.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"status": "pending"})
    );
    let mails = smtp.wait_for(4).await;
    let m = unfold(
        mails
            .iter()
            .find(|m| m.contains("bob@example.test"))
            .unwrap(),
    );
    let unsubscribe = link(&m, &format!("{PUBLIC_URL}/s/acme/unsubscribe?token="));
    let res = http
        .post(server.local(&unsubscribe))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        server
            .store
            .workspace(s.ws)
            .subscribers(s.page.id)
            .await
            .unwrap()
            .is_empty()
    );

    server.stop().await;
    smtp.stop().await;
}

async fn incidents(server: &Running, ws: WorkspaceId) -> usize {
    server
        .store
        .workspace(ws)
        .incidents(false, 100)
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

async fn webhooks_are_confirmed_by_their_first_ping(backend: Backend) {
    let receiver = TestServer::builder()
        .route("/hook", 204, &[], "")
        .start()
        .unwrap();
    let target = Target::start();
    let server = Running::start(backend, |c| {
        c.pages.subscribers.requests_per_minute = 100;
    })
    .await;
    let s = seed(&server.store, "acme", &target.url(), 1).await;
    let http = client();

    let res = http
        .post(server.url("/s/acme/subscribe"))
        .json(&json!({"webhook": receiver.url("/hook")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let subs = server
        .store
        .workspace(s.ws)
        .subscribers(s.page.id)
        .await
        .unwrap();
    assert_eq!(subs.len(), 1);
    assert!(subs[0].confirmed);
    assert_eq!(subs[0].kind, SubscriberKind::Webhook);

    // A receiver that refuses the ping is not kept, and the error says why.
    let res = http
        .post(server.url("/s/acme/subscribe"))
        .json(&json!({"webhook": receiver.url("/status/500")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: serde_json::Value = res.json().await.unwrap();
    assert_eq!(e["error"]["field"], "webhook");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("500"),
        "{e}"
    );
    assert_eq!(
        server
            .store
            .workspace(s.ws)
            .subscribers(s.page.id)
            .await
            .unwrap()
            .len(),
        1
    );

    // Without an SMTP server, email subscriptions are refused clearly.
    let res = http
        .post(server.url("/s/acme/subscribe"))
        .json(&json!({"email": "carol@example.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: serde_json::Value = res.json().await.unwrap();
    assert_eq!(e["error"]["code"], "email_unavailable");
    server.stop().await;

    // With private targets denied, a loopback webhook is refused before any request.
    let server = Running::start(backend, |c| {
        c.targets.deny_private = true;
        c.pages.subscribers.requests_per_minute = 100;
    })
    .await;
    seed(&server.store, "acme", &target.url(), 0).await;
    let res = http
        .post(server.url("/s/acme/subscribe"))
        .json(&json!({"webhook": receiver.url("/hook")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: serde_json::Value = res.json().await.unwrap();
    assert_eq!(e["error"]["field"], "webhook");
    server.stop().await;
}

async fn hostile_input_and_rate_limits(backend: Backend) {
    let smtp = Smtp::start(&[]).await;
    let target = Target::start();
    let server = Running::start(backend, |c| {
        c.pages.subscribers.smtp = Some(smtp_config(smtp.port));
        c.pages.subscribers.requests_per_minute = 100;
    })
    .await;
    let s = seed(&server.store, "acme", &target.url(), 0).await;
    let http = client();
    let post_json = |body: serde_json::Value| {
        http.post(server.url("/s/acme/subscribe"))
            .json(&body)
            .send()
    };
    for (body, status, field) in [
        (json!({}), 422, Some("email")),
        (json!({"email": ""}), 422, Some("email")),
        (json!({"email": "not an address"}), 422, Some("email")),
        (
            json!({"email": "a@b.test\r\nBcc: evil@x.test"}),
            422,
            Some("email"),
        ),
        (
            json!({"email": format!("{}@x.test", "a".repeat(300))}),
            422,
            Some("email"),
        ),
        (
            json!({"email": "a@b.test", "webhook": "https://x.test/"}),
            422,
            Some("webhook"),
        ),
        (
            json!({"webhook": "javascript:alert(1)"}),
            422,
            Some("webhook"),
        ),
        (
            json!({"webhook": "https://user:pw@x.test/"}),
            422,
            Some("webhook"),
        ),
        (json!({"email": 42}), 400, None),
        (json!({"email": "a@b.test", "admin": true}), 400, None),
    ] {
        let res = post_json(body.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{body}");
        let e: serde_json::Value = res.json().await.unwrap();
        assert!(e["error"]["code"].is_string(), "{e}");
        if let Some(f) = field {
            assert_eq!(e["error"]["field"], f, "{body}");
        }
    }
    // Broken JSON, broken forms, oversized bodies.
    let res = http
        .post(server.url("/s/acme/subscribe"))
        .header(CONTENT_TYPE, "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = http
        .post(server.url("/s/acme/subscribe"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("email=%ZZ&&==")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let res = http
        .post(server.url("/s/acme/subscribe"))
        .form(&[("email", "a".repeat(10_000))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The form answers errors as HTML, escaping what it repeats.
    let res = http
        .post(server.url("/s/acme/subscribe"))
        .form(&[("email", "<script>@x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!res.text().await.unwrap().contains("<script>@x"));
    assert!(
        server
            .store
            .workspace(s.ws)
            .subscribers(s.page.id)
            .await
            .unwrap()
            .is_empty()
    );

    // One confirmation mail a minute per address, however many ask.
    let res = post_json(json!({"email": "dave@example.test"}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let res = post_json(json!({"email": "dave@example.test"}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get(RETRY_AFTER).is_some());
    smtp.wait_for(1).await;
    server.stop().await;

    // Per client address: the default budget is 5 requests, then 429 with Retry-After.
    let server = Running::start(backend, |c| {
        c.pages.subscribers.smtp = Some(smtp_config(smtp.port));
    })
    .await;
    seed(&server.store, "acme", &target.url(), 0).await;
    let mut refused = None;
    for i in 0..10 {
        let res = http
            .post(server.url("/s/acme/subscribe"))
            .json(&json!({"email": format!("user{i}@example.test")}))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((i, res.headers().get(RETRY_AFTER).cloned()));
            break;
        }
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let (i, retry_after) = refused.expect("the limit is reached");
    assert_eq!(i, 5);
    assert!(retry_after.is_some());
    // The confirm and unsubscribe links count too.
    let res = http
        .get(server.url("/s/acme/unsubscribe?token=00000000000000000000000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
    smtp.stop().await;
}

both!(
    email_subscription_end_to_end,
    webhooks_are_confirmed_by_their_first_ping,
    hostile_input_and_rate_limits
);
