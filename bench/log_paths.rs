//! Txn-log write paths, measured inside a glommio executor: which way of making a group-commit
//! batch durable is fastest without blocking the executor. Not a test: nothing here asserts on
//! time, and `cargo test` does not build it (a `[[bench]]` target has `test = false`).
//!
//! ```sh
//! cargo bench --bench log_paths -- --quick   # 1 rep, 100 batches per cell
//! cargo bench --bench log_paths              # 3 reps, 1000 batches per cell
//! ```
//!
//! Options (after `--`): `--quick`, `--reps N` (3; quick 1), `--batches N` (1000; quick 100),
//! `--sizes 1,16,256` (records per batch), `--paths zkr,pwrite,mmap,dma,inline` (all),
//! `--dir DIR` (a temp dir is made in it; default `std::env::temp_dir()`: put it on the disk
//! the data dir lives on), `--cell-secs S` (30; quick 10: a cell stops early after S seconds),
//! `--max-secs S` (1200; quick 300: cells not started by then are skipped), `--cpu N` (0: the
//! executor is pinned there), `--pin-blocking` (pin glommio's blocking thread to the executor's
//! CPU too; default: unbound), `--idle-ms MS` (500; quick 200), `--keep` (keep the files).
//!
//! Every cell gets a fresh, zero-filled, synced 64 MiB file (made before timing starts, like
//! zkr's preallocated segments), writes one untimed warm-up batch, then up to `--batches`
//! timed batches of B records back to back, each one durable before the next starts. Records
//! are real zkr log records: `setData` txns of 100-byte data on `/bench/node`, 167 bytes each
//! encoded (32-byte record header plus the jute payload). The paths:
//!
//! - `zkr`: `zkr::log::writer::LogWriter::append_txns` (encode, one `pwrite`, one
//!   `fdatasync`) inside `glommio::executor().spawn_blocking`, the way `DurableSink` calls it
//!   for a batch that rolls a segment (other batches go to the log's sync thread): the batch
//!   of `Txn`s is cloned and the writer moved to the blocking thread and back. The
//!   writer is opened after `zkr::log::recover::recover` on an empty dir, with a spare
//!   segment preallocated; the warm-up batch installs it. After the cell, recovery must
//!   read every record back.
//! - `pwrite`: `std` `write_all_at` + `sync_data` on a blocking thread, the same bytes.
//! - `mmap`: memmap2 `MmapMut` memcpy + `flush_range` (`msync(MS_SYNC)`) on a blocking thread.
//! - `dma`: glommio `DmaFile` opened `O_DIRECT|O_DSYNC`, one `write_at` per batch (io_uring,
//!   durable on completion), padded with zeros to 4 KiB; the next batch starts at the next
//!   4 KiB boundary, so no block holding earlier records is ever rewritten.
//! - `inline` (a control, not a candidate): `pwrite` + `fdatasync` called on the executor
//!   thread. It blocks the executor on purpose, to show that the stall measure sees a stall.
//!   It yields between batches, but glommio's `yield_now` does not fire timers, so the ticker
//!   sees the whole cell as one stall.
//!
//! Reported per path and batch size: appends (records) per second and batches per second
//! (over the timed loop's wall time), p50/p99 batch commit latency as the executor sees it
//! (from starting the batch until its future resolves), and executor stall: a task on the
//! same executor sleeps 1 ms in a loop and records how late each wake-up is; its p99 and max
//! over the timed loop. An `idle` row measures the ticker with no I/O at all, the baseline.
//! Paths and batch sizes are interleaved, the order of paths rotates each rep, and the table
//! shows medians over reps.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::io::OpenOptions as GlommioOpenOptions;
use glommio::{LocalExecutorBuilder, Placement, PoolPlacement};
use hdrhistogram::Histogram;
use memmap2::MmapMut;

use zkr::log::writer::LogWriter;
use zkr::txn::{Txn, TxnBody};

/// Size of the preallocated file each cell writes into (zkr's default segment size).
const SEGMENT_BYTES: u64 = zkr::log::segment::SEGMENT_BYTES_DEFAULT;
/// Records start after the segment header, in every path.
const HEADER_BYTES: u64 = zkr::log::segment::SEGMENT_HEADER_BYTES;
/// `dma` pads each batch to this.
const BLOCK_BYTES: u64 = 4096;
const DATA_LEN: usize = 100;
const NODE_PATH: &str = "/bench/node";
const HIST_MAX_US: u64 = 600_000_000;
const TICK: Duration = Duration::from_millis(1);
const ZERO_CHUNK: usize = 1 << 20;
/// A path "blocks the executor" when its tick p99 exceeds the idle baseline's p99 by more.
const STALL_MARGIN_US: f64 = 1000.0;

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WritePath {
    Zkr,
    Pwrite,
    Mmap,
    Dma,
    Inline,
}

impl WritePath {
    const ALL: [WritePath; 5] = [
        WritePath::Zkr,
        WritePath::Pwrite,
        WritePath::Mmap,
        WritePath::Dma,
        WritePath::Inline,
    ];

    fn key(self) -> &'static str {
        match self {
            WritePath::Zkr => "zkr",
            WritePath::Pwrite => "pwrite",
            WritePath::Mmap => "mmap",
            WritePath::Dma => "dma",
            WritePath::Inline => "inline",
        }
    }

    fn label(self) -> &'static str {
        match self {
            WritePath::Zkr => "zkr LogWriter, spawn_blocking",
            WritePath::Pwrite => "pwrite+fdatasync, spawn_blocking",
            WritePath::Mmap => "mmap memcpy+msync, spawn_blocking",
            WritePath::Dma => "DmaFile O_DIRECT+O_DSYNC, 4 KiB-padded",
            WritePath::Inline => "control: pwrite+fdatasync ON executor",
        }
    }

    /// Bytes a batch of `len` bytes takes in the file.
    fn stride(self, len: u64) -> u64 {
        match self {
            WritePath::Dma => len.next_multiple_of(BLOCK_BYTES),
            _ => len,
        }
    }

    /// A candidate for the log (the control is not).
    fn candidate(self) -> bool {
        self != WritePath::Inline
    }
}

#[derive(Clone)]
struct Opts {
    quick: bool,
    reps: usize,
    batches: u64,
    sizes: Vec<usize>,
    paths: Vec<WritePath>,
    dir: PathBuf,
    cell_secs: f64,
    max_secs: f64,
    cpu: usize,
    pin_blocking: bool,
    idle_ms: u64,
    keep: bool,
}

const USAGE: &str = "usage: cargo bench --bench log_paths -- [--quick] [--reps N] [--batches N] \
[--sizes 1,16,256] [--paths zkr,pwrite,mmap,dma,inline] [--dir DIR] [--cell-secs S] \
[--max-secs S] [--cpu N] [--pin-blocking] [--idle-ms MS] [--keep]";

fn parse_opts() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        quick,
        reps: if quick { 1 } else { 3 },
        batches: if quick { 100 } else { 1000 },
        sizes: vec![1, 16, 256],
        paths: WritePath::ALL.to_vec(),
        dir: std::env::temp_dir(),
        cell_secs: if quick { 10.0 } else { 30.0 },
        max_secs: if quick { 300.0 } else { 1200.0 },
        cpu: 0,
        pin_blocking: false,
        idle_ms: if quick { 200 } else { 500 },
        keep: false,
    };
    fn val<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        v.replace('_', "")
            .parse()
            .map_err(|_| format!("{flag}: bad value {v:?}\n{USAGE}"))
    }
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            // cargo bench passes --bench to harness = false targets
            "--bench" | "--quick" => {}
            "--reps" => o.reps = val("--reps", it.next())?,
            "--batches" => o.batches = val("--batches", it.next())?,
            "--cell-secs" => o.cell_secs = val("--cell-secs", it.next())?,
            "--max-secs" => o.max_secs = val("--max-secs", it.next())?,
            "--cpu" => o.cpu = val("--cpu", it.next())?,
            "--idle-ms" => o.idle_ms = val("--idle-ms", it.next())?,
            "--pin-blocking" => o.pin_blocking = true,
            "--keep" => o.keep = true,
            "--dir" => o.dir = PathBuf::from(val::<String>("--dir", it.next())?),
            "--sizes" => {
                let v: String = val("--sizes", it.next())?;
                o.sizes = v
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("--sizes: bad value {v:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--paths" => {
                let v: String = val("--paths", it.next())?;
                o.paths = v
                    .split(',')
                    .map(|s| {
                        WritePath::ALL
                            .into_iter()
                            .find(|p| p.key() == s.trim())
                            .ok_or_else(|| {
                                format!(
                                    "--paths: unknown path {s:?} (zkr, pwrite, mmap, dma, inline)"
                                )
                            })
                    })
                    .collect::<Result<_, _>>()?;
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            _ => return Err(format!("unknown argument {a:?}\n{USAGE}")),
        }
    }
    if o.reps == 0 || o.reps > 100 {
        return Err("--reps must be 1..=100".into());
    }
    if o.batches == 0 || o.batches > 1_000_000 {
        return Err("--batches must be 1..=1000000".into());
    }
    if o.sizes.is_empty() || o.sizes.iter().any(|&s| s == 0 || s > 10_000) {
        return Err("--sizes: each must be 1..=10000".into());
    }
    if o.paths.is_empty() {
        return Err("--paths: name at least one".into());
    }
    if !(o.cell_secs > 0.0 && o.cell_secs <= 3600.0 && o.max_secs > 0.0 && o.max_secs <= 86_400.0) {
        return Err("--cell-secs must be in (0, 3600], --max-secs in (0, 86400]".into());
    }
    if o.idle_ms > 60_000 {
        return Err("--idle-ms at most 60000".into());
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Measuring

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("histogram bounds")
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

/// A task on the current executor that sleeps `TICK` in a loop and records how late each
/// wake-up is (µs): a task that holds the executor thread shows up as lateness. Each deadline
/// is the previous wake-up (or the start) plus `TICK`. A tick still pending when the ticker is
/// stopped counts too, so an executor frozen for the whole run shows up as one long tick.
struct Ticker {
    stop: Rc<Cell<bool>>,
    since: Rc<Cell<Instant>>,
    late: Rc<RefCell<Histogram<u64>>>,
    task: glommio::Task<()>,
}

impl Ticker {
    fn start() -> Ticker {
        let stop = Rc::new(Cell::new(false));
        let since = Rc::new(Cell::new(Instant::now()));
        let late = Rc::new(RefCell::new(hist()));
        let (st, si, l) = (stop.clone(), since.clone(), late.clone());
        let task = glommio::spawn_local(async move {
            while !st.get() {
                glommio::timer::sleep(TICK).await;
                if st.get() {
                    break;
                }
                let now = Instant::now();
                let late = now.saturating_duration_since(si.get()).saturating_sub(TICK);
                l.borrow_mut().saturating_record(micros(late));
                si.set(now);
            }
        });
        Ticker {
            stop,
            since,
            late,
            task,
        }
    }

    async fn stop(self) -> Histogram<u64> {
        let pending = self.since.get().elapsed().saturating_sub(TICK);
        if !pending.is_zero() {
            self.late.borrow_mut().saturating_record(micros(pending));
        }
        self.stop.set(true);
        self.task.await;
        self.late.borrow().clone()
    }
}

/// The timed loop of one cell: batch latencies and the ticker.
struct Meter {
    lat: Histogram<u64>,
    ticker: Ticker,
    t0: Instant,
    deadline: Instant,
    want: u64,
    done: u64,
}

struct Measured {
    batches: u64,
    elapsed: Duration,
    lat: Histogram<u64>,
    ticks: Histogram<u64>,
    hit_deadline: bool,
}

impl Meter {
    fn start(want: u64, limit: Duration) -> Meter {
        let ticker = Ticker::start();
        let t0 = Instant::now();
        Meter {
            lat: hist(),
            ticker,
            t0,
            deadline: t0 + limit,
            want,
            done: 0,
        }
    }

    fn more(&self) -> bool {
        self.done < self.want && Instant::now() < self.deadline
    }

    fn record(&mut self, started: Instant) {
        self.lat.saturating_record(micros(started.elapsed()));
        self.done += 1;
    }

    async fn finish(self) -> Measured {
        let elapsed = self.t0.elapsed();
        let ticks = self.ticker.stop().await;
        Measured {
            batches: self.done,
            elapsed,
            lat: self.lat,
            ticks,
            hit_deadline: self.done < self.want,
        }
    }
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    glommio::executor().spawn_blocking(f).await
}

// ---------------------------------------------------------------------------------------------
// Workload

/// `n` setData txns with 100-byte data, zxids from `first`.
fn make_txns(first: i64, n: usize) -> Vec<Txn> {
    let data: Arc<[u8]> = (0..DATA_LEN)
        .map(|i| b'a' + (i % 26) as u8)
        .collect::<Vec<u8>>()
        .into();
    (0..n)
        .map(|i| Txn {
            zxid: first + i as i64,
            time_ms: 1_700_000_000_000 + i as i64,
            session: 0x0123_4567_89ab_cdef,
            cxid: i as i32,
            body: TxnBody::SetData {
                path: NODE_PATH.to_owned(),
                data: data.clone(),
                version: i as i32 + 1,
            },
        })
        .collect()
}

/// The log records of `txns`, encoded as `LogWriter` writes them.
fn encode(txns: &[Txn]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut payload = Vec::new();
    for t in txns {
        payload.clear();
        let ty = zkr::log::codec::encode_txn(t, &mut payload);
        zkr::log::record::encode_record(t.zxid, ty, t.time_ms, &payload, &mut out);
    }
    out
}

/// Creates `path`, zero-filled to `SEGMENT_BYTES` and synced, like a preallocated segment.
fn preallocate(path: &Path) -> Result<File, String> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let zeros = vec![0u8; ZERO_CHUNK];
    let mut at = 0u64;
    while at < SEGMENT_BYTES {
        let n = (SEGMENT_BYTES - at).min(ZERO_CHUNK as u64) as usize;
        f.write_all_at(&zeros[..n], at).map_err(|e| e.to_string())?;
        at += n as u64;
    }
    f.sync_all().map_err(|e| e.to_string())?;
    Ok(f)
}

/// What one cell needs: where, how many batches, the bytes of one batch.
struct CellSpec {
    dir: PathBuf,
    size: usize,
    batches: u64,
    limit: Duration,
    /// One batch of encoded records (the raw paths write these bytes every time).
    bytes: Arc<Vec<u8>>,
}

async fn run_cell(path: WritePath, spec: &CellSpec) -> Result<Measured, String> {
    let dir = spec.dir.clone();
    blocking(move || std::fs::create_dir_all(&dir).map_err(|e| e.to_string())).await?;
    match path {
        WritePath::Zkr => cell_zkr(spec).await,
        WritePath::Pwrite => cell_pwrite(spec).await,
        WritePath::Mmap => cell_mmap(spec).await,
        WritePath::Dma => cell_dma(spec).await,
        WritePath::Inline => cell_inline(spec).await,
    }
}

async fn cell_zkr(spec: &CellSpec) -> Result<Measured, String> {
    let logs = spec.dir.join(zkr::server::storage::VERSION_DIR);
    let size = spec.size;
    let txns = make_txns(1, (spec.batches as usize + 1) * size);
    let l = logs.clone();
    let mut writer = blocking(move || -> Result<LogWriter, String> {
        std::fs::create_dir_all(&l).map_err(|e| e.to_string())?;
        let rec = zkr::log::recover::recover(&l, 0, |_| {}).map_err(|e| e.to_string())?;
        let mut w = LogWriter::open(&l, &rec, SEGMENT_BYTES, true).map_err(|e| e.to_string())?;
        w.preallocate_next().map_err(|e| e.to_string())?;
        Ok(w)
    })
    .await?;
    let mut chunks = txns.chunks(size);
    // Warm-up: the first append installs the spare segment (header, rename, dir sync).
    let first = chunks.next().expect("at least one batch").to_vec();
    let (w, r) = blocking(move || {
        let r = writer.append_txns(&first);
        (writer, r)
    })
    .await;
    writer = w;
    r.map_err(|e| e.to_string())?;
    let offset = writer.active().map(|(_, o)| o);
    let want = HEADER_BYTES + spec.bytes.len() as u64;
    if offset != Some(want) {
        return Err(format!(
            "zkr writer at offset {offset:?} after the warm-up, expected {want}"
        ));
    }
    let mut m = Meter::start(spec.batches, spec.limit);
    for chunk in chunks {
        if !m.more() {
            break;
        }
        let t = Instant::now();
        // As DurableSink's slow path: the batch is copied to move it to the blocking thread.
        let batch: Vec<Txn> = chunk.to_vec();
        let (w, r) = blocking(move || {
            let r = writer.append_txns(&batch);
            (writer, r)
        })
        .await;
        writer = w;
        r.map_err(|e| e.to_string())?;
        m.record(t);
    }
    let measured = m.finish().await;
    // Everything appended must read back.
    let expect = (measured.batches + 1) * size as u64;
    blocking(move || -> Result<(), String> {
        drop(writer);
        let rec = zkr::log::recover::recover(&logs, 0, |_| {}).map_err(|e| e.to_string())?;
        if rec.records != expect || rec.cut.is_some() || rec.last_zxid != expect as i64 {
            return Err(format!(
                "zkr log reads back {} records to zxid {} (cut {:?}), expected {expect}",
                rec.records, rec.last_zxid, rec.cut
            ));
        }
        Ok(())
    })
    .await?;
    Ok(measured)
}

async fn cell_pwrite(spec: &CellSpec) -> Result<Measured, String> {
    let p = spec.dir.join("segment");
    let file = Arc::new(blocking(move || preallocate(&p)).await?);
    let len = spec.bytes.len() as u64;
    let mut off = HEADER_BYTES;
    let write = |file: Arc<File>, bytes: Arc<Vec<u8>>, off: u64| {
        blocking(move || {
            file.write_all_at(&bytes, off)
                .and_then(|()| file.sync_data())
                .map_err(|e| e.to_string())
        })
    };
    write(file.clone(), spec.bytes.clone(), off).await?;
    off += len;
    let mut m = Meter::start(spec.batches, spec.limit);
    while m.more() {
        let t = Instant::now();
        write(file.clone(), spec.bytes.clone(), off).await?;
        off += len;
        m.record(t);
    }
    Ok(m.finish().await)
}

async fn cell_inline(spec: &CellSpec) -> Result<Measured, String> {
    let p = spec.dir.join("segment");
    let file = blocking(move || preallocate(&p)).await?;
    let len = spec.bytes.len() as u64;
    let mut off = HEADER_BYTES;
    // Deliberately blocking on the executor thread: the control for the stall measure.
    let write = |off: u64| {
        file.write_all_at(&spec.bytes, off)
            .and_then(|()| file.sync_data())
            .map_err(|e| e.to_string())
    };
    write(off)?;
    off += len;
    let mut m = Meter::start(spec.batches, spec.limit);
    while m.more() {
        let t = Instant::now();
        write(off)?;
        off += len;
        m.record(t);
        // Let the ticker run between batches (a real log task would await its next batch).
        glommio::executor().yield_now().await;
    }
    Ok(m.finish().await)
}

async fn cell_mmap(spec: &CellSpec) -> Result<Measured, String> {
    let p = spec.dir.join("segment");
    let mut map = blocking(move || -> Result<MmapMut, String> {
        let f = preallocate(&p)?;
        // SAFETY: the file is private to this cell and nothing else changes its size.
        unsafe { MmapMut::map_mut(&f) }.map_err(|e| e.to_string())
    })
    .await?;
    let len = spec.bytes.len();
    let mut off = HEADER_BYTES as usize;
    async fn write(mut map: MmapMut, bytes: Arc<Vec<u8>>, off: usize) -> Result<MmapMut, String> {
        blocking(move || {
            map[off..off + bytes.len()].copy_from_slice(&bytes);
            map.flush_range(off, bytes.len())
                .map_err(|e| e.to_string())?;
            Ok(map)
        })
        .await
    }
    map = write(map, spec.bytes.clone(), off).await?;
    off += len;
    let mut m = Meter::start(spec.batches, spec.limit);
    while m.more() {
        let t = Instant::now();
        map = write(map, spec.bytes.clone(), off).await?;
        off += len;
        m.record(t);
    }
    let measured = m.finish().await;
    blocking(move || drop(map)).await;
    Ok(measured)
}

async fn cell_dma(spec: &CellSpec) -> Result<Measured, String> {
    let p = spec.dir.join("segment");
    let q = p.clone();
    blocking(move || preallocate(&q).map(drop)).await?;
    let file = GlommioOpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DSYNC)
        .dma_open(&p)
        .await
        .map_err(|e| format!("DmaFile O_DSYNC open {}: {e}", p.display()))?;
    if !BLOCK_BYTES.is_multiple_of(file.alignment()) {
        return Err(format!(
            "DmaFile alignment {} does not divide 4096",
            file.alignment()
        ));
    }
    let len = spec.bytes.len();
    let stride = WritePath::Dma.stride(len as u64);
    let mut off = HEADER_BYTES;
    // One aligned write per batch: the records, then zeros up to the 4 KiB boundary.
    let write = |off: u64| {
        let mut buf = file.alloc_dma_buffer(stride as usize);
        let b = buf.as_bytes_mut();
        b[..len].copy_from_slice(&spec.bytes);
        b[len..].fill(0);
        let f = &file;
        async move {
            let n = f.write_at(buf, off).await.map_err(|e| e.to_string())?;
            if n as u64 != stride {
                return Err(format!("short DMA write: {n} of {stride} bytes"));
            }
            Ok::<(), String>(())
        }
    };
    write(off).await?;
    off += stride;
    let mut m = Meter::start(spec.batches, spec.limit);
    while m.more() {
        let t = Instant::now();
        write(off).await?;
        off += stride;
        m.record(t);
    }
    let measured = m.finish().await;
    file.close().await.map_err(|e| e.to_string())?;
    Ok(measured)
}

/// The ticker alone for `ms`: how late 1 ms timers fire on this machine with no I/O.
async fn idle(ms: u64) -> Measured {
    let ticker = Ticker::start();
    let t0 = Instant::now();
    glommio::timer::sleep(Duration::from_millis(ms)).await;
    let elapsed = t0.elapsed();
    Measured {
        batches: 0,
        elapsed,
        lat: hist(),
        ticks: ticker.stop().await,
        hit_deadline: false,
    }
}

// ---------------------------------------------------------------------------------------------
// Results

struct Sample {
    path: Option<WritePath>,
    size: usize,
    batches: u64,
    secs: f64,
    p50_us: f64,
    p99_us: f64,
    tick_p99_us: f64,
    tick_max_us: f64,
    ticks: u64,
    hit_deadline: bool,
}

impl Sample {
    fn new(path: Option<WritePath>, size: usize, m: &Measured) -> Sample {
        Sample {
            path,
            size,
            batches: m.batches,
            secs: m.elapsed.as_secs_f64(),
            p50_us: m.lat.value_at_quantile(0.5) as f64,
            p99_us: m.lat.value_at_quantile(0.99) as f64,
            tick_p99_us: m.ticks.value_at_quantile(0.99) as f64,
            tick_max_us: m.ticks.max() as f64,
            ticks: m.ticks.len(),
            hit_deadline: m.hit_deadline,
        }
    }

    fn batches_per_sec(&self) -> f64 {
        self.batches as f64 / self.secs.max(1e-9)
    }

    fn appends_per_sec(&self) -> f64 {
        self.batches_per_sec() * self.size as f64
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn rate(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.1} k", x / 1000.0)
    } else if x >= 1000.0 {
        format!("{:.2} k", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

fn ms(us: f64) -> String {
    format!("{:.2}", us / 1000.0)
}

// ---------------------------------------------------------------------------------------------
// Machine

fn sh(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The mount (device, type) holding `dir`, from /proc/mounts.
fn mount_of(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let mp = Path::new(f[1]);
        if dir.starts_with(mp) && best.as_ref().is_none_or(|(l, _)| f[1].len() > *l) {
            best = Some((f[1].len(), format!("{} on {} ({})", f[0], f[1], f[2])));
        }
    }
    best.map(|b| b.1).unwrap_or_else(|| "?".into())
}

fn machine(o: &Opts) -> String {
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let root = env!("CARGO_MANIFEST_DIR");
    let commit =
        sh("git", &["-C", root, "rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".into());
    let dirty = sh(
        "git",
        &["-C", root, "status", "--porcelain", "--untracked-files=no"],
    )
    .is_some_and(|s| !s.is_empty());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "machine: nproc {nproc}, {cpu}, kernel {kernel}, load average {}",
        loadavg()
    );
    let _ = writeln!(
        s,
        "commit:  {commit}{}",
        if dirty {
            " (with uncommitted changes to tracked files)"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "dir:     {} on {}", o.dir.display(), mount_of(&o.dir));
    let _ = write!(
        s,
        "setup:   executor pinned to CPU {}, blocking thread {}; io_memory 1 MiB; {} rep(s), {} timed \
         batches per cell (+1 warm-up), cell limit {} s{}",
        o.cpu,
        if o.pin_blocking {
            "pinned to the same CPU"
        } else {
            "unbound"
        },
        o.reps,
        o.batches,
        o.cell_secs,
        if o.quick { ", --quick" } else { "" }
    );
    s
}

// ---------------------------------------------------------------------------------------------
// Main

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let root = o.dir.join(format!("zkr-log-paths.{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&root) {
        eprintln!("log_paths: cannot create {}: {e}", root.display());
        return 1;
    }
    println!("{}", machine(&o));
    if mount_of(&o.dir).contains("(tmpfs)") {
        println!(
            "WARNING: {} is tmpfs: fsync is a no-op and O_DIRECT fails; use --dir on the data disk",
            o.dir.display()
        );
    }
    let _ = std::io::stdout().flush();
    let blocking_placement = if o.pin_blocking {
        PoolPlacement::from(Placement::Fixed(o.cpu))
    } else {
        PoolPlacement::Unbound(1)
    };
    let started = Instant::now();
    let (o2, root2) = (o.clone(), root.clone());
    let handle = LocalExecutorBuilder::new(Placement::Fixed(o.cpu))
        .name("log-paths")
        .io_memory(1 << 20)
        .blocking_thread_pool_placement(blocking_placement)
        .spawn(move || async move { run(&o2, &root2, started).await });
    let result = match handle {
        Ok(h) => h.join().map_err(|e| e.to_string()).and_then(|r| r),
        Err(e) => Err(format!("executor: {e}")),
    };
    if !o.keep {
        let _ = std::fs::remove_dir_all(&root);
    }
    match result {
        Ok((samples, notes)) => {
            print_table(&o, &samples);
            for n in notes {
                println!("note: {n}");
            }
            println!("load average at the end: {}", loadavg());
            println!("total time: {:.0} s", started.elapsed().as_secs_f64());
            0
        }
        Err(e) => {
            eprintln!("log_paths: {e}");
            1
        }
    }
}

async fn run(
    o: &Opts,
    root: &Path,
    started: Instant,
) -> Result<(Vec<Sample>, Vec<String>), String> {
    let (reps, batches, sizes, paths) = (o.reps, o.batches, &o.sizes[..], &o.paths[..]);
    let (cell_secs, max_secs, idle_ms, keep) = (o.cell_secs, o.max_secs, o.idle_ms, o.keep);
    let mut samples = Vec::new();
    let mut notes = Vec::new();
    let mut skipped = 0usize;
    let mut cell_no = 0usize;
    // The batch bytes and a clamped batch count per size: every path must fit its timed
    // batches and the warm-up in one 64 MiB file.
    let mut per_size = Vec::new();
    for &size in sizes {
        let bytes = Arc::new(encode(&make_txns(1, size)));
        let widest = paths
            .iter()
            .map(|p| p.stride(bytes.len() as u64))
            .max()
            .unwrap_or(1);
        let fit = (SEGMENT_BYTES - HEADER_BYTES) / widest - 1;
        let n = batches.min(fit);
        if n < batches {
            notes.push(format!(
                "batch size {size}: {n} timed batches per cell (64 MiB file), not {batches}"
            ));
        }
        per_size.push((size, n, bytes));
    }
    if let Some((_, _, b)) = per_size.first() {
        let s = sizes[0];
        println!(
            "record: {} bytes encoded (setData, {DATA_LEN}-byte data, path {NODE_PATH})",
            b.len() / s
        );
    }
    println!();
    for rep in 0..reps {
        let m = idle(idle_ms).await;
        let s = Sample::new(None, 0, &m);
        println!(
            "rep {} idle ticker {idle_ms} ms: tick p99 {} ms, max {} ms, {} ticks",
            rep + 1,
            ms(s.tick_p99_us),
            ms(s.tick_max_us),
            s.ticks
        );
        samples.push(s);
        for (size, n, bytes) in &per_size {
            for i in 0..paths.len() {
                let path = paths[(i + rep) % paths.len()];
                if started.elapsed().as_secs_f64() > max_secs {
                    skipped += 1;
                    continue;
                }
                cell_no += 1;
                let spec = CellSpec {
                    dir: root.join(format!("cell-{cell_no}-{}-{size}", path.key())),
                    size: *size,
                    batches: *n,
                    limit: Duration::from_secs_f64(cell_secs),
                    bytes: bytes.clone(),
                };
                let m = run_cell(path, &spec)
                    .await
                    .map_err(|e| format!("{} x{size} rep {}: {e}", path.key(), rep + 1))?;
                if !keep {
                    let d = spec.dir.clone();
                    blocking(move || std::fs::remove_dir_all(d))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                let s = Sample::new(Some(path), *size, &m);
                println!(
                    "rep {} {:<6} x{:<3} {:>4} batches in {:>6.3} s: {:>9} appends/s {:>8} batches/s, \
                     p50 {:>6.0} us p99 {:>6.0} us, tick p99 {:>6} ms max {:>6} ms ({} ticks){}",
                    rep + 1,
                    path.key(),
                    size,
                    s.batches,
                    s.secs,
                    rate(s.appends_per_sec()),
                    rate(s.batches_per_sec()),
                    s.p50_us,
                    s.p99_us,
                    ms(s.tick_p99_us),
                    ms(s.tick_max_us),
                    s.ticks,
                    if s.hit_deadline {
                        "  (cell time limit hit)"
                    } else {
                        ""
                    }
                );
                let _ = std::io::stdout().flush();
                samples.push(s);
            }
        }
    }
    if skipped > 0 {
        notes.push(format!(
            "{skipped} cells skipped: --max-secs {max_secs} reached"
        ));
    }
    Ok((samples, notes))
}

fn print_table(o: &Opts, samples: &[Sample]) {
    let idle: Vec<&Sample> = samples.iter().filter(|s| s.path.is_none()).collect();
    let idle_p99 = median(idle.iter().map(|s| s.tick_p99_us).collect());
    let idle_max = median(idle.iter().map(|s| s.tick_max_us).collect());
    println!();
    println!(
        "Medians over reps. appends/s = records/s. Latency: one batch, start to durable, as the \
         executor sees it. tick: lateness of a 1 ms timer on the same executor during the run."
    );
    println!();
    println!(
        "| path | batch | appends/s | batches/s | p50 µs | p99 µs | tick p99 ms | tick max ms | ticks | reps |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| idle (ticker only) | – | – | – | – | – | {} | {} | {:.0} | {} |",
        ms(idle_p99),
        ms(idle_max),
        median(idle.iter().map(|s| s.ticks as f64).collect()),
        idle.len()
    );
    let mut best: Vec<(usize, WritePath, f64)> = Vec::new();
    for &size in &o.sizes {
        for &path in &o.paths {
            let cell: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.path == Some(path) && s.size == size)
                .collect();
            if cell.is_empty() {
                continue;
            }
            let aps = median(cell.iter().map(|s| s.appends_per_sec()).collect());
            let bps = median(cell.iter().map(|s| s.batches_per_sec()).collect());
            let p50 = median(cell.iter().map(|s| s.p50_us).collect());
            let p99 = median(cell.iter().map(|s| s.p99_us).collect());
            let tp99 = median(cell.iter().map(|s| s.tick_p99_us).collect());
            let tmax = median(cell.iter().map(|s| s.tick_max_us).collect());
            let ticks = median(cell.iter().map(|s| s.ticks as f64).collect());
            let short = cell.iter().any(|s| s.hit_deadline);
            println!(
                "| {} | {size} | {} | {} | {p50:.0} | {p99:.0} | {} | {} | {ticks:.0} | {}{} |",
                path.label(),
                rate(aps),
                rate(bps),
                ms(tp99),
                ms(tmax),
                cell.len(),
                if short { " (time limit)" } else { "" }
            );
            // "Does not block": its tick p99 stays within 1 ms of the idle baseline's p99.
            if path.candidate() && tp99 <= idle_p99 + STALL_MARGIN_US {
                match best.iter_mut().find(|b| b.0 == size) {
                    Some(b) if b.2 >= aps => {}
                    Some(b) => *b = (size, path, aps),
                    None => best.push((size, path, aps)),
                }
            }
        }
    }
    println!();
    for &size in &o.sizes {
        match best.iter().find(|b| b.0 == size) {
            Some((_, p, aps)) => println!(
                "batch {size}: fastest path with tick p99 <= idle p99 + 1 ms ({} ms): {} ({} appends/s)",
                ms(idle_p99 + STALL_MARGIN_US),
                p.key(),
                rate(*aps)
            ),
            None => println!(
                "batch {size}: no path kept its tick p99 <= idle p99 + 1 ms ({} ms)",
                ms(idle_p99 + STALL_MARGIN_US)
            ),
        }
    }
}
