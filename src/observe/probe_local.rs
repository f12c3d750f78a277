//! The probes of this host: a process that must be alive (not stopped, not a zombie)
//! and a command that must exit with a given code.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::probe_check::{driver_detail, Outcome};
use super::probe_http::io_detail;
use crate::driver::process::{self, procfs, ProcessSelector};

/// How much of a command's stderr is kept to find its first line.
const STDERR_CAP: u64 = 4096;

/// Up when the selector names exactly one live process that is not stopped (`T`,
/// `t`), a zombie (`Z`) or dead (`X`). A pid is read in place (two small `/proc`
/// files, which never wait on the process); a name or a port means scanning `/proc`,
/// which runs off the async threads.
pub(crate) async fn check_process(selector: &ProcessSelector) -> Outcome {
    if let ProcessSelector::Pid(_) = selector {
        return process_state(selector);
    }
    let selector = selector.clone();
    tokio::task::spawn_blocking(move || process_state(&selector))
        .await
        .map_err(|e| format!("the process check failed: {e}"))?
}

fn process_state(selector: &ProcessSelector) -> Outcome {
    let pid = match selector {
        // A plain pid is read once (the stat line carries the name); the lookup's
        // refusals (init, chaosdeck itself, gone) are worded once, by the lookup.
        ProcessSelector::Pid(pid) if *pid > 1 && *pid != std::process::id() => *pid,
        _ => find_pid(selector)?,
    };
    let Some((stat, name)) = procfs::read_stat_named(pid) else {
        return Err(find_pid(selector)
            .err()
            .unwrap_or_else(|| format!("pid {pid} has exited")));
    };
    let why = match stat.state {
        'T' => "is stopped",
        't' => "is stopped by a tracer",
        'Z' => "has exited (zombie)",
        'X' => "is dead",
        state => return Ok(format!("{name} (pid {pid}), state {state}")),
    };
    Err(format!("{name} (pid {pid}) {why} (state {})", stat.state))
}

/// The one pid the selector names, found the way the process faults find it.
fn find_pid(selector: &ProcessSelector) -> Result<u32, String> {
    process::resolve_pid(selector, "probe").map_err(|e| driver_detail(&e))
}

/// Runs `argv` (no shell) with stdin closed, reading and dropping its stdout and
/// keeping the first line of its stderr for the detail. The child is killed when
/// the check is dropped (timeout, cancel). A command that leaves a background child
/// holding its output open keeps the check waiting until the probe's timeout.
pub(crate) async fn check_command(argv: &[String], expected: i32) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Err("the probe gives no command to run".to_string());
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run \"{program}\": {}", io_detail(&e)))?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (status, (), stderr) = tokio::join!(child.wait(), drain(stdout), first_line(stderr));
    let status = status.map_err(|e| format!("waiting for \"{program}\": {}", io_detail(&e)))?;
    let found = match (status.code(), status.signal()) {
        (Some(code), _) if code == expected => return Ok(format!("exit {code}")),
        (Some(code), _) => format!("exit {code}, expected {expected}"),
        (None, Some(signal)) => format!("killed by signal {signal}, expected exit {expected}"),
        (None, None) => format!("ended without an exit code, expected {expected}"),
    };
    Err(match stderr {
        Some(line) => format!("{found}: {line}"),
        None => found,
    })
}

/// Reads a pipe to its end and drops what it read.
async fn drain(pipe: Option<impl AsyncRead + Unpin>) {
    if let Some(mut pipe) = pipe {
        // A read error only means the output is lost, which it is anyway.
        let _ = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await;
    }
}

/// The first non-empty line of a pipe (at most 200 characters), reading it to its end.
async fn first_line(pipe: Option<impl AsyncRead + Unpin>) -> Option<String> {
    let mut pipe = pipe?;
    let mut head = Vec::new();
    // As in `drain`: a read error leaves what was read so far.
    let _ = (&mut pipe).take(STDERR_CAP).read_to_end(&mut head).await;
    drain(Some(pipe)).await;
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    Some(match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    })
}
