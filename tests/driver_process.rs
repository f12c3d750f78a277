//! Process faults against real child processes this test starts: freeze and continue,
//! SIGKILL by name, SIGTERM by listening port, and undo never touching a pid that
//! names another process now. Only processes started here are ever signalled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chaosdeck::catalog::action_params::Signal;
use chaosdeck::driver::process::{
    self, procfs, ProcessFault, ProcessSelector, ProcessTarget, ProcessUndo,
};
use chaosdeck::driver::{DriverError, Verification};

/// Kills the child (ours) if a test fails half-way.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn target(selector: ProcessSelector) -> ProcessTarget {
    ProcessTarget { selector }
}

fn state(pid: u32) -> char {
    procfs::read_stat(pid).map(|s| s.state).unwrap_or('-')
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A python child that writes a growing counter into `file` every 20 ms.
fn counter(file: &Path) -> Reap {
    let script = "import os,sys,time\np=sys.argv[1]\ni=0\nwhile True:\n i+=1\n \
                  open(p+'.t','w').write(str(i))\n os.replace(p+'.t',p)\n time.sleep(0.02)\n";
    let child = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .spawn()
        .expect("python3 is needed for this test (apt-get install python3)");
    let reap = Reap(child);
    wait_for("the counter to start", || read_counter(file) > 0);
    reap
}

fn read_counter(file: &Path) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// A copy of `sleep` under a name no other process on this host has.
fn unique_sleep(dir: &Path, tag: &str) -> PathBuf {
    let name = format!("cds{tag}{}", std::process::id() % 1_000_000);
    let path = dir.join(name);
    std::fs::copy("/bin/sleep", &path).expect("/bin/sleep is needed for this test");
    path
}

#[test]
fn freeze_stops_progress_and_undo_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("count");
    let mut child = counter(&file);
    let pid = child.0.id();

    let plan = process::plan(&target(ProcessSelector::Pid(pid)), &ProcessFault::Freeze).unwrap();
    assert!(
        plan.blast_radius.contains(&format!("(pid {pid})")),
        "{}",
        plan.blast_radius
    );
    assert!(matches!(plan.undo, ProcessUndo::Continue { pid: p, .. } if p == pid));
    assert_ne!(state(pid), 'T', "plan is read-only");

    process::apply(&plan.undo).unwrap();
    wait_for("state T", || state(pid) == 'T');
    let frozen_at = read_counter(&file);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        read_counter(&file),
        frozen_at,
        "a frozen process makes no progress"
    );
    assert!(
        matches!(process::verify(&plan.undo), Verification::Residual(why) if why.contains("stopped"))
    );

    let note = process::undo(&plan.undo).unwrap();
    assert!(note.contains("SIGCONT"), "{note}");
    wait_for("the process to run again", || state(pid) != 'T');
    wait_for("progress", || read_counter(&file) > frozen_at + 3);
    assert_eq!(process::verify(&plan.undo), Verification::Verified);
    // Idempotent: a second undo only continues a running process again.
    process::undo(&plan.undo).unwrap();
    assert!(child.0.try_wait().unwrap().is_none(), "still running");
}

#[test]
fn sigkill_by_exact_name_kills_that_process() {
    let dir = tempfile::tempdir().unwrap();
    let exe = unique_sleep(dir.path(), "k");
    let name = exe.file_name().unwrap().to_str().unwrap().to_string();
    let mut child = Reap(Command::new(&exe).arg("300").spawn().unwrap());
    let pid = child.0.id();

    let fault = ProcessFault::Signal(Signal::Kill);
    let plan = process::plan(&target(ProcessSelector::Name(name.clone())), &fault).unwrap();
    assert_eq!(
        plan.blast_radius,
        format!("send SIGKILL to {name} (pid {pid})")
    );

    process::apply(&plan.undo).unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status}");
    assert!(process::is_gone(&plan.undo));
    let note = process::undo(&plan.undo).unwrap();
    assert!(note.contains("gone"), "{note}");
    assert_eq!(process::verify(&plan.undo), Verification::Verified);
}

#[test]
fn several_processes_of_one_name_are_listed_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let exe = unique_sleep(dir.path(), "a");
    let name = exe.file_name().unwrap().to_str().unwrap().to_string();
    let a = Reap(Command::new(&exe).arg("300").spawn().unwrap());
    let b = Reap(Command::new(&exe).arg("300").spawn().unwrap());

    let err = process::plan(&target(ProcessSelector::Name(name)), &ProcessFault::Freeze)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 processes match"), "{err}");
    assert!(
        err.contains(&a.0.id().to_string()) && err.contains(&b.0.id().to_string()),
        "{err}"
    );
    assert_ne!(state(a.0.id()), 'T');
}

#[test]
fn sigterm_by_port_reaches_the_listener_process() {
    let script = "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\n\
                  print(s.getsockname()[1],flush=True)\ntime.sleep(300)\n";
    let child = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test (apt-get install python3)");
    let mut child = Reap(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();

    let fault = ProcessFault::Signal(Signal::Term);
    let plan = process::plan(&target(ProcessSelector::Port(port)), &fault).unwrap();
    let pid = child.0.id();
    assert!(
        matches!(plan.undo, ProcessUndo::None { pid: p, .. } if p == pid),
        "{plan:?}"
    );
    assert!(
        plan.blast_radius.starts_with("send SIGTERM to python3"),
        "{}",
        plan.blast_radius
    );

    process::apply(&plan.undo).unwrap();
    assert_eq!(child.0.wait().unwrap().signal(), Some(15));
}

#[test]
fn undo_never_signals_a_pid_that_names_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let exe = unique_sleep(dir.path(), "r");
    let child = Reap(Command::new(&exe).arg("300").spawn().unwrap());
    let pid = child.0.id();
    let real = procfs::read_stat(pid).unwrap().start_time;

    // The same pid with another start time: what a recycled pid looks like.
    let stale = ProcessUndo::Continue {
        pid,
        start_time: real + 1,
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::SIGSTOP,
    )
    .unwrap();
    wait_for("state T", || state(pid) == 'T');
    let note = process::undo(&stale).unwrap();
    assert!(note.contains("nothing to continue"), "{note}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(state(pid), 'T', "the stale undo sent no SIGCONT");
    // Nor does apply send anything to it.
    let stale_kill = ProcessUndo::None {
        pid,
        start_time: real + 1,
        signal: Signal::Kill,
    };
    assert!(matches!(
        process::apply(&stale_kill),
        Err(DriverError::Failed { .. })
    ));
    assert_eq!(state(pid), 'T', "still there");

    // A process already stopped by someone else is not frozen by us either.
    let err = process::plan(&target(ProcessSelector::Pid(pid)), &ProcessFault::Freeze);
    assert!(err.unwrap_err().to_string().contains("already stopped"));
    drop(child);
    // An exited (and reaped) pid: undo is fine and sends nothing.
    let gone = ProcessUndo::Continue {
        pid,
        start_time: real,
    };
    assert!(process::undo(&gone).is_ok());
    assert_eq!(process::verify(&gone), Verification::Verified);
}

#[test]
fn missing_targets_are_preconditions() {
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cases = [
        (
            ProcessSelector::Port(free_port),
            "nothing listens on TCP port",
        ),
        (
            ProcessSelector::Name("no-such-chaosdeck-proc".into()),
            "no running process is named",
        ),
        (ProcessSelector::Pid(u32::MAX / 2), "no process has pid"),
        (ProcessSelector::Pid(std::process::id()), "chaosdeck itself"),
    ];
    for (selector, expected) in cases {
        let err = process::plan(&target(selector.clone()), &ProcessFault::Freeze).unwrap_err();
        assert!(
            matches!(err, DriverError::Precondition { .. }),
            "{selector}: {err}"
        );
        assert!(err.to_string().contains(expected), "{selector}: {err}");
    }
}

#[test]
fn undo_data_round_trips_through_json() {
    for undo in [
        ProcessUndo::None {
            pid: 12,
            start_time: 345,
            signal: Signal::Quit,
        },
        ProcessUndo::Continue {
            pid: 6,
            start_time: 78,
        },
    ] {
        let text = serde_json::to_string(&undo).unwrap();
        assert_eq!(serde_json::from_str::<ProcessUndo>(&text).unwrap(), undo);
    }
}
