//! Catalog errors a person can act on: file, line, column, field path, the bad value
//! in quotes and what would be right.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a catalog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogIssue {
    pub file: PathBuf,
    /// 1-based line and column, when the problem has a place.
    pub position: Option<(usize, usize)>,
    /// Field path inside the file, such as `[2].actions[0].postgres.setting.value`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for CatalogIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.file, self.position, &self.path, &self.message)
    }
}

/// `file:line:col: field.path: message`, leaving out what is unknown. Catalog and
/// config errors read alike through this.
pub fn write_located(
    f: &mut fmt::Formatter<'_>,
    file: &std::path::Path,
    position: Option<(usize, usize)>,
    path: &str,
    message: &str,
) -> fmt::Result {
    write!(f, "{}", file.display())?;
    if let Some((line, column)) = position {
        write!(f, ":{line}:{column}")?;
    }
    if !path.is_empty() {
        write!(f, ": {path}")?;
    }
    write!(f, ": {message}")
}

/// Everything wrong with a set of catalog files.
#[derive(Debug, Clone, thiserror::Error)]
pub struct CatalogError {
    pub issues: Vec<CatalogIssue>,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl From<CatalogIssue> for CatalogError {
    fn from(issue: CatalogIssue) -> Self {
        CatalogError {
            issues: vec![issue],
        }
    }
}

/// Rewrites serde's wording into the catalog's: values in double quotes, and a
/// "did you mean" when an unknown name is one small typo away from a known one.
pub fn humanize_serde_message(message: &str) -> String {
    let message = strip_serde_location(message);
    for (prefix, noun) in [("unknown variant `", "value"), ("unknown field `", "field")] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((bad, expected)) = rest.split_once('`') {
                return unknown_name(noun, bad, expected);
            }
        }
    }
    message.replace('`', "\"")
}

/// Drops serde_yaml's own path prefix (`.[0].ttl: `) and position suffix
/// (` at line 3 column 7`): both are reported separately.
fn strip_serde_location(message: &str) -> &str {
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    if message.starts_with('.') || message.starts_with('[') {
        if let Some((_, rest)) = message.split_once(": ") {
            return rest;
        }
    }
    message
}

fn unknown_name(noun: &str, bad: &str, expected: &str) -> String {
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    if let Some(best) = closest(bad, &known) {
        return format!("unknown {noun} \"{bad}\"; did you mean \"{best}\"?");
    }
    if known.is_empty() {
        return format!("unknown {noun} \"{bad}\"; this place takes no {noun}s");
    }
    let list: Vec<String> = known.iter().map(|k| format!("\"{k}\"")).collect();
    format!(
        "unknown {noun} \"{bad}\"; expected one of {}",
        list.join(", ")
    )
}

/// The known name within a small edit distance of `bad`, if exactly one is closest.
pub fn closest<'a>(bad: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (bad.len() / 4).clamp(1, 3);
    known
        .iter()
        .map(|k| (edit_distance(bad, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_near_name() {
        let msg = humanize_serde_message(
            "unknown field `sevrity`, expected one of `id`, `name`, `severity`",
        );
        assert_eq!(msg, "unknown field \"sevrity\"; did you mean \"severity\"?");
    }

    #[test]
    fn lists_names_when_nothing_is_close() {
        let msg = humanize_serde_message(
            "unknown variant `extreme`, expected one of `low`, `medium`, `high`, `critical` at line 3 column 13",
        );
        assert_eq!(
            msg,
            "unknown value \"extreme\"; expected one of \"low\", \"medium\", \"high\", \"critical\""
        );
    }
}
