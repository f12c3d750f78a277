//! What enters `update` (`Msg`) and what `update` asks the loop to do (`Command`).

use crossterm::event::{KeyEvent, MouseEvent};

use crate::engine::journal::Dangling;
use crate::engine::runner::{EngineCmd, EngineEvent};
use crate::engine::StopReason;

use super::history::HistoryRow;
use super::screens::result::ReportPaths;
use super::screens::targets::{Reach, TargetPart};

/// Anything that changes the console's state.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// Time passed (a countdown or the live clock needs a redraw).
    Tick,
    /// SIGINT or SIGTERM from outside: halt everything and quit.
    Signal(StopReason),
    /// A run was set up and its engine started.
    RunStarted(Box<RunStart>),
    /// A run could not be set up (bad parameter, missing target).
    RunRefused(String),
    Engine(EngineEvent),
    /// The engine's task ended without a record (a panic); the words say what the
    /// undo from the journal came to.
    RunCrashed(String),
    /// Reachability of one target bundle's parts.
    Reach {
        bundle: String,
        parts: Vec<(TargetPart, Reach)>,
    },
    /// Whether kubectl reaches a Kubernetes cluster (Kubernetes faults need one).
    Cluster(Reach),
    /// The journal as read now: past runs and what is still on.
    Journal {
        rows: Vec<HistoryRow>,
        dangling: Vec<Dangling>,
    },
    /// Tearing down dangling faults is done; the words say how it went.
    DanglingTornDown {
        lines: Vec<String>,
        ok: bool,
    },
    ReportWritten(Result<ReportPaths, String>),
    /// Something the operator should know went wrong; the console keeps running.
    Failed(String),
}

/// What is known of a run as it starts.
#[derive(Debug)]
pub struct RunStart {
    pub run_id: String,
    pub probes: Vec<crate::engine::ProbeRole>,
    pub ttl: std::time::Duration,
    /// The target in words, password masked.
    pub target: String,
    /// The short name the critical gate asks for.
    pub target_name: String,
}

/// Work for the loop's I/O side; `update` never does I/O itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Set up and start a run of `fault_id` with these `NAME=VALUE` parameters on the
    /// current target bundle; the engine asks for the gate after preflight.
    StartRun {
        fault_id: String,
        params: Vec<String>,
    },
    Engine(EngineCmd),
    /// Check the reachability of every target bundle, and whether kubectl reaches a
    /// cluster.
    CheckTargets,
    ReadJournal,
    /// Look at the journal every `every` and send it again whenever it changed
    /// (another terminal's `chaosdeck teardown --dangling` or `inject`), so the
    /// banner of faults left on never goes stale. Started once; later ones are no-ops.
    WatchJournal {
        every: std::time::Duration,
    },
    TearDownDangling,
    WriteReport,
}
