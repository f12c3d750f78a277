//! Snapshots of the live dashboard in each of its states at 80×24 and 160×48, with
//! the colours of the severity word, the state word and every probe's UP/DOWN cell
//! checked cell by cell, and tiny areas drawn without a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "screen_support/mod.rs"]
mod screen_support;

#[path = "dashboard_support/mod.rs"]
mod dashboard_support;

use chaosdeck::tui::live::LiveState;
use chaosdeck::tui::screens::dashboard;
use chaosdeck::tui::theme::{Meaning, Theme};
use dashboard_support::{
    at, danger, live, long_names, typical, LONG_NAME, LONG_PROBE, LONG_TARGET, PASSWORD, TARGET,
};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use screen_support::{draw, find, style_of, text, SIZES};
use tokio::time::Instant;
fn cell(meaning: Meaning) -> Style {
    Style::new()
        .fg(Color::Reset)
        .bg(Color::Reset)
        .underline_color(Color::Reset)
        .patch(Theme::dark().style(meaning))
}

fn render(live: &LiveState, now: Instant, (w, h): (u16, u16)) -> Buffer {
    draw(w, h, |area, buf| {
        dashboard::render(live, now, &Theme::dark(), area, buf)
    })
}

/// The state word in the probe table's row of `probe`, and its style.
fn probe_state(buf: &Buffer, probe: &str) -> (String, Style) {
    let (x, y) =
        find(buf, probe).unwrap_or_else(|| panic!("{probe} not on screen:\n{}", text(buf)));
    for cx in x..buf.area.width.saturating_sub(3) {
        for word in ["DOWN", "UP", "WAIT"] {
            let here: String = (0..word.len() as u16)
                .map(|i| buf[(cx + i, y)].symbol())
                .collect();
            let before = cx == 0 || buf[(cx - 1, y)].symbol() == " ";
            if here == word && before {
                return (word.to_string(), buf[(cx, y)].style());
            }
        }
    }
    panic!("no state word after {probe}:\n{}", text(buf));
}

fn assert_probe(buf: &Buffer, probe: &str, word: &str) {
    let (found, style) = probe_state(buf, probe);
    assert_eq!(found, word, "{probe}");
    let meaning = match word {
        "UP" => Meaning::ProbeUp,
        "DOWN" => Meaning::ProbeDown,
        _ => Meaning::ProbeUnknown,
    };
    assert_eq!(style, cell(meaning), "{probe} {word}");
}

fn assert_common(buf: &Buffer) {
    let screen = text(buf);
    assert!(
        !screen.contains(PASSWORD),
        "a password reached the screen:\n{screen}"
    );
    assert_eq!(style_of(buf, "HIGH"), cell(Meaning::SeverityHigh));
}

#[test]
fn empty_before_any_reading() {
    let base = Instant::now();
    let live = live(
        base,
        "Max connections exhausted",
        TARGET,
        &["app-health", "db-connect"],
        300,
    );
    for size in SIZES {
        let buf = render(&live, at(base, 2.0), size);
        assert_common(&buf);
        assert_eq!(style_of(&buf, "PREFLIGHT"), cell(Meaning::StateSafe));
        assert_probe(&buf, "app-health", "WAIT");
        assert!(text(&buf).contains("TTL 05:00"));
        insta::assert_snapshot!(format!("empty_{}x{}", size.0, size.1), text(&buf));
    }
}

#[test]
fn typical_while_observing() {
    let base = Instant::now();
    let live = typical(base);
    for size in SIZES {
        let buf = render(&live, at(base, 600.0), size);
        assert_common(&buf);
        assert_eq!(style_of(&buf, "OBSERVING"), cell(Meaning::StateActive));
        assert_probe(&buf, "app-health", "DOWN");
        assert_probe(&buf, "db-connect", "DOWN");
        assert_probe(&buf, "checkout", "UP");
        assert!(text(&buf).contains("elapsed 10:00"), "{}", text(&buf));
        assert!(text(&buf).contains("TTL 06:00"), "{}", text(&buf));
        assert!(text(&buf).contains("total 97"), "{}", text(&buf));
        assert_eq!(style_of(&buf, "pager fired"), cell(Meaning::TimelineNote));
        insta::assert_snapshot!(format!("typical_{}x{}", size.0, size.1), text(&buf));
    }
}

#[test]
fn danger_sampler_errors_probes_down_ttl_nearly_out() {
    let base = Instant::now();
    let live = danger(base);
    for size in SIZES {
        let buf = render(&live, at(base, 600.0), size);
        assert_common(&buf);
        for name in ["app-health", "db-connect", "checkout"] {
            assert_probe(&buf, name, "DOWN");
        }
        let screen = text(&buf);
        assert!(screen.contains("TTL 00:05"), "{screen}");
        assert!(
            screen.contains(
                "postgres: host=db.lab password=*** connection refused — last reading 1 s ago"
            ),
            "{screen}"
        );
        // The chart keeps the readings from before the error.
        assert!(screen.contains("total 97"), "{screen}");
        let error = style_of(&buf, "postgres: host=db.lab");
        assert_eq!(error, cell(Meaning::FlashError));
        insta::assert_snapshot!(format!("danger_{}x{}", size.0, size.1), screen);
    }
}

#[test]
fn long_names_are_cut_not_wrapped() {
    let base = Instant::now();
    let live = long_names(base);
    for size in SIZES {
        let buf = render(&live, at(base, 600.0), size);
        assert_common(&buf);
        let screen = text(&buf);
        let header = screen.lines().next().unwrap_or_default();
        assert!(
            header.contains('…') && header.contains("TTL 06:00"),
            "{header}"
        );
        assert!(
            !screen.contains(&LONG_NAME[60..]),
            "the name's tail wrapped:\n{screen}"
        );
        assert!(
            !screen.contains(&LONG_PROBE[50..]),
            "the probe's tail wrapped:\n{screen}"
        );
        assert!(
            !screen.contains(&LONG_TARGET[100..]),
            "the target's tail wrapped:\n{screen}"
        );
        assert_probe(&buf, &LONG_PROBE[..8], "DOWN");
        assert_probe(&buf, "db-connect", "UP");
        insta::assert_snapshot!(format!("long_names_{}x{}", size.0, size.1), screen);
    }
}

#[test]
fn tiny_areas_do_not_panic() {
    let base = Instant::now();
    let states = [typical(base), danger(base), long_names(base)];
    for live in &states {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (5, 3),
            (10, 2),
            (12, 24),
            (20, 5),
            (30, 8),
            (80, 3),
            (80, 11),
            (119, 13),
            (120, 14),
            (200, 50),
        ] {
            let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
            dashboard::render(live, at(base, 600.0), &Theme::dark(), buf.area, &mut buf);
        }
    }
}
