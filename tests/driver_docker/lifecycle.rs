//! Kill, stop, restart and pause; the restart policy's part; a missing container.

use std::time::Duration;

use bollard::models::RestartPolicyNameEnum;
use chaosdeck::driver::docker::{self, DockerTarget};
use chaosdeck::driver::{DriverError, Verification};

use crate::support::{self, ContainerGuard};
use crate::*;

#[tokio::test]
async fn kill_and_stop_are_undone_by_starting_the_container() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let cases = [
        (
            "docker.kill: { signal: TERM }",
            "kill container {} with SIGTERM (no restart policy)",
        ),
        (
            "docker.stop: { timeout: 2s }",
            "stop container {} (SIGKILL after 2s grace)",
        ),
    ];
    for (yaml, blast) in cases {
        let ctr = ContainerGuard::start(&docker, &image, None, None).await;
        let plan = docker::plan(&docker, &action(yaml), &target(&ctr))
            .await
            .unwrap();
        assert_eq!(plan.blast_radius, blast.replace("{}", &ctr.name));
        docker::apply(&docker, &action(yaml), &plan.undo)
            .await
            .unwrap();
        let down = wait_status(&docker, &ctr.name, 5, |s| !s.running).await;
        assert_eq!(down.exit_code, Some(0), "the image exits 0 on SIGTERM");
        assert!(!docker::verify(&docker, &plan.undo)
            .await
            .unwrap()
            .is_verified());
        undo_and_verify(&docker, &plan.undo).await;
        assert!(docker::status(&docker, &ctr.name).await.unwrap().running);
    }
}

/// Docker 20.10 records a kill through its API as a manual stop: the restart policy
/// does not bring the container back, so undo has to.
#[tokio::test]
async fn api_kill_is_a_manual_stop_even_under_restart_always() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let always = restart_policy(RestartPolicyNameEnum::ALWAYS, 0);
    let ctr = ContainerGuard::start(&docker, &image, None, Some(always)).await;
    let kill = action("docker.kill: { signal: KILL }");
    let plan = docker::plan(&docker, &kill, &target(&ctr)).await.unwrap();
    assert!(
        plan.blast_radius
            .ends_with("(restart policy always, not applied by Docker after an API kill)"),
        "{}",
        plan.blast_radius
    );
    docker::apply(&docker, &kill, &plan.undo).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = docker::status(&docker, &ctr.name).await.unwrap();
    assert!(!status.running && status.restart_count == 0, "{status:?}");
    assert_eq!(status.exit_code, Some(137));
    undo_and_verify(&docker, &plan.undo).await;
}

/// The process dies on its own (not through the API); the policy restarts it and undo
/// has nothing left to do.
#[tokio::test]
async fn a_container_its_restart_policy_brought_back_needs_no_undo() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let always = restart_policy(RestartPolicyNameEnum::ALWAYS, 0);
    let ctr = ContainerGuard::start(&docker, &image, None, Some(always)).await;
    let kill = action("docker.kill: { signal: KILL }");
    let plan = docker::plan(&docker, &kill, &target(&ctr)).await.unwrap();
    exec(&docker, &ctr.id, &["kill", "-TERM", "1"]).await;
    let back = wait_status(&docker, &ctr.name, 10, |s| {
        s.running && !s.restarting && s.restart_count >= 1
    })
    .await;
    undo_and_verify(&docker, &plan.undo).await;
    let after = docker::status(&docker, &ctr.name).await.unwrap();
    assert_eq!(
        after.started_at, back.started_at,
        "undo must not restart it again"
    );
    assert_eq!(after.restart_count, back.restart_count);
}

#[tokio::test]
async fn restart_is_awaited_and_unresolved_parameters_are_input_errors() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let ctr = ContainerGuard::start(&docker, &image, None, None).await;
    let before = docker::status(&docker, &ctr.name).await.unwrap();
    let restart = action("docker.restart: { timeout: 1s }");
    let plan = docker::plan(&docker, &restart, &target(&ctr))
        .await
        .unwrap();
    assert_eq!(
        plan.blast_radius,
        format!("restart container {} (SIGKILL after 1s grace)", ctr.name)
    );
    docker::apply(&docker, &restart, &plan.undo).await.unwrap();
    undo_and_verify(&docker, &plan.undo).await;
    let after = docker::status(&docker, &ctr.name).await.unwrap();
    assert!(
        after.running && after.started_at != before.started_at,
        "{after:?}"
    );

    let unresolved = action("docker.restart: { timeout: \"{{grace}}\" }");
    let err = docker::plan(&docker, &unresolved, &target(&ctr))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DriverError::Input(m) if m.contains("{{grace}}")),
        "{err}"
    );
    let pause = action("docker.pause: {}");
    let err = docker::apply(&docker, &pause, &plan.undo)
        .await
        .unwrap_err();
    assert!(matches!(err, DriverError::Input(_)), "{err}");
}

#[tokio::test]
async fn pause_freezes_and_undo_unpauses() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let ctr = ContainerGuard::start(&docker, &image, None, None).await;
    let pause = action("docker.pause: {}");
    let plan = docker::plan(&docker, &pause, &target(&ctr)).await.unwrap();
    assert!(
        plan.blast_radius
            .starts_with(&format!("pause container {} (", ctr.name))
            && plan.blast_radius.contains(" process"),
        "{}",
        plan.blast_radius
    );
    docker::apply(&docker, &pause, &plan.undo).await.unwrap();
    assert!(docker::status(&docker, &ctr.name).await.unwrap().paused);
    let err = docker::plan(&docker, &pause, &target(&ctr))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the container is paused"), "{err}");
    let residual = docker::verify(&docker, &plan.undo).await.unwrap();
    assert_eq!(
        residual,
        Verification::Residual(format!("{} is paused, expected running", ctr.name))
    );
    undo_and_verify(&docker, &plan.undo).await;
    let status = docker::status(&docker, &ctr.name).await.unwrap();
    assert!(status.running && !status.paused, "{status:?}");
}

#[tokio::test]
async fn a_missing_container_is_a_clear_precondition_error() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let missing = support::unique_name("missing");
    let pause = action("docker.pause: {}");
    let err = docker::plan(&docker, &pause, &DockerTarget::new(&missing))
        .await
        .unwrap_err();
    let expected = format!(
        "container \"{missing}\": cannot run docker.pause: no such container on {}",
        chaosdeck::lab::docker_host()
    );
    assert!(matches!(err, DriverError::Precondition { .. }), "{err:?}");
    assert_eq!(err.to_string(), expected);
    assert!(docker::status(&docker, &missing).await.is_err());

    // A container removed after plan: undo has nothing to do, verify says it is gone.
    let ctr = ContainerGuard::start(&docker, &image, None, None).await;
    let plan = docker::plan(&docker, &pause, &target(&ctr)).await.unwrap();
    let id = ctr.id.clone();
    drop(ctr);
    docker::undo(&docker, &plan.undo).await.unwrap();
    let residual = docker::verify(&docker, &plan.undo).await.unwrap();
    let Verification::Residual(why) = residual else {
        panic!("verified a removed container")
    };
    assert!(
        why.contains(&id[..12]) && why.contains("no longer exists"),
        "{why}"
    );
}

/// An engine that does not answer gives one line naming the container and the engine.
#[tokio::test]
async fn an_engine_that_does_not_answer_is_an_unreachable_error() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    // A socket file nobody listens on any more: connections are refused.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let socket = socket.to_str().unwrap();
    let docker =
        bollard::Docker::connect_with_unix(socket, 5, bollard::API_DEFAULT_VERSION).unwrap();
    let pause = action("docker.pause: {}");
    let err = docker::plan(&docker, &pause, &DockerTarget::new("shop-db"))
        .await
        .unwrap_err();
    assert!(matches!(err, DriverError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    let start = "container \"shop-db\": docker.pause: the Docker engine at ";
    assert!(text.starts_with(start) && !text.contains('\n'), "{text}");
    assert!(docker::status(&docker, "shop-db").await.is_err());
}
