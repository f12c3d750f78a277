//! Driver errors: one line a person can act on, naming the target (passwords masked).

/// Why a driver could not plan, apply, undo or verify an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The target did not answer or refused us.
    #[error("{target}: {message}")]
    Unreachable { target: String, message: String },
    /// A precondition does not hold; nothing was touched.
    #[error("{target}: cannot run {action}: {reason}")]
    Precondition {
        target: String,
        action: String,
        reason: String,
    },
    /// The action's parameters or target do not fit this driver.
    #[error("{0}")]
    Input(String),
    /// The side effect or its undo failed part-way.
    #[error("{target}: {message}")]
    Failed { target: String, message: String },
}

impl DriverError {
    pub fn unreachable(target: impl Into<String>, message: impl std::fmt::Display) -> Self {
        DriverError::Unreachable {
            target: target.into(),
            message: message.to_string(),
        }
    }

    pub fn failed(target: impl Into<String>, message: impl std::fmt::Display) -> Self {
        DriverError::Failed {
            target: target.into(),
            message: message.to_string(),
        }
    }

    pub fn precondition(
        target: impl Into<String>,
        action: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        DriverError::Precondition {
            target: target.into(),
            action: action.into(),
            reason: reason.into(),
        }
    }
}
