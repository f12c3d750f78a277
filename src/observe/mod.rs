//! Probes and samplers. Filled by the engine issue; nothing here yet.
