//! Issues: the list (filters, sorts, cursor pages, bulk resolve / ignore / unresolve), an
//! issue (its latest event's stack trace, breadcrumbs and attachments, tag counts, its events
//! a page at a time, status buttons), an event, and attachment downloads.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use bitwobbly_store::prelude::{IssueStatus, Role, TAG_SAMPLE_EVENTS, TagCounts};
use serde::Deserialize;
use serde_json::Value;

use super::{ProjectHead, Tab, When, count, given, head, id_of, query};
use crate::AppState;
use crate::api::issues::{
    AttachmentView, EventDetailView, EventPath, EventSummaryView, ExceptionView, FeedbackView,
    IssuePath, IssueView, IssuesQuery, LEVELS, UserView, attachment_download, event_detail,
    issue_events, issue_tags, list_issues, set_one, set_status,
};
use crate::auth::{Read, Write};
use crate::dashboard::{
    CsrfForm, Dash, DashError, FormErrors, Layout, Section, redirect_with, render, render_status,
};
use crate::error::ApiError;

/// Issues per page.
const PAGE: &str = "50";
/// Events per page of an issue.
const EVENTS_PAGE: u32 = 20;

// === the list ===

/// The list's filters, sort and page as the query string carries them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct Filters {
    /// `unresolved` when absent; `all` for every status.
    status: Option<String>,
    level: Option<String>,
    environment: Option<String>,
    release: Option<String>,
    query: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
}

impl Filters {
    /// The status filter: `unresolved` unless one was chosen (`all`: none).
    fn status(&self) -> &str {
        match self.status.as_deref().map(str::trim) {
            None | Some("") => "unresolved",
            Some(s) => s,
        }
    }

    /// The API's query of this list.
    fn api(&self) -> IssuesQuery {
        IssuesQuery {
            status: match self.status() {
                "all" => None,
                s => Some(s.to_owned()),
            },
            level: given(self.level.as_deref()),
            environment: given(self.environment.as_deref()),
            release: given(self.release.as_deref()),
            query: given(self.query.as_deref()),
            sort: given(self.sort.as_deref()),
            limit: Some(PAGE.to_owned()),
            cursor: given(self.cursor.as_deref()),
        }
    }

    /// The query string of these filters on page `cursor` (blank filters left out).
    fn query_string(&self, cursor: Option<&str>) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        out.append_pair("status", self.status());
        for (k, v) in [
            ("level", &self.level),
            ("environment", &self.environment),
            ("release", &self.release),
            ("query", &self.query),
            ("sort", &self.sort),
        ] {
            if let Some(v) = given(v.as_deref()) {
                out.append_pair(k, &v);
            }
        }
        if let Some(c) = cursor {
            out.append_pair("cursor", c);
        }
        out.finish()
    }

    fn text(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
}

/// One issue of the list.
#[derive(Debug)]
struct IssueRow {
    issue: IssueView,
    href: String,
    count: String,
    users: String,
    first_seen: When,
    last_seen: When,
}

/// A choice of a `<select>`.
#[derive(Debug)]
struct Choice {
    value: &'static str,
    label: &'static str,
}

const STATUSES: [Choice; 4] = [
    Choice {
        value: "unresolved",
        label: "Unresolved",
    },
    Choice {
        value: "resolved",
        label: "Resolved",
    },
    Choice {
        value: "ignored",
        label: "Ignored",
    },
    Choice {
        value: "all",
        label: "Any status",
    },
];
const SORTS: [Choice; 4] = [
    Choice {
        value: "last_seen",
        label: "Last seen",
    },
    Choice {
        value: "first_seen",
        label: "First seen",
    },
    Choice {
        value: "count",
        label: "Events",
    },
    Choice {
        value: "users",
        label: "Users",
    },
];

#[derive(Template)]
#[template(path = "dash/errors/issues.html")]
struct ListPage {
    layout: Layout,
    project: ProjectHead,
    filters: Filters,
    issues: Vec<IssueRow>,
    next: Option<String>,
    first: Option<String>,
    /// The query string to come back to after a bulk change.
    back: String,
    errors: FormErrors,
    can_write: bool,
    statuses: &'static [Choice],
    sorts: &'static [Choice],
    levels: &'static [&'static str],
}

impl ListPage {
    fn status(&self) -> &str {
        self.filters.status()
    }

    fn sort(&self) -> &str {
        self.filters.sort.as_deref().unwrap_or("last_seen")
    }

    fn level(&self) -> &str {
        Filters::text(&self.filters.level)
    }
}

/// The list page of `filters`; when they are invalid, the page with their errors (422) and no
/// issues. `errors` are a bulk form's.
async fn list_page(
    state: &AppState,
    dash: &Dash,
    id: i64,
    filters: Filters,
    mut errors: FormErrors,
) -> Result<(StatusCode, ListPage), DashError> {
    let project = head(state, dash, id, Tab::Issues).await?;
    let list_url = format!("{}/issues", project.base);
    let (issues, next) = match list_issues(state, &dash.access::<Read>()?, id, &filters.api()).await
    {
        Ok(page) => (page.items, page.next_cursor),
        Err(e) => match FormErrors::from_api(&e) {
            Some(filter_errors) => {
                for (f, m) in filter_errors.all() {
                    errors.add(f, m);
                }
                (Vec::new(), None)
            }
            None => return Err(e.into()),
        },
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let rows = issues
        .into_iter()
        .map(|i| IssueRow {
            href: format!("{list_url}/{}", i.id),
            count: count(i.count),
            users: count(i.user_count),
            first_seen: When(i.first_seen),
            last_seen: When(i.last_seen),
            issue: i,
        })
        .collect();
    let page = ListPage {
        layout: dash.layout(format!("{} · Issues", project.name), Section::Projects),
        next: next.map(|c| format!("{list_url}?{}", filters.query_string(Some(&c)))),
        first: given(filters.cursor.as_deref())
            .map(|_| format!("{list_url}?{}", filters.query_string(None))),
        back: filters.query_string(given(filters.cursor.as_deref()).as_deref()),
        project,
        filters,
        issues: rows,
        errors,
        can_write: dash.require(Role::Member).is_ok(),
        statuses: &STATUSES,
        sorts: &SORTS,
        levels: &LEVELS,
    };
    Ok((status, page))
}

/// `GET /w/{ws}/projects/{id}/issues`.
pub(super) async fn list(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let filters: Filters = query(raw.as_deref())?;
    let (status, page) = list_page(&state, &dash, id, filters, FormErrors::new()).await?;
    Ok(render_status(status, &page))
}

/// The bulk form: the ticked issues, the button pressed, and the list to return to.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct BulkForm {
    ids: Vec<String>,
    action: String,
    back: String,
}

/// The status an action sets, with its past tense.
fn action_status(action: &str) -> Option<(IssueStatus, &'static str)> {
    match action {
        "resolve" => Some((IssueStatus::Resolved, "Resolved")),
        "ignore" => Some((IssueStatus::Ignored, "Ignored")),
        "unresolve" => Some((IssueStatus::Unresolved, "Reopened")),
        _ => None,
    }
}

/// `POST /w/{ws}/projects/{id}/issues/bulk` (member): one status for the ticked issues.
pub(super) async fn bulk(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<BulkForm>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let access = dash.access::<Write>()?;
    // The list to come back to, read as filters again (anything else in it is dropped).
    let filters: Filters = query(Some(&form.back)).unwrap_or_default();
    let mut errors = FormErrors::new();
    let Some((status, done)) = action_status(&form.action) else {
        errors.add("action", "must be resolve, ignore or unresolve");
        let (_, page) = list_page(&state, &dash, id, filters, errors).await?;
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    let ids: Result<Vec<i64>, _> = form.ids.iter().map(|i| i.parse::<i64>()).collect();
    let result = match ids {
        Ok(ids) => set_status(&state, &access, id, &ids, status).await,
        Err(_) => Err(ApiError::invalid("ids", "must be issue ids")),
    };
    match result {
        Ok(issues) => {
            let n = issues.len();
            let to = format!(
                "{}?{}",
                dash.url(&format!("/projects/{id}/issues")),
                filters.query_string(given(filters.cursor.as_deref()).as_deref())
            );
            Ok(redirect_with(
                &to,
                &format!("{done} {n} issue{}.", if n == 1 { "" } else { "s" }),
            ))
        }
        Err(e) => {
            // `ids[3]` (an issue of another project) is the form's `ids`.
            let Some(e) =
                FormErrors::from_api_mapped(&e, |f| if f.starts_with("ids") { "ids" } else { f })
            else {
                return Err(e.into());
            };
            let (_, page) = list_page(&state, &dash, id, filters, e).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

// === one issue ===

/// One line of an event's breadcrumbs.
#[derive(Debug)]
struct CrumbRow {
    time: String,
    category: String,
    level: String,
    message: String,
    data: String,
}

/// An attachment with its download link.
#[derive(Debug)]
struct AttachmentRow {
    a: AttachmentView,
    href: String,
    size: String,
}

/// An event as the issue and event pages show it.
#[derive(Debug)]
struct EventShow {
    summary: EventSummaryView,
    when: When,
    href: String,
    /// The API's raw payload (JSON) of the event.
    raw: String,
    has_payload: bool,
    message: Option<String>,
    platform: Option<String>,
    sdk: Option<String>,
    exceptions: Vec<ExceptionView>,
    crumbs: Vec<CrumbRow>,
    user: Option<UserView>,
    contexts: Vec<(String, String)>,
    attachments: Vec<AttachmentRow>,
    feedback: Vec<FeedbackView>,
}

/// A breadcrumb's time as sent: RFC 3339 text, or seconds since the epoch.
fn crumb_time(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|secs| {
                #[allow(clippy::cast_possible_truncation)]
                let nanos = (secs * 1e9) as i128;
                time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
            })
            .map_or_else(|| n.to_string(), |t| When(t).to_string()),
        _ => String::new(),
    }
}

impl EventShow {
    fn new(project: &ProjectHead, api_base: &str, e: EventDetailView) -> Self {
        let (exceptions, crumbs, user, contexts, message, platform, sdk, has_payload) =
            match e.payload {
                Some(p) => (
                    p.exceptions,
                    p.breadcrumbs
                        .into_iter()
                        .rev()
                        .map(|b| CrumbRow {
                            time: crumb_time(b.timestamp.as_ref()),
                            category: b.category.or(b.ty).unwrap_or_default(),
                            level: b.level.unwrap_or_default(),
                            message: b.message.unwrap_or_default(),
                            data: b.data.map(|d| d.to_string()).unwrap_or_default(),
                        })
                        .collect(),
                    p.user,
                    p.contexts.into_iter().collect(),
                    p.message,
                    p.platform,
                    p.sdk,
                    true,
                ),
                None => (
                    Vec::new(),
                    Vec::new(),
                    None,
                    Vec::new(),
                    None,
                    None,
                    None,
                    false,
                ),
            };
        Self {
            when: When(e.event.timestamp),
            href: format!("{}/events/{}", project.base, e.event.event_id),
            raw: format!("{api_base}/events/{}/raw", e.event.event_id),
            attachments: e
                .attachments
                .into_iter()
                .map(|a| AttachmentRow {
                    href: format!("{}/attachments/{}", project.base, a.id),
                    size: count(a.size),
                    a,
                })
                .collect(),
            feedback: e.feedback,
            summary: e.event,
            has_payload,
            message,
            platform,
            sdk,
            exceptions,
            crumbs,
            user,
            contexts,
        }
    }
}

/// One value of a tag with its share.
#[derive(Debug)]
struct TagValueRow {
    value: String,
    count: String,
    percent: u64,
}

/// One tag key with its values.
#[derive(Debug)]
struct TagRow {
    key: String,
    values: Vec<TagValueRow>,
}

fn tag_rows(t: TagCounts) -> Vec<TagRow> {
    t.keys
        .into_iter()
        .map(|k| TagRow {
            values: k
                .values
                .into_iter()
                .map(|v| TagValueRow {
                    percent: (v.count * 100).checked_div(k.total).unwrap_or(0),
                    count: count(v.count),
                    value: v.value,
                })
                .collect(),
            key: k.key,
        })
        .collect()
}

/// One event of an issue's list.
#[derive(Debug)]
struct EventRow {
    e: EventSummaryView,
    when: When,
    href: String,
}

#[derive(Template)]
#[template(path = "dash/errors/issue.html")]
struct IssuePage {
    layout: Layout,
    project: ProjectHead,
    issue: IssueView,
    first_seen: When,
    last_seen: When,
    count: String,
    users: String,
    action: String,
    latest: Option<EventShow>,
    events: Vec<EventRow>,
    next_events: Option<String>,
    first_events: Option<String>,
    tags: Vec<TagRow>,
    tags_sampled: String,
    tags_capped: bool,
    can_write: bool,
}

/// `?events=<cursor>`: the page of the issue's events.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct IssueQuery {
    events: Option<String>,
}

fn issue_path(dash: &Dash, id: i64, issue: &str) -> Result<IssuePath, DashError> {
    Ok(IssuePath {
        workspace: dash.workspace.slug.clone(),
        id,
        issue_id: id_of(issue)?,
    })
}

/// The API base of a project's resources (for the raw payload link).
fn api_base(dash: &Dash, id: i64) -> String {
    format!("/api/v1/workspaces/{}/projects/{id}", dash.workspace.slug)
}

/// `GET /w/{ws}/projects/{id}/issues/{issue}`.
pub(super) async fn detail(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, issue)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let path = issue_path(&dash, id, &issue)?;
    let q: IssueQuery = query(raw.as_deref())?;
    let access = dash.access::<Read>()?;
    let project = head(&state, &dash, id, Tab::Issues).await?;
    let cursor = given(q.events.as_deref());
    let (detail, next) = issue_events(&state, &access, &path, cursor.as_deref(), EVENTS_PAGE)
        .await
        .map_err(|e| {
            if e.field.as_deref() == Some("cursor") {
                DashError::Page(
                    StatusCode::BAD_REQUEST,
                    "That page of events does not exist.".into(),
                )
            } else {
                e.into()
            }
        })?;
    // The latest event is the first of the first page.
    let newest = match cursor {
        None => detail.events.first().map(|e| e.event_id.clone()),
        Some(_) => issue_events(&state, &access, &path, None, 1)
            .await?
            .0
            .events
            .first()
            .map(|e| e.event_id.clone()),
    };
    let latest = match newest {
        Some(event_id) => {
            let ep = EventPath {
                workspace: dash.workspace.slug.clone(),
                id,
                event_id,
            };
            Some(EventShow::new(
                &project,
                &api_base(&dash, id),
                event_detail(&state, &access, &ep).await?,
            ))
        }
        None => None,
    };
    let tags = issue_tags(&state, &access, &path).await?;
    let issue = detail.issue;
    let here = format!("{}/issues/{}", project.base, issue.id);
    let page = IssuePage {
        layout: dash.layout(issue.title.clone(), Section::Projects),
        first_seen: When(issue.first_seen),
        last_seen: When(issue.last_seen),
        count: count(issue.count),
        users: count(issue.user_count),
        action: format!("{here}/status"),
        latest,
        events: detail
            .events
            .into_iter()
            .map(|e| EventRow {
                when: When(e.timestamp),
                href: format!("{}/events/{}", project.base, e.event_id),
                e,
            })
            .collect(),
        next_events: next.map(|c| {
            let c: String = url::form_urlencoded::byte_serialize(c.as_bytes()).collect();
            format!("{here}?events={c}#events")
        }),
        first_events: q.events.is_some().then(|| format!("{here}#events")),
        tags_capped: tags.sampled >= u64::from(TAG_SAMPLE_EVENTS),
        tags_sampled: count(tags.sampled),
        tags: tag_rows(tags),
        can_write: dash.require(Role::Member).is_ok(),
        project,
        issue,
    };
    Ok(render(&page))
}

/// The status form of one issue.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StatusForm {
    action: String,
}

/// `POST /w/{ws}/projects/{id}/issues/{issue}/status` (member).
pub(super) async fn status(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, issue)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let path = issue_path(&dash, id, &issue)?;
    let access = dash.access::<Write>()?;
    let (status, done) = action_status(&form.action).ok_or_else(|| {
        DashError::Page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "action: must be resolve, ignore or unresolve.".to_owned(),
        )
    })?;
    let issue = set_one(&state, &access, &path, status).await?;
    Ok(redirect_with(
        &dash.url(&format!("/projects/{id}/issues/{}", issue.id)),
        &format!("{done}: {}", issue.title),
    ))
}

// === events and attachments ===

#[derive(Template)]
#[template(path = "dash/errors/event.html")]
struct EventPage {
    layout: Layout,
    project: ProjectHead,
    event: EventShow,
    issue: Option<String>,
}

/// `GET /w/{ws}/projects/{id}/events/{event}`.
pub(super) async fn event(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, event_id)): Path<(String, String, String)>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let access = dash.access::<Read>()?;
    let project = head(&state, &dash, id, Tab::Issues).await?;
    let path = EventPath {
        workspace: dash.workspace.slug.clone(),
        id,
        event_id,
    };
    let e = event_detail(&state, &access, &path).await?;
    let event = EventShow::new(&project, &api_base(&dash, id), e);
    Ok(render(&EventPage {
        layout: dash.layout(
            format!("Event {}", event.summary.event_id),
            Section::Projects,
        ),
        issue: event
            .summary
            .issue_id
            .map(|i| format!("{}/issues/{i}", project.base)),
        project,
        event,
    }))
}

/// `GET /w/{ws}/projects/{id}/attachments/{attachment}`: the API's download (the exact bytes,
/// sandboxed, not sniffed, under a cleaned file name).
pub(super) async fn attachment(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, attachment)): Path<(String, String, String)>,
) -> Result<Response, DashError> {
    let (id, attachment) = (id_of(&id)?, id_of(&attachment)?);
    Ok(attachment_download(&state, &dash.access::<Read>()?, id, attachment).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_default_to_unresolved_and_keep_what_was_chosen() {
        let f: Filters = query(None).unwrap();
        assert_eq!(f.status(), "unresolved");
        assert_eq!(f.api().status.as_deref(), Some("unresolved"));
        let f: Filters = query(Some(
            "status=all&level=&query=a%26b&sort=users&cursor=5.1&junk=1",
        ))
        .unwrap();
        let api = f.api();
        assert_eq!(api.status, None);
        assert_eq!(api.level, None);
        assert_eq!(api.query.as_deref(), Some("a&b"));
        assert_eq!(api.sort.as_deref(), Some("users"));
        assert_eq!(api.cursor.as_deref(), Some("5.1"));
        assert_eq!(f.query_string(None), "status=all&query=a%26b&sort=users");
        assert_eq!(
            f.query_string(Some("9.2")),
            "status=all&query=a%26b&sort=users&cursor=9.2"
        );
    }

    #[test]
    fn breadcrumb_times_read_either_way() {
        assert_eq!(
            crumb_time(Some(&serde_json::json!(1_700_000_000.5))),
            "2023-11-14 22:13:20 UTC"
        );
        assert_eq!(
            crumb_time(Some(&serde_json::json!("2024-01-01T00:00:00Z"))),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(crumb_time(Some(&serde_json::json!(1e300))), "1e+300");
        assert_eq!(crumb_time(None), "");
    }

    #[test]
    fn actions_are_the_three_statuses() {
        assert_eq!(action_status("resolve").unwrap().0, IssueStatus::Resolved);
        assert_eq!(action_status("ignore").unwrap().0, IssueStatus::Ignored);
        assert_eq!(
            action_status("unresolve").unwrap().0,
            IssueStatus::Unresolved
        );
        assert!(action_status("delete").is_none());
    }
}
