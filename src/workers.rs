//! The execution model: candle's kernels run single-threaded (`RAYON_NUM_THREADS=1`) and whole units
//! of work — an inference batch, a share of a training batch — run side by side, one worker thread per
//! core. The workers are a rayon pool, so the few candle operations that use rayon internally run on
//! the worker that calls them instead of queueing on one shared pool thread.

use crate::error::{Error, Result};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::OnceLock;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (libmimalloc-sys 0.1.49, pinned in Cargo.toml).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the process up for this execution model.
/// - candle's kernels run single-threaded (`RAYON_NUM_THREADS=1`, unless you set it): its kernel-level
///   threads spin-wait and collapse when the machine is busy, and models of this size gain little from
///   them, so whole batches run in parallel instead.
/// - mimalloc (when it is the allocator) keeps freed memory instead of returning it to the OS after
///   10 ms: inference and training free and reallocate the same large tensors at every step, and
///   re-faulting fresh zeroed pages cost 15% of a fine-tuning step. Peak memory is unchanged.
///
/// # Safety
/// It sets an environment variable: call it first thing in `main`, before any other thread exists.
pub unsafe fn init_process() {
    // SAFETY: sets a plain integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: the caller guarantees that no other thread exists yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
}

/// How many workers run side by side: `STANCE_WORKERS` if set, else 1 when candle runs its own thread
/// pool and the number of cores when candle is single-threaded (`RAYON_NUM_THREADS=1`, which `stance`
/// sets unless you set it: for models of this size, whole batches in parallel beat parallel kernels).
pub fn count() -> usize {
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
    };
    if let Some(n) = env("STANCE_WORKERS") {
        return n;
    }
    match env("RAYON_NUM_THREADS") {
        Some(1) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        _ => 1,
    }
}

/// Runs `job(i)` for every worker `i` in `0..n` at the same time and returns the results in worker order
/// (so callers can combine them deterministically). With `n == 1` the job runs on the calling thread.
/// Pools are built once per size and kept for the life of the process.
pub fn run<T: Send>(n: usize, job: impl Fn(usize) -> T + Sync) -> Result<Vec<T>> {
    if n <= 1 {
        return Ok(vec![job(0)]);
    }
    let pool = pool(n)?;
    Ok(pool.broadcast(|ctx| job(ctx.index())))
}

fn pool(n: usize) -> Result<&'static ThreadPool> {
    static POOLS: OnceLock<std::sync::Mutex<Vec<&'static ThreadPool>>> = OnceLock::new();
    let pools = POOLS.get_or_init(Default::default);
    let mut pools = pools.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = pools.iter().find(|p| p.current_num_threads() == n) {
        return Ok(p);
    }
    let built = ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("stance-worker-{i}"))
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start {n} worker threads: {e}")))?;
    let leaked: &'static ThreadPool = Box::leak(Box::new(built));
    pools.push(leaked);
    Ok(leaked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_worker_order() {
        let out = run(3, |i| i * 10).unwrap();
        assert_eq!(out, vec![0, 10, 20]);
        assert_eq!(run(1, |i| i + 7).unwrap(), vec![7]);
    }

    #[test]
    fn workers_run_at_the_same_time() {
        // Each worker waits until all have arrived: this only finishes if they run concurrently.
        let barrier = std::sync::Barrier::new(2);
        let out = run(2, |i| {
            barrier.wait();
            i
        })
        .unwrap();
        assert_eq!(out, vec![0, 1]);
    }
}
