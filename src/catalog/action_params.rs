//! Typed parameters of each action kind. A field written as `"{{name}}"` takes the
//! value of the fault's parameter `name` when the fault is prepared.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bytesize::ByteSize;
use super::duration::HumanDuration;
use super::template::Param;

fn one() -> Param<u32> {
    Param::Value(1)
}
fn certain() -> Param<f64> {
    Param::Value(1.0)
}

/// How many sessions `postgres.hold_connections` opens: `fill` or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionCount {
    /// Every slot the server has, less `reserve`.
    Fill,
    Exactly(u32),
}

impl std::fmt::Display for ConnectionCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionCount::Fill => f.write_str("fill"),
            ConnectionCount::Exactly(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for ConnectionCount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ConnectionCount::Fill => serializer.serialize_str("fill"),
            ConnectionCount::Exactly(n) => serializer.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for ConnectionCount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ConnectionCount;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("\"fill\" or a number of sessions")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ConnectionCount, E> {
                match text.trim() {
                    "fill" => Ok(ConnectionCount::Fill),
                    other => other.parse().map(ConnectionCount::Exactly).map_err(|_| {
                        E::custom(format!(
                            "invalid count \"{text}\"; expected \"fill\" or a number of sessions"
                        ))
                    }),
                }
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<ConnectionCount, E> {
                u32::try_from(n).map(ConnectionCount::Exactly).map_err(|_| {
                    E::custom(format!(
                        "invalid count \"{n}\"; expected at most {}",
                        u32::MAX
                    ))
                })
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<ConnectionCount, E> {
                Err(E::custom(format!(
                    "invalid count \"{n}\"; expected \"fill\" or a number of sessions"
                )))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldConnections {
    pub count: Param<ConnectionCount>,
    #[serde(default = "one")]
    pub reserve: Param<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongQuery {
    pub duration: Param<HumanDuration>,
    #[serde(default = "one")]
    pub sessions: Param<u32>,
    /// When set, the query reads this table inside its transaction, so DDL,
    /// VACUUM FULL and cleanup on it wait behind the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// `SELECT … FOR UPDATE` on every row: writers of those rows wait.
    Row,
    /// `LOCK TABLE … IN SHARE MODE`: every writer waits.
    Share,
    /// `LOCK TABLE … IN ACCESS EXCLUSIVE MODE`: readers wait too.
    AccessExclusive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockContention {
    pub table: String,
    pub mode: LockMode,
    /// Sessions chaosdeck starts that queue behind the lock, as an application would.
    #[serde(default)]
    pub waiters: Param<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlock {
    pub table: String,
    /// Pause between deadlocks.
    pub every: Param<HumanDuration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableBloat {
    pub table: String,
    pub rows: Param<u32>,
    /// Each row is updated this many times, leaving `rows × updates` dead tuples.
    pub updates: Param<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheMiss {
    pub table: String,
    /// Table size as a multiple of shared_buffers.
    pub factor: Param<f64>,
    /// Concurrent sessions scanning it.
    #[serde(default = "one")]
    pub scanners: Param<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdleInTransaction {
    pub count: Param<u32>,
    /// When set, each session first takes a row lock on this table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminateBackends {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Terminate again at this interval while the fault is on; once when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Param<HumanDuration>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    pub name: String,
    pub value: String,
    /// `ALTER ROLE <role> SET` instead of `ALTER SYSTEM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TempFiles {
    pub size: Param<ByteSize>,
    #[serde(default = "one")]
    pub sessions: Param<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameDatabase {
    pub database: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopMode {
    Smart,
    #[default]
    Fast,
    Immediate,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopServer {
    #[serde(default)]
    pub mode: StopMode,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseReplay {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConnectionLimit {
    pub role: String,
    pub limit: Param<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisoryLocks {
    /// The first key; `count` consecutive keys are locked.
    pub key: Param<i64>,
    #[serde(default = "one")]
    pub count: Param<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationSlot {
    /// Refused when the filesystem holding the data directory has less free space.
    pub min_free_disk: Param<ByteSize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreparedTransaction {
    /// A table whose first row the prepared transaction keeps locked.
    pub table: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceNearMax {
    pub sequence: String,
    pub remaining: Param<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    #[serde(rename = "KILL", alias = "SIGKILL")]
    Kill,
    #[serde(rename = "TERM", alias = "SIGTERM")]
    Term,
    #[serde(rename = "INT", alias = "SIGINT")]
    Int,
    #[serde(rename = "HUP", alias = "SIGHUP")]
    Hup,
    #[serde(rename = "QUIT", alias = "SIGQUIT")]
    Quit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerKill {
    pub signal: Signal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerStop {
    /// Grace period before SIGKILL.
    pub timeout: Param<HumanDuration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDisconnect {
    pub network: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryLimit {
    pub limit: Param<ByteSize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuThrottle {
    /// CPUs' worth of quota, e.g. 0.1.
    pub cpus: Param<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSignal {
    pub signal: Signal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuBurn {
    /// Cores to keep busy; 0 means all of them.
    pub cores: Param<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryPressure {
    /// Target share of total memory in use, in percent (capped at 90).
    pub percent: Param<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FillDisk {
    pub path: String,
    /// Target fill of that filesystem, in percent (capped at 90).
    pub percent: Param<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExhaustFds {
    pub count: Param<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyLatency {
    pub latency: Param<HumanDuration>,
    #[serde(default)]
    pub jitter: Param<HumanDuration>,
    #[serde(default = "certain")]
    pub probability: Param<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyBandwidth {
    /// Bytes per second, each way.
    pub rate: Param<ByteSize>,
    #[serde(default = "certain")]
    pub probability: Param<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyChance {
    #[serde(default = "certain")]
    pub probability: Param<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySlowClose {
    pub delay: Param<HumanDuration>,
    #[serde(default = "certain")]
    pub probability: Param<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyDataLimit {
    pub bytes: Param<ByteSize>,
    #[serde(default = "certain")]
    pub probability: Param<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyHttpError {
    pub status: Param<u16>,
    pub fraction: Param<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyHttpDelay {
    pub delay: Param<HumanDuration>,
    pub fraction: Param<f64>,
}

/// A program run without a shell: each argument is passed as it is, after
/// `{{param}}` references inside it are replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandAction {
    pub run: Vec<String>,
    pub undo: Vec<String>,
    /// Exits 0 once the undo took effect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    pub timeout: Param<HumanDuration>,
}

impl<T: Default> Default for Param<T> {
    fn default() -> Self {
        Param::Value(T::default())
    }
}
