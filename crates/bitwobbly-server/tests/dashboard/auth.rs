//! Sign-in, sign-out, CSRF, `next=`, first-run set-up, static assets, the layout.

use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::Backend;

use crate::common::{DashServer, encode};

async fn sign_in_and_out(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    let c = server.client();

    // Signed out, a workspace page sends to sign-in and comes back.
    let page = c.get("/app/w/acme/settings").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location(),
        "/app/login?next=%2Fapp%2Fw%2Facme%2Fsettings"
    );
    assert_eq!(c.get("/app").await.location(), "/app/login");

    let form = c.get("/app/login?next=%2Fapp%2Fw%2Facme%2Fsettings").await;
    assert_eq!(form.status, 200);
    assert!(form.has("<label for=\"email\">Email</label>"));
    assert_eq!(
        form.input_value("next").as_deref(),
        Some("/app/w/acme/settings")
    );
    assert!(
        form.header("content-security-policy")
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_eq!(form.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(form.header("cache-control").as_deref(), Some("no-store"));

    // Wrong password, empty fields: the form again, naming the field.
    let bad = c
        .post_form(
            "/app/login",
            &[("email", "ada@example.com"), ("password", "nope")],
        )
        .await;
    assert_eq!(bad.status, 401);
    assert_eq!(
        bad.field_error("password").as_deref(),
        Some("Wrong email or password.")
    );
    assert_eq!(bad.input_value("email").as_deref(), Some("ada@example.com"));
    let empty = c
        .post_form("/app/login", &[("email", ""), ("password", "")])
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.field_error("email").is_some());
    assert!(empty.field_error("password").is_some());
    assert!(c.cookie("bitwobbly_session").is_none());

    let ok = c
        .post_form(
            "/app/login",
            &[
                ("email", "ADA@example.com"),
                ("password", "correct horse"),
                ("next", "/app/w/acme/settings"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.location(), "/app/w/acme/settings");
    let cookie = ok.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(c.get("/app").await.location(), "/app/w/acme/monitors");
    // Signed in, the sign-in page goes straight on.
    assert_eq!(c.get("/app/login").await.status, 303);

    // Sign-out needs the session's token, then ends the session for good.
    let account = c.get("/app/account").await;
    assert_eq!(account.status, 200, "{}", account.body);
    let secret = c.cookie("bitwobbly_session").unwrap();
    let refused = c.post_form_without_csrf("/app/logout", &[]).await;
    assert_eq!(refused.status, 403);
    let refused = c
        .post_form_without_csrf("/app/logout", &[("csrf", "0000")])
        .await;
    assert_eq!(refused.status, 403);
    let out = c.post_form("/app/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/app/login");
    assert!(c.cookie("bitwobbly_session").is_none());
    let shown = c.get("/app/login").await;
    assert!(shown.has("You are signed out."), "the flash shows once");
    assert!(!c.get("/app/login").await.has("You are signed out."));
    // The old cookie opens nothing any more.
    c.set_cookie("bitwobbly_session", Some(&secret));
    assert_eq!(c.get("/app/account").await.status, 303);
    server.stop().await;
}

async fn next_only_goes_to_local_dashboard_paths(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    for evil in [
        "https://evil.example/",
        "//evil.example/app",
        "/\\evil.example",
        "/api/v1/me",
        "javascript:alert(1)",
    ] {
        let c = server.client();
        c.get("/app/login").await;
        let page = c
            .post_form(
                "/app/login",
                &[
                    ("email", "ada@example.com"),
                    ("password", "correct horse"),
                    ("next", evil),
                ],
            )
            .await;
        assert_eq!(page.status, 303);
        assert_eq!(page.location(), "/app", "{evil}");
        let form = server
            .client()
            .get(&format!(
                "/app/login?next={}",
                encode(&[("", evil)])[1..].to_owned()
            ))
            .await;
        assert_eq!(form.input_value("next").as_deref(), Some("/app"), "{evil}");
    }
    server.stop().await;
}

async fn forms_refuse_other_sites_and_missing_tokens(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    // Sign-in itself needs the guest token of the form.
    let c = server.client();
    let no_form = c
        .post_form_without_csrf(
            "/app/login",
            &[("email", "ada@example.com"), ("password", "correct horse")],
        )
        .await;
    assert_eq!(no_form.status, 403);
    c.get("/app/login").await;
    let token = c.csrf();
    let wrong = c
        .post_form_without_csrf(
            "/app/login",
            &[
                ("csrf", "f".repeat(40).as_str()),
                ("email", "ada@example.com"),
                ("password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 403);
    // Another site's form, even with the right token, is refused.
    let cross = server.client();
    cross.get("/app/login").await;
    cross.always_send("sec-fetch-site", "cross-site");
    let page = cross
        .post_form(
            "/app/login",
            &[("email", "ada@example.com"), ("password", "correct horse")],
        )
        .await;
    assert_eq!(page.status, 403);
    // Two tokens, a JSON body, an oversized body.
    let page = c
        .post_raw(
            "/app/login",
            &format!("csrf={token}&csrf={token}&email=a&password=b"),
        )
        .await;
    assert_eq!(page.status, 403);
    // Oversized: refused with 413 before the body is read (the server may close the
    // connection while the client still writes, which is a refusal too).
    let big = "x".repeat(3 * 1024 * 1024);
    let res = reqwest::Client::new()
        .post(server.url("/app/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&email={big}"))
        .send()
        .await;
    if let Ok(res) = res {
        assert_eq!(res.status(), 413);
    }
    assert!(c.cookie("bitwobbly_session").is_none());
    server.stop().await;
}

async fn first_run_set_up_in_the_dashboard(backend: Backend) {
    let server = DashServer::start(backend).await;
    let link = server
        .setup_url
        .clone()
        .expect("a set-up link on an empty database");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let token = url::form_urlencoded::parse(format!("t={token}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let c = server.client();
    assert_eq!(c.get("/app").await.location(), "/app/setup");
    let form = c
        .get(&format!(
            "/app/setup?token={}",
            encode(&[("", &token)])[1..].to_owned()
        ))
        .await;
    assert_eq!(form.status, 200);
    assert_eq!(form.input_value("token").as_deref(), Some(token.as_str()));
    // Invalid input names the field.
    let bad = c
        .post_form(
            "/app/setup",
            &[
                ("token", &token),
                ("email", "ada"),
                ("name", "Ada"),
                ("password", "correct horse"),
                ("workspace", "Acme"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("email").is_some(), "{}", bad.body);
    assert_eq!(bad.input_value("name").as_deref(), Some("Ada"));
    let short = c
        .post_form(
            "/app/setup",
            &[
                ("token", &token),
                ("email", "ada@example.com"),
                ("password", "short"),
                ("workspace", "Acme"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.field_error("password").is_some());
    let wrong = c
        .post_form(
            "/app/setup",
            &[
                ("token", "bwsetup_nope"),
                ("email", "ada@example.com"),
                ("password", "correct horse"),
                ("workspace", "Acme"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.field_error("token").is_some());
    let ok = c
        .post_form(
            "/app/setup",
            &[
                ("token", &token),
                ("email", "ada@example.com"),
                ("name", "Ada"),
                ("password", "correct horse"),
                ("workspace", "Acme"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.location(), "/app/w/acme/monitors");
    assert!(c.cookie("bitwobbly_session").is_some());
    // Once set up, the page is gone and the token is used up.
    assert_eq!(c.get("/app/setup").await.status, 404);
    assert_eq!(server.store().global().user_count().await.unwrap(), 1);
    server.stop().await;
}

async fn other_workspaces_are_not_found(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    server
        .user("eve@example.com", "correct horse", "evil")
        .await;
    let eve = server.signed_in("eve@example.com", "correct horse").await;
    for path in [
        "/app/w/acme/settings",
        "/app/w/acme/settings/members",
        "/app/w/acme/settings/invitations",
        "/app/w/acme/settings/tokens",
        "/app/w/nope/settings",
    ] {
        let page = eve.get(path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.has("acme"), "{path} does not name the workspace");
    }
    assert_eq!(eve.get("/app/w/evil/settings").await.status, 200);
    server.stop().await;
}

async fn static_assets_are_versioned_and_cached(backend: Backend) {
    let server = DashServer::start(backend).await;
    let c = server.client();
    let login = c.get("/app/login").await;
    let at = login
        .body
        .find("/app/static/app.css?v=")
        .expect("a versioned stylesheet");
    let href: String = login.body[at..].chars().take_while(|c| *c != '"').collect();
    let css = c.get(&href).await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(
        css.header("cache-control")
            .unwrap()
            .contains("max-age=31536000")
    );
    assert!(css.has(".skip") && css.has("prefers-color-scheme"));
    let etag = css.header("etag").unwrap();
    c.always_send("if-none-match", &etag);
    assert_eq!(c.get(&href).await.status, 304);
    let js = server.client().get("/app/static/app.js").await;
    assert!(js.has("data-confirm") && js.has("data-copy") && js.has("data-autorefresh"));
    server.stop().await;
}

async fn unknown_dashboard_paths_are_a_page(backend: Backend) {
    let server = DashServer::start(backend).await;
    // The server's own root is the dashboard (status pages keep their custom domains).
    let root = server.client().get("/").await;
    assert_eq!(root.status, 303);
    assert_eq!(root.location(), "/app");
    let page = server.client().get("/app/nothing/here").await;
    assert_eq!(page.status, 404);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.has("Not found"));
    let _ = Role::Owner;
    server.stop().await;
}

bitwobbly_test_support::both_backends!(crate::common::run;
    sign_in_and_out,
    next_only_goes_to_local_dashboard_paths,
    forms_refuse_other_sites_and_missing_tokens,
    first_run_set_up_in_the_dashboard,
    other_workspaces_are_not_found,
    static_assets_are_versioned_and_cached,
    unknown_dashboard_paths_are_a_page,
);
