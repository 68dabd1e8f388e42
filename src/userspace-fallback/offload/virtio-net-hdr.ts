/**
 * struct virtio_net_hdr (include/uapi/linux/virtio_net.h), the 10 bytes a TUN opened with
 * IFF_VNET_HDR puts before every packet it reads and expects before every packet written to it.
 * They say whether the packet is a GSO super-packet (gso_type, gso_size: the kernel's TSO/USO
 * left to us) and whether its transport checksum is partial (F_NEEDS_CSUM: csum_start/csum_offset,
 * the field holding only the pseudo-header sum).
 *
 * Byte order: a TUN without TUNSETVNETLE/TUNSETVNETBE uses the legacy virtio layout, the host's own
 * byte order (drivers/net/tun.c, tun_is_little_endian), so the codec follows the host.
 */

export const VIRTIO_NET_HDR_LEN = 10;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3; // UFO (IPv4 fragmentation), never asked for here
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5; // USO: Linux 6.2+ on TUN
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

export interface VirtioNetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

const HOST_LE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A header for a plain packet: no GSO, checksum complete. */
export function plainVirtioNetHdr(): VirtioNetHdr {
  return { flags: 0, gsoType: VIRTIO_NET_HDR_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

/** Reads the header at `offset`; throws RangeError if fewer than 10 bytes are there. */
export function decodeVirtioNetHdr(buf: Uint8Array, offset = 0, littleEndian = HOST_LE): VirtioNetHdr {
  if (offset < 0 || buf.length - offset < VIRTIO_NET_HDR_LEN) throw new RangeError('virtio_net_hdr: short buffer');
  const v = new DataView(buf.buffer, buf.byteOffset + offset, VIRTIO_NET_HDR_LEN);
  return {
    flags: v.getUint8(0),
    gsoType: v.getUint8(1),
    hdrLen: v.getUint16(2, littleEndian),
    gsoSize: v.getUint16(4, littleEndian),
    csumStart: v.getUint16(6, littleEndian),
    csumOffset: v.getUint16(8, littleEndian),
  };
}

/** Writes the header at `offset`; throws RangeError for a short buffer or a field out of range. */
export function encodeVirtioNetHdr(hdr: VirtioNetHdr, buf: Uint8Array, offset = 0, littleEndian = HOST_LE): void {
  if (offset < 0 || buf.length - offset < VIRTIO_NET_HDR_LEN) throw new RangeError('virtio_net_hdr: short buffer');
  // Checked field by field with no temporaries: every packet written to the TUN passes here.
  checkField('flags', hdr.flags, 0xff);
  checkField('gso_type', hdr.gsoType, 0xff);
  checkField('hdr_len', hdr.hdrLen, 0xffff);
  checkField('gso_size', hdr.gsoSize, 0xffff);
  checkField('csum_start', hdr.csumStart, 0xffff);
  checkField('csum_offset', hdr.csumOffset, 0xffff);
  buf[offset] = hdr.flags;
  buf[offset + 1] = hdr.gsoType;
  put16(buf, offset + 2, hdr.hdrLen, littleEndian);
  put16(buf, offset + 4, hdr.gsoSize, littleEndian);
  put16(buf, offset + 6, hdr.csumStart, littleEndian);
  put16(buf, offset + 8, hdr.csumOffset, littleEndian);
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`virtio_net_hdr: ${name} out of range: ${value}`);
}

function put16(buf: Uint8Array, at: number, v: number, littleEndian: boolean): void {
  buf[at] = littleEndian ? v & 0xff : v >>> 8;
  buf[at + 1] = littleEndian ? v >>> 8 : v & 0xff;
}
