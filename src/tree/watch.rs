//! Watch registrations of the connections one core owns, and their matching against the
//! changes applied to the tree (ZooKeeper's `WatchManager`).
//!
//! Pure and core-local: each core holds one table for its own connections. A registration made
//! by a read that saw the tree at zxid `z` only fires for changes after `z`, so a watch never
//! fires for a change its read already reflected.

use std::collections::{BTreeMap, HashMap};

use super::arena::PathMap;
use super::{WatchTrigger, event, path};
use crate::types::Zxid;

/// Kinds of watch (what ZooKeeper keeps in dataWatches / childWatches / persistent modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchKind {
    /// One-shot data or exists watch.
    Data,
    /// One-shot child watch.
    Child,
    /// `addWatch` PERSISTENT.
    Persistent,
    /// `addWatch` PERSISTENT_RECURSIVE.
    PersistentRecursive,
}

const KINDS: [WatchKind; 4] =
    [WatchKind::Data, WatchKind::Child, WatchKind::Persistent, WatchKind::PersistentRecursive];

/// Connection key within a core.
pub type ConnKey = u64;

/// One notification to send: to whom, event type, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Connection to notify.
    pub conn: ConnKey,
    /// `Watcher.Event.EventType` value.
    pub event_type: i32,
    /// Node path.
    pub path: String,
}

/// `removeWatches`/`checkWatches` watcher types (ZooDefs / WatcherType).
pub mod watcher_type {
    /// Child watches.
    pub const CHILDREN: i32 = 1;
    /// Data and exists watches.
    pub const DATA: i32 = 2;
    /// Every kind.
    pub const ANY: i32 = 3;
    /// Persistent watches.
    pub const PERSISTENT: i32 = 4;
    /// Persistent recursive watches.
    pub const PERSISTENT_RECURSIVE: i32 = 5;
}

/// The per-core watch table.
#[derive(Debug, Default)]
pub struct WatchTable {
    by_kind: [PathMap<BTreeMap<ConnKey, Zxid>>; 4],
    by_conn: HashMap<ConnKey, usize>,
    recursive_count: usize,
}

fn idx(kind: WatchKind) -> usize {
    kind as usize
}

impl WatchTable {
    /// Adds (or refreshes) a watch. `seen_zxid`: the zxid the registering read reflected.
    pub fn add(&mut self, conn: ConnKey, path: &str, kind: WatchKind, seen_zxid: Zxid) {
        let m = self.by_kind[idx(kind)].entry(path.to_string()).or_default();
        match m.get_mut(&conn) {
            Some(z) => *z = (*z).min(seen_zxid),
            None => {
                m.insert(conn, seen_zxid);
                *self.by_conn.entry(conn).or_default() += 1;
                if kind == WatchKind::PersistentRecursive {
                    self.recursive_count += 1;
                }
            }
        }
    }

    /// Watches matching one applied change; one-shot watches that fire are removed. A
    /// connection gets at most one notification per change.
    pub fn trigger(&mut self, t: &WatchTrigger, out: &mut Vec<Notification>) {
        let mut hit: BTreeMap<ConnKey, ()> = BTreeMap::new();
        let p: &str = &t.path;
        let one_shot: &[WatchKind] = match t.event_type {
            event::NODE_CREATED | event::NODE_DATA_CHANGED => &[WatchKind::Data],
            event::NODE_DELETED => &[WatchKind::Data, WatchKind::Child],
            event::NODE_CHILDREN_CHANGED => &[WatchKind::Child],
            _ => &[],
        };
        for &k in one_shot {
            self.fire_one_shot(k, p, t.zxid, &mut hit);
        }
        if let Some(m) = self.by_kind[idx(WatchKind::Persistent)].get(p) {
            for (&c, &z) in m {
                if z < t.zxid {
                    hit.insert(c, ());
                }
            }
        }
        if self.recursive_count > 0 && t.event_type != event::NODE_CHILDREN_CHANGED {
            let rec = &self.by_kind[idx(WatchKind::PersistentRecursive)];
            let mut cur = Some(p);
            while let Some(a) = cur {
                if let Some(m) = rec.get(a) {
                    for (&c, &z) in m {
                        if z < t.zxid {
                            hit.insert(c, ());
                        }
                    }
                }
                cur = path::parent(a);
            }
        }
        for c in hit.into_keys() {
            out.push(Notification { conn: c, event_type: t.event_type, path: p.to_string() });
        }
    }

    fn fire_one_shot(&mut self, k: WatchKind, p: &str, zxid: Zxid, hit: &mut BTreeMap<ConnKey, ()>) {
        let map = &mut self.by_kind[idx(k)];
        let Some(m) = map.get_mut(p) else { return };
        let fired: Vec<ConnKey> = m.iter().filter(|(_, z)| **z < zxid).map(|(c, _)| *c).collect();
        for c in &fired {
            m.remove(c);
            hit.insert(*c, ());
        }
        if m.is_empty() {
            map.remove(p);
        }
        for c in fired {
            self.dec_conn(c);
        }
    }

    fn dec_conn(&mut self, c: ConnKey) {
        if let Some(n) = self.by_conn.get_mut(&c) {
            *n -= 1;
            if *n == 0 {
                self.by_conn.remove(&c);
            }
        }
    }

    fn kinds_for(watcher_type: i32) -> &'static [WatchKind] {
        match watcher_type {
            watcher_type::CHILDREN => &[WatchKind::Child],
            watcher_type::DATA => &[WatchKind::Data],
            watcher_type::ANY => &KINDS,
            watcher_type::PERSISTENT => &[WatchKind::Persistent],
            watcher_type::PERSISTENT_RECURSIVE => &[WatchKind::PersistentRecursive],
            _ => &[],
        }
    }

    /// True if `conn` has a watch of `watcher_type` on `path` (checkWatches).
    pub fn has(&self, conn: ConnKey, path: &str, watcher_type: i32) -> bool {
        Self::kinds_for(watcher_type)
            .iter()
            .any(|&k| self.by_kind[idx(k)].get(path).is_some_and(|m| m.contains_key(&conn)))
    }

    /// Removes `conn`'s watches of `watcher_type` on `path`; returns the kinds removed.
    pub fn remove(&mut self, conn: ConnKey, path: &str, watcher_type: i32) -> Vec<WatchKind> {
        let mut removed = Vec::new();
        for &k in Self::kinds_for(watcher_type) {
            let map = &mut self.by_kind[idx(k)];
            if let Some(m) = map.get_mut(path)
                && m.remove(&conn).is_some() {
                    removed.push(k);
                    if m.is_empty() {
                        map.remove(path);
                    }
                }
        }
        for &k in &removed {
            self.dec_conn(conn);
            if k == WatchKind::PersistentRecursive {
                self.recursive_count -= 1;
            }
        }
        removed
    }

    /// Drops every watch of a connection (it closed).
    pub fn remove_conn(&mut self, conn: ConnKey) {
        if self.by_conn.remove(&conn).is_none() {
            return;
        }
        for (i, map) in self.by_kind.iter_mut().enumerate() {
            map.retain(|_, m| {
                if m.remove(&conn).is_some() && i == idx(WatchKind::PersistentRecursive) {
                    self.recursive_count -= 1;
                }
                !m.is_empty()
            });
        }
    }

    /// Total watches (path, connection, kind) registrations.
    pub fn watch_count(&self) -> usize {
        self.by_conn.values().sum()
    }

    /// Distinct watched paths.
    pub fn path_count(&self) -> usize {
        let mut paths: std::collections::BTreeSet<&str> = Default::default();
        for m in &self.by_kind {
            paths.extend(m.keys().map(String::as_str));
        }
        paths.len()
    }

    /// Connections with at least one watch.
    pub fn conn_count(&self) -> usize {
        self.by_conn.len()
    }

    /// Watched paths per connection (`wchc`).
    pub fn by_connection(&self) -> BTreeMap<ConnKey, Vec<String>> {
        let mut out: BTreeMap<ConnKey, Vec<String>> = BTreeMap::new();
        for m in &self.by_kind {
            for (p, cs) in m {
                for c in cs.keys() {
                    out.entry(*c).or_default().push(p.clone());
                }
            }
        }
        for v in out.values_mut() {
            v.sort();
            v.dedup();
        }
        out
    }

    /// Connections per watched path (`wchp`).
    pub fn by_path(&self) -> BTreeMap<String, Vec<ConnKey>> {
        let mut out: BTreeMap<String, Vec<ConnKey>> = BTreeMap::new();
        for m in &self.by_kind {
            for (p, cs) in m {
                out.entry(p.clone()).or_default().extend(cs.keys().copied());
            }
        }
        for v in out.values_mut() {
            v.sort();
            v.dedup();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn t(zxid: Zxid, p: &str, e: i32) -> WatchTrigger {
        WatchTrigger { zxid, path: Arc::from(p), event_type: e }
    }

    #[test]
    fn one_shot_fires_once_and_respects_seen_zxid() {
        let mut w = WatchTable::default();
        w.add(1, "/a", WatchKind::Data, 5);
        let mut out = Vec::new();
        w.trigger(&t(5, "/a", event::NODE_DATA_CHANGED), &mut out);
        assert!(out.is_empty(), "change already seen by the read");
        w.trigger(&t(6, "/a", event::NODE_DATA_CHANGED), &mut out);
        assert_eq!(out.len(), 1);
        w.trigger(&t(7, "/a", event::NODE_DATA_CHANGED), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(w.watch_count(), 0);
    }

    #[test]
    fn recursive_and_persistent() {
        let mut w = WatchTable::default();
        w.add(1, "/a", WatchKind::PersistentRecursive, 0);
        w.add(2, "/a", WatchKind::Persistent, 0);
        let mut out = Vec::new();
        w.trigger(&t(1, "/a/b/c", event::NODE_CREATED), &mut out);
        w.trigger(&t(1, "/a/b", event::NODE_CHILDREN_CHANGED), &mut out);
        assert_eq!(out.len(), 1);
        w.trigger(&t(2, "/a", event::NODE_CHILDREN_CHANGED), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(w.remove(1, "/a", watcher_type::ANY), vec![WatchKind::PersistentRecursive]);
        w.remove_conn(2);
        assert_eq!(w.watch_count(), 0);
    }
}
