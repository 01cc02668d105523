#!/usr/bin/env bash
# Runs bootstrap-bench against a fresh loopback deployment (provisiond init,
# mosquitto, provisiond serve) with the response-time floor on and off.
#   tools/bench/bootstrap_bench.sh BUILD_DIR [CLIENTS] [REQUESTS] [THREADS]
set -euo pipefail
build=$(cd "$1" && pwd); clients=${2:-100}; requests=${3:-20}; threads=${4:-8}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
run() {
  local floor=$1 dir; dir=$(mktemp -d /tmp/bootstrap-bench-XXXXXX)
  local mqtt pw http admin; mqtt=$(free_port); pw=$(free_port); http=$(free_port); admin=$(free_port)
  "$build/service/provisiond" init --dir "$dir" --mqtt-port "$mqtt" --password-port "$pw" --bootstrap-port "$http" \
    --admin-port "$admin" --plugin "$build/mosquitto-plugin/mosquitto_provision.so" >/dev/null
  python3 - "$dir/provisiond.json" "$floor" "$threads" <<'PY'
import json, sys
p, floor, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = json.load(open(p))
c["bootstrap"].update({"responseFloorMs": floor, "requestsPerIpPerMinute": 0, "requestsPerMacPerMinute": 0, "threads": threads})
json.dump(c, open(p, "w"), indent=2)
PY
  mosquitto -c "$dir/mosquitto.conf" >/dev/null 2>&1 & local broker=$!
  sleep 0.5
  "$build/service/provisiond" serve --config "$dir/provisiond.json" >/dev/null 2>&1 & local worker=$!
  for _ in $(seq 50); do grep -q "provisiond ready" "$dir/provisiond.log" 2>/dev/null && break; sleep 0.1; done
  echo "== floor ${floor} ms, ${threads} server threads"
  "$build/tools/bench/bootstrap-bench" --port "$http" --clients "$clients" --requests "$requests"
  kill "$worker" "$broker"; wait "$worker" "$broker" 2>/dev/null || true
  rm -rf "$dir"
}
run 100
run 0
