//! Injecting a fault and tearing it down, with every side effect journaled before it
//! happens and every undo verified. Used by `chaosdeck inject` (through a holder
//! process), by `run` and by the console.

use std::collections::BTreeMap;

use crate::catalog::resolve::ParamValues;
use crate::catalog::{Action, Catalog, FaultSpec, Lifetime};
use crate::driver::dispatch::{self, RunContext, Undo};
use crate::driver::targets::Targets;
use crate::driver::{DriverError, Hold, Verification};
use crate::engine::journal::{Dangling, Event, Journal};

/// One action to perform, with the fault it belongs to (compound faults expand
/// into the actions of the faults they include).
#[derive(Debug, Clone)]
pub struct Step {
    pub fault: String,
    pub action: Action,
}

/// Resolves parameters and expands includes into a flat list of steps.
pub fn expand(
    catalog: &Catalog,
    spec: &FaultSpec,
    values: &ParamValues,
    builtins: &BTreeMap<&str, String>,
) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    expand_into(catalog, spec, values, builtins, &mut steps, 0)?;
    Ok(steps)
}

fn expand_into(
    catalog: &Catalog,
    spec: &FaultSpec,
    values: &ParamValues,
    builtins: &BTreeMap<&str, String>,
    steps: &mut Vec<Step>,
    depth: usize,
) -> Result<(), String> {
    if depth > 8 {
        return Err(format!("{}: includes nest deeper than 8 levels", spec.id));
    }
    let actions = spec
        .resolve_actions(values, builtins)
        .map_err(|e| format!("{}: {e}", spec.id))?;
    for action in actions {
        match &action {
            Action::Include(include) => {
                let inner = catalog.get(&include.fault).ok_or_else(|| {
                    format!("{}: includes unknown fault \"{}\"", spec.id, include.fault)
                })?;
                let overrides: BTreeMap<String, String> = include
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), crate::catalog::model::scalar_text(v)))
                    .collect();
                let inner_values = inner
                    .param_values(&overrides)
                    .map_err(|e| format!("{}: {e}", inner.id))?;
                expand_into(catalog, inner, &inner_values, builtins, steps, depth + 1)?;
            }
            _ => steps.push(Step {
                fault: spec.id.clone(),
                action,
            }),
        }
    }
    Ok(())
}

/// Whether the steps need a process to keep them alive (sessions, stressors, the
/// proxy).
pub fn needs_holder(steps: &[Step]) -> bool {
    steps
        .iter()
        .any(|s| s.action.lifetime() == Lifetime::SessionBound)
}

/// A step whose side effect is in place.
#[derive(Debug)]
pub struct ActiveStep {
    pub index: usize,
    pub fault: String,
    pub kind: &'static str,
    pub undo: Undo,
    pub hold: Option<Hold>,
    pub blast_radius: String,
}

/// An injected fault: its run id and the steps that are on.
#[derive(Debug)]
pub struct Active {
    pub run: String,
    pub fault: String,
    pub steps: Vec<ActiveStep>,
}

/// What one undo came to.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    pub fault: String,
    pub kind: String,
    pub result: Result<Verification, String>,
}

impl StepOutcome {
    pub fn verified(&self) -> bool {
        matches!(self.result, Ok(Verification::Verified))
    }

    /// `verified`, `residual: …` or `failed: …`.
    pub fn describe(&self) -> String {
        match &self.result {
            Ok(Verification::Verified) => "verified".to_string(),
            Ok(Verification::Residual(why)) => format!("residual: {why}"),
            Err(e) => format!("failed: {e}"),
        }
    }
}

/// Why an injection stopped, and what tearing down its first steps came to.
#[derive(Debug)]
pub struct InjectFailure {
    /// The action that failed (planned, journaled or applied).
    pub kind: &'static str,
    pub error: DriverError,
    pub rollback: Vec<StepOutcome>,
}

/// Plans every step without touching anything: the blast radius of each.
pub async fn dry_run(
    steps: &[Step],
    targets: &Targets,
    ctx: &RunContext,
) -> Vec<(String, Result<String, DriverError>)> {
    let mut out = Vec::new();
    for step in steps {
        let ctx = RunContext {
            fault_id: step.fault.clone(),
            ..ctx.clone()
        };
        let result = dispatch::plan(&step.action, targets, &ctx)
            .await
            .map(|p| p.blast_radius);
        out.push((step.action.kind().to_string(), result));
    }
    out
}

/// Injects the steps in order. Each is planned, journaled with its undo data, then
/// applied. On any failure what was done is undone before returning.
pub async fn inject(
    journal: &Journal,
    ctx: &RunContext,
    steps: &[Step],
    targets: &Targets,
    mut progress: impl FnMut(&str),
) -> Result<Active, InjectFailure> {
    let mut active = Active {
        run: ctx.run_id.clone(),
        fault: ctx.fault_id.clone(),
        steps: Vec::new(),
    };
    let record = serde_json::to_value(targets.record()).unwrap_or_default();
    for (index, step) in steps.iter().enumerate() {
        let step_ctx = RunContext {
            fault_id: step.fault.clone(),
            ..ctx.clone()
        };
        let kind = step.action.kind();
        let fail = |error: DriverError, active: Active| async move {
            let rollback = teardown(journal, active, targets).await;
            InjectFailure {
                kind,
                error,
                rollback,
            }
        };
        let plan = match dispatch::plan(&step.action, targets, &step_ctx).await {
            Ok(plan) => plan,
            Err(e) => return Err(fail(e, active).await),
        };
        let undo_json = serde_json::to_value(&plan.undo).unwrap_or_default();
        let intent = Event::Intent {
            action: step.action.kind().to_string(),
            lifetime: step.action.lifetime().as_str().to_string(),
            target: record.clone(),
            undo: undo_json,
            blast_radius: plan.blast_radius.clone(),
        };
        if let Err(e) = journal.append(&ctx.run_id, &step.fault, index, intent) {
            return Err(fail(DriverError::Input(e.to_string()), active).await);
        }
        progress(&format!("{}: {}", step.action.kind(), plan.blast_radius));
        match dispatch::apply(&step.action, targets, &step_ctx, &plan.undo).await {
            Ok((hold, fuller)) => {
                let undo = fuller.unwrap_or(plan.undo);
                let applied = Event::Applied {
                    undo: Some(serde_json::to_value(&undo).unwrap_or_default()),
                };
                if let Err(e) = journal.append(&ctx.run_id, &step.fault, index, applied) {
                    tracing::warn!("{e}");
                }
                active.steps.push(ActiveStep {
                    index,
                    fault: step.fault.clone(),
                    kind: step.action.kind(),
                    undo,
                    hold: (!hold.is_empty()).then_some(hold),
                    blast_radius: plan.blast_radius,
                });
            }
            Err(e) => {
                let failed = Event::ApplyFailed {
                    error: e.to_string(),
                };
                if let Err(je) = journal.append(&ctx.run_id, &step.fault, index, failed) {
                    tracing::warn!("{je}");
                }
                // Whatever part of this step happened is undone with the rest.
                active.steps.push(ActiveStep {
                    index,
                    fault: step.fault.clone(),
                    kind: step.action.kind(),
                    undo: plan.undo,
                    hold: None,
                    blast_radius: plan.blast_radius,
                });
                return Err(fail(e, active).await);
            }
        }
    }
    Ok(active)
}

/// Tears the steps down in reverse order: release, undo, verify, journal.
pub async fn teardown(journal: &Journal, active: Active, targets: &Targets) -> Vec<StepOutcome> {
    let mut outcomes = Vec::new();
    for step in active.steps.into_iter().rev() {
        if let Some(hold) = step.hold {
            hold.release().await;
        }
        let result = undo_and_verify(&step.undo, targets).await;
        close(journal, &active.run, &step.fault, step.index, &result);
        outcomes.push(StepOutcome {
            fault: step.fault,
            kind: step.kind.to_string(),
            result,
        });
    }
    outcomes
}

/// Tears down what the journal says is still on, from its recorded undo data.
pub async fn teardown_dangling(
    journal: &Journal,
    dangling: &[Dangling],
    given: &[Targets],
) -> Vec<StepOutcome> {
    let mut outcomes = Vec::new();
    for item in dangling.iter().rev() {
        let Event::Intent {
            action,
            target,
            undo,
            ..
        } = &item.intent.event
        else {
            continue;
        };
        let latest_undo = match &item.last {
            Some(record) => match &record.event {
                Event::Applied { undo: Some(u) } => u.clone(),
                _ => undo.clone(),
            },
            None => undo.clone(),
        };
        let result = async {
            let undo: Undo = serde_json::from_value(latest_undo)
                .map_err(|e| format!("unreadable undo data: {e}"))?;
            let record = serde_json::from_value(target.clone())
                .map_err(|e| format!("unreadable target: {e}"))?;
            let targets = Targets::from_record(&record, given).map_err(|e| e.to_string())?;
            undo_and_verify(&undo, &targets).await
        }
        .await;
        close(
            journal,
            &item.intent.run,
            &item.intent.fault,
            item.intent.step,
            &result,
        );
        outcomes.push(StepOutcome {
            fault: item.intent.fault.clone(),
            kind: action.clone(),
            result,
        });
    }
    outcomes
}

async fn undo_and_verify(undo: &Undo, targets: &Targets) -> Result<Verification, String> {
    dispatch::undo(undo, targets)
        .await
        .map_err(|e| e.to_string())?;
    dispatch::verify(undo, targets)
        .await
        .map_err(|e| e.to_string())
}

fn close(
    journal: &Journal,
    run: &str,
    fault: &str,
    step: usize,
    result: &Result<Verification, String>,
) {
    let event = match result {
        Ok(verification) => Event::Undone {
            verification: verification.clone(),
        },
        Err(e) => Event::UndoFailed { error: e.clone() },
    };
    if let Err(e) = journal.append(run, fault, step, event) {
        tracing::warn!("{e}");
    }
}
