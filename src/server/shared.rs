//! State shared by every core: the config, the znode arena (lock-free reads), and counters that
//! are atomics written by one owner each. No locks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::stats::CoreStats;
use crate::config::Config;
use crate::tree::Arena;

/// Process-wide read-mostly state.
pub struct Shared {
    /// The parsed config.
    pub config: Config,
    /// The znode arena.
    pub arena: Arc<Arena>,
    /// Each core's counters, by core id.
    pub stats: Vec<Arc<CoreStats>>,
    /// Wall time at start, ms.
    pub started_wall_ms: i64,
    /// Live sessions (written by the consensus core).
    pub sessions: AtomicU64,
    /// Ephemeral nodes (written by the consensus core).
    pub ephemerals: AtomicU64,
    /// Writes waiting at the consensus core.
    pub leader_outstanding: AtomicU64,
    /// Number of cores.
    pub cores: usize,
    /// Open connections per client IP (maxClientCnxns).
    pub per_ip: papaya::HashMap<std::net::IpAddr, Arc<std::sync::atomic::AtomicU32>>,
    /// Connections handed to each core and not yet closed (the acceptor's balance).
    pub assigned: Vec<AtomicU64>,
    /// Connections handed to each core whose task has not ended yet (counted on the
    /// accepting core before the hand-over): with none, a core has nothing to hear of an
    /// applied batch.
    pub live: Vec<AtomicU64>,
    /// The last zxid whose batch the consensus core has applied and handed out. Not the
    /// arena's applied zxid: that one moves when a batch is applied, before its outcomes are
    /// sent, and a core adopting a connection (`Core::adopt`) must not count as delivered a
    /// batch whose message may still be on its way to it.
    pub applied_zxid: std::sync::atomic::AtomicI64,
}

impl Shared {
    /// Live sessions.
    pub fn session_count(&self) -> u64 {
        self.sessions.load(Ordering::Relaxed)
    }
}
