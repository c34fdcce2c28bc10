//! The threads that parse, normalize and match fetched documents (`process_document`), at a
//! lower scheduling priority than the rest of tidings.
//!
//! Every poll's items go through one thread, the store's writer (`store::batch`), while
//! documents are parsed on as many threads as there are cores. When both want the CPU, the
//! writer must win: a parse that waits delays one feed, a writer that waits delays every poll
//! behind it, and on a 2-core machine the kernel's fair share gave the writer two thirds of a
//! core beside two parsing threads. So these threads lower their own priority (`nice` plus
//! `NICE_STEP`) when they start: the kernel then runs the writer and the async threads
//! (fetching, serving) first and gives the parsers every moment those leave. A process may
//! always lower its own threads' priority; it never raises any.

use std::panic::{AssertUnwindSafe, catch_unwind};

use thiserror::Error;

/// How much lower than the process the parsing threads run (`nice` values: 5 is about a
/// third of the CPU weight).
pub const NICE_STEP: i32 = 5;

#[derive(Debug, Error)]
pub enum ParsersError {
    #[error("could not start the parsing threads: {0}")]
    Start(#[from] rayon::ThreadPoolBuildError),
    #[error("parsing panicked")]
    Panicked,
    #[error("the parsing threads are gone")]
    Gone,
}

/// A pool of parsing threads, one per core.
#[derive(Debug)]
pub struct Parsers {
    pool: rayon::ThreadPool,
}

impl Parsers {
    pub fn start(threads: usize) -> Result<Parsers, ParsersError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|index| format!("tidings-parse-{index}"))
            .start_handler(|_| lower_priority())
            .build()?;
        Ok(Parsers { pool })
    }

    /// Runs `job` on a parsing thread and waits for its answer without blocking the async
    /// thread. A panic in `job` is an error of this call, not of the process.
    pub async fn run<T, F>(&self, job: F) -> Result<T, ParsersError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            let answer = catch_unwind(AssertUnwindSafe(job)).map_err(|_| ParsersError::Panicked);
            // The caller may have gone (a poll cancelled at shutdown): nobody to answer.
            let _ = sender.send(answer);
        });
        receiver.await.map_err(|_| ParsersError::Gone)?
    }
}

/// Lowers the calling thread's priority by `NICE_STEP` (Linux sets it per thread). Where that
/// fails or means nothing, the thread keeps the process's priority: parsing still works.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let thread = Some(rustix::thread::gettid());
        if let Ok(current) = rustix::process::getpriority_process(thread) {
            let lower = (current + NICE_STEP).min(19);
            if let Err(error) = rustix::process::setpriority_process(thread, lower) {
                tracing::debug!(%error, "parsing threads keep the process's priority");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_threads_of_lower_priority_and_a_panic_is_an_error() {
        let parsers = Parsers::start(2).unwrap();
        let name = parsers
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("tidings-parse-"));
        #[cfg(target_os = "linux")]
        {
            let process = rustix::process::getpriority_process(None).unwrap();
            let thread = parsers
                .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(thread, (process + NICE_STEP).min(19));
            // This thread is not one of the pool's: its priority is the process's.
            assert_eq!(
                rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap(),
                process
            );
        }
        let panicked = parsers.run(|| -> usize { panic!("a broken parser") }).await;
        assert!(matches!(panicked, Err(ParsersError::Panicked)));
        // The pool still answers after a panic.
        assert_eq!(parsers.run(|| 4).await.unwrap(), 4);
    }
}
