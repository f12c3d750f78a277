//! Why a supervised child could not be started.

use std::path::PathBuf;

use crate::lab::LabError;

/// Why a supervised child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("cannot start {name} (\"{program}\"): {source}")]
    Spawn {
        name: String,
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{name} exited ({status}) before it printed \"{ready}\"; last lines of its stderr:\n{tail}"
    )]
    ExitedBeforeReady {
        name: String,
        ready: String,
        status: String,
        tail: String,
    },

    #[error(
        "{name} did not print \"{ready}\" within {waited}; it was stopped. \
         Last lines of its stderr:\n{tail}"
    )]
    NotReady {
        name: String,
        ready: String,
        waited: String,
        tail: String,
    },
}

impl From<SupervisorError> for LabError {
    /// Keeps the message whole: the stderr tail becomes the source.
    fn from(e: SupervisorError) -> Self {
        match e {
            SupervisorError::Spawn {
                name,
                program,
                source,
            } => LabError::Io {
                what: format!("cannot start {name} (\"{}\")", program.display()),
                source,
            },
            SupervisorError::ExitedBeforeReady {
                name,
                ready,
                status,
                tail,
            } => LabError::Io {
                what: format!("{name} exited ({status}) before it printed \"{ready}\""),
                source: std::io::Error::other(format!("last lines of its stderr:\n{tail}")),
            },
            SupervisorError::NotReady {
                name,
                ready,
                waited,
                tail,
            } => LabError::Io {
                what: format!("{name} did not print \"{ready}\" within {waited}; it was stopped"),
                source: std::io::Error::other(format!("last lines of its stderr:\n{tail}")),
            },
        }
    }
}
