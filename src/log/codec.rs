//! The payload of a log record: a `Txn` without the fields the record header already carries.
//!
//! Owns: the txn type tags and the payload encoding of every `TxnBody`. Must not do: I/O,
//! checksums or framing (that is `record`), or judge whether a txn makes sense for the tree.
//!
//! Payloads use jute's big-endian primitives (`proto::jute`), so the dump of a payload reads
//! like ZooKeeper's txn records. The type tags are ZooKeeper's opcodes (`ZooDefs.OpCode`) as
//! `u32`.
//!
//! ```text
//! Payload             = long session, int cxid, Body(txn_type)
//! Body(create 1)      = ustring path, buffer data, vector<ACL> acl, long ephemeralOwner,
//!                       int parentCVersion
//! Body(delete 2)      = ustring path
//! Body(setData 5)     = ustring path, buffer data, int version
//! Body(setACL 7)      = ustring path, vector<ACL> acl, int aversion
//! Body(check 13)      = ustring path
//! Body(multi 14)      = int count, count * (int type, Body(type))
//! Body(createSession -10) = int timeOut
//! Body(closeSession -11)  = (nothing)
//! Body(error -1)      = int err
//! ACL                 = int perms, ustring scheme, ustring id
//! ```
//!
//! A payload must be consumed exactly: trailing bytes are an error, since a crc-valid record
//! that decodes with bytes to spare was written by a different format. Multis may nest up to
//! `MULTI_DEPTH_MAX` levels; decoding untrusted bytes never panics or recurses without bound.

use crate::tree::node::{data_from_wire, is_null_data};
use std::sync::Arc;

use crate::proto::jute::{self, DecodeError, JuteReader};
use crate::proto::opcode::OpCode;
use crate::proto::records::Acl;
use crate::txn::{CreateTxn, Txn, TxnBody};

/// Type tag of `TxnBody::Create`.
pub const TXN_CREATE: u32 = OpCode::Create.as_i32() as u32;
/// Type tag of `TxnBody::Delete`.
pub const TXN_DELETE: u32 = OpCode::Delete.as_i32() as u32;
/// Type tag of `TxnBody::SetData`.
pub const TXN_SET_DATA: u32 = OpCode::SetData.as_i32() as u32;
/// Type tag of `TxnBody::SetAcl`.
pub const TXN_SET_ACL: u32 = OpCode::SetAcl.as_i32() as u32;
/// Type tag of `TxnBody::Check`.
pub const TXN_CHECK: u32 = OpCode::Check.as_i32() as u32;
/// Type tag of `TxnBody::Multi`.
pub const TXN_MULTI: u32 = OpCode::Multi.as_i32() as u32;
/// Type tag of `TxnBody::CreateSession`.
pub const TXN_CREATE_SESSION: u32 = OpCode::CreateSession.as_i32() as u32;
/// Type tag of `TxnBody::CloseSession`.
pub const TXN_CLOSE_SESSION: u32 = OpCode::CloseSession.as_i32() as u32;
/// Type tag of `TxnBody::Error`.
pub const TXN_ERROR: u32 = OpCode::Error.as_i32() as u32;

/// Deepest nesting of multis accepted when decoding. ZooKeeper never nests them; the
/// encoder allows what `TxnBody` can express, the decoder bounds the recursion.
pub const MULTI_DEPTH_MAX: u32 = 8;

/// The type tag of a body.
pub fn txn_type(body: &TxnBody) -> u32 {
    match body {
        TxnBody::CreateSession { .. } => TXN_CREATE_SESSION,
        TxnBody::CloseSession => TXN_CLOSE_SESSION,
        TxnBody::Create(_) => TXN_CREATE,
        TxnBody::Delete { .. } => TXN_DELETE,
        TxnBody::SetData { .. } => TXN_SET_DATA,
        TxnBody::SetAcl { .. } => TXN_SET_ACL,
        TxnBody::Check { .. } => TXN_CHECK,
        TxnBody::Multi(_) => TXN_MULTI,
        TxnBody::Error { .. } => TXN_ERROR,
    }
}

/// ZooKeeper's name for a type tag, for tools; `None` for an unknown tag.
pub fn txn_type_name(txn_type: u32) -> Option<&'static str> {
    OpCode::from_i32(txn_type as i32).map(OpCode::name)
}

/// Appends the payload of `txn` to `out` and returns its type tag. `zxid` and `time_ms` are
/// not written: they live in the record header.
pub fn encode_txn(txn: &Txn, out: &mut Vec<u8>) -> u32 {
    jute::write_i64(out, txn.session);
    jute::write_i32(out, txn.cxid);
    encode_body(&txn.body, out);
    txn_type(&txn.body)
}

/// Znode data: null (length -1) is kept apart from empty, as on the wire.
fn write_data(out: &mut Vec<u8>, data: &Arc<[u8]>) {
    if is_null_data(data) {
        jute::write_buffer_opt(out, None);
    } else {
        jute::write_buffer(out, data);
    }
}

fn encode_body(body: &TxnBody, out: &mut Vec<u8>) {
    match body {
        TxnBody::CreateSession { timeout_ms } => jute::write_i32(out, *timeout_ms),
        TxnBody::CloseSession => {}
        TxnBody::Create(create) => {
            jute::write_string(out, &create.path);
            write_data(out, &create.data);
            jute::write_vec(out, &create.acl);
            jute::write_i64(out, create.ephemeral_owner);
            jute::write_i32(out, create.parent_cversion);
        }
        TxnBody::Delete { path } | TxnBody::Check { path } => jute::write_string(out, path),
        TxnBody::SetData {
            path,
            data,
            version,
        } => {
            jute::write_string(out, path);
            write_data(out, data);
            jute::write_i32(out, *version);
        }
        TxnBody::SetAcl {
            path,
            acl,
            aversion,
        } => {
            jute::write_string(out, path);
            jute::write_vec(out, acl);
            jute::write_i32(out, *aversion);
        }
        TxnBody::Multi(ops) => {
            let count = i32::try_from(ops.len()).expect("multi op count fits an i32");
            jute::write_i32(out, count);
            for op in ops {
                jute::write_i32(out, txn_type(op) as i32);
                encode_body(op, out);
            }
        }
        TxnBody::Error { err } => jute::write_i32(out, *err),
    }
}

/// Decodes a payload written by `encode_txn`. `zxid` and `time_ms` come from the record
/// header. The error says what is wrong and at which payload offset; it never panics.
pub fn decode_txn(zxid: i64, time_ms: i64, txn_type: u32, payload: &[u8]) -> Result<Txn, String> {
    let mut r = JuteReader::new(payload);
    let txn = decode_fields(zxid, time_ms, txn_type, &mut r)
        .map_err(|e| format!("undecodable txn payload (type {}): {e}", txn_type as i32))?;
    if r.remaining() != 0 {
        return Err(format!(
            "txn payload (type {}) has {} trailing bytes at offset {}",
            txn_type as i32,
            r.remaining(),
            r.position()
        ));
    }
    Ok(txn)
}

fn decode_fields(
    zxid: i64,
    time_ms: i64,
    txn_type: u32,
    r: &mut JuteReader<'_>,
) -> Result<Txn, DecodeError> {
    let session = r.read_i64()?;
    let cxid = r.read_i32()?;
    let body = decode_body(txn_type, r, 0)?;
    Ok(Txn {
        zxid,
        time_ms,
        session,
        cxid,
        body,
    })
}

fn decode_body(txn_type: u32, r: &mut JuteReader<'_>, depth: u32) -> Result<TxnBody, DecodeError> {
    Ok(match txn_type {
        TXN_CREATE_SESSION => TxnBody::CreateSession {
            timeout_ms: r.read_i32()?,
        },
        TXN_CLOSE_SESSION => TxnBody::CloseSession,
        TXN_CREATE => TxnBody::Create(CreateTxn {
            path: r.read_string()?,
            data: data_from_wire(r.read_buffer_opt()?.as_ref()),
            acl: Arc::from(r.read_vec::<Acl>()?),
            ephemeral_owner: r.read_i64()?,
            parent_cversion: r.read_i32()?,
        }),
        TXN_DELETE => TxnBody::Delete {
            path: r.read_string()?,
        },
        TXN_SET_DATA => TxnBody::SetData {
            path: r.read_string()?,
            data: data_from_wire(r.read_buffer_opt()?.as_ref()),
            version: r.read_i32()?,
        },
        TXN_SET_ACL => TxnBody::SetAcl {
            path: r.read_string()?,
            acl: Arc::from(r.read_vec::<Acl>()?),
            aversion: r.read_i32()?,
        },
        TXN_CHECK => TxnBody::Check {
            path: r.read_string()?,
        },
        TXN_MULTI => TxnBody::Multi(decode_multi(r, depth)?),
        TXN_ERROR => TxnBody::Error { err: r.read_i32()? },
        _ => return Err(DecodeError::Invalid("unknown txn type")),
    })
}

fn decode_multi(r: &mut JuteReader<'_>, depth: u32) -> Result<Vec<TxnBody>, DecodeError> {
    if depth >= MULTI_DEPTH_MAX {
        return Err(DecodeError::Invalid("multi nested too deep"));
    }
    let offset = r.position();
    let count = r.read_i32()?;
    // Every op takes at least its 4-byte type, so a count the remaining bytes cannot hold is
    // refused before anything is allocated for it.
    let Some(count) = usize::try_from(count)
        .ok()
        .filter(|&n| n <= r.remaining() / 4)
    else {
        return Err(DecodeError::BadLength { offset, len: count });
    };
    let mut ops = Vec::with_capacity(count);
    for _ in 0..count {
        let op_type = r.read_i32()? as u32;
        ops.push(decode_body(op_type, r, depth + 1)?);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::testing;
    use crate::proto::jute::testing::XorShift;

    fn round_trip(txn: &Txn) {
        let mut payload = Vec::new();
        let tag = encode_txn(txn, &mut payload);
        assert_eq!(tag, txn_type(&txn.body));
        let back = decode_txn(txn.zxid, txn.time_ms, tag, &payload);
        assert_eq!(back.as_ref(), Ok(txn));
    }

    #[test]
    fn random_txns_round_trip() {
        let mut g = XorShift::new(7);
        for i in 0..3000 {
            round_trip(&testing::txn(&mut g, i));
        }
    }

    #[test]
    fn every_variant_round_trips() {
        let mut g = XorShift::new(3);
        let mut seen = std::collections::HashSet::new();
        while seen.len() < 9 {
            let txn = testing::txn(&mut g, 1);
            seen.insert(txn_type(&txn.body));
            round_trip(&txn);
        }
        let nested = TxnBody::Multi(vec![TxnBody::Multi(vec![TxnBody::CloseSession])]);
        round_trip(&Txn {
            zxid: 1,
            time_ms: 2,
            session: 3,
            cxid: 4,
            body: nested,
        });
    }

    #[test]
    fn known_encoding() {
        let txn = Txn {
            zxid: 9,
            time_ms: 0,
            session: 1,
            cxid: 2,
            body: TxnBody::Delete {
                path: "/a".to_owned(),
            },
        };
        let mut payload = Vec::new();
        assert_eq!(encode_txn(&txn, &mut payload), 2);
        assert_eq!(
            payload,
            [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, b'/', b'a']
        );
        assert_eq!(txn_type_name(TXN_CREATE_SESSION), Some("createSession"));
    }

    #[test]
    fn truncated_and_trailing_payloads_are_refused() {
        let mut g = XorShift::new(11);
        for i in 0..200 {
            let txn = testing::txn(&mut g, i);
            let mut payload = Vec::new();
            let tag = encode_txn(&txn, &mut payload);
            for cut in 0..payload.len() {
                assert!(decode_txn(1, 1, tag, &payload[..cut]).is_err());
            }
            payload.push(0);
            assert!(
                decode_txn(1, 1, tag, &payload)
                    .unwrap_err()
                    .contains("trailing")
            );
        }
    }

    #[test]
    fn deep_multi_is_refused() {
        let mut payload = vec![0; 12];
        for _ in 0..MULTI_DEPTH_MAX + 1 {
            payload.extend_from_slice(&1i32.to_be_bytes());
            payload.extend_from_slice(&(TXN_MULTI as i32).to_be_bytes());
        }
        payload.extend_from_slice(&0i32.to_be_bytes());
        let err = decode_txn(1, 1, TXN_MULTI, &payload).unwrap_err();
        assert!(err.contains("too deep"), "{err}");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut g = XorShift::new(5);
        let tags = [
            1,
            2,
            5,
            7,
            13,
            14,
            TXN_CREATE_SESSION,
            TXN_CLOSE_SESSION,
            TXN_ERROR,
            99,
        ];
        for _ in 0..20_000 {
            let bytes = {
                let n = g.below(64);
                g.bytes(n)
            };
            let _ = decode_txn(1, 1, tags[g.below(tags.len())], &bytes);
        }
        // Mutations of valid payloads reach deeper into the decoder.
        for i in 0..2000 {
            let txn = testing::txn(&mut g, i);
            let mut payload = Vec::new();
            let tag = encode_txn(&txn, &mut payload);
            let at = g.below(payload.len());
            payload[at] = g.next_u64() as u8;
            let _ = decode_txn(1, 1, tag, &payload);
        }
    }
}
