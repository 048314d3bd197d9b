//! Sessions (handshake, timeout negotiation, resume, refusal of wrong passwords and dead
//! sessions) and ACLs (world, auth, digest, ip incl. CIDR, super user).

mod common;

use std::time::Duration;

use common::raw::{self, ConnectRequest, RawConn, err, flags, op};
use common::*;
use zookeeper_client as zk;

const MIN_TIMEOUT: i32 = 2 * TICK_MS as i32;
const MAX_TIMEOUT: i32 = 20 * TICK_MS as i32;

fn refused(r: &raw::ConnectResponse) -> bool {
    r.timeout_ms == 0 && r.session_id == 0 && r.passwd == vec![0u8; 16]
}

// ---------------------------------------------------------------------------------------------
// handshake

#[test]
fn negotiated_timeout_is_clamped_to_tick_bounds() {
    let s = TestServer::start();
    let cases = [
        (1, MIN_TIMEOUT),
        (0, MIN_TIMEOUT),
        (-5, MIN_TIMEOUT),
        (MIN_TIMEOUT - 1, MIN_TIMEOUT),
        (MIN_TIMEOUT, MIN_TIMEOUT),
        (1000, 1000),
        (MAX_TIMEOUT, MAX_TIMEOUT),
        (MAX_TIMEOUT + 1, MAX_TIMEOUT),
        (1_000_000_000, MAX_TIMEOUT),
        (i32::MAX, MAX_TIMEOUT),
    ];
    for (asked, granted) in cases {
        let mut c = RawConn::connect(&s.addr).unwrap();
        let r = c.handshake(&ConnectRequest::new(asked)).unwrap();
        assert_eq!(r.timeout_ms, granted, "asked {asked}");
        assert_eq!(r.protocol_version, 0);
        assert_ne!(r.session_id, 0);
        assert_eq!(r.passwd.len(), 16);
        assert_eq!(r.read_only, Some(false));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_sees_negotiated_timeout() {
    let s = TestServer::start();
    // (The crate also uses the requested timeout as its connect deadline, so nothing tiny here;
    // the raw test above covers requests below the minimum.)
    for (asked, granted) in [
        (1000, 1000),
        (MAX_TIMEOUT as u64, MAX_TIMEOUT),
        (100_000, MAX_TIMEOUT),
    ] {
        let c = s.client_with_timeout(Duration::from_millis(asked)).await;
        assert_eq!(
            c.session_timeout(),
            Duration::from_millis(granted as u64),
            "asked {asked}"
        );
    }
}

#[test]
fn session_ids_and_passwords_are_unique() {
    let s = TestServer::start();
    let (_a, ra) = s.raw(4000);
    let (_b, rb) = s.raw(4000);
    assert_ne!(ra.session_id, rb.session_id);
    assert_ne!(ra.passwd, rb.passwd);
}

#[test]
fn connect_request_variants() {
    let s = TestServer::start();
    // Without the trailing read-only byte (pre-3.4 clients): accepted, and the response has
    // no read-only byte either.
    let mut c = RawConn::connect(&s.addr).unwrap();
    let mut req = ConnectRequest::new(4000).encode();
    req.pop();
    c.send_frame(&req).unwrap();
    let f = c.read_frame().unwrap();
    assert_eq!(
        f.len(),
        4 + 4 + 8 + 4 + 16,
        "no read-only byte in the response"
    );
    let r = raw::ConnectResponse::decode(&f).unwrap();
    assert_eq!((r.timeout_ms, r.read_only), (4000, None));
    assert_ne!(r.session_id, 0);
    assert_eq!(c.ping().unwrap().err(), 0);
    // A read-only-capable client connected to a read-write server gets a read-write session.
    let mut c = RawConn::connect(&s.addr).unwrap();
    let r = c
        .handshake(&ConnectRequest {
            read_only: true,
            ..ConnectRequest::new(4000)
        })
        .unwrap();
    assert_eq!(r.read_only, Some(false));
    assert_ne!(r.session_id, 0);
    // An empty password for a new session is fine.
    let mut c = RawConn::connect(&s.addr).unwrap();
    let r = c
        .handshake(&ConnectRequest {
            passwd: vec![],
            ..ConnectRequest::new(4000)
        })
        .unwrap();
    assert_ne!(r.session_id, 0);
    assert_eq!(r.passwd.len(), 16);
    // A client claiming to have seen a zxid the server has not reached is refused without an
    // answer: the connection is closed.
    let mut c = RawConn::connect(&s.addr).unwrap();
    c.send_frame(
        &ConnectRequest {
            last_zxid_seen: 1 << 50,
            ..ConnectRequest::new(4000)
        }
        .encode(),
    )
    .unwrap();
    let (closed, frames) = c.closed_within(WAIT);
    assert!(
        closed && frames.is_empty(),
        "closed={closed} frames={frames:?}"
    );
    s.assert_healthy();
}

// ---------------------------------------------------------------------------------------------
// resume and refusal

#[test]
fn reconnect_with_id_and_password_resumes_session() {
    let s = TestServer::start();
    let (mut a, rsp) = s.raw(4000);
    let e = unique("resume");
    let r = a
        .call(
            op::CREATE,
            &raw::create_body(&e, b"", raw::OPEN_ACL, flags::EPHEMERAL),
        )
        .unwrap();
    assert_eq!(r.err(), 0);
    let seen = r.header.zxid;
    let mut b = RawConn::connect(&s.addr).unwrap();
    let r2 = b
        .handshake(&ConnectRequest {
            last_zxid_seen: seen,
            ..ConnectRequest::resume(3000, rsp.session_id, &rsp.passwd)
        })
        .unwrap();
    assert_eq!(r2.session_id, rsp.session_id);
    assert_eq!(r2.passwd, rsp.passwd);
    assert_eq!(r2.timeout_ms, 3000);
    // The old connection of the session is closed by the server.
    let (closed, _) = a.closed_within(WAIT);
    assert!(closed, "old connection closed when the session moves");
    // Same session: its ephemerals are still there and still its own.
    let r = b.call(op::GET_EPHEMERALS, &raw::path_body(&e)).unwrap();
    assert_eq!(r.err(), 0);
    assert_eq!(r.dec().strs().unwrap(), vec![e.clone()]);
    let r = b
        .call(op::EXISTS, &raw::path_watch_body(&e, false))
        .unwrap();
    assert_eq!(r.dec().stat().unwrap().ephemeral_owner, rsp.session_id);
    let r = b
        .call(
            op::CREATE,
            &raw::create_body(&format!("{e}-2"), b"", raw::OPEN_ACL, flags::EPHEMERAL),
        )
        .unwrap();
    assert_eq!(r.err(), 0);
    // Closing it removes both.
    assert_eq!(b.call(op::CLOSE_SESSION, &[]).unwrap().err(), 0);
    let (mut c, _) = s.raw(4000);
    for p in [e.clone(), format!("{e}-2")] {
        assert_eq!(
            c.call(op::EXISTS, &raw::path_watch_body(&p, false))
                .unwrap()
                .err(),
            err::NO_NODE
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_reestablishes_session_from_session_info() {
    let s = TestServer::start();
    let c = within(
        zk::Client::connector()
            .with_detached()
            .with_fail_eagerly()
            .connect(&s.addr),
    )
    .await
    .unwrap();
    let id = c.session_id();
    let e = unique("crate-resume");
    within(c.create(&e, b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    let info = c.into_session();
    let c2 = within(
        zk::Client::connector()
            .with_session(info)
            .with_fail_eagerly()
            .connect(&s.addr),
    )
    .await
    .unwrap();
    assert_eq!(c2.session_id(), id);
    let st = within(c2.check_stat(&e))
        .await
        .unwrap()
        .expect("ephemeral kept across reconnect");
    assert_eq!(st.ephemeral_owner, id.0);
    assert_eq!(
        within(c2.list_ephemerals("/")).await.unwrap(),
        vec![e.clone()]
    );
}

#[test]
fn wrong_password_is_refused() {
    let s = TestServer::start();
    let (mut a, rsp) = s.raw(4000);
    let e = unique("wrongpw");
    assert_eq!(
        a.call(
            op::CREATE,
            &raw::create_body(&e, b"", raw::OPEN_ACL, flags::EPHEMERAL)
        )
        .unwrap()
        .err(),
        0
    );
    let mut bad = rsp.passwd.clone();
    bad[0] ^= 0xff;
    let mut b = RawConn::connect(&s.addr).unwrap();
    let r = b
        .handshake(&ConnectRequest::resume(4000, rsp.session_id, &bad))
        .unwrap();
    assert!(refused(&r), "{r:?}");
    assert_eq!((r.protocol_version, r.read_only), (0, Some(false)));
    let (closed, frames) = b.closed_within(WAIT);
    assert!(
        closed && frames.is_empty(),
        "closed={closed} frames={frames:?}"
    );
    // The session itself survives. (ZooKeeper 3.8 also drops the owner's current connection
    // when anyone presents the session id, before checking the password; that is not
    // asserted either way.)
    drop(a);
    let mut c = RawConn::connect(&s.addr).unwrap();
    let r = c
        .handshake(&ConnectRequest::resume(4000, rsp.session_id, &rsp.passwd))
        .unwrap();
    assert_eq!(r.session_id, rsp.session_id);
    let r = c
        .call(op::EXISTS, &raw::path_watch_body(&e, false))
        .unwrap();
    assert_eq!(r.err(), 0);
    assert_eq!(r.dec().stat().unwrap().ephemeral_owner, rsp.session_id);
}

#[test]
fn unknown_session_is_refused() {
    let s = TestServer::start();
    let mut b = RawConn::connect(&s.addr).unwrap();
    let r = b
        .handshake(&ConnectRequest::resume(
            4000,
            0x0123_4567_89ab_cdef,
            &[7u8; 16],
        ))
        .unwrap();
    assert!(refused(&r), "{r:?}");
    let (closed, _) = b.closed_within(WAIT);
    assert!(closed);
    s.assert_healthy();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_session_cannot_be_resumed() {
    let s = TestServer::start();
    let observer = s.client().await;
    let c = within(
        zk::Client::connector()
            .with_detached()
            .with_session_timeout(Duration::from_millis(1000))
            .with_fail_eagerly()
            .connect(&s.addr),
    )
    .await
    .unwrap();
    let e = unique("expire-resume");
    within(c.create(&e, b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    let info = c.into_session(); // detached: no closeSession, no more pings
    wait_gone(&observer, &e).await; // expired
    let r = within(
        zk::Client::connector()
            .with_session(info)
            .with_fail_eagerly()
            .connect(&s.addr),
    )
    .await;
    assert_eq!(r.unwrap_err(), zk::Error::SessionExpired);
}

// ---------------------------------------------------------------------------------------------
// ACLs

fn acl(perm: zk::Permission, scheme: &str, id: &str) -> zk::Acl {
    zk::Acl::new(perm, zk::AuthId::new(scheme, id))
}

async fn authed(s: &TestServer, user_pw: &str) -> zk::Client {
    let c = s.client().await;
    within(c.auth("digest", user_pw.as_bytes())).await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_world_read_only() {
    use zk::Permission as P;
    let s = TestServer::start();
    let owner = s.client().await;
    let other = s.client().await;
    let p = unique("acl-ro");
    within(owner.create(
        &p,
        b"d",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_read()),
    ))
    .await
    .unwrap();
    assert_eq!(
        within(owner.get_acl(&p)).await.unwrap().0,
        vec![acl(P::READ, "world", "anyone")]
    );
    for c in [&owner, &other] {
        assert_eq!(within(c.get_data(&p)).await.unwrap().0, b"d");
        assert!(within(c.list_children(&p)).await.unwrap().is_empty());
        assert_eq!(
            within(c.set_data(&p, b"x", None)).await.unwrap_err(),
            zk::Error::NoAuth
        );
        assert_eq!(
            within(c.create(&format!("{p}/k"), b"", &open()))
                .await
                .unwrap_err(),
            zk::Error::NoAuth
        );
        assert_eq!(
            within(c.set_acl(&p, &[acl(P::ALL, "world", "anyone")], None))
                .await
                .unwrap_err(),
            zk::Error::NoAuth
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_digest_identities() {
    use zk::Permission as P;
    let s = TestServer::start();
    let alice = authed(&s, "alice:secret").await;
    let bob = authed(&s, "bob:hunter2").await;
    let anon = s.client().await;
    let p = unique("acl-digest");
    let acls = [acl(P::ALL, "digest", ALICE_DIGEST)];
    let (created, _) = within(alice.create(
        &p,
        b"d",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acls)),
    ))
    .await
    .unwrap();
    // Alice can do everything.
    assert_eq!(within(alice.get_data(&p)).await.unwrap().0, b"d");
    within(alice.create(&format!("{p}/k"), b"", &open()))
        .await
        .unwrap();
    within(alice.set_data(&p, b"x", None)).await.unwrap();
    assert_eq!(within(alice.get_acl(&p)).await.unwrap().0, acls.to_vec());
    // Others can do nothing that checks ACLs.
    for c in [&bob, &anon] {
        assert_eq!(within(c.get_data(&p)).await.unwrap_err(), zk::Error::NoAuth);
        assert_eq!(
            within(c.list_children(&p)).await.unwrap_err(),
            zk::Error::NoAuth
        );
        assert_eq!(
            within(c.get_children(&p)).await.unwrap_err(),
            zk::Error::NoAuth
        );
        assert_eq!(
            within(c.set_data(&p, b"y", None)).await.unwrap_err(),
            zk::Error::NoAuth
        );
        assert_eq!(
            within(c.create(&format!("{p}/z"), b"", &open()))
                .await
                .unwrap_err(),
            zk::Error::NoAuth
        );
        assert_eq!(
            within(c.delete(&format!("{p}/k"), None)).await.unwrap_err(),
            zk::Error::NoAuth
        );
        assert_eq!(
            within(c.set_acl(&p, &[acl(P::ALL, "world", "anyone")], None))
                .await
                .unwrap_err(),
            zk::Error::NoAuth
        );
        // exists does not check ACLs.
        let st = within(c.check_stat(&p)).await.unwrap().unwrap();
        assert_eq!(st.czxid, created.czxid);
    }
    // Inside multi, ACLs are checked per op (check needs READ) and a failure rolls back.
    let free = unique("acl-digest-free");
    let mut w = bob.new_multi_writer();
    w.add_create(&free, b"", &open()).unwrap();
    w.add_set_data(&p, b"z", None).unwrap();
    let e = within(w.commit()).await.unwrap_err();
    assert_eq!(
        e,
        zk::MultiWriteError::OperationFailed {
            index: 1,
            source: zk::Error::NoAuth
        }
    );
    assert_eq!(within(bob.check_stat(&free)).await.unwrap(), None);
    let mut w = bob.new_multi_writer();
    w.add_check_version(&p, 1).unwrap();
    let e = within(w.commit()).await.unwrap_err();
    assert_eq!(
        e,
        zk::MultiWriteError::OperationFailed {
            index: 0,
            source: zk::Error::NoAuth
        }
    );
    // Authenticating later grants access on the same session.
    within(bob.auth("digest", b"alice:secret")).await.unwrap();
    assert_eq!(within(bob.get_data(&p)).await.unwrap().0, b"x");
    // A wrong password is a different identity, not an auth failure.
    let mallory = authed(&s, "alice:wrong").await;
    assert_eq!(
        within(mallory.get_data(&p)).await.unwrap_err(),
        zk::Error::NoAuth
    );
    assert_eq!(mallory.state(), zk::SessionState::SyncConnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_auth_scheme_uses_session_identities() {
    use zk::Permission as P;
    let s = TestServer::start();
    let base = unique("acl-auth");
    let anon = s.client().await;
    mk(&anon, &base, b"").await;
    let creator = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    // Without an authenticated (non-ip) identity, "auth" cannot be expanded.
    assert_eq!(
        within(anon.create(&format!("{base}/anon"), b"", &creator))
            .await
            .unwrap_err(),
        zk::Error::InvalidAcl
    );
    let alice = authed(&s, "alice:secret").await;
    let p = format!("{base}/alice");
    within(alice.create(&p, b"", &creator)).await.unwrap();
    assert_eq!(
        within(alice.get_acl(&p)).await.unwrap().0,
        vec![acl(P::ALL, "digest", ALICE_DIGEST)]
    );
    assert_eq!(
        within(anon.get_data(&p)).await.unwrap_err(),
        zk::Error::NoAuth
    );
    // A session with two identities gets one entry per identity.
    within(alice.auth("digest", b"bob:hunter2")).await.unwrap();
    let q = format!("{base}/both");
    within(alice.create(&q, b"", &creator)).await.unwrap();
    let mut got = within(alice.get_acl(&q)).await.unwrap().0;
    got.sort_by(|a, b| a.id().cmp(b.id()));
    assert_eq!(
        got,
        vec![
            acl(P::ALL, "digest", ALICE_DIGEST),
            acl(P::ALL, "digest", BOB_DIGEST)
        ]
    );
    let bob = authed(&s, "bob:hunter2").await;
    within(bob.get_data(&q)).await.unwrap();
    // setACL with "auth" expands the same way.
    let st = within(alice.set_acl(&q, &[acl(P::READ | P::ADMIN, "auth", "")], None))
        .await
        .unwrap();
    assert_eq!(st.aversion, 1);
    let mut got = within(alice.get_acl(&q)).await.unwrap().0;
    got.sort_by(|a, b| a.id().cmp(b.id()));
    let rw = P::READ | P::ADMIN;
    assert_eq!(
        got,
        vec![
            acl(rw, "digest", ALICE_DIGEST),
            acl(rw, "digest", BOB_DIGEST)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_ip_exact_and_cidr() {
    use zk::Permission as P;
    let s = TestServer::start();
    let c = s.client().await;
    let base = unique("acl-ip");
    mk(&c, &base, b"").await;
    let cases = [
        ("127.0.0.1", true),
        ("127.0.0.0/8", true),
        ("127.0.0.1/32", true),
        ("0.0.0.0/0", true),
        ("10.1.2.3", false),
        ("10.0.0.0/8", false),
        ("127.0.0.2", false),
    ];
    for (i, (id, allowed)) in cases.iter().enumerate() {
        let p = format!("{base}/n{i}");
        let acls = [acl(P::READ, "ip", id)];
        within(c.create(
            &p,
            b"d",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acls)),
        ))
        .await
        .unwrap();
        let r = within(c.get_data(&p)).await;
        if *allowed {
            assert_eq!(r.unwrap().0, b"d", "ip:{id}");
        } else {
            assert_eq!(r.unwrap_err(), zk::Error::NoAuth, "ip:{id}");
        }
        // Only READ was granted.
        assert_eq!(
            within(c.set_data(&p, b"x", None)).await.unwrap_err(),
            zk::Error::NoAuth,
            "ip:{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_super_user_bypasses_everything() {
    use zk::Permission as P;
    let s = TestServer::start();
    let alice = authed(&s, "alice:secret").await;
    let base = unique("acl-super");
    let only_alice = [acl(P::ALL, "digest", ALICE_DIGEST)];
    within(alice.create(
        &base,
        b"d",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&only_alice)),
    ))
    .await
    .unwrap();
    let none = [acl(P::NONE, "world", "anyone")];
    let locked = format!("{base}/locked");
    within(alice.create(
        &locked,
        b"l",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&none)),
    ))
    .await
    .unwrap();
    assert_eq!(
        within(alice.get_data(&locked)).await.unwrap_err(),
        zk::Error::NoAuth
    );
    let root = authed(&s, "super:test").await;
    assert_eq!(within(root.get_data(&base)).await.unwrap().0, b"d");
    assert_eq!(within(root.get_data(&locked)).await.unwrap().0, b"l");
    within(root.set_data(&locked, b"m", None)).await.unwrap();
    within(root.create(&format!("{locked}/k"), b"", &open()))
        .await
        .unwrap();
    within(root.delete(&format!("{locked}/k"), None))
        .await
        .unwrap();
    within(root.set_acl(&locked, &[acl(P::ALL, "world", "anyone")], None))
        .await
        .unwrap();
    assert_eq!(within(alice.get_data(&locked)).await.unwrap().0, b"m");
    within(root.delete(&locked, None)).await.unwrap();
    let users = within(root.list_auth_users()).await.unwrap();
    assert!(
        users.contains(&zk::AuthUser::new("digest", "super")),
        "{users:?}"
    );
    // A wrong super password is just another identity.
    let notroot = authed(&s, "super:nottest").await;
    assert_eq!(
        within(notroot.get_data(&base)).await.unwrap_err(),
        zk::Error::NoAuth
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_delete_needs_delete_on_parent_and_set_acl_needs_admin() {
    use zk::Permission as P;
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("acl-del");
    mk(&c, &p, b"").await;
    let kid = format!("{p}/kid");
    let none = [acl(P::NONE, "world", "anyone")];
    within(c.create(
        &kid,
        b"",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&none)),
    ))
    .await
    .unwrap();
    let no_delete = [acl(
        P::READ | P::WRITE | P::CREATE | P::ADMIN,
        "world",
        "anyone",
    )];
    within(c.set_acl(&p, &no_delete, None)).await.unwrap();
    assert_eq!(
        within(c.delete(&kid, None)).await.unwrap_err(),
        zk::Error::NoAuth
    );
    within(c.set_acl(&p, &[acl(P::DELETE | P::ADMIN, "world", "anyone")], None))
        .await
        .unwrap();
    // The child's own ACL (no permissions at all) does not matter.
    within(c.delete(&kid, None)).await.unwrap();
    // Without ADMIN the ACL cannot be changed.
    within(c.set_acl(
        &p,
        &[acl(
            P::READ | P::WRITE | P::CREATE | P::DELETE,
            "world",
            "anyone",
        )],
        None,
    ))
    .await
    .unwrap();
    assert_eq!(
        within(c.set_acl(&p, &[acl(P::ALL, "world", "anyone")], None))
            .await
            .unwrap_err(),
        zk::Error::NoAuth
    );
    // Deleting the node itself needs nothing on the node, only DELETE on its parent (open).
    within(c.delete(&p, None)).await.unwrap();
}

/// getACL needs READ or ADMIN; without ADMIN the digest hashes are masked as `user:x`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_acl_needs_read_or_admin_and_masks_digests() {
    use zk::Permission as P;
    let s = TestServer::start();
    let alice = authed(&s, "alice:secret").await;
    let anon = s.client().await;
    let base = unique("getacl-perm");
    mk(&alice, &base, b"").await;
    for (name, perm, expect) in [
        ("none", P::NONE, None),
        ("write", P::WRITE, None),
        ("read", P::READ, Some("alice:x")),
        ("admin", P::ADMIN, Some(ALICE_DIGEST)),
        ("all", P::ALL, Some(ALICE_DIGEST)),
    ] {
        let p = format!("{base}/{name}");
        let acls = [
            acl(perm, "digest", ALICE_DIGEST),
            acl(perm, "world", "anyone"),
        ];
        within(alice.create(
            &p,
            b"",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acls)),
        ))
        .await
        .unwrap();
        for c in [&alice, &anon] {
            let r = within(c.get_acl(&p)).await;
            match expect {
                None => assert_eq!(r.unwrap_err(), zk::Error::NoAuth, "{name}"),
                Some(id) => assert_eq!(
                    r.unwrap().0,
                    vec![acl(perm, "digest", id), acl(perm, "world", "anyone")],
                    "{name}"
                ),
            }
        }
    }
    // The super user always sees the real ids.
    let root = authed(&s, "super:test").await;
    let (got, _) = within(root.get_acl(&format!("{base}/read"))).await.unwrap();
    assert_eq!(got[0], acl(P::READ, "digest", ALICE_DIGEST));
}

#[test]
fn acl_errors_on_the_wire() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("acl-wire");
    let r = c
        .call(
            op::CREATE,
            &raw::create_body(&p, b"", &[(1, "world", "anyone")], 0),
        )
        .unwrap();
    assert_eq!(r.err(), 0);
    let r = c
        .call(op::SET_DATA, &raw::set_data_body(&p, b"x", -1))
        .unwrap();
    assert_eq!(r.err(), err::NO_AUTH);
    assert!(r.body.is_empty());
    let r = c
        .call(
            op::CREATE,
            &raw::create_body(&format!("{p}/k"), b"", raw::OPEN_ACL, 0),
        )
        .unwrap();
    assert_eq!(r.err(), err::NO_AUTH);
    // NoAuth is checked before version and existence of the child.
    let r = c
        .call(op::SET_DATA, &raw::set_data_body(&p, b"x", 99))
        .unwrap();
    assert_eq!(r.err(), err::NO_AUTH);
}

/// A server started under a soft limit of 256 open files still takes 400 sessions: it lifts
/// the soft limit to the hard one at start, as the JVM does for ZooKeeper. (Skipped where the
/// hard limit itself is too low to show it, or against an external server.)
#[test]
fn more_sessions_than_the_inherited_open_files_limit() {
    if std::env::var("ZKR_TEST_ADDR").is_ok() {
        return;
    }
    // SAFETY: getrlimit writes only the struct we pass.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    if r.rlim_max < 1024 || r.rlim_cur < 600 {
        eprintln!("open files limit {}/{}: too low to show this here", r.rlim_cur, r.rlim_max);
        return;
    }
    let mut p = common::proc::ZkrProc::new("nofile", &[("maxClientCnxns", "0")]);
    p.open_files = Some(256);
    p.start_ok();
    let mut conns = Vec::new();
    for _ in 0..400 {
        let (c, rsp) = RawConn::session(&p.addr, 10_000);
        assert_ne!(rsp.session_id, 0);
        conns.push(c);
    }
    // Every one of them is served, the last as well as the first.
    let last = conns.len() - 1;
    for i in [0, last] {
        let c = &mut conns[i];
        let reply = c.call(op::EXISTS, &raw::path_watch_body("/", false)).expect("exists");
        assert_eq!(reply.err(), err::OK);
    }
}

/// An idle session costs the server a few KiB, not a 64 KiB read buffer each (which made
/// idle sessions 63–72 KB of RSS each). Memory, not time: the bound is 3x what is measured.
#[test]
fn idle_sessions_hold_little_memory() {
    if std::env::var("ZKR_TEST_ADDR").is_ok() {
        return;
    }
    // Enough that the allocator's granularity (MiB-sized arenas) is a few KiB per session.
    const SESSIONS: u64 = 1000;
    // SAFETY: getrlimit writes only the struct we pass.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    // The test's own connections need descriptors too: lift its soft limit to the hard one.
    r.rlim_cur = r.rlim_max;
    // SAFETY: setrlimit reads only the struct we pass.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) };
    if r.rlim_cur < SESSIONS + 200 {
        eprintln!("open files limit {}: too low for this test", r.rlim_cur);
        return;
    }
    let mut p = common::proc::ZkrProc::new("idle-memory", &[("maxClientCnxns", "0")]);
    p.start_ok();
    // Warm up: the first sessions also allocate per-core and per-table state.
    let warm: Vec<_> = (0..20).map(|_| RawConn::session(&p.addr, 30_000).0).collect();
    let before = p.rss_kib().expect("server RSS");
    let mut conns = Vec::new();
    for _ in 0..SESSIONS {
        let (c, rsp) = RawConn::session(&p.addr, 30_000);
        assert_ne!(rsp.session_id, 0);
        conns.push(c);
    }
    // Every connection has been read from (its handshake answered): its buffers exist.
    let c = conns.last_mut().unwrap();
    assert_eq!(c.call(op::EXISTS, &raw::path_watch_body("/", false)).expect("exists").err(), err::OK);
    let after = p.rss_kib().expect("server RSS");
    let per_session = after.saturating_sub(before) * 1024 / SESSIONS;
    eprintln!("RSS {before} KiB -> {after} KiB with {SESSIONS} more idle sessions: {per_session} B each");
    assert!(per_session < 24 * 1024, "{per_session} B of RSS per idle session");
    drop(warm);
}
