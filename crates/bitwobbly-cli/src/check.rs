//! `bitwobbly check`: run a check once or `--count` times and show the result.

use std::io::{self, Write};

use bitwobbly_check::Checker;
use bitwobbly_core::{CheckReport, Status};
use tokio::time::Instant;

use crate::Exit;
use crate::output::{self, Style};
use crate::plan::Plan;
use crate::stats::Summary;

/// Runs `plan` with `checker`, writing results to `out` and warnings to `err`.
///
/// One run prints the full report (or one JSON object). With a count above one, each
/// run prints one line (or one JSON object per line), then a summary; Ctrl-C stops
/// early and still prints the summary of the runs made.
///
/// Exit: [`Exit::Failure`] when any run was down, or degraded with
/// `--fail-on-degraded`, or when no run finished; else [`Exit::Success`], with a
/// warning on `err` when a run was degraded.
///
/// # Errors
///
/// Only failures to write the output.
pub async fn run(
    plan: &Plan,
    checker: &Checker,
    style: Style,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<Exit> {
    let reports = if plan.count == 1 {
        let report = run_once(plan, checker).await;
        if plan.json {
            output::write_json(out, &report, true)?;
        } else {
            output::write_report(out, &report, style)?;
        }
        vec![report]
    } else {
        run_repeatedly(plan, checker, style, out).await?
    };
    out.flush()?;

    let worst = reports.iter().map(|r| r.status).max();
    let exit = match worst {
        None | Some(Status::Down) => Exit::Failure,
        Some(Status::Degraded) if plan.fail_on_degraded => Exit::Failure,
        Some(Status::Degraded) => {
            writeln!(
                err,
                "warning: the check is degraded; exiting 0 (use --fail-on-degraded to exit 1)"
            )?;
            Exit::Success
        }
        Some(_) => Exit::Success,
    };
    Ok(exit)
}

async fn run_once(plan: &Plan, checker: &Checker) -> CheckReport {
    let report = checker.run(&plan.check).await;
    tracing::debug!(
        target = %report.target,
        status = %report.status,
        total_us = u64::try_from(report.timings.total.as_micros()).unwrap_or(u64::MAX),
        "check finished"
    );
    report
}

async fn run_repeatedly(
    plan: &Plan,
    checker: &Checker,
    style: Style,
    out: &mut impl Write,
) -> io::Result<Vec<CheckReport>> {
    let interrupted = async {
        // Without a Ctrl-C handler, wait forever rather than stop at once.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(interrupted);
    let mut reports = Vec::with_capacity(usize::try_from(plan.count).unwrap_or(0).min(1024));
    for i in 1..=plan.count {
        let started = Instant::now();
        let report = tokio::select! {
            r = run_once(plan, checker) => r,
            () = &mut interrupted => break,
        };
        if plan.json {
            output::write_json(out, &report, false)?;
        } else {
            output::write_run_line(out, i, plan.count, &report, style)?;
        }
        out.flush()?;
        reports.push(report);
        if i < plan.count {
            tokio::select! {
                () = tokio::time::sleep_until(started + plan.interval) => {}
                () = &mut interrupted => break,
            }
        }
    }
    let target = plan.check.spec().target();
    let summary = Summary::of(&target, &reports);
    if plan.json {
        serde_json::to_writer(&mut *out, &summary.to_json())?;
        writeln!(out)?;
    } else {
        let phases = reports
            .first()
            .map(output::shown_phases)
            .unwrap_or_default();
        output::write_summary(out, &summary, &phases, style)?;
    }
    Ok(reports)
}
