//! Persistent PostgreSQL faults on real throwaway clusters: an orphaned prepared
//! transaction, a sequence near its maximum and a stopped server. Each is observed the
//! way a user would see it, then torn down and verified.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chaosdeck::driver::postgres::{self, PgRun, PgTarget, PgUndo};
use chaosdeck::driver::{DriverError, Plan};
use chaosdeck::lab::{PgCluster, PgClusterOptions};
use support::pg::{action, code, connect, run, target, undo_twice};

/// Plans and applies `yaml`; the fault is persistent, so no hold is kept.
async fn inject(yaml: &str, target: &PgTarget, run: &PgRun) -> Plan<PgUndo> {
    let action = action(yaml);
    let plan = postgres::plan(&action, target, run).await.unwrap();
    eprintln!("blast radius: {}", plan.blast_radius);
    let hold = postgres::apply(&action, target, run, &plan.undo)
        .await
        .unwrap();
    assert!(hold.is_empty(), "a persistent fault keeps nothing open");
    plan
}

fn with_prepared_xacts() -> PgClusterOptions {
    PgClusterOptions::default().setting("max_prepared_transactions", "5")
}

#[tokio::test]
async fn prepared_transaction_keeps_a_row_locked_until_rolled_back() {
    let Some(cluster) = support::pg_cluster_with(with_prepared_xacts()) else {
        return;
    };
    let app = connect(&cluster).await.unwrap();
    app.batch_execute(
        "CREATE TABLE accounts (id int PRIMARY KEY, balance int); \
         INSERT INTO accounts VALUES (1, 100)",
    )
    .await
    .unwrap();
    let (target, run) = (target(&cluster), run());
    let plan = inject(
        "postgres.prepared_transaction: { table: accounts }",
        &target,
        &run,
    )
    .await;
    assert!(
        plan.blast_radius.contains("accounts"),
        "{}",
        plan.blast_radius
    );

    // The transaction outlives its session and keeps the row locked.
    let gid: String = app
        .query_one("SELECT gid FROM pg_prepared_xacts", &[])
        .await
        .unwrap()
        .get(0);
    assert!(gid.starts_with("chaosdeck:"), "{gid}");
    app.batch_execute("SET lock_timeout = '300ms'")
        .await
        .unwrap();
    let update = "UPDATE accounts SET balance = 0 WHERE id = 1";
    let err = app.batch_execute(update).await.unwrap_err();
    assert_eq!(code(&err), "55P03", "{err}");

    undo_twice(&plan.undo, &target).await;
    app.batch_execute(update).await.unwrap();
    let n: i64 = app
        .query_one("SELECT count(*) FROM pg_prepared_xacts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let balance: i32 = app
        .query_one("SELECT balance FROM accounts WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(balance, 0, "the user's table stays");
}

#[tokio::test]
async fn prepared_transaction_creates_its_own_table_and_drops_it() {
    let Some(cluster) = support::pg_cluster_with(with_prepared_xacts()) else {
        return;
    };
    let app = connect(&cluster).await.unwrap();
    let (target, run) = (target(&cluster), run());
    let yaml = "postgres.prepared_transaction: { table: chaosdeck_prepared }";
    let plan = inject(yaml, &target, &run).await;
    assert!(
        plan.blast_radius.contains("creates the table"),
        "{}",
        plan.blast_radius
    );
    app.batch_execute("SET lock_timeout = '300ms'")
        .await
        .unwrap();
    let err = app
        .batch_execute("DELETE FROM chaosdeck_prepared")
        .await
        .unwrap_err();
    assert_eq!(code(&err), "55P03", "{err}");
    undo_twice(&plan.undo, &target).await;
    let exists: bool = app
        .query_one("SELECT to_regclass('chaosdeck_prepared') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!exists, "chaosdeck's table should be dropped");
}

#[tokio::test]
async fn prepared_transaction_needs_max_prepared_transactions() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let yaml = "postgres.prepared_transaction: { table: chaosdeck_prepared }";
    let err = postgres::plan(&action(yaml), &target(&cluster), &run())
        .await
        .unwrap_err();
    eprintln!("refused as expected: {err}");
    assert!(matches!(err, DriverError::Precondition { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("max_prepared_transactions is 0") && text.contains("restart"),
        "{text}"
    );
}

#[tokio::test]
async fn sequence_near_max_runs_out_after_the_remaining_values() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let app = connect(&cluster).await.unwrap();
    app.batch_execute(
        "CREATE SEQUENCE order_ids; SELECT nextval('order_ids') FROM generate_series(1, 5)",
    )
    .await
    .unwrap();
    let (target, run) = (target(&cluster), run());
    let yaml = "postgres.sequence_near_max: { sequence: order_ids, remaining: 3 }";
    let plan = inject(yaml, &target, &run).await;
    assert!(
        plan.blast_radius.contains("from 9223372036854775807 to 8"),
        "{}",
        plan.blast_radius
    );
    let next = "SELECT nextval('order_ids')";
    for want in 6..=8_i64 {
        let got: i64 = app.query_one(next, &[]).await.unwrap().get(0);
        assert_eq!(got, want);
    }
    let err = app.query_one(next, &[]).await.unwrap_err();
    assert_eq!(code(&err), "2200H", "{err}");
    let message = err.as_db_error().unwrap().message();
    assert!(message.contains("reached maximum value"), "{message}");

    undo_twice(&plan.undo, &target).await;
    let got: i64 = app.query_one(next, &[]).await.unwrap().get(0);
    assert_eq!(got, 9, "last_value never moves backwards");
}

#[tokio::test]
async fn sequence_near_max_refuses_what_it_cannot_do_safely() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let app = connect(&cluster).await.unwrap();
    app.batch_execute(
        "CREATE SEQUENCE wraps CYCLE; CREATE SEQUENCE short MAXVALUE 10; SELECT nextval('short')",
    )
    .await
    .unwrap();
    for (yaml, why) in [
        ("{ sequence: wraps, remaining: 3 }", "CYCLE"),
        ("{ sequence: short, remaining: 100 }", "only 9 values left"),
    ] {
        let yaml = format!("postgres.sequence_near_max: {yaml}");
        let err = postgres::plan(&action(&yaml), &target(&cluster), &run())
            .await
            .unwrap_err();
        eprintln!("refused as expected: {err}");
        assert!(err.to_string().contains(why), "{yaml}: {err}");
    }
    let max: i64 = app
        .query_one(
            "SELECT max_value FROM pg_sequences WHERE sequencename = 'short'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(max, 10, "nothing changed");
}

/// Whether connecting failed because nothing listens on the port.
fn refused(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        source = inner.source();
    }
    false
}

async fn stop_and_start(cluster: &PgCluster, mode: &str, bin_dir: bool) {
    let app = connect(cluster).await.unwrap();
    app.batch_execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)")
        .await
        .unwrap();
    let target = PgTarget {
        data_dir: Some(cluster.data_dir()),
        bin_dir: bin_dir.then(|| cluster.bin_dir().to_path_buf()),
        ..target(cluster)
    };
    let run = run();
    let yaml = format!("postgres.stop_server: {{ mode: {mode} }}");
    let plan = inject(&yaml, &target, &run).await;
    let port = format!("port {}", cluster.port());
    assert!(plan.blast_radius.contains(&port), "{}", plan.blast_radius);

    let err = connect(cluster)
        .await
        .expect_err("the server should be down");
    assert!(refused(&err), "expected connection refused, got: {err}");
    assert!(
        app.simple_query("SELECT 1").await.is_err(),
        "old sessions end"
    );

    undo_twice(&plan.undo, &target).await;
    let app = connect(cluster).await.unwrap();
    let n: i64 = app
        .query_one("SELECT count(*) FROM kept", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "committed data survives the stop");
}

#[tokio::test]
async fn stop_server_refuses_connections_until_teardown() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    stop_and_start(&cluster, "fast", true).await;
}

#[tokio::test]
async fn stop_server_immediate_finds_pg_ctl_and_recovers() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    stop_and_start(&cluster, "immediate", false).await;
}

#[tokio::test]
async fn stop_server_smart_refuses_new_clients_and_teardown_finishes_it() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let app = connect(&cluster).await.unwrap();
    let target = PgTarget {
        data_dir: Some(cluster.data_dir()),
        ..target(&cluster)
    };
    let plan = inject("postgres.stop_server: { mode: smart }", &target, &run()).await;
    // The open session keeps the server from stopping; newcomers are turned away.
    let err = connect(&cluster)
        .await
        .expect_err("new clients are refused");
    assert_eq!(code(&err), "57P03", "{err}");
    app.simple_query("SELECT 1").await.unwrap();
    undo_twice(&plan.undo, &target).await;
    let finished = app.simple_query("SELECT 1").await.is_err();
    assert!(
        finished,
        "teardown finishes the shutdown, then starts the server"
    );
    let app = connect(&cluster).await.unwrap();
    app.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn stop_server_refuses_a_server_it_does_not_control() {
    let (Some(one), Some(other)) = (support::pg_cluster(), support::pg_cluster()) else {
        return;
    };
    let stop = action("postgres.stop_server: { mode: fast }");
    let err = postgres::plan(&stop, &target(&one), &run())
        .await
        .unwrap_err();
    eprintln!("refused as expected: {err}");
    assert!(err.to_string().contains("--pg-data-dir"), "{err}");

    let wrong_dir = PgTarget {
        data_dir: Some(other.data_dir()),
        ..target(&one)
    };
    let err = postgres::plan(&stop, &wrong_dir, &run()).await.unwrap_err();
    eprintln!("refused as expected: {err}");
    assert!(
        err.to_string().contains("refusing to stop another server"),
        "{err}"
    );
    for cluster in [&one, &other] {
        connect(cluster)
            .await
            .unwrap()
            .simple_query("SELECT 1")
            .await
            .unwrap();
    }
}
