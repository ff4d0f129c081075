#!/usr/bin/env bash
# Relay against sockudo, side by side, with relay-bench (crates/relay-bench). Not part of CI.
#
#   scripts/bench/compare.sh            # full sizes (about an hour on 2 cores)
#   QUICK=1 scripts/bench/compare.sh    # small sizes (a few minutes)
#
# Installs sockudo if missing (protobuf-compiler, then `cargo install sockudo --locked`: a
# long build), builds relay-server and relay-bench in release mode (from a `git archive` of
# BUILD_FROM, default HEAD; BUILD_FROM=worktree for the working tree; or RELAY_BIN + BENCH_BIN),
# pins each server to core $SERVER_CORE and the load generator to core $BENCH_CORE, runs every
# scenario $REPS times per server, alternating the servers, and writes the table of medians
# with the ratio Relay/sockudo between the "measured" markers of docs/BENCHMARKS.md (NO_DOC=1:
# leave the doc alone). Each server is started fresh for every run.
# Only loopback addresses are used; every run is bounded in time.
#
# Environment (defaults: full / QUICK=1):
#   REPS (3)  SCENARIOS ("floor fanout fanout-max channels idle storm presence publish slow";
#   floor runs relay-bench's null server, the cost of one send per delivery, instead of a server)
#   SERVER_CORE (0)  BENCH_CORE (1)  PORT (16001)  WORK (a new /tmp/relay-bench.XXXX)
#   FANOUT_SUBS (1000/500)  FANOUT_RATE (60/150)  DURATION (10/5)
#   FMAX_SUBS (1000/500)  FMAX_STEP_S (5/3)  FMAX_STEPS (10/8)  FMAX_START (100/100)
#   CHANNELS_N (5000/2000)  CHANNELS_RATE (2000/1000)
#   IDLE_N (19000/19000)  STORM_N (10000/5000)  PRESENCE_N (5000/2000)
#   PUBLISH_C (16)  PUBLISH_S (10/5)  SLOW_SUBS (50)  SLOW_RATE (400)  SLOW_PAD (8000)  SLOW_S (10)
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
QUICK=${QUICK:-0}
q() { if [ "$QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi; }

REPS=${REPS:-3}
SCENARIOS=${SCENARIOS:-"floor fanout fanout-max channels idle storm presence publish slow"}
SERVER_CORE=${SERVER_CORE:-0}
BENCH_CORE=${BENCH_CORE:-1}
PORT=${PORT:-16001}
METRICS_PORT=$((PORT + 90))
WORK=${WORK:-$(mktemp -d /tmp/relay-bench.XXXX)}
mkdir -p "$WORK"

FANOUT_SUBS=${FANOUT_SUBS:-$(q 1000 500)}
FANOUT_RATE=${FANOUT_RATE:-$(q 60 150)}
DURATION=${DURATION:-$(q 10 5)}
FMAX_SUBS=${FMAX_SUBS:-$(q 1000 500)}
FMAX_STEP_S=${FMAX_STEP_S:-$(q 5 3)}
FMAX_STEPS=${FMAX_STEPS:-$(q 10 8)}
FMAX_START=${FMAX_START:-100}
CHANNELS_N=${CHANNELS_N:-$(q 5000 2000)}
CHANNELS_RATE=${CHANNELS_RATE:-$(q 2000 1000)}
IDLE_N=${IDLE_N:-19000}
STORM_N=${STORM_N:-$(q 10000 5000)}
PRESENCE_N=${PRESENCE_N:-$(q 5000 2000)}
PUBLISH_C=${PUBLISH_C:-16}
PUBLISH_S=${PUBLISH_S:-$(q 10 5)}
# The never-reading consumer must be sent more than its socket buffers and the server's
# per-connection queue hold (about 10 MB + 1000 frames here) for the test to mean anything.
SLOW_SUBS=${SLOW_SUBS:-50}
SLOW_RATE=${SLOW_RATE:-400}
SLOW_PAD=${SLOW_PAD:-8000}
SLOW_S=${SLOW_S:-10}

APP_ID=bench-app
KEY=bench-key
SECRET=bench-secret

log() { echo "[compare $(date +%H:%M:%S)] $*" >&2; }

# --- sockudo -------------------------------------------------------------------------------
SOCKUDO=${SOCKUDO:-$(command -v sockudo || echo "$HOME/.cargo/bin/sockudo")}
if [ ! -x "$SOCKUDO" ]; then
    log "installing sockudo (a long build)"
    if ! command -v protoc >/dev/null; then
        apt-get install -y protobuf-compiler >&2 || { apt-get update >&2 && apt-get install -y protobuf-compiler >&2; }
    fi
    cargo install sockudo --locked >&2
    SOCKUDO="$HOME/.cargo/bin/sockudo"
fi
SOCKUDO_VERSION=$(cargo install --list | sed -n 's/^sockudo v\([^:]*\):$/\1/p')

# --- build -----------------------------------------------------------------------------------
# BUILD_FROM=HEAD (default) builds a `git archive` export of that revision, so the measured
# binary is exactly a commit even while others edit the working tree; BUILD_FROM=worktree
# builds the working tree as it is; RELAY_BIN and BENCH_BIN use given binaries.
BUILD_FROM=${BUILD_FROM:-HEAD}
if [ -n "${RELAY_BIN:-}" ] && [ -n "${BENCH_BIN:-}" ]; then
    BUILT="given binaries"
    RELAY=$RELAY_BIN
    BENCH=$BENCH_BIN
else
    if [ "$BUILD_FROM" = worktree ]; then
        SRC=$ROOT
        TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
        BUILT="working tree on $(git rev-parse --short HEAD)"
    else
        SRC="$ROOT/target/bench-src"
        TARGET_DIR="$ROOT/target/bench-target"
        rm -rf "$SRC" && mkdir -p "$SRC"
        git archive "$BUILD_FROM" | tar -x -C "$SRC"
        BUILT="commit $(git rev-parse --short "$BUILD_FROM")"
    fi
    log "building relay-server and relay-bench (release) from $BUILT"
    (cd "$SRC" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release -p relay-server -p relay-bench >&2)
    RELAY="$TARGET_DIR/release/relay-server"
    BENCH="$TARGET_DIR/release/relay-bench"
fi
cp "$RELAY" "$WORK/relay-server"   # run one fixed copy even if a rebuild happens meanwhile
cp "$BENCH" "$WORK/relay-bench"
RELAY="$WORK/relay-server"
BENCH="$WORK/relay-bench"

cat >"$WORK/relay.toml" <<TOML
bind = "127.0.0.1:$PORT"
workers = 0   # one per CPU it may run on: 1 under taskset

[[apps]]
id = "$APP_ID"
key = "$KEY"
secret = "$SECRET"
max_connections = 0
TOML

# sockudo, configured fairly: rate limiter off, connection limits raised, memory queue and
# cache, local adapter, same app; a 1 s shutdown grace so runs restart quickly. Everything else
# is sockudo's default (metrics on, like Relay's /metrics).
cat >"$WORK/sockudo.json" <<JSON
{
  "debug": false,
  "host": "127.0.0.1",
  "shutdown_grace_period": 1,
  "port": $PORT,
  "adapter": { "driver": "local" },
  "app_manager": {
    "driver": "memory",
    "array": { "apps": [ {
      "id": "$APP_ID", "key": "$KEY", "secret": "$SECRET", "enabled": true,
      "enable_client_messages": false,
      "max_connections": 1000000,
      "max_client_events_per_second": 10000,
      "max_presence_members_per_channel": 100
    } ] }
  },
  "cache": { "driver": "memory" },
  "queue": { "driver": "memory" },
  "rate_limiter": { "enabled": false, "driver": "memory" },
  "metrics": { "enabled": true, "host": "127.0.0.1", "port": $METRICS_PORT }
}
JSON

SERVER_PID=
start_server() { # $1 = relay | sockudo | floor
    local name=$1
    if [ "$name" = floor ]; then
        taskset -c "$SERVER_CORE" "$BENCH" null-server --bind "127.0.0.1:$PORT" \
            --rate "$FANOUT_RATE" >>"$WORK/floor.log" 2>&1 &
        SERVER_PID=$!
        for _ in $(seq 1 100); do
            if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$PORT" 2>/dev/null; then
                return 0
            fi
            sleep 0.1
        done
        log "the null server did not listen on $PORT"
        return 1
    elif [ "$name" = relay ]; then
        env -i PATH="$PATH" HOME="$HOME" RUST_LOG=info \
            taskset -c "$SERVER_CORE" "$RELAY" --config "$WORK/relay.toml" \
            >>"$WORK/relay.log" 2>&1 &
    else
        # sockudo reads many variables (PORT, HOST, ...): start it with a clean environment.
        (cd "$WORK" && exec env -i PATH="$PATH" HOME="$HOME" \
            taskset -c "$SERVER_CORE" "$SOCKUDO" --config "$WORK/sockudo.json" \
            >>"$WORK/sockudo.log" 2>&1) &
    fi
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "$name exited at start; see $WORK/$name.log"
            return 1
        fi
        sleep 0.1
    done
    log "$name did not listen on $PORT within 20 s"
    return 1
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
trap stop_server EXIT

scenario_args() { # $1 = scenario
    case $1 in
        floor) echo "floor -n $FANOUT_SUBS -t $DURATION" ;;
        fanout) echo "fanout -n $FANOUT_SUBS -r $FANOUT_RATE -t $DURATION" ;;
        fanout-max) echo "fanout-max -n $FMAX_SUBS -t $FMAX_STEP_S --drain 3 --start-rate $FMAX_START --max-steps $FMAX_STEPS --p99-limit-ms 50" ;;
        channels) echo "channels -n $CHANNELS_N -r $CHANNELS_RATE -t $DURATION" ;;
        idle) echo "idle -n $IDLE_N --settle 3" ;;
        storm) echo "storm -n $STORM_N" ;;
        presence) echo "presence -n $PRESENCE_N --members 100" ;;
        publish) echo "publish -c $PUBLISH_C -t $PUBLISH_S" ;;
        slow) echo "slow -n $SLOW_SUBS -r $SLOW_RATE -t $SLOW_S --pad $SLOW_PAD --slow 1" ;;
        *) log "unknown scenario $1"; return 1 ;;
    esac
}

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
log "work dir $WORK; quick=$QUICK reps=$REPS; sockudo $SOCKUDO_VERSION"
uptime >"$WORK/load.txt"
started=$(date +%s)
for scenario in $SCENARIOS; do
    args=$(scenario_args "$scenario")
    for rep in $(seq 1 "$REPS"); do
        if [ "$scenario" = floor ]; then order=floor
        elif [ $((rep % 2)) = 1 ]; then order="relay sockudo"; else order="sockudo relay"; fi
        for server in $order; do
            log "$scenario #$rep $server: relay-bench $args"
            load_before=$(cut -d' ' -f1 /proc/loadavg)
            if ! start_server "$server"; then
                echo "{\"scenario\":\"$scenario\",\"label\":\"$server\",\"rep\":$rep,\"error\":\"server did not start\"}" >>"$RESULTS"
                stop_server
                continue
            fi
            # shellcheck disable=SC2086
            if line=$(timeout 900 taskset -c "$BENCH_CORE" "$BENCH" \
                --ws-url "ws://127.0.0.1:$PORT" --http-url "http://127.0.0.1:$PORT" \
                --app-id "$APP_ID" --key "$KEY" --secret "$SECRET" \
                --server-pid "$SERVER_PID" --label "$server" $args 2>>"$WORK/bench.log"); then
                echo "$line" | python3 -c '
import json, sys
v = json.loads(sys.stdin.read())
v["rep"] = int(sys.argv[1]); v["loadavg_before"] = float(sys.argv[2])
print(json.dumps(v))' "$rep" "$load_before" >>"$RESULTS"
            else
                echo "{\"scenario\":\"$scenario\",\"label\":\"$server\",\"rep\":$rep,\"error\":\"relay-bench failed\"}" >>"$RESULTS"
            fi
            stop_server
            uptime >>"$WORK/load.txt"
            sleep 1
        done
    done
done
elapsed=$(( $(date +%s) - started ))

COMMAND=scripts/bench/compare.sh
if [ "$REPS" != 3 ]; then COMMAND="REPS=$REPS $COMMAND"; fi
if [ "$QUICK" = 1 ]; then COMMAND="QUICK=1 $COMMAND"; fi
python3 "$ROOT/scripts/bench/report.py" "$RESULTS" \
    --command "$COMMAND" --sockudo-version "$SOCKUDO_VERSION" --elapsed "$elapsed" \
    --commit "$BUILT" --quick "$QUICK" \
    --sizes "fanout ${FANOUT_SUBS} subs @ ${FANOUT_RATE}/s ${DURATION}s; fanout-max ${FMAX_SUBS} subs, ${FMAX_STEP_S}s steps; channels ${CHANNELS_N} @ ${CHANNELS_RATE}/s; idle ${IDLE_N}; storm ${STORM_N}; presence ${PRESENCE_N} (100/channel); publish ${PUBLISH_C} requesters ${PUBLISH_S}s; slow ${SLOW_SUBS} subs @ ${SLOW_RATE}/s ${SLOW_PAD} B ${SLOW_S}s + 1 never-reading" \
    >"$WORK/table.md"
cat "$WORK/table.md"
if [ "${NO_DOC:-0}" != 1 ]; then
    python3 "$ROOT/scripts/bench/report.py" --splice "$ROOT/docs/BENCHMARKS.md" "$WORK/table.md"
    log "wrote docs/BENCHMARKS.md"
fi
log "raw results: $RESULTS (server logs and bench stderr beside it)"
