//! Every built-in catalog entry whose target exists on this machine (PostgreSQL,
//! Docker, processes, the host, the fault proxy) injected through the engine against a
//! real target, seen once while it is on, torn down, and verified, with nothing left
//! open in the journal. Kubernetes entries, and compounds that include one, are swept
//! by tests/driver_command.rs instead.
//!
//! Each family module lists the ids it covers; a catalog entry of a local target that
//! no list names fails `every_local_entry_is_swept` (and its family's test), so a new
//! entry cannot slip through.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step fails the test

#[path = "../support/mod.rs"]
mod support;

/// Fails an effect check with a message instead of panicking, so the fault is still
/// torn down before the test fails.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

mod docker;
mod host;
mod network;
mod postgres;
mod process;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chaosdeck::catalog::{Action, Catalog, FaultSpec, TargetKind};
use chaosdeck::driver::dispatch::RunContext;
use chaosdeck::driver::targets::Targets;
use chaosdeck::engine::inject::{self, Active, StepOutcome};
use chaosdeck::engine::journal::{self, Journal};

const INJECT_TIMEOUT: Duration = Duration::from_secs(90);
const EFFECT_TIMEOUT: Duration = Duration::from_secs(30);
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(90);
/// How long [`eventually`] keeps probing.
const PROBE_FOR: Duration = Duration::from_secs(10);

/// What looking at a fault while it is on came to.
pub type Effect = Result<(), String>;

/// The chaosdeck binary: host stressors re-execute it as `chaosdeck __stress`.
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_chaosdeck"))
}

/// The ids a family module covers, by target; `None` for targets not swept here.
fn covered(target: TargetKind) -> Option<Vec<&'static str>> {
    match target {
        TargetKind::Postgres => Some(postgres::covered()),
        TargetKind::Docker => Some(docker::COVERED.to_vec()),
        TargetKind::Process => Some(process::COVERED.to_vec()),
        TargetKind::Host => Some(host::COVERED.to_vec()),
        TargetKind::Proxy => Some(network::COVERED.to_vec()),
        TargetKind::Kubernetes | TargetKind::Command | TargetKind::Compound => None,
    }
}

/// The first fault (or action) of `spec`, through its includes, that acts on
/// something this machine does not have (Kubernetes, an arbitrary command).
fn remote_part(catalog: &Catalog, spec: &FaultSpec, depth: usize) -> Option<String> {
    if matches!(spec.target, TargetKind::Kubernetes | TargetKind::Command) {
        return Some(format!("{} (target {})", spec.id, spec.target));
    }
    for action in &spec.actions {
        match action {
            Action::Include(include) => {
                let inner = catalog.get(&include.fault)?;
                if depth < 8 {
                    if let Some(found) = remote_part(catalog, inner, depth + 1) {
                        return Some(found);
                    }
                }
            }
            other => {
                if let Some(kind @ (TargetKind::Kubernetes | TargetKind::Command)) =
                    other.target_kind()
                {
                    return Some(format!("{} ({} acts on {kind})", spec.id, other.kind()));
                }
            }
        }
    }
    None
}

#[test]
fn every_local_entry_is_swept() {
    let catalog = Catalog::builtin().unwrap();
    let mut uncovered = Vec::new();
    let mut excluded = Vec::new();
    for spec in catalog.faults() {
        match covered(spec.target) {
            Some(ids) if ids.contains(&spec.id.as_str()) => {}
            Some(_) => uncovered.push(format!("{} (target {})", spec.id, spec.target)),
            None => match remote_part(&catalog, spec, 0) {
                Some(why) => excluded.push(format!("{}: {why}", spec.id)),
                None => uncovered.push(format!(
                    "{} (target {}: every part of it runs on this machine)",
                    spec.id, spec.target
                )),
            },
        }
    }
    assert!(
        uncovered.is_empty(),
        "catalog entries that tests/catalog_sweep does not inject: {uncovered:#?}; add a case \
         for each to the module of its target family"
    );
    // The lists name nothing that left the catalog or changed target.
    for target in TargetKind::ALL {
        for id in covered(*target).unwrap_or_default() {
            let found = catalog.get(id).map(|s| s.target);
            assert_eq!(found, Some(*target), "{id} is swept as a {target} entry");
        }
    }
    eprintln!("excluded (swept elsewhere): {excluded:#?}");
}

/// One test's catalog and journal (in its own state folder).
pub struct Sweep {
    catalog: Catalog,
    journal: Journal,
    _state: tempfile::TempDir,
}

impl Sweep {
    /// A sweep over the built-in catalog; fails when `target`'s entries and the ids
    /// the family module covers differ.
    pub fn new(target: TargetKind) -> Sweep {
        let catalog = Catalog::builtin().unwrap();
        let state = tempfile::tempdir().unwrap();
        let journal = Journal::open(state.path()).unwrap();
        let sweep = Sweep {
            catalog,
            journal,
            _state: state,
        };
        let ids: Vec<&str> = sweep
            .catalog
            .faults()
            .filter(|f| f.target == target)
            .map(|f| f.id.as_str())
            .collect();
        let covered = covered(target).unwrap_or_default();
        let missing: Vec<&&str> = ids.iter().filter(|id| !covered.contains(id)).collect();
        assert!(
            missing.is_empty(),
            "{target} entries this sweep does not inject: {missing:?}"
        );
        sweep
    }

    /// Injects `id` with its defaults and `overrides` through the engine, runs
    /// `effect` while it is on, tears it down and checks that every step verified and
    /// the journal has nothing open. Fails after the teardown if anything was off.
    pub async fn run(
        &self,
        id: &str,
        overrides: &[(&str, String)],
        targets: &Targets,
        effect: impl AsyncFnOnce(&Active) -> Effect,
    ) {
        let started = Instant::now();
        let spec = self
            .catalog
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not in the built-in catalog"));
        let overrides: BTreeMap<String, String> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let values = spec
            .param_values(&overrides)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let builtins: BTreeMap<&str, String> = [
            ("target", targets.describe(spec.target).unwrap_or_default()),
            ("fault", id.to_string()),
        ]
        .into();
        let steps = inject::expand(&self.catalog, spec, &values, &builtins)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert!(!steps.is_empty(), "{id} expands to no step");
        let ctx = RunContext {
            run_id: journal::new_run_id(),
            fault_id: id.to_string(),
            ttl: spec.ttl.as_duration(),
        };
        let injecting = inject::inject(&self.journal, &ctx, &steps, targets, |line: &str| {
            eprintln!("{id}: {line}")
        });
        let active = match tokio::time::timeout(INJECT_TIMEOUT, injecting).await {
            Ok(Ok(active)) => active,
            Ok(Err(failure)) => panic!(
                "{id}: inject failed: {}\nrollback: {}",
                failure.error,
                describe(&failure.rollback)
            ),
            Err(_) => panic!("{id}: inject did not finish within {INJECT_TIMEOUT:?}"),
        };
        let seen = tokio::time::timeout(EFFECT_TIMEOUT, effect(&active))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "effect check still running after {EFFECT_TIMEOUT:?}"
                ))
            });
        let outcomes = tokio::time::timeout(
            TEARDOWN_TIMEOUT,
            inject::teardown(&self.journal, active, targets),
        )
        .await
        .unwrap_or_else(|_| panic!("{id}: teardown did not finish within {TEARDOWN_TIMEOUT:?}"));
        assert_eq!(
            outcomes.len(),
            steps.len(),
            "{id}: {} steps, {} torn down: {}",
            steps.len(),
            outcomes.len(),
            describe(&outcomes)
        );
        assert!(
            outcomes.iter().all(StepOutcome::verified),
            "{id}: teardown did not verify: {}",
            describe(&outcomes)
        );
        let dangling = self.journal.dangling().unwrap();
        assert!(
            dangling.is_empty(),
            "{id}: the journal still has {} open actions: {dangling:#?}",
            dangling.len()
        );
        if let Err(why) = seen {
            panic!("{id}: while it was on: {why}");
        }
        eprintln!(
            "{id}: injected, seen, torn down and verified in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
}

fn describe(outcomes: &[StepOutcome]) -> String {
    let parts: Vec<String> = outcomes
        .iter()
        .map(|o| format!("{} {}: {}", o.fault, o.kind, o.describe()))
        .collect();
    if parts.is_empty() {
        "nothing".to_string()
    } else {
        parts.join("; ")
    }
}

/// Probes until `probe` says yes, for up to [`PROBE_FOR`]; an `Err` stops at once.
pub async fn eventually(
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<bool, String>,
) -> Effect {
    let deadline = Instant::now() + PROBE_FOR;
    loop {
        if probe().await? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("not seen within {PROBE_FOR:?}: {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
