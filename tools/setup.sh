#!/usr/bin/env bash
# Installs what CniRuntime's build, tests and demo need on a Debian 12 machine, idempotently: only what is missing.
set -euo pipefail

# golang-go and golang-github-appc-cni-dev build the Go libcni driver of the interop tests; python3 serves and
# fetches HTTP in the demo; dnsmasq-base (the binary without its system service) is the DHCP server the dhcp
# plugin's test leases from, inside a test namespace. `setup.sh bench` adds gnuplot for the benchmark's plots and
# perf for its traced timeline (the tests need neither).
packages=(containernetworking-plugins iptables nftables conntrack iproute2 util-linux iputils-ping python3 golang-go golang-github-appc-cni-dev dnsmasq-base)
if [ "${1:-}" = bench ]; then
  packages+=(gnuplot-nox linux-perf)
fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET 10 SDK is required (dotnet not found on PATH)" >&2
  exit 1
fi

if [ ! -x /usr/lib/cni/bridge ]; then
  echo "setup: /usr/lib/cni/bridge is missing after installing containernetworking-plugins" >&2
  exit 1
fi
echo "setup: ok ($(dotnet --version), plugins in /usr/lib/cni)"
