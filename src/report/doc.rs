//! A tiny Markdown writer: headings at a depth, paragraphs, bullet lists and tables,
//! each block separated by one blank line. Cells and lines arrive already escaped
//! (see `format::cell` and `format::inline`); the writer only lays them out.

/// How a table column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A Markdown document being written. `depth` is the level of its title: 1 for a
/// report of its own (`#`), 2 when it sits inside a game-day report (`##`).
pub(crate) struct Doc {
    out: String,
    depth: usize,
}

impl Doc {
    pub(crate) fn new(depth: usize) -> Self {
        Doc {
            out: String::new(),
            depth: depth.max(1),
        }
    }

    /// The document's title, at its own depth.
    pub(crate) fn title(&mut self, text: &str) {
        self.heading(self.depth, text);
    }

    /// A section, one level below the title.
    pub(crate) fn section(&mut self, text: &str) {
        self.heading(self.depth + 1, text);
    }

    /// One paragraph of already-escaped text.
    pub(crate) fn para(&mut self, text: &str) {
        self.block();
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// A bullet list of already-escaped lines.
    pub(crate) fn bullets<S: AsRef<str>>(&mut self, items: &[S]) {
        self.block();
        for item in items {
            self.out.push_str("- ");
            self.out.push_str(item.as_ref());
            self.out.push('\n');
        }
    }

    /// A table; `rows` hold already-escaped cells, one per column.
    pub(crate) fn table(&mut self, columns: &[(&str, Align)], rows: &[Vec<String>]) {
        self.block();
        let header: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        self.row(&header);
        let rule: Vec<&str> = columns
            .iter()
            .map(|(_, align)| match align {
                Align::Left => "---",
                Align::Right => "--:",
            })
            .collect();
        self.row(&rule);
        for cells in rows {
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            self.row(&cells);
        }
    }

    /// Another document's text, as a block of its own.
    pub(crate) fn embed(&mut self, text: &str) {
        self.block();
        self.out.push_str(text);
        if !text.ends_with('\n') {
            self.out.push('\n');
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn heading(&mut self, level: usize, text: &str) {
        self.block();
        self.out.push_str(&"#".repeat(level));
        self.out.push(' ');
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn row(&mut self, cells: &[&str]) {
        self.out.push('|');
        for cell in cells {
            self.out.push(' ');
            self.out.push_str(cell);
            self.out.push_str(" |");
        }
        self.out.push('\n');
    }

    /// A blank line before every block but the first.
    fn block(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }
}
