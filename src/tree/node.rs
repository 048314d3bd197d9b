//! One znode's immutable state. The writer replaces a node whole (copy on write); readers hold
//! an `Arc<Node>` while they answer, so a later change never frees data under them.

use std::sync::Arc;

use crate::proto::records::{Acl, Stat};
use crate::txn::NodeKind;

static NULL_DATA: std::sync::LazyLock<Arc<[u8]>> = std::sync::LazyLock::new(|| Arc::from(&[][..]));

/// The data of a node created or set with null data (ZooKeeper keeps null apart from empty and
/// answers it with length -1). Recognised by identity, so it costs no field in `Node`.
pub fn null_data() -> Arc<[u8]> {
    NULL_DATA.clone()
}

/// True if `data` is the null marker.
pub fn is_null_data(data: &Arc<[u8]>) -> bool {
    Arc::ptr_eq(data, &NULL_DATA)
}

/// Data from a wire buffer that may be null.
pub fn data_from_wire(data: Option<&Vec<u8>>) -> Arc<[u8]> {
    match data {
        None => null_data(),
        Some(d) => Arc::from(d.as_slice()),
    }
}

/// Data for the wire: `None` for null.
pub fn data_to_wire(data: &Arc<[u8]>) -> Option<Vec<u8>> {
    if is_null_data(data) { None } else { Some(data.to_vec()) }
}

/// Sorted child names. A persistent B-tree: cloning is O(1) and an insert or remove copies only
/// a path of O(log n) chunks, so 100k-child nodes stay cheap to change.
pub type Children = imbl::OrdSet<Arc<str>>;

/// A znode as stored in the arena.
#[derive(Debug, Clone)]
pub struct Node {
    /// Zxid of the create.
    pub czxid: i64,
    /// Zxid of the last data change.
    pub mzxid: i64,
    /// Zxid of the last child list change.
    pub pzxid: i64,
    /// Create time, ms since the epoch.
    pub ctime: i64,
    /// Last data change time.
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// Child creates so far (see `stat` for what clients see).
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// ZooKeeper's ephemeral owner encoding (see `txn::NodeKind`).
    pub ephemeral_owner: i64,
    /// The data.
    pub data: Arc<[u8]>,
    /// The ACL (shared between nodes created with the same list).
    pub acl: Arc<[Acl]>,
    /// Child names.
    pub children: Children,
}

impl Node {
    /// The wire Stat of this node, as ZooKeeper's `DataNode.copyStat`: the stored cversion
    /// counts child creates (it numbers sequential children); clients see creates plus deletes,
    /// `2 * creates - live children`. Containers and TTL nodes show no owner.
    pub fn stat(&self) -> Stat {
        let num_children = self.children.len() as i32;
        let ephemeral_owner = match self.kind() {
            NodeKind::Ephemeral(s) => s,
            _ => 0,
        };
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner,
            data_length: self.data.len() as i32,
            num_children,
            pzxid: self.pzxid,
        }
    }

    /// Kind derived from the ephemeral owner.
    pub fn kind(&self) -> NodeKind {
        NodeKind::from_owner(self.ephemeral_owner)
    }

    /// A fresh node.
    pub fn new(zxid: i64, time_ms: i64, owner: i64, data: Arc<[u8]>, acl: Arc<[Acl]>) -> Node {
        Node {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time_ms,
            mtime: time_ms,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            data,
            acl,
            children: Children::new(),
        }
    }

    /// Approximate memory held by this node (for `mntr`'s data size).
    pub fn data_bytes(&self) -> usize {
        self.data.len()
    }
}
