"""Sessions: handshake, timeout negotiation, reconnect and resume,
expiry, wrong password, ping, close, oversized frames."""

import re
import socket
import threading

import pytest
from kazoo.protocol.states import EventType, KazooState

import zkraw
from conftest import WAIT, Events, four_letter, host_port, wait_until


def conf_value(key):
    m = re.search(r"^%s=(\d+)$" % re.escape(key), four_letter("conf"), re.M)
    assert m, "conf has no %s" % key
    return int(m.group(1))


zkraw_NONODE = -101


def raw(**kwargs):
    host, port = host_port()
    return zkraw.RawSession(host, port, **kwargs)


def test_handshake_fields():
    s = raw(timeout_ms=4000)
    try:
        assert s.protocol_version == 0
        assert s.session_id != 0
        assert len(s.passwd) == 16
        assert s.timeout_ms > 0
        assert s.read_only is False
    finally:
        s.close_session()


def test_session_timeout_is_negotiated_into_bounds():
    lo, hi = conf_value("minSessionTimeout"), conf_value("maxSessionTimeout")
    assert 0 < lo <= hi
    small = raw(timeout_ms=1)
    big = raw(timeout_ms=10_000_000)
    mid_value = (lo + hi) // 2
    mid = raw(timeout_ms=mid_value)
    try:
        assert small.timeout_ms == lo
        assert big.timeout_ms == hi
        assert mid.timeout_ms == mid_value
    finally:
        for s in (small, big, mid):
            s.close_session()


def test_ping_and_close_session(zk, root):
    s = raw()
    err, path = s.create(root + "/e", b"", flags=zkraw.MODE_EPHEMERAL)
    assert (err, path) == (0, root + "/e")
    xid, zxid, err, body = s.ping()
    assert (xid, err) == (-2, 0)
    xid, zxid, err, body = s.close_session()
    assert err == 0
    assert zk.exists(root + "/e") is None


def test_kazoo_reconnect_resumes_session(make_client, root):
    zk, other = make_client(), make_client()
    states = []
    zk.add_listener(lambda st: states.append(st))
    session_before = zk.client_id
    zk.create(root + "/eph", ephemeral=True)

    # Cut the TCP connection under kazoo; it reconnects with id + password.
    zk._connection._socket.shutdown(socket.SHUT_RDWR)
    assert wait_until(lambda: KazooState.SUSPENDED in states)
    assert wait_until(lambda: zk.state == KazooState.CONNECTED and
                      states[-1] == KazooState.CONNECTED)
    assert KazooState.LOST not in states
    assert zk.client_id == session_before
    assert other.exists(root + "/eph").ephemeralOwner == session_before[0]

    # the resumed session works, new watches included
    events = Events()
    zk.exists(root + "/later", watch=events)
    other.create(root + "/later")
    assert [e.type for e in events.wait(1)] == [EventType.CREATED]


def test_set_watches_after_reconnect(make_client, root):
    """Watches survive a reconnect via SetWatches; a change missed while
    disconnected fires at once (relative zxid), later ones as usual."""
    other = make_client()
    a, b, c = root + "/a", root + "/b", root + "/c"
    other.create(a, b"0")
    other.create(c)
    first = raw(timeout_ms=conf_value("maxSessionTimeout"))
    err, _, _, _ = first.get_data(a, watch=True)
    assert err == 0
    err, stat, _ = first.exists(b, watch=True)
    assert err == zkraw_NONODE and stat is None
    err, kids, last_zxid = first.get_children(c, watch=True)
    assert err == 0 and kids == []
    sid, pw = first.session_id, first.passwd
    first.close()  # socket only; the session lives on

    other.set(a, b"changed while away")
    second = raw(session_id=sid, passwd=pw, last_zxid=last_zxid,
                 timeout_ms=conf_value("maxSessionTimeout"))
    try:
        assert second.session_id == sid and second.timeout_ms > 0
        xid, _, err, _ = second.set_watches(last_zxid, data=[a], exist=[b],
                                            child=[c])
        assert (xid, err) == (-8, 0)
        # 3 = NodeDataChanged, 1 = NodeCreated, 4 = NodeChildrenChanged
        assert (3, 3, a) in second.read_events(1, WAIT)
        other.create(b)
        other.create(c + "/kid")
        events = second.read_events(3, WAIT)
        assert (1, 3, b) in events
        assert (4, 3, c) in events
    finally:
        second.close_session()


def test_resume_on_second_connection_takes_over(root, zk):
    first = raw(timeout_ms=4000)
    try:
        err, _ = first.create(root + "/e", b"", flags=zkraw.MODE_EPHEMERAL)
        assert err == 0
        second = raw(timeout_ms=4000, session_id=first.session_id,
                     passwd=first.passwd)
        assert second.session_id == first.session_id
        assert second.timeout_ms > 0
        # the old connection is closed by the server
        with pytest.raises((ConnectionError, OSError)):
            first.ping()
        assert zk.exists(root + "/e").ephemeralOwner == first.session_id
        second.close_session()
        assert zk.exists(root + "/e") is None
    finally:
        first.close()


def test_wrong_password_is_refused(root):
    good = raw()
    try:
        bad_pw = bytes(b ^ 0xFF for b in good.passwd)
        bad = raw(session_id=good.session_id, passwd=bad_pw)
        # ZooKeeper answers a zero timeout (session invalid) and hangs up
        assert bad.timeout_ms == 0
        with pytest.raises((ConnectionError, OSError)):
            bad.ping()
        bad.close()
    finally:
        good.close()
    # ZooKeeper 3.8 also drops the session's current connection when
    # another one claims the session id, before it checks the password;
    # the session itself survives and the right password still resumes it.
    again = raw(session_id=good.session_id, passwd=good.passwd)
    try:
        assert again.session_id == good.session_id
        assert again.timeout_ms > 0
        xid, _, err, _ = again.ping()
        assert err == 0
    finally:
        again.close_session()


def test_session_expiry_removes_ephemerals_and_refuses_resume(zk, root):
    lo = conf_value("minSessionTimeout")
    s = raw(timeout_ms=lo)
    path = root + "/expiring"
    err, _ = s.create(path, b"", flags=zkraw.MODE_EPHEMERAL)
    assert err == 0
    sid, pw = s.session_id, s.passwd
    events = Events()
    assert zk.exists(path, watch=events) is not None
    s.close()  # drop the connection without closing the session
    got = events.wait(1, timeout=WAIT + lo / 1000.0 * 3)
    assert [(e.type, e.path) for e in got] == [(EventType.DELETED, path)]
    again = raw(session_id=sid, passwd=pw)
    try:
        assert again.timeout_ms == 0
        with pytest.raises((ConnectionError, OSError)):
            again.ping()
    finally:
        again.close()


def test_oversized_request_closes_connection(zk, root):
    """A frame above jute.maxbuffer (default 0xfffff) is refused by closing."""
    s = raw()
    try:
        too_big = 0xFFFFF + 1024
        payload = zkraw.w_int(too_big) + b"\0" * 4096
        try:
            s.sock.sendall(payload)
        except OSError:
            pass
        closed = False
        try:
            while True:
                data = s.sock.recv(65536)
                if not data:
                    closed = True
                    break
        except (ConnectionError, OSError):
            closed = True
        assert closed
    finally:
        s.close()
    # the server is fine afterwards
    assert zk.exists(root) is not None


def test_kazoo_rejects_oversized_value_without_harming_server(zk, root):
    from kazoo.exceptions import ConnectionLoss, ZookeeperError

    huge = b"x" * (0xFFFFF + 1)
    with pytest.raises((ConnectionLoss, ZookeeperError)):
        zk.create(root + "/huge", huge)
    assert wait_until(lambda: zk.state == KazooState.CONNECTED)
    assert zk.retry(zk.exists, root + "/huge") is None


def test_concurrent_sessions_are_independent(make_client, root):
    clients = [make_client() for _ in range(4)]
    errors = []

    def worker(i, c):
        try:
            for j in range(20):
                c.create("%s/w%d-%d" % (root, i, j), b"%d" % j)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, c))
               for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not errors
    assert len(clients[0].get_children(root)) == 80
