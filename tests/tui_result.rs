//! The result screen as an operator reads it after a run: snapshots of a pass, a fail,
//! a failed teardown, a run aborted at preflight, long names, and the report written
//! or not, at 80×24 and 160×48; the colours of the verdict and of each teardown step
//! cell by cell; scrolling; tiny areas; no password on screen.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "screen_support/mod.rs"]
mod screen_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chaosdeck::catalog::{Category, Severity};
use chaosdeck::engine::record::{
    Approval, FaultSummary, Outcome, ProbeSummary, RecoveryAnchor, RunRecord, TeardownStep,
    Timings, Verdict,
};
use chaosdeck::tui::screens::result::{max_scroll, render, ReportPaths, ReportState};
use chaosdeck::tui::theme::{Meaning, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use screen_support::{draw, drawn, find, style_of, text, SIZES};

fn step(fault: &str, action: &str, result: &str) -> TeardownStep {
    TeardownStep {
        fault: fault.into(),
        action: action.into(),
        result: result.into(),
        verified: result == "verified",
    }
}

/// A database fault that did what it should: impact seen, recovered, torn down.
fn passing() -> RunRecord {
    RunRecord {
        run_id: "r-0001".into(),
        fault: FaultSummary {
            id: "db-max-connections".into(),
            name: "Max connections exhausted".into(),
            category: Category::Database,
            severity: Severity::High,
            expect_impact: vec!["app-health".into()],
            recover_within_ms: 30_000,
            self_healing: false,
        },
        target: "postgres host=db port=5432 user=app password=***".into(),
        params: BTreeMap::new(),
        started_at: "2026-05-01T10:00:00Z".into(),
        approvals: vec![Approval {
            offset_ms: 1_200,
            by: "console: typed the fault id".into(),
            severity: Severity::High,
            target: "postgres host=db".into(),
        }],
        timeline: Vec::new(),
        series: Vec::new(),
        probes: Vec::new(),
        timings: Timings {
            time_to_impact_ms: Some(850),
            teardown_ms: Some(120),
            time_to_recover_ms: Some(12_500),
            recovery_from: RecoveryAnchor::TeardownDone,
            restarts: BTreeMap::new(),
        },
        teardown: vec![step(
            "db-max-connections",
            "postgres.hold_connections",
            "verified",
        )],
        verdict: Verdict {
            outcome: Outcome::Pass,
            ended_by: "duration".into(),
            impact_seen: Some(true),
            recovered_in_time: true,
            reasons: vec![
                "expected impact seen (app-health)".into(),
                "recovered in 12500 ms (within 30s)".into(),
            ],
        },
        notes: Vec::new(),
    }
}

/// A container kill under a restart policy whose impact never showed.
fn failing() -> RunRecord {
    let mut r = passing();
    r.fault.id = "container-kill".into();
    r.fault.name = "Kill the app container".into();
    r.fault.severity = Severity::Medium;
    r.fault.self_healing = true;
    r.target = "container shop-app".into();
    r.timings.time_to_impact_ms = None;
    r.timings.time_to_recover_ms = Some(4_200);
    r.timings.recovery_from = RecoveryAnchor::Injection;
    r.timings.restarts = BTreeMap::from([("shop-app".into(), 1), ("shop-worker".into(), 0)]);
    r.teardown = vec![step("container-kill", "docker.kill", "verified")];
    r.verdict = Verdict {
        outcome: Outcome::Fail,
        ended_by: "operator".into(),
        impact_seen: Some(false),
        recovered_in_time: true,
        reasons: vec!["expected impact not seen: app-health never failed".into()],
    };
    r
}

/// Two steps whose undo left something behind, one verified.
fn teardown_failed() -> RunRecord {
    let mut r = passing();
    r.fault.id = "db-settings-chaos".into();
    r.fault.name = "Shrink max_connections and lock a role".into();
    r.fault.severity = Severity::Critical;
    r.teardown = vec![
        step("db-settings-chaos", "postgres.hold_connections", "verified"),
        step(
            "db-settings-chaos",
            "postgres.alter_system",
            "residual: max_connections is 5 in pg_settings, expected 100 as captured before the fault; a restart of the server is pending",
        ),
        step(
            "db-settings-chaos",
            "postgres.lock_role",
            "failed: connection refused (host=db password=hunter2)",
        ),
    ];
    r.verdict = Verdict {
        outcome: Outcome::TeardownFailed,
        ended_by: "guard app-health".into(),
        impact_seen: Some(true),
        recovered_in_time: false,
        reasons: vec![
            "teardown of db-settings-chaos postgres.alter_system: residual: max_connections is 5"
                .into(),
            "teardown of db-settings-chaos postgres.lock_role: failed: connection refused".into(),
        ],
    };
    r
}

/// Stopped at preflight: nothing approved, injected or measured.
fn aborted() -> RunRecord {
    let mut r = passing();
    r.approvals = Vec::new();
    r.timings = Timings::default();
    r.teardown = Vec::new();
    r.verdict = Verdict {
        outcome: Outcome::Aborted,
        ended_by: "not started".into(),
        impact_seen: None,
        recovered_in_time: false,
        reasons: vec!["preflight: steady-state probe app-health failed: HTTP 503".into()],
    };
    r
}

/// A fault id, name and target of 70+ characters.
fn long_names() -> RunRecord {
    let mut r = passing();
    r.fault.id = "db-max-connections-held-by-a-very-long-running-pool-of-idle-sessions-x".into();
    r.fault.name = "Every connection slot held by idle sessions of a misbehaving pool".into();
    r.target = "postgres host=primary.database.internal.example.com port=5432 dbname=shop_production user=app password=***".into();
    r.teardown[0].fault = r.fault.id.clone();
    r
}

fn paths() -> ReportState {
    Ok(ReportPaths {
        markdown: PathBuf::from("./chaosdeck-run-r-0001.md"),
        json: PathBuf::from("./chaosdeck-run-r-0001.json"),
    })
}

fn screen(record: &RunRecord, report: Option<&ReportState>, w: u16, h: u16) -> Buffer {
    draw(w, h, |area, buf| {
        render(record, report, 0, &Theme::dark(), area, buf)
    })
}

fn snapshot_both(name: &str, record: &RunRecord, report: Option<&ReportState>) {
    for (w, h) in SIZES {
        let buf = screen(record, report, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text(&buf));
    }
}

fn dark(meaning: Meaning) -> Style {
    drawn(Theme::dark().style(meaning))
}

#[test]
fn a_pass_shows_the_verdict_in_its_colour_and_the_verified_step() {
    snapshot_both("result_pass", &passing(), None);
    let buf = screen(&passing(), None, 80, 24);
    assert_eq!(style_of(&buf, "PASS"), dark(Meaning::VerdictPass));
    assert_eq!(style_of(&buf, "verified"), dark(Meaning::Verified));
    assert_eq!(style_of(&buf, "high"), dark(Meaning::SeverityHigh));
    assert_eq!(style_of(&buf, "e writes"), dark(Meaning::HintKey));
    let screen = text(&buf);
    assert!(screen.contains("time to recover  12.5 s (from teardown done; expected within 30.0 s)"));
    assert!(screen.contains("time to impact   850 ms"));
    assert!(screen.contains("impact seen      yes (expected on app-health)"));
    assert!(!screen.contains("residual"));
}

#[test]
fn a_fail_says_why_and_shows_restarts_counted_from_injection() {
    snapshot_both("result_fail", &failing(), None);
    let buf = screen(&failing(), None, 80, 24);
    assert_eq!(style_of(&buf, "FAIL"), dark(Meaning::VerdictFail));
    assert_eq!(style_of(&buf, "medium"), dark(Meaning::SeverityMedium));
    let screen = text(&buf);
    assert!(screen.contains("• expected impact not seen: app-health never failed"));
    assert!(screen.contains("restarts         shop-app 1, shop-worker 0"));
    assert!(screen.contains("(from injection; expected within"));
    assert!(screen.contains("time to impact   —"));
}

/// Ctrl-C during the run: its recovery was never watched, so the screen says
/// INTERRUPTED and "not watched", never that steady state did not come back.
#[test]
fn an_interrupted_run_says_so_and_that_recovery_was_not_watched() {
    let mut record = failing();
    record.probes = vec![ProbeSummary {
        name: "app-health".into(),
        check: "GET http://shop/health".into(),
        steady_state: true,
        guard: false,
        checks: 40,
        failures: 3,
        latency_min_ms: 1.0,
        latency_mean_ms: 2.0,
        latency_max_ms: 9.0,
    }];
    record.timings.time_to_recover_ms = None;
    record.verdict.ended_by = "interrupt".into();
    record.verdict.reasons = vec!["interrupted: recovery not watched".into()];
    let buf = screen(&record, None, 100, 30);
    assert_eq!(style_of(&buf, "INTERRUPTED"), dark(Meaning::VerdictFail));
    let shown = text(&buf);
    assert!(
        shown.contains("time to recover  not watched (the run was stopped first)\u{20}"),
        "{shown}"
    );
    assert!(!shown.contains("expected within"), "{shown}");
    assert!(!shown.contains("FAIL"), "{shown}");
}

#[test]
fn a_failed_teardown_marks_each_residual_step_with_what_is_still_wrong() {
    let record = teardown_failed();
    snapshot_both("result_teardown_failed", &record, None);
    let buf = screen(&record, None, 160, 48);
    assert_eq!(
        style_of(&buf, "TEARDOWN FAILED"),
        dark(Meaning::VerdictFail)
    );
    assert_eq!(
        style_of(&buf, "verified  db-settings"),
        dark(Meaning::Verified)
    );
    assert_eq!(style_of(&buf, "residual  "), dark(Meaning::Residual));
    assert_eq!(style_of(&buf, "critical"), dark(Meaning::SeverityCritical));
    assert_eq!(
        style_of(&buf, "max_connections is 5 in"),
        dark(Meaning::Residual)
    );
    let screen = text(&buf);
    assert_eq!(screen.matches("  residual  ").count(), 2, "{screen}");
    assert!(screen.contains("undo failed: connection refused (host=db password=***"));
    assert!(!screen.contains("hunter2"));
    // The long residual wraps under its step instead of being cut.
    let narrow = text(&screen_scrolled(&record, 80, 60, 0));
    assert!(
        narrow.contains("restart of the server is pending"),
        "{narrow}"
    );
}

fn screen_scrolled(record: &RunRecord, w: u16, h: u16, scroll: u16) -> Buffer {
    draw(w, h, |area, buf| {
        render(record, None, scroll, &Theme::dark(), area, buf)
    })
}

#[test]
fn a_run_aborted_at_preflight_has_no_times_and_no_steps() {
    snapshot_both("result_aborted", &aborted(), None);
    let buf = screen(&aborted(), None, 80, 24);
    assert_eq!(style_of(&buf, "ABORTED"), dark(Meaning::VerdictFail));
    let screen = text(&buf);
    assert!(screen.contains("stopped before injecting"));
    assert!(screen.contains("no steps: nothing was injected"));
    assert!(screen.contains("teardown         —"));
    assert!(screen.contains("impact seen      not measured (expected on app-health)"));
    assert!(!screen.contains("approved by"));
}

#[test]
fn long_names_are_cut_inside_the_frame() {
    let record = long_names();
    snapshot_both("result_long_names", &record, None);
    for (w, h) in SIZES {
        let buf = screen(&record, None, w, h);
        for y in 1..h - 1 {
            assert_eq!(buf[(w - 1, y)].symbol(), "│", "row {y} at {w}x{h}");
        }
    }
    let screen = text(&screen(&record, None, 80, 24));
    assert!(screen.contains("…"));
}

#[test]
fn a_written_report_says_where() {
    let report = paths();
    snapshot_both("result_report_written", &passing(), Some(&report));
    let screen = text(&screen(&passing(), Some(&report), 80, 24));
    assert!(screen.contains("report: ./chaosdeck-run-r-0001.md and ./chaosdeck-run-r-0001.json"));
    assert!(!screen.contains("e writes the report"));
}

#[test]
fn a_failed_report_write_shows_the_error() {
    let report: ReportState = Err(
        "cannot write report \"/srv/reports/run.md\": folder \"/srv/reports\" does not exist; create it or choose another path".into(),
    );
    snapshot_both("result_report_failed", &passing(), Some(&report));
    let buf = screen(&passing(), Some(&report), 160, 48);
    assert_eq!(
        style_of(&buf, "report not written"),
        dark(Meaning::FlashError)
    );
    assert!(text(&buf).contains("folder \"/srv/reports\" does not exist"));
}

#[test]
fn scrolling_moves_the_lines_and_stops_at_the_last_page() {
    let record = teardown_failed();
    let area = Rect::new(0, 0, 80, 12);
    let max = max_scroll(&record, None, area);
    assert!(max > 0);
    let top = screen_scrolled(&record, 80, 12, 0);
    let down = screen_scrolled(&record, 80, 12, 1);
    // Line 2 of the content (the verdict word) moves up one row.
    assert_eq!(find(&top, "TEARDOWN FAILED").map(|(_, y)| y), Some(2));
    assert_eq!(find(&down, "TEARDOWN FAILED").map(|(_, y)| y), Some(1));
    let last = text(&screen_scrolled(&record, 80, 12, max));
    let past = text(&screen_scrolled(&record, 80, 12, max + 50));
    assert_eq!(last, past);
    assert!(last.contains("e writes the report"), "{last}");
    assert!(text(&top).contains(&format!("lines 1–10 of {}", max + 10)));
    assert_eq!(max_scroll(&passing(), None, Rect::new(0, 0, 160, 48)), 0);
}

#[test]
fn tiny_areas_do_not_panic() {
    for (w, h) in [(0, 0), (1, 1), (2, 2), (3, 1), (10, 3), (80, 1), (1, 40)] {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        for record in [passing(), teardown_failed(), aborted(), long_names()] {
            render(
                &record,
                Some(&paths()),
                5,
                &Theme::dark(),
                buf.area,
                &mut buf,
            );
            let _ = max_scroll(&record, None, buf.area);
        }
    }
}

#[test]
fn a_password_in_the_record_never_reaches_the_screen() {
    let mut record = teardown_failed();
    record.target = "postgres postgres://app:hunter2@db/shop password=hunter2".into();
    record
        .verdict
        .reasons
        .push("session password=hunter2 still open".into());
    let screen = text(&screen(&record, None, 160, 48));
    assert!(!screen.contains("hunter2"), "{screen}");
    assert!(screen.contains("postgres://app:***@db/shop password=***"));
}
