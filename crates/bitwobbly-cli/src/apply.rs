//! `bitwobbly apply FILE` and `bitwobbly export`: configuration as code.

use std::io::Write;

use anyhow::Context;
use bitwobbly_server::Config;
use bitwobbly_server::apply::{self, Action, ApplyError, ApplyOptions, Document};
use bitwobbly_server::server::open_store;
use bitwobbly_store::Store;
use bitwobbly_store::api::AccountStore;
use bitwobbly_store::model::Workspace;

use crate::args::{ApplyArgs, ExportArgs};
use crate::{Exit, UsageError};

/// Reads and validates the file, applies it, prints what changed.
pub(crate) async fn apply(
    args: &ApplyArgs,
    config: &Config,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Exit> {
    let file = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| UsageError::invalid("<FILE>", &file, format!("cannot read: {e}")))?;
    let doc = match Document::from_toml(&text) {
        Ok(doc) => doc,
        Err(e) => {
            writeln!(err, "error: {file}: {}", e.to_string().trim_end())?;
            return Ok(Exit::Failure);
        }
    };
    let store = open_store(config).await.context("opening the database")?;
    let result = run_apply(&store, args, config, &doc).await;
    store.close().await;
    let report = match result {
        Ok(report) => report,
        Err(Failure::Usage(e)) => return Err(e.into()),
        Err(Failure::Apply(ApplyError::Invalid(problems))) => {
            for p in &problems {
                writeln!(err, "error: {file}: {p}")?;
            }
            writeln!(
                err,
                "{file}: {} problem(s); nothing was changed",
                problems.len()
            )?;
            return Ok(Exit::Failure);
        }
        Err(Failure::Apply(ApplyError::Write {
            section,
            key,
            source,
        })) => {
            writeln!(
                err,
                "error: {file}: {section} {key:?}: {}; nothing was changed",
                bitwobbly_server::error::error_chain(&source)
            )?;
            return Ok(Exit::Failure);
        }
        Err(Failure::Apply(e)) => return Err(anyhow::Error::from(e).context("applying")),
    };
    let public = config.public_url();
    for c in &report.changes {
        let mut line = format!("{} {}: {}", c.section, c.key, c.action.as_str());
        if !c.fields.is_empty() {
            line.push_str(&format!(" ({})", c.fields.join(", ")));
        }
        writeln!(out, "{line}")?;
        if let Some(token) = &c.ping_token {
            writeln!(out, "  ping URL: {public}/ping/{token}")?;
        }
    }
    let summary = format!(
        "{} created, {} updated, {} deleted, {} unchanged",
        report.count(Action::Create),
        report.count(Action::Update),
        report.count(Action::Delete),
        report.count(Action::Unchanged),
    );
    if report.dry_run {
        writeln!(out, "dry run: {summary}; nothing was changed")?;
    } else {
        writeln!(out, "applied {file} to {}: {summary}", args.workspace)?;
    }
    Ok(Exit::Success)
}

enum Failure {
    Usage(UsageError),
    Apply(ApplyError),
}

async fn run_apply(
    store: &Store,
    args: &ApplyArgs,
    config: &Config,
    doc: &Document,
) -> Result<apply::Report, Failure> {
    let ws = match store.global().workspace_by_slug(&args.workspace).await {
        Ok(Some(ws)) => ws,
        Ok(None) => return Err(Failure::Usage(no_workspace(&args.workspace))),
        Err(e) => return Err(Failure::Apply(ApplyError::Store(e))),
    };
    let options = ApplyOptions::default()
        .prune(args.prune)
        .dry_run(args.dry_run)
        .config(config.clone());
    apply::apply(store, ws.id, doc, &options)
        .await
        .map_err(Failure::Apply)
}

fn no_workspace(slug: &str) -> UsageError {
    UsageError::invalid("--workspace", slug, "no workspace has this slug")
}

/// Writes the workspace's keyed objects as TOML.
pub(crate) async fn export(
    args: &ExportArgs,
    config: &Config,
    out: &mut impl Write,
) -> anyhow::Result<Exit> {
    let store = open_store(config).await.context("opening the database")?;
    let result = async {
        let ws = workspace(&store, &args.workspace).await?;
        apply::export(&store, ws.id)
            .await
            .context("reading the workspace")
    }
    .await;
    store.close().await;
    let doc = result?;
    let text = doc.to_toml().context("writing TOML")?;
    out.write_all(text.as_bytes())?;
    Ok(Exit::Success)
}

async fn workspace(store: &Store, slug: &str) -> anyhow::Result<Workspace> {
    match store.global().workspace_by_slug(slug).await? {
        Some(ws) => Ok(ws),
        None => Err(no_workspace(slug).into()),
    }
}
