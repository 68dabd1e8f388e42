/**
 * errno numbers (Linux) and glibc's strerror texts, so our messages read exactly like wg's
 * ("Unable to access interface: No such device"). Node gives error codes as names ('ENOENT');
 * `strerror` accepts either.
 */
const TABLE: ReadonlyArray<readonly [number, string, string]> = [
  [1, 'EPERM', 'Operation not permitted'],
  [2, 'ENOENT', 'No such file or directory'],
  [3, 'ESRCH', 'No such process'],
  [4, 'EINTR', 'Interrupted system call'],
  [5, 'EIO', 'Input/output error'],
  [6, 'ENXIO', 'No such device or address'],
  [7, 'E2BIG', 'Argument list too long'],
  [9, 'EBADF', 'Bad file descriptor'],
  [11, 'EAGAIN', 'Resource temporarily unavailable'],
  [12, 'ENOMEM', 'Cannot allocate memory'],
  [13, 'EACCES', 'Permission denied'],
  [14, 'EFAULT', 'Bad address'],
  [16, 'EBUSY', 'Device or resource busy'],
  [17, 'EEXIST', 'File exists'],
  [19, 'ENODEV', 'No such device'],
  [20, 'ENOTDIR', 'Not a directory'],
  [21, 'EISDIR', 'Is a directory'],
  [22, 'EINVAL', 'Invalid argument'],
  [24, 'EMFILE', 'Too many open files'],
  [28, 'ENOSPC', 'No space left on device'],
  [32, 'EPIPE', 'Broken pipe'],
  [34, 'ERANGE', 'Numerical result out of range'],
  [36, 'ENAMETOOLONG', 'File name too long'],
  [38, 'ENOSYS', 'Function not implemented'],
  [61, 'ENODATA', 'No data available'],
  [71, 'EPROTO', 'Protocol error'],
  [74, 'EBADMSG', 'Bad message'],
  [90, 'EMSGSIZE', 'Message too long'],
  [93, 'EPROTONOSUPPORT', 'Protocol not supported'],
  [95, 'EOPNOTSUPP', 'Operation not supported'],
  [97, 'EAFNOSUPPORT', 'Address family not supported by protocol'],
  [98, 'EADDRINUSE', 'Address already in use'],
  [99, 'EADDRNOTAVAIL', 'Cannot assign requested address'],
  [100, 'ENETDOWN', 'Network is down'],
  [101, 'ENETUNREACH', 'Network is unreachable'],
  [104, 'ECONNRESET', 'Connection reset by peer'],
  [105, 'ENOBUFS', 'No buffer space available'],
  [110, 'ETIMEDOUT', 'Connection timed out'],
  [111, 'ECONNREFUSED', 'Connection refused'],
  [113, 'EHOSTUNREACH', 'No route to host'],
];

const byNumber = new Map<number, string>(TABLE.map(([n, , s]) => [n, s]));
const byName = new Map<string, number>(TABLE.map(([n, name]) => [name, n]));

/** errno number for a name such as 'ENOENT' (Node's `err.code`); undefined if unknown. */
export function errnoOf(name: string): number | undefined {
  if (name === 'ENOTSUP') return 95;
  return byName.get(name);
}

/** glibc's strerror text for an errno number or name. */
export function strerror(errno: number | string): string {
  const n = typeof errno === 'string' ? errnoOf(errno) : errno;
  if (n === undefined) return `Unknown error ${String(errno)}`;
  return byNumber.get(n) ?? `Unknown error ${n}`;
}
