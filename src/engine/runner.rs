//! The runner: carries out the effects of the pure run state machine. It owns the
//! probe and sampler tasks, injects and tears down through `inject.rs` in tasks of
//! their own (so probes keep flowing meanwhile), keeps time, and reports to whoever
//! watches (the headless CLI's progress lines, the console) over a channel.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::inject::{self, Active, InjectFailure, Step, StepOutcome};
use super::journal::{Event, Journal};
use super::record::{FaultSummary, RunRecord, TeardownStep, TimelineEntry};
use super::run::{Effect, Input, Phase, ProbeRole, Run, RunSetup, StopReason};
use super::step::{next_deadline, step};
use crate::catalog::FaultSpec;
use crate::driver::dispatch::RunContext;
use crate::driver::proxy::running::{self, RunningProxy};
use crate::driver::proxy::FaultProxy;
use crate::driver::targets::Targets;
use crate::driver::DriverError;
use crate::observe::{MetricBatch, ProbeSample, ProbeSpec, SamplerSet};

/// The runtime experiments run on: one thread. The engine waits on sockets and timers
/// almost all the time, and one thread saves the cross-thread wake-ups that cost a
/// multi-thread runtime most of its CPU here (BENCHMARKS.md, "Engine CPU").
pub fn engine_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Everything one experiment needs, checked before it starts.
#[derive(Debug)]
pub struct Experiment {
    pub run_id: String,
    pub spec: FaultSpec,
    pub steps: Vec<Step>,
    pub targets: Targets,
    /// Parameter values as used, by name.
    pub params: BTreeMap<String, String>,
    pub probes: Vec<(ProbeSpec, ProbeRole)>,
    pub samplers: SamplerSet,
    pub sample_interval: Duration,
    pub stable_for: u32,
    pub observe_for: Option<Duration>,
    pub ttl: Duration,
    pub preflight_timeout: Duration,
}

/// How approval is given.
#[derive(Debug, Clone)]
pub enum GateMode {
    /// Approved ahead (headless `--yes`): the words say how.
    Approved(String),
    /// Ask the watcher ([`EngineEvent::GateNeeded`]) and wait for
    /// [`EngineCmd::Approve`] or [`EngineCmd::Refuse`].
    Ask,
}

/// Commands to a running experiment.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineCmd {
    Approve {
        by: String,
    },
    Refuse {
        why: String,
    },
    Stop(StopReason),
    Note(String),
    /// Give the fault this much more time before its TTL tears it down.
    ExtendTtl(Duration),
}

/// What a running experiment reports.
#[derive(Debug, Clone)]
pub enum EngineEvent {
    Phase(Phase),
    Timeline(TimelineEntry),
    Probe(ProbeSample),
    Metrics(MetricBatch),
    /// Preflight passed: the gate may be shown, with the blast radius of each step
    /// as planned against the real target ("hold 97 of 100 connections").
    GateNeeded {
        blast_radius: Vec<String>,
    },
    Finished(Box<RunRecord>),
}

enum Work {
    Injected(Result<Active, InjectFailure>),
    TornDown(Vec<StepOutcome>),
}

/// Runs one experiment from preflight to verdict and returns its record. Every exit
/// path tears down what was injected; a panic elsewhere drops the holds (session-bound
/// faults end) and leaves the journal to `teardown --dangling`.
pub async fn run_experiment(
    exp: Experiment,
    journal: Journal,
    gate: GateMode,
    mut cmds: mpsc::Receiver<EngineCmd>,
    events: mpsc::Sender<EngineEvent>,
) -> RunRecord {
    let started_at = super::journal::now_rfc3339();
    let cancel = CancellationToken::new();
    let (probe_tx, mut probe_rx) = mpsc::channel::<ProbeSample>(256);
    let (metric_tx, mut metric_rx) = mpsc::channel::<MetricBatch>(64);
    let specs: Vec<ProbeSpec> = exp.probes.iter().map(|(s, _)| s.clone()).collect();
    let run_proxy = start_run_proxy(&exp).await;
    let (proxy, proxy_problem, proxy_note) = (run_proxy.own, run_proxy.problem, run_proxy.note);
    let mut samplers = exp.samplers.clone();
    if let Some(running) = &proxy {
        samplers.proxy = Some(running.proxy().stats_reader());
    }
    // Probes and samplers tick on one grid, so what falls due together wakes once.
    let origin = Instant::now();
    let mut tasks = crate::observe::spawn_probes(&specs, origin, probe_tx, cancel.clone());
    tasks.extend(crate::observe::spawn_samplers(
        samplers,
        exp.sample_interval,
        origin,
        metric_tx.clone(),
        cancel.clone(),
    ));

    let setup = setup_of(&exp);
    let now = Instant::now();
    let mut run = Run::new(setup, now);
    let (mut problems, blast_radius) = preflight_problems(&exp, &journal).await;
    problems.extend(proxy_problem);
    let notes = proxy_note.into_iter().collect();
    let mut pending: Vec<Effect> = step(&mut run, Input::Start { problems, notes }, now);
    let mut active: Option<Active> = None;
    let (work_tx, mut work_rx) = mpsc::channel::<Work>(2);
    let mut phase = run.phase;
    let mut commands_open = true;
    let _ = events.send(EngineEvent::Phase(phase)).await;

    loop {
        for effect in std::mem::take(&mut pending) {
            match effect {
                Effect::AskGate => match &gate {
                    GateMode::Approved(how) => {
                        let how = how.clone();
                        approve(&mut run, &exp, &journal, how, &mut pending);
                    }
                    GateMode::Ask => {
                        let needed = EngineEvent::GateNeeded {
                            blast_radius: blast_radius.clone(),
                        };
                        let _ = events.send(needed).await;
                    }
                },
                Effect::Inject => spawn_inject(&exp, &journal, work_tx.clone()),
                Effect::Teardown => match active.take() {
                    Some(on) => spawn_teardown(on, &exp, &journal, work_tx.clone()),
                    None => pending.extend(step(
                        &mut run,
                        Input::TornDown { steps: vec![] },
                        Instant::now(),
                    )),
                },
                Effect::Timeline(entry) => {
                    tracing::info!(run = %exp.run_id, "{}", entry.text);
                    let _ = events.send(EngineEvent::Timeline(entry)).await;
                }
                Effect::Finished => {}
            }
        }
        if run.phase != phase {
            phase = run.phase;
            let _ = events.send(EngineEvent::Phase(phase)).await;
        }
        if run.phase == Phase::Done && pending.is_empty() {
            break;
        }
        if !pending.is_empty() {
            continue;
        }
        let deadline = next_deadline(&run);
        let input = tokio::select! {
            Some(sample) = probe_rx.recv() => {
                let _ = events.try_send(EngineEvent::Probe(sample.clone()));
                Input::Probe(sample)
            }
            Some(batch) = metric_rx.recv() => {
                let _ = events.try_send(EngineEvent::Metrics(batch.clone()));
                Input::Metrics(batch)
            }
            Some(work) = work_rx.recv() => match work {
                Work::Injected(Ok(on)) => {
                    if proxy.is_none() {
                        let samplers = (origin, &metric_tx, &cancel);
                        start_proxy_samplers(&on, &exp, samplers, &mut tasks);
                    }
                    let blast = on.steps.iter().map(|s| s.blast_radius.clone()).collect();
                    active = Some(on);
                    Input::Injected { blast_radius: blast }
                }
                Work::Injected(Err(failure)) => Input::InjectFailed {
                    error: failure.error.to_string(),
                    rollback: failure.rollback.iter().map(teardown_step).collect(),
                },
                Work::TornDown(outcomes) => Input::TornDown {
                    steps: outcomes.iter().map(teardown_step).collect(),
                },
            },
            cmd = cmds.recv(), if commands_open => match cmd {
                Some(EngineCmd::Approve { by }) if run.phase == Phase::Gate => {
                    approve(&mut run, &exp, &journal, by, &mut pending);
                    continue;
                }
                Some(EngineCmd::Approve { .. }) => continue,
                Some(EngineCmd::Refuse { why }) => Input::GateRefused { why },
                Some(EngineCmd::Stop(reason)) => Input::Stop(reason),
                Some(EngineCmd::Note(text)) => Input::Note(text),
                Some(EngineCmd::ExtendTtl(by)) => Input::ExtendTtl(by),
                // Whoever drove the run is gone: stop as an interrupt would, once.
                None => {
                    commands_open = false;
                    Input::Stop(StopReason::Interrupt)
                }
            },
            _ = sleep_until_some(deadline) => Input::Tick,
        };
        pending.extend(step(&mut run, input, Instant::now()));
    }

    // The state machine only finishes once teardown is done; should that ever not
    // hold, nothing injected is left on.
    if let Some(on) = active.take() {
        tracing::warn!(run = %exp.run_id, "run ended with its fault on; tearing it down");
        inject::teardown(&journal, on, &exp.targets).await;
    }
    cancel.cancel();
    for task in tasks {
        let _ = task.await;
    }
    if let Some(running) = proxy {
        running.shutdown().await;
    }
    let record = super::verdict::build_record(
        &run,
        fault_summary(&exp.spec),
        describe_targets(&exp),
        exp.params.clone(),
        exp.run_id.clone(),
        started_at,
    );
    let verdict = Event::Verdict {
        outcome: record.verdict.outcome.word().to_string(),
        ended_by: record.verdict.ended_by.clone(),
        time_to_impact_ms: record.timings.time_to_impact_ms,
        time_to_recover_ms: record.timings.time_to_recover_ms,
    };
    if let Err(e) = journal.append(&exp.run_id, &exp.spec.id, 0, verdict) {
        tracing::warn!("{e}");
    }
    let _ = events
        .send(EngineEvent::Finished(Box::new(record.clone())))
        .await;
    record
}

/// The run's fault proxy as [`start_run_proxy`] left it.
struct RunProxy {
    /// The proxy this run started, when it started one.
    own: Option<RunningProxy>,
    /// Why the run cannot go on (a preflight problem).
    problem: Option<String>,
    /// What the timeline should say about it (the address is served by another
    /// process, so steady state is measured through that one).
    note: Option<String>,
}

/// Starts the fault proxy of the run's proxy target, passing traffic, so steady state
/// is measured through it and a fault only changes what it does. Nothing is started
/// when one already runs at that address: in this process (the console's, a lab's),
/// or in another process (a `chaosdeck lab up`), whose proxy then carries the
/// traffic. A fault with proxy actions cannot change another process's proxy, so for
/// it that is a problem.
async fn start_run_proxy(exp: &Experiment) -> RunProxy {
    let mut out = RunProxy {
        own: None,
        problem: None,
        note: None,
    };
    let Some(target) = &exp.targets.proxy else {
        return out;
    };
    if running::running(target.listen).is_some() {
        return out;
    }
    if served_by_another_process(target.listen).await {
        match acts_on_proxy(&exp.steps) {
            true => out.problem = Some(foreign_proxy_problem(target.listen)),
            false => {
                out.note = Some(format!(
                    "fault proxy {} is served by another process; the run starts none of its own and measures steady state through that one",
                    target.listen
                ))
            }
        }
        return out;
    }
    match FaultProxy::start(target.listen, target.upstream.clone()).await {
        Ok(proxy) => out.own = Some(RunningProxy::register(target.listen, proxy)),
        Err(e) => out.problem = Some(e.to_string()),
    }
    out
}

/// Whether any step acts on the fault proxy.
pub fn acts_on_proxy(steps: &[Step]) -> bool {
    steps
        .iter()
        .any(|s| s.action.target_kind() == Some(crate::catalog::TargetKind::Proxy))
}

/// Whether `listen` is taken by a listener this process did not register: binding it
/// fails with "address in use".
pub async fn served_by_another_process(listen: std::net::SocketAddr) -> bool {
    if running::running(listen).is_some() {
        return false;
    }
    matches!(
        tokio::net::TcpListener::bind(listen).await,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse
    )
}

/// Why a fault with proxy actions cannot run against a proxy another process serves.
pub fn foreign_proxy_problem(listen: std::net::SocketAddr) -> String {
    format!(
        "fault proxy {listen}: it belongs to another process (such as a `chaosdeck lab up`), and only that process can change what it does; run network faults from the console that started it"
    )
}

/// Sleeps until `deadline`, or for ever when there is none.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn setup_of(exp: &Experiment) -> RunSetup {
    let probe_interval = exp
        .probes
        .iter()
        .map(|(s, _)| s.interval)
        .max()
        .unwrap_or(crate::observe::probe::DEFAULT_INTERVAL);
    RunSetup {
        fault_id: exp.spec.id.clone(),
        severity: exp.spec.severity,
        expect_impact: exp.spec.expect.impact.clone(),
        recover_within: exp.spec.expect.recover_within.as_duration(),
        self_healing: exp.spec.expect.self_healing,
        ttl: exp.ttl,
        observe_for: exp.observe_for,
        probes: exp.probes.iter().map(|(_, r)| r.clone()).collect(),
        stable_for: exp.stable_for,
        wait_for_sources: match exp.samplers.postgres {
            Some(_) => vec!["postgres".to_string()],
            None => vec![],
        },
        preflight_timeout: exp.preflight_timeout,
        probe_interval,
    }
}

/// What must be true before a fault may go on: nothing dangling, every step plans.
/// What stands in the way of injecting, and the blast radius of each step as planned.
async fn preflight_problems(exp: &Experiment, journal: &Journal) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut blast_radius = Vec::new();
    match journal.records() {
        Ok(records) => {
            let on = super::recover::runs_on(&records, None);
            if !on.is_empty() {
                problems.push(super::recover::still_on_problem(&on));
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    let (planned, blast) = plan_steps(exp).await;
    problems.extend(planned);
    blast_radius.extend(blast);
    (problems, blast_radius)
}

/// Plans every step against its target without touching anything, as `inject
/// --dry-run` does: the problems (one line each, see [`plan_problem`]) and the
/// blast radius of each step that plans.
async fn plan_steps(exp: &Experiment) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut blast_radius = Vec::new();
    let ctx = context(exp);
    for (kind, result) in inject::dry_run(&exp.steps, &exp.targets, &ctx).await {
        match result {
            Ok(blast) => blast_radius.push(blast),
            Err(e) => problems.push(plan_problem(&kind, &e)),
        }
    }
    (problems, blast_radius)
}

/// What keeps the experiment's fault from going on, found before anything runs:
/// each step planned against its target (the target answers, the password is
/// right, the preconditions hold), and a fault proxy that another process serves
/// for a fault that would change it. One line each; touches nothing. The runner
/// checks the same again in preflight.
pub async fn target_problems(exp: &Experiment) -> Vec<String> {
    let (mut problems, _) = plan_steps(exp).await;
    if let Some(proxy) = &exp.targets.proxy {
        if acts_on_proxy(&exp.steps) && served_by_another_process(proxy.listen).await {
            problems.push(foreign_proxy_problem(proxy.listen));
        }
    }
    problems
}

/// A step a driver cannot plan, on one line: the action, the target it names
/// (password masked) and why. A masked password is followed by a space, never by
/// punctuation, so masking the line again (progress lines do) leaves it whole.
pub fn plan_problem(kind: &str, error: &DriverError) -> String {
    let mask = crate::driver::postgres::conn::mask_password;
    match error {
        DriverError::Unreachable { target, message } | DriverError::Failed { target, message } => {
            format!("{kind} on {} — {}", mask(target), mask(message))
        }
        DriverError::Precondition {
            target,
            action,
            reason,
        } => format!(
            "{kind} on {} — cannot run {action}: {}",
            mask(target),
            mask(reason)
        ),
        DriverError::Input(text) => format!("{kind}: {}", mask(text)),
    }
}

fn context(exp: &Experiment) -> RunContext {
    RunContext {
        run_id: exp.run_id.clone(),
        fault_id: exp.spec.id.clone(),
        ttl: exp.ttl,
    }
}

fn approve(run: &mut Run, exp: &Experiment, journal: &Journal, by: String, out: &mut Vec<Effect>) {
    let target = describe_targets(exp);
    let event = Event::Approved {
        severity: exp.spec.severity.to_string(),
        target: target.clone(),
        how: by.clone(),
    };
    if let Err(e) = journal.append(&exp.run_id, &exp.spec.id, 0, event) {
        tracing::warn!("{e}");
    }
    out.extend(step(
        run,
        Input::GateApproved { by, target },
        Instant::now(),
    ));
}

fn spawn_inject(exp: &Experiment, journal: &Journal, tx: mpsc::Sender<Work>) {
    let (journal, ctx) = (journal.clone(), context(exp));
    let (steps, targets) = (exp.steps.clone(), exp.targets.clone());
    tokio::spawn(async move {
        let result = inject::inject(&journal, &ctx, &steps, &targets, |line| {
            tracing::info!("{line}");
        })
        .await;
        // If the runner is gone, tear down here rather than leave the fault on.
        if let Err(tokio::sync::mpsc::error::SendError(Work::Injected(Ok(active)))) =
            tx.send(Work::Injected(result)).await
        {
            inject::teardown(&journal, active, &targets).await;
        }
    });
}

fn spawn_teardown(active: Active, exp: &Experiment, journal: &Journal, tx: mpsc::Sender<Work>) {
    let (journal, targets) = (journal.clone(), exp.targets.clone());
    tokio::spawn(async move {
        let outcomes = inject::teardown(&journal, active, &targets).await;
        let _ = tx.send(Work::TornDown(outcomes)).await;
    });
}

/// Where a sampler started mid-run sends and stops: the run's tick grid, its
/// channel, its cancel token.
type SamplerLink<'a> = (
    Instant,
    &'a mpsc::Sender<MetricBatch>,
    &'a CancellationToken,
);

fn start_proxy_samplers(
    active: &Active,
    exp: &Experiment,
    (origin, tx, cancel): SamplerLink<'_>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) {
    for step in &active.steps {
        if let Some(reader) = step.hold.as_ref().and_then(|h| h.proxy_stats()) {
            let set = SamplerSet {
                proxy: Some(reader.clone()),
                ..SamplerSet::default()
            };
            tasks.extend(crate::observe::spawn_samplers(
                set,
                exp.sample_interval,
                origin,
                tx.clone(),
                cancel.clone(),
            ));
        }
    }
}

fn teardown_step(outcome: &StepOutcome) -> TeardownStep {
    TeardownStep {
        fault: outcome.fault.clone(),
        action: outcome.kind.clone(),
        result: outcome.describe(),
        verified: outcome.verified(),
    }
}

fn fault_summary(spec: &FaultSpec) -> FaultSummary {
    FaultSummary {
        id: spec.id.clone(),
        name: spec.name.clone(),
        category: spec.category,
        severity: spec.severity,
        expect_impact: spec.expect.impact.clone(),
        recover_within_ms: spec.expect.recover_within.as_duration().as_millis() as u64,
        self_healing: spec.expect.self_healing,
    }
}

/// What the fault's steps act on, in words, for approvals and reports: never a
/// password.
pub fn describe_targets(exp: &Experiment) -> String {
    use crate::catalog::TargetKind;
    // Only what the fault's steps act on: a container fault's target is the
    // container, not every part of the bundle it was run with.
    let used: Vec<TargetKind> = exp
        .steps
        .iter()
        .filter_map(|step| step.action.target_kind())
        .collect();
    let uses = |kind: TargetKind| used.contains(&kind);
    let mut parts = Vec::new();
    let record = exp.targets.record();
    if let Some(c) = record.container.filter(|_| uses(TargetKind::Docker)) {
        parts.push(format!("container {c}"));
    }
    if let Some(p) = record.process.filter(|_| uses(TargetKind::Process)) {
        parts.push(format!("process {p}"));
    }
    if let Some(p) = record.proxy.filter(|_| uses(TargetKind::Proxy)) {
        parts.push(format!("proxy {}={}", p.listen, p.upstream));
    }
    if uses(TargetKind::Host) {
        parts.push("this host".into());
    }
    // PostgreSQL last: masking this text again (reports, progress lines do) takes
    // what follows a masked password up to the next space with it, so nothing does.
    if let Some(pg) = exp
        .targets
        .postgres
        .as_ref()
        .filter(|_| uses(TargetKind::Postgres))
    {
        parts.push(format!("postgres {}", pg.conn.masked()));
    }
    if parts.is_empty() {
        parts.push(match exp.spec.target {
            TargetKind::Host => "this host".into(),
            // Commands bring their own target (kubectl's current context, a unit):
            // the kind's name, as `inject` prints it.
            TargetKind::Command | TargetKind::Kubernetes | TargetKind::Compound => {
                exp.spec.target.to_string()
            }
            kind => format!("no {kind} target given"),
        });
    }
    crate::driver::postgres::conn::mask_password(&parts.join(", "))
}
