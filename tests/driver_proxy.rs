//! The fault proxy against real sockets: an upstream server on 127.0.0.1:0, the
//! proxy in front of it, and the effect of every fault measured from a client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chaosdeck::catalog::Action;
use chaosdeck::driver::proxy::{
    verify_passthrough, Bandwidth, Chance, DataLimit, FaultProxy, HttpDelay, HttpError, Latency,
    ProxyFaults, SlowClose,
};
use chaosdeck::driver::Verification;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const LOCAL: &str = "127.0.0.1:0";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A test upstream: its address and how many connections it accepted.
struct Upstream {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// HTTP servers log each request: when it arrived and its path.
    requests: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Upstream {
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Starts a server that runs `serve` for each connection.
async fn upstream<F, Fut>(serve: F) -> Upstream
where
    F: Fn(TcpStream, Arc<Mutex<Vec<(Instant, String)>>>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(LOCAL).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (count, log) = (accepted.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream, log.clone()));
        }
    });
    Upstream {
        addr,
        accepted,
        requests,
    }
}

async fn echo_server() -> Upstream {
    upstream(|mut stream, _| async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    })
    .await
}

/// Keep-alive HTTP/1.1 with `Content-Length` bodies; answers 200 with the path.
async fn http_server() -> Upstream {
    upstream(|stream, log| async move {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        while let Some((path, _body)) = read_request(&mut read).await {
            log.lock().unwrap().push((Instant::now(), path.clone()));
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{path}",
                path.len()
            );
            if write.write_all(reply.as_bytes()).await.is_err() {
                break;
            }
        }
    })
    .await
}

async fn read_request<R: AsyncRead + Unpin>(read: &mut BufReader<R>) -> Option<(String, Vec<u8>)> {
    let mut line = String::new();
    if read.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let path = line.split(' ').nth(1)?.to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        read.read_line(&mut header).await.ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    read.read_exact(&mut body).await.ok()?;
    Some((path, body))
}

struct Response {
    status: u16,
    headers: Vec<String>,
    body: String,
}

async fn read_response<R: AsyncRead + Unpin>(read: &mut BufReader<R>) -> Response {
    let mut line = String::new();
    read.read_line(&mut line).await.unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut header = String::new();
        read.read_line(&mut header).await.unwrap();
        let header = header.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(v) = header.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        headers.push(header);
    }
    let mut body = vec![0; length];
    read.read_exact(&mut body).await.unwrap();
    Response {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

async fn proxy_to(up: &Upstream, seed: u64) -> FaultProxy {
    let listen = LOCAL.parse().unwrap();
    FaultProxy::start_with_seed(listen, up.addr.to_string(), seed)
        .await
        .unwrap()
}

async fn connect(proxy: &FaultProxy) -> TcpStream {
    let stream = TcpStream::connect(proxy.local_addr()).await.unwrap();
    // May fail when the proxy's RST (a reset fault) is already there.
    let _ = stream.set_nodelay(true);
    stream
}

/// One echo round trip of a small message.
async fn round_trip(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    stream.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    timeout(Duration::from_secs(5), stream.read_exact(&mut buf))
        .await
        .expect("echo in time")
        .unwrap();
    assert_eq!(&buf, b"ping");
    started.elapsed()
}

async fn median_round_trip(stream: &mut TcpStream, n: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..n {
        times.push(round_trip(stream).await);
    }
    times.sort();
    times[n / 2]
}

/// Waits up to 2 s for `done` to hold.
async fn eventually(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(ms(5)).await;
    }
}

fn latency(l: u64, jitter: u64) -> ProxyFaults {
    ProxyFaults {
        latency: Some(Latency {
            latency: ms(l),
            jitter: ms(jitter),
            probability: 1.0,
        }),
        ..ProxyFaults::none()
    }
}

fn certain() -> Option<Chance> {
    Some(Chance { probability: 1.0 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_traffic_untouched_and_counts_it() {
    let up = echo_server().await;
    let proxy = proxy_to(&up, 1).await;
    let mut client = connect(&proxy).await;
    let sent: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let (mut read, mut write) = client.split();
    let writer = async {
        for piece in sent.chunks(4096) {
            write.write_all(piece).await.unwrap();
        }
    };
    let mut got = vec![0u8; sent.len()];
    let reader = read.read_exact(&mut got);
    let (_, read_result) = tokio::join!(writer, reader);
    read_result.unwrap();
    assert_eq!(got, sent);
    // The counters follow each write; give the proxy's task a moment to count.
    let total = sent.len() as u64;
    eventually(|| proxy.stats().bytes_down == total).await;
    let stats = proxy.stats();
    assert_eq!(stats.connections_total, 1);
    assert_eq!(stats.connections_open, 1);
    assert_eq!(stats.bytes_up, total);
    assert_eq!(stats.bytes_down, total);
    assert_eq!(stats.faults_fired, 0);
    drop(client);
    eventually(|| proxy.stats().connections_open == 0).await;
    assert_eq!(proxy.stats().connections_open, 0);
    assert_eq!(proxy.verify_passthrough().await, Verification::Verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_adds_l_to_a_round_trip_and_goes_away_on_the_same_connection() {
    let up = echo_server().await;
    let proxy = proxy_to(&up, 2).await;
    let mut client = connect(&proxy).await;
    let before = median_round_trip(&mut client, 5).await;
    proxy.set_faults(latency(100, 0)).unwrap();
    let slowed = median_round_trip(&mut client, 3).await;
    assert!(
        slowed >= before + ms(95) && slowed <= before + ms(150),
        "round trip {slowed:?} with 100ms latency, {before:?} without"
    );
    proxy.set_faults(ProxyFaults::none()).unwrap();
    let after = median_round_trip(&mut client, 5).await;
    assert!(
        after < before + ms(20),
        "{after:?} after, {before:?} before"
    );
    assert_eq!(proxy.stats().faults_fired, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_a_longer_wire_so_two_pieces_are_late_by_l_not_2l() {
    let (wrote_tx, mut wrote) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let up = upstream(move |mut stream, _| {
        let wrote = wrote_tx.clone();
        async move {
            let mut buf = [0u8; 64];
            if stream.read(&mut buf).await.unwrap_or(0) > 0 {
                stream.write_all(b"one").await.unwrap();
                wrote.send(Instant::now()).unwrap();
                tokio::time::sleep(ms(50)).await;
                stream.write_all(b"two").await.unwrap();
                wrote.send(Instant::now()).unwrap();
            }
            let _ = stream.read(&mut buf).await;
        }
    })
    .await;
    let proxy = proxy_to(&up, 3).await;
    proxy.set_faults(latency(150, 0)).unwrap();
    let mut client = connect(&proxy).await;
    let started = Instant::now();
    client.write_all(b"go").await.unwrap();
    let mut first = [0u8; 3];
    client.read_exact(&mut first).await.unwrap();
    let first_at = Instant::now();
    let mut second = [0u8; 3];
    client.read_exact(&mut second).await.unwrap();
    let second_at = Instant::now();
    assert_eq!((&first, &second), (b"one", b"two"));
    let (wrote_first, wrote_second) = (wrote.recv().await.unwrap(), wrote.recv().await.unwrap());
    let (late_first, late_second) = (first_at - wrote_first, second_at - wrote_second);
    assert!(
        late_first >= ms(148) && late_first < ms(200),
        "first piece arrived {late_first:?} after it was written"
    );
    assert!(
        late_second >= ms(148) && late_second < ms(200),
        "second piece arrived {late_second:?} after it was written: late by L, not 2L"
    );
    // From the client's side: about L plus the server's 50 ms, not 2L.
    let total = second_at - started;
    assert!(total < ms(290), "{total:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_spreads_delays_without_reordering_bytes() {
    let up = echo_server().await;
    let proxy = proxy_to(&up, 4).await;
    proxy.set_faults(latency(60, 40)).unwrap();
    let mut client = connect(&proxy).await;
    let mut times = Vec::new();
    for _ in 0..12 {
        times.push(round_trip(&mut client).await);
    }
    let (low, high) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    // 60 ms ± 40 ms, plus what a busy machine adds.
    assert!(low >= ms(19) && high <= ms(160), "{times:?}");
    assert!(
        high - low >= ms(15),
        "jitter should spread delays: {times:?}"
    );

    // A stream written in small steps comes back whole and in order.
    let expected: Vec<u8> = (0..100)
        .flat_map(|i: u32| format!("{i};").into_bytes())
        .collect();
    let (mut read, mut write) = client.split();
    let writer = async {
        for i in 0..100u32 {
            write.write_all(format!("{i};").as_bytes()).await.unwrap();
            tokio::time::sleep(ms(2)).await;
        }
    };
    let mut got = vec![0u8; expected.len()];
    let (_, done) = tokio::join!(
        writer,
        timeout(Duration::from_secs(5), read.read_exact(&mut got))
    );
    done.unwrap().unwrap();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_caps_each_way() {
    const RATE: u64 = 256 * 1024;
    let download = upstream(|mut stream, _| async move {
        let mut buf = [0u8; 16];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(&vec![7u8; 512 * 1024]).await;
    })
    .await;
    let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let upload = upstream(move |mut stream, _| {
        let done = done_tx.clone();
        async move {
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink).await;
            let _ = done.send((sink.len(), Instant::now()));
        }
    })
    .await;
    let capped = ProxyFaults {
        bandwidth: Some(Bandwidth {
            rate: RATE,
            probability: 1.0,
        }),
        ..ProxyFaults::none()
    };
    let down_proxy = proxy_to(&download, 5).await;
    let up_proxy = proxy_to(&upload, 6).await;
    down_proxy.set_faults(capped.clone()).unwrap();
    up_proxy.set_faults(capped).unwrap();

    let down = async {
        let mut client = connect(&down_proxy).await;
        let started = Instant::now();
        client.write_all(b"go").await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        (got.len(), started.elapsed())
    };
    let up = async {
        let mut client = connect(&up_proxy).await;
        let started = Instant::now();
        client.write_all(&vec![1u8; 256 * 1024]).await.unwrap();
        client.shutdown().await.unwrap();
        let mut rx = done_rx;
        let (len, at) = rx.recv().await.unwrap();
        (len, at - started)
    };
    let ((down_len, down_took), (up_len, up_took)) =
        timeout(Duration::from_secs(10), async { tokio::join!(down, up) })
            .await
            .unwrap();
    assert_eq!((down_len, up_len), (512 * 1024, 256 * 1024));
    // 512 KiB at 256 KiB/s ≈ 2 s; 256 KiB ≈ 1 s.
    assert!(
        down_took >= ms(1800) && down_took <= ms(2500),
        "download {down_took:?}"
    );
    assert!(
        up_took >= ms(850) && up_took <= ms(1500),
        "upload {up_took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_sends_rst_to_new_and_open_connections() {
    let up = echo_server().await;
    let proxy = proxy_to(&up, 8).await;
    let mut open = connect(&proxy).await;
    round_trip(&mut open).await;
    proxy
        .set_faults(ProxyFaults {
            reset: certain(),
            ..ProxyFaults::none()
        })
        .unwrap();
    let mut buf = [0u8; 8];
    let err = timeout(Duration::from_secs(2), open.read(&mut buf))
        .await
        .expect("the open connection is reset in time")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");

    // The RST may come so fast that tokio's connect already reports it.
    let err = match TcpStream::connect(proxy.local_addr()).await {
        Ok(mut fresh) => timeout(Duration::from_secs(2), fresh.read(&mut buf))
            .await
            .expect("the new connection is reset in time")
            .unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert_eq!(
        up.accepted(),
        1,
        "a reset connection never reaches the upstream"
    );
    assert_eq!(proxy.stats().faults_fired, 2);

    proxy.set_faults(ProxyFaults::none()).unwrap();
    let mut again = connect(&proxy).await;
    round_trip(&mut again).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_never_answers_and_delivers_once_lifted() {
    let up = echo_server().await;
    let proxy = proxy_to(&up, 9).await;
    proxy
        .set_faults(ProxyFaults {
            blackhole: certain(),
            ..ProxyFaults::none()
        })
        .unwrap();
    let mut client = connect(&proxy).await;
    client.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    let waited = timeout(ms(400), client.read(&mut buf)).await;
    assert!(
        waited.is_err(),
        "a blackholed connection must not answer: {waited:?}"
    );
    assert_eq!(up.accepted(), 0, "nothing is forwarded upstream");
    assert_eq!(proxy.stats().faults_fired, 1);

    // Lifting the blackhole on the same proxy: the same connection goes through.
    proxy.set_faults(ProxyFaults::none()).unwrap();
    timeout(Duration::from_secs(2), client.read_exact(&mut buf))
        .await
        .expect("answered once the blackhole lifted")
        .unwrap();
    assert_eq!(&buf, b"ping");
    assert_eq!(up.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_closes_new_connections_at_once_and_spares_open_ones() {
    let up = echo_server().await;
    let proxy = proxy_to(&up, 10).await;
    let mut open = connect(&proxy).await;
    round_trip(&mut open).await;
    proxy
        .set_faults(ProxyFaults {
            refuse: certain(),
            ..ProxyFaults::none()
        })
        .unwrap();
    let mut refused = connect(&proxy).await;
    let started = Instant::now();
    let mut buf = [0u8; 4];
    let n = timeout(Duration::from_secs(1), refused.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "EOF");
    assert!(started.elapsed() < ms(100), "{:?}", started.elapsed());
    assert_eq!(up.accepted(), 1, "only the connection opened before");
    round_trip(&mut open).await;

    proxy.set_faults(ProxyFaults::none()).unwrap();
    let mut again = connect(&proxy).await;
    round_trip(&mut again).await;
}

/// An upstream that answers "bye" and closes, telling when it closed.
async fn closing_server() -> (Upstream, tokio::sync::mpsc::UnboundedReceiver<Instant>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let up = upstream(move |mut stream, _| {
        let closed = tx.clone();
        async move {
            let mut buf = [0u8; 16];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"bye").await;
            drop(stream);
            let _ = closed.send(Instant::now());
        }
    })
    .await;
    (up, rx)
}

async fn eof_after_upstream_closed(
    proxy: &FaultProxy,
    closed: &mut tokio::sync::mpsc::UnboundedReceiver<Instant>,
) -> Duration {
    let mut client = connect(proxy).await;
    client.write_all(b"hi").await.unwrap();
    let mut got = Vec::new();
    timeout(Duration::from_secs(3), client.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let eof = Instant::now();
    assert_eq!(got, b"bye");
    eof - closed.recv().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_close_holds_the_client_open_after_the_upstream_closed() {
    let (up, mut closed) = closing_server().await;
    let proxy = proxy_to(&up, 11).await;
    let plain = eof_after_upstream_closed(&proxy, &mut closed).await;
    assert!(
        plain < ms(100),
        "without the fault EOF follows at once: {plain:?}"
    );
    proxy
        .set_faults(ProxyFaults {
            slow_close: Some(SlowClose {
                delay: ms(400),
                probability: 1.0,
            }),
            ..ProxyFaults::none()
        })
        .unwrap();
    let held = eof_after_upstream_closed(&proxy, &mut closed).await;
    assert!(
        held >= ms(400) && held < ms(600),
        "EOF {held:?} after close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_limit_delivers_exactly_n_bytes_then_eof() {
    let up = upstream(|mut stream, _| async move {
        let mut buf = [0u8; 16];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(&vec![5u8; 100 * 1024]).await;
        // Keep the upstream side open: the EOF must come from the proxy.
        let _ = stream.read(&mut buf).await;
    })
    .await;
    let proxy = proxy_to(&up, 12).await;
    proxy
        .set_faults(ProxyFaults {
            data_limit: Some(DataLimit {
                bytes: 10_000,
                probability: 1.0,
            }),
            ..ProxyFaults::none()
        })
        .unwrap();
    let mut client = connect(&proxy).await;
    client.write_all(b"go").await.unwrap();
    let mut got = Vec::new();
    timeout(Duration::from_secs(3), client.read_to_end(&mut got))
        .await
        .expect("EOF in time")
        .expect("a clean EOF, not a reset");
    assert_eq!(got.len(), 10_000);
    assert_eq!(proxy.stats().faults_fired, 1);
}

/// Which of `n` sequential connections are refused, as a pattern of booleans.
async fn refusal_pattern(proxy: &FaultProxy, n: usize) -> Vec<bool> {
    let mut pattern = Vec::new();
    for _ in 0..n {
        let mut client = connect(proxy).await;
        client.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 1];
        let n = timeout(Duration::from_secs(2), client.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        pattern.push(n == 0);
    }
    pattern
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probability_applies_per_connection_and_replays_from_the_seed() {
    let up = echo_server().await;
    let half = ProxyFaults {
        refuse: Some(Chance { probability: 0.5 }),
        ..ProxyFaults::none()
    };
    let first = proxy_to(&up, 42).await;
    first.set_faults(half.clone()).unwrap();
    let pattern = refusal_pattern(&first, 200).await;
    let refused = pattern.iter().filter(|r| **r).count();
    assert!((70..=130).contains(&refused), "{refused} of 200 refused");
    assert_eq!(up.accepted(), 200 - refused);
    assert_eq!(first.stats().faults_fired, refused as u64);

    let second = proxy_to(&up, 42).await;
    second.set_faults(half).unwrap();
    assert_eq!(
        refusal_pattern(&second, 200).await,
        pattern,
        "same seed, same dice"
    );
}

fn http_errors(fraction: f64) -> ProxyFaults {
    ProxyFaults {
        http_error: Some(HttpError {
            status: 503,
            fraction,
        }),
        ..ProxyFaults::none()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_error_answers_a_fraction_with_503_and_keeps_the_connection() {
    let up = http_server().await;
    let proxy = proxy_to(&up, 13).await;
    proxy.set_faults(http_errors(0.3)).unwrap();
    let client = connect(&proxy).await;
    let (read, mut write) = client.into_split();
    let mut read = BufReader::new(read);
    let mut errors = 0;
    for i in 0..100 {
        let request = if i % 2 == 0 {
            format!("GET /r{i} HTTP/1.1\r\nHost: test\r\n\r\n")
        } else {
            let body = format!("body of request {i}");
            format!(
                "POST /r{i} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        write.write_all(request.as_bytes()).await.unwrap();
        let response = timeout(Duration::from_secs(2), read_response(&mut read))
            .await
            .unwrap();
        match response.status {
            200 => assert_eq!(response.body, format!("/r{i}")),
            503 => {
                errors += 1;
                assert!(response.body.contains("injected"), "{}", response.body);
                assert!(response
                    .headers
                    .contains(&"connection: keep-alive".to_string()));
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!((15..=45).contains(&errors), "{errors} of 100 answered 503");
    assert_eq!(
        up.request_count(),
        100 - errors,
        "errored requests never reach the upstream"
    );
    assert_eq!(up.accepted(), 1, "keep-alive: one upstream connection");
    assert_eq!(proxy.stats().faults_fired, errors as u64);

    // Switched off: the same connection is served normally again.
    proxy.set_faults(ProxyFaults::none()).unwrap();
    for i in 0..20 {
        let request = format!("GET /after{i} HTTP/1.1\r\nHost: test\r\n\r\n");
        write.write_all(request.as_bytes()).await.unwrap();
        let response = read_response(&mut read).await;
        assert_eq!(
            (response.status, response.body),
            (200, format!("/after{i}"))
        );
    }
    assert_eq!(up.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_error_keeps_pipelined_answers_in_order() {
    let up = http_server().await;
    let proxy = proxy_to(&up, 14).await;
    proxy.set_faults(http_errors(0.5)).unwrap();
    let client = connect(&proxy).await;
    let (read, mut write) = client.into_split();
    let mut read = BufReader::new(read);
    let pipelined: String = (0..20)
        .map(|i| format!("GET /p{i} HTTP/1.1\r\nHost: test\r\n\r\n"))
        .collect();
    write.write_all(pipelined.as_bytes()).await.unwrap();
    let mut ok = 0;
    for i in 0..20 {
        let response = timeout(Duration::from_secs(2), read_response(&mut read))
            .await
            .unwrap();
        match response.status {
            200 => {
                assert_eq!(response.body, format!("/p{i}"), "answers stay in order");
                ok += 1;
            }
            status => assert_eq!(status, 503),
        }
    }
    assert!((4..=16).contains(&ok), "{ok} of 20 forwarded");
    assert_eq!(up.request_count(), ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_error_honours_connection_close() {
    let up = http_server().await;
    let proxy = proxy_to(&up, 15).await;
    proxy.set_faults(http_errors(1.0)).unwrap();
    let client = connect(&proxy).await;
    let (read, mut write) = client.into_split();
    let mut read = BufReader::new(read);
    write
        .write_all(b"GET /bye HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let response = read_response(&mut read).await;
    assert_eq!(response.status, 503);
    assert!(response.headers.contains(&"connection: close".to_string()));
    let mut rest = Vec::new();
    timeout(Duration::from_secs(2), read.read_to_end(&mut rest))
        .await
        .expect("the proxy closes after a Connection: close answer")
        .unwrap();
    assert!(rest.is_empty());
    assert_eq!(up.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_delay_holds_only_the_response() {
    let up = http_server().await;
    let proxy = proxy_to(&up, 16).await;
    proxy
        .set_faults(ProxyFaults {
            http_delay: Some(HttpDelay {
                delay: ms(300),
                fraction: 1.0,
            }),
            ..ProxyFaults::none()
        })
        .unwrap();
    let client = connect(&proxy).await;
    let (read, mut write) = client.into_split();
    let mut read = BufReader::new(read);
    let sent = Instant::now();
    write
        .write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let response = read_response(&mut read).await;
    let answered = sent.elapsed();
    assert_eq!((response.status, response.body.as_str()), (200, "/slow"));
    let arrived = up.requests.lock().unwrap()[0].0 - sent;
    assert!(
        arrived < ms(50),
        "the request goes through at once: {arrived:?}"
    );
    assert!(
        answered >= ms(299) && answered < ms(400),
        "the response is held 300ms (to the timer's millisecond): {answered:?}"
    );

    proxy.set_faults(ProxyFaults::none()).unwrap();
    let sent = Instant::now();
    write
        .write_all(b"GET /fast HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let response = read_response(&mut read).await;
    assert_eq!(response.body, "/fast");
    assert!(sent.elapsed() < ms(50), "{:?}", sent.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passthrough_finds_what_is_left_of_a_fault() {
    let up = http_server().await;
    let proxy = proxy_to(&up, 17).await;
    let upstream = up.addr.to_string();
    assert_eq!(
        verify_passthrough(proxy.local_addr(), &upstream).await,
        Verification::Verified
    );

    proxy
        .set_faults(ProxyFaults {
            refuse: certain(),
            ..ProxyFaults::none()
        })
        .unwrap();
    let Verification::Residual(why) = verify_passthrough(proxy.local_addr(), &upstream).await
    else {
        panic!("a refusing proxy does not pass traffic");
    };
    assert!(why.contains("closed the connection"), "{why}");
    let Verification::Residual(why) = proxy.verify_passthrough().await else {
        panic!("faults are still set");
    };
    assert!(
        why.contains("still has faults: close 100 % of new connections"),
        "{why}"
    );

    proxy.set_faults(latency(200, 0)).unwrap();
    let Verification::Residual(why) = verify_passthrough(proxy.local_addr(), &upstream).await
    else {
        panic!("a slowed proxy is not verified");
    };
    assert!(why.contains("still slowed"), "{why}");

    proxy.set_faults(http_errors(1.0)).unwrap();
    let Verification::Residual(why) = verify_passthrough(proxy.local_addr(), &upstream).await
    else {
        panic!("a proxy answering 503 is not verified");
    };
    assert!(why.contains("503"), "{why}");

    proxy.set_faults(ProxyFaults::none()).unwrap();
    assert_eq!(proxy.verify_passthrough().await, Verification::Verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_connections_and_stops_listening() {
    let up = echo_server().await;
    let proxy = proxy_to(&up, 18).await;
    let addr = proxy.local_addr();
    let mut client = connect(&proxy).await;
    round_trip(&mut client).await;
    timeout(Duration::from_secs(3), proxy.shutdown())
        .await
        .expect("shutdown in time");
    let mut buf = [0u8; 4];
    let closed = timeout(Duration::from_secs(1), client.read(&mut buf))
        .await
        .expect("the open connection is closed");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn start_rejects_an_upstream_without_a_port() {
    let listen = LOCAL.parse().unwrap();
    let err = FaultProxy::start(listen, "localhost".into())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"localhost\""), "{err}");
}

fn actions(yaml: &str) -> Vec<Action> {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn from_actions_merges_proxy_actions_into_one_set() {
    let set = ProxyFaults::from_actions(&actions(
        "- proxy.latency: { latency: 200ms, jitter: 50ms }\n\
         - proxy.bandwidth: { rate: 256KiB, probability: 0.5 }\n\
         - proxy.reset: { probability: 0.1 }\n\
         - proxy.http_error: { status: 503, fraction: 0.25 }\n",
    ))
    .unwrap();
    assert_eq!(
        set.latency,
        Some(Latency {
            latency: ms(200),
            jitter: ms(50),
            probability: 1.0
        })
    );
    assert_eq!(set.bandwidth.unwrap().rate, 256 * 1024);
    assert_eq!(set.reset, Some(Chance { probability: 0.1 }));
    assert_eq!(
        set.describe(),
        "delay every byte by 200ms ± 50ms on 100 % of connections; \
         cap throughput at 256KiB/s each way on 50 % of connections; \
         reset 10 % of connections (TCP RST); \
         answer 25 % of HTTP requests with 503 Service Unavailable"
    );
    assert_eq!(
        ProxyFaults::none().describe(),
        "pass traffic through unchanged"
    );
    assert!(ProxyFaults::from_actions(&[]).unwrap().is_none());
}

#[test]
fn from_actions_rejects_what_a_proxy_cannot_do() {
    let err = |yaml: &str| {
        ProxyFaults::from_actions(&actions(yaml))
            .unwrap_err()
            .to_string()
    };
    assert!(err("- docker.pause: {}\n").contains("\"docker.pause\" is not a proxy action"));
    assert!(err("- proxy.latency: { latency: \"{{lat}}\" }\n").contains("{{lat}}"));
    assert!(err("- proxy.refuse: {}\n- proxy.refuse: {}\n").contains("given twice"));
    assert!(err("- proxy.reset: { probability: 1.5 }\n").contains("\"1.5\" is out of range"));
    assert!(
        err("- proxy.http_error: { status: 200, fraction: 1 }\n").contains("expected 500 to 599")
    );
    assert!(err("- proxy.bandwidth: { rate: 0 }\n").contains("rate"));
}

/// What the upstream of the framing test answers to request `i`: every kind of
/// response framing, each carrying its request's index in a header.
fn framed_answer(i: usize) -> (&'static str, String) {
    let tag = format!("X-Index: {i}\r\n");
    match i % 5 {
        0 => ("GET", format!("HTTP/1.1 200 OK\r\n{tag}Transfer-Encoding: chunked\r\n\r\n4\r\nchun\r\n3;ext=1\r\nked\r\n0\r\nX-Trailer: y\r\n\r\n")),
        1 => ("HEAD", format!("HTTP/1.1 200 OK\r\n{tag}Content-Length: 1234\r\n\r\n")),
        2 => ("GET", format!("HTTP/1.1 204 No Content\r\n{tag}\r\n")),
        3 => ("GET", format!("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n{tag}Content-Length: 5\r\n\r\nhello")),
        _ => ("GET", format!("HTTP/1.1 304 Not Modified\r\n{tag}\r\n")),
    }
}

/// Where the answer to request `i` ends in `buf` from `at`: `Some((end, injected))`,
/// `None` while incomplete. Panics on anything else.
fn match_answer(buf: &[u8], at: usize, i: usize) -> Option<(usize, bool)> {
    let rest = &buf[at..];
    let expected = framed_answer(i).1.into_bytes();
    if rest.starts_with(b"HTTP/1.1 503 ") {
        let text = String::from_utf8_lossy(rest);
        let head_end = text.find("\r\n\r\n")? + 4;
        let length: usize = text[..head_end]
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))?
            .trim()
            .parse()
            .unwrap();
        let body = if framed_answer(i).0 == "HEAD" {
            0
        } else {
            length
        };
        return (rest.len() >= head_end + body).then_some((at + head_end + body, true));
    }
    let n = expected.len().min(rest.len());
    assert_eq!(
        String::from_utf8_lossy(&rest[..n]),
        String::from_utf8_lossy(&expected[..n]),
        "answer {i} out of place"
    );
    (rest.len() >= expected.len()).then_some((at + expected.len(), false))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_mode_follows_chunked_head_204_304_and_interim_responses() {
    let up = upstream(|stream, log| async move {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        while let Some((path, _)) = read_request(&mut read).await {
            let i: usize = path.trim_start_matches('/').parse().unwrap();
            log.lock().unwrap().push((Instant::now(), path));
            if write
                .write_all(framed_answer(i).1.as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    })
    .await;
    let proxy = proxy_to(&up, 19).await;
    proxy.set_faults(http_errors(0.5)).unwrap();
    let mut client = connect(&proxy).await;
    let requests: String = (0..40)
        .map(|i| format!("{} /{i} HTTP/1.1\r\nHost: test\r\n\r\n", framed_answer(i).0))
        .collect();
    client.write_all(requests.as_bytes()).await.unwrap();
    let (mut buf, mut at, mut injected) = (Vec::new(), 0, 0);
    let mut chunk = [0u8; 4096];
    for i in 0..40 {
        loop {
            if let Some((end, was_injected)) = match_answer(&buf, at, i) {
                at = end;
                injected += usize::from(was_injected);
                break;
            }
            let n = timeout(Duration::from_secs(2), client.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("answer {i} never came"))
                .unwrap();
            assert!(n > 0, "closed before answer {i}");
            buf.extend_from_slice(&chunk[..n]);
        }
    }
    assert_eq!(at, buf.len(), "nothing after the 40 answers");
    assert!((8..=32).contains(&injected), "{injected} of 40 injected");
    assert_eq!(up.request_count(), 40 - injected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_that_is_not_http_passes_untouched_in_http_mode() {
    let up = echo_server().await;
    let proxy = proxy_to(&up, 20).await;
    proxy.set_faults(http_errors(1.0)).unwrap();
    let mut client = connect(&proxy).await;
    // Upper-case words and CRLF, like Redis or SMTP, but no HTTP request line.
    let lines = b"PING\r\nSET KEY VALUE\r\n\r\n";
    client.write_all(lines).await.unwrap();
    let mut got = vec![0u8; lines.len()];
    timeout(Duration::from_secs(2), client.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, lines);

    // A start that could still become a request, then the client closes its side:
    // the held bytes are passed on, not swallowed.
    let mut client = connect(&proxy).await;
    client.write_all(b"GET").await.unwrap();
    client.shutdown().await.unwrap();
    let mut echoed = Vec::new();
    timeout(Duration::from_secs(2), client.read_to_end(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed, b"GET");
    assert_eq!(proxy.stats().faults_fired, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_resets_the_client() {
    // A port that was free a moment ago: nothing listens there.
    let gone = TcpListener::bind(LOCAL)
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let listen = LOCAL.parse().unwrap();
    let proxy = FaultProxy::start(listen, gone.to_string()).await.unwrap();
    let mut buf = [0u8; 4];
    let outcome = match TcpStream::connect(proxy.local_addr()).await {
        Ok(mut client) => timeout(Duration::from_secs(2), client.read(&mut buf))
            .await
            .expect("an answer in time"),
        Err(e) => Err(e),
    };
    let err = outcome.expect_err("the client must not see a clean close");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}
