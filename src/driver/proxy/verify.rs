//! Checking that a proxy passes traffic normally: the same probe is sent to the
//! upstream directly and through the proxy, and the two must behave alike.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use crate::driver::Verification;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to listen for a greeting before sending the probe.
const BANNER_WAIT: Duration = Duration::from_millis(200);
const ANSWER_WAIT: Duration = Duration::from_secs(1);
/// How much slower the proxy may answer than the upstream itself.
const SLACK: Duration = Duration::from_millis(50);
/// Sent when the server does not speak first. HTTP servers answer it; most other
/// servers answer with an error or close, which is just as comparable.
const PROBE: &[u8] = b"HEAD / HTTP/1.0\r\nHost: chaosdeck-verify\r\nUser-Agent: chaosdeck\r\n\r\n";

#[derive(Debug, Clone, PartialEq)]
enum Seen {
    NoConnect(String),
    /// The server spoke first: its first line.
    Greeting(String),
    /// The answer to the probe: its first line.
    Answer(String),
    Closed,
    Reset,
    Silent,
}

impl Seen {
    fn class(&self) -> &'static str {
        match self {
            Seen::NoConnect(_) => "refused the connection",
            Seen::Greeting(_) => "spoke first",
            Seen::Answer(_) => "answered",
            Seen::Closed => "closed the connection",
            Seen::Reset => "reset the connection",
            Seen::Silent => "stayed silent",
        }
    }

    fn text(&self) -> String {
        match self {
            Seen::NoConnect(why) => format!("refused the connection ({why})"),
            Seen::Greeting(line) => format!("spoke first: \"{line}\""),
            Seen::Answer(line) => format!("answered \"{line}\""),
            other => other.class().to_string(),
        }
    }
}

/// Probes `upstream` directly and through the proxy at `proxy` and compares: same
/// kind of outcome (greeting, answer, close, reset, silence), the same first line,
/// and an answer no more than 50 ms slower. `Residual` says what differs.
pub async fn verify_passthrough(proxy: SocketAddr, upstream: &str) -> Verification {
    let proxy_text = proxy.to_string();
    let (direct, through) = tokio::join!(probe(upstream), probe(&proxy_text));
    let (direct, direct_took) = direct;
    let (through, through_took) = through;
    if let Seen::NoConnect(why) = &direct {
        return Verification::Residual(format!(
            "cannot verify the proxy at {proxy}: the upstream {upstream} itself refuses connections ({why})"
        ));
    }
    if direct.class() != through.class() {
        return Verification::Residual(format!(
            "through the proxy at {proxy} the server {}, while {upstream} directly {}",
            through.text(),
            direct.text()
        ));
    }
    if direct != through {
        return Verification::Residual(format!(
            "the proxy at {proxy} and {upstream} answer differently: {} against {}",
            through.text(),
            direct.text()
        ));
    }
    if direct != Seen::Silent && through_took > direct_took + SLACK {
        return Verification::Residual(format!(
            "traffic through the proxy at {proxy} is still slowed: it {} after {} ms, \
             {upstream} directly after {} ms",
            through.class(),
            through_took.as_millis(),
            direct_took.as_millis()
        ));
    }
    Verification::Verified
}

/// Connects, listens for a greeting, else sends the probe and reads the answer.
/// Returns what was seen and how long it took after connecting (or after sending).
async fn probe(addr: &str) -> (Seen, Duration) {
    let started = Instant::now();
    let mut stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return (Seen::NoConnect(e.to_string()), started.elapsed()),
        Err(_) => {
            return (
                Seen::NoConnect("no answer in 2 s".into()),
                started.elapsed(),
            )
        }
    };
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 1024];
    let greeted = Instant::now();
    if let Some(seen) = read_once(&mut stream, &mut buf, BANNER_WAIT, Seen::Greeting).await {
        return (seen, greeted.elapsed());
    }
    let sent = Instant::now();
    if stream.write_all(PROBE).await.is_err() {
        return (Seen::Reset, sent.elapsed());
    }
    let seen = read_once(&mut stream, &mut buf, ANSWER_WAIT, Seen::Answer)
        .await
        .unwrap_or(Seen::Silent);
    (seen, sent.elapsed())
}

async fn read_once(
    stream: &mut TcpStream,
    buf: &mut [u8],
    wait: Duration,
    data: fn(String) -> Seen,
) -> Option<Seen> {
    match timeout(wait, stream.read(buf)).await {
        Err(_) => None,
        Ok(Ok(0)) => Some(Seen::Closed),
        Ok(Ok(n)) => Some(data(first_line(&buf[..n]))),
        Ok(Err(_)) => Some(Seen::Reset),
    }
}

fn first_line(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(bytes.len())
        .min(64);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
