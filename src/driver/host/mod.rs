//! Host stressors, run as child processes of chaosdeck that die with it.
