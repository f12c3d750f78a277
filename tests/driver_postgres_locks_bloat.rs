//! Lock and storage faults on a real throwaway cluster: injected, observed the way an
//! application or a DBA would see them, torn down, verified, and observed again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use chaosdeck::driver::postgres::PgUndo;
use chaosdeck::driver::DriverError;
use chaosdeck::lab::PgClusterOptions;
use support::pg::{client, code, inject, plan, teardown};
use tokio_postgres::Client;

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

async fn table_exists(client: &Client, name: &str) -> bool {
    let sql = format!("SELECT to_regclass('{name}') IS NOT NULL");
    client.query_one(&sql, &[]).await.unwrap().get(0)
}

/// Polls `sql` (one bigint) until `done` holds or `secs` pass; returns the last value.
async fn poll(client: &Client, sql: &str, secs: u64, done: impl Fn(i64) -> bool) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let n = count(client, sql).await;
        if done(n) || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn share_lock_on_a_user_table_queues_its_writers_not_its_readers() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let app = client(&cluster).await;
    app.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY, qty int); \
         INSERT INTO orders SELECT g, 1 FROM generate_series(1, 10) g",
    )
    .await
    .unwrap();
    let (plan, hold) = inject(
        &cluster,
        "postgres.lock_contention: { table: orders, mode: share, waiters: 3 }",
    )
    .await;
    assert!(
        plan.blast_radius
            .starts_with("hold a SHARE lock on orders in an open transaction and queue 3 sessions"),
        "{}",
        plan.blast_radius
    );
    let waiting =
        "SELECT count(*) FROM pg_locks WHERE relation = 'orders'::regclass AND NOT granted";
    assert_eq!(count(&app, waiting).await, 3);
    app.batch_execute("SET lock_timeout = '300ms'")
        .await
        .unwrap();
    let err = app
        .batch_execute("UPDATE orders SET qty = qty + 1 WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(code(&err), "55P03", "{err}");
    assert_eq!(count(&app, "SELECT count(*) FROM orders").await, 10);
    teardown(&cluster, &plan, hold).await;
    // The user's table stays, untouched, and takes writes again.
    app.batch_execute("UPDATE orders SET qty = qty + 1 WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(count(&app, "SELECT sum(qty) FROM orders").await, 11);
}

#[tokio::test]
async fn access_exclusive_lock_on_its_own_table_blocks_readers_then_the_table_goes() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let app = client(&cluster).await;
    let (plan, hold) = inject(
        &cluster,
        "postgres.lock_contention: { table: chaosdeck_locks, mode: access_exclusive, waiters: 2 }",
    )
    .await;
    assert!(
        plan.blast_radius
            .starts_with("create chaosdeck_locks with 100 rows"),
        "{}",
        plan.blast_radius
    );
    let waiting = "SELECT count(*) FROM pg_stat_activity \
                   WHERE application_name LIKE 'chaosdeck:%' AND wait_event_type = 'Lock'";
    assert_eq!(count(&app, waiting).await, 2);
    app.batch_execute("SET lock_timeout = '300ms'")
        .await
        .unwrap();
    let err = app
        .batch_execute("SELECT count(*) FROM chaosdeck_locks")
        .await
        .unwrap_err();
    assert_eq!(code(&err), "55P03", "{err}");
    teardown(&cluster, &plan, hold).await;
    assert!(!table_exists(&app, "chaosdeck_locks").await);
}

#[tokio::test]
async fn row_locks_block_writers_of_those_rows() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let app = client(&cluster).await;
    let (plan, hold) = inject(
        &cluster,
        "postgres.lock_contention: { table: chaosdeck_rows, mode: row, waiters: 1 }",
    )
    .await;
    app.batch_execute("SET lock_timeout = '300ms'")
        .await
        .unwrap();
    let err = app
        .batch_execute("UPDATE chaosdeck_rows SET n = 7 WHERE id = 5")
        .await
        .unwrap_err();
    assert_eq!(code(&err), "55P03", "{err}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM chaosdeck_rows").await,
        100
    );
    teardown(&cluster, &plan, hold).await;
    assert!(!table_exists(&app, "chaosdeck_rows").await);
}

#[tokio::test]
async fn deadlocking_pairs_show_in_pg_stat_database() {
    let Some(cluster) =
        support::pg_cluster_with(PgClusterOptions::default().setting("deadlock_timeout", "100ms"))
    else {
        return;
    };
    let dba = client(&cluster).await;
    let deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()";
    let before = count(&dba, deadlocks).await;
    let (plan, hold) = inject(
        &cluster,
        "postgres.deadlock: { table: chaosdeck_deadlock, every: 100ms }",
    )
    .await;
    assert!(
        plan.blast_radius
            .contains("one of each pair fails with SQLSTATE 40P01"),
        "{}",
        plan.blast_radius
    );
    let during = poll(&dba, deadlocks, 20, |n| n >= before + 2).await;
    assert!(
        during >= before + 2,
        "deadlocks went from {before} to {during}"
    );
    teardown(&cluster, &plan, hold).await;
    assert!(!table_exists(&dba, "chaosdeck_deadlock").await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = count(&dba, deadlocks).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        count(&dba, deadlocks).await,
        settled,
        "deadlocks go on after teardown"
    );
}

#[tokio::test]
async fn table_bloat_leaves_dead_tuples_until_the_table_is_dropped() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let dba = client(&cluster).await;
    let (plan, hold) = inject(
        &cluster,
        "postgres.table_bloat: { table: chaosdeck_bloat, rows: 10000, updates: 9 }",
    )
    .await;
    assert!(
        plan.blast_radius
            .starts_with("create chaosdeck_bloat with 10000 rows and leave 90000 dead tuples"),
        "{}",
        plan.blast_radius
    );
    let dead = "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'chaosdeck_bloat'";
    let n = poll(&dba, dead, 10, |n| n >= 81_000).await;
    assert!(n >= 81_000, "only {n} dead tuples");
    let options: String = dba
        .query_one(
            "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'chaosdeck_bloat'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(options.contains("autovacuum_enabled=false"), "{options}");
    teardown(&cluster, &plan, hold).await;
    assert!(!table_exists(&dba, "chaosdeck_bloat").await);
}

#[tokio::test]
async fn storage_faults_refuse_tables_they_did_not_create() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let app = client(&cluster).await;
    app.batch_execute("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)")
        .await
        .unwrap();
    for yaml in [
        "postgres.table_bloat: { table: orders, rows: 10, updates: 1 }",
        "postgres.cache_miss: { table: orders, factor: 1.0 }",
    ] {
        let err = plan(&cluster, yaml).await.unwrap_err();
        assert!(
            matches!(err, DriverError::Precondition { .. })
                && err
                    .to_string()
                    .contains("orders already exists and chaosdeck did not create it"),
            "{err}"
        );
    }
    assert_eq!(count(&app, "SELECT count(*) FROM orders").await, 1);
}

/// Buffers one query read from outside shared_buffers, from EXPLAIN (BUFFERS).
async fn blocks_read(client: &Client, sql: &str) -> i64 {
    let rows = client
        .query(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"), &[])
        .await
        .unwrap();
    let lines: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let buffers = lines
        .iter()
        .find(|l| l.contains("Buffers: shared"))
        .unwrap_or_else(|| panic!("no buffer counts in {lines:#?}"));
    buffers
        .split_whitespace()
        .find_map(|w| w.strip_prefix("read="))
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn cache_miss_scans_evict_hot_pages_and_drop_the_hit_ratio() {
    let Some(cluster) =
        support::pg_cluster_with(PgClusterOptions::default().setting("shared_buffers", "16MB"))
    else {
        return;
    };
    let app = client(&cluster).await;
    app.batch_execute(
        "CREATE TABLE hot (id int, pad text); \
         INSERT INTO hot SELECT g, repeat('h', 500) FROM generate_series(1, 2000) g",
    )
    .await
    .unwrap();
    let read_hot = "SELECT count(*) FROM hot";
    blocks_read(&app, read_hot).await;
    assert_eq!(blocks_read(&app, read_hot).await, 0, "hot should be cached");
    let stats = |c: &'static str| {
        format!("SELECT {c} FROM pg_stat_database WHERE datname = current_database()")
    };
    let (plan, hold) = inject(
        &cluster,
        "postgres.cache_miss: { table: chaosdeck_cache, factor: 2.0, scanners: 2 }",
    )
    .await;
    assert_eq!(
        plan.blast_radius,
        "create a 32MiB table chaosdeck_cache (2 × shared_buffers 16MiB) and scan it in 2 \
         sessions through shared_buffers, evicting other pages (dropped at teardown)"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (hit0, read0) = (
        count(&app, &stats("blks_hit")).await,
        count(&app, &stats("blks_read")).await,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (hit1, read1) = (
        count(&app, &stats("blks_hit")).await,
        count(&app, &stats("blks_read")).await,
    );
    let (hits, reads) = (hit1 - hit0, read1 - read0);
    assert!(
        reads > 4096 && reads > hits,
        "{reads} blocks read, {hits} hit while scanning"
    );
    assert!(
        blocks_read(&app, read_hot).await > 0,
        "hot pages should have been evicted"
    );
    teardown(&cluster, &plan, hold).await;
    assert!(!table_exists(&app, "chaosdeck_cache").await);
    // Once the scans stop, the hot table stays cached again.
    blocks_read(&app, read_hot).await;
    assert_eq!(blocks_read(&app, read_hot).await, 0);
}

#[test]
fn undo_data_round_trips_through_the_journal() {
    use chaosdeck::driver::postgres::bloat::{BloatUndo, CreatedTable};
    use chaosdeck::driver::postgres::locks::{LockSessions, LocksUndo};
    let undos = [
        PgUndo::Locks(LocksUndo::Deadlock(LockSessions {
            application_name: "chaosdeck:1a2b3c4d:pg-deadlock".into(),
            table: "chaosdeck_deadlock".into(),
            created: true,
        })),
        PgUndo::Bloat(BloatUndo::CacheMiss(CreatedTable {
            application_name: "chaosdeck:1a2b3c4d:db-high-cache-miss".into(),
            table: "chaosdeck_cache".into(),
        })),
    ];
    for undo in undos {
        let json = serde_json::to_string(&undo).unwrap();
        assert!(json.contains("\"fault\":"), "{json}");
        assert_eq!(
            serde_json::from_str::<PgUndo>(&json).unwrap(),
            undo,
            "{json}"
        );
    }
}
