//! The log's sync thread: writes a batch's encoded records to the active segment and makes
//! them durable (`pwrite` on a descriptor opened `O_DSYNC`), off the executors.
//!
//! Why a thread of our own rather than an io_uring write on the executor: glommio queues file
//! writes until its executor next polls its rings, and under load that came 100–450 µs
//! (p50 130–160 µs) after the write was issued, longer than the write itself took the
//! kernel (60–200 µs). A job handed to this thread starts at once; its completion comes back
//! as a byte on a socket pair whose other end the executor reads, and socket reads are on
//! glommio's latency ring, which cuts short whatever the executor is running.
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

/// The executor's handle on the sync thread. One job at a time: `write` returns when it is
/// done. Dropping the handle stops the thread once its queue is empty.
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

    /// Writes `job` and waits until it is durable (or failed).
    pub async fn write(&mut self, job: Job) -> std::io::Result<()> {
        {
            let mut s = self.queue.state.lock().unwrap_or_else(|e| e.into_inner());
            s.jobs.push_back(job);
        }
        self.queue.ready.notify_one();
        let mut buf = [0u8; 64];
        loop {
            if let Some(r) = self.queue.state.lock().unwrap_or_else(|e| e.into_inner()).done.pop_front() {
                return r;
            }
            match self.done_signal.read(&mut buf).await {
                Ok(0) => return Err(std::io::Error::other("the log sync thread stopped")),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(std::io::Error::other(format!("log sync signal: {e}"))),
            }
        }
    }
}

impl Drop for LogThread {
    fn drop(&mut self) {
        self.queue.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.queue.ready.notify_one();
    }
}

fn run(queue: &Queue, mut signal: UnixStream) {
    super::cpus::unpin_this_thread();
    let mut open: Option<(PathBuf, File)> = None;
    loop {
        let job = {
            let mut s = queue.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(j) = s.jobs.pop_front() {
                    break j;
                }
                if s.closed {
                    return;
                }
                s = queue.ready.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = write_job(&mut open, job);
        queue.state.lock().unwrap_or_else(|e| e.into_inner()).done.push_back(result);
        // A full socket buffer already holds a wakeup; the executor finds the result then.
        let _ = signal.write(&[1]);
    }
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
