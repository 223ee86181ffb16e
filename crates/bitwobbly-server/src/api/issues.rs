//! Error-tracking issues of a project (list with filters, sorting and cursors; detail with
//! its latest events; resolve, ignore and unresolve, one at a time or in bulk), event detail
//! (normalised fields, tags, exceptions with their frames, breadcrumbs, user, contexts, and the
//! raw payload) and attachments (listed per event, downloaded byte for byte).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bitwobbly_envelope::EventInfo;
use bitwobbly_store::prelude::*;
use bitwobbly_store::{Scoped, Source};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::monitors::parse_limit;
use super::projects::project_of;
use super::views::{dt, odt};
use super::{ErrorBody, IdPath, OrNotFound as _};
use crate::auth::{Access, Read, Write};
use crate::error::ApiError;
use crate::state::AppState;

// === views ===

/// An error-tracking issue: events grouped by fingerprint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssueView {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// Title (exception type and value, or message).
    pub title: String,
    /// Where it happened (function or transaction).
    pub culprit: Option<String>,
    /// Level of the latest event.
    pub level: String,
    /// `unresolved`, `resolved` or `ignored`.
    pub status: String,
    /// First event.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// Latest event.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// Events.
    pub count: i64,
    /// Distinct users affected.
    pub user_count: i64,
    /// Whether it came back after being resolved.
    pub regressed: bool,
    /// When it was resolved.
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
}

impl From<Issue> for IssueView {
    fn from(i: Issue) -> Self {
        Self {
            id: i.id.0,
            project_id: i.project_id.0,
            title: i.title,
            culprit: i.culprit,
            level: i.level,
            status: i.status.as_str().to_owned(),
            first_seen: dt(i.first_seen),
            last_seen: dt(i.last_seen),
            count: i.event_count,
            user_count: i.user_count,
            regressed: i.regressed,
            resolved_at: odt(i.resolved_at),
        }
    }
}

/// One event, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventSummaryView {
    /// The SDK's event id (32 hex characters).
    pub event_id: String,
    /// The issue it was grouped into.
    pub issue_id: Option<i64>,
    /// Level.
    pub level: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Title.
    pub title: String,
    /// Culprit.
    pub culprit: Option<String>,
    /// Tags, as sent.
    #[schema(value_type = Object)]
    pub tags: BTreeMap<String, String>,
}

impl From<Event> for EventSummaryView {
    fn from(e: Event) -> Self {
        let e = e.event;
        Self {
            event_id: e.event_id,
            issue_id: e.issue_id.map(|i| i.0),
            level: e.level,
            timestamp: dt(e.timestamp),
            release: e.release,
            environment: e.environment,
            title: e.title,
            culprit: e.culprit,
            tags: e.tags.into_iter().collect(),
        }
    }
}

/// An issue with its latest events.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssueDetailView {
    /// The issue.
    #[serde(flatten)]
    pub issue: IssueView,
    /// Its latest events, newest first.
    pub events: Vec<EventSummaryView>,
}

/// One page of issues.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuesPage {
    /// The issues.
    pub items: Vec<IssueView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

// === paths and queries ===

/// The path of one issue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IssuePath {
    /// Workspace slug
    pub workspace: String,
    /// The project's id
    pub id: i64,
    /// The issue's id
    pub issue_id: i64,
}

/// The path of one event.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EventPath {
    /// Workspace slug
    pub workspace: String,
    /// The project's id
    pub id: i64,
    /// The SDK's event id (32 hex characters, or a UUID with dashes)
    pub event_id: String,
}

/// The path of one attachment.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AttachmentPath {
    /// Workspace slug
    pub workspace: String,
    /// The project's id
    pub id: i64,
    /// The attachment's id
    pub attachment_id: i64,
}

/// Filters, order and page of an issue listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IssuesQuery {
    /// `unresolved`, `resolved` or `ignored`.
    pub status: Option<String>,
    /// `fatal`, `error`, `warning`, `info` or `debug`.
    pub level: Option<String>,
    /// Only issues with an event in this environment.
    pub environment: Option<String>,
    /// Only issues with an event of this release.
    pub release: Option<String>,
    /// Text in the title or culprit (case-insensitive).
    pub query: Option<String>,
    /// `last_seen` (default), `first_seen`, `count` or `users`; always descending.
    pub sort: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (with the same filters and sort).
    pub cursor: Option<String>,
}

/// The levels an issue may be filtered by.
pub const LEVELS: [&str; 5] = ["fatal", "error", "warning", "info", "debug"];

fn short_text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) if s.is_empty() || s.len() > max => Err(ApiError::invalid(
            field,
            format!("must be 1 to {max} bytes"),
        )),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

/// Reads an issue listing's query into a store filter.
///
/// # Errors
/// 422 `validation_failed` naming the parameter.
pub fn issue_filter(project: ProjectId, q: &IssuesQuery) -> Result<IssueFilter, ApiError> {
    let mut f = IssueFilter::new(project, parse_limit(q.limit.as_deref(), 50, 500)?);
    f.status = q
        .status
        .as_deref()
        .map(|s| {
            s.parse::<IssueStatus>().map_err(|_| {
                ApiError::invalid("status", "must be `unresolved`, `resolved` or `ignored`")
            })
        })
        .transpose()?;
    if let Some(level) = q.level.as_deref()
        && !LEVELS.contains(&level)
    {
        return Err(ApiError::invalid(
            "level",
            "must be `fatal`, `error`, `warning`, `info` or `debug`",
        ));
    }
    f.level = q.level.clone();
    f.environment = short_text("environment", q.environment.as_deref(), 256)?;
    f.release = short_text("release", q.release.as_deref(), 512)?;
    f.text = short_text("query", q.query.as_deref(), 256)?;
    f.sort = match q.sort.as_deref() {
        None | Some("last_seen") => IssueSort::LastSeen,
        Some("first_seen") => IssueSort::FirstSeen,
        Some("count") => IssueSort::Count,
        Some("users") => IssueSort::Users,
        Some(_) => {
            return Err(ApiError::invalid(
                "sort",
                "must be `last_seen`, `first_seen`, `count` or `users`",
            ));
        }
    };
    f.after = q
        .cursor
        .as_deref()
        .map(IssueCursor::decode)
        .transpose()
        .map_err(|_| ApiError::invalid("cursor", "not a cursor from a previous page"))?;
    Ok(f)
}

/// `?limit=` of events.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Most events to return, 1 to 100 (default 10).
    pub limit: Option<String>,
}

/// The ids of a bulk status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    /// Issue ids of the project (1 to 1000; repeats are ignored).
    pub ids: Vec<i64>,
}

/// The issues after a bulk status change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkView {
    /// The issues, in the order asked.
    pub issues: Vec<IssueView>,
}

// === issue handlers ===

/// A project's issues: filtered by status, level, environment, release and text; sorted by
/// last seen, first seen or event count; a page at a time.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/issues", tag = "issues",
    params(IdPath, IssuesQuery),
    responses(
        (status = 200, body = IssuesPage),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiQuery(q): ApiQuery<IssuesQuery>,
) -> Result<Json<IssuesPage>, ApiError> {
    Ok(Json(list_issues(&state, &access, id, &q).await?))
}

/// A page of the project `id`'s issues matching `q`.
///
/// # Errors
/// 404 for another workspace's project; 422 naming the query parameter at fault.
pub(crate) async fn list_issues(
    state: &AppState,
    access: &Access<Read>,
    id: i64,
    q: &IssuesQuery,
) -> Result<IssuesPage, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let page = scope.search_issues(&issue_filter(p.id, q)?).await?;
    Ok(IssuesPage {
        items: page.items.into_iter().map(IssueView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    })
}

/// An issue with its latest events.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/issues/{issue_id}",
    tag = "issues",
    params(IssuePath, EventsQuery),
    responses(
        (status = 200, body = IssueDetailView),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(path): ApiPath<IssuePath>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<IssueDetailView>, ApiError> {
    let limit = parse_limit(q.limit.as_deref(), 10, 100)?;
    let (detail, _) = issue_events(&state, &access, &path, None, limit).await?;
    Ok(Json(detail))
}

/// An issue with a page of its events (newest first, after `cursor` from a previous page) and
/// the cursor of the next page, if there may be one.
///
/// # Errors
/// 404 for an issue that is not the project's; 422 on `cursor`.
pub(crate) async fn issue_events(
    state: &AppState,
    access: &Access<Read>,
    path: &IssuePath,
    cursor: Option<&str>,
    limit: u32,
) -> Result<(IssueDetailView, Option<String>), ApiError> {
    let after = cursor
        .map(EventCursor::decode)
        .transpose()
        .map_err(|_| ApiError::invalid("cursor", "not a cursor from a previous page"))?;
    let mut scope = state.store.workspace(access.ws());
    let issue = scope
        .project_issue(ProjectId(path.id), IssueId(path.issue_id))
        .await?
        .or_not_found("issue")?;
    let mut events = scope
        .issue_events_page(issue.id, after, limit.saturating_add(1))
        .await?;
    let next = (events.len() > limit as usize)
        .then(|| {
            events.truncate(limit as usize);
            events.last().map(|e| EventCursor::after(e).encode())
        })
        .flatten();
    Ok((
        IssueDetailView {
            issue: issue.into(),
            events: events.into_iter().map(EventSummaryView::from).collect(),
        },
        next,
    ))
}

/// Tag value counts of an issue of the project (over its latest events, see
/// [`TagCounts`]).
///
/// # Errors
/// 404 for an issue that is not the project's.
pub(crate) async fn issue_tags(
    state: &AppState,
    access: &Access<Read>,
    path: &IssuePath,
) -> Result<TagCounts, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let issue = scope
        .project_issue(ProjectId(path.id), IssueId(path.issue_id))
        .await?
        .or_not_found("issue")?;
    Ok(scope.issue_tag_counts(issue.id).await?)
}

/// Sets the status of issues of a project; 422 naming `ids[i]` for one that is not the
/// project's (nothing changes then).
pub(crate) async fn set_status(
    state: &AppState,
    access: &Access<Write>,
    project: i64,
    ids: &[i64],
    status: IssueStatus,
) -> Result<Vec<IssueView>, ApiError> {
    if ids.is_empty() || ids.len() > 1000 {
        return Err(ApiError::invalid("ids", "must list 1 to 1000 issue ids"));
    }
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, project).await?;
    let mut wanted: Vec<IssueId> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if scope.project_issue(p.id, IssueId(*id)).await?.is_none() {
            return Err(ApiError::invalid(
                format!("ids[{i}]"),
                "no issue with this id in this project",
            ));
        }
        if !wanted.contains(&IssueId(*id)) {
            wanted.push(IssueId(*id));
        }
    }
    let done = scope
        .set_issues_status(p.id, &wanted, status, state.clock.now())
        .await?;
    Ok(done.into_iter().map(IssueView::from).collect())
}

/// Sets one issue's status (the path's issue).
pub(crate) async fn set_one(
    state: &AppState,
    access: &Access<Write>,
    path: &IssuePath,
    status: IssueStatus,
) -> Result<IssueView, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let issue = scope
        .project_issue(ProjectId(path.id), IssueId(path.issue_id))
        .await?
        .or_not_found("issue")?;
    let mut done = scope
        .set_issues_status(issue.project_id, &[issue.id], status, state.clock.now())
        .await?;
    done.pop()
        .map(IssueView::from)
        .ok_or_else(|| ApiError::not_found("issue"))
}

/// Resolves an issue (member); its next event reopens it as a regression.
#[utoipa::path(post, path = "/workspaces/{workspace}/projects/{id}/issues/{issue_id}/resolve",
    tag = "issues",
    params(IssuePath),
    responses(
        (status = 200, body = IssueView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn resolve(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(path): ApiPath<IssuePath>,
) -> Result<Json<IssueView>, ApiError> {
    set_one(&state, &access, &path, IssueStatus::Resolved)
        .await
        .map(Json)
}

/// Ignores an issue (member): it stays muted while its events keep being counted.
#[utoipa::path(post, path = "/workspaces/{workspace}/projects/{id}/issues/{issue_id}/ignore",
    tag = "issues",
    params(IssuePath),
    responses(
        (status = 200, body = IssueView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn ignore(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(path): ApiPath<IssuePath>,
) -> Result<Json<IssueView>, ApiError> {
    set_one(&state, &access, &path, IssueStatus::Ignored)
        .await
        .map(Json)
}

/// Reopens a resolved or ignored issue (member).
#[utoipa::path(post, path = "/workspaces/{workspace}/projects/{id}/issues/{issue_id}/unresolve",
    tag = "issues",
    params(IssuePath),
    responses(
        (status = 200, body = IssueView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn unresolve(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(path): ApiPath<IssuePath>,
) -> Result<Json<IssueView>, ApiError> {
    set_one(&state, &access, &path, IssueStatus::Unresolved)
        .await
        .map(Json)
}

/// Resolves several issues of a project at once (member), all or none.
#[utoipa::path(post, path = "/workspaces/{workspace}/projects/{id}/issues/resolve",
    tag = "issues",
    params(IdPath),
    request_body = BulkInput,
    responses(
        (status = 200, body = BulkView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "An id is not the project's (named in `field`)", body = ErrorBody),
    ))]
pub async fn bulk_resolve(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiJson(input): ApiJson<BulkInput>,
) -> Result<Json<BulkView>, ApiError> {
    let issues = set_status(&state, &access, id, &input.ids, IssueStatus::Resolved).await?;
    Ok(Json(BulkView { issues }))
}

/// Ignores several issues of a project at once (member), all or none.
#[utoipa::path(post, path = "/workspaces/{workspace}/projects/{id}/issues/ignore",
    tag = "issues",
    params(IdPath),
    request_body = BulkInput,
    responses(
        (status = 200, body = BulkView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn bulk_ignore(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiJson(input): ApiJson<BulkInput>,
) -> Result<Json<BulkView>, ApiError> {
    let issues = set_status(&state, &access, id, &input.ids, IssueStatus::Ignored).await?;
    Ok(Json(BulkView { issues }))
}

/// Reopens several issues of a project at once (member), all or none.
#[utoipa::path(post, path = "/workspaces/{workspace}/projects/{id}/issues/unresolve",
    tag = "issues",
    params(IdPath),
    request_body = BulkInput,
    responses(
        (status = 200, body = BulkView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn bulk_unresolve(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiJson(input): ApiJson<BulkInput>,
) -> Result<Json<BulkView>, ApiError> {
    let issues = set_status(&state, &access, id, &input.ids, IssueStatus::Unresolved).await?;
    Ok(Json(BulkView { issues }))
}

// === event detail ===

/// One stack frame.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FrameView {
    /// Function name.
    pub function: Option<String>,
    /// Module or package.
    pub module: Option<String>,
    /// File name.
    pub filename: Option<String>,
    /// Absolute path or URL.
    pub abs_path: Option<String>,
    /// Line number.
    pub lineno: Option<u64>,
    /// Whether it is application code.
    pub in_app: bool,
    /// The source around the line, when the SDK sent it (at most
    /// [`MAX_CONTEXT_LINES`] before and after).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextLineView>,
}

/// One line of source around a frame's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContextLineView {
    /// Its line number, when the frame has one.
    pub lineno: Option<u64>,
    /// The text (at most [`MAX_CONTEXT_LINE_CHARS`] characters).
    pub line: String,
    /// Whether it is the frame's own line.
    pub current: bool,
}

/// Most context lines kept on each side of a frame's line.
pub const MAX_CONTEXT_LINES: usize = 5;
/// Most characters kept of one context line.
pub const MAX_CONTEXT_LINE_CHARS: usize = 300;

/// The context lines of a raw frame (`pre_context`, `context_line`, `post_context`).
fn context_lines(frame: Option<&Value>, lineno: Option<u64>) -> Vec<ContextLineView> {
    let Some(frame) = frame else {
        return Vec::new();
    };
    let Some(current) = frame.get("context_line").and_then(Value::as_str) else {
        return Vec::new();
    };
    let lines = |key: &str| -> Vec<&str> {
        frame
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|l| l.as_str().unwrap_or("")).collect())
            .unwrap_or_default()
    };
    let line = |text: &str, n: Option<u64>, current: bool| ContextLineView {
        lineno: n,
        line: text.chars().take(MAX_CONTEXT_LINE_CHARS).collect(),
        current,
    };
    let pre = lines("pre_context");
    let pre = &pre[pre.len().saturating_sub(MAX_CONTEXT_LINES)..];
    let post = lines("post_context");
    let mut out = Vec::with_capacity(pre.len() + 1 + post.len().min(MAX_CONTEXT_LINES));
    for (i, text) in pre.iter().enumerate() {
        let back = (pre.len() - i) as u64;
        out.push(line(
            text,
            lineno.and_then(|n| n.checked_sub(back)).filter(|n| *n > 0),
            false,
        ));
    }
    out.push(line(current, lineno, true));
    for (i, text) in post.iter().take(MAX_CONTEXT_LINES).enumerate() {
        out.push(line(
            text,
            lineno.map(|n| n.saturating_add(i as u64 + 1)),
            false,
        ));
    }
    out
}

/// One exception of a chain.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ExceptionView {
    /// Type (`ValueError`).
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// Message.
    pub value: Option<String>,
    /// The module defining the type.
    pub module: Option<String>,
    /// Frames, oldest first (the crashing frame last).
    pub frames: Vec<FrameView>,
}

/// One breadcrumb.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BreadcrumbView {
    /// When (RFC 3339, or seconds since the epoch as sent).
    #[schema(value_type = Option<Object>)]
    pub timestamp: Option<Value>,
    /// Type (`default`, `http`, `navigation`, ...).
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// Category (`console`, `httplib`, ...).
    pub category: Option<String>,
    /// Level.
    pub level: Option<String>,
    /// Message.
    pub message: Option<String>,
    /// Extra data, as sent.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// The user an event happened to.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// IP address.
    pub ip_address: Option<String>,
}

/// What the payload of an event says, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PayloadView {
    /// Platform (`python`, `node`, ...).
    pub platform: Option<String>,
    /// The message, if any.
    pub message: Option<String>,
    /// Logger.
    pub logger: Option<String>,
    /// Transaction name.
    pub transaction: Option<String>,
    /// The exception chain, oldest first (the primary exception last).
    pub exceptions: Vec<ExceptionView>,
    /// Breadcrumbs, oldest first (the latest 200 at most).
    pub breadcrumbs: Vec<BreadcrumbView>,
    /// The user.
    pub user: Option<UserView>,
    /// Contexts summed up: name to `"<name> <version>"` (`os`, `runtime`, `browser`, ...).
    #[schema(value_type = Object)]
    pub contexts: BTreeMap<String, String>,
    /// The SDK (`sentry.python 2.0.0`).
    pub sdk: Option<String>,
}

/// An event in full.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventDetailView {
    /// The stored fields.
    #[serde(flatten)]
    pub event: EventSummaryView,
    /// What its payload says; `null` when the payload is gone (retention) or unreadable.
    pub payload: Option<PayloadView>,
    /// Its attachments.
    pub attachments: Vec<AttachmentView>,
    /// User feedback and user reports about it, newest first.
    pub feedback: Vec<FeedbackView>,
}

/// What a user said about an event (a `feedback` or `user_report` item).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedbackView {
    /// `feedback` or `user_report`.
    pub kind: String,
    /// The user's name.
    pub name: Option<String>,
    /// The user's email.
    pub email: Option<String>,
    /// What they said.
    pub message: String,
    /// The page it was given on.
    pub url: Option<String>,
    /// When it arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

impl From<Feedback> for FeedbackView {
    fn from(f: Feedback) -> Self {
        let f = f.feedback;
        Self {
            kind: f.kind,
            name: f.name,
            email: f.email,
            message: f.message,
            url: f.url,
            received_at: dt(f.received_at),
        }
    }
}

/// Most breadcrumbs shown.
const MAX_BREADCRUMBS: usize = 200;

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(text_of)
}

/// `{"values": [...]}` or a bare array.
fn values_of(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        Some(Value::Object(o)) => match o.get("values") {
            Some(Value::Array(a)) => a,
            _ => &[],
        },
        _ => &[],
    }
}

/// Reads an event payload (JSON) into its normalised view; `None` when it is not a JSON
/// object. Unknown fields and fields of the wrong type are skipped.
pub fn payload_view(payload: &[u8]) -> Option<PayloadView> {
    let doc: Value = serde_json::from_slice(payload).ok()?;
    if !doc.is_object() {
        return None;
    }
    let info = EventInfo::from_json(payload).ok();
    // EventInfo keeps the exceptions and frames in the payload's order, so the raw ones (for
    // the context lines it does not read) are found by index.
    let raw_exceptions = values_of(doc.get("exception"));
    let raw_frame = |e: usize, f: usize| {
        raw_exceptions
            .get(e)?
            .get("stacktrace")?
            .get("frames")?
            .as_array()?
            .get(f)
    };
    let exceptions = info
        .as_ref()
        .map(|i| {
            i.exceptions
                .iter()
                .enumerate()
                .map(|(ei, e)| ExceptionView {
                    ty: e.ty.as_deref().map(str::to_owned),
                    value: e.value.as_deref().map(str::to_owned),
                    module: e.module.as_deref().map(str::to_owned),
                    frames: e
                        .frames
                        .iter()
                        .enumerate()
                        .map(|(fi, f)| FrameView {
                            function: f.function.as_deref().map(str::to_owned),
                            module: f.module.as_deref().map(str::to_owned),
                            filename: f.filename.as_deref().map(str::to_owned),
                            abs_path: f.abs_path.as_deref().map(str::to_owned),
                            lineno: f.lineno,
                            in_app: f.in_app == Some(true),
                            context: context_lines(raw_frame(ei, fi), f.lineno),
                        })
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    let crumbs = values_of(doc.get("breadcrumbs"));
    let breadcrumbs = crumbs[crumbs.len().saturating_sub(MAX_BREADCRUMBS)..]
        .iter()
        .filter(|b| b.is_object())
        .map(|b| BreadcrumbView {
            timestamp: b
                .get("timestamp")
                .filter(|t| t.is_string() || t.is_number())
                .cloned(),
            ty: field(b, "type"),
            category: field(b, "category"),
            level: field(b, "level"),
            message: field(b, "message"),
            data: b.get("data").filter(|d| d.is_object()).cloned(),
        })
        .collect();
    let user = doc.get("user").filter(|u| u.is_object()).map(|u| UserView {
        id: field(u, "id"),
        email: field(u, "email"),
        username: field(u, "username"),
        ip_address: field(u, "ip_address"),
    });
    let contexts = doc
        .get("contexts")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, c)| c.is_object())
                .take(50)
                .filter_map(|(k, c)| {
                    let parts: Vec<String> = ["name", "version"]
                        .iter()
                        .filter_map(|f| field(c, f))
                        .collect();
                    (!parts.is_empty()).then(|| (k.clone(), parts.join(" ")))
                })
                .collect()
        })
        .unwrap_or_default();
    let sdk = doc.get("sdk").and_then(|s| {
        let parts: Vec<String> = ["name", "version"]
            .iter()
            .filter_map(|f| field(s, f))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Some(PayloadView {
        platform: info
            .as_ref()
            .and_then(|i| i.platform.as_deref().map(str::to_owned)),
        message: info
            .as_ref()
            .and_then(|i| i.message.as_deref().map(str::to_owned)),
        logger: info
            .as_ref()
            .and_then(|i| i.logger.as_deref().map(str::to_owned)),
        transaction: info
            .as_ref()
            .and_then(|i| i.transaction.as_deref().map(str::to_owned)),
        exceptions,
        breadcrumbs,
        user,
        contexts,
        sdk,
    })
}

/// Normalises an event id: 32 hex digits, or a UUID with dashes, to 32 lowercase hex digits.
///
/// # Errors
/// 404 `not_found` ("event") when it is neither.
pub fn normalise_event_id(id: &str) -> Result<String, ApiError> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    let dashes_ok = id.len() == 32 || (id.len() == 36 && id.matches('-').count() == 4);
    if hex.len() == 32 && dashes_ok && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(ApiError::not_found("event"))
    }
}

async fn find_event<S: Source>(scope: &mut Scoped<S>, path: &EventPath) -> Result<Event, ApiError> {
    let event_id = normalise_event_id(&path.event_id)?;
    let p = project_of(scope, path.id).await?;
    scope.event(p.id, &event_id).await?.or_not_found("event")
}

/// The payload bytes of a stored event, if they are still kept (see
/// [`crate::ingest::process::event_payload`]).
async fn event_payload(
    state: &AppState,
    ws: WorkspaceId,
    event: &Event,
) -> Result<Option<Bytes>, ApiError> {
    Ok(crate::ingest::process::event_payload(
        state,
        ws,
        event.event.project_id,
        &event.event.event_id,
    )
    .await?)
}

/// An event in full: stored fields, tags, exceptions with frames, breadcrumbs, user,
/// contexts, attachments.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/events/{event_id}",
    tag = "issues",
    params(EventPath),
    responses((status = 200, body = EventDetailView), (status = 404, body = ErrorBody)))]
pub async fn event(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(path): ApiPath<EventPath>,
) -> Result<Json<EventDetailView>, ApiError> {
    Ok(Json(event_detail(&state, &access, &path).await?))
}

/// An event of the project in full (the API's and the dashboard's event page).
///
/// # Errors
/// 404 for an event that is not the project's.
pub(crate) async fn event_detail(
    state: &AppState,
    access: &Access<Read>,
    path: &EventPath,
) -> Result<EventDetailView, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let e = find_event(&mut scope, path).await?;
    let attachments = scope
        .attachments(e.event.project_id, &e.event.event_id)
        .await?;
    let feedback = scope
        .feedback(e.event.project_id, Some(&e.event.event_id), 100)
        .await?;
    let payload = event_payload(state, access.ws(), &e).await?;
    Ok(EventDetailView {
        feedback: feedback.into_iter().map(FeedbackView::from).collect(),
        payload: payload.as_deref().and_then(payload_view),
        attachments: attachments.into_iter().map(AttachmentView::from).collect(),
        event: e.into(),
    })
}

/// An event's payload exactly as the SDK sent it (JSON).
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/events/{event_id}/raw",
    tag = "issues",
    params(EventPath),
    responses(
        (status = 200, description = "The payload bytes", content_type = "application/json"),
        (status = 404, description = "No such event, or its payload is no longer kept", body = ErrorBody),
    ))]
pub async fn event_raw(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(path): ApiPath<EventPath>,
) -> Result<Response, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let e = find_event(&mut scope, &path).await?;
    let bytes = event_payload(&state, access.ws(), &e)
        .await?
        .or_not_found("event payload")?;
    download(bytes, HeaderValue::from_static("application/json"), None)
}

// === attachments ===

/// An attachment of an event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentView {
    /// Id (download it at `.../attachments/{id}`).
    pub id: i64,
    /// The event.
    pub event_id: String,
    /// File name.
    pub name: String,
    /// Content type, as sent.
    pub content_type: Option<String>,
    /// Size in bytes.
    pub size: i64,
    /// Stored.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Attachment> for AttachmentView {
    fn from(a: Attachment) -> Self {
        Self {
            id: a.id.0,
            event_id: a.attachment.event_id,
            name: a.attachment.name,
            content_type: a.attachment.content_type,
            size: a.attachment.size,
            created_at: dt(a.created_at),
        }
    }
}

/// An event's attachments.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/events/{event_id}/attachments",
    tag = "issues",
    params(EventPath),
    responses((status = 200, body = [AttachmentView]), (status = 404, body = ErrorBody)))]
pub async fn event_attachments(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(path): ApiPath<EventPath>,
) -> Result<Json<Vec<AttachmentView>>, ApiError> {
    let event_id = normalise_event_id(&path.event_id)?;
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, path.id).await?;
    let list = scope.attachments(p.id, &event_id).await?;
    Ok(Json(list.into_iter().map(AttachmentView::from).collect()))
}

/// A `Content-Disposition: attachment` value for a file name: its ASCII letters, digits and
/// `.-_` kept, anything else `_`.
fn disposition(name: &str) -> HeaderValue {
    let safe: String = name
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = if safe.is_empty() {
        "attachment".to_owned()
    } else {
        safe
    };
    HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// Bytes as a download that a browser never runs: sandboxed, not sniffed.
fn download(
    bytes: Bytes,
    content_type: HeaderValue,
    name: Option<&str>,
) -> Result<Response, ApiError> {
    let mut res = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, bytes.len())
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        )
        .header(header::CACHE_CONTROL, "private, no-store");
    if let Some(name) = name {
        res = res.header(header::CONTENT_DISPOSITION, disposition(name));
    }
    res.body(Body::from(bytes))
        .map_err(|e| ApiError::internal(&e))
}

/// Downloads an attachment: the exact bytes received, with their content type.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/attachments/{attachment_id}",
    tag = "issues",
    params(AttachmentPath),
    responses(
        (status = 200, description = "The attachment's bytes, with its content type (application/octet-stream if none)"),
        (status = 404, body = ErrorBody),
    ))]
pub async fn attachment(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(path): ApiPath<AttachmentPath>,
) -> Result<Response, ApiError> {
    attachment_download(&state, &access, path.id, path.attachment_id).await
}

/// An attachment of the project as a safe download (sandboxed, not sniffed, saved under a
/// cleaned name).
///
/// # Errors
/// 404 for an attachment that is not the project's or whose bytes are gone.
pub(crate) async fn attachment_download(
    state: &AppState,
    access: &Access<Read>,
    project: i64,
    attachment_id: i64,
) -> Result<Response, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, project).await?;
    let a = scope
        .attachment(p.id, AttachmentId(attachment_id))
        .await?
        .or_not_found("attachment")?;
    let bytes = match state.blobs.get(&a.attachment.blob_key).await {
        Ok(b) => b,
        Err(StoreError::BlobNotFound { .. }) => return Err(ApiError::not_found("attachment")),
        Err(e) => return Err(e.into()),
    };
    let content_type = a
        .attachment
        .content_type
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    download(bytes, content_type, Some(&a.attachment.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_normalised() {
        let payload = serde_json::json!({
            "platform": "python",
            "logger": "app",
            "exception": {"values": [
                {"type": "KeyError", "value": "'a'", "stacktrace": {"frames": [
                    {"function": "main", "filename": "app.py", "lineno": 3, "in_app": true},
                    {"function": "get", "module": "dict", "in_app": false}
                ]}},
                {"type": "ValueError", "value": "bad"}
            ]},
            "breadcrumbs": {"values": [
                {"timestamp": 1700000000.5, "category": "http", "message": "GET /", "data": {"status": 200}},
                "junk"
            ]},
            "user": {"id": 42, "email": "a@example.com"},
            "contexts": {"os": {"name": "Linux", "version": "6.1"}, "trace": {"trace_id": "x"}, "bad": 3},
            "sdk": {"name": "sentry.python", "version": "2.0.0"}
        });
        let v = payload_view(&serde_json::to_vec(&payload).unwrap()).unwrap();
        assert_eq!(v.platform.as_deref(), Some("python"));
        assert_eq!(v.exceptions.len(), 2);
        assert_eq!(v.exceptions[0].ty.as_deref(), Some("KeyError"));
        assert_eq!(v.exceptions[0].frames.len(), 2);
        assert!(v.exceptions[0].frames[0].in_app);
        assert!(!v.exceptions[0].frames[1].in_app);
        assert_eq!(v.exceptions[0].frames[0].lineno, Some(3));
        assert_eq!(v.breadcrumbs.len(), 1);
        assert_eq!(v.breadcrumbs[0].category.as_deref(), Some("http"));
        assert_eq!(v.user.as_ref().unwrap().id.as_deref(), Some("42"));
        assert_eq!(v.contexts.get("os").map(String::as_str), Some("Linux 6.1"));
        assert!(!v.contexts.contains_key("trace"));
        assert_eq!(v.sdk.as_deref(), Some("sentry.python 2.0.0"));
    }

    #[test]
    fn hostile_payloads_give_nothing_or_what_is_usable() {
        assert_eq!(payload_view(b"not json"), None);
        assert_eq!(payload_view(b"[1,2]"), None);
        assert_eq!(payload_view(&[0xff, 0xfe, 0x00]), None);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(payload_view(deep.as_bytes()), None);
        // Wrong types are skipped, not fatal.
        let v = payload_view(br#"{"exception": 5, "breadcrumbs": "x", "user": [], "contexts": 1}"#)
            .unwrap();
        assert!(v.exceptions.is_empty() && v.breadcrumbs.is_empty());
        assert!(v.user.is_none() && v.contexts.is_empty());
        // Many breadcrumbs: the latest 200.
        let crumbs: Vec<Value> = (0..1000)
            .map(|i| serde_json::json!({"message": format!("m{i}")}))
            .collect();
        let v =
            payload_view(&serde_json::to_vec(&serde_json::json!({"breadcrumbs": crumbs})).unwrap())
                .unwrap();
        assert_eq!(v.breadcrumbs.len(), 200);
        assert_eq!(v.breadcrumbs[199].message.as_deref(), Some("m999"));
    }

    #[test]
    fn context_lines_are_numbered_and_capped() {
        let frame = serde_json::json!({
            "pre_context": ["a", "b", "c", "d", "e", "f", "g"],
            "context_line": "    raise ValueError()",
            "post_context": ["x", 5, "z"],
        });
        let lines = context_lines(Some(&frame), Some(10));
        assert_eq!(lines.len(), MAX_CONTEXT_LINES + 1 + 3);
        assert_eq!(lines[0].lineno, Some(5));
        assert_eq!(lines[0].line, "c");
        let current: Vec<_> = lines.iter().filter(|l| l.current).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].lineno, Some(10));
        assert_eq!(
            lines[MAX_CONTEXT_LINES + 2].line,
            "",
            "a non-string line is blank"
        );
        assert_eq!(lines.last().unwrap().lineno, Some(13));
        // Without a line number, with a huge line, or without a context line.
        let long = "y".repeat(10_000);
        let frame = serde_json::json!({"pre_context": ["p"], "context_line": long});
        let lines = context_lines(Some(&frame), None);
        assert_eq!(lines[1].line.chars().count(), MAX_CONTEXT_LINE_CHARS);
        assert!(lines.iter().all(|l| l.lineno.is_none()));
        assert!(
            context_lines(Some(&serde_json::json!({"pre_context": ["p"]})), Some(1)).is_empty()
        );
        assert!(context_lines(Some(&serde_json::json!({"context_line": 3})), Some(1)).is_empty());
        assert!(context_lines(None, Some(1)).is_empty());
        // Line 1 has no line before it.
        let frame = serde_json::json!({"pre_context": ["p"], "context_line": "c"});
        assert_eq!(context_lines(Some(&frame), Some(1))[0].lineno, None);
    }

    #[test]
    fn event_ids_are_normalised() {
        let id = "0123456789ABCDEF0123456789abcdef";
        assert_eq!(normalise_event_id(id).unwrap(), id.to_ascii_lowercase());
        assert_eq!(
            normalise_event_id("01234567-89ab-cdef-0123-456789abcdef").unwrap(),
            "0123456789abcdef0123456789abcdef"
        );
        for bad in [
            "",
            "xyz",
            "0123456789abcdef0123456789abcdeg",
            "--0123456789abcdef0123456789abcdef",
        ] {
            assert!(normalise_event_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn download_names_are_made_safe() {
        assert_eq!(
            disposition("report.txt"),
            HeaderValue::from_static("attachment; filename=\"report.txt\"")
        );
        assert_eq!(
            disposition("a\"b\r\n.html"),
            HeaderValue::from_static("attachment; filename=\"a_b__.html\"")
        );
        assert_eq!(
            disposition(""),
            HeaderValue::from_static("attachment; filename=\"attachment\"")
        );
    }
}
