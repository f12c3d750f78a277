//! The Markdown report of a game day: the scorecard with a total, one line per run, why
//! the plan stopped early if it did, then every run's full report with its headings one
//! level down (`##` → `###`).

use crate::engine::record::{GamedayRecord, Recovery};

use super::doc::{Align, Doc};
use super::format::{cell, inline, maybe_duration};
use super::markdown::render;
use super::mask;
use super::scorecard::{scorecard, scorecard_total};

use Align::{Left, Right};

/// `1 run`, `2 runs`.
fn runs_word(n: usize) -> String {
    match n {
        1 => "1 run".to_string(),
        n => format!("{n} runs"),
    }
}

/// The Markdown report of a game day, passwords masked.
pub fn gameday_markdown(record: &GamedayRecord) -> String {
    let g = mask::gameday(record);
    let mut doc = Doc::new(1);
    doc.title(&format!("Game day: {}", inline(&g.plan)));
    let runs = runs_word(g.runs.len());
    doc.para(&format!("Started {}, {runs}.", inline(&g.started_at)));

    doc.section("Scorecard");
    let rows = scorecard(&g.runs);
    if rows.is_empty() {
        doc.para("none");
    } else {
        let total = scorecard_total(&rows);
        let mut cells: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                vec![
                    row.category.to_string(),
                    row.scenarios.to_string(),
                    row.impact_seen.to_string(),
                    row.recovered_in_time.to_string(),
                    row.teardown_verified.to_string(),
                    format!("{} %", row.score),
                ]
            })
            .collect();
        cells.push(vec![
            "**Total**".to_string(),
            format!("**{}**", total.scenarios),
            format!("**{}**", total.impact_seen),
            format!("**{}**", total.recovered_in_time),
            format!("**{}**", total.teardown_verified),
            format!("**{} %**", total.score),
        ]);
        doc.table(
            &[
                ("category", Left),
                ("scenarios", Right),
                ("impact seen", Right),
                ("recovered in time", Right),
                ("teardown verified", Right),
                ("score", Right),
            ],
            &cells,
        );
        doc.para(
            "Score: percent of scenarios that passed, rounded down. A scenario passes when \
             the expected impact was seen (or none was expected), steady state came back \
             in time, and every teardown step was verified; an aborted run scores nothing.",
        );
    }
    let count = |wanted: Recovery| g.runs.iter().filter(|r| r.recovery() == wanted).count();
    match count(Recovery::NotMeasured) {
        0 => {}
        n => doc.para(&format!(
            "Recovery not measured (no steady-state probe) in {}: it does not fail a \
             scenario.",
            runs_word(n)
        )),
    }
    match count(Recovery::NotWatched) {
        0 => {}
        n => doc.para(&format!(
            "Not scored: {} interrupted by the operator before recovery was watched \
             (listed below).",
            runs_word(n)
        )),
    }

    doc.section("Runs");
    if g.runs.is_empty() {
        doc.para("none");
    } else {
        let cells: Vec<Vec<String>> = g
            .runs
            .iter()
            .map(|run| {
                vec![
                    cell(&format!("{} ({})", run.fault.name, run.fault.id)),
                    run.fault.category.to_string(),
                    run.fault.severity.to_string(),
                    run.verdict.word().to_string(),
                    maybe_duration(run.timings.time_to_impact_ms),
                    maybe_duration(run.timings.time_to_recover_ms),
                ]
            })
            .collect();
        doc.table(
            &[
                ("fault", Left),
                ("category", Left),
                ("severity", Left),
                ("verdict", Left),
                ("time to impact", Right),
                ("time to recover", Right),
            ],
            &cells,
        );
    }
    if let Some(why) = &g.stopped {
        doc.para(&format!("**Stopped early:** {}", inline(why)));
    }

    for run in &g.runs {
        doc.embed(&render(run, 2));
    }
    doc.finish()
}
