//! The client-visible outcome codes of ZooKeeper (`KeeperException.Code`, 3.9), as put into
//! `ReplyHeader.err`, `MultiHeader.err` and `ErrorResponse.err`.
//!
//! Owns: the numbers, ZooKeeper's names for them and its messages. Must not do: I/O. These are
//! protocol values, not Rust errors: a request that fails with NONODE was handled correctly.
//! Codes from -1 to -99 are "system" errors and codes below -100 "API" errors; `SystemError`
//! (-1) and `ApiError` (-100) only mark those ranges and are never sent by ZooKeeper.

/// `KeeperException.Code`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Everything is OK.
    Ok = 0,
    /// Marks the start of the system error range; not sent.
    SystemError = -1,
    /// A runtime inconsistency was found (also: ops after the failing one in a failed multi).
    RuntimeInconsistency = -2,
    /// A data inconsistency was found.
    DataInconsistency = -3,
    /// Connection to the server was lost (client side).
    ConnectionLoss = -4,
    /// Error while marshalling or unmarshalling data (an undecodable request).
    MarshallingError = -5,
    /// Operation is unimplemented (also the answer to an unknown opcode).
    Unimplemented = -6,
    /// Operation timeout (client side).
    OperationTimeout = -7,
    /// Invalid arguments (bad path, bad flags, ...).
    BadArguments = -8,
    /// Unknown session (internal server use only).
    UnknownSession = -12,
    /// No quorum of the new config is connected and up to date with the leader.
    NewConfigNoQuorum = -13,
    /// Another reconfiguration is in progress.
    ReconfigInProgress = -14,
    /// Marks the start of the API error range; not sent.
    ApiError = -100,
    /// Node does not exist.
    NoNode = -101,
    /// Not authenticated / not permitted by the ACL.
    NoAuth = -102,
    /// Version conflict.
    BadVersion = -103,
    /// Ephemeral nodes may not have children.
    NoChildrenForEphemerals = -108,
    /// The node already exists.
    NodeExists = -110,
    /// The node has children.
    NotEmpty = -111,
    /// The session has been expired by the server.
    SessionExpired = -112,
    /// Invalid callback specified (client side).
    InvalidCallback = -113,
    /// Invalid ACL specified.
    InvalidAcl = -114,
    /// Client authentication failed.
    AuthFailed = -115,
    /// Session moved to another server, so the operation is ignored.
    SessionMoved = -118,
    /// A state-changing request was sent to a read-only server.
    NotReadOnly = -119,
    /// Attempt to create an ephemeral node on a local session.
    EphemeralOnLocalSession = -120,
    /// Attempt to remove or check a watcher that does not exist.
    NoWatcher = -121,
    /// Request not completed within the allowed time.
    RequestTimeout = -122,
    /// Reconfiguration is disabled.
    ReconfigDisabled = -123,
    /// The session was closed because the client failed required SASL authentication.
    SessionClosedRequireSaslAuth = -124,
    /// The quota set on the path was exceeded.
    QuotaExceeded = -125,
    /// The operation was throttled and not executed.
    Throttled = -127,
}

impl ErrorCode {
    /// Every code, in `KeeperException.Code` declaration order.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::Ok,
        ErrorCode::SystemError,
        ErrorCode::RuntimeInconsistency,
        ErrorCode::DataInconsistency,
        ErrorCode::ConnectionLoss,
        ErrorCode::MarshallingError,
        ErrorCode::Unimplemented,
        ErrorCode::OperationTimeout,
        ErrorCode::BadArguments,
        ErrorCode::NewConfigNoQuorum,
        ErrorCode::ReconfigInProgress,
        ErrorCode::UnknownSession,
        ErrorCode::ApiError,
        ErrorCode::NoNode,
        ErrorCode::NoAuth,
        ErrorCode::BadVersion,
        ErrorCode::NoChildrenForEphemerals,
        ErrorCode::NodeExists,
        ErrorCode::NotEmpty,
        ErrorCode::SessionExpired,
        ErrorCode::InvalidCallback,
        ErrorCode::InvalidAcl,
        ErrorCode::AuthFailed,
        ErrorCode::SessionMoved,
        ErrorCode::NotReadOnly,
        ErrorCode::EphemeralOnLocalSession,
        ErrorCode::NoWatcher,
        ErrorCode::RequestTimeout,
        ErrorCode::ReconfigDisabled,
        ErrorCode::SessionClosedRequireSaslAuth,
        ErrorCode::QuotaExceeded,
        ErrorCode::Throttled,
    ];

    /// The wire value.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The code with this wire value, if ZooKeeper defines one.
    pub const fn from_i32(v: i32) -> Option<Self> {
        let mut i = 0;
        while i < Self::ALL.len() {
            if Self::ALL[i] as i32 == v {
                return Some(Self::ALL[i]);
            }
            i += 1;
        }
        None
    }

    /// ZooKeeper's enum constant name (`KeeperException.Code`), e.g. `NONODE`, `THROTTLEDOP`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Ok => "OK",
            ErrorCode::SystemError => "SYSTEMERROR",
            ErrorCode::RuntimeInconsistency => "RUNTIMEINCONSISTENCY",
            ErrorCode::DataInconsistency => "DATAINCONSISTENCY",
            ErrorCode::ConnectionLoss => "CONNECTIONLOSS",
            ErrorCode::MarshallingError => "MARSHALLINGERROR",
            ErrorCode::Unimplemented => "UNIMPLEMENTED",
            ErrorCode::OperationTimeout => "OPERATIONTIMEOUT",
            ErrorCode::BadArguments => "BADARGUMENTS",
            ErrorCode::UnknownSession => "UNKNOWNSESSION",
            ErrorCode::NewConfigNoQuorum => "NEWCONFIGNOQUORUM",
            ErrorCode::ReconfigInProgress => "RECONFIGINPROGRESS",
            ErrorCode::ApiError => "APIERROR",
            ErrorCode::NoNode => "NONODE",
            ErrorCode::NoAuth => "NOAUTH",
            ErrorCode::BadVersion => "BADVERSION",
            ErrorCode::NoChildrenForEphemerals => "NOCHILDRENFOREPHEMERALS",
            ErrorCode::NodeExists => "NODEEXISTS",
            ErrorCode::NotEmpty => "NOTEMPTY",
            ErrorCode::SessionExpired => "SESSIONEXPIRED",
            ErrorCode::InvalidCallback => "INVALIDCALLBACK",
            ErrorCode::InvalidAcl => "INVALIDACL",
            ErrorCode::AuthFailed => "AUTHFAILED",
            ErrorCode::SessionMoved => "SESSIONMOVED",
            ErrorCode::NotReadOnly => "NOTREADONLY",
            ErrorCode::EphemeralOnLocalSession => "EPHEMERALONLOCALSESSION",
            ErrorCode::NoWatcher => "NOWATCHER",
            ErrorCode::RequestTimeout => "REQUESTTIMEOUT",
            ErrorCode::ReconfigDisabled => "RECONFIGDISABLED",
            ErrorCode::SessionClosedRequireSaslAuth => "SESSIONCLOSEDREQUIRESASLAUTH",
            ErrorCode::QuotaExceeded => "QUOTAEXCEEDED",
            ErrorCode::Throttled => "THROTTLEDOP",
        }
    }

    /// ZooKeeper's message for the code (`KeeperException.getCodeMessage`), the text after
    /// `KeeperErrorCode = ` in its exceptions.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::SystemError => "SystemError",
            ErrorCode::RuntimeInconsistency => "RuntimeInconsistency",
            ErrorCode::DataInconsistency => "DataInconsistency",
            ErrorCode::ConnectionLoss => "ConnectionLoss",
            ErrorCode::MarshallingError => "MarshallingError",
            ErrorCode::Unimplemented => "Unimplemented",
            ErrorCode::OperationTimeout => "OperationTimeout",
            ErrorCode::BadArguments => "BadArguments",
            // ZooKeeper has no message for these two and falls back to its default text.
            ErrorCode::UnknownSession => "Unknown error UNKNOWNSESSION",
            ErrorCode::NewConfigNoQuorum => "NewConfigNoQuorum",
            ErrorCode::ReconfigInProgress => "ReconfigInProgress",
            ErrorCode::ApiError => "APIError",
            ErrorCode::NoNode => "NoNode",
            ErrorCode::NoAuth => "NoAuth",
            ErrorCode::BadVersion => "BadVersion",
            ErrorCode::NoChildrenForEphemerals => "NoChildrenForEphemerals",
            ErrorCode::NodeExists => "NodeExists",
            ErrorCode::NotEmpty => "Directory not empty",
            ErrorCode::SessionExpired => "Session expired",
            ErrorCode::InvalidCallback => "Invalid callback",
            ErrorCode::InvalidAcl => "InvalidACL",
            ErrorCode::AuthFailed => "AuthFailed",
            ErrorCode::SessionMoved => "Session moved",
            ErrorCode::NotReadOnly => "Not a read-only call",
            ErrorCode::EphemeralOnLocalSession => "Ephemeral node on local session",
            ErrorCode::NoWatcher => "No such watcher",
            ErrorCode::RequestTimeout => "Unknown error REQUESTTIMEOUT",
            ErrorCode::ReconfigDisabled => "Reconfig is disabled",
            ErrorCode::SessionClosedRequireSaslAuth => {
                "Session closed because client failed to authenticate"
            }
            ErrorCode::QuotaExceeded => "Quota has exceeded",
            ErrorCode::Throttled => "Op throttled due to high load",
        }
    }
}

impl From<ErrorCode> for i32 {
    fn from(code: ErrorCode) -> i32 {
        code.code()
    }
}

/// As ZooKeeper's exception messages: `KeeperErrorCode = NoNode`.
impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeeperErrorCode = {}", self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_i32(code.code()), Some(code));
            assert_eq!(i32::from(code), code as i32);
        }
        let known = (-200..10)
            .filter(|v| ErrorCode::from_i32(*v).is_some())
            .count();
        assert_eq!(known, ErrorCode::ALL.len());
    }

    /// `KeeperException.Code` of ZooKeeper 3.9, copied number by number.
    #[test]
    fn table_matches_keeper_exception() {
        let expected = [
            (0, "OK"),
            (-1, "SYSTEMERROR"),
            (-2, "RUNTIMEINCONSISTENCY"),
            (-3, "DATAINCONSISTENCY"),
            (-4, "CONNECTIONLOSS"),
            (-5, "MARSHALLINGERROR"),
            (-6, "UNIMPLEMENTED"),
            (-7, "OPERATIONTIMEOUT"),
            (-8, "BADARGUMENTS"),
            (-13, "NEWCONFIGNOQUORUM"),
            (-14, "RECONFIGINPROGRESS"),
            (-12, "UNKNOWNSESSION"),
            (-100, "APIERROR"),
            (-101, "NONODE"),
            (-102, "NOAUTH"),
            (-103, "BADVERSION"),
            (-108, "NOCHILDRENFOREPHEMERALS"),
            (-110, "NODEEXISTS"),
            (-111, "NOTEMPTY"),
            (-112, "SESSIONEXPIRED"),
            (-113, "INVALIDCALLBACK"),
            (-114, "INVALIDACL"),
            (-115, "AUTHFAILED"),
            (-118, "SESSIONMOVED"),
            (-119, "NOTREADONLY"),
            (-120, "EPHEMERALONLOCALSESSION"),
            (-121, "NOWATCHER"),
            (-122, "REQUESTTIMEOUT"),
            (-123, "RECONFIGDISABLED"),
            (-124, "SESSIONCLOSEDREQUIRESASLAUTH"),
            (-125, "QUOTAEXCEEDED"),
            (-127, "THROTTLEDOP"),
        ];
        let got: Vec<(i32, &str)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.code(), c.name()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn values_match_keeper_exception() {
        assert_eq!(ErrorCode::NoNode.code(), -101);
        assert_eq!(ErrorCode::UnknownSession.code(), -12);
        assert_eq!(ErrorCode::NoChildrenForEphemerals.code(), -108);
        assert_eq!(ErrorCode::SessionMoved.code(), -118);
        assert_eq!(ErrorCode::Throttled.code(), -127);
        assert_eq!(ErrorCode::from_i32(-126), None);
        assert_eq!(ErrorCode::from_i32(-9), None);
        assert_eq!(ErrorCode::Throttled.name(), "THROTTLEDOP");
        assert_eq!(ErrorCode::NoNode.to_string(), "KeeperErrorCode = NoNode");
    }
}
