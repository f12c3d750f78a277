//! Running the real binary, and a harmless fault to run with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `chaosdeck --state-dir STATE ARGS…`, waited for.
pub fn chaosdeck(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .expect("run chaosdeck")
}

/// A catalog folder in `dir` with one low-severity fault, `test-marker`, that creates
/// `dir/marker` while it is on (its undo removes it, its verify checks it is gone),
/// with the TTL given (`1m`).
pub fn marker_catalog(dir: &Path, ttl: &str) -> PathBuf {
    let folder = dir.join("catalog");
    std::fs::create_dir_all(&folder).expect("create the catalog folder");
    let marker = dir.join("marker");
    let text = format!(
        r#"
- id: test-marker
  name: Marker file
  category: host
  severity: low
  target: command
  description: Creates a file while the fault is on.
  actions:
    - command: {{ run: [touch, "{m}"], undo: [rm, -f, "{m}"], verify: [test, "!", -e, "{m}"], timeout: 5s }}
  expect: {{ impact: [], recover_within: 5s }}
  ttl: {ttl}
"#,
        m = marker.display()
    );
    std::fs::write(folder.join("test.yaml"), text).expect("write the catalog");
    folder
}
