//! Operations shared by both backends. This directory is compiled twice, once inside
//! `backend::sqlite` and once inside `backend::postgres`; `Db`, `DbConn` and `PG` come from the
//! enclosing backend. SQL here is the common dialect: `$n` parameters, `RETURNING`,
//! `ON CONFLICT`, integer milliseconds for time; the few differences branch on `PG`.
//!
//! The patterns that several tables share live here, once: reading or changing one
//! workspace-owned row by id (`select_by_id!`, [`fetch_by_id`], [`execute_by_id`]), claiming
//! due rows of a work queue with a lease ([`WorkQueue`]), and replacing the rows of a link
//! table ([`LinkTable`]).

/// `SELECT <cols> FROM <table> WHERE workspace_id = $1 AND id = $2`, as a literal.
macro_rules! select_by_id {
    ($table:literal, $cols:expr) => {
        concat!(
            "SELECT ",
            $cols,
            " FROM ",
            $table,
            " WHERE workspace_id = $1 AND id = $2"
        )
    };
}

/// `DELETE FROM <table> WHERE workspace_id = $1 AND id = $2`, as a literal.
macro_rules! delete_by_id {
    ($table:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE workspace_id = $1 AND id = $2"
        )
    };
}

/// A [`WorkQueue`] with its claim statement built at compile time for this backend.
///
/// A row is due when `due` holds (it may use `$1`, the claim time) and it has no live lease.
/// Claiming sets `lease_owner` and `lease_expires_at`, then `on_claim` (extra `, col = ...`
/// assignments, or `""`), and returns `returning`. PostgreSQL locks the picked rows with
/// `FOR UPDATE SKIP LOCKED`, so concurrent claimers skip each other's rows instead of waiting;
/// SQLite runs the statement in a write transaction, which is exclusive.
macro_rules! work_queue {
    (
        table: $table:literal,
        key: $key:literal,
        due: $due:literal,
        order: $order:literal,
        on_claim: $on_claim:literal,
        returning: $cols:expr $(,)?
    ) => {
        WorkQueue {
            claim_sql: work_queue!(@sql $table, $key, $due, $order, $on_claim, $cols),
        }
    };
    (@sql $table:literal, $key:literal, $due:literal, $order:literal, $on_claim:literal, $cols:expr) => {
        if PG {
            concat!(
                "WITH due AS (SELECT ", $key, " FROM ", $table, " WHERE ", $due,
                " AND (lease_expires_at IS NULL OR lease_expires_at <= $1) ORDER BY ", $order,
                " LIMIT $2 FOR UPDATE SKIP LOCKED) UPDATE ", $table,
                " SET lease_owner = $3, lease_expires_at = $4", $on_claim,
                " WHERE ", $key, " IN (SELECT ", $key, " FROM due) RETURNING ", $cols
            )
        } else {
            concat!(
                "UPDATE ", $table, " SET lease_owner = $3, lease_expires_at = $4", $on_claim,
                " WHERE ", $key, " IN (SELECT ", $key, " FROM ", $table, " WHERE ", $due,
                " AND (lease_expires_at IS NULL OR lease_expires_at <= $1) ORDER BY ", $order,
                " LIMIT $2) RETURNING ", $cols
            )
        }
    };
}

/// A [`LinkTable`] with its statements built at compile time.
macro_rules! link_table {
    (
        table: $table:literal,
        owner: $owner:literal in $owner_table:literal as $owner_what:literal,
        target: $target:literal in $target_table:literal as $target_what:literal $(,)?
    ) => {
        LinkTable {
            owner_sql: select_by_id!($owner_table, "id"),
            owner_what: $owner_what,
            clear_sql: concat!(
                "DELETE FROM ",
                $table,
                " WHERE workspace_id = $1 AND ",
                $owner,
                " = $2"
            ),
            add_sql: concat!(
                "INSERT INTO ",
                $table,
                " (",
                $owner,
                ", ",
                $target,
                ", workspace_id) \
                 SELECT $2, id, workspace_id FROM ",
                $target_table,
                " WHERE workspace_id = $1 AND id = $3 ON CONFLICT DO NOTHING"
            ),
            target_what: $target_what,
            list_sql: concat!(
                "SELECT ",
                $target,
                " FROM ",
                $table,
                " WHERE workspace_id = $1 AND ",
                $owner,
                " = $2 ORDER BY ",
                $target
            ),
        }
    };
}

pub(crate) mod accounts;
pub(crate) mod agents;
pub(crate) mod dashboard;
pub(crate) mod incidents;
pub(crate) mod ingest;
pub(crate) mod ingest_commit;
pub(crate) mod ingest_dedup;
pub(crate) mod ingest_query;
pub(crate) mod monitors;
pub(crate) mod notify;
pub(crate) mod pages;
pub(crate) mod results;
pub(crate) mod security;

#[allow(unused_imports)]
pub(crate) use super::{Db, DbConn, PG, begin_write};

pub(crate) use crate::backend::Lease;
use crate::error::{Result, StoreError};
use crate::types::WorkspaceId;

/// A row of this backend.
pub(crate) type DbRow = <Db as sqlx::Database>::Row;

/// Turns "no row updated" into the given error.
pub(crate) fn expect_one(
    done: <Db as sqlx::Database>::QueryResult,
    err: impl FnOnce() -> StoreError,
) -> Result<()> {
    if done.rows_affected() == 0 {
        Err(err())
    } else {
        Ok(())
    }
}

/// A value bound as a statement parameter, such as an id.
pub(crate) trait Param:
    for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db> + Copy + Send + Sync
{
}

impl<T: for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db> + Copy + Send + Sync> Param for T {}

/// Maps a JSON error on the column or value `what`, for `map_err`.
pub(crate) fn json_err(what: &'static str) -> impl FnOnce(serde_json::Error) -> StoreError {
    move |source| StoreError::Json { what, source }
}

/// A `from_row` for records that derive `sqlx::FromRow`.
pub(crate) fn derived<T: for<'r> sqlx::FromRow<'r, DbRow>>(r: &DbRow) -> Result<T> {
    Ok(T::from_row(r)?)
}

/// Reads one row by workspace and id: `sql` binds `$1` to the workspace and `$2` to the id
/// (see `select_by_id!`).
pub(crate) async fn fetch_by_id<I: Param, T>(
    c: &mut DbConn,
    sql: &'static str,
    ws: WorkspaceId,
    id: I,
    from_row: fn(&DbRow) -> Result<T>,
) -> Result<Option<T>> {
    let row = sqlx::query::<Db>(sql)
        .bind(ws)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Fails with [`StoreError::NotFound`] (`what`) unless `sql` (which binds `$1` to the
/// workspace and `$2` to the id) finds a row.
pub(crate) async fn ensure_by_id<I: Param>(
    c: &mut DbConn,
    sql: &'static str,
    ws: WorkspaceId,
    id: I,
    what: &'static str,
) -> Result<()> {
    fetch_by_id(c, sql, ws, id, |_| Ok(()))
        .await?
        .ok_or_else(|| StoreError::not_found(what))
}

/// Runs a statement on one row by workspace and id (`$1` the workspace, `$2` the id, as in
/// `delete_by_id!`); [`StoreError::NotFound`] (`what`) when no row matched.
pub(crate) async fn execute_by_id<I: Param>(
    c: &mut DbConn,
    sql: &'static str,
    ws: WorkspaceId,
    id: I,
    what: &'static str,
) -> Result<()> {
    let done = sqlx::query::<Db>(sql)
        .bind(ws)
        .bind(id)
        .execute(&mut *c)
        .await?;
    expect_one(done, || StoreError::not_found(what))
}

/// A table that nodes claim due rows from with a lease (`lease_owner`, `lease_expires_at`).
/// Built by `work_queue!`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkQueue {
    /// Binds `$1` the claim time, `$2` the limit, `$3` the node, `$4` the lease expiry.
    pub(crate) claim_sql: &'static str,
}

impl WorkQueue {
    /// Claims due rows inside the caller's transaction and returns the claimed rows, in no
    /// particular order.
    pub(crate) async fn claim_rows(self, c: &mut DbConn, lease: Lease<'_>) -> Result<Vec<DbRow>> {
        Ok(sqlx::query::<Db>(self.claim_sql)
            .bind(lease.now)
            .bind(i64::from(lease.limit))
            .bind(lease.node)
            .bind(lease.until)
            .fetch_all(&mut *c)
            .await?)
    }

    /// Claims due rows in a transaction of its own and reads them with `from_row`, ordered
    /// by `key`.
    pub(crate) async fn claim<T, K: Ord>(
        self,
        c: &mut DbConn,
        lease: Lease<'_>,
        from_row: fn(&DbRow) -> Result<T>,
        key: fn(&T) -> K,
    ) -> Result<Vec<T>> {
        let mut tx = begin_write(c).await?;
        let rows = self.claim_rows(&mut tx, lease).await?;
        tx.commit().await?;
        let mut out = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(key);
        Ok(out)
    }
}

/// A link table that ties an owner row (a monitor, a project, an incident, a maintenance
/// window) to target rows (channels, components) of the same workspace. Built by
/// `link_table!`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkTable {
    /// Finds the owner: `$1` workspace, `$2` owner id.
    owner_sql: &'static str,
    /// What a missing owner is called in errors.
    owner_what: &'static str,
    /// Removes all of an owner's links: `$1` workspace, `$2` owner id.
    clear_sql: &'static str,
    /// Adds one link if the target is in the workspace: `$1` workspace, `$2` owner id,
    /// `$3` target id.
    add_sql: &'static str,
    /// What a missing target is called in errors.
    target_what: &'static str,
    /// An owner's target ids, ascending: `$1` workspace, `$2` owner id.
    list_sql: &'static str,
}

impl LinkTable {
    /// Links `owner` to each of `targets` (inside the caller's transaction).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if a target is not in the workspace.
    pub(crate) async fn add<O: Param, T: Param>(
        self,
        c: &mut DbConn,
        ws: WorkspaceId,
        owner: O,
        targets: &[T],
    ) -> Result<()> {
        for target in targets {
            let done = sqlx::query::<Db>(self.add_sql)
                .bind(ws)
                .bind(owner)
                .bind(*target)
                .execute(&mut *c)
                .await?;
            expect_one(done, || StoreError::not_found(self.target_what))?;
        }
        Ok(())
    }

    /// Replaces the targets `owner` links to, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the owner or a target is not in the workspace; nothing
    /// changes then.
    pub(crate) async fn replace<O: Param, T: Param>(
        self,
        c: &mut DbConn,
        ws: WorkspaceId,
        owner: O,
        targets: &[T],
    ) -> Result<()> {
        let mut tx = begin_write(c).await?;
        ensure_by_id(&mut tx, self.owner_sql, ws, owner, self.owner_what).await?;
        sqlx::query::<Db>(self.clear_sql)
            .bind(ws)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        self.add(&mut tx, ws, owner, targets).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The targets `owner` links to, ascending.
    pub(crate) async fn list<O: Param, T>(
        self,
        c: &mut DbConn,
        ws: WorkspaceId,
        owner: O,
    ) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db> + Send + Unpin,
    {
        Ok(sqlx::query_scalar::<Db, T>(self.list_sql)
            .bind(ws)
            .bind(owner)
            .fetch_all(&mut *c)
            .await?)
    }
}
