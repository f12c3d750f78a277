//! Session-bound PostgreSQL faults on a real throwaway cluster, observed the way a
//! user would see them, then torn down and verified.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use chaosdeck::lab::{PgCluster, PgClusterOptions};
use support::pg::{connect, inject, release_and_undo};
use tokio_postgres::NoTls;

/// Injects, runs `observe` while the fault is on, tears down and checks the undo.
async fn with_fault<F, Fut>(cluster: &PgCluster, yaml: &str, observe: F) -> String
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (plan, hold) = inject(cluster, yaml).await;
    observe().await;
    release_and_undo(cluster, &plan, hold).await;
    plan.blast_radius
}

#[tokio::test]
async fn hold_connections_makes_new_clients_see_too_many_clients() {
    let Some(cluster) = support::pg_cluster_with(PgClusterOptions {
        max_connections: 20,
        ..PgClusterOptions::default()
    }) else {
        return;
    };
    let blast = with_fault(
        &cluster,
        "postgres.hold_connections: { count: fill, reserve: 1 }",
        || async {
            let err = connect(&cluster)
                .await
                .expect_err("the server should refuse a new client");
            let code = err.as_db_error().map(|e| e.code().code().to_string());
            assert_eq!(code.as_deref(), Some("53300"), "{err}");
        },
    )
    .await;
    assert!(blast.starts_with("hold 19 of 20 connections"), "{blast}");
    // After teardown a new client connects again.
    let c = connect(&cluster).await.unwrap();
    c.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn idle_in_transaction_sessions_show_in_pg_stat_activity() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let watcher = connect(&cluster).await.unwrap();
    with_fault(&cluster, "postgres.idle_in_transaction: { count: 3 }", || async {
        let n: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND application_name LIKE 'chaosdeck:%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 3);
    })
    .await;
}

#[tokio::test]
async fn a_long_query_holding_a_table_blocks_ddl_on_it() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let app = connect(&cluster).await.unwrap();
    app.batch_execute("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)")
        .await
        .unwrap();
    with_fault(&cluster, "postgres.long_query: { duration: 10m, table: orders }", || async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.batch_execute("SET lock_timeout = '300ms'").await.unwrap();
        let err = app.batch_execute("ALTER TABLE orders ADD COLUMN note text").await.unwrap_err();
        assert_eq!(err.as_db_error().unwrap().code().code(), "55P03", "{err}");
        let active: i64 = app
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND application_name LIKE 'chaosdeck:%'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(active, 1);
    })
    .await;
    app.batch_execute("SET lock_timeout = '2s'; ALTER TABLE orders ADD COLUMN note text")
        .await
        .unwrap();
}

#[tokio::test]
async fn terminate_backends_ends_matching_clients_only() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let (victim, conn) = tokio_postgres::connect(
        &format!("{} application_name=shop-api", cluster.conn_string()),
        NoTls,
    )
    .await
    .unwrap();
    let victim_task = tokio::spawn(conn);
    let bystander = connect(&cluster).await.unwrap();
    with_fault(
        &cluster,
        "postgres.terminate_backends: { application_name: shop-api, every: 100ms }",
        || async {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !victim_task.is_finished() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(
                victim_task.is_finished(),
                "the shop-api session should have been terminated"
            );
            assert!(victim.simple_query("SELECT 1").await.is_err());
            bystander.simple_query("SELECT 1").await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn temp_files_grow_while_the_fault_is_on() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let watcher = connect(&cluster).await.unwrap();
    let sql = "SELECT coalesce(sum(size), 0)::bigint FROM pg_ls_tmpdir()";
    with_fault(&cluster, "postgres.temp_files: { size: 32MiB }", || async {
        let bytes: i64 = watcher.query_one(sql, &[]).await.unwrap().get(0);
        assert!(
            bytes > 16 * 1024 * 1024,
            "temp files hold only {bytes} bytes"
        );
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let bytes: i64 = watcher.query_one(sql, &[]).await.unwrap().get(0);
        if bytes == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "temp files still hold {bytes} bytes after teardown"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn advisory_locks_are_held_then_released() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let app = connect(&cluster).await.unwrap();
    let try_lock = "SELECT pg_try_advisory_lock(4242)";
    with_fault(
        &cluster,
        "postgres.advisory_locks: { key: 4240, count: 5 }",
        || async {
            let got: bool = app.query_one(try_lock, &[]).await.unwrap().get(0);
            assert!(!got, "key 4242 should be held by chaosdeck");
        },
    )
    .await;
    let got: bool = app.query_one(try_lock, &[]).await.unwrap().get(0);
    assert!(got);
}
