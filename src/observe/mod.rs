//! Probes (yes/no health checks with a latency) and samplers (time series), each run
//! in its own task so a hung target never delays the others or the console.

pub mod probe;
pub mod sample;

pub use probe::{ProbeCheck, ProbeSample, ProbeSpec};
pub use sample::{MetricBatch, MetricSample, SamplerSet};
