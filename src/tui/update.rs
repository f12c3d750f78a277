//! `update(&mut App, Msg) -> Vec<Command>`: the one place the console's state
//! changes. Keys become actions through the key table; engine events fold into the
//! live state; nothing here does I/O.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use tui_textarea::TextArea;

use super::app::{App, Prompt, Quit, Screen};
use super::gate::GateOutcome;
use super::keymap::{action_for, is_interrupt, label, Action, KeyMode};
use super::msg::{Command, Msg};
use super::screens::prepare::{PrepareState, Stage};
use super::update_run::{
    engine_event, halt_all, halt_and_quit, quit, run_started, start_preflight,
};
use super::update_text::{mouse_used, prompt_key, target_edit_key};
use crate::engine::runner::EngineCmd;
use crate::engine::StopReason;

/// How much `+` adds to the TTL of the fault that is on.
pub const TTL_STEP: Duration = Duration::from_secs(60);

/// Folds one message into the state and says what I/O to do.
pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(key) => {
            app.dirty = true;
            key_pressed(app, key)
        }
        Msg::Mouse(mouse) => mouse_used(app, mouse),
        Msg::Resize(width, height) => {
            app.area = ratatui::layout::Rect::new(0, 0, width, height);
            app.dirty = true;
            vec![]
        }
        Msg::Tick => {
            if app.flash.as_ref().is_some_and(|f| f.until <= app.now) {
                app.flash = None;
            }
            app.dirty = true;
            vec![]
        }
        Msg::Signal(reason) => halt_and_quit(app, reason),
        Msg::RunStarted(start) => run_started(app, *start),
        Msg::RunRefused(why) => {
            if let Some(prep) = &mut app.prepare {
                prep.stop(why.clone());
            }
            app.say(why, true);
            vec![]
        }
        Msg::Engine(event) => engine_event(app, event),
        Msg::RunCrashed(why) => {
            app.run_active = false;
            app.run_id = None;
            app.live = None;
            if let Some(prep) = &mut app.prepare {
                prep.stop(why.clone());
            }
            app.screen = Screen::Catalog;
            app.say(why, true);
            if app.quit == Quit::AfterTeardown {
                app.quit = Quit::Now;
            }
            vec![Command::ReadJournal]
        }
        Msg::Reach { bundle, parts } => {
            for (part, reach) in parts {
                app.targets.set_reach(&bundle, part, reach);
            }
            refresh_availability(app);
            app.dirty = true;
            vec![]
        }
        Msg::Cluster(reach) => {
            app.cluster = reach;
            refresh_availability(app);
            app.dirty = true;
            vec![]
        }
        Msg::Journal { rows, dangling } => {
            // Read again and again (the journal is watched): keep the selection.
            app.history.set_rows(rows);
            // The run in progress is not "left on from an earlier run".
            app.dangling = dangling
                .into_iter()
                .filter(|d| Some(&d.intent.run) != app.run_id.as_ref())
                .collect();
            app.dirty = true;
            vec![]
        }
        Msg::DanglingTornDown { lines, ok } => {
            app.say(lines.join("; "), !ok);
            vec![Command::ReadJournal]
        }
        Msg::Failed(why) => {
            app.say(why, true);
            vec![]
        }
        Msg::ReportWritten(result) => {
            match &result {
                Ok(paths) => app.say(
                    format!("report written: {}", paths.markdown.display()),
                    false,
                ),
                Err(e) => app.say(format!("report not written: {e}"), true),
            }
            if let Some(res) = &mut app.result {
                res.report = Some(result);
            }
            vec![]
        }
    }
}

fn key_pressed(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if is_interrupt(key) {
        return halt_and_quit(app, StopReason::Interrupt);
    }
    if app.prompt.is_some() {
        return prompt_key(app, key);
    }
    if app.catalog.is_filtering() && app.screen == Screen::Catalog {
        match key.code {
            KeyCode::Enter => app.catalog.finish_filter(),
            KeyCode::Esc => app.catalog.clear_filter(),
            _ => app.catalog.filter_key(key),
        }
        return vec![];
    }
    if app.targets.is_editing() && app.screen == Screen::Targets {
        return target_edit_key(app, key);
    }
    if let Some(prep) = &mut app.prepare {
        if app.screen == Screen::Prepare {
            if prep.editing.is_some() {
                match key.code {
                    KeyCode::Enter => prep.finish_edit(),
                    KeyCode::Esc => prep.editing = None,
                    _ => {
                        if let Some(area) = &mut prep.editing {
                            area.input(key);
                        }
                    }
                }
                return vec![];
            }
            if prep.gate.is_some() {
                return gate_key(app, key);
            }
        }
    }
    let Some(action) = action_for(app.key_mode(), key, app.read_only) else {
        return vec![];
    };
    act(app, action)
}

pub(super) fn act(app: &mut App, action: Action) -> Vec<Command> {
    match action {
        Action::Help => {
            app.help = !app.help;
            app.help_scroll = 0;
            vec![]
        }
        Action::CommandLine => {
            app.prompt = Some(Prompt::Command(TextArea::default()));
            vec![]
        }
        Action::ShowCatalog => show(app, Screen::Catalog),
        Action::ShowTargets => show(app, Screen::Targets),
        Action::ShowHistory => {
            let mut cmds = show(app, Screen::History);
            cmds.push(Command::ReadJournal);
            cmds
        }
        Action::ShowRun => show_run(app),
        Action::HaltAll => halt_all(app),
        Action::TeardownDangling => {
            if app.dangling.is_empty() {
                app.say("nothing is left on", false);
                return vec![];
            }
            app.say("tearing down faults left on…", false);
            vec![Command::TearDownDangling]
        }
        Action::Quit => quit(app),
        other => screen_action(app, other),
    }
}

fn screen_action(app: &mut App, action: Action) -> Vec<Command> {
    if app.help {
        match action {
            Action::Back => app.help = false,
            Action::Down => app.help_scroll = app.help_scroll.saturating_add(1),
            Action::Up => app.help_scroll = app.help_scroll.saturating_sub(1),
            _ => {}
        }
        return vec![];
    }
    let step = |a: Action| match a {
        Action::Up => -1,
        Action::Down => 1,
        Action::PageUp => -10,
        Action::PageDown => 10,
        _ => 0,
    };
    match app.screen {
        Screen::Catalog => match action {
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                app.catalog.move_by(step(action))
            }
            Action::Top => app.catalog.select_first(),
            Action::Bottom => app.catalog.select_last(),
            Action::Filter => app.catalog.start_filter(),
            // Esc clears the filter first; with none, it goes back to the run.
            Action::Back if app.catalog.filter_text().is_empty() => {
                if let Some(screen) = app.run_screen() {
                    app.screen = screen;
                }
            }
            Action::Back => app.catalog.clear_filter(),
            Action::Open => return open_fault(app),
            _ => {}
        },
        Screen::Targets => match action {
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                app.targets.move_by(step(action))
            }
            Action::EditTarget if !app.targets.begin_edit() => {
                app.say("only PostgreSQL connection strings are edited here", true);
            }
            Action::CheckTargets => return vec![Command::CheckTargets],
            Action::Back => back(app),
            _ => {}
        },
        Screen::History => match action {
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                app.history.move_by(step(action))
            }
            Action::Back => back(app),
            _ => {}
        },
        Screen::Prepare => return prepare_action(app, action),
        Screen::Live => return live_action(app, action),
        Screen::Result => match action {
            Action::WriteReport => return vec![Command::WriteReport],
            Action::Down | Action::PageDown => scroll_result(app, step(action)),
            Action::Up | Action::PageUp => scroll_result(app, step(action)),
            Action::Back => {
                app.screen = Screen::Catalog;
                app.result = None;
            }
            _ => {}
        },
    }
    vec![]
}

pub(super) fn scroll_result(app: &mut App, delta: isize) {
    if let Some(res) = &mut app.result {
        res.scroll = (res.scroll as isize + delta).clamp(0, u16::MAX as isize) as u16;
    }
}

/// Back from targets or history: to the run while one is in progress, else to the
/// screen they were opened from.
fn back(app: &mut App) {
    app.screen = app.run_screen().unwrap_or(app.previous);
}

/// The run in progress, or the last run's result; says so when there is neither.
fn show_run(app: &mut App) -> Vec<Command> {
    app.help = false;
    match (app.run_screen(), &app.result) {
        (Some(screen), _) => app.screen = screen,
        (None, Some(_)) => app.screen = Screen::Result,
        (None, None) => app.say("no run in progress", false),
    }
    vec![]
}

pub(super) fn show(app: &mut App, screen: Screen) -> Vec<Command> {
    app.help = false;
    if app.run_screen().is_some_and(|run| run != screen) {
        // The run keeps going; its screen is one key away.
        let four = label(KeyMode::Global, Action::ShowRun);
        app.say(
            format!("a run is in progress: Esc or {four} brings its screen back"),
            false,
        );
    }
    if matches!(
        app.screen,
        Screen::Catalog | Screen::Live | Screen::Prepare | Screen::Result
    ) {
        app.previous = app.screen;
    }
    app.screen = screen;
    match screen {
        Screen::Targets => vec![Command::CheckTargets],
        _ => vec![],
    }
}

fn open_fault(app: &mut App) -> Vec<Command> {
    if app.run_active {
        let four = label(KeyMode::Global, Action::ShowRun);
        app.say(
            format!("a run is in progress; one at a time ({four} shows it)"),
            true,
        );
        return vec![];
    }
    let Some((spec, availability)) = app.catalog.selected() else {
        return vec![];
    };
    if let super::screens::catalog::Availability::Unavailable(why) = availability {
        let text = format!("{} cannot run: {why}", spec.id);
        app.say(text, true);
        return vec![];
    }
    let spec = spec.clone();
    let target = app.target_text(spec.target);
    app.prepare = Some(PrepareState::new(spec, target));
    app.previous = Screen::Catalog;
    app.screen = Screen::Prepare;
    vec![]
}

fn prepare_action(app: &mut App, action: Action) -> Vec<Command> {
    let Some(prep) = &mut app.prepare else {
        return vec![];
    };
    match action {
        Action::Up => prep.move_by(-1),
        Action::Down => prep.move_by(1),
        Action::EditParam => {
            prep.begin_edit();
        }
        // The last run (a gate just cancelled) is still ending: remember the Enter,
        // and start preflight when that run's record arrives (`run_finished`).
        Action::Preflight if prep.stage == Stage::Edit && app.run_active => {
            prep.stage = Stage::Queued;
            app.say("starting preflight once the last run has ended…", false);
        }
        Action::Preflight if prep.stage == Stage::Edit => return vec![start_preflight(prep)],
        Action::Back if prep.stage == Stage::Edit => {
            app.prepare = None;
            app.screen = Screen::Catalog;
        }
        // Esc takes the remembered Enter back; a second Esc leaves the screen.
        Action::Back if prep.stage == Stage::Queued => {
            prep.stage = Stage::Edit;
            app.say("preflight not started", false);
        }
        // Preflight runs before the gate: stopping it injects nothing.
        Action::Back => {
            return vec![Command::Engine(EngineCmd::Stop(StopReason::Operator))];
        }
        _ => {}
    }
    vec![]
}

fn gate_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let now = app.now;
    let Some(gate) = app.prepare.as_mut().and_then(|p| p.gate.as_mut()) else {
        return vec![];
    };
    match gate.key(key, now) {
        GateOutcome::Open => vec![],
        GateOutcome::Approved(by) => {
            if let Some(prep) = &mut app.prepare {
                prep.gate = None;
            }
            app.screen = Screen::Live;
            vec![Command::Engine(EngineCmd::Approve { by })]
        }
        GateOutcome::Cancelled(why) => {
            if let Some(prep) = &mut app.prepare {
                prep.stop(format!("gate cancelled: {why}"));
            }
            app.say(format!("not injected: {why}"), false);
            vec![Command::Engine(EngineCmd::Refuse { why })]
        }
    }
}

fn live_action(app: &mut App, action: Action) -> Vec<Command> {
    match action {
        Action::TeardownNow if app.run_active => {
            app.say("tearing down…", false);
            vec![Command::Engine(EngineCmd::Stop(StopReason::Operator))]
        }
        Action::ExtendTtl if app.run_active => {
            if let Some(live) = &mut app.live {
                live.extend_ttl(TTL_STEP);
            }
            vec![Command::Engine(EngineCmd::ExtendTtl(TTL_STEP))]
        }
        Action::Note if app.run_active => {
            app.prompt = Some(Prompt::Note(TextArea::default()));
            vec![]
        }
        Action::Back if !app.run_active => {
            app.screen = Screen::Catalog;
            vec![]
        }
        _ => vec![],
    }
}

/// Marks each fault ready or unavailable (with the reason) for the current bundle's
/// targets, what is known of their reach, and the severity policy.
pub fn refresh_availability(app: &mut App) {
    let reach: Vec<_> = app
        .targets
        .rows()
        .iter()
        .filter(|row| row.bundle == app.bundle)
        .map(|row| (row.part, row.reach.clone()))
        .collect();
    let faults: Vec<crate::catalog::FaultSpec> = app.setup.catalog.faults().cloned().collect();
    for spec in &faults {
        let availability = match app.setup.policy_allows(spec) {
            Err(why) => super::screens::catalog::Availability::Unavailable(why),
            Ok(()) => {
                let around = super::reachability::Around {
                    bundle: &app.bundle,
                    bundles: &app.setup.bundles,
                    cluster: &app.cluster,
                };
                super::reachability::availability_in(spec, &app.setup.catalog, &reach, around)
            }
        };
        app.catalog.set_availability(&spec.id, availability);
    }
    refresh_catalog_targets(app);
}

/// Tells the catalog the current bundle's targets, which its prompts name.
pub(super) fn refresh_catalog_targets(app: &mut App) {
    for &kind in crate::catalog::TargetKind::ALL {
        let text = app.target_described(kind);
        app.catalog.set_target(kind, text);
    }
}
