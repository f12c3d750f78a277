//! `chaosdeck gameday PLAN.yaml`: the plan's experiments in order, with pauses
//! between them; the plan stops at a failed teardown or an interrupt. Ends with a
//! scorecard and, when asked, a report.

use std::time::Duration;

use super::args::{GamedayArgs, TargetArgs};
use super::execute::{execute, Executed, Progress};
use super::run::{
    build, check_report_path, deliver, load_config, open_journal, status_of, Context, Request,
    Shapes,
};
use super::Status;
use crate::catalog::Catalog;
use crate::engine::gameday::Plan;
use crate::engine::journal::{now_rfc3339, Journal};
use crate::engine::record::{GamedayRecord, Outcome};
use crate::engine::run_store::RunStore;
use crate::engine::runner::Experiment;

pub fn run(ctx: &Context, args: &GamedayArgs) -> Status {
    let progress = if args.json {
        Progress::Stderr
    } else {
        Progress::Stdout
    };
    let (plan, experiments) = match prepare(ctx, args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    let (journal, runtime) = match open_journal(ctx) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    let problems = runtime.block_on(target_problems(&args.plan, &experiments));
    if !problems.is_empty() {
        for problem in problems {
            eprintln!("{problem}");
        }
        return Status::InputError;
    }
    let record = runtime.block_on(run_plan(&plan, experiments, journal, progress));
    let shapes = Shapes {
        write: crate::report::write_gameday_report,
        json: crate::report::gameday_json,
        text: scorecard_block,
    };
    deliver(&record, args.report.as_deref(), args.json, progress, shapes);
    plan_status(&record)
}

/// One experiment of the plan, checked and ready.
struct Planned {
    exp: Experiment,
    approved_by: String,
    /// Wait this long after it before the next one.
    pause: Duration,
}

/// Checks the whole plan before the first fault goes on.
fn prepare(ctx: &Context, args: &GamedayArgs) -> Result<(Plan, Vec<Planned>), String> {
    if let Some(path) = &args.report {
        check_report_path(path)?;
    }
    let plan = Plan::load(&args.plan)?;
    let config_path = ctx.config.cloned().or_else(|| plan.config_path(&args.plan));
    let config = load_config(config_path.as_ref())?;
    let catalog = Catalog::load(ctx.catalog_dirs).map_err(|e| e.to_string())?;
    let observe = config.as_ref().map(|c| c.observe).unwrap_or_default();
    let no_flags = TargetArgs::default();
    let mut out = Vec::new();
    for (i, planned) in plan.experiments.iter().enumerate() {
        let params = planned.param_pairs();
        let request = Request {
            fault_id: &planned.fault,
            target: planned.target.as_deref(),
            flag_targets: &no_flags,
            probes: &[],
            only_probes: &planned.probes,
            params: &params,
            approval: args.approval,
            observe,
            duration: planned.duration.as_duration(),
            ttl: planned.ttl.map(|t| t.as_duration()),
            plan: true,
        };
        let (exp, approved_by) = build(&catalog, config.as_ref(), &request, ctx.state_dir)
            .map_err(|e| {
                format!(
                    "{}: experiments[{i}] ({}): {e}",
                    args.plan.display(),
                    planned.fault
                )
            })?;
        let pause = planned.pause.unwrap_or(plan.pause).as_duration();
        out.push(Planned {
            exp,
            approved_by,
            pause,
        });
    }
    Ok((plan, out))
}

/// Every experiment's target problems (see `runner::target_problems`), found before
/// the first fault goes on, each naming the plan and the experiment.
async fn target_problems(plan: &std::path::Path, experiments: &[Planned]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, planned) in experiments.iter().enumerate() {
        let exp = &planned.exp;
        for problem in crate::engine::runner::target_problems(exp).await {
            let line = format!(
                "{}: experiments[{i}] ({}): {problem}",
                plan.display(),
                exp.spec.id
            );
            out.push(crate::driver::postgres::conn::mask_password(&line));
        }
    }
    out
}

async fn run_plan(
    plan: &Plan,
    experiments: Vec<Planned>,
    journal: Journal,
    progress: Progress,
) -> GamedayRecord {
    let mut record = GamedayRecord {
        plan: plan.name.clone(),
        started_at: now_rfc3339(),
        runs: Vec::new(),
        stopped: None,
    };
    let stop = super::execute::listen_for_stops();
    let store = RunStore::beside(&journal);
    let total = experiments.len();
    for (i, planned) in experiments.into_iter().enumerate() {
        let Planned {
            exp,
            approved_by,
            pause,
        } = planned;
        progress.line(&format!(
            "[{}/{total}] {} ({}, {}) as run {}",
            i + 1,
            exp.spec.id,
            exp.spec.name,
            exp.spec.severity,
            exp.run_id
        ));
        let fault = exp.spec.id.clone();
        if stop.borrow().is_some() {
            record.stopped = Some(format!("interrupted before {}", exp.spec.id));
            break;
        }
        match execute(exp, journal.clone(), approved_by, progress, stop.clone()).await {
            Executed::Finished {
                record: run,
                interrupted,
            } => {
                progress.line(&format!("  verdict: {}", run.verdict.summary()));
                super::report::save(&store, &run);
                let failed_teardown = run.verdict.outcome == Outcome::TeardownFailed;
                record.runs.push(*run);
                if failed_teardown {
                    record.stopped = Some(format!("teardown of {fault} failed; the plan stopped"));
                    break;
                }
                if interrupted {
                    record.stopped = Some(format!("interrupted during {fault}"));
                    break;
                }
            }
            Executed::Panicked { message, .. } => {
                record.stopped = Some(format!("{fault}: {message}"));
                break;
            }
        }
        if i + 1 < total && !pause.is_zero() {
            progress.line(&format!("  pause {}", humantime::format_duration(pause)));
            let mut during_pause = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = during_pause.wait_for(Option::is_some) => {
                    record.stopped = Some("interrupted during a pause".into());
                    break;
                }
            }
        }
    }
    record
}

fn plan_status(record: &GamedayRecord) -> Status {
    let worst = record
        .runs
        .iter()
        .map(|r| status_of(r.verdict.outcome))
        .max_by_key(|s| match s {
            Status::Pass => 0,
            Status::VerdictFailed => 1,
            Status::InputError => 2,
            Status::TeardownFailed => 3,
        })
        .unwrap_or(Status::VerdictFailed);
    match (&record.stopped, worst) {
        (Some(_), Status::Pass) => Status::VerdictFailed,
        _ => worst,
    }
}

/// The scorecard as plain text for the terminal.
fn scorecard_block(record: &GamedayRecord) -> String {
    let rows = crate::report::scorecard::scorecard(&record.runs);
    let mut out = format!("\nGame day: {}\n", record.plan);
    out.push_str(&format!(
        "  {:<12} {:>9} {:>12} {:>18} {:>19} {:>6}\n",
        "CATEGORY", "SCENARIOS", "IMPACT SEEN", "RECOVERED IN TIME", "TEARDOWN VERIFIED", "SCORE"
    ));
    for row in &rows {
        out.push_str(&format!(
            "  {:<12} {:>9} {:>12} {:>18} {:>19} {:>5}%\n",
            row.category.as_str(),
            row.scenarios,
            row.impact_seen,
            row.recovered_in_time,
            row.teardown_verified,
            row.score
        ));
    }
    for run in &record.runs {
        out.push_str(&format!(
            "  {:<28} {}\n",
            run.fault.id,
            run.verdict.summary()
        ));
    }
    if let Some(why) = &record.stopped {
        out.push_str(&format!("  stopped: {why}\n"));
    }
    out
}
