//! The server's resident memory and CPU time from `/proc/<pid>`.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use serde_json::{json, Value};

use crate::stats::round3;

/// One reading of a process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    /// `VmRSS` in KiB.
    pub rss_kb: u64,
    /// `utime + stime` in clock ticks.
    pub cpu_ticks: u64,
}

/// A process to sample.
#[derive(Clone, Debug)]
pub struct Proc {
    pid: u32,
    clk_tck: u64,
}

impl Proc {
    /// Samples process `pid`; asks `getconf CLK_TCK` once (100 if that fails).
    pub fn new(pid: u32) -> Proc {
        let clk_tck = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t: &u64| t > 0)
            .unwrap_or(100);
        Proc { pid, clk_tck }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Reads RSS and CPU time; `None` when the process is gone.
    pub fn sample(&self) -> Option<ProcSample> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name (which may hold spaces and parentheses): state is
        // field 3, utime field 14, stime field 15.
        let after = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(ProcSample {
            rss_kb,
            cpu_ticks: utime + stime,
        })
    }

    /// Clock ticks to seconds.
    pub fn secs(&self, ticks: u64) -> f64 {
        ticks as f64 / self.clk_tck as f64
    }
}

/// Samples RSS every 50 ms in the background and keeps the maximum, until stopped.
#[derive(Debug)]
pub struct RssWatch {
    max_kb: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RssWatch {
    /// Starts watching `proc` (does nothing without one). Stops by itself after `limit`.
    pub fn start(proc: Option<&Proc>, limit: Duration) -> RssWatch {
        let max_kb = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = proc.cloned().map(|p| {
            let (max_kb, stop) = (max_kb.clone(), stop.clone());
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + limit;
                while !stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < deadline {
                    if let Some(s) = p.sample() {
                        max_kb.fetch_max(s.rss_kb, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        });
        RssWatch { max_kb, stop, task }
    }

    /// Stops and returns the highest RSS seen, KiB.
    pub async fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.max_kb.load(Ordering::Relaxed)
    }
}

/// `{pid, rss_start_kb, rss_end_kb, cpu_s}` between two samples.
pub fn server_json(proc: Option<&Proc>, a: Option<ProcSample>, b: Option<ProcSample>) -> Value {
    match (proc, a, b) {
        (Some(p), Some(a), Some(b)) => json!({
            "pid": p.pid(),
            "rss_start_kb": a.rss_kb,
            "rss_end_kb": b.rss_kb,
            "cpu_s": round3(p.secs(b.cpu_ticks.saturating_sub(a.cpu_ticks))),
        }),
        _ => Value::Null,
    }
}

/// CPU seconds between two samples.
pub fn cpu_between(
    proc: Option<&Proc>,
    a: Option<ProcSample>,
    b: Option<ProcSample>,
) -> Option<f64> {
    match (proc, a, b) {
        (Some(p), Some(a), Some(b)) => Some(p.secs(b.cpu_ticks.saturating_sub(a.cpu_ticks))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let p = Proc::new(std::process::id());
        let s = p.sample().unwrap();
        assert!(s.rss_kb > 0);
    }
}
