//! Four-letter words on the client port (ruok, srvr, stat, mntr, ...), behind
//! `4lw.commands.whitelist`, in ZooKeeper's output format (monitoring tools parse it).

use std::fmt::Write;
use std::rc::Rc;

use super::core::Core;
use super::msg::Reset;
use super::stats::{self, CoreReport};

/// The version string zkr reports where ZooKeeper reports its own.
pub const VERSION: &str = concat!("3.9.2-zkr-", env!("CARGO_PKG_VERSION"), ", built on 01/01/2026 00:00 GMT");

/// Answers one four-letter word.
pub async fn answer(core: &Rc<Core>, word: [u8; 4]) -> String {
    let cmd = String::from_utf8_lossy(&word).to_string();
    if !core.shared.config.four_letter_words.allows(&cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    match cmd.as_str() {
        "ruok" => "imok".to_string(),
        "isro" => "rw".to_string(),
        "srvr" => srvr(core, None),
        "stat" => {
            let reports = core.gather_reports(Reset::None).await;
            srvr(core, Some(&reports))
        }
        "cons" => {
            let reports = core.gather_reports(Reset::None).await;
            let mut s = String::new();
            for r in &reports {
                for c in &r.conns {
                    s.push_str(&cons_line(c, true));
                }
            }
            s.push('\n');
            s
        }
        "crst" => {
            core.gather_reports(Reset::Connections).await;
            "Connection stats reset.\n".to_string()
        }
        "srst" => {
            core.gather_reports(Reset::Server).await;
            "Server stats reset.\n".to_string()
        }
        "mntr" => mntr(core).await,
        "conf" => conf(core),
        "envi" => envi(core),
        "dirs" => {
            let cfg = &core.shared.config;
            let (snaps, logs) = (super::storage::snap_dir(cfg), super::storage::log_dir(cfg));
            let sizes = glommio::executor()
                .spawn_blocking(move || (dir_bytes(&snaps), dir_bytes(&logs)))
                .await;
            format!("datadir_size: {}\nlogdir_size: {}\n", sizes.0, sizes.1)
        }
        "wchs" => {
            let reports = core.gather_reports(Reset::None).await;
            let conns: usize = reports.iter().map(|r| r.watching_conns).sum();
            let paths: usize = reports.iter().map(|r| r.watch_paths).sum();
            let total: usize = reports.iter().map(|r| r.watch_count).sum();
            format!("{conns} connections watching {paths} paths\nTotal watches:{total}\n")
        }
        "wchc" => {
            let reports = core.gather_reports(Reset::None).await;
            let mut s = String::new();
            for r in &reports {
                for (sid, paths) in &r.by_session {
                    let _ = writeln!(s, "0x{sid:x}");
                    for p in paths {
                        let _ = writeln!(s, "\t{p}");
                    }
                }
            }
            s.push('\n');
            s
        }
        "wchp" => {
            let reports = core.gather_reports(Reset::None).await;
            let mut by_path: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
            for r in &reports {
                for (p, sids) in &r.by_path {
                    by_path.entry(p.clone()).or_default().extend(sids);
                }
            }
            let mut s = String::new();
            for (p, sids) in by_path {
                let _ = writeln!(s, "{p}");
                for sid in sids {
                    let _ = writeln!(s, "\t0x{sid:x}");
                }
            }
            s.push('\n');
            s
        }
        "dump" => dump(core).await,
        "gtmk" => "0\n".to_string(),
        "hash" => "No digest in the history.\n".to_string(),
        _ => format!("{cmd} is not executed because it is not in the whitelist.\n"),
    }
}

fn cons_line(c: &stats::ConnInfo, full: bool) -> String {
    let mut s = format!(
        " /{}[{}](queued={},recved={},sent={}",
        c.remote,
        if c.session != 0 { 1 } else { 0 },
        c.queued,
        c.received,
        c.sent
    );
    if full && c.session != 0 {
        let _ = write!(
            s,
            ",sid=0x{:x},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            c.session,
            c.last_op,
            c.established_ms,
            c.timeout_ms,
            c.last_cxid,
            c.last_zxid,
            c.last_response_ms,
            c.last_latency_ms,
            c.min_latency_ms,
            c.avg_latency_ms as u64,
            c.max_latency_ms
        );
    }
    s.push_str(")\n");
    s
}

fn srvr(core: &Core, clients: Option<&[CoreReport]>) -> String {
    let t = stats::totals(&core.shared.stats);
    let mut s = format!("Zookeeper version: {VERSION}\n");
    if let Some(reports) = clients {
        s.push_str("Clients:\n");
        for r in reports {
            for c in &r.conns {
                s.push_str(&cons_line(c, false));
            }
        }
        s.push('\n');
    }
    let _ = write!(
        s,
        "Latency min/avg/max: {}/{:.4}/{}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: 0x{:x}\nMode: standalone\nNode count: {}\n",
        t.min_ms,
        t.avg_ms,
        t.max_ms,
        t.received,
        t.sent,
        t.connections,
        t.outstanding,
        core.shared.arena.applied_zxid(),
        core.shared.arena.node_count()
    );
    s
}

async fn mntr(core: &Rc<Core>) -> String {
    let reports = core.gather_reports(Reset::None).await;
    let t = stats::totals(&core.shared.stats);
    let watches: usize = reports.iter().map(|r| r.watch_count).sum();
    let shared = &core.shared;
    let rows: Vec<(&str, String)> = vec![
        ("zk_version", VERSION.to_string()),
        ("zk_server_state", "standalone".into()),
        ("zk_ephemerals_count", shared.ephemerals.load(std::sync::atomic::Ordering::Relaxed).to_string()),
        ("zk_num_alive_connections", t.connections.to_string()),
        ("zk_avg_latency", format!("{:.4}", t.avg_ms)),
        ("zk_outstanding_requests", t.outstanding.to_string()),
        ("zk_znode_count", shared.arena.node_count().to_string()),
        ("zk_global_sessions", shared.session_count().to_string()),
        ("zk_non_mtls_remote_conn_count", "0".into()),
        ("zk_packets_sent", t.sent.to_string()),
        ("zk_packets_received", t.received.to_string()),
        ("zk_watch_count", watches.to_string()),
        ("zk_auth_failed_count", t.auth_failed.to_string()),
        ("zk_min_latency", t.min_ms.to_string()),
        ("zk_max_latency", t.max_ms.to_string()),
        ("zk_approximate_data_size", shared.arena.data_bytes().to_string()),
        ("zk_open_file_descriptor_count", open_fds().to_string()),
        ("zk_max_file_descriptor_count", max_fds().to_string()),
        ("zk_local_sessions", "0".into()),
        ("zk_uptime", (super::clock::wall_ms() - shared.started_wall_ms).to_string()),
        ("zk_last_proposal_size", "-1".into()),
        ("zk_max_proposal_size", "-1".into()),
        ("zk_min_proposal_size", "-1".into()),
        ("zk_outstanding_tls_handshake", "0".into()),
        ("zk_connection_drop_probability", "0.0".into()),
        ("zkr_cores", shared.cores.to_string()),
    ];
    let mut s = String::new();
    for (k, v) in rows {
        let _ = writeln!(s, "{k}\t{v}");
    }
    let mut latency = stats::OpLatency::default();
    for r in &reports {
        latency.merge(&r.latency);
    }
    for (op, h) in latency.iter() {
        let _ = writeln!(s, "zkr_latency_us_count_{op}\t{}", h.len());
        for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
            let _ = writeln!(s, "zkr_latency_us_{name}_{op}\t{}", h.value_at_quantile(q));
        }
        let _ = writeln!(s, "zkr_latency_us_max_{op}\t{}", h.max());
    }
    s
}

fn conf(core: &Core) -> String {
    let mut s = String::new();
    for (k, v) in core.shared.config.to_conf_lines() {
        let _ = writeln!(s, "{k}={v}");
    }
    s
}

fn envi(core: &Core) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
    let mut s = String::from("Environment:\n");
    let rows = [
        ("zookeeper.version", VERSION.to_string()),
        ("host.name", host.trim().to_string()),
        ("java.version", "n/a (zkr is native)".to_string()),
        ("java.vendor", "n/a".to_string()),
        ("java.home", "n/a".to_string()),
        ("java.class.path", "n/a".to_string()),
        ("java.library.path", "n/a".to_string()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", "<NA>".to_string()),
        ("os.name", "Linux".to_string()),
        ("os.arch", std::env::consts::ARCH.to_string()),
        ("os.version", std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string()),
        ("user.name", std::env::var("USER").unwrap_or_default()),
        ("user.home", std::env::var("HOME").unwrap_or_default()),
        ("user.dir", cwd),
        ("os.memory.free", "n/a".to_string()),
        ("os.memory.max", "n/a".to_string()),
        ("os.memory.total", "n/a".to_string()),
        ("zkr.cores", core.shared.cores.to_string()),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "{k}={v}");
    }
    s
}

async fn dump(core: &Core) -> String {
    // Walking every znode is O(n): do it on a blocking thread, not on the executor.
    let arena = core.shared.arena.clone();
    let by_session = glommio::executor()
        .spawn_blocking(move || {
            let mut by_session: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
            arena.for_each(|p, n| {
                if let crate::txn::NodeKind::Ephemeral(sid) = n.kind() {
                    by_session.entry(sid).or_default().push(p.to_string());
                }
            });
            by_session
        })
        .await;
    let mut s = String::from("SessionTracker dump:\n");
    let _ = writeln!(s, "Global Sessions({}):", core.shared.session_count());
    s.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(s, "Sessions with Ephemerals ({}):", by_session.len());
    for (sid, mut paths) in by_session {
        paths.sort();
        let _ = writeln!(s, "0x{sid:x}:");
        for p in paths {
            let _ = writeln!(s, "\t{p}");
        }
    }
    s.push_str("Connections dump:\n");
    s
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn max_fds() -> u64 {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0 { r.rlim_cur } else { 0 }
}

/// Bytes of the regular files in a directory (blocking: call off the executor).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
