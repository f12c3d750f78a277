//! Faults that need a standby as their target.

use std::time::Duration;

use chaosdeck::catalog::TargetKind;
use chaosdeck::driver::postgres::{PgConnSpec, PgTarget};
use chaosdeck::driver::targets::Targets;
use chaosdeck::engine::inject::Active;
use chaosdeck::lab::PgCluster;

use super::{connect, count, options};
use crate::{eventually, exe, support, Sweep};

pub const IDS: &[&str] = &["db-replication-lag"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_lag_on_a_standby_injects_tears_down_and_verifies() {
    let sweep = Sweep::new(TargetKind::Postgres);
    let Some(primary) = support::pg_cluster_with(options()) else {
        return;
    };
    let standby = PgCluster::start_standby(&primary)
        .unwrap_or_else(|e| panic!("starting a standby: {e}\n{}", primary.log_tail()));
    let writer = connect(&primary.conn_string()).await.unwrap();
    writer
        .batch_execute("CREATE TABLE orders (id int)")
        .await
        .unwrap();
    let reader = connect(&standby.conn_string()).await.unwrap();
    let replicated = "SELECT count(*) FROM pg_class WHERE relname = 'orders'";
    eventually("the orders table on the standby", async || {
        Ok(count(&reader, replicated).await? == 1)
    })
    .await
    .unwrap();
    let targets = Targets {
        postgres: Some(PgTarget {
            conn: PgConnSpec::parse(&standby.conn_string()).unwrap(),
            data_dir: None,
            bin_dir: None,
        }),
        exe: exe(),
        ..Targets::default()
    };
    let orders = "SELECT count(*) FROM orders";
    for &id in IDS {
        match id {
            "db-replication-lag" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        writer
                            .batch_execute("INSERT INTO orders VALUES (1)")
                            .await
                            .map_err(|e| e.to_string())?;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        let seen = count(&reader, orders).await?;
                        ensure!(
                            seen == 0,
                            "the standby shows {seen} new orders while paused"
                        );
                        Ok(())
                    })
                    .await
            }
            other => panic!("{other} has no case in the standby sweep"),
        }
    }
    eventually("the standby caught up", async || {
        Ok(count(&reader, orders).await? == 1)
    })
    .await
    .unwrap();
}
