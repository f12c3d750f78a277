//! A throwaway PostgreSQL cluster started from the system's server binaries on a free
//! loopback port, with password authentication; removed again when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::LabError;
use super::pg_host::{self, RunAs};

/// How to set up a [`PgCluster`].
#[derive(Debug, Clone)]
pub struct PgClusterOptions {
    /// Password of the `postgres` superuser.
    pub password: String,
    /// Database created after start (`postgres` creates nothing).
    pub database: String,
    /// The server's `max_connections`.
    pub max_connections: u32,
    /// Further server settings, passed as `-c name=value` after the defaults.
    pub settings: Vec<(String, String)>,
}

impl Default for PgClusterOptions {
    fn default() -> Self {
        PgClusterOptions {
            password: "testpass".to_string(),
            database: "testdb".to_string(),
            max_connections: 100,
            settings: Vec::new(),
        }
    }
}

impl PgClusterOptions {
    /// Adds a server setting, e.g. `setting("max_prepared_transactions", "10")`.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }
}

/// A running throwaway cluster. Dropping it stops the server and deletes its files.
#[derive(Debug)]
pub struct PgCluster {
    bin_dir: PathBuf,
    root: PathBuf,
    port: u16,
    run_as: RunAs,
    opts: PgClusterOptions,
}

/// Attempts at finding a port nobody grabs between probing and binding.
const PORT_ATTEMPTS: usize = 3;

impl PgCluster {
    /// Initialises and starts a new cluster and creates its database.
    pub fn start(opts: PgClusterOptions) -> Result<PgCluster, LabError> {
        let mut cluster = PgCluster::empty(opts)?;
        let pwfile = cluster.root.join("pwfile");
        std::fs::write(&pwfile, format!("{}\n", cluster.opts.password))
            .map_err(|e| LabError::io(format!("writing \"{}\"", pwfile.display()), e))?;
        pg_host::give_to(&pwfile, cluster.run_as)?;
        let mut initdb = cluster.command("initdb")?;
        initdb
            .arg("-D")
            .arg(cluster.data_dir())
            .args(["-U", "postgres", "--auth=scram-sha-256", "--encoding=UTF8"])
            .args(["--locale=C", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()));
        pg_host::run("initdb", &mut initdb)?;
        cluster.launch()?;
        if cluster.opts.database != "postgres" {
            let mut createdb = cluster.command("createdb")?;
            createdb
                .args(["-h", "127.0.0.1", "-p", &cluster.port.to_string()])
                .args(["-U", "postgres", &cluster.opts.database])
                .env("PGPASSWORD", &cluster.opts.password);
            pg_host::run("createdb", &mut createdb)?;
        }
        Ok(cluster)
    }

    /// Starts a streaming hot standby of `primary` (made with `pg_basebackup -R`).
    pub fn start_standby(primary: &PgCluster) -> Result<PgCluster, LabError> {
        let mut standby = PgCluster::empty(primary.opts.clone())?;
        let mut backup = standby.command("pg_basebackup")?;
        backup
            .arg("-D")
            .arg(standby.data_dir())
            .args(["-h", primary.host(), "-p", &primary.port.to_string()])
            .args(["-U", "postgres", "-R", "--no-sync"])
            .args(["-X", "stream", "-c", "fast"])
            .env("PGPASSWORD", &primary.opts.password);
        pg_host::run("pg_basebackup", &mut backup)?;
        standby.launch()?;
        Ok(standby)
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the server listens on.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The bin directory of the server binaries in use.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The options the cluster was made with.
    pub fn options(&self) -> &PgClusterOptions {
        &self.opts
    }

    /// A libpq key/value connection string for the database as `postgres`.
    pub fn conn_string(&self) -> String {
        format!(
            "host={} port={} dbname={} user=postgres password={}",
            self.host(),
            self.port,
            self.opts.database,
            self.opts.password
        )
    }

    /// A `postgresql://` URL for the database as `postgres`.
    pub fn url(&self) -> String {
        format!(
            "postgresql://postgres:{}@{}:{}/{}",
            self.opts.password,
            self.host(),
            self.port,
            self.opts.database
        )
    }

    /// The path of the server log.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    /// The last lines of the server log, for error messages.
    pub fn log_tail(&self) -> String {
        match std::fs::read(self.log_path()) {
            Ok(bytes) => pg_host::last_lines(&String::from_utf8_lossy(&bytes), 20),
            Err(e) => format!("(cannot read {}: {e})", self.log_path().display()),
        }
    }

    /// Stops the server (`pg_ctl stop -m fast`); the files stay, [`PgCluster::start_again`]
    /// brings it back on the same port.
    pub fn stop(&self) -> Result<(), LabError> {
        let mut cmd = self.command("pg_ctl")?;
        cmd.args(["stop", "-m", "fast", "-w", "-t", "30", "-D"])
            .arg(self.data_dir());
        pg_host::run("pg_ctl stop", &mut cmd).map(|_| ())
    }

    /// Starts a stopped server again on the same port.
    pub fn start_again(&self) -> Result<(), LabError> {
        self.pg_ctl_start()
    }

    /// A cluster with its private directory but no files in it yet.
    fn empty(opts: PgClusterOptions) -> Result<PgCluster, LabError> {
        let bin_dir = pg_host::find_bin_dir()?;
        let run_as = pg_host::server_user()?;
        let root = pg_host::make_private_dir("chaosdeck-pg", run_as)?;
        Ok(PgCluster {
            bin_dir,
            root,
            port: 0,
            run_as,
            opts,
        })
    }

    fn command(&self, program: &str) -> Result<Command, LabError> {
        pg_host::pg_command(&self.bin_dir, program, self.run_as, &self.root)
    }

    /// Starts the server on a free port, trying another port if the one found is taken.
    fn launch(&mut self) -> Result<(), LabError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.port = pg_host::free_port()?;
            match self.pg_ctl_start() {
                Err(e) if attempt < PORT_ATTEMPTS && self.log_tail().contains("already in use") => {
                    tracing::debug!(port = self.port, "port taken, retrying: {e}");
                }
                result => return result,
            }
        }
    }

    fn pg_ctl_start(&self) -> Result<(), LabError> {
        let mut server_opts = vec![
            format!("listen_addresses={}", self.host()),
            format!("port={}", self.port),
            format!("unix_socket_directories={}", self.root.display()),
            format!("max_connections={}", self.opts.max_connections),
            "fsync=off".to_string(),
        ];
        server_opts.extend(self.opts.settings.iter().map(|(k, v)| format!("{k}={v}")));
        let server_opts: Vec<String> = server_opts
            .iter()
            .map(|o| format!("-c {}", pg_host::sh_quote(o)))
            .collect();
        let mut cmd = self.command("pg_ctl")?;
        cmd.args(["start", "-w", "-t", "30", "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .arg("-o")
            .arg(server_opts.join(" "));
        let out = cmd
            .output()
            .map_err(|e| LabError::io("starting pg_ctl", e))?;
        if out.status.success() {
            return Ok(());
        }
        Err(LabError::PgCommandFailed {
            step: format!("pg_ctl start on port {}", self.port),
            status: out.status.to_string(),
            log: self.log_path().display().to_string(),
            tail: self.log_tail(),
        })
    }

    /// Stops the server at once, or kills the postmaster by its pid if pg_ctl cannot.
    fn stop_now(&self) {
        let pid_file = self.data_dir().join("postmaster.pid");
        let Ok(pid_text) = std::fs::read_to_string(&pid_file) else {
            return; // not running
        };
        let stopped = self.command("pg_ctl").and_then(|mut cmd| {
            cmd.args(["stop", "-m", "immediate", "-w", "-t", "10", "-D"])
                .arg(self.data_dir());
            pg_host::run("pg_ctl stop", &mut cmd)
        });
        let Err(e) = stopped else { return };
        tracing::warn!("stopping the cluster in {}: {e}", self.root.display());
        let pid = pid_text.lines().next().and_then(|l| l.trim().parse().ok());
        if let Some(pid) = pid {
            let pid = nix::unistd::Pid::from_raw(pid);
            if let Err(e) = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL) {
                tracing::warn!("killing postmaster {pid}: {e}");
            }
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop_now();
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!("removing {}: {e}", self.root.display());
        }
    }
}
