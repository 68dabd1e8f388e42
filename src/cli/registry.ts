/**
 * `wgts registry serve|discover`: the NAT-traversal registry (src/registry/). Options are few and
 * flat, so they are parsed here by hand (no yargs): `--name value` or `--name=value`.
 *
 * serve:    answers DNS-SD queries about IFNAME's peers (their live endpoints) on the tunnel
 *           addresses of IFNAME, or on --listen addresses; IFNAME's own addresses answer only
 *           what arrives through IFNAME; a wildcard address needs --allow-wildcard, because the
 *           records reveal every peer's public address and port.
 * export:   publishes the same records into an authoritative DNS server (registry-export.ts).
 * discover: asks a registry for the endpoints of IFNAME's peers and sets those that changed;
 *           once, or every --interval seconds until SIGINT/SIGTERM.
 */
import { networkInterfaces } from 'node:os';
import type { Command } from './command.js';
import type { Backend } from '../conf/backend.js';
import { WgError } from '../conf/backend.js';
import { wipeDevice, type WgPeer } from '../conf/model.js';
import { strerror } from '../conf/errno.js';
import { parseIP } from '../conf/ip.js';
import { getDevice, listDevices, setDevice } from '../system/ipc.js';
import { DEFAULT_ZONE, normalizeZone, serviceName } from '../registry/zone.js';
import { startRegistryServer, type ListenAddress, type RegistryServer } from '../registry/server.js';
import { ifindexOfName } from '../netlink/ifindex.js';
import { fmt, resolverFor } from '../registry/client.js';
import { exportZone } from './registry-export.js';
import { UsageError, parseFlags } from './flags.js';
import { DEFAULT_FRESH_SECONDS, discoverOnce, type DiscoverOptions } from '../registry/discover.js';

const DNS_PORT = 53;
/** How often serve checks that its interface is still the link its sockets are bound to. */
const REBIND_CHECK_MS = 2000;

function usage(argv0: string): string {
  return [
    `Usage: ${argv0} registry serve <interface> [--zone <zone>] [--listen <address>[:<port>]]... [--allow-wildcard]`,
    `       ${argv0} registry discover <interface> --registry <address>[:<port>] [--zone <zone>] [--interval <seconds>]`,
    `                [--add-new] [--keepalive <seconds>] [--fresh <seconds>] [--timeout <seconds>]`,
    `       ${argv0} registry export <interface> [--zone <zone>] [--ttl <seconds>] [--interval <seconds>]`,
    `                [--zone-file <path> --ns <name>... [--mname <name>] [--rname <mailbox>] [--reload <command>]]`,
    `                [--update <address>[:<port>] [--tsig-key <file>] [--timeout <seconds>]]`,
    '',
    `The zone defaults to ${DEFAULT_ZONE}; the port to ${DNS_PORT}. See wgts-registry(8).`,
    '',
  ].join('\n');
}

interface Parsed {
  positional: string[];
  options: Map<string, string[]>;
}

/** `--name value` / `--name=value` options (repeatable; the last counts) and boolean flags, through parseFlags. */
function parseOptions(args: string[], valued: readonly string[], flags: readonly string[]): Parsed {
  const spec = Object.fromEntries([
    ...valued.map((n) => [n, { type: 'string', multiple: true }] as const),
    ...flags.map((n) => [n, { type: 'boolean', multiple: true }] as const),
  ]);
  const { values, positionals } = parseFlags(args, spec);
  const options = new Map<string, string[]>();
  for (const [name, v] of Object.entries(values)) {
    if (v !== undefined) options.set(name, (v as (string | boolean)[]).map(String));
  }
  return { positional: positionals, options };
}

function last(p: Parsed, name: string): string | undefined {
  return p.options.get(name)?.at(-1);
}

function seconds(p: Parsed, name: string, fallback: number, min: number): number {
  const text = last(p, name);
  if (text === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) < min || Number(text) > 86400) {
    throw new UsageError(`--${name}: \`${text}' is not a number of seconds (${min} to 86400)`);
  }
  return Number(text);
}

/** `a.b.c.d[:port]`, `[v6][:port]` or a bare IPv6 literal; the address must be numeric. */
export function parseHostPort(text: string, what: string): ListenAddress {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text) ?? /^([^[\]]*:[^[\]]*)()$/.exec(text);
  const host = m?.[1];
  const port = m?.[2] ? Number(m[2]) : DNS_PORT;
  if (!host || !parseIP(host) || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`${what}: \`${text}' is not <numeric address>[:<port>] (IPv6 in brackets when a port is given)`);
  }
  return { host, port };
}

function checkIfname(name: string | undefined): string {
  if (!name || name.length > 15 || name.includes('/')) throw new UsageError(`\`${name ?? ''}' is not an interface name`);
  return name;
}

/** The addresses of `ifname` to serve on: its global and unique-local addresses (not link-local). */
function tunnelAddresses(ifname: string): string[] {
  return (networkInterfaces()[ifname] ?? [])
    .filter((a) => !(a.family === 'IPv6' && /^fe[89ab]/i.test(a.address)))
    .map((a) => a.address);
}

function sameAddress(a: string, b: string): boolean {
  const [x, y] = [parseIP(a), parseIP(b)];
  return !!x && !!y && Buffer.from(x).equals(Buffer.from(y));
}

function isWildcard(host: string): boolean {
  return (parseIP(host) ?? [1]).every((b) => b === 0);
}

/** Resolves when SIGINT or SIGTERM arrives (or `signal` aborts); removes its handlers after. */
function untilSignal(ac: AbortController): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const done = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    if (ac.signal.aborted) done();
    else ac.signal.addEventListener('abort', done, { once: true });
  });
}

/** Waits `ms` or until `signal` aborts, leaving no listener behind (the loop may run for months). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    const t = setTimeout(wake, ms);
    signal.addEventListener('abort', wake, { once: true });
  });
}

function describeError(err: unknown): string {
  if (err instanceof WgError) return `${err.message}: ${strerror(err.errno)}`;
  return (err as Error).message;
}

export interface RegistryDeps {
  /** Where devices are read and written; every call picks the backend afresh (system/ipc.ts). */
  backend: Backend;
}

async function serve(argv0: string, args: string[], deps: RegistryDeps): Promise<number> {
  const p = parseOptions(args, ['zone', 'listen'], ['allow-wildcard']);
  if (p.positional.length !== 1) throw new UsageError('serve takes exactly one interface');
  const ifname = checkIfname(p.positional[0]);
  const zone = normalizeZone(last(p, 'zone') ?? DEFAULT_ZONE);
  // The interface's own addresses, default or named by --listen, take only queries that arrive
  // through the interface (server.ts); any other address, wildcards included, anyone who reaches it.
  const own = tunnelAddresses(ifname);
  const isOwn = (host: string) => own.some((a) => sameAddress(a, host));
  let listen = (p.options.get('listen') ?? [])
    .map((t) => parseHostPort(t, '--listen'))
    .map((l) => (isOwn(l.host) ? { ...l, device: ifname } : l));
  if (listen.length === 0) {
    listen = own.map((host) => ({ host, port: DNS_PORT, device: ifname }));
    if (listen.length === 0) {
      process.stderr.write(`${argv0}: interface \`${ifname}' has no address to serve on; give --listen <address>[:<port>]\n`);
      return 1;
    }
  }
  const wild = listen.find((l) => isWildcard(l.host));
  if (wild && !p.options.has('allow-wildcard')) {
    process.stderr.write(
      `${argv0}: refusing to serve on the wildcard address \`${wild.host}': every peer's public address would be ` +
        `visible to anyone who can reach it; serve on the tunnel address or pass --allow-wildcard\n`,
    );
    return 1;
  }
  const { backend } = deps;
  // The records need public keys, endpoints and allowed IPs only: the keys read are wiped at once.
  const getPeers = async (): Promise<WgPeer[]> => {
    const device = await backend.get(ifname);
    wipeDevice(device);
    return device.peers;
  };
  await getPeers(); // fail now, not at the first query, if the interface is missing
  const start = async () => {
    const server = await startRegistryServer({ listen, zone, getPeers, log: (m) => process.stderr.write(`${m}\n`) });
    process.stdout.write(
      `${argv0}: serving ${serviceName(zone)} for ${ifname} on ` +
        `${server.addresses.map((a) => `${fmt(a)}${a.device ? ` (through ${a.device} only)` : ''}`).join(', ')}\n`,
    );
    return server;
  };
  let boundIndex = ifindexOfName(ifname);
  let server: RegistryServer | null = await start();
  const ac = new AbortController();
  const stopped = untilSignal(ac);
  // A socket bound to a device stays bound to that link: when the interface is deleted and created
  // again (wg-quick down/up) the sockets would hear nothing, so they are made again for the new link.
  let lastError = '';
  while (listen.some((l) => l.device) && !ac.signal.aborted) {
    await sleep(REBIND_CHECK_MS, ac.signal);
    const index = ifindexOfName(ifname);
    if (ac.signal.aborted || index === undefined || (index === boundIndex && server)) continue;
    if (server) {
      process.stderr.write(`${argv0}: interface \`${ifname}' was created again; binding to it anew\n`);
      await server.close();
      server = null;
    }
    try {
      server = await start();
      boundIndex = index;
      lastError = '';
    } catch (err) {
      const text = `${argv0}: cannot serve on \`${ifname}' yet: ${describeError(err)}\n`;
      if (text !== lastError) process.stderr.write(text);
      lastError = text;
    }
  }
  await stopped;
  await server?.close();
  return 0;
}

async function discover(argv0: string, args: string[], deps: RegistryDeps): Promise<number> {
  const p = parseOptions(args, ['registry', 'zone', 'interval', 'keepalive', 'fresh', 'timeout'], ['add-new']);
  if (p.positional.length !== 1) throw new UsageError('discover takes exactly one interface');
  const ifname = checkIfname(p.positional[0]);
  const registryText = last(p, 'registry');
  if (!registryText) throw new UsageError('discover needs --registry <address>[:<port>]');
  const registry = parseHostPort(registryText, '--registry');
  const zone = normalizeZone(last(p, 'zone') ?? DEFAULT_ZONE);
  const interval = seconds(p, 'interval', 0, 1);
  const keepalive = seconds(p, 'keepalive', 25, 0);
  if (!Number.isInteger(keepalive) || keepalive > 65535) throw new UsageError('--keepalive: expected whole seconds up to 65535');
  const opts: DiscoverOptions = {
    backend: deps.backend,
    ifname,
    zone,
    resolve: resolverFor(registry, { timeoutMs: seconds(p, 'timeout', 5, 0.1) * 1000 }),
    addNew: p.options.has('add-new'),
    keepalive,
    freshSeconds: seconds(p, 'fresh', DEFAULT_FRESH_SECONDS, 0),
    log: (m) => process.stdout.write(`${ifname}: ${m}\n`),
  };
  const pass = async (): Promise<boolean> => {
    try {
      const r = await discoverOnce(opts);
      for (const e of r.errors) process.stderr.write(`${argv0}: ${ifname}: ${e}\n`);
      return r.errors.length === 0;
    } catch (err) {
      process.stderr.write(`${argv0}: ${ifname}: ${describeError(err)}\n`);
      return false;
    }
  };
  return repeat(interval, pass);
}

/**
 * Runs `pass` once (exit status 1 if it failed), or every `interval` seconds until SIGINT/SIGTERM
 * (failures are reported by `pass` and the loop goes on).
 */
async function repeat(interval: number, pass: () => Promise<boolean>): Promise<number> {
  if (interval === 0) return (await pass()) ? 0 : 1;
  const ac = new AbortController();
  const stopped = untilSignal(ac);
  while (!ac.signal.aborted) {
    await pass();
    await sleep(interval * 1000, ac.signal);
  }
  await stopped;
  return 0;
}

/** Builds the command with its backend source injected (tests pass an in-memory one). */
export function makeRegistryCommand(deps: RegistryDeps): Command {
  return {
    name: 'registry',
    async run(argv0, args) {
      const [verb, ...rest] = args;
      if (verb === undefined || ['-h', '--help', 'help'].includes(verb) || rest.includes('--help')) {
        (verb === undefined ? process.stderr : process.stdout).write(usage(argv0));
        return verb === undefined ? 1 : 0;
      }
      try {
        if (verb === 'serve') return await serve(argv0, rest, deps);
        if (verb === 'discover') return await discover(argv0, rest, deps);
        if (verb === 'export') return await exportZone(argv0, rest, { backend: deps.backend, checkIfname, parseHostPort, describeError, repeat });
        throw new UsageError(`unknown registry command \`${verb}'`);
      } catch (err) {
        if (err instanceof UsageError || err instanceof RangeError) {
          process.stderr.write(`${argv0}: registry: ${err.message}\n${usage(argv0)}`);
          return 1;
        }
        process.stderr.write(`${argv0}: registry ${verb}: ${describeError(err)}\n`);
        return 1;
      }
    },
  };
}

/**
 * The command as `wgts` runs it. The backend is looked up per request, so a registry or discovery
 * loop keeps working when the userspace daemon restarts or the interface moves to the kernel.
 */
export const registryCommand: Command = makeRegistryCommand({
  backend: { list: listDevices, get: getDevice, set: setDevice },
});
