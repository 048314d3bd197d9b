//! The durable txn log: segment files of checksummed records, read in place through read-only
//! maps, appended with `pwrite` + `fdatasync`.
//!
//! Owns: the on-disk format of the log (below), creating and naming segments, appending,
//! recovery (replay after a snapshot, cutting a torn tail), and the read-only `verify` and
//! `dump` tools. Must not do: glommio, async, or any wall clock. Every function here blocks;
//! the server calls them from `spawn_blocking` (or a sync thread), never on an executor.
//!
//! Every function takes `dir`, the directory that holds the segments, `<dataLogDir>/version-2`;
//! the caller appends `version-2`.
//!
//! # On-disk format
//!
//! All integers are little-endian except inside payloads, which use jute (big-endian).
//!
//! ```text
//! <dataLogDir>/version-2/zkrlog.<first zxid, 16 lowercase hex digits>   (one per segment)
//! <dataLogDir>/version-2/zkrlog.tmp.*        (segments being made; removed by recovery)
//!
//! Segment       = SegmentHeader Record* ZeroFill
//! SegmentHeader = 4096 bytes at offset 0:
//!                 magic "ZKRLOGv1" (8) | version u32 = 1 | header_bytes u32 = 4096
//!                 | segment_bytes u64 | first_zxid i64 | prev_zxid i64
//!                 | crc32c u32 over the 40 bytes before it | zeros up to 4096
//! Record        = RecordHeader (32 bytes) Payload, no padding between records
//! RecordHeader  = magic u32 "ZKR1" | crc u32 | len u32 | txn_type u32 | zxid u64
//!                 | time_ms i64;        crc = crc32c(RecordHeader[8..32] ++ Payload)
//! Payload       = len bytes: long session, int cxid, Body(txn_type)   (see `codec`)
//! ZeroFill      = zero bytes up to segment_bytes (the file is zero-filled at creation, so
//!                 an all-zero record header is the end of the segment)
//! ```
//!
//! Invariants a healthy log keeps, and recovery checks:
//!
//! - zxids strictly increase across every record of every segment, in name order;
//! - a segment's name, its header's `first_zxid` and its first record's zxid are equal;
//! - `prev_zxid` of a segment is the zxid of the last record of the segment before it (or,
//!   for a segment started after a snapshot jump, a zxid the snapshot covers); a deleted
//!   segment breaks this chain and is reported, even across epochs where zxids jump;
//! - only the last segment may end in a torn record. A sealed segment was synced before the
//!   next one was created, so damage there is corruption, never a crash artefact.
//!
//! # Files
//!
//! - `record`: the record header, encode and in-place parse.
//! - `codec`: `Txn` <-> payload bytes.
//! - `segment`: names, the segment header, listing and creating segments.
//! - `recover`: replay, tail cut, `verify`, `dump`.
//! - `writer`: `LogWriter`, appends and segment rolls.
//! - `text`: a txn as one line of text or JSON, for `dump`.

use std::path::PathBuf;

pub mod codec;
pub mod record;
pub mod recover;
pub mod segment;
pub(crate) mod text;
pub mod writer;

pub use record::{ParseOutcome, RecordHeader};
pub use recover::{Recovered, SegmentSummary, TailCut, VerifyReport, dump, recover, verify};
pub use writer::LogWriter;

/// Why the log could not be read or written. Every variant names the file, and the byte offset
/// where it applies, so an operator can find the damage.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A system call on a log file or directory failed.
    #[error("log I/O error: {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Bytes that cannot be a crash artefact: damage before valid data, or in a sealed segment.
    #[error("log corrupt: {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the damage in that file.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// The segment chain is broken: txns from `expected_zxid` on are in no file.
    #[error(
        "log segment missing: {path} at offset 0 does not continue the segment before it; \
         txns from zxid {expected_zxid:#x} on are missing"
    )]
    MissingSegment {
        /// The first zxid the log lacks.
        expected_zxid: i64,
        /// The segment after the gap.
        path: PathBuf,
    },
    /// The oldest segment starts after the snapshot: the txns between are in no file.
    #[error(
        "log gap: {path} at offset 0 continues after zxid {prev_zxid:#x}, but replay must start \
         right after zxid {after_zxid:#x} (the snapshot); the txns in between are missing"
    )]
    Gap {
        /// The zxid replay has to continue from (the snapshot's).
        after_zxid: i64,
        /// The zxid the oldest segment continues after.
        prev_zxid: i64,
        /// The oldest segment.
        path: PathBuf,
    },
}

impl LogError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> LogError {
        LogError::Io {
            path: path.into(),
            source,
        }
    }

    /// A corruption report.
    pub(crate) fn corrupt(path: impl Into<PathBuf>, offset: u64, reason: String) -> LogError {
        LogError::Corrupt {
            path: path.into(),
            offset,
            reason,
        }
    }
}

/// Shared test helpers: unique temp dirs and random txns.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::proto::jute::testing::XorShift;
    use crate::proto::records::{Acl, Id};
    use crate::txn::{CreateTxn, Txn, TxnBody};

    /// A directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("zkr-log-{tag}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn path(g: &mut XorShift) -> String {
        const PARTS: &[&str] = &[
            "a",
            "b",
            "zk",
            "\u{e9}t\u{e9}",
            "q\"x",
            "n\nl",
            "0000000001",
        ];
        let mut p = String::new();
        for _ in 0..=g.below(3) {
            p.push('/');
            p.push_str(PARTS[g.below(PARTS.len())]);
        }
        p
    }

    fn acl(g: &mut XorShift) -> Arc<[Acl]> {
        (0..g.below(3))
            .map(|_| Acl {
                perms: g.next_u64() as i32,
                id: Id {
                    scheme: ["world", "digest", "ip"][g.below(3)].to_owned(),
                    id: path(g),
                },
            })
            .collect()
    }

    /// A random body; `depth` bounds multi nesting.
    pub(crate) fn body(g: &mut XorShift, depth: u32) -> TxnBody {
        let data_len = if g.below(10) == 0 {
            g.below(3000)
        } else {
            g.below(40)
        };
        match g.below(if depth < 2 { 9 } else { 8 }) {
            0 => TxnBody::CreateSession {
                timeout_ms: g.next_u64() as i32,
            },
            1 => TxnBody::CloseSession,
            2 => TxnBody::Create(CreateTxn {
                path: path(g),
                data: g.bytes(data_len).into(),
                acl: acl(g),
                ephemeral_owner: g.next_u64() as i64,
                parent_cversion: g.next_u64() as i32,
            }),
            3 => TxnBody::Delete { path: path(g) },
            4 => TxnBody::SetData {
                path: path(g),
                data: g.bytes(data_len).into(),
                version: g.next_u64() as i32,
            },
            5 => TxnBody::SetAcl {
                path: path(g),
                acl: acl(g),
                aversion: g.next_u64() as i32,
            },
            6 => TxnBody::Check { path: path(g) },
            7 => TxnBody::Error {
                err: g.next_u64() as i32,
            },
            _ => TxnBody::Multi((0..g.below(5)).map(|_| body(g, depth + 1)).collect()),
        }
    }

    /// A random txn with the given zxid.
    pub(crate) fn txn(g: &mut XorShift, zxid: i64) -> Txn {
        Txn {
            zxid,
            time_ms: g.next_u64() as i64 >> 20,
            session: g.next_u64() as i64,
            cxid: g.next_u64() as i32,
            body: body(g, 0),
        }
    }

    /// Random txns with zxids `first..first + n`.
    pub(crate) fn txns(seed: u64, first: i64, n: usize) -> Vec<Txn> {
        let mut g = XorShift::new(seed);
        (0..n).map(|i| txn(&mut g, first + i as i64)).collect()
    }
}
