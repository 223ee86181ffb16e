//! Sessions, API tokens, rate limits, workspaces and members.

use std::net::SocketAddr;
use std::time::Duration;

use bitwobbly_server::Clock;
use bitwobbly_server::config::Config;
use bitwobbly_store::prelude::*;
use serde_json::json;

use crate::harness::{Api, Call, PASSWORD, both, cookie_of, http_monitor, login, tenant};

const SAME_SITE: &str = "http://127.0.0.1:8080";

async fn login_sets_a_session_cookie_and_logout_ends_it(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let r = api.call(login("ACME@example.com ", PASSWORD)).await;
    let body = r.ok(200);
    assert_eq!(body["user"]["email"], "acme@example.com");
    assert_eq!(body["workspaces"][0]["slug"], "acme");
    assert_eq!(body["workspaces"][0]["role"], "owner");
    let set = r.header("set-cookie").expect("cookie").to_owned();
    for part in [
        "bitwobbly_session=",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=1209600",
    ] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    assert!(
        !set.contains("Secure"),
        "plain http server marks cookies Secure: {set}"
    );
    let cookie = cookie_of(&r);

    let me = api
        .call(Call::get("/me").header("cookie", &cookie))
        .await
        .ok(200);
    assert_eq!(me["user"]["id"], t.owner.id.0);
    assert!(me["token"].is_null());
    api.call(Call::get(&t.path("/monitors")).header("cookie", &cookie))
        .await
        .ok(200);

    // Changes through the cookie must come from this site.
    let create = || {
        Call::post(&t.path("/monitors"))
            .header("cookie", &cookie)
            .json(&http_monitor("api", "http://127.0.0.1:9/"))
    };
    api.call(create().header("origin", "https://evil.example"))
        .await
        .error(403, "cross_site_request");
    api.call(create()).await.error(403, "cross_site_request");
    api.call(create().header("sec-fetch-site", "cross-site"))
        .await
        .error(403, "cross_site_request");
    api.call(create().header("origin", SAME_SITE)).await.ok(201);
    api.call(create().header("sec-fetch-site", "same-origin"))
        .await
        .ok(201);
    // Bearer requests need no such check.
    api.call(
        t.post_monitors()
            .header("origin", "https://evil.example")
            .json(&http_monitor("api2", "http://127.0.0.1:9/")),
    )
    .await
    .ok(201);

    let out = api
        .call(
            Call::post("/auth/logout")
                .header("cookie", &cookie)
                .header("origin", SAME_SITE),
        )
        .await;
    assert_eq!(out.status.as_u16(), 204);
    assert!(
        out.header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    api.call(Call::get("/me").header("cookie", &cookie))
        .await
        .error(401, "unauthorized");
    api.call(Call::get(&t.path("/monitors")).header("cookie", &cookie))
        .await
        .error(401, "unauthorized");

    // Wrong passwords and unknown users are refused alike.
    for (email, password) in [
        ("acme@example.com", "wrong"),
        ("nobody@example.com", PASSWORD),
    ] {
        api.call(login(email, password))
            .await
            .error(401, "invalid_credentials");
    }
    // A login form posted from another site is refused.
    api.call(
        Call::post("/auth/login")
            .header("origin", "https://evil.example")
            .json(&json!({"email": "acme@example.com", "password": PASSWORD})),
    )
    .await
    .error(403, "cross_site_request");
}

async fn cookies_are_secure_behind_https(store: &Store) {
    let mut config = Config::default();
    config.public_url = Some("https://status.example.com".into());
    let api = Api::new(store, config);
    tenant(store, "acme").await;
    let r = api.call(login("acme@example.com", PASSWORD)).await;
    r.ok(200);
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.contains("; Secure"))
    );
}

async fn login_attempts_are_rate_limited_per_email_and_address(store: &Store) {
    let mut config = Config::default();
    config.auth.login_attempts_per_minute = 3;
    let api = Api::new(store, config);
    tenant(store, "acme").await;
    tenant(store, "bravo").await;
    let from = |n: u8| SocketAddr::from(([127, 0, 0, n], 5000));
    for _ in 0..3 {
        api.call_from(login("acme@example.com", "wrong"), from(1))
            .await
            .error(401, "invalid_credentials");
    }
    let r = api
        .call_from(login("acme@example.com", PASSWORD), from(1))
        .await;
    r.error(429, "rate_limited");
    let after: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&after), "Retry-After {after}");
    // The email is limited from another address too (case and spaces do not matter) ...
    api.call_from(login(" Acme@Example.com", PASSWORD), from(2))
        .await
        .error(429, "rate_limited");
    // ... and the address for another email.
    api.call_from(login("bravo@example.com", PASSWORD), from(1))
        .await
        .error(429, "rate_limited");
    // Another email from another address is fine.
    api.call_from(login("bravo@example.com", PASSWORD), from(3))
        .await
        .ok(200);
}

async fn tokens_carry_rate_limit_headers_and_get_429(store: &Store) {
    let mut config = Config::default();
    config.auth.token_requests_per_minute = 3;
    let api = Api::new(store, config);
    let t = tenant(store, "acme").await;
    for remaining in [2, 1, 0] {
        let r = api
            .call(Call::get(&t.path("/monitors")).bearer(&t.viewer_token))
            .await;
        r.ok(200);
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
        assert_eq!(
            r.header("ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
        let reset: u64 = r.header("ratelimit-reset").expect("reset").parse().unwrap();
        assert!((1..=60).contains(&reset), "reset {reset}");
        assert!(r.header("retry-after").is_none());
    }
    let r = api
        .call(Call::get(&t.path("/monitors")).bearer(&t.viewer_token))
        .await;
    r.error(429, "rate_limited");
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    let after: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=20).contains(&after), "Retry-After {after}");
    // Unknown routes count too, and carry the headers.
    let r = api
        .call(Call::get(&t.path("/gadgets")).bearer(&t.member_token))
        .await;
    r.error(404, "not_found");
    assert_eq!(r.header("ratelimit-remaining"), Some("2"));
    // Each token has its own bucket; sessions are not limited per token.
    api.call(Call::get(&t.path("/monitors")).bearer(&t.owner_token))
        .await
        .ok(200);
}

async fn a_token_secret_is_shown_once_then_only_its_prefix(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let created = api
        .call(
            Call::post(&t.path("/tokens"))
                .bearer(&t.admin_token)
                .json(&json!({"name": "deploy", "role": "viewer", "expires_in": "30d"})),
        )
        .await
        .ok(201);
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("bw_"), "{secret}");
    let prefix = created["token"]["prefix"].as_str().expect("prefix");
    assert!(
        secret.starts_with(&format!("bw_{prefix}_")),
        "{secret} vs {prefix}"
    );
    assert_eq!(created["token"]["role"], "viewer");
    assert!(created["token"]["expires_at"].is_string());
    // Listed and fetched without the secret.
    let list = api
        .call(Call::get(&t.path("/tokens")).bearer(&t.admin_token))
        .await;
    let text = String::from_utf8_lossy(&list.body).to_string();
    assert!(!text.contains(&secret), "the list shows a secret");
    assert!(!text.contains("\"secret\""), "the list has a secret field");
    let listed = list.ok(200);
    let it = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "deploy")
        .expect("listed");
    assert_eq!(it["prefix"], prefix);
    // The secret works, with its role.
    let me = api.call(Call::get("/me").bearer(&secret)).await.ok(200);
    assert_eq!(me["token"]["name"], "deploy");
    assert_eq!(me["workspaces"][0]["role"], "viewer");
    api.call(Call::get(&t.path("/monitors")).bearer(&secret))
        .await
        .ok(200);
    // A token cannot outrank its creator, nor expire in the past.
    api.call(
        Call::post(&t.path("/tokens"))
            .bearer(&t.admin_token)
            .json(&json!({"name": "root", "role": "owner"})),
    )
    .await
    .error(403, "forbidden");
    let e = api
        .call(
            Call::post(&t.path("/tokens"))
                .bearer(&t.admin_token)
                .json(&json!({"name": "old", "expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "expires_at");
}

async fn expired_and_revoked_tokens_are_refused(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let now = Clock.now();
    let (_, expired) = store
        .workspace(t.ws.id)
        .create_api_token(
            "old",
            Role::Owner,
            None,
            now.minus(Duration::from_secs(7200)),
            Some(now.minus(Duration::from_secs(1))),
        )
        .await
        .unwrap();
    api.call(Call::get(&t.path("/monitors")).bearer(expired.expose()))
        .await
        .error(401, "unauthorized");

    let created = api
        .call(
            Call::post(&t.path("/tokens"))
                .bearer(&t.owner_token)
                .json(&json!({"name": "ci"})),
        )
        .await
        .ok(201);
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_i64().unwrap();
    api.call(Call::get(&t.path("/monitors")).bearer(&secret))
        .await
        .ok(200);
    let r = api
        .call(Call::delete(&t.path(&format!("/tokens/{id}"))).bearer(&t.owner_token))
        .await;
    assert_eq!(r.status.as_u16(), 204);
    api.call(Call::get(&t.path("/monitors")).bearer(&secret))
        .await
        .error(401, "unauthorized");
    // Revoking twice is fine; the list shows when.
    let r = api
        .call(Call::delete(&t.path(&format!("/tokens/{id}"))).bearer(&t.owner_token))
        .await;
    assert_eq!(r.status.as_u16(), 204);
    let list = api
        .call(Call::get(&t.path("/tokens")).bearer(&t.owner_token))
        .await
        .ok(200);
    let it = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .unwrap();
    assert!(it["revoked_at"].is_string());
    // Garbage is refused the same way.
    for bad in ["bw_123", "Basic abc", ""] {
        let call = if bad.starts_with("Basic") {
            Call::get("/me").header("authorization", bad)
        } else {
            Call::get("/me").bearer(bad)
        };
        api.call(call).await.error(401, "unauthorized");
    }
}

async fn workspaces_are_created_listed_renamed_and_deleted(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let session = api.call(login("acme@example.com", PASSWORD)).await;
    let cookie = cookie_of(&session);
    let post = |body: serde_json::Value| {
        Call::post("/workspaces")
            .header("cookie", &cookie)
            .header("origin", SAME_SITE)
            .json(&body)
    };
    let made = api
        .call(post(json!({"slug": "side-project", "name": "Side"})))
        .await
        .ok(201);
    assert_eq!(
        (made["slug"].as_str(), made["role"].as_str()),
        (Some("side-project"), Some("owner"))
    );
    api.call(post(json!({"slug": "side-project"})))
        .await
        .error(409, "conflict");
    let e = api
        .call(post(json!({"slug": "Bad Slug"})))
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "slug");
    // Tokens act in one workspace and make none.
    api.call(
        Call::post("/workspaces")
            .bearer(&t.owner_token)
            .json(&json!({"slug": "from-token"})),
    )
    .await
    .error(403, "forbidden");

    let mine = api
        .call(Call::get("/workspaces").header("cookie", &cookie))
        .await
        .ok(200);
    let slugs: Vec<_> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs.len(), 2, "{slugs:?}");
    assert!(slugs.contains(&"acme") && slugs.contains(&"side-project"));
    let by_token = api
        .call(Call::get("/workspaces").bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(by_token.as_array().unwrap().len(), 1);
    assert_eq!(by_token[0]["role"], "viewer");

    let got = api
        .call(Call::get(&t.path("")).bearer(&t.member_token))
        .await
        .ok(200);
    assert_eq!(
        (got["name"].as_str(), got["role"].as_str()),
        (Some("Workspace acme"), Some("member"))
    );
    let renamed = api
        .call(
            Call::patch(&t.path(""))
                .bearer(&t.admin_token)
                .json(&json!({"name": "Acme Inc."})),
        )
        .await
        .ok(200);
    assert_eq!(renamed["name"], "Acme Inc.");
    assert_eq!(renamed["slug"], "acme");

    let r = api
        .call(
            Call::delete("/workspaces/side-project")
                .header("cookie", &cookie)
                .header("origin", SAME_SITE),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    api.call(Call::get("/workspaces/side-project").header("cookie", &cookie))
        .await
        .error(404, "not_found");
}

async fn members_are_managed_and_the_last_owner_stays(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let now = Clock.now();
    let bob = store
        .global()
        .create_user("bob@example.com", "Bob", PASSWORD, now)
        .await
        .unwrap();
    let add = |role: &str| {
        Call::post(&t.path("/members"))
            .bearer(&t.admin_token)
            .json(&json!({"email": "Bob@Example.com", "role": role}))
    };
    // Admins cannot hand out ownership.
    api.call(add("owner")).await.error(403, "forbidden");
    let m = api.call(add("member")).await.ok(201);
    assert_eq!(
        (m["user_id"].as_i64(), m["role"].as_str()),
        (Some(bob.id.0), Some("member"))
    );
    api.call(add("viewer")).await.error(409, "conflict");
    let e = api
        .call(
            Call::post(&t.path("/members"))
                .bearer(&t.admin_token)
                .json(&json!({"email": "ghost@example.com", "role": "viewer"})),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "email");

    let list = api
        .call(Call::get(&t.path("/members")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(list.as_array().unwrap().len(), 2);

    let bob_path = t.path(&format!("/members/{}", bob.id.0));
    let owner_path = t.path(&format!("/members/{}", t.owner.id.0));
    let changed = api
        .call(
            Call::patch(&bob_path)
                .bearer(&t.admin_token)
                .json(&json!({"role": "admin"})),
        )
        .await
        .ok(200);
    assert_eq!(changed["role"], "admin");
    // The only owner can be neither demoted nor removed, even by an owner.
    api.call(
        Call::patch(&owner_path)
            .bearer(&t.owner_token)
            .json(&json!({"role": "admin"})),
    )
    .await
    .error(409, "last_owner");
    api.call(Call::delete(&owner_path).bearer(&t.owner_token))
        .await
        .error(409, "last_owner");
    // Admins cannot touch an owner at all.
    api.call(Call::delete(&owner_path).bearer(&t.admin_token))
        .await
        .error(403, "forbidden");
    // With a second owner, the first may step down.
    api.call(
        Call::patch(&bob_path)
            .bearer(&t.owner_token)
            .json(&json!({"role": "owner"})),
    )
    .await
    .ok(200);
    api.call(
        Call::patch(&owner_path)
            .bearer(&t.owner_token)
            .json(&json!({"role": "member"})),
    )
    .await
    .ok(200);
    let r = api
        .call(Call::delete(&bob_path).bearer(&t.owner_token))
        .await;
    // Bob is now the last owner.
    r.error(409, "last_owner");
    let nobody = t.path("/members/999999");
    api.call(Call::delete(&nobody).bearer(&t.owner_token))
        .await
        .error(404, "not_found");
    assert_eq!(
        store.workspace(t.ws.id).role_of(t.owner.id).await.unwrap(),
        Some(Role::Member)
    );
}

both!(
    login_sets_a_session_cookie_and_logout_ends_it,
    cookies_are_secure_behind_https,
    login_attempts_are_rate_limited_per_email_and_address,
    tokens_carry_rate_limit_headers_and_get_429,
    a_token_secret_is_shown_once_then_only_its_prefix,
    expired_and_revoked_tokens_are_refused,
    workspaces_are_created_listed_renamed_and_deleted,
    members_are_managed_and_the_last_owner_stays,
);
