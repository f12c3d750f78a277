//! `chaosdeck teardown ID|--all|--dangling`: undo what the journal says is on, newest
//! first. A fault whose holder process is alive is handed back to it (SIGTERM); what
//! is left after that (or whose holder died) is undone here from the journal's undo
//! data. `--forget RUN_OR_ID` closes a run's entries without undoing anything, for a
//! target that no longer exists.

use std::path::PathBuf;

use serde::Serialize;

use super::args::TeardownArgs;
use super::{setup, Status};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::driver::targets::Targets;
use crate::engine::journal::{Dangling, Event, Journal};
use crate::engine::recover::{self, tear_down_dangling_runs};

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

/// A step `--forget` closed, as JSON.
#[derive(Serialize)]
struct ForgottenJson {
    run: String,
    fault: String,
    action: String,
    /// What the journal last knew of it (`applied`, `undo failed`, …).
    last_known: &'static str,
    result: &'static str,
}

pub fn run(
    catalog_dirs: &[PathBuf],
    state_dir: Option<&PathBuf>,
    config: Option<&PathBuf>,
    args: &TeardownArgs,
) -> Status {
    if let Some(what) = &args.forget {
        return forget(state_dir, what, args.json);
    }
    let wanted = args.fault.as_deref().or(args.id.as_deref());
    if wanted.is_none() && !args.all && !args.dangling {
        eprintln!("teardown needs a fault id, --all, --dangling or --forget RUN_OR_ID");
        return Status::InputError;
    }
    let ((journal, given), runtime) = match setup::with_runtime(open(state_dir, config, args)) {
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

/// `teardown --forget RUN_OR_ID`: closes the journal's entries of a run (or of every
/// run of a fault) without undoing anything, and says what it closed.
fn forget(state_dir: Option<&PathBuf>, what: &str, json: bool) -> Status {
    let forgotten = match Journal::open(&setup::state_dir(state_dir))
        .map_err(|e| e.to_string())
        .and_then(|journal| recover::forget(&journal, what))
    {
        Ok(forgotten) => forgotten,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for on in &forgotten {
        lines.push(format!("Forgot {}:", on.describe()));
        for d in &on.steps {
            let action = match &d.intent.event {
                Event::Intent { action, .. } => action.clone(),
                _ => "step".to_string(),
            };
            let last_known = last_known(d);
            lines.push(format!(
                "  {} {action}: closed without undoing it (last known: {last_known})",
                d.intent.fault
            ));
            rows.push(ForgottenJson {
                run: d.intent.run.clone(),
                fault: d.intent.fault.clone(),
                action,
                last_known,
                result: "forgotten",
            });
        }
    }
    lines.push(
        "Nothing was undone: whatever of it may be left on a target that still exists, check by hand."
            .into(),
    );
    for line in &lines {
        match json {
            true => eprintln!("{line}"),
            false => println!("{line}"),
        }
    }
    match json {
        true => super::print_json(&rows),
        false => Status::Pass,
    }
}

/// What the journal last knew of a step that is on, in a few words.
fn last_known(d: &Dangling) -> &'static str {
    match d.last.as_ref().map(|r| &r.event) {
        Some(Event::Applied { .. }) => "applied",
        Some(Event::ApplyFailed { .. }) => "apply failed",
        Some(Event::UndoFailed { .. }) => "undo failed",
        Some(Event::Undone { .. }) => "undo left something behind",
        _ => "about to be applied",
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

/// The journal, then the targets the flags name and those of the config, flags
/// first: a fault whose holder is gone is undone against its recorded target, with
/// the password of whichever of these names the same server.
fn open(
    state_dir: Option<&PathBuf>,
    config: Option<&PathBuf>,
    args: &TeardownArgs,
) -> Result<(Journal, Vec<Targets>), String> {
    let journal = Journal::open(&setup::state_dir(state_dir)).map_err(|e| e.to_string())?;
    let flags = super::targets::from_args(&args.targets).map_err(|e| e.to_string())?;
    let exe = flags.exe.clone();
    let mut given = vec![flags];
    if let Some(path) = config {
        let config = Config::load(path).map_err(|e| e.to_string())?;
        for name in config.targets.keys() {
            let named = config
                .targets_named(name, exe.clone())
                .map_err(|e| e.to_string())?;
            given.push(named);
        }
    }
    Ok((journal, given))
}
