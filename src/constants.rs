//! Every limit of zkr in one place, with what happens when it is reached.
//!
//! Relations between limits are checked at compile time. Runtime-configurable values
//! (zoo.cfg) take their defaults from here.

/// Largest request frame accepted (ZooKeeper's `jute.maxbuffer` default). A larger announced
/// length closes the connection, as ZooKeeper does.
pub const FRAME_BYTES_MAX: u32 = 0xfffff;

/// Largest number of txns cut into one batch by the consensus core. More queued writes wait for
/// the next batch.
pub const BATCH_TXNS_MAX: usize = 1024;

/// Largest number of payload bytes in one batch (soft: a batch is closed once it is exceeded).
pub const BATCH_BYTES_MAX: usize = 4 * FRAME_BYTES_MAX as usize;
const _: () = assert!(BATCH_BYTES_MAX >= FRAME_BYTES_MAX as usize);

/// Requests a session may have outstanding (received, not yet answered) before the server stops
/// reading from its socket until replies drain (backpressure, no error).
pub const SESSION_OUTSTANDING_MAX: usize = 1000;

/// Bytes of replies queued for one connection before the server stops reading its requests.
pub const CONN_OUTPUT_BYTES_MAX: usize = 8 << 20;

/// Capacity of each cross-core channel (messages). A full channel makes the sender wait.
pub const MESH_CHANNEL_CAPACITY: usize = 4096;

/// A connection's read buffer starts at this size...
pub const READ_BUF_MIN_BYTES: usize = 1024;

/// ...and doubles, each time a read fills it, up to this.
pub const READ_BUF_MAX_BYTES: usize = 64 * 1024;

/// glommio shares of the consensus task queue (the pipeline and the log's disk task); a
/// connection's queue has the default 1000, so a runnable consensus task goes first.
pub const CONSENSUS_SHARES: usize = 10_000;

/// The latency glommio keeps for the consensus task queue: a connection task running when
/// a consensus task becomes runnable is cut short within this.
pub const CONSENSUS_LATENCY: std::time::Duration = std::time::Duration::from_micros(100);

/// Watches one connection may hold. Requests that would add more get `ZTHROTTLEDOP`-free
/// treatment: the watch is simply not added beyond this (logged once).
pub const CONN_WATCHES_MAX: usize = 1 << 20;

/// Sessions the server holds at once; further connection attempts are closed.
pub const SESSIONS_MAX: usize = 1 << 20;

/// Paths longer than this are refused with `BadArguments`.
pub const PATH_BYTES_MAX: usize = FRAME_BYTES_MAX as usize;

/// Length of the sequential suffix ZooKeeper appends (`%010d`).
pub const SEQUENTIAL_SUFFIX_DIGITS: usize = 10;

/// Length of a session password in bytes (as ZooKeeper).
pub const SESSION_PASSWD_BYTES: usize = 16;

/// Ops in one multi request; more is `BadArguments` (ZooKeeper has no explicit limit beyond
/// `jute.maxbuffer`, which bounds it anyway).
pub const MULTI_OPS_MAX: usize = 100_000;

/// Default tick in milliseconds (`tickTime`).
pub const TICK_TIME_MS_DEFAULT: u32 = 2000;

/// How often session cores report session activity to the consensus core, in milliseconds.
pub const TOUCH_REPORT_INTERVAL_MS: u64 = 50;

/// How often the consensus core looks for expired sessions, containers and TTL nodes when
/// nothing else wakes it, in milliseconds.
pub const SESSION_CHECK_INTERVAL_MS: u64 = 50;

/// Default interval between container/TTL sweeps (ZooKeeper's
/// `znode.container.checkIntervalMs` default is 60 s).
pub const CONTAINER_CHECK_INTERVAL_MS_DEFAULT: u64 = 60_000;

/// Bytes of `io_memory` each glommio executor registers (pinned 3x, see STACK.md).
pub const IO_MEMORY_BYTES_DEFAULT: usize = 1 << 20;

/// Connections one four-letter-word request may stay open while its answer is written.
pub const FOUR_LETTER_TIMEOUT_MS: u64 = 5_000;

/// Max time a connection may stay open without completing its handshake.
pub const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// Distinct ACL lists the prep stage keeps interned (nodes with equal ACLs share one
/// allocation). Past this the cache starts over; sharing is an optimisation, not a rule.
pub const ACL_CACHE_MAX: usize = 4096;
