//! Passwords out of everything a report writes, Markdown and JSON alike.
//!
//! The engine already masks the target, but an operator may type a connection string
//! into a note, and a driver may quote one in a timeline line or a teardown result.
//! So every free-text field of a record goes through [`text`] before it is rendered:
//! `password=…` key-values (libpq style) and the password of every `postgres://` /
//! `postgresql://` URL found anywhere in the text become `***`. Parameters whose name
//! says they hold a secret (`password`, `secret`) are masked whole. Text without a
//! secret comes back unchanged, so a clean record survives a JSON round trip.

use crate::driver::postgres::conn::mask_password;
use crate::engine::record::{GamedayRecord, RunRecord};

const URL_SCHEMES: [&str; 2] = ["postgresql://", "postgres://"];

/// Free text with every password in it replaced by `***`.
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_url(rest) {
        out.push_str(&key_values(&rest[..at]));
        let end = rest[at..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |i| at + i);
        out.push_str(&mask_password(&rest[at..end]));
        rest = &rest[end..];
    }
    out.push_str(&key_values(rest));
    out
}

/// A copy of the record with every free-text field masked.
pub(crate) fn record(record: &RunRecord) -> RunRecord {
    let mut r = record.clone();
    r.target = text(&r.target);
    for (name, value) in &mut r.params {
        *value = if names_a_secret(name) && !value.is_empty() {
            "***".to_string()
        } else {
            text(value)
        };
    }
    for approval in &mut r.approvals {
        approval.by = text(&approval.by);
        approval.target = text(&approval.target);
    }
    for entry in &mut r.timeline {
        entry.text = text(&entry.text);
    }
    for probe in &mut r.probes {
        probe.check = text(&probe.check);
    }
    for step in &mut r.teardown {
        step.action = text(&step.action);
        step.result = text(&step.result);
    }
    r.verdict.ended_by = text(&r.verdict.ended_by);
    for reason in &mut r.verdict.reasons {
        *reason = text(reason);
    }
    for note in &mut r.notes {
        note.text = text(&note.text);
    }
    r
}

/// A copy of the game day with every run and the stop reason masked.
pub(crate) fn gameday(gameday: &GamedayRecord) -> GamedayRecord {
    GamedayRecord {
        plan: text(&gameday.plan),
        started_at: gameday.started_at.clone(),
        runs: gameday.runs.iter().map(record).collect(),
        stopped: gameday.stopped.as_deref().map(text),
    }
}

fn find_url(text: &str) -> Option<usize> {
    URL_SCHEMES.iter().filter_map(|s| text.find(s)).min()
}

/// `password=…` masked in a stretch of text holding no URL; the whitespace around it
/// kept as it was (`mask_password` trims).
fn key_values(segment: &str) -> String {
    let body = segment.trim();
    if body.is_empty() {
        return segment.to_string();
    }
    let lead = segment.len() - segment.trim_start().len();
    let tail = segment.len() - segment.trim_end().len();
    format!(
        "{}{}{}",
        &segment[..lead],
        mask_password(body),
        &segment[segment.len() - tail..]
    )
}

fn names_a_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name.contains("secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_go_wherever_they_appear_in_free_text() {
        let cases = [
            ("password=hunter2", "password=***"),
            (
                "typed host=db password=hunter2 by mistake",
                "typed host=db password=*** by mistake",
            ),
            (
                "see postgres://app:hunter2@db/shop and postgresql://u:pw@h",
                "see postgres://app:***@db/shop and postgresql://u:***@h",
            ),
            (
                "postgres://app:hunter2@db/shop password=hunter2",
                "postgres://app:***@db/shop password=***",
            ),
            ("  spaces kept\n", "  spaces kept\n"),
            ("nothing secret | here", "nothing secret | here"),
        ];
        for (given, masked) in cases {
            assert_eq!(text(given), masked, "{given}");
        }
    }

    #[test]
    fn masking_twice_changes_nothing_more() {
        let once = text("host=db password=hunter2 postgres://a:b@c/d");
        assert_eq!(text(&once), once);
    }
}
