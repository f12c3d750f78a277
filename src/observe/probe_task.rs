//! One tokio task per probe. Each checks at once, then every `interval` on the run's
//! tick grid (`ticks.rs`), and sends each sample on the channel. Probes share nothing, so a hung target only times out
//! its own probe. A task ends when the token is cancelled (even mid-check: the check
//! is dropped, which closes its socket, session or child process) or when the
//! receiver is gone.

use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::probe::{ProbeSample, ProbeSpec};
use super::probe_check::ProbeRunner;
use super::ticks::Ticks;

/// The shortest interval a probe runs at (tokio refuses a zero period).
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Starts one task per probe; samples carry the probe's index in `specs`. Checks
/// fall on the grid of ticks counted from `origin` (the run's start), shared with
/// the samplers.
pub fn spawn_probes(
    specs: &[ProbeSpec],
    origin: Instant,
    tx: Sender<ProbeSample>,
    cancel: CancellationToken,
) -> Vec<JoinHandle<()>> {
    specs
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let runner = ProbeRunner::new(index, spec.clone());
            let ticks = Ticks::new(origin, spec.interval, MIN_INTERVAL);
            tokio::spawn(run_probe(runner, ticks, tx.clone(), cancel.clone()))
        })
        .collect()
}

async fn run_probe(
    mut runner: ProbeRunner,
    mut ticks: Ticks,
    tx: Sender<ProbeSample>,
    cancel: CancellationToken,
) {
    loop {
        // The first tick completes at once: the first check runs immediately.
        if cancel.run_until_cancelled(ticks.tick()).await.is_none() {
            return;
        }
        let Some(sample) = cancel.run_until_cancelled(runner.check()).await else {
            return;
        };
        match cancel.run_until_cancelled(tx.send(sample)).await {
            Some(Ok(())) => {}
            // Cancelled, or nobody listens any more.
            None | Some(Err(_)) => return,
        }
    }
}
