//! The consensus core's pipeline for a standalone server (an ensemble of one): drain the
//! inbox into a batch, prep each write into a txn, submit the batch to be made durable (the
//! seam where the log plugs in), and once it is, apply it to the tree as the single writer and
//! send every core its replies and the batch's watch triggers.
//!
//! Batches are pipelined: while one is being written, the next is prepped and submitted (prep
//! sees the changes of batches not yet applied), and batches are applied and answered strictly
//! in the order they were prepped, each only once it is durable.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use glommio::channels::local_channel::LocalReceiver;

use super::clock;
use super::core::{Core, LEADER_CORE};
use super::msg::{Applied, LeaderMsg, Msg, Outcome, OutcomeBody};
use crate::constants::{BATCH_BYTES_MAX, BATCH_TXNS_MAX, SESSIONS_MAX};
use crate::proto::error_code::ErrorCode;
use crate::proto::jute::Jute;
use crate::proto::records::{GetEphemeralsResponse, SyncResponse};
use crate::request::prep::{Prep, Prepped};
use crate::request::{WriteOp, reply};
use crate::session::SessionTable;
use crate::tree::acl::AuthIds;
use crate::tree::{DataTree, OpResult};
use crate::txn::{Txn, TxnBody};
use crate::types::{ConnId, CoreId, SessionId, Zxid};

/// Where batches of txns become durable before they are applied. The consensus core submits
/// a batch and goes on; batches become durable in the order submitted.
pub trait TxnSink {
    /// Queues `txns` (zxids above every batch before) to be made durable; returns its ticket.
    /// Tickets count up from 1.
    fn submit(&mut self, txns: Rc<Vec<Txn>>) -> u64;
    /// The last ticket handed out (0 before the first).
    fn submitted(&self) -> u64;
    /// Every batch up to this ticket is durable. An error once the log has stopped: nothing
    /// submitted after the last durable ticket will ever be.
    fn durable(&self) -> Result<u64, String>;
    /// Waits until `durable` may have changed.
    fn changed(&self) -> impl std::future::Future<Output = ()>;
}

/// Batches prepped and not yet applied, at most (the one being written, the ones queued
/// behind it).
const PIPELINE_DEPTH: usize = 3;

/// A prepped batch: its txns, waiting to be durable, and what to answer once applied.
struct Batch {
    /// Durable once the sink's durable ticket reaches this.
    ticket: u64,
    txns: Rc<Vec<Txn>>,
    entries: Vec<Entry>,
    /// Filled by prep (moved sessions) and by apply.
    applied: Applied,
}

enum Event {
    Durable,
    Msg(Option<LeaderMsg>),
}

enum EntryKind {
    Txn(usize, WriteOp),
    Error(ErrorCode),
    Ordered(WriteOp, SessionId),
    NewSession(usize, SessionId, i32),
    Connected(SessionId, i32),
    Refused,
}

struct Entry {
    conn: Option<ConnId>,
    xid: i32,
    kind: EntryKind,
}

/// When and where background snapshots are taken.
pub struct SnapshotPlan {
    /// Snapshot directory.
    pub snap_dir: std::path::PathBuf,
    /// Log directory (segments the retained snapshots no longer need are purged).
    pub log_dir: std::path::PathBuf,
    /// Txns between snapshots (`snapCount`).
    pub every_txns: u64,
    /// Snapshots kept (`autopurge.snapRetainCount`).
    pub retain: usize,
    /// Txns since the last snapshot began.
    pub since: u64,
    /// A snapshot is being written.
    pub in_flight: Rc<std::cell::Cell<bool>>,
}

/// The consensus core's state.
pub struct Leader<S: TxnSink> {
    core: Rc<Core>,
    tree: DataTree,
    prep: Prep,
    sessions: SessionTable,
    sink: S,
    next_zxid: Zxid,
    container_check_ms: i64,
    container_interval_ms: i64,
    snapshot: Option<SnapshotPlan>,
}

impl<S: TxnSink> Leader<S> {
    /// A pipeline over `tree`, writing through `sink`.
    pub fn new(core: Rc<Core>, tree: DataTree, sessions: SessionTable, sink: S) -> Self {
        let cfg = &core.shared.config;
        let prep = Prep::new(cfg.extended_types_enabled);
        let container_interval_ms = cfg.container_check_interval_ms as i64;
        let next_zxid = tree.last_zxid() + 1;
        Leader {
            core,
            tree,
            prep,
            sessions,
            sink,
            next_zxid,
            container_check_ms: 0,
            container_interval_ms,
            snapshot: None,
        }
    }

    /// Takes background snapshots as planned.
    pub fn with_snapshots(mut self, plan: SnapshotPlan) -> Self {
        self.snapshot = Some(plan);
        self
    }

    fn maybe_snapshot(&mut self, applied_txns: usize) {
        let Some(plan) = &mut self.snapshot else { return };
        plan.since += applied_txns as u64;
        if plan.since < plan.every_txns || plan.in_flight.get() {
            return;
        }
        plan.since = 0;
        plan.in_flight.set(true);
        let arena = self.tree.arena().clone();
        let zxid = self.tree.last_zxid();
        let sessions: Vec<(i64, i32)> = self.sessions.iter().map(|s| (s.id, s.timeout_ms)).collect();
        let (snaps, logs, retain) = (plan.snap_dir.clone(), plan.log_dir.clone(), plan.retain);
        let in_flight = plan.in_flight.clone();
        // A thread of its own at background priority: a snapshot of a big tree takes
        // seconds, and neither the executors nor the log's segment rolls should wait on it.
        let job = super::storage::background("zkr-snapshot", move || {
            super::storage::snapshot_and_purge(&snaps, &logs, arena, zxid, sessions, retain)
        });
        glommio::spawn_local(async move {
            match job.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) | Err(e) => tracing::error!("snapshot failed: {e}"),
            }
            in_flight.set(false);
        })
        .detach();
    }

    /// Runs until the inbox closes, then finishes the batches in flight.
    pub async fn run(mut self, inbox: LocalReceiver<LeaderMsg>) {
        self.maybe_snapshot(0);
        let mut pipeline: VecDeque<Batch> = VecDeque::new();
        loop {
            self.complete_durable(&mut pipeline).await;
            let event = if pipeline.is_empty() {
                Event::Msg(inbox.recv().await)
            } else if pipeline.len() >= PIPELINE_DEPTH {
                self.sink.changed().await;
                Event::Durable
            } else {
                let durable = async {
                    self.sink.changed().await;
                    Event::Durable
                };
                futures_lite::future::or(durable, async { Event::Msg(inbox.recv().await) }).await
            };
            let first = match event {
                Event::Durable => continue,
                Event::Msg(None) => break,
                Event::Msg(Some(first)) => first,
            };
            let mut msgs = vec![first];
            let mut bytes = 0usize;
            while msgs.len() < BATCH_TXNS_MAX && bytes < BATCH_BYTES_MAX {
                match futures_lite::future::poll_once(inbox.recv()).await {
                    Some(Some(m)) => {
                        if let LeaderMsg::Write { op, .. } = &m {
                            bytes += op.size_bytes();
                        }
                        msgs.push(m)
                    }
                    _ => break,
                }
            }
            if let Some(batch) = self.prepare(msgs) {
                pipeline.push_back(batch);
            }
        }
        loop {
            self.complete_durable(&mut pipeline).await;
            if pipeline.is_empty() {
                break;
            }
            self.sink.changed().await;
        }
    }

    /// Applies and answers, in order, the batches at the front of the pipeline that are
    /// durable.
    async fn complete_durable(&mut self, pipeline: &mut VecDeque<Batch>) {
        let durable = match self.sink.durable() {
            Ok(ticket) => ticket,
            Err(e) => {
                // Without a durable log the server must not acknowledge anything further.
                tracing::error!(error = %e, "txn log append failed; stopping");
                std::process::exit(70);
            }
        };
        while pipeline.front().is_some_and(|b| b.ticket <= durable) {
            let Some(mut batch) = pipeline.pop_front() else { break };
            let results = self.apply(&batch.txns, &mut batch.applied, clock::mono_ms());
            self.maybe_snapshot(batch.txns.len());
            self.finish(&batch.txns, results, batch.entries, batch.applied).await;
        }
    }

    fn make_txn(&mut self, txns: &mut Vec<Txn>, session: SessionId, cxid: i32, body: TxnBody, now: i64) -> usize {
        txns.push(Txn { zxid: self.next_zxid, time_ms: now, session, cxid, body });
        self.next_zxid += 1;
        txns.len() - 1
    }

    /// Preps a batch of messages into txns and submits them to the sink; None when the batch
    /// needs no answer and changes nothing.
    fn prepare(&mut self, msgs: Vec<LeaderMsg>) -> Option<Batch> {
        let wall = clock::wall_ms();
        let mono = clock::mono_ms();
        let mut txns: Vec<Txn> = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        let mut applied = Applied::default();
        for m in msgs {
            match m {
                LeaderMsg::Write { conn, session, xid, op, auth } => {
                    let kind = self.on_write(&mut txns, session, xid, op, &auth, wall, mono);
                    entries.push(Entry { conn: Some(conn), xid, kind });
                }
                LeaderMsg::Connect { conn, session, passwd, timeout_ms } => {
                    let kind = self.on_connect(&mut txns, &mut applied, conn, session, &passwd, timeout_ms, wall, mono);
                    entries.push(Entry { conn: Some(conn), xid: 0, kind });
                }
                LeaderMsg::Touch(ids) => {
                    for id in ids {
                        self.sessions.touch(id, mono);
                    }
                }
                LeaderMsg::Disconnected { conn, session } => {
                    if self.sessions.get(session).and_then(|s| s.owner) == Some(conn) {
                        self.sessions.set_owner(session, None);
                    }
                }
                LeaderMsg::Tick => {}
            }
        }
        self.expire(&mut txns, &mut entries, wall, mono);
        self.sweep_containers(&mut txns, wall, mono);
        if txns.is_empty() && entries.is_empty() && applied.moved_sessions.is_empty() {
            return None;
        }
        let txns = Rc::new(txns);
        let ticket = if txns.is_empty() { self.sink.submitted() } else { self.sink.submit(txns.clone()) };
        Some(Batch { ticket, txns, entries, applied })
    }

    #[allow(clippy::too_many_arguments)]
    fn on_write(
        &mut self,
        txns: &mut Vec<Txn>,
        session: SessionId,
        xid: i32,
        op: WriteOp,
        auth: &AuthIds,
        wall: i64,
        mono: i64,
    ) -> EntryKind {
        match self.sessions.get(session) {
            Some(s) if !s.closing => {}
            _ => return EntryKind::Error(ErrorCode::SessionExpired),
        }
        self.sessions.touch(session, mono);
        match self.prep.prep(&self.tree, session, auth, &op, self.next_zxid) {
            Prepped::Txn(body) => {
                if matches!(body, TxnBody::CloseSession) {
                    self.sessions.set_closing(session);
                }
                let i = self.make_txn(txns, session, xid, body, wall);
                EntryKind::Txn(i, op)
            }
            Prepped::Error(e) => EntryKind::Error(e),
            Prepped::Ordered => EntryKind::Ordered(op, session),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_connect(
        &mut self,
        txns: &mut Vec<Txn>,
        applied: &mut Applied,
        conn: ConnId,
        session: SessionId,
        passwd: &[u8],
        timeout_ms: i32,
        wall: i64,
        mono: i64,
    ) -> EntryKind {
        if session == 0 {
            if self.sessions.len() >= SESSIONS_MAX {
                return EntryKind::Refused;
            }
            let id = self.sessions.next_session_id();
            let i = self.make_txn(txns, id, 0, TxnBody::CreateSession { timeout_ms }, wall);
            return EntryKind::NewSession(i, id, timeout_ms);
        }
        let live = self.sessions.get(session).is_some_and(|s| !s.closing);
        if !live || !self.sessions.check_passwd(session, passwd) {
            return EntryKind::Refused;
        }
        self.sessions.touch(session, mono);
        let prev = self.sessions.set_owner(session, Some(conn));
        if prev.is_some_and(|p| p != conn) {
            applied.moved_sessions.push((session, conn));
        }
        EntryKind::Connected(session, timeout_ms)
    }

    fn expire(&mut self, txns: &mut Vec<Txn>, entries: &mut Vec<Entry>, wall: i64, mono: i64) {
        for id in self.sessions.expired(mono) {
            tracing::info!("expiring session 0x{:x}", id);
            self.sessions.set_closing(id);
            let auth = AuthIds::default();
            if let Prepped::Txn(body) =
                self.prep.prep(&self.tree, id, &auth, &WriteOp::CloseSession, self.next_zxid)
            {
                let i = self.make_txn(txns, id, 0, body, wall);
                entries.push(Entry { conn: None, xid: 0, kind: EntryKind::Txn(i, WriteOp::CloseSession) });
            }
        }
    }

    fn sweep_containers(&mut self, txns: &mut Vec<Txn>, wall: i64, mono: i64) {
        if mono - self.container_check_ms < self.container_interval_ms {
            return;
        }
        self.container_check_ms = mono;
        let auth = AuthIds { ids: vec![crate::proto::records::Id { scheme: "super".into(), id: String::new() }] };
        for p in self.tree.expired_containers(wall) {
            let op = WriteOp::DeleteContainer(p);
            if let Prepped::Txn(body) = self.prep.prep(&self.tree, 0, &auth, &op, self.next_zxid) {
                self.make_txn(txns, 0, 0, body, wall);
            }
        }
    }

    fn apply(&mut self, txns: &[Txn], applied: &mut Applied, mono: i64) -> Vec<OpResult> {
        let mut results = Vec::with_capacity(txns.len());
        let Some(last) = txns.last().map(|t| t.zxid) else {
            return results;
        };
        let sessions = &mut self.sessions;
        let closed = &mut applied.closed_sessions;
        self.tree.apply_batch(
            txns.iter(),
            last,
            |txn, result, _| {
                match &txn.body {
                    TxnBody::CreateSession { timeout_ms } => sessions.add(txn.session, *timeout_ms, mono),
                    TxnBody::CloseSession => {
                        sessions.remove(txn.session);
                        closed.push(txn.session);
                    }
                    _ => {}
                }
                results.push(result);
            },
            &mut applied.triggers,
        );
        self.prep.applied(last);
        applied.upto_zxid = last;
        let shared = &self.core.shared;
        shared.sessions.store(self.sessions.len() as u64, Ordering::Relaxed);
        shared.ephemerals.store(self.tree.ephemeral_count() as u64, Ordering::Relaxed);
        results
    }

    async fn finish(&mut self, txns: &[Txn], results: Vec<OpResult>, entries: Vec<Entry>, applied: Applied) {
        let last = self.tree.last_zxid();
        let mut per_core: BTreeMap<CoreId, Vec<Outcome>> = BTreeMap::new();
        for e in entries {
            let Some(conn) = e.conn else { continue };
            let body = match e.kind {
                EntryKind::Txn(i, op) => {
                    let (err, body) = reply::write_reply(&op, &results[i]);
                    let close = matches!(op, WriteOp::CloseSession);
                    OutcomeBody::Reply { xid: e.xid, zxid: txns[i].zxid, err, body, close }
                }
                EntryKind::Error(err) => {
                    OutcomeBody::Reply { xid: e.xid, zxid: last, err, body: Vec::new(), close: false }
                }
                EntryKind::Ordered(op, session) => {
                    let mut body = Vec::new();
                    match op {
                        WriteOp::Sync(path) => SyncResponse { path }.write(&mut body),
                        WriteOp::GetEphemerals(prefix) => {
                            let ephemerals = self
                                .tree
                                .ephemerals_of(session)
                                .into_iter()
                                .filter(|p| p.starts_with(&prefix))
                                .collect();
                            GetEphemeralsResponse { ephemerals }.write(&mut body)
                        }
                        _ => {}
                    }
                    OutcomeBody::Reply { xid: e.xid, zxid: last, err: ErrorCode::Ok, body, close: false }
                }
                EntryKind::NewSession(i, session, timeout_ms) => {
                    if !matches!(results.get(i), Some(OpResult::CreateSession)) {
                        OutcomeBody::Refused
                    } else {
                        self.sessions.set_owner(session, Some(conn));
                        let passwd = self.sessions.passwd(session);
                        OutcomeBody::Connected { session, timeout_ms, passwd }
                    }
                }
                EntryKind::Connected(session, timeout_ms) => {
                    let passwd = self.sessions.passwd(session);
                    OutcomeBody::Connected { session, timeout_ms, passwd }
                }
                EntryKind::Refused => OutcomeBody::Refused,
            };
            per_core.entry(conn.core).or_default().push(Outcome { conn, body });
        }
        let has_changes = applied.upto_zxid != 0
            || !applied.closed_sessions.is_empty()
            || !applied.moved_sessions.is_empty();
        let shared = &self.core.shared;
        if applied.upto_zxid > shared.applied_zxid.load(Ordering::SeqCst) {
            shared.applied_zxid.store(applied.upto_zxid, Ordering::SeqCst);
        }
        let applied = Arc::new(applied);
        // This core's replies first: a message to another core may wake its executor, which
        // costs tens of µs on a VM.
        let local = per_core.remove(&LEADER_CORE).unwrap_or_default();
        if !local.is_empty() || has_changes {
            self.core.on_applied(&applied, local);
        }
        for core in 0..shared.cores {
            if core == LEADER_CORE {
                continue;
            }
            let outcomes = per_core.remove(&core).unwrap_or_default();
            // A core with no connections has no watches, held reads or sessions to close; a
            // connection handed to it later catches up from `applied_zxid` (`Core::adopt`).
            // The acceptor runs on this core, so the count cannot rise between this check
            // and that catch-up.
            let idle = shared.live[core].load(Ordering::SeqCst) == 0;
            if outcomes.is_empty() && (!has_changes || idle) {
                continue;
            }
            self.core.send(core, Msg::Applied(applied.clone(), outcomes)).await;
        }
    }
}
