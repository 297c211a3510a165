#!/usr/bin/env bash
# The load test of the integration suite at full size: N sandboxes (default 200) on one bridge network, each
# publishing a port, set up and torn down 8 at a time through the library and through parallel cnirt processes,
# inside a throwaway network and mount namespace. Prints sandboxes per second; fails on any failure or leak.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/setup.sh >/dev/null
dotnet build CniRuntime.sln -c Release -nologo -v quiet -clp:ErrorsOnly
tools/build.sh >/dev/null
export CNIRT_LOAD_SANDBOXES="${1:-200}" CI=true
echo "machine: $(nproc) cores, $(uname -r), plugins $(dpkg-query -W -f='${Version}' containernetworking-plugins)"
unshare --net --mount --propagation private -- bash -c '
  mount -t tmpfs -o mode=0755 cnirt-load-run /run
  ip link set lo up
  dotnet test tests/CniRuntime.IntegrationTests -c Release --no-build -nologo --filter "FullyQualifiedName~Reliability.LoadTests" \
    --logger "console;verbosity=detailed"' | grep -E "^ *load \(|Passed!|Failed!|Failed " 
