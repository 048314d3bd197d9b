//! The server configuration: parses a ZooKeeper `zoo.cfg` (Java properties syntax) into a typed
//! [`Config`], with ZooKeeper's defaults, key names and validation rules, and renders the
//! configuration the way ZooKeeper's `conf` four-letter word prints it.
//!
//! This file owns parsing and validating configuration text. It does no I/O except in [`load`],
//! which reads one file and hands its text to the pure [`parse`]. It does not create directories,
//! resolve host names, open sockets or log: problems that are not fatal come back as
//! [`Warning`]s for the caller to report, fatal ones as a [`ConfigError`] that names the source,
//! the line, the key and the value.
//!
//! Compatibility rules (see DESIGN.md section 2, "Config"):
//! - a `zoo.cfg` that ZooKeeper accepts is accepted; ZooKeeper keys that zkr does not act on are
//!   accepted silently or with an informational warning, unknown keys are warned about, never
//!   fatal;
//! - every key may also be written with a `zookeeper.` prefix (the name of the Java system
//!   property ZooKeeper maps it to), e.g. `zookeeper.extendedTypesEnabled=true`;
//! - a key given twice: the last one wins, with a warning (as in `java.util.Properties`);
//! - zkr's own keys start with `zkr.`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// Default `tickTime` in milliseconds.
pub const TICK_TIME_MS_DEFAULT: u32 = 2000;
/// Largest accepted `tickTime`: 20 ticks (the default maximum session timeout) must fit a `u32`.
pub const TICK_TIME_MS_MAX: u32 = u32::MAX / 20;
/// Default `initLimit` (ticks a follower may take to connect and sync to the leader).
pub const INIT_LIMIT_DEFAULT: u32 = 10;
/// Default `syncLimit` (ticks a follower may lag behind the leader).
pub const SYNC_LIMIT_DEFAULT: u32 = 5;
/// Default `dataDir` when no configuration names one.
pub const DATA_DIR_DEFAULT: &str = "./zkr-data";
/// Default `clientPort`.
pub const CLIENT_PORT_DEFAULT: u16 = 2181;
/// Default `maxClientCnxns` (connections per client IP; 0 = unlimited).
pub const MAX_CLIENT_CNXNS_DEFAULT: u32 = 60;
/// Default `minSessionTimeout`, in ticks.
pub const MIN_SESSION_TIMEOUT_TICKS: u32 = 2;
/// Default `maxSessionTimeout`, in ticks.
pub const MAX_SESSION_TIMEOUT_TICKS: u32 = 20;
/// Default `jute.maxbuffer` in bytes (largest request or znode payload accepted).
pub const JUTE_MAX_BUFFER_DEFAULT: u32 = 0xfffff;
/// Default `snapCount` (transactions between snapshots).
pub const SNAP_COUNT_DEFAULT: u64 = 100_000;
/// Smallest `snapCount`; ZooKeeper raises smaller values to this, with a warning.
pub const SNAP_COUNT_MIN: u64 = 2;
/// Default `autopurge.snapRetainCount`.
pub const SNAP_RETAIN_COUNT_DEFAULT: u32 = 3;
/// Smallest `autopurge.snapRetainCount`; ZooKeeper raises smaller values to this.
pub const SNAP_RETAIN_COUNT_MIN: u32 = 3;
/// Default `globalOutstandingLimit` (requests in flight before the server stops reading).
pub const GLOBAL_OUTSTANDING_LIMIT_DEFAULT: u32 = 1000;
/// Default `preAllocSize`, in KiB (the log file preallocation unit).
pub const PRE_ALLOC_SIZE_KB_DEFAULT: u64 = 65_536;
/// Port the Prometheus metrics provider listens on when `metricsProvider.httpPort` is not set.
pub const METRICS_HTTP_PORT_DEFAULT: u16 = 7000;
/// Java class name of ZooKeeper's Prometheus metrics provider.
pub const PROMETHEUS_PROVIDER_CLASS: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
/// Default `zkr.ioMemory` in bytes.
pub const IO_MEMORY_BYTES_DEFAULT: usize = 1 << 20;
/// Largest accepted `zkr.cores`.
pub const CORES_MAX: usize = 4096;
/// The only election algorithm ZooKeeper (and zkr) supports, printed by `conf` as `electionAlg`.
pub const ELECTION_ALG: u32 = 3;
/// The four-letter words ZooKeeper 3.8 knows; `4lw.commands.whitelist=*` enables all of them.
pub const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];
/// Key of the line in [`Config::conf_lines`] that stands for ZooKeeper's bare `membership: `
/// line; [`render_conf`] prints it without `=`.
pub const CONF_MEMBERSHIP_KEY: &str = "membership: ";
/// Name of the subdirectory ZooKeeper keeps its snapshots and logs in; `conf` prints `dataDir`
/// and `dataLogDir` with it appended.
pub const VERSION_DIR: &str = "version-2";

/// The server's configuration, every value resolved (defaults filled in, session timeouts
/// derived from `tickTime` when not set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `tickTime`: the basic time unit in milliseconds.
    pub tick_time_ms: u32,
    /// `initLimit`: ticks a follower may take to connect and sync to the leader.
    pub init_limit: u32,
    /// `syncLimit`: ticks a follower may fall behind the leader before it is dropped.
    pub sync_limit: u32,
    /// `dataDir`: where snapshots (and, unless `dataLogDir` is set, the log) are kept.
    pub data_dir: PathBuf,
    /// `dataLogDir`: where the transaction log is kept; defaults to `data_dir`.
    pub data_log_dir: PathBuf,
    /// `clientPort`: the TCP port clients connect to.
    pub client_port: u16,
    /// `clientPortAddress`: the address the client port is bound to (an IP literal).
    pub client_port_address: IpAddr,
    /// `maxClientCnxns`: concurrent connections allowed from one client IP; 0 = unlimited.
    pub max_client_cnxns: u32,
    /// `minSessionTimeout` in milliseconds; defaults to 2 ticks.
    pub min_session_timeout_ms: u32,
    /// `maxSessionTimeout` in milliseconds; defaults to 20 ticks.
    pub max_session_timeout_ms: u32,
    /// `4lw.commands.whitelist`: which four-letter words are answered.
    pub four_letter_words: FourLetterWhitelist,
    /// `extendedTypesEnabled`: allow TTL nodes (and the server-id bits in session ids).
    pub extended_types_enabled: bool,
    /// `DigestAuthenticationProvider.superDigest`: `user:base64(sha1(user:password))` of the
    /// super user, who passes every ACL check.
    pub super_digest: Option<String>,
    /// `jute.maxbuffer`: the largest request (and znode payload) accepted, in bytes.
    pub jute_max_buffer: u32,
    /// `forceSync`: sync the log to disk before acknowledging (`yes`) or not (`no`).
    pub force_sync: bool,
    /// `snapCount`: transactions logged between snapshots.
    pub snap_count: u64,
    /// `autopurge.snapRetainCount`: snapshots (and the logs they need) kept when purging; >= 3.
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval`: hours between purges; 0 = never purge.
    pub autopurge_purge_interval_hours: u32,
    /// `globalOutstandingLimit`: requests in flight before the server stops reading more.
    pub global_outstanding_limit: u32,
    /// `preAllocSize`: log preallocation unit in KiB.
    pub pre_alloc_size_kb: u64,
    /// `metricsProvider.httpPort`: port of the Prometheus metrics endpoint, if one is wanted.
    pub metrics_http_port: Option<u16>,
    /// `standaloneEnabled`: a configuration with a single participant runs standalone.
    pub standalone_enabled: bool,
    /// `reconfigEnabled`: the `reconfig` operation is allowed.
    pub reconfig_enabled: bool,
    /// `server.N` lines, sorted by id.
    pub servers: Vec<ServerEntry>,
    /// `peerType=observer`: this server means to be an observer. The `server.N` line of this
    /// server decides when the two disagree, as in ZooKeeper.
    pub peer_type_observer: bool,
    /// `zkr.cores`: executor threads (one per core); `None` = all available cores.
    pub cores: Option<usize>,
    /// `zkr.ioMemory`: io_uring buffer memory per executor, in bytes.
    pub io_memory_bytes: usize,
    /// `zkr.spinBeforeParkUs`: microseconds an idle executor spins before it parks.
    pub spin_before_park_us: u32,
    /// `znode.container.checkIntervalMs`: how often empty containers and expired TTL nodes are
    /// looked for (ZooKeeper's ContainerManager), in ms.
    pub container_check_interval_ms: u64,
    /// `zkr.logSegmentBytes`: size of each preallocated txn log segment.
    pub log_segment_bytes: u64,
}

impl Default for Config {
    /// The embedded default: a standalone server on port 2181 of every address, data in
    /// `./zkr-data`, ZooKeeper's defaults for everything else.
    fn default() -> Self {
        Config {
            tick_time_ms: TICK_TIME_MS_DEFAULT,
            init_limit: INIT_LIMIT_DEFAULT,
            sync_limit: SYNC_LIMIT_DEFAULT,
            data_dir: PathBuf::from(DATA_DIR_DEFAULT),
            data_log_dir: PathBuf::from(DATA_DIR_DEFAULT),
            client_port: CLIENT_PORT_DEFAULT,
            client_port_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            max_client_cnxns: MAX_CLIENT_CNXNS_DEFAULT,
            min_session_timeout_ms: MIN_SESSION_TIMEOUT_TICKS * TICK_TIME_MS_DEFAULT,
            max_session_timeout_ms: MAX_SESSION_TIMEOUT_TICKS * TICK_TIME_MS_DEFAULT,
            four_letter_words: FourLetterWhitelist::default(),
            extended_types_enabled: false,
            super_digest: None,
            jute_max_buffer: JUTE_MAX_BUFFER_DEFAULT,
            force_sync: true,
            snap_count: SNAP_COUNT_DEFAULT,
            autopurge_snap_retain_count: SNAP_RETAIN_COUNT_DEFAULT,
            autopurge_purge_interval_hours: 0,
            global_outstanding_limit: GLOBAL_OUTSTANDING_LIMIT_DEFAULT,
            pre_alloc_size_kb: PRE_ALLOC_SIZE_KB_DEFAULT,
            metrics_http_port: None,
            standalone_enabled: true,
            reconfig_enabled: false,
            servers: Vec::new(),
            peer_type_observer: false,
            cores: None,
            io_memory_bytes: IO_MEMORY_BYTES_DEFAULT,
            spin_before_park_us: 0,
            container_check_interval_ms: crate::constants::CONTAINER_CHECK_INTERVAL_MS_DEFAULT,
            log_segment_bytes: crate::log::segment::SEGMENT_BYTES_DEFAULT,
        }
    }
}

/// One `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`
/// line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    /// N, the server id (its `myid`).
    pub id: u64,
    /// Host name or IP literal (IPv6 without brackets), not resolved here.
    pub host: String,
    /// Port followers connect to the leader on.
    pub quorum_port: u16,
    /// Port leader election runs on.
    pub election_port: u16,
    /// The server is an observer (never votes).
    pub observer: bool,
    /// Client address given after `;`: (host, port); a bare port means host `0.0.0.0`.
    pub client: Option<(String, u16)>,
}

/// Which four-letter words the server answers (`4lw.commands.whitelist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    /// `*`: every four-letter word.
    All,
    /// Only these. ZooKeeper always adds `srvr` (zkServer.sh needs it), and `isro` when
    /// `readonlymode.enabled` is true; the parser does the same.
    Only(BTreeSet<String>),
}

impl Default for FourLetterWhitelist {
    /// ZooKeeper's default when the key is not set: only `srvr`.
    fn default() -> Self {
        FourLetterWhitelist::Only(BTreeSet::from(["srvr".to_string()]))
    }
}

impl FourLetterWhitelist {
    /// Whether the four-letter word `cmd` (e.g. `"ruok"`) may be answered.
    pub fn allows(&self, cmd: &str) -> bool {
        match self {
            FourLetterWhitelist::All => true,
            FourLetterWhitelist::Only(set) => set.contains(cmd),
        }
    }
}

/// A problem in the configuration that does not stop the server: an unknown key, a key zkr
/// does not act on, a duplicate, a value ZooKeeper would also have adjusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line of the key; 0 when the warning is about the configuration as a whole.
    pub line: usize,
    /// The key as written (or a summary name such as `server` for ensemble-wide warnings).
    pub key: String,
    /// What is wrong and what zkr does about it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.key, self.message)
        } else {
            write!(f, "line {}: {}: {}", self.line, self.key, self.message)
        }
    }
}

/// Why a configuration was refused.
#[derive(thiserror::Error, Debug)]
pub enum ConfigError {
    /// A value that cannot be used: not a number, out of range, inconsistent with another key.
    #[error("{source_name}:{line}: bad value for {key}: {value:?} ({reason})")]
    Invalid {
        /// File name (or other label) of the configuration text.
        source_name: String,
        /// 1-based line of the key.
        line: usize,
        /// The key as written.
        key: String,
        /// The value as written (after trimming and unescaping).
        value: String,
        /// What was expected.
        reason: String,
    },
    /// Text that is not valid properties syntax (a malformed `\uXXXX` escape).
    #[error("{source_name}:{line}: {reason}")]
    Syntax {
        /// File name (or other label) of the configuration text.
        source_name: String,
        /// 1-based line where the logical line starts.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The configuration file could not be read.
    #[error("{}: cannot read configuration: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error from the operating system.
        source: std::io::Error,
    },
}

/// Reads the file at `path` and parses it with [`parse`], naming it by its path in errors.
/// The text is taken as UTF-8, or as ISO-8859-1 (what `java.util.Properties` reads) when it is
/// not valid UTF-8.
pub fn load(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    parse(&text, &path.display().to_string())
}

/// Parses the text of a `zoo.cfg`. `source_name` names the text in errors (usually its path).
/// Returns the resolved configuration and the warnings to report; never panics on input.
pub fn parse(text: &str, source_name: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    let entries = read_properties(text, source_name)?;
    let mut b = Builder::new(source_name);
    // Last one wins, as in java.util.Properties: only the last occurrence of a key is parsed.
    let mut last: HashMap<String, usize> = HashMap::new();
    let mut canon: Vec<String> = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let c = b.canonical_key(e)?;
        if let Some(prev) = last.insert(c.clone(), i) {
            b.warn(
                e,
                format!(
                    "duplicate key (also set on line {}); the last value wins",
                    entries[prev].line
                ),
            );
        }
        canon.push(c);
    }
    for (i, e) in entries.iter().enumerate() {
        if last.get(&canon[i]) == Some(&i) {
            b.apply(&canon[i], e)?;
        }
    }
    b.finish()
}

/// One `key=value` pair of the properties text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// 1-based line where the logical line starts.
    line: usize,
    /// Key, unescaped and trimmed.
    key: String,
    /// Value, unescaped and trimmed (ZooKeeper trims every value).
    value: String,
}

/// Whitespace as `java.util.Properties` sees it between and before keys.
fn is_prop_space(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0c'
}

/// Trims like Java's `String.trim()`: every char up to U+0020.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Splits text into natural lines ending in `\n`, `\r` or `\r\n`, numbered from 1.
fn natural_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let (mut start, mut i, mut n) = (0, 0, 1);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push((n, &text[start..i]));
                i += 1;
            }
            b'\r' => {
                out.push((n, &text[start..i]));
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            _ => {
                i += 1;
                continue;
            }
        }
        start = i;
        n += 1;
    }
    if start < bytes.len() {
        out.push((n, &text[start..]));
    }
    out
}

/// Reads `java.util.Properties` syntax: `#`/`!` comment lines, blank lines, `key=value`,
/// `key: value` and `key value`, backslash line continuations and escapes (`\t`, `\n`, `\r`,
/// `\f`, `\uXXXX`, `\x` for any other x).
fn read_properties(text: &str, source_name: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0;
    let mut continuing = false;
    for (n, raw) in natural_lines(text) {
        let line = raw.trim_start_matches(is_prop_space);
        if !continuing {
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            start_line = n;
            logical.clear();
        } else if line.is_empty() {
            // A continuation onto an empty line ends the logical line.
            out.push(split_entry(&logical, start_line, source_name)?);
            continuing = false;
            continue;
        }
        let trailing = line.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continuing = true;
        } else {
            logical.push_str(line);
            continuing = false;
            out.push(split_entry(&logical, start_line, source_name)?);
        }
    }
    if continuing {
        out.push(split_entry(&logical, start_line, source_name)?);
    }
    Ok(out)
}

/// Splits one logical line into key and value, as `Properties.load` does: the key ends at the
/// first unescaped `=`, `:` or whitespace; whitespace and one `=` or `:` after it are skipped.
fn split_entry(logical: &str, line: usize, source_name: &str) -> Result<Entry, ConfigError> {
    let mut key_end = logical.len();
    let mut value_start = logical.len();
    let mut escaped = false;
    for (i, c) in logical.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' {
            key_end = i;
            value_start = i + 1;
            break;
        } else if is_prop_space(c) {
            key_end = i;
            let rest = logical[i..].trim_start_matches(is_prop_space);
            let mut v = logical.len() - rest.len();
            if rest.starts_with('=') || rest.starts_with(':') {
                v += 1;
            }
            value_start = v;
            break;
        }
    }
    let raw_value = logical[value_start..].trim_start_matches(is_prop_space);
    let key = unescape(&logical[..key_end], line, source_name)?;
    let value = unescape(raw_value, line, source_name)?;
    Ok(Entry {
        line,
        key: java_trim(&key).to_string(),
        value: java_trim(&value).to_string(),
    })
}

/// Resolves properties escapes.
fn unescape(s: &str, line: usize, source_name: &str) -> Result<String, ConfigError> {
    let syntax = |reason: &str| ConfigError::Syntax {
        source_name: source_name.to_string(),
        line,
        reason: reason.to_string(),
    };
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    let mut pending_high: Option<u32> = None;
    while let Some(c) = chars.next() {
        if c != '\\' {
            if pending_high.take().is_some() {
                return Err(syntax("unpaired UTF-16 surrogate in \\u escape"));
            }
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else { break };
        if e != 'u' {
            if pending_high.take().is_some() {
                return Err(syntax("unpaired UTF-16 surrogate in \\u escape"));
            }
            out.push(match e {
                't' => '\t',
                'n' => '\n',
                'r' => '\r',
                'f' => '\x0c',
                other => other,
            });
            continue;
        }
        let hex: String = chars.by_ref().take(4).collect();
        let unit = if hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()) {
            u32::from_str_radix(&hex, 16).map_err(|_| syntax("malformed \\uxxxx escape"))?
        } else {
            return Err(syntax("malformed \\uxxxx escape"));
        };
        let decoded = match (pending_high.take(), unit) {
            (None, 0xD800..=0xDBFF) => {
                pending_high = Some(unit);
                continue;
            }
            (Some(high), 0xDC00..=0xDFFF) => {
                char::from_u32(0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00))
            }
            (None, 0xDC00..=0xDFFF) | (Some(_), _) => None,
            (None, u) => char::from_u32(u),
        };
        out.push(decoded.ok_or_else(|| syntax("unpaired UTF-16 surrogate in \\u escape"))?);
    }
    if pending_high.is_some() {
        return Err(syntax("unpaired UTF-16 surrogate in \\u escape"));
    }
    Ok(out)
}

/// What zkr does with a ZooKeeper key it recognizes but does not act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// A tuning knob of ZooKeeper's Java implementation; accepted without a word.
    Silent,
    /// A feature zkr does not have; accepted with this informational warning.
    Note(&'static str),
}

const NO_TLS: Known = Known::Note("zkr does not serve TLS; ignored");
const NO_AUTH: Known = Known::Note("zkr does not support this authentication option; ignored");
const NO_ADMIN: Known = Known::Note("zkr has no AdminServer (use the four-letter words); ignored");

/// ZooKeeper keys (without the `zookeeper.` prefix) that zkr accepts but does not act on.
const KNOWN_KEYS: &[(&str, Known)] = &[
    ("secureClientPort", NO_TLS),
    ("secureClientPortAddress", NO_TLS),
    ("sslQuorum", NO_TLS),
    ("sslQuorumReloadCertFiles", NO_TLS),
    ("portUnification", NO_TLS),
    ("client.portUnification", NO_TLS),
    ("client.certReload", NO_TLS),
    ("client.secure", NO_TLS),
    ("serverCnxnFactory", Known::Silent),
    ("authProvider", NO_AUTH),
    ("superUser", NO_AUTH),
    ("X509AuthenticationProvider.superUser", NO_AUTH),
    ("ensembleAuthName", NO_AUTH),
    ("sessionRequireClientSASLAuth", NO_AUTH),
    ("enforce.auth.enabled", NO_AUTH),
    ("enforce.auth.schemes", NO_AUTH),
    ("kerberos.canonicalizeHostNames", Known::Silent),
    ("DigestAuthenticationProvider.enabled", Known::Silent),
    ("skipACL", Known::Note("zkr always checks ACLs; ignored")),
    (
        "localSessionsEnabled",
        Known::Note("zkr does not support local sessions; ignored"),
    ),
    (
        "localSessionsUpgradingEnabled",
        Known::Note("zkr does not support local sessions; ignored"),
    ),
    (
        "dynamicConfigFile",
        Known::Note(
            "zkr does not read dynamic configuration files; put the server.N lines in this file",
        ),
    ),
    (
        "observerMasterPort",
        Known::Note("zkr observers follow the leader directly; ignored"),
    ),
    (
        "maxCnxns",
        Known::Note(
            "zkr does not apply a global connection limit; \
        maxClientCnxns (per IP) is applied",
        ),
    ),
    (
        "emulate353TTLNodes",
        Known::Note("zkr does not emulate 3.5.3 TTL nodes; ignored"),
    ),
    (
        "enforceQuota",
        Known::Note("zkr does not enforce quotas; ignored"),
    ),
    (
        "oraclePath",
        Known::Note(
            "zkr does not support an oracle for two-server ensembles; \
        ignored",
        ),
    ),
    ("clientPortListenBacklog", Known::Silent),
    ("connectToLearnerMasterLimit", Known::Silent),
    ("quorumListenOnAllIPs", Known::Silent),
    ("syncEnabled", Known::Silent),
    ("quorum.cnxn.threads.size", Known::Silent),
    ("electionPortBindRetry", Known::Silent),
    ("tcpKeepAlive", Known::Silent),
    ("clientTcpKeepAlive", Known::Silent),
    ("cnxTimeout", Known::Silent),
    ("quorumCnxnTimeoutMs", Known::Silent),
    ("maxTimeToWaitForEpoch", Known::Silent),
    ("leaderServes", Known::Silent),
    ("fsync.warningthresholdms", Known::Silent),
    ("maxResponseCacheSize", Known::Silent),
    ("maxGetChildrenResponseCacheSize", Known::Silent),
    ("watchManagerName", Known::Silent),
    ("watcherCleanThreadsNum", Known::Silent),
    ("watcherCleanThreshold", Known::Silent),
    ("watcherCleanIntervalInSeconds", Known::Silent),
    ("maxInProcessingDeadWatchers", Known::Silent),
    ("bitHashCacheSize", Known::Silent),
    ("flushDelay", Known::Silent),
    ("maxWriteQueuePollTime", Known::Silent),
    ("maxBatchSize", Known::Silent),
    ("snapSizeLimitInKb", Known::Silent),
    ("txnLogSizeLimitInKb", Known::Silent),
    ("largeRequestMaxBytes", Known::Silent),
    ("largeRequestThreshold", Known::Silent),
    ("enableEagerACLCheck", Known::Silent),
    ("maxConcurrentSnapSyncs", Known::Silent),
    ("maxConcurrentDiffSyncs", Known::Silent),
    ("advancedFlowControlEnabled", Known::Silent),
    ("closeSessionTxn.enabled", Known::Silent),
    ("commitLogCount", Known::Silent),
    ("jute.maxbuffer.extrasize", Known::Silent),
    ("connectionMaxTokens", Known::Silent),
    ("connectionTokenFillTime", Known::Silent),
    ("connectionTokenFillCount", Known::Silent),
    ("connectionFreezeTime", Known::Silent),
    ("connectionDropIncrease", Known::Silent),
    ("connectionDropDecrease", Known::Silent),
    ("connectionDecreaseRatio", Known::Silent),
    ("requestThrottleLimit", Known::Silent),
    ("requestThrottleStallTime", Known::Silent),
    ("requestThrottleDropStale", Known::Silent),
    ("requestStaleLatencyCheck", Known::Silent),
    ("requestStaleConnectionCheck", Known::Silent),
    ("request_throttle_drop_stale", Known::Silent),
    ("version", Known::Silent),
];

/// Families of ZooKeeper keys (by prefix, without `zookeeper.`) that zkr does not act on.
const KNOWN_PREFIXES: &[(&str, Known)] = &[
    ("ssl.", NO_TLS),
    ("authProvider.", NO_AUTH),
    ("quorum.auth.", NO_AUTH),
    ("sasl.", NO_AUTH),
    ("admin.", NO_ADMIN),
    (
        "audit.",
        Known::Note("zkr does not write an audit log; ignored"),
    ),
    (
        "group.",
        Known::Note("zkr does not support hierarchical quorums; majority is used"),
    ),
    (
        "weight.",
        Known::Note("zkr does not support hierarchical quorums; majority is used"),
    ),
    ("metricsProvider.", Known::Silent),
    ("multiAddress.", Known::Silent),
    ("jvm.pause.", Known::Silent),
    ("fastleader.", Known::Silent),
    ("nio.", Known::Silent),
    ("netty.", Known::Silent),
    ("commitProcessor.", Known::Silent),
    ("messageTracker.", Known::Silent),
    ("znode.container.", Known::Silent),
    ("leader.", Known::Silent),
    ("learner.", Known::Silent),
    ("follower.", Known::Silent),
    ("observer.", Known::Silent),
    ("connection_throttle_", Known::Silent),
    ("request_throttle", Known::Silent),
    ("request_stale_", Known::Silent),
    ("snapshot.", Known::Silent),
    ("digest.", Known::Silent),
];

/// How a known-but-unused key is treated, or `None` for a key ZooKeeper does not know either.
fn classify_known(key: &str) -> Option<Known> {
    if key == "admin.enableServer" {
        // zkr has no AdminServer, which is what `false` asks for anyway.
        return Some(Known::Silent);
    }
    KNOWN_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .or_else(|| KNOWN_PREFIXES.iter().find(|(p, _)| key.starts_with(p)))
        .map(|&(_, known)| known)
}

/// Parses an integer as ZooKeeper's readers accept it: optional sign, decimal or `0x`/`#` hex
/// (`Integer.decode`, used for system properties such as `jute.maxbuffer`).
fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .or_else(|| digits.strip_prefix('#'))
    {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        i64::from_str_radix(hex, 16).ok()?
    } else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<i64>().ok()?
    };
    Some(if neg { -magnitude } else { magnitude })
}

/// Parses a byte size: a number with an optional binary suffix (`k`, `m`, `g`, optionally
/// followed by `b` or `ib`, any case).
fn parse_size(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    let suffix = suffix.trim().to_ascii_lowercase();
    let unit: u64 = match suffix.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// Splits `host:port[:more]`, with an IPv6 host in brackets, like ZooKeeper's
/// `ConfigUtils.getHostAndPort`.
fn host_and_port(s: &str) -> Result<Vec<String>, String> {
    if let Some(rest) = s.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err(format!("{s:?} starts with '[' but has no matching ']'"));
        };
        let host = &rest[..close];
        let after = &rest[close + 1..];
        if after.is_empty() {
            return Ok(vec![host.to_string()]);
        }
        let Some(ports) = after.strip_prefix(':') else {
            return Err(format!("{s:?} has no ':' after ']'"));
        };
        if ports.is_empty() {
            return Err(format!("{s:?} has no port after the colon"));
        }
        let mut out = vec![host.to_string()];
        out.extend(ports.split(':').map(str::to_string));
        Ok(out)
    } else {
        Ok(s.split(':').map(str::to_string).collect())
    }
}

/// Parses a port number (1-65535) inside a `server.N` value.
fn server_port(what: &str, s: &str) -> Result<u16, String> {
    match parse_int(s.trim()) {
        Some(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(format!(
            "{what} {:?} is not a port number from 1 to 65535",
            s.trim()
        )),
    }
}

/// The shape of a `server.N` value, for error messages.
const SERVER_FORMAT: &str =
    "expected host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]";

/// Parses the value of `server.<id>`. Returns the entry and, when the line lists several
/// addresses (`|`), a note that only the first is used.
fn parse_server(id: u64, value: &str) -> Result<(ServerEntry, Option<String>), String> {
    let with_format = |reason: String| format!("{reason}; {SERVER_FORMAT}");
    let parts: Vec<&str> = value.split(';').collect();
    if parts.len() > 2 {
        return Err(with_format("more than one ';'".to_string()));
    }
    let addresses: Vec<&str> = parts[0].split('|').collect();
    let note = (addresses.len() > 1).then(|| {
        "zkr uses only the first of several addresses (multiAddress is not supported)".to_string()
    });
    let fields = host_and_port(addresses[0].trim()).map_err(with_format)?;
    if fields.len() < 3 || fields.len() > 4 {
        return Err(with_format(format!(
            "{} ':'-separated fields",
            fields.len()
        )));
    }
    let host = fields[0].trim();
    if host.is_empty() {
        return Err(with_format("empty host".to_string()));
    }
    let quorum_port = server_port("quorum port", &fields[1]).map_err(with_format)?;
    let election_port = server_port("election port", &fields[2]).map_err(with_format)?;
    if quorum_port == election_port {
        return Err("quorum port and election port must be different".to_string());
    }
    let observer = match fields.get(3).map(|t| t.trim().to_ascii_lowercase()) {
        None => false,
        Some(t) if t == "participant" => false,
        Some(t) if t == "observer" => true,
        Some(t) => return Err(with_format(format!("unknown peer type {t:?}"))),
    };
    let client = match parts.get(1).map(|c| c.trim()) {
        None | Some("") => None,
        Some(c) => {
            let cf = host_and_port(c).map_err(with_format)?;
            match cf.as_slice() {
                [port] => Some(("0.0.0.0".to_string(), server_port("client port", port)?)),
                [h, port] if !h.trim().is_empty() => {
                    Some((h.trim().to_string(), server_port("client port", port)?))
                }
                _ => return Err(with_format(format!("bad client address {c:?}"))),
            }
        }
    };
    let entry = ServerEntry {
        id,
        host: host.to_string(),
        quorum_port,
        election_port,
        observer,
        client,
    };
    Ok((entry, note))
}

/// Parses `clientPortAddress`: an IP literal (IPv6 optionally in brackets) or `localhost`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// Accumulates a configuration while its entries are applied in file order.
struct Builder<'a> {
    source_name: &'a str,
    cfg: Config,
    warnings: Vec<Warning>,
    tick_time: Option<Entry>,
    init_limit: Option<Entry>,
    sync_limit: Option<Entry>,
    standalone_enabled: Option<Entry>,
    data_log_dir_set: bool,
    /// Explicit session timeouts; the inner `None` is ZooKeeper's `-1` ("use the default").
    min_session: Option<(Option<u32>, Entry)>,
    max_session: Option<(Option<u32>, Entry)>,
    whitelist: Option<Entry>,
    read_only_mode: bool,
    metrics_class: Option<Entry>,
    /// Explicit `metricsProvider.httpPort`; the inner `None` is `0` (disabled).
    metrics_port: Option<(Option<u16>, Entry)>,
    servers: Vec<(ServerEntry, Entry)>,
}

impl<'a> Builder<'a> {
    fn new(source_name: &'a str) -> Self {
        Builder {
            source_name,
            cfg: Config::default(),
            warnings: Vec::new(),
            tick_time: None,
            init_limit: None,
            sync_limit: None,
            standalone_enabled: None,
            data_log_dir_set: false,
            min_session: None,
            max_session: None,
            whitelist: None,
            read_only_mode: false,
            metrics_class: None,
            metrics_port: None,
            servers: Vec::new(),
        }
    }

    fn warn(&mut self, e: &Entry, message: impl Into<String>) {
        self.warnings.push(Warning {
            line: e.line,
            key: e.key.clone(),
            message: message.into(),
        });
    }

    fn bad(&self, e: &Entry, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            source_name: self.source_name.to_string(),
            line: e.line,
            key: e.key.clone(),
            value: e.value.clone(),
            reason: reason.into(),
        }
    }

    /// The key with any `zookeeper.` prefix removed; `server.N` keys are normalized to the
    /// decimal id so that `server.01` and `server.1` count as the same key.
    fn canonical_key(&self, e: &Entry) -> Result<String, ConfigError> {
        let key = e.key.strip_prefix("zookeeper.").unwrap_or(&e.key);
        if let Some(id) = key.strip_prefix("server.") {
            return match id.parse::<u64>() {
                Ok(id) => Ok(format!("server.{id}")),
                Err(_) => Err(self.bad(
                    e,
                    format!(
                        "{id:?} is not a server id; expected server.N with N a non-negative integer"
                    ),
                )),
            };
        }
        Ok(key.to_string())
    }

    fn int(&self, e: &Entry, min: i64, max: i64) -> Result<i64, ConfigError> {
        match parse_int(&e.value) {
            Some(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(self.bad(
                e,
                match (min, max) {
                    (0, m) if m == i64::from(u32::MAX) => {
                        "expected a non-negative integer".to_string()
                    }
                    (1, m) if m == i64::from(u32::MAX) => "expected a positive integer".to_string(),
                    (1, 65535) => "expected a port number from 1 to 65535".to_string(),
                    (i64::MIN, _) => "expected an integer".to_string(),
                    _ => format!("expected an integer from {min} to {max}"),
                },
            )),
        }
    }

    fn u32_in(&self, e: &Entry, min: u32, max: u32) -> Result<u32, ConfigError> {
        let v = self.int(e, i64::from(min), i64::from(max))?;
        u32::try_from(v).map_err(|_| self.bad(e, "integer out of range"))
    }

    fn port(&self, e: &Entry) -> Result<u16, ConfigError> {
        let v = self.int(e, 1, 65535)?;
        u16::try_from(v).map_err(|_| self.bad(e, "expected a port number from 1 to 65535"))
    }

    fn boolean(&self, e: &Entry) -> Result<bool, ConfigError> {
        match e.value.to_ascii_lowercase().as_str() {
            "true" | "yes" => Ok(true),
            "false" | "no" => Ok(false),
            _ => Err(self.bad(e, "expected true, false, yes or no")),
        }
    }

    fn path(&self, e: &Entry) -> Result<PathBuf, ConfigError> {
        if e.value.is_empty() {
            return Err(self.bad(e, "expected a directory path"));
        }
        Ok(PathBuf::from(&e.value))
    }

    /// A session timeout: `-1` means "the default" (as in ZooKeeper), else milliseconds.
    fn session_timeout(&self, e: &Entry) -> Result<Option<u32>, ConfigError> {
        match parse_int(&e.value) {
            Some(-1) => Ok(None),
            Some(v) if (0..=i64::from(u32::MAX)).contains(&v) => Ok(u32::try_from(v).ok()),
            _ => Err(self.bad(e, "expected a non-negative number of milliseconds (or -1)")),
        }
    }

    /// Applies one entry whose key (prefix removed) is `key`.
    fn apply(&mut self, key: &str, e: &Entry) -> Result<(), ConfigError> {
        let mut c = std::mem::take(&mut self.cfg);
        let result = self.apply_to(&mut c, key, e);
        self.cfg = c;
        result
    }

    fn apply_to(&mut self, c: &mut Config, key: &str, e: &Entry) -> Result<(), ConfigError> {
        match key {
            "tickTime" => {
                let too_large = parse_int(&e.value).is_some_and(|v| v > 0);
                c.tick_time_ms = self.u32_in(e, 1, TICK_TIME_MS_MAX).map_err(|_| {
                    let reason = if too_large {
                        format!("expected a positive integer no larger than {TICK_TIME_MS_MAX}")
                    } else {
                        "expected a positive integer".to_string()
                    };
                    self.bad(e, reason)
                })?;
                self.tick_time = Some(e.clone());
            }
            "initLimit" => {
                c.init_limit = self.u32_in(e, 0, u32::MAX)?;
                self.init_limit = Some(e.clone());
            }
            "syncLimit" => {
                c.sync_limit = self.u32_in(e, 0, u32::MAX)?;
                self.sync_limit = Some(e.clone());
            }
            "dataDir" => c.data_dir = self.path(e)?,
            "dataLogDir" => {
                c.data_log_dir = self.path(e)?;
                self.data_log_dir_set = true;
            }
            "clientPort" => c.client_port = self.port(e)?,
            "clientPortAddress" => {
                c.client_port_address = parse_ip(&e.value).ok_or_else(|| {
                    self.bad(
                        e,
                        "expected an IP address literal such as 0.0.0.0, 127.0.0.1 or \
                        ::1 (zkr does not resolve host names other than localhost)",
                    )
                })?;
            }
            "maxClientCnxns" => c.max_client_cnxns = self.u32_in(e, 0, u32::MAX)?,
            "minSessionTimeout" => {
                self.min_session = Some((self.session_timeout(e)?, e.clone()));
            }
            "maxSessionTimeout" => {
                self.max_session = Some((self.session_timeout(e)?, e.clone()));
            }
            "4lw.commands.whitelist" => self.whitelist = Some(e.clone()),
            "readonlymode.enabled" => self.read_only_mode = self.boolean(e)?,
            "extendedTypesEnabled" => c.extended_types_enabled = self.boolean(e)?,
            "DigestAuthenticationProvider.superDigest" => match e.value.split_once(':') {
                Some((user, digest)) if !user.is_empty() && !digest.is_empty() => {
                    c.super_digest = Some(e.value.clone());
                }
                _ => return Err(self.bad(e, "expected user:base64(sha1(user:password))")),
            },
            "DigestAuthenticationProvider.digestAlg" => {
                let alg = e.value.to_ascii_uppercase();
                if alg != "SHA1" && alg != "SHA-1" {
                    self.warn(
                        e,
                        "zkr supports only SHA1 digests; digest ACLs and superDigest \
                        made with another algorithm will not match",
                    );
                }
            }
            "jute.maxbuffer" => {
                c.jute_max_buffer = self.u32_in(e, 1, i32::MAX as u32)?;
            }
            "forceSync" => c.force_sync = self.boolean(e)?,
            "snapCount" => {
                let v = self.int(e, i64::MIN, i64::MAX)?;
                c.snap_count = match u64::try_from(v) {
                    Ok(v) if v >= SNAP_COUNT_MIN => v,
                    _ => {
                        self.warn(
                            e,
                            format!(
                                "snapCount must be {SNAP_COUNT_MIN} or more; \
                            using {SNAP_COUNT_MIN}"
                            ),
                        );
                        SNAP_COUNT_MIN
                    }
                };
            }
            "autopurge.snapRetainCount" => {
                let v = self.int(e, i64::MIN, i64::from(u32::MAX))?;
                c.autopurge_snap_retain_count = match u32::try_from(v) {
                    Ok(v) if v >= SNAP_RETAIN_COUNT_MIN => v,
                    _ => {
                        self.warn(
                            e,
                            format!(
                                "autopurge.snapRetainCount must be \
                            {SNAP_RETAIN_COUNT_MIN} or more; using {SNAP_RETAIN_COUNT_MIN}"
                            ),
                        );
                        SNAP_RETAIN_COUNT_MIN
                    }
                };
            }
            "autopurge.purgeInterval" => {
                // As in ZooKeeper, zero or a negative interval disables purging.
                let v = self.int(e, i64::MIN, i64::from(u32::MAX))?;
                c.autopurge_purge_interval_hours = u32::try_from(v).unwrap_or(0);
            }
            "globalOutstandingLimit" => c.global_outstanding_limit = self.u32_in(e, 1, u32::MAX)?,
            "preAllocSize" => {
                let v = self.int(e, 1, 1 << 32)?;
                c.pre_alloc_size_kb = u64::try_from(v).map_err(|_| self.bad(e, "out of range"))?;
            }
            "metricsProvider.className" => self.metrics_class = Some(e.clone()),
            "metricsProvider.httpPort" => {
                let port = match parse_int(&e.value) {
                    Some(0) => None,
                    _ => Some(self.port(e)?),
                };
                self.metrics_port = Some((port, e.clone()));
            }
            "standaloneEnabled" => {
                c.standalone_enabled = self.boolean(e)?;
                self.standalone_enabled = Some(e.clone());
            }
            "reconfigEnabled" => c.reconfig_enabled = self.boolean(e)?,
            "peerType" => {
                c.peer_type_observer = match e.value.to_ascii_lowercase().as_str() {
                    "observer" => true,
                    "participant" => false,
                    _ => return Err(self.bad(e, "expected observer or participant")),
                };
            }
            "electionAlg" => {
                if parse_int(&e.value) != Some(i64::from(ELECTION_ALG)) {
                    return Err(self.bad(e, "only 3 (fast leader election) is supported"));
                }
            }
            "zkr.cores" => {
                let v = self.int(e, 1, CORES_MAX as i64)?;
                c.cores = Some(usize::try_from(v).map_err(|_| self.bad(e, "out of range"))?);
            }
            "zkr.ioMemory" => {
                let reason = "expected a size in bytes, optionally with a k, m or g suffix";
                let v = parse_size(&e.value)
                    .filter(|&v| v > 0)
                    .ok_or_else(|| self.bad(e, reason))?;
                c.io_memory_bytes = usize::try_from(v).map_err(|_| self.bad(e, reason))?;
            }
            "zkr.spinBeforeParkUs" => c.spin_before_park_us = self.u32_in(e, 0, u32::MAX)?,
            "zkr.logSegmentBytes" => {
                let reason = "expected a size of at least 8k, optionally with a k, m or g suffix";
                let v = parse_size(&e.value)
                    .filter(|&v| v >= crate::log::segment::SEGMENT_BYTES_MIN)
                    .ok_or_else(|| self.bad(e, reason))?;
                c.log_segment_bytes = v;
            }
            "znode.container.checkIntervalMs" => {
                c.container_check_interval_ms = u64::from(self.u32_in(e, 1, u32::MAX)?);
            }
            _ => self.apply_other(key, e)?,
        }
        Ok(())
    }

    /// Server lines, zkr keys zkr does not know, ZooKeeper keys zkr ignores, unknown keys.
    fn apply_other(&mut self, key: &str, e: &Entry) -> Result<(), ConfigError> {
        if let Some(id) = key.strip_prefix("server.") {
            let id = id
                .parse::<u64>()
                .map_err(|_| self.bad(e, "expected server.N"))?;
            let (entry, note) = parse_server(id, &e.value).map_err(|r| self.bad(e, r))?;
            if let Some(note) = note {
                self.warn(e, note);
            }
            self.servers.push((entry, e.clone()));
        } else if key.starts_with("zkr.") {
            self.warn(e, "unknown zkr key, ignored");
        } else {
            match classify_known(key) {
                Some(Known::Silent) => {}
                Some(Known::Note(note)) => self.warn(e, note),
                None => self.warn(e, "unknown key, ignored"),
            }
        }
        Ok(())
    }

    /// Resolves defaults that depend on other keys and checks the keys against each other.
    fn finish(mut self) -> Result<(Config, Vec<Warning>), ConfigError> {
        let mut c = std::mem::take(&mut self.cfg);
        if !self.data_log_dir_set {
            c.data_log_dir = c.data_dir.clone();
        }
        // tickTime <= TICK_TIME_MS_MAX, so 20 ticks fit a u32.
        let min_default = MIN_SESSION_TIMEOUT_TICKS.saturating_mul(c.tick_time_ms);
        let max_default = MAX_SESSION_TIMEOUT_TICKS.saturating_mul(c.tick_time_ms);
        c.min_session_timeout_ms = self
            .min_session
            .as_ref()
            .and_then(|m| m.0)
            .unwrap_or(min_default);
        c.max_session_timeout_ms = self
            .max_session
            .as_ref()
            .and_then(|m| m.0)
            .unwrap_or(max_default);
        if c.min_session_timeout_ms > c.max_session_timeout_ms {
            let reason = format!(
                "minSessionTimeout ({} ms) must not be larger than maxSessionTimeout ({} ms)",
                c.min_session_timeout_ms, c.max_session_timeout_ms
            );
            let at = match (&self.min_session, &self.max_session) {
                (Some((Some(_), e)), _) => Some(e),
                (_, Some((Some(_), e))) => Some(e),
                _ => self.tick_time.as_ref(),
            };
            return Err(match at {
                Some(e) => self.bad(e, reason),
                None => ConfigError::Invalid {
                    source_name: self.source_name.to_string(),
                    line: 0,
                    key: "minSessionTimeout".to_string(),
                    value: c.min_session_timeout_ms.to_string(),
                    reason,
                },
            });
        }
        c.four_letter_words = self.resolve_whitelist();
        c.metrics_http_port = self.resolve_metrics();
        self.check_servers(&mut c)?;
        Ok((c, self.warnings))
    }

    fn resolve_whitelist(&mut self) -> FourLetterWhitelist {
        let mut set = BTreeSet::new();
        if let Some(e) = self.whitelist.clone() {
            for word in e.value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                if word == "*" {
                    return FourLetterWhitelist::All;
                }
                if !FOUR_LETTER_WORDS.contains(&word) {
                    self.warn(
                        &e,
                        format!("unknown four-letter word {word:?} in the whitelist"),
                    );
                }
                set.insert(word.to_string());
            }
        }
        // As in ZooKeeper: srvr is always enabled (zkServer.sh uses it), isro in read-only mode.
        set.insert("srvr".to_string());
        if self.read_only_mode {
            set.insert("isro".to_string());
        }
        FourLetterWhitelist::Only(set)
    }

    /// As in ZooKeeper, a metrics port is opened only when a metrics provider is configured.
    fn resolve_metrics(&mut self) -> Option<u16> {
        let port = self.metrics_port.clone();
        match (self.metrics_class.clone(), port) {
            (None, None) => None,
            (None, Some((_, e))) => {
                self.warn(
                    &e,
                    "ignored because metricsProvider.className is not set \
                    (as in ZooKeeper)",
                );
                None
            }
            (Some(class), port) => {
                if class.value != PROMETHEUS_PROVIDER_CLASS {
                    self.warn(
                        &class,
                        "zkr serves Prometheus-format metrics only; \
                        metricsProvider.httpPort is used with them",
                    );
                }
                match port {
                    Some((p, _)) => p,
                    None if class.value == PROMETHEUS_PROVIDER_CLASS => {
                        Some(METRICS_HTTP_PORT_DEFAULT)
                    }
                    None => None,
                }
            }
        }
    }

    /// ZooKeeper's checks of the server list (`QuorumPeerConfig.parseDynamicConfig` and
    /// `checkValidity`).
    fn check_servers(&mut self, c: &mut Config) -> Result<(), ConfigError> {
        self.servers.sort_by_key(|(s, _)| s.id);
        let participants = self.servers.iter().filter(|(s, _)| !s.observer).count();
        let first_observer = self
            .servers
            .iter()
            .find(|(s, _)| s.observer)
            .map(|(_, e)| e);
        if participants == 0 {
            if !c.standalone_enabled {
                let reason = "standaloneEnabled=false needs at least one participant server.N line";
                return Err(match &self.standalone_enabled {
                    Some(e) => self.bad(e, reason),
                    None => self.bad(
                        &Entry {
                            line: 0,
                            key: "standaloneEnabled".into(),
                            value: "false".into(),
                        },
                        reason,
                    ),
                });
            }
            if let Some(e) = first_observer {
                return Err(self.bad(
                    e,
                    "observers without participants are an invalid \
                    configuration",
                ));
            }
        } else if participants == 1 && c.standalone_enabled {
            if let Some(e) = first_observer {
                return Err(self.bad(
                    e,
                    "observers without a quorum are an invalid \
                    configuration (only one participant)",
                ));
            }
            self.warnings.push(Warning {
                line: 0,
                key: "server".to_string(),
                message: "only one server specified: running standalone \
                    (set standaloneEnabled=false to run a one-server ensemble)"
                    .to_string(),
            });
        } else {
            if participants <= 2 {
                self.warnings.push(Warning {
                    line: 0,
                    key: "server".to_string(),
                    message: "no server failure will be tolerated; you need at least 3 servers"
                        .to_string(),
                });
            } else if participants % 2 == 0 {
                self.warnings.push(Warning {
                    line: 0,
                    key: "server".to_string(),
                    message: "non-optimal configuration, consider an odd number of servers"
                        .to_string(),
                });
            }
            for (value, entry, name) in [
                (c.init_limit, &self.init_limit, "initLimit"),
                (c.sync_limit, &self.sync_limit, "syncLimit"),
            ] {
                if value == 0 {
                    let e = entry.clone().unwrap_or(Entry {
                        line: 0,
                        key: name.to_string(),
                        value: "0".to_string(),
                    });
                    return Err(self.bad(&e, "must be positive in an ensemble"));
                }
            }
        }
        c.servers = self.servers.drain(..).map(|(s, _)| s).collect();
        Ok(())
    }
}

/// What the `conf` four-letter word prints that the configuration alone does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfRuntime {
    /// This server's id (`myid`); ZooKeeper prints 0 for a standalone server.
    pub server_id: u64,
    /// Bytes in the snapshot directory (`dataDirSize`).
    pub data_dir_size_bytes: u64,
    /// Bytes in the log directory (`dataLogSize`).
    pub data_log_size_bytes: u64,
    /// Working directory to make relative `dataDir`/`dataLogDir` absolute with, as Java's
    /// `File.getAbsolutePath` does (no normalization: `./zkr-data` becomes `/cwd/./zkr-data`).
    pub cwd: Option<PathBuf>,
    /// Version of the ensemble membership, printed in hex after the server lines.
    pub config_version: u64,
}

impl Config {
    /// The ensemble is distributed (not standalone): more than one participant, or at least
    /// one with `standaloneEnabled=false` (ZooKeeper's `QuorumPeerConfig.isDistributed`).
    pub fn is_distributed(&self) -> bool {
        let participants = self.servers.iter().filter(|s| !s.observer).count();
        participants > 1 || (participants == 1 && !self.standalone_enabled)
    }

    /// The `server.N` entry with id `id`.
    pub fn server(&self, id: u64) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// The `conf` four-letter word's key/value pairs for a standalone server (server id 0,
    /// directory sizes 0, paths as configured); see [`Config::conf_lines`].
    pub fn to_conf_lines(&self) -> Vec<(String, String)> {
        self.conf_lines(&ConfRuntime::default())
    }

    /// The key/value pairs ZooKeeper 3.8's `conf` four-letter word prints, in its order and
    /// with its names: `clientPort`, `secureClientPort` (-1: zkr has no TLS port), `dataDir`
    /// and `dataLogDir` (with `/version-2` appended, as ZooKeeper prints its snapshot and log
    /// directories), `dataDirSize`, `dataLogSize`, `tickTime`, `maxClientCnxns`,
    /// `minSessionTimeout`, `maxSessionTimeout`, `clientPortListenBacklog` (-1), `serverId`;
    /// in a distributed ensemble also `initLimit`, `syncLimit`, `electionAlg`, `electionPort`,
    /// `quorumPort`, `peerType` (0 participant, 1 observer), then [`CONF_MEMBERSHIP_KEY`]
    /// with an empty value, one `server.N` pair per server and `version` (hex).
    /// [`render_conf`] turns them into ZooKeeper's exact text.
    pub fn conf_lines(&self, rt: &ConfRuntime) -> Vec<(String, String)> {
        let dir = |p: &Path| {
            let abs = match &rt.cwd {
                Some(cwd) if p.is_relative() => cwd.join(p),
                _ => p.to_path_buf(),
            };
            abs.join(VERSION_DIR).display().to_string()
        };
        let mut out: Vec<(String, String)> = vec![
            ("clientPort".into(), self.client_port.to_string()),
            ("secureClientPort".into(), "-1".into()),
            ("dataDir".into(), dir(&self.data_dir)),
            ("dataDirSize".into(), rt.data_dir_size_bytes.to_string()),
            ("dataLogDir".into(), dir(&self.data_log_dir)),
            ("dataLogSize".into(), rt.data_log_size_bytes.to_string()),
            ("tickTime".into(), self.tick_time_ms.to_string()),
            ("maxClientCnxns".into(), self.max_client_cnxns.to_string()),
            (
                "minSessionTimeout".into(),
                self.min_session_timeout_ms.to_string(),
            ),
            (
                "maxSessionTimeout".into(),
                self.max_session_timeout_ms.to_string(),
            ),
            ("clientPortListenBacklog".into(), "-1".into()),
            ("serverId".into(), rt.server_id.to_string()),
        ];
        if !self.is_distributed() {
            return out;
        }
        let me = self.server(rt.server_id);
        let observer = me.map_or(self.peer_type_observer, |s| s.observer);
        out.extend([
            ("initLimit".into(), self.init_limit.to_string()),
            ("syncLimit".into(), self.sync_limit.to_string()),
            ("electionAlg".into(), ELECTION_ALG.to_string()),
            (
                "electionPort".into(),
                me.map_or(String::new(), |s| s.election_port.to_string()),
            ),
            (
                "quorumPort".into(),
                me.map_or(String::new(), |s| s.quorum_port.to_string()),
            ),
            ("peerType".into(), if observer { "1" } else { "0" }.into()),
            (CONF_MEMBERSHIP_KEY.into(), String::new()),
        ]);
        for s in &self.servers {
            out.push((format!("server.{}", s.id), s.to_zk_string()));
        }
        out.push(("version".into(), format!("{:x}", rt.config_version)));
        out
    }
}

impl ServerEntry {
    /// The value as ZooKeeper prints it in `conf` membership and dynamic config files:
    /// `host:quorumPort:electionPort:participant|observer[;clientHost:clientPort]`, IPv6 hosts
    /// in brackets; the client address only when the `server.N` line gave one.
    pub fn to_zk_string(&self) -> String {
        let bracket = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        };
        let role = if self.observer {
            "observer"
        } else {
            "participant"
        };
        let mut s = format!(
            "{}:{}:{}:{role}",
            bracket(&self.host),
            self.quorum_port,
            self.election_port
        );
        if let Some((host, port)) = &self.client {
            s.push_str(&format!(";{}:{port}", bracket(host)));
        }
        s
    }
}

/// Renders [`Config::conf_lines`] as ZooKeeper's `conf` prints them: `key=value` lines, the
/// membership header as the bare line `membership: `, and, after membership, no newline after
/// the final `version=` line (ZooKeeper prints none there).
pub fn render_conf(lines: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut membership = false;
    for (k, v) in lines {
        if k == CONF_MEMBERSHIP_KEY {
            membership = true;
            out.push_str(k);
        } else {
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out.push('\n');
    }
    if membership && out.ends_with('\n') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn ok(text: &str) -> (Config, Vec<Warning>) {
        match parse(text, "zoo.cfg") {
            Ok(r) => r,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn err(text: &str) -> ConfigError {
        match parse(text, "zoo.cfg") {
            Ok((c, _)) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        }
    }

    /// (line, key, value) of an Invalid error.
    fn invalid(text: &str) -> (usize, String, String, String) {
        match err(text) {
            ConfigError::Invalid {
                source_name,
                line,
                key,
                value,
                reason,
            } => {
                assert_eq!(source_name, "zoo.cfg");
                (line, key, value, reason)
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn warned(ws: &[Warning], key: &str, needle: &str) -> bool {
        ws.iter()
            .any(|w| w.key == key && w.message.contains(needle))
    }

    const QUORUM3: &str = "server.1=10.0.0.1:2888:3888\n\
                           server.2=10.0.0.2:2888:3888\n\
                           server.3=10.0.0.3:2888:3888\n";

    // ---- defaults -------------------------------------------------------------------------

    #[test]
    fn empty_text_is_the_default() {
        let (c, w) = ok("");
        assert_eq!(c, Config::default());
        assert!(w.is_empty());
        let (c2, w2) = ok("# only a comment\n\n   \n! another\n");
        assert_eq!(c2, Config::default());
        assert!(w2.is_empty());
    }

    #[test]
    fn default_values_match_zookeeper() {
        let c = Config::default();
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(c.init_limit, 10);
        assert_eq!(c.sync_limit, 5);
        assert_eq!(c.data_dir, PathBuf::from("./zkr-data"));
        assert_eq!(c.data_log_dir, c.data_dir);
        assert_eq!(c.client_port, 2181);
        assert_eq!(c.client_port_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(c.max_client_cnxns, 60);
        assert_eq!(c.min_session_timeout_ms, 4000);
        assert_eq!(c.max_session_timeout_ms, 40000);
        assert!(c.four_letter_words.allows("srvr"));
        assert!(!c.four_letter_words.allows("ruok"));
        assert!(!c.extended_types_enabled);
        assert_eq!(c.super_digest, None);
        assert_eq!(c.jute_max_buffer, 0xfffff);
        assert!(c.force_sync);
        assert_eq!(c.snap_count, 100_000);
        assert_eq!(c.autopurge_snap_retain_count, 3);
        assert_eq!(c.autopurge_purge_interval_hours, 0);
        assert_eq!(c.global_outstanding_limit, 1000);
        assert_eq!(c.pre_alloc_size_kb, 65536);
        assert_eq!(c.metrics_http_port, None);
        assert!(c.standalone_enabled);
        assert!(!c.reconfig_enabled);
        assert!(c.servers.is_empty());
        assert!(!c.peer_type_observer);
        assert_eq!(c.cores, None);
        assert_eq!(c.io_memory_bytes, 1 << 20);
        assert_eq!(c.spin_before_park_us, 0);
        assert!(!c.is_distributed());
    }

    #[test]
    fn zookeeper_sample_config() {
        let (c, w) = ok("# The number of milliseconds of each tick\n\
                         tickTime=2000\ninitLimit=10\nsyncLimit=5\n\
                         dataDir=/var/lib/zookeeper\nclientPort=2181\n\
                         #maxClientCnxns=60\n#autopurge.snapRetainCount=3\n");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/zookeeper"));
        assert_eq!(c.data_log_dir, PathBuf::from("/var/lib/zookeeper"));
    }

    #[test]
    fn every_typed_key() {
        let (c, w) = ok(
            "tickTime=100\ninitLimit=3\nsyncLimit=2\ndataDir=/d\ndataLogDir=/l\n\
             clientPort=3000\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n\
             minSessionTimeout=500\nmaxSessionTimeout=9000\n\
             4lw.commands.whitelist=ruok\nextendedTypesEnabled=true\n\
             DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n\
             jute.maxbuffer=4194304\nforceSync=no\nsnapCount=5000\n\
             autopurge.snapRetainCount=7\nautopurge.purgeInterval=24\n\
             globalOutstandingLimit=50\npreAllocSize=1024\n\
             metricsProvider.className=org.apache.zookeeper.metrics.prometheus.\
             PrometheusMetricsProvider\nmetricsProvider.httpPort=7001\n\
             standaloneEnabled=true\nreconfigEnabled=true\npeerType=observer\n\
             zkr.cores=2\nzkr.ioMemory=4m\nzkr.spinBeforeParkUs=50\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.tick_time_ms, 100);
        assert_eq!(c.init_limit, 3);
        assert_eq!(c.sync_limit, 2);
        assert_eq!(c.data_dir, PathBuf::from("/d"));
        assert_eq!(c.data_log_dir, PathBuf::from("/l"));
        assert_eq!(c.client_port, 3000);
        assert_eq!(c.client_port_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(c.max_client_cnxns, 0);
        assert_eq!(c.min_session_timeout_ms, 500);
        assert_eq!(c.max_session_timeout_ms, 9000);
        assert!(c.four_letter_words.allows("ruok"));
        assert!(c.extended_types_enabled);
        assert_eq!(
            c.super_digest.as_deref(),
            Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
        );
        assert_eq!(c.jute_max_buffer, 4_194_304);
        assert!(!c.force_sync);
        assert_eq!(c.snap_count, 5000);
        assert_eq!(c.autopurge_snap_retain_count, 7);
        assert_eq!(c.autopurge_purge_interval_hours, 24);
        assert_eq!(c.global_outstanding_limit, 50);
        assert_eq!(c.pre_alloc_size_kb, 1024);
        assert_eq!(c.metrics_http_port, Some(7001));
        assert!(c.reconfig_enabled);
        assert!(c.peer_type_observer);
        assert_eq!(c.cores, Some(2));
        assert_eq!(c.io_memory_bytes, 4 << 20);
        assert_eq!(c.spin_before_park_us, 50);
    }

    // ---- properties syntax ----------------------------------------------------------------

    #[test]
    fn separators_whitespace_and_comments() {
        let (c, w) = ok("  tickTime = 3000  \n\
                         \tinitLimit:7\n\
                         syncLimit 4\n\
                         clientPort  :  2182\n\
                         # clientPort=1\n\
                         ! clientPort=2\n\
                         \n\
                         maxClientCnxns\t=\t9\t\n");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.tick_time_ms, 3000);
        assert_eq!(c.init_limit, 7);
        assert_eq!(c.sync_limit, 4);
        assert_eq!(c.client_port, 2182);
        assert_eq!(c.max_client_cnxns, 9);
    }

    #[test]
    fn value_keeps_later_separators() {
        // Only the first '=' or ':' separates; server values are full of ':'.
        let (c, _) = ok("server.1 = 10.0.0.1:2888:3888\nstandaloneEnabled=false\n");
        assert_eq!(c.servers[0].host, "10.0.0.1");
        let (c, _) = ok("dataDir=/a=b:c\n");
        assert_eq!(c.data_dir, PathBuf::from("/a=b:c"));
    }

    #[test]
    fn crlf_cr_and_missing_final_newline() {
        let (c, _) = ok("tickTime=1000\r\ninitLimit=4\rsyncLimit=3");
        assert_eq!((c.tick_time_ms, c.init_limit, c.sync_limit), (1000, 4, 3));
        let (line, key, _, _) = invalid("tickTime=1000\r\n\r\nsyncLimit=x\r\n");
        assert_eq!((line, key.as_str()), (3, "syncLimit"));
    }

    #[test]
    fn continuation_lines_and_escapes() {
        let (c, _) = ok("dataDir=/var/\\\n    lib/zk\n4lw.commands.whitelist=ruok,\\\n  stat\n");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/zk"));
        assert!(c.four_letter_words.allows("stat"));
        // An escaped backslash at the end does not continue the line.
        let (c, _) = ok("dataDir=C:\\\\data\\\\\ntickTime=10\n");
        assert_eq!(c.data_dir, PathBuf::from("C:\\data\\"));
        assert_eq!(c.tick_time_ms, 10);
        // \uXXXX, \t and an escaped separator in a key.
        let (c, _) = ok("dataDir=/d\\u00e9\\u0041\n");
        assert_eq!(c.data_dir, PathBuf::from("/d\u{e9}A"));
        let (_, w) = ok("my\\=key=1\n");
        assert!(warned(&w, "my=key", "unknown key"), "{w:?}");
        let (c, _) = ok("dataDir=/\\uD83D\\uDE00\n");
        assert_eq!(c.data_dir, PathBuf::from("/\u{1F600}"));
    }

    #[test]
    fn continuation_error_reports_the_first_line() {
        let (line, key, value, _) = invalid("# c\ntickTime=1\\\n  2x\n");
        assert_eq!((line, key.as_str(), value.as_str()), (2, "tickTime", "12x"));
    }

    #[test]
    fn comment_lines_do_not_continue() {
        let (c, _) = ok("# comment \\\ntickTime=1234\n");
        assert_eq!(c.tick_time_ms, 1234);
    }

    #[test]
    fn malformed_unicode_escape_is_a_syntax_error() {
        match err("tickTime=2000\ndataDir=/x\\u12g4\n") {
            ConfigError::Syntax {
                source_name,
                line,
                reason,
            } => {
                assert_eq!((source_name.as_str(), line), ("zoo.cfg", 2));
                assert!(reason.contains("\\uxxxx"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            err("dataDir=/x\\u12"),
            ConfigError::Syntax { line: 1, .. }
        ));
        assert!(matches!(
            err("dataDir=/x\\uD800\n"),
            ConfigError::Syntax { line: 1, .. }
        ));
    }

    #[test]
    fn key_without_value() {
        let (_, w) = ok("someFlag\n");
        assert!(warned(&w, "someFlag", "unknown key"));
        let (line, key, value, _) = invalid("tickTime\n");
        assert_eq!((line, key.as_str(), value.as_str()), (1, "tickTime", ""));
        let (line, _, _, reason) = invalid("dataDir=\n");
        assert_eq!(line, 1);
        assert!(reason.contains("directory"));
    }

    // ---- errors ---------------------------------------------------------------------------

    #[test]
    fn error_display_names_source_line_key_and_value() {
        let mut text = String::new();
        for i in 0..11 {
            text.push_str(&format!("# line {}\n", i + 1));
        }
        text.push_str("tickTime=abc\n");
        let e = err(&text);
        assert_eq!(
            e.to_string(),
            "zoo.cfg:12: bad value for tickTime: \"abc\" (expected a positive integer)"
        );
        let (_, _, _, reason) = invalid("tickTime=999999999\n");
        assert_eq!(
            reason,
            "expected a positive integer no larger than 214748364"
        );
    }

    #[test]
    fn bad_numbers() {
        for (text, key) in [
            ("tickTime=0", "tickTime"),
            ("tickTime=-5", "tickTime"),
            ("tickTime=2000ms", "tickTime"),
            ("tickTime=999999999", "tickTime"),
            ("initLimit=ten", "initLimit"),
            ("syncLimit=-1", "syncLimit"),
            ("maxClientCnxns=1.5", "maxClientCnxns"),
            ("globalOutstandingLimit=0", "globalOutstandingLimit"),
            ("preAllocSize=0", "preAllocSize"),
            ("jute.maxbuffer=0", "jute.maxbuffer"),
            ("jute.maxbuffer=4294967296", "jute.maxbuffer"),
            ("snapCount=lots", "snapCount"),
            ("autopurge.purgeInterval=1h", "autopurge.purgeInterval"),
            ("minSessionTimeout=-2", "minSessionTimeout"),
            ("zkr.cores=0", "zkr.cores"),
            ("zkr.ioMemory=0", "zkr.ioMemory"),
            ("zkr.ioMemory=12q", "zkr.ioMemory"),
            ("zkr.spinBeforeParkUs=-1", "zkr.spinBeforeParkUs"),
        ] {
            let (line, k, _, _) = invalid(&format!("# x\n{text}\n"));
            assert_eq!((line, k.as_str()), (2, key), "{text}");
        }
    }

    #[test]
    fn bad_ports() {
        for text in [
            "clientPort=0",
            "clientPort=65536",
            "clientPort=-1",
            "clientPort=http",
        ] {
            let (line, key, _, reason) = invalid(text);
            assert_eq!((line, key.as_str()), (1, "clientPort"));
            assert_eq!(reason, "expected a port number from 1 to 65535");
        }
        let (_, key, _, _) = invalid("metricsProvider.httpPort=70000");
        assert_eq!(key, "metricsProvider.httpPort");
        let (c, _) = ok("clientPort=65535\n");
        assert_eq!(c.client_port, 65535);
    }

    #[test]
    fn bad_booleans() {
        for key in [
            "forceSync",
            "extendedTypesEnabled",
            "standaloneEnabled",
            "reconfigEnabled",
            "readonlymode.enabled",
        ] {
            let (line, k, value, reason) = invalid(&format!("tickTime=1\n{key}=maybe\n"));
            assert_eq!((line, k.as_str(), value.as_str()), (2, key, "maybe"));
            assert_eq!(reason, "expected true, false, yes or no");
        }
    }

    #[test]
    fn booleans_accept_true_false_yes_no_any_case() {
        for (v, want) in [
            ("true", true),
            ("TRUE", true),
            ("Yes", true),
            ("yes", true),
            ("false", false),
            ("False", false),
            ("NO", false),
            ("no", false),
        ] {
            let (c, _) = ok(&format!("extendedTypesEnabled={v}\nforceSync={v}\n"));
            assert_eq!(c.extended_types_enabled, want, "{v}");
            assert_eq!(c.force_sync, want, "{v}");
        }
    }

    #[test]
    fn client_port_address() {
        let (c, _) = ok("clientPortAddress=localhost\n");
        assert_eq!(c.client_port_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let (c, _) = ok("clientPortAddress=::1\n");
        assert_eq!(c.client_port_address, IpAddr::V6(Ipv6Addr::LOCALHOST));
        let (c, _) = ok("clientPortAddress=[::]\n");
        assert_eq!(c.client_port_address, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        let (line, key, value, reason) =
            invalid("clientPort=2181\nclientPortAddress=zk1.example\n");
        assert_eq!(
            (line, key.as_str(), value.as_str()),
            (2, "clientPortAddress", "zk1.example")
        );
        assert!(reason.contains("IP address literal"), "{reason}");
    }

    #[test]
    fn session_timeouts_derive_from_tick_time() {
        let (c, _) = ok("tickTime=500\n");
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (1000, 10000)
        );
        // Order does not matter: the defaults are resolved after every key is read.
        let (c, _) = ok("maxSessionTimeout=60000\ntickTime=3000\n");
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (6000, 60000)
        );
        // -1 means "the default", as in ZooKeeper.
        let (c, _) = ok("minSessionTimeout=-1\nmaxSessionTimeout=-1\ntickTime=100\n");
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (200, 2000)
        );
    }

    #[test]
    fn min_session_timeout_larger_than_max_is_an_error() {
        let (line, key, value, reason) =
            invalid("tickTime=2000\nminSessionTimeout=50000\nmaxSessionTimeout=30000\n");
        assert_eq!(
            (line, key.as_str(), value.as_str()),
            (2, "minSessionTimeout", "50000")
        );
        assert!(reason.contains("must not be larger"), "{reason}");
        // Explicit min above the default max.
        let (line, key, _, _) = invalid("minSessionTimeout=50000\n");
        assert_eq!((line, key.as_str()), (1, "minSessionTimeout"));
        // Explicit max below the default min: the max line is named.
        let (line, key, _, _) = invalid("tickTime=2000\n\nmaxSessionTimeout=3000\n");
        assert_eq!((line, key.as_str()), (3, "maxSessionTimeout"));
        // Equal is fine.
        let (c, _) = ok("minSessionTimeout=5000\nmaxSessionTimeout=5000\n");
        assert_eq!(c.min_session_timeout_ms, 5000);
    }

    #[test]
    fn other_bad_values() {
        let (line, key, _, _) = invalid("peerType=leader\n");
        assert_eq!((line, key.as_str()), (1, "peerType"));
        let (_, key, _, reason) = invalid("electionAlg=1\n");
        assert_eq!(key, "electionAlg");
        assert!(reason.contains("only 3"));
        let (c, _) = ok("electionAlg=3\npeerType=PARTICIPANT\n");
        assert!(!c.peer_type_observer);
        let (_, key, _, _) = invalid("DigestAuthenticationProvider.superDigest=nocolon\n");
        assert_eq!(key, "DigestAuthenticationProvider.superDigest");
        let (_, _, _, _) = invalid("DigestAuthenticationProvider.superDigest=super:\n");
    }

    #[test]
    fn numbers_accept_hex_like_integer_decode() {
        let (c, _) = ok("jute.maxbuffer=0x400000\nsnapCount=#10\n");
        assert_eq!(c.jute_max_buffer, 0x40_0000);
        assert_eq!(c.snap_count, 16);
        let (c, _) = ok("tickTime=+100\n");
        assert_eq!(c.tick_time_ms, 100);
    }

    #[test]
    fn io_memory_sizes() {
        for (v, want) in [
            ("4096", 4096),
            ("64k", 64 << 10),
            ("2MiB", 2 << 20),
            ("1G", 1 << 30),
            ("3 mb", 3 << 20),
        ] {
            let (c, _) = ok(&format!("zkr.ioMemory={v}\n"));
            assert_eq!(c.io_memory_bytes, want, "{v}");
        }
    }

    // ---- prefixes, known and unknown keys, duplicates -------------------------------------

    #[test]
    fn zookeeper_prefix_is_accepted() {
        let (c, w) = ok(
            "zookeeper.extendedTypesEnabled=true\nzookeeper.forceSync=no\n\
                         zookeeper.snapCount=10\nzookeeper.4lw.commands.whitelist=*\n\
                         zookeeper.DigestAuthenticationProvider.superDigest=super:abc=\n\
                         zookeeper.jute.maxbuffer=2048\nzookeeper.globalOutstandingLimit=7\n\
                         zookeeper.preAllocSize=32\nzookeeper.admin.enableServer=false\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert!(c.extended_types_enabled);
        assert!(!c.force_sync);
        assert_eq!(c.snap_count, 10);
        assert_eq!(c.four_letter_words, FourLetterWhitelist::All);
        assert_eq!(c.super_digest.as_deref(), Some("super:abc="));
        assert_eq!(c.jute_max_buffer, 2048);
        assert_eq!(c.global_outstanding_limit, 7);
        assert_eq!(c.pre_alloc_size_kb, 32);
        // And without the prefix.
        let (c, _) = ok("extendedTypesEnabled=true\n");
        assert!(c.extended_types_enabled);
        // Errors name the key as written.
        let (_, key, _, _) = invalid("zookeeper.forceSync=perhaps\n");
        assert_eq!(key, "zookeeper.forceSync");
    }

    #[test]
    fn unknown_keys_warn() {
        let (c, w) = ok("tickTime=2000\nfooBar=1\nzkr.nonsense=2\n");
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            w[0],
            Warning {
                line: 2,
                key: "fooBar".into(),
                message: "unknown key, ignored".into(),
            }
        );
        assert_eq!(w[1].line, 3);
        assert!(w[1].message.contains("unknown zkr key"));
        assert_eq!(w[0].to_string(), "line 2: fooBar: unknown key, ignored");
    }

    #[test]
    fn known_zookeeper_keys_are_accepted() {
        let silent = "admin.enableServer=false\nfsync.warningthresholdms=1000\n\
                      quorumListenOnAllIPs=true\nconnectToLearnerMasterLimit=5\n\
                      metricsProvider.exportJvmInfo=false\nmultiAddress.enabled=false\n\
                      jvm.pause.monitor=false\nznode.container.checkIntervalMs=1000\n\
                      clientPortListenBacklog=100\nsyncEnabled=true\nelectionAlg=3\n\
                      zookeeper.commitProcessor.numWorkerThreads=4\n\
                      leader.maxConcurrentSnapSyncs=10\nsnapshot.compression.method=gz\n\
                      digest.enabled=true\nrequest_throttle_max_requests=0\n\
                      connection_throttle_tokens=0\nnio.numWorkerThreads=8\n";
        let (_, w) = ok(silent);
        assert!(w.is_empty(), "{w:?}");
        let noted = "secureClientPort=2281\nssl.keyStore.location=/k\nauthProvider.1=x.Y\n\
                     quorum.auth.enableSasl=false\nadmin.serverPort=8080\naudit.enable=true\n\
                     localSessionsEnabled=true\nskipACL=yes\ndynamicConfigFile=/d\n\
                     group.1=1:2:3\nweight.1=1\nmaxCnxns=100\n";
        let (_, w) = ok(noted);
        assert_eq!(w.len(), noted.lines().count(), "{w:?}");
        for (i, wn) in w.iter().enumerate() {
            assert_eq!(wn.line, i + 1);
            assert!(!wn.message.contains("unknown"), "{wn:?}");
        }
        assert!(warned(&w, "secureClientPort", "TLS"));
        assert!(warned(&w, "admin.serverPort", "AdminServer"));
    }

    #[test]
    fn duplicate_keys_last_wins_with_warning() {
        let (c, w) = ok("tickTime=1000\n# x\ntickTime=3000\n");
        assert_eq!(c.tick_time_ms, 3000);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 3);
        assert!(w[0].message.contains("line 1"), "{w:?}");
        // An earlier, overridden bad value is never parsed (as with java.util.Properties).
        let (c, w) = ok("tickTime=abc\ntickTime=100\n");
        assert_eq!(c.tick_time_ms, 100);
        assert_eq!(w.len(), 1);
        // The prefixed and plain spellings are the same key.
        let (c, w) = ok("forceSync=no\nzookeeper.forceSync=yes\n");
        assert!(c.force_sync);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].key, "zookeeper.forceSync");
    }

    #[test]
    fn values_zookeeper_adjusts_are_warned_and_adjusted() {
        let (c, w) = ok("snapCount=1\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=-1\n");
        assert_eq!(c.snap_count, 2);
        assert_eq!(c.autopurge_snap_retain_count, 3);
        assert_eq!(c.autopurge_purge_interval_hours, 0);
        assert!(warned(&w, "snapCount", "2 or more"));
        assert!(warned(&w, "autopurge.snapRetainCount", "3 or more"));
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn digest_algorithm_other_than_sha1_warns() {
        let (_, w) = ok("DigestAuthenticationProvider.digestAlg=SHA1\n");
        assert!(w.is_empty());
        let (_, w) = ok("DigestAuthenticationProvider.digestAlg=SHA-256\n");
        assert!(warned(
            &w,
            "DigestAuthenticationProvider.digestAlg",
            "only SHA1"
        ));
    }

    // ---- four-letter word whitelist --------------------------------------------------------

    fn only(words: &[&str]) -> FourLetterWhitelist {
        FourLetterWhitelist::Only(words.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn whitelist() {
        let (c, w) = ok("4lw.commands.whitelist=stat, ruok, conf, isro\n");
        assert!(w.is_empty());
        assert_eq!(
            c.four_letter_words,
            only(&["conf", "isro", "ruok", "srvr", "stat"])
        );
        assert!(c.four_letter_words.allows("srvr"));
        assert!(!c.four_letter_words.allows("mntr"));
        let (c, _) = ok("4lw.commands.whitelist=*\n");
        assert_eq!(c.four_letter_words, FourLetterWhitelist::All);
        assert!(c.four_letter_words.allows("mntr") && c.four_letter_words.allows("wchp"));
        let (c, _) = ok("4lw.commands.whitelist=ruok, *\n");
        assert_eq!(c.four_letter_words, FourLetterWhitelist::All);
        let (c, _) = ok("4lw.commands.whitelist=\n");
        assert_eq!(c.four_letter_words, only(&["srvr"]));
        let (c, _) = ok("4lw.commands.whitelist=mntr,,ruok,\n");
        assert_eq!(c.four_letter_words, only(&["mntr", "ruok", "srvr"]));
        let (c, _) = ok("readonlymode.enabled=true\n");
        assert_eq!(c.four_letter_words, only(&["isro", "srvr"]));
        let (_, w) = ok("4lw.commands.whitelist=ruok,boom\n");
        assert!(warned(&w, "4lw.commands.whitelist", "\"boom\""), "{w:?}");
    }

    // ---- server lines ----------------------------------------------------------------------

    #[test]
    fn three_server_ensemble() {
        let (c, w) = ok(&format!("tickTime=2000\n{QUORUM3}"));
        assert!(w.is_empty(), "{w:?}");
        assert!(c.is_distributed());
        assert_eq!(c.servers.len(), 3);
        assert_eq!(
            c.servers[1],
            ServerEntry {
                id: 2,
                host: "10.0.0.2".into(),
                quorum_port: 2888,
                election_port: 3888,
                observer: false,
                client: None,
            }
        );
        assert_eq!(c.server(3).map(|s| s.host.as_str()), Some("10.0.0.3"));
        assert_eq!(c.server(4), None);
    }

    #[test]
    fn server_line_forms() {
        let (c, w) = ok("server.3=zk3:2890:3890:observer;2183\n\
                         server.1=zk1:2888:3888:participant;127.0.0.1:2181\n\
                         server.2=[fe80::1]:2889:3889;[::1]:2182\n\
                         server.10= zk10 : 2800 : 3800 : OBSERVER \n");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(warned(&w, "server", "at least 3"), "{w:?}");
        let ids: Vec<u64> = c.servers.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 10]);
        assert_eq!(c.servers[0].client, Some(("127.0.0.1".into(), 2181)));
        assert!(!c.servers[0].observer);
        assert_eq!(c.servers[1].host, "fe80::1");
        assert_eq!(c.servers[1].client, Some(("::1".into(), 2182)));
        assert_eq!(c.servers[2].client, Some(("0.0.0.0".into(), 2183)));
        assert!(c.servers[2].observer);
        assert_eq!(c.servers[3].host, "zk10");
        assert!(c.servers[3].observer);
        assert_eq!(
            c.servers[2].to_zk_string(),
            "zk3:2890:3890:observer;0.0.0.0:2183"
        );
        assert_eq!(
            c.servers[1].to_zk_string(),
            "[fe80::1]:2889:3889:participant;[::1]:2182"
        );
        assert_eq!(c.servers[3].to_zk_string(), "zk10:2800:3800:observer");
    }

    #[test]
    fn bad_server_lines() {
        for (value, needle) in [
            ("zk1:2888", "2 ':'-separated fields"),
            ("zk1", "1 ':'-separated fields"),
            ("zk1:2888:3888:observer:x", "5 ':'-separated fields"),
            ("zk1:2888:3888:leader", "unknown peer type"),
            ("zk1:abc:3888", "quorum port"),
            ("zk1:2888:70000", "election port"),
            ("zk1:2888:2888", "must be different"),
            (":2888:3888", "empty host"),
            ("zk1:2888:3888;a;b", "more than one ';'"),
            ("zk1:2888:3888;h:p", "client port"),
            ("zk1:2888:3888;a:b:c", "bad client address"),
            ("[fe80::1:2888:3888", "no matching ']'"),
            ("[fe80::1]2888:3888", "no ':' after ']'"),
        ] {
            let text = format!("{QUORUM3}server.4={value}\n");
            let (line, key, v, reason) = invalid(&text);
            assert_eq!((line, key.as_str(), v.as_str()), (4, "server.4", value));
            assert!(reason.contains(needle), "{value}: {reason}");
        }
        let (line, key, _, reason) = invalid("tickTime=1\nserver.x=zk1:2888:3888\n");
        assert_eq!((line, key.as_str()), (2, "server.x"));
        assert!(reason.contains("server id"), "{reason}");
        let (_, key, _, _) = invalid("server.-1=zk1:2888:3888\n");
        assert_eq!(key, "server.-1");
    }

    #[test]
    fn bad_server_line_display() {
        let e = err("server.1=zk1:2888\n");
        let s = e.to_string();
        assert!(
            s.starts_with("zoo.cfg:1: bad value for server.1: \"zk1:2888\" ("),
            "{s}"
        );
    }

    #[test]
    fn multiple_addresses_use_the_first_with_a_warning() {
        let (c, w) =
            ok("server.1=a1:2888:3888|a2:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n");
        assert_eq!(c.servers[0].host, "a1");
        assert!(warned(&w, "server.1", "first of several"), "{w:?}");
    }

    #[test]
    fn duplicate_server_ids() {
        let (c, w) = ok(&format!("{QUORUM3}server.01=10.0.0.9:2888:3888\n"));
        assert_eq!(c.servers.len(), 3);
        assert_eq!(c.server(1).map(|s| s.host.as_str()), Some("10.0.0.9"));
        assert!(warned(&w, "server.01", "line 1"), "{w:?}");
    }

    #[test]
    fn ensemble_shape_rules() {
        // One participant with standaloneEnabled (the default): standalone, with a warning.
        let (c, w) = ok("server.1=zk1:2888:3888\n");
        assert!(!c.is_distributed());
        assert!(warned(&w, "server", "running standalone"), "{w:?}");
        // ... and with standaloneEnabled=false: a one-server ensemble.
        let (c, w) = ok("standaloneEnabled=false\nserver.1=zk1:2888:3888\n");
        assert!(c.is_distributed());
        assert!(
            warned(&w, "server", "no server failure will be tolerated"),
            "{w:?}"
        );
        // standaloneEnabled=false without participants.
        let (line, key, _, _) = invalid("# c\nstandaloneEnabled=false\n");
        assert_eq!((line, key.as_str()), (2, "standaloneEnabled"));
        // Observers only.
        let (line, key, _, reason) = invalid("tickTime=2000\nserver.5=zk5:2888:3888:observer\n");
        assert_eq!((line, key.as_str()), (2, "server.5"));
        assert!(reason.contains("without participants"), "{reason}");
        // One participant plus an observer, standalone.
        let (line, key, _, _) =
            invalid("server.1=zk1:2888:3888\nserver.2=zk2:2888:3888:observer\n");
        assert_eq!((line, key.as_str()), (2, "server.2"));
        // Two participants, four participants.
        let (_, w) = ok("server.1=a:1:2\nserver.2=b:1:2\n");
        assert!(warned(&w, "server", "at least 3"), "{w:?}");
        let (_, w) = ok(&format!("{QUORUM3}server.4=10.0.0.4:2888:3888\n"));
        assert!(warned(&w, "server", "odd number"), "{w:?}");
        // Three participants plus two observers: no warning.
        let (c, w) = ok(&format!(
            "{QUORUM3}server.4=o:1:2:observer\nserver.5=p:1:2:observer\n"
        ));
        assert!(w.is_empty(), "{w:?}");
        assert!(c.is_distributed());
    }

    #[test]
    fn init_and_sync_limit_must_be_positive_in_an_ensemble() {
        let (line, key, _, reason) = invalid(&format!("initLimit=0\n{QUORUM3}"));
        assert_eq!((line, key.as_str()), (1, "initLimit"));
        assert!(reason.contains("positive"));
        let (line, key, _, _) = invalid(&format!("{QUORUM3}syncLimit=0\n"));
        assert_eq!((line, key.as_str()), (4, "syncLimit"));
        // Standalone does not care.
        let (c, _) = ok("initLimit=0\nsyncLimit=0\n");
        assert_eq!((c.init_limit, c.sync_limit), (0, 0));
    }

    // ---- metrics ---------------------------------------------------------------------------

    #[test]
    fn metrics_port_follows_zookeeper() {
        let class = format!("metricsProvider.className={PROMETHEUS_PROVIDER_CLASS}\n");
        let (c, w) = ok(&class);
        assert!(w.is_empty());
        assert_eq!(c.metrics_http_port, Some(7000));
        let (c, _) = ok(&format!("metricsProvider.httpPort=9141\n{class}"));
        assert_eq!(c.metrics_http_port, Some(9141));
        let (c, _) = ok(&format!("{class}metricsProvider.httpPort=0\n"));
        assert_eq!(c.metrics_http_port, None);
        let (c, w) = ok("metricsProvider.httpPort=9141\n");
        assert_eq!(c.metrics_http_port, None);
        assert!(
            warned(&w, "metricsProvider.httpPort", "className is not set"),
            "{w:?}"
        );
        let (c, w) = ok("metricsProvider.className=com.example.Other\n\
                         metricsProvider.httpPort=9000\n");
        assert_eq!(c.metrics_http_port, Some(9000));
        assert!(
            warned(&w, "metricsProvider.className", "Prometheus"),
            "{w:?}"
        );
    }

    // ---- conf ------------------------------------------------------------------------------

    #[test]
    fn conf_matches_zookeeper_standalone_output() {
        // Captured from Apache ZooKeeper 3.8.0 (`echo conf | nc 127.0.0.1 21810`).
        let zk = "clientPort=21810\nsecureClientPort=-1\ndataDir=/tmp/zkref/data/version-2\n\
                  dataDirSize=457\ndataLogDir=/tmp/zkref/data/version-2\ndataLogSize=457\n\
                  tickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\n\
                  maxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n";
        let (c, _) = ok(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zkref/data\n\
                         clientPort=21810\nclientPortAddress=127.0.0.1\n\
                         4lw.commands.whitelist=*\nadmin.enableServer=false\n",
        );
        let rt = ConfRuntime {
            data_dir_size_bytes: 457,
            data_log_size_bytes: 457,
            ..ConfRuntime::default()
        };
        assert_eq!(render_conf(&c.conf_lines(&rt)), zk);
        let keys: Vec<String> = c.to_conf_lines().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "clientPort",
                "secureClientPort",
                "dataDir",
                "dataDirSize",
                "dataLogDir",
                "dataLogSize",
                "tickTime",
                "maxClientCnxns",
                "minSessionTimeout",
                "maxSessionTimeout",
                "clientPortListenBacklog",
                "serverId"
            ]
        );
    }

    #[test]
    fn conf_matches_zookeeper_quorum_output() {
        // Captured from Apache ZooKeeper 3.8.0 running as server 1 of this ensemble.
        let zk = "clientPort=21820\nsecureClientPort=-1\ndataDir=/tmp/zkref2/data/version-2\n\
                  dataDirSize=581\ndataLogDir=/tmp/zkref2/data/version-2\ndataLogSize=581\n\
                  tickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\n\
                  maxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=1\n\
                  initLimit=10\nsyncLimit=5\nelectionAlg=3\nelectionPort=21822\n\
                  quorumPort=21821\npeerType=0\nmembership: \n\
                  server.1=127.0.0.1:21821:21822:participant;127.0.0.1:21820\n\
                  server.2=127.0.0.1:21831:21832:observer;0.0.0.0:21830\nversion=0";
        let (c, _) = ok(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zkref2/data\n\
                         4lw.commands.whitelist=conf, ruok\nadmin.enableServer=false\n\
                         standaloneEnabled=false\nclientPort=21820\n\
                         server.1=127.0.0.1:21821:21822:participant;127.0.0.1:21820\n\
                         server.2=127.0.0.1:21831:21832:observer;21830\n",
        );
        let rt = ConfRuntime {
            server_id: 1,
            data_dir_size_bytes: 581,
            data_log_size_bytes: 581,
            ..ConfRuntime::default()
        };
        assert_eq!(render_conf(&c.conf_lines(&rt)), zk);
    }

    #[test]
    fn conf_quorum_without_client_addresses() {
        // ZooKeeper prints no client address for server lines that gave none.
        let (c, _) = ok(&format!("dataDir=/d\ndataLogDir=/l\n{QUORUM3}"));
        let rt = ConfRuntime {
            server_id: 2,
            config_version: 0x1_0000_0000,
            ..ConfRuntime::default()
        };
        let lines = c.conf_lines(&rt);
        let get = |k: &str| {
            lines
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("dataDir").as_deref(), Some("/d/version-2"));
        assert_eq!(get("dataLogDir").as_deref(), Some("/l/version-2"));
        assert_eq!(get("serverId").as_deref(), Some("2"));
        assert_eq!(get("electionPort").as_deref(), Some("3888"));
        assert_eq!(
            get("server.2").as_deref(),
            Some("10.0.0.2:2888:3888:participant")
        );
        assert_eq!(get("version").as_deref(), Some("100000000"));
        let text = render_conf(&lines);
        assert!(
            text.contains("peerType=0\nmembership: \nserver.1="),
            "{text}"
        );
        assert!(text.ends_with("\nversion=100000000"), "{text}");
    }

    #[test]
    fn conf_relative_dirs_are_made_absolute_like_java() {
        let c = Config::default();
        let rt = ConfRuntime {
            cwd: Some(PathBuf::from("/srv")),
            ..ConfRuntime::default()
        };
        let lines = c.conf_lines(&rt);
        assert_eq!(
            lines[2],
            (
                "dataDir".to_string(),
                "/srv/./zkr-data/version-2".to_string()
            )
        );
        assert_eq!(c.to_conf_lines()[2].1, "./zkr-data/version-2");
    }

    #[test]
    fn conf_observer_peer_type() {
        let (c, _) = ok(&format!("{QUORUM3}server.4=10.0.0.4:2888:3888:observer\n"));
        let rt = ConfRuntime {
            server_id: 4,
            ..ConfRuntime::default()
        };
        let lines = c.conf_lines(&rt);
        assert!(lines.contains(&("peerType".to_string(), "1".to_string())));
    }

    // ---- load ------------------------------------------------------------------------------

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() {
        let dir = std::env::temp_dir().join(format!("zkr-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let good = dir.join("good.cfg");
        std::fs::write(&good, "tickTime=1500\nclientPort=2190\n").expect("write");
        let (c, w) = load(&good).expect("load");
        assert_eq!((c.tick_time_ms, c.client_port), (1500, 2190));
        assert!(w.is_empty());

        let bad = dir.join("bad.cfg");
        std::fs::write(&bad, "\nclientPort=99999\n").expect("write");
        let e = load(&bad).expect_err("bad port");
        assert!(
            e.to_string()
                .starts_with(&format!("{}:2: bad value for clientPort", bad.display())),
            "{e}"
        );

        // Not UTF-8: read as ISO-8859-1, as java.util.Properties does.
        let latin = dir.join("latin.cfg");
        std::fs::write(&latin, b"dataDir=/caf\xe9\n").expect("write");
        let (c, _) = load(&latin).expect("load latin-1");
        assert_eq!(c.data_dir, PathBuf::from("/caf\u{e9}"));

        let missing = dir.join("missing.cfg");
        match load(&missing) {
            Err(ConfigError::Io { path, .. }) => assert_eq!(path, missing),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "=",
            ":",
            "\\",
            "\\\\\\",
            "=\n=\n",
            "server.=",
            "server.1",
            "\u{0}=\u{0}",
            "\\u",
            "a\\",
            "a=\\",
            "[",
            "server.1=[",
            "server.1=[]:1:2",
            "server.1=a:1:2;[",
            "zkr.ioMemory=99999999999999999999g",
            "tickTime=0x",
            "tickTime=-",
            "snapCount=-9223372036854775808",
            "4lw.commands.whitelist=,,,",
        ] {
            let _ = parse(text, "fuzz");
        }
    }
}
