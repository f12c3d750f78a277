//! One probe of `targets.yaml` turned into a [`ProbeSpec`]: exactly one check key,
//! no key that belongs to another kind of check, and values that can work.

use std::collections::BTreeMap;

use super::error::{unknown_name, ConfigError, Ctx};
use super::model::RawProbe;
use super::path::FieldPath;
use super::resolve::{positive, selector};
use super::values::{host_port, http_url, is_probe_name, NAME_RULE};
use super::{ObserveConfig, TargetConfig};
use crate::observe::{ProbeCheck, ProbeSpec};

/// The keys that choose a probe's kind of check.
const CHECK_KEYS: [&str; 6] = ["http", "tcp", "sql", "container", "process", "command"];

/// Keys that only one kind of check takes, with that kind.
const OWNED_KEYS: [(&str, &str); 7] = [
    ("status", "http"),
    ("body", "http"),
    ("postgres", "sql"),
    ("expect", "sql"),
    ("fresh_connection", "sql"),
    ("healthy", "container"),
    ("exit_code", "command"),
];

fn has(raw: &RawProbe, key: &str) -> bool {
    match key {
        "http" => raw.http.is_some(),
        "tcp" => raw.tcp.is_some(),
        "sql" => raw.sql.is_some(),
        "container" => raw.container.is_some(),
        "process" => raw.process.is_some(),
        "command" => raw.command.is_some(),
        "status" => raw.status.is_some(),
        "body" => raw.body.is_some(),
        "postgres" => raw.postgres.is_some(),
        "expect" => raw.expect.is_some(),
        "fresh_connection" => raw.fresh_connection.is_some(),
        "healthy" => raw.healthy.is_some(),
        "exit_code" => raw.exit_code.is_some(),
        _ => false,
    }
}

pub(super) fn non_empty(
    ctx: &Ctx,
    at: &FieldPath,
    value: &str,
    example: &str,
) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(ctx.at_value(at, &format!("is empty; expected {example}")));
    }
    Ok(())
}

/// One probe, checked; `observe` gives the default interval and timeout.
pub(super) fn probe(
    ctx: &Ctx,
    at: &FieldPath,
    raw: RawProbe,
    targets: &BTreeMap<String, TargetConfig>,
    observe: &ObserveConfig,
) -> Result<ProbeSpec, ConfigError> {
    if !is_probe_name(&raw.name) {
        let message = format!("invalid probe name \"{}\"; {NAME_RULE}", raw.name);
        return Err(ctx.at_value(&at.key("name"), &message));
    }
    let kinds: Vec<&str> = CHECK_KEYS.into_iter().filter(|k| has(&raw, k)).collect();
    let kind = match kinds.as_slice() {
        [kind] => *kind,
        [] => {
            let message = "no check; give exactly one of http, tcp, sql, container, \
                           process or command";
            return Err(ctx.at_value(at, message));
        }
        [first, second, ..] => {
            let message = format!(
                "a probe runs one check, but this one has \"{first}\" and \"{second}\"; \
                 split it into two probes"
            );
            return Err(ctx.at_key(&at.key(second), &message));
        }
    };
    for (key, owner) in OWNED_KEYS {
        if owner != kind && has(&raw, key) {
            let article = if matches!(kind, "http" | "sql") {
                "an"
            } else {
                "a"
            };
            let message = format!(
                "\"{key}\" belongs to {owner} probes, but this is {article} {kind} probe; remove it"
            );
            return Err(ctx.at_key(&at.key(key), &message));
        }
    }
    let interval = positive(ctx, &at.key("interval"), raw.interval, observe.interval)?;
    let timeout = positive(ctx, &at.key("timeout"), raw.timeout, observe.timeout)?;
    let check = check(ctx, at, kind, &raw, targets)?;
    Ok(ProbeSpec {
        name: raw.name,
        check,
        interval,
        timeout,
    })
}

fn check(
    ctx: &Ctx,
    at: &FieldPath,
    kind: &str,
    raw: &RawProbe,
    targets: &BTreeMap<String, TargetConfig>,
) -> Result<ProbeCheck, ConfigError> {
    let here = at.key(kind);
    let bad = |message: String| ctx.at_value(&here, &message);
    match (kind, raw) {
        (
            "http",
            RawProbe {
                http: Some(url), ..
            },
        ) => {
            http_url(url).map_err(|why| {
                bad(format!(
                    "invalid URL \"{url}\": {why}; expected http://HOST[:PORT]/PATH"
                ))
            })?;
            if let Some(status) = raw.status.filter(|s| !(100..=599).contains(s)) {
                let message = format!(
                    "invalid status {status}; expected an HTTP status code from 100 to 599, such as 200"
                );
                return Err(ctx.at_value(&at.key("status"), &message));
            }
            Ok(ProbeCheck::Http {
                url: url.clone(),
                status: raw.status,
                body_contains: raw.body.clone(),
            })
        }
        (
            "tcp",
            RawProbe {
                tcp: Some(addr), ..
            },
        ) => {
            host_port(addr).map_err(|why| {
                bad(format!(
                    "invalid address \"{addr}\": {why}; expected HOST:PORT such as 127.0.0.1:8080"
                ))
            })?;
            Ok(ProbeCheck::Tcp {
                addr: addr.trim().to_string(),
            })
        }
        (
            "sql",
            RawProbe {
                sql: Some(query), ..
            },
        ) => {
            non_empty(ctx, &here, query, "a query such as SELECT 1")?;
            let conn = sql_conn(ctx, at, raw.postgres.as_deref(), targets)?;
            Ok(ProbeCheck::Sql {
                conn,
                query: query.clone(),
                expect: raw.expect.clone(),
                fresh_connection: raw.fresh_connection.unwrap_or(false),
            })
        }
        (
            "container",
            RawProbe {
                container: Some(name),
                ..
            },
        ) => {
            non_empty(ctx, &here, name, "a container name such as shop-web")?;
            Ok(ProbeCheck::Container {
                name: name.clone(),
                healthy: raw.healthy.unwrap_or(false),
            })
        }
        (
            "process",
            RawProbe {
                process: Some(p), ..
            },
        ) => Ok(ProbeCheck::Process {
            selector: selector(ctx, &here, p)?,
        }),
        (
            "command",
            RawProbe {
                command: Some(argv),
                ..
            },
        ) => {
            if argv.first().is_none_or(|program| program.trim().is_empty()) {
                return Err(bad(
                    "no program to run; expected a list of arguments such as \
                                [kubectl, rollout, status, deploy/shop]"
                        .to_string(),
                ));
            }
            Ok(ProbeCheck::Command {
                argv: argv.clone(),
                exit_code: raw.exit_code.unwrap_or(0),
            })
        }
        _ => Err(bad(format!("unknown check \"{kind}\""))),
    }
}

/// The connection an sql probe uses: that of the target `postgres:` names, or of
/// the only target with one.
fn sql_conn(
    ctx: &Ctx,
    at: &FieldPath,
    named: Option<&str>,
    targets: &BTreeMap<String, TargetConfig>,
) -> Result<crate::driver::postgres::PgConnSpec, ConfigError> {
    let with_pg: Vec<&str> = targets
        .iter()
        .filter(|(_, t)| t.postgres.is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    let listed = || {
        let names: Vec<String> = with_pg.iter().map(|n| format!("\"{n}\"")).collect();
        if names.is_empty() {
            "no target has a postgres connection yet (postgres: { conn: … })".to_string()
        } else {
            format!("targets with postgres: {}", names.join(", "))
        }
    };
    let name = match (named, with_pg.as_slice()) {
        (Some(name), _) => name,
        (None, [only]) => only,
        (None, _) => {
            let message = format!(
                "an sql probe needs \"postgres: TARGET\", naming the target whose connection it uses; {}",
                listed()
            );
            return Err(ctx.at_value(&at.key("sql"), &message));
        }
    };
    match targets.get(name) {
        Some(TargetConfig {
            postgres: Some(pg), ..
        }) => Ok(pg.conn.clone()),
        Some(_) => {
            let message = format!("target \"{name}\" has no postgres connection; {}", listed());
            Err(ctx.at_value(&at.key("postgres"), &message))
        }
        None => {
            let known: Vec<&str> = targets.keys().map(String::as_str).collect();
            let message = unknown_name("target", name, &known);
            Err(ctx.at_value(&at.key("postgres"), &message))
        }
    }
}
