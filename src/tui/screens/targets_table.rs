//! Drawing the targets screen: a table of bundle, part, target (masked) and reach,
//! the connection-string editor in place of the selected row's text, and a pane with
//! the selected row in full.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use super::conn_mask::masked_for_display;
use super::targets::{Reach, TargetRow, TargetsState};
use super::text_fit::{pad_to, wrap_lines};
use crate::tui::fit::{cut, width};
use crate::tui::theme::{Meaning, Theme};

/// "postgres", the longest part word.
const PART_COLUMNS: usize = 8;
/// "checking", the longest reach word.
const REACH_WORD_COLUMNS: usize = 8;
const EMPTY: &str =
    "no targets: pass --conn, --container, --process or --proxy, or --config targets.yaml";

/// The reach's word and the meaning that colours it.
pub fn reach_word(reach: &Reach) -> (&'static str, Meaning) {
    match reach {
        Reach::Unknown => ("unknown", Meaning::Muted),
        Reach::Checking => ("checking", Meaning::Muted),
        Reach::Up(_) => ("up", Meaning::ProbeUp),
        Reach::Down(_) => ("down", Meaning::ProbeDown),
    }
}

fn reach_detail(reach: &Reach) -> &str {
    match reach {
        Reach::Unknown | Reach::Checking => "",
        Reach::Up(detail) | Reach::Down(detail) => detail,
    }
}

/// Column widths for a row `columns` wide.
struct Columns {
    bundle: usize,
    what: usize,
    reach: usize,
}

impl Columns {
    /// The bundle as wide as its longest name (at most a fifth of the row), the
    /// target as wide as its longest text while the reach keeps 30 % of the row,
    /// and the reach the rest.
    fn of(rows: &[TargetRow], columns: usize) -> Columns {
        let longest = |text: fn(&TargetRow) -> &str| rows.iter().map(|r| width(text(r))).max();
        let bundle = longest(|r| &r.bundle)
            .unwrap_or(0)
            .clamp(6, (columns / 5).max(6));
        let fixed = 2 + bundle + 1 + PART_COLUMNS + 1 + 1;
        let min_reach = (columns * 3 / 10).max(REACH_WORD_COLUMNS + 4);
        let room = columns.saturating_sub(fixed + min_reach);
        let what = longest(|r| &r.shown).unwrap_or(0).clamp(6, room.max(6));
        Columns {
            bundle,
            what,
            reach: columns.saturating_sub(fixed + what),
        }
    }

    /// Where the target's text starts, from the row's left edge.
    fn what_start(&self) -> usize {
        2 + self.bundle + 1 + PART_COLUMNS + 1
    }
}

/// Draws the targets screen into `area`.
pub fn render(state: &TargetsState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let detail_height = if area.height >= 10 {
        (area.height / 3).clamp(4, 9)
    } else {
        0
    };
    let table = Rect {
        height: area.height - detail_height,
        ..area
    };
    let detail = Rect {
        y: area.y + table.height,
        height: detail_height,
        ..area
    };
    render_table(state, theme, table, buf);
    if detail_height > 0 {
        render_detail(state, theme, detail, buf);
    }
}

fn render_table(state: &TargetsState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let title = format!(" targets {} ", state.rows().len());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Meaning::BorderFocus))
        .title(Span::styled(title, theme.style(Meaning::Title)));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let columns = usize::from(inner.width);
    let rows = state.rows();
    if rows.is_empty() {
        for (n, text) in wrap_lines(EMPTY, columns).into_iter().enumerate() {
            let line = Line::styled(text, theme.style(Meaning::Muted));
            line.render(row_rect(inner, n), buf);
        }
        return;
    }
    let widths = Columns::of(rows, columns);
    let muted = theme.style(Meaning::Muted);
    let header = format!(
        "  {} {} {} REACH",
        pad_to("BUNDLE", widths.bundle),
        pad_to("PART", PART_COLUMNS),
        pad_to("TARGET", widths.what)
    );
    Line::styled(header, muted).render(row_rect(inner, 0), buf);
    let height = usize::from(inner.height) - 1;
    let selected = state.selected_index();
    let offset = if height > 0 && selected >= height {
        selected + 1 - height
    } else {
        0
    };
    for (n, row) in rows.iter().enumerate().skip(offset).take(height) {
        let rect = row_rect(inner, 1 + n - offset);
        let is_selected = n == selected;
        row_line(row, theme, &widths, is_selected).render(rect, buf);
        if let (true, Some(editor)) = (is_selected, state.editor()) {
            let start = widths.what_start().min(columns) as u16;
            let field = Rect {
                x: rect.x + start,
                width: rect.width - start,
                ..rect
            };
            let text = editor.text.lines().concat();
            render_editor(&text, editor.text.cursor().1, theme, field, buf);
        }
    }
}

fn row_rect(inner: Rect, n: usize) -> Rect {
    Rect {
        y: inner.y + n as u16,
        height: 1,
        ..inner
    }
}

fn row_line(row: &TargetRow, theme: &Theme, widths: &Columns, selected: bool) -> Line<'static> {
    let base = if selected {
        theme.style(Meaning::Selected)
    } else {
        Style::default()
    };
    let text = base.patch(theme.style(Meaning::Text));
    let (word, meaning) = reach_word(&row.reach);
    let detail_columns = widths.reach.saturating_sub(REACH_WORD_COLUMNS + 1);
    let cursor = if selected { "> " } else { "  " };
    let line = Line::from(vec![
        Span::styled(cursor, text),
        Span::styled(pad_to(&row.bundle, widths.bundle), text),
        Span::styled(" ", text),
        Span::styled(pad_to(row.part.as_str(), PART_COLUMNS), text),
        Span::styled(" ", text),
        Span::styled(pad_to(&row.shown, widths.what), text),
        Span::styled(" ", text),
        Span::styled(
            pad_to(word, REACH_WORD_COLUMNS),
            base.patch(theme.style(meaning)),
        ),
        Span::styled(" ", text),
        Span::styled(cut(reach_detail(&row.reach), detail_columns), text),
    ]);
    if selected {
        line.style(base)
    } else {
        line
    }
}

/// The connection string being edited, passwords drawn as `*`, scrolled so the
/// cursor (a character index) stays inside `area`.
fn render_editor(text: &str, cursor: usize, theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let shown: Vec<char> = masked_for_display(text).chars().collect();
    let room = usize::from(area.width);
    let offset = if cursor >= room { cursor + 1 - room } else { 0 };
    let visible: String = shown.iter().skip(offset).take(room).collect();
    let style = theme.style(Meaning::GatePrompt);
    buf.set_style(area, style);
    buf.set_stringn(area.x, area.y, pad_to(&visible, room), room, style);
    let x = area.x + (cursor - offset) as u16;
    if x < area.right() {
        buf[(x, area.y)].set_style(Style::default().add_modifier(Modifier::REVERSED));
    }
}

fn render_detail(state: &TargetsState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Meaning::Border))
        .title(Span::styled(" selected ", theme.style(Meaning::Title)));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let Some(row) = state.selected() else {
        return;
    };
    let columns = usize::from(inner.width);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let title = format!("{} of {}", row.part.as_str(), row.bundle);
    lines.push(Line::styled(
        cut(&title, columns),
        theme.style(Meaning::Title),
    ));
    if let Some(editor) = state.editor() {
        let hint = "editing: Enter saves, Esc cancels; *** keeps the current password";
        for text in wrap_lines(hint, columns) {
            lines.push(Line::styled(text, theme.style(Meaning::Muted)));
        }
        if let Some(error) = &editor.error {
            for text in wrap_lines(error, columns) {
                lines.push(Line::styled(text, theme.style(Meaning::FlashError)));
            }
        }
        let typed = masked_for_display(&editor.text.lines().concat());
        for text in wrap_lines(&typed, columns) {
            lines.push(Line::styled(text, theme.style(Meaning::GatePrompt)));
        }
    } else {
        for text in wrap_lines(&row.shown, columns) {
            lines.push(Line::styled(text, theme.style(Meaning::Text)));
        }
        let (word, meaning) = reach_word(&row.reach);
        let detail = format!("{word} {}", reach_detail(&row.reach));
        for (n, text) in wrap_lines(&detail, columns).into_iter().enumerate() {
            let line = match (n, text.strip_prefix(word)) {
                (0, Some(rest)) => Line::from(vec![
                    Span::styled(word, theme.style(meaning)),
                    Span::styled(rest.to_string(), theme.style(Meaning::Text)),
                ]),
                _ => Line::styled(text, theme.style(Meaning::Text)),
            };
            lines.push(line);
        }
    }
    for (n, line) in lines.into_iter().take(inner.height.into()).enumerate() {
        line.render(row_rect(inner, n), buf);
    }
}
