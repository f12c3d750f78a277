//! The observed sections of a run's Markdown report: Timings, Probes, Series and
//! Timeline. Free text arrives masked (the caller masks the whole record first) and is
//! escaped here for the table cell it lands in.

use crate::engine::record::{RecoveryAnchor, RunRecord};

use super::doc::{Align, Doc};
use super::format::{
    cell, duration, kind_word, maybe_duration, number, offset, series_value, NONE,
};

use Align::{Left, Right};

pub(super) fn timings(doc: &mut Doc, r: &RunRecord) {
    doc.section("Timings");
    let t = &r.timings;
    let from = match t.recovery_from {
        RecoveryAnchor::TeardownDone => "from teardown done",
        RecoveryAnchor::Injection => "from injection (self-healing)",
    };
    let rows = [
        ("time to impact", maybe_duration(t.time_to_impact_ms)),
        ("teardown duration", maybe_duration(t.teardown_ms)),
        ("time to recover", maybe_duration(t.time_to_recover_ms)),
        ("recovery measured", from.to_string()),
        (
            "recover within (expected)",
            duration(r.fault.recover_within_ms),
        ),
    ];
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(what, value)| vec![what.to_string(), value])
        .collect();
    doc.table(&[("measure", Left), ("value", Right)], &rows);
    if t.restarts.is_empty() {
        doc.para("Restarts: none");
        return;
    }
    let rows: Vec<Vec<String>> = t
        .restarts
        .iter()
        .map(|(name, count)| vec![cell(name), count.to_string()])
        .collect();
    doc.table(&[("restarted", Left), ("restarts", Right)], &rows);
}

pub(super) fn probes(doc: &mut Doc, r: &RunRecord) {
    doc.section("Probes");
    if r.probes.is_empty() {
        doc.para("none");
        return;
    }
    let rows: Vec<Vec<String>> = r
        .probes
        .iter()
        .map(|p| {
            let role = match (p.steady_state, p.guard) {
                (true, true) => "steady state, guard",
                (true, false) => "steady state",
                (false, true) => "guard",
                (false, false) => NONE,
            };
            let latency = if p.checks == 0 {
                NONE.to_string()
            } else {
                format!(
                    "{} / {} / {}",
                    number(p.latency_min_ms),
                    number(p.latency_mean_ms),
                    number(p.latency_max_ms)
                )
            };
            vec![
                cell(&p.name),
                cell(&p.check),
                role.to_string(),
                p.checks.to_string(),
                p.failures.to_string(),
                latency,
            ]
        })
        .collect();
    doc.table(
        &[
            ("name", Left),
            ("check", Left),
            ("role", Left),
            ("checks", Right),
            ("failures", Right),
            ("latency min / mean / max ms", Right),
        ],
        &rows,
    );
}

pub(super) fn series(doc: &mut Doc, r: &RunRecord) {
    doc.section("Series");
    if r.series.is_empty() {
        doc.para("none");
        return;
    }
    let rows: Vec<Vec<String>> = r
        .series
        .iter()
        .map(|s| {
            let value = |v: f64| {
                if s.samples == 0 {
                    NONE.to_string()
                } else {
                    series_value(&s.name, v)
                }
            };
            vec![
                cell(&s.name),
                s.samples.to_string(),
                value(s.min),
                value(s.max),
                value(s.mean),
            ]
        })
        .collect();
    doc.table(
        &[
            ("series", Left),
            ("samples", Right),
            ("min", Right),
            ("max", Right),
            ("mean", Right),
        ],
        &rows,
    );
}

pub(super) fn timeline(doc: &mut Doc, r: &RunRecord) {
    doc.section("Timeline");
    if r.timeline.is_empty() {
        doc.para("none");
        return;
    }
    let rows: Vec<Vec<String>> = r
        .timeline
        .iter()
        .map(|e| {
            vec![
                offset(e.offset_ms),
                kind_word(e.kind).to_string(),
                cell(&e.text),
            ]
        })
        .collect();
    doc.table(&[("offset", Right), ("kind", Left), ("text", Left)], &rows);
}
