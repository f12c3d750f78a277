//! Carrying out one experiment from the command line: the runner in a task of its
//! own, progress lines as the timeline grows, Ctrl-C and SIGTERM turned into a
//! teardown, and a panic answered by undoing the run's journaled steps.

use std::io::Write;

use tokio::sync::{mpsc, watch};

use crate::driver::targets::Targets;
use crate::engine::journal::Journal;
use crate::engine::record::{RunRecord, TimelineEntry};
use crate::engine::runner::{run_experiment, EngineCmd, EngineEvent, Experiment, GateMode};
use crate::engine::StopReason;

/// Where progress lines go: stdout, or stderr when stdout carries JSON.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    Stdout,
    Stderr,
}

impl Progress {
    pub fn line(self, text: &str) {
        let result = match self {
            Progress::Stdout => writeln!(std::io::stdout(), "{text}"),
            Progress::Stderr => writeln!(std::io::stderr(), "{text}"),
        };
        if let Err(e) = result {
            tracing::debug!("progress line lost: {e}");
        }
    }
}

/// How one experiment ended, as the command line sees it.
pub enum Executed {
    Finished {
        record: Box<RunRecord>,
        /// Ctrl-C or SIGTERM arrived: a game day stops after this run.
        interrupted: bool,
    },
    /// The engine panicked; its steps were undone from the journal.
    Panicked { message: String, all_verified: bool },
}

/// Whether Ctrl-C, SIGTERM or SIGHUP has arrived, and which came first.
pub type StopSignal = watch::Receiver<Option<StopReason>>;

/// Listens for Ctrl-C, SIGTERM and SIGHUP for the whole command. Once tokio handles a
/// signal, the default action (ending the process) is gone for good, so one listener
/// serves every experiment of a game day and the pauses between them.
pub fn listen_for_stops() -> StopSignal {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term), Ok(mut hangup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot listen for signals; Ctrl-C will not tear down");
            // Keep the sender: a closed channel would read as "never stopped" anyway.
            return std::future::pending::<()>().await;
        };
        loop {
            let reason = tokio::select! {
                _ = int.recv() => StopReason::Interrupt,
                _ = term.recv() => StopReason::Terminate,
                // The terminal or SSH session went away: tear down as for SIGTERM.
                _ = hangup.recv() => StopReason::Terminate,
            };
            tx.send_if_modified(|seen| {
                let first = seen.is_none();
                seen.get_or_insert(reason);
                first
            });
        }
    });
    rx
}

pub async fn execute(
    exp: Experiment,
    journal: Journal,
    approved_by: String,
    progress: Progress,
    stop: StopSignal,
) -> Executed {
    let run_id = exp.run_id.clone();
    let targets: Targets = exp.targets.clone();
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let (event_tx, mut event_rx) = mpsc::channel(256);
    let engine = tokio::spawn(run_experiment(
        exp,
        journal.clone(),
        GateMode::Approved(approved_by),
        cmd_rx,
        event_tx,
    ));
    let forward = tokio::spawn(forward_stop(stop.clone(), cmd_tx));
    while let Some(event) = event_rx.recv().await {
        if let EngineEvent::Timeline(entry) = event {
            progress.line(&progress_line(&entry));
        }
    }
    forward.abort();
    let interrupted = stop.borrow().is_some();
    match engine.await {
        Ok(record) => Executed::Finished {
            record: Box::new(record),
            interrupted,
        },
        Err(e) => {
            let message = format!("the engine stopped unexpectedly: {e}");
            progress.line(&format!(
                "  {message}; undoing run {run_id} from the journal"
            ));
            let outcomes = match crate::engine::recover::undo_run(&journal, &run_id, &targets).await
            {
                Ok(outcomes) => outcomes,
                Err(e) => {
                    progress.line(&format!("  cannot read the journal: {e}"));
                    return Executed::Panicked {
                        message,
                        all_verified: false,
                    };
                }
            };
            for outcome in &outcomes {
                progress.line(&format!(
                    "  {} {}: {}",
                    outcome.fault,
                    outcome.kind,
                    outcome.describe()
                ));
            }
            Executed::Panicked {
                message,
                all_verified: outcomes.iter().all(|o| o.verified()),
            }
        }
    }
}

/// Turns the first Ctrl-C or SIGTERM into a stop of the running experiment.
async fn forward_stop(mut stop: StopSignal, cmds: mpsc::Sender<EngineCmd>) {
    let reason = stop
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|r| r.clone());
    if let Some(reason) = reason {
        let _ = cmds.send(EngineCmd::Stop(reason)).await;
    }
    // Keep the sender alive: a dropped command channel also reads as a stop.
    std::future::pending::<()>().await
}

/// `  +1.250s  impact     app-health failed 240 ms after injection`
pub fn progress_line(entry: &TimelineEntry) -> String {
    let kind = serde_json::to_value(entry.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!(
        "  +{:>7.3}s  {kind:<10} {}",
        entry.offset_ms as f64 / 1000.0,
        crate::driver::postgres::conn::mask_password(&entry.text)
    )
}
