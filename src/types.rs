//! Small shared newtypes and helpers: zxids, session ids, core ids.

/// A ZooKeeper transaction id: `epoch << 32 | counter`.
pub type Zxid = i64;

/// A session id as on the wire.
pub type SessionId = i64;

/// Index of a glommio executor (shard) in this process; not a CPU number.
pub type CoreId = usize;

/// Identifies one client connection within the process: (core, per-core counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    /// Executor that owns the connection.
    pub core: CoreId,
    /// Counter local to that executor.
    pub local: u64,
}

/// Builds a zxid from an epoch and a counter.
pub fn make_zxid(epoch: u32, counter: u32) -> Zxid {
    ((epoch as i64) << 32) | counter as i64
}

/// The epoch half of a zxid.
pub fn zxid_epoch(zxid: Zxid) -> u32 {
    (zxid >> 32) as u32
}

/// The counter half of a zxid.
pub fn zxid_counter(zxid: Zxid) -> u32 {
    zxid as u32
}
