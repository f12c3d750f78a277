//! `chaosdeck report [RUN_ID|FILE]`: the report of a finished run, again, from its
//! saved record (`<state_dir>/runs/<id>.json`) or from a JSON record file; with no
//! argument, the saved runs, newest first.

use std::path::{Path, PathBuf};

use super::args::ReportArgs;
use super::execute::Progress;
use super::table::Table;
use super::{print_json, print_text, setup, Status};
use crate::engine::record::RunRecord;
use crate::engine::run_store::{read_file, RunStore, RunStoreError, SavedRun};

pub fn run(state_dir: Option<&PathBuf>, args: &ReportArgs) -> Status {
    let store = RunStore::in_state_dir(&setup::state_dir(state_dir));
    let Some(wanted) = args.run.as_deref() else {
        if let Some(out) = &args.out {
            eprintln!(
                "--out \"{}\" needs a run: chaosdeck report RUN_ID --out {}",
                out.display(),
                out.display()
            );
            return Status::InputError;
        }
        return list(&store, args.json);
    };
    let record = match load(&store, wanted) {
        Ok(record) => record,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    let progress = if args.json {
        Progress::Stderr
    } else {
        Progress::Stdout
    };
    if let Some(out) = &args.out {
        match crate::report::write_report(out, &record) {
            Ok((md, json)) => {
                progress.line(&format!("Report: {} and {}", md.display(), json.display()))
            }
            Err(e) => {
                eprintln!("{e}");
                return Status::InputError;
            }
        }
        if args.json {
            return print_text(&crate::report::run_json(&record));
        }
        return Status::Pass;
    }
    match args.json {
        true => print_text(&crate::report::run_json(&record)),
        false => print_text(&crate::report::run_markdown(&record)),
    }
}

/// A record by path (anything with a `/` or ending in `.json`), by id or unique id
/// prefix in the store, or, failing that, by a file of that name.
fn load(store: &RunStore, wanted: &str) -> Result<RunRecord, RunStoreError> {
    if wanted.contains('/') || wanted.ends_with(".json") {
        return read_file(Path::new(wanted));
    }
    match store.find(wanted) {
        Err(RunStoreError::Unknown { .. }) if Path::new(wanted).is_file() => {
            read_file(Path::new(wanted))
        }
        found => found.map(|(_, record)| record),
    }
}

fn list(store: &RunStore, json: bool) -> Status {
    let listing = match store.list() {
        Ok(listing) => listing,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    for skipped in &listing.unreadable {
        eprintln!("skipped: {skipped}");
    }
    if json {
        return print_json(&listing.runs);
    }
    print_text(&table(&listing.runs, store.dir()))
}

/// The saved runs as a table, in the style of `chaosdeck list`.
fn table(runs: &[SavedRun], dir: &Path) -> String {
    if runs.is_empty() {
        return format!(
            "No saved runs in {}: `chaosdeck run`, `gameday` and the console save each \
             finished run there.\n",
            dir.display()
        );
    }
    let mut table = Table::new(&["ID", "FAULT", "STARTED", "VERDICT"], &[10, 30, 26]);
    for run in runs {
        table.row(&[&run.id, &run.fault, &run.started_at, &run.outcome.word()]);
    }
    table.finish(&format!(
        "Total: {} saved run{} in {}",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        dir.display()
    ))
}

/// Saves a finished run for `chaosdeck report`; a failure is a warning, the run's
/// outcome stands.
pub fn save(store: &RunStore, record: &RunRecord) {
    if let Err(e) = store.save(record, crate::report::run_json) {
        eprintln!("warning: {e}; `chaosdeck report` will not find this run (its outcome stands)");
    }
}
