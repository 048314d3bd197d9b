//! Test harness for the end-to-end tests: starts a server (zkr, or Apache ZooKeeper for
//! reference runs, or an external one), gives unique paths, bounded waits and client helpers.
//!
//! Modes, chosen by environment:
//! - default: spawn `zkr server --config <tmp>/zoo.cfg` per `TestServer`, killed on drop.
//! - `ZKR_TEST_ADDR=127.0.0.1:port`: use that already running server for every test that needs
//!   no special configuration (tests use unique paths, so they can share it). The external
//!   server must be configured like the spawned one: tickTime=200, 4lw whitelist `*`, extended
//!   types (TTL) enabled, super digest `super:test`, container check interval 1000 ms.
//! - `ZKR_TEST_ZOOKEEPER_CP=<classpath>`: spawn Apache ZooKeeper (QuorumPeerMain) with that
//!   classpath instead of zkr, with the same configuration. With `ZKR_TEST_ADDR` also set, only
//!   tests that need a special configuration (e.g. a restricted 4lw whitelist) spawn one.

#![allow(dead_code)]

pub mod json;
pub mod node_state;
pub mod proc;
pub mod raw;

use std::fs;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zookeeper_client as zk;

/// The super user is `super:test`; this is base64(sha1("super:test")).
pub const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";
/// Digest ids for the ACL tests: `digest` scheme ids are `user:base64(sha1("user:password"))`.
pub const ALICE_DIGEST: &str = "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="; // alice:secret
pub const BOB_DIGEST: &str = "bob:1Yu1ryCXOIF7lyFzbmQ5J+MJOZc="; // bob:hunter2

pub const TICK_MS: u64 = 200;
/// Upper bound for any single wait in the tests. Never used as an assertion on speed.
pub const WAIT: Duration = Duration::from_secs(20);

/// Config keys that an external server is assumed to have already (see module docs).
const EXTERNAL_ASSUMED: &[&str] = &["znode.container.checkIntervalMs"];
/// Keys Apache ZooKeeper reads only as JVM system properties (not from zoo.cfg).
const ZK_SYSTEM_PROPERTIES: &[&str] = &[
    "znode.container.checkIntervalMs",
    "znode.container.maxNeverUsedIntervalMs",
];

pub struct TestServer {
    pub addr: String,
    child: Option<Child>,
    dir: Option<PathBuf>,
    external: bool,
}

fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A path no other test (or earlier run against a shared server) uses.
pub fn unique(tag: &str) -> String {
    format!("/e2e-{tag}-{}", unique_suffix())
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// `ruok` answered with `imok`?
pub fn ruok(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"ruok").is_err() {
        return false;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out == b"imok"
}

/// A session can be opened (and is closed again). ZooKeeper answers `ruok` before it serves.
pub fn accepts_sessions(addr: &str) -> bool {
    let Ok(mut c) = raw::RawConn::connect(addr) else {
        return false;
    };
    c.set_read_timeout(Duration::from_secs(2));
    match c.handshake(&raw::ConnectRequest::new(4000)) {
        Ok(r) if r.session_id != 0 => {
            let _ = c.call(raw::op::CLOSE_SESSION, &[]);
            true
        }
        _ => false,
    }
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    pub fn start_with(extra_cfg: &[(&str, &str)]) -> TestServer {
        Self::try_start_with(extra_cfg).expect(
            "this test needs its own server configuration: with ZKR_TEST_ADDR set, also set ZKR_TEST_ZOOKEEPER_CP",
        )
    }

    /// None when running against an external server that cannot provide `extra_cfg`
    /// (the caller then skips).
    pub fn try_start_with(extra_cfg: &[(&str, &str)]) -> Option<TestServer> {
        if let Ok(addr) = std::env::var("ZKR_TEST_ADDR") {
            let needs_own = extra_cfg.iter().any(|(k, _)| !EXTERNAL_ASSUMED.contains(k));
            if !needs_own {
                return Some(TestServer {
                    addr,
                    child: None,
                    dir: None,
                    external: true,
                });
            }
            if std::env::var("ZKR_TEST_ZOOKEEPER_CP").is_err() {
                return None;
            }
        }
        Some(Self::spawn(extra_cfg))
    }

    /// True when the tests share an external server (so global counters are not ours alone).
    pub fn is_external(&self) -> bool {
        self.external
    }

    fn spawn(extra_cfg: &[(&str, &str)]) -> TestServer {
        let zk_cp = std::env::var("ZKR_TEST_ZOOKEEPER_CP").ok();
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let dir = std::env::temp_dir().join(format!("zkr-e2e-{}", unique_suffix()));
            fs::create_dir_all(dir.join("data")).unwrap();
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let mut cfg = format!(
                "tickTime={TICK_MS}\nclientPort={port}\nclientPortAddress=127.0.0.1\ndataDir={}\n\
                 4lw.commands.whitelist=*\nextendedTypesEnabled=true\n\
                 DigestAuthenticationProvider.superDigest={SUPER_DIGEST}\n",
                dir.join("data").display()
            );
            if zk_cp.is_some() {
                cfg.push_str("admin.enableServer=false\n");
            } else {
                // Small log segments keep each test server's preallocation cheap.
                cfg.push_str("zkr.cores=2\nzkr.logSegmentBytes=1m\n");
            }
            let mut props = Vec::new();
            for (k, v) in extra_cfg {
                if zk_cp.is_some() && ZK_SYSTEM_PROPERTIES.contains(k) {
                    props.push(format!("-D{k}={v}"));
                } else {
                    // A later line for the same key wins.
                    cfg.push_str(&format!("{k}={v}\n"));
                }
            }
            let cfg_path = dir.join("zoo.cfg");
            fs::write(&cfg_path, cfg).unwrap();
            let log_path = dir.join("server.log");
            let log = fs::File::create(&log_path).unwrap();
            let mut cmd = match &zk_cp {
                Some(cp) => {
                    let mut c = Command::new("java");
                    c.arg("-cp").arg(cp);
                    c.arg("-Dzookeeper.extendedTypesEnabled=true");
                    c.arg(format!(
                        "-Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}"
                    ));
                    if !extra_cfg
                        .iter()
                        .any(|(k, _)| *k == "znode.container.checkIntervalMs")
                    {
                        props.push("-Dznode.container.checkIntervalMs=1000".into());
                    }
                    c.args(&props);
                    c.arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                        .arg(&cfg_path);
                    c
                }
                None => {
                    let mut c = Command::new(env!("CARGO_BIN_EXE_zkr"));
                    c.arg("server").arg("--config").arg(&cfg_path);
                    c
                }
            };
            cmd.stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            let mut child = cmd.spawn().expect("spawn server");
            let deadline = Instant::now()
                + if zk_cp.is_some() {
                    Duration::from_secs(30)
                } else {
                    Duration::from_secs(10)
                };
            let mut up = false;
            while Instant::now() < deadline {
                if ruok(&addr) && accepts_sessions(&addr) {
                    up = true;
                    break;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if up {
                return TestServer {
                    addr,
                    child: Some(child),
                    dir: Some(dir),
                    external: false,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = fs::read_to_string(&log_path).unwrap_or_default();
            let _ = fs::remove_dir_all(&dir);
        }
        panic!("server did not answer ruok; last log:\n{last_log}");
    }

    /// Connects a zookeeper-client session with the given requested timeout.
    pub async fn client_with_timeout(&self, timeout: Duration) -> zk::Client {
        within(
            zk::Client::connector()
                .with_session_timeout(timeout)
                .with_fail_eagerly()
                .connect(&self.addr),
        )
        .await
        .expect("connect")
    }

    /// Connects a zookeeper-client session (default timeout).
    pub async fn client(&self) -> zk::Client {
        within(
            zk::Client::connector()
                .with_fail_eagerly()
                .connect(&self.addr),
        )
        .await
        .expect("connect")
    }

    /// A raw session.
    pub fn raw(&self, timeout_ms: i32) -> (raw::RawConn, raw::ConnectResponse) {
        raw::RawConn::session(&self.addr, timeout_ms)
    }

    pub fn four_letter(&self, word: &str) -> String {
        raw::four_letter(&self.addr, word).expect("four letter word")
    }

    /// The server still answers `ruok` and a fresh session can create, read and delete a node.
    pub fn assert_healthy(&self) {
        assert!(ruok(&self.addr), "server no longer answers ruok");
        let (mut c, _) = self.raw(4000);
        let p = unique("healthy");
        let r = c
            .call(
                raw::op::CREATE,
                &raw::create_body(&p, b"ok", raw::OPEN_ACL, 0),
            )
            .unwrap();
        assert_eq!(r.err(), 0);
        let r = c
            .call(raw::op::GET_DATA, &raw::path_watch_body(&p, false))
            .unwrap();
        assert_eq!(r.err(), 0);
        assert_eq!(r.dec().buf().unwrap(), b"ok");
        let r = c.call(raw::op::DELETE, &raw::delete_body(&p, -1)).unwrap();
        assert_eq!(r.err(), 0);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = self.dir.take() {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// Awaits `f` for at most `WAIT`; panics on timeout.
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("operation did not complete within the bound")
}

/// Polls `check` until it returns Some, at most `bound`; panics with `what` otherwise.
pub async fn eventually<T, F, Fut>(bound: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + bound;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "not reached within {bound:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until `path` does not exist (bounded by `WAIT`).
pub async fn wait_gone(c: &zk::Client, path: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if within(c.check_stat(path)).await.unwrap().is_none() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still exists after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until the client's session state is `state` (bounded by `WAIT`).
pub async fn wait_state(c: &zk::Client, state: zk::SessionState) {
    let deadline = Instant::now() + WAIT;
    while c.state() != state {
        assert!(
            Instant::now() < deadline,
            "session state {:?}, expected {state:?}",
            c.state()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

pub fn mode(m: zk::CreateMode) -> zk::CreateOptions<'static> {
    m.with_acls(zk::Acls::anyone_all())
}

/// Creates a persistent node with open ACL.
pub async fn mk(c: &zk::Client, path: &str, data: &[u8]) -> zk::Stat {
    within(c.create(path, data, &open()))
        .await
        .unwrap_or_else(|e| panic!("create {path}: {e}"))
        .0
}
