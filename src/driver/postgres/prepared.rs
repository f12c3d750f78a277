//! An orphaned prepared transaction holding a row lock.
//!
//! A session locks the first row of a table, runs `PREPARE TRANSACTION
//! 'chaosdeck:<run>'` and closes: the transaction then belongs to no session,
//! survives restarts and keeps its lock until `ROLLBACK PREPARED` at undo.

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::conn::{describe, sqlstate};
use super::replication::run_id;
use super::sessions::quote_literal;
use super::{admin_session, PgRun, PgTarget};
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// What it takes to undo this family's faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreparedUndo {
    /// Roll back the prepared transaction `gid` (prepared in `database`), then drop
    /// `table` if chaosdeck created it.
    RollbackPrepared {
        gid: String,
        database: String,
        table: String,
        created_table: bool,
    },
}

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
) -> Result<Plan<PreparedUndo>, DriverError> {
    let Action::PgPreparedTransaction(a) = action else {
        return Err(DriverError::Input(format!(
            "not a prepared-transaction fault: {}",
            action.kind()
        )));
    };
    let refuse =
        |reason: String| DriverError::precondition(target.conn.masked(), action.kind(), reason);
    let failed = |e: tokio_postgres::Error| DriverError::failed(target.conn.masked(), describe(&e));
    let admin = admin_session(target, "plan").await?;
    let gid = format!("chaosdeck:{}", run_id(run));
    let row = admin
        .query_one(
            "SELECT current_setting('max_prepared_transactions')::int, \
             (SELECT count(*)::int FROM pg_prepared_xacts), \
             EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE gid = $1), \
             to_regclass($2) IS NOT NULL, current_database()::text",
            &[&gid, &a.table],
        )
        .await
        .map_err(failed)?;
    let max: i32 = row.try_get(0).map_err(failed)?;
    let used: i32 = row.try_get(1).map_err(failed)?;
    if max == 0 {
        return Err(refuse(
            "max_prepared_transactions is 0, so the server refuses PREPARE TRANSACTION: set it \
             above 0 (ALTER SYSTEM SET max_prepared_transactions = 10) and restart the server; \
             the setting only changes at a restart"
                .to_string(),
        ));
    }
    if used >= max {
        return Err(refuse(format!(
            "all {max} prepared transaction slots are in use (max_prepared_transactions)"
        )));
    }
    if row.try_get::<_, bool>(2).map_err(failed)? {
        return Err(refuse(format!(
            "a prepared transaction '{gid}' already exists"
        )));
    }
    let created_table = !row.try_get::<_, bool>(3).map_err(failed)?;
    let database: String = row.try_get(4).map_err(failed)?;
    let table = &a.table;
    if !created_table {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {table})");
        let has_rows: bool = admin
            .query_one(sql.as_str(), &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(failed)?;
        if !has_rows {
            return Err(refuse(format!(
                "table {table} has no row to lock; insert one or name another table"
            )));
        }
    }
    let created = if created_table {
        " (chaosdeck creates the table and drops it at teardown)"
    } else {
        ""
    };
    Ok(Plan {
        undo: PreparedUndo::RollbackPrepared {
            gid: gid.clone(),
            database: database.clone(),
            table: table.clone(),
            created_table,
        },
        blast_radius: format!(
            "leave prepared transaction '{gid}' in database {database} locking the first row of \
             {table}{created}: updates of that row wait until teardown ({used} of {max} prepared \
             transaction slots in use)"
        ),
    })
}

pub(super) async fn apply(
    _action: &Action,
    target: &PgTarget,
    run: &PgRun,
    undo: &PreparedUndo,
) -> Result<Hold, DriverError> {
    let PreparedUndo::RollbackPrepared {
        gid,
        table,
        created_table,
        ..
    } = undo;
    let admin = admin_session(target, "apply").await?;
    if *created_table {
        let sql = format!(
            "CREATE TABLE {table} (id int PRIMARY KEY, note text); \
             INSERT INTO {table} VALUES (1, 'row locked by a chaosdeck prepared transaction')"
        );
        exec(&admin, target, &sql).await?;
    }
    let prepared = prepare(target, run, table, gid).await;
    if prepared.is_err() && *created_table {
        // Nothing half-injected: the table goes again.
        if let Err(e) = exec(&admin, target, &format!("DROP TABLE IF EXISTS {table}")).await {
            tracing::warn!("{e}");
        }
    }
    prepared.map(|()| Hold::new())
}

/// Locks the first row of `table` in a transaction and prepares it as `gid`.
async fn prepare(
    target: &PgTarget,
    run: &PgRun,
    table: &str,
    gid: &str,
) -> Result<(), DriverError> {
    let client = target.conn.connect(&run.tag, run.failsafe).await?;
    exec(&client, target, "BEGIN; SET LOCAL lock_timeout = '5s'").await?;
    let sql = format!("SELECT 1 FROM {table} LIMIT 1 FOR UPDATE");
    let rows = client.query(sql.as_str(), &[]).await.map_err(|e| {
        DriverError::failed(target.conn.masked(), format!("{sql}: {}", describe(&e)))
    })?;
    if rows.is_empty() {
        exec(&client, target, "ROLLBACK").await?;
        return Err(DriverError::failed(
            target.conn.masked(),
            format!("table {table} has no row to lock"),
        ));
    }
    exec(
        &client,
        target,
        &format!("PREPARE TRANSACTION {}", quote_literal(gid)),
    )
    .await
}

pub(super) async fn undo(undo: &PreparedUndo, target: &PgTarget) -> Result<(), DriverError> {
    let PreparedUndo::RollbackPrepared {
        gid,
        table,
        created_table,
        ..
    } = undo;
    let admin = session(undo, target, "undo").await?;
    if pending(&admin, target, gid).await? {
        let sql = format!("ROLLBACK PREPARED {}", quote_literal(gid));
        match admin.batch_execute(&sql).await {
            // 42704: rolled back by someone else in the meantime.
            Err(e) if sqlstate(&e) != Some("42704") => {
                return Err(DriverError::failed(
                    target.conn.masked(),
                    format!("{sql}: {}", describe(&e)),
                ))
            }
            _ => {}
        }
    }
    if *created_table {
        exec(&admin, target, &format!("DROP TABLE IF EXISTS {table}")).await?;
    }
    Ok(())
}

pub(super) async fn verify(
    undo: &PreparedUndo,
    target: &PgTarget,
) -> Result<Verification, DriverError> {
    let PreparedUndo::RollbackPrepared {
        gid,
        table,
        created_table,
        ..
    } = undo;
    let admin = session(undo, target, "verify").await?;
    let mut checks = vec![if pending(&admin, target, gid).await? {
        Verification::Residual(format!("prepared transaction '{gid}' is still pending"))
    } else {
        Verification::Verified
    }];
    if *created_table {
        checks.push(super::verify_table_gone(&admin, target, table).await?);
    }
    Ok(Verification::all(checks))
}

/// A session in the database the transaction was prepared in (ROLLBACK PREPARED
/// only works there).
async fn session(
    undo: &PreparedUndo,
    target: &PgTarget,
    purpose: &str,
) -> Result<Client, DriverError> {
    let PreparedUndo::RollbackPrepared { database, .. } = undo;
    target
        .conn
        .with_dbname(database)
        .connect_plain(&format!("chaosdeck:{purpose}"))
        .await
}

/// Whether the prepared transaction `gid` is still pending.
async fn pending(admin: &Client, target: &PgTarget, gid: &str) -> Result<bool, DriverError> {
    admin
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE gid = $1)",
            &[&gid],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| DriverError::failed(target.conn.masked(), describe(&e)))
}

async fn exec(client: &Client, target: &PgTarget, sql: &str) -> Result<(), DriverError> {
    client
        .batch_execute(sql)
        .await
        .map_err(|e| DriverError::failed(target.conn.masked(), format!("{sql}: {}", describe(&e))))
}
