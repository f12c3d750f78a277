//! Time-series readings from the samplers.

use std::path::PathBuf;

use tokio::time::Instant;

use crate::driver::postgres::PgTarget;
use crate::driver::process::ProcessSelector;
use crate::driver::proxy::ProxyStatsReader;

/// One reading of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    /// A dotted series name: `pg.connections.total`, `host.cpu_percent`,
    /// `container.<name>.memory_bytes`, `proxy.faults_fired` …
    pub series: String,
    pub value: f64,
}

/// What one sampler read at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricBatch {
    pub at: Instant,
    /// Which sampler: `postgres`, `host`, `container:<name>`, `proxy`.
    pub source: String,
    pub samples: Vec<MetricSample>,
    /// Set when this reading failed (the target refused, timed out); the sampler
    /// keeps trying. Never holds a password.
    pub error: Option<String>,
}

/// Which samplers to run.
#[derive(Debug, Clone, Default)]
pub struct SamplerSet {
    pub postgres: Option<PgTarget>,
    /// Host CPU, memory and the disk holding this path.
    pub host_disk: Option<PathBuf>,
    pub containers: Vec<String>,
    pub proxy: Option<ProxyStatsReader>,
    /// The process target, for whether it runs and how often it was restarted.
    pub process: Option<ProcessSelector>,
}
