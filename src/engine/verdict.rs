//! The verdict of a run, and the record a finished run leaves behind.

use std::collections::BTreeMap;

use super::record::{
    FaultSummary, Outcome, ProbeSummary, Recovery, RecoveryAnchor, RunRecord, Timings, Verdict,
};
use super::run::{Run, StopReason};

/// Judges the run as it stands: did the expected impact show, did steady state come
/// back in time, was every teardown step verified. What could not be judged does not
/// fail the run by itself: recovery without a steady-state probe, impact without a
/// probe to see it. A run stopped by the operator before its recovery was watched to
/// the end (Ctrl-C, SIGTERM, halt-all) fails as interrupted, not as "not recovered".
pub fn judge(run: &Run) -> Verdict {
    let ended_by = match (&run.watch_stopped_by, &run.ended_by) {
        (Some(stop), _) => cut_short(stop),
        (None, Some(reason)) => reason.describe(),
        (None, None) => "not started".into(),
    };
    let impact_seen = impact_seen(run);
    let recovery = recovery(run);
    let recovered_in_time = matches!(recovery, Recovery::Regained { in_time: true, .. });
    let mut reasons = Vec::new();
    let teardown_ok = run.teardown_steps.iter().all(|s| s.verified);
    for step in run.teardown_steps.iter().filter(|s| !s.verified) {
        reasons.push(format!(
            "teardown of {} {}: {}",
            step.fault, step.action, step.result
        ));
    }
    let outcome = if !teardown_ok {
        Outcome::TeardownFailed
    } else if let Some(why) = &run.aborted {
        reasons.push(why.clone());
        Outcome::Aborted
    } else if let Some(error) = &run.inject_error {
        reasons.push(format!("inject failed: {error}"));
        Outcome::Aborted
    } else {
        match impact_seen {
            Some(true) => reasons.push(format!(
                "expected impact seen ({})",
                impact_names(run).join(", ")
            )),
            Some(false) => reasons.push(format!(
                "expected impact not seen: {} never failed",
                impact_names(run).join(", ")
            )),
            None if !run.setup.expect_impact.is_empty() => reasons.push(format!(
                "expected impact ({}) not measured (no probe)",
                run.setup.expect_impact.join(", ")
            )),
            None => {}
        }
        let within = humantime::format_duration(run.setup.recover_within);
        reasons.push(match recovery {
            Recovery::Regained { ms, in_time: true } => {
                format!("recovered in {ms} ms (within {within})")
            }
            Recovery::Regained { ms, .. } => {
                format!("recovered in {ms} ms, later than {within}")
            }
            Recovery::NotRegained => format!("steady state not regained within {within}"),
            Recovery::NotMeasured => "recovery not measured (no steady-state probe)".into(),
            Recovery::NotWatched => match &run.watch_stopped_by {
                Some(stop) => format!(
                    "interrupted: the recovery watch was stopped ({}) before steady state was regained; recovery not watched to the end",
                    stop.describe()
                ),
                None => format!(
                    "interrupted: the run was stopped ({}) before the recovery watch; recovery not watched",
                    ended_by
                ),
            },
            // The outcomes above cover these.
            Recovery::NotReached => "recovery not reached".into(),
        });
        let recovery_ok = matches!(
            recovery,
            Recovery::Regained { in_time: true, .. } | Recovery::NotMeasured
        );
        if impact_seen != Some(false) && recovery_ok {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    };
    Verdict {
        outcome,
        ended_by,
        impact_seen,
        recovered_in_time,
        reasons,
    }
}

/// `ended_by` of a run whose recovery watch a stop cut short.
fn cut_short(stop: &StopReason) -> String {
    format!("{}{CUT_SHORT}", stop.describe())
}

const CUT_SHORT: &str = " during the recovery watch";

/// Whether an `ended_by` says the operator stopped the run before its recovery was
/// watched to the end: a stop that ends the run (`interrupt`, `terminate`,
/// `halt-all`), or any stop during the recovery watch.
pub fn stopped_before_recovery(ended_by: &str) -> bool {
    let ends_run = [
        StopReason::HaltAll,
        StopReason::Interrupt,
        StopReason::Terminate,
    ]
    .iter()
    .any(|r| r.describe() == ended_by);
    ends_run || ended_by.ends_with(CUT_SHORT)
}

/// What became of the run's recovery (the verdict's outcome covers runs that never
/// injected or whose teardown failed).
fn recovery(run: &Run) -> Recovery {
    if let Some(ms) = time_to_recover_ms(run) {
        let in_time = ms <= run.setup.recover_within.as_millis() as u64;
        return Recovery::Regained { ms, in_time };
    }
    if run.aborted.is_some() || run.inject_error.is_some() || run.teardown_done.is_none() {
        return Recovery::NotReached;
    }
    if !run.setup.probes.iter().any(|p| p.steady_state) {
        return Recovery::NotMeasured;
    }
    let stopped = run.ended_by.as_ref().is_some_and(StopReason::ends_run);
    if run.watch_stopped_by.is_some() || stopped {
        return Recovery::NotWatched;
    }
    Recovery::NotRegained
}

impl RunRecord {
    /// What became of the run's recovery, read from the record as [`judge`] decided
    /// it: for reports and the game-day scorecard.
    pub fn recovery(&self) -> Recovery {
        if let Some(ms) = self.timings.time_to_recover_ms {
            let in_time = ms <= self.fault.recover_within_ms;
            return Recovery::Regained { ms, in_time };
        }
        match self.verdict.outcome {
            Outcome::Aborted | Outcome::TeardownFailed => return Recovery::NotReached,
            Outcome::Pass | Outcome::Fail => {}
        }
        if !self.probes.iter().any(|p| p.steady_state) {
            return Recovery::NotMeasured;
        }
        if stopped_before_recovery(&self.verdict.ended_by) {
            return Recovery::NotWatched;
        }
        Recovery::NotRegained
    }
}

impl Verdict {
    /// The outcome in one word for people: `PASS`, `FAIL`, `INTERRUPTED` (failed
    /// because the operator stopped the run before its recovery was watched),
    /// `ABORTED`, `TEARDOWN FAILED`.
    pub fn word(&self) -> &'static str {
        match self.outcome {
            Outcome::Pass => "PASS",
            Outcome::Fail if stopped_before_recovery(&self.ended_by) => "INTERRUPTED",
            Outcome::Fail => "FAIL",
            Outcome::Aborted => "ABORTED",
            Outcome::TeardownFailed => "TEARDOWN FAILED",
        }
    }

    /// `PASS`, `FAIL (why)` …, for progress lines.
    pub fn summary(&self) -> String {
        format!("{} — {}", self.word(), self.reasons.join("; "))
    }
}

/// The expected impact names this run can judge: those with a probe of that name, or
/// every steady-state probe when none of the names matches a probe.
fn impact_names(run: &Run) -> Vec<String> {
    let named: Vec<String> = run
        .setup
        .expect_impact
        .iter()
        .filter(|name| run.setup.probes.iter().any(|p| &p.name == *name))
        .cloned()
        .collect();
    if !named.is_empty() {
        return named;
    }
    run.setup
        .probes
        .iter()
        .filter(|p| p.steady_state)
        .map(|p| p.name.clone())
        .collect()
}

/// `None` when no impact is expected, or no probe could show it; otherwise whether
/// the expected probes failed after injection (each named one, or any steady-state
/// probe as a stand-in).
fn impact_seen(run: &Run) -> Option<bool> {
    if run.setup.expect_impact.is_empty()
        || run.injected_at.is_none()
        || impact_names(run).is_empty()
    {
        return None;
    }
    let named: Vec<usize> = run
        .setup
        .probes
        .iter()
        .enumerate()
        .filter(|(_, p)| run.setup.expect_impact.contains(&p.name))
        .map(|(i, _)| i)
        .collect();
    if named.is_empty() {
        return Some(run.impact_at.is_some());
    }
    Some(named.iter().all(|&i| run.probes[i].failed_after_injection))
}

fn time_to_recover_ms(run: &Run) -> Option<u64> {
    let anchor = match run.setup.self_healing {
        true => run.inject_started?,
        false => run.teardown_done?,
    };
    let recovered = run.recovered_at?;
    Some(recovered.saturating_duration_since(anchor).as_millis() as u64)
}

/// Everything a report needs, once the run is done.
pub fn build_record(
    run: &Run,
    fault: FaultSummary,
    target: String,
    params: BTreeMap<String, String>,
    run_id: String,
    started_at: String,
) -> RunRecord {
    let ms = |a: Option<tokio::time::Instant>, b: Option<tokio::time::Instant>| match (a, b) {
        (Some(a), Some(b)) => Some(b.saturating_duration_since(a).as_millis() as u64),
        _ => None,
    };
    let probes = run
        .setup
        .probes
        .iter()
        .zip(&run.probes)
        .map(|(role, track)| {
            let (min, mean, max) = track.latency_ms();
            ProbeSummary {
                name: role.name.clone(),
                check: role.check.clone(),
                steady_state: role.steady_state,
                guard: role.guard,
                checks: track.checks,
                failures: track.failures,
                latency_min_ms: min,
                latency_mean_ms: mean,
                latency_max_ms: max,
            }
        })
        .collect();
    let timings = Timings {
        time_to_impact_ms: ms(run.inject_started, run.impact_at),
        teardown_ms: ms(run.teardown_started, run.teardown_done),
        time_to_recover_ms: time_to_recover_ms(run),
        recovery_from: match run.setup.self_healing {
            true => RecoveryAnchor::Injection,
            false => RecoveryAnchor::TeardownDone,
        },
        restarts: run
            .restarts
            .iter()
            .map(|(name, (first, last))| (name.clone(), last - first))
            .collect(),
    };
    // Probe changes are stamped when their check started, which can be before an
    // entry that arrived earlier; the report reads in time order.
    let mut timeline = run.timeline.clone();
    timeline.sort_by_key(|entry| entry.offset_ms);
    RunRecord {
        run_id,
        fault,
        target,
        params,
        started_at,
        approvals: run.approvals.clone(),
        timeline,
        series: run.series.summaries(),
        probes,
        timings,
        teardown: run.teardown_steps.clone(),
        verdict: judge(run),
        notes: run.notes.clone(),
    }
}
