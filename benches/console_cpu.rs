//! CPU the console uses in a real terminal, side by side with `btop` and `bottom`.
//!
//! Each program runs alone in a private tmux pane of 200×50 cells and its process's
//! CPU (user + system, from /proc) is read over the same window:
//! - `chaosdeck live`: the console on the live dashboard of a run whose fault does
//!   nothing (`true`), graphing a throwaway PostgreSQL cluster and this host at 4
//!   samples a second with two probes every 250 ms;
//! - `chaosdeck idle`: the console on its catalog after the run, nothing changing;
//! - `chaosdeck headless`: the same run with `chaosdeck run` (no screen), so the
//!   engine's share of the console's figure is known;
//! - `btop` and `btm` at their default refresh (2 s and 1 s), with empty config
//!   folders, when they are installed (`bash ../shared/bench/tui_peer.sh` installs
//!   both).
//!
//! `cargo bench --bench console_cpu` settles 5 s and reads 60 s per program. Under
//! `cargo test --all-targets` (no `--bench`) it reads 3 s of the console only and
//! prints `SMOKE`; both modes assert the console reached the dashboard and graphed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/tmux.rs"]
mod tmux;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chaosdeck::lab::{PgCluster, PgClusterOptions};
use tmux::Tmux;

const WAIT: Duration = Duration::from_secs(60);

const NOOP_FAULT: &str = r#"
- id: bench-noop
  name: Nothing at all
  category: host
  severity: low
  target: command
  description: Runs `true`, so the run costs only its watching and drawing.
  actions:
    - command: { run: ["true"], undo: ["true"], timeout: 5s }
  expect: { impact: [], recover_within: 10s }
  ttl: 30m
"#;

struct Window {
    settle: Duration,
    read: Duration,
}

/// CPU seconds (user + system) of `pid` so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn pane_pid(pane: &Tmux) -> u32 {
    pane.pane_pid()
}

/// Share of one core `pid` used over the window, in percent.
fn measure(pid: u32, window: &Window) -> f64 {
    std::thread::sleep(window.settle);
    let (start, cpu) = (Instant::now(), cpu_seconds(pid));
    std::thread::sleep(window.read);
    let used = cpu_seconds(pid) - cpu;
    100.0 * used / start.elapsed().as_secs_f64()
}

fn write_files(dir: &Path, cluster: &PgCluster) {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/bench.yaml"), NOOP_FAULT).unwrap();
    let config = format!(
        r#"targets:
  lab:
    postgres: {{ conn: "{conn}" }}
services:
  db:
    probes:
      - {{ name: db-query, sql: SELECT 1, postgres: lab, expect: "1" }}
      - {{ name: db-port, tcp: "127.0.0.1:{port}" }}
observe:
  interval: 250ms
  sample_interval: 250ms
"#,
        conn = cluster.conn_string(),
        port = cluster.port()
    );
    std::fs::write(dir.join("targets.yaml"), config).unwrap();
}

/// The console on a live run, then idle; returns (live %, idle %).
fn console(dir: &Path, window: &Window) -> (f64, f64) {
    let command = format!(
        "exec {bin} --config {dir}/targets.yaml --catalog {dir}/catalog --state-dir {dir}/state --report-dir {dir}",
        bin = env!("CARGO_BIN_EXE_chaosdeck"),
        dir = dir.display()
    );
    let pane = Tmux::start(&command, 200, 50);
    pane.wait_for("faults", WAIT);
    pane.keys(&["/"]);
    pane.type_text("bench-noop");
    pane.wait_until("filtered", WAIT, |s| !s.contains("db-max-connections"));
    pane.keys(&["Enter", "Enter"]);
    pane.wait_for("Enter runs preflight", WAIT);
    pane.keys(&["Enter"]);
    pane.wait_for("Press Enter to inject", WAIT);
    pane.keys(&["Enter"]);
    pane.wait_for("OBSERVING", WAIT);
    let pid = pane_pid(&pane);
    let live = measure(pid, window);
    let screen = pane.screen();
    assert!(
        screen.contains("db-query") && screen.contains("UP"),
        "graphing:\n{screen}"
    );
    pane.keys(&["t"]);
    pane.wait_for("e writes the report", WAIT);
    pane.keys(&["q"]);
    pane.wait_for("faults", WAIT);
    let idle = measure(pid, window);
    pane.keys(&["q"]);
    (live, idle)
}

/// The same run headless (`chaosdeck run`, progress lines only): the engine's share
/// of the console's CPU, without drawing.
fn headless(dir: &Path, window: &Window) -> f64 {
    let command = format!(
        "exec {bin} run bench-noop --target lab --config {dir}/targets.yaml --catalog {dir}/catalog --state-dir {dir}/state --duration 10m --yes > /dev/null",
        bin = env!("CARGO_BIN_EXE_chaosdeck"),
        dir = dir.display()
    );
    let pane = Tmux::start(&command, 200, 50);
    std::thread::sleep(Duration::from_secs(2));
    let pid = pane_pid(&pane);
    let used = measure(pid, window);
    let _ = Command::new("kill").arg(pid.to_string()).status();
    used
}

fn peer(name: &str, args: &str, dir: &Path, window: &Window) -> Option<f64> {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()?;
    if !found.status.success() {
        println!("{name}: not installed (bash ../shared/bench/tui_peer.sh installs it); skipped");
        return None;
    }
    let xdg = dir.join(format!("xdg-{name}"));
    std::fs::create_dir_all(&xdg).unwrap();
    let command = format!("XDG_CONFIG_HOME={} exec {name} {args}", xdg.display());
    let pane = Tmux::start(&command, 200, 50);
    std::thread::sleep(Duration::from_secs(1));
    Some(measure(pane_pid(&pane), window))
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let window = match bench {
        true => Window {
            settle: Duration::from_secs(5),
            read: Duration::from_secs(60),
        },
        false => Window {
            settle: Duration::from_millis(500),
            read: Duration::from_secs(3),
        },
    };
    let cluster = PgCluster::start(PgClusterOptions::default())
        .expect("a throwaway PostgreSQL cluster (apt-get install postgresql; scripts/test does)");
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &cluster);
    let (live, idle) = console(dir.path(), &window);
    if !bench {
        println!(
            "SMOKE console_cpu live={live:.2}% idle={idle:.2}% over {:?}",
            window.read
        );
        return;
    }
    println!("RESULT chaosdeck-live cpu={live:.2}% of one core (200x50, 4 samples/s, 2 probes at 250 ms)");
    println!("RESULT chaosdeck-idle cpu={idle:.2}% of one core (catalog, nothing changing)");
    let engine = headless(dir.path(), &window);
    println!(
        "RESULT chaosdeck-headless cpu={engine:.2}% of one core (the same run, no screen): drawing costs {:.2}%",
        live - engine
    );
    for (name, args) in [("btop", "--utf-force"), ("btm", "")] {
        if let Some(pct) = peer(name, args, dir.path(), &window) {
            println!(
                "RESULT {name} cpu={pct:.2}% of one core (default refresh); chaosdeck live uses {:.2}x",
                live / pct
            );
        }
    }
}
