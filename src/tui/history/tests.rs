//! Past runs folded from hand-built journal records.
use super::*;

fn rec(at: &str, run: &str, fault: &str, step: usize, event: Event) -> Record {
    Record {
        at: format!("2026-05-01T10:{at}Z"),
        run: run.into(),
        fault: fault.into(),
        step,
        event,
    }
}

fn approved(target: &str) -> Event {
    Event::Approved {
        severity: "high".into(),
        target: target.into(),
        how: "console: typed the fault id".into(),
    }
}

fn intent() -> Event {
    Event::Intent {
        action: "docker.pause".into(),
        lifetime: "persistent".into(),
        target: serde_json::json!({"container": "shop"}),
        undo: serde_json::json!({"unpause": "shop"}),
        blast_radius: "pause container shop".into(),
    }
}

fn undone(verification: Verification) -> Event {
    Event::Undone { verification }
}

fn verdict(outcome: &str) -> Event {
    Event::Verdict {
        outcome: outcome.into(),
        ended_by: "duration".into(),
        time_to_impact_ms: Some(850),
        time_to_recover_ms: Some(1_400),
    }
}

#[test]
fn runs_come_newest_first_with_their_verdict_and_approval() {
    let records = vec![
        rec(
            "00:00.000",
            "r1",
            "db-max-connections",
            0,
            approved("postgres host=db"),
        ),
        rec("00:01.000", "r1", "db-max-connections", 0, intent()),
        rec(
            "00:02.000",
            "r1",
            "db-max-connections",
            0,
            undone(Verification::Verified),
        ),
        rec("00:03.000", "r1", "db-max-connections", 0, verdict("pass")),
        rec("05:00.000", "r2", "container-pause", 0, verdict("aborted")),
    ];
    let rows = history_rows(&records);
    let runs: Vec<&str> = rows.iter().map(|r| r.run.as_str()).collect();
    assert_eq!(runs, vec!["r2", "r1"]);
    let r1 = &rows[1];
    assert_eq!(r1.fault, "db-max-connections");
    assert_eq!(r1.started_at, "2026-05-01T10:00:00.000Z");
    assert_eq!(r1.target, "postgres host=db");
    assert_eq!(
        r1.approved_by.as_deref(),
        Some("console: typed the fault id")
    );
    assert_eq!(r1.steps, 1);
    assert_eq!(r1.status, RunStatus::TornDown);
    assert_eq!(r1.outcome.as_deref(), Some("pass"));
    assert_eq!(r1.time_to_impact_ms, Some(850));
    assert_eq!(r1.time_to_recover_ms, Some(1_400));
    let r2 = &rows[0];
    assert_eq!(r2.status, RunStatus::NotInjected);
    assert_eq!(r2.steps, 0);
    assert_eq!(r2.approved_by, None);
    assert_eq!(r2.outcome.as_deref(), Some("aborted"));
}

#[test]
fn a_step_never_undone_is_on_and_wins_over_a_residual_one() {
    let records = vec![
        rec("00:00.000", "r1", "compound", 0, approved("container shop")),
        rec("00:01.000", "r1", "container-pause", 0, intent()),
        rec(
            "00:01.500",
            "r1",
            "container-pause",
            0,
            Event::Applied { undo: None },
        ),
        rec("00:02.000", "r1", "cpu-burn", 1, intent()),
        rec(
            "00:03.000",
            "r1",
            "cpu-burn",
            1,
            undone(Verification::Residual("still hot".into())),
        ),
    ];
    let rows = history_rows(&records);
    assert_eq!(rows[0].fault, "compound");
    assert_eq!(rows[0].steps, 2);
    assert_eq!(rows[0].status, RunStatus::On);
    assert_eq!(rows[0].outcome, None);
}

#[test]
fn residual_and_failed_undos_say_what_is_still_wrong() {
    let records = vec![
        rec("00:01.000", "r1", "db-settings", 0, intent()),
        rec(
            "00:02.000",
            "r1",
            "db-settings",
            0,
            undone(Verification::Residual("max_connections is 5".into())),
        ),
        rec("00:03.000", "r1", "db-settings", 1, intent()),
        rec(
            "00:04.000",
            "r1",
            "db-settings",
            1,
            Event::UndoFailed {
                error: "connection refused".into(),
            },
        ),
        rec(
            "00:05.000",
            "r1",
            "db-settings",
            0,
            verdict("teardown failed"),
        ),
    ];
    let rows = history_rows(&records);
    assert_eq!(
        rows[0].status,
        RunStatus::Residual("max_connections is 5; undo failed: connection refused".into())
    );
    assert_eq!(rows[0].status.word(), "residual");
}

#[test]
fn a_later_verified_teardown_of_a_dangling_run_tears_it_down() {
    let records = vec![
        rec("00:01.000", "r1", "container-pause", 0, intent()),
        rec(
            "00:02.000",
            "r1",
            "container-pause",
            0,
            undone(Verification::Residual("paused".into())),
        ),
        rec(
            "09:00.000",
            "r1",
            "container-pause",
            0,
            undone(Verification::Verified),
        ),
    ];
    assert_eq!(history_rows(&records)[0].status, RunStatus::TornDown);
}

#[test]
fn a_forgotten_run_says_so_not_torn_down() {
    let records = vec![
        rec("00:01.000", "r1", "k8s-no-endpoints", 0, intent()),
        rec(
            "00:02.000",
            "r1",
            "k8s-no-endpoints",
            0,
            Event::UndoFailed {
                error: "kubectl: no cluster".into(),
            },
        ),
        rec(
            "09:00.000",
            "r1",
            "k8s-no-endpoints",
            0,
            Event::Forgotten {
                reason: "the operator says its target is gone".into(),
            },
        ),
    ];
    let rows = history_rows(&records);
    assert_eq!(rows[0].status, RunStatus::Forgotten);
    assert_eq!(rows[0].status.word(), "forgotten");
}

#[test]
fn passwords_in_targets_and_residuals_are_masked() {
    let records = vec![
        rec(
            "00:00.000",
            "r1",
            "f",
            0,
            approved("postgres postgres://app:hunter2@db/shop, container c"),
        ),
        rec("00:01.000", "r1", "f", 0, intent()),
        rec(
            "00:02.000",
            "r1",
            "f",
            0,
            undone(Verification::Residual(
                "session host=db password=hunter2 open".into(),
            )),
        ),
    ];
    let row = &history_rows(&records)[0];
    assert_eq!(
        row.target,
        "postgres postgres://app:***@db/shop, container c"
    );
    assert_eq!(
        row.status,
        RunStatus::Residual("session host=db password=*** open".into())
    );
    assert!(!format!("{row:?}").contains("hunter2"));
}

#[test]
fn no_records_no_rows() {
    assert!(history_rows(&[]).is_empty());
}
