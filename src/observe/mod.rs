//! Probes (yes/no health checks with a latency) and samplers (time series), each run
//! in its own task so a hung target never delays the others or the console.

pub mod probe;
pub mod probe_check;
mod probe_container;
pub mod probe_http;
mod probe_local;
pub mod probe_task;
pub mod sample;

mod container_stats;
mod host_usage;
pub mod pg_connections;
mod process_restarts;
mod proxy_traffic;
pub mod sampler;
mod ticks;

pub use pg_connections::MONITOR_APPLICATION_NAME;
pub use probe::{ProbeCheck, ProbeSample, ProbeSpec};
pub use probe_check::{check_once, ProbeRunner};
pub use probe_task::spawn_probes;
pub use sample::{MetricBatch, MetricSample, SamplerSet};
pub use sampler::spawn_samplers;
