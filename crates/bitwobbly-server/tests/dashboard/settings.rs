//! Workspace settings: the name, members and roles (the API's rules), API tokens shown once,
//! every route refused to another workspace's user (404) and to too low a role (403).

use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::Backend;

use crate::common::DashServer;

async fn rename_the_workspace(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    server
        .member("vic@example.com", "correct horse", "acme", Role::Viewer)
        .await;
    let ada = server.signed_in("ada@example.com", "correct horse").await;
    let page = ada.get("/app/w/acme/settings").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.input_value("name").as_deref(), Some("acme"));
    let empty = ada
        .post_form("/app/w/acme/settings", &[("name", "   ")])
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.field_error("name").is_some(), "{}", empty.body);
    let long = "x".repeat(5000);
    let long = ada
        .post_form("/app/w/acme/settings", &[("name", &long)])
        .await;
    assert_eq!(long.status, 422);
    assert!(long.field_error("name").is_some());
    let ok = ada
        .post_form("/app/w/acme/settings", &[("name", "Acme <Corp> & Co")])
        .await;
    assert_eq!(ok.status, 303);
    let page = ada.get("/app/w/acme/settings").await;
    assert!(
        page.has("Acme &#60;Corp&#62; &#38; Co") || page.has("Acme &lt;Corp&gt; &amp; Co"),
        "escaped"
    );
    assert!(!page.has("<Corp>"));
    // A viewer sees the name but cannot change it.
    let vic = server.signed_in("vic@example.com", "correct horse").await;
    let page = vic.get("/app/w/acme/settings").await;
    assert!(page.csrf().is_some(), "the sign-out form carries a token");
    assert!(!page.has("action=\"/app/w/acme/settings\""));
    let refused = vic
        .post_form("/app/w/acme/settings", &[("name", "Mine")])
        .await;
    assert_eq!(refused.status, 403);
    server.stop().await;
}

async fn members_follow_the_api_rules(backend: Backend) {
    let server = DashServer::start(backend).await;
    let ada = server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    let max = server
        .member("max@example.com", "correct horse", "acme", Role::Admin)
        .await;
    let mem = server
        .member("mem@example.com", "correct horse", "acme", Role::Member)
        .await;
    let c = server.signed_in("max@example.com", "correct horse").await;
    let page = c.get("/app/w/acme/settings/members").await;
    assert!(page.has("ada@example.com") && page.has("mem@example.com"));
    // An admin changes a member's role, but not to owner, and not an owner's.
    let ok = c
        .post_form(
            &format!("/app/w/acme/settings/members/{}/role", mem.id),
            &[("role", "viewer")],
        )
        .await;
    assert_eq!(ok.status, 303);
    let scope = server.store().workspace(server.workspace("acme").await.id);
    let mut scope = scope;
    assert_eq!(scope.role_of(mem.id).await.unwrap(), Some(Role::Viewer));
    let refused = c
        .post_form(
            &format!("/app/w/acme/settings/members/{}/role", mem.id),
            &[("role", "owner")],
        )
        .await;
    assert_eq!(refused.status, 403);
    let refused = c
        .post_form(
            &format!("/app/w/acme/settings/members/{}/remove", ada.id),
            &[],
        )
        .await;
    assert_eq!(refused.status, 403);
    let bad = c
        .post_form(
            &format!("/app/w/acme/settings/members/{}/role", mem.id),
            &[("role", "king")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.has("role must be one of"));
    for id in ["abc", "99999", "-1"] {
        let p = c
            .post_form(
                &format!("/app/w/acme/settings/members/{id}/role"),
                &[("role", "viewer")],
            )
            .await;
        assert_eq!(p.status, 404, "{id}");
    }
    // The last owner stays.
    let owner = server.signed_in("ada@example.com", "correct horse").await;
    owner.get("/app/w/acme/settings/members").await;
    let last = owner
        .post_form(
            &format!("/app/w/acme/settings/members/{}/role", ada.id),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(last.status, 409);
    let removed = owner
        .post_form(
            &format!("/app/w/acme/settings/members/{}/remove", max.id),
            &[],
        )
        .await;
    assert_eq!(removed.status, 303);
    assert_eq!(
        c.get("/app/w/acme/settings").await.status,
        404,
        "a removed member sees nothing"
    );
    server.stop().await;
}

async fn api_tokens_are_shown_once_and_revoked(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    server
        .member("max@example.com", "correct horse", "acme", Role::Admin)
        .await;
    let c = server.signed_in("ada@example.com", "correct horse").await;
    c.get("/app/w/acme/settings/tokens").await;
    let bad = c
        .post_form(
            "/app/w/acme/settings/tokens",
            &[("name", ""), ("role", "member"), ("expires_in", "")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("name").is_some());
    let bad = c
        .post_form(
            "/app/w/acme/settings/tokens",
            &[("name", "ci"), ("role", "member"), ("expires_in", "soon")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("expires_in").unwrap().contains("duration"));
    let bad = c
        .post_form(
            "/app/w/acme/settings/tokens",
            &[("name", "ci"), ("role", "boss"), ("expires_in", "")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("role").is_some());
    let made = c
        .post_form(
            "/app/w/acme/settings/tokens",
            &[("name", "ci"), ("role", "member"), ("expires_in", "30d")],
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let secret = made.copy_text().expect("the secret with a copy button");
    assert!(secret.starts_with("bw_"), "{secret}");
    // It works against the API, and is never shown again.
    let http = reqwest::Client::new();
    let me = http
        .get(server.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let list = c.get("/app/w/acme/settings/tokens").await;
    assert!(list.has("ci") && !list.has(&secret));
    // An admin cannot make an owner token.
    let max = server.signed_in("max@example.com", "correct horse").await;
    max.get("/app/w/acme/settings/tokens").await;
    let over = max
        .post_form(
            "/app/w/acme/settings/tokens",
            &[("name", "x"), ("role", "owner"), ("expires_in", "")],
        )
        .await;
    assert_eq!(over.status, 422);
    assert!(over.field_error("role").is_some());
    // Revoke.
    let id = server
        .store()
        .workspace(server.workspace("acme").await.id)
        .api_tokens()
        .await
        .unwrap()[0]
        .id
        .0;
    let gone = c
        .post_form(&format!("/app/w/acme/settings/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(gone.status, 303);
    let me = http
        .get(server.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    assert!(c.get("/app/w/acme/settings/tokens").await.has("revoked"));
    server.stop().await;
}

async fn every_settings_route_refuses_other_workspaces(backend: Backend) {
    let server = DashServer::start(backend).await;
    let ada = server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    server
        .user("eve@example.com", "correct horse", "evil")
        .await;
    let c = server.signed_in("ada@example.com", "correct horse").await;
    c.get("/app/w/acme/settings/tokens").await;
    c.post_form(
        "/app/w/acme/settings/tokens",
        &[("name", "ci"), ("role", "member"), ("expires_in", "")],
    )
    .await;
    let token = server
        .store()
        .workspace(server.workspace("acme").await.id)
        .api_tokens()
        .await
        .unwrap()[0]
        .id
        .0;
    let eve = server.signed_in("eve@example.com", "correct horse").await;
    eve.get("/app/w/evil/settings").await;
    for path in [
        "/app/w/acme/settings",
        "/app/w/acme/settings/members",
        "/app/w/acme/settings/invitations",
        "/app/w/acme/settings/tokens",
    ] {
        assert_eq!(eve.get(path).await.status, 404, "GET {path}");
    }
    for (path, fields) in [
        ("/app/w/acme/settings".to_owned(), vec![("name", "pwned")]),
        (
            format!("/app/w/acme/settings/members/{}/role", ada.id),
            vec![("role", "viewer")],
        ),
        (
            format!("/app/w/acme/settings/members/{}/remove", ada.id),
            vec![],
        ),
        (
            "/app/w/acme/settings/invitations".to_owned(),
            vec![("email", "eve2@example.com"), ("role", "owner")],
        ),
        (
            "/app/w/acme/settings/invitations/1/delete".to_owned(),
            vec![],
        ),
        (
            "/app/w/acme/settings/tokens".to_owned(),
            vec![("name", "x"), ("role", "member"), ("expires_in", "")],
        ),
        (
            format!("/app/w/acme/settings/tokens/{token}/revoke"),
            vec![],
        ),
        // Eve's own workspace path with Ada's ids: not found either.
        (
            format!("/app/w/evil/settings/tokens/{token}/revoke"),
            vec![],
        ),
        (
            format!("/app/w/evil/settings/members/{}/remove", ada.id),
            vec![],
        ),
    ] {
        let page = eve.post_form(&path, &fields).await;
        assert_eq!(page.status, 404, "POST {path}: {}", page.body);
    }
    let ws = server.workspace("acme").await;
    assert_eq!(ws.name, "acme");
    assert!(
        server.store().workspace(ws.id).api_tokens().await.unwrap()[0]
            .revoked_at
            .is_none()
    );
    server.stop().await;
}

bitwobbly_test_support::both_backends!(crate::common::run;
    rename_the_workspace,
    members_follow_the_api_rules,
    api_tokens_are_shown_once_and_revoked,
    every_settings_route_refuses_other_workspaces,
);
