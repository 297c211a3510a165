#!/usr/bin/env bash
# Builds CniRuntime and runs every test project. The tests run inside a throwaway network and mount namespace with a
# private tmpfs on /run, so nothing they do (namespaces under /run/netns, links, firewall rules, lock files) can touch
# the host; everything they create disappears with that namespace even if a test fails to clean up.
# Ends with one line: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp -t cniruntime-tests.XXXXXX)"
stage=setup

# Sums the VSTest summary lines ("Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ...") of the log.
count() {
  local summary
  summary=$(awk '/^(Passed|Failed)! +- Failed:/ {gsub(",",""); f+=$4; p+=$6; s+=$8; n++}
    END {printf "%d passed, %d failed, %d skipped %d\n", p, f, s, n}' "$log")
  read -r passed _ failed _ skipped _ runs <<<"$summary"
}

# The summary line comes last even when a step stops the script early (set -e), with the exit code non-zero.
finish() {
  local code=$?
  if [ "$stage" != done ]; then
    echo "test.sh: $stage failed (exit $code)" >&2
    count
    echo "$passed passed, $failed failed, $skipped skipped"
    if [ "$code" -eq 0 ]; then code=1; fi
  fi
  rm -f "$log"
  exit "$code"
}
trap finish EXIT

tools/setup.sh

configuration="${CONFIGURATION:-Debug}"
# Restore and build outside the sandbox, where NuGet is reachable.
stage=build
dotnet build CniRuntime.sln -c "$configuration" -nologo -v quiet -clp:ErrorsOnly
stage="libcni driver build"
tests/interop/libcni-driver/build.sh
stage="cnirt build"
tools/build.sh >/dev/null   # artifacts/cnirt: the CLI integration tests run the shipped binary as a process
stage=tests

projects=(tests/CniRuntime.Tests tests/CniRuntime.IntegrationTests)
status=0
for project in "${projects[@]}"; do
  echo "== $project"
  # lo must be up: the test host talks to the runner over loopback.
  if ! unshare --net --mount --propagation private -- bash -c '
      mount -t tmpfs -o mode=0755 cnirt-test-run /run
      ip link set lo up
      exec dotnet test "$0" -c "$1" --no-build -nologo' \
      "$project" "$configuration" 2>&1 | tee -a "$log"; then
    status=1
  fi
done

count
if [ "$runs" -ne "${#projects[@]}" ]; then
  echo "test.sh: expected ${#projects[@]} test summaries, found $runs" >&2
  status=1
fi
stage=done
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$failed" -ne 0 ]; then status=1; fi
exit "$status"
