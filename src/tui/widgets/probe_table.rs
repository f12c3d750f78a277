//! The probe table: one line per probe with its state as a word and a colour
//! (UP, DOWN, WAIT before the first check), its latest latency, a latency
//! sparkline and why it is down. When not every probe fits, the down ones are kept.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Sparkline, Widget};

use super::text;
use crate::tui::live::ProbeRow;
use crate::tui::theme::{Meaning, Theme};

/// Draws the probe pane into `area`.
pub fn render(rows: &[ProbeRow], theme: &Theme, area: Rect, buf: &mut Buffer) {
    let down = rows.iter().filter(|r| is_down(r)).count();
    let up = rows
        .iter()
        .filter(|r| r.last.as_ref().is_some_and(|l| l.up))
        .count();
    let mut title = vec![Span::styled(" Probes ", theme.style(Meaning::Title))];
    title.push(Span::styled(
        format!("{up}/{} up ", rows.len()),
        theme.style(Meaning::Text),
    ));
    if down > 0 {
        title.push(Span::styled(
            format!("{down} DOWN "),
            theme.style(Meaning::ProbeDown),
        ));
    }
    let block = Block::bordered()
        .border_style(theme.style(Meaning::Border))
        .title(Line::from(title));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 12 || inner.height == 0 {
        return;
    }
    if rows.is_empty() {
        let note = "no probes for this fault";
        text::put(
            buf,
            inner.x + 1,
            inner.y,
            note,
            inner.width - 1,
            theme.style(Meaning::Muted),
        );
        return;
    }
    let shown = pick(rows, usize::from(inner.height));
    let columns = columns(inner);
    for (line, &index) in shown.iter().enumerate() {
        let y = inner.y + line as u16;
        draw_row(&rows[index], &columns, y, theme, buf);
    }
    let hidden = rows.len() - shown.len();
    if hidden > 0 {
        let y = inner.y + shown.len() as u16;
        let more = format!("… {hidden} more up or waiting");
        text::put(
            buf,
            inner.x + 1,
            y,
            &more,
            inner.width - 1,
            theme.style(Meaning::Muted),
        );
    }
}

fn is_down(row: &ProbeRow) -> bool {
    row.last.as_ref().is_some_and(|l| !l.up)
}

/// Which rows fit in `height` lines, in their order; down rows first when some
/// must go (one line is then kept to say how many are hidden).
fn pick(rows: &[ProbeRow], height: usize) -> Vec<usize> {
    if rows.len() <= height {
        return (0..rows.len()).collect();
    }
    let room = height.saturating_sub(1);
    let down = (0..rows.len()).filter(|&i| is_down(&rows[i]));
    let others = (0..rows.len()).filter(|&i| !is_down(&rows[i]));
    let mut picked: Vec<usize> = down.chain(others).take(room).collect();
    picked.sort_unstable();
    picked
}

/// Name, state, latency, sparkline, detail: the cells of the first line.
fn columns(inner: Rect) -> [Rect; 5] {
    let name = (inner.width / 5).clamp(10, 28);
    let spark = (inner.width / 6).clamp(4, 30);
    let first = Rect { height: 1, ..inner };
    Layout::horizontal([
        Constraint::Length(name),
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(spark),
        Constraint::Fill(1),
    ])
    .spacing(1)
    .areas(first)
}

fn draw_row(row: &ProbeRow, columns: &[Rect; 5], y: u16, theme: &Theme, buf: &mut Buffer) {
    let [name, state, latency, spark, detail] = columns.map(|c| Rect { y, ..c });
    text::put(
        buf,
        name.x,
        y,
        &row.name,
        name.width,
        theme.style(Meaning::Text),
    );
    let (word, meaning) = match &row.last {
        None => ("WAIT", Meaning::ProbeUnknown),
        Some(l) if l.up => ("UP", Meaning::ProbeUp),
        Some(_) => ("DOWN", Meaning::ProbeDown),
    };
    text::put(buf, state.x, y, word, state.width, theme.style(meaning));
    let Some(last) = &row.last else {
        text::put(
            buf,
            detail.x,
            y,
            &row.check,
            detail.width,
            theme.style(Meaning::Muted),
        );
        return;
    };
    let ms = last.latency.as_secs_f64() * 1000.0;
    let ms = if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    };
    let pad = usize::from(latency.width).saturating_sub(ms.len());
    let ms = format!("{}{ms}", " ".repeat(pad));
    text::put(
        buf,
        latency.x,
        y,
        &ms,
        latency.width,
        theme.style(Meaning::Text),
    );
    let skip = row
        .latencies_ms
        .len()
        .saturating_sub(usize::from(spark.width));
    Sparkline::default()
        .style(theme.style(Meaning::Sparkline))
        .data(row.latencies_ms.iter().skip(skip))
        .render(spark, buf);
    let detail_style = if last.up {
        Meaning::Muted
    } else {
        Meaning::Text
    };
    text::put(
        buf,
        detail.x,
        y,
        &last.detail,
        detail.width,
        theme.style(detail_style),
    );
}
