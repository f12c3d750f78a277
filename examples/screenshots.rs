//! Takes the README's screenshots of the real console: a throwaway PostgreSQL cluster
//! with 20 slots, a small HTTP service that needs a connection per request, the
//! console watching both, and `db-max-connections` run through its gate.
//!
//! `cargo build --release && cargo run --release --example screenshots` writes
//! `assets/catalog.png`, `assets/gate.png`, `assets/dashboard.png` and
//! `assets/result.png` through `scripts/screenshot.sh` (tmux, DejaVu Sans Mono, Pillow),
//! then `assets/lab.png`: the console with no config, on the lab it starts itself,
//! during `db-max-connections`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/http_service.rs"]
#[allow(dead_code)]
mod http_service;

use std::io::Write;
use std::process::{Command, Stdio};

use chaosdeck::lab::{PgCluster, PgClusterOptions};
use http_service::HttpService;

const STEPS: &str = "
until faults
wait 2
shot assets/catalog.png
keys Enter
until Enter runs preflight
keys Enter
until Type the fault id
type db-max-conn
wait 0.5
shot assets/gate.png
type ections
keys Enter
until OBSERVING
wait 20
shot assets/dashboard.png
keys t
until e writes the report
wait 1
shot assets/result.png
keys q q
wait 1
";

const LAB_STEPS: &str = "
until faults
keys Enter
until Enter runs preflight
keys Enter
until Type the fault id
type db-max-connections
keys Enter
until OBSERVING
wait 20
shot assets/lab.png
keys t
until e writes the report
keys q q
wait 10
";

/// Runs `scripts/screenshot.sh` on the release console with `args`, feeding `steps`.
async fn shoot(first: &str, args: Vec<std::ffi::OsString>, steps: &'static str) {
    let console = format!("{}/target/release/chaosdeck", env!("CARGO_MANIFEST_DIR"));
    let mut shot = Command::new("scripts/screenshot.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([first, "160x45", "--", &console])
        .args(args)
        .env("SHOT_TIMEOUT", "90")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    shot.stdin
        .take()
        .unwrap()
        .write_all(steps.as_bytes())
        .unwrap();
    let status = tokio::task::spawn_blocking(move || shot.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "scripts/screenshot.sh failed");
}

#[tokio::main]
async fn main() {
    let cluster =
        PgCluster::start(PgClusterOptions::default().setting("max_connections", "20")).unwrap();
    let service = HttpService::backed_by(&cluster).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"targets:
  shop:
    postgres: {{ conn: "{conn}" }}
services:
  shop:
    probes:
      - {{ name: app-health, http: "{url}" }}
      - {{ name: db-query, sql: SELECT 1, postgres: shop, expect: "1" }}
observe:
  interval: 250ms
  sample_interval: 250ms
"#,
        conn = cluster.conn_string(),
        url = service.url()
    );
    std::fs::write(dir.path().join("targets.yaml"), config).unwrap();
    let args = vec![
        "--config".into(),
        dir.path().join("targets.yaml").into_os_string(),
        "--state-dir".into(),
        dir.path().join("state").into_os_string(),
        "--report-dir".into(),
        dir.path().as_os_str().to_owned(),
    ];
    shoot("assets/catalog.png", args, STEPS).await;
    let args = vec![
        "--state-dir".into(),
        dir.path().join("lab-state").into_os_string(),
    ];
    shoot("assets/lab.png", args, LAB_STEPS).await;
    drop(service);
}
