#!/usr/bin/env bash
# Run the ZooKeeper compatibility suite (tools/compat/) against Apache
# ZooKeeper 3.8 (Debian package `zookeeper`) and, with --zkr, against zkr,
# each started here on a free 127.0.0.1 port with its own data dir.
#
# usage: tools/compat.sh [--zkr BIN] [--zookeeper] [--no-zookeeper]
#                        [--timeout SECS] [--keep] [-- PYTEST_ARGS...]
#
#   --zkr BIN        also start `BIN server --config CFG` and run the suite on it
#   --zookeeper      run against ZooKeeper (the default; kept for explicitness)
#   --no-zookeeper   skip ZooKeeper (zkr only; needs --zkr)
#   --timeout SECS   bound for one pytest run (default 1200; each test 60)
#   --keep           keep the temp dir (configs, logs, junit xml)
#   -- ARGS          passed to pytest (e.g. -- -k lock -x)
#
# Environment: JAVA (default: java on PATH), ZKCLI (zkCli.sh for
# test_zkcli.py), ZK_JAR_DIR (default /usr/share/java), PYTHON (python3).
#
# Prints one `compat: NAME passed=N failed=M ...` line per server, the tests
# whose outcome differs between servers, and a closing total line.
# Exits non-zero if any test fails against any server, or a server does not
# start.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUITE="$HERE/compat"
PYTHON="${PYTHON:-python3}"
export PYTHONDONTWRITEBYTECODE=1
JAVA="${JAVA:-$(command -v java || echo /usr/bin/java)}"
ZK_JAR_DIR="${ZK_JAR_DIR:-/usr/share/java}"
SUPER_PASSWORD="test"
TICK_MS=200
RUN_TIMEOUT=1200
PER_TEST_TIMEOUT=60
ZKR_BIN=""
RUN_ZK=1
KEEP=0
PYTEST_ARGS=()

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --zkr) ZKR_BIN="${2:?--zkr needs a binary path}"; shift 2 ;;
        --zkr=*) ZKR_BIN="${1#--zkr=}"; shift ;;
        --zookeeper) RUN_ZK=1; shift ;;
        --no-zookeeper) RUN_ZK=0; shift ;;
        --timeout) RUN_TIMEOUT="${2:?}"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; PYTEST_ARGS=("$@"); break ;;
        *) echo "compat.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

if [ "$RUN_ZK" = 0 ] && [ -z "$ZKR_BIN" ]; then
    echo "compat.sh: nothing to run (--no-zookeeper without --zkr)" >&2
    exit 2
fi
if [ -n "$ZKR_BIN" ]; then
    case "$ZKR_BIN" in /*) ;; *) ZKR_BIN="$PWD/$ZKR_BIN" ;; esac
    if [ ! -x "$ZKR_BIN" ]; then
        echo "compat.sh: zkr binary not found or not executable: $ZKR_BIN" >&2
        exit 2
    fi
fi

WORK="$(mktemp -d /tmp/zkr-compat.XXXXXX)"
PIDS=()

RUNNER_PID=""

cleanup() {
    local pid i
    if [ -n "$RUNNER_PID" ]; then
        kill -TERM "$RUNNER_PID" 2>/dev/null
        wait "$RUNNER_PID" 2>/dev/null || true
    fi
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null || continue
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$KEEP" = 1 ]; then
        echo "compat.sh: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# four_letter PORT WORD: print the server's answer ("" if none), bounded.
four_letter() {
    "$PYTHON" - "$1" "$2" <<'EOF' 2>/dev/null || true
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.settimeout(5)
    s.sendall(sys.argv[2].encode())
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    sys.stdout.write(out.decode("utf-8", "replace"))
except Exception:
    pass
EOF
}

# wait_ready NAME PID PORT LOG: poll ruok until imok, bounded (90 s).
wait_ready() {
    local name="$1" pid="$2" port="$3" log="$4" i
    for i in $(seq 1 180); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "compat.sh: $name exited during startup; last log lines:" >&2
            tail -n 30 "$log" >&2
            return 1
        fi
        if [ "$(four_letter "$port" ruok)" = "imok" ]; then
            return 0
        fi
        sleep 0.5
    done
    echo "compat.sh: $name did not answer ruok on 127.0.0.1:$port in time; last log lines:" >&2
    tail -n 30 "$log" >&2
    return 1
}

SUPER_DIGEST="$(printf '%s' "super:$SUPER_PASSWORD" | "$PYTHON" -c 'import sys, hashlib, base64; print(base64.b64encode(hashlib.sha1(sys.stdin.buffer.read()).digest()).decode())')"

# Keys both servers get (zoo.cfg syntax).
common_cfg() {
    local data="$1" port="$2"
    cat <<EOF
tickTime=$TICK_MS
initLimit=10
syncLimit=5
dataDir=$data
clientPort=$port
clientPortAddress=127.0.0.1
minSessionTimeout=$((2 * TICK_MS))
maxSessionTimeout=20000
4lw.commands.whitelist=*
admin.enableServer=false
EOF
}

start_zookeeper() {
    local dir="$WORK/zookeeper" port
    mkdir -p "$dir/data"
    port="$(free_port)"
    if [ -n "$(four_letter "$port" ruok)" ]; then
        echo "compat.sh: port $port already answers; retrying" >&2
        port="$(free_port)"
    fi
    common_cfg "$dir/data" "$port" > "$dir/zoo.cfg"
    local cp="$ZK_JAR_DIR/zookeeper.jar"
    if [ ! -f "$cp" ]; then
        echo "compat.sh: $cp missing: apt-get install zookeeper" >&2
        return 1
    fi
    # The Debian jar's manifest brings its dependencies; add a logging backend.
    [ -f "$ZK_JAR_DIR/slf4j-simple.jar" ] && cp="$cp:$ZK_JAR_DIR/slf4j-simple.jar"
    # The same JVM the Debian zkServer.sh start-foreground runs, with the
    # system properties passed directly (SERVER_JVMFLAGS equivalent).
    (cd "$dir" && exec "$JAVA" -Xmx512m \
        -Dzookeeper.log.dir="$dir" \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
        -Dzookeeper.extendedTypesEnabled=true \
        -Dzookeeper.DigestAuthenticationProvider.superDigest="super:$SUPER_DIGEST" \
        -Dznode.container.checkIntervalMs=500 \
        -cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
        > "$dir/server.log" 2>&1 < /dev/null) &
    local pid=$!
    PIDS+=("$pid")
    wait_ready "zookeeper" "$pid" "$port" "$dir/server.log" || return 1
    # Make sure the server answering is ours, not another one on that port. A loaded
    # machine can make a fresh JVM slow to answer its first words: retry, bounded.
    if ! is_ours "$port" "$dir/data"; then
        echo "compat.sh: port $port is answered by another server" >&2
        four_letter "$port" conf | head -5 >&2
        return 1
    fi
    STARTED_PORT="$port"
}

# is_ours PORT DATADIR: the server on PORT reports DATADIR in `conf` (up to 10 tries).
is_ours() {
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        if four_letter "$1" conf | grep -q "^dataDir=$2"; then
            return 0
        fi
        sleep 1
    done
    return 1
}

start_zkr() {
    local dir="$WORK/zkr" port
    mkdir -p "$dir/data"
    port="$(free_port)"
    if [ -n "$(four_letter "$port" ruok)" ]; then
        port="$(free_port)"
    fi
    {
        common_cfg "$dir/data" "$port"
        # ZooKeeper's system properties, as plain keys
        echo "extendedTypesEnabled=true"
        echo "DigestAuthenticationProvider.superDigest=super:$SUPER_DIGEST"
        echo "znode.container.checkIntervalMs=500"
    } > "$dir/zoo.cfg"
    (cd "$dir" && exec "$ZKR_BIN" server --config "$dir/zoo.cfg" \
        > "$dir/server.log" 2>&1 < /dev/null) &
    local pid=$!
    PIDS+=("$pid")
    wait_ready "zkr" "$pid" "$port" "$dir/server.log" || return 1
    STARTED_PORT="$port"
}

TIMEOUT_ARGS=()
if "$PYTHON" -c 'import pytest_timeout' 2>/dev/null; then
    TIMEOUT_ARGS=(--timeout "$PER_TEST_TIMEOUT")
fi

# run_suite NAME PORT: run pytest, junit xml to $WORK/NAME.xml.
run_suite() {
    local name="$1" port="$2" rc
    echo "=== compat: running suite against $name on 127.0.0.1:$port"
    # In the background so that a signal to this script is handled at once
    # (the trap then stops pytest and the servers).
    ZK_HOSTS="127.0.0.1:$port" ZK_SUPER_PASSWORD="$SUPER_PASSWORD" \
        timeout --kill-after=15 "$RUN_TIMEOUT" \
        "$PYTHON" -m pytest "$SUITE" -p no:cacheprovider -q -rfE \
        "${TIMEOUT_ARGS[@]}" \
        --junitxml="$WORK/$name.xml" -o junit_family=xunit2 \
        "${PYTEST_ARGS[@]}" < /dev/null &
    RUNNER_PID=$!
    wait "$RUNNER_PID"
    rc=$?
    RUNNER_PID=""
    echo "$rc" > "$WORK/$name.rc"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "compat.sh: pytest against $name timed out after ${RUN_TIMEOUT}s" >&2
    fi
    return 0
}

NAMES=()
STATUS=0
if [ "$RUN_ZK" = 1 ]; then
    if start_zookeeper; then
        run_suite zookeeper-3.8 "$STARTED_PORT"
    else
        echo 99 > "$WORK/zookeeper-3.8.rc"
    fi
    NAMES+=(zookeeper-3.8)
fi
if [ -n "$ZKR_BIN" ]; then
    if start_zkr; then
        run_suite zkr "$STARTED_PORT"
    else
        echo 99 > "$WORK/zkr.rc"
    fi
    NAMES+=(zkr)
fi

# Summary: per server counts, differing tests, closing total line.
"$PYTHON" - "$WORK" "${NAMES[@]}" <<'EOF'
import os
import sys
import xml.etree.ElementTree as ET

work, names = sys.argv[1], sys.argv[2:]
outcomes, rcs = {}, {}
for name in names:
    rcs[name] = int(open(os.path.join(work, name + ".rc")).read().strip() or 99)
    res = {}
    path = os.path.join(work, name + ".xml")
    if os.path.exists(path):
        for case in ET.parse(path).getroot().iter("testcase"):
            test = "%s::%s" % (case.get("classname", ""), case.get("name", ""))
            state = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    state = "failed"
                    break
                if child.tag == "skipped":
                    state = "skipped"
            # a teardown error after a pass counts as a failure
            if res.get(test) == "failed":
                state = "failed"
            res[test] = state
    outcomes[name] = res

# A test that ran against one server but not another (server did not start,
# run timed out) counts as failed for the server that did not run it.
all_tests = set().union(*[set(r) for r in outcomes.values()]) if names else set()
bad = False
tp = tf = ts = 0
for name in names:
    res, rc = outcomes[name], rcs[name]
    missing = sorted(all_tests - set(res))
    p = sum(1 for s in res.values() if s == "passed")
    f = sum(1 for s in res.values() if s == "failed") + len(missing)
    s = sum(1 for s in res.values() if s == "skipped")
    tp, tf, ts = tp + p, tf + f, ts + s
    note = ""
    if rc == 99:
        note = " (server did not start)"
    elif rc in (124, 137):
        note = " (timed out)"
    elif rc not in (0, 1):
        note = " (pytest exit %d)" % rc
    if missing:
        note += " (%d not run)" % len(missing)
    if f or rc != 0 or p == 0:
        bad = True
    print("compat: %s passed=%d failed=%d skipped=%d%s" % (name, p, f, s, note))
if len(names) > 1:
    ran = [n for n in names if outcomes[n]]
    if len(ran) > 1:
        diff = [t for t in sorted(all_tests)
                if len({outcomes[n].get(t, "missing") for n in ran}) > 1]
        print("compat: %d tests differ between %s" % (len(diff), " and ".join(ran)))
        for t in diff:
            print("compat:   %s  %s" % (t, "  ".join(
                "%s=%s" % (n, outcomes[n].get(t, "missing")) for n in ran)))
    else:
        print("compat: no comparison: only %s ran" % (", ".join(ran) or "nothing"))
else:
    for name in names:
        for test, state in sorted(outcomes[name].items()):
            if state == "failed":
                print("compat:   %s FAILED %s" % (name, test))
print("compat: %d passed, %d failed, %d skipped" % (tp, tf, ts))
sys.exit(1 if bad else 0)
EOF
STATUS=$?
exit "$STATUS"
