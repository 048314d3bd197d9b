//! Reads answered on the session's core straight from the arena (ZooKeeper's
//! `FinalRequestProcessor` read cases), plus the watch registrations they make.
//!
//! Pure: the arena and the core's watch table come in; the reply body and error go out. The
//! caller must hold the reply until its core delivered the watch events up to
//! `ReadView::upto_zxid`.

use crate::proto::error_code::ErrorCode;
use crate::proto::jute::{Jute, JuteReader};
use crate::proto::multi::{MultiResponse, MultiResult};
use crate::proto::opcode::OpCode;
use crate::proto::records::*;
use crate::tree::acl::{self, AuthIds, perms};
use crate::tree::watch::{ConnKey, WatchKind, WatchTable};
use crate::tree::node::data_to_wire;
use crate::tree::{Arena, ReadView, path};

/// The outcome of a read: header error and encoded body (empty on error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReply {
    /// `ReplyHeader.err`.
    pub err: ErrorCode,
    /// Encoded response record.
    pub body: Vec<u8>,
}

impl ReadReply {
    fn ok(rec: &impl Jute) -> ReadReply {
        let mut body = Vec::with_capacity(64);
        rec.write(&mut body);
        ReadReply { err: ErrorCode::Ok, body }
    }

    fn err(e: ErrorCode) -> ReadReply {
        ReadReply { err: e, body: Vec::new() }
    }
}

/// What a read needs besides the request.
pub struct ReadCtx<'a> {
    /// The znode arena.
    pub arena: &'a Arena,
    /// The connection's proven ids.
    pub auth: &'a AuthIds,
    /// The core's watch table.
    pub watches: &'a mut WatchTable,
    /// The connection asking.
    pub conn: ConnKey,
}

fn valid(p: &str) -> Result<(), ErrorCode> {
    path::validate(p, false).map_err(|_| ErrorCode::BadArguments)
}

fn decode<T: Jute>(body: &[u8]) -> Result<T, ErrorCode> {
    let mut r = JuteReader::new(body);
    T::read(&mut r).map_err(|_| ErrorCode::MarshallingError)
}

/// Evaluates one read request body. Returns the reply and the view it was made at.
pub fn eval(ctx: &mut ReadCtx<'_>, op: OpCode, body: &[u8]) -> (ReadReply, ReadView) {
    let arena = ctx.arena;
    let (result, view) = arena.read(|a| eval_at(a, ctx.auth, op, body));
    let reply = match result {
        Ok((reply, watch)) => {
            if let Some((p, kind)) = watch {
                ctx.watches.add(ctx.conn, &p, kind, view.from_zxid);
            }
            reply
        }
        Err(e) => ReadReply::err(e),
    };
    (reply, view)
}

type Eval = Result<(ReadReply, Option<(String, WatchKind)>), ErrorCode>;

fn eval_at(a: &Arena, auth: &AuthIds, op: OpCode, body: &[u8]) -> Eval {
    match op {
        OpCode::Exists => {
            let r: ExistsRequest = decode(body)?;
            valid(&r.path)?;
            let watch = r.watch.then(|| (r.path.clone(), WatchKind::Data));
            match a.get(&r.path) {
                Some(n) => Ok((ReadReply::ok(&ExistsResponse { stat: n.stat() }), watch)),
                None => Ok((ReadReply::err(ErrorCode::NoNode), watch)),
            }
        }
        OpCode::GetData => {
            let r: GetDataRequest = decode(body)?;
            valid(&r.path)?;
            let n = a.get(&r.path).ok_or(ErrorCode::NoNode)?;
            check(&n.acl, perms::READ, auth)?;
            let rsp = GetDataResponse { data: data_to_wire(&n.data), stat: n.stat() };
            Ok((ReadReply::ok(&rsp), r.watch.then_some((r.path, WatchKind::Data))))
        }
        OpCode::GetChildren | OpCode::GetChildren2 => {
            let r: GetChildrenRequest = decode(body)?;
            valid(&r.path)?;
            let n = a.get(&r.path).ok_or(ErrorCode::NoNode)?;
            check(&n.acl, perms::READ, auth)?;
            let children: Vec<String> = n.children.iter().map(|c| c.to_string()).collect();
            let watch = r.watch.then_some((r.path, WatchKind::Child));
            if op == OpCode::GetChildren {
                Ok((ReadReply::ok(&GetChildrenResponse { children }), watch))
            } else {
                Ok((ReadReply::ok(&GetChildren2Response { children, stat: n.stat() }), watch))
            }
        }
        OpCode::GetAcl => {
            let r: GetACLRequest = decode(body)?;
            valid(&r.path)?;
            let n = a.get(&r.path).ok_or(ErrorCode::NoNode)?;
            check(&n.acl, perms::READ | perms::ADMIN, auth)?;
            let acl = if acl::allows(&n.acl, perms::ADMIN, auth) {
                n.acl.to_vec()
            } else {
                acl::redacted(&n.acl)
            };
            Ok((ReadReply::ok(&GetACLResponse { acl, stat: n.stat() }), None))
        }
        OpCode::GetAllChildrenNumber => {
            let r: GetAllChildrenNumberRequest = decode(body)?;
            valid(&r.path)?;
            let n = a.get(&r.path).ok_or(ErrorCode::NoNode)?;
            check(&n.acl, perms::READ, auth)?;
            let total = count_descendants(a, &r.path);
            Ok((ReadReply::ok(&GetAllChildrenNumberResponse { total_number: total }), None))
        }
        OpCode::MultiRead => {
            let r: crate::proto::multi::MultiRequest = decode(body)?;
            if r.ops.iter().any(|o| !o.is_read()) {
                return Err(ErrorCode::MarshallingError);
            }
            let results = r.ops.iter().map(|op| multi_read_op(a, auth, op)).collect();
            Ok((ReadReply::ok(&MultiResponse { results }), None))
        }
        // ZooKeeper fails to read a client-sent createSession as a request: MARSHALLINGERROR.
        OpCode::CreateSession => Err(ErrorCode::MarshallingError),
        _ => Err(ErrorCode::Unimplemented),
    }
}

fn multi_read_op(a: &Arena, auth: &AuthIds, op: &crate::proto::multi::MultiOp) -> MultiResult {
    use crate::proto::multi::MultiOp;
    let res = match op {
        MultiOp::GetData(r) => (|| {
            valid(&r.path)?;
            let n = a.get(&r.path).ok_or(ErrorCode::NoNode)?;
            check(&n.acl, perms::READ, auth)?;
            Ok(MultiResult::GetData { data: data_to_wire(&n.data), stat: n.stat() })
        })(),
        MultiOp::GetChildren(r) => (|| {
            valid(&r.path)?;
            let n = a.get(&r.path).ok_or(ErrorCode::NoNode)?;
            check(&n.acl, perms::READ, auth)?;
            Ok(MultiResult::GetChildren { children: n.children.iter().map(|c| c.to_string()).collect() })
        })(),
        _ => Err(ErrorCode::BadArguments),
    };
    res.unwrap_or_else(|e| MultiResult::Error { err: e.code() })
}

fn check(acl_list: &[Acl], perm: i32, auth: &AuthIds) -> Result<(), ErrorCode> {
    if acl::allows(acl_list, perm, auth) { Ok(()) } else { Err(ErrorCode::NoAuth) }
}

/// Number of nodes below `p` (not counting `p`), by walking the child lists.
pub fn count_descendants(a: &Arena, p: &str) -> i32 {
    let mut total = 0i32;
    let mut stack = vec![p.to_string()];
    while let Some(cur) = stack.pop() {
        if let Some(n) = a.get(&cur) {
            for c in n.children.iter() {
                total += 1;
                stack.push(path::join(&cur, c));
            }
        }
    }
    total
}
