//! Charts and tables the screens share.

pub mod chart_frame;
pub mod connections_chart;
pub mod probe_table;
pub mod run_header;
pub mod text;
pub mod timeline;
pub mod usage_chart;
