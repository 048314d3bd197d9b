#!/usr/bin/env bash
# Side-by-side benchmark: zkr against Apache ZooKeeper 3.8 (Debian package) on this machine,
# both standalone, same zoo.cfg, data dirs on the same disk, driven by `zkr bench`.
#
# usage: bench/compare.sh [--reps N] [--duration S] [--warmup S] [--prewarm S]
#                         [--only "get 16x16,set 1x1"] [--out DIR] [--workdir DIR] [--keep]
#
#   --reps N       repetitions (3); each rep runs every workload on both servers, alternating
#                  which server goes first (rep 1: ZooKeeper first)
#   --duration S   seconds measured per run (5);  --warmup S: seconds before measuring (1)
#   --prewarm S    unrecorded mixed load on each server before rep 1, for the JVM's JIT (3; 0: none)
#   --only LIST    comma separated workload names from WORKLOADS below
#   --out DIR      results (default target/bench-compare): results/<workload>-<server>-<rep>.json
#                  (and .txt, the table), fsync-*.json, floor-*.json, report.md, summary.json,
#                  plots/*.svg
#   --workdir DIR  parent of the temp work dir holding both data dirs (default $TMPDIR or /tmp)
#   --keep         keep the work dir (data dirs, zoo.cfg, server logs)
#
# Environment: ZKR_BIN (skip the release build and use this binary), JAVA, ZK_JAR_DIR,
# ZK_JVM_FLAGS, ZKB_PORT_BASE (see bench/lib.sh). The servers listen on 127.0.0.1 only and are
# stopped on exit. Then bench/compare.py writes and prints the report with the targets.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT="$ZKB_ROOT"

# The workloads: "name|zkr bench arguments", one a line.
WORKLOADS=(
    "get 16x16|-w get --sessions 16 -k 16"
    "set 16x16|-w set --sessions 16 -k 16"
    "mixed 16x16|-w mixed --sessions 16 -k 16 --read-ratio 0.9"
    "set 1x1|-w set --sessions 1 -k 1"
    "create-seq 16x16|-w create-seq --sessions 16 -k 16"
    "multi 16x16|-w multi --sessions 16 -k 16"
    "exists 16x16|-w exists --sessions 16 -k 16"
    "children 16x16|-w children --sessions 16 -k 16"
    "watch 1000|-w watch --watchers 1000"
    "sessions 16|-w sessions --sessions 16 -k 1"
    "lock 16|-w lock --sessions 16 -k 1"
)

REPS=3
DURATION=5
WARMUP=1
PREWARM=3
ONLY=""
OUT="target/bench-compare"
WORKDIR_PARENT="${TMPDIR:-/tmp}"
# Topology. Only standalone exists: a 3-node ensemble needs replication in zkr first. The
# servers are named in SERVERS and started by start_servers; an ensemble mode would start three
# of each there and give `zkr bench` all three addresses (SERVER_ADDRS).
MODE=standalone
SERVERS=(zookeeper zkr)
declare -A SERVER_ADDRS=() SERVER_PID=() SERVER_LOG=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --prewarm) PREWARM="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --workdir) WORKDIR_PARENT="$2"; shift 2 ;;
        --keep) ZKB_KEEP=1; shift ;;
        --ensemble) zkb_die "--ensemble: not available (zkr has no replication yet)" ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || zkb_die "--reps $REPS: want a positive integer"

# The selected workloads, in WORKLOADS order.
SELECTED=()
if [ -n "$ONLY" ]; then
    IFS=',' read -r -a wanted <<< "$ONLY"
    for w in "${wanted[@]}"; do
        w="$(echo "$w" | xargs)"
        found=""
        for line in "${WORKLOADS[@]}"; do
            [ "${line%%|*}" = "$w" ] && found=1
        done
        [ -n "$found" ] || zkb_die "--only: unknown workload '$w' (known: $(printf '%s, ' "${WORKLOADS[@]%%|*}"))"
    done
    for line in "${WORKLOADS[@]}"; do
        for w in "${wanted[@]}"; do
            [ "${line%%|*}" = "$(echo "$w" | xargs)" ] && SELECTED+=("$line")
        done
    done
else
    SELECTED=("${WORKLOADS[@]}")
fi

case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
mkdir -p "$OUT"
rm -rf "$OUT/results" "$OUT/plots"
rm -f "$OUT"/{report.md,summary.json,run.txt,workloads.txt,fsync-start.json,fsync-end.json,floor-start.json,floor-end.json}
mkdir -p "$OUT/results" "$OUT/plots"

zkb_ensure_zookeeper
zkb_ensure_zkr
zkb_make_work "$WORKDIR_PARENT"
zkb_trap
ZKR_BIN_GIVEN="$ZKR_BIN"
ZKR_BIN="$(zkb_pin "$ZKR_BIN" zkr-bin)"

start_servers() {
    case "$MODE" in
        standalone)
            local s
            for s in "${SERVERS[@]}"; do
                "zkb_start_$s" "$ZKB_WORK/$s" || exit 1
                SERVER_ADDRS[$s]="127.0.0.1:$ZKB_STARTED_PORT"
                SERVER_PID[$s]="$ZKB_STARTED_PID"
                SERVER_LOG[$s]="$ZKB_WORK/$s/server.log"
                zkb_log "$s on ${SERVER_ADDRS[$s]} (pid $ZKB_STARTED_PID)"
            done
            ;;
        *) zkb_die "mode $MODE: not available" ;;
    esac
}

# bench_run SERVER FILE_PREFIX LABEL ARGS...: one `zkr bench` run; the table to PREFIX.txt, the
# JSON to PREFIX.json (none if the run failed). Bounded: duration + warm-up + 3 min.
bench_run() {
    local srv="$1" prefix="$2" label="$3"
    shift 3
    zkb_alive "$srv" "${SERVER_PID[$srv]}" "${SERVER_LOG[$srv]}" || exit 1
    local bound
    bound="$(python3 -c 'import sys; print(int(float(sys.argv[1]) + float(sys.argv[2]) + 180))' "$DURATION" "$WARMUP")"
    if timeout -k 10 "$bound" "$ZKR_BIN" bench -s "${SERVER_ADDRS[$srv]}" "$@" \
        --duration "$DURATION" --warmup "$WARMUP" -q --label "$label" --json "$prefix.json" \
        > "$prefix.txt" 2>&1; then
        return 0
    fi
    rm -f "$prefix.json"
    echo "  FAILED: $label (see $prefix.txt):" >&2
    tail -n 5 "$prefix.txt" | sed 's/^/    /' >&2
    return 1
}

{
    echo "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        echo "dirty=1"
    else
        echo "dirty=0"
    fi
    echo "zkr_bin=$ZKR_BIN_GIVEN (sha256 $(sha256sum "$ZKR_BIN" | cut -c1-12), $(date -u -r "$ZKR_BIN_GIVEN" '+%Y-%m-%d %H:%M:%S UTC'))"
    echo "java=$("$JAVA" -version 2>&1 | head -n 1)"
    echo "zk_jvm_flags=${ZK_JVM_FLAGS:-}"
    echo "mode=$MODE"
    echo "reps=$REPS"
    echo "duration=$DURATION"
    echo "warmup=$WARMUP"
    echo "prewarm=$PREWARM"
    echo "workdir=$ZKB_WORK"
    echo "filesystem=$(df -T "$ZKB_WORK" | awk 'NR==2 {print $1 " (" $2 ")"}')"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/run.txt"
printf '%s\n' "${SELECTED[@]}" > "$OUT/workloads.txt"

zkb_log "disk floor: zkr bench fsync $ZKB_WORK"
"$ZKR_BIN" bench fsync "$ZKB_WORK" --json > "$OUT/fsync-start.json"
zkb_log "machine floor: zkr bench floor $ZKB_WORK (bare kernel calls, no server)"
"$ZKR_BIN" bench floor "$ZKB_WORK" --json > "$OUT/floor-start.json" ||
    zkb_log "zkr bench floor failed; the report goes without it"

start_servers
echo "zookeeper_version=$(zkb_4lw "${SERVER_ADDRS[zookeeper]##*:}" srvr | sed -n 's/^Zookeeper version: //p' | head -n 1)" >> "$OUT/run.txt"

if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$PREWARM"; then
    for srv in "${SERVERS[@]}"; do
        zkb_log "prewarm $srv: mixed 16x16 for $PREWARM s (not recorded)"
        zkb_alive "$srv" "${SERVER_PID[$srv]}" "${SERVER_LOG[$srv]}" || exit 1
        timeout -k 10 120 "$ZKR_BIN" bench -s "${SERVER_ADDRS[$srv]}" -w mixed --read-ratio 0.5 \
            --duration "$PREWARM" --warmup 0 -q > "$OUT/results/prewarm-$srv.txt" 2>&1 ||
            zkb_log "prewarm $srv failed (see $OUT/results/prewarm-$srv.txt)"
    done
fi

FAILED=0
for rep in $(seq 1 "$REPS"); do
    if [ $((rep % 2)) = 1 ]; then order=(zookeeper zkr); else order=(zkr zookeeper); fi
    for line in "${SELECTED[@]}"; do
        name="${line%%|*}"
        read -r -a args <<< "${line#*|}"
        slug="${name// /-}"
        for srv in "${order[@]}"; do
            prefix="$OUT/results/$slug-$srv-$rep"
            if bench_run "$srv" "$prefix" "$srv $name" "${args[@]}"; then
                zkb_log "rep $rep/$REPS $(python3 "$ROOT/bench/compare.py" --line "$prefix.json")"
            else
                FAILED=$((FAILED + 1))
            fi
        done
    done
done

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/run.txt"
echo "failed_runs=$FAILED" >> "$OUT/run.txt"
zkb_log "disk floor again"
"$ZKR_BIN" bench fsync "$ZKB_WORK" --json > "$OUT/fsync-end.json"
"$ZKR_BIN" bench floor "$ZKB_WORK" --json > "$OUT/floor-end.json" ||
    zkb_log "zkr bench floor failed; the report goes without it"

python3 "$ROOT/bench/compare.py" --out "$OUT" --zkr "$ZKR_BIN"
