//! One check of a probe, under the probe's timeout: what it found (up or down), how
//! long it took, and a short detail (`status 503, expected 200`, `connection refused`,
//! `timed out after 1s`) that never holds a password.
//!
//! A [`ProbeRunner`] keeps what is worth keeping between two checks of the same
//! probe (the Docker client); [`check_once`] is a runner used once.

use std::time::Duration;

use bollard::Docker;
use tokio::time::Instant;
use tokio_postgres::SimpleQueryMessage;

use super::probe::{ProbeCheck, ProbeSample, ProbeSpec};
use super::probe_http::{self, HttpUrl};
use super::probe_local;
use crate::driver::postgres::conn::{describe, mask_password};
use crate::driver::postgres::PgConnSpec;
use crate::driver::DriverError;

/// The `application_name` of the probe's PostgreSQL sessions.
pub const PROBE_APPLICATION_NAME: &str = "chaosdeck:probe";

/// What one check found: `Ok(note)` when up, `Err(why)` when down.
pub(crate) type Outcome = Result<String, String>;

/// Runs the checks of one probe, keeping its clients between checks.
pub struct ProbeRunner {
    index: usize,
    spec: ProbeSpec,
    /// Connected on the first container check and kept.
    docker: Option<Docker>,
    /// The SQL probe's session, kept between checks unless it asks for a fresh one.
    pg: Option<tokio_postgres::Client>,
}

impl ProbeRunner {
    /// A runner for the probe at `index` in the list the probes were started from.
    pub fn new(index: usize, spec: ProbeSpec) -> ProbeRunner {
        ProbeRunner {
            index,
            spec,
            docker: None,
            pg: None,
        }
    }

    pub fn spec(&self) -> &ProbeSpec {
        &self.spec
    }

    /// Runs the check once; a check still running after the timeout is dropped and
    /// counts as down, with the timeout as its latency.
    pub async fn check(&mut self) -> ProbeSample {
        let at = Instant::now();
        let timeout = self.spec.timeout;
        let clients = Clients {
            docker: &mut self.docker,
            pg: &mut self.pg,
        };
        let check = run(&self.spec.check, timeout, clients);
        let (up, latency, detail) = match tokio::time::timeout(timeout, check).await {
            Ok(Ok(note)) => (true, at.elapsed(), note),
            Ok(Err(why)) => (false, at.elapsed(), why),
            Err(_) => (false, timeout, timed_out(timeout)),
        };
        ProbeSample {
            probe: self.index,
            at,
            up,
            latency,
            detail: mask_password(&detail),
        }
    }
}

/// Checks the probe at `index` once.
pub async fn check_once(index: usize, spec: &ProbeSpec) -> ProbeSample {
    ProbeRunner::new(index, spec.clone()).check().await
}

/// `timed out after 1s`, `timed out after 300ms`.
fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(timeout))
}

/// What a runner keeps between checks.
struct Clients<'a> {
    docker: &'a mut Option<Docker>,
    pg: &'a mut Option<tokio_postgres::Client>,
}

async fn run(check: &ProbeCheck, timeout: Duration, clients: Clients<'_>) -> Outcome {
    match check {
        ProbeCheck::Http {
            url,
            status,
            body_contains,
        } => check_http(url, *status, body_contains.as_deref()).await,
        ProbeCheck::Tcp { addr } => check_tcp(addr).await,
        ProbeCheck::Sql {
            conn,
            query,
            expect,
            fresh_connection,
        } => {
            let keep = (!*fresh_connection).then_some(clients.pg);
            check_sql(conn, query, expect.as_deref(), timeout, keep).await
        }
        ProbeCheck::Container { name, healthy } => {
            super::probe_container::check_container(clients.docker, name, *healthy).await
        }
        ProbeCheck::Process { selector } => probe_local::check_process(selector).await,
        ProbeCheck::Command { argv, exit_code } => {
            probe_local::check_command(argv, *exit_code).await
        }
    }
}

/// Up when the status is the one wanted (any 2xx without one) and the body, when
/// asked, holds the text (only the first 64 KiB of a body are read).
async fn check_http(url: &str, status: Option<u16>, body_contains: Option<&str>) -> Outcome {
    let response = probe_http::get(&HttpUrl::parse(url)?).await?;
    let status_ok = match status {
        Some(wanted) => response.status == wanted,
        None => (200..300).contains(&response.status),
    };
    if !status_ok {
        let wanted = status.map_or("2xx".to_string(), |s| s.to_string());
        return Err(format!("status {}, expected {wanted}", response.status));
    }
    if let Some(needle) = body_contains {
        if !String::from_utf8_lossy(&response.body).contains(needle) {
            return Err(format!("body lacks \"{needle}\""));
        }
    }
    Ok(format!("status {}", response.status))
}

async fn check_tcp(addr: &str) -> Outcome {
    let stream = probe_http::connect(addr).await?;
    let peer = stream
        .peer_addr()
        .map_or_else(|_| addr.to_string(), |a| a.to_string());
    Ok(format!("connected to {peer}"))
}

/// Runs the query on the kept session (`keep`), opening it when there is none, or on
/// a fresh session when `keep` is `None`. The session's server-side timeouts equal
/// the probe's, so a query the probe gave up on (a lock wait, a slow statement) ends
/// on the server too. A failed or timed-out check drops the kept session (the
/// caller's timeout drops this future, and with it the taken client), so the next
/// check connects anew.
async fn check_sql(
    conn: &PgConnSpec,
    query: &str,
    expect: Option<&str>,
    timeout: Duration,
    mut keep: Option<&mut Option<tokio_postgres::Client>>,
) -> Outcome {
    let client = match keep.as_mut().and_then(|k| k.take()) {
        Some(client) if !client.is_closed() => client,
        _ => conn
            .connect(PROBE_APPLICATION_NAME, timeout)
            .await
            .map_err(|e| driver_detail(&e))?,
    };
    let messages = client.simple_query(query).await.map_err(|e| describe(&e))?;
    if let Some(slot) = keep {
        *slot = Some(client);
    }
    let first = messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => Some(row.try_get(0).unwrap_or(None)),
        _ => None,
    });
    match (expect, first) {
        (None, None) => Ok("no rows".to_string()),
        (None, Some(value)) => Ok(format!("got {}", quoted(value))),
        (Some(wanted), Some(Some(value))) if value == wanted => Ok(format!("got \"{value}\"")),
        (Some(wanted), Some(value)) => Err(format!("got {}, expected \"{wanted}\"", quoted(value))),
        (Some(wanted), None) => Err(format!("no rows, expected \"{wanted}\"")),
    }
}

/// A SQL value for a detail: `"1"`, `NULL`, long text cut.
fn quoted(value: Option<&str>) -> String {
    let Some(value) = value else {
        return "NULL".to_string();
    };
    match value.char_indices().nth(80) {
        Some((i, _)) => format!("\"{}…\"", &value[..i]),
        None => format!("\"{value}\""),
    }
}

/// A driver error without the target it names (the probe already says which).
pub(crate) fn driver_detail(error: &DriverError) -> String {
    match error {
        DriverError::Unreachable { message, .. } | DriverError::Failed { message, .. } => {
            message.clone()
        }
        DriverError::Precondition { reason, .. } => reason.clone(),
        DriverError::Input(message) => message.clone(),
    }
}
