//! Messages to status-page subscribers, delivered through the same outbox as channel alerts.
//!
//! An outbox row whose target is a subscriber (not a channel) holds a [`SubscriberMessage`]:
//! the confirmation request of a new email subscriber, or an incident created, updated or
//! resolved on the page. At send time the subscriber and its page are read again, so an
//! unsubscribed address gets nothing (its rows are deleted with it) and the links use the
//! page's current slug:
//!
//! - email goes through the server's subscriber SMTP server (`[pages.subscribers.smtp]`) as
//!   plain text; every message ends with a one-click unsubscribe link and carries
//!   `List-Unsubscribe` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058);
//! - a webhook gets the JSON below, with the Standard Webhooks `webhook-id` and
//!   `webhook-timestamp` headers (unsigned: subscribers have no secret); a `410 Gone` answer
//!   unsubscribes it.
//!
//! ```json
//! {"type": "incident.created", "page": {"id": 1, "slug": "acme", "title": "Acme", "url": "..."},
//!  "incident": {"id": 7, "title": "API outage", "status": "investigating", "impact": "major",
//!  "message": "...", "url": ".../incidents/7", "at": "2025-01-01T10:00:00Z"},
//!  "unsubscribe_url": "..."}
//! ```

use bitwobbly_store::model::{Notification, StatusPage, Subscriber};
use bitwobbly_store::prelude::*;
use lettre::message::header::{ContentTransferEncoding, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::deliver::{Outcome, give_up, record};
use super::email::Smtp;
use super::fields::Fields;
use super::{SendCtx, SendError, http, webhook};
use crate::error::{ApiError, error_chain};
use crate::pages::feeds::status_word;
use crate::state::AppState;

/// What a subscriber is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MessageKind {
    /// Please confirm the subscription (email double opt-in).
    Confirm,
    /// The subscription works (a webhook's first ping).
    Subscribed,
    /// An incident was opened (or published) on the page.
    IncidentCreated,
    /// An incident changed.
    IncidentUpdated,
    /// An incident was resolved.
    IncidentResolved,
}

impl MessageKind {
    /// The event name (`type` of a webhook body, `event` of the outbox row).
    pub(crate) fn event(self) -> &'static str {
        match self {
            Self::Confirm => "subscription.confirm",
            Self::Subscribed => "subscription.created",
            Self::IncidentCreated => "incident.created",
            Self::IncidentUpdated => "incident.updated",
            Self::IncidentResolved => "incident.resolved",
        }
    }
}

/// The incident facts of a message, as they were when it was enqueued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IncidentFacts {
    pub(crate) id: IncidentId,
    pub(crate) title: String,
    pub(crate) status: IncidentStatus,
    pub(crate) impact: Impact,
    /// The update's message.
    pub(crate) message: String,
    pub(crate) at: Timestamp,
}

/// An outbox row's payload for a subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SubscriberMessage {
    pub(crate) kind: MessageKind,
    pub(crate) incident: Option<IncidentFacts>,
}

/// The SMTP server of subscribers' mail, from `[pages.subscribers.smtp]` (checked like an
/// email channel's `smtp` object).
///
/// # Errors
///
/// 422 naming the field (`pages.subscribers.smtp.port`, ...).
pub(crate) fn smtp_from_config(value: &Value) -> Result<Smtp, ApiError> {
    Smtp::parse(&Fields::new(value, "pages.subscribers.smtp", Smtp::FIELDS)?)
}

/// The links of a message.
struct Links {
    page: String,
    unsubscribe: String,
    confirm: String,
}

impl Links {
    fn new(public_url: &str, page: &StatusPage, sub: &Subscriber) -> Self {
        let page_url = format!("{public_url}/s/{}", page.slug);
        Self {
            unsubscribe: format!("{page_url}/unsubscribe?token={}", sub.token),
            confirm: format!("{page_url}/subscribe/confirm?token={}", sub.token),
            page: page_url,
        }
    }

    fn incident(&self, id: IncidentId) -> String {
        format!("{}/incidents/{}", self.page, id.0)
    }
}

/// The email subject.
fn subject(page: &StatusPage, msg: &SubscriberMessage) -> String {
    match (&msg.incident, msg.kind) {
        (_, MessageKind::Confirm) => format!("Confirm your subscription to {}", page.title),
        (_, MessageKind::Subscribed) | (None, _) => {
            format!("You are subscribed to {}", page.title)
        }
        (Some(i), _) => format!("[{}] {}: {}", page.title, i.title, status_word(i.status)),
    }
}

/// The plain-text body; always ends with the unsubscribe link.
fn email_body(page: &StatusPage, msg: &SubscriberMessage, links: &Links) -> String {
    let mut s = String::new();
    match (&msg.incident, msg.kind) {
        (_, MessageKind::Confirm) => {
            s.push_str(&format!(
                "Someone, hopefully you, asked to receive the status updates of {} at this \
                 address.\n\nConfirm the subscription:\n{}\n\nIf it was not you, ignore this \
                 message: nothing more is sent unless the link above is opened.\n",
                page.title, links.confirm
            ));
        }
        (Some(i), _) => {
            s.push_str(&i.title);
            s.push_str("\n\n");
            s.push_str(&format!(
                "Status: {}\nImpact: {}\nAt: {}\n\n",
                status_word(i.status),
                i.impact.as_str(),
                crate::pages::feeds::rfc3339(i.at)
            ));
            if !i.message.is_empty() {
                s.push_str(&super::text::truncate_bytes(&i.message, 16 * 1024));
                s.push_str("\n\n");
            }
            s.push_str(&format!("Details: {}\n", links.incident(i.id)));
        }
        (None, _) => {
            s.push_str(&format!(
                "You will receive the status updates of {}.\n{}\n",
                page.title, links.page
            ));
        }
    }
    s.push_str(&format!(
        "\n-- \nYou receive this because you subscribed to {} ({}).\nUnsubscribe with one \
         click: {}\n",
        page.title, links.page, links.unsubscribe
    ));
    s
}

/// The text as 7-bit when it is plain ASCII with lines within RFC 5322's 998 octets, so
/// links stay whole in the raw message (lettre would pick quoted-printable for any line over
/// 76 characters); quoted-printable otherwise.
pub(crate) fn plain_body(text: String) -> Body {
    let crlf = text
        .replace("\r\n", "\n")
        .replace('\r', "")
        .replace('\n', "\r\n");
    let plain =
        crlf.is_ascii() && !crlf.contains('\0') && crlf.split("\r\n").all(|line| line.len() <= 998);
    if plain {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new_with_encoding(crlf, ContentTransferEncoding::QuotedPrintable)
            .unwrap_or_else(Body::new)
    }
}

/// The webhook body.
fn webhook_body(page: &StatusPage, msg: &SubscriberMessage, links: &Links) -> Vec<u8> {
    let mut body = json!({
        "type": msg.kind.event(),
        "page": {"id": page.id.0, "slug": page.slug, "title": page.title, "url": links.page},
        "unsubscribe_url": links.unsubscribe,
    });
    if let Some(i) = &msg.incident {
        body["incident"] = json!({
            "id": i.id.0,
            "title": i.title,
            "status": i.status.as_str(),
            "impact": i.impact.as_str(),
            "message": super::text::truncate_bytes(&i.message, 8 * 1024),
            "url": links.incident(i.id),
            "at": crate::pages::feeds::rfc3339(i.at),
        });
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Sends `msg` to `sub` (of `page`) now. `message_id` is the idempotency key (`msg_<outbox
/// id>` for outbox rows).
///
/// # Errors
///
/// What the receiver or the SMTP server answered; a permanent error when email is not set up
/// on this server or the stored target no longer parses.
pub(crate) async fn send(
    state: &AppState,
    page: &StatusPage,
    sub: &Subscriber,
    msg: &SubscriberMessage,
    message_id: &str,
) -> Result<(), SendError> {
    let links = Links::new(&state.config.public_url(), page, sub);
    let http = http::client(state.config.targets.deny_private);
    let ctx = SendCtx {
        http: &http,
        deny_private: state.config.targets.deny_private,
        timeout: state.config.notifier.send_timeout,
        now: state.clock.now_utc(),
        message_id,
        event: msg.kind.event(),
    };
    match sub.kind {
        SubscriberKind::Email => {
            let Some(smtp) = state.pages.subscriber_smtp() else {
                return Err(SendError::permanent(
                    "email to subscribers is not set up on this server ([pages.subscribers.smtp])",
                ));
            };
            let to: Mailbox = sub
                .target
                .parse()
                .map_err(|e| SendError::permanent(format!("bad subscriber address: {e}")))?;
            let list_unsubscribe = HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{}>", links.unsubscribe),
            );
            let one_click = HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            );
            let message = smtp
                .builder(&subject(page, msg), message_id)
                .to(to)
                .raw_header(list_unsubscribe)
                .raw_header(one_click)
                .body(plain_body(email_body(page, msg, &links)))
                .map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))?;
            smtp.deliver(&ctx, message).await
        }
        SubscriberKind::Webhook => {
            let url = Url::parse(&sub.target)
                .map_err(|e| SendError::permanent(format!("bad subscriber URL: {e}")))?;
            webhook::Settings::unsigned(url)
                .post(&ctx, webhook_body(page, msg, &links))
                .await
        }
    }
}

/// Delivers one claimed outbox row whose target is a subscriber, and records the outcome.
pub(super) async fn deliver(state: &AppState, row: &Notification) {
    let kind = "subscriber";
    let Some(id) = row.subscriber_id else {
        give_up(state, row, "the row has neither a channel nor a subscriber").await;
        return;
    };
    let ws = row.workspace_id;
    let loaded = async {
        let mut scope = state.store.workspace(ws);
        let Some(sub) = scope.outbox_subscriber(id).await? else {
            return Ok(None);
        };
        let page = scope.status_page(sub.page_id).await?;
        Ok::<_, StoreError>(page.map(|p| (sub, p)))
    }
    .await;
    let (sub, page) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => {
            give_up(state, row, "the subscriber no longer exists").await;
            state.metrics.count_delivery(kind, Outcome::Dead.as_str());
            return;
        }
        Err(e) => {
            // The lease expires and the row is tried again.
            tracing::warn!(error = %error_chain(&e), "loading the subscriber failed");
            return;
        }
    };
    let msg: SubscriberMessage = match serde_json::from_value(row.payload.clone()) {
        Ok(m) => m,
        Err(e) => {
            give_up(
                state,
                row,
                &format!("the payload is not a subscriber message: {e}"),
            )
            .await;
            state.metrics.count_delivery(kind, Outcome::Dead.as_str());
            return;
        }
    };
    if !sub.confirmed && msg.kind != MessageKind::Confirm {
        give_up(state, row, "the subscriber has not confirmed").await;
        state.metrics.count_delivery(kind, Outcome::Dead.as_str());
        return;
    }
    let message_id = format!("msg_{}", row.id.0);
    let outcome = match send(state, &page, &sub, &msg, &message_id).await {
        Err(e) if e.is_gone() => {
            // The webhook is gone for good: unsubscribe it (its rows, this one included, go
            // with it).
            tracing::info!(
                subscriber_id = sub.id.0,
                "a subscriber's webhook answered 410 Gone: unsubscribing it"
            );
            match state.store.workspace(ws).remove_subscriber(sub.id).await {
                Ok(()) => {
                    state.pages.invalidate(ws);
                    Outcome::Disabled
                }
                Err(err) => {
                    tracing::warn!(error = %error_chain(&err), "unsubscribing failed");
                    record(state, row, kind, Err(e)).await
                }
            }
        }
        result => record(state, row, kind, result).await,
    };
    state.metrics.count_delivery(kind, outcome.as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> StatusPage {
        serde_json::from_value(json!({
            "id": 3, "workspace_id": 1, "slug": "acme", "title": "Acme <Status>",
            "description": null, "public": true, "logo_url": null, "theme": "system",
            "footer_links": [], "domains": [], "time_zone": "UTC", "password_set_at": null,
            "hold_auto_incidents": false, "created_at": 0, "updated_at": 0,
        }))
        .unwrap()
    }

    fn sub() -> Subscriber {
        Subscriber {
            id: SubscriberId(9),
            workspace_id: WorkspaceId(1),
            page_id: StatusPageId(3),
            kind: SubscriberKind::Email,
            target: "a@example.test".to_owned(),
            token: "0123456789abcdef0123456789abcdef".to_owned(),
            confirmed: true,
            confirmed_at: None,
            created_at: Timestamp::EPOCH,
        }
    }

    #[test]
    fn every_message_has_the_unsubscribe_link() {
        let page = page();
        let links = Links::new("https://status.example.test", &page, &sub());
        let incident = IncidentFacts {
            id: IncidentId(7),
            title: "API outage".to_owned(),
            status: IncidentStatus::Identified,
            impact: Impact::Major,
            message: "We found it.".to_owned(),
            at: Timestamp::from_millis(1_735_725_600_000),
        };
        for kind in [
            MessageKind::Confirm,
            MessageKind::Subscribed,
            MessageKind::IncidentCreated,
            MessageKind::IncidentUpdated,
            MessageKind::IncidentResolved,
        ] {
            let msg = SubscriberMessage {
                kind,
                incident: (!matches!(kind, MessageKind::Confirm | MessageKind::Subscribed))
                    .then(|| incident.clone()),
            };
            let body = email_body(&page, &msg, &links);
            assert!(
                body.contains(
                    "https://status.example.test/s/acme/unsubscribe?token=0123456789abcdef0123456789abcdef"
                ),
                "{kind:?}: {body}"
            );
            let hook: Value = serde_json::from_slice(&webhook_body(&page, &msg, &links)).unwrap();
            assert_eq!(hook["type"], kind.event());
            assert!(
                hook["unsubscribe_url"]
                    .as_str()
                    .unwrap()
                    .ends_with("abcdef")
            );
        }
        let msg = SubscriberMessage {
            kind: MessageKind::IncidentUpdated,
            incident: Some(incident),
        };
        assert_eq!(
            subject(&page, &msg),
            "[Acme <Status>] API outage: Identified"
        );
        let body = email_body(&page, &msg, &links);
        assert!(body.contains("Details: https://status.example.test/s/acme/incidents/7"));
        assert!(body.contains("At: 2025-01-01T10:00:00Z"), "{body}");
    }
}
