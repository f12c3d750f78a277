//! The stressor child: `chaosdeck __stress <kind>`, started by [`super::spawn_stressor`].
//!
//! It dies with its parent (PR_SET_PDEATHSIG = SIGKILL, and it exits at once when
//! the parent it was started for is already gone), prints exactly one line on stdout —
//! `ready …` once it reached its target, or `error: …` — and ends cleanly on SIGTERM,
//! SIGINT or SIGHUP (a disk fill deletes its file). Call [`run_stressor`] before any
//! other thread exists (before a tokio runtime starts): the stop signals are blocked
//! and waited for by one thread, so every thread must inherit the mask.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

use super::stressors;

/// `chaosdeck __stress [--parent PID] <kind> …` (hidden; only chaosdeck starts it).
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct StressArgs {
    /// The pid of the chaosdeck that started this stressor; exit if it is gone.
    #[arg(long, value_name = "PID")]
    pub parent: Option<u32>,
    #[command(subcommand)]
    pub kind: StressKind,
}

/// What a stressor does, with its target already checked against the caps.
#[derive(Debug, Clone, PartialEq, clap::Subcommand)]
pub enum StressKind {
    /// Busy-loop on this many threads.
    Cpu {
        #[arg(long)]
        cores: u32,
    },
    /// Allocate and touch memory until this share of the total is in use (≤ 90).
    Memory {
        #[arg(long)]
        percent: f64,
    },
    /// Write `file` until its filesystem is this full (≤ 90), as df counts.
    Disk {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        percent: f64,
    },
    /// Open /dev/null this many times and hold the descriptors.
    Fds {
        #[arg(long)]
        count: u32,
    },
}

impl StressKind {
    /// The command-line words after `__stress [--parent PID]`.
    pub fn to_args(&self) -> Vec<OsString> {
        match self {
            StressKind::Cpu { cores } => {
                vec!["cpu".into(), "--cores".into(), cores.to_string().into()]
            }
            StressKind::Memory { percent } => {
                vec![
                    "memory".into(),
                    "--percent".into(),
                    percent.to_string().into(),
                ]
            }
            StressKind::Disk { file, percent } => vec![
                "disk".into(),
                "--file".into(),
                file.clone().into_os_string(),
                "--percent".into(),
                percent.to_string().into(),
            ],
            StressKind::Fds { count } => {
                vec!["fds".into(), "--count".into(), count.to_string().into()]
            }
        }
    }
}

/// Runs a stressor until it is told to stop; the exit code is 0 after a clean stop.
pub fn run_stressor(args: StressArgs) -> ExitCode {
    if let Err(why) = die_with_parent(args.parent) {
        say(&format!("error: {why}"));
        return ExitCode::from(2);
    }
    let stop = match stop_on_signals() {
        Ok(stop) => stop,
        Err(why) => {
            say(&format!("error: {why}"));
            return ExitCode::from(2);
        }
    };
    let result = match args.kind {
        StressKind::Cpu { cores } => stressors::cpu(cores, &stop),
        StressKind::Memory { percent } => stressors::memory(percent, &stop),
        StressKind::Disk { file, percent } => stressors::disk(&file, percent, &stop),
        StressKind::Fds { count } => stressors::fds(count, &stop),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            say(&format!("error: {why}"));
            ExitCode::from(1)
        }
    }
}

/// The one line the parent waits for. Errors are ignored: a parent that stopped
/// listening is ending this child anyway.
pub(super) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Asks the kernel for SIGKILL when the parent dies, then checks that the parent has
/// not died already (in which case the request came too late).
pub(crate) fn die_with_parent(parent: Option<u32>) -> Result<(), String> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| format!("cannot ask to die with the parent (PR_SET_PDEATHSIG): {e}"))?;
    let actual = nix::unistd::getppid().as_raw();
    match parent {
        Some(expected) if i64::from(actual) != i64::from(expected) => Err(format!(
            "the parent chaosdeck (pid {expected}) is gone; not starting"
        )),
        _ => Ok(()),
    }
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread (and so in every thread started
/// later) and waits for them on a thread of its own, which raises the returned flag.
fn stop_on_signals() -> Result<Arc<AtomicBool>, String> {
    let mut set = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(signal);
    }
    set.thread_block()
        .map_err(|e| format!("cannot block stop signals: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("stress-signals".into())
        .spawn(move || {
            if set.wait().is_ok() {
                flag.store(true, Ordering::SeqCst);
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(stop)
}

/// Sleeps in short steps until the stop flag is raised; `every` runs between steps.
pub(super) fn hold_until_stopped(stop: &AtomicBool, mut every: impl FnMut()) {
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        every();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: StressArgs,
    }

    #[test]
    fn the_spawned_words_parse_back_to_the_same_stressor() {
        let kinds = [
            StressKind::Cpu { cores: 3 },
            StressKind::Memory { percent: 61.25 },
            StressKind::Disk {
                file: "/var/tmp/chaosdeck-fill-1-a.tmp".into(),
                percent: 80.0,
            },
            StressKind::Fds { count: 1000 },
        ];
        for kind in kinds {
            let mut words: Vec<OsString> = vec!["stress".into(), "--parent".into(), "7".into()];
            words.extend(kind.to_args());
            let parsed = Wrap::try_parse_from(words).unwrap().args;
            assert_eq!(
                parsed,
                StressArgs {
                    parent: Some(7),
                    kind
                }
            );
        }
    }
}
