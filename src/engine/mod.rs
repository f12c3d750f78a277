//! The run: a pure state machine, the runner that carries its effects out, timings,
//! guards, TTLs and the journal.

pub mod inject;
pub mod journal;
pub mod record;
