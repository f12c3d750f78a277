//! What keys mean, per mode. One table drives the handlers, the hint bar and the `?`
//! help screen, so the hints never lie.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Which keymap is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// Keys that work on every screen (unless text is being typed).
    Global,
    Catalog,
    Targets,
    Prepare,
    /// The gate is open: its own keys decide (DESIGN.md, "Risk gates").
    Gate,
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
    }
}

const fn injects(binding: Binding) -> Binding {
    Binding {
        injects: true,
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
    key(K::Esc, "Esc", A::Back, "clear filter", false),
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

/// The gate reads keys itself (`gate.rs`); these entries document them.
const GATE: &[Binding] = &[
    key(
        K::Enter,
        "y/Enter",
        A::Open,
        "inject, as the gate asks",
        true,
    ),
    key(
        K::Esc,
        "Esc",
        A::Back,
        "cancel (so does any other key)",
        true,
    ),
];

const LIVE: &[Binding] = &[
    key(K::Char('t'), "t", A::TeardownNow, "tear down now", true),
    key(K::Char('+'), "+", A::ExtendTtl, "TTL +1m", true),
    key(K::Char('n'), "n", A::Note, "note", true),
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
        KeyMode::Gate => (GATE, false),
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
        KeyMode::Help => None,
        _ => find(KeyMode::Global),
    })
}

/// The hint bar's entries for `mode`: its own first, then the global ones.
pub fn hints(mode: KeyMode, read_only: bool) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    let modes = match mode {
        KeyMode::Help | KeyMode::Gate => vec![mode],
        _ => vec![mode, KeyMode::Global],
    };
    for m in modes {
        for b in bindings(m) {
            if b.hint && !(read_only && b.injects) {
                out.push((b.label, b.help));
            }
        }
    }
    out
}

/// Whether `event` is Ctrl-C, which halts everything and quits from any mode.
pub fn is_interrupt(event: KeyEvent) -> bool {
    event.code == KeyCode::Char('c') && event.modifiers.contains(KeyModifiers::CONTROL)
}
