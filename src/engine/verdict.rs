//! The verdict of a run, and the record a finished run leaves behind.

use std::collections::BTreeMap;

use super::record::{
    FaultSummary, Outcome, ProbeSummary, RecoveryAnchor, RunRecord, Timings, Verdict,
};
use super::run::Run;

/// Judges the run as it stands: did the expected impact show, did steady state come
/// back in time, was every teardown step verified.
pub fn judge(run: &Run) -> Verdict {
    let ended_by = run
        .ended_by
        .as_ref()
        .map(|r| r.describe())
        .unwrap_or_else(|| "not started".into());
    let impact_seen = impact_seen(run);
    let ttr = time_to_recover_ms(run);
    let limit = run.setup.recover_within.as_millis() as u64;
    let recovered_in_time = ttr.is_some_and(|ms| ms <= limit);
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
            None => {}
        }
        let steady = run.setup.probes.iter().any(|p| p.steady_state);
        match ttr {
            _ if !steady => {
                reasons.push("no steady-state probes, so recovery was not measured".into())
            }
            Some(ms) if ms <= limit => reasons.push(format!(
                "recovered in {ms} ms (within {})",
                humantime::format_duration(run.setup.recover_within)
            )),
            Some(ms) => reasons.push(format!(
                "recovered in {ms} ms, later than {}",
                humantime::format_duration(run.setup.recover_within)
            )),
            None => reasons.push(format!(
                "steady state not regained within {}",
                humantime::format_duration(run.setup.recover_within)
            )),
        }
        if impact_seen != Some(false) && recovered_in_time {
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

impl Verdict {
    /// `PASS`, `FAIL (why)` …, for progress lines.
    pub fn summary(&self) -> String {
        let word = match self.outcome {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Aborted => "ABORTED",
            Outcome::TeardownFailed => "TEARDOWN FAILED",
        };
        format!("{word} — {}", self.reasons.join("; "))
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

/// `None` when no impact is expected; otherwise whether the expected probes failed
/// after injection (each named one, or any steady-state probe as a stand-in).
fn impact_seen(run: &Run) -> Option<bool> {
    if run.setup.expect_impact.is_empty() || run.injected_at.is_none() {
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
