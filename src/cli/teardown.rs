//! `chaosdeck teardown ID|--all|--dangling`: undo what the journal says is on. A
//! fault whose holder process is alive is handed back to it (SIGTERM); what is left
//! after that (or whose holder died) is undone here from the journal's undo data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::args::TeardownArgs;
use super::Status;
use crate::driver::process::procfs;
use crate::engine::inject::{teardown_dangling, StepOutcome};
use crate::engine::journal::{default_state_dir, Dangling, Event, Journal};

/// How long a holder gets to tear its fault down after SIGTERM.
const HOLDER_GRACE: Duration = Duration::from_secs(30);

#[derive(Serialize)]
struct OutcomeJson {
    run: String,
    fault: String,
    action: String,
    result: String,
}

pub fn run(state_dir: Option<&PathBuf>, args: &TeardownArgs) -> Status {
    let wanted = args.fault.as_deref().or(args.id.as_deref());
    if wanted.is_none() && !args.all && !args.dangling {
        eprintln!("teardown needs a fault id, --all or --dangling");
        return Status::InputError;
    }
    let dir = state_dir.cloned().unwrap_or_else(default_state_dir);
    let journal = match Journal::open(&dir) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    let given = match super::targets::from_args(&args.targets) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    let runs = match runs_to_tear_down(&journal, wanted) {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    if runs.is_empty() {
        println!(
            "Nothing to tear down: the journal has no {} on.",
            wanted
                .map(|w| format!("\"{w}\""))
                .unwrap_or_else(|| "fault".into())
        );
        return Status::Pass;
    }
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        eprintln!("cannot start the async runtime");
        return Status::InputError;
    };
    let mut results: Vec<(String, StepOutcome)> = Vec::new();
    for run in &runs {
        stop_holder(&journal, run);
        let left: Vec<Dangling> = match journal.dangling() {
            Ok(d) => d.into_iter().filter(|d| &d.intent.run == run).collect(),
            Err(e) => {
                eprintln!("{e}");
                return Status::InputError;
            }
        };
        let outcomes = runtime.block_on(teardown_dangling(&journal, &left, &given));
        if left.is_empty() {
            println!("{run}: torn down by its holder process (verified)");
        }
        results.extend(outcomes.into_iter().map(|o| (run.clone(), o)));
    }
    let ok = results.iter().all(|(_, o)| o.verified());
    if args.json {
        let rows: Vec<OutcomeJson> = results
            .iter()
            .map(|(run, o)| OutcomeJson {
                run: run.clone(),
                fault: o.fault.clone(),
                action: o.kind.clone(),
                result: o.describe(),
            })
            .collect();
        let _ = super::print_json(&rows);
    } else {
        for (run, o) in &results {
            println!("{run}: {} {}: {}", o.fault, o.kind, o.describe());
        }
    }
    if ok {
        Status::Pass
    } else {
        eprintln!("teardown left something behind; it stays in the journal as dangling");
        Status::TeardownFailed
    }
}

/// Runs with something still on, oldest first; `wanted` keeps those of one fault
/// (the fault as approved, or any fault it included).
fn runs_to_tear_down(journal: &Journal, wanted: Option<&str>) -> Result<Vec<String>, String> {
    let records = journal.records().map_err(|e| e.to_string())?;
    let mut top: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &records {
        if matches!(r.event, Event::Approved { .. }) {
            top.insert(&r.run, &r.fault);
        }
    }
    let dangling = crate::engine::journal::dangling_in(&records);
    let mut seen = BTreeSet::new();
    let mut runs = Vec::new();
    for d in &dangling {
        let run = d.intent.run.as_str();
        let matches = match wanted {
            None => true,
            Some(id) => d.intent.fault == id || top.get(run) == Some(&id),
        };
        if matches && seen.insert(run.to_string()) {
            runs.push(run.to_string());
        }
    }
    Ok(runs)
}

/// Asks a live holder of `run` to tear its fault down, and waits for it to end.
fn stop_holder(journal: &Journal, run: &str) {
    let Ok(records) = journal.records() else {
        return;
    };
    let holder = records.iter().rev().find_map(|r| match r.event {
        Event::Holder { pid, start_time } if r.run == run => Some((pid, start_time)),
        _ => None,
    });
    let Some((pid, start_time)) = holder else {
        return;
    };
    if !procfs::is_same_live(pid, start_time) {
        return;
    }
    let Ok(raw) = i32::try_from(pid) else { return };
    let nix_pid = nix::unistd::Pid::from_raw(raw);
    if nix::sys::signal::kill(nix_pid, nix::sys::signal::Signal::SIGTERM).is_err() {
        return;
    }
    let deadline = Instant::now() + HOLDER_GRACE;
    while procfs::is_same_live(pid, start_time) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if procfs::is_same_live(pid, start_time) {
        eprintln!("{run}: the holder (pid {pid}) did not finish within {HOLDER_GRACE:?}; ending it and undoing here");
        let _ = nix::sys::signal::kill(nix_pid, nix::sys::signal::Signal::SIGKILL);
    }
}
