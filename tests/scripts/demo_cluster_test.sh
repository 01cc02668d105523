#!/usr/bin/env bash
# `scripts/demo --cluster` as a user runs it: PostgreSQL, two brokers behind
# haproxy, two workers; every device provisions through haproxy, both brokers
# and both workers take part, and nothing is left running or on disk.
# Usage: demo_cluster_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export BUILD_DIR=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$root/scripts/demo" --cluster --devices 3 2>&1) || fail "scripts/demo --cluster exited non-zero: $out"
(($(grep -c "^demo: device [0-9] provisioned as demo-CL" <<<"$out") == 3)) || fail "not 3 devices provisioned: $out"
line=$(grep "^demo: connections:" <<<"$out") || fail "no connection counts: $out"
[[ "$line" =~ broker\ A\ ([0-9]+)\ claim,\ ([0-9]+)\ device\;\ broker\ B\ ([0-9]+)\ claim,\ ([0-9]+)\ device ]] || fail "$line"
((BASH_REMATCH[1] + BASH_REMATCH[2] > 0 && BASH_REMATCH[3] + BASH_REMATCH[4] > 0)) || fail "one broker took no connection: $line"
answered=$(grep "^demo: requests answered:" <<<"$out") || fail "no worker counts: $out"
[[ "$answered" =~ worker\ 1\ ([0-9]+),\ worker\ 2\ ([0-9]+) ]] || fail "$answered"
((BASH_REMATCH[1] > 0 && BASH_REMATCH[2] > 0)) || fail "one worker answered nothing: $answered"
cluster_dir=$(sed -n 's/^demo: cluster in \(.*\) (removed at the end)$/\1/p' <<<"$out")
[[ -n "$cluster_dir" ]] || fail "no cluster directory named: $out"
sleep 0.5
! pgrep -f "$cluster_dir" >/dev/null || fail "a process of the cluster is still running"
[[ ! -e "$cluster_dir" ]] || fail "$cluster_dir left behind"
echo "demo cluster script: ok"
