//! Logs: the console plus `workflow.log` (everything at the configured level), `error.log`
//! (warnings and errors) and `performance.log` (latency and generation figures) in the log
//! folder. Files rotate by size (`workflow.log` → `workflow.log.1` …), so the disk use of a
//! service left alone for months is bounded by `max_file_mb × (keep_files + 1)` per log.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::config::LoggingConfig;

/// Target of performance events (`tracing::info!(target: PERF, …)`).
pub const PERF: &str = "blogflow::perf";

/// Lines each log file's writer thread queues before it drops new ones. `tracing-appender`
/// allocates its whole queue up front, 128,000 lines (4 MiB) per file by default, which was a
/// third of an idle service's memory; a service that logs a few lines a second needs far less.
pub const BUFFERED_LINES: usize = 4096;

/// Resident memory of this process in KiB (`VmRSS` in `/proc/self/status`; `None` where
/// there is no `/proc`).
pub fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Resident memory after each phase of start-up, so that the next growth shows where it
/// happens: the service logs it once it is up, and `blogflow bench idle-rss` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    phases: Vec<(&'static str, u64)>,
}

impl Footprint {
    /// Records the resident memory now, as the end of `phase`.
    pub fn mark(&mut self, phase: &'static str) {
        if let Some(kib) = resident_kib() {
            self.phases.push((phase, kib));
        }
    }

    /// Each phase with the resident memory at its end, KiB.
    pub fn phases(&self) -> &[(&'static str, u64)] {
        &self.phases
    }
}

/// `runtime, config and logging 9.1 MiB; database and store 9.8 MiB; …`: each phase with the
/// resident memory at its end ([`Footprint::parse`] reads it back).
impl std::fmt::Display for Footprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (phase, kib)) in self.phases.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{phase} {:.1} MiB", *kib as f64 / 1024.0)?;
        }
        Ok(())
    }
}

impl Footprint {
    /// Reads the displayed form back: each phase and its resident memory in MiB.
    pub fn parse(text: &str) -> Vec<(String, f64)> {
        text.split("; ")
            .filter_map(|part| {
                let (phase, mib) = part.strip_suffix(" MiB")?.rsplit_once(' ')?;
                Some((phase.to_owned(), mib.parse().ok()?))
            })
            .collect()
    }
}

/// A file that rotates when it grows past a size.
#[derive(Clone)]
pub struct RotatingFile {
    inner: Arc<Mutex<Rotating>>,
}

struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    keep: usize,
}

impl RotatingFile {
    /// Opens (appending) `path`.
    pub fn open(path: PathBuf, max_bytes: u64, keep: usize) -> io::Result<Self> {
        let file = crate::shared::private::open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            inner: Arc::new(Mutex::new(Rotating {
                path,
                file,
                size,
                max_bytes,
                keep,
            })),
        })
    }
}

impl Rotating {
    fn rotate(&mut self) -> io::Result<()> {
        let name = |i: usize| PathBuf::from(format!("{}.{i}", self.path.display()));
        let _ = std::fs::remove_file(name(self.keep));
        for i in (1..self.keep).rev() {
            let _ = std::fs::rename(name(i), name(i + 1));
        }
        std::fs::rename(&self.path, name(1))?;
        self.file = crate::shared::private::open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut r = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("log file lock poisoned"))?;
        if r.size + buf.len() as u64 > r.max_bytes && r.size > 0 {
            r.rotate()?;
        }
        let n = r.file.write(buf)?;
        r.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner
            .lock()
            .map_err(|_| io::Error::other("log file lock poisoned"))?
            .file
            .flush()
    }
}

/// Keeps the log writers alive; drop it last to flush.
pub struct LogGuards(#[expect(dead_code, reason = "held only to flush on drop")] Vec<WorkerGuard>);

/// Installs the global subscriber. Without a log folder (CLI one-shots), logs go to the console only.
pub fn init(config: &LoggingConfig, dir: Option<&Path>) -> io::Result<LogGuards> {
    let filter = || EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: journald and files get plain text.
    let console = fmt::layer()
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(io::stderr)
        .with_target(false)
        .with_filter(filter());
    let mut guards = Vec::new();
    let mut files: Vec<Box<dyn Layer<_> + Send + Sync>> = Vec::new();
    if let Some(dir) = dir {
        crate::shared::private::create_dir(dir)?;
        let mut open = |name: &str| -> io::Result<tracing_appender::non_blocking::NonBlocking> {
            let file =
                RotatingFile::open(dir.join(name), config.max_file_bytes, config.keep_files)?;
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(BUFFERED_LINES)
                .finish(file);
            guards.push(guard);
            Ok(writer)
        };
        let (workflow, errors, perf) = (
            open("workflow.log")?,
            open("error.log")?,
            open("performance.log")?,
        );
        let layer =
            |w: tracing_appender::non_blocking::NonBlocking| -> Box<dyn Layer<_> + Send + Sync> {
                if config.json {
                    fmt::layer().json().with_writer(w).boxed()
                } else {
                    fmt::layer().with_ansi(false).with_writer(w).boxed()
                }
            };
        files.push(layer(workflow).with_filter(filter()).boxed());
        files.push(layer(errors).with_filter(LevelFilter::WARN).boxed());
        files.push(
            layer(perf)
                .with_filter(Targets::new().with_target(PERF, LevelFilter::INFO))
                .boxed(),
        );
    }
    // An empty Vec of layers (and a `None` layer) report "nothing enabled", which silences the
    // console too: without files the console layer stands alone.
    if files.is_empty() {
        tracing_subscriber::registry()
            .with(console)
            .try_init()
            .map_err(io::Error::other)?;
    } else {
        tracing_subscriber::registry()
            .with(console)
            .with(files)
            .try_init()
            .map_err(io::Error::other)?;
    }
    Ok(LogGuards(guards))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_footprint_reads_back_what_it_displays() {
        let mut footprint = Footprint::default();
        footprint.mark("runtime, config and logging");
        footprint.mark("a second phase");
        let phases = Footprint::parse(&footprint.to_string());
        assert_eq!(phases.len(), 2, "{footprint}");
        assert_eq!(phases[0].0, "runtime, config and logging");
        for ((parsed, mib), (phase, kib)) in phases.iter().zip(footprint.phases()) {
            assert!(*mib > 0.0, "{parsed}");
            assert!(
                (mib - *kib as f64 / 1024.0).abs() < 0.051,
                "{phase}: {mib} vs {kib} KiB"
            );
        }
    }

    #[test]
    fn files_rotate_past_their_size_and_keep_a_bounded_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        let mut f = RotatingFile::open(path.clone(), 100, 2).unwrap();
        for i in 0..10 {
            writeln!(f, "line {i:02} {}", "x".repeat(40)).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["w.log", "w.log.1", "w.log.2"]);
        assert!(std::fs::read_to_string(&path).unwrap().contains("line 09"));
        assert!(std::fs::metadata(&path).unwrap().len() <= 100);
    }
}
