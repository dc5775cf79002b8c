//! Backoff between attempts: the one place that computes retry delays.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long to wait before the next attempt of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Backoff {
    /// The same delay every time.
    Fixed {
        /// Delay in ms.
        delay_ms: u64,
    },
    /// `base × 2^(n-1)` after the n-th failure, capped at `max`, minus up to `jitter` of it at
    /// random so that jobs failed together do not retry together.
    Exponential {
        /// Delay after the first failure, in ms.
        base_ms: u64,
        /// Upper bound, in ms.
        max_ms: u64,
        /// Fraction (0–1) of the delay that is randomised away.
        jitter: f64,
    },
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::Exponential {
            base_ms: 1_000,
            max_ms: 5 * 60_000,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// Delay after the `failures`-th failed attempt (1 for the first), with `unit` a uniform
    /// random number in `[0, 1)` for the jitter.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        match *self {
            Backoff::Fixed { delay_ms } => Duration::from_millis(delay_ms),
            Backoff::Exponential {
                base_ms,
                max_ms,
                jitter,
            } => {
                let exp = failures.saturating_sub(1).min(40);
                let full = base_ms.saturating_mul(1u64 << exp).min(max_ms);
                let jitter = jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
                Duration::from_millis((full as f64 * (1.0 - jitter)) as u64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_then_caps() {
        let b = Backoff::Exponential {
            base_ms: 100,
            max_ms: 1_000,
            jitter: 0.0,
        };
        let ms: Vec<u128> = (1..=6).map(|n| b.delay(n, 0.5).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn jitter_only_shortens_and_stays_within_its_fraction() {
        let b = Backoff::Exponential {
            base_ms: 1_000,
            max_ms: 60_000,
            jitter: 0.25,
        };
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(1_000));
        assert_eq!(b.delay(1, 0.999_999), Duration::from_millis(750));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(3_500));
    }

    #[test]
    fn huge_failure_counts_do_not_overflow() {
        let b = Backoff::Exponential {
            base_ms: u64::MAX / 2,
            max_ms: u64::MAX,
            jitter: 0.0,
        };
        assert_eq!(b.delay(u32::MAX, 0.0), Duration::from_millis(u64::MAX));
    }
}
