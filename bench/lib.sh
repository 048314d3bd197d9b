# Shared by bench/compare.sh and bench/agree.sh (source it; bash only): start Apache ZooKeeper
# 3.8 (Debian package) and zkr side by side on 127.0.0.1, wait for them, stop them on exit.
#
# Environment: ZKR_BIN (zkr binary; default: build target/release/zkr), JAVA (java on PATH),
# ZK_JAR_DIR (/usr/share/java), ZK_JVM_FLAGS (extra JVM flags, e.g. -Xmx2g; default none, as
# Debian's zkServer.sh), ZKB_PORT_BASE (first port tried, 24181).
#
# State (globals): ZKB_PIDS (servers started), ZKB_WORK (work dir), ZKB_KEEP (1: keep it),
# ZKB_STARTED_PORT / ZKB_STARTED_PID (set by the start functions).

ZKB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAVA="${JAVA:-$(command -v java || echo /usr/bin/java)}"
ZK_JAR_DIR="${ZK_JAR_DIR:-/usr/share/java}"
ZKB_NEXT_PORT="${ZKB_PORT_BASE:-24181}"
ZKB_PIDS=()
ZKB_WORK=""
ZKB_KEEP=0
ZKB_TICK_MS=2000

zkb_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
zkb_die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# Installs Debian's zookeeper package (it pulls a JRE) if the jar is missing.
zkb_ensure_zookeeper() {
    if [ ! -f "$ZK_JAR_DIR/zookeeper.jar" ]; then
        zkb_log "installing Apache ZooKeeper (apt-get install zookeeper)"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper >&2
        JAVA="$(command -v java || echo /usr/bin/java)"
    fi
    [ -f "$ZK_JAR_DIR/zookeeper.jar" ] || zkb_die "$ZK_JAR_DIR/zookeeper.jar missing after install"
    [ -f "$ZK_JAR_DIR/slf4j-log4j12.jar" ] && [ -f "$ZK_JAR_DIR/log4j-1.2.jar" ] ||
        zkb_die "$ZK_JAR_DIR/slf4j-log4j12.jar or log4j-1.2.jar missing (they come with the zookeeper package)"
    command -v "$JAVA" >/dev/null 2>&1 || zkb_die "java not found (apt-get install zookeeper brings a JRE)"
}

# Sets ZKR_BIN: the given one, or a fresh release build.
zkb_ensure_zkr() {
    if [ -z "${ZKR_BIN:-}" ]; then
        zkb_log "cargo build --release"
        (cd "$ZKB_ROOT" && cargo build --release --bin zkr >&2)
        ZKR_BIN="$ZKB_ROOT/target/release/zkr"
    fi
    [ -x "$ZKR_BIN" ] || zkb_die "ZKR_BIN=$ZKR_BIN is not executable"
    ZKR_BIN="$(cd "$(dirname "$ZKR_BIN")" && pwd)/$(basename "$ZKR_BIN")"
}

# Makes the work dir under PARENT (default $TMPDIR or /tmp); sets ZKB_WORK.
zkb_make_work() {
    local parent="${1:-${TMPDIR:-/tmp}}"
    mkdir -p "$parent"
    ZKB_WORK="$(mktemp -d "$parent/zkr-bench.XXXXXX")"
}

# zkb_pin BIN NAME: copies BIN into the work dir and prints the copy's path, so that a rebuild
# of target/release during a long run (cargo replaces the file) cannot swap binaries halfway.
zkb_pin() {
    cp "$1" "$ZKB_WORK/$2"
    echo "$ZKB_WORK/$2"
}

# zkb_4lw PORT WORD: the server's answer to a four-letter word ("" if none), bounded (5 s).
zkb_4lw() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf %s "$1" >&3 && cat <&3' \
        "$1" "$2" 2>/dev/null || true
}

# Sets ZKB_PORT to the next port from ZKB_PORT_BASE that nothing listens on.
zkb_pick_port() {
    local p="$ZKB_NEXT_PORT"
    # SO_REUSEADDR as the servers set it: only a listener makes the port busy, not TIME_WAIT.
    while ! python3 -c 'import socket as S, sys; s = S.socket(); s.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()' \
        "$p" 2>/dev/null; do
        p=$((p + 1))
        [ "$p" -lt 65000 ] || zkb_die "no free port from ${ZKB_PORT_BASE:-24181}"
    done
    ZKB_PORT="$p"
    ZKB_NEXT_PORT=$((p + 1))
}

# zkb_cfg DATADIR PORT: the zoo.cfg both servers get.
zkb_cfg() {
    cat <<EOF
tickTime=$ZKB_TICK_MS
initLimit=10
syncLimit=5
dataDir=$1
clientPort=$2
clientPortAddress=127.0.0.1
forceSync=yes
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
autopurge.purgeInterval=0
EOF
}

# zkb_wait_ready NAME PID PORT DATADIR LOG: poll until `ruok` answers imok and `conf` reports
# DATADIR (so the server on PORT is ours), bounded (90 s).
zkb_wait_ready() {
    local name="$1" pid="$2" port="$3" data="$4" log="$5" i ok=""
    for i in $(seq 1 900); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited during startup; last lines of $log:" >&2
            tail -n 30 "$log" >&2
            return 1
        fi
        if [ "$(zkb_4lw "$port" ruok)" = "imok" ]; then
            ok=1
            # A fresh JVM may answer ruok before conf.
            if zkb_4lw "$port" conf | grep -q "^dataDir=$data"; then
                return 0
            fi
        fi
        sleep 0.1
    done
    if [ -n "$ok" ]; then
        echo "$name: 127.0.0.1:$port answers, but not with dataDir=$data: another server?" >&2
        zkb_4lw "$port" conf | head -5 >&2
    else
        echo "$name did not answer ruok on 127.0.0.1:$port within 90 s; last lines of $log:" >&2
        tail -n 30 "$log" >&2
    fi
    return 1
}

# zkb_start_zookeeper DIR: ZooKeeper standalone with data in DIR/data, log in DIR/server.log.
# Sets ZKB_STARTED_PORT, ZKB_STARTED_PID.
#
# Logging: the Debian jar logs through slf4j-api; Debian's zkEnv.sh puts /etc/zookeeper/conf
# (log4j.properties, rootLogger=${zookeeper.root.logger}) on the class path. A class path of
# /usr/share/java/* would bring six slf4j bindings (nop, simple, jdk14, jcl, log4j12, maven) and
# slf4j picks whichever the directory lists first (nop on this machine: no log at all). So the
# class path names the jar, slf4j-log4j12 and log4j 1.2 only, with a log4j.properties of the
# Debian shape in DIR: WARN and up to the console appender, which goes to DIR/server.log.
zkb_start_zookeeper() {
    local dir="$1"
    mkdir -p "$dir/data"
    zkb_pick_port
    local port="$ZKB_PORT"
    zkb_cfg "$dir/data" "$port" > "$dir/zoo.cfg"
    cat > "$dir/log4j.properties" <<'EOF'
log4j.rootLogger=${zookeeper.root.logger}
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
EOF
    local cp="$ZK_JAR_DIR/zookeeper.jar:$ZK_JAR_DIR/slf4j-log4j12.jar:$ZK_JAR_DIR/log4j-1.2.jar"
    local pin=()
    [ -n "${ZKB_SERVER_CPUS:-}" ] && pin=(taskset -c "$ZKB_SERVER_CPUS")
    # shellcheck disable=SC2086 # ZK_JVM_FLAGS is a list of flags
    (cd "$dir" && exec "${pin[@]}" "$JAVA" ${ZK_JVM_FLAGS:-} \
        -Dzookeeper.log.dir="$dir" -Dzookeeper.root.logger=WARN,CONSOLE \
        -Dlog4j.configuration="file:$dir/log4j.properties" \
        -cp "$cp" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" \
        > "$dir/server.log" 2>&1 < /dev/null) &
    local pid=$!
    ZKB_PIDS+=("$pid")
    zkb_wait_ready zookeeper "$pid" "$port" "$dir/data" "$dir/server.log" || return 1
    ZKB_STARTED_PORT="$port"
    ZKB_STARTED_PID="$pid"
}

# zkb_start_zkr DIR: zkr with the same zoo.cfg (data in DIR/data, log in DIR/server.log; log
# level warn, as ZooKeeper's). Sets ZKB_STARTED_PORT, ZKB_STARTED_PID.
zkb_start_zkr() {
    local dir="$1"
    mkdir -p "$dir/data"
    zkb_pick_port
    local port="$ZKB_PORT"
    zkb_cfg "$dir/data" "$port" > "$dir/zoo.cfg"
    (cd "$dir" && ZKR_LOG="${ZKR_LOG:-warn}" exec "$ZKR_BIN" server --config "$dir/zoo.cfg" \
        > "$dir/server.log" 2>&1 < /dev/null) &
    local pid=$!
    ZKB_PIDS+=("$pid")
    zkb_wait_ready zkr "$pid" "$port" "$dir/data" "$dir/server.log" || return 1
    ZKB_STARTED_PORT="$port"
    ZKB_STARTED_PID="$pid"
}

# zkb_alive NAME PID LOG: fails (with the log's tail) if the server is gone.
zkb_alive() {
    if ! kill -0 "$2" 2>/dev/null; then
        echo "$1 (pid $2) is gone; last lines of $3:" >&2
        tail -n 30 "$3" >&2
        return 1
    fi
}

# Stops the servers this script started (TERM, then KILL after 5 s) and removes the work dir
# unless ZKB_KEEP=1. For `trap zkb_cleanup EXIT`.
zkb_cleanup() {
    local pid i
    for pid in "${ZKB_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${ZKB_PIDS[@]}"; do
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    ZKB_PIDS=()
    if [ -n "$ZKB_WORK" ] && [ -d "$ZKB_WORK" ]; then
        if [ "$ZKB_KEEP" = 1 ]; then
            zkb_log "kept $ZKB_WORK"
        else
            rm -rf "$ZKB_WORK"
        fi
    fi
}

# zkb_trap: run zkb_cleanup on exit and on INT/TERM.
zkb_trap() {
    trap zkb_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
