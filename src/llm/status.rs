//! One provider status for every view (API, dashboard, health, alerts), computed from the three
//! things that know something: the breaker, the outcomes of the latest real calls, and the
//! health probe. The probe alone is not enough: a provider whose `/models` answers while every
//! chat call returns 500 is failing, and an operator must see that before the breaker opens.

use std::collections::VecDeque;

use serde::Serialize;

use super::breaker::BreakerSnapshot;

/// Real calls remembered per provider.
pub const RECENT_CALLS: usize = 10;
/// Failed calls in a row that make a provider `failing`, whatever its probe says.
pub const FAILING_STREAK: u32 = 3;

/// The outcomes of a provider's latest calls, oldest first.
#[derive(Debug, Default)]
pub struct RecentCalls {
    outcomes: VecDeque<bool>,
    last_error: Option<(String, i64)>,
}

impl RecentCalls {
    /// Records one call: `Err` carries its message (no secrets: provider errors are redacted
    /// where they are made).
    pub fn record(&mut self, outcome: Result<(), &str>) {
        if self.outcomes.len() == RECENT_CALLS {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(outcome.is_ok());
        if let Err(e) = outcome {
            self.last_error = Some((e.to_owned(), crate::db::now_ms()));
        }
    }

    fn counts(&self) -> (u32, u32, u32) {
        let calls = self.outcomes.len() as u32;
        let failures = self.outcomes.iter().filter(|ok| !**ok).count() as u32;
        let streak = self.outcomes.iter().rev().take_while(|ok| !**ok).count() as u32;
        (calls, failures, streak)
    }
}

/// What the health probe last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe<'a> {
    /// Not probed yet.
    Unchecked,
    /// It answered.
    Passed,
    /// It failed, with this message.
    Failed(&'a str),
}

/// A provider's status.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProviderStatus {
    /// `ok`, `degraded` (some calls fail, or it is rate-limited or on trial), `failing` (calls
    /// fail in a row, its breaker is open or it is ejected, or its probe fails) or `unchecked`
    /// (no probe and no call yet).
    pub status: &'static str,
    /// One line for people: "failing 6/6 calls: HTTP 500 …".
    pub summary: String,
    /// The probe: `ok`, `failing` or `unchecked`.
    pub probe: &'static str,
    /// Latest real calls counted (at most 10).
    pub recent_calls: u32,
    /// Of which failed.
    pub recent_failures: u32,
    /// The newest failure's message.
    pub last_error: Option<String>,
    /// When it happened, ms since epoch.
    pub last_error_at: Option<i64>,
}

impl ProviderStatus {
    /// Combines the three sources; the worst one wins.
    pub fn of(breaker: &BreakerSnapshot, recent: &RecentCalls, probe: Probe<'_>) -> Self {
        let (calls, failures, streak) = recent.counts();
        let last_error = recent.last_error.as_ref().map(|(e, _)| e.clone());
        let calls_note = || format!("failing {failures}/{calls} calls");
        let with_error = |head: String| match &last_error {
            Some(e) if failures > 0 => format!("{head}: {e}"),
            _ => head,
        };
        let (status, summary) = match (breaker.state, probe) {
            ("ejected", _) => (
                "failing",
                format!(
                    "ejected: {}",
                    breaker
                        .reason
                        .as_deref()
                        .unwrap_or("bad credentials or no quota")
                ),
            ),
            ("open", _) => (
                "failing",
                with_error(format!(
                    "circuit breaker open{}, after {}",
                    breaker
                        .retry_in_secs
                        .map_or(String::new(), |s| format!(" (next try in {s:.0} s)")),
                    calls_note()
                )),
            ),
            (_, Probe::Failed(e)) => ("failing", format!("health probe failing: {e}")),
            _ if streak >= FAILING_STREAK => ("failing", with_error(calls_note())),
            ("rate_limited", _) => (
                "degraded",
                format!(
                    "rate-limited{}",
                    breaker
                        .retry_in_secs
                        .map_or(String::new(), |s| format!(" for {s:.0} s more"))
                ),
            ),
            ("half_open", _) => ("degraded", "on trial after its breaker was open".to_owned()),
            _ if streak > 0 || failures * 2 > calls => ("degraded", with_error(calls_note())),
            (_, Probe::Unchecked) if calls == 0 => ("unchecked", "not checked yet".to_owned()),
            _ if calls == 0 => ("ok", "health probe passes; no call yet".to_owned()),
            _ => (
                "ok",
                format!("{}/{calls} calls succeeded", calls - failures),
            ),
        };
        Self {
            status,
            summary,
            probe: match probe {
                Probe::Unchecked => "unchecked",
                Probe::Passed => "ok",
                Probe::Failed(_) => "failing",
            },
            recent_calls: calls,
            recent_failures: failures,
            last_error,
            last_error_at: recent.last_error.as_ref().map(|(_, at)| *at),
        }
    }

    /// Whether requests to it fail now (the monitor alerts on this).
    pub fn is_failing(&self) -> bool {
        self.status == "failing"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed() -> BreakerSnapshot {
        BreakerSnapshot {
            state: "closed",
            retry_in_secs: None,
            volume: 0,
            failure_rate: 0.0,
            reason: None,
        }
    }

    fn calls(outcomes: &[bool]) -> RecentCalls {
        let mut r = RecentCalls::default();
        for ok in outcomes {
            r.record(if *ok { Ok(()) } else { Err("HTTP 500: boom") });
        }
        r
    }

    #[test]
    fn three_failed_calls_make_it_failing_while_the_probe_passes() {
        let s = ProviderStatus::of(&closed(), &calls(&[true, false, false]), Probe::Passed);
        assert_eq!(s.status, "degraded", "{s:?}");
        let s = ProviderStatus::of(
            &closed(),
            &calls(&[true, false, false, false]),
            Probe::Passed,
        );
        assert_eq!(s.status, "failing");
        assert_eq!(s.summary, "failing 3/4 calls: HTTP 500: boom");
        assert_eq!((s.recent_calls, s.recent_failures), (4, 3));
        assert_eq!(s.probe, "ok");
    }

    #[test]
    fn a_success_after_failures_is_degraded_until_they_age_out() {
        let s = ProviderStatus::of(&closed(), &calls(&[false, false, true]), Probe::Passed);
        assert_eq!(s.status, "degraded", "two of three failed: {s:?}");
        let s = ProviderStatus::of(&closed(), &calls(&[false, true, true, true]), Probe::Passed);
        assert_eq!(s.status, "ok");
        assert_eq!(s.summary, "3/4 calls succeeded");
        let s = ProviderStatus::of(&closed(), &calls(&[false; 12]), Probe::Passed);
        assert_eq!(
            s.recent_calls, RECENT_CALLS as u32,
            "only the latest are kept"
        );
    }

    #[test]
    fn the_breaker_and_the_probe_each_decide_alone() {
        let open = BreakerSnapshot {
            state: "open",
            retry_in_secs: Some(8.2),
            ..closed()
        };
        let s = ProviderStatus::of(&open, &calls(&[false; 5]), Probe::Passed);
        assert_eq!(s.status, "failing");
        assert!(
            s.summary
                .starts_with("circuit breaker open (next try in 8 s), after failing 5/5 calls"),
            "{}",
            s.summary
        );
        let s = ProviderStatus::of(&closed(), &calls(&[]), Probe::Failed("401 unauthorized"));
        assert_eq!((s.status, s.probe), ("failing", "failing"));
        assert_eq!(s.summary, "health probe failing: 401 unauthorized");
        let s = ProviderStatus::of(&closed(), &calls(&[]), Probe::Unchecked);
        assert_eq!(s.status, "unchecked");
        let s = ProviderStatus::of(&closed(), &calls(&[]), Probe::Passed);
        assert_eq!(s.status, "ok");
    }
}
