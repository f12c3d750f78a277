//! The headless subcommands. Each one prints what it found and returns the exit
//! status; nothing here draws a screen.

pub mod approval;
pub mod args;
mod console;
mod doctor;
mod execute;
mod gameday;
mod hold;
mod inject;
mod lab;
mod list;
pub mod logging;
mod report;
mod run;
mod setup;
mod show;
mod table;
mod targets;
mod teardown;
mod validate;

use std::io::Write;
use std::process::ExitCode;

pub use args::{Cli, Command};

use crate::catalog::{Catalog, CatalogError};

/// Exit statuses shared by every subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, or the experiment's expectation held.
    Pass = 0,
    /// The experiment ran and its expectation did not hold.
    VerdictFailed = 1,
    /// Bad usage or bad input.
    InputError = 2,
    /// A teardown left something behind.
    TeardownFailed = 3,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status as u8)
    }
}

/// Runs one headless subcommand.
pub fn run(cli: Cli) -> Status {
    if let (Some(_), Some(flag)) = (&cli.command, cli.console.first_given()) {
        eprintln!("{flag} before a subcommand belongs to the console (chaosdeck with no subcommand); a subcommand that takes it wants it after its name");
        return Status::InputError;
    }
    let Some(command) = cli.command else {
        return console::run(
            &cli.console,
            &cli.catalog_dirs,
            cli.state_dir.as_ref(),
            cli.config.as_ref(),
        );
    };
    // Commands with side effects keep a log; the catalog commands only print.
    let _log = match command {
        Command::Inject(_)
        | Command::Teardown(_)
        | Command::Hold(_)
        | Command::Run(_)
        | Command::Gameday(_)
        | Command::Lab(_) => {
            let dir = cli
                .state_dir
                .clone()
                .unwrap_or_else(crate::engine::journal::default_state_dir);
            logging::to_file(&dir)
        }
        _ => None,
    };
    match command {
        Command::List(args) => with_catalog(&cli.catalog_dirs, |c| list::run(c, &args)),
        Command::Show(args) => with_catalog(&cli.catalog_dirs, |c| show::run(c, &args)),
        Command::Validate(args) => validate::run(&cli.catalog_dirs, &args),
        Command::Inject(args) => inject::run(
            &cli.catalog_dirs,
            cli.state_dir.as_ref(),
            cli.config.as_ref(),
            &args,
        ),
        Command::Teardown(args) => teardown::run(
            &cli.catalog_dirs,
            cli.state_dir.as_ref(),
            cli.config.as_ref(),
            &args,
        ),
        Command::Run(args) => run::run(
            &run::Context {
                catalog_dirs: &cli.catalog_dirs,
                state_dir: cli.state_dir.as_ref(),
                config: cli.config.as_ref(),
            },
            &args,
        ),
        Command::Gameday(args) => gameday::run(
            &run::Context {
                catalog_dirs: &cli.catalog_dirs,
                state_dir: cli.state_dir.as_ref(),
                config: cli.config.as_ref(),
            },
            &args,
        ),
        Command::Report(args) => report::run(cli.state_dir.as_ref(), &args),
        Command::Doctor(args) => doctor::run(
            &run::Context {
                catalog_dirs: &cli.catalog_dirs,
                state_dir: cli.state_dir.as_ref(),
                config: cli.config.as_ref(),
            },
            &args,
        ),
        Command::Hold(args) => hold::run(
            &cli.catalog_dirs,
            cli.state_dir.as_ref(),
            cli.config.as_ref(),
            &args,
        ),
        Command::Lab(args) => lab::run(
            &cli.state_dir
                .clone()
                .unwrap_or_else(crate::engine::journal::default_state_dir),
            &args,
        ),
        Command::DemoService(args) => exit_status(crate::lab::demo_service::run(&args)),
        Command::Load(args) => exit_status(crate::lab::load_gen::run(&args)),
        Command::Stress(args) => exit_status(crate::driver::host::run_stressor(args)),
    }
}

/// A hidden child process's exit code as a status: success passes, anything else fails.
fn exit_status(code: ExitCode) -> Status {
    match code == ExitCode::SUCCESS {
        true => Status::Pass,
        false => Status::VerdictFailed,
    }
}

fn with_catalog(dirs: &[std::path::PathBuf], f: impl FnOnce(&Catalog) -> Status) -> Status {
    match Catalog::load(dirs) {
        Ok(catalog) => f(&catalog),
        Err(e) => {
            print_catalog_error(&e);
            Status::InputError
        }
    }
}

fn print_catalog_error(error: &CatalogError) {
    for issue in &error.issues {
        eprintln!("{issue}");
    }
    eprintln!(
        "the catalog has {} problem{}; `chaosdeck validate` checks it",
        error.issues.len(),
        if error.issues.len() == 1 { "" } else { "s" }
    );
}

/// Prints `value` as pretty JSON (see [`print_text`]); a failure to serialize is
/// reported, not hidden.
fn print_json(value: &impl serde::Serialize) -> Status {
    match serde_json::to_string_pretty(value) {
        Ok(mut text) => {
            text.push('\n');
            print_text(&text)
        }
        Err(e) => {
            eprintln!("cannot write JSON: {e}");
            Status::InputError
        }
    }
}

/// Prints `text` on stdout as it is, for the read-only commands (`list`, `show`,
/// `validate`, `report`, `doctor`, `lab status`). A reader that went away
/// (`chaosdeck list --json | head -1`) is no failure: what it did not read is dropped,
/// nothing is said, and the command ends with the status it would have had. Any other
/// failure to write (a full disk behind `>`) is said on stderr.
///
/// SIGPIPE stays ignored, as Rust leaves it: a command that holds a fault must never be
/// killed by its reader going away, so a closed stdout is handled here instead.
fn print_text(text: &str) -> Status {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Status::Pass,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Status::Pass,
        Err(e) => {
            eprintln!("cannot write to stdout: {e}");
            Status::InputError
        }
    }
}
