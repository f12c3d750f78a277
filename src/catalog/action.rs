//! Actions: the typed steps of a fault. Every action kind knows what it does, how it
//! is undone, whether it dies with its session, and what it needs before it may run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::action_macro::actions;

use super::action_params::*;
use super::model::TargetKind;

actions! {
    /// One typed step of a fault, written in YAML as `- kind: { params }`.
    /// (`Include` injects another catalog fault as a part of this one.)
    PgHoldConnections(HoldConnections) => "postgres.hold_connections",
    PgLongQuery(LongQuery) => "postgres.long_query",
    PgLockContention(LockContention) => "postgres.lock_contention",
    PgDeadlock(Deadlock) => "postgres.deadlock",
    PgTableBloat(TableBloat) => "postgres.table_bloat",
    PgCacheMiss(CacheMiss) => "postgres.cache_miss",
    PgIdleInTransaction(IdleInTransaction) => "postgres.idle_in_transaction",
    PgTerminateBackends(TerminateBackends) => "postgres.terminate_backends",
    PgSetting(Setting) => "postgres.setting",
    PgTempFiles(TempFiles) => "postgres.temp_files",
    PgChangePassword(ChangePassword) => "postgres.change_password",
    PgRenameDatabase(RenameDatabase) => "postgres.rename_database",
    PgStopServer(StopServer) => "postgres.stop_server",
    PgPauseReplay(PauseReplay) => "postgres.pause_replay",
    PgRoleConnectionLimit(RoleConnectionLimit) => "postgres.role_connection_limit",
    PgAdvisoryLocks(AdvisoryLocks) => "postgres.advisory_locks",
    PgReplicationSlot(ReplicationSlot) => "postgres.replication_slot",
    PgPreparedTransaction(PreparedTransaction) => "postgres.prepared_transaction",
    PgSequenceNearMax(SequenceNearMax) => "postgres.sequence_near_max",
    DockerKill(ContainerKill) => "docker.kill",
    DockerStop(ContainerStop) => "docker.stop",
    DockerPause(NoParams) => "docker.pause",
    DockerRestart(ContainerStop) => "docker.restart",
    DockerDisconnect(NetworkDisconnect) => "docker.disconnect",
    DockerMemoryLimit(MemoryLimit) => "docker.memory_limit",
    DockerCpuThrottle(CpuThrottle) => "docker.cpu_throttle",
    ProcessSignal(ProcessSignal) => "process.signal",
    ProcessFreeze(NoParams) => "process.freeze",
    HostCpuBurn(CpuBurn) => "host.cpu_burn",
    HostMemoryPressure(MemoryPressure) => "host.memory_pressure",
    HostFillDisk(FillDisk) => "host.fill_disk",
    HostExhaustFds(ExhaustFds) => "host.exhaust_fds",
    ProxyLatency(ProxyLatency) => "proxy.latency",
    ProxyBandwidth(ProxyBandwidth) => "proxy.bandwidth",
    ProxyReset(ProxyChance) => "proxy.reset",
    ProxyBlackhole(ProxyChance) => "proxy.blackhole",
    ProxyRefuse(ProxyChance) => "proxy.refuse",
    ProxySlowClose(ProxySlowClose) => "proxy.slow_close",
    ProxyDataLimit(ProxyDataLimit) => "proxy.data_limit",
    ProxyHttpError(ProxyHttpError) => "proxy.http_error",
    ProxyHttpDelay(ProxyHttpDelay) => "proxy.http_delay",
    Command(CommandAction) => "command",
    Include(Include) => "include",
}

/// Whether an action's effect ends with the session (or process) that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lifetime {
    /// Ends on the server's side when chaosdeck's session or child process ends.
    SessionBound,
    /// Survives chaosdeck: undo data is written to the journal before it happens.
    Persistent,
}

impl Lifetime {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifetime::SessionBound => "session-bound",
            Lifetime::Persistent => "persistent",
        }
    }
}

/// What must hold before an action may run; checked before the fault is offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precondition {
    /// The role chaosdeck connects as is a superuser.
    PgSuperuser,
    /// The role may signal other backends (superuser or `pg_signal_backend`).
    PgSignalBackend,
    /// The server is at least this major version.
    PgVersionAtLeast(u32),
    /// `wal_level` is `replica` or `logical`.
    PgWalLevelReplica,
    /// `max_replication_slots` has a free slot.
    PgFreeReplicationSlot,
    /// `max_prepared_transactions` is above zero.
    PgPreparedTransactionsEnabled,
    /// The target is a standby (`pg_is_in_recovery()`).
    PgStandby,
    /// chaosdeck can stop and start the server: it knows its data dir, or it runs in
    /// a container chaosdeck can reach.
    PgControllableServer,
    /// A Docker engine answers.
    DockerEngine,
    /// The named container exists on that engine.
    ContainerExists,
    /// The target process exists and chaosdeck may signal it.
    ProcessSignalable,
    /// The program is on `PATH`.
    Program(String),
}

impl std::fmt::Display for Precondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Precondition::PgSuperuser => f.write_str("PostgreSQL superuser"),
            Precondition::PgSignalBackend => {
                f.write_str("may signal backends (superuser or pg_signal_backend)")
            }
            Precondition::PgVersionAtLeast(v) => write!(f, "PostgreSQL {v} or newer"),
            Precondition::PgWalLevelReplica => f.write_str("wal_level = replica or logical"),
            Precondition::PgFreeReplicationSlot => {
                f.write_str("a free slot in max_replication_slots")
            }
            Precondition::PgPreparedTransactionsEnabled => {
                f.write_str("max_prepared_transactions > 0")
            }
            Precondition::PgStandby => f.write_str("target is a standby (pg_is_in_recovery)"),
            Precondition::PgControllableServer => {
                f.write_str("server chaosdeck can stop and start (known data dir or container)")
            }
            Precondition::DockerEngine => f.write_str("a Docker engine answers"),
            Precondition::ContainerExists => f.write_str("the container exists"),
            Precondition::ProcessSignalable => {
                f.write_str("the process exists and may be signalled")
            }
            Precondition::Program(p) => write!(f, "`{p}` on PATH"),
        }
    }
}

impl Action {
    /// What this action does to the world, and how it is put back.
    pub fn summary(&self) -> &'static str {
        self.describe().does
    }

    pub fn undo_summary(&self) -> &'static str {
        self.describe().undo
    }

    pub fn lifetime(&self) -> Lifetime {
        self.describe().lifetime
    }

    /// The kind of target the action acts on; `None` for actions that bring their
    /// own (commands, included faults).
    pub fn target_kind(&self) -> Option<TargetKind> {
        self.describe().target
    }

    pub fn preconditions(&self) -> Vec<Precondition> {
        use Precondition as P;
        match self {
            Action::PgHoldConnections(_)
            | Action::PgLongQuery(_)
            | Action::PgLockContention(_)
            | Action::PgDeadlock(_)
            | Action::PgTableBloat(_)
            | Action::PgCacheMiss(_)
            | Action::PgIdleInTransaction(_)
            | Action::PgTempFiles(_)
            | Action::PgAdvisoryLocks(_) => vec![],
            Action::PgTerminateBackends(_) => vec![P::PgSignalBackend],
            Action::PgSetting(_)
            | Action::PgChangePassword(_)
            | Action::PgRenameDatabase(_)
            | Action::PgRoleConnectionLimit(_)
            | Action::PgSequenceNearMax(_) => vec![P::PgSuperuser],
            Action::PgStopServer(_) => vec![P::PgControllableServer],
            Action::PgPauseReplay(_) => vec![P::PgSuperuser, P::PgStandby],
            Action::PgReplicationSlot(_) => vec![
                P::PgSuperuser,
                P::PgWalLevelReplica,
                P::PgFreeReplicationSlot,
            ],
            Action::PgPreparedTransaction(_) => vec![P::PgPreparedTransactionsEnabled],
            Action::DockerKill(_)
            | Action::DockerStop(_)
            | Action::DockerPause(_)
            | Action::DockerRestart(_)
            | Action::DockerDisconnect(_)
            | Action::DockerMemoryLimit(_)
            | Action::DockerCpuThrottle(_) => vec![P::DockerEngine, P::ContainerExists],
            Action::ProcessSignal(_) | Action::ProcessFreeze(_) => vec![P::ProcessSignalable],
            Action::HostCpuBurn(_)
            | Action::HostMemoryPressure(_)
            | Action::HostFillDisk(_)
            | Action::HostExhaustFds(_) => vec![],
            Action::ProxyLatency(_)
            | Action::ProxyBandwidth(_)
            | Action::ProxyReset(_)
            | Action::ProxyBlackhole(_)
            | Action::ProxyRefuse(_)
            | Action::ProxySlowClose(_)
            | Action::ProxyDataLimit(_)
            | Action::ProxyHttpError(_)
            | Action::ProxyHttpDelay(_) => vec![],
            Action::Command(c) => c
                .run
                .first()
                .filter(|p| crate::catalog::template::references(p).is_empty())
                .map(|p| vec![P::Program(p.clone())])
                .unwrap_or_default(),
            Action::Include(_) => vec![],
        }
    }

    /// The action's parameters as `key=value` pairs, for `show` and the detail pane.
    pub fn params_text(&self) -> Vec<(String, String)> {
        let Ok(serde_json::Value::Object(outer)) = serde_json::to_value(self) else {
            return Vec::new();
        };
        let Some(serde_json::Value::Object(fields)) = outer.into_iter().next().map(|(_, v)| v)
        else {
            return Vec::new();
        };
        fields
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect()
    }

    /// The fault ids this action pulls in (compound faults).
    pub fn included_fault(&self) -> Option<&str> {
        match self {
            Action::Include(i) => Some(&i.fault),
            _ => None,
        }
    }

    /// Every action kind with its description, for `show`, docs and completeness tests.
    pub fn all_kinds() -> &'static [ActionInfo] {
        &ACTION_INFO
    }

    fn describe(&self) -> &'static ActionInfo {
        let kind = self.kind();
        ACTION_INFO
            .iter()
            .find(|info| info.kind == kind)
            .unwrap_or(&UNDESCRIBED)
    }
}

static UNDESCRIBED: ActionInfo = info("?", None, Lifetime::Persistent, "?", "?");

/// The fixed facts about one action kind.
#[derive(Debug)]
pub struct ActionInfo {
    pub kind: &'static str,
    pub target: Option<TargetKind>,
    pub lifetime: Lifetime,
    pub does: &'static str,
    pub undo: &'static str,
}

const fn info(
    kind: &'static str,
    target: Option<TargetKind>,
    lifetime: Lifetime,
    does: &'static str,
    undo: &'static str,
) -> ActionInfo {
    ActionInfo {
        kind,
        target,
        lifetime,
        does,
        undo,
    }
}

use Lifetime::{Persistent as PERSIST, SessionBound as SESSION};
const PG: Option<TargetKind> = Some(TargetKind::Postgres);
const DOCKER: Option<TargetKind> = Some(TargetKind::Docker);
const PROC: Option<TargetKind> = Some(TargetKind::Process);
const HOST: Option<TargetKind> = Some(TargetKind::Host);
const PROXY: Option<TargetKind> = Some(TargetKind::Proxy);

static ACTION_INFO: [ActionInfo; 43] = [
    info("postgres.hold_connections", PG, SESSION,
        "opens sessions until the server refuses new clients, keeping `reserve` slots free",
        "closes the held sessions"),
    info("postgres.long_query", PG, SESSION,
        "runs queries that sleep for `duration`, inside a transaction that reads `table` when set",
        "cancels the queries and closes their sessions"),
    info("postgres.lock_contention", PG, SESSION,
        "holds a lock on `table` in an open transaction so other writers wait",
        "rolls the transaction back, releasing the lock"),
    info("postgres.deadlock", PG, SESSION,
        "drives pairs of sessions into a deadlock on rows of `table`, repeatedly",
        "stops the sessions"),
    info("postgres.table_bloat", PG, PERSIST,
        "creates `table` and updates its rows until it carries dead tuples, with autovacuum off for it",
        "drops the table chaosdeck created"),
    info("postgres.cache_miss", PG, PERSIST,
        "creates a table larger than shared_buffers and scans it so hot pages are evicted",
        "stops the scans and drops the table"),
    info("postgres.idle_in_transaction", PG, SESSION,
        "opens sessions that begin a transaction and go idle",
        "closes the sessions"),
    info("postgres.terminate_backends", PG, SESSION,
        "terminates matching client backends, once or every `every`",
        "stops terminating (clients reconnect on their own)"),
    info("postgres.setting", PG, PERSIST,
        "changes a setting with ALTER SYSTEM (or ALTER ROLE for `role`) and reloads",
        "restores the previous value exactly as captured, and reloads"),
    info("postgres.temp_files", PG, SESSION,
        "runs sorts larger than work_mem so temp files grow to `size`",
        "cancels the sorts; the server removes the temp files"),
    info("postgres.change_password", PG, PERSIST,
        "changes `role`'s password so clients fail to authenticate",
        "restores the exact previous password hash"),
    info("postgres.rename_database", PG, PERSIST,
        "renames `database` so clients get \"database does not exist\"",
        "renames it back"),
    info("postgres.stop_server", PG, PERSIST,
        "stops the server so clients get \"connection refused\"",
        "starts the server and waits until it accepts connections"),
    info("postgres.pause_replay", PG, PERSIST,
        "pauses WAL replay on the standby so it falls behind",
        "resumes WAL replay"),
    info("postgres.role_connection_limit", PG, PERSIST,
        "lowers `role`'s CONNECTION LIMIT",
        "restores the previous limit"),
    info("postgres.advisory_locks", PG, SESSION,
        "takes advisory locks and holds them",
        "releases the locks by closing the session"),
    info("postgres.replication_slot", PG, PERSIST,
        "creates a physical replication slot that nobody consumes, so WAL piles up",
        "drops the slot"),
    info("postgres.prepared_transaction", PG, PERSIST,
        "leaves a prepared transaction holding a row lock, as a crashed coordinator would",
        "rolls the prepared transaction back"),
    info("postgres.sequence_near_max", PG, PERSIST,
        "lowers a sequence's MAXVALUE to `remaining` values above its current value",
        "restores the previous MAXVALUE (last_value never moves backwards)"),
    info("docker.kill", DOCKER, PERSIST,
        "sends `signal` to the container's main process",
        "starts the container again unless its restart policy already did"),
    info("docker.stop", DOCKER, PERSIST,
        "stops the container",
        "starts the container"),
    info("docker.pause", DOCKER, PERSIST,
        "freezes every process of the container (cgroup freezer)",
        "unpauses the container"),
    info("docker.restart", DOCKER, PERSIST,
        "restarts the container",
        "nothing to undo; waits until it runs again"),
    info("docker.disconnect", DOCKER, PERSIST,
        "disconnects the container from `network`",
        "reconnects it with its previous aliases"),
    info("docker.memory_limit", DOCKER, PERSIST,
        "lowers the container's memory limit to `limit` (the kernel OOM-kills past it)",
        "restores the previous memory and swap limits"),
    info("docker.cpu_throttle", DOCKER, PERSIST,
        "caps the container's CPU quota to `cpus`",
        "restores the previous CPU quota and period"),
    info("process.signal", PROC, PERSIST,
        "sends `signal` to the process",
        "nothing to undo; a supervisor is expected to restart it"),
    info("process.freeze", PROC, PERSIST,
        "stops the process with SIGSTOP",
        "continues it with SIGCONT"),
    info("host.cpu_burn", HOST, SESSION,
        "busy-loops on `cores` cores in child processes of chaosdeck",
        "ends the child processes"),
    info("host.memory_pressure", HOST, SESSION,
        "allocates and touches memory up to `percent` of the total (never past 90 %)",
        "ends the child process, freeing the memory"),
    info("host.fill_disk", HOST, SESSION,
        "writes a file in `path` until the filesystem is `percent` full (never past 90 %)",
        "deletes the file"),
    info("host.exhaust_fds", HOST, SESSION,
        "opens file descriptors in a child process up to `count`",
        "ends the child process"),
    info("proxy.latency", PROXY, SESSION,
        "delays every byte through the proxy by `latency` ± `jitter`",
        "passes traffic straight through again"),
    info("proxy.bandwidth", PROXY, SESSION,
        "caps throughput through the proxy at `rate` per second",
        "passes traffic straight through again"),
    info("proxy.reset", PROXY, SESSION,
        "resets connections (TCP RST)",
        "passes traffic straight through again"),
    info("proxy.blackhole", PROXY, SESSION,
        "accepts connections and never answers",
        "passes traffic straight through again"),
    info("proxy.refuse", PROXY, SESSION,
        "closes new connections at once",
        "passes traffic straight through again"),
    info("proxy.slow_close", PROXY, SESSION,
        "holds connections open for `delay` after the upstream closed them",
        "passes traffic straight through again"),
    info("proxy.data_limit", PROXY, SESSION,
        "closes a connection after `bytes` have passed",
        "passes traffic straight through again"),
    info("proxy.http_error", PROXY, SESSION,
        "answers `fraction` of HTTP requests with `status` instead of forwarding them",
        "forwards every request again"),
    info("proxy.http_delay", PROXY, SESSION,
        "delays `fraction` of HTTP responses by `delay`",
        "forwards every response at once again"),
    info("command", None, PERSIST,
        "runs `run` (argv, no shell) with a timeout",
        "runs `undo` (argv, no shell) with a timeout"),
    info("include", None, PERSIST,
        "injects another catalog fault as part of this one",
        "tears that fault down"),
];

/// Parameters of an action that takes none: written `{}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// A compound fault's reference to another fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Include {
    pub fault: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_yaml::Value>,
}
