//! Lock faults: a lock held in an open transaction with sessions queued behind it,
//! and pairs of sessions driven into deadlocks. Both live in sessions tagged with the
//! run. A table chaosdeck creates for them carries a comment naming the run and is
//! dropped at teardown; a table it found is never dropped.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::conn::{describe, sqlstate};
use super::sessions::{end_sessions, quote_literal, value, verify_ended};
use super::settings::{exec, fetch, fetch_opt, quote_ident, refuse, steady_session, wrong_action};
use super::{PgRun, PgTarget};
use crate::catalog::action_params::LockMode;
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// Rows in a table chaosdeck creates to lock or deadlock on.
const SEED_ROWS: u32 = 100;
/// How long `apply` waits for the waiters to queue behind the lock.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// What it takes to undo a lock fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum LocksUndo {
    LockContention(LockSessions),
    Deadlock(LockSessions),
}

/// The sessions of a lock fault and the table they work on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockSessions {
    /// The tag of the holding, waiting and deadlocking sessions.
    pub application_name: String,
    /// The table as given in the action (each dotted part is quoted in SQL).
    pub table: String,
    /// Whether chaosdeck creates the table, and so drops it at teardown.
    pub created: bool,
}

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
) -> Result<Plan<LocksUndo>, DriverError> {
    let (table, min_rows) = match action {
        Action::PgLockContention(a) => (&a.table, i64::from(a.mode == LockMode::Row)),
        Action::PgDeadlock(a) => (&a.table, 2),
        other => return Err(wrong_action(other)),
    };
    let admin = steady_session(target, "plan").await?;
    let found = inspect_table(&admin, target, table).await?;
    let refuse = |reason: String| refuse(target, action, reason);
    let subject = match &found {
        None => format!("create {table} with {SEED_ROWS} rows (dropped at teardown), "),
        Some(t) if !matches!(t.kind.as_str(), "r" | "p") => {
            return Err(refuse(format!(
                "{table} is not a table (relkind {})",
                t.kind
            )))
        }
        Some(_) => {
            let sql = format!(
                "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 2) s",
                quote_table(table)
            );
            let rows: i64 = fetch(&admin, target, &sql, &[]).await?;
            if rows < min_rows {
                return Err(refuse(format!(
                    "{table} has {rows} rows; this fault needs at least {min_rows} to lock"
                )));
            }
            String::new()
        }
    };
    let blast_radius = match action {
        Action::PgLockContention(a) => {
            let waiters = value(&a.waiters, target)?;
            let (mode, who) = match a.mode {
                LockMode::Row => ("row locks on every row of", "writers of those rows"),
                LockMode::Share => ("a SHARE lock on", "every writer"),
                LockMode::AccessExclusive => ("an ACCESS EXCLUSIVE lock on", "readers and writers"),
            };
            format!(
                "{subject}hold {mode} {table} in an open transaction and queue {waiters} \
                 sessions behind it ({who} wait)"
            )
        }
        Action::PgDeadlock(a) => format!(
            "{subject}drive 2 sessions into a deadlock on two rows of {table} every {}; \
             one of each pair fails with SQLSTATE 40P01",
            value(&a.every, target)?
        ),
        _ => String::new(),
    };
    let sessions = LockSessions {
        application_name: run.tag.clone(),
        table: table.clone(),
        created: found.is_none(),
    };
    let undo = match action {
        Action::PgDeadlock(_) => LocksUndo::Deadlock(sessions),
        _ => LocksUndo::LockContention(sessions),
    };
    Ok(Plan { undo, blast_radius })
}

pub(super) async fn apply(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
    undo: &LocksUndo,
) -> Result<Hold, DriverError> {
    let (LocksUndo::LockContention(s) | LocksUndo::Deadlock(s)) = undo;
    let table = quote_table(&s.table);
    let first = target.conn.connect(&run.tag, run.failsafe).await?;
    if s.created {
        let sql = format!(
            "CREATE TABLE {table} (id int PRIMARY KEY, n int NOT NULL DEFAULT 0); \
             COMMENT ON TABLE {table} IS {}; \
             INSERT INTO {table} (id) SELECT generate_series(1, {SEED_ROWS})",
            quote_literal(&marker(&run.tag))
        );
        exec(&first, target, &sql).await?;
    }
    let mut hold = Hold::new();
    let token = hold.token();
    match action {
        Action::PgLockContention(a) => {
            let lock = match a.mode {
                LockMode::Row => format!("SELECT 1 FROM {table} FOR UPDATE"),
                LockMode::Share => format!("LOCK TABLE {table} IN SHARE MODE"),
                LockMode::AccessExclusive => format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"),
            };
            // Taking the lock waits for conflicting work already running; not forever.
            let sql = format!("BEGIN; SET LOCAL lock_timeout = '10s'; {lock}");
            exec(&first, target, &sql).await?;
            keep(&mut hold, token.clone(), first);
            let waiters = value(&a.waiters, target)?;
            for i in 0..waiters {
                let client = target.conn.connect(&run.tag, run.failsafe).await?;
                let sql = waiter_sql(a.mode, &table, s.created, i);
                let token = token.clone();
                hold.push(tokio::spawn(async move {
                    tokio::select! {
                        _ = client.batch_execute(&sql) => {}
                        _ = token.cancelled() => {}
                    }
                }));
            }
            wait_for_queue(target, &run.tag, waiters).await?;
        }
        Action::PgDeadlock(a) => {
            let every = value(&a.every, target)?.as_duration();
            let second = target.conn.connect(&run.tag, run.failsafe).await?;
            let masked = target.conn.masked().to_string();
            hold.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        done = deadlock_once(&first, &second, &table) => match done {
                            Ok(true) => tracing::debug!("{masked}: deadlock on {table}"),
                            Ok(false) => tracing::debug!("{masked}: no deadlock on {table} this round"),
                            Err(e) if first.is_closed() || second.is_closed() => {
                                tracing::debug!("{masked}: deadlock sessions ended: {}", describe(&e));
                                break;
                            }
                            Err(e) => tracing::warn!("{masked}: deadlock round: {}", describe(&e)),
                        },
                        _ = token.cancelled() => break,
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = token.cancelled() => break,
                    }
                }
            }));
        }
        other => return Err(wrong_action(other)),
    }
    Ok(hold)
}

pub(super) async fn undo(undo: &LocksUndo, target: &PgTarget) -> Result<(), DriverError> {
    let (LocksUndo::LockContention(s) | LocksUndo::Deadlock(s)) = undo;
    end_sessions(target, &s.application_name, &[]).await?;
    if s.created {
        drop_created_table(target, &s.table, &s.application_name).await?;
    }
    Ok(())
}

pub(super) async fn verify(
    undo: &LocksUndo,
    target: &PgTarget,
) -> Result<Verification, DriverError> {
    let (LocksUndo::LockContention(s) | LocksUndo::Deadlock(s)) = undo;
    let mut checks = vec![verify_ended(target, &s.application_name, &[]).await?];
    let admin = steady_session(target, "verify").await?;
    let sql = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
               WHERE a.application_name IN ($1, $1 || ':monitor') AND a.pid <> pg_backend_pid()";
    let locks: i64 = fetch(&admin, target, sql, &[&s.application_name]).await?;
    if locks > 0 {
        checks.push(Verification::Residual(format!(
            "{locks} locks are still held by sessions tagged {}",
            s.application_name
        )));
    }
    if s.created {
        checks.push(created_table_gone(target, &s.table, &s.application_name).await?);
    }
    Ok(Verification::all(checks))
}

/// One round: each session locks one row, then asks for the other's.
async fn deadlock_once(a: &Client, b: &Client, table: &str) -> Result<bool, tokio_postgres::Error> {
    let rows = a
        .query(&format!("SELECT ctid::text FROM {table} LIMIT 2"), &[])
        .await?;
    let ctids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let [first, second] = ctids.as_slice() else {
        return Ok(false);
    };
    let lock = |ctid: &str| {
        format!(
            "SELECT 1 FROM {table} WHERE ctid = {}::tid FOR UPDATE",
            quote_literal(ctid)
        )
    };
    a.batch_execute(&format!("BEGIN; {}", lock(first))).await?;
    b.batch_execute(&format!("BEGIN; {}", lock(second))).await?;
    let b_second = async {
        // Let `a` queue first, so the cycle closes with `b`'s request.
        tokio::time::sleep(Duration::from_millis(50)).await;
        b.batch_execute(&lock(first)).await
    };
    let a_second = lock(second);
    let (ra, rb) = tokio::join!(a.batch_execute(&a_second), b_second);
    a.batch_execute("ROLLBACK").await?;
    b.batch_execute("ROLLBACK").await?;
    let deadlocked = |r: &Result<(), tokio_postgres::Error>| {
        r.as_ref().err().and_then(sqlstate) == Some("40P01")
    };
    Ok(deadlocked(&ra) || deadlocked(&rb))
}

/// What a waiter runs: a write (or, behind ACCESS EXCLUSIVE, every other one a
/// read). On a table chaosdeck did not create, the statements change nothing.
fn waiter_sql(mode: LockMode, table: &str, created: bool, i: u32) -> String {
    let id = i % SEED_ROWS + 1;
    match (mode, created) {
        (LockMode::AccessExclusive, _) if i % 2 == 0 => format!("SELECT 1 FROM {table} LIMIT 1"),
        (_, true) => format!("UPDATE {table} SET n = n + 1 WHERE id = {id}"),
        (LockMode::Row, false) => format!("SELECT 1 FROM {table} LIMIT 1 FOR UPDATE"),
        (_, false) => format!("DELETE FROM {table} WHERE false"),
    }
}

/// Waits until `n` tagged sessions wait for a lock (or a few seconds passed).
async fn wait_for_queue(target: &PgTarget, tag: &str, n: u32) -> Result<(), DriverError> {
    let admin = steady_session(target, "apply").await?;
    let deadline = tokio::time::Instant::now() + QUEUE_WAIT;
    let sql = "SELECT count(*) FROM pg_stat_activity \
               WHERE application_name = $1 AND wait_event_type = 'Lock'";
    loop {
        let waiting: i64 = fetch(&admin, target, sql, &[&tag]).await?;
        if waiting >= i64::from(n) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                "{}: only {waiting} of {n} sessions queued",
                target.conn.masked()
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Keeps a session (and its open transaction) until the hold is released.
fn keep(hold: &mut Hold, token: CancellationToken, client: Client) {
    hold.push(tokio::spawn(async move {
        token.cancelled().await;
        drop(client);
    }));
}

/// A table as found in pg_class.
pub(super) struct FoundTable {
    /// `r` table, `p` partitioned table, `v` view, …
    pub kind: String,
    pub comment: Option<String>,
}

/// The table named `table`, if there is one.
pub(super) async fn inspect_table(
    client: &Client,
    target: &PgTarget,
    table: &str,
) -> Result<Option<FoundTable>, DriverError> {
    let sql = "SELECT ARRAY[c.relkind::text, obj_description(c.oid, 'pg_class')] \
               FROM pg_class c WHERE c.oid = to_regclass($1)";
    let found: Option<Vec<Option<String>>> =
        fetch_opt(client, target, sql, &[&quote_table(table)]).await?;
    Ok(found.map(|mut v| FoundTable {
        comment: v.pop().flatten(),
        kind: v.pop().flatten().unwrap_or_default(),
    }))
}

/// The comment a table chaosdeck creates carries: it names the run's tag.
pub(super) fn marker(tag: &str) -> String {
    format!("created by chaosdeck for {tag}; dropped at teardown")
}

/// Whether a table comment says chaosdeck created the table (for any run).
pub(super) fn is_chaosdeck_marker(comment: &str) -> bool {
    comment.starts_with("created by chaosdeck for ")
}

/// Drops `table` if it is the one this run created. Idempotent.
pub(super) async fn drop_created_table(
    target: &PgTarget,
    table: &str,
    tag: &str,
) -> Result<(), DriverError> {
    let admin = steady_session(target, "undo").await?;
    let found = inspect_table(&admin, target, table).await?;
    if found.and_then(|t| t.comment).as_deref() == Some(marker(tag).as_str()) {
        exec(
            &admin,
            target,
            &format!("DROP TABLE IF EXISTS {}", quote_table(table)),
        )
        .await?;
    }
    Ok(())
}

/// Verified once the table this run created is gone.
pub(super) async fn created_table_gone(
    target: &PgTarget,
    table: &str,
    tag: &str,
) -> Result<Verification, DriverError> {
    let admin = steady_session(target, "verify").await?;
    let found = inspect_table(&admin, target, table).await?;
    Ok(match found.and_then(|t| t.comment) {
        Some(c) if c == marker(tag) => {
            Verification::Residual(format!("table {table} still exists"))
        }
        _ => Verification::Verified,
    })
}

/// A table name for SQL, each dotted part (schema, table) quoted.
pub(super) fn quote_table(name: &str) -> String {
    let parts: Vec<String> = name.split('.').map(quote_ident).collect();
    parts.join(".")
}
