//! PostgreSQL faults, a file per fault family, over tokio-postgres sessions tagged
//! `application_name = 'chaosdeck:<run>:<fault>'`.
//!
//! Session-bound faults (held connections, locks, long queries, idle transactions)
//! live in sessions that carry server-side failsafe timeouts, so they end on the
//! server even if chaosdeck dies. Persistent faults (settings, roles, databases,
//! slots, prepared transactions, sequences, a stopped server) capture the exact
//! previous state in their undo data before anything changes.

pub mod bloat;
pub mod conn;
pub mod locks;
pub mod prepared;
pub mod replication;
pub mod roles;
pub mod sequences;
pub mod server;
pub mod sessions;
pub mod settings;
pub mod tls;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

pub use conn::PgConnSpec;

use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// One PostgreSQL server chaosdeck acts on.
#[derive(Debug, Clone)]
pub struct PgTarget {
    pub conn: PgConnSpec,
    /// The data directory, when chaosdeck may stop and start this server itself.
    pub data_dir: Option<PathBuf>,
    /// Where `pg_ctl` lives, for a server chaosdeck controls.
    pub bin_dir: Option<PathBuf>,
}

/// The run an action belongs to: its session tag and failsafe.
#[derive(Debug, Clone)]
pub struct PgRun {
    /// `chaosdeck:<run>:<fault>`, set as `application_name` on every session.
    pub tag: String,
    /// Server-side timeouts on fault sessions: the TTL plus grace.
    pub failsafe: Duration,
}

impl PgRun {
    pub fn new(run: &str, fault: &str, ttl: Duration) -> PgRun {
        let mut tag = format!("chaosdeck:{run}:{fault}");
        tag.truncate(63);
        PgRun {
            tag,
            failsafe: ttl + Duration::from_secs(30),
        }
    }

    /// The tag of the console's own monitoring session for this run.
    pub fn monitor_tag(&self) -> String {
        let mut tag = format!("{}:monitor", self.tag);
        tag.truncate(63);
        tag
    }
}

/// What it takes to put a PostgreSQL server back, captured before the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum PgUndo {
    /// End every session tagged `application_name` (and, when given, drop the
    /// tables chaosdeck created for the fault).
    EndSessions {
        application_name: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        drop_tables: Vec<String>,
    },
    Locks(locks::LocksUndo),
    Bloat(bloat::BloatUndo),
    Setting(settings::SettingUndo),
    Roles(roles::RolesUndo),
    Replication(replication::ReplicationUndo),
    Prepared(prepared::PreparedUndo),
    Sequence(sequences::SequenceUndo),
    Server(server::ServerUndo),
}

/// Checks preconditions, captures undo data and measures the blast radius.
pub async fn plan(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
) -> Result<Plan<PgUndo>, DriverError> {
    match action {
        Action::PgHoldConnections(_)
        | Action::PgIdleInTransaction(_)
        | Action::PgLongQuery(_)
        | Action::PgTerminateBackends(_)
        | Action::PgTempFiles(_)
        | Action::PgAdvisoryLocks(_) => sessions::plan(action, target, run).await,
        Action::PgLockContention(_) | Action::PgDeadlock(_) => locks::plan(action, target, run)
            .await
            .map(|p| p.map(PgUndo::Locks)),
        Action::PgTableBloat(_) | Action::PgCacheMiss(_) => bloat::plan(action, target, run)
            .await
            .map(|p| p.map(PgUndo::Bloat)),
        Action::PgSetting(_) => settings::plan(action, target, run)
            .await
            .map(|p| p.map(PgUndo::Setting)),
        Action::PgChangePassword(_)
        | Action::PgRoleConnectionLimit(_)
        | Action::PgRenameDatabase(_) => roles::plan(action, target, run)
            .await
            .map(|p| p.map(PgUndo::Roles)),
        Action::PgPauseReplay(_) | Action::PgReplicationSlot(_) => {
            replication::plan(action, target, run)
                .await
                .map(|p| p.map(PgUndo::Replication))
        }
        Action::PgPreparedTransaction(_) => prepared::plan(action, target, run)
            .await
            .map(|p| p.map(PgUndo::Prepared)),
        Action::PgSequenceNearMax(_) => sequences::plan(action, target, run)
            .await
            .map(|p| p.map(PgUndo::Sequence)),
        Action::PgStopServer(_) => server::plan(action, target, run)
            .await
            .map(|p| p.map(PgUndo::Server)),
        other => Err(DriverError::Input(format!(
            "{}: \"{}\" is not a PostgreSQL action",
            target.conn.masked(),
            other.kind()
        ))),
    }
}

/// Performs the side effect; session-bound effects come back as a hold.
pub async fn apply(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
    undo: &PgUndo,
) -> Result<Hold, DriverError> {
    match undo {
        PgUndo::EndSessions { .. } => sessions::apply(action, target, run, undo).await,
        PgUndo::Locks(u) => locks::apply(action, target, run, u).await,
        PgUndo::Bloat(u) => bloat::apply(action, target, run, u).await,
        PgUndo::Setting(u) => settings::apply(action, target, run, u).await,
        PgUndo::Roles(u) => roles::apply(action, target, run, u).await,
        PgUndo::Replication(u) => replication::apply(action, target, run, u).await,
        PgUndo::Prepared(u) => prepared::apply(action, target, run, u).await,
        PgUndo::Sequence(u) => sequences::apply(action, target, run, u).await,
        PgUndo::Server(u) => server::apply(action, target, run, u).await,
    }
}

/// Puts the server back. Idempotent.
pub async fn undo(undo: &PgUndo, target: &PgTarget) -> Result<(), DriverError> {
    match undo {
        PgUndo::EndSessions {
            application_name,
            drop_tables,
        } => sessions::end_sessions(target, application_name, drop_tables).await,
        PgUndo::Locks(u) => locks::undo(u, target).await,
        PgUndo::Bloat(u) => bloat::undo(u, target).await,
        PgUndo::Setting(u) => settings::undo(u, target).await,
        PgUndo::Roles(u) => roles::undo(u, target).await,
        PgUndo::Replication(u) => replication::undo(u, target).await,
        PgUndo::Prepared(u) => prepared::undo(u, target).await,
        PgUndo::Sequence(u) => sequences::undo(u, target).await,
        PgUndo::Server(u) => server::undo(u, target).await,
    }
}

/// Re-checks the server after an undo.
pub async fn verify(undo: &PgUndo, target: &PgTarget) -> Result<Verification, DriverError> {
    match undo {
        PgUndo::EndSessions {
            application_name,
            drop_tables,
        } => sessions::verify_ended(target, application_name, drop_tables).await,
        PgUndo::Locks(u) => locks::verify(u, target).await,
        PgUndo::Bloat(u) => bloat::verify(u, target).await,
        PgUndo::Setting(u) => settings::verify(u, target).await,
        PgUndo::Roles(u) => roles::verify(u, target).await,
        PgUndo::Replication(u) => replication::verify(u, target).await,
        PgUndo::Prepared(u) => prepared::verify(u, target).await,
        PgUndo::Sequence(u) => sequences::verify(u, target).await,
        PgUndo::Server(u) => server::verify(u, target).await,
    }
}

/// A session for chaosdeck's own reads and undo steps (no failsafe timeouts).
pub async fn admin_session(target: &PgTarget, purpose: &str) -> Result<Client, DriverError> {
    target
        .conn
        .connect_plain(&format!("chaosdeck:{purpose}"))
        .await
}

/// Runs a query that returns one value, naming the target on failure.
pub async fn query_one<T>(client: &Client, target: &PgTarget, sql: &str) -> Result<T, DriverError>
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    client
        .query_one(sql, &[])
        .await
        .map_err(|e| {
            DriverError::failed(
                target.conn.masked(),
                format!("{sql}: {}", conn::describe(&e)),
            )
        })?
        .try_get(0)
        .map_err(|e| {
            DriverError::failed(
                target.conn.masked(),
                format!("{sql}: {}", conn::describe(&e)),
            )
        })
}

/// Whether a table (or any relation) of that name exists.
pub async fn table_exists(
    client: &Client,
    target: &PgTarget,
    table: &str,
) -> Result<bool, DriverError> {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| DriverError::failed(target.conn.masked(), conn::describe(&e)))
}

/// `Residual` while a table chaosdeck created for a fault still exists.
pub async fn verify_table_gone(
    client: &Client,
    target: &PgTarget,
    table: &str,
) -> Result<Verification, DriverError> {
    Ok(if table_exists(client, target, table).await? {
        Verification::Residual(format!("table {table} still exists"))
    } else {
        Verification::Verified
    })
}
