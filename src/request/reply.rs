//! Turns the result of an applied write into its wire reply (ZooKeeper's
//! `FinalRequestProcessor` write cases). Pure.

use super::WriteOp;
use crate::proto::error_code::ErrorCode;
use crate::proto::jute::Jute;
use crate::proto::multi::{MultiOp, MultiResponse, MultiResult};
use crate::proto::opcode::OpCode;
use crate::proto::records::*;
use crate::tree::OpResult;

/// Header error and encoded body of a write's reply.
pub fn write_reply(op: &WriteOp, result: &OpResult) -> (ErrorCode, Vec<u8>) {
    let mut body = Vec::new();
    let err = match (op, result) {
        (_, OpResult::Error(e)) => *e,
        (WriteOp::Create { op, .. }, OpResult::Create { path, stat }) => {
            if *op == OpCode::Create {
                CreateResponse { path: path.clone() }.write(&mut body);
            } else {
                Create2Response { path: path.clone(), stat: stat.clone() }.write(&mut body);
            }
            ErrorCode::Ok
        }
        (_, OpResult::SetData(stat)) => {
            SetDataResponse { stat: stat.clone() }.write(&mut body);
            ErrorCode::Ok
        }
        (_, OpResult::SetAcl(stat)) => {
            SetACLResponse { stat: stat.clone() }.write(&mut body);
            ErrorCode::Ok
        }
        (WriteOp::Multi(ops), OpResult::Multi(results)) => {
            let results = ops.iter().zip(results).map(|(o, r)| multi_result(o, r)).collect();
            MultiResponse { results }.write(&mut body);
            ErrorCode::Ok
        }
        _ => ErrorCode::Ok,
    };
    (err, body)
}

fn multi_result(op: &MultiOp, r: &OpResult) -> MultiResult {
    match (op, r) {
        (_, OpResult::Error(e)) => MultiResult::Error { err: e.code() },
        (MultiOp::Create(_), OpResult::Create { path, .. }) => {
            MultiResult::Create { path: path.clone() }
        }
        (_, OpResult::Create { path, stat }) => {
            MultiResult::Create2 { path: path.clone(), stat: stat.clone() }
        }
        (_, OpResult::Delete) => MultiResult::Delete,
        (_, OpResult::SetData(stat)) => MultiResult::SetData { stat: stat.clone() },
        (_, OpResult::Check) => MultiResult::Check,
        _ => MultiResult::Error { err: ErrorCode::SystemError.code() },
    }
}

/// Encodes a reply frame: length prefix, `ReplyHeader`, body.
pub fn frame(xid: i32, zxid: i64, err: ErrorCode, body: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    ReplyHeader { xid, zxid, err: err.code() }.write(out);
    if err == ErrorCode::Ok {
        out.extend_from_slice(body);
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}
