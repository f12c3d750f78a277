//! Faults on settings, roles, databases and the server itself.

use chaosdeck::catalog::TargetKind;
use chaosdeck::engine::inject::Active;

use super::{code, connect, count, fails_with, set, Lab};
use crate::{eventually, Sweep};

/// Faults on settings, roles, databases and the server itself, in this order: the
/// rename needs testdb free of sessions, and stopping the server comes last.
pub const IDS: &[&str] = &[
    "pg-statement-timeout",
    "pg-role-statement-timeout",
    "pg-read-only",
    "pg-role-connection-limit",
    "db-auth-failure",
    "pg-orphaned-prepared-xact",
    "pg-sequence-near-max",
    "pg-replication-slot-wal",
    "db-not-exist",
    "db-connection-refused",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_faults_inject_tear_down_and_verify() {
    let sweep = Sweep::new(TargetKind::Postgres);
    let Some(lab) = Lab::start().await else {
        return;
    };
    let targets = lab.targets("testdb");
    let watcher = connect(&lab.admin("postgres")).await.unwrap();
    let testdb = lab.admin("testdb");
    // A new statement that runs 500 ms is cancelled by the timeout (after the reload).
    let times_out = async |conn: &str| {
        eventually("a 500 ms statement cancelled", async || {
            let client = connect(conn).await.map_err(|e| e.to_string())?;
            match client.batch_execute("SELECT pg_sleep(0.5)").await {
                Ok(()) => Ok(false),
                Err(e) if code(&e) == "57014" => Ok(true),
                Err(e) => Err(format!("pg_sleep: {e}")),
            }
        })
        .await
    };
    for &id in IDS {
        match id {
            "pg-statement-timeout" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        times_out(&lab.app()).await
                    })
                    .await
            }
            "pg-role-statement-timeout" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        times_out(&testdb).await
                    })
                    .await
            }
            "pg-read-only" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        eventually("a write refused as read-only", async || {
                            let client = connect(&lab.app()).await.map_err(|e| e.to_string())?;
                            match client
                                .batch_execute("CREATE TEMP TABLE probe (n int)")
                                .await
                            {
                                Ok(()) => Ok(false),
                                Err(e) if code(&e) == "25006" => Ok(true),
                                Err(e) => Err(format!("CREATE TEMP TABLE: {e}")),
                            }
                        })
                        .await
                    })
                    .await
            }
            "pg-role-connection-limit" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        let mut open = Vec::new();
                        for _ in 0..3 {
                            match connect(&lab.app()).await {
                                Ok(client) => open.push(client),
                                Err(e) => {
                                    return fails_with(
                                        "a third app session",
                                        Err::<(), _>(e),
                                        "53300",
                                    )
                                }
                            }
                        }
                        Err("3 sessions of role app opened under a limit of 2".to_string())
                    })
                    .await
            }
            "db-auth-failure" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        fails_with("logging in as app", connect(&lab.app()).await, "28P01")
                    })
                    .await
            }
            "pg-orphaned-prepared-xact" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        let client = connect(&testdb).await.map_err(|e| e.to_string())?;
                        let sql = "SELECT * FROM chaosdeck_prepared FOR UPDATE NOWAIT";
                        fails_with("locking its row", client.batch_execute(sql).await, "55P03")
                    })
                    .await
            }
            "pg-sequence-near-max" => {
                let o = [set("remaining", "3")];
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        let client = connect(&testdb).await.map_err(|e| e.to_string())?;
                        let next = "SELECT nextval('chaosdeck_seq')";
                        for n in 1..=3 {
                            if let Err(e) = client.batch_execute(next).await {
                                return Err(format!("nextval {n} of the 3 left failed: {e}"));
                            }
                        }
                        fails_with("a 4th nextval", client.batch_execute(next).await, "2200H")
                    })
                    .await
            }
            "pg-replication-slot-wal" => {
                let sql = "SELECT count(*) FROM pg_replication_slots WHERE NOT active";
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        let n = count(&watcher, sql).await?;
                        ensure!(n == 1, "{n} inactive replication slots, expected 1");
                        Ok(())
                    })
                    .await
            }
            "db-not-exist" => {
                // Renaming needs testdb free of sessions; the probes above have closed.
                let sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = 'testdb'";
                eventually("no session left on testdb", async || {
                    Ok(count(&watcher, sql).await? == 0)
                })
                .await
                .unwrap();
                let elsewhere = lab.targets("postgres");
                sweep
                    .run(id, &[], &elsewhere, async |_: &Active| {
                        fails_with("connecting to testdb", connect(&testdb).await, "3D000")
                    })
                    .await
            }
            "db-connection-refused" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        match connect(&testdb).await {
                            Ok(_) => {
                                Err("a new client connected to the stopped server".to_string())
                            }
                            Err(e) if e.code().is_none() => Ok(()),
                            Err(e) => {
                                Err(format!("expected no server at all, got {}: {e}", code(&e)))
                            }
                        }
                    })
                    .await;
                let client = connect(&testdb).await.unwrap();
                client.batch_execute("SELECT 1").await.unwrap();
            }
            other => panic!("{other} has no case in the server sweep"),
        }
    }
}
