/**
 * The UAPI server: the unix stream socket `/var/run/wireguard/IFNAME.sock` that wg(8), wg-quick and
 * wgctrl-based tools talk to (wireguard.com/xplatform), served as wireguard-go's ipc/uapi_linux.go and
 * device/uapi.go do:
 * - the directory is created 0755 and the socket bound under umask 077; a path that still accepts
 *   connections is refused ("in use"), a stale one is unlinked;
 * - the socket is created with libc (system/libc.ts) so its fd can be handed to the daemonized child
 *   (WG_UAPI_FD) and adopted there by node:net;
 * - each connection may carry several operations (`get=1` / `set=1`); an unknown operation line
 *   closes the connection; a `get=1` not followed by an empty line is EINVAL (and closes); a set is
 *   parsed line by line as it arrives (uapi/codec.ts SetParser) and applied whole by Device.ipcSet, so a
 *   malformed request changes nothing and answers `errno=-22`; a set that ends at EOF without its
 *   empty line is applied and answered, as wireguard-go does; an empty connection (wg's probe when
 *   listing) is simply closed;
 * - bounded input: a line over 64 KiB answers errno=-5 and closes (wireguard-go's line limit), a set
 *   over 16 MiB likewise, at most 64 connections at once; the socket is paused while an operation
 *   runs, so a client cannot queue more than one chunk ahead;
 * - operations from all connections are applied one at a time;
 * - deletion of the socket file is watched (inotify through fs.watch), like wireguard-go's
 *   UAPI listener, so `rm` of the socket stops the daemon.
 */
import { chmodSync, existsSync, mkdirSync, statSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { wipeDevice, type WgDevice } from '../conf/model.js';
import { serialQueue, type Logger } from './device.js';
import { IPC_ERROR_INVALID, IPC_ERROR_IO, SetParser, formatGetResponse, redactKeys } from '../uapi/codec.js';
import { AF_UNIX } from '../conf/sockaddr.js';
import { SOCK_CLOEXEC, SOCK_STREAM, sys, sysError } from '../system/libc.js';
import { uapiSocketDir, uapiSocketPath } from '../uapi/socket-dir.js';

/** Longest UAPI line, as wireguard-go's bufio.Scanner (64 KiB); a longer one is refused at once. */
export const MAX_LINE = 64 << 10;
/** A set request larger than this is refused (the biggest selftest config is about 4 MB of text). */
export const MAX_SET_REQUEST = 16 << 20;
/**
 * How long, and how much of, a refused request's remaining input is still read (and dropped) before
 * the connection closes: the client gets to read the answer, and the garbage the reads leave for the
 * collector stays small.
 */
const REFUSED_DRAIN_MS = 3000;
const REFUSED_DRAIN_BYTES = 2 << 20;
/** Connections served at once; more are closed on accept (each may hold a request in parsing). */
export const MAX_CONNECTIONS = 64;

/**
 * Splits a byte stream into lines in time linear in its length: only the new chunk is searched for
 * `\n`, and an unfinished line is kept as its chunks until it ends. `push` returns false as soon as
 * the unfinished line is longer than `max` bytes (the caller gives up on the connection).
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partLen = 0;

  constructor(private readonly max: number) {}

  push(chunk: Buffer, out: string[]): boolean {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (this.partLen + nl - start > this.max) return false;
      const piece = chunk.subarray(start, nl);
      out.push(this.partLen === 0 ? piece.toString('utf8') : Buffer.concat([...this.parts, piece]).toString('utf8'));
      this.parts = [];
      this.partLen = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.partLen += chunk.length - start;
      if (this.partLen > this.max) return false;
      // A copy: the socket's chunk is not ours to keep.
      this.parts.push(Buffer.from(chunk.subarray(start)));
    }
    return true;
  }

  /** The unfinished line at end of input (undefined if the input ended with `\n`). */
  rest(): string | undefined {
    if (this.partLen === 0) return undefined;
    const text = Buffer.concat(this.parts).toString('utf8');
    this.parts = [];
    this.partLen = 0;
    return text;
  }
}

/** What the server needs from the device (Device implements it). */
export interface UapiTarget {
  ipcGet(): WgDevice;
  ipcSet(config: WgDevice): Promise<number>;
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
export async function bindUapiSocket(name: string, dir = uapiSocketDir()): Promise<number> {
  makeSocketDir(dir);
  const path = uapiSocketPath(name, dir);
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
    if (this.conns.size >= MAX_CONNECTIONS) {
      sock.destroy();
      return;
    }
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    const lines = new LineSplitter(MAX_LINE);
    /** Complete lines not handled yet (at most one chunk's worth: the socket pauses meanwhile). */
    let queue: string[] = [];
    let head = 0;
    let busy = false;
    let ended = false;
    let mode: 'idle' | 'set' | 'get' = 'idle';
    let parser: SetParser | undefined;
    let setBytes = 0;

    /** Set once a request was refused: what the client still sends is read and dropped. */
    let refused = false;
    const fail = (errno: number, why: string): void => {
      this.log.error(`UAPI: ${why}`);
      parser?.discard();
      parser = undefined;
      queue = [];
      refused = true;
      // Answer and close our side, but keep reading (and dropping) for a moment: a client still
      // writing its request would otherwise get EPIPE at once and may never read the answer
      // (wireguard-go reads the rest of the line). Bounded in time and bytes, never buffered.
      sock.end(`errno=${errno}\n\n`);
      const timer = setTimeout(() => sock.destroy(), REFUSED_DRAIN_MS);
      timer.unref();
      sock.once('close', () => clearTimeout(timer));
    };

    const applySet = async (p: SetParser): Promise<void> => {
      const errno = await this.serial(async () => {
        const req = p.finish();
        if (!req.ok) {
          this.log.error(`UAPI set: ${req.message}`);
          return req.errno;
        }
        try {
          return await this.target.ipcSet(req.device);
        } catch (err) {
          this.log.error(`UAPI set failed: ${(err as Error).message}`);
          return IPC_ERROR_IO;
        }
      });
      if (!sock.destroyed) sock.write(`errno=${errno}\n\n`);
    };

    /** Handles the queued lines in order; async steps (get, set) pause the socket meanwhile. */
    const pump = async (): Promise<void> => {
      if (busy || refused) return;
      busy = true;
      sock.pause();
      try {
        while (head < queue.length && !sock.destroyed && !refused) {
          const line = queue[head++]!;
          if (mode === 'idle') {
            if (line === 'set=1') {
              mode = 'set';
              parser = new SetParser();
              setBytes = 0;
            } else if (line === 'get=1') {
              mode = 'get';
            } else {
              if (line !== '') this.log.error(`Invalid UAPI operation: ${JSON.stringify(redactKeys(line.slice(0, 32)))}`);
              sock.destroy();
              return;
            }
          } else if (mode === 'get') {
            mode = 'idle';
            if (line !== '') {
              // wireguard-go: "trailing character in UAPI get", then the rest of the line is read as an
              // operation and the connection closes.
              fail(IPC_ERROR_INVALID, 'trailing character in UAPI get');
              return;
            }
            const text = await this.serial(async () => {
              try {
                const state = this.target.ipcGet();
                const text = formatGetResponse(state);
                wipeDevice(state); // its key copies (the text is a string, which JS cannot wipe)
                return text;
              } catch (err) {
                this.log.error(`UAPI get failed: ${(err as Error).message}`);
                return formatGetResponse({ name: '', peers: [] }, IPC_ERROR_IO);
              }
            });
            if (!sock.destroyed) sock.write(text);
          } else {
            setBytes += line.length + 1;
            if (setBytes > MAX_SET_REQUEST) {
              fail(IPC_ERROR_IO, `set request larger than ${MAX_SET_REQUEST} bytes`);
              return;
            }
            if (parser!.line(line)) continue;
            mode = 'idle';
            const p = parser!;
            parser = undefined;
            await applySet(p);
          }
        }
        queue = [];
        head = 0;
        if (ended && !sock.destroyed) {
          // The peer closed its side. A set still open ends here, as at its empty line (wireguard-go's
          // line scanner stops at EOF and the lines so far are applied, answered errno=0).
          if (mode === 'set') {
            const p = parser!;
            parser = undefined;
            mode = 'idle';
            const tail = lines.rest(); // a last line without its \n counts, as with Go's scanner
            if (tail !== undefined) p.line(tail);
            await applySet(p);
          }
          sock.end();
        }
      } finally {
        busy = false;
        if (!sock.destroyed && !ended) sock.resume();
      }
    };

    let dropped = 0;
    sock.on('data', (chunk: Buffer) => {
      if (refused) {
        dropped += chunk.length;
        if (dropped > REFUSED_DRAIN_BYTES) sock.destroy();
        return;
      }
      if (!lines.push(chunk, queue)) {
        // wireguard-go reads a set with bufio.Scanner (64 KiB lines): errno=-5, then the rest of
        // the line reads as an invalid operation and the connection closes. Refused at once here,
        // without holding the line.
        if (mode === 'set') fail(IPC_ERROR_IO, `line longer than ${MAX_LINE} bytes`);
        else if (mode === 'get') fail(IPC_ERROR_INVALID, 'trailing character in UAPI get');
        else sock.destroy();
        return;
      }
      void pump();
    });
    sock.on('end', () => {
      ended = true;
      void pump();
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
