//! Probes against real parts: HTTP servers and listeners on loopback, a closed port, a
//! throwaway PostgreSQL cluster, real processes and commands, a Docker container.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step fails the test

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::Duration;

use chaosdeck::driver::postgres::PgConnSpec;
use chaosdeck::driver::process::ProcessSelector;
use chaosdeck::observe::{
    check_once, spawn_probes, ProbeCheck, ProbeRunner, ProbeSample, ProbeSpec,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn spec(check: ProbeCheck, timeout: Duration) -> ProbeSpec {
    ProbeSpec {
        name: "test".to_string(),
        check,
        interval: Duration::from_millis(100),
        timeout,
    }
}

async fn check(check: ProbeCheck) -> ProbeSample {
    check_once(0, &spec(check, Duration::from_secs(5))).await
}

fn http(url: &str, status: Option<u16>, body: Option<&str>) -> ProbeCheck {
    ProbeCheck::Http {
        url: url.to_string(),
        status,
        body_contains: body.map(str::to_string),
    }
}

/// How the test server frames its body.
#[derive(Clone, Copy)]
enum Framing {
    Length,
    Chunked,
    UntilClose,
}

/// An HTTP server on loopback answering every request with `status` and `body`.
async fn http_server(status: u16, body: &'static str, framing: Framing) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, status, body, framing));
        }
    });
    format!("http://{addr}/health")
}

async fn answer(mut stream: TcpStream, status: u16, body: &str, framing: Framing) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    assert!(request.starts_with(b"GET /health HTTP/1.1\r\n"));
    let head = format!("HTTP/1.1 {status} Whatever\r\nContent-Type: text/plain\r\n");
    let response = match framing {
        Framing::Length => format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()),
        Framing::Chunked => {
            let (a, b) = body.split_at(body.len() / 2);
            let chunks = format!(
                "{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
                a.len(),
                b.len()
            );
            format!("{head}Transfer-Encoding: chunked\r\n\r\n{chunks}")
        }
        Framing::UntilClose => format!("{head}Connection: close\r\n\r\n{body}"),
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A listener that accepts connections and never answers.
async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A loopback port nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

fn assert_up(sample: &ProbeSample) {
    assert!(sample.up, "expected up: {sample:?}");
}

fn assert_down(sample: &ProbeSample, detail: &str) {
    assert!(!sample.up, "expected down: {sample:?}");
    assert!(
        sample.detail.contains(detail),
        "{detail:?} not in {sample:?}"
    );
}

#[tokio::test]
async fn http_probe_reads_status_and_body_in_every_framing() {
    for framing in [Framing::Length, Framing::Chunked, Framing::UntilClose] {
        let url = http_server(200, "all ok here", framing).await;
        let sample = check(http(&url, None, Some("ok here"))).await;
        assert_up(&sample);
        assert_eq!(sample.detail, "status 200");
        assert!(sample.latency < Duration::from_secs(1), "{sample:?}");
        let sample = check(http(&url, Some(200), Some("ready"))).await;
        assert_down(&sample, "body lacks \"ready\"");
    }
}

#[tokio::test]
async fn http_probe_is_down_on_an_unwanted_status() {
    let url = http_server(503, "busy", Framing::Length).await;
    assert_down(
        &check(http(&url, None, None)).await,
        "status 503, expected 2xx",
    );
    assert_down(
        &check(http(&url, Some(200), None)).await,
        "status 503, expected 200",
    );
    assert_up(&check(http(&url, Some(503), None)).await);
    let created = http_server(201, "", Framing::Length).await;
    assert_up(&check(http(&created, None, None)).await);
}

#[tokio::test]
async fn http_probe_refuses_https_and_reports_refused_ports() {
    let sample = check(http("https://127.0.0.1/", None, None)).await;
    assert_down(&sample, "only http:// URLs are supported");
    let closed = closed_port().await;
    let sample = check(http(&format!("http://{closed}/"), None, None)).await;
    assert_down(&sample, "connection refused");
}

#[tokio::test]
async fn http_probe_times_out_on_a_silent_server() {
    let addr = silent_server().await;
    let probe = spec(
        http(&format!("http://{addr}/"), None, None),
        Duration::from_millis(300),
    );
    let started = Instant::now();
    let sample = check_once(3, &probe).await;
    assert_eq!(sample.probe, 3);
    assert_eq!(sample.detail, "timed out after 300ms");
    assert!(!sample.up);
    assert_eq!(sample.latency, Duration::from_millis(300));
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert!(sample.at >= started && sample.at - started < Duration::from_millis(50));
}

#[tokio::test]
async fn tcp_probe_connects_or_is_refused() {
    let open = silent_server().await;
    let sample = check(ProbeCheck::Tcp {
        addr: open.to_string(),
    })
    .await;
    assert_up(&sample);
    assert_eq!(sample.detail, format!("connected to {open}"));
    let closed = closed_port().await;
    let sample = check(ProbeCheck::Tcp {
        addr: closed.to_string(),
    })
    .await;
    assert_down(&sample, "connection refused");
    let sample = check(ProbeCheck::Tcp {
        addr: "localhost".to_string(),
    })
    .await;
    assert_down(&sample, "cannot resolve \"localhost\"");
}

#[tokio::test]
async fn sql_probe_compares_the_first_value_and_hides_the_password() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let conn = support::pg::target(&cluster).conn;
    let sql = |conn: &PgConnSpec, expect: Option<&str>| ProbeCheck::Sql {
        conn: conn.clone(),
        query: "SELECT 1".to_string(),
        expect: expect.map(str::to_string),
        fresh_connection: true,
    };
    let sample = check(sql(&conn, Some("1"))).await;
    assert_up(&sample);
    assert_eq!(sample.detail, "got \"1\"");
    assert_up(&check(sql(&conn, None)).await);
    assert_down(
        &check(sql(&conn, Some("2"))).await,
        "got \"1\", expected \"2\"",
    );

    let null = ProbeCheck::Sql {
        conn: conn.clone(),
        query: "SELECT NULL".to_string(),
        expect: Some("1".to_string()),
        fresh_connection: false,
    };
    assert_down(&check(null).await, "got NULL, expected \"1\"");
    let broken = ProbeCheck::Sql {
        conn: conn.clone(),
        query: "SELECT nope".to_string(),
        expect: None,
        fresh_connection: false,
    };
    assert_down(&check(broken).await, "SQLSTATE 42703");

    let wrong = conn.with_login("postgres", "wrong-s3cret-pw");
    let sample = check(sql(&wrong, Some("1"))).await;
    assert_down(&sample, "password authentication failed");
    assert!(!sample.detail.contains("wrong-s3cret-pw"), "{sample:?}");
    assert!(!sample.detail.contains("testpass"), "{sample:?}");

    // A query the probe gives up on ends on the server too, and its session closes.
    let slow = ProbeCheck::Sql {
        conn,
        query: "SELECT pg_sleep(30)".to_string(),
        expect: None,
        fresh_connection: false,
    };
    let sample = check_once(0, &spec(slow, Duration::from_millis(500))).await;
    assert_down(&sample, "timed out after 500ms");
    let observer = support::pg::client(&cluster).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let row = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'chaosdeck:probe'",
                &[],
            )
            .await
            .unwrap();
        let sessions: i64 = row.get(0);
        if sessions == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{sessions} probe sessions linger"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `sleep 30` child, killed when dropped.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(Command::new("sleep").arg("30").spawn().unwrap())
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.0.id() as i32), signal).unwrap();
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Checks until the probe is `up` or not, for at most 2 s; returns the last sample.
/// Changes land a moment after the call that makes them returns: a signal when the
/// kernel next schedules the process, a pause when the engine updates its state.
async fn until(runner: &mut ProbeRunner, up: bool) -> ProbeSample {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let sample = runner.check().await;
        if sample.up == up || Instant::now() > deadline {
            return sample;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn process_probe_follows_a_real_process() {
    let mut sleeper = Sleeper::start();
    let pid = sleeper.0.id();
    let probe = ProbeCheck::Process {
        selector: ProcessSelector::Pid(pid),
    };
    let mut runner = ProbeRunner::new(0, spec(probe, Duration::from_secs(5)));
    let sample = until(&mut runner, true).await;
    assert_up(&sample);
    assert!(
        sample
            .detail
            .starts_with(&format!("sleep (pid {pid}), state ")),
        "{sample:?}"
    );

    sleeper.signal(Signal::SIGSTOP);
    assert_down(&until(&mut runner, false).await, "is stopped (state T)");
    sleeper.signal(Signal::SIGCONT);
    assert_up(&until(&mut runner, true).await);

    sleeper.signal(Signal::SIGKILL);
    // Dead but not reaped yet: a zombie.
    assert_down(&until(&mut runner, false).await, "zombie");
    sleeper.0.wait().unwrap();
    assert_down(&runner.check().await, &format!("no process has pid {pid}"));
}

fn command(argv: &[&str], exit_code: i32) -> ProbeCheck {
    let argv = argv.iter().map(|a| a.to_string()).collect();
    ProbeCheck::Command { argv, exit_code }
}

#[tokio::test]
async fn command_probe_checks_the_exit_code() {
    let sample = check(command(&["true"], 0)).await;
    assert_up(&sample);
    assert_eq!(sample.detail, "exit 0");
    assert_down(&check(command(&["false"], 0)).await, "exit 1, expected 0");
    assert_up(&check(command(&["sh", "-c", "exit 3"], 3)).await);
    let noisy = command(
        &["sh", "-c", "echo out; echo; echo 'disk full' >&2; exit 2"],
        0,
    );
    let sample = check(noisy).await;
    assert_eq!(sample.detail, "exit 2, expected 0: disk full");
    let missing = command(&["/nonexistent/chaosdeck-probe"], 0);
    assert_down(
        &check(missing).await,
        "cannot run \"/nonexistent/chaosdeck-probe\": not found",
    );
    assert_down(&check(command(&[], 0)).await, "no command");
    let masked = command(
        &["sh", "-c", "echo 'host=db password=hunter2' >&2; exit 1"],
        0,
    );
    let sample = check(masked).await;
    assert_down(&sample, "password=***");
    assert!(!sample.detail.contains("hunter2"), "{sample:?}");
}

/// Collects what arrives on `rx` for `window`, then cancels and waits for the tasks.
async fn collect(
    mut rx: mpsc::Receiver<ProbeSample>,
    window: Duration,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
) -> Vec<ProbeSample> {
    let mut samples = Vec::new();
    let deadline = Instant::now() + window;
    while let Ok(Some(sample)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        samples.push(sample);
    }
    cancel.cancel();
    for task in tasks {
        task.await.unwrap();
    }
    samples
}

#[tokio::test]
async fn a_hanging_probe_does_not_delay_its_neighbour() {
    let silent = silent_server().await;
    let open = silent_server().await;
    let specs = [
        spec(
            http(&format!("http://{silent}/"), None, None),
            Duration::from_millis(300),
        ),
        spec(
            ProbeCheck::Tcp {
                addr: open.to_string(),
            },
            Duration::from_secs(1),
        ),
    ];
    let (tx, rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let tasks = spawn_probes(&specs, tokio::time::Instant::now(), tx, cancel.clone());
    let samples = collect(rx, Duration::from_millis(1050), cancel, tasks).await;

    let (hung, tcp): (Vec<_>, Vec<_>) = samples.iter().partition(|s| s.probe == 0);
    assert!(
        tcp.len() >= 8,
        "only {} TCP samples: {samples:#?}",
        tcp.len()
    );
    assert!(tcp.iter().all(|s| s.up), "{tcp:#?}");
    assert!((2..=4).contains(&hung.len()), "{hung:#?}");
    for sample in hung {
        assert_eq!(sample.detail, "timed out after 300ms");
        assert_eq!(sample.latency, Duration::from_millis(300));
    }
}

#[tokio::test]
async fn cancel_ends_every_probe_within_100ms_even_mid_check() {
    let silent = silent_server().await;
    let slow = Duration::from_secs(30);
    let specs = [
        spec(http(&format!("http://{silent}/"), None, None), slow),
        spec(command(&["sleep", "30"], 0), slow),
        spec(
            ProbeCheck::Tcp {
                addr: silent.to_string(),
            },
            slow,
        ),
    ];
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let tasks = spawn_probes(&specs, tokio::time::Instant::now(), tx, cancel.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    cancel.cancel();
    let cancelled = Instant::now();
    let all = futures_util::future::join_all(tasks);
    let results = tokio::time::timeout(Duration::from_millis(100), all)
        .await
        .expect("probe tasks still running 100 ms after cancel");
    assert!(results.iter().all(Result::is_ok));
    assert!(cancelled.elapsed() < Duration::from_millis(100));
    // Only the TCP probe finished a check; the hung ones were cut short.
    while let Some(sample) = rx.recv().await {
        assert_eq!(sample.probe, 2, "{sample:?}");
    }
}

#[tokio::test]
async fn probes_check_at_once_and_stop_when_nobody_listens() {
    let open = silent_server().await;
    let mut probe = spec(
        ProbeCheck::Tcp {
            addr: open.to_string(),
        },
        Duration::from_secs(1),
    );
    probe.interval = Duration::from_secs(60);
    let (tx, mut rx) = mpsc::channel(1);
    let started = Instant::now();
    let mut tasks = spawn_probes(
        &[probe.clone()],
        tokio::time::Instant::now(),
        tx,
        CancellationToken::new(),
    );
    let first = rx.recv().await.unwrap();
    assert_up(&first);
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );

    probe.interval = Duration::from_millis(10);
    let (tx, rx) = mpsc::channel(1);
    tasks.extend(spawn_probes(
        &[probe],
        tokio::time::Instant::now(),
        tx,
        CancellationToken::new(),
    ));
    drop(rx);
    tasks.remove(0).abort();
    let last = tasks.pop().unwrap();
    tokio::time::timeout(Duration::from_millis(500), last)
        .await
        .expect("a probe task kept running with its receiver gone")
        .unwrap();
}

#[tokio::test]
async fn container_probe_follows_pause_and_unpause() {
    let Some(docker) = support::docker().await else {
        return;
    };
    let Some(image) = support::busybox_image(&docker).await else {
        return;
    };
    let container = support::ContainerGuard::start(&docker, &image, None, None).await;
    let check = ProbeCheck::Container {
        name: container.name.clone(),
        healthy: false,
    };
    let mut runner = ProbeRunner::new(0, spec(check, Duration::from_secs(5)));
    let sample = runner.check().await;
    assert_up(&sample);
    assert_eq!(sample.detail, "running");

    docker.pause_container(&container.name).await.unwrap();
    assert_down(&until(&mut runner, false).await, "paused");
    docker.unpause_container(&container.name).await.unwrap();
    let sample = until(&mut runner, true).await;
    assert_up(&sample);
    assert_eq!(sample.detail, "running");

    let wants_health = ProbeCheck::Container {
        name: container.name.clone(),
        healthy: true,
    };
    assert_down(
        &check_once(0, &spec(wants_health, Duration::from_secs(5))).await,
        "no health check",
    );
    let missing = ProbeCheck::Container {
        name: "chaosdeck-test-no-such-container".to_string(),
        healthy: false,
    };
    assert_down(
        &check_once(0, &spec(missing, Duration::from_secs(5))).await,
        "no such container",
    );
}

#[tokio::test]
async fn sql_probe_keeps_its_session_and_reopens_it_when_it_breaks() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let pid_probe = |fresh_connection| {
        spec(
            ProbeCheck::Sql {
                conn: support::pg::target(&cluster).conn,
                query: "SELECT pg_backend_pid()".to_string(),
                expect: None,
                fresh_connection,
            },
            Duration::from_secs(2),
        )
    };
    let mut kept = chaosdeck::observe::ProbeRunner::new(0, pid_probe(false));
    let first = kept.check().await;
    assert_up(&first);
    assert_eq!(
        kept.check().await.detail,
        first.detail,
        "the same session answers"
    );

    let mut fresh = chaosdeck::observe::ProbeRunner::new(0, pid_probe(true));
    let a = fresh.check().await;
    assert_up(&a);
    assert_ne!(
        fresh.check().await.detail,
        a.detail,
        "a new session every check"
    );

    let pid: i32 = first
        .detail
        .trim_start_matches("got \"")
        .trim_end_matches('"')
        .parse()
        .unwrap();
    let observer = support::pg::client(&cluster).await;
    observer
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    // The broken session is noticed (at once, or by one failed check) and replaced.
    let mut after = kept.check().await;
    if !after.up {
        after = kept.check().await;
    }
    assert_up(&after);
    assert_ne!(after.detail, first.detail);
}
