//! `chaosdeck gameday` end to end: a plan of four faults — PostgreSQL connections
//! exhausted, a container paused, a process frozen, connections refused at the fault
//! proxy — each against a real target watched by its own probe, run by the real
//! binary; the scorecard covers every category and nothing is left on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use chaosdeck::engine::journal::Journal;
use chaosdeck::engine::record::{GamedayRecord, Outcome};
use chaosdeck::lab::PgClusterOptions;
use support::http_service::{Health, HttpService};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_four_fault_game_day_runs_end_to_end() {
    // PostgreSQL and a service that needs it.
    let cluster =
        support::pg_cluster_with(PgClusterOptions::default().setting("max_connections", "20"))
            .unwrap();
    support::pg::client(&cluster)
        .await
        .batch_execute("CREATE ROLE app LOGIN PASSWORD 'apppass'")
        .await
        .unwrap();
    let app = HttpService::start(Health::Postgres(format!(
        "host={} port={} dbname=postgres user=app password=apppass connect_timeout=2",
        cluster.host(),
        cluster.port()
    )))
    .await;
    // A container.
    let docker = support::docker().await.unwrap();
    let image = support::busybox_image(&docker).await.unwrap();
    let web = support::ContainerGuard::start(&docker, &image, None, None).await;
    // A process.
    let worker = Worker(
        std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap(),
    );
    let worker = &worker.0;
    // A service behind the fault proxy.
    let edge = HttpService::start(Health::Switch(Arc::new(AtomicBool::new(true)))).await;
    let listen = format!("127.0.0.1:{}", support::free_port());

    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
targets:
  db: {{ postgres: {{ conn: "{conn}" }} }}
  web: {{ container: {web} }}
  worker: {{ process: {{ pid: {pid} }} }}
  edge: {{ proxy: {{ listen: "{listen}", upstream: "{upstream}" }} }}
services:
  shop:
    probes:
      - {{ name: app-health, http: "{app}" }}
      - {{ name: web-running, container: {web} }}
      - {{ name: worker-alive, process: {{ pid: {pid} }} }}
      - {{ name: edge-health, http: "http://{listen}/health" }}
observe: {{ interval: 250ms, stable_for: 2 }}
"#,
        conn = cluster.conn_string(),
        web = web.name,
        pid = worker.id(),
        upstream = edge.addr,
        app = app.url(),
    );
    std::fs::write(dir.path().join("targets.yaml"), config).unwrap();
    let plan = r#"
name: CI game day
config: targets.yaml
pause: 500ms
experiments:
  - { fault: db-max-connections, target: db, duration: 2s, probes: [app-health] }
  - { fault: container-pause, target: web, duration: 2s, probes: [web-running] }
  - { fault: process-freeze, target: worker, duration: 2s, probes: [worker-alive] }
  - { fault: net-refuse, target: edge, duration: 2s, probes: [edge-health] }
"#;
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();

    let state = dir.path().join("state");
    let report = dir.path().join("gameday.md");
    let output = Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
        .arg("--state-dir")
        .arg(&state)
        .arg("gameday")
        .arg(dir.path().join("plan.yaml"))
        .arg("--yes")
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    let json = std::fs::read_to_string(dir.path().join("gameday.json")).unwrap();
    let record: GamedayRecord = serde_json::from_str(&json).unwrap();
    let faults: Vec<&str> = record.runs.iter().map(|r| r.fault.id.as_str()).collect();
    assert_eq!(
        faults,
        [
            "db-max-connections",
            "container-pause",
            "process-freeze",
            "net-refuse"
        ]
    );
    for run in &record.runs {
        assert_eq!(
            run.verdict.outcome,
            Outcome::Pass,
            "{}: {:?}",
            run.fault.id,
            run.verdict.reasons
        );
        assert!(run.timings.time_to_impact_ms.is_some(), "{}", run.fault.id);
        assert!(run.teardown.iter().all(|s| s.verified), "{}", run.fault.id);
    }
    assert!(record.stopped.is_none());
    let markdown = std::fs::read_to_string(&report).unwrap();
    assert!(markdown.contains("## Scorecard"), "{markdown}");
    // The scorecard section alone (the runs table below it names categories too).
    let scorecard = markdown
        .split("## Scorecard")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    for category in ["database", "container", "process", "network"] {
        let row = scorecard
            .lines()
            .find(|l| l.starts_with(&format!("| {category} ")))
            .unwrap_or_else(|| panic!("no scorecard row for {category}:\n{scorecard}"));
        assert!(
            row.ends_with("| 100 % |"),
            "{category} did not score 100 %: {row}"
        );
    }
    assert!(!markdown.contains("testpass") && !json.contains("testpass"));
    assert!(Journal::open(&state)
        .unwrap()
        .dangling()
        .unwrap()
        .is_empty());
    // Everything is back: the container runs unpaused, the worker is not stopped,
    // nothing listens on the proxy's address.
    let status = chaosdeck::driver::docker::status(&docker, &web.name)
        .await
        .unwrap();
    assert!(status.running && !status.paused);
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", worker.id())).unwrap();
    let state_letter = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert_ne!(state_letter, "T", "the worker is still frozen");
    assert!(std::net::TcpStream::connect(&listen).is_err());
}

/// The test's worker process, killed however the test ends.
struct Worker(std::process::Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
