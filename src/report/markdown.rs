//! The Markdown report of one run. Its sections always come in this order, with these
//! headings, so people and tests can find them: Summary, Target, Parameters,
//! Approvals, Timings, Probes, Series, Timeline, Teardown, Verdict, Notes. An empty
//! section says `none` rather than disappearing. Every free-text field is masked for
//! passwords (see `mask`) and escaped for the table or line it lands in.

use crate::engine::record::{Recovery, RunRecord};

use super::doc::{Align, Doc};
use super::format::{cell, duration, inline, maybe_duration, offset, yes_no, NONE};
use super::mask;
use super::observed::{probes, series, timeline, timings};

use Align::{Left, Right};

/// The Markdown report of one run, passwords masked.
pub fn run_markdown(record: &RunRecord) -> String {
    render(record, 1)
}

/// The report with its title at heading level `depth` (1 alone, 2 inside a game day).
pub(crate) fn render(record: &RunRecord, depth: usize) -> String {
    let r = mask::record(record);
    let mut doc = Doc::new(depth);
    doc.title(&format!(
        "{} ({}) — {}",
        inline(&r.fault.name),
        inline(&r.fault.id),
        r.verdict.word()
    ));
    summary(&mut doc, &r);
    target(&mut doc, &r);
    parameters(&mut doc, &r);
    approvals(&mut doc, &r);
    timings(&mut doc, &r);
    probes(&mut doc, &r);
    series(&mut doc, &r);
    timeline(&mut doc, &r);
    teardown(&mut doc, &r);
    verdict(&mut doc, &r);
    notes(&mut doc, &r);
    doc.finish()
}

fn summary(doc: &mut Doc, r: &RunRecord) {
    doc.section("Summary");
    doc.bullets(&[
        format!("Verdict: **{}**", r.verdict.word()),
        format!("Ended by: {}", inline(&r.verdict.ended_by)),
        format!("Run id: {}", inline(&r.run_id)),
        format!("Started: {}", inline(&r.started_at)),
        format!("Severity: {}", r.fault.severity),
        format!("Category: {}", r.fault.category),
    ]);
}

fn target(doc: &mut Doc, r: &RunRecord) {
    doc.section("Target");
    let text = mask::text(r.target.trim());
    if text.is_empty() {
        doc.para(NONE);
        return;
    }
    // A fence longer than any run of backticks in the text, so the text cannot close it.
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    doc.para(&format!("{fence}text\n{text}\n{fence}"));
}

fn parameters(doc: &mut Doc, r: &RunRecord) {
    doc.section("Parameters");
    if r.params.is_empty() {
        doc.para("none");
        return;
    }
    let rows: Vec<Vec<String>> = r
        .params
        .iter()
        .map(|(name, value)| vec![cell(name), cell(value)])
        .collect();
    doc.table(&[("name", Left), ("value", Left)], &rows);
}

fn approvals(doc: &mut Doc, r: &RunRecord) {
    doc.section("Approvals");
    if r.approvals.is_empty() {
        doc.para("none");
        return;
    }
    let rows: Vec<Vec<String>> = r
        .approvals
        .iter()
        .map(|a| {
            vec![
                offset(a.offset_ms),
                cell(&a.by),
                a.severity.to_string(),
                cell(&a.target),
            ]
        })
        .collect();
    doc.table(
        &[
            ("offset", Right),
            ("by", Left),
            ("severity", Left),
            ("target", Left),
        ],
        &rows,
    );
}

fn teardown(doc: &mut Doc, r: &RunRecord) {
    doc.section("Teardown");
    if r.teardown.is_empty() {
        doc.para("none");
        return;
    }
    let rows: Vec<Vec<String>> = r
        .teardown
        .iter()
        .map(|s| {
            let result = cell(&s.result);
            let result = if s.verified {
                result
            } else {
                format!("**{result}**")
            };
            vec![cell(&s.fault), cell(&s.action), result]
        })
        .collect();
    doc.table(
        &[("fault", Left), ("action", Left), ("result", Left)],
        &rows,
    );
    let unverified = r.teardown.iter().filter(|s| !s.verified).count();
    if unverified > 0 {
        doc.para(&format!(
            "**{unverified} of {} steps not verified: something may still be on. \
             Run `chaosdeck teardown --dangling`.**",
            r.teardown.len()
        ));
    }
}

fn verdict(doc: &mut Doc, r: &RunRecord) {
    doc.section("Verdict");
    let v = &r.verdict;
    doc.para(&format!(
        "**{}**, ended by {}.",
        v.word(),
        inline(&v.ended_by)
    ));
    let expected = if r.fault.expect_impact.is_empty() {
        "none".to_string()
    } else {
        let names: Vec<String> = r.fault.expect_impact.iter().map(|n| inline(n)).collect();
        names.join(", ")
    };
    let seen = match v.impact_seen {
        Some(seen) => yes_no(seen),
        None if r.fault.expect_impact.is_empty() => "— (none expected)",
        None => "— (not measured: no probe)",
    };
    let recovered = match r.recovery() {
        unjudged @ (Recovery::NotWatched | Recovery::NotMeasured) => unjudged.words(),
        _ => yes_no(v.recovered_in_time),
    };
    doc.bullets(&[
        format!("Impact expected: {expected}; seen: {seen}"),
        format!(
            "Recovered in time: {recovered} (within {}, took {})",
            duration(r.fault.recover_within_ms),
            maybe_duration(r.timings.time_to_recover_ms)
        ),
    ]);
    if v.reasons.is_empty() {
        doc.para("Reasons: none given");
        return;
    }
    doc.para("Reasons:");
    let reasons: Vec<String> = v.reasons.iter().map(|reason| inline(reason)).collect();
    doc.bullets(&reasons);
}

fn notes(doc: &mut Doc, r: &RunRecord) {
    doc.section("Notes");
    if r.notes.is_empty() {
        doc.para("none");
        return;
    }
    let rows: Vec<Vec<String>> = r
        .notes
        .iter()
        .map(|n| vec![offset(n.offset_ms), cell(&n.text)])
        .collect();
    doc.table(&[("offset", Right), ("note", Left)], &rows);
}
