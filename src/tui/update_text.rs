//! What typed text, `:` commands, target edits and the mouse do to the console's state.

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};

use super::app::{App, Prompt, Screen};
use super::keymap::Action;
use super::msg::Command;
use super::update::{act, refresh_availability, refresh_catalog_targets, scroll_result, show};
use super::update_run::{halt_all, quit};
use crate::engine::runner::EngineCmd;

pub(super) fn prompt_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Some(prompt) = &mut app.prompt else {
        return vec![];
    };
    let area = match prompt {
        Prompt::Command(area) | Prompt::Note(area) => area,
    };
    match key.code {
        KeyCode::Esc => {
            app.prompt = None;
            vec![]
        }
        KeyCode::Enter => {
            let text = area.lines().join(" ").trim().to_string();
            match app.prompt.take() {
                Some(Prompt::Note(_)) if !text.is_empty() => {
                    vec![Command::Engine(EngineCmd::Note(text))]
                }
                Some(Prompt::Command(_)) => command_line(app, &text),
                _ => vec![],
            }
        }
        _ => {
            area.input(key);
            vec![]
        }
    }
}

/// The `:` commands.
pub(super) fn command_line(app: &mut App, text: &str) -> Vec<Command> {
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or_default();
    match first {
        "" => vec![],
        "q" | "quit" => quit(app),
        "catalog" | "c" => show(app, Screen::Catalog),
        "targets" | "t" => show(app, Screen::Targets),
        "history" | "h" => act(app, Action::ShowHistory),
        "help" => act(app, Action::Help),
        "halt" => halt_all(app),
        // Proves the crash path (terminal handed back, faults undone); not in the help.
        "crash-test" => panic!("crash test asked for with :crash-test"),
        "use" => match words.next() {
            Some(bundle) => use_bundle(app, bundle),
            None => {
                app.say(":use needs a target name, such as :use shop", true);
                vec![]
            }
        },
        "theme" => match words.next().and_then(super::theme::Theme::named) {
            Some(theme) => {
                app.theme = theme;
                vec![]
            }
            None => {
                app.say(":theme takes dark, light or high-contrast", true);
                vec![]
            }
        },
        other => {
            app.say(
                format!("unknown command \":{other}\"; try :catalog, :targets, :history, :use NAME, :theme NAME, :halt, :quit"),
                true,
            );
            vec![]
        }
    }
}

pub(super) fn target_edit_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Esc => {
            app.targets.cancel_edit();
            vec![]
        }
        KeyCode::Enter => match app.targets.finish_edit() {
            Ok((bundle, conn)) => set_conn(app, &bundle, &conn),
            Err(e) => {
                app.say(e, true);
                vec![]
            }
        },
        _ => {
            app.targets.edit_key(key);
            vec![]
        }
    }
}

pub(super) fn mouse_used(app: &mut App, mouse: MouseEvent) -> Vec<Command> {
    let delta = match mouse.kind {
        MouseEventKind::ScrollDown => 1,
        MouseEventKind::ScrollUp => -1,
        MouseEventKind::Down(MouseButton::Left) => {
            click(app, mouse.column, mouse.row);
            return vec![];
        }
        _ => return vec![],
    };
    app.dirty = true;
    match app.screen {
        Screen::Catalog => app.catalog.move_by(delta),
        Screen::Targets => app.targets.move_by(delta),
        Screen::History => app.history.move_by(delta),
        Screen::Result => scroll_result(app, delta),
        Screen::Prepare | Screen::Live => {}
    }
    vec![]
}

pub(super) fn click(app: &mut App, column: u16, row: u16) {
    let body = super::draw::body_area(app);
    match app.screen {
        Screen::Catalog => {
            if let Some(index) = app.catalog.fault_at(body, column, row) {
                app.catalog.select_index(index);
                app.dirty = true;
            }
        }
        Screen::History => {
            if let Some(index) = app.history.row_at(body, column, row) {
                app.history.select_index(index);
                app.dirty = true;
            }
        }
        _ => {}
    }
}

/// Runs from now on use the targets of `bundle`.
pub(super) fn use_bundle(app: &mut App, bundle: &str) -> Vec<Command> {
    if !app.setup.bundles.contains_key(bundle) {
        let known: Vec<&str> = app.setup.bundles.keys().map(String::as_str).collect();
        app.say(
            format!("no target named \"{bundle}\"; known: {}", known.join(", ")),
            true,
        );
        return vec![];
    }
    app.bundle = bundle.to_string();
    // What is known of the new bundle's reach counts at once; the check refreshes it.
    refresh_availability(app);
    app.say(format!("runs now use the targets of \"{bundle}\""), false);
    vec![Command::CheckTargets]
}

/// Replaces a bundle's PostgreSQL connection string with one edited on screen. As
/// at start-up (and as libpq does), a string without a password takes `PGPASSWORD`.
pub(super) fn set_conn(app: &mut App, bundle: &str, conn: &str) -> Vec<Command> {
    let parsed =
        crate::driver::postgres::conn::PgConnSpec::parse(conn).map(|spec| spec.with_env_password());
    let pg = app
        .setup
        .bundles
        .get_mut(bundle)
        .and_then(|t| t.postgres.as_mut());
    match (pg, parsed) {
        (Some(pg), Ok(spec)) => {
            pg.conn = spec;
            refresh_catalog_targets(app);
            app.say(format!("{bundle}: connection string changed"), false);
            vec![Command::CheckTargets]
        }
        (None, _) => {
            app.say(format!("{bundle} has no PostgreSQL target to change"), true);
            vec![]
        }
        (_, Err(e)) => {
            app.say(e.to_string(), true);
            vec![]
        }
    }
}
