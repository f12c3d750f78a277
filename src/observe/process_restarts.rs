//! The process sampler: whether the process target runs, and how many times another
//! process has taken its selector's place since the run began (a supervisor, systemd
//! or a restart policy bringing it back after a kill), read from `/proc`.
//!
//! A selector by pid counts no restarts: a pid that dies stays dead, and its
//! successor has another pid.

use super::probe_check::driver_detail;
use super::sample::MetricSample;
use super::sampler::{sample, ReadError, Source};
use crate::driver::process::{resolve_pid, ProcessSelector};

/// Samples one process target.
pub(crate) struct ProcessRestartsSource {
    selector: ProcessSelector,
    /// `port:8080`, `name:nginx`, `pid:42`: the middle of the series names.
    label: String,
    /// The pid seen last, so a new one counts as a restart.
    last_pid: Option<u32>,
    restarts: u32,
}

impl ProcessRestartsSource {
    pub fn new(selector: ProcessSelector) -> ProcessRestartsSource {
        ProcessRestartsSource {
            label: label(&selector),
            selector,
            last_pid: None,
            restarts: 0,
        }
    }

    /// Folds the pid the selector names now into the count.
    fn saw(&mut self, pid: u32) {
        if self.last_pid.is_some_and(|last| last != pid) {
            self.restarts += 1;
        }
        self.last_pid = Some(pid);
    }

    fn samples(&self, running: bool) -> Vec<MetricSample> {
        vec![
            sample(
                format!("process.{}.running", self.label),
                f64::from(u8::from(running)),
            ),
            sample(
                format!("process.{}.restarts", self.label),
                f64::from(self.restarts),
            ),
        ]
    }
}

impl Source for ProcessRestartsSource {
    fn name(&self) -> String {
        format!("process:{}", self.label)
    }

    async fn read(&mut self) -> Result<Vec<MetricSample>, ReadError> {
        match resolve_pid(&self.selector, "sample") {
            Ok(pid) => {
                self.saw(pid);
                Ok(self.samples(true))
            }
            Err(e) => Err(ReadError::new(driver_detail(&e)).with(self.samples(false))),
        }
    }
}

/// The selector in series-name form.
fn label(selector: &ProcessSelector) -> String {
    match selector {
        ProcessSelector::Pid(pid) => format!("pid:{pid}"),
        ProcessSelector::Name(name) => format!("name:{name}"),
        ProcessSelector::Port(port) => format!("port:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_pid_in_the_selectors_place_is_a_restart() {
        let mut source = ProcessRestartsSource::new(ProcessSelector::Port(8080));
        for pid in [100, 100, 200, 200, 300] {
            source.saw(pid);
        }
        let samples = source.samples(true);
        assert_eq!(samples[0].series, "process.port:8080.running");
        assert_eq!(samples[1].series, "process.port:8080.restarts");
        assert_eq!(samples[1].value, 2.0);
    }
}
