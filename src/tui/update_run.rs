//! How a run's life (started, engine events, finished) and halting or quitting change
//! the console's state.

use super::app::{App, Quit, ResultState, Screen};
use super::gate::GateState;
use super::keymap::{label, Action, KeyMode};
use super::live::{Change, LiveState};
use super::msg::{Command, RunStart};
use super::screens::prepare::{PrepareState, Stage};
use crate::engine::run::Phase;
use crate::engine::runner::{EngineCmd, EngineEvent};
use crate::engine::StopReason;

pub(super) fn run_started(app: &mut App, start: RunStart) -> Vec<Command> {
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

pub(super) fn engine_event(app: &mut App, event: EngineEvent) -> Vec<Command> {
    let now = app.now;
    if let Some(live) = &mut app.live {
        // New readings wait for the live clock's next tick (once a second), which
        // draws them; news is drawn within a frame (BENCHMARKS.md, "The console").
        if live.apply(&event, now) == Change::News {
            app.dirty = true;
        }
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

pub(super) fn run_finished(
    app: &mut App,
    record: Box<crate::engine::record::RunRecord>,
) -> Vec<Command> {
    app.run_active = false;
    app.run_id = None;
    app.dirty = true;
    let mut cmds = vec![Command::ReadJournal];
    if record.approvals.is_empty() {
        // Stopped before the gate was passed: nothing was injected.
        if let Some(prep) = &mut app.prepare {
            let why = record
                .verdict
                .reasons
                .first()
                .cloned()
                .unwrap_or_else(|| record.verdict.ended_by.clone());
            let queued = prep.stage == Stage::Queued;
            prep.stop(why);
            // Enter was pressed while this run was ending: its preflight starts now.
            if queued && app.quit == Quit::No {
                cmds.push(start_preflight(prep));
            }
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
    cmds
}

/// Starts preflight of the prepared fault with its parameters as they stand; only
/// while no run is active (the engine takes one run at a time).
pub(super) fn start_preflight(prep: &mut PrepareState) -> Command {
    prep.stage = Stage::Preflight;
    prep.stopped = None;
    Command::StartRun {
        fault_id: prep.spec.id.clone(),
        params: prep.param_pairs(),
    }
}

pub(super) fn halt_all(app: &mut App) -> Vec<Command> {
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

pub(super) fn halt_and_quit(app: &mut App, reason: StopReason) -> Vec<Command> {
    app.dirty = true;
    if !app.run_active {
        app.quit = Quit::Now;
        return vec![];
    }
    app.quit = Quit::AfterTeardown;
    app.say("tearing down before quitting…", true);
    vec![Command::Engine(EngineCmd::Stop(reason))]
}

pub(super) fn quit(app: &mut App) -> Vec<Command> {
    if app.run_active {
        let t = label(KeyMode::Live, Action::TeardownNow);
        let halt = label(KeyMode::Global, Action::HaltAll);
        // Each fits a status line 80 columns wide.
        let said = match app.screen {
            Screen::Live => format!(
                "a fault may be on: {t} tears it down, {halt} halts everything, Ctrl-C tears down, quits"
            ),
            _ => {
                let four = label(KeyMode::Global, Action::ShowRun);
                format!("a fault may be on: {four} then {t} tears it down, {halt} halts everything")
            }
        };
        app.say(said, true);
        return vec![];
    }
    app.quit = Quit::Now;
    vec![]
}
