#!/usr/bin/env bash
# Storage benchmark: zkr against Apache ZooKeeper 3.8 on this machine (bench/storage.rs).
#
# usage: bench/storage.sh [--quick] [--reps N] [--secs S] [--znodes N] [other bench options]
#
# Builds the release zkr, checks for Apache ZooKeeper (Debian: apt-get install zookeeper), then
# runs `cargo bench --bench storage -- ARGS`. Results: the table on stdout and
# target/bench-storage.json. The servers run on 127.0.0.1 only and are killed on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! grep -q '^name = "storage"' Cargo.toml; then
    cat >&2 <<'EOF'
storage.sh: the benchmark is not registered; add to Cargo.toml:

[[bench]]
name = "storage"
path = "bench/storage.rs"
harness = false
EOF
    exit 2
fi
if [ ! -f "${ZK_JAR_DIR:-/usr/share/java}/zookeeper.jar" ]; then
    echo "storage.sh: Apache ZooKeeper not found: apt-get install zookeeper" >&2
    exit 2
fi
if ! command -v "${JAVA:-java}" >/dev/null 2>&1; then
    echo "storage.sh: java not found: apt-get install zookeeper (it brings a JRE)" >&2
    exit 2
fi

cargo build --release --bin zkr
exec cargo bench --bench storage -- "$@"
