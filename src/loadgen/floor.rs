//! `zkr bench floor`: what this machine allows any server, measured with nothing but the
//! kernel calls a server cannot avoid. No protocol, no server logic, no allocation per op.
//!
//! - Fan-out: one thread writes a 62-byte frame (a notification's size) to each of N loopback
//!   TCP connections; another thread, on another CPU, reads them with epoll. The round's time
//!   is the first write to the last read: the least a server can take to deliver a watch to N
//!   sessions from one core to a client on another.
//! - Sessions: a client thread keeps `slots` connections cycling through connect, two round
//!   trips (handshake, closeSession) and close against a single-threaded epoll server: the most
//!   sessions per second the two CPUs' TCP stack allows, with nothing written to disk.
//! - Durable write: one connection, one outstanding request; the server thread writes 4 KiB
//!   with `pwrite` on an `O_DSYNC` file inline and replies with the write's own time. The p50
//!   of each round trip minus its write is the least any server adds to the disk for a 1x1
//!   write: two wakeups and a loopback round trip.
//!
//! Threads are pinned to distinct CPUs when the process may use two, which is the best case.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

type Result<T> = std::result::Result<T, String>;

/// A notification frame's size on the wire (length prefix, header, event, a short path).
const FRAME_BYTES: usize = 62;
/// A ConnectRequest and a closeSession request, roughly, and their answers.
const HANDSHAKE_BYTES: (usize, usize) = (48, 40);
const CLOSE_BYTES: (usize, usize) = (12, 20);
/// Bytes of the durable write, and the file it cycles over.
const BLOCK_BYTES: usize = 4096;
const FILE_BYTES: u64 = 16 << 20;

/// What `zkr bench floor` measured.
#[derive(Debug, Clone)]
pub struct Floors {
    /// Fan-out to `watchers` connections: p50 and p99 of a round, in µs.
    pub watchers: usize,
    pub fanout_p50_us: f64,
    pub fanout_p99_us: f64,
    /// Sessions per second (connect, two round trips, close) with `slots` in flight.
    pub slots: usize,
    pub sessions_per_s: f64,
    /// The bare 4 KiB O_DSYNC pwrite, and a request answered after one, p50 in µs.
    pub write_p50_us: f64,
    pub write_rtt_p50_us: f64,
    /// p50 of (round trip − that request's own write): what a server adds to the disk.
    pub write_gap_p50_us: f64,
}

impl Floors {
    pub fn to_json(&self) -> String {
        format!(
            "{{\"watchers\":{},\"fanout_p50_us\":{:.1},\"fanout_p99_us\":{:.1},\"slots\":{},\"sessions_per_s\":{:.0},\
             \"write_p50_us\":{:.1},\"write_rtt_p50_us\":{:.1},\"write_gap_p50_us\":{:.1}}}",
            self.watchers,
            self.fanout_p50_us,
            self.fanout_p99_us,
            self.slots,
            self.sessions_per_s,
            self.write_p50_us,
            self.write_rtt_p50_us,
            self.write_gap_p50_us
        )
    }

    pub fn text(&self) -> String {
        format!(
            "fan-out to {} loopback connections: p50 {:.0} us, p99 {:.0} us\n\
             sessions (connect, 2 round trips, close; {} in flight, no disk): {:.0}/s\n\
             durable 1x1 write: O_DSYNC 4 KiB pwrite p50 {:.1} us; request, inline write, reply p50 {:.1} us; round trip minus its write p50 {:.1} us\n",
            self.watchers,
            self.fanout_p50_us,
            self.fanout_p99_us,
            self.slots,
            self.sessions_per_s,
            self.write_p50_us,
            self.write_rtt_p50_us,
            self.write_gap_p50_us
        )
    }
}

/// Runs the three measurements; the durable write in `dir`.
pub fn measure(dir: &Path, watchers: usize, rounds: usize, slots: usize, seconds: f64) -> Result<Floors> {
    // The disk test comes last: a wrong directory should not wait for the others.
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{}: not a directory", dir.display())),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    // Two sockets per fan-out connection.
    crate::limits::raise_open_files();
    // On threads of its own, so that pinning leaves the caller's thread as it was.
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .name("zkr-floor".into())
        .spawn(move || measure_here(&dir, watchers, rounds, slots, seconds))
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "zkr bench floor panicked".to_string())?
}

fn measure_here(dir: &Path, watchers: usize, rounds: usize, slots: usize, seconds: f64) -> Result<Floors> {
    let (fanout_p50_us, fanout_p99_us) = fanout(watchers.max(1), rounds.max(1))?;
    let sessions_per_s = sessions(slots.max(1), Duration::from_secs_f64(seconds.max(0.1)))?;
    let (write_p50_us, write_rtt_p50_us, write_gap_p50_us) = durable_write(dir, 2000)?;
    Ok(Floors {
        watchers,
        fanout_p50_us,
        fanout_p99_us,
        slots,
        sessions_per_s,
        write_p50_us,
        write_rtt_p50_us,
        write_gap_p50_us,
    })
}

// ---- helpers ------------------------------------------------------------------------------

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// Pins the calling thread to the `i`-th CPU this process may use, if it may use two or more.
fn pin(i: usize) {
    // SAFETY: plain libc calls on a zeroed cpu_set_t owned here.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &allowed)).collect();
        if cpus.len() < 2 {
            return;
        }
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpus[i % cpus.len()], &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
    }
}

struct Epoll(RawFd);

impl Epoll {
    fn new() -> Result<Epoll> {
        // SAFETY: creates a descriptor we own and close in Drop.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(os_err("epoll_create1"));
        }
        Ok(Epoll(fd))
    }

    fn ctl(&self, op: i32, fd: RawFd, events: u32) -> Result<()> {
        let mut ev = libc::epoll_event { events, u64: fd as u64 };
        // SAFETY: `ev` lives across the call.
        if unsafe { libc::epoll_ctl(self.0, op, fd, &mut ev) } != 0 {
            return Err(os_err("epoll_ctl"));
        }
        Ok(())
    }

    /// Ready descriptors and their events; empty after `timeout_ms`.
    fn wait(&self, evs: &mut [libc::epoll_event], timeout_ms: i32) -> Result<usize> {
        // SAFETY: `evs` is writable for its length.
        let n = unsafe { libc::epoll_wait(self.0, evs.as_mut_ptr(), evs.len() as i32, timeout_ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(format!("epoll_wait: {e}"));
        }
        Ok(n as usize)
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

fn loopback_listener() -> Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    let a = l.local_addr().map_err(|e| e.to_string())?;
    Ok((l, a))
}

fn pair(l: &TcpListener, addr: SocketAddr) -> Result<(TcpStream, TcpStream)> {
    let c = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let (s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
    for t in [&c, &s] {
        t.set_nodelay(true).map_err(|e| e.to_string())?;
    }
    Ok((c, s))
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("static histogram bounds")
}

fn p_us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

// ---- fan-out ------------------------------------------------------------------------------

fn fanout(watchers: usize, rounds: usize) -> Result<(f64, f64)> {
    let (l, addr) = loopback_listener()?;
    let mut senders = Vec::with_capacity(watchers);
    let mut receivers = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        let (c, s) = pair(&l, addr)?;
        c.set_nonblocking(true).map_err(|e| e.to_string())?;
        receivers.push(c);
        senders.push(s);
    }
    let ep = Epoll::new()?;
    for r in &receivers {
        ep.ctl(libc::EPOLL_CTL_ADD, r.as_raw_fd(), libc::EPOLLIN as u32)?;
    }
    // The receiver counts frames and stamps the round's last arrival (ns since `base`).
    let base = Instant::now();
    let done_rounds = Arc::new(AtomicU64::new(0));
    let last_ns = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (done_rounds, last_ns, stop) = (done_rounds.clone(), last_ns.clone(), stop.clone());
        std::thread::Builder::new()
            .name("zkr-floor-recv".into())
            .spawn(move || -> Result<()> {
                pin(1);
                let by_fd: HashMap<RawFd, usize> =
                    receivers.iter().enumerate().map(|(i, r)| (r.as_raw_fd(), i)).collect();
                let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
                let mut buf = [0u8; 4096];
                let mut got = 0usize;
                while !stop.load(Ordering::Acquire) {
                    let n = ep.wait(&mut evs, 50)?;
                    for ev in &evs[..n] {
                        let i = by_fd[&(ev.u64 as RawFd)];
                        match (&receivers[i]).read(&mut buf) {
                            Ok(0) => return Err("fan-out: connection closed".into()),
                            Ok(k) => got += k,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(e) => return Err(format!("fan-out read: {e}")),
                        }
                    }
                    if got >= watchers * FRAME_BYTES {
                        got -= watchers * FRAME_BYTES;
                        last_ns.store(base.elapsed().as_nanos() as u64, Ordering::Release);
                        done_rounds.fetch_add(1, Ordering::AcqRel);
                    }
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?
    };
    pin(0);
    let frame = [0x11u8; FRAME_BYTES];
    let mut h = hist();
    // Two rounds of warm-up, then the measured ones; a pause between rounds lets the receiver
    // go idle, as watchers are between changes.
    for round in 0..rounds + 2 {
        std::thread::sleep(Duration::from_millis(5));
        let t0 = base.elapsed().as_nanos() as u64;
        for s in &mut senders {
            s.write_all(&frame).map_err(|e| format!("fan-out write: {e}"))?;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while done_rounds.load(Ordering::Acquire) <= round as u64 {
            if Instant::now() > deadline || reader.is_finished() {
                stop.store(true, Ordering::Release);
                return Err(match reader.join() {
                    Ok(Err(e)) => e,
                    _ => "fan-out: the receiver fell behind by 10 s".into(),
                });
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        if round >= 2 {
            h.saturating_record(last_ns.load(Ordering::Acquire).saturating_sub(t0).max(1));
        }
    }
    stop.store(true, Ordering::Release);
    reader.join().map_err(|_| "fan-out receiver panicked".to_string())??;
    Ok((p_us(&h, 0.5), p_us(&h, 0.99)))
}

// ---- sessions -----------------------------------------------------------------------------

/// A single-threaded epoll server answering a handshake, then a close, then closing.
fn session_server(l: TcpListener, stop: Arc<AtomicBool>) -> Result<()> {
    pin(0);
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let ep = Epoll::new()?;
    let lfd = l.as_raw_fd();
    ep.ctl(libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32)?;
    let mut conns: HashMap<RawFd, (TcpStream, bool)> = HashMap::new();
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buf = [0u8; 512];
    let answers = ([0u8; HANDSHAKE_BYTES.1], [0u8; CLOSE_BYTES.1]);
    while !stop.load(Ordering::Acquire) {
        let n = ep.wait(&mut evs, 50)?;
        for ev in &evs[..n] {
            let fd = ev.u64 as RawFd;
            if fd == lfd {
                loop {
                    // SAFETY: accept4 on our listener; the new descriptor goes into a TcpStream
                    // that owns it.
                    let sfd = unsafe {
                        libc::accept4(lfd, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
                    };
                    if sfd < 0 {
                        break;
                    }
                    let s = unsafe { <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(sfd) };
                    let _ = s.set_nodelay(true);
                    ep.ctl(libc::EPOLL_CTL_ADD, sfd, libc::EPOLLIN as u32)?;
                    conns.insert(sfd, (s, false));
                }
                continue;
            }
            let Some((s, shaken)) = conns.get_mut(&fd) else { continue };
            match s.read(&mut buf) {
                Ok(0) => {
                    conns.remove(&fd);
                }
                Ok(_) if !*shaken => {
                    *shaken = true;
                    let _ = s.write(&answers.0);
                }
                Ok(_) => {
                    let _ = s.write(&answers.1);
                    conns.remove(&fd);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    conns.remove(&fd);
                }
            }
        }
    }
    Ok(())
}

/// A non-blocking socket with a connect to `addr` under way.
fn start_connect(addr: SocketAddr) -> Result<RawFd> {
    let SocketAddr::V4(v4) = addr else { return Err("IPv4 loopback expected".into()) };
    // SAFETY: plain socket calls; the descriptor is returned to the caller, who closes it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(os_err("socket"));
        }
        let one: libc::c_int = 1;
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, (&one as *const libc::c_int).cast(), 4);
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from(*v4.ip()).to_be() },
            sin_zero: [0; 8],
        };
        let r = libc::connect(fd, (&sa as *const libc::sockaddr_in).cast(), std::mem::size_of::<libc::sockaddr_in>() as u32);
        if r != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINPROGRESS) {
            let e = os_err("connect");
            libc::close(fd);
            return Err(e);
        }
        Ok(fd)
    }
}

fn sessions(slots: usize, window: Duration) -> Result<f64> {
    let (l, addr) = loopback_listener()?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("zkr-floor-srv".into())
            .spawn(move || session_server(l, stop))
            .map_err(|e| e.to_string())?
    };
    let result = (|| -> Result<f64> {
        pin(1);
        let ep = Epoll::new()?;
        // fd -> phase: 0 connecting, 1 handshake sent, 2 close sent.
        let mut phase: HashMap<RawFd, u8> = HashMap::new();
        let open = |ep: &Epoll, phase: &mut HashMap<RawFd, u8>| -> Result<()> {
            let fd = start_connect(addr)?;
            ep.ctl(libc::EPOLL_CTL_ADD, fd, (libc::EPOLLOUT | libc::EPOLLIN) as u32)?;
            phase.insert(fd, 0);
            Ok(())
        };
        for _ in 0..slots {
            open(&ep, &mut phase)?;
        }
        let req = ([0u8; HANDSHAKE_BYTES.0], [0u8; CLOSE_BYTES.0]);
        let mut buf = [0u8; 512];
        let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let warm_until = Instant::now() + Duration::from_millis(300);
        let mut started: Option<(Instant, u64)> = None;
        let mut done = 0u64;
        loop {
            let now = Instant::now();
            if started.is_none() && now >= warm_until {
                started = Some((now, done));
            }
            if let Some((t0, d0)) = started
                && now.duration_since(t0) >= window
            {
                let rate = (done - d0) as f64 / now.duration_since(t0).as_secs_f64();
                for fd in phase.keys() {
                    // SAFETY: descriptors opened by start_connect and not yet closed.
                    unsafe { libc::close(*fd) };
                }
                return Ok(rate);
            }
            let n = ep.wait(&mut evs, 100)?;
            for ev in &evs[..n] {
                let fd = ev.u64 as RawFd;
                let Some(p) = phase.get(&fd).copied() else { continue };
                if ev.events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 && p == 0 {
                    return Err(format!("sessions: connect to {addr} failed"));
                }
                // SAFETY: `fd` is a live socket of ours; buffers outlive the calls.
                unsafe {
                    match p {
                        0 if ev.events & libc::EPOLLOUT as u32 != 0 => {
                            libc::write(fd, req.0.as_ptr().cast(), req.0.len());
                            ep.ctl(libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN as u32)?;
                            phase.insert(fd, 1);
                        }
                        1 | 2 => {
                            let r = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                            if r <= 0 {
                                continue;
                            }
                            if p == 1 {
                                libc::write(fd, req.1.as_ptr().cast(), req.1.len());
                                phase.insert(fd, 2);
                            } else {
                                phase.remove(&fd);
                                libc::close(fd);
                                done += 1;
                                open(&ep, &mut phase)?;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    })();
    stop.store(true, Ordering::Release);
    let served = server.join().map_err(|_| "sessions server panicked".to_string())?;
    let rate = result?;
    served?;
    Ok(rate)
}

// ---- durable write ------------------------------------------------------------------------

/// The bare write's p50, the round trip's p50, and the p50 of each round trip minus its own
/// write (taken per request, so that the disk's drift over the run cancels out).
fn durable_write(dir: &Path, samples: usize) -> Result<(f64, f64, f64)> {
    let path = dir.join(format!(".zkr-floor-{}", std::process::id()));
    let r = (|| -> Result<(f64, f64, f64)> {
        let name = path.display().to_string();
        let f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .custom_flags(libc::O_DSYNC)
            .open(&path)
            .map_err(|e| format!("{name}: {e}"))?;
        // Written once first, as a log segment is zero-filled: the timed writes then sync data
        // only, not the file's size.
        let zeros = vec![0u8; 1 << 20];
        for i in 0..FILE_BYTES / zeros.len() as u64 {
            f.write_all_at(&zeros, i * zeros.len() as u64).map_err(|e| format!("{name}: {e}"))?;
        }
        let f = Arc::new(f);
        let block = [0x5au8; BLOCK_BYTES];
        let slots = FILE_BYTES / BLOCK_BYTES as u64;
        let mut bare = hist();
        for i in 0..samples as u64 {
            let t = Instant::now();
            f.write_all_at(&block, (i % slots) * BLOCK_BYTES as u64).map_err(|e| format!("{name}: {e}"))?;
            bare.saturating_record(t.elapsed().as_nanos() as u64);
        }
        let (l, addr) = loopback_listener()?;
        let (mut c, mut s) = pair(&l, addr)?;
        let server = {
            let (f, name) = (f.clone(), name.clone());
            std::thread::Builder::new()
                .name("zkr-floor-disk".into())
                .spawn(move || -> Result<()> {
                    pin(0);
                    let mut req = [0u8; 160];
                    for i in 0.. {
                        match s.read(&mut req) {
                            Ok(0) => return Ok(()),
                            Ok(_) => {}
                            Err(e) => return Err(format!("durable write server read: {e}")),
                        }
                        let t = Instant::now();
                        f.write_all_at(&block, (i % slots) * BLOCK_BYTES as u64).map_err(|e| format!("{name}: {e}"))?;
                        // The reply carries the write's own time, so the client can take it out.
                        let took = t.elapsed().as_nanos() as u64;
                        req[..8].copy_from_slice(&took.to_le_bytes());
                        s.write_all(&req[..16]).map_err(|e| format!("durable write server reply: {e}"))?;
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?
        };
        pin(1);
        let (mut rtt, mut gap) = (hist(), hist());
        let req = [0x22u8; 150];
        let mut ans = [0u8; 16];
        for _ in 0..samples {
            let t = Instant::now();
            c.write_all(&req).map_err(|e| format!("durable write client: {e}"))?;
            c.read_exact(&mut ans).map_err(|e| format!("durable write client: {e}"))?;
            let took = t.elapsed().as_nanos() as u64;
            let write = u64::from_le_bytes(ans[..8].try_into().expect("8 bytes"));
            rtt.saturating_record(took);
            gap.saturating_record(took.saturating_sub(write).max(1));
        }
        drop(c);
        server.join().map_err(|_| "durable write server panicked".to_string())??;
        Ok((p_us(&bare, 0.5), p_us(&rtt, 0.5), p_us(&gap, 0.5)))
    })();
    let _ = std::fs::remove_file(&path);
    r
}
