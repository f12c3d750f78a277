//! Passwords out of everything a report writes, Markdown and JSON alike.
//!
//! The engine already masks the target, but an operator may type a connection string
//! into a note, and a driver may quote one in a timeline line or a teardown result.
//! So every free-text field of a record goes through [`text`] before it is rendered:
//! `password=…` key-values (libpq style) and the password of every `postgres://` /
//! `postgresql://` URL found anywhere in the text become `***`. Parameters whose name
//! says they hold a secret (`password`, `secret`) are masked whole. Text without a
//! secret comes back unchanged, so a clean record survives a JSON round trip.

use crate::driver::postgres::conn::{mask_password, next_password_value};
use crate::engine::record::{GamedayRecord, RunRecord};

const URL_SCHEMES: [&str; 2] = ["postgresql://", "postgres://"];

/// Free text with every password in it replaced by `***`.
///
/// One pass, left to right, taking whichever comes first: a `password` key, whose
/// value is masked as far as libpq reads it (escaped spaces and quoted spaces
/// included, a URL inside it too), or a URL, masked up to the next whitespace.
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let url = find_url(rest);
        let password = next_password_value(rest).filter(|v| url.is_none_or(|at| v.start <= at));
        match (password, url) {
            (Some(value), _) => {
                out.push_str(&rest[..value.start]);
                out.push_str("***");
                rest = &rest[value.end..];
            }
            (None, Some(at)) => {
                let end = rest[at..]
                    .find(char::is_whitespace)
                    .map_or(rest.len(), |i| at + i);
                out.push_str(&rest[..at]);
                out.push_str(&mask_password(&rest[at..end]));
                rest = &rest[end..];
            }
            (None, None) => break,
        }
    }
    out.push_str(rest);
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
    fn escaped_and_quoted_passwords_go_whole_and_the_rest_stays() {
        let cases = [
            (
                r"typed host=127.0.0.1 user=spacey password=Trail\ Secret by mistake",
                "typed host=127.0.0.1 user=spacey password=*** by mistake",
            ),
            (r"password=a\ b user=x", "password=*** user=x"),
            (r"password=it\'s user=x", "password=*** user=x"),
            (r"password=back\\ user=x", "password=*** user=x"),
            ("note: password='a b c' then", "note: password=*** then"),
            (r"password='it\'s a b' user=x", "password=*** user=x"),
            (
                "line one password=a\\ b\nline two",
                "line one password=***\nline two",
            ),
            (
                "password='x postgres://u:p@h y' after",
                "password=*** after",
            ),
            ("password=postgres://secret after", "password=*** after"),
            (
                r"postgres://a:pw@h/db then password=a\ b user=x",
                r"postgres://a:***@h/db then password=*** user=x",
            ),
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
