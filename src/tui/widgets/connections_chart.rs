//! PostgreSQL connections over time: total and active against `max_connections`,
//! with the latest of each in the title.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::chart_frame::{self, ChartWindow, Trace, ValueAxis};
use crate::tui::live::{LiveState, SeriesBuffer};
use crate::tui::theme::{Meaning, Theme};

/// The series the chart draws; any may be missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionsSeries<'a> {
    pub total: Option<&'a SeriesBuffer>,
    pub active: Option<&'a SeriesBuffer>,
    pub max: Option<&'a SeriesBuffer>,
}

impl<'a> ConnectionsSeries<'a> {
    /// The `pg.connections.*` and `pg.max_connections` series of `live`.
    pub fn of(live: &'a LiveState) -> ConnectionsSeries<'a> {
        ConnectionsSeries {
            total: live.series("pg.connections.total"),
            active: live.series("pg.connections.active"),
            max: live.series("pg.max_connections"),
        }
    }

    /// Whether any reading came yet.
    pub fn has_data(&self) -> bool {
        [self.total, self.active, self.max]
            .iter()
            .any(|s| s.is_some_and(|s| !s.is_empty()))
    }
}

fn points(series: Option<&SeriesBuffer>) -> &[(f64, f64)] {
    series.map_or(&[], SeriesBuffer::points)
}

/// Draws the connections pane into `area`.
pub fn render(
    series: &ConnectionsSeries<'_>,
    window: ChartWindow,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let total_style = theme.style(Meaning::ChartConnections);
    let active_style = theme.style(Meaning::Text);
    let max_style = theme.style(Meaning::ChartMaxConnections);
    let name = if area.width >= 60 {
        "PostgreSQL connections"
    } else {
        "Connections"
    };
    let mut title = vec![Span::styled(
        format!(" {name} "),
        theme.style(Meaning::Title),
    )];
    let latest = |s: Option<&SeriesBuffer>| {
        s.and_then(SeriesBuffer::latest)
            .map_or("–".to_string(), |v| format!("{v:.0}"))
    };
    title.extend(chart_frame::legend(
        "total",
        latest(series.total),
        total_style,
    ));
    title.extend(chart_frame::legend(
        "active",
        latest(series.active),
        active_style,
    ));
    title.extend(chart_frame::legend("max", latest(series.max), max_style));
    title.push(Span::raw(" "));

    let traces = [
        Trace {
            points: points(series.max),
            style: max_style,
        },
        Trace {
            points: points(series.total),
            style: total_style,
        },
        Trace {
            points: points(series.active),
            style: active_style,
        },
    ];
    let peak = [series.total, series.active, series.max]
        .iter()
        .filter_map(|s| s.and_then(|s| s.peak_since(window.from)))
        .fold(1.0_f64, f64::max);
    let top = (peak * 11.0 / 10.0).ceil();
    let axis = ValueAxis {
        bounds: [0.0, top],
        labels: ["0".to_string(), format!("{top:.0}")],
    };
    chart_frame::draw(Line::from(title), &traces, &axis, window, theme, area, buf);
}
