/**
 * A fake UAPI server for tests: answers `get=1` with an exact device state (or a raw reply), records
 * every `set=1` request verbatim and answers it with a chosen errno. Listens on
 * `<dir>/wireguard/<name>.sock`, so a test points the client at it with WGTS_RUN_DIR=<dir>.
 * Like wireguard-go it tolerates empty probe connections and serves several operations per
 * connection.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { WgDevice } from '../../src/conf/model.js';
import { formatGetResponse } from '../../src/uapi/codec.js';

export class FakeUapiServer {
  /** The state answered to `get=1`. */
  device: WgDevice;
  /** When set, answered verbatim to `get=1` instead of `device`. */
  getReply: string | undefined;
  /** errno written in answer to `set=1` (wireguard-go style: 0 or negative). */
  setErrno = 0;
  /** Every set request received, verbatim from `set=1\n` through the empty line. */
  readonly sets: string[] = [];
  /** Number of connections accepted (wg probes once before each real request). */
  connections = 0;

  private constructor(
    readonly path: string,
    private readonly server: Server,
    device: WgDevice,
  ) {
    this.device = device;
  }

  static async start(runDir: string, device: WgDevice): Promise<FakeUapiServer> {
    const dir = join(runDir, 'wireguard');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const path = join(dir, `${device.name}.sock`);
    rmSync(path, { force: true });
    const server = createServer();
    const fake = new FakeUapiServer(path, server, device);
    server.on('connection', (sock) => fake.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    return fake;
  }

  private serve(sock: Socket): void {
    this.connections++;
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (;;) {
        if (buf.startsWith('get=1\n\n')) {
          buf = buf.slice(7);
          sock.write(this.getReply ?? formatGetResponse(this.device));
        } else if (buf.startsWith('set=1\n')) {
          const end = buf.indexOf('\n\n');
          if (end === -1) return;
          this.sets.push(buf.slice(0, end + 2));
          buf = buf.slice(end + 2);
          sock.write(`errno=${this.setErrno}\n\n`);
        } else {
          if (buf.includes('\n') && !buf.startsWith('get=1\n') && !buf.startsWith('set=1')) sock.destroy();
          return;
        }
      }
    });
  }

  /** Stops listening and removes the socket file. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}

/**
 * Runs the real `wg` so that it sees `<runDir>/wireguard` as its /run/wireguard (a bind mount in a
 * private mount namespace; needs root). Async on purpose: fake servers live in the calling process,
 * so a blocking spawn would deadlock.
 */
export function runWgAgainst(
  runDir: string,
  args: string[],
  env: Record<string, string> = {},
  opts: { tty?: boolean } = {},
): Promise<{ out: string; err: string; rc: number }> {
  // With tty, wg runs under script(1) so its stdout is a terminal (output then has CRLF line ends).
  const exec = opts.tty ? 'exec script -qec "wg $*" /dev/null' : 'exec wg "$@"';
  return new Promise((resolve, reject) => {
    const child = spawn(
      'unshare',
      ['-m', 'sh', '-c', `mount --bind "$0" /run/wireguard && ${exec}`, join(runDir, 'wireguard'), ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (rc) => resolve({ out, err, rc: rc ?? -1 }));
  });
}
