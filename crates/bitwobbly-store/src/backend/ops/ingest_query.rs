//! The ingest query API's side of the store: project and DSN key management, issue search
//! and bulk status changes, attachment lookup, transaction statistics, release health and
//! cron monitor summaries. The write paths of ingest (events, issues, check-ins, ...) live in
//! `ingest.rs`; what is reused from there is called, not repeated.

use std::collections::BTreeMap;

use sqlx::Row as _;

use super::{Db, DbConn, begin_write, execute_by_id, expect_one};
use crate::LatencySketch;
use crate::error::{Result, StoreError};
use crate::model::{Attachment, DsnKey, Issue, Project};
use crate::query::{
    CronSummary, IssueCursor, IssueFilter, IssuePage, IssueSort, ReleaseHealth, TAG_SAMPLE_EVENTS,
    TagCounts, TransactionBucket, TransactionStats, TransactionSummary, is_failure_status,
};
use crate::types::*;

// === projects ===

pub(crate) async fn update_project(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ProjectId,
    name: &str,
    platform: Option<&str>,
) -> Result<Project> {
    sqlx::query_as::<Db, Project>(
        "UPDATE projects SET name = $3, platform = $4 WHERE workspace_id = $1 AND id = $2 \
         RETURNING *",
    )
    .bind(ws)
    .bind(id)
    .bind(name)
    .bind(platform)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("project"))
}

/// Deletes a project with everything it holds (the foreign keys cascade) and returns the blob
/// keys its rows pointed to, for the caller to delete from blob storage.
pub(crate) async fn delete_project(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ProjectId,
) -> Result<Vec<String>> {
    let mut tx = begin_write(c).await?;
    let keys: Vec<Option<String>> = sqlx::query_scalar::<Db, Option<String>>(
        "SELECT blob_key FROM envelopes WHERE workspace_id = $1 AND project_id = $2 \
         UNION SELECT blob_key FROM events WHERE workspace_id = $1 AND project_id = $2 \
         UNION SELECT blob_key FROM attachments WHERE workspace_id = $1 AND project_id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    // The heartbeat monitors behind its cron monitors go with it.
    sqlx::query::<Db>(
        "DELETE FROM monitors WHERE workspace_id = $1 AND id IN \
         (SELECT monitor_id FROM cron_monitors WHERE workspace_id = $1 AND project_id = $2)",
    )
    .bind(ws)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    execute_by_id(&mut tx, delete_by_id!("projects"), ws, id, "project").await?;
    tx.commit().await?;
    let mut keys: Vec<String> = keys
        .into_iter()
        .flatten()
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

// === DSN keys ===

pub(crate) async fn dsn_key(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    id: DsnKeyId,
) -> Result<Option<DsnKey>> {
    Ok(sqlx::query_as::<Db, DsnKey>(
        "SELECT * FROM dsn_keys WHERE workspace_id = $1 AND project_id = $2 AND id = $3",
    )
    .bind(ws)
    .bind(project)
    .bind(id)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn set_dsn_key(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    id: DsnKeyId,
    label: &str,
    status: KeyStatus,
    rate_limit_per_minute: Option<i64>,
) -> Result<DsnKey> {
    sqlx::query_as::<Db, DsnKey>(
        "UPDATE dsn_keys SET label = $4, status = $5, rate_limit_per_minute = $6 \
         WHERE workspace_id = $1 AND project_id = $2 AND id = $3 RETURNING *",
    )
    .bind(ws)
    .bind(project)
    .bind(id)
    .bind(label)
    .bind(status)
    .bind(rate_limit_per_minute)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("dsn key"))
}

/// Replaces a key: a new active key with the same label and rate limit, and the old one
/// disabled, in one transaction. Returns the new key.
pub(crate) async fn rotate_dsn_key(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    id: DsnKeyId,
    public_key: &str,
    now: Timestamp,
) -> Result<DsnKey> {
    let mut tx = begin_write(c).await?;
    let old = dsn_key(&mut tx, ws, project, id)
        .await?
        .ok_or_else(|| StoreError::not_found("dsn key"))?;
    let new = super::ingest::create_dsn_key(
        &mut tx,
        ws,
        project,
        public_key,
        &old.label,
        old.rate_limit_per_minute,
        now,
    )
    .await?;
    set_dsn_key(
        &mut tx,
        ws,
        project,
        id,
        &old.label,
        KeyStatus::Disabled,
        old.rate_limit_per_minute,
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

pub(crate) async fn delete_dsn_key(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    id: DsnKeyId,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "DELETE FROM dsn_keys WHERE workspace_id = $1 AND project_id = $2 AND id = $3",
    )
    .bind(ws)
    .bind(project)
    .bind(id)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("dsn key"))
}

// === issues ===

/// The issue search for one sort column: `$1` workspace, `$2` project, `$3` status, `$4`
/// level, `$5` environment, `$6` release, `$7` LIKE pattern, `$8`/`$9` the cursor's value and
/// id, `$10` the limit.
macro_rules! issue_search {
    ($col:literal) => {
        concat!(
            "SELECT * FROM issues WHERE workspace_id = $1 AND project_id = $2 \
             AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR level = $4) \
             AND ($5 IS NULL OR EXISTS (SELECT 1 FROM events e WHERE e.issue_id = issues.id \
               AND e.environment = $5)) \
             AND ($6 IS NULL OR EXISTS (SELECT 1 FROM events e WHERE e.issue_id = issues.id \
               AND e.release = $6)) \
             AND ($7 IS NULL OR (LOWER(title) LIKE $7 ESCAPE '\\' \
               OR LOWER(COALESCE(culprit, '')) LIKE $7 ESCAPE '\\')) \
             AND ($8 IS NULL OR ",
            $col,
            " < $8 OR (",
            $col,
            " = $8 AND id < $9)) ORDER BY ",
            $col,
            " DESC, id DESC LIMIT $10"
        )
    };
}

/// `%text%` for LIKE, lowercased, with `%`, `_` and `\` escaped.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

pub(crate) async fn search_issues(
    c: &mut DbConn,
    ws: WorkspaceId,
    f: &IssueFilter,
) -> Result<IssuePage> {
    let sql = match f.sort {
        IssueSort::LastSeen => issue_search!("last_seen"),
        IssueSort::FirstSeen => issue_search!("first_seen"),
        IssueSort::Count => issue_search!("event_count"),
        IssueSort::Users => issue_search!("user_count"),
    };
    let limit = f.limit.max(1);
    let mut items = sqlx::query_as::<Db, Issue>(sql)
        .bind(ws)
        .bind(f.project_id)
        .bind(f.status)
        .bind(&f.level)
        .bind(&f.environment)
        .bind(&f.release)
        .bind(f.text.as_deref().map(like_pattern))
        .bind(f.after.map(|a| a.value))
        .bind(f.after.map(|a| a.id))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *c)
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = more
        .then(|| items.last().map(|i| IssueCursor::after(i, f.sort)))
        .flatten();
    Ok(IssuePage { items, next })
}

/// Sets the status of several issues of a project in one transaction; every one must be
/// there, or nothing changes. Returns them as they are afterwards, in the order asked.
pub(crate) async fn set_issues_status(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    ids: &[IssueId],
    status: IssueStatus,
    now: Timestamp,
) -> Result<Vec<Issue>> {
    let mut tx = begin_write(c).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let found = project_issue(&mut tx, ws, project, *id).await?;
        if found.is_none() {
            return Err(StoreError::not_found("issue"));
        }
        super::ingest::set_issue_status(&mut tx, ws, *id, status, now).await?;
        out.push(
            project_issue(&mut tx, ws, project, *id)
                .await?
                .ok_or_else(|| StoreError::not_found("issue"))?,
        );
    }
    tx.commit().await?;
    Ok(out)
}

/// An issue of a project.
pub(crate) async fn project_issue(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    id: IssueId,
) -> Result<Option<Issue>> {
    Ok(sqlx::query_as::<Db, Issue>(
        "SELECT * FROM issues WHERE workspace_id = $1 AND project_id = $2 AND id = $3",
    )
    .bind(ws)
    .bind(project)
    .bind(id)
    .fetch_optional(&mut *c)
    .await?)
}

/// Tag value counts over an issue's latest [`TAG_SAMPLE_EVENTS`] events (the `events_issue`
/// index gives them in order, so a huge issue reads no more than that).
pub(crate) async fn issue_tag_counts(
    c: &mut DbConn,
    ws: WorkspaceId,
    issue: IssueId,
) -> Result<TagCounts> {
    let rows = sqlx::query::<Db>(
        "SELECT tags, environment, release FROM events WHERE workspace_id = $1 AND issue_id = $2 \
         ORDER BY timestamp DESC LIMIT $3",
    )
    .bind(ws)
    .bind(issue)
    .bind(i64::from(TAG_SAMPLE_EVENTS))
    .fetch_all(&mut *c)
    .await?;
    let mut events: Vec<Vec<(String, String)>> = Vec::with_capacity(rows.len());
    for r in &rows {
        let tags: String = r.try_get("tags")?;
        let mut all: Vec<(String, String)> = Vec::new();
        for (k, col) in [("environment", "environment"), ("release", "release")] {
            if let Some(v) = r.try_get::<Option<String>, _>(col)? {
                all.push((k.to_owned(), v));
            }
        }
        // Tags that do not read as pairs (never written so) count as none.
        all.extend(serde_json::from_str::<Vec<(String, String)>>(&tags).unwrap_or_default());
        events.push(all);
    }
    Ok(TagCounts::count(
        events
            .iter()
            .map(|e| e.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    ))
}

// === attachments ===

/// An attachment of a project by its id.
pub(crate) async fn attachment(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    id: AttachmentId,
) -> Result<Option<Attachment>> {
    let event_id: Option<String> = sqlx::query_scalar::<Db, String>(
        "SELECT event_id FROM attachments WHERE workspace_id = $1 AND project_id = $2 AND id = $3",
    )
    .bind(ws)
    .bind(project)
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    let Some(event_id) = event_id else {
        return Ok(None);
    };
    let all = super::ingest::attachments(c, ws, project, &event_id).await?;
    Ok(all.into_iter().find(|a| a.id == id))
}

// === transactions ===

/// Rows read per round trip while adding up transactions.
const TRANSACTION_CHUNK: i64 = 20_000;

/// Count, failures, duration sketch and sum, being added up.
#[derive(Debug, Default)]
struct StatsAcc {
    count: u64,
    failures: u64,
    sketch: LatencySketch,
    sum_us: i128,
}

impl StatsAcc {
    fn add(&mut self, duration_us: i64, status: Option<&str>) {
        self.count += 1;
        if is_failure_status(status) {
            self.failures += 1;
        }
        self.sketch.add(duration_us);
        self.sum_us += i128::from(duration_us);
    }

    fn finish(&self) -> TransactionStats {
        #[allow(clippy::cast_precision_loss)]
        let mean = (self.count > 0).then(|| self.sum_us as f64 / self.count as f64);
        TransactionStats {
            count: self.count,
            failures: self.failures,
            p50_us: self.sketch.quantile(0.50),
            p95_us: self.sketch.quantile(0.95),
            p99_us: self.sketch.quantile(0.99),
            mean_us: mean,
        }
    }
}

/// Reads a project's transactions in `[from, to)` (of one name if given), a chunk at a time
/// in (timestamp, id) order, handing each `(name, duration_us, status, timestamp)` to `each`.
async fn each_transaction(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    name: Option<&str>,
    from: Timestamp,
    to: Timestamp,
    mut each: impl FnMut(String, i64, Option<String>, Timestamp),
) -> Result<()> {
    let mut after: (Timestamp, i64) = (from, i64::MIN);
    loop {
        let rows = sqlx::query::<Db>(
            "SELECT id, name, duration_us, status, timestamp FROM transactions \
             WHERE workspace_id = $1 AND project_id = $2 AND ($3 IS NULL OR name = $3) \
             AND timestamp < $5 AND (timestamp > $4 OR (timestamp = $4 AND id > $6)) \
             ORDER BY timestamp, id LIMIT $7",
        )
        .bind(ws)
        .bind(project)
        .bind(name)
        .bind(after.0)
        .bind(to)
        .bind(after.1)
        .bind(TRANSACTION_CHUNK)
        .fetch_all(&mut *c)
        .await?;
        let n = rows.len();
        for r in rows {
            let at: Timestamp = r.try_get("timestamp")?;
            after = (at, r.try_get("id")?);
            each(
                r.try_get("name")?,
                r.try_get("duration_us")?,
                r.try_get("status")?,
                at,
            );
        }
        if (n as i64) < TRANSACTION_CHUNK {
            return Ok(());
        }
    }
}

/// Per transaction name: count, failures and duration quantiles over `[from, to)`, busiest
/// first (then by name).
pub(crate) async fn transaction_summaries(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<TransactionSummary>> {
    let mut by_name: BTreeMap<String, StatsAcc> = BTreeMap::new();
    each_transaction(c, ws, project, None, from, to, |name, us, status, _| {
        by_name.entry(name).or_default().add(us, status.as_deref());
    })
    .await?;
    let mut out: Vec<TransactionSummary> = by_name
        .into_iter()
        .map(|(name, acc)| TransactionSummary {
            name,
            stats: acc.finish(),
        })
        .collect();
    out.sort_by(|a, b| b.stats.count.cmp(&a.stats.count).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// One transaction name's statistics per bucket of `bucket_ms` over `[from, to)`; buckets
/// start at `from` and empty ones are included.
pub(crate) async fn transaction_series(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    name: &str,
    from: Timestamp,
    to: Timestamp,
    bucket_ms: i64,
) -> Result<Vec<TransactionBucket>> {
    let bucket_ms = bucket_ms.max(1);
    let span = (to.as_millis() - from.as_millis()).max(0);
    let n = usize::try_from((span + bucket_ms - 1) / bucket_ms).unwrap_or(0);
    let mut accs: Vec<StatsAcc> = std::iter::repeat_with(StatsAcc::default).take(n).collect();
    each_transaction(c, ws, project, Some(name), from, to, |_, us, status, at| {
        let i = usize::try_from((at.as_millis() - from.as_millis()) / bucket_ms).unwrap_or(0);
        if let Some(acc) = accs.get_mut(i) {
            acc.add(us, status.as_deref());
        }
    })
    .await?;
    Ok(accs
        .iter()
        .enumerate()
        .map(|(i, acc)| TransactionBucket {
            start: Timestamp::from_millis(from.as_millis() + bucket_ms * i as i64),
            stats: acc.finish(),
        })
        .collect())
}

// === releases and crons ===

pub(crate) async fn release_health(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<ReleaseHealth>> {
    let rows = sqlx::query::<Db>(
        "SELECT release, environment, CAST(SUM(started) AS BIGINT) AS started, \
         CAST(SUM(exited) AS BIGINT) AS exited, CAST(SUM(errored) AS BIGINT) AS errored, \
         CAST(SUM(crashed) AS BIGINT) AS crashed, CAST(SUM(abnormal) AS BIGINT) AS abnormal, \
         MIN(bucket_start) AS first_seen, MAX(bucket_start) AS last_seen \
         FROM session_rollups WHERE workspace_id = $1 AND project_id = $2 \
         AND bucket_start >= $3 AND bucket_start < $4 \
         GROUP BY release, environment ORDER BY MAX(bucket_start) DESC, release, environment",
    )
    .bind(ws)
    .bind(project)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ReleaseHealth {
                release: r.try_get("release")?,
                environment: r.try_get("environment")?,
                started: r.try_get("started")?,
                exited: r.try_get("exited")?,
                errored: r.try_get("errored")?,
                crashed: r.try_get("crashed")?,
                abnormal: r.try_get("abnormal")?,
                first_seen: r.try_get("first_seen")?,
                last_seen: r.try_get("last_seen")?,
            })
        })
        .collect()
}

pub(crate) async fn cron_summaries(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
) -> Result<Vec<CronSummary>> {
    let rows = sqlx::query::<Db>(
        "SELECT c.monitor_slug, c.status, c.received_at, c.environment, \
         (SELECT COUNT(*) FROM check_ins k WHERE k.workspace_id = c.workspace_id \
           AND k.project_id = c.project_id AND k.monitor_slug = c.monitor_slug) AS n, \
         m.monitor_id, s.status AS monitor_status \
         FROM check_ins c \
         LEFT JOIN cron_monitors m ON m.workspace_id = c.workspace_id \
           AND m.project_id = c.project_id AND m.slug = c.monitor_slug \
         LEFT JOIN monitor_state s ON s.monitor_id = m.monitor_id \
         WHERE c.workspace_id = $1 AND c.project_id = $2 \
         AND c.id IN (SELECT MAX(id) FROM check_ins WHERE workspace_id = $1 AND project_id = $2 \
           GROUP BY monitor_slug) \
         ORDER BY c.monitor_slug",
    )
    .bind(ws)
    .bind(project)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CronSummary {
                monitor_slug: r.try_get("monitor_slug")?,
                check_ins: r.try_get("n")?,
                last_status: r.try_get("status")?,
                last_check_in_at: r.try_get("received_at")?,
                environment: r.try_get("environment")?,
                monitor_id: r.try_get("monitor_id")?,
                monitor_status: r.try_get("monitor_status")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards_and_lowercase() {
        assert_eq!(like_pattern("KeyError"), "%keyerror%");
        assert_eq!(like_pattern("100%_a\\b"), "%100\\%\\_a\\\\b%");
    }
}
