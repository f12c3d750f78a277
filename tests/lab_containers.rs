//! The lab's Docker part on the real engine: two containers from the offline busybox image
//! on a private network, the web one brought back by its restart policy, and cleanup with
//! `down` or, after a crash, `remove_lab`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step fails the test

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bollard::container::{KillContainerOptions, ListContainersOptions, LogsOptions};
use bollard::models::{ContainerInspectResponse, RestartPolicyNameEnum};
use bollard::network::ListNetworksOptions;
use bollard::Docker;
use chaosdeck::lab::containers::{self, LabContainers, LAB_LABEL, WEB_KILL_SIGNAL};
use chaosdeck::lab::LabError;
use futures_util::StreamExt;
use support::exec;

/// A lab id no other test (or test run) uses.
fn unique_lab_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("test{}-{n}", std::process::id())
}

/// Removes everything labelled with its lab id when dropped, on every path.
struct LabGuard(String);

impl Drop for LabGuard {
    fn drop(&mut self) {
        let lab_id = self.0.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let docker = chaosdeck::lab::docker_connect().await.unwrap();
                if let Err(e) = containers::remove_lab(&docker, &lab_id).await {
                    eprintln!("cleanup of lab {lab_id}: {e}");
                }
            });
        });
        if cleanup.join().is_err() {
            eprintln!("cleanup of lab {} panicked", self.0);
        }
    }
}

/// The engine, and a running lab with its guard; `None` when Docker may be missing.
async fn lab_up() -> Option<(Docker, LabGuard, LabContainers)> {
    let docker = support::docker().await?;
    support::busybox_image(&docker).await?;
    let guard = LabGuard(unique_lab_id());
    let lab = LabContainers::up(&docker, &guard.0).await.unwrap();
    Some((docker, guard, lab))
}

async fn inspect(docker: &Docker, name: &str) -> ContainerInspectResponse {
    docker.inspect_container(name, None).await.unwrap()
}

fn is_not_found<T: std::fmt::Debug>(result: Result<T, bollard::errors::Error>) -> bool {
    match result {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => true,
        other => panic!("expected 404, got {other:?}"),
    }
}

async fn logs(docker: &Docker, name: &str) -> String {
    let options = LogsOptions::<String> {
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut stream = docker.logs(name, Some(options));
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(&chunk.unwrap().to_string());
    }
    text
}

/// Polls `check` every 100 ms until it gives `Some`, or fails after `secs` seconds.
async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (running, restart count, started at) of a container.
async fn run_state(docker: &Docker, name: &str) -> (bool, i64, String) {
    let info = inspect(docker, name).await;
    let state = info.state.unwrap_or_default();
    (
        state.running == Some(true) && state.restarting != Some(true),
        info.restart_count.unwrap_or(-1),
        state.started_at.unwrap_or_default(),
    )
}

/// Names of the containers and networks labelled with `lab_id`.
async fn labelled(docker: &Docker, lab_id: &str) -> Vec<String> {
    let filters = HashMap::from([("label".to_string(), vec![format!("{LAB_LABEL}={lab_id}")])]);
    let list = ListContainersOptions {
        all: true,
        filters: filters.clone(),
        ..Default::default()
    };
    let mut names: Vec<String> = docker
        .list_containers(Some(list))
        .await
        .unwrap()
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    let networks = docker
        .list_networks(Some(ListNetworksOptions { filters }))
        .await
        .unwrap();
    names.extend(networks.into_iter().filter_map(|n| n.name));
    names.sort();
    names
}

fn sorted(lab: &LabContainers) -> Vec<String> {
    let mut names = vec![lab.network.clone(), lab.web.clone(), lab.worker.clone()];
    names.sort();
    names
}

#[tokio::test]
async fn up_runs_both_on_a_private_network_and_the_worker_reaches_web() {
    let Some((docker, guard, lab)) = lab_up().await else {
        return;
    };
    let id = &guard.0;
    assert_eq!(lab.network, format!("chaosdeck-lab-{id}"));
    assert_eq!(lab.web, format!("chaosdeck-lab-{id}-web"));
    assert_eq!(lab.worker, format!("chaosdeck-lab-{id}-worker"));
    assert!(lab.image.starts_with("chaosdeck-busybox:"), "{}", lab.image);
    assert_eq!(
        labelled(&docker, id).await,
        sorted(&lab),
        "all three labelled"
    );

    let net = docker
        .inspect_network::<String>(&lab.network, None)
        .await
        .unwrap();
    assert_eq!(net.internal, Some(true), "the lab network is private");
    let mut attached: Vec<String> = net
        .containers
        .unwrap_or_default()
        .into_values()
        .filter_map(|c| c.name)
        .collect();
    attached.sort();
    assert_eq!(attached, vec![lab.web.clone(), lab.worker.clone()]);

    for (name, policy) in [
        (&lab.web, RestartPolicyNameEnum::ALWAYS),
        (&lab.worker, RestartPolicyNameEnum::NO),
    ] {
        let info = inspect(&docker, name).await;
        assert_eq!(info.state.unwrap().running, Some(true), "{name} runs");
        assert_eq!(
            info.config.unwrap().image.as_deref(),
            Some(lab.image.as_str())
        );
        let host = info.host_config.unwrap();
        assert_eq!(host.restart_policy.unwrap().name, Some(policy), "{name}");
        let networks = info.network_settings.unwrap().networks.unwrap();
        let networks: Vec<&String> = networks.keys().collect();
        assert_eq!(
            networks,
            vec![&lab.network],
            "{name} is only on the lab network"
        );
    }

    // The worker's loop reports the first successful fetch, and web logs it.
    wait_for(10, "worker logs \"web ok\"", || async {
        logs(&docker, &lab.worker)
            .await
            .contains(" web ok")
            .then_some(())
    })
    .await;
    let served = logs(&docker, &lab.web).await;
    assert!(served.contains("response:200"), "web logs: {served}");
    let page = ["timeout", "2", "wget", "-q", "-O", "-", "http://web:8080/"];
    let (code, out) = exec(&docker, &lab.worker, &page).await;
    assert_eq!((code, out.trim()), (0, "chaosdeck lab web"));

    lab.down(&docker).await.unwrap();
    assert!(is_not_found(docker.inspect_container(&lab.web, None).await));
    assert!(is_not_found(
        docker.inspect_container(&lab.worker, None).await
    ));
    assert!(is_not_found(
        docker.inspect_network::<String>(&lab.network, None).await
    ));
    assert_eq!(labelled(&docker, id).await, Vec::<String>::new());
    lab.down(&docker).await.unwrap();
}

#[tokio::test]
async fn killed_web_comes_back_by_itself_and_killed_worker_stays_down() {
    let Some((docker, _guard, lab)) = lab_up().await else {
        return;
    };
    let (running, restarts, started) = run_state(&docker, &lab.web).await;
    assert!(running && restarts == 0, "{running} {restarts}");

    let kill = |signal: &str| {
        Some(KillContainerOptions {
            signal: signal.to_string(),
        })
    };
    docker
        .kill_container(&lab.web, kill(WEB_KILL_SIGNAL))
        .await
        .unwrap();
    let (_, _, restarted) = wait_for(15, "web back with RestartCount 1", || async {
        let state = run_state(&docker, &lab.web).await;
        (state.0 && state.1 == 1).then_some(state)
    })
    .await;
    assert_ne!(restarted, started, "a new start, not the old process");
    let page = ["timeout", "2", "wget", "-q", "-O", "-", "http://web:8080/"];
    wait_for(10, "worker fetches from the restarted web", || async {
        let (code, out) = exec(&docker, &lab.worker, &page).await;
        (code == 0 && out.trim() == "chaosdeck lab web").then_some(())
    })
    .await;

    docker
        .kill_container(&lab.worker, kill("SIGKILL"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (running, restarts, _) = run_state(&docker, &lab.worker).await;
    assert!(!running && restarts == 0, "worker has no restart policy");

    // What WEB_KILL_SIGNAL's documentation says: an API SIGKILL counts as a manual stop.
    docker
        .kill_container(&lab.web, kill("SIGKILL"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (running, restarts, _) = run_state(&docker, &lab.web).await;
    assert!(!running && restarts == 1, "{running} {restarts}");

    lab.down(&docker).await.unwrap();
    assert_eq!(labelled(&docker, &lab.lab_id).await, Vec::<String>::new());
}

#[tokio::test]
async fn remove_lab_removes_what_a_crashed_lab_left_and_nothing_else() {
    let Some((docker, crashed_guard, crashed)) = lab_up().await else {
        return;
    };
    let other_guard = LabGuard(unique_lab_id());
    let other = LabContainers::up(&docker, &other_guard.0).await.unwrap();

    // A second `up` with an id in use fails, says why, and leaves the running lab alone.
    let again = LabContainers::up(&docker, &other.lab_id).await.unwrap_err();
    assert!(matches!(again, LabError::Docker { .. }), "{again:?}");
    assert!(again.to_string().contains("exists already"), "{again}");
    assert!(
        run_state(&docker, &other.web).await.0,
        "other lab's web runs"
    );
    assert_eq!(labelled(&docker, &other.lab_id).await, sorted(&other));

    // The crashed lab never ran `down`: only its labels are left to find it by.
    let mut removed = containers::remove_lab(&docker, &crashed_guard.0)
        .await
        .unwrap();
    removed.sort();
    assert_eq!(removed, sorted(&crashed));
    assert_eq!(
        labelled(&docker, &crashed.lab_id).await,
        Vec::<String>::new()
    );
    let nothing = containers::remove_lab(&docker, &crashed.lab_id)
        .await
        .unwrap();
    assert_eq!(nothing, Vec::<String>::new());

    assert_eq!(labelled(&docker, &other.lab_id).await, sorted(&other));
    assert!(
        run_state(&docker, &other.worker).await.0,
        "other lab untouched"
    );
    other.down(&docker).await.unwrap();
    assert_eq!(labelled(&docker, &other.lab_id).await, Vec::<String>::new());
}

#[tokio::test]
async fn lab_ids_that_cannot_name_containers_are_refused() {
    let Some(docker) = support::docker().await else {
        return;
    };
    for bad in ["", "-lab", "my lab", "lab/1", "lab=1"] {
        let up = LabContainers::up(&docker, bad).await.unwrap_err();
        assert!(
            matches!(&up, LabError::LabIdInvalid { lab_id } if lab_id == bad),
            "{up:?}"
        );
        assert!(up.to_string().contains("letters, digits"), "{up}");
        let removed = containers::remove_lab(&docker, bad).await.unwrap_err();
        assert!(
            matches!(removed, LabError::LabIdInvalid { .. }),
            "{removed:?}"
        );
    }
}
