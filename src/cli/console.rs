//! `chaosdeck` with no subcommand: read the catalog, the config and the target
//! flags, check them, then hand over to the console. Bad input is reported before the
//! terminal is taken over.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use super::args::ConsoleArgs;
use super::Status;
use crate::catalog::Catalog;
use crate::config::{parse_probe_flag, ConnAsWritten};
use crate::engine::journal::Journal;
use crate::tui::console::{Options, FLAGS_BUNDLE};
use crate::tui::engine_link::{Setup, StartedRuns};
use crate::tui::theme::Theme;

pub fn run(
    args: &ConsoleArgs,
    catalog_dirs: &[PathBuf],
    state_dir: Option<&PathBuf>,
    config: Option<&PathBuf>,
) -> Status {
    let state_dir = super::setup::state_dir(state_dir);
    let _log = super::logging::to_file(&state_dir);
    let runtime = match crate::engine::runner::engine_runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return Status::InputError;
        }
    };
    // With nothing to point at, the console opens on the lab.
    let lab = match config.is_none() && !args.targets_given() {
        true => start_lab(&runtime, &state_dir),
        false => None,
    };
    let config = lab
        .as_ref()
        .map(|l| l.config_path.clone())
        .or(config.cloned());
    let opened = prepare(args, catalog_dirs, &state_dir, config.as_ref()).and_then(|p| {
        Journal::open(&state_dir)
            .map(|j| (p, j))
            .map_err(|e| e.to_string())
    });
    let ((setup, mut options), journal) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("{e}");
            if let Some(lab) = lab {
                runtime.block_on(lab.down());
            }
            return Status::InputError;
        }
    };
    if let Some(lab) = &lab {
        options.notices = lab.missing.clone();
    }
    let started = StartedRuns::default();
    let console = crate::tui::console::run(setup, options, journal.clone(), started.clone());
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(console)));
    match outcome {
        Ok(result) => {
            // Nothing is on after a normal quit; should the loop have ended with a
            // fault on (the terminal went away mid-run), it is undone here.
            let verified = undo_still_on(&runtime, &journal, &started);
            if let Some(lab) = lab {
                eprintln!("Taking the lab down…");
                runtime.block_on(lab.down());
            }
            match (result, verified) {
                (_, false) => Status::TeardownFailed,
                (Ok(()), true) => Status::Pass,
                (Err(e), true) => {
                    eprintln!("the console stopped: {e}");
                    Status::InputError
                }
            }
        }
        Err(_) => {
            // Dropping the runtime ends the engine's tasks (session-bound faults end
            // with their sessions) and the lab's children; the rest is undone below.
            let record = lab.as_ref().map(|l| l.record.clone());
            drop(lab);
            drop(runtime);
            let status = undo_after_crash(&journal, &started);
            if let Some(record) = record {
                remove_lab_after_crash(&state_dir, &record);
            }
            status
        }
    }
}

/// Starts the lab; when it cannot start, says why and opens the console without it.
fn start_lab(
    runtime: &tokio::runtime::Runtime,
    state_dir: &std::path::Path,
) -> Option<crate::lab::up::Lab> {
    let exe = std::env::current_exe().ok()?;
    eprintln!(
        "Starting the lab (a throwaway PostgreSQL cluster, a demo service, demo containers)…"
    );
    match runtime.block_on(crate::lab::up::Lab::up(state_dir, &exe)) {
        Ok(lab) => Some(lab),
        Err(e) => {
            eprintln!("the lab did not start: {e}");
            None
        }
    }
}

fn remove_lab_after_crash(state_dir: &std::path::Path, record: &crate::lab::record::LabRecord) {
    let Ok(runtime) = crate::engine::runner::engine_runtime() else {
        eprintln!("cannot start the async runtime; run `chaosdeck lab down`");
        return;
    };
    for line in runtime.block_on(crate::lab::teardown::remove_leftovers(state_dir, record)) {
        eprintln!("  lab: {line}");
    }
}

/// After a panic (the panic hook has given the terminal back): undo from the journal
/// what the runs of this console left on, and say how it went.
fn undo_after_crash(journal: &Journal, started: &StartedRuns) -> Status {
    eprintln!("chaosdeck: the console crashed; undoing what its runs left on");
    let Ok(runtime) = crate::engine::runner::engine_runtime() else {
        eprintln!("cannot start the async runtime; run `chaosdeck teardown --dangling`");
        return Status::TeardownFailed;
    };
    match undo_still_on(&runtime, journal, started) {
        true => Status::VerdictFailed,
        false => {
            eprintln!("something is still on; `chaosdeck teardown --dangling` retries");
            Status::TeardownFailed
        }
    }
}

/// Undoes whatever the journal says the runs of this console still have on (nothing,
/// after a normal quit); says so for each step. Whether every undo was verified.
fn undo_still_on(
    runtime: &tokio::runtime::Runtime,
    journal: &Journal,
    started: &StartedRuns,
) -> bool {
    let runs = started.lock().map(|r| r.clone()).unwrap_or_default();
    let mut all_verified = true;
    for (run, targets) in runs {
        match runtime.block_on(crate::engine::recover::undo_run(journal, &run, &targets)) {
            Ok(outcomes) => {
                for o in outcomes {
                    all_verified &= o.verified();
                    eprintln!("  {run}: {} {}: {}", o.fault, o.kind, o.describe());
                }
            }
            Err(e) => {
                all_verified = false;
                eprintln!("  {run}: {e}");
            }
        }
    }
    all_verified
}

fn prepare(
    args: &ConsoleArgs,
    catalog_dirs: &[PathBuf],
    state_dir: &std::path::Path,
    config_path: Option<&PathBuf>,
) -> Result<(Setup, Options), String> {
    let catalog = Catalog::load(catalog_dirs).map_err(|e| e.to_string())?;
    let config = super::run::load_config(config_path)?;
    let flags = super::targets::from_args(&args.targets).map_err(|e| e.to_string())?;
    let mut bundles = BTreeMap::new();
    if let Some(config) = &config {
        for name in config.targets.keys() {
            let named = config
                .targets_named(name, flags.exe.clone())
                .map_err(|e| e.to_string())?;
            bundles.insert(name.clone(), named);
        }
    }
    let any_flag = flags.postgres.is_some()
        || flags.container.is_some()
        || flags.process.is_some()
        || flags.proxy.is_some();
    if any_flag || bundles.is_empty() {
        bundles.insert(FLAGS_BUNDLE.to_string(), flags.clone());
    }
    let bundle = match &args.target {
        Some(name) if bundles.contains_key(name) => name.clone(),
        Some(name) => {
            let known: Vec<&str> = bundles.keys().map(String::as_str).collect();
            return Err(format!(
                "--target \"{name}\": no such target; known: {}",
                known.join(", ")
            ));
        }
        None if any_flag => FLAGS_BUNDLE.to_string(),
        None => config
            .as_ref()
            .and_then(|c| c.targets.keys().next().cloned())
            .unwrap_or_else(|| FLAGS_BUNDLE.to_string()),
    };
    let observe = config.as_ref().map(|c| c.observe).unwrap_or_default();
    let pg = bundles
        .get(&bundle)
        .and_then(|t| t.postgres.as_ref())
        .map(|p| &p.conn);
    let one_off_probes = args
        .probes
        .iter()
        .map(|flag| parse_probe_flag(flag, &observe, pg))
        .collect::<Result<Vec<_>, String>>()?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let choice = args
        .theme
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.theme.clone()));
    let theme = Theme::choose(choice.as_deref(), no_color).map_err(|e| e.to_string())?;
    let report_dir = match &args.report_dir {
        Some(dir) => dir.clone(),
        None => {
            std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?
        }
    };
    let mut typed_conns = config
        .as_ref()
        .map(|c| c.conns_as_written())
        .unwrap_or_default();
    if any_flag {
        // The flags replaced any bundle of the file named like them.
        typed_conns.remove(FLAGS_BUNDLE);
    }
    if let Some(conn) = &args.targets.conn {
        typed_conns.insert(FLAGS_BUNDLE.to_string(), ConnAsWritten::new(conn.as_str()));
    }
    let setup = Setup {
        catalog,
        config,
        bundles,
        typed_conns,
        one_off_probes,
        max_severity: args.max_severity,
        state_dir: state_dir.to_path_buf(),
        host_disk: super::run::host_disk(Some(&state_dir.to_path_buf())),
        host_name: sysinfo::System::host_name().unwrap_or_else(|| "this-host".into()),
        report_dir,
    };
    let options = Options {
        read_only: args.read_only,
        theme,
        bundle,
        notices: Vec::new(),
    };
    Ok((setup, options))
}
