//! `chaosdeck list`: the table operators know.

use serde::Serialize;

use super::args::ListArgs;
use super::{print_json, Status};
use crate::catalog::{Catalog, Category, FaultSpec, Severity, TargetKind};

#[derive(Serialize)]
struct ListRow<'a> {
    id: &'a str,
    category: Category,
    severity: Severity,
    target: TargetKind,
    name: &'a str,
}

pub fn run(catalog: &Catalog, args: &ListArgs) -> Status {
    let faults: Vec<&FaultSpec> = catalog
        .faults()
        .filter(|f| args.category.is_none_or(|c| f.category == c))
        .filter(|f| args.severity.is_none_or(|s| f.severity == s))
        .collect();
    if args.json {
        let rows: Vec<ListRow> = faults
            .iter()
            .map(|f| ListRow {
                id: &f.id,
                category: f.category,
                severity: f.severity,
                target: f.target,
                name: &f.name,
            })
            .collect();
        return print_json(&rows);
    }
    print!("{}", table(&faults));
    Status::Pass
}

/// The table exactly as DESIGN.md shows it.
pub fn table(faults: &[&FaultSpec]) -> String {
    let mut out = format!(
        "{:<30} {:<12} {:<10} {}\n",
        "ID", "CATEGORY", "SEVERITY", "NAME"
    );
    out.push_str(&"-".repeat(80));
    out.push('\n');
    for f in faults {
        out.push_str(&format!(
            "{:<30} {:<12} {:<10} {}\n",
            f.id, f.category, f.severity, f.name
        ));
    }
    out.push_str(&format!("Total: {} failure modes\n", faults.len()));
    out
}
