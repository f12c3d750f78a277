//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::catalog::{Category, Severity};

/// A terminal console for operator-driven chaos experiments.
#[derive(Debug, Parser)]
#[command(name = "chaosdeck", version, about)]
pub struct Cli {
    /// A folder of fault YAML files to add to the built-in catalog (repeatable).
    #[arg(long = "catalog", value_name = "DIR", global = true)]
    pub catalog_dirs: Vec<PathBuf>,

    /// Where the journal lives (default $XDG_STATE_HOME/chaosdeck).
    #[arg(long = "state-dir", value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,

    /// The targets, services, probes and policy file (targets.yaml).
    #[arg(long = "config", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// With no subcommand, the console opens.
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// The console's own flags (`chaosdeck` with no subcommand).
#[derive(Debug, Clone, Default, Args)]
pub struct ConsoleArgs {
    /// A named target from --config for runs (default: the file's first by name).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// A steady-state probe: [NAME=]http://…, [NAME=]tcp://HOST:PORT or [NAME=]sql:QUERY (repeatable).
    #[arg(long = "probe", value_name = "PROBE")]
    pub probes: Vec<String>,
    /// Browse and watch only: every key that injects is off.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Colour theme: dark, light, high-contrast, or a theme file (default: the config's, else dark).
    #[arg(long, value_name = "NAME|FILE")]
    pub theme: Option<String>,
    /// Refuse faults above this severity (the config's policy may lower it).
    #[arg(long = "max-severity", value_name = "SEVERITY")]
    pub max_severity: Option<Severity>,
    /// Where `e` on the result screen writes reports (default: the current folder).
    #[arg(long = "report-dir", value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the failure modes of the catalog.
    List(ListArgs),
    /// Show every field of one fault.
    Show(ShowArgs),
    /// Check catalog files; with no path, the built-in catalog and --catalog folders.
    Validate(ValidateArgs),
    /// Inject a fault and leave it on (a holder process keeps it until teardown or its TTL).
    Inject(InjectArgs),
    /// Undo faults the journal says are on, and verify the undo.
    Teardown(TeardownArgs),
    /// Run one experiment headless: preflight, inject, observe, teardown, recovery, verdict.
    Run(RunArgs),
    /// Run a game-day plan: several experiments in order, with a scorecard.
    Gameday(GamedayArgs),
    /// The report of a finished run again, by run id; with no id, the saved runs.
    Report(ReportArgs),
    /// Check this machine and the targets: state folder, journal, dangling faults,
    /// Docker, the lab's PostgreSQL binaries and busybox, each target's reachability.
    Doctor(DoctorArgs),
    /// The lab: a small live system on this machine to break and watch recover.
    Lab(LabArgs),
    /// The process that holds an injected fault; `inject` starts it itself.
    #[command(name = "__hold", hide = true)]
    Hold(HoldArgs),
    /// A host stressor child process; chaosdeck starts it itself.
    #[command(name = "__stress", hide = true)]
    Stress(crate::driver::host::StressArgs),
    /// The lab's demo service; the lab starts it under its supervisor.
    #[command(name = "__demo-service", hide = true)]
    DemoService(crate::lab::demo_service::DemoServiceArgs),
    /// The lab's load generator; the lab starts it.
    #[command(name = "__load", hide = true)]
    Load(crate::lab::load_gen::LoadArgs),
}

impl ConsoleArgs {
    /// Whether any quick target flag was given (then the console does not start the lab).
    pub fn targets_given(&self) -> bool {
        let t = &self.targets;
        t.conn.is_some()
            || t.container.is_some()
            || t.process.is_some()
            || t.pid.is_some()
            || t.listening_port.is_some()
            || t.proxy.is_some()
    }

    /// The first console flag given, for the error when one comes with a subcommand.
    /// `--conn` is left out: it also comes from `CHAOSDECK_CONN`, which every
    /// subcommand may inherit (the holder process gets its password that way).
    pub fn first_given(&self) -> Option<&'static str> {
        let t = &self.targets;
        [
            (self.target.is_some(), "--target"),
            (!self.probes.is_empty(), "--probe"),
            (self.read_only, "--read-only"),
            (self.theme.is_some(), "--theme"),
            (self.max_severity.is_some(), "--max-severity"),
            (self.report_dir.is_some(), "--report-dir"),
            (t.pg_data_dir.is_some(), "--pg-data-dir"),
            (t.container.is_some(), "--container"),
            (t.process.is_some(), "--process"),
            (t.pid.is_some(), "--pid"),
            (t.listening_port.is_some(), "--listening-port"),
            (t.proxy.is_some(), "--proxy"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub action: LabAction,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum LabAction {
    /// Start the lab and keep it up until Ctrl-C.
    Up,
    /// Take the lab down, also after a crash (from the lab record).
    Down,
    /// Say whether a lab is up and what it made.
    Status,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this category (database, container, process, host, network, kubernetes, compound).
    #[arg(long)]
    pub category: Option<Category>,
    /// Only this severity (low, medium, high, critical).
    #[arg(long)]
    pub severity: Option<Severity>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The fault id, such as db-max-connections.
    #[arg(value_name = "ID", required_unless_present = "id")]
    pub fault: Option<String>,
    /// The fault id, for those who type it as a flag.
    #[arg(long, conflicts_with = "fault")]
    pub id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Catalog files or folders of them.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The targets of a one-off injection, as people who inject faults by hand type them.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// A PostgreSQL server: a libpq string ("host=… port=… dbname=… user=… password=…") or a postgres:// URL.
    #[arg(
        long,
        value_name = "CONN",
        env = "CHAOSDECK_CONN",
        hide_env_values = true
    )]
    pub conn: Option<String>,
    /// The data directory of a local PostgreSQL server chaosdeck may stop and start.
    #[arg(long = "pg-data-dir", value_name = "DIR")]
    pub pg_data_dir: Option<PathBuf>,
    /// A Docker container, by name or id.
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// A local process, by name.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["pid", "listening_port"])]
    pub process: Option<String>,
    /// A local process, by pid.
    #[arg(long, value_name = "N", conflicts_with = "listening_port")]
    pub pid: Option<u32>,
    /// A local process, by the TCP port it listens on.
    #[arg(long = "listening-port", value_name = "PORT")]
    pub listening_port: Option<u16>,
    /// The fault proxy: listen here and forward to there (LISTEN=UPSTREAM).
    #[arg(long, value_name = "LISTEN=UPSTREAM")]
    pub proxy: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct InjectArgs {
    /// The fault id, such as db-max-connections.
    #[arg(value_name = "ID", required_unless_present = "id")]
    pub fault: Option<String>,
    /// The fault id, for those who type it as a flag.
    #[arg(long, conflicts_with = "fault")]
    pub id: Option<String>,
    /// A named target from --config (default: the file's first, first by name, when
    /// no quick target flag is given); the quick target flags add to it.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Set a parameter of the fault (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub approval: super::approval::Approval,
    /// Tear the fault down after this long instead of the catalog's TTL.
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<crate::catalog::duration::HumanDuration>,
    /// Show the blast radius with real numbers and inject nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Print the responder prompt with the connection string verbatim (password included).
    #[arg(long = "reveal-secrets")]
    pub reveal_secrets: bool,
}

impl InjectArgs {
    pub fn fault_id(&self) -> Option<&str> {
        self.fault.as_deref().or(self.id.as_deref())
    }
}

#[derive(Debug, Clone, Args)]
pub struct TeardownArgs {
    /// Tear down this fault (every run of it the journal says is on).
    #[arg(value_name = "ID", conflicts_with_all = ["all", "dangling"])]
    pub fault: Option<String>,
    /// The fault id, for those who type it as a flag.
    #[arg(long, conflicts_with_all = ["fault", "all", "dangling"])]
    pub id: Option<String>,
    /// Tear down every fault that is on.
    #[arg(long)]
    pub all: bool,
    /// Tear down everything the journal says was injected and not verified undone,
    /// including faults whose holder died.
    #[arg(long)]
    pub dangling: bool,
    /// Close the journal's entries of this run (or of every run of this fault id)
    /// without undoing anything, for a target that no longer exists: the operator's
    /// word that the fault is gone. Exact ids only.
    #[arg(long, value_name = "RUN_OR_ID", conflicts_with_all = ["fault", "id", "all", "dangling"])]
    pub forget: Option<String>,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct HoldArgs {
    #[command(flatten)]
    pub inject: InjectArgs,
    /// The run id chosen by `inject`.
    #[arg(long)]
    pub run: String,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The fault id, such as db-max-connections.
    #[arg(value_name = "ID", required_unless_present = "id")]
    pub fault: Option<String>,
    /// The fault id, for those who type it as a flag.
    #[arg(long, conflicts_with = "fault")]
    pub id: Option<String>,
    /// A named target from --config (default: the file's first by name, when no
    /// quick target flag is given); the quick target flags add to it.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// A steady-state probe: [NAME=]http://…, [NAME=]tcp://HOST:PORT or [NAME=]sql:QUERY (repeatable).
    #[arg(long = "probe", value_name = "PROBE")]
    pub probes: Vec<String>,
    /// How long to observe after injecting before tearing down (never past the TTL).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub duration: crate::catalog::duration::HumanDuration,
    /// Time between two checks of the --probe probes (default 250ms, or the config's).
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<crate::catalog::duration::HumanDuration>,
    /// Consecutive passing checks that count as recovered (default 3, or the config's).
    #[arg(long = "stable-for", value_name = "N")]
    pub stable_for: Option<u32>,
    /// Set a parameter of the fault (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub approval: super::approval::Approval,
    /// Tear the fault down after this long at the latest instead of the catalog's TTL.
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<crate::catalog::duration::HumanDuration>,
    /// Write the Markdown report here and the JSON report beside it.
    #[arg(long, value_name = "FILE.md")]
    pub report: Option<PathBuf>,
    /// Print the run's record as JSON on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
}

impl RunArgs {
    pub fn fault_id(&self) -> Option<&str> {
        self.fault.as_deref().or(self.id.as_deref())
    }
}

#[derive(Debug, Clone, Args)]
pub struct GamedayArgs {
    /// The plan: experiments in order, with pauses between them.
    #[arg(value_name = "PLAN.yaml")]
    pub plan: PathBuf,
    #[command(flatten)]
    pub approval: super::approval::Approval,
    /// Write the Markdown report here and the JSON report beside it.
    #[arg(long, value_name = "FILE.md")]
    pub report: Option<PathBuf>,
    /// Print the game day's record as JSON on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A saved run's id (or a unique start of it), or a JSON record file; with none,
    /// the saved runs are listed, newest first.
    #[arg(value_name = "RUN_ID|FILE")]
    pub run: Option<String>,
    /// Write the Markdown report here and the JSON report beside it, as `run --report` does.
    #[arg(long, value_name = "FILE.md")]
    pub out: Option<PathBuf>,
    /// Print JSON: the run's record, or the list of saved runs.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Check only this target of --config (the quick target flags add to it).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}
