//! Checks that need more than the schema: references to parameters and to other
//! faults, value ranges, and ids that must be unique across every loaded file.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::action::Action;
use super::error::CatalogIssue;
use super::load::LoadedFault;
use super::model::TargetKind;
use super::template::{references, Param, BUILTIN_VARIABLES};

/// Every problem in `faults`; includes may also point at faults in `known`.
pub fn check(faults: &[LoadedFault], known: &[LoadedFault]) -> Vec<CatalogIssue> {
    let mut issues = Vec::new();
    for fault in faults {
        issues.extend(check_entry(fault));
    }
    issues.extend(check_duplicates(faults));
    issues.extend(check_includes(faults, known));
    issues
}

fn issue(fault: &LoadedFault, needle: &str, path: String, message: String) -> CatalogIssue {
    CatalogIssue {
        file: fault.file.clone(),
        position: Some(fault.position_of(needle)),
        path,
        message,
    }
}

fn entry_path(fault: &LoadedFault, rest: &str) -> String {
    if rest.is_empty() {
        format!("[{}]", fault.spec.id)
    } else {
        format!("[{}].{rest}", fault.spec.id)
    }
}

fn check_entry(fault: &LoadedFault) -> Vec<CatalogIssue> {
    let spec = &fault.spec;
    let mut issues = Vec::new();
    let id_ok = !spec.id.is_empty()
        && spec
            .id
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && spec
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        issues.push(issue(
            fault,
            "id:",
            entry_path(fault, "id"),
            format!(
                "invalid id \"{}\"; expected lowercase letters, digits and dashes, such as \"db-max-connections\"",
                spec.id
            ),
        ));
    }
    if spec.actions.is_empty() {
        issues.push(issue(
            fault,
            "actions",
            entry_path(fault, "actions"),
            "a fault needs at least one action".into(),
        ));
    }
    issues.extend(check_references(fault));
    if !issues.is_empty() {
        return issues;
    }
    let values = match spec.param_values(&BTreeMap::new()) {
        Ok(v) => v,
        Err(e) => {
            return vec![issue(
                fault,
                "params",
                entry_path(fault, &e.path),
                e.message,
            )]
        }
    };
    match spec.resolve_actions(&values, &BTreeMap::new()) {
        Err(e) => issues.push(issue(
            fault,
            "actions",
            entry_path(fault, &e.path),
            format!("{} (with the parameters' defaults)", e.message),
        )),
        Ok(actions) => {
            for (i, action) in actions.iter().enumerate() {
                let at = |field: &str| entry_path(fault, &format!("actions[{i}].{field}"));
                if let Some(kind) = action.target_kind() {
                    if kind != spec.target && spec.target != TargetKind::Compound {
                        issues.push(issue(
                            fault,
                            action.kind(),
                            at(action.kind()),
                            format!(
                                "action \"{}\" acts on a {kind} target, but the fault's target is \"{}\"",
                                action.kind(),
                                spec.target
                            ),
                        ));
                    }
                }
                for (field, message) in value_problems(action) {
                    issues.push(issue(
                        fault,
                        field,
                        at(&format!("{}.{field}", action.kind())),
                        message,
                    ));
                }
            }
        }
    }
    issues
}

/// `{{name}}` references that name neither a declared parameter nor a built-in.
fn check_references(fault: &LoadedFault) -> Vec<CatalogIssue> {
    let declared: HashSet<&str> = fault
        .spec
        .params
        .keys()
        .map(String::as_str)
        .chain(BUILTIN_VARIABLES)
        .collect();
    let mut strings = Vec::new();
    collect_strings(&fault.raw, String::new(), &mut strings);
    let mut issues = Vec::new();
    for (path, text) in strings {
        for name in references(&text) {
            if declared.contains(name) {
                continue;
            }
            let mut choices: Vec<&str> = declared.iter().copied().collect();
            choices.sort_unstable();
            issues.push(issue(
                fault,
                &format!("{{{{{name}"),
                entry_path(fault, &path),
                format!(
                    "\"{{{{{name}}}}}\" refers to a parameter that is not declared; declare \"{name}\" under params, or use one of: {}",
                    choices.join(", ")
                ),
            ));
        }
    }
    issues
}

fn collect_strings(value: &serde_yaml::Value, path: String, out: &mut Vec<(String, String)>) {
    match value {
        serde_yaml::Value::String(s) => out.push((path, s.clone())),
        serde_yaml::Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_strings(item, format!("{path}[{i}]"), out);
            }
        }
        serde_yaml::Value::Mapping(map) => {
            for (key, item) in map {
                let key = key.as_str().unwrap_or("?");
                let child = if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                };
                collect_strings(item, child, out);
            }
        }
        serde_yaml::Value::Tagged(tagged) => collect_strings(&tagged.value, path, out),
        _ => {}
    }
}

/// Values that parse but make no sense: a probability of 3, a disk filled to 99 %.
fn value_problems(action: &Action) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let mut share = |field: &'static str, p: &Param<f64>| {
        if let Param::Value(v) = p {
            if !(0.0..=1.0).contains(v) {
                problems.push((
                    field,
                    format!("\"{v}\" is out of range; expected a share from 0.0 to 1.0"),
                ));
            }
        }
    };
    match action {
        Action::ProxyLatency(a) => share("probability", &a.probability),
        Action::ProxyBandwidth(a) => share("probability", &a.probability),
        Action::ProxyReset(a) | Action::ProxyBlackhole(a) | Action::ProxyRefuse(a) => {
            share("probability", &a.probability)
        }
        Action::ProxySlowClose(a) => share("probability", &a.probability),
        Action::ProxyDataLimit(a) => share("probability", &a.probability),
        Action::ProxyHttpError(a) => {
            share("fraction", &a.fraction);
            if let Param::Value(status) = a.status {
                if !(500..=599).contains(&status) {
                    problems.push((
                        "status",
                        format!("\"{status}\" is not a 5xx status; expected 500 to 599"),
                    ));
                }
            }
        }
        Action::ProxyHttpDelay(a) => share("fraction", &a.fraction),
        Action::HostMemoryPressure(a) => percent_cap(&a.percent, &mut problems),
        Action::HostFillDisk(a) => percent_cap(&a.percent, &mut problems),
        Action::DockerCpuThrottle(a) => {
            if let Param::Value(cpus) = a.cpus {
                if cpus <= 0.0 {
                    problems.push((
                        "cpus",
                        format!("\"{cpus}\" is out of range; expected more than 0, such as 0.1"),
                    ));
                }
            }
        }
        Action::Command(c) => {
            if c.run.is_empty() {
                problems.push((
                    "run",
                    "\"run\" is empty; expected a program and its arguments".into(),
                ));
            }
            if c.undo.is_empty() {
                problems.push((
                    "undo",
                    "\"undo\" is empty; every command fault needs a command that undoes it".into(),
                ));
            }
        }
        _ => {}
    }
    problems
}

fn percent_cap(percent: &Param<u8>, problems: &mut Vec<(&'static str, String)>) {
    if let Param::Value(p) = percent {
        if !(1..=90).contains(p) {
            problems.push((
                "percent",
                format!(
                    "\"{p}\" is out of range; expected 1 to 90 (chaosdeck never fills past 90 %)"
                ),
            ));
        }
    }
}

fn check_duplicates(faults: &[LoadedFault]) -> Vec<CatalogIssue> {
    let mut first: HashMap<&str, &LoadedFault> = HashMap::new();
    let mut issues = Vec::new();
    for fault in faults {
        if let Some(earlier) = first.get(fault.spec.id.as_str()) {
            issues.push(issue(
                fault,
                "id:",
                entry_path(fault, "id"),
                format!(
                    "duplicate id \"{}\"; it is already defined at {}:{}",
                    fault.spec.id,
                    earlier.file.display(),
                    earlier.line
                ),
            ));
        } else {
            first.insert(&fault.spec.id, fault);
        }
    }
    issues
}

fn check_includes(faults: &[LoadedFault], known: &[LoadedFault]) -> Vec<CatalogIssue> {
    let mut by_id: HashMap<&str, &LoadedFault> = HashMap::new();
    for fault in known.iter().chain(faults) {
        by_id.insert(&fault.spec.id, fault);
    }
    let mut issues = Vec::new();
    for fault in faults {
        for (i, action) in fault.spec.actions.iter().enumerate() {
            let Action::Include(include) = action else {
                continue;
            };
            let path = entry_path(fault, &format!("actions[{i}].include.fault"));
            let Some(target) = by_id.get(include.fault.as_str()) else {
                let ids: Vec<&str> = by_id.keys().copied().collect();
                let hint = super::error::closest(&include.fault, &ids)
                    .map(|c| format!("; did you mean \"{c}\"?"))
                    .unwrap_or_else(|| "; run `chaosdeck list` for the ids".into());
                issues.push(issue(
                    fault,
                    &include.fault,
                    path,
                    format!("unknown fault id \"{}\"{hint}", include.fault),
                ));
                continue;
            };
            for name in include.params.keys() {
                if !target.spec.params.contains_key(name) {
                    issues.push(issue(
                        fault,
                        name,
                        entry_path(fault, &format!("actions[{i}].include.params.{name}")),
                        format!("fault \"{}\" has no parameter \"{name}\"", include.fault),
                    ));
                }
            }
        }
        if let Some(cycle) = find_cycle(&fault.spec.id, &by_id) {
            issues.push(issue(
                fault,
                "include",
                entry_path(fault, "actions"),
                format!(
                    "compound faults include each other in a cycle: {}",
                    cycle.join(" → ")
                ),
            ));
        }
    }
    issues
}

/// A path of includes from `start` back to itself, if there is one.
fn find_cycle(start: &str, by_id: &HashMap<&str, &LoadedFault>) -> Option<Vec<String>> {
    fn walk(
        id: &str,
        start: &str,
        by_id: &HashMap<&str, &LoadedFault>,
        trail: &mut Vec<String>,
        seen: &mut HashSet<String>,
    ) -> bool {
        let Some(fault) = by_id.get(id) else {
            return false;
        };
        for next in fault.spec.actions.iter().filter_map(Action::included_fault) {
            trail.push(next.to_string());
            if next == start {
                return true;
            }
            if seen.insert(next.to_string()) && walk(next, start, by_id, trail, seen) {
                return true;
            }
            trail.pop();
        }
        false
    }
    let mut trail = vec![start.to_string()];
    walk(start, start, by_id, &mut trail, &mut HashSet::new()).then_some(trail)
}
