//! `chaosdeck __hold`: the process that injects a fault for `inject`, keeps its
//! session-bound parts alive, and tears it down on SIGTERM, SIGINT or TTL expiry.
//! It talks to `inject` through stdout: `progress …`, then `ready` or `error N …`.

use std::io::Write;
use std::path::PathBuf;

use super::args::HoldArgs;
use super::inject::prepare;
use super::Status;
use crate::driver::dispatch::RunContext;
use crate::engine::inject;
use crate::engine::journal::{Event, Journal};

pub fn run(
    catalog_dirs: &[PathBuf],
    state_dir: Option<&PathBuf>,
    config_path: Option<&PathBuf>,
    args: &HoldArgs,
) -> Status {
    let say = |line: &str| {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    let prepared = match prepare(catalog_dirs, config_path, &args.inject) {
        Ok(p) => p,
        Err(e) => {
            say(&format!("error 2 {e}"));
            return Status::InputError;
        }
    };
    let dir = super::setup::state_dir(state_dir);
    let journal = match Journal::open(&dir) {
        Ok(j) => j,
        Err(e) => {
            say(&format!("error 2 {e}"));
            return Status::InputError;
        }
    };
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        say("error 2 cannot start the async runtime");
        return Status::InputError;
    };
    let spec = &prepared.spec;
    let approved = Event::Approved {
        severity: spec.severity.to_string(),
        target: prepared.builtins.get("target").cloned().unwrap_or_default(),
        how: if spec.severity == crate::catalog::Severity::Critical {
            "--yes --allow-critical".into()
        } else {
            "--yes".into()
        },
    };
    if let Err(e) = journal.append(&args.run, &spec.id, 0, approved) {
        say(&format!("error 2 {e}"));
        return Status::InputError;
    }
    let ctx = RunContext {
        run_id: args.run.clone(),
        fault_id: spec.id.clone(),
        ttl: prepared.ttl,
    };
    runtime.block_on(async {
        // Listen before the fault goes on: a SIGTERM that came between `ready` and
        // listening would end the holder without its teardown.
        let stops = Stops::listen();
        let injected = inject::inject(&journal, &ctx, &prepared.steps, &prepared.targets, |p| {
            say(&format!("progress {p}"))
        })
        .await;
        let active = match injected {
            Ok(active) => active,
            Err(failure) => {
                let error = one_line(&failure.error.to_string());
                let left: Vec<String> = failure
                    .rollback
                    .iter()
                    .filter(|o| !o.verified())
                    .map(|o| format!("{} {}", o.kind, one_line(&o.describe())))
                    .collect();
                if left.is_empty() {
                    say(&format!("error 2 {error} (nothing was left injected)"));
                    return Status::InputError;
                }
                say(&format!(
                    "error 3 {}: {} failed ({error}), and undoing what it had done failed too ({}); it stays in the journal as run {run}: retry with `chaosdeck teardown --dangling`, or, if its target no longer exists, `chaosdeck teardown --forget {run}`",
                    spec.id,
                    failure.kind,
                    left.join("; "),
                    run = args.run
                ));
                return Status::TeardownFailed;
            }
        };
        let pid = std::process::id();
        let start_time = crate::driver::process::procfs::read_stat(pid)
            .map(|s| s.start_time)
            .unwrap_or(0);
        if let Err(e) = journal.append(&args.run, &spec.id, 0, Event::Holder { pid, start_time }) {
            tracing::warn!("{e}");
        }
        tracing::info!(
            "run {}: {} is on ({}); holding it for at most {}",
            args.run,
            spec.id,
            prepared
                .builtins
                .get("target")
                .map(String::as_str)
                .unwrap_or("-"),
            humantime::format_duration(prepared.ttl)
        );
        say("ready");
        detach_stdout();
        let reason = stops.wait(prepared.ttl).await;
        tracing::info!("tearing down {} ({reason})", spec.id);
        let outcomes = inject::teardown(&journal, active, &prepared.targets).await;
        if outcomes.iter().all(|o| o.verified()) {
            Status::Pass
        } else {
            for o in outcomes.iter().filter(|o| !o.verified()) {
                eprintln!("{} {}: {}", o.fault, o.kind, o.describe());
            }
            Status::TeardownFailed
        }
    })
}

/// A driver's message on one line (a command's stderr can span several): `inject`
/// reads the holder's words line by line.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" / ")
}

/// SIGTERM and SIGINT, listened for from the start.
struct Stops {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Stops {
    fn listen() -> Stops {
        use tokio::signal::unix::{signal, SignalKind};
        Stops {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    /// Waits for SIGTERM, SIGINT or the TTL, and says which came first.
    async fn wait(self, ttl: std::time::Duration) -> &'static str {
        let (Some(mut term), Some(mut int)) = (self.term, self.int) else {
            tokio::time::sleep(ttl).await;
            return "TTL expired";
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = tokio::time::sleep(ttl) => "TTL expired",
        }
    }
}

/// `inject` stops reading once the fault is on: point stdout at /dev/null so a
/// later write cannot fail on a closed pipe.
fn detach_stdout() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
}
