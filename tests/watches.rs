//! Watch and ordering guarantees: one-shot watches fire at most once per registration, a
//! client sees the event before data reflecting the change, FIFO per session, read-your-writes,
//! and session expiry notifying other sessions.

mod common;

use std::time::{Duration, Instant};

use common::raw::{self, Frame, RawConn, err, event, flags, op};
use common::*;
use zookeeper_client as zk;

fn raw_get(c: &mut RawConn, path: &str, watch: bool) -> (Vec<u8>, raw::RawStat) {
    let r = c
        .call(op::GET_DATA, &raw::path_watch_body(path, watch))
        .unwrap();
    assert_eq!(r.err(), 0, "getData {path}");
    let mut d = r.dec();
    (d.buf().unwrap(), d.stat().unwrap())
}

fn ok(r: raw::Reply) -> raw::Reply {
    assert_eq!(r.err(), 0, "{r:?}");
    r
}

/// Reads (no watch) until `done(stat)` holds; every notification received meanwhile is queued in
/// `c.events`. Any event caused by a change is delivered before a read reflecting it, so after
/// this returns, `c.events` holds every event the reflected changes caused.
fn read_until(c: &mut RawConn, path: &str, done: impl Fn(&raw::RawStat) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let r = c
            .call(op::EXISTS, &raw::path_watch_body(path, false))
            .unwrap();
        if r.err() == 0 && done(&r.dec().stat().unwrap()) {
            return;
        }
        assert!(Instant::now() < deadline, "state of {path} not reached");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn events(c: &mut RawConn) -> Vec<(i32, String)> {
    c.events.drain(..).map(|e| (e.event_type, e.path)).collect()
}

#[test]
fn data_watch_fires_once() {
    let s = TestServer::start();
    let (mut a, _) = s.raw(4000);
    let (mut b, _) = s.raw(4000);
    let p = unique("once-data");
    ok(
        b.call(op::CREATE, &raw::create_body(&p, b"0", raw::OPEN_ACL, 0))
            .unwrap(),
    );
    raw_get(&mut a, &p, true);
    ok(b.call(op::SET_DATA, &raw::set_data_body(&p, b"1", -1))
        .unwrap());
    ok(b.call(op::SET_DATA, &raw::set_data_body(&p, b"2", -1))
        .unwrap());
    read_until(&mut a, &p, |st| st.version == 2);
    assert_eq!(events(&mut a), vec![(event::NODE_DATA_CHANGED, p.clone())]);
    // Re-registering arms it again, once.
    raw_get(&mut a, &p, true);
    ok(b.call(op::SET_DATA, &raw::set_data_body(&p, b"3", -1))
        .unwrap());
    ok(b.call(op::DELETE, &raw::delete_body(&p, -1)).unwrap());
    let deadline = Instant::now() + WAIT;
    while a
        .call(op::EXISTS, &raw::path_watch_body(&p, false))
        .unwrap()
        .err()
        != err::NO_NODE
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(events(&mut a), vec![(event::NODE_DATA_CHANGED, p.clone())]);
}

#[test]
fn exists_watch_fires_once() {
    let s = TestServer::start();
    let (mut a, _) = s.raw(4000);
    let (mut b, _) = s.raw(4000);
    let p = unique("once-exists");
    assert_eq!(
        a.call(op::EXISTS, &raw::path_watch_body(&p, true))
            .unwrap()
            .err(),
        err::NO_NODE
    );
    ok(
        b.call(op::CREATE, &raw::create_body(&p, b"", raw::OPEN_ACL, 0))
            .unwrap(),
    );
    ok(b.call(op::DELETE, &raw::delete_body(&p, -1)).unwrap());
    let last = ok(b
        .call(op::CREATE, &raw::create_body(&p, b"", raw::OPEN_ACL, 0))
        .unwrap())
    .header
    .zxid;
    read_until(&mut a, &p, |st| st.czxid == last);
    assert_eq!(events(&mut a), vec![(event::NODE_CREATED, p.clone())]);
    // An exists watch on an existing node fires on data change and on delete.
    assert_eq!(
        a.call(op::EXISTS, &raw::path_watch_body(&p, true))
            .unwrap()
            .err(),
        0
    );
    ok(b.call(op::SET_DATA, &raw::set_data_body(&p, b"x", -1))
        .unwrap());
    read_until(&mut a, &p, |st| st.version == 1);
    assert_eq!(events(&mut a), vec![(event::NODE_DATA_CHANGED, p.clone())]);
}

#[test]
fn child_watch_fires_once_and_ignores_data_changes() {
    let s = TestServer::start();
    let (mut a, _) = s.raw(4000);
    let (mut b, _) = s.raw(4000);
    let p = unique("once-child");
    ok(
        b.call(op::CREATE, &raw::create_body(&p, b"", raw::OPEN_ACL, 0))
            .unwrap(),
    );
    ok(a.call(op::GET_CHILDREN, &raw::path_watch_body(&p, true))
        .unwrap());
    ok(b.call(op::SET_DATA, &raw::set_data_body(&p, b"x", -1))
        .unwrap());
    read_until(&mut a, &p, |st| st.version == 1);
    assert_eq!(
        events(&mut a),
        vec![],
        "a data change does not trigger a child watch"
    );
    ok(b.call(
        op::CREATE,
        &raw::create_body(&format!("{p}/a"), b"", raw::OPEN_ACL, 0),
    )
    .unwrap());
    ok(b.call(
        op::CREATE,
        &raw::create_body(&format!("{p}/b"), b"", raw::OPEN_ACL, 0),
    )
    .unwrap());
    ok(b.call(
        op::SET_DATA,
        &raw::set_data_body(&format!("{p}/a"), b"x", -1),
    )
    .unwrap());
    read_until(&mut a, &p, |st| st.num_children == 2);
    assert_eq!(
        events(&mut a),
        vec![(event::NODE_CHILDREN_CHANGED, p.clone())]
    );
    // getChildren2 also sets a child watch.
    ok(a.call(op::GET_CHILDREN2, &raw::path_watch_body(&p, true))
        .unwrap());
    ok(b.call(op::DELETE, &raw::delete_body(&format!("{p}/a"), -1))
        .unwrap());
    read_until(&mut a, &p, |st| st.num_children == 1);
    assert_eq!(
        events(&mut a),
        vec![(event::NODE_CHILDREN_CHANGED, p.clone())]
    );
}

#[test]
fn same_watch_registered_many_times_fires_once() {
    let s = TestServer::start();
    let (mut a, _) = s.raw(4000);
    let (mut b, _) = s.raw(4000);
    let p = unique("dup");
    ok(
        b.call(op::CREATE, &raw::create_body(&p, b"", raw::OPEN_ACL, 0))
            .unwrap(),
    );
    raw_get(&mut a, &p, true);
    raw_get(&mut a, &p, true);
    ok(a.call(op::EXISTS, &raw::path_watch_body(&p, true)).unwrap());
    ok(b.call(op::SET_DATA, &raw::set_data_body(&p, b"x", -1))
        .unwrap());
    read_until(&mut a, &p, |st| st.version == 1);
    assert_eq!(events(&mut a), vec![(event::NODE_DATA_CHANGED, p.clone())]);
}

#[test]
fn delete_fires_data_child_and_parent_watches() {
    let s = TestServer::start();
    let (mut a, _) = s.raw(4000);
    let (mut b, _) = s.raw(4000);
    let parent = unique("delwatch");
    let p = format!("{parent}/n");
    ok(b.call(
        op::CREATE,
        &raw::create_body(&parent, b"", raw::OPEN_ACL, 0),
    )
    .unwrap());
    ok(
        b.call(op::CREATE, &raw::create_body(&p, b"", raw::OPEN_ACL, 0))
            .unwrap(),
    );
    raw_get(&mut a, &p, true);
    ok(a.call(op::GET_CHILDREN, &raw::path_watch_body(&p, true))
        .unwrap());
    ok(
        a.call(op::GET_CHILDREN, &raw::path_watch_body(&parent, true))
            .unwrap(),
    );
    ok(b.call(op::DELETE, &raw::delete_body(&p, -1)).unwrap());
    read_until(&mut a, &parent, |st| st.num_children == 0);
    let mut got = events(&mut a);
    got.sort();
    // One NodeDeleted for the node (data and child watch of one session), one
    // NodeChildrenChanged for the parent.
    let mut want = vec![
        (event::NODE_DELETED, p.clone()),
        (event::NODE_CHILDREN_CHANGED, parent.clone()),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_oneshot_watchers_by_kind() {
    use zk::EventType::*;
    let s = TestServer::start();
    let a = s.client().await;
    let b = s.client().await;
    let p = unique("crate-watch");
    mk(&b, &p, b"").await;
    let (_, _, wd) = within(a.get_and_watch_data(&p)).await.unwrap();
    let (_, wc) = within(a.list_and_watch_children(&p)).await.unwrap();
    let (_, _, wc2) = within(a.get_and_watch_children(&p)).await.unwrap();
    within(b.set_data(&p, b"x", None)).await.unwrap();
    let e = within(wd.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (NodeDataChanged, p.as_str())
    );
    mk(&b, &format!("{p}/k"), b"").await;
    for w in [wc, wc2] {
        let e = within(w.changed()).await;
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (NodeChildrenChanged, p.as_str())
        );
    }
}

/// A client sees the watch event before any read result that reflects the change, checked on
/// the wire while another session changes the node concurrently.
#[test]
fn event_arrives_before_read_reflecting_change() {
    let s = TestServer::start();
    for round in 0..5 {
        let (mut a, _) = s.raw(4000);
        let p = unique("order");
        ok(
            a.call(op::CREATE, &raw::create_body(&p, b"old", raw::OPEN_ACL, 0))
                .unwrap(),
        );
        raw_get(&mut a, &p, true);
        let addr = s.addr.clone();
        let path = p.clone();
        let writer = std::thread::spawn(move || {
            let (mut b, _) = RawConn::session(&addr, 4000);
            std::thread::sleep(Duration::from_millis(20));
            ok(b.call(op::SET_DATA, &raw::set_data_body(&path, b"new", -1))
                .unwrap());
        });
        // Spin reads; look at every frame in arrival order.
        let deadline = Instant::now() + WAIT;
        let mut saw_event = false;
        'outer: loop {
            assert!(Instant::now() < deadline, "change never became visible");
            let x = a.alloc_xid();
            a.send_request(x, op::GET_DATA, &raw::path_watch_body(&p, false))
                .unwrap();
            loop {
                match a.read_any().unwrap() {
                    Frame::Event(e) => {
                        assert_eq!(
                            (e.event_type, e.path.as_str()),
                            (event::NODE_DATA_CHANGED, p.as_str())
                        );
                        assert!(!saw_event, "one-shot watch fired twice");
                        saw_event = true;
                    }
                    Frame::Reply(r) if r.header.xid == x => {
                        assert_eq!(r.err(), 0);
                        let data = r.dec().buf().unwrap();
                        if data == b"new" {
                            assert!(
                                saw_event,
                                "round {round}: read reflected the change before the watch event"
                            );
                            break 'outer;
                        }
                        break;
                    }
                    Frame::Reply(r) => panic!("unexpected reply {r:?}"),
                }
            }
        }
        writer.join().unwrap();
    }
}

/// The same guarantee as far as the crate exposes it: once a read returns the new data, the
/// one-shot watcher has already been completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_event_delivered_before_read_reflecting_change() {
    let s = TestServer::start();
    let a = s.client().await;
    let b = s.client().await;
    for _ in 0..5 {
        let p = unique("crate-order");
        mk(&a, &p, b"old").await;
        let (_, _, w) = within(a.get_and_watch_data(&p)).await.unwrap();
        let setter = {
            let b = b.clone();
            let p = p.clone();
            tokio::spawn(async move { within(b.set_data(&p, b"new", None)).await.unwrap() })
        };
        let deadline = Instant::now() + WAIT;
        loop {
            let (data, _) = within(a.get_data(&p)).await.unwrap();
            if data == b"new" {
                break;
            }
            assert!(Instant::now() < deadline);
        }
        let e = tokio::time::timeout(Duration::ZERO, w.changed())
            .await
            .expect("watch event must be delivered before a read that reflects the change");
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (zk::EventType::NodeDataChanged, p.as_str())
        );
        setter.await.unwrap();
    }
}

/// Many pipelined requests in one session are answered in the order sent, and reads see the
/// session's earlier writes.
#[test]
fn fifo_pipelined_requests_answered_in_order() {
    let s = TestServer::start();
    let (mut c, _) = s.raw(4000);
    let p = unique("fifo");
    let mut reqs: Vec<(i32, i32, Vec<u8>)> = Vec::new();
    reqs.push((op::CREATE, 0, raw::create_body(&p, b"", raw::OPEN_ACL, 0)));
    for i in 0..100 {
        let d = format!("v{i}").into_bytes();
        reqs.push((op::SET_DATA, i, raw::set_data_body(&p, &d, i)));
        reqs.push((op::GET_DATA, i, raw::path_watch_body(&p, false)));
        reqs.push((
            op::CREATE,
            i,
            raw::create_body(
                &format!("{p}/s-"),
                b"",
                raw::OPEN_ACL,
                flags::PERSISTENT_SEQUENTIAL,
            ),
        ));
        reqs.push((
            op::EXISTS,
            i,
            raw::path_watch_body(&format!("{p}/s-{i:010}"), false),
        ));
    }
    // One write for everything.
    let mut wire = Vec::new();
    let mut xids = Vec::new();
    for (o, _, body) in &reqs {
        let x = c.alloc_xid();
        xids.push(x);
        let payload = raw::Enc::new().i32(x).i32(*o).raw(body).bytes();
        wire.extend_from_slice(&(payload.len() as i32).to_be_bytes());
        wire.extend_from_slice(&payload);
    }
    c.send_raw(&wire).unwrap();
    let mut last_zxid = i64::MIN;
    for (k, (o, i, _)) in reqs.iter().enumerate() {
        let r = c.read_reply().unwrap();
        assert_eq!(r.header.xid, xids[k], "reply {k} out of order");
        assert_eq!(r.err(), 0, "request {k} (op {o}) failed");
        assert!(r.header.zxid >= last_zxid, "zxids go backwards");
        last_zxid = r.header.zxid;
        match *o {
            op::GET_DATA => {
                let mut d = r.dec();
                assert_eq!(
                    d.buf().unwrap(),
                    format!("v{i}").into_bytes(),
                    "read sees the preceding write"
                );
                assert_eq!(d.stat().unwrap().version, i + 1);
            }
            op::CREATE if k > 0 => assert_eq!(r.dec().str().unwrap(), format!("{p}/s-{i:010}")),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_requests_complete_in_issue_order() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("crate-fifo");
    mk(&c, &p, b"").await;
    let prefix = format!("{p}/s-");
    let opts = mode(zk::CreateMode::PersistentSequential);
    // The crate sends at call time; issue everything before awaiting anything.
    let creates: Vec<_> = (0..100).map(|_| c.create(&prefix, b"", &opts)).collect();
    let mut sets = Vec::new();
    let mut gets = Vec::new();
    for i in 0..50 {
        sets.push(c.set_data(&p, format!("v{i}").as_bytes(), Some(i)));
        gets.push(c.get_data(&p));
    }
    for (i, f) in creates.into_iter().enumerate() {
        let (_, seq) = within(f).await.unwrap();
        assert_eq!(seq.into_i64(), i as i64, "creates executed in issue order");
    }
    for (i, (set, get)) in sets.into_iter().zip(gets).enumerate() {
        let st = within(set).await.unwrap();
        assert_eq!(st.version, i as i32 + 1);
        let (data, st2) = within(get).await.unwrap();
        assert_eq!(
            data,
            format!("v{i}").into_bytes(),
            "read sees the write issued just before it"
        );
        assert_eq!(st2.version, st.version);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_across_operations() {
    let s = TestServer::start();
    let c = s.client().await;
    let p = unique("ryw");
    let create = c.create(&p, b"a", &open());
    let exists = c.check_stat(&p);
    let kid = format!("{p}/k");
    let create_kid = c.create(&kid, b"", &open());
    let children = c.list_children(&p);
    let delete_kid = c.delete(&kid, None);
    let children_after = c.list_children(&p);
    let (st, _) = within(create).await.unwrap();
    assert_eq!(within(exists).await.unwrap(), Some(st));
    within(create_kid).await.unwrap();
    assert_eq!(within(children).await.unwrap(), vec!["k"]);
    within(delete_kid).await.unwrap();
    assert!(within(children_after).await.unwrap().is_empty());
}

/// A session that stops pinging expires: its ephemerals go, other sessions' watchers hear
/// NodeDeleted, its connection is closed and it cannot be resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_expiry_deletes_ephemerals_and_notifies() {
    use zk::EventType::*;
    let s = TestServer::start();
    let observer = s.client().await;
    let base = unique("expiry");
    mk(&observer, &base, b"").await;
    let e = format!("{base}/e");
    let (mut dying, rsp) = s.raw(1); // the minimum timeout
    assert!(rsp.timeout_ms > 0);
    ok(dying
        .call(
            op::CREATE,
            &raw::create_body(&e, b"", raw::OPEN_ACL, flags::EPHEMERAL),
        )
        .unwrap());
    ok(dying
        .call(
            op::CREATE,
            &raw::create_body(
                &format!("{base}/s-"),
                b"",
                raw::OPEN_ACL,
                flags::EPHEMERAL_SEQUENTIAL,
            ),
        )
        .unwrap());
    let (st, w) = within(observer.check_and_watch_stat(&e)).await.unwrap();
    assert_eq!(st.unwrap().ephemeral_owner, rsp.session_id);
    let (_, wc) = within(observer.list_and_watch_children(&base))
        .await
        .unwrap();
    // From now on the dying session sends nothing.
    let ev = within(w.changed()).await;
    assert_eq!((ev.event_type, ev.path.as_str()), (NodeDeleted, e.as_str()));
    let ev = within(wc.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (NodeChildrenChanged, base.as_str())
    );
    assert!(
        within(observer.list_children(&base))
            .await
            .unwrap()
            .is_empty()
    );
    let (closed, _) = tokio::task::spawn_blocking(move || dying.closed_within(WAIT))
        .await
        .unwrap();
    assert!(closed, "the expired session's connection is closed");
    let addr = s.addr.clone();
    let r = tokio::task::spawn_blocking(move || {
        let mut c = RawConn::connect(&addr).unwrap();
        let r = c
            .handshake(&raw::ConnectRequest::resume(
                4000,
                rsp.session_id,
                &rsp.passwd,
            ))
            .unwrap();
        let (closed, _) = c.closed_within(WAIT);
        (r, closed)
    })
    .await
    .unwrap();
    assert_eq!(
        (r.0.timeout_ms, r.0.session_id, r.0.passwd.as_slice()),
        (0, 0, &[0u8; 16][..])
    );
    assert!(r.1, "connection closed after refusing the expired session");
}
