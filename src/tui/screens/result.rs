//! The result screen: the verdict of a finished run, big and in words, with its
//! reasons, the measured times, each teardown step verified or residual, and where the
//! report went. It says what the headless CLI's result block says.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use super::severity_span;
use crate::engine::record::{Outcome, Recovery, RecoveryAnchor, RunRecord, TeardownStep, Verdict};
use crate::report::mask_text;
use crate::tui::fit::{cut_line, ms, width, wrap};
use crate::tui::theme::{Meaning, Theme};

/// Width of the label column (`time to recover  `).
const LABEL: usize = 17;

/// Where `e` wrote the run's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPaths {
    pub markdown: PathBuf,
    pub json: PathBuf,
}

/// The report as the screen knows it: `None` before `e`, the paths once written, or
/// the error that stopped the write.
pub type ReportState = Result<ReportPaths, String>;

/// Draws the result of `record` into `area`, `scroll` lines down (clamped so the last
/// line stays at the bottom).
pub fn render(
    record: &RunRecord,
    report: Option<&ReportState>,
    scroll: u16,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Meaning::Border))
        .title(Span::styled(
            format!(
                " Result · run {} · started {} ",
                record.run_id, record.started_at
            ),
            theme.style(Meaning::Title),
        ));
    let inner = block.inner(area);
    let lines = lines(record, report, theme, usize::from(inner.width));
    let total = lines.len();
    let visible = usize::from(inner.height);
    let first = usize::from(scroll).min(total.saturating_sub(visible));
    let block = if total > visible && visible > 0 {
        let last = (first + visible).min(total);
        block.title_bottom(
            Line::styled(
                format!(" lines {}–{last} of {total} ", first + 1),
                theme.style(Meaning::Muted),
            )
            .alignment(Alignment::Right),
        )
    } else {
        block
    };
    block.render(area, buf);
    for (y, line) in (inner.y..inner.bottom()).zip(lines.into_iter().skip(first)) {
        buf.set_line(inner.x, y, &line, inner.width);
    }
}

/// The largest useful `scroll` for `area`: 0 when everything fits.
pub fn max_scroll(record: &RunRecord, report: Option<&ReportState>, area: Rect) -> u16 {
    let inner = Block::default().borders(Borders::ALL).inner(area);
    let total = lines(record, report, &Theme::default(), usize::from(inner.width)).len();
    u16::try_from(total.saturating_sub(usize::from(inner.height))).unwrap_or(u16::MAX)
}

/// Every line of the screen, each cut or wrapped to `max` cells.
fn lines(
    record: &RunRecord,
    report: Option<&ReportState>,
    theme: &Theme,
    max: usize,
) -> Vec<Line<'static>> {
    let muted = theme.style(Meaning::Muted);
    let mut out = verdict_box(&record.verdict, theme);
    for reason in &record.verdict.reasons {
        push_wrapped(
            &mut out,
            "  • ",
            &mask_text(reason),
            theme.style(Meaning::Text),
            max,
        );
    }
    out.push(Line::default());
    out.extend(facts(record, theme));
    out.push(Line::default());
    out.push(Line::styled("Teardown", theme.style(Meaning::Title)));
    if record.teardown.is_empty() {
        out.push(Line::styled("  no steps: nothing was injected", muted));
    }
    for step in &record.teardown {
        teardown_step(&mut out, step, theme, max);
    }
    out.push(Line::default());
    report_lines(&mut out, report, theme, max);
    out.into_iter().map(|line| cut_line(line, max)).collect()
}

/// The verdict word in a box of its colour, and what it means in a phrase.
fn verdict_box(verdict: &Verdict, theme: &Theme) -> Vec<Line<'static>> {
    let word = verdict.word();
    let (meaning, phrase) = match verdict.outcome {
        Outcome::Pass => (Meaning::VerdictPass, "the expectation held"),
        Outcome::Fail if word == "INTERRUPTED" => (
            Meaning::VerdictFail,
            "stopped before its recovery was watched: the expectation was not judged",
        ),
        Outcome::Fail => (
            Meaning::VerdictFail,
            "the fault ran and was torn down, but the expectation did not hold",
        ),
        Outcome::Aborted => (Meaning::VerdictFail, "stopped before injecting"),
        Outcome::TeardownFailed => (
            Meaning::VerdictFail,
            "teardown not verified: something may still be on",
        ),
    };
    let style = theme.style(meaning);
    let bar = "─".repeat(word.len() + 2);
    vec![
        Line::styled(format!("╭{bar}╮"), style),
        Line::from(vec![
            Span::styled(format!("│ {word} │"), style),
            Span::styled(format!("  {phrase}"), theme.style(Meaning::Text)),
        ]),
        Line::styled(format!("╰{bar}╯"), style),
    ]
}

/// Fault, target, who approved, why it ended, the times and the restarts.
/// The time to recover counted `from` its anchor, or why there is none.
fn recovered(record: &RunRecord, from: &str, theme: &Theme) -> Vec<Span<'static>> {
    let text = theme.style(Meaning::Text);
    let why = match record.recovery() {
        Recovery::NotWatched => "not watched (the run was stopped first)",
        Recovery::NotMeasured => "not measured (no steady-state probe)",
        _ => {
            let expected = format!(
                " ({from}; expected within {})",
                ms(Some(record.fault.recover_within_ms))
            );
            return vec![
                Span::styled(ms(record.timings.time_to_recover_ms), text),
                Span::styled(expected, theme.style(Meaning::Muted)),
            ];
        }
    };
    vec![Span::styled(why, text)]
}

fn facts(record: &RunRecord, theme: &Theme) -> Vec<Line<'static>> {
    let t = &record.timings;
    let v = &record.verdict;
    let from = match t.recovery_from {
        RecoveryAnchor::TeardownDone => "from teardown done",
        RecoveryAnchor::Injection => "from injection",
    };
    let expected = if record.fault.expect_impact.is_empty() {
        String::new()
    } else {
        format!(" (expected on {})", record.fault.expect_impact.join(", "))
    };
    let impact = match v.impact_seen {
        Some(true) => format!("yes{expected}"),
        Some(false) => format!("no{expected}"),
        None if expected.is_empty() => "none expected".to_string(),
        None => format!("not measured{expected}"),
    };
    let mut lines = vec![
        fact_text(
            "fault",
            &format!("{} ({})", record.fault.id, record.fault.name),
            theme,
        ),
        fact(
            "severity",
            vec![severity_span(record.fault.severity, theme)],
            theme,
        ),
        fact_text("target", &mask_text(&record.target), theme),
    ];
    if let Some(approval) = record.approvals.first() {
        lines.push(fact_text("approved by", &approval.by, theme));
    }
    lines.extend([
        fact_text("ended by", &v.ended_by, theme),
        fact_text("time to impact", &ms(t.time_to_impact_ms), theme),
        fact_text("teardown", &ms(t.teardown_ms), theme),
        fact("time to recover", recovered(record, from, theme), theme),
        fact_text("impact seen", &impact, theme),
    ]);
    if !t.restarts.is_empty() {
        let restarts: Vec<String> = t.restarts.iter().map(|(n, c)| format!("{n} {c}")).collect();
        lines.push(fact_text("restarts", &restarts.join(", "), theme));
    }
    lines
}

fn fact(label: &str, value: Vec<Span<'static>>, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("{label:<LABEL$}"),
        theme.style(Meaning::Muted),
    )];
    spans.extend(value);
    Line::from(spans)
}

fn fact_text(label: &str, value: &str, theme: &Theme) -> Line<'static> {
    fact(
        label,
        vec![Span::styled(value.to_string(), theme.style(Meaning::Text))],
        theme,
    )
}

/// `verified  fault action`, or `residual  fault action` and what is still wrong,
/// wrapped under it.
fn teardown_step(out: &mut Vec<Line<'static>>, step: &TeardownStep, theme: &Theme, max: usize) {
    let (word, meaning) = if step.verified {
        ("verified", Meaning::Verified)
    } else {
        ("residual", Meaning::Residual)
    };
    out.push(Line::from(vec![
        Span::raw("  "),
        Span::styled(word, theme.style(meaning)),
        Span::styled(
            format!("  {} {}", step.fault, step.action),
            theme.style(Meaning::Text),
        ),
    ]));
    if step.verified {
        return;
    }
    let result = mask_text(&step.result);
    let what = if let Some(why) = result.strip_prefix("residual: ") {
        why.to_string()
    } else if let Some(why) = result.strip_prefix("failed: ") {
        format!("undo failed: {why}")
    } else {
        result
    };
    push_wrapped(
        out,
        "            ",
        &what,
        theme.style(Meaning::Residual),
        max,
    );
}

/// `text` wrapped to `max` cells after `indent`, continuation lines indented alike.
fn push_wrapped(out: &mut Vec<Line<'static>>, indent: &str, text: &str, style: Style, max: usize) {
    let room = max.saturating_sub(width(indent));
    let pad = " ".repeat(width(indent));
    for (i, piece) in wrap(text, room).into_iter().enumerate() {
        let lead = if i == 0 {
            indent.to_string()
        } else {
            pad.clone()
        };
        out.push(Line::from(vec![
            Span::raw(lead),
            Span::styled(piece, style),
        ]));
    }
}

/// Where the report went, why it could not be written, or the key that writes it.
fn report_lines(
    out: &mut Vec<Line<'static>>,
    report: Option<&ReportState>,
    theme: &Theme,
    max: usize,
) {
    match report {
        None => out.push(Line::from(vec![
            Span::styled("e", theme.style(Meaning::HintKey)),
            Span::styled(
                " writes the report (Markdown and JSON)",
                theme.style(Meaning::Muted),
            ),
        ])),
        Some(Ok(paths)) => {
            let where_ = format!("{} and {}", paths.markdown.display(), paths.json.display());
            push_wrapped(out, "report: ", &where_, theme.style(Meaning::Text), max);
        }
        Some(Err(error)) => {
            let text = format!("report not written: {}", mask_text(error));
            push_wrapped(out, "", &text, theme.style(Meaning::FlashError), max);
        }
    }
}
