//! One time series as the charts need it: a contiguous slice of (seconds since the
//! run started, value), oldest first, trimmed to a history window as it grows.

/// Points of one series kept for a history window. Memory stays bounded: old points
/// are dropped in batches once they are an eighth of a window past it, and the
/// count never passes [`SeriesBuffer::MAX_POINTS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesBuffer {
    points: Vec<(f64, f64)>,
}

impl SeriesBuffer {
    /// The most points a series holds, whatever the sample rate.
    pub const MAX_POINTS: usize = 16_384;

    /// Appends a reading at `t` seconds and drops what is older than `window`
    /// seconds before it. A reading earlier than the latest is moved up to it, so
    /// the points stay sorted.
    pub fn push(&mut self, t: f64, value: f64, window: f64) {
        let t = match self.points.last() {
            Some(&(last, _)) if t < last => last,
            _ => t,
        };
        self.points.push((t, value));
        let cutoff = t - window;
        let slack = window / 8.0;
        let oldest = self.points.first().map_or(t, |p| p.0);
        if oldest < cutoff - slack {
            let old = self.points.partition_point(|p| p.0 < cutoff);
            self.points.drain(..old);
        }
        if self.points.len() > Self::MAX_POINTS {
            let excess = self.points.len() - Self::MAX_POINTS * 3 / 4;
            self.points.drain(..excess);
        }
    }

    /// Every point kept, oldest first.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// The points at or after `from` seconds, plus the one just before (so a line
    /// starts at the chart's left edge rather than at the first point inside it).
    pub fn since(&self, from: f64) -> &[(f64, f64)] {
        let first = self.points.partition_point(|p| p.0 < from);
        &self.points[first.saturating_sub(1)..]
    }

    /// The latest reading.
    pub fn latest(&self) -> Option<f64> {
        self.points.last().map(|p| p.1)
    }

    /// The largest value at or after `from` seconds.
    pub fn peak_since(&self, from: f64) -> Option<f64> {
        self.since(from).iter().map(|p| p.1).reduce(f64::max)
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_to_the_window_with_bounded_slack() {
        let mut s = SeriesBuffer::default();
        for i in 0..(4 * 720) {
            s.push(i as f64 / 4.0, i as f64, 600.0);
        }
        let last = s.points().last().map_or(0.0, |p| p.0);
        let first = s.points()[0].0;
        assert!(first >= last - 600.0 - 75.0, "first {first}, last {last}");
        assert!(s.len() <= 4 * 675 + 4, "{} points", s.len());
        assert!(first > 0.0, "the oldest points were never dropped");
    }

    #[test]
    fn caps_the_count_when_readings_share_a_time() {
        let mut s = SeriesBuffer::default();
        for i in 0..(SeriesBuffer::MAX_POINTS + 10) {
            s.push(1.0, i as f64, 600.0);
        }
        assert!(s.len() <= SeriesBuffer::MAX_POINTS);
        assert_eq!(s.latest(), Some((SeriesBuffer::MAX_POINTS + 9) as f64));
    }

    #[test]
    fn late_readings_keep_the_points_sorted() {
        let mut s = SeriesBuffer::default();
        s.push(5.0, 1.0, 600.0);
        s.push(4.0, 2.0, 600.0);
        assert_eq!(s.points(), &[(5.0, 1.0), (5.0, 2.0)]);
    }

    #[test]
    fn since_starts_one_point_before_the_edge() {
        let mut s = SeriesBuffer::default();
        for t in 0..10 {
            s.push(t as f64, t as f64 * 2.0, 600.0);
        }
        assert_eq!(s.since(4.5)[0], (4.0, 8.0));
        assert_eq!(s.since(-1.0).len(), 10);
        assert_eq!(s.peak_since(4.5), Some(18.0));
        assert_eq!(s.since(100.0), &[(9.0, 18.0)]);
    }
}
