"""Apache ZooKeeper's own Java CLI (zkCli.sh) against the server.

zkCli.sh comes from the Debian package `zookeeper`
(/usr/share/zookeeper/bin/zkCli.sh); set ZKCLI to use another one.  Each
JVM start costs a second or two, so commands that need one session run in
one zkCli process fed through stdin.
"""

import os
import queue
import re
import shutil
import subprocess
import threading
import time

import pytest
from kazoo.exceptions import NoAuthError

import conftest
from conftest import HOSTS, WAIT

ZKCLI = os.environ.get("ZKCLI") or shutil.which("zkCli.sh") or \
    "/usr/share/zookeeper/bin/zkCli.sh"
CLI_TIMEOUT = float(os.environ.get("ZKCLI_TIMEOUT", "30"))

pytestmark = pytest.mark.skipif(not os.path.exists(ZKCLI),
                                reason="zkCli.sh not found (set ZKCLI)")

NOISE = re.compile(r"^(SLF4J:|Connecting to |Welcome to ZooKeeper|"
                   r"JLine support is|WATCHER::$|WatchedEvent state:SyncConnected "
                   r"type:None path:null$)")


def clean(text):
    return [l for l in text.splitlines() if l.strip() and not NOISE.match(l)]


def check_alive():
    if conftest.server_dead():
        raise RuntimeError("server unreachable; not starting zkCli")


def zkcli(*args):
    """Run one zkCli command; return (exit code, meaningful output lines)."""
    check_alive()
    proc = subprocess.run([ZKCLI, "-server", HOSTS] + list(args),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=CLI_TIMEOUT)
    return proc.returncode, clean(proc.stdout.decode("utf-8", "replace"))


class ZkCliSession(object):
    """One zkCli process; commands go to stdin, output is read as it comes."""

    def __init__(self):
        check_alive()
        self.proc = subprocess.Popen([ZKCLI, "-server", HOSTS],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.lines = []
        self.q = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.expect(r"WatchedEvent state:SyncConnected type:None", raw=True)

    def _read(self):
        for raw in self.proc.stdout:
            self.q.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.q.put(None)

    def send(self, command):
        self.proc.stdin.write((command + "\n").encode())
        self.proc.stdin.flush()

    def expect(self, pattern, timeout=CLI_TIMEOUT, raw=False):
        """Wait for a line matching pattern; return the match.  Lines up to
        the match are consumed; zkCli's noise lines are skipped unless raw."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for i, line in enumerate(self.lines):
                if not raw and NOISE.match(line):
                    continue
                m = rx.search(line)
                if m:
                    del self.lines[: i + 1]
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("zkCli: no line matching %r; unread: %r"
                                     % (pattern, clean("\n".join(self.lines))[-20:]))
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("zkCli exited; no line matching %r; "
                                     "unread: %r" % (pattern, clean("\n".join(self.lines))[-20:]))
            self.lines.append(line)

    def run(self, command, pattern):
        self.send(command)
        return self.expect(pattern)

    def close(self):
        if self.proc.returncode is not None or self.proc.stdin.closed:
            return
        try:
            self.send("quit")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def cli_session():
    sessions = []

    def factory():
        s = ZkCliSession()
        sessions.append(s)
        return s

    yield factory
    for s in sessions:
        s.close()


def parse_stat(lines):
    stat = {}
    for line in lines:
        m = re.match(r"^(\w+) = (.*)$", line)
        if m:
            stat[m.group(1)] = m.group(2)
    return stat


STAT_KEYS = ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion",
             "dataVersion", "aclVersion", "ephemeralOwner", "dataLength",
             "numChildren"]


def test_zkcli_create_get_set_stat(zk, root):
    path = root + "/a"
    rc, out = zkcli("create", path, "hello")
    assert rc == 0 and out == ["Created " + path]
    rc, out = zkcli("set", path, "world!")
    assert rc == 0 and out == []
    rc, out = zkcli("get", "-s", path)
    assert rc == 0
    assert out[0] == "world!"
    stat = parse_stat(out[1:])
    assert list(stat) == STAT_KEYS
    kz = zk.exists(path)
    assert stat["cZxid"] == hex(kz.czxid)
    assert stat["mZxid"] == hex(kz.mzxid)
    assert stat["pZxid"] == hex(kz.pzxid)
    assert stat["dataVersion"] == "1"
    assert stat["aclVersion"] == "0"
    assert stat["ephemeralOwner"] == "0x0"
    assert stat["dataLength"] == "6"
    assert stat["numChildren"] == "0"


def test_zkcli_ls_and_stat_of_parent(zk, root):
    for name in ("x", "y"):
        zk.create(root + "/" + name)
    zk.create(root + "/x/deep/er", makepath=True)
    rc, out = zkcli("ls", "-s", root)
    assert rc == 0
    assert re.match(r"^\[.*\]$", out[0])
    assert sorted(out[0][1:-1].split(", ")) == ["x", "y"]
    stat = parse_stat(out[1:])
    assert stat["numChildren"] == "2"
    assert stat["cversion"] == "2"
    assert stat["pZxid"] == hex(zk.exists(root).pzxid)
    rc, out = zkcli("ls", "-R", root)
    assert rc == 0
    assert sorted(out) == sorted([root, root + "/x", root + "/y",
                                  root + "/x/deep", root + "/x/deep/er"])


def test_zkcli_errors_and_delete(zk, root):
    zk.create(root + "/p/c", makepath=True)
    rc, out = zkcli("delete", root + "/p")
    assert rc != 0 and out == ["Node not empty: %s/p" % root]
    rc, out = zkcli("get", root + "/missing")
    assert rc != 0 and out == ["Node does not exist: %s/missing" % root]
    rc, out = zkcli("create", root + "/p/c")
    assert rc != 0 and out == ["Node already exists: %s/p/c" % root]
    rc, out = zkcli("deleteall", root + "/p")
    assert rc == 0
    assert zk.exists(root + "/p") is None


def test_zkcli_get_all_children_number(zk, root):
    zk.create(root + "/a/b/c", makepath=True)
    zk.create(root + "/d")
    rc, out = zkcli("getAllChildrenNumber", root)
    assert rc == 0 and out == ["4"]


def test_zkcli_session_ephemeral_sequential_whoami_sync(zk, root, cli_session):
    cli = cli_session()
    cli.run("create %s/tree" % root, r"^Created %s/tree$" % root)
    cli.run("create %s/tree/level2" % root, r"^Created ")
    cli.run("create %s/tree/level2/level3 deep" % root, r"^Created ")
    cli.run("create -e %s/eph e" % root, r"^Created %s/eph$" % root)
    m = cli.run("create -s %s/seq- s" % root, r"^Created (%s/seq-\d{10})$" % root)
    seq = m.group(1)
    m = cli.run("create -e -s %s/eseq- x" % root,
                r"^Created (%s/eseq-\d{10})$" % root)
    eseq = m.group(1)
    m = cli.run("getEphemerals %s" % root, r"^\[(.*)\]$")
    assert sorted(m.group(1).split(", ")) == sorted([root + "/eph", eseq])
    cli.run("sync %s" % root, r"^Sync is OK$")
    cli.run("whoami", r"^Auth scheme: User$")
    cli.expect(r"^ip: 127\.0\.0\.1$")
    cli.run("get %s/tree/level2/level3" % root, r"^deep$")
    owner = zk.exists(root + "/eph").ephemeralOwner
    assert owner != 0
    cli.run("stat %s/eph" % root, r"^ephemeralOwner = %s$" % re.escape(hex(owner)))
    cli.close()
    assert zk.exists(root + "/eph") is None
    assert zk.exists(eseq) is None
    assert zk.exists(seq) is not None


def test_zkcli_acl_and_digest_auth(make_client, root, cli_session):
    path = root + "/guarded"
    cli = cli_session()
    cli.run("create %s v" % path, r"^Created ")
    cli.run("getAcl %s" % path, r"^'world,'anyone$")
    cli.expect(r"^: cdrwa$")
    cli.send("addauth digest alice:secret")  # silent on success
    cli.run("whoami", r"^digest: alice$")
    cli.send("setAcl %s auth:alice:secret:cdrwa" % path)  # silent
    m = cli.run("getAcl %s" % path, r"^'digest,'(alice:\S+)$")
    assert m.group(1) == "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="
    cli.expect(r"^: cdrwa$")
    cli.run("get %s" % path, r"^v$")
    cli.close()

    stranger = make_client()
    with pytest.raises(NoAuthError):
        stranger.get(path)
    rc, out = zkcli("get", path)
    assert rc != 0 and out == ["Insufficient permission : " + path]
    friend = make_client()
    friend.add_auth("digest", "alice:secret")
    assert friend.get(path)[0] == b"v"


def test_zkcli_set_acl_world_read(zk, root):
    path = root + "/ro"
    zk.create(path, b"r")
    rc, out = zkcli("setAcl", path, "world:anyone:r")
    assert rc == 0
    rc, out = zkcli("getAcl", path)
    assert rc == 0 and out == ["'world,'anyone", ": r"]
    rc, out = zkcli("set", path, "nope")
    assert rc != 0 and out == ["Insufficient permission : " + path]


def test_zkcli_watches(make_client, root, cli_session):
    zk = make_client()
    zk.create(root + "/w", b"0")
    zk.create(root + "/tree")
    cli = cli_session()
    cli.run("get -w %s/w" % root, r"^0$")
    cli.send("addWatch -m PERSISTENT_RECURSIVE %s/tree" % root)  # silent
    cli.run("ls -w %s/tree" % root, r"^\[\]$")
    zk.set(root + "/w", b"1")
    cli.expect(r"^WatchedEvent state:SyncConnected type:NodeDataChanged "
               r"path:%s/w$" % root, timeout=WAIT)
    zk.create(root + "/tree/a")
    zk.create(root + "/tree/a/b")
    zk.set(root + "/tree/a/b", b"x")
    cli.expect(r"type:NodeCreated path:%s/tree/a$" % root, timeout=WAIT)
    cli.expect(r"type:NodeCreated path:%s/tree/a/b$" % root, timeout=WAIT)
    cli.expect(r"type:NodeDataChanged path:%s/tree/a/b$" % root, timeout=WAIT)
