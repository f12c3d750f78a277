//! `chaosdeck doctor` against real parts: a throwaway PostgreSQL cluster that answers
//! and a closed port that does not, the local Docker engine, a fault left dangling by
//! a holder process killed with SIGKILL, and bad config files. Exit 0 when nothing
//! fails, 1 when a check fails, 2 on bad input; no password is ever printed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::cli::{chaosdeck, marker_catalog};

use std::process::Output;
use std::time::{Duration, Instant};

use chaosdeck::engine::journal::{Event, Journal};
use chaosdeck::lab::{PgCluster, PgClusterOptions};

const PASSWORD: &str = "d0ctor-s3cret";

fn cluster() -> PgCluster {
    support::pg_cluster_with(PgClusterOptions {
        password: PASSWORD.into(),
        ..PgClusterOptions::default()
    })
    .unwrap()
}

/// stdout and stderr, checked for the password on the way.
fn text(output: &Output) -> (String, String) {
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(
        !out.contains(PASSWORD) && !err.contains(PASSWORD),
        "a password was printed:\n{out}\n{err}"
    );
    (out, err)
}

/// The line of check `name` (the first one).
fn line<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(name)))
        .unwrap_or_else(|| panic!("no {name:?} line in:\n{stdout}"))
}

fn closed_conn() -> String {
    format!(
        "host=127.0.0.1 port={} dbname=shop user=postgres password={PASSWORD} connect_timeout=2",
        support::free_port()
    )
}

#[test]
fn a_running_cluster_is_ok_and_a_closed_port_fails_with_the_reason() {
    let cluster = cluster();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let docker_answers = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(support::docker())
        .is_some();

    let output = chaosdeck(&state, &["doctor", "--conn", &cluster.conn_string()]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let pg = line(&stdout, "target flags/postgres");
    assert!(pg.starts_with("ok "), "{pg}");
    assert!(pg.contains("password=***: PostgreSQL"), "{pg}");
    assert!(line(&stdout, "state folder").starts_with("ok "), "{stdout}");
    assert!(line(&stdout, "dangling").starts_with("ok "), "{stdout}");
    // The cluster was started from these binaries, so the lab finds them too.
    let bins = line(&stdout, "postgres binaries");
    assert!(
        bins.starts_with("ok ") && bins.contains("initdb, pg_ctl"),
        "{bins}"
    );
    if docker_answers {
        let docker = line(&stdout, "docker");
        assert!(
            docker.starts_with("ok    docker") && docker.contains("Docker "),
            "{docker}"
        );
    }

    let output = chaosdeck(&state, &["doctor", "--conn", &closed_conn()]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let pg = line(&stdout, "target flags/postgres");
    assert!(pg.starts_with("fail "), "{pg}");
    assert!(pg.to_lowercase().contains("refused"), "the reason: {pg}");
    assert!(pg.contains(" — fix: check that the server runs"), "{pg}");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.contains(" 1 failed, ")),
        "{stdout}"
    );

    // The same as JSON.
    let output = chaosdeck(&state, &["doctor", "--conn", &closed_conn(), "--json"]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["failed"], 1);
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "target flags/postgres")
        .unwrap();
    assert_eq!(check["level"], "fail");
    assert!(check["fix"].as_str().unwrap().contains("pg_hba.conf"));
}

#[test]
fn every_configured_target_is_reached_and_named() {
    let cluster = cluster();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("targets.yaml");
    let closed = support::free_port();
    std::fs::write(
        &config,
        format!(
            "targets:\n  shop:\n    postgres: {{ conn: \"{}\" }}\n  gone:\n    proxy: {{ listen: \"127.0.0.1:{}\", upstream: \"127.0.0.1:{closed}\" }}\n",
            cluster.conn_string(),
            support::free_port()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let state = dir.path().join("state");
    let output = chaosdeck(&state, &["--config", config, "doctor"]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        line(&stdout, "target shop/postgres").starts_with("ok "),
        "{stdout}"
    );
    let gone = line(&stdout, "target gone/proxy");
    assert!(gone.starts_with("fail "), "{gone}");
    assert!(
        gone.contains(&format!("upstream 127.0.0.1:{closed}: connection refused")),
        "{gone}"
    );
    // Only the one that answers: nothing fails.
    let output = chaosdeck(&state, &["--config", config, "doctor", "--target", "shop"]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("target gone"), "{stdout}");
}

/// Kills the holder a failed test left running.
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn a_dangling_fault_fails_by_name_until_teardown_dangling() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let folder = marker_catalog(d, "2m");
    let catalog_arg = folder.to_str().unwrap();
    let output = chaosdeck(
        &state,
        &["--catalog", catalog_arg, "inject", "test-marker", "--yes"],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(d.join("marker").exists());
    let journal = Journal::open(&state).unwrap();
    let records = journal.records().unwrap();
    let (run, holder) = records
        .iter()
        .find_map(|r| match r.event {
            Event::Holder { pid, .. } => Some((r.run.clone(), pid)),
            _ => None,
        })
        .unwrap();
    let mut guard = KillOnDrop(Some(holder));

    // On, with its holder alive.
    let output = chaosdeck(&state, &["--catalog", catalog_arg, "doctor"]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let dangling = line(&stdout, "dangling");
    assert!(dangling.starts_with("fail "), "{dangling}");
    assert!(
        dangling.contains(&format!("run {run}: test-marker command")),
        "{dangling}"
    );
    assert!(
        dangling.contains(&format!("still held by pid {holder}")),
        "{dangling}"
    );
    assert!(
        dangling.contains("fix: chaosdeck teardown --dangling"),
        "{dangling}"
    );

    // The holder dies without undoing: the fault is still named, its holder gone.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(holder as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while chaosdeck::driver::process::procfs::read_stat(holder).is_some_and(|s| s.state != 'Z') {
        assert!(Instant::now() < deadline, "the holder did not die");
        std::thread::sleep(Duration::from_millis(50));
    }
    guard.0 = None;
    let output = chaosdeck(&state, &["--catalog", catalog_arg, "doctor"]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let dangling = line(&stdout, "dangling");
    assert!(
        dangling.contains(&format!("its holder (pid {holder}) is gone")),
        "{dangling}"
    );
    assert!(d.join("marker").exists(), "the fault outlived its holder");

    let output = chaosdeck(
        &state,
        &["--catalog", catalog_arg, "teardown", "--dangling"],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!d.join("marker").exists());
    let output = chaosdeck(&state, &["--catalog", catalog_arg, "doctor"]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        line(&stdout, "dangling").starts_with("ok    dangling"),
        "{stdout}"
    );
    assert!(line(&stdout, "journal").contains("records, readable and writable"));
}

#[test]
fn a_state_folder_that_is_a_file_fails_and_a_torn_journal_warns() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "").unwrap();
    let output = chaosdeck(&file, &["doctor"]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let state = line(&stdout, "state folder");
    assert!(
        state.starts_with("fail ") && state.contains("is not a folder"),
        "{state}"
    );

    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("journal.jsonl"), "{\"at\":\"2026-").unwrap();
    let output = chaosdeck(&state, &["doctor"]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(0), "warnings only:\n{stdout}");
    let journal = line(&stdout, "journal");
    assert!(
        journal.starts_with("warn ") && journal.contains("1 unreadable line"),
        "{journal}"
    );
}

#[test]
fn bad_input_exits_2_with_the_same_messages_as_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("targets.yaml");
    std::fs::write(&config, "targets:\n  shop:\n    postgress: {}\n").unwrap();
    let output = chaosdeck(d, &["--config", config.to_str().unwrap(), "doctor"]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("targets.yaml:3:5"), "{stderr}");

    std::fs::write(
        &config,
        format!(
            "targets:\n  shop:\n    postgres: {{ conn: \"{}\" }}\n",
            closed_conn()
        ),
    )
    .unwrap();
    let output = chaosdeck(
        d,
        &[
            "--config",
            config.to_str().unwrap(),
            "doctor",
            "--target",
            "shpo",
        ],
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("\"shpo\""), "{stderr}");
    assert!(stderr.contains("shop"), "suggests the right name: {stderr}");

    let output = chaosdeck(d, &["doctor", "--target", "shop"]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pass --config targets.yaml"), "{stderr}");

    let output = chaosdeck(
        d,
        &[
            "doctor",
            "--conn",
            &format!("host=x port=notaport password={PASSWORD}"),
        ],
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid connection string"), "{stderr}");
}

/// The `kubectl` check of `doctor --json`.
fn kubectl_check(stdout: &str) -> serde_json::Value {
    let json: serde_json::Value = serde_json::from_str(stdout).unwrap();
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "kubectl")
        .unwrap_or_else(|| panic!("no kubectl check in:\n{stdout}"))
        .clone()
}

#[test]
fn kubectl_that_reaches_no_cluster_is_a_warning_with_kubectls_reason() {
    if support::real_kubectl().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (kubeconfig, port) = support::kubeconfig_to_nowhere(dir.path());
    let doctor = |args: &[&str]| {
        support::cli::command(&state, args)
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap()
    };
    let started = Instant::now();
    let output = doctor(&["doctor"]);
    let (stdout, stderr) = text(&output);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "a warning, not a failure:\n{stdout}\n{stderr}"
    );
    let kubectl = line(&stdout, "kubectl");
    let reason = format!(
        "kubectl reaches no cluster: The connection to the server 127.0.0.1:{port} was refused"
    );
    assert!(kubectl.starts_with("warn  kubectl "), "{kubectl}");
    assert!(kubectl.contains(&reason), "{kubectl}");
    assert!(
        kubectl.contains(" — fix: only kubernetes faults need a cluster"),
        "{kubectl}"
    );
    assert!(!stdout.contains("t0ken"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains("kubectl")).count(),
        1,
        "{stdout}"
    );

    let output = doctor(&["doctor", "--json"]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let check = kubectl_check(&stdout);
    assert_eq!(check["level"], "warn", "{check}");
    let found = check["found"].as_str().unwrap();
    assert!(found.starts_with(&reason), "{found}");
    assert!(!found.contains('\n'), "one line: {found}");
    assert!(
        check["fix"].as_str().unwrap().contains("KUBECONFIG"),
        "{check}"
    );
}

/// A folder holding only `kubectl`, a stand-in running `body`, to be the whole PATH.
fn path_with_kubectl(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let kubectl = bin.join("kubectl");
    std::fs::write(&kubectl, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn kubectl_that_reaches_a_cluster_is_ok_with_its_version_and_none_installed_warns() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // `kubectl version` as it prints when a server answers.
    let bin = path_with_kubectl(
        dir.path(),
        "printf 'Client Version: v1.32.4\\nKustomize Version: v5.5.0\\nServer Version: v1.31.2\\n'",
    );
    let output = support::cli::command(&state, &["doctor", "--json"])
        .env("PATH", &bin)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    let check = kubectl_check(&stdout);
    assert_eq!(check["level"], "ok", "{check}\n{stderr}");
    let found = check["found"].as_str().unwrap();
    assert!(
        found.starts_with("a cluster answers, ") && found.ends_with(" ms (server v1.31.2)"),
        "{found}"
    );

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = support::cli::command(&state, &["doctor"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let kubectl = line(&stdout, "kubectl");
    assert!(
        kubectl.starts_with("warn  kubectl ")
            && kubectl.contains("kubectl not installed: kubernetes faults unavailable"),
        "{kubectl}"
    );
}
