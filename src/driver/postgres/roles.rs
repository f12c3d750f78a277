//! Role and database faults: a changed password, a per-role connection limit, a
//! renamed database. Each captures the exact previous state first: the password hash
//! (never a password, never shown), the limit, the database's name.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::conn::sqlstate;
use super::sessions::value;
use super::settings::{exec, fetch, fetch_opt, pg_failed, quote_ident, refuse, steady_session};
use super::{PgRun, PgTarget};
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// How long undo keeps trying to rename a database back while sessions leave it.
const RENAME_WAIT: Duration = Duration::from_secs(5);

/// Gives the role named in the session variable `chaosdeck.role` a random password
/// made on the server: no password travels, none reaches a statement or error log.
const RANDOM_PASSWORD: &str = "DO $cd$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', \
    current_setting('chaosdeck.role'), gen_random_uuid()::text || gen_random_uuid()::text); END $cd$";
/// Writes back the hash held in the session variable `chaosdeck.hash`.
const RESTORE_HASH: &str = "DO $cd$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', \
    current_setting('chaosdeck.role'), current_setting('chaosdeck.hash')); END $cd$";
const RESTORE_NO_PASSWORD: &str = "DO $cd$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD NULL', \
    current_setting('chaosdeck.role')); END $cd$";

/// What it takes to undo a role or database fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum RolesUndo {
    /// The role's stored verifier (`None`: it had no password).
    Password {
        role: String,
        hash: Option<PasswordHash>,
    },
    ConnectionLimit {
        role: String,
        limit: i32,
    },
    RenameDatabase {
        database: String,
        renamed_to: String,
    },
}

/// A role's stored password verifier (SCRAM or md5), as read from pg_authid.
/// Journaled for the undo; never shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
) -> Result<Plan<RolesUndo>, DriverError> {
    let refuse = |reason: String| refuse(target, action, reason);
    let role = match action {
        Action::PgChangePassword(a) => &a.role,
        Action::PgRoleConnectionLimit(a) => &a.role,
        Action::PgRenameDatabase(a) => return plan_rename(action, target, run, &a.database).await,
        other => return Err(super::settings::wrong_action(other)),
    };
    let admin = steady_session(target, "plan").await?;
    let own: String = fetch(&admin, target, "SELECT session_user::text", &[]).await?;
    if role == &own || role == target.conn.user() {
        return Err(refuse(format!(
            "role {role} is the one chaosdeck connects as: this would lock chaosdeck out of its \
             own teardown; pick the role the application logs in as"
        )));
    }
    let sql = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user";
    if !fetch::<bool>(&admin, target, sql, &[]).await? {
        return Err(refuse(format!(
            "this needs a superuser, and {own} is not one"
        )));
    }
    let sql = "SELECT ARRAY[r.rolsuper::int, r.rolconnlimit, \
               (SELECT count(*) FROM pg_stat_activity WHERE usename = r.rolname)::int] \
               FROM pg_roles r WHERE r.rolname = $1";
    let Some(found) = fetch_opt::<Vec<i32>>(&admin, target, sql, &[role]).await? else {
        return Err(refuse(format!("role \"{role}\" does not exist")));
    };
    let &[superuser, limit, sessions] = found.as_slice() else {
        return Err(DriverError::failed(
            target.conn.masked(),
            "pg_roles: odd row",
        ));
    };
    if let Action::PgRoleConnectionLimit(a) = action {
        let new = value(&a.limit, target)?;
        if new < -1 {
            return Err(DriverError::Input(format!(
                "{}: invalid limit \"{new}\"; expected -1 (no limit) or more",
                target.conn.masked()
            )));
        }
        if superuser == 1 {
            return Err(refuse(format!(
                "role {role} is a superuser, and connection limits do not apply to superusers; \
                 pick the non-superuser role the application logs in as"
            )));
        }
        let was = match limit {
            -1 => "no limit".to_string(),
            n => n.to_string(),
        };
        let blast_radius = format!(
            "limit role {role} to {new} connections (now {was}); its {sessions} open sessions \
             stay, new ones beyond {new} are refused"
        );
        let role = role.clone();
        let undo = RolesUndo::ConnectionLimit { role, limit };
        return Ok(Plan { undo, blast_radius });
    }
    let sql = "SELECT rolpassword FROM pg_authid WHERE rolname = $1";
    let hash: Option<String> = fetch(&admin, target, sql, &[role]).await?;
    let note = if hash.is_none() {
        " (it has no password now)"
    } else {
        ""
    };
    let blast_radius = format!(
        "change the password of role {role}{note}: new logins with its current password fail; \
         its {sessions} open sessions stay connected"
    );
    let (role, hash) = (role.clone(), hash.map(PasswordHash));
    Ok(Plan {
        undo: RolesUndo::Password { role, hash },
        blast_radius,
    })
}

async fn plan_rename(
    action: &Action,
    target: &PgTarget,
    run: &PgRun,
    database: &str,
) -> Result<Plan<RolesUndo>, DriverError> {
    let side = beside(target, database);
    let admin = steady_session(&side, "plan").await?;
    let renamed_to = renamed_name(database, &run.tag);
    let (exists, taken) = databases_exist(&admin, &side, database, &renamed_to).await?;
    let (n, ours) = connected(&admin, &side, database).await?;
    let reason = if !exists {
        format!("database \"{database}\" does not exist")
    } else if taken {
        format!("database \"{renamed_to}\" already exists")
    } else if n > 0 {
        let ours = match ours {
            0 => String::new(),
            k => format!(" ({k} of them chaosdeck's own)"),
        };
        let s = if n == 1 { "" } else { "s" };
        format!(
            "{n} session{s} connected to {database}{ours}; end them first or pick another database"
        )
    } else {
        let blast_radius = format!(
            "rename database {database} to {renamed_to} (0 sessions connected): new connections \
             to {database} fail with \"database does not exist\" until teardown renames it back"
        );
        let database = database.to_string();
        let undo = RolesUndo::RenameDatabase {
            database,
            renamed_to,
        };
        return Ok(Plan { undo, blast_radius });
    };
    Err(refuse(target, action, reason))
}

pub(super) async fn apply(
    action: &Action,
    target: &PgTarget,
    _run: &PgRun,
    undo: &RolesUndo,
) -> Result<Hold, DriverError> {
    match (action, undo) {
        (Action::PgChangePassword(_), RolesUndo::Password { role, .. }) => {
            let admin = quiet_session(target, role).await?;
            exec(&admin, target, RANDOM_PASSWORD).await?;
        }
        (Action::PgRoleConnectionLimit(a), RolesUndo::ConnectionLimit { role, .. }) => {
            let admin = steady_session(target, "apply").await?;
            let (role, limit) = (quote_ident(role), value(&a.limit, target)?);
            let sql = format!("ALTER ROLE {role} CONNECTION LIMIT {limit}");
            exec(&admin, target, &sql).await?;
        }
        (
            Action::PgRenameDatabase(_),
            RolesUndo::RenameDatabase {
                database,
                renamed_to,
            },
        ) => {
            let side = beside(target, database);
            let admin = steady_session(&side, "apply").await?;
            let sql = format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote_ident(database),
                quote_ident(renamed_to)
            );
            if let Err(e) = admin.batch_execute(&sql).await {
                if sqlstate(&e) != Some("55006") {
                    return Err(pg_failed(&side, &e));
                }
                let (n, _) = connected(&admin, &side, database).await?;
                let reason = format!(
                    "{n} sessions connected to {database}; end them first or pick another database"
                );
                return Err(refuse(target, action, reason));
            }
        }
        _ => return Err(super::settings::wrong_action(action)),
    }
    Ok(Hold::new())
}

pub(super) async fn undo(undo: &RolesUndo, target: &PgTarget) -> Result<(), DriverError> {
    match undo {
        RolesUndo::Password { role, hash } => {
            let admin = quiet_session(target, role).await?;
            if !role_exists(&admin, target, role).await? {
                return Ok(());
            }
            let Some(PasswordHash(hash)) = hash else {
                return exec(&admin, target, RESTORE_NO_PASSWORD).await;
            };
            let sql = "SELECT set_config('chaosdeck.hash', $1, false)";
            fetch::<String>(&admin, target, sql, &[hash]).await?;
            exec(&admin, target, RESTORE_HASH).await
        }
        RolesUndo::ConnectionLimit { role, limit } => {
            let admin = steady_session(target, "undo").await?;
            if !role_exists(&admin, target, role).await? {
                return Ok(());
            }
            let sql = format!("ALTER ROLE {} CONNECTION LIMIT {limit}", quote_ident(role));
            exec(&admin, target, &sql).await
        }
        RolesUndo::RenameDatabase {
            database,
            renamed_to,
        } => rename_back(target, database, renamed_to).await,
    }
}

pub(super) async fn verify(
    undo: &RolesUndo,
    target: &PgTarget,
) -> Result<Verification, DriverError> {
    let residual = match undo {
        RolesUndo::Password { role, hash } => {
            let admin = steady_session(target, "verify").await?;
            let hash = hash.as_ref().map(|PasswordHash(h)| h.as_str());
            let sql =
                "SELECT rolpassword IS NOT DISTINCT FROM $2 FROM pg_authid WHERE rolname = $1";
            match fetch_opt::<bool>(&admin, target, sql, &[role, &hash]).await? {
                Some(true) => None,
                Some(false) => Some(format!("role {role} does not have its previous password")),
                None => Some(format!("role {role} no longer exists")),
            }
        }
        RolesUndo::ConnectionLimit { role, limit } => {
            let admin = steady_session(target, "verify").await?;
            let sql = "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1";
            match fetch_opt::<i32>(&admin, target, sql, &[role]).await? {
                Some(now) if now == *limit => None,
                Some(now) => Some(format!(
                    "role {role} has connection limit {now}, not {limit}"
                )),
                None => Some(format!("role {role} no longer exists")),
            }
        }
        RolesUndo::RenameDatabase {
            database,
            renamed_to,
        } => {
            let side = beside(target, database);
            let admin = steady_session(&side, "verify").await?;
            match databases_exist(&admin, &side, database, renamed_to).await? {
                (true, false) => None,
                (_, true) => Some(format!("database {database} is still named {renamed_to}")),
                (false, false) => Some(format!("database {database} does not exist")),
            }
        }
    };
    Ok(residual.map_or(Verification::Verified, Verification::Residual))
}

/// Renames `renamed_to` back to `database`; Ok when that is already so. Sessions
/// that opened the database by its chaosdeck name are ended so the rename can run.
async fn rename_back(
    target: &PgTarget,
    database: &str,
    renamed_to: &str,
) -> Result<(), DriverError> {
    let side = beside(target, database);
    let admin = steady_session(&side, "undo").await?;
    let stuck = match databases_exist(&admin, &side, database, renamed_to).await? {
        (true, false) => return Ok(()),
        (false, true) => None,
        (true, true) => Some(format!(
            "both {database} and {renamed_to} exist: a new {database} was created during the \
             fault; rename or drop one of them by hand"
        )),
        (false, false) => Some(format!(
            "neither {database} nor {renamed_to} exists: someone renamed or dropped it"
        )),
    };
    if let Some(why) = stuck {
        return Err(DriverError::failed(side.conn.masked(), why));
    }
    let sql = format!(
        "ALTER DATABASE {} RENAME TO {}",
        quote_ident(renamed_to),
        quote_ident(database)
    );
    let deadline = tokio::time::Instant::now() + RENAME_WAIT;
    loop {
        match admin.batch_execute(&sql).await {
            Ok(()) => return Ok(()),
            Err(e) if sqlstate(&e) == Some("55006") && tokio::time::Instant::now() < deadline => {
                let end = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                           WHERE datname = $1 AND pid <> pg_backend_pid()";
                fetch::<i64>(&admin, &side, end, &[&renamed_to]).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(pg_failed(&side, &e)),
        }
    }
}

/// A steady session that names `role` in `chaosdeck.role` and logs no statements,
/// for the password steps.
async fn quiet_session(target: &PgTarget, role: &str) -> Result<Client, DriverError> {
    let admin = steady_session(target, "password").await?;
    let quiet = "SET log_statement = 'none'; SET log_min_duration_statement = -1";
    exec(&admin, target, quiet).await?;
    let sql = "SELECT set_config('chaosdeck.role', $1, false)";
    fetch::<String>(&admin, target, sql, &[&role]).await?;
    Ok(admin)
}

async fn role_exists(admin: &Client, target: &PgTarget, role: &str) -> Result<bool, DriverError> {
    let sql = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)";
    fetch(admin, target, sql, &[&role]).await
}

/// Whether databases `a` and `b` exist.
async fn databases_exist(
    admin: &Client,
    target: &PgTarget,
    a: &str,
    b: &str,
) -> Result<(bool, bool), DriverError> {
    let sql = "SELECT ARRAY[$1 IN (SELECT datname::text FROM pg_database), \
                            $2 IN (SELECT datname::text FROM pg_database)]";
    let found: Vec<bool> = fetch(admin, target, sql, &[&a, &b]).await?;
    Ok((found.first() == Some(&true), found.get(1) == Some(&true)))
}

/// Sessions connected to `database` (other than this one), and how many are chaosdeck's.
async fn connected(
    admin: &Client,
    target: &PgTarget,
    database: &str,
) -> Result<(i64, i64), DriverError> {
    let sql =
        "SELECT ARRAY[count(*), count(*) FILTER (WHERE application_name LIKE 'chaosdeck:%')] \
               FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()";
    let counts: Vec<i64> = fetch(admin, target, sql, &[&database]).await?;
    Ok((
        counts.first().copied().unwrap_or(0),
        counts.get(1).copied().unwrap_or(0),
    ))
}

/// The same server reached through another database than `database`, so chaosdeck's
/// own sessions never keep `database` busy.
fn beside(target: &PgTarget, database: &str) -> PgTarget {
    let home = if database == "postgres" {
        "template1"
    } else {
        "postgres"
    };
    PgTarget {
        conn: target.conn.with_dbname(home),
        ..target.clone()
    }
}

/// `<database>_chaosdeck_<run>`, shortened to PostgreSQL's 63-byte names.
fn renamed_name(database: &str, tag: &str) -> String {
    let run = tag
        .split(':')
        .nth(1)
        .filter(|r| !r.is_empty())
        .unwrap_or("run");
    let suffix = format!("_chaosdeck_{run}");
    let mut keep = 63usize.saturating_sub(suffix.len()).min(database.len());
    while !database.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &database[..keep])
}
