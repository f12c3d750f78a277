//! The Docker driver against the real engine: every action on a real busybox container,
//! plan → apply → the effect seen through inspect or exec → undo → verify → back as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step fails the test

#[path = "../support/mod.rs"]
mod support;

mod lifecycle;
mod limits;
mod network;

use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::Docker;
use chaosdeck::catalog::Action;
use chaosdeck::driver::docker::{self, DockerTarget, DockerUndo};
use chaosdeck::driver::Verification;
use futures_util::StreamExt;
use support::ContainerGuard;

pub const MIB: i64 = 1024 * 1024;

pub async fn engine() -> Option<(Docker, String)> {
    let docker = support::docker().await?;
    let image = support::busybox_image(&docker).await?;
    Some((docker, image))
}

pub fn action(yaml: &str) -> Action {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

pub fn target(ctr: &ContainerGuard) -> DockerTarget {
    DockerTarget::new(&ctr.name)
}

pub async fn host_config(docker: &Docker, id: &str) -> HostConfig {
    let info = docker.inspect_container(id, None).await.unwrap();
    info.host_config.unwrap()
}

/// Polls `status()` until `ok` holds, or fails after `secs`.
pub async fn wait_status(
    docker: &Docker,
    name: &str,
    secs: u64,
    ok: impl Fn(&docker::ContainerStatus) -> bool,
) -> docker::ContainerStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let status = docker::status(docker, name).await.unwrap();
        if ok(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `cmd` in the container; returns its output trimmed.
pub async fn exec(docker: &Docker, id: &str, cmd: &[&str]) -> String {
    let options = CreateExecOptions {
        cmd: Some(cmd.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = docker.create_exec(id, options).await.unwrap();
    let mut text = String::new();
    if let StartExecResults::Attached { mut output, .. } =
        docker.start_exec(&created.id, None).await.unwrap()
    {
        while let Some(chunk) = output.next().await {
            text.push_str(&chunk.unwrap().to_string());
        }
    }
    text.trim().to_string()
}

/// Undo, undo again (idempotent), and verify.
pub async fn undo_and_verify(docker: &Docker, undo: &DockerUndo) {
    docker::undo(docker, undo).await.unwrap();
    docker::undo(docker, undo).await.unwrap();
    let verified = docker::verify(docker, undo).await.unwrap();
    assert_eq!(verified, Verification::Verified, "{undo:?}");
}

pub fn restart_policy(name: RestartPolicyNameEnum, retries: i64) -> HostConfig {
    HostConfig {
        restart_policy: Some(RestartPolicy {
            name: Some(name),
            maximum_retry_count: Some(retries),
        }),
        ..Default::default()
    }
}
