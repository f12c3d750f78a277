//! `chaosdeck run ID`: one experiment headless — preflight, the `--yes` gate,
//! inject, observe, teardown, recovery watch, verdict — with progress lines, a
//! result block, and a report when asked.

use std::path::{Path, PathBuf};

use super::approval::Approval;
use super::args::RunArgs;
use super::execute::{execute, Executed, Progress};
use super::Status;
use crate::catalog::Catalog;
use crate::config::{parse_probe_flag, Config, ObserveConfig, TargetConfig};
use crate::engine::experiment::{self, Watch};
use crate::engine::journal::{new_run_id, Journal};
use crate::engine::record::{Outcome, Recovery, RecoveryAnchor, RunRecord};
use crate::engine::run_store::RunStore;
use crate::engine::runner::Experiment;

/// Where a run reads from and writes to.
pub struct Context<'a> {
    pub catalog_dirs: &'a [PathBuf],
    pub state_dir: Option<&'a PathBuf>,
    pub config: Option<&'a PathBuf>,
}

pub fn run(ctx: &Context, args: &RunArgs) -> Status {
    let progress = if args.json {
        Progress::Stderr
    } else {
        Progress::Stdout
    };
    let prepared = prepare(ctx, args);
    let (exp, approved_by) = match prepared {
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
    let problems = runtime.block_on(crate::engine::runner::target_problems(&exp));
    if !problems.is_empty() {
        for problem in problems {
            eprintln!("{}", input_problem(&exp.spec.id, &problem));
        }
        return Status::InputError;
    }
    progress.line(&format!(
        "Running {} ({}, {}) as run {}",
        exp.spec.id, exp.spec.name, exp.spec.severity, exp.run_id
    ));
    let store = RunStore::beside(&journal);
    let executed = runtime.block_on(async {
        let stop = super::execute::listen_for_stops();
        execute(exp, journal, approved_by, progress, stop).await
    });
    let record = match executed {
        Executed::Finished { record, .. } => record,
        Executed::Panicked {
            message,
            all_verified,
        } => {
            eprintln!("{message}");
            return match all_verified {
                true => Status::VerdictFailed,
                false => Status::TeardownFailed,
            };
        }
    };
    super::report::save(&store, &record);
    let shapes = Shapes {
        write: crate::report::write_report,
        json: crate::report::run_json,
        text: result_block,
    };
    deliver(
        &*record,
        args.report.as_deref(),
        args.json,
        progress,
        shapes,
    );
    status_of(record.verdict.outcome)
}

/// A target problem found before anything ran, as the line bad input gets:
/// `cannot run ID: …`, password masked.
pub fn input_problem(fault: &str, problem: &str) -> String {
    crate::driver::postgres::conn::mask_password(&format!("cannot run {fault}: {problem}"))
}

/// Refuses a `--report` path the report could not be written to once the run is over:
/// its folder is missing, is not a folder or cannot be written to, or the Markdown or
/// JSON file beside it would land on a folder. Checked before anything runs, so a run
/// never ends with its report lost.
pub fn check_report_path(path: &Path) -> Result<(), String> {
    let cannot = |why: String| format!("cannot write report \"{}\": {why}", path.display());
    let folder = match path.parent().filter(|f| !f.as_os_str().is_empty()) {
        Some(folder) => folder,
        None => Path::new("."),
    };
    if !folder.is_dir() {
        let missing = crate::report::ReportError::MissingFolder {
            path: path.to_path_buf(),
            folder: folder.to_path_buf(),
        };
        return Err(missing.to_string());
    }
    let writable = nix::unistd::access(
        folder,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    );
    if let Err(e) = writable {
        return Err(cannot(format!(
            "folder \"{}\" cannot be written to ({e}); choose another path",
            folder.display()
        )));
    }
    // Where `report::write_report` puts the two: `x.json` → `x.md` beside it,
    // anything else → `.json` beside it.
    let other = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => path.with_extension("md"),
        _ => path.with_extension("json"),
    };
    for file in [path.to_path_buf(), other] {
        if file.is_dir() {
            return Err(cannot(format!(
                "\"{}\" is a folder; name a file such as {}",
                file.display(),
                folder.join("report.md").display()
            )));
        }
    }
    Ok(())
}

/// Where a report went: the Markdown file and the JSON file.
type Written = Result<(PathBuf, PathBuf), crate::report::ReportError>;

/// How one kind of record is written and printed.
pub struct Shapes<T> {
    pub write: fn(&Path, &T) -> Written,
    pub json: fn(&T) -> String,
    pub text: fn(&T) -> String,
}

/// Writes the report when asked, then prints the record as JSON or as text.
pub fn deliver<T>(
    record: &T,
    report: Option<&Path>,
    json: bool,
    progress: Progress,
    shapes: Shapes<T>,
) {
    if let Some(path) = report {
        match (shapes.write)(path, record) {
            Ok((md, json)) => {
                progress.line(&format!("Report: {} and {}", md.display(), json.display()))
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    if json {
        println!("{}", (shapes.json)(record));
    } else {
        print!("{}", (shapes.text)(record));
    }
}

/// The journal of the state folder and the runtime experiments run on.
pub fn open_journal(ctx: &Context) -> Result<(Journal, tokio::runtime::Runtime), String> {
    let dir = super::setup::state_dir(ctx.state_dir);
    let journal = Journal::open(&dir).map_err(|e| e.to_string())?;
    let runtime = crate::engine::runner::engine_runtime()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    Ok((journal, runtime))
}

pub fn status_of(outcome: Outcome) -> Status {
    match outcome {
        Outcome::Pass => Status::Pass,
        Outcome::Fail | Outcome::Aborted => Status::VerdictFailed,
        Outcome::TeardownFailed => Status::TeardownFailed,
    }
}

/// Loads `--config` when given.
pub fn load_config(path: Option<&PathBuf>) -> Result<Option<Config>, String> {
    path.map(|p| Config::load(p).map_err(|e| e.to_string()))
        .transpose()
}

/// One experiment as asked for on the command line or in a game-day plan.
pub struct Request<'a> {
    pub fault_id: &'a str,
    pub target: Option<&'a str>,
    pub flag_targets: &'a super::args::TargetArgs,
    pub probes: &'a [String],
    /// Only these probes of the config (all when empty).
    pub only_probes: &'a [String],
    pub params: &'a [String],
    pub approval: Approval,
    pub observe: ObserveConfig,
    pub duration: std::time::Duration,
    pub ttl: Option<std::time::Duration>,
    /// The request is an experiment of a game-day plan: its target is named with
    /// `target:`, there are no target flags.
    pub plan: bool,
}

/// Everything checked before anything is touched; errors are input errors (exit 2).
fn prepare(ctx: &Context, args: &RunArgs) -> Result<(Experiment, String), String> {
    if let Some(path) = &args.report {
        check_report_path(path)?;
    }
    let catalog = Catalog::load(ctx.catalog_dirs).map_err(|e| e.to_string())?;
    let config = load_config(ctx.config)?;
    let Some(id) = args.fault_id() else {
        return Err("run needs a fault id, such as: chaosdeck run db-max-connections --conn … --probe http://…".into());
    };
    let mut observe = config.as_ref().map(|c| c.observe).unwrap_or_default();
    if let Some(interval) = args.interval {
        observe.interval = interval.as_duration();
    }
    if let Some(n) = args.stable_for {
        if n == 0 {
            return Err("--stable-for 0: at least one passing check is needed; try 3".into());
        }
        observe.stable_for = n;
    }
    let request = Request {
        fault_id: id,
        target: args.target.as_deref(),
        flag_targets: &args.targets,
        probes: &args.probes,
        only_probes: &[],
        params: &args.params,
        approval: args.approval,
        observe,
        duration: args.duration.as_duration(),
        ttl: args.ttl.map(|t| t.as_duration()),
        plan: false,
    };
    build(&catalog, config.as_ref(), &request, ctx.state_dir)
}

/// Resolves one request into an experiment and the words of its approval.
pub fn build(
    catalog: &Catalog,
    config: Option<&Config>,
    request: &Request,
    state_dir: Option<&PathBuf>,
) -> Result<(Experiment, String), String> {
    let flags = super::targets::from_args(request.flag_targets).map_err(|e| e.to_string())?;
    let (targets, chosen) = super::setup::choose_targets(config, request.target, flags)?;
    let one_off = one_off_probes(request.probes, &request.observe, &targets)?;
    let configured = select_probes(config, request.only_probes)?;
    let probes = experiment::probe_roles(configured, one_off);
    check_unique_names(&probes)?;
    let approval = match config {
        Some(c) => request.approval.with_policy(c.policy.max_severity),
        None => request.approval,
    };
    if let Some(spec) = catalog.get(request.fault_id) {
        check_approval(&approval, spec, request.plan)?;
    }
    let resolved = experiment::resolve(
        catalog,
        request.fault_id,
        request.params,
        targets,
        request.ttl,
    )?;
    check_targets_given(&resolved, config, chosen.as_deref(), request.plan)?;
    let approved_by = approval.words(&resolved.spec);
    let watch = Watch {
        probes,
        observe: request.observe,
        observe_for: Some(request.duration),
        host_disk: host_disk(state_dir),
    };
    Ok((
        experiment::experiment(new_run_id(), resolved, watch),
        approved_by,
    ))
}

/// The policy, then `--yes` (and `--allow-critical`), as `inject` checks them; without
/// `--yes` the hint points at `inject --dry-run`, since `run` and `gameday` have no
/// dry run of their own.
fn check_approval(
    approval: &Approval,
    spec: &crate::catalog::FaultSpec,
    plan: bool,
) -> Result<(), String> {
    approval.check_policy(spec)?;
    if !approval.yes {
        let (what, flags) = match plan {
            true => ("a game day", "--config FILE --target NAME"),
            false => ("run", "the same target flags"),
        };
        return Err(format!(
            "\"{}\" is {} severity: pass --yes to approve it without the console's gate ({}); {what} has no dry run, `chaosdeck inject {} --dry-run` with {flags} shows what it would do",
            spec.id,
            spec.severity,
            spec.severity.gate(),
            spec.id
        ));
    }
    approval.check(spec)
}

/// Refuses a fault one of whose steps acts on a kind of target (PostgreSQL, a
/// container, a process, the fault proxy) that the targets lack, saying how to give
/// one: a target of the config that has one, or the flag. The hints name no
/// `password=` key, so masking leaves them whole.
pub(super) fn check_targets_given(
    resolved: &experiment::Resolved,
    config: Option<&Config>,
    chosen: Option<&str>,
    plan: bool,
) -> Result<(), String> {
    use crate::catalog::TargetKind;
    let targets = &resolved.targets;
    for step in &resolved.steps {
        type Has = fn(&TargetConfig) -> bool;
        let Some(kind) = step.action.target_kind() else {
            continue;
        };
        let Some((what, flag)) = crate::driver::targets::part_hint(kind) else {
            continue;
        };
        let (key, given, has): (&str, bool, Has) = match kind {
            TargetKind::Postgres => ("postgres", targets.postgres.is_some(), |t| {
                t.postgres.is_some()
            }),
            TargetKind::Docker => ("container", targets.container.is_some(), |t| {
                t.container.is_some()
            }),
            TargetKind::Process => ("process", targets.process.is_some(), |t| {
                t.process.is_some()
            }),
            TargetKind::Proxy => ("proxy", targets.proxy.is_some(), |t| t.proxy.is_some()),
            _ => continue,
        };
        if given {
            continue;
        }
        let having: Vec<&str> = config
            .map(|c| {
                c.targets
                    .iter()
                    .filter(|(_, t)| has(t))
                    .map(|(name, _)| name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let lacking = match (chosen, config) {
            (Some(name), Some(c)) => {
                format!("target \"{name}\" of {} has none", c.path.display())
            }
            _ => format!("no target with {what} is given"),
        };
        let mut ways = Vec::new();
        let naming = if plan { "`target:`" } else { "--target" };
        if !having.is_empty() {
            ways.push(format!(
                "name one that has with {naming} ({})",
                having.join(", ")
            ));
        }
        match (plan, config) {
            (false, Some(_)) => ways.push(format!("pass {flag}")),
            (false, None) => ways.push(format!(
                "pass {flag} (or --config FILE with a target that has `{key}:`)"
            )),
            (true, Some(c)) if having.is_empty() => ways.push(format!(
                "add a target with `{key}:` to {}",
                c.path.display()
            )),
            (true, Some(_)) => {}
            (true, None) => ways.push(format!(
                "name a config with a target that has `{key}:` (`config:` in the plan, or --config)"
            )),
        }
        return Err(format!(
            "{} acts on {what}, and {lacking}: {}",
            resolved.spec.id,
            ways.join(", or ")
        ));
    }
    Ok(())
}

/// The config's probes, or only the named ones.
fn select_probes(
    config: Option<&Config>,
    only: &[String],
) -> Result<Vec<crate::config::ConfiguredProbe>, String> {
    let all = config.map(|c| c.probes()).unwrap_or_default();
    if only.is_empty() {
        return Ok(all);
    }
    for name in only {
        if !all.iter().any(|p| &p.spec.name == name) {
            let known: Vec<&str> = all.iter().map(|p| p.spec.name.as_str()).collect();
            return Err(format!(
                "probes: unknown probe \"{name}\"; the config defines {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    Ok(all
        .into_iter()
        .filter(|p| only.contains(&p.spec.name))
        .collect())
}

fn one_off_probes(
    flags: &[String],
    observe: &ObserveConfig,
    targets: &crate::driver::targets::Targets,
) -> Result<Vec<crate::observe::ProbeSpec>, String> {
    let pg = targets.postgres.as_ref().map(|p| &p.conn);
    flags
        .iter()
        .map(|flag| parse_probe_flag(flag, observe, pg))
        .collect()
}

fn check_unique_names(
    probes: &[(crate::observe::ProbeSpec, crate::engine::ProbeRole)],
) -> Result<(), String> {
    for (i, (spec, _)) in probes.iter().enumerate() {
        if probes[..i].iter().any(|(other, _)| other.name == spec.name) {
            return Err(format!(
                "two probes are named \"{}\"; name one of them with --probe NAME=…",
                spec.name
            ));
        }
    }
    Ok(())
}

/// The disk the host sampler watches: the one holding the state folder.
pub fn host_disk(state_dir: Option<&PathBuf>) -> PathBuf {
    let dir = super::setup::state_dir(state_dir);
    if dir.exists() {
        dir
    } else {
        Path::new("/").to_path_buf()
    }
}

fn ms(value: Option<u64>) -> String {
    match value {
        Some(ms) if ms >= 10_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => format!("{ms} ms"),
        None => "—".into(),
    }
}

/// The block printed at the end of a run.
pub fn result_block(record: &RunRecord) -> String {
    let t = &record.timings;
    let v = &record.verdict;
    let word = v.word();
    let from = match t.recovery_from {
        RecoveryAnchor::TeardownDone => "from teardown done",
        RecoveryAnchor::Injection => "from injection",
    };
    let mut out = String::new();
    out.push_str(&format!("\nResult: {word}\n"));
    out.push_str(&format!(
        "  fault            {} ({})\n",
        record.fault.id, record.fault.name
    ));
    out.push_str(&format!("  target           {}\n", record.target));
    out.push_str(&format!("  ended by         {}\n", v.ended_by));
    out.push_str(&format!("  time to impact   {}\n", ms(t.time_to_impact_ms)));
    out.push_str(&format!("  teardown         {}\n", ms(t.teardown_ms)));
    let within = ms(Some(record.fault.recover_within_ms));
    let recover = match record.recovery() {
        unjudged @ (Recovery::NotWatched | Recovery::NotMeasured) => {
            format!("— {} (expected within {within})", unjudged.words())
        }
        _ => format!(
            "{} ({from}; expected within {within})",
            ms(t.time_to_recover_ms)
        ),
    };
    out.push_str(&format!("  time to recover  {recover}\n"));
    if !t.restarts.is_empty() {
        let restarts: Vec<String> = t.restarts.iter().map(|(n, c)| format!("{n} {c}")).collect();
        out.push_str(&format!("  restarts         {}\n", restarts.join(", ")));
    }
    for step in &record.teardown {
        out.push_str(&format!(
            "  teardown step    {} {}: {}\n",
            step.fault, step.action, step.result
        ));
    }
    for reason in &v.reasons {
        out.push_str(&format!("  verdict          {reason}\n"));
    }
    // Masking trims the text: the blank line before the block and the newline after
    // it are put back.
    format!("\n{}\n", crate::driver::postgres::conn::mask_password(&out))
}
