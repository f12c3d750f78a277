//! `chaosdeck teardown` as scripts and operators use it: `--json` prints JSON only,
//! the steps a holder process tore down are reported like the others.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::cli::{chaosdeck, exited, text};

/// The catalog folder of `test-marker` (see support::cli::marker_fault) in `dir`, as
/// the `--catalog` argument.
fn marker_catalog(dir: &Path) -> String {
    let folder = support::cli::marker_catalog(dir, "1m");
    folder.to_str().unwrap().to_string()
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
    let stdout = exited(&out, 0);
    let parsed: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"));
    assert_eq!(
        parsed,
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
