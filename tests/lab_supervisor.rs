//! The lab's process supervisor against real child processes (`sh`, `sleep`). Every
//! signal sent here goes to a pid the supervisor under test started.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chaosdeck::driver::process::procfs;
use chaosdeck::lab::supervisor::{
    StartOptions, SupervisedSpec, Supervisor, SupervisorError, DEFAULT_BACKOFF,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn sh(name: &str, script: &str) -> SupervisedSpec {
    SupervisedSpec::new(name, "/bin/sh", vec!["-c".into(), script.into()])
}

fn ready_sh(name: &str, script: &str) -> SupervisedSpec {
    SupervisedSpec {
        ready: Some("ready".into()),
        ..sh(name, script)
    }
}

/// Whether `pid` runs (a zombie does not count).
fn alive(pid: u32) -> bool {
    procfs::read_stat(pid).is_some_and(|s| s.state != 'Z')
}

/// Pids of live processes whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    procfs::pids()
        .into_iter()
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
        })
        .collect()
}

/// Polls `check` every 20 ms for up to `limit`; returns whether it became true.
async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

#[tokio::test]
async fn start_returns_once_the_ready_line_appeared() {
    let began = Instant::now();
    let sup = Supervisor::start(ready_sh(
        "slow-ready",
        "sleep 0.4; echo 'ready on :8080'; exec sleep 600",
    ))
    .await
    .unwrap();
    assert!(
        began.elapsed() >= Duration::from_millis(400),
        "returned before ready"
    );
    assert!(sup.is_ready());
    let pid = sup.pid().unwrap();
    assert!(alive(pid));
    assert_eq!(sup.restarts(), 0);
    sup.stop().await;
    assert!(!alive(pid));
}

#[tokio::test]
async fn a_killed_child_gets_a_new_pid_and_one_restart() {
    let sup = Supervisor::start(ready_sh("victim", "echo ready; exec sleep 600"))
        .await
        .unwrap();
    let counter = sup.restarts_handle();
    let first = sup.pid().unwrap();
    let killed_at = Instant::now();
    kill(
        Pid::from_raw(i32::try_from(first).unwrap()),
        Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(2), || sup
            .pid()
            .is_some_and(|p| p != first))
        .await,
        "no new child after kill -9"
    );
    let waited = killed_at.elapsed();
    assert!(
        waited >= DEFAULT_BACKOFF,
        "restarted after {waited:?}, before the backoff"
    );
    assert!(
        waited < Duration::from_millis(1500),
        "restart took {waited:?}"
    );
    assert_eq!(sup.restarts(), 1);
    assert_eq!(counter.load(Ordering::Acquire), 1);
    assert!(!alive(first));
    let second = sup.pid().unwrap();
    assert!(alive(second));
    assert!(eventually(Duration::from_secs(2), || sup.is_ready()).await);
    sup.stop().await;
    assert!(!alive(second));
}

#[tokio::test]
async fn a_child_that_exits_at_once_is_restarted_at_most_once_per_backoff() {
    let backoff = Duration::from_millis(200);
    let spec = SupervisedSpec {
        backoff,
        ..sh("crasher", "exit 3")
    };
    let began = Instant::now();
    let sup = Supervisor::start(spec).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let restarts = sup.restarts();
    let elapsed = began.elapsed();
    let most = (elapsed.as_millis() / backoff.as_millis()) as u64;
    assert!(restarts <= most, "{restarts} restarts in {elapsed:?}");
    assert!(restarts >= 2, "only {restarts} restarts in {elapsed:?}");
    sup.stop().await;
}

#[tokio::test]
async fn stop_ends_the_child_and_nothing_restarts_it() {
    let sup = Supervisor::start(ready_sh("stopped", "echo ready; exec sleep 600"))
        .await
        .unwrap();
    let pid = sup.pid().unwrap();
    let counter = sup.restarts_handle();
    let began = Instant::now();
    sup.stop().await;
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "SIGTERM was not enough?"
    );
    assert!(!alive(pid));
    assert!(procfs::read_stat(pid).is_none(), "pid {pid} was not reaped");
    tokio::time::sleep(DEFAULT_BACKOFF * 2).await;
    assert_eq!(counter.load(Ordering::Acquire), 0);
    assert!(group_members(pid).is_empty());
}

#[tokio::test]
async fn stop_kills_a_group_that_ignores_sigterm_after_the_grace() {
    // `trap "" TERM` is inherited by the `sleep` children, so only SIGKILL ends them.
    let script = "trap '' TERM; echo ready; while :; do sleep 1; done";
    let sup = Supervisor::start(ready_sh("stubborn", script))
        .await
        .unwrap();
    let pid = sup.pid().unwrap();
    assert!(
        eventually(Duration::from_secs(2), || group_members(pid).len() >= 2).await,
        "the shell never started its sleep"
    );
    let began = Instant::now();
    sup.stop().await;
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(1900),
        "SIGKILL came after only {took:?}"
    );
    assert!(took < Duration::from_secs(4), "stop took {took:?}");
    assert!(!alive(pid));
    assert!(
        eventually(Duration::from_secs(1), || group_members(pid).is_empty()).await,
        "left behind: {:?}",
        group_members(pid)
    );
}

#[tokio::test]
async fn dropping_the_supervisor_ends_the_child() {
    let sup = Supervisor::start(ready_sh("dropped", "echo ready; exec sleep 600"))
        .await
        .unwrap();
    let pid = sup.pid().unwrap();
    let counter = sup.restarts_handle();
    drop(sup);
    assert!(
        eventually(Duration::from_secs(3), || !alive(pid)).await,
        "pid {pid} outlived its supervisor"
    );
    tokio::time::sleep(DEFAULT_BACKOFF * 2).await;
    assert_eq!(
        counter.load(Ordering::Acquire),
        0,
        "restarted after the drop"
    );
}

#[test]
fn the_kernel_kills_the_child_when_the_thread_that_started_it_ends() {
    // Neither the supervisor nor its runtime is dropped, so only PR_SET_PDEATHSIG is
    // left to end the child once its thread is gone, as after a crash of chaosdeck.
    let pid = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sup = runtime
            .block_on(Supervisor::start(ready_sh(
                "orphan",
                "echo ready; exec sleep 600",
            )))
            .unwrap();
        let pid = sup.pid().unwrap();
        std::mem::forget(sup);
        std::mem::forget(runtime);
        pid
    })
    .join()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "pid {pid} survived the thread that started it");
}

#[tokio::test]
async fn a_child_that_never_says_ready_is_stopped_and_its_stderr_shown() {
    let options = StartOptions {
        ready_timeout: Duration::from_millis(500),
        ..StartOptions::default()
    };
    let spec = ready_sh("mute", "echo 'warming up' >&2; echo $$ >&2; exec sleep 600");
    let err = Supervisor::start_with(spec, options).await.unwrap_err();
    let SupervisorError::NotReady { ref tail, .. } = err else {
        panic!("wrong error: {err}");
    };
    let message = err.to_string();
    assert!(
        message.contains("mute did not print \"ready\" within 500ms"),
        "{message}"
    );
    assert!(tail.contains("warming up"), "{message}");
    let pid: u32 = tail.lines().nth(1).unwrap().trim().parse().unwrap();
    assert!(!alive(pid), "the child that was not ready still runs");
}

#[tokio::test]
async fn a_child_that_exits_before_ready_fails_at_once_with_its_stderr() {
    let began = Instant::now();
    let spec = ready_sh("broken", "echo 'boom: no config' >&2; exit 2");
    let err = Supervisor::start(spec).await.unwrap_err();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "waited for the timeout"
    );
    assert!(
        matches!(err, SupervisorError::ExitedBeforeReady { .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("broken exited (exit status: 2)"),
        "{message}"
    );
    assert!(message.contains("boom: no config"), "{message}");
}

#[tokio::test]
async fn a_missing_program_is_named_in_the_error() {
    let spec = SupervisedSpec::new("ghost", "/nonexistent/chaosdeck-demo", Vec::new());
    let err = Supervisor::start(spec).await.unwrap_err();
    assert!(matches!(err, SupervisorError::Spawn { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot start ghost (\"/nonexistent/chaosdeck-demo\"): "),
        "{err}"
    );
}

#[tokio::test]
async fn the_environment_reaches_the_child_and_not_its_command_line() {
    let options = StartOptions {
        env: vec![("LAB_CONN".into(), "password=s3cret".into())],
        ..StartOptions::default()
    };
    // No `exec`: reading `environ` while the shell execs may find it empty.
    let spec = ready_sh("env", "echo ready; sleep 600");
    let sup = Supervisor::start_with(spec, options).await.unwrap();
    let pid = sup.pid().unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let has = environ
        .split(|b| *b == 0)
        .any(|entry| entry == b"LAB_CONN=password=s3cret");
    assert!(has, "LAB_CONN missing from the child's environment");
    let command_line = procfs::cmdline(pid);
    assert!(!command_line.contains("s3cret"), "{command_line:?}");
    sup.stop().await;
}
