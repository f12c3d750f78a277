//! The whole console driven through `update` and drawn on `TestBackend`: the prepare
//! screen and every gate (a wrong word cancels and nothing is approved; critical arms
//! for 3 s), read-only mode, quitting with a fault on, the help screen built from the
//! key table, and snapshots of prepare, gate and help at 80×24 and 160×48.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "screen_support/mod.rs"]
mod screen_support;

use std::collections::BTreeMap;
use std::time::Duration;

use chaosdeck::catalog::Catalog;
use chaosdeck::config::ConnAsWritten;
use chaosdeck::driver::postgres::{PgConnSpec, PgTarget};
use chaosdeck::driver::targets::Targets;
use chaosdeck::engine::runner::{EngineCmd, EngineEvent};
use chaosdeck::engine::ProbeRole;
use chaosdeck::tui::app::{App, Quit, Screen};
use chaosdeck::tui::console::{initial_app, Options, FLAGS_BUNDLE};
use chaosdeck::tui::draw::draw;
use chaosdeck::tui::engine_link::Setup;
use chaosdeck::tui::gate::ARMING;
use chaosdeck::tui::keymap::{hints, KeyMode};
use chaosdeck::tui::msg::{Command, Msg, RunStart};
use chaosdeck::tui::screens::catalog::Availability;
use chaosdeck::tui::theme::{Meaning, Theme};
use chaosdeck::tui::update::update;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use screen_support::{drawn, style_of, text, SIZES};

const CONN: &str = "host=127.0.0.1 port=5432 dbname=shop user=postgres password=s3cret";

fn app_with(read_only: bool) -> App {
    app_on(CONN, read_only)
}

fn app_on(conn: &str, read_only: bool) -> App {
    let targets = Targets {
        postgres: Some(PgTarget {
            conn: PgConnSpec::parse(conn).unwrap(),
            data_dir: None,
            bin_dir: None,
        }),
        ..Targets::default()
    };
    let setup = Setup {
        catalog: Catalog::builtin().unwrap(),
        config: None,
        bundles: BTreeMap::from([(FLAGS_BUNDLE.to_string(), targets)]),
        typed_conns: BTreeMap::from([(FLAGS_BUNDLE.to_string(), ConnAsWritten::new(conn))]),
        one_off_probes: vec![],
        max_severity: None,
        state_dir: "/nonexistent/state".into(),
        host_disk: "/".into(),
        host_name: "lab-host".into(),
        report_dir: "/nonexistent/reports".into(),
    };
    let options = Options {
        read_only,
        theme: Theme::dark(),
        bundle: FLAGS_BUNDLE.into(),
        notices: vec![],
    };
    let mut app = initial_app(setup, options, "/nonexistent/state/journal.jsonl".into());
    app.area = ratatui::layout::Rect::new(0, 0, 160, 48);
    app
}

fn key(app: &mut App, code: KeyCode) -> Vec<Command> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(key(app, KeyCode::Char(c)), vec![]);
    }
}

/// Filters the catalog to `id` and opens its prepare screen.
fn prepare(app: &mut App, id: &str) {
    key(app, KeyCode::Char('/'));
    typed(app, id);
    key(app, KeyCode::Enter);
    assert_eq!(app.catalog.selected().unwrap().0.id, id);
    app.catalog.set_availability(id, Availability::Ready);
    assert_eq!(key(app, KeyCode::Enter), vec![]);
    assert_eq!(app.screen, Screen::Prepare);
}

/// Starts preflight and opens the gate as the engine would.
fn open_gate(app: &mut App, id: &str) {
    let cmds = key(app, KeyCode::Enter);
    assert!(matches!(&cmds[..], [Command::StartRun { fault_id, .. }] if fault_id == id));
    let start = RunStart {
        run_id: "r-1".into(),
        probes: vec![ProbeRole {
            name: "app".into(),
            check: "http://127.0.0.1:8080/health".into(),
            steady_state: true,
            guard: false,
        }],
        ttl: Duration::from_secs(300),
        target: app.prepare.as_ref().unwrap().target.clone(),
        target_name: "shop".into(),
    };
    update(app, Msg::RunStarted(Box::new(start)));
    let gate = EngineEvent::GateNeeded {
        blast_radius: vec!["hold 97 of 100 connections on shop".into()],
    };
    update(app, Msg::Engine(gate));
    assert!(app.prepare.as_ref().unwrap().gate.is_some());
}

fn screen(app: &App, width: u16, height: u16) -> ratatui::buffer::Buffer {
    screen_support::draw(width, height, |area, buf| draw(app, area, buf))
}

#[test]
fn a_wrong_word_at_the_high_gate_cancels_and_approves_nothing() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    typed(&mut app, "db-max-connection");
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&cmds[..], [Command::Engine(EngineCmd::Refuse { .. })]),
        "{cmds:?}"
    );
    assert!(app.prepare.as_ref().unwrap().gate.is_none());
    assert_eq!(app.screen, Screen::Prepare);
}

#[test]
fn the_exact_fault_id_passes_the_high_gate() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    typed(&mut app, "db-max-connections");
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&cmds[..], [Command::Engine(EngineCmd::Approve { by })] if by.contains("db-max-connections")),
        "{cmds:?}"
    );
    assert_eq!(app.screen, Screen::Live);
}

#[test]
fn any_other_key_than_y_cancels_the_medium_gate() {
    let mut app = app_with(false);
    prepare(&mut app, "pg-idle-in-transaction");
    open_gate(&mut app, "pg-idle-in-transaction");
    let cmds = key(&mut app, KeyCode::Char('n'));
    assert!(matches!(
        &cmds[..],
        [Command::Engine(EngineCmd::Refuse { .. })]
    ));
    prepare_again_and_pass_with_y(&mut app);
}

fn prepare_again_and_pass_with_y(app: &mut App) {
    update(
        app,
        Msg::Engine(EngineEvent::GateNeeded {
            blast_radius: vec![],
        }),
    );
    let cmds = key(app, KeyCode::Char('y'));
    assert!(matches!(
        &cmds[..],
        [Command::Engine(EngineCmd::Approve { .. })]
    ));
}

#[test]
fn the_critical_gate_shows_its_countdown_and_ignores_enter_until_armed() {
    let mut app = app_with(false);
    prepare(&mut app, "pg-read-only");
    open_gate(&mut app, "pg-read-only");
    typed(&mut app, "shop");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![],
        "Enter while arming does nothing"
    );
    let shown = text(&screen(&app, 160, 48));
    assert!(shown.contains("arming… 3.0 s"), "{shown}");
    let wake = app.next_wake().expect("the countdown needs redraws");
    assert!(wake <= app.now + Duration::from_millis(100));
    app.now += ARMING;
    let armed = screen(&app, 160, 48);
    assert!(text(&armed).contains("ARMED"));
    assert_eq!(
        style_of(&armed, "ARMED"),
        drawn(Theme::dark().style(Meaning::GateArmed))
    );
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&cmds[..], [Command::Engine(EngineCmd::Approve { .. })]),
        "{cmds:?}"
    );
}

#[test]
fn read_only_hides_and_unbinds_every_key_that_injects() {
    let mut app = app_with(true);
    let hint_words: Vec<&str> = hints(KeyMode::Catalog, true).iter().map(|h| h.1).collect();
    assert!(!hint_words.contains(&"prepare"), "{hint_words:?}");
    assert_eq!(key(&mut app, KeyCode::Enter), vec![]);
    assert_eq!(app.screen, Screen::Catalog);
    let shown = text(&screen(&app, 80, 24));
    assert!(shown.contains("read-only"));
    assert!(!shown.contains("Enter prepare"));
}

#[test]
fn quitting_with_a_run_in_progress_tears_down_first() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    typed(&mut app, "db-max-connections");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        key(&mut app, KeyCode::Char('q')),
        vec![],
        "q does not quit with a fault on"
    );
    assert_eq!(app.quit, Quit::No);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let cmds = update(&mut app, Msg::Key(ctrl_c));
    assert!(
        matches!(&cmds[..], [Command::Engine(EngineCmd::Stop(_))]),
        "{cmds:?}"
    );
    assert_eq!(app.quit, Quit::AfterTeardown);
}

#[test]
fn an_idle_console_has_nothing_to_wake_for() {
    let app = app_with(false);
    assert_eq!(app.next_wake(), None, "no timer while nothing changes");
}

#[test]
fn the_help_screen_lists_every_hint_of_the_screen_under_it() {
    let mut app = app_with(false);
    key(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    let shown = text(&screen(&app, 160, 48));
    for (label, what) in hints(KeyMode::Catalog, false) {
        assert!(
            shown.contains(label) && shown.contains(what),
            "{label} {what}:\n{shown}"
        );
    }
    key(&mut app, KeyCode::Esc);
    assert!(!app.help);
}

#[test]
fn snapshots_of_prepare_gates_and_help() {
    let cases: [(&str, &str, Option<&str>); 4] = [
        ("prepare_edit", "db-max-connections", None),
        ("gate_medium", "pg-idle-in-transaction", Some("")),
        ("gate_high_typing", "db-max-connections", Some("db-max")),
        ("gate_critical_arming", "pg-read-only", Some("sh")),
    ];
    for (name, id, gate) in cases {
        let mut app = app_with(false);
        prepare(&mut app, id);
        if let Some(typing) = gate {
            open_gate(&mut app, id);
            typed(&mut app, typing);
        }
        for (w, h) in SIZES {
            insta::assert_snapshot!(format!("app_{name}_{w}x{h}"), text(&screen(&app, w, h)));
        }
    }
    let mut app = app_with(false);
    key(&mut app, KeyCode::Char('?'));
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("app_help_{w}x{h}"), text(&screen(&app, w, h)));
    }
}

#[test]
fn snapshots_of_a_stopped_preflight_and_of_long_names() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    let record = chaosdeck::engine::record::RunRecord {
        approvals: vec![],
        ..aborted_record("preflight: steady state did not hold within 10s: app (status 503)")
    };
    update(
        &mut app,
        Msg::Engine(EngineEvent::Finished(Box::new(record))),
    );
    assert_eq!(
        app.screen,
        Screen::Prepare,
        "nothing was injected: back to prepare"
    );
    for (w, h) in SIZES {
        let shown = text(&screen(&app, w, h));
        assert!(shown.contains("stopped: preflight"), "{shown}");
        insta::assert_snapshot!(format!("app_prepare_stopped_{w}x{h}"), shown);
    }
    let long = "host=db-primary-eu-west-1-very-long-hostname.internal.example.com port=5432 dbname=orders_with_a_very_long_database_name user=postgres password=s3cret";
    let mut app = app_on(long, false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    for (w, h) in SIZES {
        let shown = text(&screen(&app, w, h));
        assert!(!shown.contains("s3cret"));
        for line in shown.lines() {
            assert!(
                line.chars().count() <= w as usize,
                "a line runs past the edge: {line}"
            );
        }
        insta::assert_snapshot!(format!("app_gate_long_names_{w}x{h}"), shown);
    }
}

/// The record of a run that stopped before its gate.
fn aborted_record(reason: &str) -> chaosdeck::engine::record::RunRecord {
    use chaosdeck::engine::record::*;
    RunRecord {
        run_id: "r-1".into(),
        fault: FaultSummary {
            id: "db-max-connections".into(),
            name: "Max connections exhausted".into(),
            category: chaosdeck::catalog::Category::Database,
            severity: chaosdeck::catalog::Severity::High,
            expect_impact: vec![],
            recover_within_ms: 30_000,
            self_healing: false,
        },
        target: "postgres host=127.0.0.1 password=***".into(),
        params: BTreeMap::new(),
        started_at: "2026-11-23T16:00:00Z".into(),
        approvals: vec![],
        timeline: vec![],
        series: vec![],
        probes: vec![],
        timings: Timings {
            time_to_impact_ms: None,
            teardown_ms: None,
            time_to_recover_ms: None,
            recovery_from: RecoveryAnchor::TeardownDone,
            restarts: BTreeMap::new(),
        },
        teardown: vec![],
        verdict: Verdict {
            outcome: Outcome::Aborted,
            ended_by: "preflight".into(),
            impact_seen: None,
            recovered_in_time: false,
            reasons: vec![reason.into()],
        },
        notes: vec![],
    }
}

#[test]
fn the_gate_shows_severity_by_word_and_colour_and_no_password() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    let buf = screen(&app, 160, 48);
    let shown = text(&buf);
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(
        shown.contains("hold 97 of 100 connections on shop"),
        "{shown}"
    );
    assert_eq!(
        style_of(&buf, "high gate"),
        drawn(Theme::dark().style(Meaning::SeverityHigh))
    );
}

#[test]
fn the_catalog_prompt_names_the_bundles_target_with_no_password() {
    let mut app = app_with(false);
    for (id, wanted) in [
        ("db-max-connections", "user=postgres password=***."),
        (
            "container-kill",
            "running in <docker (not configured)> went down",
        ),
        // Configured nowhere: the kind's name, as `inject` prints it; the runbook's
        // references read the parameters' defaults too.
        ("k8s-crashloop", "app in default on kubernetes never"),
        ("k8s-crashloop", "kubectl get pods -n default -o wide"),
    ] {
        key(&mut app, KeyCode::Char('/'));
        typed(&mut app, id);
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.catalog.selected().unwrap().0.id, id);
        let shown = text(&screen(&app, 160, 48));
        assert!(shown.contains(wanted), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("{{target}}"), "{shown}");
        assert!(!shown.contains("{{namespace}}"), "{shown}");
        key(&mut app, KeyCode::Esc);
    }
}

#[test]
fn drawing_into_tiny_areas_does_not_panic() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    for (w, h) in [(0, 0), (1, 1), (10, 3), (20, 5)] {
        screen(&app, w, h);
    }
}

#[test]
fn esc_during_preflight_stops_the_run_before_its_gate() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(matches!(&cmds[..], [Command::StartRun { .. }]), "{cmds:?}");
    let cmds = key(&mut app, KeyCode::Esc);
    assert_eq!(
        cmds,
        vec![Command::Engine(EngineCmd::Stop(
            chaosdeck::engine::StopReason::Operator
        ))]
    );
}
