//! The targets screen: each configured target with its reachability, and
//! PostgreSQL connection strings edited in place with their passwords masked.
//!
//! This file holds the state and the editor; `targets_table` draws them.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use tui_textarea::{CursorMove, TextArea};

use super::conn_mask::restore_password;
use super::targets_table;
use crate::config::ConnAsWritten;
use crate::driver::postgres::conn::mask_password;
use crate::driver::postgres::PgConnSpec;
use crate::driver::targets::Targets;
use crate::tui::theme::Theme;

/// Which part of a bundle of targets a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetPart {
    Postgres,
    Docker,
    Process,
    Proxy,
}

impl TargetPart {
    /// The word drawn in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetPart::Postgres => "postgres",
            TargetPart::Docker => "docker",
            TargetPart::Process => "process",
            TargetPart::Proxy => "proxy",
        }
    }
}

/// What is known of whether a target answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Reach {
    /// Not checked yet.
    #[default]
    Unknown,
    /// A check is under way.
    Checking,
    /// It answers: what it said, e.g. "PostgreSQL 15.8, 12 ms".
    Up(String),
    /// It does not: why.
    Down(String),
}

/// One row of the table: one part of a bundle of targets.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    /// The config target's name, or "flags" for targets given on the command line.
    pub bundle: String,
    pub part: TargetPart,
    /// What is drawn: the connection string with its password masked, the container
    /// name, the process, the proxy's addresses.
    pub shown: String,
    pub reach: Reach,
    /// The text as given, password included, for editing; never drawn (its `Debug`
    /// masks the password).
    original: ConnAsWritten,
}

impl TargetRow {
    /// A row for `text` as given; for PostgreSQL the connection string with its
    /// password, of which only the masked form is ever drawn.
    pub fn new(bundle: impl Into<String>, part: TargetPart, text: impl Into<String>) -> TargetRow {
        let original = ConnAsWritten::new(text);
        let shown = match part {
            TargetPart::Postgres => mask_password(original.text()),
            TargetPart::Docker | TargetPart::Process | TargetPart::Proxy => {
                original.text().to_string()
            }
        };
        TargetRow {
            bundle: bundle.into(),
            part,
            shown,
            reach: Reach::Unknown,
            original,
        }
    }

    /// The rows of one bundle. A parsed connection string no longer carries its
    /// password as written, so editing one of these rows needs the password typed
    /// again; build the row with [`TargetRow::new`] from the string as given to keep it.
    pub fn from_targets(bundle: &str, targets: &Targets) -> Vec<TargetRow> {
        let mut rows = Vec::new();
        if let Some(pg) = &targets.postgres {
            rows.push(TargetRow::new(
                bundle,
                TargetPart::Postgres,
                pg.conn.masked(),
            ));
        }
        if let Some(docker) = &targets.container {
            let text = format!("container {}", docker.container);
            rows.push(TargetRow::new(bundle, TargetPart::Docker, text));
        }
        if let Some(process) = &targets.process {
            let text = process.selector.to_string();
            rows.push(TargetRow::new(bundle, TargetPart::Process, text));
        }
        if let Some(proxy) = &targets.proxy {
            let text = format!("{} -> {}", proxy.listen, proxy.upstream);
            rows.push(TargetRow::new(bundle, TargetPart::Proxy, text));
        }
        rows
    }
}

/// The connection string being edited, and why Enter last refused it.
#[derive(Debug, Clone)]
pub(super) struct Editor {
    pub text: TextArea<'static>,
    pub error: Option<String>,
}

/// The targets screen's state: the rows, the selection and the in-place editor.
#[derive(Debug, Clone, Default)]
pub struct TargetsState {
    rows: Vec<TargetRow>,
    selected: usize,
    editor: Option<Editor>,
}

impl TargetsState {
    pub fn new(rows: Vec<TargetRow>) -> TargetsState {
        TargetsState {
            rows,
            selected: 0,
            editor: None,
        }
    }

    pub fn rows(&self) -> &[TargetRow] {
        &self.rows
    }

    /// Records the reach of one part of a bundle.
    pub fn set_reach(&mut self, bundle: &str, part: TargetPart, reach: Reach) {
        for row in &mut self.rows {
            if row.bundle == bundle && row.part == part {
                row.reach = reach.clone();
            }
        }
    }

    /// Moves the selection, stopping at the ends; not while editing.
    pub fn move_by(&mut self, delta: isize) {
        if self.editor.is_some() || self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() as isize - 1;
        self.selected = (self.selected as isize)
            .saturating_add(delta)
            .clamp(0, last) as usize;
    }

    pub fn selected(&self) -> Option<&TargetRow> {
        self.rows.get(self.selected)
    }

    /// Opens the editor on the selected row, which must be a PostgreSQL connection
    /// string; the editor starts with the masked string.
    pub fn begin_edit(&mut self) -> bool {
        let Some(row) = self.selected() else {
            return false;
        };
        if row.part != TargetPart::Postgres {
            return false;
        }
        let mut text = TextArea::new(vec![row.shown.clone()]);
        text.set_cursor_line_style(Style::default());
        text.move_cursor(CursorMove::End);
        self.editor = Some(Editor { text, error: None });
        true
    }

    /// A key typed into the editor. Enter and Esc are left to
    /// [`Self::finish_edit`] and [`Self::cancel_edit`].
    pub fn edit_key(&mut self, key: KeyEvent) {
        let Some(editor) = &mut self.editor else {
            return;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter | KeyCode::Esc => return,
            KeyCode::Char('m' | 'j') if ctrl => return,
            _ => {}
        }
        if editor.text.input(key) && editor.text.lines().len() > 1 {
            let joined = editor.text.lines().concat();
            editor.text = TextArea::new(vec![joined]);
            editor.text.set_cursor_line_style(Style::default());
            editor.text.move_cursor(CursorMove::End);
        }
    }

    pub fn is_editing(&self) -> bool {
        self.editor.is_some()
    }

    pub fn cancel_edit(&mut self) {
        self.editor = None;
    }

    /// Enter: the edited connection string with the original password put back
    /// where the text still says `password=***` (or `user:***@` in a URL), or an
    /// error naming what is wrong (the editor stays open and shows it). On success
    /// the row shows the new masked string and its reach becomes Unknown.
    ///
    /// Returns the bundle and the full connection string, password included: for
    /// the caller to reconnect with, never to draw.
    pub fn finish_edit(&mut self) -> Result<(String, String), String> {
        let Some(edited) = self.editor.as_ref().map(|e| e.text.lines().concat()) else {
            return Err("nothing is being edited".to_string());
        };
        let Some(row) = self.rows.get_mut(self.selected) else {
            self.editor = None;
            return Err("the edited target is gone".to_string());
        };
        let checked = restore_password(edited.trim(), row.original.text()).and_then(|full| {
            PgConnSpec::parse(&full)
                .map(|_| full)
                .map_err(|e| e.to_string())
        });
        match checked {
            Ok(full) => {
                row.shown = mask_password(&full);
                row.original = ConnAsWritten::new(full.as_str());
                row.reach = Reach::Unknown;
                let bundle = row.bundle.clone();
                self.editor = None;
                Ok((bundle, full))
            }
            Err(why) => {
                if let Some(editor) = &mut self.editor {
                    editor.error = Some(why.clone());
                }
                Err(why)
            }
        }
    }

    pub(super) fn selected_index(&self) -> usize {
        self.selected
    }

    pub(super) fn editor(&self) -> Option<&Editor> {
        self.editor.as_ref()
    }
}

/// Draws the table and the selected row's details into `area`.
pub fn render(state: &TargetsState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    targets_table::render(state, theme, area, buf);
}
