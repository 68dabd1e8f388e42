/**
 * The UAPI server: the unix stream socket `/var/run/wireguard/IFNAME.sock` that wg(8), wg-quick and
 * wgctrl-based tools talk to (wireguard.com/xplatform), served as wireguard-go's ipc/uapi_linux.go and
 * device/uapi.go do:
 * - the directory is created 0755 and the socket bound under umask 077; a path that still accepts
 *   connections is refused ("in use"), a stale one is unlinked;
 * - the socket is created with libc (native.ts) so its fd can be handed to the daemonized child
 *   (WG_UAPI_FD) and adopted there by node:net;
 * - each connection may carry several operations (`get=1` / `set=1`); an unknown operation line
 *   closes the connection; a `get=1` not followed by an empty line is EINVAL; a set is parsed whole
 *   by uapi/codec.ts and applied by Device.ipcSet, so a malformed request changes nothing and answers
 *   `errno=-22`; an empty connection (wg's probe when listing) is simply closed;
 * - operations from all connections are applied one at a time;
 * - deletion of the socket file is watched (inotify through fs.watch), like wireguard-go's
 *   UAPI listener, so `rm` of the socket stops the daemon.
 */
import { chmodSync, existsSync, mkdirSync, statSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { WgDevice } from '../conf/model.js';
import { serialQueue, type Logger } from './device.js';
import { formatGetResponse, parseSetRequest } from '../uapi/codec.js';
import { AF_UNIX } from '../conf/sockaddr.js';
import { SOCK_CLOEXEC, SOCK_STREAM, sys, sysError } from './native.js';

export const DEFAULT_SOCKET_DIR = '/var/run/wireguard';
/** A request larger than this is refused (the biggest selftest config is about 4 MB of text). */
const MAX_REQUEST = 64 << 20;

/** What the server needs from the device (Device implements it). */
export interface UapiTarget {
  ipcGet(): WgDevice;
  ipcSet(config: WgDevice): Promise<number>;
}

export function socketPath(name: string, dir = DEFAULT_SOCKET_DIR): string {
  return join(dir, `${name}.sock`);
}

/** True if something accepts connections on the unix socket `path`. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Creates `dir` and any missing parent 0755 whatever the umask (mkdir's mode is masked by it, and
 * wg-quick runs the daemon under umask 077), so wg(8) run by any user can list the interfaces.
 * A directory that already exists keeps the mode its owner gave it.
 */
export function makeSocketDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (first === undefined) return;
  for (let d = resolve(dir); ; d = dirname(d)) {
    chmodSync(d, 0o755);
    if (d === first || d === dirname(d)) break;
  }
}

/**
 * Creates the listening socket for `name` (before daemonizing, so the path exists when the launcher
 * returns) and returns its fd. Throws an Error with code EADDRINUSE if a live socket is there.
 */
export async function bindUapiSocket(name: string, dir = DEFAULT_SOCKET_DIR): Promise<number> {
  makeSocketDir(dir);
  const path = socketPath(name, dir);
  if (existsSync(path)) {
    if (await isLive(path)) throw sysError(`UAPI socket ${path} is in use`, 98);
    try {
      unlinkSync(path);
    } catch {
      // Gone meanwhile.
    }
  }
  const sun = Buffer.alloc(110);
  sun.writeUInt16LE(AF_UNIX, 0);
  if (Buffer.byteLength(path) > 107) throw sysError(`socket path too long: ${path}`, 36);
  sun.write(path, 2);
  const fd = sys.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError('socket(AF_UNIX)', sys.errno());
  const old = process.umask(0o077);
  try {
    if (sys.bind(fd, sun, 2 + Buffer.byteLength(path) + 1) < 0) throw sysError(`bind ${path}`, sys.errno());
    if (sys.listen(fd, 128) < 0) throw sysError(`listen ${path}`, sys.errno());
  } catch (err) {
    sys.close(fd);
    throw err;
  } finally {
    process.umask(old);
  }
  return fd;
}

export class UapiServer {
  private readonly server: net.Server;
  private watcher: FSWatcher | undefined;
  /** One UAPI operation at a time, across connections, in arrival order. */
  private readonly serial = serialQueue();
  private closing = false;
  private readonly conns = new Set<net.Socket>();
  private readonly ino: number | undefined;

  /** Serves `target` on the listening socket `fd` whose path is `path`. */
  constructor(
    fd: number,
    readonly path: string,
    private readonly target: UapiTarget,
    private readonly log: Logger,
  ) {
    this.server = net.createServer({ allowHalfOpen: true }, (sock) => this.handle(sock));
    this.server.on('error', (err) => this.log.error(`UAPI listener: ${err.message}`));
    this.server.listen({ fd });
    try {
      this.ino = statSync(path).ino;
    } catch {
      this.ino = undefined;
    }
  }

  /** Calls `cb` once when the socket file is deleted (or replaced by another file). */
  onSocketDeleted(cb: () => void): void {
    const dir = join(this.path, '..');
    const base = this.path.slice(dir.length + 1);
    let fired = false;
    const check = (): void => {
      if (fired || this.closing) return;
      let gone = false;
      try {
        const ino = statSync(this.path).ino;
        gone = this.ino !== undefined && ino !== this.ino;
      } catch {
        gone = true;
      }
      if (gone) {
        fired = true;
        cb();
      }
    };
    this.watcher = watch(dir, { persistent: false }, (_event, file) => {
      if (file === null || file === base) check();
    });
    this.watcher.on('error', () => undefined);
    check();
  }

  private handle(sock: net.Socket): void {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = '';
    let busy = false;
    let ended = false;
    let mode: 'idle' | 'set' | 'get' = 'idle';
    let setStart = 0;

    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          if (sock.destroyed) return;
          if (mode === 'idle') {
            const nl = buf.indexOf('\n');
            if (nl === -1) break;
            const op = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (op === 'set=1') {
              mode = 'set';
              setStart = 0;
            } else if (op === 'get=1') {
              mode = 'get';
            } else {
              if (op !== '') this.log.error(`Invalid UAPI operation: ${JSON.stringify(op.slice(0, 32))}`);
              sock.destroy();
              return;
            }
          } else if (mode === 'get') {
            if (buf.length === 0) break;
            mode = 'idle';
            if (buf[0] !== '\n') {
              // wireguard-go: "trailing character in UAPI get"; the rest of the line is dropped.
              const nl = buf.indexOf('\n');
              if (nl === -1 && !ended) {
                mode = 'get';
                break;
              }
              buf = nl === -1 ? '' : buf.slice(nl + 1);
              sock.write('errno=-22\n\n');
              continue;
            }
            buf = buf.slice(1);
            const text = await this.serial(async () => {
              try {
                return formatGetResponse(this.target.ipcGet());
              } catch (err) {
                this.log.error(`UAPI get failed: ${(err as Error).message}`);
                return formatGetResponse({ name: '', peers: [] }, -5);
              }
            });
            sock.write(text);
          } else {
            // set: collect lines up to the empty line that ends the request.
            const end = buf.indexOf('\n\n', setStart);
            const endAtStart = buf.startsWith('\n');
            if (!endAtStart && end === -1) {
              setStart = Math.max(0, buf.length - 1);
              if (buf.length > MAX_REQUEST) {
                sock.end('errno=-22\n\n');
                return;
              }
              break;
            }
            const body = endAtStart ? '' : buf.slice(0, end + 1);
            buf = endAtStart ? buf.slice(1) : buf.slice(end + 2);
            mode = 'idle';
            const errno = await this.serial(async () => {
              const req = parseSetRequest(body);
              if (!req.ok) {
                this.log.error(`UAPI set: ${req.message}`);
                return req.errno;
              }
              try {
                return await this.target.ipcSet(req.device);
              } catch (err) {
                this.log.error(`UAPI set failed: ${(err as Error).message}`);
                return -5;
              }
            });
            sock.write(`errno=${errno}\n\n`);
          }
        }
        if (ended) sock.end();
      } finally {
        busy = false;
      }
    };

    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST + 1024 && mode !== 'set') {
        sock.destroy();
        return;
      }
      void pump();
    });
    sock.on('end', () => {
      ended = true;
      void pump().then(() => {
        if (!busy) sock.end();
      });
    });
  }

  /** Stops listening, closes connections and unlinks the socket file (if it is still ours). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.watcher?.close();
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      if (this.ino === undefined || statSync(this.path).ino === this.ino) unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}
