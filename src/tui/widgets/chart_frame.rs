//! What every dashboard chart shares: the time window, thinning a series down to
//! the chart's resolution, the pane around it and ratatui's `Chart` itself.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Widget};

use super::text;
use crate::tui::theme::{Meaning, Theme};

/// The span of run time a chart shows, in seconds since the run started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartWindow {
    pub from: f64,
    pub to: f64,
}

impl ChartWindow {
    /// The shortest span a chart shows, so the first seconds are not stretched.
    pub const MIN_SPAN: f64 = 60.0;

    /// The last `history` seconds up to `elapsed`.
    pub fn ending_at(elapsed: f64, history: f64) -> ChartWindow {
        let to = elapsed.max(Self::MIN_SPAN);
        ChartWindow {
            from: (to - history).max(0.0),
            to,
        }
    }
}

/// One line of a chart: its points (sorted by time) and its style.
#[derive(Debug, Clone, Copy)]
pub struct Trace<'a> {
    pub points: &'a [(f64, f64)],
    pub style: Style,
}

/// The value axis: bounds and the two labels at its ends.
#[derive(Debug, Clone)]
pub struct ValueAxis {
    pub bounds: [f64; 2],
    pub labels: [String; 2],
}

/// A bordered pane with `title` around a line chart of `traces` over `window`.
/// Shows "waiting for the first reading" while no trace has a point.
pub fn draw(
    title: Line<'_>,
    traces: &[Trace<'_>],
    y: &ValueAxis,
    window: ChartWindow,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let block = Block::bordered()
        .border_style(theme.style(Meaning::Border))
        .title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 8 || inner.height < 2 {
        return;
    }
    if traces.iter().all(|t| t.points.is_empty()) {
        let y = inner.y + (inner.height - 1) / 2;
        let note = "waiting for the first reading";
        text::put(
            buf,
            inner.x + 1,
            y,
            note,
            inner.width - 1,
            theme.style(Meaning::Muted),
        );
        return;
    }
    let columns = usize::from(inner.width) * 2;
    let thinned: Vec<Vec<(f64, f64)>> = traces
        .iter()
        .map(|t| thin(t.points, window, columns))
        .collect();
    let datasets: Vec<Dataset<'_>> = traces
        .iter()
        .zip(&thinned)
        .map(|(trace, points)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(trace.style)
                .data(points)
        })
        .collect();
    let axis_style = theme.style(Meaning::ChartAxis);
    let mut x_axis = Axis::default()
        .bounds([window.from, window.to])
        .style(axis_style)
        .labels_alignment(Alignment::Right);
    if inner.height >= 6 {
        let label = |secs: f64| Span::styled(format!("+{}", clock_secs(secs)), axis_style);
        x_axis = x_axis.labels([label(window.from), label(window.to)]);
    }
    let y_axis = Axis::default()
        .bounds(y.bounds)
        .style(axis_style)
        .labels(y.labels.iter().map(|l| Span::styled(l.clone(), axis_style)));
    Chart::new(datasets)
        .x_axis(x_axis)
        .y_axis(y_axis)
        .legend_position(None)
        .render(inner, buf);
}

/// A legend entry for a title: ` label value ` in the trace's style.
/// An empty label leaves the value alone.
pub fn legend<'a>(label: &str, value: String, style: Style) -> [Span<'a>; 2] {
    let label = if label.is_empty() {
        " ".to_string()
    } else {
        format!(" {label} ")
    };
    [Span::styled(label, style), Span::styled(value, style)]
}

fn clock_secs(secs: f64) -> String {
    text::clock(std::time::Duration::from_secs_f64(secs.max(0.0)))
}

/// The points of `points` inside `window`, thinned to at most two per column
/// (the lowest and the highest, in time order) so a spike stays visible and a long
/// history costs no more to draw than the chart is wide.
pub fn thin(points: &[(f64, f64)], window: ChartWindow, columns: usize) -> Vec<(f64, f64)> {
    let first = points
        .partition_point(|p| p.0 < window.from)
        .saturating_sub(1);
    let visible = &points[first..];
    if columns == 0 || visible.len() <= columns * 2 {
        return visible.to_vec();
    }
    let span = (window.to - window.from).max(f64::EPSILON);
    let bucket_of = |t: f64| (((t - window.from) / span) * columns as f64).floor() as i64;
    let mut out = Vec::with_capacity(columns * 2 + 2);
    // The column being filled, with its lowest and highest point.
    let mut current: Option<(i64, Point, Point)> = None;
    for &p in visible {
        let bucket = bucket_of(p.0);
        current = match current {
            Some((b, lo, hi)) if b == bucket => {
                let lo = if p.1 < lo.1 { p } else { lo };
                let hi = if p.1 > hi.1 { p } else { hi };
                Some((b, lo, hi))
            }
            Some((_, lo, hi)) => {
                push_pair(&mut out, lo, hi);
                Some((bucket, p, p))
            }
            None => Some((bucket, p, p)),
        };
    }
    if let Some((_, lo, hi)) = current {
        push_pair(&mut out, lo, hi);
    }
    out
}

/// One reading: seconds since the run started, value.
type Point = (f64, f64);

fn push_pair(out: &mut Vec<Point>, lo: Point, hi: Point) {
    if lo == hi {
        out.push(lo);
    } else if lo.0 <= hi.0 {
        out.extend([lo, hi]);
    } else {
        out.extend([hi, lo]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_spikes_and_bounds_the_count() {
        let mut points: Vec<(f64, f64)> = (0..2400).map(|i| (i as f64 / 4.0, 10.0)).collect();
        points[1000].1 = 99.0;
        let window = ChartWindow {
            from: 0.0,
            to: 600.0,
        };
        let thinned = thin(&points, window, 100);
        assert!(thinned.len() <= 202, "{} points", thinned.len());
        assert!(thinned.iter().any(|p| p.1 == 99.0), "the spike was lost");
        assert!(thinned.windows(2).all(|w| w[0].0 <= w[1].0), "out of order");
    }

    #[test]
    fn short_series_are_left_alone_from_the_edge_on() {
        let points = [(1.0, 1.0), (50.0, 2.0), (70.0, 3.0)];
        let window = ChartWindow::ending_at(70.0, 600.0);
        assert_eq!(
            window,
            ChartWindow {
                from: 0.0,
                to: 70.0
            }
        );
        assert_eq!(thin(&points, window, 10), points.to_vec());
        let late = ChartWindow {
            from: 60.0,
            to: 70.0,
        };
        assert_eq!(thin(&points, late, 10), vec![(50.0, 2.0), (70.0, 3.0)]);
    }
}
