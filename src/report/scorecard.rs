//! The game-day scorecard: how the runs of each category fared.
//!
//! For every run three things are counted, and only for runs that injected something
//! (an `aborted` run stopped before injecting, so it is a scenario that scores nothing):
//!
//! - **impact seen**: the expected impact was seen, or none was expected or could be
//!   measured (`verdict.impact_seen != Some(false)`);
//! - **recovered in time**: steady state was seen to come back within
//!   `recover_within`;
//! - **teardown verified**: every teardown step was verified (outcome not
//!   `teardown_failed`).
//!
//! A scenario **passes** when all three hold, except that a recovery nothing could
//! measure (no steady-state probe) does not fail it. A run the operator interrupted
//! before its recovery was watched to the end (Ctrl-C, SIGTERM, halt-all) is not
//! scored at all, so it counts neither as a failed recovery nor as a pass; it is still
//! listed with the runs, and one whose teardown failed is scored as such. The
//! **score** is the percent of scenarios that passed, rounded down, so 100 means every
//! one of them passed; 0 when there are no scenarios.

use std::collections::BTreeMap;

use crate::catalog::Category;
use crate::engine::record::{Outcome, Recovery, RunRecord};

/// One category's line of the scorecard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreRow {
    pub category: Category,
    pub scenarios: u32,
    pub impact_seen: u32,
    pub recovered_in_time: u32,
    pub teardown_verified: u32,
    /// Scenarios where all three held.
    pub passed: u32,
    /// Percent of scenarios that passed, rounded down.
    pub score: u32,
}

/// The scorecard's total line: every category together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScoreTotal {
    pub scenarios: u32,
    pub impact_seen: u32,
    pub recovered_in_time: u32,
    pub teardown_verified: u32,
    pub passed: u32,
    /// Percent of all scenarios that passed, rounded down.
    pub score: u32,
}

/// One row per category that has runs, in catalog category order.
pub fn scorecard(runs: &[RunRecord]) -> Vec<ScoreRow> {
    let mut by_category: BTreeMap<Category, Tally> = BTreeMap::new();
    for run in runs {
        by_category.entry(run.fault.category).or_default().add(run);
    }
    by_category
        .into_iter()
        .filter(|(_, t)| t.scenarios > 0)
        .map(|(category, t)| ScoreRow {
            category,
            scenarios: t.scenarios,
            impact_seen: t.impact_seen,
            recovered_in_time: t.recovered_in_time,
            teardown_verified: t.teardown_verified,
            passed: t.passed,
            score: percent(t.passed, t.scenarios),
        })
        .collect()
}

/// The total of the rows, its score computed from the summed counts (not an average of
/// the rows' percentages).
pub fn scorecard_total(rows: &[ScoreRow]) -> ScoreTotal {
    let mut total = ScoreTotal::default();
    for row in rows {
        total.scenarios += row.scenarios;
        total.impact_seen += row.impact_seen;
        total.recovered_in_time += row.recovered_in_time;
        total.teardown_verified += row.teardown_verified;
        total.passed += row.passed;
    }
    total.score = percent(total.passed, total.scenarios);
    total
}

/// Whether one run passed by the scorecard's rule (see the module docs).
pub fn scenario_passed(run: &RunRecord) -> bool {
    let mut tally = Tally::default();
    tally.add(run);
    tally.passed == 1
}

#[derive(Default)]
struct Tally {
    scenarios: u32,
    impact_seen: u32,
    recovered_in_time: u32,
    teardown_verified: u32,
    passed: u32,
}

impl Tally {
    fn add(&mut self, run: &RunRecord) {
        let recovery = run.recovery();
        if recovery == Recovery::NotWatched {
            // Interrupted by the operator: not scored (see the module docs).
            return;
        }
        self.scenarios += 1;
        if run.verdict.outcome == Outcome::Aborted {
            return;
        }
        let impact = run.verdict.impact_seen != Some(false);
        let recovered = run.verdict.recovered_in_time;
        let recovery_ok = recovered || recovery == Recovery::NotMeasured;
        let teardown = run.verdict.outcome != Outcome::TeardownFailed
            && run.teardown.iter().all(|step| step.verified);
        self.impact_seen += u32::from(impact);
        self.recovered_in_time += u32::from(recovered);
        self.teardown_verified += u32::from(teardown);
        self.passed += u32::from(impact && recovery_ok && teardown);
    }
}

fn percent(part: u32, whole: u32) -> u32 {
    if whole == 0 {
        return 0;
    }
    let percent = u64::from(part) * 100 / u64::from(whole);
    u32::try_from(percent).unwrap_or(u32::MAX)
}
