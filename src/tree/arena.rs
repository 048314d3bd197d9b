//! The znode arena: path -> `Arc<Node>` in a lock-free concurrent map (papaya), read from every
//! core without locks, written by exactly one thread (the consensus core's apply step).
//!
//! Each path's entry holds its node in a `Slot`, an atomic pointer to an `Arc<Node>`. A change
//! to an existing node swaps the pointer and retires the old `Arc` through the map's own epoch
//! collector; only creates and deletes touch the map. (A papaya insert over an existing key
//! allocates a new entry with a copy of the key and retires the old one: under set 16x16 that
//! was 5% of the consensus core's time.) A read costs what it did with `Arc<Node>` values: a
//! load and a reference count increment, under the guard it holds anyway.
//!
//! Visibility protocol (what makes "watch event before data" hold for readers on other cores):
//! the writer stores `applying_zxid` before it changes any node of a batch and `applied_zxid`
//! after the last change. A reader that loads `applied_zxid` (a), reads nodes, then loads
//! `applying_zxid` (b) has a consistent view at `a` if `a == b`; otherwise it may have seen
//! changes up to `b`. Either way it must not answer before its core delivered the watch events
//! up to the zxid it may have seen. Memory of replaced nodes is reclaimed by papaya's epoch
//! scheme once no reader holds a guard.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicPtr, AtomicUsize, Ordering};

use super::node::Node;

/// Replaced nodes retired before the arena's epoch reclamation runs. Each run issues a
/// `membarrier` that interrupts every CPU running the server; with seize's default (32) a
/// write-heavy run spent about 6% of the server's CPU there (perf, set 16x16). Memory held
/// back is at most this many old nodes per thread.
const RECLAIM_BATCH: usize = 2048;

/// The shared, lock-free znode map.
pub struct Arena {
    nodes: papaya::HashMap<Box<str>, Slot, PathHasher>,
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

/// One path's current node: an `Arc<Node>` turned into a raw pointer, swapped by the writer.
///
/// Invariant: the pointer always comes from `Arc::into_raw` and the slot owns that one strong
/// reference. A replaced pointer is retired through the map's collector, so it stays valid
/// until every guard that could have loaded it is gone. A `&Slot` is only reachable through a
/// pinned map (the type is private to this module), so whoever holds one holds such a guard.
struct Slot(AtomicPtr<Node>);

impl Slot {
    fn new(node: Arc<Node>) -> Slot {
        Slot(AtomicPtr::new(Arc::into_raw(node).cast_mut()))
    }

    /// The node, as a new `Arc`.
    fn load(&self) -> Arc<Node> {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: p came from Arc::into_raw, and its strong reference is not dropped before
        // the guard our caller holds is released (see the type's invariant).
        unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        }
    }

    /// Stores `node`; returns the data length of the node it replaced. The old node is
    /// released once no reader that may have loaded it is left. `guard` must be a guard of
    /// the map that holds this slot.
    fn replace(&self, node: Arc<Node>, guard: &impl seize::Guard) -> usize {
        let old = self.0.swap(Arc::into_raw(node).cast_mut(), Ordering::AcqRel);
        // SAFETY: old came from Arc::into_raw and the slot's strong reference keeps it alive.
        let len = unsafe { (&*old).data.len() };
        // SAFETY: old is no longer reachable through the slot, so no guard entered from now
        // on can load it; the reclaimer drops exactly the slot's strong reference.
        unsafe { guard.defer_retire(old, release_node) };
        len
    }
}

/// Drops the strong reference a retired slot pointer held.
///
/// # Safety
/// `p` must come from `Arc::into_raw` and its reference must not be used elsewhere.
unsafe fn release_node(p: *mut Node, _: &seize::Collector) {
    // SAFETY: per the function's contract.
    drop(unsafe { Arc::from_raw(p) });
}

impl Drop for Slot {
    fn drop(&mut self) {
        // SAFETY: the map drops an entry only once no guard can reach it, and the pointer
        // holds the slot's own strong reference.
        drop(unsafe { Arc::from_raw(*self.0.get_mut()) });
    }
}

/// Hashes paths and other client-chosen keys (prep's ACL lists): foldhash, seeded per process
/// (clients must not be able to aim keys at one bucket), several times faster than std's
/// SipHash on short strings.
pub type PathHasher = foldhash::fast::RandomState;

/// A std map keyed by path, hashed with `PathHasher`.
pub type PathMap<V> = std::collections::HashMap<String, V, PathHasher>;

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
                .hasher(PathHasher::default())
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
        self.nodes.pin().get(path).map(Slot::load)
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
            f(k, &v.load());
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
        let guard = self.nodes.guard();
        if let Some(slot) = self.nodes.get(path, &guard) {
            let removed = slot.replace(node, &guard);
            self.data_bytes.fetch_add(added, Ordering::Relaxed);
            self.data_bytes.fetch_sub(removed, Ordering::Relaxed);
        } else {
            self.nodes.insert(path.into(), Slot::new(node), &guard);
            self.node_count.fetch_add(1, Ordering::Relaxed);
            self.data_bytes.fetch_add(added + path.len(), Ordering::Relaxed);
        }
    }

    pub(super) fn remove(&self, path: &str) -> Option<Arc<Node>> {
        let old = self.nodes.pin().remove(path).map(Slot::load);
        if let Some(o) = &old {
            self.node_count.fetch_sub(1, Ordering::Relaxed);
            self.data_bytes.fetch_sub(o.data.len() + path.len(), Ordering::Relaxed);
        }
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(v: i32) -> Arc<Node> {
        let mut n = Node::new(1, 0, 0, Arc::from(v.to_le_bytes().as_slice()), Arc::from(&[][..]));
        n.version = v;
        Arc::new(n)
    }

    /// Readers on other threads always see a whole node (data matches version) and never a
    /// released one, while the writer replaces, removes and re-creates it.
    #[test]
    fn readers_see_whole_nodes_while_the_writer_replaces_them() {
        let arena = Arc::new(Arena::default());
        arena.put("/a", node(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (arena, stop, started) = (arena.clone(), stop.clone(), started.clone());
                std::thread::spawn(move || {
                    let mut seen = 0u64;
                    loop {
                        if let Some(n) = arena.get("/a") {
                            assert_eq!(&n.data[..], &n.version.to_le_bytes()[..]);
                            seen += 1;
                            if seen == 1 {
                                started.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        if stop.load(Ordering::Relaxed) && seen > 0 {
                            return seen;
                        }
                    }
                })
            })
            .collect();
        // The writer starts once both readers are reading.
        while started.load(Ordering::SeqCst) < 2 {
            std::thread::yield_now();
        }
        for v in 1..20_000 {
            if v % 1000 == 0 {
                assert!(arena.remove("/a").is_some());
            }
            arena.put("/a", node(v));
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
        assert_eq!(arena.node_count(), 1);
        assert_eq!(arena.data_bytes(), 4 + 2);
        assert_eq!(arena.get("/a").unwrap().version, 19_999);
    }
}
