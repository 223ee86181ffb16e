//! Account administration shared by the first-run set-up page and the `bitwobbly admin`
//! commands: create a user with a workspace they own, and issue an API token or an agent
//! token.
//!
//! Both work on any [`Store`], also while a server runs on the same database (SQLite in WAL
//! mode lets another process write; PostgreSQL is shared anyway).

use std::time::Duration;

use bitwobbly_store::api::{AccountStore, IngestStore, MemberStore};
use bitwobbly_store::model::{
    AgentToken, ApiToken, DsnKey, Location, Project, Secret, User, Workspace,
};
use bitwobbly_store::types::{Role, Timestamp};
use bitwobbly_store::{Store, StoreError};

use crate::auth::role_rank;

/// Why an administration step was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// An input is malformed; `field` names it (`email`, `password`, `workspace`, ...).
    #[error("invalid {field}: {problem}")]
    Invalid {
        /// The input at fault.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// No user has that email address.
    #[error("no user with email {email}")]
    NoSuchUser {
        /// The address asked for.
        email: String,
    },
    /// A user with that email address exists already.
    #[error("a user with email {email} already exists")]
    UserExists {
        /// The address.
        email: String,
    },
    /// No workspace has that slug, or the user is not a member of it.
    #[error("{email} is not a member of a workspace {slug:?}")]
    NoSuchWorkspace {
        /// The user.
        email: String,
        /// The slug asked for.
        slug: String,
    },
    /// A workspace with that slug exists already.
    #[error("a workspace {slug:?} already exists")]
    WorkspaceExists {
        /// The slug.
        slug: String,
    },
    /// The user belongs to several workspaces (or none) and none was named.
    #[error("{email} belongs to {count} workspaces: name one with --workspace")]
    WhichWorkspace {
        /// The user.
        email: String,
        /// How many workspaces they belong to.
        count: usize,
    },
    /// The token would have more power than its user has in the workspace.
    #[error("{email} is {has} in {slug:?} and cannot issue a {wanted} token")]
    RoleTooHigh {
        /// The user.
        email: String,
        /// The workspace.
        slug: String,
        /// The user's role there.
        has: Role,
        /// The role asked for.
        wanted: Role,
    },
    /// A project with that slug exists already in the workspace.
    #[error("a project {slug:?} already exists in this workspace")]
    ProjectExists {
        /// The slug.
        slug: String,
    },
    /// The set-up token is unknown, used or expired.
    #[error("the set-up link is invalid, expired or already used")]
    SetupTokenInvalid,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
    /// The input at fault, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            Self::UserExists { .. } | Self::NoSuchUser { .. } => Some("email"),
            Self::NoSuchWorkspace { .. }
            | Self::WorkspaceExists { .. }
            | Self::WhichWorkspace { .. } => Some("workspace"),
            Self::ProjectExists { .. } => Some("name"),
            Self::RoleTooHigh { .. } => Some("role"),
            Self::SetupTokenInvalid => Some("token"),
            Self::Store(_) => None,
        }
    }
}

/// A new user and the workspace they own.
#[derive(Debug, Clone)]
pub struct NewOwner<'a> {
    /// Email address (login name).
    pub email: &'a str,
    /// Display name; default: the part of the email before `@`.
    pub name: Option<&'a str>,
    /// Password (at least 8 characters).
    pub password: &'a str,
    /// The workspace's slug; default: derived from `workspace_name`, else from the email.
    pub workspace_slug: Option<&'a str>,
    /// The workspace's display name; default: the slug.
    pub workspace_name: Option<&'a str>,
}

/// Checks a new password: 8 characters to 1024 bytes.
///
/// # Errors
///
/// [`AdminError::Invalid`] naming `password`.
pub fn check_password(password: &str) -> Result<(), AdminError> {
    let invalid = |problem: &str| AdminError::Invalid {
        field: "password",
        problem: problem.to_owned(),
    };
    if password.chars().count() < 8 {
        return Err(invalid("must be at least 8 characters"));
    }
    if password.len() > 1024 {
        return Err(invalid("must be at most 1024 bytes"));
    }
    Ok(())
}

/// Checks the inputs of [`create_owner`] without touching the database, and returns the
/// display name, the workspace slug and the workspace name to use.
///
/// # Errors
///
/// [`AdminError::Invalid`] naming the field.
pub fn check_new_owner(new: &NewOwner<'_>) -> Result<(String, String, String), AdminError> {
    let email = new.email.trim();
    let invalid = |field, problem: &str| AdminError::Invalid {
        field,
        problem: problem.to_owned(),
    };
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid("email", "must be an email address (name@domain)"));
    };
    if local.is_empty() || domain.is_empty() || email.len() > 254 || email.contains(' ') {
        return Err(invalid("email", "must be an email address (name@domain)"));
    }
    check_password(new.password)?;
    let name = new
        .name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(local)
        .to_owned();
    if name.chars().count() > 200 {
        return Err(invalid("name", "must be at most 200 characters"));
    }
    let workspace_name = new.workspace_name.map(str::trim).filter(|n| !n.is_empty());
    if workspace_name.is_some_and(|n| n.chars().count() > 200) {
        return Err(invalid("workspace name", "must be at most 200 characters"));
    }
    let slug = match new.workspace_slug {
        Some(slug) => {
            check_slug(slug).map_err(|p| invalid("workspace", p))?;
            slug.to_owned()
        }
        None => slugify(workspace_name.unwrap_or(local)),
    };
    let workspace_name = workspace_name.unwrap_or(&slug).to_owned();
    Ok((name, slug, workspace_name))
}

/// Creates a user and a workspace they own, in one transaction.
///
/// # Errors
///
/// [`AdminError::Invalid`] for bad input, [`AdminError::UserExists`],
/// [`AdminError::WorkspaceExists`], or a database error.
pub async fn create_owner(
    store: &Store,
    new: &NewOwner<'_>,
    now: Timestamp,
) -> Result<(User, Workspace), AdminError> {
    let (name, slug, workspace_name) = check_new_owner(new)?;
    let mut tx = store.begin().await?;
    let created = create_owner_in(&mut tx, new, &name, &slug, &workspace_name, now).await?;
    tx.commit().await?;
    Ok(created)
}

/// The first administrator, from the set-up page: consumes the one-time token and creates
/// the user and their workspace in one transaction (a failure leaves the token usable).
///
/// # Errors
///
/// [`AdminError::SetupTokenInvalid`], or as [`create_owner`].
pub async fn create_first_owner(
    store: &Store,
    token: &str,
    new: &NewOwner<'_>,
    now: Timestamp,
) -> Result<(User, Workspace), AdminError> {
    let (name, slug, workspace_name) = check_new_owner(new)?;
    let mut tx = store.begin().await?;
    if !tx.global().consume_setup_token(token, now).await? {
        return Err(AdminError::SetupTokenInvalid);
    }
    if tx.global().user_count().await? > 0 {
        // Someone set the server up another way meanwhile (e.g. `bitwobbly admin`).
        return Err(AdminError::SetupTokenInvalid);
    }
    let created = create_owner_in(&mut tx, new, &name, &slug, &workspace_name, now).await?;
    tx.commit().await?;
    Ok(created)
}

async fn create_owner_in(
    tx: &mut bitwobbly_store::Tx,
    new: &NewOwner<'_>,
    name: &str,
    slug: &str,
    workspace_name: &str,
    now: Timestamp,
) -> Result<(User, Workspace), AdminError> {
    let email = new.email.trim();
    if tx.global().user_by_email(email).await?.is_some() {
        return Err(AdminError::UserExists {
            email: email.to_lowercase(),
        });
    }
    if tx.global().workspace_by_slug(slug).await?.is_some() {
        return Err(AdminError::WorkspaceExists {
            slug: slug.to_owned(),
        });
    }
    let user = tx
        .global()
        .create_user(email, name, new.password, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => AdminError::UserExists {
                email: email.to_lowercase(),
            },
            e => e.into(),
        })?;
    let ws = tx
        .global()
        .create_workspace(slug, workspace_name, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => AdminError::WorkspaceExists {
                slug: slug.to_owned(),
            },
            e => e.into(),
        })?;
    tx.workspace(ws.id)
        .set_member(user.id, Role::Owner, now)
        .await?;
    Ok((user, ws))
}

/// An API token to issue for a user.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// The user the token is issued for (recorded as its creator).
    pub email: &'a str,
    /// The workspace; default: the user's only workspace.
    pub workspace: Option<&'a str>,
    /// The token's role; default: the user's role there. It may not exceed it.
    pub role: Option<Role>,
    /// A label; default `cli`.
    pub name: Option<&'a str>,
    /// Lifetime; default: none (the token lives until revoked).
    pub expires_in: Option<Duration>,
}

/// Issues an API token for a user in one of their workspaces. The secret is returned once.
///
/// # Errors
///
/// [`AdminError::NoSuchUser`], [`AdminError::NoSuchWorkspace`],
/// [`AdminError::WhichWorkspace`], [`AdminError::RoleTooHigh`], or a database error.
pub async fn create_token(
    store: &Store,
    new: &NewToken<'_>,
    now: Timestamp,
) -> Result<(ApiToken, Secret, Workspace), AdminError> {
    let email = new.email.trim().to_lowercase();
    let name = new
        .name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("cli");
    if name.chars().count() > 200 {
        return Err(AdminError::Invalid {
            field: "name",
            problem: "must be at most 200 characters".into(),
        });
    }
    let (user, ws, has) = membership(store, &email, new.workspace).await?;
    let role = new.role.unwrap_or(has);
    if role_rank(role) > role_rank(has) {
        return Err(AdminError::RoleTooHigh {
            email,
            slug: ws.slug,
            has,
            wanted: role,
        });
    }
    let expires_at = new.expires_in.map(|d| now.plus(d));
    let (token, secret) = store
        .workspace(ws.id)
        .create_api_token(name, role, Some(user.id), now, expires_at)
        .await?;
    Ok((token, secret, ws))
}

/// An agent token to issue for a location (`bitwobbly admin create-agent-token`).
#[derive(Debug, Clone)]
pub struct NewAgentToken<'a> {
    /// A user who is admin or owner of the workspace.
    pub email: &'a str,
    /// The workspace; default: the user's only workspace.
    pub workspace: Option<&'a str>,
    /// The location the agent runs for; created when missing.
    pub location: &'a str,
    /// A label; default `cli`.
    pub name: Option<&'a str>,
}

/// Issues an agent token for a location of one of a user's workspaces (creating the location
/// when missing), as `POST /workspaces/{ws}/locations/{name}/tokens` does. The secret is
/// returned once.
///
/// # Errors
///
/// [`AdminError::Invalid`] (`location`, `name`), [`AdminError::NoSuchUser`],
/// [`AdminError::NoSuchWorkspace`], [`AdminError::WhichWorkspace`],
/// [`AdminError::RoleTooHigh`] (below admin), or a database error.
pub async fn create_agent_token(
    store: &Store,
    new: &NewAgentToken<'_>,
    now: Timestamp,
) -> Result<(AgentToken, Secret, Location, Workspace), AdminError> {
    let email = new.email.trim().to_lowercase();
    let (_, ws, has) = membership(store, &email, new.workspace).await?;
    if role_rank(has) < role_rank(Role::Admin) {
        return Err(AdminError::RoleTooHigh {
            email,
            slug: ws.slug,
            has,
            wanted: Role::Admin,
        });
    }
    let name = new
        .name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("cli");
    let mut scope = store.workspace(ws.id);
    let (token, secret, location) =
        crate::api::locations::issue_agent_token(&mut scope, new.location.trim(), name, true, now)
            .await
            .map_err(|e| AdminError::Invalid {
                field: if e.field.as_deref() == Some("name") {
                    "name"
                } else {
                    "location"
                },
                problem: e.message,
            })?;
    Ok((token, secret, location, ws))
}

/// A user (by lowercase email) with one of their workspaces (`slug`, or their only one) and
/// their role there.
async fn membership(
    store: &Store,
    email: &str,
    slug: Option<&str>,
) -> Result<(User, Workspace, Role), AdminError> {
    let user =
        store
            .global()
            .user_by_email(email)
            .await?
            .ok_or_else(|| AdminError::NoSuchUser {
                email: email.to_owned(),
            })?;
    let memberships = store.global().workspaces_of(user.id).await?;
    let count = memberships.len();
    let (ws, has) = match slug {
        Some(slug) => memberships
            .into_iter()
            .find(|(w, _)| w.slug == slug)
            .ok_or_else(|| AdminError::NoSuchWorkspace {
                email: email.to_owned(),
                slug: slug.to_owned(),
            })?,
        None if count == 1 => memberships
            .into_iter()
            .next()
            .ok_or(AdminError::WhichWorkspace {
                email: email.to_owned(),
                count: 0,
            })?,
        None => {
            return Err(AdminError::WhichWorkspace {
                email: email.to_owned(),
                count,
            });
        }
    };
    Ok((user, ws, has))
}

/// A project to create for scripts (`bitwobbly admin create-project`).
#[derive(Debug, Clone)]
pub struct NewProject<'a> {
    /// A user who is admin or owner of the workspace.
    pub email: &'a str,
    /// The project's name (1 to 200 characters); its slug is made from it.
    pub name: &'a str,
    /// The workspace; default: the user's only workspace.
    pub workspace: Option<&'a str>,
    /// The SDK platform, e.g. `python`.
    pub platform: Option<&'a str>,
}

/// Creates a project with one DSN key (`Default`) in one of the user's workspaces, as the
/// API's `POST /projects` does; the user must be admin or owner there.
///
/// # Errors
///
/// [`AdminError::Invalid`] (`name`, `platform`), [`AdminError::NoSuchUser`],
/// [`AdminError::NoSuchWorkspace`], [`AdminError::WhichWorkspace`],
/// [`AdminError::RoleTooHigh`] when the user is below admin, [`AdminError::ProjectExists`]
/// when the slug is taken, or a database error.
pub async fn create_project(
    store: &Store,
    new: &NewProject<'_>,
    now: Timestamp,
) -> Result<(Project, DsnKey, Workspace), AdminError> {
    let invalid = |field, problem: &str| AdminError::Invalid {
        field,
        problem: problem.to_owned(),
    };
    let name = crate::api::workspaces::validate_name("name", new.name)
        .map_err(|e| invalid("name", &e.message))?;
    let slug = slugify(&name);
    let platform = new
        .platform
        .map(crate::api::projects::validate_platform)
        .transpose()
        .map_err(|e| invalid("platform", &e.message))?;
    let email = new.email.trim().to_lowercase();
    let (_, ws, has) = membership(store, &email, new.workspace).await?;
    if role_rank(has) < role_rank(Role::Admin) {
        return Err(AdminError::RoleTooHigh {
            email,
            slug: ws.slug,
            has,
            wanted: Role::Admin,
        });
    }
    let mut tx = store.begin().await?;
    let mut scope = tx.workspace(ws.id);
    let project = match scope
        .create_project(&slug, &name, platform.as_deref(), now)
        .await
    {
        Ok(p) => p,
        Err(e) if e.is_conflict() => return Err(AdminError::ProjectExists { slug }),
        Err(e) => return Err(e.into()),
    };
    let key = scope
        .create_dsn_key(project.id, "Default", None, now)
        .await?;
    tx.commit().await?;
    Ok((project, key, ws))
}

/// Checks a workspace slug: 1 to 63 of `a-z 0-9 -`, starting with a letter or digit.
///
/// # Errors
///
/// What is wrong, as a lowercase fragment.
pub fn check_slug(slug: &str) -> Result<(), &'static str> {
    let ok_chars = slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if slug.is_empty() || slug.len() > 63 || !ok_chars || slug.starts_with('-') {
        return Err("must be 1 to 63 of a-z, 0-9 and -, starting with a letter or digit");
    }
    Ok(())
}

/// A slug made from a display name: lowercase ASCII letters and digits, other runs turned
/// into `-`; `workspace` when nothing is left.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 63 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "workspace".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner<'a>(email: &'a str, password: &'a str) -> NewOwner<'a> {
        NewOwner {
            email,
            name: None,
            password,
            workspace_slug: None,
            workspace_name: None,
        }
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(slugify("Acme Corp."), "acme-corp");
        assert_eq!(slugify("  Ünïcode & co "), "n-code-co");
        assert_eq!(slugify("!!!"), "workspace");
        assert!(check_slug(&slugify(&"x".repeat(100))).is_ok());
        assert!(check_slug("acme-1").is_ok());
        assert!(check_slug("Acme").is_err());
        assert!(check_slug("-x").is_err());
        assert!(check_slug("").is_err());
    }

    #[test]
    fn owner_inputs_are_checked_and_defaulted() {
        let (name, slug, ws) = check_new_owner(&owner("Alice@Example.com", "long enough")).unwrap();
        assert_eq!(
            (name.as_str(), slug.as_str(), ws.as_str()),
            ("Alice", "alice", "alice")
        );
        let mut o = owner("a@b.c", "long enough");
        o.workspace_name = Some("Acme Ops");
        let (_, slug, ws) = check_new_owner(&o).unwrap();
        assert_eq!((slug.as_str(), ws.as_str()), ("acme-ops", "Acme Ops"));
        for (email, password, field) in [
            ("nobody", "long enough", "email"),
            ("@b.c", "long enough", "email"),
            ("a@b.c", "short", "password"),
        ] {
            let e = check_new_owner(&owner(email, password)).unwrap_err();
            assert_eq!(e.field(), Some(field), "{e}");
        }
        let mut o = owner("a@b.c", "long enough");
        o.workspace_slug = Some("Bad Slug");
        assert_eq!(check_new_owner(&o).unwrap_err().field(), Some("workspace"));
    }
}
