//! The JSON report: the record itself, pretty-printed, passwords masked (see `mask`).
//! A record without secrets reads back equal to the one written.

use serde::Serialize;

use crate::engine::record::{GamedayRecord, RunRecord};

use super::mask;

/// One run as pretty JSON, ending in a newline.
pub fn run_json(record: &RunRecord) -> String {
    pretty(&mask::record(record))
}

/// A game day as pretty JSON, ending in a newline.
pub fn gameday_json(record: &GamedayRecord) -> String {
    pretty(&mask::gameday(record))
}

fn pretty<T: Serialize>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        // Unreachable for these types (derived impls, string map keys), but a report
        // must still say what went wrong rather than panic.
        Err(error) => {
            let mut text = serde_json::json!({ "error": error.to_string() }).to_string();
            text.push('\n');
            text
        }
    }
}
