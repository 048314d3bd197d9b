//! Reading the whole log: replay after a snapshot (`recover`), the read-only checks of
//! `zkr log verify` (`verify`) and the txn listing of `zkr log dump` (`dump`).
//!
//! Owns: the rules that tell a crash artefact (cut it) from corruption (refuse to start), and
//! making a cut durable. Must not do: append records (that is `writer`), or change anything
//! but the torn tail of the last segment; `verify` and `dump` change nothing at all.
//!
//! Segments are read through read-only memory maps, records parsed in place. The rules:
//!
//! - zxids strictly increase over all records; a segment's first record has the zxid of its
//!   name; each segment's `prev_zxid` is the last zxid before it (a jump is accepted only when
//!   the snapshot replay starts from covers it). A break is `MissingSegment`, or `Gap` when the
//!   oldest segment starts after the snapshot.
//! - The end of a segment is its first all-zero record header, with no valid record anywhere
//!   after it (otherwise: `Corrupt`, a hole).
//! - A bad or torn record in the last segment with no valid record anywhere after it is a torn
//!   tail: a write the crash cut short, never acknowledged. Recovery zeroes the file from that
//!   offset (and restores its zero fill if the file was cut short), syncs it, and reports the
//!   cut; the caller logs it. The same damage with a valid record after it, or in any earlier
//!   segment (sealed segments were synced before the next was made), is `Corrupt`.
//! - A last segment whose header is unreadable and that holds no valid record is removed and
//!   reported as a cut (a crash while it was made; the rename makes this all but impossible).
//! - A crc-valid record whose payload does not decode is `Corrupt`: the bytes are what was
//!   written, so the writer and reader disagree on the format.
//!
//! A known limit: if a crash cuts a multi-page write so that a later page reached the disk and
//! an earlier one did not, a valid record follows the damage and recovery refuses to start
//! rather than guess whether it was acknowledged. `zkr log verify` shows where.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::LogError;
use super::codec::decode_txn;
use super::record::{ParseOutcome, RecordHeader, find_valid_record, parse_record};
use super::segment::{self, SEGMENT_HEADER_BYTES, SegmentHeader};
use super::text;
use crate::txn::Txn;

/// What replay found and what the writer continues from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The last zxid the state holds after replay: the log's last record, or `after_zxid` if
    /// that is later (or the log is empty).
    pub last_zxid: i64,
    /// Records handed to `each` (those after `after_zxid`).
    pub records: u64,
    /// The torn tail that was cut, if any. The caller should log it (warn): the txns in it
    /// were never acknowledged, but an operator wants to know a crash happened.
    pub cut: Option<TailCut>,
    /// The segment to append to and the offset after its last record; `None` when the next
    /// append must start a new segment (empty log, or the log ends before `after_zxid`).
    pub active: Option<(PathBuf, u64)>,
}

/// A torn tail that recovery removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailCut {
    /// The segment.
    pub path: PathBuf,
    /// Where the cut starts: everything from here on is now zero (0 if the segment was removed).
    pub offset: u64,
    /// What was found there.
    pub reason: String,
}

impl fmt::Display for TailCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "log tail cut: {} at offset {}: {}",
            self.path.display(),
            self.offset,
            self.reason
        )
    }
}

/// One segment as `verify` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    /// The file.
    pub path: PathBuf,
    /// The zxid in its name.
    pub first_zxid: i64,
    /// The zxid its header says it continues after.
    pub prev_zxid: i64,
    /// Valid records in it.
    pub records: u64,
    /// zxid of its last valid record.
    pub last_zxid: Option<i64>,
    /// Offset after its last valid record.
    pub end_offset: u64,
    /// Size in its header.
    pub segment_bytes: u64,
    /// Size of the file.
    pub file_bytes: u64,
}

/// The result of `verify`: what is there and what is wrong. Empty `problems` means healthy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segments read, in order (a segment with a fatal problem is left out).
    pub segments: Vec<SegmentSummary>,
    /// Valid records in all segments.
    pub records: u64,
    /// Everything recovery would cut or refuse, one sentence each, naming file and offset.
    pub problems: Vec<String>,
    /// Preallocated spare segment files (`zkrlog.tmp.*`): not records, not problems.
    pub spare_files: usize,
}

impl VerifyReport {
    /// True when nothing is wrong: recovery would neither cut nor refuse anything.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.segments {
            let range = match s.last_zxid {
                Some(last) => format!("zxids {:#x}..={last:#x}", s.first_zxid),
                None => format!("empty (named {:#x})", s.first_zxid),
            };
            writeln!(
                f,
                "{}: {range}, {} records, after {:#x}, {} of {} bytes used",
                s.path.display(),
                s.records,
                s.prev_zxid,
                s.end_offset,
                s.segment_bytes
            )?;
        }
        writeln!(
            f,
            "{} segments, {} records, {} preallocated spare files",
            self.segments.len(),
            self.records,
            self.spare_files
        )?;
        if self.problems.is_empty() {
            return writeln!(f, "no problems found");
        }
        for p in &self.problems {
            writeln!(f, "problem: {p}")?;
        }
        Ok(())
    }
}

/// Replays the log in `dir` (`<dataLogDir>/version-2`): calls `each` with every txn whose zxid is
/// above `after_zxid` (the snapshot's), in order; cuts a torn tail durably; removes leftover
/// temp files. Errors when txns after `after_zxid` are missing or damaged; the server must not
/// start then.
pub fn recover(
    dir: &Path,
    after_zxid: i64,
    mut each: impl FnMut(Txn),
) -> Result<Recovered, LogError> {
    segment::remove_temp_files(dir)?;
    let segments = segment::list_segments(dir)?;
    let mut chain = Chain::new(Some(after_zxid));
    let mut records = 0u64;
    let mut active = None;
    let mut damage = None;
    let mut visit = |path: &Path, offset: u64, header: &RecordHeader, payload: &[u8]| {
        if header.zxid() <= after_zxid {
            return Ok(());
        }
        let txn = decode_record(path, offset, header, payload)?;
        each(txn);
        records += 1;
        Ok(())
    };
    for (i, (name_zxid, path)) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        match scan_segment(*name_zxid, path, is_last, &mut chain, &mut visit)? {
            Scanned::Segment { summary, tail } => {
                active = Some((path.clone(), summary.end_offset));
                damage = tail.map(|t| (path.clone(), t));
            }
            Scanned::Unusable { reason } => damage = Some((path.clone(), Damage::Remove(reason))),
        }
    }
    let cut = match damage {
        Some((path, damage)) => Some(repair(&path, damage)?),
        None => None,
    };
    let log_last = chain.last.unwrap_or(after_zxid);
    if log_last < after_zxid {
        // The snapshot is ahead of the log: continuing the last segment would hide the jump.
        active = None;
    }
    Ok(Recovered {
        last_zxid: log_last.max(after_zxid),
        records,
        cut,
        active,
    })
}

/// Checks the whole log without changing it: every record's checksum and payload, the zxid
/// order and the segment chain. Problems are collected, not returned as errors; the error is
/// only for a directory that cannot be read.
pub fn verify(dir: &Path) -> Result<VerifyReport, LogError> {
    let mut report = VerifyReport::default();
    // `zkrlog.tmp.*` files are preallocated spares (a running server keeps one) or leftovers
    // of an interrupted creation; either way they hold no records, so they are not problems.
    report.spare_files = segment::list_temp_files(dir)?.len();
    let segments = segment::list_segments(dir)?;
    let mut chain = Chain::new(None);
    let mut records = 0u64;
    let mut visit = |path: &Path, offset: u64, header: &RecordHeader, payload: &[u8]| {
        decode_record(path, offset, header, payload)?;
        records += 1;
        Ok(())
    };
    for (i, (name_zxid, path)) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        match scan_segment(*name_zxid, path, is_last, &mut chain, &mut visit) {
            Ok(Scanned::Segment { summary, tail }) => {
                if let Some(damage) = tail {
                    report.problems.push(damage.describe(path));
                }
                report.segments.push(summary);
            }
            Ok(Scanned::Unusable { reason }) => report.problems.push(format!(
                "{} at offset 0: {reason} (recovery would remove the segment)",
                path.display()
            )),
            Err(e) => {
                report.problems.push(e.to_string());
                // Go on checking the rest as if the log started there.
                chain = Chain::new(None);
            }
        }
    }
    report.records = records;
    Ok(report)
}

/// Writes one line per txn of the whole log to `out`: `key=value` text, or one JSON object per
/// line when `json`. A torn tail ends the listing with a line saying so (`# torn tail: ...`,
/// or `{"torn_tail":{...}}`). Changes nothing on disk. Stops at the first corruption with its
/// error, after the lines before it.
pub fn dump(dir: &Path, json: bool, out: &mut impl std::io::Write) -> Result<(), LogError> {
    let out_err = |e| LogError::io("<dump output>", e);
    let segments = segment::list_segments(dir)?;
    let mut chain = Chain::new(None);
    let mut line = String::new();
    let mut visit = |path: &Path, offset: u64, header: &RecordHeader, payload: &[u8]| {
        let txn = decode_record(path, offset, header, payload)?;
        line.clear();
        if json {
            text::json_line(&txn, &mut line);
        } else {
            text::human_line(&txn, &mut line);
        }
        line.push('\n');
        out.write_all(line.as_bytes()).map_err(out_err)
    };
    let mut tail = None;
    for (i, (name_zxid, path)) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        match scan_segment(*name_zxid, path, is_last, &mut chain, &mut visit)? {
            Scanned::Segment {
                tail: Some(damage), ..
            } => tail = Some((path, damage)),
            Scanned::Segment { tail: None, .. } => {}
            Scanned::Unusable { reason } => tail = Some((path, Damage::Remove(reason))),
        }
    }
    if let Some((path, damage)) = tail {
        let (offset, reason) = damage.offset_reason();
        let mut end = String::new();
        if json {
            end.push_str("{\"torn_tail\":{\"path\":");
            text::json_str(&path.display().to_string(), &mut end);
            end.push_str(&format!(",\"offset\":{offset},\"reason\":"));
            text::json_str(reason, &mut end);
            end.push_str("}}\n");
        } else {
            end = format!(
                "# torn tail: {} at offset {offset}: {reason}\n",
                path.display()
            );
        }
        out.write_all(end.as_bytes()).map_err(out_err)?;
    }
    out.flush().map_err(out_err)
}

fn decode_record(
    path: &Path,
    offset: u64,
    header: &RecordHeader,
    payload: &[u8],
) -> Result<Txn, LogError> {
    decode_txn(header.zxid(), header.time_ms(), header.txn_type(), payload)
        .map_err(|reason| LogError::corrupt(path, offset, reason))
}

/// The zxid order across records and segments.
struct Chain {
    /// The snapshot replay starts after; `None` accepts any start (verify, dump).
    after: Option<i64>,
    /// The last zxid the log has reached so far (a segment's `prev_zxid` until it has records).
    last: Option<i64>,
    /// A jump between segments is accepted when a snapshot covers it (replay). Without a
    /// snapshot to judge by (verify, dump) every jump after the first segment is reported.
    jumps_covered: bool,
}

impl Chain {
    fn new(after: Option<i64>) -> Chain {
        Chain { after, last: None, jumps_covered: after.is_some() }
    }

    fn enter(&mut self, path: &Path, header: &SegmentHeader) -> Result<(), LogError> {
        let prev = header.prev_zxid();
        let covered = self.after.is_none_or(|after| prev <= after);
        match self.last {
            None if !covered => {
                return Err(LogError::Gap {
                    after_zxid: self.after.unwrap_or(i64::MIN),
                    prev_zxid: prev,
                    path: path.to_owned(),
                });
            }
            Some(last) if prev > last && !(covered && self.jumps_covered) => {
                return Err(LogError::MissingSegment {
                    expected_zxid: last + 1,
                    path: path.to_owned(),
                });
            }
            Some(last) if prev < last => {
                return Err(LogError::corrupt(
                    path,
                    32,
                    format!(
                        "segment continues after zxid {prev:#x}, but the segment before it \
                         already reached {last:#x}"
                    ),
                ));
            }
            // Equal, or a jump the snapshot covers (a follower that was sent a snapshot).
            _ => {}
        }
        self.last = Some(prev);
        Ok(())
    }

    fn record(&mut self, path: &Path, offset: u64, zxid: i64) -> Result<(), LogError> {
        let last = self.last.unwrap_or(i64::MIN);
        if zxid <= last {
            let reason = format!("record zxid {zxid:#x} is not after the previous {last:#x}");
            return Err(LogError::corrupt(path, offset, reason));
        }
        self.last = Some(zxid);
        Ok(())
    }
}

/// What to do about the end of the last segment.
#[derive(Debug)]
enum Damage {
    /// Zero `[offset, zero_to)`, then zero-fill `[file_bytes, extend_to)` if the file was cut
    /// short.
    Cut {
        offset: u64,
        reason: String,
        zero_to: u64,
        file_bytes: u64,
        extend_to: u64,
    },
    /// Remove the whole segment (its header is unreadable and it holds no valid record).
    Remove(String),
}

impl Damage {
    fn offset_reason(&self) -> (u64, &str) {
        match self {
            Damage::Cut { offset, reason, .. } => (*offset, reason),
            Damage::Remove(reason) => (0, reason),
        }
    }

    fn describe(&self, path: &Path) -> String {
        let (offset, reason) = self.offset_reason();
        format!(
            "{} at offset {offset}: torn tail: {reason} (recovery would cut it)",
            path.display()
        )
    }
}

enum Scanned {
    Segment {
        summary: SegmentSummary,
        tail: Option<Damage>,
    },
    Unusable {
        reason: String,
    },
}

type Visit<'v> = dyn FnMut(&Path, u64, &RecordHeader, &[u8]) -> Result<(), LogError> + 'v;

fn map_segment(path: &Path) -> Result<Mmap, LogError> {
    let file = File::open(path).map_err(|e| LogError::io(path, e))?;
    // SAFETY: the map is read-only and lives only while one segment is scanned. zkr never
    // shrinks a segment (appends and cuts write in place), and recovery writes the cut only
    // after the map is dropped. Another process truncating the file under us could raise
    // SIGBUS; dataLogDir belongs to one server.
    unsafe { Mmap::map(&file) }.map_err(|e| LogError::io(path, e))
}

fn scan_segment(
    name_zxid: i64,
    path: &Path,
    is_last: bool,
    chain: &mut Chain,
    visit: &mut Visit<'_>,
) -> Result<Scanned, LogError> {
    let map = map_segment(path)?;
    let header = match SegmentHeader::parse(&map) {
        Ok(header) => header,
        Err(reason) if is_last && find_valid_record(&map, 0, i64::MIN).is_none() => {
            return Ok(Scanned::Unusable { reason });
        }
        Err(reason) => return Err(LogError::corrupt(path, 0, reason)),
    };
    if header.first_zxid() != name_zxid {
        let reason = format!(
            "header says first zxid {:#x}, the name says {name_zxid:#x}",
            header.first_zxid()
        );
        return Err(LogError::corrupt(path, 24, reason));
    }
    chain.enter(path, &header)?;
    let (records, end, stop) = scan_records(&map, path, &header, chain, visit)?;
    let summary = SegmentSummary {
        path: path.to_owned(),
        first_zxid: name_zxid,
        prev_zxid: header.prev_zxid(),
        records,
        last_zxid: (records > 0).then_some(chain.last.unwrap_or(i64::MIN)),
        end_offset: end as u64,
        segment_bytes: header.segment_bytes(),
        file_bytes: map.len() as u64,
    };
    let tail = judge_end(&map, path, &header, is_last, end, stop, chain)?;
    Ok(Scanned::Segment { summary, tail })
}

/// Parses records from the header on; returns how many were valid, the offset after the last,
/// and why the scan stopped (`None`: a zero header or the end of the file).
fn scan_records(
    map: &[u8],
    path: &Path,
    header: &SegmentHeader,
    chain: &mut Chain,
    visit: &mut Visit<'_>,
) -> Result<(u64, usize, Option<String>), LogError> {
    let mut offset = SEGMENT_HEADER_BYTES as usize;
    let mut records = 0u64;
    loop {
        match parse_record(map.get(offset..).unwrap_or(&[])) {
            ParseOutcome::Record {
                header: record,
                payload,
                total_len,
            } => {
                if records == 0 && record.zxid() != header.first_zxid() {
                    let reason = format!(
                        "first record has zxid {:#x}, the segment is named for {:#x}",
                        record.zxid(),
                        header.first_zxid()
                    );
                    return Err(LogError::corrupt(path, offset as u64, reason));
                }
                chain.record(path, offset as u64, record.zxid())?;
                visit(path, offset as u64, record, payload)?;
                records += 1;
                offset += total_len;
            }
            ParseOutcome::End => return Ok((records, offset, None)),
            ParseOutcome::Torn(reason) => return Ok((records, offset, Some(reason.to_owned()))),
            ParseOutcome::Bad(reason) => return Ok((records, offset, Some(reason))),
        }
    }
}

/// Decides what the bytes after the last valid record mean: nothing, a torn tail to cut (last
/// segment only), or corruption.
fn judge_end(
    map: &[u8],
    path: &Path,
    header: &SegmentHeader,
    is_last: bool,
    end: usize,
    stop: Option<String>,
    chain: &Chain,
) -> Result<Option<Damage>, LogError> {
    let last_zxid = chain.last.unwrap_or(i64::MIN);
    if let Some(valid) = find_valid_record(map, end, last_zxid) {
        let what = stop.as_deref().unwrap_or("zero-filled hole");
        let reason = format!("{what}, but a valid record follows at offset {valid}");
        return Err(LogError::corrupt(path, end as u64, reason));
    }
    if !is_last {
        // A sealed segment was synced before the next one was made: a bad record here is
        // damage. Zero bytes are its normal end; a lost record shows as a break in the chain.
        return match stop {
            Some(reason) => Err(LogError::corrupt(path, end as u64, reason)),
            None => Ok(None),
        };
    }
    let file_bytes = map.len() as u64;
    let zero_to = last_nonzero(map, end).map_or(end as u64, |at| at as u64 + 1);
    let short = file_bytes < header.segment_bytes();
    let mut reasons = Vec::new();
    match stop {
        Some(reason) => reasons.push(reason),
        None if zero_to > end as u64 => {
            reasons.push("unreadable bytes after the last record".to_owned());
        }
        None => {}
    }
    if short {
        reasons.push(format!(
            "file is {file_bytes} bytes, its header says {}",
            header.segment_bytes()
        ));
    }
    if reasons.is_empty() {
        return Ok(None);
    }
    Ok(Some(Damage::Cut {
        offset: end as u64,
        reason: reasons.join("; "),
        zero_to: zero_to.max(end as u64),
        file_bytes,
        extend_to: header.segment_bytes(),
    }))
}

/// Index of the last nonzero byte at or after `from`.
fn last_nonzero(map: &[u8], from: usize) -> Option<usize> {
    let tail = map.get(from..)?;
    // Zero fill is the common case: step over it a word at a time from the end.
    let mut end = tail.len();
    while end >= 8 && tail[end - 8..end] == [0u8; 8] {
        end -= 8;
    }
    tail[..end].iter().rposition(|&b| b != 0).map(|i| from + i)
}

/// Applies a tail fix durably and says what was done.
fn repair(path: &Path, damage: Damage) -> Result<TailCut, LogError> {
    match damage {
        Damage::Cut {
            offset,
            reason,
            zero_to,
            file_bytes,
            extend_to,
        } => {
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| LogError::io(path, e))?;
            segment::write_zeros(&file, path, offset, zero_to)?;
            if file_bytes < extend_to {
                segment::write_zeros(&file, path, file_bytes, extend_to)?;
            }
            file.sync_data().map_err(|e| LogError::io(path, e))?;
            Ok(TailCut {
                path: path.to_owned(),
                offset,
                reason,
            })
        }
        Damage::Remove(reason) => {
            std::fs::remove_file(path).map_err(|e| LogError::io(path, e))?;
            if let Some(dir) = path.parent() {
                segment::sync_dir(dir)?;
            }
            Ok(TailCut {
                path: path.to_owned(),
                offset: 0,
                reason: format!("{reason}; segment removed"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use zerocopy::IntoBytes;

    use super::*;
    use crate::log::testing::{self, TempDir};
    use crate::log::writer::LogWriter;
    use crate::proto::jute::testing::XorShift;
    use crate::txn::TxnBody;

    const SEG: u64 = 64 << 10;

    fn replay(dir: &Path, after: i64) -> Result<(Recovered, Vec<Txn>), LogError> {
        let mut seen = Vec::new();
        let recovered = recover(dir, after, |t| seen.push(t))?;
        Ok((recovered, seen))
    }

    /// Appends `txns` in batches of 10 after whatever `dir` holds.
    fn append(dir: &Path, txns: &[Txn]) {
        let (recovered, _) = replay(dir, 0).unwrap();
        let mut writer = LogWriter::open(dir, &recovered, SEG, false).unwrap();
        for batch in txns.chunks(10) {
            writer.append_txns(batch).unwrap();
        }
    }

    /// Small txns (about 60 bytes a record), so tests can try every offset.
    fn small_txns(first: i64, n: usize) -> Vec<Txn> {
        (0..n)
            .map(|i| Txn {
                zxid: first + i as i64,
                time_ms: 1_700_000_000_000 + i as i64,
                session: 0x100 + i as i64,
                cxid: i as i32,
                body: TxnBody::SetData {
                    path: format!("/n{i}"),
                    data: Arc::from(&b"0123456789"[..]),
                    version: i as i32,
                },
            })
            .collect()
    }

    /// (zxid, start, end) of every record of a segment file.
    fn spans(path: &Path) -> Vec<(i64, usize, usize)> {
        let bytes = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        let mut at = SEGMENT_HEADER_BYTES as usize;
        while let ParseOutcome::Record {
            header, total_len, ..
        } = parse_record(&bytes[at..])
        {
            out.push((header.zxid(), at, at + total_len));
            at += total_len;
        }
        out
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        segment::list_segments(dir)
            .unwrap()
            .into_iter()
            .map(|s| s.1)
            .collect()
    }

    fn flip(path: &Path, at: usize) {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[at] ^= 0x04;
        std::fs::write(path, bytes).unwrap();
    }

    fn corrupt_at(err: &LogError) -> (&Path, u64) {
        match err {
            LogError::Corrupt { path, offset, .. } => (path, *offset),
            other => panic!("expected Corrupt, got {other}"),
        }
    }

    #[test]
    fn clean_log_across_segments_replays_after_the_snapshot() {
        let tmp = TempDir::new("rec-clean");
        let txns = testing::txns(21, 1, 2000);
        append(tmp.path(), &txns);
        let paths = segments(tmp.path());
        assert!(paths.len() >= 3, "{} segments", paths.len());
        let (recovered, seen) = replay(tmp.path(), 0).unwrap();
        assert_eq!(seen, txns);
        assert_eq!(
            (recovered.last_zxid, recovered.records, recovered.cut),
            (2000, 2000, None)
        );
        let last = paths.last().unwrap();
        let end = spans(last).last().unwrap().2 as u64;
        assert_eq!(recovered.active, Some((last.clone(), end)));
        let (recovered, seen) = replay(tmp.path(), 321).unwrap();
        assert_eq!(seen, txns[321..]);
        assert_eq!((recovered.last_zxid, recovered.records), (2000, 1679));
        let (recovered, seen) = replay(tmp.path(), 2000).unwrap();
        assert!(seen.is_empty());
        assert_eq!(recovered.active, Some((last.clone(), end)));
    }

    #[test]
    fn empty_log() {
        let tmp = TempDir::new("rec-empty");
        let (recovered, seen) = replay(tmp.path(), 7).unwrap();
        assert!(seen.is_empty());
        assert_eq!(
            recovered,
            Recovered {
                last_zxid: 7,
                records: 0,
                cut: None,
                active: None
            }
        );
    }

    #[test]
    fn truncation_at_every_offset_of_the_last_records_is_cut() {
        let tmp = TempDir::new("rec-trunc");
        let txns = small_txns(1, 1500);
        append(tmp.path(), &txns);
        let paths = segments(tmp.path());
        assert!(paths.len() >= 2);
        let last = paths.last().unwrap().clone();
        let pristine = std::fs::read(&last).unwrap();
        let spans = spans(&last);
        let from = spans[spans.len() - 3].1;
        let to = spans.last().unwrap().2;
        for cut in from..=to {
            std::fs::write(&last, &pristine[..cut]).unwrap();
            let (recovered, seen) = replay(tmp.path(), 0).unwrap();
            let kept = spans.iter().filter(|s| s.2 <= cut).count();
            let kept_end = spans[kept - 1].2;
            let kept_zxid = spans[kept - 1].0;
            assert_eq!(seen.len() as i64, kept_zxid, "cut {cut}");
            assert_eq!(seen.last(), txns.get(kept_zxid as usize - 1));
            let tail = recovered.cut.clone().expect("a cut file is reported");
            assert_eq!(
                (tail.path.as_path(), tail.offset),
                (last.as_path(), kept_end as u64)
            );
            assert_eq!(recovered.active, Some((last.clone(), kept_end as u64)));
            let bytes = std::fs::read(&last).unwrap();
            assert_eq!(bytes.len() as u64, SEG, "zero fill restored");
            assert!(bytes[kept_end..].iter().all(|&b| b == 0));
            // The writer continues cleanly after the cut.
            let more = small_txns(kept_zxid + 1, 3);
            let mut writer = LogWriter::open(tmp.path(), &recovered, SEG, false).unwrap();
            writer.append_txns(&more).unwrap();
            drop(writer);
            let (again, seen) = replay(tmp.path(), 0).unwrap();
            assert_eq!(again.cut, None);
            assert_eq!(seen[..kept_zxid as usize], txns[..kept_zxid as usize]);
            assert_eq!(seen[kept_zxid as usize..], more);
            for extra in segments(tmp.path()).iter().filter(|p| !paths.contains(p)) {
                std::fs::remove_file(extra).unwrap();
            }
        }
    }

    #[test]
    fn torn_header_of_the_last_segment_removes_it() {
        let tmp = TempDir::new("rec-torn-header");
        let txns = small_txns(1, 1500);
        append(tmp.path(), &txns);
        let paths = segments(tmp.path());
        let last = paths.last().unwrap().clone();
        let before = &paths[paths.len() - 2];
        let before_end = spans(before).last().unwrap().2 as u64;
        let pristine = std::fs::read(&last).unwrap();
        let first_lost = spans(&last)[0].0;
        for cut in [0, 7, 43, 44, 100, 4095] {
            std::fs::write(&last, &pristine[..cut]).unwrap();
            let (recovered, seen) = replay(tmp.path(), 0).unwrap();
            assert_eq!(seen.len() as i64, first_lost - 1);
            let tail = recovered.cut.clone().unwrap();
            if cut < 44 {
                // The header itself is torn: the segment goes.
                assert_eq!((tail.path.as_path(), tail.offset), (last.as_path(), 0));
                assert!(tail.reason.ends_with("segment removed"), "{}", tail.reason);
                assert!(!last.exists());
                assert_eq!(recovered.active, Some((before.clone(), before_end)));
            } else {
                // The header survived: the segment stays, empty, its zero fill restored.
                assert_eq!((tail.path.as_path(), tail.offset), (last.as_path(), 4096));
                assert_eq!(recovered.active, Some((last.clone(), 4096)));
                assert_eq!(std::fs::metadata(&last).unwrap().len(), SEG);
            }
            let mut writer = LogWriter::open(tmp.path(), &recovered, SEG, false).unwrap();
            writer
                .append_txns(&txns[first_lost as usize - 1..])
                .unwrap();
            drop(writer);
            assert_eq!(replay(tmp.path(), 0).unwrap().1, txns);
            for extra in segments(tmp.path()).iter().filter(|p| !paths.contains(p)) {
                std::fs::remove_file(extra).unwrap();
            }
        }
    }

    #[test]
    fn bit_flip_before_valid_records_is_corrupt() {
        let tmp = TempDir::new("rec-flip-mid");
        let txns = small_txns(1, 1500);
        append(tmp.path(), &txns);
        let paths = segments(tmp.path());
        let last = paths.last().unwrap();
        let (zxid, start, end) = spans(last)[3];
        flip(last, (start + end) / 2);
        let err = replay(tmp.path(), 0).unwrap_err();
        assert_eq!(corrupt_at(&err), (last.as_path(), start as u64));
        let message = format!(
            "log corrupt: {} at offset {start}: crc mismatch (record zxid {zxid:#x}), but a \
             valid record follows at offset {end}",
            last.display()
        );
        assert_eq!(err.to_string(), message);
        // A damaged length field reads as torn, but what follows still gives it away.
        flip(last, (start + end) / 2);
        flip(last, start + 10);
        let err = replay(tmp.path(), 0).unwrap_err();
        assert_eq!(corrupt_at(&err), (last.as_path(), start as u64));
    }

    #[test]
    fn bit_flip_in_a_sealed_segment_is_corrupt() {
        let tmp = TempDir::new("rec-flip-sealed");
        append(tmp.path(), &small_txns(1, 1500));
        let paths = segments(tmp.path());
        let sealed = &paths[paths.len() - 2];
        let (zxid, start, end) = *spans(sealed).last().unwrap();
        flip(sealed, end - 1);
        let err = replay(tmp.path(), 0).unwrap_err();
        assert_eq!(corrupt_at(&err), (sealed.as_path(), start as u64));
        let message = format!(
            "log corrupt: {} at offset {start}: crc mismatch (record zxid {zxid:#x})",
            sealed.display()
        );
        assert_eq!(err.to_string(), message);
    }

    #[test]
    fn bit_flip_in_the_last_record_is_cut() {
        let tmp = TempDir::new("rec-flip-last");
        let txns = small_txns(1, 1500);
        append(tmp.path(), &txns);
        let last = segments(tmp.path()).pop().unwrap();
        let (zxid, start, end) = *spans(&last).last().unwrap();
        flip(&last, end - 3);
        let (recovered, seen) = replay(tmp.path(), 0).unwrap();
        assert_eq!(seen, txns[..zxid as usize - 1]);
        let tail = recovered.cut.unwrap();
        assert_eq!(
            (tail.path.as_path(), tail.offset),
            (last.as_path(), start as u64)
        );
        assert_eq!(tail.reason, format!("crc mismatch (record zxid {zxid:#x})"));
        assert_eq!(recovered.last_zxid, zxid - 1);
        let bytes = std::fs::read(&last).unwrap();
        assert!(bytes[start..].iter().all(|&b| b == 0), "the cut is on disk");
        let (again, seen) = replay(tmp.path(), 0).unwrap();
        assert_eq!((again.cut, seen.len()), (None, zxid as usize - 1));
    }

    #[test]
    fn deleted_middle_segment_is_missing() {
        let tmp = TempDir::new("rec-missing");
        append(tmp.path(), &small_txns(1, 2500));
        let paths = segments(tmp.path());
        assert!(paths.len() >= 3);
        let before_last = spans(&paths[0]).last().unwrap().0;
        std::fs::remove_file(&paths[1]).unwrap();
        let err = replay(tmp.path(), 0).unwrap_err();
        let LogError::MissingSegment {
            expected_zxid,
            path,
        } = &err
        else {
            panic!("expected MissingSegment, got {err}");
        };
        assert_eq!((*expected_zxid, path), (before_last + 1, &paths[2]));
        assert!(err.to_string().contains(&paths[2].display().to_string()));
        // A snapshot that covers the lost segment makes the log usable again.
        let after = spans(&paths[2])[0].0 - 1;
        assert!(replay(tmp.path(), after).is_ok());
    }

    #[test]
    fn log_starting_after_the_snapshot_is_a_gap() {
        let tmp = TempDir::new("rec-gap");
        append(tmp.path(), &small_txns(1, 1500));
        let paths = segments(tmp.path());
        std::fs::remove_file(&paths[0]).unwrap();
        let second_prev = spans(&paths[1])[0].0 - 1;
        let err = replay(tmp.path(), second_prev - 1).unwrap_err();
        assert!(
            matches!(err, LogError::Gap { prev_zxid, .. } if prev_zxid == second_prev),
            "{err}"
        );
        let (recovered, seen) = replay(tmp.path(), second_prev).unwrap();
        assert_eq!(
            (recovered.last_zxid, seen.len() as i64),
            (1500, 1500 - second_prev)
        );
    }

    #[test]
    fn zero_filled_tail_is_a_clean_end_but_a_hole_is_corrupt() {
        let tmp = TempDir::new("rec-zero");
        append(tmp.path(), &small_txns(1, 1500));
        let last = segments(tmp.path()).pop().unwrap();
        let spans = spans(&last);
        let pristine = std::fs::read(&last).unwrap();
        // Zeroing the last records leaves a log that simply ends earlier.
        let mut bytes = pristine.clone();
        let (zxid, start, _) = spans[spans.len() - 2];
        bytes[start..].fill(0);
        std::fs::write(&last, &bytes).unwrap();
        let (recovered, seen) = replay(tmp.path(), 0).unwrap();
        assert_eq!((recovered.cut, seen.len() as i64), (None, zxid - 1));
        // Zeroing a record with valid ones after it is a hole.
        let mut bytes = pristine;
        let (_, start, end) = spans[2];
        bytes[start..end].fill(0);
        std::fs::write(&last, &bytes).unwrap();
        let err = replay(tmp.path(), 0).unwrap_err();
        assert_eq!(corrupt_at(&err), (last.as_path(), start as u64));
        assert!(err.to_string().contains("zero-filled hole"), "{err}");
    }

    #[test]
    fn random_bytes_never_panic() {
        let tmp = TempDir::new("rec-random");
        let dir = tmp.path();
        let mut g = XorShift::new(99);
        let mut valid = Vec::new();
        encode_record_txns(&small_txns(1, 20), &mut valid);
        for round in 0..300 {
            for path in segments(tmp.path()) {
                std::fs::remove_file(path).unwrap();
            }
            let n_segments = 1 + g.below(2);
            for s in 0..n_segments {
                let mut bytes = match g.below(3) {
                    0 => {
                        let n = g.below(10_000);
                        g.bytes(n)
                    }
                    _ => {
                        let header = SegmentHeader::new(1 + s as i64, s as i64, 8192);
                        let mut b = header.as_bytes().to_vec();
                        b.resize(4096, 0);
                        if g.below(2) == 0 {
                            b.extend_from_slice(&valid);
                        }
                        b.extend({
                            let n = g.below(5000);
                            g.bytes(n)
                        });
                        b
                    }
                };
                if round % 7 == 0 && !bytes.is_empty() {
                    let at = g.below(bytes.len());
                    bytes[at] ^= 0x80;
                }
                std::fs::write(dir.join(segment::segment_name(1 + s as i64)), bytes).unwrap();
            }
            let _ = replay(tmp.path(), 0);
            let _ = verify(tmp.path());
            let _ = dump(tmp.path(), round % 2 == 0, &mut Vec::new());
        }
    }

    fn encode_record_txns(txns: &[Txn], out: &mut Vec<u8>) {
        for txn in txns {
            let mut payload = Vec::new();
            let txn_type = crate::log::codec::encode_txn(txn, &mut payload);
            crate::log::record::encode_record(txn.zxid, txn_type, txn.time_ms, &payload, out);
        }
    }

    #[test]
    fn decode_failure_of_a_valid_record_is_corrupt() {
        let tmp = TempDir::new("rec-undecodable");
        let dir = tmp.path();
        let mut bytes = SegmentHeader::new(1, 0, 8192).as_bytes().to_vec();
        bytes.resize(4096, 0);
        crate::log::record::encode_record(1, 9999, 0, &[0; 16], &mut bytes);
        bytes.resize(8192, 0);
        std::fs::write(dir.join(segment::segment_name(1)), bytes).unwrap();
        let err = replay(tmp.path(), 0).unwrap_err();
        assert_eq!(corrupt_at(&err).1, 4096);
        assert!(err.to_string().contains("unknown txn type"), "{err}");
    }

    #[test]
    fn verify_reports_without_changing_anything() {
        let tmp = TempDir::new("rec-verify");
        append(tmp.path(), &small_txns(1, 2500));
        let report = verify(tmp.path()).unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.records, 2500);
        assert_eq!(report.segments.len(), segments(tmp.path()).len());
        assert_eq!(report.segments.last().unwrap().last_zxid, Some(2500));
        assert!(report.to_string().contains("no problems found"));

        let paths = segments(tmp.path());
        let last = paths.last().unwrap();
        let (_, _, end) = *spans(last).last().unwrap();
        flip(last, end - 1);
        let sealed = &paths[0];
        let (_, start, _) = spans(sealed)[5];
        flip(sealed, start + 40);
        let before: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let report = verify(tmp.path()).unwrap();
        let after: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
        assert!(before == after, "verify changed a file");
        assert_eq!(report.problems.len(), 2, "{report}");
        assert!(report.problems[0].contains(&format!("at offset {start}")));
        assert!(report.problems[1].contains("recovery would cut it"));
        // Segments after the damaged one are still summarized.
        assert_eq!(report.segments.len(), paths.len() - 1);
    }

    #[test]
    fn dump_lists_every_txn() {
        let tmp = TempDir::new("rec-dump");
        let txns = testing::txns(31, 1, 200);
        append(tmp.path(), &txns);
        let mut human = Vec::new();
        dump(tmp.path(), false, &mut human).unwrap();
        let human = String::from_utf8(human).unwrap();
        assert_eq!(human.lines().count(), 200);
        assert!(human.lines().all(|l| l.starts_with("zxid=0x")));
        assert!(human.lines().next().unwrap().starts_with("zxid=0x1 time="));
        let mut json = Vec::new();
        dump(tmp.path(), true, &mut json).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert_eq!(json.lines().count(), 200);
        assert!(
            json.lines()
                .all(|l| l.starts_with("{\"zxid\":\"0x") && l.ends_with('}'))
        );

        let last = segments(tmp.path()).pop().unwrap();
        let (_, _, end) = *spans(&last).last().unwrap();
        flip(&last, end - 1);
        let mut out = Vec::new();
        dump(tmp.path(), true, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.lines().count(), 200);
        assert!(
            out.lines()
                .last()
                .unwrap()
                .starts_with("{\"torn_tail\":{\"path\":")
        );
    }
}
