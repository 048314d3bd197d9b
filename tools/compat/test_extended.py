"""Opcodes newer than kazoo's API, sent as raw requests through kazoo:
container and TTL nodes, getEphemerals, getAllChildrenNumber, whoAmI,
persistent (recursive) watches, removeWatches.

Container and TTL reaping waits up to ZK_REAPER_WAIT seconds (default 30):
the server must run its reaper often (ZooKeeper:
-Dznode.container.checkIntervalMs=500, as tools/compat.sh configures).
"""

import os
import re

import pytest
from kazoo.exceptions import (
    BadArgumentsError,
    NodeExistsError,
    NoNodeError,
    NoWatcherError,
)
from kazoo.protocol.states import EventType

import zkraw
from conftest import Events, host_port, wait_until
from test_basic import flush_callbacks

REAPER_WAIT = float(os.environ.get("ZK_REAPER_WAIT", "30"))


# ------------------------------------------------------------- containers


def test_container_create_and_stat(zk, root):
    path, stat = zkraw.create_container(zk, root + "/box", b"c")
    assert path == root + "/box"
    assert stat == zk.exists(path)
    # clients see no owner for containers
    assert stat.ephemeralOwner == 0
    assert stat.dataLength == 1
    with pytest.raises(NodeExistsError):
        zkraw.create_container(zk, root + "/box")
    with pytest.raises(NoNodeError):
        zkraw.create_container(zk, root + "/missing/box")


def test_container_removed_after_last_child_goes(zk, root):
    box, _ = zkraw.create_container(zk, root + "/box")
    zk.create(box + "/a")
    zk.create(box + "/b", ephemeral=True)
    zk.delete(box + "/a")
    # still has a child: stays
    assert zk.exists(box) is not None
    events = Events()
    zk.exists(box, watch=events)
    zk.delete(box + "/b")
    assert wait_until(lambda: zk.exists(box) is None, timeout=REAPER_WAIT)
    assert [(e.type, e.path) for e in events.wait(1)] == [(EventType.DELETED, box)]


def test_container_can_hold_containers(zk, root):
    outer, _ = zkraw.create_container(zk, root + "/outer")
    inner, _ = zkraw.create_container(zk, outer + "/inner")
    leaf = zk.create(inner + "/leaf")
    zk.delete(leaf)
    # inner goes first, then outer, which lost its last child
    assert wait_until(lambda: zk.exists(outer) is None, timeout=REAPER_WAIT * 2)


# -------------------------------------------------------------------- TTL


def test_ttl_node_expires(zk, root):
    path, stat = zkraw.create_ttl(zk, root + "/ttl", b"t", ttl_ms=200)
    assert path == root + "/ttl"
    assert stat.ephemeralOwner == 0
    assert zk.get(path)[0] == b"t"
    assert wait_until(lambda: zk.exists(path) is None, timeout=REAPER_WAIT)


def test_ttl_sequential_node(zk, root):
    path, _ = zkraw.create_ttl(zk, root + "/t-", b"", ttl_ms=60_000, sequential=True)
    assert re.match(re.escape(root) + r"/t-\d{10}$", path)


def test_ttl_out_of_range_rejected(zk, root):
    with pytest.raises(BadArgumentsError):
        zkraw.create_ttl(zk, root + "/zero", ttl_ms=0)
    with pytest.raises(BadArgumentsError):
        zkraw.create_ttl(zk, root + "/huge", ttl_ms=1 << 41)
    assert zk.get_children(root) == []


def test_ttl_node_with_children_is_kept_until_empty(zk, root):
    path, _ = zkraw.create_ttl(zk, root + "/ttlp", b"", ttl_ms=200)
    zk.create(path + "/kid")
    # the kid keeps it alive; once gone the TTL node is reaped
    assert zk.exists(path) is not None
    zk.delete(path + "/kid")
    assert wait_until(lambda: zk.exists(path) is None, timeout=REAPER_WAIT)


# --------------------------------------------------- newer read requests


def test_get_ephemerals(make_client, root):
    zk, other = make_client(), make_client()
    zk.create(root + "/sub/e2", ephemeral=True, makepath=True)
    zk.create(root + "/e1", ephemeral=True)
    other.create(root + "/theirs", ephemeral=True)
    mine = zkraw.call(zk, zkraw.GetEphemerals(root))
    assert sorted(mine) == [root + "/e1", root + "/sub/e2"]
    assert sorted(zkraw.call(zk, zkraw.GetEphemerals(root + "/sub"))) == [root + "/sub/e2"]
    everywhere = zkraw.call(zk, zkraw.GetEphemerals("/"))
    assert set(everywhere) >= {root + "/e1", root + "/sub/e2"}
    assert root + "/theirs" not in everywhere


def test_get_all_children_number(zk, root):
    zk.create(root + "/a/b/c", makepath=True)
    zk.create(root + "/d")
    assert zkraw.call(zk, zkraw.GetAllChildrenNumber(root)) == 4
    assert zkraw.call(zk, zkraw.GetAllChildrenNumber(root + "/a")) == 2
    assert zkraw.call(zk, zkraw.GetAllChildrenNumber(root + "/d")) == 0
    with pytest.raises(NoNodeError):
        zkraw.call(zk, zkraw.GetAllChildrenNumber(root + "/missing"))


def test_who_am_i(make_client):
    zk = make_client()
    assert zkraw.call(zk, zkraw.WhoAmI()) == [("ip", "127.0.0.1")]
    zk.add_auth("digest", "frank:pw")
    ids = zkraw.call(zk, zkraw.WhoAmI())
    assert ("digest", "frank") in ids
    assert ("ip", "127.0.0.1") in ids


# ---------------------------------------------------- persistent watches


def test_persistent_watch_fires_repeatedly(make_client, root):
    zk, other = make_client(), make_client()
    path = root + "/p"
    zk.create(path, b"0")
    events = Events()
    zkraw.add_persistent_watch(zk, path, events, recursive=False)
    other.set(path, b"1")
    other.set(path, b"2")
    other.create(path + "/kid")
    other.create(path + "/kid/grandkid")  # not a child of path: no event
    other.delete(path + "/kid/grandkid")
    other.delete(path + "/kid")
    other.delete(path)
    got = events.wait(5)
    assert [(e.type, e.path) for e in got] == [
        (EventType.CHANGED, path),
        (EventType.CHANGED, path),
        (EventType.CHILD, path),
        (EventType.CHILD, path),
        (EventType.DELETED, path),
    ]
    # still registered after the node is gone: re-creation fires too
    other.create(path)
    got = events.wait(6)
    assert (got[5].type, got[5].path) == (EventType.CREATED, path)


def test_persistent_recursive_watch(make_client, root):
    zk, other = make_client(), make_client()
    base = root + "/tree"
    zk.create(base)
    events = Events()
    zkraw.add_persistent_watch(zk, base, events, recursive=True)
    other.create(base + "/a")
    other.create(base + "/a/b", b"x")
    other.set(base + "/a/b", b"y")
    other.delete(base + "/a/b")
    other.set(base, b"top")
    got = events.wait(5)
    # recursive watches report node events only, never NodeChildrenChanged
    assert [(e.type, e.path) for e in got] == [
        (EventType.CREATED, base + "/a"),
        (EventType.CREATED, base + "/a/b"),
        (EventType.CHANGED, base + "/a/b"),
        (EventType.DELETED, base + "/a/b"),
        (EventType.CHANGED, base),
    ]
    flush_callbacks(zk, root)  # marker lives outside base: no event
    assert len(events.snapshot()) == 5


def test_add_watch_reply_body_is_error_response(root):
    """ZooKeeper answers addWatch with an ErrorResponse record (int err = 0).
    The Java client reads that int; an empty body breaks its connection."""
    host, port = host_port()
    s = zkraw.RawSession(host, port)
    try:
        body = zkraw.w_string(root) + zkraw.w_int(zkraw.ADD_WATCH_PERSISTENT_RECURSIVE)
        _, _, err, rest = s.request(zkraw.OP_ADD_WATCH, body)
        assert err == 0
        assert rest == b"\x00\x00\x00\x00"
    finally:
        s.close_session()


def test_remove_watches(make_client, root):
    zk, other = make_client(), make_client()
    path = root + "/rw"
    zk.create(path)
    events = Events()
    zk.get(path, watch=events)
    zkraw.call(zk, zkraw.RemoveWatches(path, zkraw.WATCHER_DATA))
    with pytest.raises(NoWatcherError):
        zkraw.call(zk, zkraw.RemoveWatches(path, zkraw.WATCHER_DATA))
    with pytest.raises(NoWatcherError):
        zkraw.call(zk, zkraw.RemoveWatches(path, zkraw.WATCHER_CHILDREN))
    other.set(path, b"changed")
    flush_callbacks(zk, root)
    # kazoo ignores the DataWatchRemoved notification; no change event came
    assert [e for e in events.snapshot() if e.type == EventType.CHANGED] == []
