//! The catalog browser's filter line and fault list: where each part sits, the
//! rows (a header per category, then its faults), scrolling that keeps the
//! selection on screen, and the fault under a mouse click.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use super::catalog::{category_title, CatalogState};
use super::severity_meaning;
use super::text_fit::pad_to;
use crate::catalog::Category;
use crate::tui::fit::{cut, width};
use crate::tui::theme::{Meaning, Theme};

/// The width of the severity column: "critical".
const SEVERITY_COLUMNS: usize = 8;
/// Below this width the list sits above the detail pane instead of beside it.
const SIDE_BY_SIDE_MIN: u16 = 60;

/// Where the parts of the catalog screen sit inside its area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub filter: Rect,
    pub list: Rect,
    pub detail: Rect,
}

impl Layout {
    /// The filter on the first row; the list beside (or, when narrow, above) the
    /// detail pane below it.
    pub fn of(area: Rect) -> Layout {
        let filter = Rect {
            height: area.height.min(1),
            ..area
        };
        let rest = Rect {
            y: area.y + filter.height,
            height: area.height - filter.height,
            ..area
        };
        let (list, detail) = if rest.width >= SIDE_BY_SIDE_MIN {
            // At 80 columns the list gets the room for ids and severities.
            let list_width = (rest.width * 9 / 20).max(rest.width.saturating_sub(32).min(48));
            let list = Rect {
                width: list_width,
                ..rest
            };
            let detail = Rect {
                x: rest.x + list_width,
                width: rest.width - list_width,
                ..rest
            };
            (list, detail)
        } else {
            let list_height = rest.height / 2;
            let list = Rect {
                height: list_height,
                ..rest
            };
            let detail = Rect {
                y: rest.y + list_height,
                height: rest.height - list_height,
                ..rest
            };
            (list, detail)
        };
        Layout {
            filter,
            list,
            detail,
        }
    }
}

/// One row of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Header(Category, usize),
    /// The fault's position among the visible faults and its index in the catalog.
    Fault(usize, usize),
}

fn entries(state: &CatalogState) -> Vec<Entry> {
    let faults = state.faults();
    let mut out = Vec::new();
    let mut current = None;
    for (position, &fault) in state.visible().iter().enumerate() {
        let category = faults[fault].category;
        if current != Some(category) {
            let count = state
                .visible()
                .iter()
                .filter(|&&i| faults[i].category == category)
                .count();
            out.push(Entry::Header(category, count));
            current = Some(category);
        }
        out.push(Entry::Fault(position, fault));
    }
    out
}

/// The first entry drawn, so the selected row is on screen.
fn scroll_offset(entries: &[Entry], selected: Option<usize>, height: usize) -> usize {
    let row = entries
        .iter()
        .position(|e| matches!(e, Entry::Fault(_, f) if Some(*f) == selected));
    match row {
        Some(row) if height > 0 && row >= height => row + 1 - height,
        _ => 0,
    }
}

fn list_block(state: &CatalogState, theme: &Theme) -> Block<'static> {
    let total = state.faults().len();
    let shown = state.visible_count();
    let unavailable = state
        .visible()
        .iter()
        .filter(|&&i| !state.availability_of(i).is_ready())
        .count();
    let mut title = if shown == total {
        format!(" faults {total}")
    } else {
        format!(" faults {shown} of {total}")
    };
    if unavailable > 0 {
        title.push_str(&format!(", {unavailable} unavailable"));
    }
    title.push(' ');
    let border = if state.is_filtering() {
        Meaning::Border
    } else {
        Meaning::BorderFocus
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(border))
        .title(Span::styled(title, theme.style(Meaning::Title)))
}

/// The visible fault at a screen position inside the list pane.
pub fn fault_at(state: &CatalogState, area: Rect, column: u16, row: u16) -> Option<usize> {
    let inner = Block::default()
        .borders(Borders::ALL)
        .inner(Layout::of(area).list);
    let inside =
        column >= inner.x && column < inner.right() && row >= inner.y && row < inner.bottom();
    if !inside {
        return None;
    }
    let entries = entries(state);
    let offset = scroll_offset(&entries, state.selected_fault(), inner.height.into());
    match entries.get(offset + usize::from(row - inner.y))? {
        Entry::Fault(position, _) => Some(*position),
        Entry::Header(..) => None,
    }
}

/// The filter line: the text field while filtering, else the filter in force or a
/// hint.
pub fn render_filter(state: &CatalogState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let key = Span::styled("/ ", theme.style(Meaning::HintKey));
    if state.is_filtering() {
        Line::from(key).render(area, buf);
        let field = Rect {
            x: area.x.saturating_add(2).min(area.right()),
            width: area.width.saturating_sub(2),
            ..area
        };
        state.filter_area().render(field, buf);
        return;
    }
    let text = state.filter_text();
    let line = if text.is_empty() {
        Line::from(vec![
            key,
            Span::styled("filter", theme.style(Meaning::Muted)),
        ])
    } else {
        Line::from(vec![
            key,
            Span::styled(text, theme.style(Meaning::Text)),
            Span::styled("  (/ edits, Esc clears)", theme.style(Meaning::Muted)),
        ])
    };
    line.render(area, buf);
}

/// The list pane: a header per category, then one row per fault.
pub fn render_list(state: &CatalogState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let block = list_block(state, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let columns = usize::from(inner.width);
    if state.visible().is_empty() {
        let message = if state.faults().is_empty() {
            "no faults in the catalog".to_string()
        } else {
            format!("no fault matches \"{}\"", state.filter_text())
        };
        Line::styled(cut(&message, columns), theme.style(Meaning::Muted)).render(inner, buf);
        return;
    }
    let entries = entries(state);
    let offset = scroll_offset(&entries, state.selected_fault(), inner.height.into());
    let id_columns = id_columns(state, columns);
    for (n, entry) in entries
        .iter()
        .skip(offset)
        .take(inner.height.into())
        .enumerate()
    {
        let row = Rect {
            y: inner.y + n as u16,
            height: 1,
            ..inner
        };
        let line = match *entry {
            Entry::Header(category, count) => Line::styled(
                cut(&format!("{} ({count})", category_title(category)), columns),
                theme.style(Meaning::Title),
            ),
            Entry::Fault(_, fault) => fault_line(state, theme, fault, id_columns, columns),
        };
        line.render(row, buf);
    }
}

/// The id column: as wide as the longest visible id, at most 45 % of the row.
fn id_columns(state: &CatalogState, columns: usize) -> usize {
    let longest = state
        .visible()
        .iter()
        .map(|&i| width(&state.faults()[i].id))
        .max()
        .unwrap_or(0);
    longest.min(columns * 9 / 20).max(4)
}

fn fault_line(
    state: &CatalogState,
    theme: &Theme,
    fault: usize,
    id_columns: usize,
    columns: usize,
) -> Line<'static> {
    let spec = &state.faults()[fault];
    let ready = state.availability_of(fault).is_ready();
    let selected = state.selected_fault() == Some(fault);
    let base = if selected {
        theme.style(Meaning::Selected)
    } else {
        Style::default()
    };
    let style = |meaning: Meaning| {
        let meaning = if ready { meaning } else { Meaning::Unavailable };
        base.patch(theme.style(meaning))
    };
    let cursor = if selected { "> " } else { "  " };
    let name_columns = columns.saturating_sub(2 + id_columns + 1 + SEVERITY_COLUMNS + 1);
    let mut line = Line::from(vec![
        Span::styled(cursor, style(Meaning::Text)),
        Span::styled(pad_to(&spec.id, id_columns), style(Meaning::Text)),
        Span::styled(" ", style(Meaning::Text)),
        Span::styled(
            pad_to(spec.severity.as_str(), SEVERITY_COLUMNS),
            style(severity_meaning(spec.severity)),
        ),
        Span::styled(" ", style(Meaning::Text)),
        Span::styled(pad_to(&spec.name, name_columns), style(Meaning::Text)),
    ]);
    if selected {
        line = line.style(base);
    }
    line
}
