//! What a lab made, written to `<state dir>/lab.json` before each part is started,
//! so `chaosdeck lab down` can remove it all after a crash: the lab's folder, the
//! PostgreSQL server's pid and folder, child processes, containers and networks.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::LabError;

/// The lab's parts as far as they were made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabRecord {
    pub lab_id: String,
    /// The process that owns the lab (the console, or `lab up`).
    pub owner_pid: u32,
    /// The lab's own folder: config, plan, logs.
    pub dir: PathBuf,
    /// The throwaway cluster's folder (removed by `lab down`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_root: Option<PathBuf>,
    /// Child processes the lab started (demo service, load generator).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<u32>,
    /// Whether containers were (being) made; they carry the label `chaosdeck.lab=<id>`.
    #[serde(default)]
    pub containers: bool,
    /// The image the lab built (none when it was there already).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl LabRecord {
    /// Where the record of labs under `state_dir` lives.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("lab.json")
    }

    /// The record, when a lab was started and not taken down.
    pub fn read(state_dir: &Path) -> Result<Option<LabRecord>, LabError> {
        let path = LabRecord::path(state_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path, "read", e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| LabError::Io {
                what: format!(
                    "{}: not a lab record ({e}); remove it by hand",
                    path.display()
                ),
                source: std::io::Error::other(e.to_string()),
            })
    }

    /// Writes the record (to a temporary file, synced, then renamed over the old).
    pub fn write(&self, state_dir: &Path) -> Result<(), LabError> {
        let path = LabRecord::path(state_dir);
        std::fs::create_dir_all(state_dir).map_err(|e| io(state_dir, "create", e))?;
        let text = serde_json::to_string_pretty(self).map_err(|e| LabError::Io {
            what: "cannot write the lab record".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let tmp = path.with_extension("json.tmp");
        let file = std::fs::File::create(&tmp).map_err(|e| io(&tmp, "create", e))?;
        use std::io::Write;
        let mut writer = std::io::BufWriter::new(file);
        writer
            .write_all(text.as_bytes())
            .and_then(|_| writer.flush())
            .map_err(|e| io(&tmp, "write", e))?;
        writer
            .get_ref()
            .sync_all()
            .map_err(|e| io(&tmp, "sync", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, "replace", e))
    }

    /// Forgets the lab (after it was taken down).
    pub fn remove(state_dir: &Path) -> Result<(), LabError> {
        let path = LabRecord::path(state_dir);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path, "remove", e)),
        }
    }
}

fn io(path: &Path, what: &str, source: std::io::Error) -> LabError {
    LabError::Io {
        what: format!("{what} {}", path.display()),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_a_write_and_a_read() {
        let dir = std::env::temp_dir().join(format!("chaosdeck-lab-record-{}", std::process::id()));
        let record = LabRecord {
            lab_id: "ab12".into(),
            owner_pid: 42,
            dir: dir.join("lab-ab12"),
            cluster_root: Some("/tmp/chaosdeck-pg-x".into()),
            children: vec![7, 8],
            containers: true,
            image: Some("chaosdeck-lab-busybox:0123".into()),
        };
        record.write(&dir).unwrap();
        assert_eq!(LabRecord::read(&dir).unwrap(), Some(record));
        LabRecord::remove(&dir).unwrap();
        assert_eq!(LabRecord::read(&dir).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
