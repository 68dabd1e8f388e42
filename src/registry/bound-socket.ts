/**
 * Sockets that receive only what arrives through one network interface (SO_BINDTODEVICE, socket(7)).
 * Binding to the tunnel address alone is no isolation: Linux's weak host model delivers a packet for
 * any local address whichever interface it came in on, so a LAN neighbour routing the tunnel address
 * via the host's LAN address would reach the socket. A device-bound socket is skipped by the kernel's
 * lookup for packets from other interfaces (UDP: port unreachable; TCP: RST), and its replies leave
 * through that interface.
 *
 * node:dgram and node:net cannot set the option, so the socket is made and bound with libc through
 * koffi, then handed to Node by its fd (dgram `bind({ fd })`, net `listen({ fd })`; Node calls
 * listen(2) itself). koffi is loaded on first use only, so commands that never serve do not pay for it.
 */
import { createRequire } from 'node:module';
import { AF_INET, AF_INET6, SOCKADDR_IN6_LEN, encodeSockaddrIn, encodeSockaddrIn6, parseSockaddr } from '../conf/sockaddr.js';
import { errnoName } from '../conf/errno.js';
import { parseAddress } from './ip.js';

// Linux socket(7)/ipv6(7) constants (asm-generic: x86_64 and arm64 agree).
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_BINDTODEVICE = 25;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, val: Uint8Array, len: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  getsockname(fd: number, addr: Uint8Array, len: Uint32Array): number;
  close(fd: number): number;
  errno(): number;
}

let libc: Libc | null = null;

function load(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *val, unsigned int len)'),
    bind: lib.func('int bind(int fd, const void *addr, unsigned int len)'),
    getsockname: lib.func('int getsockname(int fd, void *addr, void *len)'),
    close: lib.func('int close(int fd)'),
    errno: () => koffi.errno(),
  };
  return libc;
}

/** An Error like Node's system errors: `code` is the errno name, the message names the call. */
function sysError(call: string, errno: number, where: string): Error {
  const code = errnoName(errno) ?? `E${errno}`;
  return Object.assign(new Error(`${call} ${where}: ${code}`), { code, errno });
}

/** sockaddr_in / sockaddr_in6 for a numeric address and port. */
function sockaddr(host: string, port: number): Uint8Array {
  const ip = parseAddress(host);
  if (!ip) throw new RangeError(`\`${host}' is not a numeric address`);
  return ip.family === 6 ? encodeSockaddrIn6(ip.addr, port, 0) : encodeSockaddrIn(ip.addr, port);
}

/**
 * A UDP or TCP socket bound to `host`:`port` and to `device`; returns its fd and actual port. The
 * fd is non-blocking and close-on-exec; the caller hands it to Node, which then owns it.
 */
export function boundSocket(kind: 'udp' | 'tcp', host: string, port: number, device: string): { fd: number; port: number } {
  const c = load();
  const v6 = parseAddress(host)?.family === 6;
  const where = `${v6 ? `[${host}]` : host}:${port} on ${device}`;
  const fd = c.socket(v6 ? AF_INET6 : AF_INET, (kind === 'udp' ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError('socket', c.errno(), where);
  const one = new Uint8Array(new Int32Array([1]).buffer);
  const dev = Buffer.from(`${device}\0`, 'latin1');
  const fail = (call: string) => {
    const err = sysError(call, c.errno(), where);
    c.close(fd);
    throw err;
  };
  if (kind === 'tcp' && c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4) < 0) fail('setsockopt(SO_REUSEADDR)');
  if (v6 && c.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, one, 4) < 0) fail('setsockopt(IPV6_V6ONLY)');
  if (c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length) < 0) fail('setsockopt(SO_BINDTODEVICE)');
  const sa = sockaddr(host, port);
  if (c.bind(fd, sa, sa.length) < 0) fail('bind');
  const out = new Uint8Array(SOCKADDR_IN6_LEN);
  if (c.getsockname(fd, out, new Uint32Array([out.length])) < 0) fail('getsockname');
  return { fd, port: parseSockaddr(out)!.port };
}
