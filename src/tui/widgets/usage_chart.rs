//! A usage chart: one or more series in percent (host memory, disk, CPU; a
//! container's CPU) or in bytes (a container's memory), latest values in the title.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::chart_frame::{self, ChartWindow, Trace, ValueAxis};
use crate::tui::live::SeriesBuffer;
use crate::tui::theme::{Meaning, Theme};

/// What the values count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// 0 to 100, or more (a container's CPU over several cores).
    Percent,
    Bytes,
}

/// One line of a usage chart.
#[derive(Debug, Clone, Copy)]
pub struct UsageLine<'a> {
    pub label: &'a str,
    pub series: Option<&'a SeriesBuffer>,
    pub meaning: Meaning,
}

impl UsageLine<'_> {
    /// Whether the line has any reading.
    pub fn has_data(&self) -> bool {
        self.series.is_some_and(|s| !s.is_empty())
    }
}

/// Draws a usage pane titled `title` (cut to fit) into `area`.
pub fn render(
    title: &str,
    unit: Unit,
    lines: &[UsageLine<'_>],
    window: ChartWindow,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let mut legend = Vec::new();
    for line in lines {
        let value = line
            .series
            .and_then(SeriesBuffer::latest)
            .map_or("–".to_string(), |v| format_value(unit, v));
        legend.extend(chart_frame::legend(
            line.label,
            value,
            theme.style(line.meaning),
        ));
    }
    let legend_width: usize = legend.iter().map(Span::width).sum();
    let room = usize::from(area.width.saturating_sub(5)).saturating_sub(legend_width);
    // A chart of several lines whose legend fills the top border goes untitled:
    // the legend names its lines.
    let mut spans = Vec::new();
    if room >= 6 || lines.len() < 2 {
        spans.push(Span::styled(
            format!(" {} ", crate::tui::fit::cut(title, room.max(6))),
            theme.style(Meaning::Title),
        ));
    }
    spans.extend(legend);
    spans.push(Span::raw(" "));
    let traces: Vec<Trace<'_>> = lines
        .iter()
        .map(|l| Trace {
            points: l.series.map_or(&[][..], SeriesBuffer::points),
            style: theme.style(l.meaning),
        })
        .collect();
    let peak = lines
        .iter()
        .filter_map(|l| l.series.and_then(|s| s.peak_since(window.from)))
        .fold(0.0_f64, f64::max);
    chart_frame::draw(
        Line::from(spans),
        &traces,
        &axis(unit, peak),
        window,
        theme,
        area,
        buf,
    );
}

fn axis(unit: Unit, peak: f64) -> ValueAxis {
    match unit {
        Unit::Percent => {
            let top = peak.max(100.0).ceil();
            ValueAxis {
                bounds: [0.0, top],
                labels: ["0%".to_string(), format!("{top:.0}%")],
            }
        }
        Unit::Bytes => {
            let top = (peak * 1.2).max(1024.0 * 1024.0);
            ValueAxis {
                bounds: [0.0, top],
                labels: ["0".to_string(), bytes(top)],
            }
        }
    }
}

fn format_value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Percent => format!("{value:.0}%"),
        Unit::Bytes => bytes(value),
    }
}

/// Bytes in binary units, one decimal below 10: `512 KiB`, `1.5 GiB`.
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = value.max(0.0);
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 && unit > 0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0 * 1024.0 * 1024.0), "1.5 GiB");
        assert_eq!(bytes(300.0 * 1024.0 * 1024.0), "300 MiB");
    }

    #[test]
    fn percent_axis_grows_past_100_only_when_needed() {
        assert_eq!(axis(Unit::Percent, 40.0).bounds, [0.0, 100.0]);
        assert_eq!(axis(Unit::Percent, 180.4).labels[1], "181%");
    }
}
