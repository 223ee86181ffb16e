//! The tcp probe: connect, optionally send a payload, optionally read a banner.
//!
//! Phases: `dns` (for names), `connect`, then `ttfb` from the end of the connect until
//! the banner's first bytes (sending the payload included), then `transfer` while the
//! rest of the banner arrives. A plain connect check ends after `connect`.
//!
//! A banner has no length on the wire, so reading stops at the first of: the spec's
//! `banner_cap` bytes, the server closing the connection, or [`BANNER_QUIET_GAP`] without
//! new bytes once the first bytes arrived. That quiet gap is part of the `transfer`
//! phase (and of the total): it is time the check really spent waiting.

use std::io;
use std::time::Duration;

use bitwobbly_core::{CheckError, ErrorKind, Phase, TcpFacts, TcpSpec};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::checker::{Checker, Run};
use crate::connect;

/// Once a banner's first bytes arrived, reading stops after this long without more.
pub(crate) const BANNER_QUIET_GAP: Duration = Duration::from_millis(100);

/// Runs a tcp check, recording what it learns in `run`.
///
/// `read_banner` asks for a banner even when the spec does not (a banner assertion
/// needs one).
pub(crate) async fn run(
    checker: &Checker,
    spec: &TcpSpec,
    read_banner: bool,
    run: &mut Run,
) -> Result<(), CheckError> {
    let mut stream =
        connect::open(checker, &spec.host, spec.port, spec.ip, &spec.resolver, run).await?;
    let want_banner = spec.read_banner || read_banner;
    if spec.send.is_none() && !want_banner {
        return Ok(());
    }
    run.clock.enter(Phase::Ttfb);
    if let Some(payload) = &spec.send {
        stream
            .write_all(payload.as_bytes())
            .await
            .map_err(|e| io_error(Phase::Ttfb, "sending the payload", &e))?;
        stream
            .flush()
            .await
            .map_err(|e| io_error(Phase::Ttfb, "sending the payload", &e))?;
    }
    if want_banner {
        read_banner_into(&mut stream, spec.banner_cap, run).await?;
    }
    Ok(())
}

/// Reads a banner of at most `cap` bytes, keeping `run.tcp` up to date as bytes arrive
/// so that a timeout still reports them.
async fn read_banner_into(
    stream: &mut TcpStream,
    cap: usize,
    run: &mut Run,
) -> Result<(), CheckError> {
    let mut banner = Vec::with_capacity(cap.min(64 * 1024));
    let mut chunk = vec![0u8; cap.clamp(1, 16 * 1024)];
    let record = |banner: &[u8], run: &mut Run| {
        run.tcp = Some(TcpFacts {
            banner: Bytes::copy_from_slice(banner),
        });
    };
    if cap == 0 {
        record(&banner, run);
        return Ok(());
    }
    // The first bytes: as long as the check's own timeout allows.
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(|e| io_error(Phase::Ttfb, "reading the banner", &e))?;
    if n == 0 {
        record(&banner, run);
        return Ok(());
    }
    run.clock.enter(Phase::Transfer);
    banner.extend_from_slice(&chunk[..n]);
    record(&banner, run);
    // The rest: until the cap, the end of the stream, or a quiet gap.
    while banner.len() < cap {
        let want = (cap - banner.len()).min(chunk.len());
        let read = tokio::time::timeout(BANNER_QUIET_GAP, stream.read(&mut chunk[..want])).await;
        let n = match read {
            Err(_quiet) => break,
            Ok(r) => r.map_err(|e| io_error(Phase::Transfer, "reading the banner", &e))?,
        };
        if n == 0 {
            break;
        }
        banner.extend_from_slice(&chunk[..n]);
        record(&banner, run);
    }
    Ok(())
}

/// Classifies a failure on an established connection.
fn io_error(phase: Phase, doing: &str, e: &io::Error) -> CheckError {
    let kind = match e.kind() {
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::ConnectionReset,
    };
    CheckError::new(kind, phase, format!("{doing}: {e}"))
}
