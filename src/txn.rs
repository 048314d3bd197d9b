//! Transactions: the validated, deterministic changes that the consensus core orders, logs and
//! applies. Produced by `request::prep`, applied by `tree::DataTree::apply`.
//!
//! A txn carries everything its apply needs (no lookups of request state, no clock).

use std::sync::Arc;

use crate::proto::records::Acl;
use crate::types::{SessionId, Zxid};

/// One ordered transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// Position in the total order.
    pub zxid: Zxid,
    /// Leader wall time in ms when the txn was made (becomes ctime/mtime).
    pub time_ms: i64,
    /// Session that asked for it (0 for server-made txns such as container deletes).
    pub session: SessionId,
    /// The client xid, for matching the reply.
    pub cxid: i32,
    /// What changes.
    pub body: TxnBody,
}

/// What a txn changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    /// A new session with its negotiated timeout.
    CreateSession {
        /// Negotiated timeout in ms.
        timeout_ms: i32,
    },
    /// The session ends; its ephemerals go.
    CloseSession,
    /// A new znode.
    Create(CreateTxn),
    /// A znode goes.
    Delete {
        /// The node.
        path: String,
    },
    /// New data for a znode.
    SetData {
        /// The node.
        path: String,
        /// New data.
        data: Arc<[u8]>,
        /// The version after the change.
        version: i32,
    },
    /// New ACL for a znode.
    SetAcl {
        /// The node.
        path: String,
        /// The new list.
        acl: Arc<[Acl]>,
        /// The aversion after the change.
        aversion: i32,
    },
    /// A version check inside a multi: no change.
    Check {
        /// The node.
        path: String,
    },
    /// All-or-nothing group of txns.
    Multi(Vec<TxnBody>),
    /// A failed op inside a failed multi (ZooKeeper's ErrorTxn).
    Error {
        /// Error code for that op.
        err: i32,
    },
}

/// A znode creation, with everything the apply step needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTxn {
    /// Full path, sequence suffix included.
    pub path: String,
    /// Initial data.
    pub data: Arc<[u8]>,
    /// ACL after `fixup`.
    pub acl: Arc<[Acl]>,
    /// Owner encoding as ZooKeeper's `EphemeralType`: 0 persistent, session id for ephemeral,
    /// `i64::MIN` container, `0xff << 56 | ttl` TTL.
    pub ephemeral_owner: i64,
    /// The parent's cversion after this create.
    pub parent_cversion: i32,
}

impl TxnBody {
    /// Payload size estimate for batch limits.
    pub fn size_bytes(&self) -> usize {
        match self {
            TxnBody::Create(c) => c.path.len() + c.data.len() + 64,
            TxnBody::SetData { path, data, .. } => path.len() + data.len() + 16,
            TxnBody::Multi(v) => v.iter().map(TxnBody::size_bytes).sum::<usize>() + 8,
            TxnBody::Delete { path } | TxnBody::Check { path } => path.len() + 8,
            TxnBody::SetAcl { path, acl, .. } => path.len() + acl.len() * 32,
            _ => 16,
        }
    }
}

/// Ephemeral owner value of container nodes.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// High byte marking TTL nodes' ephemeral owner.
const TTL_MARK: i64 = 0xff << 56;
/// Largest TTL in ms (ZooKeeper's `EphemeralType.TTL` max).
pub const TTL_MS_MAX: i64 = (1 << 40) - 1;

/// Kind of znode derived from its ephemeral owner (ZooKeeper's `EphemeralType.get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Plain persistent node.
    Persistent,
    /// Owned by a session.
    Ephemeral(SessionId),
    /// Removed by the server after its last child goes.
    Container,
    /// Removed after `ttl` ms without changes and children.
    Ttl(i64),
}

impl NodeKind {
    /// Decodes an ephemeral owner field.
    pub fn from_owner(owner: i64) -> NodeKind {
        if owner == 0 {
            NodeKind::Persistent
        } else if owner == CONTAINER_EPHEMERAL_OWNER {
            NodeKind::Container
        } else if owner & TTL_MARK == TTL_MARK {
            NodeKind::Ttl(owner & !TTL_MARK)
        } else {
            NodeKind::Ephemeral(owner)
        }
    }

    /// The ephemeral owner value for a TTL node.
    pub fn ttl_owner(ttl_ms: i64) -> i64 {
        TTL_MARK | ttl_ms
    }
}
