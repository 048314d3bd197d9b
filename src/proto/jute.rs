//! The jute binary codec: the primitive encodings every ZooKeeper record is built from, a
//! bounds-checked reader over one frame, and the `Jute` trait that records implement.
//!
//! Owns: how `int`, `long`, `boolean`, `buffer`, `ustring` and `vector<T>` are laid out, and the
//! checks that keep untrusted lengths from causing panics or large allocations. Must not do: I/O,
//! framing (see `frame`), or any knowledge of particular records (see `records`, `multi`).
//!
//! Grammar (as ZooKeeper's `BinaryOutputArchive` writes it; all integers big-endian):
//!
//! ```text
//! int      = i32 (4 bytes)
//! long     = i64 (8 bytes)
//! boolean  = 1 byte: 0 false, anything else true (written as 0 or 1)
//! buffer   = int len, then len bytes;              len = -1 means null
//! ustring  = int len, then len bytes of UTF-8;     len = -1 means null
//! vector<T>= int count, then count encodings of T; count = -1 means null
//! record   = its fields in declaration order, nothing before or after
//! ```
//!
//! Differences from ZooKeeper, on purpose: a buffer or string length below -1 is refused here
//! (as ZooKeeper; a negative vector count reads as empty, as ZooKeeper), and a string that is
//! not valid UTF-8 is refused (Java's decoder would substitute U+FFFD and carry on). A length that
//! runs past the end of the input is `Truncated`; nothing is allocated from a length before it
//! has been checked against the bytes that are actually there.

/// Why a record could not be decoded. Every decoding failure is one of these; decoding never
/// panics on any input.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("truncated record: needed {needed} bytes at offset {offset}")]
    Truncated {
        /// Offset in the input where the missing bytes should start.
        offset: usize,
        /// How many bytes were needed there.
        needed: usize,
    },
    /// A length or count field below -1.
    #[error("negative or oversized length {len} at offset {offset}")]
    BadLength {
        /// Offset of the length field itself.
        offset: usize,
        /// The value found there.
        len: i32,
    },
    /// A `ustring` whose bytes are not valid UTF-8.
    #[error("invalid utf-8 string at offset {offset}")]
    BadUtf8 {
        /// Offset of the string's first byte (after its length field).
        offset: usize,
    },
    /// Structurally well-formed bytes that still make no valid record (e.g. an unknown op type
    /// inside a multi).
    #[error("{0}")]
    Invalid(&'static str),
}

/// Elements preallocated for a vector before any of them has been read. A count is only
/// checked against the bytes remaining, and one remaining byte could otherwise reserve 24 bytes
/// of `String`; past this the vector grows as elements actually arrive.
const VEC_PREALLOCATE_MAX: usize = 1024;

/// A cursor over one encoded record (usually one frame's payload). Every read checks the bytes
/// that remain first.
#[derive(Debug, Clone)]
pub struct JuteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> JuteReader<'a> {
    /// Starts reading at the first byte of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        JuteReader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads a jute `int`.
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take_array()?))
    }

    /// Reads a jute `long`.
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take_array()?))
    }

    /// Reads a jute `boolean`: one byte, any nonzero value is true (as Java's `readBoolean`).
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        let [b] = self.take_array()?;
        Ok(b != 0)
    }

    /// Reads a length or count field. `None` for -1 (null); refuses anything below -1 and
    /// anything larger than the bytes that remain after the field.
    fn read_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let offset = self.pos;
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        let Ok(n) = usize::try_from(len) else {
            return Err(DecodeError::BadLength { offset, len });
        };
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n,
            });
        }
        Ok(Some(n))
    }

    /// Reads a jute `buffer`; null (-1) reads as an empty vector.
    pub fn read_buffer(&mut self) -> Result<Vec<u8>, DecodeError> {
        Ok(self.read_buffer_opt()?.unwrap_or_default())
    }

    /// Reads a jute `buffer`, keeping null (-1) apart from empty.
    pub fn read_buffer_opt(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?.to_vec())),
        }
    }

    /// Reads a jute `ustring`; null (-1) reads as an empty string.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        Ok(self.read_string_opt()?.unwrap_or_default())
    }

    /// Reads a jute `ustring`, keeping null (-1) apart from empty.
    pub fn read_string_opt(&mut self) -> Result<Option<String>, DecodeError> {
        let Some(n) = self.read_len()? else {
            return Ok(None);
        };
        let offset = self.pos;
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(DecodeError::BadUtf8 { offset }),
        }
    }

    /// Reads a jute `vector<T>` of records; null (-1) reads as empty.
    pub fn read_vec<T: Jute>(&mut self) -> Result<Vec<T>, DecodeError> {
        self.read_vec_with(T::read)
    }

    /// Reads a jute `vector<ustring>`; null (-1) reads as empty.
    pub fn read_string_vec(&mut self) -> Result<Vec<String>, DecodeError> {
        self.read_vec_with(JuteReader::read_string)
    }

    /// Every element takes at least one byte, so a count above the remaining bytes cannot be
    /// satisfied and `read_len` refuses it up front; the loop below is bounded by the input.
    fn read_vec_with<T>(
        &mut self,
        mut read_one: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        // As ZooKeeper's BinaryInputArchive.startVector: any negative count is a null vector.
        let save = self.pos;
        if self.read_i32()? < 0 {
            return Ok(Vec::new());
        }
        self.pos = save;
        let Some(count) = self.read_len()? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(count.min(VEC_PREALLOCATE_MAX));
        for _ in 0..count {
            out.push(read_one(self)?);
        }
        Ok(out)
    }
}

/// A record with a jute encoding. `read` consumes exactly the record's bytes and leaves any
/// trailing bytes to the caller; `write` appends the encoding to `w`.
pub trait Jute: Sized {
    /// Decodes one record from the reader's current position.
    fn read(r: &mut JuteReader<'_>) -> Result<Self, DecodeError>;
    /// Appends this record's encoding to `w`.
    fn write(&self, w: &mut Vec<u8>);
}

/// Decodes a `T` from the start of `bytes`. Trailing bytes are ignored, as ZooKeeper ignores
/// them after a request body.
pub fn decode<T: Jute>(bytes: &[u8]) -> Result<T, DecodeError> {
    T::read(&mut JuteReader::new(bytes))
}

/// Encodes `value` into a new vector.
pub fn encode<T: Jute>(value: &T) -> Vec<u8> {
    let mut w = Vec::new();
    value.write(&mut w);
    w
}

/// Appends a jute `int`.
pub fn write_i32(w: &mut Vec<u8>, v: i32) {
    w.extend_from_slice(&v.to_be_bytes());
}

/// Appends a jute `long`.
pub fn write_i64(w: &mut Vec<u8>, v: i64) {
    w.extend_from_slice(&v.to_be_bytes());
}

/// Appends a jute `boolean` (1 or 0).
pub fn write_bool(w: &mut Vec<u8>, v: bool) {
    w.push(u8::from(v));
}

/// Appends a length field.
///
/// # Panics
///
/// If `len` exceeds `i32::MAX`: jute cannot express it, and nothing zkr encodes comes near it
/// (frames are limited to `jute.maxbuffer`), so reaching this is a bug in the caller.
fn write_len(w: &mut Vec<u8>, len: usize) {
    let len = i32::try_from(len).expect("jute length field overflows i32");
    write_i32(w, len);
}

/// Appends a jute `buffer` (never null).
pub fn write_buffer(w: &mut Vec<u8>, v: &[u8]) {
    write_len(w, v.len());
    w.extend_from_slice(v);
}

/// Appends a jute `buffer`; `None` is written as null (length -1).
pub fn write_buffer_opt(w: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(bytes) => write_buffer(w, bytes),
        None => write_i32(w, -1),
    }
}

/// Appends a jute `ustring` (never null).
pub fn write_string(w: &mut Vec<u8>, v: &str) {
    write_buffer(w, v.as_bytes());
}

/// Appends a jute `ustring`; `None` is written as null (length -1).
pub fn write_string_opt(w: &mut Vec<u8>, v: Option<&str>) {
    write_buffer_opt(w, v.map(str::as_bytes));
}

/// Appends a jute `vector<T>` of records (never null).
pub fn write_vec<T: Jute>(w: &mut Vec<u8>, v: &[T]) {
    write_len(w, v.len());
    for item in v {
        item.write(w);
    }
}

/// Appends a jute `vector<ustring>` (never null).
pub fn write_string_vec(w: &mut Vec<u8>, v: &[String]) {
    write_len(w, v.len());
    for item in v {
        write_string(w, item);
    }
}

/// Test helpers shared by the codec tests of every `proto` file: a deterministic generator
/// and sample values for record fields.
#[cfg(test)]
pub(crate) mod testing {
    /// xorshift64*: deterministic, seedable, good enough to spread test inputs.
    pub(crate) struct XorShift(u64);

    impl XorShift {
        pub(crate) fn new(seed: u64) -> Self {
            XorShift(seed.max(1))
        }

        pub(crate) fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n.max(1) as u64) as usize
        }

        pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next_u64() as u8).collect()
        }
    }

    /// Builds an arbitrary value of a field or record type.
    pub(crate) trait Sample {
        fn sample(g: &mut XorShift) -> Self;
    }

    impl Sample for i32 {
        fn sample(g: &mut XorShift) -> Self {
            g.next_u64() as i32
        }
    }

    impl Sample for i64 {
        fn sample(g: &mut XorShift) -> Self {
            g.next_u64() as i64
        }
    }

    impl Sample for bool {
        fn sample(g: &mut XorShift) -> Self {
            g.next_u64() & 1 == 1
        }
    }

    impl Sample for String {
        fn sample(g: &mut XorShift) -> Self {
            const CHARS: &[char] = &['/', 'a', 'z', '0', '-', '\u{e9}', '\u{4e2d}', '\u{1f600}'];
            (0..g.below(6))
                .map(|_| CHARS[g.below(CHARS.len())])
                .collect()
        }
    }

    impl<T: Sample> Sample for Vec<T> {
        fn sample(g: &mut XorShift) -> Self {
            (0..g.below(4)).map(|_| T::sample(g)).collect()
        }
    }

    impl Sample for u8 {
        fn sample(g: &mut XorShift) -> Self {
            g.next_u64() as u8
        }
    }

    impl<T: Sample> Sample for Option<T> {
        fn sample(g: &mut XorShift) -> Self {
            if g.below(4) == 0 { None } else { Some(T::sample(g)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_are_big_endian() {
        let mut w = Vec::new();
        write_i32(&mut w, 0x0102_0304);
        write_i64(&mut w, -2);
        write_bool(&mut w, true);
        write_bool(&mut w, false);
        assert_eq!(
            w,
            [
                1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 1, 0
            ]
        );
        let mut r = JuteReader::new(&w);
        assert_eq!(r.read_i32(), Ok(0x0102_0304));
        assert_eq!(r.read_i64(), Ok(-2));
        assert_eq!(r.read_bool(), Ok(true));
        assert_eq!(r.read_bool(), Ok(false));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.position(), 14);
    }

    #[test]
    fn any_nonzero_byte_is_true() {
        assert_eq!(JuteReader::new(&[0x80]).read_bool(), Ok(true));
    }

    #[test]
    fn null_lengths() {
        let null = (-1i32).to_be_bytes();
        assert_eq!(JuteReader::new(&null).read_buffer(), Ok(vec![]));
        assert_eq!(JuteReader::new(&null).read_buffer_opt(), Ok(None));
        assert_eq!(JuteReader::new(&null).read_string(), Ok(String::new()));
        assert_eq!(JuteReader::new(&null).read_string_opt(), Ok(None));
        assert_eq!(JuteReader::new(&null).read_string_vec(), Ok(vec![]));
        let mut w = Vec::new();
        write_buffer_opt(&mut w, None);
        write_string_opt(&mut w, None);
        assert_eq!(w, [0xff; 8]);
    }

    #[test]
    fn strings_and_vectors() {
        let mut w = Vec::new();
        write_string(&mut w, "/a");
        write_string_vec(&mut w, &["x".to_owned(), String::new()]);
        assert_eq!(
            w,
            [
                0, 0, 0, 2, b'/', b'a', 0, 0, 0, 2, 0, 0, 0, 1, b'x', 0, 0, 0, 0
            ]
        );
        let mut r = JuteReader::new(&w);
        assert_eq!(r.read_string(), Ok("/a".to_owned()));
        assert_eq!(r.read_string_vec(), Ok(vec!["x".to_owned(), String::new()]));
    }

    #[test]
    fn bad_lengths_are_refused() {
        let minus_two = (-2i32).to_be_bytes();
        let bad = DecodeError::BadLength { offset: 0, len: -2 };
        assert_eq!(JuteReader::new(&minus_two).read_buffer(), Err(bad.clone()));
        assert_eq!(
            JuteReader::new(&minus_two).read_buffer_opt(),
            Err(bad.clone())
        );
        assert_eq!(JuteReader::new(&minus_two).read_string(), Err(bad.clone()));
        // A negative vector count is null, as ZooKeeper reads it.
        assert_eq!(JuteReader::new(&minus_two).read_string_vec(), Ok(Vec::new()));
        let _ = bad;
        let huge = i32::MAX.to_be_bytes();
        assert_eq!(
            JuteReader::new(&huge).read_buffer(),
            Err(DecodeError::Truncated {
                offset: 4,
                needed: i32::MAX as usize
            })
        );
        assert_eq!(
            JuteReader::new(&huge).read_string_vec(),
            Err(DecodeError::Truncated {
                offset: 4,
                needed: i32::MAX as usize
            })
        );
    }

    #[test]
    fn truncated_primitives() {
        assert_eq!(
            JuteReader::new(&[1, 2]).read_i32(),
            Err(DecodeError::Truncated {
                offset: 0,
                needed: 4
            })
        );
        assert_eq!(
            JuteReader::new(&[0; 7]).read_i64(),
            Err(DecodeError::Truncated {
                offset: 0,
                needed: 8
            })
        );
        assert_eq!(
            JuteReader::new(&[]).read_bool(),
            Err(DecodeError::Truncated {
                offset: 0,
                needed: 1
            })
        );
        assert_eq!(
            JuteReader::new(&[0, 0, 0, 3, b'a']).read_string(),
            Err(DecodeError::Truncated {
                offset: 4,
                needed: 3
            })
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let bytes = [0, 0, 0, 2, 0xc3, 0x28];
        assert_eq!(
            JuteReader::new(&bytes).read_string(),
            Err(DecodeError::BadUtf8 { offset: 4 })
        );
    }

    #[test]
    fn vector_count_beyond_input_is_truncated_without_allocating() {
        // 3 strings announced, 1 present: fails on the second one.
        let bytes = [0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            JuteReader::new(&bytes).read_string_vec(),
            Err(DecodeError::Truncated {
                offset: 12,
                needed: 4
            })
        );
    }

    #[test]
    fn decode_ignores_trailing_bytes() {
        struct One(i32);
        impl Jute for One {
            fn read(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
                Ok(One(r.read_i32()?))
            }
            fn write(&self, w: &mut Vec<u8>) {
                write_i32(w, self.0);
            }
        }
        assert_eq!(decode::<One>(&[0, 0, 0, 7, 9]).map(|o| o.0), Ok(7));
        assert_eq!(encode(&One(7)), [0, 0, 0, 7]);
    }
}
