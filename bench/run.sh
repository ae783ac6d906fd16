#!/usr/bin/env bash
# Runs the benchmark suite against bin/agentpulse: `bench/run.sh` (make
# bench) rewrites BENCHMARKS.md in about 25 minutes; `bench/run.sh smoke`
# (make bench-smoke) is a short run that writes bin/BENCHMARKS.smoke.md.
# Extra arguments go to `loadgen run` (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

export CHDB_LIB_PATH="${CHDB_LIB_PATH:-$(scripts/chdb-lib.sh)}"
GO="${GO:-go}"
mode="full"
if [[ "${1:-}" == "smoke" ]]; then
	mode="smoke"
	shift
fi

"$GO" build -o bin/bench-loadgen ./bench/loadgen
"$GO" build -o bin/bench-engine ./bench/engine

args=(-bin bin/agentpulse -engine bin/bench-engine)
if [[ "$mode" == "smoke" ]]; then
	args+=(-smoke -out bin/BENCHMARKS.smoke.md)
else
	args+=(-out BENCHMARKS.md -json bin/BENCHMARKS.json)
fi
exec bin/bench-loadgen run "${args[@]}" "$@"
