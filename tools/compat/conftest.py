"""Shared fixtures for the ZooKeeper compatibility suite.

The server under test is named by ZK_HOSTS (host:port, default
127.0.0.1:2181).  ZK_SUPER_PASSWORD, when set, is the password of the
digest super user ("super") the server was configured with; tests that
need it are skipped without it.  Every wait is bounded by ZK_WAIT seconds
(default 20).
"""

import os
import socket
import sys
import threading
import time
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

HOSTS = os.environ.get("ZK_HOSTS", "127.0.0.1:2181")
SUPER_PASSWORD = os.environ.get("ZK_SUPER_PASSWORD")
WAIT = float(os.environ.get("ZK_WAIT", "20"))


def host_port():
    first = HOSTS.split(",")[0]
    host, _, port = first.rpartition(":")
    return host, int(port)


def wait_until(predicate, timeout=WAIT, interval=0.05):
    """Poll predicate until it is truthy or timeout passes; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Events(object):
    """Collects watch events (or anything) from callbacks, thread-safe."""

    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def __call__(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait(self, count=1, timeout=WAIT):
        """Wait until at least count items arrived; return a copy of them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.items)

    def snapshot(self):
        with self.cond:
            return list(self.items)


def four_letter(word, timeout=10.0):
    """Send a four-letter word over a fresh socket and read until EOF."""
    host, port = host_port()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(word.encode("ascii"))
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


# Consecutive failures to connect; past a few, the server is taken as dead
# and further connects fail at once, so a dead server costs seconds per
# test, not WAIT per client.
_connect_failures = [0]
DEAD_AFTER = 3


def server_dead():
    return _connect_failures[0] >= DEAD_AFTER


def new_client(**kwargs):
    if server_dead():
        raise RuntimeError("server unreachable (%d failed connects in a row)"
                           % _connect_failures[0])
    kwargs.setdefault("hosts", HOSTS)
    kwargs.setdefault("timeout", 10.0)
    client = KazooClient(**kwargs)
    try:
        client.start(timeout=WAIT)
    except Exception:
        _connect_failures[0] += 1
        try:
            client.stop()
            client.close()
        except Exception:
            pass
        raise
    _connect_failures[0] = 0
    return client


def super_client():
    client = new_client()
    if SUPER_PASSWORD:
        client.add_auth("digest", "super:" + SUPER_PASSWORD)
    return client


@pytest.fixture
def make_client():
    """Factory of started kazoo clients; all are stopped at teardown."""
    clients = []

    def factory(**kwargs):
        client = new_client(**kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        try:
            client.stop()
            client.close()
        except Exception:
            pass


@pytest.fixture
def zk(make_client):
    return make_client()


@pytest.fixture
def root(make_client):
    """A fresh, unique, world-open node; deleted recursively afterwards."""
    path = "/compat-" + uuid.uuid4().hex
    creator = make_client()
    creator.create(path, b"")
    yield path
    cleaner = None
    try:
        cleaner = super_client()
        cleaner.delete(path, recursive=True)
    except NoNodeError:
        pass
    except Exception as exc:  # leave a trace, never fail the test here
        print("cleanup of %s failed: %r" % (path, exc), file=sys.stderr)
    finally:
        if cleaner is not None:
            cleaner.stop()
            cleaner.close()


@pytest.fixture
def need_super():
    if not SUPER_PASSWORD:
        pytest.skip("ZK_SUPER_PASSWORD not set")
    return SUPER_PASSWORD
