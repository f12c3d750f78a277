//! The lab's two demo containers, from the offline busybox image, on a private network:
//! `web` serves a page and comes back by itself when it dies (restart policy `always`);
//! `worker` fetches that page every second and stays down when it dies (no policy), so
//! container faults and a partition between the two can be shown. Every object carries
//! the label `chaosdeck.lab=<lab id>`, so a crashed lab can be found and removed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::container::{
    Config, CreateContainerOptions, ListContainersOptions, LogsOptions, NetworkingConfig,
    RemoveContainerOptions,
};
use bollard::errors::Error as BollardError;
use bollard::models::{EndpointSettings, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::network::{CreateNetworkOptions, DisconnectNetworkOptions, ListNetworksOptions};
use bollard::Docker;
use futures_util::StreamExt;

use super::busybox_image::ensure_busybox_image;
use super::error::LabError;

/// The label on every lab object; its value is the lab id.
pub const LAB_LABEL: &str = "chaosdeck.lab";
/// The name the worker (and anything else on the lab network) reaches the web container by.
pub const WEB_ALIAS: &str = "web";
/// The name of the worker on the lab network.
pub const WORKER_ALIAS: &str = "worker";
/// The port the web container serves on, inside the lab network.
pub const WEB_PORT: u16 = 8080;
/// The web container's stop signal: `docker stop` sends it and the web exits cleanly.
pub const WEB_STOP_SIGNAL: &str = "SIGINT";
/// The signal that kills the web container so that its restart policy brings it back.
/// Docker treats an API kill with SIGKILL, or with the stop signal, as a manual stop and
/// does not apply the restart policy; the web dies on this one instead (exit code 143).
pub const WEB_KILL_SIGNAL: &str = "SIGTERM";

/// How long `up` waits for each container to run.
const START_BUDGET: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

/// The lab's network and containers, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabContainers {
    /// The lab this belongs to; the value of the `chaosdeck.lab` label.
    pub lab_id: String,
    /// The private bridge network `chaosdeck-lab-<lab id>`.
    pub network: String,
    /// The web container's name; restart policy `always`.
    pub web: String,
    /// The worker container's name; no restart policy.
    pub worker: String,
    /// The image both run.
    pub image: String,
}

impl LabContainers {
    /// The names a lab with `lab_id` uses, without touching Docker (for `down` after the
    /// lab was started by another process).
    pub fn for_lab(lab_id: &str, image: &str) -> LabContainers {
        let network = format!("chaosdeck-lab-{lab_id}");
        LabContainers {
            lab_id: lab_id.to_string(),
            web: format!("{network}-{WEB_ALIAS}"),
            worker: format!("{network}-{WORKER_ALIAS}"),
            network,
            image: image.to_string(),
        }
    }

    /// Creates a private bridge network `chaosdeck-lab-<lab_id>` (internal, no published
    /// ports) and two containers on it from the busybox image:
    /// `chaosdeck-lab-<lab_id>-web` running `busybox httpd -f -p 8080` with restart policy
    /// `always`, and `chaosdeck-lab-<lab_id>-worker` fetching `http://web:8080/` every
    /// second (`wget -q -O /dev/null` under `timeout 2`; it logs each change between
    /// `web ok` and `web failed`), no restart policy. Every object is labelled
    /// `chaosdeck.lab=<lab_id>`. Returns once both run; on failure, removes what it made.
    pub async fn up(docker: &Docker, lab_id: &str) -> Result<LabContainers, LabError> {
        check_lab_id(lab_id)?;
        let image = ensure_busybox_image(docker).await?;
        let lab = LabContainers::for_lab(lab_id, &image);
        let mut made = Vec::new();
        match lab.create(docker, &mut made).await {
            Ok(()) => Ok(lab),
            Err(e) => {
                for object in made.iter().rev() {
                    if let Err(cleanup) = object.remove(docker).await {
                        tracing::warn!("removing a half-made lab: {cleanup}");
                    }
                }
                Err(e)
            }
        }
    }

    /// Removes both containers (force) and the network. Objects already gone are fine, so
    /// calling it twice does nothing the second time.
    pub async fn down(&self, docker: &Docker) -> Result<(), LabError> {
        let objects = vec![
            Made::Container(self.web.clone()),
            Made::Container(self.worker.clone()),
            Made::Network(self.network.clone()),
        ];
        remove_all(docker, objects).await.map(drop)
    }

    async fn create(&self, docker: &Docker, made: &mut Vec<Made>) -> Result<(), LabError> {
        let exists = format!(
            "(a lab with id \"{}\" exists already; `chaosdeck lab down` removes it)",
            self.lab_id
        );
        let options = CreateNetworkOptions {
            name: self.network.clone(),
            check_duplicate: true,
            driver: "bridge".to_string(),
            internal: true,
            labels: self.labels(),
            ..Default::default()
        };
        docker
            .create_network(options)
            .await
            .map_err(docker_error(format!(
                "creating network \"{}\" {exists}",
                self.network
            )))?;
        made.push(Made::Network(self.network.clone()));

        let port = WEB_PORT;
        let web_script = format!(
            "mkdir -p /www && echo 'chaosdeck lab web' > /www/index.html; \
             trap 'exit 143' TERM; trap 'exit 0' INT; \
             httpd -f -v -p {port} -h /www & wait"
        );
        // `timeout`, not `wget -T`: this busybox's wget crashes on -T. Without a timeout, a
        // paused web would hang the worker for wget's default 15 minutes.
        let worker_script = format!(
            "trap 'exit 0' TERM INT; last=; while true; do \
             if timeout 2 wget -q -O /dev/null http://{WEB_ALIAS}:{port}/ 2>/dev/null; then now=ok; else now=failed; fi; \
             if [ \"$now\" != \"$last\" ]; then echo \"$(date -u +%FT%TZ) {WEB_ALIAS} $now\"; fi; \
             last=$now; sleep 1; done"
        );
        let web = self.container_config(WEB_ALIAS, web_script, RestartPolicyNameEnum::ALWAYS);
        let worker = self.container_config(WORKER_ALIAS, worker_script, RestartPolicyNameEnum::NO);
        for (name, config) in [(&self.web, web), (&self.worker, worker)] {
            let options = CreateContainerOptions {
                name: name.clone(),
                platform: None,
            };
            docker
                .create_container(Some(options), config)
                .await
                .map_err(docker_error(format!(
                    "creating container \"{name}\" {exists}"
                )))?;
            made.push(Made::Container(name.clone()));
            docker
                .start_container::<String>(name, None)
                .await
                .map_err(docker_error(format!("starting container \"{name}\"")))?;
        }
        wait_running(docker, &self.web).await?;
        wait_running(docker, &self.worker).await
    }

    /// Where this machine reaches the web container's page: its address on the lab
    /// network (which a restart keeps), e.g. `http://172.20.0.2:8080/`.
    pub async fn web_url(&self, docker: &Docker) -> Result<String, LabError> {
        let info = docker
            .inspect_container(&self.web, None)
            .await
            .map_err(docker_error(format!(
                "inspecting container \"{}\"",
                self.web
            )))?;
        let address = info
            .network_settings
            .and_then(|settings| settings.networks)
            .and_then(|networks| networks.get(&self.network).cloned())
            .and_then(|endpoint| endpoint.ip_address)
            .filter(|ip| !ip.is_empty());
        match address {
            Some(ip) => Ok(format!("http://{ip}:{WEB_PORT}/")),
            None => Err(LabError::ContainerNotRunning {
                name: self.web.clone(),
                detail: format!("it has no address on network \"{}\"", self.network),
            }),
        }
    }

    fn container_config(
        &self,
        alias: &str,
        script: String,
        policy: RestartPolicyNameEnum,
    ) -> Config<String> {
        let endpoint = EndpointSettings {
            aliases: Some(vec![alias.to_string()]),
            ..Default::default()
        };
        let is_web = alias == WEB_ALIAS;
        Config {
            image: Some(self.image.clone()),
            cmd: Some(vec!["sh".to_string(), "-c".to_string(), script]),
            hostname: Some(alias.to_string()),
            labels: Some(self.labels()),
            stop_signal: is_web.then(|| WEB_STOP_SIGNAL.to_string()),
            host_config: Some(HostConfig {
                network_mode: Some(self.network.clone()),
                restart_policy: Some(RestartPolicy {
                    name: Some(policy),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: HashMap::from([(self.network.clone(), endpoint)]),
            }),
            ..Default::default()
        }
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(LAB_LABEL.to_string(), self.lab_id.clone())])
    }
}

/// Removes every container and network labelled `chaosdeck.lab=<lab_id>` (for `lab down`
/// after a crash); returns the names of what it removed, containers first.
pub async fn remove_lab(docker: &Docker, lab_id: &str) -> Result<Vec<String>, LabError> {
    check_lab_id(lab_id)?;
    let filters = HashMap::from([("label".to_string(), vec![format!("{LAB_LABEL}={lab_id}")])]);
    let listed = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: filters.clone(),
            ..Default::default()
        }))
        .await
        .map_err(docker_error(format!("listing containers of lab {lab_id}")))?;
    let mut objects: Vec<Made> = listed
        .into_iter()
        .filter_map(|c| {
            let name = c.names.and_then(|n| n.into_iter().next()).or(c.id)?;
            Some(Made::Container(name.trim_start_matches('/').to_string()))
        })
        .collect();
    let networks = docker
        .list_networks(Some(ListNetworksOptions { filters }))
        .await
        .map_err(docker_error(format!("listing networks of lab {lab_id}")))?;
    objects.extend(
        networks
            .into_iter()
            .filter_map(|n| n.name.map(Made::Network)),
    );
    remove_all(docker, objects).await
}

/// Removes each object, going on past errors; the names of those removed, or the first error.
async fn remove_all(docker: &Docker, objects: Vec<Made>) -> Result<Vec<String>, LabError> {
    let mut removed = Vec::new();
    let mut first_error = None;
    for object in objects {
        match object.remove(docker).await {
            Ok(true) => removed.push(object.name().to_string()),
            Ok(false) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(removed), Err)
}

/// A Docker object the lab made, by name.
enum Made {
    Container(String),
    Network(String),
}

impl Made {
    fn name(&self) -> &str {
        match self {
            Made::Container(name) | Made::Network(name) => name,
        }
    }

    /// Removes the object; `false` when it was gone already.
    async fn remove(&self, docker: &Docker) -> Result<bool, LabError> {
        match self {
            Made::Container(name) => {
                let options = RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                };
                gone_is_fine(docker.remove_container(name, Some(options)).await)
                    .map_err(docker_error(format!("removing container \"{name}\"")))
            }
            Made::Network(name) => {
                let what = || format!("removing network \"{name}\"");
                let network = match docker.inspect_network::<String>(name, None).await {
                    Ok(network) => network,
                    Err(e) if is_gone(&e) => return Ok(false),
                    Err(e) => return Err(docker_error(what())(e)),
                };
                // Containers still attached (not the lab's own) keep a network alive.
                for container in network.containers.unwrap_or_default().into_keys() {
                    let options = DisconnectNetworkOptions {
                        container,
                        force: true,
                    };
                    let detached = docker.disconnect_network(name, options).await;
                    gone_is_fine(detached).map_err(docker_error(what()))?;
                }
                gone_is_fine(docker.remove_network(name).await).map_err(docker_error(what()))
            }
        }
    }
}

/// `Ok(true)` when the engine did it, `Ok(false)` when the object was gone already (404).
fn gone_is_fine<T>(result: Result<T, BollardError>) -> Result<bool, BollardError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_gone(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

fn is_gone(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn docker_error(what: String) -> impl FnOnce(BollardError) -> LabError {
    move |source| LabError::Docker { what, source }
}

/// A lab id names containers: letters, digits, `_`, `.`, `-`, not starting with a symbol.
fn check_lab_id(lab_id: &str) -> Result<(), LabError> {
    let mut chars = lab_id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(LabError::LabIdInvalid {
            lab_id: lab_id.to_string(),
        })
    }
}

/// Waits until the container runs (and is not between restarts).
async fn wait_running(docker: &Docker, name: &str) -> Result<(), LabError> {
    let deadline = Instant::now() + START_BUDGET;
    loop {
        let info = docker
            .inspect_container(name, None)
            .await
            .map_err(docker_error(format!("inspecting container \"{name}\"")))?;
        let state = info.state.unwrap_or_default();
        let restarts = info.restart_count.unwrap_or(0);
        if state.running == Some(true) && state.restarting != Some(true) && restarts == 0 {
            return Ok(());
        }
        let status = state
            .status
            .map_or("unknown".to_string(), |s| s.to_string());
        let code = state.exit_code.unwrap_or(0);
        let detail = if restarts > 0 {
            Some(format!(
                "it keeps exiting (restarted {restarts} times, last exit code {code})"
            ))
        } else if matches!(status.as_str(), "exited" | "dead") {
            Some(format!("it {status} with code {code}"))
        } else if Instant::now() > deadline {
            Some(format!("still {status} after {} s", START_BUDGET.as_secs()))
        } else {
            None
        };
        if let Some(detail) = detail {
            let detail = format!("{detail}{}", last_output(docker, name).await);
            let name = name.to_string();
            return Err(LabError::ContainerNotRunning { name, detail });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The container's last lines of output, as `"; last output: ..."`, or nothing.
async fn last_output(docker: &Docker, name: &str) -> String {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: "5".to_string(),
        ..Default::default()
    };
    let mut stream = docker.logs(name, Some(options));
    let mut text = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(&chunk.to_string());
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!("; last output: {}", lines.join(" | "))
    }
}
