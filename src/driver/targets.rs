//! The targets of one injection, as given on the command line or in config, and the
//! form they take in the journal (never with a password).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::docker::DockerTarget;
use super::postgres::{PgConnSpec, PgTarget};
use super::process::{ProcessSelector, ProcessTarget};
use super::DriverError;
use crate::catalog::TargetKind;

/// Where the fault proxy listens and what it forwards to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyTarget {
    pub listen: SocketAddr,
    pub upstream: String,
}

impl ProxyTarget {
    /// Parses `LISTEN=UPSTREAM`, e.g. `127.0.0.1:15433=127.0.0.1:5432`.
    pub fn parse(text: &str) -> Result<ProxyTarget, DriverError> {
        let bad = |why: &str| {
            DriverError::Input(format!(
                "invalid --proxy \"{text}\": {why}; expected LISTEN=UPSTREAM such as 127.0.0.1:15433=127.0.0.1:5432"
            ))
        };
        let (listen, upstream) = text.split_once('=').ok_or_else(|| bad("no '='"))?;
        let listen: SocketAddr = listen
            .trim()
            .parse()
            .map_err(|_| bad("LISTEN is not an address:port"))?;
        let upstream = upstream.trim();
        if !upstream.contains(':') {
            return Err(bad("UPSTREAM has no port"));
        }
        Ok(ProxyTarget {
            listen,
            upstream: upstream.to_string(),
        })
    }
}

/// Everything one injection may act on.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub postgres: Option<PgTarget>,
    pub container: Option<DockerTarget>,
    pub process: Option<ProcessTarget>,
    pub proxy: Option<ProxyTarget>,
    /// The chaosdeck binary, re-executed for host stressors.
    pub exe: PathBuf,
}

/// The journal's copy of [`Targets`]: the connection string without its password.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetsRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_data_dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_bin_dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyTarget>,
}

impl Targets {
    /// What the journal keeps: enough to reach the targets again, no password.
    pub fn record(&self) -> TargetsRecord {
        TargetsRecord {
            postgres: self.postgres.as_ref().map(|p| p.conn.without_password()),
            pg_data_dir: self.postgres.as_ref().and_then(|p| p.data_dir.clone()),
            pg_bin_dir: self.postgres.as_ref().and_then(|p| p.bin_dir.clone()),
            container: self.container.as_ref().map(|c| c.container.clone()),
            process: self.process.as_ref().map(|p| selector_text(&p.selector)),
            proxy: self.proxy.clone(),
        }
    }

    /// Targets rebuilt from a journal record. A part one of the `given` targets
    /// names (the flags, a config's targets, the console's bundles) is used only
    /// when it is the same target as the record's (the same server, process):
    /// it brings the password the journal never keeps. Parts that name other
    /// targets are not used, so an undo always goes where the fault went.
    pub fn from_record(record: &TargetsRecord, given: &[Targets]) -> Result<Targets, DriverError> {
        let postgres = match &record.postgres {
            Some(conn) => {
                let recorded = PgConnSpec::parse(conn)?;
                let known = given
                    .iter()
                    .filter_map(|t| t.postgres.as_ref())
                    .find(|pg| pg.conn.same_server(&recorded));
                match known {
                    Some(pg) => Some(pg.clone()),
                    None => Some(PgTarget {
                        conn: recorded.with_env_password(),
                        data_dir: record.pg_data_dir.clone(),
                        bin_dir: record.pg_bin_dir.clone(),
                    }),
                }
            }
            None => given.iter().find_map(|t| t.postgres.clone()),
        };
        let process = match &record.process {
            Some(text) => Some(ProcessTarget {
                selector: parse_selector(text)?,
            }),
            None => given.iter().find_map(|t| t.process.clone()),
        };
        Ok(Targets {
            postgres,
            container: match &record.container {
                Some(name) => Some(DockerTarget::new(name)),
                None => given.iter().find_map(|t| t.container.clone()),
            },
            process,
            proxy: record
                .proxy
                .clone()
                .or_else(|| given.iter().find_map(|t| t.proxy.clone())),
            exe: given.first().map(|t| t.exe.clone()).unwrap_or_default(),
        })
    }

    /// The name of the target of `kind`, for prompts and messages (password masked).
    pub fn describe(&self, kind: TargetKind) -> Option<String> {
        match kind {
            TargetKind::Postgres => self.postgres.as_ref().map(|p| p.conn.masked().to_string()),
            TargetKind::Docker => self
                .container
                .as_ref()
                .map(|c| format!("container {}", c.container)),
            TargetKind::Process => self.process.as_ref().map(|p| p.selector.to_string()),
            TargetKind::Proxy => self
                .proxy
                .as_ref()
                .map(|p| format!("{} (proxied to {})", p.listen, p.upstream)),
            TargetKind::Host => Some("this host".to_string()),
            TargetKind::Command | TargetKind::Kubernetes | TargetKind::Compound => None,
        }
    }
}

/// How a target of `kind` is named in messages, and the flag that gives one
/// (`None` for kinds that need none). The PostgreSQL hint is a URL, so masking a
/// message leaves it whole.
pub fn part_hint(kind: TargetKind) -> Option<(&'static str, &'static str)> {
    match kind {
        TargetKind::Postgres => Some((
            "PostgreSQL",
            "--conn \"postgres://USER:PASSWORD@HOST:PORT/DB\"",
        )),
        TargetKind::Docker => Some(("a container", "--container NAME")),
        TargetKind::Process => Some((
            "a process",
            "--pid N, --process NAME or --listening-port PORT",
        )),
        TargetKind::Proxy => Some(("the fault proxy", "--proxy LISTEN=UPSTREAM")),
        TargetKind::Host | TargetKind::Command | TargetKind::Kubernetes | TargetKind::Compound => {
            None
        }
    }
}

fn selector_text(selector: &ProcessSelector) -> String {
    match selector {
        ProcessSelector::Pid(pid) => format!("pid:{pid}"),
        ProcessSelector::Name(name) => format!("name:{name}"),
        ProcessSelector::Port(port) => format!("port:{port}"),
    }
}

fn parse_selector(text: &str) -> Result<ProcessSelector, DriverError> {
    let bad = || DriverError::Input(format!("journal: unreadable process target \"{text}\""));
    match text.split_once(':') {
        Some(("pid", n)) => n.parse().map(ProcessSelector::Pid).map_err(|_| bad()),
        Some(("port", n)) => n.parse().map(ProcessSelector::Port).map_err(|_| bad()),
        Some(("name", n)) => Ok(ProcessSelector::Name(n.to_string())),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(conn: &str) -> Option<PgTarget> {
        Some(PgTarget {
            conn: PgConnSpec::parse(conn).unwrap(),
            data_dir: None,
            bin_dir: None,
        })
    }

    fn record(pg: &str, container: &str) -> TargetsRecord {
        TargetsRecord {
            postgres: Some(pg.into()),
            container: Some(container.into()),
            ..TargetsRecord::default()
        }
    }

    #[test]
    fn a_given_target_brings_its_password_only_to_the_same_server() {
        let recorded = record("host=db-a port=5433 dbname=app user=postgres", "web-a");
        let same = Targets {
            postgres: pg("host=db-a port=5433 dbname=app user=postgres password=pw"),
            ..Targets::default()
        };
        let rebuilt = Targets::from_record(&recorded, &[same]).unwrap();
        let conn = rebuilt.postgres.unwrap().conn;
        assert!(conn.masked().contains("password=***"), "{}", conn.masked());

        // Another server, another container: the undo still goes where the fault went.
        let other = Targets {
            postgres: pg("host=db-b port=5433 dbname=app user=postgres password=pw"),
            container: Some(DockerTarget::new("web-b")),
            ..Targets::default()
        };
        let rebuilt = Targets::from_record(&recorded, &[other]).unwrap();
        let conn = rebuilt.postgres.unwrap().conn;
        assert!(conn.masked().contains("host=db-a"), "{}", conn.masked());
        assert_eq!(rebuilt.container.unwrap().container, "web-a");
    }

    #[test]
    fn a_part_the_record_lacks_comes_from_what_is_given() {
        let recorded = TargetsRecord::default();
        let given = Targets {
            postgres: pg("host=db port=5432 user=postgres password=pw"),
            container: Some(DockerTarget::new("web")),
            ..Targets::default()
        };
        let rebuilt = Targets::from_record(&recorded, &[given]).unwrap();
        assert!(rebuilt.postgres.is_some());
        assert_eq!(rebuilt.container.unwrap().container, "web");
    }

    #[test]
    fn a_missing_port_is_5432() {
        let a = PgConnSpec::parse("host=db user=x").unwrap();
        let b = PgConnSpec::parse("host=db port=5432 user=y").unwrap();
        let c = PgConnSpec::parse("host=db port=5433 user=x").unwrap();
        assert!(a.same_server(&b));
        assert!(!a.same_server(&c));
    }
}
