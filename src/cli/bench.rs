//! `zkr bench`: run a workload against servers and report; `zkr bench plot` draws the
//! percentile curves of saved runs; `zkr bench fsync` measures the disk's own sync latency;
//! `zkr bench floor` what the machine's kernel allows any server.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::loadgen::{self, floor, report, sys, Workload};

/// `zkr bench` arguments: a run, or one of the tools.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// A tool instead of a run.
    #[command(subcommand)]
    pub tool: Option<BenchTool>,
    /// The run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `zkr bench plot|fsync|floor`.
#[derive(Debug, Subcommand)]
pub enum BenchTool {
    /// Draw the latency percentile curves of saved runs (`--json` files) on one SVG chart.
    Plot {
        /// The SVG file to write.
        out: PathBuf,
        /// Run files written by `zkr bench --json`.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Chart title.
        #[arg(long, default_value = "zkr bench: latency by percentile")]
        title: String,
    },
    /// Time 4 KiB pwrite + fdatasync in DIR: the floor under any durable write there.
    Fsync {
        /// Directory on the disk to measure.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Syncs to time.
        #[arg(long, default_value_t = 2000)]
        samples: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Time what this machine allows any server, with bare kernel calls and no server logic:
    /// a watch fan-out over loopback TCP, session open/close, and a 1x1 durable write.
    Floor {
        /// Directory on the disk for the durable write.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Connections of the fan-out.
        #[arg(long, default_value_t = 1000)]
        watchers: usize,
        /// Fan-out rounds measured.
        #[arg(long, default_value_t = 30)]
        rounds: usize,
        /// Connections cycling at once in the session test.
        #[arg(long, default_value_t = 16)]
        slots: usize,
        /// Seconds of the session test.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The knobs of a run. With none given: the canonical run (mixed 90% reads, 16 sessions x 16
/// outstanding, 100-byte values, 2 s warm-up, 10 s measured) against 127.0.0.1:2181.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Servers (host:port, comma separated or repeated); sessions are spread over them.
    #[arg(long, short, value_delimiter = ',', default_value = "127.0.0.1:2181")]
    pub servers: Vec<String>,
    /// Workload.
    #[arg(long, short, value_enum, default_value_t = Workload::Mixed)]
    pub workload: Workload,
    /// Sessions (slots of the session storm; lock contenders).
    #[arg(long, default_value_t = 16)]
    pub sessions: usize,
    /// Requests each session keeps outstanding.
    #[arg(long, short = 'k', default_value_t = 16)]
    pub outstanding: usize,
    /// Bytes of znode data written and read.
    #[arg(long, default_value_t = 100)]
    pub payload: usize,
    /// Seconds measured (after warm-up). With --ops: the longest the run may take.
    #[arg(long, short)]
    pub duration: Option<f64>,
    /// Stop after this many measured ops (fan-out rounds for `watch`) instead of a duration.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Seconds run before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Share of reads in `mixed` (0 to 1).
    #[arg(long, default_value_t = 0.9)]
    pub read_ratio: f64,
    /// Keys (znodes) read and written; children of the `children` workload's parent.
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,
    /// Watcher sessions of the `watch` workload.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// setData ops per multi.
    #[arg(long, default_value_t = 4)]
    pub multi_ops: usize,
    /// Client threads (one executor each); default: one per CPU, or half the CPUs when every
    /// server is on this machine.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Requested session timeout in ms.
    #[arg(long, default_value_t = 30_000)]
    pub session_timeout: i32,
    /// Seed of the key choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the run as JSON to FILE ("-" for stdout, then the table goes to stderr).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write each op's HdrHistogram percentile distribution to PREFIX-<op>.hgrm.
    #[arg(long)]
    pub hdr: Option<PathBuf>,
    /// Draw this run's latency percentile curves (plus --plot-with runs) to FILE.svg.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Saved runs (--json files) to draw beside this one with --plot.
    #[arg(long, value_delimiter = ',')]
    pub plot_with: Vec<PathBuf>,
    /// Name of this run in reports and plots (default: workload and shape).
    #[arg(long)]
    pub label: Option<String>,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
}

fn resolve(servers: &[String]) -> Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    for s in servers.iter().filter(|s| !s.trim().is_empty()) {
        let s = s.trim();
        let with_port = if s.contains(':') { s.to_string() } else { format!("{s}:2181") };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("server {s}: {e}"))?
            .next()
            .ok_or_else(|| format!("server {s}: no address"))?;
        out.push(addr);
    }
    if out.is_empty() {
        return Err("no servers given".into());
    }
    Ok(out)
}

fn secs(name: &str, v: f64) -> Result<Duration, String> {
    if !(v.is_finite() && v >= 0.0 && v <= 7.0 * 86400.0) {
        return Err(format!("--{name} {v}: want seconds between 0 and a week"));
    }
    Ok(Duration::from_secs_f64(v))
}

fn plan(a: &RunArgs) -> Result<loadgen::Plan, String> {
    let mut p = loadgen::canonical(resolve(&a.servers)?);
    p.workload = a.workload;
    p.sessions = a.sessions;
    p.outstanding = a.outstanding;
    p.payload = a.payload;
    p.ops = a.ops;
    p.duration = match (a.duration, a.ops) {
        (Some(d), _) => secs("duration", d)?,
        // An op count alone is still bounded: at most an hour.
        (None, Some(_)) => Duration::from_secs(3600),
        (None, None) => p.duration,
    };
    p.warmup = secs("warmup", a.warmup)?;
    if !(0.0..=1.0).contains(&a.read_ratio) {
        return Err(format!("--read-ratio {}: want a share between 0 and 1", a.read_ratio));
    }
    p.read_ratio = a.read_ratio;
    p.keys = a.keys;
    p.watchers = a.watchers;
    p.multi_ops = a.multi_ops;
    p.threads = match a.threads {
        Some(t) => t,
        // A server on this machine needs CPUs too: the client takes half of them. (On 2 CPUs,
        // two client threads beside a 2-core server made the server's p99 2.5x worse and its
        // throughput no better than one client thread did.)
        None if p.servers.iter().all(|s| loadgen::run::is_local(s)) => (p.threads / 2).max(1),
        None => p.threads,
    };
    p.session_timeout_ms = a.session_timeout;
    p.seed = a.seed;
    p.progress = !a.quiet;
    let positive = [("sessions", p.sessions), ("outstanding", p.outstanding), ("keys", p.keys), ("watchers", p.watchers), ("multi-ops", p.multi_ops), ("threads", p.threads)];
    if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
        return Err(format!("--{name} must be at least 1"));
    }
    if p.ops == Some(0) {
        return Err("--ops must be at least 1".into());
    }
    if p.payload > 1 << 20 {
        return Err("--payload is at most 1 MiB (jute.maxbuffer)".into());
    }
    Ok(p)
}

fn write_out(path: &PathBuf, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs `zkr bench`; returns the exit code.
pub fn main(args: BenchArgs) -> i32 {
    match bench(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("zkr bench: {e}");
            1
        }
    }
}

fn bench(args: BenchArgs) -> Result<(), String> {
    match args.tool {
        Some(BenchTool::Plot { out, runs, title }) => {
            let mut curves = Vec::new();
            for r in &runs {
                let text = std::fs::read_to_string(r).map_err(|e| format!("{}: {e}", r.display()))?;
                curves.extend(report::curves_from_json(&text).map_err(|e| format!("{}: {e}", r.display()))?);
            }
            write_out(&out, &report::plot_svg(&curves, &title))
        }
        Some(BenchTool::Fsync { dir, samples, json }) => {
            let h = sys::fsync_probe(&dir, samples.max(1))?;
            let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
            if json {
                println!(
                    "{{\"dir\":{:?},\"samples\":{},\"p50_us\":{:.1},\"p90_us\":{:.1},\"p99_us\":{:.1},\"max_us\":{:.1}}}",
                    dir.display().to_string(), h.len(), us(0.5), us(0.9), us(0.99), h.max() as f64 / 1000.0
                );
            } else {
                println!(
                    "pwrite 4 KiB + fdatasync in {}: {} samples, p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, max {:.1} us",
                    dir.display(), h.len(), us(0.5), us(0.9), us(0.99), h.max() as f64 / 1000.0
                );
            }
            Ok(())
        }
        Some(BenchTool::Floor { dir, watchers, rounds, slots, seconds, json }) => {
            if !(seconds.is_finite() && seconds > 0.0) {
                return Err(format!("--seconds must be positive, not {seconds}"));
            }
            let f = floor::measure(&dir, watchers, rounds, slots, seconds)?;
            if json {
                println!("{}", f.to_json());
            } else {
                print!("{}", f.text());
            }
            Ok(())
        }
        None => {
            let a = args.run;
            let plan = plan(&a)?;
            let mut rep = loadgen::run::run(plan)?;
            if let Some(l) = &a.label {
                rep.label = l.clone();
            }
            let table = rep.table();
            let json = rep.to_json();
            match &a.json {
                Some(p) if p.as_os_str() == "-" => {
                    eprint!("{table}");
                    println!("{json}");
                }
                Some(p) => {
                    print!("{table}");
                    write_out(p, &json)?;
                }
                None => print!("{table}"),
            }
            if let Some(prefix) = &a.hdr {
                rep.write_hdr_files(prefix)?;
            }
            if let Some(svg) = &a.plot {
                let mut curves = report::curves_of(&rep);
                for r in &a.plot_with {
                    let text = std::fs::read_to_string(r).map_err(|e| format!("{}: {e}", r.display()))?;
                    curves.extend(report::curves_from_json(&text).map_err(|e| format!("{}: {e}", r.display()))?);
                }
                write_out(svg, &report::plot_svg(&curves, &format!("zkr bench: {}", rep.label)))?;
            }
            Ok(())
        }
    }
}
