//! How engine events fold into the dashboard's state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::catalog::Catalog;
use crate::engine::record::{FaultSummary, Outcome, Timings, Verdict};
use crate::observe::MetricSample;

fn state(base: Instant) -> LiveState {
    let catalog = Catalog::builtin().unwrap();
    let fault = catalog.get("db-max-connections").unwrap();
    let probes = vec![ProbeRole {
        name: "app-health".into(),
        check: "GET http://app/health → 2xx".into(),
        steady_state: true,
        guard: false,
    }];
    let target = "postgres host=db user=app password=secret".to_string();
    LiveState::new(fault, target, probes, Duration::from_secs(300), base)
}

fn batch(
    base: Instant,
    secs: f64,
    source: &str,
    value: Option<f64>,
    error: Option<&str>,
) -> EngineEvent {
    EngineEvent::Metrics(MetricBatch {
        at: base + Duration::from_secs_f64(secs),
        source: source.into(),
        samples: value
            .map(|v| MetricSample {
                series: "pg.connections.total".into(),
                value: v,
            })
            .into_iter()
            .collect(),
        error: error.map(String::from),
    })
}

#[test]
fn the_target_is_masked_and_the_run_starts_in_preflight() {
    let live = state(Instant::now());
    assert_eq!(live.target, "postgres host=db user=app password=***");
    assert_eq!(live.phase, Phase::Preflight);
    assert_eq!(live.ttl_left(live.started), None);
}

#[test]
fn series_are_trimmed_to_the_history_window() {
    let base = Instant::now();
    let mut live = state(base);
    for i in 0..(12 * 60 * 4) {
        let secs = f64::from(i) / 4.0;
        live.apply(
            &batch(base, secs, "postgres", Some(f64::from(i)), None),
            base,
        );
    }
    let series = live.series("pg.connections.total").unwrap();
    let history = LiveState::HISTORY.as_secs_f64();
    let first = series.points()[0].0;
    assert!(
        first >= 720.0 - history - history / 8.0,
        "oldest point at {first}"
    );
    assert!(first > 0.0, "nothing was trimmed");
    assert!(series.len() <= ((history * 1.125 + 1.0) * 4.0) as usize);
    assert_eq!(series.latest(), Some(f64::from(12 * 60 * 4 - 1)));
}

#[test]
fn a_failed_reading_keeps_the_points_and_says_since_when() {
    let base = Instant::now();
    let mut live = state(base);
    assert_eq!(
        live.apply(&batch(base, 1.0, "postgres", Some(40.0), None), base),
        Change::Readings
    );
    assert_eq!(
        live.apply(
            &batch(base, 2.0, "postgres", None, Some("connection refused")),
            base
        ),
        Change::News
    );
    let points = live
        .series("pg.connections.total")
        .unwrap()
        .points()
        .to_vec();
    assert_eq!(points, vec![(1.0, 40.0)]);
    let error = &live.sampler_errors["postgres"];
    assert_eq!(error.message, "connection refused");
    assert_eq!(error.last_reading, Some(base + Duration::from_secs(1)));
    // The same error again changes nothing visible.
    assert_eq!(
        live.apply(
            &batch(base, 3.0, "postgres", None, Some("connection refused")),
            base
        ),
        Change::Nothing
    );
    // Readings again: the error goes, which is news.
    assert_eq!(
        live.apply(&batch(base, 4.0, "postgres", Some(41.0), None), base),
        Change::News
    );
    assert!(live.sampler_errors.is_empty());
    assert_eq!(live.series("pg.connections.total").unwrap().len(), 2);
}

#[test]
fn errors_never_carry_a_password_to_the_screen() {
    let base = Instant::now();
    let mut live = state(base);
    live.apply(
        &batch(
            base,
            1.0,
            "postgres",
            None,
            Some("host=db password=secret refused"),
        ),
        base,
    );
    assert!(!live.sampler_errors["postgres"].message.contains("secret"));
}

#[test]
fn the_gate_shows_its_blast_radius_until_the_run_moves_on() {
    let base = Instant::now();
    let mut live = state(base);
    let gate = EngineEvent::GateNeeded {
        blast_radius: vec!["hold 97 of 100 connections on primary".into()],
    };
    assert_eq!(live.apply(&gate, base), Change::News);
    assert!(live.gate_needed);
    assert_eq!(
        live.blast_radius,
        vec!["hold 97 of 100 connections on primary"]
    );
    live.apply(&EngineEvent::Phase(Phase::Injecting), base);
    assert!(!live.gate_needed);
}

#[test]
fn observing_starts_the_ttl_once_and_extensions_add_to_it() {
    let base = Instant::now();
    let mut live = state(base);
    let t = |s: u64| base + Duration::from_secs(s);
    assert_eq!(
        live.apply(&EngineEvent::Phase(Phase::Observing), t(10)),
        Change::News
    );
    assert_eq!(
        live.apply(&EngineEvent::Phase(Phase::Observing), t(20)),
        Change::Nothing
    );
    assert_eq!(live.injected_at, Some(t(10)));
    assert_eq!(live.ttl_left(t(70)), Some(Duration::from_secs(240)));
    live.extend_ttl(Duration::from_secs(60));
    assert_eq!(live.ttl_left(t(70)), Some(Duration::from_secs(300)));
    assert_eq!(live.ttl_left(t(1000)), Some(Duration::ZERO));
    live.apply(&EngineEvent::Phase(Phase::TearingDown), t(80));
    assert_eq!(live.ttl_left(t(81)), None);
}

#[test]
fn probes_keep_the_latest_check_and_a_bounded_latency_history() {
    let base = Instant::now();
    let mut live = state(base);
    for i in 0..(LATENCY_HISTORY as u64 + 10) {
        let sample = ProbeSample {
            probe: 0,
            at: base,
            up: i % 2 == 0,
            latency: Duration::from_millis(i),
            detail: format!("check {i}"),
        };
        // Every check here flips up and down: news each time.
        assert_eq!(live.apply(&EngineEvent::Probe(sample), base), Change::News);
    }
    let row = &live.probes[0];
    assert_eq!(row.latencies_ms.len(), LATENCY_HISTORY);
    assert_eq!(row.latencies_ms.back(), Some(&(LATENCY_HISTORY as u64 + 9)));
    let last = row.last.as_ref().unwrap();
    assert!(!last.up);
    assert_eq!(last.detail, format!("check {}", LATENCY_HISTORY + 9));
    let stray = ProbeSample {
        probe: 7,
        at: base,
        up: true,
        latency: Duration::ZERO,
        detail: String::new(),
    };
    assert_eq!(
        live.apply(&EngineEvent::Probe(stray), base),
        Change::Nothing
    );
}

#[test]
fn a_probe_that_stays_up_or_down_is_a_reading_and_a_flip_is_news() {
    let base = Instant::now();
    let mut live = state(base);
    let check = |up: bool, ms: u64| {
        EngineEvent::Probe(ProbeSample {
            probe: 0,
            at: base,
            up,
            latency: Duration::from_millis(ms),
            detail: String::new(),
        })
    };
    let seen: Vec<Change> = [
        (true, 3),
        (true, 4),
        (false, 1000),
        (false, 1000),
        (true, 2),
    ]
    .into_iter()
    .map(|(up, ms)| live.apply(&check(up, ms), base))
    .collect();
    assert_eq!(
        seen,
        [
            Change::News,
            Change::Readings,
            Change::News,
            Change::Readings,
            Change::News
        ]
    );
    assert_eq!(live.probes[0].latencies_ms.len(), 5);
}

#[test]
fn finished_keeps_the_record() {
    let base = Instant::now();
    let mut live = state(base);
    let record = RunRecord {
        run_id: "r1".into(),
        fault: FaultSummary {
            id: live.fault_id.clone(),
            name: live.fault_name.clone(),
            category: live.category,
            severity: live.severity,
            expect_impact: vec![],
            recover_within_ms: 30_000,
            self_healing: false,
        },
        target: live.target.clone(),
        params: BTreeMap::new(),
        started_at: "2025-01-01T00:00:00Z".into(),
        approvals: vec![],
        timeline: vec![],
        series: vec![],
        probes: vec![],
        timings: Timings::default(),
        teardown: vec![],
        verdict: Verdict {
            outcome: Outcome::Pass,
            ended_by: "ttl".into(),
            impact_seen: Some(true),
            recovered_in_time: true,
            reasons: vec![],
        },
        notes: vec![],
    };
    assert_eq!(
        live.apply(&EngineEvent::Finished(Box::new(record.clone())), base),
        Change::News
    );
    assert_eq!(live.record.as_deref(), Some(&record));
}

#[test]
fn containers_are_named_once_each() {
    let base = Instant::now();
    let mut live = state(base);
    let samples = [
        "container.a.b.cpu_percent",
        "container.a.cpu_percent",
        "container.a.restarts",
        "container.a-b.cpu_percent",
    ]
    .iter()
    .map(|s| MetricSample {
        series: s.to_string(),
        value: 1.0,
    })
    .collect();
    let event = EngineEvent::Metrics(MetricBatch {
        at: base,
        source: "x".into(),
        samples,
        error: None,
    });
    live.apply(&event, base);
    assert_eq!(live.containers(), vec!["a", "a-b", "a.b"]);
}

#[test]
fn timeline_lines_never_carry_a_password_to_the_screen() {
    let base = Instant::now();
    let mut live = state(base);
    for text in [
        "reconnecting to postgres://app:s3cret@db:5432/shop",
        "note: tried host=db user=app password=s3cret by hand",
    ] {
        let entry = TimelineEntry {
            offset_ms: 10,
            kind: crate::engine::record::TimelineKind::Note,
            text: text.into(),
        };
        live.apply(&EngineEvent::Timeline(entry), base);
    }
    assert_eq!(live.timeline.len(), 2);
    for entry in &live.timeline {
        assert!(!entry.text.contains("s3cret"), "{}", entry.text);
        assert!(entry.text.contains("***"), "{}", entry.text);
    }
}
