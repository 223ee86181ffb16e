//! The dashboard's framework, sign-in and accounts over real HTTP on both backends: sign-in
//! and sign-out, CSRF and cross-site refusals, `next=` only to local paths, first-run set-up,
//! settings (workspace, members, invitations, API tokens), mail flows through a real SMTP
//! server (verification, password reset, invitations), two-factor sign-in with codes computed
//! here (RFC 6238) and the sessions list; and, in a headless browser, set-up → sign-in →
//! the monitors page at desktop and phone widths.

#[path = "../dash_common/mod.rs"]
mod common;

mod accounts;
mod auth;
mod browser;
mod settings;
