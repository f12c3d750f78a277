//! The history screen: past runs from the journal in a table, newest first, with the
//! outcome and whether anything is still on, and a detail line for the selected run.

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::tui::fit::{cut, cut_line, ms};
use crate::tui::history::{HistoryRow, RunStatus};
use crate::tui::theme::{Meaning, Theme};

/// Rows of the detail under the table, when the area is tall enough for it.
const DETAIL_HEIGHT: u16 = 3;
/// Inner widths from which the table gets a run id column (else the detail names it).
const ROOMY: u16 = 100;
/// Inner widths from which the table gets a target column.
const WIDE: u16 = 120;

/// What the history screen shows: the rows, which one is selected, and the journal
/// they came from (named when there are no runs).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryState {
    rows: Vec<HistoryRow>,
    selected: usize,
    journal: PathBuf,
}

impl HistoryState {
    /// Rows as `history_rows` folds them (newest first), read from `journal`.
    pub fn new(rows: Vec<HistoryRow>, journal: PathBuf) -> HistoryState {
        HistoryState {
            rows,
            selected: 0,
            journal,
        }
    }

    /// Replaces the rows (the journal grew), keeping the same run selected if it is
    /// still there.
    pub fn set_rows(&mut self, rows: Vec<HistoryRow>) {
        let run = self.selected().map(|r| r.run.clone());
        self.rows = rows;
        self.selected = run
            .and_then(|run| self.rows.iter().position(|r| r.run == run))
            .unwrap_or(0);
    }

    pub fn rows(&self) -> &[HistoryRow] {
        &self.rows
    }

    pub fn journal(&self) -> &Path {
        &self.journal
    }

    /// Moves the selection by `delta` rows, stopping at either end.
    pub fn move_by(&mut self, delta: isize) {
        let last = self.rows.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    /// Selects row `index` (the last row when past the end).
    pub fn select_index(&mut self, index: usize) {
        self.selected = index.min(self.rows.len().saturating_sub(1));
    }

    pub fn selected_index(&self) -> usize {
        self.selected
    }

    pub fn selected(&self) -> Option<&HistoryRow> {
        self.rows.get(self.selected)
    }

    /// The row index under a mouse click at (`column`, `row`), for the same `area`
    /// the screen was drawn in.
    pub fn row_at(&self, area: Rect, column: u16, row: u16) -> Option<usize> {
        let body = geometry(area).body;
        let inside =
            column >= body.x && column < body.right() && row >= body.y && row < body.bottom();
        if !inside {
            return None;
        }
        let index = offset(self.selected, body.height) + usize::from(row - body.y);
        (index < self.rows.len()).then_some(index)
    }
}

/// Where the parts of the screen go inside `area`.
struct Geometry {
    inner: Rect,
    header: Rect,
    body: Rect,
    detail: Option<Rect>,
}

fn geometry(area: Rect) -> Geometry {
    let inner = Block::default().borders(Borders::ALL).inner(area);
    let detail_height = if inner.height >= DETAIL_HEIGHT + 4 {
        DETAIL_HEIGHT + 1
    } else {
        0
    };
    let [table, detail] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(detail_height)]).areas(inner);
    let [header, body] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(table);
    let detail = (detail.height > 1).then(|| Rect {
        y: detail.y + 1,
        height: detail.height - 1,
        ..detail
    });
    Geometry {
        inner,
        header,
        body,
        detail,
    }
}

/// The first row shown so that `selected` is visible in `visible` rows.
fn offset(selected: usize, visible: u16) -> usize {
    selected.saturating_sub(usize::from(visible).saturating_sub(1))
}

/// Draws the history into `area`.
pub fn render(state: &HistoryState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let title = match state.rows.len() {
        1 => " History · 1 run ".to_string(),
        n => format!(" History · {n} runs "),
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Meaning::Border))
        .title(Span::styled(title, theme.style(Meaning::Title)))
        .render(area, buf);
    let g = geometry(area);
    if g.inner.is_empty() {
        return;
    }
    if state.rows.is_empty() {
        let text = format!("no runs yet in {}", state.journal.display());
        let line = Line::styled(
            cut(&text, usize::from(g.inner.width)),
            theme.style(Meaning::Muted),
        );
        buf.set_line(g.inner.x, g.inner.y, &line, g.inner.width);
        return;
    }
    let columns = columns(g.inner.width);
    draw_cells(&columns, &header_cells(&columns, theme), g.header, buf);
    let first = offset(state.selected, g.body.height);
    for (i, row) in state.rows.iter().enumerate().skip(first) {
        let y = g.body.y + (i - first) as u16;
        if y >= g.body.bottom() {
            break;
        }
        let line = Rect {
            y,
            height: 1,
            ..g.body
        };
        if i == state.selected {
            buf.set_style(line, theme.style(Meaning::Selected));
        }
        draw_cells(&columns, &row_cells(&columns, row, theme), line, buf);
    }
    if let (Some(detail), Some(row)) = (g.detail, state.selected()) {
        draw_detail(row, theme, detail, buf);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Column {
    Started,
    Run,
    Fault,
    Target,
    Outcome,
    Impact,
    Recover,
    Status,
}

fn columns(width: u16) -> Vec<(Column, Constraint)> {
    let wide = width >= WIDE;
    let started = Constraint::Length(if wide { 16 } else { 11 });
    let mut columns = vec![(Column::Started, started)];
    if width >= ROOMY {
        columns.push((Column::Run, Constraint::Length(8)));
    }
    columns.push((Column::Fault, Constraint::Fill(1)));
    if wide {
        columns.push((Column::Target, Constraint::Fill(1)));
    }
    columns.extend([
        (Column::Outcome, Constraint::Length(15)),
        (Column::Impact, Constraint::Length(7)),
        (Column::Recover, Constraint::Length(7)),
        (Column::Status, Constraint::Length(12)),
    ]);
    columns
}

fn header_cells(columns: &[(Column, Constraint)], theme: &Theme) -> Vec<(String, Style)> {
    let style = theme.style(Meaning::Title);
    let word = |column: Column| match column {
        Column::Started => "started",
        Column::Run => "run",
        Column::Fault => "fault",
        Column::Target => "target",
        Column::Outcome => "outcome",
        Column::Impact => "impact",
        Column::Recover => "recover",
        Column::Status => "status",
    };
    columns
        .iter()
        .map(|(c, _)| (word(*c).to_string(), style))
        .collect()
}

fn row_cells(
    columns: &[(Column, Constraint)],
    row: &HistoryRow,
    theme: &Theme,
) -> Vec<(String, Style)> {
    let text = theme.style(Meaning::Text);
    let wide = columns.iter().any(|(c, _)| *c == Column::Target);
    columns
        .iter()
        .map(|(column, _)| match column {
            Column::Started => (started(&row.started_at, wide), text),
            Column::Run => (row.run.clone(), text),
            Column::Fault => (row.fault.clone(), text),
            Column::Target => (row.target.clone(), theme.style(Meaning::Muted)),
            Column::Outcome => outcome(row.outcome.as_deref(), theme),
            Column::Impact => (ms(row.time_to_impact_ms), text),
            Column::Recover => (ms(row.time_to_recover_ms), text),
            Column::Status => (
                row.status.word().to_string(),
                status_style(&row.status, theme),
            ),
        })
        .collect()
}

/// Lays `cells` out over `line` by `columns`, each cut to its column.
fn draw_cells(
    columns: &[(Column, Constraint)],
    cells: &[(String, Style)],
    line: Rect,
    buf: &mut Buffer,
) {
    let constraints: Vec<Constraint> = columns.iter().map(|(_, c)| *c).collect();
    let rects = Layout::horizontal(constraints).spacing(1).split(line);
    for (rect, (text, style)) in rects.iter().zip(cells) {
        if rect.width == 0 {
            continue;
        }
        let text = cut(text, usize::from(rect.width));
        buf.set_stringn(rect.x, rect.y, text, usize::from(rect.width), *style);
    }
}

/// `2026-05-01 10:00` when wide, `05-01 10:00` otherwise, from RFC 3339.
fn started(at: &str, wide: bool) -> String {
    let at = at.replacen('T', " ", 1);
    let minutes: String = at.chars().take(16).collect();
    if wide {
        minutes
    } else {
        minutes.chars().skip(5).collect()
    }
}

/// `2026-05-01 10:00:00 UTC` from the journal's RFC 3339 UTC time; other text as is.
fn when(at: &str) -> String {
    match (at.get(..19), at.ends_with('Z')) {
        (Some(seconds), true) => format!("{} UTC", seconds.replacen('T', " ", 1)),
        _ => at.to_string(),
    }
}

fn outcome(word: Option<&str>, theme: &Theme) -> (String, Style) {
    match word {
        Some("pass") => ("pass".into(), theme.style(Meaning::VerdictPass)),
        Some(other) => (other.to_string(), theme.style(Meaning::VerdictFail)),
        None => ("no verdict".into(), theme.style(Meaning::Muted)),
    }
}

fn status_style(status: &RunStatus, theme: &Theme) -> Style {
    match status {
        RunStatus::NotInjected => theme.style(Meaning::Muted),
        RunStatus::TornDown => theme.style(Meaning::Verified),
        RunStatus::Residual(_) => theme.style(Meaning::Residual),
        RunStatus::On => theme.style(Meaning::Banner),
        RunStatus::Forgotten => theme.style(Meaning::Muted),
    }
}

fn draw_detail(row: &HistoryRow, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let muted = theme.style(Meaning::Muted);
    let text = theme.style(Meaning::Text);
    let approved = row
        .approved_by
        .as_deref()
        .map_or("never approved".to_string(), |by| {
            format!("approved by {by}")
        });
    let steps = match row.steps {
        1 => "1 step".to_string(),
        n => format!("{n} steps"),
    };
    let target = if row.target.is_empty() {
        "—"
    } else {
        &row.target
    };
    let what = match &row.status {
        RunStatus::NotInjected => "nothing was injected".to_string(),
        RunStatus::TornDown => "every step undone and verified".to_string(),
        RunStatus::Residual(why) => format!("still wrong: {why}"),
        RunStatus::On => "still injected: press D to tear it down".to_string(),
        RunStatus::Forgotten => {
            "closed with teardown --forget: its target was gone, nothing was undone".to_string()
        }
    };
    let lines = [
        Line::from(vec![
            Span::styled("run ", muted),
            Span::styled(row.run.clone(), text),
            Span::styled(" · fault ", muted),
            Span::styled(row.fault.clone(), text),
            Span::styled(format!(" · started {}", when(&row.started_at)), muted),
        ]),
        Line::from(vec![
            Span::styled("target ", muted),
            Span::styled(target.to_string(), text),
            Span::styled(format!(" · {approved}"), muted),
        ]),
        Line::from(vec![
            Span::styled(row.status.word(), status_style(&row.status, theme)),
            Span::styled(format!(" · {steps} · {what}"), muted),
        ]),
    ];
    let max = usize::from(area.width);
    for (y, line) in (area.y..area.bottom()).zip(lines) {
        let line = cut_line(line, max);
        buf.set_line(area.x, y, &line, area.width);
    }
}
