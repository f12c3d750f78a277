//! Container entries on one busybox container, also attached to a network of its own.

use bollard::models::ContainerInspectResponse;
use bollard::network::ConnectNetworkOptions;
use bollard::Docker;
use chaosdeck::catalog::TargetKind;
use chaosdeck::driver::docker::DockerTarget;
use chaosdeck::driver::targets::Targets;
use chaosdeck::engine::inject::Active;

use crate::support::{ContainerGuard, NetworkGuard};
use crate::{eventually, exe, support, Sweep};

/// In this order: each leaves the container running as it found it.
pub const COVERED: &[&str] = &[
    "container-pause",
    "container-cpu-throttle",
    "container-oom",
    "container-network-disconnect",
    "container-stop",
    "container-kill",
    "container-restart",
];

async fn inspect(docker: &Docker, name: &str) -> Result<ContainerInspectResponse, String> {
    docker
        .inspect_container(name, None)
        .await
        .map_err(|e| format!("inspecting {name}: {e}"))
}

/// `(running, paused, started_at)` as inspect shows them.
async fn state(docker: &Docker, name: &str) -> Result<(bool, bool, String), String> {
    let s = inspect(docker, name).await?.state.unwrap_or_default();
    Ok((
        s.running.unwrap_or(false),
        s.paused.unwrap_or(false),
        s.started_at.unwrap_or_default(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_faults_inject_tear_down_and_verify() {
    let sweep = Sweep::new(TargetKind::Docker);
    let Some(docker) = support::docker().await else {
        return;
    };
    let Some(image) = support::busybox_image(&docker).await else {
        return;
    };
    let net = NetworkGuard::create(&docker).await;
    let ctr = ContainerGuard::start(&docker, &image, None, None).await;
    let attach = ConnectNetworkOptions {
        container: ctr.id.clone(),
        endpoint_config: Default::default(),
    };
    docker.connect_network(&net.name, attach).await.unwrap();
    let targets = Targets {
        container: Some(DockerTarget::new(&ctr.name)),
        exe: exe(),
        ..Targets::default()
    };
    let name = ctr.name.as_str();
    let docker = &docker;
    let stopped = async || {
        eventually("the container not running", async || {
            Ok(!state(docker, name).await?.0)
        })
        .await
    };
    for &id in COVERED {
        match id {
            "container-pause" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        let (_, paused, _) = state(docker, name).await?;
                        ensure!(paused, "inspect does not show the container paused");
                        Ok(())
                    })
                    .await
            }
            "container-cpu-throttle" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| {
                        let host = inspect(docker, name).await?.host_config.unwrap_or_default();
                        let (nano, quota) =
                            (host.nano_cpus.unwrap_or(0), host.cpu_quota.unwrap_or(0));
                        ensure!(
                            nano > 0 || quota > 0,
                            "no CPU limit in inspect (NanoCpus {nano}, CpuQuota {quota})"
                        );
                        Ok(())
                    })
                    .await
            }
            "container-oom" => {
                // The default 32MiB may sit below what a container uses; busybox fits in 16.
                let o = [("limit", "16MiB".to_string())];
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        let host = inspect(docker, name).await?.host_config.unwrap_or_default();
                        let memory = host.memory.unwrap_or(0);
                        ensure!(memory == 16 << 20, "memory limit {memory}, expected 16MiB");
                        Ok(())
                    })
                    .await
            }
            "container-network-disconnect" => {
                let o = [("network", net.name.clone())];
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        let networks = inspect(docker, name)
                            .await?
                            .network_settings
                            .and_then(|n| n.networks)
                            .unwrap_or_default();
                        ensure!(
                            !networks.contains_key(&net.name),
                            "still attached to {}: {:?}",
                            net.name,
                            networks.keys()
                        );
                        Ok(())
                    })
                    .await
            }
            "container-stop" => {
                let o = [("timeout", "2s".to_string())];
                sweep
                    .run(id, &o, &targets, async |_: &Active| stopped().await)
                    .await
            }
            "container-kill" => {
                sweep
                    .run(id, &[], &targets, async |_: &Active| stopped().await)
                    .await
            }
            "container-restart" => {
                let (_, _, before) = state(docker, name).await.unwrap();
                let o = [("timeout", "2s".to_string())];
                sweep
                    .run(id, &o, &targets, async |_: &Active| {
                        eventually("the container started again", async || {
                            let (running, _, started) = state(docker, name).await?;
                            Ok(running && started != before)
                        })
                        .await
                    })
                    .await
            }
            other => panic!("{other} has no case in the container sweep"),
        }
    }
    let (running, paused, _) = state(docker, name).await.unwrap();
    assert!(running && !paused, "the container is not back to running");
}
