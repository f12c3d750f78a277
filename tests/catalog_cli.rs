//! The catalog as an operator meets it: `chaosdeck list`, `show` and `validate`,
//! run as the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chaosdeck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run chaosdeck")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The 17 failure modes operators already use, exactly as they know them.
const CLASSIC: [(&str, &str, &str, &str); 17] = [
    (
        "db-max-connections",
        "database",
        "high",
        "Max connections exhausted",
    ),
    (
        "db-long-running-query",
        "database",
        "high",
        "Long-running query blocking",
    ),
    (
        "db-lock-contention",
        "database",
        "high",
        "Lock contention / deadlock",
    ),
    (
        "db-table-bloat",
        "database",
        "medium",
        "Table bloat / dead tuples",
    ),
    (
        "db-high-cache-miss",
        "database",
        "medium",
        "High cache miss ratio",
    ),
    (
        "db-connection-refused",
        "database",
        "critical",
        "Database connection refused",
    ),
    (
        "db-auth-failure",
        "database",
        "critical",
        "Authentication failure",
    ),
    (
        "db-not-exist",
        "database",
        "critical",
        "Database does not exist",
    ),
    ("db-replication-lag", "database", "high", "Replication lag"),
    (
        "k8s-crashloop",
        "kubernetes",
        "critical",
        "CrashLoopBackOff",
    ),
    (
        "k8s-pending",
        "kubernetes",
        "critical",
        "Pending pod (unschedulable)",
    ),
    (
        "k8s-image-pull",
        "kubernetes",
        "critical",
        "ImagePullBackOff",
    ),
    (
        "k8s-no-endpoints",
        "kubernetes",
        "high",
        "Service with no endpoints",
    ),
    (
        "k8s-pvc-pending",
        "kubernetes",
        "critical",
        "PVC pending (bad StorageClass)",
    ),
    ("k8s-oomkilled", "kubernetes", "critical", "OOMKilled"),
    (
        "compound-db-pod-crash",
        "compound",
        "critical",
        "DB unreachable + pod crashing",
    ),
    (
        "compound-db-no-endpoints",
        "compound",
        "critical",
        "DB timeout + no endpoints",
    ),
];

#[test]
fn list_prints_the_table_operators_know() {
    let out = chaosdeck(&["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ID                             CATEGORY     SEVERITY   NAME"
    );
    assert_eq!(lines[1], "-".repeat(80));
    for (id, category, severity, name) in CLASSIC {
        let row = format!("{id:<30} {category:<12} {severity:<10} {name}");
        assert!(
            lines.contains(&row.as_str()),
            "missing row:\n{row}\nin:\n{text}"
        );
    }
    let rows = lines.len() - 3;
    assert_eq!(
        lines.last().copied(),
        Some(format!("Total: {rows} failure modes").as_str())
    );
    assert!(rows >= 50, "expected about 50 faults, got {rows}");
}

#[test]
fn list_filters_and_prints_json() {
    let out = chaosdeck(&["list", "--category", "kubernetes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r["category"] == "kubernetes"));

    let out = chaosdeck(&["list", "--severity", "critical"]);
    let text = stdout(&out);
    for line in text.lines().skip(2).filter(|l| !l.starts_with("Total")) {
        assert_eq!(line.split_whitespace().nth(2), Some("critical"), "{line}");
    }

    let out = chaosdeck(&["list", "--severity", "extreme"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown severity \"extreme\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_catalog_category_has_its_faults() {
    let out = chaosdeck(&["list", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    let count = |c: &str| rows.iter().filter(|r| r["category"] == c).count();
    assert!(
        count("container") >= 7,
        "container faults: {}",
        count("container")
    );
    assert!(count("process") >= 3);
    assert!(count("host") >= 4);
    assert!(count("network") >= 8);
    assert!(count("database") >= 20);
    assert_eq!(count("compound"), 2);
}

#[test]
fn show_prints_every_field_of_a_fault() {
    let out = chaosdeck(&["show", "db-max-connections"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "db-max-connections — Max connections exhausted",
        "severity   high (gate: type the fault id)",
        "target     postgres",
        "ttl        5m",
        "recover    within 30s of teardown",
        "impact     app-health",
        "Description",
        "Parameters",
        "reserve",
        "postgres.hold_connections  count=fill reserve={{reserve}}",
        "session-bound",
        "undo:  closes the held sessions",
        "Responder prompt",
        "Runbook",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let by_flag = chaosdeck(&["show", "--id", "db-max-connections"]);
    assert_eq!(stdout(&by_flag), text);
}

#[test]
fn show_json_carries_the_spec_and_what_each_action_needs() {
    let out = chaosdeck(&["show", "pg-read-only", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["id"], "pg-read-only");
    assert_eq!(v["action_details"][0]["lifetime"], "persistent");
    assert_eq!(v["action_details"][0]["preconditions"][0], "pg_superuser");
}

#[test]
fn show_every_builtin_fault() {
    let out = chaosdeck(&["list", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    for row in rows {
        let id = row["id"].as_str().expect("id");
        let out = chaosdeck(&["show", id]);
        assert_eq!(out.status.code(), Some(0), "{id}: {}", stderr(&out));
        let text = stdout(&out);
        for section in ["Description", "Actions", "Responder prompt", "Runbook"] {
            assert!(text.contains(section), "{id} has no {section}:\n{text}");
        }
    }
}

#[test]
fn show_unknown_id_suggests_the_near_one() {
    let out = chaosdeck(&["show", "db-max-conections"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "unknown fault id \"db-max-conections\"; did you mean \"db-max-connections\"? (`chaosdeck list` shows every id)"
    );
}

#[test]
fn validate_accepts_the_builtin_catalog_and_valid_folders() {
    let out = chaosdeck(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("OK: "), "{}", stdout(&out));

    let out = chaosdeck(&["validate", "tests/fixtures/catalog/valid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = chaosdeck(&["--catalog", "tests/fixtures/catalog/valid", "list"]);
    assert!(
        stdout(&out).contains("worker-freeze-gently"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_user_folder_that_redefines_a_builtin_id_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mine.yaml");
    let text = std::fs::read_to_string("tests/fixtures/catalog/valid/worker.yaml")
        .expect("fixture")
        .replace("worker-freeze-gently", "db-max-connections");
    std::fs::write(&file, text).expect("write");
    let dir_arg = dir.path().to_string_lossy().into_owned();
    let out = chaosdeck(&["--catalog", &dir_arg, "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "duplicate id \"db-max-connections\"; it is already defined at catalog/database.yaml:"
        ),
        "{}",
        stderr(&out)
    );
}

/// Runs `validate FILE` and checks it prints exactly the problems in
/// `NAME.expected` (with `{file}` standing for the path) and exits 2.
fn assert_invalid(file: &Path, expected_file: &Path) {
    let expected = std::fs::read_to_string(expected_file)
        .unwrap_or_else(|e| panic!("{}: {e}", expected_file.display()))
        .replace("{file}", &file.to_string_lossy());
    let out = chaosdeck(&["validate", &file.to_string_lossy()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}: {}",
        file.display(),
        stderr(&out)
    );
    let err = stderr(&out);
    let mut lines: Vec<&str> = err.lines().collect();
    let summary = lines.pop().unwrap_or_default();
    assert!(summary.starts_with("invalid: "), "{summary}");
    assert_eq!(lines.join("\n"), expected.trim_end(), "{}", file.display());
}

#[test]
fn each_invalid_fixture_prints_its_message_and_exits_2() {
    let dir = PathBuf::from("tests/fixtures/catalog/invalid");
    let mut seen = 0;
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(&dir))
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().expect("name");
        let rel = dir.join(name);
        assert_invalid(&rel, &path.with_extension("expected"));
        seen += 1;
    }
    assert!(seen >= 12, "only {seen} invalid fixtures");
}

#[test]
fn a_ten_megabyte_file_is_refused_before_parsing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("huge.yaml");
    let entry = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalog/valid/worker.yaml"),
    )
    .expect("fixture");
    let mut text = String::new();
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&entry);
    }
    std::fs::write(&file, text).expect("write");
    assert_invalid(
        &file,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalog/too-large.expected"),
    );
}
