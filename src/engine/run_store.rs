//! Finished runs kept for `chaosdeck report`: one JSON file per run,
//! `<state_dir>/runs/<run-id>.json`, beside the journal.
//!
//! The folder is private (0700) and so is each file (0600). A file is written to a
//! temporary name, synced, then renamed into place, so a reader never sees half a
//! record and a crash leaves either the old file or the new one. What is written is
//! the record as the caller renders it: the callers pass the report's JSON
//! (`report::run_json`), which masks every password in the record's free text (an
//! operator may type a connection string into a note), so the store holds exactly
//! what `run --report` writes and no secret.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde::Serialize;

use super::journal::Journal;
use super::record::{GamedayRecord, Outcome, RunRecord};

/// The folder of saved runs inside the state folder.
pub const RUNS_DIR: &str = "runs";

/// Turns a record into the JSON text that is saved (passwords masked).
pub type Render = fn(&RunRecord) -> String;

/// A run record that could not be saved, found or read.
#[derive(Debug, thiserror::Error)]
pub enum RunStoreError {
    #[error("cannot save run \"{run_id}\" in \"{}\": {message}", dir.display())]
    Save {
        run_id: String,
        dir: PathBuf,
        message: String,
    },
    #[error("no saved run \"{wanted}\" in \"{}\": {hint}", dir.display())]
    Unknown {
        wanted: String,
        dir: PathBuf,
        hint: String,
    },
    #[error(
        "run id \"{wanted}\" is the start of {} saved runs ({}); type more of the id",
        matches.len(),
        matches.join(", ")
    )]
    Ambiguous {
        wanted: String,
        matches: Vec<String>,
    },
    #[error("cannot read \"{}\": {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error(
        "\"{}\" is not a run record: {message}; expected the JSON that `chaosdeck run --json` \
         prints or `chaosdeck run --report` writes",
        path.display()
    )]
    Invalid { path: PathBuf, message: String },
}

/// One saved run, as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedRun {
    pub id: String,
    pub fault: String,
    pub fault_name: String,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    pub outcome: Outcome,
    pub path: PathBuf,
}

/// The saved runs, newest first, and the files that could not be read.
#[derive(Debug, Default)]
pub struct Listing {
    pub runs: Vec<SavedRun>,
    pub unreadable: Vec<RunStoreError>,
}

/// The saved runs of one state folder.
#[derive(Debug, Clone)]
pub struct RunStore {
    dir: PathBuf,
}

impl RunStore {
    /// The store of `state_dir` (`<state_dir>/runs`); nothing is created until a save.
    pub fn in_state_dir(state_dir: &Path) -> RunStore {
        RunStore {
            dir: state_dir.join(RUNS_DIR),
        }
    }

    /// The store of the state folder `journal` lives in.
    pub fn beside(journal: &Journal) -> RunStore {
        let state_dir = journal.path().parent().unwrap_or(Path::new("."));
        RunStore::in_state_dir(state_dir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Saves `record` as `render` writes it; returns the file's path.
    pub fn save(&self, record: &RunRecord, render: Render) -> Result<PathBuf, RunStoreError> {
        self.save_text(&record.run_id, &render(record))
    }

    /// Awaits a run, then saves its record off the async threads; a failed save is
    /// logged as a warning and the record is returned all the same.
    pub async fn save_when_done(
        self,
        render: Render,
        run: impl Future<Output = RunRecord>,
    ) -> RunRecord {
        let record = run.await;
        let (id, text) = (record.run_id.clone(), render(&record));
        match tokio::task::spawn_blocking(move || self.save_text(&id, &text)).await {
            Ok(Ok(path)) => tracing::info!("run {} saved to {}", record.run_id, path.display()),
            Ok(Err(e)) => tracing::warn!("{e}"),
            Err(e) => tracing::warn!("saving run {} stopped: {e}", record.run_id),
        }
        record
    }

    fn save_text(&self, run_id: &str, text: &str) -> Result<PathBuf, RunStoreError> {
        let fail = |message: String| RunStoreError::Save {
            run_id: run_id.to_string(),
            dir: self.dir.clone(),
            message,
        };
        if !is_file_safe(run_id) {
            return Err(fail(
                "the id cannot name a file (letters, digits, '-' and '_' only)".into(),
            ));
        }
        self.create_dir().map_err(|e| fail(e.to_string()))?;
        write_atomically(&self.dir, &format!("{run_id}.json"), text)
            .map_err(|e| fail(e.to_string()))
    }

    /// The folder, private: created 0700, and narrowed to 0700 if it was wider.
    fn create_dir(&self) -> std::io::Result<()> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let mode = fs::metadata(&self.dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }

    /// Every saved run, newest first (by start time, then id).
    pub fn list(&self) -> Result<Listing, RunStoreError> {
        let mut listing = Listing::default();
        for (id, path) in self.files()? {
            match read_file(&path) {
                Ok(record) => listing.runs.push(SavedRun {
                    id,
                    fault: record.fault.id,
                    fault_name: record.fault.name,
                    started_at: record.started_at,
                    outcome: record.verdict.outcome,
                    path,
                }),
                Err(e) => listing.unreadable.push(e),
            }
        }
        listing
            .runs
            .sort_by(|a, b| (&b.started_at, &b.id).cmp(&(&a.started_at, &a.id)));
        Ok(listing)
    }

    /// The run whose id is `wanted`, or the only one whose id starts with it.
    pub fn find(&self, wanted: &str) -> Result<(PathBuf, RunRecord), RunStoreError> {
        let files = self.files()?;
        let path = match files.iter().find(|(id, _)| id == wanted) {
            Some((_, path)) => path.clone(),
            None => {
                let mut matches: Vec<&(String, PathBuf)> = files
                    .iter()
                    .filter(|(id, _)| !wanted.is_empty() && id.starts_with(wanted))
                    .collect();
                match matches.len() {
                    1 => matches.remove(0).1.clone(),
                    0 => return Err(self.unknown(wanted, files.len())),
                    _ => {
                        let mut ids: Vec<String> =
                            matches.iter().map(|(id, _)| id.clone()).collect();
                        ids.sort();
                        return Err(RunStoreError::Ambiguous {
                            wanted: wanted.to_string(),
                            matches: ids,
                        });
                    }
                }
            }
        };
        let record = read_file(&path)?;
        Ok((path, record))
    }

    fn unknown(&self, wanted: &str, saved: usize) -> RunStoreError {
        let hint = match saved {
            0 => "no run has been saved there yet (`chaosdeck run`, `gameday` and the console \
                  save each finished run); give the path of a JSON record file instead"
                .to_string(),
            n => format!(
                "`chaosdeck report` lists the {n} saved run{}; or give the path of a JSON \
                 record file",
                if n == 1 { "" } else { "s" }
            ),
        };
        RunStoreError::Unknown {
            wanted: wanted.to_string(),
            dir: self.dir.clone(),
            hint,
        }
    }

    /// `(run id, path)` of every `*.json` file in the folder (none when it is missing).
    fn files(&self) -> Result<Vec<(String, PathBuf)>, RunStoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(RunStoreError::Read {
                    path: self.dir.clone(),
                    message: e.to_string(),
                })
            }
        };
        let mut files = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            match name.strip_suffix(".json") {
                Some(id) if !id.starts_with('.') && path.is_file() => {
                    files.push((id.to_string(), path))
                }
                _ => {}
            }
        }
        Ok(files)
    }
}

/// Reads one run record: a saved run, or a file `run --json` or `run --report` wrote.
pub fn read_file(path: &Path) -> Result<RunRecord, RunStoreError> {
    let text = fs::read_to_string(path).map_err(|e| RunStoreError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let invalid = |message: String| RunStoreError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut json = serde_json::Deserializer::from_str(&text);
    match serde_path_to_error::deserialize::<_, RunRecord>(&mut json) {
        Ok(record) => Ok(record),
        Err(e) => {
            if let Ok(gameday) = serde_json::from_str::<GamedayRecord>(&text) {
                let n = gameday.runs.len();
                return Err(invalid(format!(
                    "it holds the game day \"{}\" ({n} run{}), whose runs are saved one by one",
                    gameday.plan,
                    if n == 1 { "" } else { "s" }
                )));
            }
            let at = e.path().to_string();
            let inner = e.into_inner();
            Err(invalid(match at.as_str() {
                "." | "" => inner.to_string(),
                _ => format!("{at}: {inner}"),
            }))
        }
    }
}

/// Whether `id` is safe as a file name: letters, digits, `-` and `_`, 1 to 64 of them.
fn is_file_safe(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Writes `text` to `dir/name` through a synced temporary file and a rename, then
/// syncs the folder so the new name is on disk too.
fn write_atomically(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map(|()| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, started_at: &str) -> RunRecord {
        let text = crate::report::run_json(&sample());
        let mut r: RunRecord = serde_json::from_str(&text).unwrap();
        r.run_id = id.to_string();
        r.started_at = started_at.to_string();
        r
    }

    fn sample() -> RunRecord {
        use super::super::record::*;
        RunRecord {
            run_id: "00000000".into(),
            fault: FaultSummary {
                id: "test-marker".into(),
                name: "Marker file".into(),
                category: crate::catalog::Category::Host,
                severity: crate::catalog::Severity::Low,
                expect_impact: vec![],
                recover_within_ms: 5000,
                self_healing: false,
            },
            target: "postgres host=db password=***".into(),
            params: Default::default(),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            approvals: vec![],
            timeline: vec![TimelineEntry {
                offset_ms: 5,
                kind: TimelineKind::Note,
                text: "typed host=db password=hunter2 by mistake".into(),
            }],
            series: vec![],
            probes: vec![],
            timings: Timings::default(),
            teardown: vec![],
            verdict: Verdict {
                outcome: Outcome::Pass,
                ended_by: "duration".into(),
                impact_seen: None,
                recovered_in_time: true,
                reasons: vec![],
            },
            notes: vec![Note {
                offset_ms: 9,
                text: "postgres://app:hunter2@db/shop".into(),
            }],
        }
    }

    #[test]
    fn a_saved_run_is_private_masked_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::in_state_dir(dir.path());
        let path = store.save(&sample(), crate::report::run_json).unwrap();
        assert_eq!(path, dir.path().join("runs/00000000.json"));
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(text, crate::report::run_json(&sample()));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(store.dir()), 0o700);
        let (found, loaded) = store.find("0000").unwrap();
        assert_eq!(found, path);
        assert_eq!(loaded.fault.id, "test-marker");
        let left: Vec<_> = fs::read_dir(store.dir()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn the_list_is_newest_first_and_prefixes_must_be_unique() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::in_state_dir(dir.path());
        let json = |r: &RunRecord| serde_json::to_string(r).unwrap();
        store
            .save(&record("aa11", "2026-01-01T00:00:00.000Z"), json)
            .unwrap();
        store
            .save(&record("aa22", "2026-03-01T00:00:00.000Z"), json)
            .unwrap();
        store
            .save(&record("bb33", "2026-02-01T00:00:00.000Z"), json)
            .unwrap();
        fs::write(store.dir().join("broken.json"), "{").unwrap();
        let listing = store.list().unwrap();
        let ids: Vec<&str> = listing.runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["aa22", "bb33", "aa11"]);
        assert_eq!(listing.unreadable.len(), 1);
        assert!(listing.unreadable[0].to_string().contains("broken.json"));
        assert_eq!(store.find("bb").unwrap().1.run_id, "bb33");
        let ambiguous = store.find("aa").unwrap_err().to_string();
        assert!(ambiguous.contains("aa11, aa22"), "{ambiguous}");
        let unknown = store.find("cc").unwrap_err().to_string();
        assert!(unknown.contains("no saved run \"cc\""), "{unknown}");
        assert!(unknown.contains("lists the 4 saved runs"), "{unknown}");
    }

    #[test]
    fn an_id_that_cannot_name_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::in_state_dir(dir.path());
        let mut r = sample();
        r.run_id = "../escape".into();
        let e = store.save(&r, crate::report::run_json).unwrap_err();
        assert!(e.to_string().contains("cannot name a file"), "{e}");
        assert!(!dir.path().join("escape.json").exists());
    }

    #[test]
    fn a_game_day_file_is_named_for_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gameday.json");
        let gameday = GamedayRecord {
            plan: "Shop".into(),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            runs: vec![sample()],
            stopped: None,
        };
        fs::write(&path, serde_json::to_string(&gameday).unwrap()).unwrap();
        let e = read_file(&path).unwrap_err().to_string();
        assert!(e.contains("game day \"Shop\" (1 run)"), "{e}");
        fs::write(&path, "{\"run_id\": 3}").unwrap();
        let e = read_file(&path).unwrap_err().to_string();
        assert!(e.contains("run_id: invalid type"), "{e}");
    }
}
