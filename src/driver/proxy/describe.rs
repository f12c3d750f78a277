//! The blast radius of a fault set in words, for the gate and the journal.

use std::time::Duration;

use crate::catalog::bytesize::ByteSize;
use crate::catalog::duration::HumanDuration;

use super::faults::ProxyFaults;

impl ProxyFaults {
    /// The blast radius in words, e.g. "delay every byte by 200ms ± 50ms on 100 % of
    /// connections".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = &self.latency {
            let jitter = if f.jitter.is_zero() {
                String::new()
            } else {
                format!(" ± {}", human(f.jitter))
            };
            parts.push(format!(
                "delay every byte by {}{jitter} on {} of connections",
                human(f.latency),
                percent(f.probability)
            ));
        }
        if let Some(f) = &self.bandwidth {
            parts.push(format!(
                "cap throughput at {}/s each way on {} of connections",
                ByteSize(f.rate),
                percent(f.probability)
            ));
        }
        if let Some(f) = &self.reset {
            parts.push(format!(
                "reset {} of connections (TCP RST)",
                percent(f.probability)
            ));
        }
        if let Some(f) = &self.blackhole {
            parts.push(format!(
                "blackhole {} of connections (accepted, never answered)",
                percent(f.probability)
            ));
        }
        if let Some(f) = &self.refuse {
            parts.push(format!(
                "close {} of new connections at once",
                percent(f.probability)
            ));
        }
        if let Some(f) = &self.slow_close {
            parts.push(format!(
                "hold {} of connections open {} after the upstream closed",
                percent(f.probability),
                human(f.delay)
            ));
        }
        if let Some(f) = &self.data_limit {
            parts.push(format!(
                "close {} of connections after {}",
                percent(f.probability),
                ByteSize(f.bytes)
            ));
        }
        if let Some(f) = &self.http_error {
            parts.push(format!(
                "answer {} of HTTP requests with {} {}",
                percent(f.fraction),
                f.status,
                super::http_parse::reason(f.status)
            ));
        }
        if let Some(f) = &self.http_delay {
            parts.push(format!(
                "delay {} of HTTP responses by {}",
                percent(f.fraction),
                human(f.delay)
            ));
        }
        if parts.is_empty() {
            "pass traffic through unchanged".into()
        } else {
            parts.join("; ")
        }
    }
}

fn human(d: Duration) -> String {
    HumanDuration(d).to_string()
}

/// `1.0` → "100 %", `0.125` → "12.5 %".
fn percent(p: f64) -> String {
    let text = format!("{:.1}", p * 100.0);
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} %")
}
