//! A small real HTTP service for engine tests, on a loopback port: `/health` answers
//! 200 or 503. Either the test switches it up and down, or it depends on PostgreSQL
//! (a fresh connection per request, like an app without a pool).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What decides the answer to `/health`.
#[derive(Clone)]
pub enum Health {
    /// Up while the flag is true.
    Switch(Arc<AtomicBool>),
    /// Up while `SELECT 1` works on a new connection with this libpq string.
    Postgres(String),
}

pub struct HttpService {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl HttpService {
    pub async fn start(health: Health) -> HttpService {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let health = health.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    let (status, body) = match healthy(&health).await {
                        Ok(()) => ("200 OK", "ok".to_string()),
                        Err(why) => ("503 Service Unavailable", why),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        HttpService { addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    /// A service whose health needs a fresh connection to `cluster` as a
    /// non-superuser `app` role it creates, so the superuser-reserved slots stay out
    /// of its reach, as in production.
    pub async fn backed_by(cluster: &chaosdeck::lab::PgCluster) -> HttpService {
        let (admin, conn) = tokio_postgres::connect(&cluster.conn_string(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        admin
            .batch_execute("CREATE ROLE app LOGIN PASSWORD 'apppass'")
            .await
            .unwrap();
        let app_conn = format!(
            "host={} port={} dbname=postgres user=app password=apppass connect_timeout=2",
            cluster.host(),
            cluster.port()
        );
        HttpService::start(Health::Postgres(app_conn)).await
    }
}

impl Drop for HttpService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn healthy(health: &Health) -> Result<(), String> {
    match health {
        Health::Switch(up) if up.load(Ordering::SeqCst) => Ok(()),
        Health::Switch(_) => Err("switched off".into()),
        Health::Postgres(conn) => {
            let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            let task = tokio::spawn(connection);
            let result = client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| e.to_string());
            drop(client);
            let _ = task.await;
            result.map(|_| ())
        }
    }
}
