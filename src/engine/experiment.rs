//! Turning a fault id, parameters, targets and probes into an [`Experiment`] the
//! runner can carry out: the one place the CLI, the game day and the console resolve
//! a fault.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::inject::{self, Step};
use super::run::ProbeRole;
use super::runner::Experiment;
use crate::catalog::resolve::ParamValues;
use crate::catalog::{Catalog, FaultSpec};
use crate::config::ObserveConfig;
use crate::driver::targets::Targets;
use crate::observe::{ProbeSpec, SamplerSet};

/// A fault with its parameters resolved and includes expanded into steps.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub spec: FaultSpec,
    pub steps: Vec<Step>,
    pub targets: Targets,
    pub values: ParamValues,
    pub builtins: BTreeMap<&'static str, String>,
    pub ttl: Duration,
}

/// Finds the fault, applies `NAME=VALUE` parameter overrides and expands it.
pub fn resolve(
    catalog: &Catalog,
    id: &str,
    params: &[String],
    targets: Targets,
    ttl: Option<Duration>,
) -> Result<Resolved, String> {
    let Some(spec) = catalog.get(id) else {
        let hint = catalog
            .suggest(id)
            .map(|s| format!("; did you mean \"{s}\"?"))
            .unwrap_or_default();
        return Err(format!(
            "unknown fault id \"{id}\"{hint} (`chaosdeck list` shows every id)"
        ));
    };
    let mut overrides = BTreeMap::new();
    for pair in params {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!(
                "invalid --param \"{pair}\"; expected NAME=VALUE such as reserve=3"
            ));
        };
        overrides.insert(name.trim().to_string(), value.to_string());
    }
    let values = spec
        .param_values(&overrides)
        .map_err(|e| format!("{}: {}", spec.id, e.message))?;
    let target_name = targets
        .describe(spec.target)
        .unwrap_or_else(|| spec.target.to_string());
    let builtins: BTreeMap<&'static str, String> =
        [("target", target_name), ("fault", spec.id.clone())].into();
    let steps = inject::expand(catalog, spec, &values, &builtins)?;
    Ok(Resolved {
        spec: spec.clone(),
        steps,
        targets,
        values,
        builtins,
        ttl: ttl.unwrap_or(spec.ttl.as_duration()),
    })
}

/// How a resolved fault is to be watched.
#[derive(Debug, Clone)]
pub struct Watch {
    pub probes: Vec<(ProbeSpec, ProbeRole)>,
    pub observe: ObserveConfig,
    /// Stop observing this long after injection (never past the TTL).
    pub observe_for: Option<Duration>,
    /// The disk the host sampler watches.
    pub host_disk: PathBuf,
}

/// Preflight gives steady state this long to hold.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// The experiment of a resolved fault: probes, samplers and time limits.
pub fn experiment(run_id: String, resolved: Resolved, watch: Watch) -> Experiment {
    let samplers = SamplerSet {
        postgres: resolved.targets.postgres.clone(),
        host_disk: Some(watch.host_disk),
        containers: resolved
            .targets
            .container
            .iter()
            .map(|c| c.container.clone())
            .collect(),
        proxy: None,
        process: resolved
            .targets
            .process
            .as_ref()
            .map(|p| p.selector.clone()),
    };
    let params = resolved
        .values
        .iter()
        .map(|(k, v)| (k.clone(), crate::catalog::model::scalar_text(v)))
        .collect();
    Experiment {
        run_id,
        spec: resolved.spec,
        steps: resolved.steps,
        targets: resolved.targets,
        params,
        probes: watch.probes,
        samplers,
        sample_interval: watch.observe.sample_interval,
        stable_for: watch.observe.stable_for,
        observe_for: watch.observe_for.map(|d| d.min(resolved.ttl)),
        ttl: resolved.ttl,
        preflight_timeout: PREFLIGHT_TIMEOUT,
    }
}

/// The role of each configured probe, plus one-off probes that count as steady state.
pub fn probe_roles(
    configured: Vec<crate::config::ConfiguredProbe>,
    one_off: Vec<ProbeSpec>,
) -> Vec<(ProbeSpec, ProbeRole)> {
    let mut out: Vec<(ProbeSpec, ProbeRole)> = configured
        .into_iter()
        .map(|p| {
            let role = ProbeRole {
                name: p.spec.name.clone(),
                check: p.spec.check.describe(),
                steady_state: p.steady_state,
                guard: p.guard,
            };
            (p.spec, role)
        })
        .collect();
    for spec in one_off {
        let role = ProbeRole {
            name: spec.name.clone(),
            check: spec.check.describe(),
            steady_state: true,
            guard: false,
        };
        out.push((spec, role));
    }
    out
}
