//! Errors of the lab parts. Each message says what went wrong and what to do about it.

use std::path::PathBuf;

/// A part of the lab that can be missing from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// The PostgreSQL server binaries.
    Postgres,
    /// The Docker engine.
    Docker,
    /// The static busybox binary the lab image is built from.
    Busybox,
}

impl Component {
    /// The lowercase name used in messages and in `CHAOSDECK_ALLOW_MISSING`.
    pub fn name(self) -> &'static str {
        match self {
            Component::Postgres => "postgres",
            Component::Docker => "docker",
            Component::Busybox => "busybox",
        }
    }
}

/// An error while building or running a lab part.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(
        "PostgreSQL server binaries not found (looked in {looked}); \
         install them with: apt-get update && apt-get install -y postgresql"
    )]
    PgBinariesMissing { looked: String },

    #[error(
        "PostgreSQL program \"{program}\" not found in \"{bin_dir}\"; install the full server \
         with: apt-get update && apt-get install -y postgresql, or point CHAOSDECK_PG_BIN at a \
         complete bin directory"
    )]
    PgProgramMissing { program: String, bin_dir: PathBuf },

    #[error("{step} failed ({status}); last lines of {log}:\n{tail}")]
    PgCommandFailed {
        step: String,
        status: String,
        log: String,
        tail: String,
    },

    #[error(
        "running as root, and the unprivileged user \"nobody\" is missing from /etc/passwd; \
         PostgreSQL refuses to run as root: add the user (useradd -r nobody) or run as a normal user"
    )]
    NoUnprivilegedUser,

    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "Docker engine not reachable at {host}: {source}; install and start it \
         (apt-get install -y docker.io && service docker start)"
    )]
    DockerUnreachable {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error(
        "static busybox not found at \"{path}\" ({reason}); install it with: \
         apt-get update && apt-get install -y busybox-static"
    )]
    BusyboxMissing { path: PathBuf, reason: String },

    #[error("Docker {what} failed: {source}")]
    Docker {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("building Docker image \"{tag}\" failed: {message}")]
    ImageBuild { tag: String, message: String },

    #[error(
        "lab id \"{lab_id}\" cannot name Docker objects: use only letters, digits, '_', '.' \
         and '-', starting with a letter or digit"
    )]
    LabIdInvalid { lab_id: String },

    #[error(
        "lab container \"{name}\" did not start: {detail}; see `docker logs {name}`, then run \
         `chaosdeck lab down` and try again"
    )]
    ContainerNotRunning { name: String, detail: String },
}

impl LabError {
    /// The component whose absence caused this error, if that is what it is.
    pub fn missing_component(&self) -> Option<Component> {
        match self {
            LabError::PgBinariesMissing { .. } | LabError::PgProgramMissing { .. } => {
                Some(Component::Postgres)
            }
            LabError::DockerUnreachable { .. } => Some(Component::Docker),
            LabError::BusyboxMissing { .. } => Some(Component::Busybox),
            _ => None,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io {
            what: what.into(),
            source,
        }
    }
}
