//! One run of the load generator: setup, client threads, the measured window, progress,
//! CPU accounting, cleanup, and the merged report.

use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement};
use hdrhistogram::Histogram;

use super::client::Session;
use super::report::{OpStats, RunReport};
use super::{sys, work, Plan};

/// Highest latency a histogram holds (ns); slower samples are clamped to it.
const HIST_MAX_NS: u64 = 3_600_000_000_000;
/// Client executors' io_uring buffer memory (the default 10 MiB is far more than a client needs).
const CLIENT_IO_MEMORY: usize = 1 << 20;

/// Set by Ctrl-C: the run stops issuing, and cleanup still runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Catches the first Ctrl-C (a second one kills the process as usual).
fn catch_sigint() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as *const () as usize;
        sa.sa_flags = libc::SA_RESETHAND;
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
}

/// State shared by every client thread.
pub(crate) struct Shared {
    base: Instant,
    /// When the run started (ns since `base`); 0 until every unit is ready.
    pub(crate) start_ns: AtomicU64,
    /// Units ready to start.
    pub(crate) ready: AtomicUsize,
    /// Stop issuing (an error, or Ctrl-C).
    pub(crate) stop: AtomicBool,
    /// Measured ops issued so far (for `--ops`).
    issued: AtomicU64,
    /// Measured ops answered so far, for the progress line.
    done: AtomicU64,
    /// When the last measured op was answered (ns since `base`).
    last_done_ns: AtomicU64,
    /// Watch fan-out: watchers armed, notifications received, latest arrival, end of run.
    pub(crate) armed: AtomicU64,
    pub(crate) notified: AtomicU64,
    pub(crate) last_arrival_ns: AtomicU64,
    pub(crate) fan_done: AtomicBool,
    warmup_ns: u64,
    window_ns: u64,
    ops: Option<u64>,
    error: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn stopped(&self) -> bool {
        if INTERRUPTED.load(Ordering::Relaxed) {
            self.stop.store(true, Ordering::Relaxed);
        }
        self.stop.load(Ordering::Relaxed)
    }

    fn window(&self) -> (u64, u64) {
        let start = self.start_ns.load(Ordering::Acquire);
        let from = start + self.warmup_ns;
        (from, from + self.window_ns)
    }

    /// Whether a unit may send another request now.
    pub(crate) fn may_issue(&self, now: u64) -> bool {
        if self.stopped() {
            return false;
        }
        let (from, to) = self.window();
        if now >= to {
            return false;
        }
        match self.ops {
            Some(n) if now >= from => self.issued.fetch_add(1, Ordering::Relaxed) < n,
            _ => true,
        }
    }

    fn fail(&self, e: String) {
        let mut first = self.error.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert(e);
        self.stop.store(true, Ordering::Relaxed);
        // Watchers wait on `fan_done`, which the driver sets only when it ends normally: a
        // failure elsewhere (a refused session, say) must release them too.
        self.fan_done.store(true, Ordering::Release);
    }
}

/// What every unit of a run sees.
pub(crate) struct Ctx {
    pub(crate) plan: Plan,
    pub(crate) sh: Arc<Shared>,
    /// The run's root znode.
    pub(crate) root: String,
    /// Full paths of the keys.
    pub(crate) keys: Vec<String>,
    pub(crate) payload: Vec<u8>,
}

impl Ctx {
    /// Now, in ns since the run's base instant.
    pub(crate) fn now_ns(&self) -> u64 {
        self.sh.base.elapsed().as_nanos() as u64
    }
}

/// One client thread's recordings.
pub(crate) struct Rec {
    hists: Vec<Histogram<u64>>,
    ok: Vec<u64>,
    errors: Vec<u64>,
}

impl Rec {
    fn new(ops: usize) -> Rec {
        Rec {
            hists: (0..ops).map(|_| new_hist()).collect(),
            ok: vec![0; ops],
            errors: vec![0; ops],
        }
    }

    /// Records op `op` sent at `sent` and answered at `done`, if it lies inside the window.
    pub(crate) fn record(&mut self, ctx: &Ctx, op: usize, sent: u64, done: u64, ok: bool) {
        let (from, to) = ctx.sh.window();
        if sent < from || done > to {
            return;
        }
        if ok {
            self.hists[op].saturating_record(done.saturating_sub(sent).max(1));
            self.ok[op] += 1;
        } else {
            self.errors[op] += 1;
        }
        ctx.sh.done.fetch_add(1, Ordering::Relaxed);
        ctx.sh.last_done_ns.fetch_max(done, Ordering::Relaxed);
    }

    fn merge(&mut self, other: &Rec) {
        for i in 0..self.hists.len() {
            let _ = self.hists[i].add(&other.hists[i]);
            self.ok[i] += other.ok[i];
            self.errors[i] += other.errors[i];
        }
    }
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("static histogram bounds are valid")
}

/// Runs `f` on a fresh glommio executor thread and returns its result.
fn on_executor<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
) -> std::thread::JoinHandle<std::result::Result<T, String>> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let ex = LocalExecutorBuilder::new(Placement::Unbound)
                .name(&name)
                .io_memory(CLIENT_IO_MEMORY)
                .make()
                .map_err(|e| format!("cannot start a client executor: {e}"))?;
            Ok(ex.run(f()))
        })
        .expect("spawning a client thread")
}

fn join<T>(h: std::thread::JoinHandle<std::result::Result<T, String>>) -> std::result::Result<T, String> {
    h.join().map_err(|_| "a client thread panicked".to_string())?
}

/// Runs the plan against its servers and returns the report. Progress goes to stderr.
pub fn run(plan: Plan) -> std::result::Result<RunReport, String> {
    if plan.servers.is_empty() {
        return Err("no servers given".into());
    }
    catch_sigint();
    // A socket per session: a thousand watchers are past the usual soft limit.
    crate::limits::raise_open_files();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let root = format!("/zkr-bench-{}-{}", std::process::id(), nanos % 1_000_000_000_000);
    let keys = (0..plan.keys.max(1)).map(|i| format!("{root}/k/{i}")).collect();
    let payload = vec![b'x'; plan.payload];
    let sh = Arc::new(Shared {
        base: Instant::now(),
        start_ns: AtomicU64::new(0),
        ready: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        issued: AtomicU64::new(0),
        done: AtomicU64::new(0),
        last_done_ns: AtomicU64::new(0),
        armed: AtomicU64::new(0),
        notified: AtomicU64::new(0),
        last_arrival_ns: AtomicU64::new(0),
        fan_done: AtomicBool::new(false),
        warmup_ns: plan.warmup.as_nanos() as u64,
        window_ns: plan.duration.as_nanos() as u64,
        ops: plan.ops,
        error: Mutex::new(None),
    });
    let ctx = Arc::new(Ctx { plan, sh: sh.clone(), root, keys, payload });

    // Setup on its own session.
    let c = ctx.clone();
    join(on_executor("zkr-bench-setup".into(), move || {
        Box::pin(async move {
            let mut s = Session::connect(c.plan.servers[0], c.plan.session_timeout_ms).await?;
            let r = work::setup(&c, &mut s).await;
            let _ = s.close().await;
            r
        })
    }))??;

    let measured = measure(&ctx);
    let cleaned = cleanup(&ctx);
    let (recs, cpu) = measured?;
    if let Some(e) = sh.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    let deleted = cleaned?;
    tracing::debug!(deleted, "cleanup done");
    Ok(report(&ctx, recs, cpu))
}

struct Cpu {
    elapsed_s: f64,
    client: f64,
    server: Option<f64>,
}

/// Starts the client threads, waits for them while printing progress, and merges what they
/// recorded.
fn measure(ctx: &Arc<Ctx>) -> std::result::Result<(Rec, Cpu), String> {
    let plan = &ctx.plan;
    let sh = &ctx.sh;
    let n_ops = plan.workload.ops().len();
    let mut total_units = 0;
    let mut handles = Vec::new();
    for t in 0..plan.threads.max(1) {
        let units = work::units(ctx, t);
        total_units += units.len();
        let c = ctx.clone();
        handles.push(on_executor(format!("zkr-bench-{t}"), move || {
            Box::pin(async move {
                let rec = Rc::new(RefCell::new(Rec::new(n_ops)));
                let tasks: Vec<_> = units
                    .into_iter()
                    .map(|u| {
                        let (l, r) = (c.clone(), rec.clone());
                        glommio::spawn_local(async move {
                            if let Err(e) = work::run_unit(l.clone(), u, r).await {
                                l.sh.fail(e);
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await;
                }
                Rc::try_unwrap(rec).map_or_else(|_| Rec::new(n_ops), RefCell::into_inner)
            })
        }));
    }

    // Start once every unit is connected (and, for watchers, armed).
    while sh.ready.load(Ordering::Acquire) < total_units && !sh.stopped() {
        if handles.iter().all(|h| h.is_finished()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // Found before the start: scanning /proc takes a while on a busy host.
    let servers = server_pids(&plan.servers);
    let start = ctx.now_ns().max(1);
    sh.start_ns.store(start, Ordering::Release);
    let (from, to) = sh.window();

    let mut at_from: Option<(f64, Option<f64>)> = None;
    let mut at_to: Option<(f64, Option<f64>, u64)> = None;
    let mut last_print = (ctx.now_ns(), 0u64);
    let tty = plan.progress;
    while !handles.iter().all(|h| h.is_finished()) {
        // Wake at the window's edges, so that the CPU readings frame the window.
        let now = ctx.now_ns();
        let edge = if now < from { from } else if now < to { to } else { u64::MAX };
        std::thread::sleep(Duration::from_nanos(edge.saturating_sub(now).clamp(1_000_000, 20_000_000)));
        let now = ctx.now_ns();
        if at_from.is_none() && now >= from {
            at_from = Some((sys::self_cpu_secs(), servers_cpu(&servers)));
        }
        let budget_spent = plan.ops.is_some_and(|n| sh.issued.load(Ordering::Relaxed) >= n);
        if at_to.is_none() && at_from.is_some() && (now >= to || budget_spent || sh.stopped()) {
            at_to = Some((sys::self_cpu_secs(), servers_cpu(&servers), now));
        }
        if tty && now - last_print.0 >= 1_000_000_000 {
            let done = sh.done.load(Ordering::Relaxed);
            let rate = (done - last_print.1) as f64 / ((now - last_print.0) as f64 / 1e9);
            let phase = if now < from { "warm-up" } else { "measuring" };
            let secs = (now - start) as f64 / 1e9;
            eprint!("\r[{secs:6.1}s] {} {phase}: {:>10} ops/s, {:>10} ops measured   ", plan.label(), fmt_int(rate), fmt_int(done as f64));
            let _ = std::io::stderr().flush();
            last_print = (now, done);
        }
    }
    if tty {
        eprintln!();
    }
    let end = ctx.now_ns();
    let at_from = at_from.unwrap_or((sys::self_cpu_secs(), servers_cpu(&servers)));
    let at_to = at_to.unwrap_or((sys::self_cpu_secs(), servers_cpu(&servers), end));

    let mut merged = Rec::new(n_ops);
    for h in handles {
        merged.merge(&join(h)?);
    }
    let elapsed_ns = if plan.ops.is_some() {
        sh.last_done_ns.load(Ordering::Relaxed).saturating_sub(from)
    } else {
        to.min(end).saturating_sub(from)
    };
    let cpu_window = (at_to.2.saturating_sub(from)) as f64 / 1e9;
    let cpu = Cpu {
        elapsed_s: elapsed_ns as f64 / 1e9,
        client: if cpu_window > 0.0 { (at_to.0 - at_from.0) / cpu_window } else { 0.0 },
        server: match (at_from.1, at_to.1) {
            (Some(a), Some(b)) if cpu_window > 0.0 => Some((b - a) / cpu_window),
            _ => None,
        },
    };
    Ok((merged, cpu))
}

/// Deletes the run's root; an error here is reported but does not hide the run's own error.
fn cleanup(ctx: &Arc<Ctx>) -> std::result::Result<u64, String> {
    let c = ctx.clone();
    join(on_executor("zkr-bench-cleanup".into(), move || {
        Box::pin(async move {
            let mut s = Session::connect(c.plan.servers[0], c.plan.session_timeout_ms).await?;
            let r = work::delete_tree(&mut s, &c.root).await;
            let _ = s.close().await;
            r
        })
    }))?
    .map_err(|e| format!("cleanup of {} failed: {e}", ctx.root))
}

fn server_pids(servers: &[SocketAddr]) -> Vec<u32> {
    let mut pids: Vec<u32> = servers
        .iter()
        .filter(|a| is_local(a))
        .filter_map(|a| sys::listener_pid(a.port()))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Whether `a` is an address of this machine.
pub fn is_local(a: &SocketAddr) -> bool {
    a.ip().is_loopback() || std::net::TcpListener::bind(SocketAddr::new(a.ip(), 0)).is_ok()
}

fn servers_cpu(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| sys::proc_cpu_secs(p)).sum()
}

fn report(ctx: &Ctx, rec: Rec, cpu: Cpu) -> RunReport {
    let plan = &ctx.plan;
    let mut extra = Vec::new();
    if plan.workload == super::Workload::Watch {
        extra.push(("watchers".to_string(), plan.watchers as f64));
    }
    extra.push(("threads".to_string(), plan.threads as f64));
    RunReport {
        label: plan.label(),
        workload: plan.workload.name().to_string(),
        servers: plan.servers.iter().map(|s| s.to_string()).collect(),
        sessions: if plan.workload == super::Workload::Watch { plan.watchers + 1 } else { plan.sessions },
        outstanding: plan.outstanding,
        payload: plan.payload,
        elapsed_s: cpu.elapsed_s,
        ops: plan
            .workload
            .ops()
            .iter()
            .zip(rec.hists)
            .enumerate()
            .map(|(i, (name, hist))| OpStats {
                op: (*name).to_string(),
                ok: rec.ok[i],
                errors: rec.errors[i],
                hist,
            })
            .collect(),
        client_cpu: cpu.client,
        server_cpu: cpu.server,
        extra,
    }
}

fn fmt_int(x: f64) -> String {
    let s = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
