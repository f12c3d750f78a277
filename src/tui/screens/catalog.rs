//! The catalog browser: faults grouped by category with their severity (word and
//! colour), a `/` filter that narrows the list as the operator types, and a detail
//! pane. Faults that cannot run with the configured targets are dimmed, with the
//! reason in the detail pane.
//!
//! This file holds the state and what keys do to it; `catalog_list` draws the list
//! and maps mouse clicks, `catalog_detail` draws the detail pane.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use tui_textarea::{CursorMove, TextArea};

use super::{catalog_detail, catalog_list};
use crate::catalog::{Category, FaultSpec, TargetKind};
use crate::tui::theme::Theme;

/// Whether a fault can be offered with the targets at hand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Availability {
    /// Nothing known stands in the way.
    #[default]
    Ready,
    /// It cannot run; the reason, e.g. "no PostgreSQL target: pass --conn or --config".
    Unavailable(String),
}

impl Availability {
    pub fn is_ready(&self) -> bool {
        matches!(self, Availability::Ready)
    }
}

/// The catalog screen's state: the faults, their availability, the filter and the
/// selection.
#[derive(Debug, Clone)]
pub struct CatalogState {
    faults: Vec<FaultSpec>,
    availability: Vec<Availability>,
    filter: TextArea<'static>,
    filtering: bool,
    /// Indices into `faults` that pass the filter, in category order.
    visible: Vec<usize>,
    /// Index into `faults` of the selected fault.
    selected: Option<usize>,
    detail_scroll: usize,
    /// What `{{target}}` reads in the prompts of faults on each kind: the current
    /// bundle's target in words, password masked. A kind not here has no target.
    targets: BTreeMap<TargetKind, String>,
}

impl CatalogState {
    /// A browser over `faults`, all [`Availability::Ready`] until told otherwise.
    pub fn new(faults: Vec<FaultSpec>) -> CatalogState {
        let availability = vec![Availability::Ready; faults.len()];
        let mut state = CatalogState {
            faults,
            availability,
            filter: new_filter(String::new()),
            filtering: false,
            visible: Vec::new(),
            selected: None,
            detail_scroll: 0,
            targets: BTreeMap::new(),
        };
        state.refilter();
        state
    }

    /// Records whether the fault `id` can run; unknown ids are ignored.
    pub fn set_availability(&mut self, id: &str, availability: Availability) {
        if let Some(i) = self.faults.iter().position(|f| f.id == id) {
            self.availability[i] = availability;
        }
    }

    /// Records the current bundle's target of `kind` in words, password masked
    /// (`None`: the bundle has none), for the `{{target}}` of the prompts.
    pub fn set_target(&mut self, kind: TargetKind, text: Option<String>) {
        if let Some(text) = text {
            self.targets.insert(kind, text);
        } else {
            self.targets.remove(&kind);
        }
    }

    /// What `{{target}}` reads for a fault on `kind`: the target in words, or a
    /// placeholder such as `<docker (not configured)>`. Kinds configured nowhere
    /// (a command, kubernetes, a compound fault) read their kind's name, as
    /// `inject` prints them.
    pub fn target_text(&self, kind: TargetKind) -> String {
        match (self.targets.get(&kind), kind) {
            (Some(text), _) => text.clone(),
            (None, TargetKind::Command | TargetKind::Kubernetes | TargetKind::Compound) => {
                kind.to_string()
            }
            (None, _) => format!("<{}>", not_configured(kind)),
        }
    }

    /// The selected fault and its availability.
    pub fn selected(&self) -> Option<(&FaultSpec, &Availability)> {
        let i = self.selected?;
        Some((self.faults.get(i)?, self.availability.get(i)?))
    }

    /// Moves the selection by `delta` visible faults, stopping at the ends.
    pub fn move_by(&mut self, delta: isize) {
        let Some(at) = self.selected_position() else {
            self.select_first();
            return;
        };
        let last = self.visible.len().saturating_sub(1) as isize;
        let to = (at as isize).saturating_add(delta).clamp(0, last);
        self.select_index(to as usize);
    }

    pub fn select_first(&mut self) {
        self.select_index(0);
    }

    pub fn select_last(&mut self) {
        self.select_index(self.visible.len().saturating_sub(1));
    }

    /// Selects the `index`-th visible fault (as counted by [`Self::fault_at`]).
    pub fn select_index(&mut self, index: usize) {
        let Some(&fault) = self.visible.get(index) else {
            return;
        };
        if self.selected != Some(fault) {
            self.detail_scroll = 0;
        }
        self.selected = Some(fault);
    }

    /// How many faults pass the filter.
    pub fn visible_count(&self) -> usize {
        self.visible.len()
    }

    /// `/`: typed keys go to the filter from now on.
    pub fn start_filter(&mut self) {
        self.filtering = true;
        self.filter.move_cursor(CursorMove::End);
    }

    /// A key typed into the filter; the list narrows at once. Enter keeps the
    /// filter and Esc clears it, as [`Self::finish_filter`] and [`Self::clear_filter`].
    pub fn filter_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => return self.finish_filter(),
            KeyCode::Esc => return self.clear_filter(),
            KeyCode::Char('m' | 'j') if ctrl => return self.finish_filter(),
            _ => {}
        }
        if self.filter.input(key) {
            if self.filter.lines().len() > 1 {
                self.filter = new_filter(self.filter.lines().concat());
            }
            self.refilter();
        }
    }

    /// Enter: keeps the filter; keys go back to the list.
    pub fn finish_filter(&mut self) {
        self.filtering = false;
    }

    /// Esc: empties the filter and shows every fault again.
    pub fn clear_filter(&mut self) {
        self.filtering = false;
        self.filter = new_filter(String::new());
        self.refilter();
    }

    pub fn is_filtering(&self) -> bool {
        self.filtering
    }

    /// The filter as typed.
    pub fn filter_text(&self) -> String {
        self.filter.lines().concat()
    }

    /// Scrolls the detail pane; drawing stops it at the last line.
    pub fn scroll_detail(&mut self, delta: isize) {
        self.detail_scroll = self.detail_scroll.saturating_add_signed(delta);
    }

    /// The fault listed at a screen position, for a mouse click, given the same
    /// `area` render used: its index among the visible faults.
    pub fn fault_at(&self, area: Rect, column: u16, row: u16) -> Option<usize> {
        catalog_list::fault_at(self, area, column, row)
    }

    pub(super) fn faults(&self) -> &[FaultSpec] {
        &self.faults
    }

    pub(super) fn availability_of(&self, fault: usize) -> &Availability {
        self.availability.get(fault).unwrap_or(&Availability::Ready)
    }

    pub(super) fn visible(&self) -> &[usize] {
        &self.visible
    }

    pub(super) fn selected_fault(&self) -> Option<usize> {
        self.selected
    }

    pub(super) fn filter_area(&self) -> &TextArea<'static> {
        &self.filter
    }

    pub(super) fn detail_scroll(&self) -> usize {
        self.detail_scroll
    }

    fn selected_position(&self) -> Option<usize> {
        let selected = self.selected?;
        self.visible.iter().position(|&i| i == selected)
    }

    /// Recomputes the visible faults; the selection stays on its fault while that
    /// is visible, else moves to the first one.
    fn refilter(&mut self) {
        let words: Vec<String> = self
            .filter_text()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let mut visible: Vec<usize> = (0..self.faults.len())
            .filter(|&i| matches(&self.faults[i], &words))
            .collect();
        visible.sort_by_key(|&i| (self.faults[i].category, i));
        self.visible = visible;
        if self.selected_position().is_none() {
            self.selected = None;
            self.detail_scroll = 0;
            self.select_first();
        }
    }
}

fn new_filter(text: String) -> TextArea<'static> {
    let mut filter = TextArea::new(vec![text]);
    filter.set_cursor_line_style(Style::default());
    filter.move_cursor(CursorMove::End);
    filter
}

/// Whether every word is found in the fault's id, name, category or severity.
pub fn matches(fault: &FaultSpec, words: &[String]) -> bool {
    let fields = [
        fault.id.to_lowercase(),
        fault.name.to_lowercase(),
        fault.category.as_str().to_string(),
        fault.severity.as_str().to_string(),
    ];
    words
        .iter()
        .all(|word| fields.iter().any(|field| field.contains(word.as_str())))
}

/// How a target of `kind` that the bundle lacks is named.
pub fn not_configured(kind: TargetKind) -> String {
    format!("{kind} (not configured)")
}

/// The header of a category's group in the list.
pub fn category_title(category: Category) -> &'static str {
    match category {
        Category::Database => "DATABASE",
        Category::Container => "CONTAINER",
        Category::Process => "PROCESS",
        Category::Host => "HOST",
        Category::Network => "NETWORK",
        Category::Kubernetes => "KUBERNETES",
        Category::Compound => "COMPOUND",
    }
}

/// Draws the filter line, the list and the detail pane into `area`.
pub fn render(state: &CatalogState, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let layout = catalog_list::Layout::of(area);
    catalog_list::render_filter(state, theme, layout.filter, buf);
    catalog_list::render_list(state, theme, layout.list, buf);
    catalog_detail::render(state, theme, layout.detail, buf);
}
