//! Account security: single-use expiring links, TOTP state and steps, recovery codes,
//! invitations per workspace, and the sessions a user has open.

use std::time::Duration;

use bitwobbly_store::prelude::*;

use crate::harness::{T0, at, conformance};

fn link<'a>(purpose: TokenPurpose, user: Option<UserId>, email: &'a str) -> NewAccountToken<'a> {
    NewAccountToken {
        purpose,
        user_id: user,
        email,
        workspace_id: None,
        role: None,
        created_by: None,
    }
}

async fn links_work_once_for_their_purpose_while_live(store: Store) {
    let mut g = store.global();
    let user = g
        .create_user("ada@example.com", "Ada", "correct horse", T0)
        .await
        .unwrap();
    let hour = Duration::from_secs(3600);
    let (t, secret) = g
        .create_account_token(
            &link(
                TokenPurpose::ResetPassword,
                Some(user.id),
                " ADA@example.com ",
            ),
            T0,
            hour,
        )
        .await
        .unwrap();
    assert_eq!(t.email, "ada@example.com");
    assert_eq!(t.purpose, "reset_password");
    assert_eq!(t.expires_at, at(3600));
    assert!(!secret.expose().is_empty());
    // Looking does not use it; the wrong purpose or a forged secret finds nothing.
    assert!(
        g.account_token(secret.expose(), TokenPurpose::ResetPassword, at(1))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        g.account_token(secret.expose(), TokenPurpose::VerifyEmail, at(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        g.consume_account_token(secret.expose(), TokenPurpose::Invitation, at(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        g.account_token("forged", TokenPurpose::ResetPassword, at(1))
            .await
            .unwrap()
            .is_none()
    );
    // Expired: unusable.
    assert!(
        g.consume_account_token(secret.expose(), TokenPurpose::ResetPassword, at(3600))
            .await
            .unwrap()
            .is_none()
    );
    // Once.
    let used = g
        .consume_account_token(secret.expose(), TokenPurpose::ResetPassword, at(10))
        .await
        .unwrap();
    assert_eq!(used.as_ref().map(|u| u.user_id), Some(Some(user.id)));
    assert_eq!(used.unwrap().used_at, Some(at(10)));
    assert!(
        g.consume_account_token(secret.expose(), TokenPurpose::ResetPassword, at(11))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        g.account_token(secret.expose(), TokenPurpose::ResetPassword, at(11))
            .await
            .unwrap()
            .is_none()
    );
}

async fn invitations_belong_to_their_workspace(store: Store) {
    let mut g = store.global();
    let acme = g.create_workspace("acme", "Acme", T0).await.unwrap();
    let evil = g.create_workspace("evil", "Evil", T0).await.unwrap();
    let mut new = link(TokenPurpose::Invitation, None, "cy@example.com");
    new.workspace_id = Some(acme.id);
    new.role = Some(Role::Admin);
    let week = Duration::from_secs(7 * 86400);
    let (inv, secret) = g.create_account_token(&new, T0, week).await.unwrap();
    assert_eq!(inv.role, Some(Role::Admin));
    let listed = g.invitations(acme.id, at(1)).await.unwrap();
    assert_eq!(listed, vec![inv.clone()]);
    assert!(g.invitations(evil.id, at(1)).await.unwrap().is_empty());
    assert!(
        g.invitations(acme.id, at(7 * 86400))
            .await
            .unwrap()
            .is_empty(),
        "expired ones are not listed"
    );
    // Another workspace cannot withdraw it.
    assert!(!g.delete_invitation(evil.id, inv.id).await.unwrap());
    assert!(g.delete_invitation(acme.id, inv.id).await.unwrap());
    assert!(
        g.account_token(secret.expose(), TokenPurpose::Invitation, at(1))
            .await
            .unwrap()
            .is_none()
    );
    // Deleting a workspace deletes its invitations.
    let (_, secret) = g.create_account_token(&new, T0, week).await.unwrap();
    g.delete_workspace(acme.id).await.unwrap();
    assert!(
        g.account_token(secret.expose(), TokenPurpose::Invitation, at(1))
            .await
            .unwrap()
            .is_none()
    );
}

async fn totp_is_set_up_enabled_and_disabled(store: Store) {
    let mut g = store.global();
    let user = g
        .create_user("ada@example.com", "Ada", "correct horse", T0)
        .await
        .unwrap();
    let sec = g.user_security(user.id).await.unwrap().unwrap();
    assert_eq!(
        sec,
        UserSecurity {
            email_verified_at: None,
            totp_secret: None,
            totp_enabled_at: None
        }
    );
    assert!(g.user_security(UserId(999_999)).await.unwrap().is_none());
    g.set_email_verified(user.id, at(5)).await.unwrap();
    g.set_email_verified(user.id, at(9)).await.unwrap();
    assert_eq!(
        g.user_security(user.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at,
        Some(at(5)),
        "the first time stays"
    );

    // Enabling needs a set-up first.
    assert!(!g.enable_totp(user.id, &[], at(1)).await.unwrap());
    assert!(g.begin_totp(user.id, "JBSWY3DPEHPK3PXP").await.unwrap());
    let codes = vec!["aaaa-bbbb".to_owned(), "cccc-dddd".to_owned()];
    assert!(g.enable_totp(user.id, &codes, at(2)).await.unwrap());
    let sec = g.user_security(user.id).await.unwrap().unwrap();
    assert_eq!(sec.totp_secret.as_deref(), Some("JBSWY3DPEHPK3PXP"));
    assert_eq!(sec.totp_enabled_at, Some(at(2)));
    // While on, a new set-up cannot replace the secret.
    assert!(!g.begin_totp(user.id, "OTHER").await.unwrap());
    assert!(!g.enable_totp(user.id, &codes, at(3)).await.unwrap());

    // Steps only go forward.
    assert!(g.use_totp_step(user.id, 100).await.unwrap());
    assert!(!g.use_totp_step(user.id, 100).await.unwrap());
    assert!(!g.use_totp_step(user.id, 99).await.unwrap());
    assert!(g.use_totp_step(user.id, 101).await.unwrap());

    // Recovery codes: once each, case and dashes ignored, per user.
    let bob = g
        .create_user("bob@example.com", "Bob", "correct horse", T0)
        .await
        .unwrap();
    assert!(
        !g.use_recovery_code(bob.id, "aaaa-bbbb", at(4))
            .await
            .unwrap()
    );
    assert_eq!(g.recovery_codes_left(user.id).await.unwrap(), 2);
    assert!(
        g.use_recovery_code(user.id, "AAAABBBB", at(4))
            .await
            .unwrap()
    );
    assert!(
        !g.use_recovery_code(user.id, "aaaa-bbbb", at(5))
            .await
            .unwrap()
    );
    assert!(
        !g.use_recovery_code(user.id, "zzzz-zzzz", at(5))
            .await
            .unwrap()
    );
    assert_eq!(g.recovery_codes_left(user.id).await.unwrap(), 1);

    g.disable_totp(user.id).await.unwrap();
    let sec = g.user_security(user.id).await.unwrap().unwrap();
    assert_eq!((sec.totp_secret, sec.totp_enabled_at), (None, None));
    assert_eq!(g.recovery_codes_left(user.id).await.unwrap(), 0);
    // A later set-up starts afresh, steps included.
    assert!(g.begin_totp(user.id, "NEWSECRET").await.unwrap());
    assert!(g.enable_totp(user.id, &[], at(6)).await.unwrap());
    assert!(g.use_totp_step(user.id, 50).await.unwrap());
}

async fn sessions_are_listed_and_ended_per_user(store: Store) {
    let mut g = store.global();
    let ada = g
        .create_user("ada@example.com", "Ada", "correct horse", T0)
        .await
        .unwrap();
    let eve = g
        .create_user("eve@example.com", "Eve", "correct horse", T0)
        .await
        .unwrap();
    let day = Duration::from_secs(86400);
    let (s1, _) = g.create_session(ada.id, T0, day).await.unwrap();
    let (s2, secret2) = g.create_session(ada.id, at(10), day).await.unwrap();
    let (s3, _) = g.create_session(eve.id, T0, day).await.unwrap();
    g.set_session_client(s1.id, &"L".repeat(1000), "127.0.0.1")
        .await
        .unwrap();
    g.session(secret2.expose(), at(20)).await.unwrap();
    let list = g.sessions_of(ada.id, at(30)).await.unwrap();
    assert_eq!(
        list.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![s2.id, s1.id],
        "most recently seen first"
    );
    assert_eq!(list[1].user_agent.len(), 300, "cut to 300 characters");
    assert_eq!(list[1].ip, "127.0.0.1");
    assert!(
        g.sessions_of(ada.id, at(86_400 + 10))
            .await
            .unwrap()
            .is_empty(),
        "expired ones are not listed"
    );
    // Eve cannot end Ada's session.
    assert!(!g.end_session(eve.id, s1.id).await.unwrap());
    assert!(g.end_session(ada.id, s1.id).await.unwrap());
    assert!(!g.end_session(ada.id, s1.id).await.unwrap());
    let (_s4, _) = g.create_session(ada.id, at(40), day).await.unwrap();
    assert_eq!(g.end_other_sessions(ada.id, Some(s2.id)).await.unwrap(), 1);
    assert_eq!(g.sessions_of(ada.id, at(50)).await.unwrap().len(), 1);
    assert_eq!(g.end_other_sessions(ada.id, None).await.unwrap(), 1);
    assert!(g.sessions_of(ada.id, at(50)).await.unwrap().is_empty());
    assert_eq!(
        g.sessions_of(eve.id, at(50)).await.unwrap()[0].id,
        s3.id,
        "Eve's stays"
    );
}

conformance!(
    links_work_once_for_their_purpose_while_live,
    invitations_belong_to_their_workspace,
    totp_is_set_up_enabled_and_disabled,
    sessions_are_listed_and_ended_per_user,
);
