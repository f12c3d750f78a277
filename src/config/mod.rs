//! `targets.yaml`: named bundles of targets, the services and the probes that watch
//! them, which probes make the steady state and which are guards, the severity
//! policy, observation timings and the theme.
//!
//! Loading is strict like the catalog's: unknown keys are errors with a "did you
//! mean", and every error reads `targets.yaml:LINE:COL: field.path: message`, never
//! with a password in it.
//!
//! - `model`: the file as written (serde structs);
//! - `load`: reading, limits, YAML and schema errors;
//! - `resolve`, `probes` and `values`: the checks serde cannot make, into
//!   driver and probe types;
//! - `path` and `locate`: field paths and where they are in the file;
//! - `flag`: the `--probe` flag of one-off runs.

mod error;
mod flag;
mod load;
mod locate;
mod model;
mod path;
mod probes;
mod resolve;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::ConfigError;
pub use flag::parse_probe_flag;
pub use load::MAX_FILE_BYTES;

use crate::catalog::Severity;
use crate::driver::docker::DockerTarget;
use crate::driver::postgres::PgTarget;
use crate::driver::process::{ProcessSelector, ProcessTarget};
use crate::driver::targets::{ProxyTarget, Targets};
use crate::observe::ProbeSpec;

/// A checked `targets.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, for messages.
    pub path: PathBuf,
    /// Named bundles: `chaosdeck run ID --target shop`.
    pub targets: BTreeMap<String, TargetConfig>,
    pub services: BTreeMap<String, ServiceConfig>,
    /// Probes that must pass before injecting and again for recovery to count; when
    /// the file lists none, every probe that is not a guard.
    pub steady_state: Vec<String>,
    /// Probes whose failure aborts the experiment.
    pub guards: Vec<String>,
    pub policy: Policy,
    pub observe: ObserveConfig,
    pub theme: Option<String>,
}

/// One named bundle of targets, checked (connection string parsed, addresses valid).
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub postgres: Option<PgTarget>,
    /// `postgres.conn` as written, password included.
    pub conn_as_written: Option<ConnAsWritten>,
    pub container: Option<String>,
    pub process: Option<ProcessSelector>,
    pub proxy: Option<ProxyTarget>,
}

/// A connection string as written (in the file, or with `--conn`), password
/// included: for the console's editor to put the password back where an edit leaves
/// `password=***`, never to draw, log or write. Its `Debug` shows the password masked.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnAsWritten(String);

impl ConnAsWritten {
    pub fn new(text: impl Into<String>) -> ConnAsWritten {
        ConnAsWritten(text.into())
    }

    pub fn text(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ConnAsWritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ConnAsWritten")
            .field(&crate::driver::postgres::conn::mask_password(&self.0))
            .finish()
    }
}

/// A service and the probes that watch it, with defaults applied.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub probes: Vec<ProbeSpec>,
    /// Where the service stands among the services of the file (0 is first), so
    /// probes keep file order.
    pub order: usize,
}

/// What the operator allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Faults above this severity are refused.
    pub max_severity: Severity,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_severity: Severity::Critical,
        }
    }
}

/// How often and how patiently things are watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObserveConfig {
    /// Default time between two checks of a probe.
    pub interval: Duration,
    /// Default time a check may take before it counts as down.
    pub timeout: Duration,
    /// Consecutive passing checks of the steady state for recovery to count.
    pub stable_for: u32,
    /// Time between two samples of the samplers.
    pub sample_interval: Duration,
}

impl Default for ObserveConfig {
    fn default() -> Self {
        ObserveConfig {
            interval: crate::observe::probe::DEFAULT_INTERVAL,
            timeout: Duration::from_secs(1),
            stable_for: 3,
            sample_interval: Duration::from_secs(1),
        }
    }
}

/// A probe with the service it watches and its roles in a run.
#[derive(Debug, Clone)]
pub struct ConfiguredProbe {
    pub spec: ProbeSpec,
    pub service: String,
    pub steady_state: bool,
    pub guard: bool,
}

impl Config {
    /// Reads and checks a config file (at most [`MAX_FILE_BYTES`]).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = load::read(path)?;
        Config::parse(path, &text)
    }

    /// Checks config text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let (raw, secrets) = load::parse_raw(path, text)?;
        let ctx = error::Ctx {
            file: path,
            text,
            secrets,
        };
        resolve::resolve(&ctx, path, raw)
    }

    /// The driver targets of a named bundle; an unknown name is an error that
    /// suggests the nearest one or lists them.
    pub fn targets_named(&self, name: &str, exe: PathBuf) -> Result<Targets, ConfigError> {
        let Some(target) = self.targets.get(name) else {
            let known: Vec<&str> = self.targets.keys().map(String::as_str).collect();
            let message = if known.is_empty() {
                format!("unknown target \"{name}\"; the file defines no targets")
            } else {
                error::unknown_name("target", name, &known)
            };
            return Err(ConfigError::UnknownTarget {
                file: self.path.clone(),
                name: name.to_string(),
                message,
            });
        };
        Ok(Targets {
            postgres: target.postgres.clone(),
            container: target.container.clone().map(DockerTarget::new),
            process: target
                .process
                .clone()
                .map(|selector| ProcessTarget { selector }),
            proxy: target.proxy.clone(),
            exe,
        })
    }

    /// Each bundle's `postgres.conn` as written, password included, by bundle name:
    /// what the console's editor keeps the password from. Never drawn.
    pub fn conns_as_written(&self) -> BTreeMap<String, ConnAsWritten> {
        self.targets
            .iter()
            .filter_map(|(name, target)| {
                let conn = target.conn_as_written.as_ref()?;
                Some((name.clone(), conn.clone()))
            })
            .collect()
    }

    /// Every probe with its role, in file order.
    pub fn probes(&self) -> Vec<ConfiguredProbe> {
        let mut services: Vec<(&String, &ServiceConfig)> = self.services.iter().collect();
        services.sort_by_key(|(_, service)| service.order);
        services
            .into_iter()
            .flat_map(|(name, service)| {
                service.probes.iter().map(move |spec| ConfiguredProbe {
                    spec: spec.clone(),
                    service: name.clone(),
                    steady_state: self.steady_state.contains(&spec.name),
                    guard: self.guards.contains(&spec.name),
                })
            })
            .collect()
    }
}
