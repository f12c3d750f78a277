//! Time to draw the live dashboard at 200×50 into a `Buffer` (no terminal) with ten
//! minutes of history at 4 samples a second for every series (PostgreSQL, host,
//! two containers) and 10 probes. Goal: median under 1 ms.
//!
//! `cargo bench --bench dashboard_render` draws 2,000 frames after 200 to warm up
//! and prints `RESULT` with the median, p90 and max. Under `cargo test --all-targets`
//! (no `--bench`) it draws 20 frames and prints a `SMOKE` line. Both modes assert
//! that the frame shows the charts, every probe and the timeline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant as StdInstant};

use chaosdeck::catalog::Catalog;
use chaosdeck::engine::record::{TimelineEntry, TimelineKind};
use chaosdeck::engine::runner::EngineEvent;
use chaosdeck::engine::{Phase, ProbeRole};
use chaosdeck::observe::{MetricBatch, MetricSample, ProbeSample};
use chaosdeck::tui::live::LiveState;
use chaosdeck::tui::screens::dashboard;
use chaosdeck::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tokio::time::Instant;

const SECONDS: u32 = 600;
const RATE: u32 = 4;
const PROBES: usize = 10;

fn batch(base: Instant, tick: u32, source: &str, samples: Vec<(String, f64)>) -> EngineEvent {
    EngineEvent::Metrics(MetricBatch {
        at: base + Duration::from_millis(u64::from(tick) * 1000 / u64::from(RATE)),
        source: source.to_string(),
        samples: samples
            .into_iter()
            .map(|(series, value)| MetricSample { series, value })
            .collect(),
        error: None,
    })
}

/// A run ten minutes in, with every series full and every probe checked.
fn full_state(base: Instant) -> LiveState {
    let fault = Catalog::builtin()
        .unwrap()
        .get("db-max-connections")
        .unwrap()
        .clone();
    let probes = (0..PROBES)
        .map(|i| ProbeRole {
            name: format!("probe-{i}"),
            check: format!("GET http://app.lab/{i} → 2xx"),
            steady_state: true,
            guard: false,
        })
        .collect();
    let target = "postgres host=db.lab port=5432 user=app password=secret".to_string();
    let mut live = LiveState::new(&fault, target, probes, Duration::from_secs(900), base);
    live.apply(
        &EngineEvent::Phase(Phase::Observing),
        base + Duration::from_secs(60),
    );
    for tick in 0..SECONDS * RATE {
        let wave = |period: u32, low: f64, high: f64| {
            let x = f64::from(tick % period) / f64::from(period);
            low + (high - low) * (x * std::f64::consts::TAU).sin().abs()
        };
        let pg = vec![
            ("pg.connections.total".to_string(), wave(97, 20.0, 97.0)),
            ("pg.connections.active".to_string(), wave(31, 2.0, 30.0)),
            ("pg.connections.idle".to_string(), wave(41, 2.0, 60.0)),
            (
                "pg.connections.idle_in_transaction".to_string(),
                wave(13, 0.0, 5.0),
            ),
            ("pg.max_connections".to_string(), 100.0),
        ];
        live.apply(&batch(base, tick, "postgres", pg), base);
        let host = vec![
            ("host.cpu_percent".to_string(), wave(17, 5.0, 95.0)),
            (
                "host.memory_used_percent".to_string(),
                wave(400, 40.0, 80.0),
            ),
            ("host.disk_used_percent".to_string(), wave(900, 60.0, 65.0)),
        ];
        live.apply(&batch(base, tick, "host", host), base);
        for name in ["shop-db", "shop-app"] {
            let series = |what: &str| format!("container.{name}.{what}");
            let samples = vec![
                (series("cpu_percent"), wave(23, 0.0, 180.0)),
                (series("memory_bytes"), wave(300, 2e8, 6e8)),
                (series("restarts"), f64::from(tick / 1000)),
                (series("running"), 1.0),
            ];
            live.apply(
                &batch(base, tick, &format!("container:{name}"), samples),
                base,
            );
        }
        if tick % RATE == 0 {
            for probe in 0..PROBES {
                let sample = ProbeSample {
                    probe,
                    at: base,
                    up: (tick / RATE + probe as u32) % 7 != 0,
                    latency: Duration::from_millis(u64::from(tick % 50) + probe as u64),
                    detail: "200 OK".to_string(),
                };
                live.apply(&EngineEvent::Probe(sample), base);
            }
        }
        if tick % (RATE * 20) == 0 {
            let entry = TimelineEntry {
                offset_ms: u64::from(tick) * 250,
                kind: TimelineKind::Probe,
                text: format!("probe-{} changed state", tick % 10),
            };
            live.apply(&EngineEvent::Timeline(entry), base);
        }
    }
    live
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (warmup, frames) = if full { (200, 2_000) } else { (2, 20) };
    let base = Instant::now();
    let live = full_state(base);
    let points = live.series("host.cpu_percent").map_or(0, |s| s.len());
    assert_eq!(
        points,
        (SECONDS * RATE) as usize,
        "ten minutes at 4 a second"
    );
    let now = base + Duration::from_secs(u64::from(SECONDS));
    let theme = Theme::dark();
    let area = Rect::new(0, 0, 200, 50);
    let mut buf = Buffer::empty(area);
    let mut times = Vec::with_capacity(frames);
    for frame in 0..warmup + frames {
        buf.reset();
        let started = StdInstant::now();
        dashboard::render(&live, now, &theme, area, &mut buf);
        let took = started.elapsed();
        if frame >= warmup {
            times.push(took);
        }
    }
    let screen: String = buf.content.iter().map(|c| c.symbol()).collect();
    for expect in [
        "PostgreSQL connections",
        "Memory",
        "shop-db",
        "shop-app",
        "probe-9",
        "Timeline",
    ] {
        assert!(
            screen.contains(expect),
            "{expect} is not on the 200x50 frame"
        );
    }
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{} dashboard_render 200x50, {} series x {} points, {PROBES} probes, {} frames: median {:.0} µs, p90 {:.0} µs, max {:.0} µs",
        if full { "RESULT" } else { "SMOKE" },
        live.all_series().count(),
        points,
        times.len(),
        us(at(0.5)),
        us(at(0.9)),
        us(at(1.0)),
    );
}
