//! A sequence brought near its maximum by lowering MAXVALUE.

use serde::{Deserialize, Serialize};

use super::{PgRun, PgTarget};
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// What it takes to undo this family's faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SequenceUndo {}

fn not_yet(target: &PgTarget, what: &str) -> DriverError {
    DriverError::Input(format!(
        "{}: {what} is not available in this build",
        target.conn.masked()
    ))
}

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    _run: &PgRun,
) -> Result<Plan<SequenceUndo>, DriverError> {
    Err(not_yet(target, action.kind()))
}

pub(super) async fn apply(
    action: &Action,
    target: &PgTarget,
    _run: &PgRun,
    _undo: &SequenceUndo,
) -> Result<Hold, DriverError> {
    Err(not_yet(target, action.kind()))
}

pub(super) async fn undo(undo: &SequenceUndo, _target: &PgTarget) -> Result<(), DriverError> {
    match *undo {}
}

pub(super) async fn verify(
    undo: &SequenceUndo,
    _target: &PgTarget,
) -> Result<Verification, DriverError> {
    match *undo {}
}
