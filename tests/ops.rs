//! Every opcode through a real client (the `zookeeper-client` crate), plus the raw jute client
//! where the crate hides the wire (exact replies, error codes, special xids). The expected
//! answers are Apache ZooKeeper 3.8's, observed against the real server.

mod common;

use std::time::Duration;

use common::raw::{self, OpResult, RawConn, err, flags, op, xid};
use common::*;
use zookeeper_client as zk;

fn ev(e: &zk::WatchedEvent) -> (zk::EventType, String) {
    (e.event_type, e.path.clone())
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn next_event(w: &mut zk::PersistentWatcher) -> (zk::EventType, String) {
    ev(&within(w.changed()).await)
}

fn raw_stat(c: &mut RawConn, path: &str) -> Option<raw::RawStat> {
    let r = c
        .call(op::EXISTS, &raw::path_watch_body(path, false))
        .unwrap();
    if r.err() == err::NO_NODE {
        return None;
    }
    assert_eq!(r.err(), 0, "exists {path}");
    Some(r.dec().stat().unwrap())
}

fn raw_create(c: &mut RawConn, path: &str, data: &[u8], flags: i32) -> raw::Reply {
    c.call(
        op::CREATE,
        &raw::create_body(path, data, raw::OPEN_ACL, flags),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// create / create2

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_persistent_returns_full_stat() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("create");
    let (stat, seq) = within(c.create(&p, b"hello", &open())).await.unwrap();
    assert_eq!(seq.into_i64(), -1, "non-sequential create has no sequence");
    assert!(stat.czxid > 0);
    assert_eq!(stat.mzxid, stat.czxid);
    assert_eq!(stat.pzxid, stat.czxid);
    assert!(
        stat.ctime > 1_500_000_000_000,
        "ctime is milliseconds since the epoch: {}",
        stat.ctime
    );
    assert_eq!(stat.mtime, stat.ctime);
    assert_eq!((stat.version, stat.cversion, stat.aversion), (0, 0, 0));
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(stat.data_length, 5);
    assert_eq!(stat.num_children, 0);

    let (data, stat2) = within(c.get_data(&p)).await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(stat2, stat);
    assert_eq!(within(c.check_stat(&p)).await.unwrap(), Some(stat));

    assert_eq!(
        within(c.create(&p, b"", &open())).await.unwrap_err(),
        zk::Error::NodeExists
    );
    assert_eq!(
        within(c.create(&format!("{p}/no/child"), b"", &open()))
            .await
            .unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(
        within(c.get_data(&format!("{p}/nope"))).await.unwrap_err(),
        zk::Error::NoNode
    );

    let (st, _) = within(c.create(&format!("{p}/empty"), b"", &open()))
        .await
        .unwrap();
    assert_eq!(st.data_length, 0);
    assert_eq!(
        within(c.get_data(&format!("{p}/empty"))).await.unwrap().0,
        Vec::<u8>::new()
    );
}

#[test]
fn create_replies_on_the_wire() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("create-wire");
    // create (1): the reply is the path only.
    let r = raw_create(&mut c, &p, b"x", flags::PERSISTENT);
    assert_eq!(r.err(), 0);
    let mut d = r.dec();
    assert_eq!(d.str().unwrap(), p);
    assert_eq!(d.remaining(), 0, "create reply carries no stat");
    // create2 (15): path then Stat; the Stat's czxid is the reply header's zxid.
    let q = format!("{p}/two");
    let r = c
        .call(
            op::CREATE2,
            &raw::create_body(&q, b"abc", raw::OPEN_ACL, flags::PERSISTENT),
        )
        .unwrap();
    assert_eq!(r.err(), 0);
    let mut d = r.dec();
    assert_eq!(d.str().unwrap(), q);
    let st = d.stat().unwrap();
    assert_eq!(d.remaining(), 0);
    assert_eq!(st.czxid, r.header.zxid);
    assert_eq!(st.mzxid, r.header.zxid);
    assert_eq!(st.data_length, 3);
    // Errors carry no body.
    let r = raw_create(&mut c, &q, b"", flags::PERSISTENT);
    assert_eq!(r.err(), err::NODE_EXISTS);
    assert!(r.body.is_empty());
    // Reads reply with the last zxid the server has applied (not less than what we saw).
    let r = c
        .call(op::GET_DATA, &raw::path_watch_body(&q, false))
        .unwrap();
    assert!(r.header.zxid >= st.czxid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_ephemeral_owned_and_childless() {
    let s = TestServer::start();
    let c = s.client().await;
    let other = s.client().await;
    let base = unique("eph");
    mk(&c, &base, b"").await;
    let e = format!("{base}/e");
    let (st, _) = within(c.create(&e, b"x", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    assert_eq!(st.ephemeral_owner, c.session_id().0);
    assert_eq!(
        within(other.check_stat(&e))
            .await
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        c.session_id().0
    );
    // Ephemerals cannot have children, of any kind.
    for m in [
        zk::CreateMode::Persistent,
        zk::CreateMode::Ephemeral,
        zk::CreateMode::EphemeralSequential,
    ] {
        let r = within(c.create(&format!("{e}/kid"), b"", &mode(m))).await;
        assert_eq!(r.unwrap_err(), zk::Error::NoChildrenForEphemerals, "{m:?}");
    }
    let r = within(other.create(&format!("{e}/kid"), b"", &open())).await;
    assert_eq!(r.unwrap_err(), zk::Error::NoChildrenForEphemerals);
    // A persistent node has no owner.
    assert_eq!(
        within(c.check_stat(&base))
            .await
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_sequential_ten_digit_suffix() {
    let s = TestServer::start();
    let c = s.client().await;
    let base = unique("seq");
    mk(&c, &base, b"").await;
    let prefix = format!("{base}/n-");
    for i in 0..3i64 {
        let (st, seq) = within(c.create(&prefix, b"", &mode(zk::CreateMode::PersistentSequential)))
            .await
            .unwrap();
        assert_eq!(seq.into_i64(), i);
        assert_eq!(seq.to_string(), format!("{i:010}"));
        assert_eq!(st.ephemeral_owner, 0);
    }
    let (st, seq) = within(c.create(&prefix, b"", &mode(zk::CreateMode::EphemeralSequential)))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 3);
    assert_eq!(st.ephemeral_owner, c.session_id().0);
    let children = sorted(within(c.list_children(&base)).await.unwrap());
    assert_eq!(
        children,
        vec![
            "n-0000000000",
            "n-0000000001",
            "n-0000000002",
            "n-0000000003"
        ]
    );
    // A different prefix under the same parent shares the parent's counter.
    let (_, seq) = within(c.create(
        &format!("{base}/other-"),
        b"",
        &mode(zk::CreateMode::PersistentSequential),
    ))
    .await
    .unwrap();
    assert_eq!(seq.into_i64(), 4);
    // Raw: a sequential create returns the full generated path; a trailing slash is allowed
    // for sequential nodes (the name is then just the counter).
    let (mut r, _) = s.raw(4000);
    let rep = raw_create(&mut r, &prefix, b"", flags::PERSISTENT_SEQUENTIAL);
    assert_eq!(rep.err(), 0);
    assert_eq!(rep.dec().str().unwrap(), format!("{prefix}0000000005"));
    let rep = raw_create(
        &mut r,
        &format!("{base}/"),
        b"",
        flags::PERSISTENT_SEQUENTIAL,
    );
    assert_eq!(rep.err(), 0);
    assert_eq!(rep.dec().str().unwrap(), format!("{base}/0000000006"));
}

/// The suffix counts the parent's child *creates*; cversion counts creates and deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_suffix_counts_child_creates_cversion_counts_deletes_too() {
    let s = TestServer::start();
    let c = s.client().await;
    let base = unique("seqcv");
    mk(&c, &base, b"").await;
    mk(&c, &format!("{base}/a"), b"").await;
    within(c.delete(&format!("{base}/a"), None)).await.unwrap();
    let st = within(c.check_stat(&base)).await.unwrap().unwrap();
    assert_eq!((st.cversion, st.num_children), (2, 0));

    let (_, seq) = within(c.create(
        &format!("{base}/s-"),
        b"",
        &mode(zk::CreateMode::PersistentSequential),
    ))
    .await
    .unwrap();
    assert_eq!(seq.into_i64(), 1, "one child was created before");
    assert_eq!(
        within(c.check_stat(&base)).await.unwrap().unwrap().cversion,
        3
    );
    within(c.delete(&format!("{base}/s-{seq}"), None))
        .await
        .unwrap();

    // An ephemeral child removed by its session's close counts the same way.
    let other = s.client().await;
    within(other.create(&format!("{base}/e"), b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    drop(other);
    wait_gone(&c, &format!("{base}/e")).await;
    let st = within(c.check_stat(&base)).await.unwrap().unwrap();
    assert_eq!((st.cversion, st.num_children), (6, 0));
    let (_, seq) = within(c.create(
        &format!("{base}/s-"),
        b"",
        &mode(zk::CreateMode::EphemeralSequential),
    ))
    .await
    .unwrap();
    assert_eq!(seq.into_i64(), 3, "creates so far: a, s-1, e");
}

// ---------------------------------------------------------------------------------------------
// containers and TTL nodes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_removed_after_last_child_deleted() {
    let s = TestServer::start_with(&[("znode.container.checkIntervalMs", "1000")]);
    let c = s.client().await;
    let base = unique("container");
    mk(&c, &base, b"").await;
    let never = format!("{base}/never-used");
    let used = format!("{base}/used");
    let (st, _) = within(c.create(&never, b"", &mode(zk::CreateMode::Container)))
        .await
        .unwrap();
    assert_eq!(
        st.ephemeral_owner, 0,
        "clients see ephemeralOwner 0 for containers"
    );
    within(c.create(&used, b"d", &mode(zk::CreateMode::Container)))
        .await
        .unwrap();
    let kid = format!("{used}/kid");
    mk(&c, &kid, b"").await;
    // Containers may have any kind of children.
    within(c.create(&format!("{used}/e"), b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    within(c.delete(&format!("{used}/e"), None)).await.unwrap();
    within(c.delete(&kid, None)).await.unwrap();
    wait_gone(&c, &used).await;
    // A container that never had a child is not removed.
    assert!(within(c.check_stat(&never)).await.unwrap().is_some());
    // The raw createContainer opcode returns path and Stat like create2.
    let (mut r, _) = s.raw(4000);
    let q = format!("{base}/raw");
    let rep = r
        .call(
            op::CREATE_CONTAINER,
            &raw::create_body(&q, b"", raw::OPEN_ACL, flags::CONTAINER),
        )
        .unwrap();
    assert_eq!(rep.err(), 0);
    let mut d = rep.dec();
    assert_eq!(d.str().unwrap(), q);
    assert_eq!(d.stat().unwrap().czxid, rep.header.zxid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_node_expires_when_unmodified_and_childless() {
    let s = TestServer::start_with(&[("znode.container.checkIntervalMs", "1000")]);
    let c = s.client().await;
    let base = unique("ttl");
    mk(&c, &base, b"").await;
    let ttl = Duration::from_millis(500);
    let opts = zk::CreateMode::Persistent
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(ttl);
    // Created first, with a child: must outlive the childless one below.
    let parent = format!("{base}/with-child");
    within(c.create(&parent, b"", &opts)).await.unwrap();
    mk(&c, &format!("{parent}/kid"), b"").await;
    let lone = format!("{base}/lone");
    let (st, _) = within(c.create(&lone, b"x", &opts)).await.unwrap();
    assert_eq!(
        st.ephemeral_owner, 0,
        "clients see ephemeralOwner 0 for TTL nodes"
    );
    let seq_opts = zk::CreateMode::PersistentSequential
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(ttl);
    let (_, seq) = within(c.create(&format!("{base}/seq-"), b"", &seq_opts))
        .await
        .unwrap();
    let seq_path = format!("{base}/seq-{seq}");
    assert!(within(c.check_stat(&seq_path)).await.unwrap().is_some());

    wait_gone(&c, &lone).await;
    wait_gone(&c, &seq_path).await;
    // Its TTL has elapsed too (created earlier), but it has a child.
    assert!(within(c.check_stat(&parent)).await.unwrap().is_some());
    within(c.delete(&format!("{parent}/kid"), None))
        .await
        .unwrap();
    wait_gone(&c, &parent).await;
}

#[test]
fn ttl_and_container_argument_errors() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let base = unique("ttl-args");
    assert_eq!(raw_create(&mut c, &base, b"", 0).err(), 0);
    let call = |c: &mut RawConn, path: &str, f: i32, ttl: i64| {
        c.call(op::CREATE_TTL, &raw::create_ttl_body(path, b"", f, ttl))
            .unwrap()
            .err()
    };
    assert_eq!(
        call(
            &mut c,
            &format!("{base}/zero"),
            flags::PERSISTENT_WITH_TTL,
            0
        ),
        err::BAD_ARGUMENTS
    );
    assert_eq!(
        call(
            &mut c,
            &format!("{base}/neg"),
            flags::PERSISTENT_WITH_TTL,
            -5
        ),
        err::BAD_ARGUMENTS
    );
    assert_eq!(
        call(
            &mut c,
            &format!("{base}/huge"),
            flags::PERSISTENT_WITH_TTL,
            0x0100_0000_0000
        ),
        err::BAD_ARGUMENTS
    );
    assert_eq!(
        call(&mut c, &format!("{base}/eph"), flags::EPHEMERAL, 1000),
        err::BAD_ARGUMENTS
    );
    assert_eq!(
        call(&mut c, &format!("{base}/plain"), flags::PERSISTENT, 1000),
        err::BAD_ARGUMENTS
    );
    // TTL flags through the plain create opcode.
    assert_eq!(
        raw_create(
            &mut c,
            &format!("{base}/viacreate"),
            b"",
            flags::PERSISTENT_WITH_TTL
        )
        .err(),
        err::BAD_ARGUMENTS
    );
    // Unknown create flags.
    assert_eq!(
        raw_create(&mut c, &format!("{base}/badflag"), b"", 42).err(),
        err::BAD_ARGUMENTS
    );
    // A good one: createTTL replies with path and Stat.
    let q = format!("{base}/ok");
    let rep = c
        .call(
            op::CREATE_TTL,
            &raw::create_ttl_body(&q, b"", flags::PERSISTENT_WITH_TTL, 100_000),
        )
        .unwrap();
    assert_eq!(rep.err(), 0);
    let mut d = rep.dec();
    assert_eq!(d.str().unwrap(), q);
    assert_eq!(d.stat().unwrap().ephemeral_owner, 0);
    let rep = c
        .call(
            op::CREATE_TTL,
            &raw::create_ttl_body(
                &format!("{base}/s-"),
                b"",
                flags::PERSISTENT_SEQUENTIAL_WITH_TTL,
                100_000,
            ),
        )
        .unwrap();
    assert_eq!(rep.err(), 0);
    assert_eq!(rep.dec().str().unwrap(), format!("{base}/s-0000000001"));
}

// ---------------------------------------------------------------------------------------------
// delete, exists, getData, setData

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_checks_version_children_and_existence() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("delete");
    mk(&c, &p, b"").await;
    within(c.set_data(&p, b"1", None)).await.unwrap();
    within(c.set_data(&p, b"2", None)).await.unwrap();
    assert_eq!(
        within(c.delete(&p, Some(1))).await.unwrap_err(),
        zk::Error::BadVersion
    );
    mk(&c, &format!("{p}/kid"), b"").await;
    assert_eq!(
        within(c.delete(&p, None)).await.unwrap_err(),
        zk::Error::NotEmpty
    );
    assert_eq!(
        within(c.delete(&p, Some(2))).await.unwrap_err(),
        zk::Error::NotEmpty
    );
    within(c.delete(&format!("{p}/kid"), Some(0)))
        .await
        .unwrap();
    within(c.delete(&p, Some(2))).await.unwrap();
    assert_eq!(
        within(c.delete(&p, None)).await.unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(
        within(c.delete(&p, Some(0))).await.unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(within(c.check_stat(&p)).await.unwrap(), None);
    // The root and /zookeeper cannot be deleted.
    let (mut r, _) = s.raw(4000);
    for q in ["/", "/zookeeper"] {
        assert_eq!(
            r.call(op::DELETE, &raw::delete_body(q, -1)).unwrap().err(),
            err::BAD_ARGUMENTS,
            "{q}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exists_with_and_without_watch() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("exists");
    assert_eq!(within(c.check_stat(&p)).await.unwrap(), None);
    let (st, w) = within(c.check_and_watch_stat(&p)).await.unwrap();
    assert_eq!(st, None);
    let (created, _) = within(c.create(&p, b"", &open())).await.unwrap();
    assert_eq!(
        ev(&within(w.changed()).await),
        (zk::EventType::NodeCreated, p.clone())
    );

    let (st, w) = within(c.check_and_watch_stat(&p)).await.unwrap();
    assert_eq!(st, Some(created));
    within(c.set_data(&p, b"x", None)).await.unwrap();
    assert_eq!(
        ev(&within(w.changed()).await),
        (zk::EventType::NodeDataChanged, p.clone())
    );

    let (_, w) = within(c.check_and_watch_stat(&p)).await.unwrap();
    within(c.delete(&p, None)).await.unwrap();
    assert_eq!(
        ev(&within(w.changed()).await),
        (zk::EventType::NodeDeleted, p.clone())
    );

    // Raw: exists on a missing node is NoNode with an empty body.
    let (mut r, _) = s.raw(4000);
    let rep = r
        .call(op::EXISTS, &raw::path_watch_body(&p, false))
        .unwrap();
    assert_eq!(rep.err(), err::NO_NODE);
    assert!(rep.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_data_versions_and_stat_changes() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("setdata");
    let (st0, _) = within(c.create(&p, b"a", &open())).await.unwrap();
    let st1 = within(c.set_data(&p, b"bbb", Some(0))).await.unwrap();
    assert_eq!(st1.version, 1);
    assert!(st1.mzxid > st0.mzxid);
    assert_eq!(st1.czxid, st0.czxid);
    assert_eq!(st1.ctime, st0.ctime);
    assert!(st1.mtime >= st0.mtime);
    assert_eq!(st1.data_length, 3);
    assert_eq!(
        (st1.cversion, st1.aversion, st1.pzxid, st1.num_children),
        (0, 0, st0.pzxid, 0)
    );
    assert_eq!(
        within(c.set_data(&p, b"x", Some(0))).await.unwrap_err(),
        zk::Error::BadVersion
    );
    assert_eq!(
        within(c.set_data(&p, b"x", Some(7))).await.unwrap_err(),
        zk::Error::BadVersion
    );
    let st2 = within(c.set_data(&p, b"", None)).await.unwrap();
    assert_eq!(st2.version, 2);
    assert_eq!(st2.data_length, 0);
    assert!(st2.mzxid > st1.mzxid);
    // Same data again still bumps the version.
    let st3 = within(c.set_data(&p, b"", Some(2))).await.unwrap();
    assert_eq!(st3.version, 3);
    let (data, st) = within(c.get_data(&p)).await.unwrap();
    assert!(data.is_empty());
    assert_eq!(st, st3);
    assert_eq!(
        within(c.set_data(&format!("{p}/nope"), b"x", None))
            .await
            .unwrap_err(),
        zk::Error::NoNode
    );

    // Raw: the reply's Stat mzxid is the reply header's zxid.
    let (mut r, _) = s.raw(4000);
    let rep = r
        .call(op::SET_DATA, &raw::set_data_body(&p, b"zz", 3))
        .unwrap();
    assert_eq!(rep.err(), 0);
    let st = rep.dec().stat().unwrap();
    assert_eq!(st.mzxid, rep.header.zxid);
    assert_eq!(st.version, 4);
}

// ---------------------------------------------------------------------------------------------
// getACL / setACL

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_acl_and_set_acl_with_aversion() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("acl");
    let (st0, _) = within(c.create(&p, b"d", &open())).await.unwrap();
    let (acl, st) = within(c.get_acl(&p)).await.unwrap();
    assert_eq!(
        acl,
        vec![zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())]
    );
    assert_eq!(st, st0);

    let new_acl = vec![
        zk::Acl::new(
            zk::Permission::READ | zk::Permission::ADMIN,
            zk::AuthId::anyone(),
        ),
        zk::Acl::new(zk::Permission::ALL, zk::AuthId::new("ip", "127.0.0.1")),
    ];
    let st1 = within(c.set_acl(&p, &new_acl, Some(0))).await.unwrap();
    assert_eq!(st1.aversion, 1);
    assert_eq!(st1.mzxid, st0.mzxid, "setACL does not change mzxid");
    assert_eq!(st1.version, 0);
    assert_eq!(st1.mtime, st0.mtime);
    let (acl, st) = within(c.get_acl(&p)).await.unwrap();
    assert_eq!(acl, new_acl, "ACL list comes back in the order set");
    assert_eq!(st, st1);
    assert_eq!(
        within(c.set_acl(&p, &new_acl, Some(0))).await.unwrap_err(),
        zk::Error::BadVersion
    );
    let st2 = within(c.set_acl(&p, &new_acl, None)).await.unwrap();
    assert_eq!(st2.aversion, 2);
    assert_eq!(
        within(c.set_acl(&p, &[], None)).await.unwrap_err(),
        zk::Error::InvalidAcl
    );
    assert_eq!(
        within(c.get_acl(&format!("{p}/nope"))).await.unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(
        within(c.set_acl(&format!("{p}/nope"), &new_acl, None))
            .await
            .unwrap_err(),
        zk::Error::NoNode
    );
}

// ---------------------------------------------------------------------------------------------
// getChildren / getChildren2 and Stat bookkeeping

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_children_and_children2() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("children");
    mk(&c, &p, b"").await;
    assert!(within(c.list_children(&p)).await.unwrap().is_empty());
    mk(&c, &format!("{p}/b"), b"").await;
    mk(&c, &format!("{p}/a"), b"").await;
    within(c.create(&format!("{p}/c"), b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    assert_eq!(
        sorted(within(c.list_children(&p)).await.unwrap()),
        vec!["a", "b", "c"]
    );
    let (kids, st) = within(c.get_children(&p)).await.unwrap();
    assert_eq!(sorted(kids), vec!["a", "b", "c"]);
    assert_eq!(st.num_children, 3);
    assert_eq!(st.cversion, 3);
    assert_eq!(Some(st), within(c.check_stat(&p)).await.unwrap());
    assert_eq!(
        within(c.list_children(&format!("{p}/nope")))
            .await
            .unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(
        within(c.get_children(&format!("{p}/nope")))
            .await
            .unwrap_err(),
        zk::Error::NoNode
    );
    // Root lists /zookeeper.
    assert!(
        within(c.list_children("/"))
            .await
            .unwrap()
            .contains(&"zookeeper".to_string())
    );
}

#[test]
fn stat_bookkeeping_between_parent_and_child() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("statbook");
    let r = c
        .call(op::CREATE2, &raw::create_body(&p, b"", raw::OPEN_ACL, 0))
        .unwrap();
    let mut d = r.dec();
    d.str().unwrap();
    let p0 = d.stat().unwrap();

    let a = format!("{p}/a");
    let r = c
        .call(op::CREATE2, &raw::create_body(&a, b"", raw::OPEN_ACL, 0))
        .unwrap();
    let mut d = r.dec();
    d.str().unwrap();
    let a0 = d.stat().unwrap();
    let p1 = raw_stat(&mut c, &p).unwrap();
    assert_eq!(
        p1.pzxid, a0.czxid,
        "parent pzxid = zxid of the last child change"
    );
    assert_eq!((p1.cversion, p1.num_children), (1, 1));
    assert_eq!(
        (p1.mzxid, p1.version, p1.mtime),
        (p0.mzxid, 0, p0.mtime),
        "child changes are not data changes"
    );

    // A child's data change does not touch the parent.
    c.call(op::SET_DATA, &raw::set_data_body(&a, b"x", -1))
        .unwrap();
    assert_eq!(raw_stat(&mut c, &p).unwrap(), p1);

    // Grandchildren do not touch the grandparent.
    c.call(
        op::CREATE,
        &raw::create_body(&format!("{a}/g"), b"", raw::OPEN_ACL, 0),
    )
    .unwrap();
    assert_eq!(raw_stat(&mut c, &p).unwrap(), p1);
    c.call(op::DELETE, &raw::delete_body(&format!("{a}/g"), -1))
        .unwrap();

    let r = c.call(op::DELETE, &raw::delete_body(&a, -1)).unwrap();
    assert_eq!(r.err(), 0);
    assert!(r.body.is_empty());
    let p2 = raw_stat(&mut c, &p).unwrap();
    assert_eq!(
        p2.pzxid, r.header.zxid,
        "delete sets the parent's pzxid to its zxid"
    );
    assert_eq!((p2.cversion, p2.num_children), (2, 0));
    assert_eq!(p2.mzxid, p0.mzxid);

    // setACL consumes a zxid but changes neither mzxid nor pzxid.
    let r = c
        .call(
            op::SET_ACL,
            &raw::Enc::new().str(&p).acls(raw::OPEN_ACL).i32(0).bytes(),
        )
        .unwrap();
    assert_eq!(r.err(), 0);
    let st = r.dec().stat().unwrap();
    assert_eq!((st.aversion, st.mzxid, st.pzxid), (1, p0.mzxid, p2.pzxid));
    assert!(r.header.zxid > p2.pzxid);
}

// ---------------------------------------------------------------------------------------------
// sync, ping

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_answers_with_the_path() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("sync");
    mk(&c, &p, b"").await;
    within(c.sync(&p)).await.unwrap();
    within(c.sync("/")).await.unwrap();
    let (mut r, _) = s.raw(4000);
    let rep = r.call(op::SYNC, &raw::path_body(&p)).unwrap();
    assert_eq!(rep.err(), 0);
    assert_eq!(rep.dec().str().unwrap(), p);
    // sync does not look the node up.
    let missing = format!("{p}/missing");
    let rep = r.call(op::SYNC, &raw::path_body(&missing)).unwrap();
    assert_eq!(rep.err(), 0);
    assert_eq!(rep.dec().str().unwrap(), missing);
}

#[test]
fn ping_reply_on_the_wire() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("ping");
    let created = raw_create(&mut c, &p, b"", 0).header.zxid;
    let r = c.ping().unwrap();
    assert_eq!(r.header.xid, xid::PING);
    assert_eq!(r.err(), 0);
    assert!(r.body.is_empty());
    assert!(r.header.zxid >= created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_session_kept_alive_by_pings() {
    let s = TestServer::start();
    let c = s.client_with_timeout(Duration::from_millis(1500)).await;
    assert_eq!(c.session_timeout(), Duration::from_millis(1500));
    let p = unique("idle");
    within(c.create(&p, b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    // Several session timeouts with no application traffic.
    tokio::time::sleep(Duration::from_millis(5000)).await;
    assert!(!c.state().is_terminated(), "{:?}", c.state());
    let observer = s.client().await;
    let st = within(observer.check_stat(&p))
        .await
        .unwrap()
        .expect("ephemeral survives an idle session");
    assert_eq!(st.ephemeral_owner, c.session_id().0);
    within(c.set_data(&p, b"still here", None)).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// multi / check / multiRead

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_commits_all_with_per_op_results() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("multi-ok");
    mk(&c, &p, b"").await;
    let a = format!("{p}/a");
    let mut w = c.new_multi_writer();
    w.add_check_version(&p, 0).unwrap();
    w.add_create(&a, b"1", &open()).unwrap();
    w.add_set_data(&a, b"2", Some(0)).unwrap();
    w.add_create(
        &format!("{p}/s-"),
        b"",
        &mode(zk::CreateMode::PersistentSequential),
    )
    .unwrap();
    w.add_delete(&a, Some(1)).unwrap();
    let results = within(w.commit()).await.unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0], zk::MultiWriteResult::Check);
    let zk::MultiWriteResult::Create { path, stat: cst } = &results[1] else {
        panic!("{results:?}")
    };
    assert_eq!(path, &a);
    let zk::MultiWriteResult::SetData { stat: sst } = &results[2] else {
        panic!("{results:?}")
    };
    assert_eq!(sst.version, 1);
    assert_eq!(sst.mzxid, sst.czxid, "all ops of one multi share one zxid");
    // ZooKeeper 3.8.0 answers a create2 inside multi with a plain create result (no Stat,
    // ZOOKEEPER-4026, fixed later); the crate then reports an invalid Stat. Both are accepted.
    if !cst.is_invalid() {
        assert_eq!(cst.czxid, sst.czxid);
    }
    let zk::MultiWriteResult::Create { path, .. } = &results[3] else {
        panic!("{results:?}")
    };
    assert_eq!(
        path,
        &format!("{p}/s-0000000001"),
        "the earlier create in the same multi counts"
    );
    assert_eq!(results[4], zk::MultiWriteResult::Delete);
    assert_eq!(
        within(c.list_children(&p)).await.unwrap(),
        vec!["s-0000000001"]
    );
    // check op alone on a matching version.
    let mut w = c.new_multi_writer();
    w.add_check_version(&p, 0).unwrap();
    assert_eq!(
        within(w.commit()).await.unwrap(),
        vec![zk::MultiWriteResult::Check]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_failure_rolls_back_everything() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("multi-fail");
    mk(&c, &p, b"orig").await;
    let a = format!("{p}/a");
    let mut w = c.new_multi_writer();
    w.add_create(&a, b"1", &open()).unwrap();
    w.add_set_data(&p, b"changed", None).unwrap();
    w.add_check_version(&p, 5).unwrap();
    w.add_create(&format!("{p}/b"), b"", &open()).unwrap();
    let e = within(w.commit()).await.unwrap_err();
    assert_eq!(
        e,
        zk::MultiWriteError::OperationFailed {
            index: 2,
            source: zk::Error::BadVersion
        }
    );
    assert_eq!(within(c.check_stat(&a)).await.unwrap(), None);
    let (data, st) = within(c.get_data(&p)).await.unwrap();
    assert_eq!(
        (data.as_slice(), st.version, st.cversion),
        (&b"orig"[..], 0, 0)
    );
    // A failing op whose effect would depend on an earlier op of the same multi.
    let mut w = c.new_multi_writer();
    w.add_create(&a, b"", &open()).unwrap();
    w.add_create(&a, b"", &open()).unwrap();
    let e = within(w.commit()).await.unwrap_err();
    assert_eq!(
        e,
        zk::MultiWriteError::OperationFailed {
            index: 1,
            source: zk::Error::NodeExists
        }
    );
    assert_eq!(within(c.check_stat(&a)).await.unwrap(), None);
    // check on a missing node.
    let mut w = c.new_multi_writer();
    w.add_check_version(&format!("{p}/missing"), 0).unwrap();
    let e = within(w.commit()).await.unwrap_err();
    assert_eq!(
        e,
        zk::MultiWriteError::OperationFailed {
            index: 0,
            source: zk::Error::NoNode
        }
    );
}

#[test]
fn multi_error_results_on_the_wire() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("multi-wire");
    assert_eq!(raw_create(&mut c, &p, b"", 0).err(), 0);
    let a = format!("{p}/a");
    // Ops before the failing one report OK (0), the failing one its code, later ones
    // RuntimeInconsistency; the reply header err is 0.
    let body = raw::multi_body(&[
        (op::CREATE, raw::create_body(&a, b"x", raw::OPEN_ACL, 0)),
        (
            op::SET_DATA,
            raw::set_data_body(&format!("{p}/nonode"), b"x", -1),
        ),
        (op::DELETE, raw::delete_body(&p, -1)),
        (op::CHECK, raw::check_body(&p, 0)),
    ]);
    let r = c.call(op::MULTI, &body).unwrap();
    assert_eq!(r.err(), 0);
    assert_eq!(
        raw::decode_multi(&r.body).unwrap(),
        vec![
            OpResult::Error(0),
            OpResult::Error(err::NO_NODE),
            OpResult::Error(err::RUNTIME_INCONSISTENCY),
            OpResult::Error(err::RUNTIME_INCONSISTENCY),
        ]
    );
    assert!(raw_stat(&mut c, &a).is_none());
    // Failing first op.
    let body = raw::multi_body(&[
        (op::CHECK, raw::check_body(&p, 7)),
        (op::CREATE, raw::create_body(&a, b"x", raw::OPEN_ACL, 0)),
    ]);
    let r = c.call(op::MULTI, &body).unwrap();
    assert_eq!(r.err(), 0);
    assert_eq!(
        raw::decode_multi(&r.body).unwrap(),
        vec![
            OpResult::Error(err::BAD_VERSION),
            OpResult::Error(err::RUNTIME_INCONSISTENCY)
        ]
    );
    // Success: per-op result types follow the request opcodes.
    let body = raw::multi_body(&[
        (op::CHECK, raw::check_body(&p, 0)),
        (op::CREATE, raw::create_body(&a, b"x", raw::OPEN_ACL, 0)),
        (
            op::CREATE2,
            raw::create_body(&format!("{p}/b"), b"x", raw::OPEN_ACL, 0),
        ),
        (op::SET_DATA, raw::set_data_body(&a, b"y", 0)),
        (op::DELETE, raw::delete_body(&a, 1)),
    ]);
    let r = c.call(op::MULTI, &body).unwrap();
    assert_eq!(r.err(), 0);
    let res = raw::decode_multi(&r.body).unwrap();
    assert_eq!(res.len(), 5);
    assert_eq!(res[0], OpResult::Check);
    assert_eq!(res[1], OpResult::Create(a.clone()));
    // create2 inside multi: ZooKeeper 3.8.0 answers with a plain create result
    // (ZOOKEEPER-4026); later versions answer create2 with the Stat. Accept both.
    match &res[2] {
        OpResult::Create(path) => assert_eq!(path, &format!("{p}/b")),
        OpResult::Create2(path, st) => {
            assert_eq!((path, st.czxid), (&format!("{p}/b"), r.header.zxid))
        }
        other => panic!("create2 in multi answered with {other:?}"),
    }
    let OpResult::SetData(st) = &res[3] else {
        panic!("{res:?}")
    };
    assert_eq!((st.version, st.mzxid), (1, r.header.zxid));
    assert_eq!(res[4], OpResult::Delete);
    // Empty multi and empty multiRead: OK with no results.
    for o in [op::MULTI, op::MULTI_READ] {
        let r = c.call(o, &raw::multi_body(&[])).unwrap();
        assert_eq!(r.err(), 0);
        assert_eq!(raw::decode_multi(&r.body).unwrap(), vec![]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_read_reports_each_op() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("multiread");
    within(c.create(&p, b"data", &open())).await.unwrap();
    mk(&c, &format!("{p}/kid"), b"").await;
    let st = within(c.check_stat(&p)).await.unwrap().unwrap();
    let mut r = c.new_multi_reader();
    r.add_get_data(&p).unwrap();
    r.add_get_data(&format!("{p}/missing")).unwrap();
    r.add_get_children(&p).unwrap();
    let res = within(r.commit()).await.unwrap();
    assert_eq!(res.len(), 3);
    match &res[0] {
        zk::MultiReadResult::Data { data, stat } => {
            assert_eq!(data, b"data");
            assert_eq!(stat, &st);
        }
        other => panic!("{other:?}"),
    }
    match &res[1] {
        zk::MultiReadResult::Error { err } => assert_eq!(err, &zk::Error::NoNode),
        other => panic!("{other:?}"),
    }
    match &res[2] {
        zk::MultiReadResult::Children { children } => {
            assert_eq!(children, &vec!["kid".to_string()])
        }
        other => panic!("{other:?}"),
    }
    // Raw: the result types are getData (4), error (-1), getChildren (8).
    let (mut c, _) = s.raw(4000);
    let body = raw::multi_body(&[
        (op::GET_DATA, raw::path_watch_body(&p, false)),
        (
            op::GET_DATA,
            raw::path_watch_body(&format!("{p}/missing"), false),
        ),
        (op::GET_CHILDREN, raw::path_watch_body(&p, false)),
    ]);
    let r = c.call(op::MULTI_READ, &body).unwrap();
    assert_eq!(r.err(), 0);
    let res = raw::decode_multi(&r.body).unwrap();
    assert!(
        matches!(&res[0], OpResult::GetData(d, _) if d == b"data"),
        "{res:?}"
    );
    assert_eq!(res[1], OpResult::Error(err::NO_NODE));
    assert_eq!(res[2], OpResult::GetChildren(vec!["kid".into()]));
}

// ---------------------------------------------------------------------------------------------
// checkWatches / removeWatches

#[test]
fn check_watches_and_remove_watches() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("rmwatch");
    let check = |c: &mut RawConn, t: i32| {
        c.call(op::CHECK_WATCHES, &raw::path_type_body(&p, t))
            .unwrap()
            .err()
    };
    let remove = |c: &mut RawConn, t: i32| {
        c.call(op::REMOVE_WATCHES, &raw::path_type_body(&p, t))
            .unwrap()
            .err()
    };
    // Nothing registered (node missing, then node present).
    assert_eq!(check(&mut c, raw::wtype::DATA), err::NO_WATCHER);
    assert_eq!(remove(&mut c, raw::wtype::ANY), err::NO_WATCHER);
    assert_eq!(raw_create(&mut c, &p, b"", 0).err(), 0);
    for t in [raw::wtype::CHILDREN, raw::wtype::DATA, raw::wtype::ANY] {
        assert_eq!(check(&mut c, t), err::NO_WATCHER, "type {t}");
    }
    // A data watch.
    assert_eq!(
        c.call(op::GET_DATA, &raw::path_watch_body(&p, true))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(check(&mut c, raw::wtype::CHILDREN), err::NO_WATCHER);
    assert_eq!(check(&mut c, raw::wtype::DATA), 0);
    assert_eq!(check(&mut c, raw::wtype::ANY), 0);
    assert_eq!(remove(&mut c, raw::wtype::CHILDREN), err::NO_WATCHER);
    assert_eq!(remove(&mut c, raw::wtype::DATA), 0);
    assert_eq!(check(&mut c, raw::wtype::DATA), err::NO_WATCHER);
    // Removed: our own change triggers nothing (an event would precede the reply).
    assert_eq!(
        c.call(op::SET_DATA, &raw::set_data_body(&p, b"x", -1))
            .unwrap()
            .err(),
        0
    );
    assert!(c.events.is_empty(), "{:?}", c.events);
    // A child watch, removed with ANY.
    assert_eq!(
        c.call(op::GET_CHILDREN, &raw::path_watch_body(&p, true))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(check(&mut c, raw::wtype::CHILDREN), 0);
    assert_eq!(check(&mut c, raw::wtype::DATA), err::NO_WATCHER);
    assert_eq!(remove(&mut c, raw::wtype::ANY), 0);
    assert_eq!(check(&mut c, raw::wtype::ANY), err::NO_WATCHER);
    assert_eq!(raw_create(&mut c, &format!("{p}/kid"), b"", 0).err(), 0);
    assert!(c.events.is_empty(), "{:?}", c.events);
    // An exists watch on a missing node counts as a data watch.
    let q = format!("{p}/later");
    assert_eq!(
        c.call(op::EXISTS, &raw::path_watch_body(&q, true))
            .unwrap()
            .err(),
        err::NO_NODE
    );
    assert_eq!(
        c.call(
            op::CHECK_WATCHES,
            &raw::path_type_body(&q, raw::wtype::DATA)
        )
        .unwrap()
        .err(),
        0
    );
    // Persistent watches are found with ANY and removed with ANY.
    assert_eq!(
        c.call(op::ADD_WATCH, &raw::path_type_body(&p, 0))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(check(&mut c, raw::wtype::ANY), 0);
    assert_eq!(remove(&mut c, raw::wtype::ANY), 0);
    assert_eq!(
        c.call(op::SET_DATA, &raw::set_data_body(&p, b"y", -1))
            .unwrap()
            .err(),
        0
    );
    assert!(c.events.is_empty(), "{:?}", c.events);
    // Another session cannot remove our watches. (ZooKeeper 3.8's checkWatches answers OK
    // when any session has such a watch, so it is not asserted across sessions here.)
    let (mut other, _) = s.raw(4000);
    assert_eq!(
        c.call(op::GET_DATA, &raw::path_watch_body(&p, true))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(
        other
            .call(
                op::REMOVE_WATCHES,
                &raw::path_type_body(&p, raw::wtype::DATA)
            )
            .unwrap()
            .err(),
        err::NO_WATCHER
    );
    assert_eq!(
        other
            .call(
                op::REMOVE_WATCHES,
                &raw::path_type_body(&p, raw::wtype::ANY)
            )
            .unwrap()
            .err(),
        err::NO_WATCHER
    );
    assert_eq!(check(&mut c, raw::wtype::DATA), 0);
    assert_eq!(
        other
            .call(op::SET_DATA, &raw::set_data_body(&p, b"z", -1))
            .unwrap()
            .err(),
        0
    );
    let e = c
        .wait_event(WAIT)
        .expect("our watch survived the other session's removeWatches");
    assert_eq!(
        (e.event_type, e.path),
        (raw::event::NODE_DATA_CHANGED, p.clone())
    );
}

// ---------------------------------------------------------------------------------------------
// addWatch

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_watch_fires_repeatedly() {
    use zk::EventType::*;
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("pwatch");
    mk(&c, &p, b"").await;
    let mut w = within(c.watch(&p, zk::AddWatchMode::Persistent))
        .await
        .unwrap();
    within(c.set_data(&p, b"1", None)).await.unwrap();
    within(c.set_data(&p, b"2", None)).await.unwrap();
    let kid = format!("{p}/kid");
    mk(&c, &kid, b"").await;
    within(c.set_data(&kid, b"x", None)).await.unwrap(); // not watched: no event
    within(c.delete(&kid, None)).await.unwrap();
    within(c.delete(&p, None)).await.unwrap();
    mk(&c, &p, b"").await;
    for expected in [
        NodeDataChanged,
        NodeDataChanged,
        NodeChildrenChanged,
        NodeChildrenChanged,
        NodeDeleted,
        NodeCreated,
    ] {
        assert_eq!(next_event(&mut w).await, (expected, p.clone()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_recursive_watch_sees_descendants() {
    use zk::EventType::*;
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("rwatch");
    mk(&c, &p, b"").await;
    let mut w = within(c.watch(&p, zk::AddWatchMode::PersistentRecursive))
        .await
        .unwrap();
    let a = format!("{p}/a");
    let b = format!("{a}/b");
    mk(&c, &a, b"").await;
    mk(&c, &b, b"").await;
    within(c.set_data(&b, b"x", None)).await.unwrap();
    within(c.set_data(&b, b"y", None)).await.unwrap();
    within(c.delete(&b, None)).await.unwrap();
    within(c.set_data(&p, b"z", None)).await.unwrap();
    let expected = [
        (NodeCreated, a.clone()),
        (NodeCreated, b.clone()),
        (NodeDataChanged, b.clone()),
        (NodeDataChanged, b.clone()),
        (NodeDeleted, b.clone()),
        (NodeDataChanged, p.clone()),
    ];
    for e in expected {
        assert_eq!(next_event(&mut w).await, e);
    }
}

/// Exactly what the server sends for addWatch, seen on the wire: recursive watches get no
/// NodeChildrenChanged; events for our own writes arrive before the write's reply.
#[test]
fn add_watch_events_on_the_wire() {
    use raw::event::*;
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("addwatch-wire");
    let q = unique("addwatch-wire-rec");
    assert_eq!(raw_create(&mut c, &p, b"", 0).err(), 0);
    // addWatch on a missing node is fine; it fires on creation.
    let r = c.call(op::ADD_WATCH, &raw::path_type_body(&q, 1)).unwrap();
    assert_eq!(r.err(), 0);
    assert_eq!(
        r.body,
        vec![0, 0, 0, 0],
        "addWatch replies with an int 0 (ErrorResponse)"
    );
    assert_eq!(
        c.call(op::ADD_WATCH, &raw::path_type_body(&p, 0))
            .unwrap()
            .err(),
        0
    );
    let step = |c: &mut RawConn, o: i32, body: Vec<u8>| -> Vec<(i32, String)> {
        let r = c.call(o, &body).unwrap();
        assert_eq!(r.err(), 0);
        c.events
            .drain(..)
            .map(|e| {
                assert_eq!(e.state, 3, "SyncConnected");
                (e.event_type, e.path)
            })
            .collect()
    };
    let qa = format!("{q}/a");
    assert_eq!(
        step(
            &mut c,
            op::CREATE,
            raw::create_body(&q, b"", raw::OPEN_ACL, 0)
        ),
        vec![(NODE_CREATED, q.clone())]
    );
    assert_eq!(
        step(
            &mut c,
            op::CREATE,
            raw::create_body(&qa, b"", raw::OPEN_ACL, 0)
        ),
        vec![(NODE_CREATED, qa.clone())]
    );
    assert_eq!(
        step(&mut c, op::SET_DATA, raw::set_data_body(&qa, b"x", -1)),
        vec![(NODE_DATA_CHANGED, qa.clone())]
    );
    assert_eq!(
        step(&mut c, op::DELETE, raw::delete_body(&qa, -1)),
        vec![(NODE_DELETED, qa.clone())]
    );
    let pa = format!("{p}/a");
    assert_eq!(
        step(
            &mut c,
            op::CREATE,
            raw::create_body(&pa, b"", raw::OPEN_ACL, 0)
        ),
        vec![(NODE_CHILDREN_CHANGED, p.clone())]
    );
    assert_eq!(
        step(&mut c, op::SET_DATA, raw::set_data_body(&pa, b"x", -1)),
        vec![]
    );
    assert_eq!(
        step(&mut c, op::SET_DATA, raw::set_data_body(&p, b"x", -1)),
        vec![(NODE_DATA_CHANGED, p.clone())]
    );
    assert_eq!(
        step(&mut c, op::SET_DATA, raw::set_data_body(&p, b"y", -1)),
        vec![(NODE_DATA_CHANGED, p.clone())]
    );
    // Unknown addWatch mode.
    assert_eq!(
        c.call(op::ADD_WATCH, &raw::path_type_body(&p, 7))
            .unwrap()
            .err(),
        err::MARSHALLING_ERROR
    );
}

// ---------------------------------------------------------------------------------------------
// auth, whoAmI, sasl

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_digest_and_who_am_i() {
    let s = TestServer::start();
    let c = s.client().await;
    let users = within(c.list_auth_users()).await.unwrap();
    assert_eq!(users, vec![zk::AuthUser::new("ip", "127.0.0.1")]);
    within(c.auth("digest", b"alice:secret")).await.unwrap();
    let mut users = within(c.list_auth_users()).await.unwrap();
    users.sort_by(|a, b| (a.scheme(), a.user()).cmp(&(b.scheme(), b.user())));
    assert_eq!(
        users,
        vec![
            zk::AuthUser::new("digest", "alice"),
            zk::AuthUser::new("ip", "127.0.0.1")
        ]
    );
    // A second digest identity adds to the session.
    within(c.auth("digest", b"bob:hunter2")).await.unwrap();
    let users = within(c.list_auth_users()).await.unwrap();
    assert!(
        users.contains(&zk::AuthUser::new("digest", "bob")),
        "{users:?}"
    );
    assert!(
        users.contains(&zk::AuthUser::new("digest", "alice")),
        "{users:?}"
    );
    // Raw: auth is answered on xid -4 with an empty body.
    let (mut r, _) = s.raw(4000);
    let rep = r
        .call_xid(
            xid::AUTH,
            op::AUTH,
            &raw::auth_body("digest", b"alice:secret"),
        )
        .unwrap();
    assert_eq!((rep.header.xid, rep.err()), (xid::AUTH, 0));
    assert!(rep.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_with_unknown_scheme_fails_the_session() {
    let s = TestServer::start();
    let c = s.client().await;
    assert_eq!(
        within(c.auth("nosuchscheme", b"whatever"))
            .await
            .unwrap_err(),
        zk::Error::AuthFailed
    );
    wait_state(&c, zk::SessionState::AuthFailed).await;
    assert_eq!(
        within(c.get_data("/")).await.unwrap_err(),
        zk::Error::AuthFailed
    );
    // Raw: AuthFailed (-115) on xid -4, then the server closes the connection.
    let (mut r, _) = s.raw(4000);
    let rep = r
        .call_xid(xid::AUTH, op::AUTH, &raw::auth_body("nosuchscheme", b"x"))
        .unwrap();
    assert_eq!((rep.header.xid, rep.err()), (xid::AUTH, err::AUTH_FAILED));
    let (closed, frames) = r.closed_within(WAIT);
    assert!(
        closed && frames.is_empty(),
        "closed={closed} frames={frames:?}"
    );
    s.assert_healthy();
}

#[test]
fn sasl_without_sasl_configured() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let r = c
        .call(op::SASL, &raw::Enc::new().buf(b"token").bytes())
        .unwrap();
    assert_eq!(r.err(), 0);
    // SetSASLResponse with a null token.
    let mut d = r.dec();
    assert_eq!(d.buf_opt().unwrap(), None);
    assert_eq!(d.remaining(), 0);
    // The session carries on.
    assert_eq!(c.ping().unwrap().err(), 0);
    assert_eq!(
        c.call(op::EXISTS, &raw::path_watch_body("/", false))
            .unwrap()
            .err(),
        0
    );
}

// ---------------------------------------------------------------------------------------------
// setWatches / setWatches2

#[test]
fn set_watches_rearms_relative_to_zxid() {
    use raw::event::*;
    let s = TestServer::start();
    let (mut a, _) = s.raw(4000);
    let p = unique("setwatches");
    let gone = format!("{p}-gone");
    let born = format!("{p}-born");
    let quiet = format!("{p}-quiet");
    let missing = format!("{p}-missing");
    assert_eq!(raw_create(&mut a, &p, b"v0", 0).err(), 0);
    assert_eq!(raw_create(&mut a, &gone, b"", 0).err(), 0);
    let zx = raw_create(&mut a, &quiet, b"", 0).header.zxid;
    // Changes after zx:
    assert_eq!(
        a.call(op::SET_DATA, &raw::set_data_body(&p, b"v1", -1))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(
        a.call(op::DELETE, &raw::delete_body(&gone, -1))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(raw_create(&mut a, &born, b"", 0).err(), 0);
    assert_eq!(raw_create(&mut a, &format!("{p}/kid"), b"", 0).err(), 0);

    // Session B re-arms watches as if it had seen everything up to zx.
    let (mut b, _) = s.raw(4000);
    let body = raw::Enc::new()
        .i64(zx)
        .strs(&[&p, &gone, &quiet]) // data watches
        .strs(&[&born, &missing]) // exist watches
        .strs(&[&p, &quiet]) // child watches
        .bytes();
    let r = b
        .call_xid(xid::SET_WATCHES, op::SET_WATCHES, &body)
        .unwrap();
    assert_eq!((r.header.xid, r.err()), (xid::SET_WATCHES, 0));
    assert!(r.body.is_empty());
    // Events for what changed after zx are sent before the reply.
    let mut got: Vec<(i32, String)> = b.events.drain(..).map(|e| (e.event_type, e.path)).collect();
    got.sort();
    let mut want = vec![
        (NODE_DATA_CHANGED, p.clone()),
        (NODE_DELETED, gone.clone()),
        (NODE_CREATED, born.clone()),
        (NODE_CHILDREN_CHANGED, p.clone()),
    ];
    want.sort();
    assert_eq!(got, want);
    // The watches that did not fire are armed: quiet (data + child), missing (exist).
    assert_eq!(
        a.call(op::SET_DATA, &raw::set_data_body(&quiet, b"x", -1))
            .unwrap()
            .err(),
        0
    );
    let e = b
        .wait_event(WAIT)
        .expect("data watch re-armed by setWatches");
    assert_eq!((e.event_type, e.path), (NODE_DATA_CHANGED, quiet.clone()));
    assert_eq!(raw_create(&mut a, &missing, b"", 0).err(), 0);
    let e = b
        .wait_event(WAIT)
        .expect("exist watch re-armed by setWatches");
    assert_eq!((e.event_type, e.path), (NODE_CREATED, missing.clone()));
    assert_eq!(raw_create(&mut a, &format!("{quiet}/kid"), b"", 0).err(), 0);
    let e = b
        .wait_event(WAIT)
        .expect("child watch re-armed by setWatches");
    assert_eq!(
        (e.event_type, e.path),
        (NODE_CHILDREN_CHANGED, quiet.clone())
    );
    // The fired ones were one-shot: a further change of p is not reported to B.
    assert_eq!(
        a.call(op::SET_DATA, &raw::set_data_body(&p, b"v2", -1))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(
        b.call(op::SET_DATA, &raw::set_data_body(&quiet, b"y", -1))
            .unwrap()
            .err(),
        0
    );
    assert!(b.events.is_empty(), "{:?}", b.events);
}

#[test]
fn set_watches2_rearms_persistent_watches() {
    use raw::event::*;
    let s = TestServer::start();
    let (mut a, _) = s.raw(4000);
    let p = unique("setwatches2-p");
    let q = unique("setwatches2-r");
    assert_eq!(raw_create(&mut a, &p, b"", 0).err(), 0);
    let zx = raw_create(&mut a, &q, b"", 0).header.zxid;
    assert_eq!(
        a.call(op::SET_DATA, &raw::set_data_body(&p, b"0", -1))
            .unwrap()
            .err(),
        0
    );
    let (mut b, _) = s.raw(4000);
    // relativeZxid, data, exist, child, persistent, persistentRecursive.
    let body = raw::Enc::new()
        .i64(zx)
        .strs(&[])
        .strs(&[])
        .strs(&[])
        .strs(&[&p])
        .strs(&[&q])
        .bytes();
    let r = b
        .call_xid(xid::SET_WATCHES, op::SET_WATCHES2, &body)
        .unwrap();
    assert_eq!((r.header.xid, r.err()), (xid::SET_WATCHES, 0));
    assert!(r.body.is_empty());
    // Persistent watches are re-armed, not triggered by what happened before.
    assert!(b.events.is_empty(), "{:?}", b.events);
    let pk = format!("{p}/kid");
    let qk = format!("{q}/kid");
    assert_eq!(raw_create(&mut a, &pk, b"", 0).err(), 0);
    assert_eq!(
        a.call(op::SET_DATA, &raw::set_data_body(&p, b"1", -1))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(
        a.call(op::SET_DATA, &raw::set_data_body(&p, b"2", -1))
            .unwrap()
            .err(),
        0
    );
    assert_eq!(raw_create(&mut a, &qk, b"", 0).err(), 0);
    assert_eq!(
        a.call(op::SET_DATA, &raw::set_data_body(&qk, b"1", -1))
            .unwrap()
            .err(),
        0
    );
    let want = vec![
        (NODE_CHILDREN_CHANGED, p.clone()),
        (NODE_DATA_CHANGED, p.clone()),
        (NODE_DATA_CHANGED, p.clone()),
        (NODE_CREATED, qk.clone()),
        (NODE_DATA_CHANGED, qk.clone()),
    ];
    let mut got = Vec::new();
    while got.len() < want.len() {
        let e = b
            .wait_event(WAIT)
            .unwrap_or_else(|| panic!("persistent watch events: got only {got:?}"));
        got.push((e.event_type, e.path));
    }
    assert_eq!(got, want, "events in the order of the changes");
}

// ---------------------------------------------------------------------------------------------
// getEphemerals, getAllChildrenNumber

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_ephemerals_by_prefix() {
    let s = TestServer::start();
    let c = s.client().await;
    let other = s.client().await;
    let base = unique("ephemerals");
    mk(&c, &base, b"").await;
    mk(&c, &format!("{base}/sub"), b"").await;
    let eph = mode(zk::CreateMode::Ephemeral);
    for n in ["x1", "x2", "y1", "sub/e"] {
        within(c.create(&format!("{base}/{n}"), b"", &eph))
            .await
            .unwrap();
    }
    within(other.create(&format!("{base}/x3"), b"", &eph))
        .await
        .unwrap();
    let all: Vec<String> = ["sub/e", "x1", "x2", "y1"]
        .iter()
        .map(|n| format!("{base}/{n}"))
        .collect();
    assert_eq!(sorted(within(c.list_ephemerals(&base)).await.unwrap()), all);
    assert_eq!(
        sorted(within(c.list_ephemerals("/")).await.unwrap()),
        all,
        "only this session's"
    );
    // The prefix is a string prefix, not a path.
    assert_eq!(
        sorted(
            within(c.list_ephemerals(&format!("{base}/x")))
                .await
                .unwrap()
        ),
        vec![format!("{base}/x1"), format!("{base}/x2")]
    );
    assert_eq!(
        within(other.list_ephemerals(&base)).await.unwrap(),
        vec![format!("{base}/x3")]
    );
    assert!(
        within(c.list_ephemerals(&format!("{base}/nothing")))
            .await
            .unwrap()
            .is_empty()
    );
    let fresh = s.client().await;
    assert!(within(fresh.list_ephemerals("/")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_all_children_number_counts_descendants() {
    let s = TestServer::start();
    let c = s.client().await;
    let base = unique("allchildren");
    mk(&c, &base, b"").await;
    assert_eq!(within(c.count_descendants_number(&base)).await.unwrap(), 0);
    for n in ["a", "a/b", "a/b/c", "d"] {
        mk(&c, &format!("{base}/{n}"), b"").await;
    }
    within(c.create(
        &format!("{base}/d/e"),
        b"",
        &mode(zk::CreateMode::Ephemeral),
    ))
    .await
    .unwrap();
    assert_eq!(within(c.count_descendants_number(&base)).await.unwrap(), 5);
    assert_eq!(
        within(c.count_descendants_number(&format!("{base}/a")))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        within(c.count_descendants_number(&format!("{base}/a/b/c")))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        within(c.count_descendants_number(&format!("{base}/nope")))
            .await
            .unwrap_err(),
        zk::Error::NoNode
    );
}

// ---------------------------------------------------------------------------------------------
// closeSession

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_session_removes_ephemerals_and_notifies_others() {
    use zk::EventType::*;
    let s = TestServer::start();
    let a = s.client().await;
    let b = s.client().await;
    let base = unique("close");
    mk(&b, &base, b"").await;
    let e = format!("{base}/e");
    within(a.create(&e, b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    within(a.create(
        &format!("{base}/s-"),
        b"",
        &mode(zk::CreateMode::EphemeralSequential),
    ))
    .await
    .unwrap();
    let (_, _, wd) = within(b.get_and_watch_data(&e)).await.unwrap();
    let (kids, wc) = within(b.list_and_watch_children(&base)).await.unwrap();
    assert_eq!(kids.len(), 2);
    drop(a); // the crate sends closeSession when the last handle goes
    assert_eq!(ev(&within(wd.changed()).await), (NodeDeleted, e.clone()));
    assert_eq!(
        ev(&within(wc.changed()).await),
        (NodeChildrenChanged, base.clone())
    );
    assert!(within(b.list_children(&base)).await.unwrap().is_empty());
}

#[test]
fn close_session_on_the_wire() {
    use raw::event::*;
    let s = TestServer::start();
    let (mut a, rsp) = s.raw(4000);
    let (mut b, _) = s.raw(4000);
    let e = unique("close-wire");
    assert_eq!(raw_create(&mut a, &e, b"", flags::EPHEMERAL).err(), 0);
    assert_eq!(
        b.call(op::EXISTS, &raw::path_watch_body(&e, true))
            .unwrap()
            .err(),
        0
    );
    let r = a.call(op::CLOSE_SESSION, &[]).unwrap();
    assert_eq!(r.err(), 0);
    assert!(r.body.is_empty());
    let (closed, frames) = a.closed_within(WAIT);
    assert!(
        closed && frames.is_empty(),
        "closed={closed} frames={frames:?}"
    );
    let ev = b.wait_event(WAIT).expect("NodeDeleted after closeSession");
    assert_eq!((ev.event_type, ev.path), (NODE_DELETED, e.clone()));
    assert!(raw_stat(&mut b, &e).is_none());
    // The closed session cannot be resumed.
    let mut c = RawConn::connect(&s.addr).unwrap();
    let r = c
        .handshake(&raw::ConnectRequest::resume(
            4000,
            rsp.session_id,
            &rsp.passwd,
        ))
        .unwrap();
    assert_eq!((r.timeout_ms, r.session_id), (0, 0));
}

// ---------------------------------------------------------------------------------------------
// path validation and argument errors

#[test]
fn invalid_paths_get_bad_arguments() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let base = unique("badpath");
    assert_eq!(raw_create(&mut c, &base, b"", 0).err(), 0);
    assert_eq!(raw_create(&mut c, &format!("{base}/x"), b"", 0).err(), 0);
    // Parents of these exist, so only the path itself is wrong.
    let bad = [
        "relative".to_string(),
        format!("{base}/"),
        format!("{base}/."),
        format!("{base}/.."),
        format!("{base}/x/.."),
        format!("{base}/x/."),
        format!("/{base}"), // "//e2e-..."
        format!("{base}/a\0b"),
        format!("{base}/ctl\u{1}"),
        format!("{base}/\u{fffe}"),
    ];
    for p in &bad {
        for o in [op::CREATE, op::CREATE2] {
            let r = c
                .call(o, &raw::create_body(p, b"", raw::OPEN_ACL, 0))
                .unwrap();
            assert_eq!(r.err(), err::BAD_ARGUMENTS, "create({o}) {p:?}");
        }
        let r = c
            .call(op::SET_DATA, &raw::set_data_body(p, b"", -1))
            .unwrap();
        assert_eq!(r.err(), err::BAD_ARGUMENTS, "setData {p:?}");
        let r = c
            .call(
                op::SET_ACL,
                &raw::Enc::new().str(p).acls(raw::OPEN_ACL).i32(-1).bytes(),
            )
            .unwrap();
        assert_eq!(r.err(), err::BAD_ARGUMENTS, "setACL {p:?}");
    }
    // setData validates "//" in the middle too.
    let r = c
        .call(
            op::SET_DATA,
            &raw::set_data_body(&format!("{base}//x"), b"", -1),
        )
        .unwrap();
    assert_eq!(r.err(), err::BAD_ARGUMENTS);
    // delete and exists reject a relative path / a null character.
    for p in ["relative".to_string(), format!("{base}/x\0")] {
        assert_eq!(
            c.call(op::DELETE, &raw::delete_body(&p, -1)).unwrap().err(),
            err::BAD_ARGUMENTS,
            "delete {p:?}"
        );
    }
    assert_eq!(
        c.call(
            op::EXISTS,
            &raw::path_watch_body(&format!("{base}/x\0"), false)
        )
        .unwrap()
        .err(),
        err::BAD_ARGUMENTS
    );
    // Dots inside names are fine, and so is a child called "zookeeper".
    for n in [".x", "..x", "x.", "zookeeper"] {
        assert_eq!(
            raw_create(&mut c, &format!("{base}/{n}"), b"", 0).err(),
            0,
            "{n}"
        );
    }
    s.assert_healthy();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_acl_argument_errors() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let base = unique("aclargs");
    assert_eq!(raw_create(&mut c, &base, b"", 0).err(), 0);
    let try_acl = |c: &mut RawConn, n: &str, acl: &[(i32, &str, &str)]| {
        c.call(
            op::CREATE,
            &raw::create_body(&format!("{base}/{n}"), b"", acl, 0),
        )
        .unwrap()
        .err()
    };
    assert_eq!(try_acl(&mut c, "empty", &[]), err::INVALID_ACL);
    assert_eq!(
        try_acl(&mut c, "scheme", &[(31, "nosuch", "x")]),
        err::INVALID_ACL
    );
    assert_eq!(
        try_acl(&mut c, "ip", &[(31, "ip", "not-an-ip")]),
        err::INVALID_ACL
    );
    assert_eq!(
        try_acl(&mut c, "digest", &[(31, "digest", "nocolon")]),
        err::INVALID_ACL
    );
    assert_eq!(
        try_acl(&mut c, "auth", &[(31, "auth", "")]),
        err::INVALID_ACL,
        "no authenticated ids"
    );
    assert_eq!(
        try_acl(&mut c, "world", &[(31, "world", "someone")]),
        err::INVALID_ACL
    );
    assert_eq!(try_acl(&mut c, "noperms", &[(0, "world", "anyone")]), 0);
    assert_eq!(try_acl(&mut c, "cidr", &[(31, "ip", "10.0.0.0/8")]), 0);
    // Through the crate.
    let z = s.client().await;
    let r = within(z.create(
        &format!("{base}/creator"),
        b"",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all()),
    ))
    .await;
    assert_eq!(r.unwrap_err(), zk::Error::InvalidAcl);
}

#[test]
fn reconfig_is_disabled() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    // ReconfigRequest: joiningServers, leavingServers, newMembers, curConfigId.
    let body = raw::Enc::new().str("").str("").str("").i64(-1).bytes();
    assert_eq!(c.call(op::RECONFIG, &body).unwrap().err(), -123);
    assert_eq!(c.ping().unwrap().err(), 0);
}
