//! Heartbeat pings: the push side of heartbeat monitors, in the Healthchecks conventions.
//!
//! | route | meaning |
//! | --- | --- |
//! | `/ping/{token}` | the job succeeded |
//! | `/ping/{token}/start` | the job started (its run time is measured from here) |
//! | `/ping/{token}/fail` | the job failed |
//! | `/ping/{token}/{exit_status}` | `0` succeeded, `1`-`255` failed (`exit status N`) |
//!
//! `GET`, `POST` and `HEAD` all work. A body (up to 10 KiB, the rest is cut off) is kept as
//! the monitor's last message. The answer is `200` with the text `OK`, `404` with `not
//! found` for an unknown token, or `400` for an exit status out of range.
//!
//! Each ping is one transaction: the monitor's state is locked, the ping recorded in its
//! heartbeat state, judged by the state machine (success up, failure down, start no
//! judgement), a result row written, the state written with the next deadline as the
//! monitor's next wake-up, and the transition applied (incidents, outbox). Deadlines are
//! stored, so a restart neither forgets a missed ping nor raises a false one.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bitwobbly_core::heartbeat::{HeartbeatState, Ping};
use bitwobbly_core::monitor::ping_outcome;
use bitwobbly_store::api::{MonitorStore, ResultStore, ScheduleStore};
use bitwobbly_store::types::Timestamp;
use http_body_util::BodyExt;

use crate::AppState;
use crate::error::error_chain;
use crate::scheduler::record::{Extra, PARKED, heartbeat_row, judge};

/// The most of a ping's body kept as the last message.
pub const MAX_BODY: usize = 10 * 1024;

/// Longest token looked up (tokens are much shorter; anything longer is not one).
const MAX_TOKEN: usize = 128;

/// The ping routes, to mount at the root (`/ping/...`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ping/{token}", get(success).post(success))
        .route("/ping/{token}/{action}", get(action).post(action))
}

async fn success(State(state): State<AppState>, Path(token): Path<String>, body: Body) -> Response {
    handle(&state, &token, Ping::Success, None, body).await
}

async fn action(
    State(state): State<AppState>,
    Path((token, action)): Path<(String, String)>,
    body: Body,
) -> Response {
    let (ping, exit) = match action.as_str() {
        "start" => (Ping::Start, None),
        "fail" => (Ping::Fail, None),
        n => match parse_exit_status(n) {
            Some(0) => (Ping::Success, Some(0)),
            Some(code) => (Ping::Fail, Some(code)),
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "exit status must be a number from 0 to 255",
                );
            }
        },
    };
    handle(&state, &token, ping, exit, body).await
}

/// `0`..=`255` written as plain digits.
fn parse_exit_status(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Reads at most `cap` bytes of `body`; the rest is not read.
async fn read_capped(mut body: Body, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < cap {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let take = (cap - out.len()).min(data.len());
                    out.extend_from_slice(&data[..take]);
                }
            }
            _ => break,
        }
    }
    out
}

async fn handle(
    state: &AppState,
    token: &str,
    ping: Ping,
    exit: Option<u8>,
    body: Body,
) -> Response {
    if token.len() > MAX_TOKEN {
        return text(StatusCode::NOT_FOUND, "not found");
    }
    let body = read_capped(body, MAX_BODY).await;
    match record_ping(state, token, ping, exit, &body).await {
        Ok(true) => text(StatusCode::OK, "OK"),
        Ok(false) => text(StatusCode::NOT_FOUND, "not found"),
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "recording a ping failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// Records a ping in one transaction; `false` for an unknown token.
async fn record_ping(
    state: &AppState,
    token: &str,
    ping: Ping,
    exit: Option<u8>,
    body: &[u8],
) -> bitwobbly_store::Result<bool> {
    let Some((monitor, _)) = state.store.global().monitor_by_ping_token(token).await? else {
        return Ok(false);
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    if !apply_ping(&mut tx, state, &monitor, ping, exit, body, now).await? {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// Feeds a ping to a heartbeat monitor inside `tx`, exactly as `/ping` does: the monitor's
/// state is locked, the ping recorded in its heartbeat state, judged by the state machine
/// (success up, failure down, start no judgement; incidents and outbox rows in `tx`), a result
/// row written and the next deadline stored as the monitor's wake-up. Sentry cron check-ins
/// come through here too. `false` when the monitor is not a heartbeat monitor or has no
/// state (nothing was written).
///
/// # Errors
///
/// A store error; the caller rolls `tx` back.
pub async fn apply_ping(
    tx: &mut bitwobbly_store::Tx,
    state: &AppState,
    monitor: &bitwobbly_store::model::Monitor,
    ping: Ping,
    exit: Option<u8>,
    body: &[u8],
    now: Timestamp,
) -> bitwobbly_store::Result<bool> {
    let Some(policy) = monitor.spec.heartbeat() else {
        return Ok(false);
    };
    let ws = monitor.workspace_id;
    let Some(current) = tx
        .workspace(ws)
        .monitor_state_for_update(monitor.id)
        .await?
    else {
        return Ok(false);
    };
    let mut hb = current
        .heartbeat
        .clone()
        .unwrap_or_else(|| HeartbeatState::new(monitor.created_at.to_datetime()));
    hb.record(ping, now.to_datetime());
    let deadline = hb
        .deadline(policy)
        .map_or_else(|| now.plus(PARKED), Timestamp::from);
    let outcome = ping_outcome(ping, exit);
    let extra = Extra {
        at: Some(now),
        heartbeat: Some(hb),
        last_message: (!body.is_empty()).then(|| String::from_utf8_lossy(body).into_owned()),
        next_run_at: Some(deadline),
        location: None,
    };
    judge(tx, state, monitor, &current, outcome.as_ref(), extra, now).await?;
    if let Some(o) = &outcome {
        tx.workspace(ws)
            .insert_results(&[heartbeat_row(monitor.id, now, o)])
            .await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_are_plain_numbers_up_to_255() {
        assert_eq!(parse_exit_status("0"), Some(0));
        assert_eq!(parse_exit_status("255"), Some(255));
        assert_eq!(parse_exit_status("256"), None);
        assert_eq!(parse_exit_status("+1"), None);
        assert_eq!(parse_exit_status("-1"), None);
        assert_eq!(parse_exit_status("abc"), None);
        assert_eq!(parse_exit_status(""), None);
    }
}
