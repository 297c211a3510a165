#!/usr/bin/env bash
# The main job, end to end: build cnirt as a Native AOT binary, then use it the way an operator uses cnitool to
# attach a fresh network namespace to a bridge network of Debian's reference plugins, check it, and detach it.
# Everything happens inside a throwaway network and mount namespace, so the host's network is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

echo "== building cnirt (Native AOT)"
out="$(mktemp -d -t cnirt-demo.XXXXXX)"
trap 'rm -rf "$out"' EXIT
tools/build.sh "$out/bin"
"$out/bin/cnirt" version

mkdir -p "$out/net.d"
cat > "$out/net.d/10-demo.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "demo",
  "plugins": [
    { "type": "bridge", "bridge": "cnirt-demo0", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$out/ipam",
                "ranges": [[{ "subnet": "10.77.0.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "firewall", "backend": "iptables" },
    { "type": "tuning", "sysctl": { "net.ipv4.conf.eth0.accept_local": "1" } }
  ]
}
JSON
echo '{"cniVersion":"1.0.0","name":"broken",' > "$out/net.d/00-broken.conflist"

unshare --net --mount --propagation private -- bash -s "$out" <<'SANDBOX'
set -euo pipefail
out="$1"
cnirt="$out/bin/cnirt"
# A private /run: the demo's namespace files under /run/netns stay in this sandbox.
mount -t tmpfs -o mode=0755 cnirt-demo-run /run
export NETCONFPATH="$out/net.d" CNI_PATH=/usr/lib/cni CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=demo"
ip link set lo up
# cnirt caches results in /var/lib/cni as cnitool does; keep the demo's cache out of the host's.
created_cache_dir=no
[ -d /var/lib/cni ] || { mkdir -p /var/lib/cni; created_cache_dir=yes; }
mkdir -p "$out/cache" && mount --bind "$out/cache" /var/lib/cni
ip netns add cnirt-demo
trap 'ip netns del cnirt-demo 2>/dev/null || true; ip link del cnirt-demo0 2>/dev/null || true
      umount /var/lib/cni; [ "$created_cache_dir" = no ] || rmdir /var/lib/cni' EXIT

echo "== cnirt add demo /run/netns/cnirt-demo   (a broken neighbour file is in NETCONFPATH on purpose)"
"$cnirt" add demo /run/netns/cnirt-demo
echo "== inside the namespace"
ip netns exec cnirt-demo ip -brief address show eth0
ip netns exec cnirt-demo ip route
echo "== the node reaches the container"
ping -c1 -W1 -q "$(ip netns exec cnirt-demo ip -brief address show eth0 | awk '{print $3}' | cut -d/ -f1)" | tail -1
echo "== the cached result, in libcni's format"
ls /var/lib/cni/results
echo "== cnirt check, then cnirt del (twice: DEL is idempotent)"
"$cnirt" check demo /run/netns/cnirt-demo && echo "   check: ok"
"$cnirt" del demo /run/netns/cnirt-demo && "$cnirt" del demo /run/netns/cnirt-demo && echo "   del: ok"
ip netns exec cnirt-demo ip -brief link show eth0 2>/dev/null || echo "   eth0 is gone"
SANDBOX
echo "== done"
