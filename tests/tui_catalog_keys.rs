//! The catalog browser's keys and mouse: the `/` filter (id, name, category,
//! severity, several words), the selection through filtering, moving, clicks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "catalog_fixtures/mod.rs"]
mod catalog_fixtures;
#[path = "screen_support/mod.rs"]
mod screen_support;

use catalog_fixtures::*;
use chaosdeck::catalog::Catalog;
use chaosdeck::tui::screens::catalog::CatalogState;
use chaosdeck::tui::screens::catalog_list::Layout;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use screen_support::{find, text};

#[test]
fn filter_matches_id_name_category_severity_and_every_word() {
    let cases: [(&str, &[&str]); 7] = [
        ("max-conn", &["db-max-connections"]),
        ("CONTAINER", &["container-kill"]),
        ("critical", &["db-read-only"]),
        ("jitter", &["net-latency"]),
        ("db high", &["db-max-connections"]),
        ("database medium", &["db-lock-contention"]),
        ("high  process", &["process-freeze"]),
    ];
    for (filter, want) in cases {
        let mut state = CatalogState::new(typical());
        typed(&mut state, filter);
        assert_eq!(visible_ids(&state), want, "filter {filter:?}");
        assert_eq!(state.filter_text(), filter);
    }
    let mut state = CatalogState::new(typical());
    typed(&mut state, "high");
    assert_eq!(
        visible_ids(&state),
        ["db-max-connections", "process-freeze", "k8s-crashloop"],
        "grouped by category, catalog order within"
    );
}

#[test]
fn filter_keys_enter_keeps_and_esc_clears() {
    let mut state = CatalogState::new(typical());
    typed(&mut state, "db");
    assert!(state.is_filtering());
    assert_eq!(state.visible_count(), 3);
    state.filter_key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
    assert_eq!(state.filter_text(), "d");
    state.filter_key(KeyEvent::new(KeyCode::Char('b'), KeyModifiers::NONE));
    state.filter_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(!state.is_filtering());
    assert_eq!(state.filter_text(), "db", "Enter adds no line");
    assert_eq!(state.visible_count(), 3);
    let buf = shot(&state, (80, 24));
    assert!(find(&buf, "/ db").is_some(), "{}", text(&buf));
    state.start_filter();
    state.filter_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert!(!state.is_filtering());
    assert_eq!(state.filter_text(), "");
    assert_eq!(state.visible_count(), typical().len());
}

#[test]
fn selection_stays_on_its_fault_while_it_is_visible() {
    let mut state = CatalogState::new(typical());
    let ids = visible_ids(&state);
    let lock = ids
        .iter()
        .position(|id| id == "db-lock-contention")
        .unwrap();
    state.select_index(lock);
    typed(&mut state, "db");
    assert_eq!(state.selected().unwrap().0.id, "db-lock-contention");
    typed(&mut state, " high");
    assert_eq!(state.selected().unwrap().0.id, "db-max-connections");
    typed(&mut state, "zzz");
    assert!(state.selected().is_none());
    state.clear_filter();
    assert_eq!(state.selected().unwrap().0.id, "db-max-connections");
}

#[test]
fn moving_stops_at_the_ends_and_the_selection_stays_on_screen() {
    let catalog = Catalog::builtin().unwrap();
    let mut state = CatalogState::new(catalog.faults().cloned().collect());
    state.move_by(-3);
    assert_eq!(visible_ids(&state)[0], state.selected().unwrap().0.id);
    state.select_last();
    let last = state.selected().unwrap().0.id.clone();
    state.move_by(5);
    assert_eq!(state.selected().unwrap().0.id, last);
    let buf = shot(&state, (80, 24));
    let shown: String = last.chars().take(12).collect();
    let (_, y) = find(&buf, &format!("> {shown}")).unwrap_or_else(|| panic!("{}", text(&buf)));
    assert!(y < 23, "inside the list pane");
    state.select_first();
    let buf = shot(&state, (80, 24));
    assert!(find(&buf, "DATABASE (").is_some());
}

#[test]
fn a_click_selects_the_fault_under_it() {
    let state = CatalogState::new(typical());
    let buf = shot(&state, (160, 48));
    let area = buf.area;
    let (x, y) = find(&buf, "host-cpu-burn").unwrap();
    let index = state.fault_at(area, x + 3, y).unwrap();
    let mut clicked = state.clone();
    clicked.select_index(index);
    assert_eq!(clicked.selected().unwrap().0.id, "host-cpu-burn");
    let (hx, hy) = find(&buf, "HOST (").unwrap();
    assert_eq!(state.fault_at(area, hx, hy), None, "a header is no fault");
    let detail = Layout::of(area).detail;
    assert_eq!(
        state.fault_at(area, detail.x + 2, y),
        None,
        "the detail pane"
    );
    assert_eq!(state.fault_at(area, x, 0), None, "the filter line");
}
