//! Session-bound faults: held connections, idle transactions, long queries, backend
//! terminations, temp-file growth and advisory locks. They live in tagged sessions
//! that the hold keeps open; undo ends every session with the run's tag.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio_postgres::Client;

use super::conn::{describe, sqlstate};
use super::{admin_session, query_one, PgRun, PgTarget, PgUndo};
use crate::catalog::action_params::ConnectionCount;
use crate::catalog::template::Param;
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// Sessions opened at once while filling the server.
const CONNECT_CONCURRENCY: usize = 32;

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
) -> Result<Plan<PgUndo>, DriverError> {
    let admin = admin_session(target, "plan").await?;
    let blast_radius = match action {
        Action::PgHoldConnections(hold) => {
            let slots = Slots::read(&admin, target).await?;
            let n = slots.to_hold(value(&hold.count, target)?, value(&hold.reserve, target)?);
            if n == 0 {
                return Err(DriverError::precondition(
                    target.conn.masked(),
                    action.kind(),
                    format!(
                        "nothing to hold: {} of {} slots already in use",
                        slots.used, slots.max
                    ),
                ));
            }
            format!(
                "hold {n} of {} connections ({} in use by others)",
                slots.max, slots.used
            )
        }
        Action::PgIdleInTransaction(a) => {
            format!(
                "open {} sessions idle in transaction",
                value(&a.count, target)?
            )
        }
        Action::PgLongQuery(a) => format!(
            "run {} queries of {}{}",
            value(&a.sessions, target)?,
            value(&a.duration, target)?,
            a.table
                .as_ref()
                .map(|t| format!(" reading {t}"))
                .unwrap_or_default()
        ),
        Action::PgTerminateBackends(a) => {
            let sql = format!(
                "SELECT count(*) FROM pg_stat_activity WHERE {}",
                victims_filter(a, &run.tag)
            );
            let n: i64 = query_one(&admin, target, &sql).await?;
            let every = match &a.every {
                Some(every) => format!(" every {}", value(every, target)?),
                None => " once".to_string(),
            };
            format!("terminate {n} matching client sessions{every}")
        }
        Action::PgTempFiles(a) => format!(
            "grow temp files to about {} in {} sessions",
            value(&a.size, target)?,
            value(&a.sessions, target)?
        ),
        Action::PgAdvisoryLocks(a) => format!(
            "hold {} advisory locks from key {}",
            value(&a.count, target)?,
            value(&a.key, target)?
        ),
        other => {
            return Err(DriverError::Input(format!(
                "not a session fault: {}",
                other.kind()
            )))
        }
    };
    let table = match action {
        Action::PgIdleInTransaction(a) => a.table.as_deref(),
        Action::PgLongQuery(a) => a.table.as_deref(),
        _ => None,
    };
    let mut drop_tables = Vec::new();
    let mut blast_radius = blast_radius;
    if let Some(table) = table {
        if !super::table_exists(&admin, target, table).await? {
            drop_tables.push(table.to_string());
            blast_radius.push_str(&format!(" (creates table {table}, dropped at teardown)"));
        }
    }
    Ok(Plan {
        undo: PgUndo::EndSessions {
            application_name: run.tag.clone(),
            drop_tables,
        },
        blast_radius,
    })
}

/// Creates a one-row table chaosdeck owns, when the plan said it is missing.
async fn create_owned_tables(target: &PgTarget, undo: &PgUndo) -> Result<(), DriverError> {
    let PgUndo::EndSessions { drop_tables, .. } = undo else {
        return Ok(());
    };
    if drop_tables.is_empty() {
        return Ok(());
    }
    let admin = admin_session(target, "apply").await?;
    for table in drop_tables {
        run_sql(
            &admin,
            target,
            &format!("CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY, note text); INSERT INTO {table} VALUES (1, 'chaosdeck') ON CONFLICT DO NOTHING"),
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn apply(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
    undo: &PgUndo,
) -> Result<Hold, DriverError> {
    create_owned_tables(target, undo).await?;
    let mut hold = Hold::new();
    let token = hold.token();
    match action {
        Action::PgHoldConnections(a) => {
            let monitor = target.conn.connect_plain(&run.monitor_tag()).await?;
            let slots = Slots::read(&monitor, target).await?;
            let (count, reserve) = (value(&a.count, target)?, value(&a.reserve, target)?);
            let n = slots.to_hold(count, reserve);
            let (mut sessions, _refused) = open_sessions(target, run, n).await;
            if count == ConnectionCount::Fill && reserve <= 1 {
                // The count is an estimate (sessions come and go, two connects at once
                // can both be refused): top up one at a time until the server refuses.
                while sessions.len() < slots.max as usize {
                    match target.conn.connect(&run.tag, run.failsafe).await {
                        Ok(client) => sessions.push(client),
                        Err(_) => break,
                    }
                }
            }
            keep(
                &mut hold,
                token,
                std::iter::once(monitor).chain(sessions).collect(),
            );
        }
        Action::PgIdleInTransaction(a) => {
            let n = value(&a.count, target)?;
            let sql = match &a.table {
                Some(table) => format!("BEGIN; SELECT 1 FROM {table} LIMIT 1 FOR SHARE"),
                None => "BEGIN; SELECT txid_current()".to_string(),
            };
            let sessions = open_all(target, run, n).await?;
            for client in &sessions {
                run_sql(client, target, &sql).await?;
            }
            keep(&mut hold, token, sessions);
        }
        Action::PgLongQuery(a) => {
            let seconds = value(&a.duration, target)?.as_duration().as_secs_f64();
            let sql = match &a.table {
                Some(table) => {
                    format!("BEGIN; SELECT count(*) FROM {table}; SELECT pg_sleep({seconds})")
                }
                None => format!("SELECT pg_sleep({seconds})"),
            };
            for client in open_all(target, run, value(&a.sessions, target)?).await? {
                let token = token.clone();
                let sql = sql.clone();
                hold.push(tokio::spawn(async move {
                    tokio::select! {
                        _ = client.batch_execute(&sql) => {}
                        _ = token.cancelled() => {}
                    }
                }));
            }
        }
        Action::PgTerminateBackends(a) => {
            let client = target.conn.connect(&run.tag, run.failsafe).await?;
            let sql = format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {}",
                victims_filter(a, &run.tag)
            );
            let every = match &a.every {
                Some(every) => Some(value(every, target)?.as_duration()),
                None => None,
            };
            let masked = target.conn.masked().to_string();
            hold.push(tokio::spawn(async move {
                loop {
                    if let Err(e) = client.execute(sql.as_str(), &[]).await {
                        tracing::warn!("{masked}: terminating backends: {}", describe(&e));
                    }
                    let Some(every) = every else { break };
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = token.cancelled() => break,
                    }
                }
                token.cancelled().await;
            }));
        }
        Action::PgTempFiles(a) => {
            let per_session =
                value(&a.size, target)?.0 / u64::from(value(&a.sessions, target)?.max(1));
            // Each sorted row spills about 64 bytes to the temp file.
            let rows = (per_session / 64).max(1);
            let sql = format!(
                "SET work_mem = '64kB'; BEGIN; DECLARE chaosdeck_spill CURSOR FOR \
                 SELECT g, md5(g::text) FROM generate_series(1, {rows}) g ORDER BY 2; \
                 FETCH 1 FROM chaosdeck_spill"
            );
            let sessions = open_all(target, run, value(&a.sessions, target)?).await?;
            for client in &sessions {
                run_sql(client, target, &sql).await?;
            }
            keep(&mut hold, token, sessions);
        }
        Action::PgAdvisoryLocks(a) => {
            let client = target.conn.connect(&run.tag, run.failsafe).await?;
            let key = value(&a.key, target)?;
            let count = i64::from(value(&a.count, target)?);
            let sql = format!(
                "SELECT pg_advisory_lock(k) FROM generate_series({key}::bigint, {}::bigint) k",
                key + count - 1
            );
            run_sql(&client, target, &sql).await?;
            keep(&mut hold, token, vec![client]);
        }
        other => {
            return Err(DriverError::Input(format!(
                "not a session fault: {}",
                other.kind()
            )))
        }
    }
    Ok(hold)
}

/// Terminates every session tagged `application_name` (and its monitor) and drops
/// the named tables. Idempotent.
pub(super) async fn end_sessions(
    target: &PgTarget,
    application_name: &str,
    drop_tables: &[String],
) -> Result<(), DriverError> {
    let admin = admin_session(target, "undo").await?;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name IN ($1, $1 || ':monitor') AND pid <> pg_backend_pid()",
            &[&application_name],
        )
        .await
        .map_err(|e| DriverError::failed(target.conn.masked(), describe(&e)))?;
    for table in drop_tables {
        run_sql(&admin, target, &format!("DROP TABLE IF EXISTS {table}")).await?;
    }
    Ok(())
}

/// Verified once no session carries the tag and the tables are gone.
pub(super) async fn verify_ended(
    target: &PgTarget,
    application_name: &str,
    drop_tables: &[String],
) -> Result<Verification, DriverError> {
    let admin = admin_session(target, "verify").await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut open: i64;
    loop {
        open = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ($1, $1 || ':monitor')",
                &[&application_name],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| DriverError::failed(target.conn.masked(), describe(&e)))?;
        if open == 0 || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut checks = vec![if open == 0 {
        Verification::Verified
    } else {
        Verification::Residual(format!(
            "{open} sessions tagged {application_name} are still open"
        ))
    }];
    for table in drop_tables {
        checks.push(super::verify_table_gone(&admin, target, table).await?);
    }
    Ok(Verification::all(checks))
}

/// Connection slots of a server, as a client of chaosdeck's role sees them.
struct Slots {
    max: u32,
    /// Client sessions open now, not counting the one reading this.
    used: u32,
    /// Slots only superusers may take, when chaosdeck's role is not one.
    barred: u32,
}

impl Slots {
    async fn read(client: &Client, target: &PgTarget) -> Result<Slots, DriverError> {
        let row = client
            .query_one(
                "SELECT current_setting('max_connections')::int, \
                        current_setting('superuser_reserved_connections')::int, \
                        (SELECT count(*)::int FROM pg_stat_activity \
                          WHERE datid IS NOT NULL AND pid <> pg_backend_pid()), \
                        (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
                &[],
            )
            .await
            .map_err(|e| DriverError::failed(target.conn.masked(), describe(&e)))?;
        let get = |i: usize| -> Result<i32, DriverError> {
            row.try_get::<_, i32>(i)
                .map_err(|e| DriverError::failed(target.conn.masked(), describe(&e)))
        };
        let superuser: bool = row.try_get(3).unwrap_or(false);
        Ok(Slots {
            max: get(0)?.max(0) as u32,
            used: get(2)?.max(0) as u32,
            barred: if superuser { 0 } else { get(1)?.max(0) as u32 },
        })
    }

    /// How many sessions to open so that `reserve` slots stay free.
    fn to_hold(&self, count: ConnectionCount, reserve: u32) -> u32 {
        let free = self.max.saturating_sub(self.barred + self.used + reserve);
        match count {
            ConnectionCount::Fill => free,
            ConnectionCount::Exactly(n) => n.min(free),
        }
    }
}

/// Opens up to `n` tagged sessions at once; stops early when the server refuses.
async fn open_sessions(
    target: &PgTarget,
    run: &PgRun,
    n: u32,
) -> (Vec<Client>, Option<DriverError>) {
    let results: Vec<Result<Client, DriverError>> = stream::iter(0..n)
        .map(|_| target.conn.connect(&run.tag, run.failsafe))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let mut sessions = Vec::with_capacity(n as usize);
    let mut refused = None;
    for result in results {
        match result {
            Ok(client) => sessions.push(client),
            Err(e) => refused = Some(e),
        }
    }
    (sessions, refused)
}

/// Opens exactly `n` tagged sessions or fails (closing the ones it opened).
async fn open_all(target: &PgTarget, run: &PgRun, n: u32) -> Result<Vec<Client>, DriverError> {
    match open_sessions(target, run, n).await {
        (sessions, None) => Ok(sessions),
        (_, Some(e)) => Err(e),
    }
}

/// Keeps the sessions open until the hold is released.
fn keep(hold: &mut Hold, token: tokio_util::sync::CancellationToken, sessions: Vec<Client>) {
    hold.push(tokio::spawn(async move {
        token.cancelled().await;
        drop(sessions);
    }));
}

async fn run_sql(client: &Client, target: &PgTarget, sql: &str) -> Result<(), DriverError> {
    client
        .batch_execute(sql)
        .await
        .map_err(|e| DriverError::failed(target.conn.masked(), format!("{sql}: {}", describe(&e))))
}

/// The SQL condition picking the client sessions a termination fault ends.
fn victims_filter(a: &crate::catalog::action_params::TerminateBackends, own_tag: &str) -> String {
    let mut filter = format!(
        "backend_type = 'client backend' AND pid <> pg_backend_pid() \
         AND application_name NOT LIKE 'chaosdeck:%' AND application_name <> {}",
        quote_literal(own_tag)
    );
    for (column, wanted) in [
        ("application_name", &a.application_name),
        ("usename", &a.user),
        ("datname", &a.database),
    ] {
        if let Some(wanted) = wanted {
            filter.push_str(&format!(" AND {column} = {}", quote_literal(wanted)));
        }
    }
    filter
}

/// A SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The value of a resolved parameter; an unresolved `{{name}}` is an input error.
pub(super) fn value<T: Clone>(param: &Param<T>, target: &PgTarget) -> Result<T, DriverError> {
    match param {
        Param::Value(v) => Ok(v.clone()),
        Param::Ref(name) => Err(DriverError::Input(format!(
            "{}: parameter \"{{{{{name}}}}}\" was not resolved before injecting",
            target.conn.masked()
        ))),
    }
}

/// Whether an error is the server refusing a new client for lack of slots.
pub fn is_too_many_clients(error: &tokio_postgres::Error) -> bool {
    sqlstate(error) == Some("53300")
}
