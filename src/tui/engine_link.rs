//! The console's I/O side: carries out the commands `update` returns, in tokio tasks
//! that report back as messages. The run's engine, reachability checks, the journal
//! and report files are all reached from here, never from a screen.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use super::app::App;
use super::msg::{Command, Msg, RunStart};
use super::screens::result::ReportPaths;
use crate::catalog::{Catalog, FaultSpec, Severity, TargetKind};
use crate::config::{Config, ConnAsWritten, ObserveConfig};
use crate::driver::targets::Targets;
use crate::engine::experiment::{self, Watch};
use crate::engine::journal::{new_run_id, Journal};
use crate::engine::run_store::RunStore;
use crate::engine::runner::{run_experiment, EngineCmd, GateMode};
use crate::observe::ProbeSpec;

/// How long a reachability check of one target may take.
const REACH_TIMEOUT: Duration = Duration::from_secs(3);

/// How often the console looks whether the journal changed under it: the banner of
/// faults left on follows another terminal within this.
pub const JOURNAL_EVERY: Duration = Duration::from_secs(2);

/// What the console runs against.
#[derive(Debug, Clone)]
pub struct Setup {
    pub catalog: Catalog,
    pub config: Option<Config>,
    /// Target bundles by name: the config's, and `flags` for the command-line ones.
    pub bundles: BTreeMap<String, Targets>,
    /// Connection strings as given (`--conn`, or `postgres.conn` in the config), by
    /// bundle, so an edit that keeps `password=***` keeps the password. Never drawn.
    pub typed_conns: BTreeMap<String, ConnAsWritten>,
    /// Probes given with `--probe`, watched as steady state.
    pub one_off_probes: Vec<ProbeSpec>,
    pub max_severity: Option<Severity>,
    pub state_dir: PathBuf,
    /// The disk the host sampler watches, and this host's name (the critical gate asks
    /// for it): both read once before the console opens, not on its loop.
    pub host_disk: PathBuf,
    pub host_name: String,
    /// Where `e` writes reports.
    pub report_dir: PathBuf,
}

impl Setup {
    /// The configured observation timings, or the defaults.
    pub fn observe(&self) -> ObserveConfig {
        self.config.as_ref().map(|c| c.observe).unwrap_or_default()
    }

    /// Refuses a fault above the policy (`--max-severity`, `policy.max_severity`).
    pub fn policy_allows(&self, spec: &FaultSpec) -> Result<(), String> {
        let config_max = self.config.as_ref().map(|c| c.policy.max_severity);
        let max = match (self.max_severity, config_max) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match max {
            Some(max) if spec.severity > max => Err(format!(
                "{} severity is above the policy's maximum ({max})",
                spec.severity
            )),
            _ => Ok(()),
        }
    }
}

/// A run in progress: where its commands go.
struct RunHandle {
    cmds: mpsc::Sender<EngineCmd>,
}

/// The runs this console started, with their targets, so that after a crash what
/// they left on can be undone from the journal.
pub type StartedRuns = std::sync::Arc<std::sync::Mutex<Vec<(String, Targets)>>>;

/// Carries out commands; owns the engine's command channel while a run lasts.
pub struct Link {
    journal: Journal,
    msgs: mpsc::Sender<Msg>,
    run: Option<RunHandle>,
    started: StartedRuns,
    /// The journal watcher is running.
    watching: bool,
    /// A kubectl check is under way (one at a time, however often `r` is pressed).
    cluster_checking: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Link {
    pub fn new(journal: Journal, msgs: mpsc::Sender<Msg>, started: StartedRuns) -> Link {
        Link {
            journal,
            msgs,
            run: None,
            started,
            watching: false,
            cluster_checking: Default::default(),
        }
    }

    /// Does what one command asks; results arrive later as messages.
    pub fn execute(&mut self, command: Command, app: &App) {
        match command {
            Command::StartRun { fault_id, params } => self.start_run(&fault_id, &params, app),
            Command::Engine(cmd) => self.forward(cmd),
            Command::CheckTargets => self.check_targets(&app.setup),
            Command::ReadJournal => self.read_journal(),
            Command::WatchJournal { every } => self.watch_journal(every),
            Command::TearDownDangling => self.tear_down_dangling(&app.setup, &app.bundle),
            Command::WriteReport => self.write_report(app),
        }
    }

    fn send(&self, msg: Msg) {
        let msgs = self.msgs.clone();
        tokio::spawn(async move {
            let _ = msgs.send(msg).await;
        });
    }

    fn start_run(&mut self, fault_id: &str, params: &[String], app: &App) {
        if self.run.as_ref().is_some_and(|r| !r.cmds.is_closed()) {
            self.send(Msg::RunRefused("a run is already in progress".into()));
            return;
        }
        let targets = app.current_targets();
        let resolved =
            match experiment::resolve(&app.setup.catalog, fault_id, params, targets, None) {
                Ok(r) => r,
                Err(e) => return self.send(Msg::RunRefused(e)),
            };
        if let Err(e) = app.setup.policy_allows(&resolved.spec) {
            return self.send(Msg::RunRefused(format!("{fault_id}: {e}")));
        }
        let configured = app
            .setup
            .config
            .as_ref()
            .map(|c| c.probes())
            .unwrap_or_default();
        let probes = experiment::probe_roles(configured, app.setup.one_off_probes.clone());
        let watch = Watch {
            probes,
            observe: app.setup.observe(),
            observe_for: None,
            host_disk: app.setup.host_disk.clone(),
        };
        let kind = resolved.spec.target;
        let target_name = short_name(kind, &resolved.targets, &app.bundle, &app.setup.host_name);
        let target = resolved
            .targets
            .describe(kind)
            .unwrap_or_else(|| kind.to_string());
        let exp = experiment::experiment(new_run_id(), resolved, watch);
        let start = RunStart {
            run_id: exp.run_id.clone(),
            probes: exp.probes.iter().map(|(_, role)| role.clone()).collect(),
            ttl: exp.ttl,
            target,
            target_name,
        };
        let run_id = exp.run_id.clone();
        let undo_targets = exp.targets.clone();
        if let Ok(mut started) = self.started.lock() {
            started.push((run_id.clone(), undo_targets.clone()));
        }
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let (event_tx, mut event_rx) = mpsc::channel(512);
        self.run = Some(RunHandle { cmds: cmd_tx });
        let msgs = self.msgs.clone();
        let journal = self.journal.clone();
        tokio::spawn(async move {
            let _ = msgs.send(Msg::RunStarted(Box::new(start))).await;
            let engine = tokio::spawn(RunStore::beside(&journal).save_when_done(
                crate::report::run_json,
                run_experiment(exp, journal.clone(), GateMode::Ask, cmd_rx, event_tx),
            ));
            while let Some(event) = event_rx.recv().await {
                if msgs.send(Msg::Engine(event)).await.is_err() {
                    break;
                }
            }
            if let Err(e) = engine.await {
                let undone =
                    crate::engine::recover::undo_run(&journal, &run_id, &undo_targets).await;
                let _ = msgs
                    .send(Msg::RunCrashed(format!(
                        "the engine stopped unexpectedly ({e}); undo from the journal: {}",
                        match undone {
                            Ok(steps) if steps.iter().all(|s| s.verified()) =>
                                "verified".to_string(),
                            Ok(_) => "something is left: see the history screen".to_string(),
                            Err(e) => e,
                        }
                    )))
                    .await;
            }
        });
    }

    /// Forwards a command to the run; a finished run's channel is dropped here.
    fn forward(&mut self, cmd: EngineCmd) {
        let Some(run) = &self.run else {
            return;
        };
        if run.cmds.is_closed() {
            self.run = None;
            return;
        }
        let cmds = run.cmds.clone();
        tokio::spawn(async move {
            let _ = cmds.send(cmd).await;
        });
    }

    fn check_targets(&self, setup: &Setup) {
        use std::sync::atomic::Ordering;
        let checking = self.cluster_checking.clone();
        if !checking.swap(true, Ordering::SeqCst) {
            let msgs = self.msgs.clone();
            tokio::spawn(async move {
                let reach = super::reachability::kubernetes(REACH_TIMEOUT).await;
                checking.store(false, Ordering::SeqCst);
                let _ = msgs.send(Msg::Cluster(reach)).await;
            });
        }
        for (bundle, targets) in setup.bundles.clone() {
            let msgs = self.msgs.clone();
            tokio::spawn(async move {
                let parts = super::reachability::check(&targets, REACH_TIMEOUT).await;
                let _ = msgs.send(Msg::Reach { bundle, parts }).await;
            });
        }
    }

    fn read_journal(&self) {
        let journal = self.journal.clone();
        let msgs = self.msgs.clone();
        tokio::spawn(async move {
            let msg = match tokio::task::spawn_blocking(move || journal_msg(&journal)).await {
                Ok(msg) => msg,
                Err(e) => Msg::Failed(format!("cannot read the journal: {e}")),
            };
            let _ = msgs.send(msg).await;
        });
    }

    /// Every `every`, looks at the journal file's size, time and inode (on the
    /// blocking pool, one look at a time) and reads it only when they changed, so
    /// an idle console neither reads nor redraws. Ends with the console.
    fn watch_journal(&mut self, every: Duration) {
        if self.watching {
            return;
        }
        self.watching = true;
        let journal = self.journal.clone();
        let msgs = self.msgs.clone();
        tokio::spawn(async move {
            let mut seen: Option<Stamp> = None;
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if msgs.is_closed() {
                    return;
                }
                let looking = journal.clone();
                let before = seen.clone();
                let looked = tokio::task::spawn_blocking(move || {
                    let now = stamp(looking.path());
                    let msg = (before.as_ref() != Some(&now)).then(|| journal_msg(&looking));
                    (now, msg)
                })
                .await;
                let Ok((now, msg)) = looked else {
                    continue;
                };
                seen = Some(now);
                if let Some(msg) = msg {
                    if msgs.send(msg).await.is_err() {
                        return;
                    }
                }
            }
        });
    }

    fn tear_down_dangling(&self, setup: &Setup, bundle: &str) {
        let journal = self.journal.clone();
        let msgs = self.msgs.clone();
        // Every bundle, the current one first: each brings the password of its
        // server to a fault left on there.
        let mut given: Vec<Targets> = setup.bundles.get(bundle).cloned().into_iter().collect();
        given.extend(
            setup
                .bundles
                .iter()
                .filter(|(name, _)| name.as_str() != bundle)
                .map(|(_, targets)| targets.clone()),
        );
        tokio::spawn(async move {
            let msg = match crate::engine::recover::tear_down_dangling_runs(&journal, None, &given)
                .await
            {
                Ok(runs) => {
                    let mut lines = Vec::new();
                    let mut ok = true;
                    for run in runs {
                        lines.extend(run.notes);
                        if run.outcomes.is_empty() {
                            lines.push(format!("{}: torn down by its holder (verified)", run.run));
                        }
                        for o in run.outcomes {
                            ok &= o.verified();
                            lines.push(format!("{} {}: {}", o.fault, o.kind, o.describe()));
                        }
                    }
                    Msg::DanglingTornDown { lines, ok }
                }
                Err(e) => Msg::DanglingTornDown {
                    lines: vec![e],
                    ok: false,
                },
            };
            let _ = msgs.send(msg).await;
        });
    }

    fn write_report(&self, app: &App) {
        let Some(result) = &app.result else {
            return;
        };
        let record = result.record.clone();
        let path = app.setup.report_dir.join(format!(
            "chaosdeck-{}-{}.md",
            record.fault.id, record.run_id
        ));
        let msgs = self.msgs.clone();
        tokio::spawn(async move {
            let written =
                tokio::task::spawn_blocking(move || crate::report::write_report(&path, &record))
                    .await;
            let msg = match written {
                Ok(Ok((markdown, json))) => Ok(ReportPaths { markdown, json }),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let _ = msgs.send(Msg::ReportWritten(msg)).await;
        });
    }
}

/// What the journal file looks like from outside: size, modification time, inode;
/// or why it cannot be looked at (said once, not at every look).
type Stamp = Result<Option<(u64, std::time::SystemTime, u64)>, String>;

fn stamp(path: &std::path::Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some((
            meta.len(),
            meta.modified().map_err(|e| e.to_string())?,
            meta.ino(),
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The journal as read now (blocking): past runs and what is still on.
fn journal_msg(journal: &Journal) -> Msg {
    match journal.records() {
        Ok(records) => Msg::Journal {
            rows: super::history::history_rows(&records),
            dangling: crate::engine::journal::dangling_in(&records),
        },
        Err(e) => Msg::Failed(e.to_string()),
    }
}

/// The short name of a target that the critical gate asks the operator to type.
pub fn short_name(kind: TargetKind, targets: &Targets, bundle: &str, host: &str) -> String {
    if bundle != super::console::FLAGS_BUNDLE {
        return bundle.to_string();
    }
    let named = match kind {
        TargetKind::Postgres => targets
            .postgres
            .as_ref()
            .and_then(|p| p.conn.dbname().map(str::to_string)),
        TargetKind::Docker => targets.container.as_ref().map(|c| c.container.to_string()),
        TargetKind::Process => targets.process.as_ref().map(|p| p.selector.to_string()),
        TargetKind::Proxy => targets.proxy.as_ref().map(|p| p.listen.to_string()),
        TargetKind::Host => Some(host.to_string()),
        TargetKind::Command | TargetKind::Kubernetes | TargetKind::Compound => None,
    };
    named.unwrap_or_else(|| kind.to_string())
}
