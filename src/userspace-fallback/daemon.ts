/**
 * `wgts-userspace [-f|--foreground] IFNAME`: the userspace WireGuard daemon, a drop-in for
 * wireguard-go's command line (its main.go), so `WG_QUICK_USERSPACE_IMPLEMENTATION=wgts-userspace
 * wg-quick up` and `wg` work against it unchanged.
 *
 * Order of work, as in wireguard-go's main.go: create the TUN (or adopt WG_TUN_FD), bind the UAPI
 * socket (or adopt WG_UAPI_FD), and only then daemonize: the child is this same program re-run
 * detached with the two fds as its fds 3 and 4 and WG_TUN_FD=3 WG_UAPI_FD=4 WG_PROCESS_FOREGROUND=1,
 * so the socket exists when the launcher returns (wg-quick runs `wg setconf` right after). The parent
 * exits 0 once the child says (a byte on its fd 5) that its signal handlers are in place, so a SIGTERM
 * sent after the launcher returns always finds them; 1 on any failure before that (a child that ended
 * first has its socket unlinked by the parent).
 *
 * The running daemon wires tun-linux + udp + Device + uapi-server and exits (status 0, socket
 * unlinked) on SIGINT/SIGTERM, on deletion of the socket file, and when the TUN goes away
 * (`ip link del`, which is how wg-quick down stops a userspace implementation).
 *
 * Environment: WG_PROCESS_FOREGROUND=1 (as -f), LOG_LEVEL=verbose|debug|error|silent, WG_TUN_FD and
 * WG_UAPI_FD (pre-opened descriptors), and WGTS_RUN_DIR (uapi/socket-dir.ts: sockets in
 * $WGTS_RUN_DIR/wireguard instead of /var/run/wireguard, where `wgts` then looks too).
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { WGTS_VERSION } from '../conf/version.js';
import type { Clock, TimerHandle } from './clock.js';
import { Device, serialQueue } from './device.js';
import { logLevelFromEnv, makeLogger, outliveClosedOutput } from './log.js';
import { clearCloexec, protectProcess } from '../system/libc.js';
import { releaseStartupPages } from '../system/resident-pages.js';
import { createTun, tunFromFd, type LinuxTun } from './tun-linux.js';
import { UapiServer, bindUapiSocket } from './uapi-server.js';
import { uapiSocketDir, uapiSocketPath } from '../uapi/socket-dir.js';
import { UdpBind } from './udp.js';
import { tuneV8ForLonePackets } from './v8-latency.js';
import { monotonicMs } from './monotonic.js';


/** The real clock: monotonic `now`, wall-clock from the epoch, timers on the event loop. */
export const systemClock: Clock = {
  now: monotonicMs,
  wallclock: () => {
    const ms = performance.timeOrigin + performance.now();
    const sec = Math.floor(ms / 1000);
    return { sec: BigInt(sec), nsec: Math.min(999_999_999, Math.floor((ms - sec * 1000) * 1e6)) };
  },
  schedule: (ms: number, fn: () => void): TimerHandle => {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

function usage(argv0: string): string {
  return `Usage: ${argv0} [-f/--foreground] INTERFACE-NAME\n`;
}

function envFd(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v} is not a file descriptor`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const argv0 = (argv[0] ?? 'wgts-userspace').split('/').pop() ?? 'wgts-userspace';
  const args = argv.slice(1);
  let foreground = false;
  let name: string | undefined;
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
    process.stdout.write(`wgts-userspace v${WGTS_VERSION}\n\nUserspace WireGuard daemon for Linux (wgts).\n`);
    return 0;
  }
  if (args.length === 2 && (args[0] === '-f' || args[0] === '--foreground')) {
    foreground = true;
    name = args[1];
  } else if (args.length === 1 && !args[0]!.startsWith('-')) {
    name = args[0];
  } else {
    process.stderr.write(usage(argv0));
    return 1;
  }
  if (!foreground) foreground = process.env.WG_PROCESS_FOREGROUND === '1';
  const level = logLevelFromEnv(process.env.LOG_LEVEL);
  const requested = name!;
  let log = makeLogger(level, requested);

  let tun: LinuxTun;
  let uapiFd: number;
  try {
    const tunFd = envFd('WG_TUN_FD');
    tun = tunFd !== undefined ? tunFromFd(tunFd) : createTun(requested);
  } catch (err) {
    log.error(`Failed to create TUN device: ${(err as Error).message}`);
    return 1;
  }
  const ifname = tun.name;
  log = makeLogger(level, ifname);
  const dir = uapiSocketDir();
  const givenUapiFd = envFd('WG_UAPI_FD');
  try {
    uapiFd = givenUapiFd ?? (await bindUapiSocket(ifname, dir));
  } catch (err) {
    log.error(`UAPI listen error: ${(err as Error).message}`);
    await tun.close();
    return 1;
  }

  if (!foreground) {
    // Keep stdout/stderr only when asked to log (wireguard-go does the same).
    const keep = process.env.LOG_LEVEL !== undefined && level !== 'silent';
    const out = keep ? 'inherit' : openSync('/dev/null', 'w');
    clearCloexec(tun.fd);
    clearCloexec(uapiFd);
    const script = childScript();
    // Loaded here: the daemonized child never spawns, and child_process (with the stream and dgram
    // modules it pulls in) would stay in its memory for nothing.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [...DAEMON_V8_FLAGS, ...process.execArgv, ...(script ? [script] : []), ifname], {
      detached: true,
      stdio: ['ignore', out, out, tun.fd, uapiFd, 'pipe'],
      env: { ...process.env, WG_TUN_FD: '3', WG_UAPI_FD: '4', WG_PROCESS_FOREGROUND: '1', [READY_FD_ENV]: '5' },
    });
    const ready = await childReady(child, log);
    child.unref();
    if (ready) process.exit(0); // the child owns the TUN and the socket now
    // It died before it could clean up after itself: its socket (if ours) must not stay behind.
    if (givenUapiFd === undefined) rmSync(uapiSocketPath(ifname, dir), { force: true });
    process.exit(1);
  }

  return runForeground(tun, uapiFd, uapiSocketPath(ifname, dir), log);
}

/**
 * V8 flags for the daemonized child, ahead of the launcher's own (a later flag wins, so
 * `node --max-semi-space-size=16 wgts-userspace wg0` still overrides). The main thread allocates
 * short-lived objects per packet, and under load V8 grows the young generation to its default
 * maximum (16 MiB semi-spaces, 48 MiB in all). 2 MiB semi-spaces lowered the peak RSS from 113-144
 * to 106-113 MiB in one interleaved bench run (docs/benchmarks.md, "Data plane"), at the same
 * throughput: scavenges get more frequent, but each copies only the few objects still alive.
 * --no-short-builtin-calls: V8 would map a second copy of its built-in functions' code (from node's
 * binary) near the code it compiles, 1 MiB more RSS; throughput and RTT were the same without it
 * in an interleaved bench run (docs/benchmarks.md). In the foreground (-f) the caller chooses
 * node's flags.
 */
const DAEMON_V8_FLAGS = ['--max-semi-space-size=2', '--no-short-builtin-calls'];

/**
 * The daemonized child's program: dist/daemon/wgts-userspace beside this bundle (this module built
 * as CommonJS, started without the ES module loader: scripts/build.mjs), or the launcher's own script where that is missing (the
 * sources run under test). Its command line still ends in `wgts-userspace IFNAME`.
 */
function childScript(): string | undefined {
  const built = fileURLToPath(new URL('./daemon/wgts-userspace', import.meta.url));
  return existsSync(built) ? built : process.argv[1];
}

/** The fd on which a daemonized child says it is ready (see childReady). */
const READY_FD_ENV = 'WGTS_READY_FD';
/** How long the launcher waits for the child to say so before leaving it be. */
const READY_TIMEOUT_MS = 10_000;

/**
 * Waits until the daemonized child has its signal handlers (it writes a byte on fd 5) before the
 * launcher returns. Until then a SIGTERM would kill the child during Node's own start-up, before
 * any JavaScript runs, leaving its socket behind; whoever signals it learns its pid only after the
 * launcher has returned. False if the child could not be spawned or ended before it was ready.
 */
function childReady(child: ChildProcess, log: ReturnType<typeof makeLogger>): Promise<boolean> {
  const pipe = (child.stdio as readonly unknown[])[5] as Readable | null | undefined;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      pipe?.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(true), READY_TIMEOUT_MS);
    child.once('error', (err) => {
      log.error(`Failed to daemonize: ${err.message}`);
      done(false);
    });
    pipe?.once('data', () => done(true));
    pipe?.once('end', () => {
      log.error('The daemon ended during start-up');
      done(false);
    });
  });
}

/** In the daemonized child, once its handlers are in place: tells the launcher (see childReady). */
function tellLauncherReady(): void {
  const v = process.env[READY_FD_ENV];
  delete process.env[READY_FD_ENV];
  if (v === undefined || !/^[0-9]+$/.test(v)) return;
  const fd = Number(v);
  try {
    writeSync(fd, 'r');
  } catch {
    // The launcher is gone (killed): nobody waits.
  } finally {
    closeSync(fd);
  }
}

async function runForeground(tun: LinuxTun, uapiFd: number, path: string, log: ReturnType<typeof makeLogger>): Promise<number> {
  tuneV8ForLonePackets();
  outliveClosedOutput();
  log.verbose('Starting wgts-userspace');
  const problem = protectProcess();
  if (problem) log.error(problem);
  // Hold no directory of the caller's busy (an unmountable file system), as daemons do.
  process.chdir('/');
  const bind = new UdpBind({ handshakeLane: true });
  const device = new Device({ tun, bind, clock: systemClock, log });
  const server = new UapiServer(uapiFd, path, device, log);

  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  let stopping = false;
  const stop = (why: string, code = 0): void => {
    if (stopping) return;
    stopping = true;
    log.verbose(`Shutting down: ${why}`);
    void (async () => {
      await server.close().catch(() => undefined);
      await device.close().catch((err: unknown) => log.error(`close: ${String(err)}`));
      resolveExit(code);
    })();
  };
  // A bug must not leave a stale socket behind: log it, clean up, exit 1.
  process.on('uncaughtException', (err) => {
    log.error(`internal error: ${err.stack ?? String(err)}`);
    stop('internal error', 1);
  });
  process.on('unhandledRejection', (err) => {
    log.error(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    stop('internal error', 1);
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Signals caught by bin/wgts-userspace while the bundle was loading.
  const pending = (globalThis as { __wgtsPendingSignals?: string[] }).__wgtsPendingSignals;
  if (pending && pending.length > 0) stop(`${pending[0]} during start-up`);
  tellLauncherReady();
  process.on('SIGHUP', () => undefined);
  tun.onClose(() => stop('interface deleted'));
  server.onSocketDeleted(() => stop('UAPI socket deleted'));

  // The device follows the interface's up/down state, as wireguard-go's does.
  const linkQueue = serialQueue();
  tun.onLinkState((up) => {
    void linkQueue(async () => {
      if (stopping) return;
      try {
        await (up ? device.up() : device.down());
      } catch (err) {
        log.error(`Unable to bring the device ${up ? 'up' : 'down'}: ${(err as Error).message}`);
      }
    });
  });
  log.verbose('UAPI listener started');
  // Start-up is over: the pages of node's binary and libraries that only it touched leave this
  // process's RSS (src/system/resident-pages.ts): idle after a handshake and a ping, 32 instead of
  // 50 MiB (docs/benchmarks.md, "Data plane"). After the loop's first turn, so that what start-up
  // queued has run.
  setImmediate(() => {
    try {
      log.verbose(`Released ${(releaseStartupPages() / 2 ** 20).toFixed(1)} MiB of start-up pages`);
    } catch (err) {
      log.verbose(`Start-up pages not released: ${(err as Error).message}`);
    }
  });
  const code = await exited;
  log.verbose('Shutting down');
  // Worker threads and watchers are unref'd; exit explicitly so nothing lingers.
  process.exit(code);
}
