//! The ZooKeeper client wire protocol, as pure functions over bytes: framing, the jute codec,
//! the records of `zookeeper.jute`, multi framing, opcodes and error codes (ZooKeeper 3.9).
//!
//! Must not do: I/O, clocks, or any meaning beyond the encoding. Sockets live in `server`;
//! what a request does lives in `request` and `tree`.
//!
//! # Framing
//!
//! Every message in either direction is one frame: a 4-byte big-endian length, then that many
//! bytes of payload. A length that is negative or above `jute.maxbuffer` (default 0xfffff)
//! closes the connection, as in ZooKeeper. Payloads:
//!
//! ```text
//! client -> server, first frame:   ConnectRequest
//! client -> server, then:          RequestHeader(xid, type) [request body for type]
//! server -> client, first frame:   ConnectResponse
//! server -> client, then:          ReplyHeader(xid, zxid, err) [reply body if err == 0]
//! notification:                    ReplyHeader(xid -1, zxid -1, err 0) WatcherEvent
//! ```
//!
//! Special xids (`opcode::xid`): -1 notification, -2 ping, -4 auth, -8 setWatches. Before a
//! session exists the first 4 bytes of a connection may instead be a four-letter word
//! (`ruok`, `srvr`, ...); see `frame`.
//!
//! # Where things live
//!
//! - `frame`: splitting a byte stream into frames, writing frames, four-letter-word detection.
//! - `jute`: the primitive encodings, `JuteReader`, the `Jute` trait, `DecodeError`.
//! - `records`: one struct per `zookeeper.jute` record (requests, replies, txns).
//! - `multi`: multi/multiRead request and response framing.
//! - `opcode`: opcodes, special xids, permission bits, create modes, watcher enums.
//! - `error_code`: `KeeperException.Code` values.

pub mod error_code;
pub mod frame;
pub mod jute;
pub mod multi;
pub mod opcode;
pub mod records;

pub use error_code::ErrorCode;
pub use frame::{FrameBuf, FrameError};
pub use jute::{DecodeError, Jute, JuteReader};
pub use multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use opcode::{AddWatchMode, CreateMode, EventType, KeeperState, OpCode, WatcherType};
