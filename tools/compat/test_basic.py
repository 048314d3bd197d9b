"""Core znode operations, Stat semantics, sequential/ephemeral nodes,
one-shot watches and error mapping, through kazoo."""

import re
import threading
import time

import pytest
from kazoo.exceptions import (
    BadVersionError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
)
from kazoo.protocol.states import EventType

import zkraw
from conftest import WAIT, Events, host_port, wait_until

SEQ_RE = re.compile(r"^(.*?)(\d{10})$")


def flush_callbacks(zk, root):
    """Return once every watch callback delivered to zk so far has run.

    kazoo runs callbacks on one thread in arrival order, and the server
    delivers a session's notifications in order: set a watch on a marker
    node, trigger it, and wait for it.
    """
    marker = root + "/__marker"
    seen = threading.Event()
    if zk.exists(marker):
        zk.delete(marker)
    zk.exists(marker, watch=lambda e: seen.set())
    zk.create(marker)
    assert seen.wait(WAIT), "marker watch did not fire"
    zk.delete(marker)


# ------------------------------------------------------------------ CRUD


def test_create_get_set_delete_roundtrip(zk, root):
    path = root + "/node"
    assert zk.create(path, b"hello") == path
    data, stat = zk.get(path)
    assert data == b"hello"
    assert stat.version == 0
    stat2 = zk.set(path, b"world")
    assert stat2.version == 1
    assert zk.get(path)[0] == b"world"
    zk.delete(path)
    assert zk.exists(path) is None
    with pytest.raises(NoNodeError):
        zk.get(path)


def test_stat_fields_after_create(zk, root):
    path = root + "/s"
    before_ms = int(time.time() * 1000)
    created, stat = zk.create(path, b"12345", include_data=True)
    assert created == path
    assert stat == zk.exists(path)
    assert stat.czxid > 0
    assert stat.mzxid == stat.czxid
    assert stat.pzxid == stat.czxid
    assert stat.version == 0
    assert stat.cversion == 0
    assert stat.aversion == 0
    assert stat.ephemeralOwner == 0
    assert stat.dataLength == 5
    assert stat.numChildren == 0
    assert stat.ctime == stat.mtime
    # ctime is wall-clock milliseconds since the epoch (loose sanity bound)
    assert abs(stat.ctime - before_ms) < 24 * 3600 * 1000


def test_stat_after_set_data(zk, root):
    path = root + "/s"
    _, created = zk.create(path, b"a", include_data=True)
    set_stat = zk.set(path, b"abcdef")
    assert set_stat == zk.exists(path)
    assert set_stat.czxid == created.czxid
    assert set_stat.mzxid > created.mzxid
    assert set_stat.pzxid == created.pzxid
    assert set_stat.version == 1
    assert set_stat.dataLength == 6
    assert set_stat.ctime == created.ctime
    assert set_stat.mtime >= created.mtime
    assert zk.set(path, b"").version == 2
    assert zk.exists(path).dataLength == 0


def test_parent_stat_tracks_children(zk, root):
    parent = root + "/p"
    _, pstat = zk.create(parent, b"pp", include_data=True)
    _, cstat = zk.create(parent + "/c", include_data=True)
    after_create = zk.exists(parent)
    assert after_create.numChildren == 1
    assert after_create.cversion == 1
    assert after_create.pzxid == cstat.czxid
    # a child change is not a data change of the parent
    assert after_create.version == 0
    assert after_create.mzxid == pstat.mzxid
    zk.delete(parent + "/c")
    after_delete = zk.exists(parent)
    assert after_delete.numChildren == 0
    assert after_delete.cversion == 2
    assert after_delete.pzxid > cstat.czxid
    assert after_delete.mzxid == pstat.mzxid


def test_zxids_strictly_increase(zk, root):
    zxids = [zk.create(root + "/n%d" % i, include_data=True)[1].czxid for i in range(5)]
    assert zxids == sorted(zxids)
    assert len(set(zxids)) == 5


def test_binary_empty_and_large_data(zk, root):
    blob = bytes(range(256)) * 4
    zk.create(root + "/bin", blob)
    assert zk.get(root + "/bin")[0] == blob
    zk.create(root + "/empty")
    data, stat = zk.get(root + "/empty")
    assert data == b""
    assert stat.dataLength == 0
    big = b"z" * (512 * 1024)
    zk.create(root + "/big", big)
    data, stat = zk.get(root + "/big")
    assert data == big
    assert stat.dataLength == len(big)


def test_unicode_path_and_data(zk, root):
    path = root + "/grüße-日本"
    zk.create(path, "ünïcødé".encode("utf-8"))
    assert zk.get_children(root) == ["grüße-日本"]
    assert zk.get(path)[0].decode("utf-8") == "ünïcødé"


def test_makepath_creates_parents(zk, root):
    zk.create(root + "/a/b/c", b"leaf", makepath=True)
    assert zk.get_children(root) == ["a"]
    assert zk.get_children(root + "/a") == ["b"]
    assert zk.get(root + "/a/b/c")[0] == b"leaf"
    zk.ensure_path(root + "/a/b/c")  # existing path is fine


def test_get_children_and_include_data(zk, root):
    names = {"x", "y", "z"}
    for n in names:
        zk.create(root + "/" + n)
    assert set(zk.get_children(root)) == names
    children, stat = zk.get_children(root, include_data=True)
    assert set(children) == names
    assert stat == zk.exists(root)
    assert stat.numChildren == 3
    assert zk.get_children(root + "/x") == []


def test_sync(zk, root):
    zk.create(root + "/s", b"v")
    assert zk.sync(root + "/s") == root + "/s"
    assert zk.get(root + "/s")[0] == b"v"


def test_pipelined_requests_answered_in_order(zk, root):
    """FIFO per session: many async writes then a read see each other."""
    path = root + "/fifo"
    zk.create(path, b"0")
    results = [zk.set_async(path, str(i).encode()) for i in range(1, 41)]
    final = zk.get_async(path)
    versions = [r.get(timeout=WAIT).version for r in results]
    assert versions == list(range(1, 41))
    data, stat = final.get(timeout=WAIT)
    assert data == b"40"
    assert stat.version == 40


# ------------------------------------------------------------ sequential


def test_sequential_suffix_is_ten_digits(zk, root):
    paths = [zk.create(root + "/job-", b"", sequence=True) for _ in range(3)]
    numbers = []
    for p in paths:
        m = SEQ_RE.match(p)
        assert m, p
        assert m.group(1) == root + "/job-"
        numbers.append(int(m.group(2)))
    assert numbers == [0, 1, 2]


def test_sequence_counts_child_creates(zk, root):
    """The suffix counts creates under the parent, deletes do not bump it;
    the Stat cversion counts both creates and deletes."""
    a = zk.create(root + "/a-", sequence=True)
    assert a.endswith("0000000000")
    zk.delete(a)
    b = zk.create(root + "/b-", sequence=True)
    assert b.endswith("0000000001")
    zk.create(root + "/plain")
    c = zk.create(root + "/c-", sequence=True)
    assert c.endswith("0000000003")
    # 4 creates + 1 delete
    assert zk.exists(root).cversion == 5


def test_sequential_with_empty_prefix(zk, root):
    path = zk.create(root + "/", b"", sequence=True)
    assert path == root + "/0000000000"
    assert zk.get_children(root) == ["0000000000"]


# ------------------------------------------------------------- ephemeral


def test_ephemeral_owner_and_removal_on_close(make_client, root):
    watcher = make_client()
    owner = make_client()
    path = root + "/eph"
    owner.create(path, b"e", ephemeral=True)
    stat = watcher.exists(path)
    assert stat.ephemeralOwner == owner.client_id[0]
    assert stat.ephemeralOwner != 0

    node_events, child_events = Events(), Events()
    assert watcher.exists(path, watch=node_events) is not None
    watcher.get_children(root, watch=child_events)
    owner.stop()
    assert [e.type for e in node_events.wait(1)] == [EventType.DELETED]
    assert [e.path for e in node_events.snapshot()] == [path]
    assert [e.type for e in child_events.wait(1)] == [EventType.CHILD]
    assert watcher.exists(path) is None


def test_ephemeral_cannot_have_children(zk, root):
    zk.create(root + "/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(root + "/eph/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(root + "/eph/seq-", sequence=True, ephemeral=True)


def test_ephemeral_sequential(make_client, root):
    a, b = make_client(), make_client()
    pa = a.create(root + "/m-", ephemeral=True, sequence=True)
    pb = b.create(root + "/m-", ephemeral=True, sequence=True)
    assert SEQ_RE.match(pa) and SEQ_RE.match(pb)
    assert int(pb[-10:]) == int(pa[-10:]) + 1
    assert a.exists(pa).ephemeralOwner == a.client_id[0]
    assert a.exists(pb).ephemeralOwner == b.client_id[0]
    a.stop()
    assert wait_until(lambda: b.get_children(root) == [pb.rsplit("/", 1)[1]])


def test_distinct_sessions_have_distinct_ids(make_client):
    a, b = make_client(), make_client()
    assert a.client_id[0] != b.client_id[0]
    assert len(a.client_id[1]) == 16


# ---------------------------------------------------------------- watches


def test_data_watch_fires_once(make_client, root):
    zk, other = make_client(), make_client()
    path = root + "/w"
    zk.create(path, b"0")
    events = Events()
    zk.get(path, watch=events)
    other.set(path, b"1")
    got = events.wait(1)
    assert [(e.type, e.path) for e in got] == [(EventType.CHANGED, path)]
    other.set(path, b"2")
    other.delete(path)
    flush_callbacks(zk, root)
    assert len(events.snapshot()) == 1


def test_child_watch_fires_once(make_client, root):
    zk, other = make_client(), make_client()
    events = Events()
    zk.get_children(root, watch=events)
    other.create(root + "/c1")
    got = events.wait(1)
    assert [(e.type, e.path) for e in got] == [(EventType.CHILD, root)]
    other.create(root + "/c2")
    other.delete(root + "/c1")
    flush_callbacks(zk, root)
    # the marker itself changes root's children but no child watch is left
    assert len(events.snapshot()) == 1


def test_child_watch_not_fired_by_data_change(make_client, root):
    zk, other = make_client(), make_client()
    events = Events()
    zk.create(root + "/c", b"")
    zk.get_children(root + "/c", watch=events)
    other.set(root + "/c", b"changed")
    flush_callbacks(zk, root)
    assert events.snapshot() == []


def test_exists_watch_on_missing_node(make_client, root):
    zk, other = make_client(), make_client()
    path = root + "/later"
    events = Events()
    assert zk.exists(path, watch=events) is None
    other.create(path, b"x")
    got = events.wait(1)
    assert [(e.type, e.path) for e in got] == [(EventType.CREATED, path)]


def test_exists_and_get_watch_fire_on_delete(make_client, root):
    zk, other = make_client(), make_client()
    path = root + "/gone"
    zk.create(path)
    ev_exists, ev_get, ev_children = Events(), Events(), Events()
    zk.exists(path, watch=ev_exists)
    zk.get(path, watch=ev_get)
    zk.get_children(path, watch=ev_children)
    other.delete(path)
    for ev in (ev_exists, ev_get, ev_children):
        got = ev.wait(1)
        assert [(e.type, e.path) for e in got] == [(EventType.DELETED, path)]


def test_watch_event_precedes_data_on_the_wire(make_client, root):
    """A client sees the watch event before any data reflecting the change."""
    other = make_client()
    path = root + "/order"
    other.create(path, b"old")
    host, port = host_port()
    raw = zkraw.RawSession(host, port)
    try:
        get_with_watch = zkraw.w_string(path) + zkraw.w_bool(True)
        _, _, err, _ = raw.request(zkraw.OP_GET_DATA, get_with_watch)
        assert err == 0
        other.set(path, b"new")
        get_plain = zkraw.w_string(path) + zkraw.w_bool(False)
        deadline = time.monotonic() + WAIT
        data = b"old"
        while data != b"new" and time.monotonic() < deadline:
            _, _, err, body = raw.request(zkraw.OP_GET_DATA, get_plain)
            assert err == 0
            data = zkraw.r_buffer(body, 0)[0]
        assert data == b"new"
        # type 3 = NodeDataChanged, state 3 = SyncConnected
        assert (3, 3, path) in raw.events
    finally:
        raw.close_session()


# ---------------------------------------------------------------- errors


def test_error_no_node(zk, root):
    with pytest.raises(NoNodeError):
        zk.get(root + "/missing")
    with pytest.raises(NoNodeError):
        zk.set(root + "/missing", b"")
    with pytest.raises(NoNodeError):
        zk.delete(root + "/missing")
    with pytest.raises(NoNodeError):
        zk.get_children(root + "/missing")
    with pytest.raises(NoNodeError):
        zk.create(root + "/missing/child")
    assert zk.exists(root + "/missing") is None


def test_error_node_exists(zk, root):
    zk.create(root + "/dup")
    with pytest.raises(NodeExistsError):
        zk.create(root + "/dup")
    with pytest.raises(NodeExistsError):
        zk.create(root)


def test_error_bad_version(zk, root):
    path = root + "/v"
    zk.create(path, b"a")
    with pytest.raises(BadVersionError):
        zk.set(path, b"b", version=5)
    assert zk.set(path, b"b", version=0).version == 1
    with pytest.raises(BadVersionError):
        zk.delete(path, version=0)
    zk.delete(path, version=1)
    assert zk.exists(path) is None


def test_error_not_empty(zk, root):
    zk.create(root + "/p/c", makepath=True)
    with pytest.raises(NotEmptyError):
        zk.delete(root + "/p")
    zk.delete(root + "/p", recursive=True)
    assert zk.exists(root + "/p") is None
