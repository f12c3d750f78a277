//! The history screen and the dangling-fault banner: snapshots of no runs, typical
//! runs, runs with something still on, and long names at 80×24 and 160×48; outcome,
//! status and banner colours cell by cell; selection by key and by mouse; tiny areas.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "screen_support/mod.rs"]
mod screen_support;

use std::path::PathBuf;

use chaosdeck::driver::Verification;
use chaosdeck::engine::journal::{dangling_in, Dangling, Event, Record};
use chaosdeck::tui::history::{history_rows, HistoryRow, RunStatus};
use chaosdeck::tui::screens::history::HistoryState;
use chaosdeck::tui::screens::{banner, history};
use chaosdeck::tui::theme::{Meaning, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use screen_support::{draw, drawn, find, style_of, text, SIZES};

const JOURNAL: &str = "/home/op/.local/state/chaosdeck/journal.jsonl";

fn rec(at: &str, run: &str, fault: &str, step: usize, event: Event) -> Record {
    Record {
        at: format!("2026-05-{at}Z"),
        run: run.into(),
        fault: fault.into(),
        step,
        event,
    }
}

fn approved(target: &str) -> Event {
    Event::Approved {
        severity: "high".into(),
        target: target.into(),
        how: "console: typed the fault id".into(),
    }
}

fn intent() -> Event {
    Event::Intent {
        action: "docker.pause".into(),
        lifetime: "persistent".into(),
        target: serde_json::json!({"container": "shop"}),
        undo: serde_json::json!({"unpause": "shop"}),
        blast_radius: "pause container shop".into(),
    }
}

fn undone(verification: Verification) -> Event {
    Event::Undone { verification }
}

fn verdict(outcome: &str, impact: Option<u64>, recover: Option<u64>) -> Event {
    Event::Verdict {
        outcome: outcome.into(),
        ended_by: "duration".into(),
        time_to_impact_ms: impact,
        time_to_recover_ms: recover,
    }
}

/// One run's records, a second apart from `start` (`01T09:00`), all of step 0.
fn run(start: &str, run: &str, fault: &str, events: Vec<Event>) -> Vec<Record> {
    let at = |i: usize| format!("{start}:{i:02}.000");
    let step = |(i, event)| rec(&at(i), run, fault, 0, event);
    events.into_iter().enumerate().map(step).collect()
}

/// Three finished runs: a pass, a fail, and one aborted before injecting.
fn typical_records() -> Vec<Record> {
    let pg = "postgres host=db port=5432 user=app password=***";
    let verified = || undone(Verification::Verified);
    let pass = verdict("pass", Some(850), Some(12_500));
    let fail = verdict("fail", None, Some(4_200));
    let mut records = run(
        "01T09:00",
        "a1b2c3d4",
        "db-max-connections",
        vec![approved(pg), intent(), verified(), pass],
    );
    records.extend(run(
        "01T10:00",
        "e5f60718",
        "container-kill",
        vec![approved("container shop-app"), intent(), verified(), fail],
    ));
    records.extend(run(
        "01T11:00",
        "99aa88bb",
        "cpu-burn",
        vec![verdict("aborted", None, None)],
    ));
    records
}

/// The typical runs, then one left residual and one whose process died while on.
fn dangling_records() -> Vec<Record> {
    let residual = undone(Verification::Residual(
        "max_connections is 5, expected 100".into(),
    ));
    let failed = verdict("teardown failed", Some(300), None);
    let applied = Event::Applied { undo: None };
    let mut records = typical_records();
    records.extend(run(
        "02T08:00",
        "0badf00d",
        "db-settings",
        vec![approved("postgres host=db"), intent(), residual, failed],
    ));
    records.extend(run(
        "02T09:00",
        "deadbeef",
        "container-pause",
        vec![approved("container shop-app"), intent(), applied],
    ));
    records
}

fn long_records() -> Vec<Record> {
    let fault = "db-max-connections-held-by-a-very-long-running-pool-of-idle-sessions-x";
    let target = "postgres host=primary.database.internal.example.com port=5432 dbname=shop_production user=app password=***";
    let residual = undone(Verification::Residual("x".repeat(90)));
    let failed = verdict("teardown failed", Some(123_456), None);
    run(
        "03T07:00",
        "12345678",
        fault,
        vec![approved(target), intent(), residual, failed],
    )
}

fn state(records: &[Record]) -> HistoryState {
    HistoryState::new(history_rows(records), PathBuf::from(JOURNAL))
}

fn screen(state: &HistoryState, w: u16, h: u16) -> Buffer {
    draw(w, h, |area, buf| {
        history::render(state, &Theme::dark(), area, buf)
    })
}

/// The banner on the first row and the history under it, as the console stacks them.
fn with_banner(dangling: &[Dangling], state: &HistoryState, w: u16, h: u16) -> Buffer {
    draw(w, h, |area, buf| {
        let top = banner::height(dangling);
        let (bar, rest) = (
            Rect {
                height: top,
                ..area
            },
            Rect {
                y: area.y + top,
                height: area.height - top,
                ..area
            },
        );
        banner::render(dangling, &Theme::dark(), bar, buf);
        history::render(state, &Theme::dark(), rest, buf);
    })
}

fn dark(meaning: Meaning) -> Style {
    drawn(Theme::dark().style(meaning))
}

#[test]
fn no_runs_names_the_journal() {
    let empty = state(&[]);
    for (w, h) in SIZES {
        let buf = screen(&empty, w, h);
        insta::assert_snapshot!(format!("history_empty_{w}x{h}"), text(&buf));
    }
    let screen = text(&screen(&empty, 80, 24));
    assert!(screen.contains(&format!("no runs yet in {JOURNAL}")));
    assert!(empty.selected().is_none());
}

#[test]
fn typical_runs_are_listed_newest_first_with_coloured_words() {
    let typical = state(&typical_records());
    for (w, h) in SIZES {
        insta::assert_snapshot!(
            format!("history_typical_{w}x{h}"),
            text(&screen(&typical, w, h))
        );
    }
    let buf = screen(&typical, 80, 24);
    // Row 0 (selected) is the newest: the aborted run.
    assert_eq!(typical.selected().map(|r| r.run.as_str()), Some("99aa88bb"));
    let (_, newest) = find(&buf, "cpu-burn").unwrap();
    let (_, oldest) = find(&buf, "db-max-conn").unwrap();
    assert!(newest < oldest);
    assert_eq!(style_of(&buf, "pass"), dark(Meaning::VerdictPass));
    assert_eq!(style_of(&buf, "fail"), dark(Meaning::VerdictFail));
    assert_eq!(style_of(&buf, "torn down"), dark(Meaning::Verified));
    let selected = Theme::dark().style(Meaning::Selected);
    assert_eq!(
        style_of(&buf, "not injected"),
        drawn(selected.patch(Theme::dark().style(Meaning::Muted)))
    );
    assert_eq!(
        style_of(&buf, "aborted"),
        drawn(selected.patch(Theme::dark().style(Meaning::VerdictFail)))
    );
    let screen = text(&buf);
    assert!(screen.contains("850 ms"));
    assert!(screen.contains("12.5 s"));
    assert!(
        screen.contains("not injected · 0 steps · nothing was injected"),
        "{screen}"
    );
}

#[test]
fn runs_still_on_show_red_words_and_the_banner() {
    let records = dangling_records();
    let dangling = dangling_in(&records);
    let with = state(&records);
    for (w, h) in SIZES {
        let buf = with_banner(&dangling, &with, w, h);
        insta::assert_snapshot!(format!("history_dangling_{w}x{h}"), text(&buf));
    }
    let buf = with_banner(&dangling, &with, 80, 24);
    assert_eq!(with.selected().map(|r| &r.status), Some(&RunStatus::On));
    assert_eq!(style_of(&buf, "residual"), dark(Meaning::Residual));
    let selected = Theme::dark().style(Meaning::Selected);
    assert_eq!(
        style_of(&buf, "on   "),
        drawn(selected.patch(Theme::dark().style(Meaning::Banner)))
    );
    assert_eq!(
        style_of(&buf, "teardown failed"),
        dark(Meaning::VerdictFail)
    );
    assert!(text(&buf).contains("still injected: press D to tear it down"));
}

#[test]
fn the_banner_counts_names_and_points_at_the_key() {
    let records = dangling_records();
    let dangling = dangling_in(&records);
    assert_eq!(banner::height(&dangling), 1);
    assert_eq!(banner::height(&[]), 0);
    let buf = with_banner(&dangling, &state(&records), 160, 48);
    let line = text(&buf).lines().next().unwrap().to_string();
    assert_eq!(
        line.trim(),
        "⚠ 2 faults still on from earlier runs (db-settings, container-pause) — press D to tear them down"
    );
    assert_eq!(style_of(&buf, "⚠"), dark(Meaning::Banner));
    // The whole row is red, not only the words.
    assert_eq!(buf[(159, 0)].style(), dark(Meaning::Banner));
    assert_eq!(buf[(0, 0)].style(), dark(Meaning::Banner));
}

#[test]
fn no_banner_when_nothing_is_dangling() {
    let typical = state(&typical_records());
    for (w, h) in SIZES {
        let buf = with_banner(&[], &typical, w, h);
        insta::assert_snapshot!(format!("banner_none_{w}x{h}"), text(&buf));
        assert_eq!(buf[(0, 0)].symbol(), "┌");
        assert_ne!(buf[(5, 0)].style(), dark(Meaning::Banner));
    }
}

#[test]
fn one_dangling_fault_is_named_in_the_singular() {
    let records = vec![
        rec(
            "04T08:00:00.000",
            "deadbeef",
            "container-pause",
            0,
            intent(),
        ),
        rec(
            "04T08:00:00.500",
            "deadbeef",
            "container-pause",
            1,
            intent(),
        ),
    ];
    let dangling = dangling_in(&records);
    for (w, h) in SIZES {
        let buf = with_banner(&dangling, &state(&records), w, h);
        insta::assert_snapshot!(format!("banner_one_{w}x{h}"), text(&buf));
    }
    assert_eq!(
        banner::message(&dangling, 200),
        "⚠ 1 fault still on from an earlier run (container-pause) — press D to tear it down"
    );
}

#[test]
fn many_and_long_fault_names_are_cut_before_the_key() {
    let long = "db-max-connections-held-by-a-very-long-running-pool-of-idle-sessions-x";
    let mut records = Vec::new();
    for (i, fault) in [
        long,
        "container-pause",
        "cpu-burn",
        "disk-fill",
        "net-delay",
    ]
    .iter()
    .enumerate()
    {
        records.push(rec(
            "05T08:00:00.000",
            &format!("run{i}"),
            fault,
            0,
            intent(),
        ));
    }
    let dangling = dangling_in(&records);
    for (w, h) in SIZES {
        let buf = with_banner(&dangling, &state(&records), w, h);
        insta::assert_snapshot!(format!("banner_many_long_{w}x{h}"), text(&buf));
        let first = text(&buf).lines().next().unwrap().to_string();
        assert!(first.contains("⚠ 5 faults still on"), "{first}");
        assert!(first.ends_with("— press D to tear them down"), "{first}");
        assert!(first.contains("…)"), "{first}");
        assert!(first.chars().count() <= usize::from(w));
    }
    for max in [0, 1, 5, 20, 40, 60] {
        let message = banner::message(&dangling, max);
        assert!(Span::raw(&message).width() <= max, "{max}: {message}");
    }
    assert_eq!(
        banner::message(&dangling, 40),
        "⚠ 5 faults still on — D tears down"
    );
    assert_eq!(
        banner::message(&dangling, 79),
        "⚠ 5 faults still on (db-max-connections-held-by-a…) — press D to tear them down"
    );
    assert_eq!(banner::message(&dangling, 10), "⚠ 5 still…");
}

#[test]
fn long_names_are_cut_inside_their_columns() {
    let long = state(&long_records());
    for (w, h) in SIZES {
        let buf = screen(&long, w, h);
        insta::assert_snapshot!(format!("history_long_names_{w}x{h}"), text(&buf));
        for y in 1..h - 1 {
            assert_eq!(buf[(w - 1, y)].symbol(), "│", "row {y} at {w}x{h}");
        }
        let screen = text(&buf);
        assert!(screen.contains("teardown failed"), "{screen}");
        assert!(screen.contains("residual"), "{screen}");
    }
}

fn many_rows(n: usize) -> Vec<HistoryRow> {
    (0..n)
        .map(|i| HistoryRow {
            run: format!("run{i:05}"),
            fault: format!("fault-{i}"),
            started_at: "2026-05-01T10:00:00.000Z".into(),
            target: String::new(),
            approved_by: None,
            steps: 0,
            status: RunStatus::NotInjected,
            outcome: Some("aborted".into()),
            time_to_impact_ms: None,
            time_to_recover_ms: None,
        })
        .collect()
}

#[test]
fn keys_move_the_selection_within_the_rows() {
    let mut s = HistoryState::new(many_rows(5), PathBuf::from(JOURNAL));
    s.move_by(-1);
    assert_eq!(s.selected_index(), 0);
    s.move_by(3);
    assert_eq!(s.selected().map(|r| r.run.as_str()), Some("run00003"));
    s.move_by(10);
    assert_eq!(s.selected_index(), 4);
    s.select_index(99);
    assert_eq!(s.selected_index(), 4);
    s.select_index(1);
    assert_eq!(s.selected_index(), 1);
    // New rows keep the same run selected.
    let mut rows = many_rows(5);
    rows.insert(0, many_rows(6).pop().unwrap());
    s.set_rows(rows);
    assert_eq!(s.selected().map(|r| r.run.as_str()), Some("run00001"));
}

#[test]
fn a_click_selects_the_row_under_it_even_when_scrolled() {
    let mut s = HistoryState::new(many_rows(40), PathBuf::from(JOURNAL));
    let area = Rect::new(0, 0, 80, 24);
    // Border (row 0), header (row 1), first run on row 2.
    assert_eq!(s.row_at(area, 10, 0), None);
    assert_eq!(s.row_at(area, 10, 1), None);
    assert_eq!(s.row_at(area, 10, 2), Some(0));
    assert_eq!(s.row_at(area, 0, 2), None);
    s.select_index(30);
    let buf = screen(&s, 80, 24);
    let (_, y) = find(&buf, "fault-30").unwrap();
    assert_eq!(s.row_at(area, 10, y), Some(30));
    assert_eq!(buf[(10, y)].style().bg, dark(Meaning::Selected).bg);
    let (_, y) = find(&buf, "fault-25").unwrap();
    assert_eq!(s.row_at(area, 10, y), Some(25));
    // Below the last row of a short list: nothing.
    let short = HistoryState::new(many_rows(2), PathBuf::from(JOURNAL));
    assert_eq!(short.row_at(area, 10, 5), None);
}

#[test]
fn tiny_areas_do_not_panic() {
    let records = dangling_records();
    let dangling = dangling_in(&records);
    let s = state(&records);
    for (w, h) in [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 1),
        (10, 3),
        (80, 1),
        (1, 40),
        (20, 5),
    ] {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        history::render(&s, &Theme::dark(), buf.area, &mut buf);
        history::render(&state(&[]), &Theme::dark(), buf.area, &mut buf);
        banner::render(&dangling, &Theme::dark(), buf.area, &mut buf);
        let _ = s.row_at(buf.area, 0, 0);
    }
}

/// A console on `state_dir` with no targets, drawn 80 wide.
fn console_on(state_dir: &std::path::Path) -> chaosdeck::tui::app::App {
    use chaosdeck::tui::console::{initial_app, Options, FLAGS_BUNDLE};
    let setup = chaosdeck::tui::engine_link::Setup {
        catalog: chaosdeck::catalog::Catalog::builtin().unwrap(),
        config: None,
        bundles: std::collections::BTreeMap::from([(
            FLAGS_BUNDLE.to_string(),
            chaosdeck::driver::targets::Targets::default(),
        )]),
        typed_conns: Default::default(),
        one_off_probes: vec![],
        max_severity: None,
        state_dir: state_dir.to_path_buf(),
        host_disk: "/".into(),
        host_name: "lab-host".into(),
        report_dir: state_dir.to_path_buf(),
    };
    let options = Options {
        read_only: false,
        theme: Theme::dark(),
        bundle: FLAGS_BUNDLE.into(),
        notices: vec![],
    };
    initial_app(setup, options, state_dir.join("journal.jsonl"))
}

/// The console's whole screen, 80×24.
fn console_screen(app: &chaosdeck::tui::app::App) -> String {
    text(&draw(80, 24, |area, buf| {
        chaosdeck::tui::draw::draw(app, area, buf)
    }))
}

/// The next message the journal watcher sends (its dangling list), folded into `app`.
async fn next_journal(
    rx: &mut tokio::sync::mpsc::Receiver<chaosdeck::tui::msg::Msg>,
    app: &mut chaosdeck::tui::app::App,
) -> usize {
    use chaosdeck::tui::msg::Msg;
    let msg = tokio::time::timeout(std::time::Duration::from_secs(3), rx.recv())
        .await
        .expect("the watcher sends the journal within 3 s of a change")
        .expect("the watcher is running");
    let Msg::Journal { dangling, .. } = &msg else {
        panic!("expected the journal, got {msg:?}");
    };
    let count = dangling.len();
    chaosdeck::tui::update::update(app, msg);
    count
}

#[tokio::test]
async fn the_banner_follows_the_journal_as_other_terminals_change_it() {
    use chaosdeck::engine::journal::Journal;
    use chaosdeck::tui::engine_link::Link;
    use chaosdeck::tui::msg::Command;
    use std::time::Duration;

    let state = tempfile::tempdir().unwrap();
    let journal = Journal::open(state.path()).unwrap();
    journal
        .append("r-old", "container-pause", 0, intent())
        .unwrap();
    let mut app = console_on(state.path());
    // The console watches the journal from the start, as often as JOURNAL_EVERY.
    let watch = Command::WatchJournal {
        every: chaosdeck::tui::engine_link::JOURNAL_EVERY,
    };
    assert!(chaosdeck::tui::console::startup_commands().contains(&watch));
    assert!(chaosdeck::tui::engine_link::JOURNAL_EVERY <= Duration::from_secs(5));
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let mut link = Link::new(journal.clone(), tx, Default::default());
    let every = Duration::from_millis(100);
    link.execute(Command::WatchJournal { every }, &app);
    link.execute(Command::WatchJournal { every }, &app);
    assert_eq!(next_journal(&mut rx, &mut app).await, 1);
    let shown = console_screen(&app);
    assert!(
        shown.contains("⚠ 1 fault still on (container-pause)"),
        "{shown}"
    );
    // Nothing changes: nothing is sent (one watcher, however often it was asked).
    assert!(
        tokio::time::timeout(Duration::from_millis(600), rx.recv())
            .await
            .is_err(),
        "nothing changed, yet the watcher sent something"
    );
    // `chaosdeck teardown --dangling` in another terminal undoes it.
    journal
        .append(
            "r-old",
            "container-pause",
            0,
            undone(Verification::Verified),
        )
        .unwrap();
    assert_eq!(next_journal(&mut rx, &mut app).await, 0);
    let shown = console_screen(&app);
    assert!(
        !shown.contains("still on"),
        "the banner went stale:\n{shown}"
    );
    // The run in progress is on, not left on from an earlier run.
    app.run_active = true;
    app.run_id = Some("r-now".into());
    journal
        .append("r-now", "db-max-connections", 0, intent())
        .unwrap();
    assert_eq!(next_journal(&mut rx, &mut app).await, 1);
    let shown = console_screen(&app);
    assert!(!shown.contains("still on"), "{shown}");
    // A fault another terminal leaves on shows up without any key pressed.
    journal
        .append("r-other", "container-pause", 0, intent())
        .unwrap();
    assert_eq!(next_journal(&mut rx, &mut app).await, 2);
    let shown = console_screen(&app);
    assert!(
        shown.contains("⚠ 1 fault still on (container-pause)"),
        "{shown}"
    );
}

#[test]
fn reading_the_journal_again_keeps_the_selected_run() {
    use chaosdeck::tui::msg::Msg;
    let state = tempfile::tempdir().unwrap();
    let mut app = console_on(state.path());
    let records = typical_records();
    let rows = history_rows(&records);
    chaosdeck::tui::update::update(
        &mut app,
        Msg::Journal {
            rows: rows.clone(),
            dangling: vec![],
        },
    );
    app.history.select_index(1);
    let chosen = app.history.selected().unwrap().run.clone();
    chaosdeck::tui::update::update(
        &mut app,
        Msg::Journal {
            rows,
            dangling: vec![],
        },
    );
    assert_eq!(app.history.selected().unwrap().run, chosen);
}
