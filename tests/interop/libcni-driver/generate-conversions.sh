#!/usr/bin/env bash
# Regenerates the conversion goldens with libcni's own code (convert/main.go):
#  - testdata/results/libcni/<from>_to_<to>/<case>.json (or .error): every golden result of
#    testdata/results/<from>/ converted to every other version, and to two versions libcni does not know;
#  - testdata/results/conversions/*/<case>.expected.json: the named cases, from their .input.json.
# Debian's libcni (1.1.2) predates spec 1.1.0, so LIBCNI_GOPATH must name a GOPATH holding
# github.com/containernetworking/cni 1.2 or later (the checked-in files come from v1.3.0), for example:
#   git clone --depth 1 --branch v1.3.0 https://github.com/containernetworking/cni "$G/src/github.com/containernetworking/cni"
#   LIBCNI_GOPATH=$G tests/interop/libcni-driver/generate-conversions.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
results="$(cd "$here/../../../testdata/results" && pwd)"
gopath="${LIBCNI_GOPATH:?set LIBCNI_GOPATH to a GOPATH holding containernetworking/cni 1.2 or later}"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
(cd "$here/convert" && GOPATH="$gopath" GO111MODULE=off GOCACHE="${GOCACHE:-/tmp/cnirt-gocache}" go build -o "$bin/libcni-convert" .)
if ! "$bin/libcni-convert" "$results/1.1.0/minimal.json" 1.0.0 >/dev/null; then
  echo "the libcni in $gopath does not know spec 1.1.0: it must be 1.2 or later" >&2
  exit 1
fi

# Prints the conversion to $2 of file $1 into $3.json, or libcni's error into $3.error.
convert() {
  if "$bin/libcni-convert" "$1" "$2" >"$3.json" 2>"$3.error"; then
    echo >>"$3.json"
    rm "$3.error"
  else
    rm "$3.json"
  fi
}

versions="0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0"
rm -rf "$results/libcni"
for from in $versions; do
  for input in "$results/$from"/*.json; do
    for to in $versions 0.5.0 1.2.0; do
      if [ "$to" != "$from" ]; then
        mkdir -p "$results/libcni/${from}_to_$to"
        convert "$input" "$to" "$results/libcni/${from}_to_$to/$(basename "$input" .json)"
      fi
    done
  done
done

for input in "$results"/conversions/*/*.input.json; do
  direction="$(basename "$(dirname "$input")")"
  convert "$input" "${direction#*_to_}" "${input%.input.json}.expected"
  if [ -e "${input%.input.json}.expected.error" ]; then
    echo "libcni cannot convert $input: $(cat "${input%.input.json}.expected.error")" >&2
    exit 1
  fi
done
