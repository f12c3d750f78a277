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

/// What the console knows around the bundle of targets runs use, beyond the
/// bundle itself: the other bundles (a part missing here names those that have it)
/// and whether kubectl reaches a cluster.
#[derive(Debug, Clone, Copy)]
pub struct Around<'a> {
    /// The bundle runs use, by name.
    pub bundle: &'a str,
    /// Every bundle by name, the current one included.
    pub bundles: &'a std::collections::BTreeMap<String, Targets>,
    /// What [`kubernetes`] found; `Unknown` until it answers.
    pub cluster: &'a Reach,
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
    let none = Default::default();
    let around = Around {
        bundle: "",
        bundles: &none,
        cluster: &Reach::Unknown,
    };
    judge(spec, targets, reach, around, &|id| {
        builtin.and_then(|c| c.get(id))
    })
}

/// As [`availability`], with included faults looked up in `catalog` (for user
/// compound faults that include user faults), the current bundle's targets, and
/// what is known `around` it: a part this bundle lacks names the bundles that have
/// it (`:use shop`); a Kubernetes fault needs kubectl to reach a cluster.
pub fn availability_in(
    spec: &FaultSpec,
    catalog: &Catalog,
    reach: &[(TargetPart, Reach)],
    around: Around<'_>,
) -> Availability {
    let none = Targets::default();
    let targets = around.bundles.get(around.bundle).unwrap_or(&none);
    judge(spec, targets, reach, around, &|id| catalog.get(id))
}

/// What a fault needs, gathered through its includes.
#[derive(Default)]
struct Needs {
    parts: Vec<TargetPart>,
    programs: Vec<String>,
    unknown_includes: Vec<String>,
    /// A Kubernetes fault: kubectl must reach a cluster.
    cluster: bool,
}

fn judge<'a>(
    spec: &FaultSpec,
    targets: &Targets,
    reach: &[(TargetPart, Reach)],
    around: Around<'_>,
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
            let elsewhere: Vec<&str> = around
                .bundles
                .iter()
                .filter(|(name, other)| *name != around.bundle && configured(part, other))
                .map(|(name, _)| name.as_str())
                .collect();
            return Availability::Unavailable(not_configured(part, around.bundle, &elsewhere));
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
    match (needs.cluster, around.cluster) {
        (true, Reach::Down(why)) => {
            Availability::Unavailable(format!("{KUBECTL} reaches no cluster: {why}"))
        }
        _ => Availability::Ready,
    }
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
    needs.cluster |= spec.target == TargetKind::Kubernetes;
    for action in &spec.actions {
        needs.parts.extend(action.target_kind().and_then(part_of));
        needs.cluster |= action.target_kind() == Some(TargetKind::Kubernetes);
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

/// Why a fault needing `part` cannot run in `bundle`: the bundles that have one when
/// there are any (`:use shop`), else how to give one.
fn not_configured(part: TargetPart, bundle: &str, elsewhere: &[&str]) -> String {
    let (what, how) = match part {
        TargetPart::Postgres => ("PostgreSQL", "pass --conn or --config targets.yaml"),
        TargetPart::Docker => (
            "container",
            "pass --container NAME or --config targets.yaml",
        ),
        TargetPart::Process => (
            "process",
            "pass --process NAME, --pid N or --config targets.yaml",
        ),
        TargetPart::Proxy => (
            "proxy",
            "pass --proxy LISTEN=UPSTREAM or --config targets.yaml",
        ),
    };
    if elsewhere.is_empty() {
        return format!("no {what} target: {how}");
    }
    let uses: Vec<String> = elsewhere
        .iter()
        .map(|name| format!(":use {name}"))
        .collect();
    format!("no {what} target in \"{bundle}\": {}", uses.join(" or "))
}

/// The program that reaches Kubernetes.
const KUBECTL: &str = "kubectl";

/// Whether kubectl reaches a Kubernetes cluster: `kubectl version` asks the server
/// for its version (`--request-timeout=2s`) and exits non-zero when none answers.
/// Run in a task (it starts a process), never past `timeout` (the process is killed).
/// Up with the server's version when kubectl printed it; Down with the first line of
/// what kubectl said. The console dims Kubernetes faults by it; `doctor` reports it.
pub async fn kubernetes(timeout: Duration) -> Reach {
    kubernetes_with(KUBECTL, None, timeout).await
}

/// As [`kubernetes`], with `program` run in kubectl's place and, when given, this
/// `kubeconfig` file instead of kubectl's own choice.
pub async fn kubernetes_with(
    program: &str,
    kubeconfig: Option<&std::path::Path>,
    timeout: Duration,
) -> Reach {
    let Some(path) = find_program(program) else {
        return Reach::Down(format!("{program} not found on PATH"));
    };
    let started = Instant::now();
    let mut command = tokio::process::Command::new(path);
    command.args(["version", "--request-timeout=2s"]);
    if let Some(file) = kubeconfig {
        command.arg("--kubeconfig").arg(file);
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    match tokio::time::timeout(timeout, command.output()).await {
        Err(_) => Reach::Down(format!(
            "no answer within {}",
            humantime::format_duration(timeout)
        )),
        Ok(Err(e)) => Reach::Down(format!("cannot run {program}: {e}")),
        Ok(Ok(out)) if out.status.success() => {
            let answers = format!("a cluster answers, {} ms", millis(started));
            Reach::Up(
                match server_version(&String::from_utf8_lossy(&out.stdout)) {
                    Some(version) => format!("{answers} (server {version})"),
                    None => answers,
                },
            )
        }
        Ok(Ok(out)) => {
            let said = String::from_utf8_lossy(&out.stderr);
            Reach::Down(match first_error_line(&said) {
                Some(line) => mask_text(line),
                None => format!("{program} version exited with {}", out.status),
            })
        }
    }
}

/// The server's version as `kubectl version` printed it: `Server Version: v1.31.0`
/// (kubectl 1.28 and later), or the `GitVersion:"v1.20.4"` of older ones' struct.
fn server_version(stdout: &str) -> Option<String> {
    let rest = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("Server Version:"))?
        .trim();
    let version = match rest.split_once("GitVersion:\"") {
        Some((_, tail)) => tail.split('"').next().unwrap_or_default(),
        None => rest,
    };
    let version = mask_text(version.trim());
    (!version.is_empty()).then_some(version)
}

/// The first line of kubectl's error worth reading: klog's lines (`E1206 23:50:56…`)
/// come before the sentence that says what is wrong, so they are passed over while
/// another line follows.
fn first_error_line(text: &str) -> Option<&str> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let klog = |line: &&str| {
        let mut chars = line.chars();
        matches!(chars.next(), Some('I' | 'W' | 'E' | 'F'))
            && chars.take(4).filter(char::is_ascii_digit).count() == 4
    };
    lines
        .iter()
        .find(|line| !klog(line))
        .or_else(|| lines.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::server_version;

    #[test]
    fn the_server_version_is_read_from_new_and_old_kubectl() {
        let new = "Client Version: v1.32.4\nKustomize Version: v5.5.0\nServer Version: v1.31.0\n";
        assert_eq!(server_version(new).as_deref(), Some("v1.31.0"));
        let old = "Client Version: version.Info{Major:\"1\", GitVersion:\"v1.20.4\"}\n\
                   Server Version: version.Info{Major:\"1\", Minor:\"19\", GitVersion:\"v1.19.7\", GitCommit:\"1dd5338\"}\n";
        assert_eq!(server_version(old).as_deref(), Some("v1.19.7"));
        assert_eq!(server_version("Client Version: v1.32.4\n"), None);
        assert_eq!(server_version("Server Version: \n"), None);
    }
}
