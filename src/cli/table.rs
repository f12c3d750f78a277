//! The plain-text tables the headless commands print (`list`, `report`): a header, a
//! rule, one line per row, then a closing line such as a total. Every column but the
//! last is padded to its width; the last runs to the end of its line.

use std::fmt::Display;

/// How long the rule under the header is.
const RULE_WIDTH: usize = 80;

/// A table being written.
pub(super) struct Table {
    /// The widths of every column but the last.
    widths: &'static [usize],
    out: String,
}

impl Table {
    /// A table headed by `titles`, one per column, and its rule; `widths` are those
    /// of every column but the last.
    pub(super) fn new(titles: &[&str], widths: &'static [usize]) -> Table {
        let mut table = Table {
            widths,
            out: String::new(),
        };
        let titles: Vec<&dyn Display> = titles.iter().map(|t| t as &dyn Display).collect();
        table.row(&titles);
        table.out.push_str(&"-".repeat(RULE_WIDTH));
        table.out.push('\n');
        table
    }

    /// One row, a cell per column.
    pub(super) fn row(&mut self, cells: &[&dyn Display]) {
        for (i, cell) in cells.iter().enumerate() {
            match self.widths.get(i) {
                Some(&width) => self.out.push_str(&format!("{cell:<width$} ")),
                None => self.out.push_str(&cell.to_string()),
            }
        }
        self.out.push('\n');
    }

    /// The table's text, ended by `last_line` (such as a total).
    pub(super) fn finish(mut self, last_line: &str) -> String {
        self.out.push_str(last_line);
        self.out.push('\n');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_but_the_last() {
        let mut table = Table::new(&["ID", "KIND", "NAME"], &[6, 5]);
        table.row(&[&"a1", &"x", &"First one"]);
        table.row(&[&"longer-id", &"y", &"Second"]);
        let text = table.finish("Total: 2");
        let rule = "-".repeat(80);
        assert_eq!(
            text,
            format!(
                "ID     KIND  NAME\n{rule}\na1     x     First one\n\
                 longer-id y     Second\nTotal: 2\n"
            )
        );
    }
}
