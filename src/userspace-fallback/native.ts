/**
 * The few libc calls the I/O edges need that Node core does not offer: open + ioctl(TUNSETIFF) for
 * the TUN, socket/setsockopt(SO_MARK)/bind for UDP sockets with a mark, poll/read/write on raw fds.
 * koffi is the FFI (prebuilt per-platform binaries, no compiler at install); crypto/openssl-ffi.ts
 * uses it too, for libcrypto. Linux x86_64/arm64 constants; every call returns -1 and leaves errno in `errno()`.
 */
import { createRequire } from 'node:module';
import koffi from 'koffi';
import { errnoName } from '../conf/errno.js';

const libc = koffi.load('libc.so.6');

export const sys = {
  open: libc.func('int open(const char *path, int flags)') as (path: string, flags: number) => number,
  close: libc.func('int close(int fd)') as (fd: number) => number,
  ioctl: libc.func('int ioctl(int fd, unsigned long req, void *arg)') as (fd: number, req: number, arg: Uint8Array) => number,
  read: libc.func('long read(int fd, void *buf, unsigned long len)') as (fd: number, buf: Uint8Array, len: number) => number,
  write: libc.func('long write(int fd, const void *buf, unsigned long len)') as (fd: number, buf: Uint8Array, len: number) => number,
  pipe2: libc.func('int pipe2(void *fds, int flags)') as (fds: Int32Array, flags: number) => number,
  fcntl: libc.func('int fcntl(int fd, int cmd, int arg)') as (fd: number, cmd: number, arg: number) => number,
  socket: libc.func('int socket(int domain, int type, int protocol)') as (d: number, t: number, p: number) => number,
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *val, unsigned int len)') as (
    fd: number, level: number, name: number, val: Uint8Array, len: number) => number,
  bind: libc.func('int bind(int fd, const void *addr, unsigned int len)') as (fd: number, addr: Uint8Array, len: number) => number,
  listen: libc.func('int listen(int fd, int backlog)') as (fd: number, backlog: number) => number,
  getsockname: libc.func('int getsockname(int fd, void *addr, void *len)') as (fd: number, addr: Uint8Array, len: Uint32Array) => number,
  sendto: libc.func('long sendto(int fd, const void *buf, unsigned long len, int flags, const void *addr, unsigned int alen)') as (
    fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, alen: number) => number,
  if_nametoindex: libc.func('unsigned int if_nametoindex(const char *name)') as (name: string) => number,
  if_indextoname: libc.func('void *if_indextoname(unsigned int index, char *buf)') as (index: number, buf: Uint8Array) => unknown,
  errno: (): number => koffi.errno(),
};

/** Path of the koffi package, for worker threads that load it themselves (see worker-io.ts). */
export function koffiPath(): string {
  return createRequire(import.meta.url).resolve('koffi');
}

// Linux constants (asm-generic; x86_64 and arm64 agree on these).
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_MARK = 36;
export const SO_RCVBUFFORCE = 33;
export const SO_SNDBUFFORCE = 32;
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;
export const TUNSETIFF = 0x400454ca;
export const TUNGETIFF = 0x800454d2;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCGIFMTU = 0x8921;
export const SIOCSIFMTU = 0x8922;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const IFNAMSIZ = 16;

/** An Error carrying an errno name in `code` (like Node's system errors) and the number in `errno`. */
export function sysError(what: string, errno: number): Error & { code: string; errno: number } {
  const name = errnoName(errno) ?? `E${errno}`;
  const err = new Error(`${what}: ${name}`) as Error & { code: string; errno: number };
  err.code = name;
  err.errno = errno;
  return err;
}

/** Sets O_NONBLOCK (or clears it) on an fd. */
export function setNonBlocking(fd: number, on: boolean): void {
  const fl = sys.fcntl(fd, F_GETFL, 0);
  if (fl < 0) throw sysError('fcntl(F_GETFL)', sys.errno());
  const want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
  if (want !== fl && sys.fcntl(fd, F_SETFL, want) < 0) throw sysError('fcntl(F_SETFL)', sys.errno());
}

/** Clears FD_CLOEXEC so the fd survives into a spawned child (daemonizing). */
export function clearCloexec(fd: number): void {
  const fl = sys.fcntl(fd, F_GETFD, 0);
  if (fl >= 0 && fl & FD_CLOEXEC) sys.fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
}

/** An `ifreq` buffer (40 bytes on 64-bit) holding `name`. */
export function ifreq(name: string): Buffer {
  const ifr = Buffer.alloc(40);
  ifr.write(name, 0, IFNAMSIZ - 1, 'latin1');
  return ifr;
}

/** Reads an int option-style value into a 4-byte buffer. */
export function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v | 0, 0);
  return b;
}
