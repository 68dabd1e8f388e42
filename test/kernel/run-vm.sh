#!/usr/bin/env bash
# Runs a command inside a throwaway VM that boots Debian's kernel with the real WireGuard module.
#
#   test/kernel/run-vm.sh                 # the kernel test suite (test/kernel/*.test.ts, vitest)
#   test/kernel/run-vm.sh CMD [ARGS...]   # any command, e.g.: test/kernel/run-vm.sh wg show
#                                         #   test/kernel/run-vm.sh node node_modules/vitest/vitest.mjs run \
#                                         #     --config test/kernel/vitest.kernel.config.ts test/kernel/setconf.test.ts
#   (npx works too but costs ~10 s more under TCG.) Build first (npm run build) if the command runs
#   bin/wgts: the VM sees the host's dist/ as it is. Files in test/kernel/*.test.ts join the default
#   suite; keep each short (a node start costs ~1-3 s in the VM; the whole suite runs in ~3-4 min).
#   Kernel tests should call requireVm() from test/kernel/helpers.ts (WGTS_IN_VM=1 is set inside).
#
# Inside the VM the host's root file system is visible read-only with a tmpfs overlay on top (writes
# vanish at power-off), the command runs as root in this repository's directory, /tmp and /run are
# fresh tmpfs, and modules (veth, nft_*, ...) autoload. The exit status is the command's; 2 means the
# harness itself failed (no kernel, boot failure, timeout), with the reason on stderr.
#
# Needs root on the host (apt-get, the 9p export of /). First run: installs qemu-system-x86,
# busybox-static and kmod if missing, downloads and unpacks the kernel into .vm-cache/ (reused later).
# No KVM: qemu runs with -accel tcg (-cpu host fails here), so everything is ~10-20x slower than
# native; a boot takes ~3-10 s (guest clock; printed at the end), a `node` start ~1-3 s.
# The default suite is bounded to 1800 s inside the VM (a quiet CI machine needs ~7 min; a loaded one 15+).
#
# Environment:
#   WGTS_VM_KERNEL   a Debian suite (sid, forky, ...) to boot that suite's linux-image-amd64 instead of
#                    the one the host's apt sources name (bookworm's); e.g. WGTS_VM_KERNEL=sid for a
#                    kernel >= 6.16 (per-prefix allowed-IP removal). Fetched with apt lists of its own
#                    in the cache (scripts/vm/prepare.sh); the host's apt setup is untouched.
#   WGTS_VM_CACHE    cache dir (default: <repo>/.vm-cache)
#   WGTS_VM_TIMEOUT  seconds before the VM is killed (default 2100)
#   WGTS_VM_MEM      guest memory in MiB (default 3072)
#   WGTS_VM_VERBOSE  1 = also print the boot log
#   WGTS_* and CI    passed through to the command (except the WGTS_VM_* ones)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${WGTS_VM_CACHE:-$REPO/.vm-cache}
TIMEOUT=${WGTS_VM_TIMEOUT:-2100}
MEM=${WGTS_VM_MEM:-3072}
# shellcheck source=../../scripts/vm/prepare.sh
source "$REPO/scripts/vm/prepare.sh"

case "$REPO$CACHE" in *[[:space:]]*) vm_die "paths with spaces are not supported ($REPO, $CACHE)" ;; esac
# The VM mounts fresh tmpfs on /tmp and /run; its init keeps the repository and the cache visible at
# their own paths (wgts.keep=) even when they live there (a CI clone in /tmp). /dev, /proc, /sys are
# the guest's own, so nothing there can be shared.
case "$(realpath -m "$CACHE")/" in /var/run/* | /dev/* | /proc/* | /sys/*)
	vm_die "WGTS_VM_CACHE=$CACHE is hidden inside the VM; use a path on disk" ;;
esac
KEEP="$(realpath -m "$REPO"):$(realpath -m "$CACHE")"
[ "$(id -u)" = 0 ] || vm_die "run as root (apt-get, 9p export of /)"

if (($# == 0)); then
	# vitest via node directly: npx costs ~10 s more under TCG
	# (bounded: a run that does not end fails loudly long before the VM timeout)
	set -- timeout -k 10 1800 node node_modules/vitest/vitest.mjs run --config test/kernel/vitest.kernel.config.ts
fi

t0=$(date +%s.%N)
vm_prepare "$CACHE"
t1=$(date +%s.%N)

# The command travels as a script on the shared root; the kernel command line names it.
mkdir -p "$CACHE/run"
CMD_FILE=$(mktemp "$CACHE/run/cmd.XXXXXX")
LOG=$CACHE/run/console-$(basename "$CMD_FILE").log
cleanup() { rm -f "$CMD_FILE" "$LOG"; }
trap cleanup EXIT
{
	echo "export PATH=$REPO/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	echo "export HOME=/root TERM=dumb LANG=C.UTF-8 WGTS_IN_VM=1"
	while IFS='=' read -r name value; do
		case "$name" in WGTS_VM_*) continue ;; WGTS_* | CI) printf 'export %s=%q\n' "$name" "$value" ;; esac
	done < <(env)
	printf 'cd %q || exit 2\n' "$REPO"
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} > "$CMD_FILE"

vm_log "kernel $VM_KVER (prepared in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s); booting"
# mawk (Debian's awk) reads a pipe in 4 KiB blocks, so console lines would show up minutes late; its
# -W interactive reads line by line. (grep without -q: pipefail.)
AWK=(awk)
awk -W version 2>&1 | grep mawk >/dev/null && AWK=(awk -W interactive)
set +e
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
	-accel tcg -cpu max -m "$MEM" -smp 2 -nographic -no-reboot \
	-kernel "$VM_KERNEL" -initrd "$VM_INITRD" \
	-append "console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init wgts.cmd=$CMD_FILE wgts.tree=$VM_TREE wgts.keep=$KEEP" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
	-nic none -monitor none -serial stdio < /dev/null 2>&1 |
	"${AWK[@]}" -v verbose="${WGTS_VM_VERBOSE:-0}" -v logfile="$LOG" '
		{ sub(/\r$/, ""); print > logfile; fflush(logfile) }
		/@@WGTS-VM-BEGIN / { inside = 1; next }
		/@@WGTS-VM-EXIT / { inside = 0; next }
		inside || verbose == 1 { print; fflush() }'
qemu_rc=${PIPESTATUS[0]}
set -e
t2=$(date +%s.%N)

begin=$(grep -a -m1 "@@WGTS-VM-BEGIN " "$LOG" || true)
exitline=$(grep -a -m1 "@@WGTS-VM-EXIT " "$LOG" || true)
failline=$(grep -a -m1 "@@WGTS-VM-FAIL " "$LOG" || true)
if [ -z "$exitline" ]; then
	echo "vm: ERROR: no exit marker (qemu status $qemu_rc${failline:+; $failline}); last console lines:" >&2
	tail -n 40 "$LOG" >&2
	((qemu_rc == 124)) && echo "vm: ERROR: timed out after ${TIMEOUT}s (WGTS_VM_TIMEOUT)" >&2
	exit 2
fi
rc=$(echo "$exitline" | sed -E 's/^@@WGTS-VM-EXIT ([0-9]+).*/\1/')
boot=$(echo "$begin" | sed -E 's/.*uptime=([0-9.]+).*/\1/')
guest_end=$(echo "$exitline" | sed -E 's/.*uptime=([0-9.]+).*/\1/')
vm_log "boot to command ${boot}s (guest clock), command $(echo "$guest_end - $boot" | bc)s, total VM $(printf '%.1f' "$(echo "$t2 - $t1" | bc)")s; exit status $rc"
exit "$rc"
