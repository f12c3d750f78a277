//! Runs the samplers: one tokio task per source, each reading every `interval` under
//! its own timeout, so a hung PostgreSQL, Docker engine or disk never delays the
//! other sources or the console.
//!
//! A reading that fails or times out still produces a [`MetricBatch`], with `error`
//! set and no samples (a source may add the samples it does know, such as a stopped
//! container's `running` = 0). Tasks end as soon as the token is cancelled or the
//! receiver is gone.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::container_stats::ContainerStatsSource;
use super::host_usage::HostUsageSource;
use super::pg_connections::PgConnectionsSource;
use super::process_restarts::ProcessRestartsSource;
use super::proxy_traffic::ProxyTrafficSource;
use super::sample::{MetricBatch, MetricSample, SamplerSet};
use super::ticks::Ticks;

/// The shortest interval a sampler runs at; shorter ones are raised to it.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// The bounds of a reading's timeout, which is otherwise four intervals.
const MIN_TIMEOUT: Duration = Duration::from_millis(200);
const MAX_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a reading failed, with whatever the source still knows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReadError {
    pub message: String,
    pub known: Vec<MetricSample>,
}

impl ReadError {
    pub fn new(message: impl Into<String>) -> ReadError {
        ReadError {
            message: message.into(),
            known: Vec::new(),
        }
    }

    /// The same error, with samples that are still true (a stopped container's
    /// `running` = 0).
    pub fn with(mut self, known: Vec<MetricSample>) -> ReadError {
        self.known = known;
        self
    }
}

/// One time series source. Its task owns it; dropping it releases its sessions and
/// helper tasks.
pub(crate) trait Source: Send + 'static {
    /// The batch's `source`: `postgres`, `host`, `container:<name>`, `proxy`.
    fn name(&self) -> String;

    /// One reading. Must be cancel-safe: a reading cut short by its timeout leaves
    /// the source usable for the next one.
    fn read(&mut self) -> impl Future<Output = Result<Vec<MetricSample>, ReadError>> + Send;
}

/// A sample of `series` with `value`.
pub(crate) fn sample(series: impl Into<String>, value: f64) -> MetricSample {
    MetricSample {
        series: series.into(),
        value,
    }
}

/// Starts one task per source in `set`, each sending a batch to `tx` every
/// `interval`, on the tick grid counted from `origin` that the run's probes share.
/// The tasks end when `cancel` fires or `tx`'s receiver is dropped.
pub fn spawn_samplers(
    set: SamplerSet,
    interval: Duration,
    origin: Instant,
    tx: Sender<MetricBatch>,
    cancel: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let interval = Ticks::new(origin, interval, MIN_INTERVAL);
    let mut tasks = Vec::new();
    if let Some(target) = set.postgres {
        let source = PgConnectionsSource::new(target);
        tasks.push(start(source, &interval, &tx, &cancel));
    }
    if let Some(path) = set.host_disk {
        tasks.push(start(HostUsageSource::new(path), &interval, &tx, &cancel));
    }
    for name in set.containers {
        let source = ContainerStatsSource::new(name);
        tasks.push(start(source, &interval, &tx, &cancel));
    }
    if let Some(selector) = set.process {
        let source = ProcessRestartsSource::new(selector);
        tasks.push(start(source, &interval, &tx, &cancel));
    }
    if let Some(reader) = set.proxy {
        tasks.push(start(
            ProxyTrafficSource::new(reader),
            &interval,
            &tx,
            &cancel,
        ));
    }
    tasks
}

/// Puts `source` on its own task.
fn start<S: Source>(
    source: S,
    ticks: &Ticks,
    tx: &Sender<MetricBatch>,
    cancel: &CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run_source(
        source,
        ticks.clone(),
        tx.clone(),
        cancel.clone(),
    ))
}

/// How long one reading may take at `interval`.
pub(crate) fn reading_timeout(interval: Duration) -> Duration {
    (interval * 4).clamp(MIN_TIMEOUT, MAX_TIMEOUT)
}

/// The loop of one source's task.
async fn run_source<S: Source>(
    mut source: S,
    mut ticker: Ticks,
    tx: Sender<MetricBatch>,
    cancel: CancellationToken,
) {
    let limit = reading_timeout(ticker.period());
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let batch = tokio::select! {
            _ = cancel.cancelled() => return,
            batch = read_once(&mut source, limit) => batch,
        };
        let sent = tokio::select! {
            _ = cancel.cancelled() => return,
            sent = tx.send(batch) => sent,
        };
        if sent.is_err() {
            return;
        }
    }
}

/// One reading of `source` as a batch, failed when it takes longer than `limit`.
async fn read_once<S: Source>(source: &mut S, limit: Duration) -> MetricBatch {
    let at = Instant::now();
    let result = match tokio::time::timeout(limit, source.read()).await {
        Ok(result) => result,
        Err(_) => Err(ReadError::new(format!(
            "no answer within {} ms",
            limit.as_millis()
        ))),
    };
    let (samples, error) = match result {
        Ok(samples) => (samples, None),
        Err(e) => (e.known, Some(e.message)),
    };
    MetricBatch {
        at,
        source: source.name(),
        samples,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_is_four_intervals_within_bounds() {
        assert_eq!(
            reading_timeout(Duration::from_millis(250)),
            Duration::from_secs(1)
        );
        assert_eq!(reading_timeout(Duration::from_millis(10)), MIN_TIMEOUT);
        assert_eq!(reading_timeout(Duration::from_secs(5)), MAX_TIMEOUT);
    }
}
