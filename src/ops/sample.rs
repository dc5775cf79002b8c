//! One sample of the service and its machine, taken every monitoring interval.
//!
//! [`SystemSampler`] reads the operating system (`sysinfo` for CPU and memory, one `statvfs`
//! for the data directory's disk); the rest of a [`Sample`] comes from counters the service
//! keeps anyway ([`super::stats`], the providers' call totals, the queue counts).

use std::path::PathBuf;

pub use crate::store::Sample;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

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
