//! Email over SMTP (lettre), with STARTTLS, implicit TLS or, for local relays, none.
//!
//! Settings:
//! `{"to": ["ops@example.com"], "smtp": {"host": "smtp.example.com", "port": 587,
//! "tls": "starttls", "username": "...", "password": "...", "from": "Bit Wobbly <bw@example.com>"}}`
//! (`port` defaults to 587, 465 or 25 by `tls`, which defaults to `starttls`; `username` and
//! `password` come together). The message is plain text with the facts, the subject is the
//! alert's title, and the `Message-ID` is derived from the outbox row, so a repeated send is
//! recognisable as the same message.

use std::net::SocketAddr;

use bitwobbly_core::alert::Alert;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message, MessageBuilder};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use serde_json::Value;

use super::fields::Fields;
use super::text::{self, truncate_bytes, truncate_chars};
use super::{SendCtx, SendError};
use crate::error::{ApiError, error_chain};
use crate::netguard;

const SUBJECT_MAX: usize = 200;
const REASON_MAX: usize = 16 * 1024;
const MAX_RECIPIENTS: usize = 50;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    /// Plain connection upgraded with STARTTLS (required).
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
    /// No TLS, for a relay on the same host or network.
    None,
}

/// An email channel's settings: the recipients and the SMTP server.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    to: Vec<Mailbox>,
    smtp: Smtp,
}

/// An SMTP server and the sender address (a channel's `smtp` object; also the status-page
/// subscribers' server).
#[derive(Debug, Clone)]
pub(crate) struct Smtp {
    from: Mailbox,
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<(String, String)>,
}

impl Settings {
    pub(crate) fn parse(config: &Value) -> Result<Self, ApiError> {
        let f = Fields::new(config, "config", &["to", "smtp"])?;
        let to = match f.get("to") {
            Some(Value::Array(list)) if !list.is_empty() => list,
            Some(Value::Array(_)) | None => {
                return Err(f.invalid("to", "needs at least one address"));
            }
            Some(_) => return Err(f.invalid("to", "must be a list of addresses")),
        };
        if to.len() > MAX_RECIPIENTS {
            return Err(f.invalid("to", format!("at most {MAX_RECIPIENTS} addresses")));
        }
        let to = to
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let field = format!("to[{i}]");
                let s = v
                    .as_str()
                    .ok_or_else(|| f.invalid(&field, "must be a string"))?;
                s.parse::<Mailbox>()
                    .map_err(|e| f.invalid(&field, format!("is not an email address: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let smtp = Smtp::parse(&f.object("smtp", Smtp::FIELDS)?)?;
        Ok(Self { to, smtp })
    }

    pub(crate) async fn send(&self, ctx: &SendCtx<'_>, alert: &Alert) -> Result<(), SendError> {
        let mut builder = self.smtp.builder(&alert.title(), ctx.message_id);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .body(body(alert))
            .map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))?;
        self.smtp.deliver(ctx, message).await
    }
}

impl Smtp {
    /// The keys of an `smtp` object.
    pub(crate) const FIELDS: &[&str] = &["host", "port", "tls", "username", "password", "from"];

    /// Reads and checks an `smtp` object (`host`, `port`, `tls`, `username`, `password`,
    /// `from`).
    pub(crate) fn parse(smtp: &Fields<'_>) -> Result<Self, ApiError> {
        let host = smtp.string("host")?;
        if host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(smtp.invalid("host", "must be a host name or address"));
        }
        let tls = match smtp.opt_string("tls")? {
            None | Some("starttls") => TlsMode::StartTls,
            Some("implicit") => TlsMode::Implicit,
            Some("none") => TlsMode::None,
            Some(_) => {
                return Err(smtp.invalid("tls", "must be one of starttls, implicit, none"));
            }
        };
        let port = match smtp.get("port") {
            None => match tls {
                TlsMode::StartTls => 587,
                TlsMode::Implicit => 465,
                TlsMode::None => 25,
            },
            Some(v) => v
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| smtp.invalid("port", "must be a port number from 1 to 65535"))?,
        };
        let username = smtp.opt_string("username")?;
        let password = smtp.opt_string("password")?;
        let credentials = match (username, password) {
            (Some(u), Some(p)) => Some((u.to_owned(), p.to_owned())),
            (None, None) => None,
            (Some(_), None) => return Err(smtp.invalid("password", "is required with username")),
            (None, Some(_)) => return Err(smtp.invalid("username", "is required with password")),
        };
        let from = smtp
            .string("from")?
            .parse::<Mailbox>()
            .map_err(|e| smtp.invalid("from", format!("is not an email address: {e}")))?;
        Ok(Self {
            from,
            host: host.to_owned(),
            port,
            tls,
            credentials,
        })
    }

    /// A message from the sender with `subject` (cut to 200 characters), a `Message-ID`
    /// derived from `message_id`, and a plain-text body type; add recipients and the body.
    pub(crate) fn builder(&self, subject: &str, message_id: &str) -> MessageBuilder {
        Message::builder()
            .from(self.from.clone())
            .subject(truncate_chars(subject, SUBJECT_MAX))
            .message_id(Some(format!("<{message_id}@bitwobbly>")))
            .header(ContentType::TEXT_PLAIN)
    }

    /// Sends `message` through the server, within the context's timeout and target rule.
    pub(crate) async fn deliver(
        &self,
        ctx: &SendCtx<'_>,
        message: Message,
    ) -> Result<(), SendError> {
        // With private targets denied, resolve here, check every address and connect to a
        // checked one (the certificate is still verified against the host name).
        let server = if ctx.deny_private {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
                .await
                .map_err(|e| SendError::new(format!("cannot resolve {}: {e}", self.host)))?
                .collect();
            for a in &addrs {
                netguard::check_ip(true, a.ip()).map_err(|e| SendError::new(e.to_string()))?;
            }
            let first = addrs
                .first()
                .ok_or_else(|| SendError::new(format!("{} has no address", self.host)))?;
            first.ip().to_string()
        } else {
            self.host.clone()
        };
        let tls = match self.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(self.tls_parameters()?),
            TlsMode::Implicit => Tls::Wrapper(self.tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server)
            .port(self.port)
            .tls(tls)
            .timeout(Some(ctx.timeout));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let transport = builder.build();
        match tokio::time::timeout(ctx.timeout, transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(SendError::new(format!(
                "the SMTP server refused the message: {}",
                error_chain(&e)
            ))),
            Err(_) => Err(SendError::new("timed out talking to the SMTP server")),
        }
    }

    fn tls_parameters(&self) -> Result<TlsParameters, SendError> {
        TlsParameters::new(self.host.clone())
            .map_err(|e| SendError::permanent(format!("TLS settings: {}", error_chain(&e))))
    }
}

/// The plain-text body.
pub(crate) fn body(alert: &Alert) -> String {
    let mut s = alert.title();
    s.push_str("\n\n");
    for (k, v) in text::facts(alert) {
        let v = if k == text::reason_label(alert) {
            truncate_bytes(&v, REASON_MAX)
        } else {
            v
        };
        s.push_str(k);
        s.push_str(": ");
        s.push_str(&v);
        s.push('\n');
    }
    s.push_str("\n-- \nSent by Bit Wobbly\n");
    s
}
