//! The catalog browser's detail pane: everything about the selected fault, wrapped
//! to the pane's width and scrollable.

use std::collections::BTreeMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use super::catalog::{Availability, CatalogState};
use super::severity_meaning;
use super::text_fit::wrap_lines;
use crate::catalog::FaultSpec;
use crate::tui::fit::cut;
use crate::tui::theme::{Meaning, Theme};

/// The width of the labels in front of values: "unavailable" and a space.
const LABEL_COLUMNS: usize = 12;

/// Draws the selected fault's details into `area`.
pub fn render(state: &CatalogState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Meaning::Border))
        .title(Span::styled(" detail ", theme.style(Meaning::Title)));
    let inner = block.inner(area);
    if inner.width == 0 || inner.height == 0 {
        block.render(area, buf);
        return;
    }
    let columns = usize::from(inner.width);
    let Some((spec, availability)) = state.selected() else {
        block.render(area, buf);
        let text = cut("no fault selected", columns);
        Line::styled(text, theme.style(Meaning::Muted)).render(inner, buf);
        return;
    };
    let target = state.target_text(spec.target);
    let lines = lines(spec, availability, &target, theme, columns);
    let height = usize::from(inner.height);
    let last_top = lines.len().saturating_sub(height);
    let top = state.detail_scroll().min(last_top);
    let block = if lines.len() > height {
        let shown = format!(
            " lines {}-{} of {} ",
            top + 1,
            (top + height).min(lines.len()),
            lines.len()
        );
        block.title_bottom(Span::styled(shown, theme.style(Meaning::Muted)))
    } else {
        block
    };
    block.render(area, buf);
    for (n, line) in lines.into_iter().skip(top).take(height).enumerate() {
        let row = Rect {
            y: inner.y + n as u16,
            height: 1,
            ..inner
        };
        line.render(row, buf);
    }
}

/// The pane's lines, already wrapped to `columns`; `target` is what the prompt's
/// `{{target}}` reads.
fn lines(
    spec: &FaultSpec,
    availability: &Availability,
    target: &str,
    theme: &Theme,
    columns: usize,
) -> Vec<Line<'static>> {
    let text = theme.style(Meaning::Text);
    let mut out: Vec<Line<'static>> = wrap_lines(&spec.name, columns)
        .into_iter()
        .map(|l| Line::styled(l, theme.style(Meaning::Title)))
        .collect();
    let severity = theme.style(severity_meaning(spec.severity));
    out.extend(field(theme, columns, "id", &spec.id, text));
    out.extend(field(
        theme,
        columns,
        "category",
        spec.category.as_str(),
        text,
    ));
    out.extend(field(
        theme,
        columns,
        "severity",
        spec.severity.as_str(),
        severity,
    ));
    out.extend(field(theme, columns, "gate", spec.severity.gate(), text));
    out.extend(field(theme, columns, "target", spec.target.as_str(), text));
    if let Availability::Unavailable(reason) = availability {
        out.extend(field(
            theme,
            columns,
            "unavailable",
            reason,
            theme.style(Meaning::FlashError),
        ));
    }
    section(&mut out, theme, "Description");
    out.extend(paragraph(theme, columns, &spec.description));
    section(&mut out, theme, "Parameters");
    if spec.params.is_empty() {
        out.extend(paragraph(theme, columns, "none"));
    }
    for (name, param) in &spec.params {
        let value = if param.help.is_empty() {
            param.default_text()
        } else {
            format!("{} ({})", param.default_text(), param.help)
        };
        out.extend(field(theme, columns, name, &value, text));
    }
    section(&mut out, theme, "Expect");
    let impact = if spec.expect.impact.is_empty() {
        "no probe expected to fail".to_string()
    } else {
        spec.expect.impact.join(", ")
    };
    let recover = if spec.expect.self_healing {
        format!(
            "within {} of injection (heals by itself)",
            spec.expect.recover_within
        )
    } else {
        format!("within {} of teardown", spec.expect.recover_within)
    };
    out.extend(field(theme, columns, "impact", &impact, text));
    out.extend(field(theme, columns, "recovery", &recover, text));
    out.extend(field(theme, columns, "ttl", &spec.ttl.to_string(), text));
    section(&mut out, theme, "Responder prompt");
    out.extend(paragraph(
        theme,
        columns,
        or_none(&rendered(spec, &spec.prompt, target)),
    ));
    section(&mut out, theme, "Runbook");
    out.extend(paragraph(
        theme,
        columns,
        or_none(&rendered(spec, &spec.runbook, target)),
    ));
    out
}

/// The prompt or runbook as `inject` prints it: references replaced by the
/// parameters' defaults, the fault's id and `target`.
fn rendered(spec: &FaultSpec, text: &str, target: &str) -> String {
    let values = spec.param_values(&BTreeMap::new()).unwrap_or_default();
    let builtins = BTreeMap::from([("target", target.to_string()), ("fault", spec.id.clone())]);
    spec.render_text(text, &values, &builtins)
}

fn or_none(text: &str) -> &str {
    if text.trim().is_empty() {
        "none"
    } else {
        text
    }
}

fn section(out: &mut Vec<Line<'static>>, theme: &Theme, title: &str) {
    out.push(Line::default());
    out.push(Line::styled(title.to_string(), theme.style(Meaning::Title)));
}

fn paragraph(theme: &Theme, columns: usize, text: &str) -> Vec<Line<'static>> {
    wrap_lines(text, columns)
        .into_iter()
        .map(|l| Line::styled(l, theme.style(Meaning::Text)))
        .collect()
}

/// `label  value`, the value wrapped beside the label (under it when the pane is
/// too narrow for both).
fn field(
    theme: &Theme,
    columns: usize,
    label: &str,
    value: &str,
    style: Style,
) -> Vec<Line<'static>> {
    let muted = theme.style(Meaning::Muted);
    let label_columns = LABEL_COLUMNS.max(label.len() + 1);
    if columns < label_columns + 12 {
        let mut out = vec![Line::styled(cut(label, columns), muted)];
        out.extend(
            wrap_lines(value, columns.saturating_sub(2))
                .into_iter()
                .map(|l| Line::styled(format!("  {l}"), style)),
        );
        return out;
    }
    wrap_lines(value, columns - label_columns)
        .into_iter()
        .enumerate()
        .map(|(n, l)| {
            let head = if n == 0 { label } else { "" };
            Line::from(vec![
                Span::styled(format!("{head:<label_columns$}"), muted),
                Span::styled(l, style),
            ])
        })
        .collect()
}
