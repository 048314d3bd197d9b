//! The records of `zookeeper.jute` (ZooKeeper 3.9) as Rust structs, each with its jute encoding.
//!
//! Owns: one struct per record, fields in wire order, named as in `zookeeper.jute` in
//! snake_case (a field the jute file calls `type` gets a qualified name: `op_type`,
//! `auth_type`, `event_type`, `watcher_type`, `txn_type`). Must not do: I/O, validation beyond
//! the encoding (paths, ACLs and versions are checked by `tree` and `request`), or multi framing
//! (see `multi`).
//!
//! Two records are not plain field lists, because ZooKeeper does not treat them as such:
//! `ConnectRequest.readOnly` and `ConnectResponse.readOnly` are optional trailing booleans
//! (clients before 3.4 neither send nor expect them). Everything else is declared through
//! `records!`, which reads and writes the fields in the order they are listed; keep that order
//! identical to `zookeeper.jute`.
//!
//! A jute `buffer` or `ustring` that arrives as null (-1) decodes to empty here; encoders write
//! empty, never null. Records of `zookeeper.jute` left out: `CreateTxnV0` (pre-3.3 logs), the
//! quorum and file records (`LearnerInfo`, `QuorumPacket`, `QuorumAuthPacket`, `FileHeader`,
//! `TxnDigest`), which zkr's own peer and disk formats replace.

use super::jute::{self, DecodeError, Jute, JuteReader};

/// How one field type is read and written; lets `records!` derive a record's codec from its
/// field list.
trait Field: Sized {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError>;
    fn write_field(&self, w: &mut Vec<u8>);
}

impl Field for i32 {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        r.read_i32()
    }
    fn write_field(&self, w: &mut Vec<u8>) {
        jute::write_i32(w, *self);
    }
}

impl Field for i64 {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        r.read_i64()
    }
    fn write_field(&self, w: &mut Vec<u8>) {
        jute::write_i64(w, *self);
    }
}

impl Field for bool {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        r.read_bool()
    }
    fn write_field(&self, w: &mut Vec<u8>) {
        jute::write_bool(w, *self);
    }
}

/// jute `ustring`.
impl Field for String {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        r.read_string()
    }
    fn write_field(&self, w: &mut Vec<u8>) {
        jute::write_string(w, self);
    }
}

/// jute `buffer`.
impl Field for Vec<u8> {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        r.read_buffer()
    }
    fn write_field(&self, w: &mut Vec<u8>) {
        jute::write_buffer(w, self);
    }
}

/// jute `vector<ustring>`.
/// A buffer that may be null (length -1), kept apart from empty: znode data is one.
impl Field for Option<Vec<u8>> {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        r.read_buffer_opt()
    }
    fn write_field(&self, w: &mut Vec<u8>) {
        jute::write_buffer_opt(w, self.as_deref());
    }
}

impl Field for Vec<String> {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        r.read_string_vec()
    }
    fn write_field(&self, w: &mut Vec<u8>) {
        jute::write_string_vec(w, self);
    }
}

/// A nested record.
impl<T: Jute> Field for T {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        T::read(r)
    }
    fn write_field(&self, w: &mut Vec<u8>) {
        self.write(w);
    }
}

/// jute `vector<T>` of records.
impl<T: Jute> Field for Vec<T> {
    fn read_field(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        r.read_vec()
    }
    fn write_field(&self, w: &mut Vec<u8>) {
        jute::write_vec(w, self);
    }
}

/// Declares records: each becomes a public struct with the listed fields and a `Jute` impl that
/// reads and writes them in the listed order. Struct expressions evaluate their fields in the
/// order written, so `read` consumes the wire in declaration order too.
macro_rules! records {
    (list = $list:ident; $(
        $(#[$meta:meta])*
        $name:ident { $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),+ $(,)? }
    )+) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
            pub struct $name {
                $( $(#[$field_meta])* pub $field: $ty, )+
            }

            impl Jute for $name {
                fn read(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
                    Ok($name { $( $field: Field::read_field(r)?, )+ })
                }

                fn write(&self, w: &mut Vec<u8>) {
                    $( Field::write_field(&self.$field, w); )+
                }
            }

            #[cfg(test)]
            impl super::jute::testing::Sample for $name {
                fn sample(g: &mut super::jute::testing::XorShift) -> Self {
                    $name { $( $field: super::jute::testing::Sample::sample(g), )+ }
                }
            }
        )+

        /// Visits every record of this `records!` block (for the codec tests).
        #[cfg(test)]
        fn $list(v: &mut impl tests::RecordVisitor) {
            $( v.visit::<$name>(stringify!($name)); )+
        }
    };
}

// ---- module org.apache.zookeeper.data -------------------------------------------------------

records! {
    list = data_records;

    /// An identity: `scheme` (`world`, `auth`, `digest`, `ip`, `x509`, `sasl`, `super`) and
    /// the scheme's `id` (`anyone`, `user:base64(sha1)`, an address or CIDR, ...).
    Id {
        /// Authentication scheme.
        scheme: String,
        /// Identity within the scheme.
        id: String,
    }

    /// jute `ACL`: the permissions (`opcode::perms` bits) an identity gets on a znode.
    Acl {
        /// Bit set of `opcode::perms`.
        perms: i32,
        /// Who gets them.
        id: Id,
    }

    /// A znode's metadata as clients see it. Wire order: czxid, mzxid, ctime, mtime, version,
    /// cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid.
    Stat {
        /// zxid of the txn that created the node.
        czxid: i64,
        /// zxid of the txn that last changed the node's data.
        mzxid: i64,
        /// Creation time, ms since the epoch (leader's clock).
        ctime: i64,
        /// Last data change time, ms since the epoch.
        mtime: i64,
        /// Number of data changes.
        version: i32,
        /// Number of child changes (creates and deletes).
        cversion: i32,
        /// Number of ACL changes.
        aversion: i32,
        /// Session id of the owner if ephemeral, 0 otherwise.
        ephemeral_owner: i64,
        /// Length of the data in bytes.
        data_length: i32,
        /// Number of children.
        num_children: i32,
        /// zxid of the txn that last added or removed a child.
        pzxid: i64,
    }

    /// The metadata ZooKeeper stores per znode in snapshots (`Stat` without the derived
    /// dataLength and numChildren). Not on the client wire.
    StatPersisted {
        /// zxid of the txn that created the node.
        czxid: i64,
        /// zxid of the txn that last changed the node's data.
        mzxid: i64,
        /// Creation time, ms since the epoch.
        ctime: i64,
        /// Last data change time, ms since the epoch.
        mtime: i64,
        /// Number of data changes.
        version: i32,
        /// Number of child changes.
        cversion: i32,
        /// Number of ACL changes.
        aversion: i32,
        /// Session id of the owner if ephemeral, 0 otherwise.
        ephemeral_owner: i64,
        /// zxid of the txn that last added or removed a child.
        pzxid: i64,
    }

    /// One identity of a session, as `whoAmI` reports it.
    ClientInfo {
        /// Authentication scheme.
        auth_scheme: String,
        /// User name or other id (for example the client's address).
        user: String,
    }
}

// ---- module org.apache.zookeeper.proto ------------------------------------------------------

/// The first frame a client sends on a connection (no `RequestHeader` before it).
///
/// ```text
/// ConnectRequest = int protocolVersion, long lastZxidSeen, int timeOut, long sessionId,
///                  buffer passwd, [boolean readOnly]
/// ```
///
/// `readOnly` is optional: clients older than 3.4 end the record after `passwd`, and ZooKeeper
/// then takes `readOnly` as false. `read_with_flag` tells whether it was there, which decides
/// whether the `ConnectResponse` may carry it (see `ConnectResponse::write_without_read_only`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Protocol version; 0 for every client in use.
    pub protocol_version: i32,
    /// Highest zxid the client has seen (a server behind it must refuse the session).
    pub last_zxid_seen: i64,
    /// Requested session timeout in ms.
    pub time_out: i32,
    /// 0 for a new session, else the session to resume.
    pub session_id: i64,
    /// Session password (16 bytes when resuming, else anything, usually 16 zeros).
    pub passwd: Vec<u8>,
    /// The client accepts a read-only server. False when absent from the wire.
    pub read_only: bool,
}

impl ConnectRequest {
    /// Decodes like `Jute::read` and also returns whether the optional `readOnly` byte was on
    /// the wire (false for clients older than 3.4).
    pub fn read_with_flag(r: &mut JuteReader<'_>) -> Result<(Self, bool), DecodeError> {
        let mut req = ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            time_out: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?,
            read_only: false,
        };
        let present = r.remaining() > 0;
        if present {
            req.read_only = r.read_bool()?;
        }
        Ok((req, present))
    }
}

impl Jute for ConnectRequest {
    fn read(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        Ok(Self::read_with_flag(r)?.0)
    }

    fn write(&self, w: &mut Vec<u8>) {
        jute::write_i32(w, self.protocol_version);
        jute::write_i64(w, self.last_zxid_seen);
        jute::write_i32(w, self.time_out);
        jute::write_i64(w, self.session_id);
        jute::write_buffer(w, &self.passwd);
        jute::write_bool(w, self.read_only);
    }
}

/// The server's answer to a `ConnectRequest` (no `ReplyHeader` before it).
///
/// ```text
/// ConnectResponse = int protocolVersion, int timeOut, long sessionId, buffer passwd,
///                   [boolean readOnly]
/// ```
///
/// `Jute::write` always writes `readOnly`, as ZooKeeper 3.9.x does. ZooKeeper 3.8 and 3.10
/// leave it out when the client's `ConnectRequest` had none (pre-3.4 clients would read the
/// extra byte as the start of the next frame): `write_without_read_only` does that. A refused
/// session is answered with `time_out` 0, `session_id` 0 and 16 zero bytes of `passwd`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// Protocol version; 0.
    pub protocol_version: i32,
    /// Negotiated session timeout in ms (0 if the session is refused).
    pub time_out: i32,
    /// Session id (0 if the session is refused).
    pub session_id: i64,
    /// Session password the client must present to resume the session.
    pub passwd: Vec<u8>,
    /// The server is in read-only mode.
    pub read_only: bool,
}

impl ConnectResponse {
    /// Writes the record without the trailing `readOnly` byte, for a client whose
    /// `ConnectRequest` did not carry one.
    pub fn write_without_read_only(&self, w: &mut Vec<u8>) {
        jute::write_i32(w, self.protocol_version);
        jute::write_i32(w, self.time_out);
        jute::write_i64(w, self.session_id);
        jute::write_buffer(w, &self.passwd);
    }
}

impl Jute for ConnectResponse {
    /// Tolerates a missing `readOnly` byte (a pre-3.4 server), reading it as false.
    fn read(r: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        let mut rsp = ConnectResponse {
            protocol_version: r.read_i32()?,
            time_out: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?,
            read_only: false,
        };
        if r.remaining() > 0 {
            rsp.read_only = r.read_bool()?;
        }
        Ok(rsp)
    }

    fn write(&self, w: &mut Vec<u8>) {
        self.write_without_read_only(w);
        jute::write_bool(w, self.read_only);
    }
}

records! {
    list = proto_records;

    /// Re-arms a reconnecting client's one-shot watches (sent with xid -8).
    SetWatches {
        /// The client's last seen zxid; changes after it fire the watches at once.
        relative_zxid: i64,
        /// Paths with a getData watch.
        data_watches: Vec<String>,
        /// Paths with an exists watch.
        exist_watches: Vec<String>,
        /// Paths with a getChildren watch.
        child_watches: Vec<String>,
    }

    /// `SetWatches` plus persistent watches (opcode setWatches2, 3.6+).
    SetWatches2 {
        /// The client's last seen zxid.
        relative_zxid: i64,
        /// Paths with a getData watch.
        data_watches: Vec<String>,
        /// Paths with an exists watch.
        exist_watches: Vec<String>,
        /// Paths with a getChildren watch.
        child_watches: Vec<String>,
        /// Paths with a persistent watch.
        persistent_watches: Vec<String>,
        /// Paths with a persistent recursive watch.
        persistent_recursive_watches: Vec<String>,
    }

    /// Precedes every request after the handshake.
    RequestHeader {
        /// Client-chosen id echoed in the reply (or a special `opcode::xid`).
        xid: i32,
        /// jute `type`: the `OpCode`.
        op_type: i32,
    }

    /// Precedes each op of a multi request and each result of a multi response.
    MultiHeader {
        /// jute `type`: the op's `OpCode`, -1 for an error result or the end marker.
        op_type: i32,
        /// True only on the end marker.
        done: bool,
        /// Error code of a result (0 on success); -1 in requests and on the end marker.
        err: i32,
    }

    /// Body of an `auth` request (xid -4).
    AuthPacket {
        /// jute `type`: always 0 in practice.
        auth_type: i32,
        /// Scheme (`digest`, ...).
        scheme: String,
        /// Scheme-specific credentials (`user:password` for digest).
        auth: Vec<u8>,
    }

    /// Precedes every reply and notification.
    ReplyHeader {
        /// The request's xid (or a special `opcode::xid`).
        xid: i32,
        /// The server's last processed zxid when it answered (-1 on notifications).
        zxid: i64,
        /// `ErrorCode` value; a nonzero code means no body follows.
        err: i32,
    }

    /// Body of getData.
    GetDataRequest {
        /// The znode.
        path: String,
        /// Leave a data watch.
        watch: bool,
    }

    /// Body of setData.
    SetDataRequest {
        /// The znode.
        path: String,
        /// New data.
        data: Option<Vec<u8>>,
        /// Expected version, -1 for any.
        version: i32,
    }

    /// Body of reconfig.
    ReconfigRequest {
        /// Servers to add (comma separated), incremental mode.
        joining_servers: String,
        /// Server ids to remove (comma separated), incremental mode.
        leaving_servers: String,
        /// The whole new membership, non-incremental mode.
        new_members: String,
        /// Expected current config version, -1 for any.
        cur_config_id: i64,
    }

    /// Reply to setData.
    SetDataResponse {
        /// The node's Stat after the change.
        stat: Stat,
    }

    /// SASL token from the client (not used by the server side).
    GetSASLRequest {
        /// SASL token.
        token: Vec<u8>,
    }

    /// Body of a sasl request (opcode 102).
    SetSASLRequest {
        /// SASL token.
        token: Vec<u8>,
    }

    /// Reply to a sasl request.
    SetSASLResponse {
        /// SASL token.
        token: Vec<u8>,
    }

    /// Body of create, create2 and createContainer.
    CreateRequest {
        /// Path of the new znode (the prefix of it, if sequential).
        path: String,
        /// Initial data.
        data: Option<Vec<u8>>,
        /// Initial ACL.
        acl: Vec<Acl>,
        /// `CreateMode` flag.
        flags: i32,
    }

    /// Body of createTTL.
    CreateTTLRequest {
        /// Path of the new znode.
        path: String,
        /// Initial data.
        data: Option<Vec<u8>>,
        /// Initial ACL.
        acl: Vec<Acl>,
        /// `CreateMode` flag (a TTL mode).
        flags: i32,
        /// Time to live in ms.
        ttl: i64,
    }

    /// Body of delete.
    DeleteRequest {
        /// The znode.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    }

    /// Body of getChildren.
    GetChildrenRequest {
        /// The znode.
        path: String,
        /// Leave a child watch.
        watch: bool,
    }

    /// Body of getAllChildrenNumber.
    GetAllChildrenNumberRequest {
        /// The znode.
        path: String,
    }

    /// Body of getChildren2.
    GetChildren2Request {
        /// The znode.
        path: String,
        /// Leave a child watch.
        watch: bool,
    }

    /// Body of check (inside a multi).
    CheckVersionRequest {
        /// The znode.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    }

    /// Obsolete (no opcode uses it); kept because it is in `zookeeper.jute`.
    GetMaxChildrenRequest {
        /// The znode.
        path: String,
    }

    /// Obsolete (no opcode uses it).
    GetMaxChildrenResponse {
        /// The limit.
        max: i32,
    }

    /// Obsolete (no opcode uses it).
    SetMaxChildrenRequest {
        /// The znode.
        path: String,
        /// The limit.
        max: i32,
    }

    /// Body of sync.
    SyncRequest {
        /// The path (only echoed back).
        path: String,
    }

    /// Reply to sync.
    SyncResponse {
        /// The request's path.
        path: String,
    }

    /// Body of getACL.
    GetACLRequest {
        /// The znode.
        path: String,
    }

    /// Body of setACL.
    SetACLRequest {
        /// The znode.
        path: String,
        /// The new ACL.
        acl: Vec<Acl>,
        /// Expected aversion, -1 for any.
        version: i32,
    }

    /// Reply to setACL.
    SetACLResponse {
        /// The node's Stat after the change.
        stat: Stat,
    }

    /// Body of addWatch.
    AddWatchRequest {
        /// The znode (need not exist).
        path: String,
        /// `AddWatchMode` value.
        mode: i32,
    }

    /// Body of a notification (xid -1).
    WatcherEvent {
        /// jute `type`: `EventType` value.
        event_type: i32,
        /// `KeeperState` value (3, SyncConnected, for node events).
        state: i32,
        /// The znode the event is about.
        path: String,
    }

    /// Body of an error result inside a multi response.
    ErrorResponse {
        /// `ErrorCode` value.
        err: i32,
    }

    /// Reply to create.
    CreateResponse {
        /// Actual path of the new znode (with the sequence suffix, if any).
        path: String,
    }

    /// Reply to create2, createContainer and createTTL.
    Create2Response {
        /// Actual path of the new znode.
        path: String,
        /// Its Stat.
        stat: Stat,
    }

    /// Body of exists.
    ExistsRequest {
        /// The znode.
        path: String,
        /// Leave an exists watch (a data watch if the node exists).
        watch: bool,
    }

    /// Reply to exists when the node exists (otherwise NONODE and no body).
    ExistsResponse {
        /// The node's Stat.
        stat: Stat,
    }

    /// Reply to getData.
    GetDataResponse {
        /// The node's data.
        data: Option<Vec<u8>>,
        /// The node's Stat.
        stat: Stat,
    }

    /// Reply to getChildren.
    GetChildrenResponse {
        /// Child names (not full paths).
        children: Vec<String>,
    }

    /// Reply to getAllChildrenNumber.
    GetAllChildrenNumberResponse {
        /// Number of descendants (the whole subtree, not counting the node itself).
        total_number: i32,
    }

    /// Reply to getChildren2.
    GetChildren2Response {
        /// Child names.
        children: Vec<String>,
        /// The node's Stat.
        stat: Stat,
    }

    /// Reply to getACL.
    GetACLResponse {
        /// The node's ACL.
        acl: Vec<Acl>,
        /// The node's Stat.
        stat: Stat,
    }

    /// Body of checkWatches.
    CheckWatchesRequest {
        /// The znode.
        path: String,
        /// jute `type`: `WatcherType` value.
        watcher_type: i32,
    }

    /// Body of removeWatches.
    RemoveWatchesRequest {
        /// The znode.
        path: String,
        /// jute `type`: `WatcherType` value.
        watcher_type: i32,
    }

    /// Body of getEphemerals.
    GetEphemeralsRequest {
        /// Only ephemerals under this path prefix ("/" for all).
        prefix_path: String,
    }

    /// Reply to getEphemerals.
    GetEphemeralsResponse {
        /// Paths of the session's ephemeral nodes.
        ephemerals: Vec<String>,
    }

    /// Reply to whoAmI.
    WhoAmIResponse {
        /// The session's identities.
        client_info: Vec<ClientInfo>,
    }
}

// ---- module org.apache.zookeeper.txn --------------------------------------------------------

records! {
    list = txn_records;

    /// Precedes every txn in ZooKeeper's log.
    TxnHeader {
        /// Session that asked for the txn.
        client_id: i64,
        /// The request's xid.
        cxid: i32,
        /// The txn's zxid.
        zxid: i64,
        /// Leader time in ms when the txn was made.
        time: i64,
        /// jute `type`: the `OpCode` (or -1 for an error txn).
        txn_type: i32,
    }

    /// A create (persistent or ephemeral, possibly sequential).
    CreateTxn {
        /// Final path.
        path: String,
        /// Data.
        data: Vec<u8>,
        /// ACL.
        acl: Vec<Acl>,
        /// Owned by the session.
        ephemeral: bool,
        /// The parent's cversion after this create.
        parent_c_version: i32,
    }

    /// A create of a TTL node.
    CreateTTLTxn {
        /// Final path.
        path: String,
        /// Data.
        data: Vec<u8>,
        /// ACL.
        acl: Vec<Acl>,
        /// The parent's cversion after this create.
        parent_c_version: i32,
        /// Time to live in ms.
        ttl: i64,
    }

    /// A create of a container node.
    CreateContainerTxn {
        /// Final path.
        path: String,
        /// Data.
        data: Vec<u8>,
        /// ACL.
        acl: Vec<Acl>,
        /// The parent's cversion after this create.
        parent_c_version: i32,
    }

    /// A delete.
    DeleteTxn {
        /// The znode.
        path: String,
    }

    /// A data change.
    SetDataTxn {
        /// The znode.
        path: String,
        /// New data.
        data: Vec<u8>,
        /// The version after the change.
        version: i32,
    }

    /// A passed version check inside a multi.
    CheckVersionTxn {
        /// The znode.
        path: String,
        /// The version checked.
        version: i32,
    }

    /// An ACL change.
    SetACLTxn {
        /// The znode.
        path: String,
        /// The new ACL.
        acl: Vec<Acl>,
        /// The aversion after the change.
        version: i32,
    }

    /// Obsolete (no opcode makes it).
    SetMaxChildrenTxn {
        /// The znode.
        path: String,
        /// The limit.
        max: i32,
    }

    /// A new session.
    CreateSessionTxn {
        /// Negotiated timeout in ms.
        time_out: i32,
    }

    /// A closed or expired session.
    CloseSessionTxn {
        /// The session's ephemeral nodes, deleted with it.
        paths2_delete: Vec<String>,
    }

    /// A request that failed in prep; logged so the reply keeps its place in the order.
    ErrorTxn {
        /// `ErrorCode` value.
        err: i32,
    }

    /// One sub-txn of a multi.
    Txn {
        /// jute `type`: the sub-txn's `OpCode` (-1 for an `ErrorTxn`).
        txn_type: i32,
        /// The sub-txn's own encoding.
        data: Vec<u8>,
    }

    /// A multi, all or nothing.
    MultiTxn {
        /// The sub-txns in order.
        txns: Vec<Txn>,
    }
}

#[cfg(test)]
mod tests {
    use super::super::jute::testing::{Sample, XorShift};
    use super::*;

    /// A generic check run over every record type.
    pub(super) trait RecordVisitor {
        fn visit<T: Jute + Sample + PartialEq + std::fmt::Debug>(&mut self, name: &str);
    }

    fn visit_all(v: &mut impl RecordVisitor) {
        data_records(v);
        proto_records(v);
        txn_records(v);
        v.visit::<ConnectRequest>("ConnectRequest");
        v.visit::<ConnectResponse>("ConnectResponse");
    }

    struct RoundTrip(usize);

    impl RecordVisitor for RoundTrip {
        fn visit<T: Jute + Sample + PartialEq + std::fmt::Debug>(&mut self, name: &str) {
            self.0 += 1;
            let mut g = XorShift::new(0x5eed ^ name.len() as u64);
            for _ in 0..200 {
                let value = T::sample(&mut g);
                let bytes = jute::encode(&value);
                let mut r = JuteReader::new(&bytes);
                assert_eq!(T::read(&mut r).as_ref(), Ok(&value), "{name}");
                assert_eq!(r.remaining(), 0, "{name}: bytes left over");
            }
        }
    }

    struct EveryPrefixIsTruncated;

    impl RecordVisitor for EveryPrefixIsTruncated {
        fn visit<T: Jute + Sample + PartialEq + std::fmt::Debug>(&mut self, name: &str) {
            let mut g = XorShift::new(77);
            for _ in 0..20 {
                let bytes = jute::encode(&T::sample(&mut g));
                for cut in 0..bytes.len() {
                    match jute::decode::<T>(&bytes[..cut]) {
                        Err(DecodeError::Truncated { .. }) => {}
                        // Only the optional trailing readOnly byte may be missing.
                        Ok(_) if name.starts_with("Connect") && cut == bytes.len() - 1 => {}
                        other => panic!("{name}: prefix {cut}/{}: {other:?}", bytes.len()),
                    }
                }
            }
        }
    }

    struct RandomBytesNeverPanic;

    impl RecordVisitor for RandomBytesNeverPanic {
        fn visit<T: Jute + Sample + PartialEq + std::fmt::Debug>(&mut self, name: &str) {
            let mut g = XorShift::new(0xdead_beef ^ name.len() as u64);
            for _ in 0..2000 {
                let len = g.below(64);
                let mut bytes = g.bytes(len);
                // Many zero bytes make small lengths, so decoding gets further into the record.
                for b in bytes.iter_mut() {
                    if g.below(3) == 0 {
                        *b = 0;
                    }
                }
                let _ = jute::decode::<T>(&bytes);
            }
        }
    }

    #[test]
    fn every_record_round_trips() {
        let mut v = RoundTrip(0);
        visit_all(&mut v);
        // zookeeper.jute: 5 data records, 47 proto (2 of them Connect*), 14 of the 16 txn ones.
        assert_eq!(v.0, 5 + 47 + 14);
    }

    #[test]
    fn truncated_records_give_truncated() {
        visit_all(&mut EveryPrefixIsTruncated);
    }

    #[test]
    fn random_bytes_decode_without_panic() {
        visit_all(&mut RandomBytesNeverPanic);
    }

    impl Sample for ConnectRequest {
        fn sample(g: &mut XorShift) -> Self {
            ConnectRequest {
                protocol_version: Sample::sample(g),
                last_zxid_seen: Sample::sample(g),
                time_out: Sample::sample(g),
                session_id: Sample::sample(g),
                passwd: Sample::sample(g),
                read_only: Sample::sample(g),
            }
        }
    }

    impl Sample for ConnectResponse {
        fn sample(g: &mut XorShift) -> Self {
            ConnectResponse {
                protocol_version: Sample::sample(g),
                time_out: Sample::sample(g),
                session_id: Sample::sample(g),
                passwd: Sample::sample(g),
                read_only: Sample::sample(g),
            }
        }
    }

    fn stat_sample() -> Stat {
        Stat {
            czxid: 0x1_0000_0002,
            mzxid: 0x1_0000_0003,
            ctime: 1_700_000_000_000,
            mtime: 1_700_000_000_001,
            version: 1,
            cversion: 2,
            aversion: 3,
            ephemeral_owner: 0x0102_0304_0506_0708,
            data_length: 5,
            num_children: 6,
            pzxid: 0x1_0000_0004,
        }
    }

    /// Golden bytes, from the jute grammar by hand (and checked against ZooKeeper's own jute
    /// classes): 8+8+8+8 + 4+4+4 + 8 + 4+4 + 8 = 68 bytes.
    #[test]
    fn stat_golden() {
        let expected: Vec<u8> = [
            &[0, 0, 0, 1, 0, 0, 0, 2][..],            // czxid
            &[0, 0, 0, 1, 0, 0, 0, 3],                // mzxid
            &[0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0], // ctime 1_700_000_000_000
            &[0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 1], // mtime
            &[0, 0, 0, 1],                            // version
            &[0, 0, 0, 2],                            // cversion
            &[0, 0, 0, 3],                            // aversion
            &[1, 2, 3, 4, 5, 6, 7, 8],                // ephemeralOwner
            &[0, 0, 0, 5],                            // dataLength
            &[0, 0, 0, 6],                            // numChildren
            &[0, 0, 0, 1, 0, 0, 0, 4],                // pzxid
        ]
        .concat();
        let bytes = jute::encode(&stat_sample());
        assert_eq!(bytes.len(), 68);
        assert_eq!(bytes, expected);
        assert_eq!(jute::decode::<Stat>(&expected), Ok(stat_sample()));
    }

    #[test]
    fn connect_response_golden() {
        let rsp = ConnectResponse {
            protocol_version: 0,
            time_out: 30_000,
            session_id: 0x0100_0000_0000_0001,
            passwd: vec![0xaa; 16],
            read_only: false,
        };
        let mut expected: Vec<u8> = [
            &[0, 0, 0, 0][..],         // protocolVersion
            &[0, 0, 0x75, 0x30],       // timeOut 30000
            &[1, 0, 0, 0, 0, 0, 0, 1], // sessionId
            &[0, 0, 0, 16],            // passwd length
            &[0xaa; 16],               // passwd
        ]
        .concat();
        let mut without = Vec::new();
        rsp.write_without_read_only(&mut without);
        assert_eq!(without, expected);
        expected.push(0); // readOnly
        assert_eq!(jute::encode(&rsp), expected);
        assert_eq!(expected.len(), 37);
        assert_eq!(jute::decode::<ConnectResponse>(&expected), Ok(rsp.clone()));
        assert_eq!(jute::decode::<ConnectResponse>(&without), Ok(rsp));
    }

    #[test]
    fn reply_header_golden() {
        let h = ReplyHeader {
            xid: -2,
            zxid: 0x1_0000_00ff,
            err: -101,
        };
        let expected = [
            0xff, 0xff, 0xff, 0xfe, // xid -2 (ping)
            0, 0, 0, 1, 0, 0, 0, 0xff, // zxid
            0xff, 0xff, 0xff, 0x9b, // err -101 (NONODE)
        ];
        assert_eq!(jute::encode(&h), expected);
        assert_eq!(jute::decode::<ReplyHeader>(&expected), Ok(h));
    }

    #[test]
    fn create_request_golden() {
        let req = CreateRequest {
            path: "/a".into(),
            data: Some(b"hi".to_vec()),
            acl: vec![Acl {
                perms: 31,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            }],
            flags: 3,
        };
        let expected: Vec<u8> = [
            &[0, 0, 0, 2, b'/', b'a'][..],
            &[0, 0, 0, 2, b'h', b'i'],
            &[0, 0, 0, 1],  // one ACL
            &[0, 0, 0, 31], // perms ALL
            &[0, 0, 0, 5],
            b"world",
            &[0, 0, 0, 6],
            b"anyone",
            &[0, 0, 0, 3], // EPHEMERAL_SEQUENTIAL
        ]
        .concat();
        assert_eq!(jute::encode(&req), expected);
        assert_eq!(jute::decode::<CreateRequest>(&expected), Ok(req));
    }

    #[test]
    fn connect_request_read_only_is_optional() {
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 5,
            time_out: 4000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: true,
        };
        let full = jute::encode(&req);
        assert_eq!(full.len(), 4 + 8 + 4 + 8 + 4 + 16 + 1);
        let (decoded, present) =
            ConnectRequest::read_with_flag(&mut JuteReader::new(&full)).expect("full request");
        assert_eq!((decoded, present), (req.clone(), true));
        let old = &full[..full.len() - 1];
        let (decoded, present) =
            ConnectRequest::read_with_flag(&mut JuteReader::new(old)).expect("old request");
        assert_eq!(
            decoded,
            ConnectRequest {
                read_only: false,
                ..req
            }
        );
        assert!(!present);
    }

    #[test]
    fn null_buffer_and_string_fields_decode_as_empty() {
        // GetDataResponse with a null data buffer (ZooKeeper writes -1 for a node created with
        // null data) followed by a zero Stat.
        let mut bytes = vec![0xff, 0xff, 0xff, 0xff];
        bytes.extend_from_slice(&[0; 68]);
        assert_eq!(
            jute::decode::<GetDataResponse>(&bytes),
            Ok(GetDataResponse::default())
        );
        // WatcherEvent with a null path.
        let bytes = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff];
        let ev = WatcherEvent {
            event_type: -1,
            state: 3,
            path: String::new(),
        };
        assert_eq!(jute::decode::<WatcherEvent>(&bytes), Ok(ev));
    }
}
