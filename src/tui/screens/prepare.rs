//! Prepare and gate: the fault's parameters (editable), preflight (each steady-state
//! probe ✔/✗), the blast radius in words, then the gate for the fault's severity.
//! Nothing is injected before the gate is passed.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};
use tokio::time::Instant;
use tui_textarea::TextArea;

use crate::catalog::FaultSpec;
use crate::tui::gate::{GateKind, GateState};
use crate::tui::live::LiveState;
use crate::tui::screens::severity_span;
use crate::tui::screens::text_fit::wrap_lines;
use crate::tui::theme::{Meaning, Theme};

/// One parameter as the operator will run it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    pub name: String,
    pub value: String,
    pub help: String,
}

/// Where preparing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Parameters may be changed; Enter starts preflight.
    Edit,
    /// Enter was pressed while the last run was still ending (its gate was just
    /// cancelled): preflight starts as soon as that run's record arrives.
    Queued,
    /// The engine checks targets and steady state.
    Preflight,
    /// Preflight passed; the gate is open.
    Gate,
}

/// The prepare screen's state.
#[derive(Debug)]
pub struct PrepareState {
    pub spec: FaultSpec,
    /// The target in words, password masked.
    pub target: String,
    pub params: Vec<ParamRow>,
    pub selected: usize,
    pub editing: Option<TextArea<'static>>,
    pub stage: Stage,
    pub gate: Option<GateState>,
    /// The target's short name, which the critical gate asks for.
    pub gate_target: String,
    /// Why the last attempt stopped (gate cancelled, preflight failed).
    pub stopped: Option<String>,
}

impl PrepareState {
    pub fn new(spec: FaultSpec, target: String) -> PrepareState {
        let params = spec
            .params
            .iter()
            .map(|(name, p)| ParamRow {
                name: name.clone(),
                value: p.default_text(),
                help: p.help.clone(),
            })
            .collect();
        PrepareState {
            spec,
            target,
            params,
            selected: 0,
            editing: None,
            stage: Stage::Edit,
            gate: None,
            gate_target: String::new(),
            stopped: None,
        }
    }

    /// The parameters as `NAME=VALUE` for the engine.
    pub fn param_pairs(&self) -> Vec<String> {
        self.params
            .iter()
            .map(|p| format!("{}={}", p.name, p.value))
            .collect()
    }

    pub fn move_by(&mut self, delta: isize) {
        if self.params.is_empty() || self.stage != Stage::Edit {
            return;
        }
        let last = self.params.len() as isize - 1;
        self.selected = (self.selected as isize + delta).clamp(0, last) as usize;
    }

    /// Starts editing the selected parameter's value.
    pub fn begin_edit(&mut self) -> bool {
        if self.stage != Stage::Edit {
            return false;
        }
        let Some(row) = self.params.get(self.selected) else {
            return false;
        };
        let mut area = TextArea::new(vec![row.value.clone()]);
        area.move_cursor(tui_textarea::CursorMove::End);
        self.editing = Some(area);
        true
    }

    /// Keeps the edited value.
    pub fn finish_edit(&mut self) {
        if let (Some(area), Some(row)) = (self.editing.take(), self.params.get_mut(self.selected)) {
            row.value = area.lines().join("").trim().to_string();
        }
    }

    /// Back to editing after a cancelled gate or failed preflight.
    pub fn stop(&mut self, why: String) {
        self.stage = Stage::Edit;
        self.gate = None;
        self.stopped = Some(why);
    }
}

/// Draws the prepare screen; `live` holds the preflight probes once the run started.
pub fn render(
    prep: &PrepareState,
    live: Option<&LiveState>,
    now: Instant,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    if area.width < 4 || area.height < 3 {
        return;
    }
    let gate_lines = gate_lines(prep, now, theme, area.width.saturating_sub(2));
    let gate_height = 2 + gate_lines.len().max(1) as u16;
    let fault_height = 5 + prep.params.len().max(1) as u16;
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Length(fault_height),
        Constraint::Min(3),
        Constraint::Length(gate_height),
    ])
    .areas(area);
    render_fault(prep, theme, top, buf);
    render_preflight(prep, live, theme, middle, buf);
    render_gate(prep, gate_lines, theme, bottom, buf);
}

fn block<'a>(title: &'a str, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Meaning::Border))
        .title(Span::styled(title, theme.style(Meaning::Title)))
}

fn render_fault(prep: &PrepareState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let spec = &prep.spec;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(spec.name.clone(), theme.style(Meaning::Title)),
            Span::raw("  "),
            Span::styled(spec.id.clone(), theme.style(Meaning::Muted)),
            Span::raw("  "),
            severity_span(spec.severity, theme),
        ]),
        Line::from(vec![
            Span::styled("target  ", theme.style(Meaning::Muted)),
            Span::raw(prep.target.clone()),
        ]),
        Line::from(vec![
            Span::styled("ttl     ", theme.style(Meaning::Muted)),
            Span::raw(humantime::format_duration(spec.ttl.as_duration()).to_string()),
            Span::styled("   recover within ", theme.style(Meaning::Muted)),
            Span::raw(
                humantime::format_duration(spec.expect.recover_within.as_duration()).to_string(),
            ),
        ]),
    ];
    if prep.params.is_empty() {
        lines.push(Line::styled("no parameters", theme.style(Meaning::Muted)));
    }
    for (i, row) in prep.params.iter().enumerate() {
        let selected = i == prep.selected && prep.stage == super::prepare::Stage::Edit;
        let marker = if selected { "▶ " } else { "  " };
        let value = match (&prep.editing, selected) {
            (Some(area), true) => format!("{}▏", area.lines().join("")),
            _ => row.value.clone(),
        };
        let value_style = match selected {
            true => theme.style(Meaning::Selected),
            false => theme.style(Meaning::Text),
        };
        lines.push(Line::from(vec![
            Span::raw(marker),
            Span::styled(format!("{} = ", row.name), theme.style(Meaning::Muted)),
            Span::styled(value, value_style),
            Span::styled(format!("  {}", row.help), theme.style(Meaning::Muted)),
        ]));
    }
    Paragraph::new(lines)
        .block(block(" fault ", theme))
        .render(area, buf);
}

fn render_preflight(
    prep: &PrepareState,
    live: Option<&LiveState>,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let mut lines: Vec<Line> = Vec::new();
    match (prep.stage, live) {
        (Stage::Queued, _) => {
            lines.push(Line::styled(
                "Preflight starts once the last run has ended. Esc: do not start it.",
                theme.style(Meaning::Muted),
            ));
        }
        (Stage::Edit, _) | (_, None) => {
            lines.push(Line::styled(
                "Enter runs preflight: targets reachable, steady state holding, no fault left on.",
                theme.style(Meaning::Muted),
            ));
        }
        (_, Some(live)) => {
            let steady: Vec<_> = live.probes.iter().filter(|p| p.steady_state).collect();
            if steady.is_empty() {
                lines.push(Line::styled(
                    "no steady-state probes: recovery will not be measured",
                    theme.style(Meaning::FlashError),
                ));
            }
            for probe in steady {
                let (mark, meaning, detail) = match &probe.last {
                    Some(r) if r.up => (
                        "✔",
                        Meaning::ProbeUp,
                        format!("{} ms", r.latency.as_millis()),
                    ),
                    Some(r) => ("✗", Meaning::ProbeDown, r.detail.clone()),
                    None => ("…", Meaning::ProbeUnknown, "waiting".to_string()),
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{mark} "), theme.style(meaning)),
                    Span::raw(format!("{:<16} ", probe.name)),
                    Span::styled(detail, theme.style(Meaning::Muted)),
                ]));
            }
            if !live.blast_radius.is_empty() {
                lines.push(Line::styled("blast radius", theme.style(Meaning::Title)));
                for text in &live.blast_radius {
                    lines.push(Line::raw(format!("  {text}")));
                }
            }
        }
    }
    if let Some(why) = &prep.stopped {
        lines.push(Line::styled(
            format!("stopped: {why}"),
            theme.style(Meaning::FlashError),
        ));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(block(" preflight ", theme))
        .render(area, buf);
}

fn render_gate(
    prep: &PrepareState,
    lines: Vec<Line<'static>>,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    if prep.gate.is_none() {
        let text = match prep.stage {
            Stage::Preflight => "preflight running…",
            Stage::Queued => "preflight waits for the last run to end…",
            Stage::Edit | Stage::Gate => "the gate opens after preflight",
        };
        Paragraph::new(Line::styled(text, theme.style(Meaning::Muted)))
            .block(block(" gate ", theme))
            .render(area, buf);
        return;
    }
    Paragraph::new(lines)
        .block(block(" gate ", theme).border_style(theme.style(Meaning::GatePrompt)))
        .render(area, buf);
}

/// The open gate's lines, wrapped to `width` columns: what goes into what (the
/// target whole, on as many lines as it takes), what to do, what is typed, and for
/// the critical gate its countdown, then what to type, then that Enter injects.
fn gate_lines(prep: &PrepareState, now: Instant, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let Some(gate) = &prep.gate else {
        return Vec::new();
    };
    let width = usize::from(width.max(1));
    let severity = gate.severity.as_str();
    let what = format!(
        "{severity} gate: inject {} into {}",
        prep.spec.id, prep.target
    );
    let mut lines: Vec<Line<'static>> = wrap_lines(&what, width)
        .into_iter()
        .enumerate()
        .map(|(i, row)| match (i, row.strip_prefix(severity)) {
            (0, Some(rest)) => Line::from(vec![
                severity_span(gate.severity, theme),
                Span::raw(rest.to_string()),
            ]),
            _ => Line::raw(row),
        })
        .collect();
    let ask = match &gate.kind {
        GateKind::Enter => "Press Enter to inject. Any other key cancels.".to_string(),
        GateKind::Yes => "Press y to inject. Any other key cancels.".to_string(),
        GateKind::TypeFaultId(id) => format!("Type the fault id \"{id}\" and Enter. Esc cancels."),
        GateKind::TypeTargetName(name) => {
            format!("Type the target's name \"{name}\", then Enter once armed. Esc cancels.")
        }
    };
    for row in wrap_lines(&ask, width) {
        lines.push(Line::styled(row, theme.style(Meaning::GatePrompt)));
    }
    if matches!(
        gate.kind,
        GateKind::TypeFaultId(_) | GateKind::TypeTargetName(_)
    ) {
        lines.push(Line::from(vec![
            Span::styled("> ", theme.style(Meaning::GatePrompt)),
            Span::styled(format!("{}▏", gate.typed), theme.style(Meaning::Text)),
        ]));
    }
    if let GateKind::TypeTargetName(name) = &gate.kind {
        let left = gate.arming_left(now);
        let line = match (left.is_zero(), gate.word_matches()) {
            (false, _) => Line::styled(
                format!("arming… {:.1} s", left.as_secs_f64()),
                theme.style(Meaning::GateArming),
            ),
            (true, false) => Line::styled(
                format!("armed: type {name}, then Enter"),
                theme.style(Meaning::GatePrompt),
            ),
            (true, true) => {
                Line::styled(" ARMED — Enter injects ", theme.style(Meaning::GateArmed))
            }
        };
        lines.push(line);
    }
    lines
}
