//! The lab's demo service and load generator, as the real binary runs them, against a
//! throwaway PostgreSQL cluster: health follows the database down and up again, orders
//! are written and read, health also fails while the database is read-only or the web
//! tier it depends on fails, the load arrives at its rate, and no password is ever
//! printed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step fails the test

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chaosdeck::lab::{PgCluster, PgClusterOptions};

/// The superuser's password: it must never show in any output.
const SUPER_PASSWORD: &str = "lab-super-7f3a";
/// The app role's password, given to the service in `--db`.
const APP_PASSWORD: &str = "lab-app-secret-91c2";

/// A cluster with an `app` role that owns the `shop` database, and its libpq string.
fn cluster_with_app() -> Option<(PgCluster, String)> {
    let cluster = support::pg_cluster_with(PgClusterOptions {
        password: SUPER_PASSWORD.into(),
        database: "shop".into(),
        ..PgClusterOptions::default()
    })?;
    admin(
        &cluster,
        &format!(
            "CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'; ALTER DATABASE shop OWNER TO app; \
             GRANT ALL ON SCHEMA public TO app"
        ),
    );
    let conn = format!(
        "host={} port={} dbname=shop user=app password={APP_PASSWORD}",
        cluster.host(),
        cluster.port()
    );
    Some((cluster, conn))
}

/// A child of the real binary, killed by its pid when dropped.
struct Spawned {
    child: Child,
}

impl Spawned {
    fn start(args: &[&str]) -> Spawned {
        let child = Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Spawned { child }
    }

    /// Sends SIGTERM, waits for a clean exit, and returns stdout and stderr.
    fn stop(mut self) -> (String, String) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "no exit within 3 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "exit after SIGTERM: {status}");
        let mut out = String::new();
        let mut err = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (out, err)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo service on a free port; returns it with the address it announced.
fn demo_service(conn: &str) -> (Spawned, String) {
    demo_service_with(conn, &[])
}

/// The same, with more arguments.
fn demo_service_with(conn: &str, more: &[&str]) -> (Spawned, String) {
    let mut args = vec!["__demo-service", "--listen", "127.0.0.1:0", "--db", conn];
    args.extend_from_slice(more);
    let mut service = Spawned::start(&args);
    let stdout = service.child.stdout.as_mut().unwrap();
    let mut line = String::new();
    // Read byte by byte so nothing after the line is buffered away from `stop`.
    let mut byte = [0u8; 1];
    while !line.ends_with('\n') {
        assert_eq!(
            stdout.read(&mut byte).unwrap(),
            1,
            "stdout closed: {line:?}"
        );
        line.push(byte[0] as char);
    }
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .trim()
        .to_string();
    (service, addr)
}

/// One request with a 4 s deadline: status and body.
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(4)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    let body = rest.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// Asks `path` until it answers `status`, for at most `within`; the last answer.
fn wait_for(addr: &str, path: &str, status: u16, within: Duration) -> (u16, String) {
    let started = Instant::now();
    loop {
        let answer = request(addr, "GET", path, "");
        if answer.0 == status || started.elapsed() > within {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn order_count(addr: &str) -> u64 {
    let (status, body) = request(addr, "GET", "/orders", "");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["count"].as_u64().unwrap()
}

fn assert_no_password(what: &str, text: &str) {
    for password in [SUPER_PASSWORD, APP_PASSWORD] {
        assert!(!text.contains(password), "{what} shows a password: {text}");
    }
}

#[test]
fn the_demo_service_follows_its_database_down_and_up() {
    let Some((cluster, conn)) = cluster_with_app() else {
        return;
    };
    // Started while the database is down: 503 with a reason, table created later.
    cluster.stop().unwrap();
    let (service, addr) = demo_service(&conn);
    let (status, body) = request(&addr, "GET", "/health", "");
    assert_eq!(
        (status, body.as_str()),
        (503, "database: connection refused\n")
    );
    let (status, body) = request(&addr, "GET", "/orders", "");
    assert_eq!(
        (status, body.as_str()),
        (503, "database: connection refused\n")
    );

    cluster.start_again().unwrap();
    let (status, body) = wait_for(&addr, "/health", 200, Duration::from_secs(5));
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, body) = request(&addr, "POST", "/orders", "teapot");
    assert_eq!(status, 201, "{body}");
    let row: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(row["item"], "teapot");
    let (status, body) = request(&addr, "GET", "/orders", "");
    assert_eq!(status, 200, "{body}");
    let orders: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(orders["count"], 1, "{body}");
    assert_eq!(orders["last"][0]["item"], "teapot", "{body}");
    assert_eq!(orders["last"][0]["id"], row["id"], "{body}");

    // Down again while serving, then back within a few seconds.
    cluster.stop().unwrap();
    let started = Instant::now();
    let (status, body) = wait_for(&addr, "/health", 503, Duration::from_secs(5));
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("database: "), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let (status, _) = request(&addr, "POST", "/orders", "lost");
    assert_eq!(status, 503);
    cluster.start_again().unwrap();
    let (status, body) = wait_for(&addr, "/health", 200, Duration::from_secs(5));
    assert_eq!(status, 200, "{body}");
    assert_eq!(order_count(&addr), 1);
    assert_eq!(request(&addr, "GET", "/nowhere", "").0, 404);

    let (out, err) = service.stop();
    assert_eq!(out, "", "stdout after the first line");
    assert!(err.contains("database: connection refused"), "{err}");
    assert!(err.contains("database answering again"), "{err}");
    assert_no_password("stderr", &err);
}

/// A web tier in this process: answers every request with `status`, until stopped
/// (then its port refuses connections).
struct WebTier {
    addr: String,
    status: Arc<AtomicU16>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WebTier {
    fn start() -> WebTier {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let status = Arc::new(AtomicU16::new(200));
        let stop = Arc::new(AtomicBool::new(false));
        let (answer, stopped) = (status.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut head = [0u8; 1024];
                let _ = stream.read(&mut head);
                let code = answer.load(Ordering::SeqCst);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} X\r\nContent-Length: 3\r\nConnection: close\r\n\r\nweb"
                );
            }
        });
        WebTier {
            addr,
            status,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for WebTier {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `sql` as the superuser on the cluster's `shop` database.
fn admin(cluster: &PgCluster, sql: &str) {
    support::pg::with_session(cluster, |client| async move {
        client.batch_execute(sql).await.unwrap();
    });
}

#[test]
fn health_also_needs_a_writable_database_and_the_web_tier() {
    let Some((cluster, conn)) = cluster_with_app() else {
        return;
    };
    let mut web = WebTier::start();
    let url = format!("http://{}/", web.addr);
    let (service, addr) = demo_service_with(&conn, &["--web", &url]);
    let (status, body) = wait_for(&addr, "/health", 200, Duration::from_secs(5));
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    // A process fault's blast radius names the service, not the binary.
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", service.child.id())).unwrap();
    assert_eq!(comm.trim(), "demo-service");

    // New sessions start read-only: nothing could be written, so not healthy.
    admin(
        &cluster,
        "ALTER DATABASE shop SET default_transaction_read_only = on",
    );
    let (status, body) = request(&addr, "GET", "/health", "");
    assert_eq!((status, body.as_str()), (503, "database: read-only\n"));
    admin(
        &cluster,
        "BEGIN READ WRITE; ALTER DATABASE shop RESET default_transaction_read_only; COMMIT",
    );
    let (status, body) = request(&addr, "GET", "/health", "");
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    // The web tier answers an error, then is gone, then is back.
    web.status.store(500, Ordering::SeqCst);
    let (status, body) = request(&addr, "GET", "/health", "");
    assert_eq!((status, body.as_str()), (503, "web: status 500\n"));
    web.status.store(200, Ordering::SeqCst);
    assert_eq!(request(&addr, "GET", "/health", "").0, 200);
    web.stop();
    let (status, body) = request(&addr, "GET", "/health", "");
    assert_eq!((status, body.as_str()), (503, "web: connection refused\n"));
    // The database side is untouched by the web tier.
    assert_eq!(request(&addr, "POST", "/orders", "kettle").0, 201);

    let (_, err) = service.stop();
    assert!(err.contains("database: read-only"), "{err}");
    assert!(err.contains("web: connection refused"), "{err}");
    assert_no_password("stderr", &err);
}

#[test]
fn the_load_generator_posts_a_quarter_of_its_rate() {
    let Some((_cluster, conn)) = cluster_with_app() else {
        return;
    };
    let (service, addr) = demo_service(&conn);
    let (status, body) = wait_for(&addr, "/health", 200, Duration::from_secs(5));
    assert_eq!(status, 200, "{body}");
    let before = order_count(&addr);

    let url = format!("http://{addr}");
    let load = Spawned::start(&["__load", "--url", &url, "--rate", "20"]);
    std::thread::sleep(Duration::from_secs(3));
    let (load_out, load_err) = load.stop();
    std::thread::sleep(Duration::from_millis(300));
    let added = order_count(&addr) - before;
    // 20/s for 3 s is 60 requests, one in four a POST: 15, with room for start-up.
    assert!((9..=18).contains(&added), "orders added: {added}");
    assert_eq!(load_out, "", "the load generator prints nothing on stdout");

    let (service_out, service_err) = service.stop();
    assert_eq!(service_out, "");
    for (what, text) in [("load stderr", &load_err), ("service stderr", &service_err)] {
        assert_no_password(what, text);
    }
}

#[test]
fn a_bad_db_string_is_refused_without_its_password() {
    let output = Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
        .args(["__demo-service", "--listen", "127.0.0.1:0", "--db"])
        .arg(format!("host=x port=nope password={APP_PASSWORD}"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("invalid --db") && err.contains("password=***"),
        "{err}"
    );
    assert_no_password("stderr", &err);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
}
