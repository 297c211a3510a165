#!/usr/bin/env bash
# The main job, end to end, on a fresh Debian 12 machine as root: build cnirt (Native AOT), then inside a throwaway
# node namespace: `cnirt run -p 8080:80` on the built-in default network, an HTTP server in the sandbox, a fetch
# through the published port from another namespace standing for another host, `cnirt rm`, and proof that nothing
# is left. The host's own network is never touched. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh >/dev/null

echo "== building cnirt (Native AOT)"
tools/build.sh
work="$(mktemp -d -t cnirt-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT

unshare --net --mount --propagation private -- bash -s "$PWD/artifacts/cnirt" "$work" <<'NODE'
set -euo pipefail
cnirt="$1" work="$2"
# A private /run and cache: everything the demo creates lives and dies in this throwaway node.
mount -t tmpfs -o mode=0755 cnirt-demo-run /run
export CNI_PATH=/usr/lib/cni
c() { echo "\$ cnirt $*"; "$cnirt" --cache-dir "$work/cache" --conf-dir "$work/net.d" "$@"; }
ip link set lo up

# Another host: a namespace linked to the node by a veth pair.
ip netns add client
ip link add node-eth type veth peer name client-eth netns client
ip addr add 192.0.2.1/24 dev node-eth && ip link set node-eth up
ip netns exec client ip addr add 192.0.2.2/24 dev client-eth
ip netns exec client ip link set client-eth up
ip netns exec client ip link set lo up

echo "== a sandbox on the built-in default network, port 8080 published to its port 80"
c version
c run --name web -p 8080:80 --label app=demo
c ls
netns="$("$cnirt" --cache-dir "$work/cache" --json inspect web | python3 -c 'import json,sys; print(json.load(sys.stdin)["netns"].rsplit("/",1)[1])')"

echo "== an HTTP server inside the sandbox"
mkdir -p "$work/www" && echo "hello from the sandbox $netns" > "$work/www/index.html"
c netns exec "$netns" -- python3 -m http.server 80 --bind 0.0.0.0 --directory "$work/www" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do ip netns exec "$netns" python3 -c 'import socket; socket.create_connection(("127.0.0.1", 80), 1)' 2>/dev/null && break; sleep 0.1; done

echo "== fetched from the other host through 192.0.2.1:8080"
ip netns exec client python3 -c 'import urllib.request; print("   " + urllib.request.urlopen("http://192.0.2.1:8080/", timeout=5).read().decode().strip())'

echo "== cnirt rm, then nothing is left"
kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
c rm web
c ls
echo "   namespaces: $(ip netns list | grep -vc '^client' || true) besides the client's"
echo "   cached results: $(ls "$work/cache/results" 2>/dev/null | wc -l), sandbox records: $(ls "$work/cache/sandboxes" 2>/dev/null | wc -l)"
echo "   address leases: $(find "$work/cache" -path '*networks*' -name '10.*' | wc -l), ports on the bridge: $(ip -o link show master cnirt0 2>/dev/null | wc -l)"
NODE
echo "== done"
