//! Dashboard pages: status pages — their settings (domains, theme, logo, footer links, time
//! zone, password, held automatic incidents), component groups and components with their
//! order, and a preview of the public page.
//!
//! Every change goes through the functions the REST API uses (`crate::api::pages`), so it is
//! validated the same way and drops the cached public pages exactly as the API does.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bitwobbly_store::prelude::*;
use serde::Deserialize;

use super::{
    CsrfForm, Dash, DashError, FormErrors, Layout, Section, redirect_with, render, render_status,
};
use crate::AppState;
use crate::api::pages::{
    self as api, ApiComponentStatus, ApiTheme, ComponentInput, ComponentView, FooterLinkInput,
    GroupInput, PageDetail, PageInput, PageView,
};
use crate::auth::Write;
use crate::error::ApiError;

/// This part's routes (relative to `/app`).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{ws}/pages", get(list).post(create))
        .route("/w/{ws}/pages/new", get(new_form))
        .route("/w/{ws}/pages/{id}", get(editor).post(update))
        .route("/w/{ws}/pages/{id}/preview", get(preview))
        .route("/w/{ws}/pages/{id}/delete", post(delete))
        .route("/w/{ws}/pages/{id}/password", post(password))
        .route("/w/{ws}/pages/{id}/groups", post(add_group))
        .route("/w/{ws}/pages/{id}/groups/{gid}", post(rename_group))
        .route("/w/{ws}/pages/{id}/groups/{gid}/move", post(move_group))
        .route("/w/{ws}/pages/{id}/groups/{gid}/delete", post(delete_group))
        .route("/w/{ws}/pages/{id}/components", post(add_component))
        .route(
            "/w/{ws}/pages/{id}/components/{cid}",
            get(component_form).post(update_component),
        )
        .route(
            "/w/{ws}/pages/{id}/components/{cid}/move",
            post(move_component),
        )
        .route(
            "/w/{ws}/pages/{id}/components/{cid}/delete",
            post(delete_component),
        )
}

/// An id of the path; anything but a positive number is a page that does not exist.
pub(super) fn path_id(raw: &str) -> Result<i64, DashError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(DashError::NotFound)
}

/// Where a page's editor is.
fn editor_url(dash: &Dash, page: i64) -> String {
    dash.url(&format!("/pages/{page}"))
}

// === the list ===

/// A row of the list.
struct PageRow {
    page: PageView,
    edit_url: String,
}

#[derive(Template)]
#[template(path = "dash/pages/list.html")]
struct ListTpl {
    layout: Layout,
    pages: Vec<PageRow>,
    can_write: bool,
    new_url: String,
}

/// `GET /w/{ws}/pages`: the workspace's status pages.
async fn list(State(state): State<AppState>, dash: Dash) -> Result<Response, DashError> {
    let pages = api::list_pages(&state, dash.ws()).await?;
    let pages = pages
        .into_iter()
        .map(|page| PageRow {
            edit_url: editor_url(&dash, page.id),
            page,
        })
        .collect();
    Ok(render(&ListTpl {
        layout: dash.layout("Status pages", Section::Pages),
        pages,
        can_write: dash.require(Role::Member).is_ok(),
        new_url: dash.url("/pages/new"),
    }))
}

// === settings ===

/// The settings form as sent (and as shown again with its errors).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct PageForm {
    slug: String,
    title: String,
    description: String,
    /// A checkbox: present when checked.
    public: Option<String>,
    logo_url: String,
    theme: String,
    footer_label: Vec<String>,
    footer_url: Vec<String>,
    /// One host name a line.
    domains: String,
    time_zone: String,
    /// A checkbox.
    hold_auto_incidents: Option<String>,
}

/// A footer link row of the form.
struct FooterRow {
    label: String,
    url: String,
    label_field: String,
    url_field: String,
}

/// What the settings form shows.
struct PageFormView {
    slug: String,
    title: String,
    description: String,
    public: bool,
    logo_url: String,
    theme: String,
    footer: Vec<FooterRow>,
    domains: String,
    time_zone: String,
    hold_auto_incidents: bool,
}

/// Empty footer rows offered for new links.
const SPARE_FOOTER_ROWS: usize = 2;

impl PageFormView {
    fn footer_rows(footer: Vec<(String, String)>) -> Vec<FooterRow> {
        footer
            .into_iter()
            .chain(std::iter::repeat_with(Default::default).take(SPARE_FOOTER_ROWS))
            .enumerate()
            .map(|(i, (label, url))| FooterRow {
                label,
                url,
                label_field: format!("footer_links[{i}].label"),
                url_field: format!("footer_links[{i}].url"),
            })
            .collect()
    }

    /// A new page's defaults.
    fn blank() -> Self {
        Self {
            slug: String::new(),
            title: String::new(),
            description: String::new(),
            public: true,
            logo_url: String::new(),
            theme: "system".to_owned(),
            footer: Self::footer_rows(Vec::new()),
            domains: String::new(),
            time_zone: "UTC".to_owned(),
            hold_auto_incidents: false,
        }
    }

    fn of_page(p: &PageView) -> Self {
        Self {
            slug: p.slug.clone(),
            title: p.title.clone(),
            description: p.description.clone().unwrap_or_default(),
            public: p.public,
            logo_url: p.logo_url.clone().unwrap_or_default(),
            theme: p.theme.clone(),
            footer: Self::footer_rows(
                p.footer_links
                    .iter()
                    .map(|l| (l.label.clone(), l.url.clone()))
                    .collect(),
            ),
            domains: p.domains.join("\n"),
            time_zone: p.time_zone.clone(),
            hold_auto_incidents: p.hold_auto_incidents,
        }
    }

    fn of_form(f: &PageForm) -> Self {
        let blank = String::new();
        let rows = f
            .footer_label
            .iter()
            .zip(f.footer_url.iter().chain(std::iter::repeat(&blank)))
            .filter(|(l, u)| !(l.trim().is_empty() && u.trim().is_empty()))
            .map(|(l, u)| (l.clone(), u.clone()))
            .collect();
        Self {
            slug: f.slug.clone(),
            title: f.title.clone(),
            description: f.description.clone(),
            public: f.public.is_some(),
            logo_url: f.logo_url.clone(),
            theme: f.theme.clone(),
            footer: Self::footer_rows(rows),
            domains: f.domains.clone(),
            time_zone: f.time_zone.clone(),
            hold_auto_incidents: f.hold_auto_incidents.is_some(),
        }
    }

    /// The theme choices, with whether each is the current one.
    fn themes(&self) -> Vec<(&'static str, &'static str, bool)> {
        [
            ("system", "Follow the visitor's system"),
            ("light", "Light"),
            ("dark", "Dark"),
        ]
        .into_iter()
        .map(|(v, label)| (v, label, self.theme == v))
        .collect()
    }
}

/// The lines of a text area that are not blank, with their line numbers (from 1).
fn lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

/// The API input of a settings form, and how to name the API's fields on the form.
fn page_input(f: &PageForm) -> Result<(PageInput, impl Fn(&str) -> String), FormErrors> {
    let theme = match f.theme.as_str() {
        "" | "system" => ApiTheme::System,
        "light" => ApiTheme::Light,
        "dark" => ApiTheme::Dark,
        _ => {
            let mut e = FormErrors::new();
            e.add("theme", "must be system, light or dark");
            return Err(e);
        }
    };
    // Blank footer rows are left out; the API's indexes are mapped back to the form's rows.
    let mut footer_rows = Vec::new();
    let mut footer_links = Vec::new();
    let blank = String::new();
    let urls = f.footer_url.iter().chain(std::iter::repeat(&blank));
    for (row, (label, url)) in f.footer_label.iter().zip(urls).enumerate() {
        if label.trim().is_empty() && url.trim().is_empty() {
            continue;
        }
        footer_rows.push(row);
        footer_links.push(FooterLinkInput {
            label: label.clone(),
            url: url.clone(),
        });
    }
    let domain_lines = lines(&f.domains);
    let input = PageInput {
        slug: f.slug.clone(),
        title: f.title.clone(),
        description: Some(f.description.clone()),
        public: Some(f.public.is_some()),
        logo_url: Some(f.logo_url.clone()),
        theme,
        footer_links,
        domains: domain_lines.iter().map(|(_, d)| (*d).to_owned()).collect(),
        time_zone: Some(f.time_zone.clone()).filter(|t| !t.trim().is_empty()),
        hold_auto_incidents: f.hold_auto_incidents.is_some(),
    };
    let map = move |field: &str| -> String {
        if let Some(rest) = field.strip_prefix("footer_links[")
            && let Some((i, tail)) = rest.split_once(']')
            && let Ok(i) = i.parse::<usize>()
            && let Some(row) = footer_rows.get(i)
        {
            return format!("footer_links[{row}]{tail}");
        }
        if field.starts_with("domains") {
            return "domains".to_owned();
        }
        field.to_owned()
    };
    Ok((input, map))
}

/// The message of a domain error, with the line it is about.
fn domain_message(e: &ApiError, f: &PageForm) -> String {
    let line = e
        .field
        .as_deref()
        .and_then(|f| f.strip_prefix("domains["))
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| lines(&f.domains).get(i).map(|(n, _)| *n));
    match line {
        Some(n) => format!("line {n}: {}", e.message),
        None => e.message.clone(),
    }
}

/// Saves the settings form with `save`; `Err` holds the form's errors (or an error page).
async fn save_settings<F, Fut>(
    form: &PageForm,
    save: F,
) -> Result<Result<PageDetail, FormErrors>, DashError>
where
    F: FnOnce(PageInput) -> Fut,
    Fut: std::future::Future<Output = Result<PageDetail, ApiError>>,
{
    let (input, map) = match page_input(form) {
        Ok(x) => x,
        Err(errors) => return Ok(Err(errors)),
    };
    match save(input).await {
        Ok(detail) => Ok(Ok(detail)),
        Err(e) => {
            let domain_msg = e
                .field
                .as_deref()
                .is_some_and(|f| f.starts_with("domains["))
                .then(|| domain_message(&e, form));
            let mut errors = FormErrors::of_api(e, map)?;
            if let Some(msg) = domain_msg {
                errors.add("domains", msg);
            }
            Ok(Err(errors))
        }
    }
}

#[derive(Template)]
#[template(path = "dash/pages/new.html")]
struct NewTpl {
    layout: Layout,
    settings: PageFormView,
    settings_errors: FormErrors,
    action: String,
    cancel: String,
}

/// `GET /w/{ws}/pages/new`: the form of a new page.
async fn new_form(dash: Dash) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    Ok(render(&NewTpl {
        layout: dash.layout("New status page", Section::Pages),
        settings: PageFormView::blank(),
        settings_errors: FormErrors::new(),
        action: dash.url("/pages"),
        cancel: dash.url("/pages"),
    }))
}

/// `POST /w/{ws}/pages`: creates a page, then shows its editor.
async fn create(
    State(state): State<AppState>,
    dash: Dash,
    CsrfForm(form): CsrfForm<PageForm>,
) -> Result<Response, DashError> {
    let access = &dash.access::<Write>()?;
    let st = &state;
    let saved = save_settings(&form, |input| async move {
        api::create_page(st, access, &input).await
    })
    .await?;
    match saved {
        Ok(detail) => Ok(redirect_with(
            &editor_url(&dash, detail.page.id),
            &format!("Status page \"{}\" created.", detail.page.title),
        )),
        Err(errors) => Ok(render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewTpl {
                layout: dash.layout("New status page", Section::Pages),
                settings: PageFormView::of_form(&form),
                settings_errors: errors,
                action: dash.url("/pages"),
                cancel: dash.url("/pages"),
            },
        )),
    }
}

// === the editor ===

/// A component as the editor lists it.
struct ComponentRow {
    c: ComponentView,
    /// What it shows: the monitor's name, or "Manual: " and its status.
    source: String,
    edit_url: String,
    move_url: String,
    delete_url: String,
}

/// A group (or the components without one) as the editor lists it.
struct GroupRow {
    /// `None` for the ungrouped components.
    id: Option<i64>,
    name: String,
    components: Vec<ComponentRow>,
    rename_url: String,
    move_url: String,
    delete_url: String,
    /// The rename form's error, if that form was sent with one.
    error: Option<String>,
}

/// The component form's values.
struct ComponentFormView {
    name: String,
    description: String,
    group_id: Option<i64>,
    monitor_id: Option<i64>,
    status: String,
    show_uptime: bool,
    show_response_times: bool,
}

impl ComponentFormView {
    fn blank() -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            group_id: None,
            monitor_id: None,
            status: String::new(),
            show_uptime: true,
            show_response_times: false,
        }
    }

    fn of_component(c: &ComponentView) -> Self {
        Self {
            name: c.name.clone(),
            description: c.description.clone().unwrap_or_default(),
            group_id: c.group_id,
            monitor_id: c.monitor_id,
            status: if c.monitor_id.is_some() {
                String::new()
            } else {
                c.status.clone()
            },
            show_uptime: c.show_uptime,
            show_response_times: c.show_response_times,
        }
    }

    fn status_is(&self, status: &str) -> bool {
        self.status == status
    }

    fn group_selected(&self, id: &i64) -> bool {
        self.group_id == Some(*id)
    }

    fn monitor_selected(&self, id: &i64) -> bool {
        self.monitor_id == Some(*id)
    }

    fn of_form(f: &ComponentForm) -> Self {
        Self {
            name: f.name.clone(),
            description: f.description.clone(),
            group_id: f.group_id.parse().ok(),
            monitor_id: f.monitor_id.parse().ok(),
            status: f.status.clone(),
            show_uptime: f.show_uptime.is_some(),
            show_response_times: f.show_response_times.is_some(),
        }
    }
}

/// Choices of the component form: groups, monitors and statuses.
struct Choices {
    groups: Vec<(i64, String)>,
    monitors: Vec<(i64, String)>,
    statuses: Vec<(&'static str, &'static str)>,
}

impl Choices {
    fn new(detail: &PageDetail, monitors: &[(MonitorId, String)]) -> Self {
        Self {
            groups: detail
                .groups
                .iter()
                .map(|g| (g.id, g.name.clone()))
                .collect(),
            monitors: monitors
                .iter()
                .map(|(id, name)| (id.0, name.clone()))
                .collect(),
            statuses: ComponentStatus::ALL
                .iter()
                .map(|s| (s.as_str(), crate::pages::html::status_label(*s)))
                .collect(),
        }
    }
}

/// Which form of the editor was sent with errors.
#[derive(Default)]
struct EditorErrors {
    settings: Option<(PageForm, FormErrors)>,
    password: FormErrors,
    group: Option<(String, FormErrors)>,
    rename: Option<(i64, String)>,
    component: Option<(ComponentForm, FormErrors)>,
}

#[derive(Template)]
#[template(path = "dash/pages/editor.html")]
struct EditorTpl {
    layout: Layout,
    page: PageView,
    can_write: bool,
    settings: PageFormView,
    settings_errors: FormErrors,
    password_errors: FormErrors,
    groups: Vec<GroupRow>,
    group_name: String,
    group_errors: FormErrors,
    component: ComponentFormView,
    component_errors: FormErrors,
    choices: Choices,
    /// The page on this server (`/s/<slug>`).
    public_url: String,
    /// The page at its custom domains.
    domain_urls: Vec<String>,
    preview_url: String,
    base: String,
}

/// The editor of page `id`, with the errors of the form that was sent (422) or none (200).
async fn editor_page(
    state: &AppState,
    dash: &Dash,
    id: i64,
    errors: EditorErrors,
) -> Result<Response, DashError> {
    let page = api::find_page(state, dash.ws(), id).await?;
    let detail = api::page_detail(state, page).await?;
    let monitors = state.store.workspace(dash.ws()).monitor_names().await?;
    let base = editor_url(dash, id);
    let monitor_name = |m: i64| {
        monitors
            .iter()
            .find(|(id, _)| id.0 == m)
            .map_or_else(|| format!("Monitor {m}"), |(_, name)| name.clone())
    };
    let row = |c: &ComponentView| ComponentRow {
        source: match c.monitor_id {
            Some(m) => format!("Monitor: {}", monitor_name(m)),
            None => format!(
                "Manual: {}",
                c.status
                    .parse::<ComponentStatus>()
                    .map_or("unknown", crate::pages::html::status_label)
            ),
        },
        edit_url: format!("{base}/components/{}", c.id),
        move_url: format!("{base}/components/{}/move", c.id),
        delete_url: format!("{base}/components/{}/delete", c.id),
        c: c.clone(),
    };
    let mut groups: Vec<GroupRow> = detail
        .groups
        .iter()
        .map(|g| GroupRow {
            id: Some(g.id),
            name: g.name.clone(),
            components: detail
                .components
                .iter()
                .filter(|c| c.group_id == Some(g.id))
                .map(row)
                .collect(),
            rename_url: format!("{base}/groups/{}", g.id),
            move_url: format!("{base}/groups/{}/move", g.id),
            delete_url: format!("{base}/groups/{}/delete", g.id),
            error: errors
                .rename
                .as_ref()
                .filter(|(gid, _)| *gid == g.id)
                .map(|(_, m)| m.clone()),
        })
        .collect();
    let ungrouped: Vec<ComponentRow> = detail
        .components
        .iter()
        .filter(|c| c.group_id.is_none())
        .map(row)
        .collect();
    if !ungrouped.is_empty() || groups.is_empty() {
        groups.insert(
            0,
            GroupRow {
                id: None,
                name: String::new(),
                components: ungrouped,
                rename_url: String::new(),
                move_url: String::new(),
                delete_url: String::new(),
                error: None,
            },
        );
    }
    let failed = errors.settings.is_some()
        || !errors.password.is_empty()
        || errors.group.is_some()
        || errors.rename.is_some()
        || errors.component.is_some();
    let (settings, settings_errors) = match &errors.settings {
        Some((form, e)) => (PageFormView::of_form(form), e.clone()),
        None => (PageFormView::of_page(&detail.page), FormErrors::new()),
    };
    let (group_name, group_errors) = errors.group.unwrap_or_default();
    let (component, component_errors) = match &errors.component {
        Some((form, e)) => (ComponentFormView::of_form(form), e.clone()),
        None => (ComponentFormView::blank(), FormErrors::new()),
    };
    let public_url = format!("/s/{}", detail.page.slug);
    let tpl = EditorTpl {
        layout: dash.layout(detail.page.title.clone(), Section::Pages),
        can_write: dash.require(Role::Member).is_ok(),
        settings,
        settings_errors,
        password_errors: errors.password,
        groups,
        group_name,
        group_errors,
        component,
        component_errors,
        choices: Choices::new(&detail, &monitors),
        domain_urls: detail
            .page
            .domains
            .iter()
            .map(|d| format!("https://{d}/"))
            .collect(),
        public_url,
        preview_url: format!("{base}/preview"),
        base,
        page: detail.page,
    };
    let status = if failed {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render_status(status, &tpl))
}

/// `GET /w/{ws}/pages/{id}`: the page's editor.
async fn editor(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    editor_page(&state, &dash, path_id(&id)?, EditorErrors::default()).await
}

/// `POST /w/{ws}/pages/{id}`: saves the page's settings.
async fn update(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<PageForm>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    let access = &dash.access::<Write>()?;
    let st = &state;
    let saved = save_settings(&form, |input| async move {
        api::update_page(st, access, id, &input).await
    })
    .await?;
    match saved {
        Ok(_) => Ok(redirect_with(&editor_url(&dash, id), "Settings saved.")),
        Err(errors) => {
            let errors = EditorErrors {
                settings: Some((form, errors)),
                ..EditorErrors::default()
            };
            editor_page(&state, &dash, id, errors).await
        }
    }
}

/// `POST /w/{ws}/pages/{id}/delete`.
async fn delete(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    api::delete_page(&state, &dash.access::<Write>()?, id).await?;
    Ok(redirect_with(&dash.url("/pages"), "Status page deleted."))
}

/// A form without fields of its own.
#[derive(Debug, Deserialize)]
pub(super) struct Empty {}

/// The password form: `action=set` with `password`, or `action=remove`.
#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    password: String,
}

/// `POST /w/{ws}/pages/{id}/password`: sets or removes the page's password.
async fn password(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    let access = dash.access::<Write>()?;
    let (password, done) = match form.action.as_str() {
        "remove" => (None, "Password removed: the page is open to everyone."),
        _ => (
            Some(form.password.as_str()),
            "Password set: visitors need it to see the page.",
        ),
    };
    match api::set_page_password(&state, &access, id, password).await {
        Ok(_) => Ok(redirect_with(&editor_url(&dash, id), done)),
        Err(e) => {
            let errors = EditorErrors {
                password: FormErrors::of_api(e, str::to_owned)?,
                ..EditorErrors::default()
            };
            editor_page(&state, &dash, id, errors).await
        }
    }
}

/// `GET /w/{ws}/pages/{id}/preview`: the public page as visitors would see it with the saved
/// settings, also while it is hidden or password protected (for the editor's frame).
async fn preview(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    let page = api::find_page(&state, dash.ws(), path_id(&id)?).await?;
    let snapshot = state.pages.snapshot(&state, &page).await?;
    let html = crate::pages::html::page_html(&snapshot, &format!("/s/{}", page.slug));
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Only the dashboard may frame it; the page's own inline style and logo may load.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; \
             frame-ancestors 'self'; form-action 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    Ok(res)
}

// === groups ===

/// The group form.
#[derive(Debug, Deserialize)]
struct GroupForm {
    #[serde(default)]
    name: String,
}

/// `POST /w/{ws}/pages/{id}/groups`: adds a group.
async fn add_group(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    let access = dash.access::<Write>()?;
    let input = GroupInput {
        name: form.name.clone(),
        position: None,
    };
    match api::add_group(&state, &access, id, &input).await {
        Ok(g) => Ok(redirect_with(
            &editor_url(&dash, id),
            &format!("Group \"{}\" added.", g.name),
        )),
        Err(e) => {
            let errors = EditorErrors {
                group: Some((form.name, FormErrors::of_api(e, str::to_owned)?)),
                ..EditorErrors::default()
            };
            editor_page(&state, &dash, id, errors).await
        }
    }
}

/// `POST /w/{ws}/pages/{id}/groups/{gid}`: renames a group.
async fn rename_group(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, gid)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Result<Response, DashError> {
    let (id, gid) = (path_id(&id)?, path_id(&gid)?);
    let access = dash.access::<Write>()?;
    let input = GroupInput {
        name: form.name,
        position: None,
    };
    match api::edit_group(&state, &access, id, gid, &input).await {
        Ok(_) => Ok(redirect_with(&editor_url(&dash, id), "Group renamed.")),
        Err(e) if e.field.is_some() => {
            let errors = EditorErrors {
                rename: Some((gid, e.message)),
                ..EditorErrors::default()
            };
            editor_page(&state, &dash, id, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The move form: `dir=up` or `dir=down`.
#[derive(Debug, Deserialize)]
struct MoveForm {
    #[serde(default)]
    dir: String,
}

impl MoveForm {
    fn up(&self) -> Result<bool, DashError> {
        match self.dir.as_str() {
            "up" => Ok(true),
            "down" => Ok(false),
            _ => Err(DashError::Page(
                StatusCode::BAD_REQUEST,
                "A move is up or down.".to_owned(),
            )),
        }
    }
}

/// `POST /w/{ws}/pages/{id}/groups/{gid}/move`: moves a group up or down.
async fn move_group(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, gid)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Result<Response, DashError> {
    let (id, gid) = (path_id(&id)?, path_id(&gid)?);
    let up = form.up()?;
    let access = dash.access::<Write>()?;
    let page = api::find_page(&state, dash.ws(), id).await?;
    let detail = api::page_detail(&state, page).await?;
    let ids: Vec<i64> = detail.groups.iter().map(|g| g.id).collect();
    if !ids.contains(&gid) {
        return Err(DashError::NotFound);
    }
    let Some(order) = api::moved(&ids, gid, up, |_| true) else {
        return Ok(redirect_with(
            &editor_url(&dash, id),
            "The group is already at that end.",
        ));
    };
    api::set_group_order(&state, &access, id, &order).await?;
    Ok(redirect_with(&editor_url(&dash, id), "Group moved."))
}

/// `POST /w/{ws}/pages/{id}/groups/{gid}/delete`.
async fn delete_group(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, gid)): Path<(String, String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    let (id, gid) = (path_id(&id)?, path_id(&gid)?);
    api::delete_group_of(&state, &dash.access::<Write>()?, id, gid).await?;
    Ok(redirect_with(
        &editor_url(&dash, id),
        "Group deleted; its components stay on the page without a group.",
    ))
}

// === components ===

/// The component form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ComponentForm {
    name: String,
    description: String,
    /// A group id, or empty for none.
    group_id: String,
    /// A monitor id, or empty for a manual component.
    monitor_id: String,
    /// A manual component's status, or empty.
    status: String,
    /// Checkboxes.
    show_uptime: Option<String>,
    show_response_times: Option<String>,
}

/// An optional id field of a form: empty is none.
fn optional_id(field: &str, raw: &str) -> Result<Option<i64>, FormErrors> {
    match raw.trim() {
        "" => Ok(None),
        s => s.parse::<i64>().map(Some).map_err(|_| {
            let mut e = FormErrors::new();
            e.add(field, "must be chosen from the list");
            e
        }),
    }
}

/// The API input of a component form.
fn component_input(f: &ComponentForm) -> Result<ComponentInput, FormErrors> {
    let status = match f.status.trim() {
        "" => None,
        s => Some(
            serde_json::from_value::<ApiComponentStatus>(serde_json::Value::String(s.to_owned()))
                .map_err(|_| {
                let mut e = FormErrors::new();
                e.add("status", "must be chosen from the list");
                e
            })?,
        ),
    };
    Ok(ComponentInput {
        name: f.name.clone(),
        description: Some(f.description.clone()),
        group_id: optional_id("group_id", &f.group_id)?,
        monitor_id: optional_id("monitor_id", &f.monitor_id)?,
        position: None,
        status,
        show_uptime: Some(f.show_uptime.is_some()),
        show_response_times: Some(f.show_response_times.is_some()),
    })
}

/// `POST /w/{ws}/pages/{id}/components`: adds a component.
async fn add_component(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ComponentForm>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    let access = dash.access::<Write>()?;
    let result = match component_input(&form) {
        Ok(input) => match api::add_component(&state, &access, id, &input).await {
            Ok(c) => Ok(c),
            Err(e) => Err(FormErrors::of_api(e, str::to_owned)?),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => Ok(redirect_with(
            &editor_url(&dash, id),
            &format!("Component \"{}\" added.", c.name),
        )),
        Err(errors) => {
            let errors = EditorErrors {
                component: Some((form, errors)),
                ..EditorErrors::default()
            };
            editor_page(&state, &dash, id, errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "dash/pages/component.html")]
struct ComponentTpl {
    layout: Layout,
    page: PageView,
    component: ComponentFormView,
    component_errors: FormErrors,
    choices: Choices,
    action: String,
    back: String,
}

/// The edit form of component `cid` of page `id`.
async fn component_page(
    state: &AppState,
    dash: &Dash,
    id: i64,
    cid: i64,
    sent: Option<(ComponentForm, FormErrors)>,
) -> Result<Response, DashError> {
    let page = api::find_page(state, dash.ws(), id).await?;
    let detail = api::page_detail(state, page).await?;
    let c = detail
        .components
        .iter()
        .find(|c| c.id == cid)
        .ok_or(DashError::NotFound)?;
    let monitors = state.store.workspace(dash.ws()).monitor_names().await?;
    let (component, component_errors, status) = match sent {
        Some((form, e)) => (
            ComponentFormView::of_form(&form),
            e,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        None => (
            ComponentFormView::of_component(c),
            FormErrors::new(),
            StatusCode::OK,
        ),
    };
    let tpl = ComponentTpl {
        layout: dash.layout(format!("Component \"{}\"", c.name), Section::Pages),
        component,
        component_errors,
        choices: Choices::new(&detail, &monitors),
        action: format!("{}/components/{cid}", editor_url(dash, id)),
        back: editor_url(dash, id),
        page: detail.page,
    };
    Ok(render_status(status, &tpl))
}

/// `GET /w/{ws}/pages/{id}/components/{cid}`: a component's edit form.
async fn component_form(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, cid)): Path<(String, String, String)>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    component_page(&state, &dash, path_id(&id)?, path_id(&cid)?, None).await
}

/// `POST /w/{ws}/pages/{id}/components/{cid}`: saves a component.
async fn update_component(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, cid)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<ComponentForm>,
) -> Result<Response, DashError> {
    let (id, cid) = (path_id(&id)?, path_id(&cid)?);
    let access = dash.access::<Write>()?;
    let result = match component_input(&form) {
        Ok(input) => match api::edit_component(&state, &access, id, cid, &input).await {
            Ok(c) => Ok(c),
            Err(e) => Err(FormErrors::of_api(e, str::to_owned)?),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => Ok(redirect_with(
            &editor_url(&dash, id),
            &format!("Component \"{}\" saved.", c.name),
        )),
        Err(errors) => component_page(&state, &dash, id, cid, Some((form, errors))).await,
    }
}

/// `POST /w/{ws}/pages/{id}/components/{cid}/move`: moves a component up or down in its
/// group.
async fn move_component(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, cid)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Result<Response, DashError> {
    let (id, cid) = (path_id(&id)?, path_id(&cid)?);
    let up = form.up()?;
    let access = dash.access::<Write>()?;
    let page = api::find_page(&state, dash.ws(), id).await?;
    let detail = api::page_detail(&state, page).await?;
    let group = detail
        .components
        .iter()
        .find(|c| c.id == cid)
        .ok_or(DashError::NotFound)?
        .group_id;
    let ids: Vec<i64> = detail.components.iter().map(|c| c.id).collect();
    let same_group = |other: i64| {
        detail
            .components
            .iter()
            .any(|c| c.id == other && c.group_id == group)
    };
    let Some(order) = api::moved(&ids, cid, up, same_group) else {
        return Ok(redirect_with(
            &editor_url(&dash, id),
            "The component is already at that end of its group.",
        ));
    };
    api::set_component_order(&state, &access, id, &order).await?;
    Ok(redirect_with(&editor_url(&dash, id), "Component moved."))
}

/// `POST /w/{ws}/pages/{id}/components/{cid}/delete`.
async fn delete_component(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, cid)): Path<(String, String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    let (id, cid) = (path_id(&id)?, path_id(&cid)?);
    api::delete_component_of(&state, &dash.access::<Write>()?, id, cid).await?;
    Ok(redirect_with(&editor_url(&dash, id), "Component deleted."))
}
