//! The targets screen: snapshots of every state at 80×24 and 160×48, reach colours
//! cell by cell, and the connection-string editor that never shows a password and,
//! for a target of a config file too, keeps the password an edit leaves as `***`
//! (against a real cluster with password authentication).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "screen_support/mod.rs"]
mod screen_support;
mod support;

use std::path::Path;
use std::time::Duration;

use chaosdeck::catalog::{Catalog, TargetKind};
use chaosdeck::config::Config;
use chaosdeck::driver::postgres::{PgConnSpec, PgTarget};
use chaosdeck::driver::targets::Targets;
use chaosdeck::lab::{PgCluster, PgClusterOptions};
use chaosdeck::tui::app::App;
use chaosdeck::tui::console::{initial_app, Options};
use chaosdeck::tui::engine_link::Setup;
use chaosdeck::tui::msg::{Command, Msg};
use chaosdeck::tui::reachability::check;
use chaosdeck::tui::screens::targets::{render, Reach, TargetPart, TargetRow, TargetsState};
use chaosdeck::tui::theme::{Meaning, Theme};
use chaosdeck::tui::update::update;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use screen_support::{draw, find, text, SIZES};

const SECRET: &str = "s3cretPW";

fn conn() -> String {
    format!("host=db.internal port=5432 dbname=shop user=app password={SECRET}")
}

fn typical_rows() -> Vec<TargetRow> {
    vec![
        TargetRow::new("shop", TargetPart::Postgres, conn()),
        TargetRow::new("shop", TargetPart::Docker, "container shop-db"),
        TargetRow::new("shop", TargetPart::Process, "process \"shop-api\""),
        TargetRow::new(
            "flags",
            TargetPart::Proxy,
            "127.0.0.1:15433 -> 127.0.0.1:5432",
        ),
    ]
}

fn typical() -> TargetsState {
    let mut state = TargetsState::new(typical_rows());
    let up = Reach::Up("PostgreSQL 15.8, 12 ms".into());
    state.set_reach("shop", TargetPart::Postgres, up);
    state.set_reach("shop", TargetPart::Docker, Reach::Checking);
    state
}

fn down() -> TargetsState {
    let mut state = typical();
    let refused = "connection to 127.0.0.1:5432 refused: Connection refused (os error 111)";
    state.set_reach("shop", TargetPart::Postgres, Reach::Down(refused.into()));
    state.set_reach(
        "shop",
        TargetPart::Docker,
        Reach::Down("container shop-db is exited, not running".into()),
    );
    state
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn type_text(state: &mut TargetsState, text: &str) {
    for c in text.chars() {
        state.edit_key(key(KeyCode::Char(c)));
    }
}

fn shot(state: &TargetsState, (w, h): (u16, u16)) -> Buffer {
    draw(w, h, |area, buf| render(state, &Theme::dark(), area, buf))
}

#[test]
fn snapshots_of_every_state() {
    let mut editing = typical();
    assert!(editing.begin_edit());
    type_text(&mut editing, " connect_timeout=3");
    let long_container = format!("container {}", "shop-db-primary-replica-".repeat(3));
    let long_conn = format!(
        "host={}.internal.example.com port=5432 dbname=shop user=app password={SECRET}",
        "db-".repeat(20)
    );
    let mut long = TargetsState::new(vec![
        TargetRow::new(
            "a-very-long-bundle-name-for-staging",
            TargetPart::Postgres,
            long_conn,
        ),
        TargetRow::new(
            "a-very-long-bundle-name-for-staging",
            TargetPart::Docker,
            long_container,
        ),
    ]);
    long.set_reach(
        "a-very-long-bundle-name-for-staging",
        TargetPart::Postgres,
        Reach::Down(format!("could not translate host name: {}", "x".repeat(80))),
    );
    let states = [
        ("empty", TargetsState::new(Vec::new())),
        ("typical", typical()),
        ("down", down()),
        ("editing", editing),
        ("long", long),
    ];
    for (name, state) in &states {
        for size in SIZES {
            let buf = shot(state, size);
            let screen = text(&buf);
            assert!(
                !screen.contains(SECRET),
                "{name}: password on screen:\n{screen}"
            );
            insta::assert_snapshot!(format!("targets_{name}_{}x{}", size.0, size.1), screen);
        }
    }
}

#[test]
fn reach_words_carry_their_colour_cell_by_cell() {
    let theme = Theme::dark();
    let mut state = down();
    state.set_reach(
        "shop",
        TargetPart::Process,
        Reach::Up("shop-api (pid 4242)".into()),
    );
    state.set_reach("flags", TargetPart::Proxy, Reach::Checking);
    state.move_by(3);
    for size in SIZES {
        let buf = shot(&state, size);
        for (word, meaning) in [
            ("down ", Meaning::ProbeDown),
            ("up ", Meaning::ProbeUp),
            ("checking", Meaning::Muted),
        ] {
            let (x, y) = find(&buf, word).unwrap_or_else(|| panic!("{word}:\n{}", text(&buf)));
            for dx in 0..word.trim_end().len() as u16 {
                let cell = buf[(x + dx, y)].style();
                assert_eq!(cell.fg, theme.style(meaning).fg, "{word} at {size:?}");
                assert_eq!(
                    cell.add_modifier,
                    theme.style(meaning).add_modifier,
                    "{word}"
                );
            }
        }
    }
}

#[test]
fn finish_edit_keeps_the_original_password_and_never_shows_it() {
    let mut state = typical();
    assert!(state.begin_edit());
    assert!(state.is_editing());
    let buf = shot(&state, (160, 48));
    assert!(find(&buf, "password=***").is_some(), "{}", text(&buf));
    // Change the port: the password still reads ***.
    for _ in 0.." dbname=shop user=app password=***".len() {
        state.edit_key(key(KeyCode::Left));
    }
    for _ in 0..4 {
        state.edit_key(key(KeyCode::Backspace));
    }
    type_text(&mut state, "6432");
    state.edit_key(key(KeyCode::Enter));
    assert!(
        state.is_editing(),
        "Enter is the caller's, through finish_edit"
    );
    let buf = shot(&state, (160, 48));
    assert!(!text(&buf).contains(SECRET));
    assert!(find(&buf, "port=6432").is_some(), "{}", text(&buf));
    let (bundle, full) = state.finish_edit().unwrap();
    assert_eq!(bundle, "shop");
    assert_eq!(
        full,
        format!("host=db.internal port=6432 dbname=shop user=app password={SECRET}")
    );
    assert!(!state.is_editing());
    let row = state.selected().unwrap();
    assert_eq!(
        row.shown,
        "host=db.internal port=6432 dbname=shop user=app password=***"
    );
    assert_eq!(row.reach, Reach::Unknown, "a new string is checked again");
    let buf = shot(&state, (160, 48));
    assert!(!text(&buf).contains(SECRET));
}

#[test]
fn a_new_password_is_masked_while_typed_and_returned_whole() {
    let mut state = typical();
    state.begin_edit();
    for _ in 0..3 {
        state.edit_key(key(KeyCode::Backspace));
    }
    type_text(&mut state, "brandnew");
    for size in SIZES {
        let buf = shot(&state, size);
        assert!(!text(&buf).contains("brandnew"), "{}", text(&buf));
        assert!(find(&buf, "password=********").is_some(), "{}", text(&buf));
    }
    let (_, full) = state.finish_edit().unwrap();
    assert!(full.ends_with("password=brandnew"), "{full}");
    assert!(!full.contains(SECRET));
    assert!(state.selected().unwrap().shown.ends_with("password=***"));
}

#[test]
fn a_bad_string_is_refused_with_the_reason_and_the_editor_stays() {
    let mut state = typical();
    state.begin_edit();
    type_text(&mut state, " bogus");
    let err = state.finish_edit().unwrap_err();
    assert!(err.contains("invalid connection string"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    assert!(state.is_editing());
    let buf = shot(&state, (160, 48));
    assert!(
        find(&buf, "invalid connection string").is_some(),
        "{}",
        text(&buf)
    );
    assert!(!text(&buf).contains(SECRET));
    state.cancel_edit();
    assert!(!state.is_editing());
    assert_eq!(
        state.selected().unwrap().shown,
        TargetRow::new("x", TargetPart::Postgres, conn()).shown
    );
}

#[test]
fn only_connection_strings_are_edited() {
    let mut state = typical();
    state.move_by(1);
    assert_eq!(state.selected().unwrap().part, TargetPart::Docker);
    assert!(!state.begin_edit());
    assert!(!state.is_editing());
    state.move_by(-5);
    assert_eq!(state.selected().unwrap().part, TargetPart::Postgres);
    state.move_by(10);
    assert_eq!(state.selected().unwrap().part, TargetPart::Proxy);
    assert!(!TargetsState::new(Vec::new()).begin_edit());
}

#[test]
fn a_parsed_target_needs_its_password_typed_again() {
    let targets = Targets {
        postgres: Some(PgTarget {
            conn: PgConnSpec::parse(&conn()).unwrap(),
            data_dir: None,
            bin_dir: None,
        }),
        ..Targets::default()
    };
    let rows = TargetRow::from_targets("shop", &targets);
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].shown.contains(SECRET));
    let mut state = TargetsState::new(rows);
    state.begin_edit();
    let err = state.finish_edit().unwrap_err();
    assert!(err.contains("type the password"), "{err}");
    for _ in 0..3 {
        state.edit_key(key(KeyCode::Backspace));
    }
    type_text(&mut state, "again");
    let (_, full) = state.finish_edit().unwrap();
    assert!(full.ends_with("password=again"), "{full}");
}

#[test]
fn tiny_areas_do_not_panic() {
    let mut editing = typical();
    editing.begin_edit();
    for state in [&typical(), &editing, &TargetsState::new(Vec::new())] {
        for (w, h) in [(0, 0), (1, 1), (3, 2), (12, 3), (30, 9), (40, 10)] {
            draw(w.max(1), h.max(1), |area, buf| {
                let area = ratatui::layout::Rect {
                    width: w,
                    height: h,
                    ..area
                };
                render(state, &Theme::dark(), area, buf)
            });
        }
    }
}

/// The console on a config file's bundles, as `chaosdeck --config FILE` opens it.
fn console_on(config: Config, bundle: &str) -> App {
    let bundles = config
        .targets
        .keys()
        .map(|name| {
            let targets = config.targets_named(name, "chaosdeck".into()).unwrap();
            (name.clone(), targets)
        })
        .collect();
    let setup = Setup {
        catalog: Catalog::builtin().unwrap(),
        typed_conns: config.conns_as_written(),
        config: Some(config),
        bundles,
        one_off_probes: vec![],
        max_severity: None,
        state_dir: "/nonexistent/state".into(),
        host_disk: "/".into(),
        host_name: "lab-host".into(),
        report_dir: "/nonexistent/reports".into(),
    };
    let options = Options {
        read_only: false,
        theme: Theme::dark(),
        bundle: bundle.into(),
        notices: vec![],
    };
    initial_app(setup, options, "/nonexistent/state/journal.jsonl".into())
}

/// A throwaway cluster whose `postgres` user logs in with `password` and no other.
fn cluster_asking_for(password: &str) -> Option<PgCluster> {
    support::pg_cluster_with(PgClusterOptions {
        password: password.into(),
        ..PgClusterOptions::default()
    })
}

/// A `targets.yaml` with one target, `shop`, whose PostgreSQL is at `conn`.
fn shop_config(conn: &str) -> Config {
    let yaml = format!("targets:\n  shop:\n    postgres:\n      conn: \"{conn}\"\n");
    Config::parse(Path::new("targets.yaml"), &yaml).unwrap()
}

fn press(app: &mut App, code: KeyCode) -> Vec<Command> {
    update(app, Msg::Key(key(code)))
}

/// In the open editor showing `shown`, puts `host` in place of `db.invalid`.
fn retype_host(app: &mut App, shown: &str, host: &str) {
    let at = shown.find("db.invalid").unwrap();
    press(app, KeyCode::Home);
    for _ in 0..at {
        press(app, KeyCode::Right);
    }
    for _ in 0.."db.invalid".len() {
        press(app, KeyCode::Delete);
    }
    for c in host.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// Every screen size drawn, the status line and the app's `Debug` (what a log line
/// or a panic message could print): none shows `secret`.
fn assert_hidden(app: &App, secret: &str) {
    let debug = format!("{app:?}");
    assert!(!debug.contains(secret), "Debug shows the password: {debug}");
    for (w, h) in SIZES {
        let shown = text(&draw(w, h, |area, buf| {
            chaosdeck::tui::draw::draw(app, area, buf)
        }));
        assert!(!shown.contains(secret), "{shown}");
    }
    if let Some(flash) = &app.flash {
        assert!(!flash.text.contains(secret), "{}", flash.text);
    }
    for row in app.targets.rows() {
        assert!(!row.shown.contains(secret), "{}", row.shown);
    }
}

#[tokio::test]
async fn editing_a_config_target_keeps_its_password_and_never_shows_it() {
    const PASSWORD: &str = "cfg-Secret-42";
    let Some(cluster) = cluster_asking_for(PASSWORD) else {
        return;
    };
    let (host, port) = (cluster.host(), cluster.port());
    // The cluster asks for the password: a wrong one is refused.
    let wrong = Targets {
        postgres: Some(PgTarget {
            conn: PgConnSpec::parse(&format!(
                "host={host} port={port} dbname=testdb user=postgres password=wrong"
            ))
            .unwrap(),
            data_dir: None,
            bin_dir: None,
        }),
        ..Targets::default()
    };
    let reach = check(&wrong, Duration::from_secs(5)).await;
    assert!(
        matches!(&reach[..], [(TargetPart::Postgres, Reach::Down(_))]),
        "{reach:?}"
    );

    for conn in [
        format!("host=db.invalid port={port} dbname=testdb user=postgres password={PASSWORD}"),
        format!("postgres://postgres:{PASSWORD}@db.invalid:{port}/testdb"),
    ] {
        let config = shop_config(&conn);
        assert!(!format!("{config:?}").contains(PASSWORD));
        let mut app = console_on(config, "shop");
        assert_hidden(&app, PASSWORD);
        press(&mut app, KeyCode::Char('2'));
        press(&mut app, KeyCode::Char('e'));
        assert!(app.targets.is_editing(), "{conn}");
        assert_hidden(&app, PASSWORD);
        // Put the cluster's address in place of db.invalid; the password reads ***.
        let shown = app.targets.selected().unwrap().shown.clone();
        assert!(
            shown.contains(":***@") || shown.contains("password=***"),
            "{shown}"
        );
        retype_host(&mut app, &shown, host);
        assert_hidden(&app, PASSWORD);
        let cmds = press(&mut app, KeyCode::Enter);
        assert_eq!(cmds, vec![Command::CheckTargets], "{:?}", app.flash);
        assert!(!app.targets.is_editing());
        assert_hidden(&app, PASSWORD);
        let row = app.targets.selected().unwrap();
        assert_eq!(row.shown, shown.replace("db.invalid", host));
        // The saved target logs in with the password of the file.
        let saved = app.current_targets();
        let masked = saved.describe(TargetKind::Postgres).unwrap();
        assert_eq!(masked, row.shown);
        let reach = check(&saved, Duration::from_secs(5)).await;
        assert!(
            matches!(&reach[..], [(TargetPart::Postgres, Reach::Up(_))]),
            "{conn}: {reach:?}"
        );
        assert!(app.target_text(TargetKind::Postgres).contains(host));
    }
}

/// A connection string without a password takes `PGPASSWORD`, at start-up and after
/// an edit on the targets screen alike (as libpq does).
#[tokio::test]
async fn an_edited_string_without_a_password_still_takes_pgpassword() {
    const PASSWORD: &str = "env-Secret-7";
    let Some(cluster) = cluster_asking_for(PASSWORD) else {
        return;
    };
    let (host, port) = (cluster.host(), cluster.port());
    // The other tests of this file write their passwords into their strings, so
    // the variable changes nothing for them.
    std::env::set_var("PGPASSWORD", PASSWORD);
    let conn = format!("host=db.invalid port={port} dbname=testdb user=postgres");
    let mut app = console_on(shop_config(&conn), "shop");
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('e'));
    assert!(app.targets.is_editing());
    let shown = app.targets.selected().unwrap().shown.clone();
    retype_host(&mut app, &shown, host);
    let cmds = press(&mut app, KeyCode::Enter);
    assert_eq!(cmds, vec![Command::CheckTargets], "{:?}", app.flash);
    assert_hidden(&app, PASSWORD);
    let reach = check(&app.current_targets(), Duration::from_secs(5)).await;
    assert!(
        matches!(&reach[..], [(TargetPart::Postgres, Reach::Up(_))]),
        "{reach:?}"
    );
}
