//! The run queue: accepted pushes wait here, run one at a time per repository (in the order
//! they came) and at most `max_concurrent_runs` at once. A push is refused when
//! `max_queued` runs are already waiting, so a flood of pushes cannot pile up unbounded.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

/// A run to do: one repository at one commit, caused by one delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Job {
    /// The configured repository name.
    pub repository: String,
    pub commit: String,
    pub git_ref: String,
    /// `<forge>:<delivery id>`.
    pub delivery: String,
}

/// What executes jobs.
pub trait Worker: Send + Sync + 'static {
    fn execute(&self, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

#[derive(Debug, Default)]
struct Counts {
    waiting: usize,
    running: usize,
}

/// How many runs wait and run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct QueueStatus {
    pub queued: usize,
    pub running: usize,
    pub max_queued: usize,
    pub max_concurrent_runs: usize,
}

/// The queue (shared; cheap to clone through its `Arc`).
pub struct Queue {
    max_queued: usize,
    max_concurrent: usize,
    slots: Arc<Semaphore>,
    counts: Mutex<Counts>,
    repo_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    worker: Arc<dyn Worker>,
}

/// A place in the queue, taken before a delivery is recorded; given back when dropped
/// unless a job was submitted with it.
pub struct Reservation {
    queue: Arc<Queue>,
    used: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.used {
            self.queue.counts().waiting -= 1;
        }
    }
}

impl Queue {
    pub fn new(max_concurrent: usize, max_queued: usize, worker: Arc<dyn Worker>) -> Arc<Queue> {
        let max_concurrent = max_concurrent.max(1);
        Arc::new(Queue {
            max_queued,
            max_concurrent,
            slots: Arc::new(Semaphore::new(max_concurrent)),
            counts: Mutex::new(Counts::default()),
            repo_locks: Mutex::new(HashMap::new()),
            worker,
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place, or `None` when `max_queued` runs already wait.
    pub fn reserve(self: &Arc<Self>) -> Option<Reservation> {
        let mut c = self.counts();
        if c.waiting >= self.max_queued {
            return None;
        }
        c.waiting += 1;
        Some(Reservation {
            queue: Arc::clone(self),
            used: false,
        })
    }

    /// Queues `job` in its reserved place; it runs after the repository's earlier jobs,
    /// when a run slot is free.
    pub fn submit(self: &Arc<Self>, mut reservation: Reservation, job: Job) {
        reservation.used = true;
        let queue = Arc::clone(self);
        let lock = {
            let mut locks = queue.repo_locks.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(locks.entry(job.repository.clone()).or_default())
        };
        tokio::spawn(async move {
            let _repo = lock.lock().await;
            let Ok(_slot) = Arc::clone(&queue.slots).acquire_owned().await else {
                return;
            };
            {
                let mut c = queue.counts();
                c.waiting -= 1;
                c.running += 1;
            }
            // A panic in a run must not leave the counts wrong.
            let guard = RunningGuard(Arc::clone(&queue));
            queue.worker.execute(job).await;
            drop(guard);
        });
    }

    /// How many runs wait and run now.
    pub fn status(&self) -> QueueStatus {
        let c = self.counts();
        QueueStatus {
            queued: c.waiting,
            running: c.running,
            max_queued: self.max_queued,
            max_concurrent_runs: self.max_concurrent,
        }
    }
}

struct RunningGuard(Arc<Queue>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.counts().running -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Records start/end events; jobs block until released.
    struct Probe {
        events: Mutex<Vec<String>>,
        release: tokio::sync::Semaphore,
    }

    impl Worker for Probe {
        fn execute(&self, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(async move {
                self.events
                    .lock()
                    .unwrap()
                    .push(format!("start {}", job.commit));
                self.release.acquire().await.unwrap().forget();
                self.events
                    .lock()
                    .unwrap()
                    .push(format!("end {}", job.commit));
            })
        }
    }

    fn job(repo: &str, commit: &str) -> Job {
        Job {
            repository: repo.into(),
            commit: commit.into(),
            git_ref: "refs/heads/main".into(),
            delivery: format!("test:{commit}"),
        }
    }

    async fn until(mut f: impl FnMut() -> bool) {
        for _ in 0..500 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition never held");
    }

    #[tokio::test]
    async fn serialized_per_repository_and_bounded() {
        let probe = Arc::new(Probe {
            events: Mutex::new(Vec::new()),
            release: Semaphore::new(0),
        });
        let q = Queue::new(2, 2, probe.clone());
        q.submit(q.reserve().unwrap(), job("a", "a1"));
        q.submit(q.reserve().unwrap(), job("b", "b1"));
        until(|| q.status().running == 2).await;
        // Two more wait (a2 behind a1, c1 behind the two slots); a third is refused.
        q.submit(q.reserve().unwrap(), job("a", "a2"));
        q.submit(q.reserve().unwrap(), job("c", "c1"));
        assert!(q.reserve().is_none());
        assert_eq!(q.status().queued, 2);
        // A dropped reservation gives its place back.
        probe.release.add_permits(1);
        until(|| {
            probe
                .events
                .lock()
                .unwrap()
                .iter()
                .any(|e| e.starts_with("end"))
        })
        .await;
        until(|| q.status().running == 2).await;
        let r = q.reserve().unwrap();
        drop(r);
        probe.release.add_permits(3);
        until(|| probe.events.lock().unwrap().len() == 8).await;
        let ev = probe.events.lock().unwrap().clone();
        let pos = |e: &str| ev.iter().position(|x| x == e).unwrap();
        assert!(pos("end a1") < pos("start a2"), "{ev:?}");
        until(|| q.status().running == 0 && q.status().queued == 0).await;
    }
}
