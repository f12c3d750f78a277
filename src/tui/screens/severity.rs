//! The severity of a fault as a word in its colour (never colour alone).

use ratatui::text::Span;

use crate::catalog::Severity;
use crate::tui::theme::{Meaning, Theme};

/// The meaning that colours a severity.
pub fn severity_meaning(severity: Severity) -> Meaning {
    match severity {
        Severity::Low => Meaning::SeverityLow,
        Severity::Medium => Meaning::SeverityMedium,
        Severity::High => Meaning::SeverityHigh,
        Severity::Critical => Meaning::SeverityCritical,
    }
}

/// The severity word, styled by its meaning.
pub fn severity_span(severity: Severity, theme: &Theme) -> Span<'static> {
    Span::styled(
        severity.as_str().to_string(),
        theme.style(severity_meaning(severity)),
    )
}
