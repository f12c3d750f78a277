//! Setting, role and database faults on a real throwaway cluster: injected, observed
//! from new client sessions the way an application sees them, torn down, verified,
//! and observed again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chaosdeck::driver::postgres::PgUndo;
use chaosdeck::driver::DriverError;
use chaosdeck::lab::PgCluster;
use support::pg::{code, inject, plan, teardown};
use tokio_postgres::{Client, NoTls};

/// A new session as `user` on `dbname`.
async fn login(
    cluster: &PgCluster,
    user: &str,
    password: &str,
    dbname: &str,
) -> Result<Client, tokio_postgres::Error> {
    let conn = format!(
        "host={} port={} dbname={dbname} user={user} password={password}",
        cluster.host(),
        cluster.port()
    );
    let (client, connection) = tokio_postgres::connect(&conn, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn admin(cluster: &PgCluster) -> Client {
    login(cluster, "postgres", "testpass", "testdb")
        .await
        .unwrap()
}

async fn app(cluster: &PgCluster) -> Result<Client, tokio_postgres::Error> {
    login(cluster, "app", "apppass", "testdb").await
}

async fn text(client: &Client, sql: &str) -> Option<String> {
    client.query_opt(sql, &[]).await.unwrap().map(|r| r.get(0))
}

const AUTO_CONF: &str = "SELECT setting FROM pg_file_settings \
    WHERE name = 'statement_timeout' AND sourcefile LIKE '%postgresql.auto.conf'";

#[tokio::test]
async fn statement_timeout_lowered_cluster_wide_cancels_queries_of_new_sessions() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let (plan, hold) = inject(
        &cluster,
        "postgres.setting: { name: statement_timeout, value: 100ms }",
    )
    .await;
    assert_eq!(
        plan.blast_radius,
        "set statement_timeout = '100ms' for the whole server with ALTER SYSTEM and reload \
         (now 0ms; in postgresql.auto.conf: not set)"
    );
    let fresh = admin(&cluster).await;
    let err = fresh.batch_execute("SELECT pg_sleep(1)").await.unwrap_err();
    assert_eq!(code(&err), "57014", "{err}");
    teardown(&cluster, &plan, hold).await;
    let fresh = admin(&cluster).await;
    fresh.batch_execute("SELECT pg_sleep(0.3)").await.unwrap();
    assert_eq!(text(&fresh, AUTO_CONF).await, None);

    // A setting each client sends itself still verifies (only the file is compared).
    let (plan, hold) = inject(
        &cluster,
        "postgres.setting: { name: application_name, value: shop-api }",
    )
    .await;
    teardown(&cluster, &plan, hold).await;
}

#[tokio::test]
async fn read_only_default_makes_new_sessions_fail_writes() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    admin(&cluster)
        .await
        .batch_execute("CREATE TABLE notes (body text)")
        .await
        .unwrap();
    let (plan, hold) = inject(
        &cluster,
        "postgres.setting: { name: default_transaction_read_only, value: \"on\" }",
    )
    .await;
    let fresh = admin(&cluster).await;
    let err = fresh
        .batch_execute("INSERT INTO notes VALUES ('x')")
        .await
        .unwrap_err();
    assert_eq!(code(&err), "25006", "{err}");
    fresh
        .batch_execute("SELECT count(*) FROM notes")
        .await
        .unwrap();
    teardown(&cluster, &plan, hold).await;
    admin(&cluster)
        .await
        .batch_execute("INSERT INTO notes VALUES ('x')")
        .await
        .unwrap();
}

#[tokio::test]
async fn role_statement_timeout_hits_new_sessions_of_that_role_only() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let dba = admin(&cluster).await;
    dba.batch_execute(
        "CREATE ROLE app LOGIN PASSWORD 'apppass'; \
         ALTER ROLE app SET statement_timeout = '5s'",
    )
    .await
    .unwrap();
    let old = app(&cluster).await.unwrap();
    let (plan, hold) = inject(
        &cluster,
        "postgres.setting: { name: statement_timeout, value: 100ms, role: app }",
    )
    .await;
    assert!(
        plan.blast_radius
            .contains("(role setting now: '5s'; its 1 open sessions keep"),
        "{}",
        plan.blast_radius
    );
    let err = app(&cluster)
        .await
        .unwrap()
        .batch_execute("SELECT pg_sleep(1)")
        .await
        .unwrap_err();
    assert_eq!(code(&err), "57014", "{err}");
    old.batch_execute("SELECT pg_sleep(0.3)").await.unwrap();
    admin(&cluster)
        .await
        .batch_execute("SELECT pg_sleep(0.3)")
        .await
        .unwrap();
    teardown(&cluster, &plan, hold).await;
    let fresh = app(&cluster).await.unwrap();
    fresh.batch_execute("SELECT pg_sleep(0.3)").await.unwrap();
    assert_eq!(
        text(&fresh, "SHOW statement_timeout").await.as_deref(),
        Some("5s")
    );
}

#[tokio::test]
async fn values_already_in_auto_conf_are_restored_exactly_not_reset() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let dba = admin(&cluster).await;
    dba.batch_execute("ALTER SYSTEM SET statement_timeout = '5s'")
        .await
        .unwrap();
    dba.batch_execute("ALTER SYSTEM SET search_path = \"$user\", public, shop")
        .await
        .unwrap();
    dba.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    let search_path = "SELECT setting FROM pg_file_settings \
                       WHERE name = 'search_path' AND sourcefile LIKE '%postgresql.auto.conf'";
    let before = text(&dba, search_path).await;
    assert_eq!(before.as_deref(), Some("\"$user\", public, shop"));

    let (plan, hold) = inject(
        &cluster,
        "postgres.setting: { name: statement_timeout, value: 100ms }",
    )
    .await;
    assert!(
        plan.blast_radius
            .ends_with("(now 5000ms; in postgresql.auto.conf: '5s')"),
        "{}",
        plan.blast_radius
    );
    assert_eq!(text(&dba, AUTO_CONF).await.as_deref(), Some("100ms"));
    teardown(&cluster, &plan, hold).await;
    assert_eq!(text(&dba, AUTO_CONF).await.as_deref(), Some("5s"));
    let fresh = admin(&cluster).await;
    assert_eq!(
        text(&fresh, "SHOW statement_timeout").await.as_deref(),
        Some("5s")
    );

    // A list setting comes back element by element.
    let (plan, hold) = inject(
        &cluster,
        "postgres.setting: { name: search_path, value: shop }",
    )
    .await;
    assert_eq!(text(&dba, search_path).await.as_deref(), Some("shop"));
    teardown(&cluster, &plan, hold).await;
    assert_eq!(text(&dba, search_path).await, before);
}

#[tokio::test]
async fn settings_that_need_a_restart_or_do_not_exist_are_refused() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    for (yaml, why) in [
        (
            "postgres.setting: { name: shared_buffers, value: 1GB }",
            "shared_buffers takes effect only after a server restart",
        ),
        (
            "postgres.setting: { name: no_such_setting, value: 1 }",
            "unknown setting \"no_such_setting\"",
        ),
        (
            "postgres.setting: { name: statement_timeout, value: 1s, role: nobody }",
            "role \"nobody\" does not exist",
        ),
        (
            "postgres.setting: { name: wal_writer_delay, value: 1s, role: postgres }",
            "wal_writer_delay can only be set for the whole server",
        ),
    ] {
        let err = plan(&cluster, yaml).await.unwrap_err();
        assert!(
            matches!(err, DriverError::Precondition { .. }) && err.to_string().contains(why),
            "{yaml}: {err}"
        );
    }
    let dba = admin(&cluster).await;
    assert_eq!(text(&dba, AUTO_CONF).await, None);
}

#[tokio::test]
async fn changed_password_refuses_old_logins_until_teardown() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let dba = admin(&cluster).await;
    dba.batch_execute("CREATE ROLE app LOGIN PASSWORD 'apppass'")
        .await
        .unwrap();
    let hash = "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'";
    let before = text(&dba, hash).await.unwrap();
    let open = app(&cluster).await.unwrap();
    let (plan, hold) = inject(&cluster, "postgres.change_password: { role: app }").await;
    assert_eq!(
        plan.blast_radius,
        "change the password of role app: new logins with its current password fail; \
         its 1 open sessions stay connected"
    );
    assert!(
        !format!("{plan:?}").contains(&before),
        "the hash must not be shown"
    );
    let err = app(&cluster)
        .await
        .expect_err("the old password should fail");
    assert_eq!(code(&err), "28P01", "{err}");
    open.batch_execute("SELECT 1").await.unwrap();
    teardown(&cluster, &plan, hold).await;
    app(&cluster)
        .await
        .unwrap()
        .batch_execute("SELECT 1")
        .await
        .unwrap();
    assert_eq!(text(&dba, hash).await, Some(before));
}

#[tokio::test]
async fn changing_the_password_chaosdeck_logs_in_with_is_refused() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let err = plan(&cluster, "postgres.change_password: { role: postgres }")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DriverError::Precondition { .. })
            && err
                .to_string()
                .contains("would lock chaosdeck out of its own teardown"),
        "{err}"
    );
}

#[tokio::test]
async fn role_connection_limit_refuses_the_extra_session() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    admin(&cluster)
        .await
        .batch_execute("CREATE ROLE app LOGIN PASSWORD 'apppass'")
        .await
        .unwrap();
    let (plan, hold) = inject(
        &cluster,
        "postgres.role_connection_limit: { role: app, limit: 2 }",
    )
    .await;
    assert!(
        plan.blast_radius
            .starts_with("limit role app to 2 connections (now no limit)"),
        "{}",
        plan.blast_radius
    );
    let _first = app(&cluster).await.unwrap();
    let _second = app(&cluster).await.unwrap();
    let err = app(&cluster)
        .await
        .expect_err("a third session should be refused");
    assert_eq!(code(&err), "53300", "{err}");
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .contains("too many connections for role"),
        "{err}"
    );
    teardown(&cluster, &plan, hold).await;
    app(&cluster)
        .await
        .unwrap()
        .batch_execute("SELECT 1")
        .await
        .unwrap();
}

#[tokio::test]
async fn renamed_database_does_not_exist_until_teardown() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    // The target's own database: chaosdeck works on it from `postgres`.
    let (plan, hold) = inject(&cluster, "postgres.rename_database: { database: testdb }").await;
    assert!(
        plan.blast_radius
            .starts_with("rename database testdb to testdb_chaosdeck_")
            && plan.blast_radius.contains("(0 sessions connected)"),
        "{}",
        plan.blast_radius
    );
    let err = login(&cluster, "postgres", "testpass", "testdb")
        .await
        .expect_err("testdb should be gone");
    assert_eq!(code(&err), "3D000", "{err}");
    teardown(&cluster, &plan, hold).await;
    admin(&cluster)
        .await
        .batch_execute("SELECT 1")
        .await
        .unwrap();
}

#[tokio::test]
async fn renaming_a_database_in_use_is_refused_with_the_session_count() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    admin(&cluster)
        .await
        .batch_execute("CREATE DATABASE shop")
        .await
        .unwrap();
    let _user = login(&cluster, "postgres", "testpass", "shop")
        .await
        .unwrap();
    let err = plan(&cluster, "postgres.rename_database: { database: shop }")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DriverError::Precondition { .. })
            && err
                .to_string()
                .contains("1 session connected to shop; end them first or pick another database"),
        "{err}"
    );
}

#[test]
fn undo_data_round_trips_through_the_journal_and_hides_the_hash() {
    use chaosdeck::driver::postgres::roles::{PasswordHash, RolesUndo};
    use chaosdeck::driver::postgres::settings::SettingUndo;
    let secret = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";
    let undos = [
        PgUndo::Setting(SettingUndo::System {
            name: "search_path".into(),
            auto_conf: Some("\"$user\", public".into()),
            effective: Some("\"$user\", public".into()),
        }),
        PgUndo::Roles(RolesUndo::Password {
            role: "app".into(),
            hash: Some(PasswordHash(secret.into())),
        }),
        PgUndo::Roles(RolesUndo::RenameDatabase {
            database: "shop".into(),
            renamed_to: "shop_chaosdeck_1a2b3c4d".into(),
        }),
    ];
    for undo in undos {
        assert!(!format!("{undo:?}").contains("SCRAM"), "{undo:?}");
        let json = serde_json::to_string(&undo).unwrap();
        assert_eq!(
            serde_json::from_str::<PgUndo>(&json).unwrap(),
            undo,
            "{json}"
        );
    }
}
