//! One module per backend. Each turns an action into a side effect in four steps:
//!
//! 1. `plan`: read-only. Checks preconditions, captures the exact state needed to undo
//!    (an `*Undo` value), and describes the blast radius with real numbers.
//! 2. the caller appends the plan's undo data to the journal and fsyncs it;
//! 3. `apply`: performs the side effect. Session-bound effects come back as a
//!    [`Hold`] that keeps them alive; dropping the hold ends them;
//! 4. `undo` (idempotent: undoing what is already gone is not an error), then
//!    `verify`, which re-checks reality and says [`Verification::Verified`] or
//!    [`Verification::Residual`] with what is still wrong.

pub mod command;
pub mod dispatch;
pub mod docker;
pub mod error;
pub mod hold;
pub mod host;
pub mod postgres;
pub mod process;
pub mod proxy;
pub mod targets;

pub use error::DriverError;
pub use hold::Hold;

use serde::{Deserialize, Serialize};

/// The result of checking reality after an undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", content = "detail", rename_all = "lowercase")]
pub enum Verification {
    /// The system is as it was before the fault.
    Verified,
    /// Something is still wrong; the text says what.
    Residual(String),
}

impl Verification {
    pub fn is_verified(&self) -> bool {
        matches!(self, Verification::Verified)
    }

    /// `Verified` when every check passed, else the residuals joined.
    pub fn all(checks: impl IntoIterator<Item = Verification>) -> Verification {
        let residual: Vec<String> = checks
            .into_iter()
            .filter_map(|v| match v {
                Verification::Verified => None,
                Verification::Residual(why) => Some(why),
            })
            .collect();
        if residual.is_empty() {
            Verification::Verified
        } else {
            Verification::Residual(residual.join("; "))
        }
    }
}

/// What `plan` found: the undo data to journal and the blast radius in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<U> {
    pub undo: U,
    /// "hold 97 of 100 connections", "pause container shop-db".
    pub blast_radius: String,
}

impl<U> Plan<U> {
    /// The same plan with its undo data wrapped (e.g. into a driver-wide enum).
    pub fn map<V>(self, f: impl FnOnce(U) -> V) -> Plan<V> {
        Plan {
            undo: f(self.undo),
            blast_radius: self.blast_radius,
        }
    }
}
