#!/usr/bin/env bash
# README command 1 as a user runs it: `scripts/demo` provisions a device and
# leaves nothing running; `scripts/demo --serve DIR` writes DIR/stack.env that
# another client can use, and stops everything on SIGTERM.
# Usage: demo_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export BUILD_DIR=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$root/scripts/demo" 2>&1) || fail "scripts/demo exited non-zero: $out"
grep -q "thing name:      demo-SN" <<<"$out" || fail "no thing name in: $out"
grep -q "certificate id:  [0-9a-f]\{64\}" <<<"$out" || fail "no certificate id in: $out"
grep -q "first publish:   devices/demo-SN[0-9]*/telemetry -> accepted" <<<"$out" || fail "first publish not accepted: $out"
grep -q "mac device:      esp-[0-9A-F]\{12\}" <<<"$out" || fail "no MAC device bootstrapped: $out"
grep -q "password publish: devices/esp-[0-9A-F]\{12\}/data -> accepted" <<<"$out" || fail "MAC device publish not accepted: $out"
demo_dir=$(sed -n 's/^demo: development PKI, registry and configs in //p' <<<"$out")
[[ -n "$demo_dir" && ! -e "$demo_dir" ]] || fail "demo directory $demo_dir left behind"

dir=$(mktemp -d /tmp/provision-serve-test-XXXXXX)
trap 'kill $serve 2>/dev/null || true; rm -rf "$dir"' EXIT
"$root/scripts/demo" --serve "$dir/stack" >"$dir/serve.out" 2>&1 &
serve=$!
for _ in $(seq 1 300); do [[ -f "$dir/stack/stack.env" ]] && break; sleep 0.1; done
[[ -f "$dir/stack/stack.env" ]] || fail "no stack.env: $(cat "$dir/serve.out")"
for name in STACK_DIR BROKER_CONFIG PROVISIOND_CONFIG MQTT_HOST MQTT_TLS_PORT CA_FILE CLAIM_CERT CLAIM_KEY TEMPLATE ADMIN_URL ADMIN_TOKEN \
            MQTT_PASSWORD_PORT BOOTSTRAP_URL BOOTSTRAP_TEMPLATE; do
  grep -q "^$name=." "$dir/stack/stack.env" || fail "stack.env lacks $name"
done
grep -q "^BROKER_CONFIG=$dir/stack/mosquitto.conf$" "$dir/stack/stack.env" || fail "BROKER_CONFIG is not the served stack's mosquitto.conf"
(set -a; . "$dir/stack/stack.env"; set +a
 "$BUILD_DIR/device/provision-device" --param SerialNumber=served --out "$dir/device" --aws-topics --mqtt311 >"$dir/device.out" 2>&1) \
  || fail "provision-device against the served stack: $(cat "$dir/device.out")"
grep -q "devices/demo-served/telemetry -> accepted" "$dir/device.out" || fail "$(cat "$dir/device.out")"
kill -TERM $serve
wait $serve || true
sleep 0.5
! pgrep -f "$dir/stack/mosquitto.conf" >/dev/null || fail "mosquitto still running after SIGTERM"
! pgrep -f "$dir/stack/provisiond.json" >/dev/null || fail "provisiond still running after SIGTERM"
echo "demo script: ok"
