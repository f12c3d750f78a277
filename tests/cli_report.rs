//! `chaosdeck report`: every finished run is saved under `<state>/runs/<id>.json`
//! (private, masked), and `report` gives back the very report `run --report` wrote, by
//! id, by id prefix and by file; with no id it lists the saved runs, newest first.
//! Real runs of the real binary: a PostgreSQL fault against a throwaway cluster,
//! harmless `command` faults in a game day, and a run in the console in tmux.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::cli::{chaosdeck, exited, game_day_plan, marker_catalog, refused, text};

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use chaosdeck::engine::record::RunRecord;
use chaosdeck::lab::PgClusterOptions;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `run test-marker --yes --duration 200ms MORE…` with the marker catalog in `dir`.
/// Without probes its verdict passes: recovery is not measured, nothing is waited for.
fn run_marker(dir: &Path, state: &Path, more: &[&str]) -> Output {
    let folder = marker_catalog(dir, "1m");
    let mut args = vec![
        "--catalog",
        folder.to_str().unwrap(),
        "run",
        "test-marker",
        "--yes",
        "--duration",
        "200ms",
    ];
    args.extend(more);
    chaosdeck(state, &args)
}

#[test]
fn report_reproduces_a_real_run_by_id_by_prefix_and_by_file() {
    let password = "s3cret-for-report";
    let cluster = support::pg_cluster_with(PgClusterOptions {
        password: password.into(),
        ..PgClusterOptions::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let written = dir.path().join("run.md");
    let conn = cluster.conn_string();
    let output = chaosdeck(
        &state,
        &[
            "run",
            "pg-advisory-lock-hog",
            "--yes",
            "--duration",
            "1s",
            "--conn",
            &conn,
            "--probe",
            "db=sql:SELECT 1",
            "--report",
            written.to_str().unwrap(),
        ],
    );
    exited(&output, 0);
    let markdown = std::fs::read_to_string(&written).unwrap();
    let json = std::fs::read_to_string(dir.path().join("run.json")).unwrap();
    let record: RunRecord = serde_json::from_str(&json).unwrap();
    let id = record.run_id.clone();

    // Saved privately, masked, as the report's JSON.
    let runs = state.join("runs");
    let saved = runs.join(format!("{id}.json"));
    assert_eq!(mode(&runs), 0o700);
    assert_eq!(mode(&saved), 0o600);
    let saved_text = std::fs::read_to_string(&saved).unwrap();
    assert_eq!(saved_text, json, "the saved record is the report's JSON");
    assert!(!saved_text.contains(password), "{saved_text}");
    assert!(saved_text.contains("password=***"), "{saved_text}");
    let names: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{id}.json")], "no temporary file left");

    // The same Markdown by id, by prefix and by file; the same JSON with --json.
    let file = dir.path().join("run.json");
    for wanted in [id.as_str(), &id[..3], file.to_str().unwrap()] {
        let output = chaosdeck(&state, &["report", wanted]);
        assert_eq!(exited(&output, 0), markdown, "report {wanted}");
        let output = chaosdeck(&state, &["report", wanted, "--json"]);
        assert_eq!(text(&output.stdout), json, "report {wanted} --json");
    }
    for section in ["## Summary", "## Timings", "## Teardown", "## Verdict"] {
        assert!(markdown.contains(section), "{section}:\n{markdown}");
    }
    assert!(markdown.contains(&format!("Run id: {id}")), "{markdown}");
    assert!(!markdown.contains(password));

    // --out writes the pair, as run --report does.
    let again = dir.path().join("again.md");
    let output = chaosdeck(&state, &["report", &id, "--out", again.to_str().unwrap()]);
    assert!(exited(&output, 0).contains("again.md and"), "{output:?}");
    assert_eq!(std::fs::read_to_string(&again).unwrap(), markdown);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("again.json")).unwrap(),
        json
    );

    // The list names it.
    let list = exited(&chaosdeck(&state, &["report"]), 0);
    let row = list
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("pg-advisory-lock-hog"), "{row}");
    assert!(row.contains(&record.started_at), "{row}");
    assert!(row.ends_with(" pass"), "{row}");
    assert!(list.contains("Total: 1 saved run in"), "{list}");
}

#[test]
fn game_day_runs_are_saved_one_by_one_and_listed_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let plan = game_day_plan(
        d,
        "name: saved\npause: 0s\nexperiments:\n  - { fault: test-marker, duration: 200ms }\n  - { fault: test-marker, duration: 200ms }\n",
    );
    let folder = marker_catalog(d, "1m");
    let output = chaosdeck(
        &state,
        &[
            "--catalog",
            folder.to_str().unwrap(),
            "gameday",
            &plan,
            "--yes",
            "--json",
        ],
    );
    // No probes: recovery is not measured, and the verdict passes.
    let stdout = exited(&output, 0);
    let gameday: chaosdeck::engine::record::GamedayRecord = serde_json::from_str(&stdout).unwrap();
    assert_eq!(gameday.runs.len(), 2);

    let output = chaosdeck(&state, &["report", "--json"]);
    exited(&output, 0);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = gameday
        .runs
        .iter()
        .rev()
        .map(|r| r.run_id.as_str())
        .collect();
    assert_eq!(ids, newest_first);
    assert_eq!(listed[0]["fault"], "test-marker");
    assert_eq!(listed[0]["outcome"], "pass");

    // A game day's own file is not a run's: the message says what it holds.
    let file = d.join("gameday.json");
    std::fs::write(&file, &stdout).unwrap();
    refused(
        &chaosdeck(&state, &["report", file.to_str().unwrap()]),
        &["gameday.json", "game day \"saved\" (2 runs)"],
    );
}

#[test]
fn bad_input_exits_2_and_says_what_would_be_right() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    refused(
        &chaosdeck(&state, &["report", "0badc0de"]),
        &[
            "no saved run \"0badc0de\"",
            "no run has been saved there yet",
        ],
    );
    let list = exited(&chaosdeck(&state, &["report"]), 0);
    assert!(list.starts_with("No saved runs in"), "{list}");

    // Two saved runs that share a prefix; one unknown id.
    let run = run_marker(d, &state, &["--json"]);
    let record: RunRecord = serde_json::from_slice(&run.stdout).unwrap();
    let saved = state.join("runs").join(format!("{}.json", record.run_id));
    for copy in ["abcd0001", "abcd0002"] {
        std::fs::copy(&saved, state.join("runs").join(format!("{copy}.json"))).unwrap();
    }
    refused(
        &chaosdeck(&state, &["report", "abcd"]),
        &["\"abcd\" is the start of 2 saved runs (abcd0001, abcd0002)"],
    );
    refused(
        &chaosdeck(&state, &["report", "0badc0de"]),
        &["no saved run \"0badc0de\"", "lists the 3 saved runs"],
    );

    // Files: missing, not JSON, JSON of something else.
    let missing = d.join("nope.json");
    refused(
        &chaosdeck(&state, &["report", missing.to_str().unwrap()]),
        &["cannot read \"", "nope.json\""],
    );
    let garbage = d.join("garbage.json");
    std::fs::write(&garbage, "not json at all").unwrap();
    refused(
        &chaosdeck(&state, &["report", garbage.to_str().unwrap()]),
        &["garbage.json\" is not a run record", "chaosdeck run --json"],
    );
    std::fs::write(&garbage, "{\"run_id\": \"x\"}").unwrap();
    refused(
        &chaosdeck(&state, &["report", garbage.to_str().unwrap()]),
        &["is not a run record", "missing field"],
    );
    refused(
        &chaosdeck(&state, &["report", "--out", "x.md"]),
        &["--out \"x.md\" needs a run"],
    );
}

#[test]
fn a_run_whose_record_cannot_be_saved_still_ends_with_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    std::fs::create_dir_all(&state).unwrap();
    // A file where the folder of saved runs should be.
    std::fs::write(state.join("runs"), "in the way").unwrap();
    let output = run_marker(d, &state, &[]);
    let stdout = exited(&output, 0);
    let stderr = text(&output.stderr);
    assert!(stdout.contains("Result: PASS"), "{stdout}");
    assert!(stderr.contains("warning: cannot save run"), "{stderr}");
    assert!(!d.join("marker").exists(), "torn down all the same");
}

#[test]
fn the_console_saves_a_finished_run_with_its_notes_masked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let folder = marker_catalog(d, "1m");
    // A target flag keeps the console from starting the lab; the fault needs none.
    let command = format!(
        "{bin} --state-dir {state} --catalog {catalog} --report-dir {d} --pid {pid}; echo EXITED $?; sleep 60",
        bin = env!("CARGO_BIN_EXE_chaosdeck"),
        state = state.display(),
        catalog = folder.display(),
        d = d.display(),
        pid = std::process::id(),
    );
    let tmux = support::tmux::Tmux::start(&command, 160, 48);
    let wait = Duration::from_secs(30);
    tmux.wait_for("test-marker", wait);
    tmux.keys(&["/"]);
    tmux.type_text("test-marker");
    tmux.keys(&["Enter", "Enter"]);
    tmux.wait_for("Enter runs preflight", wait);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Press Enter to inject", wait);
    tmux.keys(&["Enter"]);
    tmux.wait_for("OBSERVING", wait);
    tmux.keys(&["n"]);
    tmux.type_text("tried host=db password=hunter2");
    tmux.keys(&["Enter"]);
    tmux.wait_for("tried host=db", wait);
    tmux.keys(&["t"]);
    tmux.wait_for("e writes the report", wait);
    tmux.keys(&["q", "q"]);
    let screen = tmux.wait_for("EXITED", wait);
    assert!(screen.contains("EXITED"), "{screen}");

    let output = chaosdeck(&state, &["report", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed.len(), 1, "{}", text(&output.stdout));
    let id = listed[0]["id"].as_str().unwrap();
    let saved = std::fs::read_to_string(state.join("runs").join(format!("{id}.json"))).unwrap();
    assert!(!saved.contains("hunter2"), "{saved}");
    assert!(saved.contains("tried host=db password=***"), "{saved}");
    let markdown = exited(&chaosdeck(&state, &["report", id]), 0);
    assert!(markdown.contains("Marker file (test-marker)"), "{markdown}");
    let notes = &markdown[markdown.find("## Notes").unwrap()..];
    assert!(notes.contains("tried host=db password=***"), "{notes}");
    assert!(!markdown.contains("hunter2"), "{markdown}");
}
