//! Process faults: signals and freeze, by pid, name or listening port.
