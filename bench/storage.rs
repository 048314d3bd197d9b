//! Storage benchmark: zkr against Apache ZooKeeper 3.8 (Debian package `zookeeper`) on this
//! machine, in the same run. Not a test: nothing here asserts on time.
//!
//! ```sh
//! cargo build --release                      # target/release/zkr (cargo bench also builds it)
//! cargo bench --bench storage -- --quick     # 1 rep, 2 s, 20,000 znodes
//! cargo bench --bench storage                # 3 reps, 5 s, 1,000,000 znodes
//! ```
//!
//! Options (after `--`): `--quick`, `--reps N` (3), `--secs S` (5), `--warmup S` (1),
//! `--znodes N` (1,000,000), `--ks 1,16,256`, `--batch N` (500 creates per multi when loading),
//! `--only zkr|zookeeper`, `--no-writes`, `--no-restart`, `--fsync-samples N` (500),
//! `--restart-timeout S` (300), `--zkr PATH`, `--dir DIR` (temp dirs go here; default
//! `target/tmp`), `--json PATH` (default `target/bench-storage.json`), `--keep` (keep the temp
//! dirs and server logs). Environment: `JAVA` (java on PATH), `ZK_JAR_DIR` (`/usr/share/java`),
//! `ZK_HEAP` (`4g`).
//!
//! What it measures, per server (each started on a free 127.0.0.1 port with its own data dir
//! under the same directory, `forceSync=yes`, `tickTime=2000`, `4lw.commands.whitelist=*`;
//! ZooKeeper with `admin.enableServer=false` and `-Xmx4g`, zkr with `zkr.cores=2`):
//! - writes from one session keeping exactly K requests outstanding (K workers in a closed loop
//!   on a single-threaded client runtime): `setData` of a 100-byte value on one znode, and
//!   `create` of persistent sequential 100-byte znodes; each measurement runs S seconds after
//!   the warm-up. Per rep both servers are started fresh and warmed up (2 s), then every
//!   (op, K) runs on zkr and then on ZooKeeper, so drifts in the machine's load hit both alike.
//!   ops/s and latency percentiles (HdrHistogram, µs) per rep; reported as the median over reps
//!   with the min–max spread, and the ratio zkr/ZooKeeper of the medians;
//! - this disk's `pwrite` 4 KiB + `fdatasync` latency in the same directory: 500 samples at the
//!   start and 50 right before every measurement (the disk of a shared machine changes from
//!   second to second; each measurement records the probe taken just before it). ZooKeeper's
//!   own fsync statistics (`mntr`) are recorded too;
//! - restart: N znodes of 100 bytes loaded with multi requests (500 creates each, 8 in flight),
//!   then one more znode on its own (the last created), SIGKILL, restart on the same data dir;
//!   the time from spawn until `ruok` answers `imok` and a `getData` of the last-created znode
//!   succeeds (bounded by `--restart-timeout`). A server that serves without that znode is
//!   reported as "data lost on restart" (with how many of the znodes it still has), not waited
//!   for. Also the data dir's size on disk (allocated blocks) and apparent size, and memory:
//!   the server process's resident set empty, loaded and restarted, and for ZooKeeper (with
//!   `jcmd`) the Java heap in use after a full GC, empty and loaded.
//!
//! Servers and temp dirs are removed on exit, on panic (Drop guards) and on ctrl-c/SIGTERM (a
//! watcher thread); the servers also get SIGKILL if this process dies (PR_SET_PDEATHSIG).

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use zookeeper_client as zk;

const TICK_MS: u64 = 2000;
const VALUE_LEN: usize = 100;
/// Bound for one request; a request that takes longer counts as an error and stops its worker.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Session timeout asked for (ZooKeeper grants at most 20 ticks = 40 s).
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound for a fresh server to answer `ruok` and accept a session.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound for loading the znodes for the restart measurement.
const LOAD_TIMEOUT: Duration = Duration::from_secs(1800);
/// Extra warm-up right after a server starts (JIT for ZooKeeper), before the first measurement.
const SERVER_WARMUP: Duration = Duration::from_secs(2);
const HIST_MAX_US: u64 = 600_000_000;

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Zkr,
    Zk,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Zkr => "zkr",
            Kind::Zk => "zookeeper",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    SetData,
    Create,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::SetData => "setData",
            Op::Create => "create-seq",
        }
    }
}

struct Opts {
    reps: usize,
    secs: f64,
    warmup: f64,
    znodes: u64,
    batch: u64,
    ks: Vec<usize>,
    only: Option<Kind>,
    writes: bool,
    restart: bool,
    fsync_samples: usize,
    restart_timeout: f64,
    zkr: Option<PathBuf>,
    dir: Option<PathBuf>,
    json: Option<PathBuf>,
    keep: bool,
    quick: bool,
}

const USAGE: &str = "usage: cargo bench --bench storage -- [--quick] [--reps N] [--secs S] [--warmup S] \
[--znodes N] [--ks 1,16,256] [--batch N] [--only zkr|zookeeper] [--no-writes] [--no-restart] \
[--fsync-samples N] [--restart-timeout S] [--zkr PATH] [--dir DIR] [--json PATH] [--keep]";

fn parse_opts() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        reps: if quick { 1 } else { 3 },
        secs: if quick { 2.0 } else { 5.0 },
        warmup: 1.0,
        znodes: if quick { 20_000 } else { 1_000_000 },
        batch: 500,
        ks: vec![1, 16, 256],
        only: None,
        writes: true,
        restart: true,
        fsync_samples: 500,
        restart_timeout: 300.0,
        zkr: None,
        dir: None,
        json: None,
        keep: false,
        quick,
    };
    let mut it = args.into_iter();
    fn val<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        v.replace('_', "")
            .parse()
            .map_err(|_| format!("{flag}: bad value {v:?}\n{USAGE}"))
    }
    while let Some(a) = it.next() {
        match a.as_str() {
            // cargo bench passes --bench to harness = false targets
            "--bench" | "--quick" => {}
            "--reps" => o.reps = val("--reps", it.next())?,
            "--secs" => o.secs = val("--secs", it.next())?,
            "--warmup" => o.warmup = val("--warmup", it.next())?,
            "--znodes" => o.znodes = val("--znodes", it.next())?,
            "--batch" => o.batch = val("--batch", it.next())?,
            "--fsync-samples" => o.fsync_samples = val("--fsync-samples", it.next())?,
            "--restart-timeout" => o.restart_timeout = val("--restart-timeout", it.next())?,
            "--ks" => {
                let v: String = val("--ks", it.next())?;
                o.ks = v
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("--ks: bad value {v:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--only" => {
                let v: String = val("--only", it.next())?;
                o.only = Some(match v.as_str() {
                    "zkr" => Kind::Zkr,
                    "zookeeper" | "zk" => Kind::Zk,
                    _ => return Err(format!("--only: zkr or zookeeper, not {v:?}")),
                });
            }
            "--no-writes" => o.writes = false,
            "--no-restart" => o.restart = false,
            "--zkr" => o.zkr = Some(PathBuf::from(val::<String>("--zkr", it.next())?)),
            "--dir" => o.dir = Some(PathBuf::from(val::<String>("--dir", it.next())?)),
            "--json" => o.json = Some(PathBuf::from(val::<String>("--json", it.next())?)),
            "--keep" => o.keep = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            _ => return Err(format!("unknown argument {a:?}\n{USAGE}")),
        }
    }
    if o.reps == 0 || o.reps > 100 {
        return Err("--reps must be 1..=100".into());
    }
    if !(o.secs > 0.0 && o.secs <= 3600.0 && o.warmup >= 0.0 && o.warmup <= 600.0) {
        return Err("--secs must be in (0, 3600], --warmup in [0, 600]".into());
    }
    if o.ks.is_empty() || o.ks.iter().any(|&k| k == 0 || k > 10_000) {
        return Err("--ks: each K must be 1..=10000".into());
    }
    if o.batch == 0 || o.batch > 5000 {
        return Err("--batch must be 1..=5000".into());
    }
    if o.znodes > 50_000_000 {
        return Err("--znodes at most 50,000,000".into());
    }
    if !(o.restart_timeout > 0.0 && o.restart_timeout <= 3600.0) {
        return Err("--restart-timeout must be in (0, 3600]".into());
    }
    o.fsync_samples = o.fsync_samples.clamp(10, 100_000);
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Cleanup on ctrl-c / SIGTERM: a watcher thread kills the registered children and removes the
// registered dirs. Normal exits and panics clean up through Drop guards.

static STOP: AtomicBool = AtomicBool::new(false);
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_cleanup() {
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, on_signal as *const () as libc::sighandler_t);
    }
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(Duration::from_millis(50));
            if STOP.load(Ordering::SeqCst) {
                eprintln!("\nbench-storage: interrupted; killing the servers");
                {
                    // Server::spawn registers under this lock and refuses once STOP is set, so no
                    // server starts after this.
                    let children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
                    for pid in children.iter() {
                        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
                for d in DIRS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    let _ = fs::remove_dir_all(d);
                }
                std::process::exit(130);
            }
        }
    });
}

/// A temp dir removed on drop (unless kept).
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    fn new(base: &Path, prefix: &str, keep: bool) -> Result<TempDir, String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = base.join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            nanos % 1_000_000_000_000
        ));
        fs::create_dir_all(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        if !keep {
            DIRS.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(path.clone());
        }
        Ok(TempDir { path, keep })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("bench-storage: kept {}", self.path.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.path);
        DIRS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|d| d != &self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// Servers

struct Env {
    zkr_bin: PathBuf,
    java: PathBuf,
    zk_cp: String,
    zk_heap: String,
}

fn find_env(o: &Opts) -> Result<Env, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let zkr_bin = match &o.zkr {
        Some(p) => p.clone(),
        // cargo builds the bin target for benches and names it here; else the release build
        None => option_env!("CARGO_BIN_EXE_zkr")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest.join("target/release/zkr")),
    };
    if !zkr_bin.is_file() {
        return Err(format!(
            "zkr binary not found at {}: run `cargo build --release` first (or pass --zkr PATH)",
            zkr_bin.display()
        ));
    }
    let java = match std::env::var_os("JAVA") {
        Some(j) => PathBuf::from(j),
        None => which("java")
            .ok_or("java not found on PATH: apt-get install zookeeper (it brings a JRE)")?,
    };
    let jar_dir =
        PathBuf::from(std::env::var("ZK_JAR_DIR").unwrap_or_else(|_| "/usr/share/java".into()));
    let jar = jar_dir.join("zookeeper.jar");
    if !jar.is_file() {
        return Err(format!(
            "Apache ZooKeeper not found ({} missing): apt-get install zookeeper",
            jar.display()
        ));
    }
    // The Debian jar's manifest brings its dependencies; add a logging backend.
    let mut zk_cp = jar.display().to_string();
    let simple = jar_dir.join("slf4j-simple.jar");
    if simple.is_file() {
        zk_cp.push(':');
        zk_cp.push_str(&simple.display().to_string());
    }
    let zk_heap = std::env::var("ZK_HEAP").unwrap_or_else(|_| "4g".into());
    Ok(Env {
        zkr_bin,
        java,
        zk_cp,
        zk_heap,
    })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    Ok(l.local_addr().unwrap().port())
}

/// Sends a four-letter word; the answer ("" if none), bounded by 2 s.
fn four_letter(addr: &str, word: &str) -> String {
    let Ok(sa) = addr.parse() else {
        return String::new();
    };
    let Ok(mut s) = TcpStream::connect_timeout(&sa, Duration::from_secs(2)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    if s.write_all(word.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = Vec::new();
    let _ = s.take(1 << 20).read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// One server process; SIGKILLed and reaped on drop.
struct Server {
    kind: Kind,
    dir: PathBuf,
    addr: String,
    child: Option<Child>,
    spawned_at: Instant,
}

impl Server {
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn data_dir(dir: &Path) -> PathBuf {
        dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Writes `dir/zoo.cfg` for a fresh port and spawns the server (does not wait for it).
    fn spawn(env: &Env, kind: Kind, dir: &Path) -> Result<Server, String> {
        let data = Self::data_dir(dir);
        fs::create_dir_all(&data).map_err(|e| format!("create {}: {e}", data.display()))?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let mut cfg = format!(
            "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\n\
             clientPortAddress=127.0.0.1\nforceSync=yes\n4lw.commands.whitelist=*\n",
            data.display()
        );
        match kind {
            Kind::Zk => cfg.push_str("admin.enableServer=false\n"),
            Kind::Zkr => cfg.push_str("zkr.cores=2\n"),
        }
        let cfg_path = dir.join("zoo.cfg");
        fs::write(&cfg_path, cfg).map_err(|e| format!("write {}: {e}", cfg_path.display()))?;
        let log_path = dir.join("server.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("open {}: {e}", log_path.display()))?;
        let mut cmd = match kind {
            Kind::Zkr => {
                let mut c = Command::new(&env.zkr_bin);
                c.arg("server").arg("--config").arg(&cfg_path);
                c
            }
            Kind::Zk => {
                // The JVM the Debian zkServer.sh start-foreground runs (QuorumPeerMain with a
                // standalone zoo.cfg), as in tools/compat.sh, with a heap for 1M znodes.
                let mut c = Command::new(&env.java);
                c.arg(format!("-Xmx{}", env.zk_heap))
                    .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
                    .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=info")
                    .arg("-cp")
                    .arg(&env.zk_cp)
                    .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                    .arg(&cfg_path);
                c
            }
        };
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        // The server dies with this process even on SIGKILL of the benchmark.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
        if STOP.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        let spawned_at = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", kind.name()))?;
        children.push(child.id());
        drop(children);
        Ok(Server {
            kind,
            dir: dir.to_path_buf(),
            addr,
            child: Some(child),
            spawned_at,
        })
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(st))) => Some(format!("{} exited ({st})", self.kind.name())),
            Some(Err(e)) => Some(format!("{}: wait: {e}", self.kind.name())),
            None => Some(format!("{} not running", self.kind.name())),
            Some(Ok(None)) => None,
        }
    }

    fn log_tail(&self, lines: usize) -> String {
        let s = fs::read_to_string(self.log_path()).unwrap_or_default();
        let v: Vec<&str> = s.lines().collect();
        v[v.len().saturating_sub(lines)..].join("\n")
    }

    fn fail(&self, what: String) -> String {
        format!(
            "{what}; last lines of {}:\n{}",
            self.log_path().display(),
            self.log_tail(30)
        )
    }

    /// Polls until `ruok` answers `imok` (every 10 ms); the time since spawn.
    async fn wait_imok(&mut self, bound: Duration) -> Result<Duration, String> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(e) = self.exited() {
                return Err(self.fail(e));
            }
            if four_letter(&self.addr, "ruok") == "imok" {
                return Ok(self.spawned_at.elapsed());
            }
            if Instant::now() >= deadline {
                return Err(self.fail(format!(
                    "{} did not answer ruok within {bound:?}",
                    self.kind.name()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for `imok` and a session, checks that the server answering is ours.
    async fn wait_ready(&mut self) -> Result<zk::Client, String> {
        let deadline = Instant::now() + START_TIMEOUT;
        self.wait_imok(START_TIMEOUT).await?;
        loop {
            if let Some(e) = self.exited() {
                return Err(self.fail(e));
            }
            match connect(&self.addr).await {
                Ok(c) => {
                    // ZooKeeper answers `conf` only once it serves.
                    let conf = four_letter(&self.addr, "conf");
                    let want = format!("dataDir={}", Self::data_dir(&self.dir).display());
                    if !conf.lines().any(|l| l.starts_with(&want)) {
                        return Err(format!(
                            "{} is answered by another server (conf: {conf:?})",
                            self.addr
                        ));
                    }
                    return Ok(c);
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(self.fail(format!("no session with {}: {e}", self.kind.name())));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id();
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
            CHILDREN
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|p| *p != pid);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn connect(addr: &str) -> Result<zk::Client, String> {
    let c = zk::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_fail_eagerly()
        .connect(addr);
    match tokio::time::timeout(Duration::from_secs(5), c).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connect timed out".into()),
    }
}

async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {REQUEST_TIMEOUT:?}")),
    }
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

fn persistent_seq() -> zk::CreateOptions<'static> {
    zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all())
}

fn value() -> Vec<u8> {
    (0..VALUE_LEN).map(|i| b'a' + (i % 26) as u8).collect()
}

fn first_line_with(text: &str, needle: &str) -> String {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn mntr_value(addr: &str, key: &str) -> Option<f64> {
    four_letter(addr, "mntr").lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.trim().parse::<f64>().ok())
    })
}

// ---------------------------------------------------------------------------------------------
// Write workload

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("histogram bounds")
}

struct WorkerOut {
    hist: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

#[derive(Clone, Debug)]
struct Meas {
    server: Kind,
    op: Op,
    k: usize,
    rep: usize,
    ops_per_s: f64,
    count: u64,
    errors: u64,
    first_error: Option<String>,
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    mean: f64,
    load1: f64,
    /// fdatasync p50 of the probe right before this measurement (µs).
    disk_p50_before: f64,
}

/// Runs `k` closed-loop workers on one session for `warmup + secs`; counts the requests that
/// complete inside the measured window.
async fn run_writes(
    client: &zk::Client,
    op: Op,
    k: usize,
    target: &str,
    warmup: Duration,
    secs: Duration,
) -> Result<(Histogram<u64>, u64, Option<String>), String> {
    let start = Instant::now();
    let window_start = start + warmup;
    let end = window_start + secs;
    let data: Arc<[u8]> = value().into();
    let target: Arc<str> = target.into();
    let mut handles = Vec::with_capacity(k);
    for _ in 0..k {
        let client = client.clone();
        let data = data.clone();
        let target = target.clone();
        handles.push(tokio::spawn(async move {
            let mut out = WorkerOut {
                hist: new_hist(),
                errors: 0,
                first_error: None,
            };
            let opts = persistent_seq();
            // bounded: stops at `end`, and each request is bounded by REQUEST_TIMEOUT
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let r: Result<(), String> = match op {
                    Op::SetData => match tokio::time::timeout(
                        REQUEST_TIMEOUT,
                        client.set_data(&target, &data, None),
                    )
                    .await
                    {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("request timed out".into()),
                    },
                    Op::Create => match tokio::time::timeout(
                        REQUEST_TIMEOUT,
                        client.create(&target, &data, &opts),
                    )
                    .await
                    {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("request timed out".into()),
                    },
                };
                let t1 = Instant::now();
                match r {
                    Ok(()) => {
                        if t1 >= window_start && t1 <= end {
                            out.hist
                                .saturating_record((t1 - t0).as_micros().max(1) as u64);
                        }
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(e);
                        break; // a broken session would otherwise spin
                    }
                }
            }
            out
        }));
    }
    let mut hist = new_hist();
    let mut errors = 0;
    let mut first_error = None;
    let join_deadline = end + REQUEST_TIMEOUT + Duration::from_secs(10);
    for h in handles {
        let left = join_deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, h).await {
            Ok(Ok(out)) => {
                hist.add(&out.hist)
                    .map_err(|e| format!("histogram: {e:?}"))?;
                errors += out.errors;
                if first_error.is_none() {
                    first_error = out.first_error;
                }
            }
            Ok(Err(e)) => return Err(format!("worker panicked: {e}")),
            Err(_) => return Err("workers did not finish in time".into()),
        }
    }
    Ok((hist, errors, first_error))
}

async fn measure(
    client: &zk::Client,
    kind: Kind,
    op: Op,
    k: usize,
    rep: usize,
    o: &Opts,
) -> Result<Meas, String> {
    let target = match op {
        Op::SetData => "/bench-set".to_string(),
        Op::Create => {
            let parent = format!("/bench-create-{k}-{rep}");
            bounded("create parent", client.create(&parent, b"", &persistent())).await?;
            format!("{parent}/n-")
        }
    };
    let load1 = loadavg()[0];
    let secs = Duration::from_secs_f64(o.secs);
    let (hist, errors, first_error) = run_writes(
        client,
        op,
        k,
        &target,
        Duration::from_secs_f64(o.warmup),
        secs,
    )
    .await?;
    let us = |q: f64| hist.value_at_quantile(q) as f64;
    Ok(Meas {
        server: kind,
        op,
        k,
        rep,
        ops_per_s: hist.len() as f64 / secs.as_secs_f64(),
        count: hist.len(),
        errors,
        first_error,
        p50: us(0.5),
        p90: us(0.9),
        p99: us(0.99),
        p999: us(0.999),
        max: hist.max() as f64,
        mean: hist.mean(),
        load1,
        disk_p50_before: f64::NAN,
    })
}

/// What one rep of the write workload on one server gave besides the measurements.
struct RepInfo {
    server: Kind,
    rep: usize,
    version: String,
    /// fdatasync probes in the server's dir right before each of its measurements, merged.
    probe: Fsync,
    /// ZooKeeper's own `mntr` fsync stats at the end of the rep (ms): avg, max, count.
    server_fsync_ms: Option<(f64, f64, f64)>,
}

fn server_fsync_stats(addr: &str) -> Option<(f64, f64, f64)> {
    let m = four_letter(addr, "mntr");
    let get = |key: &str| {
        m.lines().find_map(|l| {
            let (k, v) = l.split_once('\t')?;
            (k.trim() == key)
                .then(|| v.trim().parse::<f64>().ok())
                .flatten()
        })
    };
    Some((
        get("zk_avg_fsynctime")?,
        get("zk_max_fsynctime")?,
        get("zk_cnt_fsynctime")?,
    ))
}

/// A server started for one rep of the write workload.
struct Running {
    kind: Kind,
    client: Option<zk::Client>,
    srv: Server,
    info: RepInfo,
    // dropped last: the server is killed before its dir is removed
    dir: TempDir,
}

/// Starts `kind` in a fresh dir, creates the benchmark's znodes and warms it up.
async fn start_for_writes(
    env: &Env,
    kind: Kind,
    rep: usize,
    o: &Opts,
    base: &Path,
) -> Result<Running, String> {
    let dir = TempDir::new(base, &format!("w-{}-r{rep}", kind.name()), o.keep)?;
    let mut srv = Server::spawn(env, kind, &dir.path)?;
    let client = srv.wait_ready().await?;
    let version = first_line_with(&four_letter(&srv.addr, "srvr"), "version");
    bounded(
        "create /bench-set",
        client.create("/bench-set", &value(), &persistent()),
    )
    .await?;
    bounded(
        "create /bench-warm",
        client.create("/bench-warm", b"", &persistent()),
    )
    .await?;
    // Server warm-up (JIT, allocator, page cache) before its first measured run.
    let half = SERVER_WARMUP.min(Duration::from_secs_f64(o.secs)) / 2;
    for (op, target) in [(Op::SetData, "/bench-set"), (Op::Create, "/bench-warm/n-")] {
        let (_, errors, e) = run_writes(&client, op, 16, target, Duration::ZERO, half).await?;
        if errors > 0 {
            return Err(format!(
                "{} warm-up {}: {}",
                kind.name(),
                op.name(),
                e.unwrap_or_default()
            ));
        }
    }
    let info = RepInfo {
        server: kind,
        rep,
        version,
        probe: Fsync::empty(),
        server_fsync_ms: None,
    };
    Ok(Running {
        kind,
        client: Some(client),
        srv,
        info,
        dir,
    })
}

/// One rep of the write workload: every server started fresh (each in its own data dir, all
/// running for the rep), then each (op, K) measured on each server in turn, so that slow drifts
/// in the machine's load (other tenants, disk) hit all servers alike. Right before each
/// measurement, a short fdatasync probe in the server's dir records the disk's state.
async fn writes_rep(
    env: &Env,
    servers: &[Kind],
    rep: usize,
    o: &Opts,
    base: &Path,
    failures: &mut Vec<String>,
) -> (Vec<Meas>, Vec<RepInfo>) {
    let mut running: Vec<Running> = Vec::new();
    for &kind in servers {
        match start_for_writes(env, kind, rep, o, base).await {
            Ok(r) => running.push(r),
            Err(e) => {
                eprintln!("bench-storage: {} rep {}: {e}", kind.name(), rep + 1);
                failures.push(format!(
                    "{} writes rep {}: {}",
                    kind.name(),
                    rep + 1,
                    e.lines().next().unwrap_or("")
                ));
            }
        }
    }
    let mut out = Vec::new();
    for op in [Op::SetData, Op::Create] {
        for &k in &o.ks {
            for r in running.iter_mut() {
                let Some(client) = r.client.as_ref() else {
                    continue;
                };
                let res = async {
                    if let Some(e) = r.srv.exited() {
                        return Err(r.srv.fail(e));
                    }
                    let probe = fdatasync_latency(&r.dir.path, PROBE_SAMPLES)?;
                    r.info.probe.merge(&probe);
                    let mut m = measure(client, r.kind, op, k, rep, o).await?;
                    m.disk_p50_before = probe.q(0.5);
                    Ok::<Meas, String>(m)
                }
                .await;
                match res {
                    Ok(m) => {
                        println!(
                            "  rep {} {:<9} {:<10} K={:<4} {:>9.0} ops/s  p50 {:>8.0} µs  p99 {:>8.0} µs  \
                             p99.9 {:>8.0} µs  (disk fdatasync p50 {} µs){}",
                            rep + 1,
                            r.kind.name(),
                            op.name(),
                            k,
                            m.ops_per_s,
                            m.p50,
                            m.p99,
                            m.p999,
                            num(m.disk_p50_before),
                            match &m.first_error {
                                Some(e) => format!("  ERRORS {} (first: {e})", m.errors),
                                None => String::new(),
                            }
                        );
                        out.push(m);
                    }
                    Err(e) => {
                        eprintln!("bench-storage: {} rep {}: {e}", r.kind.name(), rep + 1);
                        failures.push(format!(
                            "{} writes rep {} {} K={k}: {}",
                            r.kind.name(),
                            rep + 1,
                            op.name(),
                            e.lines().next().unwrap_or("")
                        ));
                        r.client = None; // no more runs on this server in this rep
                    }
                }
            }
        }
    }
    let mut infos = Vec::new();
    for mut r in running {
        r.info.server_fsync_ms = server_fsync_stats(&r.srv.addr);
        if let Some((avg, max, cnt)) = r.info.server_fsync_ms {
            println!(
                "  {} reports fsync avg {avg} ms, max {max} ms over {cnt} syncs (mntr)",
                r.kind.name()
            );
        }
        r.client = None;
        r.srv.kill();
        infos.push(r.info);
    }
    (out, infos)
}

// ---------------------------------------------------------------------------------------------
// fdatasync

/// Latencies of `pwrite` 4 KiB + `fdatasync` (µs).
#[derive(Clone)]
struct Fsync {
    hist: Histogram<u64>,
}

impl Fsync {
    fn empty() -> Fsync {
        Fsync { hist: new_hist() }
    }
    fn q(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            f64::NAN
        } else {
            self.hist.value_at_quantile(q) as f64
        }
    }
    fn merge(&mut self, other: &Fsync) {
        let _ = self.hist.add(&other.hist);
    }
    fn line(&self) -> String {
        format!(
            "fdatasync p10 {} µs, p50 {} µs, p99 {} µs, max {} µs ({} samples)",
            num(self.q(0.1)),
            num(self.q(0.5)),
            num(self.q(0.99)),
            num(self.q(1.0)),
            self.hist.len()
        )
    }
    fn json(&self) -> J {
        J::o(vec![
            ("samples", J::N(self.hist.len() as f64)),
            ("block_bytes", J::N(4096.0)),
            ("p10_us", J::N(self.q(0.1))),
            ("p50_us", J::N(self.q(0.5))),
            ("p99_us", J::N(self.q(0.99))),
            ("max_us", J::N(self.q(1.0))),
            (
                "mean_us",
                J::N(if self.hist.is_empty() {
                    f64::NAN
                } else {
                    self.hist.mean()
                }),
            ),
        ])
    }
}

/// `pwrite` 4 KiB + `fdatasync` on a preallocated (written and synced) 16 MiB file in `dir`,
/// `samples` times after 20 unrecorded ones, walking through the file.
fn fdatasync_latency(dir: &Path, samples: usize) -> Result<Fsync, String> {
    const FILE_LEN: u64 = 16 << 20;
    const BLOCK: usize = 4096;
    let path = dir.join("fdatasync-probe");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    // Preallocate with real blocks (as a log file would be), then sync it all.
    let chunk = vec![0u8; 1 << 20];
    for i in 0..(FILE_LEN / chunk.len() as u64) {
        f.write_all_at(&chunk, i * chunk.len() as u64)
            .map_err(|e| e.to_string())?;
    }
    f.sync_all().map_err(|e| e.to_string())?;
    let buf = vec![0x5au8; BLOCK];
    let blocks = FILE_LEN / BLOCK as u64;
    let mut hist = new_hist();
    for i in 0..(samples + 20) as u64 {
        let t0 = Instant::now();
        f.write_all_at(&buf, (i % blocks) * BLOCK as u64)
            .map_err(|e| e.to_string())?;
        f.sync_data().map_err(|e| e.to_string())?;
        if i >= 20 {
            hist.saturating_record(t0.elapsed().as_micros().max(1) as u64);
        }
    }
    drop(f);
    let _ = fs::remove_file(&path);
    Ok(Fsync { hist })
}

/// Samples for the short probes taken right before each measurement.
const PROBE_SAMPLES: usize = 50;

// ---------------------------------------------------------------------------------------------
// Restart

#[derive(Default)]
struct Restart {
    server: String,
    znodes: u64,
    load_s: f64,
    load_error: Option<String>,
    znode_count_before: Option<f64>,
    dir_alloc_bytes: u64,
    dir_apparent_bytes: u64,
    dir_files: u64,
    imok_s: Option<f64>,
    ready_s: Option<f64>,
    found_children: Option<i64>,
    status: String,
    /// fdatasync probe in the server's dir right before it started.
    probe: Option<Fsync>,
    /// The server process's resident memory: started and empty, loaded, and restarted on the
    /// loaded data (ready).
    rss_empty: Option<u64>,
    rss_loaded: Option<u64>,
    rss_restarted: Option<u64>,
    /// ZooKeeper only, when `jcmd` is installed: Java heap in use right after a full GC, empty
    /// and loaded (the live data, without the garbage RSS also holds).
    heap_empty: Option<u64>,
    heap_loaded: Option<u64>,
}

impl Restart {
    /// Resident memory the load added, per znode.
    fn rss_per_znode(&self) -> Option<f64> {
        per_znode(self.rss_empty, self.rss_loaded, self.znodes)
    }

    /// Live Java heap the load added, per znode (ZooKeeper with `jcmd`).
    fn heap_per_znode(&self) -> Option<f64> {
        per_znode(self.heap_empty, self.heap_loaded, self.znodes)
    }
}

fn per_znode(before: Option<u64>, after: Option<u64>, znodes: u64) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if znodes > 0 => Some((a as f64 - b as f64) / znodes as f64),
        _ => None,
    }
}

/// Resident set size of process `pid` (VmRSS in /proc/PID/status), in bytes.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// Java heap in use right after a full GC of JVM `pid`, in bytes, via `jcmd` (a JDK tool; None
/// when it is not installed or its output is not understood).
fn jvm_live_heap(pid: u32) -> Option<u64> {
    let run = |cmd: &str| {
        Command::new("jcmd")
            .args([pid.to_string().as_str(), cmd])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    run("GC.run")?;
    let info = run("GC.heap_info")?;
    // " garbage-first heap   total 262144K, used 12345K [0x...": the first "used NK" is the
    // whole heap's.
    let used = info.split("used ").nth(1)?;
    let kib: u64 = used.split('K').next()?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// Bytes on disk (allocated blocks), apparent bytes and file count under `dir`; bounded depth.
fn dir_size(dir: &Path) -> (u64, u64, u64) {
    fn walk(p: &Path, depth: usize, acc: &mut (u64, u64, u64)) {
        let Ok(rd) = fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                if depth < 8 {
                    walk(&e.path(), depth + 1, acc);
                }
            } else {
                acc.0 += md.blocks() * 512;
                acc.1 += md.len();
                acc.2 += 1;
            }
        }
    }
    let mut acc = (0, 0, 0);
    walk(dir, 0, &mut acc);
    acc
}

const LOAD_PARENT: &str = "/bench-load";
const LOAD_LAST: &str = "/bench-load/last";
const LOAD_INFLIGHT: usize = 8;

/// Creates `n` znodes of 100 bytes under LOAD_PARENT with multis of `batch` creates, several in
/// flight, then LOAD_LAST on its own (so it is the last one created).
async fn load(client: &zk::Client, n: u64, batch: u64) -> Result<(), String> {
    bounded(
        "create parent",
        client.create(LOAD_PARENT, b"", &persistent()),
    )
    .await?;
    let batches = n.div_ceil(batch);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let data: Arc<[u8]> = value().into();
    let mut handles = Vec::new();
    for _ in 0..LOAD_INFLIGHT {
        let (client, next, done, failed, data) = (
            client.clone(),
            next.clone(),
            done.clone(),
            failed.clone(),
            data.clone(),
        );
        handles.push(tokio::spawn(async move {
            let opts = persistent();
            loop {
                if failed.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    return Ok(());
                }
                let mut w = client.new_multi_writer();
                for i in b * batch..((b + 1) * batch).min(n) {
                    w.add_create(&format!("{LOAD_PARENT}/n{i:08}"), &data, &opts)
                        .map_err(|e| e.to_string())?;
                }
                let r = match tokio::time::timeout(Duration::from_secs(120), w.commit()).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(format!("multi {b}: {e}")),
                    Err(_) => Err(format!("multi {b}: no answer within 120 s")),
                };
                if let Err(e) = r {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    let deadline = start + LOAD_TIMEOUT;
    let mut last_print = start;
    while !handles.iter().all(|h| h.is_finished()) {
        if Instant::now() >= deadline {
            for h in &handles {
                h.abort();
            }
            return Err(format!("loading did not finish within {LOAD_TIMEOUT:?}"));
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            last_print = Instant::now();
            let d = done.load(Ordering::Relaxed).min(batches) * batch;
            println!(
                "    loaded {} of {n} znodes ({:.0} s)",
                d.min(n),
                start.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for h in handles {
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(format!("loader panicked: {e}")),
        }
    }
    bounded(
        "create last",
        client.create(LOAD_LAST, &value(), &persistent()),
    )
    .await?;
    Ok(())
}

/// Children of LOAD_PARENT as the server now reports them (None: the parent is gone too).
async fn found_children(client: &zk::Client) -> Result<Option<i64>, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, client.get_data(LOAD_PARENT)).await {
        Ok(Ok((_, stat))) => Ok(Some(stat.num_children as i64)),
        Ok(Err(zk::Error::NoNode)) => Ok(None),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("getData timed out".into()),
    }
}

async fn restart_one(env: &Env, kind: Kind, o: &Opts, base: &Path) -> Result<Restart, String> {
    let mut r = Restart {
        server: kind.name().into(),
        znodes: o.znodes + 1,
        ..Default::default()
    };
    let dir = TempDir::new(base, &format!("restart-{}", kind.name()), o.keep)?;
    let probe = fdatasync_latency(&dir.path, PROBE_SAMPLES)?;
    println!("  disk right before: {}", probe.line());
    r.probe = Some(probe);
    let mut srv = Server::spawn(env, kind, &dir.path)?;
    let client = srv.wait_ready().await?;
    let pid = srv.pid();
    let heap = |pid: Option<u32>| if kind == Kind::Zk { pid.and_then(jvm_live_heap) } else { None };
    r.heap_empty = heap(pid);
    r.rss_empty = pid.and_then(rss_bytes);
    println!(
        "  {}: loading {} znodes of {VALUE_LEN} bytes ({} per multi, {LOAD_INFLIGHT} in flight)",
        kind.name(),
        o.znodes,
        o.batch
    );
    let t = Instant::now();
    if let Err(e) = load(&client, o.znodes, o.batch).await {
        r.load_error = Some(e.clone());
        r.status = format!("load failed: {e}");
        return Ok(r);
    }
    r.load_s = t.elapsed().as_secs_f64();
    bounded("getData last before restart", client.get_data(LOAD_LAST)).await?;
    let before = found_children(&client).await?;
    if before != Some(r.znodes as i64) {
        return Err(format!(
            "{}: parent has {before:?} children after loading, want {}",
            kind.name(),
            r.znodes
        ));
    }
    r.znode_count_before = mntr_value(&srv.addr, "zk_znode_count");
    r.rss_loaded = pid.and_then(rss_bytes);
    r.heap_loaded = heap(pid);
    println!(
        "  {}: loaded in {:.1} s ({:.0} znodes/s); SIGKILL and restart",
        kind.name(),
        r.load_s,
        r.znodes as f64 / r.load_s
    );
    srv.kill();
    drop(client);
    (r.dir_alloc_bytes, r.dir_apparent_bytes, r.dir_files) = dir_size(&Server::data_dir(&dir.path));

    let bound = Duration::from_secs_f64(o.restart_timeout);
    let mut srv = Server::spawn(env, kind, &dir.path)?;
    let deadline = srv.spawned_at + bound;
    let imok = match srv.wait_imok(bound).await {
        Ok(t) => t,
        Err(e) => {
            r.status = format!("did not come back: {}", e.lines().next().unwrap_or(""));
            eprintln!("{e}");
            return Ok(r);
        }
    };
    r.imok_s = Some(imok.as_secs_f64());
    let mut last_err = String::new();
    // bounded by `deadline`
    loop {
        if let Some(e) = srv.exited() {
            r.status = format!("exited after restart: {e}");
            eprintln!("{}", srv.fail(e));
            return Ok(r);
        }
        if Instant::now() >= deadline {
            r.status = format!("not ready within {bound:?} (last: {last_err})");
            return Ok(r);
        }
        let client = match connect(&srv.addr).await {
            Ok(c) => c,
            Err(e) => {
                last_err = e;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, client.get_data(LOAD_LAST)).await {
            Ok(Ok(_)) => {
                r.ready_s = Some(srv.spawned_at.elapsed().as_secs_f64());
                r.rss_restarted = srv.pid().and_then(rss_bytes);
                r.found_children = found_children(&client).await.ok().flatten();
                r.status = if r.found_children == Some(r.znodes as i64) {
                    "ok".into()
                } else {
                    format!(
                        "data lost on restart (last znode there, {:?} of {} children)",
                        r.found_children, r.znodes
                    )
                };
                return Ok(r);
            }
            Ok(Err(zk::Error::NoNode)) => {
                // The server serves, and the last acknowledged create is not there.
                let t = srv.spawned_at.elapsed().as_secs_f64();
                let found = found_children(&client).await.ok().flatten();
                r.found_children = Some(found.unwrap_or(0));
                r.status = format!(
                    "data lost on restart: serving after {t:.2} s without the last znode; {} of {} znodes there{}",
                    found.unwrap_or(0),
                    r.znodes,
                    if found.is_none() {
                        " (parent gone)"
                    } else {
                        ""
                    }
                );
                return Ok(r);
            }
            Ok(Err(e)) => last_err = e.to_string(),
            Err(_) => last_err = "getData timed out".into(),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Machine info, stats, output

fn loadavg() -> [f64; 3] {
    let s = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<f64> = s
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    [
        v.first().copied().unwrap_or(f64::NAN),
        v.get(1).copied().unwrap_or(f64::NAN),
        v.get(2).copied().unwrap_or(f64::NAN),
    ]
}

fn cmd_out(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

#[derive(Clone, Copy)]
struct Agg {
    med: f64,
    min: f64,
    max: f64,
}

fn agg(v: &[f64]) -> Agg {
    let (min, max) = min_max(v);
    Agg {
        med: median(v),
        min,
        max,
    }
}

fn fmt_agg(a: Option<Agg>, reps: usize) -> String {
    match a {
        None => "-".into(),
        Some(a) if !a.med.is_finite() => "-".into(),
        Some(a) if reps > 1 => format!("{} [{}–{}]", num(a.med), num(a.min), num(a.max)),
        Some(a) => num(a.med),
    }
}

fn num(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn ratio(a: Option<Agg>, b: Option<Agg>) -> Option<f64> {
    let (a, b) = (a?, b?);
    (a.med.is_finite() && b.med.is_finite() && b.med > 0.0).then(|| a.med / b.med)
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into())
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

/// Minimal JSON value and writer (no serde in this crate).
enum J {
    Null,
    B(bool),
    N(f64),
    S(String),
    A(Vec<J>),
    O(Vec<(String, J)>),
}

impl J {
    fn o(kv: Vec<(&str, J)>) -> J {
        J::O(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    fn opt_n(v: Option<f64>) -> J {
        v.map(J::N).unwrap_or(J::Null)
    }
    fn opt_s(v: &Option<String>) -> J {
        v.clone().map(J::S).unwrap_or(J::Null)
    }
    fn write(&self, out: &mut String, ind: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match self {
            J::Null => out.push_str("null"),
            J::B(b) => out.push_str(if *b { "true" } else { "false" }),
            J::N(x) if !x.is_finite() => out.push_str("null"),
            J::N(x) if x.fract() == 0.0 && x.abs() < 1e15 => write!(out, "{}", *x as i64).unwrap(),
            J::N(x) => write!(out, "{x}").unwrap(),
            J::S(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            J::A(v) if v.is_empty() => out.push_str("[]"),
            J::A(v) => {
                out.push_str("[\n");
                for (i, x) in v.iter().enumerate() {
                    out.push_str(&pad(ind + 1));
                    x.write(out, ind + 1);
                    out.push_str(if i + 1 < v.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(ind));
                out.push(']');
            }
            J::O(v) if v.is_empty() => out.push_str("{}"),
            J::O(v) => {
                out.push_str("{\n");
                for (i, (k, x)) in v.iter().enumerate() {
                    out.push_str(&pad(ind + 1));
                    J::S(k.clone()).write(out, ind + 1);
                    out.push_str(": ");
                    x.write(out, ind + 1);
                    out.push_str(if i + 1 < v.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(ind));
                out.push('}');
            }
        }
    }
}

fn agg_json(a: Option<Agg>) -> J {
    match a {
        Some(a) => J::o(vec![
            ("median", J::N(a.med)),
            ("min", J::N(a.min)),
            ("max", J::N(a.max)),
        ]),
        None => J::Null,
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let code = real_main();
    std::process::exit(code);
}

fn real_main() -> i32 {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let env = match find_env(&o) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("bench-storage: {e}");
            return 2;
        }
    };
    install_signal_cleanup();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-storage: tokio runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(run(&o, &env)) {
        Ok(0) => 0,
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench-storage: {e}");
            1
        }
    }
}

async fn run(o: &Opts, env: &Env) -> Result<i32, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let load_start = loadavg();
    let started = Instant::now();
    let base_root = o.dir.clone().unwrap_or_else(|| {
        option_env!("CARGO_TARGET_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest.join("target/tmp"))
    });
    let base = TempDir::new(&base_root, "bench-storage", o.keep)?;
    let commit = {
        let c = cmd_out(
            "git",
            &[
                "-C",
                &manifest.display().to_string(),
                "rev-parse",
                "--short",
                "HEAD",
            ],
        );
        let dirty = !cmd_out(
            "git",
            &[
                "-C",
                &manifest.display().to_string(),
                "status",
                "--porcelain",
                "--untracked-files=no",
            ],
        )
        .is_empty();
        if dirty { format!("{c}-dirty") } else { c }
    };
    let nproc = cmd_out("nproc", &[]);
    let cpu = first_line_with(
        &fs::read_to_string("/proc/cpuinfo").unwrap_or_default(),
        "model name",
    )
    .split_once(':')
    .map(|(_, v)| v.trim().to_string())
    .unwrap_or_default();
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let fs_info = cmd_out("df", &["-T", &base.path.display().to_string()])
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    let java_version = {
        let out = Command::new(&env.java)
            .arg("-version")
            .stdin(Stdio::null())
            .output()
            .ok();
        out.map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
    };
    let servers: Vec<Kind> = [Kind::Zkr, Kind::Zk]
        .into_iter()
        .filter(|k| o.only.is_none_or(|x| x == *k))
        .collect();

    println!("bench-storage: zkr vs Apache ZooKeeper 3.8, storage and write path");
    println!("  commit {commit}, nproc {nproc}, cpu {cpu}, kernel {kernel}");
    println!(
        "  load average at start: {:.2} {:.2} {:.2}",
        load_start[0], load_start[1], load_start[2]
    );
    println!("  zkr: {}", env.zkr_bin.display());
    println!(
        "  zookeeper: {} -Xmx{} ({java_version})",
        env.zk_cp, env.zk_heap
    );
    println!("  work dir: {} ({fs_info})", base.path.display());
    println!(
        "  reps {}, {} s per measurement after {} s warm-up, K in {:?}, restart with {} znodes{}",
        o.reps,
        o.secs,
        o.warmup,
        o.ks,
        o.znodes,
        if o.quick { " (--quick)" } else { "" }
    );

    // fdatasync reference, same directory as the servers' data dirs.
    println!(
        "measuring pwrite 4 KiB + fdatasync ({} samples)",
        o.fsync_samples
    );
    let fsync = fdatasync_latency(&base.path, o.fsync_samples)?;
    println!("  {}", fsync.line());

    // Writes, servers interleaved per rep.
    let mut meas: Vec<Meas> = Vec::new();
    let mut infos: Vec<RepInfo> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    if o.writes {
        for rep in 0..o.reps {
            println!("write workload: rep {}/{}", rep + 1, o.reps);
            let (m, i) = writes_rep(env, &servers, rep, o, &base.path, &mut failures).await;
            meas.extend(m);
            infos.extend(i);
        }
    }

    // Restart.
    let mut restarts: Vec<Restart> = Vec::new();
    if o.restart {
        for &kind in &servers {
            println!("restart: {}", kind.name());
            match restart_one(env, kind, o, &base.path).await {
                Ok(r) => {
                    println!(
                        "  {}: imok after {} s, ready after {} s: {}",
                        kind.name(),
                        r.imok_s.map(num).unwrap_or("-".into()),
                        r.ready_s.map(num).unwrap_or("-".into()),
                        r.status
                    );
                    restarts.push(r);
                }
                Err(e) => {
                    eprintln!("bench-storage: {} restart: {e}", kind.name());
                    failures.push(format!(
                        "{} restart: {}",
                        kind.name(),
                        e.lines().next().unwrap_or("")
                    ));
                }
            }
        }
    }
    let load_end = loadavg();

    // ------------------------------------------------------------------ summary
    let get = |kind: Kind, op: Op, k: usize, f: fn(&Meas) -> f64| -> Option<Agg> {
        let v: Vec<f64> = meas
            .iter()
            .filter(|m| m.server == kind && m.op == op && m.k == k)
            .map(f)
            .collect();
        (!v.is_empty()).then(|| agg(&v))
    };
    let mut out = String::new();
    writeln!(out).unwrap();
    writeln!(out, "=== bench-storage results (commit {commit}) ===").unwrap();
    writeln!(out, "machine: nproc {nproc}, {cpu}, kernel {kernel}").unwrap();
    writeln!(
        out,
        "load average: start {:.2} {:.2} {:.2}, end {:.2} {:.2} {:.2}; elapsed {:.0} s",
        load_start[0],
        load_start[1],
        load_start[2],
        load_end[0],
        load_end[1],
        load_end[2],
        started.elapsed().as_secs_f64()
    )
    .unwrap();
    for &kind in &servers {
        if let Some(i) = infos.iter().find(|i| i.server == kind) {
            writeln!(out, "{}: {}", kind.name(), i.version).unwrap();
        }
    }
    writeln!(out, "disk: {fs_info}").unwrap();
    writeln!(out, "disk at start: pwrite 4 KiB + {}", fsync.line()).unwrap();
    // The probes taken right before each measurement, merged per server.
    let probes: Vec<(Kind, Fsync)> = servers
        .iter()
        .map(|&kind| {
            let mut f = Fsync::empty();
            for i in infos.iter().filter(|i| i.server == kind) {
                f.merge(&i.probe);
            }
            (kind, f)
        })
        .collect();
    for (kind, f) in &probes {
        if !f.hist.is_empty() {
            writeln!(
                out,
                "disk right before each {} measurement: {}",
                kind.name(),
                f.line()
            )
            .unwrap();
        }
    }
    for &kind in &servers {
        let v: Vec<String> = infos
            .iter()
            .filter(|i| i.server == kind)
            .filter_map(|i| {
                i.server_fsync_ms
                    .map(|(a, m, c)| format!("avg {a} ms max {m} ms n {c}"))
            })
            .collect();
        if !v.is_empty() {
            writeln!(
                out,
                "{} own fsync stats (mntr, per rep): {}",
                kind.name(),
                v.join("; ")
            )
            .unwrap();
        }
    }
    if o.writes {
        writeln!(out).unwrap();
        writeln!(
            out,
            "writes: one session, K outstanding, {VALUE_LEN}-byte values, {} s each after {} s warm-up; median over {} rep(s) [min–max]",
            o.secs, o.warmup, o.reps
        )
        .unwrap();
        writeln!(
            out,
            "ratio = zkr / zookeeper (throughput: >1 zkr faster; latency: <1 zkr faster)"
        )
        .unwrap();
        writeln!(
            out,
            "{:<11} {:>4}  {:<10} {:>26} {:>24} {:>24}",
            "op", "K", "server", "ops/s", "p50 µs", "p99 µs"
        )
        .unwrap();
        for op in [Op::SetData, Op::Create] {
            for &k in &o.ks {
                for &kind in &servers {
                    writeln!(
                        out,
                        "{:<11} {:>4}  {:<10} {:>26} {:>24} {:>24}",
                        op.name(),
                        k,
                        kind.name(),
                        fmt_agg(get(kind, op, k, |m| m.ops_per_s), o.reps),
                        fmt_agg(get(kind, op, k, |m| m.p50), o.reps),
                        fmt_agg(get(kind, op, k, |m| m.p99), o.reps)
                    )
                    .unwrap();
                }
                if servers.len() == 2 {
                    writeln!(
                        out,
                        "{:<11} {:>4}  {:<10} {:>26} {:>24} {:>24}",
                        "",
                        "",
                        "ratio",
                        fmt_ratio(ratio(
                            get(Kind::Zkr, op, k, |m| m.ops_per_s),
                            get(Kind::Zk, op, k, |m| m.ops_per_s)
                        )),
                        fmt_ratio(ratio(
                            get(Kind::Zkr, op, k, |m| m.p50),
                            get(Kind::Zk, op, k, |m| m.p50)
                        )),
                        fmt_ratio(ratio(
                            get(Kind::Zkr, op, k, |m| m.p99),
                            get(Kind::Zk, op, k, |m| m.p99)
                        ))
                    )
                    .unwrap();
                }
                if k == 1 {
                    for (kind, f) in &probes {
                        writeln!(
                            out,
                            "{:<11} {:>4}  {:<10} {:>26} {:>24} {:>24}",
                            "",
                            "",
                            "fdatasync",
                            format!("(disk, before {})", kind.name()),
                            num(f.q(0.5)),
                            num(f.q(0.99))
                        )
                        .unwrap();
                    }
                }
            }
        }
        let errs: u64 = meas.iter().map(|m| m.errors).sum();
        if errs > 0 {
            writeln!(
                out,
                "WARNING: {errs} request errors during the write runs (see the per-rep lines)"
            )
            .unwrap();
        }
        // A lone write acknowledged faster than nearly every fdatasync of this disk (measured
        // right before that server ran) suggests the server does not wait for a sync. A hint
        // only: the disk's sync latency changes with other I/O on the machine.
        for (kind, f) in &probes {
            if let Some(a) = get(*kind, Op::SetData, 1, |m| m.p50)
                && !f.hist.is_empty()
                && a.med < f.q(0.1)
            {
                writeln!(
                    out,
                    "NOTE: {} acknowledged a lone write (K=1, p50 {} µs) faster than 90% of this disk's fdatasyncs \
                     right before its runs (p10 {} µs): check that it syncs before it acknowledges",
                    kind.name(),
                    num(a.med),
                    num(f.q(0.1))
                )
                .unwrap();
            }
        }
    }
    if o.restart {
        writeln!(out).unwrap();
        writeln!(
            out,
            "restart: {} znodes of {VALUE_LEN} bytes (multis of {}), SIGKILL, restart; ready = spawn until imok and getData(last) ok",
            o.znodes + 1,
            o.batch
        )
        .unwrap();
        writeln!(
            out,
            "{:<10} {:>9} {:>12} {:>11} {:>13} {:>8} {:>9} {:>13}  result",
            "server",
            "load s",
            "load znode/s",
            "dir on disk",
            "dir apparent",
            "imok s",
            "ready s",
            "fsync p50 µs"
        )
        .unwrap();
        for r in &restarts {
            writeln!(
                out,
                "{:<10} {:>9} {:>12} {:>11} {:>13} {:>8} {:>9} {:>13}  {}",
                r.server,
                num(r.load_s),
                if r.load_s > 0.0 {
                    num(r.znodes as f64 / r.load_s)
                } else {
                    "-".into()
                },
                human_bytes(r.dir_alloc_bytes),
                human_bytes(r.dir_apparent_bytes),
                r.imok_s.map(num).unwrap_or("-".into()),
                r.ready_s.map(num).unwrap_or("-".into()),
                r.probe
                    .as_ref()
                    .map(|f| num(f.q(0.5)))
                    .unwrap_or("-".into()),
                r.status
            )
            .unwrap();
        }
        writeln!(out).unwrap();
        writeln!(
            out,
            "memory: resident set of the server process; live heap = Java heap in use after a full GC (jcmd)"
        )
        .unwrap();
        writeln!(
            out,
            "{:<10} {:>10} {:>10} {:>14} {:>11} {:>15} {:>17}",
            "server", "RSS empty", "RSS loaded", "RSS per znode", "RSS restart", "live heap empty", "live heap/znode"
        )
        .unwrap();
        let opt_bytes = |b: Option<u64>| b.map(human_bytes).unwrap_or("-".into());
        let opt_per = |x: Option<f64>| x.map(|v| format!("{v:.0} B")).unwrap_or("-".into());
        for r in &restarts {
            writeln!(
                out,
                "{:<10} {:>10} {:>10} {:>14} {:>11} {:>15} {:>17}",
                r.server,
                opt_bytes(r.rss_empty),
                opt_bytes(r.rss_loaded),
                opt_per(r.rss_per_znode()),
                opt_bytes(r.rss_restarted),
                opt_bytes(r.heap_empty),
                opt_per(r.heap_per_znode())
            )
            .unwrap();
        }
        let zr = restarts.iter().find(|r| r.server == "zkr");
        let zz = restarts.iter().find(|r| r.server == "zookeeper");
        if let (Some(a), Some(b)) = (zr, zz) {
            let rr = match (a.ready_s, b.ready_s) {
                (Some(x), Some(y)) if a.status == "ok" && b.status == "ok" && y > 0.0 => {
                    format!("{:.2}x", x / y)
                }
                _ => "- (not both recovered their data)".into(),
            };
            let lr = if a.load_s > 0.0 && b.load_s > 0.0 {
                format!("{:.2}x", a.load_s / b.load_s)
            } else {
                "-".into()
            };
            let dr = if b.dir_alloc_bytes > 0 {
                format!(
                    "{:.2}x",
                    a.dir_alloc_bytes as f64 / b.dir_alloc_bytes as f64
                )
            } else {
                "-".into()
            };
            writeln!(out, "ratio zkr/zookeeper: restart ready time {rr}, load time {lr}, data dir on disk {dr}").unwrap();
            let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
                _ => "-".into(),
            };
            writeln!(
                out,
                "ratio zkr/zookeeper: RSS per znode {}, RSS loaded {}, zkr RSS per znode / ZooKeeper live heap per znode {}",
                ratio(a.rss_per_znode(), b.rss_per_znode()),
                ratio(a.rss_loaded.map(|x| x as f64), b.rss_loaded.map(|x| x as f64)),
                ratio(a.rss_per_znode(), b.heap_per_znode())
            )
            .unwrap();
        }
    }
    for f in &failures {
        writeln!(out, "FAILED: {f}").unwrap();
    }
    print!("{out}");

    // ------------------------------------------------------------------ JSON
    let mut summary = Vec::new();
    for op in [Op::SetData, Op::Create] {
        for &k in &o.ks {
            let mut per = Vec::new();
            for &kind in &servers {
                per.push((
                    kind.name(),
                    J::o(vec![
                        ("ops_per_s", agg_json(get(kind, op, k, |m| m.ops_per_s))),
                        ("p50_us", agg_json(get(kind, op, k, |m| m.p50))),
                        ("p99_us", agg_json(get(kind, op, k, |m| m.p99))),
                    ]),
                ));
            }
            per.push((
                "ratio_zkr_over_zookeeper",
                J::o(vec![
                    (
                        "ops_per_s",
                        J::opt_n(ratio(
                            get(Kind::Zkr, op, k, |m| m.ops_per_s),
                            get(Kind::Zk, op, k, |m| m.ops_per_s),
                        )),
                    ),
                    (
                        "p50_us",
                        J::opt_n(ratio(
                            get(Kind::Zkr, op, k, |m| m.p50),
                            get(Kind::Zk, op, k, |m| m.p50),
                        )),
                    ),
                    (
                        "p99_us",
                        J::opt_n(ratio(
                            get(Kind::Zkr, op, k, |m| m.p99),
                            get(Kind::Zk, op, k, |m| m.p99),
                        )),
                    ),
                ]),
            ));
            let mut kv = vec![("op", J::S(op.name().into())), ("k", J::N(k as f64))];
            kv.extend(per);
            summary.push(J::o(kv));
        }
    }
    let json = J::o(vec![
        ("benchmark", J::S("storage".into())),
        ("commit", J::S(commit.clone())),
        ("nproc", J::S(nproc.clone())),
        ("cpu", J::S(cpu.clone())),
        ("kernel", J::S(kernel.clone())),
        (
            "loadavg_start",
            J::A(load_start.iter().map(|x| J::N(*x)).collect()),
        ),
        (
            "loadavg_end",
            J::A(load_end.iter().map(|x| J::N(*x)).collect()),
        ),
        ("elapsed_s", J::N(started.elapsed().as_secs_f64())),
        ("filesystem", J::S(fs_info.clone())),
        ("java", J::S(java_version.clone())),
        ("zookeeper_heap", J::S(env.zk_heap.clone())),
        (
            "versions",
            J::O(
                servers
                    .iter()
                    .filter_map(|&k| {
                        infos
                            .iter()
                            .find(|i| i.server == k)
                            .map(|i| (k.name().to_string(), J::S(i.version.clone())))
                    })
                    .collect(),
            ),
        ),
        (
            "options",
            J::o(vec![
                ("quick", J::B(o.quick)),
                ("reps", J::N(o.reps as f64)),
                ("secs", J::N(o.secs)),
                ("warmup_s", J::N(o.warmup)),
                ("ks", J::A(o.ks.iter().map(|k| J::N(*k as f64)).collect())),
                ("znodes", J::N(o.znodes as f64)),
                ("batch", J::N(o.batch as f64)),
                ("value_bytes", J::N(VALUE_LEN as f64)),
                ("tick_ms", J::N(TICK_MS as f64)),
                ("force_sync", J::B(true)),
                ("zkr_cores", J::N(2.0)),
            ]),
        ),
        ("fdatasync_at_start", fsync.json()),
        (
            "fdatasync_before_write_runs",
            J::O(
                probes
                    .iter()
                    .map(|(k, f)| (k.name().to_string(), f.json()))
                    .collect(),
            ),
        ),
        (
            "write_reps",
            J::A(
                infos
                    .iter()
                    .map(|i| {
                        J::o(vec![
                            ("server", J::S(i.server.name().into())),
                            ("rep", J::N(i.rep as f64 + 1.0)),
                            ("fdatasync_before", i.probe.json()),
                            (
                                "server_fsync_ms",
                                match i.server_fsync_ms {
                                    Some((a, m, c)) => J::o(vec![
                                        ("avg", J::N(a)),
                                        ("max", J::N(m)),
                                        ("count", J::N(c)),
                                    ]),
                                    None => J::Null,
                                },
                            ),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("writes_summary", J::A(summary)),
        (
            "writes_runs",
            J::A(
                meas.iter()
                    .map(|m| {
                        J::o(vec![
                            ("server", J::S(m.server.name().into())),
                            ("op", J::S(m.op.name().into())),
                            ("k", J::N(m.k as f64)),
                            ("rep", J::N(m.rep as f64 + 1.0)),
                            ("ops_per_s", J::N(m.ops_per_s)),
                            ("count", J::N(m.count as f64)),
                            ("errors", J::N(m.errors as f64)),
                            ("first_error", J::opt_s(&m.first_error)),
                            ("p50_us", J::N(m.p50)),
                            ("p90_us", J::N(m.p90)),
                            ("p99_us", J::N(m.p99)),
                            ("p999_us", J::N(m.p999)),
                            ("max_us", J::N(m.max)),
                            ("mean_us", J::N(m.mean)),
                            ("loadavg1_at_start", J::N(m.load1)),
                            ("disk_fdatasync_p50_us_before", J::N(m.disk_p50_before)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "restart",
            J::A(
                restarts
                    .iter()
                    .map(|r| {
                        J::o(vec![
                            ("server", J::S(r.server.clone())),
                            ("znodes", J::N(r.znodes as f64)),
                            ("load_s", J::N(r.load_s)),
                            ("load_error", J::opt_s(&r.load_error)),
                            ("znode_count_before", J::opt_n(r.znode_count_before)),
                            ("data_dir_bytes_on_disk", J::N(r.dir_alloc_bytes as f64)),
                            ("data_dir_bytes_apparent", J::N(r.dir_apparent_bytes as f64)),
                            ("data_dir_files", J::N(r.dir_files as f64)),
                            ("rss_bytes_empty", J::opt_n(r.rss_empty.map(|x| x as f64))),
                            ("rss_bytes_loaded", J::opt_n(r.rss_loaded.map(|x| x as f64))),
                            ("rss_bytes_restarted", J::opt_n(r.rss_restarted.map(|x| x as f64))),
                            ("rss_bytes_per_znode", J::opt_n(r.rss_per_znode())),
                            ("live_heap_bytes_empty", J::opt_n(r.heap_empty.map(|x| x as f64))),
                            ("live_heap_bytes_loaded", J::opt_n(r.heap_loaded.map(|x| x as f64))),
                            ("live_heap_bytes_per_znode", J::opt_n(r.heap_per_znode())),
                            ("imok_s", J::opt_n(r.imok_s)),
                            ("ready_s", J::opt_n(r.ready_s)),
                            ("found_znodes", J::opt_n(r.found_children.map(|x| x as f64))),
                            ("data_lost", J::B(r.status.starts_with("data lost"))),
                            ("status", J::S(r.status.clone())),
                            (
                                "fdatasync_before",
                                r.probe.as_ref().map(|f| f.json()).unwrap_or(J::Null),
                            ),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "failures",
            J::A(failures.iter().map(|f| J::S(f.clone())).collect()),
        ),
        ("report", J::S(out.clone())),
    ]);
    let mut s = String::new();
    json.write(&mut s, 0);
    s.push('\n');
    let json_path = o
        .json
        .clone()
        .unwrap_or_else(|| manifest.join("target/bench-storage.json"));
    if let Some(p) = json_path.parent() {
        let _ = fs::create_dir_all(p);
    }
    match fs::write(&json_path, s) {
        Ok(()) => println!("wrote {}", json_path.display()),
        Err(e) => eprintln!("bench-storage: write {}: {e}", json_path.display()),
    }
    drop(base);
    Ok(if failures.is_empty() { 0 } else { 1 })
}
