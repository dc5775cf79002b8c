//! Thresholds with hysteresis: a level is entered after `raise_after` samples at or above its
//! bound and left after `clear_after` samples below `clear_ratio × bound`, so a value hovering
//! at a bound does not flap between raise and resolve.

use serde::Serialize;

pub use crate::config::{Damping, Threshold};

/// How bad a value is. Ordered: `Ok < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Below the warning bound.
    Ok,
    /// At or above the warning bound.
    Warning,
    /// At or above the critical bound.
    Critical,
}

impl Threshold {
    /// The level of `v` with both bounds scaled by `scale`.
    fn level(&self, v: f64, scale: f64) -> Level {
        if v >= self.critical * scale {
            Level::Critical
        } else if v >= self.warn * scale {
            Level::Warning
        } else {
            Level::Ok
        }
    }
}

/// The level of one metric over time.
#[derive(Debug, Clone)]
pub struct Hysteresis {
    level: Level,
    /// The level the recent samples point to and for how many samples in a row.
    pending: Option<(Level, u32)>,
}

impl Default for Hysteresis {
    fn default() -> Self {
        Self {
            level: Level::Ok,
            pending: None,
        }
    }
}

impl Hysteresis {
    /// The confirmed level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Feeds one sample; returns the new level when it changed.
    pub fn observe(&mut self, v: f64, t: &Threshold, d: &Damping) -> Option<Level> {
        let raw = t.level(v, 1.0);
        let (candidate, needed) = if raw > self.level {
            (raw, d.raise_after)
        } else {
            // Falling: only as far as the value is below the clearing bounds.
            (t.level(v, d.clear_ratio).min(self.level), d.clear_after)
        };
        if candidate == self.level {
            self.pending = None;
            return None;
        }
        let streak = match self.pending {
            Some((l, n)) if l == candidate => n + 1,
            _ => 1,
        };
        if streak >= needed.max(1) {
            self.level = candidate;
            self.pending = None;
            Some(candidate)
        } else {
            self.pending = Some((candidate, streak));
            None
        }
    }
}

/// A yes/no condition that must hold (or not hold) for a number of samples before it flips.
#[derive(Debug, Clone, Default)]
pub struct Debounce {
    on: bool,
    streak: u32,
}

impl Debounce {
    /// Whether the condition is confirmed.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Feeds one sample; returns the new state when it flipped.
    pub fn observe(&mut self, holds: bool, d: &Damping) -> Option<bool> {
        if holds == self.on {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if holds { d.raise_after } else { d.clear_after };
        if self.streak >= needed.max(1) {
            self.on = holds;
            self.streak = 0;
            Some(holds)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMORY: Threshold = Threshold {
        warn: 80.0,
        critical: 90.0,
    };

    fn feed(h: &mut Hysteresis, values: &[f64]) -> Vec<Option<Level>> {
        let d = Damping::default();
        values.iter().map(|v| h.observe(*v, &MEMORY, &d)).collect()
    }

    #[test]
    fn a_level_needs_two_samples_to_raise_and_does_not_flap_at_its_bound() {
        let mut h = Hysteresis::default();
        // One spike is not enough; two in a row are.
        assert_eq!(
            feed(&mut h, &[85.0, 70.0, 85.0, 86.0]),
            [None, None, None, Some(Level::Warning)]
        );
        // Hovering around 80 (above the 72 clear bound) keeps the warning without resends.
        assert_eq!(feed(&mut h, &[79.0, 81.0, 78.0, 80.5, 75.0]), [None; 5]);
        assert_eq!(h.level(), Level::Warning);
        // Critical, then a fall to 85: stays critical (85 ≥ 81 = 90 × 0.9).
        assert_eq!(feed(&mut h, &[95.0, 96.0]), [None, Some(Level::Critical)]);
        assert_eq!(feed(&mut h, &[85.0, 85.0]), [None, None]);
        // Below 81 but above 72: steps down to warning, then to ok below 72.
        assert_eq!(feed(&mut h, &[78.0, 78.0]), [None, Some(Level::Warning)]);
        assert_eq!(feed(&mut h, &[71.0, 50.0]), [None, Some(Level::Ok)]);
    }

    #[test]
    fn a_jump_straight_to_critical_skips_warning() {
        let mut h = Hysteresis::default();
        assert_eq!(feed(&mut h, &[99.0, 99.0]), [None, Some(Level::Critical)]);
        assert_eq!(feed(&mut h, &[10.0, 10.0]), [None, Some(Level::Ok)]);
    }

    #[test]
    fn debounce_flips_after_the_configured_streaks() {
        let d = Damping {
            raise_after: 3,
            clear_after: 1,
            clear_ratio: 0.9,
        };
        let mut f = Debounce::default();
        let seen: Vec<_> = [true, true, false, true, true, true, false]
            .iter()
            .map(|h| f.observe(*h, &d))
            .collect();
        assert_eq!(
            seen,
            [None, None, None, None, None, Some(true), Some(false)]
        );
    }
}
