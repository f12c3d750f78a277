//! `chaosdeck inject ID`: approve, start a holder process that injects the fault and
//! keeps it on until teardown or its TTL, then print the responder prompt.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use super::args::InjectArgs;
use super::{setup, Status};
use crate::catalog::Catalog;
use crate::config::ConnAsWritten;
use crate::driver::dispatch::RunContext;
use crate::engine::inject;
use crate::engine::journal::Journal;
use crate::engine::recover::runs_on;

/// Everything an injection needs, checked before anything is touched.
pub type Prepared = crate::engine::experiment::Resolved;

/// Loads the fault and `--config`, checks the policy and the approval, takes the
/// targets from the config and the flags, and resolves the parameters.
pub fn prepare(
    catalog_dirs: &[PathBuf],
    config_path: Option<&PathBuf>,
    args: &InjectArgs,
) -> Result<Prepared, String> {
    prepare_revealing(catalog_dirs, config_path, args).map(|(prepared, _)| prepared)
}

/// [`prepare`], and the connection string as written (`--conn`, or the chosen
/// config target's `postgres.conn`) for `--reveal-secrets`.
fn prepare_revealing(
    catalog_dirs: &[PathBuf],
    config_path: Option<&PathBuf>,
    args: &InjectArgs,
) -> Result<(Prepared, Option<ConnAsWritten>), String> {
    let catalog = Catalog::load(catalog_dirs).map_err(|e| e.to_string())?;
    let config = super::run::load_config(config_path)?;
    let Some(id) = args.fault_id() else {
        return Err(
            "inject needs a fault id, such as: chaosdeck inject db-max-connections --conn …".into(),
        );
    };
    if let Some(spec) = catalog.get(id) {
        if let Some(config) = &config {
            setup::check_config_policy(config, spec)?;
        }
        let approval = args.approval;
        if !args.dry_run {
            approval.check(spec)?;
        } else {
            approval.check_policy(spec)?;
        }
    }
    let flags = super::targets::from_args(&args.targets).map_err(|e| e.to_string())?;
    let (targets, chosen) = setup::choose_targets(config.as_ref(), args.target.as_deref(), flags)?;
    let ttl = args.ttl.map(|t| t.as_duration());
    let prepared = crate::engine::experiment::resolve(&catalog, id, &args.params, targets, ttl)?;
    super::run::check_targets_given(&prepared, config.as_ref(), chosen.as_deref(), false)?;
    let as_written = match (&args.targets.conn, &config, chosen) {
        (Some(conn), _, _) => Some(ConnAsWritten::new(conn.as_str())),
        (None, Some(config), Some(name)) => config.conns_as_written().remove(&name),
        _ => None,
    };
    Ok((prepared, as_written))
}

pub fn run(
    catalog_dirs: &[PathBuf],
    state_dir: Option<&PathBuf>,
    config_path: Option<&PathBuf>,
    args: &InjectArgs,
) -> Status {
    let (prepared, as_written) = match prepare_revealing(catalog_dirs, config_path, args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    if args.dry_run {
        return dry_run(&prepared);
    }
    if let Err(e) = refuse_stacking(state_dir, &prepared.spec.id) {
        eprintln!("{e}");
        return Status::InputError;
    }
    let run_id = crate::engine::journal::new_run_id();
    match spawn_holder(&run_id, state_dir) {
        Ok(()) => {
            print_injected(
                &prepared,
                args.reveal_secrets.then_some(as_written).flatten(),
            );
            Status::Pass
        }
        Err((status, message)) => {
            eprintln!("{message}");
            status
        }
    }
}

/// Refuses a fault the journal says is already on (held, or left dangling): a second
/// injection would stack on the first, take the first one's change for the state to
/// restore, and leave it in place at teardown.
fn refuse_stacking(state_dir: Option<&PathBuf>, id: &str) -> Result<(), String> {
    let records = Journal::open(&setup::state_dir(state_dir))
        .and_then(|journal| journal.records())
        .map_err(|e| e.to_string())?;
    let Some(on) = runs_on(&records, Some(id)).pop() else {
        return Ok(());
    };
    let (how, or_else) = match on.live_holder() {
        Some(pid) => (format!("held by pid {pid}"), String::new()),
        None => (
            "left on from an earlier run".to_string(),
            format!(
                " (or, if its target no longer exists, chaosdeck teardown --forget {})",
                on.run
            ),
        ),
    };
    Err(format!(
        "\"{id}\" is already on: {}, {how}; injecting it again would stack on it — end it first with: chaosdeck teardown {id}{or_else}",
        on.describe()
    ))
}

fn dry_run(prepared: &Prepared) -> Status {
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        eprintln!("cannot start the async runtime");
        return Status::InputError;
    };
    let ctx = RunContext {
        run_id: "dry-run".into(),
        fault_id: prepared.spec.id.clone(),
        ttl: prepared.ttl,
    };
    let plans = runtime.block_on(inject::dry_run(&prepared.steps, &prepared.targets, &ctx));
    println!("Dry run: {} (nothing injected)", prepared.spec.name);
    let mut status = Status::Pass;
    for (kind, result) in plans {
        match result {
            Ok(blast) => println!("  would {blast}   [{kind}]"),
            Err(e) => {
                println!("  cannot run {kind}: {e}");
                status = Status::InputError;
            }
        }
    }
    status
}

/// Starts `chaosdeck __hold` in its own session and waits until it says the fault
/// is on (`ready`) or why not (`error`).
fn spawn_holder(run_id: &str, state_dir: Option<&PathBuf>) -> Result<(), (Status, String)> {
    let fail = |message: String| (Status::InputError, message);
    let exe = std::env::current_exe()
        .map_err(|e| fail(format!("cannot find the chaosdeck binary: {e}")))?;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let Some(position) = args.iter().position(|a| a == "inject") else {
        return Err(fail(
            "cannot find the inject subcommand in the arguments".into(),
        ));
    };
    args[position] = "__hold".into();
    args.push("--run".into());
    args.push(run_id.into());
    // The connection string (and its password) goes through the environment, which
    // other users cannot read, not through the command line `ps` shows everyone.
    let conn = take_flag_value(&mut args, "--conn");
    let dir = state_dir
        .cloned()
        .unwrap_or_else(crate::engine::journal::default_state_dir);
    let _ = std::fs::create_dir_all(&dir);
    let log_path = dir.join(format!("holder-{run_id}.log"));
    let log = private_file(&log_path).map_err(|e| fail(format!("{}: {e}", log_path.display())))?;
    let mut command = std::process::Command::new(exe);
    command.args(&args);
    if let Some(conn) = conn {
        command.env("CHAOSDECK_CONN", conn);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    // The holder outlives this command and the shell that ran it.
    use std::os::unix::process::CommandExt;
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| fail(format!("cannot start the holder process: {e}")))?;
    let Some(stdout) = child.stdout.take() else {
        return Err(fail("the holder process has no output pipe".into()));
    };
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + READY_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(line) => line,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                // Ask the holder to undo what it did so far (it does once its
                // injection returns), give it a while, and say so.
                if let Ok(pid) = i32::try_from(child.id()) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                }
                let until = std::time::Instant::now() + UNDO_GRACE;
                while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return Err((
                    Status::TeardownFailed,
                    format!(
                        "the fault was not on within {}s; the holder was told to undo it — check with `chaosdeck teardown --dangling` (log: {})",
                        READY_TIMEOUT.as_secs(),
                        log_path.display()
                    ),
                ));
            }
        };
        if let Some(progress) = line.strip_prefix("progress ") {
            eprintln!("  {progress}");
        } else if line == "ready" {
            return Ok(());
        } else if let Some(rest) = line.strip_prefix("error ") {
            let (code, message) = rest.split_once(' ').unwrap_or(("2", rest));
            let status = if code == "3" {
                Status::TeardownFailed
            } else {
                Status::InputError
            };
            let _ = child.wait();
            return Err((status, message.to_string()));
        }
    }
    let _ = child.wait();
    Err((
        Status::TeardownFailed,
        format!(
            "the holder process ended before the fault was on; see {} and run `chaosdeck teardown --dangling`",
            log_path.display()
        ),
    ))
}

/// A new file only its owner may read (0600): the holder's log says what it did to
/// which target.
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// How long `inject` waits for the holder to say the fault is on.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long `inject` waits for a holder it told to undo a late fault.
const UNDO_GRACE: Duration = Duration::from_secs(30);

/// Removes `--flag VALUE` or `--flag=VALUE` from `args` and returns the value.
fn take_flag_value(args: &mut Vec<std::ffi::OsString>, flag: &str) -> Option<std::ffi::OsString> {
    let prefix = format!("{flag}=");
    let position = args
        .iter()
        .position(|a| a == flag || a.to_str().is_some_and(|s| s.starts_with(&prefix)))?;
    let arg = args.remove(position);
    match arg.to_str().and_then(|s| s.strip_prefix(&prefix)) {
        Some(value) => Some(value.into()),
        None if position < args.len() => Some(args.remove(position)),
        None => None,
    }
}

/// Prints the responder prompt, with `revealed` (`--reveal-secrets`) as its target.
fn print_injected(prepared: &Prepared, revealed: Option<ConnAsWritten>) {
    let mut builtins = prepared.builtins.clone();
    if let Some(conn) = revealed {
        builtins.insert("target", conn.text().to_string());
    }
    let prompt =
        prepared
            .spec
            .render_text(prepared.spec.prompt.trim(), &prepared.values, &builtins);
    println!("Failure injected: {}", prepared.spec.name);
    println!();
    println!("Suggested prompt for the responder:");
    println!("{}", wrap(&prompt, 80));
    println!();
    println!(
        "To tear down: chaosdeck teardown --id {} [same flags]",
        prepared.spec.id
    );
}

/// Word-wraps `text` at `width` columns, keeping its paragraphs.
fn wrap(text: &str, width: usize) -> String {
    let mut out = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push(line);
    }
    out.join("\n")
}
