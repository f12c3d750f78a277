//! Past runs, folded from the journal's records: what each run was, how it ended and
//! whether anything of it is still on. Pure: records in, rows out.

use std::collections::BTreeMap;

use crate::driver::Verification;
use crate::engine::journal::{dangling_in, Dangling, Event, Record};

/// One past run, as the history screen lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub run: String,
    /// The fault as approved (or as the verdict names it).
    pub fault: String,
    /// RFC 3339 time of the run's first record.
    pub started_at: String,
    /// The targets in words, passwords masked; empty when never approved.
    pub target: String,
    pub approved_by: Option<String>,
    /// How many actions were started (intents).
    pub steps: usize,
    pub status: RunStatus,
    /// `pass`, `fail`, `aborted`, `teardown failed`; `None` when no verdict was written.
    pub outcome: Option<String>,
    pub time_to_impact_ms: Option<u64>,
    pub time_to_recover_ms: Option<u64>,
}

/// Whether anything of a run is still on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    /// No action was started.
    NotInjected,
    /// Every step was undone and verified.
    TornDown,
    /// An undo ran (or failed) and something is still wrong; the text says what.
    Residual(String),
    /// A step is still injected: no undo was attempted (dangling).
    On,
    /// Closed by `chaosdeck teardown --forget`: the operator said its target is
    /// gone; nothing was undone.
    Forgotten,
}

impl RunStatus {
    /// The status in a word or two, as the history table shows it.
    pub fn word(&self) -> &'static str {
        match self {
            RunStatus::NotInjected => "not injected",
            RunStatus::TornDown => "torn down",
            RunStatus::Residual(_) => "residual",
            RunStatus::On => "on",
            RunStatus::Forgotten => "forgotten",
        }
    }
}

/// Past runs from journal records (oldest first, as the journal keeps them), newest
/// run first.
pub fn history_rows(records: &[Record]) -> Vec<HistoryRow> {
    let dangling = dangling_in(records);
    let mut order: Vec<&str> = Vec::new();
    let mut by_run: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for record in records {
        let entry = by_run.entry(record.run.as_str()).or_default();
        if entry.is_empty() {
            order.push(record.run.as_str());
        }
        entry.push(record);
    }
    order
        .iter()
        .rev()
        .filter_map(|run| {
            let records = by_run.get(run)?;
            Some(fold_run(run, records, &dangling))
        })
        .collect()
}

fn fold_run(run: &str, records: &[&Record], dangling: &[Dangling]) -> HistoryRow {
    let mut row = HistoryRow {
        run: run.to_string(),
        fault: records.first().map(|r| r.fault.clone()).unwrap_or_default(),
        started_at: records.first().map(|r| r.at.clone()).unwrap_or_default(),
        target: String::new(),
        approved_by: None,
        steps: 0,
        status: RunStatus::NotInjected,
        outcome: None,
        time_to_impact_ms: None,
        time_to_recover_ms: None,
    };
    let mut steps: Vec<usize> = Vec::new();
    let mut named = false;
    let mut forgotten = false;
    for record in records {
        match &record.event {
            Event::Approved { target, how, .. } => {
                row.fault = record.fault.clone();
                named = true;
                row.target = crate::report::mask_text(target);
                row.approved_by = Some(how.clone());
            }
            Event::Verdict {
                outcome,
                time_to_impact_ms,
                time_to_recover_ms,
                ..
            } => {
                if !named {
                    row.fault = record.fault.clone();
                }
                row.outcome = Some(outcome.clone());
                row.time_to_impact_ms = *time_to_impact_ms;
                row.time_to_recover_ms = *time_to_recover_ms;
            }
            Event::Intent { .. } => {
                if !steps.contains(&record.step) {
                    steps.push(record.step);
                }
            }
            Event::Forgotten { .. } => forgotten = true,
            Event::Applied { .. }
            | Event::ApplyFailed { .. }
            | Event::Holder { .. }
            | Event::Undone { .. }
            | Event::UndoFailed { .. } => {}
        }
    }
    row.steps = steps.len();
    row.status = match status(run, row.steps, dangling) {
        RunStatus::TornDown if forgotten => RunStatus::Forgotten,
        other => other,
    };
    row
}

fn status(run: &str, steps: usize, dangling: &[Dangling]) -> RunStatus {
    let mut residual = Vec::new();
    for d in dangling.iter().filter(|d| d.intent.run == run) {
        match d.last.as_ref().map(|r| &r.event) {
            Some(Event::Undone {
                verification: Verification::Residual(why),
            }) => residual.push(crate::report::mask_text(why)),
            Some(Event::UndoFailed { error }) => {
                residual.push(format!("undo failed: {}", crate::report::mask_text(error)))
            }
            _ => return RunStatus::On,
        }
    }
    if !residual.is_empty() {
        RunStatus::Residual(residual.join("; "))
    } else if steps > 0 {
        RunStatus::TornDown
    } else {
        RunStatus::NotInjected
    }
}

#[cfg(test)]
mod tests;
