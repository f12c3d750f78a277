//! Starting and stopping the lab: a throwaway PostgreSQL cluster, the fault proxy in
//! front of it, two demo containers when the Docker engine answers, the demo service
//! (reaching the database through the proxy; its health also needs the web container)
//! under a supervisor that restarts it, and a load generator. What is missing leaves only its part out, with one line
//! saying how to get it. Everything is written to the lab record before it is made.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::containers::LabContainers;
use super::error::LabError;
use super::lab_files::{gameday_yaml, targets_yaml, LabParts};
use super::pg_cluster::{PgCluster, PgClusterOptions};
use super::record::LabRecord;
use super::supervisor::{StartOptions, SupervisedSpec, Supervisor};
use crate::driver::proxy::running::RunningProxy;
use crate::driver::proxy::FaultProxy;

/// Requests a second the load generator sends to the demo service.
const LOAD_RATE: u32 = 20;

/// The demo service's own role: not a superuser, so the slots PostgreSQL reserves for
/// superusers stay out of its reach, as in production.
const APP_ROLE: &str = "app";
const APP_PASSWORD: &str = "apppass";

/// Creates the demo service's role and hands it the lab database (so it may create
/// its table).
async fn create_app_role(cluster: &PgCluster) -> Result<(), String> {
    let (client, conn) = tokio_postgres::connect(&cluster.conn_string(), tokio_postgres::NoTls)
        .await
        .map_err(|e| crate::driver::postgres::conn::describe(&e))?;
    let task = tokio::spawn(conn);
    let sql = format!(
        "CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'; ALTER DATABASE {} OWNER TO {APP_ROLE}",
        cluster.options().database
    );
    let result = client
        .batch_execute(&sql)
        .await
        .map_err(|e| crate::driver::postgres::conn::describe(&e));
    drop(client);
    let _ = task.await;
    result
}

/// A running lab. `down` takes it apart; dropping it without `down` still ends its
/// child processes and the cluster (their own guards), and `lab down` removes the rest.
pub struct Lab {
    pub record: LabRecord,
    state_dir: PathBuf,
    /// The lab's `targets.yaml` and sample plan.
    pub config_path: PathBuf,
    pub plan_path: PathBuf,
    /// One line per missing part, saying how to get it.
    pub missing: Vec<String>,
    cluster: Option<PgCluster>,
    proxy: Option<RunningProxy>,
    service: Option<Supervisor>,
    load: Option<Supervisor>,
    containers: Option<(bollard::Docker, LabContainers)>,
}

impl Lab {
    /// Starts every part this machine has. `exe` is the chaosdeck binary (the demo
    /// service and the load generator are its hidden subcommands).
    pub async fn up(state_dir: &Path, exe: &Path) -> Result<Lab, LabError> {
        if let Some(old) = LabRecord::read(state_dir)? {
            if super::teardown::owner_alive(&old) {
                return Err(LabError::Io {
                    what: format!(
                        "a lab is already running (pid {}); quit it, or run `chaosdeck lab down`",
                        old.owner_pid
                    ),
                    source: std::io::Error::other("lab in use"),
                });
            }
            super::teardown::remove_leftovers(state_dir, &old).await;
        }
        let lab_id = crate::engine::journal::new_run_id();
        let dir = state_dir.join(format!("lab-{lab_id}"));
        std::fs::create_dir_all(&dir).map_err(|e| LabError::Io {
            what: format!("create {}", dir.display()),
            source: e,
        })?;
        let record = LabRecord {
            lab_id,
            owner_pid: std::process::id(),
            dir: dir.clone(),
            ..LabRecord::default()
        };
        record.write(state_dir)?;
        let mut lab = Lab {
            record,
            state_dir: state_dir.to_path_buf(),
            config_path: dir.join("targets.yaml"),
            plan_path: dir.join("gameday.yaml"),
            missing: Vec::new(),
            cluster: None,
            proxy: None,
            service: None,
            load: None,
            containers: None,
        };
        let parts = lab.start_parts(exe).await;
        let written = std::fs::write(&lab.config_path, targets_yaml(&parts))
            .and_then(|_| std::fs::write(&lab.plan_path, gameday_yaml(&parts)));
        if let Err(e) = written {
            lab.down().await;
            return Err(LabError::Io {
                what: format!("write the lab's files in {}", dir.display()),
                source: e,
            });
        }
        Ok(lab)
    }

    async fn start_parts(&mut self, exe: &Path) -> LabParts {
        let mut parts = LabParts {
            pg_conn: None,
            pg_port: None,
            proxy: None,
            service: None,
            web_container: None,
            worker_container: None,
        };
        self.start_postgres(&mut parts).await;
        // The containers first: the demo service's health depends on the web one.
        let web = self.start_containers(&mut parts).await;
        if let Err(e) = self.start_service(exe, web, &mut parts).await {
            self.missing.push(format!("demo service: {e}"));
        }
        parts
    }

    async fn start_postgres(&mut self, parts: &mut LabParts) {
        let options = PgClusterOptions {
            max_connections: 30,
            ..PgClusterOptions::default()
        };
        let started = tokio::task::spawn_blocking(move || PgCluster::start(options)).await;
        let cluster = match started {
            Ok(Ok(cluster)) => cluster,
            Ok(Err(e)) => return self.missing.push(format!("PostgreSQL: {e}")),
            Err(e) => return self.missing.push(format!("PostgreSQL: {e}")),
        };
        self.record.cluster_root = cluster.data_dir().parent().map(Path::to_path_buf);
        if let Err(e) = self.record.write(&self.state_dir) {
            tracing::warn!("{e}");
        }
        if let Err(e) = create_app_role(&cluster).await {
            self.missing.push(format!(
                "PostgreSQL: cannot create the demo service's role: {e}"
            ));
        }
        parts.pg_conn = Some(cluster.conn_string());
        parts.pg_port = Some(cluster.port());
        let upstream = format!("127.0.0.1:{}", cluster.port());
        let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
        match FaultProxy::start(listen, upstream).await {
            Ok(proxy) => {
                let at = proxy.local_addr();
                parts.proxy = Some(at);
                self.proxy = Some(RunningProxy::register(at, proxy));
            }
            Err(e) => self.missing.push(format!("fault proxy: {e}")),
        }
        self.cluster = Some(cluster);
    }

    /// The demo service (through the proxy when there is one) and the load on it.
    async fn start_service(
        &mut self,
        exe: &Path,
        web: Option<String>,
        parts: &mut LabParts,
    ) -> Result<(), LabError> {
        let Some(cluster) = &self.cluster else {
            return Err(LabError::Io {
                what: "needs the PostgreSQL cluster".into(),
                source: std::io::Error::other("no cluster"),
            });
        };
        let port = parts.proxy.map(|p| p.port()).unwrap_or(cluster.port());
        let db = format!(
            "host=127.0.0.1 port={port} dbname={} user={APP_ROLE} password={APP_PASSWORD} connect_timeout=2",
            cluster.options().database,
        );
        let listen: SocketAddr = ([127, 0, 0, 1], super::pg_host::free_port()?).into();
        let parent = std::process::id().to_string();
        // The connection string (with its password) goes through the environment,
        // not the command line everyone's `ps` shows.
        let options = StartOptions {
            env: vec![("CHAOSDECK_LAB_DB".into(), db)],
            ..StartOptions::default()
        };
        let mut args = vec![
            "__demo-service".into(),
            "--listen".into(),
            listen.to_string(),
            "--parent".into(),
            parent.clone(),
        ];
        if let Some(web) = web {
            args.extend(["--web".into(), web]);
        }
        let service = Supervisor::start_with(
            SupervisedSpec {
                name: "demo service".into(),
                program: exe.to_path_buf(),
                args,
                ready: Some("listening on".into()),
                backoff: Duration::from_millis(500),
            },
            options,
        )
        .await?;
        self.note_child(service.pid());
        parts.service = Some(listen);
        self.service = Some(service);
        let load = Supervisor::start(SupervisedSpec {
            name: "load generator".into(),
            program: exe.to_path_buf(),
            args: vec![
                "__load".into(),
                "--url".into(),
                format!("http://{listen}"),
                "--rate".into(),
                LOAD_RATE.to_string(),
                "--parent".into(),
                parent,
            ],
            ready: None,
            backoff: Duration::from_secs(1),
        })
        .await?;
        self.note_child(load.pid());
        self.load = Some(load);
        Ok(())
    }

    /// Starts the two containers; returns the web container's URL for the demo
    /// service's health, when it has one.
    async fn start_containers(&mut self, parts: &mut LabParts) -> Option<String> {
        let docker = match super::docker_connect().await {
            Ok(docker) => docker,
            Err(e) => {
                self.missing.push(format!("containers: {e}"));
                return None;
            }
        };
        let before = lab_images(&docker).await;
        let image = match super::ensure_busybox_image(&docker).await {
            Ok(image) => image,
            Err(e) => {
                self.missing.push(format!("containers: {e}"));
                return None;
            }
        };
        if !before.contains(&image) {
            self.record.image = Some(image);
        }
        self.record.containers = true;
        if let Err(e) = self.record.write(&self.state_dir) {
            tracing::warn!("{e}");
        }
        let made = match LabContainers::up(&docker, &self.record.lab_id).await {
            Ok(made) => made,
            Err(e) => {
                self.missing.push(format!("containers: {e}"));
                return None;
            }
        };
        parts.web_container = Some(made.web.clone());
        parts.worker_container = Some(made.worker.clone());
        let web = made.web_url(&docker).await;
        self.containers = Some((docker, made));
        match web {
            Ok(url) => Some(url),
            Err(e) => {
                self.missing.push(format!("demo service's web check: {e}"));
                None
            }
        }
    }

    fn note_child(&mut self, pid: Option<u32>) {
        if let Some(pid) = pid {
            self.record.children.push(pid);
            if let Err(e) = self.record.write(&self.state_dir) {
                tracing::warn!("{e}");
            }
        }
    }

    /// Takes everything apart: load, service, containers, proxy, cluster, files, and
    /// the record last.
    pub async fn down(mut self) {
        if let Some(load) = self.load.take() {
            load.stop().await;
        }
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
        if let Some((docker, made)) = self.containers.take() {
            if let Err(e) = made.down(&docker).await {
                tracing::warn!("lab containers: {e}");
            }
            if let Some(image) = &self.record.image {
                remove_image(&docker, image).await;
            }
        }
        if let Some(proxy) = self.proxy.take() {
            proxy.shutdown().await;
        }
        if let Some(cluster) = self.cluster.take() {
            let _ = tokio::task::spawn_blocking(move || drop(cluster)).await;
        }
        if let Err(e) = std::fs::remove_dir_all(&self.record.dir) {
            tracing::warn!("{}: {e}", self.record.dir.display());
        }
        if let Err(e) = LabRecord::remove(&self.state_dir) {
            tracing::warn!("{e}");
        }
    }
}

/// The tags of the lab image this engine has.
async fn lab_images(docker: &bollard::Docker) -> Vec<String> {
    let options = bollard::image::ListImagesOptions::<String> {
        filters: [(
            "reference".to_string(),
            vec![super::BUSYBOX_IMAGE_REPO.to_string()],
        )]
        .into(),
        ..Default::default()
    };
    match docker.list_images(Some(options)).await {
        Ok(images) => images.into_iter().flat_map(|i| i.repo_tags).collect(),
        Err(e) => {
            tracing::warn!("listing images: {e}");
            Vec::new()
        }
    }
}

/// Removes an image the lab built.
pub async fn remove_image(docker: &bollard::Docker, image: &str) {
    let options = bollard::image::RemoveImageOptions {
        force: true,
        ..Default::default()
    };
    if let Err(e) = docker.remove_image(image, Some(options), None).await {
        tracing::warn!("removing image {image}: {e}");
    }
}
