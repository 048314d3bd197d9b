//! The znode arena: path -> `Arc<Node>` in a lock-free concurrent map (papaya), read from every
//! core without locks, written by exactly one thread (the consensus core's apply step).
//!
//! Visibility protocol (what makes "watch event before data" hold for readers on other cores):
//! the writer stores `applying_zxid` before it changes any node of a batch and `applied_zxid`
//! after the last change. A reader that loads `applied_zxid` (a), reads nodes, then loads
//! `applying_zxid` (b) has a consistent view at `a` if `a == b`; otherwise it may have seen
//! changes up to `b`. Either way it must not answer before its core delivered the watch events
//! up to the zxid it may have seen. Memory of replaced nodes is reclaimed by papaya's epoch
//! scheme once no reader holds a guard.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use super::node::Node;

/// Replaced nodes retired before the arena's epoch reclamation runs. Each run issues a
/// `membarrier` that interrupts every CPU running the server; with seize's default (32) a
/// write-heavy run spent about 6% of the server's CPU there (perf, set 16x16). Memory held
/// back is at most this many old nodes per thread.
const RECLAIM_BATCH: usize = 2048;

/// The shared, lock-free znode map.
pub struct Arena {
    nodes: papaya::HashMap<Box<str>, Arc<Node>>,
    applying_zxid: AtomicI64,
    applied_zxid: AtomicI64,
    node_count: AtomicUsize,
    data_bytes: AtomicUsize,
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena").field("applied_zxid", &self.applied_zxid()).finish()
    }
}

/// What a reader saw: the zxid its view is at least as new as, and the newest it may reflect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadView {
    /// Everything up to this zxid was applied before the read began.
    pub from_zxid: i64,
    /// The read may reflect changes up to this zxid.
    pub upto_zxid: i64,
}

impl Default for Arena {
    fn default() -> Self {
        Arena {
            nodes: papaya::HashMap::builder()
                .collector(seize::Collector::new().batch_size(RECLAIM_BATCH))
                .build(),
            applying_zxid: AtomicI64::new(0),
            applied_zxid: AtomicI64::new(0),
            node_count: AtomicUsize::new(0),
            data_bytes: AtomicUsize::new(0),
        }
    }
}

impl Arena {
    /// One node by path.
    pub fn get(&self, path: &str) -> Option<Arc<Node>> {
        self.nodes.pin().get(path).cloned()
    }

    /// Runs a read and returns its result with the view it had.
    pub fn read<T>(&self, f: impl FnOnce(&Arena) -> T) -> (T, ReadView) {
        let from_zxid = self.applied_zxid.load(Ordering::SeqCst);
        let out = f(self);
        let upto_zxid = self.applying_zxid.load(Ordering::SeqCst);
        (out, ReadView { from_zxid, upto_zxid: upto_zxid.max(from_zxid) })
    }

    /// Highest zxid fully applied.
    pub fn applied_zxid(&self) -> i64 {
        self.applied_zxid.load(Ordering::SeqCst)
    }

    /// Number of znodes.
    pub fn node_count(&self) -> usize {
        self.node_count.load(Ordering::Relaxed)
    }

    /// Sum of data lengths plus path lengths (ZooKeeper's approximate data size).
    pub fn data_bytes(&self) -> usize {
        self.data_bytes.load(Ordering::Relaxed)
    }

    /// Visits every node (for snapshots and `dump`). Not a consistent cut while writes go on.
    pub fn for_each(&self, mut f: impl FnMut(&str, &Arc<Node>)) {
        let pinned = self.nodes.pin();
        for (k, v) in pinned.iter() {
            f(k, v);
        }
    }

    // ---- writer side (only DataTree calls these) ----

    pub(super) fn begin(&self, zxid: i64) {
        self.applying_zxid.store(zxid, Ordering::SeqCst);
    }

    pub(super) fn end(&self, zxid: i64) {
        self.applied_zxid.store(zxid, Ordering::SeqCst);
    }

    pub(super) fn put(&self, path: &str, node: Arc<Node>) {
        let added = node.data.len();
        match self.nodes.pin().insert(path.into(), node) {
            Some(old) => {
                let removed = old.data.len();
                self.data_bytes.fetch_add(added, Ordering::Relaxed);
                self.data_bytes.fetch_sub(removed, Ordering::Relaxed);
            }
            None => {
                self.node_count.fetch_add(1, Ordering::Relaxed);
                self.data_bytes.fetch_add(added + path.len(), Ordering::Relaxed);
            }
        }
    }

    pub(super) fn remove(&self, path: &str) -> Option<Arc<Node>> {
        let old = self.nodes.pin().remove(path).cloned();
        if let Some(o) = &old {
            self.node_count.fetch_sub(1, Ordering::Relaxed);
            self.data_bytes.fetch_sub(o.data.len() + path.len(), Ordering::Relaxed);
        }
        old
    }
}
