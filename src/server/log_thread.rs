//! The log's sync thread: writes a batch's encoded records to the active segment and makes
//! them durable (`pwrite` on a descriptor opened `O_DSYNC`), off the executors.
//!
//! Why a thread of our own rather than an io_uring write on the executor: glommio queues file
//! writes until its executor next polls its rings, and under load that came 100–450 µs
//! (p50 130–160 µs) after the write was issued, longer than the write itself took the
//! kernel (60–200 µs). A job handed to this thread starts at once, and jobs queued behind it
//! start as soon as it is done, without waiting for the executor to see the completion
//! (which under load came 150–200 µs after the write). Completions come back as a byte on a
//! socket pair whose other end the executor reads.
//!
//! The thread may run on any CPU (see `cpus`), at normal priority: the log's writes are in
//! every write request's latency.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use futures_lite::AsyncReadExt;

/// One write: `bytes` at `offset` of the segment at `path`, durable on return when `dsync`.
pub struct Job {
    /// The active segment.
    pub path: PathBuf,
    /// Where the bytes go.
    pub offset: u64,
    /// Encoded records (and the zero fill after them up to a page end).
    pub bytes: Vec<u8>,
    /// Open the segment `O_DSYNC` (forceSync).
    pub dsync: bool,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    done: VecDeque<std::io::Result<()>>,
    closed: bool,
}

#[derive(Default)]
struct Queue {
    state: Mutex<State>,
    ready: Condvar,
}

impl Queue {
    /// The state, also after a panic elsewhere poisoned the lock (it holds plain queues).
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The executor's handle on the sync thread. Jobs are written in the order submitted, each
/// durable before any later one is started (jobs queued together may go in one `pwrite`);
/// their results come back in that order. Dropping the handle stops the thread once its
/// queue is empty.
pub struct LogThread {
    queue: Arc<Queue>,
    /// Readable when a job is done.
    done_signal: glommio::net::UnixStream,
}

impl LogThread {
    /// Starts the thread.
    pub fn start() -> std::io::Result<LogThread> {
        let (ours, theirs) = UnixStream::pair()?;
        theirs.set_nonblocking(true)?;
        let queue = Arc::new(Queue::default());
        let q = queue.clone();
        std::thread::Builder::new()
            .name("zkr-log-sync".into())
            .spawn(move || run(&q, theirs))?;
        // SAFETY: ours is an open, connected Unix stream socket whose descriptor is handed
        // over here and owned by the glommio stream from now on.
        let done_signal = unsafe { glommio::net::UnixStream::from_raw_fd(ours.into_raw_fd()) };
        Ok(LogThread { queue, done_signal })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.queue.state()
    }

    /// Queues `job`; the thread starts on it as soon as the jobs before it are done.
    pub fn submit(&self, job: Job) {
        self.state().jobs.push_back(job);
        self.queue.ready.notify_one();
    }

    /// The result of the oldest job not yet reported, if it is done.
    pub fn try_done(&self) -> Option<std::io::Result<()>> {
        self.state().done.pop_front()
    }

    /// Whether a finished job waits to be reported (`try_done` would return it).
    pub fn has_done(&self) -> bool {
        !self.state().done.is_empty()
    }

    /// Waits until a job may have finished since the last call (`try_done` tells).
    pub async fn wait_done(&mut self) -> std::io::Result<()> {
        let mut buf = [0u8; 64];
        loop {
            match self.done_signal.read(&mut buf).await {
                Ok(0) => return Err(std::io::Error::other("the log sync thread stopped")),
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(std::io::Error::other(format!("log sync signal: {e}"))),
            }
        }
    }
}

impl Drop for LogThread {
    fn drop(&mut self) {
        self.state().closed = true;
        self.queue.ready.notify_one();
    }
}

fn run(queue: &Queue, mut signal: UnixStream) {
    super::cpus::unpin_this_thread();
    let mut open: Option<(PathBuf, File)> = None;
    let mut failed: Option<String> = None;
    loop {
        let jobs: Vec<Job> = {
            let mut s = queue.state();
            loop {
                if !s.jobs.is_empty() {
                    break s.jobs.drain(..).collect();
                }
                if s.closed {
                    return;
                }
                s = queue.ready.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        };
        let mut results = Vec::with_capacity(jobs.len());
        for (merged, count) in merge(jobs) {
            // After a failed write nothing more is written: a later job on disk behind a hole
            // would read as corruption, not as a torn tail.
            let r = match &failed {
                Some(e) => Err(std::io::Error::other(format!("not written after an earlier failure: {e}"))),
                None => write_job(&mut open, merged),
            };
            if let Err(e) = &r {
                failed.get_or_insert_with(|| e.to_string());
            }
            for _ in 0..count {
                results.push(r.as_ref().map(|_| ()).map_err(|e| std::io::Error::new(e.kind(), e.to_string())));
            }
        }
        queue.state().done.extend(results);
        // A full socket buffer already holds a wakeup; the executor finds the results then.
        let _ = signal.write(&[1]);
    }
}

/// Joins jobs that follow one another in the same segment into one write, with how many jobs
/// each write stands for. A job's bytes may run past where the next one starts (the zero fill
/// up to its page end); the next job's bytes win there.
fn merge(jobs: Vec<Job>) -> Vec<(Job, usize)> {
    let mut out: Vec<(Job, usize)> = Vec::new();
    for job in jobs {
        if let Some((last, count)) = out.last_mut() {
            let end = last.offset + last.bytes.len() as u64;
            if last.path == job.path && last.dsync == job.dsync && job.offset >= last.offset && job.offset <= end {
                last.bytes.truncate((job.offset - last.offset) as usize);
                last.bytes.extend_from_slice(&job.bytes);
                *count += 1;
                continue;
            }
        }
        out.push((job, 1));
    }
    out
}
fn write_job(open: &mut Option<(PathBuf, File)>, job: Job) -> std::io::Result<()> {
    let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", job.path.display()));
    if open.as_ref().is_none_or(|(p, _)| *p != job.path) {
        *open = None;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true);
        if job.dsync {
            opts.custom_flags(libc::O_DSYNC);
        }
        let file = opts.open(&job.path).map_err(named)?;
        *open = Some((job.path.clone(), file));
    }
    let (_, file) = open.as_ref().expect("opened above");
    file.write_all_at(&job.bytes, job.offset).map_err(|e| {
        let at = job.offset;
        std::io::Error::new(e.kind(), format!("{}: write at offset {at}: {e}", job.path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::testing::TempDir;

    fn job(path: &std::path::Path, offset: u64, bytes: &[u8]) -> Job {
        Job { path: path.to_owned(), offset, bytes: bytes.to_vec(), dsync: true }
    }

    #[test]
    fn jobs_that_follow_one_another_merge_and_the_later_bytes_win() {
        let p = std::path::Path::new("/seg");
        // Each job carries zero fill past its records; the next job starts at its records' end.
        let jobs = vec![job(p, 100, b"aaa\0\0\0"), job(p, 103, b"bb\0\0"), job(p, 200, b"cc")];
        let merged = merge(jobs);
        assert_eq!(merged.len(), 2, "a gap starts a new write");
        assert_eq!((merged[0].0.offset, merged[0].0.bytes.as_slice(), merged[0].1), (100, &b"aaabb\0\0"[..], 2));
        assert_eq!((merged[1].0.offset, merged[1].0.bytes.as_slice(), merged[1].1), (200, &b"cc"[..], 1));
        let other = std::path::Path::new("/other");
        assert_eq!(merge(vec![job(p, 0, b"a"), job(other, 1, b"b")]).len(), 2, "another file");
    }

    #[test]
    fn jobs_are_written_in_order_and_nothing_after_a_failure() {
        let tmp = TempDir::new("log-thread");
        let seg = tmp.path().join("seg");
        std::fs::write(&seg, vec![0u8; 64]).unwrap();
        let missing = tmp.path().join("missing").join("seg");
        let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound).make().unwrap();
        let results = ex.run(async {
            let mut t = LogThread::start().unwrap();
            t.submit(job(&seg, 0, b"ab\0\0"));
            t.submit(job(&seg, 2, b"cd"));
            t.submit(job(&missing, 0, b"x"));
            t.submit(job(&seg, 4, b"ef"));
            let mut results = Vec::new();
            while results.len() < 4 {
                match t.try_done() {
                    Some(r) => results.push(r.map_err(|e| e.to_string())),
                    None => t.wait_done().await.unwrap(),
                }
            }
            results
        });
        assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
        assert!(results[2].as_ref().is_err_and(|e| e.contains("missing")), "{results:?}");
        assert!(results[3].as_ref().is_err_and(|e| e.contains("earlier failure")), "{results:?}");
        let bytes = std::fs::read(&seg).unwrap();
        assert_eq!(&bytes[..6], b"abcd\0\0", "the job after the failure was not written");
    }
}
