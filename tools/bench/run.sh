#!/usr/bin/env bash
# Every benchmark of CniRuntime in one run: BenchmarkDotNet for the in-process costs, then, inside a throwaway
# network and mount namespace, the performance table (the chain through the floor, the library and cnirt;
# throughput at 1, 2, 4 and 8 sandboxes at a time; start-up; namespaces; sandboxes of 1, 2 and 4 networks) and port
# mapping against the number of mappings present, and a traced timeline of one cnirt process (perf tracepoints);
# then the plots. The one-at-a-time rows have a fourth side,
# tools/bench/CniRuntime.MinimalCli published as cnirt is: the least a .NET command line costs per call, the bound
# under cnirt's own figures. ITERATIONS sets the paired rounds (default 30); BDN=0 skips BenchmarkDotNet; BENCH_OUT
# is where the table, the figures behind the plots and the plots go (default artifacts/bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/setup.sh bench >/dev/null
project=tools/bench/CniRuntime.Benchmarks
dotnet build "$project" -c Release -nologo -v quiet -clp:ErrorsOnly
tools/build.sh >/dev/null
dotnet publish tools/bench/CniRuntime.MinimalCli -c Release -r linux-x64 -o artifacts/minimal-cni -nologo -v quiet -clp:ErrorsOnly
rm -f artifacts/minimal-cni/*.dbg
dll="$project/bin/Release/net10.0/CniRuntime.Benchmarks.dll"
iterations="${ITERATIONS:-30}"
out="$(realpath -m "${BENCH_OUT:-artifacts/bench}")"
mkdir -p "$out"

{
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "versions: .NET $(dotnet --list-runtimes | awk '/NETCore.App/ {print $2}' | tail -1), containernetworking-plugins $(dpkg-query -W -f='${Version}' containernetworking-plugins), iptables $(dpkg-query -W -f='${Version}' iptables), nftables $(dpkg-query -W -f='${Version}' nftables), $(artifacts/cnirt version | cut -d: -f1)"
} | tee "$out/machine.txt"

if [ "${BDN:-1}" != 0 ]; then
  echo "== in-process costs (BenchmarkDotNet, in-process toolchain)"
  dotnet "$dll" bdn --filter '*EngineBenchmarks*' '*EngineDeleteBenchmarks*' '*ProtocolBenchmarks*' '*SandboxOverheadBenchmarks*' --inProcess \
    --iterationCount 15 --warmupCount 3 --artifacts "$(mktemp -d -t cnirt-bdn.XXXXXX)" | grep -E '^\|' | tee "$out/bdn.txt" || true
fi

unshare --net --mount --propagation private -- bash -c '
  set -e
  mount -t tmpfs -o mode=0755 cnirt-bench-run /run
  ip link set lo up
  echo "== the table: medians (p10–p90); ratios are medians of paired ratios"
  MINIMAL_CLI="$PWD/artifacts/minimal-cni/minimal-cni" dotnet "$0" report "$PWD/artifacts/cnirt" "$1" "$2"
  echo "== port mapping: add/remove one mapping with 0 to 10,000 present"
  dotnet "$0" portmap "$1" "$2" | tee "$2/portmap.txt"
  echo "== one process, traced: exec to the first plugin, plugin to plugin, the last plugin to the end"
  MINIMAL_CLI="$PWD/artifacts/minimal-cni/minimal-cni" dotnet "$0" timeline "$PWD/artifacts/cnirt" 100 | tee "$2/timeline.txt"' "$dll" "$iterations" "$out"

tools/bench/plot.sh "$out"
