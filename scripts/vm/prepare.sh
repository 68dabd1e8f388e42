# shellcheck shell=bash
# Sourced by test/kernel/run-vm.sh: installs the VM tools if missing, fetches and unpacks Debian's
# kernel into the cache, and builds the initramfs. Defines vm_prepare CACHE_DIR, which sets
# VM_KVER, VM_TREE (unpacked package root, depmod'd), VM_KERNEL (vmlinuz) and VM_INITRD.
#
# The recipe: the linux-image-*-amd64 package that linux-image-amd64 depends on,
# `apt-get download` + `dpkg -x` into the cache, `depmod -b`, then an initramfs of busybox-static plus
# the modules `modprobe -S KVER -d TREE --show-depends` lists for virtio_pci, 9pnet_virtio, 9p,
# overlay and wireguard. Everything lands in the cache dir and is reused by later runs.
#
# WGTS_VM_KERNEL=SUITE (sid, forky, ...) takes linux-image-amd64 from that Debian suite instead of
# the host's apt sources, through a sources list and package lists of its own in CACHE/apt-SUITE/
# (the host's apt configuration is not touched). Newer Debian kernels are split: linux-image-KVER
# only depends on linux-base-KVER, linux-binary-KVER (vmlinuz, in /usr/lib/modules/KVER/) and
# linux-modules-KVER (*.ko.xz under /usr/lib/modules): all the parts named after KVER are unpacked
# into one tree, TREE/lib links to usr/lib (depmod -b and modprobe -d look in TREE/lib/modules), and
# compressed modules are decompressed for the initramfs (busybox insmod loads plain .ko files; the
# host's modprobe, which loads the later ones inside the VM, reads .ko.xz itself).

VM_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/suite-apt.sh
source "$VM_SCRIPTS_DIR/../lib/suite-apt.sh"
VM_BOOT_MODULES=(virtio_pci 9pnet_virtio 9p overlay wireguard)
VM_SUITE=${WGTS_VM_KERNEL:-}
VM_APT_OPTS=() # apt-get/apt-cache options that select WGTS_VM_KERNEL's suite (none: the host's sources)

vm_log() { echo "vm: $*" >&2; }
vm_die() { echo "vm: ERROR: $*" >&2; exit 2; }

# Installs qemu-system-x86, busybox-static and kmod when their commands are missing.
vm_ensure_tools() {
	local need=()
	command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
	# (grep without -q: with pipefail, -q's early exit can kill busybox with SIGPIPE and fail the test)
	[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -x cpio >/dev/null || need+=(busybox-static)
	command -v depmod >/dev/null && command -v modprobe >/dev/null || need+=(kmod)
	((${#need[@]})) || return 0
	vm_log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || vm_die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || vm_die "apt-get install ${need[*]} failed"
}

# With WGTS_VM_KERNEL=SUITE: a sources list and package lists for that suite in CACHE/apt-SUITE/.
vm_apt_setup() {
	[ -n "$VM_SUITE" ] || return 0
	suite_apt_setup "$1" "$VM_SUITE" || vm_die "WGTS_VM_KERNEL=$VM_SUITE: expected a Debian suite name (sid, forky, ...)"
	VM_APT_OPTS=("${SUITE_APT_OPTS[@]}")
}
vm_apt_get() { apt-get "${VM_APT_OPTS[@]}" "$@"; }
vm_apt_cache() { apt-cache "${VM_APT_OPTS[@]}" "$@"; }

# Name of the versioned kernel image package (linux-image-6.1.0-NN-amd64) behind the metapackage.
vm_kernel_package() {
	local pkg
	pkg=$(vm_apt_cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$pkg" ]; then
		vm_log "apt-cache knows no linux-image-amd64${VM_SUITE:+ in $VM_SUITE}; running apt-get update"
		vm_apt_get update -qq >&2 || vm_die "apt-get update failed"
		pkg=$(vm_apt_cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	fi
	[ -n "$pkg" ] || vm_die "cannot resolve the package behind linux-image-amd64${VM_SUITE:+ in $VM_SUITE}"
	echo "$pkg"
}

# The image package and the packages it is split into, if any: its dependencies named linux-*-KVER.
vm_kernel_parts() {
	local pkg=$1
	echo "$pkg"
	vm_apt_cache depends "$pkg" 2>/dev/null | awk -v pkg="$pkg" -v suffix="-${pkg#linux-image-}" '
		$1 == "Depends:" && $2 != pkg && index($2, "linux-") == 1 &&
			substr($2, length($2) - length(suffix) + 1) == suffix { print $2 }'
}

# Downloads (what is not downloaded yet) and unpacks PKG and its parts into CACHE/PKG.
vm_unpack_kernel() {
	local cache=$1 pkg=$2 debs=$1/deb-$2 tree=$1/$2 part
	mkdir -p "$debs"
	for part in $(vm_kernel_parts "$pkg"); do
		compgen -G "$debs/${part}_*.deb" >/dev/null && continue
		vm_log "fetching $part"
		(cd "$debs" && vm_apt_get download -q "$part" >&2) || return 1
	done
	rm -rf "$tree"
	for part in "$debs"/*.deb; do
		dpkg -x "$part" "$tree" || vm_die "dpkg -x $part failed"
	done
	# Merged /usr (Debian 14's kernel packages): modules and vmlinuz are in usr/lib/modules/KVER.
	[ -d "$tree/usr/lib/modules" ] && [ ! -e "$tree/lib" ] && ln -s usr/lib "$tree/lib"
	rm -rf "$debs"
	touch "$tree/.ready"
}

# Downloads, unpacks and depmods the kernel once; sets VM_TREE, VM_KVER, VM_KERNEL.
vm_fetch_kernel() {
	local cache=$1 pkg tree
	pkg=$(vm_kernel_package)
	if [ ! -f "$cache/$pkg/.ready" ] && ! vm_unpack_kernel "$cache" "$pkg"; then
		# Stale package lists name a kernel the mirror no longer has: refresh and resolve again.
		vm_log "download failed; refreshing the package lists${VM_SUITE:+ of $VM_SUITE}"
		vm_apt_get update -qq >&2 || vm_die "apt-get update failed"
		pkg=$(vm_kernel_package)
		[ -f "$cache/$pkg/.ready" ] || vm_unpack_kernel "$cache" "$pkg" || vm_die "apt-get download $pkg failed"
	fi
	tree=$cache/$pkg
	VM_TREE=$tree
	VM_KVER=$(basename "$(ls -d "$tree"/lib/modules/*/ | head -n1)")
	VM_KERNEL=$tree/boot/vmlinuz-$VM_KVER
	[ -f "$VM_KERNEL" ] || VM_KERNEL=$tree/lib/modules/$VM_KVER/vmlinuz
	[ -f "$VM_KERNEL" ] || vm_die "no kernel image in $tree"
	if [ ! -f "$tree/lib/modules/$VM_KVER/modules.dep.bin" ]; then
		depmod -b "$tree" "$VM_KVER" || vm_die "depmod failed"
	fi
}

# Builds the initramfs (busybox, init, module helper, boot modules) if its inputs changed.
vm_build_initrd() {
	local cache=$1 stamp work m path name list=() seen=" "
	stamp=$( (cat "$VM_SCRIPTS_DIR/init" "$VM_SCRIPTS_DIR/wgts-modprobe" "$VM_SCRIPTS_DIR/prepare.sh"; echo "$VM_KVER") | sha256sum | cut -c1-16)
	VM_INITRD=$cache/initrd-$VM_KVER-$stamp.cpio.gz
	[ -f "$VM_INITRD" ] && return 0
	work=$(mktemp -d "$cache/initrd.XXXXXX")
	mkdir -p "$work/bin" "$work/sbin" "$work/modules"
	cp /bin/busybox "$work/bin/busybox"
	install -m 0755 "$VM_SCRIPTS_DIR/init" "$work/init"
	install -m 0755 "$VM_SCRIPTS_DIR/wgts-modprobe" "$work/sbin/wgts-modprobe"
	for m in "${VM_BOOT_MODULES[@]}"; do
		while read -r kind path _; do
			[ "$kind" = insmod ] || continue # "builtin NAME" lines need nothing
			case "$seen" in *" $path "*) continue ;; esac
			seen+="$path "
			name=$(basename "$path")
			case "$name" in # busybox insmod takes plain .ko files
			*.ko) cp "$path" "$work/modules/" ;;
			*.ko.xz) name=${name%.xz} && /bin/busybox xzcat "$path" > "$work/modules/$name" ;;
			*.ko.gz) name=${name%.gz} && gzip -dc "$path" > "$work/modules/$name" ;;
			*.ko.zst) name=${name%.zst} && zstd -dcq "$path" > "$work/modules/$name" ;;
			*) vm_die "unknown module file type: $path" ;;
			esac || vm_die "cannot decompress $path"
			list+=("$name")
		done < <(modprobe -S "$VM_KVER" -d "$VM_TREE" --show-depends "$m" || vm_die "modprobe --show-depends $m failed")
	done
	printf '%s\n' "${list[@]}" > "$work/modules.list"
	(cd "$work" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$VM_INITRD.tmp" ||
		vm_die "cpio failed"
	mv "$VM_INITRD.tmp" "$VM_INITRD"
	rm -rf "$work"
	# Older initramfs images of this kernel are stale now.
	find "$cache" -maxdepth 1 -name "initrd-$VM_KVER-*.cpio.gz" ! -path "$VM_INITRD" -delete
}

vm_prepare() {
	local cache=$1
	mkdir -p "$cache"
	vm_ensure_tools
	exec 9>"$cache/.lock"
	flock 9 # concurrent runs share the cache: one prepares, the others wait
	vm_apt_setup "$cache"
	vm_fetch_kernel "$cache"
	vm_build_initrd "$cache"
	flock -u 9
}
