#!/usr/bin/env bash
# Installs everything wgts needs on a fresh Debian/Ubuntu machine (run as root), then builds it.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(wireguard-tools wireguard-go iproute2 iputils-ping iperf3 nftables iptables tcpdump
      qemu-system-x86 busybox-static kmod bash-completion groff-base man-db procps psmisc
      bind9-dnsutils curl zbar-tools python3 nsd knot knot-dnsutils dnsperf)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run -s build
