#!/usr/bin/env bash
# Fan-out across 1, 2 and 3 Relay nodes joined through Redis (issue 7): what the Redis hop adds.
# Subscribers are spread round-robin over the nodes; every message is published through node 1's
# HTTP API, so with 2 or 3 nodes most deliveries cross Redis. Prints a Markdown table.
#
#   cargo build --release -p relay-server -p relay-bench && scripts/bench/cluster.sh
#
# Env: SUBS (default 600), RATE (200/s), SECS (8), RUNS (3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SUBS=${SUBS:-600}; RATE=${RATE:-200}; SECS=${SECS:-8}; RUNS=${RUNS:-3}
BIN=target/release/relay-server; BENCH=target/release/relay-bench
REDIS_PORT=16379
redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no --daemonize yes >/dev/null
trap 'redis-cli -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || true; kill ${PIDS:-} 2>/dev/null || true' EXIT

cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }

echo "| nodes | runs | delivered msg/s (median) | p50 ms (median) | p99 ms (median) | lost | duplicates | server CPU µs per delivered message (all nodes) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for nodes in 1 2 3; do
  rates=(); p50s=(); p99s=(); cpus=(); lost=0; dups=0
  for run in $(seq 1 "$RUNS"); do
    PIDS=""; urls=""
    redis-cli -p $REDIS_PORT flushall >/dev/null
    for i in $(seq 1 "$nodes"); do
      port=$((16400 + i))
      REDIS_URL=redis://127.0.0.1:$REDIS_PORT RELAY_NODE_ID=bench-$i RELAY_BIND=127.0.0.1:$port RUST_LOG=warn \
        taskset -c 0 "$BIN" >/dev/null 2>&1 &
      PIDS="$PIDS $!"; urls="${urls:+$urls,}ws://127.0.0.1:$port"
    done
    for i in $(seq 1 "$nodes"); do
      for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$((16400 + i))/ready" >/dev/null && break; sleep 0.1; done
    done
    before=$(cpu_ticks $PIDS)
    out=$(taskset -c 1 "$BENCH" --ws-url "$urls" --http-url http://127.0.0.1:16401 fanout -n "$SUBS" -r "$RATE" -t "$SECS" 2>/dev/null | tail -1)
    after=$(cpu_ticks $PIDS)
    kill $PIDS 2>/dev/null || true; wait $PIDS 2>/dev/null || true; PIDS=""
    read -r rate p50 p99 delivered l d < <(python3 -c '
import json,sys
r=json.loads(sys.argv[1])
print(r["delivered_per_s"], r["latency"]["p50_ms"], r["latency"]["p99_ms"], r["delivered"], r["lost"], r["duplicates"])' "$out")
    rates+=("$rate"); p50s+=("$p50"); p99s+=("$p99"); lost=$((lost + ${l%.*})); dups=$((dups + ${d%.*}))
    cpus+=("$(python3 -c "print(round(($after-$before)*1e6/100/max(1,$delivered),2))")")
  done
  med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  echo "| $nodes | $RUNS | $(med "${rates[@]}") | $(med "${p50s[@]}") | $(med "${p99s[@]}") | $lost | $dups | $(med "${cpus[@]}") |"
done
