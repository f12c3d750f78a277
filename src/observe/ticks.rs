//! When probes and samplers check: every `period` on one grid per run, counted from
//! the run's start, so every check that falls due at an instant is woken by one
//! timer. On a virtual machine each wake-up costs more CPU than a loopback request
//! (BENCHMARKS.md, "Engine CPU"); ten probes and four samplers on their own timers,
//! each a few hundred microseconds apart, woke the engine several times a round.

use std::time::Duration;

use tokio::time::Instant;

/// The ticks of one probe or sampler: the first at once, then on the grid
/// `origin + n × period`.
#[derive(Debug, Clone)]
pub(crate) struct Ticks {
    origin: Instant,
    period: Duration,
    /// The grid point of the last tick; `None` before the first.
    last: Option<Instant>,
}

impl Ticks {
    /// Ticks every `period` (at least `floor`) on the grid that starts at `origin`.
    pub fn new(origin: Instant, period: Duration, floor: Duration) -> Ticks {
        Ticks {
            origin,
            period: period.max(floor),
            last: None,
        }
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits for the next tick: at once the first time, then on the grid.
    pub async fn tick(&mut self) {
        let now = Instant::now();
        let Some(last) = self.last else {
            // Counted from the grid point just passed, so the next tick is on it.
            self.last = Some(self.point(now, Round::Down));
            return;
        };
        let next = self.next(last, now);
        self.last = Some(next);
        tokio::time::sleep_until(next).await;
    }

    /// The tick after the one at `last`: one period later while checks keep up;
    /// after a check that ran past it (a timeout), the first grid point at least
    /// half a period after `now`, so a struggling target never gets two checks back
    /// to back.
    fn next(&self, last: Instant, now: Instant) -> Instant {
        let due = last + self.period;
        match due > now {
            true => due,
            false => self.point(now + self.period / 2, Round::Up),
        }
    }

    /// The grid point at or before (`Down`) or at or after (`Up`) `at`.
    fn point(&self, at: Instant, round: Round) -> Instant {
        let period = self.period.as_nanos().max(1);
        let since = at.saturating_duration_since(self.origin).as_nanos();
        let mut n = since / period;
        if round == Round::Up && since % period != 0 {
            n += 1;
        }
        let offset = u64::try_from(period.saturating_mul(n)).unwrap_or(u64::MAX);
        self.origin + Duration::from_nanos(offset)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Round {
    Down,
    Up,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_millis(250);

    fn ms(origin: Instant, n: u64) -> Instant {
        origin + Duration::from_millis(n)
    }

    #[test]
    fn checks_that_keep_up_tick_one_period_apart_however_long_they_take() {
        let origin = Instant::now();
        let t = Ticks::new(origin, PERIOD, Duration::from_millis(1));
        assert_eq!(t.next(origin, ms(origin, 3)), ms(origin, 250));
        // A slow check (130 ms) still keeps the rate.
        assert_eq!(t.next(ms(origin, 250), ms(origin, 380)), ms(origin, 500));
        assert_eq!(t.next(ms(origin, 500), ms(origin, 749)), ms(origin, 750));
    }

    #[test]
    fn a_late_check_waits_at_least_half_a_period_and_stays_on_the_grid() {
        let origin = Instant::now();
        let t = Ticks::new(origin, PERIOD, Duration::from_millis(1));
        // A 1 s timeout from 0 ends at 1000: the next check at 1250.
        assert_eq!(t.next(origin, ms(origin, 1000)), ms(origin, 1250));
        assert_eq!(t.next(origin, ms(origin, 1120)), ms(origin, 1250));
        // Ending just before a grid point skips it rather than checking 5 ms later.
        assert_eq!(t.next(origin, ms(origin, 1245)), ms(origin, 1500));
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_tick_is_at_once_and_a_late_starter_joins_the_grid() {
        let origin = Instant::now();
        let mut probe = Ticks::new(origin, PERIOD, Duration::from_millis(1));
        probe.tick().await;
        assert_eq!(Instant::now(), origin);
        probe.tick().await;
        assert_eq!(Instant::now(), ms(origin, 250));
        // A sampler started at 2.01 s reads at once, then on the whole seconds.
        tokio::time::sleep_until(ms(origin, 2_010)).await;
        let mut sampler = Ticks::new(origin, Duration::from_secs(1), Duration::from_millis(10));
        sampler.tick().await;
        assert_eq!(Instant::now(), ms(origin, 2_010));
        sampler.tick().await;
        assert_eq!(Instant::now(), ms(origin, 3_000));
    }
}
