//! What a throwaway PostgreSQL cluster needs from the host: the server binaries, a user
//! that is not root, a private directory, a free port, and commands with a clean environment.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use super::error::LabError;

/// Environment variable naming the bin directory of the PostgreSQL server to use.
pub const PG_BIN_ENV: &str = "CHAOSDECK_PG_BIN";

/// The user and group the server runs as; `None` runs as the current user.
pub(crate) type RunAs = Option<(u32, u32)>;

/// Finds the PostgreSQL server bin directory: `CHAOSDECK_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`.
pub(crate) fn find_bin_dir() -> Result<PathBuf, LabError> {
    let has_server = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
        let dir = PathBuf::from(dir);
        if has_server(&dir) {
            return Ok(dir);
        }
        return Err(LabError::PgBinariesMissing {
            looked: format!("{PG_BIN_ENV}=\"{}\"", dir.display()),
        });
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            let bin = entry.path().join("bin");
            version.filter(|_| has_server(&bin)).map(|v| (v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    match from_pg_config {
        Some(dir) if has_server(&dir) => Ok(dir),
        _ => Err(LabError::PgBinariesMissing {
            looked: "/usr/lib/postgresql/*/bin and `pg_config --bindir`".to_string(),
        }),
    }
}

/// PostgreSQL refuses to run as root; as root, run it as `nobody`.
pub(crate) fn server_user() -> Result<RunAs, LabError> {
    let euid = std::fs::metadata("/proc/self")
        .map_err(|e| LabError::io("reading the effective user id from /proc/self", e))?
        .uid();
    if euid != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| LabError::io("reading /etc/passwd", e))?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"nobody") && fields.len() > 3)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .map(Some)
        .ok_or(LabError::NoUnprivilegedUser)
}

/// Creates a private directory under /tmp (traversable by everyone, so `nobody` reaches
/// it) owned by the server user.
pub(crate) fn make_private_dir(prefix: &str, run_as: RunAs) -> Result<PathBuf, LabError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(format!(
        "/tmp/{prefix}-{}-{n}-{nanos:08x}",
        std::process::id()
    ));
    std::fs::create_dir(&dir)
        .map_err(|e| LabError::io(format!("creating \"{}\"", dir.display()), e))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| LabError::io(format!("setting the mode of \"{}\"", dir.display()), e))?;
    give_to(&dir, run_as)?;
    Ok(dir)
}

/// Hands a path to the server user.
pub(crate) fn give_to(path: &Path, run_as: RunAs) -> Result<(), LabError> {
    match run_as {
        Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| LabError::io(format!("handing \"{}\" to uid {uid}", path.display()), e)),
        None => Ok(()),
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller retries when it is taken).
pub(crate) fn free_port() -> Result<u16, LabError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| LabError::io("finding a free port on 127.0.0.1", e))
}

/// A command for `program` from `bin_dir`, run as the server user in `cwd`, with no
/// inherited `PG*` variables.
pub(crate) fn pg_command(
    bin_dir: &Path,
    program: &str,
    run_as: RunAs,
    cwd: &Path,
) -> Result<Command, LabError> {
    let path = bin_dir.join(program);
    if !path.is_file() {
        return Err(LabError::PgProgramMissing {
            program: program.to_string(),
            bin_dir: bin_dir.to_path_buf(),
        });
    }
    let mut cmd = Command::new(path);
    cmd.current_dir(cwd);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid);
    }
    Ok(cmd)
}

/// Runs `cmd`; on failure the error carries the command's own output.
pub(crate) fn run(step: &str, cmd: &mut Command) -> Result<Output, LabError> {
    let out = cmd
        .output()
        .map_err(|e| LabError::io(format!("starting {step}"), e))?;
    if out.status.success() {
        return Ok(out);
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Err(LabError::PgCommandFailed {
        step: step.to_string(),
        status: out.status.to_string(),
        log: "its output".to_string(),
        tail: last_lines(&text, 20),
    })
}

/// The last `n` lines of `text`.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Quotes `word` for the shell that `pg_ctl -o` goes through.
pub(crate) fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}
