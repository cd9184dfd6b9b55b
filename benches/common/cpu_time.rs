//! CPU time per run, a cross-check printed by the timing benches next to criterion's wall-clock
//! medians: other processes on a busy machine inflate wall time (they take the CPU away) but
//! not this thread's CPU time. Shared by the benches through `#[path]`.

/// This thread's CPU time (user + system) in seconds, from `/proc/thread-self/stat` (10 ms
/// ticks); `None` where it cannot be read.
pub fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Runs `f` for about `wall` seconds and returns (runs, CPU microseconds per run): a
/// cross-check of the wall-clock medians that other processes on a busy machine cannot
/// inflate (they take the CPU away, which wall time counts and thread CPU time does not).
pub fn cpu_time_per_run(wall: f64, mut f: impl FnMut()) -> Option<(u64, f64)> {
    let start = std::time::Instant::now();
    let cpu0 = thread_cpu_seconds()?;
    let mut runs = 0u64;
    while start.elapsed().as_secs_f64() < wall {
        for _ in 0..100 {
            f();
        }
        runs += 100;
    }
    let cpu = thread_cpu_seconds()? - cpu0;
    Some((runs, cpu * 1e6 / runs as f64))
}
