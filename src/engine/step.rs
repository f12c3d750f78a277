//! The transitions of a run: one function per input, each pure.

use std::time::Duration;

use tokio::time::Instant;

use super::record::{Approval, Note, TeardownStep, TimelineKind};
use super::run::{Effect, Input, Phase, ProbeRole, Run, StopReason};
use crate::observe::ProbeSample;

/// Advances the run by one input. Pure: the same run, input and time give the same
/// effects.
pub fn step(run: &mut Run, input: Input, now: Instant) -> Vec<Effect> {
    let mut out = Vec::new();
    if run.phase == Phase::Done {
        if let Input::Note(text) = input {
            note(run, text, now, &mut out);
        }
        return out;
    }
    match input {
        Input::Start { problems, notes } => start(run, problems, notes, now, &mut out),
        Input::Probe(sample) => probe(run, sample, now, &mut out),
        Input::Metrics(batch) => {
            metrics(run, &batch);
            if run.phase == Phase::Preflight && run.started_preflight {
                preflight_check(run, now, &mut out);
            }
        }
        Input::GateApproved { by, target } => approved(run, by, target, now, &mut out),
        Input::GateRefused { why } => {
            if run.phase == Phase::Gate {
                abort(run, format!("not approved: {why}"), now, &mut out);
            }
        }
        Input::Injected { blast_radius } => injected(run, blast_radius, now, &mut out),
        Input::InjectFailed { error, rollback } => {
            inject_failed(run, error, rollback, now, &mut out)
        }
        Input::Tick => tick(run, now, &mut out),
        Input::Stop(reason) => stop(run, reason, now, &mut out),
        Input::TornDown { steps } => torn_down(run, steps, now, &mut out),
        Input::Note(text) => note(run, text, now, &mut out),
        Input::ExtendTtl(by) => extend_ttl(run, by, now, &mut out),
        Input::Restarts { name, count } => {
            let entry = run.restarts.entry(name).or_insert((count, count));
            entry.1 = count;
        }
    }
    out
}

/// Folds a sampler reading in; restart counts also feed the restarts table.
fn metrics(run: &mut Run, batch: &crate::observe::MetricBatch) {
    run.series.add(batch);
    if batch.error.is_none() && !batch.samples.is_empty() {
        run.sources_ready.insert(batch.source.clone());
    }
    for sample in &batch.samples {
        let Some(name) = restarted(&sample.series) else {
            continue;
        };
        let count = sample.value as i64;
        let entry = run.restarts.entry(name).or_insert((count, count));
        entry.1 = count;
    }
}

/// The restarts table's name for a series of restart counts: a container by its
/// name, a process as `process port:8080`.
fn restarted(series: &str) -> Option<String> {
    let counted = series.strip_suffix(".restarts")?;
    if let Some(container) = counted.strip_prefix("container.") {
        return Some(container.to_string());
    }
    counted
        .strip_prefix("process.")
        .map(|process| format!("process {process}"))
}

fn start(
    run: &mut Run,
    problems: Vec<String>,
    notes: Vec<String>,
    now: Instant,
    out: &mut Vec<Effect>,
) {
    if run.phase != Phase::Preflight {
        return;
    }
    for note in notes {
        run.say(now, TimelineKind::Preflight, note, out);
    }
    if !problems.is_empty() {
        abort(run, format!("preflight: {}", problems.join("; ")), now, out);
        return;
    }
    let steady = run.steady_indices().count();
    let text = if steady == 0 {
        "preflight: no steady-state probes; recovery will not be measured".to_string()
    } else {
        format!("preflight: waiting for {steady} steady-state probe(s)")
    };
    run.say(now, TimelineKind::Preflight, text, out);
    run.started_preflight = true;
    preflight_check(run, now, out);
}

/// Passes preflight when every steady-state probe's latest check is up and every
/// awaited sampler has read once.
fn preflight_check(run: &mut Run, now: Instant, out: &mut Vec<Effect>) {
    let all_up = run
        .steady_indices()
        .all(|i| run.probes[i].last_up == Some(true));
    let sources = run
        .setup
        .wait_for_sources
        .iter()
        .all(|s| run.sources_ready.contains(s));
    if all_up && sources {
        run.say(
            now,
            TimelineKind::Preflight,
            "steady state holds".into(),
            out,
        );
        run.phase = Phase::Gate;
        out.push(Effect::AskGate);
    }
}

fn approved(run: &mut Run, by: String, target: String, now: Instant, out: &mut Vec<Effect>) {
    if run.phase != Phase::Gate {
        return;
    }
    run.approvals.push(Approval {
        offset_ms: run.offset_ms(now),
        by: by.clone(),
        severity: run.setup.severity,
        target,
    });
    let text = format!("approved ({}) by {by}", run.setup.severity);
    run.say(now, TimelineKind::Approval, text, out);
    run.phase = Phase::Injecting;
    run.inject_started = Some(now);
    out.push(Effect::Inject);
}

fn injected(run: &mut Run, blast_radius: Vec<String>, now: Instant, out: &mut Vec<Effect>) {
    if run.phase != Phase::Injecting {
        return;
    }
    run.injected_at = Some(now);
    for line in blast_radius {
        run.say(now, TimelineKind::Inject, line, out);
    }
    let text = format!("{} injected", run.setup.fault_id);
    run.say(now, TimelineKind::Inject, text, out);
    run.phase = Phase::Observing;
    for track in &mut run.probes {
        track.reset_streak_at(now);
    }
    if let Some(reason) = run.pending_stop.take() {
        begin_teardown(run, reason, now, out);
    }
}

fn inject_failed(
    run: &mut Run,
    error: String,
    rollback: Vec<TeardownStep>,
    now: Instant,
    out: &mut Vec<Effect>,
) {
    if run.phase != Phase::Injecting {
        return;
    }
    run.say(
        now,
        TimelineKind::Error,
        format!("inject failed: {error}"),
        out,
    );
    for step in &rollback {
        let text = format!("rollback {}: {}", step.action, step.result);
        run.say(now, TimelineKind::Teardown, text, out);
    }
    run.inject_error = Some(error);
    run.teardown_steps = rollback;
    finish(run, now, out);
}

fn probe(run: &mut Run, sample: ProbeSample, now: Instant, out: &mut Vec<Effect>) {
    let Some(role) = run.setup.probes.get(sample.probe).cloned() else {
        return;
    };
    let changed = run.probes[sample.probe].add(&sample);
    if changed {
        let word = if sample.up { "up" } else { "down" };
        let text = match sample.up {
            true => format!("{} {word}", role.name),
            false => format!("{} {word}: {}", role.name, sample.detail),
        };
        let at = sample.at.max(run.started);
        run.say(at, TimelineKind::Probe, text, out);
    }
    match run.phase {
        Phase::Preflight if run.started_preflight => preflight_check(run, now, out),
        Phase::Observing => {
            observe_sample(run, &sample, &role, out);
            if role.guard && !sample.up {
                run.say(
                    now,
                    TimelineKind::Guard,
                    format!("guard {} failed: {}", role.name, sample.detail),
                    out,
                );
                begin_teardown(run, StopReason::Guard(role.name.clone()), now, out);
            } else if run.setup.self_healing {
                recovery_check(run, out);
            }
        }
        Phase::Injecting => {
            observe_sample(run, &sample, &role, out);
            if role.guard && !sample.up {
                run.pending_stop
                    .get_or_insert(StopReason::Guard(role.name.clone()));
            }
        }
        Phase::RecoveryWatch => {
            let recovered = recovery_check(run, out);
            if recovered {
                finish(run, now, out);
            }
        }
        _ => {}
    }
}

/// Notes the first failing check that started once injection began: the moment of
/// impact.
fn observe_sample(run: &mut Run, sample: &ProbeSample, role: &ProbeRole, out: &mut Vec<Effect>) {
    let Some(injected) = run.inject_started else {
        return;
    };
    if sample.up || sample.at < injected {
        return;
    }
    run.probes[sample.probe].failed_after_injection = true;
    if run.impact_at.is_some() {
        return;
    }
    run.impact_at = Some(sample.at);
    let ms = sample.at.saturating_duration_since(injected).as_millis();
    let text = format!("impact: {} failed {ms} ms after injection began", role.name);
    run.say(sample.at, TimelineKind::Impact, text, out);
}

/// Whether steady state has held for `stable_for` checks since the recovery anchor;
/// records the moment it was regained.
fn recovery_check(run: &mut Run, out: &mut Vec<Effect>) -> bool {
    if run.recovered_at.is_some() {
        return true;
    }
    let anchor = match (
        run.setup.self_healing,
        run.inject_started,
        run.teardown_done,
    ) {
        (true, Some(injected), _) => injected,
        (false, _, Some(done)) => done,
        _ => return false,
    };
    // A self-healing fault has not healed before it was seen to hurt.
    if run.setup.self_healing && run.impact_at.is_none() && run.phase == Phase::Observing {
        return false;
    }
    let mut regained = anchor;
    let mut steady = 0;
    for i in run.steady_indices() {
        steady += 1;
        match run.probes[i].streak_since(anchor, run.setup.stable_for) {
            Some(start) => regained = regained.max(start),
            None => return false,
        }
    }
    if steady == 0 {
        return false;
    }
    run.recovered_at = Some(regained);
    let ms = regained.saturating_duration_since(anchor).as_millis();
    let from = if run.setup.self_healing {
        "injection"
    } else {
        "teardown done"
    };
    let text = format!("recovered: steady state regained {ms} ms after {from}");
    run.say(regained, TimelineKind::Recovery, text, out);
    true
}

fn tick(run: &mut Run, now: Instant, out: &mut Vec<Effect>) {
    match run.phase {
        Phase::Preflight if now >= run.started + run.setup.preflight_timeout => {
            let mut down: Vec<String> = run
                .steady_indices()
                .filter(|&i| run.probes[i].last_up != Some(true))
                .map(|i| run.probes[i].describe_down(&run.setup.probes[i].name))
                .collect();
            for source in &run.setup.wait_for_sources {
                if !run.sources_ready.contains(source) {
                    let why = run.series.errors.get(source).map(|(_, e)| e.as_str());
                    down.push(format!(
                        "{source} sampler (no reading yet{})",
                        why.map(|e| format!(": {e}")).unwrap_or_default()
                    ));
                }
            }
            let why = format!(
                "preflight: steady state did not hold within {}: {}",
                humantime::format_duration(run.setup.preflight_timeout),
                down.join(", ")
            );
            abort(run, why, now, out);
        }
        Phase::Observing => {
            let Some(injected) = run.injected_at else {
                return;
            };
            if now >= injected + run.setup.ttl {
                begin_teardown(run, StopReason::Ttl, now, out);
            } else if let Some(window) = run.setup.observe_for {
                if now >= injected + window {
                    begin_teardown(run, StopReason::Duration, now, out);
                }
            }
        }
        Phase::RecoveryWatch if now >= recovery_deadline(run) => {
            let text = format!(
                "not recovered within {}",
                humantime::format_duration(run.setup.recover_within)
            );
            run.say(now, TimelineKind::Recovery, text, out);
            finish(run, now, out);
        }
        _ => {}
    }
}

/// Gives the fault more time, while it is not yet being torn down.
fn extend_ttl(run: &mut Run, by: Duration, now: Instant, out: &mut Vec<Effect>) {
    match run.phase {
        Phase::Preflight | Phase::Gate | Phase::Injecting | Phase::Observing => {
            run.setup.ttl += by;
            let text = format!(
                "TTL extended by {} to {}",
                humantime::format_duration(by),
                humantime::format_duration(run.setup.ttl)
            );
            run.say(now, TimelineKind::Note, text, out);
        }
        Phase::TearingDown | Phase::RecoveryWatch | Phase::Done => {}
    }
}

/// The next instant at which time alone changes the run (preflight gives up, the
/// TTL or the observation window ends, the recovery watch ends); the runner sleeps
/// until then instead of ticking.
pub fn next_deadline(run: &Run) -> Option<Instant> {
    match run.phase {
        Phase::Preflight => Some(run.started + run.setup.preflight_timeout),
        Phase::Observing => {
            let injected = run.injected_at?;
            let ttl = injected + run.setup.ttl;
            Some(match run.setup.observe_for {
                Some(window) => ttl.min(injected + window),
                None => ttl,
            })
        }
        Phase::RecoveryWatch => Some(recovery_deadline(run)),
        Phase::Gate | Phase::Injecting | Phase::TearingDown | Phase::Done => None,
    }
}

fn recovery_deadline(run: &Run) -> Instant {
    let anchor = match run.setup.self_healing {
        true => run.inject_started,
        false => run.teardown_done,
    };
    let grace = run.setup.probe_interval * run.setup.stable_for;
    anchor.unwrap_or(run.started) + run.setup.recover_within + grace
}

fn stop(run: &mut Run, reason: StopReason, now: Instant, out: &mut Vec<Effect>) {
    match run.phase {
        Phase::Preflight | Phase::Gate => {
            abort(run, format!("stopped ({})", reason.describe()), now, out);
        }
        Phase::Injecting => {
            run.pending_stop.get_or_insert(reason);
        }
        Phase::Observing => begin_teardown(run, reason, now, out),
        Phase::TearingDown | Phase::Done => {}
        Phase::RecoveryWatch => {
            let text = format!(
                "recovery watch stopped ({}) before steady state was regained",
                reason.describe()
            );
            run.say(now, TimelineKind::Recovery, text, out);
            run.watch_stopped_by = Some(reason);
            finish(run, now, out);
        }
    }
}

fn begin_teardown(run: &mut Run, reason: StopReason, now: Instant, out: &mut Vec<Effect>) {
    if run.phase != Phase::Observing {
        return;
    }
    let text = format!("teardown ({})", reason.describe());
    run.ended_by = Some(reason);
    run.teardown_started = Some(now);
    run.phase = Phase::TearingDown;
    run.say(now, TimelineKind::Teardown, text, out);
    out.push(Effect::Teardown);
}

fn torn_down(run: &mut Run, steps: Vec<TeardownStep>, now: Instant, out: &mut Vec<Effect>) {
    if run.phase != Phase::TearingDown {
        return;
    }
    run.teardown_done = Some(now);
    for step in &steps {
        let text = format!("{} {}: {}", step.fault, step.action, step.result);
        run.say(now, TimelineKind::Teardown, text, out);
    }
    let all_verified = steps.iter().all(|s| s.verified);
    run.teardown_steps = steps;
    if !all_verified {
        finish(run, now, out);
        return;
    }
    if let Some(reason) = run.ended_by.as_ref().filter(|r| r.ends_run()) {
        let text = format!(
            "recovery not watched: the run was stopped ({})",
            reason.describe()
        );
        run.say(now, TimelineKind::Recovery, text, out);
        finish(run, now, out);
        return;
    }
    // Nothing could show steady state coming back, so there is nothing to wait for;
    // a self-healing fault's recovery was measured while observing, if at all.
    if run.steady_indices().next().is_none() {
        let text = "recovery not measured (no steady-state probe)".to_string();
        run.say(now, TimelineKind::Recovery, text, out);
        finish(run, now, out);
        return;
    }
    run.phase = Phase::RecoveryWatch;
    for track in &mut run.probes {
        track.reset_streak_at(now);
    }
    if recovery_check(run, out) {
        finish(run, now, out);
    }
}

fn note(run: &mut Run, text: String, now: Instant, out: &mut Vec<Effect>) {
    let text = text.trim().to_string();
    if text.is_empty() {
        return;
    }
    run.notes.push(Note {
        offset_ms: run.offset_ms(now),
        text: text.clone(),
    });
    run.say(now, TimelineKind::Note, text, out);
}

fn abort(run: &mut Run, why: String, now: Instant, out: &mut Vec<Effect>) {
    run.say(now, TimelineKind::Error, why.clone(), out);
    run.aborted = Some(why);
    finish(run, now, out);
}

fn finish(run: &mut Run, now: Instant, out: &mut Vec<Effect>) {
    run.phase = Phase::Done;
    let verdict = super::verdict::judge(run);
    let text = format!("verdict: {}", verdict.summary());
    run.say(now, TimelineKind::Verdict, text, out);
    out.push(Effect::Finished);
}
