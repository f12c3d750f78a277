//! The catalog browser: snapshots of every state at 80×24 and 160×48, severity and
//! availability colours cell by cell, the filter, the selection, mouse clicks and
//! tiny areas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "screen_support/mod.rs"]
mod screen_support;

use chaosdeck::catalog::{Catalog, Category, FaultSpec};
use chaosdeck::tui::screens::catalog::{render, Availability, CatalogState};
use chaosdeck::tui::screens::catalog_list::Layout;
use chaosdeck::tui::theme::{Meaning, Theme};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use screen_support::{draw, find, style_of, text, SIZES};

const RUNBOOK: &str = "SELECT state, count(*) FROM pg_stat_activity GROUP BY 1;\n\
  SELECT pid, application_name FROM pg_stat_activity WHERE application_name LIKE 'chaosdeck:%';\n\
  Raise max_connections or add a pooler (pgbouncer) in front of the database.";

fn spec(id: &str, name: &str, category: &str, severity: &str, target: &str) -> FaultSpec {
    let yaml = format!(
        "id: {id}\nname: {name}\ncategory: {category}\nseverity: {severity}\ntarget: {target}\n\
         description: Breaks {id} on purpose.\nactions:\n  - docker.pause: {{}}\n\
         expect: {{ impact: [app-health], recover_within: 30s }}\nttl: 5m\n"
    );
    serde_yaml::from_str(&yaml).unwrap()
}

fn max_connections() -> FaultSpec {
    let mut fault = spec(
        "db-max-connections",
        "Max connections exhausted",
        "database",
        "high",
        "postgres",
    );
    fault.description =
        "Opens sessions until the server answers \"sorry, too many clients already\".".into();
    fault.params.insert(
        "reserve".into(),
        serde_yaml::from_str(
            "{ default: 1, help: slots left for the console's own monitoring session }",
        )
        .unwrap(),
    );
    fault.prompt = "Users are getting \"too many clients\" errors connecting to {{target}}. \
                    Please investigate."
        .into();
    fault.runbook = RUNBOOK.into();
    fault
}

fn typical() -> Vec<FaultSpec> {
    vec![
        spec(
            "container-kill",
            "Container killed",
            "container",
            "medium",
            "docker",
        ),
        max_connections(),
        spec(
            "db-lock-contention",
            "Lock contention on a hot table",
            "database",
            "medium",
            "postgres",
        ),
        spec(
            "db-read-only",
            "Cluster flipped to read-only",
            "database",
            "critical",
            "postgres",
        ),
        spec("host-cpu-burn", "CPU burn", "host", "low", "host"),
        spec(
            "process-freeze",
            "Process frozen (SIGSTOP)",
            "process",
            "high",
            "process",
        ),
        spec(
            "net-latency",
            "Latency and jitter",
            "network",
            "low",
            "proxy",
        ),
        spec(
            "k8s-crashloop",
            "Pod in CrashLoopBackOff",
            "kubernetes",
            "high",
            "kubernetes",
        ),
    ]
}

fn typed(state: &mut CatalogState, text: &str) {
    state.start_filter();
    for c in text.chars() {
        state.filter_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

fn shot(state: &CatalogState, (w, h): (u16, u16)) -> Buffer {
    draw(w, h, |area, buf| render(state, &Theme::dark(), area, buf))
}

fn visible_ids(state: &CatalogState) -> Vec<String> {
    let mut ids = Vec::new();
    let mut probe = state.clone();
    for i in 0..probe.visible_count() {
        probe.select_index(i);
        ids.push(probe.selected().unwrap().0.id.clone());
    }
    ids
}

/// The column where `word` starts on row `y`, at or right of column `from`.
fn column_of(buf: &Buffer, y: u16, from: u16, word: &str) -> u16 {
    let cells: Vec<&str> = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
    (from..buf.area.width)
        .find(|&x| {
            let mut rest = word;
            for cell in &cells[x as usize..] {
                match rest.strip_prefix(cell) {
                    Some(r) => rest = r,
                    None => break,
                }
                if rest.is_empty() {
                    return true;
                }
            }
            false
        })
        .unwrap_or_else(|| panic!("{word} not on row {y}:\n{}", text(buf)))
}

/// The style of `word` on the row where `id` is listed, right of the id.
fn style_on_row(buf: &Buffer, id: &str, word: &str) -> ratatui::style::Style {
    let (x, y) = find(buf, id).unwrap_or_else(|| panic!("{id} not on screen:\n{}", text(buf)));
    buf[(column_of(buf, y, x, word), y)].style()
}

#[test]
fn snapshots_of_every_state() {
    let mut unavailable = CatalogState::new(typical());
    unavailable.set_availability(
        "db-max-connections",
        Availability::Unavailable(
            "no PostgreSQL target: pass --conn or --config targets.yaml".into(),
        ),
    );
    unavailable.set_availability(
        "k8s-crashloop",
        Availability::Unavailable("kubectl not found on PATH".into()),
    );
    let mut filtering = CatalogState::new(typical());
    typed(&mut filtering, "db high");
    let mut nothing = CatalogState::new(typical());
    typed(&mut nothing, "xyz");
    nothing.finish_filter();
    let long_id = format!("db-{}", "very-long-fault-identifier-".repeat(3));
    let long_name = format!(
        "A fault with a name far too long {}",
        "to fit in any pane ".repeat(4)
    );
    let mut long = CatalogState::new(vec![
        spec(&long_id, &long_name, "database", "critical", "postgres"),
        max_connections(),
    ]);
    long.select_first();
    let states = [
        ("empty", CatalogState::new(Vec::new())),
        ("no_match", nothing),
        ("typical", CatalogState::new(typical())),
        ("unavailable", unavailable),
        ("filtering", filtering),
        ("long_names", long),
    ];
    for (name, state) in &states {
        for size in SIZES {
            let buf = shot(state, size);
            insta::assert_snapshot!(format!("catalog_{name}_{}x{}", size.0, size.1), text(&buf));
        }
    }
}

#[test]
fn severity_words_carry_their_colour_cell_by_cell() {
    let theme = Theme::dark();
    let state = CatalogState::new(typical());
    for size in SIZES {
        let buf = shot(&state, size);
        for (id, word, meaning) in [
            ("host-cpu-burn", "low", Meaning::SeverityLow),
            ("container-kill", "medium", Meaning::SeverityMedium),
            ("process-freeze", "high", Meaning::SeverityHigh),
            ("db-read-only", "critical", Meaning::SeverityCritical),
        ] {
            let (x, y) = find(&buf, id).unwrap();
            let at = column_of(&buf, y, x, word);
            for dx in 0..word.len() as u16 {
                let cell = buf[(at + dx, y)].style();
                assert_eq!(cell.fg, theme.style(meaning).fg, "{id} {word} at {size:?}");
                assert_eq!(cell.add_modifier, theme.style(meaning).add_modifier, "{id}");
            }
        }
    }
}

#[test]
fn unavailable_faults_are_dimmed_and_say_why() {
    let theme = Theme::dark();
    let mut state = CatalogState::new(typical());
    let reason = "postgres: connection refused";
    state.set_availability("db-read-only", Availability::Unavailable(reason.into()));
    let buf = shot(&state, (160, 48));
    let dim = theme.style(Meaning::Unavailable).fg;
    assert_eq!(dim, Some(Color::DarkGray));
    assert_eq!(style_on_row(&buf, "db-read-only", "db-read-only").fg, dim);
    assert_eq!(style_on_row(&buf, "db-read-only", "critical").fg, dim);
    assert_eq!(
        style_on_row(&buf, "db-read-only", "Cluster flipped").fg,
        dim
    );
    assert_ne!(style_on_row(&buf, "db-lock-contention", "db-lock").fg, dim);
    assert!(find(&buf, "1 unavailable").is_some(), "{}", text(&buf));
    assert!(
        find(&buf, reason).is_none(),
        "the reason shows only for the selected fault"
    );
    let index = visible_ids(&state)
        .iter()
        .position(|id| id == "db-read-only")
        .unwrap();
    state.select_index(index);
    let buf = shot(&state, (160, 48));
    assert!(find(&buf, reason).is_some(), "{}", text(&buf));
}

#[test]
fn faults_are_grouped_in_catalog_category_order() {
    let catalog = Catalog::builtin().unwrap();
    let state = CatalogState::new(catalog.faults().cloned().collect());
    let mut categories: Vec<Category> = Vec::new();
    let mut probe = state.clone();
    for i in 0..state.visible_count() {
        probe.select_index(i);
        let category = probe.selected().unwrap().0.category;
        if categories.last() != Some(&category) {
            categories.push(category);
        }
    }
    assert_eq!(categories, Category::ALL, "each category once, in order");
    let buf = shot(&state, (160, 48));
    let database = find(&buf, "DATABASE (").unwrap();
    let container = find(&buf, "CONTAINER (").unwrap();
    assert!(database.1 < container.1);
}

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

#[test]
fn long_names_are_cut_inside_the_list_pane() {
    let long_name = format!(
        "A fault with a name far too long {}",
        "to fit in any pane ".repeat(4)
    );
    let state = CatalogState::new(vec![spec(
        "db-x", &long_name, "database", "low", "postgres",
    )]);
    for size in SIZES {
        let buf = shot(&state, size);
        let list = Layout::of(buf.area).list;
        for y in list.y..list.bottom() {
            let border = buf[(list.right() - 1, y)].symbol();
            assert!(
                ["│", "┐", "┘"].contains(&border),
                "border at row {y}: {border:?}\n{}",
                text(&buf)
            );
        }
        let (_, y) = find(&buf, "> db-x").unwrap();
        let name = column_of(&buf, y, 0, "A fault with");
        assert!(name < list.right(), "the name is listed in the list pane");
        assert_eq!(buf[(list.right() - 2, y)].symbol(), "…", "{}", text(&buf));
    }
}

#[test]
fn the_detail_pane_scrolls_to_the_runbook_and_stops_at_its_end() {
    let mut state = CatalogState::new(vec![max_connections()]);
    let buf = shot(&state, (80, 24));
    assert!(find(&buf, "Max connections exhausted").is_some());
    assert!(find(&buf, "pgbouncer").is_none(), "{}", text(&buf));
    state.scroll_detail(1000);
    let buf = shot(&state, (80, 24));
    assert!(find(&buf, "pgbouncer").is_some(), "{}", text(&buf));
    assert!(find(&buf, "lines ").is_some());
    state.scroll_detail(-1000);
    let buf = shot(&state, (80, 24));
    assert!(find(&buf, "Max connections exhausted").is_some());
}

#[test]
fn tiny_areas_do_not_panic() {
    let mut state = CatalogState::new(typical());
    state.set_availability("db-read-only", Availability::Unavailable("down".into()));
    let mut filtering = state.clone();
    typed(&mut filtering, "db");
    for s in [&state, &filtering, &CatalogState::new(Vec::new())] {
        for (w, h) in [(0, 0), (1, 1), (2, 5), (10, 2), (30, 4), (59, 10), (60, 3)] {
            let buf = draw(w.max(1), h.max(1), |area, buf| {
                let area = ratatui::layout::Rect {
                    width: w,
                    height: h,
                    ..area
                };
                render(s, &Theme::dark(), area, buf)
            });
            let _ = s.fault_at(buf.area, 1, 1);
        }
    }
}
