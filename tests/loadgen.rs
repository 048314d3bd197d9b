//! `zkr bench`, the load generator, run as a process against a real server: its reports are
//! well-formed (table, JSON, HdrHistogram percentile distributions, SVG plots), every workload
//! runs, and it leaves nothing behind. Nothing here checks a timing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

fn zkr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zkr"))
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zkr-loadgen-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bench(addr: &str, args: &[&str]) -> Output {
    let out = zkr()
        .args(["bench", "-s", addr, "-q", "--warmup", "0.2", "--threads", "2"])
        .args(args)
        .output()
        .expect("run zkr bench");
    assert!(
        out.status.success(),
        "zkr bench {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}\n{text}", p.display()))
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} missing or not a number in {v}"))
}

/// The op named `name` of a run.
fn op<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["ops"]
        .as_array()
        .expect("ops array")
        .iter()
        .find(|o| o["op"] == name)
        .unwrap_or_else(|| panic!("no op {name} in {run}"))
}

/// Checks one op's figures for internal consistency; returns its ok count.
fn check_op(run: &Value, name: &str) -> u64 {
    let o = op(run, name);
    let ok = num(o, "ok");
    let elapsed = num(run, "elapsed_s");
    assert!(elapsed > 0.0);
    let rate = num(o, "ops_per_sec");
    assert!((rate - ok / elapsed).abs() <= 1e-6 * rate.max(1.0), "ops/s {rate} vs {ok}/{elapsed}");
    let l = &o["latency_us"];
    let [min, p50, p90, p99, p999, max] = ["min", "p50", "p90", "p99", "p999", "max"].map(|k| num(l, k));
    if ok > 0.0 {
        assert!(0.0 < min && min <= p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max, "{l}");
        let pts = o["percentiles"].as_array().expect("percentiles");
        assert!(!pts.is_empty());
        let mut prev = (-1.0, -1.0);
        for p in pts {
            let (q, v) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
            assert!(q >= prev.0 && v >= prev.1, "curve not monotonic at {p} after {prev:?}");
            assert!((0.0..=100.0).contains(&q));
            prev = (q, v);
        }
        assert_eq!(prev.0, 100.0, "curve must end at 100%");
        assert!((prev.1 - max).abs() <= max * 0.01 + 1.0, "curve ends at {} but max is {max}", prev.1);
    }
    ok as u64
}

/// Root children named like the load generator's run roots.
async fn bench_roots(s: &TestServer) -> Vec<String> {
    let c = s.client().await;
    let mut kids = c.list_children("/").await.unwrap();
    kids.retain(|k| k.starts_with("zkr-bench-"));
    kids
}

/// Tag balance and attribute quoting of an SVG file, without an XML library.
fn assert_well_formed_xml(svg: &str) {
    assert!(svg.trim_start().starts_with("<svg") || svg.trim_start().starts_with("<?xml"));
    assert!(svg.trim_end().ends_with("</svg>"));
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let end = after.find('>').expect("unclosed tag");
        let tag = &after[..end];
        rest = &after[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in <{tag}>");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name.trim()), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap().to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    // Text outside tags has no raw '&' except entities.
    for (i, _) in svg.match_indices('&') {
        let ent = &svg[i..svg.len().min(i + 8)];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"].iter().any(|e| ent.starts_with(e)),
            "raw & at {i}: {ent}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_well_formed_and_the_run_cleans_up() {
    let s = TestServer::start();
    let dir = scratch("reports");
    let (a, b, svg) = (dir.join("a.json"), dir.join("b.json"), dir.join("ab.svg"));
    let out = bench(
        &s.addr,
        &["-w", "mixed", "--sessions", "4", "-k", "4", "--duration", "0.6", "--keys", "50",
          "--label", "run <A> & co", "--json", a.to_str().unwrap(), "--hdr", dir.join("a").to_str().unwrap()],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    for needle in ["op", "ops/s", "p50", "p99.9", "get", "set", "client CPU"] {
        assert!(table.contains(needle), "table lacks {needle}:\n{table}");
    }
    let run = read_json(&a);
    assert_eq!(run["workload"], "mixed");
    assert_eq!(run["label"], "run <A> & co");
    assert_eq!(num(&run, "sessions"), 4.0);
    assert_eq!(num(&run, "outstanding"), 4.0);
    assert_eq!(run["servers"][0], Value::String(s.addr.clone()));
    let gets = check_op(&run, "get");
    check_op(&run, "set");
    assert!(gets > 0, "no reads measured");
    assert_eq!(num(op(&run, "get"), "errors"), 0.0);
    assert!(num(&run, "client_cpu") >= 0.0);

    // HdrHistogram percentile distribution, one file per op.
    for name in ["get", "set"] {
        let hgrm = std::fs::read_to_string(dir.join(format!("a-{name}.hgrm"))).unwrap();
        let mut lines = hgrm.lines();
        assert!(lines.next().unwrap().split_whitespace().eq(["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]));
        let rows: Vec<Vec<f64>> = hgrm
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.contains("Value"))
            .map(|l| l.split_whitespace().map(|x| x.parse::<f64>().unwrap_or(f64::NAN)).collect())
            .collect();
        assert!(!rows.is_empty());
        for r in &rows[..rows.len() - 1] {
            assert_eq!(r.len(), 4, "row {r:?}");
            assert!(r.iter().all(|x| x.is_finite()));
        }
        let last = rows.last().unwrap();
        assert_eq!(last[1], 1.0, "last row is the 100th percentile");
        let count = num(op(&run, name), "ok");
        assert_eq!(last[2], count, "total count of {name}");
        assert!(hgrm.contains("#[Mean") && hgrm.contains("#[Max") && hgrm.contains("Total count"));
    }

    // A second run drawn with the first on one chart, then both again by the plot tool.
    bench(
        &s.addr,
        &["-w", "get", "--sessions", "2", "-k", "2", "--duration", "0.4", "--keys", "10",
          "--label", "run B", "--json", b.to_str().unwrap(),
          "--plot", svg.to_str().unwrap(), "--plot-with", a.to_str().unwrap()],
    );
    check_op(&read_json(&b), "get");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert_well_formed_xml(&text);
    assert!(text.contains("run B") && text.contains("run &lt;A&gt; &amp; co"), "legend lacks a run");
    let combined = dir.join("combined.svg");
    let out = zkr()
        .args(["bench", "plot", combined.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&combined).unwrap();
    assert_well_formed_xml(&text);
    assert!(text.matches("<path").count() + text.matches("<polyline").count() >= 3, "three curves expected");

    assert_eq!(bench_roots(&s).await, Vec::<String>::new(), "bench left znodes behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_runs_and_leaves_nothing_behind() {
    let s = TestServer::start();
    let dir = scratch("workloads");
    let cases: &[(&str, &[&str], &str)] = &[
        ("create", &["--sessions", "3", "-k", "4"], "create"),
        ("create-seq", &["--sessions", "3", "-k", "4"], "create-seq"),
        ("set", &["--sessions", "2", "-k", "2", "--keys", "5"], "set"),
        ("get", &["--sessions", "2", "-k", "2", "--keys", "5"], "get"),
        ("exists", &["--sessions", "2", "-k", "2", "--keys", "5"], "exists"),
        ("children", &["--sessions", "2", "-k", "2", "--keys", "5"], "children"),
        ("multi", &["--sessions", "2", "-k", "2", "--keys", "5", "--multi-ops", "3"], "multi"),
        ("watch", &["--watchers", "20"], "fanout"),
        ("sessions", &["--sessions", "3"], "open"),
        ("lock", &["--sessions", "4"], "lock"),
    ];
    for (workload, args, first_op) in cases {
        let json = dir.join(format!("{workload}.json"));
        let mut all = vec!["-w", workload, "--duration", "0.5", "--json", json.to_str().unwrap()];
        all.extend_from_slice(args);
        bench(&s.addr, &all);
        let run = read_json(&json);
        assert_eq!(run["workload"], *workload);
        let ok = check_op(&run, first_op);
        assert!(ok > 0, "{workload}: nothing measured: {run}");
        assert_eq!(num(op(&run, first_op), "errors"), 0.0, "{workload}: errors");
        assert_eq!(bench_roots(&s).await, Vec::<String>::new(), "{workload} left znodes behind");
    }
    // An op budget bounds a run too.
    let json = dir.join("ops.json");
    bench(&s.addr, &["-w", "set", "--sessions", "2", "-k", "1", "--ops", "300", "--json", json.to_str().unwrap()]);
    let run = read_json(&json);
    let ok = check_op(&run, "set");
    assert!((1..=300).contains(&ok), "{ok} ops measured with --ops 300");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_and_unreachable_servers_are_clear_errors() {
    let port = free_port();
    let out = zkr()
        .args(["bench", "-q", "-s", &format!("127.0.0.1:{port}"), "--duration", "0.2", "--warmup", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("zkr bench:") && err.contains(&port.to_string()), "{err}");
    for args in [
        &["--read-ratio", "2"][..],
        &["--sessions", "0"],
        &["--duration", "-1"],
        &["-w", "nonsense"],
    ] {
        let out = zkr().arg("bench").args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(!out.stderr.is_empty());
    }
}

/// A server that refuses some of the sessions (over its per-IP limit) ends the run with an
/// error naming the likely cause, instead of leaving the admitted watchers waiting for a
/// driver that never came.
#[test]
fn refused_sessions_end_the_run_with_an_error() {
    let Some(s) = TestServer::try_start_with(&[("maxClientCnxns", "5")]) else { return };
    let mut child = zkr()
        .args(["bench", "-q", "-s", &s.addr, "-w", "watch", "--watchers", "20", "--duration", "1"])
        .args(["--warmup", "0", "--threads", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A hang guard, not a timing check: the run is bounded by its duration and the session
    // timeout, and it used to wait forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("zkr bench still running two minutes after its one-second run");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("zkr bench:") && err.contains("maxClientCnxns"), "{err}");
}

/// `zkr bench floor` runs its three measurements on a small scale, prints well-formed JSON
/// with every figure positive, and leaves no probe file behind.
#[test]
fn floor_reports_every_figure_and_cleans_up() {
    let dir = scratch("floor");
    let out = zkr()
        .args(["bench", "floor", dir.to_str().unwrap(), "--json", "--watchers", "40", "--rounds", "3"])
        .args(["--slots", "4", "--seconds", "0.3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "zkr bench floor failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["watchers"], 40);
    assert_eq!(v["slots"], 4);
    for key in ["fanout_p50_us", "fanout_p99_us", "sessions_per_s", "write_p50_us", "write_rtt_p50_us", "write_gap_p50_us"] {
        assert!(num(&v, key) > 0.0, "{key} in {v}");
    }
    assert!(num(&v, "fanout_p99_us") >= num(&v, "fanout_p50_us"), "{v}");
    assert!(num(&v, "write_rtt_p50_us") >= num(&v, "write_gap_p50_us"), "{v}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // A bad argument is an error, not a run.
    let out = zkr().args(["bench", "floor", "--seconds", "0"]).output().unwrap();
    assert!(!out.status.success());
    let missing = dir.join("missing");
    let out = zkr().args(["bench", "floor", missing.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("zkr bench:") && err.contains("missing"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
