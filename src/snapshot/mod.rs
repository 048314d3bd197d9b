//! Snapshot files: a fuzzy image of the znode tree and the session table, written in the
//! background while writes go on and loaded at startup before the log is replayed.
//!
//! Owns: the on-disk format below; writing a snapshot atomically (temp file, fsync, rename,
//! fsync of the directory); reading one back with every byte checked (`read`); listing and
//! purging snapshot files; dumping one as text or JSON (`dump`, like ZooKeeper's
//! `zkSnapShotToolkit`).
//!
//! Must not do: glommio or async I/O (the server calls this from a blocking thread; plain
//! `std::fs` only); read a clock (the caller passes `created_ms`, from `server::clock`); decide
//! recovery policy (which snapshot to load, which log segments a purge makes unneeded); know
//! tree invariants beyond the format (the caller rebuilds children with `DataTree::restore`).
//!
//! # Fuzzy snapshots
//!
//! A snapshot named for zxid Z is begun after every txn up to Z was applied, and its nodes are
//! read while later txns are applied, so a node may already reflect a txn after Z, or be
//! missing because a later txn deleted it. Replaying the log from Z + 1 over it gives the exact
//! tree, as in ZooKeeper.
//!
//! # Files
//!
//! `<dataDir>/version-2/zkrsnap.<zxid>`, the zxid as 16 lowercase hex digits so that names sort
//! like zxids. A snapshot is written as `zkrsnap.tmp.<zxid>.<pid>.<n>` and renamed only after an
//! fsync, so a crash leaves at most a temp file: `list_snapshots` ignores those and
//! `remove_temp_files` deletes them (call it at startup, when no snapshot is being written).
//!
//! # Grammar (every integer little-endian, as in the log)
//!
//! ```text
//! file     = header sessions nodes trailer
//! header   = "ZKRSNAP1" version:u32 zxid:i64 created_ms:i64       version = 1; 28 bytes
//! sessions = count:u32 { session_id:i64 timeout_ms:i32 }            count times
//! nodes    = { 0x01 node } 0x00                                     count not known upfront
//! node     = path:str czxid:i64 mzxid:i64 pzxid:i64 ctime:i64 mtime:i64
//!            version:i32 cversion:i32 aversion:i32 ephemeral_owner:i64 acl data:bytes
//! acl      = index:u32 [ acl_list ]       the list follows iff index = number of lists defined
//!                                         so far (it defines that index); else index < that
//! acl_list = count:u32 { perms:i32 scheme:str id:str }              count times
//! str      = len:u32, len bytes of UTF-8
//! bytes    = len:u32, len bytes
//! trailer  = node_count:u64 crc:u32 "ZKRSNEND"                      20 bytes
//! ```
//!
//! `crc` is crc32c over every byte before it (header through `node_count`). `cversion` is what
//! `Node` stores (child creates), not the client-visible value; `ephemeral_owner` is the raw
//! ZooKeeper encoding (0, a session id, `i64::MIN` for containers, `0xff << 56 | ttl` for TTL
//! nodes). ACL lists are interned: each distinct list is written once, where it is first used,
//! and later nodes refer to it by index, so a tree where most nodes share a few lists pays four
//! bytes a node for them; the reader hands out one shared `Arc<[Acl]>` per list. The ACL comes
//! before the data so that a node's fixed-size part is encoded in one piece.
//!
//! # Reading untrusted bytes
//!
//! `read_snapshot` checks the header magic and version and the trailer magic (a torn write has
//! none), then parses while it computes the crc. Every length is checked against the bytes left
//! before the trailer before anything is allocated from it. It refuses unknown tags, ACL indexes
//! ahead of the table, paths not starting with `/`, duplicate paths and session ids, bytes after
//! the terminator, a node count that differs from the trailer's, a crc mismatch, and a header
//! zxid that differs from the file name's. Every failure is `SnapshotError::Corrupt` with the
//! offset where it was found (a structural failure in a file whose crc does not match either
//! says so); nothing panics.

mod dump;
mod read;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use dump::dump;
pub use read::read_snapshot;

use crate::proto::records::Acl;
use crate::tree::Node;

/// Format version written in the header; the only one `read_snapshot` accepts.
pub const FORMAT_VERSION: u32 = 1;
/// First bytes of every snapshot file.
const MAGIC: &[u8; 8] = b"ZKRSNAP1";
/// Last bytes of every complete snapshot file.
const END_MAGIC: &[u8; 8] = b"ZKRSNEND";
/// magic, version, zxid, created_ms.
const HEADER_BYTES: u64 = 8 + 4 + 8 + 8;
/// node_count, crc, end magic.
const TRAILER_BYTES: u64 = 8 + 4 + 8;
/// The smallest file: header, no sessions, no nodes, trailer.
const FILE_BYTES_MIN: u64 = HEADER_BYTES + 4 + 1 + TRAILER_BYTES;
/// Tag before each node.
const TAG_NODE: u8 = 1;
/// Tag ending the node section.
const TAG_END: u8 = 0;
/// czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, ephemeral_owner.
const NODE_FIXED_BYTES: usize = 5 * 8 + 3 * 4 + 8;
/// Smallest encoded node with its tag: a one-byte path, an ACL reference and empty data.
const NODE_BYTES_MIN: u64 = 1 + 4 + 1 + NODE_FIXED_BYTES as u64 + 4 + 4;
/// One session entry.
const SESSION_BYTES: u64 = 8 + 4;
/// Smallest encoded ACL entry: perms and two empty strings.
const ACL_BYTES_MIN: u64 = 4 + 4 + 4;
/// File name prefix of snapshots.
const NAME_PREFIX: &str = "zkrsnap.";
/// File name prefix of snapshots being written.
const TEMP_PREFIX: &str = "zkrsnap.tmp.";
/// Write buffer size.
const WRITE_BUF_BYTES: usize = 1 << 20;

/// What `write_snapshot` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Last zxid applied when the snapshot began (the log replays from `zxid + 1`).
    pub zxid: i64,
    /// The snapshot file.
    pub path: PathBuf,
    /// Nodes written.
    pub nodes: u64,
    /// Sessions written.
    pub sessions: u64,
    /// File size.
    pub bytes: u64,
}

/// A snapshot as read back.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Last zxid applied when the snapshot began.
    pub zxid: i64,
    /// Wall-clock time the writer was given, ms since the epoch (informational).
    pub created_ms: i64,
    /// (session id, timeout ms), in file order.
    pub sessions: Vec<(i64, i32)>,
    /// (path, node) in file order; `Node::children` is empty (the caller rebuilds it).
    pub nodes: Vec<(String, Node)>,
}

/// Why a snapshot could not be written, read or listed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The operating system refused an operation on `path`.
    #[error("snapshot I/O error on {}: {source}", .path.display())]
    Io {
        /// File or directory the operation was on.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file is not a valid snapshot.
    #[error("corrupt snapshot {} at offset {offset}: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset where the problem was found.
        offset: u64,
        /// What was wrong there.
        reason: String,
    },
}

/// A closure turning an `io::Error` into `SnapshotError::Io` on `path`.
fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io { path: path.to_path_buf(), source }
}

/// File name of the snapshot taken at `zxid`: `zkrsnap.` and 16 lowercase hex digits.
pub fn snapshot_name(zxid: i64) -> String {
    format!("{NAME_PREFIX}{:016x}", zxid as u64)
}

/// The zxid in a snapshot file name, if `name` is one (temp files and others are not).
fn parse_name(name: &str) -> Option<i64> {
    let hex = name.strip_prefix(NAME_PREFIX)?;
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|z| z as i64)
}

/// Snapshot files in `dir`, sorted by zxid ascending. Temp files and other names are ignored;
/// a missing directory has none.
pub fn list_snapshots(dir: &Path) -> Result<Vec<(i64, PathBuf)>, SnapshotError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        if let Some(zxid) = entry.file_name().to_str().and_then(parse_name) {
            found.push((zxid, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Deletes the temp files a crashed writer left in `dir`; returns how many. Only call it when
/// no snapshot is being written into `dir` (e.g. at startup).
pub fn remove_temp_files(dir: &Path) -> Result<usize, SnapshotError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let is_temp = entry.file_name().to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX));
        if is_temp {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_err(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Deletes all but the newest `retain` complete snapshots in `snap_dir` and returns the zxid of
/// the oldest one kept (logs before it are no longer needed), or `None` if there are none.
///
/// As ZooKeeper's `PurgeTxnLog`, it counts only snapshots that look complete (size and trailer
/// magic; the crc is not read), and deletes only snapshots older than the oldest one kept: an
/// incomplete snapshot newer than that stays for inspection. `retain` 0 is taken as 1, so the
/// newest complete snapshot is never deleted.
pub fn purge(snap_dir: &Path, retain: usize) -> Result<Option<i64>, SnapshotError> {
    let all = list_snapshots(snap_dir)?;
    let mut kept = 0;
    let mut oldest_kept = None;
    for (zxid, path) in all.iter().rev() {
        if kept == retain.max(1) {
            break;
        }
        if looks_complete(path)? {
            kept += 1;
            oldest_kept = Some(*zxid);
        }
    }
    let Some(cutoff) = oldest_kept else {
        return Ok(None);
    };
    for (zxid, path) in &all {
        if *zxid < cutoff {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(path)(e)),
            }
        }
    }
    Ok(Some(cutoff))
}

/// True if the file is long enough and ends with the trailer magic (a torn write does not).
fn looks_complete(path: &Path) -> Result<bool, SnapshotError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(path)(e)),
    };
    let len = file.metadata().map_err(io_err(path))?.len();
    if len < FILE_BYTES_MIN {
        return Ok(false);
    }
    let mut end = [0u8; 8];
    file.seek(SeekFrom::Start(len - 8)).map_err(io_err(path))?;
    file.read_exact(&mut end).map_err(io_err(path))?;
    Ok(&end == END_MAGIC)
}

/// Writes the snapshot for `zxid` into `dir` (created if missing): a temp file, fsynced, renamed
/// to `snapshot_name(zxid)` (replacing one of that name), then the directory fsynced. On error
/// the temp file is removed. `created_ms` is only recorded (the caller reads the clock).
///
/// `nodes` may be a live, concurrently changing tree (see the module doc on fuzzy snapshots).
/// A path or data longer than `u32::MAX` bytes, or more than `u32::MAX` sessions, fail with
/// `io::ErrorKind::InvalidInput`.
pub fn write_snapshot(
    dir: &Path,
    zxid: i64,
    created_ms: i64,
    sessions: &[(i64, i32)],
    nodes: impl Iterator<Item = (String, Arc<Node>)>,
) -> Result<SnapshotInfo, SnapshotError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{TEMP_PREFIX}{:016x}.{}.{seq}", zxid as u64, std::process::id()));
    let path = dir.join(snapshot_name(zxid));
    let written = write_file(&tmp, zxid, created_ms, sessions, nodes)
        .map_err(io_err(&tmp))
        .and_then(|w| fs::rename(&tmp, &path).map(|()| w).map_err(io_err(&path)));
    let (node_count, bytes) = match written {
        Ok(w) => w,
        Err(e) => {
            // Best effort: the temp file is garbage either way, and the first error matters.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
    Ok(SnapshotInfo { zxid, path, nodes: node_count, sessions: sessions.len() as u64, bytes })
}

/// Writes and fsyncs the whole file at `tmp`; returns (nodes, bytes).
fn write_file(
    tmp: &Path,
    zxid: i64,
    created_ms: i64,
    sessions: &[(i64, i32)],
    nodes: impl Iterator<Item = (String, Arc<Node>)>,
) -> io::Result<(u64, u64)> {
    // Truncate rather than create_new: a temp file of this name can only be a stale one, left by
    // a crashed process that had the same pid (pid 1 in a container) and was never cleaned up.
    let file = File::options().write(true).create(true).truncate(true).open(tmp)?;
    let mut w =
        CrcWriter { out: BufWriter::with_capacity(WRITE_BUF_BYTES, file), crc: 0, bytes: 0 };
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    buf.extend_from_slice(&zxid.to_le_bytes());
    buf.extend_from_slice(&created_ms.to_le_bytes());
    put_len(&mut buf, sessions.len())?;
    w.put(&buf)?;
    for &(id, timeout_ms) in sessions {
        buf.clear();
        buf.extend_from_slice(&id.to_le_bytes());
        buf.extend_from_slice(&timeout_ms.to_le_bytes());
        w.put(&buf)?;
    }
    let mut acls = AclInterner::default();
    let mut node_count: u64 = 0;
    for (path, node) in nodes {
        buf.clear();
        buf.push(TAG_NODE);
        put_bytes(&mut buf, path.as_bytes())?;
        encode_stat(&node, &mut buf);
        acls.encode(&node.acl, &mut buf)?;
        if crate::tree::node::is_null_data(&node.data) {
            buf.extend_from_slice(&NULL_DATA_LEN.to_le_bytes());
        } else {
            put_len(&mut buf, node.data.len())?;
        }
        w.put(&buf)?;
        w.put(&node.data)?;
        node_count += 1;
    }
    buf.clear();
    buf.push(TAG_END);
    buf.extend_from_slice(&node_count.to_le_bytes());
    w.put(&buf)?;
    let crc = w.crc;
    buf.clear();
    buf.extend_from_slice(&crc.to_le_bytes());
    buf.extend_from_slice(END_MAGIC);
    w.put(&buf)?;
    let file = w.out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((node_count, w.bytes))
}

/// A buffered file writer that keeps the crc32c and count of everything written.
struct CrcWriter {
    out: BufWriter<File>,
    crc: u32,
    bytes: u64,
}

impl CrcWriter {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, b);
        self.bytes += b.len() as u64;
        self.out.write_all(b)
    }
}

/// Appends the fixed-size part of a node.
fn encode_stat(n: &Node, buf: &mut Vec<u8>) {
    for v in [n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime] {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    for v in [n.version, n.cversion, n.aversion] {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    buf.extend_from_slice(&n.ephemeral_owner.to_le_bytes());
}

/// Appends a u32 length, refusing one that does not fit.
/// Data length that marks null data (as opposed to empty).
pub(crate) const NULL_DATA_LEN: u32 = u32::MAX;

fn put_len(buf: &mut Vec<u8>, len: usize) -> io::Result<()> {
    let len = u32::try_from(len).ok().filter(|l| *l != NULL_DATA_LEN).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("length {len} exceeds u32"))
    })?;
    buf.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Appends a `str` or `bytes`.
fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) -> io::Result<()> {
    put_len(buf, b.len())?;
    buf.extend_from_slice(b);
    Ok(())
}

/// An ACL list compared and hashed by value.
struct AclKey(Arc<[Acl]>);

impl Hash for AclKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_usize(self.0.len());
        for a in self.0.iter() {
            a.perms.hash(h);
            a.id.scheme.hash(h);
            a.id.id.hash(h);
        }
    }
}

impl PartialEq for AclKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for AclKey {}

/// The writer's ACL table: distinct lists (by value) to their index.
#[derive(Default)]
struct AclInterner {
    index: HashMap<AclKey, u32>,
    /// The list last seen and its index: nodes that share an `Arc` skip the hashing.
    last: Option<(Arc<[Acl]>, u32)>,
}

impl AclInterner {
    /// Appends the reference to `acl`, and the list itself if this is its first use.
    fn encode(&mut self, acl: &Arc<[Acl]>, buf: &mut Vec<u8>) -> io::Result<()> {
        if let Some((last, i)) = &self.last
            && Arc::ptr_eq(last, acl)
        {
            buf.extend_from_slice(&i.to_le_bytes());
            return Ok(());
        }
        let defined = self.index.len();
        let i = match self.index.get(&AclKey(acl.clone())) {
            Some(&i) => {
                buf.extend_from_slice(&i.to_le_bytes());
                i
            }
            None => {
                put_len(buf, defined)?;
                put_len(buf, acl.len())?;
                for a in acl.iter() {
                    buf.extend_from_slice(&a.perms.to_le_bytes());
                    put_bytes(buf, a.id.scheme.as_bytes())?;
                    put_bytes(buf, a.id.id.as_bytes())?;
                }
                self.index.insert(AclKey(acl.clone()), defined as u32);
                defined as u32
            }
        };
        self.last = Some((acl.clone(), i));
        Ok(())
    }
}
