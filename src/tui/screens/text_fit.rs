//! Text laid out in columns for the catalog and targets screens: padded cells, and
//! wrapping that keeps the lines and indentation of runbooks (`fit` cuts and
//! measures).

use crate::tui::fit::{cut, width};

/// The columns one character takes on a terminal.
fn char_width(c: char) -> usize {
    width(c.encode_utf8(&mut [0; 4]))
}

/// `text` cut or padded with spaces to exactly `columns` columns.
pub(crate) fn pad_to(text: &str, columns: usize) -> String {
    let mut out = cut(text, columns);
    let pad = columns.saturating_sub(width(&out));
    out.extend(std::iter::repeat_n(' ', pad));
    out
}

/// `text` wrapped to `max` columns: each line of the input starts a new line, its
/// leading indent is kept on the lines it wraps into, words longer than a line are
/// cut, and nothing is lost.
pub(crate) fn wrap_lines(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    for line in text.trim_end().lines() {
        let body = line.trim_start();
        let mut indent: String = line[..line.len() - body.len()].to_string();
        if width(&indent) >= max / 2 {
            indent.clear();
        }
        if body.is_empty() {
            out.push(String::new());
            continue;
        }
        let mut current = indent.clone();
        for word in body.split_whitespace() {
            let fresh = current.len() == indent.len();
            let needed = if fresh { width(word) } else { 1 + width(word) };
            if width(&current) + needed <= max {
                if !fresh {
                    current.push(' ');
                }
                current.push_str(word);
                continue;
            }
            if !fresh {
                out.push(std::mem::replace(&mut current, indent.clone()));
            }
            for c in word.chars() {
                if width(&current) + char_width(c) > max {
                    out.push(std::mem::replace(&mut current, indent.clone()));
                }
                current.push(c);
            }
        }
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_to_pads_or_cuts_to_the_width() {
        assert_eq!(pad_to("ab", 4), "ab  ");
        assert_eq!(pad_to("abcdef", 4), "abc…");
    }

    #[test]
    fn wrap_keeps_every_word_within_the_width() {
        let lines = wrap_lines("one two three four\n  SELECT a, b FROM t;", 9);
        assert_eq!(
            lines,
            [
                "one two",
                "three",
                "four",
                "  SELECT",
                "  a, b",
                "  FROM t;"
            ]
        );
        let long = wrap_lines("abcdefghij", 4);
        assert_eq!(long, ["abcd", "efgh", "ij"]);
    }
}
