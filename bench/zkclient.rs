//! The closed-loop get/set workload of `zkr bench`, driven by an independent client (the
//! `zookeeper-client` crate on tokio) instead of zkr's own: a cross-check that the load
//! generator measures what another client sees. Used by `bench/agree.sh`.
//!
//! ```sh
//! cargo bench --bench zkclient -- --server 127.0.0.1:2181 --workload get --sessions 16 \
//!     --outstanding 16 --duration 5 --warmup 1 --payload 100 --keys 1000 --json out.json
//! ```
//!
//! Setup: a fresh root `/zkclient-bench-<pid>-<ms>` with `--keys` children of `--payload`
//! bytes. Then `--sessions` sessions each keep `--outstanding` requests in flight (that many
//! tasks per session, each looping: pick a random key, send, wait for the reply). Latency is
//! from just before the request is handed to the client to the moment its future completes,
//! recorded (ns, HdrHistogram) for requests sent after the warm-up and answered before the
//! measured window ends; ops/s is those answers over the window. The JSON has the schema of
//! `zkr bench --json` (label "zookeeper-client get 16x16"). The root is deleted at the end.
//! Runtime: tokio multi-thread, 2 workers (the client's CPU share is in `client_cpu`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use zookeeper_client as zk;

use zkr::loadgen::sys;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    server: String,
    workload: String,
    sessions: usize,
    outstanding: usize,
    duration: f64,
    warmup: f64,
    payload: usize,
    keys: usize,
    json: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        server: "127.0.0.1:2181".into(),
        workload: "get".into(),
        sessions: 16,
        outstanding: 16,
        duration: 5.0,
        warmup: 1.0,
        payload: 100,
        keys: 1000,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--bench" {
            continue; // cargo bench adds it
        }
        let v = it.next().ok_or_else(|| format!("{flag}: missing value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--server" | "-s" => a.server = v,
            "--workload" | "-w" => a.workload = v,
            "--sessions" => a.sessions = num(&v)? as usize,
            "--outstanding" | "-k" => a.outstanding = num(&v)? as usize,
            "--duration" | "-d" => a.duration = num(&v)?,
            "--warmup" => a.warmup = num(&v)?,
            "--payload" => a.payload = num(&v)? as usize,
            "--keys" => a.keys = num(&v)? as usize,
            "--json" => a.json = Some(v),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if !matches!(a.workload.as_str(), "get" | "set") {
        return Err(format!("--workload {}: want get or set", a.workload));
    }
    if a.sessions == 0 || a.outstanding == 0 || a.keys == 0 || !(a.duration > 0.0) || !(a.warmup >= 0.0) {
        return Err("--sessions, --outstanding, --keys, --duration must be positive".into());
    }
    Ok(a)
}

async fn connect(addr: &str) -> Result<zk::Client, String> {
    let c = zk::Client::connector().with_session_timeout(Duration::from_secs(30)).with_fail_eagerly().connect(addr);
    match tokio::time::timeout(Duration::from_secs(10), c).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!("connect {addr}: {e}")),
        Err(_) => Err(format!("connect {addr}: timed out")),
    }
}

async fn bounded<T>(what: &str, f: impl Future<Output = Result<T, zk::Error>>) -> Result<T, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {REQUEST_TIMEOUT:?}")),
    }
}

/// Runs `f` on every path, at most 64 in flight.
async fn for_all<F, Fut>(client: &zk::Client, paths: &[String], f: F) -> Result<(), String>
where
    F: Fn(zk::Client, String) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for p in paths {
        if set.len() >= 64 {
            set.join_next().await.expect("non-empty").map_err(|e| e.to_string())??;
        }
        set.spawn(f(client.clone(), p.clone()));
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// 1 ns to 10 min, 3 significant digits. (Not `Histogram::new`: it starts tiny and auto-resizes
/// only on `record`; `saturating_record` would clamp every latency to its initial 2 ns.)
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("valid histogram bounds")
}

/// What one worker task saw.
struct Tally {
    ok: u64,
    errors: u64,
    hist: Histogram<u64>,
}

/// One worker: a closed loop of one request at a time until `stop`.
async fn worker(
    client: zk::Client,
    keys: Arc<Vec<String>>,
    data: Arc<Vec<u8>>,
    set: bool,
    mut seed: u64,
    start: Instant,
    stop: Instant,
) -> Tally {
    let mut t = Tally { ok: 0, errors: 0, hist: histogram() };
    loop {
        let sent = Instant::now();
        if sent >= stop {
            return t;
        }
        // xorshift64*
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        let key = &keys[(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % keys.len()];
        let r = if set {
            tokio::time::timeout(REQUEST_TIMEOUT, client.set_data(key, &data, None)).await.map(|r| r.map(drop))
        } else {
            tokio::time::timeout(REQUEST_TIMEOUT, client.get_data(key)).await.map(|r| r.map(drop))
        };
        let done = Instant::now();
        let counted = sent >= start && done <= stop;
        match r {
            Ok(Ok(())) if counted => {
                t.ok += 1;
                t.hist.saturating_record(done.duration_since(sent).as_nanos() as u64);
            }
            Ok(Ok(())) => {}
            _ if counted => t.errors += 1,
            // An error outside the window: stop if the session is gone, else go on.
            Err(_) | Ok(Err(zk::Error::SessionExpired | zk::Error::ClientClosed)) => return t,
            Ok(Err(_)) => {}
        }
    }
}

async fn run(a: &Args) -> Result<Value, String> {
    let setup = connect(&a.server).await?;
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let root = format!("/zkclient-bench-{}-{ms}", std::process::id());
    let data: Arc<Vec<u8>> = Arc::new((0..a.payload).map(|i| b'a' + (i % 26) as u8).collect());
    let keys: Arc<Vec<String>> = Arc::new((0..a.keys).map(|i| format!("{root}/k{i:06}")).collect());
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    bounded("create root", setup.create(&root, &[], &opts)).await?;
    let d = data.clone();
    let created = for_all(&setup, &keys, move |c, p| {
        let d = d.clone();
        async move {
            let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            bounded("create key", c.create(&p, &d, &opts)).await.map(drop)
        }
    })
    .await;
    // As zkr bench: the setup session is closed before the measured sessions open, so that
    // they meet the server as zkr bench's do (zkr places a connection on its least-loaded core).
    drop(setup);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let result = match created {
        Ok(()) => measure(a, &keys, &data).await,
        Err(e) => Err(e),
    };
    // Clean up whatever happened.
    let setup = connect(&a.server).await?;
    let cleanup = async {
        for_all(&setup, &keys, |c, p| async move {
            match tokio::time::timeout(REQUEST_TIMEOUT, c.delete(&p, None)).await {
                Ok(Ok(()) | Err(zk::Error::NoNode)) => Ok(()),
                Ok(Err(e)) => Err(format!("delete {p}: {e}")),
                Err(_) => Err(format!("delete {p}: no answer within {REQUEST_TIMEOUT:?}")),
            }
        })
        .await?;
        bounded("delete root", setup.delete(&root, None)).await
    };
    let cleaned = cleanup.await;
    // The last handle dropped sends closeSession: give it a moment before the runtime stops.
    drop(setup);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut report = result?;
    cleaned.map_err(|e| format!("cleanup of {root}: {e}"))?;
    report["servers"] = json!([a.server]);
    Ok(report)
}

async fn measure(a: &Args, keys: &Arc<Vec<String>>, data: &Arc<Vec<u8>>) -> Result<Value, String> {
    let mut clients = Vec::with_capacity(a.sessions);
    for _ in 0..a.sessions {
        clients.push(connect(&a.server).await?);
    }
    let port: u16 = a.server.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(2181);
    let server_pid = sys::listener_pid(port);
    let begin = Instant::now();
    let start = begin + Duration::from_secs_f64(a.warmup);
    let stop = start + Duration::from_secs_f64(a.duration);
    let mut set = JoinSet::new();
    for (s, c) in clients.iter().enumerate() {
        for k in 0..a.outstanding {
            let seed = 0x9E37_79B9_7F4A_7C15u64 ^ ((s as u64) << 32 | k as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1;
            set.spawn(worker(c.clone(), keys.clone(), data.clone(), a.workload == "set", seed, start, stop));
        }
    }
    // CPU over the measured window only.
    tokio::time::sleep_until(start.into()).await;
    let (cpu0, srv0) = (sys::self_cpu_secs(), server_pid.and_then(sys::proc_cpu_secs));
    tokio::time::sleep_until(stop.into()).await;
    let (cpu1, srv1) = (sys::self_cpu_secs(), server_pid.and_then(sys::proc_cpu_secs));
    let elapsed = stop.duration_since(start).as_secs_f64();
    let mut total = Tally { ok: 0, errors: 0, hist: histogram() };
    while let Some(t) = set.join_next().await {
        let t = t.map_err(|e| e.to_string())?;
        total.ok += t.ok;
        total.errors += t.errors;
        total.hist.add(&t.hist).map_err(|e| e.to_string())?;
    }
    drop(clients);
    let h = &total.hist;
    let us = |ns: u64| ns as f64 / 1000.0;
    let q = |x: f64| if h.is_empty() { 0.0 } else { us(h.value_at_quantile(x)) };
    // The percentile curve: (percentile, µs), percentiles strictly rising, ending at the max.
    let mut curve: Vec<(f64, f64)> = Vec::new();
    for v in h.iter_quantiles(5) {
        let p = ((v.quantile_iterated_to() * 100.0).min(100.0) * 1e10).round() / 1e10;
        match curve.last_mut() {
            Some(last) if p <= last.0 => last.1 = last.1.max(us(v.value_iterated_to())),
            _ => curve.push((p, us(v.value_iterated_to()))),
        }
    }
    if !h.is_empty() {
        match curve.last_mut() {
            Some(last) if last.0 >= 100.0 => last.1 = us(h.max()),
            _ => curve.push((100.0, us(h.max()))),
        }
    }
    let pts: Vec<Value> = curve.iter().map(|&(p, v)| json!([p, v])).collect();
    Ok(json!({
        "label": format!("zookeeper-client {} {}x{}", a.workload, a.sessions, a.outstanding),
        "workload": a.workload,
        "servers": [],
        "sessions": a.sessions,
        "outstanding": a.outstanding,
        "payload": a.payload,
        "elapsed_s": elapsed,
        "client_cpu": (cpu1 - cpu0) / elapsed,
        "server_cpu": match (srv0, srv1) { (Some(x), Some(y)) => json!((y - x) / elapsed), _ => Value::Null },
        "extra": {"threads": 2.0, "keys": a.keys as f64},
        "ops": [{
            "op": a.workload,
            "ok": total.ok,
            "errors": total.errors,
            "ops_per_sec": total.ok as f64 / elapsed,
            "latency_us": {
                "min": if h.is_empty() { 0.0 } else { us(h.min()) },
                "mean": if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
                "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999),
                "max": us(h.max()),
            },
            "percentiles": pts,
        }],
    }))
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("zkclient: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    match rt.block_on(run(&a)) {
        Ok(report) => {
            let o = &report["ops"][0];
            let l = &o["latency_us"];
            println!(
                "{}: {} ok, {} errors, {:.0} ops/s, p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us",
                report["label"].as_str().unwrap_or(""),
                o["ok"], o["errors"], o["ops_per_sec"].as_f64().unwrap_or(0.0),
                l["p50"].as_f64().unwrap_or(0.0), l["p90"].as_f64().unwrap_or(0.0), l["p99"].as_f64().unwrap_or(0.0),
                l["p999"].as_f64().unwrap_or(0.0), l["max"].as_f64().unwrap_or(0.0),
            );
            if let Some(p) = &a.json {
                let text = serde_json::to_string_pretty(&report).expect("json");
                if let Err(e) = std::fs::write(p, text + "\n") {
                    eprintln!("zkclient: {p}: {e}");
                    std::process::exit(1);
                }
            }
        }
        Err(e) => {
            eprintln!("zkclient: {e}");
            std::process::exit(1);
        }
    }
}
