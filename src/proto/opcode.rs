//! The protocol's numbered constants other than error codes: opcodes (`ZooDefs.OpCode`), special
//! xids (`ClientCnxn`), permission bits (`ZooDefs.Perms`), create modes (`CreateMode`), addWatch
//! modes (`AddWatchMode`) and the watcher enums (`Watcher.Event.EventType`,
//! `Watcher.Event.KeeperState`, `Watcher.WatcherType`), as in ZooKeeper 3.9.
//!
//! Owns: the numbers and their names. Must not do: I/O, or decide what a request means (that is
//! `request`); `OpCode::is_write` only says which path a request takes.

/// Declares a fieldless `#[repr(i32)]` enum and gives it `from_i32` and `as_i32`, so the list
/// of variants is written once.
macro_rules! i32_enum {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident { $( $(#[$variant_meta:meta])* $variant:ident = $value:expr ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[repr(i32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty {
            $( $(#[$variant_meta])* $variant = $value, )+
        }

        impl $ty {
            /// The variant with this wire value, if any.
            pub const fn from_i32(v: i32) -> Option<Self> {
                $( if v == $value { return Some($ty::$variant); } )+
                None
            }

            /// The wire value.
            pub const fn as_i32(self) -> i32 {
                self as i32
            }
        }
    };
}

i32_enum! {
    /// The `type` of a `RequestHeader` (`ZooDefs.OpCode`). Values between the listed ones are not
    /// opcodes (10 was never used).
    pub enum OpCode {
        /// Not a request; the opcode of notifications in ZooKeeper's own bookkeeping.
        Notification = 0,
        /// create: reply `CreateResponse`.
        Create = 1,
        /// delete.
        Delete = 2,
        /// exists.
        Exists = 3,
        /// getData.
        GetData = 4,
        /// setData.
        SetData = 5,
        /// getACL.
        GetAcl = 6,
        /// setACL.
        SetAcl = 7,
        /// getChildren.
        GetChildren = 8,
        /// sync.
        Sync = 9,
        /// ping (xid -2).
        Ping = 11,
        /// getChildren2: children plus the parent's Stat.
        GetChildren2 = 12,
        /// check: a version check, only valid inside a multi since 3.9 (ZOOKEEPER-2623).
        Check = 13,
        /// multi: all-or-nothing batch of writes.
        Multi = 14,
        /// create2: reply `Create2Response` (path and Stat).
        Create2 = 15,
        /// reconfig.
        Reconfig = 16,
        /// checkWatches.
        CheckWatches = 17,
        /// removeWatches.
        RemoveWatches = 18,
        /// createContainer.
        CreateContainer = 19,
        /// deleteContainer: made by the server's container sweeper, not by clients.
        DeleteContainer = 20,
        /// createTTL.
        CreateTtl = 21,
        /// multiRead: a batch of getData/getChildren, each failing on its own.
        MultiRead = 22,
        /// auth (xid -4).
        Auth = 100,
        /// setWatches (xid -8).
        SetWatches = 101,
        /// sasl.
        Sasl = 102,
        /// getEphemerals.
        GetEphemerals = 103,
        /// getAllChildrenNumber.
        GetAllChildrenNumber = 104,
        /// setWatches2 (xid -8).
        SetWatches2 = 105,
        /// addWatch.
        AddWatch = 106,
        /// whoAmI.
        WhoAmI = 107,
        /// createSession: a txn type, not sent by clients (they send a `ConnectRequest`).
        CreateSession = -10,
        /// closeSession: a client's goodbye (no body), and the txn of a closed or expired session.
        CloseSession = -11,
        /// error: the txn type of a request that failed in prep, and of failed ops in a multi.
        Error = -1,
    }
}

impl OpCode {
    /// True for requests that change the tree or the session table and so go through
    /// consensus: ZooKeeper's `Request.isQuorum()` for a global (non-local) session, minus
    /// `Error`, which is a txn type rather than a request.
    ///
    /// `sync` is false here, as in `isQuorum`: it changes nothing, though a follower still sends
    /// it to the leader so that its answer comes after every write committed before it.
    /// `check` is true, as in `isQuorum`, but since 3.9 ZooKeeper refuses it outside a multi
    /// (`Request.isValid` is false: it answers UNIMPLEMENTED and closes the session).
    pub const fn is_write(self) -> bool {
        matches!(
            self,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
                | OpCode::CreateSession
                | OpCode::CloseSession
        )
    }

    /// The name ZooKeeper logs for it (`Request.op2String`): camelCase, e.g. `getChildren2`,
    /// `createTTL`, `getACL`.
    pub const fn name(self) -> &'static str {
        match self {
            OpCode::Notification => "notification",
            OpCode::Create => "create",
            OpCode::Delete => "delete",
            OpCode::Exists => "exists",
            OpCode::GetData => "getData",
            OpCode::SetData => "setData",
            OpCode::GetAcl => "getACL",
            OpCode::SetAcl => "setACL",
            OpCode::GetChildren => "getChildren",
            OpCode::Sync => "sync",
            OpCode::Ping => "ping",
            OpCode::GetChildren2 => "getChildren2",
            OpCode::Check => "check",
            OpCode::Multi => "multi",
            OpCode::Create2 => "create2",
            OpCode::Reconfig => "reconfig",
            OpCode::CheckWatches => "checkWatches",
            OpCode::RemoveWatches => "removeWatches",
            OpCode::CreateContainer => "createContainer",
            OpCode::DeleteContainer => "deleteContainer",
            OpCode::CreateTtl => "createTTL",
            OpCode::MultiRead => "multiRead",
            OpCode::Auth => "auth",
            OpCode::SetWatches => "setWatches",
            OpCode::Sasl => "sasl",
            OpCode::GetEphemerals => "getEphemerals",
            OpCode::GetAllChildrenNumber => "getAllChildrenNumber",
            OpCode::SetWatches2 => "setWatches2",
            OpCode::AddWatch => "addWatch",
            OpCode::WhoAmI => "whoAmI",
            OpCode::CreateSession => "createSession",
            OpCode::CloseSession => "closeSession",
            OpCode::Error => "error",
        }
    }
}

impl std::fmt::Display for OpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Special xids (`ClientCnxn`): requests and replies that are not matched by a client counter.
pub mod xid {
    /// A watch notification from the server.
    pub const NOTIFICATION: i32 = -1;
    /// A ping and its reply.
    pub const PING: i32 = -2;
    /// An auth request and its reply.
    pub const AUTH: i32 = -4;
    /// A setWatches/setWatches2 request and its reply.
    pub const SET_WATCHES: i32 = -8;
}

/// ACL permission bits (`ZooDefs.Perms`).
pub mod perms {
    /// getData, getChildren, exists-with-Stat.
    pub const READ: i32 = 1;
    /// setData.
    pub const WRITE: i32 = 1 << 1;
    /// create children.
    pub const CREATE: i32 = 1 << 2;
    /// delete children.
    pub const DELETE: i32 = 1 << 3;
    /// setACL (and reading the ACL with its digests).
    pub const ADMIN: i32 = 1 << 4;
    /// All of the above.
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

i32_enum! {
    /// The `flags` of a create request (`CreateMode`).
    pub enum CreateMode {
        /// Stays until deleted.
        Persistent = 0,
        /// Deleted when its session ends.
        Ephemeral = 1,
        /// Persistent, with a 10-digit sequence suffix.
        PersistentSequential = 2,
        /// Ephemeral, with a 10-digit sequence suffix.
        EphemeralSequential = 3,
        /// Deleted by the server once it had children and has none left.
        Container = 4,
        /// Deleted by the server once it has no children and was not modified for its TTL.
        PersistentWithTtl = 5,
        /// TTL node with a sequence suffix.
        PersistentSequentialWithTtl = 6,
    }
}

impl CreateMode {
    /// The mode for a request's `flags`, or `None` if ZooKeeper's `CreateMode.fromFlag` would
    /// throw (it answers BADARGUMENTS then).
    pub const fn from_flags(flags: i32) -> Option<Self> {
        Self::from_i32(flags)
    }

    /// The request `flags` value.
    pub const fn to_flags(self) -> i32 {
        self as i32
    }

    /// Owned by a session.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// Gets a sequence suffix.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// A container node.
    pub const fn is_container(self) -> bool {
        matches!(self, CreateMode::Container)
    }

    /// A TTL node.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

i32_enum! {
    /// The `mode` of an addWatch request (`AddWatchMode`).
    pub enum AddWatchMode {
        /// Fires on data changes and child list changes of the node, and stays.
        Persistent = 0,
        /// Fires on changes of the node and of every node below it, and stays.
        PersistentRecursive = 1,
    }
}

i32_enum! {
    /// The `type` of checkWatches/removeWatches (`Watcher.WatcherType`).
    pub enum WatcherType {
        /// Child watches.
        Children = 1,
        /// Data and exists watches.
        Data = 2,
        /// Every kind of watch on the path.
        Any = 3,
        /// Persistent watches only (3.9+, ZOOKEEPER-4472).
        Persistent = 4,
        /// Persistent recursive watches only (3.9+, ZOOKEEPER-4472).
        PersistentRecursive = 5,
    }
}

i32_enum! {
    /// `WatcherEvent.type` (`Watcher.Event.EventType`).
    pub enum EventType {
        /// A change of connection state, not of a node.
        None = -1,
        /// The node was created.
        NodeCreated = 1,
        /// The node was deleted.
        NodeDeleted = 2,
        /// The node's data changed.
        NodeDataChanged = 3,
        /// The node's children changed.
        NodeChildrenChanged = 4,
        /// A data watch was removed (removeWatches).
        DataWatchRemoved = 5,
        /// A child watch was removed (removeWatches).
        ChildWatchRemoved = 6,
        /// A persistent watch was removed (removeWatches).
        PersistentWatchRemoved = 7,
    }
}

i32_enum! {
    /// `WatcherEvent.state` (`Watcher.Event.KeeperState`). ZooKeeper also declares the deprecated
    /// `Unknown` (-1) and `NoSyncConnected` (1), which no server sends; they are left out.
    pub enum KeeperState {
        /// The client is not connected.
        Disconnected = 0,
        /// Connected; the state every node event carries.
        SyncConnected = 3,
        /// Authentication failed.
        AuthFailed = 4,
        /// Connected to a read-only server.
        ConnectedReadOnly = 5,
        /// SASL authentication succeeded.
        SaslAuthenticated = 6,
        /// The session expired.
        Expired = -112,
        /// The client closed the session.
        Closed = 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_round_trip_and_gaps_are_none() {
        let mut known = 0;
        for v in -20..200 {
            if let Some(op) = OpCode::from_i32(v) {
                assert_eq!(op.as_i32(), v);
                assert!(!op.name().is_empty());
                known += 1;
            }
        }
        assert_eq!(known, 33);
        assert_eq!(OpCode::from_i32(10), None);
        assert_eq!(OpCode::from_i32(23), None);
        assert_eq!(OpCode::from_i32(108), None);
        assert_eq!(OpCode::from_i32(i32::MIN), None);
    }

    #[test]
    fn values_match_zoodefs() {
        assert_eq!(OpCode::CreateTtl as i32, 21);
        assert_eq!(OpCode::WhoAmI as i32, 107);
        assert_eq!(OpCode::CloseSession as i32, -11);
        assert_eq!(OpCode::CreateTtl.name(), "createTTL");
        assert_eq!(OpCode::GetAcl.to_string(), "getACL");
        assert_eq!(perms::ALL, 31);
        assert_eq!(perms::ADMIN, 16);
    }

    #[test]
    fn writes_follow_is_quorum() {
        assert!(OpCode::Create.is_write());
        assert!(OpCode::Multi.is_write());
        assert!(OpCode::CloseSession.is_write());
        assert!(!OpCode::MultiRead.is_write());
        assert!(!OpCode::Sync.is_write());
        assert!(!OpCode::GetData.is_write());
        assert!(!OpCode::Error.is_write());
        assert!(!OpCode::SetWatches.is_write());
    }

    #[test]
    fn create_modes() {
        for flags in 0..7 {
            let mode = CreateMode::from_flags(flags).expect("flags 0..=6 are modes");
            assert_eq!(mode.to_flags(), flags);
        }
        assert_eq!(CreateMode::from_flags(7), None);
        assert_eq!(CreateMode::from_flags(-1), None);
        let m = CreateMode::PersistentSequentialWithTtl;
        assert!(m.is_sequential() && m.is_ttl() && !m.is_ephemeral() && !m.is_container());
        let m = CreateMode::EphemeralSequential;
        assert!(m.is_sequential() && m.is_ephemeral() && !m.is_ttl());
        assert!(CreateMode::Container.is_container());
        assert!(!CreateMode::Persistent.is_sequential());
    }

    #[test]
    fn watcher_enums() {
        assert_eq!(EventType::from_i32(-1), Some(EventType::None));
        assert_eq!(EventType::from_i32(0), None);
        assert_eq!(EventType::PersistentWatchRemoved.as_i32(), 7);
        assert_eq!(KeeperState::from_i32(-112), Some(KeeperState::Expired));
        assert_eq!(KeeperState::from_i32(1), None);
        assert_eq!(
            WatcherType::from_i32(5),
            Some(WatcherType::PersistentRecursive)
        );
        assert_eq!(WatcherType::from_i32(0), None);
        assert_eq!(
            AddWatchMode::from_i32(1),
            Some(AddWatchMode::PersistentRecursive)
        );
        assert_eq!(AddWatchMode::from_i32(2), None);
    }
}
