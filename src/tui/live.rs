//! The live dashboard's data: one running experiment, folded from the engine's
//! events. The event loop owns it and calls [`LiveState::apply`] for every event;
//! `screens::dashboard::render` draws it from a shared reference.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::catalog::{Category, FaultSpec, Severity};
use crate::engine::record::{RunRecord, TimelineEntry};
use crate::engine::runner::EngineEvent;
use crate::engine::{Phase, ProbeRole};
use crate::observe::{MetricBatch, ProbeSample};
use crate::report::mask_text;

mod series;
#[cfg(test)]
mod tests;

pub use series::SeriesBuffer;

/// How many latencies a probe row keeps for its sparkline.
pub const LATENCY_HISTORY: usize = 240;

/// How many timeline entries are kept (the oldest go first).
pub const TIMELINE_LIMIT: usize = 2_000;

/// One probe's line in the probe table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRow {
    pub name: String,
    /// The check in words, without a password.
    pub check: String,
    pub steady_state: bool,
    pub guard: bool,
    /// The latest check; `None` until the first one comes.
    pub last: Option<ProbeReading>,
    /// Latencies of the latest checks in whole milliseconds, oldest first.
    pub latencies_ms: VecDeque<u64>,
}

/// What the latest check of a probe came to.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReading {
    pub up: bool,
    pub latency: Duration,
    pub detail: String,
    pub at: Instant,
}

/// A sampler whose latest reading failed. Its series keep their old points.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceError {
    /// Why, passwords masked.
    pub message: String,
    /// The last reading that worked, if any did.
    pub last_reading: Option<Instant>,
}

/// Everything the live dashboard shows.
#[derive(Debug, Clone)]
pub struct LiveState {
    pub fault_id: String,
    pub fault_name: String,
    pub severity: Severity,
    pub category: Category,
    /// The target in words, passwords masked.
    pub target: String,
    pub phase: Phase,
    pub started: Instant,
    /// When the engine reported observing: the TTL counts from here.
    pub injected_at: Option<Instant>,
    /// The TTL, extensions included.
    pub ttl: Duration,
    pub probes: Vec<ProbeRow>,
    pub timeline: Vec<TimelineEntry>,
    /// Sources whose latest reading failed (`postgres`, `host`, `container:<name>`).
    pub sampler_errors: BTreeMap<String, SourceError>,
    pub blast_radius: Vec<String>,
    /// The engine asks for the gate (cleared once the run moves past it).
    pub gate_needed: bool,
    pub record: Option<Box<RunRecord>>,
    series: BTreeMap<String, SeriesBuffer>,
    last_reading: BTreeMap<String, Instant>,
}

impl LiveState {
    /// How much history each series keeps.
    pub const HISTORY: Duration = Duration::from_secs(600);

    /// A dashboard for `fault` on `target` (masked again here, to be sure), with the
    /// probes in the order the engine numbers them.
    pub fn new(
        fault: &FaultSpec,
        target: String,
        probes: Vec<ProbeRole>,
        ttl: Duration,
        now: Instant,
    ) -> LiveState {
        LiveState {
            fault_id: fault.id.clone(),
            fault_name: fault.name.clone(),
            severity: fault.severity,
            category: fault.category,
            target: mask_text(&target),
            phase: Phase::Preflight,
            started: now,
            injected_at: None,
            ttl,
            probes: probes.into_iter().map(ProbeRow::new).collect(),
            timeline: Vec::new(),
            sampler_errors: BTreeMap::new(),
            blast_radius: Vec::new(),
            gate_needed: false,
            record: None,
            series: BTreeMap::new(),
            last_reading: BTreeMap::new(),
        }
    }

    /// Folds one engine event in; returns what changed on screen.
    pub fn apply(&mut self, event: &EngineEvent, now: Instant) -> Change {
        match event {
            EngineEvent::Phase(phase) => Change::news(self.set_phase(*phase, now)),
            EngineEvent::Timeline(entry) => {
                // A driver or a note may quote a connection string.
                self.timeline.push(TimelineEntry {
                    text: mask_text(&entry.text),
                    ..entry.clone()
                });
                if self.timeline.len() > TIMELINE_LIMIT {
                    let excess = self.timeline.len() - TIMELINE_LIMIT;
                    self.timeline.drain(..excess);
                }
                Change::News
            }
            EngineEvent::Probe(sample) => self.fold_probe(sample),
            EngineEvent::Metrics(batch) => self.fold_metrics(batch),
            EngineEvent::GateNeeded { blast_radius } => {
                self.gate_needed = true;
                self.blast_radius = blast_radius.iter().map(|b| mask_text(b)).collect();
                Change::News
            }
            EngineEvent::Finished(record) => {
                self.record = Some(record.clone());
                Change::News
            }
        }
    }

    /// Mirrors `EngineCmd::ExtendTtl` on screen.
    pub fn extend_ttl(&mut self, by: Duration) {
        self.ttl = self.ttl.saturating_add(by);
    }

    /// Time left before the TTL tears the fault down; `None` before injection and
    /// once teardown has begun.
    pub fn ttl_left(&self, now: Instant) -> Option<Duration> {
        if !self.fault_is_on() || self.phase == Phase::TearingDown {
            return None;
        }
        let injected = self.injected_at?;
        Some(
            self.ttl
                .saturating_sub(now.saturating_duration_since(injected)),
        )
    }

    /// Time since the run started.
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    /// Whether the fault may be on: injecting, observing or tearing down.
    pub fn fault_is_on(&self) -> bool {
        match self.phase {
            Phase::Injecting | Phase::Observing | Phase::TearingDown => true,
            Phase::Preflight | Phase::Gate | Phase::RecoveryWatch | Phase::Done => false,
        }
    }

    /// One series by name (`pg.connections.total`, `host.cpu_percent` …).
    pub fn series(&self, name: &str) -> Option<&SeriesBuffer> {
        self.series.get(name)
    }

    /// Every series, sorted by name.
    pub fn all_series(&self) -> impl Iterator<Item = (&str, &SeriesBuffer)> {
        self.series.iter().map(|(name, s)| (name.as_str(), s))
    }

    /// Names of the containers that have series, sorted.
    pub fn containers(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .series
            .keys()
            .filter_map(|k| k.strip_prefix("container."))
            .filter_map(|rest| rest.rsplit_once('.').map(|(name, _)| name))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Seconds from the run's start to `at`, the charts' x axis.
    pub fn offset_secs(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.started).as_secs_f64()
    }

    fn set_phase(&mut self, phase: Phase, now: Instant) -> bool {
        let changed = self.phase != phase;
        self.phase = phase;
        if phase == Phase::Observing && self.injected_at.is_none() {
            self.injected_at = Some(now);
        }
        match phase {
            Phase::Preflight | Phase::Gate => {}
            Phase::Injecting
            | Phase::Observing
            | Phase::TearingDown
            | Phase::RecoveryWatch
            | Phase::Done => self.gate_needed = false,
        }
        changed
    }

    fn fold_probe(&mut self, sample: &ProbeSample) -> Change {
        let Some(row) = self.probes.get_mut(sample.probe) else {
            return Change::Nothing;
        };
        let flipped = row.last.as_ref().is_none_or(|last| last.up != sample.up);
        row.latencies_ms
            .push_back(u64::try_from(sample.latency.as_millis()).unwrap_or(u64::MAX));
        while row.latencies_ms.len() > LATENCY_HISTORY {
            row.latencies_ms.pop_front();
        }
        row.last = Some(ProbeReading {
            up: sample.up,
            latency: sample.latency,
            detail: mask_text(&sample.detail),
            at: sample.at,
        });
        match flipped {
            true => Change::News,
            false => Change::Readings,
        }
    }

    fn fold_metrics(&mut self, batch: &MetricBatch) -> Change {
        let t = self.offset_secs(batch.at);
        let window = Self::HISTORY.as_secs_f64();
        for sample in &batch.samples {
            if !sample.value.is_finite() {
                continue;
            }
            self.series
                .entry(sample.series.clone())
                .or_default()
                .push(t, sample.value, window);
        }
        let errors_changed = match &batch.error {
            Some(message) => {
                let error = SourceError {
                    message: mask_text(message),
                    last_reading: self.last_reading.get(&batch.source).copied(),
                };
                self.sampler_errors
                    .insert(batch.source.clone(), error.clone())
                    != Some(error)
            }
            None => {
                self.last_reading.insert(batch.source.clone(), batch.at);
                self.sampler_errors.remove(&batch.source).is_some()
            }
        };
        match (errors_changed, batch.samples.is_empty()) {
            (true, _) => Change::News,
            (false, false) => Change::Readings,
            (false, true) => Change::Nothing,
        }
    }
}

/// What an engine event changed on screen, which decides how soon it is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Nothing,
    /// New readings of what was already shown: chart points, latencies. They are
    /// drawn with the next frame, at the latest with the clock's next tick.
    Readings,
    /// Something an operator acts on: a phase, a timeline line, a probe going up or
    /// down, a sampler failing or coming back, the gate, the verdict.
    News,
}

impl Change {
    fn news(changed: bool) -> Change {
        match changed {
            true => Change::News,
            false => Change::Nothing,
        }
    }
}

impl ProbeRow {
    fn new(role: ProbeRole) -> ProbeRow {
        ProbeRow {
            name: role.name,
            check: mask_text(&role.check),
            steady_state: role.steady_state,
            guard: role.guard,
            last: None,
            latencies_ms: VecDeque::new(),
        }
    }
}
