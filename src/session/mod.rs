//! The session table: ids, passwords, negotiated timeouts and expiry deadlines.
//!
//! Pure: time comes in as `now_ms` from the caller, the password secret is given at
//! construction. Owned by the consensus core (the leader decides when a session expires).

use std::collections::BTreeMap;

use sha1::Digest;

use crate::constants::SESSION_PASSWD_BYTES;
use crate::types::{ConnId, SessionId};

/// One live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// Negotiated timeout.
    pub timeout_ms: i32,
    /// Expires when the clock passes this without a touch.
    pub deadline_ms: i64,
    /// Connection that currently owns it, if any.
    pub owner: Option<ConnId>,
    /// A closeSession txn is in flight; no more touches count.
    pub closing: bool,
}

/// All sessions of the server.
#[derive(Debug)]
pub struct SessionTable {
    sessions: BTreeMap<SessionId, Session>,
    next_id: i64,
    secret: u64,
}

impl SessionTable {
    /// A table for server `server_id`, seeding ids from `now_ms` as ZooKeeper's
    /// `SessionTrackerImpl.initializeNextSessionId` does.
    pub fn new(server_id: u64, now_ms: i64, secret: u64) -> SessionTable {
        let base = ((now_ms << 24) as u64 >> 8) as i64;
        let next_id = base | ((server_id as i64) << 56);
        SessionTable { sessions: BTreeMap::new(), next_id, secret }
    }

    /// Hands out the next session id.
    pub fn next_session_id(&mut self) -> SessionId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The password of a session: derived from the id and the server secret, so it never has to
    /// be stored.
    pub fn passwd(&self, id: SessionId) -> Vec<u8> {
        let mut h = sha1::Sha1::new();
        h.update(self.secret.to_le_bytes());
        h.update(id.to_le_bytes());
        h.finalize()[..SESSION_PASSWD_BYTES].to_vec()
    }

    /// True if `passwd` is the password of `id`.
    pub fn check_passwd(&self, id: SessionId, passwd: &[u8]) -> bool {
        self.passwd(id) == passwd
    }

    /// Registers a session (from a createSession txn).
    pub fn add(&mut self, id: SessionId, timeout_ms: i32, now_ms: i64) {
        let deadline_ms = now_ms + timeout_ms as i64;
        self.sessions
            .insert(id, Session { id, timeout_ms, deadline_ms, owner: None, closing: false });
        if id >= self.next_id && (id >> 56) == (self.next_id >> 56) {
            self.next_id = id + 1;
        }
    }

    /// The session, if live.
    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// Sets the connection that owns the session; returns the previous owner.
    pub fn set_owner(&mut self, id: SessionId, owner: Option<ConnId>) -> Option<ConnId> {
        match self.sessions.get_mut(&id) {
            Some(s) => std::mem::replace(&mut s.owner, owner),
            None => None,
        }
    }

    /// Pushes the deadline out; false if the session is gone or closing.
    pub fn touch(&mut self, id: SessionId, now_ms: i64) -> bool {
        match self.sessions.get_mut(&id) {
            Some(s) if !s.closing => {
                s.deadline_ms = s.deadline_ms.max(now_ms + s.timeout_ms as i64);
                true
            }
            _ => false,
        }
    }

    /// Marks a session as closing (its closeSession txn is in flight).
    pub fn set_closing(&mut self, id: SessionId) -> bool {
        match self.sessions.get_mut(&id) {
            Some(s) if !s.closing => {
                s.closing = true;
                true
            }
            _ => false,
        }
    }

    /// Sessions whose deadline has passed and that are not already closing.
    pub fn expired(&self, now_ms: i64) -> Vec<SessionId> {
        self.sessions
            .values()
            .filter(|s| !s.closing && s.deadline_ms <= now_ms)
            .map(|s| s.id)
            .collect()
    }

    /// Forgets a session (from a closeSession txn).
    pub fn remove(&mut self, id: SessionId) -> Option<Session> {
        self.sessions.remove(&id)
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True if there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// All sessions, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }
}

/// Clamps a requested timeout into `[min, max]`, as ZooKeeper's `processConnectRequest`.
pub fn negotiate_timeout(requested_ms: i32, min_ms: u32, max_ms: u32) -> i32 {
    requested_ms.clamp(min_ms as i32, max_ms as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_touch() {
        let mut t = SessionTable::new(0, 1_000, 7);
        let id = t.next_session_id();
        t.add(id, 400, 0);
        assert!(t.expired(399).is_empty());
        assert!(t.touch(id, 300));
        assert!(t.expired(699).is_empty());
        assert_eq!(t.expired(700), vec![id]);
        assert!(t.set_closing(id));
        assert!(t.expired(10_000).is_empty());
        assert!(t.check_passwd(id, &t.passwd(id)));
        assert!(!t.check_passwd(id, &[0; 16]));
        assert_eq!(negotiate_timeout(1, 400, 4000), 400);
        assert_eq!(negotiate_timeout(1 << 30, 400, 4000), 4000);
    }
}
