//! Text made to fit a width in terminal cells: cut with an ellipsis, or wrapped at
//! spaces. Widths are display widths, so wide characters count as two cells.

use ratatui::text::{Line, Span};

/// The display width of `text` in cells.
pub(crate) fn width(text: &str) -> usize {
    Span::raw(text).width()
}

/// `text` cut to at most `max` cells, ending in `…` when something was cut off.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    cut_marked(text, max)
}

/// As much of `text` as fits in `max - 1` cells, then `…`; empty when `max` is 0.
fn cut_marked(text: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = width(c.encode_utf8(&mut [0; 4]));
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// A styled line cut to `max` cells, ending in `…` when something was cut off.
pub(crate) fn cut_line(line: Line<'static>, max: usize) -> Line<'static> {
    if line.width() <= max {
        return line;
    }
    let mut room = max;
    let mut spans = Vec::new();
    for span in line.spans {
        let w = span.width();
        if w < room {
            room -= w;
            spans.push(span);
            continue;
        }
        spans.push(Span::styled(cut_marked(&span.content, room), span.style));
        break;
    }
    Line::from(spans).style(line.style)
}

/// `text` broken at spaces into lines of at most `max` cells; a word longer than a
/// line is cut into pieces. Always at least one line.
pub(crate) fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let sep = usize::from(!line.is_empty());
        if width(&line) + sep + width(word) <= max {
            if sep == 1 {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word;
        while width(rest) > max {
            let (head, tail) = split_at_width(rest, max);
            lines.push(head.to_string());
            rest = tail;
        }
        line.push_str(rest);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A duration in milliseconds the way the headless CLI prints it: `850 ms`, `12.5 s`,
/// `—` when the moment never came.
pub(crate) fn ms(value: Option<u64>) -> String {
    match value {
        Some(ms) if ms >= 10_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => format!("{ms} ms"),
        None => "—".into(),
    }
}

/// Splits `text` after as many characters as fit in `max` cells (at least one).
fn split_at_width(text: &str, max: usize) -> (&str, &str) {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let w = width(c.encode_utf8(&mut [0; 4]));
        if used + w > max && i > 0 {
            return text.split_at(i);
        }
        used += w;
    }
    (text, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_short_text_and_marks_a_cut() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abcdef", 1), "…");
        assert_eq!(cut("abcdef", 0), "");
        assert_eq!(cut("日本語", 4), "日…");
    }

    #[test]
    fn cut_line_marks_the_span_where_the_cut_falls() {
        let line = Line::from(vec![Span::raw("abc"), Span::raw("def")]);
        let cut = cut_line(line.clone(), 3);
        assert_eq!(cut.to_string(), "ab…");
        assert_eq!(cut_line(line.clone(), 5).to_string(), "abcd…");
        assert_eq!(cut_line(line, 6).to_string(), "abcdef");
    }

    #[test]
    fn durations_read_like_the_cli() {
        assert_eq!(ms(Some(850)), "850 ms");
        assert_eq!(ms(Some(12_340)), "12.3 s");
        assert_eq!(ms(None), "—");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_splits_long_words() {
        assert_eq!(wrap("one two three", 7), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(wrap("a b", 0), vec!["a", "b"]);
    }
}
