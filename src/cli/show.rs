//! `chaosdeck show ID`: every field of one fault, and what each action needs.

use std::fmt::Write as _;

use serde::Serialize;

use super::args::ShowArgs;
use super::{print_json, print_text, Status};
use crate::catalog::{Action, Catalog, FaultSpec, Lifetime, Precondition};

#[derive(Serialize)]
struct ShowJson<'a> {
    #[serde(flatten)]
    spec: &'a FaultSpec,
    gate: &'static str,
    action_details: Vec<ActionDetail>,
}

#[derive(Serialize)]
struct ActionDetail {
    kind: &'static str,
    lifetime: Lifetime,
    does: &'static str,
    undo: &'static str,
    preconditions: Vec<Precondition>,
}

pub fn run(catalog: &Catalog, args: &ShowArgs) -> Status {
    let Some(id) = args.fault.as_deref().or(args.id.as_deref()) else {
        eprintln!("show needs a fault id, such as: chaosdeck show db-max-connections");
        return Status::InputError;
    };
    let Some(spec) = catalog.get(id) else {
        let hint = catalog
            .suggest(id)
            .map(|s| format!("; did you mean \"{s}\"?"))
            .unwrap_or_default();
        eprintln!("unknown fault id \"{id}\"{hint} (`chaosdeck list` shows every id)");
        return Status::InputError;
    };
    if args.json {
        let details = spec
            .actions
            .iter()
            .map(|a| ActionDetail {
                kind: a.kind(),
                lifetime: a.lifetime(),
                does: a.summary(),
                undo: a.undo_summary(),
                preconditions: a.preconditions(),
            })
            .collect();
        return print_json(&ShowJson {
            spec,
            gate: spec.severity.gate(),
            action_details: details,
        });
    }
    print_text(&render(spec))
}

/// The text form of `show`.
pub fn render(spec: &FaultSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}\n", spec.id, spec.name);
    let recover_from = if spec.expect.self_healing {
        "injection (self-healing)"
    } else {
        "teardown"
    };
    let impact = if spec.expect.impact.is_empty() {
        "none declared".to_string()
    } else {
        spec.expect.impact.join(", ")
    };
    for (key, value) in [
        ("category", spec.category.to_string()),
        (
            "severity",
            format!("{} (gate: {})", spec.severity, spec.severity.gate()),
        ),
        ("target", spec.target.to_string()),
        ("ttl", spec.ttl.to_string()),
        (
            "recover",
            format!("within {} of {recover_from}", spec.expect.recover_within),
        ),
        ("impact", impact),
    ] {
        let _ = writeln!(out, "  {key:<10} {value}");
    }
    section(&mut out, "Description", &spec.description);
    if !spec.params.is_empty() {
        let _ = writeln!(out, "\nParameters");
        for (name, param) in &spec.params {
            let _ = writeln!(
                out,
                "  {name:<16} default {:<10} {}",
                param.default_text(),
                param.help
            );
        }
    }
    let _ = writeln!(out, "\nActions");
    for (i, action) in spec.actions.iter().enumerate() {
        write_action(&mut out, i + 1, action);
    }
    section(&mut out, "Responder prompt", &spec.prompt);
    section(&mut out, "Runbook", &spec.runbook);
    out
}

fn write_action(out: &mut String, number: usize, action: &Action) {
    let params: Vec<String> = action
        .params_text()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(out, "  {number}. {}  {}", action.kind(), params.join(" "));
    let _ = writeln!(out, "     {}", action.lifetime().as_str());
    let _ = writeln!(out, "     does:  {}", action.summary());
    let _ = writeln!(out, "     undo:  {}", action.undo_summary());
    let needs: Vec<String> = action
        .preconditions()
        .iter()
        .map(|p| p.to_string())
        .collect();
    if !needs.is_empty() {
        let _ = writeln!(out, "     needs: {}", needs.join("; "));
    }
}

fn section(out: &mut String, title: &str, body: &str) {
    if body.trim().is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}");
    for line in body.trim_end().lines() {
        let _ = writeln!(out, "  {line}");
    }
}
