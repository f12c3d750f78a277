//! `chaosdeck list`: the table operators know.

use serde::Serialize;

use super::args::ListArgs;
use super::table::Table;
use super::{print_json, print_text, Status};
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
    print_text(&table(&faults))
}

/// The table exactly as DESIGN.md shows it.
pub fn table(faults: &[&FaultSpec]) -> String {
    let mut table = Table::new(&["ID", "CATEGORY", "SEVERITY", "NAME"], &[30, 12, 10]);
    for f in faults {
        table.row(&[&f.id, &f.category, &f.severity, &f.name]);
    }
    table.finish(&format!("Total: {} failure modes", faults.len()))
}
