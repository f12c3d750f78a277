//! Docker faults through bollard: kill, stop, pause, restart, network disconnect, memory limit, CPU throttle.
