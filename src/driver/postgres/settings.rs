//! Server settings changed with ALTER SYSTEM (and a reload) or ALTER ROLE … SET,
//! restored exactly: the entry postgresql.auto.conf or pg_db_role_setting had is
//! captured before the change and written back (or reset) at teardown.
//!
//! Also the small SQL helpers the lock, storage and role families share.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Client;

use super::conn::describe;
use super::sessions::quote_literal;
use super::{admin_session, PgRun, PgTarget};
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// How long a configuration reload may take to reach chaosdeck's sessions.
const RELOAD_WAIT: Duration = Duration::from_secs(5);

/// Settings whose values are lists: each element is written as its own literal so
/// the text PostgreSQL stores round-trips exactly.
const LIST_SETTINGS: &str = "datestyle search_path temp_tablespaces log_destination \
    local_preload_libraries session_preload_libraries shared_preload_libraries \
    wal_consistency_checking createrole_self_grant restrict_nonsystem_relation_kind";

/// Settings whose wrong value makes every new login fail, chaosdeck's teardown included.
const LOGIN_BREAKERS: [&str; 2] = ["local_preload_libraries", "session_preload_libraries"];

/// What it takes to undo a changed setting, captured before the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum SettingUndo {
    /// `ALTER SYSTEM`: the entry postgresql.auto.conf had (`None`: not set there)
    /// and the value new sessions got from the server's configuration
    /// (`pg_settings.reset_val`; `None` when sessions get it from elsewhere, such as
    /// the client or a role setting, so a reload cannot show in it).
    System {
        name: String,
        auto_conf: Option<String>,
        effective: Option<String>,
    },
    /// `ALTER ROLE … SET`: the role's entry for all databases (`None`: not set).
    Role {
        role: String,
        name: String,
        previous: Option<String>,
    },
}

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    _run: &PgRun,
) -> Result<Plan<SettingUndo>, DriverError> {
    let Action::PgSetting(s) = action else {
        return Err(wrong_action(action));
    };
    let refuse = |reason: String| refuse(target, action, reason);
    // Read pg_settings before this session overrides anything with SET.
    let admin = admin_session(target, "plan").await?;
    let sql = "SELECT ARRAY[name, context, reset_val, source, coalesce(unit, '')] \
               FROM pg_settings WHERE lower(name) = lower($1)";
    let Some(found) = fetch_opt::<Vec<String>>(&admin, target, sql, &[&s.name]).await? else {
        return Err(refuse(format!(
            "unknown setting \"{}\": it is not in pg_settings",
            s.name
        )));
    };
    let [name, context, effective, source, unit] = <[String; 5]>::try_from(found)
        .map_err(|_| DriverError::failed(target.conn.masked(), "pg_settings: odd row"))?;
    steady(&admin, target).await?;
    let sql = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user";
    if !fetch::<bool>(&admin, target, sql, &[]).await? {
        return Err(refuse(format!(
            "ALTER SYSTEM and ALTER ROLE … SET need a superuser, and {} is not one",
            target.conn.user()
        )));
    }
    let reason = match context.as_str() {
        "postmaster" => format!(
            "{name} takes effect only after a server restart (context postmaster); \
             chaosdeck changes only settings that a reload or a new session applies"
        ),
        "internal" => format!("{name} is fixed when the server is built and cannot be changed"),
        _ if LOGIN_BREAKERS.contains(&name.to_ascii_lowercase().as_str()) => {
            format!("a wrong {name} makes every new login fail, chaosdeck's teardown included")
        }
        _ => String::new(),
    };
    if !reason.is_empty() {
        return Err(refuse(reason));
    }
    let Some(role) = &s.role else {
        if source == "command line" {
            return Err(refuse(format!(
                "{name} is set on the server's command line, which overrides ALTER SYSTEM: \
                 the change would have no effect"
            )));
        }
        let auto_conf = auto_conf_entry(&admin, target, &name).await?;
        let blast_radius = format!(
            "set {name} = '{}' for the whole server with ALTER SYSTEM and reload \
             (now {effective}{unit}; in postgresql.auto.conf: {})",
            s.value,
            shown(&auto_conf)
        );
        let server_wide = [
            "default",
            "configuration file",
            "environment variable",
            "global",
        ];
        let effective = server_wide.contains(&source.as_str()).then_some(effective);
        let undo = SettingUndo::System {
            name,
            auto_conf,
            effective,
        };
        return Ok(Plan { undo, blast_radius });
    };
    if !matches!(
        context.as_str(),
        "user" | "superuser" | "backend" | "superuser-backend"
    ) {
        return Err(refuse(format!(
            "{name} can only be set for the whole server (context {context}); \
             leave out role to change it with ALTER SYSTEM"
        )));
    }
    let sql = "SELECT (SELECT count(*) FROM pg_stat_activity WHERE usename = r.rolname) \
               FROM pg_roles r WHERE r.rolname = $1";
    let Some(sessions) = fetch_opt::<i64>(&admin, target, sql, &[role]).await? else {
        return Err(refuse(format!("role \"{role}\" does not exist")));
    };
    let previous = role_entry(&admin, target, role, &name).await?;
    let blast_radius = format!(
        "set {name} = '{}' for new sessions of role {role} with ALTER ROLE \
         (role setting now: {}; its {sessions} open sessions keep their value)",
        s.value,
        shown(&previous)
    );
    let role = role.clone();
    let undo = SettingUndo::Role {
        role,
        name,
        previous,
    };
    Ok(Plan { undo, blast_radius })
}

pub(super) async fn apply(
    action: &Action,
    target: &PgTarget,
    _run: &PgRun,
    undo: &SettingUndo,
) -> Result<Hold, DriverError> {
    let Action::PgSetting(s) = action else {
        return Err(wrong_action(action));
    };
    let admin = steady_session(target, "apply").await?;
    let new = |name: &str| format!("{} = {}", quote_ident(name), value_sql(name, &s.value));
    match undo {
        SettingUndo::System { name, .. } => {
            exec(&admin, target, &format!("ALTER SYSTEM SET {}", new(name))).await?;
            reload(&admin, target).await?;
        }
        SettingUndo::Role { role, name, .. } => {
            let sql = format!("ALTER ROLE {} SET {}", quote_ident(role), new(name));
            exec(&admin, target, &sql).await?;
        }
    }
    Ok(Hold::new())
}

pub(super) async fn undo(undo: &SettingUndo, target: &PgTarget) -> Result<(), DriverError> {
    let admin = steady_session(target, "undo").await?;
    let restore = |name: &str, was: &Option<String>| match was {
        Some(v) => format!("SET {} = {}", quote_ident(name), value_sql(name, v)),
        None => format!("RESET {}", quote_ident(name)),
    };
    match undo {
        SettingUndo::System {
            name, auto_conf, ..
        } => {
            let sql = format!("ALTER SYSTEM {}", restore(name, auto_conf));
            exec(&admin, target, &sql).await?;
            reload(&admin, target).await
        }
        SettingUndo::Role {
            role,
            name,
            previous,
        } => {
            let sql = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)";
            if !fetch::<bool>(&admin, target, sql, &[role]).await? {
                tracing::warn!("{}: role {role} is gone", target.conn.masked());
                return Ok(());
            }
            let sql = format!(
                "ALTER ROLE {} {}",
                quote_ident(role),
                restore(name, previous)
            );
            exec(&admin, target, &sql).await
        }
    }
}

pub(super) async fn verify(
    undo: &SettingUndo,
    target: &PgTarget,
) -> Result<Verification, DriverError> {
    let admin = steady_session(target, "verify").await?;
    let (role, name, want) = match undo {
        SettingUndo::Role {
            role,
            name,
            previous,
        } => (role, name, previous),
        SettingUndo::System {
            name,
            auto_conf,
            effective,
        } => {
            let deadline = tokio::time::Instant::now() + RELOAD_WAIT;
            let sql = "SELECT reset_val FROM pg_settings WHERE name = $1";
            loop {
                let conf = auto_conf_entry(&admin, target, name).await?;
                let now: String = fetch(&admin, target, sql, &[name]).await?;
                let now_ok = effective.as_ref().is_none_or(|e| *e == now);
                if conf == *auto_conf && now_ok {
                    return Ok(Verification::Verified);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Ok(Verification::Residual(format!(
                        "{name}: postgresql.auto.conf has {} (expected {}); new sessions get \
                         {now} (expected {})",
                        shown(&conf),
                        shown(auto_conf),
                        shown(effective)
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let now = role_entry(&admin, target, role, name).await?;
    Ok(if now == *want {
        Verification::Verified
    } else {
        Verification::Residual(format!(
            "role {role}: {name} is {} (expected {})",
            shown(&now),
            shown(want)
        ))
    })
}

/// The entry for `name` in postgresql.auto.conf, as the server reads the file now.
async fn auto_conf_entry(
    client: &Client,
    target: &PgTarget,
    name: &str,
) -> Result<Option<String>, DriverError> {
    let sql = "SELECT setting FROM pg_file_settings WHERE lower(name) = lower($1) \
               AND sourcefile LIKE '%postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1";
    fetch_opt(client, target, sql, &[&name]).await
}

/// A role's own value of `name` for all databases, from pg_db_role_setting.
async fn role_entry(
    client: &Client,
    target: &PgTarget,
    role: &str,
    name: &str,
) -> Result<Option<String>, DriverError> {
    let sql = "SELECT substr(cfg, strpos(cfg, '=') + 1) FROM pg_db_role_setting s \
               JOIN pg_roles r ON r.oid = s.setrole, unnest(s.setconfig) cfg \
               WHERE r.rolname = $1 AND s.setdatabase = 0 \
                 AND lower(split_part(cfg, '=', 1)) = lower($2)";
    fetch_opt(client, target, sql, &[&role, &name]).await
}

/// Reloads the configuration and waits until this session has re-read it.
async fn reload(client: &Client, target: &PgTarget) -> Result<(), DriverError> {
    let loaded = "SELECT pg_conf_load_time()::text";
    let before: String = fetch(client, target, loaded, &[]).await?;
    exec(client, target, "SELECT pg_reload_conf()").await?;
    let deadline = tokio::time::Instant::now() + RELOAD_WAIT;
    while fetch::<String>(client, target, loaded, &[]).await? == before {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                "{}: the reload did not arrive in time",
                target.conn.masked()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The SQL for a value of `name`: one literal, or one per element of a list setting.
fn value_sql(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if !LIST_SETTINGS.split_whitespace().any(|n| n == lower) {
        return quote_literal(value);
    }
    let literals: Vec<String> = split_list(value).iter().map(|e| quote_literal(e)).collect();
    literals.join(", ")
}

/// Splits a stored list value (`"$user", public`) into its elements.
fn split_list(text: &str) -> Vec<String> {
    let (mut items, mut item, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => item.push(chars.next().unwrap_or(c)),
            '"' => quoted = !quoted,
            ',' if !quoted => items.push(std::mem::take(&mut item)),
            c if c.is_whitespace() && !quoted => {}
            c => item.push(c),
        }
    }
    items.push(item);
    items
}

fn shown(value: &Option<String>) -> String {
    value
        .as_ref()
        .map_or("not set".to_string(), |v| format!("'{v}'"))
}

/// Quotes an identifier for SQL.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A session for chaosdeck's own reads and undo steps that a fault's settings cannot
/// break: no statement timeout, writable, lock waits bounded.
pub(super) async fn steady_session(
    target: &PgTarget,
    purpose: &str,
) -> Result<Client, DriverError> {
    let client = admin_session(target, purpose).await?;
    steady(&client, target).await?;
    Ok(client)
}

async fn steady(client: &Client, target: &PgTarget) -> Result<(), DriverError> {
    let sql = "SET statement_timeout = 0; SET lock_timeout = '10s'; \
               SET default_transaction_read_only = off";
    exec(client, target, sql).await
}

/// Runs SQL without results, naming the statement on failure.
pub(super) async fn exec(client: &Client, target: &PgTarget, sql: &str) -> Result<(), DriverError> {
    client
        .batch_execute(sql)
        .await
        .map_err(|e| DriverError::failed(target.conn.masked(), format!("{sql}: {}", describe(&e))))
}

/// The first column of the one row `sql` returns.
pub(super) async fn fetch<T: for<'a> FromSql<'a>>(
    client: &Client,
    target: &PgTarget,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<T, DriverError> {
    let row = client.query_one(sql, params).await;
    row.and_then(|r| r.try_get(0))
        .map_err(|e| pg_failed(target, &e))
}

/// The first column of the row `sql` returns, if it returns one.
pub(super) async fn fetch_opt<T: for<'a> FromSql<'a>>(
    client: &Client,
    target: &PgTarget,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<T>, DriverError> {
    let row = client.query_opt(sql, params).await;
    row.and_then(|r| r.map(|r| r.try_get(0)).transpose())
        .map_err(|e| pg_failed(target, &e))
}

pub(super) fn pg_failed(target: &PgTarget, e: &tokio_postgres::Error) -> DriverError {
    DriverError::failed(target.conn.masked(), describe(e))
}

/// A precondition that does not hold for `action`; nothing was touched.
pub(super) fn refuse(target: &PgTarget, action: &Action, reason: String) -> DriverError {
    DriverError::precondition(target.conn.masked(), action.kind(), reason)
}

pub(super) fn wrong_action(action: &Action) -> DriverError {
    DriverError::Input(format!(
        "{} is not handled by this driver family",
        action.kind()
    ))
}
