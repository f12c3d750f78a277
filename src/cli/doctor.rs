//! `chaosdeck doctor`: is this machine ready for chaosdeck, and do the targets answer?
//! One line per check — `ok`, `warn` or `fail` — with what was found and, when not ok,
//! how to fix it. Exit 0 when nothing failed (warnings allowed), 1 when a check failed,
//! 2 on bad input. Nothing is changed: the state folder is tried with a file removed at
//! once, the journal is opened for appending and not written. No password is printed.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::args::DoctorArgs;
use super::run::{load_config, Context};
use super::{setup, Status};
use crate::catalog::{Catalog, TargetKind};
use crate::driver::command::find_program;
use crate::driver::process::procfs;
use crate::driver::targets::Targets;
use crate::driver::Verification;
use crate::engine::journal::{dangling_in, Dangling, Event, Journal};
use crate::lab::{self, LabError};
use crate::report::mask_text;
use crate::tui::reachability;
use crate::tui::screens::targets::{Reach, TargetPart};

/// How long one target, or the Docker engine, may take to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One finding: what was checked, what was found, and how to fix it when not ok.
#[derive(Debug, Serialize)]
struct Check {
    check: String,
    level: Level,
    found: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn ok(check: impl Into<String>, found: impl Into<String>) -> Check {
        Check::new(Level::Ok, check.into(), found.into(), None)
    }

    fn warn(check: impl Into<String>, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(Level::Warn, check.into(), found.into(), Some(fix.into()))
    }

    fn fail(check: impl Into<String>, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(Level::Fail, check.into(), found.into(), Some(fix.into()))
    }

    /// `found` is masked by whoever builds it, piece by piece: masking the joined
    /// text would take the punctuation after a masked password with it.
    fn new(level: Level, check: String, found: String, fix: Option<String>) -> Check {
        Check {
            check,
            level,
            found,
            fix,
        }
    }
}

#[derive(Serialize)]
struct Findings<'a> {
    state_dir: &'a Path,
    checks: &'a [Check],
    failed: usize,
    warnings: usize,
}

pub fn run(ctx: &Context, args: &DoctorArgs) -> Status {
    let ((catalog, bundles), runtime) = match setup::with_runtime(prepare(ctx, args)) {
        Ok(ready) => ready,
        Err(status) => return status,
    };
    let state_dir = setup::state_dir(ctx.state_dir);
    let mut checks = vec![catalog, state_folder(&state_dir)];
    checks.extend(journal(&state_dir));
    checks.extend(runtime.block_on(machine_and_targets(&bundles)));
    let count = |level| checks.iter().filter(|c| c.level == level).count();
    let (failed, warnings) = (count(Level::Fail), count(Level::Warn));
    if args.json {
        let findings = Findings {
            state_dir: &state_dir,
            checks: &checks,
            failed,
            warnings,
        };
        if super::print_json(&findings) != Status::Pass {
            return Status::InputError;
        }
    } else if super::print_text(&lines(&checks, failed, warnings)) != Status::Pass {
        return Status::InputError;
    }
    match failed {
        0 => Status::Pass,
        _ => Status::VerdictFailed,
    }
}

/// The checks as text: one aligned line each, then a count.
fn lines(checks: &[Check], failed: usize, warnings: usize) -> String {
    let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        let fix = c
            .fix
            .as_deref()
            .map(|f| format!(" — fix: {f}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<4}  {:<width$}  {}{fix}\n",
            c.level.word(),
            c.check,
            c.found
        ));
    }
    out.push_str(&format!(
        "{} checks: {failed} failed, {warnings} warning{}\n",
        checks.len(),
        if warnings == 1 { "" } else { "s" }
    ));
    out
}

/// The catalog's check, and the target bundles to reach: every target of the config
/// (or only `--target`, with the flags laid over it) and the quick target flags.
/// Errors are bad input.
fn prepare(ctx: &Context, args: &DoctorArgs) -> Result<(Check, Vec<(String, Targets)>), String> {
    let catalog = Catalog::load(ctx.catalog_dirs).map_err(|e| e.to_string())?;
    let folders = match ctx.catalog_dirs.len() {
        0 => String::new(),
        1 => ", 1 folder added".to_string(),
        n => format!(", {n} folders added"),
    };
    let catalog = Check::ok(
        "catalog",
        format!("{} faults{folders}", catalog.faults().count()),
    );
    let config = load_config(ctx.config)?;
    let flags = super::targets::from_args(&args.targets).map_err(|e| e.to_string())?;
    if let Some(name) = &args.target {
        let Some(config) = &config else {
            return Err(format!(
                "--target \"{name}\" names a target of a config file: pass --config targets.yaml"
            ));
        };
        let named = config
            .targets_named(name, flags.exe.clone())
            .map_err(|e| e.to_string())?;
        let bundle = super::targets::overlay(named, flags);
        return Ok((catalog, vec![(name.clone(), bundle)]));
    }
    let mut bundles = Vec::new();
    if let Some(config) = &config {
        for name in config.targets.keys() {
            let named = config
                .targets_named(name, flags.exe.clone())
                .map_err(|e| e.to_string())?;
            bundles.push((name.clone(), named));
        }
    }
    let any_flag = flags.postgres.is_some()
        || flags.container.is_some()
        || flags.process.is_some()
        || flags.proxy.is_some();
    if any_flag {
        bundles.push((crate::tui::console::FLAGS_BUNDLE.to_string(), flags));
    }
    Ok((catalog, bundles))
}

/// The state folder can be read and written (or, missing, created).
fn state_folder(dir: &Path) -> Check {
    const NAME: &str = "state folder";
    let shown = dir.display();
    let other = "or pass --state-dir DIR";
    let meta = match fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return missing_folder(dir),
        Err(e) => return Check::fail(NAME, format!("{shown}: {e}"), other),
    };
    if !meta.is_dir() {
        return Check::fail(
            NAME,
            format!("{shown} is not a folder"),
            format!("move it away {other}"),
        );
    }
    let fix = format!("chmod u+rwx {shown} {other}");
    if let Err(e) = fs::read_dir(dir) {
        return Check::fail(NAME, format!("cannot read {shown}: {e}"), fix);
    }
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| fs::remove_file(&probe));
    if let Err(e) = written {
        return Check::fail(NAME, format!("cannot write in {shown}: {e}"), fix);
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Check::warn(
            NAME,
            format!(
                "{shown}: readable and writable, but open to others (mode {mode:o}); \
                 it holds the journal, saved runs and logs"
            ),
            format!("chmod 700 {shown}"),
        );
    }
    Check::ok(NAME, format!("{shown}: readable and writable"))
}

/// A state folder that does not exist yet is fine when it can be created.
fn missing_folder(dir: &Path) -> Check {
    let shown = dir.display();
    let Some(parent) = dir.ancestors().skip(1).find(|a| a.is_dir()) else {
        return Check::fail(
            "state folder",
            format!("{shown} does not exist and no folder above it does"),
            "pass --state-dir DIR",
        );
    };
    use nix::unistd::{access, AccessFlags};
    match access(parent, AccessFlags::W_OK | AccessFlags::X_OK) {
        Ok(()) => Check::ok(
            "state folder",
            format!(
                "{shown} does not exist yet; it is created on first use ({} is writable)",
                parent.display()
            ),
        ),
        Err(e) => Check::fail(
            "state folder",
            format!(
                "{shown} does not exist and cannot be created: {}: {e}",
                parent.display()
            ),
            format!("mkdir -m 700 -p {shown} as a user who may, or pass --state-dir DIR"),
        ),
    }
}

/// The journal can be read and appended to; then one check per fault left on.
fn journal(dir: &Path) -> Vec<Check> {
    const NAME: &str = "journal";
    let path = dir.join("journal.jsonl");
    let shown = path.display();
    let nothing_on = Check::ok("dangling", "no fault left on");
    if !path.exists() {
        let found = format!("{shown}: none yet (it is written at the first injection)");
        return vec![Check::ok(NAME, found), nothing_on];
    }
    let fix = format!("chmod u+rw {shown}: the journal is how chaosdeck finds faults left on");
    let records = match Journal::open(dir).and_then(|j| j.records()) {
        Ok(records) => records,
        Err(e) => return vec![Check::fail(NAME, e.to_string(), fix)],
    };
    // `records` skips what it cannot read; count the lines to say so.
    let lines = fs::read_to_string(&path)
        .map(|text| text.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(records.len());
    let unreadable = lines.saturating_sub(records.len());
    let n = records.len();
    let appendable = OpenOptions::new().append(true).open(&path);
    let mut checks = vec![match (appendable, unreadable) {
        (Err(e), _) => {
            let found = format!("{shown}: readable, but cannot be appended to: {e}");
            Check::fail(NAME, found, fix)
        }
        (Ok(_), 0) => Check::ok(NAME, format!("{shown}: {n} records, readable and writable")),
        (Ok(_), bad) => Check::warn(
            NAME,
            format!("{shown}: {n} records and {bad} unreadable line(s), readable and writable"),
            "none for a torn last line, which a crash mid-write leaves (it is skipped); \
             other unreadable lines were edited by hand and are skipped too",
        ),
    }];
    let dangling = dangling_in(&records);
    if dangling.is_empty() {
        checks.push(nothing_on);
    }
    checks.extend(dangling.iter().map(|d| {
        Check::fail(
            "dangling",
            describe_dangling(d),
            "chaosdeck teardown --dangling \
             (with the same --conn or --config, or PGPASSWORD, for PostgreSQL faults)",
        )
    }));
    checks
}

/// `run 1a2b3c4d: db-max-connections postgres.hold_connections (hold 18 of 20
/// connections) since …; its holder (pid 4242) is gone`
fn describe_dangling(d: &Dangling) -> String {
    let intent = &d.intent;
    let (action, blast) = match &intent.event {
        Event::Intent {
            action,
            blast_radius,
            ..
        } => (action.as_str(), blast_radius.as_str()),
        _ => ("step", ""),
    };
    let mut text = format!("run {}: {} {action}", intent.run, intent.fault);
    if !blast.is_empty() {
        text.push_str(&format!(" ({blast})"));
    }
    text.push_str(&format!(" since {}", intent.at));
    match d.last.as_ref().map(|r| &r.event) {
        Some(Event::ApplyFailed { error }) => text.push_str(&format!("; apply failed: {error}")),
        Some(Event::UndoFailed { error }) => text.push_str(&format!("; undo failed: {error}")),
        Some(Event::Undone {
            verification: Verification::Residual(what),
        }) => text.push_str(&format!("; undo left: {what}")),
        _ => {}
    }
    match d.holder {
        Some((pid, start)) if procfs::is_same_live(pid, start) => {
            text.push_str(&format!("; still held by pid {pid}"))
        }
        Some((pid, _)) => text.push_str(&format!("; its holder (pid {pid}) is gone")),
        None => {}
    }
    mask_text(&text)
}

/// Docker, the lab's parts on this machine, kubectl's cluster, and every target, side
/// by side.
async fn machine_and_targets(bundles: &[(String, Targets)]) -> Vec<Check> {
    let (docker, postgres, kubectl, targets) =
        tokio::join!(docker(), postgres_binaries(), kubectl(), targets(bundles));
    let mut checks = vec![docker, postgres, busybox(), kubectl];
    checks.extend(targets);
    checks
}

/// Whether kubectl reaches a cluster, checked as the console checks it before it
/// offers Kubernetes faults. Those faults are optional: a warning at most.
async fn kubectl() -> Check {
    const NAME: &str = "kubectl";
    if find_program(NAME).is_none() {
        return Check::warn(
            NAME,
            "kubectl not installed: kubernetes faults unavailable",
            "only kubernetes faults need it: apt-get install -y kubernetes-client, or kubectl \
             from the Kubernetes apt repository, and a kubeconfig for the cluster",
        );
    }
    let fix = "only kubernetes faults need a cluster: point KUBECONFIG (or ~/.kube/config) \
               at one whose API server answers `kubectl version`";
    match reachability::kubernetes(TIMEOUT).await {
        Reach::Up(answers) => Check::ok(NAME, answers),
        Reach::Down(why) => Check::warn(NAME, format!("kubectl reaches no cluster: {why}"), fix),
        Reach::Unknown | Reach::Checking => {
            Check::warn(NAME, "kubectl reaches no cluster: not checked", fix)
        }
    }
}

async fn docker() -> Check {
    const NAME: &str = "docker";
    let host = lab::docker_host();
    let fix = "container faults and the lab's containers need it: install and start it \
               (apt-get install -y docker.io && service docker start), or point DOCKER_HOST at one";
    let engine = match tokio::time::timeout(TIMEOUT, lab::docker_connect()).await {
        Ok(Ok(engine)) => engine,
        Ok(Err(LabError::DockerUnreachable { source, .. })) => {
            let why = source.to_string();
            let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
            return Check::warn(NAME, format!("no answer at {host}: {why}"), fix);
        }
        Ok(Err(e)) => return Check::warn(NAME, e.to_string(), fix),
        Err(_) => return Check::warn(NAME, format!("no answer at {host} within {TIMEOUT:?}"), fix),
    };
    match tokio::time::timeout(TIMEOUT, engine.version()).await {
        Ok(Ok(v)) => Check::ok(
            NAME,
            format!(
                "Docker {} (API {}) at {host}",
                v.version.as_deref().unwrap_or("?"),
                v.api_version.as_deref().unwrap_or("?")
            ),
        ),
        Ok(Err(e)) => Check::warn(
            NAME,
            format!("{host} answered, but not its version: {e}"),
            fix,
        ),
        Err(_) => Check::warn(
            NAME,
            format!("{host} did not say its version within {TIMEOUT:?}"),
            fix,
        ),
    }
}

/// The server binaries the lab's cluster is made with, found as the lab finds them.
async fn postgres_binaries() -> Check {
    const NAME: &str = "postgres binaries";
    let fix = format!(
        "the lab's database needs them: apt-get install -y postgresql, \
         or set {} to a bin folder with initdb and pg_ctl",
        lab::PG_BIN_ENV
    );
    let bin = match lab::find_bin_dir() {
        Ok(bin) => bin,
        Err(LabError::PgBinariesMissing { looked }) => {
            return Check::warn(NAME, format!("none found (looked in {looked})"), fix)
        }
        Err(e) => return Check::warn(NAME, e.to_string(), fix),
    };
    let shown = bin.display();
    if let Some(missing) = ["initdb", "pg_ctl"].iter().find(|p| !bin.join(p).is_file()) {
        return Check::warn(NAME, format!("{shown} has no {missing}"), fix);
    }
    let pg_ctl = bin.join("pg_ctl");
    let run = tokio::process::Command::new(&pg_ctl)
        .arg("--version")
        .kill_on_drop(true)
        .output();
    let version = match tokio::time::timeout(TIMEOUT, run).await {
        Ok(Ok(out)) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(2)
            .map(str::to_string),
        Ok(Ok(out)) => {
            return Check::warn(
                NAME,
                format!("{} --version failed ({})", pg_ctl.display(), out.status),
                fix,
            )
        }
        Ok(Err(e)) => {
            return Check::warn(NAME, format!("cannot run {}: {e}", pg_ctl.display()), fix)
        }
        Err(_) => {
            return Check::warn(
                NAME,
                format!("{} --version did not answer", pg_ctl.display()),
                fix,
            )
        }
    };
    let version = version
        .map(|v| format!("PostgreSQL {v} "))
        .unwrap_or_default();
    Check::ok(NAME, format!("{version}in {shown} (initdb, pg_ctl)"))
}

/// The static busybox the lab's container image is built from.
fn busybox() -> Check {
    const NAME: &str = "busybox";
    let fix = "the lab's containers are built from it: apt-get install -y busybox-static \
               (a dynamically linked busybox is not enough)";
    match lab::busybox_image::read_static_busybox() {
        Ok(bytes) => Check::ok(
            NAME,
            format!("{}: static, {} KiB", lab::BUSYBOX_PATH, bytes.len() / 1024),
        ),
        Err(LabError::BusyboxMissing { path, reason }) => {
            Check::warn(NAME, format!("{}: {reason}", path.display()), fix)
        }
        Err(e) => Check::warn(NAME, e.to_string(), fix),
    }
}

/// Each part of each bundle, checked as the console's targets screen checks it.
async fn targets(bundles: &[(String, Targets)]) -> Vec<Check> {
    if bundles.is_empty() {
        return vec![Check::ok(
            "targets",
            "none given: pass --config FILE, or --conn, --container, \
             --process/--pid/--listening-port or --proxy, to check yours",
        )];
    }
    let reached = futures_util::future::join_all(
        bundles
            .iter()
            .map(|(_, targets)| reachability::check(targets, TIMEOUT)),
    )
    .await;
    let mut checks = Vec::new();
    for ((bundle, targets), parts) in bundles.iter().zip(reached) {
        for (part, reach) in parts {
            checks.push(target_check(bundle, targets, part, reach));
        }
    }
    checks
}

fn target_check(bundle: &str, targets: &Targets, part: TargetPart, reach: Reach) -> Check {
    let name = format!("target {bundle}/{}", part.as_str());
    let kind = match part {
        TargetPart::Postgres => TargetKind::Postgres,
        TargetPart::Docker => TargetKind::Docker,
        TargetPart::Process => TargetKind::Process,
        TargetPart::Proxy => TargetKind::Proxy,
    };
    let what = targets.describe(kind).unwrap_or_else(|| kind.to_string());
    let fix = match part {
        TargetPart::Postgres => {
            "check that the server runs and takes this connection string (host, port, \
             dbname, user, password, pg_hba.conf); the password goes in --conn, the config \
             or PGPASSWORD"
        }
        TargetPart::Docker => {
            "start the container (docker start NAME), \
             or name a running one with --container or in the config"
        }
        TargetPart::Process => {
            "start the process, or select a running one with --process, --pid or --listening-port"
        }
        TargetPart::Proxy => {
            "start the upstream, or point --proxy LISTEN=UPSTREAM at one that listens"
        }
    };
    let found = |text: &str| format!("{}: {}", mask_text(&what), mask_text(text));
    match reach {
        Reach::Up(up) => Check::ok(name, found(&up)),
        Reach::Down(why) => Check::fail(name, found(&why), fix),
        Reach::Unknown | Reach::Checking => Check::fail(name, found("not checked"), fix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_align_and_say_the_fix_without_the_password() {
        let conn = "host=db port=5432 user=app password=hunter2";
        let targets = Targets {
            postgres: Some(crate::driver::postgres::PgTarget {
                conn: crate::driver::postgres::PgConnSpec::parse(conn).unwrap(),
                data_dir: None,
                bin_dir: None,
            }),
            ..Targets::default()
        };
        let down = Reach::Down("connection refused".to_string());
        let checks = [
            Check::ok("catalog", "17 faults"),
            target_check("flags", &targets, TargetPart::Postgres, down),
        ];
        let text = lines(&checks, 1, 0);
        let masked = "host=db port=5432 user=app password=***";
        assert!(
            text.starts_with(&format!(
                "ok    catalog                17 faults\n\
                 fail  target flags/postgres  {masked}: connection refused — fix: check that"
            )),
            "{text}"
        );
        assert!(
            text.ends_with("\n2 checks: 1 failed, 0 warnings\n"),
            "{text}"
        );
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn a_missing_state_folder_under_a_writable_one_is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let check = state_folder(&dir.path().join("a/b"));
        assert_eq!(check.level, Level::Ok, "{check:?}");
        assert!(check.found.contains("created on first use"), "{check:?}");
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let check = state_folder(&file);
        assert_eq!(check.level, Level::Fail, "{check:?}");
        assert!(check.found.contains("is not a folder"), "{check:?}");
    }

    #[test]
    fn an_open_state_folder_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let check = state_folder(dir.path());
        assert_eq!(check.level, Level::Warn, "{check:?}");
        assert!(check.fix.unwrap().starts_with("chmod 700"));
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "the write probe is removed");
    }
}
