//! The load generator's own ZooKeeper client: one pipelined session on a glommio socket.
//!
//! Owns: the handshake, request framing with xids, the reply stream (replies come back in
//! request order, as ZooKeeper promises per session), notifications and pings. Must not do:
//! reconnects, retries or watch bookkeeping: a bench session that loses its connection is an
//! error in the run, not something to hide.
//!
//! Requests are queued into one buffer with `send` and leave with the next `flush` (or `recv`,
//! which flushes first), so a session that keeps K requests outstanding writes them with one
//! syscall per batch of replies it handles.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::proto::frame::{begin_frame, end_frame};
use crate::proto::jute::{self, Jute, JuteReader};
use crate::proto::opcode::xid;
use crate::proto::records::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader, WatcherEvent};
use crate::proto::{FrameBuf, OpCode};

/// Largest reply frame accepted (a getChildren of a big parent can exceed jute's 1 MiB).
const MAX_REPLY_BYTES: u32 = 64 << 20;
/// Bytes asked of the socket per read.
const READ_CHUNK_BYTES: usize = 64 << 10;

/// Errors of a bench session; the message says which server and what went wrong.
pub type Result<T> = std::result::Result<T, String>;

/// One reply: its header and the body bytes after it.
#[derive(Debug)]
pub struct Reply {
    /// The request's xid.
    pub xid: i32,
    /// The server's zxid when it answered.
    pub zxid: i64,
    /// `ErrorCode` value, 0 on success.
    pub err: i32,
    frame: Vec<u8>,
}

impl Reply {
    /// The reply body (empty when `err` is nonzero).
    pub fn body(&self) -> &[u8] {
        &self.frame[REPLY_HEADER_BYTES..]
    }

    /// Decodes the body as `T`.
    pub fn decode<T: Jute>(&self) -> Result<T> {
        jute::decode(self.body()).map_err(|e| format!("bad reply body for xid {}: {e}", self.xid))
    }
}

/// xid (4) + zxid (8) + err (4).
const REPLY_HEADER_BYTES: usize = 16;

/// A connected session.
pub struct Session {
    stream: TcpStream,
    addr: SocketAddr,
    frames: FrameBuf,
    chunk: Vec<u8>,
    out: Vec<u8>,
    next_xid: i32,
    /// Session id granted by the server.
    pub id: i64,
    /// Negotiated session timeout (ms).
    pub timeout_ms: i32,
    /// Notifications received and not yet taken.
    pub events: VecDeque<WatcherEvent>,
    ping_every: Duration,
    last_ping: Instant,
}

impl Session {
    /// Opens a TCP connection and a new session with the requested timeout.
    pub async fn connect(addr: SocketAddr, timeout_ms: i32) -> Result<Session> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("{addr}: connect: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("{addr}: TCP_NODELAY: {e}"))?;
        let mut s = Session {
            stream,
            addr,
            frames: FrameBuf::new(MAX_REPLY_BYTES),
            chunk: vec![0; READ_CHUNK_BYTES],
            out: Vec::with_capacity(4096),
            next_xid: 1,
            id: 0,
            timeout_ms,
            events: VecDeque::new(),
            ping_every: Duration::from_secs(10),
            last_ping: Instant::now(),
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: timeout_ms,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: false,
        };
        let start = begin_frame(&mut s.out);
        req.write(&mut s.out);
        end_frame(&mut s.out, start);
        s.flush().await?;
        let frame = s.next_frame().await.map_err(|e| {
            format!("{e} during the handshake (a server may refuse clients over its per-IP limit, maxClientCnxns)")
        })?;
        let resp: ConnectResponse = jute::decode(&frame)
            .map_err(|e| format!("{addr}: bad ConnectResponse: {e}"))?;
        if resp.session_id == 0 || resp.time_out <= 0 {
            return Err(format!("{addr}: session refused"));
        }
        s.id = resp.session_id;
        s.timeout_ms = resp.time_out;
        // A silent server is noticed within a third of the session timeout: the read gives up,
        // the session pings, and `next_frame` gives up for good after a whole timeout.
        s.ping_every = Duration::from_millis((s.timeout_ms / 3).max(1) as u64);
        s.set_idle(s.ping_every)?;
        Ok(s)
    }

    /// The server this session talks to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues a request; returns its xid. It leaves with the next `flush` or `recv`.
    pub fn send<T: Jute>(&mut self, op: OpCode, body: &T) -> i32 {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        self.queue(xid, op, |w| body.write(w));
        xid
    }

    /// Queues a request whose body `body` writes straight into the output buffer (the hot
    /// path: no request struct to build); returns its xid.
    pub fn send_with(&mut self, op: OpCode, body: impl FnOnce(&mut Vec<u8>)) -> i32 {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        self.queue(xid, op, body);
        xid
    }

    fn queue(&mut self, xid: i32, op: OpCode, body: impl FnOnce(&mut Vec<u8>)) {
        let start = begin_frame(&mut self.out);
        RequestHeader { xid, op_type: op.as_i32() }.write(&mut self.out);
        body(&mut self.out);
        end_frame(&mut self.out, start);
    }

    /// Writes out everything queued.
    pub async fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| format!("{}: write: {e}", self.addr))?;
        self.out.clear();
        Ok(())
    }

    /// The next reply already received, without waiting; notifications go to `events`.
    pub fn try_recv(&mut self) -> Result<Option<Reply>> {
        while let Some(frame) = self
            .frames
            .next_frame()
            .map_err(|e| format!("{}: {e}", self.addr))?
        {
            if let Some(reply) = self.classify(frame)? {
                return Ok(Some(reply));
            }
        }
        Ok(None)
    }

    /// The next reply, flushing queued requests first and waiting for the server.
    pub async fn recv(&mut self) -> Result<Reply> {
        loop {
            if let Some(reply) = self.try_recv()? {
                return Ok(reply);
            }
            self.flush().await?;
            self.fill().await?;
        }
    }

    /// Reads once from the socket into the frame buffer (pinging when the server is quiet).
    pub async fn fill(&mut self) -> Result<()> {
        self.fill_or_stop(None).await.map(|_| ())
    }

    /// Like `fill`, but gives up (returning false) when `stop` is set, checked each time the
    /// read times out (see `set_idle`).
    pub async fn fill_or_stop(&mut self, stop: Option<&AtomicBool>) -> Result<bool> {
        let silent_since = Instant::now();
        loop {
            match self.stream.read(&mut self.chunk).await {
                Ok(0) => return Err(format!("{}: connection closed by the server", self.addr)),
                Ok(n) => {
                    self.frames.extend(&self.chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                        return Ok(false);
                    }
                    if silent_since.elapsed() > Duration::from_millis(self.timeout_ms as u64) {
                        return Err(format!("{}: no answer for a whole session timeout", self.addr));
                    }
                    if self.last_ping.elapsed() >= self.ping_every {
                        self.last_ping = Instant::now();
                        self.queue(xid::PING, OpCode::Ping, |_| {});
                        self.flush().await?;
                    }
                }
                Err(e) => return Err(format!("{}: read: {e}", self.addr)),
            }
        }
    }

    /// How long a read waits before checking the stop flag (and pinging, at most every third
    /// of the session timeout).
    pub fn set_idle(&mut self, idle: Duration) -> Result<()> {
        self.stream
            .set_read_timeout(Some(idle))
            .map_err(|e| format!("{}: read timeout: {e}", self.addr))
    }

    /// The next notification, or None once `stop` is set while waiting (replies arriving
    /// meanwhile are an error: callers wait for events only with nothing outstanding).
    pub async fn next_event_or_stop(&mut self, stop: &AtomicBool) -> Result<Option<WatcherEvent>> {
        loop {
            if let Some(reply) = self.try_recv()? {
                return Err(format!("{}: unexpected reply xid {} while waiting for an event", self.addr, reply.xid));
            }
            if let Some(ev) = self.events.pop_front() {
                return Ok(Some(ev));
            }
            self.flush().await?;
            if !self.fill_or_stop(Some(stop)).await? {
                return Ok(None);
            }
        }
    }

    /// Sends one request (body written by `body`, as in `send_with`) and waits for its reply.
    pub async fn call_with(&mut self, op: OpCode, body: impl FnOnce(&mut Vec<u8>)) -> Result<Reply> {
        let xid = self.send_with(op, body);
        let reply = self.recv().await?;
        if reply.xid != xid {
            return Err(format!("{}: reply xid {} for request xid {xid}", self.addr, reply.xid));
        }
        Ok(reply)
    }

    /// Closes the session (closeSession, then the socket).
    pub async fn close(mut self) -> Result<()> {
        let xid = self.send_with(OpCode::CloseSession, |_| {});
        let reply = self.recv().await?;
        if reply.xid != xid {
            return Err(format!("{}: closeSession answered with xid {}", self.addr, reply.xid));
        }
        let _ = self.stream.close().await;
        Ok(())
    }

    async fn next_frame(&mut self) -> Result<Vec<u8>> {
        loop {
            if let Some(frame) = self
                .frames
                .next_frame()
                .map_err(|e| format!("{}: {e}", self.addr))?
            {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }

    /// A frame after the handshake: a reply to hand back, or a notification / ping answer.
    fn classify(&mut self, frame: Vec<u8>) -> Result<Option<Reply>> {
        let mut r = JuteReader::new(&frame);
        let header = ReplyHeader::read(&mut r).map_err(|e| format!("{}: bad reply header: {e}", self.addr))?;
        match header.xid {
            xid::NOTIFICATION => {
                let ev = WatcherEvent::read(&mut r)
                    .map_err(|e| format!("{}: bad notification: {e}", self.addr))?;
                self.events.push_back(ev);
                Ok(None)
            }
            xid::PING => Ok(None),
            _ => Ok(Some(Reply {
                xid: header.xid,
                zxid: header.zxid,
                err: header.err,
                frame,
            })),
        }
    }
}
