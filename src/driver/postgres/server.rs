//! The server stopped and started again, for a server chaosdeck controls: one whose
//! data directory it knows. `pg_ctl` runs as the data directory's owner, and the
//! restart reuses the exact server arguments recorded in `postmaster.opts`.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::conn::describe;
use super::{admin_session, query_one, PgRun, PgTarget};
use crate::catalog::action_params::StopMode;
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// Why a server chaosdeck does not control cannot be stopped.
const NOT_CONTROLLED: &str = "connection-refused needs a server chaosdeck can stop and start: \
                              pass its data directory (--pg-data-dir) or run it in a container";

/// What it takes to undo this family's faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerUndo {
    /// Start the server again as it was started before.
    Start {
        data_dir: PathBuf,
        /// Where `pg_ctl` lives.
        bin_dir: PathBuf,
        /// The port the server listened on.
        port: String,
        /// Owner (uid, gid) of the data directory; `pg_ctl` runs as them.
        owner: (u32, u32),
        /// The postmaster's arguments from `postmaster.opts`, without `-D`.
        server_args: Vec<String>,
        /// Where the restarted server writes its output.
        log: PathBuf,
    },
}

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    _run: &PgRun,
) -> Result<Plan<ServerUndo>, DriverError> {
    let Action::PgStopServer(a) = action else {
        return Err(DriverError::Input(format!(
            "not a server fault: {}",
            action.kind()
        )));
    };
    let refuse =
        |reason: String| DriverError::precondition(target.conn.masked(), action.kind(), reason);
    let given = target
        .data_dir
        .as_ref()
        .ok_or_else(|| refuse(NOT_CONTROLLED.to_string()))?;
    let shown = given.display();
    let data_dir = std::fs::canonicalize(given)
        .map_err(|e| refuse(format!("cannot read the data directory \"{shown}\": {e}")))?;
    let meta = std::fs::metadata(&data_dir)
        .map_err(|e| refuse(format!("cannot read the data directory \"{shown}\": {e}")))?;
    let owner = (meta.uid(), meta.gid());
    let euid = euid();
    if euid != 0 && euid != owner.0 {
        return Err(refuse(format!(
            "the data directory \"{shown}\" belongs to uid {}: run chaosdeck as that user or as \
             root, so pg_ctl can run as its owner",
            owner.0
        )));
    }
    let read = |name: &str| {
        std::fs::read_to_string(data_dir.join(name))
            .map_err(|e| refuse(format!("cannot read {name} in \"{shown}\": {e}")))
    };
    let major = read("PG_VERSION")?.trim().to_string();
    // postmaster.pid: pid, data directory, start time (epoch seconds), port, …
    let pid_file = read("postmaster.pid")?;
    let pid_lines: Vec<&str> = pid_file.lines().map(str::trim).collect();
    let (started, port) = match pid_lines.as_slice() {
        [_, _, started, port, ..] => (started.parse::<i64>().unwrap_or(0), port.to_string()),
        _ => return Err(refuse(format!("cannot read postmaster.pid in \"{shown}\""))),
    };
    let server_args = server_args(&read("postmaster.opts")?);
    let bin_dir = match &target.bin_dir {
        Some(dir) => dir.clone(),
        None => find_bin_dir(&major).ok_or_else(|| {
            refuse(format!(
                "no pg_ctl of PostgreSQL {major} found: pass its bin directory"
            ))
        })?,
    };
    check_pg_ctl_version(&bin_dir, &major)
        .await
        .map_err(refuse)?;
    // The server we are connected to must be the one running from that directory.
    let admin = admin_session(target, "plan").await?;
    let failed = |e: tokio_postgres::Error| DriverError::failed(target.conn.masked(), describe(&e));
    let row = admin
        .query_one(
            "SELECT extract(epoch FROM pg_postmaster_start_time())::bigint, current_setting('port')",
            &[],
        )
        .await
        .map_err(failed)?;
    let (its_start, its_port): (i64, String) = (
        row.try_get(0).map_err(failed)?,
        row.try_get(1).map_err(failed)?,
    );
    if its_port != port || (its_start - started).abs() > 2 {
        return Err(refuse(format!(
            "this server (port {its_port}) is not the one running from \"{shown}\" (port \
             {port}): refusing to stop another server"
        )));
    }
    // The log goes next to the data directory when its owner may write there.
    let log = match data_dir.parent() {
        Some(parent) if std::fs::metadata(parent).is_ok_and(|m| m.uid() == owner.0) => {
            parent.join("chaosdeck-restart.log")
        }
        _ => data_dir.join("chaosdeck-restart.log"),
    };
    let (mode, effect) = mode(a.mode);
    Ok(Plan {
        blast_radius: format!(
            "stop the server at {} (data directory {}, port {port}), shutdown mode {mode}: \
             {effect}; teardown starts it again",
            target.conn.masked(),
            data_dir.display()
        ),
        undo: ServerUndo::Start {
            data_dir,
            bin_dir,
            port,
            owner,
            server_args,
            log,
        },
    })
}

pub(super) async fn apply(
    action: &Action,
    target: &PgTarget,
    _run: &PgRun,
    undo: &ServerUndo,
) -> Result<Hold, DriverError> {
    let Action::PgStopServer(a) = action else {
        return Err(DriverError::Input(format!(
            "not a server fault: {}",
            action.kind()
        )));
    };
    // A smart shutdown waits for every session to end (the console's own included):
    // do not wait for it, new clients are refused meanwhile.
    let wait = if a.mode == StopMode::Smart {
        "-W"
    } else {
        "-w"
    };
    let stop = ["stop", "-m", mode(a.mode).0, wait, "-t", "60"];
    succeeded(target, "pg_ctl stop", pg_ctl(undo, target, stop).await?)?;
    Ok(Hold::new())
}

pub(super) async fn undo(undo: &ServerUndo, target: &PgTarget) -> Result<(), DriverError> {
    let ServerUndo::Start {
        data_dir,
        server_args,
        log,
        ..
    } = undo;
    let status = pg_ctl(undo, target, ["status"]).await?;
    match status.status.code() {
        // Running. Line 8 of postmaster.pid says whether it is on its way down (a smart
        // shutdown still waiting for sessions): then finish that and start again.
        Some(0) => {
            let pid_file = std::fs::read_to_string(data_dir.join("postmaster.pid"));
            let stopping =
                pid_file.is_ok_and(|t| t.lines().nth(7).map(str::trim) == Some("stopping"));
            if !stopping {
                return Ok(());
            }
            let stop = ["stop", "-m", "fast", "-w", "-t", "60"];
            succeeded(target, "pg_ctl stop", pg_ctl(undo, target, stop).await?)?;
        }
        Some(3) => {} // not running
        _ => return succeeded(target, "pg_ctl status", status),
    }
    let opts: Vec<String> = server_args.iter().map(|a| sh_quote(a)).collect();
    let mut start: Vec<OsString> = ["start", "-w", "-t", "120", "-l"]
        .map(OsString::from)
        .into();
    start.extend([log.into(), "-o".into(), opts.join(" ").into()]);
    let out = pg_ctl(undo, target, start).await?;
    succeeded(
        target,
        &format!("pg_ctl start (log: {})", log.display()),
        out,
    )
}

pub(super) async fn verify(
    undo: &ServerUndo,
    target: &PgTarget,
) -> Result<Verification, DriverError> {
    let ServerUndo::Start { port, .. } = undo;
    let client = match ready(target, Duration::from_secs(10)).await {
        Ok(client) => client,
        Err(why) => {
            return Ok(Verification::Residual(format!(
                "the server does not accept connections: {why}"
            )))
        }
    };
    let now: String = query_one(&client, target, "SHOW port").await?;
    Ok(if &now == port {
        Verification::Verified
    } else {
        Verification::Residual(format!("the server came back on port {now}, not {port}"))
    })
}

/// The `-m` word and what the mode does to open sessions.
fn mode(mode: StopMode) -> (&'static str, &'static str) {
    match mode {
        StopMode::Smart => (
            "smart",
            "new clients get \"the database system is shutting down\", then \
             \"connection refused\" once every session has ended",
        ),
        StopMode::Fast => (
            "fast",
            "open transactions are rolled back and sessions disconnected; \
             new clients get \"connection refused\"",
        ),
        StopMode::Immediate => (
            "immediate",
            "sessions are cut without a checkpoint (crash \
             recovery runs at restart); new clients get \
             \"connection refused\"",
        ),
    }
}

/// A session that answers `SELECT 1` within `within`, or the last error.
async fn ready(target: &PgTarget, within: Duration) -> Result<Client, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let why = match target.conn.connect_plain("chaosdeck:verify").await {
            Ok(client) => match client.simple_query("SELECT 1").await {
                Ok(_) => return Ok(client),
                Err(e) => describe(&e),
            },
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("still refused after {} s: {why}", within.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs `pg_ctl <args> -D <data_dir>` as the data directory's owner, with no
/// inherited `PG*` variables.
async fn pg_ctl<I, S>(undo: &ServerUndo, target: &PgTarget, args: I) -> Result<Output, DriverError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let ServerUndo::Start {
        data_dir,
        bin_dir,
        owner,
        ..
    } = undo;
    let program = bin_dir.join("pg_ctl");
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(args)
        .arg("-D")
        .arg(data_dir)
        .current_dir(data_dir)
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    if euid() == 0 && owner.0 != 0 {
        cmd.uid(owner.0).gid(owner.1);
    }
    cmd.output().await.map_err(|e| {
        DriverError::failed(
            target.conn.masked(),
            format!("running {}: {e}", program.display()),
        )
    })
}

/// Ok when `out` succeeded, else an error carrying its output.
fn succeeded(target: &PgTarget, step: &str, out: Output) -> Result<(), DriverError> {
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Err(DriverError::failed(
        target.conn.masked(),
        format!("{step} failed ({}): {}", out.status, text.trim()),
    ))
}

/// The server's arguments from `postmaster.opts` (`<program> "arg" "arg" …`), without
/// the program and the `-D <dir>` pair that `pg_ctl -D` passes again.
fn server_args(opts: &str) -> Vec<String> {
    let mut args = opts
        .trim_end()
        .split(" \"")
        .skip(1)
        .map(|a| a.strip_suffix('"').unwrap_or(a).to_string());
    let mut kept = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "-D" {
            args.next();
        } else {
            kept.push(arg);
        }
    }
    kept
}

/// `pg_ctl` for PostgreSQL `major`: `CHAOSDECK_PG_BIN`, the Debian layout, then `PATH`.
fn find_bin_dir(major: &str) -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("pg_ctl").is_file();
    let from_env = std::env::var_os(crate::lab::PG_BIN_ENV).map(PathBuf::from);
    let debian = Path::new("/usr/lib/postgresql").join(major).join("bin");
    let on_path = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).find(|d| has(d)));
    from_env
        .into_iter()
        .chain([debian])
        .chain(on_path)
        .find(|d| has(d))
}

/// Refuses a `pg_ctl` of another major version than the data directory's.
async fn check_pg_ctl_version(bin_dir: &Path, major: &str) -> Result<(), String> {
    let program = bin_dir.join("pg_ctl");
    let out = tokio::process::Command::new(&program)
        .arg("--version")
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // "pg_ctl (PostgreSQL) 15.8 (Debian …)"
    let found = version.split_whitespace().nth(2).unwrap_or("");
    if found == major || found.starts_with(&format!("{major}.")) {
        return Ok(());
    }
    Err(format!(
        "{} is \"{version}\" but the data directory is PostgreSQL {major}: pass the bin \
         directory of PostgreSQL {major}",
        program.display()
    ))
}

/// The effective user id (the owner of `/proc/self`); `u32::MAX` when unknown.
fn euid() -> u32 {
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// Quotes `word` for the shell that `pg_ctl -o` goes through.
fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}
