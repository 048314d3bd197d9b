"""kazoo's recipes, each driven by several sessions against the server."""

import datetime
import threading

import pytest
from kazoo.exceptions import NoNodeError

from conftest import WAIT, Events, wait_until


def run_thread(target, *args):
    """Run target in a daemon thread; its exception lands in t.error."""

    def body():
        try:
            target(*args)
        except Exception as exc:  # inspected by tests that care
            t.error = exc

    t = threading.Thread(target=body, daemon=True)
    t.error = None
    t.start()
    return t


def children_or_empty(zk, path):
    try:
        return zk.get_children(path)
    except NoNodeError:
        return []


def join_all(threads, timeout=WAIT):
    for t in threads:
        t.join(timeout)
    return not any(t.is_alive() for t in threads)


# ------------------------------------------------------------------ locks


def test_lock_exclusive_and_handover(make_client, root):
    a, b = make_client(), make_client()
    path = root + "/lock"
    la, lb = a.Lock(path, "a"), b.Lock(path, "b")
    assert la.acquire(timeout=WAIT)
    assert lb.acquire(blocking=False) is False
    assert la.contenders() == ["a"]

    got = threading.Event()

    def waiter():
        if lb.acquire(timeout=WAIT):
            got.set()

    t = run_thread(waiter)
    assert wait_until(lambda: la.contenders() == ["a", "b"])
    assert not got.is_set()
    la.release()
    assert got.wait(WAIT)
    assert join_all([t])
    assert lb.contenders() == ["b"]
    lb.release()
    assert a.get_children(path) == []


def test_lock_released_when_holder_session_closes(make_client, root):
    a, b = make_client(), make_client()
    path = root + "/lock"
    assert a.Lock(path, "a").acquire(timeout=WAIT)
    lb = b.Lock(path, "b")
    assert lb.acquire(blocking=False) is False
    a.stop()
    assert lb.acquire(timeout=WAIT)
    lb.release()


def test_lock_context_manager_serialises_workers(make_client, root):
    path = root + "/lock"
    clients = [make_client() for _ in range(3)]
    state = {"inside": 0, "max": 0, "done": 0}
    guard = threading.Lock()

    def worker(c, n):
        lock = c.Lock(path, "w%d" % n)
        for _ in range(3):
            with lock:
                with guard:
                    state["inside"] += 1
                    state["max"] = max(state["max"], state["inside"])
                c.get(root)  # a round trip while holding the lock
                with guard:
                    state["inside"] -= 1
                    state["done"] += 1

    threads = [run_thread(worker, c, i) for i, c in enumerate(clients)]
    assert join_all(threads, WAIT * 2)
    assert state == {"inside": 0, "max": 1, "done": 9}


def test_read_write_lock(make_client, root):
    path = root + "/rw"
    r1, r2, w = make_client(), make_client(), make_client()
    read1, read2 = r1.ReadLock(path, "r1"), r2.ReadLock(path, "r2")
    write = w.WriteLock(path, "w")
    assert read1.acquire(timeout=WAIT)
    assert read2.acquire(timeout=WAIT)  # readers share
    assert write.acquire(blocking=False) is False
    read1.release()
    assert write.acquire(blocking=False) is False
    read2.release()
    assert write.acquire(timeout=WAIT)
    # a writer excludes readers
    assert read1.acquire(blocking=False) is False
    write.release()
    assert read1.acquire(timeout=WAIT)
    read1.release()


def test_semaphore(make_client, root):
    path = root + "/sem"
    clients = [make_client() for _ in range(3)]
    sems = [c.Semaphore(path, "s%d" % i, max_leases=2)
            for i, c in enumerate(clients)]
    assert sems[0].acquire(timeout=WAIT)
    assert sems[1].acquire(timeout=WAIT)
    assert sems[2].acquire(blocking=False) is False
    assert sorted(sems[0].lease_holders()) == ["s0", "s1"]
    sems[0].release()
    assert sems[2].acquire(timeout=WAIT)
    assert sorted(sems[2].lease_holders()) == ["s1", "s2"]
    clients[1].stop()  # a holder's session ends: its lease is freed
    assert wait_until(lambda: sems[2].lease_holders() == ["s2"])
    sems[2].release()


# --------------------------------------------------------------- election


def test_election_and_failover(make_client, root):
    path = root + "/election"
    a, b = make_client(), make_client()
    leaders = Events()
    stop_a = threading.Event()
    stop_b = threading.Event()

    def lead(name, stop):
        leaders(name)
        stop.wait(WAIT * 2)

    ea, eb = a.Election(path, "a"), b.Election(path, "b")
    ta = run_thread(ea.run, lead, "a", stop_a)
    assert leaders.wait(1) == ["a"]
    tb = run_thread(eb.run, lead, "b", stop_b)
    assert wait_until(lambda: ea.contenders() == ["a", "b"])
    assert leaders.snapshot() == ["a"]
    # the leader's session dies: b takes over
    a.stop()
    assert leaders.wait(2) == ["a", "b"]
    stop_a.set()
    stop_b.set()
    assert join_all([ta, tb])
    assert tb.error is None  # ta's release fails: its session is gone


def test_election_cancel(make_client, root):
    path = root + "/election"
    a, b = make_client(), make_client()
    hold = threading.Event()
    leaders = Events()

    def lead(name):
        leaders(name)
        hold.wait(WAIT)

    ea, eb = a.Election(path, "a"), b.Election(path, "b")
    ta = run_thread(ea.run, lead, "a")
    assert leaders.wait(1) == ["a"]
    tb = run_thread(eb.run, lead, "b")
    assert wait_until(lambda: len(ea.contenders()) == 2)
    eb.cancel()
    assert join_all([tb])
    assert ea.contenders() == ["a"]
    hold.set()
    assert join_all([ta])
    assert leaders.snapshot() == ["a"]


# --------------------------------------------------------------- barriers


def test_barrier(make_client, root):
    path = root + "/barrier"
    a, b = make_client(), make_client()
    barrier = a.Barrier(path)
    barrier.create()
    assert b.Barrier(path).wait(timeout=0.2) is False
    passed = threading.Event()

    def waiter():
        if b.Barrier(path).wait(timeout=WAIT):
            passed.set()

    t = run_thread(waiter)
    barrier.remove()
    assert passed.wait(WAIT)
    assert join_all([t])
    assert b.Barrier(path).wait(timeout=1) is True


def test_double_barrier(make_client, root):
    path = root + "/double"
    n = 3
    clients = [make_client() for _ in range(n)]
    entered, left = Events(), Events()

    def participant(c, i):
        barrier = c.DoubleBarrier(path, n, identifier="p%d" % i)
        barrier.enter()
        entered(i)
        barrier.leave()
        left(i)

    threads = [run_thread(participant, clients[0], 0),
               run_thread(participant, clients[1], 1)]
    # two of three: nobody gets through
    assert wait_until(lambda: len(children_or_empty(clients[0], path)) >= 2)
    assert entered.snapshot() == []
    threads.append(run_thread(participant, clients[2], 2))
    assert sorted(entered.wait(n)) == [0, 1, 2]
    assert sorted(left.wait(n)) == [0, 1, 2]
    assert join_all(threads)
    assert [t.error for t in threads] == [None] * n


# ----------------------------------------------------------------- queues


def test_queue_priority_and_fifo(make_client, root):
    path = root + "/queue"
    producer, consumer = make_client(), make_client()
    q = producer.Queue(path)
    q.put(b"low-1", priority=200)
    q.put(b"high", priority=10)
    q.put(b"mid-1")
    q.put(b"mid-2")
    q.put(b"low-2", priority=200)
    assert len(q) == 5
    c = consumer.Queue(path)
    got = [c.get() for _ in range(5)]
    assert got == [b"high", b"mid-1", b"mid-2", b"low-1", b"low-2"]
    assert c.get() is None
    assert len(q) == 0


def test_queue_concurrent_consumers_get_each_item_once(make_client, root):
    path = root + "/queue"
    producer = make_client()
    q = producer.Queue(path)
    items = [("item-%02d" % i).encode() for i in range(30)]
    for item in items:
        q.put(item)
    results = []
    guard = threading.Lock()

    def consume(c):
        qc = c.Queue(path)
        while True:
            item = qc.get()
            if item is None:
                return
            with guard:
                results.append(item)

    threads = [run_thread(consume, make_client()) for _ in range(3)]
    assert join_all(threads, WAIT * 2)
    assert sorted(results) == items


def test_locking_queue(make_client, root):
    path = root + "/lq"
    a, b = make_client(), make_client()
    qa, qb = a.LockingQueue(path), b.LockingQueue(path)
    qa.put_all([b"one", b"two"])
    qa.put(b"urgent", priority=1)
    assert len(qa) == 3
    assert qa.get(timeout=WAIT) == b"urgent"
    assert qa.holds_lock()
    # b cannot take the item a holds; it gets the next one
    assert qb.get(timeout=WAIT) == b"one"
    # a gives its item back; b consumes its own
    assert qa.release()
    assert qb.consume()
    assert len(qa) == 2
    assert qa.get(timeout=WAIT) == b"urgent"
    assert qa.consume()
    assert qb.get(timeout=WAIT) == b"two"
    assert qb.consume()
    assert len(qa) == 0
    assert qa.get(timeout=0.2) is None


def test_locking_queue_item_returns_when_holder_dies(make_client, root):
    path = root + "/lq"
    a, b = make_client(), make_client()
    a.LockingQueue(path).put(b"job")
    assert a.LockingQueue(path).get(timeout=WAIT) == b"job"
    qb = b.LockingQueue(path)
    a.stop()  # lock node was ephemeral
    assert qb.get(timeout=WAIT) == b"job"
    assert qb.consume()


# --------------------------------------------------------------- counters


def test_counter(make_client, root):
    zk = make_client()
    counter = zk.Counter(root + "/count")
    assert counter.value == 0
    counter += 5
    counter -= 2
    assert counter.value == 3
    assert counter.pre_value == 5 and counter.post_value == 3
    fcounter = zk.Counter(root + "/fcount", default=0.5)
    fcounter += 2.25
    assert fcounter.value == 2.75


def test_counter_concurrent_increments(make_client, root):
    path = root + "/count"

    def bump(c):
        counter = c.Counter(path)
        for _ in range(15):
            counter += 1

    threads = [run_thread(bump, make_client()) for _ in range(3)]
    assert join_all(threads, WAIT * 2)
    assert make_client().Counter(path).value == 45


# ---------------------------------------------------------------- parties


@pytest.mark.parametrize("kind", ["Party", "ShallowParty"])
def test_party(make_client, root, kind):
    path = root + "/party"
    a, b = make_client(), make_client()
    pa = getattr(a, kind)(path, "alice")
    pb = getattr(b, kind)(path, "bob")
    assert len(pa) == 0
    pa.join()
    pb.join()
    assert sorted(pa) == ["alice", "bob"]
    assert len(pb) == 2
    pa.leave()
    assert list(pb) == ["bob"]
    b.stop()  # members are ephemeral
    assert wait_until(lambda: len(pa) == 0)


# ----------------------------------------------------------------- leases


class FakeClock(object):
    def __init__(self):
        self.now = datetime.datetime(2030, 1, 1, 12, 0, 0)

    def __call__(self):
        return self.now


def test_non_blocking_lease(make_client, root):
    path = root + "/lease"
    a, b = make_client(), make_client()
    clock = FakeClock()
    hour = datetime.timedelta(hours=1)
    assert a.NonBlockingLease(path, hour, identifier="a", utcnow=clock)
    assert not b.NonBlockingLease(path, hour, identifier="b", utcnow=clock)
    # the holder renews
    assert a.NonBlockingLease(path, hour, identifier="a", utcnow=clock)
    clock.now += datetime.timedelta(minutes=61)
    assert b.NonBlockingLease(path, hour, identifier="b", utcnow=clock)
    assert not a.NonBlockingLease(path, hour, identifier="a", utcnow=clock)


def test_multi_non_blocking_lease(make_client, root):
    path = root + "/leases"
    clients = [make_client() for _ in range(3)]
    clock = FakeClock()
    hour = datetime.timedelta(hours=1)
    got = [bool(c.MultiNonBlockingLease(2, path, hour, identifier="c%d" % i,
                                        utcnow=clock))
           for i, c in enumerate(clients)]
    assert got == [True, True, False]
    clock.now += datetime.timedelta(hours=2)
    assert clients[2].MultiNonBlockingLease(2, path, hour, identifier="c2",
                                            utcnow=clock)


# ------------------------------------------------------ watchers / caches


def test_data_watch_recipe(make_client, root):
    zk, other = make_client(), make_client()
    path = root + "/dw"
    seen = Events()

    @zk.DataWatch(path)
    def watch(data, stat):
        seen((data, stat.version if stat else None))

    assert wait_until(lambda: seen.snapshot() == [(None, None)])
    other.create(path, b"v0")
    assert wait_until(lambda: seen.snapshot()[-1:] == [(b"v0", 0)])
    other.set(path, b"v1")
    assert wait_until(lambda: seen.snapshot()[-1:] == [(b"v1", 1)])
    other.delete(path)
    assert wait_until(lambda: seen.snapshot()[-1:] == [(None, None)])
    assert seen.snapshot() == [(None, None), (b"v0", 0), (b"v1", 1), (None, None)]


def test_children_watch_recipe(make_client, root):
    zk, other = make_client(), make_client()
    seen = Events()
    zk.ChildrenWatch(root)(lambda children: seen(sorted(children)))
    other.create(root + "/a")
    other.create(root + "/b")
    assert wait_until(lambda: seen.snapshot()[-1:] == [["a", "b"]])
    other.delete(root + "/a")
    assert wait_until(lambda: seen.snapshot()[-1:] == [["b"]])


def test_tree_cache(make_client, root):
    from kazoo.recipe.cache import TreeCache

    zk, other = make_client(), make_client()
    other.create(root + "/x/y", b"deep", makepath=True)
    cache = TreeCache(zk, root)
    initialized = threading.Event()

    def listener(event):
        if event.event_type == event.INITIALIZED:
            initialized.set()

    cache.listen(listener)
    cache.start()
    try:
        assert initialized.wait(WAIT)
        assert cache.get_data(root + "/x/y").data == b"deep"
        other.create(root + "/x/z", b"new")
        other.set(root + "/x/y", b"changed")
        assert wait_until(lambda: cache.get_children(root + "/x") == {"y", "z"})
        assert wait_until(lambda: cache.get_data(root + "/x/y").data == b"changed")
        other.delete(root + "/x/z")
        assert wait_until(lambda: cache.get_children(root + "/x") == {"y"})
    finally:
        cache.close()
