"""Wire-level helpers for the parts of the ZooKeeper protocol kazoo lacks.

Two kinds of helper live here:

* request classes that plug into a started ``KazooClient`` (``call(zk, req)``)
  for opcodes kazoo 2.11 has no API for: createContainer (19), createTTL (21),
  multiRead (22), removeWatches (18), getEphemerals (103),
  getAllChildrenNumber (104), addWatch (106) and whoAmI (107).  Records are
  laid out as in ``zookeeper.jute``.
* ``RawSession``: a minimal blocking client over a plain socket, used where a
  test needs to control the connection itself (handshake fields, a session
  that stops heart-beating, oversized frames).

Nothing here is server specific; it only speaks the documented protocol.
"""

import socket
import struct
import threading
from collections import defaultdict

from kazoo.exceptions import EXCEPTIONS
from kazoo.protocol.states import ZnodeStat

INT = struct.Struct("!i")
LONG = struct.Struct("!q")
STAT = struct.Struct("!qqqqiiiqiiq")
MULTI_HEADER = struct.Struct("!iBi")
REPLY_HEADER = struct.Struct("!iqi")

# ZooDefs.OpCode
OP_CREATE = 1
OP_DELETE = 2
OP_EXISTS = 3
OP_GET_DATA = 4
OP_SET_DATA = 5
OP_GET_CHILDREN = 8
OP_PING = 11
OP_SET_WATCHES = 101
OP_CHECK_WATCHES = 17
OP_REMOVE_WATCHES = 18
OP_CREATE_CONTAINER = 19
OP_CREATE_TTL = 21
OP_MULTI_READ = 22
OP_GET_EPHEMERALS = 103
OP_GET_ALL_CHILDREN_NUMBER = 104
OP_ADD_WATCH = 106
OP_WHO_AM_I = 107
OP_CLOSE = -11

# CreateMode flags (CreateMode.toFlag)
MODE_PERSISTENT = 0
MODE_EPHEMERAL = 1
MODE_PERSISTENT_SEQUENTIAL = 2
MODE_EPHEMERAL_SEQUENTIAL = 3
MODE_CONTAINER = 4
MODE_PERSISTENT_WITH_TTL = 5
MODE_PERSISTENT_SEQUENTIAL_WITH_TTL = 6

# AddWatchMode
ADD_WATCH_PERSISTENT = 0
ADD_WATCH_PERSISTENT_RECURSIVE = 1

# WatcherType for removeWatches
WATCHER_CHILDREN = 1
WATCHER_DATA = 2
WATCHER_ANY = 3


# --------------------------------------------------------------- encoding


def w_int(v):
    return INT.pack(v)


def w_long(v):
    return LONG.pack(v)


def w_bool(v):
    return b"\x01" if v else b"\x00"


def w_string(s):
    if s is None:
        return INT.pack(-1)
    b = s.encode("utf-8")
    return INT.pack(len(b)) + b


def w_buffer(b):
    if b is None:
        return INT.pack(-1)
    return INT.pack(len(b)) + bytes(b)


def w_acls(acls):
    out = bytearray(INT.pack(len(acls)))
    for acl in acls:
        out += INT.pack(acl.perms) + w_string(acl.id.scheme) + w_string(acl.id.id)
    return bytes(out)


def r_int(buf, off):
    return INT.unpack_from(buf, off)[0], off + 4


def r_long(buf, off):
    return LONG.unpack_from(buf, off)[0], off + 8


def r_buffer(buf, off):
    n, off = r_int(buf, off)
    if n < 0:
        return None, off
    return bytes(buf[off : off + n]), off + n


def r_string(buf, off):
    b, off = r_buffer(buf, off)
    return (None if b is None else b.decode("utf-8")), off


def r_stat(buf, off):
    return ZnodeStat._make(STAT.unpack_from(buf, off)), off + STAT.size


def r_string_vector(buf, off):
    n, off = r_int(buf, off)
    out = []
    for _ in range(max(n, 0)):
        s, off = r_string(buf, off)
        out.append(s)
    return out, off


def _default_acl(zk, acl):
    from kazoo.security import OPEN_ACL_UNSAFE

    return acl or zk.default_acl or OPEN_ACL_UNSAFE


# ------------------------------------------------ kazoo pluggable requests


class _Req(object):
    """Base: kazoo calls ``serialize()`` and ``deserialize(buf, off)``."""

    type = None
    watcher = None

    def deserialize(self, buf, off):
        return True


class CreateContainer(_Req):
    type = OP_CREATE_CONTAINER

    def __init__(self, path, data, acl):
        self.path, self.data, self.acl = path, data, acl

    def serialize(self):
        return (w_string(self.path) + w_buffer(self.data) + w_acls(self.acl)
                + w_int(MODE_CONTAINER))

    def deserialize(self, buf, off):  # Create2Response
        path, off = r_string(buf, off)
        stat, off = r_stat(buf, off)
        return path, stat


class CreateTTL(_Req):
    type = OP_CREATE_TTL

    def __init__(self, path, data, acl, ttl_ms, sequential=False):
        self.path, self.data, self.acl, self.ttl = path, data, acl, ttl_ms
        self.flags = (MODE_PERSISTENT_SEQUENTIAL_WITH_TTL if sequential
                      else MODE_PERSISTENT_WITH_TTL)

    def serialize(self):
        return (w_string(self.path) + w_buffer(self.data) + w_acls(self.acl)
                + w_int(self.flags) + w_long(self.ttl))

    def deserialize(self, buf, off):  # Create2Response
        path, off = r_string(buf, off)
        stat, off = r_stat(buf, off)
        return path, stat


class GetEphemerals(_Req):
    type = OP_GET_EPHEMERALS

    def __init__(self, prefix):
        self.path = prefix

    def serialize(self):
        return w_string(self.path)

    def deserialize(self, buf, off):
        return r_string_vector(buf, off)[0]


class GetAllChildrenNumber(_Req):
    type = OP_GET_ALL_CHILDREN_NUMBER

    def __init__(self, path):
        self.path = path

    def serialize(self):
        return w_string(self.path)

    def deserialize(self, buf, off):
        return r_int(buf, off)[0]


class WhoAmI(_Req):
    type = OP_WHO_AM_I

    def serialize(self):
        return b""

    def deserialize(self, buf, off):
        n, off = r_int(buf, off)
        out = []
        for _ in range(max(n, 0)):
            scheme, off = r_string(buf, off)
            user, off = r_string(buf, off)
            out.append((scheme, user))
        return out


class AddWatch(_Req):
    type = OP_ADD_WATCH

    def __init__(self, path, mode):
        self.path, self.mode = path, mode

    def serialize(self):
        return w_string(self.path) + w_int(self.mode)


class RemoveWatches(_Req):
    type = OP_REMOVE_WATCHES

    def __init__(self, path, watcher_type):
        self.path, self.watcher_type = path, watcher_type

    def serialize(self):
        return w_string(self.path) + w_int(self.watcher_type)


class MultiRead(_Req):
    """multiRead of ("get", path) / ("children", path) ops.

    Returns a list whose items are ``(data, stat)``, a list of child names,
    or an exception instance for an op that failed.
    """

    type = OP_MULTI_READ

    def __init__(self, ops):
        self.ops = ops

    def serialize(self):
        out = bytearray()
        for kind, path in self.ops:
            op = OP_GET_DATA if kind == "get" else OP_GET_CHILDREN
            out += MULTI_HEADER.pack(op, 0, -1) + w_string(path) + w_bool(False)
        out += MULTI_HEADER.pack(-1, 1, -1)
        return bytes(out)

    def deserialize(self, buf, off):
        results = []
        while True:
            typ, done, err = MULTI_HEADER.unpack_from(buf, off)
            off += MULTI_HEADER.size
            if done:
                break
            if typ == OP_GET_DATA:
                data, off = r_buffer(buf, off)
                stat, off = r_stat(buf, off)
                results.append((data, stat))
            elif typ == OP_GET_CHILDREN:
                kids, off = r_string_vector(buf, off)
                results.append(kids)
            elif typ == -1:
                code, off = r_int(buf, off)
                results.append(EXCEPTIONS[code]())
            else:
                raise ValueError("unexpected multiRead result type %d" % typ)
        return results


def call(zk, request, timeout=15):
    """Send a pluggable request on a started kazoo client and wait."""
    async_result = zk.handler.async_result()
    zk._call(request, async_result)
    return async_result.get(timeout=timeout)


def create_container(zk, path, value=b"", acl=None):
    return call(zk, CreateContainer(path, value, _default_acl(zk, acl)))


def create_ttl(zk, path, value=b"", ttl_ms=1000, sequential=False, acl=None):
    return call(zk, CreateTTL(path, value, _default_acl(zk, acl), ttl_ms,
                              sequential))


# ------------------------------------------------------ persistent watches


class _PersistentWatchers(defaultdict):
    """Stands in for KazooClient._data_watchers / _child_watchers.

    kazoo pops the one-shot watchers of a path when an event for it arrives;
    this dict also hands back the callbacks of persistent watches matching
    the event path, and keeps them.
    """

    def __init__(self, original, registry):
        super().__init__(set)
        self.update(original)
        self.registry = registry

    def pop(self, path, *default):
        found = list(super().pop(path, *default) if path in self else
                     (default[0] if default else []))
        found.extend(self.registry.matching(path))
        return found


class PersistentRegistry(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.watches = []  # (path, recursive, callback)

    def add(self, path, recursive, callback):
        with self.lock:
            self.watches.append((path, recursive, callback))

    def matching(self, event_path):
        with self.lock:
            out = []
            for path, recursive, cb in self.watches:
                if event_path == path:
                    out.append(cb)
                elif recursive and (event_path.startswith(path.rstrip("/") + "/")):
                    out.append(cb)
            return out


def add_persistent_watch(zk, path, callback, recursive=False):
    """addWatch(path, PERSISTENT[_RECURSIVE]) and route its events.

    The events of one path arrive both through the data and the child
    watcher table, so the callback is hooked into one of them only
    (``_data_watchers`` for data/created/deleted, ``_child_watchers`` for
    NodeChildrenChanged; kazoo looks up both on NodeDeleted, so deleted
    events are de-duplicated by hooking children events separately).
    """
    reg = getattr(zk, "_compat_persistent", None)
    if reg is None:
        reg = zk._compat_persistent = (PersistentRegistry(), PersistentRegistry())
        zk._data_watchers = _PersistentWatchers(zk._data_watchers, reg[0])
        zk._child_watchers = _PersistentWatchers(zk._child_watchers, reg[1])
    data_reg, child_reg = reg
    data_reg.add(path, recursive, callback)

    def child_only(event):
        if event.type == "CHILD":
            callback(event)

    child_reg.add(path, recursive, child_only)
    mode = ADD_WATCH_PERSISTENT_RECURSIVE if recursive else ADD_WATCH_PERSISTENT
    return call(zk, AddWatch(path, mode))


# ------------------------------------------------------------ raw session


class RawSession(object):
    """A bare-bones blocking ZooKeeper client over one TCP connection."""

    def __init__(self, host, port, timeout_ms=4000, session_id=0,
                 passwd=b"\x00" * 16, last_zxid=0, read_only=False,
                 sock_timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=sock_timeout)
        self.sock.settimeout(sock_timeout)
        self.xid = 0
        self.events = []
        body = (w_int(0) + w_long(last_zxid) + w_int(timeout_ms)
                + w_long(session_id) + w_buffer(passwd) + w_bool(read_only))
        self._send_frame(body)
        resp = self._recv_frame()
        off = 0
        self.protocol_version, off = r_int(resp, off)
        self.timeout_ms, off = r_int(resp, off)
        self.session_id, off = r_long(resp, off)
        self.passwd, off = r_buffer(resp, off)
        self.read_only = bool(resp[off]) if off < len(resp) else None

    # framing
    def _send_frame(self, body):
        self.sock.sendall(INT.pack(len(body)) + body)

    def _recv_exact(self, n):
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("connection closed by server")
            out += chunk
        return bytes(out)

    def _recv_frame(self):
        (n,) = INT.unpack(self._recv_exact(4))
        return self._recv_exact(n)

    def request(self, op, body=b"", xid=None):
        """Send one request and return (xid, zxid, err, body).

        Watch notifications (xid -1) that arrive first are collected in
        ``self.events`` as (type, state, path).
        """
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send_frame(w_int(xid) + w_int(op) + body)
        while True:
            frame = self._recv_frame()
            rxid, zxid, err = REPLY_HEADER.unpack_from(frame, 0)
            rest = frame[REPLY_HEADER.size:]
            if rxid == -1:
                typ, off = r_int(rest, 0)
                state, off = r_int(rest, off)
                path, off = r_string(rest, off)
                self.events.append((typ, state, path))
                continue
            return rxid, zxid, err, rest

    def create(self, path, data=b"", flags=MODE_PERSISTENT, acl=None):
        from kazoo.security import OPEN_ACL_UNSAFE

        body = (w_string(path) + w_buffer(data) + w_acls(acl or OPEN_ACL_UNSAFE)
                + w_int(flags))
        _, zxid, err, rest = self.request(OP_CREATE, body)
        return err, (r_string(rest, 0)[0] if err == 0 else None)

    def read_events(self, count, timeout):
        """Read frames until ``count`` notifications are in ``self.events``
        (or timeout passes); return a copy of the events."""
        import time

        deadline = time.monotonic() + timeout
        old = self.sock.gettimeout()
        try:
            while len(self.events) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                try:
                    frame = self._recv_frame()
                except socket.timeout:
                    break
                rxid = INT.unpack_from(frame, 0)[0]
                if rxid == -1:
                    rest = frame[REPLY_HEADER.size:]
                    typ, off = r_int(rest, 0)
                    state, off = r_int(rest, off)
                    path, off = r_string(rest, off)
                    self.events.append((typ, state, path))
        finally:
            self.sock.settimeout(old)
        return list(self.events)

    def get_data(self, path, watch=False):
        """Return (err, data, stat, zxid)."""
        _, zxid, err, body = self.request(OP_GET_DATA, w_string(path) + w_bool(watch))
        if err:
            return err, None, None, zxid
        data, off = r_buffer(body, 0)
        return err, data, r_stat(body, off)[0], zxid

    def exists(self, path, watch=False):
        """Return (err, stat, zxid)."""
        _, zxid, err, body = self.request(OP_EXISTS, w_string(path) + w_bool(watch))
        return err, (r_stat(body, 0)[0] if err == 0 else None), zxid

    def get_children(self, path, watch=False):
        _, zxid, err, body = self.request(OP_GET_CHILDREN, w_string(path) + w_bool(watch))
        return err, (r_string_vector(body, 0)[0] if err == 0 else None), zxid

    def set_watches(self, relative_zxid, data=(), exist=(), child=()):
        """SetWatches (xid -8) as a client sends after reconnecting."""

        def vec(paths):
            return w_int(len(paths)) + b"".join(w_string(p) for p in paths)

        body = w_long(relative_zxid) + vec(list(data)) + vec(list(exist)) + vec(list(child))
        return self.request(OP_SET_WATCHES, body, xid=-8)

    def ping(self):
        return self.request(OP_PING, xid=-2)

    def close_session(self):
        try:
            return self.request(OP_CLOSE)
        finally:
            self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
