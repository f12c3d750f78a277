//! What keys mean, per mode. One table drives the handlers, the hint bar and the `?`
//! help screen, so the hints never lie.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::catalog::Severity;

/// Which keymap is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// Keys that work on every screen (unless text is being typed).
    Global,
    Catalog,
    Targets,
    Prepare,
    /// The gate of a fault of this severity is open: its own keys decide
    /// (DESIGN.md, "Risk gates"), and only they.
    Gate(Severity),
    Live,
    Result,
    History,
    Help,
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Filter,
    Help,
    CommandLine,
    ShowCatalog,
    ShowTargets,
    ShowHistory,
    /// The run in progress (its prepare screen or dashboard), or the last result.
    ShowRun,
    HaltAll,
    TeardownDangling,
    /// Prepare: check steady state and ask for the gate.
    Preflight,
    EditParam,
    EditTarget,
    CheckTargets,
    TeardownNow,
    ExtendTtl,
    Note,
    WriteReport,
    /// At a typing gate: letters are typed (the binding stands for all of them).
    TypeWord,
    /// At a typing gate: erase the last letter.
    Erase,
}

/// One key of one mode.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
    /// How the key is written in hints and help (`j/↓`).
    pub label: &'static str,
    pub action: Action,
    /// What it does, in the help screen and hint bar.
    pub help: &'static str,
    /// Injects a fault: hidden and unbound under `--read-only`.
    pub injects: bool,
    /// Shown in the hint bar (the help screen shows every binding).
    pub hint: bool,
    /// Shown in the hint bar while a run goes on on another screen.
    pub hint_during_run: bool,
}

const fn key(
    code: KeyCode,
    label: &'static str,
    action: Action,
    help: &'static str,
    hint: bool,
) -> Binding {
    Binding {
        code,
        modifiers: KeyModifiers::NONE,
        label,
        action,
        help,
        injects: false,
        hint,
        hint_during_run: false,
    }
}

const fn injects(binding: Binding) -> Binding {
    Binding {
        injects: true,
        ..binding
    }
}

/// Hinted only while a run goes on out of sight (the key that brings it back).
const fn during_run(binding: Binding) -> Binding {
    Binding {
        hint_during_run: true,
        ..binding
    }
}

const fn hidden(binding: Binding) -> Binding {
    Binding {
        label: "",
        hint: false,
        ..binding
    }
}

use Action as A;
use KeyCode as K;

const MOVE: [Binding; 10] = [
    key(K::Char('j'), "j/↓", A::Down, "down", false),
    hidden(key(K::Down, "↓", A::Down, "down", false)),
    key(K::Char('k'), "k/↑", A::Up, "up", false),
    hidden(key(K::Up, "↑", A::Up, "up", false)),
    key(K::PageDown, "PgDn", A::PageDown, "page down", false),
    key(K::PageUp, "PgUp", A::PageUp, "page up", false),
    key(K::Char('g'), "g/Home", A::Top, "first", false),
    hidden(key(K::Home, "Home", A::Top, "first", false)),
    key(K::Char('G'), "G/End", A::Bottom, "last", false),
    hidden(key(K::End, "End", A::Bottom, "last", false)),
];

const GLOBAL: &[Binding] = &[
    key(K::Char('?'), "?", A::Help, "help", true),
    key(K::Char(':'), ":", A::CommandLine, "command", false),
    key(K::Char('1'), "1", A::ShowCatalog, "catalog", false),
    key(K::Char('2'), "2", A::ShowTargets, "targets", false),
    key(K::Char('3'), "3", A::ShowHistory, "history", false),
    during_run(key(K::Char('4'), "4", A::ShowRun, "run", false)),
    key(K::Char('H'), "H", A::HaltAll, "halt everything", true),
    key(
        K::Char('D'),
        "D",
        A::TeardownDangling,
        "tear down faults left on",
        false,
    ),
];

const CATALOG: &[Binding] = &[
    injects(key(K::Enter, "Enter", A::Open, "prepare", true)),
    key(K::Char('/'), "/", A::Filter, "filter", true),
    key(
        K::Esc,
        "Esc",
        A::Back,
        "clear the filter; without one, back to the run in progress",
        false,
    ),
    key(K::Char('q'), "q", A::Quit, "quit", true),
];

const TARGETS: &[Binding] = &[
    key(K::Char('e'), "e", A::EditTarget, "edit", true),
    key(K::Char('r'), "r", A::CheckTargets, "recheck", true),
    key(K::Esc, "Esc/q", A::Back, "back", true),
    hidden(key(K::Char('q'), "q", A::Back, "back", false)),
];

const PREPARE: &[Binding] = &[
    injects(key(
        K::Enter,
        "Enter",
        A::Preflight,
        "preflight & gate",
        true,
    )),
    key(K::Char('e'), "e", A::EditParam, "edit parameter", true),
    key(K::Esc, "Esc/q", A::Back, "back", true),
    hidden(key(K::Char('q'), "q", A::Back, "back", false)),
];

/// The gates' keys; `gate.rs` reads them from here. Low: Enter injects, any other
/// key cancels. Medium: `y` injects, any other key cancels. High and critical: letters
/// are typed, Enter injects when the word matches (a wrong word cancels; critical
/// also waits out its arming countdown), Esc cancels (so do keys that type nothing,
/// such as arrows, which the hint leaves out).
const GATE_LOW: &[Binding] = &[
    key(K::Enter, "Enter", A::Open, "inject", true),
    key(
        K::Esc,
        "Esc",
        A::Back,
        "cancel (so does any other key)",
        true,
    ),
];

const GATE_MEDIUM: &[Binding] = &[
    key(K::Char('y'), "y", A::Open, "inject", true),
    hidden(key(K::Char('Y'), "Y", A::Open, "inject", false)),
    key(
        K::Esc,
        "Esc",
        A::Back,
        "cancel (so does any other key)",
        true,
    ),
];

/// Stands for every letter at a typing gate in the table (a code no letter has).
const TYPED: KeyCode = K::Null;

const GATE_HIGH: &[Binding] = &[
    key(TYPED, "type", A::TypeWord, "the fault id", true),
    key(K::Enter, "Enter", A::Open, "inject if it matches", true),
    key(K::Backspace, "Backspace", A::Erase, "erase a letter", false),
    key(K::Esc, "Esc", A::Back, "cancel", true),
];

const GATE_CRITICAL: &[Binding] = &[
    key(TYPED, "type", A::TypeWord, "the target's name", true),
    key(
        K::Enter,
        "Enter",
        A::Open,
        "inject once armed, if it matches",
        true,
    ),
    key(K::Backspace, "Backspace", A::Erase, "erase a letter", false),
    key(K::Esc, "Esc", A::Back, "cancel", true),
];

const LIVE: &[Binding] = &[
    key(K::Char('t'), "t", A::TeardownNow, "tear down now", true),
    key(K::Char('+'), "+", A::ExtendTtl, "TTL +1m", true),
    key(K::Char('n'), "n", A::Note, "note", true),
    key(
        K::Char('q'),
        "q",
        A::Quit,
        "quit (with a fault on: says how to tear it down first)",
        false,
    ),
];

const RESULT: &[Binding] = &[
    key(K::Char('e'), "e", A::WriteReport, "write report", true),
    key(K::Esc, "Esc/q", A::Back, "catalog", true),
    hidden(key(K::Char('q'), "q", A::Back, "catalog", false)),
];

const HISTORY: &[Binding] = &[
    key(K::Esc, "Esc/q", A::Back, "back", true),
    hidden(key(K::Char('q'), "q", A::Back, "back", false)),
];

const HELP: &[Binding] = &[
    key(K::Esc, "Esc/q/?", A::Back, "close help", true),
    hidden(key(K::Char('q'), "q", A::Back, "close", false)),
    hidden(key(K::Char('?'), "?", A::Back, "close", false)),
];

/// The bindings of one mode, movement included where the mode has a list.
pub fn bindings(mode: KeyMode) -> Vec<Binding> {
    let (own, moves): (&[Binding], bool) = match mode {
        KeyMode::Global => (GLOBAL, false),
        KeyMode::Catalog => (CATALOG, true),
        KeyMode::Targets => (TARGETS, true),
        KeyMode::Prepare => (PREPARE, true),
        KeyMode::Gate(Severity::Low) => (GATE_LOW, false),
        KeyMode::Gate(Severity::Medium) => (GATE_MEDIUM, false),
        KeyMode::Gate(Severity::High) => (GATE_HIGH, false),
        KeyMode::Gate(Severity::Critical) => (GATE_CRITICAL, false),
        KeyMode::Live => (LIVE, true),
        KeyMode::Result => (RESULT, true),
        KeyMode::History => (HISTORY, true),
        KeyMode::Help => (HELP, true),
    };
    let mut all = own.to_vec();
    if moves {
        all.extend_from_slice(&MOVE);
    }
    all
}

/// What `event` means in `mode`, then globally; keys that inject are unbound under
/// `read_only`.
pub fn action_for(mode: KeyMode, event: KeyEvent, read_only: bool) -> Option<Action> {
    let modifiers = event.modifiers - KeyModifiers::SHIFT;
    let matches = |b: &Binding| b.code == event.code && b.modifiers == modifiers;
    let usable = |b: &Binding| !(read_only && b.injects);
    let find = |m: KeyMode| {
        bindings(m)
            .into_iter()
            .find(|b| matches(b) && usable(b))
            .map(|b| b.action)
    };
    find(mode).or_else(|| match mode {
        KeyMode::Help | KeyMode::Gate(_) => None,
        _ => find(KeyMode::Global),
    })
}

/// What `event` means at the gate of a fault of `severity`: the gate's own keys only.
pub fn gate_action(severity: Severity, event: KeyEvent) -> Option<Action> {
    action_for(KeyMode::Gate(severity), event, false)
}

/// The hint bar's entries for `mode`: its own first, then the global ones; the key
/// back to the run only while `run_elsewhere` (a run goes on on another screen).
pub fn hints(
    mode: KeyMode,
    read_only: bool,
    run_elsewhere: bool,
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    let modes = match mode {
        KeyMode::Help | KeyMode::Gate(_) => vec![mode],
        _ => vec![mode, KeyMode::Global],
    };
    for m in modes {
        for b in bindings(m) {
            let shown = b.hint || (run_elsewhere && b.hint_during_run);
            if shown && !(read_only && b.injects) {
                out.push((b.label, b.help));
            }
        }
    }
    out
}

/// How the key for `action` in `mode` is written (its first binding with a label), so
/// messages that name a key say what the table binds.
pub fn label(mode: KeyMode, action: Action) -> &'static str {
    bindings(mode)
        .into_iter()
        .find(|b| b.action == action && !b.label.is_empty())
        .map_or("", |b| b.label)
}

/// Whether `event` is Ctrl-C, which halts everything and quits from any mode.
pub fn is_interrupt(event: KeyEvent) -> bool {
    event.code == KeyCode::Char('c') && event.modifiers.contains(KeyModifiers::CONTROL)
}
