//! A small seedable random number generator (xorshift64* seeded through splitmix64),
//! so a proxy's dice can be replayed from its seed without a new dependency. Not for
//! anything that needs to be unpredictable.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        // xorshift must not start at zero; splitmix64 spreads close seeds apart.
        Rng(splitmix64(seed) | 1)
    }

    /// A seed that differs between runs: the clock mixed with the process id.
    pub(crate) fn seed_from_time() -> u64 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        splitmix64(nanos ^ (u64::from(std::process::id()) << 32))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (0 never, 1 always).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// `base` moved by a uniform amount in `[-spread, +spread]`, never below zero.
    pub(crate) fn around(&mut self, base: Duration, spread: Duration) -> Duration {
        if spread.is_zero() {
            return base;
        }
        let offset = (self.unit() * 2.0 - 1.0) * spread.as_secs_f64();
        Duration::from_secs_f64((base.as_secs_f64() + offset).max(0.0))
    }

    /// An independent generator for a sub-task (a connection, one direction of it).
    pub(crate) fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
