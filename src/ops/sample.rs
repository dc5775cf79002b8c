//! One sample of the service and its machine, taken every monitoring interval.
//!
//! [`SystemSampler`] reads the operating system (`sysinfo` for CPU and memory, one `statvfs`
//! for the data directory's disk); the rest of a [`Sample`] comes from counters the service
//! keeps anyway ([`super::stats`], the providers' call totals, the queue counts).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// What the monitor records each interval. Rates and quantiles cover the interval since the
/// previous sample; `None` means "nothing to measure" (no request, no post), not zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sample {
    /// When, ms since epoch.
    pub ts: i64,
    /// This process's CPU, % of one core.
    pub cpu_process_pct: f64,
    /// The machine's CPU, % of all cores.
    pub cpu_system_pct: f64,
    /// This process's resident memory, MiB.
    pub memory_process_mib: f64,
    /// Memory in use on the machine (or in its cgroup, when that is smaller), %.
    pub memory_system_pct: f64,
    /// Space used on the data directory's file system, %.
    pub disk_used_pct: f64,
    /// API answers in the interval.
    pub api_requests: u64,
    /// API p95 latency, seconds.
    pub api_p95_secs: Option<f64>,
    /// LLM calls in the interval.
    pub llm_calls: u64,
    /// LLM p95 latency, seconds.
    pub llm_p95_secs: Option<f64>,
    /// Posts written in the interval.
    pub posts: u64,
    /// Mean time to write a post, seconds.
    pub generation_secs: Option<f64>,
    /// Job attempts finished per minute.
    pub jobs_per_min: f64,
    /// Failed operations (API 5xx, failed job attempts) over the error-rate window, %.
    pub error_rate_pct: Option<f64>,
    /// Jobs waiting (all queues); `None` while the queue is unreachable.
    pub queue_waiting: Option<u64>,
    /// Jobs running (all queues).
    pub queue_active: Option<u64>,
    /// Jobs waiting for a retry or a start time (all queues).
    pub queue_delayed: Option<u64>,
    /// Jobs that failed for good (all queues).
    pub queue_failed: Option<u64>,
    /// Operations (API answers, job attempts) in the interval.
    pub operations: u64,
    /// Of which failed (API 5xx, failed job attempts).
    pub failed_operations: u64,
}

impl Sample {
    /// The five-minute summary of `samples` stamped `ts`: means of levels and latencies, sums
    /// of counts, the last queue depths.
    pub fn summarize(ts: i64, samples: &[Sample]) -> Sample {
        let n = samples.len().max(1) as f64;
        let mean = |f: fn(&Sample) -> f64| samples.iter().map(f).sum::<f64>() / n;
        let mean_some = |f: fn(&Sample) -> Option<f64>| {
            let v: Vec<f64> = samples.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let sum = |f: fn(&Sample) -> u64| samples.iter().map(f).sum::<u64>();
        let last = |f: fn(&Sample) -> Option<u64>| samples.iter().rev().find_map(f);
        Sample {
            ts,
            cpu_process_pct: mean(|s| s.cpu_process_pct),
            cpu_system_pct: mean(|s| s.cpu_system_pct),
            memory_process_mib: mean(|s| s.memory_process_mib),
            memory_system_pct: mean(|s| s.memory_system_pct),
            disk_used_pct: mean(|s| s.disk_used_pct),
            api_requests: sum(|s| s.api_requests),
            api_p95_secs: mean_some(|s| s.api_p95_secs),
            llm_calls: sum(|s| s.llm_calls),
            llm_p95_secs: mean_some(|s| s.llm_p95_secs),
            posts: sum(|s| s.posts),
            generation_secs: mean_some(|s| s.generation_secs),
            jobs_per_min: mean(|s| s.jobs_per_min),
            error_rate_pct: mean_some(|s| s.error_rate_pct),
            queue_waiting: last(|s| s.queue_waiting),
            queue_active: last(|s| s.queue_active),
            queue_delayed: last(|s| s.queue_delayed),
            queue_failed: last(|s| s.queue_failed),
            operations: sum(|s| s.operations),
            failed_operations: sum(|s| s.failed_operations),
        }
    }
}

/// The operating-system part of a sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SystemFigures {
    /// This process's CPU, % of one core, since the previous reading.
    pub cpu_process_pct: f64,
    /// The machine's CPU, % of all cores, since the previous reading.
    pub cpu_system_pct: f64,
    /// Resident memory of this process, bytes.
    pub memory_process_bytes: u64,
    /// Memory in use, %.
    pub memory_system_pct: f64,
    /// Memory of the machine (or its cgroup), bytes.
    pub memory_total_bytes: u64,
    /// Disk in use where the data lives, %.
    pub disk_used_pct: f64,
    /// Free bytes on that disk.
    pub disk_free_bytes: u64,
}

/// Reads CPU, memory and disk. Keeps `sysinfo`'s state between readings, because CPU usage
/// is a difference between two readings.
pub struct SystemSampler {
    /// `None` where `sysinfo` cannot read the system: figures stay zero.
    system: Option<System>,
    pid: Option<Pid>,
    data_dir: PathBuf,
}

impl SystemSampler {
    /// A sampler for this process; disk figures are for the file system holding `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        let mut s = Self {
            system: System::new()
                .inspect_err(|e| tracing::warn!(error = %e, "cannot read CPU and memory figures"))
                .ok(),
            pid: sysinfo::get_current_pid().ok(),
            data_dir,
        };
        // Prime the CPU counters so that the first real reading covers a real interval.
        let _ = s.read();
        s
    }

    /// One reading. Cost: a handful of `/proc` reads and one `statvfs` (see `blogflow bench
    /// sampler`).
    pub fn read(&mut self) -> SystemFigures {
        let mut figures = SystemFigures::default();
        if let Some((used_pct, free)) = disk_usage(&self.data_dir) {
            figures.disk_used_pct = used_pct;
            figures.disk_free_bytes = free;
        }
        let Some(system) = self.system.as_mut() else {
            return figures;
        };
        system.refresh_cpu_usage();
        system.refresh_memory();
        figures.cpu_system_pct = f64::from(system.global_cpu_usage());
        let (total, used) = match system.cgroup_limits() {
            Some(c) if c.total_memory > 0 && c.total_memory < system.total_memory() => {
                (c.total_memory, c.total_memory.saturating_sub(c.free_memory))
            }
            _ => (
                system.total_memory(),
                system
                    .total_memory()
                    .saturating_sub(system.available_memory()),
            ),
        };
        figures.memory_total_bytes = total;
        if total > 0 {
            figures.memory_system_pct = used as f64 * 100.0 / total as f64;
        }
        if let Some(pid) = self.pid {
            system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                false,
                ProcessRefreshKind::nothing().with_cpu().with_memory(),
            );
            if let Some(p) = system.process(pid) {
                figures.cpu_process_pct = f64::from(p.cpu_usage());
                figures.memory_process_bytes = p.memory();
            }
        }
        figures
    }
}

/// Used % and free bytes (for unprivileged users) of the file system holding `path`, or of
/// its nearest existing ancestor (the data directory may not exist yet).
fn disk_usage(path: &std::path::Path) -> Option<(f64, u64)> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let existing = if existing.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        existing
    };
    let s = rustix::fs::statvfs(existing).ok()?;
    let total = s.f_blocks.saturating_mul(s.f_frsize);
    let free = s.f_bavail.saturating_mul(s.f_frsize);
    // Used as `df` counts it: blocks not free, over what an unprivileged user can reach.
    let used = s
        .f_blocks
        .saturating_sub(s.f_bfree)
        .saturating_mul(s.f_frsize);
    let reachable = used + free;
    (total > 0 && reachable > 0).then(|| (used as f64 * 100.0 / reachable as f64, free))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_within_their_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SystemSampler::new(dir.path().join("not/yet/created"));
        let f = s.read();
        assert!((0.0..=100.0).contains(&f.cpu_system_pct), "{f:?}");
        assert!(
            f.memory_system_pct > 0.0 && f.memory_system_pct <= 100.0,
            "{f:?}"
        );
        assert!(f.memory_process_bytes > 1 << 20, "{f:?}");
        assert!(f.disk_used_pct > 0.0 && f.disk_used_pct <= 100.0, "{f:?}");
        assert!(f.disk_free_bytes > 0, "{f:?}");
    }
}
