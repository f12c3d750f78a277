//! The console's state: which screen is up, what each screen shows, what is being
//! typed, and the run in progress. Only `update` changes it; screens read it.

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;
use tui_textarea::TextArea;

use super::engine_link::Setup;
use super::keymap::KeyMode;
use super::live::LiveState;
use super::screens::catalog::CatalogState;
use super::screens::history::HistoryState;
use super::screens::prepare::PrepareState;
use super::screens::result::ReportPaths;
use super::screens::targets::TargetsState;
use super::theme::Theme;
use crate::engine::journal::Dangling;
use crate::engine::record::RunRecord;

/// The screens, in the order of the number keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Catalog,
    Targets,
    History,
    Prepare,
    Live,
    Result,
}

impl Screen {
    pub fn title(self) -> &'static str {
        match self {
            Screen::Catalog => "catalog",
            Screen::Targets => "targets",
            Screen::History => "history",
            Screen::Prepare => "prepare",
            Screen::Live => "live",
            Screen::Result => "result",
        }
    }
}

/// A line of text being typed at the bottom of the screen.
#[derive(Debug)]
pub enum Prompt {
    /// `:` commands.
    Command(TextArea<'static>),
    /// A note for the run's timeline (`n`).
    Note(TextArea<'static>),
}

/// A status-line message that clears itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub until: Instant,
}

/// How long a flash message stays.
pub const FLASH_FOR: Duration = Duration::from_secs(5);

/// The finished run and its report, for the result screen.
#[derive(Debug)]
pub struct ResultState {
    pub record: Box<RunRecord>,
    pub report: Option<Result<ReportPaths, String>>,
    pub scroll: u16,
}

/// Where the console stands on quitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quit {
    No,
    /// Asked to quit with a fault on: the run is being torn down first.
    AfterTeardown,
    Now,
}

/// Everything the console shows.
#[derive(Debug)]
pub struct App {
    pub screen: Screen,
    /// The screen `Esc` goes back to from targets and history.
    pub previous: Screen,
    pub help: bool,
    pub help_scroll: u16,
    pub prompt: Option<Prompt>,
    pub catalog: CatalogState,
    pub targets: TargetsState,
    pub history: HistoryState,
    pub prepare: Option<PrepareState>,
    pub live: Option<LiveState>,
    pub result: Option<ResultState>,
    /// Whether kubectl reaches a Kubernetes cluster, as last checked.
    pub cluster: super::screens::targets::Reach,
    /// Faults still on from earlier runs, per the journal.
    pub dangling: Vec<Dangling>,
    pub flash: Option<Flash>,
    /// A run's engine is running (from preflight until its record arrives).
    pub run_active: bool,
    /// The id of the run in progress: its own steps are not "left on from earlier".
    pub run_id: Option<String>,
    /// What the console runs against: catalog, config, target bundles, policy.
    pub setup: Setup,
    /// The bundle of targets runs use.
    pub bundle: String,
    pub read_only: bool,
    pub theme: Theme,
    pub journal_path: PathBuf,
    pub now: Instant,
    /// The terminal's size, for mouse hit-testing.
    pub area: ratatui::layout::Rect,
    pub quit: Quit,
    /// Something visible changed since the last frame.
    pub dirty: bool,
}

impl App {
    /// Which keymap is in force.
    pub fn key_mode(&self) -> KeyMode {
        match self.help {
            true => KeyMode::Help,
            false => self.key_mode_under_help(),
        }
    }

    /// The keymap of the screen itself, which the help screen lists.
    pub fn key_mode_under_help(&self) -> KeyMode {
        match self.screen {
            Screen::Catalog => KeyMode::Catalog,
            Screen::Targets => KeyMode::Targets,
            Screen::History => KeyMode::History,
            Screen::Prepare => match self.prepare.as_ref().and_then(|p| p.gate.as_ref()) {
                Some(gate) => KeyMode::Gate(gate.severity),
                None => KeyMode::Prepare,
            },
            Screen::Live => KeyMode::Live,
            Screen::Result => KeyMode::Result,
        }
    }

    /// The screen of the run in progress: prepare while preflight runs or the gate is
    /// open, the live dashboard from the gate's approval on; `None` without a run.
    pub fn run_screen(&self) -> Option<Screen> {
        if !self.run_active {
            return None;
        }
        let gate_open = self.prepare.as_ref().is_some_and(|p| p.gate.is_some());
        let preflight = self
            .live
            .as_ref()
            .is_none_or(|l| l.phase == crate::engine::Phase::Preflight);
        match (gate_open, preflight, &self.prepare) {
            (true, _, _) | (_, true, Some(_)) => Some(Screen::Prepare),
            _ => Some(Screen::Live),
        }
    }

    /// A run goes on while another screen is up (its key is hinted then).
    pub fn run_elsewhere(&self) -> bool {
        self.run_screen()
            .is_some_and(|screen| screen != self.screen)
    }

    /// The targets of the bundle runs use.
    pub fn current_targets(&self) -> crate::driver::targets::Targets {
        self.setup
            .bundles
            .get(&self.bundle)
            .cloned()
            .unwrap_or_default()
    }

    /// The current bundle's target of `kind` in words (password masked).
    pub fn target_text(&self, kind: crate::catalog::TargetKind) -> String {
        self.target_described(kind)
            .unwrap_or_else(|| super::screens::catalog::not_configured(kind))
    }

    /// As [`Self::target_text`], `None` when the bundle has no target of `kind`.
    pub fn target_described(&self, kind: crate::catalog::TargetKind) -> Option<String> {
        self.setup
            .bundles
            .get(&self.bundle)
            .and_then(|t| t.describe(kind))
    }

    /// Shows a message on the status line for a few seconds.
    pub fn say(&mut self, text: impl Into<String>, error: bool) {
        let text = crate::report::mask_text(&text.into());
        self.flash = Some(Flash {
            text,
            error,
            until: self.now + FLASH_FOR,
        });
        self.dirty = true;
    }

    /// The next instant at which time alone changes the screen: a flash expires, the
    /// gate's countdown moves, the live clock ticks. `None` when nothing does, so an
    /// idle console sleeps and never redraws.
    pub fn next_wake(&self) -> Option<Instant> {
        let mut wakes: Vec<Instant> = Vec::new();
        if let Some(flash) = &self.flash {
            wakes.push(flash.until);
        }
        if let Some(gate) = self.prepare.as_ref().and_then(|p| p.gate.as_ref()) {
            wakes.extend(gate.next_wake(self.now));
        }
        if self.run_active && matches!(self.screen, Screen::Live | Screen::Prepare) {
            wakes.push(next_whole_second(self.live.as_ref(), self.now));
        }
        wakes.into_iter().min()
    }
}

/// The next instant the elapsed-time clock of the live header changes.
fn next_whole_second(live: Option<&LiveState>, now: Instant) -> Instant {
    let Some(live) = live else {
        return now + Duration::from_secs(1);
    };
    let elapsed = now.saturating_duration_since(live.started);
    let into = elapsed.subsec_nanos() as u64;
    now + Duration::from_nanos(1_000_000_000 - into)
}
