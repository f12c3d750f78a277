//! Table tests of the run state machine: every transition, with time passed in by
//! hand (tokio's clock paused), no PostgreSQL or Docker needed because `step` does no
//! I/O.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chaosdeck::catalog::Severity;
use chaosdeck::engine::record::{Outcome, Recovery, TeardownStep, TimelineKind, Verdict};
use chaosdeck::engine::verdict::judge;
use chaosdeck::engine::{
    next_deadline, step, Effect, Input, Phase, ProbeRole, Run, RunSetup, StopReason,
};
use chaosdeck::observe::{MetricBatch, MetricSample, ProbeSample};
use tokio::time::Instant;

const APP: usize = 0;
const GUARD: usize = 1;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn setup() -> RunSetup {
    RunSetup {
        fault_id: "db-max-connections".into(),
        severity: Severity::High,
        expect_impact: vec!["app-health".into()],
        recover_within: Duration::from_secs(5),
        self_healing: false,
        ttl: Duration::from_secs(60),
        observe_for: Some(Duration::from_secs(10)),
        probes: vec![
            ProbeRole {
                name: "app-health".into(),
                check: "GET http://127.0.0.1:1/health → 2xx".into(),
                steady_state: true,
                guard: false,
            },
            ProbeRole {
                name: "disk-ok".into(),
                check: "disk-ok exits 0".into(),
                steady_state: false,
                guard: true,
            },
        ],
        stable_for: 3,
        wait_for_sources: vec![],
        preflight_timeout: Duration::from_secs(5),
        probe_interval: ms(250),
    }
}

/// Begin preflight with nothing in the way.
fn start() -> Input {
    Input::Start {
        problems: vec![],
        notes: vec![],
    }
}

/// The gate passed with `--yes`.
fn approved() -> Input {
    Input::GateApproved {
        by: "--yes".into(),
        target: "x".into(),
    }
}

/// The fault is on, with no blast radius to report.
fn injected() -> Input {
    Input::Injected {
        blast_radius: vec![],
    }
}

fn sample(probe: usize, at: Instant, up: bool) -> Input {
    Input::Probe(ProbeSample {
        probe,
        at,
        up,
        latency: ms(3),
        detail: if up {
            "200".into()
        } else {
            "connection refused".into()
        },
    })
}

fn verified() -> Vec<TeardownStep> {
    vec![TeardownStep {
        fault: "db-max-connections".into(),
        action: "postgres.hold_connections".into(),
        result: "verified".into(),
        verified: true,
    }]
}

fn residual() -> Vec<TeardownStep> {
    vec![TeardownStep {
        fault: "db-max-connections".into(),
        action: "postgres.hold_connections".into(),
        result: "residual: 3 sessions tagged chaosdeck:x remain".into(),
        verified: false,
    }]
}

/// A run that has passed preflight and the gate and is observing since `t0 + 1s`.
fn observing(setup: RunSetup) -> (Run, Instant) {
    let t0 = Instant::now();
    let mut run = Run::new(setup, t0);
    step(&mut run, start(), t0);
    step(&mut run, sample(APP, t0 + ms(10), true), t0 + ms(20));
    step(
        &mut run,
        Input::GateApproved {
            by: "--yes".into(),
            target: "postgres host=x".into(),
        },
        t0 + ms(30),
    );
    let effects = step(&mut run, injected(), t0 + ms(1000));
    assert!(!effects.contains(&Effect::Teardown));
    assert_eq!(run.phase, Phase::Observing);
    (run, t0)
}

/// Asserts that one of the verdict's reasons says `part`.
fn assert_reason(verdict: &Verdict, part: &str) {
    assert!(
        verdict.reasons.iter().any(|r| r.contains(part)),
        "no reason says {part:?}: {:?}",
        verdict.reasons
    );
}

fn has(effects: &[Effect], wanted: &Effect) -> bool {
    effects.iter().any(|e| e == wanted)
}

#[tokio::test(start_paused = true)]
async fn preflight_problems_abort_before_anything_is_injected() {
    let t0 = Instant::now();
    let mut run = Run::new(setup(), t0);
    let effects = step(
        &mut run,
        Input::Start {
            problems: vec!["postgres.hold_connections: connection refused".into()],
            notes: vec![],
        },
        t0,
    );
    assert_eq!(run.phase, Phase::Done);
    assert!(has(&effects, &Effect::Finished));
    assert!(!has(&effects, &Effect::Inject) && !has(&effects, &Effect::AskGate));
    let verdict = judge(&run);
    assert_eq!(verdict.outcome, Outcome::Aborted);
    assert!(verdict.reasons[0].contains("connection refused"));
    assert_eq!(verdict.outcome.exit_code(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_note_at_start_is_a_preflight_line_and_preflight_goes_on() {
    let t0 = Instant::now();
    let mut run = Run::new(setup(), t0);
    let note = "fault proxy 127.0.0.1:9 is served by another process".to_string();
    let effects = step(
        &mut run,
        Input::Start {
            problems: vec![],
            notes: vec![note.clone()],
        },
        t0,
    );
    assert!(
        effects.iter().any(|e| matches!(e,
            Effect::Timeline(t) if t.kind == TimelineKind::Preflight && t.text == note)),
        "{effects:?}"
    );
    assert_eq!(run.phase, Phase::Preflight);
    step(&mut run, sample(APP, t0 + ms(5), true), t0 + ms(6));
    assert_eq!(run.phase, Phase::Gate, "a note stops nothing");
}

#[tokio::test(start_paused = true)]
async fn preflight_waits_for_every_steady_state_probe_then_asks_the_gate() {
    let t0 = Instant::now();
    let mut run = Run::new(setup(), t0);
    assert!(!has(&step(&mut run, start(), t0), &Effect::AskGate));
    // A down check, then the guard (not steady state) changes nothing.
    step(&mut run, sample(APP, t0 + ms(5), false), t0 + ms(6));
    step(&mut run, sample(GUARD, t0 + ms(5), true), t0 + ms(6));
    assert_eq!(run.phase, Phase::Preflight);
    let effects = step(&mut run, sample(APP, t0 + ms(255), true), t0 + ms(256));
    assert_eq!(run.phase, Phase::Gate);
    assert_eq!(
        effects.iter().filter(|e| **e == Effect::AskGate).count(),
        1,
        "{effects:?}"
    );
}

fn pg_batch(at: Instant, error: Option<&str>) -> Input {
    Input::Metrics(MetricBatch {
        at,
        source: "postgres".into(),
        samples: match error {
            Some(_) => vec![],
            None => vec![MetricSample {
                series: "pg.connections.total".into(),
                value: 7.0,
            }],
        },
        error: error.map(str::to_string),
    })
}

#[tokio::test(start_paused = true)]
async fn preflight_waits_for_the_monitoring_session_before_a_connection_fault() {
    let mut waiting = setup();
    waiting.wait_for_sources = vec!["postgres".into()];
    let t0 = Instant::now();
    let mut run = Run::new(waiting.clone(), t0);
    step(&mut run, start(), t0);
    step(&mut run, sample(APP, t0 + ms(5), true), t0 + ms(6));
    assert_eq!(run.phase, Phase::Preflight, "probes alone are not enough");
    step(
        &mut run,
        pg_batch(t0 + ms(10), Some("connection refused")),
        t0 + ms(11),
    );
    assert_eq!(
        run.phase,
        Phase::Preflight,
        "a failed reading does not count"
    );
    let effects = step(&mut run, pg_batch(t0 + ms(900), None), t0 + ms(901));
    assert!(has(&effects, &Effect::AskGate));

    let mut run = Run::new(waiting, t0);
    step(&mut run, start(), t0);
    step(&mut run, sample(APP, t0 + ms(5), true), t0 + ms(6));
    step(
        &mut run,
        pg_batch(t0 + ms(10), Some("connection refused")),
        t0 + ms(11),
    );
    step(&mut run, Input::Tick, t0 + ms(5000));
    let why = run.aborted.clone().unwrap();
    assert!(
        why.contains("postgres sampler (no reading yet: connection refused)"),
        "{why}"
    );
}

#[tokio::test(start_paused = true)]
async fn preflight_times_out_naming_the_probe_that_is_down() {
    let t0 = Instant::now();
    let mut run = Run::new(setup(), t0);
    step(&mut run, start(), t0);
    step(&mut run, sample(APP, t0 + ms(5), false), t0 + ms(6));
    step(&mut run, Input::Tick, t0 + ms(4999));
    assert_eq!(run.phase, Phase::Preflight);
    let effects = step(&mut run, Input::Tick, t0 + ms(5000));
    assert!(has(&effects, &Effect::Finished));
    let why = run.aborted.clone().unwrap();
    assert!(
        why.contains("app-health (down: connection refused)"),
        "{why}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_gate_or_a_stop_before_injection_aborts_without_injecting() {
    for input in [
        Input::GateRefused {
            why: "operator pressed Esc".into(),
        },
        Input::Stop(StopReason::Interrupt),
    ] {
        let t0 = Instant::now();
        let mut run = Run::new(setup(), t0);
        step(&mut run, start(), t0);
        step(&mut run, sample(APP, t0, true), t0);
        assert_eq!(run.phase, Phase::Gate);
        let effects = step(&mut run, input, t0 + ms(1));
        assert_eq!(run.phase, Phase::Done);
        assert!(!has(&effects, &Effect::Inject));
        assert!(run.injected_at.is_none());
        assert_eq!(judge(&run).outcome, Outcome::Aborted);
    }
}

#[tokio::test(start_paused = true)]
async fn approval_is_recorded_and_leads_to_inject() {
    let t0 = Instant::now();
    let mut run = Run::new(setup(), t0);
    step(&mut run, start(), t0);
    step(&mut run, sample(APP, t0, true), t0);
    let effects = step(
        &mut run,
        Input::GateApproved {
            by: "--yes".into(),
            target: "postgres host=x password=***".into(),
        },
        t0 + ms(40),
    );
    assert!(has(&effects, &Effect::Inject));
    assert_eq!(run.phase, Phase::Injecting);
    assert_eq!(run.approvals.len(), 1);
    assert_eq!(run.approvals[0].offset_ms, 40);
    assert_eq!(run.approvals[0].severity, Severity::High);
    // A second approval changes nothing.
    let again = step(&mut run, approved(), t0 + ms(41));
    assert!(again.is_empty());
}

#[tokio::test(start_paused = true)]
async fn time_to_impact_is_the_first_failing_check_that_started_once_injection_began() {
    let t0 = Instant::now();
    let mut run = Run::new(setup(), t0);
    step(&mut run, start(), t0);
    step(&mut run, sample(APP, t0 + ms(10), true), t0 + ms(11));
    step(&mut run, approved(), t0 + ms(100));
    // Started before injection began, answered during it: not impact.
    step(&mut run, sample(APP, t0 + ms(90), false), t0 + ms(120));
    assert!(run.impact_at.is_none());
    step(&mut run, sample(APP, t0 + ms(350), true), t0 + ms(351));
    // A fault that hurts while it is still going on (a slow fill) counts.
    let effects = step(&mut run, sample(APP, t0 + ms(600), false), t0 + ms(605));
    assert_eq!(run.impact_at, Some(t0 + ms(600)));
    assert!(effects.iter().any(|e| matches!(e,
        Effect::Timeline(t) if t.kind == TimelineKind::Impact && t.text.contains("500 ms"))));
    step(&mut run, injected(), t0 + ms(1000));
    // Later failures do not move it.
    step(&mut run, sample(APP, t0 + ms(1250), false), t0 + ms(1251));
    assert_eq!(run.impact_at, Some(t0 + ms(600)));
    step(&mut run, Input::Stop(StopReason::Operator), t0 + ms(2000));
    step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(2100),
    );
    let record = chaosdeck::engine::verdict::build_record(
        &run,
        fault_summary(),
        "x".into(),
        Default::default(),
        "r1".into(),
        "2026-11-23T00:00:00Z".into(),
    );
    assert_eq!(record.timings.time_to_impact_ms, Some(500));
    // The probe that came back at 1250 ms was stamped before later entries arrived;
    // the record reads in time order all the same.
    assert!(record
        .timeline
        .windows(2)
        .all(|w| w[0].offset_ms <= w[1].offset_ms));
    assert_eq!(record.timings.teardown_ms, Some(100));
}

fn fault_summary() -> chaosdeck::engine::record::FaultSummary {
    chaosdeck::engine::record::FaultSummary {
        id: "db-max-connections".into(),
        name: "Max connections exhausted".into(),
        category: chaosdeck::catalog::Category::Database,
        severity: Severity::High,
        expect_impact: vec!["app-health".into()],
        recover_within_ms: 5000,
        self_healing: false,
    }
}

#[tokio::test(start_paused = true)]
async fn every_stop_reason_while_observing_tears_down_and_is_named() {
    let reasons = [
        (StopReason::Operator, "operator", true),
        (StopReason::HaltAll, "halt-all", false),
        (StopReason::Interrupt, "interrupt", false),
        (StopReason::Terminate, "terminate", false),
        (StopReason::Panic, "panic", true),
    ];
    for (reason, word, watches_recovery) in reasons {
        let (mut run, t0) = observing(setup());
        let effects = step(&mut run, Input::Stop(reason), t0 + ms(2000));
        assert!(has(&effects, &Effect::Teardown), "{word}");
        assert_eq!(run.phase, Phase::TearingDown);
        // A second stop while tearing down does not tear down twice.
        assert!(!has(
            &step(&mut run, Input::Stop(StopReason::HaltAll), t0 + ms(2001)),
            &Effect::Teardown
        ));
        step(
            &mut run,
            Input::TornDown { steps: verified() },
            t0 + ms(2300),
        );
        let expected = if watches_recovery {
            Phase::RecoveryWatch
        } else {
            Phase::Done
        };
        assert_eq!(run.phase, expected, "{word}");
        assert_eq!(judge(&run).ended_by, word);
    }
}

#[tokio::test(start_paused = true)]
async fn ttl_and_the_observation_window_end_observing_at_their_instant() {
    let (mut run, t0) = observing(setup());
    assert!(!has(
        &step(&mut run, Input::Tick, t0 + ms(10_999)),
        &Effect::Teardown
    ));
    assert!(has(
        &step(&mut run, Input::Tick, t0 + ms(11_000)),
        &Effect::Teardown
    ));
    assert_eq!(judge(&run).ended_by, "duration");

    let mut short_ttl = setup();
    short_ttl.ttl = Duration::from_secs(2);
    let (mut run, t0) = observing(short_ttl);
    assert!(!has(
        &step(&mut run, Input::Tick, t0 + ms(2999)),
        &Effect::Teardown
    ));
    assert!(has(
        &step(&mut run, Input::Tick, t0 + ms(3000)),
        &Effect::Teardown
    ));
    assert_eq!(run.teardown_started, Some(t0 + ms(3000)));
    assert_eq!(judge(&run).ended_by, "ttl");
}

#[tokio::test(start_paused = true)]
async fn a_failing_guard_tears_down_at_once() {
    let (mut run, t0) = observing(setup());
    let effects = step(&mut run, sample(GUARD, t0 + ms(1200), false), t0 + ms(1201));
    assert!(has(&effects, &Effect::Teardown));
    assert_eq!(judge(&run).ended_by, "guard disk-ok");
}

#[tokio::test(start_paused = true)]
async fn a_stop_or_failing_guard_while_injecting_tears_down_once_injection_returns() {
    for input in [
        Input::Stop(StopReason::Terminate),
        sample(GUARD, Instant::now() + ms(50), false),
    ] {
        let t0 = Instant::now();
        let mut run = Run::new(setup(), t0);
        step(&mut run, start(), t0);
        step(&mut run, sample(APP, t0, true), t0);
        step(&mut run, approved(), t0);
        let effects = step(&mut run, input, t0 + ms(60));
        assert!(
            !has(&effects, &Effect::Teardown),
            "nothing to tear down yet"
        );
        assert_eq!(run.phase, Phase::Injecting);
        let effects = step(&mut run, injected(), t0 + ms(300));
        assert!(has(&effects, &Effect::Teardown));
        assert_eq!(run.phase, Phase::TearingDown);
    }
}

#[tokio::test(start_paused = true)]
async fn recovery_is_the_start_of_a_stable_for_streak_after_teardown_done() {
    let (mut run, t0) = observing(setup());
    step(&mut run, sample(APP, t0 + ms(1250), false), t0 + ms(1251));
    step(&mut run, Input::Tick, t0 + ms(11_000));
    step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(11_400),
    );
    assert_eq!(run.phase, Phase::RecoveryWatch);
    // Started before teardown was done: does not count.
    step(
        &mut run,
        sample(APP, t0 + ms(11_300), true),
        t0 + ms(11_401),
    );
    step(
        &mut run,
        sample(APP, t0 + ms(11_500), false),
        t0 + ms(11_501),
    );
    step(
        &mut run,
        sample(APP, t0 + ms(11_750), true),
        t0 + ms(11_751),
    );
    step(
        &mut run,
        sample(APP, t0 + ms(12_000), true),
        t0 + ms(12_001),
    );
    assert_eq!(run.phase, Phase::RecoveryWatch, "two of three");
    let effects = step(
        &mut run,
        sample(APP, t0 + ms(12_250), true),
        t0 + ms(12_251),
    );
    assert!(has(&effects, &Effect::Finished));
    assert_eq!(run.recovered_at, Some(t0 + ms(11_750)));
    let verdict = judge(&run);
    assert_eq!(verdict.outcome, Outcome::Pass, "{:?}", verdict.reasons);
    assert_eq!(verdict.impact_seen, Some(true));
    assert!(verdict.recovered_in_time);
    assert_eq!(verdict.outcome.exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn no_recovery_by_the_deadline_fails_the_verdict() {
    let (mut run, t0) = observing(setup());
    step(&mut run, sample(APP, t0 + ms(1250), false), t0 + ms(1251));
    step(&mut run, Input::Stop(StopReason::Operator), t0 + ms(2000));
    step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(2100),
    );
    // recover_within 5 s + 3 × 250 ms of grace.
    assert!(!has(
        &step(&mut run, Input::Tick, t0 + ms(7849)),
        &Effect::Finished
    ));
    assert!(has(
        &step(&mut run, Input::Tick, t0 + ms(7850)),
        &Effect::Finished
    ));
    let verdict = judge(&run);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert!(!verdict.recovered_in_time);
    assert_reason(&verdict, "not regained");
    assert_eq!(verdict.outcome.exit_code(), 1);
}

#[tokio::test(start_paused = true)]
async fn expected_impact_never_seen_fails_even_when_recovered() {
    let (mut run, t0) = observing(setup());
    step(&mut run, sample(APP, t0 + ms(1250), true), t0 + ms(1251));
    step(&mut run, Input::Tick, t0 + ms(11_000));
    step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(11_100),
    );
    for i in 0..3 {
        step(
            &mut run,
            sample(APP, t0 + ms(11_200 + 250 * i), true),
            t0 + ms(11_201 + 250 * i),
        );
    }
    assert_eq!(run.phase, Phase::Done);
    let verdict = judge(&run);
    assert_eq!(verdict.impact_seen, Some(false));
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert_reason(&verdict, "app-health never failed");
}

#[tokio::test(start_paused = true)]
async fn a_residual_teardown_step_is_a_failed_teardown() {
    let (mut run, t0) = observing(setup());
    step(&mut run, Input::Stop(StopReason::Operator), t0 + ms(2000));
    let effects = step(
        &mut run,
        Input::TornDown { steps: residual() },
        t0 + ms(2100),
    );
    assert!(has(&effects, &Effect::Finished));
    let verdict = judge(&run);
    assert_eq!(verdict.outcome, Outcome::TeardownFailed);
    assert_eq!(verdict.outcome.exit_code(), 3);
    assert!(verdict.reasons[0].contains("residual: 3 sessions"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_injection_reports_its_rollback() {
    for (rollback, outcome) in [
        (verified(), Outcome::Aborted),
        (residual(), Outcome::TeardownFailed),
    ] {
        let t0 = Instant::now();
        let mut run = Run::new(setup(), t0);
        step(&mut run, start(), t0);
        step(&mut run, sample(APP, t0, true), t0);
        step(&mut run, approved(), t0);
        let effects = step(
            &mut run,
            Input::InjectFailed {
                error: "permission denied to ALTER SYSTEM".into(),
                rollback,
            },
            t0 + ms(100),
        );
        assert!(has(&effects, &Effect::Finished));
        assert!(!has(&effects, &Effect::Teardown));
        assert_eq!(judge(&run).outcome, outcome);
    }
}

#[tokio::test(start_paused = true)]
async fn a_self_healing_fault_recovers_from_injection_while_still_observing() {
    let mut healing = setup();
    healing.self_healing = true;
    let (mut run, t0) = observing(healing);
    // Up after injection but before impact: no recovery yet.
    for at in [1100, 1350, 1600] {
        step(&mut run, sample(APP, t0 + ms(at), true), t0 + ms(at + 1));
    }
    assert!(run.recovered_at.is_none());
    step(&mut run, sample(APP, t0 + ms(1850), false), t0 + ms(1851));
    for at in [2100, 2350, 2600] {
        step(&mut run, sample(APP, t0 + ms(at), true), t0 + ms(at + 1));
    }
    assert_eq!(run.recovered_at, Some(t0 + ms(2100)));
    assert_eq!(run.phase, Phase::Observing, "the window still runs");
    step(&mut run, Input::Tick, t0 + ms(11_000));
    let effects = step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(11_050),
    );
    assert!(has(&effects, &Effect::Finished));
    let verdict = judge(&run);
    assert_eq!(verdict.outcome, Outcome::Pass, "{:?}", verdict.reasons);
    // From the start of injection (t0 + 30 ms) to the streak that began at 2100 ms.
    assert_reason(&verdict, "recovered in 2070 ms");
}

#[tokio::test(start_paused = true)]
async fn a_stop_during_the_recovery_watch_ends_the_run_as_interrupted_not_unrecovered() {
    let (mut run, t0) = observing(setup());
    step(&mut run, sample(APP, t0 + ms(1250), false), t0 + ms(1251));
    step(&mut run, Input::Stop(StopReason::Operator), t0 + ms(2000));
    step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(2100),
    );
    let effects = step(&mut run, Input::Stop(StopReason::Interrupt), t0 + ms(2200));
    assert!(has(&effects, &Effect::Finished));
    assert_eq!(run.phase, Phase::Done);
    let verdict = judge(&run);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert_eq!(verdict.word(), "INTERRUPTED");
    assert_eq!(verdict.ended_by, "interrupt during the recovery watch");
    assert_reason(&verdict, "recovery not watched to the end");
    assert!(!verdict.reasons.iter().any(|r| r.contains("not regained")));
    assert_eq!(record_of(&run).recovery(), Recovery::NotWatched);
}

/// The run's record, as the runner builds it.
fn record_of(run: &Run) -> chaosdeck::engine::record::RunRecord {
    chaosdeck::engine::verdict::build_record(
        run,
        fault_summary(),
        "x".into(),
        Default::default(),
        "r1".into(),
        "2026-11-23T00:00:00Z".into(),
    )
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_while_observing_skips_the_recovery_watch_and_says_so() {
    for (reason, word) in [
        (StopReason::Interrupt, "interrupt"),
        (StopReason::Terminate, "terminate"),
        (StopReason::HaltAll, "halt-all"),
    ] {
        let (mut run, t0) = observing(setup());
        step(&mut run, sample(APP, t0 + ms(1250), false), t0 + ms(1251));
        step(&mut run, Input::Stop(reason), t0 + ms(2000));
        let effects = step(
            &mut run,
            Input::TornDown { steps: verified() },
            t0 + ms(2100),
        );
        assert!(has(&effects, &Effect::Finished), "{word}");
        assert!(
            effects.iter().any(|e| matches!(e,
                Effect::Timeline(t) if t.kind == TimelineKind::Recovery
                    && t.text.contains("recovery not watched"))),
            "{word}: {effects:?}"
        );
        let verdict = judge(&run);
        assert_eq!(verdict.outcome, Outcome::Fail, "{word}");
        assert_eq!(verdict.word(), "INTERRUPTED", "{word}");
        assert_eq!(verdict.ended_by, word);
        assert!(!verdict.recovered_in_time);
        assert!(
            verdict.reasons.iter().any(|r| r.contains("interrupted")
                && r.contains("before the recovery watch; recovery not watched")),
            "{word}: {:?}",
            verdict.reasons
        );
        assert!(
            !verdict
                .reasons
                .iter()
                .any(|r| r.contains("not regained within")),
            "{word}: {:?}",
            verdict.reasons
        );
        assert_eq!(record_of(&run).recovery(), Recovery::NotWatched, "{word}");
    }
}

#[tokio::test(start_paused = true)]
async fn without_a_steady_state_probe_there_is_no_recovery_wait_and_no_failure_for_it() {
    let mut bare = setup();
    bare.probes.clear();
    bare.expect_impact.clear();
    let t0 = Instant::now();
    let mut run = Run::new(bare.clone(), t0);
    let effects = step(&mut run, start(), t0);
    assert!(
        effects.iter().any(|e| matches!(e,
            Effect::Timeline(t) if t.text.contains("recovery will not be measured"))),
        "{effects:?}"
    );
    assert_eq!(run.phase, Phase::Gate);
    step(&mut run, approved(), t0 + ms(10));
    step(&mut run, injected(), t0 + ms(100));
    step(&mut run, Input::Tick, t0 + ms(10_100));
    assert_eq!(run.phase, Phase::TearingDown);
    let effects = step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(10_200),
    );
    assert!(has(&effects, &Effect::Finished), "no recovery watch");
    assert_eq!(run.phase, Phase::Done);
    assert_eq!(next_deadline(&run), None);
    let verdict = judge(&run);
    assert_eq!(verdict.outcome, Outcome::Pass, "{:?}", verdict.reasons);
    assert!(
        verdict
            .reasons
            .iter()
            .any(|r| r == "recovery not measured (no steady-state probe)"),
        "{:?}",
        verdict.reasons
    );
    assert_eq!(record_of(&run).recovery(), Recovery::NotMeasured);

    // An impact is expected, but no probe could see it: not measured either.
    let mut expecting = bare;
    expecting.expect_impact = vec!["app-health".into()];
    let mut run = Run::new(expecting, t0);
    step(&mut run, start(), t0);
    step(&mut run, approved(), t0 + ms(10));
    step(&mut run, injected(), t0 + ms(100));
    step(&mut run, Input::Stop(StopReason::Operator), t0 + ms(1000));
    step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(1100),
    );
    let verdict = judge(&run);
    assert_eq!(verdict.impact_seen, None);
    assert_eq!(verdict.outcome, Outcome::Pass, "{:?}", verdict.reasons);
    assert_reason(&verdict, "expected impact (app-health) not measured");
}

#[tokio::test(start_paused = true)]
async fn notes_restarts_and_series_are_kept() {
    let (mut run, t0) = observing(setup());
    step(
        &mut run,
        Input::Note("  pager fired  ".into()),
        t0 + ms(1500),
    );
    step(&mut run, Input::Note("   ".into()), t0 + ms(1501));
    for (at, restarts, cpu) in [(1000, 2.0, 10.0), (2000, 3.0, 30.0), (3000, 5.0, 20.0)] {
        let batch = MetricBatch {
            at: t0 + ms(at),
            source: "container:web".into(),
            samples: vec![
                MetricSample {
                    series: "container.web.restarts".into(),
                    value: restarts,
                },
                MetricSample {
                    series: "container.web.cpu_percent".into(),
                    value: cpu,
                },
            ],
            error: None,
        };
        step(&mut run, Input::Metrics(batch), t0 + ms(at));
    }
    // A process target's restarts, counted by its sampler while it was down too.
    for (at, restarts) in [(1000, 0.0), (2000, 1.0)] {
        let batch = MetricBatch {
            at: t0 + ms(at),
            source: "process:port:8080".into(),
            samples: vec![MetricSample {
                series: "process.port:8080.restarts".into(),
                value: restarts,
            }],
            error: Some("no process listens on TCP port 8080".into()),
        };
        step(&mut run, Input::Metrics(batch), t0 + ms(at));
    }
    assert_eq!(run.restarts.get("process port:8080"), Some(&(0, 1)));
    assert_eq!(run.notes.len(), 1);
    assert_eq!(run.notes[0].text, "pager fired");
    assert_eq!(run.notes[0].offset_ms, 1500);
    assert_eq!(run.restarts.get("web"), Some(&(2, 5)));
    let cpu = run
        .series
        .summaries()
        .into_iter()
        .find(|s| s.name == "container.web.cpu_percent")
        .unwrap();
    assert_eq!(
        (cpu.min, cpu.max, cpu.mean, cpu.samples),
        (10.0, 30.0, 20.0, 3)
    );
    // A note after the verdict still lands in the timeline.
    step(&mut run, Input::Stop(StopReason::Interrupt), t0 + ms(4000));
    step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(4100),
    );
    assert_eq!(run.phase, Phase::Done);
    step(&mut run, Input::Note("all clear".into()), t0 + ms(5000));
    assert_eq!(run.notes.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_same_inputs_give_the_same_run() {
    let replay = || {
        let (mut run, t0) = observing(setup());
        let mut all = Vec::new();
        for (i, up) in [true, false, false, true].into_iter().enumerate() {
            let at = t0 + ms(1100 + 250 * i as u64);
            all.extend(step(&mut run, sample(APP, at, up), at));
        }
        all.extend(step(&mut run, Input::Tick, t0 + ms(11_000)));
        all
    };
    let first = replay();
    assert_eq!(first, replay());
    assert!(first.contains(&Effect::Teardown));
}

#[tokio::test(start_paused = true)]
async fn the_runner_sleeps_until_the_next_deadline_of_each_phase() {
    let t0 = Instant::now();
    let mut run = Run::new(setup(), t0);
    step(&mut run, start(), t0);
    assert_eq!(
        next_deadline(&run),
        Some(t0 + ms(5000)),
        "preflight timeout"
    );
    step(&mut run, sample(APP, t0, true), t0);
    assert_eq!(next_deadline(&run), None, "the gate waits for a person");

    let (mut run, t0) = observing(setup());
    assert_eq!(
        next_deadline(&run),
        Some(t0 + ms(11_000)),
        "the 10 s window"
    );
    let mut short_ttl = setup();
    short_ttl.ttl = Duration::from_secs(2);
    let (short, t1) = observing(short_ttl);
    assert_eq!(
        next_deadline(&short),
        Some(t1 + ms(3000)),
        "the TTL comes first"
    );

    step(&mut run, Input::Stop(StopReason::Operator), t0 + ms(2000));
    assert_eq!(next_deadline(&run), None, "teardown has no clock");
    step(
        &mut run,
        Input::TornDown { steps: verified() },
        t0 + ms(2100),
    );
    assert_eq!(
        next_deadline(&run),
        Some(t0 + ms(7850)),
        "recover_within + grace"
    );
}
