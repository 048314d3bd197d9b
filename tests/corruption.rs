//! Process-level corruption tests: txns are written through a real zkr server, the server is
//! killed (SIGKILL), its files are damaged, and the server is started again on them. What must
//! hold:
//!
//! - a cut log tail (the last segment truncated anywhere in its records) is a crash artefact:
//!   the server starts, says in its log which file it cut and at which offset, and serves
//!   exactly the txns before the cut (a consistent prefix in zxid order, nothing after);
//! - damage with valid records after it, or in a sealed segment, or a missing segment, is
//!   corruption: the server refuses to start (exit status 1, not a panic) and names the file and
//!   the offset; it never serves a silently wrong tree;
//! - a damaged newest snapshot is passed over for an older one plus the log;
//! - garbage or empty files named like segments or snapshots give a clear error or are
//!   ignored; nothing panics;
//! - the tools (`zkr log verify`, `zkr log dump --json`, `zkr snapshot dump`) say what is wrong,
//!   with file and offset, and exit non-zero on damage.
//!
//! Random choices (offsets, bits, workloads) come from a seeded PRNG; the seed is printed.
//! Replay: `ZKR_CORRUPTION_SEED=<seed> cargo test --test corruption -- --nocapture`.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use common::json;
use common::proc::{
    RecordSpan, Rng, ZkrProc, assert_no_panic, flip_bit, record_spans, seed_from_env, segments,
    snapshots, truncate, zkr_tool,
};
use common::node_state::NodeState;
use common::{open, within};
use zookeeper_client as zk;

/// Parent of every node the workload writes.
const DIR: &str = "/c";

/// Every acknowledged write under `DIR`, in zxid order: (zxid, path, state after; None =
/// deleted). One client writing one op at a time, so the order is the zxid order.
#[derive(Default, Debug)]
struct History {
    ops: Vec<(i64, String, Option<NodeState>)>,
}

impl History {
    /// The children of `DIR` after every txn up to `zxid`.
    fn state_at(&self, zxid: i64) -> BTreeMap<String, NodeState> {
        let mut state = BTreeMap::new();
        for (z, path, after) in &self.ops {
            if *z > zxid {
                break;
            }
            match after {
                Some(s) => state.insert(path.clone(), s.clone()),
                None => state.remove(path),
            };
        }
        state
    }

    fn last_zxid(&self) -> i64 {
        self.ops.last().map_or(0, |o| o.0)
    }

    fn full(&self) -> BTreeMap<String, NodeState> {
        self.state_at(i64::MAX)
    }
}

async fn connect(addr: &str) -> zk::Client {
    within(
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(4))
            .with_fail_eagerly()
            .connect(addr),
    )
    .await
    .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// Writes `n` acknowledged ops under `DIR` (creates, setData, deletes; data of varied sizes)
/// and returns the client (still connected, so that the caller can SIGKILL the server without
/// a closeSession txn after them) and the history.
async fn populate(addr: &str, rng: &mut Rng, n: usize) -> (zk::Client, History) {
    let c = connect(addr).await;
    let mut h = History::default();
    if within(c.check_stat(DIR)).await.unwrap().is_none() {
        common::mk(&c, DIR, b"").await;
    }
    let mut live: Vec<String> = h.full().into_keys().collect();
    let base = within(c.list_children(DIR)).await.unwrap().len();
    for i in 0..n {
        let roll = rng.below(100);
        if roll < 65 || live.len() < 3 {
            let path = format!("{DIR}/n{}-{i}", base);
            let data = data(rng, &path, 0);
            let (st, _) = within(c.create(&path, &data, &open())).await.unwrap();
            h.ops
                .push((st.czxid, path.clone(), Some(NodeState::new(&data, &st))));
            live.push(path);
        } else if roll < 90 {
            let path = live[rng.below(live.len() as u64) as usize].clone();
            let (_, old) = within(c.get_data(&path)).await.unwrap();
            let data = data(rng, &path, old.version + 1);
            let st = within(c.set_data(&path, &data, Some(old.version)))
                .await
                .unwrap();
            h.ops
                .push((st.mzxid, path, Some(NodeState::new(&data, &st))));
        } else {
            let i = rng.below(live.len() as u64) as usize;
            let path = live.swap_remove(i);
            within(c.delete(&path, None)).await.unwrap();
            // The parent's pzxid is the delete's zxid (this client is the only writer).
            let parent = within(c.check_stat(DIR)).await.unwrap().unwrap();
            h.ops.push((parent.pzxid, path, None));
        }
    }
    (c, h)
}

fn data(rng: &mut Rng, path: &str, version: i32) -> Vec<u8> {
    let mut d = format!("{path}@{version}#{:x}", rng.next_u64()).into_bytes();
    let pad = if rng.below(8) == 0 {
        rng.range(200, 1500)
    } else {
        rng.below(30)
    };
    d.extend(std::iter::repeat_n(
        b'0' + rng.below(10) as u8,
        pad as usize,
    ));
    d
}

/// Differences between the children of `DIR` and `want`.
async fn diff_tree(c: &zk::Client, want: &BTreeMap<String, NodeState>) -> Vec<String> {
    let mut bad = Vec::new();
    let kids = match within(c.list_children(DIR)).await {
        Ok(k) => k,
        Err(zk::Error::NoNode) => Vec::new(),
        Err(e) => panic!("getChildren {DIR}: {e}"),
    };
    for k in &kids {
        let path = format!("{DIR}/{k}");
        if !want.contains_key(&path) {
            bad.push(format!("{path} exists but should not"));
        }
    }
    for (path, w) in want {
        match within(c.get_data(path)).await {
            Ok((d, st)) => {
                let got = NodeState::new(&d, &st);
                if &got != w {
                    bad.push(format!("{path}: expected {w:?}, got {got:?}"));
                }
            }
            Err(zk::Error::NoNode) => bad.push(format!("{path} is missing")),
            Err(e) => panic!("getData {path}: {e}"),
        }
    }
    bad
}

/// Connects to the running server and checks that `DIR` holds exactly `want`, and that a new
/// write gets a zxid after `after_zxid`.
async fn check_served(
    srv: &ZkrProc,
    want: &BTreeMap<String, NodeState>,
    after_zxid: i64,
    what: &str,
) {
    let c = connect(&srv.addr).await;
    let bad = diff_tree(&c, want).await;
    assert!(
        bad.is_empty(),
        "{what}: the server serves a wrong tree:\n  {}\nserver log:\n{}",
        bad.join("\n  "),
        srv.log()
    );
    let probe = format!("/probe-{}", common::unique("p").trim_start_matches('/'));
    let (st, _) = within(c.create(&probe, b"", &open())).await.unwrap();
    assert!(
        st.czxid > after_zxid,
        "{what}: a new write got zxid {:#x}, not after the recovered {after_zxid:#x}",
        st.czxid
    );
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// The exit of a server that refused to start: status 1 (an error, not a panic's 101 or a
/// signal), a `zkr:` error line naming `file`, and every string of `mentions`.
fn assert_refused(what: &str, status: ExitStatus, log: &str, file: &str, mentions: &[String]) {
    assert_no_panic(what, log);
    assert_eq!(
        status.code(),
        Some(1),
        "{what}: exit status {status}; log:\n{log}"
    );
    let err_line = log
        .lines()
        .find(|l| l.starts_with("zkr: "))
        .unwrap_or_else(|| panic!("{what}: no `zkr: ` error line; log:\n{log}"));
    assert!(
        err_line.contains(file),
        "{what}: error does not name {file}: {err_line}"
    );
    for m in mentions {
        assert!(
            err_line.contains(m.as_str()),
            "{what}: error does not mention {m:?}: {err_line}"
        );
    }
}

/// `zkr log verify` on the damaged log: exits non-zero and names `file` (and `mentions`) in a
/// problem. Err says what is wrong with the report (the caller collects these, so that one
/// weak report does not hide the server's behaviour).
fn verify_reports(
    srv: &ZkrProc,
    what: &str,
    file: &str,
    mentions: &[String],
) -> Result<(), String> {
    let dir = srv.data_log_root();
    let out = zkr_tool(&["log", "verify", dir.to_str().unwrap()]);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert_no_panic(&format!("{what}: zkr log verify"), &text);
    if out.ok() {
        return Err(format!(
            "{what}: zkr log verify passed a damaged log:\n{text}"
        ));
    }
    let Some(problem) = text
        .lines()
        .filter(|l| l.starts_with("problem:") || l.starts_with("zkr:"))
        .find(|l| l.contains(file))
    else {
        return Err(format!(
            "{what}: zkr log verify names no problem in {file}:\n{text}"
        ));
    };
    for m in mentions {
        if !problem.contains(m.as_str()) {
            return Err(format!(
                "{what}: zkr log verify does not mention {m:?}: {problem}"
            ));
        }
    }
    Ok(())
}

/// `zkr log verify` finds nothing wrong, apart from leftover temp files (the server keeps a
/// preallocated spare segment `zkrlog.tmp.*` at all times, so one is there after any kill).
fn verify_clean(srv: &ZkrProc, what: &str) -> Result<(), String> {
    let dir = srv.data_log_root();
    let out = zkr_tool(&["log", "verify", dir.to_str().unwrap()]);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert_no_panic(&format!("{what}: zkr log verify"), &text);
    let real: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("problem:") && !l.contains("leftover temp file"))
        .collect();
    if !real.is_empty() {
        return Err(format!(
            "{what}: zkr log verify finds problems in a repaired log:\n{text}"
        ));
    }
    Ok(())
}

/// Fails with every collected problem.
fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// `zkr log dump --json`: every stdout line is one JSON object; returns them.
fn dump_json(srv: &ZkrProc, what: &str) -> (Vec<json::Json>, ExitStatus, String) {
    let dir = srv.data_log_root();
    let out = zkr_tool(&["log", "dump", dir.to_str().unwrap(), "--json"]);
    assert_no_panic(&format!("{what}: zkr log dump"), &out.stderr);
    let mut objects = Vec::new();
    for (i, line) in out.stdout.lines().enumerate() {
        let v = json::parse(line).unwrap_or_else(|e| {
            panic!(
                "{what}: zkr log dump --json line {} is not JSON ({e}): {line}",
                i + 1
            )
        });
        assert!(
            v.is_object(),
            "{what}: dump line {} is not an object: {line}",
            i + 1
        );
        objects.push(v);
    }
    (objects, out.status, out.stderr)
}

/// The txn lines of a JSON dump (those with a zxid), as zxids.
fn dumped_zxids(objects: &[json::Json]) -> Vec<i64> {
    objects
        .iter()
        .filter_map(|o| o.get("zxid"))
        .map(|z| z.as_i64().expect("zxid"))
        .collect()
}

/// The only log segment (the test configures it large enough) and its records.
fn only_segment(srv: &ZkrProc) -> (PathBuf, Vec<RecordSpan>) {
    let segs = segments(&srv.log_dir());
    assert_eq!(segs.len(), 1, "expected one log segment: {segs:?}");
    let path = segs[0].1.clone();
    let spans = record_spans(&fs::read(&path).unwrap());
    (path, spans)
}

/// (a) The last segment cut at random offsets inside its records: the server starts, reports
/// the cut (file and offset) and serves exactly the txns before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_log_tail_serves_a_prefix() {
    let seed = seed_from_env("ZKR_CORRUPTION_SEED", "corruption");
    let mut rng = Rng::new(seed ^ 0xa);
    let mut srv = ZkrProc::new(
        "trunc",
        &[("forceSync", "yes"), ("zkr.logSegmentBytes", "1m")],
    );
    srv.start_ok();
    let (c, h) = populate(&srv.addr, &mut rng, 150).await;
    srv.kill9();
    drop(c);
    let pristine = srv.root.join("pristine");
    srv.save_dirs(&pristine);
    let (seg, spans) = only_segment(&srv);
    let seg_name = file_name(&seg);
    assert!(spans.len() > 100, "{} records", spans.len());
    let end = spans.last().unwrap().end;
    let n = spans.len() as u64;
    let pick = |rng: &mut Rng| spans[rng.range(1, n - 1) as usize];
    let mut cuts = Vec::new();
    cuts.push(pick(&mut rng).start); // at a record boundary
    let r = pick(&mut rng);
    cuts.push(r.start + 1 + rng.below(31) as usize); // inside a record header
    let r = pick(&mut rng);
    cuts.push(r.start + 33 + rng.below((r.end - r.start - 33) as u64) as usize); // in a payload
    cuts.push(end - 1); // the last byte of the last record
    cuts.push(4097 + rng.below((end - 4097) as u64) as usize); // anywhere
    let mut problems = Vec::new();
    for cut in cuts {
        let what = format!("log cut at offset {cut} (seed {seed})");
        srv.restore_dirs(&pristine);
        truncate(&seg, cut as u64);
        // Where recovery must cut: the start of the record the cut falls in.
        let at = spans
            .iter()
            .find(|s| s.start < cut && cut < s.end)
            .map_or(cut, |s| s.start);
        let survivors: Vec<&RecordSpan> = spans.iter().filter(|s| s.end <= at).collect();
        let last = survivors.last().map_or(0, |s| s.zxid);

        // The tools, before the server repairs anything.
        problems.extend(verify_reports(&srv, &what, &seg_name, &[format!("offset {at}")]).err());
        let (objects, status, stderr) = dump_json(&srv, &what);
        assert!(
            status.success(),
            "{what}: dump of a torn log failed: {stderr}"
        );
        assert_eq!(
            dumped_zxids(&objects),
            survivors.iter().map(|s| s.zxid).collect::<Vec<_>>(),
            "{what}: dump lists other txns than those before the cut"
        );
        let torn = objects
            .last()
            .and_then(|o| o.get("torn_tail"))
            .unwrap_or_else(|| panic!("{what}: dump does not end with a torn_tail object"));
        assert_eq!(
            torn.get("offset").and_then(|o| o.as_i64()),
            Some(at as i64),
            "{what}"
        );
        assert!(
            torn.get("path")
                .and_then(|p| p.as_str())
                .unwrap()
                .ends_with(&seg_name)
        );

        srv.start_ok();
        let log = srv.log();
        assert_no_panic(&what, &log);
        let cut_line = log
            .lines()
            .find(|l| l.contains("cut"))
            .unwrap_or_else(|| panic!("{what}: the server does not report the cut; log:\n{log}"));
        assert!(
            cut_line.contains(&seg_name) && cut_line.contains(&format!("offset={at}")),
            "{what}: the cut report should name {seg_name} and offset={at}: {cut_line}"
        );
        eprintln!("{what}: {}", cut_line.trim());
        let want: BTreeMap<_, _> = h.state_at(last);
        check_served(&srv, &want, last, &what).await;
        srv.kill9();
        // Repaired for good: the log verifies clean.
        problems.extend(verify_clean(&srv, &what).err());
    }
    assert_no_problems(&problems);
}

/// (b) A bit flipped inside an early record, with valid records after it: not a torn tail.
/// The server refuses (naming file and offset); the tools report it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bit_in_an_early_record_is_refused() {
    let seed = seed_from_env("ZKR_CORRUPTION_SEED", "corruption");
    let mut rng = Rng::new(seed ^ 0xb);
    let mut srv = ZkrProc::new(
        "flip",
        &[("forceSync", "yes"), ("zkr.logSegmentBytes", "1m")],
    );
    srv.start_ok();
    let (c, _h) = populate(&srv.addr, &mut rng, 60).await;
    srv.kill9();
    drop(c);
    let pristine = srv.root.join("pristine");
    srv.save_dirs(&pristine);
    let (seg, spans) = only_segment(&srv);
    let seg_name = file_name(&seg);
    // One flip in a header field, one in a payload, one anywhere in a record.
    let mut problems = Vec::new();
    for trial in 0..3 {
        srv.restore_dirs(&pristine);
        let idx = rng.range(1, 5) as usize;
        let r = spans[idx];
        let at = match trial {
            0 => r.start + rng.below(32) as usize,
            1 => r.start + 32 + rng.below((r.end - r.start - 32) as u64) as usize,
            _ => r.start + rng.below((r.end - r.start) as u64) as usize,
        };
        let bit = rng.below(8) as u8;
        let what = format!(
            "bit {bit} of byte {at} flipped in record {idx} at {} (seed {seed})",
            r.start
        );
        flip_bit(&seg, at, bit);
        let offset = format!("offset {}", r.start);
        problems
            .extend(verify_reports(&srv, &what, &seg_name, std::slice::from_ref(&offset)).err());
        let (objects, status, stderr) = dump_json(&srv, &what);
        assert!(!status.success(), "{what}: dump of a corrupt log exits 0");
        assert!(
            stderr.contains(&seg_name) && stderr.contains(&offset),
            "{what}: dump's error should name {seg_name} and {offset}: {stderr}"
        );
        assert_eq!(
            dumped_zxids(&objects),
            spans[..idx].iter().map(|s| s.zxid).collect::<Vec<_>>(),
            "{what}: dump should list the txns before the damage"
        );
        let (status, log) = srv.start_refused();
        assert_refused(&what, status, &log, &seg_name, &[offset]);
    }
    assert_no_problems(&problems);
}

/// (c) Several segments (small segment size, no snapshots): a missing middle or first segment,
/// and damage in a sealed segment, are refused; a missing last segment cannot be told from a
/// log that ended there, and leaves a consistent prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_damaged_segments() {
    let seed = seed_from_env("ZKR_CORRUPTION_SEED", "corruption");
    let mut rng = Rng::new(seed ^ 0xc);
    let mut srv = ZkrProc::new(
        "segs",
        &[("forceSync", "yes"), ("zkr.logSegmentBytes", "16k")],
    );
    srv.start_ok();
    let (c, h) = populate(&srv.addr, &mut rng, 350).await;
    srv.kill9();
    drop(c);
    let pristine = srv.root.join("pristine");
    srv.save_dirs(&pristine);
    let segs = segments(&srv.log_dir());
    assert!(
        segs.len() >= 4,
        "expected several 16k segments, got {segs:?}"
    );
    let name = |i: usize| file_name(&segs[i].1);
    let mut problems = Vec::new();

    // A middle segment deleted.
    let mid = 1 + rng.below(segs.len() as u64 - 2) as usize;
    let what = format!("segment {} deleted (seed {seed})", name(mid));
    fs::remove_file(&segs[mid].1).unwrap();
    let missing = format!("{:#x}", segs[mid].0);
    problems
        .extend(verify_reports(&srv, &what, &name(mid + 1), std::slice::from_ref(&missing)).err());
    let (status, log) = srv.start_refused();
    assert_refused(
        &what,
        status,
        &log,
        &name(mid + 1),
        &["offset 0".into(), missing],
    );

    // The first segment deleted (no snapshot covers it).
    srv.restore_dirs(&pristine);
    let what = format!("first segment {} deleted", name(0));
    fs::remove_file(&segs[0].1).unwrap();
    problems.extend(verify_clean_or_names(&srv, &what, &name(1)).err());
    let (status, log) = srv.start_refused();
    assert_refused(&what, status, &log, &name(1), &["offset 0".into()]);

    // A bit flipped in the last record of a sealed segment: no valid record follows in that
    // file, but the segment was synced before the next one was made, so it is damage.
    srv.restore_dirs(&pristine);
    let sealed = rng.below(segs.len() as u64 - 1) as usize;
    let spans = record_spans(&fs::read(&segs[sealed].1).unwrap());
    let r = *spans.last().unwrap();
    let at = r.start + 32 + rng.below((r.end - r.start - 32) as u64) as usize;
    let what = format!(
        "bit flipped at {at} in the last record of sealed {} (seed {seed})",
        name(sealed)
    );
    flip_bit(&segs[sealed].1, at, rng.below(8) as u8);
    let offset = format!("offset {}", r.start);
    problems
        .extend(verify_reports(&srv, &what, &name(sealed), std::slice::from_ref(&offset)).err());
    let (status, log) = srv.start_refused();
    assert_refused(&what, status, &log, &name(sealed), &[offset]);

    // A sealed segment cut short (truncated inside its records).
    srv.restore_dirs(&pristine);
    let cut = spans[spans.len() / 2].start + 7;
    let what = format!("sealed {} truncated at {cut}", name(sealed));
    truncate(&segs[sealed].1, cut as u64);
    problems.extend(verify_reports(&srv, &what, &name(sealed), &[]).err());
    let (status, log) = srv.start_refused();
    assert_refused(&what, status, &log, &name(sealed), &[]);

    // The last segment deleted: indistinguishable from a log that ends one segment earlier.
    // The server must serve exactly that prefix (a known limit: those acknowledged txns are
    // lost without an error).
    srv.restore_dirs(&pristine);
    let last = segs.len() - 1;
    fs::remove_file(&segs[last].1).unwrap();
    let prev_last = record_spans(&fs::read(&segs[last - 1].1).unwrap())
        .last()
        .unwrap()
        .zxid;
    srv.start_ok();
    assert_no_panic("last segment deleted", &srv.log());
    check_served(
        &srv,
        &h.state_at(prev_last),
        prev_last,
        "last segment deleted",
    )
    .await;
    srv.kill9();
    eprintln!(
        "note: with the last segment ({}) deleted the server started and serves the prefix up \
         to {prev_last:#x}; {} acknowledged txns after it are gone without an error",
        name(last),
        h.ops.iter().filter(|o| o.0 > prev_last).count()
    );
    assert_no_problems(&problems);
}

/// For a log whose oldest segment is gone `zkr log verify` may either report the gap (it
/// cannot know where the log should start) or pass; if it reports, it names the file.
fn verify_clean_or_names(srv: &ZkrProc, what: &str, file: &str) -> Result<(), String> {
    let dir = srv.data_log_root();
    let out = zkr_tool(&["log", "verify", dir.to_str().unwrap()]);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert_no_panic(what, &text);
    let real: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("problem:") && !l.contains("leftover temp file"))
        .collect();
    if !real.is_empty() && !real.iter().any(|l| l.contains(file)) {
        return Err(format!(
            "{what}: verify fails without naming {file}:\n{text}"
        ));
    }
    Ok(())
}

/// Writes until the newest snapshot is at the last write's zxid (snapCount=2), bounded.
async fn write_until_snapshot_covers_all(
    srv: &ZkrProc,
    c: &zk::Client,
    h: &mut History,
    rng: &mut Rng,
) -> i64 {
    for i in 0..40 {
        let path = format!("{DIR}/cover-{i}");
        let d = data(rng, &path, 0);
        let (st, _) = within(c.create(&path, &d, &open())).await.unwrap();
        h.ops.push((st.czxid, path, Some(NodeState::new(&d, &st))));
        for _ in 0..20 {
            if snapshots(&srv.snap_dir())
                .last()
                .is_some_and(|s| s.0 == st.czxid)
            {
                return st.czxid;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    panic!("no snapshot at the last write's zxid after 40 writes with snapCount=2");
}

/// (c, continued) All log segments deleted: with a snapshot that covers every txn the server
/// starts whole; with txns after the newest snapshot they are lost, and the server must at
/// least serve the snapshot's consistent state (or refuse).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_log_with_a_snapshot() {
    let seed = seed_from_env("ZKR_CORRUPTION_SEED", "corruption");
    let mut rng = Rng::new(seed ^ 0xcc);
    let cfg = [
        ("forceSync", "yes"),
        ("zkr.logSegmentBytes", "1m"),
        ("snapCount", "2"),
    ];
    let mut srv = ZkrProc::new("nolog", &cfg);
    srv.start_ok();
    let (c, mut h) = populate(&srv.addr, &mut rng, 30).await;
    let snap_zxid = write_until_snapshot_covers_all(&srv, &c, &mut h, &mut rng).await;
    srv.kill9();
    drop(c);
    let covered = srv.root.join("covered");
    srv.save_dirs(&covered);

    // Everything is in the snapshot: the log is not needed.
    let what = format!("log deleted, snapshot {snap_zxid:#x} covers every write");
    for (_, p) in segments(&srv.log_dir()) {
        fs::remove_file(p).unwrap();
    }
    srv.start_ok();
    assert_no_panic(&what, &srv.log());
    check_served(&srv, &h.full(), h.last_zxid(), &what).await;
    srv.kill9();

    // Writes after the newest snapshot (no snapshots any more), then the log deleted.
    srv.restore_dirs(&covered);
    srv.set_config(&[("forceSync", "yes"), ("zkr.logSegmentBytes", "1m")]);
    srv.start_ok();
    let c = connect(&srv.addr).await;
    let mut after = 0;
    for i in 0..10 {
        let path = format!("{DIR}/after-{i}");
        let (st, _) = within(c.create(&path, b"after", &open())).await.unwrap();
        h.ops
            .push((st.czxid, path, Some(NodeState::new(b"after", &st))));
        after += 1;
    }
    srv.kill9();
    drop(c);
    assert_eq!(snapshots(&srv.snap_dir()).last().unwrap().0, snap_zxid);
    let what = format!("log deleted, {after} acknowledged writes after snapshot {snap_zxid:#x}");
    for (_, p) in segments(&srv.log_dir()) {
        fs::remove_file(p).unwrap();
    }
    match srv.start() {
        common::proc::Started::Up => {
            assert_no_panic(&what, &srv.log());
            check_served(&srv, &h.state_at(snap_zxid), snap_zxid, &what).await;
            srv.kill9();
            eprintln!(
                "note: {what}: the server started from the snapshot alone; the {after} \
                 acknowledged writes after it are gone without an error"
            );
        }
        common::proc::Started::Exited { status, log } => {
            assert_no_panic(&what, &log);
            assert_eq!(status.code(), Some(1), "{what}: {log}");
            eprintln!("{what}: refused: {log}");
        }
    }
}

/// (d) Damaged snapshots: the newest one flipped, cut or emptied is passed over for an older
/// one plus the log; all of them damaged is refused when the log no longer reaches back (or
/// served whole when it does). `zkr snapshot dump` works on a good one and reports a bad one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_snapshots() {
    let seed = seed_from_env("ZKR_CORRUPTION_SEED", "corruption");
    let mut rng = Rng::new(seed ^ 0xd);
    let cfg = [
        ("forceSync", "yes"),
        ("zkr.logSegmentBytes", "16k"),
        ("snapCount", "40"),
        ("autopurge.snapRetainCount", "3"),
    ];
    let mut srv = ZkrProc::new("snaps", &cfg);
    srv.start_ok();
    let (c, h) = populate(&srv.addr, &mut rng, 400).await;
    srv.kill9();
    drop(c);
    let pristine = srv.root.join("pristine");
    srv.save_dirs(&pristine);
    let snaps = snapshots(&srv.snap_dir());
    assert!(snaps.len() >= 2, "expected retained snapshots: {snaps:?}");
    let segs = segments(&srv.log_dir());
    let (newest_zxid, newest) = snaps.last().unwrap().clone();
    let (older_zxid, older) = snaps[snaps.len() - 2].clone();
    let newest_name = file_name(&newest);
    let full = h.full();

    // The tools on a good snapshot.
    let out = zkr_tool(&["snapshot", "dump", older.to_str().unwrap()]);
    assert!(out.ok(), "snapshot dump of a good snapshot: {}", out.stderr);
    assert!(
        out.stdout.contains(&format!("{DIR}/")),
        "dump lists no nodes:\n{}",
        out.stdout
    );
    let out = zkr_tool(&["snapshot", "dump", older.to_str().unwrap(), "--json"]);
    assert!(out.ok(), "snapshot dump --json: {}", out.stderr);
    let doc = json::parse(&out.stdout)
        .unwrap_or_else(|e| panic!("snapshot dump --json is not one JSON document: {e}"));
    assert!(doc.is_object(), "snapshot dump --json: not an object");

    let size = fs::metadata(&newest).unwrap().len();
    type Damage = Box<dyn Fn(&Path)>;
    let damages: Vec<(&str, Damage)> = vec![
        (
            "a bit flipped in the middle",
            Box::new(move |p: &Path| flip_bit(p, (size / 2) as usize, 3)),
        ),
        (
            "a bit flipped in the header",
            Box::new(|p: &Path| flip_bit(p, 14, 0)),
        ),
        (
            "cut in half",
            Box::new(move |p: &Path| truncate(p, size / 2)),
        ),
        ("emptied", Box::new(|p: &Path| truncate(p, 0))),
    ];
    for (how, damage) in &damages {
        let what = format!("newest snapshot {newest_name} {how}");
        srv.restore_dirs(&pristine);
        damage(&newest);
        let out = zkr_tool(&["snapshot", "dump", newest.to_str().unwrap()]);
        assert_no_panic(&what, &out.stderr);
        assert!(!out.ok(), "{what}: snapshot dump exits 0");
        assert!(
            out.stderr.contains(&newest_name) && out.stderr.contains("offset"),
            "{what}: snapshot dump should name the file and an offset: {}",
            out.stderr
        );
        srv.start_ok();
        let log = srv.log();
        assert_no_panic(&what, &log);
        assert!(
            log.lines()
                .any(|l| l.contains(&newest_name) && l.contains("offset")),
            "{what}: the server log should say the snapshot is unusable, with file and offset:\n{log}"
        );
        assert!(
            log.lines()
                .any(|l| l.contains("loaded snapshot") && l.contains(&file_name(&older))),
            "{what}: the server should fall back to {older:?} ({older_zxid:#x} < {newest_zxid:#x}):\n{log}"
        );
        check_served(&srv, &full, h.last_zxid(), &what).await;
        srv.kill9();
    }

    // Every snapshot damaged.
    srv.restore_dirs(&pristine);
    for (_, p) in &snaps {
        truncate(p, fs::metadata(p).unwrap().len() - 1);
    }
    let what = format!("all {} snapshots truncated by a byte", snaps.len());
    let oldest_seg = &segs[0];
    let log_reaches_back = record_spans(&fs::read(&oldest_seg.1).unwrap())
        .first()
        .is_some_and(|r| r.zxid <= 2);
    if log_reaches_back {
        srv.start_ok();
        assert_no_panic(&what, &srv.log());
        check_served(&srv, &full, h.last_zxid(), &what).await;
        srv.kill9();
    } else {
        let (status, log) = srv.start_refused();
        assert_refused(
            &what,
            status,
            &log,
            &file_name(&oldest_seg.1),
            &["offset 0".into()],
        );
    }
}

/// (e) Garbage and empty files named like segments and snapshots (and their temp files, and
/// directories of those names): a clear error or ignored, never a panic, never a wrong tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_files_named_like_ours() {
    let seed = seed_from_env("ZKR_CORRUPTION_SEED", "corruption");
    let mut rng = Rng::new(seed ^ 0xe);
    let cfg = [
        ("forceSync", "yes"),
        ("zkr.logSegmentBytes", "16k"),
        ("snapCount", "60"),
    ];
    let mut srv = ZkrProc::new("garbage", &cfg);
    srv.start_ok();
    let (c, h) = populate(&srv.addr, &mut rng, 250).await;
    srv.kill9();
    drop(c);
    let pristine = srv.root.join("pristine");
    srv.save_dirs(&pristine);
    let segs = segments(&srv.log_dir());
    let snaps = snapshots(&srv.snap_dir());
    assert!(segs.len() >= 2 && !snaps.is_empty(), "{segs:?} {snaps:?}");
    let full = h.full();
    let (ld, sd) = (srv.log_dir(), srv.snap_dir());
    let garbage: Vec<u8> = (0..10_000).map(|_| rng.next_u64() as u8).collect();
    let last_seg = segs.last().unwrap().clone();
    let header: Vec<u8> = fs::read(&last_seg.1).unwrap()[..4096].to_vec();
    let between = format!("zkrlog.{:016x}", segs[segs.len() - 1].0 - 1);

    type Make = Box<dyn Fn()>;
    let w = |dir: &Path, name: &str, bytes: &[u8]| -> Make {
        let (p, b) = (dir.join(name), bytes.to_vec());
        Box::new(move || fs::write(&p, &b).unwrap())
    };
    let mkdir = |dir: &Path, name: &str| -> Make {
        let p = dir.join(name);
        Box::new(move || fs::create_dir(&p).unwrap())
    };
    // (what, damage, name of the file that an error must name, data must stay whole if up)
    let cases: Vec<(&str, Make, String)> = vec![
        (
            "empty newest segment",
            w(&ld, "zkrlog.7fffffffffffffff", b""),
            "zkrlog.7fffffffffffffff".into(),
        ),
        (
            "garbage newest segment",
            w(&ld, "zkrlog.7fffffffffffffff", &garbage),
            "zkrlog.7fffffffffffffff".into(),
        ),
        (
            "a segment header copied under a newer name",
            w(&ld, "zkrlog.7fffffffffffffff", &header),
            "zkrlog.7fffffffffffffff".into(),
        ),
        (
            "empty segment between two",
            w(&ld, &between, b""),
            between.clone(),
        ),
        (
            "garbage segment between two",
            w(&ld, &between, &garbage),
            between.clone(),
        ),
        (
            "directory named like a segment",
            mkdir(&ld, "zkrlog.7fffffffffffffff"),
            "zkrlog.7fffffffffffffff".into(),
        ),
        (
            "segment temp file",
            w(&ld, "zkrlog.tmp.1.0", &garbage),
            "zkrlog.tmp.1.0".into(),
        ),
        (
            "not quite a segment name",
            w(&ld, "zkrlog.7FFFFFFFFFFFFFFF", &garbage),
            "zkrlog.7FFFFFFFFFFFFFFF".into(),
        ),
        (
            "empty newest snapshot",
            w(&sd, "zkrsnap.7fffffffffffffff", b""),
            "zkrsnap.7fffffffffffffff".into(),
        ),
        (
            "garbage newest snapshot",
            w(&sd, "zkrsnap.7fffffffffffffff", &garbage),
            "zkrsnap.7fffffffffffffff".into(),
        ),
        (
            "directory named like a snapshot",
            mkdir(&sd, "zkrsnap.7fffffffffffffff"),
            "zkrsnap.7fffffffffffffff".into(),
        ),
        (
            "snapshot temp file",
            w(&sd, "zkrsnap.tmp.7fffffffffffffff.1.0", &garbage),
            "zkrsnap.tmp.7fffffffffffffff.1.0".into(),
        ),
        (
            "snapshot named like a segment in dataLogDir",
            w(&ld, "zkrsnap.7fffffffffffffff", &garbage),
            "zkrsnap.7fffffffffffffff".into(),
        ),
    ];
    let mut summary = Vec::new();
    for (what, make, name) in &cases {
        srv.restore_dirs(&pristine);
        make();
        // The tools never panic on it.
        let v = zkr_tool(&["log", "verify", srv.data_log_root().to_str().unwrap()]);
        assert_no_panic(
            &format!("{what}: log verify"),
            &format!("{}{}", v.stdout, v.stderr),
        );
        assert!(
            v.status.code().is_some_and(|c| c <= 1),
            "{what}: log verify {}",
            v.status
        );
        let (_, status, _) = dump_json(&srv, what);
        assert!(
            status.code().is_some_and(|c| c <= 1),
            "{what}: log dump {status}"
        );
        match srv.start() {
            common::proc::Started::Up => {
                assert_no_panic(what, &srv.log());
                check_served(&srv, &full, h.last_zxid(), what).await;
                srv.kill9();
                summary.push(format!("{what}: started, tree whole"));
            }
            common::proc::Started::Exited { status, log } => {
                assert_refused(what, status, &log, name, &[]);
                summary.push(format!(
                    "{what}: refused: {}",
                    log.lines().find(|l| l.starts_with("zkr: ")).unwrap_or("")
                ));
            }
        }
    }
    eprintln!("garbage files:\n  {}", summary.join("\n  "));
    // Temp files are leftovers of interrupted writes: startup removes them (the server makes
    // a new spare segment `zkrlog.tmp.<pid>.<n>` of its own right away; that one is not ours).
    srv.restore_dirs(&pristine);
    let ours = [
        ld.join("zkrlog.tmp.1.0"),
        sd.join("zkrsnap.tmp.7fffffffffffffff.1.0"),
    ];
    for p in &ours {
        fs::write(p, &garbage).unwrap();
    }
    srv.start_ok();
    srv.kill9();
    let left: Vec<&PathBuf> = ours.iter().filter(|p| p.exists()).collect();
    assert!(
        left.is_empty(),
        "temp files of interrupted writes left after a start: {left:?}"
    );
}
