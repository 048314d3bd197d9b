//! The Prometheus text endpoint (`metricsProvider.httpPort`, like ZooKeeper's Prometheus
//! metrics provider): `GET /metrics` answers the counters of `mntr` and the per-op latency
//! histograms as summaries. Runs on core 0; one request per connection, bounded.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};

use super::core::Core;
use super::msg::Reset;
use super::stats::{self, OpLatency};

/// Bytes of request head read at most.
const REQUEST_BYTES_MAX: usize = 8 << 10;
/// Time a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the endpoint on an already bound, listening socket.
pub async fn serve(core: Rc<Core>, listener: glommio::net::TcpListener) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                glommio::spawn_local(one(core.clone(), stream)).detach();
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn one(core: Rc<Core>, mut stream: glommio::net::TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while head.len() < REQUEST_BYTES_MAX && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    };
    let timeout = async {
        glommio::timer::sleep(REQUEST_TIMEOUT).await;
        false
    };
    if !futures_lite::future::or(read, timeout).await {
        return;
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = if method == "GET" && (path == "/metrics" || path.starts_with("/metrics?")) {
        ("200 OK", render(&core).await)
    } else {
        ("404 Not Found", "not found: try GET /metrics\n".to_string())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.close().await;
}

/// The exposition text: the `mntr` counters and the latency summaries.
pub async fn render(core: &Rc<Core>) -> String {
    let reports = core.gather_reports(Reset::None).await;
    let t = stats::totals(&core.shared.stats);
    let shared = &core.shared;
    let watches: usize = reports.iter().map(|r| r.watch_count).sum();
    let gauges: [(&str, &str, u64); 9] = [
        ("znode_count", "Number of znodes", shared.arena.node_count() as u64),
        ("num_alive_connections", "Open client connections", t.connections),
        ("outstanding_requests", "Requests received, not yet answered", t.outstanding),
        ("global_sessions", "Live sessions", shared.session_count()),
        ("ephemerals_count", "Ephemeral znodes", shared.ephemerals.load(std::sync::atomic::Ordering::Relaxed)),
        ("watch_count", "Watch registrations", watches as u64),
        ("approximate_data_size", "Bytes of data and paths", shared.arena.data_bytes() as u64),
        ("last_zxid", "Highest applied zxid", shared.arena.applied_zxid() as u64),
        ("zkr_cores", "Executors (cores) serving", shared.cores as u64),
    ];
    let mut s = String::new();
    for (name, help, v) in gauges {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    let counters = [
        ("packets_received", "Requests received", t.received),
        ("packets_sent", "Replies and notifications sent", t.sent),
        ("auth_failed_count", "Failed auth requests", t.auth_failed),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    }
    let mut latency = OpLatency::default();
    for r in &reports {
        latency.merge(&r.latency);
    }
    let name = "zkr_request_latency_us";
    let _ = writeln!(s, "# HELP {name} Request latency by op type, microseconds");
    let _ = writeln!(s, "# TYPE {name} summary");
    for (op, h) in latency.iter() {
        for q in [0.5, 0.9, 0.99, 0.999] {
            let _ = writeln!(s, "{name}{{op=\"{op}\",quantile=\"{q}\"}} {}", h.value_at_quantile(q));
        }
        let sum = (h.mean() * h.len() as f64).round() as u64;
        let _ = writeln!(s, "{name}_sum{{op=\"{op}\"}} {sum}");
        let _ = writeln!(s, "{name}_count{{op=\"{op}\"}} {}", h.len());
    }
    s
}
