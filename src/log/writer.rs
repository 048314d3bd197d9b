//! Appending to the log: encode a batch of txns, write it with one `pwrite` per segment it
//! touches, then one `fdatasync` (group commit), rolling to a new segment when one is full.
//!
//! Owns: the active segment, the append offset, the order of writes and syncs that keeps the
//! recovery rules true, and the spare (preallocated) segment. Must not do: glommio or async,
//! read records back, or decide when a batch is cut (the consensus core does). It blocks; the
//! server moves it into `spawn_blocking` and back, so it is `Send` and holds no locks.
//!
//! Write order, and why:
//!
//! 1. Records go to the active segment at its append offset. Bytes after the offset are zero
//!    fill, so a crash mid-write leaves a torn tail that recovery can cut.
//! 2. A record that does not fit in what is left starts a new segment. Before the new segment
//!    is made, the old one is synced: only the last segment may hold a torn write, so any
//!    damage found in an earlier segment is corruption.
//! 3. After the batch, one `fdatasync` of the active segment. `append_txns` returns only then;
//!    only then may the txns be acknowledged.
//!
//! After any error the writer refuses further appends: the state of the tail is unknown, and
//! only recovery (a restart) can tell what reached the disk.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::LogError;
use super::codec::encode_txn;
use super::record::{ParseOutcome, encode_record, parse_record};
use super::recover::Recovered;
use super::segment::{self, SEGMENT_BYTES_MIN, SEGMENT_HEADER_BYTES, SegmentHeader, segment_name};
use crate::txn::Txn;

/// Appends txns to the log in one directory (`<dataLogDir>/version-2`).
#[derive(Debug)]
pub struct LogWriter {
    dir: PathBuf,
    active: Option<Active>,
    /// The zxid the log has reached: its last record, or the snapshot it continues after.
    last_zxid: i64,
    /// The last zxid handed out by `prepare_inline` (or appended): at least `last_zxid`.
    reserved_zxid: i64,
    segment_bytes: u64,
    force_sync: bool,
    /// A zero-filled temp file ready to become the next segment, with its size.
    spare: Option<(PathBuf, u64)>,
    /// Encoded records of the batch being written, and where each one ends in it.
    batch: Vec<u8>,
    record_ends: Vec<usize>,
    payload: Vec<u8>,
    failed: bool,
}

const _: () = {
    const fn send<T: Send>() {}
    send::<LogWriter>();
};

#[derive(Debug)]
struct Active {
    file: File,
    path: PathBuf,
    first_zxid: i64,
    /// Where the next record goes.
    offset: u64,
    /// File size made at creation; records end at or before it.
    capacity: u64,
    /// Written since the last sync.
    dirty: bool,
    /// End of the bytes handed out by `prepare_inline`, written or not: equals `offset` when
    /// no inline write is outstanding.
    reserved: u64,
}

impl Active {
    fn has_records(&self) -> bool {
        self.offset > SEGMENT_HEADER_BYTES
    }

    fn room(&self) -> u64 {
        self.capacity.saturating_sub(self.offset)
    }

    fn inline_outstanding(&self) -> bool {
        self.reserved != self.offset
    }
}

impl LogWriter {
    /// Opens the writer where `recover` left the log: it appends to `recovered.active` if
    /// there is one, and continues after `recovered.last_zxid`. `segment_bytes` is the size of
    /// new segments (`segment::SEGMENT_BYTES_DEFAULT` in production). With `force_sync` false
    /// nothing is synced (ZooKeeper's `forceSync=no`): fast, and not durable.
    ///
    /// # Panics
    ///
    /// If `segment_bytes` is below `SEGMENT_BYTES_MIN`.
    pub fn open(
        dir: &Path,
        recovered: &Recovered,
        segment_bytes: u64,
        force_sync: bool,
    ) -> Result<LogWriter, LogError> {
        assert!(
            segment_bytes >= SEGMENT_BYTES_MIN,
            "segment size below SEGMENT_BYTES_MIN"
        );
        segment::ensure_dir(dir)?;
        let active = match &recovered.active {
            Some((path, offset)) => Some(open_active(path, *offset)?),
            None => None,
        };
        Ok(LogWriter {
            dir: dir.to_owned(),
            active,
            last_zxid: recovered.last_zxid,
            reserved_zxid: recovered.last_zxid,
            segment_bytes,
            force_sync,
            spare: None,
            batch: Vec::new(),
            record_ends: Vec::new(),
            payload: Vec::new(),
            failed: false,
        })
    }

    /// The zxid the log has reached (last appended, or where it continues from).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// The active segment and its append offset, if one is open.
    pub fn active(&self) -> Option<(&Path, u64)> {
        self.active.as_ref().map(|a| (a.path.as_path(), a.offset))
    }

    /// Appends `txns` (zxids strictly increasing, all above `last_zxid`) and makes them
    /// durable: one `pwrite` per segment touched, each full segment synced before the next is
    /// made, then one `fdatasync`. The txns may be acknowledged once this returns `Ok`.
    ///
    /// # Panics
    ///
    /// If the zxids do not increase: the caller assigns them, so that is a bug there.
    pub fn append_txns(&mut self, txns: &[Txn]) -> Result<(), LogError> {
        if self.failed {
            let e = std::io::Error::other("log writer stopped after an earlier error");
            return Err(LogError::io(&self.dir, e));
        }
        if self.active.as_ref().is_some_and(Active::inline_outstanding) {
            let e = std::io::Error::other("append_txns with inline writes outstanding");
            return Err(LogError::io(&self.dir, e));
        }
        if txns.is_empty() {
            return Ok(());
        }
        self.encode(txns);
        let result = self.write_batch(txns);
        match result {
            Ok(()) => self.invariants(),
            Err(_) => self.failed = true,
        }
        result
    }

    /// What holds between appends: the append offset lies in the record area and everything
    /// written has been synced (or syncing is off).
    fn invariants(&self) {
        if let Some(active) = &self.active {
            assert!(active.offset >= SEGMENT_HEADER_BYTES);
            assert!(active.offset <= active.reserved);
            assert!(active.reserved <= active.capacity);
            assert!(!active.dirty);
        }
    }

    fn encode(&mut self, txns: &[Txn]) {
        self.batch.clear();
        self.record_ends.clear();
        let mut prev = self.reserved_zxid;
        for txn in txns {
            assert!(
                txn.zxid > prev,
                "txn zxid {:#x} appended after {prev:#x}",
                txn.zxid
            );
            prev = txn.zxid;
            self.payload.clear();
            let txn_type = encode_txn(txn, &mut self.payload);
            let start = self.batch.len();
            let batch = &mut self.batch;
            encode_record(txn.zxid, txn_type, txn.time_ms, &self.payload, batch);
            // Pair the checksum written with the one recovery will check.
            debug_assert!(matches!(
                parse_record(&batch[start..]),
                ParseOutcome::Record { total_len, .. } if total_len == batch.len() - start
            ));
            self.record_ends.push(self.batch.len());
        }
    }

    fn write_batch(&mut self, txns: &[Txn]) -> Result<(), LogError> {
        let mut next = 0;
        while next < txns.len() {
            let start = if next == 0 {
                0
            } else {
                self.record_ends[next - 1]
            };
            let first_len = (self.record_ends[next] - start) as u64;
            let zxid = txns[next].zxid;
            let usable = self.active.as_ref().is_some_and(|a| {
                // An empty segment is only usable for the zxid it is named after.
                a.room() >= first_len && (a.has_records() || a.first_zxid == zxid)
            });
            if !usable {
                self.roll(zxid, first_len)?;
                continue;
            }
            let active = self
                .active
                .as_mut()
                .expect("usable implies an active segment");
            let room = active.room();
            let mut end = next + 1;
            while end < txns.len() && (self.record_ends[end] - start) as u64 <= room {
                end += 1;
            }
            let bytes = &self.batch[start..self.record_ends[end - 1]];
            active
                .file
                .write_all_at(bytes, active.offset)
                .map_err(|e| LogError::io(&active.path, e))?;
            active.offset += bytes.len() as u64;
            active.reserved = active.offset;
            active.dirty = true;
            self.last_zxid = txns[end - 1].zxid;
            self.reserved_zxid = self.last_zxid;
            next = end;
        }
        self.sync_active()
    }

    fn sync_active(&mut self) -> Result<(), LogError> {
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        if self.force_sync && active.dirty {
            active
                .file
                .sync_data()
                .map_err(|e| LogError::io(&active.path, e))?;
        }
        active.dirty = false;
        Ok(())
    }

    /// Closes the active segment for good: synced if it has records, removed if it has none
    /// (an empty segment named for a zxid that will not come).
    fn seal(&mut self) -> Result<(), LogError> {
        self.sync_active()?;
        let Some(active) = self.active.take() else {
            return Ok(());
        };
        if !active.has_records() {
            drop(active.file);
            std::fs::remove_file(&active.path).map_err(|e| LogError::io(&active.path, e))?;
            segment::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Seals the active segment and starts the segment for `first_zxid`, big enough for a
    /// first record of `record_len` bytes.
    fn roll(&mut self, first_zxid: i64, record_len: u64) -> Result<(), LogError> {
        self.seal()?;
        let needed = (SEGMENT_HEADER_BYTES + record_len).next_multiple_of(SEGMENT_HEADER_BYTES);
        let size = self.segment_bytes.max(needed);
        let dir = &self.dir;
        let (file, path, size) = match self.spare.take() {
            Some((temp, spare_size)) if spare_size >= size => {
                let (file, path) =
                    segment::install(dir, &temp, first_zxid, self.last_zxid, spare_size)?;
                (file, path, spare_size)
            }
            spare => {
                self.spare = spare;
                let file = segment::create_segment(dir, first_zxid, self.last_zxid, size)?;
                (file, dir.join(segment_name(first_zxid)), size)
            }
        };
        self.active = Some(Active {
            file,
            path,
            first_zxid,
            offset: SEGMENT_HEADER_BYTES,
            capacity: size,
            dirty: false,
            reserved: SEGMENT_HEADER_BYTES,
        });
        Ok(())
    }

    /// The log continues after `snapshot_zxid`: a snapshot (say, one a follower was sent by
    /// its leader) covers every txn up to it. Seals the active segment; the next append starts
    /// a new segment whose header records the jump. Recovery accepts the jump only when it
    /// replays from a snapshot at or after `snapshot_zxid`.
    ///
    /// # Panics
    ///
    /// If `snapshot_zxid` is below `last_zxid` (that would be a truncation, not a jump).
    pub fn skip_to(&mut self, snapshot_zxid: i64) -> Result<(), LogError> {
        assert!(snapshot_zxid >= self.last_zxid, "skip_to cannot go back");
        if snapshot_zxid == self.last_zxid {
            return Ok(());
        }
        let result = self.seal();
        if result.is_err() {
            self.failed = true;
        }
        self.last_zxid = snapshot_zxid;
        self.reserved_zxid = snapshot_zxid;
        result
    }

    /// True when no spare segment is ready, so the next roll would zero-fill a whole segment
    /// inline. The server can then call `preallocate_next`, or run `segment::preallocate` on
    /// another blocking thread and hand the file over with `adopt_spare`.
    pub fn needs_spare(&self) -> bool {
        self.spare.is_none()
    }

    /// Makes the spare segment now (zero-filled temp file, synced), if there is none.
    pub fn preallocate_next(&mut self) -> Result<(), LogError> {
        if self.spare.is_none() {
            let temp = segment::preallocate(&self.dir, self.segment_bytes)?;
            self.spare = Some((temp, self.segment_bytes));
        }
        Ok(())
    }

    /// Encodes `txns` for a caller that writes them itself (the server: encoded on its
    /// executor, written by its log sync thread), when the whole batch fits in the active
    /// segment. None means: use `append_txns` once no inline write is outstanding (a segment
    /// roll, an earlier failure, or nothing to write).
    ///
    /// Several batches may be prepared before the first is written: each goes where the one
    /// before it ends. The caller writes them in that order, each only after the ones before
    /// it are durable (so a crash can tear only the last), and calls `commit_inline` for each,
    /// in order; on a failed write, `fail`.
    pub fn prepare_inline(&mut self, txns: &[Txn]) -> Option<InlineWrite> {
        let (first, last) = (txns.first()?.zxid, txns.last()?.zxid);
        if self.failed {
            return None;
        }
        let active = self.active.as_ref()?;
        let starts_records = active.reserved > SEGMENT_HEADER_BYTES || active.first_zxid == first;
        if active.dirty || !starts_records {
            return None;
        }
        let (path, offset) = (active.path.clone(), active.reserved);
        let room = active.capacity.saturating_sub(offset);
        self.encode(txns);
        if self.batch.len() as u64 > room {
            return None;
        }
        let active = self.active.as_mut().expect("checked above");
        active.reserved += self.batch.len() as u64;
        self.reserved_zxid = last;
        let zero_until = active.reserved.next_multiple_of(PAGE_BYTES).min(active.capacity);
        Some(InlineWrite { path, offset, bytes: std::mem::take(&mut self.batch), last_zxid: last, zero_until })
    }

    /// Records that a batch of `prepare_inline` is on disk (synced, when `force_sync`).
    ///
    /// # Panics
    ///
    /// If batches are committed out of the order they were prepared in.
    pub fn commit_inline(&mut self, offset: u64, len: u64, last_zxid: i64) {
        let active = self.active.as_mut().expect("commit_inline without an active segment");
        assert_eq!(active.offset, offset, "inline commit out of order");
        active.offset += len;
        self.last_zxid = last_zxid;
        self.invariants();
    }

    /// Stops the writer after a failed inline write: every later append fails.
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// Whether appends are made durable (`forceSync`).
    pub fn force_sync(&self) -> bool {
        self.force_sync
    }

    /// Takes a file made by `segment::preallocate(dir, size_bytes)` as the spare segment. A
    /// spare already held is removed.
    pub fn adopt_spare(&mut self, temp: PathBuf, size_bytes: u64) {
        if let Some((old, _)) = self.spare.replace((temp, size_bytes)) {
            let _ = std::fs::remove_file(old);
        }
    }
}

/// A batch encoded by `LogWriter::prepare_inline`, to be written at `offset` of `path`.
#[derive(Debug)]
pub struct InlineWrite {
    /// The active segment.
    pub path: PathBuf,
    /// Where the batch goes.
    pub offset: u64,
    /// The encoded records.
    pub bytes: Vec<u8>,
    /// The batch's last zxid.
    pub last_zxid: i64,
    /// The segment is zero fill from the batch's end up to here (the end of its last page,
    /// or of the segment). Writing those zeros along makes the write cover whole pages, so
    /// the kernel need not read back a page that is not cached (preallocation bypasses the
    /// page cache) before changing part of it.
    pub zero_until: u64,
}

/// The page size writes are padded to (`InlineWrite::zero_until`).
pub const PAGE_BYTES: u64 = 4096;

impl Drop for LogWriter {
    fn drop(&mut self) {
        // Best effort: recovery removes leftover temp files anyway.
        if let Some((temp, _)) = self.spare.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

fn open_active(path: &Path, offset: u64) -> Result<Active, LogError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| LogError::io(path, e))?;
    let mut bytes = [0u8; 64];
    file.read_exact_at(&mut bytes, 0)
        .map_err(|e| LogError::io(path, e))?;
    let header = SegmentHeader::parse(&bytes).map_err(|r| LogError::corrupt(path, 0, r))?;
    if offset < SEGMENT_HEADER_BYTES {
        let reason = format!("append offset {offset} inside the segment header");
        return Err(LogError::corrupt(path, offset, reason));
    }
    Ok(Active {
        file,
        path: path.to_owned(),
        first_zxid: header.first_zxid(),
        offset,
        capacity: header.segment_bytes().max(offset),
        dirty: false,
        reserved: offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::recover::recover;
    use crate::log::segment::list_segments;
    use crate::log::testing::{self, TempDir};

    const SEG: u64 = 64 << 10;

    fn replay(dir: &Path, after: i64) -> (Recovered, Vec<Txn>) {
        let mut seen = Vec::new();
        let recovered = recover(dir, after, |t| seen.push(t)).unwrap();
        (recovered, seen)
    }

    fn fresh(dir: &Path) -> LogWriter {
        let (recovered, _) = replay(dir, 0);
        LogWriter::open(dir, &recovered, SEG, true).unwrap()
    }

    #[test]
    fn batches_roll_across_segments() {
        let tmp = TempDir::new("writer-roll");
        let txns = testing::txns(1, 1, 2000);
        let mut writer = fresh(tmp.path());
        for batch in txns.chunks(37) {
            writer.append_txns(batch).unwrap();
        }
        assert_eq!(writer.last_zxid(), 2000);
        drop(writer);
        let segments = list_segments(tmp.path()).unwrap();
        assert!(segments.len() > 3, "{} segments", segments.len());
        let (recovered, seen) = replay(tmp.path(), 0);
        assert_eq!(seen, txns);
        assert_eq!(recovered.last_zxid, 2000);
        assert_eq!(recovered.cut, None);
        assert_eq!(
            recovered.active.as_ref().map(|a| &a.0),
            segments.last().map(|s| &s.1)
        );
        for (_, path) in &segments {
            assert_eq!(std::fs::metadata(path).unwrap().len(), SEG);
        }
    }

    #[test]
    fn reopen_continues_the_active_segment() {
        let tmp = TempDir::new("writer-reopen");
        let txns = testing::txns(2, 1, 20);
        let mut writer = fresh(tmp.path());
        writer.append_txns(&txns[..10]).unwrap();
        let (path, offset) = writer.active().map(|(p, o)| (p.to_owned(), o)).unwrap();
        drop(writer);
        let (recovered, _) = replay(tmp.path(), 0);
        assert_eq!(recovered.active, Some((path, offset)));
        let mut writer = LogWriter::open(tmp.path(), &recovered, SEG, true).unwrap();
        writer.append_txns(&txns[10..]).unwrap();
        drop(writer);
        assert_eq!(list_segments(tmp.path()).unwrap().len(), 1);
        assert_eq!(replay(tmp.path(), 0).1, txns);
    }

    /// Writes an inline batch as the server does: the bytes and the zero fill after them.
    fn write_inline(w: &InlineWrite) {
        let file = OpenOptions::new().write(true).open(&w.path).unwrap();
        let mut bytes = w.bytes.clone();
        bytes.resize((w.zero_until - w.offset) as usize, 0);
        file.write_all_at(&bytes, w.offset).unwrap();
        file.sync_data().unwrap();
    }

    #[test]
    fn inline_batches_prepared_ahead_go_end_to_end_and_commit_in_order() {
        let tmp = TempDir::new("writer-inline");
        let txns = testing::txns(2, 1, 40);
        let mut writer = fresh(tmp.path());
        writer.append_txns(&txns[..1]).unwrap();
        let a = writer.prepare_inline(&txns[1..10]).unwrap();
        let b = writer.prepare_inline(&txns[10..25]).unwrap();
        assert_eq!(b.offset, a.offset + a.bytes.len() as u64, "b goes where a ends");
        assert!(a.zero_until >= a.offset + a.bytes.len() as u64 && a.zero_until.is_multiple_of(PAGE_BYTES));
        // Nothing is durable yet: the writer's offset has not moved, and a slow append must
        // wait for the inline writes.
        assert_eq!(writer.active().unwrap().1, a.offset);
        assert!(writer.append_txns(&txns[25..26]).is_err());
        let mut writer = fresh_after(tmp.path(), writer);
        let a = writer.prepare_inline(&txns[1..10]).unwrap();
        let b = writer.prepare_inline(&txns[10..25]).unwrap();
        write_inline(&a);
        writer.commit_inline(a.offset, a.bytes.len() as u64, a.last_zxid);
        write_inline(&b);
        writer.commit_inline(b.offset, b.bytes.len() as u64, b.last_zxid);
        assert_eq!(writer.last_zxid(), txns[24].zxid);
        writer.append_txns(&txns[25..]).unwrap();
        drop(writer);
        assert_eq!(replay(tmp.path(), 0).1, txns);
    }

    /// A writer reopened on what is on disk, as after a restart.
    fn fresh_after(dir: &Path, old: LogWriter) -> LogWriter {
        drop(old);
        fresh(dir)
    }

    #[test]
    #[should_panic(expected = "inline commit out of order")]
    fn inline_commits_out_of_order_are_refused() {
        let tmp = TempDir::new("writer-inline-order");
        let txns = testing::txns(2, 1, 10);
        let mut writer = fresh(tmp.path());
        writer.append_txns(&txns[..1]).unwrap();
        let _a = writer.prepare_inline(&txns[1..5]).unwrap();
        let b = writer.prepare_inline(&txns[5..]).unwrap();
        writer.commit_inline(b.offset, b.bytes.len() as u64, b.last_zxid);
    }

    #[test]
    fn a_record_bigger_than_a_segment_gets_its_own() {
        let tmp = TempDir::new("writer-big");
        let mut txns = testing::txns(3, 1, 3);
        txns[1].body = crate::txn::TxnBody::SetData {
            path: "/big".to_owned(),
            data: vec![7u8; 3 * SEG as usize].into(),
            version: 1,
        };
        let mut writer = fresh(tmp.path());
        writer.append_txns(&txns).unwrap();
        drop(writer);
        let segments = list_segments(tmp.path()).unwrap();
        // The last record may share the big segment's rounding slack, or start its own.
        assert_eq!((segments[0].0, segments[1].0), (1, 2));
        let big = std::fs::metadata(&segments[1].1).unwrap().len();
        assert!(big > 3 * SEG, "{big}");
        assert!(big.is_multiple_of(4096), "{big}");
        assert_eq!(replay(tmp.path(), 0).1, txns);
    }

    #[test]
    fn spare_segment_is_used_and_temp_files_cleaned() {
        let tmp = TempDir::new("writer-spare");
        let txns = testing::txns(4, 1, 300);
        let mut writer = fresh(tmp.path());
        writer.preallocate_next().unwrap();
        assert!(!writer.needs_spare());
        writer.append_txns(&txns).unwrap();
        assert!(writer.needs_spare(), "the spare became a segment");
        let spare = segment::preallocate(tmp.path(), SEG).unwrap();
        writer.adopt_spare(spare, SEG);
        drop(writer);
        assert!(segment::list_temp_files(tmp.path()).unwrap().is_empty());
        assert_eq!(replay(tmp.path(), 0).1, txns);
    }

    #[test]
    fn empty_active_segment_named_for_another_zxid_is_replaced() {
        let tmp = TempDir::new("writer-empty");
        let txns = testing::txns(5, 1, 4);
        let mut writer = fresh(tmp.path());
        writer.append_txns(&txns[..2]).unwrap();
        drop(writer);
        // A crash right after a roll left an empty segment for zxid 3; a new epoch then
        // continues with another zxid.
        drop(segment::create_segment(tmp.path(), 3, 2, SEG).unwrap());
        let mut next = testing::txns(6, 0x1_0000_0001, 2);
        let (recovered, _) = replay(tmp.path(), 0);
        let mut writer = LogWriter::open(tmp.path(), &recovered, SEG, true).unwrap();
        writer.append_txns(&next).unwrap();
        drop(writer);
        let zxids: Vec<i64> = list_segments(tmp.path())
            .unwrap()
            .iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(zxids, [1, 0x1_0000_0001]);
        let mut all = txns[..2].to_vec();
        all.append(&mut next);
        assert_eq!(replay(tmp.path(), 0).1, all);
    }

    #[test]
    fn skip_to_records_the_jump() {
        let tmp = TempDir::new("writer-skip");
        let txns = testing::txns(7, 1, 3);
        let later = testing::txns(8, 100, 2);
        let mut writer = fresh(tmp.path());
        writer.append_txns(&txns).unwrap();
        writer.skip_to(99).unwrap();
        writer.append_txns(&later).unwrap();
        drop(writer);
        // Replaying from the snapshot at 99 works; from an older one txns 4..=99 are missing.
        let (recovered, seen) = replay(tmp.path(), 99);
        assert_eq!((recovered.last_zxid, seen), (101, later));
        let err = recover(tmp.path(), 0, |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                LogError::MissingSegment {
                    expected_zxid: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn snapshot_ahead_of_the_log_starts_a_new_segment() {
        let tmp = TempDir::new("writer-ahead");
        let mut writer = fresh(tmp.path());
        writer.append_txns(&testing::txns(9, 1, 3)).unwrap();
        drop(writer);
        let (recovered, _) = replay(tmp.path(), 50);
        assert_eq!((recovered.last_zxid, recovered.active.clone()), (50, None));
        let mut writer = LogWriter::open(tmp.path(), &recovered, SEG, true).unwrap();
        let later = testing::txns(10, 51, 2);
        writer.append_txns(&later).unwrap();
        drop(writer);
        assert_eq!(replay(tmp.path(), 50).1, later);
        assert!(recover(tmp.path(), 3, |_| {}).is_err());
    }

    #[test]
    #[should_panic(expected = "appended after")]
    fn zxids_must_increase() {
        let tmp = TempDir::new("writer-order");
        let mut writer = fresh(tmp.path());
        let txns = testing::txns(11, 5, 1);
        writer.append_txns(&txns).unwrap();
        let _ = writer.append_txns(&txns);
    }
}
