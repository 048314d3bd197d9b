//! Reading a snapshot file back, checking every byte (see the grammar in `snapshot`).

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use super::{
    ACL_BYTES_MIN, END_MAGIC, FILE_BYTES_MIN, FORMAT_VERSION, MAGIC, NODE_BYTES_MIN,
    NODE_FIXED_BYTES, SESSION_BYTES, Snapshot, SnapshotError, TAG_END, TAG_NODE, TRAILER_BYTES,
    io_err, parse_name,
};
use crate::proto::records::{Acl, Id};
use crate::tree::Node;
use crate::tree::node::Children;

/// Read buffer size; data longer than this is read straight into its own allocation.
const READ_BUF_BYTES: usize = 1 << 20;
/// Elements preallocated for a vector from a count before any element was read.
const PREALLOC_MAX: usize = 64;

/// Reads and verifies the snapshot at `path` (see the module doc for what is checked). Never
/// panics; any invalid content is `SnapshotError::Corrupt`.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, SnapshotError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let snap = read_from(path, &mut file, len)?;
    let name_zxid = path.file_name().and_then(|n| n.to_str()).and_then(parse_name);
    if let Some(z) = name_zxid
        && z != snap.zxid
    {
        let reason = format!("header zxid {:#x} differs from the file name's {z:#x}", snap.zxid);
        return Err(SnapshotError::Corrupt { path: path.to_path_buf(), offset: 12, reason });
    }
    Ok(snap)
}

/// Parses a snapshot of `len` bytes from `src` (positioned anywhere); `path` names it in errors.
pub(super) fn read_from<R: Read + Seek>(
    path: &Path,
    src: R,
    len: u64,
) -> Result<Snapshot, SnapshotError> {
    let mut r = Reader::new(path, src, len);
    if len < FILE_BYTES_MIN {
        return Err(r.corrupt(len, format!("file is only {len} bytes, too short for a snapshot")));
    }
    let mut trailer = [0u8; TRAILER_BYTES as usize];
    let body_end = len - TRAILER_BYTES;
    r.src.seek(SeekFrom::Start(body_end)).map_err(io_err(path))?;
    r.src.read_exact(&mut trailer).map_err(|e| r.read_failed(body_end, e))?;
    r.src.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
    r.end = body_end;
    let (zxid, created_ms) = r.header()?;
    if &trailer[12..] != END_MAGIC {
        return Err(r.corrupt(len - 8, "no end magic: the file is incomplete (torn write?)"));
    }
    let node_count = u64::from_le_bytes(le_array(&trailer[..8]));
    let body = r.body(node_count);
    let crc_stored = u32::from_le_bytes(le_array(&trailer[8..12]));
    let (sessions, nodes) = match body {
        Ok(b) => b,
        Err(SnapshotError::Corrupt { path, offset, mut reason }) => {
            if r.crc_rest().is_some_and(|c| crc32c::crc32c_append(c, &trailer[..8]) != crc_stored) {
                reason.push_str(" (the checksum does not match either: the file is damaged)");
            }
            return Err(SnapshotError::Corrupt { path, offset, reason });
        }
        Err(e) => return Err(e),
    };
    if r.offset() != body_end {
        let extra = body_end - r.offset();
        return Err(r.corrupt(r.offset(), format!("{extra} bytes after the node terminator")));
    }
    let crc = crc32c::crc32c_append(r.crc_so_far(), &trailer[..8]);
    if crc != crc_stored {
        let reason = format!("checksum {crc:#010x} does not match the stored {crc_stored:#010x}");
        return Err(r.corrupt(body_end + 8, reason));
    }
    if node_count != nodes.len() as u64 {
        let reason = format!("trailer says {node_count} nodes, the file has {}", nodes.len());
        return Err(r.corrupt(body_end, reason));
    }
    Ok(Snapshot { zxid, created_ms, sessions, nodes })
}

/// A 64-bit hash of a path, the same in every run.
fn path_hash(path: &str) -> u64 {
    let mut h = DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

/// A slice known to be 4 or 8 bytes as an array (zero-padded if it were not).
fn le_array<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let n = b.len().min(N);
    a[..n].copy_from_slice(&b[..n]);
    a
}

/// A buffered reader that tracks the file offset, refuses to read past `end`, and keeps the
/// crc32c of every byte consumed.
struct Reader<'p, R> {
    path: &'p Path,
    src: R,
    buf: Vec<u8>,
    /// Next byte to consume in `buf`.
    pos: usize,
    /// Valid bytes in `buf`.
    filled: usize,
    /// Bytes of `buf` before this are already in `crc`.
    crc_from: usize,
    crc: u32,
    /// File offset of `buf[0]`.
    base: u64,
    /// Nothing at or after this offset may be consumed (the trailer starts there).
    end: u64,
    /// A read failed, so the position in `src` no longer matches `base + filled`.
    broken: bool,
}

impl<'p, R: Read> Reader<'p, R> {
    fn new(path: &'p Path, src: R, len: u64) -> Self {
        let cap = READ_BUF_BYTES.min(usize::try_from(len).unwrap_or(READ_BUF_BYTES));
        Reader {
            path,
            src,
            buf: vec![0; cap],
            pos: 0,
            filled: 0,
            crc_from: 0,
            crc: 0,
            base: 0,
            end: 0,
            broken: false,
        }
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn left(&self) -> u64 {
        self.end.saturating_sub(self.offset())
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> SnapshotError {
        SnapshotError::Corrupt { path: self.path.to_path_buf(), offset, reason: reason.into() }
    }

    /// A read error: an early end of file (the file shrank) is corruption, the rest is I/O.
    fn read_failed(&self, offset: u64, e: io::Error) -> SnapshotError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.corrupt(offset, "the file ended early (did it shrink while being read?)")
        } else {
            SnapshotError::Io { path: self.path.to_path_buf(), source: e }
        }
    }

    /// Fails unless `n` more bytes may be consumed.
    fn check_left(&self, n: u64, what: &str) -> Result<(), SnapshotError> {
        if n > self.left() {
            let left = self.left();
            return Err(self.corrupt(self.offset(), format!("{what} needs {n} bytes, {left} left")));
        }
        Ok(())
    }

    /// Folds the consumed bytes of `buf` into the crc.
    fn crc_consumed(&mut self) {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf[self.crc_from..self.pos]);
        self.crc_from = self.pos;
    }

    /// The crc of everything consumed so far.
    fn crc_so_far(&mut self) -> u32 {
        self.crc_consumed();
        self.crc
    }

    /// Makes at least `n` (at most the buffer size) bytes available at `pos`.
    fn fill(&mut self, n: usize) -> Result<(), SnapshotError> {
        self.crc_consumed();
        self.buf.copy_within(self.pos..self.filled, 0);
        self.filled -= self.pos;
        self.base += self.pos as u64;
        self.pos = 0;
        self.crc_from = 0;
        while self.filled < n {
            match self.src.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.broken = true;
                    let e = io::Error::from(io::ErrorKind::UnexpectedEof);
                    return Err(self.read_failed(self.base + self.filled as u64, e));
                }
                Ok(k) => self.filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.broken = true;
                    return Err(self.read_failed(self.offset(), e));
                }
            }
        }
        Ok(())
    }

    /// Consumes `n` bytes (`n` at most the buffer size) and returns them.
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], SnapshotError> {
        self.check_left(n as u64, what)?;
        if n > self.buf.len() {
            return Err(self.corrupt(self.offset(), format!("{what}: {n} bytes is too long")));
        }
        if self.filled - self.pos < n {
            self.fill(n)?;
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.buf[start..start + n])
    }

    fn u8(&mut self, what: &str) -> Result<u8, SnapshotError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(le_array(self.take(4, what)?)))
    }

    /// A `str`.
    fn string(&mut self, what: &str) -> Result<String, SnapshotError> {
        let at = self.offset();
        let len = self.u32(what)? as usize;
        self.check_left(len as u64, what)?;
        if len > self.buf.len() {
            let b = self.long_bytes(len)?;
            return String::from_utf8(b)
                .map_err(|_| self.corrupt(at, format!("{what}: bad UTF-8")));
        }
        let b = self.take(len, what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(self.corrupt(at, format!("{what}: bad UTF-8"))),
        }
    }

    /// A `bytes`; `empty` is shared by every empty one.
    fn data(&mut self, empty: &Arc<[u8]>) -> Result<Arc<[u8]>, SnapshotError> {
        let len = self.u32("data length")?;
        if len == super::NULL_DATA_LEN {
            return Ok(crate::tree::node::null_data());
        }
        let len = len as usize;
        self.check_left(len as u64, "data")?;
        if len == 0 {
            Ok(empty.clone())
        } else if len <= self.buf.len() {
            Ok(Arc::from(self.take(len, "data")?))
        } else {
            Ok(Arc::from(self.long_bytes(len)?))
        }
    }

    /// Consumes `n` bytes longer than the buffer into their own vector (`check_left` done).
    fn long_bytes(&mut self, n: usize) -> Result<Vec<u8>, SnapshotError> {
        let mut v = Vec::with_capacity(n);
        v.extend_from_slice(&self.buf[self.pos..self.filled]);
        self.pos = self.filled;
        self.crc_consumed();
        let have = v.len();
        v.resize(n, 0);
        let at = self.base + self.filled as u64;
        if let Err(e) = self.src.read_exact(&mut v[have..]) {
            self.broken = true;
            return Err(self.read_failed(at, e));
        }
        self.crc = crc32c::crc32c_append(self.crc, &v[have..]);
        self.base = at + (n - have) as u64;
        self.pos = 0;
        self.filled = 0;
        self.crc_from = 0;
        Ok(v)
    }

    /// The crc of everything up to `end`, for a diagnosis after a structural error; `None` if
    /// the rest cannot be read.
    fn crc_rest(&mut self) -> Option<u32> {
        if self.broken {
            return None;
        }
        let rest = usize::try_from(self.end.checked_sub(self.base)?).ok()?;
        let upto = rest.min(self.filled);
        let mut crc = crc32c::crc32c_append(self.crc, self.buf.get(self.crc_from..upto)?);
        let mut left = (rest - upto) as u64;
        while left > 0 {
            let want = self.buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let k = match self.src.read(&mut self.buf[..want]) {
                Ok(0) | Err(_) => return None,
                Ok(k) => k,
            };
            crc = crc32c::crc32c_append(crc, &self.buf[..k]);
            left -= k as u64;
        }
        Some(crc)
    }

    /// The header: magic, version, zxid, created_ms.
    fn header(&mut self) -> Result<(i64, i64), SnapshotError> {
        if self.take(8, "magic")? != MAGIC {
            return Err(self.corrupt(0, "bad magic: not a zkr snapshot file"));
        }
        let version = self.u32("format version")?;
        if version != FORMAT_VERSION {
            return Err(self.corrupt(8, format!("unsupported format version {version}")));
        }
        let b = self.take(16, "header")?;
        let zxid = i64::from_le_bytes(le_array(&b[..8]));
        let created_ms = i64::from_le_bytes(le_array(&b[8..]));
        Ok((zxid, created_ms))
    }

    /// Sessions and nodes, up to and including the terminator.
    #[allow(clippy::type_complexity)]
    fn body(
        &mut self,
        node_count: u64,
    ) -> Result<(Vec<(i64, i32)>, Vec<(String, Node)>), SnapshotError> {
        let sessions = self.sessions()?;
        // The trailer's count is untrusted: preallocate no more than the bytes left could hold.
        let cap = node_count.min(self.left() / NODE_BYTES_MIN);
        let mut nodes: Vec<(String, Node)> = Vec::with_capacity(cap as usize);
        let mut hashes: Vec<(u64, usize)> = Vec::with_capacity(cap as usize);
        let mut offsets: Vec<u64> = Vec::with_capacity(cap as usize);
        let mut acls: Vec<Arc<[Acl]>> = Vec::new();
        let empty: Arc<[u8]> = Arc::from(&[][..]);
        loop {
            let at = self.offset();
            match self.u8("node tag")? {
                TAG_END => {
                    self.check_duplicates(&nodes, hashes, &offsets)?;
                    return Ok((sessions, nodes));
                }
                TAG_NODE => {}
                t => return Err(self.corrupt(at, format!("unknown tag {t:#04x}"))),
            }
            let node = self.node(&mut acls, &empty)?;
            hashes.push((path_hash(&node.0), nodes.len()));
            offsets.push(at);
            nodes.push(node);
        }
    }

    /// Fails if two nodes have the same path. `hashes` holds (path hash, node index) and
    /// `offsets` each node's offset. Sorting the hashes (sequential work, unlike probing a hash
    /// table of a million paths, which measured 2-5x slower) puts equal paths in runs of equal
    /// hashes, which are compared by path.
    fn check_duplicates(
        &self,
        nodes: &[(String, Node)],
        mut hashes: Vec<(u64, usize)>,
        offsets: &[u64],
    ) -> Result<(), SnapshotError> {
        hashes.sort_unstable();
        let path = |i: usize| nodes.get(i).map_or("", |(p, _)| p.as_str());
        for run in hashes.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1) {
            let mut idx: Vec<usize> = run.iter().map(|&(_, i)| i).collect();
            idx.sort_unstable_by(|&a, &b| path(a).cmp(path(b)).then(a.cmp(&b)));
            if let Some(w) = idx.windows(2).find(|w| path(w[0]) == path(w[1])) {
                let first = offsets.get(w[0]).copied().unwrap_or(0);
                let at = offsets.get(w[1]).copied().unwrap_or(0);
                let reason = format!("duplicate path {:?} (first at offset {first})", path(w[1]));
                return Err(self.corrupt(at, reason));
            }
        }
        Ok(())
    }

    fn sessions(&mut self) -> Result<Vec<(i64, i32)>, SnapshotError> {
        let count = self.u32("session count")?;
        self.check_left(u64::from(count) * SESSION_BYTES, "sessions")?;
        let first = self.offset();
        let mut sessions = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let b = self.take(SESSION_BYTES as usize, "session")?;
            let id = i64::from_le_bytes(le_array(&b[..8]));
            sessions.push((id, i32::from_le_bytes(le_array(&b[8..]))));
        }
        let mut ids: Vec<(i64, usize)> =
            sessions.iter().enumerate().map(|(i, s)| (s.0, i)).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0].0 == w[1].0) {
            let at = first + w[1].1 as u64 * SESSION_BYTES;
            return Err(self.corrupt(at, format!("duplicate session {:#x}", w[1].0)));
        }
        Ok(sessions)
    }

    /// One node after its tag.
    fn node(
        &mut self,
        acls: &mut Vec<Arc<[Acl]>>,
        empty: &Arc<[u8]>,
    ) -> Result<(String, Node), SnapshotError> {
        let at = self.offset();
        let path = self.string("path")?;
        if !path.starts_with('/') {
            return Err(self.corrupt(at, format!("path {path:?} does not start with '/'")));
        }
        let b = self.take(NODE_FIXED_BYTES, "node stat")?;
        let l = |i: usize| i64::from_le_bytes(le_array(&b[i..i + 8]));
        let w = |i: usize| i32::from_le_bytes(le_array(&b[i..i + 4]));
        let (czxid, mzxid, pzxid, ctime, mtime) = (l(0), l(8), l(16), l(24), l(32));
        let (version, cversion, aversion, ephemeral_owner) = (w(40), w(44), w(48), l(52));
        let acl = self.acl(acls)?;
        let data = self.data(empty)?;
        let children = Children::new();
        let node = Node {
            czxid,
            mzxid,
            pzxid,
            ctime,
            mtime,
            version,
            cversion,
            aversion,
            ephemeral_owner,
            data,
            acl,
            children,
        };
        Ok((path, node))
    }

    /// An ACL reference, and the list it defines if it is the next index.
    fn acl(&mut self, acls: &mut Vec<Arc<[Acl]>>) -> Result<Arc<[Acl]>, SnapshotError> {
        let at = self.offset();
        let index = self.u32("ACL index")? as usize;
        if let Some(list) = acls.get(index) {
            return Ok(list.clone());
        }
        if index != acls.len() {
            let reason = format!("ACL index {index} but only {} lists defined", acls.len());
            return Err(self.corrupt(at, reason));
        }
        let count = self.u32("ACL count")?;
        self.check_left(u64::from(count) * ACL_BYTES_MIN, "ACL list")?;
        let mut list = Vec::with_capacity((count as usize).min(PREALLOC_MAX));
        for _ in 0..count {
            let perms = i32::from_le_bytes(le_array(self.take(4, "ACL perms")?));
            let scheme = self.string("ACL scheme")?;
            let id = self.string("ACL id")?;
            list.push(Acl { perms, id: Id { scheme, id } });
        }
        let list: Arc<[Acl]> = list.into();
        acls.push(list.clone());
        Ok(list)
    }
}
