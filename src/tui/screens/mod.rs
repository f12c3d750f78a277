//! One file per screen. Each renders from a shared reference to its state: no I/O,
//! no `.await`, no locks.

pub mod banner;
pub mod catalog;
pub mod catalog_detail;
pub mod catalog_list;
mod conn_mask;
pub mod dashboard;
pub mod help;
pub mod history;
pub mod prepare;
pub mod result;
mod severity;
pub mod targets;
pub mod targets_table;
mod text_fit;

pub use severity::{severity_meaning, severity_span};
