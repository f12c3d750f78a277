//! `targets.yaml`: named targets, probes, policy and theme choice. Filled by the
//! engine issue; nothing here yet.
