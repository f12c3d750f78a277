//! Time from start to the console's first frame with the full built-in catalog.
//!
//! - `in process`: what the binary does before its first frame — load and check the
//!   catalog, build the app state (every fault's availability included), draw a
//!   200×50 frame — timed 50 times, median and max;
//! - `real binary`: the release binary (with a config naming no targets, so no lab
//!   starts) in a 200×50 tmux pane until the catalog is on screen, 20 times, minus the
//!   same measure of a shell that prints the word at once (tmux's own start and the
//!   polling), median.
//!
//! `cargo bench --bench console_start`; under `cargo test --all-targets` it runs 3
//! and 2 times and prints `SMOKE`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/tmux.rs"]
mod tmux;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chaosdeck::catalog::Catalog;
use chaosdeck::driver::targets::Targets;
use chaosdeck::tui::console::{initial_app, Options, FLAGS_BUNDLE};
use chaosdeck::tui::draw::draw;
use chaosdeck::tui::engine_link::Setup;
use chaosdeck::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tmux::Tmux;

fn in_process() -> Duration {
    let started = Instant::now();
    let catalog = Catalog::load(&[]).unwrap();
    let setup = Setup {
        catalog,
        config: None,
        bundles: BTreeMap::from([(FLAGS_BUNDLE.to_string(), Targets::default())]),
        typed_conns: BTreeMap::new(),
        one_off_probes: vec![],
        max_severity: None,
        state_dir: "/tmp".into(),
        host_disk: "/".into(),
        host_name: "lab-host".into(),
        report_dir: "/tmp".into(),
    };
    let options = Options {
        read_only: false,
        theme: Theme::dark(),
        bundle: FLAGS_BUNDLE.into(),
        notices: vec![],
    };
    let app = initial_app(setup, options, "/tmp/journal".into());
    let area = Rect::new(0, 0, 200, 50);
    let mut buf = Buffer::empty(area);
    draw(&app, area, &mut buf);
    assert!(
        app.catalog.visible_count() >= 17,
        "the full catalog is listed"
    );
    started.elapsed()
}

/// Time until `needle` is on screen after starting `command` in a fresh pane.
fn until_on_screen(command: &str, needle: &str) -> Duration {
    let started = Instant::now();
    let pane = Tmux::start(command, 200, 50);
    loop {
        if pane.screen().contains(needle) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{needle} never appeared"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (inner, outer) = if bench { (50, 20) } else { (3, 2) };
    let times: Vec<Duration> = (0..inner).map(|_| in_process()).collect();
    let max = *times.iter().max().unwrap();
    let in_median = median(times);
    // A config with no targets: the console opens on the full catalog without
    // starting the lab (which takes seconds, and is measured by its own tests).
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("targets.yaml");
    std::fs::write(&config, "observe: { interval: 250ms }\n").unwrap();
    let console = format!(
        "exec {} --state-dir {} --config {}",
        env!("CARGO_BIN_EXE_chaosdeck"),
        state.path().display(),
        config.display()
    );
    let real: Vec<Duration> = (0..outer)
        .map(|_| until_on_screen(&console, "faults"))
        .collect();
    let control: Vec<Duration> = (0..outer)
        .map(|_| until_on_screen("printf 'fau''lts'; exec sleep 30", "faults"))
        .collect();
    let (real, control) = (median(real), median(control));
    let label = if bench { "RESULT" } else { "SMOKE" };
    println!("{label} first-frame in-process median={in_median:?} max={max:?} n={inner}");
    println!(
        "{label} first-frame real-binary median={real:?} control={control:?} difference={:?} n={outer}",
        real.saturating_sub(control)
    );
}
