//! The server runtime: the only place with glommio executors, sockets, files and the clock.
//!
//! ```text
//!  std listener (exclusive bind) ─► core 0 acceptor ─► least-connections handoff ─► core k: conn
//!  core k conn: frame, decode ─► reads: arena (lock-free) ─► reply in session order
//!                              └► writes ─► mesh ─► core 0 leader: prep ─► batch ─► sink
//!                                                   ─► apply (single writer) ─► mesh ─► core k
//! ```

pub mod clock;
pub mod conn;
pub mod core;
pub mod cpus;
pub mod four_letter;
pub mod leader;
pub mod log_thread;
pub mod metrics;
pub mod msg;
pub mod notify;
pub mod shared;
pub mod stats;
pub mod storage;

use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{CpuSet, LocalExecutorPoolBuilder, PoolPlacement};

use self::core::{Core, LEADER_CORE};
use self::msg::{LeaderMsg, Msg};
use self::shared::Shared;
use self::stats::CoreStats;
use crate::config::Config;
use crate::constants::{
    CONSENSUS_LATENCY, CONSENSUS_SHARES, MESH_CHANNEL_CAPACITY, SESSION_CHECK_INTERVAL_MS, TOUCH_REPORT_INTERVAL_MS,
};
use crate::session::SessionTable;
use crate::tree::DataTree;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// io_uring refused by the kernel or a seccomp filter.
    #[error(
        "io_uring is not available ({0}). zkr needs Linux >= 5.8 with io_uring allowed; \
         Docker's default seccomp profile and kernel.io_uring_disabled=2 block it"
    )]
    NoUring(std::io::Error),
    /// Locked-memory limit too low for the executors' registered buffers.
    #[error(
        "RLIMIT_MEMLOCK is {have} bytes but {cores} executors need {need} bytes \
         (3 x io_memory each). Raise it (ulimit -l, or LimitMEMLOCK= in the systemd unit) \
         or lower zkr.ioMemory / zkr.cores"
    )]
    MemLock {
        /// Current soft limit.
        have: u64,
        /// Needed.
        need: u64,
        /// Executors.
        cores: usize,
    },
    /// The client port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Data directory problem.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Recovery refused to start (corrupt log, missing segment, unreadable files).
    #[error("recovery failed: {0}")]
    Recovery(#[from] storage::RecoveryError),
    /// An executor failed.
    #[error("executor {0} failed: {1}")]
    Executor(usize, String),
}

/// Checks that io_uring works here, by setting up and closing a tiny ring.
pub fn check_uring() -> Result<(), StartError> {
    #[repr(C)]
    #[derive(Default)]
    struct Params {
        words: [u32; 30],
    }
    let mut p = Params::default();
    // SAFETY: io_uring_setup reads and writes the params struct (120 bytes) we pass.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 2u32, &mut p as *mut Params) };
    if fd < 0 {
        return Err(StartError::NoUring(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is the ring we just created.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

/// Checks RLIMIT_MEMLOCK against what the executors will pin (root bypasses it).
pub fn check_memlock(cores: usize, io_memory: usize) -> Result<(), StartError> {
    // SAFETY: plain libc calls writing into our struct.
    let root = unsafe { libc::geteuid() } == 0;
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: as above.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) } != 0 || root {
        return Ok(());
    }
    let need = (3 * io_memory * cores) as u64 + (512 << 10);
    if r.rlim_cur != libc::RLIM_INFINITY && r.rlim_cur < need {
        return Err(StartError::MemLock { have: r.rlim_cur, need, cores });
    }
    Ok(())
}

/// Number of executors to run.
pub fn core_count(config: &Config) -> usize {
    config.cores.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1)
}

/// Runs a standalone server until the process is killed.
pub fn run(config: Config) -> Result<(), StartError> {
    let cores = core_count(&config);
    let open_files = crate::limits::raise_open_files();
    tracing::debug!(?open_files, "open files limit");
    check_uring()?;
    check_memlock(cores, config.io_memory_bytes)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let addr = std::net::SocketAddr::new(config.client_port_address, config.client_port);
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
    listener.set_nonblocking(true).map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
    let local = listener.local_addr().map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
    let listen_fd = listener.into_raw_fd();
    let metrics_fd = match config.metrics_http_port {
        Some(port) => {
            let addr = std::net::SocketAddr::new(config.client_port_address, port);
            let l = std::net::TcpListener::bind(addr)
                .map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
            l.set_nonblocking(true)
                .map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
            Some(l.into_raw_fd())
        }
        None => None,
    };
    // Recovery runs before any executor starts; clients that connect meanwhile wait in the
    // listen backlog.
    let recovered = storage::recover(&config)?;
    tracing::info!(%local, cores, "zkr standalone server listening");
    let tree = recovered.tree;
    let shared = Arc::new(Shared {
        arena: tree.arena().clone(),
        stats: (0..cores).map(|_| Arc::new(CoreStats::new())).collect(),
        started_wall_ms: clock::wall_ms(),
        sessions: AtomicU64::new(0),
        ephemerals: AtomicU64::new(0),
        leader_outstanding: AtomicU64::new(0),
        cores,
        config,
        per_ip: papaya::HashMap::new(),
        assigned: (0..cores).map(|_| AtomicU64::new(0)).collect(),
        live: (0..cores).map(|_| AtomicU64::new(0)).collect(),
        applied_zxid: std::sync::atomic::AtomicI64::new(tree.last_zxid()),
    });
    let fresh = clock::wall_ms() as u64 ^ (std::process::id() as u64) << 32 ^ clock::mono_us();
    let secret = storage::session_secret(&shared.config, fresh)?;
    let mut sessions = SessionTable::new(0, clock::wall_ms(), secret);
    storage::restore_sessions(&mut sessions, &recovered.sessions, clock::mono_ms());
    let writer = recovered.writer;
    let replayed = recovered.replayed;
    let leader_state = Arc::new(Mutex::new(Some((tree, sessions, writer))));
    let mesh: MeshBuilder<Msg, _> = MeshBuilder::full(cores, MESH_CHANNEL_CAPACITY);
    cpus::remember_process_cpus();
    let online = CpuSet::online().ok();
    let placement = match &online {
        Some(set) if set.len() >= cores => PoolPlacement::MaxSpread(cores, online.clone()),
        _ => PoolPlacement::Unbound(cores),
    };
    // Each executor's blocking thread (log segment rolls) runs on any CPU, not pinned beside
    // its executor (see `cpus`).
    let mut builder = LocalExecutorPoolBuilder::new(placement)
        .io_memory(shared.config.io_memory_bytes)
        .blocking_thread_pool_placement(PoolPlacement::Unbound(1));
    if shared.config.spin_before_park_us > 0 {
        builder = builder.spin_before_park(Duration::from_micros(shared.config.spin_before_park_us as u64));
    }
    let handles = builder
        .on_all_shards(move || {
            let shared = shared.clone();
            let mesh = mesh.clone();
            let leader_state = leader_state.clone();
            async move {
                shard_main(shared, mesh, leader_state, listen_fd, metrics_fd, replayed).await
            }
        })
        .map_err(|e| StartError::Executor(0, e.to_string()))?;
    for (i, r) in handles.join_all().into_iter().enumerate() {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(StartError::Executor(i, e)),
            Err(e) => return Err(StartError::Executor(i, e.to_string())),
        }
    }
    Ok(())
}

type LeaderState = Arc<Mutex<Option<(DataTree, SessionTable, crate::log::writer::LogWriter)>>>;

async fn shard_main(
    shared: Arc<Shared>,
    mesh: MeshBuilder<Msg, glommio::channels::channel_mesh::Full>,
    leader_state: LeaderState,
    listen_fd: i32,
    metrics_fd: Option<i32>,
    replayed: u64,
) -> Result<(), String> {
    let (senders, mut receivers) = mesh.join().await.map_err(|_| "mesh join failed".to_string())?;
    let id = senders.peer_id();
    let mut inbox_rx = None;
    let inbox_tx = if id == LEADER_CORE {
        let (tx, rx) = glommio::channels::local_channel::new_unbounded();
        inbox_rx = Some(rx);
        Some(tx)
    } else {
        None
    };
    let core = Rc::new(Core::new(id, shared.clone(), senders, inbox_tx));
    for (_, rx) in receivers.streams() {
        let core = core.clone();
        glommio::spawn_local(async move {
            while let Some(m) = rx.recv().await {
                dispatch(&core, m);
            }
        })
        .detach();
    }
    glommio::spawn_local(touch_reporter(core.clone())).detach();
    if let Some(rx) = inbox_rx {
        let state = leader_state.lock().map_err(|_| "poisoned".to_string())?.take();
        let (tree, sessions, writer) = state.ok_or("leader state taken twice")?;
        let cfg = &shared.config;
        let plan = leader::SnapshotPlan {
            snap_dir: storage::snap_dir(cfg),
            log_dir: storage::log_dir(cfg),
            every_txns: cfg.snap_count.max(2),
            retain: cfg.autopurge_snap_retain_count as usize,
            // As ZooKeeper after loading its database: a replayed log is snapshotted at once
            // (in the background), so the next start does not replay it again.
            since: if replayed > 0 { cfg.snap_count.max(2) } else { 0 },
            in_flight: Rc::new(std::cell::Cell::new(false)),
        };
        // The consensus pipeline and the log's disk task run in a task queue of their own, ahead
        // of this core's connections: a batch that became durable is applied and answered
        // before more requests are read, and the next write starts without waiting behind
        // them.
        let tq = glommio::executor().create_task_queue(
            glommio::Shares::Static(CONSENSUS_SHARES),
            glommio::Latency::Matters(CONSENSUS_LATENCY),
            "consensus",
        );
        let sink = storage::DurableSink::new(writer, storage::log_dir(cfg), cfg.log_segment_bytes, tq, shared.clone())?;
        let leader = leader::Leader::new(core.clone(), tree, sessions, sink).with_snapshots(plan);
        glommio::spawn_local_into(leader.run(rx), tq)
            .map_err(|e| format!("cannot start the consensus pipeline: {e}"))?
            .detach();
        glommio::spawn_local(ticker(core.clone())).detach();
        if let Some(fd) = metrics_fd {
            // SAFETY: fd is the bound, listening metrics socket from std, handed over once.
            let l = unsafe { glommio::net::TcpListener::from_raw_fd(fd) };
            glommio::spawn_local(metrics::serve(core.clone(), l)).detach();
        }
        // SAFETY: listen_fd is the bound, listening socket from std, handed over exactly once.
        let listener = unsafe { glommio::net::TcpListener::from_raw_fd(listen_fd) };
        accept_loop(core, listener).await;
    } else {
        // Non-leader cores live as long as their tasks; park forever.
        futures_lite::future::pending::<()>().await;
    }
    Ok(())
}

fn dispatch(core: &Rc<Core>, m: Msg) {
    match m {
        Msg::Leader(lm) => {
            if let Some(inbox) = &core.leader_inbox {
                let _ = inbox.try_send(lm);
            }
        }
        Msg::Applied(applied, outcomes) => core.on_applied(&applied, outcomes),
        Msg::Accepted(stream) => {
            let stream = core.adopt(stream);
            glommio::spawn_local(guarded(core.clone(), stream)).detach();
        }
        Msg::ReportRequest { reply_to, id, reset } => {
            let report = Box::new(core.report(reset));
            let core = core.clone();
            glommio::spawn_local(async move {
                core.send(reply_to, Msg::Report { id, report }).await;
            })
            .detach();
        }
        Msg::Report { id, report } => core.on_report(id, *report),
    }
}

async fn accept_loop(core: Rc<Core>, listener: glommio::net::TcpListener) {
    loop {
        let stream = match listener.shared_accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let target = least_loaded(&core.shared);
        core.shared.assigned[target].fetch_add(1, Ordering::Relaxed);
        core.shared.live[target].fetch_add(1, Ordering::SeqCst);
        if target == core.id {
            let s = stream.bind_to_executor();
            glommio::spawn_local(guarded(core.clone(), s)).detach();
        } else {
            core.send(target, Msg::Accepted(stream)).await;
        }
    }
}

fn admit(s: &glommio::net::TcpStream, shared: &Shared) -> bool {
    let max = shared.config.max_client_cnxns;
    let Ok(addr) = s.peer_addr() else { return false };
    let pinned = shared.per_ip.pin();
    let counter = pinned.get_or_insert_with(addr.ip(), || Arc::new(AtomicU32::new(0))).clone();
    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
    if max > 0 && n > max {
        counter.fetch_sub(1, Ordering::SeqCst);
        tracing::warn!("too many connections from {} - max is {}", addr.ip(), max);
        return false;
    }
    true
}

/// The core with the fewest open connections; ties go to the lowest core id, so a lone session
/// lands on the consensus core (core 0) and its writes skip two cross-core hops.
fn least_loaded(shared: &Shared) -> usize {
    (0..shared.cores)
        .min_by_key(|&c| (shared.assigned[c].load(Ordering::Relaxed), c))
        .unwrap_or(0)
}

/// Serves a connection if its IP is under maxClientCnxns, else closes it.
/// The acceptor's count for the connection is given back by the connection when it starts
/// closing (`Conn::close_after_flush`), or here if it is refused.
async fn guarded(core: Rc<Core>, s: glommio::net::TcpStream) {
    let live = &core.shared.live[core.id];
    if !admit(&s, &core.shared) {
        core.shared.assigned[core.id].fetch_sub(1, Ordering::Relaxed);
        live.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let ip = s.peer_addr().ok().map(|a| a.ip());
    let shared = core.shared.clone();
    conn::serve(core.clone(), s).await;
    live.fetch_sub(1, Ordering::SeqCst);
    if let Some(ip) = ip
        && let Some(c) = shared.per_ip.pin().get(&ip) {
            c.fetch_sub(1, Ordering::SeqCst);
        }
}

async fn touch_reporter(core: Rc<Core>) {
    loop {
        glommio::timer::sleep(Duration::from_millis(TOUCH_REPORT_INTERVAL_MS)).await;
        let ids: Vec<i64> = std::mem::take(&mut *core.touched.borrow_mut()).into_iter().filter(|s| *s != 0).collect();
        if !ids.is_empty() {
            core.to_leader(LeaderMsg::Touch(ids));
        }
    }
}

async fn ticker(core: Rc<Core>) {
    loop {
        glommio::timer::sleep(Duration::from_millis(SESSION_CHECK_INTERVAL_MS)).await;
        core.to_leader(LeaderMsg::Tick);
    }
}
