//! The fault set of one proxy: which faults are on and how hard, built from the
//! catalog's `proxy.*` actions, checked, and described for the blast radius.

use std::time::Duration;

use crate::catalog::duration::HumanDuration;
use crate::catalog::template::Param;
use crate::catalog::Action;
use crate::driver::DriverError;

/// Every fault the proxy can apply at once. `None` fields are off. Probabilities are
/// per connection, fractions per HTTP request; both from 0 to 1.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProxyFaults {
    pub latency: Option<Latency>,
    pub bandwidth: Option<Bandwidth>,
    pub reset: Option<Chance>,
    pub blackhole: Option<Chance>,
    pub refuse: Option<Chance>,
    pub slow_close: Option<SlowClose>,
    pub data_limit: Option<DataLimit>,
    pub http_error: Option<HttpError>,
    pub http_delay: Option<HttpDelay>,
}

/// Upstream-to-client bytes arrive `latency` ± `jitter` after they were sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub latency: Duration,
    pub jitter: Duration,
    pub probability: f64,
}

/// At most `rate` bytes per second, each way, per connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bandwidth {
    pub rate: u64,
    pub probability: f64,
}

/// A fault with no setting but its probability (reset, blackhole, refuse).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chance {
    pub probability: f64,
}

/// The client's side stays open for `delay` after the upstream closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowClose {
    pub delay: Duration,
    pub probability: f64,
}

/// A connection closes once `bytes` have passed in either direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataLimit {
    pub bytes: u64,
    pub probability: f64,
}

/// `fraction` of HTTP requests are answered by the proxy with `status`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpError {
    pub status: u16,
    pub fraction: f64,
}

/// `fraction` of HTTP responses are held back for `delay`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpDelay {
    pub delay: Duration,
    pub fraction: f64,
}

impl ProxyFaults {
    /// No fault: traffic passes straight through.
    pub fn none() -> ProxyFaults {
        ProxyFaults::default()
    }

    pub fn is_none(&self) -> bool {
        *self == ProxyFaults::none()
    }

    /// Merges resolved `proxy.*` actions into one set. Any other action, an
    /// unresolved `{{parameter}}`, a kind given twice or a value out of range is an
    /// input error.
    pub fn from_actions(actions: &[Action]) -> Result<ProxyFaults, DriverError> {
        let mut set = ProxyFaults::none();
        for action in actions {
            let kind = action.kind();
            match action {
                Action::ProxyLatency(p) => {
                    let latency = Latency {
                        latency: duration(&p.latency, kind, "latency")?,
                        jitter: duration(&p.jitter, kind, "jitter")?,
                        probability: value(&p.probability, kind, "probability")?,
                    };
                    put(&mut set.latency, latency, kind)?;
                }
                Action::ProxyBandwidth(p) => {
                    let rate = value(&p.rate, kind, "rate")?.0;
                    let probability = value(&p.probability, kind, "probability")?;
                    put(&mut set.bandwidth, Bandwidth { rate, probability }, kind)?;
                }
                Action::ProxyReset(p) | Action::ProxyBlackhole(p) | Action::ProxyRefuse(p) => {
                    let chance = Chance {
                        probability: value(&p.probability, kind, "probability")?,
                    };
                    let slot = match action {
                        Action::ProxyReset(_) => &mut set.reset,
                        Action::ProxyBlackhole(_) => &mut set.blackhole,
                        _ => &mut set.refuse,
                    };
                    put(slot, chance, kind)?;
                }
                Action::ProxySlowClose(p) => {
                    let delay = duration(&p.delay, kind, "delay")?;
                    let probability = value(&p.probability, kind, "probability")?;
                    put(&mut set.slow_close, SlowClose { delay, probability }, kind)?;
                }
                Action::ProxyDataLimit(p) => {
                    let bytes = value(&p.bytes, kind, "bytes")?.0;
                    let probability = value(&p.probability, kind, "probability")?;
                    put(&mut set.data_limit, DataLimit { bytes, probability }, kind)?;
                }
                Action::ProxyHttpError(p) => {
                    let status = value(&p.status, kind, "status")?;
                    let fraction = value(&p.fraction, kind, "fraction")?;
                    put(&mut set.http_error, HttpError { status, fraction }, kind)?;
                }
                Action::ProxyHttpDelay(p) => {
                    let delay = duration(&p.delay, kind, "delay")?;
                    let fraction = value(&p.fraction, kind, "fraction")?;
                    put(&mut set.http_delay, HttpDelay { delay, fraction }, kind)?;
                }
                other => {
                    return Err(DriverError::Input(format!(
                        "\"{}\" is not a proxy action; the fault proxy takes proxy.* actions only",
                        other.kind()
                    )))
                }
            }
        }
        set.validate()?;
        Ok(set)
    }

    /// Checks every value is in range; `set_faults` refuses a set that is not.
    pub fn validate(&self) -> Result<(), DriverError> {
        let share = |kind: &str, field: &str, p: f64| {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(DriverError::Input(format!(
                    "{kind}: {field} \"{p}\" is out of range; expected a number from 0 to 1"
                )))
            }
        };
        if let Some(f) = &self.latency {
            share("proxy.latency", "probability", f.probability)?;
        }
        if let Some(f) = &self.bandwidth {
            share("proxy.bandwidth", "probability", f.probability)?;
            if f.rate == 0 {
                return Err(DriverError::Input(
                    "proxy.bandwidth: rate \"0B\" would stop all traffic; expected at least 1B \
                     (use proxy.blackhole to stop traffic)"
                        .into(),
                ));
            }
        }
        for (kind, chance) in [
            ("proxy.reset", &self.reset),
            ("proxy.blackhole", &self.blackhole),
            ("proxy.refuse", &self.refuse),
        ] {
            if let Some(c) = chance {
                share(kind, "probability", c.probability)?;
            }
        }
        if let Some(f) = &self.slow_close {
            share("proxy.slow_close", "probability", f.probability)?;
        }
        if let Some(f) = &self.data_limit {
            share("proxy.data_limit", "probability", f.probability)?;
        }
        if let Some(f) = &self.http_error {
            share("proxy.http_error", "fraction", f.fraction)?;
            if !(500..=599).contains(&f.status) {
                return Err(DriverError::Input(format!(
                    "proxy.http_error: status \"{}\" is not a server error; expected 500 to 599",
                    f.status
                )));
            }
        }
        if let Some(f) = &self.http_delay {
            share("proxy.http_delay", "fraction", f.fraction)?;
        }
        Ok(())
    }
}

fn put<T>(slot: &mut Option<T>, fault: T, kind: &str) -> Result<(), DriverError> {
    if slot.is_some() {
        return Err(DriverError::Input(format!(
            "{kind} is given twice; a proxy takes each kind of fault once"
        )));
    }
    *slot = Some(fault);
    Ok(())
}

fn value<T: Clone>(param: &Param<T>, kind: &str, field: &str) -> Result<T, DriverError> {
    match param {
        Param::Value(v) => Ok(v.clone()),
        Param::Ref(name) => Err(DriverError::Input(format!(
            "{kind}: {field} still refers to parameter \"{{{{{name}}}}}\"; \
             resolve the fault's parameters before handing it to the proxy"
        ))),
    }
}

fn duration(
    param: &Param<HumanDuration>,
    kind: &str,
    field: &str,
) -> Result<Duration, DriverError> {
    value(param, kind, field).map(HumanDuration::as_duration)
}
