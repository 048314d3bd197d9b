//! Segment files: their names, the 4096-byte segment header, listing them, and making new ones
//! durably (zero-filled under a temp name, then renamed into place).
//!
//! Owns: the layout of the segment directory and every create, rename, removal and directory
//! sync of a segment. Must not do: parse or write records (`record`, `writer`) or judge a
//! log's contents (`recover`). Blocking I/O only; callers keep it off executors.
//!
//! Every function takes `dir`, the directory that holds the segments: `<dataLogDir>/version-2`
//! (the caller appends `version-2`, as ZooKeeper's `FileTxnSnapLog` does).
//!
//! ```text
//! name          = "zkrlog." 16 lowercase hex digits of the first zxid  (sorts by zxid)
//! temp name     = "zkrlog.tmp." anything        (a segment being made; never a log file)
//! SegmentHeader = magic "ZKRLOGv1"   bytes  0..8
//!               | version u32 = 1    bytes  8..12
//!               | header_bytes u32   bytes 12..16   = 4096, where the first record starts
//!               | segment_bytes u64  bytes 16..24   file size made at creation
//!               | first_zxid i64     bytes 24..32   = the zxid in the name
//!               | prev_zxid i64      bytes 32..40   the log continues right after this zxid
//!               | crc u32            bytes 40..44   crc32c(bytes 0..40)
//!               | zeros              bytes 44..4096
//! ```
//!
//! A segment appears under its final name only once it is fully zero-filled and its header is
//! durable, so recovery never sees a half-made segment under a real name (a leftover temp file
//! is removed by recovery). The zero fill is written, not `set_len` alone: block allocation
//! then stays out of the appends' `fdatasync`, and an all-zero record header reliably marks
//! the end of the log.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zerocopy::little_endian::{I64, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::LogError;

/// Default size of a segment file. A record that does not fit in what is left of the active
/// segment starts the next one; a single record bigger than this gets a segment of its own,
/// sized to fit.
pub const SEGMENT_BYTES_DEFAULT: u64 = 64 << 20;

/// Bytes reserved for the segment header; the first record starts here.
pub const SEGMENT_HEADER_BYTES: u64 = 4096;

/// Smallest segment size accepted: the header and one page of records.
pub const SEGMENT_BYTES_MIN: u64 = 2 * SEGMENT_HEADER_BYTES;
const _: () = assert!(SEGMENT_BYTES_DEFAULT >= SEGMENT_BYTES_MIN);

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"ZKRLOGv1";

/// The segment format this code writes and reads.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;

const NAME_PREFIX: &str = "zkrlog.";
const TEMP_PREFIX: &str = "zkrlog.tmp.";

/// Zero fill is written in chunks of this size.
const ZERO_CHUNK_BYTES: usize = 1 << 20;
/// Zeros aligned for `O_DIRECT` (which wants the buffer, offset and length aligned to the
/// device's block; 4 KiB covers the devices in use).
#[repr(align(4096))]
struct AlignedZeros([u8; ZERO_CHUNK_BYTES]);
static ZEROS_ALIGNED: AlignedZeros = AlignedZeros([0; ZERO_CHUNK_BYTES]);
static ZEROS: &[u8; ZERO_CHUNK_BYTES] = &ZEROS_ALIGNED.0;
const DIRECT_ALIGN: u64 = 4096;

/// The header at offset 0 of every segment file.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct SegmentHeader {
    magic: [u8; 8],
    version: U32,
    header_bytes: U32,
    segment_bytes: U64,
    first_zxid: I64,
    prev_zxid: I64,
    crc: U32,
}

const CRC_COVERED_BYTES: usize = 40;
const _: () = assert!(std::mem::size_of::<SegmentHeader>() == CRC_COVERED_BYTES + 4);
const _: () = assert!(std::mem::size_of::<SegmentHeader>() as u64 <= SEGMENT_HEADER_BYTES);

impl SegmentHeader {
    /// A header for a new segment.
    pub fn new(first_zxid: i64, prev_zxid: i64, segment_bytes: u64) -> SegmentHeader {
        let mut header = SegmentHeader {
            magic: SEGMENT_MAGIC,
            version: U32::new(SEGMENT_FORMAT_VERSION),
            header_bytes: U32::new(SEGMENT_HEADER_BYTES as u32),
            segment_bytes: U64::new(segment_bytes),
            first_zxid: I64::new(first_zxid),
            prev_zxid: I64::new(prev_zxid),
            crc: U32::new(0),
        };
        header.crc = U32::new(header.compute_crc());
        header
    }

    fn compute_crc(&self) -> u32 {
        crc32c::crc32c(&self.as_bytes()[..CRC_COVERED_BYTES])
    }

    /// Reads and checks the header at the start of `buf` (a segment's first bytes). The error
    /// says what is wrong; the header always sits at offset 0.
    pub fn parse(buf: &[u8]) -> Result<SegmentHeader, String> {
        let Ok((header, _)) = SegmentHeader::read_from_prefix(buf) else {
            return Err(format!("segment header cut short ({} bytes)", buf.len()));
        };
        if header.magic != SEGMENT_MAGIC {
            return Err("bad segment magic".to_owned());
        }
        if header.compute_crc() != header.crc.get() {
            return Err("segment header crc mismatch".to_owned());
        }
        if header.version.get() != SEGMENT_FORMAT_VERSION {
            return Err(format!(
                "unknown segment format version {}",
                header.version.get()
            ));
        }
        if u64::from(header.header_bytes.get()) != SEGMENT_HEADER_BYTES {
            return Err(format!(
                "unexpected header size {}",
                header.header_bytes.get()
            ));
        }
        if header.first_zxid() <= header.prev_zxid() {
            return Err(format!(
                "first zxid {:#x} not after prev zxid {:#x}",
                header.first_zxid(),
                header.prev_zxid()
            ));
        }
        Ok(header)
    }

    /// zxid of the segment's first record (also in its name).
    pub fn first_zxid(&self) -> i64 {
        self.first_zxid.get()
    }

    /// The log continues right after this zxid: the last record of the segment before, or a
    /// zxid covered by a snapshot.
    pub fn prev_zxid(&self) -> i64 {
        self.prev_zxid.get()
    }

    /// File size the segment was made with.
    pub fn segment_bytes(&self) -> u64 {
        self.segment_bytes.get()
    }
}

/// File name of the segment whose first record has `first_zxid`.
pub fn segment_name(first_zxid: i64) -> String {
    format!("{NAME_PREFIX}{:016x}", first_zxid as u64)
}

/// The first zxid in a segment file name, or `None` if it is not one (temp files included).
pub fn parse_segment_name(name: &str) -> Option<i64> {
    let hex = name.strip_prefix(NAME_PREFIX)?;
    if hex.len() != 16 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
}

fn dir_entries(dir: &Path) -> Result<Vec<String>, LogError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LogError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io(dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// The segments of the log in `dir`, sorted by first zxid. Files whose names are not segment
/// names (temp files among them) are left out; a missing directory is an empty log.
pub fn list_segments(dir: &Path) -> Result<Vec<(i64, PathBuf)>, LogError> {
    let mut segments: Vec<(i64, PathBuf)> = dir_entries(dir)?
        .into_iter()
        .filter_map(|name| parse_segment_name(&name).map(|zxid| (zxid, dir.join(name))))
        .collect();
    segments.sort_by_key(|(zxid, _)| *zxid);
    Ok(segments)
}

/// Leftover temp files (segments whose making was interrupted).
pub fn list_temp_files(dir: &Path) -> Result<Vec<PathBuf>, LogError> {
    Ok(dir_entries(dir)?
        .into_iter()
        .filter(|name| name.starts_with(TEMP_PREFIX))
        .map(|name| dir.join(name))
        .collect())
}

/// Removes leftover temp files. Only for startup: a spare being made at the same time would
/// be removed too.
pub fn remove_temp_files(dir: &Path) -> Result<usize, LogError> {
    let temps = list_temp_files(dir)?;
    for path in &temps {
        std::fs::remove_file(path).map_err(|e| LogError::io(path, e))?;
    }
    if !temps.is_empty() {
        sync_dir(dir)?;
    }
    Ok(temps.len())
}

/// Makes `dir` (and its parents) if it is missing, durably: the parent is synced so the new
/// name survives a crash.
pub fn ensure_dir(dir: &Path) -> Result<(), LogError> {
    if !dir.is_dir() {
        std::fs::create_dir_all(dir).map_err(|e| LogError::io(dir, e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// `fsync` on a directory, so the names in it (creates, renames, removes) are durable.
pub fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::io(dir, e))
}

/// Writes zeros over `[from, to)` of `file` with `pwrite`, in 1 MiB chunks. Does not sync.
pub fn write_zeros(file: &File, path: &Path, from: u64, to: u64) -> Result<(), LogError> {
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZERO_CHUNK_BYTES as u64) as usize;
        file.write_all_at(&ZEROS[..n], at)
            .map_err(|e| LogError::io(path, e))?;
        at += n as u64;
    }
    Ok(())
}

/// Writes zeros over `[0, end)` of `path` with `O_DIRECT`; false if the file system refuses
/// (the caller then writes them buffered).
fn direct_zeros(path: &Path, end: u64) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(file) = OpenOptions::new().write(true).custom_flags(libc::O_DIRECT).open(path) else {
        return false;
    };
    let mut at = 0;
    while at < end {
        let n = (end - at).min(ZERO_CHUNK_BYTES as u64) as usize;
        if file.write_all_at(&ZEROS[..n], at).is_err() {
            return false;
        }
        at += n as u64;
    }
    true
}

/// Makes a zero-filled, synced file of `size_bytes` under a temp name in `dir`, ready to
/// become a segment with `install`. It can run on any thread while the writer appends; the
/// writer adopts it with `LogWriter::adopt_spare`.
pub fn preallocate(dir: &Path, size_bytes: u64) -> Result<PathBuf, LogError> {
    static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
    ensure_dir(dir)?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{TEMP_PREFIX}{}.{n}", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| LogError::io(&path, e))?;
    // Zero-fill with O_DIRECT where the filesystem allows it: the writes then leave from this
    // (background, idle-I/O-class) thread at the device's pace, instead of becoming 64 MiB of
    // dirty pages that the kernel's flusher writes back in one burst in front of the log's
    // syncs. The unaligned tail, and filesystems without O_DIRECT, get buffered writes.
    let direct_end = size_bytes & !(DIRECT_ALIGN - 1);
    let direct_done = direct_zeros(&path, direct_end);
    write_zeros(&file, &path, if direct_done { direct_end } else { 0 }, size_bytes)?;
    file.sync_data().map_err(|e| LogError::io(&path, e))?;
    Ok(path)
}

/// Turns a preallocated temp file into the segment for `first_zxid`: writes the header, syncs,
/// renames it into place and syncs the directory. Returns the open file (read and write) and
/// its final path. Refuses to replace an existing segment.
pub fn install(
    dir: &Path,
    temp: &Path,
    first_zxid: i64,
    prev_zxid: i64,
    size_bytes: u64,
) -> Result<(File, PathBuf), LogError> {
    assert!(
        first_zxid > prev_zxid,
        "a segment starts after its prev zxid"
    );
    let path = dir.join(segment_name(first_zxid));
    if path.exists() {
        let e = std::io::Error::new(std::io::ErrorKind::AlreadyExists, "segment exists");
        return Err(LogError::io(path, e));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(temp)
        .map_err(|e| LogError::io(temp, e))?;
    let header = SegmentHeader::new(first_zxid, prev_zxid, size_bytes);
    file.write_all_at(header.as_bytes(), 0)
        .and_then(|()| file.sync_data())
        .map_err(|e| LogError::io(temp, e))?;
    std::fs::rename(temp, &path).map_err(|e| LogError::io(temp, e))?;
    sync_dir(dir)?;
    Ok((file, path))
}

/// Creates the segment for `first_zxid` in `dir`: zero-filled to
/// `size_bytes` under a temp name, header written, synced, renamed into place, directory
/// synced. `prev_zxid` is the zxid the log continues after (see `SegmentHeader`). Returns the
/// file open for reading and writing.
///
/// # Panics
///
/// If `size_bytes` is below `SEGMENT_BYTES_MIN` or `first_zxid <= prev_zxid` (caller bugs).
pub fn create_segment(
    dir: &Path,
    first_zxid: i64,
    prev_zxid: i64,
    size_bytes: u64,
) -> Result<File, LogError> {
    assert!(
        size_bytes >= SEGMENT_BYTES_MIN,
        "segment size below SEGMENT_BYTES_MIN"
    );
    let temp = preallocate(dir, size_bytes)?;
    match install(dir, &temp, first_zxid, prev_zxid, size_bytes) {
        Ok((file, _)) => Ok(file),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Removes the segments a snapshot at `snapshot_zxid` makes unnecessary: every segment whose
/// records all have zxids at or below it (known because the next segment starts at or below
/// `snapshot_zxid + 1`). The newest segment always stays. Oldest first, so a crash midway
/// leaves a log that still starts cleanly; the directory is synced at the end. Returns how
/// many were removed. Safe while the writer appends: it never touches a segment that has no
/// successor, and the active segment is the newest.
pub fn purge_segments(dir: &Path, snapshot_zxid: i64) -> Result<usize, LogError> {
    let segments = list_segments(dir)?;
    let mut removed = 0;
    for pair in segments.windows(2) {
        let [(_, path), (next_first, _)] = pair else {
            break;
        };
        if *next_first > snapshot_zxid.saturating_add(1) {
            break;
        }
        match std::fs::remove_file(path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LogError::io(path, e)),
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::testing::TempDir;

    #[test]
    fn names_sort_by_zxid() {
        assert_eq!(segment_name(1), "zkrlog.0000000000000001");
        assert_eq!(segment_name(0x1_0000_00ab), "zkrlog.00000001000000ab");
        assert_eq!(
            parse_segment_name("zkrlog.00000001000000ab"),
            Some(0x1_0000_00ab)
        );
        assert_eq!(parse_segment_name("zkrlog.00000001000000AB"), None);
        assert_eq!(parse_segment_name("zkrlog.1"), None);
        assert_eq!(parse_segment_name("zkrlog.tmp.1.2"), None);
        assert_eq!(parse_segment_name("log.0000000000000001"), None);
        assert_eq!(parse_segment_name("zkrlog.000000000000000g"), None);
    }

    #[test]
    fn list_ignores_other_files_and_sorts() {
        let tmp = TempDir::new("list");
        let dir = tmp.path().join("version-2");
        assert!(list_segments(&dir).unwrap().is_empty());
        ensure_dir(&dir).unwrap();
        for name in [
            segment_name(0x200000001),
            segment_name(5),
            "zkrlog.tmp.1.0".to_owned(),
            "snapshot.5".to_owned(),
            segment_name(0x10),
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let zxids: Vec<i64> = list_segments(&dir)
            .unwrap()
            .into_iter()
            .map(|(z, _)| z)
            .collect();
        assert_eq!(zxids, [5, 0x10, 0x200000001]);
        assert_eq!(list_temp_files(&dir).unwrap().len(), 1);
        assert_eq!(remove_temp_files(&dir).unwrap(), 1);
        assert!(list_temp_files(&dir).unwrap().is_empty());
    }

    #[test]
    fn create_zero_fills_and_writes_the_header() {
        let tmp = TempDir::new("create");
        let size = 3 * (1 << 20) + 4096;
        drop(create_segment(tmp.path(), 0x10, 0xf, size).unwrap());
        let segments = list_segments(tmp.path()).unwrap();
        assert_eq!(segments.len(), 1);
        let bytes = std::fs::read(&segments[0].1).unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(&bytes[..8], b"ZKRLOGv1");
        let header = SegmentHeader::parse(&bytes).unwrap();
        assert_eq!(header.first_zxid(), 0x10);
        assert_eq!(header.prev_zxid(), 0xf);
        assert_eq!(header.segment_bytes(), size);
        assert!(bytes[44..].iter().all(|&b| b == 0));
        assert!(list_temp_files(tmp.path()).unwrap().is_empty());
        // The same name twice is refused rather than replaced.
        assert!(create_segment(tmp.path(), 0x10, 0xf, SEGMENT_BYTES_MIN).is_err());
        assert!(list_temp_files(tmp.path()).unwrap().is_empty());
    }

    #[test]
    fn damaged_headers_are_refused() {
        let header = SegmentHeader::new(5, 4, SEGMENT_BYTES_MIN);
        let bytes = header.as_bytes().to_vec();
        assert!(SegmentHeader::parse(&bytes).is_ok());
        assert!(SegmentHeader::parse(&bytes[..20]).is_err());
        assert!(SegmentHeader::parse(&[0; 4096]).is_err());
        for byte in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[byte] ^= 0x10;
            assert!(SegmentHeader::parse(&bad).is_err(), "flip in byte {byte}");
        }
        let backwards = SegmentHeader::new(5, 5, SEGMENT_BYTES_MIN);
        assert!(SegmentHeader::parse(backwards.as_bytes()).is_err());
    }

    #[test]
    fn purge_keeps_what_the_snapshot_does_not_cover() {
        let tmp = TempDir::new("purge");
        let dir = tmp.path();
        for (first, prev) in [(1, 0), (10, 9), (20, 19), (30, 29)] {
            drop(create_segment(dir, first, prev, SEGMENT_BYTES_MIN).unwrap());
        }
        let firsts = |dir: &Path| -> Vec<i64> {
            list_segments(dir)
                .unwrap()
                .into_iter()
                .map(|s| s.0)
                .collect()
        };
        assert_eq!(purge_segments(dir, 8).unwrap(), 0);
        assert_eq!(purge_segments(dir, 9).unwrap(), 1);
        assert_eq!(firsts(dir), [10, 20, 30]);
        assert_eq!(purge_segments(dir, 25).unwrap(), 1);
        assert_eq!(firsts(dir), [20, 30]);
        // The newest segment stays whatever the snapshot.
        assert_eq!(purge_segments(dir, 1000).unwrap(), 1);
        assert_eq!(firsts(dir), [30]);
        assert_eq!(purge_segments(dir, 1000).unwrap(), 0);
    }
}
