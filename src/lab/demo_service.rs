//! The lab's demo service (`chaosdeck __demo-service --listen ADDR --db CONN`): a small
//! HTTP API backed by PostgreSQL (through the fault proxy in the lab), so faults show
//! up as an application would feel them.
//!
//! - `GET /health`: 200 `ok` when a fresh connection answers within 2 s and may write,
//!   and, with `--web URL` (in the lab: the web container), that URL answers 2xx
//!   within 1 s; else 503 with a one-line reason (`database: connection refused`,
//!   `database: timeout`, `database: too many clients`, `database: read-only`, `web:
//!   timeout`, `web: status 500`, …);
//! - `GET /orders`: 200 with `{"count":N,"last":[…5 newest…]}`; `POST /orders` inserts
//!   a row (the body, if any, names the item) and answers 201 with it; 503 with the
//!   reason when the database fails.
//!
//! The service is deliberately pool-less: every request opens its own connection
//! (`connect_timeout` 2 s), so a connection fault shows at once rather than after a
//! pool drains. Every request is answered within about 3 s; nothing hangs. The table
//! `orders` is created at start (and again if it vanishes); while the database is down,
//! creation is retried every 500 ms and requests get 503s.
//!
//! Stdout carries exactly one line, `listening on ADDR`, once the socket is bound. Errors
//! go to stderr, once per change of reason. The service dies with its parent
//! (PR_SET_PDEATHSIG = SIGKILL) and ends cleanly on SIGTERM or SIGINT. The password in
//! `--db` is never printed; pass the string in `CHAOSDECK_LAB_DB` to keep it out of `ps`.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Semaphore;

use super::demo_db::Database;
use super::demo_http::{self, Reply, Request};
use crate::driver::host::die_with_parent;
use crate::observe::probe_http::{self, HttpUrl};

/// Requests handled at once; more get 503 `service: busy` at once.
const MAX_IN_FLIGHT: usize = 256;
/// How long `/health` waits for the web tier.
const WEB_DEADLINE: Duration = Duration::from_secs(1);

/// `chaosdeck __demo-service --listen ADDR --db CONN [--parent PID]` (hidden; the lab
/// starts it).
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct DemoServiceArgs {
    /// Where to listen, e.g. 127.0.0.1:8080 (port 0 takes a free one; the line
    /// `listening on ADDR` names it).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The database as a libpq string or postgres:// URL (in the lab: the fault proxy
    /// in front of PostgreSQL).
    #[arg(
        long,
        value_name = "CONN",
        env = "CHAOSDECK_LAB_DB",
        hide_env_values = true
    )]
    pub db: String,
    /// The pid of the chaosdeck that started it; exit at once if it is already gone.
    #[arg(long, value_name = "PID")]
    pub parent: Option<u32>,
    /// A web tier the service depends on (in the lab: the web container), checked by
    /// `/health`, e.g. http://172.20.0.2:8080/.
    #[arg(long, value_name = "URL")]
    pub web: Option<String>,
}

impl DemoServiceArgs {
    /// The command-line words after `__demo-service`, without `--db` (pass that in
    /// the `CHAOSDECK_LAB_DB` environment variable so the password stays out of `ps`).
    pub fn to_args_without_db(&self) -> Vec<OsString> {
        let mut words: Vec<OsString> = vec!["--listen".into(), self.listen.to_string().into()];
        if let Some(parent) = self.parent {
            words.extend(["--parent".into(), parent.to_string().into()]);
        }
        if let Some(web) = &self.web {
            words.extend(["--web".into(), web.into()]);
        }
        words
    }
}

/// Runs the demo service until SIGTERM or SIGINT (exit 0), or until its parent dies.
/// Exit 1 when it cannot start (bad `--db`, address in use).
pub fn run(args: &DemoServiceArgs) -> ExitCode {
    if let Err(why) = die_with_parent(args.parent) {
        eprintln!("demo-service: {why}");
        return ExitCode::FAILURE;
    }
    // So `ps -o comm`, /proc and a process fault's blast radius name the service,
    // not the chaosdeck binary it runs from.
    if let Err(e) = nix::sys::prctl::set_name(c"demo-service") {
        eprintln!("demo-service: cannot set the process name: {e}");
    }
    let db = match Database::parse(&args.db) {
        Ok(db) => Arc::new(db),
        Err(why) => {
            eprintln!("demo-service: {why}");
            return ExitCode::FAILURE;
        }
    };
    let web = match args.web.as_deref().map(HttpUrl::parse).transpose() {
        Ok(web) => Arc::new(web),
        Err(why) => {
            eprintln!("demo-service: invalid --web: {why}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match crate::engine::runner::engine_runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("demo-service: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(args.listen, db, web));
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

/// Binds, says so, and answers until a stop signal.
async fn serve(listen: SocketAddr, db: Arc<Database>, web: Arc<Option<HttpUrl>>) -> ExitCode {
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("demo-service: cannot listen for stop signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("demo-service: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(listen);
    say(&format!("listening on {bound}"));
    tokio::spawn(Arc::clone(&db).create_schema_until_done());
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let db = Arc::clone(&db);
                    let web = Arc::clone(&web);
                    let slot = Arc::clone(&slots).try_acquire_owned();
                    tokio::spawn(async move {
                        let busy = slot.is_err();
                        handle(stream, &db, web.as_ref().as_ref(), busy).await;
                        drop(slot);
                    });
                }
                // Out of descriptors, most likely: breathe, then accept again.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            _ = term.recv() => return ExitCode::SUCCESS,
            _ = int.recv() => return ExitCode::SUCCESS,
        }
    }
}

/// Reads one request and answers it.
async fn handle(mut stream: TcpStream, db: &Database, web: Option<&HttpUrl>, busy: bool) {
    let read = tokio::time::timeout(
        demo_http::READ_DEADLINE,
        demo_http::read_request(&mut stream),
    );
    let reply = match read.await {
        Err(_) => return,
        Ok(Err(why)) => Reply::text(400, &why),
        Ok(Ok(_)) if busy => Reply::text(503, "service: busy"),
        Ok(Ok(request)) => answer(db, web, &request).await,
    };
    demo_http::write_reply(&mut stream, &reply).await;
}

/// Routes one request.
async fn answer(db: &Database, web: Option<&HttpUrl>, request: &Request) -> Reply {
    let outcome = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/health") => match db.health().await {
            Ok(()) => match web {
                Some(url) => web_health(url).await.map(|()| Reply::text(200, "ok")),
                None => Ok(Reply::text(200, "ok")),
            },
            Err(why) => Err(why),
        },
        ("GET", "/orders") => db.orders().await.map(|json| Reply::json(200, json)),
        ("POST", "/orders") => {
            let item = item_name(&request.body);
            db.add_order(&item).await.map(|json| Reply::json(201, json))
        }
        (_, "/health" | "/orders") => return Reply::text(405, "method not allowed"),
        _ => return Reply::text(404, "not found; try /health or /orders"),
    };
    db.note(outcome.as_ref().map(|_| ()));
    outcome.unwrap_or_else(|why| Reply::text(503, &why))
}

/// The web tier answers 2xx within [`WEB_DEADLINE`].
async fn web_health(url: &HttpUrl) -> Result<(), String> {
    match tokio::time::timeout(WEB_DEADLINE, probe_http::get(url)).await {
        Err(_) => Err("web: timeout".to_string()),
        Ok(Err(why)) => Err(format!("web: {why}")),
        Ok(Ok(response)) if (200..300).contains(&response.status) => Ok(()),
        Ok(Ok(response)) => Err(format!("web: status {}", response.status)),
    }
}

/// The item a POST body names: printable characters, at most 100; `widget` if none.
fn item_name(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let item: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    match item.is_empty() {
        true => "widget".to_string(),
        false => item,
    }
}

/// The one line the lab waits for on stdout.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: DemoServiceArgs,
    }

    #[test]
    fn the_spawned_words_parse_back_with_the_db_given_apart() {
        let args = DemoServiceArgs {
            listen: "127.0.0.1:8080".parse().unwrap(),
            db: "host=127.0.0.1 port=1 password=pw".into(),
            parent: Some(42),
            web: Some("http://172.20.0.2:8080/".into()),
        };
        let mut words: Vec<OsString> = vec!["x".into()];
        words.extend(args.to_args_without_db());
        words.extend(["--db".into(), args.db.clone().into()]);
        assert_eq!(Wrap::try_parse_from(words).unwrap().args, args);
        let joined = format!("{:?}", args.to_args_without_db());
        assert!(!joined.contains("pw"), "{joined}");
    }

    #[test]
    fn post_bodies_become_short_printable_item_names() {
        assert_eq!(item_name(b""), "widget");
        assert_eq!(item_name(b"  \n"), "widget");
        assert_eq!(item_name(b" tea\x07 cup\n"), "tea cup");
        assert_eq!(item_name("x".repeat(300).as_bytes()).len(), 100);
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_are_refused_without_the_database() {
        let db = Database::parse("host=127.0.0.1 port=1 dbname=x user=y").unwrap();
        let request = |method: &str, path: &str| Request {
            method: method.into(),
            path: path.into(),
            body: Vec::new(),
        };
        assert_eq!(
            answer(&db, None, &request("GET", "/nope")).await.status,
            404
        );
        assert_eq!(
            answer(&db, None, &request("DELETE", "/orders"))
                .await
                .status,
            405
        );
        assert_eq!(
            answer(&db, None, &request("POST", "/health")).await.status,
            405
        );
    }
}
