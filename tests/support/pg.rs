//! Shared helpers for the PostgreSQL driver tests: a target and a run for a throwaway
//! cluster, clients of it, and faults planned, injected and torn down through the
//! driver.

use std::time::Duration;

use chaosdeck::catalog::Action;
use chaosdeck::driver::postgres::{self, PgConnSpec, PgRun, PgTarget, PgUndo};
use chaosdeck::driver::{DriverError, Hold, Plan, Verification};
use chaosdeck::lab::PgCluster;
use tokio_postgres::{Client, NoTls};

/// The catalog action written as `yaml`.
pub fn action(yaml: &str) -> Action {
    serde_yaml::from_str(yaml).unwrap()
}

/// The driver target of `cluster`, by its connection string only.
pub fn target(cluster: &PgCluster) -> PgTarget {
    PgTarget {
        conn: PgConnSpec::parse(&cluster.conn_string()).unwrap(),
        data_dir: None,
        bin_dir: None,
    }
}

/// A fresh run with a 60 s duration.
pub fn run() -> PgRun {
    PgRun::new(
        &chaosdeck::engine::journal::new_run_id(),
        "test",
        Duration::from_secs(60),
    )
}

/// A new session on `cluster`, or the error connecting gave.
pub async fn connect(cluster: &PgCluster) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(&cluster.conn_string(), NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// A new session on `cluster`; connecting must succeed.
pub async fn client(cluster: &PgCluster) -> Client {
    connect(cluster).await.unwrap()
}

/// Runs `f` to its end from a synchronous test, on a current-thread runtime of its own.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// What `query` gives with a new session on `cluster`, from a synchronous test (on a
/// runtime of its own); connecting must succeed.
pub fn with_session<T, Fut>(cluster: &PgCluster, query: impl FnOnce(Client) -> Fut) -> T
where
    Fut: std::future::Future<Output = T>,
{
    block_on(async { query(client(cluster).await).await })
}

/// Plans `yaml` against `cluster` without applying it.
pub async fn plan(cluster: &PgCluster, yaml: &str) -> Result<Plan<PgUndo>, DriverError> {
    postgres::plan(&action(yaml), &target(cluster), &run()).await
}

/// Plans and applies a fault.
pub async fn inject(cluster: &PgCluster, yaml: &str) -> (Plan<PgUndo>, Hold) {
    let (target, run) = (target(cluster), run());
    let action = action(yaml);
    let plan = postgres::plan(&action, &target, &run).await.unwrap();
    let hold = postgres::apply(&action, &target, &run, &plan.undo)
        .await
        .unwrap();
    (plan, hold)
}

/// Releases, undoes, verifies, and undoes again (idempotent).
pub async fn release_and_undo(cluster: &PgCluster, plan: &Plan<PgUndo>, hold: Hold) {
    let target = target(cluster);
    hold.release().await;
    postgres::undo(&plan.undo, &target).await.unwrap();
    assert_eq!(
        postgres::verify(&plan.undo, &target).await.unwrap(),
        Verification::Verified
    );
    // Undo is idempotent.
    postgres::undo(&plan.undo, &target).await.unwrap();
}

/// Releases, undoes, verifies, undoes again (idempotent) and verifies again.
pub async fn teardown(cluster: &PgCluster, plan: &Plan<PgUndo>, hold: Hold) {
    release_and_undo(cluster, plan, hold).await;
    let target = target(cluster);
    assert_eq!(
        postgres::verify(&plan.undo, &target).await.unwrap(),
        Verification::Verified
    );
}

/// Undoes twice (idempotent), checks the verification in between, and that the undo
/// data survives the journal's JSON.
pub async fn undo_twice(undo: &PgUndo, target: &PgTarget) {
    postgres::undo(undo, target).await.unwrap();
    assert_eq!(
        postgres::verify(undo, target).await.unwrap(),
        Verification::Verified
    );
    postgres::undo(undo, target).await.unwrap();
    let json = serde_json::to_string(undo).unwrap();
    assert_eq!(
        &serde_json::from_str::<PgUndo>(&json).unwrap(),
        undo,
        "{json}"
    );
}

/// The SQLSTATE of `err`, or a message saying it has none.
pub fn code(err: &tokio_postgres::Error) -> String {
    err.as_db_error()
        .map(|e| e.code().code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {err}"))
}
