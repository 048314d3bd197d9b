//! One core's state: its connections, its watch table, how far it has delivered applied
//! changes, and its side of the channel mesh. Lives in `Rc` on its executor; never shared.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use glommio::channels::channel_mesh::Senders;
use glommio::channels::local_channel::LocalSender;

use super::conn::Conn;
use super::msg::{Applied, LeaderMsg, Msg, Outcome, OutcomeBody, Reset};
use super::notify::Notify;
use super::shared::Shared;
use super::stats::{CoreReport, CoreStats};
use crate::tree::watch::{Notification, WatchTable};
use crate::types::{ConnId, CoreId, SessionId, Zxid};

/// The core that runs the consensus pipeline and the acceptor.
pub const LEADER_CORE: CoreId = 0;

/// A four-letter-word report being gathered: replies still due, reports so far, wakeup.
type ReportGather = (usize, Vec<CoreReport>, Rc<Notify>);

/// Per-core state.
pub struct Core {
    /// This core's mesh id.
    pub id: CoreId,
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// This core's counters.
    pub stats: Arc<CoreStats>,
    /// Open connections by local key.
    pub conns: RefCell<HashMap<u64, Rc<Conn>>>,
    /// Watches of this core's connections.
    pub watches: RefCell<WatchTable>,
    /// Every applied batch up to here has had its watch events delivered on this core.
    pub delivered_zxid: Cell<Zxid>,
    /// Connections holding a read until `delivered_zxid` catches up.
    pub blocked: RefCell<BTreeSet<u64>>,
    /// Request latencies of this core's connections, per op type.
    pub latency: RefCell<super::stats::OpLatency>,
    /// Sessions heard from since the last touch report.
    pub touched: RefCell<BTreeSet<SessionId>>,
    next_conn: Cell<u64>,
    senders: Senders<Msg>,
    /// On the leader core: the consensus inbox.
    pub leader_inbox: Option<LocalSender<LeaderMsg>>,
    /// On other cores: messages for the consensus core, forwarded in order by one task.
    outbox: RefCell<Option<LocalSender<LeaderMsg>>>,
    reports: RefCell<HashMap<u64, ReportGather>>,
    next_report: Cell<u64>,
}

impl Core {
    /// A core with its mesh senders.
    pub fn new(
        id: CoreId,
        shared: Arc<Shared>,
        senders: Senders<Msg>,
        leader_inbox: Option<LocalSender<LeaderMsg>>,
    ) -> Core {
        let stats = shared.stats[id].clone();
        let delivered = shared.arena.applied_zxid();
        Core {
            id,
            shared,
            stats,
            conns: RefCell::new(HashMap::new()),
            watches: RefCell::new(WatchTable::default()),
            // Recovered txns have no watchers to tell.
            delivered_zxid: Cell::new(delivered),
            blocked: RefCell::new(BTreeSet::new()),
            latency: RefCell::new(Default::default()),
            touched: RefCell::new(BTreeSet::new()),
            next_conn: Cell::new(1),
            senders,
            leader_inbox,
            outbox: RefCell::new(None),
            reports: RefCell::new(HashMap::new()),
            next_report: Cell::new(1),
        }
    }

    /// A fresh connection id on this core.
    pub fn next_conn_id(&self) -> ConnId {
        let local = self.next_conn.get();
        self.next_conn.set(local + 1);
        ConnId { core: self.id, local }
    }

    /// Queues a message for the consensus core without waiting. Every message of this core
    /// reaches it in the order queued (one forwarder task per core drains the queue into the
    /// bounded mesh channel, so a full channel delays the queue, never reorders it).
    pub fn to_leader(self: &Rc<Self>, m: LeaderMsg) {
        if let Some(inbox) = &self.leader_inbox {
            if inbox.try_send(m).is_err() {
                tracing::error!("consensus inbox closed");
            }
            return;
        }
        let mut outbox = self.outbox.borrow_mut();
        let tx = outbox.get_or_insert_with(|| {
            let (tx, rx) = glommio::channels::local_channel::new_unbounded();
            let core = self.clone();
            glommio::spawn_local(async move {
                while let Some(m) = rx.recv().await {
                    if core.senders.send_to(LEADER_CORE, Msg::Leader(m)).await.is_err() {
                        tracing::error!("mesh to the consensus core closed");
                    }
                }
            })
            .detach();
            tx
        });
        if tx.try_send(m).is_err() {
            tracing::error!("outbox to the consensus core closed");
        }
    }

    /// Sends a message to another core.
    pub async fn send(&self, core: CoreId, m: Msg) {
        if self.senders.send_to(core, m).await.is_err() {
            tracing::error!(core, "mesh send failed");
        }
    }

    /// Takes over a connection accepted on another core. Applied batches skip a core with no
    /// connections (`Leader::finish`), so first catch up with what was applied meanwhile: no
    /// connection here was watching it.
    pub fn adopt(self: &Rc<Self>, stream: glommio::net::AcceptedTcpStream) -> glommio::net::TcpStream {
        let applied = self.shared.applied_zxid.load(std::sync::atomic::Ordering::SeqCst);
        if applied > self.delivered_zxid.get() {
            self.delivered_zxid.set(applied);
        }
        stream.bind_to_executor()
    }

    /// Handles one applied batch: watch events first, then replies, then closes.
    pub fn on_applied(self: &Rc<Self>, applied: &Applied, outcomes: Vec<Outcome>) {
        let mut notes: Vec<Notification> = Vec::new();
        {
            let mut w = self.watches.borrow_mut();
            for t in &applied.triggers {
                w.trigger(t, &mut notes);
            }
        }
        let conn = |k: u64| self.conns.borrow().get(&k).cloned();
        for n in notes {
            if let Some(c) = conn(n.conn) {
                c.push_event(self, n.event_type, &n.path);
            }
        }
        let mut touched: Vec<Rc<Conn>> = Vec::new();
        for o in outcomes {
            let Some(c) = conn(o.conn.local) else { continue };
            match o.body {
                OutcomeBody::Reply { xid, zxid, err, body, close } => {
                    c.complete_write(xid, zxid, err, &body, close);
                }
                other => c.complete_handshake(other),
            }
            touched.push(c);
        }
        if applied.upto_zxid > self.delivered_zxid.get() {
            self.delivered_zxid.set(applied.upto_zxid);
        }
        let blocked = std::mem::take(&mut *self.blocked.borrow_mut());
        touched.extend(blocked.into_iter().filter_map(conn));
        for c in &touched {
            c.pump(self);
        }
        if applied.closed_sessions.is_empty() && applied.moved_sessions.is_empty() {
            return;
        }
        let all: Vec<Rc<Conn>> = self.conns.borrow().values().cloned().collect();
        for c in all {
            let sid = c.session.get();
            if sid == 0 {
                continue;
            }
            let moved = applied.moved_sessions.iter().any(|(s, owner)| *s == sid && *owner != c.id);
            if moved || applied.closed_sessions.contains(&sid) {
                c.close_after_flush();
            }
        }
    }

    /// This core's report for the four-letter words; resets counters if asked.
    pub fn report(&self, reset: Reset) -> CoreReport {
        let conns: Vec<Rc<Conn>> = self.conns.borrow().values().cloned().collect();
        if reset == Reset::Server {
            self.stats.reset();
            self.latency.borrow_mut().clear();
        }
        let mut r = CoreReport { latency: self.latency.borrow().clone(), ..Default::default() };
        for c in &conns {
            if reset == Reset::Connections {
                c.reset_stats();
            }
            r.conns.push(c.info());
        }
        let w = self.watches.borrow();
        r.watch_count = w.watch_count();
        r.watch_paths = w.path_count();
        r.watching_conns = w.conn_count();
        let sid_of = |k: &u64| conns.iter().find(|c| c.key == *k).map(|c| c.session.get());
        for (k, paths) in w.by_connection() {
            r.by_session.push((sid_of(&k).unwrap_or(0), paths));
        }
        for (p, ks) in w.by_path() {
            r.by_path.push((p, ks.iter().map(|k| sid_of(k).unwrap_or(0)).collect()));
        }
        r
    }

    /// Reports of every core (this one included), gathered over the mesh.
    pub async fn gather_reports(self: &Rc<Self>, reset: Reset) -> Vec<CoreReport> {
        let n = self.shared.cores;
        let id = self.next_report.get();
        self.next_report.set(id + 1);
        let done = Rc::new(Notify::default());
        self.reports.borrow_mut().insert(id, (n - 1, vec![self.report(reset)], done.clone()));
        for core in 0..n {
            if core != self.id {
                self.send(core, Msg::ReportRequest { reply_to: self.id, id, reset }).await;
            }
        }
        if n > 1 {
            let wait = done.wait();
            let timeout = glommio::timer::sleep(std::time::Duration::from_secs(2));
            futures_lite::future::or(wait, timeout).await;
        }
        self.reports.borrow_mut().remove(&id).map(|(_, v, _)| v).unwrap_or_default()
    }

    /// A report arrived from another core.
    pub fn on_report(&self, id: u64, report: CoreReport) {
        let mut reports = self.reports.borrow_mut();
        if let Some((left, v, done)) = reports.get_mut(&id) {
            v.push(report);
            *left -= 1;
            if *left == 0 {
                done.notify();
            }
        }
    }
}
