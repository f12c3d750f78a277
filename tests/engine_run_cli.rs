//! `chaosdeck run` end to end: the real binary exhausts the connections of a
//! throwaway PostgreSQL cluster while an HTTP service that needs a fresh connection
//! per request is probed; the report has every section, times within one probe
//! interval, and no password. SIGTERM in the middle of a run tears the fault down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use chaosdeck::engine::journal::Journal;
use chaosdeck::engine::record::{Outcome, RunRecord, TimelineKind};
use chaosdeck::lab::{PgCluster, PgClusterOptions};
use support::http_service::HttpService;

const SECTIONS: [&str; 11] = [
    "## Summary",
    "## Target",
    "## Parameters",
    "## Approvals",
    "## Timings",
    "## Probes",
    "## Series",
    "## Timeline",
    "## Teardown",
    "## Verdict",
    "## Notes",
];

/// A cluster with 20 slots and a non-superuser `app` role for the service (the
/// superuser-reserved slots stay out of its reach, as in production).
async fn cluster_and_service() -> (PgCluster, HttpService) {
    let cluster =
        support::pg_cluster_with(PgClusterOptions::default().setting("max_connections", "20"))
            .unwrap();
    let service = HttpService::backed_by(&cluster).await;
    (cluster, service)
}

fn chaosdeck(state: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chaosdeck"));
    command.arg("--state-dir").arg(state);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_run_of_db_max_connections_reports_impact_teardown_and_recovery() {
    let (cluster, service) = cluster_and_service().await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.md");
    let output = chaosdeck(&dir.path().join("state"))
        .args(["run", "db-max-connections", "--yes", "--duration", "3s"])
        .arg("--conn")
        .arg(cluster.conn_string())
        .arg("--probe")
        .arg(format!("app-health={}", service.url()))
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("impact"),
        "progress lines while it runs:\n{stdout}"
    );
    assert!(stdout.contains("Result: PASS"), "{stdout}");

    let markdown = std::fs::read_to_string(&report).unwrap();
    let mut from = 0;
    for section in SECTIONS {
        let at = markdown[from..]
            .find(section)
            .unwrap_or_else(|| panic!("{section} missing or out of order:\n{markdown}"));
        from += at;
    }
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let record: RunRecord = serde_json::from_str(&json).unwrap();
    for text in [&markdown, &json, &stdout.to_string()] {
        assert!(!text.contains("testpass"), "a password leaked:\n{text}");
    }
    assert!(record.target.contains("password=***"), "{}", record.target);

    let interval = 250;
    let t = &record.timings;
    // The server starts refusing at some instant while the fill runs (it tops up
    // until refused), so the truth lies between injection's start and its end; the
    // first check after it starts within one interval.
    let offset = |kind: TimelineKind, text: &str| {
        record
            .timeline
            .iter()
            .find(|e| e.kind == kind && e.text.contains(text))
            .map(|e| e.offset_ms)
            .unwrap_or_else(|| panic!("no {kind:?} entry with {text:?}"))
    };
    let inject_ms =
        offset(TimelineKind::Inject, "injected") - offset(TimelineKind::Approval, "approved");
    let impact = t.time_to_impact_ms.expect("impact was seen");
    assert!(
        impact <= inject_ms + interval,
        "time to impact {impact} ms, injection took {inject_ms} ms"
    );
    // Teardown closes the sessions before it verifies none is left, so the truth is
    // "as soon as teardown is done".
    let recover = t.time_to_recover_ms.expect("recovery was seen");
    // (10 ms of slack for the scheduler of a busy 2-core CI machine.)
    assert!(recover <= interval + 10, "time to recover {recover} ms");
    assert!(t.teardown_ms.is_some());
    assert_eq!(record.verdict.outcome, Outcome::Pass);
    assert_eq!(record.verdict.impact_seen, Some(true));
    assert_eq!(record.approvals.len(), 1);
    assert_eq!(record.approvals[0].by, "--yes");
    assert!(record.teardown.iter().all(|s| s.verified));
    let total = record
        .series
        .iter()
        .find(|s| s.name == "pg.connections.total")
        .expect("the PostgreSQL sampler ran");
    assert!(total.max >= 18.0, "connections peaked at {}", total.max);
    assert!(Journal::open(&dir.path().join("state"))
        .unwrap()
        .dangling()
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_run_tears_the_fault_down() {
    let (cluster, service) = cluster_and_service().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let child = chaosdeck(&state)
        .args([
            "run",
            "db-max-connections",
            "--yes",
            "--duration",
            "5m",
            "--json",
        ])
        .arg("--conn")
        .arg(cluster.conn_string())
        .arg("--probe")
        .arg(format!("app-health={}", service.url()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the fault is on: the service starts failing.
    let client = support::pg::client(&cluster).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'chaosdeck:%:db-max-connections'",
                &[],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) >= 10 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the fault never went on"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let record: RunRecord =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}\n{stdout}\n{stderr}"));
    assert_eq!(record.verdict.ended_by, "terminate");
    assert!(record.teardown.iter().all(|s| s.verified), "{stderr}");
    // Interrupted: the expectation was not judged to the end, so no pass.
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let row = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'chaosdeck:%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 0);
    assert!(Journal::open(&state)
        .unwrap()
        .dangling()
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_a_config_and_no_target_takes_the_configs_target() {
    let cluster = support::pg_cluster().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("targets.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
targets:
  db: {{ postgres: {{ conn: "{conn}" }} }}
services:
  shop:
    probes:
      - {{ name: db-query, sql: SELECT 1, postgres: db, expect: "1" }}
observe: {{ interval: 250ms, stable_for: 2 }}
"#,
            conn = cluster.conn_string()
        ),
    )
    .unwrap();
    let output = chaosdeck(&dir.path().join("state"))
        .arg("--config")
        .arg(&config)
        .args(["run", "pg-idle-in-transaction", "--param", "count=2"])
        .args(["--yes", "--duration", "1s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("pg-idle-in-transaction injected"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "target           postgres host={}",
            cluster.host()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("testpass"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_bad_input_said_on_one_line_without_the_password() {
    let cluster = support::pg_cluster().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conn = format!(
        "host={} port={} dbname=postgres user=postgres password=not-the-password",
        cluster.host(),
        cluster.port()
    );
    let output = chaosdeck(&dir.path().join("state"))
        .args(["run", "db-max-connections", "--yes", "--conn", &conn])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "no run started:\n{stdout}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot run db-max-connections: postgres.hold_connections on host={} port={} dbname=postgres user=postgres password=*** — ",
            cluster.host(),
            cluster.port()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_probes_does_not_wait_for_a_recovery_it_cannot_see() {
    let cluster = support::pg_cluster().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let output = chaosdeck(&dir.path().join("state"))
        .args(["run", "pg-idle-in-transaction", "--param", "count=2"])
        .args(["--yes", "--duration", "1s", "--conn"])
        .arg(cluster.conn_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Its recover_within is 30 s: the run used to wait all of it, then fail.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}:\n{stdout}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Result: PASS"), "{stdout}");
    assert!(
        stdout.contains("recovery not measured (no steady-state probe)"),
        "{stdout}"
    );
    assert!(!stdout.contains("not recovered"), "{stdout}");
}
