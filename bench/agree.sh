#!/usr/bin/env bash
# Agreement check of the load generator: the same closed-loop get/set workload driven by
# `zkr bench` (zkr's own glommio client) and by bench/zkclient.rs (the independent
# `zookeeper-client` crate on tokio) against one Apache ZooKeeper, interleaved, so that we can
# say whether the two clients measure the same server alike (within the rep-to-rep noise).
#
# usage: bench/agree.sh [--reps N] [--duration S] [--warmup S] [--sessions N] [--outstanding K]
#                       [--workloads get,set] [--against zookeeper|zkr] [--out DIR]
#                       [--split-cpus] [--workdir DIR] [--keep]
#
#   --reps N         repetitions (3), the first client alternating per rep
#   --duration S     seconds measured per run (5);  --warmup S: seconds before measuring (1)
#   --prewarm S      unrecorded get/set load first, for the JVM's JIT (3; 0: none)
#   --sessions N, --outstanding K   the shape (16 x 16); 100-byte values on 1000 keys
#   --against        the server started: zookeeper (default) or zkr
#   --split-cpus     ZooKeeper on CPU 0 only and both clients on the other CPUs (taskset), so
#                    that the clients' own CPU use does not take CPU from the server it
#                    measures (with all on the same CPUs, a client that uses more CPU measures
#                    a slower ZooKeeper). zkr's executors pin themselves, so this is for
#                    --against zookeeper.
#   --out DIR        results (default target/bench-agree): results/<workload>-<client>-<rep>.json,
#                    agree.md
#
# Environment: as bench/compare.sh (ZKR_BIN, JAVA, ZK_JAR_DIR, ZK_JVM_FLAGS, ZKB_PORT_BASE).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT="$ZKB_ROOT"

REPS=3
DURATION=5
WARMUP=1
PREWARM=3
SESSIONS=16
OUTSTANDING=16
WORKLOADS="get,set"
AGAINST=zookeeper
SPLIT=0
OUT="target/bench-agree"
WORKDIR_PARENT="${TMPDIR:-/tmp}"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --prewarm) PREWARM="$2"; shift 2 ;;
        --sessions) SESSIONS="$2"; shift 2 ;;
        --outstanding) OUTSTANDING="$2"; shift 2 ;;
        --workloads) WORKLOADS="$2"; shift 2 ;;
        --against) AGAINST="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --workdir) WORKDIR_PARENT="$2"; shift 2 ;;
        --keep) ZKB_KEEP=1; shift ;;
        --split-cpus) SPLIT=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || zkb_die "--reps $REPS: want a positive integer"
case "$AGAINST" in zookeeper|zkr) ;; *) zkb_die "--against $AGAINST: want zookeeper or zkr" ;; esac
IFS=',' read -r -a WLS <<< "$WORKLOADS"
for w in "${WLS[@]}"; do
    case "$w" in get|set) ;; *) zkb_die "--workloads: $w: want get or set" ;; esac
done

case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
rm -rf "$OUT/results"
rm -f "$OUT/agree.md"
mkdir -p "$OUT/results"

[ "$AGAINST" = zookeeper ] && zkb_ensure_zookeeper
zkb_ensure_zkr
zkb_log "cargo bench --bench zkclient --no-run"
ZKCLIENT="$(cd "$ROOT" && cargo bench --bench zkclient --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for ln in sys.stdin:
    m = json.loads(ln)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "zkclient" and m.get("executable"):
        print(m["executable"])')"
[ -x "$ZKCLIENT" ] || zkb_die "could not build the zkclient bench (cargo bench --bench zkclient --no-run)"

CLIENT_PIN=()
if [ "$SPLIT" = 1 ]; then
    [ "$AGAINST" = zookeeper ] || zkb_die "--split-cpus is for --against zookeeper"
    last=$(( $(nproc) - 1 ))
    [ "$last" -ge 1 ] || zkb_die "--split-cpus needs at least 2 CPUs"
    export ZKB_SERVER_CPUS=0
    CLIENT_PIN=(taskset -c "1-$last")
fi

zkb_make_work "$WORKDIR_PARENT"
zkb_trap
ZKR_BIN="$(zkb_pin "$ZKR_BIN" zkr-bin)"
ZKCLIENT="$(zkb_pin "$ZKCLIENT" zkclient-bin)"
"zkb_start_$AGAINST" "$ZKB_WORK/$AGAINST" || exit 1
ADDR="127.0.0.1:$ZKB_STARTED_PORT"
PID="$ZKB_STARTED_PID"
LOG="$ZKB_WORK/$AGAINST/server.log"
zkb_log "$AGAINST on $ADDR (pid $PID)"
{
    echo "against=$AGAINST"
    echo "reps=$REPS"
    echo "duration=$DURATION"
    echo "warmup=$WARMUP"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    if [ "$SPLIT" = 1 ]; then echo "cpus=ZooKeeper on CPU 0, clients on CPUs ${CLIENT_PIN[2]}"; fi
} > "$OUT/run.txt"

BOUND="$(python3 -c 'import sys; print(int(float(sys.argv[1]) + float(sys.argv[2]) + 180))' "$DURATION" "$WARMUP")"

# run_client CLIENT WORKLOAD PREFIX
run_client() {
    local client="$1" w="$2" prefix="$3"
    zkb_alive "$AGAINST" "$PID" "$LOG" || exit 1
    local cmd
    if [ "$client" = zkr-bench ]; then
        cmd=("$ZKR_BIN" bench -s "$ADDR" -w "$w" --sessions "$SESSIONS" -k "$OUTSTANDING"
             --payload 100 --keys 1000 --duration "$DURATION" --warmup "$WARMUP" -q
             --label "zkr-bench $w ${SESSIONS}x$OUTSTANDING" --json "$prefix.json")
    else
        cmd=("$ZKCLIENT" --server "$ADDR" --workload "$w" --sessions "$SESSIONS"
             --outstanding "$OUTSTANDING" --payload 100 --keys 1000 --duration "$DURATION"
             --warmup "$WARMUP" --json "$prefix.json")
    fi
    if timeout -k 10 "$BOUND" "${CLIENT_PIN[@]}" "${cmd[@]}" > "$prefix.txt" 2>&1; then
        zkb_log "rep $rep/$REPS $(python3 "$ROOT/bench/compare.py" --line "$prefix.json")"
    else
        rm -f "$prefix.json"
        echo "  FAILED: $client $w (see $prefix.txt):" >&2
        tail -n 5 "$prefix.txt" | sed 's/^/    /' >&2
    fi
}

if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$PREWARM"; then
    zkb_log "prewarm: mixed 50% reads for $PREWARM s (not recorded)"
    timeout -k 10 120 "$ZKR_BIN" bench -s "$ADDR" -w mixed --read-ratio 0.5 --duration "$PREWARM" \
        --warmup 0 -q > "$OUT/results/prewarm.txt" 2>&1 || zkb_log "prewarm failed (see $OUT/results/prewarm.txt)"
fi

for rep in $(seq 1 "$REPS"); do
    if [ $((rep % 2)) = 1 ]; then order=(zkr-bench zookeeper-client); else order=(zookeeper-client zkr-bench); fi
    for w in "${WLS[@]}"; do
        for client in "${order[@]}"; do
            run_client "$client" "$w" "$OUT/results/$w-$client-$rep"
        done
    done
done
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/run.txt"

python3 "$ROOT/bench/compare.py" --agree "$OUT"
