/**
 * The registry's listening sockets made with libc (system/libc.ts) rather than Node, for two needs:
 * - SO_BINDTODEVICE (socket(7)): sockets that receive only what arrives through one network
 *   interface. Binding to the tunnel address alone is no isolation: Linux's weak host model
 *   delivers a packet for any local address whichever interface it came in on, so a LAN neighbour
 *   routing the tunnel address via the host's LAN address would reach the socket. A device-bound
 *   socket is skipped by the kernel's lookup for packets from other interfaces (UDP: port
 *   unreachable; TCP: RST), and its replies leave through that interface. node:dgram and node:net
 *   cannot set the option: the fd is handed to Node (dgram `bind({ fd })`, net `listen({ fd })`;
 *   Node calls listen(2) itself).
 * - The UDP worker (udp-worker.ts) reads and answers its sockets with recvmmsg/sendmmsg on the fd.
 * system/libc.ts (and koffi with it) is imported on first use only, so commands that never serve
 * do not pay for it.
 */
import { AF_INET, AF_INET6, SOCKADDR_IN6_LEN, encodeSockaddrIn, encodeSockaddrIn6, parseSockaddr } from '../conf/sockaddr.js';
import { parseAddress } from './ip.js';

/** sockaddr_in / sockaddr_in6 for a numeric address and port. */
function sockaddr(host: string, port: number): Uint8Array {
  const ip = parseAddress(host);
  if (!ip) throw new RangeError(`\`${host}' is not a numeric address`);
  return ip.family === 6 ? encodeSockaddrIn6(ip.addr, port, 0) : encodeSockaddrIn(ip.addr, port);
}

/**
 * A UDP or TCP socket bound to `host`:`port` (and to `device`, if given); returns its fd and actual
 * port. The fd is non-blocking and close-on-exec; the caller owns it (closeSocket, or hand it to Node).
 */
export async function boundSocket(kind: 'udp' | 'tcp', host: string, port: number, device?: string): Promise<{ fd: number; port: number }> {
  const c = await import('../system/libc.js');
  const { sys } = c;
  const v6 = parseAddress(host)?.family === 6;
  const where = `${v6 ? `[${host}]` : host}:${port}${device ? ` on ${device}` : ''}`;
  const fd = sys.socket(v6 ? AF_INET6 : AF_INET, (kind === 'udp' ? c.SOCK_DGRAM : c.SOCK_STREAM) | c.SOCK_NONBLOCK | c.SOCK_CLOEXEC, 0);
  if (fd < 0) throw c.sysError(`socket ${where}`, sys.errno());
  const fail = (call: string) => {
    const err = c.sysError(`${call} ${where}`, sys.errno());
    sys.close(fd);
    throw err;
  };
  const one = c.int32(1);
  if (kind === 'tcp' && sys.setsockopt(fd, c.SOL_SOCKET, c.SO_REUSEADDR, one, 4) < 0) fail('setsockopt(SO_REUSEADDR)');
  if (v6 && sys.setsockopt(fd, c.IPPROTO_IPV6, c.IPV6_V6ONLY, one, 4) < 0) fail('setsockopt(IPV6_V6ONLY)');
  if (device) {
    const dev = Buffer.from(`${device}\0`, 'latin1');
    if (sys.setsockopt(fd, c.SOL_SOCKET, c.SO_BINDTODEVICE, dev, dev.length) < 0) fail('setsockopt(SO_BINDTODEVICE)');
  }
  const sa = sockaddr(host, port);
  if (sys.bind(fd, sa, sa.length) < 0) fail('bind');
  const out = new Uint8Array(SOCKADDR_IN6_LEN);
  if (sys.getsockname(fd, out, new Uint32Array([out.length])) < 0) fail('getsockname');
  return { fd, port: parseSockaddr(out)!.port };
}

/** Closes a socket boundSocket made that was not handed to Node. */
export async function closeSocket(fd: number): Promise<void> {
  (await import('../system/libc.js')).sys.close(fd);
}
