#!/usr/bin/env bash
# Builds the libcni driver from Debian's packaged libcni (GOPATH mode: no module downloads).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p bin
GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE="${GOCACHE:-/tmp/cnirt-gocache}" go build -o bin/libcni-driver .
