//! The run as a pure state machine: `step(&mut run, input, now) -> effects`.
//!
//! The step function is in `step.rs`. Preflight → gate → inject → observe → teardown → recovery watch → verdict. Time is
//! passed in, nothing here does I/O: the runner (`runner.rs`) carries the effects out
//! and feeds back what happened. Tests drive it with tables of inputs.

use std::time::Duration;

use tokio::time::Instant;

use super::probe_track::ProbeTrack;
use super::record::{Approval, Note, TeardownStep, TimelineEntry, TimelineKind};
use super::series_stats::SeriesStats;
use crate::catalog::Severity;
use crate::observe::{MetricBatch, ProbeSample};

/// What the run knows before it starts.
#[derive(Debug, Clone)]
pub struct RunSetup {
    pub fault_id: String,
    pub severity: Severity,
    /// Probe names expected to fail while the fault is on.
    pub expect_impact: Vec<String>,
    pub recover_within: Duration,
    pub self_healing: bool,
    pub ttl: Duration,
    /// Stop observing this long after injection (headless `--duration`); `None` keeps
    /// observing until the TTL or the operator.
    pub observe_for: Option<Duration>,
    pub probes: Vec<ProbeRole>,
    /// Consecutive passing checks of every steady-state probe that count as recovered.
    pub stable_for: u32,
    /// Preflight fails when steady state does not hold within this long.
    pub preflight_timeout: Duration,
    /// Sampler sources that must deliver a good reading before injecting (the
    /// PostgreSQL monitoring session, so graphs keep drawing under a connection fault).
    pub wait_for_sources: Vec<String>,
    /// The slowest probe's interval: recovery watch runs `stable_for` of them past
    /// `recover_within`, so a recovery right at the limit can complete its streak.
    pub probe_interval: Duration,
}

/// A probe's name and what it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRole {
    pub name: String,
    /// The check in words, without a password.
    pub check: String,
    pub steady_state: bool,
    pub guard: bool,
}

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Preflight,
    Gate,
    Injecting,
    Observing,
    TearingDown,
    RecoveryWatch,
    Done,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Gate => "gate",
            Phase::Injecting => "injecting",
            Phase::Observing => "observing",
            Phase::TearingDown => "tearing down",
            Phase::RecoveryWatch => "recovery watch",
            Phase::Done => "done",
        }
    }
}

/// Why observing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The observation window (`--duration`) ended.
    Duration,
    Ttl,
    Operator,
    Guard(String),
    HaltAll,
    Interrupt,
    Terminate,
    Panic,
}

impl StopReason {
    /// Stops that end the whole run: no recovery watch follows their teardown
    /// (Ctrl-C, SIGTERM or a lost terminal, halt-all).
    pub fn ends_run(&self) -> bool {
        matches!(
            self,
            StopReason::HaltAll | StopReason::Interrupt | StopReason::Terminate
        )
    }

    pub fn describe(&self) -> String {
        match self {
            StopReason::Duration => "duration".into(),
            StopReason::Ttl => "ttl".into(),
            StopReason::Operator => "operator".into(),
            StopReason::Guard(name) => format!("guard {name}"),
            StopReason::HaltAll => "halt-all".into(),
            StopReason::Interrupt => "interrupt".into(),
            StopReason::Terminate => "terminate".into(),
            StopReason::Panic => "panic".into(),
        }
    }
}

/// Something that happened, fed to [`step`].
#[derive(Debug, Clone)]
pub enum Input {
    /// Begin preflight; `problems` are what the runner found before any probe ran
    /// (unreachable targets, dangling faults). Any problem aborts the run. `notes`
    /// are what it found that changes how the run goes without stopping it (the
    /// fault proxy is served by another process), each a line of the timeline.
    Start {
        problems: Vec<String>,
        notes: Vec<String>,
    },
    Probe(ProbeSample),
    Metrics(MetricBatch),
    GateApproved {
        by: String,
        target: String,
    },
    GateRefused {
        why: String,
    },
    Injected {
        blast_radius: Vec<String>,
    },
    InjectFailed {
        error: String,
        rollback: Vec<TeardownStep>,
    },
    /// Time passed; deadlines are checked.
    Tick,
    Stop(StopReason),
    TornDown {
        steps: Vec<TeardownStep>,
    },
    Note(String),
    /// The operator gives the fault more time; the TTL counts from injection still.
    ExtendTtl(Duration),
    /// A restart count read by a sampler (container or supervised process).
    Restarts {
        name: String,
        count: i64,
    },
}

/// What the runner must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Ask for approval: the console shows the gate, headless checks `--yes`.
    AskGate,
    Inject,
    Teardown,
    /// A line for the timeline (progress output, the console's event list).
    Timeline(TimelineEntry),
    /// The run is over; its record can be built.
    Finished,
}

/// One experiment's whole state.
#[derive(Debug, Clone)]
pub struct Run {
    pub setup: RunSetup,
    pub phase: Phase,
    pub started: Instant,
    pub probes: Vec<ProbeTrack>,
    pub series: SeriesStats,
    pub timeline: Vec<TimelineEntry>,
    pub approvals: Vec<Approval>,
    pub notes: Vec<Note>,
    /// When injection began (approval given): impact and self-healing recovery
    /// count from here, since a fault hurts from its first side effect.
    pub inject_started: Option<Instant>,
    /// When every step was in place: the TTL and the observation window count from
    /// here.
    pub injected_at: Option<Instant>,
    pub impact_at: Option<Instant>,
    pub teardown_started: Option<Instant>,
    pub teardown_done: Option<Instant>,
    pub recovered_at: Option<Instant>,
    pub ended_by: Option<StopReason>,
    /// A stop asked for while injecting, carried out once injection returns.
    pub pending_stop: Option<StopReason>,
    /// A stop that cut the recovery watch short, before steady state was regained.
    pub watch_stopped_by: Option<StopReason>,
    pub teardown_steps: Vec<TeardownStep>,
    pub inject_error: Option<String>,
    pub aborted: Option<String>,
    /// `Start` has been handled: preflight checks may pass from now on.
    pub started_preflight: bool,
    /// Sampler sources that have delivered a good reading.
    pub sources_ready: std::collections::BTreeSet<String>,
    /// First and latest restart count seen per name.
    pub restarts: std::collections::BTreeMap<String, (i64, i64)>,
}

impl Run {
    pub fn new(setup: RunSetup, now: Instant) -> Run {
        let probes = setup.probes.iter().map(|_| ProbeTrack::default()).collect();
        Run {
            setup,
            phase: Phase::Preflight,
            started: now,
            probes,
            series: SeriesStats::default(),
            timeline: Vec::new(),
            approvals: Vec::new(),
            notes: Vec::new(),
            inject_started: None,
            injected_at: None,
            impact_at: None,
            teardown_started: None,
            teardown_done: None,
            recovered_at: None,
            ended_by: None,
            pending_stop: None,
            watch_stopped_by: None,
            teardown_steps: Vec::new(),
            inject_error: None,
            aborted: None,
            started_preflight: false,
            sources_ready: Default::default(),
            restarts: Default::default(),
        }
    }

    /// Milliseconds from the start of the run to `at`.
    pub fn offset_ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_millis() as u64
    }

    pub(super) fn say(
        &mut self,
        at: Instant,
        kind: TimelineKind,
        text: String,
        out: &mut Vec<Effect>,
    ) {
        let entry = TimelineEntry {
            offset_ms: self.offset_ms(at),
            kind,
            text,
        };
        self.timeline.push(entry.clone());
        out.push(Effect::Timeline(entry));
    }

    pub(super) fn steady_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.setup
            .probes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.steady_state)
            .map(|(i, _)| i)
    }
}
