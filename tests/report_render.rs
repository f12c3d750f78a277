//! Reports as a reader meets them: the Markdown and JSON of hand-built run records (a
//! pass, a fail with a residual teardown, an aborted run with empty fields, names full
//! of pipes), the game-day scorecard, and the files `write_report` leaves on disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chaosdeck::catalog::{Category, Severity};
use chaosdeck::engine::record::{
    Approval, FaultSummary, GamedayRecord, Note, Outcome, ProbeSummary, RecoveryAnchor, RunRecord,
    SeriesSummary, TeardownStep, TimelineEntry, TimelineKind, Timings, Verdict,
};
use chaosdeck::report::{
    gameday_json, gameday_markdown, run_json, run_markdown, scenario_passed, scorecard,
    scorecard_total, write_gameday_report, write_report, ReportError, ScoreRow,
};

const HEADINGS: [&str; 11] = [
    "Summary",
    "Target",
    "Parameters",
    "Approvals",
    "Timings",
    "Probes",
    "Series",
    "Timeline",
    "Teardown",
    "Verdict",
    "Notes",
];

fn entry(offset_ms: u64, kind: TimelineKind, text: &str) -> TimelineEntry {
    TimelineEntry {
        offset_ms,
        kind,
        text: text.to_string(),
    }
}

/// A database fault that did what it should: impact seen, recovered, torn down.
fn passing_run() -> RunRecord {
    RunRecord {
        run_id: "r-20240501-0001".to_string(),
        fault: FaultSummary {
            id: "db-max-connections".to_string(),
            name: "Max connections exhausted".to_string(),
            category: Category::Database,
            severity: Severity::High,
            expect_impact: vec!["app-health".to_string()],
            recover_within_ms: 30_000,
            self_healing: false,
        },
        target: "postgres host=localhost port=15432 dbname=testdb user=postgres password=***"
            .to_string(),
        params: BTreeMap::from([("reserve".to_string(), "1".to_string())]),
        started_at: "2024-05-01T10:00:00Z".to_string(),
        approvals: vec![Approval {
            offset_ms: 1_200,
            by: "console: typed the fault id".to_string(),
            severity: Severity::High,
            target: "postgres host=localhost port=15432".to_string(),
        }],
        timeline: vec![
            entry(0, TimelineKind::Preflight, "steady state holds (2 probes)"),
            entry(
                1_200,
                TimelineKind::Approval,
                "approved: typed the fault id",
            ),
            entry(1_500, TimelineKind::Inject, "holding 97 of 100 connections"),
            entry(2_750, TimelineKind::Impact, "app-health failed: HTTP 503"),
            entry(
                61_500,
                TimelineKind::Teardown,
                "released 97 sessions, verified",
            ),
            entry(186_840, TimelineKind::Recovery, "steady state regained"),
            entry(186_900, TimelineKind::Verdict, "pass"),
        ],
        series: vec![
            SeriesSummary {
                name: "pg_cache_hit_ratio".to_string(),
                samples: 240,
                min: 0.5,
                max: 0.9876,
                mean: 0.912,
            },
            SeriesSummary {
                name: "pg_connections".to_string(),
                samples: 240,
                min: 3.0,
                max: 100.0,
                mean: 71.333_33,
            },
            SeriesSummary {
                name: "host_memory_used_bytes".to_string(),
                samples: 240,
                min: 1_610_612_736.0,
                max: 2_147_483_648.0,
                mean: 1_900_000_000.0,
            },
        ],
        probes: vec![
            ProbeSummary {
                name: "app-health".to_string(),
                check: "http://localhost:8080/health → 200".to_string(),
                steady_state: true,
                guard: false,
                checks: 700,
                failures: 236,
                latency_min_ms: 1.0,
                latency_mean_ms: 4.256,
                latency_max_ms: 250.5,
            },
            ProbeSummary {
                name: "disk-guard".to_string(),
                check: "sql: SELECT 1".to_string(),
                steady_state: false,
                guard: true,
                checks: 700,
                failures: 0,
                latency_min_ms: 0.4,
                latency_mean_ms: 0.75,
                latency_max_ms: 3.0,
            },
        ],
        timings: Timings {
            time_to_impact_ms: Some(1_250),
            teardown_ms: Some(340),
            time_to_recover_ms: Some(125_000),
            recovery_from: RecoveryAnchor::TeardownDone,
            restarts: BTreeMap::new(),
        },
        teardown: vec![TeardownStep {
            fault: "db-max-connections".to_string(),
            action: "postgres.hold_connections".to_string(),
            result: "verified".to_string(),
            verified: true,
        }],
        verdict: Verdict {
            outcome: Outcome::Pass,
            ended_by: "duration".to_string(),
            impact_seen: Some(true),
            recovered_in_time: true,
            reasons: vec![
                "app-health failed 1.25 s after injection, as expected".to_string(),
                "steady state regained 2 m 05 s after teardown".to_string(),
            ],
        },
        notes: vec![Note {
            offset_ms: 30_000,
            text: "pager fired at 10:00:31".to_string(),
        }],
    }
}

/// A container fault whose network rule outlived the teardown.
fn residual_run() -> RunRecord {
    let mut run = passing_run();
    run.run_id = "r-20240501-0002".to_string();
    run.fault.id = "container-net-disconnect".to_string();
    run.fault.name = "Container network disconnect".to_string();
    run.fault.category = Category::Container;
    run.fault.severity = Severity::Medium;
    run.fault.self_healing = true;
    run.timings = Timings {
        time_to_impact_ms: Some(480),
        teardown_ms: Some(12_345),
        time_to_recover_ms: None,
        recovery_from: RecoveryAnchor::Injection,
        restarts: BTreeMap::from([("shop-app".to_string(), 3)]),
    };
    run.teardown = vec![
        TeardownStep {
            fault: "container-net-disconnect".to_string(),
            action: "docker.network_disconnect".to_string(),
            result: "verified".to_string(),
            verified: true,
        },
        TeardownStep {
            fault: "container-net-disconnect".to_string(),
            action: "proxy.blackhole".to_string(),
            result: "residual: port 15433 still drops traffic".to_string(),
            verified: false,
        },
    ];
    run.verdict = Verdict {
        outcome: Outcome::TeardownFailed,
        ended_by: "guard app-health".to_string(),
        impact_seen: Some(false),
        recovered_in_time: false,
        reasons: vec!["teardown left port 15433 dropping traffic".to_string()],
    };
    run
}

/// Stopped at the gate: nothing injected, nothing measured, every list empty.
fn aborted_run() -> RunRecord {
    RunRecord {
        run_id: "r-20240501-0003".to_string(),
        fault: FaultSummary {
            id: "host-disk-fill".to_string(),
            name: "Disk fill".to_string(),
            category: Category::Host,
            severity: Severity::Critical,
            expect_impact: Vec::new(),
            recover_within_ms: 60_000,
            self_healing: false,
        },
        target: "this host".to_string(),
        params: BTreeMap::new(),
        started_at: "2024-05-01T11:00:00Z".to_string(),
        approvals: Vec::new(),
        timeline: Vec::new(),
        series: Vec::new(),
        probes: Vec::new(),
        timings: Timings::default(),
        teardown: Vec::new(),
        verdict: Verdict {
            outcome: Outcome::Aborted,
            ended_by: String::new(),
            impact_seen: None,
            recovered_in_time: false,
            reasons: Vec::new(),
        },
        notes: Vec::new(),
    }
}

/// Names, texts and a parameter full of pipes and line breaks.
fn piped_run() -> RunRecord {
    let mut run = passing_run();
    run.fault.name = "Pipe | dream: a very long fault name that goes on | and on".to_string();
    run.params
        .insert("filter | mode".to_string(), "a|b\nc".to_string());
    run.timeline.push(entry(
        5_000,
        TimelineKind::Note,
        "grep x | wc -l\nsecond line",
    ));
    run.probes[0].check = "cmd: ps aux | grep postgres".to_string();
    run.teardown[0].result = "verified | twice\\".to_string();
    run.notes.push(Note {
        offset_ms: 6_000,
        text: "left | right".to_string(),
    });
    run
}

/// The cells of a Markdown table row, split on pipes that are not escaped.
fn cells(row: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut backslashes = 0;
    for c in row.chars() {
        if c == '|' && backslashes % 2 == 0 {
            cells.push(current.trim().to_string());
            current.clear();
        } else {
            current.push(c);
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
    }
    cells.push(current.trim().to_string());
    // Drop what lies outside the leading and trailing pipe.
    cells.remove(0);
    cells.pop();
    cells
}

/// The rows of the table that directly follows the heading `## {section}`.
fn table_after(markdown: &str, section: &str) -> Vec<Vec<String>> {
    let heading = format!("## {section}\n");
    let start = markdown.find(&heading).expect(section) + heading.len();
    markdown[start..]
        .lines()
        .skip_while(|line| line.is_empty())
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(cells)
        .collect()
}

fn section_text<'a>(markdown: &'a str, section: &str) -> &'a str {
    let heading = format!("## {section}\n");
    let start = markdown.find(&heading).expect(section) + heading.len();
    let end = markdown[start..]
        .find("\n## ")
        .map_or(markdown.len(), |i| start + i);
    &markdown[start..end]
}

fn assert_headings_in_order(markdown: &str, level: &str) {
    let mut from = 0;
    for heading in HEADINGS {
        let line = format!("\n{level} {heading}\n");
        assert_eq!(
            markdown.matches(&line).count(),
            1,
            "{line:?} once in\n{markdown}"
        );
        let at = markdown.find(&line).unwrap();
        assert!(at > from, "{heading} out of order in\n{markdown}");
        from = at;
    }
}

#[test]
fn every_heading_is_present_once_and_in_order() {
    for run in [passing_run(), residual_run(), aborted_run(), piped_run()] {
        let markdown = run_markdown(&run);
        assert!(
            markdown.starts_with(&format!("# {}", run.fault.name.replace('\n', " "))),
            "{markdown}"
        );
        assert_headings_in_order(&markdown, "##");
    }
}

#[test]
fn title_and_summary_name_the_fault_and_the_verdict() {
    let markdown = run_markdown(&passing_run());
    assert!(markdown.starts_with("# Max connections exhausted (db-max-connections) — PASS\n"));
    let summary = section_text(&markdown, "Summary");
    for line in [
        "- Verdict: **PASS**",
        "- Ended by: duration",
        "- Run id: r-20240501-0001",
        "- Started: 2024-05-01T10:00:00Z",
        "- Severity: high",
        "- Category: database",
    ] {
        assert!(summary.contains(line), "{line} in {summary}");
    }
    let words = [
        (residual_run(), "TEARDOWN FAILED"),
        (aborted_run(), "ABORTED"),
    ];
    for (run, word) in words {
        let markdown = run_markdown(&run);
        assert!(
            markdown.lines().next().unwrap().ends_with(word),
            "{markdown}"
        );
        assert!(markdown.contains(&format!("- Verdict: **{word}**")));
    }
    let mut failed = passing_run();
    failed.verdict.outcome = Outcome::Fail;
    assert!(run_markdown(&failed).contains("- Verdict: **FAIL**"));
}

#[test]
fn timings_read_as_durations_with_their_anchor() {
    let markdown = run_markdown(&passing_run());
    assert_eq!(
        table_after(&markdown, "Timings"),
        vec![
            vec!["time to impact", "1.25 s"],
            vec!["teardown duration", "340 ms"],
            vec!["time to recover", "2 m 05 s"],
            vec!["recovery measured", "from teardown done"],
            vec!["recover within (expected)", "30 s"],
        ]
    );
    assert!(section_text(&markdown, "Timings").contains("Restarts: none"));

    let markdown = run_markdown(&residual_run());
    let timings = section_text(&markdown, "Timings");
    assert!(timings.contains("| time to recover | — |"), "{timings}");
    assert!(timings.contains("| recovery measured | from injection (self-healing) |"));
    assert!(
        timings.contains("| teardown duration | 12.35 s |"),
        "{timings}"
    );
    assert!(timings.contains("| shop-app | 3 |"), "{timings}");
}

#[test]
fn probes_and_series_print_sensible_numbers() {
    let markdown = run_markdown(&passing_run());
    assert_eq!(
        table_after(&markdown, "Probes"),
        vec![
            vec![
                "app-health",
                "http://localhost:8080/health → 200",
                "steady state",
                "700",
                "236",
                "1 / 4.26 / 250.5"
            ],
            vec![
                "disk-guard",
                "sql: SELECT 1",
                "guard",
                "700",
                "0",
                "0.4 / 0.75 / 3"
            ],
        ]
    );
    assert_eq!(
        table_after(&markdown, "Series"),
        vec![
            vec!["pg_cache_hit_ratio", "240", "0.5", "0.99", "0.91"],
            vec!["pg_connections", "240", "3", "100", "71.33"],
            vec![
                "host_memory_used_bytes",
                "240",
                "1.5 GiB",
                "2 GiB",
                "1.8 GiB"
            ],
        ]
    );
}

#[test]
fn timeline_approvals_and_notes_carry_offsets() {
    let markdown = run_markdown(&passing_run());
    let timeline = table_after(&markdown, "Timeline");
    assert_eq!(timeline.len(), 7);
    assert_eq!(
        timeline[3],
        vec!["+2.750 s", "impact", "app-health failed: HTTP 503"]
    );
    assert_eq!(timeline[5][0], "+186.840 s");
    assert_eq!(
        table_after(&markdown, "Approvals"),
        vec![vec![
            "+1.200 s",
            "console: typed the fault id",
            "high",
            "postgres host=localhost port=15432"
        ]]
    );
    assert_eq!(
        table_after(&markdown, "Notes"),
        vec![vec!["+30.000 s", "pager fired at 10:00:31"]]
    );
    assert_eq!(
        table_after(&markdown, "Parameters"),
        vec![vec!["reserve", "1"]]
    );
}

#[test]
fn a_residual_teardown_stands_out() {
    let markdown = run_markdown(&residual_run());
    let teardown = table_after(&markdown, "Teardown");
    assert_eq!(teardown[0][2], "verified");
    assert_eq!(
        teardown[1][2],
        "**residual: port 15433 still drops traffic**"
    );
    assert!(section_text(&markdown, "Teardown")
        .contains("**1 of 2 steps not verified: something may still be on."));
    let verdict = section_text(&markdown, "Verdict");
    assert!(verdict.contains("**TEARDOWN FAILED**, ended by guard app-health."));
    assert!(
        verdict.contains("- Impact expected: app-health; seen: no"),
        "{verdict}"
    );
    assert!(verdict.contains("- Recovered in time: no (within 30 s, took —)"));
    assert!(verdict.contains("- teardown left port 15433 dropping traffic"));
}

#[test]
fn an_aborted_run_says_none_instead_of_empty_sections() {
    let markdown = run_markdown(&aborted_run());
    for section in [
        "Parameters",
        "Approvals",
        "Probes",
        "Series",
        "Timeline",
        "Teardown",
        "Notes",
    ] {
        assert_eq!(section_text(&markdown, section).trim(), "none", "{section}");
    }
    let timings = section_text(&markdown, "Timings");
    for measure in ["time to impact", "teardown duration", "time to recover"] {
        assert!(timings.contains(&format!("| {measure} | — |")), "{timings}");
    }
    assert!(markdown.contains("- Ended by: —"));
    let verdict = section_text(&markdown, "Verdict");
    assert!(verdict.contains("- Impact expected: none; seen: — (none expected)"));
    assert!(verdict.contains("Reasons: none given"));
}

#[test]
fn pipes_and_line_breaks_cannot_break_a_table() {
    let markdown = run_markdown(&piped_run());
    assert!(markdown.starts_with(
        "# Pipe | dream: a very long fault name that goes on | and on (db-max-connections)"
    ));
    for (section, columns) in [
        ("Parameters", 2),
        ("Probes", 6),
        ("Timeline", 3),
        ("Teardown", 3),
        ("Notes", 2),
    ] {
        for row in table_after(&markdown, section) {
            assert_eq!(row.len(), columns, "{section}: {row:?}");
        }
    }
    assert!(table_after(&markdown, "Parameters").contains(&vec![
        "filter \\| mode".to_string(),
        "a\\|b<br>c".to_string()
    ]));
    assert!(markdown.contains("| +5.000 s | note | grep x \\| wc -l<br>second line |"));
    assert!(markdown.contains("| cmd: ps aux \\| grep postgres |"));
    assert!(markdown.contains("| verified \\| twice\\\\ |"));
    assert!(markdown.contains("| +6.000 s | left \\| right |"));
}

#[test]
fn passwords_never_reach_markdown_or_json() {
    let mut run = passing_run();
    run.target = "postgres host=db user=app password=hunter2".to_string();
    run.timeline.push(entry(
        9_000,
        TimelineKind::Note,
        "operator tried psql 'host=db password=hunter2'",
    ));
    run.notes.push(Note {
        offset_ms: 9_500,
        text: "password=hunter2 worked, also postgres://app:hunter2@db/shop".to_string(),
    });
    run.params
        .insert("new_password".to_string(), "hunter2".to_string());
    run.approvals[0].target = "postgresql://app:hunter2@db:5432/shop".to_string();
    run.teardown[0].result = "verified (reconnected with password=hunter2)".to_string();

    let markdown = run_markdown(&run);
    let json = run_json(&run);
    let gameday = GamedayRecord {
        plan: "secrets".to_string(),
        started_at: "2024-05-01T10:00:00Z".to_string(),
        runs: vec![run],
        stopped: Some("stopped: password=hunter2 rejected".to_string()),
    };
    let gameday_md = gameday_markdown(&gameday);
    let gameday_js = gameday_json(&gameday);
    for (what, text) in [
        ("markdown", &markdown),
        ("json", &json),
        ("gameday markdown", &gameday_md),
        ("gameday json", &gameday_js),
    ] {
        assert!(!text.contains("hunter2"), "{what} leaks:\n{text}");
    }
    assert!(markdown.contains("postgres host=db user=app password=***"));
    assert!(markdown.contains("password=*** worked, also postgres://app:***@db/shop"));
    assert!(markdown.contains("| new_password | *** |"));
}

#[test]
fn json_round_trips_to_an_equal_record() {
    for run in [passing_run(), residual_run(), aborted_run(), piped_run()] {
        let json = run_json(&run);
        assert!(json.starts_with("{\n  \"run_id\""), "pretty: {json}");
        let back: RunRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, run);
    }
    let gameday = game_day();
    let back: GamedayRecord = serde_json::from_str(&gameday_json(&gameday)).unwrap();
    assert_eq!(back, gameday);
}

fn game_day() -> GamedayRecord {
    let mut db_fail = passing_run();
    db_fail.run_id = "r-20240501-0004".to_string();
    db_fail.fault.id = "db-lock-contention".to_string();
    db_fail.fault.name = "Lock contention".to_string();
    db_fail.verdict.outcome = Outcome::Fail;
    db_fail.verdict.recovered_in_time = false;
    db_fail.timings.time_to_recover_ms = Some(45_000);
    let mut db_no_impact = passing_run();
    db_no_impact.run_id = "r-20240501-0005".to_string();
    db_no_impact.fault.id = "db-table-bloat".to_string();
    db_no_impact.fault.name = "Table bloat".to_string();
    db_no_impact.fault.expect_impact.clear();
    db_no_impact.verdict.impact_seen = None;
    db_no_impact.timings.time_to_impact_ms = None;
    GamedayRecord {
        plan: "Thursday resilience drill".to_string(),
        started_at: "2024-05-01T09:55:00Z".to_string(),
        // Out of category order on purpose: the scorecard sorts by category.
        runs: vec![
            aborted_run(),
            residual_run(),
            passing_run(),
            db_fail,
            db_no_impact,
        ],
        stopped: Some("teardown of container-net-disconnect failed".to_string()),
    }
}

#[test]
fn scorecard_counts_each_category_and_the_total() {
    let gameday = game_day();
    let rows = scorecard(&gameday.runs);
    let row =
        |category, scenarios, impact_seen, recovered_in_time, teardown_verified, passed| ScoreRow {
            category,
            scenarios,
            impact_seen,
            recovered_in_time,
            teardown_verified,
            passed,
            score: passed * 100 / scenarios,
        };
    assert_eq!(
        rows,
        vec![
            // pass, fail (not recovered), pass with no impact expected
            row(Category::Database, 3, 3, 2, 3, 2),
            // impact not seen, not recovered, residual teardown
            row(Category::Container, 1, 0, 0, 0, 0),
            // aborted: a scenario that scores nothing
            row(Category::Host, 1, 0, 0, 0, 0),
        ]
    );
    assert_eq!(rows[0].score, 66, "rounded down");
    let total = scorecard_total(&rows);
    assert_eq!(
        (
            total.scenarios,
            total.impact_seen,
            total.recovered_in_time,
            total.teardown_verified,
            total.passed,
            total.score
        ),
        (5, 3, 2, 3, 2, 40)
    );
    assert!(scenario_passed(&passing_run()));
    assert!(!scenario_passed(&residual_run()));
    assert!(!scenario_passed(&aborted_run()));
    assert!(scorecard(&[]).is_empty());
    assert_eq!(scorecard_total(&[]).score, 0);
}

#[test]
fn gameday_report_has_scorecard_runs_and_demoted_run_reports() {
    let markdown = gameday_markdown(&game_day());
    assert!(markdown.starts_with("# Game day: Thursday resilience drill\n"));
    assert_eq!(
        table_after(&markdown, "Scorecard"),
        vec![
            vec!["database", "3", "3", "2", "3", "66 %"],
            vec!["container", "1", "0", "0", "0", "0 %"],
            vec!["host", "1", "0", "0", "0", "0 %"],
            vec!["**Total**", "**5**", "**3**", "**2**", "**3**", "**40 %**"],
        ]
    );
    let runs = table_after(&markdown, "Runs");
    assert_eq!(runs.len(), 5);
    assert_eq!(
        runs[1],
        vec![
            "Container network disconnect (container-net-disconnect)",
            "container",
            "medium",
            "TEARDOWN FAILED",
            "480 ms",
            "—"
        ]
    );
    assert!(markdown.contains("**Stopped early:** teardown of container-net-disconnect failed"));
    // Each run keeps all its sections, one level down, and no `#` title but the plan's.
    assert_eq!(markdown.matches("\n### Summary\n").count(), 5);
    assert_eq!(markdown.lines().filter(|l| l.starts_with("# ")).count(), 1);
    assert!(markdown.contains("\n## Max connections exhausted (db-max-connections) — PASS\n"));
    let second = markdown.find("\n## Container network disconnect").unwrap();
    let end = markdown[second + 1..].find("\n## ").unwrap() + second + 1;
    assert_headings_in_order(&markdown[second..=end], "###");
}

#[test]
fn write_report_puts_markdown_and_json_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let run = passing_run();

    let (md, json) = write_report(&dir.path().join("run.md"), &run).unwrap();
    assert_eq!(md, dir.path().join("run.md"));
    assert_eq!(json, dir.path().join("run.json"));
    assert_eq!(std::fs::read_to_string(&md).unwrap(), run_markdown(&run));
    let back: RunRecord = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(back, run);

    let (md, json) = write_report(&dir.path().join("other.json"), &run).unwrap();
    assert_eq!(md, dir.path().join("other.md"));
    assert_eq!(json, dir.path().join("other.json"));
    assert!(md.is_file() && json.is_file());

    let gameday = game_day();
    let (md, json) = write_gameday_report(&dir.path().join("day.md"), &gameday).unwrap();
    assert_eq!(
        std::fs::read_to_string(&md).unwrap(),
        gameday_markdown(&gameday)
    );
    assert_eq!(
        std::fs::read_to_string(&json).unwrap(),
        gameday_json(&gameday)
    );
}

#[test]
fn write_report_into_a_missing_folder_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("no-such-folder");
    let err = write_report(&folder.join("run.md"), &passing_run()).unwrap_err();
    assert!(matches!(err, ReportError::MissingFolder { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("folder \"{}\" does not exist", folder.display())),
        "{message}"
    );
    assert!(!folder.exists(), "no folder is created");

    // A path that is a folder is an OS error naming the file.
    let err = write_report(dir.path(), &passing_run()).unwrap_err();
    assert!(matches!(err, ReportError::Write { .. }), "{err:?}");
    assert!(err.to_string().contains(&dir.path().display().to_string()));
}

#[test]
fn run_report_snapshot() {
    insta::assert_snapshot!("run_report_residual", run_markdown(&residual_run()));
    insta::assert_snapshot!("run_report_pass", run_markdown(&passing_run()));
}

#[test]
fn gameday_report_snapshot() {
    insta::assert_snapshot!("gameday_report", gameday_markdown(&game_day()));
}
