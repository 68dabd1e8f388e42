#!/usr/bin/env bash
# Prints the path of today's wireguard-go (Debian sid's package), fetching it on first use: apt
# downloads the .deb through a sid package list of this script's own (scripts/lib/suite-apt.sh) and
# it is unpacked into .bench-cache/. The binary is a static-enough Go program that runs on bookworm.
# The benchmark compares against it, since bookworm's 0.0.20220316 predates wireguard-go's batched
# I/O and offloads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${WGTS_BENCH_CACHE:-$root/.bench-cache}
# shellcheck source=lib/suite-apt.sh
source "$root/scripts/lib/suite-apt.sh"
bin=$cache/wireguard-go-sid/usr/bin/wireguard-go
if [ ! -x "$bin" ]; then
	suite_apt_setup "$cache" sid
	apt-get "${SUITE_APT_OPTS[@]}" update -qq >&2
	debs=$(mktemp -d)
	trap 'rm -rf "$debs"' EXIT
	# _apt cannot write into a root-owned mktemp dir; downloading as root is what we want here.
	(cd "$debs" && apt-get "${SUITE_APT_OPTS[@]}" -o APT::Sandbox::User=root download -q wireguard-go >&2)
	rm -rf "$cache/wireguard-go-sid"
	dpkg -x "$debs"/wireguard-go_*.deb "$cache/wireguard-go-sid"
fi
"$bin" --version >/dev/null
echo "$bin"
