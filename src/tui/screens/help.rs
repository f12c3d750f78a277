//! `?` help: every key of the screen under it and the global keys, built from the
//! same table the handlers use.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::tui::keymap::{bindings, KeyMode};
use crate::tui::theme::{Meaning, Theme};

/// The help screen's lines for the keymap `mode`.
pub fn lines(mode: KeyMode, read_only: bool, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (title, m) in [(section(mode), mode), ("everywhere", KeyMode::Global)] {
        out.push(Line::styled(title, theme.style(Meaning::Title)));
        for b in bindings(m) {
            if b.label.is_empty() || (read_only && b.injects) {
                continue;
            }
            out.push(Line::from(vec![
                Span::styled(format!("  {:<10}", b.label), theme.style(Meaning::HintKey)),
                Span::styled(b.help, theme.style(Meaning::Text)),
            ]));
        }
        out.push(Line::raw(""));
    }
    out.push(Line::styled("typing", theme.style(Meaning::Title)));
    for (key, what) in [
        ("Ctrl-C", "tear down whatever is on, then quit"),
        (
            ":",
            "commands: catalog, targets, history, use NAME, theme NAME, halt, quit",
        ),
        (
            "/",
            "filter the catalog by id, name, category or severity; Esc clears",
        ),
    ] {
        out.push(Line::from(vec![
            Span::styled(format!("  {key:<10}"), theme.style(Meaning::HintKey)),
            Span::styled(what, theme.style(Meaning::Text)),
        ]));
    }
    if read_only {
        out.push(Line::raw(""));
        out.push(Line::styled(
            "read-only: every key that injects is off",
            theme.style(Meaning::Muted),
        ));
    }
    out
}

fn section(mode: KeyMode) -> &'static str {
    match mode {
        KeyMode::Global | KeyMode::Help => "keys",
        KeyMode::Catalog => "catalog",
        KeyMode::Targets => "targets",
        KeyMode::Prepare => "prepare",
        KeyMode::Gate(_) => "gate",
        KeyMode::Live => "live dashboard",
        KeyMode::Result => "result",
        KeyMode::History => "history",
    }
}

/// Draws the help for `mode`, scrolled by `scroll` lines.
pub fn render(
    mode: KeyMode,
    read_only: bool,
    scroll: u16,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Meaning::BorderFocus))
        .title(Span::styled(
            " help — Esc closes ",
            theme.style(Meaning::Title),
        ));
    Paragraph::new(lines(mode, read_only, theme))
        .block(block)
        .scroll((scroll, 0))
        .render(area, buf);
}
