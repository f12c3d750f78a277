//! Whether the targets answer, and which faults can be offered with them.
//!
//! `check` runs in a task of its own (it does I/O); the console folds its answer
//! into the targets screen and the catalog's availability. No message names a
//! password.

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::catalog::{Action, Catalog, FaultSpec, Precondition, TargetKind};
use crate::driver::command::find_program;
use crate::driver::docker::{self, DockerTarget};
use crate::driver::postgres::conn::describe;
use crate::driver::postgres::PgTarget;
use crate::driver::process::{procfs, resolve_pid, ProcessTarget};
use crate::driver::targets::{ProxyTarget, Targets};
use crate::driver::DriverError;
use crate::lab::LabError;
use crate::report::mask_text;
use crate::tui::screens::catalog::Availability;
use crate::tui::screens::targets::{Reach, TargetPart};

/// The `application_name` of the console's reachability sessions.
const APP_NAME: &str = "chaosdeck:console:reach";
/// How deep compound faults may include one another before the search stops.
const MAX_INCLUDE_DEPTH: usize = 4;

/// Checks each part of `targets` once, each within `timeout`, in parallel; never
/// panics, never hangs past the timeout. Parts that are not configured are left out.
pub async fn check(targets: &Targets, timeout: Duration) -> Vec<(TargetPart, Reach)> {
    let postgres = maybe(TargetPart::Postgres, &targets.postgres, timeout, postgres);
    let docker = maybe(TargetPart::Docker, &targets.container, timeout, container);
    let process = maybe(TargetPart::Process, &targets.process, timeout, process);
    let proxy = maybe(TargetPart::Proxy, &targets.proxy, timeout, proxy);
    let (a, b, c, d) = tokio::join!(postgres, docker, process, proxy);
    [a, b, c, d].into_iter().flatten().collect()
}

async fn maybe<'a, T, F, Fut>(
    part: TargetPart,
    target: &'a Option<T>,
    timeout: Duration,
    check: F,
) -> Option<(TargetPart, Reach)>
where
    F: FnOnce(&'a T) -> Fut,
    Fut: Future<Output = Reach>,
{
    let target = target.as_ref()?;
    let reach = match tokio::time::timeout(timeout, check(target)).await {
        Ok(Reach::Down(why)) => Reach::Down(mask_text(&why)),
        Ok(reach) => reach,
        Err(_) => Reach::Down(format!(
            "no answer within {}",
            humantime::format_duration(timeout)
        )),
    };
    Some((part, reach))
}

/// What a driver error says, without the target's name the screen shows anyway.
fn reason(error: &DriverError) -> String {
    match error {
        DriverError::Unreachable { message, .. } | DriverError::Failed { message, .. } => {
            message.clone()
        }
        DriverError::Precondition { reason, .. } => reason.clone(),
        DriverError::Input(message) => message.clone(),
    }
}

fn millis(started: Instant) -> u128 {
    started.elapsed().as_millis()
}

async fn postgres(target: &PgTarget) -> Reach {
    let started = Instant::now();
    let client = match target.conn.connect(APP_NAME, Duration::from_secs(10)).await {
        Ok(client) => client,
        Err(e) => return Reach::Down(reason(&e)),
    };
    let version = match client.query_one("SELECT version()", &[]).await {
        Ok(row) => row.try_get::<_, String>(0),
        Err(e) => return Reach::Down(describe(&e)),
    };
    match version {
        Ok(version) => Reach::Up(format!(
            "{}, {} ms",
            short_version(&version),
            millis(started)
        )),
        Err(e) => Reach::Down(describe(&e)),
    }
}

/// "PostgreSQL 15.8" out of "PostgreSQL 15.8 (Debian 15.8-1) on x86_64-pc-linux-gnu, …".
pub fn short_version(version: &str) -> String {
    let words: Vec<&str> = version.split_whitespace().take(2).collect();
    words.join(" ").trim_end_matches(',').to_string()
}

async fn container(target: &DockerTarget) -> Reach {
    let started = Instant::now();
    let engine = match crate::lab::docker_connect().await {
        Ok(engine) => engine,
        Err(LabError::DockerUnreachable { host, source }) => {
            let why = source.to_string();
            let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
            return Reach::Down(format!("the Docker engine at {host} did not answer: {why}"));
        }
        Err(e) => return Reach::Down(e.to_string()),
    };
    match docker::status(&engine, &target.container).await {
        Ok(status) if status.running && !status.paused => {
            let health = status.health.map(|h| format!(" ({h})")).unwrap_or_default();
            Reach::Up(format!("running{health}, {} ms", millis(started)))
        }
        Ok(status) => Reach::Down(format!(
            "container {} is {}, not running",
            status.name, status.state
        )),
        Err(e) => Reach::Down(reason(&e)),
    }
}

async fn process(target: &ProcessTarget) -> Reach {
    let selector = target.selector.clone();
    let found = tokio::task::spawn_blocking(move || {
        let pid = resolve_pid(&selector, "a reachability check")?;
        let name = procfs::comm(pid).unwrap_or_else(|| "process".to_string());
        Ok::<_, DriverError>((pid, name))
    })
    .await;
    let (pid, name) = match found {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return Reach::Down(reason(&e)),
        Err(e) => return Reach::Down(format!("the check stopped: {e}")),
    };
    let Ok(raw) = i32::try_from(pid) else {
        return Reach::Down(format!("pid {pid} is out of range"));
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => Reach::Up(format!("{name} (pid {pid})")),
        Err(nix::errno::Errno::EPERM) => Reach::Down(format!(
            "{name} (pid {pid}) belongs to another user; chaosdeck may not signal it"
        )),
        Err(e) => Reach::Down(format!("pid {pid}: {e}")),
    }
}

async fn proxy(target: &ProxyTarget) -> Reach {
    let started = Instant::now();
    let upstream = &target.upstream;
    match tokio::net::TcpStream::connect(upstream.as_str()).await {
        Ok(_) => Reach::Up(format!(
            "upstream {upstream} accepts connections, {} ms",
            millis(started)
        )),
        Err(e) => {
            let why = e.to_string();
            let why = why
                .split(" (os error")
                .next()
                .unwrap_or(&why)
                .to_lowercase();
            Reach::Down(format!("upstream {upstream}: {why}"))
        }
    }
}

/// Whether a fault can be offered with these targets and what is known of their
/// reach: a part it needs that is not configured or is down, or a program its
/// command actions run that is not on `PATH`, makes it unavailable with the reason.
/// Host faults are always ready. Compound faults are judged by the faults they
/// include, looked up in the built-in catalog.
pub fn availability(
    spec: &FaultSpec,
    targets: &Targets,
    reach: &[(TargetPart, Reach)],
) -> Availability {
    static BUILTIN: OnceLock<Option<Catalog>> = OnceLock::new();
    let builtin = BUILTIN.get_or_init(|| Catalog::builtin().ok()).as_ref();
    judge(spec, targets, reach, &|id| builtin.and_then(|c| c.get(id)))
}

/// As [`availability`], with included faults looked up in `catalog` (for user
/// compound faults that include user faults).
pub fn availability_in(
    spec: &FaultSpec,
    catalog: &Catalog,
    targets: &Targets,
    reach: &[(TargetPart, Reach)],
) -> Availability {
    judge(spec, targets, reach, &|id| catalog.get(id))
}

/// What a fault needs, gathered through its includes.
#[derive(Default)]
struct Needs {
    parts: Vec<TargetPart>,
    programs: Vec<String>,
    unknown_includes: Vec<String>,
}

fn judge<'a>(
    spec: &FaultSpec,
    targets: &Targets,
    reach: &[(TargetPart, Reach)],
    lookup: &dyn Fn(&str) -> Option<&'a FaultSpec>,
) -> Availability {
    let mut needs = Needs::default();
    gather(spec, lookup, 0, &mut needs);
    if let Some(id) = needs.unknown_includes.first() {
        return Availability::Unavailable(format!(
            "includes fault \"{id}\", which is not in the catalog"
        ));
    }
    needs.parts.sort();
    needs.parts.dedup();
    for part in needs.parts {
        if !configured(part, targets) {
            return Availability::Unavailable(not_configured(part).to_string());
        }
        let down = reach.iter().find_map(|(p, r)| match r {
            Reach::Down(why) if *p == part => Some(why),
            _ => None,
        });
        if let Some(why) = down {
            return Availability::Unavailable(format!("{}: {why}", part.as_str()));
        }
    }
    for program in &needs.programs {
        if !on_path(program) {
            return Availability::Unavailable(format!("{program} not found on PATH"));
        }
    }
    Availability::Ready
}

/// Whether `program` is on `PATH`, looked up once per program: the console asks
/// again on every reachability result, from its loop, which must not touch the disk
/// each time (the first lookups happen as the console opens, before the loop).
fn on_path(program: &str) -> bool {
    static SEEN: OnceLock<std::sync::Mutex<std::collections::BTreeMap<String, bool>>> =
        OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let Ok(mut seen) = seen.lock() else {
        return find_program(program).is_some();
    };
    *seen
        .entry(program.to_string())
        .or_insert_with(|| find_program(program).is_some())
}

fn gather<'a>(
    spec: &FaultSpec,
    lookup: &dyn Fn(&str) -> Option<&'a FaultSpec>,
    depth: usize,
    needs: &mut Needs,
) {
    needs.parts.extend(part_of(spec.target));
    for action in &spec.actions {
        needs.parts.extend(action.target_kind().and_then(part_of));
        for precondition in action.preconditions() {
            if let Precondition::Program(program) = precondition {
                if !needs.programs.contains(&program) {
                    needs.programs.push(program);
                }
            }
        }
        let Action::Include(include) = action else {
            continue;
        };
        match lookup(&include.fault) {
            Some(included) if depth < MAX_INCLUDE_DEPTH => {
                gather(included, lookup, depth + 1, needs)
            }
            Some(_) => {}
            None => needs.unknown_includes.push(include.fault.clone()),
        }
    }
}

fn part_of(kind: TargetKind) -> Option<TargetPart> {
    match kind {
        TargetKind::Postgres => Some(TargetPart::Postgres),
        TargetKind::Docker => Some(TargetPart::Docker),
        TargetKind::Process => Some(TargetPart::Process),
        TargetKind::Proxy => Some(TargetPart::Proxy),
        TargetKind::Host | TargetKind::Command | TargetKind::Kubernetes | TargetKind::Compound => {
            None
        }
    }
}

fn configured(part: TargetPart, targets: &Targets) -> bool {
    match part {
        TargetPart::Postgres => targets.postgres.is_some(),
        TargetPart::Docker => targets.container.is_some(),
        TargetPart::Process => targets.process.is_some(),
        TargetPart::Proxy => targets.proxy.is_some(),
    }
}

fn not_configured(part: TargetPart) -> &'static str {
    match part {
        TargetPart::Postgres => "no PostgreSQL target: pass --conn or --config targets.yaml",
        TargetPart::Docker => "no container target: pass --container NAME or --config targets.yaml",
        TargetPart::Process => {
            "no process target: pass --process NAME, --pid N or --config targets.yaml"
        }
        TargetPart::Proxy => {
            "no proxy target: pass --proxy LISTEN=UPSTREAM or --config targets.yaml"
        }
    }
}
