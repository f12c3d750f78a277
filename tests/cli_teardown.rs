//! `chaosdeck teardown` as scripts and operators use it: `--json` prints JSON only,
//! the steps a holder process tore down are reported like the others.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};
use support::cli::{chaosdeck, exited, text};

/// The catalog folder of `test-marker` (see support::cli::marker_fault) in `dir`, as
/// the `--catalog` argument.
fn marker_catalog(dir: &Path) -> String {
    let folder = support::cli::marker_catalog(dir, "1m");
    folder.to_str().unwrap().to_string()
}

/// What `out` printed on stdout, which must be JSON and nothing else, after exit 0.
fn json_stdout(out: &Output) -> Value {
    let stdout = exited(out, 0);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

#[test]
fn teardown_json_prints_an_empty_list_when_nothing_is_on() {
    let state = tempfile::tempdir().unwrap();
    for args in [
        &["teardown", "--all", "--json"][..],
        &["teardown", "--dangling", "--json"],
        &["teardown", "db-max-connections", "--json"],
    ] {
        let out = chaosdeck(state.path(), args);
        let stdout = exited(&out, 0);
        let parsed: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}):\n{stdout}"));
        assert_eq!(parsed, json!([]), "{args:?}");
        assert!(
            text(&out.stderr).contains("Nothing to tear down"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn teardown_json_lists_the_steps_a_holder_tore_down() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let catalog = marker_catalog(dir.path());
    let marker = dir.path().join("marker");
    let out = chaosdeck(
        &state,
        &["--catalog", &catalog, "inject", "test-marker", "--yes"],
    );
    exited(&out, 0);
    assert!(marker.exists());
    let run = chaosdeck::engine::journal::Journal::open(&state)
        .unwrap()
        .dangling()
        .unwrap()[0]
        .intent
        .run
        .clone();

    let out = chaosdeck(
        &state,
        &["--catalog", &catalog, "teardown", "--all", "--json"],
    );
    assert_eq!(
        json_stdout(&out),
        json!([{
            "run": run,
            "fault": "test-marker",
            "action": "command",
            "result": "verified",
            "undone_by": "holder",
        }])
    );
    assert!(!marker.exists(), "the marker outlived teardown");

    // And as text: the step, not only the run.
    let out = chaosdeck(
        &state,
        &["--catalog", &catalog, "inject", "test-marker", "--yes"],
    );
    exited(&out, 0);
    let out = chaosdeck(&state, &["--catalog", &catalog, "teardown", "test-marker"]);
    let stdout = exited(&out, 0);
    assert!(
        stdout.contains("test-marker command: verified (by its holder process)"),
        "{stdout}"
    );
    assert!(!marker.exists());
}

#[test]
fn a_mistyped_fault_id_is_refused_with_the_nearest_id() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    for args in [
        &["teardown", "db-max-conections"][..],
        &["teardown", "--id", "db-max-conections", "--json"],
    ] {
        let out = chaosdeck(&state, args);
        support::cli::refused(
            &out,
            &[
                "\"db-max-conections\" is not a fault of the catalog",
                "did you mean \"db-max-connections\"?",
            ],
        );
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }

    // A catalog id that is not on is no error.
    let out = chaosdeck(&state, &["teardown", "db-max-connections"]);
    let stdout = exited(&out, 0);
    assert!(
        stdout.contains("Nothing to tear down: the journal has no \"db-max-connections\" on."),
        "{stdout}"
    );
    // Nor is a fault of a --catalog folder, or one the journal knows from a folder
    // not passed this time.
    let catalog = marker_catalog(dir.path());
    let out = chaosdeck(&state, &["--catalog", &catalog, "teardown", "test-marker"]);
    exited(&out, 0);
    let out = chaosdeck(&state, &["teardown", "test-marker"]);
    support::cli::refused(&out, &["\"test-marker\" is not a fault of the catalog"]);
    let out = chaosdeck(
        &state,
        &["--catalog", &catalog, "inject", "test-marker", "--yes"],
    );
    exited(&out, 0);
    let out = chaosdeck(&state, &["--catalog", &catalog, "teardown", "test-marker"]);
    exited(&out, 0);
    let out = chaosdeck(&state, &["teardown", "test-marker"]);
    let stdout = exited(&out, 0);
    assert!(stdout.contains("Nothing to tear down"), "{stdout}");
}

/// `test-marker` and `test-broken`, whose command fails and whose undo fails too (a
/// target that is gone), in a catalog folder in `dir`, as the `--catalog` argument.
fn broken_catalog(dir: &Path) -> String {
    let broken = r#"
- id: test-broken
  name: Target gone
  category: host
  severity: low
  target: command
  description: Its command fails, and so does its undo.
  actions:
    - command: { run: ["false"], undo: ["false"], verify: ["false"], timeout: 5s }
  expect: { impact: [], recover_within: 5s }
  ttl: 1m
"#;
    let yaml = support::cli::marker_fault(&dir.join("marker"), "1m") + broken;
    let folder = support::cli::catalog_folder(dir, &yaml);
    folder.to_str().unwrap().to_string()
}

/// The run id of the newest approval in the journal of `state`.
fn last_run(state: &Path) -> String {
    let journal = chaosdeck::engine::journal::Journal::open(state).unwrap();
    journal
        .records()
        .unwrap()
        .into_iter()
        .rev()
        .find(|r| matches!(r.event, chaosdeck::engine::journal::Event::Approved { .. }))
        .unwrap()
        .run
}

#[test]
fn a_fault_whose_apply_and_undo_failed_is_named_and_can_be_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let catalog = broken_catalog(dir.path());
    let cd = |args: &[&str]| {
        let mut all = vec!["--catalog", catalog.as_str()];
        all.extend(args);
        chaosdeck(&state, &all)
    };

    // The apply fails and its undo too: said so, with the ways out.
    let out = cd(&["inject", "test-broken", "--yes"]);
    exited(&out, 3);
    let run = last_run(&state);
    let stderr = text(&out.stderr);
    let said = stderr
        .lines()
        .find(|l| l.starts_with("test-broken: "))
        .unwrap_or_else(|| panic!("no line about test-broken:\n{stderr}"));
    for wanted in [
        "test-broken: command failed (",
        "and undoing what it had done failed too (command failed: ",
        &format!("it stays in the journal as run {run}"),
        "`chaosdeck teardown --dangling`",
        &format!("`chaosdeck teardown --forget {run}`"),
    ] {
        assert!(said.contains(wanted), "expected {wanted:?} in:\n{said}");
    }
    exited(&cd(&["teardown", "--dangling"]), 3);

    // run refuses, naming the fault left on, its run and the way out.
    let out = cd(&["run", "test-marker", "--yes", "--duration", "200ms"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "1 fault step(s) from earlier runs are still on: test-broken on command (run {run})"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("`chaosdeck teardown --forget {run}`")),
        "{stdout}"
    );
    assert!(!dir.path().join("marker").exists(), "the run went on");

    // --forget takes exact ids only.
    for wrong in [&run[..4], "test-brok", "nothing"] {
        support::cli::refused(
            &cd(&["teardown", "--forget", wrong]),
            &["no run or fault with exactly that id is on", &run],
        );
    }
    let out = cd(&["teardown", "--forget", &run]);
    let stdout = exited(&out, 0);
    assert!(stdout.contains("Forgot test-broken"), "{stdout}");
    assert!(stdout.contains(&format!("(run {run}):")), "{stdout}");
    assert!(
        stdout.contains("test-broken command: closed without undoing it (last known: undo failed)"),
        "{stdout}"
    );
    let journal = chaosdeck::engine::journal::Journal::open(&state).unwrap();
    assert!(journal.dangling().unwrap().is_empty());
    assert!(matches!(
        journal.records().unwrap().pop().unwrap().event,
        chaosdeck::engine::journal::Event::Forgotten { .. }
    ));
    let stdout = exited(&cd(&["teardown", "--dangling"]), 0);
    assert!(stdout.contains("Nothing to tear down"), "{stdout}");
    let out = cd(&["run", "test-marker", "--yes", "--duration", "200ms"]);
    assert!(
        !text(&out.stdout).contains("from earlier runs are still on"),
        "{}",
        text(&out.stdout)
    );

    // By fault id, as JSON.
    exited(&cd(&["inject", "test-broken", "--yes"]), 3);
    let again = last_run(&state);
    let out = cd(&["teardown", "--forget", "test-broken", "--json"]);
    assert_eq!(
        json_stdout(&out),
        json!([{
            "run": again,
            "fault": "test-broken",
            "action": "command",
            "last_known": "undo failed",
            "result": "forgotten",
        }])
    );
    assert!(text(&out.stderr).contains("Forgot test-broken"));

    // A fault its holder still holds is torn down, not forgotten.
    exited(&cd(&["inject", "test-marker", "--yes"]), 0);
    support::cli::refused(
        &cd(&["teardown", "--forget", "test-marker"]),
        &["is held by pid", "`chaosdeck teardown test-marker` ends it"],
    );
    exited(&cd(&["teardown", "test-marker"]), 0);
    assert!(!dir.path().join("marker").exists());
}
