//! Opening the console: build the app state, take over the terminal, listen for keys
//! and signals, run the loop, and give the terminal back after any fault is torn down.

use std::io;

use crossterm::event::{self, Event};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::app::{App, Quit, Screen};
use super::engine_link::{Link, Setup};
use super::msg::{Command, Msg};
use super::screens::catalog::CatalogState;
use super::screens::history::HistoryState;
use super::screens::targets::{TargetPart, TargetRow, TargetsState};
use super::terminal_guard::TerminalGuard;
use super::theme::Theme;
use crate::engine::journal::Journal;
use crate::engine::StopReason;

/// The bundle name of targets given with the quick flags (`--conn`, `--container` …).
pub const FLAGS_BUNDLE: &str = "flags";

/// How the console looks and what it may do.
#[derive(Debug, Clone)]
pub struct Options {
    pub read_only: bool,
    pub theme: Theme,
    /// The bundle runs use at first.
    pub bundle: String,
    /// Lines shown when the console opens (parts of the lab that are missing).
    pub notices: Vec<String>,
}

/// The state the console opens with, before anything is read from the journal or
/// checked on the network.
pub fn initial_app(setup: Setup, options: Options, journal_path: std::path::PathBuf) -> App {
    let catalog = CatalogState::new(setup.catalog.faults().cloned().collect());
    let rows = setup
        .bundles
        .iter()
        .flat_map(|(bundle, targets)| {
            let typed = setup.typed_conns.get(bundle);
            TargetRow::from_targets(bundle, targets)
                .into_iter()
                .map(move |row| match (row.part, typed) {
                    (TargetPart::Postgres, Some(conn)) => {
                        TargetRow::new(bundle.clone(), TargetPart::Postgres, conn.text())
                    }
                    _ => row,
                })
        })
        .collect();
    let targets = TargetsState::new(rows);
    let history = HistoryState::new(Vec::new(), journal_path.clone());
    let mut app = App {
        screen: Screen::Catalog,
        previous: Screen::Catalog,
        help: false,
        help_scroll: 0,
        prompt: None,
        catalog,
        targets,
        history,
        prepare: None,
        live: None,
        result: None,
        cluster: Default::default(),
        dangling: Vec::new(),
        flash: None,
        run_active: false,
        run_id: None,
        setup,
        bundle: options.bundle.clone(),
        read_only: options.read_only,
        theme: options.theme,
        journal_path,
        now: Instant::now(),
        area: ratatui::layout::Rect::default(),
        quit: Quit::No,
        dirty: true,
    };
    super::update::refresh_availability(&mut app);
    if !options.notices.is_empty() {
        let text = options.notices.join("; ");
        app.say(text, true);
        if let Some(flash) = &mut app.flash {
            flash.until = app.now + NOTICE_FOR;
        }
    }
    app
}

/// How long the notices of missing lab parts stay on the status line.
const NOTICE_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the console on this terminal until the operator quits. Returns once the
/// terminal is given back; a run in progress is torn down first.
pub async fn run(
    setup: Setup,
    options: Options,
    journal: Journal,
    started: super::engine_link::StartedRuns,
) -> io::Result<()> {
    let mut app = initial_app(setup, options, journal.path().to_path_buf());
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let mut link = Link::new(journal, tx.clone(), started);
    let mut guard = TerminalGuard::enter()?;
    let size = guard.terminal.size()?;
    app.area = ratatui::layout::Rect::new(0, 0, size.width, size.height);
    spawn_input(tx.clone());
    spawn_signals(tx.clone());
    drop(tx);
    for command in startup_commands() {
        link.execute(command, &app);
    }
    let result = super::event_loop::run(&mut guard.terminal, &mut app, &mut link, &mut rx).await;
    drop(guard);
    result
}

/// What the console asks of its I/O side as it opens: watch the journal (read at
/// once, then again whenever it changes) and check the targets.
pub fn startup_commands() -> Vec<Command> {
    vec![
        Command::WatchJournal {
            every: super::engine_link::JOURNAL_EVERY,
        },
        Command::CheckTargets,
    ]
}

/// Reads terminal events on a thread of its own (crossterm's read blocks).
fn spawn_input(tx: mpsc::Sender<Msg>) {
    std::thread::spawn(move || loop {
        let msg = match event::read() {
            Ok(Event::Key(key)) if key.kind != event::KeyEventKind::Release => Msg::Key(key),
            Ok(Event::Mouse(mouse)) => Msg::Mouse(mouse),
            Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
            Ok(_) => continue,
            Err(e) => {
                tracing::error!("cannot read the terminal: {e}");
                let _ = tx.blocking_send(Msg::Signal(StopReason::Interrupt));
                return;
            }
        };
        if tx.blocking_send(msg).is_err() {
            return;
        }
    });
}

/// SIGINT, SIGTERM and SIGHUP from outside tear down what is on, then quit.
fn spawn_signals(tx: mpsc::Sender<Msg>) {
    use tokio::signal::unix::{signal, SignalKind};
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term), Ok(mut hangup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot listen for signals");
            return;
        };
        loop {
            // A hang-up (the terminal or the SSH session went away) ends the console
            // as SIGTERM does: tear down, then quit.
            let reason = tokio::select! {
                _ = int.recv() => StopReason::Interrupt,
                _ = term.recv() => StopReason::Terminate,
                _ = hangup.recv() => StopReason::Terminate,
            };
            if tx.send(Msg::Signal(reason)).await.is_err() {
                return;
            }
        }
    });
}
