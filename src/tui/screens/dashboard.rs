//! The live dashboard: header, sampler problems, charts of the last minutes, the
//! probe table and the event timeline. At 80 columns two charts share a row and
//! the probes sit above the timeline; from 120 columns every host series has its
//! own chart, containers get a second row, and probes and timeline sit side by side.
//! The app's hint bar and banner are drawn around `area` by the caller.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use tokio::time::Instant;

use crate::tui::live::LiveState;
use crate::tui::theme::{Meaning, Theme};
use crate::tui::widgets::chart_frame::ChartWindow;
use crate::tui::widgets::connections_chart::{self, ConnectionsSeries};
use crate::tui::widgets::usage_chart::{self, Unit, UsageLine};
use crate::tui::widgets::{probe_table, run_header, text, timeline};

/// From this width on, the dashboard uses the wide layout.
pub const WIDE: u16 = 120;

/// Sampler problems shown at most, one line each.
const STATUS_LINES: usize = 2;

/// Draws the dashboard of `live` as it stands at `now`.
pub fn render(live: &LiveState, now: Instant, theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.width < 10 || area.height == 0 {
        return;
    }
    let header_h = run_header::HEIGHT.min(area.height);
    let [header, rest] =
        Layout::vertical([Constraint::Length(header_h), Constraint::Fill(1)]).areas(area);
    run_header::render(live, now, theme, header, buf);
    let status = status_lines(live, now);
    let status_h = (status.len() as u16).min(rest.height);
    let [status_area, body] =
        Layout::vertical([Constraint::Length(status_h), Constraint::Fill(1)]).areas(rest);
    for (i, (line, meaning)) in status.iter().enumerate().take(usize::from(status_h)) {
        let y = status_area.y + i as u16;
        text::put(
            buf,
            status_area.x,
            y,
            line,
            status_area.width,
            theme.style(*meaning),
        );
    }
    render_body(live, now, theme, body, buf);
}

/// Sampler errors (charts keep their old points meanwhile) and, while the gate is
/// asked for, the blast radius.
fn status_lines(live: &LiveState, now: Instant) -> Vec<(String, Meaning)> {
    let mut lines: Vec<(String, Meaning)> = live
        .sampler_errors
        .iter()
        .map(|(source, error)| {
            let when = match error.last_reading {
                Some(at) => format!(
                    "last reading {} ago",
                    text::ago(now.saturating_duration_since(at))
                ),
                None => "no reading yet".to_string(),
            };
            (
                format!("{source}: {} — {when}", error.message),
                Meaning::FlashError,
            )
        })
        .collect();
    if lines.len() > STATUS_LINES {
        let more = lines.len() - (STATUS_LINES - 1);
        lines.truncate(STATUS_LINES - 1);
        lines.push((
            format!("and {more} more samplers failing"),
            Meaning::FlashError,
        ));
    }
    if live.gate_needed && !live.blast_radius.is_empty() {
        let radius = live.blast_radius.join("; ");
        lines.push((format!("blast radius: {radius}"), Meaning::GatePrompt));
    }
    lines
}

fn render_body(live: &LiveState, now: Instant, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let wide = area.width >= WIDE;
    let containers = live.containers();
    let chart_h = match (area.height, wide, containers.is_empty()) {
        (0..10, _, _) => 0,
        (h, false, _) => (h * 2 / 5).clamp(6, 12),
        (h, true, true) => (h / 2).clamp(8, 24),
        (h, true, false) => (h * 3 / 5).clamp(12, 32),
    };
    let [charts, lower] =
        Layout::vertical([Constraint::Length(chart_h), Constraint::Fill(1)]).areas(area);
    let window = ChartWindow::ending_at(
        live.elapsed(now).as_secs_f64(),
        LiveState::HISTORY.as_secs_f64(),
    );
    if chart_h > 0 {
        let panels = panels(live, &containers, wide);
        render_panels(live, &panels, window, theme, charts, buf);
    }
    if wide {
        let [probes, events] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(lower);
        probe_table::render(&live.probes, theme, probes, buf);
        timeline::render(&live.timeline, theme, events, buf);
    } else {
        let want = live.probes.len().max(1) as u16 + 2;
        let probes_h = want
            .min(lower.height.saturating_sub(5))
            .max(3.min(lower.height));
        let [probes, events] =
            Layout::vertical([Constraint::Length(probes_h), Constraint::Fill(1)]).areas(lower);
        probe_table::render(&live.probes, theme, probes, buf);
        timeline::render(&live.timeline, theme, events, buf);
    }
}

/// One chart of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Panel<'a> {
    Connections,
    /// Host memory, disk and CPU in one chart (narrow screens).
    Host,
    HostMemory,
    HostDisk,
    HostCpu,
    ContainerCpu(&'a str),
    ContainerMemory(&'a str),
}

/// Which charts, by row. The connections chart is left out once other series have
/// come and PostgreSQL has not (a host or container fault without a database).
fn panels<'a>(live: &LiveState, containers: &[&'a str], wide: bool) -> Vec<Vec<Panel<'a>>> {
    let any = live.all_series().next().is_some();
    let connections = ConnectionsSeries::of(live).has_data() || !any;
    let mut first = Vec::new();
    if connections {
        first.push(Panel::Connections);
    }
    if !wide {
        if let Some(name) = containers.first() {
            first.push(Panel::ContainerCpu(name));
        }
        first.push(Panel::Host);
        first.truncate(2);
        return vec![first];
    }
    first.extend([Panel::HostMemory, Panel::HostDisk, Panel::HostCpu]);
    let second: Vec<Panel<'a>> = containers
        .iter()
        .take(2)
        .flat_map(|name| [Panel::ContainerCpu(name), Panel::ContainerMemory(name)])
        .collect();
    if second.is_empty() {
        vec![first]
    } else {
        vec![first, second]
    }
}

fn render_panels(
    live: &LiveState,
    rows: &[Vec<Panel<'_>>],
    window: ChartWindow,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let row_areas = Layout::vertical(rows.iter().map(|_| Constraint::Fill(1))).split(area);
    for (row, row_area) in rows.iter().zip(row_areas.iter()) {
        let widths = row.iter().map(|p| match p {
            Panel::Connections => Constraint::Fill(3),
            _ => Constraint::Fill(2),
        });
        let cells = Layout::horizontal(widths).split(*row_area);
        for (panel, cell) in row.iter().zip(cells.iter()) {
            render_panel(live, *panel, window, theme, *cell, buf);
        }
    }
}

fn render_panel(
    live: &LiveState,
    panel: Panel<'_>,
    window: ChartWindow,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let line = |label, series: &str, meaning| UsageLine {
        label,
        series: live.series(series),
        meaning,
    };
    let memory = line("mem", "host.memory_used_percent", Meaning::ChartMemory);
    let disk = line("disk", "host.disk_used_percent", Meaning::ChartDisk);
    let cpu = line("cpu", "host.cpu_percent", Meaning::ChartCpu);
    let usage = |title: &str, unit, lines: &[UsageLine<'_>], buf: &mut Buffer| {
        usage_chart::render(title, unit, lines, window, theme, area, buf);
    };
    match panel {
        Panel::Connections => {
            connections_chart::render(&ConnectionsSeries::of(live), window, theme, area, buf)
        }
        Panel::Host => usage("Host", Unit::Percent, &[memory, disk, cpu], buf),
        Panel::HostMemory => usage("Memory", Unit::Percent, &[unlabelled(memory)], buf),
        Panel::HostDisk => usage("Disk", Unit::Percent, &[unlabelled(disk)], buf),
        Panel::HostCpu => usage("CPU", Unit::Percent, &[unlabelled(cpu)], buf),
        Panel::ContainerCpu(name) => {
            let restarts = live
                .series(&format!("container.{name}.restarts"))
                .and_then(|s| s.latest())
                .map_or(String::new(), |r| format!(" · {r:.0} restarts"));
            let cpu = UsageLine {
                label: "cpu",
                series: live.series(&format!("container.{name}.cpu_percent")),
                meaning: Meaning::ChartContainer,
            };
            usage(&format!("{name}{restarts}"), Unit::Percent, &[cpu], buf);
        }
        Panel::ContainerMemory(name) => {
            let memory = UsageLine {
                label: "mem",
                series: live.series(&format!("container.{name}.memory_bytes")),
                meaning: Meaning::ChartContainer,
            };
            usage(name, Unit::Bytes, &[memory], buf);
        }
    }
}

/// A line alone in its chart: the title names it already.
fn unlabelled(line: UsageLine<'_>) -> UsageLine<'_> {
    UsageLine { label: "", ..line }
}
