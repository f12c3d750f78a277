//! Network entries through the fault proxy in front of a tiny HTTP server of the test:
//! one request while the fault is on, and nothing listening once it is torn down.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chaosdeck::catalog::TargetKind;
use chaosdeck::driver::targets::{ProxyTarget, Targets};
use chaosdeck::engine::inject::Active;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::{exe, Sweep};

pub const COVERED: &[&str] = &[
    "net-latency",
    "net-bandwidth-cap",
    "net-connection-reset",
    "net-blackhole",
    "net-refuse",
    "net-slow-close",
    "net-data-limit",
    "net-http-5xx",
    "net-http-slow-response",
];

/// Bytes of the upstream's response body.
const BODY: usize = 16 * 1024;
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: sweep\r\nConnection: close\r\n\r\n";

fn response() -> Vec<u8> {
    let mut text = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {BODY}\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    text.resize(text.len() + BODY, b'x');
    text
}

/// An HTTP server on a free loopback port answering every request with [`response`],
/// then closing; stopped when dropped.
struct Upstream {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Upstream {
    async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream));
            }
        });
        Upstream { addr, task }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    if stream.write_all(&response()).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// A loopback address nothing listens on (a moment ago).
fn free_addr() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap()
}

/// What one request through the proxy came to.
#[derive(Debug)]
struct Reply {
    bytes: Vec<u8>,
    error: Option<std::io::Error>,
    timed_out: bool,
    elapsed: Duration,
}

impl Reply {
    fn status(&self) -> Option<u16> {
        let line = self.bytes.strip_prefix(b"HTTP/1.1 ")?;
        std::str::from_utf8(line.get(..3)?).ok()?.parse().ok()
    }

    /// The whole upstream response arrived, then the connection closed cleanly.
    fn complete(&self) -> bool {
        self.error.is_none() && !self.timed_out && self.bytes == response()
    }

    fn summary(&self) -> String {
        format!(
            "{} bytes, status {:?}, error {:?}, timed out {}, after {} ms",
            self.bytes.len(),
            self.status(),
            self.error.as_ref().map(|e| e.kind()),
            self.timed_out,
            self.elapsed.as_millis()
        )
    }
}

/// Sends one request to `addr` and reads until the connection ends or `within`.
async fn request(addr: SocketAddr, within: Duration) -> Reply {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(REQUEST).await?;
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
    };
    let (error, timed_out) = match tokio::time::timeout(within, exchange).await {
        Ok(Ok(())) => (None, false),
        Ok(Err(e)) => (Some(e), false),
        Err(_) => (None, true),
    };
    Reply {
        bytes,
        error,
        timed_out,
        elapsed: started.elapsed(),
    }
}

/// A fault's overrides, how long to wait for the reply, and what the reply must look
/// like while the fault is on.
type Case = (
    Vec<(&'static str, &'static str)>,
    Duration,
    fn(&Reply) -> bool,
);

fn case(id: &str) -> Case {
    let long = Duration::from_secs(10);
    match id {
        "net-latency" => (vec![("latency", "200ms"), ("jitter", "0ms")], long, |r| {
            r.complete() && r.elapsed >= Duration::from_millis(190)
        }),
        "net-bandwidth-cap" => (vec![("rate", "16KiB")], long, |r| {
            r.complete() && r.elapsed >= Duration::from_millis(600)
        }),
        "net-connection-reset" => (vec![("probability", "1.0")], long, |r| {
            !r.timed_out && r.status().is_none()
        }),
        "net-blackhole" => (vec![], Duration::from_millis(700), |r| {
            r.timed_out && r.bytes.is_empty()
        }),
        "net-refuse" => (vec![], long, |r| !r.timed_out && r.bytes.is_empty()),
        "net-slow-close" => (vec![("delay", "1s")], long, |r| {
            r.complete() && r.elapsed >= Duration::from_millis(900)
        }),
        "net-data-limit" => (vec![("bytes", "1KiB")], long, |r| {
            !r.timed_out && r.bytes.len() < response().len()
        }),
        "net-http-5xx" => (vec![("fraction", "1.0")], long, |r| r.status() == Some(503)),
        "net-http-slow-response" => (vec![("delay", "300ms"), ("fraction", "1.0")], long, |r| {
            r.complete() && r.elapsed >= Duration::from_millis(290)
        }),
        other => panic!("{other} has no case in the network sweep"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_faults_inject_tear_down_and_verify() {
    let sweep = Sweep::new(TargetKind::Proxy);
    let upstream = Upstream::start().await;
    let straight = request(upstream.addr, Duration::from_secs(5)).await;
    assert!(straight.complete(), "upstream: {}", straight.summary());
    for &id in COVERED {
        let listen = free_addr();
        let targets = Targets {
            proxy: Some(ProxyTarget {
                listen,
                upstream: upstream.addr.to_string(),
            }),
            exe: exe(),
            ..Targets::default()
        };
        let (overrides, within, check) = case(id);
        let overrides: Vec<(&str, String)> = overrides
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        sweep
            .run(id, &overrides, &targets, async |_: &Active| {
                let reply = request(listen, within).await;
                ensure!(check(&reply), "through the proxy: {}", reply.summary());
                Ok(())
            })
            .await;
        let after = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(listen)).await;
        assert!(
            !matches!(after, Ok(Ok(_))),
            "{id}: something still listens on {listen} after teardown"
        );
    }
}
