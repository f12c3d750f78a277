//! Small text helpers the dashboard widgets share: writing text cut to a width, and
//! the clock formats of the header and the timeline.

use std::time::Duration;

use crate::tui::fit::cut;
use ratatui::buffer::Buffer;
use ratatui::style::Style;

/// Writes `text` at (`x`, `y`) cut to `max` cells; returns the cells used. Control
/// characters (a newline in a probe's detail) become spaces so nothing wraps.
pub fn put(buf: &mut Buffer, x: u16, y: u16, text: &str, max: u16, style: Style) -> u16 {
    let area = buf.area;
    if max == 0 || y < area.top() || y >= area.bottom() || x >= area.right() {
        return 0;
    }
    let max = max.min(area.right() - x);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clipped = cut(&flat, usize::from(max));
    let (end, _) = buf.set_stringn(x, y, &clipped, usize::from(max), style);
    end.saturating_sub(x)
}

/// A duration as `mm:ss`, or `h:mm:ss` from an hour on.
pub fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// A timeline offset as `+m:ss.s`.
pub fn offset(ms: u64) -> String {
    let tenths = ms / 100;
    let (m, s, t) = (tenths / 600, tenths / 10 % 60, tenths % 10);
    format!("+{m}:{s:02}.{t}")
}

/// How long ago, in words short enough for a status line: `3 s`, `2 min`, `1 h`.
pub fn ago(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_as_an_operator_expects() {
        assert_eq!(clock(Duration::from_secs(192)), "03:12");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(offset(63_250), "+1:03.2");
        assert_eq!(offset(0), "+0:00.0");
        assert_eq!(ago(Duration::from_secs(3)), "3 s");
        assert_eq!(ago(Duration::from_secs(600)), "10 min");
    }

    #[test]
    fn put_stays_inside_the_buffer() {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 5, 1));
        assert_eq!(put(&mut buf, 3, 0, "hello", 10, Style::default()), 2);
        assert_eq!(put(&mut buf, 9, 0, "hello", 10, Style::default()), 0);
        assert_eq!(put(&mut buf, 0, 4, "hello", 10, Style::default()), 0);
        assert_eq!(buf[(3, 0)].symbol(), "h");
        assert_eq!(buf[(4, 0)].symbol(), "…");
    }
}
