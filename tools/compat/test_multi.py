"""Multi (kazoo transactions) and multiRead."""

import pytest
from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType

import zkraw
from conftest import Events


def test_transaction_commits_all_ops(zk, root):
    zk.create(root + "/old", b"o")
    zk.create(root + "/gone")
    t = zk.transaction()
    t.create(root + "/new", b"n")
    t.set_data(root + "/old", b"o2")
    t.check(root + "/old", 1)
    t.delete(root + "/gone")
    results = t.commit()
    assert results[0] == root + "/new"
    assert results[1].version == 1  # Stat of the set
    assert results[2] is True
    assert results[3] is True
    assert zk.get(root + "/new")[0] == b"n"
    assert zk.get(root + "/old")[0] == b"o2"
    assert zk.exists(root + "/gone") is None


def test_transaction_is_all_or_nothing(zk, root):
    zk.create(root + "/x", b"x")
    t = zk.transaction()
    t.create(root + "/a", b"a")
    t.set_data(root + "/x", b"changed")
    t.check(root + "/x", 7)  # wrong version
    t.create(root + "/b", b"b")
    results = t.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], RolledBackError)
    assert isinstance(results[2], BadVersionError)
    assert isinstance(results[3], RuntimeInconsistency)
    assert zk.exists(root + "/a") is None
    assert zk.exists(root + "/b") is None
    data, stat = zk.get(root + "/x")
    assert data == b"x"
    assert stat.version == 0


@pytest.mark.parametrize("failing_op,expected", [
    ("create_existing", NodeExistsError),
    ("delete_missing", NoNodeError),
    ("check_missing", NoNodeError),
])
def test_transaction_error_codes(zk, root, failing_op, expected):
    zk.create(root + "/exists")
    t = zk.transaction()
    t.create(root + "/first")
    if failing_op == "create_existing":
        t.create(root + "/exists")
    elif failing_op == "delete_missing":
        t.delete(root + "/missing")
    else:
        t.check(root + "/missing", 0)
    results = t.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], expected)
    assert zk.exists(root + "/first") is None


def test_transaction_ops_see_earlier_ops(zk, root):
    t = zk.transaction()
    t.create(root + "/p", b"")
    t.create(root + "/p/c", b"")
    t.set_data(root + "/p/c", b"v")
    t.check(root + "/p/c", 1)
    t.create(root + "/p/s-", b"", sequence=True)
    t.delete(root + "/p/c")
    results = t.commit()
    assert results[4] == root + "/p/s-0000000001"
    assert zk.get_children(root + "/p") == ["s-0000000001"]


def test_transaction_shares_one_zxid(zk, root):
    t = zk.transaction()
    for i in range(3):
        t.create(root + "/z%d" % i)
    t.commit()
    czxids = {zk.exists(root + "/z%d" % i).czxid for i in range(3)}
    assert len(czxids) == 1
    assert zk.exists(root).pzxid in czxids


def test_transaction_fires_watches(make_client, root):
    zk, other = make_client(), make_client()
    zk.create(root + "/w", b"")
    data_ev, child_ev = Events(), Events()
    zk.get(root + "/w", watch=data_ev)
    zk.get_children(root, watch=child_ev)
    t = other.transaction()
    t.set_data(root + "/w", b"1")
    t.create(root + "/new")
    t.commit()
    assert [e.type for e in data_ev.wait(1)] == [EventType.CHANGED]
    assert [e.type for e in child_ev.wait(1)] == [EventType.CHILD]


def test_transaction_with_ephemeral(make_client, root):
    a, b = make_client(), make_client()
    t = a.transaction()
    t.create(root + "/e", ephemeral=True)
    assert t.commit() == [root + "/e"]
    assert b.exists(root + "/e").ephemeralOwner == a.client_id[0]
    a.stop()
    assert b.exists(root + "/e") is None


def test_multi_read(zk, root):
    zk.create(root + "/d", b"data")
    zk.create(root + "/d/k1")
    zk.create(root + "/d/k2")
    results = zkraw.call(zk, zkraw.MultiRead([
        ("get", root + "/d"),
        ("children", root + "/d"),
        ("get", root + "/nope"),
        ("children", root + "/nope"),
    ]))
    assert len(results) == 4
    data, stat = results[0]
    assert data == b"data"
    assert stat == zk.exists(root + "/d")
    assert sorted(results[1]) == ["k1", "k2"]
    # unlike multi, multiRead reports each failure and keeps the others
    assert isinstance(results[2], NoNodeError)
    assert isinstance(results[3], NoNodeError)
