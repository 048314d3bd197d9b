//! A minimal, blocking, raw-socket ZooKeeper (jute) client for handshake-level and bad-input
//! tests. Test code only: it encodes exactly what the tests need and trusts nothing it reads.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// Opcodes (ZooDefs.OpCode).
pub mod op {
    pub const NOTIFICATION: i32 = 0;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CHECK_WATCHES: i32 = 17;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const SASL: i32 = 102;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const WHO_AM_I: i32 = 107;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

/// Error codes (KeeperException.Code).
pub mod err {
    pub const OK: i32 = 0;
    pub const SYSTEM_ERROR: i32 = -1;
    pub const RUNTIME_INCONSISTENCY: i32 = -2;
    pub const MARSHALLING_ERROR: i32 = -5;
    pub const UNIMPLEMENTED: i32 = -6;
    pub const BAD_ARGUMENTS: i32 = -8;
    pub const NO_NODE: i32 = -101;
    pub const NO_AUTH: i32 = -102;
    pub const BAD_VERSION: i32 = -103;
    pub const NO_CHILDREN_FOR_EPHEMERALS: i32 = -108;
    pub const NODE_EXISTS: i32 = -110;
    pub const NOT_EMPTY: i32 = -111;
    pub const SESSION_EXPIRED: i32 = -112;
    pub const INVALID_ACL: i32 = -114;
    pub const AUTH_FAILED: i32 = -115;
    pub const NO_WATCHER: i32 = -121;
}

/// Special xids.
pub mod xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}

/// Create flags (CreateMode).
pub mod flags {
    pub const PERSISTENT: i32 = 0;
    pub const EPHEMERAL: i32 = 1;
    pub const PERSISTENT_SEQUENTIAL: i32 = 2;
    pub const EPHEMERAL_SEQUENTIAL: i32 = 3;
    pub const CONTAINER: i32 = 4;
    pub const PERSISTENT_WITH_TTL: i32 = 5;
    pub const PERSISTENT_SEQUENTIAL_WITH_TTL: i32 = 6;
}

/// Watcher types for checkWatches / removeWatches.
pub mod wtype {
    pub const CHILDREN: i32 = 1;
    pub const DATA: i32 = 2;
    pub const ANY: i32 = 3;
}

/// Event types in WatcherEvent.
pub mod event {
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
}

pub const PERM_ALL: i32 = 31;

/// Jute encoder.
#[derive(Default, Clone, Debug)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn new() -> Self {
        Enc(Vec::new())
    }
    pub fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bool(mut self, v: bool) -> Self {
        self.0.push(v as u8);
        self
    }
    pub fn buf(self, v: &[u8]) -> Self {
        let mut s = self.i32(v.len() as i32);
        s.0.extend_from_slice(v);
        s
    }
    pub fn str(self, v: &str) -> Self {
        self.buf(v.as_bytes())
    }
    pub fn strs(self, v: &[&str]) -> Self {
        let mut s = self.i32(v.len() as i32);
        for x in v {
            s = s.str(x);
        }
        s
    }
    /// ACL list: (perms, scheme, id).
    pub fn acls(self, v: &[(i32, &str, &str)]) -> Self {
        let mut s = self.i32(v.len() as i32);
        for (perms, scheme, id) in v {
            s = s.i32(*perms).str(scheme).str(id);
        }
        s
    }
    pub fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    pub fn bytes(self) -> Vec<u8> {
        self.0
    }
}

pub const OPEN_ACL: &[(i32, &str, &str)] = &[(PERM_ALL, "world", "anyone")];

/// Body of create / create2 / createContainer: path, data, acl, flags.
pub fn create_body(path: &str, data: &[u8], acl: &[(i32, &str, &str)], flags: i32) -> Vec<u8> {
    Enc::new().str(path).buf(data).acls(acl).i32(flags).bytes()
}

/// Body of createTTL: path, data, acl, flags, ttl.
pub fn create_ttl_body(path: &str, data: &[u8], flags: i32, ttl: i64) -> Vec<u8> {
    Enc::new()
        .str(path)
        .buf(data)
        .acls(OPEN_ACL)
        .i32(flags)
        .i64(ttl)
        .bytes()
}

/// Body of exists / getData / getChildren / getChildren2: path, watch.
pub fn path_watch_body(path: &str, watch: bool) -> Vec<u8> {
    Enc::new().str(path).bool(watch).bytes()
}

/// Body that is just a path (sync, getACL, getEphemerals, getAllChildrenNumber).
pub fn path_body(path: &str) -> Vec<u8> {
    Enc::new().str(path).bytes()
}

pub fn set_data_body(path: &str, data: &[u8], version: i32) -> Vec<u8> {
    Enc::new().str(path).buf(data).i32(version).bytes()
}

pub fn delete_body(path: &str, version: i32) -> Vec<u8> {
    Enc::new().str(path).i32(version).bytes()
}

/// Jute decoder over a byte slice; every read is bounds-checked.
pub struct Dec<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

fn short() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "short record")
}

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Dec { buf, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(short());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn i32(&mut self) -> io::Result<i32> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    pub fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub fn bool(&mut self) -> io::Result<bool> {
        Ok(self.take(1)?[0] != 0)
    }
    /// A buffer; -1 length decodes as None.
    pub fn buf_opt(&mut self) -> io::Result<Option<Vec<u8>>> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(None);
        }
        Ok(Some(self.take(n as usize)?.to_vec()))
    }
    pub fn buf(&mut self) -> io::Result<Vec<u8>> {
        Ok(self.buf_opt()?.unwrap_or_default())
    }
    pub fn str(&mut self) -> io::Result<String> {
        String::from_utf8(self.buf()?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
    pub fn strs(&mut self) -> io::Result<Vec<String>> {
        let n = self.i32()?;
        let mut v = Vec::new();
        for _ in 0..n.max(0) {
            v.push(self.str()?);
        }
        Ok(v)
    }
    pub fn stat(&mut self) -> io::Result<RawStat> {
        Ok(RawStat {
            czxid: self.i64()?,
            mzxid: self.i64()?,
            ctime: self.i64()?,
            mtime: self.i64()?,
            version: self.i32()?,
            cversion: self.i32()?,
            aversion: self.i32()?,
            ephemeral_owner: self.i64()?,
            data_length: self.i32()?,
            num_children: self.i32()?,
            pzxid: self.i64()?,
        })
    }
    pub fn acls(&mut self) -> io::Result<Vec<(i32, String, String)>> {
        let n = self.i32()?;
        let mut v = Vec::new();
        for _ in 0..n.max(0) {
            v.push((self.i32()?, self.str()?, self.str()?));
        }
        Ok(v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawStat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

#[derive(Debug, Clone)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: bool,
}

impl ConnectRequest {
    pub fn new(timeout_ms: i32) -> Self {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: false,
        }
    }
    pub fn resume(timeout_ms: i32, session_id: i64, passwd: &[u8]) -> Self {
        ConnectRequest {
            session_id,
            passwd: passwd.to_vec(),
            ..Self::new(timeout_ms)
        }
    }
    pub fn encode(&self) -> Vec<u8> {
        Enc::new()
            .i32(self.protocol_version)
            .i64(self.last_zxid_seen)
            .i32(self.timeout_ms)
            .i64(self.session_id)
            .buf(&self.passwd)
            .bool(self.read_only)
            .bytes()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// None when the server omitted the trailing read-only byte.
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    pub fn decode(frame: &[u8]) -> io::Result<Self> {
        let mut d = Dec::new(frame);
        let protocol_version = d.i32()?;
        let timeout_ms = d.i32()?;
        let session_id = d.i64()?;
        let passwd = d.buf()?;
        let read_only = if d.remaining() > 0 {
            Some(d.bool()?)
        } else {
            None
        };
        Ok(ConnectResponse {
            protocol_version,
            timeout_ms,
            session_id,
            passwd,
            read_only,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub header: ReplyHeader,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn err(&self) -> i32 {
        self.header.err
    }
    pub fn dec(&self) -> Dec<'_> {
        Dec::new(&self.body)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherEvent {
    pub event_type: i32,
    pub state: i32,
    pub path: String,
}

/// Frames as they arrived, for tests that check ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Event(WatcherEvent),
    Reply(Reply),
}

pub fn decode_reply(frame: &[u8]) -> io::Result<Reply> {
    let mut d = Dec::new(frame);
    let header = ReplyHeader {
        xid: d.i32()?,
        zxid: d.i64()?,
        err: d.i32()?,
    };
    Ok(Reply {
        header,
        body: frame[d.pos..].to_vec(),
    })
}

pub fn decode_event(body: &[u8]) -> io::Result<WatcherEvent> {
    let mut d = Dec::new(body);
    Ok(WatcherEvent {
        event_type: d.i32()?,
        state: d.i32()?,
        path: d.str()?,
    })
}

pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RawConn {
    pub stream: TcpStream,
    /// Notifications read while waiting for a reply.
    pub events: VecDeque<WatcherEvent>,
    next_xid: i32,
}

impl RawConn {
    /// Opens a TCP connection (no handshake).
    pub fn connect(addr: &str) -> io::Result<RawConn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            events: VecDeque::new(),
            next_xid: 1,
        })
    }

    /// Opens a connection and performs the handshake; panics if the server refuses.
    pub fn session(addr: &str, timeout_ms: i32) -> (RawConn, ConnectResponse) {
        let mut c = RawConn::connect(addr).expect("tcp connect");
        let rsp = c
            .handshake(&ConnectRequest::new(timeout_ms))
            .expect("handshake");
        assert_ne!(rsp.session_id, 0, "server refused the session: {rsp:?}");
        assert!(rsp.timeout_ms > 0, "server refused the session: {rsp:?}");
        (c, rsp)
    }

    pub fn set_read_timeout(&self, t: Duration) {
        self.stream.set_read_timeout(Some(t)).unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Sends one frame: 4-byte big-endian length, then payload.
    pub fn send_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut v = Vec::with_capacity(payload.len() + 4);
        v.extend_from_slice(&(payload.len() as i32).to_be_bytes());
        v.extend_from_slice(payload);
        self.send_raw(&v)
    }

    /// Reads one frame. Frames larger than 16 MiB are refused as a protocol error.
    pub fn read_frame(&mut self) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let n = i32::from_be_bytes(len);
        if !(0..=16 << 20).contains(&n) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad frame length {n}"),
            ));
        }
        let mut v = vec![0u8; n as usize];
        self.stream.read_exact(&mut v)?;
        Ok(v)
    }

    pub fn handshake(&mut self, req: &ConnectRequest) -> io::Result<ConnectResponse> {
        self.send_frame(&req.encode())?;
        let f = self.read_frame()?;
        ConnectResponse::decode(&f)
    }

    pub fn alloc_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }

    /// Sends a request with an explicit xid.
    pub fn send_request(&mut self, xid: i32, opcode: i32, body: &[u8]) -> io::Result<()> {
        let payload = Enc::new().i32(xid).i32(opcode).raw(body).bytes();
        self.send_frame(&payload)
    }

    /// Reads the next frame as reply or event (pings are returned as replies with xid -2).
    pub fn read_any(&mut self) -> io::Result<Frame> {
        let f = self.read_frame()?;
        let r = decode_reply(&f)?;
        if r.header.xid == xid::NOTIFICATION {
            Ok(Frame::Event(decode_event(&r.body)?))
        } else {
            Ok(Frame::Reply(r))
        }
    }

    /// Reads frames until a reply (not a notification) arrives; notifications are queued and
    /// replies to pings (xid -2) are skipped.
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        self.read_reply_skip_pings(true)
    }

    fn read_reply_skip_pings(&mut self, skip_pings: bool) -> io::Result<Reply> {
        loop {
            match self.read_any()? {
                Frame::Event(e) => self.events.push_back(e),
                Frame::Reply(r) if skip_pings && r.header.xid == xid::PING => {}
                Frame::Reply(r) => return Ok(r),
            }
        }
    }

    /// Sends a request with a fresh xid and waits for its reply; checks the xid matches.
    pub fn call(&mut self, opcode: i32, body: &[u8]) -> io::Result<Reply> {
        let xid = self.alloc_xid();
        self.send_request(xid, opcode, body)?;
        let r = self.read_reply()?;
        if r.header.xid != xid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reply xid {} != request xid {xid}", r.header.xid),
            ));
        }
        Ok(r)
    }

    /// Like `call` with a special xid (ping -2, auth -4, setWatches -8).
    pub fn call_xid(&mut self, xid: i32, opcode: i32, body: &[u8]) -> io::Result<Reply> {
        self.send_request(xid, opcode, body)?;
        self.read_reply_skip_pings(xid != self::xid::PING)
    }

    pub fn ping(&mut self) -> io::Result<Reply> {
        self.call_xid(xid::PING, op::PING, &[])
    }

    /// Waits (bounded) for the next notification, sending pings to keep the session alive.
    pub fn wait_event(&mut self, within: Duration) -> Option<WatcherEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        let deadline = Instant::now() + within;
        let old = self.stream.read_timeout().ok().flatten();
        while Instant::now() < deadline {
            self.set_read_timeout(Duration::from_millis(100));
            match self.read_any() {
                Ok(Frame::Event(e)) => {
                    self.stream.set_read_timeout(old).unwrap();
                    return Some(e);
                }
                Ok(Frame::Reply(_)) => {}
                Err(e) if is_timeout(&e) => {
                    let _ = self.send_request(xid::PING, op::PING, &[]);
                }
                Err(_) => break,
            }
        }
        self.stream.set_read_timeout(old).unwrap();
        None
    }

    /// True if the server closes the connection within `within` (EOF or reset); any frames
    /// that arrive first are skipped and returned.
    pub fn closed_within(&mut self, within: Duration) -> (bool, Vec<Vec<u8>>) {
        let deadline = Instant::now() + within;
        let mut frames = Vec::new();
        let mut buf = [0u8; 4096];
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return (false, frames);
            }
            self.stream.set_read_timeout(Some(deadline - now)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => return (true, frames),
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    while pending.len() >= 4 {
                        let len =
                            i32::from_be_bytes(pending[..4].try_into().unwrap()).max(0) as usize;
                        if pending.len() < 4 + len {
                            break;
                        }
                        frames.push(pending[4..4 + len].to_vec());
                        pending.drain(..4 + len);
                    }
                }
                Err(e) if is_timeout(&e) => return (false, frames),
                Err(_) => return (true, frames),
            }
        }
    }

    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends a four-letter word on a fresh connection and returns everything the server writes
/// before closing.
pub fn four_letter(addr: &str, word: &str) -> io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(READ_TIMEOUT))?;
    s.write_all(word.as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Body of check: path, version.
pub fn check_body(path: &str, version: i32) -> Vec<u8> {
    Enc::new().str(path).i32(version).bytes()
}

/// Body of checkWatches / removeWatches / addWatch: path, type-or-mode.
pub fn path_type_body(path: &str, t: i32) -> Vec<u8> {
    Enc::new().str(path).i32(t).bytes()
}

/// Body of auth (sent with xid -4): type 0, scheme, auth bytes.
pub fn auth_body(scheme: &str, auth: &[u8]) -> Vec<u8> {
    Enc::new().i32(0).str(scheme).buf(auth).bytes()
}

/// Body of multi / multiRead: each op as MultiHeader(type, done=false, err=-1) + body, then
/// the terminating MultiHeader(-1, true, -1).
pub fn multi_body(ops: &[(i32, Vec<u8>)]) -> Vec<u8> {
    let mut e = Enc::new();
    for (t, body) in ops {
        e = e.i32(*t).bool(false).i32(-1).raw(body);
    }
    e.i32(-1).bool(true).i32(-1).bytes()
}

/// One result of a multi / multiRead reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Create(String),
    Create2(String, RawStat),
    Delete,
    SetData(RawStat),
    Check,
    Error(i32),
    GetData(Vec<u8>, RawStat),
    GetChildren(Vec<String>),
}

/// Decodes a multi / multiRead reply body; checks the MultiHeader err agrees with an
/// ErrorResult's err and that the list is properly terminated.
pub fn decode_multi(body: &[u8]) -> io::Result<Vec<OpResult>> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let mut d = Dec::new(body);
    let mut out = Vec::new();
    loop {
        let t = d.i32()?;
        let done = d.bool()?;
        let e = d.i32()?;
        if done {
            if d.remaining() != 0 {
                return Err(bad(format!("{} trailing bytes after multi", d.remaining())));
            }
            return Ok(out);
        }
        let r = match t {
            op::CREATE => OpResult::Create(d.str()?),
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                OpResult::Create2(d.str()?, d.stat()?)
            }
            op::DELETE => OpResult::Delete,
            op::SET_DATA => OpResult::SetData(d.stat()?),
            op::CHECK => OpResult::Check,
            op::GET_DATA => OpResult::GetData(d.buf()?, d.stat()?),
            op::GET_CHILDREN => OpResult::GetChildren(d.strs()?),
            op::ERROR => {
                let be = d.i32()?;
                if be != e {
                    return Err(bad(format!("multi error header err {e} != body err {be}")));
                }
                OpResult::Error(be)
            }
            other => return Err(bad(format!("unexpected multi result type {other}"))),
        };
        out.push(r);
    }
}
