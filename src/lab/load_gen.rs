//! The lab's load generator (`chaosdeck __load --url http://127.0.0.1:PORT --rate 20`):
//! a steady open-loop mix of three `GET /orders` to one `POST /orders` against the demo
//! service, so graphs and error rates move during a fault as they would on a real system.
//!
//! Requests start on a fixed clock at `rate` per second whatever the server does; each
//! has 2 s to finish, and at most [`MAX_IN_FLIGHT`] run at once (a tick that finds no
//! room is counted as skipped), so a slow server barely lowers the offered rate. Every
//! 5 s one line of counts goes to stderr; stdout stays silent. It dies with its parent
//! (PR_SET_PDEATHSIG = SIGKILL) and ends cleanly on SIGTERM or SIGINT.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Semaphore;
use tokio::time::{interval, interval_at, Instant, MissedTickBehavior};

use crate::driver::host::die_with_parent;
use crate::observe::probe_http::{self, HttpUrl};

/// Requests in flight at once, at most.
pub const MAX_IN_FLIGHT: usize = 50;
/// Each request's deadline, connect to last byte.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
/// Between two lines of counts on stderr.
const REPORT_EVERY: Duration = Duration::from_secs(5);
/// The highest rate accepted, requests per second.
const MAX_RATE: f64 = 1000.0;
/// The most of an answer read; only the status line matters.
const ANSWER_CAP: usize = 16 * 1024;

/// `chaosdeck __load --url URL [--rate N] [--parent PID]` (hidden; the lab starts it).
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct LoadArgs {
    /// The demo service's base URL, e.g. http://127.0.0.1:8080 (requests go to /orders).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// Requests per second in all, three GETs to one POST.
    #[arg(long, value_name = "N", default_value_t = 20.0)]
    pub rate: f64,
    /// The pid of the chaosdeck that started it; exit at once if it is already gone.
    #[arg(long, value_name = "PID")]
    pub parent: Option<u32>,
}

impl LoadArgs {
    /// The command-line words after `__load`.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut words: Vec<OsString> = vec![
            "--url".into(),
            self.url.clone().into(),
            "--rate".into(),
            self.rate.to_string().into(),
        ];
        if let Some(parent) = self.parent {
            words.extend(["--parent".into(), parent.to_string().into()]);
        }
        words
    }
}

/// Sends load until SIGTERM or SIGINT (exit 0) or until its parent dies; exit 1 on bad
/// arguments.
pub fn run(args: &LoadArgs) -> ExitCode {
    let checked = die_with_parent(args.parent).and_then(|()| orders_url(&args.url));
    let url = match checked {
        Ok(url) => url,
        Err(why) => {
            eprintln!("load: {why}");
            return ExitCode::FAILURE;
        }
    };
    if !(args.rate > 0.0 && args.rate <= MAX_RATE) {
        eprintln!(
            "load: --rate \"{}\" is out of range; expected more than 0 and at most {MAX_RATE}",
            args.rate
        );
        return ExitCode::FAILURE;
    }
    let runtime = match crate::engine::runner::engine_runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("load: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(send_until_stopped(Arc::new(url), args.rate));
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

/// `BASE/orders` for the base URL given.
fn orders_url(base: &str) -> Result<HttpUrl, String> {
    let mut url = HttpUrl::parse(base).map_err(|e| format!("--url: {e}"))?;
    url.path = format!("{}/orders", url.path.trim_end_matches('/'));
    Ok(url)
}

/// Counts since the last report.
#[derive(Debug, Default)]
struct Counts {
    ok: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    skipped: AtomicU64,
}

impl Counts {
    /// One line of counts, and a fresh start.
    fn take_line(&self) -> String {
        let take = |n: &AtomicU64| n.swap(0, Ordering::Relaxed);
        format!(
            "load: last {} s: ok {}, errors {}, timeouts {}, skipped (too many in flight) {}",
            REPORT_EVERY.as_secs(),
            take(&self.ok),
            take(&self.errors),
            take(&self.timeouts),
            take(&self.skipped),
        )
    }
}

/// The request clock, until a stop signal.
async fn send_until_stopped(url: Arc<HttpUrl>, rate: f64) -> ExitCode {
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("load: cannot listen for stop signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut clock = interval(Duration::from_secs_f64(1.0 / rate));
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut report = interval_at(Instant::now() + REPORT_EVERY, REPORT_EVERY);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let counts = Arc::new(Counts::default());
    let mut sent: u64 = 0;
    loop {
        tokio::select! {
            _ = clock.tick() => {
                sent += 1;
                let post = sent % 4 == 0;
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    counts.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let (url, counts) = (Arc::clone(&url), Arc::clone(&counts));
                tokio::spawn(async move {
                    let answer = tokio::time::timeout(REQUEST_DEADLINE, send(&url, post, sent));
                    let tally = match answer.await {
                        Ok(Ok(status)) if (200..300).contains(&status) => &counts.ok,
                        Ok(_) => &counts.errors,
                        Err(_) => &counts.timeouts,
                    };
                    tally.fetch_add(1, Ordering::Relaxed);
                    drop(slot);
                });
            }
            _ = report.tick() => eprintln!("{}", counts.take_line()),
            _ = term.recv() => return ExitCode::SUCCESS,
            _ = int.recv() => return ExitCode::SUCCESS,
        }
    }
}

/// One request (`POST` with the item `load-N`, or `GET`); the answer's status.
async fn send(url: &HttpUrl, post: bool, n: u64) -> Result<u16, String> {
    let mut stream = probe_http::connect(&url.addr()).await?;
    let request = match post {
        true => {
            let item = format!("load-{n}");
            format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{item}",
                url.path,
                url.addr(),
                item.len()
            )
        }
        false => format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            url.path,
            url.addr()
        ),
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| probe_http::io_detail(&e))?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(ANSWER_CAP as u64)
        .read_to_end(&mut answer)
        .await
        .map_err(|e| probe_http::io_detail(&e))?;
    status_of(&answer)
}

/// The status code in an answer's first line.
fn status_of(answer: &[u8]) -> Result<u16, String> {
    let line = answer.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    match (words.next(), words.next().map(str::parse::<u16>)) {
        (Some(version), Some(Ok(status))) if version.starts_with("HTTP/") => Ok(status),
        _ => Err("no HTTP status line in the answer".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: LoadArgs,
    }

    #[test]
    fn the_spawned_words_parse_back_to_the_same_load() {
        let args = LoadArgs {
            url: "http://127.0.0.1:8080".into(),
            rate: 12.5,
            parent: Some(9),
        };
        let mut words: Vec<OsString> = vec!["x".into()];
        words.extend(args.to_args());
        assert_eq!(Wrap::try_parse_from(words).unwrap().args, args);
    }

    #[test]
    fn requests_go_to_orders_under_the_base_url() {
        assert_eq!(orders_url("http://127.0.0.1:8080").unwrap().path, "/orders");
        assert_eq!(
            orders_url("http://127.0.0.1:8080/").unwrap().path,
            "/orders"
        );
        assert_eq!(orders_url("http://h:1/api/").unwrap().path, "/api/orders");
        assert!(orders_url("https://h").is_err());
    }

    #[test]
    fn the_status_comes_from_the_first_line() {
        assert_eq!(status_of(b"HTTP/1.1 503 Service Unavailable\r\n"), Ok(503));
        assert_eq!(status_of(b"HTTP/1.1 201 Created\r\n\r\n{}"), Ok(201));
        assert!(status_of(b"").is_err());
        assert!(status_of(b"garbage here").is_err());
    }

    #[test]
    fn a_report_line_counts_and_starts_again() {
        let counts = Counts::default();
        counts.ok.fetch_add(7, Ordering::Relaxed);
        counts.timeouts.fetch_add(2, Ordering::Relaxed);
        let line = counts.take_line();
        assert!(line.contains("ok 7, errors 0, timeouts 2"), "{line}");
        assert!(counts.take_line().contains("ok 0,"));
    }
}
