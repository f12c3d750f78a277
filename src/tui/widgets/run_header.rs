//! The dashboard's two header lines: the fault, its severity as a coloured word,
//! the state, elapsed time and TTL countdown; then the target (passwords masked).
//! The right-hand words keep their place; the fault's name is cut to what is left.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use tokio::time::Instant;

use super::text;
use crate::engine::record::Outcome;
use crate::tui::live::LiveState;
use crate::tui::screens::severity_meaning;
use crate::tui::theme::{Meaning, Theme};

/// Lines the header takes.
pub const HEIGHT: u16 = 2;

/// Draws the header into the first lines of `area`.
pub fn render(live: &LiveState, now: Instant, theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let (state, state_meaning) = state_word(live);
    let ttl = match (live.ttl_left(now), live.injected_at) {
        (Some(left), _) => Span::styled(
            format!("TTL {}", text::clock(left)),
            theme.style(Meaning::Text),
        ),
        (None, None) => Span::styled(
            format!("TTL {}", text::clock(live.ttl)),
            theme.style(Meaning::Muted),
        ),
        (None, Some(_)) => Span::styled("TTL –", theme.style(Meaning::Muted)),
    };
    let elapsed = Span::styled(
        format!("elapsed {}", text::clock(live.elapsed(now))),
        theme.style(Meaning::Text),
    );
    let severity = Span::styled(
        live.severity.as_str().to_uppercase(),
        theme.style(severity_meaning(live.severity)),
    );
    let state = Span::styled(state, theme.style(state_meaning));
    // Dropped in this order when the line is too narrow: elapsed, then the TTL.
    let mut right = vec![severity, state, elapsed, ttl];
    let min_left = 12;
    while right.len() > 2 && right_width(&right) + min_left > usize::from(area.width) {
        right.remove(2);
    }
    let right_w = right_width(&right).min(usize::from(area.width)) as u16;
    let mut x = area.right() - right_w;
    for span in &right {
        x += 2;
        x += text::put(
            buf,
            x,
            area.y,
            &span.content,
            area.right().saturating_sub(x),
            span.style,
        );
    }
    let left_room = area.width.saturating_sub(right_w);
    // A long id leaves the name at least two fifths of the room.
    let id_room = (left_room * 3 / 5).max(left_room.min(20));
    let used = text::put(
        buf,
        area.x,
        area.y,
        &live.fault_id,
        id_room,
        theme.style(Meaning::Title),
    );
    let name_x = area.x + used + 2;
    let name_room = (area.x + left_room).saturating_sub(name_x);
    text::put(
        buf,
        name_x,
        area.y,
        &live.fault_name,
        name_room,
        theme.style(Meaning::Text),
    );

    if area.height < 2 {
        return;
    }
    let y = area.y + 1;
    let used = text::put(
        buf,
        area.x,
        y,
        "target ",
        area.width,
        theme.style(Meaning::Muted),
    );
    let room = area.width - used;
    text::put(
        buf,
        area.x + used,
        y,
        &live.target,
        room,
        theme.style(Meaning::Text),
    );
}

/// Each right-hand word plus the two spaces before it.
fn right_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.width() + 2).sum()
}

/// The verdict once the run is over, else the phase; active while the fault is on.
fn state_word(live: &LiveState) -> (String, Meaning) {
    if let Some(record) = &live.record {
        let meaning = match record.verdict.outcome {
            Outcome::Pass => Meaning::VerdictPass,
            Outcome::Fail | Outcome::TeardownFailed => Meaning::VerdictFail,
            Outcome::Aborted => Meaning::Muted,
        };
        return (record.verdict.outcome.word().to_uppercase(), meaning);
    }
    let meaning = if live.fault_is_on() {
        Meaning::StateActive
    } else {
        Meaning::StateSafe
    };
    (live.phase.as_str().to_uppercase(), meaning)
}
