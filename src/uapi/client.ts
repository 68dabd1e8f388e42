/**
 * `Backend` over the UAPI unix socket (the role of wg's ipc-uapi-unix.h + ipc-uapi.h): talks to
 * wireguard-go, boringtun or our own wgts-userspace at `/var/run/wireguard/<name>.sock`.
 *
 * Like wg: a name containing `/` never uses a socket; a path that exists but is not a socket is not
 * ours; a socket whose connect is refused is stale and is unlinked silently; a socket that refuses
 * us for another reason (EACCES for a non-root caller) still counts, so the error surfaces from the
 * real request. Every operation opens its own connection.
 *
 * The socket directory, and the one setting that moves it, are socket-dir.ts's.
 */
import { lstat, opendir, unlink } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { WgError, type Backend } from '../conf/backend.js';
import { EBADMSG, EINVAL, EPROTO, errnoOf } from '../conf/errno.js';
import type { WgDevice } from '../conf/model.js';
import { formatSetRequest, parseGetResponse } from './codec.js';
import { UAPI_SOCKET_SUFFIX, uapiSocketDir, uapiSocketPath } from './socket-dir.js';

function errnoFrom(err: unknown): number {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (code && errnoOf(code)) || EPROTO;
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

async function isSocket(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSocket();
  } catch {
    return false;
  }
}

/** Sends `request` and collects the reply up to and including its empty line (or the end of the stream). */
function exchange(sock: Socket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let searched = 0; // the reply's end is looked for only in text not yet searched
    const done = (): void => {
      sock.removeAllListeners();
      sock.on('error', () => undefined);
      sock.destroy();
      resolve(buf);
    };
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      // The reply ends at its first empty line: a '\n' at the start or right after another '\n'.
      // (A 10,000-peer reply arrives in ~60 chunks; searching it all again each time was quadratic.)
      const blank = buf.indexOf('\n\n', searched);
      searched = Math.max(0, buf.length - 1);
      const end = buf.startsWith('\n') ? 1 : blank === -1 ? -1 : blank + 2;
      if (end !== -1) {
        buf = buf.slice(0, end);
        done();
      }
    });
    sock.on('end', done);
    sock.on('close', done);
    sock.on('error', (err) => {
      sock.destroy();
      reject(new WgError(errnoFrom(err), err.message, { cause: err }));
    });
    sock.write(request);
  });
}

/** wg's reading of a set reply: `errno=N` lines (N may be negative), ended by an empty line. */
export function parseSetReply(reply: string): number {
  let setErrno = -EPROTO;
  const lines = reply.split('\n');
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i]!;
    if (line === '') return setErrno;
    const eq = line.indexOf('=');
    if (eq === -1) break;
    if (line.slice(0, eq) === 'errno') {
      const value = line.slice(eq + 1);
      if (!/^-?[0-9]+$/.test(value)) break;
      const n = Number(value);
      if (n > 0x7fffffff || n < -0x80000000) break;
      setErrno = n;
    }
  }
  return -EPROTO;
}

export class UapiBackend implements Backend {
  /**
   * True if `name` is served over UAPI (wg's userspace_has_wireguard_interface): the path is a
   * socket and a probe connect is not refused. A refused socket is unlinked.
   */
  async has(name: string): Promise<boolean> {
    if (name.includes('/')) return false;
    const path = uapiSocketPath(name);
    if (!(await isSocket(path))) return false;
    try {
      (await openSocket(path)).destroy();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
        await unlink(path).catch(() => undefined);
        return false;
      }
    }
    return true;
  }

  /** Interface names with a live socket, in directory order (wg does not sort them). */
  async list(): Promise<string[]> {
    let dir;
    try {
      dir = await opendir(uapiSocketDir());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new WgError(errnoFrom(err), 'Unable to list interfaces', { cause: err });
    }
    const names: string[] = [];
    for await (const ent of dir) {
      if (ent.name.length <= UAPI_SOCKET_SUFFIX.length || !ent.name.endsWith(UAPI_SOCKET_SUFFIX)) continue;
      const name = ent.name.slice(0, -UAPI_SOCKET_SUFFIX.length);
      if (await this.has(name)) names.push(name);
    }
    return names;
  }

  private async request(name: string, text: string): Promise<string> {
    if (name.includes('/')) throw new WgError(EINVAL, 'Invalid interface name');
    const path = uapiSocketPath(name);
    let sock: Socket;
    try {
      if (!(await lstat(path)).isSocket()) throw new WgError(EBADMSG, 'Not a socket'); // as wg
      sock = await openSocket(path);
    } catch (err) {
      if (err instanceof WgError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') await unlink(path).catch(() => undefined);
      throw new WgError(errnoFrom(err), (err as Error).message, { cause: err });
    }
    return exchange(sock, text);
  }

  async get(name: string): Promise<WgDevice> {
    return parseGetResponse(await this.request(name, 'get=1\n\n'), name);
  }

  async set(device: WgDevice): Promise<void> {
    const ret = parseSetReply(await this.request(device.name, formatSetRequest(device)));
    // wg sets errno = -ret: wireguard-go's -22 becomes EINVAL; a positive code prints as
    // "Unknown error -N", exactly as wg shows it.
    if (ret !== 0) throw new WgError(-ret, `Unable to modify interface ${device.name}`);
  }
}
