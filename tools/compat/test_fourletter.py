"""Four-letter words on the client port, checked against the structure
Apache ZooKeeper 3.8 prints (monitoring tools parse these)."""

import re

import pytest

from conftest import four_letter, host_port

HEX = r"0x[0-9a-f]+"


def sid_hex(zk):
    return "0x%x" % zk.client_id[0]


def mntr():
    out = four_letter("mntr")
    values = {}
    for line in out.splitlines():
        assert "\t" in line, "mntr line without a tab: %r" % line
        key, value = line.split("\t", 1)
        values[key] = value
    return out, values


def test_ruok():
    assert four_letter("ruok") == "imok"


def test_isro():
    assert four_letter("isro") == "rw"


SRVR_LINES = [
    r"Zookeeper version: .+",
    r"Latency min/avg/max: \d+/[\d.]+/\d+",
    r"Received: \d+",
    r"Sent: \d+",
    r"Connections: \d+",
    r"Outstanding: \d+",
    r"Zxid: " + HEX,
    r"Mode: standalone",
    r"Node count: \d+",
]


def test_srvr(zk, root):
    _, stat = zk.create(root + "/n", include_data=True)
    out = four_letter("srvr")
    lines = out.splitlines()
    assert out.endswith("\n")
    assert len(lines) == len(SRVR_LINES), out
    for pattern, line in zip(SRVR_LINES, lines):
        assert re.fullmatch(pattern, line), (pattern, line)
    zxid = int(re.search(r"^Zxid: (0x[0-9a-f]+)$", out, re.M).group(1), 16)
    assert zxid >= stat.czxid
    connections = int(re.search(r"^Connections: (\d+)$", out, re.M).group(1))
    assert connections >= 2  # our kazoo session and this socket


def test_stat(zk):
    out = four_letter("stat")
    lines = out.splitlines()
    assert re.fullmatch(SRVR_LINES[0], lines[0])
    assert lines[1] == "Clients:"
    blank = lines.index("")
    clients = lines[2:blank]
    assert clients, out
    for line in clients:
        assert re.fullmatch(r" /127\.0\.0\.1:\d+\[\d\]\(queued=\d+,recved=\d+,"
                            r"sent=\d+\)", line), line
    # one line has the session bit set ([1]): our kazoo client
    assert any("[1](" in line for line in clients)
    rest = lines[blank + 1:]
    assert len(rest) == len(SRVR_LINES) - 1
    for pattern, line in zip(SRVR_LINES[1:], rest):
        assert re.fullmatch(pattern, line), (pattern, line)


MNTR_KEYS = [
    "zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency",
    "zk_min_latency", "zk_packets_received", "zk_packets_sent",
    "zk_num_alive_connections", "zk_outstanding_requests", "zk_znode_count",
    "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
    "zk_open_file_descriptor_count", "zk_max_file_descriptor_count",
]


def test_mntr_format(zk):
    out, values = mntr()
    assert out.endswith("\n")
    assert out.splitlines()[0].startswith("zk_version\t")
    for key in MNTR_KEYS:
        assert key in values, key
    assert values["zk_server_state"] == "standalone"
    for key in MNTR_KEYS[2:]:
        float(values[key])  # numeric
    assert int(values["zk_num_alive_connections"]) >= 1


def test_mntr_counts_follow_the_tree(zk, root):
    _, before = mntr()
    zk.create(root + "/plain")
    zk.create(root + "/eph", ephemeral=True)
    _, after = mntr()
    assert int(after["zk_znode_count"]) == int(before["zk_znode_count"]) + 2
    assert int(after["zk_ephemerals_count"]) == int(before["zk_ephemerals_count"]) + 1
    srvr = four_letter("srvr")
    node_count = int(re.search(r"^Node count: (\d+)$", srvr, re.M).group(1))
    assert node_count == int(after["zk_znode_count"])


def test_conf():
    out = four_letter("conf")
    conf = dict(line.split("=", 1) for line in out.splitlines())
    for key in ("clientPort", "dataDir", "dataLogDir", "tickTime",
                "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
                "serverId"):
        assert key in conf, key
    assert int(conf["clientPort"]) == host_port()[1]
    tick = int(conf["tickTime"])
    assert tick > 0
    assert int(conf["minSessionTimeout"]) <= int(conf["maxSessionTimeout"])


def test_cons(zk):
    zk.exists("/")
    out = four_letter("cons")
    assert out.endswith("\n\n")
    lines = [l for l in out.splitlines() if l]
    ours = [l for l in lines if "sid=%s," % sid_hex(zk) in l]
    assert len(ours) == 1, out
    assert re.fullmatch(
        r" /127\.0\.0\.1:\d+\[1\]\(queued=\d+,recved=\d+,sent=\d+,sid=%s,"
        r"lop=\w+,est=\d+,to=\d+,lcxid=%s,lzxid=%s,lresp=\d+,llat=\d+,"
        r"minlat=\d+,avglat=\d+,maxlat=\d+\)" % (HEX, HEX, HEX), ours[0]), ours[0]
    # the 4lw connection itself is listed without a session
    assert any(re.fullmatch(r" /127\.0\.0\.1:\d+\[0\]\(queued=\d+,recved=\d+,"
                            r"sent=\d+\)", l) for l in lines), out


def test_envi():
    out = four_letter("envi")
    lines = out.splitlines()
    assert lines[0] == "Environment:"
    env = dict(l.split("=", 1) for l in lines[1:])
    for key in ("zookeeper.version", "host.name", "os.name", "os.arch",
                "os.version", "user.name", "user.home", "user.dir"):
        assert key in env, key


def test_dirs():
    out = four_letter("dirs")
    assert re.fullmatch(r"datadir_size: \d+\nlogdir_size: \d+\n", out), out


def test_watch_words(zk, root):
    path = root + "/watched"
    zk.create(path)
    zk.get(path, watch=lambda e: None)
    zk.exists(root + "/not-yet", watch=lambda e: None)
    sid = sid_hex(zk)

    wchs = four_letter("wchs")
    m = re.fullmatch(r"(\d+) connections watching (\d+) paths\n"
                     r"Total watches:(\d+)\n", wchs)
    assert m, wchs
    assert int(m.group(1)) >= 1 and int(m.group(2)) >= 2 and int(m.group(3)) >= 2

    wchc = four_letter("wchc")
    assert wchc.endswith("\n")
    blocks = wchc.strip("\n").split("\n")
    assert sid in blocks, wchc
    i = blocks.index(sid)
    mine = []
    for line in blocks[i + 1:]:
        if not line.startswith("\t"):
            break
        mine.append(line[1:])
    assert set(mine) == {path, root + "/not-yet"}

    wchp = four_letter("wchp")
    lines = wchp.strip("\n").split("\n")
    for p in (path, root + "/not-yet"):
        assert p in lines, wchp
        assert lines[lines.index(p) + 1] == "\t" + sid


def test_dump(zk, root):
    eph = zk.create(root + "/eph", ephemeral=True)
    out = four_letter("dump")
    assert out.startswith("SessionTracker dump:\n")
    assert "ephemeral nodes dump:\n" in out
    assert re.search(r"^Sessions with Ephemerals \(\d+\):$", out, re.M)
    assert "\n%s:\n\t%s\n" % (sid_hex(zk), eph) in out


@pytest.mark.parametrize("word,answer", [
    ("srst", "Server stats reset.\n"),
    ("crst", "Connection stats reset.\n"),
], ids=["srst", "crst"])
def test_reset_words(zk, word, answer):
    assert four_letter(word) == answer
    # the server keeps answering normally
    assert re.search(r"^Mode: standalone$", four_letter("srvr"), re.M)
