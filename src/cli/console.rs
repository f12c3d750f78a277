//! `chaosdeck` with no subcommand: read the catalog, the config and the target
//! flags, check them, then hand over to the console. Bad input is reported before the
//! terminal is taken over.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::args::ConsoleArgs;
use super::Status;
use crate::catalog::Catalog;
use crate::config::parse_probe_flag;
use crate::engine::journal::{default_state_dir, Journal};
use crate::tui::console::{Options, FLAGS_BUNDLE};
use crate::tui::engine_link::Setup;
use crate::tui::theme::Theme;

pub fn run(
    args: &ConsoleArgs,
    catalog_dirs: &[PathBuf],
    state_dir: Option<&PathBuf>,
    config: Option<&PathBuf>,
) -> Status {
    let state_dir = state_dir.cloned().unwrap_or_else(default_state_dir);
    let _log = super::logging::to_file(&state_dir);
    let prepared = prepare(args, catalog_dirs, &state_dir, config);
    let (setup, options) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    let journal = match Journal::open(&state_dir) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    let runtime = match crate::engine::runner::engine_runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return Status::InputError;
        }
    };
    match runtime.block_on(crate::tui::console::run(setup, options, journal)) {
        Ok(()) => Status::Pass,
        Err(e) => {
            eprintln!("the console stopped: {e}");
            Status::InputError
        }
    }
}

fn prepare(
    args: &ConsoleArgs,
    catalog_dirs: &[PathBuf],
    state_dir: &std::path::Path,
    config_path: Option<&PathBuf>,
) -> Result<(Setup, Options), String> {
    let catalog = Catalog::load(catalog_dirs).map_err(|e| e.to_string())?;
    let config = super::run::load_config(config_path)?;
    let flags = super::targets::from_args(&args.targets).map_err(|e| e.to_string())?;
    let mut bundles = BTreeMap::new();
    if let Some(config) = &config {
        for name in config.targets.keys() {
            let named = config
                .targets_named(name, flags.exe.clone())
                .map_err(|e| e.to_string())?;
            bundles.insert(name.clone(), named);
        }
    }
    let any_flag = flags.postgres.is_some()
        || flags.container.is_some()
        || flags.process.is_some()
        || flags.proxy.is_some();
    if any_flag || bundles.is_empty() {
        bundles.insert(FLAGS_BUNDLE.to_string(), flags.clone());
    }
    let bundle = match &args.target {
        Some(name) if bundles.contains_key(name) => name.clone(),
        Some(name) => {
            let known: Vec<&str> = bundles.keys().map(String::as_str).collect();
            return Err(format!(
                "--target \"{name}\": no such target; known: {}",
                known.join(", ")
            ));
        }
        None if any_flag => FLAGS_BUNDLE.to_string(),
        None => config
            .as_ref()
            .and_then(|c| c.targets.keys().next().cloned())
            .unwrap_or_else(|| FLAGS_BUNDLE.to_string()),
    };
    let observe = config.as_ref().map(|c| c.observe).unwrap_or_default();
    let pg = bundles
        .get(&bundle)
        .and_then(|t| t.postgres.as_ref())
        .map(|p| &p.conn);
    let one_off_probes = args
        .probes
        .iter()
        .map(|flag| parse_probe_flag(flag, &observe, pg))
        .collect::<Result<Vec<_>, String>>()?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let choice = args
        .theme
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.theme.clone()));
    let theme = Theme::choose(choice.as_deref(), no_color).map_err(|e| e.to_string())?;
    let report_dir = match &args.report_dir {
        Some(dir) => dir.clone(),
        None => {
            std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?
        }
    };
    let typed_conns = match &args.targets.conn {
        Some(conn) => BTreeMap::from([(FLAGS_BUNDLE.to_string(), conn.clone())]),
        None => BTreeMap::new(),
    };
    let setup = Setup {
        catalog,
        config,
        bundles,
        typed_conns,
        one_off_probes,
        max_severity: args.max_severity,
        state_dir: state_dir.to_path_buf(),
        report_dir,
    };
    let options = Options {
        read_only: args.read_only,
        theme,
        bundle,
    };
    Ok((setup, options))
}
