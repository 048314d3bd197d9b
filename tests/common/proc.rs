//! A zkr server process over a data directory that outlives it: start, SIGKILL, restart on the
//! SAME dataDir, dataLogDir and port, and read what each run wrote to stderr. For crash and
//! corruption tests (always zkr, never an external server or Apache ZooKeeper: they look at
//! zkr's files).
//!
//! Layout under a fresh temp root (removed on drop unless `ZKR_TEST_KEEP` is set):
//!
//! ```text
//! <root>/zoo.cfg
//! <root>/data/version-2/       snapshots      (`snap_dir`)
//! <root>/datalog/version-2/    log segments   (`log_dir`; dataLogDir differs from dataDir)
//! <root>/run-<n>.log           stdout+stderr of the n-th start (NO_COLOR=1)
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{SUPER_DIGEST, TICK_MS, accepts_sessions, free_port, ruok, unique_suffix};
use std::net::TcpListener;

/// How long a start may take before the test gives up (a bound, never an assertion on speed).
pub const START_BOUND: Duration = Duration::from_secs(30);

/// The path of the zkr binary under test.
pub fn zkr_bin() -> &'static str {
    env!("CARGO_BIN_EXE_zkr")
}

/// What a start came to.
#[derive(Debug)]
pub enum Started {
    /// Answers `ruok` and opens sessions.
    Up,
    /// Exited before it served; `log` is what that run wrote.
    Exited { status: ExitStatus, log: String },
}

pub struct ZkrProc {
    pub root: PathBuf,
    pub port: u16,
    pub addr: String,
    cfg_path: PathBuf,
    child: Option<Child>,
    /// Starts so far; the current (or last) run logs to `run-<runs>.log`.
    runs: usize,
    /// Soft limit of open files the server starts with (the hard limit stays), if set.
    pub open_files: Option<u64>,
}

/// Removes ANSI escape sequences (`ESC [ ... letter`), in case colours are forced on.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl ZkrProc {
    /// A new server directory with a zoo.cfg (not started). `extra_cfg` lines come last, so
    /// they override the defaults here (tickTime 200, two cores, 1 MiB log segments).
    pub fn new(tag: &str, extra_cfg: &[(&str, &str)]) -> ZkrProc {
        let root = std::env::temp_dir().join(format!("zkr-proc-{tag}-{}", unique_suffix()));
        fs::create_dir_all(root.join("data")).unwrap();
        fs::create_dir_all(root.join("datalog")).unwrap();
        let port = restartable_port();
        let cfg_path = root.join("zoo.cfg");
        let mut p = ZkrProc {
            root,
            port,
            addr: format!("127.0.0.1:{port}"),
            cfg_path,
            child: None,
            runs: 0,
            open_files: None,
        };
        p.set_config(extra_cfg);
        p
    }

    /// Rewrites zoo.cfg (same port and directories) with `extra_cfg` on top of the defaults;
    /// takes effect at the next start.
    pub fn set_config(&mut self, extra_cfg: &[(&str, &str)]) {
        let (root, port) = (&self.root, self.port);
        let mut cfg = format!(
            "tickTime={TICK_MS}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             dataDir={}\ndataLogDir={}\nzkr.cores=2\nzkr.logSegmentBytes=1m\n\
             4lw.commands.whitelist=*\nextendedTypesEnabled=true\n\
             DigestAuthenticationProvider.superDigest={SUPER_DIGEST}\n",
            root.join("data").display(),
            root.join("datalog").display()
        );
        for (k, v) in extra_cfg {
            cfg.push_str(&format!("{k}={v}\n"));
        }
        fs::write(&self.cfg_path, cfg).unwrap();
    }

    /// `<dataDir>/version-2`: the snapshots.
    pub fn snap_dir(&self) -> PathBuf {
        self.root.join("data").join("version-2")
    }

    /// `<dataLogDir>/version-2`: the log segments.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("datalog").join("version-2")
    }

    /// `dataLogDir` itself (what `zkr log verify` is given).
    pub fn data_log_root(&self) -> PathBuf {
        self.root.join("datalog")
    }

    fn log_path(&self, run: usize) -> PathBuf {
        self.root.join(format!("run-{run}.log"))
    }

    /// Spawns the server without waiting for it. Panics if one is running.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "server already running");
        self.runs += 1;
        let log = fs::File::create(self.log_path(self.runs)).unwrap();
        let mut cmd = Command::new(zkr_bin());
        if let Some(soft) = self.open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe libc calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let mut r: libc::rlimit = std::mem::zeroed();
                    if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    r.rlim_cur = soft.min(r.rlim_max);
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd
            .arg("server")
            .arg("--config")
            .arg(&self.cfg_path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn zkr");
        self.child = Some(child);
    }

    /// Starts the server and waits (bounded) until it answers `ruok` and opens a session, or
    /// exits.
    pub fn start(&mut self) -> Started {
        self.start_probing(true)
    }

    /// Starts the server and waits (bounded) until it answers `ruok`, without opening a
    /// session: nothing is written before the test's own first request. Panics with its log
    /// unless it comes up.
    pub fn start_unprobed(&mut self) {
        if let Started::Exited { status, log } = self.start_probing(false) {
            panic!("zkr did not start ({status}); log:
{log}");
        }
    }

    fn start_probing(&mut self, sessions: bool) -> Started {
        // A port can be held for a moment by someone else (see `restartable_port`): retry a
        // bind failure a few times.
        for _ in 0..5 {
            match self.start_once(sessions) {
                Started::Exited { log, .. } if log.contains("Address already in use") => {
                    std::thread::sleep(Duration::from_millis(300));
                }
                other => return other,
            }
        }
        self.start_once(sessions)
    }

    fn start_once(&mut self, sessions: bool) -> Started {
        self.spawn();
        let deadline = Instant::now() + START_BOUND;
        loop {
            let child = self.child.as_mut().unwrap();
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Started::Exited {
                    status,
                    log: self.log(),
                };
            }
            if ruok(&self.addr) && (!sessions || accepts_sessions(&self.addr)) {
                return Started::Up;
            }
            if Instant::now() > deadline {
                self.kill9();
                panic!(
                    "zkr neither served nor exited within {START_BOUND:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Starts the server; panics with its log unless it comes up.
    pub fn start_ok(&mut self) {
        if let Started::Exited { status, log } = self.start() {
            panic!("zkr did not start ({status}); log:\n{log}");
        }
    }

    /// Starts the server expecting it to refuse: returns its exit status and log; panics (after
    /// killing it) if it comes up instead.
    pub fn start_refused(&mut self) -> (ExitStatus, String) {
        match self.start() {
            Started::Exited { status, log } => (status, log),
            Started::Up => {
                self.kill9();
                panic!(
                    "zkr started although it should have refused; log:\n{}",
                    self.log()
                );
            }
        }
    }

    /// SIGKILL (no chance to flush or sync anything) and reap. No-op if not running.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Child::kill sends SIGKILL on Unix.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server's resident set size in KiB, while it runs: from `smaps_rollup`, which
    /// walks the page tables (`VmRSS` in `status` is a per-CPU approximation).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
        let line = rollup.lines().find(|l| l.starts_with("Rss:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// True while the spawned process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The output of the current (or last) run, ANSI escapes removed.
    pub fn log(&self) -> String {
        if self.runs == 0 {
            return String::new();
        }
        strip_ansi(&fs::read_to_string(self.log_path(self.runs)).unwrap_or_default())
    }

    /// The output of every run so far, in order.
    pub fn all_logs(&self) -> String {
        let mut out = String::new();
        for run in 1..=self.runs {
            out.push_str(&format!("----- run {run} -----\n"));
            out.push_str(&strip_ansi(
                &fs::read_to_string(self.log_path(run)).unwrap_or_default(),
            ));
        }
        out
    }

    /// Copies the data and log directories to `dest` (created), e.g. to restore a pristine
    /// state between damage experiments. The server must be stopped.
    pub fn save_dirs(&self, dest: &Path) {
        assert!(
            self.child.is_none(),
            "stop the server before copying its files"
        );
        let _ = fs::remove_dir_all(dest);
        copy_dir(&self.root.join("data"), &dest.join("data"));
        copy_dir(&self.root.join("datalog"), &dest.join("datalog"));
    }

    /// Replaces the data and log directories with the copies `save_dirs` made in `src`.
    pub fn restore_dirs(&self, src: &Path) {
        assert!(
            self.child.is_none(),
            "stop the server before replacing its files"
        );
        for sub in ["data", "datalog"] {
            let _ = fs::remove_dir_all(self.root.join(sub));
            copy_dir(&src.join(sub), &self.root.join(sub));
        }
    }
}

impl Drop for ZkrProc {
    fn drop(&mut self) {
        self.kill9();
        if std::env::var_os("ZKR_TEST_KEEP").is_some() {
            eprintln!("keeping {}", self.root.display());
        } else {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// Recursive copy of regular files and directories.
pub fn copy_dir(src: &Path, dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dest.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// A free port outside the kernel's ephemeral range: a server restarted on the same port must
/// not find it taken by some client's outgoing connection (or by a client that, connecting
/// while nothing listens, got the port itself as its local port: a TCP self-connect).
fn restartable_port() -> u16 {
    let range = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let low: u16 = range
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32768);
    if low > 12_000 {
        let span = u64::from(low - 11_000);
        let mut x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            ^ u64::from(std::process::id()) << 20;
        for _ in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let port = 11_000 + (x % span) as u16;
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    free_port()
}

/// What a `zkr` tool run printed.
#[derive(Debug)]
pub struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ToolOutput {
    pub fn ok(&self) -> bool {
        self.status.success()
    }
}

/// Runs `zkr <args>` to completion (the tools are short; a hang shows as the test's timeout).
pub fn zkr_tool(args: &[&str]) -> ToolOutput {
    let out = Command::new(zkr_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run zkr tool");
    ToolOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: strip_ansi(&String::from_utf8_lossy(&out.stderr)),
    }
}

/// One record of a log segment as the test reads it (independently of zkr's reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpan {
    pub zxid: i64,
    pub txn_type: u32,
    /// Offset of the record header in the file.
    pub start: usize,
    /// Offset after the payload.
    pub end: usize,
}

/// Size of a segment header.
pub const SEGMENT_HEADER_BYTES: usize = 4096;
/// Size of a record header.
pub const RECORD_HEADER_BYTES: usize = 32;

/// The records of a segment file: from offset 4096, each `"ZKR1" crc len type zxid time`
/// (little-endian) and `len` payload bytes, up to the first header that is not a record magic
/// (the zero fill). Checksums are not checked here.
pub fn record_spans(bytes: &[u8]) -> Vec<RecordSpan> {
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER_BYTES;
    while at + RECORD_HEADER_BYTES <= bytes.len() && &bytes[at..at + 4] == b"ZKR1" {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let txn_type = u32::from_le_bytes(bytes[at + 12..at + 16].try_into().unwrap());
        let zxid = u64::from_le_bytes(bytes[at + 16..at + 24].try_into().unwrap()) as i64;
        let end = at + RECORD_HEADER_BYTES + len;
        if end > bytes.len() {
            break;
        }
        out.push(RecordSpan {
            zxid,
            txn_type,
            start: at,
            end,
        });
        at = end;
    }
    out
}

/// Files in `dir` whose names start with `prefix` followed by 16 hex digits, sorted by name
/// (so by zxid), with the zxid.
pub fn zxid_files(dir: &Path, prefix: &str) -> Vec<(i64, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(hex) = name.strip_prefix(prefix)
            && hex.len() == 16
            && let Ok(z) = u64::from_str_radix(hex, 16)
        {
            out.push((z as i64, e.path()));
        }
    }
    out.sort();
    out
}

/// The log segments in `dir` (`zkrlog.<16 hex>`), oldest first.
pub fn segments(dir: &Path) -> Vec<(i64, PathBuf)> {
    zxid_files(dir, "zkrlog.")
}

/// The snapshots in `dir` (`zkrsnap.<16 hex>`), oldest first.
pub fn snapshots(dir: &Path) -> Vec<(i64, PathBuf)> {
    zxid_files(dir, "zkrsnap.")
}

/// Flips bit `bit` of byte `at` of `path` in place.
pub fn flip_bit(path: &Path, at: usize, bit: u8) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 1 << bit;
    fs::write(path, bytes).unwrap();
}

/// Truncates `path` to `len` bytes.
pub fn truncate(path: &Path, len: u64) {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(len).unwrap();
    f.sync_all().unwrap();
}

/// Panics if a log shows a Rust panic.
pub fn assert_no_panic(what: &str, log: &str) {
    assert!(
        !log.contains("panicked"),
        "{what}: zkr panicked; output:\n{log}"
    );
}

/// A small deterministic PRNG (xorshift64*), seeded; print the seed so a failure replays.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut r = Rng((seed ^ 0x9E37_79B9_7F4A_7C15).max(1));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// A derived generator (for a worker), independent of later draws here.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

/// The seed from environment variable `var`, or a fresh one from the clock; printed either way
/// with the command that replays it.
pub fn seed_from_env(var: &str, test: &str) -> u64 {
    let seed = match std::env::var(var) {
        Ok(s) => s.parse().unwrap_or_else(|_| panic!("{var} must be a u64")),
        Err(_) => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                ^ ((std::process::id() as u64) << 32)
        }
    };
    eprintln!("{test}: seed {seed} (replay: {var}={seed} cargo test --test {test})");
    seed
}
