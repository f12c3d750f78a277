//! The proxy sampler: the fault proxy's byte, connection and fault counters, read
//! from its atomics (no I/O).

use super::sample::MetricSample;
use super::sampler::{sample, ReadError, Source};
use crate::driver::proxy::{ProxyStats, ProxyStatsReader};

/// Samples one fault proxy.
pub(crate) struct ProxyTrafficSource {
    reader: ProxyStatsReader,
}

impl ProxyTrafficSource {
    pub fn new(reader: ProxyStatsReader) -> ProxyTrafficSource {
        ProxyTrafficSource { reader }
    }
}

impl Source for ProxyTrafficSource {
    fn name(&self) -> String {
        "proxy".to_string()
    }

    async fn read(&mut self) -> Result<Vec<MetricSample>, ReadError> {
        Ok(samples(&self.reader.read()))
    }
}

/// The series of one reading of the counters (totals since the proxy started).
fn samples(stats: &ProxyStats) -> Vec<MetricSample> {
    vec![
        sample("proxy.bytes_up", stats.bytes_up as f64),
        sample("proxy.bytes_down", stats.bytes_down as f64),
        sample("proxy.connections_open", stats.connections_open as f64),
        sample("proxy.faults_fired", stats.faults_fired as f64),
    ]
}
