//! ACL schemes (world, auth, digest, ip, super) and permission checks, as ZooKeeper's
//! `PrepRequestProcessor.fixupACL` and `ZooKeeperServer.checkACL`.
//!
//! Pure: no I/O. Digests are computed here (SHA-1 + base64) because both the auth step and the
//! check need them.

use base64::Engine;
use sha1::Digest;

use crate::proto::error_code::ErrorCode;
use crate::proto::records::{Acl, Id};

/// Permission bits (ZooDefs.Perms).
pub mod perms {
    /// Read data and list children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 2;
    /// Create children.
    pub const CREATE: i32 = 4;
    /// Delete children.
    pub const DELETE: i32 = 8;
    /// Set ACLs.
    pub const ADMIN: i32 = 16;
    /// Everything.
    pub const ALL: i32 = 31;
}

/// `world:anyone` with all permissions, ZooKeeper's `OPEN_ACL_UNSAFE`.
pub fn open_acl() -> Vec<Acl> {
    vec![Acl { perms: perms::ALL, id: Id { scheme: "world".into(), id: "anyone".into() } }]
}

/// `user:base64(sha1(user:password))` for a `user:password` string, as
/// `DigestAuthenticationProvider.generateDigest`.
pub fn generate_digest(id_password: &str) -> String {
    let user = id_password.split(':').next().unwrap_or("");
    let hash = sha1::Sha1::digest(id_password.as_bytes());
    format!("{}:{}", user, base64::engine::general_purpose::STANDARD.encode(hash))
}

/// The identities a connection has proven (its `authInfo`).
#[derive(Debug, Clone, Default)]
pub struct AuthIds {
    /// Ids in the order they were added; `ip:<addr>` first.
    pub ids: Vec<Id>,
}

impl AuthIds {
    /// The ids a fresh connection from `ip` has.
    pub fn for_ip(ip: &str) -> AuthIds {
        AuthIds { ids: vec![Id { scheme: "ip".into(), id: ip.into() }] }
    }

    /// True if one of the ids is the super user.
    pub fn is_super(&self) -> bool {
        self.ids.iter().any(|i| i.scheme == "super")
    }
}

/// Result of an `auth` request (xid -4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Ids to add to the connection.
    Added(Vec<Id>),
    /// Unknown scheme or bad credentials: ZooKeeper answers `AuthFailed` and closes.
    Failed,
}

/// Handles `addAuth(scheme, auth)`. `super_digest` is `super:<digest>` from the config.
pub fn authenticate(scheme: &str, auth: &[u8], super_digest: Option<&str>) -> AuthOutcome {
    match scheme {
        "digest" => {
            let Ok(text) = std::str::from_utf8(auth) else {
                return AuthOutcome::Failed;
            };
            let digest = generate_digest(text);
            let mut ids = vec![Id { scheme: "digest".into(), id: digest.clone() }];
            if super_digest == Some(digest.as_str()) {
                ids.push(Id { scheme: "super".into(), id: String::new() });
            }
            AuthOutcome::Added(ids)
        }
        // ZooKeeper's IPAuthenticationProvider refuses explicit auth.
        _ => AuthOutcome::Failed,
    }
}

/// Validates and expands an ACL list for create/setACL (`fixupACL`). The `auth` scheme becomes
/// the connection's authenticated ids.
pub fn fixup(acl: &[Acl], auth: &AuthIds) -> Result<Vec<Acl>, ErrorCode> {
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if a.perms & !perms::ALL != 0 && a.perms < 0 {
            return Err(ErrorCode::InvalidAcl);
        }
        match a.id.scheme.as_str() {
            "world" if a.id.id == "anyone" => push_unique(&mut out, a.clone()),
            "auth" => {
                let mut added = false;
                for id in &auth.ids {
                    if id.scheme == "digest" || id.scheme == "super" {
                        push_unique(&mut out, Acl { perms: a.perms, id: id.clone() });
                        added = true;
                    }
                }
                if !added {
                    return Err(ErrorCode::InvalidAcl);
                }
            }
            "digest" if valid_digest_id(&a.id.id) => push_unique(&mut out, a.clone()),
            "ip" if parse_ip_id(&a.id.id).is_some() => push_unique(&mut out, a.clone()),
            "super" => push_unique(&mut out, a.clone()),
            _ => return Err(ErrorCode::InvalidAcl),
        }
    }
    Ok(out)
}

fn push_unique(out: &mut Vec<Acl>, acl: Acl) {
    if !out.contains(&acl) {
        out.push(acl);
    }
}

fn valid_digest_id(id: &str) -> bool {
    id.split(':').count() == 2
}

/// Parses `a.b.c.d`, `a.b.c.d/bits` or an IPv6 literal with optional `/bits`.
fn parse_ip_id(id: &str) -> Option<(std::net::IpAddr, u32)> {
    let (addr, bits) = match id.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (id, None),
    };
    let ip: std::net::IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    if bits > max {
        return None;
    }
    Some((ip, bits))
}

fn ip_matches(acl_id: &str, client: &str) -> bool {
    let (Some((net, bits)), Ok(ip)) = (parse_ip_id(acl_id), client.parse::<std::net::IpAddr>())
    else {
        return false;
    };
    match (net, ip) {
        (std::net::IpAddr::V4(n), std::net::IpAddr::V4(c)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(c) & mask
        }
        (std::net::IpAddr::V6(n), std::net::IpAddr::V6(c)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(c) & mask
        }
        _ => false,
    }
}

/// True if `auth` may do `perm` on a node whose ACL is `acl` (ZooKeeper's `checkACL`).
pub fn allows(acl: &[Acl], perm: i32, auth: &AuthIds) -> bool {
    if auth.is_super() || acl.is_empty() {
        return true;
    }
    for a in acl {
        if a.perms & perm == 0 {
            continue;
        }
        let matched = match a.id.scheme.as_str() {
            "world" => a.id.id == "anyone",
            "digest" => auth.ids.iter().any(|i| i.scheme == "digest" && i.id == a.id.id),
            "ip" => auth.ids.iter().any(|i| i.scheme == "ip" && ip_matches(&a.id.id, &i.id)),
            "super" => false,
            _ => false,
        };
        if matched {
            return true;
        }
    }
    false
}

/// The ACL as `getACL` shows it to a caller without ADMIN: digest hashes hidden.
pub fn redacted(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl { perms: a.perms, id: Id { scheme: "digest".into(), id: format!("{user}:x") } }
            } else {
                a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str, i: &str) -> Id {
        Id { scheme: s.into(), id: i.into() }
    }

    #[test]
    fn digest_matches_zookeeper() {
        // Known value: DigestAuthenticationProvider.generateDigest("super:test").
        assert_eq!(generate_digest("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    }

    #[test]
    fn checks() {
        let auth = AuthIds { ids: vec![id("ip", "127.0.0.1")] };
        let acl = vec![Acl { perms: perms::READ, id: id("ip", "127.0.0.0/8") }];
        assert!(allows(&acl, perms::READ, &auth));
        assert!(!allows(&acl, perms::WRITE, &auth));
        let acl = vec![Acl { perms: perms::ALL, id: id("digest", &generate_digest("u:p")) }];
        assert!(!allows(&acl, perms::READ, &auth));
        let AuthOutcome::Added(ids) = authenticate("digest", b"u:p", None) else { panic!() };
        let auth2 = AuthIds { ids };
        assert!(allows(&acl, perms::READ, &auth2));
        assert_eq!(fixup(&[Acl { perms: 31, id: id("auth", "") }], &auth), Err(ErrorCode::InvalidAcl));
        assert_eq!(fixup(&[Acl { perms: 31, id: id("auth", "") }], &auth2).map(|v| v.len()), Ok(1));
        assert_eq!(fixup(&[], &auth), Err(ErrorCode::InvalidAcl));
        assert_eq!(fixup(&[Acl { perms: 31, id: id("foo", "x") }], &auth), Err(ErrorCode::InvalidAcl));
    }
}
