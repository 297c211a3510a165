#!/usr/bin/env bash
# Publishes cnirt as a Native AOT binary to artifacts/cnirt (InvariantGlobalization and DirectPInvoke libc come from
# the project files; linked with the machine's toolchain: clang if on PATH, else gcc). Fails on any warning.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-artifacts}"
log="$(mktemp -t cnirt-build.XXXXXX)"
trap 'rm -f "$log"' EXIT

# TreatWarningsAsErrors covers compiler warnings; trim/AOT (ILxxxx) warnings from ILC are checked here as well.
if ! dotnet publish src/CniRuntime.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$out" -nologo \
    -p:TreatWarningsAsErrors=true -p:IlcTreatWarningsAsErrors=true >"$log" 2>&1; then
  cat "$log" >&2
  echo "build.sh: publish failed" >&2
  exit 1
fi

if grep -Eq ': warning [A-Z]+[0-9]+' "$log"; then
  grep -E ': warning [A-Z]+[0-9]+' "$log" | sort -u >&2
  echo "build.sh: the publish produced warnings" >&2
  exit 1
fi

rm -f "$out"/*.dbg
echo "$out/cnirt ($(stat -c %s "$out/cnirt") bytes)"
