#!/usr/bin/env bash
# The demo: two network namespaces joined by a veth pair, a WireGuard tunnel between them on wgts'
# own userspace data plane (wgts-userspace), and a ping through it. Installs what is missing first.
# Run as root. Everything it creates lives in its own namespaces and is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/bin:$PATH"

id=$$
A=wgts-demo-a-$id B=wgts-demo-b-$id
IFA=wgdemoa$((id % 10000)) IFB=wgdemob$((id % 10000))
RUN=$(mktemp -d)
cleanup() {
  for ns in "$A" "$B"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f "/var/run/wireguard/$IFA.sock" "/var/run/wireguard/$IFB.sock"
  rm -rf "$RUN"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '[#] %s\n' "$*"; "$@"; }

say "Two namespaces, $A and $B, joined by a veth pair (192.0.2.1 <-> 192.0.2.2)"
run ip netns add "$A"
run ip netns add "$B"
run ip link add veth-a netns "$A" type veth peer name veth-b netns "$B"
run ip -n "$A" addr add 192.0.2.1/24 dev veth-a
run ip -n "$B" addr add 192.0.2.2/24 dev veth-b
run ip -n "$A" link set veth-a up
run ip -n "$B" link set veth-b up
run ip -n "$A" link set lo up
run ip -n "$B" link set lo up

say "Keys (private keys stay in files with mode 0600)"
umask 077
wgts genkey > "$RUN/a.key"; wgts pubkey < "$RUN/a.key" > "$RUN/a.pub"
wgts genkey > "$RUN/b.key"; wgts pubkey < "$RUN/b.key" > "$RUN/b.pub"
echo "A public key: $(cat "$RUN/a.pub")"
echo "B public key: $(cat "$RUN/b.pub")"

say "The userspace data plane: wgts-userspace in each namespace"
run ip netns exec "$A" wgts-userspace "$IFA"
run ip netns exec "$B" wgts-userspace "$IFB"

say "Configure both ends with wgts set"
run ip netns exec "$A" wgts set "$IFA" listen-port 51820 private-key "$RUN/a.key" \
  peer "$(cat "$RUN/b.pub")" endpoint 192.0.2.2:51821 allowed-ips 10.77.0.2/32
run ip netns exec "$B" wgts set "$IFB" listen-port 51821 private-key "$RUN/b.key" \
  peer "$(cat "$RUN/a.pub")" endpoint 192.0.2.1:51820 allowed-ips 10.77.0.1/32
run ip -n "$A" addr add 10.77.0.1/24 dev "$IFA"
run ip -n "$B" addr add 10.77.0.2/24 dev "$IFB"
run ip -n "$A" link set "$IFA" up
run ip -n "$B" link set "$IFB" up

say "Ping through the tunnel: $A (10.77.0.1) -> $B (10.77.0.2)"
run ip netns exec "$A" ping -c 3 -W 5 10.77.0.2

say "wgts show in $A"
ip netns exec "$A" wgts show "$IFA"

say "Done: the tunnel carried traffic on wgts' own data plane."
