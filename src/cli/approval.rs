//! The headless gate: `--yes` approves up to high severity, critical also needs
//! `--allow-critical`, and nothing above the policy's maximum is ever run.

use crate::catalog::{FaultSpec, Severity};

/// The approval flags shared by `inject`, `run` and `gameday`.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Approval {
    /// Approve faults up to high severity without asking.
    #[arg(long)]
    pub yes: bool,
    /// With --yes, approve critical faults too.
    #[arg(long = "allow-critical")]
    pub allow_critical: bool,
    /// Refuse faults above this severity (the config's policy may lower it).
    #[arg(long = "max-severity", value_name = "SEVERITY")]
    pub max_severity: Option<Severity>,
}

impl Approval {
    /// Refuses a fault above the policy's maximum.
    pub fn check_policy(&self, spec: &FaultSpec) -> Result<(), String> {
        match self.max_severity {
            Some(max) if spec.severity > max => Err(format!(
                "\"{}\" is {} severity; the policy allows at most {max} (--max-severity or policy.max_severity)",
                spec.id, spec.severity
            )),
            _ => Ok(()),
        }
    }

    /// The policy, then the approval flags.
    pub fn check(&self, spec: &FaultSpec) -> Result<(), String> {
        self.check_policy(spec)?;
        if !self.yes {
            return Err(format!(
                "\"{}\" is {} severity: pass --yes to approve it without the console's gate ({}), or --dry-run to see what it would do",
                spec.id,
                spec.severity,
                spec.severity.gate()
            ));
        }
        if spec.severity == Severity::Critical && !self.allow_critical {
            return Err(format!(
                "\"{}\" is critical: pass --yes --allow-critical to approve it",
                spec.id
            ));
        }
        Ok(())
    }

    /// How the approval is written in the journal and the report.
    pub fn words(&self, spec: &FaultSpec) -> String {
        match spec.severity {
            Severity::Critical => "--yes --allow-critical".into(),
            _ => "--yes".into(),
        }
    }

    /// The lower of two maximums.
    pub fn with_policy(mut self, policy: Severity) -> Approval {
        self.max_severity = Some(self.max_severity.map_or(policy, |m| m.min(policy)));
        self
    }
}
