//! A reader that goes away (`chaosdeck list --json | head -1`) ends a read-only
//! command quietly, with the status it would have had: no panic, no backtrace, no
//! exit 101. The real binary, its stdout a pipe closed before it writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::cli::{text, with_stdout_closed};

use std::path::Path;
use std::process::Output;

/// How often each command is tried: the panic came only when the reader was gone.
const TRIES: usize = 3;

/// Asserts the command ended by itself with `code`, saying nothing on stderr.
fn ended_quietly(output: &Output, args: &[&str], code: i32) {
    let stderr = text(&output.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "chaosdeck {args:?} with stdout closed:\n{stderr}"
    );
    assert_eq!(
        output.status.code(),
        Some(code),
        "chaosdeck {args:?}:\n{stderr}"
    );
}

fn closed(state: &Path, args: &[&str], code: i32) {
    for _ in 0..TRIES {
        ended_quietly(&with_stdout_closed(state, args), args, code);
    }
}

#[test]
fn list_and_show_end_quietly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    closed(&state, &["list", "--json"], 0);
    closed(&state, &["list"], 0);
    closed(&state, &["show", "db-max-connections", "--json"], 0);
    closed(&state, &["show", "db-max-connections"], 0);
    closed(&state, &["validate"], 0);
    closed(&state, &["validate", "--json"], 0);
}

#[test]
fn report_and_lab_status_end_quietly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    closed(&state, &["report"], 0);
    closed(&state, &["report", "--json"], 0);
    closed(&state, &["lab", "status"], 0);
}

#[test]
fn doctor_ends_quietly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // Whether this machine passes doctor (Docker, busybox) is not the point here:
    // doctor ends with the status its checks give, the same with stdout open.
    for args in [&["doctor", "--json"][..], &["doctor"][..]] {
        let open = support::cli::chaosdeck(&state, args);
        let code = open.status.code().expect("doctor exits by itself");
        assert!(code == 0 || code == 1, "{}", text(&open.stderr));
        closed(&state, args, code);
    }
}
