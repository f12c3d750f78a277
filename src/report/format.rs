//! Words and numbers as a report prints them: durations (`340 ms`, `1.25 s`,
//! `2 m 05 s`), timeline offsets (`+12.345 s`), series values (integers bare, fractions
//! with one or two decimals, `_bytes` series in KiB/MiB/GiB), and user text made safe
//! for a Markdown table cell or a single Markdown line.

use crate::engine::record::TimelineKind;

/// What a report prints where a value never came.
pub(crate) const NONE: &str = "—";

/// A duration in whole milliseconds, for a person: `340 ms`, `1.25 s`, `2 m 05 s`,
/// `1 h 02 m 05 s`.
pub(crate) fn duration(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms} ms");
    }
    let centis = (ms + 5) / 10;
    if centis < 6_000 {
        let (whole, frac) = (centis / 100, centis % 100);
        return match frac {
            0 => format!("{whole} s"),
            f if f % 10 == 0 => format!("{whole}.{} s", f / 10),
            f => format!("{whole}.{f:02} s"),
        };
    }
    let secs = (ms + 500) / 1_000;
    let (hours, minutes, seconds) = (secs / 3_600, secs / 60 % 60, secs % 60);
    if hours == 0 {
        format!("{minutes} m {seconds:02} s")
    } else {
        format!("{hours} h {minutes:02} m {seconds:02} s")
    }
}

/// A duration that may never have been measured.
pub(crate) fn maybe_duration(ms: Option<u64>) -> String {
    ms.map_or_else(|| NONE.to_string(), duration)
}

/// An offset from the start of the run: `+12.345 s`.
pub(crate) fn offset(ms: u64) -> String {
    format!("+{}.{:03} s", ms / 1_000, ms % 1_000)
}

/// A measured value: integers without decimals, anything else with one or two.
pub(crate) fn number(value: f64) -> String {
    if !value.is_finite() {
        return NONE.to_string();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    let text = format!("{value:.2}");
    match text.strip_suffix('0') {
        Some(shorter) => shorter.to_string(),
        None => text,
    }
}

/// A byte count in binary units: `512 B`, `1.5 KiB`, `12 MiB`.
pub(crate) fn bytes(value: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if !value.is_finite() {
        return NONE.to_string();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let mut size = value.abs();
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{sign}{size:.0} B");
    }
    let text = format!("{size:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{sign}{text} {}", UNITS[unit])
}

/// One value of a series, humanised as bytes when the series name ends in `_bytes`.
pub(crate) fn series_value(series: &str, value: f64) -> String {
    if series.ends_with("_bytes") {
        bytes(value)
    } else {
        number(value)
    }
}

/// User text made safe inside a Markdown table cell: backslashes and pipes escaped,
/// line breaks as `<br>`, an empty value as `—`.
pub(crate) fn cell(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return NONE.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => out.push_str("<br>"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// User text made safe on one Markdown line (a heading, a bullet): line breaks and
/// other control characters become spaces; an empty value becomes `—`.
pub(crate) fn inline(text: &str) -> String {
    let flat: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.is_empty() {
        NONE.to_string()
    } else {
        flat
    }
}

/// The kind of a timeline line, as the JSON spells it.
pub(crate) fn kind_word(kind: TimelineKind) -> &'static str {
    match kind {
        TimelineKind::Preflight => "preflight",
        TimelineKind::Approval => "approval",
        TimelineKind::Inject => "inject",
        TimelineKind::Impact => "impact",
        TimelineKind::Probe => "probe",
        TimelineKind::Guard => "guard",
        TimelineKind::Teardown => "teardown",
        TimelineKind::Recovery => "recovery",
        TimelineKind::Verdict => "verdict",
        TimelineKind::Note => "note",
        TimelineKind::Error => "error",
    }
}

/// `yes` or `no`.
pub(crate) fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        let cases = [
            (0, "0 ms"),
            (340, "340 ms"),
            (999, "999 ms"),
            (1_000, "1 s"),
            (1_250, "1.25 s"),
            (1_500, "1.5 s"),
            (1_234, "1.23 s"),
            (59_990, "59.99 s"),
            (59_996, "1 m 00 s"),
            (125_000, "2 m 05 s"),
            (3_725_000, "1 h 02 m 05 s"),
        ];
        for (ms, text) in cases {
            assert_eq!(duration(ms), text, "{ms} ms");
        }
        assert_eq!(maybe_duration(None), "—");
        assert_eq!(offset(12_345), "+12.345 s");
        assert_eq!(offset(7), "+0.007 s");
    }

    #[test]
    fn numbers_keep_only_the_decimals_that_mean_something() {
        assert_eq!(number(42.0), "42");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(0.987_6), "0.99");
        assert_eq!(number(12.345_6), "12.35");
        assert_eq!(number(3.999), "4.0");
        assert_eq!(number(f64::NAN), "—");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1_536.0), "1.5 KiB");
        assert_eq!(bytes(12.0 * 1_048_576.0), "12 MiB");
        assert_eq!(bytes(3.5 * 1_073_741_824.0), "3.5 GiB");
        assert_eq!(series_value("pg_connections", 97.0), "97");
        assert_eq!(series_value("host_disk_used_bytes", 2_048.0), "2 KiB");
    }

    #[test]
    fn user_text_cannot_break_a_table_or_a_line() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(cell("a\\|b"), "a\\\\\\|b");
        assert_eq!(cell("one\r\ntwo\nthree"), "one<br>two<br>three");
        assert_eq!(cell("  "), "—");
        assert_eq!(cell("tab\there"), "tab here");
        assert_eq!(inline("one\ntwo"), "one two");
        assert_eq!(inline(""), "—");
    }
}
