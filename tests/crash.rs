//! Crash test: a zkr server (forceSync=yes, small snapCount and log segments so snapshots, segment
//! rolls and purges happen during the run) under concurrent write load from several sessions is
//! killed with SIGKILL at random moments and restarted on the same data directories and port.
//! After every restart a fresh client checks, against a model of what the clients saw
//! acknowledged:
//!
//! - every acknowledged create / setData / multi is there with the acknowledged data and Stat
//!   (version, czxid, mzxid); every acknowledged delete is gone; no node exists that was never
//!   written (or whose only write was a failed one);
//! - a write in flight at the kill (no reply) is either wholly there or wholly absent (a multi
//!   never half-applied); whichever it is becomes the model from then on (and must stay so);
//! - sequential names are never handed out twice, and their order is the czxid order;
//! - zxids keep increasing: the first write after a restart has a zxid above every zxid
//!   acknowledged before and every zxid in the recovered tree;
//! - the ephemeral node of a session opened before the crash is there right after the restart
//!   (sessions survive), and goes away once that session (whose client is gone) expires.
//!
//! Deterministic choices come from a seeded PRNG; the seed is printed. Replay a failure with
//! `ZKR_CRASH_SEED=<seed> cargo test --test crash -- --nocapture` (the kill moments still
//! depend on scheduling, so a replay is likely, not certain, to hit the same state).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::proc::{Rng, ZkrProc, seed_from_env, segments, snapshots};
use common::node_state::NodeState;
use common::{eventually, open, raw, within};
use zookeeper_client as zk;

/// Writer sessions.
const WORKERS: usize = 5;
/// Session timeout of the sessions that own the ephemerals (the server's maximum with
/// tickTime=200 is 20 ticks).
const EPH_TIMEOUT_MS: i32 = 4000;
const ROOT: &str = "/crash";
const SEQ_DIR: &str = "/crash/seq";
const EPH_DIR: &str = "/crash/eph";

/// The server configuration under test (on top of `ZkrProc`'s tickTime=200 and
/// a dataLogDir apart from dataDir).
const CONFIG: &[(&str, &str)] = &[
    ("forceSync", "yes"),
    ("snapCount", "50"),
    ("autopurge.snapRetainCount", "3"),
    ("zkr.logSegmentBytes", "32k"),
];

/// What an unacknowledged write would have done to one path.
#[derive(Clone, Debug)]
enum Effect {
    Create {
        path: String,
        data: Vec<u8>,
    },
    Set {
        path: String,
        data: Vec<u8>,
        before: NodeState,
    },
    Delete {
        path: String,
        before: NodeState,
    },
}

impl Effect {
    fn path(&self) -> &str {
        match self {
            Effect::Create { path, .. }
            | Effect::Set { path, .. }
            | Effect::Delete { path, .. } => path,
        }
    }
}

/// The write a worker had in flight when the server died.
#[derive(Clone, Debug)]
enum Pending {
    /// Creates, sets and deletes on the worker's own paths (one op, or one multi).
    Effects {
        what: &'static str,
        effects: Vec<Effect>,
    },
    /// A sequential create under `SEQ_DIR` with this (unique) data; its name is unknown.
    Sequential { data: Vec<u8> },
}

/// An acknowledged (or, after a restart, observed) sequential node.
#[derive(Clone, Debug)]
struct SeqNode {
    name: String,
    data: Vec<u8>,
    czxid: i64,
}

/// One writer session and the model of the paths it owns (`/crash/w<id>/...`); no other
/// session writes them, so their acknowledged state is exactly known.
struct Worker {
    id: usize,
    dir: String,
    rng: Rng,
    /// Nodes known to exist, with their exact state.
    nodes: BTreeMap<String, NodeState>,
    /// Next node number (names are never reused, failed and lost ones included).
    next: u64,
    /// Next sequential-create number (makes each sequential node's data unique).
    next_seq: u64,
    pending: Option<Pending>,
    /// Sequential creates acknowledged this cycle.
    seq_acked: Vec<SeqNode>,
    max_acked_zxid: i64,
    violations: Vec<String>,
    acked: u64,
    failed_as_expected: u64,
}

impl Worker {
    fn new(id: usize, rng: Rng) -> Worker {
        Worker {
            id,
            dir: format!("{ROOT}/w{id}"),
            rng,
            nodes: BTreeMap::new(),
            next: 0,
            next_seq: 0,
            pending: None,
            seq_acked: Vec::new(),
            max_acked_zxid: 0,
            violations: Vec::new(),
            acked: 0,
            failed_as_expected: 0,
        }
    }

    fn new_path(&mut self) -> String {
        let p = format!("{}/n{}", self.dir, self.next);
        self.next += 1;
        p
    }

    /// Distinct data for `path` at `version`: mostly short, sometimes a few KiB (records that
    /// span pages and fill segments faster).
    fn data(&mut self, path: &str, version: i32) -> Vec<u8> {
        let mut d = format!("{path}@v{version}#{:x}", self.rng.next_u64()).into_bytes();
        let pad = if self.rng.below(10) == 0 {
            self.rng.range(500, 3000)
        } else {
            self.rng.below(40)
        };
        let fill = b'a' + self.rng.below(26) as u8;
        d.extend(std::iter::repeat_n(fill, pad as usize));
        d
    }

    /// A random known node, not `except`.
    fn pick(&mut self, except: Option<&str>) -> Option<(String, NodeState)> {
        if self.nodes.is_empty() {
            return None;
        }
        let i = self.rng.below(self.nodes.len() as u64) as usize;
        let (p, s) = self.nodes.iter().nth(i).unwrap();
        if Some(p.as_str()) == except {
            return None;
        }
        Some((p.clone(), s.clone()))
    }

    fn ack(&mut self, zxid: i64) {
        self.acked += 1;
        self.max_acked_zxid = self.max_acked_zxid.max(zxid);
    }

    fn violation(&mut self, msg: String) {
        self.violations.push(format!("worker {}: {msg}", self.id));
    }
}

/// Errors that are the server's answer about the data (the op was executed and refused), as
/// opposed to the connection failing under the op (outcome unknown).
fn is_semantic(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::NoNode
            | zk::Error::NodeExists
            | zk::Error::BadVersion
            | zk::Error::NotEmpty
            | zk::Error::NoAuth
            | zk::Error::InvalidAcl
            | zk::Error::BadArguments(_)
            | zk::Error::NoChildrenForEphemerals
            | zk::Error::RuntimeInconsistent
            | zk::Error::MarshallingError
            | zk::Error::Unimplemented
    )
}

async fn connect(addr: &str) -> zk::Client {
    within(
        zk::Client::connector()
            .with_session_timeout(Duration::from_millis(EPH_TIMEOUT_MS as u64))
            .with_fail_eagerly()
            .connect(addr),
    )
    .await
    .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// One random write, and the model updated from its reply. Returns false when the worker must
/// stop: the write's outcome is unknown (the server died under it; it becomes `pending`), or
/// the reply contradicts the model (a violation).
async fn one_op(w: &mut Worker, c: &zk::Client) -> bool {
    let roll = w.rng.below(100);
    if roll < 30 || w.nodes.len() < 3 {
        // Create.
        let path = w.new_path();
        let data = w.data(&path, 0);
        match within(c.create(&path, &data, &open())).await {
            Ok((stat, _)) => {
                if stat.version != 0 || stat.czxid != stat.mzxid {
                    w.violation(format!("create {path} acknowledged with stat {stat:?}"));
                    return false;
                }
                w.ack(stat.czxid);
                w.nodes.insert(path, NodeState::new(&data, &stat));
                true
            }
            Err(e) if is_semantic(&e) => {
                w.violation(format!("create {path}: unexpected {e}"));
                false
            }
            Err(_) => {
                w.pending = Some(Pending::Effects {
                    what: "create",
                    effects: vec![Effect::Create { path, data }],
                });
                false
            }
        }
    } else if roll < 55 {
        // setData with the right version.
        let Some((path, before)) = w.pick(None) else {
            return true;
        };
        let data = w.data(&path, before.version + 1);
        match within(c.set_data(&path, &data, Some(before.version))).await {
            Ok(stat) => {
                if stat.version != before.version + 1
                    || stat.czxid != before.czxid
                    || stat.mzxid <= before.mzxid
                {
                    w.violation(format!(
                        "setData {path} (from {before:?}) acknowledged with stat {stat:?}"
                    ));
                    return false;
                }
                w.ack(stat.mzxid);
                w.nodes.insert(path, NodeState::new(&data, &stat));
                true
            }
            Err(e) if is_semantic(&e) => {
                w.violation(format!(
                    "setData {path} at version {}: unexpected {e}",
                    before.version
                ));
                false
            }
            Err(_) => {
                w.pending = Some(Pending::Effects {
                    what: "setData",
                    effects: vec![Effect::Set { path, data, before }],
                });
                false
            }
        }
    } else if roll < 60 {
        // setData with a wrong version: must fail and change nothing.
        let Some((path, before)) = w.pick(None) else {
            return true;
        };
        let data = w.data(&path, before.version + 1);
        match within(c.set_data(&path, &data, Some(before.version + 1000))).await {
            Ok(stat) => {
                w.violation(format!(
                    "setData {path} with a wrong version succeeded: {stat:?}, model {before:?}"
                ));
                false
            }
            Err(zk::Error::BadVersion) => {
                w.failed_as_expected += 1;
                true
            }
            Err(e) if is_semantic(&e) => {
                w.violation(format!(
                    "setData {path} with a wrong version: {e}, expected BadVersion"
                ));
                false
            }
            // Whatever happened, a failing op has no effect: nothing pending.
            Err(_) => false,
        }
    } else if roll < 70 {
        // Delete with the right version.
        let Some((path, before)) = w.pick(None) else {
            return true;
        };
        match within(c.delete(&path, Some(before.version))).await {
            Ok(()) => {
                w.acked += 1;
                w.nodes.remove(&path);
                true
            }
            Err(e) if is_semantic(&e) => {
                w.violation(format!(
                    "delete {path} at version {}: unexpected {e}",
                    before.version
                ));
                false
            }
            Err(_) => {
                w.pending = Some(Pending::Effects {
                    what: "delete",
                    effects: vec![Effect::Delete { path, before }],
                });
                false
            }
        }
    } else if roll < 85 {
        // Sequential create in the directory all workers share.
        let data = format!("seq-w{}-{}", w.id, w.next_seq).into_bytes();
        w.next_seq += 1;
        let prefix = format!("{SEQ_DIR}/s-");
        match within(c.create(
            &prefix,
            &data,
            &common::mode(zk::CreateMode::PersistentSequential),
        ))
        .await
        {
            Ok((stat, seq)) => {
                w.ack(stat.czxid);
                w.seq_acked.push(SeqNode {
                    name: format!("s-{seq}"),
                    data,
                    czxid: stat.czxid,
                });
                true
            }
            Err(e) if is_semantic(&e) => {
                w.violation(format!("sequential create: unexpected {e}"));
                false
            }
            Err(_) => {
                w.pending = Some(Pending::Sequential { data });
                false
            }
        }
    } else if roll < 95 {
        // Multi: create a new node, set one and maybe delete another, atomically.
        let a = w.new_path();
        let a_data = w.data(&a, 0);
        let b = w.pick(None);
        let b_data = b.as_ref().map(|(p, s)| {
            let (p, v) = (p.clone(), s.version + 1);
            w.data(&p, v)
        });
        let cdel = if w.rng.below(2) == 0 {
            w.pick(b.as_ref().map(|(p, _)| p.as_str()))
        } else {
            None
        };
        let mut m = c.new_multi_writer();
        m.add_create(&a, &a_data, &open()).unwrap();
        if let (Some((p, s)), Some(d)) = (&b, &b_data) {
            m.add_set_data(p, d, Some(s.version)).unwrap();
        }
        if let Some((p, s)) = &cdel {
            m.add_delete(p, Some(s.version)).unwrap();
        }
        match within(m.commit()).await {
            Ok(results) => {
                let mut zxids = BTreeSet::new();
                let mut it = results.into_iter();
                match it.next() {
                    Some(zk::MultiWriteResult::Create { path, stat }) if path == a => {
                        zxids.insert(stat.mzxid);
                        w.nodes.insert(a.clone(), NodeState::new(&a_data, &stat));
                    }
                    other => {
                        w.violation(format!("multi create {a}: result {other:?}"));
                        return false;
                    }
                }
                if let (Some((p, s)), Some(d)) = (&b, &b_data) {
                    match it.next() {
                        Some(zk::MultiWriteResult::SetData { stat })
                            if stat.version == s.version + 1 =>
                        {
                            zxids.insert(stat.mzxid);
                            w.nodes.insert(p.clone(), NodeState::new(d, &stat));
                        }
                        other => {
                            w.violation(format!("multi setData {p}: result {other:?}"));
                            return false;
                        }
                    }
                }
                if let Some((p, _)) = &cdel {
                    match it.next() {
                        Some(zk::MultiWriteResult::Delete) => {
                            w.nodes.remove(p);
                        }
                        other => {
                            w.violation(format!("multi delete {p}: result {other:?}"));
                            return false;
                        }
                    }
                }
                if zxids.len() != 1 {
                    w.violation(format!("one multi, several zxids: {zxids:?}"));
                    return false;
                }
                w.ack(*zxids.iter().next().unwrap());
                true
            }
            Err(zk::MultiWriteError::RequestFailed { source }) if !is_semantic(&source) => {
                let mut effects = vec![Effect::Create {
                    path: a,
                    data: a_data,
                }];
                if let (Some((p, s)), Some(d)) = (b, b_data) {
                    effects.push(Effect::Set {
                        path: p,
                        data: d,
                        before: s,
                    });
                }
                if let Some((p, s)) = cdel {
                    effects.push(Effect::Delete { path: p, before: s });
                }
                w.pending = Some(Pending::Effects {
                    what: "multi",
                    effects,
                });
                false
            }
            Err(e) => {
                w.violation(format!("multi creating {a}: unexpected {e}"));
                false
            }
        }
    } else {
        // A multi that must fail (wrong version check) and so must not create its node.
        let Some((p, s)) = w.pick(None) else {
            return true;
        };
        let d = w.new_path();
        let mut m = c.new_multi_writer();
        m.add_check_version(&p, s.version + 1000).unwrap();
        m.add_create(&d, b"must not exist", &open()).unwrap();
        match within(m.commit()).await {
            Ok(r) => {
                w.violation(format!("multi with a failing check succeeded: {r:?}"));
                false
            }
            Err(zk::MultiWriteError::OperationFailed {
                index: 0,
                source: zk::Error::BadVersion,
            }) => {
                w.failed_as_expected += 1;
                true
            }
            Err(zk::MultiWriteError::RequestFailed { source }) if !is_semantic(&source) => false,
            Err(e) => {
                w.violation(format!(
                    "failing multi on {p}: {e}, expected BadVersion at 0"
                ));
                false
            }
        }
    }
}

async fn run_worker(mut w: Worker, c: zk::Client, stop: Arc<AtomicBool>) -> Worker {
    // Bounded: each op either returns or ends the worker, and the server is killed within a
    // few hundred ms; the cap only guards against a server that never dies.
    for _ in 0..100_000 {
        if stop.load(Ordering::Relaxed) || !one_op(&mut w, &c).await {
            break;
        }
    }
    drop(c);
    w
}

/// The node at `path` (data and Stat), or None.
async fn read(c: &zk::Client, path: &str) -> Option<(NodeState, zk::Stat)> {
    match within(c.get_data(path)).await {
        Ok((data, stat)) => Some((NodeState::new(&data, &stat), stat)),
        Err(zk::Error::NoNode) => None,
        Err(e) => panic!("getData {path} during verification: {e}"),
    }
}

async fn children(c: &zk::Client, dir: &str) -> BTreeSet<String> {
    within(c.list_children(dir))
        .await
        .unwrap_or_else(|e| panic!("getChildren {dir}: {e}"))
        .into_iter()
        .collect()
}

/// The whole-run model beside the workers.
struct Model {
    workers: Vec<Worker>,
    /// Sequential nodes known to exist, by name.
    seq: BTreeMap<String, SeqNode>,
    max_acked_zxid: i64,
    in_flight_survived: u64,
    in_flight_lost: u64,
}

/// Checks the recovered tree against the model and resolves in-flight writes. Returns the
/// violations found and the highest zxid seen in the tree.
async fn verify(c: &zk::Client, m: &mut Model) -> (Vec<String>, i64) {
    let mut bad = Vec::new();
    let mut max_seen = 0i64;
    for dir in [ROOT, SEQ_DIR, EPH_DIR] {
        if let Some(st) = within(c.check_stat(dir)).await.unwrap() {
            max_seen = max_seen.max(st.pzxid).max(st.mzxid);
        }
    }
    for w in &mut m.workers {
        let kids: BTreeSet<String> = children(c, &w.dir)
            .await
            .into_iter()
            .map(|k| format!("{}/{k}", w.dir))
            .collect();
        if let Some(st) = within(c.check_stat(&w.dir)).await.unwrap() {
            max_seen = max_seen.max(st.pzxid);
        }
        let pending_paths: BTreeSet<String> = match &w.pending {
            Some(Pending::Effects { effects, .. }) => {
                effects.iter().map(|e| e.path().to_owned()).collect()
            }
            _ => BTreeSet::new(),
        };
        for (path, want) in &w.nodes {
            if pending_paths.contains(path) {
                continue;
            }
            if !kids.contains(path) {
                bad.push(format!(
                    "acknowledged node {path} is missing (model: {want:?})"
                ));
                continue;
            }
            match read(c, path).await {
                None => bad.push(format!(
                    "acknowledged node {path} is missing (model: {want:?})"
                )),
                Some((got, _)) => {
                    max_seen = max_seen.max(got.mzxid);
                    if &got != want {
                        bad.push(format!(
                            "{path}: acknowledged state {want:?}, recovered {got:?}"
                        ));
                    }
                }
            }
        }
        for path in &kids {
            if !w.nodes.contains_key(path) && !pending_paths.contains(path) {
                let got = read(c, path).await;
                bad.push(format!(
                    "{path} exists but was never acknowledged, or its delete was: {got:?}"
                ));
            }
        }
        if let Some(Pending::Effects { what, effects }) =
            w.pending.take_if(|p| matches!(p, Pending::Effects { .. }))
        {
            let mut observed = Vec::new();
            for e in &effects {
                observed.push(read(c, e.path()).await.map(|(s, _)| s));
            }
            // For each effect: Some(true) applied, Some(false) not applied, None neither.
            let verdicts: Vec<Option<bool>> = effects
                .iter()
                .zip(&observed)
                .map(|(e, o)| match (e, o) {
                    (Effect::Create { .. }, None) => Some(false),
                    (Effect::Create { data, .. }, Some(s)) => {
                        (&s.data == data && s.version == 0 && s.czxid == s.mzxid).then_some(true)
                    }
                    (Effect::Set { before, .. }, Some(s)) if s == before => Some(false),
                    (Effect::Set { data, before, .. }, Some(s)) => (&s.data == data
                        && s.version == before.version + 1
                        && s.czxid == before.czxid
                        && s.mzxid > before.mzxid)
                        .then_some(true),
                    (Effect::Set { .. }, None) => None,
                    (Effect::Delete { before, .. }, Some(s)) => (s == before).then_some(false),
                    (Effect::Delete { .. }, None) => Some(true),
                })
                .collect();
            let first = verdicts[0];
            let mzxids: BTreeSet<i64> = observed.iter().flatten().map(|s| s.mzxid).collect();
            let created_or_set = effects.iter().any(|e| !matches!(e, Effect::Delete { .. }));
            if first.is_none() || verdicts.iter().any(|v| *v != first) {
                bad.push(format!(
                    "in-flight {what} neither wholly applied nor wholly absent: \
                     effects {effects:?}, recovered {observed:?}"
                ));
            } else if first == Some(true) && created_or_set && mzxids.len() != 1 {
                bad.push(format!(
                    "in-flight {what} applied with several zxids: {effects:?} -> {observed:?}"
                ));
            } else if first == Some(true) {
                m.in_flight_survived += 1;
                for (e, o) in effects.iter().zip(observed) {
                    match o {
                        Some(s) => {
                            max_seen = max_seen.max(s.mzxid);
                            w.nodes.insert(e.path().to_owned(), s);
                        }
                        None => {
                            w.nodes.remove(e.path());
                        }
                    }
                }
            } else {
                m.in_flight_lost += 1;
            }
        }
    }
    // Sequential nodes: newly acknowledged names must be new.
    let mut acked_now: Vec<SeqNode> = Vec::new();
    for w in &mut m.workers {
        acked_now.append(&mut w.seq_acked);
    }
    for s in acked_now {
        if let Some(old) = m.seq.get(&s.name) {
            bad.push(format!(
                "sequential name {} handed out twice: {:?} (czxid {:#x}) and {:?} (czxid {:#x})",
                s.name,
                String::from_utf8_lossy(&old.data),
                old.czxid,
                String::from_utf8_lossy(&s.data),
                s.czxid
            ));
        } else {
            m.seq.insert(s.name.clone(), s);
        }
    }
    let kids = children(c, SEQ_DIR).await;
    for (name, want) in &m.seq {
        let path = format!("{SEQ_DIR}/{name}");
        match read(c, &path).await {
            None => bad.push(format!("acknowledged sequential node {path} is missing")),
            Some((got, _)) => {
                max_seen = max_seen.max(got.mzxid);
                if got.data != want.data || got.czxid != want.czxid || got.version != 0 {
                    bad.push(format!("{path}: acknowledged {want:?}, recovered {got:?}"));
                }
            }
        }
    }
    let unknown: Vec<String> = kids
        .into_iter()
        .filter(|k| !m.seq.contains_key(k))
        .collect();
    for name in &unknown {
        let path = format!("{SEQ_DIR}/{name}");
        let Some((got, _)) = read(c, &path).await else {
            continue;
        };
        let owner = m.workers.iter_mut().find(
            |w| matches!(&w.pending, Some(Pending::Sequential { data }) if *data == got.data),
        );
        match owner {
            Some(w) => {
                w.pending = None;
                m.in_flight_survived += 1;
                max_seen = max_seen.max(got.czxid);
                m.seq.insert(
                    name.clone(),
                    SeqNode {
                        name: name.clone(),
                        data: got.data,
                        czxid: got.czxid,
                    },
                );
            }
            None => bad.push(format!(
                "{path} exists but no sequential create made it: {:?}",
                String::from_utf8_lossy(&got.data)
            )),
        }
    }
    for w in &mut m.workers {
        if let Some(Pending::Sequential { .. }) = w.pending.take() {
            m.in_flight_lost += 1;
        }
    }
    // Sequence numbers follow zxid order.
    let mut by_zxid: Vec<&SeqNode> = m.seq.values().collect();
    by_zxid.sort_by_key(|s| s.czxid);
    for pair in by_zxid.windows(2) {
        let n = |s: &SeqNode| s.name.trim_start_matches("s-").parse::<i64>().unwrap_or(-1);
        if n(pair[0]) >= n(pair[1]) {
            bad.push(format!(
                "sequence numbers out of zxid order: {} (czxid {:#x}) then {} (czxid {:#x})",
                pair[0].name, pair[0].czxid, pair[1].name, pair[1].czxid
            ));
        }
    }
    (bad, max_seen)
}

fn fail(seed: u64, srv: &ZkrProc, what: &str, problems: &[String]) -> ! {
    let logs = srv.all_logs();
    let tail: Vec<&str> = logs.lines().rev().take(60).collect();
    panic!(
        "crash test seed {seed}: {what}:\n  {}\nlast server log lines:\n{}",
        problems.join("\n  "),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let seed = seed_from_env("ZKR_CRASH_SEED", "crash");
    let mut rng = Rng::new(seed);
    let cycles = rng.range(8, 12);
    let mut srv = ZkrProc::new("crash", CONFIG);
    srv.start_ok();

    let setup = connect(&srv.addr).await;
    for dir in [ROOT, SEQ_DIR, EPH_DIR] {
        common::mk(&setup, dir, b"").await;
    }
    let mut m = Model {
        workers: Vec::new(),
        seq: BTreeMap::new(),
        max_acked_zxid: 0,
        in_flight_survived: 0,
        in_flight_lost: 0,
    };
    for id in 0..WORKERS {
        let w = Worker::new(id, rng.fork());
        let st = common::mk(&setup, &w.dir, b"").await;
        m.max_acked_zxid = m.max_acked_zxid.max(st.czxid);
        m.workers.push(w);
    }
    drop(setup);

    let mut last_probe = 0i64;
    let mut ephemerals: Vec<(String, i64)> = Vec::new();
    for cycle in 0..cycles {
        // A session that owns an ephemeral, opened before the crash. Raw, so that nothing
        // reconnects or closes it after the kill: its client is simply gone.
        let (mut eph_conn, eph) = srv_raw_session(&srv);
        let eph_path = format!("{EPH_DIR}/e{cycle}");
        let r = eph_conn
            .call(
                raw::op::CREATE,
                &raw::create_body(&eph_path, b"eph", raw::OPEN_ACL, raw::flags::EPHEMERAL),
            )
            .unwrap();
        assert_eq!(r.err(), 0, "create {eph_path}");
        ephemerals.push((eph_path.clone(), eph.session_id));

        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for w in m.workers.drain(..) {
            let c = connect(&srv.addr).await;
            handles.push(tokio::spawn(run_worker(w, c, stop.clone())));
        }
        let load_ms = rng.range(50, 400);
        tokio::time::sleep(Duration::from_millis(load_ms)).await;
        // Touch the ephemeral's session so its timeout counts from about now.
        let _ = eph_conn.ping();
        srv.kill9();
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            m.workers.push(within(h).await.expect("worker task"));
        }
        drop(eph_conn);
        let mut problems: Vec<String> = Vec::new();
        for w in &mut m.workers {
            problems.append(&mut w.violations);
            m.max_acked_zxid = m.max_acked_zxid.max(w.max_acked_zxid);
        }
        if !problems.is_empty() {
            fail(
                seed,
                &srv,
                &format!("cycle {cycle}: wrong replies under load"),
                &problems,
            );
        }

        srv.start_ok();
        let c = connect(&srv.addr).await;
        // Sessions survive a restart: the ephemeral is there right away.
        match within(c.check_stat(&eph_path)).await.unwrap() {
            Some(st) if st.ephemeral_owner == eph.session_id => {}
            other => problems.push(format!(
                "ephemeral {eph_path} of live session {:#x} after restart: {other:?}",
                eph.session_id
            )),
        }
        let (mut bad, max_seen) = verify(&c, &mut m).await;
        problems.append(&mut bad);
        // zxids keep increasing across the restart.
        let probe = format!("{ROOT}/probe{cycle}");
        let (st, _) = within(c.create(&probe, b"probe", &open())).await.unwrap();
        if st.czxid <= m.max_acked_zxid || st.czxid <= max_seen || st.czxid <= last_probe {
            problems.push(format!(
                "first write after restart got zxid {:#x}; acknowledged before: up to {:#x}, \
                 in the recovered tree: up to {max_seen:#x}, previous probe {last_probe:#x}",
                st.czxid, m.max_acked_zxid
            ));
        }
        last_probe = st.czxid;
        m.max_acked_zxid = m.max_acked_zxid.max(st.czxid);
        if !problems.is_empty() {
            fail(
                seed,
                &srv,
                &format!("cycle {cycle}: after restart"),
                &problems,
            );
        }
        drop(c);
        let acked: u64 = m.workers.iter().map(|w| w.acked).sum();
        let nodes: usize = m.workers.iter().map(|w| w.nodes.len()).sum();
        let segs = segments(&srv.log_dir());
        eprintln!(
            "cycle {cycle}: load {load_ms} ms; acked so far {acked}, nodes {nodes}, seq {}, \
             in flight survived {} lost {}; zxid {:#x}; {} snapshots, {} segments (first {:#x})",
            m.seq.len(),
            m.in_flight_survived,
            m.in_flight_lost,
            last_probe,
            snapshots(&srv.snap_dir()).len(),
            segs.len(),
            segs.first().map_or(0, |s| s.0),
        );
    }

    // The ephemerals' sessions have no client any more: they expire (bounded by the session
    // timeout plus a margin for ticks and a loaded machine), and their nodes with them.
    let c = connect(&srv.addr).await;
    let bound = Duration::from_millis(EPH_TIMEOUT_MS as u64 * 2 + 5000);
    eventually(bound, "ephemerals of crashed sessions expire", || {
        let c = c.clone();
        async move { children(&c, EPH_DIR).await.is_empty().then_some(()) }
    })
    .await;
    drop(c);
    // ... durably: after one more crash they stay gone, and everything else still holds.
    srv.kill9();
    srv.start_ok();
    let c = connect(&srv.addr).await;
    let left = children(&c, EPH_DIR).await;
    let (mut problems, _) = verify(&c, &mut m).await;
    if !left.is_empty() {
        problems.push(format!("expired ephemerals back after a restart: {left:?}"));
    }
    if !problems.is_empty() {
        fail(seed, &srv, "final check", &problems);
    }
    let failed: u64 = m.workers.iter().map(|w| w.failed_as_expected).sum();
    let snaps = snapshots(&srv.snap_dir());
    let segs = segments(&srv.log_dir());
    eprintln!(
        "crash: {cycles} kills; {} acked writes, {failed} refused as expected, {} in flight \
         survived, {} lost; {} snapshots, {} segments; ephemerals of {} sessions expired",
        m.workers.iter().map(|w| w.acked).sum::<u64>(),
        m.in_flight_survived,
        m.in_flight_lost,
        snaps.len(),
        segs.len(),
        ephemerals.len()
    );
    let temps: Vec<String> = std::fs::read_dir(srv.snap_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    if !temps.is_empty() {
        eprintln!("crash: snapshot temp files left by kills mid-snapshot: {temps:?}");
    }
    assert!(
        !snaps.is_empty(),
        "snapCount=50: snapshots should have been taken"
    );
    assert!(
        snaps.len() <= 4,
        "autopurge.snapRetainCount=3 keeps 3 snapshots (and one being written): {snaps:?}"
    );
    assert!(
        segs.first().is_some_and(|s| s.0 > 1),
        "snapshots should have let the oldest log segments be purged: {segs:?}"
    );
}

fn srv_raw_session(srv: &ZkrProc) -> (raw::RawConn, raw::ConnectResponse) {
    raw::RawConn::session(&srv.addr, EPH_TIMEOUT_MS)
}

/// A client that was connected before a crash resumes its session on the restarted server,
/// within the session timeout, with the id and password it was given (as with ZooKeeper,
/// whose session passwords do not change across restarts), presenting the last zxid it saw
/// as every client does. Its ephemeral stays, and is removed when the session is closed.
#[test]
fn session_resumes_after_restart() {
    let mut srv = ZkrProc::new("resume", CONFIG);
    srv.start_ok();
    let (mut conn, rsp) = raw::RawConn::session(&srv.addr, EPH_TIMEOUT_MS);
    let path = "/resume-eph";
    let r = conn
        .call(
            raw::op::CREATE,
            &raw::create_body(path, b"x", raw::OPEN_ACL, raw::flags::EPHEMERAL),
        )
        .unwrap();
    assert_eq!(r.err(), 0);
    let seen = r.header.zxid;
    assert!(seen > 0, "the create's reply carries its zxid");
    srv.kill9();
    drop(conn);
    // No session is opened before the resume: it must not take a write for the server to
    // know the zxids it recovered.
    srv.start_unprobed();
    let mut again = raw::RawConn::connect(&srv.addr).unwrap();
    let mut resume = raw::ConnectRequest::resume(EPH_TIMEOUT_MS, rsp.session_id, &rsp.passwd);
    resume.last_zxid_seen = seen;
    let resumed = again.handshake(&resume).unwrap();
    assert_eq!(
        (resumed.session_id, resumed.timeout_ms > 0),
        (rsp.session_id, true),
        "session {:#x} (timeout {} ms) could not be resumed right after a restart: {resumed:?}",
        rsp.session_id,
        rsp.timeout_ms
    );
    let r = again
        .call(raw::op::EXISTS, &raw::path_watch_body(path, false))
        .unwrap();
    assert_eq!(r.err(), 0, "{path} of the resumed session");
    let r = again.call(raw::op::CLOSE_SESSION, &[]).unwrap();
    assert_eq!(r.err(), 0);
    let (mut check, _) = raw::RawConn::session(&srv.addr, EPH_TIMEOUT_MS);
    let r = check
        .call(raw::op::EXISTS, &raw::path_watch_body(path, false))
        .unwrap();
    assert_eq!(
        r.err(),
        raw::err::NO_NODE,
        "{path} after its session closed"
    );
}
