//! `zkr bench`: a load generator for any ZooKeeper-protocol server (zkr or Apache ZooKeeper).
//!
//! Owns: its own pipelined client (`client`), the workloads (`work`), the run (`run`: one
//! glommio executor per client thread, sessions dealt over threads and servers, warm-up, a
//! bounded measured window, progress, CPU accounting, cleanup), and the reports (`report`:
//! table, JSON, HdrHistogram percentile distributions, SVG percentile plots).
//!
//! Latencies are recorded in nanoseconds into HdrHistograms, from the moment a request is
//! queued to the moment its reply is parsed, for requests sent inside the measured window and
//! answered before it ends. Throughput is answered requests in the window over its length.
//!
//! Everything a run creates lives under one fresh root znode (`/zkr-bench-<pid>-<time>`),
//! deleted at the end, also after an error or Ctrl-C.

pub mod client;
pub mod floor;
pub mod report;
pub mod run;
pub mod sys;
mod work;

use std::net::SocketAddr;
use std::time::Duration;

/// What the sessions do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Persistent creates of new znodes (one parent per session).
    Create,
    /// Persistent sequential creates (one parent per session).
    CreateSeq,
    /// setData on random keys.
    Set,
    /// getData on random keys.
    Get,
    /// exists on random keys.
    Exists,
    /// getChildren of the keys' parent.
    Children,
    /// getData / setData on random keys, `--read-ratio` of them reads.
    Mixed,
    /// multi of `--multi-ops` setData ops on random keys.
    Multi,
    /// Watch fan-out: `--watchers` sessions watch one znode; time from setData to the last
    /// notification.
    Watch,
    /// Session storm: each session slot opens a session and closes it, over and over.
    Sessions,
    /// Lock contention: the fair lock recipe (ephemeral sequential nodes) on one lock.
    Lock,
}

impl Workload {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::CreateSeq => "create-seq",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::Children => "children",
            Workload::Mixed => "mixed",
            Workload::Multi => "multi",
            Workload::Watch => "watch",
            Workload::Sessions => "sessions",
            Workload::Lock => "lock",
        }
    }

    /// The op types it reports, in table order.
    pub fn ops(self) -> &'static [&'static str] {
        match self {
            Workload::Create => &["create"],
            Workload::CreateSeq => &["create-seq"],
            Workload::Set => &["set"],
            Workload::Get => &["get"],
            Workload::Exists => &["exists"],
            Workload::Children => &["children"],
            Workload::Mixed => &["get", "set"],
            Workload::Multi => &["multi"],
            Workload::Watch => &["fanout"],
            Workload::Sessions => &["open", "close"],
            Workload::Lock => &["lock"],
        }
    }
}

/// A whole run, as given on the command line.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Servers; sessions are dealt round-robin over them.
    pub servers: Vec<SocketAddr>,
    /// The workload.
    pub workload: Workload,
    /// Sessions (for `watch`: the driver's; see `watchers`).
    pub sessions: usize,
    /// Requests each session keeps outstanding.
    pub outstanding: usize,
    /// Bytes of znode data written and read.
    pub payload: usize,
    /// Length of the measured window (with `ops`: an upper bound on it).
    pub duration: Duration,
    /// Stop after this many measured ops instead (rounds for `watch`).
    pub ops: Option<u64>,
    /// Time run before the measured window, not recorded.
    pub warmup: Duration,
    /// Share of reads in `mixed`.
    pub read_ratio: f64,
    /// Keys read and written by set/get/exists/mixed/multi; children of the `children` parent.
    pub keys: usize,
    /// Watcher sessions of the `watch` workload.
    pub watchers: usize,
    /// Ops per multi.
    pub multi_ops: usize,
    /// Client threads (one glommio executor each).
    pub threads: usize,
    /// Requested session timeout (ms).
    pub session_timeout_ms: i32,
    /// Print a progress line to stderr every second.
    pub progress: bool,
    /// Seed of the key choices.
    pub seed: u64,
}

impl Plan {
    /// The label of the run in reports: workload and shape.
    pub fn label(&self) -> String {
        match self.workload {
            Workload::Watch => format!("watch {}", self.watchers),
            w => format!("{} {}x{}", w.name(), self.sessions, self.outstanding),
        }
    }
}

/// The canonical run of a bare `zkr bench`: mixed 90% reads, 16 sessions with 16 requests
/// outstanding each, 100-byte values, 1000 keys, 10 s measured after 2 s of warm-up.
pub fn canonical(servers: Vec<SocketAddr>) -> Plan {
    Plan {
        servers,
        workload: Workload::Mixed,
        sessions: 16,
        outstanding: 16,
        payload: 100,
        duration: Duration::from_secs(10),
        ops: None,
        warmup: Duration::from_secs(2),
        read_ratio: 0.9,
        keys: 1000,
        watchers: 1000,
        multi_ops: 4,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        session_timeout_ms: 30_000,
        progress: true,
        seed: 1,
    }
}
