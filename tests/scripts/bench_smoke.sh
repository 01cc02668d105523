#!/usr/bin/env bash
# A short run of the provisioning benchmark (scripts/bench --quick: tens of
# devices, no pre-fill, a hundred held connections): it runs to the end,
# writes every table, no flow fails, and it leaves nothing behind. The
# figures themselves are not checked: this is not the benchmark.
# Usage: bench_smoke.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export BUILD_DIR=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

dir=$(mktemp -d /tmp/provision-bench-smoke-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$root/scripts/bench" --quick --devices 30 --concurrency 4 --connections 100 --out "$dir/results.md" \
  >"$dir/bench.out" 2>&1 || fail "scripts/bench exited non-zero: $(tail -n 30 "$dir/bench.out")"
[[ -f "$dir/results.md" ]] || fail "no results file: $(tail -n 30 "$dir/bench.out")"
results=$(cat "$dir/results.md")

for heading in "# Provisioning benchmark" "### Provisioning rate" "### What the CPU per flow allows the ratio to reach" \
               "### Latency per step" "### Errors" \
               "### Memory after the provisioning run" "### Broker memory per connection"; do
  grep -qF -- "$heading" <<<"$results" || fail "no '$heading' table in: $results"
done
grep -qE '^\| provisioning \(CreateCertificateFromCsr\) \| 30 \| 0 \| [0-9.]+ \| [0-9.]+ \|' <<<"$results" \
  || fail "provisioning: not 30 flows with 0 failed: $results"
grep -qE '^\| baseline \(claim connect \+ device connect \+ 1 publish\) \| 30 \| 0 \| [0-9.]+ \| [0-9.]+ \|' <<<"$results" \
  || fail "baseline: not 30 flows with 0 failed: $results"
grep -qE '^\*\*Headline: provisioning runs at [0-9.]+ % of the baseline rate' <<<"$results" || fail "no headline ratio: $results"
grep -qE '^\| the broker.s thread: broker CPU per flow \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ % \|$' <<<"$results" \
  || fail "no ratio ceiling from the broker's CPU: $results"
grep -qE '^\| whole flow \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|' <<<"$results" \
  || fail "no whole-flow latencies for both flows: $results"
[[ $(grep -c '| none | 0 |' <<<"$results") == 2 ]] || fail "errors reported: $results"
grep -qE '^\| claim \(mTLS[^|]*\| 100 \| 100 \| 0 \|' <<<"$results" || fail "not 100 claim connections held: $results"
grep -qE '^\| device \(pre-issued[^|]*\| [0-9,]+ \| [0-9,]+ \| 0 \|.* KiB \|$' <<<"$results" \
  || fail "no device connections measured: $results"

stack=$(sed -n 's/^bench: stack in //p' "$dir/bench.out")
[[ -n "$stack" && ! -e "$stack" ]] || fail "stack directory '$stack' left behind"
! pgrep -f "$stack/mosquitto.conf" >/dev/null || fail "mosquitto still running"
! pgrep -f "$stack/provisiond.json" >/dev/null || fail "provisiond still running"
echo "bench smoke: ok"
