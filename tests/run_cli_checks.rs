//! What `run` and `gameday` refuse before anything is touched (exit 2, a message
//! naming the flag, file or field), and a game day that stops at a failed teardown
//! (exit 3, the next experiment never runs). Real processes and files; the faults are
//! harmless `command` faults from a test catalog.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::cli::{catalog_folder, exited, game_day_plan, marker_fault, refused, says};

/// `test-marker` (a fault that creates `dir/marker`), one whose undo "forgets" to
/// remove its file, so its verify finds it still there, and a critical one.
fn catalog(dir: &Path) -> PathBuf {
    let stuck = dir.join("stuck");
    let others = format!(
        r#"
- id: test-stuck
  name: Undo that does not undo
  category: host
  severity: low
  target: command
  description: Creates a file its undo leaves behind.
  actions:
    - command: {{ run: [touch, "{s}"], undo: ["true"], verify: [test, "!", -e, "{s}"], timeout: 5s }}
  expect: {{ impact: [], recover_within: 5s }}
  ttl: 1m
- id: test-critical
  name: A critical one
  category: host
  severity: critical
  target: command
  description: Nothing, but critical.
  actions:
    - command: {{ run: ["true"], undo: ["true"], timeout: 5s }}
  expect: {{ impact: [], recover_within: 5s }}
  ttl: 1m
"#,
        s = stuck.display()
    );
    catalog_folder(dir, &(marker_fault(&dir.join("marker"), "1m") + &others))
}

/// `chaosdeck --state-dir DIR/state --catalog (this test's) ARGS…`, not started yet.
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = support::cli::command(&dir.join("state"), &[]);
    command.arg("--catalog").arg(catalog(dir)).args(args);
    command
}

fn chaosdeck(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().unwrap()
}

#[test]
fn run_refuses_bad_input_before_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    refused(
        &chaosdeck(d, &["run", "test-markr", "--yes"]),
        &["unknown fault id \"test-markr\"; did you mean \"test-marker\"?"],
    );
    // `run` has no --dry-run: the hint names the command that has one.
    let output = chaosdeck(d, &["run", "test-marker"]);
    refused(
        &output,
        &[
            "pass --yes",
            "run has no dry run, `chaosdeck inject test-marker --dry-run`",
        ],
    );
    assert!(
        !support::cli::text(&output.stderr).contains("or --dry-run"),
        "{output:?}"
    );
    refused(
        &chaosdeck(d, &["run", "test-critical", "--yes"]),
        &["pass --yes --allow-critical"],
    );
    refused(
        &chaosdeck(
            d,
            &[
                "run",
                "test-critical",
                "--yes",
                "--allow-critical",
                "--max-severity",
                "high",
            ],
        ),
        &["the policy allows at most high"],
    );
    refused(
        &chaosdeck(d, &["run", "test-marker", "--yes", "--probe", "ftp://x"]),
        &["--probe \"ftp://x\""],
    );
    refused(
        &chaosdeck(
            d,
            &["run", "test-marker", "--yes", "--probe", "sql:SELECT 1"],
        ),
        &["needs --conn"],
    );
    refused(
        &chaosdeck(d, &["run", "test-marker", "--yes", "--target", "shop"]),
        &["pass --config targets.yaml"],
    );
    // A report that could not be written once the run is over.
    let lost = d.join("no-such-folder").join("r.md");
    let output = chaosdeck(
        d,
        &[
            "run",
            "test-marker",
            "--yes",
            "--report",
            lost.to_str().unwrap(),
        ],
    );
    refused(&output, &["no-such-folder\" does not exist"]);
    assert!(support::cli::text(&output.stdout).is_empty(), "nothing ran");
    let config = d.join("targets.yaml");
    std::fs::write(&config, "policy:\n  max_severity: low\nprobez: []\n").unwrap();
    refused(
        &chaosdeck(
            d,
            &[
                "--config",
                config.to_str().unwrap(),
                "run",
                "test-marker",
                "--yes",
            ],
        ),
        &["targets.yaml:3:1"],
    );
    std::fs::write(&config, "policy:\n  max_severity: low\n").unwrap();
    refused(
        &chaosdeck(
            d,
            &[
                "--config",
                config.to_str().unwrap(),
                "run",
                "test-critical",
                "--yes",
                "--allow-critical",
            ],
        ),
        &["the policy allows at most low"],
    );
    assert!(!d.join("marker").exists(), "nothing was injected");
}

#[test]
fn run_refuses_a_fault_without_its_target_or_with_one_that_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No target at all: the hint is whole (masking once cut it at `password=…`) and
    // names no host.
    let output = chaosdeck(d, &["run", "db-max-connections", "--yes"]);
    refused(
        &output,
        &[
            "db-max-connections acts on PostgreSQL",
            "pass --conn \"postgres://USER:PASSWORD@HOST:PORT/DB\"",
        ],
    );
    let stderr = support::cli::text(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("this host"), "{stderr}");
    // A target of the config without PostgreSQL.
    let config = d.join("targets.yaml");
    std::fs::write(&config, "targets:\n  web: { container: web-1 }\n").unwrap();
    let config = config.to_str().unwrap();
    refused(
        &chaosdeck(
            d,
            &["--config", config, "run", "db-max-connections", "--yes"],
        ),
        &["target \"web\" of", "has none"],
    );
    // A target that does not answer: one line naming it, password masked.
    let closed = format!("127.0.0.1:{}", support::free_port());
    let (host, port) = closed.split_once(':').unwrap();
    let conn = format!("host={host} port={port} dbname=shop user=app password=s3cret-pw");
    let output = chaosdeck(d, &["run", "db-max-connections", "--yes", "--conn", &conn]);
    refused(
        &output,
        &[
            "cannot run db-max-connections:",
            &format!("host={host} port={port} dbname=shop user=app password=*** — "),
        ],
    );
    let stderr = support::cli::text(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    assert!(
        support::cli::text(&output.stdout).is_empty(),
        "no run started"
    );
}

#[test]
fn gameday_checks_the_whole_plan_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (yaml, wanted) in [
        (
            "name: x\nexperiments:\n  - { fault: test-marker, duration: 1s }\n  - { fault: test-marker, durashun: 1s }\n",
            "experiments[1]",
        ),
        (
            "name: x\nexperiments:\n  - { fault: test-marker, duration: 1s }\n  - { fault: no-such-fault }\n",
            "experiments[1] (no-such-fault): unknown fault id",
        ),
        // No usable target: caught here, not when its turn comes.
        (
            "name: x\nexperiments:\n  - { fault: test-marker, duration: 1s }\n  - { fault: db-max-connections }\n",
            "experiments[1] (db-max-connections): db-max-connections acts on PostgreSQL",
        ),
        (
            "name: x\nconfig: targets.yaml\nexperiments:\n  - { fault: test-marker, duration: 1s }\n  - { fault: db-max-connections, target: db }\n",
            "experiments[1] (db-max-connections): postgres.hold_connections on host=127.0.0.1",
        ),
    ] {
        // A PostgreSQL target where nothing listens.
        let conn = format!(
            "host=127.0.0.1 port={} dbname=x user=u password=pw-in-plan",
            support::free_port()
        );
        std::fs::write(
            d.join("targets.yaml"),
            format!("targets:\n  db: {{ postgres: {{ conn: \"{conn}\" }} }}\n"),
        )
        .unwrap();
        let plan = game_day_plan(d, yaml);
        let output = chaosdeck(d, &["gameday", &plan, "--yes"]);
        refused(&output, &[wanted]);
        assert!(!support::cli::text(&output.stderr).contains("pw-in-plan"));
    }
    let plan = game_day_plan(
        d,
        "name: x\nexperiments:\n  - { fault: test-marker, duration: 1s }\n",
    );
    // `gameday` has no --dry-run either.
    let output = chaosdeck(d, &["gameday", &plan]);
    refused(
        &output,
        &[
            "experiments[0] (test-marker)",
            "pass --yes",
            "`chaosdeck inject test-marker --dry-run`",
        ],
    );
    assert!(
        !support::cli::text(&output.stderr).contains("or --dry-run"),
        "{output:?}"
    );
    // A report that could not be written once the game day is over.
    let lost = d.join("no-such-folder").join("g.md");
    let output = chaosdeck(
        d,
        &[
            "gameday",
            &plan,
            "--yes",
            "--report",
            lost.to_str().unwrap(),
        ],
    );
    refused(&output, &["no-such-folder\" does not exist"]);
    assert!(support::cli::text(&output.stdout).is_empty(), "nothing ran");
    assert!(!d.join("marker").exists(), "the first experiment never ran");
}

#[test]
fn a_failed_teardown_stops_the_game_day() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plan = game_day_plan(
        d,
        "name: stops\npause: 0s\nexperiments:\n  - { fault: test-stuck, duration: 300ms }\n  - { fault: test-marker, duration: 300ms }\n",
    );
    let output = chaosdeck(d, &["gameday", &plan, "--yes", "--json"]);
    let stdout = exited(&output, 3);
    let record: chaosdeck::engine::record::GamedayRecord = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        record.runs.len(),
        1,
        "the plan stopped after the failed teardown"
    );
    assert!(record.runs[0].teardown[0].result.starts_with("residual"));
    assert!(record
        .stopped
        .unwrap()
        .contains("teardown of test-stuck failed"));
    assert!(d.join("stuck").exists());
    assert!(
        !d.join("marker").exists(),
        "the second experiment never ran"
    );
}

#[test]
fn a_run_without_probes_tears_down_and_says_recovery_was_not_measured() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let started = std::time::Instant::now();
    let output = chaosdeck(d, &["run", "test-marker", "--yes", "--duration", "300ms"]);
    // Nothing could show recovery, so the run neither waits for it (recover_within
    // is 5 s) nor fails for it.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "waited {:?} for a recovery nothing could show",
        started.elapsed()
    );
    says(
        &exited(&output, 0),
        &[
            "Result: PASS",
            "teardown step    test-marker command: verified",
            "time to recover  — not measured (no steady-state probe)",
            "verdict          recovery not measured (no steady-state probe)",
        ],
    );
    assert!(!d.join("marker").exists());
}

/// A listener the steady-state probe (`tcp://…`) connects to for as long as it lives.
fn open_port() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

/// Runs `chaosdeck ARGS…` (see [`command`]), sends it SIGINT once the marker fault is
/// on (`dir/marker` exists), and waits for it.
fn interrupted_once_the_marker_is_on(dir: &Path, args: &[&str]) -> Output {
    let child = command(dir, args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !dir.join("marker").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the fault never went on"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn ctrl_c_during_a_run_is_an_interrupted_verdict_not_a_failed_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_listener, addr) = open_port();
    let probe = format!("port=tcp://{addr}");
    let output = interrupted_once_the_marker_is_on(
        d,
        &[
            "run",
            "test-marker",
            "--yes",
            "--duration",
            "60s",
            "--probe",
            &probe,
        ],
    );
    let stdout = exited(&output, 1);
    says(
        &stdout,
        &[
            "Result: INTERRUPTED",
            "ended by         interrupt",
            "time to recover  — not watched (the run was interrupted)",
            "before the recovery watch; recovery not watched",
        ],
    );
    assert!(!stdout.contains("not regained"), "{stdout}");
    assert!(!d.join("marker").exists(), "torn down");
}

#[test]
fn a_game_day_run_interrupted_before_its_recovery_watch_is_not_scored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_listener, addr) = open_port();
    std::fs::write(
        d.join("targets.yaml"),
        format!("services:\n  s:\n    probes:\n      - {{ name: port, tcp: \"{addr}\" }}\n"),
    )
    .unwrap();
    let plan = game_day_plan(
        d,
        "name: cut\nconfig: targets.yaml\nexperiments:\n  - { fault: test-marker, duration: 60s }\n",
    );
    let output = interrupted_once_the_marker_is_on(d, &["gameday", &plan, "--yes", "--json"]);
    let stdout = exited(&output, 1);
    let record: chaosdeck::engine::record::GamedayRecord = serde_json::from_str(&stdout).unwrap();
    assert_eq!(record.runs.len(), 1);
    let run = &record.runs[0];
    assert_eq!(
        run.recovery(),
        chaosdeck::engine::record::Recovery::NotWatched
    );
    assert_eq!(run.verdict.word(), "INTERRUPTED");
    assert!(
        chaosdeck::report::scorecard(&record.runs).is_empty(),
        "not scored, so not a failed recovery"
    );
    let markdown = chaosdeck::report::gameday_markdown(&record);
    assert!(
        markdown.contains("Not scored: 1 run interrupted by the operator"),
        "{markdown}"
    );
}

#[test]
fn sigterm_or_sighup_during_a_pause_ends_the_game_day_before_the_next_fault() {
    use nix::sys::signal::Signal;
    // SIGHUP: the terminal or SSH session of the operator went away.
    for signal in [Signal::SIGTERM, Signal::SIGHUP] {
        game_day_stopped_in_a_pause_by(signal);
    }
}

fn game_day_stopped_in_a_pause_by(signal: nix::sys::signal::Signal) {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plan = game_day_plan(
        d,
        "name: paused\npause: 60s\nexperiments:\n  - { fault: test-marker, duration: 200ms }\n  - { fault: test-stuck, duration: 200ms }\n",
    );
    let mut child = command(d, &["gameday", &plan, "--yes"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let pausing = line.trim_start().starts_with("pause 1m");
        seen.push(line);
        if pausing {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.contains("pause")),
        "{seen:#?}"
    );
    let started = std::time::Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{signal}: it waited out the pause"
    );
    let rest = rest.join("\n");
    assert!(
        rest.contains("stopped: interrupted during a pause"),
        "{rest}"
    );
    assert!(
        !d.join("stuck").exists(),
        "{signal}: the second fault never ran"
    );
    // The first run passed (no probes: recovery not measured), but the plan was
    // stopped before it ended.
    assert_eq!(status.code(), Some(1), "{rest}");
}
