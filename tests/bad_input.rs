//! Bad input on the client port, through raw sockets. Whatever arrives, the server answers as
//! ZooKeeper does (an error reply, or closing that one connection), never takes other sessions
//! down, and keeps answering `ruok`. Every test ends by checking a separate healthy session.

mod common;

use std::io::Write;
use std::net::{Shutdown, TcpStream};

use common::raw::{self, ConnectRequest, RawConn, err, op};
use common::*;

/// Deterministic pseudo-random bytes (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Sends `bytes` on a fresh connection, half-closes, and requires the server to close.
fn send_and_expect_close(addr: &str, bytes: &[u8]) {
    let mut c = RawConn::connect(addr).unwrap();
    let _ = c.send_raw(bytes);
    let _ = c.stream.shutdown(Shutdown::Write);
    let (closed, _) = c.closed_within(WAIT);
    assert!(
        closed,
        "server kept the connection after {} bad bytes",
        bytes.len()
    );
}

fn expect_closed_without_reply(c: &mut RawConn, what: &str) {
    let (closed, frames) = c.closed_within(WAIT);
    assert!(closed, "{what}: connection not closed");
    assert!(frames.is_empty(), "{what}: unexpected frames {frames:?}");
}

#[test]
fn random_bytes_before_handshake() {
    let s = TestServer::start();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..20 {
        let n = 1 + (rng.next() % 200) as usize;
        let mut bytes = rng.bytes(n);
        if n >= 4 && bytes[..4].iter().all(|b| b.is_ascii_lowercase()) {
            bytes[0] = 0xff; // never a four-letter word
        }
        send_and_expect_close(&s.addr, &bytes);
        assert!(ruok(&s.addr), "round {round}");
    }
    s.assert_healthy();
}

#[test]
fn random_frames_after_handshake() {
    let s = TestServer::start();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..30 {
        let (mut c, _) = s.raw(4000);
        let n = (rng.next() % 64) as usize;
        let payload = rng.bytes(n);
        c.send_frame(&payload).unwrap();
        // Either an error reply or a close is acceptable here; then we hang up.
        let _ = c.closed_within(std::time::Duration::from_millis(200));
        c.shutdown();
    }
    s.assert_healthy();
}

#[test]
fn truncated_frames_then_close() {
    let s = TestServer::start();
    let connect = ConnectRequest::new(4000).encode();
    // Before the handshake: part of a length, part of a ConnectRequest.
    let mut framed = (connect.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&connect);
    for cut in [1, 2, 3, 4, 10, framed.len() - 1] {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        c.write_all(&framed[..cut]).unwrap();
        drop(c);
    }
    // After the handshake: part of a request, then close.
    let p = unique("trunc");
    let mut req = raw::Enc::new()
        .i32(1)
        .i32(op::CREATE)
        .raw(&raw::create_body(&p, b"data", raw::OPEN_ACL, 0))
        .bytes();
    let mut framed = (req.len() as i32).to_be_bytes().to_vec();
    framed.append(&mut req);
    for cut in [2, 4, 8, 12, framed.len() - 1] {
        let (mut c, _) = s.raw(4000);
        c.send_raw(&framed[..cut]).unwrap();
        c.shutdown();
    }
    // Half-closing after a partial frame makes the server close too.
    let (mut c, _) = s.raw(4000);
    c.send_raw(&framed[..10]).unwrap();
    c.stream.shutdown(Shutdown::Write).unwrap();
    expect_closed_without_reply(&mut c, "partial frame + FIN");
    // The truncated create never happened.
    let (mut c, _) = s.raw(4000);
    assert_eq!(
        c.call(op::EXISTS, &raw::path_watch_body(&p, false))
            .unwrap()
            .err(),
        err::NO_NODE
    );
    s.assert_healthy();
}

#[test]
fn oversized_or_negative_length_prefix_closes() {
    let s = TestServer::start();
    for len in [0x0010_0000i32, 0x0fff_ffff, i32::MAX, -1, -100, i32::MIN] {
        let (mut c, _) = s.raw(4000);
        c.send_raw(&len.to_be_bytes()).unwrap();
        expect_closed_without_reply(&mut c, &format!("length {len:#x} after handshake"));
        let mut c = RawConn::connect(&s.addr).unwrap();
        c.send_raw(&len.to_be_bytes()).unwrap();
        expect_closed_without_reply(&mut c, &format!("length {len:#x} before handshake"));
    }
    s.assert_healthy();
}

#[test]
fn frame_larger_than_jute_maxbuffer_closes() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("maxbuf");
    assert_eq!(
        c.call(op::CREATE, &raw::create_body(&p, b"", raw::OPEN_ACL, 0))
            .unwrap()
            .err(),
        0
    );
    // Just under the default limit (0xfffff): accepted and read back in full.
    let big = vec![0x5a; 0xfffff - 1000];
    assert_eq!(
        c.call(op::SET_DATA, &raw::set_data_body(&p, &big, -1))
            .unwrap()
            .err(),
        0
    );
    let r = c
        .call(op::GET_DATA, &raw::path_watch_body(&p, false))
        .unwrap();
    assert_eq!(r.err(), 0);
    assert_eq!(r.dec().buf().unwrap().len(), big.len());
    // Over it: the connection is closed, the write does not happen.
    let huge = vec![0x5b; 0xfffff];
    let x = c.alloc_xid();
    let _ = c.send_request(x, op::SET_DATA, &raw::set_data_body(&p, &huge, -1));
    let (closed, frames) = c.closed_within(WAIT);
    assert!(closed, "oversized frame did not close the connection");
    assert!(frames.is_empty(), "{} frames", frames.len());
    let (mut c, _) = s.raw(4000);
    let r = c
        .call(op::EXISTS, &raw::path_watch_body(&p, false))
        .unwrap();
    assert_eq!(r.dec().stat().unwrap().data_length as usize, big.len());
    s.assert_healthy();
}

#[test]
fn zero_length_and_short_header_frames_close() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    c.send_frame(&[]).unwrap();
    expect_closed_without_reply(&mut c, "empty frame");
    let (mut c, _) = s.raw(4000);
    c.send_frame(&[0, 0, 0, 1]).unwrap();
    expect_closed_without_reply(&mut c, "4-byte frame");
    let mut c = RawConn::connect(&s.addr).unwrap();
    c.send_frame(&[]).unwrap();
    expect_closed_without_reply(&mut c, "empty frame before handshake");
    s.assert_healthy();
}

#[test]
fn unknown_opcode_is_unimplemented_then_closed() {
    let s = TestServer::start();
    for code in [999, 50, 23, op::NOTIFICATION] {
        let (mut c, _) = s.raw(4000);
        c.send_request(77, code, &raw::path_body("/")).unwrap();
        let (closed, frames) = c.closed_within(WAIT);
        assert!(closed, "opcode {code}: not closed");
        assert_eq!(frames.len(), 1, "opcode {code}: {frames:?}");
        let r = raw::decode_reply(&frames[0]).unwrap();
        assert_eq!(
            (r.header.xid, r.err()),
            (77, err::UNIMPLEMENTED),
            "opcode {code}"
        );
        assert!(r.body.is_empty());
    }
    s.assert_healthy();
}

/// `check` outside a multi: ZooKeeper 3.8 closes the connection without a reply; 3.9
/// (ZOOKEEPER-2623) answers UNIMPLEMENTED first, as zkr does. Either way the connection closes
/// and nothing is changed.
#[test]
fn standalone_check_closes_the_connection() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let body = raw::Enc::new().str("/").i32(-1).bytes();
    c.send_request(78, 13, &body).unwrap();
    let (closed, frames) = c.closed_within(WAIT);
    assert!(closed, "standalone check: not closed");
    assert!(frames.len() <= 1, "{frames:?}");
    if let Some(f) = frames.first() {
        let r = raw::decode_reply(f).unwrap();
        assert_eq!((r.header.xid, r.err()), (78, err::UNIMPLEMENTED));
    }
    s.assert_healthy();
}

#[test]
fn request_before_connect_request_closes() {
    let s = TestServer::start();
    let mut c = RawConn::connect(&s.addr).unwrap();
    c.send_request(1, op::GET_DATA, &raw::path_watch_body("/", false))
        .unwrap();
    expect_closed_without_reply(&mut c, "getData before ConnectRequest");
    let mut c = RawConn::connect(&s.addr).unwrap();
    c.send_request(1, op::PING, &[]).unwrap();
    expect_closed_without_reply(&mut c, "ping before ConnectRequest");
    s.assert_healthy();
}

#[test]
fn second_connect_request_is_unimplemented_then_closed() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    // After the handshake a ConnectRequest is read as a request header: xid 0 (protocol
    // version), opcode 0 (high half of lastZxidSeen).
    c.send_frame(&ConnectRequest::new(4000).encode()).unwrap();
    let (closed, frames) = c.closed_within(WAIT);
    assert!(closed);
    assert_eq!(frames.len(), 1, "{frames:?}");
    let r = raw::decode_reply(&frames[0]).unwrap();
    assert_eq!((r.header.xid, r.err()), (0, err::UNIMPLEMENTED));
    s.assert_healthy();
}

/// A well-framed request whose body does not decode gets MarshallingError (-5) for its xid;
/// ZooKeeper keeps the connection and the session.
#[test]
fn malformed_bodies_get_marshalling_error() {
    let s = TestServer::start();
    let p = unique("malformed");
    let cases: Vec<(&str, i32, Vec<u8>)> = vec![
        ("getData without body", op::GET_DATA, vec![]),
        (
            "getData null path",
            op::GET_DATA,
            raw::Enc::new().i32(-1).bool(false).bytes(),
        ),
        (
            "getData negative path length",
            op::GET_DATA,
            raw::Enc::new().i32(-7).bool(false).bytes(),
        ),
        (
            "getData path longer than frame",
            op::GET_DATA,
            raw::Enc::new().i32(1000).raw(b"/abc").bytes(),
        ),
        (
            "create null path",
            op::CREATE,
            raw::Enc::new()
                .i32(-1)
                .buf(b"")
                .acls(raw::OPEN_ACL)
                .i32(0)
                .bytes(),
        ),
        (
            "create huge acl count",
            op::CREATE,
            raw::Enc::new().str(&p).buf(b"").i32(i32::MAX).bytes(),
        ),
        (
            "create truncated",
            op::CREATE,
            raw::Enc::new().str(&p).buf(b"").bytes(),
        ),
        (
            "setWatches huge count",
            op::SET_WATCHES,
            raw::Enc::new().i64(0).i32(i32::MAX).bytes(),
        ),
        (
            "multi unknown op",
            op::MULTI,
            raw::multi_body(&[(999, raw::path_body("/"))]),
        ),
        (
            "multi with a read op",
            op::MULTI,
            raw::multi_body(&[(op::GET_DATA, raw::path_watch_body("/", false))]),
        ),
        (
            "multiRead with a write op",
            op::MULTI_READ,
            raw::multi_body(&[(op::DELETE, raw::delete_body(&p, -1))]),
        ),
        (
            "multi truncated",
            op::MULTI,
            raw::Enc::new().i32(op::CREATE).bool(false).i32(-1).bytes(),
        ),
        ("createSession opcode", op::CREATE_SESSION, vec![]),
        (
            "removeWatches bad type",
            op::REMOVE_WATCHES,
            raw::path_type_body("/", 9),
        ),
    ];
    for (what, code, body) in cases {
        let (mut c, _) = s.raw(4000);
        let r = c
            .call(code, &body)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(r.err(), err::MARSHALLING_ERROR, "{what}");
        if code != op::MULTI_READ {
            // (ZooKeeper 3.8 sends some leftover bytes with a failed multiRead; not asserted.)
            assert!(r.body.is_empty(), "{what}");
        }
        assert_eq!(
            c.ping().map(|r| r.err()).ok(),
            Some(0),
            "{what}: connection kept"
        );
    }
    let (mut c, _) = s.raw(4000);
    assert_eq!(
        c.call(op::EXISTS, &raw::path_watch_body(&p, false))
            .unwrap()
            .err(),
        err::NO_NODE
    );
    s.assert_healthy();
}

#[test]
fn negative_lengths_in_vectors_and_buffers() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("neglen");
    // A negative ACL count is an empty (null) ACL list.
    let body = raw::Enc::new().str(&p).buf(b"").i32(-5).i32(0).bytes();
    assert_eq!(c.call(op::CREATE, &body).unwrap().err(), err::INVALID_ACL);
    // A negative data length is null data; it reads back as length -1.
    assert_eq!(
        c.call(op::CREATE, &raw::create_body(&p, b"x", raw::OPEN_ACL, 0))
            .unwrap()
            .err(),
        0
    );
    let body = raw::Enc::new().str(&p).i32(-1).i32(-1).bytes();
    let r = c.call(op::SET_DATA, &body).unwrap();
    assert_eq!(r.err(), 0);
    assert_eq!(r.dec().stat().unwrap().data_length, 0);
    let r = c
        .call(op::GET_DATA, &raw::path_watch_body(&p, false))
        .unwrap();
    assert_eq!(r.err(), 0);
    let mut d = r.dec();
    assert_eq!(d.buf_opt().unwrap(), None);
    assert_eq!(d.stat().unwrap().data_length, 0);
    s.assert_healthy();
}

#[test]
fn invalid_paths_are_bad_arguments() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    for p in ["relative", "/with\0null", "//double"] {
        let r = c
            .call(op::CREATE, &raw::create_body(p, b"", raw::OPEN_ACL, 0))
            .unwrap();
        assert_eq!(r.err(), err::BAD_ARGUMENTS, "create {p:?}");
        let r = c
            .call(op::SET_DATA, &raw::set_data_body(p, b"", -1))
            .unwrap();
        assert_eq!(r.err(), err::BAD_ARGUMENTS, "setData {p:?}");
    }
    for p in ["/trailing/", "/a//b", "/a/./b", "/a/../b"] {
        let r = c
            .call(op::SET_DATA, &raw::set_data_body(p, b"", -1))
            .unwrap();
        assert_eq!(r.err(), err::BAD_ARGUMENTS, "setData {p:?}");
    }
    assert_eq!(
        c.ping().unwrap().err(),
        0,
        "bad paths do not cost the session"
    );
    s.assert_healthy();
}

#[test]
fn many_connections_opened_and_dropped() {
    let s = TestServer::start();
    for i in 0..50 {
        let mut c = RawConn::connect(&s.addr).unwrap();
        if i % 2 == 0 {
            c.handshake(&ConnectRequest::new(4000)).unwrap();
        }
        drop(c);
    }
    s.assert_healthy();
}
