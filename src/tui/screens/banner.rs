//! The red banner shown above every screen while faults of earlier runs are still on
//! (dangling in the journal), with the key that tears them down.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::engine::journal::Dangling;
use crate::tui::fit::{cut, width};
use crate::tui::theme::{Meaning, Theme};

/// The key that tears dangling faults down, as the banner names it.
pub const TEARDOWN_KEY: &str = "D";

/// Rows the banner needs: 1 while anything is dangling, else 0.
pub fn height(dangling: &[Dangling]) -> u16 {
    u16::from(!dangling.is_empty())
}

/// Draws the banner on the first row of `area`; nothing when nothing is dangling.
pub fn render(dangling: &[Dangling], theme: &Theme, area: Rect, buf: &mut Buffer) {
    if dangling.is_empty() || area.width == 0 || area.height == 0 {
        return;
    }
    let row = Rect { height: 1, ..area };
    let style = theme.style(Meaning::Banner);
    buf.set_style(row, style);
    let pad = u16::from(row.width > 1);
    let room = usize::from(row.width - pad);
    let text = message(dangling, room);
    buf.set_stringn(row.x + pad, row.y, text, room, style);
}

/// The banner's words, made to fit `max` cells: "from earlier runs" goes first, then
/// the fault names are cut, then dropped, then the key hint is shortened.
pub fn message(dangling: &[Dangling], max: usize) -> String {
    let (count, names) = faults(dangling);
    let (faults, them, earlier) = if count == 1 {
        ("fault", "it", "from an earlier run")
    } else {
        ("faults", "them", "from earlier runs")
    };
    let short = format!("⚠ {count} {faults} still on");
    let tail = format!(" — press {TEARDOWN_KEY} to tear {them} down");
    let list = names.join(", ");
    let full = format!("{short} {earlier} ({list}){tail}");
    if width(&full) <= max {
        return full;
    }
    let room = max.saturating_sub(width(&short) + width(&tail) + 3);
    if room >= 8 || (room > 0 && width(&list) <= room) {
        return format!("{short} ({}){tail}", cut(&list, room));
    }
    let fallbacks = [
        format!("{short}{tail}"),
        format!("{short} — {TEARDOWN_KEY} tears down"),
        format!("⚠ {count} still on — {TEARDOWN_KEY}"),
    ];
    match fallbacks.iter().find(|text| width(text) <= max) {
        Some(text) => text.clone(),
        None => cut(&fallbacks[2], max),
    }
}

/// How many faults (a fault of one run counts once) and their names, first seen first.
fn faults(dangling: &[Dangling]) -> (usize, Vec<&str>) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for d in dangling {
        let key = (d.intent.run.as_str(), d.intent.fault.as_str());
        if !seen.contains(&key) {
            seen.push(key);
        }
        if !names.contains(&key.1) {
            names.push(key.1);
        }
    }
    (seen.len(), names)
}
