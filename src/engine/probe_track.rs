//! What the run remembers of one probe: its latest state, counts, latency and the
//! current streak of passing checks (for recovery).

use std::time::Duration;

use tokio::time::Instant;

use crate::observe::ProbeSample;

#[derive(Debug, Clone, Default)]
pub struct ProbeTrack {
    pub last_up: Option<bool>,
    pub last_detail: String,
    /// A check that started after injection failed.
    pub failed_after_injection: bool,
    pub checks: u64,
    pub failures: u64,
    latency_min: Option<Duration>,
    latency_max: Duration,
    latency_sum: Duration,
    /// Checks that started before this instant do not count toward a streak.
    streak_floor: Option<Instant>,
    streak_start: Option<Instant>,
    streak_len: u32,
}

impl ProbeTrack {
    /// Folds one check in; true when the probe changed between up and down.
    pub fn add(&mut self, sample: &ProbeSample) -> bool {
        let changed = self.last_up != Some(sample.up);
        self.last_up = Some(sample.up);
        self.last_detail = sample.detail.clone();
        self.checks += 1;
        self.latency_min = Some(
            self.latency_min
                .map_or(sample.latency, |m| m.min(sample.latency)),
        );
        self.latency_max = self.latency_max.max(sample.latency);
        self.latency_sum += sample.latency;
        if !sample.up {
            self.failures += 1;
            self.streak_start = None;
            self.streak_len = 0;
        } else if self.streak_floor.is_none_or(|floor| sample.at >= floor) {
            if self.streak_start.is_none() {
                self.streak_start = Some(sample.at);
            }
            self.streak_len += 1;
        }
        changed
    }

    /// Starts counting passing checks afresh from `now` (after injection, after
    /// teardown).
    pub fn reset_streak_at(&mut self, now: Instant) {
        self.streak_floor = Some(now);
        self.streak_start = None;
        self.streak_len = 0;
    }

    /// The start of a streak of at least `len` passing checks that began at or after
    /// `anchor`.
    pub fn streak_since(&self, anchor: Instant, len: u32) -> Option<Instant> {
        let start = self.streak_start?;
        (start >= anchor && self.streak_len >= len.max(1)).then_some(start)
    }

    /// `name (down: why)` or `name (no check yet)`.
    pub fn describe_down(&self, name: &str) -> String {
        match self.last_up {
            None => format!("{name} (no check yet)"),
            Some(_) => format!("{name} (down: {})", self.last_detail),
        }
    }

    /// Latency min, mean and max in milliseconds.
    pub fn latency_ms(&self) -> (f64, f64, f64) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mean = match self.checks {
            0 => 0.0,
            n => ms(self.latency_sum) / n as f64,
        };
        (self.latency_min.map_or(0.0, ms), mean, ms(self.latency_max))
    }
}
