//! The checked file turned into driver and probe types: connection strings parsed,
//! addresses and selectors checked, defaults applied, and every probe name that the
//! file refers to looked up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use super::error::{unknown_name, ConfigError, Ctx};
use super::model::{RawConfig, RawObserve, RawProcess, RawProxy, RawTarget};
use super::path::FieldPath;
use super::{probes, values};
use super::{Config, ConnAsWritten, ObserveConfig, Policy, ServiceConfig, TargetConfig};
use crate::catalog::duration::HumanDuration;
use crate::catalog::Severity;
use crate::driver::postgres::{PgConnSpec, PgTarget};
use crate::driver::process::ProcessSelector;
use crate::driver::targets::ProxyTarget;

/// The whole file, checked; `path` is kept for messages.
pub fn resolve(ctx: &Ctx, path: &Path, raw: RawConfig) -> Result<Config, ConfigError> {
    let root = FieldPath::default();
    let observe = observe(ctx, &root.key("observe"), &raw.observe)?;
    let mut targets = BTreeMap::new();
    for (name, target) in &raw.targets.0 {
        let at = root.key("targets").key(name);
        targets.insert(name.clone(), self::target(ctx, &at, target)?);
    }
    let mut services = BTreeMap::new();
    let mut defined: Vec<(String, FieldPath)> = Vec::new();
    for (order, (name, service)) in raw.services.0.into_iter().enumerate() {
        let at = root.key("services").key(&name);
        if service.probes.is_empty() {
            let message = format!(
                "service \"{name}\" has no probes; list at least one, such as \
                 - {{ name: app-health, http: http://127.0.0.1:8080/health }}"
            );
            return Err(ctx.at_value(&at.key("probes"), &message));
        }
        let mut specs = Vec::new();
        for (index, probe) in service.probes.into_iter().enumerate() {
            let at = at.key("probes").index(index);
            if let Some((_, first)) = defined.iter().find(|(n, _)| *n == probe.name) {
                let line = ctx.line_of(first);
                let message = format!(
                    "duplicate probe name \"{}\"; {first} already has it{line}, and probe \
                     names must be unique across services",
                    probe.name
                );
                return Err(ctx.at_value(&at.key("name"), &message));
            }
            defined.push((probe.name.clone(), at.clone()));
            specs.push(probes::probe(ctx, &at, probe, &targets, &observe)?);
        }
        services.insert(
            name,
            ServiceConfig {
                probes: specs,
                order,
            },
        );
    }
    let names: Vec<&str> = defined.iter().map(|(n, _)| n.as_str()).collect();
    check_names(ctx, &root.key("guards"), &raw.guards, &names)?;
    let steady_state = match raw.steady_state {
        Some(list) => {
            check_names(ctx, &root.key("steady_state"), &list, &names)?;
            list
        }
        None => names
            .iter()
            .filter(|n| !raw.guards.iter().any(|g| g == *n))
            .map(|n| n.to_string())
            .collect(),
    };
    Ok(Config {
        path: path.to_path_buf(),
        targets,
        services,
        steady_state,
        guards: raw.guards,
        policy: Policy {
            max_severity: raw.policy.max_severity.unwrap_or(Severity::Critical),
        },
        observe,
        theme: raw.theme,
    })
}

impl Ctx<'_> {
    /// ` (line 12)` for the node at `path`, or nothing when it cannot be found.
    fn line_of(&self, path: &FieldPath) -> String {
        super::locate::value_position(self.text, path)
            .map(|(line, _)| format!(" (line {line})"))
            .unwrap_or_default()
    }
}

fn check_names(
    ctx: &Ctx,
    at: &FieldPath,
    list: &[String],
    known: &[&str],
) -> Result<(), ConfigError> {
    for (index, name) in list.iter().enumerate() {
        if !known.contains(&name.as_str()) {
            let message = if known.is_empty() {
                format!("unknown probe \"{name}\"; no probes are defined under services")
            } else {
                unknown_name("probe", name, known)
            };
            return Err(ctx.at_value(&at.index(index), &message));
        }
        if list[..index].contains(name) {
            let message = format!("probe \"{name}\" is listed twice");
            return Err(ctx.at_value(&at.index(index), &message));
        }
    }
    Ok(())
}

fn observe(ctx: &Ctx, at: &FieldPath, raw: &RawObserve) -> Result<ObserveConfig, ConfigError> {
    let defaults = ObserveConfig::default();
    if raw.stable_for == Some(0) {
        let message = "stable_for is 0, but recovery needs at least 1 passing check; \
                       give a whole number of 1 or more (default 3)";
        return Err(ctx.at_value(&at.key("stable_for"), message));
    }
    Ok(ObserveConfig {
        interval: positive(ctx, &at.key("interval"), raw.interval, defaults.interval)?,
        timeout: positive(ctx, &at.key("timeout"), raw.timeout, defaults.timeout)?,
        stable_for: raw.stable_for.unwrap_or(defaults.stable_for),
        sample_interval: positive(
            ctx,
            &at.key("sample_interval"),
            raw.sample_interval,
            defaults.sample_interval,
        )?,
    })
}

/// A duration that must be more than zero, or `default` when not given.
pub(super) fn positive(
    ctx: &Ctx,
    at: &FieldPath,
    given: Option<HumanDuration>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match given {
        None => Ok(default),
        Some(d) if d.0.is_zero() => {
            let field = match at.0.last() {
                Some(super::path::Seg::Key(key)) => key.as_str(),
                _ => "duration",
            };
            let message = format!(
                "{field} is zero; give a duration of more than zero, such as {}",
                HumanDuration(default)
            );
            Err(ctx.at_value(at, &message))
        }
        Some(d) => Ok(d.0),
    }
}

fn target(ctx: &Ctx, at: &FieldPath, raw: &RawTarget) -> Result<TargetConfig, ConfigError> {
    if raw.postgres.is_none()
        && raw.container.is_none()
        && raw.process.is_none()
        && raw.proxy.is_none()
    {
        let message = "this target names nothing; give at least one of postgres, container, \
                       process or proxy";
        return Err(ctx.at_value(at, message));
    }
    let postgres = match &raw.postgres {
        Some(pg) => {
            let conn = PgConnSpec::parse(&pg.conn).map_err(|e| {
                let message = conn_message(&pg.conn, &e.to_string());
                ctx.at_value(&at.key("postgres").key("conn"), &message)
            })?;
            Some(PgTarget {
                conn: conn.with_env_password(),
                data_dir: pg.data_dir.clone(),
                bin_dir: pg.bin_dir.clone(),
            })
        }
        None => None,
    };
    if let Some(name) = &raw.container {
        probes::non_empty(
            ctx,
            &at.key("container"),
            name,
            "a container name such as shop-web",
        )?;
    }
    let process = match &raw.process {
        Some(p) => Some(selector(ctx, &at.key("process"), p)?),
        None => None,
    };
    let proxy = match &raw.proxy {
        Some(p) => Some(proxy(ctx, &at.key("proxy"), p)?),
        None => None,
    };
    Ok(TargetConfig {
        postgres,
        conn_as_written: raw
            .postgres
            .as_ref()
            .map(|pg| ConnAsWritten(pg.conn.clone())),
        container: raw.container.clone(),
        process,
        proxy,
    })
}

/// The driver's message for a bad connection string, with the parser's reason
/// (`invalid value for option "port"`) where the driver only says "invalid". The
/// character a reason may quote is left out: it could be part of the password.
fn conn_message(conn: &str, message: &str) -> String {
    let reason = tokio_postgres::Config::from_str(conn)
        .err()
        .and_then(|e| std::error::Error::source(&e).map(|s| s.to_string()));
    let Some(reason) = reason else {
        return message.to_string();
    };
    let reason = reason.split(" but got ").next().unwrap_or_default();
    message.replacen(
        "\": invalid connection string;",
        &format!("\": {};", reason.replace('`', "\"")),
        1,
    )
}

/// `{ name }`, `{ pid }` or `{ port }`: exactly one.
pub(super) fn selector(
    ctx: &Ctx,
    at: &FieldPath,
    raw: &RawProcess,
) -> Result<ProcessSelector, ConfigError> {
    match (&raw.name, raw.pid, raw.port) {
        (Some(name), None, None) => {
            probes::non_empty(
                ctx,
                &at.key("name"),
                name,
                "a process name such as shop-api",
            )?;
            Ok(ProcessSelector::Name(name.clone()))
        }
        (None, Some(pid), None) => Ok(ProcessSelector::Pid(pid)),
        (None, None, Some(port)) => Ok(ProcessSelector::Port(port)),
        (None, None, None) => Err(ctx.at_value(
            at,
            "no process named; give one of { name: NAME }, { pid: PID } or { port: PORT }",
        )),
        _ => Err(ctx.at_value(
            at,
            "give exactly one of name, pid or port to pick the process, not several",
        )),
    }
}

fn proxy(ctx: &Ctx, at: &FieldPath, raw: &RawProxy) -> Result<ProxyTarget, ConfigError> {
    let listen: SocketAddr = raw.listen.trim().parse().map_err(|_| {
        let message = format!(
            "invalid listen address \"{}\"; expected IP:PORT such as 127.0.0.1:15433",
            raw.listen
        );
        ctx.at_value(&at.key("listen"), &message)
    })?;
    values::host_port(&raw.upstream).map_err(|why| {
        let message = format!(
            "invalid upstream \"{}\": {why}; expected HOST:PORT such as 127.0.0.1:5432",
            raw.upstream
        );
        ctx.at_value(&at.key("upstream"), &message)
    })?;
    Ok(ProxyTarget {
        listen,
        upstream: raw.upstream.trim().to_string(),
    })
}
