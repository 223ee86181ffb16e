//! Projects: the list with a create form, a project's set-up page (its DSN, SDK snippets and
//! DSN keys: create, change the label and rate limit, disable, rotate, revoke) and its
//! settings (name, platform, retention, issue-frequency alerts, alert channels, delete).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use bitwobbly_store::prelude::Role;
use serde::Deserialize;

use super::snippets::{Snippet, snippets};
use super::{ProjectHead, Tab, When, given, head, id_of};
use crate::AppState;
use crate::api::channels::list_channels;
use crate::api::projects::{
    KeyPatch, KeyPath, KeyView, NewKeyInput, NewProjectInput, ProjectPatch, ProjectSettings,
    ProjectView, create_key_of, create_project, delete_project, get_project, list_projects,
    revoke_key_of, rotate_key_of, update_key_of, update_project,
};
use crate::auth::{Manage, Read};
use crate::dashboard::{
    CsrfForm, Dash, DashError, FormErrors, Layout, Section, redirect_with, render, render_status,
};
use crate::error::ApiError;

/// Platforms offered when creating a project (any other may be set through the API).
const PLATFORMS: [(&str, &str); 8] = [
    ("python", "Python"),
    ("node", "Node.js"),
    ("javascript", "Browser JavaScript"),
    ("rust", "Rust"),
    ("go", "Go"),
    ("java", "Java"),
    ("ruby", "Ruby"),
    ("php", "PHP"),
];

/// A whole number of a form field; blank is `None`.
fn number(errors: &mut FormErrors, field: &str, v: &str) -> Option<i64> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    match v.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.add(field, "must be a whole number");
            None
        }
    }
}

/// Renders `page` as `422` with `errors` when `e` names a field; otherwise the error page.
fn form_error<T: Template>(
    e: ApiError,
    page: impl FnOnce(FormErrors) -> T,
) -> Result<Response, DashError> {
    match FormErrors::from_api(&e) {
        Some(errors) => Ok(render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(errors),
        )),
        None => Err(e.into()),
    }
}

// === list and create ===

/// What the create form holds.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct NewProjectForm {
    name: String,
    slug: String,
    platform: String,
}

/// One project of the list.
#[derive(Debug)]
struct ProjectRow {
    name: String,
    slug: String,
    platform: Option<String>,
    issues: String,
    setup: String,
    dsn: Option<String>,
    keys: usize,
}

#[derive(Template)]
#[template(path = "dash/errors/projects.html")]
struct ListPage {
    layout: Layout,
    projects: Vec<ProjectRow>,
    can_manage: bool,
    form: NewProjectForm,
    errors: FormErrors,
    platforms: &'static [(&'static str, &'static str)],
    action: String,
}

impl ListPage {
    fn new(dash: &Dash, list: Vec<ProjectView>, form: NewProjectForm, errors: FormErrors) -> Self {
        let projects = list
            .into_iter()
            .map(|p| ProjectRow {
                issues: dash.url(&format!("/projects/{}/issues", p.id)),
                setup: dash.url(&format!("/projects/{}", p.id)),
                keys: p.keys.len(),
                name: p.name,
                slug: p.slug,
                platform: p.platform,
                dsn: p.dsn,
            })
            .collect();
        Self {
            layout: dash.layout("Error tracking", Section::Projects),
            projects,
            can_manage: dash.require(Role::Admin).is_ok(),
            form,
            errors,
            platforms: &PLATFORMS,
            action: dash.url("/projects"),
        }
    }
}

/// `GET /w/{ws}/projects`.
pub(super) async fn list(State(state): State<AppState>, dash: Dash) -> Result<Response, DashError> {
    let access = dash.access::<Read>()?;
    let list = list_projects(&state, &access).await?;
    Ok(render(&ListPage::new(
        &dash,
        list,
        NewProjectForm::default(),
        FormErrors::new(),
    )))
}

/// `POST /w/{ws}/projects` (admin): creates a project, then shows its set-up page.
pub(super) async fn create(
    State(state): State<AppState>,
    dash: Dash,
    CsrfForm(form): CsrfForm<NewProjectForm>,
) -> Result<Response, DashError> {
    let access = dash.access::<Manage>()?;
    let input = NewProjectInput {
        name: form.name.clone(),
        slug: given(Some(&form.slug)),
        platform: given(Some(&form.platform)),
        channel_ids: Vec::new(),
        settings: None,
    };
    match create_project(&state, &access, &input).await {
        Ok(p) => Ok(redirect_with(
            &dash.url(&format!("/projects/{}", p.id)),
            &format!("Project “{}” created: point an SDK at its DSN.", p.name),
        )),
        Err(e) => {
            let list = list_projects(&state, &dash.access::<Read>()?).await?;
            form_error(e, |errors| ListPage::new(&dash, list, form, errors))
        }
    }
}

// === set-up and keys ===

/// One DSN key as the set-up page shows it.
#[derive(Debug)]
struct KeyRow {
    key: KeyView,
    created: When,
    action: String,
    /// The values the edit form shows (what was sent, after an error).
    label: String,
    rate: String,
    /// Errors of this key's edit form, by field (`label`, `rate_limit_per_minute`).
    errors: FormErrors,
}

/// What the new-key form and the key edit forms hold.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct KeyForm {
    label: String,
    rate_limit_per_minute: String,
    /// `on` when the key accepts events (edit form only).
    enabled: Option<String>,
}

#[derive(Template)]
#[template(path = "dash/errors/setup.html")]
struct SetupPage {
    layout: Layout,
    project: ProjectHead,
    dsn: Option<String>,
    snippets: Vec<Snippet>,
    keys: Vec<KeyRow>,
    can_manage: bool,
    new_key: KeyForm,
    errors: FormErrors,
}

impl SetupPage {
    /// The page; `edited` is a key's edit form sent with errors.
    fn new(
        dash: &Dash,
        project: ProjectHead,
        view: ProjectView,
        new_key: KeyForm,
        errors: FormErrors,
        edited: Option<(i64, KeyForm, FormErrors)>,
    ) -> Self {
        let keys = view
            .keys
            .into_iter()
            .map(|k| {
                let action = format!("{}/keys/{}", project.base, k.id);
                let mut row = KeyRow {
                    created: When(k.created_at),
                    label: k.label.clone(),
                    rate: k
                        .rate_limit_per_minute
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                    errors: FormErrors::new(),
                    action,
                    key: k,
                };
                if let Some((id, form, errors)) = &edited
                    && *id == row.key.id
                {
                    row.label.clone_from(&form.label);
                    row.rate.clone_from(&form.rate_limit_per_minute);
                    row.errors = errors.clone();
                }
                row
            })
            .collect();
        Self {
            layout: dash.layout(format!("{} · Set-up", view.name), Section::Projects),
            snippets: view
                .dsn
                .as_deref()
                .map(|d| snippets(d, view.platform.as_deref()))
                .unwrap_or_default(),
            dsn: view.dsn,
            keys,
            can_manage: dash.require(Role::Admin).is_ok(),
            project,
            new_key,
            errors,
        }
    }
}

/// `GET /w/{ws}/projects/{id}`: the DSN, SDK snippets and keys.
pub(super) async fn setup(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let project = head(&state, &dash, id, Tab::Setup).await?;
    let view = get_project(&state, &dash.access::<Read>()?, id).await?;
    Ok(render(&SetupPage::new(
        &dash,
        project,
        view,
        KeyForm::default(),
        FormErrors::new(),
        None,
    )))
}

/// Reads a key form into the API's input, or the form's errors.
fn key_input(form: &KeyForm) -> Result<(Option<String>, Option<i64>), FormErrors> {
    let mut errors = FormErrors::new();
    let rate = number(
        &mut errors,
        "rate_limit_per_minute",
        &form.rate_limit_per_minute,
    );
    if errors.is_empty() {
        Ok((given(Some(&form.label)), rate))
    } else {
        Err(errors)
    }
}

/// Renders the set-up page with errors (422).
async fn setup_with_errors(
    state: &AppState,
    dash: &Dash,
    id: i64,
    new_key: KeyForm,
    errors: FormErrors,
    edited: Option<(i64, KeyForm, FormErrors)>,
) -> Result<Response, DashError> {
    let project = head(state, dash, id, Tab::Setup).await?;
    let view = get_project(state, &dash.access::<Read>()?, id).await?;
    Ok(render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &SetupPage::new(dash, project, view, new_key, errors, edited),
    ))
}

/// `POST /w/{ws}/projects/{id}/keys` (admin): a new DSN key.
pub(super) async fn create_key(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<KeyForm>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let access = dash.access::<Manage>()?;
    let (label, rate) = match key_input(&form) {
        Ok(v) => v,
        Err(errors) => return setup_with_errors(&state, &dash, id, form, errors, None).await,
    };
    let input = NewKeyInput {
        label,
        rate_limit_per_minute: rate,
    };
    match create_key_of(&state, &access, id, &input).await {
        Ok(k) => Ok(redirect_with(
            &dash.url(&format!("/projects/{id}")),
            &format!("Key “{}” created.", k.label),
        )),
        Err(e) => match FormErrors::from_api(&e) {
            Some(errors) => setup_with_errors(&state, &dash, id, form, errors, None).await,
            None => Err(e.into()),
        },
    }
}

fn key_path(dash: &Dash, id: &str, key: &str) -> Result<KeyPath, DashError> {
    Ok(KeyPath {
        workspace: dash.workspace.slug.clone(),
        id: id_of(id)?,
        key_id: id_of(key)?,
    })
}

/// `POST /w/{ws}/projects/{id}/keys/{key}` (admin): label, rate limit, enabled.
pub(super) async fn update_key(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, key)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<KeyForm>,
) -> Result<Response, DashError> {
    let path = key_path(&dash, &id, &key)?;
    let access = dash.access::<Manage>()?;
    let edited = |errors| Some((path.key_id, form.clone(), errors));
    let (label, rate) = match key_input(&form) {
        Ok(v) => v,
        Err(errors) => {
            return setup_with_errors(
                &state,
                &dash,
                path.id,
                KeyForm::default(),
                FormErrors::new(),
                edited(errors),
            )
            .await;
        }
    };
    let patch = KeyPatch {
        // A blank label is refused by the API's rule, as an absent one is not.
        label: Some(label.unwrap_or_default()),
        rate_limit_per_minute: Some(rate),
        enabled: Some(form.enabled.is_some()),
    };
    match update_key_of(&state, &access, &path, &patch).await {
        Ok(k) => Ok(redirect_with(
            &dash.url(&format!("/projects/{}", path.id)),
            &format!("Key “{}” saved.", k.label),
        )),
        Err(e) => match FormErrors::from_api(&e) {
            Some(errors) => {
                setup_with_errors(
                    &state,
                    &dash,
                    path.id,
                    KeyForm::default(),
                    FormErrors::new(),
                    edited(errors),
                )
                .await
            }
            None => Err(e.into()),
        },
    }
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct Empty {}

/// `POST /w/{ws}/projects/{id}/keys/{key}/rotate` (admin).
pub(super) async fn rotate_key(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, key)): Path<(String, String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    let path = key_path(&dash, &id, &key)?;
    let k = rotate_key_of(&state, &dash.access::<Manage>()?, &path).await?;
    Ok(redirect_with(
        &dash.url(&format!("/projects/{}", path.id)),
        &format!(
            "Key rotated: the old key is disabled; give SDKs the new DSN {}.",
            k.dsn
        ),
    ))
}

/// `POST /w/{ws}/projects/{id}/keys/{key}/revoke` (admin).
pub(super) async fn revoke_key(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, key)): Path<(String, String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    let path = key_path(&dash, &id, &key)?;
    revoke_key_of(&state, &dash.access::<Manage>()?, &path).await?;
    Ok(redirect_with(
        &dash.url(&format!("/projects/{}", path.id)),
        "Key revoked: it is refused from now on.",
    ))
}

// === settings ===

/// What the settings form holds (field names as the API names them).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct SettingsForm {
    name: String,
    platform: String,
    #[serde(rename = "settings.event_retention_days")]
    event_retention_days: String,
    #[serde(rename = "settings.envelope_retention_days")]
    envelope_retention_days: String,
    #[serde(rename = "settings.alert_frequency_count")]
    alert_frequency_count: String,
    #[serde(rename = "settings.alert_frequency_minutes")]
    alert_frequency_minutes: String,
    channel_ids: Vec<String>,
}

impl SettingsForm {
    fn of(p: &ProjectView) -> Self {
        let s = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        Self {
            name: p.name.clone(),
            platform: p.platform.clone().unwrap_or_default(),
            event_retention_days: s(p.settings.event_retention_days),
            envelope_retention_days: s(p.settings.envelope_retention_days),
            alert_frequency_count: s(p.settings.alert_frequency_count),
            alert_frequency_minutes: s(p.settings.alert_frequency_minutes),
            channel_ids: p.channel_ids.iter().map(i64::to_string).collect(),
        }
    }

    /// The API's patch, or the form's own errors (numbers that are not numbers).
    fn patch(&self) -> Result<ProjectPatch, FormErrors> {
        let mut errors = FormErrors::new();
        let mut n = |field: &str, v: &str| number(&mut errors, &format!("settings.{field}"), v);
        let settings = ProjectSettings {
            event_retention_days: n("event_retention_days", &self.event_retention_days),
            envelope_retention_days: n("envelope_retention_days", &self.envelope_retention_days),
            alert_frequency_count: n("alert_frequency_count", &self.alert_frequency_count),
            alert_frequency_minutes: n("alert_frequency_minutes", &self.alert_frequency_minutes),
        };
        let mut channel_ids = Vec::with_capacity(self.channel_ids.len());
        for c in &self.channel_ids {
            match c.parse::<i64>() {
                Ok(id) => channel_ids.push(id),
                Err(_) => errors.add("channel_ids", "must be channels of this workspace"),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ProjectPatch {
            name: Some(self.name.clone()),
            platform: Some(given(Some(&self.platform))),
            channel_ids: Some(channel_ids),
            settings: Some(settings),
        })
    }
}

/// A channel to tick.
#[derive(Debug)]
struct ChannelChoice {
    id: i64,
    name: String,
    kind: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "dash/errors/settings.html")]
struct SettingsPage {
    layout: Layout,
    project: ProjectHead,
    form: SettingsForm,
    channels: Vec<ChannelChoice>,
    errors: FormErrors,
    can_manage: bool,
}

async fn settings_page(
    state: &AppState,
    dash: &Dash,
    id: i64,
    form: Option<SettingsForm>,
    errors: FormErrors,
) -> Result<SettingsPage, DashError> {
    let project = head(state, dash, id, Tab::Settings).await?;
    let form = match form {
        Some(f) => f,
        None => SettingsForm::of(&get_project(state, &dash.access::<Read>()?, id).await?),
    };
    let channels = list_channels(state, dash.ws())
        .await?
        .into_iter()
        .map(|c| ChannelChoice {
            checked: form.channel_ids.contains(&c.id.to_string()),
            id: c.id,
            name: c.name,
            kind: c.kind,
        })
        .collect();
    Ok(SettingsPage {
        layout: dash.layout(format!("{} · Settings", project.name), Section::Projects),
        project,
        form,
        channels,
        errors,
        can_manage: dash.require(Role::Admin).is_ok(),
    })
}

/// `GET /w/{ws}/projects/{id}/settings`.
pub(super) async fn settings(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    Ok(render(
        &settings_page(&state, &dash, id, None, FormErrors::new()).await?,
    ))
}

/// `POST /w/{ws}/projects/{id}/settings` (admin).
pub(super) async fn save_settings(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let access = dash.access::<Manage>()?;
    let result = match form.patch() {
        Ok(patch) => update_project(&state, &access, id, &patch).await,
        Err(errors) => {
            let page = settings_page(&state, &dash, id, Some(form), errors).await?;
            return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    match result {
        Ok(p) => Ok(redirect_with(
            &dash.url(&format!("/projects/{id}/settings")),
            &format!("Settings of “{}” saved.", p.name),
        )),
        Err(e) => {
            // `channel_ids[2]` is the form's `channel_ids`.
            let Some(errors) = FormErrors::from_api_mapped(&e, |f| {
                if f.starts_with("channel_ids") {
                    "channel_ids"
                } else {
                    f
                }
            }) else {
                return Err(e.into());
            };
            let page = settings_page(&state, &dash, id, Some(form), errors).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /w/{ws}/projects/{id}/delete` (admin): deletes the project and all it received.
pub(super) async fn delete(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let access = dash.access::<Manage>()?;
    let project = head(&state, &dash, id, Tab::Settings).await?;
    delete_project(&state, &access, id).await?;
    Ok(redirect_with(
        &dash.url("/projects"),
        &format!("Project “{}” deleted.", project.name),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_forms_read_numbers_and_blanks() {
        let form = SettingsForm {
            name: "Shop".into(),
            platform: " ".into(),
            event_retention_days: "30".into(),
            envelope_retention_days: String::new(),
            alert_frequency_count: "ten".into(),
            alert_frequency_minutes: "5".into(),
            channel_ids: vec!["3".into(), "x".into()],
        };
        let errors = form.patch().unwrap_err();
        assert!(errors.get("settings.alert_frequency_count").is_some());
        assert!(errors.get("channel_ids").is_some());
        let form = SettingsForm {
            alert_frequency_count: String::new(),
            channel_ids: vec!["3".into()],
            ..form
        };
        let patch = form.patch().unwrap();
        assert_eq!(patch.platform, Some(None));
        let s = patch.settings.unwrap();
        assert_eq!(s.event_retention_days, Some(30));
        assert_eq!(s.envelope_retention_days, None);
        assert_eq!(patch.channel_ids, Some(vec![3]));
    }

    #[test]
    fn key_forms_refuse_words_for_rate_limits() {
        let bad = KeyForm {
            label: "CI".into(),
            rate_limit_per_minute: "lots".into(),
            enabled: None,
        };
        assert!(
            key_input(&bad)
                .unwrap_err()
                .get("rate_limit_per_minute")
                .is_some()
        );
        let good = KeyForm {
            rate_limit_per_minute: " 60 ".into(),
            ..bad
        };
        assert_eq!(key_input(&good).unwrap(), (Some("CI".into()), Some(60)));
    }
}
