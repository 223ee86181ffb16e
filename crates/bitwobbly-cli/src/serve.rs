//! `bitwobbly serve`: run the server until SIGINT or SIGTERM.

use std::io::Write;

use anyhow::Context;
use bitwobbly_server::Config;
use bitwobbly_server::server::Server;

use crate::Exit;

/// Binds the server, prints the first-run set-up link (if any) and serves.
///
/// # Errors
///
/// The step that failed: opening the database, binding the address, or serving.
pub(crate) async fn run(config: Config, out: &mut impl Write) -> anyhow::Result<Exit> {
    let server = Server::bind(config)
        .await
        .context("cannot start the server")?;
    if let Some(url) = server.setup_url() {
        writeln!(out, "Open {url} to create the first admin")?;
        out.flush()?;
    }
    server.run().await.context("the server failed")?;
    Ok(Exit::Success)
}
