//! Reachability against real parts: a throwaway PostgreSQL cluster, closed and silent
//! loopback ports, real processes, the local Docker engine; and which faults can be
//! offered with which targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use chaosdeck::catalog::{Catalog, FaultSpec};
use chaosdeck::driver::docker::DockerTarget;
use chaosdeck::driver::postgres::{PgConnSpec, PgTarget};
use chaosdeck::driver::process::{ProcessSelector, ProcessTarget};
use chaosdeck::driver::targets::{ProxyTarget, Targets};
use chaosdeck::tui::reachability::{
    availability, availability_in, check, kubernetes, kubernetes_with, short_version, Around,
};
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
    let bundles = BTreeMap::from([("flags".to_string(), none)]);
    assert_eq!(
        availability_in(
            &compound,
            &catalog,
            &[],
            around("flags", &bundles, &Reach::Unknown)
        ),
        unavailable("chaosdeck-no-such-program not found on PATH")
    );
}

fn around<'a>(
    bundle: &'a str,
    bundles: &'a BTreeMap<String, Targets>,
    cluster: &'a Reach,
) -> Around<'a> {
    Around {
        bundle,
        bundles,
        cluster,
    }
}

#[test]
fn a_part_this_bundle_lacks_names_the_bundles_that_have_it() {
    let with_pg = |port: u16| Targets {
        postgres: pg(&format!(
            "host=127.0.0.1 port={port} user=postgres password=pw"
        )),
        ..Targets::default()
    };
    let worker = Targets {
        process: process(ProcessSelector::Name("worker".into())),
        ..Targets::default()
    };
    let bundles = BTreeMap::from([
        ("shop".to_string(), with_pg(5432)),
        ("worker".to_string(), worker),
        ("billing".to_string(), with_pg(5433)),
    ]);
    let catalog = Catalog::builtin().unwrap();
    let judge = |id: &str, bundle: &str| {
        availability_in(
            &builtin(id),
            &catalog,
            &[],
            around(bundle, &bundles, &Reach::Unknown),
        )
    };
    assert_eq!(
        judge("db-max-connections", "worker"),
        unavailable("no PostgreSQL target in \"worker\": :use billing or :use shop")
    );
    assert_eq!(judge("db-max-connections", "shop"), Availability::Ready);
    // No bundle has a container: how to give one, as before.
    assert_eq!(
        judge("container-kill", "worker"),
        unavailable("no container target: pass --container NAME or --config targets.yaml")
    );
    let only_worker = BTreeMap::from([("worker".to_string(), Targets::default())]);
    assert_eq!(
        availability_in(
            &builtin("db-max-connections"),
            &catalog,
            &[],
            around("worker", &only_worker, &Reach::Unknown)
        ),
        unavailable("no PostgreSQL target: pass --conn or --config targets.yaml")
    );
}

const KUBERNETES_FAULTS: [&str; 3] = ["k8s-crashloop", "k8s-pending", "compound-db-pod-crash"];

#[tokio::test]
async fn kubectl_that_reaches_no_cluster_makes_kubernetes_faults_unavailable() {
    let Some(kubectl) = support::real_kubectl() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (kubeconfig, port) = support::kubeconfig_to_nowhere(dir.path());
    let started = Instant::now();
    let reach = kubernetes_with(kubectl.to_str().unwrap(), Some(&kubeconfig), TIMEOUT).await;
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    let why = down(reach);
    eprintln!("kubeconfig to nowhere: {why}");
    assert!(why.contains(&format!("127.0.0.1:{port}")), "{why}");
    assert!(why.contains("refused"), "{why}");
    assert!(!why.contains('\n') && !why.contains("t0ken"), "{why}");
    let bundles = BTreeMap::from([(
        "flags".to_string(),
        Targets {
            postgres: pg("host=127.0.0.1 port=5432 user=postgres password=pw"),
            ..Targets::default()
        },
    )]);
    let catalog = Catalog::builtin().unwrap();
    let cluster = Reach::Down(why.clone());
    for id in KUBERNETES_FAULTS {
        assert_eq!(
            availability_in(
                &builtin(id),
                &catalog,
                &[],
                around("flags", &bundles, &cluster)
            ),
            unavailable(&format!("kubectl reaches no cluster: {why}")),
            "{id}"
        );
    }
    assert_eq!(
        availability_in(
            &builtin("db-max-connections"),
            &catalog,
            &[],
            around("flags", &bundles, &cluster)
        ),
        Availability::Ready,
        "faults that need no cluster are not dimmed"
    );
    let up = Reach::Up("a cluster answers, 12 ms".into());
    assert_eq!(
        availability_in(
            &builtin("k8s-crashloop"),
            &catalog,
            &[],
            around("flags", &bundles, &up)
        ),
        Availability::Ready
    );
}

#[tokio::test]
async fn the_cluster_check_agrees_with_kubectl_on_this_machine() {
    let Some(kubectl) = support::real_kubectl() else {
        return;
    };
    // This machine has kubectl and no cluster: the check says so, as `kubectl
    // version` does by its exit status (a machine with a cluster gets Up).
    let reach = kubernetes(TIMEOUT).await;
    let answered = std::process::Command::new(&kubectl)
        .args(["version", "--request-timeout=2s"])
        .output()
        .unwrap();
    match (&reach, answered.status.success()) {
        (Reach::Up(_), true) => {}
        (Reach::Down(why), false) => {
            let said = String::from_utf8_lossy(&answered.stderr);
            assert!(
                said.contains(why.as_str()),
                "{why:?} is not what kubectl said: {said}"
            );
            assert!(!why.is_empty() && !why.contains('\n'), "{why:?}");
            eprintln!("this machine: kubectl reaches no cluster: {why}");
            let bundles = BTreeMap::from([("flags".to_string(), Targets::default())]);
            let catalog = Catalog::builtin().unwrap();
            assert_eq!(
                availability_in(
                    &builtin("k8s-crashloop"),
                    &catalog,
                    &[],
                    around("flags", &bundles, &reach)
                ),
                unavailable(&format!("kubectl reaches no cluster: {why}"))
            );
        }
        other => panic!("the check and kubectl disagree: {other:?}"),
    }
}

/// A kubectl stand-in running `body` (a shell script).
fn fake_kubectl(dir: &std::path::Path, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("kubectl");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test]
async fn the_cluster_check_reads_kubectls_sentence_and_never_waits_past_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let noisy = fake_kubectl(
        dir.path(),
        "echo 'E1206 23:50:56.762743   30138 memcache.go:265] couldn'\\''t get current server API group list' >&2\n\
         echo 'Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout' >&2\nexit 1",
    );
    assert_eq!(
        kubernetes_with(&noisy, None, TIMEOUT).await,
        Reach::Down("Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout".into())
    );
    let answers = fake_kubectl(dir.path(), "exit 0");
    let what = up(kubernetes_with(&answers, None, TIMEOUT).await);
    assert!(what.starts_with("a cluster answers, "), "{what}");
    let pid_file = dir.path().join("pid");
    let hangs = fake_kubectl(
        dir.path(),
        &format!("echo $$ > {}\nexec sleep 30", pid_file.display()),
    );
    let started = Instant::now();
    let why = down(kubernetes_with(&hangs, None, Duration::from_millis(500)).await);
    assert_eq!(why, "no answer within 500ms");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The hung kubectl is killed, not left behind.
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let gone = state.is_empty()
            || state
                .rsplit(") ")
                .next()
                .is_some_and(|s| s.starts_with('Z'));
        if gone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl {pid} still runs: {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let missing = down(kubernetes_with("chaosdeck-no-such-kubectl", None, TIMEOUT).await);
    assert_eq!(missing, "chaosdeck-no-such-kubectl not found on PATH");
}
