//! Faults that live in sessions; each leaves the server as it found it.

use chaosdeck::catalog::TargetKind;
use chaosdeck::engine::inject::Active;
use tokio_postgres::NoTls;

use super::{connect, count, fails_with, lock_blocked, set, Lab};
use crate::{eventually, Sweep};

pub const IDS: &[&str] = &[
    "db-max-connections",
    "db-long-running-query",
    "db-lock-contention",
    "pg-idle-in-transaction",
    "pg-terminate-backends",
    "pg-advisory-lock-hog",
    "pg-deadlock",
    "pg-temp-file-growth",
    "db-table-bloat",
    "db-high-cache-miss",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_faults_inject_tear_down_and_verify() {
    let sweep = Sweep::new(TargetKind::Postgres);
    let Some(lab) = Lab::start().await else {
        return;
    };
    let targets = lab.targets("testdb");
    // Watches from the postgres database: some faults end sessions on testdb.
    let watcher = connect(&lab.admin("postgres")).await.unwrap();
    let testdb = lab.admin("testdb");
    for &id in IDS {
        match id {
            "db-max-connections" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        fails_with("a new client", connect(&lab.app()).await, "53300")
                    })
                    .await
            }
            "db-long-running-query" => {
                let o = [set("sessions", "1")];
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        lock_blocked(&testdb, "chaosdeck_longquery", "ACCESS EXCLUSIVE").await
                    })
                    .await
            }
            "db-lock-contention" => {
                let o = [set("waiters", "2")];
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        lock_blocked(&testdb, "chaosdeck_locks", "ROW EXCLUSIVE").await
                    })
                    .await
            }
            "pg-idle-in-transaction" => {
                let o = [set("count", "2")];
                let sql = "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in \
                           transaction' AND application_name LIKE 'chaosdeck:%'";
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        eventually("2 sessions idle in transaction", async || {
                            Ok(count(&watcher, sql).await? == 2)
                        })
                        .await
                    })
                    .await
            }
            "pg-terminate-backends" => {
                let o = [set("every", "200ms")];
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        let conn = format!("{} application_name=shop-api", lab.app());
                        let (victim, connection) = tokio_postgres::connect(&conn, NoTls)
                            .await
                            .map_err(|e| e.to_string())?;
                        let ended = tokio::spawn(connection);
                        eventually("the application's session terminated", async || {
                            Ok(ended.is_finished())
                        })
                        .await?;
                        ensure!(
                            victim.simple_query("SELECT 1").await.is_err(),
                            "the terminated session still answers"
                        );
                        Ok(())
                    })
                    .await
            }
            "pg-advisory-lock-hog" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        let app = connect(&lab.app()).await.map_err(|e| e.to_string())?;
                        let row = app
                            .query_one("SELECT pg_try_advisory_lock(72707369)", &[])
                            .await
                            .map_err(|e| e.to_string())?;
                        ensure!(!row.get::<_, bool>(0), "the default key was free to take");
                        Ok(())
                    })
                    .await
            }
            "pg-deadlock" => {
                let sql = "SELECT deadlocks FROM pg_stat_database WHERE datname = 'testdb'";
                let before = count(&watcher, sql).await.unwrap();
                let o = [set("every", "200ms")];
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        eventually("a deadlock counted in pg_stat_database", async || {
                            Ok(count(&watcher, sql).await? > before)
                        })
                        .await
                    })
                    .await
            }
            "pg-temp-file-growth" => {
                let o = [set("size", "32MiB"), set("sessions", "1")];
                let sql = "SELECT coalesce(sum(size), 0)::bigint FROM pg_ls_tmpdir()";
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        eventually("temp files on disk", async || {
                            Ok(count(&watcher, sql).await? > 0)
                        })
                        .await
                    })
                    .await
            }
            "db-table-bloat" => {
                let o = [set("rows", "1000"), set("updates", "2")];
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        let client = connect(&testdb).await.map_err(|e| e.to_string())?;
                        let sql = "SELECT n_dead_tup FROM pg_stat_user_tables \
                                   WHERE relname = 'chaosdeck_bloat'";
                        let dead = count(&client, sql).await?;
                        ensure!(dead >= 2000, "{dead} dead tuples, expected 2000");
                        Ok(())
                    })
                    .await
            }
            "db-high-cache-miss" => {
                let o = [set("factor", "0.1"), set("scanners", "1")];
                let sql = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
                           AND query LIKE '%chaosdeck_cache%' AND pid <> pg_backend_pid()";
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        eventually("a session scanning chaosdeck_cache", async || {
                            Ok(count(&watcher, sql).await? > 0)
                        })
                        .await
                    })
                    .await
            }
            other => panic!("{other} has no case in the session sweep"),
        }
    }
}
