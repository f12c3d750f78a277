//! After the engine died in the middle of a run (a panic), undo what the journal says
//! that run left on. Session-bound faults already ended when their holds were dropped
//! while unwinding; persistent ones (settings, roles, slots …) are undone here from
//! their journaled undo data, and every undo is verified.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::inject::{teardown_dangling, StepOutcome};
use super::journal::{dangling_in, Dangling, Event, Journal, Record};
use crate::driver::postgres::conn::mask_password;
use crate::driver::process::procfs;
use crate::driver::targets::Targets;
use crate::driver::Verification;

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
    Ok(teardown_dangling(journal, &dangling, std::slice::from_ref(targets)).await)
}

/// How long a holder gets to tear its fault down after SIGTERM.
const HOLDER_GRACE: Duration = Duration::from_secs(30);

/// What tearing down one run's dangling faults came to.
#[derive(Debug)]
pub struct RunTeardown {
    pub run: String,
    /// Every step's undo: first the `holder_steps` the run's holder process tore
    /// down itself (as its journal records say), then those undone here.
    pub outcomes: Vec<StepOutcome>,
    pub holder_steps: usize,
    /// Said along the way (a holder that had to be killed).
    pub notes: Vec<String>,
}

/// Tears down every run with something still on (only those of fault `wanted`
/// when given), newest first: changes stacked on one another (a setting changed by
/// two runs, each keeping the value before it) are only put back right when undone
/// in the reverse order of their making. A live holder process is asked first
/// (SIGTERM), then what is left is undone here from the journal's undo data.
pub async fn tear_down_dangling_runs(
    journal: &Journal,
    wanted: Option<&str>,
    given: &[Targets],
) -> Result<Vec<RunTeardown>, String> {
    let records = journal.records().map_err(|e| e.to_string())?;
    let mut done = Vec::new();
    for on in runs_on(&records, wanted).into_iter().rev() {
        let run = on.run;
        let mut notes = Vec::new();
        if let Some(note) = stop_holder(journal, &run).await {
            notes.push(note);
        }
        let records = journal.records().map_err(|e| e.to_string())?;
        let left: Vec<Dangling> = dangling_in(&records)
            .into_iter()
            .filter(|d| d.intent.run == run)
            .collect();
        let mut outcomes = closed_since(&records, &on.steps, &left);
        let holder_steps = outcomes.len();
        outcomes.extend(teardown_dangling(journal, &left, given).await);
        done.push(RunTeardown {
            run,
            outcomes,
            holder_steps,
            notes,
        });
    }
    Ok(done)
}

/// The steps of `before` that are no longer `left` on (the run's holder tore them
/// down), with what the journal's closing record of each says, last step first as
/// teardown goes.
fn closed_since(records: &[Record], before: &[Dangling], left: &[Dangling]) -> Vec<StepOutcome> {
    let same = |a: &Record, b: &Record| a.run == b.run && a.step == b.step;
    before
        .iter()
        .rev()
        .filter(|d| !left.iter().any(|l| same(&l.intent, &d.intent)))
        .map(|d| {
            let kind = match &d.intent.event {
                Event::Intent { action, .. } => action.clone(),
                _ => "step".to_string(),
            };
            let closing = records.iter().rev().find_map(|r| match &r.event {
                Event::Undone { verification } if same(r, &d.intent) => {
                    Some(Ok(verification.clone()))
                }
                _ => None,
            });
            StepOutcome {
                fault: d.intent.fault.clone(),
                kind,
                // Only a verified undo closes a step.
                result: closing.unwrap_or(Ok(Verification::Verified)),
            }
        })
        .collect()
}

/// One run with something still on, as the journal tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOn {
    pub run: String,
    /// The fault as approved (a compound fault's own id), else its first step's.
    pub fault: String,
    /// The target as approved, password masked; empty when the journal has none.
    pub target: String,
    /// Its steps still on, oldest first.
    pub steps: Vec<Dangling>,
}

impl RunOn {
    /// `pg-read-only on host=… password=*** (run 1a2b3c4d)`: the target is never
    /// followed by punctuation, so masking the text again leaves it whole.
    pub fn describe(&self) -> String {
        match self.target.is_empty() {
            true => format!("{} (run {})", self.fault, self.run),
            false => format!("{} on {} (run {})", self.fault, self.target, self.run),
        }
    }

    /// Whether `id` names this run's fault or a fault it included.
    pub fn is_of(&self, id: &str) -> bool {
        self.fault == id || self.steps.iter().any(|d| d.intent.fault == id)
    }

    /// The pid of the run's holder process, when it is still alive.
    pub fn live_holder(&self) -> Option<u32> {
        let (pid, start_time) = self.steps.iter().find_map(|d| d.holder)?;
        procfs::is_same_live(pid, start_time).then_some(pid)
    }
}

/// Why nothing new goes on while earlier runs left faults on: each one named (its
/// run, its target with the password masked), and the ways out.
pub fn still_on_problem(runs: &[RunOn]) -> String {
    let steps: usize = runs.iter().map(|r| r.steps.len()).sum();
    let named: Vec<String> = runs.iter().map(RunOn::describe).collect();
    let (forget, one) = match runs {
        [only] => (only.run.as_str(), "if its target no longer exists"),
        _ => ("RUN", "for one whose target no longer exists"),
    };
    format!(
        "{steps} fault step(s) from earlier runs are still on: {}; run `chaosdeck teardown --dangling` first, or `chaosdeck teardown --forget {forget}` {one}",
        named.join(", ")
    )
}

/// Closes what the journal says is on for `what` — a run id, or a fault id (every
/// run of it) — with a `forgotten` record, undoing nothing: the operator's word that
/// its target no longer exists. Only an exact id is taken, and a run whose holder
/// process is alive is refused (`teardown` ends it). Gives back what was forgotten.
pub fn forget(journal: &Journal, what: &str) -> Result<Vec<RunOn>, String> {
    let records = journal.records().map_err(|e| e.to_string())?;
    let on = runs_on(&records, None);
    let chosen: Vec<RunOn> = on
        .iter()
        .filter(|r| r.run == what || r.is_of(what))
        .cloned()
        .collect();
    if chosen.is_empty() {
        let named: Vec<String> = on.iter().map(RunOn::describe).collect();
        return Err(match named.is_empty() {
            true => format!("--forget \"{what}\": the journal has nothing on"),
            false => format!(
                "--forget \"{what}\": no run or fault with exactly that id is on; on: {}",
                named.join(", ")
            ),
        });
    }
    if let Some((held, pid)) = chosen
        .iter()
        .find_map(|r| r.live_holder().map(|pid| (r, pid)))
    {
        return Err(format!(
            "--forget \"{what}\": {} is held by pid {pid}, which undoes it: `chaosdeck teardown {}` ends it",
            held.describe(),
            held.fault
        ));
    }
    let reason = format!(
        "the operator declared it gone (chaosdeck teardown --forget {what}); nothing was undone"
    );
    for d in chosen.iter().flat_map(|r| &r.steps) {
        let event = Event::Forgotten {
            reason: reason.clone(),
        };
        journal
            .append(&d.intent.run, &d.intent.fault, d.intent.step, event)
            .map_err(|e| e.to_string())?;
    }
    Ok(chosen)
}

/// Runs with something still on, in the order they were injected (oldest first);
/// `wanted` keeps those of one fault (the fault as approved, or any fault it
/// included).
pub fn runs_on(records: &[Record], wanted: Option<&str>) -> Vec<RunOn> {
    let mut approved: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for r in records {
        if let Event::Approved { target, .. } = &r.event {
            approved.insert(&r.run, (&r.fault, target));
        }
    }
    let mut runs: Vec<RunOn> = Vec::new();
    for d in dangling_in(records) {
        if let Some(on) = runs.iter_mut().find(|on| on.run == d.intent.run) {
            on.steps.push(d);
            continue;
        }
        let (fault, target) = match approved.get(d.intent.run.as_str()) {
            Some((fault, target)) => (fault.to_string(), mask_password(target)),
            None => (d.intent.fault.clone(), String::new()),
        };
        runs.push(RunOn {
            run: d.intent.run.clone(),
            fault,
            target,
            steps: vec![d],
        });
    }
    runs.retain(|on| wanted.is_none_or(|id| on.is_of(id)));
    runs
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

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(undo: &str) -> Event {
        Event::Intent {
            action: "postgres.setting".into(),
            lifetime: "persistent".into(),
            target: serde_json::json!({}),
            undo: serde_json::json!({ "undo": undo }),
            blast_radius: String::new(),
        }
    }

    fn approved(target: &str) -> Event {
        Event::Approved {
            severity: "high".into(),
            target: target.into(),
            how: "--yes".into(),
        }
    }

    #[test]
    fn runs_on_are_grouped_in_injection_order_with_their_approved_fault_and_target() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let secret = "host=db port=5432 user=postgres password=hunter2";
        journal
            .append("r1", "pg-read-only", 0, approved(secret))
            .unwrap();
        journal
            .append("r1", "pg-read-only", 0, intent("a"))
            .unwrap();
        journal
            .append("r2", "compound-x", 0, approved("kubernetes"))
            .unwrap();
        journal.append("r2", "db-x", 0, intent("b")).unwrap();
        journal.append("r2", "k8s-y", 1, intent("c")).unwrap();
        journal
            .append("r3", "pg-read-only", 0, intent("d"))
            .unwrap();
        let records = journal.records().unwrap();

        let all = runs_on(&records, None);
        let runs: Vec<(&str, &str, usize)> = all
            .iter()
            .map(|r| (r.run.as_str(), r.fault.as_str(), r.steps.len()))
            .collect();
        assert_eq!(
            runs,
            vec![
                ("r1", "pg-read-only", 1),
                ("r2", "compound-x", 2),
                ("r3", "pg-read-only", 1)
            ]
        );
        assert_eq!(
            all[0].describe(),
            "pg-read-only on host=db port=5432 user=postgres password=*** (run r1)"
        );
        assert_eq!(all[2].describe(), "pg-read-only (run r3)");

        let of = |id| -> Vec<String> {
            runs_on(&records, Some(id))
                .into_iter()
                .map(|r| r.run)
                .collect()
        };
        assert_eq!(of("pg-read-only"), vec!["r1", "r3"]);
        assert_eq!(of("k8s-y"), vec!["r2"], "a fault a compound included");
        assert!(of("pg-read-onl").is_empty(), "only an exact id");

        assert_eq!(
            still_on_problem(&all[..1]),
            "1 fault step(s) from earlier runs are still on: pg-read-only on host=db port=5432 \
             user=postgres password=*** (run r1); run `chaosdeck teardown --dangling` first, or \
             `chaosdeck teardown --forget r1` if its target no longer exists"
        );
        let problem = still_on_problem(&all);
        assert!(
            problem.starts_with("4 fault step(s) from earlier runs are still on: pg-read-only on host=db port=5432 user=postgres password=*** (run r1), compound-x on kubernetes (run r2), pg-read-only (run r3); "),
            "{problem}"
        );
        assert!(
            problem.ends_with(
                "`chaosdeck teardown --forget RUN` for one whose target no longer exists"
            ),
            "{problem}"
        );
        assert!(!problem.contains("hunter2"));
    }

    #[test]
    fn forget_closes_an_exact_run_or_fault_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        journal
            .append("r1", "k8s-x", 0, approved("kubernetes"))
            .unwrap();
        journal.append("r1", "k8s-x", 0, intent("a")).unwrap();
        let failed = Event::UndoFailed {
            error: "no cluster".into(),
        };
        journal.append("r1", "k8s-x", 0, failed).unwrap();
        journal.append("r2", "k8s-y", 0, intent("b")).unwrap();
        journal.append("r3", "k8s-y", 0, intent("c")).unwrap();

        for wrong in ["r", "k8s", "K8S-X", "r1 "] {
            let e = forget(&journal, wrong).unwrap_err();
            assert!(
                e.contains("no run or fault with exactly that id is on"),
                "{e}"
            );
        }
        assert_eq!(journal.dangling().unwrap().len(), 3);

        let gone = forget(&journal, "r1").unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].fault, "k8s-x");
        let gone = forget(&journal, "k8s-y").unwrap();
        let runs: Vec<&str> = gone.iter().map(|r| r.run.as_str()).collect();
        assert_eq!(runs, vec!["r2", "r3"]);
        assert!(journal.dangling().unwrap().is_empty());
        let e = forget(&journal, "r1").unwrap_err();
        assert!(e.contains("the journal has nothing on"), "{e}");
        let forgotten = journal
            .records()
            .unwrap()
            .into_iter()
            .filter(|r| matches!(r.event, Event::Forgotten { .. }))
            .count();
        assert_eq!(forgotten, 3);
    }
}
