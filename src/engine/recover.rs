//! After the engine died in the middle of a run (a panic), undo what the journal says
//! that run left on. Session-bound faults already ended when their holds were dropped
//! while unwinding; persistent ones (settings, roles, slots …) are undone here from
//! their journaled undo data, and every undo is verified.

use super::inject::{teardown_dangling, StepOutcome};
use super::journal::Journal;
use crate::driver::targets::Targets;

/// Undoes every step of `run_id` that the journal says is still on.
pub async fn undo_run(
    journal: &Journal,
    run_id: &str,
    targets: &Targets,
) -> Result<Vec<StepOutcome>, String> {
    let dangling: Vec<_> = journal
        .dangling()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|d| d.intent.run == run_id)
        .collect();
    Ok(teardown_dangling(journal, &dangling, targets).await)
}
