//! The workloads: what each unit (a session slot, a watcher, the fan-out driver) does, plus
//! the setup before a run and the cleanup after it.
//!
//! A unit connects, says it is ready, waits for the common start, then runs until the measured
//! window closes (or the op budget is spent, or the run is stopped). Every request is recorded
//! through `Rec::record`, which keeps only what falls inside the window.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::proto::jute::{write_bool, write_buffer, write_i32, write_string};
use crate::proto::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
use crate::proto::opcode::perms;
use crate::proto::records::{CreateResponse, GetChildrenResponse, SetDataRequest};
use crate::proto::{ErrorCode, EventType, OpCode};

use super::client::{Reply, Result, Session};
use super::run::{Ctx, Rec};
use super::Workload;

/// Pipelined requests in setup and cleanup.
const ADMIN_OUTSTANDING: usize = 256;
/// How often a waiting unit looks at the stop flag and the start signal.
const POLL: Duration = Duration::from_millis(1);
/// How long a read waits before a waiting unit checks the stop flag.
const WAIT_IDLE: Duration = Duration::from_millis(100);

/// One thing a client thread runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unit {
    /// A session slot of the closed-loop, session-storm or lock workloads.
    Session(usize),
    /// A watcher of the fan-out workload.
    Watcher(usize),
    /// The fan-out workload's writer.
    Driver,
    /// Opens this thread's re-arm gate after each fan-out round (see `Gate`).
    Gatekeeper,
}

/// The units thread `t` of `threads` runs: slots dealt round-robin.
pub(crate) fn units(ctx: &Ctx, t: usize) -> Vec<Unit> {
    let threads = ctx.plan.threads;
    match ctx.plan.workload {
        Workload::Watch => {
            let mut u: Vec<Unit> = (0..ctx.plan.watchers)
                .filter(|i| i % threads == t)
                .map(Unit::Watcher)
                .collect();
            if !u.is_empty() {
                u.push(Unit::Gatekeeper);
            }
            if t == 0 {
                u.push(Unit::Driver);
            }
            u
        }
        _ => (0..ctx.plan.sessions)
            .filter(|i| i % threads == t)
            .map(Unit::Session)
            .collect(),
    }
}

/// The server unit `i` talks to.
fn server(ctx: &Ctx, i: usize) -> SocketAddr {
    ctx.plan.servers[i % ctx.plan.servers.len()]
}

/// Runs one unit to its end.
pub(crate) async fn run_unit(ctx: Arc<Ctx>, unit: Unit, rec: std::rc::Rc<RefCell<Rec>>) -> Result<()> {
    let timeout = ctx.plan.session_timeout_ms;
    match (ctx.plan.workload, unit) {
        (Workload::Sessions, Unit::Session(i)) => {
            ready_and_wait(&ctx).await?;
            session_storm(&ctx, server(&ctx, i), &rec).await
        }
        (Workload::Watch, Unit::Watcher(i)) => {
            // No short read timeout here: a timed-out read is cancelled and issued again,
            // which with a thousand watchers is a storm of its own. The driver's last
            // setData wakes every watcher at the end.
            let mut s = Session::connect(server(&ctx, i), timeout).await?;
            arm(&ctx, &mut s).await?;
            ready_and_wait(&ctx).await?;
            // Stopped before the start (a session refused, say): no driver will wake us.
            let r = if ctx.sh.stopped() { Ok(()) } else { watcher(&ctx, &mut s).await };
            close_quietly(s).await;
            r
        }
        (Workload::Watch, Unit::Gatekeeper) => {
            ready_and_wait(&ctx).await?;
            gatekeeper(&ctx).await
        }
        (Workload::Watch, Unit::Driver) => {
            let mut s = Session::connect(server(&ctx, 0), timeout).await?;
            ready_and_wait(&ctx).await?;
            let r = driver(&ctx, &mut s, &rec).await;
            close_quietly(s).await;
            r
        }
        (Workload::Lock, Unit::Session(i)) => {
            let mut s = Session::connect(server(&ctx, i), timeout).await?;
            s.set_idle(WAIT_IDLE)?;
            ready_and_wait(&ctx).await?;
            let r = lock(&ctx, &mut s, &rec).await;
            close_quietly(s).await;
            r
        }
        (_, Unit::Session(i)) => {
            let mut s = Session::connect(server(&ctx, i), timeout).await?;
            ready_and_wait(&ctx).await?;
            let r = closed_loop(&ctx, &mut s, i, &rec).await;
            close_quietly(s).await;
            r
        }
        (w, u) => Err(format!("unit {u:?} does not belong to workload {}", w.name())),
    }
}

async fn close_quietly(s: Session) {
    let _ = s.close().await;
}

/// Reports ready, then waits for the common start (or a stop).
async fn ready_and_wait(ctx: &Ctx) -> Result<()> {
    ctx.sh.ready.fetch_add(1, Ordering::AcqRel);
    while ctx.sh.start_ns.load(Ordering::Acquire) == 0 {
        if ctx.sh.stopped() {
            return Ok(());
        }
        glommio::timer::sleep(POLL).await;
    }
    Ok(())
}

// ---- closed loop: create, create-seq, set, get, exists, children, mixed, multi -------------

/// Keeps `outstanding` requests in flight until the window closes.
async fn closed_loop(ctx: &Ctx, s: &mut Session, slot: usize, rec: &RefCell<Rec>) -> Result<()> {
    let k = ctx.plan.outstanding.max(1);
    let mut requests = Gen::new(ctx, slot);
    let mut inflight: VecDeque<(i32, usize, u64)> = VecDeque::with_capacity(k);
    loop {
        while inflight.len() < k && ctx.sh.may_issue(ctx.now_ns()) {
            let (op, xid) = requests.issue(ctx, s);
            inflight.push_back((xid, op, ctx.now_ns()));
        }
        let Some(&(xid, op, sent)) = inflight.front() else {
            return Ok(());
        };
        let reply = s.recv().await?;
        let done = ctx.now_ns();
        inflight.pop_front();
        if reply.xid != xid {
            return Err(format!("{}: reply xid {} for request xid {xid}", s.addr(), reply.xid));
        }
        let ok = reply.err == 0 && multi_ok(ctx, &reply)?;
        rec.borrow_mut().record(ctx, op, sent, done, ok);
    }
}

/// A multi's reply header says 0 even when an op failed; look at the results.
fn multi_ok(ctx: &Ctx, reply: &Reply) -> Result<bool> {
    if ctx.plan.workload != Workload::Multi {
        return Ok(true);
    }
    let resp: MultiResponse = reply.decode()?;
    Ok(resp.results.iter().all(|r| !matches!(r, MultiResult::Error { .. })))
}

/// Request generator of one closed-loop session.
struct Gen {
    rng: u64,
    seq: u64,
    /// Parent of this session's creates.
    parent: String,
}

impl Gen {
    fn new(ctx: &Ctx, slot: usize) -> Gen {
        let parent = match ctx.plan.workload {
            Workload::Create => format!("{}/c/{slot}", ctx.root),
            Workload::CreateSeq => format!("{}/s/{slot}", ctx.root),
            _ => String::new(),
        };
        Gen {
            rng: ctx.plan.seed ^ (slot as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            seq: 0,
            parent,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn key<'a>(&mut self, ctx: &'a Ctx) -> &'a str {
        let i = (self.next() % ctx.keys.len() as u64) as usize;
        &ctx.keys[i]
    }

    /// Queues the next request; returns (op index in the report, xid).
    fn issue(&mut self, ctx: &Ctx, s: &mut Session) -> (usize, i32) {
        let payload = &ctx.payload[..];
        match ctx.plan.workload {
            Workload::Create | Workload::CreateSeq => {
                self.seq += 1;
                let (path, flags) = if ctx.plan.workload == Workload::Create {
                    (format!("{}/{}", self.parent, self.seq), 0)
                } else {
                    (format!("{}/n-", self.parent), 2)
                };
                (0, s.send_with(OpCode::Create, |w| write_create(w, &path, payload, flags)))
            }
            Workload::Set => {
                let key = self.key(ctx);
                (0, s.send_with(OpCode::SetData, |w| write_set(w, key, payload)))
            }
            Workload::Get => {
                let key = self.key(ctx);
                (0, s.send_with(OpCode::GetData, |w| write_path_watch(w, key, false)))
            }
            Workload::Exists => {
                let key = self.key(ctx);
                (0, s.send_with(OpCode::Exists, |w| write_path_watch(w, key, false)))
            }
            Workload::Children => {
                let parent = format!("{}/k", ctx.root);
                (0, s.send_with(OpCode::GetChildren, |w| write_path_watch(w, &parent, false)))
            }
            Workload::Mixed => {
                let read = (self.next() % 1_000_000) as f64 / 1e6 < ctx.plan.read_ratio;
                let key = self.key(ctx);
                if read {
                    (0, s.send_with(OpCode::GetData, |w| write_path_watch(w, key, false)))
                } else {
                    (1, s.send_with(OpCode::SetData, |w| write_set(w, key, payload)))
                }
            }
            Workload::Multi => {
                let ops = (0..ctx.plan.multi_ops.max(1))
                    .map(|_| {
                        MultiOp::SetData(SetDataRequest {
                            path: self.key(ctx).to_string(),
                            data: Some(payload.to_vec()),
                            version: -1,
                        })
                    })
                    .collect();
                (0, s.send(OpCode::Multi, &MultiRequest { ops }))
            }
            Workload::Watch | Workload::Sessions | Workload::Lock => {
                unreachable!("not a closed-loop workload")
            }
        }
    }
}

fn write_create(w: &mut Vec<u8>, path: &str, data: &[u8], flags: i32) {
    write_string(w, path);
    write_buffer(w, data);
    // ACL: [world:anyone ALL]
    write_i32(w, 1);
    write_i32(w, perms::ALL);
    write_string(w, "world");
    write_string(w, "anyone");
    write_i32(w, flags);
}

fn write_set(w: &mut Vec<u8>, path: &str, data: &[u8]) {
    write_string(w, path);
    write_buffer(w, data);
    write_i32(w, -1);
}

fn write_path_watch(w: &mut Vec<u8>, path: &str, watch: bool) {
    write_string(w, path);
    write_bool(w, watch);
}

/// delete with version -1.
fn write_delete(w: &mut Vec<u8>, path: &str) {
    write_string(w, path);
    write_i32(w, -1);
}

// ---- session storm ------------------------------------------------------------------------

/// Opens a session and closes it, over and over: "open" is connect to ConnectResponse,
/// "close" is closeSession to its reply.
async fn session_storm(ctx: &Ctx, addr: SocketAddr, rec: &RefCell<Rec>) -> Result<()> {
    while ctx.sh.may_issue(ctx.now_ns()) {
        let t0 = ctx.now_ns();
        let s = Session::connect(addr, ctx.plan.session_timeout_ms).await?;
        let t1 = ctx.now_ns();
        rec.borrow_mut().record(ctx, 0, t0, t1, true);
        s.close().await?;
        let t2 = ctx.now_ns();
        rec.borrow_mut().record(ctx, 1, t1, t2, true);
    }
    Ok(())
}

// ---- watch fan-out ------------------------------------------------------------------------

/// Leaves a data watch on the fan-out znode and counts itself armed.
async fn arm(ctx: &Ctx, s: &mut Session) -> Result<()> {
    let path = format!("{}/w", ctx.root);
    s.send_with(OpCode::GetData, |w| write_path_watch(w, &path, true));
    let reply = s.recv().await?;
    if reply.err != 0 {
        return Err(format!("{}: getData {path} with watch: {}", s.addr(), err_name(reply.err)));
    }
    ctx.sh.armed.fetch_add(1, Ordering::AcqRel);
    Ok(())
}

/// A watcher: on each notification, stamps its arrival, then re-arms once the round is over
/// (every watcher notified), so that re-arming does not compete with the fan-out it measures.
async fn watcher(ctx: &Ctx, s: &mut Session) -> Result<()> {
    let mut round = 0;
    loop {
        let Some(ev) = s.next_event_or_stop(&ctx.sh.fan_done).await? else {
            return Ok(());
        };
        let arrived = ctx.now_ns();
        if ev.event_type != EventType::NodeDataChanged.as_i32() {
            return Err(format!("{}: unexpected event {ev:?}", s.addr()));
        }
        ctx.sh.last_arrival_ns.fetch_max(arrived, Ordering::AcqRel);
        ctx.sh.notified.fetch_add(1, Ordering::AcqRel);
        round += 1;
        GATE.with(|g| g.clone()).opened(round).await;
        if ctx.sh.fan_done.load(Ordering::Acquire) {
            return Ok(());
        }
        arm(ctx, s).await?;
    }
}

/// Watchers of one client thread wait here between notification and re-arm.
#[derive(Default)]
struct Gate {
    open: std::cell::Cell<u64>,
    waiting: RefCell<Vec<std::task::Waker>>,
}

thread_local! {
    static GATE: std::rc::Rc<Gate> = std::rc::Rc::new(Gate::default());
}

impl Gate {
    /// Resolves once round `round` is open.
    fn opened(self: std::rc::Rc<Self>, round: u64) -> impl std::future::Future<Output = ()> {
        std::future::poll_fn(move |cx| {
            if self.open.get() >= round {
                std::task::Poll::Ready(())
            } else {
                self.waiting.borrow_mut().push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
    }

    fn open(&self, round: u64) {
        self.open.set(round);
        for w in self.waiting.borrow_mut().drain(..) {
            w.wake();
        }
    }
}

/// Opens the thread's gate when a round is complete (every watcher notified), and for good
/// at the end of the run.
async fn gatekeeper(ctx: &Ctx) -> Result<()> {
    let m = ctx.plan.watchers as u64;
    let gate = GATE.with(|g| g.clone());
    let mut round = 0;
    loop {
        let done = ctx.sh.fan_done.load(Ordering::Acquire) || ctx.sh.stopped();
        if done {
            gate.open(u64::MAX);
            return Ok(());
        }
        if ctx.sh.notified.load(Ordering::Acquire) >= m * (round + 1) {
            round += 1;
            gate.open(round);
            continue;
        }
        glommio::timer::sleep(Duration::from_micros(20)).await;
    }
}

/// The writer: each round waits for every watcher to be armed, sets the znode, and waits for
/// every notification; the round's latency is setData sent to the last notification received.
async fn driver(ctx: &Ctx, s: &mut Session, rec: &RefCell<Rec>) -> Result<()> {
    let m = ctx.plan.watchers as u64;
    let path = format!("{}/w", ctx.root);
    let mut round: u64 = 0;
    let result = async {
        while ctx.sh.may_issue(ctx.now_ns()) {
            wait_count(ctx, &ctx.sh.armed, m * (round + 1)).await?;
            let t0 = ctx.now_ns();
            s.send_with(OpCode::SetData, |w| write_set(w, &path, &ctx.payload));
            let reply = s.recv().await?;
            if reply.err != 0 {
                return Err(format!("{}: setData {path}: {}", s.addr(), err_name(reply.err)));
            }
            wait_count(ctx, &ctx.sh.notified, m * (round + 1)).await?;
            let last = ctx.sh.last_arrival_ns.load(Ordering::Acquire);
            rec.borrow_mut().record(ctx, 0, t0, last.max(t0), true);
            round += 1;
        }
        Ok(())
    }
    .await;
    // Release the watchers: mark the end, then one last change wakes every armed one (also
    // after an error, as long as the server answers).
    ctx.sh.fan_done.store(true, Ordering::Release);
    s.send_with(OpCode::SetData, |w| write_set(w, &path, &ctx.payload));
    let last = s.recv().await;
    result?;
    last.map(|_| ())
}

/// Waits until `counter` reaches `target` (or the run is stopped).
async fn wait_count(ctx: &Ctx, counter: &std::sync::atomic::AtomicU64, target: u64) -> Result<()> {
    while counter.load(Ordering::Acquire) < target {
        if ctx.sh.stopped() {
            return Err("stopped".into());
        }
        // Sleeping lets this thread's watchers run; the round's latency is taken from their
        // arrival stamps, not from when this loop notices them.
        glommio::timer::sleep(Duration::from_micros(20)).await;
    }
    Ok(())
}

// ---- lock contention ----------------------------------------------------------------------

/// The fair lock recipe: create an ephemeral sequential node; the lowest node holds the lock;
/// every other waits for the deletion of the node just below its own. "lock" is the time from
/// the create to holding the lock; the holder then releases at once.
async fn lock(ctx: &Ctx, s: &mut Session, rec: &RefCell<Rec>) -> Result<()> {
    let dir = format!("{}/lock", ctx.root);
    let prefix = format!("{dir}/l-");
    while ctx.sh.may_issue(ctx.now_ns()) {
        let t0 = ctx.now_ns();
        s.send_with(OpCode::Create, |w| write_create(w, &prefix, &[], 3));
        let reply = s.recv().await?;
        if reply.err != 0 {
            return Err(format!("{}: create {prefix}: {}", s.addr(), err_name(reply.err)));
        }
        let mine = reply.decode::<CreateResponse>()?.path;
        let my_name = mine.rsplit('/').next().unwrap_or_default().to_string();
        loop {
            let reply = s.call_with(OpCode::GetChildren, |w| write_path_watch(w, &dir, false)).await?;
            let mut children = reply.decode::<GetChildrenResponse>()?.children;
            children.sort_by_key(|c| seq_of(c));
            let Some(pos) = children.iter().position(|c| *c == my_name) else {
                return Err(format!("{}: own lock node {mine} is gone", s.addr()));
            };
            if pos == 0 {
                break;
            }
            let prev = format!("{dir}/{}", children[pos - 1]);
            let reply = s.call_with(OpCode::Exists, |w| write_path_watch(w, &prev, true)).await?;
            if reply.err == ErrorCode::NoNode.code() {
                continue;
            }
            // Wait for the watch on the node below ours (any event on it means: look again).
            loop {
                match s.next_event_or_stop(&ctx.sh.stop).await? {
                    None => return Ok(()),
                    Some(ev) if ev.path == prev => break,
                    Some(_) => {}
                }
            }
        }
        let held = ctx.now_ns();
        rec.borrow_mut().record(ctx, 0, t0, held, true);
        let reply = s.call_with(OpCode::Delete, |w| write_delete(w, &mine)).await?;
        if reply.err != 0 {
            return Err(format!("{}: delete {mine}: {}", s.addr(), err_name(reply.err)));
        }
    }
    Ok(())
}

/// The sequence number of a lock node name (`l-0000000042`).
fn seq_of(name: &str) -> u64 {
    name.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
}

fn err_name(code: i32) -> String {
    ErrorCode::from_i32(code).map_or_else(|| format!("error {code}"), |c| format!("{c:?} ({code})"))
}

// ---- setup and cleanup ---------------------------------------------------------------------

/// Creates the run's root and what the workload needs under it.
pub(crate) async fn setup(ctx: &Ctx, s: &mut Session) -> Result<()> {
    let root = &ctx.root;
    let mut paths: Vec<(String, Vec<u8>)> = vec![(root.clone(), Vec::new())];
    match ctx.plan.workload {
        Workload::Set
        | Workload::Get
        | Workload::Exists
        | Workload::Children
        | Workload::Mixed
        | Workload::Multi => {
            paths.push((format!("{root}/k"), Vec::new()));
            paths.extend(ctx.keys.iter().map(|k| (k.clone(), ctx.payload.clone())));
        }
        Workload::Create | Workload::CreateSeq => {
            let dir = if ctx.plan.workload == Workload::Create { "c" } else { "s" };
            paths.push((format!("{root}/{dir}"), Vec::new()));
            paths.extend((0..ctx.plan.sessions).map(|i| (format!("{root}/{dir}/{i}"), Vec::new())));
        }
        Workload::Watch => paths.push((format!("{root}/w"), ctx.payload.clone())),
        Workload::Lock => paths.push((format!("{root}/lock"), Vec::new())),
        Workload::Sessions => {}
    }
    // Parents come before children in `paths`, and a session's replies come in order, so
    // pipelining them is safe: a parent's create is applied before its children's.
    let mut inflight: VecDeque<(i32, usize)> = VecDeque::new();
    let mut next = 0;
    while next < paths.len() || !inflight.is_empty() {
        while next < paths.len() && inflight.len() < ADMIN_OUTSTANDING {
            let (path, data) = &paths[next];
            inflight.push_back((s.send_with(OpCode::Create, |w| write_create(w, path, data, 0)), next));
            next += 1;
        }
        let reply = s.recv().await?;
        let Some((xid, i)) = inflight.pop_front() else { break };
        if reply.xid != xid || reply.err != 0 {
            return Err(format!("{}: setup: create {}: {}", s.addr(), paths[i].0, err_name(reply.err)));
        }
    }
    Ok(())
}

/// Deletes `root` and everything under it; returns how many znodes went.
pub(crate) async fn delete_tree(s: &mut Session, root: &str) -> Result<u64> {
    // Breadth first: every level's getChildren pipelined, then deletes deepest first.
    let mut levels: Vec<Vec<String>> = vec![vec![root.to_string()]];
    loop {
        let Some(level) = levels.last() else { break };
        let mut below = Vec::new();
        let mut i = 0;
        let mut inflight: VecDeque<(i32, usize)> = VecDeque::new();
        while i < level.len() || !inflight.is_empty() {
            while i < level.len() && inflight.len() < ADMIN_OUTSTANDING {
                inflight.push_back((s.send_with(OpCode::GetChildren, |w| write_path_watch(w, &level[i], false)), i));
                i += 1;
            }
            let reply = s.recv().await?;
            let Some((xid, at)) = inflight.pop_front() else { break };
            if reply.xid != xid {
                return Err(format!("{}: cleanup: reply xid {} for {xid}", s.addr(), reply.xid));
            }
            if reply.err == ErrorCode::NoNode.code() {
                continue;
            }
            if reply.err != 0 {
                return Err(format!("{}: cleanup: getChildren {}: {}", s.addr(), level[at], err_name(reply.err)));
            }
            let parent = &level[at];
            below.extend(reply.decode::<GetChildrenResponse>()?.children.into_iter().map(|c| format!("{parent}/{c}")));
        }
        if below.is_empty() {
            break;
        }
        levels.push(below);
    }
    let mut deleted = 0;
    for level in levels.iter().rev() {
        let mut i = 0;
        let mut inflight: VecDeque<(i32, usize)> = VecDeque::new();
        while i < level.len() || !inflight.is_empty() {
            while i < level.len() && inflight.len() < ADMIN_OUTSTANDING {
                inflight.push_back((s.send_with(OpCode::Delete, |w| write_delete(w, &level[i])), i));
                i += 1;
            }
            let reply = s.recv().await?;
            let Some((xid, at)) = inflight.pop_front() else { break };
            if reply.xid != xid {
                return Err(format!("{}: cleanup: reply xid {} for {xid}", s.addr(), reply.xid));
            }
            match reply.err {
                0 => deleted += 1,
                // Ephemerals of closed sessions go by themselves.
                e if e == ErrorCode::NoNode.code() => {}
                e => return Err(format!("{}: cleanup: delete {}: {}", s.addr(), level[at], err_name(e))),
            }
        }
    }
    Ok(deleted)
}
