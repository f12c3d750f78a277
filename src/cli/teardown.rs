//! `chaosdeck teardown ID|--all|--dangling`: undo what the journal says is on. A
//! fault whose holder process is alive is handed back to it (SIGTERM); what is left
//! after that (or whose holder died) is undone here from the journal's undo data.

use std::path::PathBuf;

use serde::Serialize;

use super::args::TeardownArgs;
use super::{setup, Status};
use crate::driver::targets::Targets;
use crate::engine::inject::StepOutcome;
use crate::engine::journal::Journal;
use crate::engine::recover::tear_down_dangling_runs;

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
    let ((journal, given), runtime) = match setup::with_runtime(open(state_dir, args)) {
        Ok(ready) => ready,
        Err(status) => return status,
    };
    let runs = match runtime.block_on(tear_down_dangling_runs(&journal, wanted, &given)) {
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
    let mut results: Vec<(String, StepOutcome)> = Vec::new();
    for torn in runs {
        for note in &torn.notes {
            eprintln!("{note}");
        }
        if torn.outcomes.is_empty() {
            println!("{}: torn down by its holder process (verified)", torn.run);
        }
        let run = torn.run;
        results.extend(torn.outcomes.into_iter().map(|o| (run.clone(), o)));
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

/// The journal, then the targets the flags name (what a fault whose holder is gone
/// is undone against).
fn open(state_dir: Option<&PathBuf>, args: &TeardownArgs) -> Result<(Journal, Targets), String> {
    let journal = Journal::open(&setup::state_dir(state_dir)).map_err(|e| e.to_string())?;
    let given = super::targets::from_args(&args.targets).map_err(|e| e.to_string())?;
    Ok((journal, given))
}
