//! Timing accuracy of the engine: a real HTTP service goes down and comes back at
//! instants this test chooses (a set delay after the engine says the fault is in,
//! and after it says teardown is verified); the engine's time to impact and time to
//! recover must be within one probe interval of those truths, at 250 ms and 50 ms.
//! Also: after a panic, a run's journaled steps are undone from the journal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chaosdeck::catalog::Catalog;
use chaosdeck::config::ObserveConfig;
use chaosdeck::driver::targets::Targets;
use chaosdeck::engine::experiment::{self, Watch};
use chaosdeck::engine::journal::{new_run_id, Journal};
use chaosdeck::engine::record::{Outcome, RunRecord, TimelineKind};
use chaosdeck::engine::runner::{run_experiment, EngineEvent, GateMode};
use chaosdeck::engine::ProbeRole;
use chaosdeck::observe::{ProbeCheck, ProbeSpec};
use support::cli::{catalog_folder, marker_fault};
use support::http_service::{Health, HttpService};
use tokio::sync::mpsc;
use tokio::time::Instant;

const OUTAGE_FAULT: &str = r#"
- id: test-outage
  name: Outage the test controls
  category: process
  severity: low
  target: command
  description: Runs `true`; the test takes its own service down and up at instants it knows.
  actions:
    - command: { run: ["true"], undo: ["true"], timeout: 5s }
  expect:
    impact: [app-health]
    recover_within: 10s
  ttl: 1m
"#;

/// Down this long after the engine reports the fault injected (the truth of time to
/// impact also holds the injection's own few milliseconds, from the approval).
const DOWN_AFTER: Duration = Duration::from_millis(700);
/// Up again this long after the engine reports teardown verified.
const UP_AFTER: Duration = Duration::from_millis(600);

struct Measured {
    record: RunRecord,
    truth_impact: Duration,
    truth_recover: Duration,
}

async fn measure(interval: Duration) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::load(&[catalog_folder(dir.path(), OUTAGE_FAULT)]).unwrap();
    let up = Arc::new(AtomicBool::new(true));
    let service = HttpService::start(Health::Switch(up.clone())).await;

    let targets = Targets {
        exe: std::env::current_exe().unwrap(),
        ..Targets::default()
    };
    let resolved = experiment::resolve(&catalog, "test-outage", &[], targets, None).unwrap();
    let spec = ProbeSpec {
        name: "app-health".into(),
        check: ProbeCheck::Http {
            url: service.url(),
            status: Some(200),
            body_contains: None,
        },
        interval,
        timeout: Duration::from_secs(1),
    };
    let role = ProbeRole {
        name: "app-health".into(),
        check: spec.check.describe(),
        steady_state: true,
        guard: false,
    };
    let watch = Watch {
        probes: vec![(spec, role)],
        observe: ObserveConfig {
            interval,
            stable_for: 3,
            ..ObserveConfig::default()
        },
        observe_for: Some(Duration::from_millis(2000)),
        host_disk: dir.path().to_path_buf(),
    };
    let exp = experiment::experiment(new_run_id(), resolved, watch);
    let journal = Journal::open(&dir.path().join("state")).unwrap();
    let (_cmd_tx, cmd_rx) = mpsc::channel(8);
    let (event_tx, mut events) = mpsc::channel(4096);
    let engine = tokio::spawn(run_experiment(
        exp,
        journal.clone(),
        GateMode::Approved("--yes".into()),
        cmd_rx,
        event_tx,
    ));

    let (mut injected, mut torn_down) = (None::<Instant>, None::<Instant>);
    let (mut went_down, mut came_up) = (None, None);
    while let Some(event) = events.recv().await {
        let EngineEvent::Timeline(entry) = event else {
            continue;
        };
        let now = Instant::now();
        if entry.kind == TimelineKind::Approval {
            // Injection begins with the approval; impact counts from here.
            injected = Some(now);
        }
        if entry.kind == TimelineKind::Inject && entry.text.ends_with("injected") {
            let up = up.clone();
            went_down = Some(tokio::spawn(async move {
                tokio::time::sleep_until(now + DOWN_AFTER).await;
                up.store(false, Ordering::SeqCst);
                Instant::now()
            }));
        }
        if entry.kind == TimelineKind::Teardown && entry.text.ends_with(": verified") {
            torn_down = Some(now);
            let up = up.clone();
            came_up = Some(tokio::spawn(async move {
                tokio::time::sleep_until(now + UP_AFTER).await;
                up.store(true, Ordering::SeqCst);
                Instant::now()
            }));
        }
    }
    let record = engine.await.unwrap();
    let went_down = went_down.expect("the engine never reported the fault injected");
    let came_up = came_up.expect("the engine never reported teardown verified");
    let truth_impact = went_down.await.unwrap() - injected.expect("no approval reported");
    let truth_recover = came_up.await.unwrap() - torn_down.unwrap();
    assert!(journal.dangling().unwrap().is_empty());
    Measured {
        record,
        truth_impact,
        truth_recover,
    }
}

fn assert_within(what: &str, measured_ms: Option<u64>, truth: Duration, interval: Duration) {
    let measured = Duration::from_millis(measured_ms.unwrap_or_else(|| panic!("no {what}")));
    // The first check to see a change starts at most one interval after it; the
    // millisecond of rounding and the event's trip through the channel are the slack.
    let slack = Duration::from_millis(5);
    assert!(
        measured + slack >= truth && measured <= truth + interval + slack,
        "{what}: measured {measured:?}, truth {truth:?}, interval {interval:?}"
    );
}

async fn check_accuracy(interval: Duration) {
    let m = measure(interval).await;
    let t = &m.record.timings;
    eprintln!(
        "interval {interval:?}: impact {:?} ms (truth {:?}), recover {:?} ms (truth {:?}), teardown {:?} ms",
        t.time_to_impact_ms, m.truth_impact, t.time_to_recover_ms, m.truth_recover, t.teardown_ms
    );
    assert_eq!(
        m.record.verdict.outcome,
        Outcome::Pass,
        "{:?}",
        m.record.verdict.reasons
    );
    assert_within(
        "time to impact",
        t.time_to_impact_ms,
        m.truth_impact,
        interval,
    );
    assert_within(
        "time to recover",
        t.time_to_recover_ms,
        m.truth_recover,
        interval,
    );
    assert!(t.teardown_ms.is_some());
    let probe = &m.record.probes[0];
    assert!(probe.failures >= 1 && probe.checks > probe.failures);
}

#[tokio::test]
async fn times_are_within_one_probe_interval_at_250ms() {
    check_accuracy(Duration::from_millis(250)).await;
}

#[tokio::test]
async fn times_are_within_one_probe_interval_at_50ms() {
    check_accuracy(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn after_a_panic_the_runs_journaled_steps_are_undone() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("fault-is-on");
    let folder = catalog_folder(dir.path(), &marker_fault(&marker, "1m"));
    let catalog = Catalog::load(&[folder]).unwrap();
    let targets = Targets {
        exe: std::env::current_exe().unwrap(),
        ..Targets::default()
    };
    let resolved =
        experiment::resolve(&catalog, "test-marker", &[], targets.clone(), None).unwrap();
    let journal = Journal::open(&dir.path().join("state")).unwrap();
    let run_id = new_run_id();
    let ctx = chaosdeck::driver::dispatch::RunContext {
        run_id: run_id.clone(),
        fault_id: "test-marker".into(),
        ttl: Duration::from_secs(60),
    };
    // An engine task injects, then panics while the fault is on.
    let (task_journal, task_targets) = (journal.clone(), targets.clone());
    let steps = resolved.steps.clone();
    let died = tokio::spawn(async move {
        let active =
            chaosdeck::engine::inject::inject(&task_journal, &ctx, &steps, &task_targets, |_| {})
                .await
                .unwrap();
        assert!(!active.steps.is_empty());
        panic!("the engine fell over mid-run");
    })
    .await;
    assert!(died.unwrap_err().is_panic());
    assert!(marker.exists(), "the fault was on when the engine died");
    assert_eq!(journal.dangling().unwrap().len(), 1);

    let outcomes = chaosdeck::engine::recover::undo_run(&journal, &run_id, &targets)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].verified(), "{}", outcomes[0].describe());
    assert!(!marker.exists());
    assert!(journal.dangling().unwrap().is_empty());
}
