//! The dashboard's fixtures: one run's state before any reading, ten minutes into
//! observing, in trouble (samplers failing, every probe down, TTL nearly out) and
//! with names too long for any pane. All instants derive from one `base`, so the
//! screens they draw are the same on every run.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chaosdeck::catalog::Catalog;
use chaosdeck::engine::record::{TimelineEntry, TimelineKind};
use chaosdeck::engine::runner::EngineEvent;
use chaosdeck::engine::{Phase, ProbeRole};
use chaosdeck::observe::{MetricBatch, MetricSample, ProbeSample};
use chaosdeck::tui::live::LiveState;
use tokio::time::Instant;

pub const PASSWORD: &str = "hunter2";
pub const TARGET: &str = "postgres host=db.lab port=5432 user=app password=hunter2 dbname=shop";
pub const LONG_NAME: &str =
    "Max connections exhausted on the primary while the nightly batch rebuilds every index";
pub const LONG_TARGET: &str = "postgres host=primary-0.postgres-headless.payments-production.svc.cluster.local port=5432 user=chaos password=hunter2";
pub const LONG_PROBE: &str =
    "checkout-api-health-through-the-internal-load-balancer-in-region-eu-west-1";
pub const LONG_CONTAINER: &str =
    "payments-ledger-reconciliation-worker-blue-green-canary-eu-west-1a-007";

pub fn at(base: Instant, secs: f64) -> Instant {
    base + Duration::from_secs_f64(secs)
}

fn roles(names: &[&str]) -> Vec<ProbeRole> {
    names
        .iter()
        .map(|name| ProbeRole {
            name: name.to_string(),
            check: format!("GET http://app.lab/{name} → 2xx"),
            steady_state: true,
            guard: *name == "db-connect",
        })
        .collect()
}

pub fn live(base: Instant, name: &str, target: &str, probes: &[&str], ttl: u64) -> LiveState {
    let catalog = Catalog::builtin().unwrap();
    let mut fault = catalog.get("db-max-connections").unwrap().clone();
    fault.name = name.to_string();
    LiveState::new(
        &fault,
        target.to_string(),
        roles(probes),
        Duration::from_secs(ttl),
        base,
    )
}

fn metrics(source: &str, t: f64, base: Instant, samples: &[(&str, f64)]) -> EngineEvent {
    EngineEvent::Metrics(MetricBatch {
        at: at(base, t),
        source: source.to_string(),
        samples: samples
            .iter()
            .map(|(series, value)| MetricSample {
                series: series.to_string(),
                value: *value,
            })
            .collect(),
        error: None,
    })
}

/// Ten minutes of PostgreSQL and host readings, one a second; the fault goes in at
/// 60 s and fills the server; with `containers`, two containers' readings too.
fn feed_series(live: &mut LiveState, base: Instant, containers: &[&str]) {
    for s in 0..600u32 {
        let t = f64::from(s);
        let injected = s >= 60;
        let total = if injected {
            (20 + (s - 60) * 2).min(97)
        } else {
            20 + s % 7
        };
        let active = if injected { 12 + s % 3 } else { 5 + s % 4 };
        let pg = [
            ("pg.connections.total", f64::from(total)),
            ("pg.connections.active", f64::from(active)),
            ("pg.max_connections", 100.0),
        ];
        live.apply(&metrics("postgres", t, base, &pg), at(base, t));
        let host = [
            ("host.memory_used_percent", 42.0 + f64::from(s / 60)),
            ("host.disk_used_percent", 63.0),
            ("host.cpu_percent", 15.0 + f64::from((s * 7) % 20)),
        ];
        live.apply(&metrics("host", t, base, &host), at(base, t));
        for (i, name) in containers.iter().enumerate() {
            let cpu = 30.0 + f64::from((s * 3 + i as u32 * 11) % 40);
            let memory = 200.0 * 1024.0 * 1024.0 + f64::from(s) * 1024.0 * 512.0;
            let series = [
                (format!("container.{name}.cpu_percent"), cpu),
                (format!("container.{name}.memory_bytes"), memory),
                (format!("container.{name}.restarts"), f64::from(s / 200)),
            ];
            let samples: Vec<(&str, f64)> = series.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            live.apply(
                &metrics(&format!("container:{name}"), t, base, &samples),
                at(base, t),
            );
        }
    }
}

fn probe(live: &mut LiveState, base: Instant, index: usize, up: bool, ms: u64, detail: &str) {
    for i in 0..40u64 {
        let latency = Duration::from_millis(ms + (i * 17) % (ms.max(1) + 5));
        let sample = ProbeSample {
            probe: index,
            at: at(base, 560.0 + i as f64),
            up,
            latency,
            detail: detail.to_string(),
        };
        live.apply(&EngineEvent::Probe(sample), at(base, 560.0 + i as f64));
    }
}

fn note(live: &mut LiveState, base: Instant, ms: u64, kind: TimelineKind, text: &str) {
    let entry = TimelineEntry {
        offset_ms: ms,
        kind,
        text: text.to_string(),
    };
    live.apply(&EngineEvent::Timeline(entry), at(base, ms as f64 / 1000.0));
}

fn observing(live: &mut LiveState, base: Instant) {
    live.apply(&EngineEvent::Phase(Phase::Injecting), at(base, 59.0));
    live.apply(&EngineEvent::Phase(Phase::Observing), at(base, 60.0));
    note(
        live,
        base,
        1_200,
        TimelineKind::Preflight,
        "preflight passed: 5 probes up",
    );
    note(
        live,
        base,
        58_400,
        TimelineKind::Approval,
        "approved: console typed the fault id",
    );
    note(
        live,
        base,
        60_000,
        TimelineKind::Inject,
        "hold 97 of 100 connections on primary",
    );
    note(
        live,
        base,
        63_250,
        TimelineKind::Impact,
        "app-health failed: status 503",
    );
    note(
        live,
        base,
        120_000,
        TimelineKind::Note,
        "pager fired for checkout",
    );
}

pub fn typical(base: Instant) -> LiveState {
    let probes = ["app-health", "db-connect", "checkout", "search", "login"];
    let mut live = live(base, "Max connections exhausted", TARGET, &probes, 900);
    observing(&mut live, base);
    feed_series(&mut live, base, &[]);
    probe(
        &mut live,
        base,
        0,
        false,
        1000,
        "status 503 Service Unavailable",
    );
    probe(
        &mut live,
        base,
        1,
        false,
        30,
        "too many clients already (53300)",
    );
    probe(&mut live, base, 2, true, 42, "200 OK");
    probe(&mut live, base, 3, true, 8, "200 OK");
    probe(&mut live, base, 4, true, 120, "200 OK");
    live
}

pub fn danger(base: Instant) -> LiveState {
    let probes = ["app-health", "db-connect", "checkout"];
    let mut live = live(base, "Max connections exhausted", TARGET, &probes, 545);
    observing(&mut live, base);
    feed_series(&mut live, base, &["shop-db", "shop-app"]);
    for i in 0..3 {
        probe(&mut live, base, i, false, 1000, "timed out after 1s");
    }
    let refused = MetricBatch {
        at: at(base, 599.5),
        source: "postgres".to_string(),
        samples: Vec::new(),
        error: Some(format!(
            "host=db.lab password={PASSWORD}: connection refused"
        )),
    };
    live.apply(&EngineEvent::Metrics(refused), at(base, 599.5));
    let timeout = MetricBatch {
        at: at(base, 599.6),
        source: "host".to_string(),
        samples: Vec::new(),
        error: Some("no answer within 1000 ms".to_string()),
    };
    live.apply(&EngineEvent::Metrics(timeout), at(base, 599.6));
    note(
        &mut live,
        base,
        598_000,
        TimelineKind::Error,
        "sampler postgres: connection refused",
    );
    live
}

pub fn long_names(base: Instant) -> LiveState {
    let mut live = live(
        base,
        LONG_NAME,
        LONG_TARGET,
        &[LONG_PROBE, "db-connect"],
        900,
    );
    live.fault_id = "db-max-connections-on-the-primary-during-batch".to_string();
    observing(&mut live, base);
    feed_series(&mut live, base, &[LONG_CONTAINER]);
    probe(
        &mut live,
        base,
        0,
        false,
        900,
        &"connection reset by peer; ".repeat(8),
    );
    probe(&mut live, base, 1, true, 12, "ok");
    note(
        &mut live,
        base,
        300_000,
        TimelineKind::Note,
        &"a very long operator note ".repeat(10),
    );
    live
}
