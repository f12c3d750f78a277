//! Turning a fault's `{{param}}` references into values: defaults, overrides typed
//! by the operator, and the built-in variables (`target`, `run`, `fault`).

use std::collections::BTreeMap;

use serde_yaml::Value;

use super::action::Action;
use super::error::humanize_serde_message;
use super::model::{scalar_text, FaultSpec};
use super::template::{render, whole_reference};

/// Values for a fault's parameters, by name.
pub type ParamValues = BTreeMap<String, Value>;

/// A parameter value or action field that does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ResolveError {
    pub path: String,
    pub message: String,
}

impl FaultSpec {
    /// Defaults, with `overrides` (as typed: `reserve=3`) laid over them.
    pub fn param_values(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<ParamValues, ResolveError> {
        let mut values: ParamValues = self
            .params
            .iter()
            .map(|(name, spec)| (name.clone(), spec.default.clone()))
            .collect();
        for (name, text) in overrides {
            if !self.params.contains_key(name) {
                let known: Vec<&str> = self.params.keys().map(String::as_str).collect();
                return Err(ResolveError {
                    path: format!("params.{name}"),
                    message: format!(
                        "fault \"{}\" has no parameter \"{name}\"; its parameters are: {}",
                        self.id,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                });
            }
            // A parameter's type is its default's: a text default keeps `0` as text.
            let as_text = matches!(self.params[name].default, Value::String(_));
            let value = serde_yaml::from_str::<Value>(text)
                .ok()
                .filter(|v| !as_text && !matches!(v, Value::Mapping(_) | Value::Sequence(_)))
                .unwrap_or_else(|| Value::String(text.clone()));
            values.insert(name.clone(), value);
        }
        Ok(values)
    }

    /// The actions with every reference replaced; `builtins` supplies `target`,
    /// `run` and `fault` when they are known.
    pub fn resolve_actions(
        &self,
        values: &ParamValues,
        builtins: &BTreeMap<&str, String>,
    ) -> Result<Vec<Action>, ResolveError> {
        self.actions
            .iter()
            .enumerate()
            .map(|(i, action)| {
                let raw = serde_yaml::to_value(action).map_err(|e| ResolveError {
                    path: format!("actions[{i}]"),
                    message: e.to_string(),
                })?;
                let substituted = substitute(raw, values, builtins);
                serde_path_to_error::deserialize::<_, Action>(substituted).map_err(|e| {
                    let field = e.path().to_string();
                    ResolveError {
                        path: format!("actions[{i}].{field}"),
                        message: humanize_serde_message(&e.inner().to_string()),
                    }
                })
            })
            .collect()
    }

    /// Free text (prompt, runbook, description) with references replaced.
    pub fn render_text(
        &self,
        text: &str,
        values: &ParamValues,
        builtins: &BTreeMap<&str, String>,
    ) -> String {
        render(text, |name| lookup(name, values, builtins))
    }
}

fn lookup(name: &str, values: &ParamValues, builtins: &BTreeMap<&str, String>) -> Option<String> {
    values
        .get(name)
        .map(scalar_text)
        .or_else(|| builtins.get(name).cloned())
}

fn substitute(value: Value, values: &ParamValues, builtins: &BTreeMap<&str, String>) -> Value {
    match value {
        Value::String(text) => {
            if let Some(v) = whole_reference(&text).and_then(|name| values.get(name)) {
                return v.clone();
            }
            Value::String(render(&text, |name| lookup(name, values, builtins)))
        }
        Value::Sequence(items) => Value::Sequence(
            items
                .into_iter()
                .map(|v| substitute(v, values, builtins))
                .collect(),
        ),
        Value::Mapping(map) => Value::Mapping(
            map.into_iter()
                .map(|(k, v)| (k, substitute(v, values, builtins)))
                .collect(),
        ),
        other => other,
    }
}
