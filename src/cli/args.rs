//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::catalog::{Category, Severity};

/// A terminal console for operator-driven chaos experiments.
#[derive(Debug, Parser)]
#[command(name = "chaosdeck", version, about, arg_required_else_help = true)]
pub struct Cli {
    /// A folder of fault YAML files to add to the built-in catalog (repeatable).
    #[arg(long = "catalog", value_name = "DIR", global = true)]
    pub catalog_dirs: Vec<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the failure modes of the catalog.
    List(ListArgs),
    /// Show every field of one fault.
    Show(ShowArgs),
    /// Check catalog files; with no path, the built-in catalog and --catalog folders.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this category (database, container, process, host, network, kubernetes, compound).
    #[arg(long)]
    pub category: Option<Category>,
    /// Only this severity (low, medium, high, critical).
    #[arg(long)]
    pub severity: Option<Severity>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The fault id, such as db-max-connections.
    #[arg(value_name = "ID", required_unless_present = "id")]
    pub fault: Option<String>,
    /// The fault id, for those who type it as a flag.
    #[arg(long, conflicts_with = "fault")]
    pub id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Catalog files or folders of them.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
