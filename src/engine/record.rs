//! What a finished run leaves behind: everything a report shows, in plain data.
//! Durations are whole milliseconds so the JSON reads without a schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{Category, Severity};

/// One experiment from preflight to verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub fault: FaultSummary,
    /// The targets in words, passwords masked (`postgres host=… password=***`).
    pub target: String,
    /// Parameter values as used, by name.
    pub params: BTreeMap<String, String>,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    pub approvals: Vec<Approval>,
    pub timeline: Vec<TimelineEntry>,
    /// Min/max/mean of each sampled series, sorted by name.
    pub series: Vec<SeriesSummary>,
    pub probes: Vec<ProbeSummary>,
    pub timings: Timings,
    pub teardown: Vec<TeardownStep>,
    pub verdict: Verdict,
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSummary {
    pub id: String,
    pub name: String,
    pub category: Category,
    pub severity: Severity,
    /// Expected-impact probe names from the catalog.
    pub expect_impact: Vec<String>,
    pub recover_within_ms: u64,
    pub self_healing: bool,
}

/// Who approved what, when, for which target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub offset_ms: u64,
    /// `--yes`, `--yes --allow-critical`, `console: typed the fault id` …
    pub by: String,
    pub severity: Severity,
    pub target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Preflight,
    Approval,
    Inject,
    Impact,
    Probe,
    Guard,
    Teardown,
    Recovery,
    Verdict,
    Note,
    Error,
}

/// One line of the timeline, at an offset from the start of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub offset_ms: u64,
    pub kind: TimelineKind,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    pub name: String,
    pub samples: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSummary {
    pub name: String,
    /// The check in words, no password.
    pub check: String,
    pub steady_state: bool,
    pub guard: bool,
    pub checks: u64,
    pub failures: u64,
    pub latency_min_ms: f64,
    pub latency_mean_ms: f64,
    pub latency_max_ms: f64,
}

/// The measured times. `None` when the moment never came.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    /// First failing check that started once injection began, from that moment.
    pub time_to_impact_ms: Option<u64>,
    /// From the start of teardown until every step was undone and verified.
    pub teardown_ms: Option<u64>,
    /// Steady state regained (first check of the `stable_for` streak) after teardown
    /// done, or after injection for self-healing faults (see `recovery_from`).
    pub time_to_recover_ms: Option<u64>,
    pub recovery_from: RecoveryAnchor,
    /// Restarts seen during the run, by container or process name.
    pub restarts: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryAnchor {
    #[default]
    TeardownDone,
    Injection,
}

/// What undoing one step came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeardownStep {
    pub fault: String,
    pub action: String,
    /// `verified`, `residual: …` or `failed: …`.
    pub result: String,
    pub verified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The expectation held: impact seen as expected, recovered in time.
    Pass,
    /// The fault ran and was torn down, but the expectation did not hold, or the
    /// operator stopped the run before its recovery was watched (interrupted).
    Fail,
    /// Stopped before injecting (preflight failed, gate refused, policy).
    Aborted,
    /// A teardown step was residual or failed: something may still be on.
    TeardownFailed,
}

impl Outcome {
    /// The outcome in one lower-case word or phrase, as the journal keeps it.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Aborted => "aborted",
            Outcome::TeardownFailed => "teardown failed",
        }
    }

    /// The process exit code the headless CLI uses for it.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Pass => 0,
            Outcome::Fail | Outcome::Aborted => 1,
            Outcome::TeardownFailed => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Why the run ended observing: `duration`, `ttl`, `operator`, `guard app-health`,
    /// `halt-all`, `interrupt`, `terminate` …; or the stop that cut its recovery watch
    /// short (`interrupt during the recovery watch`).
    pub ended_by: String,
    /// Whether the expected impact was seen (`None` when none was expected).
    pub impact_seen: Option<bool>,
    /// Whether steady state was seen to come back within `recover_within` (false
    /// also when recovery was not watched or not measured; see
    /// [`RunRecord::recovery`]).
    pub recovered_in_time: bool,
    /// One sentence per reason the outcome is what it is.
    pub reasons: Vec<String>,
}

/// What became of a run's recovery ([`RunRecord::recovery`] reads it from a record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Steady state came back this many milliseconds after the anchor
    /// ([`Timings::recovery_from`]), within `recover_within` or not.
    Regained { ms: u64, in_time: bool },
    /// The recovery watch ran to its end without steady state coming back.
    NotRegained,
    /// The operator stopped the run before its recovery watch (Ctrl-C, SIGTERM,
    /// halt-all) or during it: recovery was not watched, so it did not fail.
    NotWatched,
    /// No steady-state probe, so nothing could show recovery.
    NotMeasured,
    /// The fault never went on (aborted), or its teardown failed.
    NotReached,
}

impl Recovery {
    /// The recovery in a few words, for reports: `in time`, `late`, `not regained`,
    /// `not watched (the run was interrupted)`, `not measured (no steady-state probe)`.
    pub fn words(self) -> &'static str {
        match self {
            Recovery::Regained { in_time: true, .. } => "in time",
            Recovery::Regained { in_time: false, .. } => "late",
            Recovery::NotRegained => "not regained",
            Recovery::NotWatched => "not watched (the run was interrupted)",
            Recovery::NotMeasured => "not measured (no steady-state probe)",
            Recovery::NotReached => "not reached",
        }
    }
}

/// A note the operator typed during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub offset_ms: u64,
    pub text: String,
}

/// A game day: several runs in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GamedayRecord {
    pub plan: String,
    pub started_at: String,
    pub runs: Vec<RunRecord>,
    /// Set when the plan stopped early (a failed teardown), with why.
    pub stopped: Option<String>,
}
