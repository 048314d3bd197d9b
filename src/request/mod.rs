//! The ZooKeeper request pipeline as pure functions: `prep` turns a write request into a txn
//! (validated against the tree plus the changes still in flight), and `reply` turns results
//! into wire replies. No I/O, no clock.

pub mod prep;
pub mod reply;

use crate::proto::multi::MultiOp;
use crate::proto::opcode::OpCode;
use crate::proto::records::{
    CheckVersionRequest, CreateRequest, DeleteRequest, SetACLRequest, SetDataRequest,
};

/// A request that goes through the consensus core (changes state or must be ordered with
/// changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// create / create2 / createContainer / createTTL (`ttl` is -1 when not TTL).
    Create {
        /// The opcode that asked (decides the reply shape).
        op: OpCode,
        /// The request.
        req: CreateRequest,
        /// TTL in ms, -1 if none.
        ttl: i64,
    },
    /// delete.
    Delete(DeleteRequest),
    /// setData.
    SetData(SetDataRequest),
    /// setACL.
    SetAcl(SetACLRequest),
    /// check (outside a multi).
    Check(CheckVersionRequest),
    /// multi.
    Multi(Vec<MultiOp>),
    /// deleteContainer (body is the raw path).
    DeleteContainer(String),
    /// sync: answered once every earlier write is applied.
    Sync(String),
    /// getEphemerals: answered from the leader's ephemeral index, in order with writes.
    GetEphemerals(String),
    /// closeSession.
    CloseSession,
    /// reconfig: refused (reconfigEnabled=false).
    Reconfig,
}

impl WriteOp {
    /// Size estimate for batch limits.
    pub fn size_bytes(&self) -> usize {
        match self {
            WriteOp::Create { req, .. } => req.path.len() + req.data.as_ref().map_or(0, Vec::len) + 32,
            WriteOp::SetData(r) => r.path.len() + r.data.as_ref().map_or(0, Vec::len) + 16,
            _ => 64,
        }
    }
}
pub mod read;
