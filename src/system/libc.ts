/**
 * The few libc calls the I/O edges need that Node core does not offer: open + ioctl(TUNSETIFF) for
 * the TUN, socket/setsockopt(SO_MARK)/bind for UDP sockets with a mark, poll/read/write on raw fds.
 * koffi is the FFI (prebuilt per-platform binaries, no compiler at install); crypto/openssl-ffi.ts
 * uses it too, for libcrypto, and the I/O workers load this module in their own isolates. Linux
 * x86_64/arm64 constants; every call returns -1 and leaves errno in `errno()`.
 */
import koffi from 'koffi';
import { errnoName } from '../conf/errno.js';

const libc = koffi.load('libc.so.6');

export const sys = {
  open: libc.func('int open(const char *path, int flags)') as (path: string, flags: number) => number,
  close: libc.func('int close(int fd)') as (fd: number) => number,
  ioctl: libc.func('int ioctl(int fd, unsigned long req, void *arg)') as (fd: number, req: number, arg: Uint8Array) => number,
  /** ioctl whose argument is a value, not a pointer (TUNSETOFFLOAD). */
  ioctlValue: libc.func('int ioctl(int fd, unsigned long req, unsigned long arg)') as (fd: number, req: number, arg: number) => number,
  read: libc.func('long read(int fd, void *buf, unsigned long len)') as (fd: number, buf: Uint8Array, len: number) => number,
  write: libc.func('long write(int fd, const void *buf, unsigned long len)') as (fd: number, buf: Uint8Array, len: number) => number,
  pipe2: libc.func('int pipe2(void *fds, int flags)') as (fds: Int32Array, flags: number) => number,
  fcntl: libc.func('int fcntl(int fd, int cmd, int arg)') as (fd: number, cmd: number, arg: number) => number,
  fcntlPtr: libc.func('int fcntl(int fd, int cmd, void *arg)') as (fd: number, cmd: number, arg: Int32Array) => number,
  socket: libc.func('int socket(int domain, int type, int protocol)') as (d: number, t: number, p: number) => number,
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *val, unsigned int len)') as (
    fd: number, level: number, name: number, val: Uint8Array, len: number) => number,
  bind: libc.func('int bind(int fd, const void *addr, unsigned int len)') as (fd: number, addr: Uint8Array, len: number) => number,
  listen: libc.func('int listen(int fd, int backlog)') as (fd: number, backlog: number) => number,
  getsockname: libc.func('int getsockname(int fd, void *addr, void *len)') as (fd: number, addr: Uint8Array, len: Uint32Array) => number,
  recvfrom: libc.func('long recvfrom(int fd, void *buf, unsigned long len, int flags, void *addr, void *alen)') as (
    fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, alen: Uint32Array) => number,
  recvmmsg: libc.func('int recvmmsg(int fd, void *msgs, unsigned int n, int flags, void *timeout)') as (
    fd: number, msgs: unknown, n: number, flags: number, timeout: null) => number,
  poll: libc.func('int poll(void *fds, unsigned long n, int timeout)') as (fds: Uint8Array, n: number, timeout: number) => number,
  /** poll() on native memory (AsyncPollSet). */
  pollPtr: libc.func('int poll(void *fds, unsigned long n, int timeout)') as (fds: unknown, n: number, timeout: number) => number,
  /** poll() on a libuv thread-pool thread (koffi's async call); `fds` is native memory (AsyncPollSet). */
  pollAsync: (libc.func('int poll(void *fds, unsigned long n, int timeout)') as unknown as {
    async(fds: unknown, n: number, timeout: number, cb: (err: unknown, rc: number) => void): void;
  }).async,
  prctl: libc.func('int prctl(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)') as (
    op: number, a2: number, a3: number, a4: number, a5: number) => number,
  prctlName: libc.func('int prctl(int op, const char *name, unsigned long a3, unsigned long a4, unsigned long a5)') as (
    op: number, name: string, a3: number, a4: number, a5: number) => number,
  setrlimit: libc.func('int setrlimit(int resource, const void *rlim)') as (resource: number, rlim: BigUint64Array) => number,
  sendto: libc.func('long sendto(int fd, const void *buf, unsigned long len, int flags, const void *addr, unsigned int alen)') as (
    fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, alen: number) => number,
  /** madvise(2) on a range of this process's address space (resident-pages.ts). */
  madvise: libc.func('int madvise(unsigned long addr, unsigned long len, int advice)') as (addr: number, len: number, advice: number) => number,
  if_nametoindex: libc.func('unsigned int if_nametoindex(const char *name)') as (name: string) => number,
  if_indextoname: libc.func('void *if_indextoname(unsigned int index, char *buf)') as (index: number, buf: Uint8Array) => unknown,
  errno: (): number => koffi.errno(),
};

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
export const IFF_VNET_HDR = 0x4000;
export const TUNSETOFFLOAD = 0x400454d0;
export const IFNAMSIZ = 16;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
/** POLLERR | POLLHUP | POLLNVAL. */
export const POLL_FAILED = 0x38;
/** struct pollfd { int fd; short events; short revents; } */
export const POLLFD_BYTES = 8;
export const PR_SET_NAME = 15;
export const PR_SET_DUMPABLE = 4;
export const RLIMIT_CORE = 4;
export const MADV_DONTNEED = 4;

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

/**
 * Keeps the daemon's keys out of core files and away from other users' debuggers: RLIMIT_CORE 0 (no
 * core dump on a crash) and PR_SET_DUMPABLE 0 (also makes /proc/PID/mem and ptrace root-only), as
 * root daemons holding secrets do (prctl(2), setrlimit(2)). Returns what failed, if anything.
 */
export function protectProcess(): string | undefined {
  const failed: string[] = [];
  if (sys.setrlimit(RLIMIT_CORE, new BigUint64Array(2)) < 0) failed.push(`setrlimit(RLIMIT_CORE): errno ${sys.errno()}`);
  if (sys.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) failed.push(`prctl(PR_SET_DUMPABLE): errno ${sys.errno()}`);
  return failed.length > 0 ? `Cannot disable core dumps: ${failed.join(', ')}` : undefined;
}

/** struct mmsghdr on 64-bit Linux: msghdr (56 bytes) then msg_len, padded to 64. */
const MMSGHDR_BYTES = 64;
const MSGHDR_OFF_NAME = 0;
const MSGHDR_OFF_NAMELEN = 8;
const MSGHDR_OFF_IOV = 16;
const MSGHDR_OFF_IOVLEN = 24;
const MMSGHDR_OFF_LEN = 56;
const MSGHDR_OFF_CONTROL = 32;
const MSGHDR_OFF_CONTROLLEN = 40;
/** sizeof(struct cmsghdr): size_t len; int level; int type. */
const CMSG_HDR = 16;
/** struct iovec { void *base; size_t len; } */
const IOVEC_BYTES = 16;
/** Room per source address (sockaddr_in6 is 28 bytes). */
const SA_SLOT = 32;
const SA_LEN = 28;

/**
 * A pollfd array in native memory, for sys.pollAsync (the poll runs on another thread while this
 * one goes on, so the array must not live in the JS heap, which may move it). Grows as asked.
 */
export class AsyncPollSet {
  private mem: unknown;
  private dv = new DataView(new ArrayBuffer(0));
  private n = 0;

  /** Sets the fds (each polled for POLLIN), revents cleared. */
  set(fds: number[]): void {
    if (fds.length * POLLFD_BYTES > this.dv.byteLength) {
      if (this.mem !== undefined) koffi.free(this.mem);
      const size = Math.max(8, fds.length) * POLLFD_BYTES;
      this.mem = koffi.alloc('uint8_t', size);
      this.dv = new DataView(koffi.view(this.mem, size));
    }
    this.n = fds.length;
    fds.forEach((fd, i) => {
      this.dv.setInt32(i * POLLFD_BYTES, fd, true);
      this.dv.setInt16(i * POLLFD_BYTES + 4, POLLIN, true);
      this.dv.setInt16(i * POLLFD_BYTES + 6, 0, true);
    });
  }

  /** poll(2) on a thread-pool thread, no timeout; `done` gets its return value (errno then in sys.errno()). */
  poll(done: (rc: number) => void): void {
    sys.pollAsync(this.mem, this.n, -1, (err, rc) => done(err ? -1 : rc));
  }

  /** poll(2) here, without waiting; the same return value. */
  pollNow(): number {
    return sys.pollPtr(this.mem, this.n, 0);
  }

  revents(i: number): number {
    return this.dv.getInt16(i * POLLFD_BYTES + 6, true);
  }

  free(): void {
    if (this.mem !== undefined) koffi.free(this.mem);
    this.mem = undefined;
    this.dv = new DataView(new ArrayBuffer(0));
  }
}

/**
 * recvmmsg(2) into native memory set up once: up to `count` datagrams of up to `slot` bytes and
 * their source addresses per system call. The reader worker reads UDP with it: one call (and one
 * FFI crossing) per burst instead of one per datagram, which is what a flood of small datagrams
 * costs most. With `control` > 0 each slot also gets that many bytes for control messages (their
 * length reset where a call changed it), where a socket with UDP_GRO says a datagram is a coalesced run (groSize()).
 */
export class DatagramBatch {
  private readonly mem: unknown;
  private readonly bytes: Uint8Array;
  private readonly dv: DataView;
  private readonly saOff: number;
  private readonly ctlOff: number;
  private readonly dataOff: number;
  /** Headers from the front that a past recvmmsg() may have changed (all, before the first). */
  private stale: number;

  constructor(
    readonly count: number,
    private readonly slot: number,
    private readonly control = 0,
  ) {
    slot = (slot + 7) & ~7;
    this.slot = slot;
    control = (control + 7) & ~7;
    this.control = control;
    const iovOff = count * MMSGHDR_BYTES;
    this.saOff = iovOff + count * IOVEC_BYTES;
    this.ctlOff = this.saOff + count * SA_SLOT;
    this.dataOff = this.ctlOff + count * control;
    this.stale = count;
    const size = this.dataOff + count * slot;
    this.mem = koffi.alloc('uint8_t', size);
    const base = koffi.address(this.mem);
    const ab = koffi.view(this.mem, size);
    this.bytes = new Uint8Array(ab);
    // Only the headers: the datagram slots' pages stay untouched (not resident) until used.
    this.bytes.fill(0, 0, this.dataOff);
    this.dv = new DataView(ab);
    for (let i = 0; i < count; i++) {
      const h = i * MMSGHDR_BYTES;
      this.dv.setBigUint64(h + MSGHDR_OFF_NAME, base + BigInt(this.saOff + i * SA_SLOT), true);
      this.dv.setUint32(h + MSGHDR_OFF_NAMELEN, SA_LEN, true);
      this.dv.setBigUint64(h + MSGHDR_OFF_IOV, base + BigInt(iovOff + i * IOVEC_BYTES), true);
      this.dv.setBigUint64(h + MSGHDR_OFF_IOVLEN, 1n, true);
      if (control > 0) this.dv.setBigUint64(h + MSGHDR_OFF_CONTROL, base + BigInt(this.ctlOff + i * control), true);
      this.dv.setBigUint64(iovOff + i * IOVEC_BYTES, base + BigInt(this.dataOff + i * slot), true);
      this.dv.setBigUint64(iovOff + i * IOVEC_BYTES + 8, BigInt(slot), true);
    }
  }

  /** Reads up to `max` (at most `count`) datagrams without blocking: how many, or -1 (errno in sys.errno()). */
  receive(fd: number, max: number): number {
    const n = Math.min(max, this.count);
    // The kernel overwrites msg_namelen and msg_controllen (with what it wrote, 0: no control
    // message) of the headers it filled, and the one it failed on at most: only those are reset, so
    // a lone datagram does not pay for the whole batch.
    for (let i = 0, stale = Math.min(n, this.stale); i < stale; i++) {
      const h = i * MMSGHDR_BYTES;
      this.dv.setUint32(h + MSGHDR_OFF_NAMELEN, SA_LEN, true);
      if (this.control > 0) setU64(this.dv, h + MSGHDR_OFF_CONTROLLEN, this.control);
    }
    const got = sys.recvmmsg(fd, this.mem, n, MSG_DONTWAIT, null);
    if (this.stale <= n) this.stale = got < 0 ? 1 : Math.min(n, got + 1); // else the prefix stays stale past n
    return got;
  }

  /** Datagram `i` of the last receive() (a view into the batch's memory, valid until the next call). */
  payload(i: number): Uint8Array {
    const len = this.dv.getUint32(i * MMSGHDR_BYTES + MMSGHDR_OFF_LEN, true);
    const at = this.dataOff + i * this.slot;
    return this.bytes.subarray(at, at + len);
  }

  /** Source sockaddr of datagram `i` (28 bytes; a sockaddr_in uses the first 16). */
  source(i: number): Uint8Array {
    const at = this.saOff + i * SA_SLOT;
    return this.bytes.subarray(at, at + SA_LEN);
  }

  /**
   * The segment size of datagram `i` when the kernel coalesced a run of datagrams into it (a
   * UDP_GRO control message, udp(7)); 0 for a datagram as it was sent.
   */
  groSize(i: number): number {
    if (this.control === 0) return 0;
    const used = Number(this.dv.getBigUint64(i * MMSGHDR_BYTES + MSGHDR_OFF_CONTROLLEN, true));
    return udpGroSize(this.dv, this.ctlOff + i * this.control, Math.min(used, this.control));
  }
}

/**
 * Walks the control messages in `len` bytes at `off` of `dv` (struct cmsghdr: size_t len, int
 * level, int type, data; each padded to 8 bytes, CMSG_NXTHDR) for SOL_UDP/UDP_GRO, whose data is
 * the int gso_size; 0 when there is none.
 */
export function udpGroSize(dv: DataView, off: number, len: number): number {
  let at = 0;
  while (at + CMSG_HDR <= len) {
    const clen = Number(dv.getBigUint64(off + at, true));
    if (clen < CMSG_HDR || at + clen > len) return 0;
    if (dv.getInt32(off + at + 8, true) === SOL_UDP && dv.getInt32(off + at + 12, true) === UDP_GRO && clen >= CMSG_HDR + 4) {
      return Math.max(0, dv.getInt32(off + at + CMSG_HDR, true));
    }
    at += (clen + 7) & ~7;
  }
  return 0;
}

// ---- Sending datagrams in batches: sendmmsg(2) and UDP GSO (UDP_SEGMENT, udp(7)) ----

/** Socket level and options of udp(7) (include/uapi/linux/udp.h). */
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;

/**
 * Calls that take native addresses as numbers: a SendBatch points into its own koffi memory at an
 * offset (koffi's `void *` wants a pointer object or a typed array, not base + offset).
 */
const nativeCalls = {
  sendmmsg: libc.func('int sendmmsg(int fd, uintptr_t msgs, unsigned int n, int flags)') as (
    fd: number, msgs: number, n: number, flags: number) => number,
  sendto: libc.func('long sendto(int fd, uintptr_t buf, unsigned long len, int flags, uintptr_t addr, unsigned int alen)') as (
    fd: number, buf: number, len: number, flags: number, addr: number, alen: number) => number,
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, void *val, void *len)') as (
    fd: number, level: number, name: number, val: Uint8Array, len: Uint32Array) => number,
};

/** sendto(2) of `len` bytes at native address `buf` to the sockaddr at `addr` (see sharedAddress). */
export const sendtoAddress = nativeCalls.sendto;

/** Whether the kernel knows UDP_SEGMENT on this UDP socket (since Linux 4.18; older ones say ENOPROTOOPT). */
export function hasUdpSegment(fd: number): boolean {
  const val = new Uint8Array(4);
  return nativeCalls.getsockopt(fd, SOL_UDP, UDP_SEGMENT, val, new Uint32Array([4])) === 0;
}

/** struct cmsghdr { size_t len; int level; int type; } then the data, 8-byte aligned (CMSG_SPACE). */
const CMSG_SLOT = 24;

/**
 * Native memory for sendmmsg(2): `count` mmsghdrs, `iovecs` iovecs, a sockaddr slot and a
 * UDP_SEGMENT control message per message (each header already points at its sockaddr slot), then
 * `extra` bytes. Only the headers are written: the extra bytes' pages stay untouched (not resident)
 * until used.
 */
function mmsgArea(count: number, iovecs: number, extra: number) {
  const iovOff = count * MMSGHDR_BYTES;
  const saOff = iovOff + iovecs * IOVEC_BYTES;
  const cmsgOff = saOff + count * SA_SLOT;
  const extraOff = cmsgOff + count * CMSG_SLOT;
  const mem = koffi.alloc('uint8_t', extraOff + extra);
  const base = Number(koffi.address(mem));
  const ab = koffi.view(mem, extraOff + extra);
  const bytes = new Uint8Array(ab);
  bytes.fill(0, 0, extraOff);
  const dv = new DataView(ab);
  for (let k = 0; k < count; k++) {
    dv.setBigUint64(k * MMSGHDR_BYTES + MSGHDR_OFF_NAME, BigInt(base + saOff + k * SA_SLOT), true);
    const c = cmsgOff + k * CMSG_SLOT;
    dv.setBigUint64(c, BigInt(CMSG_HDR + 2), true);
    dv.setInt32(c + 8, SOL_UDP, true);
    dv.setInt32(c + 12, UDP_SEGMENT, true);
  }
  return { base, dv, bytes, iovOff, saOff, cmsgOff, extraOff };
}

/**
 * Outgoing datagrams staged in native memory and sent with sendmmsg(2): `data` is a byte area the
 * caller fills; message k (setMessage) is bytes [off, off + len) of it to a sockaddr, optionally as
 * a UDP GSO train (a UDP_SEGMENT control message: the kernel cuts it into datagrams of `segment`
 * bytes, the last may be shorter). One system call sends many datagrams, or many trains.
 */
export class SendBatch {
  private readonly base: number;
  private readonly dv: DataView;
  private readonly bytes: Uint8Array;
  private readonly iovOff: number;
  private readonly saOff: number;
  private readonly cmsgOff: number;
  private readonly dataOff: number;
  /** The staging area for payloads (`capacity` bytes). */
  readonly data: Uint8Array;

  constructor(
    /** Messages per sendmmsg(). */
    readonly count: number,
    /** Bytes of payload staged at once. */
    readonly capacity: number,
  ) {
    const a = mmsgArea(count, count, capacity);
    ({ base: this.base, dv: this.dv, bytes: this.bytes, iovOff: this.iovOff, saOff: this.saOff, cmsgOff: this.cmsgOff } = a);
    this.dataOff = a.extraOff;
    this.data = this.bytes.subarray(this.dataOff);
    for (let k = 0; k < count; k++) {
      const h = k * MMSGHDR_BYTES;
      this.dv.setBigUint64(h + MSGHDR_OFF_IOV, BigInt(this.base + this.iovOff + k * IOVEC_BYTES), true);
      this.dv.setBigUint64(h + MSGHDR_OFF_IOVLEN, 1n, true);
    }
  }

  /**
   * Message `k`: `len` bytes at `off` in `data`, to `sa` (a sockaddr_in or sockaddr_in6), cut into
   * datagrams of `segment` bytes by the kernel when `segment` > 0 (and less than `len`).
   */
  setMessage(k: number, off: number, len: number, sa: Uint8Array, segment: number): void {
    if (k < 0 || k >= this.count || off < 0 || len < 0 || off + len > this.capacity || sa.length > SA_SLOT) {
      throw new RangeError(`SendBatch.setMessage(${k}, ${off}, ${len})`);
    }
    const h = k * MMSGHDR_BYTES;
    const dv = this.dv;
    this.bytes.set(sa, this.saOff + k * SA_SLOT);
    dv.setUint32(h + MSGHDR_OFF_NAMELEN, sa.length, true);
    const iov = this.iovOff + k * IOVEC_BYTES;
    dv.setBigUint64(iov, BigInt(this.base + this.dataOff + off), true);
    dv.setBigUint64(iov + 8, BigInt(len), true);
    if (segment > 0 && segment < len) {
      const c = this.cmsgOff + k * CMSG_SLOT;
      dv.setUint16(c + CMSG_HDR, segment, true);
      dv.setBigUint64(h + MSGHDR_OFF_CONTROL, BigInt(this.base + c), true);
      dv.setBigUint64(h + MSGHDR_OFF_CONTROLLEN, BigInt(CMSG_SLOT), true);
    } else {
      dv.setBigUint64(h + MSGHDR_OFF_CONTROL, 0n, true);
      dv.setBigUint64(h + MSGHDR_OFF_CONTROLLEN, 0n, true);
    }
  }

  /** sendmmsg() of messages [from, from + n): how many went out, or -1 (errno in sys.errno()). */
  send(fd: number, from: number, n: number, flags: number): number {
    if (from < 0 || n < 1 || from + n > this.count) throw new RangeError(`SendBatch.send(${from}, ${n})`);
    return nativeCalls.sendmmsg(fd, this.base + from * MMSGHDR_BYTES, n, flags);
  }

  /** sendto() of bytes [off, off + len) of `data` to message `k`'s address: for splitting a train. */
  sendOne(fd: number, k: number, off: number, len: number, flags: number): number {
    if (k < 0 || k >= this.count || off < 0 || len < 0 || off + len > this.capacity) {
      throw new RangeError(`SendBatch.sendOne(${k}, ${off}, ${len})`);
    }
    const salen = this.dv.getUint32(k * MMSGHDR_BYTES + MSGHDR_OFF_NAMELEN, true);
    return nativeCalls.sendto(fd, this.base + this.dataOff + off, len, flags, this.base + this.saOff + k * SA_SLOT, salen);
  }
}

/** memmove(dst, dst, 0) does nothing and answers dst: koffi's pointer for a typed array, as a number. */
const echoAddress = libc.func('uintptr_t memmove(void *dst, void *src, unsigned long n)') as (dst: Uint8Array, src: Uint8Array, n: number) => number;

/**
 * The address of `bytes[0]`, for iovecs that point into it (GatherBatch). Only for views of a
 * SharedArrayBuffer: its backing store stays where it is for the buffer's lifetime (an ordinary
 * ArrayBuffer's small contents may live on V8's heap and move).
 */
export function sharedAddress(bytes: Uint8Array): number {
  if (!(bytes.buffer instanceof SharedArrayBuffer)) throw new TypeError('sharedAddress needs a view of a SharedArrayBuffer');
  return addressOfBytes(bytes);
}

/** memmove(3) between addresses (system/native-copy.ts). */
export const memmoveAt = libc.func('uintptr_t memmove(uintptr_t dst, uintptr_t src, unsigned long n)') as (dst: number, src: number, n: number) => number;
/** The address of `b[0]` now (for how long it holds, see openssl-ffi.ts Addresses). */
export function addressOfBytes(b: Uint8Array): number {
  return echoAddress(b, b, 0);
}

/** Stores a non-negative integer below 2^53 as a little-endian u64 (no BigInt per store on the hot path). */
function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v >>> 0, true);
  dv.setUint32(at + 4, Math.floor(v / 0x100000000), true);
}

/**
 * Outgoing datagrams gathered from memory the caller owns (a SharedArrayBuffer ring, see
 * sharedAddress) and sent with sendmmsg(2), without copying them into a staging area: message k is
 * the concatenation of its iovecs, to a sockaddr, optionally as a UDP GSO train (the kernel cuts
 * the concatenation into datagrams of `segment` bytes, udp(7)). Build with add() and end(), send
 * with send(); reset() starts over.
 */
export class GatherBatch {
  private readonly base: number;
  private readonly dv: DataView;
  private readonly bytes: Uint8Array;
  private readonly iovOff: number;
  private readonly saOff: number;
  private readonly cmsgOff: number;
  /** Per iovec: its address and length (for sendPart). */
  private readonly iovAddr: Float64Array;
  private readonly iovLen: Int32Array;
  /** Per message: its first iovec. */
  private readonly msgIov: Int32Array;
  /** Messages ended so far, and iovecs added so far. */
  messages = 0;
  iovecs = 0;

  constructor(
    /** Messages per sendmmsg(). */
    readonly count: number,
    /** Iovecs in all messages together. */
    readonly maxIovecs: number,
  ) {
    ({ base: this.base, dv: this.dv, bytes: this.bytes, iovOff: this.iovOff, saOff: this.saOff, cmsgOff: this.cmsgOff } =
      mmsgArea(count, maxIovecs, 0));
    this.iovAddr = new Float64Array(maxIovecs);
    this.iovLen = new Int32Array(maxIovecs);
    this.msgIov = new Int32Array(count + 1);
  }

  reset(): void {
    this.messages = 0;
    this.iovecs = 0;
    this.msgIov[0] = 0;
  }

  /** Whether another message of `iovecs` iovecs fits. */
  room(iovecs: number): boolean {
    return this.messages < this.count && this.iovecs + iovecs <= this.maxIovecs;
  }

  /** Adds `len` bytes at native address `addr` to the message being built. */
  add(addr: number, len: number): void {
    const i = this.iovecs;
    if (i >= this.maxIovecs || this.messages >= this.count) throw new RangeError('GatherBatch.add: full');
    const at = this.iovOff + i * IOVEC_BYTES;
    setU64(this.dv, at, addr);
    setU64(this.dv, at + 8, len);
    this.iovAddr[i] = addr;
    this.iovLen[i] = len;
    this.iovecs = i + 1;
  }

  /**
   * Ends the message being built (the iovecs added since the last end()): to `sa`, cut into
   * datagrams of `segment` bytes by the kernel when `segment` > 0.
   */
  end(sa: Uint8Array, segment: number): void {
    const k = this.messages;
    const first = this.msgIov[k]!;
    const n = this.iovecs - first;
    if (n < 1 || sa.length > SA_SLOT) throw new RangeError('GatherBatch.end');
    const h = k * MMSGHDR_BYTES;
    const dv = this.dv;
    this.bytes.set(sa, this.saOff + k * SA_SLOT);
    dv.setUint32(h + MSGHDR_OFF_NAMELEN, sa.length, true);
    setU64(dv, h + MSGHDR_OFF_IOV, this.base + this.iovOff + first * IOVEC_BYTES);
    setU64(dv, h + MSGHDR_OFF_IOVLEN, n);
    if (segment > 0) {
      const c = this.cmsgOff + k * CMSG_SLOT;
      dv.setUint16(c + CMSG_HDR, segment, true);
      setU64(dv, h + MSGHDR_OFF_CONTROL, this.base + c);
      setU64(dv, h + MSGHDR_OFF_CONTROLLEN, CMSG_SLOT);
    } else {
      setU64(dv, h + MSGHDR_OFF_CONTROL, 0);
      setU64(dv, h + MSGHDR_OFF_CONTROLLEN, 0);
    }
    this.messages = k + 1;
    this.msgIov[k + 1] = this.iovecs;
  }

  /** Iovecs [first, end) of message k. */
  firstIov(k: number): number {
    return this.msgIov[k]!;
  }
  endIov(k: number): number {
    return this.msgIov[k + 1]!;
  }

  /** sendmmsg() of messages [from, from + n): how many went out, or -1 (errno in sys.errno()). */
  send(fd: number, from: number, n: number, flags: number): number {
    if (from < 0 || n < 1 || from + n > this.messages) throw new RangeError(`GatherBatch.send(${from}, ${n})`);
    return nativeCalls.sendmmsg(fd, this.base + from * MMSGHDR_BYTES, n, flags);
  }

  /** sendto() of iovec i alone, to message k's address: for splitting a train. */
  sendPart(fd: number, k: number, i: number, flags: number): number {
    if (k < 0 || k >= this.messages || i < this.msgIov[k]! || i >= this.msgIov[k + 1]!) throw new RangeError(`GatherBatch.sendPart(${k}, ${i})`);
    const salen = this.dv.getUint32(k * MMSGHDR_BYTES + MSGHDR_OFF_NAMELEN, true);
    return nativeCalls.sendto(fd, this.iovAddr[i]!, this.iovLen[i]!, flags, this.base + this.saOff + k * SA_SLOT, salen);
  }
}

// ---- The registry's sockets (src/registry/bound-socket.ts) ----

/** socket(7): a socket that hears only what arrives through one interface. */
export const SO_BINDTODEVICE = 25;
