/**
 * Opening a Linux TUN with the offloads wireguard-go uses (tun/tun_linux.go, drivers/net/tun.c):
 * IFF_VNET_HDR puts a struct virtio_net_hdr before every packet read and written
 * (offload/virtio-net-hdr.ts), and TUNSETOFFLOAD tells the kernel what it may hand us unfinished:
 * TUN_F_CSUM (partial checksums), TUN_F_TSO4/TSO6 (TCP super-packets of up to 64 KiB) and, on Linux
 * 6.2+, TUN_F_USO4/USO6 (UDP super-packets). Reads are then cut by offload/gso-segment.ts and writes
 * may be super-packets from offload/gro-coalesce.ts.
 *
 * Degrading: a kernel that refuses USO is asked again without it; one that refuses TSO (or a TUN
 * that refuses IFF_VNET_HDR) gets the plain path, reopened without the header, so nothing
 * downstream has to handle a header that never carries anything.
 */
import { EINVAL } from '../conf/errno.js';
import { IFF_NO_PI, IFF_TUN, IFF_VNET_HDR, IFNAMSIZ, O_CLOEXEC, O_RDWR, TUNSETIFF, TUNSETOFFLOAD, ifreq, sys, sysError } from '../system/libc.js';

// include/uapi/linux/if_tun.h
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;

/** What was negotiated: `vnetHdr` false means plain packets (and `offloads` 0). */
export interface TunOpenResult {
  fd: number;
  name: string;
  vnetHdr: boolean;
  offloads: number;
}

/** The offload sets to try, best first. */
const OFFLOAD_CHOICES = [
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
];

function setIff(name: string, flags: number): { fd: number; name: string } | { errno: number } {
  const fd = sys.open('/dev/net/tun', O_RDWR | O_CLOEXEC);
  if (fd < 0) throw sysError('open /dev/net/tun', sys.errno());
  const ifr = ifreq(name);
  ifr.writeUInt16LE(flags, IFNAMSIZ);
  if (sys.ioctl(fd, TUNSETIFF, ifr) < 0) {
    const errno = sys.errno();
    sys.close(fd);
    return { errno };
  }
  const end = ifr.indexOf(0);
  return { fd, name: ifr.toString('latin1', 0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end) };
}

/**
 * Creates (or attaches to) TUN `name`. With `offload`, tries IFF_VNET_HDR and the offload sets
 * above, falling back to the plain path; `offloadFlags` replaces the sets to try (tests).
 */
export function openTun(name: string, offload = true, offloadFlags: readonly number[] = OFFLOAD_CHOICES): TunOpenResult {
  if (name.length === 0 || name.length >= IFNAMSIZ || name.includes('/')) throw sysError(`invalid interface name '${name}'`, EINVAL);
  if (offload) {
    const r = setIff(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
    if ('fd' in r) {
      const offloads = negotiateOffloads(r.fd, offloadFlags);
      if (offloads !== 0) return { ...r, vnetHdr: true, offloads };
      sys.close(r.fd);
    }
  }
  const r = setIff(name, IFF_TUN | IFF_NO_PI);
  if ('errno' in r) throw sysError(`TUNSETIFF ${name}`, r.errno);
  return { ...r, vnetHdr: false, offloads: 0 };
}

/** Sets the first offload set the kernel accepts; returns it, or 0 if it took none. */
export function negotiateOffloads(fd: number, choices: readonly number[] = OFFLOAD_CHOICES): number {
  for (const flags of choices) if (tunSetOffload(fd, flags) === 0) return flags;
  return 0;
}

/** TUNSETOFFLOAD (its argument is the flags by value); 0 or -errno. */
export function tunSetOffload(fd: number, flags: number): number {
  return sys.ioctlValue(fd, TUNSETOFFLOAD, flags) < 0 ? -sys.errno() : 0;
}
