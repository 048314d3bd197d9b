//! Messages between cores over the glommio channel mesh. Everything here is `Send`; nothing
//! else crosses cores (plus the lock-free arena and per-core stats atomics).

use std::sync::Arc;

use crate::proto::error_code::ErrorCode;
use crate::request::WriteOp;
use crate::tree::WatchTrigger;
use crate::tree::acl::AuthIds;
use crate::types::{ConnId, CoreId, SessionId, Zxid};

/// Anything one core sends another.
pub enum Msg {
    /// To the consensus core.
    Leader(LeaderMsg),
    /// From the consensus core: one applied batch.
    Applied(Arc<Applied>, Vec<Outcome>),
    /// A client socket dealt out by the acceptor.
    Accepted(glommio::net::AcceptedTcpStream),
    /// Asks a core for its connection/watch report (four-letter words).
    ReportRequest {
        /// Core to answer.
        reply_to: CoreId,
        /// Request id at the asking core.
        id: u64,
        /// Also reset counters (srst/crst).
        reset: Reset,
    },
    /// A core's report.
    Report {
        /// Request id.
        id: u64,
        /// The report.
        report: Box<super::stats::CoreReport>,
    },
}

/// What a report request also resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// Nothing.
    None,
    /// Server stats (srst).
    Server,
    /// Connection stats (crst).
    Connections,
}

/// Requests to the consensus core.
pub enum LeaderMsg {
    /// A write (or ordered read) from a session.
    Write {
        /// Connection that sent it.
        conn: ConnId,
        /// Session.
        session: SessionId,
        /// Client xid.
        xid: i32,
        /// The op.
        op: WriteOp,
        /// Connection's ids when the request arrived.
        auth: Arc<AuthIds>,
    },
    /// A ConnectRequest, after the core negotiated the timeout.
    Connect {
        /// Connection asking.
        conn: ConnId,
        /// 0 for a new session.
        session: SessionId,
        /// Password for a resumed session.
        passwd: Vec<u8>,
        /// Negotiated timeout.
        timeout_ms: i32,
    },
    /// Sessions heard from since the last report.
    Touch(Vec<SessionId>),
    /// A connection closed (its session lives on until it expires).
    Disconnected {
        /// The connection.
        conn: ConnId,
        /// Its session, if the handshake completed.
        session: SessionId,
    },
    /// Timer tick: check expiries.
    Tick,
}

/// One applied batch, shared by every core.
#[derive(Debug, Default)]
pub struct Applied {
    /// Every txn up to here is in the arena.
    pub upto_zxid: Zxid,
    /// Changes to match against watches, in order.
    pub triggers: Vec<WatchTrigger>,
    /// Sessions that ended (close or expiry): their connections close.
    pub closed_sessions: Vec<SessionId>,
    /// Sessions that moved to a new connection: other connections of them close.
    pub moved_sessions: Vec<(SessionId, ConnId)>,
}

/// A reply for one connection.
#[derive(Debug)]
pub struct Outcome {
    /// Destination.
    pub conn: ConnId,
    /// What to send.
    pub body: OutcomeBody,
}

/// The kinds of reply the consensus core produces.
#[derive(Debug)]
pub enum OutcomeBody {
    /// Reply to a write (xid, zxid, header error, encoded body).
    Reply {
        /// Client xid.
        xid: i32,
        /// Reply zxid.
        zxid: Zxid,
        /// Header error.
        err: ErrorCode,
        /// Encoded body.
        body: Vec<u8>,
        /// The connection must close after this reply (closeSession).
        close: bool,
    },
    /// Handshake accepted.
    Connected {
        /// Session id.
        session: SessionId,
        /// Negotiated timeout.
        timeout_ms: i32,
        /// Session password.
        passwd: Vec<u8>,
    },
    /// Handshake refused: expired/unknown session or wrong password.
    Refused,
}
