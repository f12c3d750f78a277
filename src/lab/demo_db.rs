//! The demo service's database side: one fresh connection per request (no pool, on
//! purpose), every step under a deadline, and failures told in one short line that
//! starts with `database:`.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

use crate::driver::postgres::conn::{describe, mask_password, sqlstate};
use crate::observe::probe_http::io_detail;

/// Connecting alone may take this long (libpq's `connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// `/health` answers within this, whatever the database does.
const HEALTH_DEADLINE: Duration = Duration::from_secs(2);
/// `/orders` answers within this.
const ORDERS_DEADLINE: Duration = Duration::from_millis(2500);
/// A connection left behind by a timed-out request is dropped after this.
const SESSION_CAP: Duration = Duration::from_secs(10);
/// Between attempts at creating the table while the database is down.
const SCHEMA_RETRY: Duration = Duration::from_millis(500);
/// How the service's sessions show in `pg_stat_activity`.
const APPLICATION_NAME: &str = "chaosdeck-lab-demo";

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS orders (\
     id serial PRIMARY KEY, item text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())";
const LIST_ORDERS: &str = "SELECT json_build_object(\
     'count', (SELECT count(*) FROM orders), \
     'last', coalesce((SELECT json_agg(o) FROM \
       (SELECT id, item, created_at FROM orders ORDER BY id DESC LIMIT 5) o), '[]'::json)\
     )::text";
const ADD_ORDER: &str = "INSERT INTO orders (item) VALUES ($1) \
     RETURNING json_build_object('id', id, 'item', item, 'created_at', created_at)::text";
/// Whether a new session may write.
const READ_ONLY: &str = "SELECT current_setting('transaction_read_only')";
/// SQLSTATE of `undefined_table`: the table vanished, create it again.
const UNDEFINED_TABLE: &str = "42P01";

/// The database behind the demo service.
#[derive(Debug)]
pub(crate) struct Database {
    config: Config,
    /// The table exists as far as the service knows.
    schema_ready: AtomicBool,
    /// Held while creating the table: two sessions running `CREATE TABLE IF NOT
    /// EXISTS` at once can both try to create it (a duplicate key in `pg_type`).
    schema_lock: tokio::sync::Mutex<()>,
    /// The last failure written to stderr, so each one is told once.
    last_told: Mutex<Option<String>>,
}

impl Database {
    /// Parses a libpq string or `postgres://` URL; the error shows it masked.
    pub fn parse(conn: &str) -> Result<Database, String> {
        let mut config = Config::from_str(conn).map_err(|e| {
            format!(
                "invalid --db \"{}\": {e}; expected \"host=127.0.0.1 port=5432 dbname=app \
                 user=app password=…\" or postgres://user:password@host:port/dbname",
                mask_password(conn)
            )
        })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        Ok(Database {
            config,
            schema_ready: AtomicBool::new(false),
            schema_lock: tokio::sync::Mutex::new(()),
            last_told: Mutex::new(None),
        })
    }

    /// A fresh connection that can write, within [`HEALTH_DEADLINE`]: a session
    /// that starts read-only (a standby, or `default_transaction_read_only` on) is
    /// unhealthy, since the service could not take an order.
    pub async fn health(&self) -> Result<(), String> {
        within(HEALTH_DEADLINE, async {
            let client = self.connect().await?;
            let row = client.query_one(READ_ONLY, &[]).await.map_err(reason)?;
            let read_only: String = row.try_get(0).map_err(reason)?;
            match read_only.as_str() {
                "on" => Err("database: read-only".to_string()),
                _ => Ok(()),
            }
        })
        .await
    }

    /// The count of orders and the newest five, as JSON.
    pub async fn orders(&self) -> Result<String, String> {
        within(ORDERS_DEADLINE, async {
            let client = self.connect_with_schema().await?;
            let row = client.query_one(LIST_ORDERS, &[]).await;
            self.row_text(row)
        })
        .await
    }

    /// Inserts one order and returns it as JSON.
    pub async fn add_order(&self, item: &str) -> Result<String, String> {
        within(ORDERS_DEADLINE, async {
            let client = self.connect_with_schema().await?;
            let row = client.query_one(ADD_ORDER, &[&item]).await;
            self.row_text(row)
        })
        .await
    }

    /// Creates the table, retrying every [`SCHEMA_RETRY`] until it worked once.
    pub async fn create_schema_until_done(self: std::sync::Arc<Self>) {
        while !self.schema_ready.load(Ordering::SeqCst) {
            let attempt = within(HEALTH_DEADLINE, self.connect_with_schema()).await;
            self.note(attempt.as_ref().map(|_| ()));
            if attempt.is_err() {
                tokio::time::sleep(SCHEMA_RETRY).await;
            }
        }
    }

    /// Tells stderr about a new failure reason, or that the database answers again.
    pub fn note(&self, outcome: Result<(), &String>) {
        let Ok(mut last) = self.last_told.lock() else {
            return;
        };
        match outcome {
            Err(why) if last.as_ref() != Some(why) => {
                eprintln!("demo-service: {why}");
                *last = Some(why.clone());
            }
            Ok(()) if last.is_some() => {
                eprintln!("demo-service: database answering again");
                *last = None;
            }
            _ => {}
        }
    }

    /// A new session; its connection task ends with the client, or after
    /// [`SESSION_CAP`] at the latest.
    async fn connect(&self) -> Result<Client, String> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(reason)?;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(SESSION_CAP, connection).await;
        });
        Ok(client)
    }

    /// A new session, with the table created first if it may be missing.
    async fn connect_with_schema(&self) -> Result<Client, String> {
        let client = self.connect().await?;
        if !self.schema_ready.load(Ordering::SeqCst) {
            let _creating = self.schema_lock.lock().await;
            if !self.schema_ready.load(Ordering::SeqCst) {
                client.batch_execute(CREATE_TABLE).await.map_err(reason)?;
                self.schema_ready.store(true, Ordering::SeqCst);
            }
        }
        Ok(client)
    }

    /// The text in the first column of `row`; a missing table is created next time.
    fn row_text(
        &self,
        row: Result<tokio_postgres::Row, tokio_postgres::Error>,
    ) -> Result<String, String> {
        match row {
            Ok(row) => row.try_get(0).map_err(reason),
            Err(e) => {
                if sqlstate(&e) == Some(UNDEFINED_TABLE) {
                    self.schema_ready.store(false, Ordering::SeqCst);
                }
                Err(reason(e))
            }
        }
    }
}

/// Runs `work` within `deadline`; running out is `database: timeout`.
async fn within<T>(
    deadline: Duration,
    work: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| Err("database: timeout".to_string()))
}

/// A PostgreSQL failure in one line: `database: connection refused`, `database: too
/// many clients`, `database: timeout`, or the server's own message.
fn reason(error: tokio_postgres::Error) -> String {
    format!("database: {}", mask_password(&short_reason(&error)))
}

fn short_reason(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return match db.code().code() {
            "53300" => "too many clients".to_string(),
            _ => db.message().to_string(),
        };
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return io_detail(io);
        }
        source = inner.source();
    }
    if error.is_closed() {
        return "connection closed".to_string();
    }
    describe(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_string_is_refused_with_the_password_masked() {
        let why = Database::parse("host=a port=notaport password=hunter2").unwrap_err();
        assert!(why.contains("password=***"), "{why}");
        assert!(!why.contains("hunter2"), "{why}");
    }

    #[test]
    fn sessions_are_named_unless_the_string_names_them() {
        let db = Database::parse("host=a user=b").unwrap();
        assert_eq!(db.config.get_application_name(), Some(APPLICATION_NAME));
        let db = Database::parse("host=a user=b application_name=shop").unwrap();
        assert_eq!(db.config.get_application_name(), Some("shop"));
        assert_eq!(db.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
    }

    #[tokio::test]
    async fn a_closed_port_is_connection_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let db = Database::parse(&format!("host=127.0.0.1 port={port} user=x")).unwrap();
        assert_eq!(
            db.health().await.unwrap_err(),
            "database: connection refused"
        );
    }
}
