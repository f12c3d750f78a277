//! Reachability against real parts: a throwaway PostgreSQL cluster, closed and silent
//! loopback ports, real processes, the local Docker engine; and which faults can be
//! offered with which targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use chaosdeck::catalog::{Catalog, FaultSpec};
use chaosdeck::driver::docker::DockerTarget;
use chaosdeck::driver::postgres::{PgConnSpec, PgTarget};
use chaosdeck::driver::process::{ProcessSelector, ProcessTarget};
use chaosdeck::driver::targets::{ProxyTarget, Targets};
use chaosdeck::tui::reachability::{availability, availability_in, check, short_version};
use chaosdeck::tui::screens::catalog::Availability;
use chaosdeck::tui::screens::targets::{Reach, TargetPart};
use support::{free_port, ContainerGuard};

const TIMEOUT: Duration = Duration::from_secs(5);

fn pg(conn: &str) -> Option<PgTarget> {
    Some(PgTarget {
        conn: PgConnSpec::parse(conn).unwrap(),
        data_dir: None,
        bin_dir: None,
    })
}

fn proxy(upstream: &str) -> Option<ProxyTarget> {
    Some(ProxyTarget::parse(&format!("127.0.0.1:{}={upstream}", free_port())).unwrap())
}

fn process(selector: ProcessSelector) -> Option<ProcessTarget> {
    Some(ProcessTarget { selector })
}

fn only(reach: Vec<(TargetPart, Reach)>, part: TargetPart) -> Reach {
    let found: Vec<&Reach> = reach
        .iter()
        .filter(|(p, _)| *p == part)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(found.len(), 1, "{reach:?}");
    found[0].clone()
}

fn down(reach: Reach) -> String {
    match reach {
        Reach::Down(why) => why,
        other => panic!("expected down, got {other:?}"),
    }
}

fn up(reach: Reach) -> String {
    match reach {
        Reach::Up(what) => what,
        other => panic!("expected up, got {other:?}"),
    }
}

/// A child that sleeps until killed.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn postgres_up_gives_the_short_version_and_the_time() {
    let cluster = support::pg_cluster().unwrap();
    let targets = Targets {
        postgres: pg(&cluster.conn_string()),
        ..Targets::default()
    };
    let reach = check(&targets, TIMEOUT).await;
    assert_eq!(reach.len(), 1, "only configured parts: {reach:?}");
    let what = up(only(reach, TargetPart::Postgres));
    assert!(what.starts_with("PostgreSQL 1"), "{what}");
    assert!(what.ends_with(" ms"), "{what}");
    assert!(!what.contains(" on "), "short: {what}");
}

#[tokio::test]
async fn a_wrong_password_is_down_and_never_named() {
    let cluster = support::pg_cluster().unwrap();
    let conn = format!(
        "host={} port={} dbname=postgres user=postgres password=Wr0ngSecret",
        cluster.host(),
        cluster.port()
    );
    let targets = Targets {
        postgres: pg(&conn),
        ..Targets::default()
    };
    let why = down(only(check(&targets, TIMEOUT).await, TargetPart::Postgres));
    assert!(why.contains("password authentication failed"), "{why}");
    assert!(!why.contains("Wr0ngSecret"), "{why}");
}

#[tokio::test]
async fn closed_ports_are_down_with_the_reason() {
    let port = free_port();
    let targets = Targets {
        postgres: pg(&format!(
            "host=127.0.0.1 port={port} user=postgres password=hunter2"
        )),
        proxy: proxy(&format!("127.0.0.1:{port}")),
        ..Targets::default()
    };
    let reach = check(&targets, TIMEOUT).await;
    let pg_why = down(only(reach.clone(), TargetPart::Postgres));
    assert!(pg_why.to_lowercase().contains("refused"), "{pg_why}");
    assert!(!pg_why.contains("hunter2"), "{pg_why}");
    let proxy_why = down(only(reach, TargetPart::Proxy));
    assert_eq!(
        proxy_why,
        format!("upstream 127.0.0.1:{port}: connection refused")
    );
}

#[tokio::test]
async fn an_open_upstream_is_up() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap().to_string();
    let targets = Targets {
        proxy: proxy(&upstream),
        ..Targets::default()
    };
    let what = up(only(check(&targets, TIMEOUT).await, TargetPart::Proxy));
    assert!(
        what.starts_with(&format!("upstream {upstream} accepts connections, ")),
        "{what}"
    );
}

#[tokio::test]
async fn a_silent_server_is_down_once_the_timeout_passes() {
    // Accepts TCP (the kernel's backlog) and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let closed = free_port();
    let targets = Targets {
        postgres: pg(&format!(
            "host=127.0.0.1 port={port} user=postgres password=x"
        )),
        proxy: proxy(&format!("127.0.0.1:{closed}")),
        ..Targets::default()
    };
    let started = Instant::now();
    let reach = check(&targets, Duration::from_millis(400)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(
        took >= Duration::from_millis(400),
        "the silent one was waited for: {took:?}"
    );
    assert_eq!(
        down(only(reach.clone(), TargetPart::Postgres)),
        "no answer within 400ms"
    );
    assert!(
        down(only(reach, TargetPart::Proxy)).contains("refused"),
        "checked in parallel"
    );
}

#[tokio::test]
async fn processes_are_found_by_pid_and_name() {
    let sleeper = Sleeper(Command::new("sleep").arg("300").spawn().unwrap());
    let pid = sleeper.0.id();
    let targets = Targets {
        process: process(ProcessSelector::Pid(pid)),
        ..Targets::default()
    };
    let what = up(only(check(&targets, TIMEOUT).await, TargetPart::Process));
    assert_eq!(what, format!("sleep (pid {pid})"));

    let own = Targets {
        process: process(ProcessSelector::Pid(std::process::id())),
        ..Targets::default()
    };
    let why = down(only(check(&own, TIMEOUT).await, TargetPart::Process));
    assert!(why.contains("chaosdeck itself"), "{why}");

    let name = format!("no-such-proc-{}", std::process::id());
    let missing = Targets {
        process: process(ProcessSelector::Name(name.clone())),
        ..Targets::default()
    };
    let why = down(only(check(&missing, TIMEOUT).await, TargetPart::Process));
    assert_eq!(why, format!("no running process is named \"{name}\""));
}

#[tokio::test]
async fn containers_are_up_when_running_and_down_when_missing() {
    let docker = support::docker().await.unwrap();
    let image = support::busybox_image(&docker).await.unwrap();
    let container = ContainerGuard::start(&docker, &image, None, None).await;
    let targets = Targets {
        container: Some(DockerTarget::new(container.name.clone())),
        ..Targets::default()
    };
    let what = up(only(check(&targets, TIMEOUT).await, TargetPart::Docker));
    assert!(what.starts_with("running, "), "{what}");
    docker
        .stop_container(
            &container.id,
            Some(bollard::container::StopContainerOptions { t: 1 }),
        )
        .await
        .unwrap();
    let why = down(only(check(&targets, TIMEOUT).await, TargetPart::Docker));
    assert_eq!(
        why,
        format!("container {} is exited, not running", container.name)
    );
    let missing = Targets {
        container: Some(DockerTarget::new(support::unique_name("missing"))),
        ..Targets::default()
    };
    let why = down(only(check(&missing, TIMEOUT).await, TargetPart::Docker));
    assert!(why.contains("no such container"), "{why}");
}

#[test]
fn short_versions_keep_product_and_number() {
    let long = "PostgreSQL 15.8 (Debian 15.8-1.pgdg120+1) on x86_64-pc-linux-gnu, compiled by gcc";
    assert_eq!(short_version(long), "PostgreSQL 15.8");
    assert_eq!(
        short_version("PostgreSQL 17devel, compiled"),
        "PostgreSQL 17devel"
    );
}

fn builtin(id: &str) -> FaultSpec {
    Catalog::builtin().unwrap().get(id).unwrap().clone()
}

fn unavailable(reason: &str) -> Availability {
    Availability::Unavailable(reason.to_string())
}

#[test]
fn unconfigured_targets_make_faults_unavailable() {
    let none = Targets::default();
    assert_eq!(
        availability(&builtin("db-max-connections"), &none, &[]),
        unavailable("no PostgreSQL target: pass --conn or --config targets.yaml")
    );
    let container = Catalog::builtin()
        .unwrap()
        .faults()
        .find(|f| f.target == chaosdeck::catalog::TargetKind::Docker)
        .unwrap()
        .clone();
    assert_eq!(
        availability(&container, &none, &[]),
        unavailable("no container target: pass --container NAME or --config targets.yaml")
    );
    let host = Catalog::builtin()
        .unwrap()
        .faults()
        .find(|f| f.target == chaosdeck::catalog::TargetKind::Host)
        .unwrap()
        .clone();
    assert_eq!(availability(&host, &none, &[]), Availability::Ready);
    assert_eq!(
        availability(&builtin("compound-db-pod-crash"), &none, &[]),
        unavailable("no PostgreSQL target: pass --conn or --config targets.yaml"),
        "a compound fault needs what its parts need"
    );
}

#[test]
fn reach_decides_for_configured_targets() {
    let targets = Targets {
        postgres: pg("host=127.0.0.1 port=5432 user=postgres password=pw"),
        ..Targets::default()
    };
    let spec = builtin("db-max-connections");
    assert_eq!(
        availability(&spec, &targets, &[]),
        Availability::Ready,
        "not known to be down"
    );
    let checking = [(TargetPart::Postgres, Reach::Checking)];
    assert_eq!(
        availability(&spec, &targets, &checking),
        Availability::Ready
    );
    let is_down = [(
        TargetPart::Postgres,
        Reach::Down("connection refused".into()),
    )];
    assert_eq!(
        availability(&spec, &targets, &is_down),
        unavailable("postgres: connection refused")
    );
    let docker_down = [(TargetPart::Docker, Reach::Down("engine gone".into()))];
    assert_eq!(
        availability(&spec, &targets, &docker_down),
        Availability::Ready
    );
}

fn command_fault(id: &str, program: &str) -> FaultSpec {
    let yaml = format!(
        "id: {id}\nname: Command fault\ncategory: kubernetes\nseverity: high\ntarget: kubernetes\n\
         description: Runs a program.\nactions:\n  - command: {{ run: [{program}, a], undo: [{program}, b], timeout: 10s }}\n\
         expect: {{ recover_within: 30s }}\nttl: 5m\n"
    );
    serde_yaml::from_str(&yaml).unwrap()
}

#[test]
fn command_faults_need_their_program_on_path() {
    let none = Targets::default();
    let missing = command_fault("k-missing", "chaosdeck-no-such-program");
    assert_eq!(
        availability(&missing, &none, &[]),
        unavailable("chaosdeck-no-such-program not found on PATH")
    );
    let present = command_fault("k-present", "sh");
    assert_eq!(availability(&present, &none, &[]), Availability::Ready);
    let by_path = command_fault("k-path", "/bin/sh");
    assert_eq!(availability(&by_path, &none, &[]), Availability::Ready);
}

#[test]
fn compound_faults_follow_their_includes_in_the_given_catalog() {
    let yaml = "id: both\nname: Both\ncategory: compound\nseverity: critical\ntarget: compound\n\
                description: Two at once.\nactions:\n  - include: { fault: k-missing }\n\
                expect: { recover_within: 30s }\nttl: 5m\n";
    let compound: FaultSpec = serde_yaml::from_str(yaml).unwrap();
    let none = Targets::default();
    assert_eq!(
        availability(&compound, &none, &[]),
        unavailable("includes fault \"k-missing\", which is not in the catalog"),
        "not in the built-in catalog"
    );
    let dir = tempfile::tempdir().unwrap();
    let user = serde_yaml::to_string(&vec![command_fault(
        "k-missing",
        "chaosdeck-no-such-program",
    )])
    .unwrap();
    std::fs::write(dir.path().join("mine.yaml"), user).unwrap();
    let catalog = Catalog::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(
        availability_in(&compound, &catalog, &none, &[]),
        unavailable("chaosdeck-no-such-program not found on PATH")
    );
}
