//! Znode path rules, as ZooKeeper's `PathUtils.validatePath`, and path helpers.
//!
//! Pure functions; a bad path is a client error (`BadArguments`), never a panic.

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPath(pub &'static str);

/// Checks a znode path the way ZooKeeper does.
///
/// `sequential` allows a trailing `/` (ZooKeeper validates `path + "1"` for sequential creates).
pub fn validate(path: &str, sequential: bool) -> Result<(), InvalidPath> {
    if sequential {
        let mut with_suffix = String::with_capacity(path.len() + 1);
        with_suffix.push_str(path);
        with_suffix.push('1');
        return validate(&with_suffix, false);
    }
    if path.is_empty() {
        return Err(InvalidPath("path length must be > 0"));
    }
    if path.len() > crate::constants::PATH_BYTES_MAX {
        return Err(InvalidPath("path too long"));
    }
    if !path.starts_with('/') {
        return Err(InvalidPath("path must start with / character"));
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(InvalidPath("path must not end with / character"));
    }
    // The two characters before `c` and the one after it, without collecting the path (this
    // runs for every write, on the consensus core).
    let (mut before, mut prev) = ('/', '/');
    let mut chars = path.chars().skip(1).peekable();
    while let Some(c) = chars.next() {
        let after = chars.peek().copied();
        if c == '\0' {
            return Err(InvalidPath("null character not allowed"));
        }
        if c == '/' && prev == '/' {
            return Err(InvalidPath("empty node name specified"));
        }
        if c == '.' && prev == '.' && before == '/' && (after.is_none() || after == Some('/')) {
            return Err(InvalidPath("relative paths not allowed"));
        }
        if c == '.' && prev == '/' && (after.is_none() || after == Some('/')) {
            return Err(InvalidPath("relative paths not allowed"));
        }
        if bad_char(c) {
            return Err(InvalidPath("invalid character"));
        }
        (before, prev) = (prev, c);
    }
    Ok(())
}

fn bad_char(c: char) -> bool {
    let u = c as u32;
    // Java sees characters outside the BMP as surrogate pairs (0xd800..), which it refuses.
    if u > 0xffff {
        return true;
    }
    (u > 0 && u <= 0x1f)
        || (0x7f..=0x9f).contains(&u)
        || (0xd800..=0xf8ff).contains(&u)
        || (0xfff0..=0xffff).contains(&u)
}

/// The parent of a valid path (`/` for top-level nodes). `None` for the root.
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a valid path (empty for the root).
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    let mut s = String::with_capacity(parent.len() + 1 + child.len());
    s.push_str(parent);
    if !parent.ends_with('/') {
        s.push('/');
    }
    s.push_str(child);
    s
}

/// True if `path` is `ancestor` or below it.
pub fn is_at_or_below(path: &str, ancestor: &str) -> bool {
    if ancestor == "/" {
        return true;
    }
    path == ancestor
        || (path.len() > ancestor.len()
            && path.starts_with(ancestor)
            && path.as_bytes()[ancestor.len()] == b'/')
}

/// The names of the system subtree ZooKeeper keeps under `/zookeeper`.
pub const ZOOKEEPER_DIR: &str = "/zookeeper";
/// Quota subtree.
pub const QUOTA_DIR: &str = "/zookeeper/quota";
/// Dynamic config node.
pub const CONFIG_NODE: &str = "/zookeeper/config";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_zookeeper() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/...", "/a/.b", "/zookeeper"] {
            assert!(validate(ok, false).is_ok(), "{ok}");
        }
        for bad in ["", "a", "/a/", "//", "/a//b", "/.", "/..", "/a/./b", "/a/../b", "/a\0b"] {
            assert!(validate(bad, false).is_err(), "{bad:?}");
        }
        assert!(validate("/a/", true).is_ok());
        assert!(validate("/a\u{1}", false).is_err());
    }

    /// The check as first written (collecting the path's chars), to compare against.
    fn validate_by_index(path: &str) -> bool {
        if path.is_empty() || path.len() > crate::constants::PATH_BYTES_MAX || !path.starts_with('/') {
            return false;
        }
        if path.len() == 1 {
            return true;
        }
        if path.ends_with('/') {
            return false;
        }
        let chars: Vec<char> = path.chars().collect();
        for i in 1..chars.len() {
            let (c, prev) = (chars[i], chars[i - 1]);
            let before = if i >= 2 { chars[i - 2] } else { '/' };
            let after = chars.get(i + 1).copied();
            let ends_name = after.is_none() || after == Some('/');
            if c == '\0' || (c == '/' && prev == '/') || bad_char(c) {
                return false;
            }
            if c == '.' && ((prev == '.' && before == '/' && ends_name) || (prev == '/' && ends_name)) {
                return false;
            }
        }
        true
    }

    #[test]
    fn validation_agrees_with_the_indexed_check_on_every_short_path() {
        let alphabet = ['/', '.', 'a', '\0', '\u{1}', 'é', '\u{10000}'];
        let mut paths = vec![String::new()];
        for _ in 0..6 {
            let longer: Vec<String> =
                paths.iter().flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}"))).collect();
            for p in &longer {
                assert_eq!(validate(p, false).is_ok(), validate_by_index(p), "{p:?}");
            }
            paths = longer;
        }
    }

    #[test]
    fn parents_and_names() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(name("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert!(is_at_or_below("/a/b", "/a"));
        assert!(!is_at_or_below("/ab", "/a"));
        assert!(is_at_or_below("/a", "/"));
    }
}
