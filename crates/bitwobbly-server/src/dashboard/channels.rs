//! Dashboard pages: notification channels (every kind the API takes, with secrets masked),
//! test sends, and the notification outbox with its dead letters and replay.
//!
//! Changes go through the functions the REST API uses (`crate::api::channels`,
//! `crate::notify::send_test`): the same validation, the same messages naming the field.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use bitwobbly_store::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::macros::format_description;

use super::status_pages::{Empty, path_id};
use super::{
    CsrfForm, Dash, DashError, FormErrors, Layout, Section, redirect_with, render, render_status,
};
use crate::AppState;
use crate::api::channels::{
    self as api, ChannelInput, ChannelView, NotificationView, NotificationsQuery, REDACTED,
};
use crate::auth::Write;

/// This part's routes (relative to `/app`).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{ws}/channels", get(list).post(create))
        .route("/w/{ws}/channels/new", get(new_form))
        .route("/w/{ws}/channels/{id}", get(detail).post(update))
        .route("/w/{ws}/channels/{id}/enabled", post(set_enabled))
        .route("/w/{ws}/channels/{id}/test", post(send_test))
        .route("/w/{ws}/channels/{id}/delete", post(delete))
        .route("/w/{ws}/notifications", get(notifications))
        .route("/w/{ws}/notifications/{id}/replay", post(replay))
}

// === kinds and their settings ===

/// How a setting is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// A line of text.
    Text,
    /// An http(s) URL.
    Url,
    /// A secret: never shown; left empty, the saved value stays.
    Secret,
    /// A number (sent as a JSON number when it is one).
    Number,
    /// One of a few values.
    Select(&'static [(&'static str, &'static str)]),
    /// A list, one item a line.
    Lines,
}

/// One setting of a channel kind: its path in the config (`url`, `smtp.port`).
#[derive(Debug, Clone, Copy)]
struct Setting {
    path: &'static str,
    label: &'static str,
    hint: &'static str,
    input: Input,
    required: bool,
}

const fn setting(
    path: &'static str,
    label: &'static str,
    input: Input,
    required: bool,
    hint: &'static str,
) -> Setting {
    Setting {
        path,
        label,
        hint,
        input,
        required,
    }
}

const HOOK_URL: [Setting; 1] = [setting(
    "url",
    "Webhook URL",
    Input::Url,
    true,
    "The incoming-webhook address the service gave you.",
)];

const NTFY_PRIORITIES: &[(&str, &str)] = &[
    ("", "The topic's default"),
    ("min", "Min"),
    ("low", "Low"),
    ("default", "Default"),
    ("high", "High"),
    ("urgent", "Urgent"),
];

const SMTP_TLS: &[(&str, &str)] = &[
    ("starttls", "STARTTLS (port 587)"),
    ("implicit", "TLS from the start (port 465)"),
    ("none", "None (port 25, trusted networks only)"),
];

/// The settings of `kind`, in form order.
fn settings_of(kind: ChannelKind) -> &'static [Setting] {
    const WEBHOOK: [Setting; 2] = [
        setting(
            "url",
            "URL",
            Input::Url,
            true,
            "Alerts are POSTed here as JSON with Standard Webhooks signature headers.",
        ),
        setting(
            "secret",
            "Signing secret",
            Input::Secret,
            false,
            "whsec_ and base64. Left empty on a new channel, one is made and shown once.",
        ),
    ];
    const PAGERDUTY: [Setting; 2] = [
        setting(
            "routing_key",
            "Integration key",
            Input::Secret,
            true,
            "The Events API v2 integration (routing) key of the service.",
        ),
        setting(
            "url",
            "Events API URL",
            Input::Url,
            false,
            "Leave empty for PagerDuty's own.",
        ),
    ];
    const NTFY: [Setting; 4] = [
        setting(
            "url",
            "Server URL",
            Input::Url,
            true,
            "For example https://ntfy.sh or your own server.",
        ),
        setting(
            "topic",
            "Topic",
            Input::Text,
            true,
            "Letters, digits, - and _.",
        ),
        setting(
            "token",
            "Access token",
            Input::Secret,
            false,
            "For protected topics.",
        ),
        setting(
            "priority",
            "Priority",
            Input::Select(NTFY_PRIORITIES),
            false,
            "",
        ),
    ];
    const EMAIL: [Setting; 7] = [
        setting(
            "to",
            "Recipients",
            Input::Lines,
            true,
            "One address a line.",
        ),
        setting(
            "smtp.from",
            "From address",
            Input::Text,
            true,
            "The sender, e.g. Bit Wobbly <alerts@example.com>.",
        ),
        setting(
            "smtp.host",
            "SMTP server",
            Input::Text,
            true,
            "Host name or address.",
        ),
        setting(
            "smtp.port",
            "SMTP port",
            Input::Number,
            false,
            "Leave empty for the usual port of the TLS mode.",
        ),
        setting("smtp.tls", "TLS", Input::Select(SMTP_TLS), false, ""),
        setting("smtp.username", "SMTP user name", Input::Text, false, ""),
        setting("smtp.password", "SMTP password", Input::Secret, false, ""),
    ];
    match kind {
        ChannelKind::Webhook => &WEBHOOK,
        ChannelKind::Slack | ChannelKind::Discord | ChannelKind::Teams => &HOOK_URL,
        ChannelKind::PagerDuty => &PAGERDUTY,
        ChannelKind::Ntfy => &NTFY,
        ChannelKind::Email => &EMAIL,
    }
}

/// A kind for people.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "webhook" => "Webhook",
        "slack" => "Slack",
        "discord" => "Discord",
        "teams" => "Microsoft Teams",
        "pagerduty" => "PagerDuty",
        "ntfy" => "ntfy",
        "email" => "Email",
        _ => "Unknown",
    }
}

/// The kind named by a form or query, or a 404 page for one that does not exist.
fn parse_kind(raw: &str) -> Result<ChannelKind, DashError> {
    raw.parse::<ChannelKind>().map_err(|_| DashError::NotFound)
}

/// The value at a dotted `path` of a config.
fn at<'a>(config: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(config, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// Sets the value at a dotted `path`, making the objects on the way.
fn put(config: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            config.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = config
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = inner {
                put(map, rest, value);
            }
        }
    }
}

/// A config value as the form shows it (secrets are never shown).
fn shown(value: Option<&Value>, input: Input) -> String {
    match (value, input) {
        (_, Input::Secret) | (None, _) => String::new(),
        (Some(Value::String(s)), _) => s.clone(),
        (Some(Value::Array(items)), _) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("\n"),
        (Some(v), _) => v.to_string(),
    }
}

// === the form ===

/// A channel form as sent: `name`, `key`, `kind`, `config.<path>` and `clear.<path>`
/// (remove a saved secret).
#[derive(Debug, Clone, Default)]
struct ChannelForm(Vec<(String, String)>);

impl<'de> Deserialize<'de> for ChannelForm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<(String, String)>::deserialize(d).map(Self)
    }
}

impl ChannelForm {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The API input for a channel of `kind`.
    fn input(&self, kind: ChannelKind, enabled: bool) -> ChannelInput {
        let mut config = Map::new();
        for s in settings_of(kind) {
            let raw = self.get(&format!("config.{}", s.path)).trim();
            let value = if s.input == Input::Secret && self.has(&format!("clear.{}", s.path)) {
                Some(Value::Null)
            } else if raw.is_empty() {
                None
            } else {
                Some(match s.input {
                    Input::Number => raw
                        .parse::<u64>()
                        .map_or_else(|_| Value::String(raw.to_owned()), Value::from),
                    Input::Lines => Value::Array(
                        raw.split(['\n', ','])
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(|l| Value::String(l.to_owned()))
                            .collect(),
                    ),
                    _ => Value::String(raw.to_owned()),
                })
            };
            if let Some(v) = value {
                put(&mut config, s.path, v);
            }
        }
        let key = self.get("key").trim();
        ChannelInput {
            key: (!key.is_empty()).then(|| key.to_owned()),
            name: self.get("name").to_owned(),
            kind: kind.as_str().to_owned(),
            config: Value::Object(config),
            enabled: Some(enabled),
        }
    }
}

/// The form's name for an API field: `config.to[2]` is the `config.to` box.
fn form_field(field: &str) -> String {
    match field.find('[') {
        Some(i) => field[..i].to_owned(),
        None => field.to_owned(),
    }
}

/// One setting as the form shows it.
struct FieldView {
    /// `config.<path>`.
    name: String,
    /// The element id.
    id: String,
    label: &'static str,
    hint: &'static str,
    required: bool,
    value: String,
    /// `text`, `url`, `password`, `number`, `select` or `lines`.
    widget: &'static str,
    options: Vec<(&'static str, &'static str, bool)>,
    /// A secret that has a saved value.
    saved: bool,
    error: Option<String>,
}

/// The fields of a form for `kind`, filled from `config` (the saved settings) or from a
/// sent form, with their errors.
fn fields(
    kind: ChannelKind,
    config: Option<&Value>,
    sent: Option<&ChannelForm>,
    errors: &FormErrors,
) -> Vec<FieldView> {
    settings_of(kind)
        .iter()
        .map(|s| {
            let name = format!("config.{}", s.path);
            let saved_value = config.and_then(|c| at(c, s.path));
            let value = match sent {
                Some(f) if s.input != Input::Secret => f.get(&name).to_owned(),
                _ => shown(saved_value, s.input),
            };
            let (widget, options) = match s.input {
                Input::Text => ("text", Vec::new()),
                Input::Url => ("url", Vec::new()),
                Input::Secret => ("password", Vec::new()),
                Input::Number => ("number", Vec::new()),
                Input::Lines => ("lines", Vec::new()),
                Input::Select(opts) => (
                    "select",
                    opts.iter().map(|(v, l)| (*v, *l, *v == value)).collect(),
                ),
            };
            FieldView {
                id: format!("config-{}", s.path.replace('.', "-")),
                error: errors.get(&name).map(str::to_owned),
                label: s.label,
                hint: s.hint,
                required: s.required,
                widget,
                options,
                saved: s.input == Input::Secret && saved_value.is_some(),
                value,
                name,
            }
        })
        .collect()
}

/// The form's values and errors.
struct FormView {
    name: String,
    key: String,
    kind: String,
    fields: Vec<FieldView>,
    errors: FormErrors,
}

impl FormView {
    fn new(
        kind: ChannelKind,
        saved: Option<&ChannelView>,
        sent: Option<&ChannelForm>,
        errors: FormErrors,
    ) -> Self {
        let (name, key) = match (sent, saved) {
            (Some(f), _) => (f.get("name").to_owned(), f.get("key").to_owned()),
            (None, Some(c)) => (c.name.clone(), c.key.clone().unwrap_or_default()),
            (None, None) => (String::new(), String::new()),
        };
        Self {
            fields: fields(kind, saved.map(|c| &c.config), sent, &errors),
            name,
            key,
            kind: kind.as_str().to_owned(),
            errors,
        }
    }
}

// === the list ===

/// A row of the channel list.
struct ChannelRow {
    id: i64,
    name: String,
    kind_label: &'static str,
    enabled: bool,
    disabled_reason: Option<String>,
    url: String,
}

#[derive(Template)]
#[template(path = "dash/channels/list.html")]
struct ListTpl {
    layout: Layout,
    channels: Vec<ChannelRow>,
    kinds: Vec<(String, &'static str)>,
    can_write: bool,
    notifications_url: String,
    dead_url: String,
}

/// The links that start a new channel of each kind.
fn new_links(dash: &Dash) -> Vec<(String, &'static str)> {
    ChannelKind::ALL
        .iter()
        .map(|k| {
            (
                dash.url(&format!("/channels/new?kind={}", k.as_str())),
                kind_label(k.as_str()),
            )
        })
        .collect()
}

/// `GET /w/{ws}/channels`: the workspace's channels (one query, whatever their number).
async fn list(State(state): State<AppState>, dash: Dash) -> Result<Response, DashError> {
    let channels = state.store.workspace(dash.ws()).channels().await?;
    let channels = channels
        .into_iter()
        .map(|c| ChannelRow {
            id: c.id.0,
            url: dash.url(&format!("/channels/{}", c.id.0)),
            kind_label: kind_label(c.kind.as_str()),
            name: c.name,
            enabled: c.enabled,
            disabled_reason: c.disabled_reason,
        })
        .collect();
    Ok(render(&ListTpl {
        layout: dash.layout("Notification channels", Section::Channels),
        channels,
        kinds: new_links(&dash),
        can_write: dash.require(Role::Member).is_ok(),
        notifications_url: dash.url("/notifications"),
        dead_url: dash.url("/notifications?state=dead"),
    }))
}

// === new ===

#[derive(Template)]
#[template(path = "dash/channels/new.html")]
struct NewTpl {
    layout: Layout,
    form: FormView,
    action: String,
    back: String,
}

/// `?kind=` of the new-channel form.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn new_page(
    dash: &Dash,
    kind: ChannelKind,
    sent: Option<&ChannelForm>,
    errors: FormErrors,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &NewTpl {
            layout: dash.layout(
                format!("New {} channel", kind_label(kind.as_str())),
                Section::Channels,
            ),
            form: FormView::new(kind, None, sent, errors),
            action: dash.url("/channels"),
            back: dash.url("/channels"),
        },
    )
}

/// `GET /w/{ws}/channels/new?kind=<kind>`: the form of a new channel.
async fn new_form(dash: Dash, RawQuery(q): RawQuery) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let kind = parse_kind(&query_value(q.as_deref(), "kind").unwrap_or_default())?;
    Ok(new_page(&dash, kind, None, FormErrors::new()))
}

#[derive(Template)]
#[template(path = "dash/channels/created.html")]
struct CreatedTpl {
    layout: Layout,
    channel: ChannelView,
    secret: String,
    url: String,
}

/// `POST /w/{ws}/channels`: creates a channel. A webhook's signing secret is shown once.
async fn create(
    State(state): State<AppState>,
    dash: Dash,
    CsrfForm(form): CsrfForm<ChannelForm>,
) -> Result<Response, DashError> {
    let access = dash.access::<Write>()?;
    let kind = parse_kind(form.get("kind"))?;
    let input = form.input(kind, true);
    match api::create_channel(&state, &access, &input).await {
        Ok(c) => {
            let url = dash.url(&format!("/channels/{}", c.id));
            let generated = form.get("config.secret").trim().is_empty();
            match at(&c.config, "secret").and_then(Value::as_str) {
                Some(secret) if kind == ChannelKind::Webhook && generated => {
                    Ok(render(&CreatedTpl {
                        layout: dash
                            .layout(format!("Channel \"{}\" created", c.name), Section::Channels),
                        secret: secret.to_owned(),
                        channel: c,
                        url,
                    }))
                }
                _ => Ok(redirect_with(
                    &url,
                    &format!("Channel \"{}\" created.", c.name),
                )),
            }
        }
        Err(e) => {
            let errors = FormErrors::of_api(e, form_field)?;
            Ok(new_page(&dash, kind, Some(&form), errors))
        }
    }
}

// === one channel ===

/// A notification as the dashboard lists it.
struct NotificationRow {
    n: NotificationView,
    /// The channel's name (or the subscriber).
    target: String,
    created: String,
    next_attempt: String,
    finished: String,
    replay_url: String,
}

/// A time for people (UTC).
fn when(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    .unwrap_or_default()
}

fn notification_row(
    dash: &Dash,
    n: NotificationView,
    channel_name: impl Fn(i64) -> Option<String>,
) -> NotificationRow {
    let target = match (n.channel_id, n.subscriber_id) {
        (Some(c), _) => channel_name(c).unwrap_or_else(|| format!("Channel {c}")),
        (None, Some(s)) => format!("Status page subscriber {s}"),
        (None, None) => "Deleted channel".to_owned(),
    };
    NotificationRow {
        target,
        created: when(n.created_at),
        next_attempt: if n.state == "pending" {
            when(n.next_attempt_at)
        } else {
            String::new()
        },
        finished: n.finished_at.map(when).unwrap_or_default(),
        replay_url: dash.url(&format!("/notifications/{}/replay", n.id)),
        n,
    }
}

/// A setting as the channel page lists it (secrets masked).
struct ConfigLine {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "dash/channels/detail.html")]
struct DetailTpl {
    layout: Layout,
    channel: ChannelView,
    kind_label: &'static str,
    config: Vec<ConfigLine>,
    form: FormView,
    can_write: bool,
    base: String,
    deliveries: Vec<NotificationRow>,
    notifications_url: String,
}

/// Recent notifications looked at for a channel's deliveries.
const RECENT: &str = "200";

/// The page of channel `id`, with a sent form and its errors (422) or not.
async fn detail_page(
    state: &AppState,
    dash: &Dash,
    id: i64,
    sent: Option<(&ChannelForm, FormErrors)>,
) -> Result<Response, DashError> {
    let channel = api::get_channel(state, dash.ws(), id).await?;
    let kind = parse_kind(&channel.kind)?;
    let recent = api::list_notifications(
        state,
        dash.ws(),
        &NotificationsQuery {
            state: None,
            limit: Some(RECENT.to_owned()),
        },
    )
    .await?;
    let name = channel.name.clone();
    let deliveries = recent
        .into_iter()
        .filter(|n| n.channel_id == Some(id))
        .take(20)
        .map(|n| notification_row(dash, n, |_| Some(name.clone())))
        .collect();
    let config = settings_of(kind)
        .iter()
        .filter_map(|s| {
            at(&channel.config, s.path).map(|v| ConfigLine {
                label: s.label,
                value: if s.input == Input::Secret {
                    REDACTED.to_owned()
                } else {
                    shown(Some(v), s.input).replace('\n', ", ")
                },
            })
        })
        .collect();
    let (form, status) = match sent {
        Some((f, errors)) => (
            FormView::new(kind, Some(&channel), Some(f), errors),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        None => (
            FormView::new(kind, Some(&channel), None, FormErrors::new()),
            StatusCode::OK,
        ),
    };
    let tpl = DetailTpl {
        layout: dash.layout(channel.name.clone(), Section::Channels),
        kind_label: kind_label(&channel.kind),
        config,
        form,
        can_write: dash.require(Role::Member).is_ok(),
        base: dash.url(&format!("/channels/{id}")),
        deliveries,
        notifications_url: dash.url("/notifications"),
        channel,
    };
    Ok(render_status(status, &tpl))
}

/// `GET /w/{ws}/channels/{id}`.
async fn detail(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    detail_page(&state, &dash, path_id(&id)?, None).await
}

/// `POST /w/{ws}/channels/{id}`: saves a channel's settings.
async fn update(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ChannelForm>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    let access = dash.access::<Write>()?;
    let old = api::get_channel(&state, dash.ws(), id).await?;
    let kind = parse_kind(&old.kind)?;
    let input = form.input(kind, old.enabled);
    match api::update_channel(&state, &access, id, &input).await {
        Ok(c) => Ok(redirect_with(
            &dash.url(&format!("/channels/{id}")),
            &format!("Channel \"{}\" saved.", c.name),
        )),
        Err(e) => {
            let errors = FormErrors::of_api(e, form_field)?;
            detail_page(&state, &dash, id, Some((&form, errors))).await
        }
    }
}

/// `enabled=true|false`.
#[derive(Debug, Deserialize)]
struct EnabledForm {
    #[serde(default)]
    enabled: String,
}

/// `POST /w/{ws}/channels/{id}/enabled`: turns a channel on or off.
async fn set_enabled(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<EnabledForm>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    let enabled = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(DashError::Page(
                StatusCode::BAD_REQUEST,
                "enabled must be true or false.".to_owned(),
            ));
        }
    };
    let c = api::set_channel_enabled(&state, &dash.access::<Write>()?, id, enabled).await?;
    let msg = if c.enabled {
        format!("Channel \"{}\" enabled.", c.name)
    } else {
        format!(
            "Channel \"{}\" disabled: it sends nothing until enabled.",
            c.name
        )
    };
    Ok(redirect_with(&dash.url(&format!("/channels/{id}")), &msg))
}

/// The longest receiver message repeated in a flash.
const MAX_OUTCOME: usize = 240;

/// `POST /w/{ws}/channels/{id}/test`: sends a test notification now and shows the outcome.
async fn send_test(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    dash.access::<Write>()?;
    let back = dash.url(&format!("/channels/{id}"));
    match crate::notify::send_test(&state, dash.ws(), ChannelId(id)).await {
        Ok(()) => Ok(redirect_with(&back, "Test sent: the receiver accepted it.")),
        // The receiver refused it (502) or the saved settings are not valid (422).
        Err(e)
            if e.status == StatusCode::BAD_GATEWAY
                || e.status == StatusCode::UNPROCESSABLE_ENTITY =>
        {
            let msg: String = e.message.chars().take(MAX_OUTCOME).collect();
            Ok(redirect_with(&back, &format!("Test failed: {msg}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /w/{ws}/channels/{id}/delete`.
async fn delete(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    api::delete_channel(&state, &dash.access::<Write>()?, id).await?;
    Ok(redirect_with(&dash.url("/channels"), "Channel deleted."))
}

// === the outbox ===

#[derive(Template)]
#[template(path = "dash/channels/notifications.html")]
struct NotificationsTpl {
    layout: Layout,
    rows: Vec<NotificationRow>,
    filters: Vec<(String, &'static str, bool)>,
    can_write: bool,
    dead: bool,
}

/// `GET /w/{ws}/notifications?state=pending|sent|dead&limit=N`: the outbox, newest first.
async fn notifications(
    State(state): State<AppState>,
    dash: Dash,
    RawQuery(q): RawQuery,
) -> Result<Response, DashError> {
    let filter = query_value(q.as_deref(), "state").filter(|s| !s.is_empty());
    let query = NotificationsQuery {
        state: filter.clone(),
        limit: query_value(q.as_deref(), "limit").filter(|s| !s.is_empty()),
    };
    let list = api::list_notifications(&state, dash.ws(), &query).await?;
    let channels = state.store.workspace(dash.ws()).channels().await?;
    let name = |id: i64| {
        channels
            .iter()
            .find(|c| c.id.0 == id)
            .map(|c| c.name.clone())
    };
    let rows = list
        .into_iter()
        .map(|n| notification_row(&dash, n, name))
        .collect();
    let filters = [
        (None, "All"),
        (Some("pending"), "Pending"),
        (Some("sent"), "Sent"),
        (Some("dead"), "Dead letters"),
    ]
    .into_iter()
    .map(|(s, label)| {
        let href = match s {
            Some(s) => dash.url(&format!("/notifications?state={s}")),
            None => dash.url("/notifications"),
        };
        (href, label, filter.as_deref() == s)
    })
    .collect();
    let title = if filter.as_deref() == Some("dead") {
        "Dead letters"
    } else {
        "Notifications"
    };
    Ok(render(&NotificationsTpl {
        layout: dash.layout(title, Section::Channels),
        rows,
        filters,
        can_write: dash.require(Role::Member).is_ok(),
        dead: filter.as_deref() == Some("dead"),
    }))
}

/// `POST /w/{ws}/notifications/{id}/replay`: puts a dead letter back in the queue.
async fn replay(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    let n = api::replay_notification(&state, &dash.access::<Write>()?, id).await?;
    Ok(redirect_with(
        &dash.url("/notifications?state=pending"),
        &format!("Notification {} is queued again.", n.id),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> ChannelForm {
        ChannelForm(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn email_settings_become_the_api_config() {
        let f = form(&[
            ("name", "Ops mail"),
            (
                "config.to",
                "a@example.com\n\n b@example.com , c@example.com",
            ),
            ("config.smtp.host", "smtp.example.com"),
            ("config.smtp.port", "2525"),
            ("config.smtp.tls", "none"),
            ("config.smtp.from", "alerts@example.com"),
            ("config.smtp.username", ""),
            ("config.smtp.password", ""),
        ]);
        let input = f.input(ChannelKind::Email, true);
        assert_eq!(
            input.config,
            serde_json::json!({
                "to": ["a@example.com", "b@example.com", "c@example.com"],
                "smtp": {"host": "smtp.example.com", "port": 2525, "tls": "none",
                         "from": "alerts@example.com"}
            })
        );
        assert_eq!(input.key, None);
        assert_eq!(input.name, "Ops mail");
    }

    #[test]
    fn secrets_left_empty_are_absent_and_cleared_ones_null() {
        let f = form(&[
            ("config.url", "https://ntfy.example/"),
            ("config.topic", "ops"),
            ("config.token", ""),
        ]);
        assert!(at(&f.input(ChannelKind::Ntfy, true).config, "token").is_none());
        let f = form(&[("config.token", ""), ("clear.token", "on")]);
        assert_eq!(
            f.input(ChannelKind::Ntfy, true).config.get("token"),
            Some(&Value::Null)
        );
    }

    #[test]
    fn a_port_that_is_not_a_number_is_passed_on_for_the_api_to_name() {
        let f = form(&[("config.smtp.port", "abc")]);
        assert_eq!(
            at(&f.input(ChannelKind::Email, true).config, "smtp.port"),
            Some(&Value::String("abc".to_owned()))
        );
    }

    #[test]
    fn api_fields_map_to_form_fields() {
        assert_eq!(form_field("config.to[2]"), "config.to");
        assert_eq!(form_field("config.smtp.port"), "config.smtp.port");
        assert_eq!(form_field("name"), "name");
    }

    #[test]
    fn every_kind_has_settings_and_a_label() {
        for k in ChannelKind::ALL {
            assert!(!settings_of(*k).is_empty());
            assert_ne!(kind_label(k.as_str()), "Unknown");
        }
    }
}
