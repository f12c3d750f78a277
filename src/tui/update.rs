//! `update(&mut App, Msg) -> Vec<Command>`: the one place the console's state
//! changes. Keys become actions through the key table; engine events fold into the
//! live state; nothing here does I/O.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use tui_textarea::TextArea;

use super::app::{App, Prompt, Quit, ResultState, Screen};
use super::gate::{GateOutcome, GateState};
use super::keymap::{action_for, is_interrupt, Action};
use super::live::LiveState;
use super::msg::{Command, Msg, RunStart};
use super::screens::prepare::{PrepareState, Stage};
use crate::engine::run::Phase;
use crate::engine::runner::{EngineCmd, EngineEvent};
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
        Msg::Journal { rows, dangling } => {
            app.history =
                super::screens::history::HistoryState::new(rows, app.journal_path.clone());
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

fn act(app: &mut App, action: Action) -> Vec<Command> {
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
            Action::Back => app.screen = app.previous,
            _ => {}
        },
        Screen::History => match action {
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                app.history.move_by(step(action))
            }
            Action::Back => app.screen = app.previous,
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

fn scroll_result(app: &mut App, delta: isize) {
    if let Some(res) = &mut app.result {
        res.scroll = (res.scroll as isize + delta).clamp(0, u16::MAX as isize) as u16;
    }
}

fn show(app: &mut App, screen: Screen) -> Vec<Command> {
    app.help = false;
    if app.run_active && screen != Screen::Live {
        // The run keeps going; its screen is one key away.
        app.say(
            "a run is in progress: its screen comes back with Esc",
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
        app.say("a run is in progress; one at a time", true);
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
        Action::Preflight if prep.stage == Stage::Edit && !app.run_active => {
            prep.stage = Stage::Preflight;
            prep.stopped = None;
            return vec![Command::StartRun {
                fault_id: prep.spec.id.clone(),
                params: prep.param_pairs(),
            }];
        }
        Action::Back if prep.stage == Stage::Edit => {
            app.prepare = None;
            app.screen = Screen::Catalog;
        }
        Action::Back => {
            return vec![Command::Engine(EngineCmd::Refuse {
                why: "cancelled during preflight".into(),
            })]
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

fn prompt_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
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
fn command_line(app: &mut App, text: &str) -> Vec<Command> {
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

fn target_edit_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
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

fn mouse_used(app: &mut App, mouse: MouseEvent) -> Vec<Command> {
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

fn click(app: &mut App, column: u16, row: u16) {
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

fn run_started(app: &mut App, start: RunStart) -> Vec<Command> {
    let Some(prep) = &mut app.prepare else {
        return vec![];
    };
    prep.target = start.target.clone();
    app.live = Some(LiveState::new(
        &prep.spec,
        start.target,
        start.probes,
        start.ttl,
        app.now,
    ));
    app.run_active = true;
    app.run_id = Some(start.run_id);
    app.dirty = true;
    prep.gate_target = start.target_name;
    vec![]
}

fn engine_event(app: &mut App, event: EngineEvent) -> Vec<Command> {
    let now = app.now;
    if let Some(live) = &mut app.live {
        app.dirty |= live.apply(&event, now);
    }
    match event {
        EngineEvent::GateNeeded { .. } => {
            if let Some(prep) = &mut app.prepare {
                prep.stage = Stage::Gate;
                prep.gate = Some(GateState::open(
                    prep.spec.severity,
                    &prep.spec.id,
                    &prep.gate_target,
                    now,
                ));
                app.dirty = true;
            }
            if app.quit != Quit::No {
                return vec![Command::Engine(EngineCmd::Refuse {
                    why: "the console is quitting".into(),
                })];
            }
            vec![]
        }
        EngineEvent::Phase(Phase::Injecting | Phase::Observing) => {
            if app.screen == Screen::Prepare {
                app.screen = Screen::Live;
            }
            vec![]
        }
        EngineEvent::Finished(record) => run_finished(app, record),
        _ => vec![],
    }
}

fn run_finished(app: &mut App, record: Box<crate::engine::record::RunRecord>) -> Vec<Command> {
    app.run_active = false;
    app.run_id = None;
    app.dirty = true;
    if record.approvals.is_empty() {
        // Stopped before the gate was passed: nothing was injected.
        if let Some(prep) = &mut app.prepare {
            let why = record
                .verdict
                .reasons
                .first()
                .cloned()
                .unwrap_or_else(|| record.verdict.ended_by.clone());
            prep.stop(why);
        }
        app.live = None;
        if app.screen == Screen::Live {
            app.screen = Screen::Prepare;
        }
    } else {
        let word = record.verdict.outcome.word();
        app.say(format!("{} is over: {word}", record.fault.id), false);
        app.result = Some(ResultState {
            record,
            report: None,
            scroll: 0,
        });
        app.prepare = None;
        app.live = None;
        app.screen = Screen::Result;
    }
    if app.quit == Quit::AfterTeardown {
        app.quit = Quit::Now;
    }
    vec![Command::ReadJournal]
}

fn halt_all(app: &mut App) -> Vec<Command> {
    let mut cmds = Vec::new();
    if app.run_active {
        cmds.push(Command::Engine(EngineCmd::Stop(StopReason::HaltAll)));
    }
    if !app.dangling.is_empty() {
        cmds.push(Command::TearDownDangling);
    }
    match cmds.is_empty() {
        true => app.say("halt: nothing is on", false),
        false => app.say("halt: tearing everything down…", true),
    }
    cmds
}

fn halt_and_quit(app: &mut App, reason: StopReason) -> Vec<Command> {
    app.dirty = true;
    if !app.run_active {
        app.quit = Quit::Now;
        return vec![];
    }
    app.quit = Quit::AfterTeardown;
    app.say("tearing down before quitting…", true);
    vec![Command::Engine(EngineCmd::Stop(reason))]
}

fn quit(app: &mut App) -> Vec<Command> {
    if app.run_active {
        app.say(
            "a fault may be on: t tears it down, H halts everything, Ctrl-C tears down and quits",
            true,
        );
        return vec![];
    }
    app.quit = Quit::Now;
    vec![]
}

/// Runs from now on use the targets of `bundle`.
fn use_bundle(app: &mut App, bundle: &str) -> Vec<Command> {
    if !app.setup.bundles.contains_key(bundle) {
        let known: Vec<&str> = app.setup.bundles.keys().map(String::as_str).collect();
        app.say(
            format!("no target named \"{bundle}\"; known: {}", known.join(", ")),
            true,
        );
        return vec![];
    }
    app.bundle = bundle.to_string();
    app.say(format!("runs now use the targets of \"{bundle}\""), false);
    vec![Command::CheckTargets]
}

/// Replaces a bundle's PostgreSQL connection string with one edited on screen.
fn set_conn(app: &mut App, bundle: &str, conn: &str) -> Vec<Command> {
    let parsed = crate::driver::postgres::conn::PgConnSpec::parse(conn);
    let pg = app
        .setup
        .bundles
        .get_mut(bundle)
        .and_then(|t| t.postgres.as_mut());
    match (pg, parsed) {
        (Some(pg), Ok(spec)) => {
            pg.conn = spec;
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

/// Marks each fault ready or unavailable (with the reason) for the current bundle's
/// targets, what is known of their reach, and the severity policy.
pub fn refresh_availability(app: &mut App) {
    let targets = app.current_targets();
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
                super::reachability::availability_in(spec, &app.setup.catalog, &targets, &reach)
            }
        };
        app.catalog.set_availability(&spec.id, availability);
    }
}
