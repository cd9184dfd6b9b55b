//! CPU time per run, a cross-check printed by the timing benches next to criterion's wall-clock
//! medians: other processes on a busy machine inflate wall time (they take the CPU away) but
//! not this thread's CPU time; a process's CPU time and the machine's load average, printed
//! by the load benches. Shared by the benches through `#[path]` (and `common`).
// Each bench uses a part of this module.
#![allow(dead_code)]

use std::time::Instant;

/// True when a timing bench should run its cross-checks after criterion's runs: under
/// `cargo bench` (criterion's `--bench` flag), not when `cargo test --benches` runs each
/// benchmark once, and not under `--profile-time`, so that a profiler samples only the
/// function it was pointed at.
pub fn cross_checks_wanted() -> bool {
    let (mut bench, mut profiling) = (false, false);
    for arg in std::env::args() {
        bench |= arg == "--bench";
        profiling |= arg == "--profile-time";
    }
    bench && !profiling
}

/// Runs `f` for about `wall` seconds and returns (runs, CPU microseconds per run): a
/// cross-check of the wall-clock medians that other processes on a busy machine cannot
/// inflate (they take the CPU away, which wall time counts and thread CPU time does not).
pub fn cpu_time_per_run(wall: f64, mut f: impl FnMut()) -> Option<(u64, f64)> {
    let start = Instant::now();
    let cpu0 = thread_cpu_ns()?;
    let mut runs = 0u64;
    while start.elapsed().as_secs_f64() < wall {
        for _ in 0..100 {
            f();
        }
        runs += 100;
    }
    let cpu_ns = thread_cpu_ns()?.saturating_sub(cpu0);
    Some((runs, cpu_ns as f64 / 1e3 / runs as f64))
}

/// CPU time this thread has run so far, in nanoseconds (`/proc/thread-self/schedstat`, Linux);
/// `None` where it cannot be read. Unlike wall time it does not count time spent waiting for
/// a CPU that other processes hold, nor waiting for the disk.
pub fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`, 100 on Linux).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time (user + system) process `pid` has used so far, in seconds (`/proc/<pid>/stat`;
/// `"self"` for this process); `None` where it cannot be read. Ticks of 10 ms.
pub fn process_cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields 14 and 15, counted after the command name, which is in parentheses and may hold
    // spaces.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let ticks = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    Some(ticks as f64 / TICKS_PER_SECOND)
}

/// The machine's load average over 1, 5 and 15 minutes (`/proc/loadavg`) as written there,
/// joined by `separator`, for printing beside a figure taken on a shared machine; `None` where
/// it cannot be read.
pub fn load_average(separator: &str) -> Option<String> {
    let load = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(load.split_whitespace().take(3).collect::<Vec<_>>().join(separator))
}

/// Wall and CPU time of the blocks of one variant in a paired check, where variants run in
/// alternating blocks so that the machine's swings (on this VM, by half within minutes) fall
/// on all of them alike.
pub struct Blocks {
    /// Runs per block.
    size: usize,
    /// Wall seconds per run, one entry per block.
    wall: Vec<f64>,
    cpu_ns: u64,
    runs: u64,
}

impl Blocks {
    /// No blocks yet, of `size` runs each.
    pub fn new(size: usize) -> Blocks {
        Blocks { size: size.max(1), wall: Vec::new(), cpu_ns: 0, runs: 0 }
    }

    /// Times `f`, which does one block of runs.
    pub fn time(&mut self, f: impl FnOnce()) {
        let cpu = thread_cpu_ns();
        let start = Instant::now();
        f();
        self.wall.push(start.elapsed().as_secs_f64() / self.size as f64);
        self.cpu_ns += thread_cpu_ns().zip(cpu).map_or(0, |(after, before)| after.saturating_sub(before));
        self.runs += self.size as u64;
    }

    /// Blocks timed so far.
    pub fn count(&self) -> usize {
        self.wall.len()
    }

    /// Median wall time and mean CPU time per run, in µs.
    pub fn per_run(&mut self) -> (f64, f64) {
        self.wall.sort_by(f64::total_cmp);
        let median = self.wall.get(self.wall.len() / 2).copied().unwrap_or(f64::NAN);
        (median * 1e6, self.cpu_ns as f64 / 1e3 / self.runs.max(1) as f64)
    }
}
