//! The offline busybox image on the real Docker engine, and the engine operations the
//! Docker faults rely on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step fails the test

mod support;

use std::time::{Duration, Instant};

use bollard::container::UpdateContainerOptions;
use bollard::models::{ContainerInspectResponse, HostConfig};
use bollard::network::{ConnectNetworkOptions, DisconnectNetworkOptions};
use bollard::Docker;
use support::{exec, ContainerGuard, NetworkGuard};

const MIB: i64 = 1024 * 1024;

async fn inspect(docker: &Docker, id: &str) -> ContainerInspectResponse {
    docker.inspect_container(id, None).await.unwrap()
}

fn state(info: &ContainerInspectResponse) -> (bool, bool) {
    let state = info.state.clone().unwrap_or_default();
    (
        state.running.unwrap_or(false),
        state.paused.unwrap_or(false),
    )
}

#[tokio::test]
async fn busybox_image_runs_and_execs() {
    let Some(docker) = support::docker().await else {
        return;
    };
    let Some(tag) = support::busybox_image(&docker).await else {
        return;
    };
    assert!(tag.starts_with("chaosdeck-busybox:"), "{tag}");
    let again = chaosdeck::lab::ensure_busybox_image(&docker).await.unwrap();
    assert_eq!(again, tag, "building twice must give the same tag");

    let ctr = ContainerGuard::start(&docker, &tag, None, None).await;
    let info = inspect(&docker, &ctr.id).await;
    assert_eq!(state(&info), (true, false), "{:?}", info.state);
    assert_eq!(
        info.name.as_deref(),
        Some(format!("/{}", ctr.name).as_str())
    );

    let (code, out) = exec(&docker, &ctr.id, &["busybox", "echo", "hello"]).await;
    assert_eq!((code, out.trim()), (0, "hello"));
    let (code, out) = exec(
        &docker,
        &ctr.id,
        &["sh", "-c", "echo $((6 * 7)) > /tmp/x; cat /tmp/x"],
    )
    .await;
    assert_eq!(
        (code, out.trim()),
        (0, "42"),
        "applet links and a writable /tmp"
    );
}

async fn probe_pause(docker: &Docker, image: &str) -> Result<String, String> {
    let ctr = ContainerGuard::start(docker, image, None, None).await;
    docker
        .pause_container(&ctr.id)
        .await
        .map_err(|e| format!("pause: {e}"))?;
    let paused = state(&inspect(docker, &ctr.id).await);
    docker
        .unpause_container(&ctr.id)
        .await
        .map_err(|e| format!("unpause: {e}"))?;
    let resumed = state(&inspect(docker, &ctr.id).await);
    match (paused, resumed) {
        ((true, true), (true, false)) => Ok("State.Paused true, then false".to_string()),
        other => Err(format!("(running, paused) after pause/unpause: {other:?}")),
    }
}

async fn probe_update_memory(docker: &Docker, image: &str) -> Result<String, String> {
    let ctr = ContainerGuard::start(docker, image, None, None).await;
    let options = UpdateContainerOptions::<String> {
        memory: Some(64 * MIB),
        memory_swap: Some(64 * MIB),
        ..Default::default()
    };
    docker
        .update_container(&ctr.id, options)
        .await
        .map_err(|e| format!("update: {e}"))?;
    let host = inspect(docker, &ctr.id)
        .await
        .host_config
        .unwrap_or_default();
    match (host.memory, host.memory_swap) {
        (Some(m), swap) if m == 64 * MIB => {
            Ok(format!("HostConfig.Memory={m} MemorySwap={swap:?}"))
        }
        other => Err(format!(
            "HostConfig (Memory, MemorySwap) after update: {other:?}"
        )),
    }
}

async fn probe_network(docker: &Docker, image: &str) -> Result<String, String> {
    // Declared first so it is dropped last, after the container.
    let net = NetworkGuard::create(docker).await;
    let ctr = ContainerGuard::start(docker, image, None, None).await;
    let attached = |info: &ContainerInspectResponse| {
        let networks = info
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref());
        networks.is_some_and(|n| n.contains_key(&net.name))
    };
    let connect = ConnectNetworkOptions {
        container: ctr.id.clone(),
        ..Default::default()
    };
    docker
        .connect_network(&net.name, connect)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let after_connect = attached(&inspect(docker, &ctr.id).await);
    let disconnect = DisconnectNetworkOptions {
        container: ctr.id.clone(),
        force: false,
    };
    docker
        .disconnect_network(&net.name, disconnect)
        .await
        .map_err(|e| format!("disconnect: {e}"))?;
    let after_disconnect = attached(&inspect(docker, &ctr.id).await);
    match (after_connect, after_disconnect) {
        (true, false) => Ok("create, connect (listed), disconnect (gone)".to_string()),
        other => Err(format!("attached after connect/disconnect: {other:?}")),
    }
}

async fn probe_oom_kill(docker: &Docker, image: &str) -> Result<String, String> {
    let limits = HostConfig {
        memory: Some(8 * MIB),
        memory_swap: Some(8 * MIB),
        ..Default::default()
    };
    let grow = vec!["sh", "-c", "x=a; while true; do x=$x$x; done"];
    let ctr = ContainerGuard::start(docker, image, Some(grow), Some(limits)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = inspect(docker, &ctr.id).await;
        let st = info.state.unwrap_or_default();
        if st.running != Some(true) {
            let (oom, code) = (st.oom_killed.unwrap_or(false), st.exit_code.unwrap_or(-1));
            let found = format!("State.OOMKilled={oom} ExitCode={code}");
            return if oom || code == 137 {
                Ok(found)
            } else {
                Err(found)
            };
        }
        if Instant::now() > deadline {
            return Err("still running after 60 s with an 8 MiB limit".to_string());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Explores what this engine supports for the Docker faults, prints it, and asserts it all.
#[tokio::test]
async fn engine_supports_the_fault_operations() {
    let Some(docker) = support::docker().await else {
        return;
    };
    let Some(image) = support::busybox_image(&docker).await else {
        return;
    };
    let version = docker.version().await.unwrap();
    eprintln!(
        "engine {} API {}",
        version.version.unwrap_or_default(),
        version.api_version.unwrap_or_default()
    );
    let results = [
        ("pause/unpause", probe_pause(&docker, &image).await),
        ("update memory", probe_update_memory(&docker, &image).await),
        (
            "network create/connect/disconnect",
            probe_network(&docker, &image).await,
        ),
        ("OOM kill at 8 MiB", probe_oom_kill(&docker, &image).await),
    ];
    for (what, result) in &results {
        match result {
            Ok(found) => eprintln!("SUPPORTED   {what}: {found}"),
            Err(why) => eprintln!("UNSUPPORTED {what}: {why}"),
        }
    }
    let failed: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failed.is_empty(), "unsupported on this engine: {failed:?}");
}
