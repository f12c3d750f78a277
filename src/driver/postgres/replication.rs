//! Replication faults: WAL replay paused on a standby, a replication slot holding WAL.

use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tokio_postgres::config::Host;
use tokio_postgres::Client;

use super::conn::{describe, sqlstate};
use super::sessions::{quote_literal, value};
use super::{admin_session, query_one, PgRun, PgTarget};
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// What it takes to undo this family's faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationUndo {
    /// Resume WAL replay on the standby.
    ResumeReplay {},
    /// Drop the physical replication slot chaosdeck created.
    DropSlot { slot_name: String },
}

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
) -> Result<Plan<ReplicationUndo>, DriverError> {
    let admin = admin_session(target, "plan").await?;
    let refuse = |why: String| DriverError::precondition(target.conn.masked(), action.kind(), why);
    let user = target.conn.user();
    match action {
        Action::PgPauseReplay(_) => {
            let sql = "SELECT pg_is_in_recovery()";
            let standby: bool = query_one(&admin, target, sql).await?;
            let sql = "SELECT has_function_privilege('pg_wal_replay_pause()', 'EXECUTE')";
            let allowed: bool = query_one(&admin, target, sql).await?;
            first_failing([
                (
                    standby,
                    "the server is not a standby (pg_is_in_recovery() is false): point \
                     the fault at a standby"
                        .to_string(),
                ),
                (
                    allowed,
                    format!(
                        "role \"{user}\" may not pause WAL replay: needs a superuser \
                         or EXECUTE on pg_wal_replay_pause()"
                    ),
                ),
            ])
            .map_err(refuse)?;
            let sql = "SELECT pg_is_wal_replay_paused()";
            if query_one::<bool>(&admin, target, sql).await? {
                return Err(refuse(
                    "WAL replay is already paused on this standby by someone \
                     else (SELECT pg_wal_replay_resume() resumes it)"
                        .to_string(),
                ));
            }
            let sql = "SELECT coalesce(pg_last_wal_replay_lsn()::text, 'nothing yet')";
            let replayed: String = query_one(&admin, target, sql).await?;
            Ok(Plan {
                undo: ReplicationUndo::ResumeReplay {},
                blast_radius: format!(
                    "pause WAL replay on standby {} (replayed up to {replayed}); its reads go \
                     stale while the primary keeps writing",
                    target.conn.masked()
                ),
            })
        }
        Action::PgReplicationSlot(a) => {
            let min_free = value(&a.min_free_disk, target)?.0;
            let slot_name = slot_name(run);
            let failed =
                |e: tokio_postgres::Error| DriverError::failed(target.conn.masked(), describe(&e));
            let row = admin
                .query_one(
                    "SELECT current_setting('wal_level'), \
                     current_setting('max_replication_slots')::int, \
                     (SELECT count(*)::int FROM pg_replication_slots), \
                     coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false), \
                     EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                    &[&slot_name],
                )
                .await
                .map_err(failed)?;
            let wal_level: String = row.try_get(0).map_err(failed)?;
            let (max, used): (i32, i32) = (
                row.try_get(1).map_err(failed)?,
                row.try_get(2).map_err(failed)?,
            );
            first_failing([
                (
                    wal_level == "replica" || wal_level == "logical",
                    format!(
                        "wal_level is \"{wal_level}\"; a replication slot needs wal_level = \
                         replica or logical (changing it needs a restart)"
                    ),
                ),
                (
                    row.try_get(3).map_err(failed)?,
                    format!("role \"{user}\" is not a superuser"),
                ),
                (
                    used < max,
                    format!(
                        "all {max} replication slots are in use \
                         (max_replication_slots; raising it needs a restart)"
                    ),
                ),
                (
                    !row.try_get::<_, bool>(4).map_err(failed)?,
                    format!("a replication slot named {slot_name} already exists"),
                ),
            ])
            .map_err(refuse)?;
            let (data_dir, bytes) = free_disk(&admin, target).await.map_err(refuse)?;
            let (free, min) = (human(bytes), human(min_free));
            if bytes < min_free {
                return Err(refuse(format!(
                    "the filesystem holding {data_dir} has {free} free, less than min_free_disk = {min}"
                )));
            }
            Ok(Plan {
                blast_radius: format!(
                    "create physical replication slot {slot_name}, so WAL piles up in \
                     {data_dir}/pg_wal ({free} free there, refused below {min}; {used} of \
                     {max} slots in use)"
                ),
                undo: ReplicationUndo::DropSlot { slot_name },
            })
        }
        other => Err(DriverError::Input(format!(
            "not a replication fault: {}",
            other.kind()
        ))),
    }
}

/// The reason of the first check that does not hold.
fn first_failing<const N: usize>(checks: [(bool, String); N]) -> Result<(), String> {
    match checks.into_iter().find(|(ok, _)| !ok) {
        Some((_, why)) => Err(why),
        None => Ok(()),
    }
}

pub(super) async fn apply(
    _action: &Action,
    target: &PgTarget,
    _run: &PgRun,
    undo: &ReplicationUndo,
) -> Result<Hold, DriverError> {
    let admin = admin_session(target, "apply").await?;
    match undo {
        ReplicationUndo::ResumeReplay {} => {
            exec(&admin, target, "SELECT pg_wal_replay_pause()", &[]).await?;
        }
        ReplicationUndo::DropSlot { slot_name } => {
            let sql = "SELECT pg_create_physical_replication_slot($1, true)";
            exec(&admin, target, sql, &[slot_name]).await?;
        }
    }
    Ok(Hold::new())
}

pub(super) async fn undo(undo: &ReplicationUndo, target: &PgTarget) -> Result<(), DriverError> {
    let admin = admin_session(target, "undo").await?;
    match undo {
        ReplicationUndo::ResumeReplay {} => {
            if !query_one::<bool>(&admin, target, "SELECT pg_is_in_recovery()").await? {
                return Ok(()); // promoted meanwhile: nothing is replaying, nothing paused
            }
            match admin.execute("SELECT pg_wal_replay_resume()", &[]).await {
                // 55000: recovery ended between the two statements.
                Err(e) if sqlstate(&e) != Some("55000") => {
                    Err(DriverError::failed(target.conn.masked(), describe(&e)))
                }
                _ => Ok(()),
            }
        }
        ReplicationUndo::DropSlot { slot_name } => {
            let sql = "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                       WHERE slot_name = $1";
            exec(&admin, target, sql, &[slot_name]).await
        }
    }
}

pub(super) async fn verify(
    undo: &ReplicationUndo,
    target: &PgTarget,
) -> Result<Verification, DriverError> {
    let admin = admin_session(target, "verify").await?;
    match undo {
        ReplicationUndo::ResumeReplay {} => {
            if !query_one::<bool>(&admin, target, "SELECT pg_is_in_recovery()").await? {
                return Ok(Verification::Verified);
            }
            let sql = "SELECT current_setting('server_version_num')::int >= 140000";
            let state: String = if query_one(&admin, target, sql).await? {
                query_one(&admin, target, "SELECT pg_get_wal_replay_pause_state()").await?
            } else {
                let sql = "SELECT CASE WHEN pg_is_wal_replay_paused() THEN 'paused' ELSE 'not paused' END";
                query_one(&admin, target, sql).await?
            };
            Ok(match state.as_str() {
                "not paused" => Verification::Verified,
                other => {
                    Verification::Residual(format!("WAL replay on the standby is still {other}"))
                }
            })
        }
        ReplicationUndo::DropSlot { slot_name } => {
            let sql = format!(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = {}",
                quote_literal(slot_name)
            );
            Ok(match query_one::<i64>(&admin, target, &sql).await? {
                0 => Verification::Verified,
                _ => Verification::Residual(format!("replication slot {slot_name} still exists")),
            })
        }
    }
}

/// The run id segment of a `chaosdeck:<run>:<fault>` tag, safe inside identifiers.
pub(super) fn run_id(run: &PgRun) -> String {
    let segment = run.tag.split(':').nth(1).filter(|s| !s.is_empty());
    let safe = segment
        .unwrap_or(&run.tag)
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    safe.to_ascii_lowercase()
}

/// `chaosdeck_<run>`, within PostgreSQL's 63-byte name limit.
fn slot_name(run: &PgRun) -> String {
    let mut name = format!("chaosdeck_{}", run_id(run));
    name.truncate(63);
    name
}

async fn exec(
    client: &Client,
    target: &PgTarget,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<(), DriverError> {
    client
        .execute(sql, params)
        .await
        .map(|_| ())
        .map_err(|e| DriverError::failed(target.conn.masked(), format!("{sql}: {}", describe(&e))))
}

/// The server's data directory and the free bytes of its filesystem, measured only
/// when the server runs on this host; the error is the reason for refusing.
async fn free_disk(admin: &Client, target: &PgTarget) -> Result<(String, u64), String> {
    if let Some(host) = remote_host(target.conn.masked()) {
        return Err(format!(
            "cannot check free disk on a remote server (host {host}); run chaosdeck on the \
             database host"
        ));
    }
    // The server's own view: no TCP address (a Unix socket) or a loopback one.
    let sql = "SELECT host(inet_server_addr())";
    let addr: Option<String> = query_one(admin, target, sql)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(addr) = addr.filter(|a| !IpAddr::from_str(a).is_ok_and(|ip| ip.is_loopback())) {
        return Err(format!(
            "cannot check free disk on a remote server (it answers on {addr}); run chaosdeck \
             on the database host"
        ));
    }
    let data_dir: String = query_one(admin, target, "SHOW data_directory")
        .await
        .map_err(|e| e.to_string())?;
    let stat = nix::sys::statvfs::statvfs(data_dir.as_str()).map_err(|e| {
        format!(
            "cannot check free disk: the data directory \"{data_dir}\" is not reachable on \
             this host ({e}); is the server remote?"
        )
    })?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    let bytes = (stat.blocks_available() as u64).saturating_mul(stat.fragment_size() as u64);
    Ok((data_dir, bytes))
}

/// The first host of a connection string that is not this machine, if any.
fn remote_host(conn: &str) -> Option<String> {
    let Ok(config) = tokio_postgres::Config::from_str(conn) else {
        return Some("(cannot tell from the connection string)".to_string());
    };
    let is_local = |name: &str| {
        name.eq_ignore_ascii_case("localhost")
            || IpAddr::from_str(name).is_ok_and(|ip| ip.is_loopback())
    };
    if let Some(addr) = config.get_hostaddrs().iter().find(|a| !a.is_loopback()) {
        return Some(addr.to_string());
    }
    if !config.get_hostaddrs().is_empty() {
        return None; // hostaddr decides where libpq connects
    }
    config.get_hosts().iter().find_map(|host| match host {
        Host::Tcp(name) if !is_local(name) => Some(name.clone()),
        _ => None,
    })
}

/// Bytes for people: `1.5 GiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_and_sockets_count_as_local() {
        for (conn, remote) in [
            ("host=127.0.0.1 port=5432 user=postgres password=***", None),
            ("host=localhost,/var/run/postgresql user=x", None),
            ("postgres://app:***@[::1]:5432/shop", None),
            ("host=db.internal user=x", Some("db.internal")),
            ("host=localhost hostaddr=10.0.0.5 user=x", Some("10.0.0.5")),
            (
                "host=x (database y)",
                Some("(cannot tell from the connection string)"),
            ),
        ] {
            assert_eq!(remote_host(conn).as_deref(), remote, "{conn}");
        }
    }

    #[test]
    fn names_come_from_the_run_id() {
        let run = PgRun::new("3fa9c2d1", "db-lag", std::time::Duration::from_secs(60));
        assert_eq!(slot_name(&run), "chaosdeck_3fa9c2d1");
        assert_eq!(human(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }
}
