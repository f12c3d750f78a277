//! PostgreSQL entries on throwaway clusters: session faults on one, server-state
//! faults on another (ending with the one that stops the server), replication lag on a
//! standby of a third.

use chaosdeck::driver::postgres::{PgConnSpec, PgTarget};
use chaosdeck::driver::targets::Targets;
use chaosdeck::lab::{PgCluster, PgClusterOptions};
use tokio_postgres::{Client, NoTls};

use crate::{eventually, exe, support, Effect};

mod server;
mod sessions;
mod standby;

pub fn covered() -> Vec<&'static str> {
    [sessions::IDS, server::IDS, standby::IDS].concat()
}

/// The non-superuser role the application logs in as (the catalog's default role).
const APP_PASSWORD: &str = "app-secret";

fn options() -> PgClusterOptions {
    PgClusterOptions {
        max_connections: 30,
        ..PgClusterOptions::default()
    }
    .setting("wal_level", "replica")
    .setting("max_wal_senders", "5")
    .setting("max_replication_slots", "5")
    .setting("max_prepared_transactions", "5")
}

/// A cluster with the `app` role, and connection strings into it.
struct Lab {
    cluster: PgCluster,
}

impl Lab {
    async fn start() -> Option<Lab> {
        let lab = Lab {
            cluster: support::pg_cluster_with(options())?,
        };
        let admin = connect(&lab.admin("testdb")).await.unwrap();
        let sql = format!("CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'");
        admin.batch_execute(&sql).await.unwrap();
        Some(lab)
    }

    fn conn(&self, db: &str, user: &str, password: &str) -> String {
        format!(
            "host={} port={} dbname={db} user={user} password={password} connect_timeout=5",
            self.cluster.host(),
            self.cluster.port()
        )
    }

    fn admin(&self, db: &str) -> String {
        self.conn(db, "postgres", &self.cluster.options().password)
    }

    fn app(&self) -> String {
        self.conn("testdb", "app", APP_PASSWORD)
    }

    /// chaosdeck connected as `postgres` to `db`, allowed to stop and start the server.
    fn targets(&self, db: &str) -> Targets {
        Targets {
            postgres: Some(PgTarget {
                conn: PgConnSpec::parse(&self.admin(db)).unwrap(),
                data_dir: Some(self.cluster.data_dir()),
                bin_dir: Some(self.cluster.bin_dir().to_path_buf()),
            }),
            exe: exe(),
            ..Targets::default()
        }
    }
}

async fn connect(conn: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(conn, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The SQLSTATE of an error, or its text when the server sent none.
fn code(e: &tokio_postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| e.to_string())
}

/// `result` must be an error with SQLSTATE `want`.
fn fails_with<T>(what: &str, result: Result<T, tokio_postgres::Error>, want: &str) -> Effect {
    match result {
        Ok(_) => Err(format!("{what} succeeded; expected SQLSTATE {want}")),
        Err(e) if code(&e) == want => Ok(()),
        Err(e) => Err(format!(
            "{what}: expected SQLSTATE {want}, got {}: {e}",
            code(&e)
        )),
    }
}

async fn count(client: &Client, sql: &str) -> Result<i64, String> {
    client
        .query_one(sql, &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| format!("{sql}: {e}"))
}

/// A writer taking `mode` on `table` gives up after 200 ms of waiting.
async fn lock_blocked(conn: &str, table: &str, mode: &str) -> Effect {
    let client = connect(conn).await.map_err(|e| e.to_string())?;
    let sql = format!(
        "BEGIN; SET LOCAL lock_timeout = '200ms'; LOCK TABLE {table} IN {mode} MODE; ROLLBACK"
    );
    eventually(&format!("{mode} lock on {table} blocked"), async || {
        match client.batch_execute(&sql).await {
            Ok(()) => Ok(false),
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                match code(&e).as_str() {
                    "55P03" => Ok(true),
                    "42P01" => Ok(false), // not created yet
                    other => Err(format!("{sql}: {other}: {e}")),
                }
            }
        }
    })
    .await
}

fn set(name: &'static str, value: &str) -> (&'static str, String) {
    (name, value.to_string())
}
