//! The throwaway PostgreSQL cluster: real servers, real connections.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step fails the test

mod support;

use std::time::{Duration, Instant};

use chaosdeck::lab::{PgCluster, PgClusterOptions};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

async fn connect(conn_string: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(conn_string, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("connection ended: {e}");
        }
    });
    Ok(client)
}

async fn connect_or_log(pg: &PgCluster) -> Client {
    connect(&pg.conn_string())
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}\n{}", pg.url(), pg.log_tail()))
}

#[tokio::test]
async fn cluster_takes_connections_with_its_settings() {
    let opts = PgClusterOptions {
        max_connections: 37,
        ..Default::default()
    }
    .setting("max_prepared_transactions", "10");
    let Some(pg) = support::pg_cluster_with(opts) else {
        return;
    };
    assert_eq!(pg.host(), "127.0.0.1");
    assert!(pg.data_dir().join("PG_VERSION").is_file());
    assert!(pg.bin_dir().join("postgres").is_file());
    let client = connect_or_log(&pg).await;
    let row = client
        .query_one(
            "SELECT current_setting('max_connections'), \
                    current_setting('max_prepared_transactions'), \
                    current_database(), current_setting('listen_addresses')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "37");
    assert_eq!(row.get::<_, String>(1), "10");
    assert_eq!(row.get::<_, String>(2), "testdb");
    assert_eq!(row.get::<_, String>(3), "127.0.0.1");

    let by_url = connect(&pg.url()).await.unwrap();
    let one: i32 = by_url.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let Some(pg) = support::pg_cluster() else {
        return;
    };
    let wrong = format!(
        "host={} port={} dbname=testdb user=postgres password=not-the-password",
        pg.host(),
        pg.port()
    );
    let Err(err) = connect(&wrong).await else {
        panic!("a wrong password must fail");
    };
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err}");

    let no_password = format!("host={} port={} user=postgres", pg.host(), pg.port());
    assert!(connect(&no_password).await.is_err());
}

#[tokio::test]
async fn standby_replicates_the_primary() {
    let Some(primary) = support::pg_cluster() else {
        return;
    };
    let standby = PgCluster::start_standby(&primary).unwrap();
    assert_ne!(standby.port(), primary.port());

    let writer = connect_or_log(&primary).await;
    writer
        .batch_execute("CREATE TABLE marks (v text); INSERT INTO marks VALUES ('from-primary');")
        .await
        .unwrap();

    let reader = connect_or_log(&standby).await;
    let in_recovery: bool = reader
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(in_recovery);

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows = reader.query("SELECT v FROM marks", &[]).await;
        if let Ok(rows) = rows {
            if rows.iter().any(|r| r.get::<_, String>(0) == "from-primary") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "row not replicated; standby log:\n{}",
            standby.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = reader.batch_execute("INSERT INTO marks VALUES ('x')").await;
    assert_eq!(
        refused.unwrap_err().code(),
        Some(&SqlState::READ_ONLY_SQL_TRANSACTION)
    );
}

#[tokio::test]
async fn stop_and_start_again_keep_the_data() {
    let Some(pg) = support::pg_cluster() else {
        return;
    };
    let client = connect_or_log(&pg).await;
    client
        .batch_execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7);")
        .await
        .unwrap();
    drop(client);

    pg.stop().unwrap();
    let Err(refused) = connect(&pg.conn_string()).await else {
        panic!("a stopped server must refuse connections");
    };
    assert!(refused.code().is_none(), "expected an I/O error: {refused}");

    pg.start_again().unwrap();
    let client = connect_or_log(&pg).await;
    let v: i32 = client
        .query_one("SELECT v FROM kept", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 7);
}

#[tokio::test]
async fn drop_stops_the_server_and_removes_its_files() {
    let Some(pg) = support::pg_cluster() else {
        return;
    };
    let data_dir = pg.data_dir();
    let port = pg.port();
    let client = connect_or_log(&pg).await;
    drop(pg);
    assert!(!data_dir.exists(), "{} still exists", data_dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still accepts connections"
    );
    assert!(client.query_one("SELECT 1", &[]).await.is_err());
}
