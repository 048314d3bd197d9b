//! Human and JSON dumps of a snapshot file, like ZooKeeper's `zkSnapShotToolkit`.
//!
//! Both list the sessions by id and the nodes by path. Stat fields use ZooKeeper's names and
//! the values a client would see (`cversion` counts creates and deletes, `numChildren` counts
//! the children present in the snapshot), except `ephemeralOwner`, which is the raw stored value
//! (containers and TTL nodes included) with the kind beside it. Zxids and session ids are hex
//! (`0x...`; JSON strings, since they exceed the integers JSON readers keep exactly).

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{FORMAT_VERSION, Snapshot, SnapshotError, read_snapshot};
use crate::proto::records::Acl;
use crate::tree::{Node, path};
use crate::txn::NodeKind;

/// Reads and verifies the snapshot at `path`, then writes it to `out`: as text (a summary
/// line, one line per session, one line per node with its stat, data length and ACL) or, with
/// `json`, as one JSON document. Nothing is written if the snapshot does not verify.
pub fn dump(path: &Path, json: bool, out: &mut impl Write) -> Result<(), SnapshotError> {
    let mut snap = read_snapshot(path)?;
    snap.sessions.sort_unstable();
    snap.nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut w = BufWriter::new(out);
    let written =
        if json { write_json(path, &snap, &mut w) } else { write_text(path, &snap, &mut w) };
    written
        .and_then(|()| w.flush())
        .map_err(|source| SnapshotError::Io { path: PathBuf::from("<dump output>"), source })
}

/// Children of each node (nodes sorted by path), counted from the paths present. A binary
/// search for each parent: sequential enough to beat a hash table of a million paths.
fn child_counts(nodes: &[(String, Node)]) -> Vec<i32> {
    let mut counts = vec![0i32; nodes.len()];
    for (p, _) in nodes {
        let parent =
            path::parent(p).and_then(|pp| nodes.binary_search_by(|(q, _)| q.as_str().cmp(pp)).ok());
        if let Some(c) = parent.and_then(|i| counts.get_mut(i)) {
            *c += 1;
        }
    }
    counts
}

/// A stat value: zxids and owners print in hex, the rest in decimal.
#[derive(Clone, Copy)]
enum Value {
    Hex(i64),
    Dec(i64),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Hex(v) => write!(f, "0x{v:x}"),
            Value::Dec(v) => write!(f, "{v}"),
        }
    }
}

/// The node's stat fields as (name, value) in the order ZooKeeper's `stat` prints them.
fn stat_fields(n: &Node, children: i32) -> [(&'static str, Value); 11] {
    let cversion = n.cversion.wrapping_mul(2).wrapping_sub(children);
    [
        ("cZxid", Value::Hex(n.czxid)),
        ("ctime", Value::Dec(n.ctime)),
        ("mZxid", Value::Hex(n.mzxid)),
        ("mtime", Value::Dec(n.mtime)),
        ("pZxid", Value::Hex(n.pzxid)),
        ("cversion", Value::Dec(cversion.into())),
        ("dataVersion", Value::Dec(n.version.into())),
        ("aclVersion", Value::Dec(n.aversion.into())),
        ("ephemeralOwner", Value::Hex(n.ephemeral_owner)),
        ("dataLength", Value::Dec(n.data.len() as i64)),
        ("numChildren", Value::Dec(children.into())),
    ]
}

/// `persistent`, `ephemeral`, `container` or `ttl`, and the TTL.
fn kind(n: &Node) -> (&'static str, Option<i64>) {
    match n.kind() {
        NodeKind::Persistent => ("persistent", None),
        NodeKind::Ephemeral(_) => ("ephemeral", None),
        NodeKind::Container => ("container", None),
        NodeKind::Ttl(ms) => ("ttl", Some(ms)),
    }
}

/// Appends the permission letters in ZooKeeper's order (`cdrwa`), plus any unknown bits.
fn push_perms(out: &mut String, perms: i32) {
    for (bit, c) in [(4, 'c'), (8, 'd'), (1, 'r'), (2, 'w'), (16, 'a')] {
        if perms & bit != 0 {
            out.push(c);
        }
    }
    if perms & !31 != 0 {
        let _ = write!(out, "+0x{:x}", perms & !31);
    }
}

/// Appends `s` escaped for text output: backslashes, spaces and control characters are
/// escaped, so that every node stays one line of space-separated fields.
fn push_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ' ' => out.push_str("\\x20"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
}

/// Appends `scheme:id:perms` for each entry, comma-separated.
fn push_acl(out: &mut String, acl: &[Acl]) {
    for (i, a) in acl.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_text(out, &a.id.scheme);
        out.push(':');
        push_text(out, &a.id.id);
        out.push(':');
        push_perms(out, a.perms);
    }
}

fn write_text(file: &Path, snap: &Snapshot, w: &mut impl Write) -> io::Result<()> {
    let mut line = String::new();
    push_text(&mut line, &file.display().to_string());
    writeln!(
        w,
        "snapshot {line} format {FORMAT_VERSION} zxid 0x{:x} created_ms {} sessions {} nodes {}",
        snap.zxid,
        snap.created_ms,
        snap.sessions.len(),
        snap.nodes.len()
    )?;
    for (id, timeout_ms) in &snap.sessions {
        writeln!(w, "session 0x{id:x} timeout_ms={timeout_ms}")?;
    }
    let children = child_counts(&snap.nodes);
    for ((p, n), &children) in snap.nodes.iter().zip(&children) {
        line.clear();
        push_text(&mut line, p);
        for (name, value) in stat_fields(n, children) {
            let _ = write!(line, " {name}={value}");
        }
        match kind(n) {
            (k, Some(ttl)) => {
                let _ = write!(line, " kind={k} ttl_ms={ttl}");
            }
            (k, None) => {
                let _ = write!(line, " kind={k}");
            }
        }
        line.push_str(" acl=");
        push_acl(&mut line, &n.acl);
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Appends `s` as a JSON string literal (the log dump's escaping).
fn json_str(out: &mut String, s: &str) {
    crate::log::text::json_str(s, out);
}

fn write_json(file: &Path, snap: &Snapshot, w: &mut impl Write) -> io::Result<()> {
    let mut s = String::from("{\"file\":");
    json_str(&mut s, &file.display().to_string());
    let _ = write!(
        s,
        ",\"format\":{FORMAT_VERSION},\"zxid\":\"0x{:x}\",\"createdMs\":{},\"sessions\":[",
        snap.zxid, snap.created_ms
    );
    for (i, (id, timeout_ms)) in snap.sessions.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(s, "{sep}\n  {{\"id\":\"0x{id:x}\",\"timeoutMs\":{timeout_ms}}}");
    }
    s.push_str("],\"nodes\":[");
    w.write_all(s.as_bytes())?;
    let children = child_counts(&snap.nodes);
    for (i, ((p, n), &children)) in snap.nodes.iter().zip(&children).enumerate() {
        s.clear();
        s.push_str(if i == 0 { "\n  {\"path\":" } else { ",\n  {\"path\":" });
        json_str(&mut s, p);
        for (name, value) in stat_fields(n, children) {
            let _ = match value {
                Value::Hex(_) => write!(s, ",\"{name}\":\"{value}\""),
                Value::Dec(_) => write!(s, ",\"{name}\":{value}"),
            };
        }
        let (k, ttl) = kind(n);
        let _ = write!(s, ",\"kind\":\"{k}\"");
        if let Some(ttl) = ttl {
            let _ = write!(s, ",\"ttlMs\":{ttl}");
        }
        s.push_str(",\"acl\":[");
        for (j, a) in n.acl.iter().enumerate() {
            let _ =
                write!(s, "{}{{\"perms\":{},\"scheme\":", if j == 0 { "" } else { "," }, a.perms);
            json_str(&mut s, &a.id.scheme);
            s.push_str(",\"id\":");
            json_str(&mut s, &a.id.id);
            s.push('}');
        }
        s.push_str("]}");
        w.write_all(s.as_bytes())?;
    }
    w.write_all(b"]}\n")
}
