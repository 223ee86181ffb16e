//! Account mail: email verification, password reset and invitation links, sent through the
//! server's SMTP server (`[mail] smtp`, the same object as an email channel's `smtp`:
//! `host`, `port`, `tls`, `username`, `password`, `from`) with the notifier's SMTP client.
//!
//! Without `[mail] smtp`, nothing is sent: invitation pages show the link to copy, and the
//! password-reset page says that reset by email is not available on this server.

use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::notify::SendCtx;
use crate::notify::email::Smtp;
use crate::notify::fields::Fields;

/// `[mail]`: the SMTP server account mail goes through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `{host, port, tls, username, password, from}`; unset: no account mail.
    pub smtp: Option<serde_json::Value>,
}

impl MailConfig {
    /// The configured SMTP server, checked (422 naming `mail.smtp.<field>`).
    pub(crate) fn smtp(&self) -> Option<Result<Smtp, ApiError>> {
        self.smtp
            .as_ref()
            .map(|v| Fields::new(v, "mail.smtp", Smtp::FIELDS).and_then(|f| Smtp::parse(&f)))
    }
}

/// Whether account mail can be sent.
pub(crate) fn configured(state: &AppState) -> bool {
    matches!(state.config.mail.smtp(), Some(Ok(_)))
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct MailError(String);

/// Sends a plain-text message to `to`.
pub(crate) async fn send(
    state: &AppState,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), MailError> {
    let smtp = match state.config.mail.smtp() {
        Some(Ok(smtp)) => smtp,
        Some(Err(e)) => return Err(MailError(format!("[mail] smtp is invalid: {}", e.message))),
        None => return Err(MailError("no [mail] smtp server is configured".to_owned())),
    };
    let to = to
        .parse()
        .map_err(|e| MailError(format!("not an email address: {e}")))?;
    let id: u128 = rand::random();
    let message_id = format!("acct_{id:032x}");
    let message = smtp
        .builder(subject, &message_id)
        .to(to)
        .body(crate::notify::subscriber::plain_body(body.to_owned()))
        .map_err(|e| MailError(format!("cannot build the message: {e}")))?;
    let http = crate::notify::http::client(false);
    let ctx = SendCtx {
        http: &http,
        // The operator chose this server: it may well be on the local network.
        deny_private: false,
        timeout: state.config.notifier.send_timeout,
        now: state.clock.now_utc(),
        message_id: &message_id,
        event: "account",
    };
    smtp.deliver(&ctx, message).await.map_err(|e| {
        tracing::warn!(error = %e.message, "account mail was not sent");
        MailError(e.message)
    })
}
