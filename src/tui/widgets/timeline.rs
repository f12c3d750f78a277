//! The event timeline: `+m:ss.s` and what happened, newest at the bottom, scrolled
//! so the latest entries show. Operator notes and errors stand out by style.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Widget};

use super::text;
use crate::engine::record::{TimelineEntry, TimelineKind};
use crate::tui::theme::{Meaning, Theme};

/// Width of the offset column, `+10:03.2` and a space.
const OFFSET_WIDTH: u16 = 9;

/// Draws the timeline pane into `area`.
pub fn render(entries: &[TimelineEntry], theme: &Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered()
        .border_style(theme.style(Meaning::Border))
        .title(Span::styled(" Timeline ", theme.style(Meaning::Title)));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 4 || inner.height == 0 {
        return;
    }
    if entries.is_empty() {
        let note = "nothing yet";
        text::put(
            buf,
            inner.x + 1,
            inner.y,
            note,
            inner.width - 1,
            theme.style(Meaning::Muted),
        );
        return;
    }
    let shown = &entries[entries.len().saturating_sub(usize::from(inner.height))..];
    for (line, entry) in shown.iter().enumerate() {
        let y = inner.y + line as u16;
        let used = text::put(
            buf,
            inner.x,
            y,
            &text::offset(entry.offset_ms),
            inner.width.min(OFFSET_WIDTH - 1),
            theme.style(Meaning::TimelineOffset),
        );
        let x = inner.x + used.max(OFFSET_WIDTH - 1) + 1;
        let room = inner.right().saturating_sub(x);
        text::put(
            buf,
            x,
            y,
            &entry.text,
            room,
            theme.style(meaning(entry.kind)),
        );
    }
}

/// How an entry of `kind` is styled.
pub fn meaning(kind: TimelineKind) -> Meaning {
    match kind {
        TimelineKind::Note => Meaning::TimelineNote,
        TimelineKind::Error => Meaning::TimelineError,
        TimelineKind::Preflight
        | TimelineKind::Approval
        | TimelineKind::Inject
        | TimelineKind::Impact
        | TimelineKind::Probe
        | TimelineKind::Guard
        | TimelineKind::Teardown
        | TimelineKind::Recovery
        | TimelineKind::Verdict => Meaning::Text,
    }
}
