//! One file per screen. Each renders from a shared reference to its state: no I/O,
//! no `.await`, no locks.

pub mod catalog;
pub mod catalog_detail;
pub mod catalog_list;
pub mod dashboard;
pub mod help;
pub mod history;
pub mod prepare;
pub mod result;
pub mod targets;
pub mod targets_table;
pub mod banner;
mod conn_mask;
mod fit;
mod text_fit;
mod severity;

pub use severity::{severity_meaning, severity_span};
