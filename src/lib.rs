//! chaosdeck: a terminal console for operator-driven chaos experiments.
//!
//! The layers depend one way: `catalog` ← `driver` ← `engine` ← `tui`, `cli`, `report`;
//! `observe` is used by `engine`. See DESIGN.md for the map.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod driver;
pub mod engine;
pub mod lab;
pub mod observe;
pub mod report;
pub mod tui;
