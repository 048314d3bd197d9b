//! The znode tree: the state machine that txns are applied to, in zxid order, by one writer.
//!
//! Owns the shared `Arena` (read lock-free by every core) plus writer-only indexes (ephemerals
//! per session, containers, TTL nodes). No I/O, no clock, no randomness: the same txns give the
//! same tree (cf. ZooKeeper's `DataTree`).

pub mod acl;
pub mod arena;
pub mod node;
pub mod path;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use arena::{Arena, ReadView};
pub use node::Node;

use crate::proto::error_code::ErrorCode;
use crate::proto::records::Stat;
use crate::txn::{CreateTxn, NodeKind, Txn, TxnBody};
use crate::types::{SessionId, Zxid};
use arena::PathMap;

/// Watch event types (Watcher.Event.EventType) that the tree emits.
pub mod event {
    /// A node came into being.
    pub const NODE_CREATED: i32 = 1;
    /// A node went.
    pub const NODE_DELETED: i32 = 2;
    /// A node's data changed.
    pub const NODE_DATA_CHANGED: i32 = 3;
    /// A node's child list changed.
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
}

/// One change that may fire watches, in apply order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTrigger {
    /// The txn that caused it.
    pub zxid: Zxid,
    /// The node concerned.
    pub path: Arc<str>,
    /// One of `event::*`.
    pub event_type: i32,
}

/// What applying one txn (or one op of a multi) produced, for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// Node created (path with suffix, its stat).
    Create {
        /// Final path.
        path: String,
        /// Stat of the new node.
        stat: Stat,
    },
    /// Node deleted.
    Delete,
    /// Data set; new stat.
    SetData(Stat),
    /// ACL set; new stat.
    SetAcl(Stat),
    /// Version check passed.
    Check,
    /// Results of a multi, one per op.
    Multi(Vec<OpResult>),
    /// Session created.
    CreateSession,
    /// Session closed.
    CloseSession,
    /// Op failed with this code.
    Error(ErrorCode),
}

/// Nodes kept staged (see `DataTree::staged`) before they are moved into the arena.
const STAGED_MAX: usize = if cfg!(test) { 8 } else { 1 << 16 };

/// The single-writer tree.
#[derive(Debug)]
pub struct DataTree {
    arena: Arc<Arena>,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    last_zxid: Zxid,
    /// While set, changed nodes are kept here, owned by the tree alone, instead of in the
    /// arena: a node changed again is changed in place, and a big child list is not copied
    /// along its B-tree path on every create under it. Replay at start stages every write
    /// (`stage_writes`: nothing reads the arena then); a live batch stages only nodes whose
    /// child list changes, and publishes them before its end (`apply_batch`).
    staged: Option<PathMap<Arc<Node>>>,
    /// Every write is staged, not only child-list changes.
    stage_all: bool,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

impl DataTree {
    /// A tree with `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`, as ZooKeeper.
    pub fn new() -> DataTree {
        let tree = DataTree {
            arena: Arc::new(Arena::default()),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_zxid: 0,
            staged: None,
            stage_all: false,
        };
        let open: Arc<[crate::proto::records::Acl]> = acl::open_acl().into();
        let empty: Arc<[u8]> = Arc::from(&[][..]);
        let mut root = Node::new(0, 0, 0, empty.clone(), open.clone());
        root.children.insert(Arc::from("zookeeper"));
        let mut zk = Node::new(0, 0, 0, empty.clone(), open.clone());
        zk.children.insert(Arc::from("quota"));
        zk.children.insert(Arc::from("config"));
        tree.arena.put("/", Arc::new(root));
        tree.arena.put(path::ZOOKEEPER_DIR, Arc::new(zk));
        tree.arena.put(path::QUOTA_DIR, Arc::new(Node::new(0, 0, 0, empty.clone(), open.clone())));
        let read_only: Arc<[crate::proto::records::Acl]> = vec![crate::proto::records::Acl {
            perms: acl::perms::READ,
            id: crate::proto::records::Id { scheme: "world".into(), id: "anyone".into() },
        }]
        .into();
        tree.arena.put(path::CONFIG_NODE, Arc::new(Node::new(0, 0, 0, empty, read_only)));
        tree
    }

    /// Rebuilds a tree from snapshot nodes (children lists are rebuilt from the paths). Nodes
    /// whose parent is missing (possible in a fuzzy snapshot whose parent delete raced the scan)
    /// are dropped: the log replay after the snapshot deletes them anyway. Returns the tree
    /// and the number of nodes dropped.
    pub fn restore(last_zxid: Zxid, nodes: Vec<(String, Node)>) -> (DataTree, usize) {
        let mut by_path: BTreeMap<String, Node> = BTreeMap::new();
        for (p, mut n) in nodes {
            n.children = node::Children::new();
            by_path.insert(p, n);
        }
        if !by_path.contains_key("/") {
            let fresh = DataTree::new();
            fresh.arena.for_each(|p, n| {
                by_path.entry(p.to_string()).or_insert_with(|| (**n).clone());
            });
        }
        // BTreeMap order puts a parent before its children ("/a" < "/a/b").
        let paths: Vec<String> = by_path.keys().cloned().collect();
        let mut dropped = 0;
        let mut kept: BTreeSet<String> = BTreeSet::new();
        for p in &paths {
            match path::parent(p) {
                None => {
                    kept.insert(p.clone());
                }
                Some(pp) if kept.contains(pp) => {
                    kept.insert(p.clone());
                    let name: Arc<str> = Arc::from(path::name(p));
                    if let Some(parent) = by_path.get_mut(pp) {
                        parent.children.insert(name);
                    }
                }
                Some(_) => dropped += 1,
            }
        }
        let mut tree = DataTree {
            arena: Arc::new(Arena::default()),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_zxid,
            staged: None,
            stage_all: false,
        };
        for (p, n) in by_path {
            if !kept.contains(&p) {
                continue;
            }
            match n.kind() {
                NodeKind::Ephemeral(s) => {
                    tree.ephemerals.entry(s).or_default().insert(p.clone());
                }
                NodeKind::Container => {
                    tree.containers.insert(p.clone());
                }
                NodeKind::Ttl(_) => {
                    tree.ttls.insert(p.clone());
                }
                NodeKind::Persistent => {}
            }
            tree.arena.put(&p, Arc::new(n));
        }
        tree.arena.begin(last_zxid);
        tree.arena.end(last_zxid);
        (tree, dropped)
    }

    /// Sessions that own ephemerals (for recovery checks).
    pub fn ephemeral_owners(&self) -> Vec<SessionId> {
        self.ephemerals.keys().copied().collect()
    }

    /// The shared arena, for readers on other cores.
    pub fn arena(&self) -> &Arc<Arena> {
        &self.arena
    }

    /// Highest applied zxid.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Paths of the ephemerals a session owns, sorted.
    pub fn ephemerals_of(&self, session: SessionId) -> Vec<String> {
        self.ephemerals.get(&session).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// Number of ephemeral nodes (for `mntr`).
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    /// Sessions with ephemerals and their paths (for `dump`).
    pub fn ephemerals(&self) -> &BTreeMap<SessionId, BTreeSet<String>> {
        &self.ephemerals
    }

    /// Containers with no children that have had children, and TTL nodes with no children
    /// unchanged for longer than their TTL: ZooKeeper's `ContainerManager` candidates.
    pub fn expired_containers(&self, now_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.containers {
            if let Some(n) = self.get(p)
                && n.children.is_empty() && n.cversion > 0 {
                    out.push(p.clone());
                }
        }
        for p in &self.ttls {
            if let Some(n) = self.get(p)
                && let NodeKind::Ttl(ttl) = n.kind()
                    && n.children.is_empty() && now_ms - n.mtime > ttl {
                        out.push(p.clone());
                    }
        }
        out
    }

    /// From now on keep changed nodes out of the arena, owned by the tree (see `staged`).
    /// Nothing may read the arena until `publish_staged`.
    pub fn stage_writes(&mut self) {
        self.staged.get_or_insert_with(PathMap::default);
        self.stage_all = true;
    }

    /// Moves the staged nodes into the arena and goes back to writing there directly.
    pub fn publish_staged(&mut self) {
        self.move_staged();
        self.staged = None;
        self.stage_all = false;
    }

    /// Ends a replay (`stage_writes`, then `apply` txn by txn): publishes the staged nodes and
    /// marks the arena applied up to the last replayed zxid, which readers and reconnecting
    /// clients (their last zxid seen) compare against.
    pub fn publish_replayed(&mut self) {
        self.publish_staged();
        self.arena.begin(self.last_zxid);
        self.arena.end(self.last_zxid);
    }

    /// Moves the staged nodes into the arena, staying in staging mode.
    fn move_staged(&mut self) {
        if let Some(staged) = &mut self.staged {
            for (p, n) in staged.drain() {
                self.arena.put(&p, n);
            }
        }
    }

    fn get(&self, path: &str) -> Option<Arc<Node>> {
        match self.staged.as_ref().and_then(|s| s.get(path)) {
            Some(n) => Some(n.clone()),
            None => self.arena.get(path),
        }
    }

    fn put(&mut self, path: &str, node: Node) {
        self.put_as(path, node, false);
    }

    /// Stores `node`: staged if staging takes it (every write, or a child-list change), else
    /// in the arena.
    fn put_as(&mut self, path: &str, node: Node, children_changed: bool) {
        let stage = self.stage_all || children_changed;
        match &mut self.staged {
            Some(s) if stage => {
                s.insert(path.to_string(), Arc::new(node));
                // Bounded: the map's keys are memory on top of the nodes, and the nodes changed
                // often (parents) are few, so moving them out now and then costs little.
                if s.len() >= STAGED_MAX {
                    self.move_staged();
                }
            }
            _ => self.arena.put(path, Arc::new(node)),
        }
    }

    fn remove(&mut self, path: &str) -> Option<Arc<Node>> {
        let staged = self.staged.as_mut().and_then(|s| s.remove(path));
        let published = self.arena.remove(path);
        staged.or(published)
    }

    /// Changes the node at `path` with `f`; None if there is none. Copy on write in the arena;
    /// in place when staged and changed before.
    fn update<R>(&mut self, path: &str, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
        self.update_as(path, false, f)
    }

    /// `update` of a node whose child list `f` changes (see `put_as`).
    fn update_children<R>(&mut self, path: &str, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
        self.update_as(path, true, f)
    }

    fn update_as<R>(&mut self, path: &str, children_changed: bool, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
        // A staged node is the newest: it is changed there, whatever the change.
        if let Some(n) = self.staged.as_mut().and_then(|s| s.get_mut(path)) {
            return Some(f(Arc::make_mut(n)));
        }
        let mut n = (*self.arena.get(path)?).clone();
        let r = f(&mut n);
        self.put_as(path, n, children_changed);
        Some(r)
    }

    /// Applies a batch of txns in order. Readers see `applying` from the first change on.
    pub fn apply_batch<'a>(
        &mut self,
        txns: impl IntoIterator<Item = &'a Txn>,
        last_zxid: Zxid,
        mut each: impl FnMut(&Txn, OpResult, &mut Vec<WatchTrigger>),
        triggers: &mut Vec<WatchTrigger>,
    ) {
        assert!(last_zxid >= self.last_zxid, "zxids applied out of order");
        self.arena.begin(last_zxid);
        // Within the batch a node changed twice (a parent getting many children) is copied
        // once. Readers see the batch's changes appear between `begin` and `end`, in no
        // particular order, which the visibility protocol already allows (see `arena`).
        let outer = self.staged.is_some();
        self.staged.get_or_insert_with(PathMap::default);
        for txn in txns {
            let result = self.apply(txn, triggers);
            each(txn, result, triggers);
        }
        if !outer {
            self.publish_staged();
        }
        self.last_zxid = last_zxid;
        self.arena.end(last_zxid);
    }

    /// Applies one txn. Ops were validated by prep; a failure here means the txn no longer fits
    /// (only possible when replaying), and is reported, not panicked on.
    pub fn apply(&mut self, txn: &Txn, triggers: &mut Vec<WatchTrigger>) -> OpResult {
        let r = match &txn.body {
            TxnBody::CreateSession { .. } => OpResult::CreateSession,
            TxnBody::CloseSession => {
                self.close_session(txn, triggers);
                OpResult::CloseSession
            }
            TxnBody::Multi(ops) => {
                if ops.iter().any(|o| matches!(o, TxnBody::Error { .. })) {
                    let rs = ops
                        .iter()
                        .map(|o| match o {
                            TxnBody::Error { err } => OpResult::Error(
                                ErrorCode::from_i32(*err).unwrap_or(ErrorCode::SystemError),
                            ),
                            _ => OpResult::Error(ErrorCode::Ok),
                        })
                        .collect();
                    OpResult::Multi(rs)
                } else {
                    let rs = ops.iter().map(|o| self.apply_op(txn, o, triggers)).collect();
                    OpResult::Multi(rs)
                }
            }
            body => self.apply_op(txn, body, triggers),
        };
        if txn.zxid > self.last_zxid {
            self.last_zxid = txn.zxid;
        }
        r
    }

    fn apply_op(&mut self, txn: &Txn, body: &TxnBody, triggers: &mut Vec<WatchTrigger>) -> OpResult {
        match body {
            TxnBody::Create(c) => self.create(txn, c, triggers),
            TxnBody::Delete { path } => self.delete(txn.zxid, path, triggers),
            TxnBody::SetData { path, data, version } => {
                let changed = self.update(path, |n| {
                    n.data = data.clone();
                    n.version = *version;
                    n.mzxid = txn.zxid;
                    n.mtime = txn.time_ms;
                    n.stat()
                });
                let Some(stat) = changed else {
                    return OpResult::Error(ErrorCode::NoNode);
                };
                triggers.push(trigger(txn.zxid, path, event::NODE_DATA_CHANGED));
                OpResult::SetData(stat)
            }
            TxnBody::SetAcl { path, acl, aversion } => {
                let changed = self.update(path, |n| {
                    n.acl = acl.clone();
                    n.aversion = *aversion;
                    n.stat()
                });
                match changed {
                    Some(stat) => OpResult::SetAcl(stat),
                    None => OpResult::Error(ErrorCode::NoNode),
                }
            }
            TxnBody::Check { .. } => OpResult::Check,
            TxnBody::Error { err } => {
                OpResult::Error(ErrorCode::from_i32(*err).unwrap_or(ErrorCode::SystemError))
            }
            TxnBody::CreateSession { .. } => OpResult::CreateSession,
            TxnBody::CloseSession => {
                self.close_session(txn, triggers);
                OpResult::CloseSession
            }
            TxnBody::Multi(_) => OpResult::Error(ErrorCode::BadArguments),
        }
    }

    fn create(&mut self, txn: &Txn, c: &CreateTxn, triggers: &mut Vec<WatchTrigger>) -> OpResult {
        let Some(parent_path) = path::parent(&c.path) else {
            return OpResult::Error(ErrorCode::NodeExists);
        };
        let name = path::name(&c.path);
        // The parent's Arc is let go before `update`, so that a staged parent is changed in place.
        let Some(exists) = self.get(parent_path).map(|p| p.children.contains(name)) else {
            return OpResult::Error(ErrorCode::NoNode);
        };
        if exists {
            // Only when replaying the log over a fuzzy snapshot: keep the parent's counters.
            self.update(parent_path, |p| {
                if c.parent_cversion > p.cversion {
                    p.cversion = c.parent_cversion;
                    p.pzxid = p.pzxid.max(txn.zxid);
                }
            });
            return OpResult::Error(ErrorCode::NodeExists);
        }
        let node = Node::new(txn.zxid, txn.time_ms, c.ephemeral_owner, c.data.clone(), c.acl.clone());
        let stat = node.stat();
        self.update_children(parent_path, |p| {
            p.children.insert(Arc::from(name));
            if c.parent_cversion > p.cversion {
                p.cversion = c.parent_cversion;
                p.pzxid = txn.zxid;
            }
        });
        self.put(&c.path, node);
        match NodeKind::from_owner(c.ephemeral_owner) {
            NodeKind::Persistent => {}
            NodeKind::Ephemeral(s) => {
                self.ephemerals.entry(s).or_default().insert(c.path.clone());
            }
            NodeKind::Container => {
                self.containers.insert(c.path.clone());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(c.path.clone());
            }
        }
        triggers.push(trigger(txn.zxid, &c.path, event::NODE_CREATED));
        triggers.push(trigger(txn.zxid, parent_path, event::NODE_CHILDREN_CHANGED));
        OpResult::Create { path: c.path.clone(), stat }
    }

    fn delete(&mut self, zxid: Zxid, target: &str, triggers: &mut Vec<WatchTrigger>) -> OpResult {
        let Some(parent_path) = path::parent(target) else {
            return OpResult::Error(ErrorCode::BadArguments);
        };
        match self.get(target) {
            None => return OpResult::Error(ErrorCode::NoNode),
            // Prep checked this; refusing here keeps a wrong txn from orphaning children.
            Some(n) if !n.children.is_empty() => return OpResult::Error(ErrorCode::NotEmpty),
            Some(_) => {}
        }
        let Some(old) = self.remove(target) else {
            return OpResult::Error(ErrorCode::NoNode);
        };
        self.update_children(parent_path, |p| {
            p.children.remove(path::name(target));
            if zxid > p.pzxid {
                p.pzxid = zxid;
            }
        });
        match old.kind() {
            NodeKind::Ephemeral(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(target);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            NodeKind::Container => {
                self.containers.remove(target);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(target);
            }
            NodeKind::Persistent => {}
        }
        triggers.push(trigger(zxid, target, event::NODE_DELETED));
        triggers.push(trigger(zxid, parent_path, event::NODE_CHILDREN_CHANGED));
        OpResult::Delete
    }

    fn close_session(&mut self, txn: &Txn, triggers: &mut Vec<WatchTrigger>) {
        let paths = self.ephemerals_of(txn.session);
        for p in paths {
            self.delete(txn.zxid, &p, triggers);
        }
        self.ephemerals.remove(&txn.session);
    }

    /// Checks the tree's internal consistency (O(n); tests and debug builds).
    pub fn invariants(&self) {
        assert!(self.staged.is_none(), "invariants are of the arena: publish the staged writes first");
        let mut count = 0;
        self.arena.for_each(|p, n| {
            count += 1;
            if let Some(pp) = path::parent(p) {
                let parent = self.arena.get(pp).expect("every node has a parent");
                assert!(parent.children.contains(path::name(p)), "parent lists child {p}");
            }
            for c in n.children.iter() {
                assert!(self.arena.get(&path::join(p, c)).is_some(), "child {c} of {p} exists");
            }
        });
        assert_eq!(count, self.arena.node_count());
    }
}

fn trigger(zxid: Zxid, path: &str, event_type: i32) -> WatchTrigger {
    WatchTrigger { zxid, path: Arc::from(path), event_type }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::testing::txn;
    use crate::proto::jute::testing::XorShift;

    type NodeView = (String, Stat, Option<Vec<u8>>, Vec<String>, String, i64);

    /// Every node as clients and snapshots see it, in path order.
    fn nodes_of(t: &DataTree) -> Vec<NodeView> {
        let mut v = Vec::new();
        t.arena.for_each(|p, n| {
            v.push((
                p.to_string(),
                n.stat(),
                node::data_to_wire(&n.data),
                n.children.iter().map(|c| c.to_string()).collect(),
                format!("{:?}", n.acl),
                n.ephemeral_owner,
            ))
        });
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Replay with staged writes (moved to the arena every 8 nodes here) gives the same
    /// results, watch triggers and tree as applying each txn to the arena directly.
    #[test]
    fn staged_replay_builds_the_same_tree_as_direct_apply() {
        for seed in 1..=30 {
            let mut g = XorShift::new(seed);
            let (mut direct, mut staged) = (DataTree::new(), DataTree::new());
            staged.stage_writes();
            let (mut ta, mut tb) = (Vec::new(), Vec::new());
            for zxid in 1..=1500 {
                let t = txn(&mut g, zxid);
                let a = direct.apply(&t, &mut ta);
                let b = staged.apply(&t, &mut tb);
                assert_eq!(a, b, "seed {seed}, zxid {zxid}: {t:?}");
                assert_eq!(ta, tb, "seed {seed}, zxid {zxid}");
                ta.clear();
                tb.clear();
            }
            staged.publish_replayed();
            direct.invariants();
            staged.invariants();
            same_trees(&direct, &staged, seed);
            assert_eq!(staged.arena().applied_zxid(), 1500, "seed {seed}: readers see the replayed zxid");
            assert_eq!(staged.arena().read(|_| ()).1.upto_zxid, 1500, "seed {seed}");
        }
    }

    fn same_trees(a: &DataTree, b: &DataTree, seed: u64) {
        assert_eq!(nodes_of(a), nodes_of(b), "seed {seed}");
        assert_eq!(a.ephemerals, b.ephemerals, "seed {seed}");
        assert_eq!(a.containers, b.containers, "seed {seed}");
        assert_eq!(a.ttls, b.ttls, "seed {seed}");
        assert_eq!(a.last_zxid, b.last_zxid, "seed {seed}");
        assert_eq!(a.arena.node_count(), b.arena.node_count(), "seed {seed}");
        assert_eq!(a.arena.data_bytes(), b.arena.data_bytes(), "seed {seed}");
    }

    /// `apply_batch` (child-list changes staged within the batch) in batches of random size
    /// gives the same results, triggers and tree as applying txn by txn.
    #[test]
    fn batches_build_the_same_tree_as_txn_by_txn() {
        for seed in 1..=30 {
            let mut g = XorShift::new(seed);
            let txns: Vec<Txn> = (1..=1500).map(|z| txn(&mut g, z)).collect();
            let mut direct = DataTree::new();
            let mut want = Vec::new();
            for t in &txns {
                let mut trig = Vec::new();
                let r = direct.apply(t, &mut trig);
                want.push((r, trig));
            }
            let mut batched = DataTree::new();
            let mut got = Vec::new();
            let mut rest = &txns[..];
            while !rest.is_empty() {
                let n = (1 + g.below(60)).min(rest.len());
                let (batch, tail) = rest.split_at(n);
                let mut trig = Vec::new();
                batched.apply_batch(
                    batch.iter(),
                    batch[n - 1].zxid,
                    |_, r, trig| got.push((r, std::mem::take(trig))),
                    &mut trig,
                );
                assert!(batched.staged.is_none(), "seed {seed}: staging left on after a batch");
                rest = tail;
            }
            assert_eq!(want, got, "seed {seed}");
            batched.invariants();
            same_trees(&direct, &batched, seed);
        }
    }

    /// Creates under one parent, staged: the parent ends with every child, and later changes
    /// after `publish_staged` go to the arena again.
    #[test]
    fn many_children_staged_then_published() {
        let mut t = DataTree::new();
        t.stage_writes();
        let mk = |zxid: i64, path: String| Txn {
            zxid,
            time_ms: 1,
            session: 0,
            cxid: 0,
            body: TxnBody::Create(CreateTxn {
                path,
                data: Arc::from(&b"x"[..]),
                acl: Arc::from(Vec::new()),
                ephemeral_owner: 0,
                parent_cversion: zxid as i32,
            }),
        };
        let mut trig = Vec::new();
        assert!(matches!(t.apply(&mk(1, "/p".into()), &mut trig), OpResult::Create { .. }));
        for i in 0..1000 {
            let r = t.apply(&mk(2 + i, format!("/p/c{i:05}")), &mut trig);
            assert!(matches!(r, OpResult::Create { .. }), "{r:?}");
        }
        t.publish_staged();
        t.invariants();
        let p = t.arena().get("/p").unwrap();
        assert_eq!(p.children.len(), 1000);
        assert_eq!(p.cversion, 1001);
        let r = t.apply(&mk(5000, "/p/late".into()), &mut trig);
        assert!(matches!(r, OpResult::Create { .. }));
        assert_eq!(t.arena().get("/p").unwrap().children.len(), 1001);
        t.invariants();
    }
}
