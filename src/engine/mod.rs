//! The run: a pure state machine, the runner that carries its effects out, timings,
//! guards, TTLs and the journal.

pub mod experiment;
pub mod gameday;
pub mod inject;
pub mod journal;
pub mod probe_track;
pub mod record;
pub mod recover;
pub mod run;
pub mod run_store;
pub mod runner;
pub mod series_stats;
pub mod step;
pub mod verdict;

pub use run::{Effect, Input, Phase, ProbeRole, Run, RunSetup, StopReason};
pub use step::{next_deadline, step};
