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
use chaosdeck::tui::gate::{GateKind, GateOutcome, ARMING};
use chaosdeck::tui::keymap::{hints, Action, KeyMode};
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
    let hint_words: Vec<&str> = hints(KeyMode::Catalog, true, false)
        .iter()
        .map(|h| h.1)
        .collect();
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
    // As the README promises: q says how to tear the fault down first.
    let said = &app
        .flash
        .as_ref()
        .expect("q says why it does not quit")
        .text;
    assert_eq!(
        said,
        "a fault may be on: t tears it down, H halts everything, Ctrl-C tears down, quits"
    );
    let shown = text(&screen(&app, 80, 24));
    assert!(shown.contains(said.as_str()), "cut at 80 columns:\n{shown}");
    // From another screen, the way back to t is named too.
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(app.quit, Quit::No);
    let said = &app.flash.as_ref().unwrap().text;
    assert_eq!(
        said,
        "a fault may be on: 4 then t tears it down, H halts everything"
    );
    let shown = text(&screen(&app, 80, 24));
    assert!(shown.contains(said.as_str()), "cut at 80 columns:\n{shown}");
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
    for (label, what) in hints(KeyMode::Catalog, false, false) {
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

/// Cancels the open high gate with a wrong word, as an operator who mistypes does:
/// "not injected" at once, while the engine is still ending the refused run.
fn cancel_with_a_wrong_word(app: &mut App) {
    typed(app, "db-max-connection");
    let cmds = key(app, KeyCode::Enter);
    assert!(
        matches!(&cmds[..], [Command::Engine(EngineCmd::Refuse { .. })]),
        "{cmds:?}"
    );
    assert!(app.flash.as_ref().unwrap().text.starts_with("not injected"));
    assert!(app.run_active, "the engine has not said the run finished");
}

/// What the engine sends when the refused run has ended: nothing was approved.
fn refused_run_finished(app: &mut App) -> Vec<Command> {
    let record = aborted_record("gate refused: db-max-connection is not the fault id");
    update(app, Msg::Engine(EngineEvent::Finished(Box::new(record))))
}

fn start_runs(cmds: &[Command]) -> Vec<&Command> {
    cmds.iter()
        .filter(|c| matches!(c, Command::StartRun { .. }))
        .collect()
}

#[test]
fn enter_before_the_cancelled_run_has_ended_starts_preflight_once_it_has() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    cancel_with_a_wrong_word(&mut app);
    // The operator reads "not injected" and presses Enter (twice, impatient) before
    // the engine's finished event: the key is remembered, not dropped.
    let first = key(&mut app, KeyCode::Enter);
    let second = key(&mut app, KeyCode::Enter);
    assert!(
        start_runs(&first).is_empty(),
        "one run at a time: {first:?}"
    );
    assert!(start_runs(&second).is_empty(), "{second:?}");
    let said = &app.flash.as_ref().unwrap().text;
    assert!(
        said.contains("starting preflight once the last run has ended"),
        "{said}"
    );
    let shown = text(&screen(&app, 80, 24));
    assert!(
        shown.contains("Preflight starts once the last run has ended"),
        "{shown}"
    );
    // The refused run ends: preflight starts, exactly once.
    let cmds = refused_run_finished(&mut app);
    assert_eq!(
        start_runs(&cmds),
        vec![&Command::StartRun {
            fault_id: "db-max-connections".into(),
            params: app.prepare.as_ref().unwrap().param_pairs(),
        }],
        "{cmds:?}"
    );
    assert!(cmds.contains(&Command::ReadJournal), "{cmds:?}");
    assert_eq!(app.screen, Screen::Prepare);
    let shown = text(&screen(&app, 80, 24));
    assert!(shown.contains("preflight running"), "{shown}");
    assert!(!shown.contains("stopped: gate refused"), "{shown}");
    // Another Enter while this preflight runs starts nothing more.
    assert!(start_runs(&key(&mut app, KeyCode::Enter)).is_empty());
    // The new run goes through its gate as the first did.
    open_gate_again(&mut app);
    typed(&mut app, "db-max-connections");
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&cmds[..], [Command::Engine(EngineCmd::Approve { .. })]),
        "{cmds:?}"
    );
}

/// The queued preflight's run started and reached its gate.
fn open_gate_again(app: &mut App) {
    let start = RunStart {
        run_id: "r-2".into(),
        probes: vec![],
        ttl: Duration::from_secs(300),
        target: app.prepare.as_ref().unwrap().target.clone(),
        target_name: "shop".into(),
    };
    update(app, Msg::RunStarted(Box::new(start)));
    update(
        app,
        Msg::Engine(EngineEvent::GateNeeded {
            blast_radius: vec![],
        }),
    );
    assert!(app.prepare.as_ref().unwrap().gate.is_some());
}

#[test]
fn esc_takes_back_an_enter_pressed_while_the_last_run_was_ending() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    cancel_with_a_wrong_word(&mut app);
    assert!(start_runs(&key(&mut app, KeyCode::Enter)).is_empty());
    assert_eq!(
        key(&mut app, KeyCode::Esc),
        vec![],
        "no Stop for a run that is ending"
    );
    assert_eq!(
        app.screen,
        Screen::Prepare,
        "the first Esc only takes Enter back"
    );
    assert_eq!(app.flash.as_ref().unwrap().text, "preflight not started");
    assert_eq!(refused_run_finished(&mut app), vec![Command::ReadJournal]);
    let shown = text(&screen(&app, 80, 24));
    assert!(shown.contains("Enter runs preflight"), "{shown}");
    assert!(shown.contains("stopped: gate refused"), "{shown}");
    // Without a run, Enter starts preflight at once, as ever.
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(matches!(&cmds[..], [Command::StartRun { .. }]), "{cmds:?}");
}

#[test]
fn a_queued_preflight_does_not_start_when_the_console_is_quitting() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    open_gate(&mut app, "db-max-connections");
    cancel_with_a_wrong_word(&mut app);
    key(&mut app, KeyCode::Enter);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    update(&mut app, Msg::Key(ctrl_c));
    assert_eq!(app.quit, Quit::AfterTeardown);
    let cmds = refused_run_finished(&mut app);
    assert!(start_runs(&cmds).is_empty(), "{cmds:?}");
    assert_eq!(app.quit, Quit::Now);
}

/// Passes the high gate of db-max-connections: the fault is on, the dashboard up.
fn inject(app: &mut App) {
    prepare(app, "db-max-connections");
    open_gate(app, "db-max-connections");
    typed(app, "db-max-connections");
    key(app, KeyCode::Enter);
    update(
        app,
        Msg::Engine(EngineEvent::Phase(chaosdeck::engine::Phase::Observing)),
    );
    assert_eq!(app.screen, Screen::Live);
}

/// The hint bar: the last row of the screen.
fn hint_bar(app: &App) -> String {
    let shown = text(&screen(app, 80, 24));
    shown.lines().last().unwrap_or_default().to_string()
}

#[test]
fn the_run_comes_back_with_esc_or_4_from_catalog_targets_and_history() {
    let mut app = app_with(false);
    inject(&mut app);
    assert!(!hint_bar(&app).contains("4 run"), "{}", hint_bar(&app));
    key(&mut app, KeyCode::Char('1'));
    assert_eq!(app.screen, Screen::Catalog);
    let said = app.flash.as_ref().unwrap().text.clone();
    assert_eq!(
        said,
        "a run is in progress: Esc or 4 brings its screen back"
    );
    assert!(hint_bar(&app).contains(" 4 run "), "{}", hint_bar(&app));
    // The flash is true: Esc clears the filter the fault was picked with, then
    // brings the dashboard back (where t works again, below).
    assert_eq!(app.catalog.filter_text(), "db-max-connections");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, Screen::Catalog);
    assert_eq!(app.catalog.filter_text(), "");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, Screen::Live);
    // From targets and from history, whichever screen they were opened from.
    for (open, back) in [('2', KeyCode::Esc), ('3', KeyCode::Char('q'))] {
        key(&mut app, KeyCode::Char('1'));
        key(&mut app, KeyCode::Char(open));
        assert_ne!(app.screen, Screen::Live);
        assert!(hint_bar(&app).contains(" 4 run "), "{}", hint_bar(&app));
        key(&mut app, back);
        assert_eq!(app.screen, Screen::Live, "back from {open}");
    }
    // 4 from anywhere.
    for open in ['1', '2', '3'] {
        key(&mut app, KeyCode::Char(open));
        key(&mut app, KeyCode::Char('4'));
        assert_eq!(app.screen, Screen::Live, "4 from {open}");
    }
    assert_eq!(
        key(&mut app, KeyCode::Char('t')),
        vec![Command::Engine(EngineCmd::Stop(
            chaosdeck::engine::StopReason::Operator
        ))]
    );
    // Enter on a fault while the run is on names the way back.
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Enter);
    let said = &app.flash.as_ref().unwrap().text;
    assert!(said.contains("4 shows it"), "{said}");
}

#[test]
fn the_run_comes_back_to_its_gate_and_4_is_in_the_help() {
    let mut app = app_with(false);
    prepare(&mut app, "db-max-connections");
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(matches!(&cmds[..], [Command::StartRun { .. }]), "{cmds:?}");
    update(
        &mut app,
        Msg::RunStarted(Box::new(RunStart {
            run_id: "r-1".into(),
            probes: vec![],
            ttl: Duration::from_secs(300),
            target: "shop".into(),
            target_name: "shop".into(),
        })),
    );
    // Preflight runs: its screen is the prepare screen.
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, Screen::Prepare);
    key(&mut app, KeyCode::Char('1'));
    update(
        &mut app,
        Msg::Engine(EngineEvent::GateNeeded {
            blast_radius: vec![],
        }),
    );
    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.screen, Screen::Prepare);
    assert!(
        app.prepare.as_ref().unwrap().gate.is_some(),
        "the gate waits"
    );
    key(&mut app, KeyCode::Esc);
    assert!(app.prepare.as_ref().unwrap().gate.is_none(), "Esc cancels");
    // The help lists the key among the keys that work everywhere.
    key(&mut app, KeyCode::Char('?'));
    let shown = text(&screen(&app, 160, 48));
    assert!(
        shown
            .lines()
            .any(|l| l.trim_start_matches('│').trim().starts_with("4 ") && l.contains(" run")),
        "{shown}"
    );
}

#[test]
fn four_without_a_run_shows_the_last_result_or_says_there_is_none() {
    let mut app = app_with(false);
    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.screen, Screen::Catalog);
    assert_eq!(app.flash.as_ref().unwrap().text, "no run in progress");
    assert!(!hint_bar(&app).contains("4 run"), "{}", hint_bar(&app));
    // Esc on a catalog without filter or run stays put.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, Screen::Catalog);
}

/// The gate's lines: the rows inside the box under "┌ gate".
fn gate_box(shown: &str) -> Vec<String> {
    shown
        .lines()
        .skip_while(|l| !l.starts_with("┌ gate"))
        .skip(1)
        .take_while(|l| !l.starts_with('└'))
        .map(|l| l.trim_matches('│').trim_end().to_string())
        .collect()
}

#[test]
fn each_gate_hints_its_own_keys_and_the_hints_hold() {
    let cases = [
        (
            "pg-advisory-lock-hog",
            " Enter inject  Esc cancel (so does any other key)",
        ),
        (
            "pg-idle-in-transaction",
            " y inject  Esc cancel (so does any other key)",
        ),
        (
            "db-max-connections",
            " type the fault id  Enter inject if it matches  Esc cancel",
        ),
        (
            "pg-read-only",
            " type the target's name  Enter inject once armed, if it matches  Esc cancel",
        ),
    ];
    for (id, hint) in cases {
        let mut app = app_with(false);
        prepare(&mut app, id);
        open_gate(&mut app, id);
        assert_eq!(hint_bar(&app), hint, "{id}");
        let gate = app.prepare.as_ref().unwrap().gate.clone().unwrap();
        let mode = KeyMode::Gate(gate.severity);
        assert_eq!(app.key_mode(), mode);
        // Every key the table binds does at the gate what it says.
        for binding in chaosdeck::tui::keymap::bindings(mode) {
            if binding.code == KeyCode::Null {
                continue; // "type": stands for the letters
            }
            let mut gate = gate.clone();
            let word = match &gate.kind {
                GateKind::TypeFaultId(w) | GateKind::TypeTargetName(w) => w.clone(),
                GateKind::Enter | GateKind::Yes => String::new(),
            };
            gate.typed = word;
            let armed = gate.opened + ARMING;
            let outcome = gate.key(KeyEvent::new(binding.code, KeyModifiers::NONE), armed);
            let expected = match binding.action {
                Action::Open => matches!(outcome, GateOutcome::Approved(_)),
                Action::Back => matches!(outcome, GateOutcome::Cancelled(_)),
                Action::Erase => outcome == GateOutcome::Open,
                other => panic!("{id}: unexpected action {other:?}"),
            };
            assert!(expected, "{id}: {} gave {outcome:?}", binding.label);
        }
        // "So does any other key" where the hint says it; letters are typed elsewhere.
        for code in [
            KeyCode::Char('x'),
            KeyCode::Tab,
            KeyCode::Up,
            KeyCode::Enter,
        ] {
            let mut fresh = gate.clone();
            let outcome = fresh.key(KeyEvent::new(code, KeyModifiers::NONE), gate.opened);
            let cancels = matches!(outcome, GateOutcome::Cancelled(_));
            let claimed = hint.contains("so does any other key");
            match (code, &gate.kind) {
                (KeyCode::Enter, GateKind::Enter) => {
                    assert!(matches!(outcome, GateOutcome::Approved(_)))
                }
                (KeyCode::Char(_), GateKind::TypeFaultId(_) | GateKind::TypeTargetName(_)) => {
                    assert_eq!(outcome, GateOutcome::Open, "{id}: letters are typed")
                }
                // A wrong (empty) word cancels at the typing gates.
                _ => assert!(cancels, "{id}: {code:?} gave {outcome:?}"),
            }
            if claimed && !matches!(code, KeyCode::Enter) {
                assert!(cancels, "{id}: the hint says {code:?} cancels");
            }
        }
    }
}

#[test]
fn the_armed_critical_gate_says_what_to_type_until_the_word_matches() {
    let mut app = app_with(false);
    prepare(&mut app, "pg-read-only");
    open_gate(&mut app, "pg-read-only");
    app.now += ARMING;
    for typing in ["", "sho"] {
        if !typing.is_empty() {
            typed(&mut app, typing);
        }
        let gate = gate_box(&text(&screen(&app, 80, 24)));
        assert!(
            gate.iter().any(|l| l == "armed: type shop, then Enter"),
            "{gate:#?}"
        );
        assert!(
            !gate.iter().any(|l| l.contains("Enter injects")),
            "{gate:#?}"
        );
    }
    typed(&mut app, "p");
    let buf = screen(&app, 80, 24);
    let gate = gate_box(&text(&buf));
    assert!(
        gate.iter().any(|l| l.contains("ARMED — Enter injects")),
        "{gate:#?}"
    );
    assert_eq!(
        style_of(&buf, "ARMED"),
        drawn(Theme::dark().style(Meaning::GateArmed))
    );
    for (w, h) in SIZES {
        insta::assert_snapshot!(
            format!("app_gate_critical_armed_{w}x{h}"),
            text(&screen(&app, w, h))
        );
    }
}

#[test]
fn the_gate_wraps_its_target_whole_at_80_columns() {
    let conn = "host=127.0.0.1 port=41099 dbname=testdb user=postgres password=s3cret";
    let long = "host=db-primary-eu-west-1-very-long-hostname.internal.example.com port=5432 dbname=orders_with_a_very_long_database_name user=postgres password=s3cret";
    for (conn, id) in [
        (conn, "db-max-connections"),
        (conn, "pg-read-only"),
        (long, "db-max-connections"),
    ] {
        let mut app = app_on(conn, false);
        prepare(&mut app, id);
        open_gate(&mut app, id);
        let shown = text(&screen(&app, 80, 24));
        let gate = gate_box(&shown).join(" ");
        assert!(!shown.contains("s3cret"), "{shown}");
        let masked = conn.replace("s3cret", "***");
        assert!(
            gate.contains(&format!("into {masked}")),
            "the target is cut in the gate:\n{shown}"
        );
        assert!(gate.contains("> ▏"), "the typing line is there:\n{shown}");
    }
}

/// Types `:` and `line`, then Enter.
fn command(app: &mut App, line: &str) -> Vec<Command> {
    key(app, KeyCode::Char(':'));
    typed(app, line);
    key(app, KeyCode::Enter)
}

/// Selects fault `id` in the catalog (through the filter) and gives its availability.
fn availability_of(app: &mut App, id: &str) -> Availability {
    key(app, KeyCode::Char('/'));
    typed(app, id);
    key(app, KeyCode::Enter);
    let (spec, availability) = app
        .catalog
        .selected()
        .unwrap_or_else(|| panic!("{id} not found: {}", text(&screen(app, 160, 48))));
    assert_eq!(spec.id, id);
    let availability = availability.clone();
    key(app, KeyCode::Esc);
    availability
}

#[test]
fn after_use_a_bundle_without_postgresql_the_reason_names_the_one_with_it() {
    let mut app = app_with(false);
    app.setup
        .bundles
        .insert("worker".into(), Targets::default());
    assert_eq!(command(&mut app, "use worker"), vec![Command::CheckTargets]);
    let why = "no PostgreSQL target in \"worker\": :use flags";
    assert_eq!(
        availability_of(&mut app, "db-max-connections"),
        Availability::Unavailable(why.into())
    );
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "db-max-connections");
    key(&mut app, KeyCode::Enter);
    let shown = text(&screen(&app, 160, 48));
    assert!(shown.contains(":use flags"), "{shown}");
    key(&mut app, KeyCode::Esc);
    command(&mut app, "use flags");
    assert_eq!(
        availability_of(&mut app, "db-max-connections"),
        Availability::Ready
    );
}

#[test]
fn kubernetes_faults_are_dimmed_while_kubectl_reaches_no_cluster() {
    use chaosdeck::tui::screens::targets::Reach;
    let mut app = app_with(false);
    let why = "The connection to the server localhost:8080 was refused - did you specify the right host or port?";
    update(&mut app, Msg::Cluster(Reach::Down(why.into())));
    let reason = format!("kubectl reaches no cluster: {why}");
    for id in ["k8s-crashloop", "compound-db-pod-crash"] {
        assert_eq!(
            availability_of(&mut app, id),
            Availability::Unavailable(reason.clone()),
            "{id}"
        );
    }
    assert_eq!(
        availability_of(&mut app, "db-max-connections"),
        Availability::Ready
    );
    // Enter on it says why, and nothing is prepared.
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "k8s-crashloop");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Catalog);
    let said = &app.flash.as_ref().unwrap().text;
    assert!(said.contains("kubectl reaches no cluster"), "{said}");
    key(&mut app, KeyCode::Esc);
    update(
        &mut app,
        Msg::Cluster(Reach::Up("a cluster answers, 9 ms".into())),
    );
    assert_eq!(
        availability_of(&mut app, "k8s-crashloop"),
        Availability::Ready
    );
}

#[tokio::test]
async fn checking_targets_asks_kubectl_off_the_loop() {
    use chaosdeck::tui::engine_link::Link;
    use chaosdeck::tui::screens::targets::Reach;
    let state = tempfile::tempdir().unwrap();
    let journal = chaosdeck::engine::journal::Journal::open(state.path()).unwrap();
    let app = app_with(false);
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let mut link = Link::new(journal, tx, Default::default());
    let asked = std::time::Instant::now();
    link.execute(Command::CheckTargets, &app);
    assert!(
        asked.elapsed() < Duration::from_millis(100),
        "execute waits for nothing"
    );
    let reach = loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("kubectl's answer within the reach timeout")
            .unwrap();
        if let Msg::Cluster(reach) = msg {
            break reach;
        }
    };
    // On this machine kubectl is installed and reaches no cluster; without kubectl
    // the reason says so. Either way, a reason in one line.
    match reach {
        Reach::Down(why) => assert!(!why.is_empty() && !why.contains('\n'), "{why}"),
        Reach::Up(what) => assert!(what.starts_with("a cluster answers"), "{what}"),
        other => panic!("{other:?}"),
    }
}
