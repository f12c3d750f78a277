//! The fault proxy: a TCP proxy whose faults change while connections are open.
