//! `chaosdeck inject` and `teardown` as an operator runs them, against a real
//! throwaway PostgreSQL cluster: the fault stays on after `inject` returns, the
//! journal knows it, and teardown (even after the holder was SIGKILLed) restores
//! the server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::cli::chaosdeck;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use chaosdeck::engine::journal::{Event, Journal};
use chaosdeck::lab::{PgCluster, PgClusterOptions};

/// Ends holder processes a failed test left running (by the pids in its journal).
struct Holders<'a>(&'a Path);

impl Drop for Holders<'_> {
    fn drop(&mut self) {
        let Ok(journal) = Journal::open(self.0) else {
            return;
        };
        for record in journal.records().unwrap_or_default() {
            if let Event::Holder { pid, start_time } = record.event {
                if chaosdeck::driver::process::procfs::is_same_live(pid, start_time) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
}

fn holder_pid(journal: &Journal) -> u32 {
    journal
        .records()
        .unwrap()
        .into_iter()
        .find_map(|r| match r.event {
            Event::Holder { pid, .. } => Some(pid),
            _ => None,
        })
        .expect("a holder record")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn small_cluster() -> Option<PgCluster> {
    support::pg_cluster_with(PgClusterOptions {
        max_connections: 20,
        ..PgClusterOptions::default()
    })
}

/// Tries a fresh connection; the SQLSTATE when the server refuses it.
fn connect_error(cluster: &PgCluster) -> Option<String> {
    support::pg::block_on(async {
        match support::pg::connect(cluster).await {
            Ok(client) => {
                client.simple_query("SELECT 1").await.unwrap();
                None
            }
            Err(e) => Some(support::pg::code(&e)),
        }
    })
}

/// Whether a fresh session may write: `None`, or the SQLSTATE it got (25006 when the
/// cluster is read-only).
fn write_error(cluster: &PgCluster) -> Option<String> {
    support::pg::with_session(cluster, |client| async move {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS orders (id int); INSERT INTO orders VALUES (1)",
            )
            .await
            .err()
            .map(|e| support::pg::code(&e))
    })
}

/// Sessions chaosdeck holds open on `cluster` (tagged `chaosdeck:<run>:<fault>`).
fn chaosdeck_sessions(cluster: &PgCluster) -> i64 {
    support::pg::with_session(cluster, |client| async move {
        client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'chaosdeck:%'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    })
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn inject_leaves_the_fault_on_and_teardown_restores_the_server() {
    let Some(cluster) = small_cluster() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let _holders = Holders(state.path());
    let conn = cluster.conn_string();
    let out = chaosdeck(
        state.path(),
        &["inject", "db-max-connections", "--conn", &conn, "--yes"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with(
            "Failure injected: Max connections exhausted\n\nSuggested prompt for the responder:\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("password=***"), "{stdout}");
    assert!(
        !stdout.contains("testpass") && !stderr.contains("testpass"),
        "password leaked:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("To tear down: chaosdeck teardown --id db-max-connections [same flags]"),
        "{stdout}"
    );
    assert!(stderr.contains("hold 19 of 20 connections"), "{stderr}");

    // The fault outlives the `inject` command.
    assert_eq!(connect_error(&cluster).as_deref(), Some("53300"));
    let journal = Journal::open(state.path()).unwrap();
    assert_eq!(journal.dangling().unwrap().len(), 1);
    let log = std::fs::read_to_string(journal.path()).unwrap();
    assert!(!log.contains("testpass"), "the journal holds the password");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", holder_pid(&journal))).unwrap();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("testpass"),
        "ps shows the password"
    );

    let out = chaosdeck(
        state.path(),
        &["teardown", "--id", "db-max-connections", "--conn", &conn],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(connect_error(&cluster), None);
    assert!(journal.dangling().unwrap().is_empty());
    let records = journal.records().unwrap();
    assert!(records
        .iter()
        .any(|r| matches!(r.event, Event::Approved { .. })));

    // The holder logged to a file in the state folder, with the password masked.
    let log = std::fs::read_to_string(state.path().join("chaosdeck.log")).unwrap();
    assert!(log.contains("db-max-connections is on"), "{log}");
    assert!(
        log.contains("tearing down db-max-connections (SIGTERM)"),
        "{log}"
    );
    assert!(!log.contains("testpass"), "{log}");

    // Tearing down again is not an error.
    let out = chaosdeck(state.path(), &["teardown", "--id", "db-max-connections"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("Nothing to tear down"));
}

#[test]
fn teardown_dangling_restores_the_server_after_the_holder_is_killed() {
    let Some(cluster) = small_cluster() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let _holders = Holders(state.path());
    let conn = cluster.conn_string();
    let out = chaosdeck(
        state.path(),
        &[
            "inject",
            "pg-idle-in-transaction",
            "--conn",
            &conn,
            "--yes",
            "--param",
            "count=4",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let journal = Journal::open(state.path()).unwrap();
    let holder = holder_pid(&journal);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(holder as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the holder is gone", || {
        chaosdeck::driver::process::procfs::read_stat(holder).is_none_or(|s| s.state == 'Z')
    });
    assert_eq!(
        journal.dangling().unwrap().len(),
        1,
        "a killed holder leaves its fault dangling"
    );

    let out = chaosdeck(state.path(), &["teardown", "--dangling", "--conn", &conn]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("postgres.idle_in_transaction: verified"),
        "{stdout}"
    );
    assert!(journal.dangling().unwrap().is_empty());
    // chaosdeck's own sessions for the fault are gone too.
    assert_eq!(chaosdeck_sessions(&cluster), 0);
}

#[test]
fn approval_policy_and_dry_run_touch_nothing() {
    let Some(cluster) = small_cluster() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let _holders = Holders(state.path());
    let conn = cluster.conn_string();

    let out = chaosdeck(
        state.path(),
        &["inject", "db-max-connections", "--conn", &conn],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("\"db-max-connections\" is high severity: pass --yes"),
        "{:?}",
        text(&out)
    );

    let out = chaosdeck(
        state.path(),
        &["inject", "db-connection-refused", "--conn", &conn, "--yes"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("is critical: pass --yes --allow-critical"),
        "{:?}",
        text(&out)
    );

    let out = chaosdeck(
        state.path(),
        &[
            "inject",
            "db-max-connections",
            "--conn",
            &conn,
            "--yes",
            "--max-severity",
            "medium",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("the policy allows at most medium"),
        "{:?}",
        text(&out)
    );

    let out = chaosdeck(
        state.path(),
        &["inject", "db-max-connections", "--conn", &conn, "--dry-run"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("would hold 19 of 20 connections"),
        "{stdout}"
    );
    assert_eq!(connect_error(&cluster), None);
    assert!(Journal::open(state.path())
        .unwrap()
        .records()
        .unwrap()
        .is_empty());
}

#[test]
fn unreachable_targets_and_wrong_passwords_are_one_clear_line() {
    let Some(cluster) = small_cluster() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let wrong = cluster
        .conn_string()
        .replace("password=testpass", "password=wrong-secret");
    let out = chaosdeck(
        state.path(),
        &[
            "inject",
            "pg-idle-in-transaction",
            "--conn",
            &wrong,
            "--yes",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("password=***") && stderr.contains("28P01"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-secret"), "{stderr}");
    assert!(Journal::open(state.path())
        .unwrap()
        .dangling()
        .unwrap()
        .is_empty());

    let closed = format!(
        "host=127.0.0.1 port={} dbname=testdb user=postgres password=x",
        support::free_port()
    );
    let out = chaosdeck(
        state.path(),
        &[
            "inject",
            "pg-idle-in-transaction",
            "--conn",
            &closed,
            "--yes",
        ],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("host=127.0.0.1") && stderr.contains("password=***"),
        "{stderr}"
    );
}

#[test]
fn a_persistent_fault_survives_a_killed_holder_until_teardown_dangling_with_the_configs_password() {
    let Some(cluster) = small_cluster() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let _holders = Holders(state.path());
    let conn = cluster.conn_string();
    assert_eq!(write_error(&cluster), None);
    let out = chaosdeck(
        state.path(),
        &[
            "inject",
            "pg-read-only",
            "--conn",
            &conn,
            "--yes",
            "--allow-critical",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(
        write_error(&cluster).as_deref(),
        Some("25006"),
        "new sessions should be read-only"
    );

    let journal = Journal::open(state.path()).unwrap();
    let holder = holder_pid(&journal);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(holder as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the holder is gone", || {
        chaosdeck::driver::process::procfs::read_stat(holder).is_none_or(|s| s.state == 'Z')
    });
    // Killing chaosdeck does not undo a persistent fault: the journal remembers it.
    assert_eq!(write_error(&cluster).as_deref(), Some("25006"));
    assert_eq!(journal.dangling().unwrap().len(), 1);

    // The password comes from the config's target on the same server; another
    // server's target (first by name) is passed over.
    let config = state.path().join("targets.yaml");
    std::fs::write(
        &config,
        format!(
            "targets:\n  aaa-elsewhere:\n    postgres: {{ conn: \"host=127.0.0.1 port=1 user=postgres password=nope\" }}\n  shop:\n    postgres: {{ conn: \"{conn}\" }}\n"
        ),
    )
    .unwrap();
    let out = chaosdeck(
        state.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "teardown",
            "--dangling",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("pg-read-only postgres.setting: verified"),
        "{stdout}"
    );
    assert_eq!(write_error(&cluster), None);
    assert!(journal.dangling().unwrap().is_empty());
}

#[test]
fn the_holders_log_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let _holders = Holders(&state);
    let catalog = support::cli::marker_catalog(dir.path(), "1m");
    let catalog = catalog.to_str().unwrap();
    let out = chaosdeck(
        &state,
        &["--catalog", catalog, "inject", "test-marker", "--yes"],
    );
    support::cli::exited(&out, 0);
    let logs: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("holder-") && n.ends_with(".log"))
        })
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let mode = std::fs::metadata(&logs[0]).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "{}: {:o}",
        logs[0].display(),
        mode & 0o777
    );

    let out = chaosdeck(&state, &["--catalog", catalog, "teardown", "test-marker"]);
    support::cli::exited(&out, 0);
    assert!(!dir.path().join("marker").exists());
}

/// Injects `id` into `cluster` through the engine, as a holder does, and journals its
/// approval: a second run of a fault stacked on the first, as `inject` made them
/// before it refused to.
fn inject_through_the_engine(journal: &Journal, cluster: &PgCluster, id: &str) -> String {
    use chaosdeck::driver::postgres::{PgConnSpec, PgTarget};
    let catalog = chaosdeck::catalog::Catalog::load(&[]).unwrap();
    let targets = chaosdeck::driver::targets::Targets {
        postgres: Some(PgTarget {
            conn: PgConnSpec::parse(&cluster.conn_string()).unwrap(),
            data_dir: None,
            bin_dir: None,
        }),
        ..Default::default()
    };
    let resolved =
        chaosdeck::engine::experiment::resolve(&catalog, id, &[], targets, None).unwrap();
    let run = chaosdeck::engine::journal::new_run_id();
    let approved = Event::Approved {
        severity: resolved.spec.severity.to_string(),
        target: resolved.builtins["target"].clone(),
        how: "--yes --allow-critical".into(),
    };
    journal.append(&run, id, 0, approved).unwrap();
    let ctx = chaosdeck::driver::dispatch::RunContext {
        run_id: run.clone(),
        fault_id: id.to_string(),
        ttl: resolved.ttl,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let active = rt.block_on(chaosdeck::engine::inject::inject(
        journal,
        &ctx,
        &resolved.steps,
        &resolved.targets,
        |_| {},
    ));
    assert!(active.is_ok(), "{active:?}");
    run
}

#[test]
fn a_fault_already_on_is_refused_and_stacked_runs_are_undone_newest_first() {
    let Some(cluster) = small_cluster() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let _holders = Holders(state.path());
    let conn = cluster.conn_string();
    let inject = [
        "inject",
        "pg-read-only",
        "--yes",
        "--allow-critical",
        "--conn",
        &conn,
    ];
    support::cli::exited(&chaosdeck(state.path(), &inject), 0);
    assert_eq!(write_error(&cluster).as_deref(), Some("25006"));
    let journal = Journal::open(state.path()).unwrap();
    let first = journal.dangling().unwrap()[0].intent.run.clone();

    // Again: refused, in one line naming the fault, its run and the way out.
    let out = chaosdeck(state.path(), &inject);
    support::cli::refused(
        &out,
        &[
            "\"pg-read-only\" is already on",
            &format!("run {first}"),
            "password=***",
            "chaosdeck teardown pg-read-only",
        ],
    );
    let stderr = support::cli::text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("testpass"), "{stderr}");
    let approvals = journal
        .records()
        .unwrap()
        .iter()
        .filter(|r| matches!(r.event, Event::Approved { .. }))
        .count();
    assert_eq!(approvals, 1, "the refused inject journaled an approval");

    // A journal can still hold two stacked runs (written before inject refused, or
    // by two injects racing): the second kept "on" as the value to restore. Undone
    // oldest first, the cluster would stay read-only.
    let second = inject_through_the_engine(&journal, &cluster, "pg-read-only");
    let out = chaosdeck(state.path(), &["teardown", "pg-read-only", "--conn", &conn]);
    support::cli::exited(&out, 0);
    let undone: Vec<String> = journal
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| matches!(r.event, Event::Undone { .. }))
        .map(|r| r.run)
        .collect();
    assert_eq!(undone, vec![second, first], "the newest run first");
    assert_eq!(write_error(&cluster), None, "the cluster stayed read-only");
    assert!(journal.dangling().unwrap().is_empty());
}

#[test]
fn inject_takes_its_targets_and_policy_from_the_config() {
    let Some(cluster) = small_cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let _holders = Holders(&state);
    let conn = cluster.conn_string();
    let config = dir.path().join("targets.yaml");
    std::fs::write(
        &config,
        format!("targets:\n  shop:\n    postgres: {{ conn: \"{conn}\" }}\npolicy: {{ max_severity: high }}\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let journal = Journal::open(&state).unwrap();

    // A fault above the policy is refused, saying which policy and where it is.
    for extra in [&[][..], &["--dry-run"]] {
        let mut args = vec![
            "--config",
            config,
            "inject",
            "pg-read-only",
            "--yes",
            "--allow-critical",
            "--conn",
            &conn,
        ];
        args.extend(extra);
        let out = chaosdeck(&state, &args);
        support::cli::refused(
            &out,
            &[
                "\"pg-read-only\" is critical severity",
                "policy.max_severity: high",
                config,
            ],
        );
        assert!(!support::cli::text(&out.stderr).contains("testpass"));
    }
    assert_eq!(write_error(&cluster), None, "the cluster went read-only");
    assert!(journal.records().unwrap().is_empty());

    // Without --conn, the config's target: by --target, or the first one.
    let out = chaosdeck(
        &state,
        &[
            "--config",
            config,
            "inject",
            "pg-idle-in-transaction",
            "--target",
            "shop",
            "--dry-run",
            "--param",
            "count=2",
        ],
    );
    let stdout = support::cli::exited(&out, 0);
    assert!(stdout.contains("would "), "{stdout}");
    let out = chaosdeck(
        &state,
        &[
            "--config",
            config,
            "inject",
            "pg-idle-in-transaction",
            "--target",
            "shopp",
            "--yes",
        ],
    );
    support::cli::refused(&out, &["unknown target \"shopp\"", "did you mean \"shop\""]);

    let out = chaosdeck(
        &state,
        &[
            "--config",
            config,
            "inject",
            "pg-idle-in-transaction",
            "--yes",
            "--param",
            "count=2",
        ],
    );
    let stdout = support::cli::exited(&out, 0);
    assert!(stdout.starts_with("Failure injected: "), "{stdout}");
    assert!(stdout.contains("password=***"), "{stdout}");
    let stderr = support::cli::text(&out.stderr);
    assert!(
        !stdout.contains("testpass") && !stderr.contains("testpass"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(chaosdeck_sessions(&cluster), 2);

    let out = chaosdeck(&state, &["teardown", "pg-idle-in-transaction"]);
    support::cli::exited(&out, 0);
    wait_until("the sessions end", || chaosdeck_sessions(&cluster) == 0);
    assert!(journal.dangling().unwrap().is_empty());
}
