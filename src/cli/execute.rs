//! Carrying out one experiment from the command line: the runner in a task of its
//! own, progress lines as the timeline grows, Ctrl-C and SIGTERM turned into a
//! teardown, and a panic answered by undoing the run's journaled steps.

use std::io::Write;

use tokio::sync::mpsc;

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

pub async fn execute(
    exp: Experiment,
    journal: Journal,
    approved_by: String,
    progress: Progress,
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
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signals = tokio::spawn(forward_signals(cmd_tx, interrupted.clone()));
    while let Some(event) = event_rx.recv().await {
        if let EngineEvent::Timeline(entry) = event {
            progress.line(&progress_line(&entry));
        }
    }
    signals.abort();
    let interrupted = interrupted.load(std::sync::atomic::Ordering::SeqCst);
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

/// Ctrl-C and SIGTERM become a stop; the task ends after the first one.
async fn forward_signals(
    cmds: mpsc::Sender<EngineCmd>,
    seen: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot listen for signals; Ctrl-C will not tear down");
        return std::future::pending().await;
    };
    let reason = tokio::select! {
        _ = int.recv() => StopReason::Interrupt,
        _ = term.recv() => StopReason::Terminate,
    };
    seen.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = cmds.send(EngineCmd::Stop(reason)).await;
    // Keep the sender alive: a dropped command channel also reads as a stop.
    std::future::pending::<()>().await;
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
