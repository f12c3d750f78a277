//! One entry point over every driver: plan, apply, undo and verify any action
//! against the targets of an injection.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::command::{self, CommandUndo};
use super::docker::{self, DockerUndo};
use super::host::{self, HostFault, HostUndo};
use super::postgres::{self, PgRun, PgUndo};
use super::process::{self, ProcessFault, ProcessUndo};
use super::proxy::{running, FaultProxy, ProxyFaults};
use super::targets::{ProxyTarget, Targets};
use super::{DriverError, Hold, Plan, Verification};
use crate::catalog::Action;

/// The undo data of any action, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "driver", content = "undo", rename_all = "snake_case")]
pub enum Undo {
    Postgres(PgUndo),
    Docker(DockerUndo),
    Process(ProcessUndo),
    Host(HostUndo),
    /// The fault proxy chaosdeck started; it ends with its hold.
    Proxy(ProxyTarget),
    Command(CommandUndo),
}

/// The run an action belongs to.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub run_id: String,
    pub fault_id: String,
    pub ttl: Duration,
}

impl RunContext {
    fn pg_run(&self) -> PgRun {
        PgRun::new(&self.run_id, &self.fault_id, self.ttl)
    }
}

/// The action's kind of target is not given: say which and the flag that gives it.
fn missing(action: &Action) -> DriverError {
    let (what, flag) = action
        .target_kind()
        .and_then(crate::driver::targets::part_hint)
        .unwrap_or(("a target", "--config targets.yaml"));
    DriverError::Input(format!("\"{}\" acts on {what}: pass {flag}", action.kind()))
}

/// Read-only: preconditions, undo data, blast radius.
pub async fn plan(
    action: &Action,
    targets: &Targets,
    ctx: &RunContext,
) -> Result<Plan<Undo>, DriverError> {
    match action {
        Action::Command(c) => command::plan(c).map(|p| p.map(Undo::Command)),
        Action::Include(i) => Err(DriverError::Input(format!(
            "include of \"{}\" must be expanded before it reaches a driver",
            i.fault
        ))),
        _ => match action.target_kind() {
            Some(crate::catalog::TargetKind::Postgres) => {
                let pg = targets.postgres.as_ref().ok_or_else(|| missing(action))?;
                postgres::plan(action, pg, &ctx.pg_run())
                    .await
                    .map(|p| p.map(Undo::Postgres))
            }
            Some(crate::catalog::TargetKind::Docker) => {
                let target = targets.container.as_ref().ok_or_else(|| missing(action))?;
                let client = crate::lab::docker_connect()
                    .await
                    .map_err(|e| DriverError::unreachable("docker", e))?;
                docker::plan(&client, action, target)
                    .await
                    .map(|p| p.map(Undo::Docker))
            }
            Some(crate::catalog::TargetKind::Process) => {
                let target = targets.process.as_ref().ok_or_else(|| missing(action))?;
                process::plan(target, &ProcessFault::from_action(action)?)
                    .map(|p| p.map(Undo::Process))
            }
            Some(crate::catalog::TargetKind::Host) => {
                host::plan(&HostFault::from_action(action)?).map(|p| p.map(Undo::Host))
            }
            Some(crate::catalog::TargetKind::Proxy) => {
                let target = targets.proxy.as_ref().ok_or_else(|| missing(action))?;
                let faults = ProxyFaults::from_actions(std::slice::from_ref(action))?;
                Ok(Plan {
                    undo: Undo::Proxy(target.clone()),
                    blast_radius: format!(
                        "proxy {} → {}: {}",
                        target.listen,
                        target.upstream,
                        faults.describe()
                    ),
                })
            }
            _ => Err(DriverError::Input(format!(
                "no driver runs \"{}\"",
                action.kind()
            ))),
        },
    }
}

/// Performs the side effect. Returns what keeps a session-bound effect alive and,
/// when applying learned more (a child's pid), the fuller undo data.
pub async fn apply(
    action: &Action,
    targets: &Targets,
    ctx: &RunContext,
    undo: &Undo,
) -> Result<(Hold, Option<Undo>), DriverError> {
    match undo {
        Undo::Postgres(u) => {
            let pg = targets.postgres.as_ref().ok_or_else(|| missing(action))?;
            postgres::apply(action, pg, &ctx.pg_run(), u)
                .await
                .map(|h| (h, None))
        }
        Undo::Docker(u) => {
            let client = crate::lab::docker_connect()
                .await
                .map_err(|e| DriverError::unreachable("docker", e))?;
            docker::apply(&client, action, u)
                .await
                .map(|()| (Hold::new(), None))
        }
        Undo::Process(u) => {
            process::apply(u)?;
            process::wait_until_stopped(u).await;
            Ok((Hold::new(), None))
        }
        Undo::Host(u) => {
            let applied = host::apply(&targets.exe, &HostFault::from_action(action)?, u).await?;
            Ok((applied.hold, Some(Undo::Host(applied.undo))))
        }
        Undo::Proxy(target) => {
            let faults = ProxyFaults::from_actions(std::slice::from_ref(action))?;
            if let Some(running) = running::running(target.listen) {
                // A proxy the run keeps: the fault changes it, release puts it back.
                running.set_faults(faults)?;
                let mut hold = Hold::new();
                hold.set_proxy_stats(running.stats_reader());
                let token = hold.token();
                hold.push(tokio::spawn(async move {
                    token.cancelled().await;
                    if let Err(e) = running.set_faults(ProxyFaults::none()) {
                        tracing::warn!("fault proxy: cannot clear faults: {e}");
                    }
                }));
                return Ok((hold, None));
            }
            let proxy = FaultProxy::start(target.listen, target.upstream.clone()).await?;
            proxy.set_faults(faults)?;
            let mut hold = Hold::new();
            hold.set_proxy_stats(proxy.stats_reader());
            let token = hold.token();
            hold.push(tokio::spawn(async move {
                token.cancelled().await;
                proxy.shutdown().await;
            }));
            Ok((hold, None))
        }
        Undo::Command(u) => match action {
            Action::Command(c) => command::apply(c, u).await.map(|()| (Hold::new(), None)),
            other => Err(DriverError::Input(format!(
                "command undo for \"{}\"",
                other.kind()
            ))),
        },
    }
}

/// Puts things back. Idempotent.
pub async fn undo(undo: &Undo, targets: &Targets) -> Result<(), DriverError> {
    match undo {
        Undo::Postgres(u) => {
            let pg = targets
                .postgres
                .as_ref()
                .ok_or_else(|| DriverError::Input("PostgreSQL undo needs --conn".into()))?;
            postgres::undo(u, pg).await
        }
        Undo::Docker(u) => {
            let client = crate::lab::docker_connect()
                .await
                .map_err(|e| DriverError::unreachable("docker", e))?;
            docker::undo(&client, u).await
        }
        Undo::Process(u) => process::undo(u).map(|_| ()),
        Undo::Host(u) => host::undo(u).await.map(|_| ()),
        // A proxy the run keeps is put back to passing traffic; one of the fault's
        // own ends with its hold (if its holder died, so did its listener).
        Undo::Proxy(target) => match running::running(target.listen) {
            Some(running) => running.set_faults(ProxyFaults::none()),
            None => Ok(()),
        },
        Undo::Command(u) => command::undo(u).await,
    }
}

/// Re-checks reality after an undo.
pub async fn verify(undo: &Undo, targets: &Targets) -> Result<Verification, DriverError> {
    match undo {
        Undo::Postgres(u) => {
            let pg = targets
                .postgres
                .as_ref()
                .ok_or_else(|| DriverError::Input("PostgreSQL verify needs --conn".into()))?;
            postgres::verify(u, pg).await
        }
        Undo::Docker(u) => {
            let client = crate::lab::docker_connect()
                .await
                .map_err(|e| DriverError::unreachable("docker", e))?;
            docker::verify(&client, u).await
        }
        Undo::Process(u) => Ok(process::verify(u)),
        Undo::Host(u) => Ok(host::verify(u)),
        Undo::Proxy(target) => match running::running(target.listen) {
            Some(running) => Ok(running.verify_passthrough().await),
            None => Ok(verify_proxy_gone(target).await),
        },
        Undo::Command(u) => command::verify(u).await,
    }
}

/// After teardown nothing of chaosdeck's may still answer on the proxy's address.
async fn verify_proxy_gone(target: &ProxyTarget) -> Verification {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let connect = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(target.listen),
        )
        .await;
        match connect {
            Ok(Ok(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Ok(_)) => {
                return Verification::Residual(format!(
                    "something still accepts connections on {} after the fault proxy stopped",
                    target.listen
                ))
            }
            _ => return Verification::Verified,
        }
    }
}
