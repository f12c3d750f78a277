//! `chaosdeck validate [PATH…]`: check catalog files and say what is wrong, where.

use std::path::PathBuf;

use serde::Serialize;

use super::args::ValidateArgs;
use super::{print_json, print_text, Status};
use crate::catalog::{validate_paths, Catalog, ValidationReport};

#[derive(Serialize)]
struct ValidateJson {
    ok: bool,
    files: Vec<FileJson>,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct FileJson {
    path: PathBuf,
    faults: usize,
}

pub fn run(catalog_dirs: &[PathBuf], args: &ValidateArgs) -> Status {
    let report = if args.paths.is_empty() {
        check_configured(catalog_dirs)
    } else {
        match Catalog::builtin() {
            Ok(builtin) => validate_paths(&args.paths, &builtin),
            Err(e) => ValidationReport {
                files: Vec::new(),
                issues: e.issues,
            },
        }
    };
    let ok = report.issues.is_empty();
    if args.json {
        let status = print_json(&ValidateJson {
            ok,
            files: report
                .files
                .iter()
                .map(|(path, faults)| FileJson {
                    path: path.clone(),
                    faults: *faults,
                })
                .collect(),
            problems: report.issues.iter().map(|i| i.to_string()).collect(),
        });
        return if ok { status } else { Status::InputError };
    }
    for issue in &report.issues {
        eprintln!("{issue}");
    }
    let faults: usize = report.files.iter().map(|(_, n)| n).sum();
    let files = report.files.len();
    if ok {
        print_text(&format!("OK: {faults} faults in {files} files\n"))
    } else {
        let n = report.issues.len();
        eprintln!(
            "invalid: {n} problem{} in {files} file{}",
            if n == 1 { "" } else { "s" },
            if files == 1 { "" } else { "s" }
        );
        Status::InputError
    }
}

/// The built-in catalog together with the user folders given by `--catalog`.
fn check_configured(catalog_dirs: &[PathBuf]) -> ValidationReport {
    match Catalog::load(catalog_dirs) {
        Ok(catalog) => {
            let mut files: Vec<(PathBuf, usize)> = Vec::new();
            for fault in catalog.loaded() {
                match files.last_mut() {
                    Some((path, n)) if *path == fault.file => *n += 1,
                    _ => files.push((fault.file.clone(), 1)),
                }
            }
            ValidationReport {
                files,
                issues: Vec::new(),
            }
        }
        Err(e) => ValidationReport {
            files: Vec::new(),
            issues: e.issues,
        },
    }
}
