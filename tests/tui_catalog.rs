//! The catalog browser: snapshots of every state at 80×24 and 160×48, severity and
//! availability colours cell by cell, long names, scrolling, the responder prompt with
//! its target (password masked) and tiny areas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "catalog_fixtures/mod.rs"]
mod catalog_fixtures;
#[path = "screen_support/mod.rs"]
mod screen_support;

use catalog_fixtures::*;
use chaosdeck::catalog::{Catalog, Category, TargetKind};
use chaosdeck::driver::docker::DockerTarget;
use chaosdeck::driver::postgres::{PgConnSpec, PgTarget};
use chaosdeck::driver::targets::Targets;
use chaosdeck::tui::screens::catalog::{render, Availability, CatalogState};
use chaosdeck::tui::screens::catalog_list::Layout;
use chaosdeck::tui::theme::{Meaning, Theme};
use ratatui::style::Color;
use screen_support::{draw, find, text, SIZES};

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
fn the_prompt_names_the_target_with_its_password_masked() {
    const SECRET: &str = "s3cretPW";
    let conn = format!("host=db.internal port=5432 dbname=shop user=app password={SECRET}");
    let targets = Targets {
        postgres: Some(PgTarget {
            conn: PgConnSpec::parse(&conn).unwrap(),
            data_dir: None,
            bin_dir: None,
        }),
        container: Some(DockerTarget::new("shop-db".to_string())),
        ..Targets::default()
    };
    let mut state = CatalogState::new(typical());
    for &kind in TargetKind::ALL {
        state.set_target(kind, targets.describe(kind));
    }
    let index = visible_ids(&state)
        .iter()
        .position(|id| id == "db-max-connections")
        .unwrap();
    state.select_index(index);
    let buf = shot(&state, (160, 48));
    insta::assert_snapshot!("catalog_prompt_with_target_160x48", text(&buf));
    let screen = text(&buf);
    assert!(!screen.contains(SECRET), "{screen}");
    assert!(!screen.contains("{{"), "{screen}");
    let (x, y) = find(&buf, "connecting to host=db.internal").unwrap();
    let detail = Layout::of(buf.area).detail;
    assert!(x > detail.x && y > detail.y, "in the detail pane");
    assert!(
        find(&buf, "password=***. Please investigate.").is_some(),
        "{screen}"
    );
    // At 80×24 the prompt is further down the pane: scrolled to, it reads the same.
    state.scroll_detail(1000);
    let buf = shot(&state, (80, 24));
    let screen = text(&buf);
    assert!(find(&buf, "password=***.").is_some(), "{screen}");
    assert!(
        !screen.contains(SECRET) && !screen.contains("{{"),
        "{screen}"
    );
}

#[test]
fn the_prompt_says_when_its_target_is_not_configured() {
    let mut kill = spec(
        "container-kill",
        "Container killed",
        "container",
        "medium",
        "docker",
    );
    kill.prompt = "The service running in {{target}} went down ({{fault}}).".into();
    let mut state = CatalogState::new(vec![kill]);
    let buf = shot(&state, (160, 48));
    assert!(
        find(
            &buf,
            "The service running in <docker (not configured)> went down (container-kill)."
        )
        .is_some(),
        "{}",
        text(&buf)
    );
    state.set_target(TargetKind::Docker, Some("container shop-db".into()));
    let buf = shot(&state, (160, 48));
    assert!(
        find(&buf, "The service running in container shop-db went down").is_some(),
        "{}",
        text(&buf)
    );
    state.set_target(TargetKind::Docker, None);
    let buf = shot(&state, (160, 48));
    assert!(find(&buf, "<docker (not configured)>").is_some());
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
