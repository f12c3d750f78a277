//! The fault proxy's cost with no fault set: a minimal keep-alive HTTP server,
//! loaded by 10 keep-alive connections in this process, directly and through the
//! proxy; requests per second, median and p99 latency, and the process's CPU time
//! per request. Then one connection at a time (an unsaturated machine) for the
//! latency the proxy adds to one request, and a 10 ms latency fault as a check that
//! the delay added is the one asked for.
//!
//! `cargo bench --bench proxy` measures (a few seconds per phase); when `wrk` is on
//! `PATH` it also runs `wrk -t2 -c10 -d3s --latency` against both. Under
//! `cargo test --all-targets` (no `--bench` argument) it does a short smoke run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chaosdeck::driver::proxy::{FaultProxy, Latency, ProxyFaults};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CONNECTIONS: usize = 10;
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: chaosdeck-bench\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\
Connection: keep-alive\r\n\r\nHello, world!";

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> BenchResult<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let (warm, measure, rounds) = if full {
        (Duration::from_millis(500), Duration::from_secs(3), 2)
    } else {
        (Duration::from_millis(50), Duration::from_millis(150), 1)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(warm, measure, rounds))
}

async fn run(warm: Duration, measure: Duration, rounds: usize) -> BenchResult<()> {
    let server = start_server().await?;
    let proxy = FaultProxy::start_with_seed("127.0.0.1:0".parse()?, server.to_string(), 1).await?;
    let through = proxy.local_addr();
    println!(
        "fault proxy benchmark: {CONNECTIONS} keep-alive connections, {} ms per phase, {rounds} round(s), {} cores",
        measure.as_millis(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut direct = Sample::default();
    let mut proxied = Sample::default();
    for _ in 0..rounds {
        direct.merge(load(server, CONNECTIONS, warm, measure).await?);
        proxied.merge(load(through, CONNECTIONS, warm, measure).await?);
    }
    direct.report("proxy.direct");
    proxied.report("proxy.through");
    println!(
        "RESULT proxy.overhead rps_ratio={:.3} added_p50_us={} added_p99_us={} added_cpu_us_per_request={:.1}",
        proxied.rps() / direct.rps().max(1.0),
        proxied.percentile(0.50) as i64 - direct.percentile(0.50) as i64,
        proxied.percentile(0.99) as i64 - direct.percentile(0.99) as i64,
        proxied.cpu_per_request() - direct.cpu_per_request(),
    );

    let mut single_direct = load(server, 1, warm, measure).await?;
    let mut single_through = load(through, 1, warm, measure).await?;
    single_direct.report("proxy.single_direct");
    single_through.report("proxy.single_through");
    println!(
        "RESULT proxy.single_overhead added_p50_us={} added_p99_us={}",
        single_through.percentile(0.50) as i64 - single_direct.percentile(0.50) as i64,
        single_through.percentile(0.99) as i64 - single_direct.percentile(0.99) as i64,
    );

    if rounds > 1 {
        compare_with_wrk(server, through).await;
    }

    proxy.set_faults(ProxyFaults {
        latency: Some(Latency {
            latency: Duration::from_millis(10),
            jitter: Duration::ZERO,
            probability: 1.0,
        }),
        ..ProxyFaults::none()
    })?;
    let mut slowed = load(through, 1, warm, measure.min(Duration::from_secs(1))).await?;
    slowed.report("proxy.latency_10ms");
    println!(
        "RESULT proxy.latency_10ms added_p50_us={}",
        slowed.percentile(0.50) as i64 - single_direct.percentile(0.50) as i64
    );
    proxy.shutdown().await;
    Ok(())
}

/// The same comparison with `wrk` as the load generator, when it is installed.
async fn compare_with_wrk(direct: SocketAddr, through: SocketAddr) {
    let Some(direct) = wrk(direct).await else {
        println!("wrk is not on PATH; skipping the wrk comparison (apt-get install wrk)");
        return;
    };
    let Some(through) = wrk(through).await else {
        return;
    };
    for (name, (rps, p50, p99)) in [("proxy.wrk_direct", direct), ("proxy.wrk_through", through)] {
        println!("RESULT {name} rps={rps:.0} p50_us={p50:.0} p99_us={p99:.0}");
    }
    println!(
        "RESULT proxy.wrk_overhead rps_ratio={:.3} added_p50_us={:.0} added_p99_us={:.0}",
        through.0 / direct.0.max(1.0),
        through.1 - direct.1,
        through.2 - direct.2
    );
}

/// Requests per second, median and p99 in microseconds, from one `wrk` run.
async fn wrk(addr: SocketAddr) -> Option<(f64, f64, f64)> {
    let url = format!("http://{addr}/");
    let args = ["-t2", "-c10", "-d3s", "--latency", url.as_str()];
    let out = tokio::process::Command::new("wrk")
        .args(args)
        .output()
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let rps = field("Requests/sec:")?.parse().ok()?;
    Some((rps, micros(field("50%")?)?, micros(field("99%")?)?))
}

/// wrk's "123.45us", "1.20ms", "2.00s" in microseconds.
fn micros(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let factor = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        _ => return None,
    };
    Some(number.parse::<f64>().ok()? * factor)
}

/// Requests completed and each one's latency in microseconds.
#[derive(Default)]
struct Sample {
    requests: u64,
    elapsed: Duration,
    micros: Vec<u32>,
    /// CPU time of the whole process (clients, server, proxy) while measuring.
    cpu: Duration,
}

impl Sample {
    fn merge(&mut self, other: Sample) {
        self.requests += other.requests;
        self.elapsed += other.elapsed;
        self.micros.extend(other.micros);
        self.cpu += other.cpu;
    }

    fn cpu_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }

    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(&mut self, q: f64) -> u32 {
        self.micros.sort_unstable();
        let i = ((self.micros.len() as f64 * q) as usize).min(self.micros.len().saturating_sub(1));
        self.micros.get(i).copied().unwrap_or(0)
    }

    fn report(&mut self, name: &str) {
        println!(
            "RESULT {name} rps={:.0} p50_us={} p99_us={} cpu_us_per_request={:.1} requests={}",
            self.rps(),
            self.percentile(0.50),
            self.percentile(0.99),
            self.cpu_per_request(),
            self.requests
        );
    }
}

/// Runs `connections` keep-alive clients against `addr`: a warm-up, then `measure`.
async fn load(
    addr: SocketAddr,
    connections: usize,
    warm: Duration,
    measure: Duration,
) -> BenchResult<Sample> {
    let start = Instant::now() + warm;
    let stop = start + measure;
    let mut clients = Vec::new();
    for _ in 0..connections {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        clients.push(tokio::spawn(async move {
            let mut micros = Vec::new();
            let mut buf = vec![0u8; RESPONSE.len()];
            loop {
                let sent = Instant::now();
                if sent >= stop {
                    break;
                }
                stream.write_all(REQUEST).await?;
                stream.read_exact(&mut buf).await?;
                if sent >= start {
                    micros.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            BenchResult::Ok(micros)
        }));
    }
    tokio::time::sleep_until(start.into()).await;
    let cpu_before = process_cpu();
    tokio::time::sleep_until(stop.into()).await;
    let cpu = process_cpu().saturating_sub(cpu_before);
    let mut sample = Sample {
        elapsed: measure,
        cpu,
        ..Sample::default()
    };
    for client in clients {
        let micros = client.await??;
        sample.requests += micros.len() as u64;
        sample.micros.extend(micros);
    }
    Ok(sample)
}

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux; zero
/// elsewhere). Ticks are USER_HZ, 100 per second on Linux.
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command: state is field 3, utime 14, stime 15.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// A minimal keep-alive HTTP/1.1 server: one fixed answer per request head.
async fn start_server() -> BenchResult<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    Ok(addr)
}

async fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut pending = Vec::with_capacity(4096);
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::with_capacity(4096);
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        out.clear();
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            out.extend_from_slice(RESPONSE);
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
    }
}
