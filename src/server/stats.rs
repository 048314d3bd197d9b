//! Per-core counters (atomics written by their own core only, read by any) and the report a
//! core gives for the four-letter words.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::types::SessionId;

/// Counters of one core.
#[derive(Debug, Default)]
pub struct CoreStats {
    /// Requests received (ZooKeeper's packetsReceived).
    pub packets_received: AtomicU64,
    /// Replies and notifications sent.
    pub packets_sent: AtomicU64,
    /// Requests received, not yet answered.
    pub outstanding: AtomicU64,
    /// Open client connections.
    pub connections: AtomicU64,
    /// Latency sum in microseconds.
    pub latency_us_sum: AtomicU64,
    /// Latency samples.
    pub latency_count: AtomicU64,
    /// Smallest latency in microseconds (u64::MAX when none).
    pub latency_us_min: AtomicU64,
    /// Largest latency in microseconds.
    pub latency_us_max: AtomicU64,
    /// Failed auth attempts.
    pub auth_failed: AtomicU64,
}

impl CoreStats {
    /// New zeroed stats.
    pub fn new() -> CoreStats {
        let s = CoreStats::default();
        s.latency_us_min.store(u64::MAX, Ordering::Relaxed);
        s
    }

    /// Records one request's latency.
    pub fn record_latency(&self, us: u64) {
        self.latency_us_sum.fetch_add(us, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        if us < self.latency_us_min.load(Ordering::Relaxed) {
            self.latency_us_min.store(us, Ordering::Relaxed);
        }
        if us > self.latency_us_max.load(Ordering::Relaxed) {
            self.latency_us_max.store(us, Ordering::Relaxed);
        }
    }

    /// Zeroes the server counters (srst).
    pub fn reset(&self) {
        for a in [&self.packets_received, &self.packets_sent, &self.latency_us_sum] {
            a.store(0, Ordering::Relaxed);
        }
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_us_max.store(0, Ordering::Relaxed);
        self.latency_us_min.store(u64::MAX, Ordering::Relaxed);
    }
}

/// Sums of all cores' counters.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    /// Requests received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// Outstanding requests.
    pub outstanding: u64,
    /// Connections.
    pub connections: u64,
    /// Min latency ms.
    pub min_ms: u64,
    /// Average latency ms.
    pub avg_ms: f64,
    /// Max latency ms.
    pub max_ms: u64,
    /// Failed auths.
    pub auth_failed: u64,
}

/// Adds up the counters of every core.
pub fn totals(all: &[std::sync::Arc<CoreStats>]) -> Totals {
    let mut t = Totals::default();
    let (mut sum, mut count, mut min, mut max) = (0u64, 0u64, u64::MAX, 0u64);
    for s in all {
        t.received += s.packets_received.load(Ordering::Relaxed);
        t.sent += s.packets_sent.load(Ordering::Relaxed);
        t.outstanding += s.outstanding.load(Ordering::Relaxed);
        t.connections += s.connections.load(Ordering::Relaxed);
        t.auth_failed += s.auth_failed.load(Ordering::Relaxed);
        sum += s.latency_us_sum.load(Ordering::Relaxed);
        count += s.latency_count.load(Ordering::Relaxed);
        min = min.min(s.latency_us_min.load(Ordering::Relaxed));
        max = max.max(s.latency_us_max.load(Ordering::Relaxed));
    }
    t.min_ms = if min == u64::MAX { 0 } else { min / 1000 };
    t.max_ms = max / 1000;
    t.avg_ms = if count == 0 { 0.0 } else { sum as f64 / count as f64 / 1000.0 };
    t
}

/// Request latency per op type on one core, in microseconds (HdrHistogram, 3 significant
/// digits, 1 µs to 60 s). Recording costs a few tens of ns, so it is always on.
#[derive(Debug, Default, Clone)]
pub struct OpLatency {
    by_op: std::collections::BTreeMap<&'static str, hdrhistogram::Histogram<u64>>,
}

/// Largest latency a histogram records (longer ones are clamped), in µs.
const LATENCY_US_MAX: u64 = 60_000_000;

impl OpLatency {
    /// Records one request of `op` that took `us`.
    pub fn record(&mut self, op: &'static str, us: u64) {
        let h = self.by_op.entry(op).or_insert_with(|| {
            hdrhistogram::Histogram::new_with_bounds(1, LATENCY_US_MAX, 3)
                .expect("constant histogram bounds are valid")
        });
        h.saturating_record(us.clamp(1, LATENCY_US_MAX));
    }

    /// Adds another core's histograms.
    pub fn merge(&mut self, other: &OpLatency) {
        for (op, h) in &other.by_op {
            match self.by_op.get_mut(op) {
                Some(mine) => {
                    let _ = mine.add(h);
                }
                None => {
                    self.by_op.insert(op, h.clone());
                }
            }
        }
    }

    /// Histograms by op name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &hdrhistogram::Histogram<u64>)> {
        self.by_op.iter().map(|(k, v)| (*k, v))
    }

    /// Forgets everything (srst).
    pub fn clear(&mut self) {
        self.by_op.clear();
    }
}

/// One connection as `cons` shows it.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// Remote address `ip:port`.
    pub remote: String,
    /// Outstanding requests.
    pub queued: u64,
    /// Requests received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// Session id (0 before the handshake).
    pub session: SessionId,
    /// Last operation name (ZooKeeper's short names).
    pub last_op: String,
    /// Established, ms since the epoch.
    pub established_ms: i64,
    /// Negotiated timeout.
    pub timeout_ms: i32,
    /// Last client xid.
    pub last_cxid: i32,
    /// Last zxid replied.
    pub last_zxid: i64,
    /// Last response time, ms since the epoch.
    pub last_response_ms: i64,
    /// Last latency ms.
    pub last_latency_ms: u64,
    /// Min latency ms.
    pub min_latency_ms: u64,
    /// Avg latency ms.
    pub avg_latency_ms: f64,
    /// Max latency ms.
    pub max_latency_ms: u64,
}

/// What a core reports about its connections and watches.
#[derive(Debug, Clone, Default)]
pub struct CoreReport {
    /// Its connections.
    pub conns: Vec<ConnInfo>,
    /// Watch registrations.
    pub watch_count: usize,
    /// Watched paths.
    pub watch_paths: usize,
    /// Connections with watches.
    pub watching_conns: usize,
    /// Watched paths by session.
    pub by_session: Vec<(SessionId, Vec<String>)>,
    /// Sessions by watched path.
    pub by_path: Vec<(String, Vec<SessionId>)>,
    /// Request latency per op type.
    pub latency: OpLatency,
}
