#!/usr/bin/env bash
# The engine's figures in one run: in-process cost per ADD/DEL of a 4-plugin list (BenchmarkDotNet, fake plugins),
# then a real chain through the library against a minimal exec driver, inside a throwaway network namespace.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/setup.sh >/dev/null
project=tools/bench/CniRuntime.Benchmarks
dotnet build "$project" -c Release -nologo -v quiet -clp:ErrorsOnly
dll="$project/bin/Release/net10.0/CniRuntime.Benchmarks.dll"

echo "== in-process engine cost (BenchmarkDotNet)"
dotnet "$dll" bdn --filter '*EngineBenchmarks*' --join --exporters markdown -- "$@" | grep -E '^\|' || true

echo "== real chain, library vs exec floor (iterations: ${ITERATIONS:-30})"
unshare --net --mount --propagation private -- bash -c 'ip link set lo up; exec dotnet "$0" chain "$1"' "$dll" "${ITERATIONS:-30}"
