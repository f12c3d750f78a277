//! A game-day plan: experiments run in order with pauses between them.
//!
//! ```yaml
//! name: Shop game day
//! config: targets.yaml        # optional, relative to the plan; --config wins
//! pause: 5s                   # between experiments (default 5s)
//! experiments:
//!   - fault: db-max-connections
//!     target: shop            # a named target of the config
//!     params: { reserve: 2 }
//!     duration: 10s           # observe this long (default 30s)
//!     ttl: 1m                 # optional
//!     pause: 2s               # after this one, instead of the plan's
//!     probes: [app-health]    # only these probes of the config (default all)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::catalog::duration::HumanDuration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub name: String,
    #[serde(default)]
    pub config: Option<PathBuf>,
    #[serde(default = "default_pause")]
    pub pause: HumanDuration,
    pub experiments: Vec<PlannedExperiment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedExperiment {
    pub fault: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, serde_yaml::Value>,
    #[serde(default = "default_duration")]
    pub duration: HumanDuration,
    #[serde(default)]
    pub ttl: Option<HumanDuration>,
    #[serde(default)]
    pub pause: Option<HumanDuration>,
    /// The config's probes this experiment watches (default: all of them).
    #[serde(default)]
    pub probes: Vec<String>,
}

fn default_pause() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

fn default_duration() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

impl PlannedExperiment {
    /// Parameters as `NAME=VALUE`, the way `--param` takes them.
    pub fn param_pairs(&self) -> Vec<String> {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::catalog::model::scalar_text(v)))
            .collect()
    }
}

/// Plans larger than this are refused before they are parsed.
const MAX_PLAN_BYTES: u64 = 1024 * 1024;

impl Plan {
    /// Reads a plan; errors name the file, the line and column, and the field.
    pub fn load(path: &Path) -> Result<Plan, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        if meta.len() > MAX_PLAN_BYTES {
            return Err(format!("{shown}: a plan is limited to 1 MiB"));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let plan = Plan::parse(path, &text)?;
        Ok(plan)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Plan, String> {
        let shown = path.display();
        let deserializer = serde_yaml::Deserializer::from_str(text);
        let plan: Plan = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let place = e
                .inner()
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            let field = e.path().to_string();
            let field = if field == "." {
                String::new()
            } else {
                format!(" {field}:")
            };
            format!("{shown}{place}:{field} {}", e.inner())
        })?;
        if plan.experiments.is_empty() {
            return Err(format!(
                "{shown}: experiments: the plan lists no experiments; add at least one `- fault: ID`"
            ));
        }
        Ok(plan)
    }

    /// The config file the plan names, relative to the plan's folder.
    pub fn config_path(&self, plan_path: &Path) -> Option<PathBuf> {
        let config = self.config.as_ref()?;
        Some(match plan_path.parent() {
            Some(dir) if config.is_relative() => dir.join(config),
            _ => config.clone(),
        })
    }
}
