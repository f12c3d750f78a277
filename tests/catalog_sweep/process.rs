//! Process entries on `sleep` children of the test, chosen by pid.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};

use chaosdeck::catalog::TargetKind;
use chaosdeck::driver::process::{ProcessSelector, ProcessTarget};
use chaosdeck::driver::targets::Targets;
use chaosdeck::engine::inject::Active;
use nix::sys::signal::Signal;

use crate::{eventually, exe, Effect, Sweep};

pub const COVERED: &[&str] = &["process-freeze", "process-terminate", "process-kill"];

/// A `sleep 300` child, killed and reaped when dropped.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(Command::new("sleep").arg("300").spawn().unwrap())
    }

    fn targets(&self) -> Targets {
        Targets {
            process: Some(ProcessTarget {
                selector: ProcessSelector::Pid(self.0.id()),
            }),
            exe: exe(),
            ..Targets::default()
        }
    }

    /// The child ended by `signal` (reaping it).
    async fn ended_by(&mut self, signal: Signal) -> Effect {
        let mut status = None;
        eventually("the process ended", async || {
            status = self.0.try_wait().map_err(|e| e.to_string())?;
            Ok(status.is_some())
        })
        .await?;
        let got = status.and_then(|s| s.signal());
        ensure!(
            got == Some(signal as i32),
            "ended with {status:?}, not by {signal}"
        );
        Ok(())
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The state letter in /proc/<pid>/stat (`S`, `R`, `T`, …).
fn proc_state(pid: u32) -> Result<char, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after
        .split_whitespace()
        .next()
        .and_then(|s| s.chars().next())
        .ok_or_else(|| format!("odd /proc/{pid}/stat: {stat}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_faults_inject_tear_down_and_verify() {
    let sweep = Sweep::new(TargetKind::Process);
    for &id in COVERED {
        let mut child = Sleeper::start();
        let targets = child.targets();
        let pid = child.0.id();
        match id {
            "process-freeze" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        let state = proc_state(pid)?;
                        ensure!(
                            state == 'T',
                            "pid {pid} is in state {state}, not T (stopped)"
                        );
                        Ok(())
                    })
                    .await;
                let state = proc_state(pid).unwrap();
                assert_ne!(state, 'T', "pid {pid} is still stopped after teardown");
            }
            "process-terminate" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        child.ended_by(Signal::SIGTERM).await
                    })
                    .await
            }
            "process-kill" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        child.ended_by(Signal::SIGKILL).await
                    })
                    .await
            }
            other => panic!("{other} has no case in the process sweep"),
        }
    }
}
