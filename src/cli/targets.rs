//! Target flags (`--conn`, `--container`, `--pid`, `--proxy` …) turned into driver
//! targets, with errors that name the flag.

use super::args::TargetArgs;
use crate::driver::docker::DockerTarget;
use crate::driver::postgres::{PgConnSpec, PgTarget};
use crate::driver::process::{ProcessSelector, ProcessTarget};
use crate::driver::targets::{ProxyTarget, Targets};
use crate::driver::DriverError;

pub fn from_args(args: &TargetArgs) -> Result<Targets, DriverError> {
    let postgres = match &args.conn {
        Some(conn) => Some(PgTarget {
            conn: PgConnSpec::parse(conn)?,
            data_dir: args.pg_data_dir.clone(),
            bin_dir: None,
        }),
        None => None,
    };
    let selector = match (&args.process, args.pid, args.listening_port) {
        (Some(name), _, _) => Some(ProcessSelector::Name(name.clone())),
        (None, Some(pid), _) => Some(ProcessSelector::Pid(pid)),
        (None, None, Some(port)) => Some(ProcessSelector::Port(port)),
        (None, None, None) => None,
    };
    let proxy = match &args.proxy {
        Some(text) => Some(ProxyTarget::parse(text)?),
        None => None,
    };
    let exe = std::env::current_exe()
        .map_err(|e| DriverError::Input(format!("cannot find the chaosdeck binary: {e}")))?;
    Ok(Targets {
        postgres,
        container: args.container.clone().map(DockerTarget::new),
        process: selector.map(|selector| ProcessTarget { selector }),
        proxy,
        exe,
    })
}

/// A named target from the config with the quick flags laid over it: a flag that is
/// given wins.
pub fn overlay(named: Targets, flags: Targets) -> Targets {
    Targets {
        postgres: flags.postgres.or(named.postgres),
        container: flags.container.or(named.container),
        process: flags.process.or(named.process),
        proxy: flags.proxy.or(named.proxy),
        exe: flags.exe,
    }
}
