//! Trends: a least-squares line through the recent samples of a metric. A value that climbs
//! steadily (a leak, a slowly saturating disk, a provider getting slower) is reported while it
//! is still below its warning bound, with the time left until it crosses it.

use std::time::Duration;

pub use crate::config::TrendRule;

/// A fitted line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Change per second.
    pub slope: f64,
    /// The line's value at the last sample.
    pub last: f64,
    /// Coefficient of determination (0–1): how well a line explains the samples.
    pub r2: f64,
}

/// Fits `(seconds, value)` points; `None` for fewer than 3 points or no spread in time.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in points {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
        syy += (y - my) * (y - my);
    }
    if sxx <= f64::EPSILON {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = if syy <= f64::EPSILON {
        1.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    let last_x = points.iter().map(|p| p.0).fold(f64::MIN, f64::max);
    Some(Fit {
        slope,
        last: my + slope * (last_x - mx),
        r2,
    })
}

/// A projected crossing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// Change per hour.
    pub per_hour: f64,
    /// Time until the line reaches the bound.
    pub eta: Duration,
}

/// The projected crossing of `bound` by the line through `points`, if it is rising steadily,
/// still below the bound, and due within the rule's horizon.
pub fn forecast(points: &[(f64, f64)], bound: f64, rule: &TrendRule) -> Option<Forecast> {
    if points.len() < rule.min_points {
        return None;
    }
    let f = fit(points)?;
    if f.slope <= 0.0 || f.r2 < rule.min_r2 || f.last >= bound {
        return None;
    }
    let eta = (bound - f.last) / f.slope;
    (eta <= rule.horizon.as_secs_f64()).then(|| Forecast {
        per_hour: f.slope * 3600.0,
        eta: Duration::from_secs_f64(eta),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize, step_secs: f64, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let t = i as f64 * step_secs;
                (t, f(t))
            })
            .collect()
    }

    #[test]
    fn a_steady_climb_is_forecast_before_it_crosses() {
        // Memory at 60 % rising 5 %/h, sampled every 15 s for an hour: 80 % in about 3 h.
        let points = series(240, 15.0, |t| 60.0 + 5.0 * t / 3600.0);
        let f = forecast(&points, 80.0, &TrendRule::default()).unwrap();
        assert!((f.per_hour - 5.0).abs() < 1e-6);
        let hours = f.eta.as_secs_f64() / 3600.0;
        assert!((hours - 3.0).abs() < 0.01, "{hours}");
    }

    #[test]
    fn flat_falling_noisy_distant_or_short_series_are_not_trends() {
        let rule = TrendRule::default();
        let flat = series(240, 15.0, |_| 60.0);
        assert_eq!(forecast(&flat, 80.0, &rule), None);
        let falling = series(240, 15.0, |t| 70.0 - t / 3600.0);
        assert_eq!(forecast(&falling, 80.0, &rule), None);
        // A saw-tooth (garbage collection, caches) rising a little: r² too low.
        let noisy = series(240, 15.0, |t| {
            60.0 + t / 36000.0
                + if (t as u64 / 15).is_multiple_of(2) {
                    10.0
                } else {
                    -10.0
                }
        });
        assert_eq!(forecast(&noisy, 80.0, &rule), None);
        // Rising but 20 h away: beyond the 6 h horizon.
        let slow = series(240, 15.0, |t| 60.0 + t / 3600.0);
        assert_eq!(forecast(&slow, 80.0, &rule), None);
        assert_eq!(
            forecast(&series(5, 15.0, |t| t), 80.0, &rule),
            None,
            "too few points"
        );
        assert_eq!(fit(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]), None);
    }
}
