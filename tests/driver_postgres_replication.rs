//! Replication faults on a real primary and standby: WAL replay paused, a replication
//! slot holding WAL. Each is observed the way a user would see it, then torn down and
//! verified.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::Future;
use std::time::{Duration, Instant};

use chaosdeck::driver::postgres;
use chaosdeck::driver::DriverError;
use chaosdeck::lab::{PgCluster, PgClusterOptions};
use support::pg::{action, client, run, target, undo_twice};
use tokio_postgres::Client;

async fn query_i64(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Polls `check` until it holds or `within` has passed; says whether it held.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn replica_options() -> PgClusterOptions {
    PgClusterOptions::default()
        .setting("wal_level", "replica")
        .setting("max_wal_senders", "5")
        .setting("max_replication_slots", "5")
}

#[tokio::test]
async fn pause_replay_leaves_the_standby_behind_until_teardown() {
    let Some(primary) = support::pg_cluster_with(replica_options()) else {
        return;
    };
    let standby = PgCluster::start_standby(&primary).expect("starting a standby");
    let (writer, reader) = (client(&primary).await, client(&standby).await);
    writer
        .batch_execute("CREATE TABLE orders (id int)")
        .await
        .unwrap();
    let sql = "SELECT count(*) FROM pg_class WHERE relname = 'orders'";
    assert!(
        eventually(Duration::from_secs(10), || async {
            query_i64(&reader, sql).await == 1
        })
        .await
    );

    let target = target(&standby);
    let action = action("postgres.pause_replay: {}");
    let plan = postgres::plan(&action, &target, &run()).await.unwrap();
    eprintln!("blast radius: {}", plan.blast_radius);
    assert!(
        plan.blast_radius.starts_with("pause WAL replay"),
        "{}",
        plan.blast_radius
    );
    let hold = postgres::apply(&action, &target, &run(), &plan.undo)
        .await
        .unwrap();
    let paused = "SELECT (pg_get_wal_replay_pause_state() = 'paused')::int::bigint";
    assert!(
        eventually(Duration::from_secs(10), || async {
            query_i64(&reader, paused).await == 1
        })
        .await
    );

    writer
        .batch_execute("INSERT INTO orders SELECT generate_series(1, 100)")
        .await
        .unwrap();
    // The standby receives the WAL but applies none of it.
    let lag = "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint";
    assert!(
        eventually(Duration::from_secs(10), || async {
            query_i64(&reader, lag).await > 0
        })
        .await,
        "receive and replay positions should drift apart"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(query_i64(&reader, "SELECT count(*) FROM orders").await, 0);
    assert_eq!(query_i64(&writer, "SELECT count(*) FROM orders").await, 100);

    hold.release().await;
    undo_twice(&plan.undo, &target).await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            query_i64(&reader, "SELECT count(*) FROM orders").await == 100
        })
        .await,
        "the standby should catch up after teardown"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            query_i64(&reader, lag).await == 0
        })
        .await
    );
}

#[tokio::test]
async fn pause_replay_refuses_a_primary() {
    let Some(primary) = support::pg_cluster() else {
        return;
    };
    let err = postgres::plan(
        &action("postgres.pause_replay: {}"),
        &target(&primary),
        &run(),
    )
    .await
    .unwrap_err();
    eprintln!("refused as expected: {err}");
    assert!(matches!(err, DriverError::Precondition { .. }), "{err}");
    assert!(err.to_string().contains("is not a standby"), "{err}");
}

#[tokio::test]
async fn replication_slot_holds_wal_until_dropped() {
    let Some(cluster) = support::pg_cluster_with(replica_options()) else {
        return;
    };
    let app = client(&cluster).await;
    let target = target(&cluster);
    let run = run();
    let action = action("postgres.replication_slot: { min_free_disk: 1MiB }");
    let plan = postgres::plan(&action, &target, &run).await.unwrap();
    eprintln!("blast radius: {}", plan.blast_radius);
    assert!(
        plan.blast_radius.contains("chaosdeck_"),
        "{}",
        plan.blast_radius
    );
    let hold = postgres::apply(&action, &target, &run, &plan.undo)
        .await
        .unwrap();

    let slot =
        "SELECT restart_lsn::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint \
         FROM pg_replication_slots WHERE slot_name LIKE 'chaosdeck_%'";
    let row = app.query_one(slot, &[]).await.unwrap();
    let (held, before): (String, i64) = (row.get(0), row.get(1));
    app.batch_execute(
        "CREATE TABLE filler AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 20000) g; \
         SELECT pg_switch_wal(); CHECKPOINT",
    )
    .await
    .unwrap();
    let row = app.query_one(slot, &[]).await.unwrap();
    let (still, after): (String, i64) = (row.get(0), row.get(1));
    assert_eq!(still, held, "the slot's restart_lsn should not move");
    assert!(
        after > before + 8 * 1024 * 1024,
        "retained WAL grew only from {before} to {after}"
    );

    hold.release().await;
    undo_twice(&plan.undo, &target).await;
    let n = query_i64(&app, "SELECT count(*) FROM pg_replication_slots").await;
    assert_eq!(n, 0, "the slot should be gone");
}

#[tokio::test]
async fn replication_slot_refuses_when_the_disk_margin_is_too_small() {
    let Some(cluster) = support::pg_cluster_with(replica_options()) else {
        return;
    };
    let action = action("postgres.replication_slot: { min_free_disk: 100000GB }");
    let err = postgres::plan(&action, &target(&cluster), &run())
        .await
        .unwrap_err();
    eprintln!("refused as expected: {err}");
    assert!(matches!(err, DriverError::Precondition { .. }), "{err}");
    assert!(err.to_string().contains("less than min_free_disk"), "{err}");
    let app = client(&cluster).await;
    let n = query_i64(&app, "SELECT count(*) FROM pg_replication_slots").await;
    assert_eq!(n, 0, "nothing should have been created");
}
