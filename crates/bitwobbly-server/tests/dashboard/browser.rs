//! In headless Chromium: first-run set-up → the monitors page → sign out → sign in again,
//! at desktop and phone widths; the navigation collapses into a menu on a phone, nothing
//! scrolls sideways, the skip link leads to the content. Screenshots are saved under
//! `target/test-artifacts/dashboard/`.

use bitwobbly_test_support::browser::{Browser, eventually};
use bitwobbly_test_support::db::Backend;

use crate::common::DashServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_up_and_sign_in_in_a_real_browser() {
    let server = DashServer::start(Backend::Sqlite).await;
    let link = server.setup_url.clone().expect("a set-up link");
    let token = link.split_once("?token=").unwrap().1.to_owned();
    let b = Browser::start_in("dashboard").await;

    for (width, height, name) in [(1280, 800, "desktop"), (390, 844, "phone")] {
        b.resize(width, height).await;
        if name == "desktop" {
            // First run: the dashboard's set-up form with the printed token.
            b.open(&server.url(&format!("/app/setup?token={token}")))
                .await;
            assert_eq!(b.text("h1").await, "Set up Bit Wobbly");
            b.screenshot(&format!("setup-{name}.png")).await;
            b.fill("#email", "ada@example.com").await;
            b.fill("#name", "Ada").await;
            b.fill("#password", "correct horse").await;
            b.fill("#workspace", "Acme").await;
            b.click("form[action='/app/setup'] button[type=submit]")
                .await;
        } else {
            b.open(&server.url("/app/login")).await;
            assert_eq!(b.text("h1").await, "Sign in");
            let overflow = b
                .script("return document.documentElement.scrollWidth - window.innerWidth")
                .await;
            assert!(
                overflow.as_i64().unwrap() <= 0,
                "{name}: the sign-in page fits"
            );
            b.screenshot(&format!("login-{name}.png")).await;
            b.fill("#email", "ada@example.com").await;
            b.fill("#password", "correct horse").await;
            b.click("form[action='/app/login'] button[type=submit]")
                .await;
        }
        eventually("the monitors page", || async {
            b.url()
                .await
                .ends_with("/app/w/acme/monitors")
                .then_some(())
        })
        .await;
        b.wait_for("main").await;
        let overflow = b
            .script("return document.documentElement.scrollWidth - window.innerWidth")
            .await;
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{name}: no sideways scrolling"
        );
        // The skip link is the first thing a keyboard reaches and leads to the content.
        b.keys("\u{E004}").await;
        let focused = b.script("return document.activeElement.className").await;
        assert_eq!(focused.as_str(), Some("skip"), "{name}");
        // The section navigation: a side bar on a desktop, a menu on a phone.
        let side = b.visible("nav.side").await;
        let menu = b.visible("details.phone-nav > summary").await;
        if name == "desktop" {
            assert!(side && !menu, "desktop: side navigation");
            let current = b.text("nav.side a[aria-current=page]").await;
            assert_eq!(current, "Monitors");
        } else {
            assert!(!side && menu, "phone: the navigation collapses into a menu");
            b.click("details.phone-nav > summary").await;
            assert!(
                b.visible("details.phone-nav a[href='/app/w/acme/settings']")
                    .await
            );
        }
        b.screenshot(&format!("monitors-{name}.png")).await;
        // Sign out from the user menu.
        b.click("details.usermenu > summary").await;
        b.click("details.usermenu form[action='/app/logout'] button")
            .await;
        eventually("the sign-in page after signing out", || async {
            b.url().await.contains("/app/login").then_some(())
        })
        .await;
        assert!(b.text("main").await.contains("You are signed out."));
    }
    b.quit().await;
    server.stop().await;
}
