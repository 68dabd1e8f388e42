# shellcheck shell=bash
# Sourced by test/kernel/run-vm.sh: installs the VM tools if missing, fetches and unpacks Debian's
# kernel into the cache, and builds the initramfs. Defines vm_prepare CACHE_DIR, which sets
# VM_KVER, VM_TREE (unpacked package root, depmod'd), VM_KERNEL (vmlinuz) and VM_INITRD.
#
# The recipe (issue 7 §4): the linux-image-*-amd64 package that linux-image-amd64 depends on,
# `apt-get download` + `dpkg -x` into the cache, `depmod -b`, then an initramfs of busybox-static plus
# the modules `modprobe -S KVER -d TREE --show-depends` lists for virtio_pci, 9pnet_virtio, 9p,
# overlay and wireguard. Everything lands in the cache dir and is reused by later runs.

VM_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_BOOT_MODULES=(virtio_pci 9pnet_virtio 9p overlay wireguard)

vm_log() { echo "vm: $*" >&2; }
vm_die() { echo "vm: ERROR: $*" >&2; exit 2; }

# Installs qemu-system-x86, busybox-static and kmod when their commands are missing.
vm_ensure_tools() {
	local need=()
	command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
	[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx cpio || need+=(busybox-static)
	command -v depmod >/dev/null && command -v modprobe >/dev/null || need+=(kmod)
	((${#need[@]})) || return 0
	vm_log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || vm_die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || vm_die "apt-get install ${need[*]} failed"
}

# Name of the versioned kernel image package (linux-image-6.1.0-NN-amd64) behind the metapackage.
vm_kernel_package() {
	local pkg
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$pkg" ]; then
		vm_log "apt-cache knows no linux-image-amd64; running apt-get update"
		apt-get update -qq >&2 || vm_die "apt-get update failed"
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	fi
	[ -n "$pkg" ] || vm_die "cannot resolve the package behind linux-image-amd64"
	echo "$pkg"
}

# Downloads, unpacks and depmods the kernel package once; sets VM_TREE, VM_KVER, VM_KERNEL.
vm_fetch_kernel() {
	local cache=$1 pkg tree
	pkg=$(vm_kernel_package)
	tree=$cache/$pkg
	if [ ! -f "$tree/.ready" ]; then
		vm_log "fetching $pkg"
		rm -rf "$tree" "$cache/deb"
		mkdir -p "$cache/deb"
		(cd "$cache/deb" && apt-get download -q "$pkg" >&2 2>/dev/null) ||
			(cd "$cache/deb" && apt-get update -qq >&2 && apt-get download -q "$pkg" >&2) ||
			vm_die "apt-get download $pkg failed"
		dpkg -x "$cache"/deb/"$pkg"_*.deb "$tree" || vm_die "dpkg -x failed"
		rm -rf "$cache/deb"
		touch "$tree/.ready"
	fi
	VM_TREE=$tree
	VM_KVER=$(basename "$(ls -d "$tree"/lib/modules/*/ | head -n1)")
	VM_KERNEL=$tree/boot/vmlinuz-$VM_KVER
	[ -f "$VM_KERNEL" ] || vm_die "no kernel image in $tree"
	if [ ! -f "$tree/lib/modules/$VM_KVER/modules.dep.bin" ]; then
		depmod -b "$tree" "$VM_KVER" || vm_die "depmod failed"
	fi
}

# Builds the initramfs (busybox, init, module helper, boot modules) if its inputs changed.
vm_build_initrd() {
	local cache=$1 stamp work m path list=() seen=" "
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
			cp "$path" "$work/modules/"
			list+=("$(basename "$path")")
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
	vm_fetch_kernel "$cache"
	vm_build_initrd "$cache"
	flock -u 9
}
