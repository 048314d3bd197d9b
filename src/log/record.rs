//! One log record: a 32-byte checksummed header followed by the payload, parsed in place.
//!
//! Owns: the record header layout, the crc rule, and the verdict on a byte range (record, end
//! of log, torn, bad). Must not do: I/O, or interpret the payload (that is `codec`), or decide
//! what a torn or bad record means for recovery (that is `recover`).
//!
//! ```text
//! Record       = RecordHeader Payload                 (no padding, no alignment)
//! RecordHeader = magic u32 = "ZKR1"   bytes  0..4    (the bytes 'Z' 'K' 'R' '1' on disk)
//!              | crc u32               bytes  4..8    crc32c(header[8..32] ++ payload)
//!              | len u32               bytes  8..12   payload bytes, <= RECORD_PAYLOAD_BYTES_MAX
//!              | txn_type u32          bytes 12..16   the txn's type tag (`codec`)
//!              | zxid u64              bytes 16..24
//!              | time_ms i64           bytes 24..32   leader wall time of the txn
//! ```
//!
//! All fields are little-endian. The header types have alignment 1, so a record can start at
//! any offset of a memory map. An all-zero header is the end of the log: segments are
//! zero-filled when they are made, and a valid header always has a nonzero magic.

use zerocopy::little_endian::{I64, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::constants::FRAME_BYTES_MAX;

/// The record magic, as it is read from the little-endian field.
pub const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"ZKR1");

/// Size of `RecordHeader` in bytes.
pub const RECORD_HEADER_BYTES: usize = 32;

/// Largest payload a record may carry. A txn comes from one request of at most
/// `FRAME_BYTES_MAX` bytes and its encoding adds at most a few bytes per op, so twice that
/// leaves a margin; a larger `len` field on disk is damage, not a big record. Encoding a larger
/// payload is a bug in the caller and panics.
pub const RECORD_PAYLOAD_BYTES_MAX: usize = 16 << 20;
const _: () = assert!(RECORD_PAYLOAD_BYTES_MAX >= 2 * FRAME_BYTES_MAX as usize);
const _: () = assert!(RECORD_PAYLOAD_BYTES_MAX <= u32::MAX as usize);

/// The fixed header in front of every payload.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RecordHeader {
    magic: U32,
    crc: U32,
    len: U32,
    txn_type: U32,
    zxid: U64,
    time_ms: I64,
}

const _: () = assert!(std::mem::size_of::<RecordHeader>() == RECORD_HEADER_BYTES);

impl RecordHeader {
    /// The txn's zxid.
    pub fn zxid(&self) -> i64 {
        self.zxid.get() as i64
    }

    /// The txn's type tag (see `codec`).
    pub fn txn_type(&self) -> u32 {
        self.txn_type.get()
    }

    /// Leader wall time of the txn, ms since the Unix epoch.
    pub fn time_ms(&self) -> i64 {
        self.time_ms.get()
    }

    /// Payload bytes after the header.
    pub fn payload_len(&self) -> usize {
        self.len.get() as usize
    }

    /// The stored checksum.
    pub fn crc(&self) -> u32 {
        self.crc.get()
    }

    /// The checksum this header and `payload` should carry.
    fn compute_crc(&self, payload: &[u8]) -> u32 {
        let covered = &self.as_bytes()[8..];
        crc32c::crc32c_append(crc32c::crc32c(covered), payload)
    }
}

/// What a byte range starting at a record boundary holds.
#[derive(Debug)]
pub enum ParseOutcome<'a> {
    /// A complete record whose checksum matches.
    Record {
        /// The header, borrowed from the input.
        header: &'a RecordHeader,
        /// The payload, borrowed from the input.
        payload: &'a [u8],
        /// Header plus payload bytes: the offset of the next record.
        total_len: usize,
    },
    /// No bytes left, or an all-zero header: the zero fill after the last record.
    End,
    /// The input ends inside this record (a write cut short).
    Torn(&'static str),
    /// Bytes that are no valid record: wrong magic, impossible length or checksum mismatch.
    Bad(String),
}

/// Appends one record (header and payload) to `out`.
///
/// # Panics
///
/// If `payload` is longer than `RECORD_PAYLOAD_BYTES_MAX`: requests are limited far below that,
/// so it is a bug in the caller.
pub fn encode_record(zxid: i64, txn_type: u32, time_ms: i64, payload: &[u8], out: &mut Vec<u8>) {
    assert!(
        payload.len() <= RECORD_PAYLOAD_BYTES_MAX,
        "txn payload of {} bytes exceeds RECORD_PAYLOAD_BYTES_MAX",
        payload.len()
    );
    let mut header = RecordHeader {
        magic: U32::new(RECORD_MAGIC),
        crc: U32::new(0),
        len: U32::new(payload.len() as u32),
        txn_type: U32::new(txn_type),
        zxid: U64::new(zxid as u64),
        time_ms: I64::new(time_ms),
    };
    header.crc = U32::new(header.compute_crc(payload));
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
}

/// Parses the record at the start of `buf` in place. Never panics, whatever `buf` holds.
pub fn parse_record(buf: &[u8]) -> ParseOutcome<'_> {
    let Ok((header, rest)) = RecordHeader::ref_from_prefix(buf) else {
        return if buf.iter().all(|&b| b == 0) {
            ParseOutcome::End
        } else {
            ParseOutcome::Torn("record header cut short")
        };
    };
    if header.as_bytes().iter().all(|&b| b == 0) {
        return ParseOutcome::End;
    }
    if header.magic.get() != RECORD_MAGIC {
        return ParseOutcome::Bad(format!("bad record magic {:#010x}", header.magic.get()));
    }
    let len = header.payload_len();
    if len > RECORD_PAYLOAD_BYTES_MAX {
        return ParseOutcome::Bad(format!(
            "record length {len} over the limit (record zxid {:#x})",
            header.zxid()
        ));
    }
    let Some(payload) = rest.get(..len) else {
        return ParseOutcome::Torn("record payload cut short");
    };
    if header.compute_crc(payload) != header.crc() {
        return ParseOutcome::Bad(format!("crc mismatch (record zxid {:#x})", header.zxid()));
    }
    ParseOutcome::Record {
        header,
        payload,
        total_len: RECORD_HEADER_BYTES + len,
    }
}

/// Offset of the first complete, checksum-valid record at or after `from` whose zxid is above
/// `min_zxid`, searching every byte offset. Recovery uses it to tell a torn tail (nothing valid
/// follows) from damage in the middle of the log (something valid follows).
pub fn find_valid_record(buf: &[u8], from: usize, min_zxid: i64) -> Option<usize> {
    let magic = RECORD_MAGIC.to_le_bytes();
    let mut pos = from;
    while pos + RECORD_HEADER_BYTES <= buf.len() {
        // Most of a segment's tail is zero fill: skip it a word at a time.
        if buf.get(pos..pos + 8).is_some_and(|w| w == [0u8; 8]) {
            pos += 8;
            continue;
        }
        if buf[pos..pos + 4] == magic
            && let ParseOutcome::Record { header, .. } = parse_record(&buf[pos..])
            && header.zxid() > min_zxid
        {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::jute::testing::XorShift;

    fn record(zxid: i64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_record(zxid, 7, 1_700_000_000_000, payload, &mut out);
        out
    }

    #[test]
    fn round_trip() {
        let mut buf = record(5, b"hello");
        buf.extend_from_slice(&record(6, b""));
        let ParseOutcome::Record {
            header,
            payload,
            total_len,
        } = parse_record(&buf)
        else {
            panic!("not a record");
        };
        assert_eq!(header.zxid(), 5);
        assert_eq!(header.txn_type(), 7);
        assert_eq!(header.time_ms(), 1_700_000_000_000);
        assert_eq!(payload, b"hello");
        assert_eq!(total_len, 37);
        assert_eq!(&buf[..4], b"ZKR1");
        let ParseOutcome::Record {
            header, total_len, ..
        } = parse_record(&buf[37..])
        else {
            panic!("second record");
        };
        assert_eq!((header.zxid(), total_len), (6, 32));
        assert!(matches!(parse_record(&buf[69..]), ParseOutcome::End));
    }

    #[test]
    fn zeros_are_the_end_and_short_input_is_torn() {
        assert!(matches!(parse_record(&[]), ParseOutcome::End));
        assert!(matches!(parse_record(&[0; 10]), ParseOutcome::End));
        assert!(matches!(parse_record(&[0; 100]), ParseOutcome::End));
        let buf = record(1, b"abc");
        for cut in 1..buf.len() {
            assert!(
                matches!(parse_record(&buf[..cut]), ParseOutcome::Torn(_)),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let buf = record(0x1_0000_0005, b"some payload");
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[byte] ^= 1 << bit;
                match parse_record(&bad) {
                    ParseOutcome::Record { .. } | ParseOutcome::End => {
                        panic!("flip {byte}.{bit} undetected")
                    }
                    ParseOutcome::Torn(_) => assert!((8..12).contains(&byte)),
                    ParseOutcome::Bad(reason) => assert!(!reason.is_empty()),
                }
            }
        }
    }

    #[test]
    fn crc_mismatch_names_the_zxid() {
        let mut buf = record(5, b"x");
        buf[32] ^= 1;
        let ParseOutcome::Bad(reason) = parse_record(&buf) else {
            panic!("not bad");
        };
        assert_eq!(reason, "crc mismatch (record zxid 0x5)");
    }

    #[test]
    fn oversized_length_is_bad() {
        let mut buf = record(5, b"x");
        buf[8..12].copy_from_slice(&(RECORD_PAYLOAD_BYTES_MAX as u32 + 1).to_le_bytes());
        assert!(matches!(parse_record(&buf), ParseOutcome::Bad(_)));
    }

    #[test]
    fn find_valid_record_skips_garbage_and_old_zxids() {
        let mut buf = vec![0u8; 13];
        buf.extend_from_slice(b"ZKR1garbage");
        let at = buf.len();
        buf.extend_from_slice(&record(9, b"p"));
        buf.extend_from_slice(&[0; 64]);
        assert_eq!(find_valid_record(&buf, 0, 0), Some(at));
        assert_eq!(find_valid_record(&buf, 0, 9), None);
        assert_eq!(find_valid_record(&buf, at + 1, 0), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut g = XorShift::new(42);
        for i in 0..2000 {
            let mut buf = {
                let n = g.below(200);
                g.bytes(n)
            };
            if i % 2 == 0 && buf.len() >= 4 {
                buf[..4].copy_from_slice(b"ZKR1");
            }
            let _ = parse_record(&buf);
            let _ = find_valid_record(&buf, 0, i64::MIN);
        }
    }
}
