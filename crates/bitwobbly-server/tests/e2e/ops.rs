//! Operability and the HTTP layers on a real listener: health, readiness, metrics (with its
//! bearer token), request ids, body limit (413), request timeout (408), compression, the
//! error shape of unknown routes, and first-run set-up.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Backend, DEADLINE, Running, TestDb, both, client, error_code};

both!(
    health_readiness_and_metrics_behind_a_bearer_token,
    request_ids_are_made_or_kept_and_echoed,
    oversized_bodies_get_413_in_the_error_shape,
    slow_requests_get_408_in_the_error_shape,
    readiness_fails_when_the_database_is_gone,
    unknown_routes_and_methods_get_the_error_shape,
    first_run_setup_creates_the_first_admin_once,
);

async fn health_readiness_and_metrics_behind_a_bearer_token(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut config = db.config();
    config.metrics.bearer_token = Some("scrape-me".into());
    let server = Running::start(config).await;
    let http = client();

    let res = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap().trim(), "ok");
    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap().trim(), "ready");

    // No token, a wrong one, another scheme: 401 in the error shape.
    for auth in [None, Some("Bearer nope"), Some("Basic scrape-me")] {
        let mut req = http.get(server.url("/metrics"));
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(res.headers().contains_key(header::WWW_AUTHENTICATE));
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), "unauthorized");
    }

    let res = http
        .get(server.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = res.text().await.unwrap();
    for name in [
        "bitwobbly_scheduler_lag_seconds_bucket",
        "bitwobbly_outbox_pending 0",
        "bitwobbly_outbox_dead 0",
        "bitwobbly_checks_in_flight",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(name), "{name} in\n{text}");
    }
    // Requests are counted by matched route, never by raw path.
    assert!(
        text.contains(
            r#"bitwobbly_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="/metrics",status="401""#), "{text}");
    let rss = text
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("a resident memory sample");
    assert!(rss > 1_000_000.0, "{rss}");

    // OpenMetrics when asked for; gzip when accepted.
    let res = http
        .get(server.url("/metrics"))
        .bearer_auth("scrape-me")
        .header(
            header::ACCEPT,
            "application/openmetrics-text; version=1.0.0",
        )
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");

    server.stop().await;
    db.finish().await;
}

async fn request_ids_are_made_or_kept_and_echoed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Running::start(db.config()).await;
    let http = client();
    let a = http.get(server.url("/healthz")).send().await.unwrap();
    let b = http.get(server.url("/nope")).send().await.unwrap();
    let ids: Vec<String> = [&a, &b]
        .iter()
        .map(|r| r.headers()["x-request-id"].to_str().unwrap().to_owned())
        .collect();
    for id in &ids {
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
    assert_ne!(ids[0], ids[1]);
    let res = http
        .get(server.url("/readyz"))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "from-the-proxy-42");
    server.stop().await;
    db.finish().await;
}

/// Sends `head` then `body` on a fresh connection and returns the status line and body of
/// the answer.
async fn raw(base: &str, head: &str, body: &[u8]) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(body).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(DEADLINE, conn.read(&mut buf))
            .await
            .expect("the server answers in time")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if rest.len() >= len {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn oversized_bodies_get_413_in_the_error_shape(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut config = db.config();
    config.http.max_body_bytes = 1024;
    let server = Running::start(config).await;
    let http = client();
    let big = "x".repeat(4096);

    // A declared length over the limit, on the API and on the set-up form.
    for path in ["/api/v1/auth/login", "/setup"] {
        let res = http
            .post(server.url(path))
            .header(header::CONTENT_TYPE, "application/json")
            .body(format!(r#"{{"email":"{big}"}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), "payload_too_large", "{path}");
    }

    // No declared length (chunked): cut off while reading, same answer.
    for path in ["/api/v1/auth/login", "/setup"] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        let mut body = Vec::new();
        for _ in 0..4 {
            body.extend_from_slice(format!("{:x}\r\n{}\r\n", 1000, "y".repeat(1000)).as_bytes());
        }
        body.extend_from_slice(b"0\r\n\r\n");
        let (status, text) = raw(&server.base, &head, &body).await;
        assert_eq!(status, 413, "{path}: {text}");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON error body");
        assert_eq!(error_code(&json), "payload_too_large", "{path}");
    }

    // Under the limit is fine (the set-up token is wrong, which is a different answer).
    let res = http
        .post(server.url("/setup"))
        .json(&serde_json::json!({"token": "x", "email": "a@b.c", "password": "long enough"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    server.stop().await;
    db.finish().await;
}

async fn slow_requests_get_408_in_the_error_shape(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut config = db.config();
    config.http.request_timeout = Duration::from_millis(500);
    let server = Running::start(config).await;
    // The body never arrives in full: the handler waits for it until the timeout answers.
    let head = "POST /setup HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\n\r\n";
    let (status, text) = raw(&server.base, head, b"{\"token\":").await;
    assert_eq!(status, 408, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON error body");
    assert_eq!(error_code(&json), "request_timeout");
    // Quick requests are not affected.
    let res = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    server.stop().await;
    db.finish().await;
}

async fn readiness_fails_when_the_database_is_gone(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Running::start(db.config()).await;
    let http = client();
    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The pool closed under the server: not ready, while still alive.
    server.state.store.close().await;
    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "unavailable");
    let res = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    server.stop().await;
    db.finish().await;
}

async fn unknown_routes_and_methods_get_the_error_shape(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Running::start(db.config()).await;
    let http = client();
    let res = http.get(server.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "not_found");
    let res = http.delete(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "method_not_allowed");
    server.stop().await;
    db.finish().await;
}

async fn first_run_setup_creates_the_first_admin_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Running::start(db.config()).await;
    let link = server
        .setup_url
        .clone()
        .expect("a set-up link on a fresh database");
    assert!(link.starts_with(&server.url("/setup?token=")), "{link}");
    let token = link.split_once("token=").unwrap().1.to_owned();
    let http = client();

    // The form carries the token.
    let res = http.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("<form") && html.contains(&token), "{html}");

    // A wrong token is refused and leaves the real one usable; so is bad input.
    let res = http
        .post(server.url("/setup"))
        .form(&[
            ("token", "bwsetup_wrong"),
            ("email", "ann@example.com"),
            ("password", "correct horse"),
            ("workspace", "Acme"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = http
        .post(server.url("/setup"))
        .json(&serde_json::json!({"token": token, "email": "ann@example.com", "password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "validation_failed");
    assert_eq!(body["error"]["field"], "password");

    // The form creates the admin and signs them in.
    let res = http
        .post(server.url("/setup"))
        .form(&[
            ("token", token.as_str()),
            ("email", "Ann@Example.com"),
            ("name", "Ann"),
            ("password", "correct horse"),
            ("workspace", "Acme Ops"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("bitwobbly_session=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = res.text().await.unwrap();
    assert!(page.contains("acme-ops"), "{page}");

    // The session works on the API, as the owner of the new workspace.
    let res = http
        .get(server.url("/api/v1/workspaces"))
        .header(header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("acme-ops") && body.contains("owner"),
        "{body}"
    );

    // The link works once; the page then says the server is set up.
    let res = http
        .post(server.url("/setup"))
        .form(&[
            ("token", token.as_str()),
            ("email", "eve@example.com"),
            ("password", "correct horse"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = http.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    server.stop().await;

    // A restart on a database with a user offers no link.
    let again = Running::start(db.config()).await;
    assert!(again.setup_url.is_none());
    again.stop().await;
    db.finish().await;
}
