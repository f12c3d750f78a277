//! How fast the `db-max-connections` fault saturates a PostgreSQL server with
//! `max_connections = 100`: chaosdeck's `postgres.hold_connections: { count: fill,
//! reserve: 1 }` (plan + apply) beside the runbook way, a bash loop of
//! `psql -c 'select pg_sleep(30)' &` that stops at the first refusal it sees
//! (the loop of /work/shared/bench/pg_peer.sh).
//!
//! Both cases run against ONE throwaway cluster (scram auth) as the same
//! non-superuser role, `chaos_app`, so the three superuser-reserved slots stay free
//! for the bench's own superuser session, which watches the server and terminates
//! the loop's sleepers. That session holds one slot for the whole run, in both cases.
//!
//! `cargo bench --bench pg_saturate`: criterion measures the chaosdeck case (10
//! samples), then the shell loop runs 5 times; `RESULT` lines and the ratio follow.
//! Under `cargo test --all-targets` (no `--bench` argument) criterion's test mode
//! runs the chaosdeck case once and the shell loop runs once, on a server with
//! `max_connections = 16` (a debug build's scram handshakes are slow), and the
//! figures print as `SMOKE` lines, not `RESULT`.
//!
//! Asserted in both modes: the loop saw a refusal, and chaosdeck's fill holds all
//! but at most two of the role's slots. Whether a fresh client is then refused
//! (SQLSTATE 53300) is counted and reported, not asserted: chaosdeck's parallel
//! fill sometimes ends a slot short (when it asks for one session too many, two
//! concurrent start-ups can both be refused), and so can the peer's loop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chaosdeck::catalog::Action;
use chaosdeck::driver::postgres::sessions::is_too_many_clients;
use chaosdeck::driver::postgres::{self, PgConnSpec, PgRun, PgTarget};
use chaosdeck::lab::{PgCluster, PgClusterOptions};
use criterion::{Criterion, SamplingMode};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

const MAX_CONNECTIONS: u32 = 100;
/// The server's size under `cargo test`, where chaosdeck is a debug build whose
/// scram handshake (PBKDF2 in unoptimised Rust) costs ~100 ms of CPU per session:
/// filling 100 slots would take 10 s or more there. The measured run always uses 100.
const SMOKE_MAX_CONNECTIONS: u32 = 16;
const ROLE: &str = "chaos_app";
const ROLE_PASSWORD: &str = "chaos-app-pw";
const ACTION: &str = "postgres.hold_connections: { count: fill, reserve: 1 }";
/// Criterion samples of the chaosdeck case.
const SAMPLES: usize = 10;
/// Shell-loop runs under `cargo bench`; under `cargo test` it runs once.
const LOOP_RUNS: usize = 5;
/// How long to wait for the server to settle between iterations.
const SETTLE: Duration = Duration::from_secs(15);

/// The peer's loop (pg_peer.sh, section 1) with its stop condition, unchanged but
/// for the connection arguments; it prints its own start and stop times, then the
/// pids of the psql processes it started, and waits for them.
const PSQL_LOOP: &str = r#"
set -u
d=$1; psql=$2; port=$3; db=$4; user=$5; MAXCONN=$6
REFUSE_RE='too many clients|remaining connection slots are reserved'
APP=("$psql" -X -q -h 127.0.0.1 -p "$port" -U "$user" -d "$db")
pids=()
t0=$EPOCHREALTIME; i=0
while :; do
  i=$((i+1))
  "${APP[@]}" -c "select pg_sleep(30)" >/dev/null 2>"$d/err.$i" &
  pids+=($!)
  if grep -Eqs "$REFUSE_RE" "$d"/err.* ; then break; fi
  [ "$i" -ge $((MAXCONN * 3)) ] && { echo "never saturated" >&2; i=never; break; }
done
t1=$EPOCHREALTIME
echo "SATURATED $t0 $t1 $i"
echo "PIDS ${pids[*]}"
wait
"#;

/// The cluster, a runtime, and the bench's own superuser session.
struct Lab {
    max_connections: u32,
    superuser_reserved: i64,
    // Field order: the session and runtime go before the cluster stops.
    observer: Client,
    rt: Runtime,
    psql: PathBuf,
    scratch: tempfile::TempDir,
    cluster: PgCluster,
}

impl Lab {
    fn start(max_connections: u32) -> Lab {
        let cluster = PgCluster::start(PgClusterOptions {
            max_connections,
            ..PgClusterOptions::default()
        })
        .unwrap_or_else(|e| panic!("cannot start the throwaway PostgreSQL cluster: {e}"));
        let psql = find_psql(cluster.bin_dir());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (observer, superuser_reserved) = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&cluster.conn_string(), NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!(
                    "SET application_name = 'pg_saturate-bench'; \
                     CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PASSWORD}'"
                ))
                .await
                .unwrap();
            let scram: bool = client
                .query_one(
                    "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = $1",
                    &[&ROLE],
                )
                .await
                .unwrap()
                .get(0);
            assert!(scram, "{ROLE} should have a scram password");
            let reserved: i32 = client
                .query_one(
                    "SELECT current_setting('superuser_reserved_connections')::int",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            (client, i64::from(reserved))
        });
        Lab {
            max_connections,
            superuser_reserved,
            observer,
            rt,
            psql,
            scratch: tempfile::tempdir().unwrap(),
            cluster,
        }
    }

    /// The libpq string of the bench role, the one both cases use.
    fn app_conn(&self) -> String {
        format!(
            "host={} port={} dbname={} user={ROLE} password={ROLE_PASSWORD}",
            self.cluster.host(),
            self.cluster.port(),
            self.cluster.options().database
        )
    }

    async fn connect_app(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.app_conn(), NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    async fn count(&self, sql: &str) -> i64 {
        self.observer.query_one(sql, &[]).await.unwrap().get(0)
    }

    async fn app_backends(&self) -> i64 {
        self.count(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = '{ROLE}'"
        ))
        .await
    }

    /// Whether a fresh client of the bench role is refused with SQLSTATE 53300
    /// (`false`: it connected). Any other failure ends the bench.
    async fn fresh_client_refused(&self) -> bool {
        match self.connect_app().await {
            Ok(_) => false,
            Err(e) if is_too_many_clients(&e) => true,
            Err(e) => panic!("a fresh client of {ROLE} failed otherwise: {e}"),
        }
    }

    /// Sessions the bench role can have at most: the slots not reserved for
    /// superusers, less the observer's.
    fn role_slots(&self) -> i64 {
        i64::from(self.max_connections) - self.superuser_reserved - 1
    }

    /// Waits until a fresh client of the bench role connects and runs a query.
    async fn wait_until_fresh_client_works(&self) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let last = match self.connect_app().await {
                Ok(client) => match client.simple_query("SELECT 1").await {
                    Ok(_) => return,
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            assert!(
                Instant::now() < deadline,
                "the server still refuses clients after {SETTLE:?}: {last}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until no client session but the observer is left, so every iteration
    /// starts from the same empty server.
    async fn settle(&self) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let others = self
                .count(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
                )
                .await;
            if others == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{others} client sessions still open after {SETTLE:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// psql from the cluster's bin dir, else /usr/bin/psql; `PG_SATURATE_PSQL` picks
/// another (e.g. /usr/bin/psql, Debian's Perl wrapper, which pg_peer.sh runs: it
/// adds about 30 ms of start-up to every psql).
fn find_psql(bin_dir: &Path) -> PathBuf {
    if let Some(chosen) = std::env::var_os("PG_SATURATE_PSQL") {
        let chosen = PathBuf::from(chosen);
        assert!(
            chosen.is_file(),
            "PG_SATURATE_PSQL={}: no such file (apt-get install -y postgresql-client)",
            chosen.display()
        );
        return chosen;
    }
    [bin_dir.join("psql"), PathBuf::from("/usr/bin/psql")]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "psql not found in {} or /usr/bin: apt-get install -y postgresql-client",
                bin_dir.display()
            )
        })
}

/// One chaosdeck iteration.
struct Iteration {
    /// plan + apply: from the start until every session is open.
    took: Duration,
    /// The plan step alone (one session and a query).
    plan: Duration,
    /// CPU (user + system) this process spent meanwhile, on every thread.
    cpu: Duration,
    /// Sessions of the bench role while the fault was on.
    held: i64,
    /// Whether a fresh client was then refused with SQLSTATE 53300.
    saturated: bool,
    /// Times undo's own session was refused right after the release.
    undo_retries: u32,
}

fn chaosdeck_once(lab: &Lab, action: &Action) -> Iteration {
    lab.rt.block_on(async {
        lab.settle().await;
        let target = PgTarget {
            conn: PgConnSpec::parse(&lab.app_conn()).unwrap(),
            data_dir: None,
            bin_dir: None,
        };
        let run = PgRun::new(
            &chaosdeck::engine::journal::new_run_id(),
            "bench",
            Duration::from_secs(60),
        );

        let cpu_before = own_cpu();
        let start = Instant::now();
        let plan = postgres::plan(action, &target, &run).await.unwrap();
        let planned = start.elapsed();
        let hold = postgres::apply(action, &target, &run, &plan.undo)
            .await
            .unwrap();
        let took = start.elapsed();
        let cpu = own_cpu().saturating_sub(cpu_before);

        let held = lab.app_backends().await;
        let saturated = lab.fresh_client_refused().await;
        // A fill that ends a slot or two short is a known chaosdeck gap (see the
        // report); anything worse is a failure.
        assert!(
            held >= lab.role_slots() - 2,
            "after chaosdeck's apply ({}): only {held} of {} sessions held",
            plan.blast_radius,
            lab.role_slots()
        );
        hold.release().await;
        // The released sessions end on the server a moment later; until then undo's
        // own session may be refused.
        let deadline = Instant::now() + SETTLE;
        let mut undo_retries = 0;
        while let Err(e) = postgres::undo(&plan.undo, &target).await {
            assert!(Instant::now() < deadline, "undo: {e}");
            undo_retries += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        lab.wait_until_fresh_client_works().await;
        Iteration {
            took,
            plan: planned,
            cpu,
            held,
            saturated,
            undo_retries,
        }
    })
}

/// The shell loop while it runs: bash in a process group of its own.
struct ShellLoop {
    bash: Child,
    psql_pids: Vec<i32>,
}

impl ShellLoop {
    /// Ends the psql processes the loop started, by pid, then reaps bash (its
    /// `wait` returns once they are gone); after `grace`, ends bash's own group.
    fn stop(&mut self, grace: Duration) {
        for pid in self.psql_pids.drain(..) {
            // ESRCH: that psql was refused and has exited already.
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while matches!(self.bash.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if matches!(self.bash.try_wait(), Ok(None)) {
            if let Ok(pgid) = i32::try_from(self.bash.id()) {
                // The group bash leads, made for this run (process_group(0)).
                let _ = kill(Pid::from_raw(-pgid), Signal::SIGKILL);
            }
        }
        let _ = self.bash.wait();
    }
}

impl Drop for ShellLoop {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

struct LoopRun {
    /// Loop start to first refusal, as the loop itself measures it.
    to_refusal: Duration,
    /// Spawning bash to reading its "SATURATED" line.
    wall: Duration,
    spawned: u32,
    held: i64,
    probe_refused: bool,
}

fn psql_loop_once(lab: &Lab, run: usize) -> LoopRun {
    lab.rt.block_on(lab.settle());
    let dir = lab.scratch.path().join(format!("loop.{run}"));
    std::fs::create_dir_all(&dir).unwrap();
    let start = Instant::now();
    let bash = Command::new("bash")
        .arg("-c")
        .arg(PSQL_LOOP)
        .arg("pg_saturate_loop")
        .arg(&dir)
        .arg(&lab.psql)
        .arg(lab.cluster.port().to_string())
        .arg(&lab.cluster.options().database)
        .arg(ROLE)
        .arg(lab.max_connections.to_string())
        .env("PGPASSWORD", ROLE_PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut shell = ShellLoop {
        bash,
        psql_pids: Vec::new(),
    };
    let mut lines = BufReader::new(shell.bash.stdout.take().unwrap()).lines();
    let saturated = lines.next().unwrap().unwrap();
    let wall = start.elapsed();
    let pids = lines.next().unwrap().unwrap();
    shell.psql_pids = pids
        .split_whitespace()
        .skip(1)
        .map(|p| p.parse().unwrap())
        .collect();
    let fields: Vec<&str> = saturated.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "unexpected loop output: {saturated}");
    assert_ne!(fields[3], "never", "the psql loop never saw a refusal");
    let t0: f64 = fields[1].parse().unwrap();
    let t1: f64 = fields[2].parse().unwrap();
    let spawned: u32 = fields[3].parse().unwrap();

    let (held, probe_refused) = lab
        .rt
        .block_on(async { (lab.app_backends().await, lab.fresh_client_refused().await) });
    // Teardown as the peer does it: kill the clients, terminate their backends
    // (pg_sleep goes on after its client is gone) and wait for a fresh client.
    shell.stop(Duration::from_secs(5));
    lab.rt.block_on(async {
        lab.observer
            .execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1",
                &[&ROLE],
            )
            .await
            .unwrap();
        lab.wait_until_fresh_client_works().await;
    });
    LoopRun {
        to_refusal: Duration::from_secs_f64((t1 - t0).max(0.0)),
        wall,
        spawned,
        held,
        probe_refused,
    }
}

/// Opens `n` sessions of the bench role one after another; the time of each.
async fn one_session_latency(lab: &Lab, n: usize) -> Vec<Duration> {
    lab.settle().await;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let client = lab.connect_app().await.unwrap();
        client.simple_query("SELECT 1").await.unwrap();
        times.push(start.elapsed());
    }
    times
}

/// CPU time (user + system) of this process so far.
fn own_cpu() -> Duration {
    let Ok(usage) = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) else {
        return Duration::ZERO;
    };
    [usage.user_time(), usage.system_time()]
        .iter()
        .map(|t| {
            Duration::from_secs(t.tv_sec().max(0) as u64)
                + Duration::from_micros(t.tv_usec().max(0) as u64)
        })
        .sum()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `(median, min, max)` in milliseconds.
fn stats(times: &[Duration]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = times.iter().copied().map(ms).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

fn result_line(kind: &str, name: &str, times: &[Duration]) -> f64 {
    let (median, min, max) = stats(times);
    println!(
        "{kind} {name} median={median:.1} min={min:.1} max={max:.1} n={} ms",
        times.len()
    );
    median
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        println!("pg_saturate/chaosdeck: benchmark");
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    let started = Instant::now();
    let max_connections = if full {
        MAX_CONNECTIONS
    } else {
        SMOKE_MAX_CONNECTIONS
    };
    println!(
        "pg_saturate{}: max_connections={max_connections}, role {ROLE} (scram), {} cores, load {}",
        if full {
            ""
        } else {
            " (test mode: one smoke run of each case)"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    let lab = Lab::start(max_connections);
    println!(
        "cluster on 127.0.0.1:{} ({} s to start), psql {}",
        lab.cluster.port(),
        started.elapsed().as_secs(),
        lab.psql.display()
    );
    let action: Action = serde_yaml::from_str(ACTION).unwrap();

    if full {
        let one = lab.rt.block_on(one_session_latency(&lab, 10));
        println!(
            "one scram session of {ROLE} at a time (tokio-postgres, open + SELECT 1): median {:.1} ms",
            stats(&one).0
        );
    }

    // chaosdeck: each iter_custom call's iterations.
    let mut calls: Vec<Vec<Iteration>> = Vec::new();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .nresamples(10_000)
        .without_plots()
        .configure_from_args();
    {
        let mut group = criterion.benchmark_group("pg_saturate");
        group.sample_size(SAMPLES).sampling_mode(SamplingMode::Flat);
        group.bench_function("chaosdeck", |b| {
            b.iter_custom(|iters| {
                let its: Vec<Iteration> =
                    (0..iters).map(|_| chaosdeck_once(&lab, &action)).collect();
                let total = its.iter().map(|it| it.took).sum();
                calls.push(its);
                total
            })
        });
        group.finish();
    }
    criterion.final_summary();
    // Under `cargo bench` the last SAMPLES calls are the measured ones (the calls
    // before them are criterion's warm-up); under `cargo test` there is one call.
    let measured: Vec<&Iteration> = calls
        .iter()
        .skip(calls.len().saturating_sub(SAMPLES))
        .flatten()
        .collect();
    let all = calls.iter().flatten();
    let held: Vec<i64> = all.clone().map(|it| it.held).collect();
    let saturated = all.clone().filter(|it| it.saturated).count();
    println!(
        "chaosdeck: {} iterations in all ({} measured); sessions of {ROLE} while held: {}..={} \
         of {} slots; saturated (fresh client refused, 53300) in {saturated} of {}; \
         undo refused right after release: {} times; plan step alone: median {:.1} ms; \
         chaosdeck's own CPU during plan + apply: median {:.1} ms",
        held.len(),
        measured.len(),
        held.iter().min().unwrap_or(&0),
        held.iter().max().unwrap_or(&0),
        lab.role_slots(),
        held.len(),
        all.map(|it| it.undo_retries).sum::<u32>(),
        if measured.is_empty() {
            0.0
        } else {
            stats(&measured.iter().map(|it| it.plan).collect::<Vec<_>>()).0
        },
        if measured.is_empty() {
            0.0
        } else {
            stats(&measured.iter().map(|it| it.cpu).collect::<Vec<_>>()).0
        }
    );
    let measured: Vec<Duration> = measured.iter().map(|it| it.took).collect();

    // `hold_connections` tops up until the server refuses, so every fill must leave a
    // fresh client of the role refused with 53300; a slot left free is a bug.
    assert_eq!(
        saturated,
        held.len(),
        "chaosdeck's fill left {ROLE} able to connect in {} of {} iterations",
        held.len() - saturated,
        held.len()
    );

    let runs = if full { LOOP_RUNS } else { 1 };
    let mut loop_times = Vec::new();
    let mut loop_saturated = 0;
    for run in 1..=runs {
        let r = psql_loop_once(&lab, run);
        println!(
            "psql loop run {run}: first refusal after {:.1} ms (bash spawn to report {:.1} ms), \
             psql spawned={}, {ROLE} backends={}, independent probe {}",
            ms(r.to_refusal),
            ms(r.wall),
            r.spawned,
            r.held,
            if r.probe_refused { "refused" } else { "ok" }
        );
        loop_times.push(r.to_refusal);
        loop_saturated += usize::from(r.probe_refused);
    }
    println!("psql loop: independent probe refused in {loop_saturated} of {runs} runs");

    println!(
        "load {} after {:.0} s",
        loadavg(),
        started.elapsed().as_secs_f64()
    );
    // Test-mode figures come from a debug build and a smaller server: not results.
    let kind = if full { "RESULT" } else { "SMOKE" };
    let loop_median = result_line(kind, "pg_saturate_psql_loop", &loop_times);
    if measured.is_empty() {
        println!("(the chaosdeck case was filtered out)");
        return;
    }
    let chaosdeck_median = result_line(kind, "pg_saturate_chaosdeck", &measured);
    let ratio = loop_median / chaosdeck_median;
    if full {
        println!(
            "RESULT pg_saturate_speedup ratio={ratio:.1} (psql loop median / chaosdeck median; goal >= 10: {})",
            if ratio >= 10.0 { "met" } else { "NOT met" }
        );
    } else {
        println!("SMOKE pg_saturate_speedup ratio={ratio:.1} (debug build: not a measurement)");
    }
}
