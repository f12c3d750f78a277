//! Fault specs: the model, YAML loading and validation. Pure: no network, no
//! processes. The built-in catalog is compiled in; user folders add to it.

pub mod action;
mod action_macro;
pub mod action_params;
pub mod builtin;
pub mod bytesize;
pub mod duration;
pub mod error;
pub mod load;
pub mod model;
pub mod resolve;
pub mod template;
pub mod validate;

use std::path::{Path, PathBuf};

pub use action::{Action, Lifetime, Precondition};
pub use error::{CatalogError, CatalogIssue};
pub use load::LoadedFault;
pub use model::{Category, FaultSpec, Severity, TargetKind};

/// Every fault chaosdeck knows: the built-in ones and those of user folders.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    faults: Vec<LoadedFault>,
}

impl Catalog {
    /// The built-in catalog alone.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        let faults = parse_builtin()?;
        finish(faults, &[])
    }

    /// The built-in catalog plus every `*.yaml` file in `user_dirs`; a duplicate id
    /// across them is an error.
    pub fn load(user_dirs: &[PathBuf]) -> Result<Catalog, CatalogError> {
        let mut faults = parse_builtin()?;
        let mut issues = Vec::new();
        for dir in user_dirs {
            for file in yaml_files(dir, &mut issues) {
                match load::read_file(&file) {
                    Ok(found) => faults.extend(found),
                    Err(issue) => issues.push(issue),
                }
            }
        }
        if !issues.is_empty() {
            return Err(CatalogError { issues });
        }
        finish(faults, &[])
    }

    pub fn faults(&self) -> impl Iterator<Item = &FaultSpec> {
        self.faults.iter().map(|f| &f.spec)
    }

    pub fn loaded(&self) -> &[LoadedFault] {
        &self.faults
    }

    pub fn get(&self, id: &str) -> Option<&FaultSpec> {
        self.faults.iter().map(|f| &f.spec).find(|f| f.id == id)
    }

    pub fn len(&self) -> usize {
        self.faults.len()
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Ids close to `id`, for "did you mean" in messages.
    pub fn suggest(&self, id: &str) -> Option<&str> {
        let ids: Vec<&str> = self.faults().map(|f| f.id.as_str()).collect();
        error::closest(id, &ids)
    }
}

fn parse_builtin() -> Result<Vec<LoadedFault>, CatalogError> {
    let mut faults = Vec::new();
    for (name, text) in builtin::BUILTIN_FILES {
        faults.extend(load::parse_bytes(Path::new(name), text.as_bytes())?);
    }
    Ok(faults)
}

fn finish(faults: Vec<LoadedFault>, known: &[LoadedFault]) -> Result<Catalog, CatalogError> {
    let issues = validate::check(&faults, known);
    if issues.is_empty() {
        Ok(Catalog { faults })
    } else {
        Err(CatalogError { issues })
    }
}

/// The outcome of `chaosdeck validate PATH…`.
#[derive(Debug, Default)]
pub struct ValidationReport {
    pub files: Vec<(PathBuf, usize)>,
    pub issues: Vec<CatalogIssue>,
}

/// Checks the files and folders in `paths` as one set. Compound faults in them may
/// include faults of `known` (the built-in catalog) without those being re-checked.
pub fn validate_paths(paths: &[PathBuf], known: &Catalog) -> ValidationReport {
    let mut report = ValidationReport::default();
    let mut faults = Vec::new();
    for path in paths {
        let files = if path.is_dir() {
            yaml_files(path, &mut report.issues)
        } else {
            vec![path.clone()]
        };
        for file in files {
            match load::read_file(&file) {
                Ok(found) => {
                    report.files.push((file, found.len()));
                    faults.extend(found);
                }
                Err(issue) => {
                    report.files.push((file, 0));
                    report.issues.push(issue);
                }
            }
        }
    }
    report
        .issues
        .extend(validate::check(&faults, known.loaded()));
    report
}

/// `*.yaml` and `*.yml` files directly in `dir`, sorted by name.
fn yaml_files(dir: &Path, issues: &mut Vec<CatalogIssue>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            issues.push(CatalogIssue {
                file: dir.to_path_buf(),
                position: None,
                path: String::new(),
                message: format!("cannot read catalog folder: {e}"),
            });
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads_without_issues() {
        match Catalog::builtin() {
            Ok(catalog) => assert!(!catalog.is_empty()),
            Err(e) => panic!("built-in catalog is invalid:\n{e}"),
        }
    }

    #[test]
    fn every_file_in_the_catalog_folder_is_compiled_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("catalog/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|name| name.ends_with(".yaml"))
            .collect();
        on_disk.sort();
        let mut compiled: Vec<String> = builtin::BUILTIN_FILES
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        compiled.sort();
        assert_eq!(on_disk, compiled);
    }

    #[test]
    fn every_action_kind_is_described_and_used_by_a_builtin_fault() {
        let catalog = Catalog::builtin().unwrap();
        let used: std::collections::HashSet<&str> = catalog
            .faults()
            .flat_map(|f| f.actions.iter().map(Action::kind))
            .collect();
        for kind in Action::KINDS {
            assert!(
                action::Action::all_kinds().iter().any(|i| i.kind == *kind),
                "{kind} has no description"
            );
            assert!(used.contains(kind), "no built-in fault uses {kind}");
        }
        assert_eq!(Action::all_kinds().len(), Action::KINDS.len());
    }

    #[test]
    fn builtin_faults_carry_prompt_runbook_and_ttl() {
        let catalog = Catalog::builtin().unwrap();
        for fault in catalog.faults() {
            assert!(
                !fault.prompt.trim().is_empty(),
                "{} has no prompt",
                fault.id
            );
            assert!(
                !fault.runbook.trim().is_empty(),
                "{} has no runbook",
                fault.id
            );
            assert!(!fault.description.trim().is_empty(), "{}", fault.id);
            assert!(fault.ttl.as_duration().as_secs() >= 60, "{} ttl", fault.id);
        }
    }

    #[test]
    fn actions_round_trip_through_yaml() {
        let catalog = Catalog::builtin().unwrap();
        for fault in catalog.faults() {
            let text = serde_yaml::to_string(&fault.actions).unwrap();
            let back: Vec<Action> = serde_yaml::from_str(&text).unwrap();
            assert_eq!(back, fault.actions, "{}", fault.id);
        }
    }

    #[test]
    fn defaults_resolve_into_typed_actions_and_overrides_apply() {
        let catalog = Catalog::builtin().unwrap();
        let spec = catalog.get("db-max-connections").unwrap();
        let overrides = [("reserve".to_string(), "5".to_string())].into();
        let values = spec.param_values(&overrides).unwrap();
        let actions = spec
            .resolve_actions(&values, &std::collections::BTreeMap::new())
            .unwrap();
        let Action::PgHoldConnections(hold) = &actions[0] else {
            panic!("{:?}", actions[0]);
        };
        assert_eq!(hold.reserve, template::Param::Value(5));

        let bad = [("reserve".to_string(), "many".to_string())].into();
        let values = spec.param_values(&bad).unwrap();
        let err = spec
            .resolve_actions(&values, &std::collections::BTreeMap::new())
            .unwrap_err();
        assert!(err.message.contains("\"many\""), "{err}");

        let unknown = [("reserv".to_string(), "1".to_string())].into();
        let err = spec.param_values(&unknown).unwrap_err();
        assert!(err.message.contains("no parameter \"reserv\""), "{err}");
    }
}
