#!/usr/bin/env bash
# provision-bench report: the figures it derives from a run's JSON (the
# ceilings the CPU per flow allows the ratio, the pre-filled registry's
# comparison by raw rate and against each run's own baseline) and its
# verdicts, from runs whose figures are known.
# Usage: bench_report_test.sh PROVISION_BENCH
set -euo pipefail
bench=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d /tmp/provision-bench-report-XXXXXX)
trap 'rm -rf "$dir"' EXIT

# run NAME THINGS PROVISIONING_RATE BASELINE_RATE [no-baseline]
run() {
  local baseline=""
  if [[ "${5:-}" != no-baseline ]]; then
    baseline=$(printf ', "baseline": {"flow": "baseline", "flows": 1000, "failed": 0, "flows_per_second": %s,
      "cpu_ms_per_flow": {"broker": 2.8, "provisiond": 0.0, "bench": 2.4}}, "rate_ratio": %s' "$4" \
      "$(python3 -c "print($3 / $4)")")
  fi
  cat >"$dir/$1.json" <<JSON
{"kind": "run", "devices": 1000, "concurrency": 8, "registry_things": $2, "cpus": 2, "rounds": 4,
 "provisioning": {"flow": "CreateCertificateFromCsr", "flows": 1000, "failed": 0, "flows_per_second": $3,
   "latency_ms": {"whole flow": {"p50": 30, "p95": 40, "p99": 45}},
   "cpu_ms_per_flow": {"broker": 3.5, "provisiond": 0.8, "bench": 3.0}}$baseline}
JSON
}

run small 1000 200 300
run large 1000000 150 230
out=$("$bench" report --run "$dir/small.json" --scale "$dir/large.json")
expect() { grep -qF -- "$1" <<<"$out" || fail "no '$1' in: $out"; }
expect "| both cores: CPU of broker, provisiond and devices per flow | 5.20 | 7.30 | 71.2 % |"
expect "| both cores, provisiond's CPU taken away | 5.20 | 6.50 | 80.0 % |"
expect "| the broker's thread: broker CPU per flow | 2.80 | 3.50 | 80.0 % |"
expect "**Headline: provisioning runs at 66.7 % of the baseline rate"
expect "| 1,000,000 | 1,000 | 0 | 150.0 | 230.0 |"
expect "**Rate with 1,000,000 things: 75.0 % of the rate with 1,000 things (target: no lower than 90 %; NOT met).**"
expect "provisioning at 65.2 % of the baseline rate with 1,000,000 things, 66.7 % with 1,000 things: 97.8 % of its relative rate kept (target: no lower than 90 %; met)"

# A relative rate that fell: NOT met either way.
run large 1000000 120 300
out=$("$bench" report --run "$dir/small.json" --scale "$dir/large.json")
expect "60.0 % of the rate with 1,000 things (target: no lower than 90 %; NOT met)"
expect "40.0 % of the baseline rate with 1,000,000 things, 66.7 % with 1,000 things: 60.0 % of its relative rate kept (target: no lower than 90 %; NOT met)"

# Without a baseline in a run: no ratio, no ceilings, no comparison against baselines.
run large 1000000 190 0 no-baseline
out=$("$bench" report --run "$dir/small.json" --scale "$dir/large.json")
expect "95.0 % of the rate with 1,000 things (target: no lower than 90 %; met)"
! grep -qF "Against each run's own baseline" <<<"$out" || fail "a comparison against a baseline the run lacks: $out"
out=$("$bench" report --run "$dir/large.json")
! grep -qF "What the CPU per flow allows" <<<"$out" || fail "ceilings without a baseline: $out"

# A run file without a provisioning phase: a one-line error, exit status 1,
# and no half report.
echo '{"kind": "run"}' >"$dir/empty.json"
if "$bench" report --run "$dir/small.json" --scale "$dir/empty.json" >"$dir/out" 2>"$dir/err"; then
  fail "accepted a run without flows"
fi
err=$(cat "$dir/err")
[[ $(wc -l <"$dir/err") == 1 && "$err" == "provision-bench: "* ]] || fail "not a one-line error: $err"
[[ ! -s "$dir/out" ]] || fail "a half report on stdout: $(cat "$dir/out")"
echo "bench report: ok"
