//! Splitting a client's TCP byte stream into frames, and building frames to send.
//!
//! Owns: the length prefix, the frame size limit and the recognition of four-letter words at
//! the start of a connection. Must not do: I/O (the caller feeds bytes in and writes bytes out),
//! or decode what is inside a frame (see `records`).
//!
//! ```text
//! stream = frame*
//! frame  = int len (4 bytes, big-endian, 0 <= len <= jute.maxbuffer), then len bytes
//! ```
//!
//! ZooKeeper (`NIOServerCnxn.readLength`) closes the connection when a length is negative or
//! larger than `jute.maxbuffer`; `FrameBuf::next_frame` reports `FrameError::TooLarge` then and
//! the caller closes. Before a connection has a session ZooKeeper first compares the 4 length
//! bytes, taken as an int, against the known four-letter words (`FourLetterCommands`): a match
//! means the connection is a 4lw command, not a client. All of them read as lengths above
//! 0x60000000, far beyond any frame limit, so no real frame can be mistaken for one.

/// Bytes of the length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Unread bytes kept at the front of the buffer before they are moved down; above this,
/// consumed bytes are dropped as soon as they are at least half the buffer.
const COMPACT_BYTES_MIN: usize = 4096;

/// The four-letter words ZooKeeper 3.9 knows (`FourLetterCommands`): the ones a monitoring tool
/// sends plus `gtmk`/`stmk` (trace mask) and `hash` (digest history).
pub const FOUR_LETTER_WORDS: [[u8; 4]; 18] = [
    *b"conf", *b"cons", *b"crst", *b"dirs", *b"dump", *b"envi", *b"gtmk", *b"ruok", *b"stmk",
    *b"srst", *b"srvr", *b"stat", *b"wchc", *b"wchp", *b"wchs", *b"mntr", *b"isro", *b"hash",
];

/// What telnet sends when it closes (IAC IP IAC DO). ZooKeeper lists it among the four-letter
/// commands ("telnet close") only to keep its logs clean; the connection is closed either way.
pub const TELNET_CLOSE: [u8; 4] = [0xff, 0xf4, 0xff, 0xfd];

/// True if the first 4 bytes of a connection are one of `FOUR_LETTER_WORDS`.
pub fn is_four_letter_word(first4: [u8; 4]) -> bool {
    FOUR_LETTER_WORDS.contains(&first4)
}

/// True if the first 4 bytes of a connection are `TELNET_CLOSE`.
pub fn is_telnet_close(first4: [u8; 4]) -> bool {
    first4 == TELNET_CLOSE
}

/// Why the stream cannot be split further. The connection must be closed.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The announced length is negative or above the limit (`jute.maxbuffer`).
    #[error("frame length {len} is negative or larger than the limit")]
    TooLarge {
        /// The announced length.
        len: i32,
    },
}

/// Collects bytes from a stream and hands out whole frames. Memory is bounded by the frame limit
/// plus whatever the caller feeds in between calls to `next_frame`.
#[derive(Debug, Clone)]
pub struct FrameBuf {
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    start: usize,
    /// True once a frame has been taken: the stream no longer starts at `buf[start]`.
    taken_any: bool,
    max_frame_bytes: u32,
}

impl FrameBuf {
    /// An empty splitter that refuses frames longer than `max_frame_bytes`.
    pub fn new(max_frame_bytes: u32) -> Self {
        FrameBuf {
            buf: Vec::new(),
            start: 0,
            taken_any: false,
            max_frame_bytes,
        }
    }

    /// Appends bytes read from the stream.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Drops consumed bytes once they are worth moving the rest for; keeps `extend` amortized
    /// O(n) without shifting the buffer after every frame.
    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= COMPACT_BYTES_MIN && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// The next whole frame's payload (without its length prefix), `Ok(None)` if more bytes
    /// are needed, or `TooLarge` if the announced length is negative or above the limit. After
    /// an error the buffer is left as it was; the caller is expected to close the connection.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let unread = &self.buf[self.start..];
        let Some(prefix) = unread.first_chunk::<LENGTH_PREFIX_BYTES>() else {
            return Ok(None);
        };
        let len = i32::from_be_bytes(*prefix);
        let Ok(len_bytes) = u32::try_from(len) else {
            return Err(FrameError::TooLarge { len });
        };
        if len_bytes > self.max_frame_bytes {
            return Err(FrameError::TooLarge { len });
        }
        let total = LENGTH_PREFIX_BYTES + len_bytes as usize;
        if unread.len() < total {
            // The length is within the limit, so reserving for the whole frame is bounded.
            self.buf.reserve(total - unread.len());
            return Ok(None);
        }
        let payload = unread[LENGTH_PREFIX_BYTES..total].to_vec();
        self.start += total;
        self.taken_any = true;
        Ok(Some(payload))
    }

    /// The first 4 bytes of the connection, once they have arrived and as long as no frame has
    /// been taken; pass them to `is_four_letter_word` before treating them as a length.
    pub fn peek_four_letter_word(&self) -> Option<[u8; 4]> {
        if self.taken_any {
            return None;
        }
        self.buf[self.start..].first_chunk::<4>().copied()
    }
}

/// Starts a frame in `w`: reserves the length prefix and returns where it is, for `end_frame`.
pub fn begin_frame(w: &mut Vec<u8>) -> usize {
    let start = w.len();
    w.extend_from_slice(&[0; LENGTH_PREFIX_BYTES]);
    start
}

/// Ends the frame begun at `start` by writing its payload length into the prefix.
///
/// # Panics
///
/// If `start` did not come from `begin_frame` on this buffer (no room for the prefix), or the
/// payload exceeds `i32::MAX` bytes: both are bugs in the caller.
pub fn end_frame(w: &mut [u8], start: usize) {
    assert!(
        start + LENGTH_PREFIX_BYTES <= w.len(),
        "end_frame without begin_frame"
    );
    let payload = w.len() - start - LENGTH_PREFIX_BYTES;
    let len = i32::try_from(payload).expect("frame payload overflows i32");
    w[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&len.to_be_bytes());
}

/// The payload with its length prefix, as one new buffer.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut w = Vec::with_capacity(LENGTH_PREFIX_BYTES + payload.len());
    let start = begin_frame(&mut w);
    w.extend_from_slice(payload);
    end_frame(&mut w, start);
    w
}

#[cfg(test)]
mod tests {
    use super::super::jute::testing::XorShift;
    use super::*;

    #[test]
    fn frames_fed_one_byte_at_a_time() {
        let payloads: Vec<Vec<u8>> = vec![vec![], vec![1, 2, 3], vec![9; 300], vec![7]];
        let stream: Vec<u8> = payloads.iter().flat_map(|p| encode_frame(p)).collect();
        let mut f = FrameBuf::new(1000);
        let mut got = Vec::new();
        for b in &stream {
            f.extend(std::slice::from_ref(b));
            while let Some(frame) = f.next_frame().expect("within limit") {
                got.push(frame);
            }
        }
        assert_eq!(got, payloads);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn frames_fed_in_random_chunks() {
        let mut g = XorShift::new(5);
        let payloads: Vec<Vec<u8>> = (0..500)
            .map(|_| {
                let n = g.below(5000);
                g.bytes(n)
            })
            .collect();
        let stream: Vec<u8> = payloads.iter().flat_map(|p| encode_frame(p)).collect();
        let mut f = FrameBuf::new(5000);
        let mut got = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            let n = (1 + g.below(9000)).min(stream.len() - at);
            f.extend(&stream[at..at + n]);
            at += n;
            while let Some(frame) = f.next_frame().expect("within limit") {
                got.push(frame);
            }
            assert!(
                f.buf.len() <= 2 * (5004 + 9000) + COMPACT_BYTES_MIN,
                "buffer grows"
            );
        }
        assert_eq!(got, payloads);
    }

    #[test]
    fn oversize_and_negative_lengths() {
        let mut f = FrameBuf::new(10);
        f.extend(&encode_frame(&[0; 10]));
        assert_eq!(f.next_frame(), Ok(Some(vec![0; 10])));
        f.extend(&11i32.to_be_bytes());
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge { len: 11 }));
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge { len: 11 }));

        let mut f = FrameBuf::new(10);
        f.extend(&(-1i32).to_be_bytes());
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge { len: -1 }));

        // The limit is checked as soon as the prefix is complete, before the payload arrives.
        let mut f = FrameBuf::new(0xfffff);
        f.extend(&[0x00, 0x10, 0x00]);
        assert_eq!(f.next_frame(), Ok(None));
        f.extend(&[0x00]);
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge { len: 0x100000 }));
    }

    #[test]
    fn four_letter_words() {
        let mut f = FrameBuf::new(100);
        f.extend(b"ru");
        assert_eq!(f.peek_four_letter_word(), None);
        f.extend(b"ok\n");
        let word = f.peek_four_letter_word().expect("4 bytes buffered");
        assert!(is_four_letter_word(word));
        assert!(!is_four_letter_word(*b"RUOK"));
        assert!(!is_four_letter_word([0, 0, 0, 45]));
        assert!(is_telnet_close(TELNET_CLOSE));
        assert!(!is_four_letter_word(TELNET_CLOSE));
        for word in FOUR_LETTER_WORDS {
            // No word can be mistaken for a frame length within jute.maxbuffer.
            assert!(u32::from_be_bytes(word) > 0xfffff);
        }

        // After the first frame nothing is a four-letter word any more.
        let mut f = FrameBuf::new(100);
        f.extend(&encode_frame(b"x"));
        assert!(f.peek_four_letter_word().is_some());
        f.extend(b"stat");
        assert_eq!(f.next_frame(), Ok(Some(b"x".to_vec())));
        assert_eq!(f.peek_four_letter_word(), None);
    }

    #[test]
    fn frame_writer() {
        let mut w = vec![0xee];
        let start = begin_frame(&mut w);
        w.extend_from_slice(b"abc");
        end_frame(&mut w, start);
        assert_eq!(w, [0xee, 0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(encode_frame(&[]), [0, 0, 0, 0]);
    }

    #[test]
    fn random_streams_never_panic() {
        let mut g = XorShift::new(3);
        for _ in 0..5000 {
            let mut f = FrameBuf::new(g.below(64) as u32);
            for _ in 0..g.below(8) {
                let n = g.below(40);
                let mut chunk = g.bytes(n);
                for b in chunk.iter_mut() {
                    if g.below(2) == 0 {
                        *b = 0;
                    }
                }
                f.extend(&chunk);
                let _ = f.peek_four_letter_word();
                while let Ok(Some(_)) = f.next_frame() {}
            }
        }
    }
}
