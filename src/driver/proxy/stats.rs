//! The proxy's counters: atomics updated by the connections, read cheaply by a
//! sampler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::Shared;

/// Counters since the proxy started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    pub connections_total: u64,
    pub connections_open: u64,
    /// Bytes delivered to the upstream.
    pub bytes_up: u64,
    /// Bytes delivered to clients.
    pub bytes_down: u64,
    /// Faults that took effect: once per fault kind per connection it hit, plus once
    /// per HTTP request answered with an error or delayed.
    pub faults_fired: u64,
}

/// A cheap, cloneable reader of a proxy's counters, for a sampler task.
#[derive(Debug, Clone)]
pub struct ProxyStatsReader(pub(super) Arc<Shared>);

impl ProxyStatsReader {
    pub fn read(&self) -> ProxyStats {
        self.0.counters.read()
    }
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    connections_total: AtomicU64,
    connections_open: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    faults_fired: AtomicU64,
}

/// A connection's share of the proxy; counts it as open while it lives.
pub(super) struct OpenGuard(Arc<Shared>);

impl OpenGuard {
    pub(super) fn new(shared: Arc<Shared>) -> OpenGuard {
        let counters = &shared.counters;
        counters.connections_total.fetch_add(1, Ordering::Relaxed);
        counters.connections_open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(shared)
    }
}

impl std::ops::Deref for OpenGuard {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0
            .counters
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl Counters {
    pub(super) fn moved(&self, up: bool, bytes: usize) {
        let counter = if up { &self.bytes_up } else { &self.bytes_down };
        counter.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn fire(&self) {
        self.faults_fired.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn read(&self) -> ProxyStats {
        ProxyStats {
            connections_total: self.connections_total.load(Ordering::Relaxed),
            connections_open: self.connections_open.load(Ordering::Relaxed),
            bytes_up: self.bytes_up.load(Ordering::Relaxed),
            bytes_down: self.bytes_down.load(Ordering::Relaxed),
            faults_fired: self.faults_fired.load(Ordering::Relaxed),
        }
    }
}
