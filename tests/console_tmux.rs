//! The console end to end in a real terminal: the real binary in tmux against a
//! throwaway PostgreSQL cluster, with an HTTP service that needs a connection per
//! request as the steady-state probe. Open, filter, pass a medium gate, watch, tear
//! down, read the result; show that a wrong word at a high gate injects nothing; pass
//! it; tear down; quit; the terminal is back to normal and nothing is left on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use chaosdeck::engine::journal::{Event, Journal};
use chaosdeck::lab::PgClusterOptions;
use support::http_service::HttpService;
use support::tmux::Tmux;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_passes_a_medium_and_a_high_gate_tears_down_and_quits() {
    let cluster =
        support::pg_cluster_with(PgClusterOptions::default().setting("max_connections", "20"))
            .unwrap();
    let service = HttpService::backed_by(&cluster).await;
    let state = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let command = format!(
        "{bin} --state-dir {state} --report-dir {reports} --conn '{conn}' --probe app={url}; echo EXITED $?; stty -a; sleep 60",
        bin = env!("CARGO_BIN_EXE_chaosdeck"),
        state = state.path().display(),
        reports = reports.path().display(),
        conn = cluster.conn_string(),
        url = service.url(),
    );
    let tmux = Tmux::start(&command, 160, 48);
    tmux.wait_for("faults", WAIT);

    // Filter to the medium fault and pass its gate with `y`.
    tmux.keys(&["/"]);
    tmux.type_text("idle-in");
    let screen = tmux.wait_until("filtered to the idle fault", WAIT, |s| {
        !s.contains("db-max-connections")
    });
    assert!(
        screen.contains("pg-idle-in-transaction"),
        "the filter keeps the fault:\n{screen}"
    );
    tmux.keys(&["Enter", "Enter"]);
    tmux.wait_for("Enter runs preflight", WAIT);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Press y to inject", WAIT);
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("OBSERVING", WAIT);
    assert!(
        screen.contains("app"),
        "the probe table lists the app probe:\n{screen}"
    );
    assert!(
        !screen.contains("apppass") && !screen.contains("testpass"),
        "no password on screen:\n{screen}"
    );
    tmux.keys(&["t"]);
    let screen = tmux.wait_for("e writes the report", Duration::from_secs(90));
    assert!(screen.contains("verified"), "teardown verified:\n{screen}");
    assert!(!screen.contains("residual"), "nothing residual:\n{screen}");
    tmux.keys(&["e"]);
    tmux.wait_for("report written", WAIT);
    tmux.keys(&["q"]);

    // The high gate: a wrong word cancels and injects nothing.
    tmux.keys(&["Escape"]);
    tmux.wait_for("db-max-connections", WAIT);
    tmux.keys(&["/"]);
    tmux.type_text("max-conn");
    tmux.wait_until("filtered to db-max-connections", WAIT, |s| {
        s.contains("db-max-connections") && !s.contains("pg-idle-in-transaction")
    });
    tmux.keys(&["Enter", "Enter"]);
    tmux.wait_for("Enter runs preflight", WAIT);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Type the fault id", WAIT);
    tmux.type_text("db-max-connection");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("not injected", WAIT);
    assert!(
        screen.contains("Enter runs preflight"),
        "back to prepare:\n{screen}"
    );
    let journal = Journal::open(state.path()).unwrap();
    let touched = journal
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.fault == "db-max-connections")
        .filter(|r| matches!(r.event, Event::Approved { .. } | Event::Intent { .. }))
        .count();
    assert_eq!(touched, 0, "a wrong word approves and injects nothing");

    // The right word injects; watch the impact; tear down.
    tmux.keys(&["Enter"]);
    tmux.wait_for("Type the fault id", WAIT);
    tmux.type_text("db-max-connections");
    tmux.keys(&["Enter"]);
    tmux.wait_for("OBSERVING", WAIT);
    tmux.wait_for("DOWN", WAIT);
    tmux.keys(&["t"]);
    let screen = tmux.wait_for("e writes the report", Duration::from_secs(90));
    assert!(screen.contains("verified"), "teardown verified:\n{screen}");
    assert!(!screen.contains("residual"), "nothing residual:\n{screen}");
    assert!(
        screen.contains("time to impact"),
        "timings shown:\n{screen}"
    );

    // Quit: the terminal is handed back in its normal modes.
    tmux.keys(&["q", "q"]);
    let screen = tmux.wait_for("EXITED", WAIT);
    assert!(
        screen.contains("EXITED 0"),
        "the console exits 0:\n{screen}"
    );
    assert!(
        !screen.contains("faults"),
        "the alternate screen is left:\n{screen}"
    );
    assert!(
        screen.contains(" icanon") && screen.contains(" echo"),
        "cooked mode again:\n{screen}"
    );
    let journal = Journal::open(state.path()).unwrap();
    assert!(journal.dangling().unwrap().is_empty(), "nothing is left on");
    let written = std::fs::read_dir(reports.path()).unwrap().count();
    assert_eq!(written, 2, "the report's Markdown and JSON files");
}

/// Starts the console on `cluster` in tmux and injects the low-severity advisory-lock
/// fault (its gate is Enter), waiting for the live dashboard.
fn console_with_a_fault_on(cluster: &chaosdeck::lab::PgCluster, state: &std::path::Path) -> Tmux {
    let command = format!(
        "exec {bin} --state-dir {state} --conn '{conn}'",
        bin = env!("CARGO_BIN_EXE_chaosdeck"),
        state = state.display(),
        conn = cluster.conn_string(),
    );
    let wrapped = format!(
        "sh -c \"{}\"; echo EXITED $?; stty -a; sleep 60",
        command.replace('"', "\\\"")
    );
    let tmux = Tmux::start(&wrapped, 120, 40);
    tmux.wait_for("faults", WAIT);
    tmux.keys(&["/"]);
    tmux.type_text("advisory");
    tmux.wait_until("filtered", WAIT, |s| !s.contains("db-max-connections"));
    tmux.keys(&["Enter", "Enter"]);
    tmux.wait_for("Enter runs preflight", WAIT);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Press Enter to inject", WAIT);
    tmux.keys(&["Enter"]);
    tmux.wait_for("OBSERVING", WAIT);
    tmux
}

fn locks_held(cluster: &chaosdeck::lab::PgCluster) -> i64 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = support::pg::client(cluster).await;
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    })
}

fn assert_handed_back(tmux: &Tmux, state: &std::path::Path) {
    let screen = tmux.wait_for("EXITED", WAIT);
    assert!(
        !screen.contains("OBSERVING"),
        "the alternate screen is left:\n{screen}"
    );
    assert!(
        screen.contains(" icanon") && screen.contains(" echo"),
        "cooked mode again:\n{screen}"
    );
    let journal = Journal::open(state).unwrap();
    assert!(journal.dangling().unwrap().is_empty(), "nothing is left on");
    let torn_down = journal
        .records()
        .unwrap()
        .into_iter()
        .any(|r| matches!(r.event, Event::Undone { .. }));
    assert!(torn_down, "the fault was undone before the console ended");
}

#[test]
fn sigterm_sighup_ctrl_c_and_a_crash_leave_no_fault_on_and_the_terminal_normal() {
    let cluster = support::pg_cluster().unwrap();
    for how in ["SIGTERM", "SIGHUP", "Ctrl-C", "crash"] {
        let state = tempfile::tempdir().unwrap();
        let tmux = console_with_a_fault_on(&cluster, state.path());
        assert_eq!(locks_held(&cluster), 1, "{how}: the fault is on");
        match how {
            "SIGTERM" | "SIGHUP" => {
                let pid = tmux.pane_pid();
                let console = std::process::Command::new("pgrep")
                    .args(["-P", &pid.to_string(), "chaosdeck"])
                    .output()
                    .unwrap();
                let console = String::from_utf8_lossy(&console.stdout).trim().to_string();
                assert!(
                    !console.is_empty(),
                    "the console runs under the pane's shell"
                );
                let signal = format!("-{}", &how[3..]);
                let status = std::process::Command::new("kill")
                    .args([signal.as_str(), &console])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
            "Ctrl-C" => tmux.keys(&["C-c"]),
            _ => {
                tmux.keys(&[":"]);
                tmux.type_text("crash-test");
                tmux.keys(&["Enter"]);
                let screen = tmux.wait_for("EXITED", WAIT);
                assert!(screen.contains("the console crashed"), "{screen}");
                assert!(
                    screen.contains("EXITED 1"),
                    "a crash is not a pass:\n{screen}"
                );
            }
        }
        assert_handed_back(&tmux, state.path());
        assert_eq!(
            locks_held(&cluster),
            0,
            "{how}: the advisory lock is released"
        );
    }
}
