# shellcheck shell=bash
# Sourced: apt-get/apt-cache for another Debian suite (sid, forky, ...) through a sources list and
# package lists of their own under a cache directory, so the host's apt configuration is never
# touched. Used by the kernel VM (sid's kernel) and the benchmark (sid's wireguard-go).
#
#   suite_apt_setup DIR SUITE   # sets SUITE_APT_OPTS; DIR/apt-SUITE/ holds the lists
#   apt-get "${SUITE_APT_OPTS[@]}" download PKG

SUITE_APT_OPTS=()

suite_apt_setup() {
	local dir=$1/apt-$2 suite=$2
	case "$suite" in "" | *[!a-z0-9-]*) echo "suite-apt: '$suite': expected a Debian suite name (sid, forky, ...)" >&2; return 2 ;; esac
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	echo "deb http://deb.debian.org/debian $suite main" > "$dir/sources.list"
	SUITE_APT_OPTS=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=/nonexistent
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache")
}
