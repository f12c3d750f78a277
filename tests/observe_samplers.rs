//! The samplers against real parts: a throwaway PostgreSQL cluster (sessions, row
//! locks, dead tuples, a standby, max_connections exhausted), this host, a real
//! Docker container stopped and started again, the fault proxy in front of an
//! echo server, and a process by its port, killed and started again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use bollard::container::StopContainerOptions;
use chaosdeck::driver::postgres::{PgConnSpec, PgTarget};
use chaosdeck::driver::process::ProcessSelector;
use chaosdeck::driver::proxy::FaultProxy;
use chaosdeck::lab::{PgCluster, PgClusterOptions};
use chaosdeck::observe::{spawn_samplers, MetricBatch, SamplerSet, MONITOR_APPLICATION_NAME};
use support::pg::{client, code, connect, target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::Receiver;
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

const INTERVAL: Duration = Duration::from_millis(100);

/// Running samplers and their channel; cancelled when dropped.
struct Samplers {
    rx: Receiver<MetricBatch>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

fn start(set: SamplerSet) -> Samplers {
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let cancel = CancellationToken::new();
    let tasks = spawn_samplers(
        set,
        INTERVAL,
        tokio::time::Instant::now(),
        tx,
        cancel.clone(),
    );
    Samplers { rx, cancel, tasks }
}

impl Samplers {
    /// The first batch of `source` for which `done` holds, within `secs`.
    async fn until(
        &mut self,
        source: &str,
        secs: u64,
        done: impl Fn(&MetricBatch) -> bool,
    ) -> MetricBatch {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let batch = match timeout(left, self.rx.recv()).await {
                Ok(Some(batch)) => batch,
                _ => panic!("no batch of {source} as expected within {secs} s; last: {last:?}"),
            };
            if batch.source == source && done(&batch) {
                return batch;
            }
            if batch.source == source {
                last = Some(batch);
            }
        }
    }

    /// The next good batch of `source` read after `since`.
    async fn fresh(&mut self, source: &str, since: Instant) -> MetricBatch {
        self.until(source, 5, |b| b.at >= since && b.error.is_none())
            .await
    }
}

impl Drop for Samplers {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn value(batch: &MetricBatch, series: &str) -> Option<f64> {
    let sample = batch.samples.iter().find(|s| s.series == series)?;
    Some(sample.value)
}

fn pg(cluster: &PgCluster) -> SamplerSet {
    SamplerSet {
        postgres: Some(target(cluster)),
        ..SamplerSet::default()
    }
}

fn ok(batch: &MetricBatch) -> bool {
    batch.error.is_none()
}

#[tokio::test]
async fn pg_sampler_counts_sessions_through_one_monitoring_session() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let mut samplers = start(pg(&cluster));
    let before = samplers.until("postgres", 10, ok).await;
    let total = value(&before, "pg.connections.total").unwrap();
    assert!(total >= 1.0, "the monitoring session counts: {before:?}");
    let max = value(&before, "pg.max_connections").unwrap();
    assert_eq!(max, f64::from(cluster.options().max_connections));
    let ratio = value(&before, "pg.cache_hit_ratio").unwrap();
    assert!((0.0..=100.0).contains(&ratio), "cache hit ratio {ratio}");
    assert_eq!(value(&before, "pg.replication_lag_bytes"), Some(0.0));

    let mut extra = Vec::new();
    for _ in 0..5 {
        extra.push(client(&cluster).await);
    }
    let after = samplers
        .until("postgres", 5, |b| {
            value(b, "pg.connections.total").is_some_and(|n| n >= total + 5.0)
        })
        .await;
    assert!(
        value(&after, "pg.connections.idle").unwrap() >= 5.0,
        "{after:?}"
    );
    let admin = &extra[0];
    let monitor = monitor_pids(admin).await;
    assert_eq!(monitor.len(), 1, "one long-lived monitoring session");

    // Terminated, the session is opened again and the readings go on.
    let kill = "SELECT pg_terminate_backend($1)";
    admin.execute(kill, &[&monitor[0]]).await.unwrap();
    samplers.fresh("postgres", Instant::now()).await;
    let again = monitor_pids(admin).await;
    assert_eq!(again.len(), 1, "one monitoring session again");
    assert_ne!(again, monitor, "a new monitoring session");
}

/// The backends of the console's monitoring session.
async fn monitor_pids(client: &tokio_postgres::Client) -> Vec<i32> {
    let sql = "SELECT pid FROM pg_stat_activity WHERE application_name = $1";
    let rows = client
        .query(sql, &[&MONITOR_APPLICATION_NAME])
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn pg_sampler_sees_a_waiting_row_lock_and_dead_tuples() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let holder = client(&cluster).await;
    holder
        .batch_execute(
            "CREATE TABLE items (id int PRIMARY KEY, v int); \
             INSERT INTO items SELECT g, 0 FROM generate_series(1, 2000) g",
        )
        .await
        .unwrap();
    let mut samplers = start(pg(&cluster));
    let before = samplers.until("postgres", 10, ok).await;
    assert_eq!(value(&before, "pg.locks.waiting"), Some(0.0), "{before:?}");
    let dead_before = value(&before, "pg.dead_tuples").unwrap();

    // A backend sends its table counters at most once a second (and it did when it
    // connected); after that it sends them as soon as it goes idle.
    let updater = client(&cluster).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    updater
        .batch_execute("UPDATE items SET v = v + 1")
        .await
        .unwrap();
    samplers
        .until("postgres", 5, |b| {
            value(b, "pg.dead_tuples").is_some_and(|n| n >= dead_before + 2000.0)
        })
        .await;

    holder
        .batch_execute("BEGIN; UPDATE items SET v = 10 WHERE id = 1")
        .await
        .unwrap();
    let waiter = client(&cluster).await;
    let blocked = tokio::spawn(async move {
        waiter
            .batch_execute("UPDATE items SET v = 20 WHERE id = 1")
            .await
    });
    let waiting = samplers
        .until("postgres", 5, |b| {
            value(b, "pg.locks.waiting").is_some_and(|n| n >= 1.0)
        })
        .await;
    assert!(value(&waiting, "pg.connections.active").unwrap() >= 1.0);
    assert!(value(&waiting, "pg.connections.idle_in_transaction").unwrap() >= 1.0);
    holder.batch_execute("ROLLBACK").await.unwrap();
    timeout(Duration::from_secs(5), blocked)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn pg_sampler_keeps_reading_while_max_connections_is_exhausted() {
    let options = PgClusterOptions {
        max_connections: 10,
        ..PgClusterOptions::default()
    };
    let Some(cluster) = support::pg_cluster_with(options) else {
        return;
    };
    let mut samplers = start(pg(&cluster));
    samplers.until("postgres", 10, ok).await;

    let mut held = Vec::new();
    let refused = loop {
        match connect(&cluster).await {
            Ok(session) => held.push(session),
            Err(e) => break e,
        }
        assert!(held.len() < 20, "the server never refused a session");
    };
    assert_eq!(code(&refused), "53300", "too many clients: {refused}");
    let full = Instant::now();
    for _ in 0..5 {
        let batch = samplers.fresh("postgres", Instant::now()).await;
        assert_eq!(
            value(&batch, "pg.connections.total"),
            Some(10.0),
            "{batch:?}"
        );
        assert_eq!(value(&batch, "pg.max_connections"), Some(10.0));
    }
    assert!(
        full.elapsed() < Duration::from_secs(2),
        "{:?}",
        full.elapsed()
    );
}

#[tokio::test]
async fn pg_sampler_reads_replication_lag_on_primary_and_standby() {
    // wal_level = replica and max_wal_senders = 10 are the server's defaults.
    let Some(primary) = support::pg_cluster() else {
        return;
    };
    let standby = PgCluster::start_standby(&primary).expect("starting a standby");
    let admin = client(&primary).await;
    let standbys = "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn IS NOT NULL";
    let deadline = Instant::now() + Duration::from_secs(10);
    while admin
        .query_one(standbys, &[])
        .await
        .unwrap()
        .get::<_, i64>(0)
        == 0
    {
        assert!(Instant::now() < deadline, "the standby never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut on_primary = start(pg(&primary));
    let mut on_standby = start(pg(&standby));
    for samplers in [&mut on_primary, &mut on_standby] {
        let batch = samplers.until("postgres", 10, ok).await;
        let lag = value(&batch, "pg.replication_lag_bytes").unwrap();
        assert!(lag >= 0.0, "{batch:?}");
    }
}

/// A PostgreSQL target whose server accepts connections and never answers.
async fn silent_pg_target() -> (PgTarget, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let text = format!("host=127.0.0.1 port={port} user=u password=p dbname=d sslmode=disable");
    let conn = PgConnSpec::parse(&text).unwrap();
    let target = PgTarget {
        conn,
        data_dir: None,
        bin_dir: None,
    };
    (target, listener)
}

/// An echo server on a free port.
async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

async fn proxy() -> FaultProxy {
    let upstream = echo_server().await;
    FaultProxy::start("127.0.0.1:0".parse().unwrap(), upstream)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_hung_source_gives_error_batches_and_never_delays_the_others() {
    let (target, _listener) = silent_pg_target().await;
    let proxy = proxy().await;
    let mut samplers = start(SamplerSet {
        postgres: Some(target),
        proxy: Some(proxy.stats_reader()),
        ..SamplerSet::default()
    });
    let started = Instant::now();
    let (mut proxy_batches, mut pg_failures) = (0, 0);
    while started.elapsed() < Duration::from_millis(1500) {
        let batch = timeout(Duration::from_secs(1), samplers.rx.recv())
            .await
            .unwrap()
            .unwrap();
        if batch.source == "proxy" {
            proxy_batches += 1;
            continue;
        }
        assert!(batch.samples.is_empty(), "{batch:?}");
        let why = batch.error.unwrap_or_default();
        assert!(why.contains("no answer within 400 ms"), "{why}");
        pg_failures += 1;
    }
    assert!(pg_failures >= 2, "{pg_failures} failed readings");
    assert!(
        proxy_batches >= 13,
        "{proxy_batches} proxy batches in 1.5 s"
    );
}

#[tokio::test]
async fn host_sampler_gives_plausible_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut samplers = start(SamplerSet {
        host_disk: Some(dir.path().to_path_buf()),
        ..SamplerSet::default()
    });
    let batch = samplers
        .until("host", 5, |b| value(b, "host.cpu_percent").is_some())
        .await;
    assert!(ok(&batch), "{batch:?}");
    for series in [
        "host.cpu_percent",
        "host.memory_used_percent",
        "host.disk_used_percent",
    ] {
        let v = value(&batch, series).unwrap();
        assert!((0.0..=100.0).contains(&v), "{series} = {v}");
    }
    assert!(value(&batch, "host.memory_used_percent").unwrap() > 0.0);
    assert!(value(&batch, "host.memory_used_bytes").unwrap() > 0.0);
}

#[tokio::test]
async fn container_sampler_follows_a_container_through_stop_and_start() {
    let Some(docker) = support::docker().await else {
        return;
    };
    let Some(image) = support::busybox_image(&docker).await else {
        return;
    };
    let guard = support::ContainerGuard::start(&docker, &image, None, None).await;
    let missing = support::unique_name("missing");
    let mut samplers = start(SamplerSet {
        containers: vec![guard.name.clone(), missing.clone()],
        ..SamplerSet::default()
    });
    let (source, series) = (format!("container:{}", guard.name), |what: &str| {
        format!("container.{}.{what}", guard.name)
    });
    let up = samplers
        .until(&source, 10, |b| {
            value(b, &series("memory_bytes")).is_some_and(|m| m > 0.0)
                && value(b, &series("cpu_percent")).is_some()
        })
        .await;
    assert_eq!(value(&up, &series("running")), Some(1.0));
    assert_eq!(value(&up, &series("restarts")), Some(0.0));
    assert!(value(&up, &series("cpu_percent")).unwrap() >= 0.0);
    let gone = samplers
        .until(&format!("container:{missing}"), 5, |_| true)
        .await;
    assert!(gone.error.is_some(), "{gone:?}");
    assert_eq!(gone.samples.len(), 1, "running = 0 only: {gone:?}");

    let stop = StopContainerOptions { t: 0 };
    docker.stop_container(&guard.id, Some(stop)).await.unwrap();
    let down = samplers
        .until(&source, 5, |b| value(b, &series("running")) == Some(0.0))
        .await;
    let why = down.error.as_deref().unwrap_or_default();
    assert!(why.contains("exited"), "{down:?}");
    assert!(value(&down, &series("memory_bytes")).is_none());

    docker
        .start_container::<String>(&guard.id, None)
        .await
        .unwrap();
    let since = Instant::now();
    samplers
        .until(&source, 10, |b| {
            b.at >= since
                && ok(b)
                && value(b, &series("running")) == Some(1.0)
                && value(b, &series("memory_bytes")).is_some_and(|m| m > 0.0)
        })
        .await;
}

#[tokio::test]
async fn proxy_sampler_counts_bytes_both_ways() {
    let proxy = proxy().await;
    let mut samplers = start(SamplerSet {
        proxy: Some(proxy.stats_reader()),
        ..SamplerSet::default()
    });
    let idle = samplers.until("proxy", 5, ok).await;
    assert_eq!(value(&idle, "proxy.bytes_up"), Some(0.0));
    let mut stream = TcpStream::connect(proxy.local_addr()).await.unwrap();
    let data = vec![7u8; 10_000];
    stream.write_all(&data).await.unwrap();
    let mut back = vec![0u8; data.len()];
    stream.read_exact(&mut back).await.unwrap();
    let busy = samplers
        .until("proxy", 5, |b| {
            value(b, "proxy.bytes_up") == Some(10_000.0)
                && value(b, "proxy.bytes_down") == Some(10_000.0)
        })
        .await;
    assert_eq!(value(&busy, "proxy.connections_open"), Some(1.0));
    assert_eq!(value(&busy, "proxy.faults_fired"), Some(0.0));
}

/// `busybox httpd` serving on `port` as a child of the test.
fn httpd_on(port: u16) -> std::process::Child {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("busybox is missing: apt-get install busybox-static (scripts/test does)");
    let mut child = std::process::Command::new(busybox)
        .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h", "/"])
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("busybox httpd did not listen on {port}");
}

#[tokio::test]
async fn process_sampler_counts_a_restart_in_the_selectors_place() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut first = httpd_on(port);
    let mut samplers = start(SamplerSet {
        process: Some(ProcessSelector::Port(port)),
        ..SamplerSet::default()
    });
    let source = format!("process:port:{port}");
    let running = format!("process.port:{port}.running");
    let restarts = format!("process.port:{port}.restarts");
    let up = samplers.until(&source, 5, ok).await;
    assert_eq!(value(&up, &running), Some(1.0));
    assert_eq!(value(&up, &restarts), Some(0.0));

    // Killed: the reading fails, and still says it is not running.
    first.kill().unwrap();
    first.wait().unwrap();
    let down = samplers.until(&source, 5, |b| !ok(b)).await;
    assert_eq!(value(&down, &running), Some(0.0), "{down:?}");
    assert_eq!(value(&down, &restarts), Some(0.0));

    // Another process takes the port: one restart.
    let mut second = httpd_on(port);
    let back = samplers.until(&source, 5, ok).await;
    assert_eq!(value(&back, &running), Some(1.0));
    assert_eq!(value(&back, &restarts), Some(1.0), "{back:?}");
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test]
async fn cancel_ends_every_task_within_200_ms() {
    let (target, _listener) = silent_pg_target().await;
    let proxy = proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let mut samplers = start(SamplerSet {
        postgres: Some(target),
        host_disk: Some(dir.path().to_path_buf()),
        containers: vec![support::unique_name("absent")],
        proxy: Some(proxy.stats_reader()),
        process: Some(ProcessSelector::Pid(std::process::id())),
    });
    assert_eq!(samplers.tasks.len(), 5);
    samplers.until("proxy", 5, ok).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let cancelled = Instant::now();
    samplers.cancel.cancel();
    for task in std::mem::take(&mut samplers.tasks) {
        let left = Duration::from_millis(200).saturating_sub(cancelled.elapsed());
        timeout(left, task).await.expect("ended in time").unwrap();
    }
}

#[tokio::test]
async fn samplers_stop_when_the_receiver_is_gone() {
    let proxy = proxy().await;
    let set = SamplerSet {
        proxy: Some(proxy.stats_reader()),
        ..SamplerSet::default()
    };
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let tasks = spawn_samplers(
        set,
        INTERVAL,
        tokio::time::Instant::now(),
        tx,
        CancellationToken::new(),
    );
    drop(rx);
    for task in tasks {
        timeout(Duration::from_secs(1), task)
            .await
            .unwrap()
            .unwrap();
    }
}
