//! Durable storage as the server uses it: recovery at start (newest valid snapshot, then the
//! log after it), the group-commit sink the write pipeline appends batches to, and background
//! snapshots with purge. File formats live in `crate::log` and `crate::snapshot`; this file only
//! decides when to call them and keeps every blocking call off the executors
//! (`spawn_blocking`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::leader::TxnSink;
use crate::config::Config;
use crate::log::writer::LogWriter;
use crate::session::SessionTable;
use crate::tree::DataTree;
use crate::txn::{Txn, TxnBody};

/// Subdirectory for log segments and snapshots, as ZooKeeper's `version-2`.
pub const VERSION_DIR: &str = "version-2";

/// What recovery rebuilt.
pub struct Recovered {
    /// The tree at `last_zxid`.
    pub tree: DataTree,
    /// Sessions live at `last_zxid` (timeouts; deadlines start now).
    pub sessions: Vec<(i64, i32)>,
    /// Highest zxid recovered.
    pub last_zxid: i64,
    /// Writer positioned after the last good record.
    pub writer: LogWriter,
    /// Log records replayed on top of the snapshot.
    pub replayed: u64,
}

/// Why the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// Log problem (corruption before the tail, missing segment, I/O).
    #[error("{0}")]
    Log(#[from] crate::log::LogError),
    /// Snapshot problem with no way around it.
    #[error("{0}")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    /// A directory could not be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// The snapshot directory of a config.
pub fn snap_dir(config: &Config) -> PathBuf {
    config.data_dir.join(VERSION_DIR)
}

/// The log directory of a config.
pub fn log_dir(config: &Config) -> PathBuf {
    config.data_log_dir.join(VERSION_DIR)
}

fn mkdir(p: &Path) -> Result<(), RecoveryError> {
    std::fs::create_dir_all(p).map_err(|source| RecoveryError::Dir { path: p.to_path_buf(), source })
}

/// Loads the newest snapshot that reads back whole (older ones are tried when a newer one is
/// damaged), then replays the log after it. Runs before the executors start.
pub fn recover(config: &Config) -> Result<Recovered, RecoveryError> {
    let snaps = snap_dir(config);
    let logs = log_dir(config);
    mkdir(&snaps)?;
    mkdir(&logs)?;
    let removed = crate::snapshot::remove_temp_files(&snaps)?;
    if removed > 0 {
        tracing::info!(removed, "removed temp files of interrupted snapshots");
    }
    let mut base: Option<crate::snapshot::Snapshot> = None;
    for (zxid, path) in crate::snapshot::list_snapshots(&snaps)?.into_iter().rev() {
        match crate::snapshot::read_snapshot(&path) {
            Ok(s) => {
                tracing::info!(path = %path.display(), zxid = format!("0x{zxid:x}"), "loaded snapshot");
                base = Some(s);
                break;
            }
            Err(e) => tracing::error!("snapshot unusable, trying an older one: {e}"),
        }
    }
    let (mut tree, snap_sessions, base_zxid) = match base {
        Some(s) => {
            let (tree, dropped) = DataTree::restore(s.zxid, s.nodes);
            if dropped > 0 {
                tracing::info!(dropped, "orphan nodes of a fuzzy snapshot dropped before replay");
            }
            (tree, s.sessions, s.zxid)
        }
        None => (DataTree::new(), Vec::new(), 0),
    };
    let mut sessions: std::collections::BTreeMap<i64, i32> = snap_sessions.into_iter().collect();
    let mut triggers = Vec::new();
    // Nothing reads the tree until recovery ends: replay changes nodes in place.
    tree.stage_writes();
    let rec = crate::log::recover::recover(&logs, base_zxid, |txn: Txn| {
        match &txn.body {
            TxnBody::CreateSession { timeout_ms } => {
                sessions.insert(txn.session, *timeout_ms);
            }
            TxnBody::CloseSession => {
                sessions.remove(&txn.session);
            }
            _ => {}
        }
        tree.apply(&txn, &mut triggers);
        triggers.clear();
    })?;
    tree.publish_replayed();
    if let Some(cut) = &rec.cut {
        tracing::warn!(
            path = %cut.path.display(),
            offset = cut.offset,
            "torn log tail cut: {}",
            cut.reason
        );
    }
    let last_zxid = rec.last_zxid.max(base_zxid);
    // Ephemerals whose session is gone from the table still expire like any session.
    for owner in tree.ephemeral_owners() {
        sessions.entry(owner).or_insert(config.min_session_timeout_ms as i32);
    }
    tracing::info!(
        last_zxid = format!("0x{last_zxid:x}"),
        records = rec.records,
        nodes = tree.arena().node_count(),
        sessions = sessions.len(),
        "recovered"
    );
    let writer = LogWriter::open(&logs, &rec, config.log_segment_bytes, config.force_sync)?;
    let replayed = rec.records;
    Ok(Recovered { tree, sessions: sessions.into_iter().collect(), last_zxid, writer, replayed })
}

/// File in dataDir holding the secret session passwords are derived from.
pub const SECRET_FILE: &str = "zkr.secret";

/// The secret session passwords are derived from, kept in `dataDir/zkr.secret` so that clients
/// resume their sessions after a restart. Made once (from the clock and the pid) and written
/// atomically: temp file, fsync, rename, fsync of the directory.
pub fn session_secret(config: &Config, fresh: u64) -> Result<u64, RecoveryError> {
    let path = config.data_dir.join(SECRET_FILE);
    let io = |source| RecoveryError::Dir { path: path.clone(), source };
    match std::fs::read_to_string(&path) {
        Ok(text) => u64::from_str_radix(text.trim(), 16).map_err(|_| {
            io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a 16-digit hex secret (delete it to make a new one; sessions then expire)",
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            mkdir(&config.data_dir)?;
            let temp = config.data_dir.join(format!("{SECRET_FILE}.tmp"));
            let write = || -> std::io::Result<()> {
                use std::io::Write;
                let mut f = std::fs::File::create(&temp)?;
                writeln!(f, "{fresh:016x}")?;
                f.sync_all()?;
                std::fs::rename(&temp, &path)?;
                std::fs::File::open(&config.data_dir)?.sync_all()
            };
            write().map_err(io)?;
            Ok(fresh)
        }
        Err(e) => Err(io(e)),
    }
}

/// Registers recovered sessions in a fresh table; deadlines start at `now_ms`.
pub fn restore_sessions(table: &mut SessionTable, sessions: &[(i64, i32)], now_ms: i64) {
    for &(id, timeout_ms) in sessions {
        table.add(id, timeout_ms, now_ms);
    }
}

/// The group-commit sink: batches are queued by the consensus core and written, in order, by
/// a disk task on the same executor, so that the core preps and applies other batches while
/// one is being made durable.
///
/// The disk task takes every batch queued while the previous write was under way and writes
/// them together. Batches that fit in the active segment are encoded on the executor and
/// written by the log's sync thread (`log_thread`) with one `pwrite` to a descriptor opened
/// `O_DSYNC`, which returns once the data is durable, as pwrite + fdatasync would. A batch
/// that needs a new segment goes the slow way: `LogWriter::append_txns` on a blocking thread
/// (pwrite, fdatasync, segment roll). One write is in flight at a time, so a crash can tear
/// only the last one, which no client has been answered for.
pub struct DurableSink {
    state: std::rc::Rc<SinkState>,
    submitted: u64,
}

#[derive(Default)]
struct SinkState {
    /// Batches waiting for the disk task, with their tickets.
    queue: std::cell::RefCell<std::collections::VecDeque<(u64, std::rc::Rc<Vec<Txn>>)>>,
    /// Wakes the disk task: work queued, or the sink dropped.
    queued: super::notify::Notify,
    /// Every ticket up to this one is durable.
    durable: std::cell::Cell<u64>,
    /// Why the log stopped, if it did. Nothing after that becomes durable.
    failed: std::cell::RefCell<Option<String>>,
    /// Wakes the consensus core: `durable` or `failed` changed.
    changed: super::notify::Notify,
    closed: std::cell::Cell<bool>,
}

impl DurableSink {
    /// A sink over a recovered writer appending in `dir`; starts its disk task on this
    /// executor, in task queue `tq`.
    pub fn new(
        writer: LogWriter,
        dir: PathBuf,
        segment_bytes: u64,
        tq: glommio::TaskQueueHandle,
        shared: std::sync::Arc<super::shared::Shared>,
    ) -> Result<DurableSink, String> {
        let state = std::rc::Rc::new(SinkState::default());
        let disk = DiskTask {
            state: state.clone(),
            writer: Some(writer),
            sync: None,
            dir,
            segment_bytes,
            spare: Default::default(),
            spare_in_flight: Default::default(),
            txns_in_flight: 0,
            quiet: false,
            shared,
        };
        glommio::spawn_local_into(disk.run(), tq)
            .map_err(|e| format!("cannot start the log's disk task: {e}"))?
            .detach();
        Ok(DurableSink { state, submitted: 0 })
    }
}

impl Drop for DurableSink {
    fn drop(&mut self) {
        self.state.closed.set(true);
        self.state.queued.notify();
    }
}

impl TxnSink for DurableSink {
    fn submit(&mut self, txns: std::rc::Rc<Vec<Txn>>) -> u64 {
        self.submitted += 1;
        self.state.queue.borrow_mut().push_back((self.submitted, txns));
        self.state.queued.notify();
        self.submitted
    }

    fn submitted(&self) -> u64 {
        self.submitted
    }

    fn durable(&self) -> Result<u64, String> {
        match &*self.state.failed.borrow() {
            Some(e) => Err(e.clone()),
            None => Ok(self.state.durable.get()),
        }
    }

    async fn changed(&self) {
        self.state.changed.wait().await
    }
}

/// The writing side of `DurableSink`.
struct DiskTask {
    state: std::rc::Rc<SinkState>,
    /// The log writer; away on a blocking thread during a slow append.
    writer: Option<LogWriter>,
    /// Writes inline batches (started on first use).
    sync: Option<super::log_thread::LogThread>,
    dir: PathBuf,
    segment_bytes: u64,
    /// A zero-filled segment made in the background, waiting to be handed to the writer.
    spare: std::rc::Rc<std::cell::RefCell<Option<PathBuf>>>,
    spare_in_flight: std::rc::Rc<std::cell::Cell<bool>>,
    /// Txns in the write last handed to the sync thread.
    txns_in_flight: usize,
    /// Nothing was waiting when the last write finished: requests come one at a time.
    quiet: bool,
    /// For the number of live connections.
    shared: std::sync::Arc<super::shared::Shared>,
}

/// Inline batches gathered into one write: where it goes, the bytes, and what to commit
/// once it is durable.
struct Gathered {
    path: PathBuf,
    offset: u64,
    bytes: Vec<u8>,
    commits: Vec<Commit>,
    /// Zero fill follows the last batch up to here (`InlineWrite::zero_until`).
    zero_until: u64,
    /// Txns in the gathered batches.
    txns: usize,
}

/// Log jobs handed to the sync thread and not yet reported done, at most: the one being
/// written and those queued behind it (which the thread may join into one write).
const JOBS_IN_FLIGHT_MAX: usize = 4;

/// A write of at most this many txns, alone in flight while requests come one at a time
/// from at most `POLL_CLIENTS_MAX` connections, is waited for by polling
/// (`DiskTask::poll_small_write`).
const SMALL_WRITE_TXNS: usize = 2;

/// See `SMALL_WRITE_TXNS`. With more connections the executor and the CPU have other work:
/// polling took 10-15% off a 16-slot session storm.
const POLL_CLIENTS_MAX: u64 = 2;

/// How long a small write is polled for before the disk task parks on the sync thread's signal.
const SMALL_WRITE_POLL: std::time::Duration = std::time::Duration::from_micros(250);

/// A batch written inline, to commit (`LogWriter::commit_inline`) once durable.
struct Commit {
    ticket: u64,
    offset: u64,
    len: u64,
    last_zxid: i64,
}

impl DiskTask {
    async fn run(mut self) {
        let mut in_flight: VecDeque<Vec<Commit>> = VecDeque::new();
        if let Err(e) = self.pump(&mut in_flight).await {
            if let Some(w) = self.writer.as_mut() {
                w.fail();
            }
            *self.state.failed.borrow_mut() = Some(e.to_string());
            self.state.changed.notify();
        }
    }

    /// Writes what is queued, keeping up to `JOBS_IN_FLIGHT_MAX` writes with the sync thread,
    /// and commits them as they finish, until the sink is dropped and all is written.
    async fn pump(&mut self, in_flight: &mut VecDeque<Vec<Commit>>) -> std::io::Result<()> {
        loop {
            self.reap(in_flight)?;
            let queued = !self.state.queue.borrow().is_empty();
            if queued && in_flight.len() < JOBS_IN_FLIGHT_MAX {
                let batches: Vec<_> = self.state.queue.borrow_mut().drain(..).collect();
                self.write(batches, in_flight).await?;
                continue;
            }
            if !queued && in_flight.is_empty() {
                if self.state.closed.get() {
                    return Ok(());
                }
                self.state.queued.wait().await;
                continue;
            }
            // Writes are in flight (else the queue would have been taken above).
            if !queued && self.poll_small_write(in_flight.len()).await {
                continue;
            }
            let sync = self.sync.as_mut().ok_or_else(|| std::io::Error::other("log writes in flight without a sync thread"))?;
            if queued {
                sync.wait_done().await?;
            } else {
                let more = async {
                    self.state.queued.wait().await;
                    Ok(())
                };
                futures_lite::future::or(sync.wait_done(), more).await?;
            }
        }
    }

    /// When a lone client's requests come one at a time (nothing was queued when the last
    /// write finished) and one small write is in flight, waits for it by polling, on this executor, for at
    /// most `SMALL_WRITE_POLL`: parking the executor and being woken by the sync thread's
    /// signal costs more than the rest of a 1x1 write's server time. Under load the executor
    /// parks as before, and requests that come in meanwhile are read at once. Returns
    /// whether the write finished or more work was queued meanwhile.
    async fn poll_small_write(&mut self, in_flight: usize) -> bool {
        if !self.quiet || in_flight != 1 || self.txns_in_flight > SMALL_WRITE_TXNS {
            return false;
        }
        let clients: u64 = self.shared.live.iter().map(|n| n.load(std::sync::atomic::Ordering::Relaxed)).sum();
        if clients > POLL_CLIENTS_MAX {
            return false;
        }
        let Some(sync) = self.sync.as_ref() else { return false };
        let deadline = std::time::Instant::now() + SMALL_WRITE_POLL;
        while std::time::Instant::now() < deadline {
            if !self.state.queue.borrow().is_empty() || self.state.closed.get() {
                // Requests overlap the writes now: stop polling until they come singly again.
                self.quiet = false;
                return true;
            }
            if sync.has_done() {
                return true;
            }
            // Lets this core's other task queues run; glommio's preemption timer still
            // polls the rings in between.
            glommio::executor().yield_task_queue_now().await;
        }
        false
    }

    /// Commits, in order, the writes the sync thread has finished.
    fn reap(&mut self, in_flight: &mut VecDeque<Vec<Commit>>) -> std::io::Result<()> {
        let mut reaped = false;
        while let Some(result) = self.sync.as_ref().and_then(|s| s.try_done()) {
            result?;
            let commits = in_flight.pop_front().ok_or_else(|| std::io::Error::other("a log write finished twice"))?;
            for c in commits {
                self.writer()?.commit_inline(c.offset, c.len, c.last_zxid);
                self.durable(c.ticket);
            }
            reaped = true;
        }
        if reaped {
            self.quiet = in_flight.is_empty() && self.state.queue.borrow().is_empty();
        }
        Ok(())
    }

    fn writer(&mut self) -> std::io::Result<&mut LogWriter> {
        self.writer.as_mut().ok_or_else(|| std::io::Error::other("log writer lost on a blocking thread"))
    }

    /// Starts writing `batches`, in order. A batch that needs a segment roll waits for every
    /// write before it, then goes the slow way.
    async fn write(
        &mut self,
        batches: Vec<(u64, std::rc::Rc<Vec<Txn>>)>,
        in_flight: &mut VecDeque<Vec<Commit>>,
    ) -> std::io::Result<()> {
        // Hand a finished spare to the writer before these batches may need it for a roll (a
        // roll without one zero-fills a whole segment inside the commit).
        self.refill_spare();
        let mut gathered: Option<Gathered> = None;
        for (ticket, txns) in batches {
            if let Some(w) = self.writer()?.prepare_inline(&txns) {
                let c = Commit { ticket, offset: w.offset, len: w.bytes.len() as u64, last_zxid: w.last_zxid };
                match &mut gathered {
                    Some(g) if g.path == w.path && g.offset + g.bytes.len() as u64 == w.offset => {
                        g.bytes.extend_from_slice(&w.bytes);
                        g.commits.push(c);
                        g.zero_until = w.zero_until;
                        g.txns += txns.len();
                    }
                    _ => {
                        self.submit(gathered.take(), in_flight)?;
                        let zero_until = w.zero_until;
                        gathered = Some(Gathered {
                            path: w.path,
                            offset: w.offset,
                            bytes: w.bytes,
                            commits: vec![c],
                            zero_until,
                            txns: txns.len(),
                        });
                    }
                }
                continue;
            }
            self.submit(gathered.take(), in_flight)?;
            while !in_flight.is_empty() {
                self.sync.as_mut().ok_or_else(|| std::io::Error::other("log writes in flight without a sync thread"))?.wait_done().await?;
                self.reap(in_flight)?;
            }
            let batch: Vec<Txn> = txns.as_ref().clone();
            let mut writer = self.writer.take().ok_or_else(|| std::io::Error::other("log writer lost"))?;
            let (writer, result) = glommio::executor()
                .spawn_blocking(move || {
                    let r = writer.append_txns(&batch);
                    (writer, r)
                })
                .await;
            self.writer = Some(writer);
            result.map_err(|e| std::io::Error::other(e.to_string()))?;
            self.durable(ticket);
            // The roll used the spare: start the next one now.
            self.refill_spare();
        }
        self.submit(gathered, in_flight)
    }

    /// Hands gathered inline batches to the sync thread.
    fn submit(&mut self, gathered: Option<Gathered>, in_flight: &mut VecDeque<Vec<Commit>>) -> std::io::Result<()> {
        let Some(mut g) = gathered else { return Ok(()) };
        let dsync = self.writer()?.force_sync();
        let end = g.offset + g.bytes.len() as u64;
        g.bytes.resize(g.bytes.len() + g.zero_until.saturating_sub(end) as usize, 0);
        if self.sync.is_none() {
            self.sync = Some(super::log_thread::LogThread::start()?);
        }
        let job = super::log_thread::Job { path: g.path, offset: g.offset, bytes: g.bytes, dsync };
        self.sync.as_ref().expect("started above").submit(job);
        self.txns_in_flight = g.txns;
        in_flight.push_back(g.commits);
        Ok(())
    }

    fn durable(&self, ticket: u64) {
        self.state.durable.set(ticket);
        self.state.changed.notify();
    }

    /// Keeps a preallocated next segment ready, made on a background thread, so a segment
    /// roll never zero-fills 64 MiB inside a batch's commit.
    fn refill_spare(&mut self) {
        let Some(writer) = self.writer.as_mut() else { return };
        if let Some(temp) = self.spare.borrow_mut().take() {
            writer.adopt_spare(temp, self.segment_bytes);
        }
        if !writer.needs_spare() || self.spare_in_flight.get() {
            return;
        }
        self.spare_in_flight.set(true);
        let (dir, size) = (self.dir.clone(), self.segment_bytes);
        let job = background("zkr-prealloc", move || crate::log::segment::preallocate(&dir, size));
        let (spare, in_flight) = (self.spare.clone(), self.spare_in_flight.clone());
        glommio::spawn_local(async move {
            match job.await {
                Ok(Ok(temp)) => *spare.borrow_mut() = Some(temp),
                Ok(Err(e)) => tracing::warn!("preallocating the next log segment failed: {e}"),
                Err(e) => tracing::warn!("preallocating the next log segment failed: {e}"),
            }
            in_flight.set(false);
        })
        .detach();
    }
}

/// Writes a fuzzy snapshot of `arena` (at least as new as `zxid`) and purges what the
/// retained snapshots no longer need. Blocking: call from `spawn_blocking`.
pub fn snapshot_and_purge(
    snaps: &Path,
    logs: &Path,
    arena: Arc<crate::tree::Arena>,
    zxid: i64,
    sessions: Vec<(i64, i32)>,
    retain: usize,
) -> Result<(), String> {
    let mut nodes = Vec::with_capacity(arena.node_count());
    arena.for_each(|p, n| nodes.push((p.to_string(), n.clone())));
    let info = crate::snapshot::write_snapshot(snaps, zxid, super::clock::wall_ms(), &sessions, nodes.into_iter())
        .map_err(|e| e.to_string())?;
    tracing::info!(
        path = %info.path.display(),
        nodes = info.nodes,
        bytes = info.bytes,
        "snapshot written"
    );
    if let Some(oldest) = crate::snapshot::purge(snaps, retain).map_err(|e| e.to_string())? {
        crate::log::segment::purge_segments(logs, oldest).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Niceness of background work (snapshots, segment preallocation): under contention it gets
/// about a tenth of the CPU share of a request-serving thread.
const BACKGROUND_NICE: libc::c_int = 10;
/// `IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT`: its disk I/O goes when the disk is otherwise
/// idle (with an I/O scheduler that knows classes, e.g. mq-deadline or bfq), so a snapshot or
/// a 64 MiB zero-fill does not queue in front of the log's syncs.
const IOPRIO_IDLE: libc::c_int = 3 << 13;
/// `IOPRIO_WHO_PROCESS` (a thread id, on Linux).
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
/// How often an executor looks whether its background job has finished.
const BACKGROUND_POLL_MS: u64 = 10;

/// Lowers the calling thread's CPU and disk priority for background work (Linux applies both
/// to the calling thread only). Best effort.
pub fn lower_thread_priority() {
    // SAFETY: gettid, setpriority and ioprio_set have no memory-safety preconditions.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::c_int;
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BACKGROUND_NICE) != 0 {
            tracing::debug!("could not lower a background thread's CPU priority");
        }
        if libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_IDLE) != 0 {
            tracing::debug!("could not lower a background thread's I/O priority");
        }
    }
}

/// Runs `job` on a thread of its own at background priority, not on glommio's blocking pool
/// (whose thread the log's segment rolls need); the returned future resolves when it is done.
/// Err when the thread cannot start or dies.
pub fn background<T: Send + 'static>(
    name: &str,
    job: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Result<T, String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name(name.to_string()).spawn(move || {
        super::cpus::unpin_this_thread();
        lower_thread_priority();
        let _ = tx.send(job());
    });
    let name = name.to_string();
    async move {
        if let Err(e) = spawned {
            return Err(format!("cannot start thread {name}: {e}"));
        }
        loop {
            match rx.try_recv() {
                Ok(v) => return Ok(v),
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    glommio::timer::sleep(std::time::Duration::from_millis(BACKGROUND_POLL_MS)).await
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return Err(format!("thread {name} died")),
            }
        }
    }
}
