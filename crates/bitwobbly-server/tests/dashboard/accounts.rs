//! Accounts end to end: password reset, email verification and invitations through a real
//! SMTP server (aiosmtpd); two-factor sign-in with codes computed here (RFC 6238); the
//! sessions list; the password form.

use bitwobbly_core::totp;
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::Backend;
use bitwobbly_test_support::smtp::{Smtp, unfold};
use serde_json::json;

use crate::common::{Client, DashServer};

/// A server whose account mail goes to `smtp`.
async fn with_mail(backend: Backend, smtp: &Smtp) -> DashServer {
    let port = smtp.port;
    DashServer::start_with(backend, move |c| {
        c.mail.smtp = Some(json!({"host": "127.0.0.1", "port": port, "tls": "none",
                                  "from": "Bit Wobbly <bw@example.test>"}));
    })
    .await
}

/// The first link in a raw message that starts with `prefix`, as a path of the server.
fn link_in(server: &DashServer, mail: &str, prefix: &str) -> String {
    let mail = unfold(mail);
    let full = format!("{}{prefix}", server.base);
    let start = mail
        .find(&full)
        .unwrap_or_else(|| panic!("no {full} link in\n{mail}"));
    let url = mail[start..].split(char::is_whitespace).next().unwrap();
    server.path_of(url)
}

/// The TOTP code of a base32 secret `offset` seconds from now.
fn code_at(secret: &str, offset: u64) -> String {
    let key = totp::base32_decode(secret).expect("a base32 secret");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp::code(&key, now + offset)
}

/// The current TOTP code of a base32 secret.
fn code_now(secret: &str) -> String {
    code_at(secret, 0)
}

async fn password_reset_by_mail(backend: Backend) {
    let smtp = Smtp::start(&[]).await;
    let server = with_mail(backend, &smtp).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    // A session open elsewhere is signed out by the reset.
    let other = server.signed_in("ada@example.com", "correct horse").await;

    let c = server.client();
    let form = c.get("/app/forgot").await;
    assert_eq!(form.status, 200);
    assert!(form.has("name=\"email\""));
    let bad = c
        .post_form("/app/forgot", &[("email", "not-an-address")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("email").unwrap().contains("email"));
    // Unknown and known addresses get the same answer; only the known one gets mail.
    let unknown = c
        .post_form("/app/forgot", &[("email", "nobody@example.com")])
        .await;
    let known = c
        .post_form("/app/forgot", &[("email", "Ada@Example.com")])
        .await;
    assert_eq!(unknown.status, known.status);
    assert_eq!(
        unknown.body.replace("nobody@example.com", ""),
        known.body.replace("Ada@Example.com", "")
    );
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert!(
        unfold(&mails[0]).contains("To: ada@example.com"),
        "{}",
        mails[0]
    );
    let reset = link_in(&server, &mails[0], "/app/reset?token=");

    let page = c.get(&reset).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page.input_value("token").unwrap();
    let short = c
        .post_form(
            "/app/reset",
            &[
                ("token", &token),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.field_error("password").unwrap().contains("password"));
    let differ = c
        .post_form(
            "/app/reset",
            &[
                ("token", &token),
                ("password", "new password 1"),
                ("confirm", "new password 2"),
            ],
        )
        .await;
    assert_eq!(differ.status, 422);
    assert!(differ.field_error("confirm").is_some());
    let done = c
        .post_form(
            "/app/reset",
            &[
                ("token", &token),
                ("password", "new password 1"),
                ("confirm", "new password 1"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/app/login");
    // Single use; the other session is gone; the old password no longer works.
    assert_eq!(c.get(&reset).await.status, 404);
    let again = c
        .post_form(
            "/app/reset",
            &[
                ("token", &token),
                ("password", "third password"),
                ("confirm", "third password"),
            ],
        )
        .await;
    assert_eq!(again.status, 404);
    assert_eq!(
        other.get("/app/account").await.status,
        303,
        "signed out by the reset"
    );
    assert_eq!(
        server
            .client()
            .login("ada@example.com", "correct horse")
            .await
            .status,
        401
    );
    assert_eq!(
        server
            .client()
            .login("ada@example.com", "new password 1")
            .await
            .status,
        303
    );
    // A forged token is refused.
    assert_eq!(c.get("/app/reset?token=deadbeef").await.status, 404);
    server.stop().await;
    smtp.stop().await;
}

async fn reset_without_mail_says_so_and_is_rate_limited(backend: Backend) {
    let server = DashServer::start(backend).await;
    let page = server.client().get("/app/forgot").await;
    assert!(page.has("not set up on this server"));
    assert!(!page.has("name=\"email\""));
    server.stop().await;

    let smtp = Smtp::start(&[]).await;
    let port = smtp.port;
    let server = DashServer::start_with(backend, move |c| {
        c.mail.smtp = Some(
            json!({"host": "127.0.0.1", "port": port, "tls": "none", "from": "bw@example.test"}),
        );
        c.auth.login_attempts_per_minute = 3;
    })
    .await;
    let c = server.client();
    c.get("/app/forgot").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            c.post_form("/app/forgot", &[("email", "ada@example.com")])
                .await
                .status,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    server.stop().await;
    smtp.stop().await;
}

async fn email_verification_by_mail(backend: Backend) {
    let smtp = Smtp::start(&[]).await;
    let server = with_mail(backend, &smtp).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    let c = server.signed_in("ada@example.com", "correct horse").await;
    let page = c.get("/app/account").await;
    assert!(page.has("not verified"));
    let sent = c.post_form("/app/account/verify-email", &[]).await;
    assert_eq!(sent.status, 303);
    let mails = smtp.wait_for(1).await;
    let verify = link_in(&server, &mails[0], "/app/verify?token=");
    let done = c.get(&verify).await;
    assert_eq!(done.status, 303);
    let page = c.get("/app/account").await;
    assert!(page.has("Your email address is verified."));
    assert!(!page.has("not verified"));
    // Single use.
    assert_eq!(c.get(&verify).await.status, 404);
    server.stop().await;
    smtp.stop().await;
}

async fn invitations_by_mail_create_accounts_and_join_existing_ones(backend: Backend) {
    let smtp = Smtp::start(&[]).await;
    let server = with_mail(backend, &smtp).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    server
        .user("bob@example.com", "correct horse", "bobs")
        .await;
    let ada = server.signed_in("ada@example.com", "correct horse").await;
    let page = ada.get("/app/w/acme/settings/invitations").await;
    assert_eq!(page.status, 200);
    // Invalid input names the field.
    let bad = ada
        .post_form(
            "/app/w/acme/settings/invitations",
            &[("email", "nope"), ("role", "member")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("email").unwrap().contains("email"));
    let bad = ada
        .post_form(
            "/app/w/acme/settings/invitations",
            &[("email", "cy@example.com"), ("role", "king")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("role").unwrap().contains("role"));
    let member = ada
        .post_form(
            "/app/w/acme/settings/invitations",
            &[("email", "ada@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(member.status, 409);
    assert!(member.field_error("email").is_some());

    // A new address: the mail's link creates the account.
    let sent = ada
        .post_form(
            "/app/w/acme/settings/invitations",
            &[("email", "Cy@Example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let listed = ada.get("/app/w/acme/settings/invitations").await;
    assert!(listed.has("cy@example.com"));
    let mails = smtp.wait_for(1).await;
    let accept = link_in(&server, &mails[0], "/app/signup?invite=");
    let cy = server.client();
    let form = cy.get(&accept).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.has("cy@example.com"));
    let invite = form.input_value("invite").unwrap();
    let short = cy
        .post_form(
            "/app/signup",
            &[("invite", &invite), ("name", "Cy"), ("password", "short")],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.field_error("password").is_some());
    let joined = cy
        .post_form(
            "/app/signup",
            &[
                ("invite", &invite),
                ("name", "Cy"),
                ("password", "cy password"),
            ],
        )
        .await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(joined.location(), "/app/w/acme/monitors");
    assert!(cy.get("/app/account").await.has("verified"));
    assert_eq!(cy.get("/app/w/acme/settings").await.status, 200);
    assert!(
        cy.get("/app/w/acme/settings")
            .await
            .has("your role: member")
    );
    // Used up.
    assert_eq!(server.client().get(&accept).await.status, 404);

    // An existing user signs in and joins.
    ada.post_form(
        "/app/w/acme/settings/invitations",
        &[("email", "bob@example.com"), ("role", "viewer")],
    )
    .await;
    let mails = smtp.wait_for(2).await;
    let accept = link_in(&server, &mails[1], "/app/signup?invite=");
    let anon = server.client().get(&accept).await;
    assert!(
        anon.has("sign in"),
        "an existing account is asked to sign in"
    );
    let bob = server.signed_in("bob@example.com", "correct horse").await;
    let form = bob.get(&accept).await;
    assert!(form.has("signed in as bob@example.com"));
    let invite = form.input_value("invite").unwrap();
    let joined = bob.post_form("/app/signup", &[("invite", &invite)]).await;
    assert_eq!(joined.status, 303);
    assert!(
        bob.get("/app/w/acme/settings")
            .await
            .has("your role: viewer")
    );
    // A viewer cannot invite, see invitations or tokens.
    assert_eq!(
        bob.get("/app/w/acme/settings/invitations").await.status,
        403
    );
    assert_eq!(bob.get("/app/w/acme/settings/tokens").await.status, 403);
    let refused = bob
        .post_form(
            "/app/w/acme/settings/invitations",
            &[("email", "x@example.com"), ("role", "viewer")],
        )
        .await;
    assert_eq!(refused.status, 403);
    server.stop().await;
    smtp.stop().await;
}

async fn invitation_link_shown_without_mail_and_withdrawn(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    server
        .member("max@example.com", "correct horse", "acme", Role::Admin)
        .await;
    let ada = server.signed_in("ada@example.com", "correct horse").await;
    ada.get("/app/w/acme/settings/invitations").await;
    let made = ada
        .post_form(
            "/app/w/acme/settings/invitations",
            &[("email", "cy@example.com"), ("role", "admin")],
        )
        .await;
    assert_eq!(made.status, 201);
    let url = made.copy_text().expect("the link to copy");
    let path = server.path_of(&url);
    assert_eq!(server.client().get(&path).await.status, 200);
    // Only an owner hands out the owner role.
    let max = server.signed_in("max@example.com", "correct horse").await;
    max.get("/app/w/acme/settings/invitations").await;
    let owner = max
        .post_form(
            "/app/w/acme/settings/invitations",
            &[("email", "dee@example.com"), ("role", "owner")],
        )
        .await;
    assert_eq!(owner.status, 422);
    assert!(owner.field_error("role").unwrap().contains("owner"));
    // Withdraw it: the link stops working.
    let id = server
        .store()
        .global()
        .invitations(
            server.workspace("acme").await.id,
            bitwobbly_server::Clock.now(),
        )
        .await
        .unwrap()[0]
        .id;
    let gone = ada
        .post_form(
            &format!("/app/w/acme/settings/invitations/{id}/delete"),
            &[],
        )
        .await;
    assert_eq!(gone.status, 303);
    assert_eq!(server.client().get(&path).await.status, 404);
    server.stop().await;
}

/// Turns two-factor sign-in on for the signed-in client; returns the secret and the codes.
async fn turn_on_totp(c: &Client) -> (String, Vec<String>) {
    let page = c.get("/app/account/totp").await;
    assert_eq!(page.status, 200);
    let at = page.body.find("id=\"totp-secret\">").expect("the secret") + 17;
    let secret = page.body[at..].split('<').next().unwrap().to_owned();
    let wrong = c
        .post_form("/app/account/totp/enable", &[("code", "000000")])
        .await;
    // (000000 could be right once in a million tries.)
    if wrong.status != 200 {
        assert_eq!(wrong.status, 422);
        assert!(wrong.field_error("code").unwrap().contains("code"));
    }
    let on = loop {
        let page = c
            .post_form("/app/account/totp/enable", &[("code", &code_now(&secret))])
            .await;
        if page.status == 200 {
            break page;
        }
    };
    let codes: Vec<String> = on
        .body
        .match_indices("<li><code>")
        .map(|(i, _)| on.body[i + 10..].split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn two_factor_sign_in(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    let c = server.signed_in("ada@example.com", "correct horse").await;
    let (secret, codes) = turn_on_totp(&c).await;
    assert!(c.get("/app/account").await.has("10 recovery codes left"));

    // The password alone opens no session, and the pending step acts nowhere.
    let t = server.client();
    let step = t.login("ada@example.com", "correct horse").await;
    assert_eq!(step.status, 303);
    assert!(step.location().starts_with("/app/login/totp"));
    assert!(t.cookie("bitwobbly_session").is_none());
    assert_eq!(t.get("/app/account").await.status, 303);
    let form = t.get(&step.location()).await;
    assert_eq!(form.status, 200);
    let wrong = t.post_form("/app/login/totp", &[("code", "12")]).await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.field_error("code").is_some());
    // The code that turned it on was used: each code works once. The next step's code is
    // accepted now (one step of clock difference is allowed).
    let next_code = code_at(&secret, 30);
    let ok = t
        .post_form("/app/login/totp", &[("code", &next_code)])
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let replay = server.client();
    replay.login("ada@example.com", "correct horse").await;
    replay.get("/app/login/totp").await;
    let again = replay
        .post_form("/app/login/totp", &[("code", &next_code)])
        .await;
    assert_eq!(again.status, 422, "a code works once");
    assert!(again.field_error("code").unwrap().contains("used already"));
    assert!(t.cookie("bitwobbly_session").is_some());
    assert!(t.cookie("bitwobbly_2fa").is_none());
    assert_eq!(t.get("/app/account").await.status, 200);

    // A recovery code works once.
    let r = server.client();
    r.login("ada@example.com", "correct horse").await;
    r.get("/app/login/totp").await;
    let ok = r
        .post_form(
            "/app/login/totp",
            &[("code", ""), ("recovery_code", &codes[0].to_uppercase())],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let r2 = server.client();
    r2.login("ada@example.com", "correct horse").await;
    r2.get("/app/login/totp").await;
    let used = r2
        .post_form(
            "/app/login/totp",
            &[("code", ""), ("recovery_code", &codes[0])],
        )
        .await;
    assert_eq!(used.status, 422);
    assert!(used.field_error("recovery_code").is_some());
    assert!(c.get("/app/account").await.has("9 recovery codes left"));

    // Turning it off needs the password.
    c.get("/app/account/totp").await;
    let bad = c
        .post_form("/app/account/totp/disable", &[("password", "nope")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("password").is_some());
    let off = c
        .post_form(
            "/app/account/totp/disable",
            &[("password", "correct horse")],
        )
        .await;
    assert_eq!(off.status, 303);
    assert_eq!(
        server
            .client()
            .login("ada@example.com", "correct horse")
            .await
            .location(),
        "/app"
    );
    server.stop().await;
}

async fn sessions_are_listed_and_signed_out(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    server
        .user("eve@example.com", "correct horse", "evil")
        .await;
    let laptop = server.client();
    laptop.always_send("user-agent", "Laptop Browser/1.0");
    laptop.login("ada@example.com", "correct horse").await;
    let phone = server.client();
    phone.always_send("user-agent", "Phone Browser/2.0");
    phone.login("ada@example.com", "correct horse").await;
    let page = laptop.get("/app/account").await;
    assert!(page.has("Laptop Browser/1.0") && page.has("Phone Browser/2.0"));
    assert!(page.has("127.0.0.1"));
    assert!(page.has("this session"));
    // The phone's session id, from the sign-out form on the laptop's page.
    let at = page.body.find("/app/account/sessions/").unwrap() + 22;
    let id: String = page.body[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    // Eve cannot end Ada's session.
    let eve = server.signed_in("eve@example.com", "correct horse").await;
    eve.get("/app/account").await;
    let refused = eve
        .post_form(&format!("/app/account/sessions/{id}/end"), &[])
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(phone.get("/app/account").await.status, 200);
    let ended = laptop
        .post_form(&format!("/app/account/sessions/{id}/end"), &[])
        .await;
    assert_eq!(ended.status, 303);
    assert_eq!(
        phone.get("/app/account").await.status,
        303,
        "the phone is signed out"
    );
    assert_eq!(laptop.get("/app/account").await.status, 200);
    // Hostile ids.
    for bad in ["abc", "-1", "99999999999999999999"] {
        let p = laptop
            .post_form(&format!("/app/account/sessions/{bad}/end"), &[])
            .await;
        assert_eq!(p.status, 404, "{bad}");
    }
    // Sign out all the others.
    let third = server.signed_in("ada@example.com", "correct horse").await;
    laptop.get("/app/account").await;
    assert_eq!(
        laptop
            .post_form("/app/account/sessions/end-others", &[])
            .await
            .status,
        303
    );
    assert_eq!(third.get("/app/account").await.status, 303);
    assert_eq!(laptop.get("/app/account").await.status, 200);
    server.stop().await;
}

async fn password_change_needs_the_current_one(backend: Backend) {
    let server = DashServer::start(backend).await;
    server
        .user("ada@example.com", "correct horse", "acme")
        .await;
    let c = server.signed_in("ada@example.com", "correct horse").await;
    let other = server.signed_in("ada@example.com", "correct horse").await;
    c.get("/app/account").await;
    let wrong = c
        .post_form(
            "/app/account/password",
            &[
                ("current", "nope"),
                ("password", "new password"),
                ("confirm", "new password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.field_error("current").is_some());
    let short = c
        .post_form(
            "/app/account/password",
            &[
                ("current", "correct horse"),
                ("password", "x"),
                ("confirm", "x"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.field_error("password").is_some());
    let ok = c
        .post_form(
            "/app/account/password",
            &[
                ("current", "correct horse"),
                ("password", "new password"),
                ("confirm", "new password"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(
        c.get("/app/account").await.status,
        200,
        "this session stays"
    );
    assert_eq!(
        other.get("/app/account").await.status,
        303,
        "the others end"
    );
    assert_eq!(
        server
            .client()
            .login("ada@example.com", "new password")
            .await
            .status,
        303
    );
    server.stop().await;
}

bitwobbly_test_support::both_backends!(crate::common::run;
    password_reset_by_mail,
    reset_without_mail_says_so_and_is_rate_limited,
    email_verification_by_mail,
    invitations_by_mail_create_accounts_and_join_existing_ones,
    invitation_link_shown_without_mail_and_withdrawn,
    two_factor_sign_in,
    sessions_are_listed_and_signed_out,
    password_change_needs_the_current_one,
);
