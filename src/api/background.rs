//! The threads that run the API's expensive work (store reads of costly
//! requests, parsing large documents) at a lower CPU priority than the async
//! workers.
//!
//! The cost model and the pool semaphore bound how much expensive work runs
//! at once, but each unit still takes a whole core while it runs; on a small
//! machine that core is taken from the workers answering cheap queries. On
//! Linux these threads lower their own scheduling priority (nice
//! [`BACKGROUND_NICE`], per thread) when they start, so under contention the
//! scheduler gives the cheap queries' workers the CPU first and the expensive
//! ones what is left; with idle cores they run at full speed. A dedicated
//! pool (not tokio's blocking pool) because a thread cannot raise its
//! priority back without privileges, and tokio reuses its blocking threads
//! for everything.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

/// Niceness of the background threads (0 is normal, 19 the lowest): with
/// nice 10 a busy thread gets about a tenth of the CPU share of a worker.
pub const BACKGROUND_NICE: i32 = 10;

/// Most threads the pool starts; the callers' semaphores bound the units
/// in flight well below this by default (half the CPUs).
const MAX_THREADS: usize = 64;

type Job = Box<dyn FnOnce() + Send>;

/// A unit of work that did not return: it panicked.
#[derive(Debug, thiserror::Error)]
#[error("background work panicked")]
pub struct Panicked;

/// Runs `work` on a background thread and awaits its result.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Panicked> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // A panic drops `tx`, which the awaiting side sees as `Panicked`.
        let _ = tx.send(work());
    });
    // The pool lives as long as the process: its receiver never drops.
    // The lock is released here, before the await (a guard is not `Send`).
    let sent = match pool().lock() {
        Ok(queue) => queue.send(job).is_ok(),
        Err(_) => false,
    };
    if !sent {
        return Err(Panicked);
    }
    rx.await.map_err(|_| Panicked)
}

fn pool() -> &'static Mutex<Sender<Job>> {
    static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get().saturating_mul(2))
            .clamp(2, MAX_THREADS);
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("api-background-{i}"))
                .spawn(move || serve(&rx));
            if let Err(error) = spawned {
                tracing::warn!(%error, "could not start an API background thread");
            }
        }
        Mutex::new(tx)
    })
}

fn serve(jobs: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = match jobs.lock() {
            Ok(queue) => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        // A panicking unit fails its own request, not the thread.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux, PRIO_PROCESS with no pid names the calling thread only.
    let current = rustix::process::getpriority_process(None).unwrap_or(0);
    if current >= BACKGROUND_NICE {
        return; // already as low (a niced process): never raise it
    }
    if let Err(error) = rustix::process::setpriority_process(None, BACKGROUND_NICE) {
        tracing::warn!(%error, "could not lower an API background thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_and_survives_a_panic() {
        assert_eq!(run(|| 6 * 7).await.unwrap(), 42);
        assert!(run(|| -> u32 { panic!("unit fails") }).await.is_err());
        assert_eq!(run(|| "still serving").await.unwrap(), "still serving");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn background_threads_run_at_lower_priority() {
        let nice = run(|| rustix::process::getpriority_process(None).unwrap())
            .await
            .unwrap();
        // At least BACKGROUND_NICE: a process started niced stays as low.
        assert!(nice >= BACKGROUND_NICE, "background thread at nice {nice}");
    }
}
