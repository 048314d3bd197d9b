//! Four-letter words on the client port: the output structure of Apache ZooKeeper 3.8, since
//! monitoring tools parse it, and the whitelist refusal message.

mod common;

use common::raw::{self, RawConn, flags, op};
use common::*;

/// A raw session holding one ephemeral node and a data + child watch on it.
struct Activity {
    conn: RawConn,
    sid: i64,
    port: u16,
    node: String,
}

fn activity(s: &TestServer, tag: &str) -> Activity {
    let (mut conn, rsp) = s.raw(4000);
    let node = unique(tag);
    let r = conn
        .call(
            op::CREATE,
            &raw::create_body(&node, b"", raw::OPEN_ACL, flags::EPHEMERAL),
        )
        .unwrap();
    assert_eq!(r.err(), 0);
    assert_eq!(
        conn.call(op::GET_DATA, &raw::path_watch_body(&node, true))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(
        conn.call(op::GET_CHILDREN, &raw::path_watch_body(&node, true))
            .unwrap()
            .err(),
        0
    );
    let port = conn.stream.local_addr().unwrap().port();
    Activity {
        conn,
        sid: rsp.session_id,
        port,
        node,
    }
}

fn value<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
}

fn num(out: &str, prefix: &str) -> i64 {
    let v = value(out, prefix).trim();
    v.parse()
        .unwrap_or_else(|_| panic!("{prefix:?} is not a number: {v:?}"))
}

/// Checks the lines shared by srvr and stat, in order, and returns the Zxid.
fn check_server_summary(out: &str, summary: &str, min_zxid: i64) -> i64 {
    let prefixes = [
        "Latency min/avg/max: ",
        "Received: ",
        "Sent: ",
        "Connections: ",
        "Outstanding: ",
        "Zxid: 0x",
        "Mode: ",
        "Node count: ",
    ];
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines.len(), prefixes.len(), "summary lines:\n{out}");
    for (l, p) in lines.iter().zip(prefixes) {
        assert!(l.starts_with(p), "expected {p:?}, got {l:?} in:\n{out}");
    }
    let lat: Vec<&str> = value(summary, "Latency min/avg/max: ").split('/').collect();
    assert_eq!(lat.len(), 3, "{out}");
    lat[0].parse::<i64>().unwrap();
    lat[1].parse::<f64>().unwrap();
    lat[2].parse::<i64>().unwrap();
    for p in [
        "Received: ",
        "Sent: ",
        "Connections: ",
        "Outstanding: ",
        "Node count: ",
    ] {
        assert!(num(summary, p) >= 0, "{p}");
    }
    assert!(num(summary, "Connections: ") >= 1);
    assert!(
        num(summary, "Node count: ") >= 2,
        "at least / and /zookeeper"
    );
    let zx = value(summary, "Zxid: 0x");
    assert!(
        zx.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "lowercase hex: {zx}"
    );
    let zxid = i64::from_str_radix(zx, 16).unwrap();
    assert!(
        zxid >= min_zxid,
        "Zxid 0x{zxid:x} behind a zxid we were told: 0x{min_zxid:x}"
    );
    assert_eq!(value(summary, "Mode: "), "standalone");
    assert!(summary.ends_with('\n'));
    zxid
}

#[test]
fn ruok_answers_imok() {
    let s = TestServer::start();
    assert_eq!(s.four_letter("ruok"), "imok");
}

#[test]
fn srvr_structure() {
    let s = TestServer::start();
    let mut a = activity(&s, "4lw-srvr");
    let zx = a.conn.ping().unwrap().header.zxid;
    let out = s.four_letter("srvr");
    let (first, rest) = out.split_once('\n').expect("srvr output");
    assert!(first.starts_with("Zookeeper version: "), "{out}");
    assert!(first.len() > "Zookeeper version: ".len());
    check_server_summary(&out, rest, zx);
}

#[test]
fn stat_structure_lists_clients() {
    let s = TestServer::start();
    let mut a = activity(&s, "4lw-stat");
    let zx = a.conn.ping().unwrap().header.zxid;
    let out = s.four_letter("stat");
    let mut lines = out.split_inclusive('\n');
    assert!(
        lines.next().unwrap().starts_with("Zookeeper version: "),
        "{out}"
    );
    assert_eq!(lines.next().unwrap(), "Clients:\n", "{out}");
    let rest: String = lines.collect();
    let (clients, summary) = rest
        .split_once("\n\n")
        .expect("blank line after the client list");
    let ours = format!(" /127.0.0.1:{}[", a.port);
    assert!(
        clients.lines().any(|l| l.starts_with(&ours)),
        "our connection {ours} not listed:\n{out}"
    );
    for l in clients.lines() {
        assert!(l.starts_with(" /"), "client line {l:?}");
        assert!(
            l.contains("](queued=")
                && l.contains(",recved=")
                && l.contains(",sent=")
                && l.ends_with(')'),
            "{l:?}"
        );
    }
    check_server_summary(&out, &format!("{summary}"), zx);
}

#[test]
fn mntr_structure() {
    let s = TestServer::start();
    let _a = activity(&s, "4lw-mntr");
    let out = s.four_letter("mntr");
    let mut kv = std::collections::HashMap::new();
    for l in out.lines() {
        let (k, v) = l
            .split_once('\t')
            .unwrap_or_else(|| panic!("not tab-separated: {l:?}"));
        // ZooKeeper's keys all start with zk_; other servers may add their own keys.
        assert!(!k.is_empty() && !k.contains(char::is_whitespace), "{l:?}");
        assert!(!v.contains('\t'), "{l:?}");
        kv.insert(k, v);
    }
    assert!(out.ends_with('\n'));
    assert!(!kv["zk_version"].is_empty());
    assert_eq!(kv["zk_server_state"], "standalone");
    let int = |k: &str| -> i64 {
        kv.get(k)
            .unwrap_or_else(|| panic!("{k} missing:\n{out}"))
            .parse()
            .unwrap_or_else(|_| panic!("{k} not an integer"))
    };
    kv["zk_avg_latency"]
        .parse::<f64>()
        .expect("zk_avg_latency is a number");
    for k in [
        "zk_min_latency",
        "zk_max_latency",
        "zk_packets_received",
        "zk_packets_sent",
        "zk_outstanding_requests",
        "zk_approximate_data_size",
        "zk_open_file_descriptor_count",
        "zk_max_file_descriptor_count",
        "zk_uptime",
    ] {
        assert!(int(k) >= 0, "{k}");
    }
    assert!(int("zk_znode_count") >= 3, "/, /zookeeper and ours");
    assert!(int("zk_watch_count") >= 1);
    assert!(int("zk_ephemerals_count") >= 1);
    assert!(int("zk_num_alive_connections") >= 1);
}

#[test]
fn conf_structure() {
    let s = TestServer::start();
    let out = s.four_letter("conf");
    for l in out.lines() {
        assert!(l.contains('='), "not key=value: {l:?}");
    }
    let port = s.addr.rsplit(':').next().unwrap();
    assert_eq!(value(&out, "clientPort="), port);
    assert!(!value(&out, "dataDir=").is_empty());
    assert!(!value(&out, "dataLogDir=").is_empty());
    assert_eq!(num(&out, "tickTime="), TICK_MS as i64);
    assert_eq!(num(&out, "minSessionTimeout="), 2 * TICK_MS as i64);
    assert_eq!(num(&out, "maxSessionTimeout="), 20 * TICK_MS as i64);
    assert!(num(&out, "maxClientCnxns=") >= 0);
    num(&out, "serverId=");
}

#[test]
fn cons_lists_session_details() {
    let s = TestServer::start();
    let a = activity(&s, "4lw-cons");
    let out = s.four_letter("cons");
    assert!(out.ends_with("\n\n"), "{out:?}");
    let ours = format!(" /127.0.0.1:{}[", a.port);
    let line = out
        .lines()
        .find(|l| l.starts_with(&ours))
        .unwrap_or_else(|| panic!("{ours} not in:\n{out}"));
    assert!(line.contains(&format!(",sid=0x{:x},", a.sid)), "{line}");
    assert!(line.contains(",to=4000,"), "{line}");
    for key in [
        "](queued=",
        ",recved=",
        ",sent=",
        ",lop=",
        ",est=",
        ",lcxid=0x",
        ",lzxid=0x",
        ",lresp=",
        ",llat=",
        ",minlat=",
        ",avglat=",
        ",maxlat=",
    ] {
        assert!(line.contains(key), "{key} missing in {line}");
    }
    assert!(line.ends_with(')'), "{line}");
}

#[test]
fn watch_words_wchs_wchc_wchp() {
    let s = TestServer::start();
    let a = activity(&s, "4lw-wch");
    let sid = format!("0x{:x}", a.sid);

    let out = s.four_letter("wchs");
    let (first, second) = out.split_once('\n').unwrap();
    let words: Vec<&str> = first.split(' ').collect();
    assert_eq!(words.len(), 5, "{out:?}");
    assert!(words[0].parse::<u64>().unwrap() >= 1);
    assert_eq!(&words[1..3], ["connections", "watching"]);
    assert!(words[3].parse::<u64>().unwrap() >= 1);
    assert_eq!(words[4], "paths");
    let total = second
        .strip_prefix("Total watches:")
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(total.trim_end().parse::<u64>().unwrap() >= 1);
    assert!(out.ends_with('\n'));

    // wchc: by session, then the session's watched paths indented by a tab.
    let out = s.four_letter("wchc");
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| *l == sid)
        .unwrap_or_else(|| panic!("{sid} not in:\n{out}"));
    let paths: Vec<&str> = lines[i + 1..]
        .iter()
        .take_while(|l| l.starts_with('\t'))
        .map(|l| &l[1..])
        .collect();
    assert!(paths.contains(&a.node.as_str()), "{out}");

    // wchp: by path, then the watching sessions indented by a tab.
    let out = s.four_letter("wchp");
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| *l == a.node)
        .unwrap_or_else(|| panic!("{} not in:\n{out}", a.node));
    let sids: Vec<&str> = lines[i + 1..]
        .iter()
        .take_while(|l| l.starts_with('\t'))
        .map(|l| &l[1..])
        .collect();
    assert!(sids.contains(&sid.as_str()), "{out}");
}

#[test]
fn dump_lists_sessions_with_ephemerals() {
    let s = TestServer::start();
    let a = activity(&s, "4lw-dump");
    let out = s.four_letter("dump");
    assert!(out.starts_with("SessionTracker dump:\n"), "{out}");
    let eph = out
        .split_once("ephemeral nodes dump:\n")
        .unwrap_or_else(|| panic!("{out}"))
        .1;
    assert!(eph.starts_with("Sessions with Ephemerals ("), "{out}");
    let block = format!("\n0x{:x}:\n\t{}\n", a.sid, a.node);
    assert!(eph.contains(&block), "{block:?} not in:\n{out}");
}

#[test]
fn envi_structure() {
    let s = TestServer::start();
    let out = s.four_letter("envi");
    let (first, rest) = out.split_once('\n').unwrap();
    assert_eq!(first, "Environment:");
    for l in rest.lines() {
        assert!(l.contains('='), "not key=value: {l:?}");
    }
    for k in [
        "zookeeper.version=",
        "host.name=",
        "os.name=",
        "os.arch=",
        "os.version=",
        "user.name=",
        "user.home=",
        "user.dir=",
    ] {
        value(&out, k);
    }
}

#[test]
fn isro_dirs_srst_crst() {
    let s = TestServer::start();
    assert_eq!(s.four_letter("isro"), "rw");
    let out = s.four_letter("dirs");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(num(&out, "datadir_size: ") >= 0);
    assert!(num(&out, "logdir_size: ") >= 0);
    assert_eq!(s.four_letter("srst"), "Server stats reset.\n");
    assert_eq!(s.four_letter("crst"), "Connection stats reset.\n");
    // Still consistent after the resets.
    let out = s.four_letter("srvr");
    let (_, rest) = out.split_once('\n').unwrap();
    check_server_summary(&out, rest, 0);
}

#[test]
fn unknown_word_gets_no_answer() {
    let s = TestServer::start();
    // Not a command: the four bytes are read as a (too large) frame length; the connection is
    // closed without a word.
    assert_eq!(s.four_letter("xyzw"), "");
    assert!(ruok(&s.addr));
}

#[test]
fn words_outside_the_whitelist_are_refused() {
    let Some(s) = TestServer::try_start_with(&[("4lw.commands.whitelist", "ruok, srvr")]) else {
        eprintln!("skipped: needs its own server (set ZKR_TEST_ZOOKEEPER_CP with ZKR_TEST_ADDR)");
        return;
    };
    assert_eq!(s.four_letter("ruok"), "imok");
    assert!(s.four_letter("srvr").starts_with("Zookeeper version: "));
    for w in [
        "stat", "mntr", "conf", "cons", "wchs", "wchc", "wchp", "dump", "envi", "isro", "dirs",
        "srst", "crst",
    ] {
        assert_eq!(
            s.four_letter(w),
            format!("{w} is not executed because it is not in the whitelist.\n")
        );
    }
    s.assert_healthy();
}

/// zkr's own additions: per-op latency percentiles in `mntr` (HdrHistogram, always on) and
/// `zkr status --latency`, which reads them. Skipped against other servers.
#[test]
fn zkr_latency_percentiles_and_status() {
    if std::env::var("ZKR_TEST_ADDR").is_ok() || std::env::var("ZKR_TEST_ZOOKEEPER_CP").is_ok() {
        return;
    }
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let node = unique("latency");
    for _ in 0..3 {
        assert_eq!(c.call(op::EXISTS, &raw::path_watch_body(&node, false)).unwrap().err(), -101);
    }
    let r = c.call(op::CREATE, &raw::create_body(&node, b"x", raw::OPEN_ACL, 0)).unwrap();
    assert_eq!(r.err(), 0);
    let mntr = s.four_letter("mntr");
    let value = |key: &str| -> u64 {
        let line = mntr.lines().find(|l| l.split('\t').next() == Some(key));
        let line = line.unwrap_or_else(|| panic!("mntr has no {key}:\n{mntr}"));
        line.split('\t').nth(1).unwrap().parse().unwrap()
    };
    assert!(value("zkr_latency_us_count_exists") >= 3);
    assert!(value("zkr_latency_us_count_create") >= 1);
    for q in ["p50", "p90", "p99", "p999", "max"] {
        assert!(value(&format!("zkr_latency_us_{q}_create")) >= 1);
    }
    assert!(value("zkr_latency_us_p50_exists") <= value("zkr_latency_us_max_exists"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zkr"))
        .args(["status", &s.addr, "--latency"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Mode: standalone"), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("create ")), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("exists ")), "{text}");
    // A server that is not there: a clear error and exit code 1.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zkr"))
        .args(["status", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:1"));
}

/// The Prometheus endpoint (`metricsProvider.httpPort`, as ZooKeeper's Prometheus provider):
/// `GET /metrics` in the text format, 404 elsewhere, garbage gets a closed connection.
#[test]
fn prometheus_metrics_endpoint() {
    use std::io::{Read, Write};
    if std::env::var("ZKR_TEST_ADDR").is_ok() || std::env::var("ZKR_TEST_ZOOKEEPER_CP").is_ok() {
        return;
    }
    let port = free_port().to_string();
    let provider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
    let s = TestServer::start_with(&[
        ("metricsProvider.className", provider),
        ("metricsProvider.httpPort", &port),
    ]);
    let (mut c, _) = s.raw(4000);
    let node = unique("metrics");
    let r = c.call(op::CREATE, &raw::create_body(&node, b"x", raw::OPEN_ACL, 0)).unwrap();
    assert_eq!(r.err(), 0);
    let get = |request: &[u8]| -> String {
        let mut t = std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()))
            .unwrap();
        t.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        t.write_all(request).unwrap();
        let mut out = String::new();
        let _ = t.read_to_string(&mut out);
        out
    };
    let out = get(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Content-Type: text/plain; version=0.0.4"), "{out}");
    let body = out.split("\r\n\r\n").nth(1).unwrap();
    let value = |name: &str| -> u64 {
        let line = body.lines().find(|l| l.split(' ').next() == Some(name));
        line.unwrap_or_else(|| panic!("no {name}:\n{body}")).split(' ').nth(1).unwrap().parse().unwrap()
    };
    assert!(value("znode_count") >= 5);
    assert!(value("packets_received") >= 1);
    assert!(value("global_sessions") >= 1);
    assert!(body.contains("# TYPE zkr_request_latency_us summary"), "{body}");
    assert!(body.contains("zkr_request_latency_us_count{op=\"create\"} "), "{body}");
    assert!(body.contains("zkr_request_latency_us{op=\"create\",quantile=\"0.99\"} "), "{body}");
    assert!(get(b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    // Garbage without a request head: the connection just closes (bounded by a timeout).
    let _ = get(&[0xff; 100]);
    s.assert_healthy();
}
