#!/usr/bin/env bash
# Every whole-process and in-process benchmark of CniRuntime, in one run, inside a throwaway network namespace.
# ITERATIONS sets the paired runs of the process-level comparisons (default 30); BDN=0 skips BenchmarkDotNet.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/setup.sh >/dev/null
project=tools/bench/CniRuntime.Benchmarks
dotnet build "$project" -c Release -nologo -v quiet -clp:ErrorsOnly
tools/build.sh >/dev/null
dll="$project/bin/Release/net10.0/CniRuntime.Benchmarks.dll"
iterations="${ITERATIONS:-30}"

echo "machine: $(nproc) cores, $(uname -r), .NET $(dotnet --list-runtimes | awk '/NETCore.App/ {print $2}' | tail -1), plugins $(dpkg-query -W -f='${Version}' containernetworking-plugins)"
if [ "${BDN:-1}" != 0 ]; then
  echo "== in-process engine cost (BenchmarkDotNet)"
  # In-process toolchain: no generated project to build, and the artifacts go to a temp directory.
  dotnet "$dll" bdn --filter '*EngineBenchmarks*' '*SandboxOverheadBenchmarks*' --inProcess --iterationCount 15 --warmupCount 3 \
    --artifacts "$(mktemp -d -t cnirt-bdn.XXXXXX)" | grep -E '^\|' || true
fi
unshare --net --mount --propagation private -- bash -c '
  set -e
  mount -t tmpfs -o mode=0755 cnirt-bench-run /run
  ip link set lo up
  echo "== real chain: library against the exec floor"
  dotnet "$0" chain "$1"
  echo "== namespaces: library against iproute2"
  dotnet "$0" netns "$(( $1 * 5 ))"
  echo "== sandboxes of 1, 2 and 4 networks against the plugins"
  dotnet "$0" sandbox "$1"
  echo "== the shipped cnirt: start-up, and add + del against the plugin execs"
  dotnet "$0" cli "$PWD/artifacts/cnirt" "$1"
  echo "== port mapping: add/remove one mapping with 0 to 10,000 present"
  dotnet "$0" portmap "$1"' "$dll" "$iterations"
