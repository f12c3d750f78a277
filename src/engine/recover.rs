//! After the engine died in the middle of a run (a panic), undo what the journal says
//! that run left on. Session-bound faults already ended when their holds were dropped
//! while unwinding; persistent ones (settings, roles, slots …) are undone here from
//! their journaled undo data, and every undo is verified.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::inject::{teardown_dangling, StepOutcome};
use super::journal::{dangling_in, Dangling, Event, Journal};
use crate::driver::process::procfs;
use crate::driver::targets::Targets;

/// Undoes every step of `run_id` that the journal says is still on.
pub async fn undo_run(
    journal: &Journal,
    run_id: &str,
    targets: &Targets,
) -> Result<Vec<StepOutcome>, String> {
    let dangling: Vec<_> = journal
        .dangling()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|d| d.intent.run == run_id)
        .collect();
    Ok(teardown_dangling(journal, &dangling, targets).await)
}

/// How long a holder gets to tear its fault down after SIGTERM.
const HOLDER_GRACE: Duration = Duration::from_secs(30);

/// What tearing down one run's dangling faults came to.
#[derive(Debug)]
pub struct RunTeardown {
    pub run: String,
    /// Empty when the run's holder process tore everything down itself.
    pub outcomes: Vec<StepOutcome>,
    /// Said along the way (a holder that had to be killed).
    pub notes: Vec<String>,
}

/// Tears down every run with something still on (only those of fault `wanted`
/// when given), oldest first: a live holder process is asked first (SIGTERM), then
/// what is left is undone here from the journal's undo data.
pub async fn tear_down_dangling_runs(
    journal: &Journal,
    wanted: Option<&str>,
    given: &Targets,
) -> Result<Vec<RunTeardown>, String> {
    let mut done = Vec::new();
    for run in runs_to_tear_down(journal, wanted)? {
        let mut notes = Vec::new();
        if let Some(note) = stop_holder(journal, &run).await {
            notes.push(note);
        }
        let left: Vec<Dangling> = journal
            .dangling()
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|d| d.intent.run == run)
            .collect();
        let outcomes = teardown_dangling(journal, &left, given).await;
        done.push(RunTeardown {
            run,
            outcomes,
            notes,
        });
    }
    Ok(done)
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
    let mut seen = BTreeSet::new();
    let mut runs = Vec::new();
    for d in &dangling_in(&records) {
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

/// Asks a live holder of `run` to tear its fault down and waits for it to end; ends
/// it after [`HOLDER_GRACE`] and says so.
async fn stop_holder(journal: &Journal, run: &str) -> Option<String> {
    let records = journal.records().ok()?;
    let (pid, start_time) = records.iter().rev().find_map(|r| match r.event {
        Event::Holder { pid, start_time } if r.run == run => Some((pid, start_time)),
        _ => None,
    })?;
    if !procfs::is_same_live(pid, start_time) {
        return None;
    }
    let nix_pid = Pid::from_raw(i32::try_from(pid).ok()?);
    kill(nix_pid, Signal::SIGTERM).ok()?;
    let deadline = Instant::now() + HOLDER_GRACE;
    while procfs::is_same_live(pid, start_time) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !procfs::is_same_live(pid, start_time) {
        return None;
    }
    let _ = kill(nix_pid, Signal::SIGKILL);
    Some(format!(
        "{run}: the holder (pid {pid}) did not finish within {HOLDER_GRACE:?}; ended it and undid here"
    ))
}
