//! Shared helpers for the integration tests: real PostgreSQL clusters and real Docker
//! containers, cleaned up by guards.
//!
//! A missing component fails the test with a message saying how to install it, unless
//! `CHAOSDECK_ALLOW_MISSING` names it (comma-separated: `postgres`, `docker`, `busybox`,
//! `kubectl`);
//! then the helper prints `SKIPPED: <reason>` and returns `None`. CI never sets it.
#![allow(dead_code)]

pub mod cli;
pub mod http_service;
pub mod lab_left;
pub mod pg;
pub mod tmux;

use std::sync::atomic::{AtomicU32, Ordering};

use bollard::container::{Config, CreateContainerOptions, RemoveContainerOptions};
use bollard::models::HostConfig;
use bollard::network::{CreateNetworkOptions, DisconnectNetworkOptions};
use bollard::Docker;
use chaosdeck::lab::{self, Component, LabError, PgCluster, PgClusterOptions};

/// Prefix of every container and network the tests create.
pub const NAME_PREFIX: &str = "chaosdeck-test-";

/// A unique name for a test container or network.
pub fn unique_name(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{NAME_PREFIX}{what}-{}-{n}", std::process::id())
}

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `CHAOSDECK_ALLOW_MISSING` names `component`.
fn allowed_missing(component: &str) -> bool {
    std::env::var("CHAOSDECK_ALLOW_MISSING")
        .unwrap_or_default()
        .split(',')
        .any(|c| c.trim() == component)
}

/// Turns a lab error into a skip (when allowed) or a failing test.
fn missing_or_fail<T>(result: Result<T, LabError>) -> Option<T> {
    let err = match result {
        Ok(value) => return Some(value),
        Err(err) => err,
    };
    let skip = match err.missing_component() {
        Some(Component::Busybox) => allowed_missing("busybox") || allowed_missing("docker"),
        Some(component) => allowed_missing(component.name()),
        None => false,
    };
    if skip {
        eprintln!("SKIPPED: {err}");
        return None;
    }
    panic!("{err}");
}

/// The real kubectl on PATH (no cluster is needed); without it the test fails saying
/// how to get it, unless `CHAOSDECK_ALLOW_MISSING` names `kubectl`.
pub fn real_kubectl() -> Option<std::path::PathBuf> {
    if let Some(path) = chaosdeck::driver::command::find_program("kubectl") {
        return Some(path);
    }
    if allowed_missing("kubectl") {
        eprintln!("SKIPPED: kubectl is not on PATH");
        return None;
    }
    panic!(
        "kubectl is needed for this test (no cluster is): apt-get install kubernetes-client \
         (Debian's kubectl; scripts/test installs it), or put the kubectl binary on PATH"
    );
}

/// A kubeconfig in `dir` whose only cluster is a loopback port nothing listens on, and
/// that port.
pub fn kubeconfig_to_nowhere(dir: &std::path::Path) -> (std::path::PathBuf, u16) {
    let port = free_port();
    let file = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:{port}\n\
         contexts:\n- name: nowhere\n  context:\n    cluster: nowhere\n    user: nobody\n\
         current-context: nowhere\nusers:\n- name: nobody\n  user:\n    token: t0ken-never-shown\n"
    );
    std::fs::write(&file, text).unwrap();
    (file, port)
}

/// A throwaway cluster with the default options.
pub fn pg_cluster() -> Option<PgCluster> {
    pg_cluster_with(PgClusterOptions::default())
}

/// A throwaway cluster with `opts`.
pub fn pg_cluster_with(opts: PgClusterOptions) -> Option<PgCluster> {
    missing_or_fail(PgCluster::start(opts))
}

/// A client of the local Docker engine.
pub async fn docker() -> Option<Docker> {
    missing_or_fail(lab::docker_connect().await)
}

/// The tag of the busybox lab image, built if needed.
pub async fn busybox_image(docker: &Docker) -> Option<String> {
    missing_or_fail(lab::ensure_busybox_image(docker).await)
}

/// Runs `f` with a fresh Docker client on its own thread and runtime, so it works from
/// `Drop` even inside another runtime.
fn on_fresh_runtime<F, Fut>(f: F)
where
    F: FnOnce(Docker) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let worker = std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => return eprintln!("cleanup: cannot build a runtime: {e}"),
        };
        runtime.block_on(async move {
            match lab::docker_connect().await {
                Ok(docker) => f(docker).await,
                Err(e) => eprintln!("cleanup: {e}"),
            }
        });
    });
    if worker.join().is_err() {
        eprintln!("cleanup thread panicked");
    }
}

/// A started busybox container, removed (forced) when dropped.
pub struct ContainerGuard {
    pub name: String,
    pub id: String,
}

impl ContainerGuard {
    /// Creates and starts a container of `image` running `cmd` (the image's idle loop when
    /// `None`) with `host_config`. With the idle loop, returns once its shell has set
    /// its SIGTERM trap: a signal sent before would be ignored (the shell is the
    /// container's pid 1, and pid 1 ignores signals it has no handler for).
    pub async fn start(
        docker: &Docker,
        image: &str,
        cmd: Option<Vec<&str>>,
        host_config: Option<HostConfig>,
    ) -> ContainerGuard {
        let name = unique_name("ctr");
        let config = Config {
            image: Some(image.to_string()),
            cmd: cmd.map(|c| c.into_iter().map(str::to_string).collect()),
            host_config,
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: name.clone(),
            platform: None,
        };
        let idle_loop = config.cmd.is_none();
        let created = docker
            .create_container(Some(options), config)
            .await
            .unwrap_or_else(|e| panic!("creating container {name}: {e}"));
        let guard = ContainerGuard {
            name,
            id: created.id,
        };
        docker
            .start_container::<String>(&guard.id, None)
            .await
            .unwrap_or_else(|e| panic!("starting container {}: {e}", guard.name));
        if idle_loop {
            guard.wait_for_term_trap(docker).await;
        }
        guard
    }

    /// Waits until the container's pid 1 catches SIGTERM (`SigCgt` in its
    /// `/proc/PID/status`, seen from this host).
    async fn wait_for_term_trap(&self, docker: &Docker) {
        const SIGTERM_BIT: u64 = 1 << (15 - 1);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let info = docker
                .inspect_container(&self.id, None)
                .await
                .unwrap_or_else(|e| panic!("inspecting container {}: {e}", self.name));
            let pid = info.state.and_then(|s| s.pid).unwrap_or(0);
            let caught = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|status| {
                    let line = status.lines().find(|l| l.starts_with("SigCgt:"))?;
                    u64::from_str_radix(line.trim_start_matches("SigCgt:").trim(), 16).ok()
                })
                .is_some_and(|mask| mask & SIGTERM_BIT != 0);
            if pid > 0 && caught {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "container {}: its shell set no SIGTERM trap within 10 s",
                self.name
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let id = self.id.clone();
        let name = self.name.clone();
        on_fresh_runtime(move |docker| async move {
            let options = RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            };
            if let Err(e) = docker.remove_container(&id, Some(options)).await {
                eprintln!("cleanup: removing container {name}: {e}");
            }
        });
    }
}

/// A Docker bridge network, removed when dropped.
pub struct NetworkGuard {
    pub name: String,
    pub id: String,
}

impl NetworkGuard {
    pub async fn create(docker: &Docker) -> NetworkGuard {
        let name = unique_name("net");
        let options = CreateNetworkOptions {
            name: name.clone(),
            driver: "bridge".to_string(),
            check_duplicate: true,
            ..Default::default()
        };
        let created = docker
            .create_network(options)
            .await
            .unwrap_or_else(|e| panic!("creating network {name}: {e}"));
        NetworkGuard {
            name,
            id: created.id,
        }
    }
}

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let name = self.name.clone();
        on_fresh_runtime(move |docker| async move {
            // Containers still attached keep a network alive; detach them first.
            let inspected = docker.inspect_network::<String>(&name, None).await;
            let attached = inspected
                .ok()
                .and_then(|n| n.containers)
                .unwrap_or_default();
            for container in attached.into_keys() {
                let options = DisconnectNetworkOptions {
                    container,
                    force: true,
                };
                if let Err(e) = docker.disconnect_network(&name, options).await {
                    eprintln!("cleanup: detaching from network {name}: {e}");
                }
            }
            if let Err(e) = docker.remove_network(&name).await {
                eprintln!("cleanup: removing network {name}: {e}");
            }
        });
    }
}

/// Runs `cmd` in the container and returns (exit code, stdout+stderr).
pub async fn exec(docker: &Docker, id: &str, cmd: &[&str]) -> (i64, String) {
    let options = bollard::exec::CreateExecOptions {
        cmd: Some(cmd.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = docker.create_exec(id, options).await.unwrap();
    let mut text = String::new();
    match docker.start_exec(&created.id, None).await.unwrap() {
        bollard::exec::StartExecResults::Attached { mut output, .. } => {
            while let Some(chunk) = futures_util::StreamExt::next(&mut output).await {
                text.push_str(&chunk.unwrap().to_string());
            }
        }
        bollard::exec::StartExecResults::Detached => panic!("exec started detached"),
    }
    let code = docker.inspect_exec(&created.id).await.unwrap().exit_code;
    (code.unwrap_or(-1), text)
}
