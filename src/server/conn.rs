//! One client connection: framing, handshake, per-session FIFO of replies, reads answered on
//! this core, writes forwarded to the consensus core, and watch notifications.
//!
//! Reply order: every request takes a slot in `slots` in arrival order; a slot is released to
//! the socket only when every slot before it has been. A read is evaluated when it reaches the
//! front (so it sees every earlier write of its session) and held until this core delivered
//! the watch events for every change the read may reflect.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_lite::{AsyncReadExt, AsyncWriteExt};

use super::clock;
use super::core::Core;
use super::four_letter;
use super::msg::{LeaderMsg, OutcomeBody};
use super::notify::Notify;
use super::stats::ConnInfo;
use crate::constants::{
    CONN_OUTPUT_BYTES_MAX, HANDSHAKE_TIMEOUT_MS, READ_BUF_MAX_BYTES, READ_BUF_MIN_BYTES, SESSION_OUTSTANDING_MAX,
};
use crate::proto::error_code::ErrorCode;
use crate::proto::frame::FrameBuf;
use crate::proto::jute::{self, Jute, JuteReader};
use crate::proto::opcode::{OpCode, xid};
use crate::proto::records::*;
use crate::request::read::{self, ReadCtx};
use crate::request::{WriteOp, reply};
use crate::tree::acl::{self, AuthIds, AuthOutcome};
use crate::tree::watch::WatchKind;
use crate::types::{ConnId, SessionId, Zxid};

enum Slot {
    /// A write. `unsent` holds it while an earlier read of the session is not yet evaluated
    /// (the read must not see it); `done` holds the framed reply once it is back.
    Write {
        xid: i32,
        op: &'static str,
        started_us: u64,
        unsent: Option<LeaderMsg>,
        done: Option<Vec<u8>>,
        close: bool,
    },
    /// Not evaluated yet.
    Read { xid: i32, op: OpCode, body: Vec<u8>, started_us: u64 },
    /// Evaluated, waiting for watch delivery up to `upto_zxid`.
    Held { bytes: Vec<u8>, op: &'static str, upto_zxid: Zxid, started_us: u64, close: bool },
}

#[derive(Default)]
struct ConnStats {
    received: u64,
    sent: u64,
    last_op: &'static str,
    last_cxid: i32,
    last_zxid: i64,
    last_response_ms: i64,
    last_latency_us: u64,
    min_latency_us: u64,
    max_latency_us: u64,
    sum_latency_us: u64,
    count: u64,
}

/// A client connection owned by one core.
pub struct Conn {
    /// Key in the core's connection map (and watch table).
    pub key: u64,
    /// Process-wide id.
    pub id: ConnId,
    /// Session id once the handshake completed, else 0.
    pub session: Cell<SessionId>,
    timeout_ms: Cell<i32>,
    remote: String,
    established_ms: i64,
    auth: RefCell<Arc<AuthIds>>,
    slots: RefCell<VecDeque<Slot>>,
    out: RefCell<Vec<u8>>,
    out_notify: Notify,
    resume_notify: Notify,
    close_notify: Notify,
    handshake: RefCell<Option<OutcomeBody>>,
    handshake_notify: Notify,
    closing: Cell<bool>,
    stats: RefCell<ConnStats>,
    /// Read slots not evaluated yet, and writes held back behind them.
    unevaluated_reads: Cell<usize>,
    unsent_writes: Cell<usize>,
    /// The acceptor's count this connection holds (`Shared::assigned` of its core), given
    /// back once, as soon as the connection starts closing.
    assigned: Cell<Option<(Arc<super::shared::Shared>, usize)>>,
}

impl Conn {
    fn new(core: &Core, remote: std::net::SocketAddr) -> Conn {
        let id = core.next_conn_id();
        Conn {
            key: id.local,
            id,
            session: Cell::new(0),
            timeout_ms: Cell::new(0),
            remote: remote.to_string(),
            established_ms: clock::wall_ms(),
            auth: RefCell::new(Arc::new(AuthIds::for_ip(&remote.ip().to_string()))),
            slots: RefCell::new(VecDeque::new()),
            out: RefCell::new(Vec::new()),
            out_notify: Notify::default(),
            resume_notify: Notify::default(),
            close_notify: Notify::default(),
            handshake: RefCell::new(None),
            handshake_notify: Notify::default(),
            closing: Cell::new(false),
            stats: RefCell::new(ConnStats { min_latency_us: u64::MAX, ..Default::default() }),
            unevaluated_reads: Cell::new(0),
            unsent_writes: Cell::new(0),
            assigned: Cell::new(Some((core.shared.clone(), core.id))),
        }
    }

    /// Queues a watch notification (goes out ahead of any later reply).
    pub fn push_event(&self, core: &Core, event_type: i32, path: &str) {
        let mut out = self.out.borrow_mut();
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        ReplyHeader { xid: xid::NOTIFICATION, zxid: -1, err: 0 }.write(&mut out);
        WatcherEvent { event_type, state: 3, path: path.to_string() }.write(&mut out);
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
        drop(out);
        core.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
        self.stats.borrow_mut().sent += 1;
        self.out_notify.notify();
    }

    /// The consensus core answered this connection's oldest outstanding write.
    pub fn complete_write(&self, x: i32, zxid: Zxid, err: ErrorCode, body: &[u8], close: bool) {
        let mut bytes = Vec::with_capacity(body.len() + 20);
        reply::frame(x, zxid, err, body, &mut bytes);
        let mut slots = self.slots.borrow_mut();
        let slot = slots.iter_mut().find(|s| matches!(s, Slot::Write { done: None, unsent: None, .. }));
        match slot {
            Some(Slot::Write { xid: sx, done, close: c, .. }) => {
                debug_assert_eq!(*sx, x);
                *done = Some(bytes);
                *c = close;
            }
            _ => tracing::warn!(conn = self.key, "write reply without an outstanding write"),
        }
        drop(slots);
        self.stats.borrow_mut().last_zxid = zxid;
    }

    /// The consensus core answered the handshake.
    pub fn complete_handshake(&self, outcome: OutcomeBody) {
        *self.handshake.borrow_mut() = Some(outcome);
        self.handshake_notify.notify();
    }

    /// Closes the connection once what is queued has been written.
    pub fn close_after_flush(&self) {
        if let Some((shared, core)) = self.assigned.take() {
            // Now, not when the socket is finally gone: a client that reconnects right after
            // its closeSession reply should find this core as free as it will be.
            shared.assigned[core].fetch_sub(1, Ordering::Relaxed);
        }
        self.closing.set(true);
        self.close_notify.notify();
        self.out_notify.notify();
    }

    /// Releases every reply at the front of the queue that is ready.
    pub fn pump(&self, core: &Rc<Core>) {
        let mut released = false;
        loop {
            let mut slots = self.slots.borrow_mut();
            let Some(front) = slots.front_mut() else { break };
            let (bytes, op, started, close) = match front {
                Slot::Write { done: None, .. } => break,
                Slot::Write { done: Some(_), .. } => {
                    let Some(Slot::Write { done, op, started_us, close, .. }) = slots.pop_front()
                    else {
                        break;
                    };
                    (done.unwrap_or_default(), op, started_us, close)
                }
                Slot::Held { upto_zxid, .. } => {
                    if *upto_zxid > core.delivered_zxid.get() {
                        core.blocked.borrow_mut().insert(self.key);
                        break;
                    }
                    let Some(Slot::Held { bytes, op, started_us, close, .. }) = slots.pop_front()
                    else {
                        break;
                    };
                    (bytes, op, started_us, close)
                }
                Slot::Read { .. } => {
                    let Some(Slot::Read { xid, op, body, started_us }) = slots.pop_front() else {
                        break;
                    };
                    drop(slots);
                    self.unevaluated_reads.set(self.unevaluated_reads.get() - 1);
                    let (bytes, upto_zxid, close) = self.eval_read(core, xid, op, &body);
                    let op = op.name();
                    self.slots.borrow_mut().push_front(Slot::Held { bytes, op, upto_zxid, started_us, close });
                    continue;
                }
            };
            drop(slots);
            self.emit(core, op, &bytes, started);
            released = true;
            if close {
                self.close_after_flush();
            }
        }
        if released {
            self.out_notify.notify();
            self.resume_notify.notify();
        }
        self.release_writes(core);
    }

    /// Sends the writes held back behind reads that have now been evaluated.
    fn release_writes(&self, core: &Rc<Core>) {
        if self.unsent_writes.get() == 0 {
            return;
        }
        let mut slots = self.slots.borrow_mut();
        for slot in slots.iter_mut() {
            match slot {
                Slot::Read { .. } => break,
                Slot::Write { unsent, .. } => {
                    if let Some(m) = unsent.take() {
                        self.unsent_writes.set(self.unsent_writes.get() - 1);
                        core.to_leader(m);
                    }
                }
                Slot::Held { .. } => {}
            }
        }
    }

    /// Queues a write: sent at once unless a read before it still has to be evaluated.
    fn push_write(&self, core: &Rc<Core>, xid: i32, op: OpCode, started_us: u64, m: LeaderMsg) {
        let hold = self.unevaluated_reads.get() > 0 || self.unsent_writes.get() > 0;
        let unsent = if hold {
            self.unsent_writes.set(self.unsent_writes.get() + 1);
            Some(m)
        } else {
            core.to_leader(m);
            None
        };
        let op = op.name();
        let slot = Slot::Write { xid, op, started_us, unsent, done: None, close: false };
        self.slots.borrow_mut().push_back(slot);
    }

    fn push_read(&self, xid: i32, op: OpCode, body: &[u8], started_us: u64) {
        self.unevaluated_reads.set(self.unevaluated_reads.get() + 1);
        self.slots.borrow_mut().push_back(Slot::Read { xid, op, body: body.to_vec(), started_us });
    }

    fn emit(&self, core: &Core, op: &'static str, bytes: &[u8], started_us: u64) {
        self.out.borrow_mut().extend_from_slice(bytes);
        let lat = clock::mono_us().saturating_sub(started_us);
        core.latency.borrow_mut().record(op, lat);
        core.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
        core.stats.outstanding.fetch_sub(1, Ordering::Relaxed);
        core.stats.record_latency(lat);
        let mut st = self.stats.borrow_mut();
        st.sent += 1;
        st.last_latency_us = lat;
        st.min_latency_us = st.min_latency_us.min(lat);
        st.max_latency_us = st.max_latency_us.max(lat);
        st.sum_latency_us += lat;
        st.count += 1;
        st.last_response_ms = clock::wall_ms();
    }

    /// Answers a read-type request on this core. Returns the framed reply, the zxid whose
    /// watch events must be delivered before it goes out, and whether to close after it.
    fn eval_read(&self, core: &Core, x: i32, op: OpCode, body: &[u8]) -> (Vec<u8>, Zxid, bool) {
        let arena = &core.shared.arena;
        let mut out = Vec::new();
        match op {
            OpCode::Ping => {
                let z = arena.applied_zxid();
                reply::frame(xid::PING, z, ErrorCode::Ok, &[], &mut out);
                (out, 0, false)
            }
            OpCode::SetWatches | OpCode::SetWatches2 => {
                let (err, upto) = match self.set_watches(core, op, body) {
                    Ok(upto) => (ErrorCode::Ok, upto),
                    Err(e) => (e, 0),
                };
                reply::frame(x, arena.applied_zxid(), err, &[], &mut out);
                (out, upto, false)
            }
            OpCode::CheckWatches | OpCode::RemoveWatches => {
                let err = match decode::<CheckWatchesRequest>(body) {
                    // An unknown watcher type fails to decode in ZooKeeper (WatcherType.fromInt).
                    Ok(r) if !(1..=5).contains(&r.watcher_type) => ErrorCode::MarshallingError,
                    Ok(r) => {
                        let mut w = core.watches.borrow_mut();
                        let found = if op == OpCode::CheckWatches {
                            w.has(self.key, &r.path, r.watcher_type)
                        } else {
                            !w.remove(self.key, &r.path, r.watcher_type).is_empty()
                        };
                        if found { ErrorCode::Ok } else { ErrorCode::NoWatcher }
                    }
                    Err(e) => e,
                };
                reply::frame(x, arena.applied_zxid(), err, &[], &mut out);
                (out, 0, false)
            }
            OpCode::AddWatch => {
                let err = match decode::<AddWatchRequest>(body) {
                    Ok(r) if crate::tree::path::validate(&r.path, false).is_err() => {
                        ErrorCode::BadArguments
                    }
                    Ok(r) if r.mode != 0 && r.mode != 1 => ErrorCode::MarshallingError,
                    Ok(r) => {
                        let kind = if r.mode == 1 {
                            WatchKind::PersistentRecursive
                        } else {
                            WatchKind::Persistent
                        };
                        let (_, view) = arena.read(|_| ());
                        core.watches.borrow_mut().add(self.key, &r.path, kind, view.from_zxid);
                        ErrorCode::Ok
                    }
                    Err(e) => e,
                };
                // ZooKeeper answers addWatch with an ErrorResponse(0) body.
                let mut b = Vec::new();
                ErrorResponse { err: 0 }.write(&mut b);
                reply::frame(x, arena.applied_zxid(), err, &b, &mut out);
                (out, 0, false)
            }
            OpCode::WhoAmI => {
                let auth = self.auth.borrow().clone();
                let client_info = auth
                    .ids
                    .iter()
                    .map(|i| {
                        // Digest ids show the user name only, as ZooKeeper's getUserName.
                        let user = match i.scheme.as_str() {
                            "digest" => i.id.split(':').next().unwrap_or("").to_string(),
                            _ => i.id.clone(),
                        };
                        ClientInfo { auth_scheme: i.scheme.clone(), user }
                    })
                    .collect();
                let mut b = Vec::new();
                WhoAmIResponse { client_info }.write(&mut b);
                reply::frame(x, arena.applied_zxid(), ErrorCode::Ok, &b, &mut out);
                (out, 0, false)
            }
            OpCode::Sasl => {
                let mut b = Vec::new();
                jute::write_buffer_opt(&mut b, None);
                reply::frame(x, 0, ErrorCode::Ok, &b, &mut out);
                (out, 0, false)
            }
            _ => {
                let auth = self.auth.borrow().clone();
                let mut watches = core.watches.borrow_mut();
                let mut ctx = ReadCtx { arena, auth: &auth, watches: &mut watches, conn: self.key };
                let (rr, view) = read::eval(&mut ctx, op, body);
                reply::frame(x, view.upto_zxid, rr.err, &rr.body, &mut out);
                (out, view.upto_zxid, false)
            }
        }
    }

    fn set_watches(&self, core: &Core, op: OpCode, body: &[u8]) -> Result<Zxid, ErrorCode> {
        let r = if op == OpCode::SetWatches {
            decode::<SetWatches>(body).map(|s| SetWatches2 {
                relative_zxid: s.relative_zxid,
                data_watches: s.data_watches,
                exist_watches: s.exist_watches,
                child_watches: s.child_watches,
                persistent_watches: Vec::new(),
                persistent_recursive_watches: Vec::new(),
            })
        } else {
            decode::<SetWatches2>(body)
        };
        let r = r?;
        let arena = &core.shared.arena;
        let rel = r.relative_zxid;
        let mut fire: Vec<(i32, String)> = Vec::new();
        let ((), view) = arena.read(|a| {
            let mut w = core.watches.borrow_mut();
            let seen = a.applied_zxid();
            for p in &r.data_watches {
                match a.get(p) {
                    None => fire.push((crate::tree::event::NODE_DELETED, p.clone())),
                    Some(n) if n.mzxid > rel => {
                        fire.push((crate::tree::event::NODE_DATA_CHANGED, p.clone()))
                    }
                    Some(_) => w.add(self.key, p, WatchKind::Data, seen),
                }
            }
            for p in &r.exist_watches {
                match a.get(p) {
                    Some(_) => fire.push((crate::tree::event::NODE_CREATED, p.clone())),
                    None => w.add(self.key, p, WatchKind::Data, seen),
                }
            }
            for p in &r.child_watches {
                match a.get(p) {
                    None => fire.push((crate::tree::event::NODE_DELETED, p.clone())),
                    Some(n) if n.pzxid > rel => {
                        fire.push((crate::tree::event::NODE_CHILDREN_CHANGED, p.clone()))
                    }
                    Some(_) => w.add(self.key, p, WatchKind::Child, seen),
                }
            }
            for p in &r.persistent_watches {
                w.add(self.key, p, WatchKind::Persistent, seen);
            }
            for p in &r.persistent_recursive_watches {
                w.add(self.key, p, WatchKind::PersistentRecursive, seen);
            }
        });
        for (t, p) in fire {
            self.push_event(core, t, &p);
        }
        Ok(view.upto_zxid)
    }

    pub(crate) fn info(&self) -> ConnInfo {
        let st = self.stats.borrow();
        let outstanding = self.slots.borrow().len() as u64;
        ConnInfo {
            remote: self.remote.clone(),
            queued: outstanding,
            received: st.received,
            sent: st.sent,
            session: self.session.get(),
            last_op: st.last_op.to_string(),
            established_ms: self.established_ms,
            timeout_ms: self.timeout_ms.get(),
            last_cxid: st.last_cxid,
            last_zxid: st.last_zxid,
            last_response_ms: st.last_response_ms,
            last_latency_ms: st.last_latency_us / 1000,
            min_latency_ms: if st.count == 0 { 0 } else { st.min_latency_us / 1000 },
            avg_latency_ms: if st.count == 0 {
                0.0
            } else {
                st.sum_latency_us as f64 / st.count as f64 / 1000.0
            },
            max_latency_ms: st.max_latency_us / 1000,
        }
    }

    pub(crate) fn reset_stats(&self) {
        *self.stats.borrow_mut() = ConnStats { min_latency_us: u64::MAX, ..Default::default() };
    }

    fn over_limits(&self) -> bool {
        self.slots.borrow().len() >= SESSION_OUTSTANDING_MAX
            || self.out.borrow().len() >= CONN_OUTPUT_BYTES_MAX
    }
}

fn decode<T: Jute>(body: &[u8]) -> Result<T, ErrorCode> {
    let mut r = JuteReader::new(body);
    T::read(&mut r).map_err(|_| ErrorCode::MarshallingError)
}

/// Why a connection ends.
#[derive(Debug)]
enum End {
    Eof,
    Io(std::io::Error),
    Protocol(&'static str),
    Closed,
}

/// Serves one accepted client socket until it closes.
pub async fn serve(core: Rc<Core>, stream: glommio::net::TcpStream) {
    let remote = match stream.peer_addr() {
        Ok(a) => a,
        Err(_) => {
            core.shared.assigned[core.id].fetch_sub(1, Ordering::Relaxed);
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let conn = Rc::new(Conn::new(&core, remote));
    core.conns.borrow_mut().insert(conn.key, conn.clone());
    core.stats.connections.fetch_add(1, Ordering::Relaxed);
    let (reader, writer) = futures_lite::io::split(stream);
    let writer_task = glommio::spawn_local(write_loop(conn.clone(), writer));
    let end = read_loop(&core, &conn, reader).await;
    match &end {
        End::Eof | End::Closed => tracing::debug!(conn = conn.key, ?end, "connection closed"),
        End::Io(e) => tracing::debug!(conn = conn.key, error = %e, "connection closed"),
        End::Protocol(why) => tracing::info!(conn = conn.key, remote = %conn.remote, why, "closing connection"),
    }
    conn.close_after_flush();
    writer_task.await;
    core.conns.borrow_mut().remove(&conn.key);
    let unanswered = conn.slots.borrow().len() as u64;
    core.stats.outstanding.fetch_sub(unanswered, Ordering::Relaxed);
    core.watches.borrow_mut().remove_conn(conn.key);
    core.blocked.borrow_mut().remove(&conn.key);
    core.stats.connections.fetch_sub(1, Ordering::Relaxed);
    let session = conn.session.get();
    if session != 0 {
        core.to_leader(LeaderMsg::Disconnected { conn: conn.id, session });
    }
}

async fn write_loop(
    conn: Rc<Conn>,
    mut writer: futures_lite::io::WriteHalf<glommio::net::TcpStream>,
) {
    loop {
        let buf = std::mem::take(&mut *conn.out.borrow_mut());
        if buf.is_empty() {
            if conn.closing.get() {
                break;
            }
            conn.out_notify.wait().await;
            continue;
        }
        if writer.write_all(&buf).await.is_err() {
            conn.close_after_flush();
            conn.out.borrow_mut().clear();
            break;
        }
        conn.resume_notify.notify();
    }
    let _ = writer.flush().await;
    let _ = writer.close().await;
    conn.close_notify.notify();
}

async fn read_some(
    conn: &Conn,
    reader: &mut futures_lite::io::ReadHalf<glommio::net::TcpStream>,
    buf: &mut [u8],
) -> Result<usize, End> {
    if conn.closing.get() {
        return Err(End::Closed);
    }
    let read = async { reader.read(buf).await.map_err(End::Io) };
    let closed = async {
        loop {
            conn.close_notify.wait().await;
            if conn.closing.get() {
                return Err(End::Closed);
            }
        }
    };
    futures_lite::future::or(read, closed).await
}

async fn read_loop(
    core: &Rc<Core>,
    conn: &Rc<Conn>,
    mut reader: futures_lite::io::ReadHalf<glommio::net::TcpStream>,
) -> End {
    let max = core.shared.config.jute_max_buffer;
    let mut frames = FrameBuf::new(max);
    // Small at first: most connections send small requests, and an idle one then holds
    // little (a 64 KiB buffer each was 70 KB of RSS per idle session). A read that fills it
    // doubles it, up to READ_BUF_MAX_BYTES, for connections that pipeline or send big data.
    let mut buf = vec![0u8; READ_BUF_MIN_BYTES];
    let mut first = true;
    let mut handshaken = false;
    loop {
        while conn.over_limits() && !conn.closing.get() {
            let wait = conn.resume_notify.wait();
            let closed = conn.close_notify.wait();
            futures_lite::future::or(wait, closed).await;
        }
        let n = if handshaken {
            match read_some(conn, &mut reader, &mut buf).await {
                Ok(0) => return End::Eof,
                Ok(n) => n,
                Err(e) => return e,
            }
        } else {
            let read = read_some(conn, &mut reader, &mut buf);
            let timeout = async {
                glommio::timer::sleep(std::time::Duration::from_millis(HANDSHAKE_TIMEOUT_MS)).await;
                Err(End::Protocol("handshake timeout"))
            };
            match futures_lite::future::or(read, timeout).await {
                Ok(0) => return End::Eof,
                Ok(n) => n,
                Err(e) => return e,
            }
        };
        frames.extend(&buf[..n]);
        if n == buf.len() && buf.len() < READ_BUF_MAX_BYTES {
            buf.resize((buf.len() * 2).min(READ_BUF_MAX_BYTES), 0);
        }
        if first {
            let Some(word) = frames.peek_four_letter_word() else { continue };
            first = false;
            if crate::proto::frame::is_four_letter_word(word) {
                let text = four_letter::answer(core, word).await;
                conn.out.borrow_mut().extend_from_slice(text.as_bytes());
                conn.close_after_flush();
                return End::Closed;
            }
        }
        loop {
            let frame = match frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return End::Protocol("frame larger than jute.maxbuffer"),
            };
            if !handshaken {
                if let Err(e) = handshake(core, conn, &frame).await {
                    return e;
                }
                handshaken = true;
                continue;
            }
            if let Err(e) = on_request(core, conn, &frame).await {
                return e;
            }
        }
        conn.pump(core);
    }
}

async fn handshake(core: &Rc<Core>, conn: &Rc<Conn>, frame: &[u8]) -> Result<(), End> {
    let (req, sent_read_only) = ConnectRequest::read_with_flag(&mut JuteReader::new(frame))
        .map_err(|_| End::Protocol("bad ConnectRequest"))?;
    let last = core.shared.arena.applied_zxid();
    if req.last_zxid_seen > last {
        tracing::info!(
            "refusing session request: client has seen zxid 0x{:x}, our last zxid is 0x{:x}",
            req.last_zxid_seen,
            last
        );
        return Err(End::Protocol("client has seen a newer zxid"));
    }
    let cfg = &core.shared.config;
    let timeout_ms = crate::session::negotiate_timeout(
        req.time_out,
        cfg.min_session_timeout_ms,
        cfg.max_session_timeout_ms,
    );
    core.to_leader(LeaderMsg::Connect {
        conn: conn.id,
        session: req.session_id,
        passwd: req.passwd.clone(),
        timeout_ms,
    });
    loop {
        if let Some(outcome) = conn.handshake.borrow_mut().take() {
            let mut body = Vec::new();
            let ok = match outcome {
                OutcomeBody::Connected { session, timeout_ms, passwd } => {
                    conn.session.set(session);
                    conn.timeout_ms.set(timeout_ms);
                    let r = ConnectResponse {
                        protocol_version: 0,
                        time_out: timeout_ms,
                        session_id: session,
                        passwd,
                        read_only: false,
                    };
                    write_connect_response(&r, sent_read_only, &mut body);
                    core.touched.borrow_mut().insert(session);
                    true
                }
                _ => {
                    let r = ConnectResponse {
                        protocol_version: 0,
                        time_out: 0,
                        session_id: 0,
                        passwd: vec![0; 16],
                        read_only: false,
                    };
                    write_connect_response(&r, sent_read_only, &mut body);
                    false
                }
            };
            let mut out = conn.out.borrow_mut();
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
            out.extend_from_slice(&body);
            drop(out);
            conn.out_notify.notify();
            if !ok {
                conn.close_after_flush();
                return Err(End::Protocol("session expired or bad password"));
            }
            return Ok(());
        }
        if conn.closing.get() {
            return Err(End::Closed);
        }
        conn.handshake_notify.wait().await;
    }
}

/// As ZooKeeper 3.8: the readOnly byte is answered only to clients that sent one.
fn write_connect_response(r: &ConnectResponse, with_read_only: bool, out: &mut Vec<u8>) {
    if with_read_only {
        r.write(out);
    } else {
        r.write_without_read_only(out);
    }
}

fn write_op(op: OpCode, body: &[u8]) -> Result<WriteOp, ErrorCode> {
    Ok(match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
            WriteOp::Create { op, req: decode(body)?, ttl: -1 }
        }
        OpCode::CreateTtl => {
            let r: CreateTTLRequest = decode(body)?;
            let req = CreateRequest { path: r.path, data: r.data, acl: r.acl, flags: r.flags };
            WriteOp::Create { op, req, ttl: r.ttl }
        }
        OpCode::Delete => WriteOp::Delete(decode(body)?),
        OpCode::SetData => WriteOp::SetData(decode(body)?),
        OpCode::SetAcl => WriteOp::SetAcl(decode(body)?),
        OpCode::Check => WriteOp::Check(decode(body)?),
        OpCode::Multi => {
            let m: crate::proto::multi::MultiRequest = decode(body)?;
            // As ZooKeeper: a read op inside a write multi fails the whole request to decode.
            if m.ops.iter().any(|o| o.is_read()) {
                return Err(ErrorCode::MarshallingError);
            }
            WriteOp::Multi(m.ops)
        }
        OpCode::DeleteContainer => {
            let p = std::str::from_utf8(body).map_err(|_| ErrorCode::MarshallingError)?;
            WriteOp::DeleteContainer(p.to_string())
        }
        OpCode::Sync => WriteOp::Sync(decode::<SyncRequest>(body)?.path),
        OpCode::GetEphemerals => WriteOp::GetEphemerals(decode::<GetEphemeralsRequest>(body)?.prefix_path),
        OpCode::CloseSession => WriteOp::CloseSession,
        OpCode::Reconfig => WriteOp::Reconfig,
        _ => return Err(ErrorCode::Unimplemented),
    })
}

/// Requests whose body begins with a path string.
fn starts_with_path(op: OpCode) -> bool {
    !matches!(
        op,
        OpCode::Multi
            | OpCode::MultiRead
            | OpCode::Ping
            | OpCode::CloseSession
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::Sasl
            | OpCode::WhoAmI
            | OpCode::Reconfig
            | OpCode::DeleteContainer
            | OpCode::Auth
    )
}

fn is_pipeline_op(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::Create
            | OpCode::Create2
            | OpCode::CreateContainer
            | OpCode::CreateTtl
            | OpCode::Delete
            | OpCode::SetData
            | OpCode::SetAcl
            | OpCode::Check
            | OpCode::Multi
            | OpCode::DeleteContainer
            | OpCode::Sync
            | OpCode::GetEphemerals
            | OpCode::CloseSession
            | OpCode::Reconfig
    )
}

async fn on_request(core: &Rc<Core>, conn: &Rc<Conn>, frame: &[u8]) -> Result<(), End> {
    let mut r = JuteReader::new(frame);
    let hdr = RequestHeader::read(&mut r).map_err(|_| End::Protocol("bad RequestHeader"))?;
    let body = &frame[r.position()..];
    let now = clock::mono_us();
    core.stats.packets_received.fetch_add(1, Ordering::Relaxed);
    core.stats.outstanding.fetch_add(1, Ordering::Relaxed);
    core.touched.borrow_mut().insert(conn.session.get());
    {
        let mut st = conn.stats.borrow_mut();
        st.received += 1;
        st.last_cxid = hdr.xid;
        st.last_op = OpCode::from_i32(hdr.op_type).map(short_name).unwrap_or("UNKN");
    }
    // Unknown opcodes, and `check` outside a multi (ZooKeeper 3.8+ refuses it on its own),
    // get UNIMPLEMENTED and a closed connection, as ZooKeeper's UnimplementedRequestProcessor.
    let known = OpCode::from_i32(hdr.op_type).filter(|op| *op != OpCode::Check);
    let Some(op) = known else {
        let mut out = Vec::new();
        // As ZooKeeper's UnimplementedRequestProcessor: zxid -1, then the connection closes.
        reply::frame(hdr.xid, -1, ErrorCode::Unimplemented, &[], &mut out);
        conn.slots.borrow_mut().push_back(Slot::Held { bytes: out, op: "unknown", upto_zxid: 0, started_us: now, close: true });
        return Ok(());
    };
    if op == OpCode::Auth {
        let outcome = match decode::<AuthPacket>(body) {
            Ok(p) => acl::authenticate(&p.scheme, &p.auth, core.shared.config.super_digest.as_deref()),
            Err(_) => AuthOutcome::Failed,
        };
        let err = match outcome {
            AuthOutcome::Added(ids) => {
                let mut a = (**conn.auth.borrow()).clone();
                for id in ids {
                    if !a.ids.contains(&id) {
                        a.ids.push(id);
                    }
                }
                *conn.auth.borrow_mut() = Arc::new(a);
                ErrorCode::Ok
            }
            AuthOutcome::Failed => {
                core.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
                ErrorCode::AuthFailed
            }
        };
        // The reply echoes the request's xid (clients conventionally send -4, not all do).
        let mut out = Vec::new();
        reply::frame(hdr.xid, 0, err, &[], &mut out);
        let close = err != ErrorCode::Ok;
        conn.slots.borrow_mut().push_back(Slot::Held { bytes: out, op: "auth", upto_zxid: 0, started_us: now, close });
        return Ok(());
    }
    if starts_with_path(op) && body.get(..4) == Some(&(-1i32).to_be_bytes()[..]) {
        // A null path: ZooKeeper fails to deserialize it and answers MARSHALLINGERROR.
        let mut out = Vec::new();
        reply::frame(hdr.xid, core.shared.arena.applied_zxid(), ErrorCode::MarshallingError, &[], &mut out);
        conn.slots.borrow_mut().push_back(Slot::Held { bytes: out, op: op.name(), upto_zxid: 0, started_us: now, close: false });
        return Ok(());
    }
    if is_pipeline_op(op) {
        match write_op(op, body) {
            Ok(wop) => {
                let auth = conn.auth.borrow().clone();
                let m = LeaderMsg::Write { conn: conn.id, session: conn.session.get(), xid: hdr.xid, op: wop, auth };
                conn.push_write(core, hdr.xid, op, now, m);
            }
            Err(e) => {
                let mut out = Vec::new();
                reply::frame(hdr.xid, core.shared.arena.applied_zxid(), e, &[], &mut out);
                conn.slots.borrow_mut().push_back(Slot::Held { bytes: out, op: op.name(), upto_zxid: 0, started_us: now, close: false });
            }
        }
        return Ok(());
    }
    conn.push_read(hdr.xid, op, body, now);
    Ok(())
}

/// ZooKeeper's short op names as `cons` prints them (`lop=`).
fn short_name(op: OpCode) -> &'static str {
    match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => "CREA",
        OpCode::Delete | OpCode::DeleteContainer => "DELE",
        OpCode::Exists => "EXIS",
        OpCode::GetData => "GETD",
        OpCode::SetData => "SETD",
        OpCode::GetAcl => "GETA",
        OpCode::SetAcl => "SETA",
        OpCode::GetChildren => "GETC",
        OpCode::GetChildren2 => "GETC",
        OpCode::Sync => "SYNC",
        OpCode::Ping => "PING",
        OpCode::Check => "CHEC",
        OpCode::Multi => "MULT",
        OpCode::MultiRead => "MLTR",
        OpCode::CloseSession => "CLOS",
        OpCode::SetWatches | OpCode::SetWatches2 => "SETW",
        OpCode::Auth => "AUTH",
        _ => "OTHR",
    }
}
