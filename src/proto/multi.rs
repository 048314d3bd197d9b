//! Framing of multi and multiRead bodies (ZooKeeper's `MultiOperationRecord` and
//! `MultiResponse`): a list of ops or results, each behind a `MultiHeader`, closed by an end
//! marker.
//!
//! Owns: that framing and the mapping between header types and bodies. Must not do: I/O, or run
//! the ops (`request` does; it also decides the per-op errors of a failed multi).
//!
//! ```text
//! MultiRequest  = { MultiHeader(type = op, done = false, err = -1), op body }*
//!                 MultiHeader(type = -1, done = true, err = -1)
//! op body       = CreateRequest        for create (1), create2 (15), createContainer (19)
//!               | CreateTTLRequest     for createTTL (21)
//!               | DeleteRequest (2) | SetDataRequest (5) | CheckVersionRequest (13)
//!               | GetChildrenRequest (8) | GetDataRequest (4)         -- multiRead only
//!
//! MultiResponse = { MultiHeader(type = result, done = false, err), result body }*
//!                 MultiHeader(type = -1, done = true, err = -1)
//! result body   = CreateResponse (1) | Create2Response (15) | nothing for delete (2), check (13)
//!               | SetDataResponse (5) | GetChildrenResponse (8) | GetDataResponse (4)
//!               | ErrorResponse (-1)
//! err           = 0 for a success, the error code (again) for an ErrorResponse
//! ```
//!
//! A successful createContainer or createTTL inside a multi is answered with a create2 result
//! (path and Stat), as ZooKeeper's `FinalRequestProcessor` does; plain create gets a create result
//! (path only). Decoding follows `MultiOperationRecord.deserialize`: the request is undecodable
//! (ZooKeeper answers MARSHALLINGERROR) if an op type is unknown, if read ops (getData,
//! getChildren) are mixed with write ops, or if a create, create2 or createContainer carries
//! flags that are no `CreateMode`. Only the end marker's `done` flag ends the list; its other
//! fields are not checked, as in ZooKeeper.

use super::jute::{self, DecodeError, Jute, JuteReader};
use super::opcode::{CreateMode, OpCode};
use super::records::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTTLRequest,
    DeleteRequest, ErrorResponse, GetChildrenRequest, GetChildrenResponse, GetDataRequest,
    GetDataResponse, MultiHeader, SetDataRequest, SetDataResponse, Stat,
};

/// One op of a multi (writes) or multiRead (reads) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create (1).
    Create(CreateRequest),
    /// create2 (15).
    Create2(CreateRequest),
    /// createContainer (19).
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateTTLRequest),
    /// delete (2).
    Delete(DeleteRequest),
    /// setData (5).
    SetData(SetDataRequest),
    /// check (13).
    Check(CheckVersionRequest),
    /// getChildren (8); multiRead only. The `watch` flag is ignored by ZooKeeper here.
    GetChildren(GetChildrenRequest),
    /// getData (4); multiRead only. The `watch` flag is ignored by ZooKeeper here.
    GetData(GetDataRequest),
}

impl MultiOp {
    /// The opcode written in this op's `MultiHeader`.
    pub const fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    /// A read op (allowed in multiRead only); ZooKeeper's `Op.OpKind.READ`.
    pub const fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }

    /// The znode the op is about.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    fn read_body(op_type: i32, r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        let op = match OpCode::from_i32(op_type) {
            Some(OpCode::Create) => MultiOp::Create(read_create(r)?),
            Some(OpCode::Create2) => MultiOp::Create2(read_create(r)?),
            Some(OpCode::CreateContainer) => MultiOp::CreateContainer(read_create(r)?),
            Some(OpCode::CreateTtl) => MultiOp::CreateTtl(CreateTTLRequest::read(r)?),
            Some(OpCode::Delete) => MultiOp::Delete(DeleteRequest::read(r)?),
            Some(OpCode::SetData) => MultiOp::SetData(SetDataRequest::read(r)?),
            Some(OpCode::Check) => MultiOp::Check(CheckVersionRequest::read(r)?),
            Some(OpCode::GetChildren) => MultiOp::GetChildren(GetChildrenRequest::read(r)?),
            Some(OpCode::GetData) => MultiOp::GetData(GetDataRequest::read(r)?),
            _ => return Err(DecodeError::Invalid("invalid op type in multi request")),
        };
        Ok(op)
    }

    fn write_body(&self, w: &mut Vec<u8>) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.write(w),
            MultiOp::CreateTtl(r) => r.write(w),
            MultiOp::Delete(r) => r.write(w),
            MultiOp::SetData(r) => r.write(w),
            MultiOp::Check(r) => r.write(w),
            MultiOp::GetChildren(r) => r.write(w),
            MultiOp::GetData(r) => r.write(w),
        }
    }
}

/// ZooKeeper refuses a create with unknown flags while decoding a multi (not later, as for a
/// single create, which gets BADARGUMENTS).
fn read_create(r: &mut JuteReader<'_>) -> Result<CreateRequest, DecodeError> {
    let req = CreateRequest::read(r)?;
    if CreateMode::from_flags(req.flags).is_none() {
        return Err(DecodeError::Invalid(
            "invalid create flags in multi request",
        ));
    }
    Ok(req)
}

/// The header that ends both lists.
const END: MultiHeader = MultiHeader {
    op_type: -1,
    done: true,
    err: -1,
};

/// Body of a multi (opcode 14) or multiRead (opcode 22) request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    /// The ops, in order; all reads or all writes.
    pub ops: Vec<MultiOp>,
}

impl Jute for MultiRequest {
    fn read(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        let mut ops: Vec<MultiOp> = Vec::new();
        // Each op takes at least a 9-byte header, so the input bounds this loop.
        loop {
            let header = MultiHeader::read(r)?;
            if header.done {
                return Ok(MultiRequest { ops });
            }
            let op = MultiOp::read_body(header.op_type, r)?;
            if ops
                .first()
                .is_some_and(|first| first.is_read() != op.is_read())
            {
                return Err(DecodeError::Invalid(
                    "multi request mixes read and write ops",
                ));
            }
            ops.push(op);
        }
    }

    fn write(&self, w: &mut Vec<u8>) {
        for op in &self.ops {
            MultiHeader {
                op_type: op.op_code().as_i32(),
                done: false,
                err: -1,
            }
            .write(w);
            op.write_body(w);
        }
        END.write(w);
    }
}

/// One result of a multi or multiRead response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// create succeeded (type 1).
    Create {
        /// Actual path of the new node.
        path: String,
    },
    /// create2, createContainer or createTTL succeeded (type 15).
    Create2 {
        /// Actual path of the new node.
        path: String,
        /// Its Stat.
        stat: Stat,
    },
    /// delete succeeded (type 2, no body).
    Delete,
    /// setData succeeded (type 5).
    SetData {
        /// The node's Stat after the change.
        stat: Stat,
    },
    /// check succeeded (type 13, no body).
    Check,
    /// getChildren succeeded (type 8).
    GetChildren {
        /// Child names.
        children: Vec<String>,
    },
    /// getData succeeded (type 4).
    GetData {
        /// The node's data (`None`: null).
        data: Option<Vec<u8>>,
        /// The node's Stat.
        stat: Stat,
    },
    /// The op failed, or was not applied because another op failed (type -1).
    Error {
        /// `ErrorCode` value (0 for ops before the failing one in a failed multi).
        err: i32,
    },
}

impl MultiResult {
    /// The `type` written in this result's `MultiHeader`.
    pub const fn op_type(&self) -> i32 {
        let op = match self {
            MultiResult::Create { .. } => OpCode::Create,
            MultiResult::Create2 { .. } => OpCode::Create2,
            MultiResult::Delete => OpCode::Delete,
            MultiResult::SetData { .. } => OpCode::SetData,
            MultiResult::Check => OpCode::Check,
            MultiResult::GetChildren { .. } => OpCode::GetChildren,
            MultiResult::GetData { .. } => OpCode::GetData,
            MultiResult::Error { .. } => OpCode::Error,
        };
        op.as_i32()
    }

    /// The `err` written in this result's `MultiHeader`: 0 unless it is an error result.
    pub const fn header_err(&self) -> i32 {
        match self {
            MultiResult::Error { err } => *err,
            _ => 0,
        }
    }

    fn read_body(header: &MultiHeader, r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        let result = match OpCode::from_i32(header.op_type) {
            Some(OpCode::Create) => MultiResult::Create {
                path: CreateResponse::read(r)?.path,
            },
            Some(OpCode::Create2) => {
                let Create2Response { path, stat } = Create2Response::read(r)?;
                MultiResult::Create2 { path, stat }
            }
            Some(OpCode::Delete) => MultiResult::Delete,
            Some(OpCode::SetData) => MultiResult::SetData {
                stat: SetDataResponse::read(r)?.stat,
            },
            Some(OpCode::Check) => MultiResult::Check,
            Some(OpCode::GetChildren) => MultiResult::GetChildren {
                children: GetChildrenResponse::read(r)?.children,
            },
            Some(OpCode::GetData) => {
                let GetDataResponse { data, stat } = GetDataResponse::read(r)?;
                MultiResult::GetData { data, stat }
            }
            Some(OpCode::Error) => MultiResult::Error {
                err: ErrorResponse::read(r)?.err,
            },
            _ => {
                return Err(DecodeError::Invalid(
                    "invalid result type in multi response",
                ));
            }
        };
        Ok(result)
    }

    fn write_body(&self, w: &mut Vec<u8>) {
        match self {
            MultiResult::Create { path } => jute::write_string(w, path),
            MultiResult::Create2 { path, stat } => {
                jute::write_string(w, path);
                stat.write(w);
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData { stat } => stat.write(w),
            MultiResult::GetChildren { children } => jute::write_string_vec(w, children),
            MultiResult::GetData { data, stat } => {
                jute::write_buffer_opt(w, data.as_deref());
                stat.write(w);
            }
            MultiResult::Error { err } => jute::write_i32(w, *err),
        }
    }
}

/// Body of the reply to a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    /// One result per op, in op order.
    pub results: Vec<MultiResult>,
}

impl Jute for MultiResponse {
    fn read(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        // Each result takes at least a 9-byte header, so the input bounds this loop.
        loop {
            let header = MultiHeader::read(r)?;
            if header.done {
                return Ok(MultiResponse { results });
            }
            results.push(MultiResult::read_body(&header, r)?);
        }
    }

    fn write(&self, w: &mut Vec<u8>) {
        for result in &self.results {
            let header = MultiHeader {
                op_type: result.op_type(),
                done: false,
                err: result.header_err(),
            };
            header.write(w);
            result.write_body(w);
        }
        END.write(w);
    }
}

#[cfg(test)]
mod tests {
    use super::super::jute::testing::{Sample, XorShift};
    use super::*;
    use crate::proto::records::Acl;

    fn create(path: &str, flags: i32) -> CreateRequest {
        CreateRequest {
            path: path.into(),
            data: Some(vec![1]),
            acl: Vec::<Acl>::new(),
            flags,
        }
    }

    fn sample_write_op(g: &mut XorShift) -> MultiOp {
        let mut c = CreateRequest::sample(g);
        c.flags = g.below(7) as i32;
        match g.below(7) {
            0 => MultiOp::Create(c),
            1 => MultiOp::Create2(c),
            2 => MultiOp::CreateContainer(c),
            3 => MultiOp::CreateTtl(CreateTTLRequest::sample(g)),
            4 => MultiOp::Delete(DeleteRequest::sample(g)),
            5 => MultiOp::SetData(SetDataRequest::sample(g)),
            _ => MultiOp::Check(CheckVersionRequest::sample(g)),
        }
    }

    fn sample_result(g: &mut XorShift) -> MultiResult {
        match g.below(8) {
            0 => MultiResult::Create {
                path: Sample::sample(g),
            },
            1 => MultiResult::Create2 {
                path: Sample::sample(g),
                stat: Sample::sample(g),
            },
            2 => MultiResult::Delete,
            3 => MultiResult::SetData {
                stat: Sample::sample(g),
            },
            4 => MultiResult::Check,
            5 => MultiResult::GetChildren {
                children: Sample::sample(g),
            },
            6 => MultiResult::GetData {
                data: Sample::sample(g),
                stat: Sample::sample(g),
            },
            _ => MultiResult::Error {
                err: Sample::sample(g),
            },
        }
    }

    #[test]
    fn requests_round_trip() {
        let mut g = XorShift::new(11);
        for _ in 0..500 {
            let n = g.below(5);
            let req = if g.below(4) == 0 {
                let ops = (0..n)
                    .map(|_| match g.below(2) {
                        0 => MultiOp::GetData(GetDataRequest::sample(&mut g)),
                        _ => MultiOp::GetChildren(GetChildrenRequest::sample(&mut g)),
                    })
                    .collect();
                MultiRequest { ops }
            } else {
                MultiRequest {
                    ops: (0..n).map(|_| sample_write_op(&mut g)).collect(),
                }
            };
            let bytes = jute::encode(&req);
            assert_eq!(jute::decode::<MultiRequest>(&bytes), Ok(req));
        }
    }

    #[test]
    fn responses_round_trip() {
        let mut g = XorShift::new(12);
        for _ in 0..500 {
            let results = (0..g.below(5)).map(|_| sample_result(&mut g)).collect();
            let rsp = MultiResponse { results };
            let bytes = jute::encode(&rsp);
            assert_eq!(jute::decode::<MultiResponse>(&bytes), Ok(rsp));
        }
    }

    /// A failed two-op multi as ZooKeeper answers it: the op before the failure gets an error
    /// result with err 0, the failing op its code; header err repeats the body's code.
    #[test]
    fn response_with_error_golden() {
        let rsp = MultiResponse {
            results: vec![
                MultiResult::Error { err: 0 },
                MultiResult::Error { err: -101 },
            ],
        };
        let expected = [
            0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, // header: type -1, done false, err 0
            0, 0, 0, 0, // ErrorResponse err 0
            0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0x9b, // type -1, false, err -101
            0xff, 0xff, 0xff, 0x9b, // ErrorResponse err -101
            0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff, // end: -1, true, -1
        ];
        assert_eq!(jute::encode(&rsp), expected);
        assert_eq!(jute::decode::<MultiResponse>(&expected), Ok(rsp));
    }

    #[test]
    fn response_success_golden() {
        let rsp = MultiResponse {
            results: vec![
                MultiResult::Create { path: "/a".into() },
                MultiResult::Check,
            ],
        };
        let expected = [
            0, 0, 0, 1, 0, 0, 0, 0, 0, // header: create, not done, err 0
            0, 0, 0, 2, b'/', b'a', // CreateResponse
            0, 0, 0, 13, 0, 0, 0, 0, 0, // header: check, no body
            0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff, // end
        ];
        assert_eq!(jute::encode(&rsp), expected);
    }

    #[test]
    fn request_golden() {
        let req = MultiRequest {
            ops: vec![MultiOp::Delete(DeleteRequest {
                path: "/a".into(),
                version: -1,
            })],
        };
        let expected = [
            0, 0, 0, 2, 0, 0xff, 0xff, 0xff, 0xff, // header: delete, not done, err -1
            0, 0, 0, 2, b'/', b'a', 0xff, 0xff, 0xff, 0xff, // DeleteRequest
            0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff, // end
        ];
        assert_eq!(jute::encode(&req), expected);
        // An empty multi is only the end marker.
        assert_eq!(
            jute::decode::<MultiRequest>(&expected[19..]),
            Ok(MultiRequest::default())
        );
    }

    #[test]
    fn bad_requests_are_invalid() {
        let mut unknown = Vec::new();
        MultiHeader {
            op_type: OpCode::Exists.as_i32(),
            done: false,
            err: -1,
        }
        .write(&mut unknown);
        assert!(matches!(
            jute::decode::<MultiRequest>(&unknown),
            Err(DecodeError::Invalid(_))
        ));

        let mixed = MultiRequest {
            ops: vec![
                MultiOp::Check(CheckVersionRequest {
                    path: "/a".into(),
                    version: 1,
                }),
                MultiOp::GetData(GetDataRequest {
                    path: "/a".into(),
                    watch: false,
                }),
            ],
        };
        let bytes = jute::encode(&mixed);
        assert!(matches!(
            jute::decode::<MultiRequest>(&bytes),
            Err(DecodeError::Invalid(_))
        ));

        let bad_flags = MultiRequest {
            ops: vec![MultiOp::Create(create("/a", 7))],
        };
        let bytes = jute::encode(&bad_flags);
        assert!(matches!(
            jute::decode::<MultiRequest>(&bytes),
            Err(DecodeError::Invalid(_))
        ));
        let ok = MultiRequest {
            ops: vec![MultiOp::CreateContainer(create("/a", 4))],
        };
        assert!(jute::decode::<MultiRequest>(&jute::encode(&ok)).is_ok());
    }

    #[test]
    fn truncated_multis_give_truncated() {
        let req = MultiRequest {
            ops: vec![
                MultiOp::Create2(create("/x", 1)),
                MultiOp::SetData(SetDataRequest {
                    path: "/y".into(),
                    data: Some(vec![2]),
                    version: 3,
                }),
            ],
        };
        let bytes = jute::encode(&req);
        for cut in 0..bytes.len() {
            let got = jute::decode::<MultiRequest>(&bytes[..cut]);
            assert!(
                matches!(got, Err(DecodeError::Truncated { .. })),
                "cut {cut}: {got:?}"
            );
        }
        let rsp = MultiResponse {
            results: vec![
                MultiResult::GetData {
                    data: Some(vec![1, 2]),
                    stat: Stat::default(),
                },
                MultiResult::Error { err: -2 },
            ],
        };
        let bytes = jute::encode(&rsp);
        for cut in 0..bytes.len() {
            let got = jute::decode::<MultiResponse>(&bytes[..cut]);
            assert!(
                matches!(got, Err(DecodeError::Truncated { .. })),
                "cut {cut}: {got:?}"
            );
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut g = XorShift::new(99);
        for _ in 0..20_000 {
            let len = g.below(80);
            let mut bytes = g.bytes(len);
            // Mostly small op types and lengths, so decoding gets past the first header.
            for b in bytes.iter_mut() {
                if g.below(2) == 0 {
                    *b = 0;
                }
            }
            let _ = jute::decode::<MultiRequest>(&bytes);
            let _ = jute::decode::<MultiResponse>(&bytes);
        }
    }
}
