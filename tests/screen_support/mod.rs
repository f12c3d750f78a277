//! Helpers for the console's snapshot tests: draw into a `TestBackend` buffer, turn
//! it into text for insta, and find text to assert the style of its cells.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Terminal;

/// The two sizes every screen is checked at.
pub const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// Draws with `draw` into a fresh `width`×`height` buffer.
pub fn draw(width: u16, height: u16, draw: impl FnOnce(Rect, &mut Buffer)) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| {
            let area = frame.area();
            draw(area, frame.buffer_mut());
        })
        .expect("draw");
    terminal.backend().buffer().clone()
}

/// The buffer's symbols, one line per row, trailing spaces trimmed.
pub fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Where `needle` first appears (column, row of its first character).
pub fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let area = buf.area;
    for y in 0..area.height {
        let mut line = String::new();
        let mut columns = Vec::new();
        for x in 0..area.width {
            let symbol = buf[(x, y)].symbol();
            for _ in symbol.chars() {
                columns.push(x);
            }
            line.push_str(symbol);
        }
        if let Some(byte) = line.find(needle) {
            let chars_before = line[..byte].chars().count();
            return Some((columns[chars_before], y));
        }
    }
    None
}

/// The style of the cell where `needle` begins; panics with the screen when absent.
pub fn style_of(buf: &Buffer, needle: &str) -> Style {
    let Some((x, y)) = find(buf, needle) else {
        panic!("\"{needle}\" is not on screen:\n{}", text(buf));
    };
    buf[(x, y)].style()
}

/// `style` as a drawn cell reports it: unset colours read back as `Color::Reset`.
pub fn drawn(style: Style) -> Style {
    use ratatui::style::{Color, Modifier};
    Style {
        fg: Some(style.fg.unwrap_or(Color::Reset)),
        bg: Some(style.bg.unwrap_or(Color::Reset)),
        underline_color: Some(style.underline_color.unwrap_or(Color::Reset)),
        add_modifier: style.add_modifier,
        sub_modifier: Modifier::empty(),
    }
}
