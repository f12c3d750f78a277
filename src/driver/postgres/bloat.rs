//! Storage faults on tables chaosdeck creates: table bloat (dead tuples autovacuum
//! may not clean) and cache-miss pressure (a table larger than shared_buffers read
//! over and over). Both refuse a table that already exists: they never touch user
//! tables. Teardown ends the run's sessions and drops the table.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::locks::{
    created_table_gone, drop_created_table, inspect_table, is_chaosdeck_marker, marker, quote_table,
};
use super::sessions::{end_sessions, quote_literal, value, verify_ended};
use super::settings::{exec, fetch, refuse, steady_session, wrong_action};
use super::{PgRun, PgTarget};
use crate::catalog::bytesize::ByteSize;
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// The largest table `postgres.cache_miss` creates, whatever the factor.
const CACHE_TABLE_CAP: u64 = 2 << 30;
/// How long `apply` waits for the dead tuples to show in pg_stat_user_tables.
const STATS_WAIT: Duration = Duration::from_secs(5);
/// Bytes one row version of the bloat table takes on disk, roughly.
const BLOAT_TUPLE_BYTES: u64 = 80;

/// What it takes to undo a storage fault: the run's sessions and its table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum BloatUndo {
    TableBloat(CreatedTable),
    CacheMiss(CreatedTable),
}

/// A table chaosdeck creates (marked with a comment naming the tag) and the tag of
/// the sessions working on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedTable {
    pub application_name: String,
    pub table: String,
}

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
) -> Result<Plan<BloatUndo>, DriverError> {
    let admin = steady_session(target, "plan").await?;
    let table = match action {
        Action::PgTableBloat(a) => &a.table,
        Action::PgCacheMiss(a) => &a.table,
        other => return Err(wrong_action(other)),
    };
    if let Some(found) = inspect_table(&admin, target, table).await? {
        let reason = match found.comment.filter(|c| is_chaosdeck_marker(c)) {
            Some(comment) => format!(
                "{table} is left over from an earlier chaosdeck run ({comment}); tear that run \
                 down with `chaosdeck teardown --dangling` or drop {table} by hand"
            ),
            None => format!(
                "{table} already exists and chaosdeck did not create it; this fault only \
                 works on a table it creates (and drops): pick another table name"
            ),
        };
        return Err(refuse(target, action, reason));
    }
    let created = CreatedTable {
        application_name: run.tag.clone(),
        table: table.clone(),
    };
    let plan = match action {
        Action::PgTableBloat(a) => {
            let (rows, updates) = (
                u64::from(value(&a.rows, target)?),
                u64::from(value(&a.updates, target)?),
            );
            let bytes = rows * (updates + 1) * BLOAT_TUPLE_BYTES;
            Plan {
                blast_radius: format!(
                    "create {table} with {rows} rows and leave {} dead tuples (about {} MiB, \
                     autovacuum off for it; dropped at teardown)",
                    rows * updates,
                    bytes.div_ceil(1 << 20)
                ),
                undo: BloatUndo::TableBloat(created),
            }
        }
        Action::PgCacheMiss(a) => {
            let size = CacheSize::read(&admin, target, value(&a.factor, target)?).await?;
            let scanners = value(&a.scanners, target)?;
            Plan {
                blast_radius: format!(
                    "create a {} table {table} ({}) and scan it in {scanners} sessions through \
                     shared_buffers, evicting other pages (dropped at teardown)",
                    ByteSize(size.bytes),
                    size.reason()
                ),
                undo: BloatUndo::CacheMiss(created),
            }
        }
        _ => return Err(wrong_action(action)),
    };
    Ok(plan)
}

pub(super) async fn apply(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
    undo: &BloatUndo,
) -> Result<Hold, DriverError> {
    let (BloatUndo::TableBloat(t) | BloatUndo::CacheMiss(t)) = undo;
    let table = quote_table(&t.table);
    let mark = quote_literal(&marker(&run.tag));
    let client = target.conn.connect(&run.tag, run.failsafe).await?;
    let mut hold = Hold::new();
    match action {
        Action::PgTableBloat(a) => {
            let (rows, updates) = (value(&a.rows, target)?, value(&a.updates, target)?);
            // `n` is indexed, so no update is HOT: each leaves a dead tuple that only
            // VACUUM removes.
            let create = format!(
                "CREATE TABLE {table} (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, payload text) \
                 WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false); \
                 CREATE INDEX ON {table} (n); COMMENT ON TABLE {table} IS {mark}; \
                 INSERT INTO {table} (id, payload) SELECT g, md5(g::text) FROM generate_series(1, {rows}) g"
            );
            exec(&client, target, &create).await?;
            for _ in 0..updates {
                exec(&client, target, &format!("UPDATE {table} SET n = n + 1")).await?;
            }
            let expected = u64::from(rows) * u64::from(updates);
            if let Err(e) = client
                .batch_execute("SELECT pg_stat_force_next_flush()")
                .await
            {
                tracing::debug!("statistics flush (PostgreSQL 15+): {e}");
            }
            drop(client);
            wait_for_dead_tuples(target, &table, expected * 9 / 10).await?;
        }
        Action::PgCacheMiss(a) => {
            let size = CacheSize::read(&client, target, value(&a.factor, target)?).await?;
            let rows = size.bytes / size.block;
            // One row per page: a plain (never compressed) pad of 7/8 of a block.
            let create = format!(
                "CREATE TABLE {table} (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false); \
                 ALTER TABLE {table} ALTER COLUMN pad SET STORAGE PLAIN; COMMENT ON TABLE {table} IS {mark}; \
                 INSERT INTO {table} SELECT g, repeat('x', {}) FROM generate_series(1, {rows}) g; \
                 ANALYZE {table}",
                size.block * 7 / 8
            );
            exec(&client, target, &create).await?;
            drop(client);
            let scanners = value(&a.scanners, target)?.max(1);
            for k in 0..scanners {
                let client = target.conn.connect(&run.tag, run.failsafe).await?;
                // A sequential scan of a table this big reads through a small ring
                // buffer and evicts nothing; walking it by its key sends every page
                // through shared_buffers. Scanners start at different rows.
                exec(
                    &client,
                    target,
                    "SET enable_seqscan = off; SET enable_bitmapscan = off; \
                     SET max_parallel_workers_per_gather = 0",
                )
                .await?;
                let start = rows * u64::from(k) / u64::from(scanners);
                let scan = format!(
                    "SELECT count(pad) FROM {table} WHERE id > {start}; \
                     SELECT count(pad) FROM {table} WHERE id <= {start} AND id > 0"
                );
                let token = hold.token();
                hold.push(tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            done = client.batch_execute(&scan) => if done.is_err() { break },
                            _ = token.cancelled() => break,
                        }
                    }
                }));
            }
        }
        _ => return Err(wrong_action(action)),
    }
    Ok(hold)
}

pub(super) async fn undo(undo: &BloatUndo, target: &PgTarget) -> Result<(), DriverError> {
    let (BloatUndo::TableBloat(t) | BloatUndo::CacheMiss(t)) = undo;
    end_sessions(target, &t.application_name, &[]).await?;
    drop_created_table(target, &t.table, &t.application_name).await
}

pub(super) async fn verify(
    undo: &BloatUndo,
    target: &PgTarget,
) -> Result<Verification, DriverError> {
    let (BloatUndo::TableBloat(t) | BloatUndo::CacheMiss(t)) = undo;
    Ok(Verification::all([
        verify_ended(target, &t.application_name, &[]).await?,
        created_table_gone(target, &t.table, &t.application_name).await?,
    ]))
}

/// Waits until the statistics show `n` dead tuples in `table` (or a few seconds passed).
async fn wait_for_dead_tuples(target: &PgTarget, table: &str, n: u64) -> Result<(), DriverError> {
    let admin = steady_session(target, "apply").await?;
    let deadline = tokio::time::Instant::now() + STATS_WAIT;
    let sql = "SELECT coalesce(max(n_dead_tup), 0) FROM pg_stat_user_tables \
               WHERE relid = to_regclass($1)";
    loop {
        let dead: i64 = fetch(&admin, target, sql, &[&table]).await?;
        if dead.max(0) as u64 >= n {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                "{}: {table} shows {dead} dead tuples so far",
                target.conn.masked()
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The size of the cache-miss table: `factor` × shared_buffers, capped.
struct CacheSize {
    bytes: u64,
    /// The size before the cap.
    wanted: u64,
    shared_buffers: u64,
    factor: f64,
    block: u64,
}

impl CacheSize {
    async fn read(
        client: &Client,
        target: &PgTarget,
        factor: f64,
    ) -> Result<CacheSize, DriverError> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(DriverError::Input(format!(
                "{}: invalid factor \"{factor}\" for postgres.cache_miss; expected a positive \
                 multiple of shared_buffers such as 2.0",
                target.conn.masked()
            )));
        }
        let sql = "SELECT ARRAY[pg_size_bytes(current_setting('shared_buffers')), \
                                current_setting('block_size')::bigint]";
        let sizes: Vec<i64> = fetch(client, target, sql, &[]).await?;
        let size = |i: usize| sizes.get(i).map_or(0, |&n| n.max(0) as u64);
        let (shared_buffers, block) = (size(0), size(1).max(1024));
        // Whole MiB, at least one; the cap keeps disk use bounded.
        let wanted = ((shared_buffers as f64 * factor) as u64 >> 20).max(1) << 20;
        Ok(CacheSize {
            bytes: wanted.min(CACHE_TABLE_CAP),
            wanted,
            shared_buffers,
            factor,
            block,
        })
    }

    /// How the size came about, e.g. "2 × shared_buffers 128MiB".
    fn reason(&self) -> String {
        let sb = ByteSize(self.shared_buffers);
        if self.wanted > self.bytes {
            format!(
                "capped; {} × shared_buffers {sb} would be {}",
                self.factor,
                ByteSize(self.wanted)
            )
        } else {
            format!("{} × shared_buffers {sb}", self.factor)
        }
    }
}
