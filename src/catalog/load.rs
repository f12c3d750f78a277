//! Reading one catalog file: size and encoding limits, YAML syntax, then the typed
//! schema. Every failure becomes a [`CatalogIssue`] with a place in the file.

use std::path::{Path, PathBuf};

use super::error::{humanize_serde_message, CatalogIssue};
use super::model::FaultSpec;

/// Catalog files larger than this are refused before they are parsed.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A fault as read from a file, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedFault {
    pub spec: FaultSpec,
    pub file: PathBuf,
    /// 1-based line where the entry starts.
    pub line: usize,
    /// The entry as plain YAML, for checks that walk every string.
    pub raw: serde_yaml::Value,
    /// The file's text, for finding the place of a later problem.
    pub text: std::sync::Arc<str>,
}

impl LoadedFault {
    /// The place of `needle` inside this entry, or the entry's start.
    pub fn position_of(&self, needle: &str) -> (usize, usize) {
        let lines: Vec<&str> = self.text.lines().collect();
        let start = self.line.saturating_sub(1);
        let end = next_entry_line(&lines, start + 1).unwrap_or(lines.len());
        for (index, line) in lines.iter().enumerate().take(end).skip(start) {
            if let Some(col) = line.find(needle) {
                return (index + 1, line[..col].chars().count() + 1);
            }
        }
        (self.line, 1)
    }
}

/// Reads and parses a catalog file from disk.
pub fn read_file(path: &Path) -> Result<Vec<LoadedFault>, CatalogIssue> {
    let issue = |message: String| CatalogIssue {
        file: path.to_path_buf(),
        position: None,
        path: String::new(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| issue(format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(issue(too_large(meta.len())));
    }
    let bytes = std::fs::read(path).map_err(|e| issue(format!("cannot read: {e}")))?;
    parse_bytes(path, &bytes)
}

fn too_large(len: u64) -> String {
    format!(
        "file is {:.1} MiB; catalog files are limited to 1 MiB (split it into several files)",
        len as f64 / (1024.0 * 1024.0)
    )
}

/// Parses catalog text that was read from `file` (the name is used in messages).
pub fn parse_bytes(file: &Path, bytes: &[u8]) -> Result<Vec<LoadedFault>, CatalogIssue> {
    let issue = |position: Option<(usize, usize)>, path: String, message: String| CatalogIssue {
        file: file.to_path_buf(),
        position,
        path,
        message,
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(issue(None, String::new(), too_large(bytes.len() as u64)));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let (line, column) = line_column(bytes, e.valid_up_to());
            return Err(issue(
                Some((line, column)),
                String::new(),
                "file is not UTF-8 text; save it as UTF-8".to_string(),
            ));
        }
    };
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(issue(
            None,
            String::new(),
            "file is empty; expected a YAML list of faults, each starting with \"- id:\"".into(),
        ));
    }
    let raw: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let position = e.location().map(|l| (l.line(), l.column()));
        issue(
            position,
            String::new(),
            syntax_message(&e.to_string(), position),
        )
    })?;
    let serde_yaml::Value::Sequence(items) = raw else {
        return Err(issue(
            Some((1, 1)),
            String::new(),
            format!(
                "expected a YAML list of faults, each starting with \"- id:\"; found {}",
                describe(&raw)
            ),
        ));
    };
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let specs: Vec<FaultSpec> = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let position = e.inner().location().map(|l| (l.line(), l.column()));
        let path = name_entry(&e.path().to_string(), &items);
        let mut message = humanize_serde_message(&e.inner().to_string());
        if is_action_path(&path) {
            message = message.replacen("unknown value", "unknown action", 1);
        }
        issue(position, path, message)
    })?;
    let lines: Vec<&str> = text.lines().collect();
    let starts = entry_lines(&lines);
    let shared: std::sync::Arc<str> = text.into();
    Ok(specs
        .into_iter()
        .zip(items)
        .enumerate()
        .map(|(index, (spec, raw))| LoadedFault {
            spec,
            file: file.to_path_buf(),
            line: starts.get(index).copied().unwrap_or(1),
            raw,
            text: shared.clone(),
        })
        .collect())
}

/// 1-based lines where the top-level list items start (`- ` at the list's indent).
fn entry_lines(lines: &[&str]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(line) = next_entry_line(lines, at) {
        found.push(line + 1);
        at = line + 1;
    }
    found
}

fn next_entry_line(lines: &[&str], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&i| lines[i] == "-" || lines[i].starts_with("- "))
}

fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

fn describe(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Null => "nothing",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a plain string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// A YAML syntax error in words: the position already reported is not repeated,
/// other positions (where a quoted string started) are kept.
fn syntax_message(message: &str, position: Option<(usize, usize)>) -> String {
    let mut text = message.to_string();
    if let Some((line, column)) = position {
        text = text.replacen(&format!(" at line {line} column {column}"), "", 1);
    }
    if text.contains("repetition limit exceeded") {
        return "not valid YAML: aliases expand past the repetition limit (an alias bomb?); \
                write the values out instead of repeating aliases"
            .to_string();
    }
    format!("not valid YAML: {}", text.replace('`', "\""))
}

/// `[3].actions[0]` → `[db-max-connections].actions[0]` when entry 3 has an id.
fn name_entry(path: &str, items: &[serde_yaml::Value]) -> String {
    let Some(rest) = path.strip_prefix('[') else {
        return path.to_string();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return path.to_string();
    };
    let id = index
        .parse::<usize>()
        .ok()
        .and_then(|i| items.get(i))
        .and_then(|item| item.get("id"))
        .and_then(|id| id.as_str());
    match id {
        Some(id) => format!("[{id}]{tail}"),
        None => path.to_string(),
    }
}

fn is_action_path(path: &str) -> bool {
    path.rsplit_once(".actions[")
        .is_some_and(|(_, tail)| tail.ends_with(']') && !tail.contains('.'))
}
