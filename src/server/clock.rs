//! The only reader of the wall clock and the monotonic clock in zkr.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Milliseconds since the Unix epoch (for ctime/mtime and reports).
pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Monotonic milliseconds since the process started (for expiry).
pub fn mono_ms() -> i64 {
    origin().elapsed().as_millis() as i64
}

/// Monotonic microseconds since the process started (for latencies).
pub fn mono_us() -> u64 {
    origin().elapsed().as_micros() as u64
}
