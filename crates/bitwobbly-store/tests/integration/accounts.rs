use std::time::Duration;

use bitwobbly_store::prelude::*;

use crate::harness::{T0, at, conformance};

async fn workspaces_are_created_found_and_unique(store: Store) {
    let mut g = store.global();
    let ws = g.create_workspace("acme", "Acme", T0).await.unwrap();
    assert_eq!(g.workspace(ws.id).await.unwrap(), Some(ws.clone()));
    assert_eq!(g.workspace_by_slug("acme").await.unwrap(), Some(ws.clone()));
    assert_eq!(g.workspace_by_slug("nope").await.unwrap(), None);
    let dup = g.create_workspace("acme", "Again", T0).await.unwrap_err();
    assert!(dup.is_conflict(), "{dup:?}");
    g.delete_workspace(ws.id).await.unwrap();
    assert_eq!(g.workspace(ws.id).await.unwrap(), None);
    assert!(g.delete_workspace(ws.id).await.unwrap_err().is_not_found());
}

async fn users_log_in_with_argon2_hashes(store: Store) {
    let mut g = store.global();
    let user = g
        .create_user(" Ada@Example.COM ", "Ada", "hunter2hunter2", T0)
        .await
        .unwrap();
    assert_eq!(user.email, "ada@example.com");
    assert_eq!(g.user(user.id).await.unwrap(), Some(user.clone()));
    assert_eq!(
        g.verify_login("ADA@example.com", "hunter2hunter2")
            .await
            .unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        g.verify_login("ada@example.com", "wrong").await.unwrap(),
        None
    );
    assert_eq!(
        g.verify_login("bob@example.com", "hunter2hunter2")
            .await
            .unwrap(),
        None
    );
    g.set_password(user.id, "new secret!").await.unwrap();
    assert_eq!(
        g.verify_login("ada@example.com", "hunter2hunter2")
            .await
            .unwrap(),
        None
    );
    assert!(
        g.verify_login("ada@example.com", "new secret!")
            .await
            .unwrap()
            .is_some()
    );
    let dup = g
        .create_user("ada@example.com", "Ada 2", "x", T0)
        .await
        .unwrap_err();
    assert!(dup.is_conflict());
}

async fn sessions_expire_and_end(store: Store) {
    let mut g = store.global();
    let user = g.create_user("s@example.com", "S", "pw", T0).await.unwrap();
    let (session, secret) = g
        .create_session(user.id, T0, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(session.expires_at, at(3600));
    let (found, who) = g.session(secret.expose(), at(10)).await.unwrap().unwrap();
    assert_eq!((found.id, found.last_seen_at), (session.id, at(10)));
    assert_eq!(who, user);
    assert_eq!(g.session("not-a-secret", at(10)).await.unwrap(), None);
    assert_eq!(
        g.session(secret.expose(), at(3600)).await.unwrap(),
        None,
        "expired"
    );

    let (_, other) = g
        .create_session(user.id, T0, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(g.delete_session(other.expose()).await.unwrap());
    assert!(!g.delete_session(other.expose()).await.unwrap());
    assert_eq!(g.delete_expired_sessions(at(7200)).await.unwrap(), 1);
}

async fn memberships_carry_roles(store: Store) {
    let ws = store
        .global()
        .create_workspace("team", "Team", T0)
        .await
        .unwrap();
    let other = store
        .global()
        .create_workspace("other", "Other", T0)
        .await
        .unwrap();
    let ada = store
        .global()
        .create_user("ada@x.io", "Ada", "pw", T0)
        .await
        .unwrap();
    let bob = store
        .global()
        .create_user("bob@x.io", "Bob", "pw", T0)
        .await
        .unwrap();
    let mut s = store.workspace(ws.id);
    s.set_member(ada.id, Role::Owner, T0).await.unwrap();
    s.set_member(bob.id, Role::Viewer, T0).await.unwrap();
    s.set_member(bob.id, Role::Member, at(5)).await.unwrap();
    store
        .workspace(other.id)
        .set_member(bob.id, Role::Admin, T0)
        .await
        .unwrap();
    assert_eq!(s.role_of(bob.id).await.unwrap(), Some(Role::Member));
    let members = s.members().await.unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].role, Role::Owner);
    let mine = store.global().workspaces_of(bob.id).await.unwrap();
    assert_eq!(
        mine.iter()
            .map(|(w, r)| (w.slug.as_str(), *r))
            .collect::<Vec<_>>(),
        vec![("team", Role::Member), ("other", Role::Admin)]
    );
    s.remove_member(bob.id).await.unwrap();
    assert_eq!(s.role_of(bob.id).await.unwrap(), None);
    assert!(s.remove_member(bob.id).await.unwrap_err().is_not_found());
}

async fn api_tokens_authenticate_by_hash(store: Store) {
    let ws = store
        .global()
        .create_workspace("tok", "Tok", T0)
        .await
        .unwrap();
    let mut s = store.workspace(ws.id);
    let (token, secret) = s
        .create_api_token("ci", Role::Member, None, T0, Some(at(1000)))
        .await
        .unwrap();
    assert!(secret.expose().contains(&token.prefix));
    assert_eq!(token.last_used_at, None);

    let mut g = store.global();
    let found = g
        .authenticate_token(secret.expose(), at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.workspace_id, found.role),
        (token.id, ws.id, Role::Member)
    );
    assert_eq!(s.api_tokens().await.unwrap()[0].last_used_at, Some(at(10)));

    // Same prefix, wrong secret; garbage; expired.
    let forged = format!("bw_{}_{}", token.prefix, "0".repeat(40));
    assert_eq!(g.authenticate_token(&forged, at(10)).await.unwrap(), None);
    assert_eq!(g.authenticate_token("garbage", at(10)).await.unwrap(), None);
    assert_eq!(
        g.authenticate_token(secret.expose(), at(1000))
            .await
            .unwrap(),
        None
    );

    s.revoke_api_token(token.id, at(20)).await.unwrap();
    assert_eq!(
        g.authenticate_token(secret.expose(), at(30)).await.unwrap(),
        None
    );
}

async fn users_are_found_by_email_and_counted(store: Store) {
    let mut g = store.global();
    assert_eq!(g.user_count().await.unwrap(), 0);
    assert_eq!(g.user_by_email("ada@example.com").await.unwrap(), None);
    let ada = g
        .create_user("ada@example.com", "Ada", "hunter2hunter2", T0)
        .await
        .unwrap();
    g.create_user("bob@example.com", "Bob", "hunter2hunter2", T0)
        .await
        .unwrap();
    assert_eq!(g.user_count().await.unwrap(), 2);
    assert_eq!(
        g.user_by_email("  ADA@Example.com ").await.unwrap(),
        Some(ada)
    );
}

async fn setup_tokens_work_once_while_live(store: Store) {
    let mut g = store.global();
    let hour = Duration::from_secs(3600);
    let token = g.create_setup_token(T0, hour).await.unwrap();
    assert!(
        !format!("{token:?}").contains(token.expose()),
        "never printed"
    );
    let other = g.create_setup_token(T0, hour).await.unwrap();
    assert_ne!(token.expose(), other.expose());

    assert!(!g.consume_setup_token("not-a-token", at(1)).await.unwrap());
    assert!(
        !g.consume_setup_token(token.expose(), at(3600))
            .await
            .unwrap(),
        "expired at its end"
    );
    assert!(
        g.consume_setup_token(token.expose(), at(3599))
            .await
            .unwrap()
    );
    assert!(
        !g.consume_setup_token(token.expose(), at(3599))
            .await
            .unwrap(),
        "only once"
    );
    assert!(g.consume_setup_token(other.expose(), at(10)).await.unwrap());

    // Racing consumers: exactly one wins.
    let racer = g.create_setup_token(T0, hour).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        let secret = racer.expose().to_owned();
        tasks.push(crate::harness::spawn(async move {
            store
                .global()
                .consume_setup_token(&secret, at(5))
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}

async fn api_tokens_are_read_by_id_in_their_workspace(store: Store) {
    let mut g = store.global();
    let a = g.create_workspace("ta", "A", T0).await.unwrap();
    let b = g.create_workspace("tb", "B", T0).await.unwrap();
    let (token, _) = store
        .workspace(a.id)
        .create_api_token("ci", Role::Admin, None, T0, None)
        .await
        .unwrap();
    assert_eq!(
        store.workspace(a.id).api_token(token.id).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        store.workspace(b.id).api_token(token.id).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .workspace(a.id)
            .api_token(ApiTokenId(999_999))
            .await
            .unwrap(),
        None
    );
}

conformance!(
    users_are_found_by_email_and_counted,
    setup_tokens_work_once_while_live,
    api_tokens_are_read_by_id_in_their_workspace,
    workspaces_are_created_found_and_unique,
    users_log_in_with_argon2_hashes,
    sessions_expire_and_end,
    memberships_carry_roles,
    api_tokens_authenticate_by_hash,
);
