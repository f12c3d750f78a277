//! `chaosdeck teardown ID|--all|--dangling`: undo what the journal says is on. A
//! fault whose holder process is alive is handed back to it (SIGTERM); what is left
//! after that (or whose holder died) is undone here from the journal's undo data.

use std::path::PathBuf;

use serde::Serialize;

use super::args::TeardownArgs;
use super::{setup, Status};
use crate::catalog::Catalog;
use crate::driver::targets::Targets;
use crate::engine::journal::Journal;
use crate::engine::recover::tear_down_dangling_runs;

#[derive(Serialize)]
struct OutcomeJson {
    run: String,
    fault: String,
    action: String,
    result: String,
    undone_by: UndoneBy,
}

/// Who undid a step: the run's holder process, asked to end, or this command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum UndoneBy {
    Holder,
    Teardown,
}

pub fn run(catalog_dirs: &[PathBuf], state_dir: Option<&PathBuf>, args: &TeardownArgs) -> Status {
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
    // With --json, stdout is JSON only: what people read goes to stderr.
    let say = |line: &str| match args.json {
        true => eprintln!("{line}"),
        false => println!("{line}"),
    };
    if runs.is_empty() {
        if let Some(id) = wanted {
            if let Err(e) = known_fault(catalog_dirs, &journal, id) {
                eprintln!("{e}");
                return Status::InputError;
            }
        }
        say(&format!(
            "Nothing to tear down: the journal has no {} on.",
            wanted
                .map(|w| format!("\"{w}\""))
                .unwrap_or_else(|| "fault".into())
        ));
    }
    let mut rows: Vec<OutcomeJson> = Vec::new();
    for torn in &runs {
        for note in &torn.notes {
            eprintln!("{note}");
        }
        for (i, o) in torn.outcomes.iter().enumerate() {
            rows.push(OutcomeJson {
                run: torn.run.clone(),
                fault: o.fault.clone(),
                action: o.kind.clone(),
                result: o.describe(),
                undone_by: match i < torn.holder_steps {
                    true => UndoneBy::Holder,
                    false => UndoneBy::Teardown,
                },
            });
        }
    }
    if args.json {
        if super::print_json(&rows) != Status::Pass {
            return Status::InputError;
        }
    } else {
        for row in &rows {
            let by = match row.undone_by {
                UndoneBy::Holder => " (by its holder process)",
                UndoneBy::Teardown => "",
            };
            println!(
                "{}: {} {}: {}{by}",
                row.run, row.fault, row.action, row.result
            );
        }
    }
    let ok = runs.iter().flat_map(|r| &r.outcomes).all(|o| o.verified());
    if ok {
        Status::Pass
    } else {
        eprintln!("teardown left something behind; it stays in the journal as dangling");
        Status::TeardownFailed
    }
}

/// Whether `id` names a fault: one the journal has seen (it may come from a catalog
/// folder not passed this time), or one of the catalog. A typo is not "nothing to
/// tear down": it would leave the fault meant on.
fn known_fault(catalog_dirs: &[PathBuf], journal: &Journal, id: &str) -> Result<(), String> {
    let records = journal.records().map_err(|e| e.to_string())?;
    if records.iter().any(|r| r.fault == id) {
        return Ok(());
    }
    let catalog = Catalog::load(catalog_dirs).map_err(|e| e.to_string())?;
    if catalog.get(id).is_some() {
        return Ok(());
    }
    let hint = catalog
        .suggest(id)
        .map(|s| format!("; did you mean \"{s}\"?"))
        .unwrap_or_default();
    Err(format!(
        "teardown: \"{id}\" is not a fault of the catalog{hint} (`chaosdeck list` shows every id)"
    ))
}

/// The journal, then the targets the flags name (what a fault whose holder is gone
/// is undone against).
fn open(state_dir: Option<&PathBuf>, args: &TeardownArgs) -> Result<(Journal, Targets), String> {
    let journal = Journal::open(&setup::state_dir(state_dir)).map_err(|e| e.to_string())?;
    let given = super::targets::from_args(&args.targets).map_err(|e| e.to_string())?;
    Ok((journal, given))
}
