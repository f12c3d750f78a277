//! Markdown and JSON reports of a run or a game day, and the game-day scorecard.
//!
//! Everything here is a pure function of a finished record (`engine::record`), except
//! [`write_report`] and [`write_gameday_report`], which put the Markdown and the JSON
//! side by side on disk. Passwords are masked in both formats, wherever they hide in
//! the record's free text (see `mask`); user text is escaped for the Markdown table or
//! line it lands in.
//!
//! - [`run_markdown`], [`run_json`]: one run.
//! - [`gameday_markdown`], [`gameday_json`]: a game day, with its [`scorecard()`].

mod doc;
mod format;
pub mod gameday;
pub mod json;
pub mod markdown;
mod mask;
mod observed;
pub mod scorecard;

/// Free text with every password in it (`password=…`, URLs) replaced by `***`.
pub use mask::text as mask_text;

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::engine::record::{GamedayRecord, RunRecord};

pub use gameday::gameday_markdown;
pub use json::{gameday_json, run_json};
pub use markdown::run_markdown;
pub use scorecard::{scenario_passed, scorecard, scorecard_total, ScoreRow, ScoreTotal};

/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write report \"{}\": folder \"{}\" does not exist; create it or choose another path", path.display(), folder.display())]
    MissingFolder { path: PathBuf, folder: PathBuf },
    #[error("cannot write report \"{}\": {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Writes one run's report: Markdown and JSON side by side. `x.md` (or any other name)
/// gets the Markdown and `x.json` the JSON; a path ending in `.json` gets the JSON and
/// the Markdown goes beside it as `.md`. Returns `(markdown path, json path)`. The
/// folder must exist: a missing one is an error naming it, and nothing is written.
pub fn write_report(path: &Path, record: &RunRecord) -> Result<(PathBuf, PathBuf), ReportError> {
    write_pair(path, &run_markdown(record), &run_json(record))
}

/// Writes a game day's report, with the same naming rules as [`write_report`].
pub fn write_gameday_report(
    path: &Path,
    record: &GamedayRecord,
) -> Result<(PathBuf, PathBuf), ReportError> {
    write_pair(path, &gameday_markdown(record), &gameday_json(record))
}

fn write_pair(path: &Path, markdown: &str, json: &str) -> Result<(PathBuf, PathBuf), ReportError> {
    let (md_path, json_path) = paths(path);
    if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
        if !folder.is_dir() {
            return Err(ReportError::MissingFolder {
                path: path.to_path_buf(),
                folder: folder.to_path_buf(),
            });
        }
    }
    for (file, text) in [(&md_path, markdown), (&json_path, json)] {
        fs::write(file, text).map_err(|source| ReportError::Write {
            path: file.clone(),
            source,
        })?;
    }
    Ok((md_path, json_path))
}

/// `(markdown, json)` paths for the path the user gave.
fn paths(path: &Path) -> (PathBuf, PathBuf) {
    if path.extension() == Some(OsStr::new("json")) {
        (path.with_extension("md"), path.to_path_buf())
    } else {
        (path.to_path_buf(), path.with_extension("json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_json_sit_side_by_side() {
        let cases = [
            ("out/run.md", "out/run.md", "out/run.json"),
            ("out/run.json", "out/run.md", "out/run.json"),
            ("run", "run", "run.json"),
            ("run.txt", "run.txt", "run.json"),
        ];
        for (given, md, json) in cases {
            assert_eq!(
                paths(Path::new(given)),
                (PathBuf::from(md), PathBuf::from(json)),
                "{given}"
            );
        }
    }
}
