/**
 * errno numbers (Linux) and glibc's strerror texts, so our messages read exactly like wg's
 * ("Unable to access interface: No such device"). Node gives error codes as names ('ENOENT');
 * `strerror` accepts either.
 */

/** The errno numbers wgts code names (Linux values); the table below gives every known one its text. */
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
export const EACCES = 13;
export const EFAULT = 14;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
export const EPROTO = 71;
export const EBADMSG = 74;
export const EBADFD = 77;
export const EMSGSIZE = 90;
export const ENOPROTOOPT = 92;
export const EPROTONOSUPPORT = 93;
export const EOPNOTSUPP = 95;
export const EAFNOSUPPORT = 97;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ENETDOWN = 100;
export const ENETUNREACH = 101;
export const ENOBUFS = 105;

const TABLE: ReadonlyArray<readonly [number, string, string]> = [
  [EPERM, 'EPERM', 'Operation not permitted'],
  [ENOENT, 'ENOENT', 'No such file or directory'],
  [3, 'ESRCH', 'No such process'],
  [EINTR, 'EINTR', 'Interrupted system call'],
  [EIO, 'EIO', 'Input/output error'],
  [6, 'ENXIO', 'No such device or address'],
  [7, 'E2BIG', 'Argument list too long'],
  [EBADF, 'EBADF', 'Bad file descriptor'],
  [EAGAIN, 'EAGAIN', 'Resource temporarily unavailable'],
  [12, 'ENOMEM', 'Cannot allocate memory'],
  [EACCES, 'EACCES', 'Permission denied'],
  [EFAULT, 'EFAULT', 'Bad address'],
  [16, 'EBUSY', 'Device or resource busy'],
  [EEXIST, 'EEXIST', 'File exists'],
  [ENODEV, 'ENODEV', 'No such device'],
  [20, 'ENOTDIR', 'Not a directory'],
  [21, 'EISDIR', 'Is a directory'],
  [EINVAL, 'EINVAL', 'Invalid argument'],
  [24, 'EMFILE', 'Too many open files'],
  [28, 'ENOSPC', 'No space left on device'],
  [32, 'EPIPE', 'Broken pipe'],
  [34, 'ERANGE', 'Numerical result out of range'],
  [ENAMETOOLONG, 'ENAMETOOLONG', 'File name too long'],
  [ENOSYS, 'ENOSYS', 'Function not implemented'],
  [61, 'ENODATA', 'No data available'],
  [EPROTO, 'EPROTO', 'Protocol error'],
  [EBADMSG, 'EBADMSG', 'Bad message'],
  [EBADFD, 'EBADFD', 'File descriptor in bad state'],
  [EMSGSIZE, 'EMSGSIZE', 'Message too long'],
  [ENOPROTOOPT, 'ENOPROTOOPT', 'Protocol not available'],
  [EPROTONOSUPPORT, 'EPROTONOSUPPORT', 'Protocol not supported'],
  [EOPNOTSUPP, 'EOPNOTSUPP', 'Operation not supported'],
  [EAFNOSUPPORT, 'EAFNOSUPPORT', 'Address family not supported by protocol'],
  [EADDRINUSE, 'EADDRINUSE', 'Address already in use'],
  [EADDRNOTAVAIL, 'EADDRNOTAVAIL', 'Cannot assign requested address'],
  [ENETDOWN, 'ENETDOWN', 'Network is down'],
  [ENETUNREACH, 'ENETUNREACH', 'Network is unreachable'],
  [104, 'ECONNRESET', 'Connection reset by peer'],
  [ENOBUFS, 'ENOBUFS', 'No buffer space available'],
  [110, 'ETIMEDOUT', 'Connection timed out'],
  [111, 'ECONNREFUSED', 'Connection refused'],
  [113, 'EHOSTUNREACH', 'No route to host'],
];

const byNumber = new Map<number, string>(TABLE.map(([n, , s]) => [n, s]));
const byName = new Map<string, number>(TABLE.map(([n, name]) => [name, n]));
const byNumberName = new Map<number, string>(TABLE.map(([n, name]) => [n, name]));

/** errno number for a name such as 'ENOENT' (Node's `err.code`); undefined if unknown. */
export function errnoOf(name: string): number | undefined {
  if (name === 'ENOTSUP') return EOPNOTSUPP; // glibc's alias
  return byName.get(name);
}

/** The name of an errno number ('ENOENT'); undefined if unknown. */
export function errnoName(errno: number): string | undefined {
  return byNumberName.get(errno);
}

/** glibc's strerror text for an errno number or name. */
export function strerror(errno: number | string): string {
  const n = typeof errno === 'string' ? errnoOf(errno) : errno;
  if (n === undefined) return `Unknown error ${String(errno)}`;
  return byNumber.get(n) ?? `Unknown error ${n}`;
}
