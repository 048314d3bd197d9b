use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::read::read_from;
use super::*;
use crate::proto::records::{Acl, Id};
use crate::tree::Node;

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir()
            .join(format!("zkr-snapshot-{name}-{}-{seq}", std::process::id()))
            .join("version-2");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(self.0.parent().unwrap());
    }
}

/// xorshift64*: deterministic test randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl { perms, id: Id { scheme: scheme.into(), id: id.into() } }
}

fn node(rng: &mut Rng, owner: i64, data: Vec<u8>, acl: Arc<[Acl]>) -> Node {
    let mut n = Node::new(rng.next() as i64, rng.next() as i64, owner, data.into(), acl);
    n.mzxid = rng.next() as i64;
    n.pzxid = rng.next() as i64;
    n.mtime = rng.next() as i64;
    n.version = rng.next() as i32;
    n.cversion = rng.next() as i32;
    n.aversion = rng.next() as i32;
    n
}

/// Every field but the children.
fn assert_same(path: &str, a: &Node, b: &Node) {
    let fa = (a.czxid, a.mzxid, a.pzxid, a.ctime, a.mtime, a.version, a.cversion, a.aversion);
    let fb = (b.czxid, b.mzxid, b.pzxid, b.ctime, b.mtime, b.version, b.cversion, b.aversion);
    assert_eq!(fa, fb, "{path}");
    assert_eq!(a.ephemeral_owner, b.ephemeral_owner, "{path}");
    assert_eq!(a.data, b.data, "{path}");
    assert_eq!(a.acl, b.acl, "{path}");
    assert!(b.children.is_empty());
}

/// A varied tree of `count` nodes: shared and unshared ACL lists, every owner kind, data from
/// empty to longer than the read buffer, non-ASCII paths.
fn varied_nodes(count: usize, rng: &mut Rng) -> Vec<(String, Arc<Node>)> {
    let open: Arc<[Acl]> = vec![acl(31, "world", "anyone")].into();
    let read_only: Arc<[Acl]> = vec![acl(1, "world", "anyone")].into();
    let digest: Arc<[Acl]> = vec![acl(31, "digest", "u:abc+/="), acl(1, "ip", "10.0.0.0/8")].into();
    let empty: Arc<[Acl]> = Vec::new().into();
    let mut nodes = Vec::with_capacity(count);
    for i in 0..count {
        let list = match i % 11 {
            0 => vec![acl(31, "world", "anyone")].into(), // equal to `open`, another Arc
            1 => read_only.clone(),
            2 => digest.clone(),
            3 if i % 500 == 3 => vec![acl(i as i32, "x509", &format!("CN=n{i}"))].into(),
            4 if i % 1000 == 4 => empty.clone(),
            _ => open.clone(),
        };
        let owner = match i % 5 {
            0 => 0,
            1 => 0x100_0000_0000 + (i as i64 % 7),
            2 => i64::MIN,
            3 => crate::txn::NodeKind::ttl_owner(1000 + i as i64),
            _ => 0,
        };
        let len = if i == 17 { (1 << 20) + 4321 } else { rng.below(300) as usize };
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let path = match i {
            0 => "/".to_string(),
            18 => format!("/{}", "p".repeat((1 << 20) + 10)), // longer than the read buffer
            _ => format!("/n{i}/é✓{}", rng.next() % 97),
        };
        nodes.push((path, Arc::new(node(rng, owner, data, list))));
    }
    nodes
}

/// A small snapshot's bytes: two sessions, a few nodes of every kind and shared ACLs.
fn small_snapshot(dir: &Path) -> (PathBuf, Vec<u8>) {
    let mut rng = Rng(7);
    let nodes = varied_nodes(6, &mut rng)
        .into_iter()
        .map(|(p, n)| {
            let mut n = (*n).clone();
            n.data = Arc::from(&n.data[..n.data.len().min(9)]);
            (p, Arc::new(n))
        })
        .collect::<Vec<_>>();
    let info = write_snapshot(dir, 0x1_0000_0005, 99, &[(5, 3000), (-7, 40000)], nodes.into_iter())
        .unwrap();
    let bytes = fs::read(&info.path).unwrap();
    (info.path, bytes)
}

/// `body` (everything before the trailer) with a trailer whose crc matches.
fn reseal(body: &[u8], node_count: u64) -> Vec<u8> {
    let mut v = body.to_vec();
    v.extend_from_slice(&node_count.to_le_bytes());
    let crc = crc32c::crc32c(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v.extend_from_slice(END_MAGIC);
    v
}

fn parse(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    read_from(Path::new("mem"), Cursor::new(bytes), bytes.len() as u64)
}

/// The offset of a `Corrupt` error (and that its Display names it); panics on anything else.
fn corrupt_offset(r: Result<Snapshot, SnapshotError>, len: usize, what: &str) -> u64 {
    match r {
        Err(e @ SnapshotError::Corrupt { .. }) => {
            let text = e.to_string();
            let SnapshotError::Corrupt { offset, .. } = e else { unreachable!() };
            assert!(offset <= len as u64, "{what}: offset {offset} past {len}");
            assert!(text.contains(&format!("offset {offset}")), "{what}: {text}");
            offset
        }
        Err(e) => panic!("{what}: not Corrupt: {e}"),
        Ok(_) => panic!("{what}: read as valid"),
    }
}

#[test]
fn round_trip_keeps_every_field_and_shares_acls() {
    let dir = TempDir::new("roundtrip");
    let mut rng = Rng(0x5eed);
    let nodes = varied_nodes(3000, &mut rng);
    let sessions: Vec<(i64, i32)> =
        (0..7).map(|i| (0x100_0000_0000 + i, 4000 + i as i32)).collect();
    let info =
        write_snapshot(&dir.0, 0x3_0000_0042, 1234, &sessions, nodes.clone().into_iter()).unwrap();
    assert_eq!(info.path, dir.0.join("zkrsnap.0000000300000042"));
    assert_eq!((info.zxid, info.nodes, info.sessions), (0x3_0000_0042, 3000, 7));
    assert_eq!(info.bytes, fs::metadata(&info.path).unwrap().len());
    let payload: usize = nodes.iter().map(|(p, n)| p.len() + n.data.len()).sum();
    // Interning: the fixed part, lengths and a 4-byte ACL reference a node, a few lists.
    assert!(info.bytes < payload as u64 + 3000 * 78 + 1000, "{} bytes", info.bytes);

    let snap = read_snapshot(&info.path).unwrap();
    assert_eq!((snap.zxid, snap.created_ms), (0x3_0000_0042, 1234));
    assert_eq!(snap.sessions, sessions);
    assert_eq!(snap.nodes.len(), nodes.len());
    for ((pa, a), (pb, b)) in nodes.iter().zip(&snap.nodes) {
        assert_eq!(pa, pb);
        assert_same(pa, a, b);
    }
    // Equal lists come back as one shared Arc.
    let open = &snap.nodes[0].1.acl;
    assert!(
        snap.nodes.iter().filter(|(_, n)| n.acl == *open).all(|(_, n)| Arc::ptr_eq(&n.acl, open))
    );
    assert_eq!(list_snapshots(&dir.0).unwrap(), vec![(info.zxid, info.path.clone())]);

    // One flipped byte anywhere in a big file is found, through the long-read path too.
    let mut bytes = fs::read(&info.path).unwrap();
    for i in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 100] {
        bytes[i] ^= 0x10;
        corrupt_offset(parse(&bytes), bytes.len(), &format!("flip at {i}"));
        bytes[i] ^= 0x10;
    }
    assert!(parse(&bytes).is_ok());
}

#[test]
fn empty_snapshot_round_trips() {
    let dir = TempDir::new("empty");
    let info = write_snapshot(&dir.0, 0, 0, &[], std::iter::empty()).unwrap();
    assert_eq!(info.bytes, FILE_BYTES_MIN);
    let snap = read_snapshot(&info.path).unwrap();
    assert!(snap.sessions.is_empty() && snap.nodes.is_empty());
}

#[test]
fn every_truncation_is_corrupt() {
    let dir = TempDir::new("truncate");
    let (path, bytes) = small_snapshot(&dir.0);
    assert!(parse(&bytes).is_ok());
    for cut in 0..bytes.len() {
        corrupt_offset(parse(&bytes[..cut]), cut, &format!("cut at {cut}"));
    }
    // The same through real files, at a few points.
    for cut in [0, 7, 30, bytes.len() / 2, bytes.len() - 1] {
        fs::write(&path, &bytes[..cut]).unwrap();
        corrupt_offset(read_snapshot(&path), cut, &format!("file cut at {cut}"));
    }
    // Truncated bodies behind a valid trailer: the parser itself must notice.
    let body_end = bytes.len() - TRAILER_BYTES as usize;
    for cut in 0..body_end {
        let b = reseal(&bytes[..cut], 6);
        corrupt_offset(parse(&b), b.len(), &format!("resealed cut at {cut}"));
    }
}

#[test]
fn every_bit_flip_is_corrupt() {
    let dir = TempDir::new("flip");
    let (_, bytes) = small_snapshot(&dir.0);
    let mut damaged = bytes.clone();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            damaged[i] ^= 1 << bit;
            corrupt_offset(parse(&damaged), bytes.len(), &format!("flip {i}.{bit}"));
            damaged[i] ^= 1 << bit;
        }
    }
    // A flip that breaks the structure is reported where it shows, with the crc verdict.
    damaged[HEADER_BYTES as usize + 4 + 2 * 12] = 7; // the first node's tag
    let Err(SnapshotError::Corrupt { offset, reason, .. }) = parse(&damaged) else { panic!() };
    assert_eq!(offset, HEADER_BYTES + 4 + 24);
    assert!(reason.contains("unknown tag") && reason.contains("checksum"), "{reason}");
}

#[test]
fn random_bytes_are_corrupt() {
    let mut rng = Rng(99);
    for i in 0..2000 {
        let len = rng.below(3000) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        corrupt_offset(parse(&b), len, &format!("random {i}"));
        // Past the magic and version checks, behind a valid trailer.
        if len > HEADER_BYTES as usize {
            b[..8].copy_from_slice(MAGIC);
            b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
            let sealed = reseal(&b, rng.below(4));
            corrupt_offset(parse(&sealed), sealed.len(), &format!("sealed random {i}"));
        }
    }
}

#[test]
fn mutations_behind_a_valid_crc_never_panic() {
    let dir = TempDir::new("mutate");
    let (_, bytes) = small_snapshot(&dir.0);
    let body = &bytes[..bytes.len() - TRAILER_BYTES as usize];
    let mut rng = Rng(4242);
    for _ in 0..3000 {
        let mut b = body.to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = HEADER_BYTES as usize + rng.below(b.len() as u64 - HEADER_BYTES) as usize;
            b[i] = match rng.below(3) {
                0 => rng.next() as u8,
                1 => 0xff,
                _ => 0,
            };
        }
        let sealed = reseal(&b, 6);
        if let Err(e) = parse(&sealed) {
            assert!(
                matches!(e, SnapshotError::Corrupt { offset, .. } if offset <= sealed.len() as u64)
            );
        }
    }
}

#[test]
fn duplicates_and_forward_acl_indexes_are_corrupt() {
    let dir = TempDir::new("dup");
    let open: Arc<[Acl]> = vec![acl(31, "world", "anyone")].into();
    let n = Arc::new(Node::new(1, 2, 0, Arc::from(&b"x"[..]), open));
    let nodes = vec![("/a".to_string(), n.clone()), ("/a".to_string(), n.clone())];
    let info = write_snapshot(&dir.0, 1, 0, &[], nodes.into_iter()).unwrap();
    let Err(SnapshotError::Corrupt { reason, .. }) = read_snapshot(&info.path) else { panic!() };
    assert!(reason.contains("duplicate path"), "{reason}");

    let info = write_snapshot(&dir.0, 2, 0, &[(1, 1), (1, 2)], std::iter::empty()).unwrap();
    let Err(SnapshotError::Corrupt { reason, .. }) = read_snapshot(&info.path) else { panic!() };
    assert!(reason.contains("duplicate session"), "{reason}");

    // The second node refers to ACL list 0; make it 2 (beyond the next new one) and reseal.
    let nodes = vec![("/a".to_string(), n.clone()), ("/b".to_string(), n)];
    let info = write_snapshot(&dir.0, 3, 0, &[], nodes.into_iter()).unwrap();
    let bytes = fs::read(&info.path).unwrap();
    let body_end = bytes.len() - TRAILER_BYTES as usize;
    let second_acl = body_end - 1 - 5 - 4; // terminator, data "x" with its length, index
    let mut body = bytes[..body_end].to_vec();
    assert_eq!(body[second_acl..second_acl + 4], 0u32.to_le_bytes());
    body[second_acl] = 2; // 1 would define a new list

    let Err(SnapshotError::Corrupt { offset, reason, .. }) = parse(&reseal(&body, 2)) else {
        panic!()
    };
    assert_eq!(offset, second_acl as u64);
    assert!(reason.contains("ACL index 2"), "{reason}");
}

#[test]
fn header_zxid_must_match_the_file_name() {
    let dir = TempDir::new("name");
    let (path, bytes) = small_snapshot(&dir.0);
    let renamed = dir.0.join(snapshot_name(0x1_0000_0006));
    fs::rename(&path, &renamed).unwrap();
    let Err(SnapshotError::Corrupt { offset: 12, .. }) = read_snapshot(&renamed) else { panic!() };
    // Any other name is not checked (a copy for inspection).
    let copy = dir.0.join("copy.bin");
    fs::write(&copy, &bytes).unwrap();
    assert_eq!(read_snapshot(&copy).unwrap().zxid, 0x1_0000_0005);
}

#[test]
fn error_display_names_file_and_offset() {
    let dir = TempDir::new("display");
    let path = dir.0.join("zkrsnap.0000000000000001");
    fs::write(&path, b"not a snapshot, clearly not one at all, no matter how long it is").unwrap();
    let e = read_snapshot(&path).unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()) && e.contains("offset 0"), "{e}");
    let e = read_snapshot(&dir.0.join("missing")).unwrap_err();
    assert!(matches!(e, SnapshotError::Io { .. }), "{e}");
    assert!(e.to_string().contains("missing"), "{e}");
}

fn tiny(dir: &Path, zxid: i64) -> PathBuf {
    write_snapshot(dir, zxid, 0, &[], std::iter::empty()).unwrap().path
}

#[test]
fn list_sorts_by_zxid_and_ignores_other_files() {
    let dir = TempDir::new("list");
    assert!(list_snapshots(&dir.0.join("absent")).unwrap().is_empty());
    for z in [5, 0x1_0000_0001, 3, 0x2_0000_0000, 7] {
        tiny(&dir.0, z);
    }
    for junk in [
        "zkrsnap.tmp.0000000000000009.1.0",
        "zkrsnap.junk",
        "zkrsnap.00000000000000AB",
        "zkrsnap.000000000000000",
        "log.1",
    ] {
        fs::write(dir.0.join(junk), b"x").unwrap();
    }
    let zxids: Vec<i64> = list_snapshots(&dir.0).unwrap().into_iter().map(|(z, _)| z).collect();
    assert_eq!(zxids, vec![3, 5, 7, 0x1_0000_0001, 0x2_0000_0000]);
    assert_eq!(snapshot_name(0x2_0000_0000), "zkrsnap.0000000200000000");
    assert_eq!(parse_name("zkrsnap.ffffffffffffffff"), Some(-1));
}

#[test]
fn purge_keeps_the_newest_complete_snapshots() {
    let dir = TempDir::new("purge");
    assert_eq!(purge(&dir.0, 3).unwrap(), None);
    for z in [5, 0x1_0000_0001, 3, 0x2_0000_0000, 7] {
        tiny(&dir.0, z);
    }
    let zxids =
        |d: &Path| -> Vec<i64> { list_snapshots(d).unwrap().into_iter().map(|x| x.0).collect() };
    assert_eq!(purge(&dir.0, 3).unwrap(), Some(7));
    assert_eq!(zxids(&dir.0), vec![7, 0x1_0000_0001, 0x2_0000_0000]);
    // A torn newest snapshot is not counted, and not deleted.
    let newest = dir.0.join(snapshot_name(0x2_0000_0000));
    let bytes = fs::read(&newest).unwrap();
    fs::write(&newest, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(purge(&dir.0, 2).unwrap(), Some(7));
    assert_eq!(zxids(&dir.0), vec![7, 0x1_0000_0001, 0x2_0000_0000]);
    assert_eq!(purge(&dir.0, 0).unwrap(), Some(0x1_0000_0001));
    assert_eq!(zxids(&dir.0), vec![0x1_0000_0001, 0x2_0000_0000]);
}

#[test]
fn temp_files_are_ignored_and_removed_at_startup() {
    let dir = TempDir::new("temp");
    let good = tiny(&dir.0, 9);
    fs::write(dir.0.join("zkrsnap.tmp.000000000000000a.1.0"), b"partial").unwrap();
    fs::write(dir.0.join("zkrsnap.tmp.000000000000000b.1.1"), b"").unwrap();
    assert_eq!(list_snapshots(&dir.0).unwrap(), vec![(9, good.clone())]);
    assert_eq!(purge(&dir.0, 1).unwrap(), Some(9));
    assert_eq!(remove_temp_files(&dir.0).unwrap(), 2);
    let left: Vec<_> = fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(left, vec![good]);
    // Writing leaves no temp file behind, and a failed write removes its own.
    assert_eq!(remove_temp_files(&dir.0).unwrap(), 0);
    let not_a_dir = dir.0.join(snapshot_name(9));
    assert!(matches!(
        write_snapshot(&not_a_dir, 1, 0, &[], std::iter::empty()),
        Err(SnapshotError::Io { .. })
    ));
}

/// A minimal JSON syntax check: one value, then only whitespace.
fn json_ok(s: &str) -> bool {
    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b" \n\r\t".contains(&b[*i]) {
            *i += 1;
        }
    }
    fn value(b: &[u8], i: &mut usize) -> bool {
        ws(b, i);
        let Some(&c) = b.get(*i) else { return false };
        match c {
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                *i += 1;
                ws(b, i);
                if b.get(*i) == Some(&close) {
                    *i += 1;
                    return true;
                }
                loop {
                    if c == b'{' {
                        ws(b, i);
                        if b.get(*i) != Some(&b'"') || !value(b, i) {
                            return false;
                        }
                        ws(b, i);
                        if b.get(*i) != Some(&b':') {
                            return false;
                        }
                        *i += 1;
                    }
                    if !value(b, i) {
                        return false;
                    }
                    ws(b, i);
                    match b.get(*i) {
                        Some(&x) if x == close => {
                            *i += 1;
                            return true;
                        }
                        Some(b',') => *i += 1,
                        _ => return false,
                    }
                }
            }
            b'"' => {
                *i += 1;
                while let Some(&x) = b.get(*i) {
                    *i += 1;
                    match x {
                        b'"' => return true,
                        b'\\' => {
                            let Some(&e) = b.get(*i) else { return false };
                            *i += if e == b'u' { 5 } else { 1 };
                            if !b"\"\\/bfnrtu".contains(&e) {
                                return false;
                            }
                        }
                        x if x < 0x20 => return false,
                        _ => {}
                    }
                }
                false
            }
            _ => {
                let start = *i;
                while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b"-+.".contains(&b[*i])) {
                    *i += 1;
                }
                let t = &s_of(b)[start..*i];
                t == "true" || t == "false" || t == "null" || t.parse::<f64>().is_ok()
            }
        }
    }
    fn s_of(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
    }
    let b = s.as_bytes();
    let mut i = 0;
    let ok = value(b, &mut i);
    ws(b, &mut i);
    ok && i == b.len()
}

#[test]
fn dump_text_and_json() {
    let dir = TempDir::new("dump");
    let odd: Arc<[Acl]> = vec![acl(31, "digest", "u:\"q\"\\"), acl(1 | 64, "ip", "1.2.3.4")].into();
    let open: Arc<[Acl]> = vec![acl(31, "world", "anyone")].into();
    let mk = |owner: i64, data: &[u8], a: &Arc<[Acl]>| {
        Arc::new(Node::new(0x1_0000_0002, 1700, owner, Arc::from(data), a.clone()))
    };
    let mut root = (*mk(0, b"", &open)).clone();
    root.cversion = 3; // three creates, two children left: clients see 2 * 3 - 2 = 4
    let nodes = vec![
        ("/".to_string(), Arc::new(root)),
        ("/a b\n\"c\"\\é".to_string(), mk(0x55, b"hello", &odd)),
        ("/t".to_string(), mk(crate::txn::NodeKind::ttl_owner(500), b"", &open)),
        ("/t/c".to_string(), mk(i64::MIN, b"12", &open)),
    ];
    let info =
        write_snapshot(&dir.0, 0x1_0000_0002, 77, &[(0x55, 9000), (0x12, 100)], nodes.into_iter())
            .unwrap();

    let mut text = Vec::new();
    dump(&info.path, false, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 2 + 4, "{text}");
    assert!(lines[0].contains("zxid 0x100000002 created_ms 77 sessions 2 nodes 4"), "{text}");
    assert_eq!(lines[1], "session 0x12 timeout_ms=100");
    assert!(lines[3].starts_with("/ cZxid=0x100000002 ctime=1700 "), "{text}");
    assert!(lines[3].contains(" cversion=4 ") && lines[3].contains(" numChildren=2 "), "{text}");
    assert!(lines[4].starts_with("/a\\x20b\\n\"c\"\\\\é "), "{text}");
    assert!(lines[4].contains("acl=digest:u:\"q\"\\\\:cdrwa,ip:1.2.3.4:r+0x40"), "{text}");
    assert!(lines[5].contains("ephemeralOwner=0xff000000000001f4 dataLength=0"), "{text}");
    assert!(lines[5].contains("kind=ttl ttl_ms=500"), "{text}");
    assert!(lines[6].contains("kind=container acl=world:anyone:cdrwa"), "{text}");

    let mut json = Vec::new();
    dump(&info.path, true, &mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    assert!(json_ok(&json), "{json}");
    assert!(json.contains("\"path\":\"/a b\\n\\\"c\\\"\\\\é\""), "{json}");
    assert!(json.contains("\"id\":\"u:\\\"q\\\"\\\\\""), "{json}");
    assert!(json.contains("\"zxid\":\"0x100000002\",\"createdMs\":77"), "{json}");
    assert!(json.contains("\"kind\":\"ttl\",\"ttlMs\":500"), "{json}");
    assert!(json.contains("{\"id\":\"0x12\",\"timeoutMs\":100}"), "{json}");
    assert!(!json_ok("{\"a\":1,}") && !json_ok("{\"a\":\"\n\"}") && json_ok("[1,{\"b\":[]}]"));

    // A corrupt file dumps nothing.
    fs::write(&info.path, b"junk").unwrap();
    let mut out = Vec::new();
    assert!(dump(&info.path, true, &mut out).is_err());
    assert!(out.is_empty());
}
