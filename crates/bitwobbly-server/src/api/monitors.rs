//! Monitors: input validation (shared with `bitwobbly apply`), CRUD, pause and resume, check
//! now, their channels, results and statistics.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::state::Thresholds;
use bitwobbly_core::{CheckSpec, ResolverSpec, Tally};
use bitwobbly_store::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::channels::{ChannelView, channel_views};
use super::extract::{ApiJson, ApiPath, ApiQuery, from_value};
use super::incidents::IncidentView;
use super::views::{dt, odt};
use super::workspaces::validate_name;
use super::{ErrorBody, IdPath, OrNotFound as _};
use crate::auth::{Access, Read, Write};
use crate::config::Config;
use crate::error::ApiError;
use crate::netguard;
use crate::state::AppState;

/// The default schedule: every 60 s.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

// === input and validation ===

/// A monitor as sent to create, update or validate it (and as `bitwobbly apply` reads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorInput {
    /// A stable key for configuration as code, unique in the workspace: letters, digits,
    /// `.`, `_` and `-`, at most 100 characters.
    #[serde(default)]
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// What to check: a check spec tagged by `type` (`http`, `tcp`, `dns`, `tls`, or
    /// `heartbeat` for a monitor that receives pings), e.g.
    /// `{"type": "http", "url": "https://example.com/health"}` or
    /// `{"type": "heartbeat", "expect": {"type": "period", "period": "5m"}, "grace": "1m"}`.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// When it runs (ignored for heartbeats): `{"type": "interval", "every": "30s"}` or
    /// `{"type": "cron", "expr": "*/5 * * * *", "tz": "Europe/Paris"}`; the short forms
    /// `{"interval": "30s"}` and `{"cron": "*/5 * * * *", "tz": "Europe/Paris"}` are accepted
    /// too. Default: every 60 s.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<Value>,
    /// When its state changes (fields of the core thresholds: `down_after`,
    /// `degraded_after`, `window`, `recover_after`, `flap_changes`, `flap_window`); missing
    /// fields take their defaults (for heartbeats: down after 1, window 1, recover after 1).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub thresholds: Option<Value>,
    /// The monitor this one depends on (same workspace): while it is down, this one's
    /// failures do not alert.
    #[serde(default)]
    pub parent_id: Option<i64>,
    /// Whether it starts paused (default false).
    #[serde(default)]
    pub paused: Option<bool>,
    /// Locations (agent regions) that run it; empty means this server (`local`). Each must
    /// be `local` or a location of the workspace.
    #[serde(default)]
    pub locations: Option<Vec<String>>,
    /// How the locations' views combine: `{"share": "majority"}` (the default) or
    /// `{"share": {"percent": 50}}`, and `stale_after` (default `5m`): a location whose
    /// latest result or contact is older is left out.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub quorum: Option<Value>,
}

fn spec_error(e: bitwobbly_core::SpecError, within: &str) -> ApiError {
    let e = e.within(within);
    ApiError::invalid(e.field, e.problem)
}

/// The thresholds heartbeat monitors get unless told otherwise: down on the first missed
/// ping, up on the next one.
pub fn heartbeat_thresholds() -> Thresholds {
    let mut t = Thresholds::default();
    t.down_after = 1;
    t.degraded_after = 1;
    t.window = 1;
    t.recover_after = 1;
    t
}

/// Checks a configuration key (monitors and channels).
///
/// # Errors
/// 422 `validation_failed` on field `key`.
pub fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 100 {
        return Err(ApiError::invalid("key", "must be 1 to 100 characters"));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !key.chars().all(ok) {
        return Err(ApiError::invalid(
            "key",
            "may only contain letters, digits, `.`, `_` and `-`",
        ));
    }
    Ok(())
}

/// Reads a schedule in core's form or in the short form.
fn parse_schedule(v: &Value) -> Result<Schedule, ApiError> {
    let Some(obj) = v.as_object() else {
        return Err(ApiError::invalid(
            "schedule",
            r#"must be an object such as {"type": "interval", "every": "30s"}"#,
        ));
    };
    let text = |key: &str, field: &str| -> Result<Option<String>, ApiError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid(field, "must be a string")),
        }
    };
    let only = |allowed: &[&str]| -> Result<(), ApiError> {
        match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::unknown_field(
                format!("schedule.{k}"),
                format!("unknown field `{k}` in schedule"),
            )),
            None => Ok(()),
        }
    };
    let duration = |s: &str, field: &str| -> Result<Duration, ApiError> {
        humantime::parse_duration(s)
            .map_err(|e| ApiError::invalid(field, format!("not a duration like `30s`: {e}")))
    };
    let (kind, short) = match (
        text("type", "schedule.type")?,
        obj.contains_key("interval"),
        obj.contains_key("cron"),
    ) {
        (Some(t), _, _) => (t, false),
        (None, true, _) => ("interval".to_owned(), true),
        (None, false, true) => ("cron".to_owned(), true),
        (None, false, false) => {
            return Err(ApiError::invalid(
                "schedule.type",
                "missing: `interval` or `cron`",
            ));
        }
    };
    match (kind.as_str(), short) {
        ("interval", false) => {
            only(&["type", "every"])?;
            let every = text("every", "schedule.every")?
                .ok_or_else(|| ApiError::invalid("schedule.every", "missing"))?;
            Schedule::interval(duration(&every, "schedule.every")?)
                .map_err(|e| spec_error(e, "schedule"))
        }
        ("interval", true) => {
            only(&["interval"])?;
            let every = text("interval", "schedule.interval")?
                .ok_or_else(|| ApiError::invalid("schedule.interval", "missing"))?;
            Schedule::interval(duration(&every, "schedule.interval")?)
                .map_err(|e| ApiError::invalid("schedule.interval", e.problem))
        }
        ("cron", false) => {
            only(&["type", "expr", "tz"])?;
            let expr = text("expr", "schedule.expr")?
                .ok_or_else(|| ApiError::invalid("schedule.expr", "missing"))?;
            let tz = text("tz", "schedule.tz")?.unwrap_or_else(|| "UTC".to_owned());
            Schedule::cron(&expr, &tz).map_err(|e| spec_error(e, "schedule"))
        }
        ("cron", true) => {
            only(&["cron", "tz"])?;
            let expr = text("cron", "schedule.cron")?
                .ok_or_else(|| ApiError::invalid("schedule.cron", "missing"))?;
            let tz = text("tz", "schedule.tz")?.unwrap_or_else(|| "UTC".to_owned());
            Schedule::cron(&expr, &tz).map_err(|e| {
                let field = if e.field == "expr" {
                    "schedule.cron"
                } else {
                    "schedule.tz"
                };
                ApiError::invalid(field, e.problem)
            })
        }
        (other, _) => Err(ApiError::invalid(
            "schedule.type",
            format!("unknown schedule type {other:?}: expected `interval` or `cron`"),
        )),
    }
}

/// Reads thresholds: given fields over the defaults (heartbeat defaults for heartbeats).
fn parse_thresholds(v: Option<&Value>, heartbeat: bool) -> Result<Thresholds, ApiError> {
    let base = if heartbeat {
        heartbeat_thresholds()
    } else {
        Thresholds::default()
    };
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(base);
    };
    let Some(given) = v.as_object() else {
        return Err(ApiError::invalid("thresholds", "must be an object"));
    };
    let mut merged = match serde_json::to_value(base) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (k, v) in given {
        merged.insert(k.clone(), v.clone());
    }
    let t: Thresholds = from_value(&Value::Object(merged), "thresholds")?;
    t.validate().map_err(|e| spec_error(e, "thresholds"))?;
    Ok(t)
}

/// The IP literal a spec targets in a non-public range, with the field naming it.
fn private_target(spec: &CheckSpec) -> Option<(&'static str, IpAddr, &'static str)> {
    let literal = |host: &str| -> Option<IpAddr> {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()
    };
    let check = |field: &'static str, ip: IpAddr| {
        netguard::private_range(ip).map(|range| (field, ip, range))
    };
    let resolver = |r: &ResolverSpec| match r {
        ResolverSpec::Server { addr, .. } => check("spec.resolver.addr", addr.ip()),
        _ => None,
    };
    match spec {
        CheckSpec::Http(s) => {
            let host = url::Url::parse(&s.url).ok().and_then(|u| match u.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            });
            host.and_then(|ip| check("spec.url", ip))
                .or_else(|| resolver(&s.resolver))
        }
        CheckSpec::Tcp(s) => literal(&s.host)
            .and_then(|ip| check("spec.host", ip))
            .or_else(|| resolver(&s.resolver)),
        CheckSpec::Tls(s) => literal(&s.host)
            .and_then(|ip| check("spec.host", ip))
            .or_else(|| resolver(&s.resolver)),
        CheckSpec::Dns(s) => resolver(&s.resolver),
        _ => None,
    }
}

/// Validates a monitor's input with core (spec, schedule, thresholds) and the server's
/// target policy, collecting every field-level problem.
///
/// What needs the database is checked by the caller: that `parent_id` is a monitor of the
/// same workspace and not the monitor itself (see [`check_parent`]), and that the key is
/// free (the store answers 409).
///
/// # Errors
/// Every problem found, each a 422 with its `field` (`name`, `spec.url`, `schedule.every`,
/// `thresholds.window`, ...), in field order.
pub fn validate_monitor_fields(
    input: &MonitorInput,
    config: &Config,
) -> Result<NewMonitor, Vec<ApiError>> {
    let mut errors = Vec::new();
    if let Some(key) = &input.key
        && let Err(e) = validate_key(key)
    {
        errors.push(e);
    }
    let name = validate_name("name", &input.name)
        .map_err(|e| errors.push(e))
        .ok();
    let spec = match from_value::<CheckSpec>(&input.spec, "spec") {
        Ok(spec) => match spec.validate() {
            Ok(()) => Some(spec),
            Err(e) => {
                errors.push(spec_error(e, "spec"));
                None
            }
        },
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if config.targets.deny_private
        && let Some((field, ip, range)) = spec.as_ref().and_then(private_target)
    {
        errors.push(
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "target_not_allowed",
                format!(
                    "target address {ip} is in a {range} range, which this server does not allow"
                ),
            )
            .with_field(field),
        );
    }
    let heartbeat = spec.as_ref().is_some_and(CheckSpec::is_heartbeat);
    let schedule = match input.schedule.as_ref().filter(|v| !v.is_null()) {
        None => Some(Schedule::Interval(DEFAULT_INTERVAL)),
        Some(v) => parse_schedule(v).map_err(|e| errors.push(e)).ok(),
    };
    let thresholds = parse_thresholds(input.thresholds.as_ref(), heartbeat)
        .map_err(|e| errors.push(e))
        .ok();
    if input.parent_id.is_some_and(|p| p <= 0) {
        errors.push(ApiError::invalid("parent_id", "not a monitor id"));
    }
    let locations: Vec<String> = input
        .locations
        .iter()
        .flatten()
        .map(|l| l.trim().to_owned())
        .collect();
    for (i, l) in locations.iter().enumerate() {
        if let Err(e) = super::locations::validate_location_name(&format!("locations[{i}]"), l) {
            errors.push(e);
        }
    }
    let quorum = super::locations::parse_quorum(input.quorum.as_ref())
        .map_err(|e| errors.push(e))
        .ok();
    match (name, spec, schedule, thresholds, quorum) {
        (Some(name), Some(spec), Some(schedule), Some(thresholds), Some(quorum))
            if errors.is_empty() =>
        {
            Ok(NewMonitor {
                key: input.key.clone(),
                name,
                spec,
                schedule,
                thresholds,
                parent_id: input.parent_id.map(MonitorId),
                paused: input.paused.unwrap_or(false),
                locations,
                quorum,
            })
        }
        _ => Err(errors),
    }
}

/// Validates a monitor's input (as [`validate_monitor_fields`]), answering the first problem.
///
/// # Errors
/// The first field-level problem, a 422 with its `field`.
pub fn validate_monitor(input: &MonitorInput, config: &Config) -> Result<NewMonitor, ApiError> {
    validate_monitor_fields(input, config).map_err(|mut errors| {
        if errors.is_empty() {
            ApiError::invalid("body", "invalid monitor")
        } else {
            errors.swap_remove(0)
        }
    })
}

/// Checks a monitor's parent: not the monitor itself, and a monitor of the same workspace.
///
/// # Errors
/// 422 `validation_failed` on field `parent_id`.
pub async fn check_parent<S: bitwobbly_store::Source>(
    scope: &mut bitwobbly_store::Scoped<S>,
    this: Option<MonitorId>,
    parent: Option<MonitorId>,
) -> Result<(), ApiError>
where
    bitwobbly_store::Scoped<S>: MonitorStore,
{
    let Some(parent) = parent else {
        return Ok(());
    };
    if Some(parent) == this {
        return Err(ApiError::invalid(
            "parent_id",
            "a monitor cannot depend on itself",
        ));
    }
    if scope.monitor(parent).await?.is_none() {
        return Err(ApiError::invalid(
            "parent_id",
            "no monitor with this id in this workspace",
        ));
    }
    Ok(())
}

// === views ===

/// A monitor's running state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitorStateView {
    /// `unknown`, `up`, `degraded`, `down`, `paused` or `maintenance`.
    pub status: String,
    /// When the last result started (or the last ping arrived).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_result_at: Option<OffsetDateTime>,
    /// The last result: `up`, `degraded` or `down`.
    pub last_status: Option<String>,
    /// The last result's message (for a heartbeat, the last ping's body).
    pub last_message: Option<String>,
    /// When it next runs (for a heartbeat: its next deadline).
    #[serde(with = "time::serde::rfc3339")]
    pub next_run_at: OffsetDateTime,
}

/// A monitor with its current state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitorView {
    /// Id.
    pub id: i64,
    /// Configuration key.
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// `http`, `tcp`, `dns`, `tls` or `heartbeat`.
    pub kind: String,
    /// What it watches, for people (`https://...`, `host:443`, `ping every 5m`).
    pub target: String,
    /// The check spec.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// When it runs (core form); `null` for heartbeats, which follow their pings.
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<Value>,
    /// State-change thresholds.
    #[schema(value_type = Object)]
    pub thresholds: Value,
    /// The monitor it depends on.
    pub parent_id: Option<i64>,
    /// Whether scheduling is paused.
    pub paused: bool,
    /// Locations that run it.
    pub locations: Vec<String>,
    /// How the locations' views combine (`share`, `stale_after`).
    #[schema(value_type = Object)]
    pub quorum: Value,
    /// For heartbeats: the URL to ping (`<public_url>/ping/<token>`; add `/start`, `/fail`
    /// or `/<exit status>`).
    pub ping_url: Option<String>,
    /// Current status (`paused` while paused).
    pub status: String,
    /// The running state.
    pub state: Option<MonitorStateView>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A monitor and its state as the API shows them.
pub fn monitor_view(config: &Config, m: Monitor, state: Option<MonitorState>) -> MonitorView {
    let heartbeat = m.spec.is_heartbeat();
    let state = state.map(|s| MonitorStateView {
        status: s.status.as_str().to_owned(),
        last_result_at: odt(s.last_result_at),
        last_status: s.last_status.map(|c| c.as_str().to_owned()),
        last_message: s.last_message,
        next_run_at: dt(s.next_run_at),
    });
    let status = if m.paused {
        MonitorStatus::Paused.as_str().to_owned()
    } else {
        state.as_ref().map_or_else(
            || MonitorStatus::Unknown.as_str().to_owned(),
            |s| s.status.clone(),
        )
    };
    MonitorView {
        id: m.id.0,
        key: m.key,
        name: m.name,
        kind: m.spec.kind().to_owned(),
        target: m.spec.target(),
        spec: serde_json::to_value(&m.spec).unwrap_or(Value::Null),
        schedule: (!heartbeat).then(|| serde_json::to_value(&m.schedule).unwrap_or(Value::Null)),
        thresholds: serde_json::to_value(m.thresholds).unwrap_or(Value::Null),
        parent_id: m.parent_id.map(|p| p.0),
        paused: m.paused,
        locations: m.locations,
        quorum: serde_json::to_value(m.quorum).unwrap_or(Value::Null),
        ping_url: m
            .ping_token
            .filter(|_| heartbeat)
            .map(|t| format!("{}/ping/{t}", config.public_url())),
        status,
        state,
        created_at: dt(m.created_at),
        updated_at: dt(m.updated_at),
    }
}

/// A monitor of `ws` with its state, as the API shows it.
///
/// # Errors
/// 404 when the workspace has no such monitor.
pub(crate) async fn load_view(
    state: &AppState,
    ws: WorkspaceId,
    id: MonitorId,
) -> Result<MonitorView, ApiError> {
    let mut scope = state.store.workspace(ws);
    let m = scope.monitor(id).await?.or_not_found("monitor")?;
    let s = scope.monitor_state(id).await?;
    Ok(monitor_view(&state.config, m, s))
}

fn key_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => {
            ApiError::conflict("another monitor of this workspace has this key").with_field("key")
        }
        StoreError::Invalid {
            field: "parent_id",
            problem,
        } => ApiError::invalid("parent_id", problem),
        StoreError::NotFound { entity } if entity.contains("parent") => {
            ApiError::invalid("parent_id", "no monitor with this id in this workspace")
        }
        e => e.into(),
    }
}

// === handlers ===

/// The workspace's monitors with their current state.
#[utoipa::path(get, path = "/workspaces/{workspace}/monitors", tag = "monitors",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses((status = 200, body = [MonitorView]), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access<Read>,
) -> Result<Json<Vec<MonitorView>>, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let monitors = scope.monitors().await?;
    let mut states: HashMap<MonitorId, MonitorState> = scope
        .monitor_states()
        .await?
        .into_iter()
        .map(|s| (s.monitor_id, s))
        .collect();
    Ok(Json(
        monitors
            .into_iter()
            .map(|m| {
                let s = states.remove(&m.id);
                monitor_view(&state.config, m, s)
            })
            .collect(),
    ))
}

/// Creates a monitor (member). Heartbeat monitors get their ping URL in the answer.
#[utoipa::path(post, path = "/workspaces/{workspace}/monitors", tag = "monitors",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = MonitorInput,
    responses(
        (status = 201, body = MonitorView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The key is taken", body = ErrorBody),
        (status = 422, description = "A field is invalid (named in `field`)", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiJson(input): ApiJson<MonitorInput>,
) -> Result<(StatusCode, Json<MonitorView>), ApiError> {
    let new = validate_monitor(&input, &state.config)?;
    let view = save_monitor(&state, access.ws(), None, &new).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Saves a validated monitor of `ws` (the API and the dashboard): a new one (`id` `None`)
/// or over monitor `id`, after the checks that need the database (parent, locations; a
/// taken key is a 409 on field `key`).
///
/// # Errors
/// 422 on `parent_id` or `locations`, 409 on `key`, 404 when `id` is not a monitor of `ws`.
pub(crate) async fn save_monitor(
    state: &AppState,
    ws: WorkspaceId,
    id: Option<MonitorId>,
    new: &NewMonitor,
) -> Result<MonitorView, ApiError> {
    let mut scope = state.store.workspace(ws);
    check_parent(&mut scope, id, new.parent_id).await?;
    super::locations::check_locations(&mut scope, &new.locations).await?;
    let id = match id {
        None => {
            scope
                .create_monitor(new, state.clock.now())
                .await
                .map_err(key_conflict)?
                .id
        }
        Some(id) => {
            scope
                .update_monitor(id, new, state.clock.now())
                .await
                .map_err(key_conflict)?;
            id
        }
    };
    load_view(state, ws, id).await
}

/// The outcome of validating a monitor.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationView {
    /// Whether the monitor would be accepted.
    pub valid: bool,
    /// Every problem found, each with its `field`.
    pub errors: Vec<super::ErrorDetail>,
}

/// Validates a monitor without saving it: every field-level problem, in the error shape's
/// `{code, message, field}` form.
#[utoipa::path(post, path = "/workspaces/{workspace}/monitors/validate", tag = "monitors",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = MonitorInput,
    responses(
        (status = 200, body = ValidationView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn validate(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<ValidationView>, ApiError> {
    let errors = match from_value::<MonitorInput>(&body, "") {
        Err(e) => vec![e],
        Ok(input) => match validate_monitor_fields(&input, &state.config) {
            Ok(new) => {
                let mut scope = state.store.workspace(access.ws());
                let checked = match check_parent(&mut scope, None, new.parent_id).await {
                    Ok(()) => super::locations::check_locations(&mut scope, &new.locations).await,
                    Err(e) => Err(e),
                };
                match checked {
                    Ok(()) => Vec::new(),
                    Err(e) => vec![e],
                }
            }
            Err(errors) => errors,
        },
    };
    Ok(Json(ValidationView {
        valid: errors.is_empty(),
        errors: errors.into_iter().map(super::ErrorDetail::from).collect(),
    }))
}

/// A monitor with its current state.
#[utoipa::path(get, path = "/workspaces/{workspace}/monitors/{id}", tag = "monitors",
    params(IdPath),
    responses((status = 200, body = MonitorView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<MonitorView>, ApiError> {
    Ok(Json(load_view(&state, access.ws(), MonitorId(id)).await?))
}

/// Replaces a monitor's definition (member); a heartbeat keeps its ping URL.
#[utoipa::path(put, path = "/workspaces/{workspace}/monitors/{id}", tag = "monitors",
    params(IdPath),
    request_body = MonitorInput,
    responses(
        (status = 200, body = MonitorView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiJson(input): ApiJson<MonitorInput>,
) -> Result<Json<MonitorView>, ApiError> {
    let id = MonitorId(id);
    let mut scope = state.store.workspace(access.ws());
    scope.monitor(id).await?.or_not_found("monitor")?;
    let new = validate_monitor(&input, &state.config)?;
    Ok(Json(
        save_monitor(&state, access.ws(), Some(id), &new).await?,
    ))
}

/// Deletes a monitor with its results (member).
#[utoipa::path(delete, path = "/workspaces/{workspace}/monitors/{id}", tag = "monitors",
    params(IdPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    delete_monitor(&state, access.ws(), MonitorId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a monitor of `ws` with its results, and forgets its metrics.
///
/// # Errors
/// 404 when the workspace has no such monitor.
pub(crate) async fn delete_monitor(
    state: &AppState,
    ws: WorkspaceId,
    id: MonitorId,
) -> Result<(), ApiError> {
    state.store.workspace(ws).delete_monitor(id).await?;
    state.metrics.forget_monitor(ws, id);
    Ok(())
}

/// Pauses or resumes a monitor of `ws`; answers it as the API shows it.
///
/// # Errors
/// 404 when the workspace has no such monitor.
pub(crate) async fn set_paused(
    state: &AppState,
    ws: WorkspaceId,
    id: i64,
    paused: bool,
) -> Result<Json<MonitorView>, ApiError> {
    let id = MonitorId(id);
    state
        .store
        .workspace(ws)
        .set_paused(id, paused, state.clock.now())
        .await?;
    Ok(Json(load_view(state, ws, id).await?))
}

/// Pauses a monitor (member): it is not checked until resumed.
#[utoipa::path(post, path = "/workspaces/{workspace}/monitors/{id}/pause", tag = "monitors",
    params(IdPath),
    responses(
        (status = 200, body = MonitorView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn pause(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<MonitorView>, ApiError> {
    set_paused(&state, access.ws(), id, true).await
}

/// Resumes a paused monitor (member); it is due at once.
#[utoipa::path(post, path = "/workspaces/{workspace}/monitors/{id}/resume", tag = "monitors",
    params(IdPath),
    responses(
        (status = 200, body = MonitorView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn resume(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<MonitorView>, ApiError> {
    set_paused(&state, access.ws(), id, false).await
}

/// Runs a monitor now (member) and answers its report and status; the result is recorded
/// like a scheduled one.
#[utoipa::path(post, path = "/workspaces/{workspace}/monitors/{id}/check", tag = "monitors",
    params(IdPath),
    responses(
        (status = 200, description = "`{report, monitor_status, recorded}`: the check report (timings, HTTP facts, assertions) and the status after it", body = Object),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "A heartbeat monitor has nothing to run", body = ErrorBody),
    ))]
pub async fn check(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<Value>, ApiError> {
    let done = crate::scheduler::check_now(&state, access.ws(), MonitorId(id)).await?;
    Ok(Json(
        serde_json::to_value(&done).map_err(|e| ApiError::internal(&e))?,
    ))
}

/// The notification channels linked to a monitor.
#[utoipa::path(get, path = "/workspaces/{workspace}/monitors/{id}/channels", tag = "monitors",
    params(IdPath),
    responses((status = 200, body = [ChannelView]), (status = 404, body = ErrorBody)))]
pub async fn channels(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    let id = MonitorId(id);
    let mut scope = state.store.workspace(access.ws());
    scope.monitor(id).await?.or_not_found("monitor")?;
    let list = scope.channels_for_monitor(id).await?;
    Ok(Json(channel_views(&mut scope, list).await?))
}

/// The channels to link to a monitor (replacing the current links).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorChannelsInput {
    /// Channel ids of this workspace.
    pub channel_ids: Vec<i64>,
}

/// Replaces the notification channels linked to a monitor (member).
#[utoipa::path(put, path = "/workspaces/{workspace}/monitors/{id}/channels", tag = "monitors",
    params(IdPath),
    request_body = MonitorChannelsInput,
    responses(
        (status = 200, body = [ChannelView]),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "A channel is not in this workspace", body = ErrorBody),
    ))]
pub async fn set_channels(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiJson(input): ApiJson<MonitorChannelsInput>,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    let list = replace_channels(&state, access.ws(), MonitorId(id), &input.channel_ids).await?;
    Ok(Json(list))
}

/// Replaces the channels linked to a monitor of `ws` (the API and the dashboard); answers
/// the linked channels.
///
/// # Errors
/// 404 for an unknown monitor; 422 on `channel_ids[i]` for a channel not in `ws`.
pub(crate) async fn replace_channels(
    state: &AppState,
    ws: WorkspaceId,
    id: MonitorId,
    channel_ids: &[i64],
) -> Result<Vec<ChannelView>, ApiError> {
    let mut scope = state.store.workspace(ws);
    scope.monitor(id).await?.or_not_found("monitor")?;
    let mut ids = Vec::with_capacity(channel_ids.len());
    for (i, c) in channel_ids.iter().enumerate() {
        if scope.channel(ChannelId(*c)).await?.is_none() {
            return Err(ApiError::invalid(
                format!("channel_ids[{i}]"),
                "no channel with this id in this workspace",
            ));
        }
        if !ids.contains(&ChannelId(*c)) {
            ids.push(ChannelId(*c));
        }
    }
    scope.set_monitor_channels(id, &ids).await?;
    let list = scope.channels_for_monitor(id).await?;
    channel_views(&mut scope, list).await
}

/// A monitor's incidents, newest first.
#[utoipa::path(get, path = "/workspaces/{workspace}/monitors/{id}/incidents", tag = "monitors",
    params(IdPath, LimitQuery),
    responses((status = 200, body = [IncidentView]), (status = 404, body = ErrorBody)))]
pub async fn incidents(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<IncidentView>>, ApiError> {
    let id = MonitorId(id);
    let limit = parse_limit(q.limit.as_deref(), 50, 500)?;
    let mut scope = state.store.workspace(access.ws());
    scope.monitor(id).await?.or_not_found("monitor")?;
    let list = scope.incidents_for_monitor(id, limit).await?;
    Ok(Json(list.into_iter().map(IncidentView::from).collect()))
}

// === results ===

/// `?limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// Most items to return.
    pub limit: Option<String>,
}

/// Parses a `limit` query parameter (1..=`max`, default `default`).
///
/// # Errors
/// 422 `validation_failed` on field `limit`.
pub fn parse_limit(v: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                "limit",
                format!("must be a whole number from 1 to {max}"),
            )),
        },
    }
}

/// Parses a time query parameter: RFC 3339 or milliseconds since the Unix epoch.
///
/// # Errors
/// 422 `validation_failed` on `field`.
pub fn parse_time(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(Timestamp::from_millis(ms));
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(Timestamp::from)
        .map_err(|_| {
            ApiError::invalid(
                field,
                "must be an RFC 3339 date-time or milliseconds since the Unix epoch",
            )
        })
}

/// Query of a monitor's results.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// Start, inclusive: RFC 3339 or milliseconds since the epoch (default: the beginning).
    pub from: Option<String>,
    /// End, exclusive: RFC 3339 or milliseconds (default: now).
    pub to: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    pub order: Option<String>,
}

/// Phase durations of one check, in microseconds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimingsView {
    /// DNS resolution.
    pub dns_us: i64,
    /// TCP connect.
    pub connect_us: i64,
    /// TLS handshake.
    pub tls_us: i64,
    /// Time to first byte.
    pub ttfb_us: i64,
    /// Body transfer.
    pub transfer_us: i64,
    /// Total.
    pub total_us: i64,
}

/// One check result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultView {
    /// Id.
    pub id: i64,
    /// Where it ran.
    pub location: String,
    /// When the check started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// `up`, `degraded` or `down`.
    pub status: String,
    /// Timing breakdown.
    pub timings: TimingsView,
    /// The HTTP status, for HTTP checks that got one.
    pub http_status: Option<u16>,
    /// The error kind, when the check failed.
    pub error_kind: Option<String>,
    /// A short reason.
    pub message: Option<String>,
}

impl From<CheckResult> for ResultView {
    fn from(r: CheckResult) -> Self {
        let t = r.result.timings;
        Self {
            id: r.id.0,
            location: r.result.location,
            started_at: dt(r.result.started_at),
            status: r.result.status.as_str().to_owned(),
            timings: TimingsView {
                dns_us: t.dns_us,
                connect_us: t.connect_us,
                tls_us: t.tls_us,
                ttfb_us: t.ttfb_us,
                transfer_us: t.transfer_us,
                total_us: t.total_us,
            },
            http_status: r.result.http_status,
            error_kind: r.result.error_kind,
            message: r.result.message,
        }
    }
}

/// One page of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsPage {
    /// The results.
    pub items: Vec<ResultView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A monitor's check results in a time range, a page at a time.
#[utoipa::path(get, path = "/workspaces/{workspace}/monitors/{id}/results", tag = "monitors",
    params(IdPath, ResultsQuery),
    responses(
        (status = 200, body = ResultsPage),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn results(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiQuery(q): ApiQuery<ResultsQuery>,
) -> Result<Json<ResultsPage>, ApiError> {
    let id = MonitorId(id);
    let from = q
        .from
        .as_deref()
        .map(|s| parse_time("from", s))
        .transpose()?
        .unwrap_or(Timestamp::EPOCH);
    let to =
        q.to.as_deref()
            .map(|s| parse_time("to", s))
            .transpose()?
            .unwrap_or_else(|| Timestamp::from_millis(state.clock.now().as_millis() + 1));
    let limit = parse_limit(q.limit.as_deref(), 100, 1000)?;
    let order = match q.order.as_deref() {
        None | Some("desc") => Order::Descending,
        Some("asc") => Order::Ascending,
        Some(_) => return Err(ApiError::invalid("order", "must be `asc` or `desc`")),
    };
    let after = q
        .cursor
        .as_deref()
        .map(Cursor::decode)
        .transpose()
        .map_err(|_| ApiError::invalid("cursor", "not a cursor from a previous page"))?;
    let mut scope = state.store.workspace(access.ws());
    scope.monitor(id).await?.or_not_found("monitor")?;
    let page = scope
        .results(&ResultQuery {
            monitor_id: id,
            from,
            to,
            order,
            limit,
            after,
        })
        .await?;
    Ok(Json(ResultsPage {
        items: page.items.into_iter().map(ResultView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

// === statistics ===

/// The windows statistics are given for.
pub const STAT_WINDOWS: [(&str, Duration); 4] = [
    ("24h", Duration::from_secs(86_400)),
    ("7d", Duration::from_secs(7 * 86_400)),
    ("30d", Duration::from_secs(30 * 86_400)),
    ("90d", Duration::from_secs(90 * 86_400)),
];

/// Most raw results read for the part of the range not rolled up yet.
const RAW_CAP: usize = 200_000;

/// Latency over a window, in milliseconds, of up and degraded results.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LatencyView {
    /// Median.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// Mean.
    pub mean_ms: Option<f64>,
}

/// Uptime and latency over one window.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WindowStats {
    /// `24h`, `7d`, `30d` or `90d`.
    pub window: String,
    /// Start (aligned to the hour).
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// End (now).
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// Checks counted.
    pub total: u64,
    /// Up results.
    pub up: u64,
    /// Degraded results (they count as available).
    pub degraded: u64,
    /// Down results.
    pub down: u64,
    /// Up and degraded over all, in percent; `null` with no results.
    pub uptime_percent: Option<f64>,
    /// Latency.
    pub latency: LatencyView,
}

/// A monitor's statistics.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsView {
    /// The monitor.
    pub monitor_id: i64,
    /// The windows, shortest first.
    pub windows: Vec<WindowStats>,
    /// Where the numbers come from.
    pub source: String,
}

/// Counts and a latency sketch being added up.
#[derive(Debug, Clone, Default)]
struct Acc {
    tally: Tally,
    sketch: LatencySketch,
    sum_us: i64,
}

impl Acc {
    fn finish(&self, window: &str, from: Timestamp, to: Timestamp) -> WindowStats {
        let ms = |us: f64| (us / 1000.0 * 1000.0).round() / 1000.0;
        let n = self.sketch.count();
        WindowStats {
            window: window.to_owned(),
            from: dt(from),
            to: dt(to),
            total: self.tally.total(),
            up: self.tally.up,
            degraded: self.tally.degraded,
            down: self.tally.down,
            uptime_percent: self.tally.uptime_percent(),
            latency: LatencyView {
                p50_ms: self.sketch.quantile(0.5).map(ms),
                p95_ms: self.sketch.quantile(0.95).map(ms),
                mean_ms: (n > 0).then(|| ms(self.sum_us as f64 / n as f64)),
            },
        }
    }
}

/// Uptime and latency of each window in [`STAT_WINDOWS`] ending at `now`, from hourly
/// rollups (buckets starting at or after the window's start, floored to the hour) plus raw
/// results at or after `edge` (the end of the last rolled-up hour).
pub(crate) fn window_stats(
    now: Timestamp,
    rollups: &[Rollup],
    raw: &[CheckResult],
    edge: Timestamp,
) -> Vec<WindowStats> {
    STAT_WINDOWS
        .iter()
        .map(|(name, len)| {
            let from = now.minus(*len).floor_hour();
            let mut acc = Acc::default();
            for r in rollups
                .iter()
                .filter(|r| r.bucket_start >= from && r.bucket_start < edge)
            {
                let t = Tally::new(
                    u64::try_from(r.up).unwrap_or(0),
                    u64::try_from(r.degraded).unwrap_or(0),
                    u64::try_from(r.down).unwrap_or(0),
                );
                acc.tally = acc.tally.merge(t);
                acc.sketch.merge(&r.latency);
                acc.sum_us += r.sum_us;
            }
            for r in raw
                .iter()
                .filter(|r| r.result.started_at >= from.max(edge) && r.result.started_at <= now)
            {
                let (up, degraded, down) = match r.result.status {
                    CheckStatus::Up => (1, 0, 0),
                    CheckStatus::Degraded => (0, 1, 0),
                    CheckStatus::Down => (0, 0, 1),
                };
                acc.tally = acc.tally.merge(Tally::new(up, degraded, down));
                if r.result.status != CheckStatus::Down {
                    acc.sketch.add(r.result.timings.total_us);
                    acc.sum_us += r.result.timings.total_us;
                }
            }
            acc.finish(name, from, now)
        })
        .collect()
}

/// Uptime percentage and latency p50/p95/mean over the last 24 h, 7 d, 30 d and 90 d.
///
/// Computed from the hourly rollups, plus the raw results of the recent hours that are not
/// rolled up yet, so the numbers include the latest checks.
#[utoipa::path(get, path = "/workspaces/{workspace}/monitors/{id}/stats", tag = "monitors",
    params(IdPath),
    responses((status = 200, body = StatsView), (status = 404, body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<StatsView>, ApiError> {
    Ok(Json(
        monitor_stats(&state, access.ws(), MonitorId(id)).await?,
    ))
}

/// A monitor's statistics over [`STAT_WINDOWS`] (the API and the dashboard).
///
/// # Errors
/// 404 when the workspace has no such monitor.
pub(crate) async fn monitor_stats(
    state: &AppState,
    ws: WorkspaceId,
    id: MonitorId,
) -> Result<StatsView, ApiError> {
    let now = state.clock.now();
    let mut scope = state.store.workspace(ws);
    scope.monitor(id).await?.or_not_found("monitor")?;
    let longest = STAT_WINDOWS[STAT_WINDOWS.len() - 1].1;
    let start = now.minus(longest).floor_hour();
    let rollups = scope
        .hourly_rollups(id, start, Timestamp::from_millis(now.as_millis() + 1))
        .await?;
    let edge = rollups
        .iter()
        .map(|r| r.bucket_start.plus(Duration::from_secs(3600)))
        .max()
        .unwrap_or(start);
    let mut raw = Vec::new();
    let mut after = None;
    loop {
        let page = scope
            .results(&ResultQuery {
                monitor_id: id,
                from: edge,
                to: Timestamp::from_millis(now.as_millis() + 1),
                order: Order::Ascending,
                limit: 10_000,
                after,
            })
            .await?;
        raw.extend(page.items);
        match page.next {
            Some(c) if raw.len() < RAW_CAP => after = Some(c),
            _ => break,
        }
    }
    Ok(StatsView {
        monitor_id: id.0,
        windows: window_stats(now, &rollups, &raw, edge),
        source: "hourly rollups, plus raw results after the last rolled-up hour".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(spec: Value) -> MonitorInput {
        MonitorInput {
            key: None,
            name: "api".into(),
            spec,
            schedule: None,
            thresholds: None,
            parent_id: None,
            paused: None,
            locations: None,
            quorum: None,
        }
    }

    fn http() -> Value {
        serde_json::json!({"type": "http", "url": "https://example.com/health"})
    }

    #[test]
    fn defaults_are_every_minute_with_core_thresholds() {
        let m = validate_monitor(&input(http()), &Config::default()).unwrap();
        assert_eq!(m.schedule, Schedule::Interval(DEFAULT_INTERVAL));
        assert_eq!(m.thresholds, Thresholds::default());
        assert!(!m.paused);
    }

    #[test]
    fn heartbeats_default_to_one_strike_thresholds_over_which_given_fields_apply() {
        let spec = serde_json::json!({
            "type": "heartbeat", "expect": {"type": "period", "period": "5m"}, "grace": "1m"
        });
        let m = validate_monitor(&input(spec.clone()), &Config::default()).unwrap();
        assert_eq!(m.thresholds, heartbeat_thresholds());
        let mut i = input(spec);
        i.thresholds = Some(serde_json::json!({"recover_after": 3}));
        let m = validate_monitor(&i, &Config::default()).unwrap();
        assert_eq!(
            (m.thresholds.down_after, m.thresholds.recover_after),
            (1, 3)
        );
    }

    #[test]
    fn schedules_in_core_and_short_forms() {
        let cases = [
            (
                serde_json::json!({"type": "interval", "every": "30s"}),
                Schedule::interval(Duration::from_secs(30)).unwrap(),
            ),
            (
                serde_json::json!({"interval": "2m"}),
                Schedule::interval(Duration::from_secs(120)).unwrap(),
            ),
            (
                serde_json::json!({"type": "cron", "expr": "*/5 * * * *", "tz": "Europe/Paris"}),
                Schedule::cron("*/5 * * * *", "Europe/Paris").unwrap(),
            ),
            (
                serde_json::json!({"cron": "0 3 * * *"}),
                Schedule::cron("0 3 * * *", "UTC").unwrap(),
            ),
        ];
        for (v, want) in cases {
            assert_eq!(parse_schedule(&v).unwrap(), want, "{v}");
        }
        for (v, field) in [
            (serde_json::json!({"interval": "1s"}), "schedule.interval"),
            (
                serde_json::json!({"type": "interval", "every": "soon"}),
                "schedule.every",
            ),
            (serde_json::json!({"cron": "nope"}), "schedule.cron"),
            (
                serde_json::json!({"cron": "* * * * *", "tz": "Mars/Base"}),
                "schedule.tz",
            ),
            (serde_json::json!({"type": "weekly"}), "schedule.type"),
            (serde_json::json!({"interval": "30s", "x": 1}), "schedule.x"),
        ] {
            let e = parse_schedule(&v).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{v}: {e}");
        }
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut i = input(serde_json::json!({"type": "http", "url": "ftp://x"}));
        i.name = " ".into();
        i.key = Some("bad key".into());
        i.schedule = Some(serde_json::json!({"interval": "1s"}));
        i.thresholds = Some(serde_json::json!({"window": 0}));
        let errors = validate_monitor_fields(&i, &Config::default()).unwrap_err();
        let fields: Vec<_> = errors.iter().filter_map(|e| e.field.as_deref()).collect();
        assert_eq!(
            fields,
            [
                "key",
                "name",
                "spec.url",
                "schedule.interval",
                "thresholds.window"
            ]
        );
    }

    #[test]
    fn private_targets_are_refused_only_when_configured() {
        let mut config = Config::default();
        let i = input(serde_json::json!({"type": "http", "url": "http://127.0.0.1:8080/"}));
        assert!(validate_monitor(&i, &config).is_ok());
        config.targets.deny_private = true;
        let e = validate_monitor(&i, &config).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("target_not_allowed", Some("spec.url"))
        );
        let i = input(serde_json::json!({"type": "tcp", "host": "10.0.0.1", "port": 22}));
        let e = validate_monitor(&i, &config).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.host"));
        let i = input(serde_json::json!({"type": "tcp", "host": "example.com", "port": 22}));
        assert!(validate_monitor(&i, &config).is_ok());
    }

    fn roll(at: Timestamp, up: i64, down: i64, us: i64) -> Rollup {
        let mut latency = LatencySketch::new();
        for _ in 0..up {
            latency.add(us);
        }
        Rollup {
            monitor_id: MonitorId(1),
            bucket_start: at,
            up,
            degraded: 0,
            down,
            latency,
            min_us: Some(us),
            max_us: Some(us),
            sum_us: us * up,
        }
    }

    fn raw(at: Timestamp, status: CheckStatus, us: i64) -> CheckResult {
        CheckResult {
            id: ResultId(1),
            workspace_id: WorkspaceId(1),
            result: NewCheckResult {
                monitor_id: MonitorId(1),
                location: String::new(),
                started_at: at,
                status,
                timings: PhaseTimes {
                    total_us: us,
                    ..PhaseTimes::default()
                },
                http_status: None,
                error_kind: None,
                message: None,
            },
        }
    }

    #[test]
    fn windows_add_rollups_and_the_raw_edge() {
        let hour = Duration::from_secs(3600);
        let now = Timestamp::from_millis(1_704_067_200_000)
            .plus(hour * 10)
            .plus(Duration::from_secs(600));
        let this_hour = now.floor_hour();
        // Two rolled-up hours: one yesterday-ish (30 h ago, outside 24h) and one 2 h ago.
        let old = this_hour.minus(hour * 30);
        let recent = this_hour.minus(hour * 2);
        let rollups = [roll(old, 3, 1, 10_000), roll(recent, 4, 0, 20_000)];
        let edge = recent.plus(hour);
        let raws = [
            raw(edge.plus(Duration::from_secs(5)), CheckStatus::Up, 40_000),
            raw(edge.plus(Duration::from_secs(65)), CheckStatus::Down, 0),
            // Before the edge: already counted in a rollup, must be left out.
            raw(recent.plus(Duration::from_secs(1)), CheckStatus::Down, 0),
        ];
        let w = window_stats(now, &rollups, &raws, edge);
        let day = &w[0];
        assert_eq!(day.window, "24h");
        assert_eq!((day.up, day.down, day.total), (5, 1, 6));
        assert_eq!(day.latency.mean_ms, Some(24.0));
        let week = &w[1];
        assert_eq!((week.up, week.down, week.total), (8, 2, 10));
        assert_eq!(week.uptime_percent, Some(80.0));
        assert!(week.latency.p95_ms.unwrap() > 35.0);
    }
}
