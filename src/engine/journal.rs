//! The journal: an append-only, fsync'd record of every side effect, so no fault is
//! ever forgotten. JSON lines under `$XDG_STATE_HOME/chaosdeck/journal.jsonl`.
//!
//! Before a side effect, an `intent` record carries the data needed to undo it; after
//! the undo, an `undone` record closes it. An intent with no verified `undone` after
//! it is dangling: `chaosdeck teardown --dangling` undoes it. When its target no
//! longer exists, `chaosdeck teardown --forget` closes it with a `forgotten` record
//! instead: the operator's word that it is gone, with nothing undone.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::driver::Verification;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339 time, milliseconds.
    pub at: String,
    pub run: String,
    pub fault: String,
    /// Index of the action within the fault (0 for run-wide records).
    #[serde(default)]
    pub step: usize,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An operator (or `--yes`) approved injecting the fault into the target.
    Approved {
        severity: String,
        target: String,
        how: String,
    },
    /// About to perform an action; `undo` is what it takes to put things back.
    Intent {
        action: String,
        lifetime: String,
        target: serde_json::Value,
        undo: serde_json::Value,
        blast_radius: String,
    },
    /// The action's side effect is in place; `undo` replaces the intent's undo
    /// data when applying learned more (a child's pid).
    Applied {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undo: Option<serde_json::Value>,
    },
    /// The side effect failed; what it may have done is undone next.
    ApplyFailed { error: String },
    /// This process keeps the run's session-bound effects alive.
    Holder { pid: u32, start_time: u64 },
    /// The undo ran; `verification` says whether reality agrees.
    Undone { verification: Verification },
    /// The undo itself failed.
    UndoFailed { error: String },
    /// The operator declared the step gone (`chaosdeck teardown --forget`), for a
    /// target that no longer exists: closed without undoing or verifying anything.
    Forgotten { reason: String },
    /// The run is over: its verdict, for the history of past runs.
    Verdict {
        outcome: String,
        ended_by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time_to_impact_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time_to_recover_ms: Option<u64>,
    },
}

/// An action that was started and not verified undone.
#[derive(Debug, Clone, PartialEq)]
pub struct Dangling {
    pub intent: Record,
    /// The last thing known about it (`applied`, `residual: …`, …).
    pub last: Option<Record>,
    /// The holder process of its run, if one was recorded.
    pub holder: Option<(u32, u64)>,
}

/// The journal file of one state directory.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("journal \"{path}\": {message}")]
pub struct JournalError {
    pub path: PathBuf,
    pub message: String,
}

impl Journal {
    /// The journal in `state_dir`, created (mode 0700 folder, 0600 file) if needed.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        let path = state_dir.join("journal.jsonl");
        let err = |message: String| JournalError {
            path: path.clone(),
            message,
        };
        create_state_dir(state_dir)
            .map_err(|e| err(format!("cannot create the state folder: {e}")))?;
        Ok(Journal { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and waits until it is on disk.
    pub fn append(
        &self,
        run: &str,
        fault: &str,
        step: usize,
        event: Event,
    ) -> Result<Record, JournalError> {
        let record = Record {
            at: now_rfc3339(),
            run: run.to_string(),
            fault: fault.to_string(),
            step,
            event,
        };
        let mut line = serde_json::to_string(&record).map_err(|e| self.error(e))?;
        line.push('\n');
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| self.error(e))?;
        let locked = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| self.error(e))?;
        let mut file: &File = &locked;
        file.write_all(line.as_bytes()).map_err(|e| self.error(e))?;
        file.sync_data().map_err(|e| self.error(e))?;
        Ok(record)
    }

    /// Every record, oldest first. A torn last line (a crash mid-write) is skipped.
    pub fn records(&self) -> Result<Vec<Record>, JournalError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e)),
        };
        let mut records = Vec::new();
        for (number, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| self.error(e))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Record>(&line) {
                Ok(record) => records.push(record),
                Err(e) => tracing::warn!(
                    "{}:{}: unreadable journal line: {e}",
                    self.path.display(),
                    number + 1
                ),
            }
        }
        Ok(records)
    }

    /// Actions injected and not verified undone, oldest first.
    pub fn dangling(&self) -> Result<Vec<Dangling>, JournalError> {
        Ok(dangling_in(&self.records()?))
    }

    fn error(&self, e: impl std::fmt::Display) -> JournalError {
        JournalError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }
}

/// Folds records into the actions still open.
pub fn dangling_in(records: &[Record]) -> Vec<Dangling> {
    let mut open: BTreeMap<(String, usize), Dangling> = BTreeMap::new();
    let mut order: Vec<(String, usize)> = Vec::new();
    let mut holders: BTreeMap<String, (u32, u64)> = BTreeMap::new();
    for record in records {
        let key = (record.run.clone(), record.step);
        match &record.event {
            Event::Intent { .. } => {
                order.push(key.clone());
                open.insert(
                    key,
                    Dangling {
                        intent: record.clone(),
                        last: None,
                        holder: None,
                    },
                );
            }
            Event::Undone {
                verification: Verification::Verified,
            }
            | Event::Forgotten { .. } => {
                open.remove(&key);
            }
            Event::Holder { pid, start_time } => {
                holders.insert(record.run.clone(), (*pid, *start_time));
            }
            Event::Approved { .. } | Event::Verdict { .. } => {}
            _ => {
                if let Some(d) = open.get_mut(&key) {
                    d.last = Some(record.clone());
                }
            }
        }
    }
    order.dedup();
    order
        .into_iter()
        .filter_map(|key| open.remove(&key))
        .map(|mut d| {
            d.holder = holders.get(&d.intent.run).copied();
            d
        })
        .collect()
}

/// `$XDG_STATE_HOME/chaosdeck`, or `~/.local/state/chaosdeck`.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("chaosdeck");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".local/state/chaosdeck")
}

/// Creates the state folder, and any folder above it that is missing, private (mode
/// 0700): it holds the journal, saved runs and logs, and `doctor` warns when it is open
/// to others. A folder that is already there is left as it is.
pub fn create_state_dir(state_dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
}

/// A short id for a run, unique enough to tag sessions: 8 hex digits.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32) ^ (nanos >> 64) as u64;
    format!(
        "{:08x}",
        (mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32
    )
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent() -> Event {
        Event::Intent {
            action: "docker.pause".into(),
            lifetime: "persistent".into(),
            target: serde_json::json!({"container": "shop"}),
            undo: serde_json::json!({"unpause": "shop"}),
            blast_radius: "pause container shop".into(),
        }
    }

    #[test]
    fn an_intent_without_a_verified_undo_is_dangling() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        journal
            .append("r1", "container-pause", 0, intent())
            .unwrap();
        journal
            .append("r1", "container-pause", 0, Event::Applied { undo: None })
            .unwrap();
        journal
            .append("r2", "container-pause", 0, intent())
            .unwrap();
        journal
            .append(
                "r2",
                "container-pause",
                0,
                Event::Undone {
                    verification: Verification::Verified,
                },
            )
            .unwrap();
        journal
            .append("r3", "container-pause", 0, intent())
            .unwrap();
        journal
            .append(
                "r3",
                "container-pause",
                0,
                Event::Undone {
                    verification: Verification::Residual("still paused".into()),
                },
            )
            .unwrap();
        let dangling = journal.dangling().unwrap();
        let runs: Vec<&str> = dangling.iter().map(|d| d.intent.run.as_str()).collect();
        assert_eq!(runs, vec!["r1", "r3"]);
        assert_eq!(
            dangling[0].last.as_ref().unwrap().event,
            Event::Applied { undo: None }
        );
    }

    #[test]
    fn a_forgotten_step_is_no_longer_dangling() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        journal.append("r1", "k8s-x", 0, intent()).unwrap();
        journal
            .append(
                "r1",
                "k8s-x",
                0,
                Event::UndoFailed {
                    error: "no cluster".into(),
                },
            )
            .unwrap();
        journal.append("r2", "k8s-x", 0, intent()).unwrap();
        let forgotten = Event::Forgotten {
            reason: "declared gone".into(),
        };
        journal.append("r1", "k8s-x", 0, forgotten.clone()).unwrap();
        let runs: Vec<String> = journal
            .dangling()
            .unwrap()
            .into_iter()
            .map(|d| d.intent.run)
            .collect();
        assert_eq!(runs, vec!["r2"]);
        // The record reads back as written.
        let last = journal.records().unwrap().pop().unwrap();
        assert_eq!(last.event, forgotten);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        journal.append("r1", "f", 0, intent()).unwrap();
        let mut file = OpenOptions::new()
            .append(true)
            .open(journal.path())
            .unwrap();
        file.write_all(b"{\"at\":\"2026-").unwrap();
        assert_eq!(journal.records().unwrap().len(), 1);
        let mode = std::fs::metadata(journal.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn run_ids_are_short_and_differ() {
        let a = new_run_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_run_id();
        assert_eq!(a.len(), 8);
        assert_ne!(a, b);
    }
}
