//! Min, max and mean of every sampled series over a run, kept as running sums so a
//! long run costs no memory.

use std::collections::BTreeMap;

use super::record::SeriesSummary;
use crate::observe::MetricBatch;

#[derive(Debug, Clone, Default)]
pub struct SeriesStats {
    series: BTreeMap<String, Accumulator>,
    /// Failed readings per source, with the latest error.
    pub errors: BTreeMap<String, (u64, String)>,
}

#[derive(Debug, Clone, Copy)]
struct Accumulator {
    samples: u64,
    min: f64,
    max: f64,
    sum: f64,
}

impl SeriesStats {
    pub fn add(&mut self, batch: &MetricBatch) {
        if let Some(error) = &batch.error {
            let entry = self
                .errors
                .entry(batch.source.clone())
                .or_insert((0, String::new()));
            entry.0 += 1;
            entry.1 = error.clone();
        }
        for sample in &batch.samples {
            if !sample.value.is_finite() {
                continue;
            }
            let acc = self
                .series
                .entry(sample.series.clone())
                .or_insert(Accumulator {
                    samples: 0,
                    min: f64::INFINITY,
                    max: f64::NEG_INFINITY,
                    sum: 0.0,
                });
            acc.samples += 1;
            acc.min = acc.min.min(sample.value);
            acc.max = acc.max.max(sample.value);
            acc.sum += sample.value;
        }
    }

    /// One summary per series, sorted by name.
    pub fn summaries(&self) -> Vec<SeriesSummary> {
        self.series
            .iter()
            .map(|(name, acc)| SeriesSummary {
                name: name.clone(),
                samples: acc.samples,
                min: acc.min,
                max: acc.max,
                mean: acc.sum / acc.samples.max(1) as f64,
            })
            .collect()
    }

    /// The largest value a series reached, if it was sampled.
    pub fn max_of(&self, name: &str) -> Option<f64> {
        self.series.get(name).map(|acc| acc.max)
    }
}
