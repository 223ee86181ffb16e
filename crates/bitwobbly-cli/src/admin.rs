//! `bitwobbly admin create-user`, `bitwobbly admin create-token`,
//! `bitwobbly admin create-agent-token` and `bitwobbly admin create-project`.

use std::io::{Read, Write};

use anyhow::Context;
use bitwobbly_server::Config;
use bitwobbly_server::ops::admin::{
    self, AdminError, NewAgentToken, NewOwner, NewProject, NewToken,
};
use bitwobbly_server::server::open_store;
use bitwobbly_store::types::Role;
use time::format_description::well_known::Rfc3339;

use crate::args::{
    AdminArgs, AdminCommand, CreateAgentTokenArgs, CreateProjectArgs, CreateTokenArgs,
    CreateUserArgs, RoleArg,
};
use crate::{Exit, UsageError};

/// Runs an admin subcommand.
pub(crate) async fn run(
    args: &AdminArgs,
    config: &Config,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Exit> {
    match &args.command {
        AdminCommand::CreateUser(a) => create_user(a, config, out).await,
        AdminCommand::CreateToken(a) => create_token(a, config, out, err).await,
        AdminCommand::CreateAgentToken(a) => create_agent_token(a, config, out, err).await,
        AdminCommand::CreateProject(a) => create_project(a, config, out, err).await,
    }
}

async fn create_user(
    args: &CreateUserArgs,
    config: &Config,
    out: &mut impl Write,
) -> anyhow::Result<Exit> {
    let password = read_password(std::io::stdin().lock())?;
    let new = NewOwner {
        email: &args.email,
        name: args.name.as_deref(),
        password: &password,
        workspace_slug: args.workspace.as_deref(),
        workspace_name: None,
    };
    // Bad input is a usage error before the database is even opened.
    admin::check_new_owner(&new).map_err(usage_or_failure)?;
    let store = open_store(config).await.context("opening the database")?;
    let now = bitwobbly_server::Clock.now();
    let result = admin::create_owner(&store, &new, now).await;
    store.close().await;
    let (user, ws) = result.map_err(usage_or_failure)?;
    writeln!(
        out,
        "created user {} (id {}) as owner of workspace {} (id {})",
        user.email, user.id.0, ws.slug, ws.id.0
    )?;
    Ok(Exit::Success)
}

async fn create_token(
    args: &CreateTokenArgs,
    config: &Config,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Exit> {
    let store = open_store(config).await.context("opening the database")?;
    let new = NewToken {
        email: &args.email,
        workspace: args.workspace.as_deref(),
        role: args.role.map(role),
        name: args.name.as_deref(),
        expires_in: args.expires_in,
    };
    let now = bitwobbly_server::Clock.now();
    let result = admin::create_token(&store, &new, now).await;
    store.close().await;
    let (token, secret, ws) = result.map_err(usage_or_failure)?;
    // The secret alone on stdout, so scripts can capture it; the rest on stderr.
    writeln!(out, "{}", secret.expose())?;
    let expiry = token
        .expires_at
        .and_then(|t| t.to_datetime().format(&Rfc3339).ok())
        .map(|t| format!(", expires {t}"))
        .unwrap_or_default();
    writeln!(
        err,
        "created {} token {:?} (id {}) in workspace {}{expiry}; it is shown only once",
        token.role, token.name, token.id.0, ws.slug
    )?;
    Ok(Exit::Success)
}

async fn create_agent_token(
    args: &CreateAgentTokenArgs,
    config: &Config,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Exit> {
    let store = open_store(config).await.context("opening the database")?;
    let new = NewAgentToken {
        email: &args.email,
        workspace: args.workspace.as_deref(),
        location: &args.location,
        name: args.name.as_deref(),
    };
    let now = bitwobbly_server::Clock.now();
    let result = admin::create_agent_token(&store, &new, now).await;
    store.close().await;
    let (token, secret, location, ws) = result.map_err(|e| match e {
        AdminError::RoleTooHigh {
            email, slug, has, ..
        } => UsageError::invalid(
            "--email",
            email,
            format!("is only {has} in {slug}; agent tokens need admin or owner"),
        )
        .into(),
        e => usage_or_failure(e),
    })?;
    // The secret alone on stdout, so scripts can capture it; the rest on stderr.
    writeln!(out, "{}", secret.expose())?;
    writeln!(
        err,
        "created agent token {:?} (id {}) for location {} in workspace {}; it is shown only once",
        token.name, token.id.0, location.name, ws.slug
    )?;
    Ok(Exit::Success)
}

async fn create_project(
    args: &CreateProjectArgs,
    config: &Config,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Exit> {
    let store = open_store(config).await.context("opening the database")?;
    let new = NewProject {
        email: &args.email,
        name: &args.name,
        workspace: args.workspace.as_deref(),
        platform: args.platform.as_deref(),
    };
    let now = bitwobbly_server::Clock.now();
    let result = admin::create_project(&store, &new, now).await;
    store.close().await;
    let (project, key, ws) = result.map_err(|e| match e {
        AdminError::RoleTooHigh {
            email, slug, has, ..
        } => UsageError::invalid(
            "--email",
            email,
            format!("is only {has} in {slug}; creating projects needs admin or owner"),
        )
        .into(),
        e => usage_or_failure(e),
    })?;
    // The DSN alone on stdout, so scripts can capture it; the rest on stderr.
    writeln!(
        out,
        "{}",
        bitwobbly_server::api::projects::key_dsn(config, &key)
    )?;
    writeln!(
        err,
        "created project {} (id {}, slug {}) in workspace {} with DSN key {}",
        project.name, project.id.0, project.slug, ws.slug, key.id.0
    )?;
    Ok(Exit::Success)
}

/// The password: standard input's first line, without its line ending.
fn read_password(mut input: impl Read) -> anyhow::Result<String> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .context("reading the password from standard input")?;
    let line = text.lines().next().unwrap_or_default().to_owned();
    if line.is_empty() {
        return Err(UsageError::flag(
            "--password-stdin",
            "needs the password on standard input (got nothing)",
        )
        .into());
    }
    Ok(line)
}

fn role(r: RoleArg) -> Role {
    match r {
        RoleArg::Owner => Role::Owner,
        RoleArg::Admin => Role::Admin,
        RoleArg::Member => Role::Member,
        RoleArg::Viewer => Role::Viewer,
    }
}

/// An admin input problem as a usage error naming its flag; database failures are
/// runtime failures.
fn usage_or_failure(e: AdminError) -> anyhow::Error {
    let usage = match e {
        AdminError::Store(e) => return anyhow::Error::from(e).context("the database failed"),
        AdminError::Invalid { field, problem } => {
            let flag = match field {
                "email" => "--email",
                "password" => "--password-stdin",
                "name" => "--name",
                "workspace" => "--workspace",
                "platform" => "--platform",
                "location" => "--location",
                _ => "argument",
            };
            UsageError::flag(flag, format!("is invalid: {problem}"))
        }
        AdminError::NoSuchUser { email } => {
            UsageError::invalid("--email", email, "no user has this email")
        }
        AdminError::UserExists { email } => {
            UsageError::invalid("--email", email, "a user with this email exists already")
        }
        AdminError::NoSuchWorkspace { email, slug } => UsageError::invalid(
            "--workspace",
            slug,
            format!("{email} is not a member of a workspace with this slug"),
        ),
        AdminError::ProjectExists { slug } => UsageError::invalid(
            "--name",
            slug,
            "a project with this slug exists already in the workspace",
        ),
        AdminError::WorkspaceExists { slug } => UsageError::invalid(
            "--workspace",
            slug,
            "a workspace with this slug exists already",
        ),
        AdminError::WhichWorkspace { email, count } => UsageError::flag(
            "--workspace",
            format!("is needed: {email} belongs to {count} workspaces"),
        ),
        AdminError::RoleTooHigh {
            email,
            slug,
            has,
            wanted,
        } => UsageError::invalid(
            "--role",
            wanted.as_str(),
            format!("{email} is only {has} in {slug}"),
        ),
        e => return anyhow::Error::from(e),
    };
    usage.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_first_line() {
        assert_eq!(read_password(&b"s3cret pw\n"[..]).unwrap(), "s3cret pw");
        assert_eq!(
            read_password(&b"s3cret pw\r\nmore"[..]).unwrap(),
            "s3cret pw"
        );
        let e = read_password(&b""[..]).unwrap_err();
        assert!(e.to_string().contains("--password-stdin"), "{e}");
    }
}
