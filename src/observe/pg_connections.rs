//! The PostgreSQL sampler: connections by state against `max_connections`, waiting
//! locks, dead tuples, cache hit ratio and replication lag, read through ONE
//! long-lived monitoring session.
//!
//! The session (`application_name = 'chaosdeck:monitor'`) is opened when the sampler
//! starts, so it already holds its slot when a fault exhausts `max_connections` and
//! the graphs keep drawing while clients are refused. If it drops, it is opened again
//! with a growing backoff. Each reading is one round trip of one prepared statement.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::{Client, Row, Statement};

use super::sample::MetricSample;
use super::sampler::{sample, ReadError, Source};
use crate::driver::postgres::conn::describe;
use crate::driver::postgres::PgTarget;
use crate::driver::DriverError;

/// The `application_name` of the console's own monitoring session.
pub const MONITOR_APPLICATION_NAME: &str = "chaosdeck:monitor";

/// The first and the longest wait before opening a lost session again.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Set on the monitoring session: the longest a reading may wait for (see
/// `sampler::reading_timeout`).
const STATEMENT_TIMEOUT: &str = "SET statement_timeout = 2000";

/// Everything in one statement. Dead tuples are `sum(n_dead_tup)` of
/// `pg_stat_user_tables`, read straight from `pg_class` with the view's filter
/// because the view computes a dozen other counters per table. The replication lag
/// is taken on a primary from its standbys, and on a standby from its own receive
/// and replay positions; the `CASE` keeps `pg_current_wal_lsn()` from running
/// during recovery, where it fails.
const QUERY: &str = "\
WITH a AS (
  SELECT count(*) AS total,
         count(*) FILTER (WHERE state = 'active') AS active,
         count(*) FILTER (WHERE state = 'idle') AS idle,
         count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS idle_in_transaction
  FROM pg_stat_activity WHERE backend_type = 'client backend'
)
SELECT a.total, a.active, a.idle, a.idle_in_transaction,
  current_setting('max_connections')::int8 AS max_connections,
  (SELECT count(*) FROM pg_locks WHERE NOT granted) AS locks_waiting,
  (SELECT coalesce(sum(pg_stat_get_dead_tuples(c.oid)), 0)::int8
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 't', 'm', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast') AS dead_tuples,
  (SELECT blks_hit FROM pg_stat_database WHERE datname = current_database()) AS blks_hit,
  (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()) AS blks_read,
  (CASE WHEN pg_is_in_recovery()
     THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
     ELSE (SELECT max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)) FROM pg_stat_replication)
   END)::float8 AS replication_lag
FROM a";

/// An open monitoring session and its prepared statement.
struct Session {
    client: Client,
    statement: Statement,
}

/// Samples one PostgreSQL server through the monitoring session.
pub(crate) struct PgConnectionsSource {
    target: PgTarget,
    session: Option<Session>,
    connecting: Option<JoinHandle<Result<Session, DriverError>>>,
    retry_at: Instant,
    backoff: Duration,
    last_error: Option<String>,
}

impl PgConnectionsSource {
    /// Starts opening the monitoring session at once. Call inside a tokio runtime.
    pub fn new(target: PgTarget) -> PgConnectionsSource {
        let mut source = PgConnectionsSource {
            target,
            session: None,
            connecting: None,
            retry_at: Instant::now(),
            backoff: FIRST_BACKOFF,
            last_error: None,
        };
        source.start_connecting();
        source
    }

    fn start_connecting(&mut self) {
        let target = self.target.clone();
        self.connecting = Some(tokio::spawn(async move { open(&target).await }));
    }

    /// The session, opening it again when it was lost and the backoff allows.
    async fn session(&mut self) -> Result<&Session, ReadError> {
        if self.session.as_ref().is_some_and(|s| s.client.is_closed()) {
            self.session = None;
            self.last_error = Some("the monitoring session was closed".to_string());
        }
        if self.session.is_none() && self.connecting.is_none() && Instant::now() >= self.retry_at {
            self.start_connecting();
        }
        if let Some(connecting) = self.connecting.as_mut() {
            let opened = connecting.await;
            self.connecting = None;
            match opened {
                Ok(Ok(session)) => self.session = Some(session),
                Ok(Err(e)) => self.failed_to_open(e.to_string()),
                Err(e) => self.failed_to_open(format!("opening the session failed: {e}")),
            }
        }
        match &self.session {
            Some(session) => Ok(session),
            None => Err(ReadError::new(
                self.last_error
                    .clone()
                    .unwrap_or_else(|| "no monitoring session yet".to_string()),
            )),
        }
    }

    fn failed_to_open(&mut self, message: String) {
        self.last_error = Some(format!(
            "{message} (trying again in {} ms)",
            self.backoff.as_millis()
        ));
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

impl Drop for PgConnectionsSource {
    fn drop(&mut self) {
        if let Some(connecting) = &self.connecting {
            connecting.abort();
        }
    }
}

impl Source for PgConnectionsSource {
    fn name(&self) -> String {
        "postgres".to_string()
    }

    async fn read(&mut self) -> Result<Vec<MetricSample>, ReadError> {
        let session = self.session().await?;
        let row = session.client.query_one(&session.statement, &[]).await;
        row.and_then(|row| samples(&row))
            .map_err(|e| ReadError::new(format!("{}: {}", self.target.conn.masked(), describe(&e))))
    }
}

/// Opens the monitoring session and prepares the statement. A statement timeout
/// ends on the server a reading stuck behind a catalog lock, so readings never pile
/// up in the session.
async fn open(target: &PgTarget) -> Result<Session, DriverError> {
    let client = target.conn.connect_plain(MONITOR_APPLICATION_NAME).await?;
    let failed =
        |e: tokio_postgres::Error| DriverError::unreachable(target.conn.masked(), describe(&e));
    client
        .batch_execute(STATEMENT_TIMEOUT)
        .await
        .map_err(failed)?;
    let statement = client.prepare(QUERY).await.map_err(failed)?;
    Ok(Session { client, statement })
}

/// The series of one row of [`QUERY`].
fn samples(row: &Row) -> Result<Vec<MetricSample>, tokio_postgres::Error> {
    let count = |column: &str| -> Result<f64, tokio_postgres::Error> {
        Ok(row.try_get::<_, Option<i64>>(column)?.unwrap_or(0) as f64)
    };
    let hit = count("blks_hit")?;
    let read = count("blks_read")?;
    let lag: Option<f64> = row.try_get("replication_lag")?;
    Ok(vec![
        sample("pg.connections.total", count("total")?),
        sample("pg.connections.active", count("active")?),
        sample("pg.connections.idle", count("idle")?),
        sample(
            "pg.connections.idle_in_transaction",
            count("idle_in_transaction")?,
        ),
        sample("pg.max_connections", count("max_connections")?),
        sample("pg.locks.waiting", count("locks_waiting")?),
        sample("pg.dead_tuples", count("dead_tuples")?),
        sample("pg.cache_hit_ratio", hit_ratio(hit, read)),
        sample("pg.replication_lag_bytes", lag.unwrap_or(0.0).max(0.0)),
    ])
}

/// Blocks found in shared buffers, in percent of blocks asked for; 100 before any.
fn hit_ratio(hit: f64, read: f64) -> f64 {
    if hit + read <= 0.0 {
        return 100.0;
    }
    100.0 * hit / (hit + read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_ratio_is_a_percentage() {
        assert_eq!(hit_ratio(0.0, 0.0), 100.0);
        assert_eq!(hit_ratio(90.0, 10.0), 90.0);
        assert_eq!(hit_ratio(0.0, 5.0), 0.0);
    }
}
