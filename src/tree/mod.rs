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

/// The single-writer tree.
#[derive(Debug)]
pub struct DataTree {
    arena: Arc<Arena>,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    last_zxid: Zxid,
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
            if let Some(n) = self.arena.get(p)
                && n.children.is_empty() && n.cversion > 0 {
                    out.push(p.clone());
                }
        }
        for p in &self.ttls {
            if let Some(n) = self.arena.get(p)
                && let NodeKind::Ttl(ttl) = n.kind()
                    && n.children.is_empty() && now_ms - n.mtime > ttl {
                        out.push(p.clone());
                    }
        }
        out
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
        for txn in txns {
            let result = self.apply(txn, triggers);
            each(txn, result, triggers);
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
                let Some(old) = self.arena.get(path) else {
                    return OpResult::Error(ErrorCode::NoNode);
                };
                let mut n = (*old).clone();
                n.data = data.clone();
                n.version = *version;
                n.mzxid = txn.zxid;
                n.mtime = txn.time_ms;
                let stat = n.stat();
                self.arena.put(path, Arc::new(n));
                triggers.push(trigger(txn.zxid, path, event::NODE_DATA_CHANGED));
                OpResult::SetData(stat)
            }
            TxnBody::SetAcl { path, acl, aversion } => {
                let Some(old) = self.arena.get(path) else {
                    return OpResult::Error(ErrorCode::NoNode);
                };
                let mut n = (*old).clone();
                n.acl = acl.clone();
                n.aversion = *aversion;
                let stat = n.stat();
                self.arena.put(path, Arc::new(n));
                OpResult::SetAcl(stat)
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
        let Some(parent) = self.arena.get(parent_path) else {
            return OpResult::Error(ErrorCode::NoNode);
        };
        let name = path::name(&c.path);
        if parent.children.contains(name) {
            // Only when replaying the log over a fuzzy snapshot: keep the parent's counters.
            if c.parent_cversion > parent.cversion {
                let mut p = (*parent).clone();
                p.cversion = c.parent_cversion;
                p.pzxid = p.pzxid.max(txn.zxid);
                self.arena.put(parent_path, Arc::new(p));
            }
            return OpResult::Error(ErrorCode::NodeExists);
        }
        let node = Node::new(txn.zxid, txn.time_ms, c.ephemeral_owner, c.data.clone(), c.acl.clone());
        let stat = node.stat();
        let mut p = (*parent).clone();
        p.children.insert(Arc::from(name));
        if c.parent_cversion > p.cversion {
            p.cversion = c.parent_cversion;
            p.pzxid = txn.zxid;
        }
        self.arena.put(parent_path, Arc::new(p));
        self.arena.put(&c.path, Arc::new(node));
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
        match self.arena.get(target) {
            None => return OpResult::Error(ErrorCode::NoNode),
            // Prep checked this; refusing here keeps a wrong txn from orphaning children.
            Some(n) if !n.children.is_empty() => return OpResult::Error(ErrorCode::NotEmpty),
            Some(_) => {}
        }
        let Some(old) = self.arena.remove(target) else {
            return OpResult::Error(ErrorCode::NoNode);
        };
        if let Some(parent) = self.arena.get(parent_path) {
            let mut p = (*parent).clone();
            p.children.remove(path::name(target));
            if zxid > p.pzxid {
                p.pzxid = zxid;
            }
            self.arena.put(parent_path, Arc::new(p));
        }
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
