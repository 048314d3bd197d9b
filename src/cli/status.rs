//! `zkr status`: asks one or more servers (zkr or Apache ZooKeeper) for `srvr` and `mntr` and
//! prints their mode, zxid, sessions, znodes and, with `--latency`, zkr's per-op latency
//! percentiles. Like `zkServer.sh status`, plus more.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long one four-letter word may take.
const WORD_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read (mntr of a big server is a few KiB).
const ANSWER_BYTES_MAX: u64 = 1 << 20;

fn ask(addr: &str, word: &str) -> Result<String, String> {
    let sock: SocketAddr = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut s = TcpStream::connect_timeout(&sock, WORD_TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(WORD_TIMEOUT)).map_err(|e| e.to_string())?;
    s.write_all(word.as_bytes()).map_err(|e| format!("{addr}: {e}"))?;
    let mut out = String::new();
    s.take(ANSWER_BYTES_MAX).read_to_string(&mut out).map_err(|e| format!("{addr}: {e}"))?;
    if out.contains("is not executed because it is not in the whitelist") {
        return Err(format!("{addr}: '{word}' is not in the server's 4lw.commands.whitelist"));
    }
    Ok(out)
}

/// Parses `mntr` (tab-separated) or `srvr` (`Key: value`) lines.
fn pairs(text: &str, sep: char) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(sep))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn one(addr: &str, latency: bool, out: &mut String) -> Result<(), String> {
    let srvr = pairs(&ask(addr, "srvr")?, ':');
    let mntr = ask(addr, "mntr").map(|t| pairs(&t, '\t')).unwrap_or_default();
    let get = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_else(|| "?".into());
    out.push_str(&format!("{addr}\n"));
    out.push_str(&format!("  Mode: {}\n", get(&srvr, "Mode")));
    out.push_str(&format!("  Version: {}\n", get(&srvr, "Zookeeper version")));
    out.push_str(&format!("  Zxid: {}\n", get(&srvr, "Zxid")));
    out.push_str(&format!("  Znodes: {}\n", get(&srvr, "Node count")));
    out.push_str(&format!("  Sessions: {}\n", get(&mntr, "zk_global_sessions")));
    out.push_str(&format!("  Connections: {}\n", get(&srvr, "Connections")));
    out.push_str(&format!("  Outstanding: {}\n", get(&srvr, "Outstanding")));
    out.push_str(&format!("  Latency min/avg/max ms: {}\n", get(&srvr, "Latency min/avg/max")));
    if latency {
        let ops: Vec<&str> = mntr
            .keys()
            .filter_map(|k| k.strip_prefix("zkr_latency_us_count_"))
            .collect();
        if ops.is_empty() {
            out.push_str("  (no per-op latency histograms: not a zkr server, or no requests yet)\n");
        } else {
            out.push_str(&format!(
                "  {:<22} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
                "latency µs", "count", "p50", "p90", "p99", "p99.9", "max"
            ));
        }
        for op in ops {
            let q = |name: &str| get(&mntr, &format!("zkr_latency_us_{name}_{op}"));
            out.push_str(&format!(
                "  {:<22} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
                op,
                q("count"),
                q("p50"),
                q("p90"),
                q("p99"),
                q("p999"),
                q("max")
            ));
        }
    }
    Ok(())
}

/// Prints the status of each server; returns the exit code (1 if any could not be asked).
pub fn run(servers: &[String], latency: bool) -> i32 {
    let default = vec!["127.0.0.1:2181".to_string()];
    let servers = if servers.is_empty() { &default } else { servers };
    let mut code = 0;
    for addr in servers {
        let mut out = String::new();
        match one(addr, latency, &mut out) {
            Ok(()) => print!("{out}"),
            Err(e) => {
                eprintln!("zkr status: {e}");
                code = 1;
            }
        }
    }
    code
}
