//! What a probe checks and what one check came to.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::driver::postgres::PgConnSpec;
use crate::driver::process::ProcessSelector;

/// The default time between two checks of a probe.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);

/// One probe: a named yes/no check run every `interval`, failing after `timeout`.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// How expectations and reports name it (`app-health`, `db-connect` …).
    pub name: String,
    pub check: ProbeCheck,
    pub interval: Duration,
    pub timeout: Duration,
}

/// The kinds of check a probe can run.
// A run holds a handful of long-lived probes: boxing the SQL variant's connection
// spec would save nothing worth the indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ProbeCheck {
    /// `GET url` (http:// only). Up when the status is `status` (any 2xx when
    /// `None`) and, when given, the body contains `body_contains`.
    Http {
        url: String,
        status: Option<u16>,
        body_contains: Option<String>,
    },
    /// A TCP connect to `HOST:PORT`.
    Tcp { addr: String },
    /// `query` runs; up when it succeeds and, when `expect` is given, the first
    /// column of the first row, as text, equals it. One session is kept and reopened
    /// when it breaks, as a pooled app does; with `fresh_connection` every check
    /// connects anew, as an app without a pool does (and sees a full server at once).
    Sql {
        conn: PgConnSpec,
        query: String,
        expect: Option<String>,
        fresh_connection: bool,
    },
    /// The container is running (and, with `healthy`, its health check says healthy).
    Container { name: String, healthy: bool },
    /// The process exists and is not stopped or a zombie.
    Process { selector: ProcessSelector },
    /// `argv` (no shell) exits with `exit_code`.
    Command { argv: Vec<String>, exit_code: i32 },
}

impl ProbeCheck {
    /// The probe in words, without any password: `GET http://…/health → 200`.
    pub fn describe(&self) -> String {
        match self {
            ProbeCheck::Http {
                url,
                status,
                body_contains,
            } => {
                let status = status.map_or("2xx".to_string(), |s| s.to_string());
                match body_contains {
                    Some(body) => format!("GET {url} → {status}, body has \"{body}\""),
                    None => format!("GET {url} → {status}"),
                }
            }
            ProbeCheck::Tcp { addr } => format!("TCP connect {addr}"),
            ProbeCheck::Sql {
                conn,
                query,
                expect,
                ..
            } => match expect {
                Some(value) => format!("SQL {query} = {value} on {}", conn.without_password()),
                None => format!("SQL {query} on {}", conn.without_password()),
            },
            ProbeCheck::Container {
                name,
                healthy: true,
            } => {
                format!("container {name} running and healthy")
            }
            ProbeCheck::Container { name, .. } => format!("container {name} running"),
            ProbeCheck::Process { selector } => format!("process {selector} alive"),
            ProbeCheck::Command { argv, exit_code } => {
                format!("{} exits {exit_code}", argv.join(" "))
            }
        }
    }
}

/// What one check of a probe came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSample {
    /// The probe's index in the list the probes were started from.
    pub probe: usize,
    /// When the check started; a check that times out counts as down from here.
    #[serde(skip, default = "Instant::now")]
    pub at: Instant,
    pub up: bool,
    /// How long the check took (the timeout, when it timed out).
    pub latency: Duration,
    /// Why it is down (`timed out after 1s`, `connection refused`, `status 503`), or a
    /// short success note. Never holds a password.
    pub detail: String,
}
